/* test_en50160.c - pq/en50160: EN 50160:2010 evaluation over a period.
 *
 * The observation period starts at T0 = 2024-01-01T00:00:00Z (a Monday) and
 * lasts a week unless a case says otherwise.  Records are built from a
 * clean 230 V / 50 Hz three-phase supply (u_h_pct of the fundamental 100,
 * no harmonics, u2 = 0.5 %), then the case changes what it tests.
 * Tolerances: percentages of counts are checked to 1e-9 against their
 * closed form and to 5e-3 against the reference's two printed decimals
 * (T18: 4.96 %, 5.06 %); limits and extremes exactly (they are the stored
 * values).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pq/en50160.h"
#include "pq/record.h"

#define S_NS     1000000000LL
#define T0_NS    (1704067200LL * S_NS) /* 2024-01-01T00:00:00Z */
#define TEN_MIN  (600 * S_NS)
#define WEEK_10M 1008  /* 10-min values in a week */
#define WEEK_10S 60480 /* 10-s values in a week */
#define DAY_3S   28800 /* 3-s values in a day */
#define TOL      1e-9
#define TOL_SPEC 5e-3 /* half a unit of the reference's 2nd decimal */

/* ---- helpers ---- */

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g is not within %g of %.17g\n", got, tol, want);
        fail();
    }
}

static struct pq_en50160_cfg lv_cfg(void)
{
    struct pq_en50160_cfg c = {
        .network = PQ_EN50160_LV,
        .system = PQ_EN50160_SYNCHRONOUS,
        .f_nom_hz = 50.0,
        .u_ref_v = 230.0,
        .nph = 3,
        .start_ns = T0_NS,
    };

    return c;
}

static void init_ok(struct pq_en50160 *acc, const struct pq_en50160_cfg *c)
{
    assert_int_equal(pq_en50160_init(acc, c), 0);
}

/* The k-th 10-min record of the period: clean 230 V. */
static void clean_10min(struct pq_interval *r, int k)
{
    memset(r, 0, sizeof(*r));
    r->start_ns = T0_NS + k * TEN_MIN;
    r->end_ns = r->start_ns + TEN_MIN;
    r->agg = PQ_AGG_10MIN;
    r->nph = 3;
    r->count = 3000;
    r->freq_hz = 50.0;
    for (int ph = 0; ph < PQ_NPH; ph++) {
        r->u_rms_v[ph] = 230.0;
        r->u_ll_rms_v[ph] = 400.0;
        r->u_h_pct[ph][0] = 100.0;
    }
    r->u_unb_neg_pct = 0.5;
}

/* A week of 10-min records; the first n_bad of them carry bad_v on every
 * phase (spread over the week would not change counters). */
static void feed_week_voltage(struct pq_en50160 *acc, int n_records, int n_bad,
                              double bad_v, unsigned bad_flags)
{
    struct pq_interval r;

    for (int k = 0; k < n_records; k++) {
        clean_10min(&r, k);
        if (k < n_bad) {
            for (int ph = 0; ph < PQ_NPH; ph++) {
                r.u_rms_v[ph] = bad_v;
            }
            r.flags = bad_flags;
        }
        assert_int_equal(pq_en50160_add_10min(acc, &r), 0);
    }
}

static void feed_freq(struct pq_en50160 *acc, int n, int n_bad, double bad_hz,
                      unsigned bad_flags)
{
    for (int k = 0; k < n; k++) {
        int bad = k < n_bad;

        assert_int_equal(pq_en50160_add_freq(acc, T0_NS + k * (10 * S_NS),
                                             bad ? bad_flags : 0, bad ? bad_hz : 50.0),
                         0);
    }
}

/* ---- supply voltage (T18) ---- */

static void test_en50160_t18_50_of_1008_outside_10_pct_passes_at_4_96_pct(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    feed_week_voltage(&acc, WEEK_10M, 50, 200.0, 0); /* -13 %: not below -15 % */
    pq_en50160_result(&acc, &res);
    for (int ph = 0; ph < PQ_NPH; ph++) {
        const struct pq_en50160_check *k = &res.voltage[ph];

        assert_int_equal(k->verdict, PQ_EN50160_PASS);
        assert_int_equal(k->decided_by, PQ_EN50160_RULE_SHARE);
        assert_int_equal(k->n_valid, WEEK_10M);
        assert_int_equal(k->n_invalid, 0);
        assert_int_equal(k->n_out, 50);
        assert_int_equal(k->n_out100, 0);
        assert_close(k->pct_out, 100.0 * 50 / 1008, TOL);
        assert_close(k->pct_out, 4.96, TOL_SPEC);
        assert_close(k->statistic, k->pct_out, 0.0);
        assert_close(k->pct_time, 95.0, 0.0);
        assert_close(k->lo, 207.0, 0.0);
        assert_close(k->hi, 253.0, 0.0);
        assert_close(k->lo100, 195.5, 0.0);
        assert_close(k->hi100, 253.0, 0.0);
        assert_close(k->min, 200.0, 0.0);
        assert_close(k->max, 230.0, 0.0);
    }
    assert_int_equal(res.n_10min_expected, WEEK_10M);
    assert_int_equal(res.n_10min, WEEK_10M);
}

