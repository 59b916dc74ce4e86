/* mb_sunspec.c - SunSpec "SunS" detection, model chain, meter profiles.
 *
 * Layouts from the SunSpec model definitions (SunSpec Alliance, models
 * smdx_00001, smdx_00201..00204 and smdx_00211..00214; Information Model
 * Specification v1.0): models 201-204 share one layout of 105 registers
 * (int16 values, sunssf scale factors, acc32 energies), models 211-214 one
 * of 124 registers (float32 values and energies).  Offsets below count
 * from the first register after the model header (id, length).
 */
#include "drivers/modbus/mb_sunspec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq/err.h"

#define COMMON_LEN_MIN 65 /* model 1: Mn..DA; 66 with its pad register */
#define COMMON_NAMES   64 /* model 1: Mn, Md, Opt, Vr, SN */
#define MAX_MODELS     64
#define INT_LEN        105 /* models 201-204 */
#define FLOAT_LEN      124 /* models 211-214 */

struct ss_point {
    const char *channel;
    const char *unit;
    int off;  /* models 201-204 (int16 / acc32) */
    int foff; /* models 211-214 (float32) */
    int sf;   /* offset of the sunssf register in 201-204 */
    double scale;
    int phases;  /* needs a model with at least this many phases */
    int counter; /* an acc32 energy accumulator */
};

/* SunSpec points: A, AphA.., PhV.., PPV.., Hz, W.., VA.., VAR.., PF..,
 * TotWhExp, TotWhImp, TotVAhExp, TotVAhImp, TotVArhImpQ1/Q2,
 * TotVArhExpQ3/Q4.  PF is in percent (SunSpec unit "Pct"): scaled to a
 * ratio.  Energies in Wh, scaled to kWh like the local meter's channels.
 * Import (energy into the load) is "del", export "rec". */
static const struct ss_point ss_points[] = {
    {"i_rms/total", "A", 0, 0, 4, 1, 1, 0},
    {"i_rms/a", "A", 1, 2, 4, 1, 1, 0},
    {"i_rms/b", "A", 2, 4, 4, 1, 2, 0},
    {"i_rms/c", "A", 3, 6, 4, 1, 3, 0},
    {"u_rms/avg", "V", 5, 8, 13, 1, 1, 0},
    {"u_rms/a", "V", 6, 10, 13, 1, 1, 0},
    {"u_rms/b", "V", 7, 12, 13, 1, 2, 0},
    {"u_rms/c", "V", 8, 14, 13, 1, 3, 0},
    {"u_ll_rms/avg", "V", 9, 16, 13, 1, 2, 0},
    {"u_ll_rms/ab", "V", 10, 18, 13, 1, 2, 0},
    {"u_ll_rms/bc", "V", 11, 20, 13, 1, 3, 0},
    {"u_ll_rms/ca", "V", 12, 22, 13, 1, 3, 0},
    {"freq", "Hz", 14, 24, 15, 1, 1, 0},
    {"p/total", "W", 16, 26, 20, 1, 1, 0},
    {"p/a", "W", 17, 28, 20, 1, 1, 0},
    {"p/b", "W", 18, 30, 20, 1, 2, 0},
    {"p/c", "W", 19, 32, 20, 1, 3, 0},
    {"s/total", "VA", 21, 34, 25, 1, 1, 0},
    {"s/a", "VA", 22, 36, 25, 1, 1, 0},
    {"s/b", "VA", 23, 38, 25, 1, 2, 0},
    {"s/c", "VA", 24, 40, 25, 1, 3, 0},
    {"q/total", "var", 26, 42, 30, 1, 1, 0},
    {"q/a", "var", 27, 44, 30, 1, 1, 0},
    {"q/b", "var", 28, 46, 30, 1, 2, 0},
    {"q/c", "var", 29, 48, 30, 1, 3, 0},
    {"pf/total", "", 31, 50, 35, 0.01, 1, 0},
    {"pf/a", "", 32, 52, 35, 0.01, 1, 0},
    {"pf/b", "", 33, 54, 35, 0.01, 2, 0},
    {"pf/c", "", 34, 56, 35, 0.01, 3, 0},
    {"energy/kwh_rec", "kWh", 36, 58, 52, 0.001, 1, 1},
    {"energy/kwh_del", "kWh", 44, 66, 52, 0.001, 1, 1},
    {"energy/kvah_rec", "kVAh", 53, 74, 69, 0.001, 1, 1},
    {"energy/kvah_del", "kVAh", 61, 82, 69, 0.001, 1, 1},
    {"energy/kvarh_q1", "kvarh", 70, 90, 102, 0.001, 1, 1},
    {"energy/kvarh_q2", "kvarh", 78, 98, 102, 0.001, 1, 1},
    {"energy/kvarh_q3", "kvarh", 86, 106, 102, 0.001, 1, 1},
    {"energy/kvarh_q4", "kvarh", 94, 114, 102, 0.001, 1, 1},
};

