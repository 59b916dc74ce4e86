/* test_comtrade.c - the COMTRADE parser (pq/comtrade.c) and its file loader
 * (drivers/adc/comtrade_load.c).
 *
 * Expected values of the shared samples (../shared/data/comtrade/, from
 * python-comtrade's test suite) were read independently: the ASCII files by
 * eye and the binary ones with Python's struct module, then scaled by hand
 * with the .cfg's a, b, primary and secondary.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "drivers/adc/comtrade_load.h"
#include "pq/comtrade.h"
#include "pq/err.h"

#define SAMPLES "../shared/data/comtrade/"

/* 2011-01-12 11:25:30 UTC: sample_ascii's 05:55:30 recorded at UTC-5:30 */
#define SAMPLE_ASCII_START_NS (1294831530LL * 1000000000LL + 75011000LL)

/* Values of sample_ascii scaled: (a * raw + b) * 933 / 1. */
#define ASCII_A 0.1138916015625
#define ASCII_B 0.05694580078125

static double ascii_v(double raw)
{
    return (raw * ASCII_A + ASCII_B) * 933.0;
}

static void assert_close(double got, double want, double tol)
{
    if (fabs(got - want) > tol) {
        fail_msg("got %.17g, want %.17g +- %g", got, want, tol);
    }
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (!f) {
        fail_msg("cannot open %s: %s", path, strerror(errno));
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t) n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
    fclose(f);
    *len = (size_t) n;
    return buf;
}

/* Parse a shared .cfg with an explicitly named .dat (some samples share one). */
static struct pq_comtrade *load_pair(const char *cfg_file, const char *dat_file)
{
    struct pq_comtrade *ct = NULL;
    char err[512];
    size_t cl, dl;
    uint8_t *cfg = read_all(cfg_file, &cl);
    uint8_t *dat = read_all(dat_file, &dl);
    int rc = pq_comtrade_parse_named(cfg_file, dat_file, cfg, cl, dat, dl, &ct, err,
                                     sizeof(err));

    free(cfg);
    free(dat);
    if (rc != 0) {
        fail_msg("%s: rc %d: %s", cfg_file, rc, err);
    }
    return ct;
}

static struct pq_comtrade *load_path(const char *path)
{
    struct pq_comtrade *ct = NULL;
    char err[512];
    int rc = comtrade_load(path, &ct, err, sizeof(err));

    if (rc != 0) {
        fail_msg("%s: rc %d: %s", path, rc, err);
    }
    return ct;
}

/* Parse text .cfg and a .dat of dat_len bytes as "rec.cfg"/"rec.dat". */
static int parse(const char *cfg, const void *dat, size_t dat_len,
                 struct pq_comtrade **ct, char *err, size_t errcap)
{
    return pq_comtrade_parse("rec.cfg", (const uint8_t *) cfg, strlen(cfg), dat, dat_len,
                             ct, err, errcap);
}

static struct pq_comtrade *parse_ok(const char *cfg, const void *dat, size_t dat_len)
{
    struct pq_comtrade *ct = NULL;
    char err[512];
    int rc = parse(cfg, dat, dat_len, &ct, err, sizeof(err));

    if (rc != 0) {
        fail_msg("rc %d: %s", rc, err);
    }
    return ct;
}

static void expect_error(const char *cfg, const void *dat, size_t dat_len,
                         const char *want)
{
    struct pq_comtrade *sentinel = (struct pq_comtrade *) &sentinel;
    struct pq_comtrade *ct = sentinel;
    char err[512];
    int rc = parse(cfg, dat, dat_len, &ct, err, sizeof(err));

    if (rc != -PQ_EFORMAT || strcmp(err, want) != 0) {
        fail_msg("rc %d\n  got:  %s\n  want: %s", rc, err, want);
    }
    assert_ptr_equal(ct, sentinel); /* *out untouched */
}

static void expect_cff_error(const char *cff, size_t len, const char *want)
{
    struct pq_comtrade *ct = NULL;
    char err[512];
    int rc =
        pq_comtrade_parse_cff("x.cff", (const uint8_t *) cff, len, &ct, err, sizeof(err));

    if (rc != -PQ_EFORMAT || strcmp(err, want) != 0) {
        fail_msg("rc %d\n  got:  %s\n  want: %s", rc, err, want);
    }
    assert_null(ct);
}

static double at(const struct pq_comtrade *ct, size_t i, size_t k)
{
    assert_true(i < ct->nsamples && k < ct->n_analog);
    return ct->data[i * ct->n_analog + k];
}

/* Same samples, times and status; NaN equals NaN. */
static void assert_same_samples(const struct pq_comtrade *a, const struct pq_comtrade *b,
                                double tol)
{
    size_t i, k, nw = pq_comtrade_status_words(a);

    assert_int_equal(a->nsamples, b->nsamples);
    assert_int_equal(a->n_analog, b->n_analog);
    assert_int_equal(a->n_status, b->n_status);
    for (i = 0; i < a->nsamples; i++) {
        assert_close(a->t_s[i], b->t_s[i], 1e-12);
        for (k = 0; k < a->n_analog; k++) {
            double x = at(a, i, k), y = at(b, i, k);

            if (isnan(x) || isnan(y)) {
                assert_true(isnan(x) && isnan(y));
            } else {
                assert_close(x, y, tol);
            }
        }
        for (k = 0; k < nw; k++) {
            assert_int_equal(a->status[i * nw + k], b->status[i * nw + k]);
        }
    }
}

/* Little-endian record builder for binary .dat files. */
struct bin {
    uint8_t b[8192];
    size_t n;
};

static void put16(struct bin *d, uint16_t v)
{
    assert_true(d->n + 2 <= sizeof(d->b));
    d->b[d->n++] = (uint8_t) v;
    d->b[d->n++] = (uint8_t) (v >> 8);
}

static void put32(struct bin *d, uint32_t v)
{
    put16(d, (uint16_t) v);
    put16(d, (uint16_t) (v >> 16));
}

static void putf(struct bin *d, float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof(u));
    put32(d, u);
}

static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;

    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
        size_t i;

        if (*p >= 0x80 && *p < 0xc2) {
            return 0;
        }
        for (i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
        }
        p += n;
    }
    return 1;
}

/* ---- the shared samples --------------------------------------------- */

static void
test_comtrade_sample_ascii_loads_4a_4d_at_1200_hz_with_scaled_values(void **state)
{
    struct pq_comtrade *ct;

    (void) state;
    ct = load_path(SAMPLES "sample_ascii.cfg");
    assert_string_equal(ct->station, "SMARTSTATION");
    assert_string_equal(ct->device, "IED123");
    assert_int_equal(ct->rev_year, 2013);
    assert_int_equal(ct->n_analog, 4);
    assert_int_equal(ct->n_status, 4);
    assert_string_equal(ct->analog[0].id, "IA"); /* "IA " trimmed */
    assert_string_equal(ct->analog[3].id, "3I0");
    assert_string_equal(ct->analog[0].unit, "A");
    assert_string_equal(ct->analog[0].ccbm, "Line123");
    assert_string_equal(ct->analog[0].ph, "");
    assert_int_equal(ct->analog[0].ps, 'S');
    assert_close(ct->analog[0].primary, 933, 0);
    assert_close(ct->analog[0].min, -32768, 0);
    assert_string_equal(ct->status_id[3], "51N");
    assert_close(ct->line_freq_hz, 60, 0);
    assert_int_equal(ct->nrates, 1);
    assert_close(ct->rates[0].rate_hz, 1200, 0);
    assert_int_equal(ct->rates[0].end_sample, 40);
    assert_int_equal(ct->format, PQ_CT_ASCII);
    assert_int_equal(ct->nsamples, 40);
    /* "-5h30,-5h30", "B,3" */
    assert_int_equal(ct->time_code_min, -330);
    assert_int_equal(ct->local_code_min, -330);
    assert_int_equal(ct->tmq, 11);
    assert_int_equal(ct->leapsec, 3);
    assert_int_equal(ct->start_ns, SAMPLE_ASCII_START_NS);
    assert_int_equal(ct->trigger_ns - ct->start_ns, 3250000); /* .078261 - .075011 */
    /* line 1: 1,72500,-83,68,7,-8,0,0,0,0; line 40: 40,105000,-169,41,18,-110,1,1,0,1 */
    assert_close(at(ct, 0, 0), ascii_v(-83), 1e-9);
    assert_close(at(ct, 0, 0), -8766.5213012695312, 1e-9);
    assert_close(at(ct, 0, 1), ascii_v(68), 1e-9);
    assert_close(at(ct, 0, 2), ascii_v(7), 1e-9);
    assert_close(at(ct, 0, 3), ascii_v(-8), 1e-9);
    assert_close(at(ct, 39, 0), ascii_v(-169), 1e-9);
    assert_close(at(ct, 39, 3), ascii_v(-110), 1e-9);
    assert_close(at(ct, 39, 3), -11635.564636230469, 1e-9);
    assert_close(ct->t_s[0], 0, 0);
    assert_close(ct->t_s[1], 1.0 / 1200, 1e-15);
    assert_close(ct->t_s[39], 39.0 / 1200, 1e-15);
    assert_close(pq_comtrade_rate_at(ct, 39), 1200, 0);
    /* status: line 10 all 0, line 11 "0,0,0,1", line 14 "1,1,0,1" */
    assert_int_equal(ct->status[9], 0);
    assert_int_equal(ct->status[10], 0x8);
    assert_int_equal(ct->status[13], 0xb);
    assert_int_equal(pq_comtrade_status_bit(ct, 13, 0), 1);
    assert_int_equal(pq_comtrade_status_bit(ct, 13, 2), 0);
    pq_comtrade_free(ct);
}