static void test_en50160_t18_51_of_1008_outside_10_pct_fails_at_5_06_pct(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    feed_week_voltage(&acc, WEEK_10M, 51, 200.0, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[0].verdict, PQ_EN50160_FAIL);
    assert_int_equal(res.voltage[0].decided_by, PQ_EN50160_RULE_SHARE);
    assert_int_equal(res.voltage[0].n_out, 51);
    assert_close(res.voltage[0].statistic, 100.0 * 51 / 1008, TOL);
    assert_close(res.voltage[0].statistic, 5.06, TOL_SPEC);
    assert_int_equal(res.verdict, PQ_EN50160_FAIL);
}

static void
test_en50160_t18_one_value_below_minus_15_pct_fails_the_100_pct_rule(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    feed_week_voltage(&acc, WEEK_10M, 1, 195.4, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[0].verdict, PQ_EN50160_FAIL);
    assert_int_equal(res.voltage[0].decided_by, PQ_EN50160_RULE_ALL);
    assert_int_equal(res.voltage[0].n_out100, 1);
    assert_int_equal(res.voltage[0].n_out, 1);
    assert_close(res.voltage[0].statistic, 195.4, 0.0); /* the extreme value */
    assert_close(res.voltage[0].pct_out, 100.0 / 1008, TOL);
}

static void test_en50160_voltage_on_a_band_edge_is_inside_it(void **state)
{
    static const double edge_v[] = {195.5, 207.0, 253.0};
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    for (size_t i = 0; i < sizeof(edge_v) / sizeof(edge_v[0]); i++) {
        init_ok(&acc, &c);
        feed_week_voltage(&acc, WEEK_10M, 1, edge_v[i], 0);
        pq_en50160_result(&acc, &res);
        assert_int_equal(res.voltage[0].verdict, PQ_EN50160_PASS);
        assert_int_equal(res.voltage[0].n_out100, 0);
        /* 195.5 V is inside the 100 % band but outside +-10 % */
        assert_int_equal(res.voltage[0].n_out, edge_v[i] < 207.0 ? 1 : 0);
    }
    init_ok(&acc, &c);
    feed_week_voltage(&acc, WEEK_10M, 1, 253.0001, 0); /* LV: +10 % is also the 100 % */
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[0].verdict, PQ_EN50160_FAIL);
    assert_int_equal(res.voltage[0].decided_by, PQ_EN50160_RULE_ALL);
    assert_close(res.voltage[0].statistic, 253.0001, 0.0);
}

static void
test_en50160_mv_allows_1_pct_outside_10_pct_and_nothing_beyond_15_pct(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    c.network = PQ_EN50160_MV;
    c.u_ref_v = 20000.0; /* Uc, line to line */
    c.u_line_to_line = 1;
    init_ok(&acc, &c);
    pq_en50160_result(&acc, &res);
    assert_close(res.voltage[0].pct_time, 99.0, 0.0);
    assert_close(res.voltage[0].lo, 18000.0, 0.0);
    assert_close(res.voltage[0].hi, 22000.0, 0.0);
    assert_close(res.voltage[0].lo100, 17000.0, 0.0);
    assert_close(res.voltage[0].hi100, 23000.0, 0.0);

    /* 10 of 1008 at +12.5 %: 0.99 % <= 1 %, pass; 11: 1.09 %, fail */
    for (int n_bad = 10; n_bad <= 11; n_bad++) {
        struct pq_interval r;

        init_ok(&acc, &c);
        for (int k = 0; k < WEEK_10M; k++) {
            clean_10min(&r, k);
            for (int ph = 0; ph < PQ_NPH; ph++) {
                r.u_ll_rms_v[ph] = k < n_bad ? 22500.0 : 20000.0;
                r.u_rms_v[ph] = 0.0; /* L-N is not evaluated */
            }
            assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
        }
        pq_en50160_result(&acc, &res);
        assert_int_equal(res.voltage[1].n_out, n_bad);
        assert_int_equal(res.voltage[1].n_out100, 0);
        assert_int_equal(res.voltage[1].verdict,
                         n_bad == 10 ? PQ_EN50160_PASS : PQ_EN50160_FAIL);
    }
}

static void test_en50160_plus_12_pct_fails_lv_100_pct_rule_but_not_mv(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    feed_week_voltage(&acc, WEEK_10M, 1, 257.6, 0); /* +12 % */
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[2].verdict, PQ_EN50160_FAIL);
    assert_int_equal(res.voltage[2].decided_by, PQ_EN50160_RULE_ALL);

    c.network = PQ_EN50160_MV; /* Uc = 230 V: only the reference changes role */
    init_ok(&acc, &c);
    feed_week_voltage(&acc, WEEK_10M, 1, 257.6, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[2].verdict, PQ_EN50160_PASS);
    assert_int_equal(res.voltage[2].n_out, 1);
    assert_int_equal(res.voltage[2].n_out100, 0);
}

/* ---- exclusions and coverage ---- */

