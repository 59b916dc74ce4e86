/* test_ieee519.c - pq/ieee519: IEEE 519-2014/2022 limits and evaluation.
 *
 * The period starts at T0 = 2024-01-01T00:00:00Z and lasts a week.  Most
 * cases use the T19 point of common coupling: 480 V, Isc = 3500 A,
 * IL = 100 A (Isc/IL = 35), so a current of x A is x % of IL.  Records are
 * clean (no harmonics) unless a case sets some.
 * Tolerances: limits are table values times 0.25, 0.5, 1, 1.5 or 2, exact
 * in binary, and checked exactly; percentiles are stored values, exact;
 * THD/TDD are square roots, checked to 1e-12 against their closed form and
 * to 5e-3 against the reference's printed 7.81 % (T9).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pq/en50160.h"
#include "pq/ieee519.h"
#include "pq/record.h"

#define S_NS     1000000000LL
#define T0_NS    (1704067200LL * S_NS) /* 2024-01-01T00:00:00Z */
#define TEN_MIN  (600 * S_NS)
#define DAY_NS   (86400 * S_NS)
#define WEEK_10M 1008
#define TOL      1e-12
#define TOL_SPEC 5e-3

/* ---- helpers ---- */

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g is not within %g of %.17g\n", got, tol, want);
        fail();
    }
}

static struct pq_ieee519_cfg t19_cfg(int edition)
{
    struct pq_ieee519_cfg c = {
        .edition = edition,
        .bus_v = 480.0,
        .isc_a = 3500.0,
        .il_a = 100.0,
        .nph = 3,
        .start_ns = T0_NS,
    };

    return c;
}

static struct pq_ieee519 *new_ok(const struct pq_ieee519_cfg *c)
{
    struct pq_ieee519 *acc = NULL;

    assert_int_equal(pq_ieee519_new(c, &acc), 0);
    assert_non_null(acc);
    return acc;
}

static void clean(struct pq_interval *r, int agg, int64_t start_ns)
{
    memset(r, 0, sizeof(*r));
    r->start_ns = start_ns;
    r->end_ns = start_ns + (agg == PQ_AGG_10MIN ? TEN_MIN : 3 * S_NS);
    r->agg = agg;
    r->nph = 3;
    for (int ph = 0; ph < PQ_NPH; ph++) {
        r->u_rms_v[ph] = 277.0;
        r->u_h_pct[ph][0] = 100.0;
        r->i_h_a[ph][0] = 80.0;
    }
}

static void add_ok(struct pq_ieee519 *acc, const struct pq_interval *r)
{
    assert_int_equal(pq_ieee519_add(acc, r), 0);
}

/* n 10-min records from slot 0; u_h_pct[*][h-1] = u(k), i_h_a[*][h-1] = i(k) */
static void feed_10min(struct pq_ieee519 *acc, int n, int h, double u_base, double u_bad,
                       double i_base, double i_bad, int n_bad)
{
    struct pq_interval r;

    for (int k = 0; k < n; k++) {
        clean(&r, PQ_AGG_10MIN, T0_NS + k * TEN_MIN);
        for (int ph = 0; ph < PQ_NPH; ph++) {
            r.u_h_pct[ph][h - 1] = k < n_bad ? u_bad : u_base;
            r.i_h_a[ph][h - 1] = k < n_bad ? i_bad : i_base;
        }
        add_ok(acc, &r);
    }
}

/* n 3-s records of one day, 3 s apart, like feed_10min */
static void feed_3s(struct pq_ieee519 *acc, int day, int n, int h, double u_base,
                    double u_bad, double i_base, double i_bad, int n_bad)
{
    struct pq_interval r;

    for (int k = 0; k < n; k++) {
        clean(&r, PQ_AGG_3S, T0_NS + day * DAY_NS + k * (3 * S_NS));
        for (int ph = 0; ph < PQ_NPH; ph++) {
            r.u_h_pct[ph][h - 1] = k < n_bad ? u_bad : u_base;
            r.i_h_a[ph][h - 1] = k < n_bad ? i_bad : i_base;
        }
        add_ok(acc, &r);
    }
}

/* ---- limits ---- */

static void test_ieee519_t19_480_v_ratio_35_gives_table_2_second_row(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_limits l;

    (void) state;
    assert_int_equal(pq_ieee519_limits(&c, &l), 0);
    assert_int_equal(l.table, 2);
    assert_int_equal(l.row, 1);
    assert_close(l.isc_il, 35.0, 0.0);
    assert_close(l.u_h_pct, 5.0, 0.0);
    assert_close(l.u_thd_pct, 8.0, 0.0);
    for (int h = 3; h < 11; h += 2) {
        assert_close(l.i_h_pct[h], 7.0, 0.0);
    }
    for (int h = 11; h < 17; h += 2) {
        assert_close(l.i_h_pct[h], 3.5, 0.0);
    }
    for (int h = 17; h < 23; h += 2) {
        assert_close(l.i_h_pct[h], 2.5, 0.0);
    }
    for (int h = 23; h < 35; h += 2) {
        assert_close(l.i_h_pct[h], 1.0, 0.0);
    }
    for (int h = 35; h < 50; h += 2) {
        assert_close(l.i_h_pct[h], 0.5, 0.0);
    }
    assert_close(l.i_tdd_pct, 8.0, 0.0);
    assert_true(isnan(l.i_h_pct[0]) && isnan(l.i_h_pct[1]));
}

