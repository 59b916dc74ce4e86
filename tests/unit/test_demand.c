/* test_demand.c - pq/demand: block, sliding, thermal, predicted, peak, gaps.
 *
 * Time 0 of most cases is T0 = 2023-11-14 22:15:00 UTC, a 15 min boundary.
 * Updates are 0.2 s stretches unless a case says otherwise.
 * Tolerances: DEMAND_TOL, 1e-9 relative, for values that are sums of a
 * few thousand stretches (the rounding is ~1e-13); T22 as the reference
 * states it, 0.01 kW, and also 1e-6 W since the thermal step is exact.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pq/demand.h"

#define DEMAND_TOL 1e-9

#define NS      1000000000LL /* ns per s */
#define STEP_NS 200000000LL  /* 0.2 s */
#define STEP_S  0.2
#define T0      (1700000100LL * NS) /* 2023-11-14 22:15:00 UTC */

/* ---- helpers ---- */

/* |got - want| <= tol * max(|want|, 1). */
static void assert_rel_close(double got, double want, double tol)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;

    if (!(fabs(got - want) <= tol * scale)) {
        print_error("%.17g is not within %g (relative) of %.17g\n", got, tol, want);
        fail();
    }
}

static void assert_abs_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g is not within %g of %.17g\n", got, tol, want);
        fail();
    }
}

/* value over [from, to) in 0.2 s stretches; to - from a multiple of 0.2 s. */
static void feed(struct pq_demand *d, int64_t from_ns, int64_t to_ns, double value)
{
    int64_t t;

    for (t = from_ns + STEP_NS; t <= to_ns; t += STEP_NS) {
        pq_demand_update(d, t, value, STEP_S);
    }
}

static void init_ok(struct pq_demand *d, enum pq_demand_method m, double t_s, int sub)
{
    assert_int_equal(pq_demand_init(d, m, t_s, sub), 0);
}

/* ---- set-up ---- */

static void test_demand_init_rejects_bad_arguments_with_einval(void **state)
{
    static const struct {
        double interval_s;
        int method;
        int sub;
    } bad[] = {
        {900.0, 7, 1}, /* no such method */
        {900.0, -1, 1},
        {900.0, PQ_DEMAND_BLOCK, 3},   /* block takes 1 */
        {900.0, PQ_DEMAND_THERMAL, 0}, /* thermal takes 1 */
        {900.0, PQ_DEMAND_SLIDING, 0}, /* 1..60 */
        {900.0, PQ_DEMAND_SLIDING, 61},
        {900.0, PQ_DEMAND_SLIDING, -3},
        {0.5, PQ_DEMAND_BLOCK, 1}, /* T in [1 s, 1 day] */
        {0.0, PQ_DEMAND_BLOCK, 1},
        {-900.0, PQ_DEMAND_BLOCK, 1},
        {86400.5, PQ_DEMAND_BLOCK, 1},
        {NAN, PQ_DEMAND_BLOCK, 1},
        {INFINITY, PQ_DEMAND_BLOCK, 1},
        {900.0, PQ_DEMAND_SLIDING, 7}, /* 900 s / 7 is not whole ns */
        {10.0, PQ_DEMAND_SLIDING, 20}, /* 0.5 s sub-intervals */
    };
    struct pq_demand d, before;
    size_t i;

    (void) state;
    memset(&d, 0xa5, sizeof(d));
    memcpy(&before, &d, sizeof(d));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = pq_demand_init(&d, (enum pq_demand_method) bad[i].method,
                                bad[i].interval_s, bad[i].sub);

        if (rc != -EINVAL) {
            print_error("case %zu: rc %d, want -EINVAL\n", i, rc);
            fail();
        }
        assert_memory_equal(&d, &before, sizeof(d));
    }
}