static void
test_en50160_flagged_and_partial_intervals_are_excluded_and_counted(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_interval r;

    (void) state;
    init_ok(&acc, &c);
    /* 100 flagged and 20 partial intervals at 150 V would fail every rule;
     * one both flagged and partial counts once as invalid */
    for (int k = 0; k < WEEK_10M; k++) {
        clean_10min(&r, k);
        if (k < 121) {
            for (int ph = 0; ph < PQ_NPH; ph++) {
                r.u_rms_v[ph] = 150.0;
                r.u_h_pct[ph][4] = 20.0;
            }
            r.u_unb_neg_pct = 10.0;
            r.flags = k < 100   ? PQ_REC_FLAGGED
                      : k < 120 ? PQ_REC_PARTIAL
                                : PQ_REC_FLAGGED | PQ_REC_PARTIAL;
        } else if (k == 121) {
            r.flags = PQ_REC_UNSYNC; /* does not exclude */
        }
        assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    }
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.n_10min, WEEK_10M);
    assert_int_equal(res.n_10min_flagged, 101);
    assert_int_equal(res.n_10min_partial, 21);
    for (int ph = 0; ph < PQ_NPH; ph++) {
        assert_int_equal(res.voltage[ph].verdict, PQ_EN50160_PASS);
        assert_int_equal(res.voltage[ph].n_valid, WEEK_10M - 121);
        assert_int_equal(res.voltage[ph].n_invalid, 121);
        assert_int_equal(res.voltage[ph].n_out, 0);
        assert_int_equal(res.harmonic[ph][5].verdict, PQ_EN50160_PASS);
        assert_int_equal(res.harmonic[ph][5].n_invalid, 121);
        assert_int_equal(res.thd[ph].n_invalid, 121);
    }
    assert_int_equal(res.unbalance.verdict, PQ_EN50160_PASS);
    assert_int_equal(res.unbalance.n_invalid, 121);
}

static void test_en50160_flagged_frequency_values_are_excluded(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    feed_freq(&acc, WEEK_10S, 500, 45.0, PQ_REC_FLAGGED);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.freq.verdict, PQ_EN50160_PASS);
    assert_int_equal(res.freq.n_valid, WEEK_10S - 500);
    assert_int_equal(res.freq.n_invalid, 500);
    assert_int_equal(res.n_freq, WEEK_10S);
    assert_int_equal(res.n_freq_expected, WEEK_10S);
}

static void test_en50160_non_finite_value_is_invalid_for_its_parameter_only(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_interval r;

    (void) state;
    init_ok(&acc, &c);
    clean_10min(&r, 0);
    r.u_rms_v[1] = NAN;
    assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[0].n_valid, 1);
    assert_int_equal(res.voltage[1].n_valid, 0);
    assert_int_equal(res.voltage[1].n_invalid, 1);
    assert_int_equal(res.voltage[1].verdict, PQ_EN50160_NO_DATA);
    assert_int_equal(res.thd[1].n_valid, 1);
}

static void test_en50160_partial_week_is_judged_on_its_valid_intervals(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    /* three days: 432 intervals; 5 % of them is 21.6 */
    init_ok(&acc, &c);
    feed_week_voltage(&acc, 432, 21, 200.0, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[0].verdict, PQ_EN50160_PASS);
    assert_close(res.voltage[0].pct_out, 100.0 * 21 / 432, TOL);
    assert_int_equal(res.n_10min, 432);
    assert_int_equal(res.n_10min_expected, WEEK_10M);

    init_ok(&acc, &c);
    feed_week_voltage(&acc, 432, 22, 200.0, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[0].verdict, PQ_EN50160_FAIL);
    assert_close(res.voltage[0].pct_out, 100.0 * 22 / 432, TOL);
}

static void test_en50160_empty_period_has_no_data(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.verdict, PQ_EN50160_NO_DATA);
    assert_int_equal(res.freq.verdict, PQ_EN50160_NO_DATA);
    assert_int_equal(res.freq.decided_by, PQ_EN50160_RULE_NONE);
    assert_true(isnan(res.freq.statistic));
    assert_true(isnan(res.voltage[0].pct_out));
    assert_true(isnan(res.voltage[0].min));
    assert_int_equal(res.flicker[0].verdict, PQ_EN50160_NOT_EVALUATED);
    assert_int_equal(res.msv[0].verdict, PQ_EN50160_NOT_EVALUATED);
    assert_int_equal(res.harmonic[0][1].verdict, PQ_EN50160_NOT_EVALUATED);
}

static void test_en50160_values_outside_the_period_are_counted_and_ignored(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_en50160_event ev = {PQ_EN50160_DIP, 50.0, 0.1, T0_NS - 1};
    struct pq_interval r;

    (void) state;
    c.period_ns = 86400 * S_NS; /* a day */
    init_ok(&acc, &c);
    clean_10min(&r, -1); /* the slot before */
    r.u_rms_v[0] = 100.0;
    assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    clean_10min(&r, 144); /* the first slot of the next day */
    r.u_rms_v[0] = 100.0;
    assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    clean_10min(&r, 143); /* the last slot of the day */
    assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    assert_int_equal(pq_en50160_add_freq(&acc, T0_NS + 86400 * S_NS, 0, 40.0), 0);
    assert_int_equal(pq_en50160_add_event(&acc, &ev), 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.n_outside, 4);
    assert_int_equal(res.n_10min, 1);
    assert_int_equal(res.n_10min_expected, 144);
    assert_int_equal(res.voltage[0].verdict, PQ_EN50160_PASS);
    assert_int_equal(res.freq.verdict, PQ_EN50160_NO_DATA);
    assert_int_equal(res.dips[2][0], 0);
}