static void test_comtrade_sample_ascii_cff_equals_the_cfg_and_dat_pair(void **state)
{
    struct pq_comtrade *a, *b;

    (void) state;
    a = load_path(SAMPLES "sample_ascii.cfg");
    b = load_path(SAMPLES "sample_ascii.cff");
    assert_string_equal(b->station, "SMARTSTATION");
    assert_int_equal(b->rev_year, 2013);
    assert_int_equal(b->start_ns, a->start_ns);
    assert_int_equal(b->trigger_ns, a->trigger_ns);
    assert_int_equal(b->tmq, 11);
    assert_same_samples(a, b, 0);
    pq_comtrade_free(a);
    pq_comtrade_free(b);
}

static void test_comtrade_sample_ascii_missing_has_nan_where_99999(void **state)
{
    struct pq_comtrade *full, *ct;
    size_t i, k;

    (void) state;
    full = load_path(SAMPLES "sample_ascii.cfg");
    ct = load_pair(SAMPLES "sample_ascii.cfg", SAMPLES "sample_ascii_missing.dat");
    /* lines 2..5 have 99999 in channel 1, 2, 3, 4 in turn */
    for (i = 0; i < 40; i++) {
        for (k = 0; k < 4; k++) {
            if (i >= 1 && i <= 4 && k == i - 1) {
                assert_true(isnan(at(ct, i, k)));
            } else {
                assert_close(at(ct, i, k), at(full, i, k), 0);
            }
        }
    }
    pq_comtrade_free(full);
    pq_comtrade_free(ct);
}

static void test_comtrade_sample_utf8_cfg_keeps_its_utf8_station_name(void **state)
{
    struct pq_comtrade *full, *ct;

    (void) state;
    full = load_path(SAMPLES "sample_ascii.cfg");
    ct = load_pair(SAMPLES "sample_ascii_utf-8.cfg", SAMPLES "sample_ascii.dat");
    assert_string_equal(ct->station, "SMARTSTATION testing text encoding: hgvcj"
                                     "\xed\x84\xb0\xed\x8c\x8c\xed\x81\xac"
                                     "387");
    assert_string_equal(ct->device, "IED123");
    assert_same_samples(full, ct, 0);
    pq_comtrade_free(full);
    pq_comtrade_free(ct);
}

static void test_comtrade_sample_sub_char_cfg_ends_at_the_sub(void **state)
{
    struct pq_comtrade *full, *ct;

    (void) state;
    full = load_path(SAMPLES "sample_ascii.cfg");
    ct = load_pair(SAMPLES "sample_sub_char.cfg", SAMPLES "sample_ascii.dat");
    assert_int_equal(ct->tmq, 11); /* "B,3" then SUB characters */
    assert_int_equal(ct->leapsec, 3);
    assert_same_samples(full, ct, 0);
    pq_comtrade_free(full);
    pq_comtrade_free(ct);
}

static void test_comtrade_sample_bin_is_1999_binary_4a_16d_in_kv(void **state)
{
    static const double a[4] = {0.000361849, 0.000365758, 0.000371569, 0.000016493};
    /* struct.unpack('<IIhhhhH') of records 1 and 5 */
    static const int first[4] = {-24979, -3905, 27726, 12313};
    static const int last[4] = {-22790, -6248, 28109, 11072};
    struct pq_comtrade *ct;
    size_t k;

    (void) state;
    ct = load_path(SAMPLES "sample_bin.cfg");
    assert_int_equal(ct->rev_year, 1999);
    assert_string_equal(ct->station, "station");
    assert_int_equal(ct->format, PQ_CT_BINARY);
    assert_int_equal(ct->n_analog, 4);
    assert_int_equal(ct->n_status, 16);
    assert_int_equal(pq_comtrade_status_words(ct), 1);
    assert_string_equal(ct->analog[3].id, "VN");
    assert_string_equal(ct->analog[3].ph, "N");
    assert_string_equal(ct->analog[0].unit, "kV");
    assert_int_equal(ct->analog[0].ps, 'P');
    assert_string_equal(ct->status_id[15], "ST_16");
    assert_int_equal(ct->nsamples, 5);
    assert_close(ct->rates[0].rate_hz, 15360, 0);
    assert_close(ct->t_s[4], 4.0 / 15360, 1e-15);
    assert_int_equal(ct->tmq, -1); /* 1999: absent */
    assert_int_equal(ct->leapsec, -1);
    /* 07/01/2017,15:35:41.958268 is 7 January */
    assert_int_equal(ct->start_ns, 1483803341LL * 1000000000LL + 958268000LL);
    assert_int_equal(ct->trigger_ns - ct->start_ns, 65000);
    for (k = 0; k < 4; k++) {
        assert_close(at(ct, 0, k), first[k] * a[k], 1e-12);
        assert_close(at(ct, 4, k), last[k] * a[k], 1e-12);
    }
    assert_close(at(ct, 0, 0), -9.038626171, 1e-9);
    for (k = 0; k < 5; k++) {
        assert_int_equal(ct->status[k], 0);
    }
    pq_comtrade_free(ct);
}

static void test_comtrade_sample_bin_missing_has_nan_for_0x8000(void **state)
{
    struct pq_comtrade *full, *ct;
    size_t i, k;

    (void) state;
    full = load_path(SAMPLES "sample_bin.cfg");
    ct = load_pair(SAMPLES "sample_bin.cfg", SAMPLES "sample_bin_missing.dat");
    /* records 1..4 carry 0x8000 in channel 1..4 in turn; record 5 is complete */
    for (i = 0; i < 5; i++) {
        for (k = 0; k < 4; k++) {
            if (i < 4 && k == i) {
                assert_true(isnan(at(ct, i, k)));
            } else {
                assert_close(at(ct, i, k), at(full, i, k), 0);
            }
        }
    }
    pq_comtrade_free(full);
    pq_comtrade_free(ct);
}

static void test_comtrade_sample_float32_cff_has_301_samples_at_100_hz(void **state)
{
    struct pq_comtrade *ct;
    size_t i;

    (void) state;
    ct = load_path(SAMPLES "sample_float32.cff");
    assert_string_equal(ct->station, "EXAMPLE");
    assert_int_equal(ct->format, PQ_CT_FLOAT32); /* written "float32" */
    assert_int_equal(ct->n_analog, 1);
    assert_int_equal(ct->n_status, 1);
    assert_string_equal(ct->analog[0].id, "test/out1");
    assert_string_equal(ct->analog[0].unit, "none");
    assert_close(ct->analog[0].max, 3.40282347e38, 1e30);
    assert_string_equal(ct->status_id[0], "test/bool1");
    assert_close(ct->line_freq_hz, 0, 0);
    assert_int_equal(ct->nsamples, 301);
    assert_close(ct->rates[0].rate_hz, 100, 0);
    assert_close(ct->t_s[300], 3.0, 1e-12);
    /* 17/02/2021,17:37:12.422969065: nine digits, a ns time base */
    assert_int_equal(ct->start_ns, 1613583432LL * 1000000000LL + 422969065LL);
    assert_int_equal(ct->trigger_ns - ct->start_ns, 1500000000LL);
    assert_int_equal(ct->time_code_min, 0);
    assert_int_equal(ct->tmq, 0);
    assert_int_equal(ct->leapsec, 0);
    /* struct.unpack('<IIfH') of records 1, 100 and 301 */
    assert_close(at(ct, 0, 0), 2.8096930980682373, 1e-12);
    assert_close(at(ct, 99, 0), 11.654534339904785, 1e-12);
    assert_close(at(ct, 300, 0), 44.931446075439453, 1e-12);
    for (i = 0; i < 301; i++) {
        assert_int_equal(pq_comtrade_status_bit(ct, i, 0), 0);
    }
    pq_comtrade_free(ct);
}

static void test_comtrade_sample_iso8859_1_names_come_out_as_utf8(void **state)
{
    static const char *const files[] = {SAMPLES "sample_iso8859-1.cfg",
                                        SAMPLES "sample_iso8859-1_bin.cfg"};
    size_t f;

    (void) state;
    for (f = 0; f < 2; f++) {
        struct pq_comtrade *ct = load_path(files[f]);

        assert_string_equal(ct->station,
                            "Esta\xc3\xa7\xc3\xa3o de Medi\xc3\xa7\xc3\xa3o");
        assert_string_equal(ct->device, "Oscil\xc3\xb3grafo");
        assert_true(utf8_ok(ct->station) && utf8_ok(ct->device));
        pq_comtrade_free(ct);
    }
}

static void
test_comtrade_sample_iso8859_1_ascii_and_binary_agree_within_half_an_amp(void **state)
{
    struct pq_comtrade *asc, *bin;
    size_t i, k;

    (void) state;
    asc = load_path(SAMPLES "sample_iso8859-1.cfg");
    bin = load_path(SAMPLES "sample_iso8859-1_bin.cfg");
    assert_int_equal(bin->format, PQ_CT_BINARY);
    assert_close(bin->timemult, 0.00756699591875076, 0);
    assert_int_equal(asc->nsamples, 40);
    assert_int_equal(bin->nsamples, 40);
    /* The same recording: the binary one scaled finer (0.78 A per count
     * against 106 A); Python finds them 0.39 A apart at most. */
    for (i = 0; i < 40; i++) {
        assert_close(bin->t_s[i], asc->t_s[i], 1e-15);
        for (k = 0; k < 4; k++) {
            assert_close(at(bin, i, k), at(asc, i, k), 0.5);
        }
        assert_int_equal(bin->status[i], asc->status[i]);
    }
    /* record 1 of the binary file: raw -32767 ... scaled */
    assert_close(at(bin, 0, 0), -8766.3461834171212, 1e-8);
    assert_close(at(bin, 39, 1), 4410.1501590184971, 1e-8);
    assert_int_equal(bin->status[39], 0xb);
    pq_comtrade_free(asc);
    pq_comtrade_free(bin);
}

/* ---- the loader ------------------------------------------------------ */