static void
test_ieee519_t19_even_rule_is_25_pct_in_2014_and_50_or_100_pct_in_2022(void **state)
{
    struct pq_ieee519_cfg c14 = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_cfg c22 = t19_cfg(PQ_IEEE519_2022);
    struct pq_ieee519_limits l14;
    struct pq_ieee519_limits l22;

    (void) state;
    assert_int_equal(pq_ieee519_limits(&c14, &l14), 0);
    assert_int_equal(pq_ieee519_limits(&c22, &l22), 0);
    /* T19: 2nd 1.75 % vs 3.5 %, 8th 1.75 % vs 7.0 % */
    assert_close(l14.i_h_pct[2], 1.75, 0.0);
    assert_close(l22.i_h_pct[2], 3.5, 0.0);
    assert_close(l14.i_h_pct[8], 1.75, 0.0);
    assert_close(l22.i_h_pct[8], 7.0, 0.0);
    /* 2022: 50 % up to the 6th, 100 % above */
    assert_close(l22.i_h_pct[4], 3.5, 0.0);
    assert_close(l22.i_h_pct[6], 3.5, 0.0);
    assert_close(l22.i_h_pct[10], 7.0, 0.0);
    assert_close(l22.i_h_pct[12], 3.5, 0.0);
    assert_close(l22.i_h_pct[50], 0.5, 0.0);
    /* 2014: 25 % of the range's odd limit everywhere */
    assert_close(l14.i_h_pct[12], 0.875, 0.0);
    assert_close(l14.i_h_pct[22], 0.625, 0.0);
    assert_close(l14.i_h_pct[34], 0.25, 0.0);
    assert_close(l14.i_h_pct[50], 0.125, 0.0);
    /* odd orders, TDD and voltage do not change */
    for (int h = 3; h <= 49; h += 2) {
        assert_close(l14.i_h_pct[h], l22.i_h_pct[h], 0.0);
    }
    assert_close(l14.i_tdd_pct, l22.i_tdd_pct, 0.0);
    assert_close(l14.u_h_pct, l22.u_h_pct, 0.0);
    assert_close(l14.u_thd_pct, l22.u_thd_pct, 0.0);
}

static void test_ieee519_table_1_follows_the_bus_voltage_bounds(void **state)
{
    static const struct {
        double bus_v, h, thd;
    } cases[] = {
        {120.0, 5.0, 8.0},    {1000.0, 5.0, 8.0},   {1000.1, 3.0, 5.0},
        {69000.0, 3.0, 5.0},  {69000.1, 1.5, 2.5},  {161000.0, 1.5, 2.5},
        {161000.1, 1.0, 1.5}, {500000.0, 1.0, 1.5},
    };
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2022);
    struct pq_ieee519_limits l;

    (void) state;
    c.il_a = 0.0; /* voltage only */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c.bus_v = cases[i].bus_v;
        assert_int_equal(pq_ieee519_limits(&c, &l), 0);
        assert_close(l.u_h_pct, cases[i].h, 0.0);
        assert_close(l.u_thd_pct, cases[i].thd, 0.0);
        assert_int_equal(l.table, 0);
        assert_int_equal(l.row, -1);
        assert_true(isnan(l.i_tdd_pct) && isnan(l.i_h_pct[5]) && isnan(l.isc_il));
    }
}

static void test_ieee519_ratio_on_a_row_boundary_takes_the_higher_row(void **state)
{
    static const struct {
        double ratio;
        int row;
        double h5, tdd;
    } cases[] = {
        {5.0, 0, 4.0, 5.0},     {19.99, 0, 4.0, 5.0},    {20.0, 1, 7.0, 8.0},
        {49.99, 1, 7.0, 8.0},   {50.0, 2, 10.0, 12.0},   {100.0, 3, 12.0, 15.0},
        {999.0, 3, 12.0, 15.0}, {1000.0, 4, 15.0, 20.0}, {5000.0, 4, 15.0, 20.0},
    };
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_limits l;

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c.isc_a = cases[i].ratio * c.il_a;
        assert_int_equal(pq_ieee519_limits(&c, &l), 0);
        assert_int_equal(l.row, cases[i].row);
        assert_close(l.i_h_pct[5], cases[i].h5, 0.0);
        assert_close(l.i_tdd_pct, cases[i].tdd, 0.0);
    }
    /* generation: the first row whatever the ratio (unverified rule) */
    c.isc_a = 5000.0 * c.il_a;
    c.generation = 1;
    assert_int_equal(pq_ieee519_limits(&c, &l), 0);
    assert_int_equal(l.row, 0);
    assert_close(l.i_tdd_pct, 5.0, 0.0);
    c.isc_a = 0.0;
    assert_int_equal(pq_ieee519_limits(&c, &l), 0);
    assert_true(isnan(l.isc_il));
}

