/* test_expr.c - the expression compiler and its stack machine: known
 * values, units, quality and NaN rules, integrate() and rate() on
 * time-stamped samples, and error positions. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/expr.h"
#include "gateway/bus.h"
#include "pq/err.h"

#define assert_close(got, want, tol) close_at((got), (want), (tol), __FILE__, __LINE__)

static void close_at(double got, double want, double tol, const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.17g, want %.17g +- %g\n", got, want, tol);
        _fail(file, line);
    }
}

static struct expr *compile_ok(const char *src)
{
    struct expr *e = NULL;
    struct expr_error err;
    int rc = expr_compile(src, strlen(src), &e, &err);

    if (rc != 0) {
        print_error("'%s': column %d: %s\n", src, err.col, err.msg);
    }
    assert_int_equal(rc, 0);
    return e;
}

/* The value of a constant expression. */
static double value_of(const char *src)
{
    struct expr *e = compile_ok(src);
    struct expr_value out;

    expr_eval(e, NULL, 0, &out);
    expr_free(e);
    return out.value;
}

static void expect_error(const char *src, int col, const char *msg)
{
    struct expr *e = NULL;
    struct expr_error err;

    assert_int_equal(expr_compile(src, strlen(src), &e, &err), -PQ_ECONFIG);
    assert_null(e);
    if (err.col != col || !strstr(err.msg, msg)) {
        print_error("'%s': got column %d '%s', want column %d '%s'\n", src, err.col,
                    err.msg, col, msg);
        fail();
    }
}

static void test_expr_arithmetic_follows_precedence(void **state)
{
    (void) state;
    assert_close(value_of("1 + 2 * 3 ^ 2"), 19.0, 0);
    assert_close(value_of("(1 + 2) * 3"), 9.0, 0);
    assert_close(value_of("-2 ^ 2"), -4.0, 0);
    assert_close(value_of("2 ^ 3 ^ 2"), 512.0, 0);
    assert_close(value_of("7 % 4"), 3.0, 0);
    assert_close(value_of("10 - 4 - 3"), 3.0, 0);
    assert_close(value_of("12 / 4 / 3"), 1.0, 0);
    assert_close(value_of("1.5e3 + .5"), 1500.5, 0);
}

static void test_expr_numbers_with_units_are_in_base_units(void **state)
{
    (void) state;
    assert_close(value_of("5kW"), 5000.0, 0);
    assert_close(value_of("230V"), 230.0, 0);
    assert_close(value_of("11kV / 1000"), 11.0, 1e-12);
    assert_close(value_of("500mA"), 0.5, 1e-15);
    assert_close(value_of("10%"), 10.0, 0);
    assert_close(value_of("10% + 1"), 11.0, 0);
    assert_close(value_of("10 % 4"), 2.0, 0);
    assert_close(value_of("2h"), 7200.0, 0);  /* time in s ... */
    assert_close(value_of("1kWh"), 3.6e6, 0); /* ... energy in J */
}

static void test_expr_comparisons_and_logic_give_one_or_zero(void **state)
{
    (void) state;
    assert_close(value_of("3 > 2"), 1.0, 0);
    assert_close(value_of("3 <= 2"), 0.0, 0);
    assert_close(value_of("2 == 2 and 1 != 2"), 1.0, 0);
    assert_close(value_of("not (1 < 2) or false"), 0.0, 0);
    assert_close(value_of("!0 && 5"), 1.0, 0);
    assert_close(value_of("1 < 2 ? 10 : 20"), 10.0, 0);
    assert_close(value_of("if(0, 10, 20)"), 20.0, 0);
    assert_close(value_of("0 ? 1 : 1 ? 2 : 3"), 2.0, 0);
}

