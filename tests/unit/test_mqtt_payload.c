/* test_mqtt_payload.c - the JSON payloads of the MQTT forwarder: messages of
 * values and their size limit, records, and channel -> field mapping. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gateway/mqtt_payload.h"
#include "pq/err.h"
#include "pq/record.h"

#define T0 1763730000123000000LL /* 2025-11-21T13:00:00.123Z */

#define assert_close(got, want, tol) close_at((got), (want), (tol), __FILE__, __LINE__)

static void close_at(double got, double want, double tol, const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.17g, want %.17g +- %g\n", got, want, tol);
        _fail(file, line);
    }
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);

    if (!o) {
        print_error("not JSON (%s at %d): %s\n", err.text, err.position, text);
    }
    assert_non_null(o);
    return o;
}

static void test_values_message_has_head_and_every_value(void **state)
{
    char buf[2048];
    struct mqtt_values m;
    json_t *o, *v;
    size_t len;

    (void) state;
    assert_int_equal(mqtt_values_begin(&m, buf, sizeof(buf), "gw-1", 42, T0), 0);
    assert_int_equal(mqtt_values_add(&m, "local/u_rms/a", 230.125, "V", T0, 0), 0);
    assert_int_equal(mqtt_values_add(&m, "local/p/total", NAN, "W", T0, 8), 0);
    assert_int_equal(mqtt_values_add(&m, "x/q", 1.0, "\"\\", T0, 0), 0);
    len = mqtt_values_end(&m);
    assert_int_equal(len, strlen(buf));
    o = parse(buf);
    assert_string_equal(json_string_value(json_object_get(o, "gateway")), "gw-1");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 42);
    assert_string_equal(json_string_value(json_object_get(o, "t")),
                        "2025-11-21T13:00:00.123Z");
    v = json_object_get(o, "values");
    assert_int_equal(json_array_size(v), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(v, 0), "channel")),
        "local/u_rms/a");
    assert_close(json_number_value(json_object_get(json_array_get(v, 0), "value")),
                 230.125, 1e-9);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "unit")),
                        "V");
    assert_true(json_is_null(json_object_get(json_array_get(v, 1), "value")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 1), "quality")),
                     8);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 2), "unit")),
                        "\"\\");
    json_decref(o);
}

/* Fill messages of cap bytes until every one of 1000 values is placed:
 * each message is valid JSON no longer than cap - 1, and the values are all
 * there, in order. */
static void test_values_split_at_size_limit_keeps_every_value_in_order(void **state)
{
    enum { N = 1000, CAP = 1024 };

    static char buf[CAP];
    struct mqtt_values m;
    int next = 0, messages = 0;

    (void) state;
    while (next < N) {
        json_t *o, *v;
        char ch[64];

        assert_int_equal(mqtt_values_begin(&m, buf, CAP, "gw", (uint64_t) messages, T0),
                         0);
        for (;;) {
            snprintf(ch, sizeof(ch), "bus1.dev%d/energy_kwh_del", next);
            if (next == N || mqtt_values_add(&m, ch, next * 1.5, "kWh", T0, 0) < 0) {
                break;
            }
            next++;
        }
        assert_true(m.n > 0);
        assert_true(mqtt_values_end(&m) <= CAP - 1);
        o = parse(buf);
        v = json_object_get(o, "values");
        for (size_t i = 0; i < json_array_size(v); i++) {
            int k = next - (int) json_array_size(v) + (int) i;

            assert_close(
                json_number_value(json_object_get(json_array_get(v, i), "value")),
                k * 1.5, 1e-9);
        }
        json_decref(o);
        messages++;
    }
    /* ~125 bytes a value: 7 or 8 a message */
    assert_in_range(messages, N / 9, N / 6);
}

static void test_values_begin_with_too_small_buffer_is_refused(void **state)
{
    char buf[64];
    struct mqtt_values m;

    (void) state;
    assert_int_equal(mqtt_values_begin(&m, buf, sizeof(buf), "gw", 1, T0), -EINVAL);
}

static void test_field_index_of_channel_names_matches_record_table(void **state)
{
    size_t k;

    (void) state;
    assert_int_equal(mqtt_payload_field_index("u_rms/b", &k), 0);
    assert_int_equal(k, offsetof(struct pq_interval, u_rms_v[1]) / sizeof(double) -
                            offsetof(struct pq_interval, freq_hz) / sizeof(double));
    assert_int_equal(mqtt_payload_field_index("p/total", &k), 0);
    assert_int_equal(k, (offsetof(struct pq_interval, p_w[3]) -
                         offsetof(struct pq_interval, freq_hz)) /
                            sizeof(double));
    assert_int_equal(mqtt_payload_field_index("u_ll_rms/ca", &k), 0);
    assert_int_equal(k, (offsetof(struct pq_interval, u_ll_rms_v[2]) -
                         offsetof(struct pq_interval, freq_hz)) /
                            sizeof(double));
    assert_int_equal(mqtt_payload_field_index("freq", &k), 0);
    assert_int_equal(k, 0);
    assert_int_equal(mqtt_payload_field_index("u_thd_pct/a", &k), 0);
    assert_int_equal(mqtt_payload_field_index("u_rms/x", &k), -PQ_ENOTFOUND);
    assert_int_equal(mqtt_payload_field_index("nonsense", &k), -PQ_ENOTFOUND);
    assert_int_equal(mqtt_payload_field_index("u_h/a/5", &k), -PQ_ENOTFOUND);
}

