/* test_tzif.c - the TZif reader: offsets at known UTC instants on both
 * change days of four zones (half-hour offsets included), the footer rule
 * after the last transition, civil to UTC in the gap and the overlap, a
 * sweep against the C library, and malformed files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gateway/tzif.h"
#include "pq/err.h"
#include "pq/utc.h"

/* seconds since the epoch of a UTC date and time */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return pq_days_from_civil(y, (unsigned) mo, (unsigned) d) * 86400 + h * 3600 +
           mi * 60;
}

static struct tzif *load(const char *name)
{
    struct tzif *z = NULL;

    assert_int_equal(tzif_load(name, &z), 0);
    assert_non_null(z);
    return z;
}

/* Offset one second before and at a change instant. */
static void change_at(const struct tzif *z, int64_t t, int32_t before, int32_t after)
{
    assert_int_equal(tzif_offset(z, t - 1, NULL), before);
    assert_int_equal(tzif_offset(z, t, NULL), after);
}

static void test_tzif_paris_2026_changes_at_0100_utc_on_both_days(void **state)
{
    struct tzif *z = load("Europe/Paris");
    int dst;

    (void) state;
    /* EU rule (Directive 2000/84/EC): last Sunday of March and October,
     * 01:00 UTC */
    change_at(z, utc(2026, 3, 29, 1, 0), 3600, 7200);
    change_at(z, utc(2026, 10, 25, 1, 0), 7200, 3600);
    assert_int_equal(tzif_offset(z, utc(2026, 7, 1, 12, 0), &dst), 7200);
    assert_int_equal(dst, 1);
    assert_int_equal(tzif_offset(z, utc(2026, 1, 1, 12, 0), &dst), 3600);
    assert_int_equal(dst, 0);
    tzif_free(z);
}

static void test_tzif_new_york_2026_changes_at_0200_local(void **state)
{
    struct tzif *z = load("America/New_York");

    (void) state;
    /* US rule: second Sunday of March, first Sunday of November, 02:00 */
    change_at(z, utc(2026, 3, 8, 7, 0), -5 * 3600, -4 * 3600);
    change_at(z, utc(2026, 11, 1, 6, 0), -4 * 3600, -5 * 3600);
    tzif_free(z);
}

static void test_tzif_adelaide_half_hour_dst_southern_hemisphere(void **state)
{
    struct tzif *z = load("Australia/Adelaide");

    (void) state;
    /* +10:30 until 03:00 ACDT on the first Sunday of April (2026-04-05),
     * +09:30 until 02:00 ACST on the first Sunday of October (2026-10-04) */
    change_at(z, utc(2026, 4, 4, 16, 30), 37800, 34200);
    change_at(z, utc(2026, 10, 3, 16, 30), 34200, 37800);
    assert_int_equal(tzif_offset(z, utc(2026, 12, 31, 23, 0), NULL), 37800);
    tzif_free(z);
}

static void test_tzif_kolkata_is_always_plus_0530(void **state)
{
    struct tzif *z = load("Asia/Kolkata");

    (void) state;
    for (int m = 1; m <= 12; m++) {
        assert_int_equal(tzif_offset(z, utc(2026, m, 15, 0, 0), NULL), 19800);
    }
    assert_int_equal(tzif_offset(z, utc(2060, 6, 1, 0, 0), NULL), 19800);
    tzif_free(z);
}

static void test_tzif_after_last_transition_uses_the_footer_rule(void **state)
{
    struct tzif *z = load("Europe/Paris");
    struct tzif *ny = load("America/New_York");

    (void) state;
    /* 2045: past the 2037 end of the transition table of "fat" files */
    change_at(z, utc(2045, 3, 26, 1, 0), 3600, 7200);
    change_at(z, utc(2045, 10, 29, 1, 0), 7200, 3600);
    change_at(ny, utc(2045, 3, 12, 7, 0), -5 * 3600, -4 * 3600);
    tzif_free(z);
    tzif_free(ny);
}

static void test_tzif_local_in_overlap_gives_earlier_instant(void **state)
{
    struct tzif *z = load("Europe/Paris");

    (void) state;
    /* 2026-10-25 02:30 happens twice: 00:30 UTC (CEST) and 01:30 UTC (CET) */
    assert_int_equal(tzif_utc_from_local(z, utc(2026, 10, 25, 2, 30)),
                     utc(2026, 10, 25, 0, 30));
    assert_int_equal(tzif_utc_from_local(z, utc(2026, 10, 25, 3, 0)),
                     utc(2026, 10, 25, 2, 0));
    tzif_free(z);
}