static void test_expr_functions_give_known_values(void **state)
{
    (void) state;
    assert_close(value_of("min(3, -1, 2)"), -1.0, 0);
    assert_close(value_of("max(3, -1, 2)"), 3.0, 0);
    assert_close(value_of("avg(1, 2, 3, 4)"), 2.5, 0);
    assert_close(value_of("abs(-4.5)"), 4.5, 0);
    assert_close(value_of("sqrt(2)"), sqrt(2.0), 0);
    assert_close(value_of("clamp(12, 0, 10)"), 10.0, 0);
    assert_close(value_of("clamp(-1, 0, 10)"), 0.0, 0);
    assert_close(value_of("convert(2.5, \"kW\", \"W\")"), 2500.0, 1e-12);
    assert_close(value_of("convert(7200, 'Ws', 'Wh')"), 2.0, 1e-15);
    assert_close(value_of("convert(90, 'min', 'h')"), 1.5, 1e-15);
}

/* Channel references, bare and quoted, are numbered once each. */
static void test_expr_references_are_resolved_by_the_caller(void **state)
{
    struct expr *e = compile_ok("local/p/a + 'local/p/b' + local/p/a * 0 + "
                                "bus1.dev-7/energy_kwh_del - alarm(\"over-u\")");
    struct expr_value refs[4] = {{100, 1, 0}, {200, 2, 0}, {3, 3, 0}, {1, 4, 0}};
    struct expr_value out;
    const char *alarm = NULL;

    (void) state;
    assert_int_equal(expr_nrefs(e), 4);
    assert_string_equal(expr_ref_name(e, 0), "local/p/a");
    assert_string_equal(expr_ref_name(e, 1), "local/p/b");
    assert_string_equal(expr_ref_name(e, 2), "bus1.dev-7/energy_kwh_del");
    assert_string_equal(expr_ref_name(e, 3), "alarm/over-u/active");
    assert_int_equal(expr_ref_is_alarm(e, 3, &alarm), 1);
    assert_string_equal(alarm, "over-u");
    assert_int_equal(expr_ref_is_alarm(e, 0, NULL), 0);
    assert_int_equal(expr_ref_col(e, 1), 13);
    expr_eval(e, refs, 5, &out);
    assert_close(out.value, 302.0, 0);
    assert_int_equal(out.t_ns, 5);
    expr_free(e);
}

static void test_expr_stack_depth_is_the_maximum_needed(void **state)
{
    struct expr *e;

    (void) state;
    e = compile_ok("1 + 2 * 3");
    assert_int_equal(expr_depth(e), 3);
    assert_int_equal(expr_ninsns(e), 5);
    expr_free(e);
    e = compile_ok("1 * 2 + 3");
    assert_int_equal(expr_depth(e), 2);
    expr_free(e);
    e = compile_ok("max(1, 2, 3, 4, 5)");
    assert_int_equal(expr_depth(e), 5);
    expr_free(e);
}

/* The result's quality is the OR of its inputs' bits; NaN propagates except
 * where and/or decide without it. */
static void test_expr_quality_is_the_or_of_the_inputs_and_nan_propagates(void **state)
{
    struct expr *e = compile_ok("a + b");
    struct expr *l = compile_ok("a > 0 or b > 0");
    struct expr_value refs[2] = {{1, 0, BUS_Q_FLAGGED}, {2, 0, BUS_Q_STALE}};
    struct expr_value out;

    (void) state;
    expr_eval(e, refs, 0, &out);
    assert_close(out.value, 3.0, 0);
    assert_int_equal(out.quality, BUS_Q_FLAGGED | BUS_Q_STALE);
    refs[1].value = NAN;
    expr_eval(e, refs, 0, &out);
    assert_true(isnan(out.value));
    /* 1 or NaN = 1, with the quality of the side that decided */
    expr_eval(l, refs, 0, &out);
    assert_close(out.value, 1.0, 0);
    assert_int_equal(out.quality, BUS_Q_FLAGGED);
    refs[0].value = -1;
    expr_eval(l, refs, 0, &out);
    assert_true(isnan(out.value));
    expr_free(e);
    expr_free(l);
    assert_true(isnan(value_of("min(1, 0/0)")));
    assert_true(isnan(value_of("0/0 > 1")));
    assert_true(isnan(value_of("if(0/0, 1, 2)")));
    assert_close(value_of("0 and 0/0"), 0.0, 0);
}

