/* mb_profile.c - raw registers to engineering values, and energy counters.
 *
 * Decoding follows the Modbus data model (MB Application Protocol V1.1b3,
 * 4.2: registers are big-endian 16-bit words) plus the common device
 * variations a profile declares: word order of 32/64-bit values and
 * swapped bytes.  IEEE 754 binary32/binary64 for floats.  SunSpec scale
 * factors and "not implemented" values follow the SunSpec Information
 * Model Specification v1.0, section 5 (data types, "Not Implemented"
 * values; sunssf range -10..10).
 */
#include "drivers/modbus/mb_profile.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "pq/err.h"

_Static_assert((int) PROFILE_FN_COILS == (int) MB_FN_COILS &&
                   (int) PROFILE_FN_DISCRETE == (int) MB_FN_DISCRETE &&
                   (int) PROFILE_FN_HOLDING == (int) MB_FN_HOLDING &&
                   (int) PROFILE_FN_INPUT == (int) MB_FN_INPUT,
               "config/profile.h and mb_port.h disagree on function codes");

#define SUNSSF_NA 0x8000 /* sunssf "not implemented" (SunSpec IM spec, 5) */

void mb_profile_free(struct mb_profile *prof)
{
    cfg_profile_free(prof);
}

/* The result whose read holds [addr, addr+count) of fn, or NULL. */
static const struct mb_read_result *find_read(const struct mb_read_result *res, size_t n,
                                              int fn, int addr, int count)
{
    for (size_t i = 0; i < n; i++) {
        const struct mb_read *r = res[i].read;

        if (r && r->fn == fn && addr >= r->addr && addr + count <= r->addr + r->count) {
            return &res[i];
        }
    }
    return NULL;
}

static int is_bit_fn(int fn)
{
    return fn == MB_FN_COILS || fn == MB_FN_DISCRETE;
}

/* The point's registers as one big-endian unsigned integer (up to 4
 * registers), with the declared word and byte orders undone. */
static uint64_t gather(const struct mb_point *p, const uint16_t *w)
{
    uint64_t v = 0;

    for (int i = 0; i < p->count && i < 4; i++) {
        int k = p->words == MB_WORDS_LITTLE ? p->count - 1 - i : i;
        uint16_t r = w[k];

        if (p->bytes == MB_BYTES_SWAPPED) {
            r = (uint16_t) ((r >> 8) | (r << 8));
        }
        v = (v << 16) | r;
    }
    return v;
}

/* SunSpec "not implemented" raw patterns (IM spec v1.0, 5, table of data
 * types): int 0x8000..., uint/enum/bitfield 0xFFFF..., acc 0. */
static int sunspec_na(const struct mb_point *p, uint64_t raw)
{
    switch (p->type) {
    case MB_T_INT16:
        return raw == 0x8000u;
    case MB_T_INT32:
        return raw == 0x80000000u;
    case MB_T_INT64:
        return raw == 0x8000000000000000u;
    case MB_T_UINT16:
    case MB_T_BITS:
        return p->counter ? raw == 0 : raw == 0xFFFFu;
    case MB_T_UINT32:
        return p->counter ? raw == 0 : raw == 0xFFFFFFFFu;
    case MB_T_UINT64:
        return p->counter ? raw == 0 : raw == UINT64_MAX;
    default:
        return 0;
    }
}

static double raw_value(const struct mb_point *p, uint64_t raw)
{
    float f;
    double d;
    uint32_t u32 = (uint32_t) raw;

    switch (p->type) {
    case MB_T_INT16:
        return (int16_t) (uint16_t) raw;
    case MB_T_UINT16:
        return (uint16_t) raw;
    case MB_T_INT32:
        return (int32_t) u32;
    case MB_T_UINT32:
        return u32;
    case MB_T_INT64:
        return (double) (int64_t) raw;
    case MB_T_UINT64:
        return (double) raw;
    case MB_T_FLOAT32:
        memcpy(&f, &u32, sizeof(f));
        return f;
    case MB_T_FLOAT64:
        memcpy(&d, &raw, sizeof(d));
        return d;
    case MB_T_BITS:
        return (double) ((raw >> p->bit) & ((1u << p->nbits) - 1u));
    default:
        return NAN;
    }
}

/* x * 10^sf, dividing for negative sf so that 2301 * 10^-1 is the double
 * nearest 230.1. */