static void test_tzif_local_in_gap_reads_with_offset_before(void **state)
{
    struct tzif *z = load("Europe/Paris");

    (void) state;
    /* 2026-03-29 02:30 does not exist: read as CET, 01:30 UTC (03:30 CEST) */
    assert_int_equal(tzif_utc_from_local(z, utc(2026, 3, 29, 2, 30)),
                     utc(2026, 3, 29, 1, 30));
    assert_int_equal(tzif_utc_from_local(z, utc(2026, 3, 29, 0, 0)),
                     utc(2026, 3, 28, 23, 0));
    assert_int_equal(tzif_utc_from_local(z, utc(2026, 3, 30, 0, 0)),
                     utc(2026, 3, 29, 22, 0));
    tzif_free(z);
}

/* Every zone against the C library at 20000 seeded instants 1971..2060. */
static void test_tzif_agrees_with_the_c_library_on_a_sweep(void **state)
{
    static const char *const zones[] = {"Europe/Paris",       "America/New_York",
                                        "Australia/Adelaide", "Asia/Kolkata",
                                        "Europe/Berlin",      "America/Sao_Paulo"};
    unsigned seed = 12345;

    (void) state;
    for (size_t k = 0; k < sizeof(zones) / sizeof(zones[0]); k++) {
        struct tzif *z = load(zones[k]);

        setenv("TZ", zones[k], 1); /* single-threaded test: the reference */
        tzset();
        for (int i = 0; i < 20000; i++) {
            time_t t = (time_t) (utc(1971, 1, 1, 0, 0) +
                                 (int64_t) (rand_r(&seed) % 2000000) * 1420);
            struct tm tm;

            localtime_r(&t, &tm);
            if (tzif_offset(z, (int64_t) t, NULL) != tm.tm_gmtoff) {
                fail_msg("%s at %lld: %d, libc %ld", zones[k], (long long) t,
                         tzif_offset(z, (int64_t) t, NULL), tm.tm_gmtoff);
            }
        }
        tzif_free(z);
    }
    unsetenv("TZ");
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = test_malloc(65536);

    assert_non_null(f);
    *len = fread(buf, 1, 65536, f);
    fclose(f);
    return buf;
}

static void test_tzif_truncated_or_bad_files_are_format_errors(void **state)
{
    size_t len;
    uint8_t *buf = slurp("/usr/share/zoneinfo/Europe/Paris", &len);
    struct tzif *z = NULL;

    (void) state;
    for (size_t cut = 0; cut < len; cut += 7) {
        int rc = tzif_parse(buf, cut, "cut", &z);

        assert_int_equal(rc, -PQ_EFORMAT);
    }
    buf[0] = 'X';
    assert_int_equal(tzif_parse(buf, len, "bad", &z), -PQ_EFORMAT);
    assert_null(z);
    test_free(buf);
}

static void test_tzif_version_1_block_alone_is_read(void **state)
{
    size_t len;
    uint8_t *buf = slurp("/usr/share/zoneinfo/America/New_York", &len);
    struct tzif *z = NULL;

    (void) state;
    buf[4] = 0; /* claim version 1: only the 32-bit block is read */
    assert_int_equal(tzif_parse(buf, len, "v1", &z), 0);
    change_at(z, utc(2007, 3, 11, 7, 0), -5 * 3600, -4 * 3600);
    tzif_free(z);
    test_free(buf);
}

static void test_tzif_bad_or_unknown_names_are_refused(void **state)
{
    struct tzif *z = NULL;

    (void) state;
    assert_int_equal(tzif_load("Europe/Atlantis", &z), -PQ_ENOTFOUND);
    assert_int_equal(tzif_load("../etc/passwd", &z), -EINVAL);
    assert_int_equal(tzif_load("/etc/passwd", &z), -EINVAL);
    assert_int_equal(tzif_load("", &z), -EINVAL);
    assert_int_equal(tzif_load("Europe", &z), -PQ_ENOTFOUND); /* a folder */
    assert_null(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tzif_paris_2026_changes_at_0100_utc_on_both_days),
        cmocka_unit_test(test_tzif_new_york_2026_changes_at_0200_local),
        cmocka_unit_test(test_tzif_adelaide_half_hour_dst_southern_hemisphere),
        cmocka_unit_test(test_tzif_kolkata_is_always_plus_0530),
        cmocka_unit_test(test_tzif_after_last_transition_uses_the_footer_rule),
        cmocka_unit_test(test_tzif_local_in_overlap_gives_earlier_instant),
        cmocka_unit_test(test_tzif_local_in_gap_reads_with_offset_before),
        cmocka_unit_test(test_tzif_agrees_with_the_c_library_on_a_sweep),
        cmocka_unit_test(test_tzif_truncated_or_bad_files_are_format_errors),
        cmocka_unit_test(test_tzif_version_1_block_alone_is_read),
        cmocka_unit_test(test_tzif_bad_or_unknown_names_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
