/* test_comtrade_write.c - the COMTRADE writer (pq/comtrade_write.c): every
 * format written and read back by our reader (pq/comtrade.c) within the
 * stated quantisation bound, the .cfg checked line by line against the
 * clauses of reference section 9.1 (C37.111-2013 7.4.2 .. 7.4.12) and the
 * .dat record sizes and layout against 9.2 and test case T21.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pq/comtrade.h"
#include "pq/comtrade_write.h"
#include "pq/err.h"

#define CFG_CAP   ((size_t) 64 * 1024)
#define DAT_CAP   ((size_t) 1024 * 1024)
#define MAX_LINES 64
#define LINE_MAX  512
#define NA        4
#define ND        17
#define NS        500
#define FS        6400.0

/* 2026-03-04 05:06:07.123456789 UTC */
#define START_NS (1772600767LL * 1000000000LL + 123456789LL)

static uint8_t cfg_buf[CFG_CAP], dat_buf[DAT_CAP];
static float frames[NS * NA];
static uint16_t status[NS * 2];

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.17g, want %.17g +- %g", got, want, tol);
    }
}

static const struct pq_ct_analog_desc analog[NA] = {
    {"UA", "A", "feeder 1", "V", 0, 20000, 100, 'P', 0, 0},
    {"IA", "A", "feeder 1", "A", 12.5, 400, 5, 'S', 0, 0},
    {"UDC", "", "bus", "V", 0, 0, 0, 0, 0, 0},
    {"K", "N", "", "", 0, 0, 0, 'P', 0, 0},
};

static const char *const status_ids[ND] = {"S1",  "S2",  "S3",  "S4",  "S5",  "S6",
                                           "S7",  "S8",  "S9",  "S10", "S11", "S12",
                                           "S13", "S14", "S15", "S16", "TRIG"};

static struct pq_ct_status_desc status_desc[ND];

/* The signal of the round trips: a sine, a current with one missing
 * sample (PS 'S'), a DC level with a small ripple, a constant. */
static void make_signal(void)
{
    size_t i, j;

    for (i = 0; i < NS; i++) {
        double t = (double) i / FS;

        frames[i * NA + 0] = (float) (230 * sqrt(2) * sin(2 * M_PI * 50 * t) + 0.37);
        frames[i * NA + 1] = (float) (100 * sqrt(2) * sin(2 * M_PI * 50 * t - 0.5));
        frames[i * NA + 2] = (float) (1000 + 3 * sin(2 * M_PI * 150 * t));
        frames[i * NA + 3] = 42.5f;
        status[i * 2] = 0;
        status[i * 2 + 1] = 0;
        for (j = 0; j < ND; j++) {
            unsigned bit = (unsigned) ((i >> (j % 5)) & 1) ^ (unsigned) (j / 5 & 1);

            status[i * 2 + j / 16] |= (uint16_t) (bit << (j % 16));
        }
    }
    frames[7 * NA + 1] = NAN;
    for (j = 0; j < ND; j++) {
        status_desc[j] = (struct pq_ct_status_desc){status_ids[j], "", "", (int) (j & 1)};
    }
}

static struct pq_ct_desc base_desc(int rev, int format)
{
    struct pq_ct_desc d = {
        .station = "SUB 7",
        .device = "pqgate-1",
        .rev_year = rev,
        .format = format,
        .n_analog = NA,
        .analog = analog,
        .n_status = ND,
        .status = status_desc,
        .line_freq_hz = 50,
        .rate_hz = FS,
        .nsamples = NS,
        .start_ns = START_NS,
        .trigger_ns = START_NS + 20000000,
        .time_code_min = 60,
        .local_code_min = 90,
        .tmq = 10,
        .leapsec = 3,
    };

    make_signal();
    return d;
}

/* Write d with the signal; the .cfg and .dat land in cfg_buf/dat_buf. */
static void write_files(const struct pq_ct_desc *d, struct pq_ct_buf *cb,
                        struct pq_ct_buf *db)
{
    char err[256] = "";
    int rc;

    *cb = (struct pq_ct_buf){cfg_buf, CFG_CAP, 0};
    *db = (struct pq_ct_buf){dat_buf, DAT_CAP, 0};
    rc = pq_ct_write(d, frames, status, pq_ct_buf_sink, cb, pq_ct_buf_sink, db, err,
                     sizeof(err));
    if (rc != 0) {
        fail_msg("pq_ct_write: %d %s", rc, err);
    }
}

static struct pq_comtrade *read_back(const struct pq_ct_buf *cb,
                                     const struct pq_ct_buf *db)
{
    struct pq_comtrade *ct = NULL;
    char err[512] = "";
    int rc =
        pq_comtrade_parse("w.cfg", cb->p, cb->len, db->p, db->len, &ct, err, sizeof(err));

    if (rc != 0) {
        fail_msg("our reader refused the file: %s", err);
    }
    return ct;
}

/* Split the .cfg into lines, checking every one ends in CR LF. */
static size_t split_lines(const struct pq_ct_buf *cb, char lines[][LINE_MAX])
{
    size_t n = 0, i = 0;

    while (i < cb->len) {
        const uint8_t *crlf = memchr(cb->p + i, '\r', cb->len - i);
        size_t len;

        assert_non_null(crlf);
        len = (size_t) (crlf - (cb->p + i));
        assert_true(crlf + 1 < cb->p + cb->len && crlf[1] == '\n');
        assert_null(memchr(cb->p + i, '\n', len)); /* no bare LF */
        assert_true(len < LINE_MAX && n < MAX_LINES);
        memcpy(lines[n], cb->p + i, len);
        lines[n][len] = '\0';
        n++;
        i += len + 2;
    }
    return n;
}

