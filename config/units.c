/* units.c - parse and print durations, sizes, SI quantities and plain values.
 *
 * One scanner (scan_number) decides what a number looks like for every
 * parser: the YAML 1.2 core-schema float without .inf and .nan,
 *
 *     [-+]? ( [0-9]+ ( \. [0-9]* )? | \. [0-9]+ ) ( [eE] [-+]? [0-9]+ )?
 *
 * so "1.", ".5" and "1e3" are numbers, and "inf", "nan", "0x1p3", "1,5" are
 * not.  What follows the number (blanks, then one unit token, then blanks)
 * is matched exactly against a table; case matters ("5S", "5kb" are errors).
 *
 * Durations and sizes never go through binary floating point: the digits
 * are scaled in integer arithmetic (scale_exact), so "0.1s" is exactly
 * 100000000 ns, "1.5GB" is exactly whole, INT64_MAX ns and UINT64_MAX bytes
 * read back, and the boundary "9223372036854775.8075us" is seen to round up
 * past INT64_MAX.
 *
 * Doubles go through strtod_l() with a "C" locale object made once
 * (pthread_once): the config always writes '.', whatever LC_NUMERIC the
 * program runs under.  strtod_l() only converts text the scanner has already
 * accepted; glibc hands back its static C locale, so nothing is allocated.
 * strtoll() converts integers (base 10 or 16, chosen here: a leading 0 is
 * not octal).
 */
#include "config/units.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq/err.h"

#define EXP_CLAMP    1000000000000000LL /* |exponent| saturates here: exact below */
#define SIG_DIGITS   6                  /* quantities print this many digits */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(sizeof(long long) == sizeof(int64_t), "strtoll() reads an int64_t");

/* A number as scanned, not yet converted. */
struct num {
    const char *start; /* sign or first mantissa char */
    const char *mant;  /* first mantissa char, a digit or '.' */
    const char *point; /* the '.', or NULL */
    const char *end;   /* one past the number (exponent included) */
    int64_t ndig;      /* mantissa digits, '.' not counted */
    int64_t nint;      /* of which before the point */
    int64_t exp;       /* exponent, clamped to +-EXP_CLAMP */
    int has_sign;      /* '+' or '-' written */
    int neg;           /* '-' written */
};

/* A unit worth c * 10^shift of the base (ns, bytes). */
struct unit_def {
    const char *name;
    uint64_t c;
    int shift;
};

struct prefix_def {
    const char *name;
    int p10;
};

/* Largest first: the formatter takes the first that divides. */
static const struct unit_def duration_units[] = {
    {"d", 864, 11}, {"h", 36, 11}, {"min", 6, 10}, {"s", 1, 9},
    {"ms", 1, 6},   {"us", 1, 3},  {"ns", 1, 0},
};

static const struct unit_def size_units[] = {
    {"B", 1, 0},
    {"kB", 1, 3},
    {"KB", 1, 3}, /* common spelling of kB; never printed */
    {"MB", 1, 6},
    {"GB", 1, 9},
    {"TB", 1, 12},
    {"KiB", 1ULL << 10, 0},
    {"MiB", 1ULL << 20, 0},
    {"GiB", 1ULL << 30, 0},
    {"TiB", 1ULL << 40, 0},
};

/* What the size formatter tries, in order: decimal, then binary, then B. */
static const int size_format_order[] = {5, 4, 3, 1, 9, 8, 7, 6, 0};

static const struct prefix_def prefixes[] = {
    {"p", -12}, {"n", -9}, {"u", -6}, {"\xc2\xb5", -6}, /* U+00B5 micro sign */
    {"m", -3},  {"k", 3},  {"M", 6},  {"G", 9},
};

static const double pow10_tab[] = {1e0, 1e3, 1e6, 1e9, 1e12}; /* exact doubles */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale; /* (locale_t) 0 if newlocale() failed */

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_xdigit(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *s)
{
    while (is_blank(*s)) {
        s++;
    }
    return s;
}

/* Take the exponent ("e-12") at p into n, if there is one; if not, n->end
 * stays at p. */
