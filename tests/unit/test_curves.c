/* test_curves.c - ITIC, SEMI F47 and the EN 50160 event cells at every
 * breakpoint: a point on the boundary, just inside and just outside.
 *
 * "Just" is 0.01 % in magnitude and the next double in duration, so the
 * tests pin which side of each breakpoint a boundary value belongs to
 * (pq/curves.h): ITIC boundary points are no-interruption; vertical steps
 * belong to the shorter duration; EN 50160 inequalities as printed.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pq/curves.h"

#define EPS_PCT 0.01 /* "just" above or below a magnitude */

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("%s: got %.12g, want %.12g +- %.3g", what, got, want, tol);
    }
}

static double after(double t)
{
    return nextafter(t, INFINITY);
}

static double before(double t)
{
    return nextafter(t, -INFINITY);
}

/* classify(pct, t) must be `want`; the message names the point. */
static void itic_is(double pct, double t, int want)
{
    int got = pq_itic_classify(pct, t);

    if (got != want) {
        fail_msg("ITIC(%.6g %%, %.9g s): got %s, want %s", pct, t, pq_itic_name(got),
                 pq_itic_name(want));
    }
}

static void semi_is(double pct, double t, int want)
{
    int got = pq_semi_f47_classify(pct, t);

    if (got != want) {
        fail_msg("F47(%.6g %%, %.9g s): got %s, want %s", pct, t, pq_semi_name(got),
                 pq_semi_name(want));
    }
}

static void dip_cell_is(double pct, double t, const char *want)
{
    char out[4] = "??";
    int rc = pq_en50160_dip_cell(pct, t, out);

    if (strcmp(out, want) != 0 || rc != (want[0] ? 0 : -ERANGE)) {
        fail_msg("dip cell(%.9g %%, %.9g s): got \"%s\" rc %d, want \"%s\"", pct, t, out,
                 rc, want);
    }
}

static void swell_cell_is(double pct, double t, const char *want)
{
    char out[4] = "??";
    int rc = pq_en50160_swell_cell(pct, t, out);

    if (strcmp(out, want) != 0 || rc != (want[0] ? 0 : -ERANGE)) {
        fail_msg("swell cell(%.9g %%, %.9g s): got \"%s\" rc %d, want \"%s\"", pct, t,
                 out, rc, want);
    }
}

/* ---- ITIC ------------------------------------------------------------------ */

static void test_itic_t20_cases_match_the_reference(void **state)
{
    (void) state;
    itic_is(125.0, 0.010, PQ_ITIC_PROHIBITED);
    itic_is(115.0, 1.0, PQ_ITIC_PROHIBITED);
    itic_is(60.0, 0.015, PQ_ITIC_NO_INTERRUPTION);
    itic_is(75.0, 2.0, PQ_ITIC_NO_DAMAGE);
}

static void test_itic_upper_breakpoint_at_a_hundredth_cycle_is_500_pct(void **state)
{
    const double t = 0.01 / 60.0;

    (void) state;
    itic_is(500.0, t, PQ_ITIC_NO_INTERRUPTION);
    itic_is(500.0 + EPS_PCT, t, PQ_ITIC_PROHIBITED);
    itic_is(500.0, before(t), PQ_ITIC_NO_INTERRUPTION);
    itic_is(500.0 + EPS_PCT, before(t), PQ_ITIC_PROHIBITED);
    itic_is(500.0 + EPS_PCT, 0.0, PQ_ITIC_PROHIBITED);
    /* 1 us after it the slope is 0.36 % down from 500 */
    itic_is(500.0, t + 1e-6, PQ_ITIC_PROHIBITED);
    itic_is(499.6, t + 1e-6, PQ_ITIC_NO_INTERRUPTION);
}

static void test_itic_upper_breakpoint_at_1_ms_is_200_pct(void **state)
{
    (void) state;
    assert_close(pq_itic_upper_pct(1e-3), 200.0, 0.0, "Umax(1 ms)");
    itic_is(200.0, 1e-3, PQ_ITIC_NO_INTERRUPTION);
    itic_is(200.0 + EPS_PCT, 1e-3, PQ_ITIC_PROHIBITED);
    /* 1 us either side: 200.36 % on the 500 -> 200 slope, 199.97 % on the next */
    itic_is(200.3, 1e-3 - 1e-6, PQ_ITIC_NO_INTERRUPTION);
    itic_is(200.0, 1e-3 + 1e-6, PQ_ITIC_PROHIBITED);
    itic_is(199.96, 1e-3 + 1e-6, PQ_ITIC_NO_INTERRUPTION);
}

