/* cfg_meter.c - the `meter:` section: the local metrology inputs, and the
 * sections of the replay and iio sources (sim has its own cfg_sim.c). */
#include <stddef.h>
#include <string.h>

#include "config/config.h"

static const char *const source_names[] = {"none", "sim", "replay", "iio", NULL};
static const char *const wiring_names[] = {"wye", "delta", "single", NULL};

/* IEC 61000-4-30 measures on 50 Hz or 60 Hz systems only. */
static const char *valid_frequency(const void *v)
{
    double f = *(const double *) v;

    return f == 50.0 || f == 60.0 ? NULL : "50 Hz or 60 Hz";
}

/* A transformer ratio in unit: rated primary and secondary values. */
#define RATIO_FIELDS(unit_, what_, max_secondary_)        \
    {.key = "primary",                                    \
     .type = CFG_QUANTITY,                                \
     .offset = offsetof(struct ratio_cfg, primary),       \
     .flags = CFG_RANGE,                                  \
     .min = 1e-3,                                         \
     .max = 1e6,                                          \
     .unit = (unit_),                                     \
     .def = "1 " unit_,                                   \
     .doc = "rated primary " what_},                      \
        {.key = "secondary",                              \
         .type = CFG_QUANTITY,                            \
         .offset = offsetof(struct ratio_cfg, secondary), \
         .flags = CFG_RANGE,                              \
         .min = 1e-3,                                     \
         .max = (max_secondary_),                         \
         .unit = (unit_),                                 \
         .def = "1 " unit_,                               \
         .doc = "rated secondary " what_},                \
    {                                                     \
        0                                                 \
    }

static const struct cfg_field ratio_v_fields[] = {RATIO_FIELDS("V", "voltage", 1e6)};
static const struct cfg_field ratio_a_fields[] = {RATIO_FIELDS("A", "current", 1e4)};

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

/* ---- meter.replay ---- */

static const char *const pace_names[] = {"realtime", "fast", NULL};

static const struct cfg_field replay_fields[] = {
    {.key = "file",
     .type = CFG_STRING,
     .offset = offsetof(struct replay_cfg, file),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 4096,
     .doc = "COMTRADE recording: its .cfg (with .dat beside it) or a .cff"},
    {.key = "pace",
     .type = CFG_ENUM,
     .offset = offsetof(struct replay_cfg, pace),
     .def = "realtime",
     .choices = pace_names,
     .doc = "realtime (at the recording's rate, stamped from the system clock) or fast "
            "(as fast as read, stamped with the recording's time)"},
    {.key = "loop",
     .type = CFG_BOOL,
     .offset = offsetof(struct replay_cfg, loop),
     .def = "false",
     .doc = "start again at the end instead of stopping"},
    {0},
};

static const struct cfg_schema replay_schema = {
    .name = "meter.replay",
    .size = sizeof(struct replay_cfg),
    .fields = replay_fields,
};

/* ---- meter.iio ---- */

/* Index = enum iio_role_cfg. */
static const char *const role_names[] = {"ua", "ub", "uc", "un", "ia",
                                         "ib", "ic", "in", NULL};

static const struct cfg_field iio_channel_fields[] = {
    {.key = "role",
     .type = CFG_ENUM,
     .offset = offsetof(struct iio_channel_cfg, role),
     .flags = CFG_REQUIRED,
     .choices = role_names,
     .doc = "what it measures: ua, ub, uc, un (neutral-earth), ia, ib, ic, in"},
    {.key = "channel",
     .type = CFG_STRING,
     .offset = offsetof(struct iio_channel_cfg, channel),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = 64,
     .doc = "IIO channel id or name, as in voltage0"},
    {.key = "gain",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct iio_channel_cfg, gain),
     .flags = CFG_RANGE,
     .min = 1e-9,
     .max = 1e9,
     .def = "1",
     .doc = "front end: V (or A) at the meter's terminals per V at the ADC input"},
    {.key = "scale",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct iio_channel_cfg, scale),
     .flags = CFG_RANGE,
     .min = -1e9,
     .max = 1e9,
     .def = "1",
     .doc = "without device_scale: V at the ADC input per count"},
    {.key = "offset",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct iio_channel_cfg, offset),
     .flags = CFG_RANGE,
     .min = -1e9,
     .max = 1e9,
     .def = "0",
     .doc = "without device_scale: counts added before scaling"},
    {0},
};