/* Fields of a line (commas; empty fields kept). */
static size_t split_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;

    for (;;) {
        char *c = strchr(p, ',');

        assert_true(n < max);
        f[n++] = p;
        if (!c) {
            return n;
        }
        *c = '\0';
        p = c + 1;
    }
}

static int is_number(const char *s)
{
    char *end;

    if (!*s) {
        return 0;
    }
    (void) strtod(s, &end);
    return *end == '\0';
}

/* ---- the .cfg, line by line (reference 9.1) ------------------------------ */

static void test_ct_write_2013_cfg_lines_follow_the_clauses(void **state)
{
    struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY);
    static char lines[MAX_LINES][LINE_MAX];
    struct pq_ct_buf cb, db;
    char *f[16];
    size_t n, i, k;

    (void) state;
    write_files(&d, &cb, &db);
    n = split_lines(&cb, lines);
    /* 2 + nA + nD + lf, nrates, 1 rate, 2 times, ft, timemult, 2 lines */
    assert_int_equal(n, 2 + NA + ND + 9);
    /* 7.4.2: station_name,rec_dev_id,rev_year */
    assert_string_equal(lines[0], "SUB 7,pqgate-1,2013");
    /* 7.4.3: TT,##A,##D with the mandatory suffixes */
    assert_string_equal(lines[1], "21,4A,17D");
    /* 7.4.4: 13 fields each */
    for (k = 0; k < NA; k++) {
        char want_an[16];

        assert_int_equal(split_fields(lines[2 + k], f, 16), 13);
        snprintf(want_an, sizeof(want_an), "%zu", k + 1);
        assert_string_equal(f[0], want_an);
        assert_string_equal(f[1], analog[k].id);
        assert_string_equal(f[2], analog[k].ph);
        assert_string_equal(f[3], analog[k].ccbm);
        assert_string_equal(f[4], analog[k].unit);
        for (i = 5; i <= 11; i++) {
            assert_true(is_number(f[i]));
        }
        assert_true(strtod(f[5], NULL) != 0); /* a */
        snprintf(want_an, sizeof(want_an), "%g", analog[k].skew_us);
        assert_string_equal(f[7], want_an);  /* skew, us */
        assert_string_equal(f[8], "-32767"); /* min, max: the legal raw range */
        assert_string_equal(f[9], "32767");
        /* primary, secondary (none given: 1 and 1) */
        assert_close(strtod(f[10], NULL), analog[k].primary > 0 ? analog[k].primary : 1,
                     0);
        assert_close(strtod(f[11], NULL),
                     analog[k].secondary > 0 ? analog[k].secondary : 1, 0);
        assert_string_equal(f[12], analog[k].ps == 'S' ? "S" : "P");
    }
    /* 7.4.5: Dn,ch_id,ph,ccbm,y */
    for (k = 0; k < ND; k++) {
        char want[64];

        snprintf(want, sizeof(want), "%zu,%s,,,%d", k + 1, status_ids[k], (int) (k & 1));
        assert_string_equal(lines[2 + NA + k], want);
    }
    i = 2 + NA + ND;
    assert_string_equal(lines[i++], "50");       /* 7.4.6 lf */
    assert_string_equal(lines[i++], "1");        /* 7.4.7 nrates */
    assert_string_equal(lines[i++], "6400,500"); /* samp,endsamp */
    /* 7.4.8: recorded time = UTC + time_code (+1 h); 9 digits: ns base */
    assert_string_equal(lines[i++], "04/03/2026,06:06:07.123456789");
    assert_string_equal(lines[i++], "04/03/2026,06:06:07.143456789");
    assert_string_equal(lines[i++], "BINARY");   /* 7.4.9 ft */
    assert_string_equal(lines[i++], "1");        /* 7.4.10 timemult */
    assert_string_equal(lines[i++], "+1,+1h30"); /* 7.4.11 time_code,local_code */
    assert_string_equal(lines[i++], "A,3");      /* 7.4.12 tmq_code,leapsec */
    assert_int_equal(i, n);
    assert_int_equal(db.len, NS * pq_ct_record_size(PQ_CT_BINARY, NA, ND));
}

static void test_ct_write_1999_cfg_has_no_2013_lines_and_us_times(void **state)
{
    struct pq_ct_desc d = base_desc(1999, PQ_CT_ASCII);
    static char lines[MAX_LINES][LINE_MAX];
    struct pq_ct_buf cb, db;
    struct pq_comtrade *ct;
    char *f[16];
    size_t n;

    (void) state;
    d.time_code_min = 0;
    write_files(&d, &cb, &db);
    n = split_lines(&cb, lines);
    assert_int_equal(n, 2 + NA + ND + 7);
    assert_string_equal(lines[0], "SUB 7,pqgate-1,1999");
    split_fields(lines[2], f, 16);
    assert_string_equal(f[8], "-99998"); /* 99999 is the 1999 missing value */
    assert_string_equal(f[9], "99998");
    /* 6 digits: rounded to the microsecond */
    assert_string_equal(lines[2 + NA + ND + 3], "04/03/2026,05:06:07.123457");
    assert_string_equal(lines[2 + NA + ND + 4], "04/03/2026,05:06:07.143457");
    assert_string_equal(lines[2 + NA + ND + 5], "ASCII");
    assert_string_equal(lines[n - 1], "1");
    ct = read_back(&cb, &db);
    assert_int_equal(ct->rev_year, 1999);
    assert_int_equal(ct->tmq, -1);
    assert_int_equal(ct->start_ns, START_NS - 789 + 1000);
    pq_comtrade_free(ct);
}

