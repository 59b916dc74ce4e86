/* test_trend.c - trend statistics (exact against a direct computation, the
 * rings of 24 h, 31 days, 8 weeks and 12 months, UTC period boundaries,
 * persistence) and the forecast's error on a synthetic daily and weekly
 * profile with seeded noise, printed as "# forecast ..." lines. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/trend.h"
#include "pq/utc.h"

#define assert_close(got, want, tol) close_at((got), (want), (tol), __FILE__, __LINE__)
#define HOUR                         (3600LL * PQ_NS_PER_S)
#define MINUTE                       (60LL * PQ_NS_PER_S)

static void close_at(double got, double want, double tol, const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.17g, want %.17g +- %g\n", got, want, tol);
        _fail(file, line);
    }
}

static int64_t utc_ns(int y, int mo, int d, int h)
{
    return (pq_days_from_civil(y, (unsigned) mo, (unsigned) d) * 86400 + h * 3600) *
           PQ_NS_PER_S;
}

static struct trend *new_trend(void)
{
    struct trend *t = test_malloc(sizeof(*t));

    trend_init(t);
    return t;
}

static void test_trend_hour_statistics_equal_a_direct_computation(void **state)
{
    struct trend *t = new_trend();
    struct trend_stat h[TREND_HOURS], d[TREND_DAYS];
    int64_t t0 = utc_ns(2026, 3, 2, 0);
    double all_sum = 0, all_sum2 = 0;
    int n_all = 0;

    (void) state;
    /* 48 hours of values every 10 s: v = 1000 + 50 sin + a ramp */
    for (int64_t i = 1; i <= 48 * 360; i++) {
        double v = 1000.0 + 50.0 * sin((double) i * 0.01) + (double) i * 1e-3;

        assert_true(trend_add(t, v, t0 + i * 10 * PQ_NS_PER_S) >= 0);
        if (i <= 24 * 360) { /* the first day */
            all_sum += v;
            all_sum2 += v * v;
            n_all++;
        }
    }
    assert_int_equal(trend_tick(t, t0 + 48 * HOUR + 1), 1 << TREND_HOUR | 1 << TREND_DAY);
    assert_int_equal(trend_history(t, TREND_HOUR, h, TREND_HOURS), 24);
    assert_int_equal(trend_history(t, TREND_DAY, d, TREND_DAYS), 2);
    /* the first day (hours merged into it) against a direct computation */
    assert_true(d[0].start_ns == t0);
    assert_int_equal(d[0].n, n_all);
    assert_close(d[0].mean, all_sum / n_all, 1e-9);
    assert_close(trend_stat_sd(&d[0]),
                 sqrt(all_sum2 / n_all - (all_sum / n_all) * (all_sum / n_all)), 1e-6);
    assert_true(h[23].start_ns == t0 + 47 * HOUR);
    assert_true(h[0].start_ns == t0 + 24 * HOUR);
    test_free(t);
}

static void test_trend_first_hour_exact_mean_min_max_sd(void **state)
{
    struct trend *t = new_trend();
    struct trend_stat h[1];
    int64_t t0 = utc_ns(2026, 3, 2, 10);

    (void) state;
    /* 1, 2, 3, 4 in the hour 10:00-11:00; the one stamped 11:00:00 belongs
     * to it too (end of its measurement) */
    trend_add(t, 1.0, t0 + 1);
    trend_add(t, 2.0, t0 + 15 * MINUTE);
    trend_add(t, 4.0, t0 + 30 * MINUTE);
    trend_add(t, 3.0, t0 + HOUR);
    assert_int_equal(trend_history(t, TREND_HOUR, h, 1), 0);
    assert_int_equal(trend_add(t, 100.0, t0 + HOUR + 1), 1 << TREND_HOUR);
    assert_int_equal(trend_history(t, TREND_HOUR, h, 1), 1);
    assert_true(h[0].start_ns == t0);
    assert_int_equal(h[0].n, 4);
    assert_close(h[0].mean, 2.5, 1e-12);
    assert_close(h[0].min, 1.0, 0);
    assert_close(h[0].max, 4.0, 0);
    assert_close(trend_stat_sd(&h[0]), sqrt(1.25), 1e-12);
    /* a value older than the hour in progress is refused */
    assert_int_equal(trend_add(t, 5.0, t0 + 10 * MINUTE), -1);
    test_free(t);
}