static const struct cfg_schema iio_channel_schema = {
    .name = "an IIO channel",
    .size = sizeof(struct iio_channel_cfg),
    .fields = iio_channel_fields,
};

/* Each role and each IIO channel once. */
static void check_iio(struct cfg_ctx *ctx, void *obj)
{
    const struct iio_cfg *c = obj;

    for (size_t i = 0; i < c->channels.n; i++) {
        const struct iio_channel_cfg *a = CFG_AT(c->channels, struct iio_channel_cfg, i);

        for (size_t j = 0; j < i; j++) {
            const struct iio_channel_cfg *b =
                CFG_AT(c->channels, struct iio_channel_cfg, j);

            if (a->role == b->role) {
                cfg_error_at(ctx, &a->role, "role %s is already given to channel %s",
                             role_names[a->role], b->channel);
            }
            if (strcmp(a->channel, b->channel) == 0) {
                cfg_error_at(ctx, &a->channel, "channel %s is already listed",
                             a->channel);
            }
        }
    }
}

static const struct cfg_field iio_fields[] = {
    {.key = "uri",
     .type = CFG_STRING,
     .offset = offsetof(struct iio_cfg, uri),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 256,
     .def = "local:",
     .doc = "libiio context: local: on the board, ip:HOST[:PORT] through iiod"},
    {.key = "device",
     .type = CFG_STRING,
     .offset = offsetof(struct iio_cfg, device),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .doc = "IIO device name or id, as in ad7606-8 or iio:device0"},
    {.key = "buffer",
     .type = CFG_INT,
     .offset = offsetof(struct iio_cfg, buffer),
     .flags = CFG_RANGE,
     .min = 16,
     .max = 65536,
     .def = "256",
     .doc = "samples per channel in one buffer: the latency of a read"},
    {.key = "kernel_buffers",
     .type = CFG_INT,
     .offset = offsetof(struct iio_cfg, kernel_buffers),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 64,
     .def = "4",
     .doc = "buffers the kernel queues before it drops samples"},
    {.key = "sample_rate",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct iio_cfg, sample_rate_hz),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 10e6,
     .unit = "Hz",
     .def = "0 Hz",
     .doc = "written to the device's sampling_frequency if it has one, else taken as the "
            "rate; 0: read sampling_frequency"},
    {.key = "device_scale",
     .type = CFG_BOOL,
     .offset = offsetof(struct iio_cfg, device_scale),
     .def = "true",
     .doc = "apply the channels' scale and offset from the device (else each channel's)"},
    {.key = "channels",
     .type = CFG_LIST,
     .offset = offsetof(struct iio_cfg, channels),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 8,
     .sub = &iio_channel_schema,
     .doc = "the channels to read and what each measures"},
    {0},
};

static const struct cfg_schema iio_schema = {
    .name = "meter.iio",
    .size = sizeof(struct iio_cfg),
    .fields = iio_fields,
    .check = check_iio,
};

/* ---- meter ---- */

/* The chosen source's section must say enough to open it. */
static void check_meter(struct cfg_ctx *ctx, void *obj)
{
    const struct meter_cfg *m = obj;

    if (m->source == METER_SOURCE_REPLAY && !*m->replay.file) {
        cfg_error_at(ctx, &m->replay.file, "replay.file is required with source replay");
    }
    if (m->source == METER_SOURCE_IIO && !*m->iio.device) {
        cfg_error_at(ctx, &m->iio.device, "iio.device is required with source iio");
    }
    if (m->source == METER_SOURCE_IIO && m->iio.channels.n == 0) {
        cfg_error_at(ctx, &m->iio.channels,
                     "iio.channels: at least one is required with "
                     "source iio");
    }
}

static const char *const demand_names[] = {"block", "sliding", "thermal", NULL};
static const char *const flicker_names[] = {"auto", "230v", "120v", "off", NULL};

int cfg_demand_subintervals(const struct demand_cfg *d)
{
    return d->subintervals > 0 ? d->subintervals : d->method == DEMAND_SLIDING ? 3 : 1;
}

/* Block and thermal demand have one sub-interval; sliding ones must divide
 * the interval into whole seconds (reference 10.4). */