static void test_ct_write_time_codes_take_the_reference_forms(void **state)
{
    static const struct {
        int tc, lc;
        const char *line;
    } cases[] = {
        {-240, -240, "-4,-4"},
        {0, 630, "0,+10h30"},
        {-435, 0, "-7h15,0"},
        {-30, 45, "-0h30,+0h45"},
    };

    static char lines[MAX_LINES][LINE_MAX];
    struct pq_ct_buf cb, db;
    size_t i, n;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY);
        struct pq_comtrade *ct;

        d.time_code_min = cases[i].tc;
        d.local_code_min = cases[i].lc;
        write_files(&d, &cb, &db);
        n = split_lines(&cb, lines);
        assert_string_equal(lines[n - 2], cases[i].line);
        ct = read_back(&cb, &db);
        assert_int_equal(ct->time_code_min, cases[i].tc);
        assert_int_equal(ct->local_code_min, cases[i].lc);
        assert_int_equal(ct->start_ns, START_NS); /* back in UTC */
        pq_comtrade_free(ct);
    }
}

static void test_ct_write_fraction_digits_follow_the_times(void **state)
{
    static char lines[MAX_LINES][LINE_MAX];
    struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY);
    struct pq_ct_buf cb, db;
    size_t n;

    (void) state;
    d.start_ns = START_NS - 789; /* whole microseconds */
    d.trigger_ns = d.start_ns + 20000000;
    write_files(&d, &cb, &db);
    n = split_lines(&cb, lines);
    assert_string_equal(lines[n - 6], "04/03/2026,06:06:07.123456");
    d.ns_base = 1;
    write_files(&d, &cb, &db);
    n = split_lines(&cb, lines);
    assert_string_equal(lines[n - 6], "04/03/2026,06:06:07.123456000");
    d.ns_base = 0;
    d.trigger_ns += 1; /* one time needs ns: both get 9 digits */
    write_files(&d, &cb, &db);
    n = split_lines(&cb, lines);
    assert_string_equal(lines[n - 6], "04/03/2026,06:06:07.123456000");
    assert_string_equal(lines[n - 5], "04/03/2026,06:06:07.143456001");
}

static void test_ct_write_cfg_numbers_read_back_as_the_same_doubles(void **state)
{
    static char lines[MAX_LINES][LINE_MAX];
    struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY32);
    struct pq_ct_writer *w = NULL;
    struct pq_ct_buf cb = {cfg_buf, CFG_CAP, 0};
    struct pq_ct_scale sc;
    char *f[16];
    size_t k;

    (void) state;
    assert_int_equal(pq_ct_writer_new(&d, &w, NULL, 0), 0);
    pq_ct_writer_scan(w, frames, NS);
    assert_int_equal(pq_ct_writer_cfg(w, pq_ct_buf_sink, &cb), 0);
    split_lines(&cb, lines);
    for (k = 0; k < NA; k++) {
        assert_int_equal(pq_ct_writer_scale(w, k, &sc), 0);
        split_fields(lines[2 + k], f, 16);
        assert_true(strtod(f[5], NULL) == sc.a);
        assert_true(strtod(f[6], NULL) == sc.b);
        assert_true(strlen(f[5]) <= 32 && strlen(f[6]) <= 32);
        assert_string_equal(f[8], "-2147483647");
        assert_string_equal(f[9], "2147483647");
    }
    assert_int_equal(pq_ct_writer_scale(w, NA, &sc), -EINVAL);
    pq_ct_writer_free(w);
}

/* ---- round trips ----------------------------------------------------------- */

