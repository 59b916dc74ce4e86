/* test_adc_replay.c - the "replay" sample source on COMTRADE files written
 * here (1999 revision, ASCII data) into a private temporary folder, read
 * back through the real loader and parser.
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
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "drivers/adc/adc.h"
#include "drivers/adc/adc_impl.h"
#include "pq/err.h"

static char dir[64];

/* ---- a tiny COMTRADE writer ------------------------------------------------ */

struct ct_chan {
    const char *id, *ph, *unit;
    double a; /* value = a * raw, primary */
};

/* Write NAME.cfg and NAME.dat: nch analog channels, no status channels,
 * raw[k * nch + c] as ASCII integers (99999: missing), one rate or two
 * (rate2 > 0: samples from n1 on at rate2).  Returns the .cfg's path. */
static const char *write_ct(const char *name, const struct ct_chan *ch, size_t nch,
                            const long *raw, size_t n, double rate, size_t n1,
                            double rate2)
{
    static char path[128];
    char dat[128];
    FILE *f;
    double t_us = 0;

    snprintf(path, sizeof(path), "%s/%s.cfg", dir, name);
    snprintf(dat, sizeof(dat), "%s/%s.dat", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "test station,rec 1,1999\r\n%zu,%zuA,0D\r\n", nch, nch);
    for (size_t c = 0; c < nch; c++) {
        fprintf(f, "%zu,%s,%s,,%s,%.17g,0,0,-99999,99999,1,1,P\r\n", c + 1, ch[c].id,
                ch[c].ph, ch[c].unit, ch[c].a);
    }
    fprintf(f, "50\r\n");
    if (rate2 > 0) {
        fprintf(f, "2\r\n%g,%zu\r\n%g,%zu\r\n", rate, n1, rate2, n);
    } else {
        fprintf(f, "1\r\n%g,%zu\r\n", rate, n);
    }
    fprintf(f,
            "01/01/2024,00:00:00.500000\r\n01/01/2024,00:00:00.600000\r\nASCII\r\n1\r\n");
    assert_int_equal(fclose(f), 0);
    f = fopen(dat, "w");
    assert_non_null(f);
    for (size_t k = 0; k < n; k++) {
        fprintf(f, "%zu,%.0f", k + 1, t_us);
        t_us += 1e6 / (rate2 > 0 && k + 1 >= n1 ? rate2 : rate);
        for (size_t c = 0; c < nch; c++) {
            fprintf(f, ",%ld", raw[k * nch + c]);
        }
        fprintf(f, "\r\n");
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

static struct meter_cfg *load_meter(const char *yaml)
{
    struct cfg_diag d;
    void *obj = NULL;
    int rc;

    cfg_diag_init(&d);
    rc = cfg_load(&meter_schema, "t.yaml", (const uint8_t *) yaml, strlen(yaml), NULL, 0,
                  &obj, &d);
    if (rc != 0) {
        cfg_diag_print(&d, stderr);
    }
    cfg_diag_fini(&d);
    assert_int_equal(rc, 0);
    return obj;
}

/* Open path as a replay source; returns the code of adc_open(). */
static int open_replay(const char *path, const char *pace, int loop, struct adc **a)
{
    char yaml[512];
    struct meter_cfg *m;
    int rc;

    snprintf(yaml, sizeof(yaml),
             "source: replay\nreplay: {file: '%s', pace: %s, loop: %s}\n", path, pace,
             loop ? "true" : "false");
    m = load_meter(yaml);
    rc = adc_open(m, a);
    cfg_free(&meter_schema, m);
    return rc;
}

/* Six channels in a muddled order, one of each kind of unit. */
static const struct ct_chan mixed[] = {
    {"IB kA", "B", "kA", 0.001}, {"VA", "A", "kV", 0.001}, {"VC", "L3", "V", 1},
    {"F", "", "Hz", 0.01},       {"IA", "a", "A", 1},      {"VB", "l2", "V", 1},
};

#define MIXED_N 100

static long mixed_raw(size_t k, size_t c)
{
    return (long) ((k * 37 + c * 1001) % 20001) - 10000;
}

static void test_replay_maps_phases_and_scales_kv_and_ka(void **state)
{
    static const int roles[] = {ADC_UA, ADC_UB, ADC_UC, ADC_IA, ADC_IB};
    static const char *const ids[] = {"VA", "VB", "VC", "IA", "IB kA"};
    static const size_t src[] = {1, 5, 2, 4, 0}; /* file column of each channel */
    long raw[MIXED_N * 6];
    float buf[MIXED_N * 5];
    struct adc_info info;
    struct adc *a = NULL;
    size_t n = 0;

    (void) state;
    for (size_t k = 0; k < MIXED_N; k++) {
        for (size_t c = 0; c < 6; c++) {
            raw[k * 6 + c] = mixed_raw(k, c);
        }
    }
    assert_int_equal(
        open_replay(write_ct("mixed", mixed, 6, raw, MIXED_N, 1000, 0, 0), "fast", 0, &a),
        0);
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.nch, 5);
    assert_true(info.fs_hz == 1000);
    assert_int_equal(info.realtime, 0);
    assert_int_equal(info.start_ns,
                     1704067200500000000LL); /* 2024-01-01 00:00:00.5 UTC */
    for (size_t c = 0; c < 5; c++) {
        assert_int_equal(info.role[c], roles[c]);
        assert_string_equal(info.name[c], ids[c]);
        assert_string_equal(info.unit[c], c < 3 ? "V" : "A");
    }
    assert_int_equal(adc_read(a, buf, MIXED_N, &n), 0);
    assert_int_equal(n, MIXED_N);
    for (size_t k = 0; k < MIXED_N; k++) {
        for (size_t c = 0; c < 5; c++) {
            /* kV x 0.001 per count and kA likewise: one V or A per count */
            assert_true(buf[k * 5 + c] == (float) mixed_raw(k, src[c]));
        }
    }
    assert_int_equal(adc_read(a, buf, MIXED_N, &n), -PQ_EEOF);
    assert_int_equal(n, 0);
    assert_int_equal(adc_read(a, buf, MIXED_N, &n), -PQ_EEOF);
    assert_int_equal(adc_fd(a), -1);
    adc_close(a);
}

static void test_replay_fast_reads_in_pieces_then_ends(void **state)
{
    static const struct ct_chan ch[] = {{"U", "A", "V", 1}};
    long raw[10];
    float buf[4];
    struct adc *a = NULL;
    size_t n;

    (void) state;
    for (long k = 0; k < 10; k++) {
        raw[k] = k * 10;
    }
    assert_int_equal(
        open_replay(write_ct("ten", ch, 1, raw, 10, 4000, 0, 0), "fast", 0, &a), 0);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(adc_read(a, buf, 4, &n), 0);
        assert_int_equal(n, 4);
        assert_true(buf[0] == (float) (r * 40) && buf[3] == (float) (r * 40 + 30));
    }
    assert_int_equal(adc_read(a, buf, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_true(buf[1] == 90.0f);
    assert_int_equal(adc_read(a, buf, 4, &n), -PQ_EEOF);
    adc_close(a);
}

static void test_replay_loop_starts_again_and_never_ends(void **state)
{
    static const struct ct_chan ch[] = {{"I", "", "A", 1}};
    long raw[3] = {1, 2, 3};
    float buf[8];
    struct adc *a = NULL;
    size_t n;

    (void) state;
    assert_int_equal(
        open_replay(write_ct("three", ch, 1, raw, 3, 4000, 0, 0), "fast", 1, &a), 0);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(adc_read(a, buf, 8, &n), 0);
        assert_int_equal(n, 8);
        for (size_t k = 0; k < 8; k++) {
            assert_true(buf[k] == (float) (((size_t) r * 8 + k) % 3 + 1));
        }
    }
    adc_close(a);
}

/* Without a usable ph, channel order; a phase given twice keeps the first. */
static void test_replay_unnamed_phases_take_channel_order(void **state)
{
    static const struct ct_chan ch[] = {
        {"U1", "", "V", 1},   {"U2", "X", "V", 1}, {"UA", "A", "V", 1},
        {"UA2", "A", "V", 1}, {"U3", "", "V", 1},  {"I1", "", "A", 1},
    };
    long raw[6] = {1, 2, 3, 4, 5, 6};
    struct adc_info info;
    struct adc *a = NULL;
    float buf[5];
    size_t n;

    (void) state;
    assert_int_equal(
        open_replay(write_ct("order", ch, 6, raw, 1, 4000, 0, 0), "fast", 0, &a), 0);
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.nch, 5);
    /* UA named; U1, U2, U3 fill B, C, N; UA2 left out */
    assert_string_equal(info.name[0], "UA");
    assert_string_equal(info.name[1], "U1");
    assert_string_equal(info.name[2], "U2");
    assert_string_equal(info.name[3], "U3");
    assert_int_equal(info.role[3], ADC_UN);
    assert_int_equal(info.role[4], ADC_IA);
    assert_int_equal(adc_read(a, buf, 1, &n), 0);
    assert_true(buf[0] == 3 && buf[1] == 1 && buf[2] == 2 && buf[3] == 5 && buf[4] == 6);
    adc_close(a);
}

