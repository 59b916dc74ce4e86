/* test_config.c - the schema loader and the daemon's config sections. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/schema.h"
#include "pq/err.h"
#include "tests/unit/cfgtest.h"

static void assert_close(double got, double want, double tol)
{
    if (fabs(got - want) > tol) {
        fail_msg("got %.17g, want %.17g +- %g", got, want, tol);
    }
}

/* Load text with the daemon's schema; returns rc, fills *cfg and diag. */
static void test_schema_selftest_of_daemon_schema_passes(void **state)
{
    struct cfg_diag d;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(cfg_schema_selftest(&pqgate_schema, &d), 0);
    assert_int_equal(d.n, 0);
    cfg_diag_fini(&d);
}

static void test_config_minimal_fills_every_default(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets("gateway: {id: gw-01}\n", NULL, 0, &c, &d), 0);
    assert_string_equal(c->gateway.id, "gw-01");
    assert_string_equal(c->gateway.name, "");
    assert_int_equal(c->meter.source, METER_SOURCE_NONE);
    assert_close(c->meter.nominal_voltage_v, 230.0, 0);
    assert_close(c->meter.nominal_frequency_hz, 50.0, 0);
    assert_int_equal(c->meter.wiring, METER_WIRING_WYE);
    assert_close(c->meter.pt.primary, 1.0, 0);
    assert_close(c->meter.ct.secondary, 1.0, 0);
    assert_int_equal(c->buses.n, 0);
    assert_int_equal(c->logging.level, 6); /* LOG_INFO */
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_config_demo_example_loads_with_its_values(void **state)
{
    struct pqgate_cfg *c = NULL;
    struct cfg_diag d;
    const struct serial_bus_cfg *bus;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(pqgate_cfg_load("config/examples/demo.yaml", NULL, 0, &c, &d), 0);
    assert_int_equal(c->meter.source, METER_SOURCE_SIM);
    assert_close(c->meter.ct.primary, 100.0, 0);
    assert_close(c->meter.ct.secondary, 5.0, 0);
    assert_int_equal(c->buses.n, 1);
    bus = CFG_AT(c->buses, struct serial_bus_cfg, 0);
    assert_int_equal(bus->baud, 19200);
    assert_int_equal(bus->parity, PARITY_EVEN);
    assert_int_equal(bus->timeout_ns, 200000000LL);
    assert_int_equal(bus->devices.n, 3);
    assert_int_equal(CFG_AT(bus->devices, struct device_cfg, 1)->poll_ns, 5000000000LL);
    assert_int_equal(c->peers.n, 2);
    assert_int_equal(CFG_AT(c->peers, struct tcp_peer_cfg, 0)->port, 5020);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_config_minimal_example_loads(void **state)
{
    struct pqgate_cfg *c = NULL;
    struct cfg_diag d;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(pqgate_cfg_load("config/examples/minimal.yaml", NULL, 0, &c, &d), 0);
    assert_string_equal(c->gateway.id, "gw-01");
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_config_three_mistakes_give_three_located_errors(void **state)
{
    struct pqgate_cfg *c = NULL;
    struct cfg_diag d;
    const char *text = "gateway:\n"
                       "  id: gw\n"
                       "  colour: red\n" /* unknown key, 3:3 */
                       "meter:\n"
                       "  nominal_voltage: lots\n" /* wrong type, 5:20 */
                       "buses:\n"
                       "  - name: b\n"
                       "    device: /dev/ttyS0\n"
                       "    devices: [{name: x, unit: 300}]\n"; /* range, 9:33 */

    (void) state;
    assert_int_equal(cfgtest_load_sets(text, NULL, 0, &c, &d), -PQ_ECONFIG);
    assert_null(c);
    assert_int_equal(d.n, 3);
    cfgtest_assert_error(&d, "t.yaml:3:3: gateway: unknown key 'colour' in gateway");
    cfgtest_assert_error(
        &d, "t.yaml:5:20: meter.nominal_voltage: expected a value in 1 V..1 MV like "
            "'230 V', got 'lots'");
    cfgtest_assert_error(&d,
                         "t.yaml:9:31: buses[0].devices[0].unit: expected an integer in "
                         "0..255, got '300'");
    cfg_diag_fini(&d);
}

static void test_config_unknown_key_suggests_the_closest(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: g}\nmeter: {wirign: delta}\n", NULL, 0, &c, &d),
        -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(
        &d, "t.yaml:2:9: meter: unknown key 'wirign' (did you mean 'wiring'?)");
    cfg_diag_fini(&d);
}

static void test_config_enum_typo_suggests_the_closest(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: g}\nmeter: {wiring: delt}\n", NULL, 0, &c, &d),
        -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:2:17: meter.wiring: expected one of wye, delta, single, got "
            "'delt' (did you mean 'delta'?)");
    cfg_diag_fini(&d);
}