static void test_comtrade_load_of_a_dat_finds_its_cfg(void **state)
{
    struct pq_comtrade *a, *b;

    (void) state;
    a = load_path(SAMPLES "sample_bin.dat");
    b = load_path(SAMPLES "sample_bin.cfg");
    assert_same_samples(a, b, 0);
    pq_comtrade_free(a);
    pq_comtrade_free(b);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

static const char mini_cfg[] = "mini,dev,1999\n"
                               "1,1A,0D\n"
                               "1,V,A,,V,1,0,0,-99999,99999,1,1,P\n"
                               "50\n"
                               "1\n"
                               "1000,2\n"
                               "01/01/2020,00:00:00.000000\n"
                               "01/01/2020,00:00:00.000000\n"
                               "ASCII\n"
                               "1\n";
static const char mini_dat[] = "1,0,5\n2,1000,6\n";

static void test_comtrade_load_finds_companions_in_any_letter_case(void **state)
{
    char dir[] = "/tmp/test_comtrade.XXXXXX";
    char path[512];
    struct pq_comtrade *ct;

    (void) state;
    assert_non_null(mkdtemp(dir));
    write_file(dir, "UP.CFG", mini_cfg, strlen(mini_cfg));
    write_file(dir, "UP.DAT", mini_dat, strlen(mini_dat));
    write_file(dir, "low.cfg", mini_cfg, strlen(mini_cfg));
    write_file(dir, "low.DAT", mini_dat, strlen(mini_dat));
    write_file(dir, "mix.Cfg", mini_cfg, strlen(mini_cfg));
    write_file(dir, "mix.dAt", mini_dat, strlen(mini_dat));
    snprintf(path, sizeof(path), "%s/UP.CFG", dir);
    ct = load_path(path);
    assert_close(at(ct, 1, 0), 6, 0);
    pq_comtrade_free(ct);
    snprintf(path, sizeof(path), "%s/low.cfg", dir); /* upper-case fallback */
    ct = load_path(path);
    pq_comtrade_free(ct);
    snprintf(path, sizeof(path), "%s/mix.Cfg", dir); /* found by scanning */
    ct = load_path(path);
    pq_comtrade_free(ct);
    snprintf(path, sizeof(path), "%s/mix.dAt", dir);
    ct = load_path(path);
    assert_close(at(ct, 0, 0), 5, 0);
    pq_comtrade_free(ct);
    remove_file(dir, "UP.CFG");
    remove_file(dir, "UP.DAT");
    remove_file(dir, "low.cfg");
    remove_file(dir, "low.DAT");
    remove_file(dir, "mix.Cfg");
    remove_file(dir, "mix.dAt");
    rmdir(dir);
}

static void test_comtrade_load_refuses_folders_long_paths_and_huge_files(void **state)
{
    char dir[] = "/tmp/test_comtrade.XXXXXX";
    char path[600], want[700], err[512], *longp;
    struct pq_comtrade *ct = NULL;
    FILE *f;

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/folder.cff", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(comtrade_load(path, &ct, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s: not a regular file", path);
    assert_string_equal(err, want);
    rmdir(path);

    snprintf(path, sizeof(path), "%s/big.cff", dir); /* sparse: takes no disk */
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t) COMTRADE_LOAD_MAX + 1), 0);
    fclose(f);
    assert_int_equal(comtrade_load(path, &ct, err, sizeof(err)), -EFBIG);
    snprintf(want, sizeof(want), "%s: %zu bytes, more than the limit of %zu", path,
             COMTRADE_LOAD_MAX + 1, COMTRADE_LOAD_MAX);
    assert_string_equal(err, want);
    unlink(path);
    rmdir(dir);

    longp = malloc(8192);
    assert_non_null(longp);
    memset(longp, 'a', 8191);
    longp[8191] = '\0';
    assert_int_equal(comtrade_load(longp, &ct, err, sizeof(err)), -ENAMETOOLONG);
    free(longp);
    assert_null(ct);
}