static void test_ieee519_high_voltage_buses_use_tables_3_and_4(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_limits l;

    (void) state;
    c.bus_v = 115000.0;
    c.isc_a = 10.0 * c.il_a;
    assert_int_equal(pq_ieee519_limits(&c, &l), 0);
    assert_int_equal(l.table, 3);
    /* the row the reference gives: 2.0/1.0/0.75/0.3/0.15, TDD 2.5 */
    assert_close(l.i_h_pct[5], 2.0, 0.0);
    assert_close(l.i_h_pct[11], 1.0, 0.0);
    assert_close(l.i_h_pct[17], 0.75, 0.0);
    assert_close(l.i_h_pct[23], 0.3, 0.0);
    assert_close(l.i_h_pct[35], 0.15, 0.0);
    assert_close(l.i_tdd_pct, 2.5, 0.0);
    assert_close(l.u_h_pct, 1.5, 0.0);

    c.bus_v = 230000.0;
    c.isc_a = 60.0 * c.il_a;
    assert_int_equal(pq_ieee519_limits(&c, &l), 0);
    assert_int_equal(l.table, 4);
    assert_int_equal(l.row, 2);
    assert_close(l.i_tdd_pct, 3.75, 0.0);
}

static void test_ieee519_limits_reject_bad_configurations_with_einval(void **state)
{
    struct pq_ieee519_cfg good = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_limits l;
    struct pq_ieee519_cfg c;

    (void) state;
#define BAD(field, value)                                     \
    do {                                                      \
        c = good;                                             \
        c.field = (value);                                    \
        assert_int_equal(pq_ieee519_limits(&c, &l), -EINVAL); \
    } while (0)
    BAD(edition, 2019);
    BAD(bus_v, 0.0);
    BAD(bus_v, NAN);
    BAD(il_a, -1.0);
    BAD(il_a, INFINITY);
    BAD(isc_a, 0.0); /* needed for the row */
    BAD(isc_a, -5.0);
#undef BAD
}

static void test_ieee519_new_rejects_bad_configurations_and_free_takes_null(void **state)
{
    struct pq_ieee519_cfg good = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519 *acc = (struct pq_ieee519 *) &good; /* must stay untouched */
    struct pq_ieee519_cfg c;

    (void) state;
    c = good;
    c.nph = 2;
    assert_int_equal(pq_ieee519_new(&c, &acc), -EINVAL);
    c = good;
    c.period_ns = 8 * DAY_NS;
    assert_int_equal(pq_ieee519_new(&c, &acc), -EINVAL);
    c = good;
    c.period_ns = -1;
    assert_int_equal(pq_ieee519_new(&c, &acc), -EINVAL);
    c = good;
    c.start_ns = INT64_MAX - DAY_NS;
    assert_int_equal(pq_ieee519_new(&c, &acc), -EINVAL);
    c = good;
    c.edition = 0;
    assert_int_equal(pq_ieee519_new(&c, &acc), -EINVAL);
    assert_ptr_equal(acc, (struct pq_ieee519 *) &good);
    pq_ieee519_free(NULL);
}

/* ---- percentiles ---- */

static void test_ieee519_percentile_is_nearest_rank_on_known_data(void **state)
{
    double v[1008];
    size_t n;

    (void) state;
    /* 1..100 in a scrambled order: 37 is coprime with 100 */
    for (n = 0; n < 100; n++) {
        v[n] = (double) ((n * 37) % 100 + 1);
    }
    assert_close(pq_ieee519_percentile(v, 100, 950), 95.0, 0.0);
    assert_close(pq_ieee519_percentile(v, 100, 990), 99.0, 0.0);
    assert_close(pq_ieee519_percentile(v, 100, 1000), 100.0, 0.0);
    assert_close(pq_ieee519_percentile(v, 100, 1), 1.0, 0.0);
    /* 20 values: the 95th is rank 19, the 99th rank ceil(19.8) = 20 */
    for (n = 0; n < 20; n++) {
        v[n] = (double) (20 - n);
    }
    assert_close(pq_ieee519_percentile(v, 20, 950), 19.0, 0.0);
    assert_close(pq_ieee519_percentile(v, 20, 990), 20.0, 0.0);
    /* 1008 values: ranks 958 and 998 (ceil(957.6), ceil(997.92)) */
    for (n = 0; n < 1008; n++) {
        v[n] = (double) (1008 - n);
    }
    assert_close(pq_ieee519_percentile(v, 1008, 950), 958.0, 0.0);
    assert_close(pq_ieee519_percentile(v, 1008, 990), 998.0, 0.0);
    /* 4 values: the median is rank 2, not an interpolated 2.5 */
    v[0] = 4.0;
    v[1] = 1.0;
    v[2] = 3.0;
    v[3] = 2.0;
    assert_close(pq_ieee519_percentile(v, 4, 500), 2.0, 0.0);
    v[0] = 7.5;
    assert_close(pq_ieee519_percentile(v, 1, 950), 7.5, 0.0);
    assert_true(isnan(pq_ieee519_percentile(v, 0, 950)));
    assert_true(isnan(pq_ieee519_percentile(v, 1, 0)));
    assert_true(isnan(pq_ieee519_percentile(v, 1, 1001)));
}

