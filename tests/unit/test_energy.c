/* test_energy.c - pq/energy: quadrants, signs, registers, and no drift.
 *
 * Tolerances: hand-sized cases use ENERGY_TOL, 1e-12 relative (a few
 * roundings of the reading); the year-long test uses the requirement, 1e-9
 * relative to P * T, and also the scheme's own bound, 1e-13.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pq/energy.h"

#define ENERGY_TOL 1e-12      /* relative, readings of short sums */
#define YEAR_S     31536000.0 /* 365 days */
#define YEAR_ADDS  157680000L /* 0.2 s adds in YEAR_S */

/* ---- helpers ---- */

/* |got - want| <= tol * max(|want|, 1): relative, absolute near zero. */
static void assert_rel_close(double got, double want, double tol)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;

    if (!(fabs(got - want) <= tol * scale)) {
        print_error("%.17g is not within %g (relative) of %.17g\n", got, tol, want);
        fail();
    }
}

/* Same powers on every phase and the total. */
static void add_all(struct pq_energy *e, double p, double q, double s, double dt)
{
    const double pw[4] = {p, p, p, p};
    const double qv[4] = {q, q, q, q};
    const double sv[4] = {s, s, s, s};

    pq_energy_add(e, pw, qv, sv, dt);
}

/* Registers of e holding anything (whole joules or a fraction). */
static int nonzero_registers(const struct pq_energy *e)
{
    int ch, k, n = 0;

    for (ch = 0; ch < PQ_ENERGY_NCH; ch++) {
        const struct pq_energy_ch *c = &e->ch[ch];
        const struct pq_energy_reg *regs[7] = {
            &c->p_del,     &c->p_rec,     &c->q_quad[0], &c->q_quad[1],
            &c->q_quad[2], &c->q_quad[3], &c->s};

        for (k = 0; k < 7; k++) {
            n += regs[k]->j != 0 || regs[k]->frac != 0.0;
        }
    }
    return n;
}

static struct pq_energy_reading read_ch(const struct pq_energy *e, int ch)
{
    struct pq_energy_reading r;

    pq_energy_read(e, ch, &r);
    return r;
}

/* ---- quadrants ---- */

static void test_quadrant_of_each_open_quadrant_follows_signs_of_p_and_q(void **state)
{
    (void) state;
    assert_int_equal(pq_quadrant(10.0, 5.0), 1);   /* import, inductive */
    assert_int_equal(pq_quadrant(-10.0, 5.0), 2);  /* export, capacitive */
    assert_int_equal(pq_quadrant(-10.0, -5.0), 3); /* export, inductive */
    assert_int_equal(pq_quadrant(10.0, -5.0), 4);  /* import, capacitive */
    assert_int_equal(pq_quadrant(1e-300, 1e-300), 1);
    assert_int_equal(pq_quadrant(-1e-300, -1e-300), 3);
}

static void test_quadrant_on_the_axes_is_half_open_by_angle(void **state)
{
    (void) state;
    assert_int_equal(pq_quadrant(10.0, 0.0), 1);  /* 0 deg */
    assert_int_equal(pq_quadrant(0.0, 5.0), 2);   /* 90 deg */
    assert_int_equal(pq_quadrant(-10.0, 0.0), 3); /* 180 deg */
    assert_int_equal(pq_quadrant(0.0, -5.0), 4);  /* 270 deg */
    assert_int_equal(pq_quadrant(0.0, 0.0), 1);
    assert_int_equal(pq_quadrant(-0.0, 5.0), 2); /* -0 is the axis */
    assert_int_equal(pq_quadrant(-0.0, -0.0), 1);
}

static void test_quadrant_of_nan_is_zero(void **state)
{
    (void) state;
    assert_int_equal(pq_quadrant(NAN, 1.0), 0);
    assert_int_equal(pq_quadrant(1.0, NAN), 0);
}

/* ---- signs and registers ---- */

static void test_energy_positive_p_counts_as_delivered_only(void **state)
{
    struct pq_energy e;
    struct pq_energy_reading r;

    (void) state;
    pq_energy_reset(&e);
    add_all(&e, 3600.0, 0.0, 3600.0, 10.0); /* 3600 W for 10 s = 10 Wh */
    r = read_ch(&e, PQ_ENERGY_TOTAL);
    assert_rel_close(r.wh_del, 10.0, ENERGY_TOL);
    assert_rel_close(r.wh_rec, 0.0, ENERGY_TOL);
    assert_rel_close(r.wh_net, 10.0, ENERGY_TOL);
    assert_rel_close(r.wh_total, 10.0, ENERGY_TOL);
    assert_int_equal(e.skipped, 0);
}

