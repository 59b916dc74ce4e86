/* cfg_compliance.c - the `compliance:` section. */
#include <stddef.h>

#include "config/config.h"

static const char *const network_names[] = {"lv", "mv", NULL};
static const char *const system_names[] = {"synchronous", "island", NULL};

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
    {0},
};

const struct cfg_schema compliance_schema = {
    .name = "compliance",
    .size = sizeof(struct compliance_cfg),
    .fields = compliance_fields,
};