static double apply_sf(double x, int sf)
{
    static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};

    return sf >= 0 ? x * pow10[sf] : x / pow10[-sf];
}

/* Scale-factor exponent for p into *sf: 0, -PQ_ENOTFOUND, or a quality. */
static int read_sf(const struct mb_point *p, const struct mb_read_result *res, size_t n,
                   int *sf, int *q)
{
    const struct mb_read_result *r;
    int16_t v;

    *sf = 0;
    *q = MB_Q_GOOD;
    if (p->sf_addr < 0) {
        return 0;
    }
    r = find_read(res, n, p->fn, p->sf_addr, 1);
    if (!r) {
        return -PQ_ENOTFOUND;
    }
    if (r->rc != 0 || !r->regs) {
        *q = MB_Q_COMM_FAIL;
        return 0;
    }
    v = (int16_t) r->regs[p->sf_addr - r->read->addr];
    if ((uint16_t) v == SUNSSF_NA || v < -10 || v > 10) {
        *q = MB_Q_NOT_IMPL; /* sunssf range is -10..10 (IM spec, 5) */
        return 0;
    }
    *sf = v;
    return 0;
}

int mb_point_decode(const struct mb_point *p, const struct mb_read_result *res, size_t n,
                    double *value, int *q)
{
    const struct mb_read_result *r = find_read(res, n, p->fn, p->addr, p->count);
    uint64_t raw;
    double v;
    int sf, sfq;
    int rc;

    if (p->type == MB_T_STRING) {
        return -EINVAL;
    }
    if (!r) {
        return -PQ_ENOTFOUND;
    }
    *value = NAN;
    if (r->rc != 0 || (is_bit_fn(p->fn) ? !r->bits : !r->regs)) {
        *q = MB_Q_COMM_FAIL;
        return 0;
    }
    if (p->type == MB_T_BOOL) {
        *value = r->bits[p->addr - r->read->addr] ? 1.0 : 0.0;
        *q = MB_Q_GOOD;
        return 0;
    }
    raw = gather(p, r->regs + (p->addr - r->read->addr));
    rc = read_sf(p, res, n, &sf, &sfq);
    if (rc < 0) {
        return rc;
    }
    if (sfq != MB_Q_GOOD) {
        *q = sfq;
        return 0;
    }
    v = raw_value(p, raw);
    if (isnan(v) || (p->na == MB_NA_SUNSPEC && sunspec_na(p, raw))) {
        *q = MB_Q_NOT_IMPL;
        return 0;
    }
    *value = apply_sf(v * p->scale, sf) + p->offset;
    *q = MB_Q_GOOD;
    return 0;
}

int mb_point_string(const struct mb_point *p, const struct mb_read_result *res, size_t n,
                    char *buf, size_t cap)
{
    const struct mb_read_result *r;
    size_t len = 0;

    if (p->type != MB_T_STRING || cap == 0) {
        return -EINVAL;
    }
    buf[0] = '\0';
    r = find_read(res, n, p->fn, p->addr, p->count);
    if (!r) {
        return -PQ_ENOTFOUND;
    }
    if (r->rc != 0) {
        return r->rc < 0 ? r->rc : -EIO;
    }
    if (!r->regs) {
        return -EIO;
    }
    for (int i = 0; i < p->length && len + 1 < cap; i++) {
        uint16_t w = r->regs[p->addr - r->read->addr + i / 2];
        int hi_first = p->bytes != MB_BYTES_SWAPPED;
        unsigned char c = (unsigned char) ((i % 2 == 0) == hi_first ? w >> 8 : w & 0xff);

        if (c == 0) {
            break;
        }
        buf[len++] = (char) (c < 0x20 || c > 0x7e ? '?' : c);
    }
    while (len > 0 && buf[len - 1] == ' ') {
        len--;
    }
    buf[len] = '\0';
    return 0;
}

/* ---- counters --------------------------------------------------------- */

const char *mb_counter_event_name(int ev)
{
    static const char *const names[] = {"ok", "rollover", "reset", "exchange", "glitch"};

    return ev >= 0 && ev <= MB_COUNTER_GLITCH ? names[ev] : "?";
}

static double seconds(int64_t from_ns, int64_t to_ns)
{
    /* a clock stepped back: judge the step as if a second had passed */
    return to_ns > from_ns ? (double) (to_ns - from_ns) / 1e9 : 1.0;
}