static void test_en50160_add_10min_rejects_other_levels_and_fewer_phases(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_interval r;

    (void) state;
    init_ok(&acc, &c);
    clean_10min(&r, 0);
    r.agg = PQ_AGG_3S;
    assert_int_equal(pq_en50160_add_10min(&acc, &r), -EINVAL);
    clean_10min(&r, 0);
    r.nph = 1;
    assert_int_equal(pq_en50160_add_10min(&acc, &r), -EINVAL);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.n_10min, 0);
    assert_int_equal(res.voltage[0].n_invalid, 0);
}

/* ---- frequency ---- */

static void test_en50160_synchronous_frequency_allows_0_5_pct_outside_1_pct(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    /* 0.5 % of 60480 is 302.4 */
    init_ok(&acc, &c);
    feed_freq(&acc, WEEK_10S, 302, 49.49, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.freq.verdict, PQ_EN50160_PASS);
    assert_close(res.freq.pct_time, 99.5, 0.0);
    assert_close(res.freq.lo, 49.5, 0.0);
    assert_close(res.freq.hi, 50.5, 0.0);
    assert_close(res.freq.lo100, 47.0, 0.0);
    assert_close(res.freq.hi100, 52.0, 0.0);

    init_ok(&acc, &c);
    feed_freq(&acc, WEEK_10S, 303, 50.51, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.freq.verdict, PQ_EN50160_FAIL);
    assert_close(res.freq.statistic, 100.0 * 303 / WEEK_10S, TOL);
}

static void test_en50160_synchronous_frequency_below_47_hz_fails_at_once(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    feed_freq(&acc, 1000, 1, 47.0, 0); /* on the edge: inside */
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.freq.n_out100, 0);
    assert_int_equal(res.freq.n_out, 1);

    init_ok(&acc, &c);
    feed_freq(&acc, 1000, 1, 46.99, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.freq.verdict, PQ_EN50160_FAIL);
    assert_int_equal(res.freq.decided_by, PQ_EN50160_RULE_ALL);
    assert_close(res.freq.statistic, 46.99, 0.0);
}

static void
test_en50160_island_frequency_uses_2_pct_95_pct_and_15_pct_limits(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    c.system = PQ_EN50160_ISLAND;
    /* 1000 of 60480 at 49.2 Hz: inside +-2 %; 3024 at 52.5 Hz: 5.0 %
     * outside +-2 % but inside +-15 % */
    init_ok(&acc, &c);
    feed_freq(&acc, WEEK_10S, 3024, 52.5, 0);
    pq_en50160_result(&acc, &res);
    assert_close(res.freq.pct_time, 95.0, 0.0);
    assert_close(res.freq.lo, 49.0, 0.0);
    assert_close(res.freq.hi, 51.0, 0.0);
    assert_close(res.freq.lo100, 42.5, 0.0);
    assert_close(res.freq.hi100, 57.5, 0.0);
    assert_int_equal(res.freq.verdict, PQ_EN50160_PASS);
    assert_close(res.freq.pct_out, 5.0, TOL);

    init_ok(&acc, &c);
    feed_freq(&acc, WEEK_10S, 3025, 52.5, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.freq.verdict, PQ_EN50160_FAIL);

    /* the same 52.5 Hz fails a synchronous system's 100 % rule */
    c.system = PQ_EN50160_SYNCHRONOUS;
    init_ok(&acc, &c);
    feed_freq(&acc, WEEK_10S, 1, 52.5, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.freq.verdict, PQ_EN50160_FAIL);
    assert_int_equal(res.freq.decided_by, PQ_EN50160_RULE_ALL);

    c.system = PQ_EN50160_ISLAND;
    init_ok(&acc, &c);
    feed_freq(&acc, WEEK_10S, 1000, 49.2, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.freq.n_out, 0);
    assert_int_equal(res.freq.verdict, PQ_EN50160_PASS);
}

/* ---- harmonics, unbalance, flicker, signalling ---- */

static void test_en50160_harmonic_limits_are_the_table_values(void **state)
{
    static const double want[PQ_EN50160_MAX_H + 1] = {
        [2] = 2.0,  [3] = 5.0,  [4] = 1.0,  [5] = 6.0,  [6] = 0.5,  [7] = 5.0,
        [8] = 0.5,  [9] = 1.5,  [10] = 0.5, [11] = 3.5, [12] = 0.5, [13] = 3.0,
        [14] = 0.5, [15] = 0.5, [16] = 0.5, [17] = 2.0, [18] = 0.5, [19] = 1.5,
        [20] = 0.5, [21] = 0.5, [22] = 0.5, [23] = 1.5, [24] = 0.5, [25] = 1.5,
    };

    (void) state;
    for (int h = 2; h <= PQ_EN50160_MAX_H; h++) {
        assert_close(pq_en50160_harmonic_limit_pct(h), want[h], 0.0);
    }
    assert_true(isnan(pq_en50160_harmonic_limit_pct(1)));
    assert_true(isnan(pq_en50160_harmonic_limit_pct(26)));
    assert_true(isnan(pq_en50160_harmonic_limit_pct(-3)));
}

