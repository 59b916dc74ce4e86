/* test_mqtt_payload.c - the JSON payloads of the MQTT forwarder: messages of
 * values and their size limit, the contract's records with the head spliced
 * in, and the gateway's own records. */
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

#include "gateway/metrology.h"
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

/* A 10-min record as pq/record.c writes it: three phases and a neutral,
 * every value v (harmonic arrays included). */
static size_t interval_text(char *buf, size_t cap, double v)
{
    static struct pq_interval r;
    double *vals = (double *) (void *) &r.freq_hz;

    memset(&r, 0, sizeof(r));
    r.agg = PQ_AGG_10MIN;
    r.nph = 3;
    r.has_in = 1;
    r.count = 3000;
    r.flags = PQ_REC_FLAGGED;
    r.start_ns = T0 - 600000000000LL;
    r.end_ns = T0;
    for (size_t i = 0; i < PQ_NVALUES; i++) {
        vals[i] = v;
    }
    r.u_rms_v[1] = 231.25;
    return pq_interval_json(buf, cap, &r);
}

/* The head keys come first, then the record's own text byte for byte: the
 * numbers stay exactly as pq/ wrote them. */
static void test_record_gets_head_keys_and_keeps_record_text_byte_for_byte(void **state)
{
    static char rec[65536], buf[65536];
    size_t len = interval_text(rec, sizeof(rec), 1.5), n;
    const char *body;
    json_t *o, *orig, *a;
    const char *key;
    json_t *val;

    (void) state;
    assert_true(len > 0 && len < sizeof(rec));
    n = mqtt_payload_record(buf, sizeof(buf), "gw-1", "local", 77, T0, rec, len);
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf + n - len + 1, rec + 1); /* after "{" all is the record's */
    body = strstr(buf, "\"device\":\"local\",");
    assert_non_null(body);
    assert_ptr_equal(body + strlen("\"device\":\"local\","), buf + n - len + 1);
    o = parse(buf);
    orig = parse(rec);
    assert_string_equal(json_string_value(json_object_get(o, "gateway")), "gw-1");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 77);
    assert_string_equal(json_string_value(json_object_get(o, "t")),
                        "2025-11-21T13:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(o, "device")), "local");
    assert_int_equal(json_object_size(o), json_object_size(orig) + 4);
    json_object_foreach(orig, key, val)
    {
        assert_true(json_equal(val, json_object_get(o, key)));
    }
    assert_string_equal(json_string_value(json_object_get(o, "type")), "interval");
    assert_string_equal(json_string_value(json_object_get(o, "agg")), "10min");
    a = json_object_get(o, "u_h_v");
    assert_int_equal(json_array_size(a), 3);
    assert_int_equal(json_array_size(json_array_get(a, 2)), PQ_MAX_H);
    assert_close(json_number_value(json_array_get(json_object_get(o, "u_rms_v"), 1)),
                 231.25, 1e-9);
    json_decref(o);
    json_decref(orig);
}

static void
test_record_of_empty_object_is_the_head_alone_and_array_is_refused(void **state)
{
    char buf[256];
    json_t *o;

    (void) state;
    assert_true(mqtt_payload_record(buf, sizeof(buf), "gw", "local", 1, T0, "{ }", 3) >
                0);
    o = parse(buf);
    assert_int_equal(json_object_size(o), 4);
    json_decref(o);
    /* leading whitespace before the brace is no part of the record */
    assert_true(mqtt_payload_record(buf, sizeof(buf), "gw", "local", 1, T0,
                                    " \n{\"a\":1}", 9) > 0);
    o = parse(buf);
    assert_int_equal(json_object_size(o), 5);
    assert_int_equal(json_integer_value(json_object_get(o, "a")), 1);
    json_decref(o);
    assert_int_equal(
        mqtt_payload_record(buf, sizeof(buf), "gw", "local", 1, T0, "[1]", 3), 0);
    assert_string_equal(buf, "");
}

static void test_record_larger_than_buffer_is_not_written_and_reports_length(void **state)
{
    char small[64], big[256];
    const char *rec = "{\"type\":\"event\",\"kind\":\"dip\",\"residual_pct\":60.25}";
    size_t need;

    (void) state;
    need =
        mqtt_payload_record(small, sizeof(small), "gw", "local", 9, T0, rec, strlen(rec));
    assert_true(need >= sizeof(small));
    assert_string_equal(small, "");
    assert_int_equal(
        mqtt_payload_record(big, sizeof(big), "gw", "local", 9, T0, rec, strlen(rec)),
        need);
    assert_int_equal(strlen(big), need);
}

static void
test_record_check_reads_agg_and_refuses_what_cannot_take_the_head(void **state)
{
    char agg[16];
    const char *ev = "{\"type\":\"event\",\"kind\":\"dip\"}";
    const char *iv = "{\"type\":\"interval\",\"agg\":\"2h\"}";
    const char *bad[] = {
        "[1,2]",
        "{\"type\":\"event\"",              /* cut short */
        "{\"a\":1,\"a\":2}",                /* duplicate key */
        "{\"type\":\"event\",\"t\":\"x\"}", /* a head key */
        "{\"device\":\"other\"}",
        "not json",
    };

    (void) state;
    assert_int_equal(mqtt_payload_record_check(ev, strlen(ev), agg, sizeof(agg)), 0);
    assert_string_equal(agg, "");
    assert_int_equal(mqtt_payload_record_check(iv, strlen(iv), agg, sizeof(agg)), 0);
    assert_string_equal(agg, "2h");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            mqtt_payload_record_check(bad[i], strlen(bad[i]), agg, sizeof(agg)),
            -PQ_EFORMAT);
    }
}

/* The largest interval record, spliced: three phases and a neutral with
 * every value at 7 integer digits and all its decimals, fits the buffer the
 * metrology formats into (and so the record ring's sizing). */
static void test_record_of_largest_interval_fits_metrology_record_max(void **state)
{
    static char rec[1 << 17], buf[1 << 17];
    size_t len = interval_text(rec, sizeof(rec), -1234567.891234), n;

    (void) state;
    assert_true(len < sizeof(rec));
    n = mqtt_payload_record(buf, sizeof(buf), "a-gateway-id-of-some-length", "local",
                            UINT64_MAX, T0, rec, len);
    assert_true(n > 15000); /* 6 harmonic arrays of 3 x 63: the bulk */
    assert_true(n < METROLOGY_RECORD_MAX);
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
        cmocka_unit_test(test_record_gets_head_keys_and_keeps_record_text_byte_for_byte),
        cmocka_unit_test(
            test_record_of_empty_object_is_the_head_alone_and_array_is_refused),
        cmocka_unit_test(
            test_record_larger_than_buffer_is_not_written_and_reports_length),
        cmocka_unit_test(
            test_record_check_reads_agg_and_refuses_what_cannot_take_the_head),
        cmocka_unit_test(test_record_of_largest_interval_fits_metrology_record_max),
        cmocka_unit_test(test_gap_record_names_the_range),
        cmocka_unit_test(test_record_larger_than_buffer_reports_needed_length),
        cmocka_unit_test(test_object_record_merges_extra_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