static void test_demand_init_accepts_usual_settings_and_starts_empty(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 900.0, 1);
    init_ok(&d, PQ_DEMAND_SLIDING, 900.0, 1);
    init_ok(&d, PQ_DEMAND_SLIDING, 3600.0, 60);
    init_ok(&d, PQ_DEMAND_BLOCK, 1.0, 1);
    init_ok(&d, PQ_DEMAND_BLOCK, 86400.0, 1);
    init_ok(&d, PQ_DEMAND_THERMAL, 900.0, 1);
    assert_true(isnan(d.last.value));
    assert_true(isnan(d.present));
    assert_true(isnan(d.predicted));
    assert_true(isnan(d.peak));
    assert_int_equal(d.n_completed, 0);
    assert_int_equal(d.rejected, 0);
}

/* ---- thermal ---- */

/* T22: T = 15 min, step 0 -> 100 kW at t = 0: 90.0 kW at 15 min and
 * 99.0 kW at 30 min. */
static void test_demand_thermal_step_is_90_pct_after_t_and_99_after_2t(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_THERMAL, 900.0, 1);
    feed(&d, T0, T0 + 900 * NS, 100e3);
    assert_abs_close(d.present, 90.0e3, 10.0); /* 0.01 kW */
    assert_abs_close(d.present, 90.0e3, 1e-6);
    assert_int_equal(d.n_completed, 1);
    assert_true(d.last.end_ns == T0 + 900 * NS);
    assert_abs_close(d.last.value, 90.0e3, 10.0);
    assert_int_equal(d.last.flags, 0);
    assert_abs_close(d.last.covered_s, 900.0, 1e-9);
    feed(&d, T0 + 900 * NS, T0 + 1800 * NS, 100e3);
    assert_abs_close(d.present, 99.0e3, 10.0);
    assert_abs_close(d.present, 99.0e3, 1e-6);
    assert_abs_close(d.last.value, 99.0e3, 10.0);
    assert_true(d.last.end_ns == T0 + 1800 * NS);
    /* The thermal peak follows the rising value continuously. */
    assert_abs_close(d.peak, 99.0e3, 1e-6);
    assert_true(d.peak_ns == T0 + 1800 * NS);
    assert_true(isnan(d.predicted));
}

static void test_demand_thermal_gap_decays_toward_zero_and_is_partial(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_THERMAL, 900.0, 1);
    feed(&d, T0 - 9000 * NS, T0, 100e3); /* 10 T: within 1e-10 of 100 kW */
    assert_abs_close(d.present, 100e3, 1e-4);
    /* Nothing from T0 to T0 + 900 s, then one stretch. */
    pq_demand_update(&d, T0 + 900 * NS + STEP_NS, 100e3, STEP_S);
    assert_true(d.last.end_ns == T0 + 900 * NS);
    assert_abs_close(d.last.value, 10e3, 1e-3); /* decayed by e^-ln10 */
    assert_true(d.last.flags & PQ_DEMAND_PARTIAL);
    assert_abs_close(d.last.covered_s, 0.0, 1e-12);
    assert_abs_close(d.peak, 100e3, 1e-4); /* peak was before the gap */
}

/* ---- block ---- */

/* A ramp of 1 kW/s over one 15 min interval: block demand is its mean. */
static void test_demand_block_of_a_ramp_is_the_ramp_mean(void **state)
{
    struct pq_demand d;
    int64_t t;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 900.0, 1);
    for (t = T0 + STEP_NS; t <= T0 + 900 * NS; t += STEP_NS) {
        double mid_s = (double) (t - T0) / NS - STEP_S / 2;

        pq_demand_update(&d, t, 1000.0 * mid_s, STEP_S); /* stretch mean */
    }
    assert_int_equal(d.n_completed, 1);
    assert_rel_close(d.last.value, 450e3, DEMAND_TOL); /* (0 + 900 kW) / 2 */
    assert_true(d.last.end_ns == T0 + 900 * NS);
    assert_int_equal(d.last.flags, 0);
    assert_rel_close(d.peak, 450e3, DEMAND_TOL);
    assert_true(d.peak_ns == T0 + 900 * NS);
}

