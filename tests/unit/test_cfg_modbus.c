/* test_cfg_modbus.c - the fleet's config keys: buses, peers, devices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/schema.h"
#include "pq/err.h"
#include "tests/unit/cfgtest.h"

static void test_cfg_modbus_defaults_keep_timing_automatic(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;
    const struct serial_bus_cfg *b;
    const struct tcp_peer_cfg *p;
    const struct device_cfg *dev;

    (void) state;
    assert_int_equal(
        cfgtest_load("gateway: {id: g}\n"
                     "buses: [{name: b, device: /dev/x, devices: [{name: m, unit: 1, "
                     "profile: generic-float32}]}]\n"
                     "peers: [{name: p, host: 127.0.0.1, devices: [{name: n, unit: 1, "
                     "profile: generic-float32}]}]\n",
                     &c, &d),
        0);
    b = CFG_AT(c->buses, struct serial_bus_cfg, 0);
    assert_int_equal(b->rts, RTS_NONE);
    assert_int_equal(b->rts_delay_ns, 0);
    assert_int_equal(b->silent_ns, 0); /* 3.5 characters */
    p = CFG_AT(c->peers, struct tcp_peer_cfg, 0);
    assert_int_equal(p->warmup_ns, 0);
    dev = CFG_AT(b->devices, struct device_cfg, 0);
    assert_int_equal(dev->turnaround_ns, 0);
    assert_int_equal(dev->backoff_min_ns, 0);
    assert_int_equal(dev->backoff_max_ns, 60000000000LL);
    assert_int_equal(dev->max_regs, 0);
    assert_int_equal(dev->max_gap, -1);
    assert_int_equal(dev->sunspec, SUNSPEC_OFF);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_cfg_modbus_every_new_key_is_read(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;
    const struct serial_bus_cfg *b;
    const struct device_cfg *dev;

    (void) state;
    assert_int_equal(
        cfgtest_load("gateway: {id: g}\n"
                     "buses:\n"
                     "  - name: b\n"
                     "    device: /dev/x\n"
                     "    rts: down\n"
                     "    rts_delay: 2ms\n"
                     "    silent: 5ms\n"
                     "    devices:\n"
                     "      - {name: m, unit: 7, sunspec: auto, turnaround: 3ms,\n"
                     "         backoff_min: 2s, backoff_max: 10min, max_regs: 40,\n"
                     "         max_gap: 0}\n"
                     "peers: [{name: p, host: h, warmup: 50ms, devices: [{name: n, "
                     "unit: 0, profile: x}]}]\n",
                     &c, &d),
        0);
    b = CFG_AT(c->buses, struct serial_bus_cfg, 0);
    assert_int_equal(b->rts, RTS_DOWN);
    assert_int_equal(b->rts_delay_ns, 2000000);
    assert_int_equal(b->silent_ns, 5000000);
    dev = CFG_AT(b->devices, struct device_cfg, 0);
    assert_int_equal(dev->sunspec, SUNSPEC_AUTO);
    assert_int_equal(dev->turnaround_ns, 3000000);
    assert_int_equal(dev->backoff_min_ns, 2000000000LL);
    assert_int_equal(dev->backoff_max_ns, 600000000000LL);
    assert_int_equal(dev->max_regs, 40);
    assert_int_equal(dev->max_gap, 0);
    assert_int_equal(CFG_AT(c->peers, struct tcp_peer_cfg, 0)->warmup_ns, 50000000);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_cfg_modbus_bad_values_are_located_errors(void **state)
{
    struct pqgate_cfg *c = NULL;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load("gateway: {id: g}\n"
                     "buses:\n"
                     "  - name: b\n"
                     "    device: /dev/x\n"
                     "    rts: sideways\n"
                     "    devices:\n"
                     "      - {name: m, unit: 7, max_regs: 126, sunspec: yes}\n"
                     "      - {name: n, unit: 8, backoff_min: 1min, backoff_max: 1s}\n",
                     &c, &d),
        -PQ_ECONFIG);
    assert_null(c);
    cfgtest_assert_error(&d,
                         "t.yaml:5:10: buses[0].rts: expected one of none, up, down, got "
                         "'sideways'");
    cfgtest_assert_error(
        &d, "t.yaml:7:38: buses[0].devices[0].max_regs: expected an integer in "
            "0..125, got '126'");
    cfgtest_assert_error(
        &d, "t.yaml:7:52: buses[0].devices[0].sunspec: expected one of off, auto, "
            "got 'yes'");
    cfgtest_assert_error(
        &d, "t.yaml:8:60: buses[0].devices[1].backoff_max: backoff_max must not "
            "be shorter than backoff_min");
    cfg_diag_fini(&d);
}

static void test_cfg_modbus_fleet_example_has_31_devices_and_4_peers(void **state)
{
    struct pqgate_cfg *c = NULL;
    struct cfg_diag d;
    const struct serial_bus_cfg *b;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(pqgate_cfg_load("config/examples/fleet.yaml", NULL, 0, &c, &d), 0);
    assert_int_equal(c->buses.n, 1);
    b = CFG_AT(c->buses, struct serial_bus_cfg, 0);
    assert_int_equal(b->devices.n, 31);
    assert_int_equal(CFG_AT(b->devices, struct device_cfg, 30)->unit, 31);
    assert_int_equal(c->peers.n, 4);
    assert_int_equal(c->meter.source, METER_SOURCE_NONE);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_modbus_defaults_keep_timing_automatic),
        cmocka_unit_test(test_cfg_modbus_every_new_key_is_read),
        cmocka_unit_test(test_cfg_modbus_bad_values_are_located_errors),
        cmocka_unit_test(test_cfg_modbus_fleet_example_has_31_devices_and_4_peers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
