/* cfg_sim.c - the `meter.sim:` section: the signal generator's settings.
 *
 * What each key means for the waveform is said in drivers/adc/adc_sim.c;
 * this file holds the tables and the rules across keys (Nyquist, what each
 * scenario kind needs).
 */
#include <stddef.h>
#include <string.h>

#include "config/config.h"
#include "pq/err.h"
#include "pq/utc.h"

static const char *const kind_names[] = {
    "dip",     "swell", "interruption",   "frequency_step",
    "flicker", "rvc",   "fault_upstream", "fault_downstream",
    NULL};
static const char *const shape_names[] = {"sine", "square", NULL};

/* ---- UTC times -------------------------------------------------------- */

/* n decimal digits at *s into *out; advances *s.  0 or -1. */
static int digits(const char **s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9') {
            return -1;
        }
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

static int expect(const char **s, char c)
{
    if (**s != c) {
        return -1;
    }
    (*s)++;
    return 0;
}

int cfg_parse_utc(const char *s, int64_t *ns_out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec;
    int64_t frac = 0, ns;
    int leap;

    if (digits(&s, 4, &y) || expect(&s, '-') || digits(&s, 2, &mo) || expect(&s, '-') ||
        digits(&s, 2, &d) || expect(&s, 'T') || digits(&s, 2, &h) || expect(&s, ':') ||
        digits(&s, 2, &mi) || expect(&s, ':') || digits(&s, 2, &sec)) {
        return -PQ_ECONFIG;
    }
    if (*s == '.') {
        int n = 0;

        for (s++; *s >= '0' && *s <= '9'; s++, n++) {
            if (n == 9) {
                return -PQ_ECONFIG;
            }
            frac = frac * 10 + (*s - '0');
        }
        if (n == 0) {
            return -PQ_ECONFIG;
        }
        for (; n < 9; n++) {
            frac *= 10;
        }
    }
    if (strcmp(s, "Z") != 0) {
        return -PQ_ECONFIG;
    }
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59) {
        return -PQ_ECONFIG;
    }
    ns = ((pq_days_from_civil(y, (unsigned) mo, (unsigned) d) * 24 + h) * 60 + mi) * 60 +
         sec;
    *ns_out = ns * 1000000000LL + frac;
    return 0;
}

static const char *valid_utc(const void *v)
{
    int64_t ns;

    return cfg_parse_utc(*(char *const *) v, &ns) == 0
               ? NULL
               : "a UTC time like 2024-01-01T00:00:00Z (from 1970)";
}

/* "A", "BC", "ABC": each of A, B, C at most once. */
static const char *valid_phases(const void *v)
{
    const char *s = *(char *const *) v;
    int seen = 0;

    for (; *s; s++) {
        int bit = *s == 'A' ? 1 : *s == 'B' ? 2 : *s == 'C' ? 4 : 0;

        if (!bit || (seen & bit)) {
            seen = 0;
            break;
        }
        seen |= bit;
    }
    return seen ? NULL : "phases as letters A, B, C, each once, like ABC";
}

/* ---- tables ----------------------------------------------------------- */

static const struct cfg_field phase_fields[] = {
    {.key = "voltage",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_phase_cfg, voltage_pct),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 200,
     .unit = "%",
     .def = "100 %",
     .doc = "voltage of this phase, % of sim.voltage"},
    {.key = "voltage_angle",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct sim_phase_cfg, voltage_angle_deg),
     .flags = CFG_RANGE,
     .min = -180,
     .max = 180,
     .def = "0",
     .doc = "degrees added to the phase's angle (0, -120, +120)"},
    {.key = "current",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_phase_cfg, current_pct),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1000,
     .unit = "%",
     .def = "100 %",
     .doc = "current of this phase, % of sim.current"},
    {.key = "current_angle",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct sim_phase_cfg, current_angle_deg),
     .flags = CFG_RANGE,
     .min = -180,
     .max = 180,
     .def = "0",
     .doc = "degrees the current lags by, beyond the power factor's angle (180: power "
            "flows back)"},
    {0},
};

static const struct cfg_schema phase_a_schema = {
    .name = "meter.sim.unbalance.a",
    .size = sizeof(struct sim_phase_cfg),
    .fields = phase_fields,
};

static const struct cfg_schema phase_b_schema = {
    .name = "meter.sim.unbalance.b",
    .size = sizeof(struct sim_phase_cfg),
    .fields = phase_fields,
};

static const struct cfg_schema phase_c_schema = {
    .name = "meter.sim.unbalance.c",
    .size = sizeof(struct sim_phase_cfg),
    .fields = phase_fields,
};

