/* cfg_compliance.c - the `compliance:` section. */
#include <stddef.h>

#include "config/config.h"

static const char *const network_names[] = {"lv", "mv", NULL};
static const char *const system_names[] = {"synchronous", "island", NULL};

static const char *valid_edition(const void *v)
{
    int e = *(const int *) v;

    return e == 2014 || e == 2022 ? NULL : "2014 or 2022";
}

static const struct cfg_field compliance_fields[] = {
    {.key = "en50160",
     .type = CFG_BOOL,
     .offset = offsetof(struct compliance_cfg, en50160),
     .def = "true",
     .doc = "evaluate EN 50160 over the current week, continuously"},
    {.key = "network",
     .type = CFG_ENUM,
     .offset = offsetof(struct compliance_cfg, network),
     .def = "lv",
     .choices = network_names,
     .doc = "EN 50160 limit set: lv (Un) or mv (Uc)"},
    {.key = "system",
     .type = CFG_ENUM,
     .offset = offsetof(struct compliance_cfg, system),
     .def = "synchronous",
     .choices = system_names,
     .doc = "frequency limits: synchronous (interconnected) or island"},
    {.key = "ieee519",
     .type = CFG_BOOL,
     .offset = offsetof(struct compliance_cfg, ieee519),
     .def = "false",
     .doc = "evaluate IEEE 519 over the current week (needs isc; IL is "
            "meter.max_demand_current)"},
    {.key = "edition",
     .type = CFG_INT,
     .offset = offsetof(struct compliance_cfg, edition),
     .def = "2022",
     .valid = valid_edition,
     .doc = "IEEE 519 edition"},
    {.key = "isc",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct compliance_cfg, isc_a),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1e7,
     .unit = "A",
     .def = "0 A",
     .doc = "maximum short-circuit current at the point of common coupling"},
    {0},
};

static void check_compliance(struct cfg_ctx *ctx, void *obj)
{
    const struct compliance_cfg *c = obj;

    if (c->ieee519 && !(c->isc_a > 0)) {
        cfg_error_at(ctx, &c->isc_a, "IEEE 519 needs the short-circuit current (isc)");
    }
}

const struct cfg_schema compliance_schema = {
    .name = "compliance",
    .size = sizeof(struct compliance_cfg),
    .fields = compliance_fields,
    .check = check_compliance,
};