static void test_en50160_t9_u5_6_pct_u7_5_pct_passes_with_thd_7_81_pct(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_interval r;

    (void) state;
    init_ok(&acc, &c);
    for (int k = 0; k < WEEK_10M; k++) {
        clean_10min(&r, k);
        for (int ph = 0; ph < PQ_NPH; ph++) {
            r.u_h_pct[ph][4] = 6.0;
            r.u_h_pct[ph][6] = 5.0;
            r.u_thd_pct[ph] = 99.0; /* not used: THD is taken to h = 40 */
        }
        assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    }
    pq_en50160_result(&acc, &res);
    for (int ph = 0; ph < PQ_NPH; ph++) {
        assert_int_equal(res.harmonic[ph][5].verdict, PQ_EN50160_PASS);
        assert_int_equal(res.harmonic[ph][5].n_out, 0);
        assert_close(res.harmonic[ph][5].hi, 6.0, 0.0);
        assert_int_equal(res.harmonic[ph][7].verdict, PQ_EN50160_PASS);
        assert_int_equal(res.thd[ph].verdict, PQ_EN50160_PASS);
        assert_close(res.thd[ph].max, sqrt(61.0), TOL);
        assert_close(res.thd[ph].max, 7.81, TOL_SPEC);
        assert_close(res.thd[ph].hi, 8.0, 0.0);
    }
    /* no frequency fed: the overall verdict waits for it */
    assert_int_equal(res.verdict, PQ_EN50160_NO_DATA);
    feed_freq(&acc, WEEK_10S, 0, 50.0, 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.verdict, PQ_EN50160_PASS);
}

static void test_en50160_harmonic_above_its_limit_in_51_intervals_fails(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_interval r;

    (void) state;
    init_ok(&acc, &c);
    for (int k = 0; k < WEEK_10M; k++) {
        clean_10min(&r, k);
        r.u_h_pct[1][24] = k < 51 ? 1.51 : 1.5; /* 25th on phase B */
        r.u_h_pct[2][8] = k < 50 ? 9.0 : 0.0;   /* 9th on phase C: 50, a pass */
        assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    }
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.harmonic[1][25].verdict, PQ_EN50160_FAIL);
    assert_int_equal(res.harmonic[1][25].n_out, 51);
    assert_int_equal(res.harmonic[0][25].verdict, PQ_EN50160_PASS);
    assert_int_equal(res.harmonic[2][9].verdict, PQ_EN50160_PASS);
    assert_int_equal(res.harmonic[2][9].n_out, 50);
    assert_close(res.harmonic[2][9].max, 9.0, 0.0);
}

static void test_en50160_thd_sums_orders_2_to_40_only(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_interval r;

    (void) state;
    init_ok(&acc, &c);
    clean_10min(&r, 0);
    r.u_h_pct[0][39] = 3.0;  /* h = 40: counted */
    r.u_h_pct[0][40] = 50.0; /* h = 41: not */
    assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    pq_en50160_result(&acc, &res);
    assert_close(res.thd[0].max, 3.0, 0.0);
}

static void test_en50160_unbalance_limit_is_2_pct_or_as_configured(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_interval r;

    (void) state;
    for (int pass = 0; pass < 2; pass++) {
        c.unb_limit_pct = pass ? 3.0 : 0.0;
        init_ok(&acc, &c);
        for (int k = 0; k < WEEK_10M; k++) {
            clean_10min(&r, k);
            r.u_unb_neg_pct = k < 51 ? 2.5 : 2.0;
            assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
        }
        pq_en50160_result(&acc, &res);
        assert_close(res.unbalance.hi, pass ? 3.0 : 2.0, 0.0);
        assert_true(isnan(res.unbalance.lo));
        assert_true(isnan(res.unbalance.lo100) && isnan(res.unbalance.hi100));
        assert_int_equal(res.unbalance.n_out, pass ? 0 : 51);
        assert_int_equal(res.unbalance.verdict, pass ? PQ_EN50160_PASS : PQ_EN50160_FAIL);
    }
}

static void test_en50160_single_phase_evaluates_phase_a_and_no_unbalance(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    struct pq_interval r;

    (void) state;
    c.nph = 1;
    init_ok(&acc, &c);
    clean_10min(&r, 0);
    r.nph = 1;
    assert_int_equal(pq_en50160_add_10min(&acc, &r), 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.voltage[0].verdict, PQ_EN50160_PASS);
    assert_int_equal(res.voltage[1].verdict, PQ_EN50160_NOT_EVALUATED);
    assert_int_equal(res.harmonic[2][5].verdict, PQ_EN50160_NOT_EVALUATED);
    assert_int_equal(res.unbalance.verdict, PQ_EN50160_NOT_EVALUATED);
    assert_int_equal(res.unbalance.n_valid, 0);
}