/* 2 kW for one hour, sampled every 10 ms: 2 kWh within 1e-9 relative. */
static void test_expr_integrate_constant_2kw_for_1h_is_2kwh(void **state)
{
    struct expr *e = compile_ok("convert(integrate(local/p/total), \"Ws\", \"kWh\")");
    struct expr_value ref = {2000.0, 0, 0}, out = {0};
    const int64_t t0 = 1700000000000000000LL, step = 10000000LL;

    (void) state;
    for (int64_t k = 0; k <= 360000; k++) {
        ref.t_ns = t0 + k * step;
        expr_eval(e, &ref, ref.t_ns, &out);
    }
    assert_close(out.value, 2.0, 2.0 * 1e-9);
    expr_free(e);
}

/* The trapezoidal rule is exact for a ramp: integral of 10 t over 0..60 s
 * is 5 t^2 = 18000, with uneven steps; a NaN sample leaves one interval
 * out. */
static void test_expr_integrate_ramp_is_exact_and_skips_nan_and_infinity(void **state)
{
    struct expr *e = compile_ok("integrate(x)");
    struct expr_value ref = {0}, out = {0};
    int64_t t = 0;

    (void) state;
    for (int k = 0; t <= 60000000000LL; k++) {
        ref.value = 10.0 * (double) t / 1e9;
        ref.t_ns = t;
        expr_eval(e, &ref, t, &out);
        t += (k % 3 + 1) * 100000000LL; /* 0.1, 0.2, 0.3 s */
    }
    assert_close(out.value, 5.0 * 60.0 * 60.0, 1e-6);
    expr_reset(e);
    ref = (struct expr_value){1.0, 0, 0};
    expr_eval(e, &ref, 0, &out);
    ref.value = NAN;
    expr_eval(e, &ref, 1000000000LL, &out);
    assert_close(out.value, 0.0, 0); /* 0..1 s touches the NaN: left out */
    ref.value = 1.0;
    expr_eval(e, &ref, 2000000000LL, &out);
    expr_eval(e, &ref, 3000000000LL, &out);
    assert_close(out.value, 1.0, 1e-12); /* 2..3 s only */
    ref.value = INFINITY;                /* a division by zero upstream: a gap like NaN */
    expr_eval(e, &ref, 4000000000LL, &out);
    ref.value = 1.0;
    expr_eval(e, &ref, 5000000000LL, &out);
    expr_eval(e, &ref, 6000000000LL, &out);
    assert_close(out.value, 2.0, 1e-12); /* and 5..6 s */
    expr_free(e);
}

static void test_expr_rate_of_a_ramp_is_its_slope(void **state)
{
    struct expr *e = compile_ok("rate(x) + 0 * integrate(x) + rate(2 * x)");
    struct expr_value ref = {0}, out = {0};

    (void) state;
    expr_eval(e, &ref, 0, &out);
    assert_true(isnan(out.value)); /* one sample: no slope yet */
    for (int k = 1; k <= 50; k++) {
        ref.value = 3.0 * k * 0.02; /* 3 per second, every 20 ms */
        expr_eval(e, &ref, k * 20000000LL, &out);
    }
    assert_close(out.value, 3.0 + 6.0, 1e-9);
    expr_free(e);
}

static void test_expr_errors_name_the_column_and_what(void **state)
{
    (void) state;
    expect_error("max(a, b) + mx(a, b)", 13,
                 "unknown function 'mx' (did you mean 'max'?)");
    expect_error("1 +", 4, "ends where a value was expected");
    expect_error("1 2", 3, "expected an operator");
    expect_error("5kQ", 2, "unknown unit 'kQ'");
    expect_error("convert(x, 'kW', 'V')", 12, "cannot convert 'kW' to 'V'");
    expect_error("(1 + 2", 7, "expected ')'");
    expect_error("clamp(1, 2)", 1, "clamp() takes 3 arguments, not 2");
    expect_error("1 ? 2", 6, "expected ':'");
    expect_error("a $ b", 3, "unexpected character '$'");
    expect_error("'a//b'", 1, "not a valid channel name");
    expect_error("\"abc", 1, "unterminated string");
    expect_error("", 1, "empty");
    expect_error("alarm(x)", 7, "an alarm name in quotes");
    expect_error("1 and", 6, "ends where a value");
}