static const struct cfg_field unbalance_fields[] = {
    {.key = "a",
     .type = CFG_STRUCT,
     .offset = offsetof(struct sim_unbalance_cfg, ph[0]),
     .sub = &phase_a_schema,
     .doc = "phase A"},
    {.key = "b",
     .type = CFG_STRUCT,
     .offset = offsetof(struct sim_unbalance_cfg, ph[1]),
     .sub = &phase_b_schema,
     .doc = "phase B"},
    {.key = "c",
     .type = CFG_STRUCT,
     .offset = offsetof(struct sim_unbalance_cfg, ph[2]),
     .sub = &phase_c_schema,
     .doc = "phase C"},
    {0},
};

static const struct cfg_schema unbalance_schema = {
    .name = "meter.sim.unbalance",
    .size = sizeof(struct sim_unbalance_cfg),
    .fields = unbalance_fields,
};

/* The amplitudes and angles of a harmonic or an interharmonic: type_ is its
 * struct, angle_doc_ says what its angles are relative to. */
#define COMPONENT_FIELDS(type_, angle_doc_)                                            \
    {.key = "voltage",                                                                 \
     .type = CFG_QUANTITY,                                                             \
     .offset = offsetof(type_, voltage_pct),                                           \
     .flags = CFG_RANGE,                                                               \
     .min = 0,                                                                         \
     .max = 100,                                                                       \
     .unit = "%",                                                                      \
     .def = "0 %",                                                                     \
     .doc = "RMS, % of the fundamental voltage"},                                      \
        {.key = "voltage_angle",                                                       \
         .type = CFG_DOUBLE,                                                           \
         .offset = offsetof(type_, voltage_angle_deg),                                 \
         .flags = CFG_RANGE,                                                           \
         .min = -360,                                                                  \
         .max = 360,                                                                   \
         .def = "0",                                                                   \
         .doc = (angle_doc_)},                                                         \
        {.key = "current",                                                             \
         .type = CFG_QUANTITY,                                                         \
         .offset = offsetof(type_, current_pct),                                       \
         .flags = CFG_RANGE,                                                           \
         .min = 0,                                                                     \
         .max = 200,                                                                   \
         .unit = "%",                                                                  \
         .def = "0 %",                                                                 \
         .doc = "RMS, % of the fundamental current"},                                  \
    {                                                                                  \
        .key = "current_angle", .type = CFG_DOUBLE,                                    \
        .offset = offsetof(type_, current_angle_deg), .flags = CFG_RANGE, .min = -360, \
        .max = 360, .def = "0", .doc = (angle_doc_)                                    \
    }

static const struct cfg_field harmonic_fields[] = {
    {.key = "order",
     .type = CFG_INT,
     .offset = offsetof(struct sim_harmonic_cfg, order),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 2,
     .max = 63,
     .doc = "harmonic order: its frequency follows the fundamental's"},
    COMPONENT_FIELDS(
        struct sim_harmonic_cfg,
        "degrees, relative to order times the phase's fundamental voltage angle"),
    {0},
};

static const struct cfg_schema harmonic_schema = {
    .name = "a harmonic",
    .size = sizeof(struct sim_harmonic_cfg),
    .fields = harmonic_fields,
};

static const struct cfg_field interharmonic_fields[] = {
    {.key = "frequency",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_interharmonic_cfg, frequency_hz),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 0.1,
     .max = 100e3,
     .unit = "Hz",
     .doc = "absolute frequency: it does not follow the fundamental"},
    COMPONENT_FIELDS(struct sim_interharmonic_cfg,
                     "degrees at frame 0, plus the phase's fundamental voltage angle"),
    {0},
};

static const struct cfg_schema interharmonic_schema = {
    .name = "an interharmonic",
    .size = sizeof(struct sim_interharmonic_cfg),
    .fields = interharmonic_fields,
};

/* What each kind needs beyond the table's limits. */
static void check_scenario(struct cfg_ctx *ctx, void *obj)
{
    const struct sim_scenario_cfg *s = obj;

    switch (s->kind) {
    case SIM_DIP:
    case SIM_FAULT_UPSTREAM:
    case SIM_FAULT_DOWNSTREAM:
        if (!(s->level_pct > 0 && s->level_pct < 100)) {
            cfg_error_at(ctx, &s->level_pct,
                         "a dip needs a level above 0 %% and below 100 %% (0 %% is an "
                         "interruption), got %g %%",
                         s->level_pct);
        }
        break;
    case SIM_SWELL:
        if (!(s->level_pct > 100)) {
            cfg_error_at(ctx, &s->level_pct,
                         "a swell needs a level above 100 %%, got %g %%", s->level_pct);
        }
        break;
    case SIM_INTERRUPTION:
        if (!(s->level_pct < 100)) {
            cfg_error_at(ctx, &s->level_pct,
                         "an interruption needs a level below 100 %%, got %g %%",
                         s->level_pct);
        }
        break;
    case SIM_RVC:
        if (s->level_pct <= 0 || s->level_pct == 100) {
            cfg_error_at(ctx, &s->level_pct,
                         "an rvc needs a new level other than 0 %% and 100 %%, got %g %%",
                         s->level_pct);
        }
        break;
    case SIM_FREQUENCY_STEP:
        if (s->step_hz == 0) {
            cfg_error_at(ctx, &s->step_hz, "a frequency_step needs a non-zero step");
        }
        break;
    case SIM_FLICKER:
        if (s->dv_pct == 0) {
            cfg_error_at(ctx, &s->dv_pct, "flicker needs a non-zero dv");
        }
        break;
    default:
        break;
    }
    if ((s->kind == SIM_DIP || s->kind == SIM_SWELL || s->kind == SIM_INTERRUPTION ||
         s->kind == SIM_FAULT_UPSTREAM || s->kind == SIM_FAULT_DOWNSTREAM) &&
        s->duration_ns == 0) {
        cfg_error_at(ctx, &s->duration_ns, "a %s needs a duration above 0",
                     kind_names[s->kind]);
    }
}