/* First update at 22:22:00, inside 22:15-22:30: that interval ends at
 * 22:30:00 and reports E / T with the missing 7 min as zero, flagged
 * partial with covered_s = 480 s; the next one is whole. */
static void test_demand_first_interval_started_midway_is_aligned_and_partial(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 900.0, 1);
    feed(&d, T0 + 420 * NS, T0 + 900 * NS - STEP_NS, 60e3);
    assert_int_equal(d.n_completed, 0);
    feed(&d, T0 + 900 * NS - STEP_NS, T0 + 900 * NS, 60e3);
    assert_int_equal(d.n_completed, 1);
    assert_true(d.last.end_ns == T0 + 900 * NS);
    assert_rel_close(d.last.value, 60e3 * 480.0 / 900.0, DEMAND_TOL);
    assert_true(d.last.flags & PQ_DEMAND_PARTIAL);
    assert_rel_close(d.last.covered_s, 480.0, DEMAND_TOL);
    feed(&d, T0 + 900 * NS, T0 + 1800 * NS, 60e3);
    assert_int_equal(d.n_completed, 2);
    assert_true(d.last.end_ns == T0 + 1800 * NS);
    assert_rel_close(d.last.value, 60e3, DEMAND_TOL);
    assert_int_equal(d.last.flags, 0);
    assert_rel_close(d.last.covered_s, 900.0, DEMAND_TOL);
}

/* Boundaries are multiples of T since the epoch, also before it. */
static void test_demand_alignment_holds_for_times_before_the_epoch(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 900.0, 1);
    feed(&d, -450 * NS, 0, 1e3);
    assert_int_equal(d.n_completed, 1);
    assert_true(d.last.end_ns == 0);
    assert_rel_close(d.last.covered_s, 450.0, DEMAND_TOL);
    assert_rel_close(d.last.value, 500.0, DEMAND_TOL);
}

/* 0 W until 59.9 s, then one stretch 59.9..60.1 s at 60 kW, then 0 W:
 * each interval gets 0.1 s of it, 100 W of demand. */
static void test_demand_stretch_across_a_boundary_is_split_by_time(void **state)
{
    const int64_t ms = 1000000LL;
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 60.0, 1);
    feed(&d, T0 - 59900 * ms, T0 + 59900 * ms, 0.0);
    assert_int_equal(d.n_completed, 1); /* the partial one ending at T0 */
    pq_demand_update(&d, T0 + 60100 * ms, 60e3, STEP_S);
    assert_int_equal(d.n_completed, 2);
    assert_true(d.last.end_ns == T0 + 60 * NS);
    assert_rel_close(d.last.value, 100.0, DEMAND_TOL);
    assert_int_equal(d.last.flags, 0);
    feed(&d, T0 + 60100 * ms, T0 + 120100 * ms, 0.0);
    assert_int_equal(d.n_completed, 3);
    assert_true(d.last.end_ns == T0 + 120 * NS);
    assert_rel_close(d.last.value, 100.0, DEMAND_TOL);
    assert_int_equal(d.last.flags, 0);
}

/* T23: 125 Wh pulses, 800 in a 15 min block: 100 kWh, 400 kW. */
static void test_demand_block_of_800_pulses_of_125_wh_is_400_kw(void **state)
{
    const double pulse_j = 125.0 * 3600.0;
    struct pq_demand d;
    int64_t t;
    long pulses = 0;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 900.0, 1);
    for (t = T0 + STEP_NS; t <= T0 + 900 * NS; t += STEP_NS) {
        /* pulse k at T0 + 1.125 s * k + 0.1 s, k = 0..799 */
        long n = 0;

        while (pulses < 800 && T0 + pulses * 1125000000LL + 100000000LL < t) {
            pulses++;
            n++;
        }
        pq_demand_update(&d, t, (double) n * pulse_j / STEP_S, STEP_S);
    }
    assert_int_equal(pulses, 800);
    assert_rel_close(d.last.value, 400e3, DEMAND_TOL);
}

