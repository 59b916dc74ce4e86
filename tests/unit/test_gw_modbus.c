/* test_gw_modbus.c - the modbus component: channels of the profiles, the
 * routing table of the serial gateway path, start and stop. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/log.h"
#include "config/schema.h"
#include "gateway/bus.h"
#include "gateway/daemon.h"
#include "gateway/loop.h"
#include "gateway/modbus.h"
#include "pq/err.h"

/* Serial ports that do not exist (the ports retry in the background) and a
 * TCP peer on a port nothing listens on: start-up, channels and routing do
 * not need an answer. */
static const char fleet[] =
    "gateway: {id: g}\n"
    "buses:\n"
    "  - name: bus1\n"
    "    device: /nonexistent/ttyS1\n"
    "    devices:\n"
    "      - {name: m1, unit: 5, profile: generic-float32}\n"
    "      - {name: m2, unit: 9, profile: eastron-sdm630, max_regs: 20}\n"
    "  - name: bus2\n"
    "    device: /nonexistent/ttyS2\n"
    "    devices:\n"
    "      - {name: m3, unit: 9, profile: generic-float32}\n"
    "      - {name: m4, unit: 11, profile: carlo-gavazzi-em340}\n"
    "peers:\n"
    "  - {name: p1, host: 127.0.0.1, port: 1, devices: [{name: t, unit: 42, "
    "profile: generic-float32}]}\n";

struct fixture {
    struct pqgate_cfg *cfg;
    struct gw gw;
};

