/* comtrade_write.c - COMTRADE .cfg and .dat writer (C37.111-2013, -1999).
 *
 * How: pq_ct_writer_new() checks the description once and derives what
 * every later call needs (time base and multiplier, record size); scans
 * widen each channel's range; the first _cfg or _dat call fixes the
 * scales.  Output is assembled in a staging buffer that goes to the sink
 * when full and at the end of each call, so a call's output is complete
 * when it returns.
 *
 * Numbers in the .cfg are printed with the fewest significant digits that
 * read back as the same double ("%.*g", checked with strtod), so a and b
 * are exact for every reader and the quantisation bound of the header holds.
 */
#include "pq/comtrade_write.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq/comtrade.h"
#include "pq/err.h"
#include "pq/utc.h"

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

#define CT_NAME_MAX     64          /* station, device, ch_id, ccbm (7.4.2, 7.4.4) */
#define CT_PH_MAX       2           /* ph */
#define CT_UNIT_MAX     32          /* uu */
#define CT_TT_MAX       999999      /* 7.4.3 */
#define CT_N_MAX_BIN    4294967295u /* binary n is a uint32 */
#define CT_N_MAX_ASCII  UINT64_C(9999999999)
#define CT_TS_MAX       4294967294.0 /* 0xFFFFFFFF marks a missing timestamp */
#define CT_R_BINARY     32767.0      /* 0x8000 = missing */
#define CT_R_BINARY32   2147483647.0 /* 0x80000000 = missing */
#define CT_R_ASCII      99998.0      /* 99999 = missing */
#define CT_ASCII_MISS   "99999"
#define CT_LINE_MAX     1024 /* one .cfg line: names <= 64 + numbers <= 25 */
#define CT_FIELD_MAX    64   /* one .dat field */
#define CT_MAX_OFFSET_M (24 * 60)

struct ct_chan {
    double a, b;   /* file value = a * raw + b */
    double gain;   /* file value = primary x gain */
    double lo, hi; /* scanned range of primary x gain; lo > hi: none */
    double min, max, err_bound;
    int integer; /* raw values are integers in -r..r */
    double r;
};

struct pq_ct_writer {
    const struct pq_ct_desc *d;
    int rev, format;
    struct ct_chan *ch;
    size_t nw;        /* status words per sample */
    int frac_digits;  /* 6 or 9 */
    double base_s;    /* 1e-6 or 1e-9 */
    double timemult;  /* in use */
    int64_t start_ns; /* recorded times (UTC + time_code), rounded for 1999 */
    int64_t trigger_ns;
    int frozen;
    int failed; /* a sink's code, once one failed */
    uint64_t written, clipped;
    pq_ct_sink sink;
    void *ctx;
    size_t slen;
    uint8_t stage[PQ_CT_STAGE];
};

/* ---- description checks ------------------------------------------------ */

static int PRINTF_LIKE(3, 4) cfg_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (err && cap) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -PQ_ECONFIG;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* A text field: at most max bytes, no field or line separator. */
static int check_text(char *err, size_t cap, const char *where, const char *field,
                      const char *s, size_t max)
{
    size_t n = strlen(str_or_empty(s));

    if (n > max) {
        return cfg_err(err, cap, "%s%s: at most %zu characters, got '%.*s...' (%zu)",
                       where, field, max, 40, s, n);
    }
    if (s && strpbrk(s, ",\r\n")) {
        return cfg_err(err, cap, "%s%s: no ',', CR or LF allowed in a field, got '%s'",
                       where, field, s);
    }
    return 0;
}

