/* test_utc.c - pq/utc: calendar dates of nanosecond times.
 *
 * Checked against fixed dates worked out by hand (epoch, leap days, century
 * rules, times before 1970) and against glibc's gmtime_r/timegm as an
 * independent implementation over every day of +-3000 years.  Dates are
 * integers: every comparison is exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "pq/utc.h"

#define SPAN_DAYS (3000LL * 366) /* days either side of 1970 swept */

static void expect_utc(int64_t t_ns, int64_t y, unsigned mo, unsigned d, unsigned h,
                       unsigned mi, unsigned s, int64_t ns)
{
    struct pq_utc u;

    pq_utc_from_ns(t_ns, &u);
    assert_int_equal(u.year, y);
    assert_int_equal(u.month, mo);
    assert_int_equal(u.day, d);
    assert_int_equal(u.hour, h);
    assert_int_equal(u.minute, mi);
    assert_int_equal(u.second, s);
    assert_int_equal(u.nsec, ns);
}

static void test_floor_div_rounds_toward_minus_infinity(void **state)
{
    (void) state;
    assert_int_equal(pq_floor_div(7, 2), 3);
    assert_int_equal(pq_floor_div(6, 2), 3);
    assert_int_equal(pq_floor_div(0, 5), 0);
    assert_int_equal(pq_floor_div(-1, 5), -1);
    assert_int_equal(pq_floor_div(-5, 5), -1);
    assert_int_equal(pq_floor_div(-6, 5), -2);
    assert_int_equal(pq_floor_div(INT64_MIN, PQ_DAY_NS), -106752);
}

static void test_fixed_dates(void **state)
{
    (void) state;
    expect_utc(0, 1970, 1, 1, 0, 0, 0, 0);
    expect_utc(-1, 1969, 12, 31, 23, 59, 59, 999999999);
    /* 2000 is a leap year (divisible by 400): 2000-02-29 is day 11016. */
    expect_utc(11016 * PQ_DAY_NS + 12 * 3600 * PQ_NS_PER_S + 5, 2000, 2, 29, 12, 0, 0, 5);
    expect_utc(11017 * PQ_DAY_NS, 2000, 3, 1, 0, 0, 0, 0);
    /* 1900 is not (divisible by 100 only): 1900-02-28 is followed by 03-01. */
    expect_utc(-25509 * PQ_DAY_NS, 1900, 2, 28, 0, 0, 0, 0);
    expect_utc(-25508 * PQ_DAY_NS, 1900, 3, 1, 0, 0, 0, 0);
    expect_utc(1704067200LL * PQ_NS_PER_S - 1, 2023, 12, 31, 23, 59, 59, 999999999);
    expect_utc(1782777599LL * PQ_NS_PER_S + 123456789, 2026, 6, 29, 23, 59, 59,
               123456789);
    assert_int_equal(pq_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(pq_days_from_civil(2000, 2, 29), 11016);
    assert_int_equal(pq_days_from_civil(1900, 3, 1), -25508);
    assert_int_equal(pq_days_from_civil(2024, 1, 1), 19723);
    assert_int_equal(pq_days_from_civil(0, 3, 1), -719468);
}

/* Extremes of int64 ns: about 1677-09-21 and 2262-04-11. */
static void test_int64_extremes(void **state)
{
    (void) state;
    expect_utc(INT64_MIN, 1677, 9, 21, 0, 12, 43, 145224192);
    expect_utc(INT64_MAX, 2262, 4, 11, 23, 47, 16, 854775807);
}

static void test_every_day_agrees_with_gmtime_and_round_trips(void **state)
{
    const int64_t ns_days = INT64_MAX / PQ_DAY_NS; /* days an int64 ns reaches */

    (void) state;
    for (int64_t day = -SPAN_DAYS; day <= SPAN_DAYS; day++) {
        time_t t = (time_t) (day * 86400 + 3723); /* 01:02:03 */
        struct tm tm;
        int64_t y;

        assert_non_null(gmtime_r(&t, &tm));
        y = (int64_t) tm.tm_year + 1900;
        assert_int_equal(
            pq_days_from_civil(y, (unsigned) tm.tm_mon + 1, (unsigned) tm.tm_mday), day);
        if (day >= -ns_days && day < ns_days) {
            expect_utc(day * PQ_DAY_NS + 3723 * PQ_NS_PER_S + 7, y,
                       (unsigned) tm.tm_mon + 1, (unsigned) tm.tm_mday, 1, 2, 3, 7);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floor_div_rounds_toward_minus_infinity),
        cmocka_unit_test(test_fixed_dates),
        cmocka_unit_test(test_int64_extremes),
        cmocka_unit_test(test_every_day_agrees_with_gmtime_and_round_trips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