static void test_config_missing_section_reports_required_key_at_top(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets("meter: {wiring: delta}\n", NULL, 0, &c, &d),
                     -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(&d, "t.yaml:1:1: gateway: missing required key 'id'");
    cfg_diag_fini(&d);
}

static void test_config_empty_file_reports_missing_id(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets("", NULL, 0, &c, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(&d, "t.yaml:1:1: gateway: missing required key 'id'");
    cfg_diag_fini(&d);
}

static void test_config_duplicate_key_names_the_first(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets("gateway:\n  id: a\n  id: b\n", NULL, 0, &c, &d),
                     -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(&d, "t.yaml:3:3: gateway: duplicate key 'id' (first at line 2)");
    cfg_diag_fini(&d);
}

static void test_config_yaml_syntax_error_has_location(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets("gateway: {id: a\nmeter: x\n", NULL, 0, &c, &d),
                     -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    assert_true(strncmp(d.msgs[0], "t.yaml:2:", 9) == 0);
    assert_non_null(strstr(d.msgs[0], "YAML syntax"));
    cfg_diag_fini(&d);
}

static void test_config_second_document_is_rejected(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\n---\ngateway: {id: b}\n", NULL, 0, &c, &d),
        -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.msgs[0], "only one YAML document"));
    cfg_diag_fini(&d);
}

static void test_config_top_level_list_is_rejected(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets("- a\n- b\n", NULL, 0, &c, &d), -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:1:1: expected a section of keys at the top of the file, got "
            "a list");
    cfg_diag_fini(&d);
}

static void test_config_null_section_takes_defaults(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\nmeter:\nbuses:\n", NULL, 0, &c, &d), 0);
    assert_close(c->meter.nominal_voltage_v, 230.0, 0);
    assert_int_equal(c->buses.n, 0);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_config_null_scalar_is_an_error(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\nmeter:\n  wiring:\n", NULL, 0, &c, &d),
        -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:3:10: meter.wiring: no value; expected one of wye, delta, single");
    cfg_diag_fini(&d);
}

static void test_config_si_prefixes_and_units_parse(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\nmeter:\n  nominal_voltage: 11kV\n"
                          "  wiring: delta\n  nominal_frequency: 60\n"
                          "  pt: {primary: 11 kV, secondary: 110 V}\n"
                          "  ct: {primary: 1.2kA, secondary: 5000 mA}\n",
                          NULL, 0, &c, &d),
        0);
    assert_close(c->meter.nominal_voltage_v, 11000.0, 1e-9);
    assert_close(c->meter.nominal_frequency_hz, 60.0, 0);
    assert_close(c->meter.pt.primary / c->meter.pt.secondary, 100.0, 1e-12);
    assert_close(c->meter.ct.primary, 1200.0, 1e-9);
    assert_close(c->meter.ct.secondary, 5.0, 1e-12);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_config_frequency_rule_rejects_55_hz(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\nmeter: {nominal_frequency: 55 Hz}\n", NULL,
                          0, &c, &d),
        -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:2:28: meter.nominal_frequency: expected 50 Hz or 60 Hz, got "
            "'55 Hz'");
    cfg_diag_fini(&d);
}

static const char *two_devices = "gateway: {id: a}\n"
                                 "buses:\n"
                                 "  - name: bus1\n"
                                 "    device: /dev/ttyS1\n"
                                 "    devices:\n"
                                 "      - {name: m1, unit: 1}\n"
                                 "      - {name: m1, unit: 1}\n";