static void test_comtrade_load_errors_name_the_path(void **state)
{
    char dir[] = "/tmp/test_comtrade.XXXXXX";
    char path[512], want[600], err[512];
    struct pq_comtrade *ct = NULL;

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/none.cfg", dir);
    assert_int_equal(comtrade_load(path, &ct, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "%s: no .dat file beside it (%s/none.dat)", path, dir);
    assert_string_equal(err, want);

    write_file(dir, "only.dat", mini_dat, strlen(mini_dat));
    write_file(dir, "only.cfg", mini_cfg, strlen(mini_cfg));
    remove_file(dir, "only.dat");
    snprintf(path, sizeof(path), "%s/gone.cff", dir);
    assert_int_equal(comtrade_load(path, &ct, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);

    snprintf(path, sizeof(path), "%s/only.txt", dir);
    assert_int_equal(comtrade_load(path, &ct, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s: expected a .cfg, .dat or .cff file", path);
    assert_string_equal(err, want);

    /* a parse error names the .dat the loader found */
    write_file(dir, "bad.cfg", mini_cfg, strlen(mini_cfg));
    write_file(dir, "bad.dat", "1,0,x\n2,1,1\n", 12);
    snprintf(path, sizeof(path), "%s/bad.cfg", dir);
    assert_int_equal(comtrade_load(path, &ct, err, sizeof(err)), -PQ_EFORMAT);
    snprintf(want, sizeof(want),
             "%s/bad.dat:1: field 3 (analog channel 1, V): expected a number, got 'x'",
             dir);
    assert_string_equal(err, want);
    assert_null(ct);
    remove_file(dir, "only.cfg");
    remove_file(dir, "bad.cfg");
    remove_file(dir, "bad.dat");
    rmdir(dir);
}

/* ---- formats written here ------------------------------------------- */

static void test_comtrade_binary32_values_status_and_missing_marker(void **state)
{
    const char *cfg = "b32,dev,2013\n"
                      "5,2A,3D\n"
                      "1,U,A,,kV,0.001,0,0,-2147483647,2147483647,1,1,P\n"
                      "2,I,A,,A,0.5,-1,0,-2147483647,2147483647,1,1,P\n"
                      "1,S1,,,0\n"
                      "2,S2,,,0\n"
                      "3,S3,,,1\n"
                      "50\n"
                      "1\n"
                      "1000,3\n"
                      "01/01/2020,00:00:00.000000\n"
                      "01/01/2020,00:00:00.000000\n"
                      "binary32\n"
                      "1\n";
    struct bin d = {.n = 0};
    struct pq_comtrade *ct;

    (void) state;
    put32(&d, 1);
    put32(&d, 0);
    put32(&d, 230000);
    put32(&d, (uint32_t) -7);
    put16(&d, 5);
    put32(&d, 2);
    put32(&d, 1000);
    put32(&d, (uint32_t) -2147483647);
    put32(&d, 0x80000000u);
    put16(&d, 2);
    put32(&d, 3);
    put32(&d, 2000);
    put32(&d, 2147483647);
    put32(&d, 100);
    put16(&d, 0xffff);
    assert_int_equal(d.n, 3 * 18); /* 8 + 4 * 2 + 2 * 1 */
    ct = parse_ok(cfg, d.b, d.n);
    assert_int_equal(ct->format, PQ_CT_BINARY32);
    assert_close(at(ct, 0, 0), 230.0, 1e-9);
    assert_close(at(ct, 0, 1), -4.5, 0);
    assert_close(at(ct, 1, 0), -2147483.647, 1e-6);
    assert_true(isnan(at(ct, 1, 1)));
    assert_close(at(ct, 2, 0), 2147483.647, 1e-6);
    assert_close(at(ct, 2, 1), 49, 0);
    assert_int_equal(ct->status[0], 5);
    assert_int_equal(ct->status[1], 2);
    assert_int_equal(ct->status[2], 7); /* bits above channel 3 masked */
    assert_int_equal(ct->tmq, -1);      /* 2013 lines absent */
    pq_comtrade_free(ct);
}

static void test_comtrade_float32_secondary_values_scale_to_primary(void **state)
{
    /* a*x+b gives secondary volts; primary/secondary = 20000/100 */
    const char *cfg = "f32,dev,2013\n"
                      "1,1A,0D\n"
                      "1,VA,A,,V,2,1,0,-1e6,1e6,20000,100,s\n"
                      "50\n"
                      "1\n"
                      "4000,3\n"
                      "01/01/2020,00:00:00.000000\n"
                      "01/01/2020,00:00:00.000000\n"
                      "Float32\n"
                      "1\n"
                      "0,0\n"
                      "0,0\n";
    struct bin d = {.n = 0};
    struct pq_comtrade *ct;

    (void) state;
    put32(&d, 1);
    put32(&d, 0);
    putf(&d, 1.5f);
    put32(&d, 2);
    put32(&d, 0);
    putf(&d, -0.25f);
    put32(&d, 3);
    put32(&d, 0);
    putf(&d, NAN);
    assert_int_equal(d.n, 3 * 12);
    ct = parse_ok(cfg, d.b, d.n);
    assert_int_equal(ct->analog[0].ps, 'S');
    assert_close(at(ct, 0, 0), (2 * 1.5 + 1) * 200, 1e-9);
    assert_close(at(ct, 1, 0), (2 * -0.25 + 1) * 200, 1e-9);
    assert_true(isnan(at(ct, 2, 0)));
    assert_null(ct->status);
    pq_comtrade_free(ct);
}

static void test_comtrade_binary_secondary_values_scale_to_primary(void **state)
{
    const char *cfg = "sec,dev,1999\n"
                      "2,2A,0D\n"
                      "1,IA,A,,A,0.01,0.5,0,-32767,32767,600,5,S\n"
                      "2,IB,B,,A,0.01,0.5,0,-32767,32767,600,5,p\n"
                      "50\n"
                      "1\n"
                      "1000,1\n"
                      "01/01/2020,00:00:00.000000\n"
                      "01/01/2020,00:00:00.000000\n"
                      "BINARY\n"
                      "1\n";
    struct bin d = {.n = 0};
    struct pq_comtrade *ct;

    (void) state;
    put32(&d, 1);
    put32(&d, 0);
    put16(&d, 150);
    put16(&d, 150);
    ct = parse_ok(cfg, d.b, d.n);
    assert_close(at(ct, 0, 0), (0.01 * 150 + 0.5) * 120, 1e-12); /* 240 A primary */
    assert_close(at(ct, 0, 1), 0.01 * 150 + 0.5, 1e-12);         /* already primary */
    assert_int_equal(ct->analog[1].ps, 'P');
    pq_comtrade_free(ct);
}

static void test_comtrade_cff_written_here_with_binary_dat_and_crlf(void **state)
{
    const char *head = "--- file type: CFG ---\r\n"
                       "cff,dev,2013\r\n"
                       "2,1A,1D\r\n"
                       "1,V,A,,V,0.5,0,0,-32767,32767,1,1,P\r\n"
                       "1,TRIP,,,0\r\n"
                       "50\r\n"
                       "1\r\n"
                       "2000,3\r\n"
                       "05/06/2022,07:08:09.123456789\r\n"
                       "05/06/2022,07:08:09.124456789\r\n"
                       "BINARY\r\n"
                       "1\r\n"
                       "+1,+1\r\n"
                       "4,0\r\n"
                       "--- file type: INF ---\r\n"
                       "[public]\r\n"
                       "--- file type: HDR ---\r\n"
                       "free text, with commas\r\n"
                       "--- file type: DAT BINARY: 36 ---\r\n";
    struct bin d = {.n = 0};
    struct pq_comtrade *ct = NULL;
    char err[512];
    uint8_t buf[1024];
    size_t n = strlen(head);
    int rc;

    (void) state;
    memcpy(buf, head, n + 1); /* the NUL is overwritten by the data */
    put32(&d, 1);
    put32(&d, 0);
    put16(&d, 100);
    put16(&d, 1);
    put32(&d, 2);
    put32(&d, 0);
    put16(&d, 0x0a0d); /* CR LF inside the data */
    put16(&d, 0);
    put32(&d, 3);
    put32(&d, 0);
    put16(&d, 0x8000);
    put16(&d, 1);
    memcpy(buf + n, d.b, d.n);
    rc = pq_comtrade_parse_cff("x.cff", buf, n + d.n, &ct, err, sizeof(err));
    if (rc) {
        fail_msg("%s", err);
    }
    assert_int_equal(ct->nsamples, 3);
    assert_close(at(ct, 0, 0), 50, 0);
    assert_close(at(ct, 1, 0), 0.5 * 0x0a0d, 0);
    assert_true(isnan(at(ct, 2, 0)));
    assert_int_equal(ct->status[0], 1);
    assert_int_equal(ct->status[2], 1);
    assert_close(ct->t_s[2], 1e-3, 1e-15);
    /* 07:08:09.123456789 at UTC+1 */
    assert_int_equal(ct->start_ns,
                     1654412889LL * 1000000000LL + 123456789LL - 3600000000000LL);
    assert_int_equal(ct->trigger_ns - ct->start_ns, 1000000);
    assert_int_equal(ct->time_code_min, 60);
    assert_int_equal(ct->tmq, 4);
    assert_int_equal(ct->leapsec, 0);
    pq_comtrade_free(ct);
}

static void test_comtrade_cff_written_here_with_ascii_reals_and_empty_fields(void **state)
{
    const char *cff = "--- file type: CFG ---\n"
                      "cff,dev,2013\n"
                      "3,2A,1D\n"
                      "1,V,A,,V,1,0,0,-1e9,1e9,1,1,P\n"
                      "2,I,A,,A,1,0,0,-1e9,1e9,1,1,P\n"
                      "1,TRIP,,,0\n"
                      "50\n"
                      "1\n"
                      "1000,3\n"
                      "01/01/2020,00:00:00.000000\n"
                      "01/01/2020,00:00:00.000000\n"
                      "ASCII\n"
                      "1\n"
                      "0,0\n"
                      "0,0\n"
                      "--- file type: DAT ASCII ---\n"
                      "1,,230.25,-1.5e1,1\n"
                      "2,, ,0.125,0\n"
                      "3,,99999,,\n"
                      "\n";
    struct pq_comtrade *ct = NULL;
    char err[512];
    int rc = pq_comtrade_parse_cff("x.cff", (const uint8_t *) cff, strlen(cff), &ct, err,
                                   sizeof(err));

    (void) state;
    if (rc) {
        fail_msg("%s", err);
    }
    assert_close(at(ct, 0, 0), 230.25, 0);
    assert_close(at(ct, 0, 1), -15, 0);
    assert_true(isnan(at(ct, 1, 0))); /* blank field */
    assert_close(at(ct, 1, 1), 0.125, 0);
    assert_true(isnan(at(ct, 2, 0))); /* 99999 */
    assert_true(isnan(at(ct, 2, 1))); /* empty */
    assert_int_equal(ct->status[0], 1);
    assert_int_equal(ct->status[2], 0);
    pq_comtrade_free(ct);
}

static void test_comtrade_ascii_1999_missing_value_99999_is_nan(void **state)
{
    const char *cfg = "st,dev,1999\n"
                      "1,1A,0D\n"
                      "1,V,A,,V,2,1,0,-99999,99999,1,1,P\n"
                      "50\n"
                      "1\n"
                      "1000,3\n"
                      "01/01/2020,00:00:00.000000\n"
                      "01/01/2020,00:00:00.000000\n"
                      "ASCII\n"
                      "1\n";
    const char *dat = "1,0,99999\n2,1,-99999\n3,2,\n";
    struct pq_comtrade *ct = parse_ok(cfg, dat, strlen(dat));

    (void) state;
    assert_true(isnan(at(ct, 0, 0)));
    assert_close(at(ct, 1, 0), -99999 * 2 + 1, 0);
    assert_true(isnan(at(ct, 2, 0)));
    pq_comtrade_free(ct);
}

static void test_comtrade_several_rates_give_segment_times_and_rates(void **state)
{
    const char *cfg = "multi,dev,1999\n"
                      "2,1A,1D\n"
                      "1,V,A,,V,1,0,0,-99999,99999,1,1,P\n"
                      "1,S,,,0\n"
                      "50\n"
                      "3\n"
                      "1000,4\n"
                      "500,6\n"
                      "2000,9\n"
                      "01/01/2020,00:00:00.000000\n"
                      "01/01/2020,00:00:00.001000\n"
                      "ASCII\n"
                      "1\n";
    const char *dat = "1,0,10,0\n2,0,20,0\n3,0,30,0\n4,0,40,0\n5,0,50,0\n"
                      "6,0,60,0\n7,0,70,0\n8,0,80,1\n9,0,90,1\n";
    /* 1 ms apart, then 2 ms, then 0.5 ms; each step at the new sample's rate */
    static const double t_ms[9] = {0, 1, 2, 3, 5, 7, 7.5, 8, 8.5};
    static const double rate[10] = {1000, 1000, 1000, 1000, 500,
                                    500,  2000, 2000, 2000, 0};
    struct pq_comtrade *ct = parse_ok(cfg, dat, strlen(dat));
    size_t i;

    (void) state;
    assert_int_equal(ct->nrates, 3);
    assert_int_equal(ct->nsamples, 9);
    for (i = 0; i < 9; i++) {
        assert_close(ct->t_s[i], t_ms[i] * 1e-3, 1e-15);
        assert_close(at(ct, i, 0), 10.0 * (double) (i + 1), 0);
    }
    for (i = 0; i < 10; i++) {
        assert_close(pq_comtrade_rate_at(ct, i), rate[i], 0);
    }
    assert_int_equal(pq_comtrade_status_bit(ct, 7, 0), 1);
    pq_comtrade_free(ct);
}

static void test_comtrade_nrates_0_uses_ascii_timestamps_times_timemult(void **state)
{
    const char *cfg = "ts,dev,1999\n"
                      "1,1A,0D\n"
                      "1,I,,,A,2,1,0,-99999,99999,1,1,P\n"
                      "60\n"
                      "0\n"
                      "0,3\n"
                      "15/06/2021,12:00:00.000000\n"
                      "15/06/2021,12:00:00.000000\n"
                      "ASCII\n"
                      "2.5\n";
    const char *dat = "1,0,10\n2,100,20\n3,1000,30\n";
    struct pq_comtrade *ct = parse_ok(cfg, dat, strlen(dat));

    (void) state;
    assert_int_equal(ct->nrates, 0);
    assert_close(ct->timemult, 2.5, 0);
    assert_close(ct->t_s[0], 0, 0);
    assert_close(ct->t_s[1], 100 * 2.5e-6, 1e-18); /* us base: 6 fraction digits */
    assert_close(ct->t_s[2], 1000 * 2.5e-6, 1e-18);
    assert_close(at(ct, 2, 0), 61, 0);
    assert_close(pq_comtrade_rate_at(ct, 0), 0, 0);
    pq_comtrade_free(ct);
}

static void test_comtrade_nrates_0_binary_with_ns_base_and_no_count_line(void **state)
{
    /* nine fraction digits: ns time base; no "0,N" line: the .dat says how many */
    const char *cfg = "ts,dev,2013\n"
                      "1,1A,0D\n"
                      "1,I,,,A,1,0,0,-32767,32767,1,1,P\n"
                      "50\n"
                      "0\n"
                      "15/06/2021,12:00:00.000000000\n"
                      "15/06/2021,12:00:00.000000000\n"
                      "BINARY\n"
                      "4\n";
    struct bin d = {.n = 0};
    struct pq_comtrade *ct;

    (void) state;
    put32(&d, 1);
    put32(&d, 0);
    put16(&d, 1);
    put32(&d, 2);
    put32(&d, 125);
    put16(&d, 2);
    put32(&d, 3);
    put32(&d, 250000);
    put16(&d, 3);
    ct = parse_ok(cfg, d.b, d.n);
    assert_int_equal(ct->nsamples, 3);
    assert_close(ct->t_s[1], 125 * 4e-9, 1e-20);
    assert_close(ct->t_s[2], 250000 * 4e-9, 1e-18);
    pq_comtrade_free(ct);
}

static void test_comtrade_time_codes_give_utc_and_quality(void **state)
{
    const char *cfg = "tz,dev,2013\n"
                      "1,1A,0D\n"
                      "1,V,A,,V,1,0,0,-99999,99999,1,1,P\n"
                      "50\n"
                      "1\n"
                      "1000,1\n"
                      "01/01/2020,10:30:00.000000\n"
                      "01/01/2020,10:30:00.500000\n"
                      "ASCII\n"
                      "1\n"
                      "+10h30,-4\n"
                      "f,2\n";
    const char *dat = "1,0,1\n";
    struct pq_comtrade *ct = parse_ok(cfg, dat, strlen(dat));

    (void) state;
    /* recorded 10:30 at UTC+10:30 is 2020-01-01T00:00:00Z */
    assert_int_equal(ct->start_ns, 1577836800LL * 1000000000LL);
    assert_int_equal(ct->trigger_ns, 1577836800LL * 1000000000LL + 500000000LL);
    assert_int_equal(ct->time_code_min, 630);
    assert_int_equal(ct->local_code_min, -240);
    assert_int_equal(ct->tmq, 15);
    assert_int_equal(ct->leapsec, 2);
    pq_comtrade_free(ct);
}

static void test_comtrade_time_code_forms_parse(void **state)
{
    static const struct {
        const char *line;
        int tc, lc;
    } cases[] = {
        {"-7h15,0\n", -435, 0}, {"0,+1\n", 0, 60},        {" -4 , -4 \n", -240, -240},
        {",\n", 0, 0},          {"+0h45,1H00\n", 45, 60},
    };

    char cfg[512];
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pq_comtrade *ct;

        snprintf(cfg, sizeof(cfg),
                 "tz,dev,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-9,9,1,1,P\n50\n1\n1000,1\n"
                 "01/01/2020,00:00:00.000000\n01/01/2020,00:00:00.000000\nASCII\n1\n%s",
                 cases[i].line);
        ct = parse_ok(cfg, "1,0,1\n", 6);
        assert_int_equal(ct->time_code_min, cases[i].tc);
        assert_int_equal(ct->local_code_min, cases[i].lc);
        assert_int_equal(ct->start_ns,
                         1577836800LL * 1000000000LL - cases[i].tc * 60000000000LL);
        pq_comtrade_free(ct);
    }
}

/* C37.111 / spec T21: 2A + 2D BINARY, 6400 Hz x 256 samples = 14 bytes a
 * record, a 3584-byte .dat. */
static const char t21_cfg[] = "t21,rec,2013\n"
                              "4,2A,2D\n"
                              "1,IA,A,,A,0.01,0,0,-32767,32767,1,1,P\n"
                              "2,VA,A,,V,0.1,0,0,-32767,32767,1,1,P\n"
                              "1,TRIP,,,0\n"
                              "2,CLOSE,,,0\n"
                              "50\n"
                              "1\n"
                              "6400,256\n"
                              "01/01/2024,00:00:00.000000\n"
                              "01/01/2024,00:00:00.010000\n"
                              "BINARY\n"
                              "1\n"
                              "0,0\n"
                              "0,0\n";

static void t21_dat(struct bin *d)
{
    uint32_t i;

    d->n = 0;
    for (i = 0; i < 256; i++) {
        put32(d, i + 1);
        put32(d, i * 156);
        put16(d, (uint16_t) i);
        put16(d, (uint16_t) (0x10000 - i));
        put16(d, (uint16_t) (i & 3));
    }
}

static void test_comtrade_t21_binary_2a_2d_is_14_bytes_a_record(void **state)
{
    struct bin d;
    struct pq_comtrade *ct;

    (void) state;
    t21_dat(&d);
    assert_int_equal(d.n, 3584);
    ct = parse_ok(t21_cfg, d.b, d.n);
    assert_int_equal(ct->nsamples, 256);
    assert_close(ct->t_s[4], 0.625e-3, 1e-15);
    assert_int_equal(ct->trigger_ns - ct->start_ns, 10000000); /* 0.010 s */
    assert_close(at(ct, 255, 0), 2.55, 1e-12);
    assert_close(at(ct, 255, 1), -25.5, 1e-12);
    assert_int_equal(pq_comtrade_status_bit(ct, 3, 0), 1);
    assert_int_equal(pq_comtrade_status_bit(ct, 3, 1), 1);
    assert_int_equal(pq_comtrade_status_bit(ct, 2, 0), 0);
    pq_comtrade_free(ct);
}

static void test_comtrade_t21_dat_of_the_wrong_size_names_the_byte_offset(void **state)
{
    struct bin d;

    (void) state;
    t21_dat(&d);
    expect_error(t21_cfg, d.b, 3583,
                 "rec.dat: sample 256: truncated record at byte offset 3570 (13 of 14 "
                 "bytes); the .cfg announces 256 samples");
    expect_error(t21_cfg, d.b, 3570,
                 "rec.dat: sample 256: the data ends at byte offset 3570; the .cfg "
                 "announces 256 samples of 14 bytes (3584 bytes)");
    d.b[3584] = 0;
    expect_error(t21_cfg, d.b, 3585,
                 "rec.dat: sample 257: data beyond the 256 samples of 14 bytes the .cfg "
                 "announces, from byte offset 3584 to 3585");
    expect_error(
        t21_cfg, d.b, 0,
        "rec.dat: sample 1: the data ends at byte offset 0; the .cfg announces 256 "
        "samples of 14 bytes (3584 bytes)");
}

/* T21 too: 4A + 16D is 18 bytes a record in BINARY, 26 in BINARY32 and
 * FLOAT32. */
static void test_comtrade_t21_4a_16d_record_sizes_per_format(void **state)
{
    static const struct {
        const char *ft;
        size_t rec;
    } cases[] = {{"BINARY", 18}, {"BINARY32", 26}, {"FLOAT32", 26}};

    char cfg[2048];
    uint8_t dat[3 * 26 + 1] = {0};
    size_t i, k, n;

    (void) state;
    for (i = 0; i < 3; i++) {
        struct pq_comtrade *ct = NULL;
        char err[512];

        n = (size_t) snprintf(cfg, sizeof(cfg), "r,d,2013\n20,4A,16D\n");
        for (k = 1; k <= 4; k++) {
            n += (size_t) snprintf(cfg + n, sizeof(cfg) - n,
                                   "%zu,A%zu,,,V,1,0,0,-1,1,1,1,P\n", k, k);
        }
        for (k = 1; k <= 16; k++) {
            n += (size_t) snprintf(cfg + n, sizeof(cfg) - n, "%zu,D%zu,,,0\n", k, k);
        }
        snprintf(cfg + n, sizeof(cfg) - n,
                 "50\n1\n1000,3\n01/01/2020,00:00:00.000000\n"
                 "01/01/2020,00:00:00.000000\n%s\n1\n",
                 cases[i].ft);
        assert_int_equal(parse(cfg, dat, 3 * cases[i].rec, &ct, err, sizeof(err)), 0);
        assert_int_equal(ct->nsamples, 3);
        pq_comtrade_free(ct);
        assert_int_equal(parse(cfg, dat, 3 * cases[i].rec + 1, &ct, err, sizeof(err)),
                         -PQ_EFORMAT);
        assert_int_equal(parse(cfg, dat, 3 * cases[i].rec - 1, &ct, err, sizeof(err)),
                         -PQ_EFORMAT);
    }
}

static void
test_comtrade_1991_file_with_two_digit_year_and_short_lines_parses(void **state)
{
    const char *cfg = "old station,old device\r\n"
                      "3,2A,1D\r\n"
                      "1,VA,A,,V,0.5,0,0,-32767,32767\r\n"
                      "2,IA,A,,A,0.25,0,0,-32767,32767\r\n"
                      "1,BRK,0\r\n"
                      "60\r\n"
                      "1\r\n"
                      "1000,2\r\n"
                      "03/04/95,10:20:30.5\r\n"
                      "03/04/95,10:20:30.6\r\n"
                      "ASCII\r\n";
    const char *dat = "1,0,10,20,1\r\n2,1000,-10,-20,0\r\n";
    struct pq_comtrade *ct = parse_ok(cfg, dat, strlen(dat));

    (void) state;
    assert_int_equal(ct->rev_year, 1991);
    assert_string_equal(ct->station, "old station");
    assert_string_equal(ct->status_id[0], "BRK");
    assert_close(ct->timemult, 1, 0);
    assert_int_equal(ct->analog[0].ps, 'P');
    /* mm/dd/yy: 4 March 1995 */
    assert_int_equal(ct->start_ns, 794312430LL * 1000000000LL + 500000000LL);
    assert_int_equal(ct->trigger_ns - ct->start_ns, 100000000);
    assert_close(at(ct, 0, 0), 5, 0);
    assert_close(at(ct, 1, 1), -5, 0);
    assert_int_equal(ct->status[0], 1);
    assert_int_equal(ct->status[1], 0);
    pq_comtrade_free(ct);
}

static void test_comtrade_blanks_crlf_and_letter_case_are_accepted(void **state)
{
    const char *cfg =
        "\xef\xbb\xbf st , dev , 1999 \r\n"
        " 2 , 1a , 1d \r\n"
        " 1 , V A , A , bay 1 , kV , 0.5 , 0 , 0 , -99999 , 99999 , 1 , 1 , p \r\n"
        " 1 , S , , , 1 \r\n"
        " 50.0 \r\n"
        " 1 \r\n"
        " 1000 , 2 \r\n"
        " 01/01/2020 , 00:00:00.000000 \r\n"
        "01/01/2020,00:00:00.000000\r"
        " aScIi \n"
        "1\r\n"
        "\r\n";
    const char *dat = " 1 , 0 , 4 , 1 \r\n 2 , 1000 , 6 , 0 \r\n\r\n";
    struct pq_comtrade *ct = parse_ok(cfg, dat, strlen(dat));

    (void) state;
    assert_string_equal(ct->station, "st");
    assert_string_equal(ct->analog[0].id, "V A");
    assert_string_equal(ct->analog[0].ccbm, "bay 1");
    assert_string_equal(ct->analog[0].unit, "kV");
    assert_close(at(ct, 1, 0), 3, 0);
    assert_int_equal(ct->status[0], 1);
    pq_comtrade_free(ct);
}

static void test_comtrade_long_names_are_cut_on_a_utf8_boundary(void **state)
{
    char cfg[1024], want[80];
    size_t n = 0, i;
    struct pq_comtrade *ct;

    (void) state;
    n += (size_t) snprintf(cfg, sizeof(cfg), "a");
    for (i = 0; i < 35; i++) {
        n += (size_t) snprintf(cfg + n, sizeof(cfg) - n, "\xc3\xa9"); /* e acute */
    }
    snprintf(cfg + n, sizeof(cfg) - n,
             ",dev,1999\n1,1A,0D\n1,V,A,,V,1,0,0,-9,9,1,1,P\n50\n1\n1000,1\n"
             "01/01/2020,00:00:00.000000\n01/01/2020,00:00:00.000000\nASCII\n1\n");
    ct = parse_ok(cfg, "1,0,1\n", 6);
    /* 'a' + 31 two-byte characters = 63 bytes: the 32nd would end at byte 65 */
    assert_int_equal(strlen(ct->station), 63);
    memcpy(want, cfg, 63);
    want[63] = '\0';
    assert_string_equal(ct->station, want);
    assert_true(utf8_ok(ct->station));
    pq_comtrade_free(ct);
}

/* ---- malformed input: every error names file, line and field --------- */

static const char *const base_cfg[] = {
    "st,dev,1999",
    "3,2A,1D",
    "1,VA,A,,V,0.5,0,0,-99999,99999,1,1,P",
    "2,IA,A,,A,0.25,0,0,-99999,99999,1,1,P",
    "1,BRK,,,0",
    "50",
    "1",
    "1000,2",
    "01/02/2020,00:00:00.000000",
    "01/02/2020,00:00:00.001000",
    "ASCII",
    "1",
};
static const char base_dat[] = "1,0,10,20,1\n2,1000,-10,-20,0\n";

/* base_cfg with line lineno (1-based) replaced by text (NULL: the file ends
 * before it), plus extra lines. */
static const char *cfg_with(size_t lineno, const char *text, const char *extra)
{
    static char buf[2048];
    size_t n = 0, i;

    buf[0] = '\0';
    for (i = 0; i < sizeof(base_cfg) / sizeof(base_cfg[0]); i++) {
        const char *line = i + 1 == lineno ? text : base_cfg[i];

        if (!line) {
            return buf;
        }
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s\n", line);
    }
    snprintf(buf + n, sizeof(buf) - n, "%s", extra ? extra : "");
    return buf;
}

static void cfg_error(size_t lineno, const char *text, const char *want)
{
    expect_error(cfg_with(lineno, text, NULL), base_dat, strlen(base_dat), want);
}

static void dat_error(const char *cfg, const char *dat, const char *want)
{
    expect_error(cfg, dat, strlen(dat), want);
}

static void test_comtrade_base_of_the_error_cases_parses(void **state)
{
    struct pq_comtrade *ct =
        parse_ok(cfg_with(0, NULL, NULL), base_dat, strlen(base_dat));

    (void) state;
    assert_close(at(ct, 1, 1), -5, 0);
    pq_comtrade_free(ct);
}

static void test_comtrade_bad_analog_field_names_line_channel_and_field(void **state)
{
    (void) state;
    cfg_error(3, "1,VA,A,,V,x,0,0,-99999,99999,1,1,P",
              "rec.cfg:3: analog channel 1, field 'a' (multiplier): expected a number, "
              "got 'x'");
    cfg_error(
        4, "2,IA,A,,A,0.25,0,0,-99999,99999,1,1,Q",
        "rec.cfg:4: analog channel 2, field 'PS' (primary or secondary): expected P "
        "or S, got 'Q'");
    cfg_error(4, "2,IA,A,,A,0.25,0,0,-99999,99999,1,0,S",
              "rec.cfg:4: analog channel 2, field 'secondary' (secondary ratio factor): "
              "expected a number > 0 when PS is 'S', got '0'");
    cfg_error(3, "1,VA,A,,V,0.5,nan,0,-99999,99999,1,1,P",
              "rec.cfg:3: analog channel 1, field 'b' (offset adder): expected a number, "
              "got 'nan'");
    cfg_error(3, "1,VA,A,,V,0.5,0,1e999,-99999,99999,1,1,P",
              "rec.cfg:3: analog channel 1, field 'skew' (time skew, us): expected a "
              "number, got '1e999'");
    cfg_error(3, "x,VA,A,,V,0.5,0,0,-99999,99999,1,1,P",
              "rec.cfg:3: analog channel 1, field 'An' (channel index): expected an "
              "integer 0..999999, got 'x'");
    cfg_error(3, "1,VA,A,,V,0.5,0,0,-99999,99999,1,1",
              "rec.cfg:3: analog channel 1: expected 13 fields "
              "(An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS), got 12");
}

static void test_comtrade_bad_header_and_counts_name_their_field(void **state)
{
    (void) state;
    cfg_error(1, "st,dev,2020",
              "rec.cfg:1: station line, field 'rev_year' (revision year): expected 1991, "
              "1999 or 2013, got '2020'");
    cfg_error(1, "st",
              "rec.cfg:1: station line: expected 2 or 3 fields "
              "(station_name,rec_dev_id,rev_year), got 1");
    cfg_error(2, "4,2A,1D",
              "rec.cfg:2: channel counts, field 'TT' (total channels): expected 3 (2A + "
              "1D), got '4'");
    cfg_error(
        2, "3,2,1D",
        "rec.cfg:2: channel counts, field '##A' (analog channels): expected a count "
        "and 'A' like '4A', got '2'");
    cfg_error(
        2, "3,2A,1X",
        "rec.cfg:2: channel counts, field '##D' (status channels): expected a count "
        "and 'D' like '16D', got '1X'");
    cfg_error(
        2, "1000000,999999A,1D",
        "rec.cfg:2: channel counts, field 'TT' (total channels): expected an integer "
        "0..999999, got '1000000'");
    cfg_error(2, "999999,999998A,1D",
              "rec.cfg:2: channel counts: the file is too short for 999998 analog and 1 "
              "status channel lines");
    cfg_error(5, "1,BRK,,,2",
              "rec.cfg:5: status channel 1, field 'y' (normal state): expected 0 or 1, "
              "got '2'");
    cfg_error(
        5, "1,BRK,,0",
        "rec.cfg:5: status channel 1: expected 5 fields (Dn,ch_id,ph,ccbm,y), got 4");
}

static void test_comtrade_bad_rates_and_frequency_name_their_field(void **state)
{
    (void) state;
    cfg_error(6, "fifty",
              "rec.cfg:6: line frequency, field 'lf' (nominal line frequency, Hz): "
              "expected a number in 0..1e6 (0: unknown), got 'fifty'");
    cfg_error(7, "1000",
              "rec.cfg:7: number of sample rates, field 'nrates' (number of sample "
              "rates): expected an integer 0..999, got '1000'");
    cfg_error(
        8, "1000,0",
        "rec.cfg:8: sample rate 1, field 'endsamp' (last sample number): expected a "
        "sample number > 0, got '0'");
    cfg_error(8, "-1000,2",
              "rec.cfg:8: sample rate 1, field 'samp' (sample rate, Hz): expected 0 or a "
              "rate in 1e-6..1e12, got '-1000'");
    cfg_error(
        7, "2\n0,1",
        "rec.cfg:8: sample rate 1, field 'samp' (sample rate, Hz): expected a rate in "
        "1e-6..1e12, got '0'");
    cfg_error(8, "1000",
              "rec.cfg:8: sample rate 1: expected 2 fields (samp,endsamp), got 1");
    expect_error(cfg_with(7, "2", NULL), base_dat, strlen(base_dat),
                 "rec.cfg:9: sample rate 2, field 'samp' (sample rate, Hz): expected a "
                 "number, got '01/02/2020'");
}

static void test_comtrade_bad_times_name_their_field(void **state)
{
    (void) state;
    cfg_error(
        9, "31/02/2020,00:00:00.000000",
        "rec.cfg:9: start time, field 'date' (dd/mm/yyyy): expected a valid date in "
        "1900..2199, got '31/02/2020'");
    cfg_error(9, "2020-02-01,00:00:00.000000",
              "rec.cfg:9: start time, field 'date' (dd/mm/yyyy): expected a date, got "
              "'2020-02-01'");
    cfg_error(
        10, "01/02/2020,00:61:00.000000",
        "rec.cfg:10: trigger time, field 'time' (hh:mm:ss.ssssss): expected a time of "
        "day, at most 9 fraction digits, got '00:61:00.000000'");
    cfg_error(
        10, "01/02/2020,00:00:00.0000000000",
        "rec.cfg:10: trigger time, field 'time' (hh:mm:ss.ssssss): expected a time of "
        "day, at most 9 fraction digits, got '00:00:00.0000000000'");
    cfg_error(10, "01/02/2020",
              "rec.cfg:10: trigger time: expected 2 fields (date,time), got 1");
}

static void test_comtrade_bad_tail_lines_name_their_field(void **state)
{
    (void) state;
    cfg_error(11, "ASCI",
              "rec.cfg:11: data file type, field 'ft' (data file type): expected ASCII, "
              "BINARY, BINARY32 or FLOAT32, got 'ASCI'");
    cfg_error(12, "0",
              "rec.cfg:12: time multiplier, field 'timemult' (timestamp multiplication "
              "factor): expected a number > 0, got '0'");
    cfg_error(9, NULL, "rec.cfg:9: start time: missing (the file ends)");
    cfg_error(3, NULL,
              "rec.cfg:2: channel counts: the file is too short for 2 analog and "
              "1 status channel lines");
}

static void test_comtrade_bad_2013_lines_name_their_field(void **state)
{
    const char *dat = base_dat;

    (void) state;
    expect_error(cfg_with(1, "st,dev,2013", "+25,0\n"), dat, strlen(dat),
                 "rec.cfg:13: time codes, field 'time_code' (recorded time minus UTC): "
                 "expected an offset like '-4', '+10h30' or '0', got '+25'");
    expect_error(cfg_with(1, "st,dev,2013", "0,5h7\n"), dat, strlen(dat),
                 "rec.cfg:13: time codes, field 'local_code' (local time minus UTC): "
                 "expected an offset like '-4', '+10h30' or '0', got '5h7'");
    expect_error(
        cfg_with(1, "st,dev,2013", "0\n"), dat, strlen(dat),
        "rec.cfg:13: time codes: expected 2 fields (time_code,local_code), got 1");
    expect_error(
        cfg_with(1, "st,dev,2013", "0,0\nG,0\n"), dat, strlen(dat),
        "rec.cfg:14: time quality, field 'tmq_code' (time quality, IEEE C37.118): "
        "expected one hex digit, got 'G'");
    expect_error(
        cfg_with(1, "st,dev,2013", "0,0\n0,4\n"), dat, strlen(dat),
        "rec.cfg:14: time quality, field 'leapsec' (leap second): expected 0, 1, 2 "
        "or 3, got '4'");
}

static void test_comtrade_bad_ascii_data_names_line_and_field(void **state)
{
    const char *cfg = cfg_with(0, NULL, NULL);
    char cfg0[2048];

    (void) state;
    dat_error(cfg, "1,0,10,x,1\n2,0,1,1,0\n",
              "rec.dat:1: field 4 (analog channel 2, IA): expected a number, got 'x'");
    dat_error(cfg, "1,0,10,20,7\n2,0,1,1,0\n",
              "rec.dat:1: field 5 (status channel 1, BRK): expected 0 or 1, got '7'");
    dat_error(cfg, "a,0,10,20,1\n2,0,1,1,0\n",
              "rec.dat:1: field 1 (sample number): expected an integer, got 'a'");
    dat_error(cfg, "1,0,10,20,1\n2,0,1,1\n",
              "rec.dat:2: sample 2: expected 5 fields (n,timestamp, 2 analog, 1 status), "
              "got 4");
    dat_error(cfg, "1,0,10,20,1\n",
              "rec.dat:2: sample 2: the data ends after 1 samples; the .cfg announces 2");
    dat_error(cfg, "1,0,10,20,1\n2,0,1,1,0\n3,0,1,1,0\n",
              "rec.dat:3: sample 3: more samples than the 2 the .cfg announces");
    dat_error(cfg, "1,0,10,20,1\n\n2,0,1,1,0\n",
              "rec.dat:2: empty line before more samples");
    snprintf(cfg0, sizeof(cfg0), "%s", cfg_with(7, "0", NULL));
    dat_error(cfg0, "1,0,10,20,1\n2,,1,1,0\n",
              "rec.dat:2: field 2 (timestamp): expected a number >= 0 (nrates is 0: the "
              "timestamps are the time base), got ''");
    snprintf(cfg0, sizeof(cfg0), "%s",
             "st,dev,1999\n1,1A,0D\n1,V,A,,V,1,0,0,-9,9,1,1,P\n50\n0\n0,1\n"
             "01/02/2020,00:00:00.000000\n01/02/2020,00:00:00.000000\nASCII\n1e300\n");
    dat_error(
        cfg0, "1,1e300,1\n",
        "rec.dat:1: field 2 (timestamp): expected a time (timestamp x timemult) that "
        "is finite, got '1e300'");
}

static void test_comtrade_binary_missing_timestamp_with_nrates_0_is_an_error(void **state)
{
    const char *cfg = "ts,dev,1999\n"
                      "1,1A,0D\n"
                      "1,I,,,A,1,0,0,-32767,32767,1,1,P\n"
                      "50\n"
                      "0\n"
                      "0,2\n"
                      "01/01/2020,00:00:00.000000\n"
                      "01/01/2020,00:00:00.000000\n"
                      "BINARY\n"
                      "1\n";
    struct bin d = {.n = 0};

    (void) state;
    put32(&d, 1);
    put32(&d, 0);
    put16(&d, 1);
    put32(&d, 2);
    put32(&d, 0xffffffffu);
    put16(&d, 2);
    expect_error(
        cfg, d.b, d.n,
        "rec.dat: sample 2: timestamp missing (0xFFFFFFFF) at byte offset 14, but "
        "nrates is 0: the timestamps are the time base");
}

static void test_comtrade_bad_cff_structure_names_the_line(void **state)
{
    char cff[4096];
    size_t n;

    (void) state;
    memset(cff, 0, sizeof(cff));
    expect_cff_error("", 0, "x.cff: no '--- file type: CFG ---' section");
    expect_cff_error(
        "hello\n", 6,
        "x.cff:1: expected a section header like '--- file type: CFG ---', got "
        "'hello'");
    expect_cff_error("--- file type: XYZ ---\n", 23,
                     "x.cff:1: section header: expected '--- file type: CFG|INF|HDR|DAT "
                     "ASCII|DAT BINARY: <bytes> ---', got '--- file type: XYZ ---'");
    n = (size_t) snprintf(cff, sizeof(cff), "--- file type: CFG ---\n%s",
                          cfg_with(0, NULL, NULL));
    expect_cff_error(cff, n,
                     "x.cff: no '--- file type: DAT ASCII' or 'DAT BINARY: <bytes> ---' "
                     "section");
    n += (size_t) snprintf(cff + n, sizeof(cff) - n,
                           "--- file type: DAT BINARY: 100 ---\n");
    expect_cff_error(cff, n + 14,
                     "x.cff:14: DAT section: the header announces 100 bytes, 14 follow");
    n = (size_t) snprintf(cff, sizeof(cff), "--- file type: CFG ---\n%s",
                          cfg_with(11, "BINARY", NULL));
    n += (size_t) snprintf(cff + n, sizeof(cff) - n, "--- file type: DAT ASCII ---\n%s",
                           base_dat);
    expect_cff_error(cff, n,
                     "x.cff:14: the DAT section is ASCII but the CFG says BINARY");
    n = (size_t) snprintf(cff, sizeof(cff), "--- file type: CFG ---\n%s",
                          cfg_with(3, "1,VA,A,,V,x,0,0,-99999,99999,1,1,P", NULL));
    n += (size_t) snprintf(cff + n, sizeof(cff) - n, "--- file type: DAT ASCII ---\n%s",
                           base_dat);
    expect_cff_error(
        cff, n,
        "x.cff:4: analog channel 1, field 'a' (multiplier): expected a number, "
        "got 'x'");
    n = (size_t) snprintf(cff, sizeof(cff), "--- file type: CFG ---\n%s",
                          cfg_with(0, NULL, NULL));
    n += (size_t) snprintf(cff + n, sizeof(cff) - n,
                           "--- file type: DAT ASCII ---\n1,0,10,20,1\n2,0,1,q,0\n");
    expect_cff_error(
        cff, n, "x.cff:16: field 4 (analog channel 2, IA): expected a number, got 'q'");
    n += (size_t) snprintf(cff + n, sizeof(cff) - n, "--- file type: CFG ---\n");
    expect_cff_error(cff, n, "x.cff:17: a second '--- file type: CFG ---' section");
}

static void test_comtrade_more_malformed_lines_name_their_field(void **state)
{
    (void) state;
    cfg_error(2, "3,2A",
              "rec.cfg:2: channel counts: expected 3 fields (TT,##A,##D), got 2");
    cfg_error(2, NULL, "rec.cfg:2: channel counts: missing (the file ends)");
    cfg_error(11, "ASCII,1", "rec.cfg:11: data file type: expected 1 field (ft), got 2");
    cfg_error(
        10, "01/02/2020,00:00:00.12a",
        "rec.cfg:10: trigger time, field 'time' (hh:mm:ss.ssssss): expected a time of "
        "day, got '00:00:00.12a'");
    cfg_error(
        3, "+1,VA,A,,V,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,0,0,-9,9,1,1,P",
        "rec.cfg:3: analog channel 1, field 'a' (multiplier): expected a number, got "
        "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");
    cfg_error(
        3, "+,VA,A,,V,1,0,0,-9,9,1,1,P",
        "rec.cfg:3: analog channel 1, field 'An' (channel index): expected an integer "
        "0..999999, got '+'");
    expect_error(cfg_with(1, "st,dev,2013", "+10h3,0\n"), base_dat, strlen(base_dat),
                 "rec.cfg:13: time codes, field 'time_code' (recorded time minus UTC): "
                 "expected an offset like '-4', '+10h30' or '0', got '+10h3'");
    expect_error(cfg_with(1, "st,dev,2013", "0,0\n0\n"), base_dat, strlen(base_dat),
                 "rec.cfg:14: time quality: expected 2 fields (tmq_code,leapsec), got 1");
}

/* The .cfg is taken as UTF-8 only when all of it is valid UTF-8. */
static void test_comtrade_invalid_utf8_is_read_as_iso8859_1(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\xf0\x9f\x98\x80 ok", "\xf0\x9f\x98\x80 ok"}, /* valid 4 bytes */
        {"\xc0\xaf", "\xc3\x80\xc2\xaf"},               /* overlong */
        {"\xe9t\xe9", "\xc3\xa9t\xc3\xa9"},             /* Latin-1 e acute */
        {"\xed\xa0\x80", "\xc3\xad\xc2\xa0\xc2\x80"},   /* surrogate */
        {"\xf0\x9f\x98", "\xc3\xb0\xc2\x9f\xc2\x98"},   /* cut short */
        {"\xf8\x88\x80\x80\x80", "\xc3\xb8\xc2\x88\xc2\x80\xc2\x80\xc2\x80"},
    };

    char cfg[512];
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pq_comtrade *ct;

        snprintf(cfg, sizeof(cfg),
                 "%s,dev,1999\n1,1A,0D\n1,V,A,,V,1,0,0,-9,9,1,1,P\n50\n1\n1000,1\n"
                 "01/01/2020,00:00:00.000000\n01/01/2020,00:00:00.000000\nASCII\n1\n",
                 cases[i].in);
        ct = parse_ok(cfg, "1,0,1\n", 6);
        assert_string_equal(ct->station, cases[i].out);
        assert_true(utf8_ok(ct->station));
        pq_comtrade_free(ct);
    }
}

static void test_comtrade_cff_binary_dat_without_a_count_runs_to_the_end(void **state)
{
    /* two 2A + 1D BINARY records: n, timestamp, VA, IA, status */
    static const uint8_t recs[28] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 4, 0, 1, 0,
                                     2, 0, 0, 0, 0, 0, 0, 0, 6, 0, 8, 0, 0, 0};
    char cff[2048];
    struct pq_comtrade *ct = NULL;
    char err[256];
    size_t n;

    (void) state;
    n = (size_t) snprintf(cff, sizeof(cff), "--- file type: CFG ---\n%s",
                          cfg_with(11, "BINARY", NULL));
    n += (size_t) snprintf(cff + n, sizeof(cff) - n, "--- file type: dat binary ---\n");
    memcpy(cff + n, recs, sizeof(recs));
    assert_int_equal(pq_comtrade_parse_cff("x.cff", (const uint8_t *) cff,
                                           n + sizeof(recs), &ct, err, sizeof(err)),
                     0);
    assert_close(at(ct, 1, 1), 0.25 * 8, 0);
    pq_comtrade_free(ct);
    n = (size_t) snprintf(cff, sizeof(cff), "--- file type: CFG ---\n%s",
                          cfg_with(11, "BINARY", NULL));
    n += (size_t) snprintf(cff + n, sizeof(cff) - n,
                           "--- file type: DAT BINARY: 1x ---\n");
    expect_cff_error(
        cff, n,
        "x.cff:14: section header: expected '--- file type: CFG|INF|HDR|DAT "
        "ASCII|DAT BINARY: <bytes> ---', got '--- file type: DAT BINARY: 1x ---'");
}