/* ---- predicted and present ---- */

/* 40 kW for the first half of a block, then 100 kW: halfway the
 * prediction is (E_so_far + P_now * t_left) / T = 70 kW, and a load that
 * stays at 100 kW makes it come true. */
static void test_demand_predicted_halfway_projects_the_present_rate(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 900.0, 1);
    feed(&d, T0, T0 + 450 * NS, 40e3);
    assert_rel_close(d.predicted, 40e3, DEMAND_TOL);
    assert_rel_close(d.present, 40e3, DEMAND_TOL);
    pq_demand_update(&d, T0 + 450 * NS + STEP_NS, 100e3, STEP_S);
    assert_rel_close(d.predicted, (40e3 * 450 + 100e3 * 450) / 900, DEMAND_TOL);
    assert_rel_close(d.present, (40e3 * 450 + 100e3 * 0.2) / 450.2, DEMAND_TOL);
    feed(&d, T0 + 450 * NS + STEP_NS, T0 + 900 * NS, 100e3);
    assert_rel_close(d.last.value, 70e3, DEMAND_TOL);
    /* At the boundary the new block has no energy yet: the prediction is
     * the present rate and the running mean is undefined. */
    assert_rel_close(d.predicted, 100e3, DEMAND_TOL);
    assert_true(isnan(d.present));
}

static void test_demand_sliding_predicted_counts_the_kept_subintervals(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_SLIDING, 900.0, 3);
    feed(&d, T0 - 900 * NS, T0, 30e3);
    feed(&d, T0, T0 + 150 * NS, 90e3);
    /* The window closing at T0 + 300 s: 2 x 5 min at 30 kW kept, then
     * 150 s at 90 kW so far and 150 s more at 90 kW. */
    assert_rel_close(d.predicted, (30e3 * 600 + 90e3 * 300) / 900, DEMAND_TOL);
    assert_rel_close(d.present, (30e3 * 600 + 90e3 * 150) / 750, DEMAND_TOL);
    feed(&d, T0 + 150 * NS, T0 + 300 * NS, 90e3);
    assert_rel_close(d.last.value, 50e3, DEMAND_TOL);
}

/* ---- sliding ---- */

/* 15 min = 3 x 5 min; 0 before T0, 90 kW after: the demand climbs in
 * thirds at each sub-interval end, then holds. */
static void test_demand_sliding_3x5min_on_a_step_rises_in_thirds(void **state)
{
    static const double want_kw[] = {0.0, 30.0, 60.0, 90.0, 90.0};
    struct pq_demand d;
    int64_t k;

    (void) state;
    init_ok(&d, PQ_DEMAND_SLIDING, 900.0, 3);
    feed(&d, T0 - 900 * NS, T0, 0.0);
    assert_int_equal(d.n_completed, 3);
    assert_rel_close(d.last.value, 0.0, DEMAND_TOL);
    assert_int_equal(d.last.flags, 0); /* the whole window was fed */
    for (k = 1; k < 5; k++) {
        feed(&d, T0 + (k - 1) * 300 * NS, T0 + k * 300 * NS, 90e3);
        assert_int_equal(d.n_completed, 3 + k);
        assert_true(d.last.end_ns == T0 + k * 300 * NS);
        assert_rel_close(d.last.value, want_kw[k] * 1e3, DEMAND_TOL);
        assert_int_equal(d.last.flags, 0);
    }
}

static void test_demand_sliding_first_windows_are_partial_until_filled(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_SLIDING, 900.0, 3);
    feed(&d, T0, T0 + 300 * NS, 90e3);
    assert_rel_close(d.last.value, 30e3, DEMAND_TOL);
    assert_true(d.last.flags & PQ_DEMAND_PARTIAL);
    assert_rel_close(d.last.covered_s, 300.0, DEMAND_TOL);
    feed(&d, T0 + 300 * NS, T0 + 900 * NS, 90e3);
    assert_rel_close(d.last.value, 90e3, DEMAND_TOL);
    assert_int_equal(d.last.flags, 0);
}