static int setup(void **state)
{
    static struct fixture f;
    struct cfg_diag d;
    void *obj = NULL;

    memset(&f, 0, sizeof(f));
    log_open("test", LOG_TO_STDERR, LOG_ERR);
    cfg_diag_init(&d);
    if (cfg_load(&pqgate_schema, "fleet.yaml", (const uint8_t *) fleet, strlen(fleet),
                 NULL, 0, &obj, &d) < 0) {
        cfg_diag_print(&d, stderr);
        cfg_diag_fini(&d);
        return -1;
    }
    cfg_diag_fini(&d);
    f.cfg = obj;
    f.gw.cfg = f.cfg;
    if (bus_new(4096, 4096, &f.gw.bus) < 0 || loop_new(&f.gw.loop) < 0) {
        return -1;
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    bus_free(f->gw.bus);
    loop_free(f->gw.loop);
    pqgate_cfg_free(f->cfg);
    return 0;
}

static void
test_gw_modbus_route_finds_the_serial_bus_of_a_unit_while_running(void **state)
{
    struct fixture *f = *state;
    struct mb_port *ports[8];
    const char *names[8];
    void *m = NULL;
    int dev = -1;

    assert_null(gw_modbus_route(5, &dev)); /* not running */
    assert_int_equal(modbus_component.start(&f->gw, &m), 0);
    assert_non_null(m);
    assert_int_equal(gw_modbus_ports(names, ports, 8), 3);
    assert_string_equal(names[0], "bus1");
    assert_string_equal(names[1], "bus2");
    assert_string_equal(names[2], "p1");
    assert_ptr_equal(gw_modbus_route(5, &dev), ports[0]);
    assert_int_equal(dev, 0);
    /* unit 9 is on both buses: the first in the config wins */
    assert_ptr_equal(gw_modbus_route(9, &dev), ports[0]);
    assert_int_equal(dev, 1);
    assert_ptr_equal(gw_modbus_route(11, &dev), ports[1]);
    assert_int_equal(dev, 1);
    assert_ptr_equal(gw_modbus_route(11, NULL), ports[1]);
    /* TCP peers are never routed; unknown units neither */
    assert_null(gw_modbus_route(42, &dev));
    assert_null(gw_modbus_route(1, &dev));
    modbus_component.stop(m);
    assert_null(gw_modbus_route(5, &dev));
    assert_int_equal(gw_modbus_ports(names, ports, 8), 0);
}

static void test_gw_modbus_registers_a_channel_per_point_with_its_unit(void **state)
{
    struct fixture *f = *state;
    struct bus_value v;
    void *m = NULL;
    int ch;

    assert_int_equal(modbus_component.start(&f->gw, &m), 0);
    ch = bus_find(f->gw.bus, "bus1.m1/u_rms/a");
    assert_true(ch >= 0);
    assert_string_equal(bus_unit(f->gw.bus, ch), "V");
    assert_int_equal(bus_get(f->gw.bus, ch, &v), 0);
    assert_true(isnan(v.value));
    /* never read: invalid (and stale once a poll of the missing port failed) */
    assert_true(v.quality & BUS_Q_INVALID);
    ch = bus_find(f->gw.bus, "bus2.m4/energy/kwh_del");
    assert_true(ch >= 0);
    assert_string_equal(bus_unit(f->gw.bus, ch), "kWh");
    assert_true(bus_find(f->gw.bus, "p1.t/freq") >= 0);
    for (size_t i = 0; i < 7; i++) {
        static const char *const h[] = {"state",          "requests",   "errors",
                                        "timeouts",       "exceptions", "latency_ms",
                                        "last_good_age_s"};
        char name[64];

        snprintf(name, sizeof(name), "bus1.m2/health/%s", h[i]);
        assert_true(bus_find(f->gw.bus, name) >= 0);
    }
    modbus_component.stop(m);
}

static void test_gw_modbus_start_again_keeps_the_channel_ids(void **state)
{
    struct fixture *f = *state;
    void *m = NULL;
    int before, after;

    assert_int_equal(modbus_component.start(&f->gw, &m), 0);
    before = bus_find(f->gw.bus, "bus2.m3/p/total");
    modbus_component.stop(m);
    assert_int_equal(modbus_component.start(&f->gw, &m), 0);
    after = bus_find(f->gw.bus, "bus2.m3/p/total");
    modbus_component.stop(m);
    assert_true(before >= 0);
    assert_int_equal(before, after);
}

static void test_gw_modbus_unknown_profile_fails_start_and_leaves_no_route(void **state)
{
    static const char bad[] = "gateway: {id: g}\n"
                              "buses: [{name: b, device: /nonexistent/x, devices: "
                              "[{name: m, unit: 3, profile: no-such-meter}]}]\n";
    struct fixture *f = *state;
    const struct pqgate_cfg *good = f->gw.cfg;
    struct cfg_diag d;
    void *obj = NULL, *m = NULL;

    cfg_diag_init(&d);
    assert_int_equal(cfg_load(&pqgate_schema, "bad.yaml", (const uint8_t *) bad,
                              strlen(bad), NULL, 0, &obj, &d),
                     0);
    cfg_diag_fini(&d);
    f->gw.cfg = obj;
    assert_true(modbus_component.start(&f->gw, &m) < 0);
    assert_null(gw_modbus_route(3, NULL));
    f->gw.cfg = good;
    pqgate_cfg_free(obj);
}

static void test_gw_modbus_without_fleet_starts_nothing(void **state)
{
    static const char none[] = "gateway: {id: g}\n";
    struct fixture *f = *state;
    const struct pqgate_cfg *good = f->gw.cfg;
    struct cfg_diag d;
    void *obj = NULL, *m = (void *) 1;

    cfg_diag_init(&d);
    assert_int_equal(cfg_load(&pqgate_schema, "none.yaml", (const uint8_t *) none,
                              strlen(none), NULL, 0, &obj, &d),
                     0);
    cfg_diag_fini(&d);
    f->gw.cfg = obj;
    assert_int_equal(modbus_component.start(&f->gw, &m), 0);
    assert_null(m);
    modbus_component.stop(m);
    f->gw.cfg = good;
    pqgate_cfg_free(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_gw_modbus_route_finds_the_serial_bus_of_a_unit_while_running),
        cmocka_unit_test(test_gw_modbus_registers_a_channel_per_point_with_its_unit),
        cmocka_unit_test(test_gw_modbus_start_again_keeps_the_channel_ids),
        cmocka_unit_test(test_gw_modbus_unknown_profile_fails_start_and_leaves_no_route),
        cmocka_unit_test(test_gw_modbus_without_fleet_starts_nothing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