/* Write d, read it back, compare everything. */
static void round_trip(int rev, int format)
{
    struct pq_ct_desc d = base_desc(rev, format);
    struct pq_ct_scale sc[NA];
    struct pq_ct_writer *w = NULL;
    struct pq_ct_buf cb = {cfg_buf, CFG_CAP, 0}, db = {dat_buf, DAT_CAP, 0};
    struct pq_comtrade *ct;
    size_t i, k;

    if (rev == 1999) {
        d.time_code_min = 0;
        d.start_ns -= 789;
        d.trigger_ns -= 789;
    }
    assert_int_equal(pq_ct_writer_new(&d, &w, NULL, 0), 0);
    pq_ct_writer_scan(w, frames, NS);
    assert_int_equal(pq_ct_writer_cfg(w, pq_ct_buf_sink, &cb), 0);
    assert_int_equal(pq_ct_writer_dat(w, frames, status, NS, pq_ct_buf_sink, &db), 0);
    assert_int_equal(pq_ct_writer_finish(w), 0);
    assert_int_equal(pq_ct_writer_clipped(w), 0);
    for (k = 0; k < NA; k++) {
        assert_int_equal(pq_ct_writer_scale(w, k, &sc[k]), 0);
    }
    pq_ct_writer_free(w);
    ct = read_back(&cb, &db);
    assert_string_equal(ct->station, "SUB 7");
    assert_string_equal(ct->device, "pqgate-1");
    assert_int_equal(ct->rev_year, rev);
    assert_int_equal(ct->format, format);
    assert_int_equal(ct->n_analog, NA);
    assert_int_equal(ct->n_status, ND);
    assert_int_equal(ct->nsamples, NS);
    assert_int_equal(ct->nrates, 1);
    assert_close(ct->rates[0].rate_hz, FS, 0);
    assert_close(ct->line_freq_hz, 50, 0);
    assert_int_equal(ct->start_ns, d.start_ns);
    assert_int_equal(ct->trigger_ns, d.trigger_ns);
    if (rev == 2013) {
        assert_int_equal(ct->time_code_min, 60);
        assert_int_equal(ct->local_code_min, 90);
        assert_int_equal(ct->tmq, 10);
        assert_int_equal(ct->leapsec, 3);
    }
    for (k = 0; k < NA; k++) {
        const struct pq_ct_analog *a = &ct->analog[k];

        assert_string_equal(a->id, analog[k].id);
        assert_string_equal(a->ph, analog[k].ph);
        assert_string_equal(a->ccbm, analog[k].ccbm);
        assert_string_equal(a->unit, analog[k].unit);
        assert_int_equal(a->ps, analog[k].ps == 'S' ? 'S' : 'P');
        assert_close(a->primary, analog[k].primary > 0 ? analog[k].primary : 1, 0);
        assert_close(a->secondary, analog[k].secondary > 0 ? analog[k].secondary : 1, 0);
        assert_close(a->skew_s, analog[k].skew_us * 1e-6, 1e-18);
        assert_true(a->a == sc[k].a && a->b == sc[k].b);
    }
    for (i = 0; i < NS; i++) {
        assert_close(ct->t_s[i], (double) i / FS, 1e-12);
        for (k = 0; k < NA; k++) {
            double want = frames[i * NA + k];
            double got = ct->data[i * NA + k];

            if (isnan(want)) {
                assert_true(isnan(got));
                continue;
            }
            if (!(fabs(got - want) <=
                  sc[k].err_bound * (1 + 1e-9) + 1e-12 * fabs(want))) {
                fail_msg("%s rev %d, sample %zu, channel %zu: got %.17g, want %.17g, "
                         "bound %g",
                         pq_comtrade_format_name(format), rev, i, k, got, want,
                         sc[k].err_bound);
            }
            /* the real formats give the very float back (PS 'P') */
            if ((format == PQ_CT_FLOAT32 || (format == PQ_CT_ASCII && rev == 2013)) &&
                analog[k].ps != 'S') {
                assert_true((float) got == (float) want);
            }
        }
        for (k = 0; k < ND; k++) {
            int want = (status[i * 2 + k / 16] >> (k % 16)) & 1;

            assert_int_equal(pq_comtrade_status_bit(ct, i, k), want);
        }
    }
    pq_comtrade_free(ct);
}

static void test_ct_write_round_trip_2013_binary(void **state)
{
    (void) state;
    round_trip(2013, PQ_CT_BINARY);
}

static void test_ct_write_round_trip_2013_binary32(void **state)
{
    (void) state;
    round_trip(2013, PQ_CT_BINARY32);
}

static void test_ct_write_round_trip_2013_float32(void **state)
{
    (void) state;
    round_trip(2013, PQ_CT_FLOAT32);
}

static void test_ct_write_round_trip_2013_ascii(void **state)
{
    (void) state;
    round_trip(2013, PQ_CT_ASCII);
}

static void test_ct_write_round_trip_1999_binary(void **state)
{
    (void) state;
    round_trip(1999, PQ_CT_BINARY);
}

static void test_ct_write_round_trip_1999_ascii(void **state)
{
    (void) state;
    round_trip(1999, PQ_CT_ASCII);
}

/* ---- quantisation ------------------------------------------------------------ */

static void test_ct_write_integer_scales_span_the_range_and_meet_the_bound(void **state)
{
    static const struct {
        int rev, format;
        double r;
    } cases[] = {
        {2013, PQ_CT_BINARY, 32767},
        {2013, PQ_CT_BINARY32, 2147483647},
        {1999, PQ_CT_ASCII, 99998},
    };

    size_t i, k, s;

    (void) state;
    for (i = 0; i < 3; i++) {
        struct pq_ct_desc d = base_desc(cases[i].rev, cases[i].format);
        struct pq_ct_writer *w = NULL;
        struct pq_ct_buf cb = {cfg_buf, CFG_CAP, 0}, db = {dat_buf, DAT_CAP, 0};
        struct pq_comtrade *ct;
        struct pq_ct_scale sc;
        double lo = INFINITY, hi = -INFINITY, worst = 0;

        d.time_code_min = 0;
        assert_int_equal(pq_ct_writer_new(&d, &w, NULL, 0), 0);
        pq_ct_writer_scan(w, frames, NS);
        assert_int_equal(pq_ct_writer_scale(w, 0, &sc), 0);
        for (s = 0; s < NS; s++) {
            lo = fmin(lo, frames[s * NA]);
            hi = fmax(hi, frames[s * NA]);
        }
        /* the data span maps onto -R..R: a = span / 2R, b = mid-range */
        assert_close(sc.a, (hi - lo) / (2 * cases[i].r), 1e-12 * (hi - lo));
        assert_close(sc.b, (hi + lo) / 2, 1e-12 * hi);
        assert_close(sc.err_bound, (hi - lo) / (4 * cases[i].r), 1e-12 * (hi - lo));
        assert_int_equal(pq_ct_writer_cfg(w, pq_ct_buf_sink, &cb), 0);
        assert_int_equal(pq_ct_writer_dat(w, frames, status, NS, pq_ct_buf_sink, &db), 0);
        pq_ct_writer_free(w);
        ct = read_back(&cb, &db);
        for (s = 0; s < NS; s++) {
            worst = fmax(worst, fabs(ct->data[s * NA] - frames[s * NA]));
        }
        /* met, and not loose (a sine's samples hit every rounding error) */
        assert_true(worst <= sc.err_bound * (1 + 1e-9));
        if (cases[i].format != PQ_CT_BINARY32) {
            assert_true(worst >= 0.5 * sc.err_bound);
        }
        /* the constant channel is exact, the 'S' channel's bound is primary */
        for (s = 0; s < NS; s++) {
            assert_true(ct->data[s * NA + 3] == 42.5);
        }
        pq_comtrade_free(ct);
        (void) k;
    }
}