/* One update longer than a sub-interval completes every value in it. */
static void test_demand_long_stretch_completes_each_subinterval(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_SLIDING, 900.0, 3);
    pq_demand_update(&d, T0 + 900 * NS, 90e3, 900.0);
    assert_int_equal(d.n_completed, 3);
    assert_rel_close(d.last.value, 90e3, DEMAND_TOL);
    assert_int_equal(d.last.flags, 0);
    assert_rel_close(d.peak, 90e3, DEMAND_TOL);
    assert_true(d.peak_ns == T0 + 900 * NS);
}

/* ---- peak ---- */

static void test_demand_peak_keeps_highest_value_and_first_time_of_a_tie(void **state)
{
    static const double kw[] = {10.0, 30.0, 30.0, 20.0};
    struct pq_demand d;
    int64_t k;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 60.0, 1);
    for (k = 0; k < 4; k++) {
        feed(&d, T0 + k * 60 * NS, T0 + (k + 1) * 60 * NS, kw[k] * 1e3);
    }
    assert_rel_close(d.peak, 30e3, DEMAND_TOL);
    assert_true(d.peak_ns == T0 + 120 * NS); /* end of the second interval */
    pq_demand_reset_peak(&d);
    assert_true(isnan(d.peak));
    feed(&d, T0 + 240 * NS, T0 + 300 * NS, 5e3);
    assert_rel_close(d.peak, 5e3, DEMAND_TOL);
    assert_true(d.peak_ns == T0 + 300 * NS);
    assert_rel_close(d.last.value, 5e3, DEMAND_TOL);
}

/* ---- gaps and bad input ---- */

/* 5 min missing inside a block: missing time counts as zero. */
static void test_demand_gap_counts_as_zero_and_marks_the_interval_partial(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 900.0, 1);
    feed(&d, T0, T0 + 300 * NS, 50e3);
    feed(&d, T0 + 600 * NS, T0 + 900 * NS, 50e3);
    assert_int_equal(d.n_completed, 1);
    assert_rel_close(d.last.value, 50e3 * 600 / 900, DEMAND_TOL);
    assert_true(d.last.flags & PQ_DEMAND_PARTIAL);
    assert_rel_close(d.last.covered_s, 600.0, DEMAND_TOL);
}

/* A gap across a boundary: the interval before it ends at its own
 * boundary with its own energy; the post-gap data goes to the next. */
static void test_demand_gap_across_a_boundary_keeps_each_interval_right(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 900.0, 1);
    feed(&d, T0, T0 + 800 * NS, 90e3);
    feed(&d, T0 + 1000 * NS, T0 + 1000 * NS + STEP_NS, 90e3);
    assert_int_equal(d.n_completed, 1);
    assert_true(d.last.end_ns == T0 + 900 * NS);
    assert_rel_close(d.last.value, 80e3, DEMAND_TOL);
    assert_rel_close(d.last.covered_s, 800.0, DEMAND_TOL);
    feed(&d, T0 + 1000 * NS + STEP_NS, T0 + 1800 * NS, 90e3);
    assert_int_equal(d.n_completed, 2);
    assert_rel_close(d.last.value, 80e3, DEMAND_TOL);
    assert_rel_close(d.last.covered_s, 800.0, DEMAND_TOL);
    assert_rel_close(d.peak, 80e3, DEMAND_TOL);
    assert_true(d.peak_ns == T0 + 900 * NS);
}

/* Ten years without data: every sub-interval end in it is counted, none
 * is walked one by one, and the windows after it start empty. */