/* Pseudo-random values (a 64-bit LCG, so the case is reproducible). */
static double next_value(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double) (*s >> 11) / 9007199254740992.0 * 10.0; /* [0, 10) */
}

static void test_ieee519_weekly_percentiles_equal_those_of_all_values(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;
    static double all_u[WEEK_10M];
    static double all_i[WEEK_10M];
    struct pq_interval r;
    uint64_t seed = 42;

    (void) state;
    /* the full week and a partial one: the kept heaps must suffice for both */
    for (int n = WEEK_10M; n >= 300; n -= 708) {
        acc = new_ok(&c);
        for (int k = 0; k < n; k++) {
            clean(&r, PQ_AGG_10MIN, T0_NS + k * TEN_MIN);
            r.u_h_pct[1][6] = all_u[k] = next_value(&seed);
            r.i_h_a[2][10] = all_i[k] = next_value(&seed);
            add_ok(acc, &r);
        }
        pq_ieee519_result(acc, &res);
        assert_int_equal(res.u_h[1][7].week95.n, n);
        assert_close(res.u_h[1][7].week95.value, pq_ieee519_percentile(all_u, n, 950),
                     0.0);
        assert_close(res.i_h[2][11].week95.value, pq_ieee519_percentile(all_i, n, 950),
                     TOL); /* 100 x / 100 may round */
        assert_close(res.i_h[2][11].week99.value, pq_ieee519_percentile(all_i, n, 990),
                     TOL);                              /* 100 x / 100 may round */
        assert_true(isnan(res.u_h[1][7].week99.value)); /* voltage: no weekly 99th */
        assert_int_equal(res.u_h[1][7].week99.verdict, PQ_IEEE519_NOT_EVALUATED);
        pq_ieee519_free(acc);
    }
}

static void test_ieee519_daily_percentile_equals_that_of_the_days_values(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2022);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;
    static double day_u[2][3000];
    struct pq_interval r;
    uint64_t seed = 7;
    double want[2];

    (void) state;
    c.il_a = 0.0; /* voltage only: fewer series to feed */
    c.nph = 1;
    acc = new_ok(&c);
    for (int d = 0; d < 2; d++) {
        for (int k = 0; k < 3000; k++) {
            clean(&r, PQ_AGG_3S, T0_NS + d * DAY_NS + k * (3 * S_NS));
            r.u_h_pct[0][2] = day_u[d][k] = next_value(&seed) * (d ? 0.5 : 1.0);
            add_ok(acc, &r);
        }
        want[d] = pq_ieee519_percentile(day_u[d], 3000, 990);
    }
    pq_ieee519_result(acc, &res);
    assert_true(want[0] > want[1]);
    assert_close(res.u_h[0][3].day99.value, want[0], 0.0); /* the worst day */
    assert_int_equal(res.u_h[0][3].day99.worst_day, 0);
    assert_int_equal(res.u_h[0][3].day99.n, 3000);
    assert_int_equal(res.u_h[0][3].day99.n_days, 2);
    assert_close(res.u_h[0][3].day99.limit_pct, 7.5, 0.0); /* 1.5 x 5 % */
    assert_int_equal(res.u_h[0][3].day99.n_days_failed, want[0] > 7.5);
    assert_int_equal(res.n_3s, 6000);
    pq_ieee519_free(acc);
}

/* ---- evaluation ---- */