static void test_itic_upper_slope_is_linear_in_time_170_pct_at_2_ms(void **state)
{
    (void) state;
    /* linear 200 -> 140 % over 1..3 ms; log-time would be 162.1 % */
    assert_close(pq_itic_upper_pct(2e-3), 170.0, 1e-9, "Umax(2 ms)");
    itic_is(170.0 - EPS_PCT, 2e-3, PQ_ITIC_NO_INTERRUPTION);
    itic_is(170.0 + EPS_PCT, 2e-3, PQ_ITIC_PROHIBITED);
    assert_close(pq_itic_upper_pct(0.5 * (1e-3 + 0.01 / 60.0)), 350.0, 1e-9,
                 "Umax(midway 1/6 ms..1 ms)");
}

static void test_itic_upper_step_at_3_ms_belongs_to_the_slope(void **state)
{
    (void) state;
    assert_close(pq_itic_upper_pct(3e-3), 140.0, 0.0, "Umax(3 ms)");
    itic_is(140.0, 3e-3, PQ_ITIC_NO_INTERRUPTION);
    itic_is(130.0, 3e-3, PQ_ITIC_NO_INTERRUPTION); /* on the vertical step */
    itic_is(140.0 + EPS_PCT, 3e-3, PQ_ITIC_PROHIBITED);
    itic_is(120.0, after(3e-3), PQ_ITIC_NO_INTERRUPTION);
    itic_is(120.0 + EPS_PCT, after(3e-3), PQ_ITIC_PROHIBITED);
}

static void test_itic_upper_step_at_half_a_second_is_120_then_110(void **state)
{
    (void) state;
    itic_is(120.0, 0.5, PQ_ITIC_NO_INTERRUPTION);
    itic_is(120.0 + EPS_PCT, 0.5, PQ_ITIC_PROHIBITED);
    itic_is(110.0, after(0.5), PQ_ITIC_NO_INTERRUPTION);
    itic_is(110.0 + EPS_PCT, after(0.5), PQ_ITIC_PROHIBITED);
    itic_is(110.0, 1e6, PQ_ITIC_NO_INTERRUPTION);
}

static void test_itic_lower_step_at_20_ms_tolerates_full_dropout_up_to_it(void **state)
{
    (void) state;
    itic_is(0.0, 0.02, PQ_ITIC_NO_INTERRUPTION);
    itic_is(0.0, after(0.02), PQ_ITIC_NO_DAMAGE);
    itic_is(70.0 - EPS_PCT, after(0.02), PQ_ITIC_NO_DAMAGE);
    itic_is(70.0, after(0.02), PQ_ITIC_NO_INTERRUPTION);
}

static void test_itic_lower_step_at_half_a_second_is_70_then_80(void **state)
{
    (void) state;
    itic_is(70.0 - EPS_PCT, 0.5, PQ_ITIC_NO_DAMAGE);
    itic_is(70.0, 0.5, PQ_ITIC_NO_INTERRUPTION);
    itic_is(75.0, 0.5, PQ_ITIC_NO_INTERRUPTION); /* on the vertical step */
    itic_is(80.0 - EPS_PCT, after(0.5), PQ_ITIC_NO_DAMAGE);
    itic_is(80.0, after(0.5), PQ_ITIC_NO_INTERRUPTION);
}

static void test_itic_lower_step_at_10_s_is_80_then_90(void **state)
{
    (void) state;
    itic_is(80.0 - EPS_PCT, 10.0, PQ_ITIC_NO_DAMAGE);
    itic_is(80.0, 10.0, PQ_ITIC_NO_INTERRUPTION);
    itic_is(90.0 - EPS_PCT, after(10.0), PQ_ITIC_NO_DAMAGE);
    itic_is(90.0, after(10.0), PQ_ITIC_NO_INTERRUPTION);
    itic_is(100.0, 3600.0, PQ_ITIC_NO_INTERRUPTION);
}