static void test_ct_write_values_outside_the_scanned_range_are_clamped(void **state)
{
    struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY);
    struct pq_ct_writer *w = NULL;
    struct pq_ct_buf cb = {cfg_buf, CFG_CAP, 0}, db = {dat_buf, DAT_CAP, 0};
    struct pq_comtrade *ct;
    struct pq_ct_scale sc;

    (void) state;
    assert_int_equal(pq_ct_writer_new(&d, &w, NULL, 0), 0);
    pq_ct_writer_scan(w, frames, 128); /* only the first cycle */
    frames[300 * NA + 2] = 2000;       /* far above what was scanned */
    frames[301 * NA + 2] = -50;
    assert_int_equal(pq_ct_writer_cfg(w, pq_ct_buf_sink, &cb), 0);
    pq_ct_writer_scan(w, frames, NS); /* too late: changes nothing */
    assert_int_equal(pq_ct_writer_dat(w, frames, status, NS, pq_ct_buf_sink, &db), 0);
    assert_int_equal(pq_ct_writer_clipped(w), 2);
    assert_int_equal(pq_ct_writer_scale(w, 2, &sc), 0);
    pq_ct_writer_free(w);
    ct = read_back(&cb, &db);
    assert_close(ct->data[300 * NA + 2], sc.a * 32767 + sc.b, 1e-9);
    assert_close(ct->data[301 * NA + 2], sc.a * -32767 + sc.b, 1e-9);
    pq_comtrade_free(ct);
}

/* ---- the .dat: sizes and layout (reference 9.2, T21) --------------------- */

static void test_ct_write_t21_record_sizes_per_format(void **state)
{
    static const struct pq_ct_analog_desc a4[4] = {
        {"A1", "", "", "V", 0, 0, 0, 0, 0, 0},
        {"A2", "", "", "V", 0, 0, 0, 0, 0, 0},
        {"A3", "", "", "V", 0, 0, 0, 0, 0, 0},
        {"A4", "", "", "V", 0, 0, 0, 0, 0, 0},
    };

    static const struct {
        int format;
        size_t na, nd, rec;
    } cases[] = {
        {PQ_CT_BINARY, 2, 2, 14},
        {PQ_CT_BINARY, 4, 16, 18},
        {PQ_CT_BINARY32, 4, 16, 26},
        {PQ_CT_FLOAT32, 4, 16, 26},
    };

    size_t i;

    (void) state;
    make_signal();
    for (i = 0; i < 4; i++) {
        struct pq_ct_desc d = {
            .station = "T21",
            .device = "w",
            .format = cases[i].format,
            .n_analog = cases[i].na,
            .analog = a4,
            .n_status = cases[i].nd,
            .status = status_desc,
            .line_freq_hz = 50,
            .rate_hz = 6400,
            .nsamples = 256,
            .start_ns = START_NS - 789, /* whole us: us base */
            .trigger_ns = START_NS - 789 + 10000000,
        };
        struct pq_ct_buf cb = {cfg_buf, CFG_CAP, 0}, db = {dat_buf, DAT_CAP, 0};
        static float f4[256 * 4];
        struct pq_comtrade *ct;
        uint32_t n5, ts5;

        assert_int_equal(pq_ct_record_size(cases[i].format, cases[i].na, cases[i].nd),
                         cases[i].rec);
        assert_int_equal(pq_ct_write(&d, f4, status, pq_ct_buf_sink, &cb, pq_ct_buf_sink,
                                     &db, NULL, 0),
                         0);
        assert_int_equal(db.len, 256 * cases[i].rec);
        /* sample 5: n = 5 and 0.625 ms in microseconds, little-endian */
        memcpy(&n5, dat_buf + 4 * cases[i].rec, 4);
        memcpy(&ts5, dat_buf + 4 * cases[i].rec + 4, 4);
        assert_int_equal(n5, 5);
        assert_int_equal(ts5, 625);
        ct = read_back(&cb, &db);
        assert_close(ct->t_s[4], 0.000625, 1e-12);
        assert_close((double) (ct->trigger_ns - ct->start_ns) * 1e-9, 0.010, 1e-12);
        pq_comtrade_free(ct);
    }
    assert_int_equal(pq_ct_record_size(PQ_CT_ASCII, 4, 16), 0);
}