static void test_energy_negative_p_counts_as_received_only_and_positive(void **state)
{
    struct pq_energy e;
    struct pq_energy_reading r;

    (void) state;
    pq_energy_reset(&e);
    add_all(&e, -7200.0, 0.0, 7200.0, 5.0); /* -10 Wh */
    r = read_ch(&e, 0);
    assert_rel_close(r.wh_del, 0.0, ENERGY_TOL);
    assert_rel_close(r.wh_rec, 10.0, ENERGY_TOL);
    assert_rel_close(r.wh_net, -10.0, ENERGY_TOL);
    assert_rel_close(r.wh_total, 10.0, ENERGY_TOL);
}

static void test_energy_net_is_del_minus_rec_and_total_is_their_sum(void **state)
{
    struct pq_energy e;
    struct pq_energy_reading r;

    (void) state;
    pq_energy_reset(&e);
    add_all(&e, 1800.0, 0.0, 1800.0, 100.0); /* 50 Wh delivered */
    add_all(&e, -1800.0, 0.0, 1800.0, 30.0); /* 15 Wh received */
    add_all(&e, 0.5, 0.0, 0.5, 0.3);         /* 0.15 J: below a joule */
    r = read_ch(&e, 2);
    assert_rel_close(r.wh_del, 50.0 + 0.15 / 3600.0, ENERGY_TOL);
    assert_rel_close(r.wh_rec, 15.0, ENERGY_TOL);
    assert_rel_close(r.wh_net, 35.0 + 0.15 / 3600.0, ENERGY_TOL);
    assert_rel_close(r.wh_total, 65.0 + 0.15 / 3600.0, ENERGY_TOL);
}

static void test_energy_each_quadrant_fills_only_its_varh_register(void **state)
{
    static const double sign[4][2] = {{1, 1}, {-1, 1}, {-1, -1}, {1, -1}};
    int quad;

    (void) state;
    for (quad = 0; quad < 4; quad++) {
        struct pq_energy e;
        struct pq_energy_reading r;
        double p = 3000.0 * sign[quad][0];
        double q = 4000.0 * sign[quad][1];
        int k;

        pq_energy_reset(&e);
        add_all(&e, p, q, 5000.0, 3.6); /* 3.6 s: Wh = W / 1000 */
        r = read_ch(&e, PQ_ENERGY_TOTAL);
        for (k = 0; k < 4; k++) {
            assert_rel_close(r.varh_q[k], k == quad ? 4.0 : 0.0, ENERGY_TOL);
        }
        assert_rel_close(r.varh_del, q > 0 ? 4.0 : 0.0, ENERGY_TOL);
        assert_rel_close(r.varh_rec, q < 0 ? 4.0 : 0.0, ENERGY_TOL);
        assert_rel_close(r.wh_del, p > 0 ? 3.0 : 0.0, ENERGY_TOL);
        assert_rel_close(r.wh_rec, p < 0 ? 3.0 : 0.0, ENERGY_TOL);
        assert_rel_close(r.vah, 5.0, ENERGY_TOL);
    }
}

static void test_energy_pure_reactive_counts_in_q2_or_q4_and_no_wh(void **state)
{
    struct pq_energy e;
    struct pq_energy_reading r;

    (void) state;
    pq_energy_reset(&e);
    add_all(&e, 0.0, 3600.0, 3600.0, 1.0);   /* 90 deg: Q2, delivered varh */
    add_all(&e, -0.0, -7200.0, 7200.0, 1.0); /* 270 deg: Q4, received varh */
    r = read_ch(&e, 1);
    assert_rel_close(r.varh_q[0], 0.0, ENERGY_TOL);
    assert_rel_close(r.varh_q[1], 1.0, ENERGY_TOL);
    assert_rel_close(r.varh_q[2], 0.0, ENERGY_TOL);
    assert_rel_close(r.varh_q[3], 2.0, ENERGY_TOL);
    assert_rel_close(r.varh_del, 1.0, ENERGY_TOL);
    assert_rel_close(r.varh_rec, 2.0, ENERGY_TOL);
    assert_rel_close(r.wh_total, 0.0, ENERGY_TOL);
    assert_rel_close(r.vah, 3.0, ENERGY_TOL);
    assert_int_equal(e.skipped, 0);
}