static void test_itic_bad_input_is_na_and_names_follow_the_json_contract(void **state)
{
    (void) state;
    itic_is(NAN, 1.0, PQ_ITIC_NA);
    itic_is(50.0, NAN, PQ_ITIC_NA);
    itic_is(50.0, -1e-3, PQ_ITIC_NA);
    itic_is(-1.0, 1.0, PQ_ITIC_NA);
    assert_true(isnan(pq_itic_upper_pct(NAN)));
    assert_true(isnan(pq_itic_lower_pct(-1.0)));
    assert_string_equal(pq_itic_name(PQ_ITIC_NO_INTERRUPTION), "no-interruption");
    assert_string_equal(pq_itic_name(PQ_ITIC_NO_DAMAGE), "no-damage");
    assert_string_equal(pq_itic_name(PQ_ITIC_PROHIBITED), "prohibited");
    assert_string_equal(pq_itic_name(PQ_ITIC_NA), "n/a");
    assert_string_equal(pq_itic_name(42), "n/a");
}

/* ---- SEMI F47 -------------------------------------------------------------- */

static void test_semi_below_50_ms_is_na_and_50_ms_is_judged(void **state)
{
    (void) state;
    semi_is(0.0, before(0.05), PQ_SEMI_NA);
    semi_is(50.0 - EPS_PCT, 0.05, PQ_SEMI_FAIL);
    semi_is(50.0, 0.05, PQ_SEMI_PASS);
}

static void test_semi_step_at_200_ms_is_50_then_70(void **state)
{
    (void) state;
    semi_is(50.0 - EPS_PCT, 0.2, PQ_SEMI_FAIL);
    semi_is(50.0, 0.2, PQ_SEMI_PASS);
    semi_is(70.0 - EPS_PCT, after(0.2), PQ_SEMI_FAIL);
    semi_is(70.0, after(0.2), PQ_SEMI_PASS);
}

static void test_semi_step_at_500_ms_is_70_then_80(void **state)
{
    (void) state;
    semi_is(70.0 - EPS_PCT, 0.5, PQ_SEMI_FAIL);
    semi_is(70.0, 0.5, PQ_SEMI_PASS);
    semi_is(80.0 - EPS_PCT, after(0.5), PQ_SEMI_FAIL);
    semi_is(80.0, after(0.5), PQ_SEMI_PASS);
}

static void test_semi_end_at_1_s_keeps_80_pct_for_longer_sags(void **state)
{
    (void) state;
    semi_is(80.0 - EPS_PCT, 1.0, PQ_SEMI_FAIL);
    semi_is(80.0, 1.0, PQ_SEMI_PASS);
    /* longer: its first second is already below the curve */
    semi_is(80.0 - EPS_PCT, after(1.0), PQ_SEMI_FAIL);
    semi_is(80.0, after(1.0), PQ_SEMI_PASS);
    semi_is(85.0, 30.0, PQ_SEMI_PASS);
}

static void test_semi_t14_dip_is_inside_the_ride_through_area(void **state)
{
    (void) state;
    semi_is(50.0, 0.1, PQ_SEMI_PASS); /* T14: 50 % for 100 ms, on the curve */
    semi_is(40.0, 0.1, PQ_SEMI_FAIL);
    semi_is(2.0, 2.0, PQ_SEMI_FAIL); /* T16's interruption */
}

static void test_semi_swells_and_bad_input_are_na(void **state)
{
    (void) state;
    semi_is(100.0, 1.0, PQ_SEMI_NA);
    semi_is(125.0, 0.1, PQ_SEMI_NA);
    semi_is(NAN, 0.1, PQ_SEMI_NA);
    semi_is(50.0, NAN, PQ_SEMI_NA);
    semi_is(-1.0, 0.1, PQ_SEMI_NA);
    assert_string_equal(pq_semi_name(PQ_SEMI_PASS), "pass");
    assert_string_equal(pq_semi_name(PQ_SEMI_FAIL), "fail");
    assert_string_equal(pq_semi_name(PQ_SEMI_NA), "n/a");
    assert_string_equal(pq_semi_name(-3), "n/a");
}

/* ---- EN 50160 cells -------------------------------------------------------- */