static void
test_ct_write_binary_records_are_little_endian_with_missing_marks(void **state)
{
    static const struct pq_ct_analog_desc a2[2] = {
        {"X", "", "", "", 0, 0, 0, 'P', 1, 0}, /* a = 1, b = 0: raw = value */
        {"Y", "", "", "", 0, 0, 0, 'P', 0.5, 10},
    };
    static const struct pq_ct_status_desc s2[17];
    static const float f[2 * 2] = {1, -2, NAN, 10.5f};
    static const uint16_t st[2 * 2] = {0x8001, 0xffff, 0, 0};
    static const uint8_t want16[2][14] = {
        {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xe8, 0xff, 0x01, 0x80},
        {2, 0, 0, 0, 250, 0, 0, 0, 0x00, 0x80, 1, 0, 0, 0},
    };
    struct pq_ct_desc d = {.station = "L",
                           .device = "E",
                           .format = PQ_CT_BINARY,
                           .n_analog = 2,
                           .analog = a2,
                           .n_status = 17,
                           .status = s2,
                           .rate_hz = 4000,
                           .nsamples = 2,
                           .start_ns = START_NS - 789,
                           .trigger_ns = START_NS - 789};
    struct pq_ct_buf cb = {cfg_buf, CFG_CAP, 0}, db = {dat_buf, DAT_CAP, 0};
    struct pq_comtrade *ct;
    uint32_t u;

    (void) state;
    assert_int_equal(
        pq_ct_write(&d, f, st, pq_ct_buf_sink, &cb, pq_ct_buf_sink, &db, NULL, 0), 0);
    /* 8 + 2 x 2 + 2 x 2 = 16 bytes: status word 2 keeps only channel 17 */
    assert_int_equal(db.len, 32);
    assert_memory_equal(dat_buf, want16[0], 14);
    assert_int_equal(dat_buf[14] | dat_buf[15] << 8, 1);
    assert_memory_equal(dat_buf + 16, want16[1], 14);
    ct = read_back(&cb, &db);
    assert_true(isnan(ct->data[2]));
    assert_close(ct->data[3], 10.5, 0);
    assert_int_equal(pq_comtrade_status_bit(ct, 0, 15), 1);
    assert_int_equal(pq_comtrade_status_bit(ct, 0, 16), 1);
    pq_comtrade_free(ct);

    d.format = PQ_CT_BINARY32;
    cb.len = db.len = 0;
    assert_int_equal(
        pq_ct_write(&d, f, st, pq_ct_buf_sink, &cb, pq_ct_buf_sink, &db, NULL, 0), 0);
    assert_int_equal(db.len, 2 * (8 + 8 + 4));
    memcpy(&u, dat_buf + 20 + 8, 4);
    assert_int_equal(u, 0x80000000u);
    d.format = PQ_CT_FLOAT32;
    cb.len = db.len = 0;
    assert_int_equal(
        pq_ct_write(&d, f, st, pq_ct_buf_sink, &cb, pq_ct_buf_sink, &db, NULL, 0), 0);
    ct = read_back(&cb, &db);
    assert_true(isnan(ct->data[2]));
    assert_close(ct->data[1], -2, 0);
    pq_comtrade_free(ct);
}

static void test_ct_write_ascii_lines_hold_numbers_and_the_missing_mark(void **state)
{
    static const struct pq_ct_analog_desc a3[3] = {
        {"X", "", "", "", 0, 0, 0, 0, 0, 0},
        {"Y", "", "", "", 0, 0, 0, 0, 0, 0},
        {"Z", "", "", "", 0, 0, 0, 0, 0, 0},
    };
    static const struct pq_ct_status_desc s2[2] = {{"D1", "", "", 0}, {"D2", "", "", 1}};
    static const float f[2 * 3] = {0.1f, 99999.0f, NAN, -3.25f, 1e-20f, 7};
    static const uint16_t st[2] = {2, 1};
    struct pq_ct_desc d = {.station = "L",
                           .device = "E",
                           .format = PQ_CT_ASCII,
                           .n_analog = 3,
                           .analog = a3,
                           .n_status = 2,
                           .status = s2,
                           .rate_hz = 1000,
                           .nsamples = 2,
                           .start_ns = START_NS - 789,
                           .trigger_ns = START_NS - 789};
    struct pq_ct_buf cb = {cfg_buf, CFG_CAP, 0}, db = {dat_buf, DAT_CAP, 0};
    struct pq_comtrade *ct;
    char text[256];

    (void) state;
    assert_int_equal(
        pq_ct_write(&d, f, st, pq_ct_buf_sink, &cb, pq_ct_buf_sink, &db, NULL, 0), 0);
    assert_true(db.len < sizeof(text));
    memcpy(text, dat_buf, db.len);
    text[db.len] = '\0';
    /* n,timestamp (us),reals with 9 digits (clause 4.5),status CR LF; a
     * real 99999 moves one float step up, off the missing mark */
    assert_string_equal(text, "1,0,0.100000001,99999.0078,99999,0,1\r\n"
                              "2,1000,-3.25,9.99999968e-21,7,1,0\r\n");
    ct = read_back(&cb, &db);
    assert_true((float) ct->data[0] == 0.1f);
    assert_true(isnan(ct->data[2]));
    assert_true((float) ct->data[4] == 1e-20f);
    assert_int_equal(pq_comtrade_status_bit(ct, 0, 1), 1);
    pq_comtrade_free(ct);
}

/* ---- time base and timestamps -------------------------------------------------- */