static void
test_config_duplicate_device_name_and_unit_are_reported_at_the_second(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets(two_devices, NULL, 0, &c, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 2);
    cfgtest_assert_error(
        &d, "t.yaml:7:16: buses[0].devices[1].name: device name 'm1' is already used");
    cfgtest_assert_error(
        &d, "t.yaml:7:26: buses[0].devices[1].unit: unit id 1 is already used by "
            "'m1'");
    cfg_diag_fini(&d);
}

static void test_config_rule_about_a_wrong_value_is_not_repeated(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;
    const char *text = "gateway: {id: a}\n"
                       "buses:\n"
                       "  - {name: b, device: /dev/x, devices: [{name: m, unit: 1},\n"
                       "                                        {name: n, unit: x}]}\n";

    (void) state;
    /* unit 'x' is wrong; the duplicate-unit rule must not also report it */
    assert_int_equal(cfgtest_load_sets(text, NULL, 0, &c, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(
        &d, "t.yaml:4:57: buses[0].devices[1].unit: expected an integer in 0..255, "
            "got 'x'");
    cfg_diag_fini(&d);
}

static void
test_config_serial_unit_zero_is_rejected_but_tcp_unit_zero_is_not(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;
    const char *text =
        "gateway: {id: a}\n"
        "buses: [{name: b, device: /dev/x, devices: [{name: m, unit: 0}]}]\n"
        "peers: [{name: p, host: 127.0.0.1, devices: [{name: m, unit: 0}]}]\n";

    (void) state;
    assert_int_equal(cfgtest_load_sets(text, NULL, 0, &c, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(
        &d, "t.yaml:2:61: buses[0].devices[0].unit: expected a unit id 1..247 on a "
            "serial bus, got 0");
    cfg_diag_fini(&d);
}

static void test_config_bus_and_peer_names_share_one_namespace(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;
    const char *text = "gateway: {id: a}\n"
                       "buses: [{name: x, device: /dev/x}]\n"
                       "peers: [{name: x, host: h, devices: [{name: m, unit: 1}]}]\n";

    (void) state;
    assert_int_equal(cfgtest_load_sets(text, NULL, 0, &c, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(
        &d, "t.yaml:3:16: peers[0].name: name 'x' is already used by another bus or "
            "peer");
    cfg_diag_fini(&d);
}

static void test_config_more_than_31_devices_on_a_bus_is_rejected(void **state)
{
    char text[4096];
    size_t n;
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    n = (size_t) snprintf(text, sizeof(text),
                          "gateway: {id: a}\nbuses:\n  - name: b\n    device: /dev/x\n"
                          "    devices:\n");
    for (int i = 1; i <= 32; i++) {
        n += (size_t) snprintf(text + n, sizeof(text) - n,
                               "      - {name: d%d, unit: %d}\n", i, i);
    }
    assert_int_equal(cfgtest_load_sets(text, NULL, 0, &c, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(&d,
                         "t.yaml:6:7: buses[0].devices: expected 0..31 items, got 32");
    cfg_diag_fini(&d);
}

static void test_set_overrides_a_value_of_the_file(void **state)
{
    const char *sets[] = {"meter.wiring=delta", "meter.nominal_voltage=400 V"};
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\nmeter: {wiring: wye}\n", sets, 2, &c, &d),
        0);
    assert_int_equal(c->meter.wiring, METER_WIRING_DELTA);
    assert_close(c->meter.nominal_voltage_v, 400.0, 0);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_set_creates_sections_and_list_items(void **state)
{
    const char *sets[] = {"gateway.id=from-set",          "buses[0].name=b1",
                          "buses[0].device=/dev/ttyUSB0", "buses[0].devices[0].name=m",
                          "buses[0].devices[0].unit=7",   "buses[0].devices[1].name=n",
                          "buses[0].devices[1].unit=8"};
    struct pqgate_cfg *c;
    struct cfg_diag d;
    const struct serial_bus_cfg *b;

    (void) state;
    assert_int_equal(cfgtest_load_sets("", sets, 7, &c, &d), 0);
    assert_string_equal(c->gateway.id, "from-set");
    assert_int_equal(c->buses.n, 1);
    b = CFG_AT(c->buses, struct serial_bus_cfg, 0);
    assert_string_equal(b->device, "/dev/ttyUSB0");
    assert_int_equal(b->devices.n, 2);
    assert_int_equal(CFG_AT(b->devices, struct device_cfg, 1)->unit, 8);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
}

static void test_set_errors_name_the_set(void **state)
{
    const char *sets[] = {"meter.wiring=star", "meter.wirng=delta", "meter=x",
                          "buses[1].name=b", "gateway.id"};
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets("gateway: {id: a}\n", sets, 5, &c, &d),
                     -PQ_ECONFIG);
    assert_int_equal(d.n, 5);
    cfgtest_assert_error(
        &d, "--set 'meter.wiring=star': meter.wiring: expected one of wye, delta, "
            "single, got 'star'");
    cfgtest_assert_error(
        &d, "--set 'meter.wirng=delta': unknown key 'wirng' in meter (did you mean "
            "'wiring'?)");
    cfgtest_assert_error(&d,
                         "--set 'meter=x': 'meter' is a section: set one of its keys, as "
                         "meter.source");
    cfgtest_assert_error(
        &d, "--set 'buses[1].name=b': 'buses' index past the end of the list (use the "
            "next free index to add an item)");
    cfgtest_assert_error(&d, "--set 'gateway.id': expected key.path=value");
    cfg_diag_fini(&d);
}

/* Found by fuzz_config: a null document with an override aborted in
 * libyaml (the override was grafted onto a scalar). */
static void test_set_on_a_null_document_builds_the_sections(void **state)
{
    const char *sets[] = {"gateway.id=g", "meter.sme=."};
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load_sets("~\n", sets, 1, &c, &d), 0);
    assert_string_equal(c->gateway.id, "g");
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
    assert_int_equal(cfgtest_load_sets("~\n", sets, 2, &c, &d), -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "--set 'meter.sme=.': unknown key 'sme' in meter (did you mean 'sim'?)");
    cfg_diag_fini(&d);
}

static void test_set_and_file_errors_are_reported_together(void **state)
{
    const char *sets[] = {"meter.wiring=star"};
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\nlogging: {level: loud}\n", sets, 1, &c, &d),
        -PQ_ECONFIG);
    assert_int_equal(d.n, 2);
    cfg_diag_fini(&d);
}

/* The effective config printed by cfg_print() loads back to the same. */
static void test_print_output_loads_back_identically(void **state)
{
    struct pqgate_cfg *c = NULL, *c2 = NULL;
    struct cfg_diag d;
    char *text1 = NULL, *text2 = NULL;
    size_t len1 = 0, len2 = 0;
    FILE *f;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(pqgate_cfg_load("config/examples/demo.yaml", NULL, 0, &c, &d), 0);
    f = open_memstream(&text1, &len1);
    cfg_print(f, &pqgate_schema, c, 1);
    fclose(f);
    assert_int_equal(cfgtest_load_sets(text1, NULL, 0, &c2, &d), 0);
    f = open_memstream(&text2, &len2);
    cfg_print(f, &pqgate_schema, c2, 1);
    fclose(f);
    assert_string_equal(text1, text2);
    free(text1);
    free(text2);
    pqgate_cfg_free(c);
    pqgate_cfg_free(c2);
    cfg_diag_fini(&d);
}

static void test_events_thresholds_that_overlap_are_rejected(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\nevents: {dip: 50 %, interruption: 49 %}\n",
                          NULL, 0, &c, &d),
        -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    cfgtest_assert_error(
        &d, "t.yaml:2:35: events.interruption: the interruption threshold plus the "
            "hysteresis must stay below the dip threshold (50 %)");
    cfg_diag_fini(&d);
}

static void test_capture_beyond_the_pm8000_range_is_rejected_at_its_key(void **state)
{
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    /* 512 samples per cycle for 320 cycles is the longest at that resolution */
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\ncapture: {resolution: 512, pre_cycles: 20, "
                          "post_cycles: 300}\n",
                          NULL, 0, &c, &d),
        0);
    assert_int_equal(c->capture.resolution, 512);
    pqgate_cfg_free(c);
    cfg_diag_fini(&d);
    assert_int_equal(
        cfgtest_load_sets("gateway: {id: a}\ncapture: {resolution: 512, pre_cycles: 20, "
                          "post_cycles: 301}\n",
                          NULL, 0, &c, &d),
        -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:2:57: capture.post_cycles: 20 + 301 cycles at 512 samples per "
            "cycle exceed 163840 samples per channel");
    cfg_diag_fini(&d);
}

static void test_print_keeps_every_digit_of_a_quantity(void **state)
{
    const char *sets[] = {"meter.ct.primary=1234.5678 A", "meter.pt.primary=11 kV"};
    struct pqgate_cfg *c = NULL, *c2 = NULL;
    struct cfg_diag d;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    (void) state;
    assert_int_equal(cfgtest_load_sets("gateway: {id: a}\n", sets, 2, &c, &d), 0);
    f = open_memstream(&text, &len);
    cfg_print(f, &pqgate_schema, c, 0);
    fclose(f);
    assert_non_null(strstr(text, "primary: 1234.5678 A\n"));
    assert_non_null(strstr(text, "primary: 11 kV\n"));
    cfg_diag_fini(&d);
    assert_int_equal(cfgtest_load_sets(text, NULL, 0, &c2, &d), 0);
    assert_true(c2->meter.ct.primary == c->meter.ct.primary);
    free(text);
    pqgate_cfg_free(c);
    pqgate_cfg_free(c2);
    cfg_diag_fini(&d);
}

static void test_load_file_that_does_not_exist_says_so(void **state)
{
    struct pqgate_cfg *c = NULL;
    struct cfg_diag d;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(pqgate_cfg_load("no/such.yaml", NULL, 0, &c, &d), -PQ_ECONFIG);
    cfgtest_assert_error(&d, "no/such.yaml: cannot open: No such file or directory");
    cfg_diag_fini(&d);
}

/* A private schema with every field type, to test the engine itself. */
struct every {
    int b;
    int i;
    double x;
    char *s;
    int e;
    int64_t dur;
    uint64_t size;
    double q;
};

static const char *const colours[] = {"red", "green", NULL};

static const struct cfg_field every_fields[] = {
    {.key = "b", .type = CFG_BOOL, .offset = offsetof(struct every, b), .def = "false"},
    {.key = "i", .type = CFG_INT, .offset = offsetof(struct every, i), .def = "-3"},
    {.key = "x", .type = CFG_DOUBLE, .offset = offsetof(struct every, x), .def = "0.25"},
    {.key = "s",
     .type = CFG_STRING,
     .offset = offsetof(struct every, s),
     .flags = CFG_RANGE,
     .min = 2,
     .max = 4,
     .def = "ab"},
    {.key = "e",
     .type = CFG_ENUM,
     .offset = offsetof(struct every, e),
     .def = "green",
     .choices = colours},
    {.key = "dur",
     .type = CFG_DURATION,
     .offset = offsetof(struct every, dur),
     .flags = CFG_RANGE,
     .min = 0.01,
     .max = 3600,
     .def = "1s"},
    {.key = "size",
     .type = CFG_SIZE,
     .offset = offsetof(struct every, size),
     .def = "512MB"},
    {.key = "q",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct every, q),
     .unit = "W",
     .def = "1 kW"},
    {0},
};

static const struct cfg_schema every_schema = {
    .name = "every",
    .size = sizeof(struct every),
    .fields = every_fields,
};

static void test_schema_every_type_parses_and_defaults(void **state)
{
    const char *text = "b: yes\ni: 0x10\nx: -1.5e3\ns: abcd\ne: red\ndur: 10min\n"
                       "size: 64 KiB\nq: 2.5 MW\n";
    struct every *o = NULL;
    struct cfg_diag d;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(cfg_schema_selftest(&every_schema, &d), 0);
    assert_int_equal(cfg_load(&every_schema, "e.yaml", (const uint8_t *) "", 0, NULL, 0,
                              (void **) &o, &d),
                     0);
    assert_int_equal(o->b, 0);
    assert_int_equal(o->i, -3);
    assert_string_equal(o->s, "ab");
    assert_int_equal(o->e, 1);
    assert_int_equal(o->dur, 1000000000LL);
    assert_int_equal(o->size, 512000000ULL);
    assert_close(o->q, 1000.0, 0);
    cfg_free(&every_schema, o);
    assert_int_equal(cfg_load(&every_schema, "e.yaml", (const uint8_t *) text,
                              strlen(text), NULL, 0, (void **) &o, &d),
                     0);
    assert_int_equal(o->b, 1);
    assert_int_equal(o->i, 16);
    assert_close(o->x, -1500.0, 0);
    assert_string_equal(o->s, "abcd");
    assert_int_equal(o->e, 0);
    assert_int_equal(o->dur, 600000000000LL);
    assert_int_equal(o->size, 65536ULL);
    assert_close(o->q, 2.5e6, 1e-6);
    cfg_free(&every_schema, o);
    cfg_diag_fini(&d);
}

static void test_schema_range_errors_print_limits_in_the_fields_unit(void **state)
{
    const char *text = "dur: 5ms\ns: abcdef\n";
    struct every *o = NULL;
    struct cfg_diag d;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(cfg_load(&every_schema, "e.yaml", (const uint8_t *) text,
                              strlen(text), NULL, 0, (void **) &o, &d),
                     -PQ_ECONFIG);
    assert_null(o);
    assert_int_equal(d.n, 2);
    cfgtest_assert_error(
        &d, "e.yaml:1:6: dur: expected a duration like 200ms, 1.5s, 10min or 1h "
            "(units ns, us, ms, s, min, h, d) in 10ms..1h, got '5ms'");
    cfgtest_assert_error(&d,
                         "e.yaml:2:4: s: expected a string of 2..4 characters, got 6");
    cfg_diag_fini(&d);
}

static const struct cfg_field bad_fields[] = {
    {.key = "a", .type = CFG_DURATION, .offset = 0, .def = "soon"},
    {.key = "b", .type = CFG_ENUM, .offset = 0},
    {.key = "a", .type = CFG_INT, .offset = 0},
    {0},
};

static const struct cfg_schema bad_schema = {
    .name = "bad",
    .size = sizeof(int64_t),
    .fields = bad_fields,
};

static void test_schema_selftest_finds_bad_tables(void **state)
{
    struct cfg_diag d;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(cfg_schema_selftest(&bad_schema, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 3);
    cfgtest_assert_error(
        &d, "schema bad: field 'a': default does not parse or is out of range");
    cfgtest_assert_error(&d, "schema bad: field 'b': enum without choices");
    cfgtest_assert_error(&d, "schema bad: field 'a': duplicate key");
    cfg_diag_fini(&d);
}

static void test_diag_keeps_at_most_the_limit_and_counts_the_rest(void **state)
{
    char *text = malloc(64 * 1024);
    size_t n = 0;
    struct pqgate_cfg *c;
    struct cfg_diag d;

    (void) state;
    n += (size_t) snprintf(text, 64 * 1024, "gateway:\n  id: a\n");
    for (int i = 0; i < CFG_DIAG_MAX + 50; i++) {
        n += (size_t) snprintf(text + n, 64 * 1024 - n, "  k%d: 1\n", i);
    }
    assert_int_equal(cfgtest_load_sets(text, NULL, 0, &c, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, CFG_DIAG_MAX);
    assert_int_equal(d.dropped, 50);
    cfg_diag_fini(&d);
    free(text);
}

static void test_io_wages_and_pulse_output_errors_are_located(void **state)
{
    static const char text[] =
        "gateway: {id: t}\n"
        "io:\n"
        "  backend: sim\n"
        "  inputs: [{name: di1}]\n"
        "  outputs: [{name: di1}]\n"
        "wages:\n"
        "  - {name: gas, kind: gas, input: di9, weight: 0.01, unit: kg}\n"
        "  - {name: steam, kind: steam, channel: \"a//b\", unit: kg}\n"
        "  - {name: water, kind: water, input: di1, channel: x/y, "
        "unit: l, weight: 1}\n"
        "pulse_outputs:\n"
        "  - {name: ky, output: relay9, channel: local/e, weight: 1}\n";
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load(text, &cfg, &d), -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:5:20: io.outputs[0].name: io name 'di1' is already used");
    cfgtest_assert_error(
        &d, "t.yaml:7:60: wages[0].unit: gas is counted in m3 or Nm3, not 'kg'");
    cfgtest_assert_error(
        &d, "t.yaml:8:41: wages[1].channel: expected a channel name: segments of "
            "letters, digits, '_', '.' or '-' separated by '/', got 'a//b'");
    cfgtest_assert_error(&d, "t.yaml:9:39: wages[2].input: give exactly one of input (a "
                             "pulse input) and channel (a total read elsewhere)");
    cfgtest_assert_error(&d, "t.yaml:7:35: wages[0].input: no input 'di9' in io.inputs");
    cfgtest_assert_error(&d,
                         "t.yaml:11:24: pulse_outputs[0].output: no output 'relay9' in "
                         "io.outputs");
    cfg_diag_fini(&d);
    /* lines without a backend would never be opened: an error, not a crash */
    assert_int_equal(
        cfgtest_load("gateway: {id: t}\nio:\n  outputs: [{name: ky1}]\n", &cfg, &d),
        -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:3:3: io: inputs and outputs need a backend (gpiod or sim)");
    cfg_diag_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_selftest_of_daemon_schema_passes),
        cmocka_unit_test(test_config_minimal_fills_every_default),
        cmocka_unit_test(test_config_demo_example_loads_with_its_values),
        cmocka_unit_test(test_config_minimal_example_loads),
        cmocka_unit_test(test_config_three_mistakes_give_three_located_errors),
        cmocka_unit_test(test_config_unknown_key_suggests_the_closest),
        cmocka_unit_test(test_config_enum_typo_suggests_the_closest),
        cmocka_unit_test(test_config_missing_section_reports_required_key_at_top),
        cmocka_unit_test(test_config_empty_file_reports_missing_id),
        cmocka_unit_test(test_config_duplicate_key_names_the_first),
        cmocka_unit_test(test_config_yaml_syntax_error_has_location),
        cmocka_unit_test(test_config_second_document_is_rejected),
        cmocka_unit_test(test_config_top_level_list_is_rejected),
        cmocka_unit_test(test_config_null_section_takes_defaults),
        cmocka_unit_test(test_config_null_scalar_is_an_error),
        cmocka_unit_test(test_config_si_prefixes_and_units_parse),
        cmocka_unit_test(test_config_frequency_rule_rejects_55_hz),
        cmocka_unit_test(
            test_config_duplicate_device_name_and_unit_are_reported_at_the_second),
        cmocka_unit_test(test_config_rule_about_a_wrong_value_is_not_repeated),
        cmocka_unit_test(
            test_config_serial_unit_zero_is_rejected_but_tcp_unit_zero_is_not),
        cmocka_unit_test(test_config_bus_and_peer_names_share_one_namespace),
        cmocka_unit_test(test_config_more_than_31_devices_on_a_bus_is_rejected),
        cmocka_unit_test(test_set_overrides_a_value_of_the_file),
        cmocka_unit_test(test_set_creates_sections_and_list_items),
        cmocka_unit_test(test_set_errors_name_the_set),
        cmocka_unit_test(test_set_on_a_null_document_builds_the_sections),
        cmocka_unit_test(test_set_and_file_errors_are_reported_together),
        cmocka_unit_test(test_print_output_loads_back_identically),
        cmocka_unit_test(test_events_thresholds_that_overlap_are_rejected),
        cmocka_unit_test(test_capture_beyond_the_pm8000_range_is_rejected_at_its_key),
        cmocka_unit_test(test_print_keeps_every_digit_of_a_quantity),
        cmocka_unit_test(test_load_file_that_does_not_exist_says_so),
        cmocka_unit_test(test_schema_every_type_parses_and_defaults),
        cmocka_unit_test(test_schema_range_errors_print_limits_in_the_fields_unit),
        cmocka_unit_test(test_schema_selftest_finds_bad_tables),
        cmocka_unit_test(test_diag_keeps_at_most_the_limit_and_counts_the_rest),
        cmocka_unit_test(test_io_wages_and_pulse_output_errors_are_located),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