static const struct cfg_field scenario_fields[] = {
    {.key = "kind",
     .type = CFG_ENUM,
     .offset = offsetof(struct sim_scenario_cfg, kind),
     .flags = CFG_REQUIRED,
     .choices = kind_names,
     .doc = "dip, swell, interruption (RMS steps to level), frequency_step, flicker "
            "(amplitude modulation) or rvc (a ramp to a new level)"},
    {.key = "at",
     .type = CFG_DURATION,
     .offset = offsetof(struct sim_scenario_cfg, at_ns),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 0,
     .max = 30 * 86400.0,
     .doc = "start, from the first sample (the nearest sample to it)"},
    {.key = "duration",
     .type = CFG_DURATION,
     .offset = offsetof(struct sim_scenario_cfg, duration_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 30 * 86400.0,
     .def = "0",
     .doc = "how long it lasts; 0 (frequency_step, flicker, rvc): for good"},
    {.key = "level",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_scenario_cfg, level_pct),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 200,
     .unit = "%",
     .def = "0 %",
     .doc = "dip, swell, interruption, rvc: RMS during the event, % of the normal value"},
    {.key = "phases",
     .type = CFG_STRING,
     .offset = offsetof(struct sim_scenario_cfg, phases),
     .def = "ABC",
     .valid = valid_phases,
     .doc = "the phases it affects (not frequency_step)"},
    {.key = "step",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_scenario_cfg, step_hz),
     .flags = CFG_RANGE,
     .min = -20,
     .max = 20,
     .unit = "Hz",
     .def = "0 Hz",
     .doc = "frequency_step: change of the fundamental frequency, phase-continuous"},
    {.key = "frequency",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_scenario_cfg, mod_hz),
     .flags = CFG_RANGE,
     .min = 0.001,
     .max = 100,
     .unit = "Hz",
     .def = "8.8 Hz",
     .doc = "flicker: modulation frequency (square: 2 changes per period)"},
    {.key = "dv",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_scenario_cfg, dv_pct),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 100,
     .unit = "%",
     .def = "0 %",
     .doc = "flicker: relative voltage change dV/V, peak to peak (IEC 61000-4-15)"},
    {.key = "shape",
     .type = CFG_ENUM,
     .offset = offsetof(struct sim_scenario_cfg, shape),
     .def = "sine",
     .choices = shape_names,
     .doc = "flicker: sine or square modulation"},
    {.key = "ramp",
     .type = CFG_DURATION,
     .offset = offsetof(struct sim_scenario_cfg, ramp_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 3600,
     .def = "0",
     .doc = "rvc: length of the linear change (and of the change back)"},
    {.key = "fault_current",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_scenario_cfg, fault_pct),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 10000,
     .unit = "%",
     .def = "500 %",
     .doc =
         "fault_downstream: fault current (75 degrees lagging), % of the load current"},
    {0},
};

static const struct cfg_schema scenario_schema = {
    .name = "a scenario",
    .size = sizeof(struct sim_scenario_cfg),
    .fields = scenario_fields,
    .check = check_scenario,
};