/* Phases of a meter model; 0: not a meter model we know. */
static int model_phases(int model)
{
    switch (model) {
    case 201:
    case 211:
        return 1;
    case 202:
    case 212:
        return 2;
    case 203:
    case 204:
    case 213:
    case 214:
        return 3;
    default:
        return 0;
    }
}

static int point_of(const struct ss_point *s, int model, int body, struct mb_point *p)
{
    int is_float = model >= 211;

    memset(p, 0, sizeof(*p));
    p->channel = strdup(s->channel);
    p->unit = strdup(s->unit);
    if (!p->channel || !p->unit) {
        return -ENOMEM;
    }
    p->fn = PROFILE_FN_HOLDING;
    p->addr = body + (is_float ? s->foff : s->off);
    p->type = is_float ? MB_T_FLOAT32 : s->counter ? MB_T_UINT32 : MB_T_INT16;
    p->count = p->type == MB_T_INT16 ? 1 : 2;
    p->words = MB_WORDS_BIG; /* SunSpec: big-endian throughout (IM spec 5) */
    p->bytes = MB_BYTES_BIG;
    p->scale = s->scale;
    p->sf_addr = is_float ? -1 : body + s->sf;
    p->counter = s->counter;
    p->counter_bits = s->counter && !is_float ? 32 : 0;
    p->na = MB_NA_SUNSPEC;
    return 0;
}

int mb_sunspec_profile(int model, int addr, struct mb_profile **out)
{
    int phases = model_phases(model);
    struct mb_profile *prof;
    char name[32];
    size_t n = 0;

    if (!phases || addr < 0 || addr + 2 + (model >= 211 ? FLOAT_LEN : INT_LEN) > 65536) {
        return -EINVAL;
    }
    prof = calloc(1, sizeof(*prof));
    if (!prof) {
        return -ENOMEM;
    }
    snprintf(name, sizeof(name), "sunspec-%d", model);
    prof->name = strdup(name);
    prof->source = strdup("SunSpec Information Model Specification v1.0; SunSpec model "
                          "definitions 1, 201-204, 211-214 (SunSpec Alliance)");
    prof->points =
        calloc(sizeof(ss_points) / sizeof(ss_points[0]), sizeof(*prof->points));
    prof->max_regs = MB_MAX_REGS;
    prof->max_gap = 16;
    if (!prof->name || !prof->source || !prof->points) {
        mb_profile_free(prof);
        return -ENOMEM;
    }
    for (size_t i = 0; i < sizeof(ss_points) / sizeof(ss_points[0]); i++) {
        if (ss_points[i].phases > phases) {
            continue;
        }
        prof->npoints = n + 1; /* a failure frees what was made */
        if (point_of(&ss_points[i], model, addr + 2, &prof->points[n]) < 0) {
            mb_profile_free(prof);
            return -ENOMEM;
        }
        n++;
    }
    prof->npoints = n;
    *out = prof;
    return 0;
}

/* Model 1 string of len registers at regs: trailing NULs and blanks cut. */
static void copy_string(char *dst, size_t cap, const uint16_t *regs, int len)
{
    size_t n = 0;

    for (int i = 0; i < 2 * len && n + 1 < cap; i++) {
        unsigned char c = (unsigned char) (i % 2 == 0 ? regs[i / 2] >> 8 : regs[i / 2]);

        if (c == 0) {
            break;
        }
        dst[n++] = (char) (c < 0x20 || c > 0x7e ? '?' : c);
    }
    while (n > 0 && dst[n - 1] == ' ') {
        n--;
    }
    dst[n] = '\0';
}

/* Model 1 (common): Mn 16, Md 16, Opt 8, Vr 8, SN 16 registers. */
static void take_common(struct mb_sunspec_info *info, const uint16_t *r)
{
    copy_string(info->manufacturer, sizeof(info->manufacturer), r, 16);
    copy_string(info->model, sizeof(info->model), r + 16, 16);
    copy_string(info->options, sizeof(info->options), r + 32, 8);
    copy_string(info->version, sizeof(info->version), r + 40, 8);
    copy_string(info->serial, sizeof(info->serial), r + 48, 16);
}