/* d is a credible increase over dt seconds. */
static int credible(const struct mb_point *p, double d, double dt)
{
    return d >= 0 && (p->max_step <= 0 || d <= p->max_step * dt);
}

/* Jitter a float counter may show without having gone backwards: a few
 * units in the last place of its type. */
static double jitter(const struct mb_point *p, double last)
{
    if (p->type == MB_T_FLOAT32) {
        return fabs(last) * 0x1p-21;
    }
    if (p->type == MB_T_FLOAT64) {
        return fabs(last) * 0x1p-50;
    }
    return 0;
}

static int counter_decrease(struct mb_counter *c, const struct mb_point *p, double x,
                            double dt)
{
    double lsb = c->lsb > 0 ? c->lsb : fabs(p->scale);
    double wrap = p->counter_bits > 0 ? ldexp(lsb, p->counter_bits) : 0;
    int small;

    /* wrapped: the old reading was in the top eighth, the new one is in the
     * bottom eighth, and the increase across the wrap is credible */
    if (wrap > 0 && c->last >= wrap * 7 / 8 && x >= 0 && x < wrap / 8 &&
        credible(p, wrap - c->last + x, dt)) {
        c->total += wrap - c->last + x;
        return MB_COUNTER_ROLLOVER;
    }
    /* restarted from zero: the reading itself is a credible increase */
    if (p->max_step > 0) {
        small = x >= 0 && x <= p->max_step * dt;
    } else {
        small = x >= 0 && x <= (wrap > 0 ? wrap : fabs(c->last)) / 1000;
    }
    if (small) {
        c->total += x;
        return MB_COUNTER_RESET;
    }
    return MB_COUNTER_EXCHANGE; /* new base, nothing added */
}

int mb_counter_feed(struct mb_counter *c, const struct mb_point *p, double x,
                    int64_t t_ns)
{
    double dt;
    int ev = MB_COUNTER_OK;

    if (!isfinite(x)) {
        return MB_COUNTER_GLITCH;
    }
    if (!c->primed) {
        c->primed = 1;
        c->last = x;
        c->last_ns = t_ns;
        c->total = x;
        c->pending = 0;
        return MB_COUNTER_OK;
    }
    dt = seconds(c->last_ns, t_ns);
    if (c->pending) {
        c->pending = 0;
        if (!credible(p, x - c->last, dt) &&
            credible(p, x - c->spike, seconds(c->spike_ns, t_ns))) {
            /* the new level holds: real, but its jump was not consumption */
            c->last = x;
            c->last_ns = t_ns;
            return MB_COUNTER_EXCHANGE;
        }
        /* otherwise the spike was a glitch: judge x against the last good */
    }
    if (x >= c->last - jitter(p, c->last) && x <= c->last) {
        c->last_ns = t_ns; /* unchanged (or float jitter): keep the higher base */
        return MB_COUNTER_OK;
    }
    if (x > c->last) {
        if (!credible(p, x - c->last, dt)) {
            c->pending = 1;
            c->spike = x;
            c->spike_ns = t_ns;
            return MB_COUNTER_GLITCH;
        }
        c->total += x - c->last;
    } else {
        ev = counter_decrease(c, p, x, dt);
    }
    c->last = x;
    c->last_ns = t_ns;
    return ev;
}

int mb_point_sample(const struct mb_point *p, struct mb_counter *c,
                    const struct mb_read_result *res, size_t n, struct mb_sample *out)
{
    const struct mb_read_result *r = find_read(res, n, p->fn, p->addr, p->count);
    int sf, sfq;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = mb_point_decode(p, res, n, &out->value, &out->q);
    if (rc < 0) {
        return rc;
    }
    out->t_ns = r->t_ns;
    out->event = MB_COUNTER_OK;
    out->reading = out->value;
    if (!p->counter || !c || out->q != MB_Q_GOOD) {
        return 0;
    }
    if (read_sf(p, res, n, &sf, &sfq) == 0 && sfq == MB_Q_GOOD) {
        c->lsb = apply_sf(fabs(p->scale), sf);
    }
    out->event = mb_counter_feed(c, p, out->value, out->t_ns);
    out->value = c->total;
    if (out->event == MB_COUNTER_GLITCH) {
        out->q = MB_Q_SUBSTITUTED;
    }
    return 0;
}