static void test_comtrade_empty_dat_without_a_sample_count_has_no_samples(void **state)
{
    /* nrates 0 and no "0,N" line: only the .dat could say how many */
    const char *head = "st,dev,1999\n1,1A,0D\n1,V,A,,V,1,0,0,-9,9,1,1,P\n50\n0\n"
                       "01/02/2020,00:00:00.000000\n01/02/2020,00:00:00.000000\n";
    char cfg[512];

    (void) state;
    snprintf(cfg, sizeof(cfg), "%sASCII\n1\n", head);
    dat_error(cfg, "\n\r\n", "rec.dat:1: no samples");
    snprintf(cfg, sizeof(cfg), "%sBINARY\n1\n", head);
    expect_error(cfg, "", 0, "rec.dat: no samples");
    expect_error(cfg, "123456789", 9,
                 "rec.dat: sample 1: truncated record at byte offset 0 (9 of 10 bytes)");
}

static void test_comtrade_dat_errors_are_named_after_the_cfg_in_its_case(void **state)
{
    static const struct {
        const char *cfg, *dat;
    } names[] = {
        {"REC.CFG", "REC.DAT"}, {"a/rec.Cfg", "a/rec.Dat"}, {"noext", "noext.dat"}};

    const char *cfg = cfg_with(0, NULL, NULL);
    struct pq_comtrade *ct = NULL;
    char err[256], want[256];
    size_t i;

    (void) state;
    for (i = 0; i < 3; i++) {
        assert_int_equal(pq_comtrade_parse(names[i].cfg, (const uint8_t *) cfg,
                                           strlen(cfg), (const uint8_t *) "x", 1, &ct,
                                           err, sizeof(err)),
                         -PQ_EFORMAT);
        snprintf(
            want, sizeof(want),
            "%s:1: sample 1: expected 5 fields (n,timestamp, 2 analog, 1 status), got 1",
            names[i].dat);
        assert_string_equal(err, want);
    }
}