static void test_replay_missing_value_is_nan(void **state)
{
    static const struct ct_chan ch[] = {{"U", "A", "V", 1}};
    long raw[3] = {5, 99999, 7};
    struct adc *a = NULL;
    float buf[3];
    size_t n;

    (void) state;
    assert_int_equal(
        open_replay(write_ct("gap", ch, 1, raw, 3, 4000, 0, 0), "fast", 0, &a), 0);
    assert_int_equal(adc_read(a, buf, 3, &n), 0);
    assert_int_equal(n, 3);
    assert_true(buf[0] == 5 && isnan(buf[1]) && buf[2] == 7);
    adc_close(a);
}

/* Samples at a second, different rate are not played. */
static void test_replay_plays_only_the_first_rate(void **state)
{
    static const struct ct_chan ch[] = {{"U", "A", "V", 1}};
    long raw[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct adc_info info;
    struct adc *a = NULL;
    float buf[10];
    size_t n;

    (void) state;
    assert_int_equal(
        open_replay(write_ct("tworates", ch, 1, raw, 10, 4000, 6, 1000), "fast", 0, &a),
        0);
    assert_int_equal(adc_info(a, &info), 0);
    assert_true(info.fs_hz == 4000);
    assert_int_equal(adc_read(a, buf, 10, &n), 0);
    assert_int_equal(n, 6);
    assert_true(buf[5] == 5);
    assert_int_equal(adc_read(a, buf, 10, &n), -PQ_EEOF);
    adc_close(a);
}

static int64_t fake_mono_ns, fake_real_ns;

static int64_t fake_clock(clockid_t clock)
{
    return clock == CLOCK_MONOTONIC ? fake_mono_ns : fake_real_ns;
}

static void test_replay_realtime_is_paced_and_stamped_now(void **state)
{
    static const struct ct_chan ch[] = {{"U", "A", "V", 1}};
    long raw[2000];
    struct adc_info info;
    struct adc *a = NULL;
    float buf[2000];
    size_t n;

    (void) state;
    for (long k = 0; k < 2000; k++) {
        raw[k] = k;
    }
    fake_mono_ns = 1000;
    fake_real_ns = 1800000000000000000LL;
    adc_clock_ns = fake_clock;
    assert_int_equal(
        open_replay(write_ct("paced", ch, 1, raw, 2000, 1000, 0, 0), "realtime", 0, &a),
        0);
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.realtime, 1);
    assert_int_equal(info.start_ns, 1800000000000000000LL);
    assert_int_equal(adc_read(a, buf, 2000, &n), 0);
    assert_int_equal(n, 0);
    fake_mono_ns += 250000000; /* 250 ms at 1 kHz */
    assert_int_equal(adc_read(a, buf, 2000, &n), 0);
    assert_int_equal(n, 250);
    assert_true(buf[249] == 249);
    fake_mono_ns += 10000000000LL; /* far past the end */
    assert_int_equal(adc_read(a, buf, 2000, &n), 0);
    assert_int_equal(n, 1750);
    assert_int_equal(adc_read(a, buf, 2000, &n), -PQ_EEOF);
    adc_close(a);
    adc_clock_ns = adc_clock_system;
}