static void scan_exponent(const char *p, struct num *n)
{
    const char *q = p + 1;
    int neg = 0;
    int64_t e = 0;

    if (*p != 'e' && *p != 'E') {
        return;
    }
    if (*q == '+' || *q == '-') {
        neg = *q == '-';
        q++;
    }
    if (!is_digit(*q)) {
        return; /* "1e", "1es": the 'e' starts the unit */
    }
    for (; is_digit(*q); q++) {
        if (e < EXP_CLAMP) {
            e = e * 10 + (*q - '0');
        }
    }
    n->exp = neg ? -e : e;
    n->end = q;
}

/* Scan the number at s into *n.  Returns 0, or -1 if s holds none. */
static int scan_number(const char *s, struct num *n)
{
    const char *p = s;

    *n = (struct num){.start = s};
    if (*p == '+' || *p == '-') {
        n->has_sign = 1;
        n->neg = *p == '-';
        p++;
    }
    n->mant = p;
    for (; is_digit(*p); p++) {
        n->nint++;
    }
    n->ndig = n->nint;
    if (*p == '.') {
        n->point = p++;
        for (; is_digit(*p); p++) {
            n->ndig++;
        }
    }
    if (n->ndig == 0) {
        return -1;
    }
    n->end = p;
    scan_exponent(p, n);
    return 0;
}

/* Split s into [blanks] number [blanks] [unit [blanks]].  The unit is the
 * run of non-blank characters after the number, *unit_len 0 when absent.
 * Returns 0, or -1 if s is not of that shape. */
static int split(const char *s, struct num *n, const char **unit, size_t *unit_len)
{
    const char *p;
    const char *u;

    if (scan_number(skip_blanks(s), n) < 0) {
        return -1;
    }
    u = skip_blanks(n->end);
    for (p = u; *p && !is_blank(*p); p++) {
    }
    *unit = u;
    *unit_len = (size_t) (p - u);
    return *skip_blanks(p) ? -1 : 0;
}

static int digit_at(const struct num *n, int64_t k)
{
    const char *p = n->mant + k;

    if (n->point && p >= n->point) {
        p++;
    }
    return *p - '0';
}

static int is_zero(const struct num *n)
{
    int64_t k;

    for (k = 0; k < n->ndig; k++) {
        if (digit_at(n, k) != 0) {
            return 0;
        }
    }
    return 1;
}

/* *w = *w * m + a; -1 if that exceeds UINT64_MAX (then *w is undefined). */
static int mul_add(uint64_t *w, uint64_t m, uint64_t a)
{
    if (m != 0 && *w > (UINT64_MAX - a) / m) {
        return -1;
    }
    *w = *w * m + a;
    return 0;
}

/* |n| * c * 10^shift, exactly: the whole part in *whole, the first digit
 * after the point in *tenth, and *inexact != 0 when any digit after the
 * point is not 0.  Returns 0, or -1 if the whole part exceeds UINT64_MAX.
 *
 * n * 10^shift is a shift of the decimal point.  The fraction after it is
 * multiplied by c digit by digit from the right, as on paper; c * 9 + carry
 * stays below 10 * c, so c may be as large as UINT64_MAX / 10. */
static int scale_exact(const struct num *n, uint64_t c, int shift, uint64_t *whole,
                       int *tenth, int *inexact)
{
    int64_t nint = n->nint + n->exp + shift; /* digits left of the point */
    int64_t lim = nint < 0 ? 0 : (nint < n->ndig ? nint : n->ndig);
    int64_t k;
    uint64_t w = 0;
    uint64_t carry = 0;
    int d = 0;
    int nz = 0;

    assert(c <= UINT64_MAX / 10);
    for (k = 0; k < lim; k++) {
        if (mul_add(&w, 10, (uint64_t) digit_at(n, k)) < 0) {
            return -1;
        }
    }
    for (k = nint - n->ndig; k > 0 && w != 0; k--) { /* "5e3": zeros to add */
        if (mul_add(&w, 10, 0) < 0) {
            return -1;
        }
    }
    for (k = n->ndig - 1; k >= lim; k--) { /* fraction digits times c */
        uint64_t t = c * (uint64_t) digit_at(n, k) + carry;

        d = (int) (t % 10);
        carry = t / 10;
        nz |= d;
    }
    for (k = nint < 0 ? -nint : 0; k > 0 && carry != 0; k--) { /* "0.001" */
        d = (int) (carry % 10);
        carry /= 10;
        nz |= d;
    }
    if (k > 0) {
        d = 0; /* the zeros left of the first fraction digit stayed zero */
    }
    if (mul_add(&w, c, carry) < 0) {
        return -1;
    }
    *whole = w;
    *tenth = d;
    *inexact = nz;
    return 0;
}