static void test_trend_weeks_start_monday_and_rings_keep_the_newest(void **state)
{
    struct trend *t = new_trend();
    struct trend_stat w[TREND_WEEKS], m[TREND_MONTHS], d[TREND_DAYS];
    int64_t t0 = utc_ns(2025, 1, 1, 0); /* a Wednesday */

    (void) state;
    /* one value per hour for 430 days: value = month number */
    for (int64_t i = 1; i <= 430 * 24; i++) {
        struct pq_utc u;

        pq_utc_from_ns(t0 + i * HOUR - 1, &u);
        trend_add(t, (double) u.month, t0 + i * HOUR);
    }
    trend_tick(t, t0 + 431 * 24 * HOUR);
    assert_int_equal(trend_history(t, TREND_MONTH, m, TREND_MONTHS), 12);
    assert_int_equal(trend_history(t, TREND_WEEK, w, TREND_WEEKS), 8);
    assert_int_equal(trend_history(t, TREND_DAY, d, TREND_DAYS), 31);
    /* 430 days from 2025-01-01: the last complete day is 2026-03-06; the
     * month in progress (March 2026) is incomplete, so months end with Feb */
    assert_true(m[11].start_ns == utc_ns(2026, 2, 1, 0));
    assert_true(m[0].start_ns == utc_ns(2025, 3, 1, 0));
    assert_int_equal(m[11].n, 28 * 24);
    assert_close(m[11].mean, 2.0, 1e-12);
    assert_close(trend_stat_sd(&m[11]), 0.0, 1e-9);
    assert_int_equal(m[10].n, 31 * 24); /* January 2026 */
    /* weeks start on Monday 00:00 UTC: 2026-03-02 is a Monday */
    assert_true(w[7].start_ns == utc_ns(2026, 2, 23, 0));
    assert_int_equal(w[7].n, 7 * 24);
    /* the week across the month change has both months' values */
    assert_true(w[6].start_ns == utc_ns(2026, 2, 16, 0));
    assert_true(d[30].start_ns == utc_ns(2026, 3, 6, 0));
    assert_int_equal(d[30].n, 24);
    test_free(t);
}

static void test_trend_state_survives_save_and_load(void **state)
{
    struct trend *t = new_trend(), *u = new_trend();
    struct trend_forecast f1[TREND_AHEAD], f2[TREND_AHEAD];
    size_t len;
    const void *bytes;
    unsigned char bad[16] = {0};

    (void) state;
    for (int i = 1; i < 500; i++) {
        trend_add(t, (double) (i % 37), utc_ns(2026, 3, 2, 0) + i * 7 * MINUTE);
    }
    bytes = trend_bytes(t, &len);
    assert_int_equal(trend_load(u, bytes, len), 0);
    assert_memory_equal(t, u, sizeof(*t));
    trend_forecast_hours(t, f1);
    trend_forecast_hours(u, f2);
    assert_close(f1[0].avg, f2[0].avg, 0);
    assert_int_equal(trend_load(u, bad, sizeof(bad)), -EINVAL);
    test_free(t);
    test_free(u);
}

/* ---- the forecast on a synthetic load profile ---- */

static uint64_t rng_state;

static double uniform(void)
{
    rng_state ^= rng_state << 13; /* xorshift64 */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double) (rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2.0 * log(uniform())) * cos(2.0 * M_PI * uniform());
}

#define WEEKS     10
#define NHOURS    (WEEKS * 7 * 24)
#define NDAYS     (WEEKS * 7)
#define EVAL_FROM (3 * 7 * 24) /* score from the 4th week on */

struct truth {
    double sum, min, max;
    int n;
};

/* A building: base 100 kW with a slowly wandering level (AR(1) per day,
 * sd 3 kW), business hours 07:00-19:00 adding a 60 kW half-sine on
 * weekdays and 15 kW on weekends, and per-minute noise of sd 5 kW. */
static double load_kw(int64_t minute, double level)
{
    int hour = (int) ((minute / 60) % 24);
    int dow = (int) ((minute / 1440) % 7); /* the run starts on a Monday */
    double shape =
        hour >= 7 && hour < 19 ? sin(M_PI * ((double) minute / 60.0 - 7) / 12) : 0.0;

    return level + (dow < 5 ? 60.0 : 15.0) * shape + 5.0 * gauss();
}

