/* comtrade.c - COMTRADE .cfg/.dat/.cff parser (IEEE C37.111-1991, -1999,
 * -2013).
 *
 * How: the input is never NUL-terminated, so everything works on spans
 * (pointer + length).  The .cfg is read line by line; each line is split
 * into blank-trimmed fields and every check that can fail names the file,
 * the line and the field.  The .dat is checked for its exact size (binary)
 * or its line and field counts (ASCII) before the sample arrays are
 * allocated, so memory stays a small multiple of the input size.
 *
 * References: C37.111-2013 clause 7.4, the .cfg content, one item per line
 * in a fixed order (7.4.8 date/time stamps, 7.4.11 time_code/local_code);
 * C37.111-1999 has the same lines up to timemult, 1991 lacks rev_year,
 * primary/secondary/PS and timemult.  The data-file clauses give the ASCII
 * and binary record layouts.  Summary and sources: spec/pq-reference.md
 * section 9.
 */
#include "pq/comtrade.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq/err.h"
#include "pq/utc.h"

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

#define CT_MAX_SAMPLE_NO 9999999999ULL /* sample number n: at most 10 digits */
#define CT_ASCII_MISSING 99999.0       /* 1999 ASCII missing value */
#define CT_SHOW_MAX      40            /* bytes of a bad value quoted in errors */
#define CT_NUM_MAX       64            /* longest numeric field accepted */
#define CT_SUB           0x1a          /* DOS end-of-file mark */

struct span {
    const char *p;
    size_t n;
};

/* Where errors go and how to name places in them. */
struct ct_job {
    const char *cfg_name, *dat_name;
    char *err;
    size_t errcap;
    size_t cfg_line0, dat_line0; /* lines before the section (.cff), else 0 */
    uint64_t dat_off0;           /* byte offset of the .dat data (.cff), else 0 */
};

/* What the .cfg says that the .dat reader needs and the result does not keep. */
struct cfg_extra {
    uint64_t nsamples;  /* announced by the last endsamp; 0: count the .dat */
    double time_base_s; /* 1e-6, or 1e-9 with 7-9 fraction digits */
};

/* A cursor over lines ending in LF, CR LF or CR. */
struct lines {
    const char *p;
    size_t len, pos;
    size_t lineno; /* file line of the line last returned */
};

/* ---- errors ---------------------------------------------------------- */

static int PRINTF_LIKE(3, 4) errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (err && cap > 0) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -PQ_EFORMAT;
}

#define CT_SHOW_BUF (CT_SHOW_MAX + 4) /* shown bytes, "...", NUL */

/* A bad value as printable ASCII in buf (CT_SHOW_BUF bytes), shortened:
 * input bytes never reach the message raw. */