static void test_energy_phases_and_total_integrate_their_own_powers(void **state)
{
    /* A imports 1000 W, B exports 400 W, C idle: the total imports 600 W,
     * so total delivered is 600 W, not the phases' 1000 W. */
    const double pw[4] = {1000.0, -400.0, 0.0, 600.0};
    const double qv[4] = {100.0, -50.0, 0.0, 50.0};
    const double sv[4] = {1010.0, 410.0, 0.0, 1420.0};
    struct pq_energy e;
    struct pq_energy_reading a, b, c, t;

    (void) state;
    pq_energy_reset(&e);
    pq_energy_add(&e, pw, qv, sv, 36.0); /* Wh = W / 100 */
    a = read_ch(&e, 0);
    b = read_ch(&e, 1);
    c = read_ch(&e, 2);
    t = read_ch(&e, PQ_ENERGY_TOTAL);
    assert_rel_close(a.wh_del, 10.0, ENERGY_TOL);
    assert_rel_close(a.varh_q[0], 1.0, ENERGY_TOL);
    assert_rel_close(b.wh_rec, 4.0, ENERGY_TOL);
    assert_rel_close(b.varh_q[2], 0.5, ENERGY_TOL);
    assert_rel_close(c.wh_total, 0.0, ENERGY_TOL);
    assert_rel_close(c.vah, 0.0, ENERGY_TOL);
    assert_rel_close(t.wh_del, 6.0, ENERGY_TOL);
    assert_rel_close(t.wh_rec, 0.0, ENERGY_TOL);
    assert_rel_close(t.varh_q[0], 0.5, ENERGY_TOL);
    assert_rel_close(t.vah, 14.2, ENERGY_TOL);
}

/* ---- bad input ---- */

static void test_energy_bad_dt_adds_nothing_and_counts_one_skip(void **state)
{
    static const double bad_dt[] = {0.0, -0.2, NAN, INFINITY};
    struct pq_energy e;
    size_t i;

    (void) state;
    pq_energy_reset(&e);
    for (i = 0; i < sizeof(bad_dt) / sizeof(bad_dt[0]); i++) {
        add_all(&e, 1000.0, 1000.0, 1500.0, bad_dt[i]);
    }
    assert_int_equal(e.skipped, 4);
    assert_int_equal(nonzero_registers(&e), 0);
}

static void test_energy_nan_or_bad_value_skips_only_its_registers(void **state)
{
    const double pw[4] = {NAN, 1000.0, 1000.0, INFINITY};
    const double qv[4] = {100.0, NAN, 100.0, 100.0};
    const double sv[4] = {1000.0, 1000.0, -1.0, 1000.0};
    struct pq_energy e;
    struct pq_energy_reading a, b, c, t;

    (void) state;
    pq_energy_reset(&e);
    pq_energy_add(&e, pw, qv, sv, 3.6);
    a = read_ch(&e, 0);
    b = read_ch(&e, 1);
    c = read_ch(&e, 2);
    t = read_ch(&e, PQ_ENERGY_TOTAL);
    /* A: P NaN skips Wh and the quadrant register (needs P's sign). */
    assert_rel_close(a.wh_total, 0.0, ENERGY_TOL);
    assert_rel_close(a.varh_del + a.varh_rec, 0.0, ENERGY_TOL);
    assert_rel_close(a.vah, 1.0, ENERGY_TOL);
    /* B: Q NaN skips varh only. */
    assert_rel_close(b.wh_del, 1.0, ENERGY_TOL);
    assert_rel_close(b.varh_del + b.varh_rec, 0.0, ENERGY_TOL);
    /* C: S < 0 skips VAh only. */
    assert_rel_close(c.wh_del, 1.0, ENERGY_TOL);
    assert_rel_close(c.varh_q[0], 0.1, ENERGY_TOL);
    assert_rel_close(c.vah, 0.0, ENERGY_TOL);
    /* Total: infinite P skips Wh; Q's quadrant is still known (Q1). */
    assert_rel_close(t.wh_total, 0.0, ENERGY_TOL);
    assert_rel_close(t.varh_q[0], 0.1, ENERGY_TOL);
    assert_int_equal(e.skipped, 5);
}

static void test_energy_increment_above_max_is_skipped(void **state)
{
    struct pq_energy e;

    (void) state;
    pq_energy_reset(&e);
    add_all(&e, 1e12, 0.0, 0.0, 1e4); /* 1e16 J per add */
    assert_int_equal(e.skipped, 4);
    assert_rel_close(read_ch(&e, 0).wh_total, 0.0, ENERGY_TOL);
}

static void test_energy_reset_clears_every_register(void **state)
{
    struct pq_energy e;

    (void) state;
    pq_energy_reset(&e);
    add_all(&e, 1234.5, -678.9, 1500.0, 0.2);
    add_all(&e, -1234.5, 678.9, 1500.0, 0.2);
    add_all(&e, NAN, 1.0, 1.0, 0.2);
    assert_int_equal(nonzero_registers(&e), 4 * 5); /* all but Q1 and Q3 */
    assert_true(e.skipped > 0);
    pq_energy_reset(&e);
    assert_int_equal(nonzero_registers(&e), 0);
    assert_int_equal(e.skipped, 0);
}

/* ---- range and exactness ---- */