static void test_interval_record_has_contract_shape(void **state)
{
    static double vals[PQ_NVALUES];
    static unsigned char have[PQ_NVALUES];
    const char *names[] = {"freq", "u_rms/a", "u_rms/b", "u_rms/c", "p/a", "p/total"};
    const double want[] = {50.01, 230.0, 231.0, 229.5, 1000.0, 3000.0};
    char buf[8192];
    json_t *o, *a;
    size_t k, n;

    (void) state;
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(mqtt_payload_field_index(names[i], &k), 0);
        vals[k] = want[i];
        have[k] = 1;
    }
    n = mqtt_payload_interval(buf, sizeof(buf), "gw", "local", 7, T0, "10min",
                              600000000000LL, T0, 1, vals, have);
    assert_true(n > 0 && n < sizeof(buf));
    o = parse(buf);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "interval");
    assert_string_equal(json_string_value(json_object_get(o, "agg")), "10min");
    assert_string_equal(json_string_value(json_object_get(o, "device")), "local");
    assert_string_equal(json_string_value(json_object_get(o, "start")),
                        "2025-11-21T12:50:00.123Z");
    assert_string_equal(json_string_value(json_object_get(o, "end")),
                        "2025-11-21T13:00:00.123Z");
    assert_true(json_is_true(json_object_get(o, "flagged")));
    assert_close(json_number_value(json_object_get(o, "freq_hz")), 50.01, 1e-9);
    a = json_object_get(o, "u_rms_v");
    assert_int_equal(json_array_size(a), 3);
    assert_close(json_number_value(json_array_get(a, 2)), 229.5, 1e-9);
    a = json_object_get(o, "p_w");
    assert_int_equal(json_array_size(a), 4); /* a, b, c, total */
    assert_true(json_is_null(json_array_get(a, 1)));
    assert_close(json_number_value(json_array_get(a, 3)), 3000.0, 1e-9);
    assert_null(json_object_get(o, "q_var")); /* no value: no key */
    json_decref(o);
}

static void test_event_record_names_value_by_kind(void **state)
{
    char buf[1024];
    json_t *o;

    (void) state;
    assert_true(
        mqtt_payload_event(buf, sizeof(buf), "gw", 3, T0, "dip", T0 - 1000000, 61.5) > 0);
    o = parse(buf);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "dip");
    assert_close(json_number_value(json_object_get(o, "residual_pct")), 61.5, 1e-9);
    assert_string_equal(json_string_value(json_object_get(o, "start")),
                        "2025-11-21T13:00:00.122Z");
    json_decref(o);
    assert_true(mqtt_payload_event(buf, sizeof(buf), "gw", 4, T0, "swell", T0, 112) > 0);
    o = parse(buf);
    assert_close(json_number_value(json_object_get(o, "max_pct")), 112, 1e-9);
    json_decref(o);
}

static void test_gap_record_names_the_range(void **state)
{
    char buf[512];
    const uint64_t ranges[2][2] = {{3, 5}, {10, 19}};
    json_t *o, *r;

    (void) state;
    assert_true(mqtt_payload_gap(buf, sizeof(buf), "gw", 900, T0, 10, 19, 10, "budget",
                                 ranges, 2) > 0);
    o = parse(buf);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "gap");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 900);
    assert_int_equal(json_integer_value(json_object_get(o, "first_seq")), 10);
    assert_int_equal(json_integer_value(json_object_get(o, "last_seq")), 19);
    assert_int_equal(json_integer_value(json_object_get(o, "count")), 10);
    assert_string_equal(json_string_value(json_object_get(o, "reason")), "budget");
    r = json_object_get(o, "ranges");
    assert_int_equal(json_array_size(r), 2);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(r, 0), 0)), 3);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(r, 1), 1)), 19);
    json_decref(o);
}

static void test_record_larger_than_buffer_reports_needed_length(void **state)
{
    char small[16], big[512];
    size_t need;

    (void) state;
    need =
        mqtt_payload_gap(small, sizeof(small), "gw", 1, T0, 1, 2, 2, "budget", NULL, 0);
    assert_true(need >= sizeof(small));
    assert_string_equal(small, "");
    assert_int_equal(
        mqtt_payload_gap(big, sizeof(big), "gw", 1, T0, 1, 2, 2, "budget", NULL, 0),
        need);
}

static void test_object_record_merges_extra_keys(void **state)
{
    char buf[512];
    json_t *x = json_pack("{s:i,s:s}", "uptime_s", 12, "state", "ok");
    json_t *o;

    (void) state;
    assert_true(mqtt_payload_object(buf, sizeof(buf), "gw", 5, T0, "health", x) > 0);
    json_decref(x);
    o = parse(buf);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "health");
    assert_int_equal(json_integer_value(json_object_get(o, "uptime_s")), 12);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 5);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_message_has_head_and_every_value),
        cmocka_unit_test(test_values_split_at_size_limit_keeps_every_value_in_order),
        cmocka_unit_test(test_values_begin_with_too_small_buffer_is_refused),
        cmocka_unit_test(test_field_index_of_channel_names_matches_record_table),
        cmocka_unit_test(test_interval_record_has_contract_shape),
        cmocka_unit_test(test_event_record_names_value_by_kind),
        cmocka_unit_test(test_gap_record_names_the_range),
        cmocka_unit_test(test_record_larger_than_buffer_reports_needed_length),
        cmocka_unit_test(test_object_record_merges_extra_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