static void test_comtrade_error_text_respects_errcap_and_null(void **state)
{
    struct pq_comtrade *ct = NULL;
    char err[16];
    const char *cfg = cfg_with(3, "1,VA,A,,V,x,0,0,-99999,99999,1,1,P", NULL);

    (void) state;
    memset(err, 'z', sizeof(err));
    assert_int_equal(parse(cfg, base_dat, strlen(base_dat), &ct, err, sizeof(err)),
                     -PQ_EFORMAT);
    assert_string_equal(err, "rec.cfg:3: anal");
    assert_int_equal(parse(cfg, base_dat, strlen(base_dat), &ct, NULL, 0), -PQ_EFORMAT);
    assert_int_equal(pq_comtrade_parse(NULL, NULL, 0, NULL, 0, &ct, err, sizeof(err)),
                     -PQ_EFORMAT);
    assert_string_equal(err, "cfg:1: station ");
    assert_int_equal(pq_comtrade_parse_cff(NULL, NULL, 0, &ct, NULL, 0), -PQ_EFORMAT);
    assert_null(ct);
    pq_comtrade_free(NULL);
    assert_string_equal(pq_comtrade_format_name(PQ_CT_BINARY32), "BINARY32");
    assert_string_equal(pq_comtrade_format_name(9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_comtrade_sample_ascii_loads_4a_4d_at_1200_hz_with_scaled_values),
        cmocka_unit_test(test_comtrade_sample_ascii_cff_equals_the_cfg_and_dat_pair),
        cmocka_unit_test(test_comtrade_sample_ascii_missing_has_nan_where_99999),
        cmocka_unit_test(test_comtrade_sample_utf8_cfg_keeps_its_utf8_station_name),
        cmocka_unit_test(test_comtrade_sample_sub_char_cfg_ends_at_the_sub),
        cmocka_unit_test(test_comtrade_sample_bin_is_1999_binary_4a_16d_in_kv),
        cmocka_unit_test(test_comtrade_sample_bin_missing_has_nan_for_0x8000),
        cmocka_unit_test(test_comtrade_sample_float32_cff_has_301_samples_at_100_hz),
        cmocka_unit_test(test_comtrade_sample_iso8859_1_names_come_out_as_utf8),
        cmocka_unit_test(
            test_comtrade_sample_iso8859_1_ascii_and_binary_agree_within_half_an_amp),
        cmocka_unit_test(test_comtrade_load_of_a_dat_finds_its_cfg),
        cmocka_unit_test(test_comtrade_load_finds_companions_in_any_letter_case),
        cmocka_unit_test(test_comtrade_load_refuses_folders_long_paths_and_huge_files),
        cmocka_unit_test(test_comtrade_load_errors_name_the_path),
        cmocka_unit_test(test_comtrade_binary32_values_status_and_missing_marker),
        cmocka_unit_test(test_comtrade_float32_secondary_values_scale_to_primary),
        cmocka_unit_test(test_comtrade_binary_secondary_values_scale_to_primary),
        cmocka_unit_test(test_comtrade_cff_written_here_with_binary_dat_and_crlf),
        cmocka_unit_test(
            test_comtrade_cff_written_here_with_ascii_reals_and_empty_fields),
        cmocka_unit_test(test_comtrade_ascii_1999_missing_value_99999_is_nan),
        cmocka_unit_test(test_comtrade_several_rates_give_segment_times_and_rates),
        cmocka_unit_test(test_comtrade_nrates_0_uses_ascii_timestamps_times_timemult),
        cmocka_unit_test(test_comtrade_nrates_0_binary_with_ns_base_and_no_count_line),
        cmocka_unit_test(test_comtrade_time_codes_give_utc_and_quality),
        cmocka_unit_test(test_comtrade_time_code_forms_parse),
        cmocka_unit_test(test_comtrade_t21_binary_2a_2d_is_14_bytes_a_record),
        cmocka_unit_test(test_comtrade_t21_dat_of_the_wrong_size_names_the_byte_offset),
        cmocka_unit_test(test_comtrade_t21_4a_16d_record_sizes_per_format),
        cmocka_unit_test(
            test_comtrade_1991_file_with_two_digit_year_and_short_lines_parses),
        cmocka_unit_test(test_comtrade_blanks_crlf_and_letter_case_are_accepted),
        cmocka_unit_test(test_comtrade_long_names_are_cut_on_a_utf8_boundary),
        cmocka_unit_test(test_comtrade_base_of_the_error_cases_parses),
        cmocka_unit_test(test_comtrade_bad_analog_field_names_line_channel_and_field),
        cmocka_unit_test(test_comtrade_bad_header_and_counts_name_their_field),
        cmocka_unit_test(test_comtrade_bad_rates_and_frequency_name_their_field),
        cmocka_unit_test(test_comtrade_bad_times_name_their_field),
        cmocka_unit_test(test_comtrade_bad_tail_lines_name_their_field),
        cmocka_unit_test(test_comtrade_bad_2013_lines_name_their_field),
        cmocka_unit_test(test_comtrade_bad_ascii_data_names_line_and_field),
        cmocka_unit_test(
            test_comtrade_binary_missing_timestamp_with_nrates_0_is_an_error),
        cmocka_unit_test(test_comtrade_bad_cff_structure_names_the_line),
        cmocka_unit_test(test_comtrade_more_malformed_lines_name_their_field),
        cmocka_unit_test(test_comtrade_invalid_utf8_is_read_as_iso8859_1),
        cmocka_unit_test(test_comtrade_cff_binary_dat_without_a_count_runs_to_the_end),
        cmocka_unit_test(test_comtrade_empty_dat_without_a_sample_count_has_no_samples),
        cmocka_unit_test(test_comtrade_dat_errors_are_named_after_the_cfg_in_its_case),
        cmocka_unit_test(test_comtrade_error_text_respects_errcap_and_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