static void test_ieee519_t9_fails_individual_5th_but_passes_thd_and_en50160(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_en50160_cfg ec = {
        .network = PQ_EN50160_LV,
        .system = PQ_EN50160_SYNCHRONOUS,
        .f_nom_hz = 50.0,
        .u_ref_v = 230.0,
        .nph = 3,
        .start_ns = T0_NS,
    };
    struct pq_ieee519_result res;
    struct pq_en50160_result eres;
    struct pq_en50160 en;
    struct pq_ieee519 *acc;
    struct pq_interval r;

    (void) state;
    acc = new_ok(&c);
    assert_int_equal(pq_en50160_init(&en, &ec), 0);
    for (int k = 0; k < WEEK_10M; k++) {
        clean(&r, PQ_AGG_10MIN, T0_NS + k * TEN_MIN);
        for (int ph = 0; ph < PQ_NPH; ph++) {
            r.u_rms_v[ph] = 230.0;
            r.u_h_pct[ph][4] = 6.0;
            r.u_h_pct[ph][6] = 5.0;
        }
        add_ok(acc, &r);
        assert_int_equal(pq_en50160_add_10min(&en, &r), 0);
        r.agg = PQ_AGG_3S; /* one 3-s value a slot, the same spectrum */
        add_ok(acc, &r);
    }
    pq_ieee519_result(acc, &res);
    pq_en50160_result(&en, &eres);
    for (int ph = 0; ph < PQ_NPH; ph++) {
        assert_int_equal(eres.harmonic[ph][5].verdict, PQ_EN50160_PASS);
        assert_int_equal(eres.thd[ph].verdict, PQ_EN50160_PASS);

        assert_int_equal(res.u_h[ph][5].verdict, PQ_IEEE519_FAIL);
        assert_int_equal(res.u_h[ph][5].week95.verdict, PQ_IEEE519_FAIL);
        assert_close(res.u_h[ph][5].week95.value, 6.0, 0.0);
        assert_close(res.u_h[ph][5].week95.limit_pct, 5.0, 0.0);
        assert_int_equal(res.u_h[ph][5].day99.verdict, PQ_IEEE519_PASS); /* 6 <= 7.5 */
        assert_int_equal(res.u_h[ph][7].verdict, PQ_IEEE519_PASS);       /* 5 <= 5 */
        assert_int_equal(res.u_thd[ph].verdict, PQ_IEEE519_PASS);
        assert_close(res.u_thd[ph].week95.value, sqrt(61.0), TOL);
        assert_close(res.u_thd[ph].week95.value, 7.81, TOL_SPEC);
        assert_close(res.u_thd[ph].week95.limit_pct, 8.0, 0.0);
        assert_int_equal(res.u_phase[ph], PQ_IEEE519_FAIL);
        assert_int_equal(res.i_phase[ph], PQ_IEEE519_PASS);
    }
    assert_int_equal(res.u_order[5], PQ_IEEE519_FAIL);
    assert_int_equal(res.u_order[7], PQ_IEEE519_PASS);
    assert_int_equal(res.u_order[1], PQ_IEEE519_NOT_EVALUATED);
    assert_int_equal(res.u_verdict, PQ_IEEE519_FAIL);
    assert_int_equal(res.i_verdict, PQ_IEEE519_PASS);
    assert_int_equal(res.verdict, PQ_IEEE519_FAIL);
    pq_ieee519_free(acc);
}

static void test_ieee519_current_weekly_99th_is_held_to_1_5_times_the_table(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;

    (void) state;
    /* 5th at 5 % of IL, with n_bad values at 11 % (> 1.5 x 7 = 10.5 %):
     * 10 of 1008 leave the 99th (rank 998) at 5 %; 11 put it at 11 % */
    for (int n_bad = 10; n_bad <= 11; n_bad++) {
        acc = new_ok(&c);
        feed_10min(acc, WEEK_10M, 5, 0.0, 0.0, 5.0, 11.0, n_bad);
        pq_ieee519_result(acc, &res);
        assert_close(res.i_h[0][5].week95.value, 5.0, 0.0);
        assert_int_equal(res.i_h[0][5].week95.verdict, PQ_IEEE519_PASS);
        assert_close(res.i_h[0][5].week99.limit_pct, 10.5, 0.0);
        assert_close(res.i_h[0][5].week99.value, n_bad == 10 ? 5.0 : 11.0, 0.0);
        assert_int_equal(res.i_h[0][5].week99.verdict,
                         n_bad == 10 ? PQ_IEEE519_PASS : PQ_IEEE519_FAIL);
        /* no 3-s values: day99 has no data */
        assert_int_equal(res.i_h[0][5].day99.verdict, PQ_IEEE519_NO_DATA);
        assert_int_equal(res.i_h[0][5].verdict,
                         n_bad == 10 ? PQ_IEEE519_NO_DATA : PQ_IEEE519_FAIL);
        pq_ieee519_free(acc);
    }
}

static void test_ieee519_weekly_95th_fails_with_51_of_1008_above_the_limit(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;

    (void) state;
    for (int n_bad = 50; n_bad <= 51; n_bad++) {
        acc = new_ok(&c);
        feed_10min(acc, WEEK_10M, 11, 4.0, 3.01, 0.0, 0.0, n_bad); /* u11 vs 5 % */
        pq_ieee519_result(acc, &res);
        assert_close(res.u_h[2][11].week95.value, 4.0, 0.0); /* 3.01 is below 4 */
        pq_ieee519_free(acc);

        acc = new_ok(&c);
        feed_10min(acc, WEEK_10M, 11, 4.0, 5.01, 0.0, 0.0, n_bad);
        pq_ieee519_result(acc, &res);
        assert_close(res.u_h[2][11].week95.value, n_bad == 50 ? 4.0 : 5.01, 0.0);
        assert_int_equal(res.u_h[2][11].week95.verdict,
                         n_bad == 50 ? PQ_IEEE519_PASS : PQ_IEEE519_FAIL);
        pq_ieee519_free(acc);
    }
}

