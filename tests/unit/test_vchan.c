/* test_vchan.c - virtual channels on the bus: evaluation on change and on
 * an interval, time stamps and quality of the result, totalisation, and
 * config errors located in the expression. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "gateway/bus.h"
#include "gateway/vchan.h"
#include "pq/err.h"
#include "tests/unit/cfgtest.h"

#define S  1000000000LL
#define T0 1700000000000000000LL

#define assert_close(got, want, tol) close_at((got), (want), (tol), __FILE__, __LINE__)

static void close_at(double got, double want, double tol, const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.17g, want %.17g +- %g\n", got, want, tol);
        _fail(file, line);
    }
}

struct rec {
    int n;
    struct bus_value last;
};

static struct {
    struct pqgate_cfg *cfg;
    struct bus *bus;
    struct vchans *vs;
} fx;

static void record(void *ctx, int ch, const struct bus_value *v)
{
    struct rec *r = ctx;

    (void) ch;
    r->n++;
    r->last = *v;
}

static void drain(void)
{
    while (bus_dispatch(fx.bus, 0) > 0) {
    }
}

static void start(const char *yaml)
{
    fx.cfg = cfgtest_load_ok(yaml);
    assert_int_equal(bus_new(1024, 65536, &fx.bus), 0);
    assert_int_equal(vchans_new(fx.cfg, fx.bus, NULL, &fx.vs), 0);
}

static int teardown(void **state)
{
    (void) state;
    vchans_free(fx.vs);
    bus_free(fx.bus);
    pqgate_cfg_free(fx.cfg);
    memset(&fx, 0, sizeof(fx));
    return 0;
}

static void put(const char *name, const char *unit, double v, int64_t t, uint32_t q)
{
    int ch = bus_register(fx.bus, name, unit);

    assert_true(ch >= 0);
    assert_int_equal(bus_publish(fx.bus, ch, v, t, q), 0);
    drain();
}

static void test_vchan_on_change_publishes_each_update_with_the_newest_time(void **state)
{
    struct rec r = {0};

    (void) state;
    start("gateway: {id: t}\n"
          "virtual:\n"
          "  - {name: site/p_net, unit: kW, expr: 'convert(local/p/a + local/p/b, \"W\", "
          "\"kW\")'}\n");
    assert_string_equal(bus_unit(fx.bus, bus_find(fx.bus, "site/p_net")), "kW");
    assert_true(bus_subscribe(fx.bus, "site/p_net", record, &r) >= 0);
    put("local/p/a", "W", 1500.0, T0 + 2 * S, BUS_Q_FLAGGED);
    assert_int_equal(r.n, 1);
    assert_true(isnan(r.last.value)); /* b not seen yet */
    assert_true(r.last.quality & BUS_Q_INVALID);
    put("local/p/b", "W", 500.0, T0 + S, 0); /* an older time stamp */
    assert_int_equal(r.n, 2);
    assert_close(r.last.value, 2.0, 1e-12);
    assert_int_equal(r.last.t_ns, T0 + 2 * S); /* the newest input's */
    assert_int_equal(r.last.quality, BUS_Q_FLAGGED);
}

static void test_vchan_interval_evaluates_on_its_timer_only(void **state)
{
    struct rec r = {0};

    (void) state;
    start("gateway: {id: t}\n"
          "virtual:\n"
          "  - {name: v/max_u, unit: V, expr: 'max(u/a, u/b, u/c)', interval: 1s}\n");
    assert_true(bus_subscribe(fx.bus, "v/max_u", record, &r) >= 0);
    put("u/a", "V", 229.0, T0, 0);
    put("u/b", "V", 233.5, T0, 0);
    put("u/c", "V", 231.0, T0 + 10, 0);
    assert_int_equal(r.n, 0);
    vchans_eval(fx.vs, 0);
    drain();
    assert_int_equal(r.n, 1);
    assert_close(r.last.value, 233.5, 0);
    assert_int_equal(r.last.t_ns, T0 + 10);
}

/* 2 kW published every second for one hour: 2 kWh within 1e-9. */
static void test_vchan_totalisation_of_2kw_for_1h_is_2kwh(void **state)
{
    struct rec r = {0};

    (void) state;
    start("gateway: {id: t}\n"
          "virtual:\n"
          "  - {name: site/e, unit: kWh, expr: 'convert(integrate(p), \"Ws\", "
          "\"kWh\")'}\n");
    assert_true(bus_subscribe(fx.bus, "site/e", record, &r) >= 0);
    for (int k = 0; k <= 3600; k++) {
        put("p", "W", 2000.0, T0 + k * S, 0);
    }
    assert_int_equal(r.n, 3601);
    assert_close(r.last.value, 2.0, 2e-9);
}