static void test_demand_ten_year_gap_completes_every_value_at_once(void **state)
{
    const int64_t gap_s = 3650LL * 86400; /* a multiple of 300 s */
    const int64_t t1 = T0 + gap_s * NS;
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_SLIDING, 900.0, 3);
    feed(&d, T0, T0 + 1200 * NS, 90e3);
    assert_int_equal(d.n_completed, 4);
    pq_demand_update(&d, t1 + STEP_NS, 90e3, STEP_S);
    assert_int_equal(d.n_completed, 4 + (gap_s - 1200) / 300);
    assert_true(d.last.end_ns == t1);
    assert_rel_close(d.last.value, 0.0, DEMAND_TOL);
    assert_true(d.last.flags & PQ_DEMAND_PARTIAL);
    assert_rel_close(d.last.covered_s, 0.0, DEMAND_TOL);
    feed(&d, t1 + STEP_NS, t1 + 300 * NS, 90e3);
    assert_true(d.last.end_ns == t1 + 300 * NS);
    assert_rel_close(d.last.value, 30e3, DEMAND_TOL);
    assert_rel_close(d.last.covered_s, 300.0, DEMAND_TOL);
    feed(&d, t1 + 300 * NS, t1 + 900 * NS, 90e3);
    assert_int_equal(d.n_completed, 4 + (gap_s - 1200) / 300 + 3);
    assert_rel_close(d.last.value, 90e3, DEMAND_TOL);
    assert_int_equal(d.last.flags, 0);
    assert_rel_close(d.peak, 90e3, DEMAND_TOL);
    assert_true(d.peak_ns == T0 + 900 * NS); /* the first 90 kW window */
}

/* Floor of t / NS for t of either sign. */
static int64_t floor_s(int64_t t)
{
    return t / NS - (t % NS < 0);
}

/* From the earliest to the latest time accepted, 219 years apart, at 1 s
 * intervals: no overflow (UBSan), every boundary counted. */
static void test_demand_gap_across_the_whole_time_range_is_counted(void **state)
{
    static const int methods[] = {PQ_DEMAND_BLOCK, PQ_DEMAND_THERMAL};
    size_t i;

    (void) state;
    for (i = 0; i < 2; i++) {
        struct pq_demand d;
        int64_t t1 = PQ_DEMAND_MIN_T + STEP_NS;

        init_ok(&d, (enum pq_demand_method) methods[i], 1.0, 1);
        pq_demand_update(&d, t1, 5.0, STEP_S);
        pq_demand_update(&d, PQ_DEMAND_MAX_T, 5.0, STEP_S);
        assert_int_equal(d.rejected, 0);
        assert_int_equal(d.n_completed, floor_s(PQ_DEMAND_MAX_T) - floor_s(t1 - STEP_NS));
        assert_true(d.last.end_ns == floor_s(PQ_DEMAND_MAX_T) * NS);
        assert_true(isfinite(d.present));
        assert_rel_close(d.peak, i == 0 ? 1.0 : 5.0 * -expm1(-0.2 * log(10.0)), 1e-12);
    }
}

static void test_demand_nan_value_is_rejected_and_leaves_a_gap(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 60.0, 1);
    feed(&d, T0, T0 + 30 * NS, 1e3);
    pq_demand_update(&d, T0 + 30 * NS + STEP_NS, NAN, STEP_S);
    feed(&d, T0 + 30 * NS + STEP_NS, T0 + 60 * NS, 1e3);
    assert_int_equal(d.rejected, 1);
    assert_rel_close(d.last.value, 1e3 * 59.8 / 60.0, DEMAND_TOL);
    assert_true(d.last.flags & PQ_DEMAND_PARTIAL);
    assert_rel_close(d.last.covered_s, 59.8, DEMAND_TOL);
}