static const struct unit_def *find_unit(const struct unit_def *tab, size_t n,
                                        const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strlen(tab[i].name) == len && memcmp(tab[i].name, name, len) == 0) {
            return &tab[i];
        }
    }
    return NULL;
}

static uint64_t unit_factor(const struct unit_def *u)
{
    uint64_t f = u->c;
    int i;

    for (i = 0; i < u->shift; i++) {
        f *= 10;
    }
    return f;
}

int units_parse_duration(const char *s, int64_t *ns_out)
{
    const struct unit_def *u;
    struct num n;
    const char *name;
    size_t len;
    uint64_t ns;
    int tenth;
    int inexact;

    assert(s && ns_out);
    if (split(s, &n, &name, &len) < 0 || n.has_sign) {
        return -PQ_ECONFIG;
    }
    if (len == 0) { /* bare: only a zero says the same in every unit */
        if (!is_zero(&n)) {
            return -PQ_ECONFIG;
        }
        *ns_out = 0;
        return 0;
    }
    u = find_unit(duration_units, ARRAY_LEN(duration_units), name, len);
    if (!u || scale_exact(&n, u->c, u->shift, &ns, &tenth, &inexact) < 0) {
        return -PQ_ECONFIG;
    }
    if (ns > (uint64_t) INT64_MAX - (tenth >= 5)) {
        return -PQ_ECONFIG;
    }
    ns += tenth >= 5; /* to nearest, halves up */
    *ns_out = (int64_t) ns;
    return 0;
}

int units_parse_size(const char *s, uint64_t *bytes_out)
{
    const struct unit_def *u = &size_units[0]; /* bare: bytes */
    struct num n;
    const char *name;
    size_t len;
    uint64_t bytes;
    int tenth;
    int inexact;

    assert(s && bytes_out);
    if (split(s, &n, &name, &len) < 0 || n.has_sign) {
        return -PQ_ECONFIG;
    }
    if (len != 0) {
        u = find_unit(size_units, ARRAY_LEN(size_units), name, len);
    }
    if (!u || scale_exact(&n, u->c, u->shift, &bytes, &tenth, &inexact) < 0 || inexact) {
        return -PQ_ECONFIG;
    }
    *bytes_out = bytes;
    return 0;
}

/* Convert the scanned number with strtod_l.  Returns 0, -PQ_ECONFIG when
 * the magnitude overflows or underflows to zero, -ENOMEM without a locale.
 * Subnormal results are kept. */
static int to_double(const struct num *n, double *out)
{
    char *end;
    double v;

    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale == (locale_t) 0) {
        return -ENOMEM;
    }
    errno = 0;
    v = strtod_l(n->start, &end, c_locale);
    if (end != n->end) {
        return -PQ_ECONFIG; /* strtod read on: "0x1p3" is hex to it */
    }
    if (isinf(v) || (errno == ERANGE && v == 0)) {
        return -PQ_ECONFIG;
    }
    *out = v;
    return 0;
}

/* The power of ten that the unit token (prefix and unit) stands for. */
static int match_unit(const char *tok, size_t len, const char *unit, int *p10)
{
    size_t ulen = strlen(unit);
    size_t i;

    if (ulen > 0 && len == ulen && memcmp(tok, unit, len) == 0) {
        *p10 = 0; /* whole match first: with unit "m", "m" is the unit */
        return 0;
    }
    if (strcmp(unit, "%") == 0) {
        return -1;
    }
    for (i = 0; i < ARRAY_LEN(prefixes); i++) {
        size_t plen = strlen(prefixes[i].name);

        if (len == plen + ulen && memcmp(tok, prefixes[i].name, plen) == 0 &&
            memcmp(tok + plen, unit, ulen) == 0) {
            *p10 = prefixes[i].p10;
            return 0;
        }
    }
    return -1;
}