/* A virtual channel of a virtual channel, and a Boolean one. */
static void test_vchan_chains_through_the_bus(void **state)
{
    struct rec r = {0};

    (void) state;
    start("gateway: {id: t}\n"
          "virtual:\n"
          "  - {name: v/sum, expr: 'a + b'}\n"
          "  - {name: v/high, expr: 'v/sum > 10 ? 1 : 0'}\n");
    assert_true(bus_subscribe(fx.bus, "v/high", record, &r) >= 0);
    put("a", "", 4.0, T0, 0);
    put("b", "", 5.0, T0, 0);
    assert_close(r.last.value, 0.0, 0);
    put("b", "", 7.0, T0 + S, 0);
    assert_close(r.last.value, 1.0, 0);
    assert_int_equal(r.last.t_ns, T0 + S);
}

static void expect_errors(const char *yaml, const char *const *want, size_t n)
{
    struct cfg_diag diag;
    void *obj = NULL;

    cfg_diag_init(&diag);
    assert_int_equal(cfg_load(&pqgate_schema, "test.yaml", (const uint8_t *) yaml,
                              strlen(yaml), NULL, 0, &obj, &diag),
                     -PQ_ECONFIG);
    for (size_t i = 0; i < n; i++) {
        int found = 0;

        for (size_t k = 0; k < diag.n; k++) {
            found |= strcmp(diag.msgs[k], want[i]) == 0;
        }
        if (!found) {
            print_error("missing: %s\n", want[i]);
            cfg_diag_print(&diag, stderr);
            fail();
        }
    }
    cfg_diag_fini(&diag);
}

static void
test_vchan_config_errors_name_file_line_column_and_expression_column(void **state)
{
    static const char yaml[] = "gateway: {id: t}\n"
                               "virtual:\n"
                               "  - {name: v/a, expr: '1'}\n"
                               "  - {name: v/b, expr: '2', interval: 5ms}\n"
                               "  - name: v/c\n"
                               "    expr: local/p/a + mx(local/p/b, 0)\n"
                               "  - {name: v/a, expr: 'alarm(\"nope\") + 5 kW'}\n";
    static const char *const want[] = {
        "test.yaml:4:38: virtual[1].interval: expected on_change or a duration from 10ms "
        "to 1d, got '5ms'",
        "test.yaml:6:11: virtual[2].expr: at column 13 of the expression: unknown "
        "function 'mx' (did you mean 'max'?)",
        "test.yaml:7:23: virtual[3].expr: at column 19 of the expression: expected an "
        "operator before 'kW'",
    };
    static const char yaml2[] = "gateway: {id: t}\n"
                                "virtual:\n"
                                "  - {name: v/a, expr: '1'}\n"
                                "  - {name: v/a, expr: 'alarm(\"nope\") + 5'}\n";
    static const char *const want2[] = {
        "test.yaml:4:12: virtual[1].name: virtual channel 'v/a' is defined twice",
        "test.yaml:4:23: virtual[1].expr: at column 7 of the expression: no alarm is "
        "named "
        "'nope'",
    };

    static const char yaml3[] = "gateway: {id: t}\n"
                                "virtual:\n"
                                "  - {name: v/a, expr: 'v/b + 1'}\n"
                                "  - {name: v/b, expr: 'v/c * 2'}\n"
                                "  - {name: v/c, expr: 'v/a - x'}\n"
                                "  - {name: v/d, expr: 'v/d + 1', interval: 1s}\n";
    static const char *const want3[] = {
        "test.yaml:3:23: virtual[0].expr: 'v/a' is in or reads from a loop of "
        "on_change channels; give one of them an interval",
        "test.yaml:5:23: virtual[2].expr: 'v/c' is in or reads from a loop of "
        "on_change channels; give one of them an interval",
    };

    (void) state;
    expect_errors(yaml, want, sizeof(want) / sizeof(want[0]));
    expect_errors(yaml2, want2, sizeof(want2) / sizeof(want2[0]));
    expect_errors(yaml3, want3, sizeof(want3) / sizeof(want3[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_vchan_on_change_publishes_each_update_with_the_newest_time, teardown),
        cmocka_unit_test_teardown(test_vchan_interval_evaluates_on_its_timer_only,
                                  teardown),
        cmocka_unit_test_teardown(test_vchan_totalisation_of_2kw_for_1h_is_2kwh,
                                  teardown),
        cmocka_unit_test_teardown(test_vchan_chains_through_the_bus, teardown),
        cmocka_unit_test(
            test_vchan_config_errors_name_file_line_column_and_expression_column),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