static void test_ct_write_long_ns_recording_gets_a_timemult(void **state)
{
    /* 57.6 s at 25.6 kHz with a ns base: the timestamps need timemult 100
     * to fit 32 bits (the PM8000's 16 x 2880 at 512 spc's rate). */
    static const struct pq_ct_analog_desc a1 = {"U", "A", "", "V", 0, 0, 0, 0, 0, 0};
    const uint64_t n = 1474560;
    struct pq_ct_desc d = {.station = "L",
                           .device = "E",
                           .format = PQ_CT_BINARY,
                           .n_analog = 1,
                           .analog = &a1,
                           .rate_hz = 25600,
                           .line_freq_hz = 50,
                           .nsamples = n,
                           .start_ns = START_NS,
                           .trigger_ns = START_NS + 1000000000};
    struct pq_ct_writer *w = NULL;
    struct pq_ct_buf cb = {cfg_buf, CFG_CAP, 0};
    struct pq_ct_buf db;
    static char lines[MAX_LINES][LINE_MAX];
    struct pq_comtrade *ct;
    float *f = calloc(n, sizeof(float));
    uint32_t ts;
    char err[200];
    size_t nl;

    (void) state;
    assert_non_null(f);
    db = (struct pq_ct_buf){malloc(n * 10), n * 10, 0};
    assert_non_null(db.p);
    assert_int_equal(pq_ct_writer_new(&d, &w, err, sizeof(err)), 0);
    assert_close(pq_ct_writer_timemult(w), 100, 0);
    assert_int_equal(pq_ct_writer_cfg(w, pq_ct_buf_sink, &cb), 0);
    assert_int_equal(pq_ct_writer_dat(w, f, NULL, n, pq_ct_buf_sink, &db), 0);
    nl = split_lines(&cb, lines);
    assert_string_equal(lines[nl - 3], "100");
    memcpy(&ts, db.p + (n - 1) * 10 + 4, 4);
    /* (n - 1) / 25600 s in units of 100 ns */
    assert_int_equal(ts, (uint32_t) llround((double) (n - 1) / 25600 / 1e-7));
    pq_ct_writer_free(w);
    ct = read_back(&cb, &db);
    assert_close(ct->t_s[n - 1], (double) (n - 1) / 25600, 1e-9);
    pq_comtrade_free(ct);
    /* a timemult too small for the data is refused */
    d.timemult = 1;
    assert_int_equal(pq_ct_writer_new(&d, &w, err, sizeof(err)), -PQ_ECONFIG);
    assert_non_null(strstr(err, "timemult"));
    free(db.p);
    free(f);
}

static void test_ct_write_timestamps_agree_with_the_rate(void **state)
{
    struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY32);
    struct pq_ct_buf cb, db;
    size_t rec = pq_ct_record_size(PQ_CT_BINARY32, NA, ND), i;

    (void) state;
    d.rate_hz = 7000; /* 142.857... us: rounded to the ns base */
    write_files(&d, &cb, &db);
    for (i = 0; i < NS; i++) {
        uint32_t n, ts;

        memcpy(&n, dat_buf + i * rec, 4);
        memcpy(&ts, dat_buf + i * rec + 4, 4);
        assert_int_equal(n, i + 1);
        assert_close(ts * 1e-9, (double) i / 7000, 0.5e-9);
    }
}

/* ---- refusals and sinks ---------------------------------------------------------- */

static void test_ct_write_refuses_bad_descriptions_naming_the_field(void **state)
{
    static const struct pq_ct_analog_desc bad_ph = {"IA", "ABC", "", "A", 0,
                                                    0,    0,     0,  0,   0};
    static const struct pq_ct_analog_desc bad_ps = {"IA", "A", "",  "A", 0,
                                                    0,    0,   'X', 0,   0};
    static const struct pq_ct_analog_desc bad_ratio = {"IA", "A", "",  "A", 0,
                                                       0,    5,   'S', 0,   0};
    static const struct pq_ct_analog_desc bad_unit = {
        "IA", "A", "", "ampere-ampere-ampere-ampere-ampere", 0, 0, 0, 0, 0, 0};
    static const struct pq_ct_status_desc bad_y = {"D", "", "", 2};
    static const char *const want[] = {
        "station_name",
        "rec_dev_id",
        "analog channel 2 (IA): ph",
        "analog channel 2 (IA): PS",
        "primary, secondary",
        "uu",
        "status channel 1 (D): y",
        "ft: FLOAT32 needs",
        "endsamp",
        "samp",
        "tmq_code",
        "leapsec",
        "time_code",
        "local_code",
        "TT",
        "years 1900",
        "timemult",
        "rev_year",
        "lf",
    };
    struct pq_ct_analog_desc a2[2];
    struct pq_ct_writer *w = (struct pq_ct_writer *) &w;
    char err[256];
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY);

        memcpy(a2, analog, sizeof(a2));
        d.analog = a2;
        d.n_analog = 2;
        switch (i) {
        case 0:
            d.station = "A,B";
            break;
        case 1:
            d.device = "line\r\nbreak";
            break;
        case 2:
            a2[1] = bad_ph;
            break;
        case 3:
            a2[1] = bad_ps;
            break;
        case 4:
            a2[1] = bad_ratio;
            break;
        case 5:
            a2[1] = bad_unit;
            break;
        case 6:
            d.status = &bad_y;
            d.n_status = 1;
            break;
        case 7:
            d.rev_year = 1999;
            d.format = PQ_CT_FLOAT32;
            break;
        case 8:
            d.nsamples = 0;
            break;
        case 9:
            d.rate_hz = 0;
            break;
        case 10:
            d.tmq = 16;
            break;
        case 11:
            d.leapsec = 4;
            break;
        case 12:
            d.time_code_min = 24 * 60;
            break;
        case 13:
            d.local_code_min = -24 * 60;
            break;
        case 14:
            d.n_analog = 0;
            d.n_status = 0;
            break;
        case 15:
            d.start_ns = -3000000000LL * 1000000000LL;
            break;
        case 16:
            d.timemult = -1;
            break;
        case 17:
            d.rev_year = 2001;
            break;
        default:
            d.line_freq_hz = NAN;
            break;
        }
        err[0] = '\0';
        assert_int_equal(pq_ct_writer_new(&d, &w, err, sizeof(err)), -PQ_ECONFIG);
        if (!strstr(err, want[i])) {
            fail_msg("case %zu: '%s' does not name '%s'", i, err, want[i]);
        }
        assert_ptr_equal(w, (struct pq_ct_writer *) &w);
    }
    assert_int_equal(pq_ct_writer_new(&(struct pq_ct_desc){.station = "x,"}, &w, NULL, 0),
                     -PQ_ECONFIG);
    {
        struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY);

        d.trigger_ns = INT64_MAX; /* + time_code would overflow */
        assert_int_equal(pq_ct_writer_new(&d, &w, err, sizeof(err)), -PQ_ECONFIG);
        assert_non_null(strstr(err, "years 1900"));
    }
}