static void check_demand(struct cfg_ctx *ctx, void *obj)
{
    const struct demand_cfg *d = obj;
    int sub = cfg_demand_subintervals(d);

    if (d->method != DEMAND_SLIDING && sub != 1) {
        cfg_error_at(ctx, &d->subintervals,
                     "only a sliding block has sub-intervals; set 1");
    } else if (d->interval_ns % ((int64_t) sub * 1000000000LL) != 0) {
        cfg_error_at(ctx, &d->subintervals,
                     "%d sub-intervals do not divide the interval into whole seconds",
                     d->subintervals);
    }
}

static const struct cfg_field demand_fields[] = {
    {.key = "method",
     .type = CFG_ENUM,
     .offset = offsetof(struct demand_cfg, method),
     .def = "sliding",
     .choices = demand_names,
     .doc = "block, sliding (block with sub-intervals) or thermal"},
    {.key = "interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct demand_cfg, interval_ns),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 86400,
     .def = "15min",
     .doc = "demand interval, aligned to the clock"},
    {.key = "subintervals",
     .type = CFG_INT,
     .offset = offsetof(struct demand_cfg, subintervals),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 60,
     .def = "0",
     .doc = "sliding block: sub-intervals per interval (0: 3 for sliding, else 1)"},
    {0},
};

static const struct cfg_schema demand_schema = {
    .name = "meter.demand",
    .size = sizeof(struct demand_cfg),
    .fields = demand_fields,
    .check = check_demand,
};

static const struct cfg_field meter_fields[] = {
    {.key = "source",
     .type = CFG_ENUM,
     .offset = offsetof(struct meter_cfg, source),
     .def = "none",
     .choices = source_names,
     .doc = "sample source: none, sim (generated), replay (COMTRADE) or iio (ADC)"},
    {.key = "nominal_voltage",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct meter_cfg, nominal_voltage_v),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 1e6,
     .unit = "V",
     .def = "230 V",
     .doc = "declared input voltage Udin (primary side): L-N for wye and single, L-L for "
            "delta"},
    {.key = "nominal_frequency",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct meter_cfg, nominal_frequency_hz),
     .unit = "Hz",
     .def = "50 Hz",
     .valid = valid_frequency,
     .doc = "nominal power frequency of the system"},
    {.key = "wiring",
     .type = CFG_ENUM,
     .offset = offsetof(struct meter_cfg, wiring),
     .def = "wye",
     .choices = wiring_names,
     .doc = "wye (4-wire), delta (3-wire) or single"},
    {.key = "pt",
     .type = CFG_STRUCT,
     .offset = offsetof(struct meter_cfg, pt),
     .sub = &pt_schema,
     .doc = "voltage transformer ratio (1:1 without one)"},
    {.key = "ct",
     .type = CFG_STRUCT,
     .offset = offsetof(struct meter_cfg, ct),
     .sub = &ct_schema,
     .doc = "current transformer ratio (1:1 without one)"},
    {.key = "max_demand_current",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct meter_cfg, max_demand_current_a),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1e6,
     .unit = "A",
     .def = "0 A",
     .doc = "IEEE 519 IL, the maximum demand load current, for TDD (0: no TDD)"},
    {.key = "flicker",
     .type = CFG_ENUM,
     .offset = offsetof(struct meter_cfg, flicker),
     .def = "auto",
     .choices = flicker_names,
     .doc = "flickermeter lamp: auto (230 V lamp at 50 Hz, 120 V at 60 Hz), 230v, 120v "
            "or off"},
    {.key = "demand",
     .type = CFG_STRUCT,
     .offset = offsetof(struct meter_cfg, demand),
     .sub = &demand_schema,
     .doc = "demand of P, Q, S and the phase currents"},
    {.key = "sim",
     .type = CFG_STRUCT,
     .offset = offsetof(struct meter_cfg, sim),
     .sub = &sim_schema,
     .doc = "source sim: the generated waveforms"},
    {.key = "replay",
     .type = CFG_STRUCT,
     .offset = offsetof(struct meter_cfg, replay),
     .sub = &replay_schema,
     .doc = "source replay: the COMTRADE recording"},
    {.key = "iio",
     .type = CFG_STRUCT,
     .offset = offsetof(struct meter_cfg, iio),
     .sub = &iio_schema,
     .doc = "source iio: the Linux IIO ADC (docs/iio.md)"},
    {0},
};

const struct cfg_schema meter_schema = {
    .name = "meter",
    .size = sizeof(struct meter_cfg),
    .fields = meter_fields,
    .check = check_meter,
};