/* Every component below the Nyquist frequency, each harmonic order once. */
static void check_sim(struct cfg_ctx *ctx, void *obj)
{
    const struct sim_cfg *s = obj;
    double nyquist = s->sample_rate_hz / 2;

    if (s->frequency_hz >= nyquist) {
        cfg_error_at(ctx, &s->frequency_hz,
                     "%g Hz is not below half the sample rate (%g Hz)", s->frequency_hz,
                     nyquist);
    }
    for (size_t i = 0; i < s->harmonics.n; i++) {
        const struct sim_harmonic_cfg *h =
            CFG_AT(s->harmonics, struct sim_harmonic_cfg, i);

        if (h->order * s->frequency_hz >= nyquist) {
            cfg_error_at(ctx, &h->order,
                         "harmonic %d (%g Hz) is not below half the sample rate (%g Hz)",
                         h->order, h->order * s->frequency_hz, nyquist);
        }
        for (size_t j = 0; j < i; j++) {
            if (CFG_AT(s->harmonics, struct sim_harmonic_cfg, j)->order == h->order) {
                cfg_error_at(ctx, &h->order, "harmonic %d is already listed", h->order);
                break;
            }
        }
    }
    for (size_t i = 0; i < s->interharmonics.n; i++) {
        const struct sim_interharmonic_cfg *ih =
            CFG_AT(s->interharmonics, struct sim_interharmonic_cfg, i);

        if (ih->frequency_hz >= nyquist) {
            cfg_error_at(ctx, &ih->frequency_hz,
                         "%g Hz is not below half the sample rate (%g Hz)",
                         ih->frequency_hz, nyquist);
        }
    }
}

static const struct cfg_field sim_fields[] = {
    {.key = "sample_rate",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_cfg, sample_rate_hz),
     .flags = CFG_RANGE,
     .min = 1e3,
     .max = 200e3,
     .unit = "Hz",
     .def = "25.6 kHz",
     .doc = "samples per second per channel (not locked to the frequency)"},
    {.key = "frequency",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_cfg, frequency_hz),
     .flags = CFG_RANGE,
     .min = 10,
     .max = 1000,
     .unit = "Hz",
     .def = "50 Hz",
     .doc = "fundamental frequency at the start"},
    {.key = "drift",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_cfg, drift_hz_per_h),
     .flags = CFG_RANGE,
     .min = -100,
     .max = 100,
     .unit = "Hz/h",
     .def = "0 Hz/h",
     .doc = "slow linear change of the frequency"},
    {.key = "voltage",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_cfg, voltage_v),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1e6,
     .unit = "V",
     .def = "0 V",
     .doc = "phase (L-N) RMS of the fundamental, primary; 0: meter.nominal_voltage (over "
            "sqrt 3 for delta)"},
    {.key = "current",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_cfg, current_a),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1e6,
     .unit = "A",
     .def = "10 A",
     .doc = "phase RMS of the fundamental current, primary"},
    {.key = "power_factor",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct sim_cfg, power_factor),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1,
     .def = "1",
     .doc = "displacement power factor of the fundamental (cos of the current's angle)"},
    {.key = "leading",
     .type = CFG_BOOL,
     .offset = offsetof(struct sim_cfg, leading),
     .def = "false",
     .doc = "the current leads the voltage (capacitive) instead of lagging"},
    {.key = "unbalance",
     .type = CFG_STRUCT,
     .offset = offsetof(struct sim_cfg, unbalance),
     .sub = &unbalance_schema,
     .doc = "per-phase scale and angle of voltage and current"},
    {.key = "harmonics",
     .type = CFG_LIST,
     .offset = offsetof(struct sim_cfg, harmonics),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 62,
     .sub = &harmonic_schema,
     .doc = "harmonics of voltage and current, the same in every phase"},
    {.key = "interharmonics",
     .type = CFG_LIST,
     .offset = offsetof(struct sim_cfg, interharmonics),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 32,
     .sub = &interharmonic_schema,
     .doc = "components at fixed frequencies"},
    {.key = "noise",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct sim_cfg, noise_pct),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 100,
     .unit = "%",
     .def = "0 %",
     .doc = "white Gaussian noise, RMS in % of sim.voltage or sim.current"},
    {.key = "seed",
     .type = CFG_INT,
     .offset = offsetof(struct sim_cfg, seed),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 2147483647,
     .def = "1",
     .doc = "of the noise: the same seed gives the same samples"},
    {.key = "scenarios",
     .type = CFG_LIST,
     .offset = offsetof(struct sim_cfg, scenarios),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .sub = &scenario_schema,
     .doc =
         "scheduled events: dips, swells, interruptions, frequency steps, flicker, RVC"},
    {.key = "neutral",
     .type = CFG_BOOL,
     .offset = offsetof(struct sim_cfg, neutral),
     .def = "true",
     .doc = "wye and single: add the UN (neutral-earth, 0 V) and IN channels"},
    {.key = "realtime",
     .type = CFG_BOOL,
     .offset = offsetof(struct sim_cfg, realtime),
     .def = "true",
     .doc = "samples at wall-clock pace from the system clock (false: as fast as read)"},
    {.key = "start",
     .type = CFG_STRING,
     .offset = offsetof(struct sim_cfg, start),
     .def = "2000-01-01T00:00:00Z",
     .valid = valid_utc,
     .doc = "UTC time of the first sample when not realtime"},
    {0},
};

const struct cfg_schema sim_schema = {
    .name = "meter.sim",
    .size = sizeof(struct sim_cfg),
    .fields = sim_fields,
    .check = check_sim,
};