static double pct_err(double f, double a)
{
    return fabs(f - a) / fabs(a) * 100.0;
}

static void test_trend_forecast_beats_persistence_on_a_weekly_profile(void **state)
{
    struct trend *t = new_trend();
    static struct truth hour[NHOURS], day[NDAYS];
    static double fh[NHOURS + TREND_AHEAD][TREND_AHEAD][3];
    static double fd[NDAYS + TREND_AHEAD][TREND_AHEAD][3];
    static double naive_h[NHOURS][3];
    double level = 100.0, ape_h[TREND_AHEAD][3] = {{0}}, ape_d[TREND_AHEAD][3] = {{0}};
    double ape_naive[3] = {0}, sq_h1 = 0;
    int n_h[TREND_AHEAD] = {0}, n_d[TREND_AHEAD] = {0}, n_naive = 0;
    const int64_t t0 = utc_ns(2026, 1, 5, 0); /* Monday */

    (void) state;
    rng_state = 0x9e3779b97f4a7c15ull; /* seeded: the same figures every run */
    for (int i = 0; i < NHOURS; i++) {
        hour[i].min = day[i / 24].min = INFINITY;
        hour[i].max = day[i / 24].max = -INFINITY;
    }
    for (int64_t m = 0; m < (int64_t) NHOURS * 60; m++) {
        int h = (int) (m / 60), d = (int) (m / 1440);
        double v;
        int mask;

        if (m % 1440 == 0) {
            level = 100.0 + 0.8 * (level - 100.0) + 3.0 * gauss();
        }
        v = load_kw(m, level);
        hour[h].sum += v;
        hour[h].n++;
        hour[h].min = fmin(hour[h].min, v);
        hour[h].max = fmax(hour[h].max, v);
        day[d].sum += v;
        day[d].n++;
        day[d].min = fmin(day[d].min, v);
        day[d].max = fmax(day[d].max, v);
        /* stamped at the end of its minute */
        mask = trend_add(t, v, t0 + (m + 1) * MINUTE);
        if (m % 60 == 0) { /* first value of hour h: forecast h..h+3 */
            struct trend_forecast f[TREND_AHEAD];

            trend_forecast_hours(t, f);
            for (int k = 0; k < TREND_AHEAD; k++) {
                assert_true(f[k].start_ns == t0 + (h + k) * HOUR);
                fh[h + k][k][0] = f[k].avg;
                fh[h + k][k][1] = f[k].min;
                fh[h + k][k][2] = f[k].max;
            }
            if (h > 0) { /* persistence: the hour just completed */
                naive_h[h][0] = hour[h - 1].sum / hour[h - 1].n;
                naive_h[h][1] = hour[h - 1].min;
                naive_h[h][2] = hour[h - 1].max;
            }
        }
        if (m % 1440 == 0) {
            struct trend_forecast f[TREND_AHEAD];

            trend_forecast_days(t, f);
            for (int k = 0; k < TREND_AHEAD; k++) {
                fd[d + k][k][0] = f[k].avg;
                fd[d + k][k][1] = f[k].min;
                fd[d + k][k][2] = f[k].max;
            }
        }
        (void) mask;
    }
    for (int h = EVAL_FROM; h < NHOURS; h++) {
        const double a[3] = {hour[h].sum / hour[h].n, hour[h].min, hour[h].max};

        for (int k = 0; k < TREND_AHEAD; k++) {
            for (int q = 0; q < 3; q++) {
                ape_h[k][q] += pct_err(fh[h][k][q], a[q]);
            }
            n_h[k]++;
        }
        sq_h1 += (fh[h][0][0] - a[0]) * (fh[h][0][0] - a[0]);
        for (int q = 0; q < 3; q++) {
            ape_naive[q] += pct_err(naive_h[h][q], a[q]);
        }
        n_naive++;
    }
    for (int d = EVAL_FROM / 24; d < NDAYS; d++) {
        const double a[3] = {day[d].sum / day[d].n, day[d].min, day[d].max};

        for (int k = 0; k < TREND_AHEAD; k++) {
            for (int q = 0; q < 3; q++) {
                ape_d[k][q] += pct_err(fd[d][k][q], a[q]);
            }
            n_d[k]++;
        }
    }
    for (int k = 0; k < TREND_AHEAD; k++) {
        printf(
            "# forecast hour +%d MAPE avg %.2f %% min %.2f %% max %.2f %% (%d hours)\n",
            k + 1, ape_h[k][0] / n_h[k], ape_h[k][1] / n_h[k], ape_h[k][2] / n_h[k],
            n_h[k]);
    }
    printf("# forecast hour +1 RMSE avg %.2f kW\n", sqrt(sq_h1 / n_h[0]));
    printf("# persistence (last hour) MAPE avg %.2f %% min %.2f %% max %.2f %%\n",
           ape_naive[0] / n_naive, ape_naive[1] / n_naive, ape_naive[2] / n_naive);
    for (int k = 0; k < TREND_AHEAD; k++) {
        printf("# forecast day +%d MAPE avg %.2f %% min %.2f %% max %.2f %% (%d days)\n",
               k + 1, ape_d[k][0] / n_d[k], ape_d[k][1] / n_d[k], ape_d[k][2] / n_d[k],
               n_d[k]);
    }
    /* the model must beat persistence on the average by a clear margin and
     * stay within the noise-driven error the profile allows */
    assert_true(ape_h[0][0] / n_h[0] < 0.7 * ape_naive[0] / n_naive);
    assert_true(ape_h[0][0] / n_h[0] < 5.0);
    assert_true(ape_h[3][0] / n_h[3] < 6.0);
    assert_true(ape_d[0][0] / n_d[0] < 5.0);
    assert_true(ape_d[3][0] / n_d[3] < 6.0);
    assert_true(ape_h[0][2] / n_h[0] < 10.0);
    assert_true(ape_d[0][2] / n_d[0] < 10.0);
    test_free(t);
}