static void test_replay_open_failures_leave_nothing_open(void **state)
{
    static const struct ct_chan hz[] = {{"F", "A", "Hz", 1}};
    long raw[1] = {50};
    char path[128];
    struct adc *a = (struct adc *) 0x1;
    FILE *f;

    (void) state;
    snprintf(path, sizeof(path), "%s/none.cfg", dir);
    assert_int_equal(open_replay(path, "fast", 0, &a), -ENOENT);
    /* no voltage or current in it */
    assert_int_equal(
        open_replay(write_ct("hz", hz, 1, raw, 1, 1000, 0, 0), "fast", 0, &a),
        -PQ_ECONFIG);
    /* not COMTRADE */
    snprintf(path, sizeof(path), "%s/junk.cfg", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not a recording\n", f);
    fclose(f);
    snprintf(path + strlen(path) - 3, 4, "dat");
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path + strlen(path) - 3, 4, "cfg");
    assert_int_equal(open_replay(path, "fast", 0, &a), -PQ_EFORMAT);
    assert_ptr_equal(a, (struct adc *) 0x1);
}

static void test_replay_config_needs_a_file(void **state)
{
    const char *yaml = "source: replay\n";
    struct cfg_diag d;
    void *obj = NULL;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(cfg_load(&meter_schema, "t.yaml", (const uint8_t *) yaml,
                              strlen(yaml), NULL, 0, &obj, &d),
                     -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    /* the meter section is this file's top: no path before the message */
    assert_string_equal(d.msgs[0],
                        "t.yaml:1:1: replay.file is required with source replay");
    cfg_diag_fini(&d);
}

static int make_dir(void **state)
{
    (void) state;
    snprintf(dir, sizeof(dir), "/tmp/test_adc_replay.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_maps_phases_and_scales_kv_and_ka),
        cmocka_unit_test(test_replay_fast_reads_in_pieces_then_ends),
        cmocka_unit_test(test_replay_loop_starts_again_and_never_ends),
        cmocka_unit_test(test_replay_unnamed_phases_take_channel_order),
        cmocka_unit_test(test_replay_missing_value_is_nan),
        cmocka_unit_test(test_replay_plays_only_the_first_rate),
        cmocka_unit_test(test_replay_realtime_is_paced_and_stamped_now),
        cmocka_unit_test(test_replay_open_failures_leave_nothing_open),
        cmocka_unit_test(test_replay_config_needs_a_file),
    };

    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