static void test_ieee519_daily_99th_of_3s_values_is_held_to_1_5_and_2_times(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;

    (void) state;
    /* 1000 values a day: the 99th is rank 990, so 10 high values stay above
     * it and 11 reach it.  Day 0: 10 high, day 1: 11 high. */
    acc = new_ok(&c);
    feed_3s(acc, 0, 1000, 5, 2.0, 7.6, 2.0, 14.5, 10);
    feed_3s(acc, 1, 1000, 5, 2.0, 7.6, 2.0, 14.5, 11);
    pq_ieee519_result(acc, &res);
    /* voltage: 7.6 % > 1.5 x 5 % */
    assert_close(res.u_h[0][5].day99.limit_pct, 7.5, 0.0);
    assert_close(res.u_h[0][5].day99.value, 7.6, 0.0);
    assert_int_equal(res.u_h[0][5].day99.worst_day, 1);
    assert_int_equal(res.u_h[0][5].day99.n_days, 2);
    assert_int_equal(res.u_h[0][5].day99.n_days_failed, 1);
    assert_int_equal(res.u_h[0][5].day99.verdict, PQ_IEEE519_FAIL);
    /* current: 14.5 % > 2 x 7 % */
    assert_close(res.i_h[1][5].day99.limit_pct, 14.0, 0.0);
    assert_close(res.i_h[1][5].day99.value, 14.5, 0.0);
    assert_int_equal(res.i_h[1][5].day99.verdict, PQ_IEEE519_FAIL);
    /* no 10-min values */
    assert_int_equal(res.u_h[0][5].week95.verdict, PQ_IEEE519_NO_DATA);
    assert_int_equal(res.u_h[0][5].verdict, PQ_IEEE519_FAIL);
    assert_int_equal(res.u_h[0][7].verdict, PQ_IEEE519_NO_DATA);
    pq_ieee519_free(acc);

    /* the same days with one high value fewer each pass */
    acc = new_ok(&c);
    feed_3s(acc, 0, 1000, 5, 2.0, 7.6, 2.0, 14.5, 10);
    feed_3s(acc, 3, 1000, 5, 2.0, 7.6, 2.0, 14.5, 10);
    pq_ieee519_result(acc, &res);
    assert_close(res.u_h[0][5].day99.value, 2.0, 0.0);
    assert_int_equal(res.u_h[0][5].day99.verdict, PQ_IEEE519_PASS);
    assert_int_equal(res.u_h[0][5].day99.n_days, 2);
    assert_int_equal(res.i_h[2][5].day99.verdict, PQ_IEEE519_PASS);
    pq_ieee519_free(acc);
}

static void test_ieee519_2022_passes_even_currents_that_2014_fails(void **state)
{
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;

    (void) state;
    for (int ed = 0; ed < 2; ed++) {
        struct pq_ieee519_cfg c = t19_cfg(ed ? PQ_IEEE519_2022 : PQ_IEEE519_2014);
        struct pq_interval r;

        acc = new_ok(&c);
        for (int k = 0; k < WEEK_10M; k++) {
            clean(&r, PQ_AGG_10MIN, T0_NS + k * TEN_MIN);
            for (int ph = 0; ph < PQ_NPH; ph++) {
                r.i_h_a[ph][1] = 3.0; /* 2nd: 3 % of IL */
                r.i_h_a[ph][7] = 5.0; /* 8th: 5 % */
                r.i_h_a[ph][5] = 3.0; /* 6th: 3 %, under 3.5 (2022), over 1.75 */
            }
            add_ok(acc, &r);
            r.agg = PQ_AGG_3S;
            add_ok(acc, &r);
        }
        pq_ieee519_result(acc, &res);
        for (int h = 2; h <= 8; h += 2) {
            int want = h == 4 || ed ? PQ_IEEE519_PASS : PQ_IEEE519_FAIL;

            assert_int_equal(res.i_order[h], want);
            assert_int_equal(res.i_h[0][h].week95.verdict, want);
        }
        assert_close(res.i_h[0][2].week95.limit_pct, ed ? 3.5 : 1.75, 0.0);
        assert_close(res.i_h[0][8].week95.limit_pct, ed ? 7.0 : 1.75, 0.0);
        /* TDD = sqrt(9 + 25 + 9) % = 6.557 %, under 8 % in both */
        assert_close(res.i_tdd[1].week95.value, sqrt(43.0), TOL);
        assert_int_equal(res.i_tdd[1].verdict, PQ_IEEE519_PASS);
        assert_int_equal(res.i_verdict, ed ? PQ_IEEE519_PASS : PQ_IEEE519_FAIL);
        assert_int_equal(res.verdict, ed ? PQ_IEEE519_PASS : PQ_IEEE519_FAIL);
        pq_ieee519_free(acc);
    }
}

