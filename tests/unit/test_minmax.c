/* test_minmax.c - pq/minmax: extremes, times, NaN, ties, reset.
 *
 * Values are stored, not computed, so comparisons are exact (tolerance 0).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pq/minmax.h"

#define N 3

struct fixture {
    struct pq_minmax m;
    double min[N], max[N];
    int64_t tmin[N], tmax[N];
};

static void setup(struct fixture *f)
{
    pq_minmax_init(&f->m, f->min, f->max, f->tmin, f->tmax, N);
}

static void update3(struct fixture *f, double a, double b, double c, int64_t t_ns)
{
    const double v[N] = {a, b, c};

    pq_minmax_update(&f->m, v, t_ns);
}

static void assert_entry(const struct fixture *f, size_t i, double min, int64_t tmin,
                         double max, int64_t tmax)
{
    if (!(f->min[i] == min && f->max[i] == max && f->tmin[i] == tmin &&
          f->tmax[i] == tmax)) {
        print_error("entry %zu: min %.17g at %lld, max %.17g at %lld; want %.17g at "
                    "%lld, %.17g at %lld\n",
                    i, f->min[i], (long long) f->tmin[i], f->max[i],
                    (long long) f->tmax[i], min, (long long) tmin, max, (long long) tmax);
        fail();
    }
}

static void assert_empty(const struct fixture *f, size_t i)
{
    assert_true(isnan(f->min[i]) && isnan(f->max[i]));
    assert_true(f->tmin[i] == 0 && f->tmax[i] == 0);
}

static void test_minmax_after_init_every_entry_is_empty_nan(void **state)
{
    struct fixture f;
    size_t i;

    (void) state;
    for (i = 0; i < N; i++) { /* garbage before init */
        f.min[i] = f.max[i] = 42.0;
        f.tmin[i] = f.tmax[i] = 7;
    }
    setup(&f);
    for (i = 0; i < N; i++) {
        assert_empty(&f, i);
    }
}

static void test_minmax_first_value_is_both_min_and_max(void **state)
{
    struct fixture f;

    (void) state;
    setup(&f);
    update3(&f, 230.0, -5.0, 0.0, 1000);
    assert_entry(&f, 0, 230.0, 1000, 230.0, 1000);
    assert_entry(&f, 1, -5.0, 1000, -5.0, 1000);
    assert_entry(&f, 2, 0.0, 1000, 0.0, 1000);
}

static void test_minmax_tracks_extremes_and_their_times_per_entry(void **state)
{
    struct fixture f;

    (void) state;
    setup(&f);
    update3(&f, 230.0, 10.0, 50.0, 1);
    update3(&f, 220.0, 12.0, 50.1, 2);
    update3(&f, 240.0, 8.0, 49.9, 3);
    update3(&f, 225.0, 11.0, 50.0, 4);
    assert_entry(&f, 0, 220.0, 2, 240.0, 3);
    assert_entry(&f, 1, 8.0, 3, 12.0, 2);
    assert_entry(&f, 2, 49.9, 3, 50.1, 2);
}

static void test_minmax_nan_is_ignored_and_keeps_an_entry_empty(void **state)
{
    struct fixture f;

    (void) state;
    setup(&f);
    update3(&f, NAN, 1.0, NAN, 10);
    assert_empty(&f, 0);
    assert_entry(&f, 1, 1.0, 10, 1.0, 10);
    assert_empty(&f, 2);
    update3(&f, 5.0, NAN, NAN, 20);
    update3(&f, NAN, NAN, NAN, 30);
    assert_entry(&f, 0, 5.0, 20, 5.0, 20);
    assert_entry(&f, 1, 1.0, 10, 1.0, 10);
    assert_empty(&f, 2);
}

static void test_minmax_ties_keep_the_first_time(void **state)
{
    struct fixture f;

    (void) state;
    setup(&f);
    update3(&f, 1.0, 0.0, 3.0, 100);
    update3(&f, 2.0, -0.0, 1.0, 200);
    update3(&f, 1.0, 0.0, 3.0, 300); /* min of 0 and max of 2 tie again */
    update3(&f, 2.0, 0.0, 1.0, 400);
    assert_entry(&f, 0, 1.0, 100, 2.0, 200);
    assert_entry(&f, 1, 0.0, 100, 0.0, 100); /* -0.0 ties with 0.0 */
    assert_entry(&f, 2, 1.0, 200, 3.0, 100);
}

static void test_minmax_infinities_are_values(void **state)
{
    struct fixture f;

    (void) state;
    setup(&f);
    update3(&f, 1.0, 1.0, 1.0, 1);
    update3(&f, INFINITY, -INFINITY, 1.0, 2);
    assert_entry(&f, 0, 1.0, 1, INFINITY, 2);
    assert_entry(&f, 1, -INFINITY, 2, 1.0, 1);
}

static void test_minmax_negative_times_are_kept_as_given(void **state)
{
    struct fixture f;

    (void) state;
    setup(&f);
    update3(&f, 1.0, 1.0, 1.0, -5);
    update3(&f, 0.5, 2.0, 1.0, INT64_MAX);
    assert_entry(&f, 0, 0.5, INT64_MAX, 1.0, -5);
    assert_entry(&f, 1, 1.0, -5, 2.0, INT64_MAX);
}

static void test_minmax_reset_empties_and_restarts(void **state)
{
    struct fixture f;
    size_t i;

    (void) state;
    setup(&f);
    update3(&f, 1.0, 2.0, 3.0, 1);
    update3(&f, -1.0, 5.0, 0.0, 2);
    pq_minmax_reset(&f.m);
    for (i = 0; i < N; i++) {
        assert_empty(&f, i);
    }
    update3(&f, 7.0, 7.0, 7.0, 3);
    assert_entry(&f, 0, 7.0, 3, 7.0, 3);
}

static void test_minmax_zero_entries_touch_nothing(void **state)
{
    struct pq_minmax m;

    (void) state;
    pq_minmax_init(&m, NULL, NULL, NULL, NULL, 0);
    pq_minmax_update(&m, NULL, 1);
    pq_minmax_reset(&m);
    assert_int_equal(m.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minmax_after_init_every_entry_is_empty_nan),
        cmocka_unit_test(test_minmax_first_value_is_both_min_and_max),
        cmocka_unit_test(test_minmax_tracks_extremes_and_their_times_per_entry),
        cmocka_unit_test(test_minmax_nan_is_ignored_and_keeps_an_entry_empty),
        cmocka_unit_test(test_minmax_ties_keep_the_first_time),
        cmocka_unit_test(test_minmax_infinities_are_values),
        cmocka_unit_test(test_minmax_negative_times_are_kept_as_given),
        cmocka_unit_test(test_minmax_reset_empties_and_restarts),
        cmocka_unit_test(test_minmax_zero_entries_touch_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
