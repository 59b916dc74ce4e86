/* cfg_meter.c - the `meter:` section: the local metrology inputs. */
#include <stddef.h>

#include "config/config.h"

static const char *const source_names[] = {"none", "sim", "replay", "iio", NULL};
static const char *const wiring_names[] = {"wye", "delta", "single", NULL};

/* IEC 61000-4-30 measures on 50 Hz or 60 Hz systems only. */
static const char *valid_frequency(const void *v)
{
    double f = *(const double *) v;

    return f == 50.0 || f == 60.0 ? NULL : "50 Hz or 60 Hz";
}

static const struct cfg_field ratio_v_fields[] = {
    {.key = "primary", .type = CFG_QUANTITY, .offset = offsetof(struct ratio_cfg, primary),
     .flags = CFG_RANGE, .min = 1e-3, .max = 1e6, .unit = "V", .def = "1 V",
     .doc = "rated primary voltage"},
    {.key = "secondary", .type = CFG_QUANTITY,
     .offset = offsetof(struct ratio_cfg, secondary), .flags = CFG_RANGE, .min = 1e-3,
     .max = 1e6, .unit = "V", .def = "1 V", .doc = "rated secondary voltage"},
    {0},
};

static const struct cfg_field ratio_a_fields[] = {
    {.key = "primary", .type = CFG_QUANTITY, .offset = offsetof(struct ratio_cfg, primary),
     .flags = CFG_RANGE, .min = 1e-3, .max = 1e6, .unit = "A", .def = "1 A",
     .doc = "rated primary current"},
    {.key = "secondary", .type = CFG_QUANTITY,
     .offset = offsetof(struct ratio_cfg, secondary), .flags = CFG_RANGE, .min = 1e-3,
     .max = 1e4, .unit = "A", .def = "1 A", .doc = "rated secondary current"},
    {0},
};

static const struct cfg_schema pt_schema = {
    .name = "meter.pt",
    .size = sizeof(struct ratio_cfg),
    .fields = ratio_v_fields,
};

static const struct cfg_schema ct_schema = {
    .name = "meter.ct",
    .size = sizeof(struct ratio_cfg),
    .fields = ratio_a_fields,
};

static const struct cfg_field meter_fields[] = {
    {.key = "source", .type = CFG_ENUM, .offset = offsetof(struct meter_cfg, source),
     .def = "none", .choices = source_names,
     .doc = "sample source: none, sim (generated), replay (COMTRADE) or iio (ADC)"},
    {.key = "nominal_voltage", .type = CFG_QUANTITY,
     .offset = offsetof(struct meter_cfg, nominal_voltage_v), .flags = CFG_RANGE,
     .min = 1, .max = 1e6, .unit = "V", .def = "230 V",
     .doc = "declared input voltage Udin (primary side): L-N for wye and single, L-L for "
            "delta"},
    {.key = "nominal_frequency", .type = CFG_QUANTITY,
     .offset = offsetof(struct meter_cfg, nominal_frequency_hz), .unit = "Hz",
     .def = "50 Hz", .valid = valid_frequency, .doc = "nominal power frequency of the system"},
    {.key = "wiring", .type = CFG_ENUM, .offset = offsetof(struct meter_cfg, wiring),
     .def = "wye", .choices = wiring_names, .doc = "wye (4-wire), delta (3-wire) or single"},
    {.key = "pt", .type = CFG_STRUCT, .offset = offsetof(struct meter_cfg, pt),
     .sub = &pt_schema, .doc = "voltage transformer ratio (1:1 without one)"},
    {.key = "ct", .type = CFG_STRUCT, .offset = offsetof(struct meter_cfg, ct),
     .sub = &ct_schema, .doc = "current transformer ratio (1:1 without one)"},
    {0},
};

const struct cfg_schema meter_schema = {
    .name = "meter",
    .size = sizeof(struct meter_cfg),
    .fields = meter_fields,
};