static void test_en50160_flicker_plt_above_1_in_5_pct_of_84_values(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    assert_int_equal(pq_en50160_add_plt(&acc, T0_NS, 0, (double[PQ_NPH]){1, 1, 1}),
                     -EINVAL);

    c.has_flicker = 1;
    /* 5 % of 84 is 4.2: 4 above 1 pass, 5 fail; exactly 1 is inside */
    for (int n_bad = 4; n_bad <= 5; n_bad++) {
        init_ok(&acc, &c);
        for (int k = 0; k < 84; k++) {
            double plt[PQ_NPH] = {k < n_bad ? 1.2 : 1.0, 0.5, 0.3};

            assert_int_equal(pq_en50160_add_plt(&acc, T0_NS + k * (7200 * S_NS), 0, plt),
                             0);
        }
        /* a flagged one is excluded */
        assert_int_equal(
            pq_en50160_add_plt(&acc, T0_NS, PQ_REC_FLAGGED, (double[PQ_NPH]){9, 9, 9}),
            0);
        pq_en50160_result(&acc, &res);
        assert_int_equal(res.n_plt_expected, 84);
        assert_int_equal(res.n_plt, 85);
        assert_int_equal(res.flicker[0].n_valid, 84);
        assert_int_equal(res.flicker[0].n_invalid, 1);
        assert_int_equal(res.flicker[0].n_out, n_bad);
        assert_close(res.flicker[0].hi, 1.0, 0.0);
        assert_int_equal(res.flicker[0].verdict,
                         n_bad == 4 ? PQ_EN50160_PASS : PQ_EN50160_FAIL);
        assert_int_equal(res.flicker[1].verdict, PQ_EN50160_PASS);
    }
}

static void test_en50160_msv_curve_is_9_pct_to_500_hz_and_5_pct_from_1_khz(void **state)
{
    (void) state;
    assert_close(pq_en50160_msv_limit_pct(175.0), 9.0, 0.0);
    assert_close(pq_en50160_msv_limit_pct(500.0), 9.0, 0.0);
    assert_close(pq_en50160_msv_limit_pct(1000.0), 5.0, 0.0);
    assert_close(pq_en50160_msv_limit_pct(10000.0), 5.0, 0.0);
    /* log-log between (500 Hz, 9 %) and (1 kHz, 5 %): at 750 Hz */
    assert_close(pq_en50160_msv_limit_pct(750.0),
                 exp(log(9.0) + (log(5.0) - log(9.0)) * log(1.5) / log(2.0)), 1e-12);
    assert_true(isnan(pq_en50160_msv_limit_pct(0.0)));
    assert_true(isnan(pq_en50160_msv_limit_pct(10001.0)));
    assert_true(isnan(pq_en50160_msv_limit_pct(NAN)));
}

static void
test_en50160_msv_fails_a_day_with_more_than_1_pct_above_the_curve(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    init_ok(&acc, &c);
    assert_int_equal(pq_en50160_add_msv(&acc, T0_NS, 0, (double[PQ_NPH]){0, 0, 0}),
                     -EINVAL);
    c.msv_hz = 175.0; /* a ripple-control carrier: limit 9 % */
    init_ok(&acc, &c);
    /* day 0: 288 of 28 800 above (1 %), pass; day 2: 289, fail */
    for (int day = 0; day <= 2; day += 2) {
        for (int k = 0; k < DAY_3S; k++) {
            int64_t t = T0_NS + day * (86400 * S_NS) + k * (3 * S_NS);
            double above = k < (day ? 289 : 288) ? 9.5 : 2.0;
            double pct[PQ_NPH] = {above, 2.0, 9.0};

            assert_int_equal(pq_en50160_add_msv(&acc, t, 0, pct), 0);
        }
    }
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.n_msv, 2 * DAY_3S);
    assert_close(res.msv[0].hi, 9.0, 0.0);
    assert_close(res.msv[0].pct_time, 99.0, 0.0);
    assert_int_equal(res.msv[0].n_days, 2);
    assert_int_equal(res.msv[0].n_days_failed, 1);
    assert_int_equal(res.msv[0].verdict, PQ_EN50160_FAIL);
    assert_close(res.msv[0].statistic, 100.0 * 289 / DAY_3S, TOL); /* worst day */
    assert_int_equal(res.msv[0].n_out, 288 + 289);
    assert_int_equal(res.msv[2].verdict, PQ_EN50160_PASS); /* 9 % is on the curve */
    assert_int_equal(res.msv[2].n_days_failed, 0);
}

/* ---- events ---- */

static void test_en50160_dip_index_follows_the_printed_inequalities(void **state)
{
    static const struct {
        double u, t;
        int row, col; /* -1: outside the table */
    } cases[] = {
        {89.999, 0.1, 0, 0}, {90.0, 0.1, -1, -1},     {80.0, 0.01, 0, 0},
        {79.999, 0.2, 1, 0}, {70.0, 0.2, 1, 0},       {70.0, 0.2000001, 1, 1},
        {69.99, 0.5, 2, 1},  {40.0, 0.5001, 2, 2},    {39.99, 1.0, 3, 2},
        {5.0, 1.0001, 3, 3}, {5.0, 5.0, 3, 3},        {4.999, 5.0001, 4, 4},
        {0.0, 60.0, 4, 4},   {50.0, 60.0001, -1, -1}, {50.0, 0.0099, -1, -1},
        {-1.0, 1.0, 4, 2},   {NAN, 1.0, -1, -1},      {50.0, NAN, -1, -1},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int row = -1;
        int col = -1;
        int rc = pq_en50160_dip_index(cases[i].u, cases[i].t, &row, &col);

        if (cases[i].row < 0) {
            assert_int_equal(rc, -ERANGE);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(row, cases[i].row);
            assert_int_equal(col, cases[i].col);
        }
    }
}