enum probe_state {
    PROBE_BASE,   /* reading "SunS" at bases[base_i] */
    PROBE_HEADER, /* reading the model header at addr */
    PROBE_COMMON, /* reading model 1's names at addr + 2 */
    PROBE_DONE,
};

static const int bases[] = {40000, 0, 50000}; /* IM spec v1.0, 4.1 */

void mb_sunspec_probe_init(struct mb_sunspec_probe *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->state = PROBE_BASE;
    pr->rc = -EINPROGRESS;
}

static void finish(struct mb_sunspec_probe *pr, int rc)
{
    pr->state = PROBE_DONE;
    pr->rc = rc;
}

int mb_sunspec_probe_next(const struct mb_sunspec_probe *pr, int *addr, int *count)
{
    switch (pr->state) {
    case PROBE_BASE:
        *addr = bases[pr->base_i];
        *count = 2;
        return 1;
    case PROBE_HEADER:
        *addr = pr->addr;
        *count = 2;
        return 1;
    case PROBE_COMMON:
        *addr = pr->addr + 2;
        *count = COMMON_NAMES;
        return 1;
    default:
        return 0;
    }
}

/* A model header (id, length) at pr->addr has been read. */
static void take_header(struct mb_sunspec_probe *pr, const uint16_t *h)
{
    struct mb_sunspec_info *info = &pr->info;

    if (h[0] == 0xFFFF) { /* end of the chain (IM spec 4.2) */
        finish(pr, info->meter_model ? 0 : -PQ_ENOTFOUND);
        return;
    }
    if (pr->addr + 2 + h[1] > 65536) {
        finish(pr, -PQ_EFORMAT);
        return;
    }
    info->nmodels++;
    if (model_phases(h[0]) && !info->meter_model &&
        h[1] >= (h[0] >= 211 ? FLOAT_LEN : INT_LEN)) {
        info->meter_model = h[0];
        info->meter_addr = pr->addr;
    }
    if (h[0] == 1 && h[1] >= COMMON_LEN_MIN) {
        pr->len = h[1];
        pr->state = PROBE_COMMON; /* then on to the next model */
        return;
    }
    pr->addr += 2 + h[1];
}

static void next_model(struct mb_sunspec_probe *pr)
{
    pr->state = PROBE_HEADER;
    if (pr->addr + 2 > 65536 || pr->info.nmodels >= MAX_MODELS) {
        finish(pr, -PQ_EFORMAT); /* no end marker where one must be */
    }
}

void mb_sunspec_probe_feed(struct mb_sunspec_probe *pr, int rc, const uint16_t *regs)
{
    switch (pr->state) {
    case PROBE_BASE:
        if (rc == -ETIMEDOUT || rc == -ENOMEM) {
            finish(pr, rc); /* the device is silent: asking elsewhere will not help */
        } else if (rc == 0 && ((uint32_t) regs[0] << 16 | regs[1]) == MB_SUNSPEC_ID) {
            pr->info.base = bases[pr->base_i];
            pr->addr = pr->info.base + 2;
            next_model(pr);
        } else if (++pr->base_i == (int) (sizeof(bases) / sizeof(bases[0]))) {
            finish(pr, -PQ_ENOTFOUND);
        }
        break;
    case PROBE_HEADER:
        if (rc < 0) {
            finish(pr, rc);
            break;
        }
        take_header(pr, regs);
        if (pr->state == PROBE_HEADER) {
            next_model(pr);
        }
        break;
    case PROBE_COMMON:
        if (rc < 0) {
            finish(pr, rc);
            break;
        }
        take_common(&pr->info, regs);
        pr->addr += 2 + pr->len;
        next_model(pr);
        break;
    default:
        break;
    }
}

int mb_sunspec_discover(mb_sunspec_read_fn read, void *ctx, struct mb_sunspec_info *info,
                        struct mb_profile **out)
{
    struct mb_sunspec_probe pr;
    uint16_t regs[COMMON_NAMES];
    int addr, count;

    mb_sunspec_probe_init(&pr);
    while (mb_sunspec_probe_next(&pr, &addr, &count)) {
        int rc = read(ctx, 3, addr, count, regs);

        mb_sunspec_probe_feed(&pr, rc, regs);
    }
    *info = pr.info;
    if (pr.rc < 0) {
        return pr.rc;
    }
    return mb_sunspec_profile(info->meter_model, info->meter_addr, out);
}