int units_parse_quantity(const char *s, const char *unit, double *out)
{
    struct num n;
    const char *tok;
    size_t len;
    double v;
    double r;
    int p10 = 0;
    int rc;

    assert(s && unit && out);
    if (split(s, &n, &tok, &len) < 0) {
        return -PQ_ECONFIG;
    }
    if (len != 0 && match_unit(tok, len, unit, &p10) < 0) {
        return -PQ_ECONFIG;
    }
    rc = to_double(&n, &v);
    if (rc < 0) {
        return rc;
    }
    /* Dividing by the exact 1e3..1e12 rounds once: 0.3 mA is 0.0003, where
     * 0.3 * 1e-3 would be 0.00030000000000000003. */
    r = p10 >= 0 ? v * pow10_tab[p10 / 3] : v / pow10_tab[-p10 / 3];
    if (isinf(r) || (r == 0 && v != 0)) {
        return -PQ_ECONFIG;
    }
    *out = r;
    return 0;
}

int units_parse_double(const char *s, double *out)
{
    struct num n;
    const char *tok;
    size_t len;
    double v;
    int rc;

    assert(s && out);
    if (split(s, &n, &tok, &len) < 0 || len != 0) {
        return -PQ_ECONFIG;
    }
    rc = to_double(&n, &v);
    if (rc < 0) {
        return rc;
    }
    *out = v;
    return 0;
}

int units_parse_int(const char *s, int64_t *out)
{
    const char *p;
    const char *digits;
    char *end;
    long long v;
    int base = 10;

    assert(s && out);
    p = skip_blanks(s);
    digits = p + (*p == '+' || *p == '-');
    if (digits[0] == '0' && digits[1] == 'x') {
        base = 16;
        digits += 2;
    }
    for (p = digits; base == 16 ? is_xdigit(*p) : is_digit(*p); p++) {
    }
    if (p == digits || *skip_blanks(p)) {
        return -PQ_ECONFIG;
    }
    errno = 0;
    v = strtoll(skip_blanks(s), &end, base); /* base 16 skips the "0x" itself */
    if (errno == ERANGE || end != p) {
        return -PQ_ECONFIG;
    }
    *out = (int64_t) v;
    return 0;
}

/* a and b equal, ASCII letters in either case (strcasecmp follows the
 * locale: in tr_TR "ON" is not "on"). */
static int ascii_eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t i;

    if (strlen(b) != alen) {
        return 0;
    }
    for (i = 0; i < alen; i++) {
        int x = (unsigned char) a[i];

        if (x >= 'A' && x <= 'Z') {
            x += 'a' - 'A';
        }
        if (x != (unsigned char) b[i]) {
            return 0;
        }
    }
    return 1;
}

int units_parse_bool(const char *s, int *out)
{
    static const char *const words[] = {"false", "true", "no", "yes", "off", "on"};
    const char *p;
    const char *w;
    size_t i;

    assert(s && out);
    w = skip_blanks(s);
    for (p = w; *p && !is_blank(*p); p++) {
    }
    if (*skip_blanks(p)) {
        return -PQ_ECONFIG;
    }
    for (i = 0; i < ARRAY_LEN(words); i++) {
        if (ascii_eq_nocase(w, (size_t) (p - w), words[i])) {
            *out = (int) (i % 2);
            return 0;
        }
    }
    return -PQ_ECONFIG;
}

int units_format_duration(char *buf, size_t cap, int64_t ns)
{
    uint64_t mag = ns < 0 ? 0 - (uint64_t) ns : (uint64_t) ns; /* INT64_MIN too */
    const struct unit_def *u = duration_units;

    if (ns == 0) {
        return snprintf(buf, cap, "0s");
    }
    while (mag % unit_factor(u) != 0) {
        u++; /* stops at "ns" at the latest */
    }
    return snprintf(buf, cap, "%s%" PRIu64 "%s", ns < 0 ? "-" : "", mag / unit_factor(u),
                    u->name);
}