static void test_en50160_swell_index_follows_the_printed_inequalities(void **state)
{
    static const struct {
        double u, t;
        int row, col;
    } cases[] = {
        {120.0, 0.5, 0, 0},         {119.999, 0.5001, 1, 1}, {110.0, 1.0, -1, -1},
        {110.001, 5.0, 1, 1},       {150.0, 5.0001, 0, 2},   {150.0, 60.0, 0, 2},
        {150.0, 60.0001, 0, 3},     {115.0, 3600.0, 1, 3},   {150.0, 0.0099, -1, -1},
        {INFINITY, INFINITY, 0, 3},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int row = -1;
        int col = -1;
        int rc = pq_en50160_swell_index(cases[i].u, cases[i].t, &row, &col);

        if (cases[i].row < 0) {
            assert_int_equal(rc, -ERANGE);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(row, cases[i].row);
            assert_int_equal(col, cases[i].col);
        }
    }
}

static void test_en50160_events_fill_the_tables_and_interruption_counts(void **state)
{
    static const struct pq_en50160_event ev[] = {
        {PQ_EN50160_DIP, 50.0, 0.1, T0_NS},                /* T14: C1 */
        {PQ_EN50160_DIP, 50.0, 0.2, T0_NS + 1},            /* C1 */
        {PQ_EN50160_DIP, 80.0, 0.2000001, T0_NS + 2},      /* A2 */
        {PQ_EN50160_DIP, 4.0, 60.0, T0_NS + 3},            /* X5 */
        {PQ_EN50160_DIP, 91.0, 1.0, T0_NS + 4},            /* not a dip of the table */
        {PQ_EN50160_DIP, 50.0, 61.0, T0_NS + 5},           /* beyond 60 s */
        {PQ_EN50160_SWELL, 120.0, 0.01, T0_NS + 6},        /* S1 */
        {PQ_EN50160_SWELL, 111.0, 90.0, T0_NS + 7},        /* T4 */
        {PQ_EN50160_SWELL, 110.0, 1.0, T0_NS + 8},         /* unclassified */
        {PQ_EN50160_INTERRUPTION, 2.0, 2.0, T0_NS + 9},    /* T16: short */
        {PQ_EN50160_INTERRUPTION, 0.0, 180.0, T0_NS + 10}, /* short */
        {PQ_EN50160_INTERRUPTION, 0.0, 180.001, T0_NS + 11},
        {PQ_EN50160_INTERRUPTION, 0.0, NAN, T0_NS + 12},
    };
    struct pq_en50160_event bad = {7, 50.0, 0.1, T0_NS};
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();
    uint32_t dips = 0;
    uint32_t swells = 0;

    (void) state;
    init_ok(&acc, &c);
    for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
        assert_int_equal(pq_en50160_add_event(&acc, &ev[i]), 0);
    }
    assert_int_equal(pq_en50160_add_event(&acc, &bad), -EINVAL);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.dips[2][0], 2);
    assert_int_equal(res.dips[0][1], 1);
    assert_int_equal(res.dips[4][4], 1);
    assert_int_equal(res.dips_unclassified, 2);
    assert_int_equal(res.swells[0][0], 1);
    assert_int_equal(res.swells[1][3], 1);
    assert_int_equal(res.swells_unclassified, 1);
    assert_int_equal(res.interruptions_short, 2);
    assert_int_equal(res.interruptions_long, 1);
    assert_int_equal(res.interruptions_unclassified, 1);
    for (int r = 0; r < PQ_EN50160_DIP_ROWS; r++) {
        for (int k = 0; k < PQ_EN50160_DIP_COLS; k++) {
            dips += res.dips[r][k];
        }
    }
    for (int r = 0; r < PQ_EN50160_SWELL_ROWS; r++) {
        for (int k = 0; k < PQ_EN50160_SWELL_COLS; k++) {
            swells += res.swells[r][k];
        }
    }
    assert_int_equal(dips, 4);
    assert_int_equal(swells, 2);
    /* events give no verdict */
    assert_int_equal(res.verdict, PQ_EN50160_NO_DATA);
}

/* ---- set-up and the whole verdict ---- */

static void test_en50160_init_rejects_bad_configurations_with_einval(void **state)
{
    struct pq_en50160_cfg good = lv_cfg();
    struct pq_en50160 acc;
    struct pq_en50160_cfg c;

    (void) state;
    memset(&acc, 0x5a, sizeof(acc));
#define BAD(field, value)                                          \
    do {                                                           \
        c = good;                                                  \
        c.field = (value);                                         \
        assert_int_equal(pq_en50160_init(&acc, &c), -EINVAL);      \
        assert_int_equal(acc.n_10min, 0x5a5a5a5a); /* untouched */ \
    } while (0)
    BAD(network, 2);
    BAD(system, -1);
    BAD(f_nom_hz, 0.0);
    BAD(f_nom_hz, NAN);
    BAD(u_ref_v, -230.0);
    BAD(u_ref_v, INFINITY);
    BAD(nph, 2);
    BAD(msv_hz, 20000.0);
    BAD(msv_hz, -175.0);
    BAD(unb_limit_pct, -1.0);
    BAD(unb_limit_pct, 101.0);
    BAD(period_ns, -1);
    BAD(period_ns, 367 * (86400 * S_NS));
    BAD(start_ns, INT64_MAX - 1000);
#undef BAD
    c = good;
    c.nph = 1;
    c.u_line_to_line = 1;
    assert_int_equal(pq_en50160_init(&acc, &c), -EINVAL);
    c = good;
    c.period_ns = 366 * (86400 * S_NS); /* a leap year of frequency values */
    assert_int_equal(pq_en50160_init(&acc, &c), 0);
}

