/* cfg_events.c - the `events:` and `capture:` sections. */
#include <stddef.h>

#include "config/config.h"

/* IEC 61000-4-30 5.4 and 5.5: the thresholds are user settings; these are
 * EN 50160's conventional values. */
static void check_events(struct cfg_ctx *ctx, void *obj)
{
    const struct events_cfg *e = obj;

    if (e->interruption_pct + e->hysteresis_pct >= e->dip_pct) {
        cfg_error_at(
            ctx, &e->interruption_pct,
            "the interruption threshold plus the hysteresis must stay below the dip "
            "threshold (%.6g %%)",
            e->dip_pct);
    }
    if (e->dip_pct + e->hysteresis_pct >= 100.0) {
        cfg_error_at(ctx, &e->hysteresis_pct,
                     "a dip must end below 100 %%: dip + hysteresis is %.6g %%",
                     e->dip_pct + e->hysteresis_pct);
    }
    if (e->rvc_pct > 0 && e->rvc_hysteresis_pct >= e->rvc_pct) {
        cfg_error_at(ctx, &e->rvc_hysteresis_pct,
                     "the RVC hysteresis must be below the RVC threshold (%.6g %%)",
                     e->rvc_pct);
    }
}

static const char *const reference_names[] = {"fixed", "sliding", NULL};

#define PCT(key_, member_, def_, lo_, hi_, doc_)                              \
    {                                                                         \
        .key = (key_), .type = CFG_QUANTITY,                                  \
        .offset = offsetof(struct events_cfg, member_), .flags = CFG_RANGE,   \
        .min = (lo_), .max = (hi_), .unit = "%", .def = (def_), .doc = (doc_) \
    }

static const struct cfg_field events_fields[] = {
    {.key = "enabled",
     .type = CFG_BOOL,
     .offset = offsetof(struct events_cfg, enabled),
     .def = "true",
     .doc = "detect events on the local meter's Urms(1/2)"},
    PCT("dip", dip_pct, "90 %", 1, 99, "dip threshold, % of the reference"),
    PCT("swell", swell_pct, "110 %", 101, 200, "swell threshold, % of the reference"),
    PCT("interruption", interruption_pct, "5 %", 0, 50,
        "interruption threshold: all phases below it"),
    PCT("hysteresis", hysteresis_pct, "2 %", 0, 10, "hysteresis of every threshold"),
    {.key = "reference",
     .type = CFG_ENUM,
     .offset = offsetof(struct events_cfg, reference),
     .def = "fixed",
     .choices = reference_names,
     .doc = "fixed (declared input voltage) or sliding (MV, 1-min low-pass)"},
    PCT("rvc", rvc_pct, "5 %", 0, 10, "rapid voltage change threshold (0: off)"),
    PCT("rvc_hysteresis", rvc_hysteresis_pct, "2.5 %", 0, 10, "RVC hysteresis"),
    {.key = "current_nominal",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct events_cfg, current_nominal_a),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1e6,
     .unit = "A",
     .def = "0 A",
     .doc = "reference for current sags and swells (0: none)"},
    PCT("current_sag", current_sag_pct, "50 %", 1, 99, "current sag threshold"),
    PCT("current_swell", current_swell_pct, "150 %", 101, 1000,
        "current swell threshold"),
    {.key = "burst_before",
     .type = CFG_DURATION,
     .offset = offsetof(struct events_cfg, burst_before_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 10,
     .def = "200ms",
     .doc =
         "RMS burst: Urms(1/2) and Irms(1/2) from this long before an event or an alarm"},
    {.key = "burst_after",
     .type = CFG_DURATION,
     .offset = offsetof(struct events_cfg, burst_after_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 60,
     .def = "1s",
     .doc =
         "RMS burst: until this long after the event's start or the alarm (stored with "
         "the captures)"},
    {0},
};

const struct cfg_schema events_schema = {
    .name = "events",
    .size = sizeof(struct events_cfg),
    .fields = events_fields,
    .check = check_events,
};

static const char *const format_names[] = {"binary32", "float32", "ascii", NULL};

static const char *valid_resolution(const void *v)
{
    int r = *(const int *) v;

    return r == 512 || r == 256 || r == 128 || r == 64 || r == 32 || r == 16
               ? NULL
               : "512, 256, 128, 64, 32 or 16 samples per cycle";
}

/* The PM8000's range: 512 samples per cycle for 320 cycles down to 16 for
 * 2880: at most 163 840 samples per channel. */
static void check_capture(struct cfg_ctx *ctx, void *obj)
{
    const struct capture_cfg *c = obj;
    long samples = (long) c->resolution * (c->pre_cycles + c->post_cycles);

    if (valid_resolution(&c->resolution) == NULL && samples > 163840L) {
        cfg_error_at(
            ctx, &c->post_cycles,
            "%d + %d cycles at %d samples per cycle exceed 163840 samples per channel",
            c->pre_cycles, c->post_cycles, c->resolution);
    }
}

static const struct cfg_field capture_fields[] = {
    {.key = "on_events",
     .type = CFG_BOOL,
     .offset = offsetof(struct capture_cfg, on_events),
     .def = "false",
     .doc = "capture the waveforms of every dip, swell and interruption"},
    {.key = "dir",
     .type = CFG_STRING,
     .offset = offsetof(struct capture_cfg, dir),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 4000,
     .def = "/var/lib/pqgate/captures",
     .doc = "directory of the COMTRADE files"},
    {.key = "format",
     .type = CFG_ENUM,
     .offset = offsetof(struct capture_cfg, format),
     .def = "binary32",
     .choices = format_names,
     .doc = "COMTRADE 2013 data format"},
    {.key = "resolution",
     .type = CFG_INT,
     .offset = offsetof(struct capture_cfg, resolution),
     .def = "128",
     .valid = valid_resolution,
     .doc = "samples per cycle"},
    {.key = "pre_cycles",
     .type = CFG_INT,
     .offset = offsetof(struct capture_cfg, pre_cycles),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 2880,
     .def = "10",
     .doc = "cycles before the trigger"},
    {.key = "post_cycles",
     .type = CFG_INT,
     .offset = offsetof(struct capture_cfg, post_cycles),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 2880,
     .def = "50",
     .doc = "cycles after the trigger"},
    {.key = "max_count",
     .type = CFG_INT,
     .offset = offsetof(struct capture_cfg, max_count),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 100000,
     .def = "200",
     .doc = "captures kept; the oldest go first"},
    {.key = "max_size",
     .type = CFG_SIZE,
     .offset = offsetof(struct capture_cfg, max_bytes),
     .flags = CFG_RANGE,
     .min = 1e6,
     .max = 1e12,
     .def = "256MB",
     .doc = "size of the captures kept; the oldest go first"},
    {0},
};

const struct cfg_schema capture_schema = {
    .name = "capture",
    .size = sizeof(struct capture_cfg),
    .fields = capture_fields,
    .check = check_capture,
};