/* A value that is not finite (a division by zero in a virtual channel) is
 * left out: the hour's statistics are those of the others. */
static void test_trend_infinite_and_nan_values_are_ignored(void **state)
{
    struct trend *t = new_trend();
    struct trend_stat h[1];
    int64_t t0 = utc_ns(2026, 3, 2, 10);

    (void) state;
    assert_int_equal(trend_add(t, 1.0, t0 + 1), 0);
    assert_int_equal(trend_add(t, INFINITY, t0 + 2), 0);
    assert_int_equal(trend_add(t, -INFINITY, t0 + 3), 0);
    assert_int_equal(trend_add(t, NAN, t0 + 4), 0);
    assert_int_equal(trend_add(t, 3.0, t0 + 5), 0);
    assert_int_equal(trend_add(t, 5.0, t0 + HOUR + 1), 1 << TREND_HOUR);
    assert_int_equal(trend_history(t, TREND_HOUR, h, 1), 1);
    assert_int_equal(h[0].n, 2);
    assert_close(h[0].mean, 2.0, 1e-12);
    assert_close(h[0].min, 1.0, 0);
    assert_close(h[0].max, 3.0, 0);
    assert_close(trend_stat_sd(&h[0]), 1.0, 1e-12); /* population SD */
    test_free(t);
}

static void test_trend_forecast_without_history_is_nan(void **state)
{
    struct trend *t = new_trend();
    struct trend_forecast f[TREND_AHEAD];

    (void) state;
    trend_forecast_hours(t, f);
    assert_true(isnan(f[0].avg));
    trend_add(t, 5.0, utc_ns(2026, 3, 2, 10) + 1);
    trend_forecast_hours(t, f);
    assert_true(isnan(f[0].avg)); /* no completed hour yet */
    trend_add(t, 7.0, utc_ns(2026, 3, 2, 11) + 1);
    trend_forecast_hours(t, f);
    assert_close(f[0].avg, 5.0, 1e-12); /* the last hour, then the profile */
    test_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trend_hour_statistics_equal_a_direct_computation),
        cmocka_unit_test(test_trend_first_hour_exact_mean_min_max_sd),
        cmocka_unit_test(test_trend_weeks_start_monday_and_rings_keep_the_newest),
        cmocka_unit_test(test_trend_state_survives_save_and_load),
        cmocka_unit_test(test_trend_forecast_beats_persistence_on_a_weekly_profile),
        cmocka_unit_test(test_trend_infinite_and_nan_values_are_ignored),
        cmocka_unit_test(test_trend_forecast_without_history_is_nan),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