static void test_ieee519_tdd_is_taken_against_the_configured_il_to_the_50th(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;
    struct pq_interval r;

    (void) state;
    for (int pass = 0; pass < 2; pass++) {
        c.il_a = pass ? 80.0 : 100.0;
        c.isc_a = 35.0 * c.il_a;
        acc = new_ok(&c);
        clean(&r, PQ_AGG_10MIN, T0_NS);
        r.i_h_a[0][4] = 6.0;    /* 5th */
        r.i_h_a[0][6] = 4.0;    /* 7th */
        r.i_h_a[0][50] = 100.0; /* 51st: beyond IEEE 519's range */
        r.i_tdd_pct[0] = 99.0;  /* the meter's: not used */
        add_ok(acc, &r);
        pq_ieee519_result(acc, &res);
        assert_close(res.i_tdd[0].week95.value, 100.0 * sqrt(52.0) / c.il_a, TOL);
        assert_close(res.i_h[0][5].week95.value, 600.0 / c.il_a, TOL);
        assert_int_equal(res.i_tdd[0].week95.verdict,
                         pass ? PQ_IEEE519_FAIL : PQ_IEEE519_PASS); /* 9.01 > 8 */
        pq_ieee519_free(acc);
    }
}

static void test_ieee519_flagged_records_are_excluded_unless_kept(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;
    struct pq_interval r;

    (void) state;
    for (int keep = 0; keep < 2; keep++) {
        c.keep_flagged = keep;
        acc = new_ok(&c);
        for (int k = 0; k < WEEK_10M; k++) {
            clean(&r, PQ_AGG_10MIN, T0_NS + k * TEN_MIN);
            if (k < 100) {
                r.flags = PQ_REC_FLAGGED;
                r.u_h_pct[0][4] = 9.0;
            } else if (k < 160) {
                r.flags = PQ_REC_PARTIAL; /* excluded either way */
                r.u_h_pct[0][4] = 9.0;
            }
            add_ok(acc, &r);
        }
        pq_ieee519_result(acc, &res);
        assert_int_equal(res.n_10min, keep ? WEEK_10M - 60 : WEEK_10M - 160);
        assert_int_equal(res.n_10min_invalid, keep ? 60 : 160);
        assert_int_equal(res.u_h[0][5].week95.verdict,
                         keep ? PQ_IEEE519_FAIL : PQ_IEEE519_PASS);
        pq_ieee519_free(acc);
    }
}

static void
test_ieee519_duplicate_late_outside_and_other_records_are_counted(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;
    struct pq_interval r;

    (void) state;
    acc = new_ok(&c);
    clean(&r, PQ_AGG_10MIN, T0_NS + 5 * TEN_MIN);
    add_ok(acc, &r);
    r.start_ns += 1000; /* the same slot */
    r.u_h_pct[0][4] = 50.0;
    add_ok(acc, &r);
    clean(&r, PQ_AGG_3S, T0_NS + DAY_NS + 3 * S_NS);
    add_ok(acc, &r);
    clean(&r, PQ_AGG_3S, T0_NS + 3 * S_NS); /* day 0 after day 1 */
    add_ok(acc, &r);
    clean(&r, PQ_AGG_3S, T0_NS + 7 * DAY_NS); /* the next week */
    add_ok(acc, &r);
    clean(&r, PQ_AGG_10MIN, T0_NS - TEN_MIN);
    add_ok(acc, &r);
    clean(&r, PQ_AGG_200MS, T0_NS);
    assert_int_equal(pq_ieee519_add(acc, &r), -EINVAL);
    clean(&r, PQ_AGG_2H, T0_NS);
    assert_int_equal(pq_ieee519_add(acc, &r), -EINVAL);
    clean(&r, PQ_AGG_10MIN, T0_NS);
    r.nph = 1;
    assert_int_equal(pq_ieee519_add(acc, &r), -EINVAL);
    pq_ieee519_result(acc, &res);
    assert_int_equal(res.n_10min, 1);
    assert_int_equal(res.n_10min_duplicate, 1);
    assert_int_equal(res.n_3s, 1);
    assert_int_equal(res.n_3s_late, 1);
    assert_int_equal(res.n_outside, 2);
    assert_close(res.u_h[0][5].week95.value, 0.0, 0.0); /* the duplicate's 50 % is out */
    assert_int_equal(res.u_h[0][5].week95.n, 1);
    pq_ieee519_free(acc);
}

static void test_ieee519_more_3s_values_than_a_day_holds_are_counted(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;
    struct pq_interval r;

    (void) state;
    c.il_a = 0.0;
    c.nph = 1;
    acc = new_ok(&c);
    for (int k = 0; k < PQ_IEEE519_MAX_3S_DAY + 5; k++) {
        /* 2 s apart, so 32 005 fit in a day */
        clean(&r, PQ_AGG_3S, T0_NS + k * (2 * S_NS));
        r.u_h_pct[0][2] = (double) (k % 1000);
        add_ok(acc, &r);
    }
    pq_ieee519_result(acc, &res);
    assert_int_equal(res.n_3s, PQ_IEEE519_MAX_3S_DAY);
    assert_int_equal(res.n_3s_overflow, 5);
    assert_int_equal(res.u_h[0][3].day99.n, PQ_IEEE519_MAX_3S_DAY);
    /* 32 values of each of 0..999; rank 31 680 of 32 000 is value 989 */
    assert_close(res.u_h[0][3].day99.value, 989.0, 0.0);
    pq_ieee519_free(acc);
}