static void test_energy_register_saturates_instead_of_rolling_over(void **state)
{
    struct pq_energy e;
    struct pq_energy_reading r;

    (void) state;
    pq_energy_reset(&e);
    e.ch[0].p_del.j = INT64_MAX - 10;
    add_all(&e, 100.0, 0.0, 0.0, 1.0); /* +100 J */
    assert_true(e.ch[0].p_del.j == INT64_MAX);
    r = read_ch(&e, 0);
    assert_rel_close(r.wh_del, (double) INT64_MAX / 3600.0, 1e-15);
    assert_true(r.wh_del > 0.0);
}

static void test_energy_sub_joule_increments_are_not_lost(void **state)
{
    struct pq_energy e;
    long i;

    (void) state;
    pq_energy_reset(&e);
    /* 1 mW for 0.2 s = 2e-4 J per add, 1e6 adds = 200 J. */
    for (i = 0; i < 1000000; i++) {
        add_all(&e, 1e-3, -1e-3, 1.5e-3, 0.2);
    }
    assert_rel_close(read_ch(&e, 0).wh_del * 3600.0, 200.0, 1e-10);
    assert_rel_close(read_ch(&e, 0).varh_q[3] * 3600.0, 200.0, 1e-10);
    assert_rel_close(read_ch(&e, 0).vah * 3600.0, 300.0, 1e-10);
}

/* A year of 0.2 s adds at constant power ends at P * T.  The naive double
 * sum of the same increments is run alongside: it must miss by more than
 * the requirement, or this test would not tell the schemes apart. */
static void test_energy_year_of_200ms_adds_is_within_1e9_of_p_times_t(void **state)
{
    const double p = 123456.789, q = -54321.0123;
    const double s = sqrt(p * p + q * q);
    const double pw[4] = {p / 3, p / 3, p / 3, p};
    const double qv[4] = {q / 3, q / 3, q / 3, q};
    const double sv[4] = {s / 3, s / 3, s / 3, s};
    const double dt = 0.2;
    struct pq_energy e;
    struct pq_energy_reading t, a;
    double naive = 0.0;
    long i;

    (void) state;
    pq_energy_reset(&e);
    for (i = 0; i < YEAR_ADDS; i++) {
        pq_energy_add(&e, pw, qv, sv, dt);
        naive += p * dt;
    }
    t = read_ch(&e, PQ_ENERGY_TOTAL);
    a = read_ch(&e, 0);
    assert_rel_close(t.wh_del, p * YEAR_S / 3600.0, 1e-9);
    assert_rel_close(t.wh_del, p * YEAR_S / 3600.0, 1e-13);
    assert_rel_close(t.wh_net, p * YEAR_S / 3600.0, 1e-13);
    assert_rel_close(t.varh_q[3], -q * YEAR_S / 3600.0, 1e-13);
    assert_rel_close(t.varh_rec, -q * YEAR_S / 3600.0, 1e-13);
    assert_rel_close(t.vah, s * YEAR_S / 3600.0, 1e-13);
    assert_rel_close(a.wh_del, p / 3 * YEAR_S / 3600.0, 1e-13);
    assert_rel_close(a.vah, s / 3 * YEAR_S / 3600.0, 1e-13);
    assert_rel_close(t.wh_rec, 0.0, ENERGY_TOL);
    assert_int_equal(e.skipped, 0);
    /* The naive sum drifts beyond the requirement. */
    assert_true(fabs(naive - p * YEAR_S) > 1e-9 * p * YEAR_S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quadrant_of_each_open_quadrant_follows_signs_of_p_and_q),
        cmocka_unit_test(test_quadrant_on_the_axes_is_half_open_by_angle),
        cmocka_unit_test(test_quadrant_of_nan_is_zero),
        cmocka_unit_test(test_energy_positive_p_counts_as_delivered_only),
        cmocka_unit_test(test_energy_negative_p_counts_as_received_only_and_positive),
        cmocka_unit_test(test_energy_net_is_del_minus_rec_and_total_is_their_sum),
        cmocka_unit_test(test_energy_each_quadrant_fills_only_its_varh_register),
        cmocka_unit_test(test_energy_pure_reactive_counts_in_q2_or_q4_and_no_wh),
        cmocka_unit_test(test_energy_phases_and_total_integrate_their_own_powers),
        cmocka_unit_test(test_energy_bad_dt_adds_nothing_and_counts_one_skip),
        cmocka_unit_test(test_energy_nan_or_bad_value_skips_only_its_registers),
        cmocka_unit_test(test_energy_increment_above_max_is_skipped),
        cmocka_unit_test(test_energy_reset_clears_every_register),
        cmocka_unit_test(test_energy_register_saturates_instead_of_rolling_over),
        cmocka_unit_test(test_energy_sub_joule_increments_are_not_lost),
        cmocka_unit_test(test_energy_year_of_200ms_adds_is_within_1e9_of_p_times_t),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