/* A literal beyond the range of a double, alone or with its unit prefix, is
 * an error rather than an infinity; a NUL byte inside the source (YAML's
 * "\0") is an unexpected byte, not an operator. */
static void test_expr_out_of_range_numbers_and_nul_bytes_are_errors(void **state)
{
    static const char nul[] = "1 \0 2";
    struct expr *e = NULL;
    struct expr_error err;

    (void) state;
    expect_error("x + 1e999", 5, "number out of range");
    expect_error("1e308GW", 1, "number out of range");
    assert_int_equal(expr_compile(nul, sizeof(nul) - 1, &e, &err), -PQ_ECONFIG);
    assert_null(e);
    assert_int_equal(err.col, 3);
    assert_string_equal(err.msg, "unexpected byte 0x00");
}

static void test_expr_deep_nesting_is_an_error_not_a_crash(void **state)
{
    char src[2 * EXPR_MAX_DEPTH + 8];
    struct expr *e = NULL;
    struct expr_error err;

    (void) state;
    memset(src, '(', EXPR_MAX_DEPTH + 2);
    src[EXPR_MAX_DEPTH + 2] = '1';
    memset(src + EXPR_MAX_DEPTH + 3, ')', EXPR_MAX_DEPTH + 2);
    src[2 * EXPR_MAX_DEPTH + 5] = '\0';
    assert_int_equal(expr_compile(src, strlen(src), &e, &err), -PQ_ECONFIG);
    assert_non_null(strstr(err.msg, "nested too deeply"));
}

static void test_expr_unit_factor_converts_within_a_dimension(void **state)
{
    double f = 0;

    (void) state;
    assert_int_equal(expr_unit_factor("kWh", "Wh", &f), 0);
    assert_close(f, 1000.0, 0);
    assert_int_equal(expr_unit_factor("MW", "kW", &f), 0);
    assert_close(f, 1000.0, 1e-9);
    assert_int_equal(expr_unit_factor("l", "m3", &f), 0);
    assert_close(f, 1e-3, 1e-18);
    assert_int_equal(expr_unit_factor("kW", "kvar", &f), -PQ_ECONFIG);
    assert_int_equal(expr_unit_factor("furlong", "m", &f), -PQ_ECONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expr_arithmetic_follows_precedence),
        cmocka_unit_test(test_expr_numbers_with_units_are_in_base_units),
        cmocka_unit_test(test_expr_comparisons_and_logic_give_one_or_zero),
        cmocka_unit_test(test_expr_functions_give_known_values),
        cmocka_unit_test(test_expr_references_are_resolved_by_the_caller),
        cmocka_unit_test(test_expr_stack_depth_is_the_maximum_needed),
        cmocka_unit_test(test_expr_quality_is_the_or_of_the_inputs_and_nan_propagates),
        cmocka_unit_test(test_expr_integrate_constant_2kw_for_1h_is_2kwh),
        cmocka_unit_test(test_expr_integrate_ramp_is_exact_and_skips_nan_and_infinity),
        cmocka_unit_test(test_expr_rate_of_a_ramp_is_its_slope),
        cmocka_unit_test(test_expr_errors_name_the_column_and_what),
        cmocka_unit_test(test_expr_out_of_range_numbers_and_nul_bytes_are_errors),
        cmocka_unit_test(test_expr_deep_nesting_is_an_error_not_a_crash),
        cmocka_unit_test(test_expr_unit_factor_converts_within_a_dimension),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