static void test_en50160_clean_week_with_every_parameter_passes(void **state)
{
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    struct pq_en50160_cfg c = lv_cfg();

    (void) state;
    c.has_flicker = 1;
    c.msv_hz = 316.67;
    init_ok(&acc, &c);
    feed_week_voltage(&acc, WEEK_10M, 0, 0.0, 0);
    feed_freq(&acc, WEEK_10S, 0, 0.0, 0);
    for (int k = 0; k < 84; k++) {
        assert_int_equal(pq_en50160_add_plt(&acc, T0_NS + k * (7200 * S_NS), 0,
                                            (double[PQ_NPH]){0.4, 0.4, 0.4}),
                         0);
    }
    assert_int_equal(pq_en50160_add_msv(&acc, T0_NS, 0, (double[PQ_NPH]){1.0, 1.0, 1.0}),
                     0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.verdict, PQ_EN50160_PASS);
    assert_int_equal(res.msv[0].n_days, 1);

    /* one value outside is enough to fail the whole */
    assert_int_equal(pq_en50160_add_freq(&acc, T0_NS, 0, 53.0), 0);
    pq_en50160_result(&acc, &res);
    assert_int_equal(res.verdict, PQ_EN50160_FAIL);
    assert_int_equal(res.freq.n_valid, WEEK_10S + 1); /* values are not de-duplicated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_en50160_t18_50_of_1008_outside_10_pct_passes_at_4_96_pct),
        cmocka_unit_test(test_en50160_t18_51_of_1008_outside_10_pct_fails_at_5_06_pct),
        cmocka_unit_test(
            test_en50160_t18_one_value_below_minus_15_pct_fails_the_100_pct_rule),
        cmocka_unit_test(test_en50160_voltage_on_a_band_edge_is_inside_it),
        cmocka_unit_test(
            test_en50160_mv_allows_1_pct_outside_10_pct_and_nothing_beyond_15_pct),
        cmocka_unit_test(test_en50160_plus_12_pct_fails_lv_100_pct_rule_but_not_mv),
        cmocka_unit_test(
            test_en50160_flagged_and_partial_intervals_are_excluded_and_counted),
        cmocka_unit_test(test_en50160_flagged_frequency_values_are_excluded),
        cmocka_unit_test(test_en50160_non_finite_value_is_invalid_for_its_parameter_only),
        cmocka_unit_test(test_en50160_partial_week_is_judged_on_its_valid_intervals),
        cmocka_unit_test(test_en50160_empty_period_has_no_data),
        cmocka_unit_test(test_en50160_values_outside_the_period_are_counted_and_ignored),
        cmocka_unit_test(test_en50160_add_10min_rejects_other_levels_and_fewer_phases),
        cmocka_unit_test(test_en50160_synchronous_frequency_allows_0_5_pct_outside_1_pct),
        cmocka_unit_test(test_en50160_synchronous_frequency_below_47_hz_fails_at_once),
        cmocka_unit_test(
            test_en50160_island_frequency_uses_2_pct_95_pct_and_15_pct_limits),
        cmocka_unit_test(test_en50160_harmonic_limits_are_the_table_values),
        cmocka_unit_test(test_en50160_t9_u5_6_pct_u7_5_pct_passes_with_thd_7_81_pct),
        cmocka_unit_test(test_en50160_harmonic_above_its_limit_in_51_intervals_fails),
        cmocka_unit_test(test_en50160_thd_sums_orders_2_to_40_only),
        cmocka_unit_test(test_en50160_unbalance_limit_is_2_pct_or_as_configured),
        cmocka_unit_test(test_en50160_single_phase_evaluates_phase_a_and_no_unbalance),
        cmocka_unit_test(test_en50160_flicker_plt_above_1_in_5_pct_of_84_values),
        cmocka_unit_test(test_en50160_msv_curve_is_9_pct_to_500_hz_and_5_pct_from_1_khz),
        cmocka_unit_test(
            test_en50160_msv_fails_a_day_with_more_than_1_pct_above_the_curve),
        cmocka_unit_test(test_en50160_dip_index_follows_the_printed_inequalities),
        cmocka_unit_test(test_en50160_swell_index_follows_the_printed_inequalities),
        cmocka_unit_test(test_en50160_events_fill_the_tables_and_interruption_counts),
        cmocka_unit_test(test_en50160_init_rejects_bad_configurations_with_einval),
        cmocka_unit_test(test_en50160_clean_week_with_every_parameter_passes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