static void test_demand_bad_dt_or_time_is_rejected_and_changes_nothing(void **state)
{
    struct pq_demand d, before;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 60.0, 1);
    feed(&d, T0, T0 + 10 * NS, 1e3);
    memcpy(&before, &d, sizeof(d));
    pq_demand_update(&d, T0 + 11 * NS, 1e3, 0.0);
    pq_demand_update(&d, T0 + 11 * NS, 1e3, -1.0);
    pq_demand_update(&d, T0 + 11 * NS, 1e3, NAN);
    pq_demand_update(&d, T0 + 11 * NS, 1e3, 1e-10);   /* rounds to 0 ns */
    pq_demand_update(&d, T0 + 11 * NS, 1e3, 86400.5); /* > MAX_DT */
    pq_demand_update(&d, T0 + 11 * NS, INFINITY, STEP_S);
    pq_demand_update(&d, PQ_DEMAND_MAX_T + 1, 1e3, STEP_S); /* out of range */
    pq_demand_update(&d, T0 + 5 * NS, 1e3, STEP_S);         /* in the past */
    pq_demand_update(&d, T0 + 10 * NS, 1e3, STEP_S);        /* ends at now */
    assert_int_equal(d.rejected, 9);
    d.rejected = 0;
    assert_memory_equal(&d, &before, sizeof(d));
}

/* A stretch reaching back before time already fed counts only its new
 * part: the same 1 kW fed twice over does not raise the demand. */
static void test_demand_overlapping_stretch_counts_only_new_time(void **state)
{
    struct pq_demand d;

    (void) state;
    init_ok(&d, PQ_DEMAND_BLOCK, 60.0, 1);
    feed(&d, T0, T0 + 10 * NS, 1e3);
    pq_demand_update(&d, T0 + 10 * NS + STEP_NS, 1e3, 2.0); /* 1.8 s overlap */
    feed(&d, T0 + 10 * NS + STEP_NS, T0 + 60 * NS, 1e3);
    assert_int_equal(d.rejected, 0);
    assert_rel_close(d.last.value, 1e3, DEMAND_TOL);
    assert_int_equal(d.last.flags, 0);
    assert_rel_close(d.last.covered_s, 60.0, DEMAND_TOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demand_init_rejects_bad_arguments_with_einval),
        cmocka_unit_test(test_demand_init_accepts_usual_settings_and_starts_empty),
        cmocka_unit_test(test_demand_thermal_step_is_90_pct_after_t_and_99_after_2t),
        cmocka_unit_test(test_demand_thermal_gap_decays_toward_zero_and_is_partial),
        cmocka_unit_test(test_demand_block_of_a_ramp_is_the_ramp_mean),
        cmocka_unit_test(
            test_demand_first_interval_started_midway_is_aligned_and_partial),
        cmocka_unit_test(test_demand_alignment_holds_for_times_before_the_epoch),
        cmocka_unit_test(test_demand_stretch_across_a_boundary_is_split_by_time),
        cmocka_unit_test(test_demand_block_of_800_pulses_of_125_wh_is_400_kw),
        cmocka_unit_test(test_demand_predicted_halfway_projects_the_present_rate),
        cmocka_unit_test(test_demand_sliding_predicted_counts_the_kept_subintervals),
        cmocka_unit_test(test_demand_sliding_3x5min_on_a_step_rises_in_thirds),
        cmocka_unit_test(test_demand_sliding_first_windows_are_partial_until_filled),
        cmocka_unit_test(test_demand_long_stretch_completes_each_subinterval),
        cmocka_unit_test(test_demand_peak_keeps_highest_value_and_first_time_of_a_tie),
        cmocka_unit_test(test_demand_gap_counts_as_zero_and_marks_the_interval_partial),
        cmocka_unit_test(test_demand_gap_across_a_boundary_keeps_each_interval_right),
        cmocka_unit_test(test_demand_ten_year_gap_completes_every_value_at_once),
        cmocka_unit_test(test_demand_gap_across_the_whole_time_range_is_counted),
        cmocka_unit_test(test_demand_nan_value_is_rejected_and_leaves_a_gap),
        cmocka_unit_test(test_demand_bad_dt_or_time_is_rejected_and_changes_nothing),
        cmocka_unit_test(test_demand_overlapping_stretch_counts_only_new_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