int units_format_size(char *buf, size_t cap, uint64_t bytes)
{
    const int *i = size_format_order;

    if (bytes == 0) {
        return snprintf(buf, cap, "0B");
    }
    while (bytes % unit_factor(&size_units[*i]) != 0) {
        i++; /* stops at "B" at the latest */
    }
    return snprintf(buf, cap, "%" PRIu64 "%s", bytes / unit_factor(&size_units[*i]),
                    size_units[*i].name);
}

/* Write the SIG_DIGITS digits dig (value dig[0].dig[1..] * 10^e, sign
 * apart) to out as %g would: plain for -4 <= e <= 5, else "1.5e+07";
 * trailing zeros dropped. */
static void render_mantissa(char *out, size_t cap, int neg, const char *dig, int e)
{
    int nd = SIG_DIGITS;
    size_t o = 0;
    int i;

    while (nd > 1 && dig[nd - 1] == '0') {
        nd--;
    }
    assert(cap > SIG_DIGITS + 12);
    if (neg) {
        out[o++] = '-';
    }
    if (e < -4 || e > 5) {
        out[o++] = dig[0];
        if (nd > 1) {
            out[o++] = '.';
        }
        for (i = 1; i < nd; i++) {
            out[o++] = dig[i];
        }
        snprintf(out + o, cap - o, "e%+03d", e);
        return;
    }
    if (e < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (i = -1; i > e; i--) {
            out[o++] = '0';
        }
    }
    for (i = 0; i < nd || i <= e; i++) {
        if (e >= 0 && i == e + 1) {
            out[o++] = '.';
        }
        if (i < nd) {
            out[o++] = dig[i];
        } else {
            out[o++] = '0'; /* past the digits: "230" from "23" */
        }
    }
    out[o] = '\0';
}

int units_format_quantity(char *buf, size_t cap, double v, const char *unit)
{
    char sci[32]; /* "-1.23457e+123" */
    char mant[32];
    char dig[SIG_DIGITS];
    const char *prefix = "";
    const char *ep;
    const char *p;
    int nd;
    int neg;
    int e;
    int eng = 0;
    size_t i;

    assert(unit);
    if (isnan(v)) { /* printed for logs; the parser refuses them */
        return snprintf(buf, cap, "nan%s%s", *unit ? " " : "", unit);
    }
    if (isinf(v)) {
        return snprintf(buf, cap, "%sinf%s%s", v < 0 ? "-" : "", *unit ? " " : "", unit);
    }
    if (v == 0) {
        v = 0; /* -0 prints as 0 */
    }
    /* Round to SIG_DIGITS first, then pick the prefix from the rounded
     * exponent: 999999.7 V is "1 MV", not "1000 kV". */
    snprintf(sci, sizeof(sci), "%.*e", SIG_DIGITS - 1, v);
    neg = sci[0] == '-';
    ep = strchr(sci, 'e');
    assert(ep);
    e = (int) strtol(ep + 1, NULL, 10);
    /* The digits, skipping the radix character: that is the locale's, and
     * not always one byte. */
    for (p = sci, nd = 0; p < ep && nd < SIG_DIGITS; p++) {
        if (is_digit(*p)) {
            dig[nd++] = *p;
        }
    }
    assert(nd == SIG_DIGITS);
    if (*unit && strcmp(unit, "%") != 0) { /* engineering prefix, clamped */
        eng = e >= 0 ? e / 3 * 3 : -((-e + 2) / 3 * 3);
        eng = eng < -12 ? -12 : eng > 9 ? 9 : eng;
        for (i = 0; i < ARRAY_LEN(prefixes); i++) {
            if (prefixes[i].p10 == eng) {
                prefix = prefixes[i].name; /* the first: "u" before the micro sign */
                break;
            }
        }
    }
    render_mantissa(mant, sizeof(mant), neg, dig, e - eng);
    return snprintf(buf, cap, "%s%s%s%s", mant, (*unit || *prefix) ? " " : "", prefix,
                    unit);
}

const char *units_expected_duration(void)
{
    return "a duration like 200ms, 1.5s, 10min or 1h (units ns, us, ms, s, min, h, d)";
}

const char *units_expected_size(void)
{
    return "a size like 512MB, 64KiB or 4096 (bytes); kB, MB, GB, TB are powers of "
           "1000, KiB, MiB, GiB, TiB powers of 1024";
}