static const char *show(struct span s, char *buf)
{
    size_t n = s.n > CT_SHOW_MAX ? CT_SHOW_MAX : s.n;
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s.p[i];

        buf[i] = (char) ((c >= 0x20 && c < 0x7f) ? c : '?');
    }
    if (n < s.n) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* ---- spans and numbers ---------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static struct span trim(struct span s)
{
    while (s.n > 0 && is_blank(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && is_blank(s.p[s.n - 1])) {
        s.n--;
    }
    return s;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Case-insensitive (ASCII) comparison of a span with a word. */
static int span_is(struct span s, const char *word)
{
    size_t n = strlen(word);
    size_t i;

    if (s.n != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (lower((unsigned char) s.p[i]) != lower((unsigned char) word[i])) {
            return 0;
        }
    }
    return 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A decimal real: digits, sign, point, exponent; nothing strtod would also
 * take (blanks, hex, inf, nan); finite. */
static int span_double(struct span s, double *out)
{
    char buf[CT_NUM_MAX];
    char *end;
    double v;
    size_t i;

    if (s.n == 0 || s.n >= sizeof(buf)) {
        return -1;
    }
    for (i = 0; i < s.n; i++) {
        char c = s.p[i];

        if (!is_digit(c) && c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E') {
            return -1;
        }
    }
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    v = strtod(buf, &end);
    if (end != buf + s.n || !isfinite(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Unsigned decimal integer (an optional '+'), at most max. */
static int span_uint(struct span s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    if (s.n > 0 && s.p[0] == '+') {
        i = 1;
    }
    if (i == s.n) {
        return -1;
    }
    for (; i < s.n; i++) {
        if (!is_digit(s.p[i])) {
            return -1;
        }
        v = v * 10 + (uint64_t) (s.p[i] - '0');
        if (v > max) {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* Split a line at commas into blank-trimmed fields.  Fills at most maxf,
 * returns how many there are. */
static size_t split(struct span line, struct span *f, size_t maxf)
{
    size_t n = 0;
    size_t start = 0;
    size_t i;

    for (i = 0; i <= line.n; i++) {
        if (i == line.n || line.p[i] == ',') {
            if (n < maxf) {
                f[n] = trim((struct span){line.p + start, i - start});
            }
            n++;
            start = i + 1;
        }
    }
    return n;
}

/* ---- lines and text ------------------------------------------------- */

static int line_next(struct lines *l, struct span *out)
{
    size_t i = l->pos;

    if (l->pos >= l->len) {
        return 0;
    }
    while (i < l->len && l->p[i] != '\n' && l->p[i] != '\r') {
        i++;
    }
    out->p = l->p + l->pos;
    out->n = i - l->pos;
    if (i < l->len && l->p[i] == '\r') {
        i++;
        if (i < l->len && l->p[i] == '\n') {
            i++;
        }
    } else if (i < l->len) {
        i++;
    }
    l->pos = i;
    l->lineno++;
    return 1;
}

/* Length up to the first SUB (0x1A): DOS editors end text files with one
 * or more; the sample_sub_char.cfg of python-comtrade does. */
static size_t text_len(const uint8_t *p, size_t len)
{
    const uint8_t *sub = memchr(p, CT_SUB, len);

    return sub ? (size_t) (sub - p) : len;
}

static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        uint32_t cp, min;
        size_t len, k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len) {
            return 0;
        }
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

/* ISO 8859-1 to UTF-8: every byte >= 0x80 is the code point of that value. */
static char *latin1_to_utf8(const uint8_t *s, size_t n, size_t *out_len)
{
    char *out;
    size_t i, o = 0;

    if (n > (SIZE_MAX - 1) / 2) {
        return NULL;
    }
    out = malloc(2 * n + 1);
    if (!out) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            out[o++] = (char) s[i];
        } else {
            out[o++] = (char) (0xc0 | (s[i] >> 6));
            out[o++] = (char) (0x80 | (s[i] & 0x3f));
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* Copy a name, cut to PQ_CT_NAME_MAX - 1 bytes on a UTF-8 character
 * boundary (C37.111 allows 64 characters, which may be more bytes). */
static void copy_name(char *dst, struct span s)
{
    size_t n = s.n < PQ_CT_NAME_MAX - 1 ? s.n : PQ_CT_NAME_MAX - 1;

    if (n < s.n) {
        while (n > 0 && ((unsigned char) s.p[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    memcpy(dst, s.p, n);
    dst[n] = '\0';
}

/* ---- .cfg reader ---------------------------------------------------- */

struct cfg_rd {
    const struct ct_job *job;
    struct lines l;
    struct span line; /* the line last read */
    struct span f[16];
    size_t nf; /* fields of line (may exceed the 16 kept) */
};

static int PRINTF_LIKE(2, 3) line_err(const struct cfg_rd *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return errf(r->job->err, r->job->errcap, "%s:%zu: %s", r->job->cfg_name, r->l.lineno,
                msg);
}

/* "rec.cfg:3: analog channel 1, field 'a' (multiplier): expected a number, got 'x'" */
static int field_err(const struct cfg_rd *r, const char *what, const char *field,
                     const char *desc, const char *expected, struct span got)
{
    char g[CT_SHOW_BUF];

    return line_err(r, "%s, field '%s' (%s): expected %s, got '%s'", what, field, desc,
                    expected, show(got, g));
}

/* Read the next line and split it; what names it if the file ends. */
static int cfg_line(struct cfg_rd *r, const char *what)
{
    if (!line_next(&r->l, &r->line)) {
        r->l.lineno++;
        return line_err(r, "%s: missing (the file ends)", what);
    }
    r->nf = split(r->line, r->f, sizeof(r->f) / sizeof(r->f[0]));
    return 0;
}

static int cfg_nfields(const struct cfg_rd *r, const char *what, const char *layout,
                       size_t want, size_t alt)
{
    if (r->nf == want || (alt && r->nf == alt)) {
        return 0;
    }
    return line_err(r, "%s: expected %zu field%s (%s), got %zu", what, want,
                    want == 1 ? "" : "s", layout, r->nf);
}

static int cfg_double(const struct cfg_rd *r, const char *what, size_t i,
                      const char *field, const char *desc, double *out)
{
    if (span_double(r->f[i], out) < 0) {
        return field_err(r, what, field, desc, "a number", r->f[i]);
    }
    return 0;
}

static int cfg_uint(const struct cfg_rd *r, const char *what, size_t i, const char *field,
                    const char *desc, uint64_t max, uint64_t *out)
{
    char expected[48];

    if (span_uint(r->f[i], max, out) < 0) {
        snprintf(expected, sizeof(expected), "an integer 0..%" PRIu64, max);
        return field_err(r, what, field, desc, expected, r->f[i]);
    }
    return 0;
}

/* Line 1: station_name,rec_dev_id,rev_year (C37.111-2013 7.4; without
 * rev_year the file is in the 1991 format). */
static int cfg_station(struct cfg_rd *r, struct pq_comtrade *ct)
{
    const char *what = "station line";
    int rc = cfg_line(r, what);

    if (rc < 0) {
        return rc;
    }
    if (r->nf < 2 || r->nf > 3) {
        return line_err(r,
                        "%s: expected 2 or 3 fields (station_name,rec_dev_id,rev_year), "
                        "got %zu",
                        what, r->nf);
    }
    copy_name(ct->station, r->f[0]);
    copy_name(ct->device, r->f[1]);
    ct->rev_year = 1991;
    if (r->nf == 3 && r->f[2].n > 0) {
        if (span_is(r->f[2], "1999")) {
            ct->rev_year = 1999;
        } else if (span_is(r->f[2], "2013")) {
            ct->rev_year = 2013;
        } else if (!span_is(r->f[2], "1991")) {
            return field_err(r, what, "rev_year", "revision year", "1991, 1999 or 2013",
                             r->f[2]);
        }
    }
    return 0;
}

/* "4A" or "4D": a count with its mandatory suffix. */
static int count_with_suffix(struct span s, char suffix, uint64_t *out)
{
    if (s.n < 2 || lower((unsigned char) s.p[s.n - 1]) != suffix) {
        return -1;
    }
    s.n--;
    return span_uint(s, PQ_CT_MAX_CHANNELS, out);
}

/* Line 2: TT,##A,##D. */
static int cfg_counts(struct cfg_rd *r, struct pq_comtrade *ct)
{
    const char *what = "channel counts";
    uint64_t tt = 0, na = 0, nd = 0;
    int rc = cfg_line(r, what);

    if (rc < 0) {
        return rc;
    }
    rc = cfg_nfields(r, what, "TT,##A,##D", 3, 0);
    if (rc < 0) {
        return rc;
    }
    rc = cfg_uint(r, what, 0, "TT", "total channels", PQ_CT_MAX_CHANNELS, &tt);
    if (rc < 0) {
        return rc;
    }
    if (count_with_suffix(r->f[1], 'a', &na) < 0) {
        return field_err(r, what, "##A", "analog channels", "a count and 'A' like '4A'",
                         r->f[1]);
    }
    if (count_with_suffix(r->f[2], 'd', &nd) < 0) {
        return field_err(r, what, "##D", "status channels", "a count and 'D' like '16D'",
                         r->f[2]);
    }
    if (na + nd != tt) {
        char want[48];

        snprintf(want, sizeof(want), "%" PRIu64 " (%" PRIu64 "A + %" PRIu64 "D)", na + nd,
                 na, nd);
        return field_err(r, what, "TT", "total channels", want, r->f[0]);
    }
    ct->n_analog = (size_t) na;
    ct->n_status = (size_t) nd;
    return 0;
}

/* Shortest possible channel lines, to refuse counts the file cannot hold
 * before allocating for them: "1,,,,,0,0,0,0,0" (1991) and "1,,0". */
#define CT_MIN_ANALOG_LINE 16
#define CT_MIN_STATUS_LINE 4

static int cfg_alloc_channels(struct cfg_rd *r, struct pq_comtrade *ct)
{
    uint64_t need = (uint64_t) ct->n_analog * CT_MIN_ANALOG_LINE +
                    (uint64_t) ct->n_status * CT_MIN_STATUS_LINE;

    if (need > r->l.len - r->l.pos) {
        return line_err(r,
                        "channel counts: the file is too short for %zu analog and %zu "
                        "status channel lines",
                        ct->n_analog, ct->n_status);
    }
    if (ct->n_analog) {
        ct->analog = calloc(ct->n_analog, sizeof(*ct->analog));
        if (!ct->analog) {
            return -ENOMEM;
        }
    }
    if (ct->n_status) {
        ct->status_id = calloc(ct->n_status, sizeof(*ct->status_id));
        if (!ct->status_id) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* Numeric fields 5.. of an analog channel line, in file order. */
static const struct {
    const char *field, *desc;
    size_t off;
} analog_num[] = {
    {"a", "multiplier", offsetof(struct pq_ct_analog, a)},
    {"b", "offset adder", offsetof(struct pq_ct_analog, b)},
    {"skew", "time skew, us", offsetof(struct pq_ct_analog, skew_s)},
    {"min", "minimum value", offsetof(struct pq_ct_analog, min)},
    {"max", "maximum value", offsetof(struct pq_ct_analog, max)},
    {"primary", "primary ratio factor", offsetof(struct pq_ct_analog, primary)},
    {"secondary", "secondary ratio factor", offsetof(struct pq_ct_analog, secondary)},
};

/* An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS (C37.111-1999
 * and -2013 7.4 analog channel information; 1991: the first 10 fields). */
static int cfg_analog(struct cfg_rd *r, int rev, size_t k, struct pq_ct_analog *ch)
{
    char what[40];
    uint64_t idx = 0;
    size_t i, nnum;
    int rc;

    snprintf(what, sizeof(what), "analog channel %zu", k + 1);
    rc = cfg_line(r, what);
    if (rc == 0) {
        rc = cfg_nfields(r, what,
                         "An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS", 13,
                         rev == 1991 ? 10 : 0);
    }
    if (rc == 0) {
        rc = cfg_uint(r, what, 0, "An", "channel index", PQ_CT_MAX_CHANNELS, &idx);
    }
    if (rc < 0) {
        return rc;
    }
    copy_name(ch->id, r->f[1]);
    copy_name(ch->ph, r->f[2]);
    copy_name(ch->ccbm, r->f[3]);
    copy_name(ch->unit, r->f[4]);
    ch->primary = ch->secondary = 1.0;
    ch->ps = 'P';
    nnum = r->nf == 13 ? 7 : 5;
    for (i = 0; i < nnum; i++) {
        double *dst = (double *) (void *) ((char *) ch + analog_num[i].off);

        rc = cfg_double(r, what, 5 + i, analog_num[i].field, analog_num[i].desc, dst);
        if (rc < 0) {
            return rc;
        }
    }
    ch->skew_s *= 1e-6;
    if (r->nf == 13) {
        if (span_is(r->f[12], "p") || span_is(r->f[12], "s")) {
            ch->ps = r->f[12].p[0] == 's' || r->f[12].p[0] == 'S' ? 'S' : 'P';
        } else {
            return field_err(r, what, "PS", "primary or secondary", "P or S", r->f[12]);
        }
    }
    if (ch->ps == 'S' && !(ch->primary > 0 && ch->secondary > 0)) {
        i = ch->primary > 0 ? 11 : 10;
        return field_err(r, what, analog_num[i - 5].field, analog_num[i - 5].desc,
                         "a number > 0 when PS is 'S'", r->f[i]);
    }
    return 0;
}

/* Dn,ch_id,ph,ccbm,y (1991: Dn,ch_id,y). */
static int cfg_status(struct cfg_rd *r, int rev, size_t k, char *id)
{
    char what[40];
    uint64_t idx = 0;
    struct span y;
    int rc;

    snprintf(what, sizeof(what), "status channel %zu", k + 1);
    rc = cfg_line(r, what);
    if (rc == 0) {
        rc = cfg_nfields(r, what, "Dn,ch_id,ph,ccbm,y", 5, rev == 1991 ? 3 : 0);
    }
    if (rc == 0) {
        rc = cfg_uint(r, what, 0, "Dn", "channel index", PQ_CT_MAX_CHANNELS, &idx);
    }
    if (rc < 0) {
        return rc;
    }
    copy_name(id, r->f[1]);
    y = r->f[r->nf - 1];
    if (!(y.n == 0 || span_is(y, "0") || span_is(y, "1"))) {
        return field_err(r, what, "y", "normal state", "0 or 1", y);
    }
    return 0;
}

/* One-field line holding a number in (min, max] (min_open) or [min, max]. */
static int cfg_single(struct cfg_rd *r, const char *what, const char *field,
                      const char *desc, const char *expected, double min, int min_open,
                      double max, double *out)
{
    int rc = cfg_line(r, what);

    if (rc == 0) {
        rc = cfg_nfields(r, what, field, 1, 0);
    }
    if (rc == 0 && span_double(r->f[0], out) < 0) {
        rc = field_err(r, what, field, desc, expected, r->f[0]);
    }
    if (rc == 0 && (*out < min || (min_open && *out == min) || *out > max)) {
        rc = field_err(r, what, field, desc, expected, r->f[0]);
    }
    return rc;
}

/* Only blank lines left (trailing empty lines end a file as well as EOF). */
static int rest_blank(const struct cfg_rd *r)
{
    size_t i;

    for (i = r->l.pos; i < r->l.len; i++) {
        char c = r->l.p[i];

        if (!is_blank(c) && c != '\r' && c != '\n') {
            return 0;
        }
    }
    return 1;
}

/* nrates, then max(nrates, 1) lines samp,endsamp (with nrates 0 the one
 * line "0,<last sample>" is optional here: some writers leave it out). */
static int cfg_rates(struct cfg_rd *r, struct pq_comtrade *ct, struct cfg_extra *x)
{
    uint64_t nrates = 0, end = 0, prev = 0;
    struct lines save;
    double samp = 0;
    size_t i, nlines;
    int rc = cfg_line(r, "number of sample rates");

    if (rc == 0) {
        rc = cfg_nfields(r, "number of sample rates", "nrates", 1, 0);
    }
    if (rc == 0) {
        rc = cfg_uint(r, "number of sample rates", 0, "nrates", "number of sample rates",
                      PQ_CT_MAX_RATES, &nrates);
    }
    if (rc < 0) {
        return rc;
    }
    nlines = nrates ? (size_t) nrates : 1;
    ct->rates = calloc(nlines, sizeof(*ct->rates));
    if (!ct->rates) {
        return -ENOMEM;
    }
    for (i = 0; i < nlines; i++) {
        char what[40];

        snprintf(what, sizeof(what), "sample rate %zu", i + 1);
        save = r->l;
        rc = cfg_line(r, what);
        if (rc == 0 && nrates == 0 && memchr(r->line.p, '/', r->line.n)) {
            r->l = save; /* the date line: no "0,N" line */
            break;
        }
        if (rc == 0) {
            rc = cfg_nfields(r, what, "samp,endsamp", 2, 0);
        }
        if (rc == 0) {
            rc = cfg_double(r, what, 0, "samp", "sample rate, Hz", &samp);
        }
        /* 0 only alone (it then means "use the timestamps"); the bounds keep
         * every sample time finite. */
        if (rc == 0 && !((samp == 0 && nrates <= 1) || (samp >= 1e-6 && samp <= 1e12))) {
            rc = field_err(r, what, "samp", "sample rate, Hz",
                           nrates > 1 ? "a rate in 1e-6..1e12"
                                      : "0 or a rate in 1e-6..1e12",
                           r->f[0]);
        }
        if (rc == 0) {
            rc = cfg_uint(r, what, 1, "endsamp", "last sample number", CT_MAX_SAMPLE_NO,
                          &end);
        }
        if (rc == 0 && end <= prev) {
            char want[64];

            snprintf(want, sizeof(want), "a sample number > %" PRIu64, prev);
            rc = field_err(r, what, "endsamp", "last sample number", want, r->f[1]);
        }
        if (rc < 0) {
            return rc;
        }
        ct->rates[i].rate_hz = samp;
        ct->rates[i].end_sample = end;
        prev = end;
    }
    x->nsamples = prev;
    /* One rate of 0 Hz is how some writers say "use the timestamps". */
    ct->nrates = (nrates == 1 && ct->rates[0].rate_hz == 0) ? 0 : (size_t) nrates;
    return 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return dm[m - 1];
}

/* n parts separated by sep, each 1..maxd digits; the last one may carry a
 * fraction ".ddddddddd" when frac is given. */
static int split_digits(struct span s, char sep, unsigned *v, size_t n,
                        const size_t *maxd, struct span *frac)
{
    size_t k, i = 0;

    for (k = 0; k < n; k++) {
        size_t start = i;

        v[k] = 0;
        while (i < s.n && is_digit(s.p[i]) && i - start < maxd[k]) {
            v[k] = v[k] * 10 + (unsigned) (s.p[i] - '0');
            i++;
        }
        if (i == start || (k + 1 < n && (i == s.n || s.p[i++] != sep))) {
            return -1;
        }
        if (k + 1 < n) {
            continue;
        }
        if (frac && i < s.n && s.p[i] == '.') {
            frac->p = s.p + i + 1;
            frac->n = s.n - i - 1;
            i = s.n;
        }
    }
    return i == s.n ? 0 : -1;
}

/* "dd/mm/yyyy,hh:mm:ss.ssssss" (1991: mm/dd/yy), C37.111-2013 7.4.8.
 * Two-digit years are 1970..2069.  Returns the recorded time in ns and the
 * number of fraction digits. */
static int cfg_time(struct cfg_rd *r, const char *what, int rev, int64_t *ns, int *digits)
{
    static const size_t dmax[3] = {2, 2, 4}, tmax[3] = {2, 2, 2};
    const char *date_desc = rev == 1991 ? "mm/dd/yy" : "dd/mm/yyyy";
    struct span frac = {"", 0};
    unsigned dv[3], tv[3], day, mon, year;
    int64_t f = 0;
    size_t i;
    int rc = cfg_line(r, what);

    if (rc == 0) {
        rc = cfg_nfields(r, what, "date,time", 2, 0);
    }
    if (rc < 0) {
        return rc;
    }
    if (split_digits(r->f[0], '/', dv, 3, dmax, NULL) < 0) {
        return field_err(r, what, "date", date_desc, "a date", r->f[0]);
    }
    day = rev == 1991 ? dv[1] : dv[0];
    mon = rev == 1991 ? dv[0] : dv[1];
    year = dv[2] < 100 ? (dv[2] < 70 ? 2000 + dv[2] : 1900 + dv[2]) : dv[2];
    if (year < 1900 || year > 2199 || mon < 1 || mon > 12 || day < 1 ||
        day > days_in_month(year, mon)) {
        return field_err(r, what, "date", date_desc, "a valid date in 1900..2199",
                         r->f[0]);
    }
    if (split_digits(r->f[1], ':', tv, 3, tmax, &frac) < 0 || tv[0] > 23 || tv[1] > 59 ||
        tv[2] > 60 || frac.n > 9) {
        return field_err(r, what, "time", "hh:mm:ss.ssssss",
                         "a time of day, at most 9 "
                         "fraction digits",
                         r->f[1]);
    }
    for (i = 0; i < 9; i++) {
        if (i < frac.n && !is_digit(frac.p[i])) {
            return field_err(r, what, "time", "hh:mm:ss.ssssss", "a time of day",
                             r->f[1]);
        }
        f = f * 10 + (i < frac.n ? frac.p[i] - '0' : 0);
    }
    *ns = (pq_days_from_civil(year, mon, day) * 86400 + tv[0] * 3600LL + tv[1] * 60LL +
           tv[2]) *
              1000000000LL +
          f;
    *digits = (int) frac.n;
    return 0;
}

static int cfg_format(struct cfg_rd *r, struct pq_comtrade *ct)
{
    static const char *const names[] = {"ASCII", "BINARY", "BINARY32", "FLOAT32"};
    const char *what = "data file type";
    int rc = cfg_line(r, what);
    int i;

    if (rc == 0) {
        rc = cfg_nfields(r, what, "ft", 1, 0);
    }
    if (rc < 0) {
        return rc;
    }
    for (i = 0; i < 4; i++) {
        if (span_is(r->f[0], names[i])) {
            ct->format = i;
            return 0;
        }
    }
    return field_err(r, what, "ft", "data file type",
                     "ASCII, BINARY, BINARY32 or FLOAT32", r->f[0]);
}

/* time_code / local_code (C37.111-2013 7.4.11): a sign, 1-2 digits of
 * hours, optionally 'h' and 2 digits of minutes, at most 6 characters:
 * "-4", "+10h30", "-7h15", "0".  Empty: 0. */
static int parse_tz(struct span s, int *minutes)
{
    static const size_t hmax[1] = {2}, mmax[1] = {2};
    unsigned h, m = 0;
    int sign = 1;
    size_t i;

    if (s.n == 0) {
        *minutes = 0;
        return 0;
    }
    if (s.n > 6) {
        return -1;
    }
    if (s.p[0] == '+' || s.p[0] == '-') {
        sign = s.p[0] == '-' ? -1 : 1;
        s.p++;
        s.n--;
    }
    for (i = 0; i < s.n && s.p[i] != 'h' && s.p[i] != 'H'; i++) {
    }
    if (split_digits((struct span){s.p, i}, 0, &h, 1, hmax, NULL) < 0 || h > 23) {
        return -1;
    }
    if (i < s.n) {
        struct span ms = {s.p + i + 1, s.n - i - 1};

        if (ms.n != 2 || split_digits(ms, 0, &m, 1, mmax, NULL) < 0 || m > 59) {
            return -1;
        }
    }
    *minutes = sign * (int) (h * 60 + m);
    return 0;
}

static int hex_value(char c)
{
    int l = lower((unsigned char) c);

    if (is_digit(c)) {
        return c - '0';
    }
    return (l >= 'a' && l <= 'f') ? l - 'a' + 10 : -1;
}

/* The optional 2013 lines: time_code,local_code and tmq_code,leapsec. */
static int cfg_2013(struct cfg_rd *r, struct pq_comtrade *ct)
{
    const char *tz = "time codes", *tq = "time quality";
    const char *tz_want = "an offset like '-4', '+10h30' or '0'";
    uint64_t leap = 0;

    if (rest_blank(r)) {
        return 0;
    }
    (void) cfg_line(r, tz); /* cannot fail: a line is left */
    if (r->nf != 2) {
        return cfg_nfields(r, tz, "time_code,local_code", 2, 0);
    }
    if (parse_tz(r->f[0], &ct->time_code_min) < 0) {
        return field_err(r, tz, "time_code", "recorded time minus UTC", tz_want, r->f[0]);
    }
    if (parse_tz(r->f[1], &ct->local_code_min) < 0) {
        return field_err(r, tz, "local_code", "local time minus UTC", tz_want, r->f[1]);
    }
    if (rest_blank(r)) {
        return 0;
    }
    (void) cfg_line(r, tq);
    if (r->nf != 2) {
        return cfg_nfields(r, tq, "tmq_code,leapsec", 2, 0);
    }
    if (r->f[0].n == 1 && hex_value(r->f[0].p[0]) >= 0) {
        ct->tmq = hex_value(r->f[0].p[0]);
    } else if (r->f[0].n != 0) {
        return field_err(r, tq, "tmq_code", "time quality, IEEE C37.118", "one hex digit",
                         r->f[0]);
    }
    if (r->f[1].n != 0) {
        if (span_uint(r->f[1], 3, &leap) < 0) {
            return field_err(r, tq, "leapsec", "leap second", "0, 1, 2 or 3", r->f[1]);
        }
        ct->leapsec = (int) leap;
    }
    return 0;
}

/* Everything after the channels: lf, rates, times, ft, timemult, 2013 lines. */
static int cfg_tail(struct cfg_rd *r, struct pq_comtrade *ct, struct cfg_extra *x)
{
    int64_t start = 0, trigger = 0;
    int d1 = 0, d2 = 0;
    int rc = cfg_single(r, "line frequency", "lf", "nominal line frequency, Hz",
                        "a number in 0..1e6 (0: unknown)", 0, 0, 1e6, &ct->line_freq_hz);

    if (rc == 0) {
        rc = cfg_rates(r, ct, x);
    }
    if (rc == 0) {
        rc = cfg_time(r, "start time", ct->rev_year, &start, &d1);
    }
    if (rc == 0) {
        rc = cfg_time(r, "trigger time", ct->rev_year, &trigger, &d2);
    }
    if (rc == 0) {
        rc = cfg_format(r, ct);
    }
    if (rc < 0) {
        return rc;
    }
    x->time_base_s = (d1 > 6 || d2 > 6) ? 1e-9 : 1e-6;
    ct->timemult = 1.0;
    if (ct->rev_year >= 1999 && !rest_blank(r)) {
        rc = cfg_single(r, "time multiplier", "timemult",
                        "timestamp multiplication factor", "a number > 0", 0, 1, 1e300,
                        &ct->timemult);
        if (rc < 0) {
            return rc;
        }
    }
    if (ct->rev_year == 2013) {
        rc = cfg_2013(r, ct);
        if (rc < 0) {
            return rc;
        }
    }
    /* recorded time = UTC + time_code (7.4.11), so UTC = recorded - time_code */
    ct->start_ns = start - (int64_t) ct->time_code_min * 60000000000LL;
    ct->trigger_ns = trigger - (int64_t) ct->time_code_min * 60000000000LL;
    return 0;
}

static int parse_cfg(const struct ct_job *job, const uint8_t *cfg, size_t cfg_len,
                     struct pq_comtrade *ct, struct cfg_extra *x)
{
    struct cfg_rd r;
    char *owned = NULL;
    const char *text = (const char *) cfg;
    size_t len = text_len(cfg, cfg_len);
    size_t i;
    int rc;

    if (len >= 3 && memcmp(cfg, "\xef\xbb\xbf", 3) == 0) {
        text += 3; /* UTF-8 byte order mark */
        len -= 3;
    }
    if (!utf8_valid((const uint8_t *) text, len)) {
        owned = latin1_to_utf8((const uint8_t *) text, len, &len);
        if (!owned) {
            return -ENOMEM;
        }
        text = owned;
    }
    memset(&r, 0, sizeof(r));
    r.job = job;
    r.l.p = text;
    r.l.len = len;
    r.l.lineno = job->cfg_line0;
    rc = cfg_station(&r, ct);
    if (rc == 0) {
        rc = cfg_counts(&r, ct);
    }
    if (rc == 0) {
        rc = cfg_alloc_channels(&r, ct);
    }
    for (i = 0; rc == 0 && i < ct->n_analog; i++) {
        rc = cfg_analog(&r, ct->rev_year, i, &ct->analog[i]);
    }
    for (i = 0; rc == 0 && i < ct->n_status; i++) {
        rc = cfg_status(&r, ct->rev_year, i, ct->status_id[i]);
    }
    if (rc == 0) {
        rc = cfg_tail(&r, ct, x);
    }
    free(owned);
    return rc;
}

/* ---- .dat ------------------------------------------------------------ */

struct dat_rd {
    const struct ct_job *job;
    struct pq_comtrade *ct;
    const struct cfg_extra *x;
    double *gain; /* per analog channel: 1, or primary/secondary for 'S' */
};

static double to_primary(const struct dat_rd *d, size_t k, double raw)
{
    const struct pq_ct_analog *ch = &d->ct->analog[k];

    return (ch->a * raw + ch->b) * d->gain[k];
}

/* a * b into *out, or -ENOMEM when it does not fit a size_t. */
static int mul_size(uint64_t a, uint64_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) {
        return -ENOMEM;
    }
    *out = (size_t) (a * b);
    return 0;
}

static int alloc_samples(struct pq_comtrade *ct, uint64_t n)
{
    size_t nw = pq_comtrade_status_words(ct);
    size_t cells, bytes;

    if (mul_size(n, sizeof(double), &bytes) < 0) {
        return -ENOMEM;
    }
    ct->t_s = calloc(1, bytes ? bytes : 1);
    if (!ct->t_s) {
        return -ENOMEM;
    }
    if (ct->n_analog) {
        if (mul_size(n, ct->n_analog, &cells) < 0 ||
            mul_size(cells, sizeof(double), &bytes) < 0) {
            return -ENOMEM;
        }
        ct->data = malloc(bytes ? bytes : 1);
        if (!ct->data) {
            return -ENOMEM;
        }
    }
    if (nw) {
        if (mul_size(n, nw, &cells) < 0 ||
            mul_size(cells, sizeof(uint16_t), &bytes) < 0) {
            return -ENOMEM;
        }
        ct->status = calloc(1, bytes ? bytes : 1);
        if (!ct->status) {
            return -ENOMEM;
        }
    }
    ct->nsamples = (size_t) n;
    return 0;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t) (p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) |
           ((uint32_t) p[3] << 24);
}

/* Mask of the used bits of status word w. */
static uint16_t status_mask(size_t nd, size_t w)
{
    size_t used = nd - w * 16;

    return used >= 16 ? 0xffff : (uint16_t) ((1u << used) - 1);
}

/* Record count and size check: exactly the announced samples, or (nothing
 * announced) a whole number of records. */
static int binary_check_size(const struct dat_rd *d, size_t len, size_t rec, uint64_t *n)
{
    const struct ct_job *j = d->job;
    uint64_t want = d->x->nsamples;
    uint64_t whole = len / rec;

    if (want == 0 && len % rec) {
        return errf(j->err, j->errcap,
                    "%s: sample %" PRIu64 ": truncated record at byte offset %" PRIu64
                    " (%zu of %zu bytes)",
                    j->dat_name, whole + 1, j->dat_off0 + whole * rec, len % rec, rec);
    }
    if (want == 0 && whole == 0) {
        return errf(j->err, j->errcap, "%s: no samples", j->dat_name);
    }
    if (want == 0) {
        want = whole;
    }
    if (whole < want && len % rec) {
        return errf(j->err, j->errcap,
                    "%s: sample %" PRIu64 ": truncated record at byte offset %" PRIu64
                    " (%zu of %zu bytes); the .cfg announces %" PRIu64 " samples",
                    j->dat_name, whole + 1, j->dat_off0 + whole * rec, len % rec, rec,
                    want);
    }
    if (whole < want) {
        return errf(j->err, j->errcap,
                    "%s: sample %" PRIu64 ": the data ends at byte offset %" PRIu64
                    "; the .cfg announces %" PRIu64 " samples of %zu bytes (%" PRIu64
                    " bytes)",
                    j->dat_name, whole + 1, j->dat_off0 + len, want, rec, want * rec);
    }
    if (len > want * rec) {
        return errf(j->err, j->errcap,
                    "%s: sample %" PRIu64 ": data beyond the %" PRIu64
                    " samples of %zu bytes the .cfg announces, from byte offset %" PRIu64
                    " to %" PRIu64,
                    j->dat_name, want + 1, want, rec, j->dat_off0 + want * rec,
                    j->dat_off0 + len);
    }
    *n = want;
    return 0;
}

/* Raw analog value k of a record at p, NaN when marked missing. */
static double binary_value(int format, const uint8_t *p)
{
    uint32_t u;
    float f;

    switch (format) {
    case PQ_CT_BINARY:
        u = rd16(p);
        return u == 0x8000 ? NAN : (double) (int16_t) u;
    case PQ_CT_BINARY32:
        u = rd32(p);
        return u == 0x80000000u ? NAN : (double) (int32_t) u;
    default:
        u = rd32(p);
        memcpy(&f, &u, sizeof(f));
        return (double) f;
    }
}

/* The analog values of one record, scaled. */
static void binary_row(const struct dat_rd *d, const uint8_t *p, double *row)
{
    size_t width = d->ct->format == PQ_CT_BINARY ? 2 : 4;
    size_t k;

    for (k = 0; k < d->ct->n_analog; k++, p += width) {
        double raw = binary_value(d->ct->format, p);

        row[k] = isnan(raw) ? NAN : to_primary(d, k, raw);
    }
}

/* C37.111 binary data records: uint32 n, uint32 timestamp,
 * the analog values (int16, int32 or float32), the status words; LSB
 * first. */
static int parse_binary(struct dat_rd *d, const uint8_t *dat, size_t len)
{
    struct pq_comtrade *ct = d->ct;
    const struct ct_job *j = d->job;
    size_t width = ct->format == PQ_CT_BINARY ? 2 : 4;
    size_t nw = pq_comtrade_status_words(ct);
    size_t rec = 8 + width * ct->n_analog + 2 * nw;
    double tmul = ct->timemult * d->x->time_base_s;
    uint64_t n = 0;
    size_t i, k;
    int rc = binary_check_size(d, len, rec, &n);

    if (rc == 0) {
        rc = alloc_samples(ct, n);
    }
    if (rc < 0) {
        return rc;
    }
    for (i = 0; i < ct->nsamples; i++) {
        const uint8_t *p = dat + i * rec;
        uint32_t ts = rd32(p + 4);

        if (ct->nrates == 0 && ts == 0xffffffffu) {
            return errf(j->err, j->errcap,
                        "%s: sample %zu: timestamp missing (0xFFFFFFFF) at byte offset "
                        "%" PRIu64 ", but nrates is 0: the timestamps are the time base",
                        j->dat_name, i + 1, j->dat_off0 + (uint64_t) i * rec + 4);
        }
        ct->t_s[i] = (double) ts * tmul;
        p += 8;
        if (ct->data) {
            binary_row(d, p, ct->data + i * ct->n_analog);
        }
        for (k = 0, p += width * ct->n_analog; k < nw; k++, p += 2) {
            ct->status[i * nw + k] = rd16(p) & status_mask(ct->n_status, k);
        }
    }
    return 0;
}

/* First pass over ASCII data: count sample lines and check each has
 * 2 + nA + nD fields; blank lines only at the end. */
static int ascii_count(const struct dat_rd *d, const char *text, size_t len, uint64_t *n)
{
    const struct ct_job *j = d->job;
    size_t want = 2 + d->ct->n_analog + d->ct->n_status;
    struct lines l = {text, len, 0, j->dat_line0};
    struct span line;
    size_t blank_at = 0;
    uint64_t count = 0;

    while (line_next(&l, &line)) {
        size_t commas = 0, i;

        if (trim(line).n == 0) {
            blank_at = blank_at ? blank_at : l.lineno;
            continue;
        }
        if (blank_at) {
            return errf(j->err, j->errcap, "%s:%zu: empty line before more samples",
                        j->dat_name, blank_at);
        }
        for (i = 0; i < line.n; i++) {
            commas += line.p[i] == ',';
        }
        if (d->x->nsamples && count == d->x->nsamples) {
            return errf(j->err, j->errcap,
                        "%s:%zu: sample %" PRIu64 ": more samples than the %" PRIu64
                        " the .cfg announces",
                        j->dat_name, l.lineno, count + 1, d->x->nsamples);
        }
        if (commas + 1 != want) {
            return errf(j->err, j->errcap,
                        "%s:%zu: sample %" PRIu64
                        ": expected %zu fields (n,timestamp, %zu "
                        "analog, %zu status), got %zu",
                        j->dat_name, l.lineno, count + 1, want, d->ct->n_analog,
                        d->ct->n_status, commas + 1);
        }
        count++;
    }
    if (d->x->nsamples && count < d->x->nsamples) {
        return errf(j->err, j->errcap,
                    "%s:%zu: sample %" PRIu64 ": the data ends after %" PRIu64
                    " samples; the .cfg announces %" PRIu64,
                    j->dat_name, (blank_at ? blank_at : l.lineno + 1), count + 1, count,
                    d->x->nsamples);
    }
    if (count == 0) {
        return errf(j->err, j->errcap, "%s:%zu: no samples", j->dat_name,
                    j->dat_line0 + 1);
    }
    *n = count;
    return 0;
}

/* Next comma-separated field of an ASCII line, trimmed. */
static struct span next_field(struct span *rest)
{
    const char *c = memchr(rest->p, ',', rest->n);
    size_t n = c ? (size_t) (c - rest->p) : rest->n;
    struct span f = trim((struct span){rest->p, n});

    rest->p += c ? n + 1 : n;
    rest->n -= c ? n + 1 : n;
    return f;
}

static int PRINTF_LIKE(5, 6)
    ascii_err(const struct dat_rd *d, size_t lineno, struct span got,
              const char *expected, const char *fmt, ...)
{
    char where[128], g[CT_SHOW_BUF];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(where, sizeof(where), fmt, ap);
    va_end(ap);
    return errf(d->job->err, d->job->errcap, "%s:%zu: %s: expected %s, got '%s'",
                d->job->dat_name, lineno, where, expected, show(got, g));
}

/* One ASCII sample line: n,timestamp,A1..AnA,D1..DnD (C37.111 ASCII data
 * file).  Analog values may be reals (2013); an empty field or 99999
 * is a missing value. */
static int ascii_line(const struct dat_rd *d, size_t i, size_t lineno, struct span rest)
{
    struct pq_comtrade *ct = d->ct;
    size_t nw = pq_comtrade_status_words(ct);
    struct span f = next_field(&rest);
    uint64_t u = 0;
    double v = 0;
    size_t k;

    if (span_uint(f, CT_MAX_SAMPLE_NO, &u) < 0) {
        return ascii_err(d, lineno, f, "an integer", "field 1 (sample number)");
    }
    f = next_field(&rest);
    if (ct->nrates == 0) {
        if (span_double(f, &v) < 0 || v < 0) {
            return ascii_err(d, lineno, f,
                             "a number >= 0 (nrates is 0: the timestamps "
                             "are the time base)",
                             "field 2 (timestamp)");
        }
        ct->t_s[i] = v * ct->timemult * d->x->time_base_s;
        if (!isfinite(ct->t_s[i])) {
            return ascii_err(d, lineno, f, "a time (timestamp x timemult) that is finite",
                             "field 2 (timestamp)");
        }
    }
    for (k = 0; k < ct->n_analog; k++) {
        f = next_field(&rest);
        if (f.n == 0) {
            v = NAN;
        } else if (span_double(f, &v) < 0) {
            return ascii_err(d, lineno, f, "a number",
                             "field %zu (analog channel %zu, %s)", k + 3, k + 1,
                             ct->analog[k].id);
        }
        ct->data[i * ct->n_analog + k] =
            (isnan(v) || v == CT_ASCII_MISSING) ? NAN : to_primary(d, k, v);
    }
    for (k = 0; k < ct->n_status; k++) {
        f = next_field(&rest);
        if (!(f.n == 0 || span_is(f, "0") || span_is(f, "1"))) {
            return ascii_err(d, lineno, f, "0 or 1", "field %zu (status channel %zu, %s)",
                             k + 3 + ct->n_analog, k + 1, ct->status_id[k]);
        }
        if (f.n && f.p[0] == '1') {
            ct->status[i * nw + k / 16] |= (uint16_t) (1u << (k % 16));
        }
    }
    return 0;
}

static int parse_ascii(struct dat_rd *d, const uint8_t *dat, size_t dat_len)
{
    const char *text = (const char *) dat;
    size_t len = text_len(dat, dat_len);
    struct lines l = {text, len, 0, d->job->dat_line0};
    struct span line;
    uint64_t n = 0;
    size_t i = 0;
    int rc = ascii_count(d, text, len, &n);

    if (rc == 0) {
        rc = alloc_samples(d->ct, n);
    }
    /* ascii_count() let blank lines through only after the last sample */
    while (rc == 0 && i < n && line_next(&l, &line)) {
        rc = ascii_line(d, i, l.lineno, line);
        i++;
    }
    return rc;
}

/* Sample times from the rates: sample 1 at 0, then 1/rate of its segment
 * after its predecessor (the first sample of a new segment is one period
 * of the new rate after the last of the old). */
static void times_from_rates(struct pq_comtrade *ct)
{
    uint64_t anchor_s = 1;
    double anchor_t = 0;
    size_t seg = 0;
    size_t i;

    for (i = 0; i < ct->nsamples; i++) {
        uint64_t s = (uint64_t) i + 1;

        if (s > ct->rates[seg].end_sample) {
            anchor_s = ct->rates[seg].end_sample;
            anchor_t = ct->t_s[anchor_s - 1];
            seg++;
        }
        ct->t_s[i] = anchor_t + (double) (s - anchor_s) / ct->rates[seg].rate_hz;
    }
}

static int parse_dat(const struct ct_job *job, struct pq_comtrade *ct,
                     const struct cfg_extra *x, const uint8_t *dat, size_t dat_len)
{
    struct dat_rd d = {job, ct, x, NULL};
    size_t k;
    int rc;

    d.gain = malloc((ct->n_analog ? ct->n_analog : 1) * sizeof(*d.gain));
    if (!d.gain) {
        return -ENOMEM;
    }
    for (k = 0; k < ct->n_analog; k++) {
        const struct pq_ct_analog *ch = &ct->analog[k];

        d.gain[k] = ch->ps == 'S' ? ch->primary / ch->secondary : 1.0;
    }
    if (ct->format == PQ_CT_ASCII) {
        rc = parse_ascii(&d, dat, dat_len);
    } else {
        rc = parse_binary(&d, dat, dat_len);
    }
    free(d.gain);
    if (rc == 0 && ct->nrates) {
        times_from_rates(ct);
    }
    return rc;
}

static int parse_job(const struct ct_job *job, const uint8_t *cfg, size_t cfg_len,
                     const uint8_t *dat, size_t dat_len, int want_ascii,
                     struct pq_comtrade **out)
{
    struct pq_comtrade *ct = calloc(1, sizeof(*ct));
    struct cfg_extra x = {0, 1e-6};
    int rc;

    if (!ct) {
        return -ENOMEM;
    }
    ct->tmq = ct->leapsec = -1;
    rc = parse_cfg(job, cfg, cfg_len, ct, &x);
    if (rc == 0 && want_ascii >= 0 && want_ascii != (ct->format == PQ_CT_ASCII)) {
        rc = errf(job->err, job->errcap,
                  "%s:%zu: the DAT section is %s but the CFG says %s", job->dat_name,
                  job->dat_line0, want_ascii ? "ASCII" : "binary",
                  pq_comtrade_format_name(ct->format));
    }
    if (rc == 0) {
        rc = parse_dat(job, ct, &x, dat ? dat : (const uint8_t *) "", dat ? dat_len : 0);
    }
    if (rc < 0) {
        if (rc == -ENOMEM) {
            errf(job->err, job->errcap, "%s: out of memory", job->cfg_name);
        }
        pq_comtrade_free(ct);
        return rc;
    }
    *out = ct;
    return 0;
}

/* ---- public API ----------------------------------------------------- */

int pq_comtrade_parse_named(const char *cfg_name, const char *dat_name,
                            const uint8_t *cfg, size_t cfg_len, const uint8_t *dat,
                            size_t dat_len, struct pq_comtrade **out, char *err,
                            size_t errcap)
{
    struct ct_job job = {cfg_name, dat_name, err, errcap, 0, 0, 0};

    if (err && errcap) {
        err[0] = '\0';
    }
    return parse_job(&job, cfg ? cfg : (const uint8_t *) "", cfg ? cfg_len : 0, dat,
                     dat_len, -1, out);
}

int pq_comtrade_parse(const char *name, const uint8_t *cfg, size_t cfg_len,
                      const uint8_t *dat, size_t dat_len, struct pq_comtrade **out,
                      char *err, size_t errcap)
{
    char dat_name[1024];
    size_t n;

    if (!name) {
        name = "cfg";
    }
    n = strlen(name);
    snprintf(dat_name, sizeof(dat_name), "%s", name);
    if (n >= 4 && n < sizeof(dat_name) && name[n - 4] == '.' &&
        span_is((struct span){name + n - 3, 3}, "cfg")) {
        /* same letter case as the .cfg's extension: .cfg -> .dat, .CFG -> .DAT */
        static const char lo[] = "dat", up[] = "DAT";
        size_t i;

        for (i = 0; i < 3; i++) {
            char c = name[n - 3 + i];

            dat_name[n - 3 + i] = (char) ((c >= 'A' && c <= 'Z') ? up[i] : lo[i]);
        }
    } else if (n + 4 < sizeof(dat_name)) {
        snprintf(dat_name + n, sizeof(dat_name) - n, ".dat");
    }
    return pq_comtrade_parse_named(name, dat_name, cfg, cfg_len, dat, dat_len, out, err,
                                   errcap);
}

/* ---- .cff ----------------------------------------------------------- */

enum cff_kind { CFF_NONE, CFF_CFG, CFF_INF, CFF_HDR, CFF_DAT };

struct cff_sec {
    size_t start, end; /* bytes of the section body */
    size_t line0;      /* file line of the header */
    int found;
    int ascii; /* DAT: 1 ASCII, 0 binary */
};

/* "--- file type: DAT BINARY: 3584 ---" -> kind, ascii, byte count
 * (has_count 0 when absent).  Returns 0, 1 if not a header line, or -1 if a
 * header with an unknown type. */
static int cff_header(struct span line, int *kind, int *ascii, uint64_t *count,
                      int *has_count)
{
    static const char pre[] = "--- file type:";
    struct span s = trim(line), body, w[3];
    size_t nw = 0, i = 0;

    if (s.n < sizeof(pre) - 1 + 3 || !span_is((struct span){s.p, sizeof(pre) - 1}, pre) ||
        memcmp(s.p + s.n - 3, "---", 3) != 0) {
        return 1;
    }
    body = trim((struct span){s.p + sizeof(pre) - 1, s.n - (sizeof(pre) - 1) - 3});
    while (i < body.n && nw < 3) { /* words separated by blanks or ':' */
        size_t st;

        while (i < body.n && (is_blank(body.p[i]) || body.p[i] == ':')) {
            i++;
        }
        for (st = i; i < body.n && !is_blank(body.p[i]) && body.p[i] != ':'; i++) {
        }
        if (i > st) {
            w[nw++] = (struct span){body.p + st, i - st};
        }
    }
    *has_count = 0;
    *ascii = 0;
    if (nw == 1 && span_is(w[0], "cfg")) {
        *kind = CFF_CFG;
    } else if (nw == 1 && span_is(w[0], "inf")) {
        *kind = CFF_INF;
    } else if (nw == 1 && span_is(w[0], "hdr")) {
        *kind = CFF_HDR;
    } else if (nw >= 2 && span_is(w[0], "dat") && span_is(w[1], "ascii")) {
        *kind = CFF_DAT; /* a byte count, if any, is not needed */
        *ascii = 1;
    } else if (nw >= 2 && span_is(w[0], "dat") &&
               (span_is(w[1], "binary") || span_is(w[1], "binary32") ||
                span_is(w[1], "float32"))) {
        *kind = CFF_DAT;
        *has_count = nw == 3;
    } else {
        return -1;
    }
    if (nw == 3 && span_uint(w[2], UINT64_MAX / 10, count) < 0) {
        return -1;
    }
    return i == body.n ? 0 : -1;
}

struct cff_scan {
    const struct ct_job *job;
    const char *buf;
    size_t len;
    struct cff_sec sec[5]; /* by enum cff_kind */
};

/* After a binary DAT header: take its byte count (or the rest of the file). */
static int cff_binary(struct cff_scan *c, struct lines *l, uint64_t count, int has_count)
{
    struct cff_sec *s = &c->sec[CFF_DAT];
    size_t i;

    if (!has_count) {
        count = l->len - l->pos;
    }
    if (count > l->len - l->pos) {
        return errf(c->job->err, c->job->errcap,
                    "%s:%zu: DAT section: the header announces %" PRIu64
                    " bytes, %zu follow",
                    c->job->cfg_name, l->lineno, count, l->len - l->pos);
    }
    s->start = l->pos;
    s->end = l->pos + (size_t) count;
    for (i = s->start; i < s->end; i++) { /* keep line numbers right after it */
        l->lineno += c->buf[i] == '\n';
    }
    l->pos = s->end;
    return 0;
}

static int cff_scan(struct cff_scan *c)
{
    const struct ct_job *j = c->job;
    struct lines l = {c->buf, c->len, 0, 0};
    struct span line;
    int cur = CFF_NONE;

    while (1) {
        size_t at = l.pos;
        uint64_t count = 0;
        int kind, ascii, has_count, h;
        char g[CT_SHOW_BUF];

        if (!line_next(&l, &line)) {
            c->sec[cur].end = l.len;
            return 0;
        }
        h = cff_header(line, &kind, &ascii, &count, &has_count);
        if (h < 0) {
            return errf(
                j->err, j->errcap,
                "%s:%zu: section header: expected '--- file type: CFG|INF|HDR|DAT "
                "ASCII|DAT BINARY: <bytes> ---', got '%s'",
                j->cfg_name, l.lineno, show(line, g));
        }
        if (h > 0) {
            if (cur == CFF_NONE && trim(line).n) {
                return errf(
                    j->err, j->errcap,
                    "%s:%zu: expected a section header like '--- file type: CFG ---'"
                    ", got '%s'",
                    j->cfg_name, l.lineno, show(line, g));
            }
            continue;
        }
        c->sec[cur].end = at;
        if (c->sec[kind].found) {
            return errf(j->err, j->errcap, "%s:%zu: a second '%.*s' section", j->cfg_name,
                        l.lineno, (int) (trim(line).n < 40 ? trim(line).n : 40),
                        trim(line).p);
        }
        cur = kind;
        c->sec[kind] = (struct cff_sec){l.pos, l.len, l.lineno, 1, ascii};
        if (kind == CFF_DAT && !ascii) {
            int rc = cff_binary(c, &l, count, has_count);

            if (rc < 0) {
                return rc;
            }
            cur = CFF_NONE; /* only blank lines or another header may follow */
        }
    }
}

int pq_comtrade_parse_cff(const char *name, const uint8_t *buf, size_t len,
                          struct pq_comtrade **out, char *err, size_t errcap)
{
    struct ct_job job = {name ? name : "cff", name ? name : "cff", err, errcap, 0, 0, 0};
    struct cff_scan c;
    const struct cff_sec *cfg, *dat;
    int rc;

    if (err && errcap) {
        err[0] = '\0';
    }
    memset(&c, 0, sizeof(c));
    c.job = &job;
    c.buf = buf ? (const char *) buf : "";
    c.len = buf ? len : 0;
    rc = cff_scan(&c);
    if (rc < 0) {
        return rc;
    }
    cfg = &c.sec[CFF_CFG];
    dat = &c.sec[CFF_DAT];
    if (!cfg->found || !dat->found) {
        return errf(err, errcap, "%s: no '--- file type: %s ---' section", job.cfg_name,
                    cfg->found ? "DAT ASCII' or 'DAT BINARY: <bytes>" : "CFG");
    }
    job.cfg_line0 = cfg->line0;
    job.dat_line0 = dat->line0;
    job.dat_off0 = dat->start;
    return parse_job(&job, (const uint8_t *) c.buf + cfg->start, cfg->end - cfg->start,
                     (const uint8_t *) c.buf + dat->start, dat->end - dat->start,
                     dat->ascii, out);
}

void pq_comtrade_free(struct pq_comtrade *ct)
{
    if (!ct) {
        return;
    }
    free(ct->analog);
    free(ct->status_id);
    free(ct->rates);
    free(ct->t_s);
    free(ct->data);
    free(ct->status);
    free(ct);
}

double pq_comtrade_rate_at(const struct pq_comtrade *ct, size_t i)
{
    size_t lo = 0, hi;
    uint64_t s = (uint64_t) i + 1;

    if (!ct || ct->nrates == 0 || i >= ct->nsamples) {
        return 0;
    }
    hi = ct->nrates - 1;
    while (lo < hi) { /* first segment whose end_sample >= s */
        size_t mid = lo + (hi - lo) / 2;

        if (ct->rates[mid].end_sample < s) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return ct->rates[lo].rate_hz;
}

size_t pq_comtrade_status_words(const struct pq_comtrade *ct)
{
    return (ct->n_status + 15) / 16;
}

int pq_comtrade_status_bit(const struct pq_comtrade *ct, size_t i, size_t ch)
{
    return (ct->status[i * pq_comtrade_status_words(ct) + ch / 16] >> (ch % 16)) & 1;
}

const char *pq_comtrade_format_name(int format)
{
    static const char *const names[] = {"ASCII", "BINARY", "BINARY32", "FLOAT32"};

    return format >= 0 && format < 4 ? names[format] : "?";
}