static void test_en50160_dip_rows_include_lower_and_exclude_upper_bounds(void **state)
{
    (void) state;
    dip_cell_is(90.0, 0.1, "");
    dip_cell_is(before(90.0), 0.1, "A1");
    dip_cell_is(80.0, 0.1, "A1");
    dip_cell_is(before(80.0), 0.1, "B1");
    dip_cell_is(70.0, 0.1, "B1");
    dip_cell_is(before(70.0), 0.1, "C1");
    dip_cell_is(40.0, 0.1, "C1");
    dip_cell_is(before(40.0), 0.1, "D1");
    dip_cell_is(5.0, 0.1, "D1");
    dip_cell_is(before(5.0), 0.1, "X1");
    dip_cell_is(0.0, 0.1, "X1");
    dip_cell_is(50.0, 0.1, "C1"); /* T14 */
}

static void test_en50160_dip_columns_exclude_lower_bounds_but_the_first(void **state)
{
    (void) state;
    dip_cell_is(85.0, before(0.01), "");
    dip_cell_is(85.0, 0.01, "A1");
    dip_cell_is(85.0, 0.2, "A1");
    dip_cell_is(85.0, after(0.2), "A2");
    dip_cell_is(85.0, 0.5, "A2");
    dip_cell_is(85.0, after(0.5), "A3");
    dip_cell_is(85.0, 1.0, "A3");
    dip_cell_is(85.0, after(1.0), "A4");
    dip_cell_is(85.0, 5.0, "A4");
    dip_cell_is(85.0, after(5.0), "A5");
    dip_cell_is(85.0, 60.0, "A5");
    dip_cell_is(85.0, after(60.0), "");
    dip_cell_is(2.0, 2.0, "X4"); /* T16 */
    dip_cell_is(NAN, 1.0, "");
    dip_cell_is(50.0, NAN, "");
}

static void test_en50160_swell_rows_and_columns_as_printed(void **state)
{
    (void) state;
    swell_cell_is(110.0, 0.1, "");
    swell_cell_is(after(110.0), 0.1, "T1");
    swell_cell_is(before(120.0), 0.1, "T1");
    swell_cell_is(120.0, 0.1, "S1");
    swell_cell_is(115.0, before(0.01), "");
    swell_cell_is(115.0, 0.01, "T1");
    swell_cell_is(115.0, 0.5, "T1");
    swell_cell_is(115.0, after(0.5), "T2");
    swell_cell_is(115.0, 5.0, "T2");
    swell_cell_is(115.0, after(5.0), "T3");
    swell_cell_is(130.0, 60.0, "S3");
    swell_cell_is(130.0, after(60.0), "S4");
    swell_cell_is(115.0, 86400.0, "T4");
    swell_cell_is(NAN, 1.0, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_itic_t20_cases_match_the_reference),
        cmocka_unit_test(test_itic_upper_breakpoint_at_a_hundredth_cycle_is_500_pct),
        cmocka_unit_test(test_itic_upper_breakpoint_at_1_ms_is_200_pct),
        cmocka_unit_test(test_itic_upper_slope_is_linear_in_time_170_pct_at_2_ms),
        cmocka_unit_test(test_itic_upper_step_at_3_ms_belongs_to_the_slope),
        cmocka_unit_test(test_itic_upper_step_at_half_a_second_is_120_then_110),
        cmocka_unit_test(test_itic_lower_step_at_20_ms_tolerates_full_dropout_up_to_it),
        cmocka_unit_test(test_itic_lower_step_at_half_a_second_is_70_then_80),
        cmocka_unit_test(test_itic_lower_step_at_10_s_is_80_then_90),
        cmocka_unit_test(test_itic_bad_input_is_na_and_names_follow_the_json_contract),
        cmocka_unit_test(test_semi_below_50_ms_is_na_and_50_ms_is_judged),
        cmocka_unit_test(test_semi_step_at_200_ms_is_50_then_70),
        cmocka_unit_test(test_semi_step_at_500_ms_is_70_then_80),
        cmocka_unit_test(test_semi_end_at_1_s_keeps_80_pct_for_longer_sags),
        cmocka_unit_test(test_semi_t14_dip_is_inside_the_ride_through_area),
        cmocka_unit_test(test_semi_swells_and_bad_input_are_na),
        cmocka_unit_test(test_en50160_dip_rows_include_lower_and_exclude_upper_bounds),
        cmocka_unit_test(test_en50160_dip_columns_exclude_lower_bounds_but_the_first),
        cmocka_unit_test(test_en50160_swell_rows_and_columns_as_printed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