struct failing {
    int calls, fail_at;
};

static int failing_sink(void *ctx, const void *buf, size_t len)
{
    struct failing *f = ctx;

    (void) buf;
    (void) len;
    return ++f->calls == f->fail_at ? -EIO : 0;
}

static void test_ct_write_sink_errors_stop_the_writer(void **state)
{
    struct pq_ct_desc d = base_desc(2013, PQ_CT_BINARY);
    struct pq_ct_writer *w = NULL;
    struct failing fs = {0, 1};
    uint8_t small[100];
    struct pq_ct_buf sb = {small, sizeof(small), 0};

    (void) state;
    /* a caller buffer too small: -ENOSPC and nothing of the block written */
    assert_int_equal(pq_ct_writer_new(&d, &w, NULL, 0), 0);
    assert_int_equal(pq_ct_writer_cfg(w, pq_ct_buf_sink, &sb), -ENOSPC);
    assert_int_equal(sb.len, 0);
    assert_int_equal(pq_ct_writer_dat(w, frames, status, 1, pq_ct_buf_sink, &sb),
                     -ENOSPC);
    pq_ct_writer_free(w);
    /* a failing sink: its code, then again on every call */
    assert_int_equal(pq_ct_writer_new(&d, &w, NULL, 0), 0);
    assert_int_equal(pq_ct_writer_cfg(w, failing_sink, &fs), -EIO);
    assert_int_equal(pq_ct_writer_dat(w, frames, status, 1, failing_sink, &fs), -EIO);
    assert_int_equal(fs.calls, 1);
    assert_int_equal(pq_ct_writer_cfg(w, NULL, NULL), -EINVAL);
    pq_ct_writer_free(w);
    pq_ct_writer_free(NULL);
}

static void test_ct_write_in_chunks_equals_one_shot(void **state)
{
    struct pq_ct_desc d = base_desc(2013, PQ_CT_FLOAT32);
    static uint8_t one[DAT_CAP];
    struct pq_ct_buf cb, db, db2 = {one, sizeof(one), 0};
    struct pq_ct_writer *w = NULL;
    uint8_t scratch[16];
    struct pq_ct_buf sb = {scratch, sizeof(scratch), 0};
    size_t i;

    (void) state;
    write_files(&d, &cb, &db);
    assert_int_equal(pq_ct_writer_new(&d, &w, NULL, 0), 0);
    pq_ct_writer_scan(w, frames, NS);
    for (i = 0; i < NS; i += 7) {
        size_t m = NS - i < 7 ? NS - i : 7;

        assert_int_equal(pq_ct_writer_finish(w), -ERANGE);
        assert_int_equal(
            pq_ct_writer_dat(w, frames + i * NA, status + i * 2, m, pq_ct_buf_sink, &db2),
            0);
    }
    assert_int_equal(pq_ct_writer_finish(w), 0);
    assert_int_equal(pq_ct_writer_dat(w, frames, status, 1, pq_ct_buf_sink, &sb),
                     -ERANGE);
    assert_int_equal(sb.len, 0);
    pq_ct_writer_free(w);
    assert_int_equal(db2.len, db.len);
    assert_memory_equal(one, dat_buf, db.len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_write_2013_cfg_lines_follow_the_clauses),
        cmocka_unit_test(test_ct_write_1999_cfg_has_no_2013_lines_and_us_times),
        cmocka_unit_test(test_ct_write_time_codes_take_the_reference_forms),
        cmocka_unit_test(test_ct_write_fraction_digits_follow_the_times),
        cmocka_unit_test(test_ct_write_cfg_numbers_read_back_as_the_same_doubles),
        cmocka_unit_test(test_ct_write_round_trip_2013_binary),
        cmocka_unit_test(test_ct_write_round_trip_2013_binary32),
        cmocka_unit_test(test_ct_write_round_trip_2013_float32),
        cmocka_unit_test(test_ct_write_round_trip_2013_ascii),
        cmocka_unit_test(test_ct_write_round_trip_1999_binary),
        cmocka_unit_test(test_ct_write_round_trip_1999_ascii),
        cmocka_unit_test(test_ct_write_integer_scales_span_the_range_and_meet_the_bound),
        cmocka_unit_test(test_ct_write_values_outside_the_scanned_range_are_clamped),
        cmocka_unit_test(test_ct_write_t21_record_sizes_per_format),
        cmocka_unit_test(
            test_ct_write_binary_records_are_little_endian_with_missing_marks),
        cmocka_unit_test(test_ct_write_ascii_lines_hold_numbers_and_the_missing_mark),
        cmocka_unit_test(test_ct_write_long_ns_recording_gets_a_timemult),
        cmocka_unit_test(test_ct_write_timestamps_agree_with_the_rate),
        cmocka_unit_test(test_ct_write_refuses_bad_descriptions_naming_the_field),
        cmocka_unit_test(test_ct_write_sink_errors_stop_the_writer),
        cmocka_unit_test(test_ct_write_in_chunks_equals_one_shot),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