static void test_ieee519_without_il_only_voltage_is_evaluated(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2022);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;

    (void) state;
    c.il_a = 0.0;
    c.isc_a = 0.0;
    acc = new_ok(&c);
    feed_10min(acc, 10, 5, 1.0, 1.0, 50.0, 50.0, 0);
    feed_3s(acc, 0, 10, 5, 1.0, 1.0, 50.0, 50.0, 0);
    pq_ieee519_result(acc, &res);
    assert_int_equal(res.i_verdict, PQ_IEEE519_NOT_EVALUATED);
    assert_int_equal(res.i_tdd[0].verdict, PQ_IEEE519_NOT_EVALUATED);
    assert_int_equal(res.i_order[5], PQ_IEEE519_NOT_EVALUATED);
    assert_int_equal(res.u_verdict, PQ_IEEE519_PASS);
    assert_int_equal(res.verdict, PQ_IEEE519_PASS);
    pq_ieee519_free(acc);
}

static void test_ieee519_single_phase_leaves_phases_b_and_c_unevaluated(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;

    (void) state;
    c.nph = 1;
    acc = new_ok(&c);
    feed_10min(acc, 3, 3, 1.0, 1.0, 1.0, 1.0, 0);
    feed_3s(acc, 0, 3, 3, 1.0, 1.0, 1.0, 1.0, 0);
    pq_ieee519_result(acc, &res);
    assert_int_equal(res.u_phase[0], PQ_IEEE519_PASS);
    assert_int_equal(res.u_phase[1], PQ_IEEE519_NOT_EVALUATED);
    assert_int_equal(res.i_phase[2], PQ_IEEE519_NOT_EVALUATED);
    assert_int_equal(res.u_h[1][3].verdict, PQ_IEEE519_NOT_EVALUATED);
    assert_int_equal(res.u_order[3], PQ_IEEE519_PASS);
    assert_int_equal(res.verdict, PQ_IEEE519_PASS);
    pq_ieee519_free(acc);
}

static void test_ieee519_empty_period_has_no_data(void **state)
{
    struct pq_ieee519_cfg c = t19_cfg(PQ_IEEE519_2014);
    struct pq_ieee519_result res;
    struct pq_ieee519 *acc;

    (void) state;
    acc = new_ok(&c);
    pq_ieee519_result(acc, &res);
    assert_int_equal(res.verdict, PQ_IEEE519_NO_DATA);
    assert_int_equal(res.u_thd[0].verdict, PQ_IEEE519_NO_DATA);
    assert_true(isnan(res.u_thd[0].week95.value));
    assert_int_equal(res.u_thd[0].day99.worst_day, -1);
    assert_int_equal(res.limits.row, 1);
    pq_ieee519_free(acc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ieee519_t19_480_v_ratio_35_gives_table_2_second_row),
        cmocka_unit_test(
            test_ieee519_t19_even_rule_is_25_pct_in_2014_and_50_or_100_pct_in_2022),
        cmocka_unit_test(test_ieee519_table_1_follows_the_bus_voltage_bounds),
        cmocka_unit_test(test_ieee519_ratio_on_a_row_boundary_takes_the_higher_row),
        cmocka_unit_test(test_ieee519_high_voltage_buses_use_tables_3_and_4),
        cmocka_unit_test(test_ieee519_limits_reject_bad_configurations_with_einval),
        cmocka_unit_test(test_ieee519_new_rejects_bad_configurations_and_free_takes_null),
        cmocka_unit_test(test_ieee519_percentile_is_nearest_rank_on_known_data),
        cmocka_unit_test(test_ieee519_weekly_percentiles_equal_those_of_all_values),
        cmocka_unit_test(test_ieee519_daily_percentile_equals_that_of_the_days_values),
        cmocka_unit_test(test_ieee519_t9_fails_individual_5th_but_passes_thd_and_en50160),
        cmocka_unit_test(test_ieee519_current_weekly_99th_is_held_to_1_5_times_the_table),
        cmocka_unit_test(test_ieee519_weekly_95th_fails_with_51_of_1008_above_the_limit),
        cmocka_unit_test(test_ieee519_daily_99th_of_3s_values_is_held_to_1_5_and_2_times),
        cmocka_unit_test(test_ieee519_2022_passes_even_currents_that_2014_fails),
        cmocka_unit_test(test_ieee519_tdd_is_taken_against_the_configured_il_to_the_50th),
        cmocka_unit_test(test_ieee519_flagged_records_are_excluded_unless_kept),
        cmocka_unit_test(
            test_ieee519_duplicate_late_outside_and_other_records_are_counted),
        cmocka_unit_test(test_ieee519_more_3s_values_than_a_day_holds_are_counted),
        cmocka_unit_test(test_ieee519_without_il_only_voltage_is_evaluated),
        cmocka_unit_test(test_ieee519_single_phase_leaves_phases_b_and_c_unevaluated),
        cmocka_unit_test(test_ieee519_empty_period_has_no_data),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