static int finite_in(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

static int check_analog(const struct pq_ct_analog_desc *c, size_t k, char *err,
                        size_t cap)
{
    char where[CT_NAME_MAX + 40];
    int rc;

    snprintf(where, sizeof(where), "analog channel %zu (%s): ", k + 1,
             str_or_empty(c->id));
    rc = check_text(err, cap, where, "ch_id", c->id, CT_NAME_MAX);
    if (rc == 0) {
        rc = check_text(err, cap, where, "ph", c->ph, CT_PH_MAX);
    }
    if (rc == 0) {
        rc = check_text(err, cap, where, "ccbm", c->ccbm, CT_NAME_MAX);
    }
    if (rc == 0) {
        rc = check_text(err, cap, where, "uu", c->unit, CT_UNIT_MAX);
    }
    if (rc < 0) {
        return rc;
    }
    if (!(c->ps == 0 || c->ps == 'P' || c->ps == 'p' || c->ps == 'S' || c->ps == 's')) {
        return cfg_err(err, cap, "%sPS: expected 'P' or 'S', got %d", where, c->ps);
    }
    if (!(c->primary == 0 && c->secondary == 0) &&
        !(finite_in(c->primary, DBL_MIN, DBL_MAX) &&
          finite_in(c->secondary, DBL_MIN, DBL_MAX))) {
        return cfg_err(err, cap,
                       "%sprimary, secondary: expected two ratio factors > 0 (or both "
                       "0), got %g and %g",
                       where, c->primary, c->secondary);
    }
    if (!isfinite(c->a) || !isfinite(c->b) || !isfinite(c->skew_us)) {
        return cfg_err(err, cap, "%sa, b, skew: expected finite numbers", where);
    }
    return 0;
}

static int check_status(const struct pq_ct_status_desc *s, size_t k, char *err,
                        size_t cap)
{
    char where[CT_NAME_MAX + 40];
    int rc;

    snprintf(where, sizeof(where), "status channel %zu (%s): ", k + 1,
             str_or_empty(s->id));
    rc = check_text(err, cap, where, "ch_id", s->id, CT_NAME_MAX);
    if (rc == 0) {
        rc = check_text(err, cap, where, "ph", s->ph, CT_PH_MAX);
    }
    if (rc == 0) {
        rc = check_text(err, cap, where, "ccbm", s->ccbm, CT_NAME_MAX);
    }
    if (rc == 0 && s->y != 0 && s->y != 1) {
        rc = cfg_err(err, cap, "%sy: expected 0 or 1, got %d", where, s->y);
    }
    return rc;
}

static int check_header(const struct pq_ct_desc *d, int rev, char *err, size_t cap)
{
    int rc = check_text(err, cap, "", "station_name", d->station, CT_NAME_MAX);

    if (rc == 0) {
        rc = check_text(err, cap, "", "rec_dev_id", d->device, CT_NAME_MAX);
    }
    if (rc < 0) {
        return rc;
    }
    if (rev != 1999 && rev != 2013) {
        return cfg_err(err, cap, "rev_year: expected 1999 or 2013, got %d", rev);
    }
    if (d->format < PQ_CT_ASCII || d->format > PQ_CT_FLOAT32) {
        return cfg_err(err, cap, "ft: expected ASCII, BINARY, BINARY32 or FLOAT32");
    }
    if (rev == 1999 && d->format != PQ_CT_ASCII && d->format != PQ_CT_BINARY) {
        return cfg_err(err, cap, "ft: %s needs rev_year 2013",
                       pq_comtrade_format_name(d->format));
    }
    if (d->n_analog + d->n_status < 1 || d->n_analog + d->n_status > CT_TT_MAX ||
        (d->n_analog && !d->analog) || (d->n_status && !d->status)) {
        return cfg_err(err, cap, "TT: expected 1..%d channels, got %zu", CT_TT_MAX,
                       d->n_analog + d->n_status);
    }
    if (!finite_in(d->line_freq_hz, 0, 1e6)) {
        return cfg_err(err, cap, "lf: expected 0..1e6 Hz, got %g", d->line_freq_hz);
    }
    if (!finite_in(d->rate_hz, 1e-6, 1e12)) {
        return cfg_err(err, cap, "samp: expected a rate in 1e-6..1e12 Hz, got %g",
                       d->rate_hz);
    }
    if (d->nsamples < 1 ||
        d->nsamples > (d->format == PQ_CT_ASCII ? CT_N_MAX_ASCII : CT_N_MAX_BIN)) {
        return cfg_err(err, cap, "endsamp: expected 1..%" PRIu64 " samples, got %" PRIu64,
                       d->format == PQ_CT_ASCII ? CT_N_MAX_ASCII
                                                : (uint64_t) CT_N_MAX_BIN,
                       d->nsamples);
    }
    return 0;
}

static int check_codes(const struct pq_ct_desc *d, char *err, size_t cap)
{
    if (d->time_code_min <= -CT_MAX_OFFSET_M || d->time_code_min >= CT_MAX_OFFSET_M) {
        return cfg_err(err, cap, "time_code: expected an offset under 24 h, got %d min",
                       d->time_code_min);
    }
    if (d->local_code_min <= -CT_MAX_OFFSET_M || d->local_code_min >= CT_MAX_OFFSET_M) {
        return cfg_err(err, cap, "local_code: expected an offset under 24 h, got %d min",
                       d->local_code_min);
    }
    if (d->tmq < 0 || d->tmq > 15) {
        return cfg_err(err, cap, "tmq_code: expected 0..15, got %d", d->tmq);
    }
    if (d->leapsec < 0 || d->leapsec > 3) {
        return cfg_err(err, cap, "leapsec: expected 0..3, got %d", d->leapsec);
    }
    if (!(d->timemult == 0 || finite_in(d->timemult, DBL_MIN, DBL_MAX))) {
        return cfg_err(err, cap, "timemult: expected a number > 0 (or 0: chosen), got %g",
                       d->timemult);
    }
    return 0;
}

/* ---- dates --------------------------------------------------------------- */

static int64_t year_of(int64_t ns)
{
    struct pq_utc u;

    pq_utc_from_ns(ns, &u);
    return u.year;
}

/* "dd/mm/yyyy,hh:mm:ss.ffffff" with digits 6 or 9 (7.4.8). */
static void format_time(char *buf, size_t cap, int64_t ns, int digits)
{
    struct pq_utc u;

    pq_utc_from_ns(ns, &u);
    snprintf(buf, cap, "%02u/%02u/%04" PRId64 ",%02u:%02u:%02u.%0*" PRId64, u.day,
             u.month, u.year, u.hour, u.minute, u.second, digits,
             digits == 6 ? u.nsec / 1000 : u.nsec);
}

/* time_code / local_code (7.4.11): "0", "+1", "-4", "+10h30", "-7h15". */
static void format_tz(char *buf, size_t cap, int minutes)
{
    int a = minutes < 0 ? -minutes : minutes;

    if (minutes == 0) {
        snprintf(buf, cap, "0");
    } else if (a % 60 == 0) {
        snprintf(buf, cap, "%c%d", minutes < 0 ? '-' : '+', a / 60);
    } else {
        snprintf(buf, cap, "%c%dh%02d", minutes < 0 ? '-' : '+', a / 60, a % 60);
    }
}

/* ---- numbers ------------------------------------------------------------ */

/* The shortest "%.*g" that reads back as v, without an exponent where the
 * integer digits fit ("50", not "5e+01"). */
static void format_real(char *buf, size_t cap, double v)
{
    double x = fabs(v);
    int p = 1;

    if (v == 0) {
        v = 0; /* no "-0" */
    }
    if (x >= 1 && x < 1e17) {
        p = (int) floor(log10(x)) + 1;
    }
    for (; p < 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
    snprintf(buf, cap, "%.17g", v);
}

/* v with 7 significant digits, rounded down (dir < 0) or up: the .cfg's
 * min and max of real-valued channels (13 characters at most). */
static void format_bound(char *buf, size_t cap, double v, int dir)
{
    int i;

    if (v == 0) {
        v = 0;
    }
    for (i = 0; i < 8; i++) {
        double got;

        snprintf(buf, cap, "%.7g", v);
        got = strtod(buf, NULL);
        if (dir < 0 ? got <= v : got >= v) {
            return;
        }
        v += (dir < 0 ? -1 : 1) * (fabs(got) * 1e-7 + DBL_MIN);
    }
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

/* ---- staging ------------------------------------------------------------ */

static int flush(struct pq_ct_writer *w)
{
    int rc;

    if (w->failed) {
        return w->failed;
    }
    if (w->slen == 0) {
        return 0;
    }
    rc = w->sink(w->ctx, w->stage, w->slen);
    w->slen = 0;
    if (rc < 0) {
        w->failed = rc;
    }
    return rc < 0 ? rc : 0;
}

/* Room for k more bytes (k <= PQ_CT_STAGE), flushing if needed. */
static int room(struct pq_ct_writer *w, size_t k)
{
    return sizeof(w->stage) - w->slen < k ? flush(w) : w->failed;
}

static int put(struct pq_ct_writer *w, const void *p, size_t n)
{
    int rc = room(w, n);

    if (rc == 0) {
        memcpy(w->stage + w->slen, p, n);
        w->slen += n;
    }
    return rc;
}

static int PRINTF_LIKE(2, 3) put_line(struct pq_ct_writer *w, const char *fmt, ...)
{
    char line[CT_LINE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -EINVAL;
    }
    if ((size_t) n > sizeof(line) - 3) {
        n = (int) sizeof(line) - 3; /* cannot happen: fields are bounded */
    }
    line[n++] = '\r';
    line[n++] = '\n';
    return put(w, line, (size_t) n);
}

/* ---- scales ------------------------------------------------------------- */

static int is_integer_format(const struct pq_ct_writer *w)
{
    return w->format == PQ_CT_BINARY || w->format == PQ_CT_BINARY32 ||
           (w->format == PQ_CT_ASCII && w->rev == 1999);
}

static double format_range(const struct pq_ct_writer *w)
{
    switch (w->format) {
    case PQ_CT_BINARY:
        return CT_R_BINARY;
    case PQ_CT_BINARY32:
        return CT_R_BINARY32;
    default:
        return CT_R_ASCII;
    }
}

/* a, b, min, max and the bound of one integer-format channel. */
static void fix_integer(struct ct_chan *c, const struct pq_ct_analog_desc *ad)
{
    int scanned = c->lo <= c->hi;

    c->min = -c->r;
    c->max = c->r;
    if (ad->a != 0) {
        c->a = ad->a;
        c->b = ad->b;
    } else if (scanned && (c->hi / 2 - c->lo / 2) / c->r > 0) {
        c->b = c->lo / 2 + c->hi / 2;
        c->a = (c->hi / 2 - c->lo / 2) / c->r;
    } else { /* nothing scanned, or a constant (span too small for an a) */
        c->a = 1;
        c->b = scanned ? c->lo : 0;
        c->err_bound = scanned ? 0 : 0.5 / c->gain;
        return;
    }
    c->err_bound = fabs(c->a) / 2 / c->gain;
}

static void fix_real(struct ct_chan *c, const struct pq_ct_analog_desc *ad, int format)
{
    double r0, r1;

    c->a = ad->a != 0 ? ad->a : 1;
    c->b = ad->a != 0 ? ad->b : 0;
    if (c->lo > c->hi) {
        c->min = c->max = 0;
        c->err_bound = 0;
        return;
    }
    r0 = (c->lo - c->b) / c->a;
    r1 = (c->hi - c->b) / c->a;
    c->min = r0 < r1 ? r0 : r1;
    c->max = r0 < r1 ? r1 : r0;
    if (format == PQ_CT_FLOAT32 && c->a == 1 && c->b == 0 && c->gain == 1) {
        c->err_bound = 0;
    } else {
        double m = fabs(c->lo) > fabs(c->hi) ? fabs(c->lo) : fabs(c->hi);

        c->err_bound = ldexp(m + fabs(c->b), -23) / c->gain;
    }
}

static void fix_scales(struct pq_ct_writer *w)
{
    size_t k;

    if (w->frozen) {
        return;
    }
    w->frozen = 1;
    for (k = 0; k < w->d->n_analog; k++) {
        if (w->ch[k].integer) {
            fix_integer(&w->ch[k], &w->d->analog[k]);
        } else {
            fix_real(&w->ch[k], &w->d->analog[k], w->format);
        }
    }
}

/* ---- the writer ---------------------------------------------------------- */

/* Time base, fraction digits, recorded times and timemult. */
static int setup_time(struct pq_ct_writer *w, char *err, size_t cap)
{
    const struct pq_ct_desc *d = w->d;
    int64_t off = (int64_t) d->time_code_min * 60000000000LL;
    double last;

    if (__builtin_add_overflow(d->start_ns, off, &w->start_ns) ||
        __builtin_add_overflow(d->trigger_ns, off, &w->trigger_ns) ||
        w->start_ns < INT64_MIN / 2 || w->start_ns > INT64_MAX / 2 ||
        w->trigger_ns < INT64_MIN / 2 || w->trigger_ns > INT64_MAX / 2) {
        return cfg_err(err, cap, "start or trigger time: expected years 1900..9999");
    }
    if (w->rev == 2013 &&
        (d->ns_base || w->start_ns % 1000 != 0 || w->trigger_ns % 1000 != 0)) {
        w->frac_digits = 9;
        w->base_s = 1e-9;
    } else {
        w->frac_digits = 6;
        w->base_s = 1e-6;
        w->start_ns = pq_floor_div(w->start_ns + 500, 1000) * 1000;
        w->trigger_ns = pq_floor_div(w->trigger_ns + 500, 1000) * 1000;
    }
    if (year_of(w->start_ns) < 1900 || year_of(w->start_ns) > 9999 ||
        year_of(w->trigger_ns) < 1900 || year_of(w->trigger_ns) > 9999) {
        return cfg_err(err, cap, "start or trigger time: expected years 1900..9999");
    }
    last = (double) (d->nsamples - 1) / d->rate_hz / w->base_s;
    if (d->timemult > 0) {
        w->timemult = d->timemult;
        if (!(last / w->timemult <= CT_TS_MAX)) {
            return cfg_err(err, cap,
                           "timemult: %g is too small: the last timestamp, %.0f, does "
                           "not fit 32 bits",
                           d->timemult, last / w->timemult);
        }
        return 0;
    }
    w->timemult = 1;
    while (last / w->timemult > CT_TS_MAX) {
        w->timemult *= 10;
    }
    return 0;
}

static void init_channels(struct pq_ct_writer *w)
{
    size_t k;

    for (k = 0; k < w->d->n_analog; k++) {
        const struct pq_ct_analog_desc *ad = &w->d->analog[k];
        struct ct_chan *c = &w->ch[k];
        int s = ad->ps == 'S' || ad->ps == 's';

        c->gain = s && ad->primary > 0 ? ad->secondary / ad->primary : 1.0;
        c->lo = INFINITY;
        c->hi = -INFINITY;
        c->integer = is_integer_format(w);
        c->r = format_range(w);
    }
}

int pq_ct_writer_new(const struct pq_ct_desc *d, struct pq_ct_writer **out, char *err,
                     size_t errcap)
{
    struct pq_ct_writer *w;
    int rev = d->rev_year ? d->rev_year : 2013;
    size_t k;
    int rc = check_header(d, rev, err, errcap);

    if (rc == 0) {
        rc = check_codes(d, err, errcap);
    }
    for (k = 0; rc == 0 && k < d->n_analog; k++) {
        rc = check_analog(&d->analog[k], k, err, errcap);
    }
    for (k = 0; rc == 0 && k < d->n_status; k++) {
        rc = check_status(&d->status[k], k, err, errcap);
    }
    if (rc < 0) {
        return rc;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        return -ENOMEM;
    }
    w->d = d;
    w->rev = rev;
    w->format = d->format;
    w->nw = (d->n_status + 15) / 16;
    w->ch = calloc(d->n_analog ? d->n_analog : 1, sizeof(*w->ch));
    if (!w->ch) {
        free(w);
        return -ENOMEM;
    }
    rc = setup_time(w, err, errcap);
    if (rc < 0) {
        pq_ct_writer_free(w);
        return rc;
    }
    init_channels(w);
    *out = w;
    return 0;
}

void pq_ct_writer_free(struct pq_ct_writer *w)
{
    if (!w) {
        return;
    }
    free(w->ch);
    free(w);
}

void pq_ct_writer_scan(struct pq_ct_writer *w, const float *frames, size_t n)
{
    size_t na = w->d->n_analog;
    size_t i, k;

    if (w->frozen) {
        return;
    }
    for (i = 0; i < n; i++) {
        for (k = 0; k < na; k++) {
            double v = (double) frames[i * na + k] * w->ch[k].gain;

            if (!isfinite(v)) {
                continue;
            }
            if (v < w->ch[k].lo) {
                w->ch[k].lo = v;
            }
            if (v > w->ch[k].hi) {
                w->ch[k].hi = v;
            }
        }
    }
}

/* 7.4.4: An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS */
static int cfg_analog(struct pq_ct_writer *w, size_t k)
{
    const struct pq_ct_analog_desc *ad = &w->d->analog[k];
    const struct ct_chan *c = &w->ch[k];
    char a[32], b[32], skew[32], mn[32], mx[32], pri[32], sec[32];
    int s = ad->ps == 'S' || ad->ps == 's';

    format_real(a, sizeof(a), c->a);
    format_real(b, sizeof(b), c->b);
    format_real(skew, sizeof(skew), ad->skew_us);
    if (c->integer) {
        snprintf(mn, sizeof(mn), "%.0f", c->min);
        snprintf(mx, sizeof(mx), "%.0f", c->max);
    } else {
        format_bound(mn, sizeof(mn), c->min, -1);
        format_bound(mx, sizeof(mx), c->max, 1);
    }
    format_real(pri, sizeof(pri), ad->primary > 0 ? ad->primary : 1);
    format_real(sec, sizeof(sec), ad->secondary > 0 ? ad->secondary : 1);
    return put_line(w, "%zu,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%c", k + 1,
                    str_or_empty(ad->id), str_or_empty(ad->ph), str_or_empty(ad->ccbm),
                    str_or_empty(ad->unit), a, b, skew, mn, mx, pri, sec, s ? 'S' : 'P');
}

/* 7.4.6 to 7.4.12: everything after the channels. */
static int cfg_tail(struct pq_ct_writer *w)
{
    static const char *const ft[] = {"ASCII", "BINARY", "BINARY32", "FLOAT32"};
    const struct pq_ct_desc *d = w->d;
    char lf[32], samp[32], t0[48], t1[48], tm[32], tc[16], lc[16];
    int rc;

    format_real(lf, sizeof(lf), d->line_freq_hz);
    format_real(samp, sizeof(samp), d->rate_hz);
    format_time(t0, sizeof(t0), w->start_ns, w->frac_digits);
    format_time(t1, sizeof(t1), w->trigger_ns, w->frac_digits);
    format_real(tm, sizeof(tm), w->timemult);
    rc = put_line(w, "%s", lf);
    if (rc == 0) {
        rc = put_line(w, "1");
    }
    if (rc == 0) {
        rc = put_line(w, "%s,%" PRIu64, samp, d->nsamples);
    }
    if (rc == 0) {
        rc = put_line(w, "%s", t0);
    }
    if (rc == 0) {
        rc = put_line(w, "%s", t1);
    }
    if (rc == 0) {
        rc = put_line(w, "%s", ft[w->format]);
    }
    if (rc == 0) {
        rc = put_line(w, "%s", tm);
    }
    if (rc == 0 && w->rev == 2013) {
        format_tz(tc, sizeof(tc), d->time_code_min);
        format_tz(lc, sizeof(lc), d->local_code_min);
        rc = put_line(w, "%s,%s", tc, lc);
        if (rc == 0) {
            rc = put_line(w, "%X,%d", (unsigned) d->tmq, d->leapsec);
        }
    }
    return rc;
}

int pq_ct_writer_cfg(struct pq_ct_writer *w, pq_ct_sink sink, void *ctx)
{
    const struct pq_ct_desc *d = w->d;
    size_t k;
    int rc;

    if (!sink) {
        return -EINVAL;
    }
    if (w->failed) {
        return w->failed;
    }
    fix_scales(w);
    w->sink = sink;
    w->ctx = ctx;
    w->slen = 0;
    rc = put_line(w, "%s,%s,%d", str_or_empty(d->station), str_or_empty(d->device),
                  w->rev);
    if (rc == 0) {
        rc = put_line(w, "%zu,%zuA,%zuD", d->n_analog + d->n_status, d->n_analog,
                      d->n_status);
    }
    for (k = 0; rc == 0 && k < d->n_analog; k++) {
        rc = cfg_analog(w, k);
    }
    for (k = 0; rc == 0 && k < d->n_status; k++) {
        const struct pq_ct_status_desc *s = &d->status[k];

        rc = put_line(w, "%zu,%s,%s,%s,%d", k + 1, str_or_empty(s->id),
                      str_or_empty(s->ph), str_or_empty(s->ccbm), s->y);
    }
    if (rc == 0) {
        rc = cfg_tail(w);
    }
    return rc == 0 ? flush(w) : rc;
}

/* Raw integer of v (primary) on channel c; *missing for non-finite v. */
static double raw_integer(struct pq_ct_writer *w, const struct ct_chan *c, float v,
                          int *missing)
{
    double x = (double) v * c->gain;
    double raw;

    *missing = !isfinite(x);
    if (*missing) {
        return 0;
    }
    raw = nearbyint((x - c->b) / c->a);
    if (!(raw <= c->r)) {
        raw = c->r;
        w->clipped++;
    } else if (raw < -c->r) {
        raw = -c->r;
        w->clipped++;
    }
    return raw;
}

static double raw_real(const struct ct_chan *c, float v)
{
    if (c->a == 1 && c->b == 0 && c->gain == 1) {
        return (double) v;
    }
    return ((double) v * c->gain - c->b) / c->a;
}

static int dat_binary_analog(struct pq_ct_writer *w, const float *row)
{
    size_t k, width = w->format == PQ_CT_BINARY ? 2 : 4;
    int rc = 0;

    for (k = 0; rc == 0 && k < w->d->n_analog; k++) {
        const struct ct_chan *c = &w->ch[k];
        uint8_t *p;
        int missing;

        rc = room(w, width);
        if (rc < 0) {
            break;
        }
        p = w->stage + w->slen;
        w->slen += width;
        if (w->format == PQ_CT_FLOAT32) {
            float f = isfinite(row[k]) ? (float) raw_real(c, row[k]) : NAN;
            uint32_t u;

            f = isfinite(f) ? f : NAN;
            memcpy(&u, &f, sizeof(u));
            put_le32(p, u);
        } else if (w->format == PQ_CT_BINARY) {
            double raw = raw_integer(w, c, row[k], &missing);

            put_le16(p, missing ? 0x8000u : (uint16_t) (int16_t) raw);
        } else {
            double raw = raw_integer(w, c, row[k], &missing);

            put_le32(p, missing ? 0x80000000u : (uint32_t) (int32_t) raw);
        }
    }
    return rc;
}

static uint16_t status_word(const struct pq_ct_writer *w, const uint16_t *st, size_t j)
{
    size_t used = w->d->n_status - j * 16;
    uint16_t mask = used >= 16 ? 0xffff : (uint16_t) ((1u << used) - 1);

    return st ? (uint16_t) (st[j] & mask) : 0;
}

/* One binary record (clause 8, reference 9.2). */
static int dat_binary(struct pq_ct_writer *w, uint64_t k, const float *row,
                      const uint16_t *st)
{
    uint8_t head[8];
    size_t j;
    int rc;

    put_le32(head, (uint32_t) (k + 1));
    put_le32(head + 4,
             (uint32_t) llround((double) k / w->d->rate_hz / w->base_s / w->timemult));
    rc = put(w, head, sizeof(head));
    if (rc == 0) {
        rc = dat_binary_analog(w, row);
    }
    for (j = 0; rc == 0 && j < w->nw; j++) {
        uint8_t b[2];

        put_le16(b, status_word(w, st, j));
        rc = put(w, b, sizeof(b));
    }
    return rc;
}

/* One ASCII value: an integer (1999), a real with 9 digits (2013; never the
 * missing mark), or the missing mark. */
static void ascii_value(struct pq_ct_writer *w, const struct ct_chan *c, float v,
                        char *buf, size_t cap)
{
    int missing = !isfinite(v);

    if (c->integer && !missing) {
        double raw = raw_integer(w, c, v, &missing);

        snprintf(buf, cap, ",%.0f", raw);
        return;
    }
    if (missing) {
        snprintf(buf, cap, "," CT_ASCII_MISS);
        return;
    }
    snprintf(buf, cap, ",%.9g", raw_real(c, v));
    if (strcmp(buf + 1, CT_ASCII_MISS) == 0) {
        snprintf(buf, cap, ",%.9g", (double) nextafterf(99999.0f, INFINITY));
    }
}

/* One ASCII line: n,timestamp,A1..AnA,D1..DnD CR LF. */
static int dat_ascii(struct pq_ct_writer *w, uint64_t k, const float *row,
                     const uint16_t *st)
{
    char f[CT_FIELD_MAX];
    size_t i;
    int n, rc;

    n = snprintf(f, sizeof(f), "%" PRIu64 ",%.0f", k + 1,
                 nearbyint((double) k / w->d->rate_hz / w->base_s / w->timemult));
    rc = put(w, f, (size_t) n);
    for (i = 0; rc == 0 && row && i < w->d->n_analog; i++) {
        ascii_value(w, &w->ch[i], row[i], f, sizeof(f));
        rc = put(w, f, strlen(f));
    }
    for (i = 0; rc == 0 && i < w->d->n_status; i++) {
        int bit = st ? (st[i / 16] >> (i % 16)) & 1 : 0;

        rc = put(w, bit ? ",1" : ",0", 2);
    }
    return rc == 0 ? put(w, "\r\n", 2) : rc;
}

int pq_ct_writer_dat(struct pq_ct_writer *w, const float *frames, const uint16_t *status,
                     size_t n, pq_ct_sink sink, void *ctx)
{
    size_t na = w->d->n_analog;
    size_t i;
    int rc = 0;

    if (!sink || (n && na && !frames)) {
        return -EINVAL;
    }
    if (w->failed) {
        return w->failed;
    }
    if (n > w->d->nsamples - w->written) {
        return -ERANGE;
    }
    fix_scales(w);
    w->sink = sink;
    w->ctx = ctx;
    w->slen = 0;
    for (i = 0; rc == 0 && i < n; i++) {
        const float *row = na ? frames + i * na : NULL;
        const uint16_t *st = status ? status + i * w->nw : NULL;

        if (w->format == PQ_CT_ASCII) {
            rc = dat_ascii(w, w->written, row, st);
        } else {
            rc = dat_binary(w, w->written, row, st);
        }
        w->written++;
    }
    return rc == 0 ? flush(w) : rc;
}

int pq_ct_writer_finish(const struct pq_ct_writer *w)
{
    return w->written == w->d->nsamples ? 0 : -ERANGE;
}

int pq_ct_writer_scale(struct pq_ct_writer *w, size_t k, struct pq_ct_scale *out)
{
    const struct ct_chan *c;

    if (k >= w->d->n_analog) {
        return -EINVAL;
    }
    fix_scales(w);
    c = &w->ch[k];
    out->a = c->a;
    out->b = c->b;
    out->min = c->min;
    out->max = c->max;
    out->gain = c->gain;
    out->err_bound = c->err_bound;
    return 0;
}

uint64_t pq_ct_writer_clipped(const struct pq_ct_writer *w)
{
    return w->clipped;
}

double pq_ct_writer_timemult(const struct pq_ct_writer *w)
{
    return w->timemult;
}

size_t pq_ct_record_size(int format, size_t n_analog, size_t n_status)
{
    if (format == PQ_CT_ASCII) {
        return 0;
    }
    return 8 + (format == PQ_CT_BINARY ? 2 : 4) * n_analog + 2 * ((n_status + 15) / 16);
}

int pq_ct_buf_sink(void *ctx, const void *buf, size_t len)
{
    struct pq_ct_buf *b = ctx;

    if (len > b->cap - b->len) {
        return -ENOSPC;
    }
    memcpy(b->p + b->len, buf, len);
    b->len += len;
    return 0;
}

int pq_ct_write(const struct pq_ct_desc *d, const float *frames, const uint16_t *status,
                pq_ct_sink cfg_sink, void *cfg_ctx, pq_ct_sink dat_sink, void *dat_ctx,
                char *err, size_t errcap)
{
    struct pq_ct_writer *w = NULL;
    int rc = pq_ct_writer_new(d, &w, err, errcap);

    if (rc < 0) {
        return rc;
    }
    if (d->nsamples > SIZE_MAX) {
        pq_ct_writer_free(w);
        return -ENOMEM;
    }
    pq_ct_writer_scan(w, frames, (size_t) d->nsamples);
    rc = pq_ct_writer_cfg(w, cfg_sink, cfg_ctx);
    if (rc == 0) {
        rc = pq_ct_writer_dat(w, frames, status, (size_t) d->nsamples, dat_sink, dat_ctx);
    }
    pq_ct_writer_free(w);
    return rc;
}
