/* test_mbmap.c - the gateway's Modbus register map: addresses, float32 and
 * int64 encodings, NaN and quality, device blocks, exceptions. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/bus.h"
#include "gateway/mbmap.h"
#include "pq/err.h"

#define T0 1700000000000000000LL

static float words_f32(const uint16_t *w)
{
    uint32_t u = ((uint32_t) w[0] << 16) | w[1];
    float f;

    memcpy(&f, &u, sizeof(f));
    return f;
}

static int64_t words_i64(const uint16_t *w)
{
    uint64_t u = 0;

    for (int i = 0; i < 4; i++) {
        u = (u << 16) | w[i];
    }
    return (int64_t) u;
}

struct fix {
    struct bus *bus;
    struct mbmap *map;
};

static int ch(struct bus *b, const char *name, const char *unit)
{
    int id = bus_register(b, name, unit);

    assert_true(id >= 0);
    return id;
}

static int setup(void **state)
{
    static struct fix f;
    static const char *const devs[] = {"bus1.dev1/", "bus1.dev2/"};

    assert_int_equal(bus_new(1024, 1024, &f.bus), 0);
    assert_int_equal(mbmap_new(f.bus, devs, 2, &f.map), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    mbmap_free(f->map);
    bus_free(f->bus);
    return 0;
}

static void test_mbmap_f32_of_230_is_0x4366_0x0000(void **state)
{
    uint16_t w[2];

    (void) state;
    mbmap_put_f32(230.0, w);
    assert_int_equal(w[0], 0x4366);
    assert_int_equal(w[1], 0x0000);
    mbmap_put_f32(-1.5, w);
    assert_int_equal(w[0], 0xBFC0);
    assert_int_equal(w[1], 0x0000);
    mbmap_put_f32(49.99, w); /* 0x4247F5C3 */
    assert_int_equal(w[0], 0x4247);
    assert_int_equal(w[1], 0xF5C3);
}

static void test_mbmap_f32_of_nan_is_quiet_nan_words(void **state)
{
    uint16_t w[2];

    (void) state;
    mbmap_put_f32(NAN, w);
    assert_int_equal(w[0], 0x7FC0);
    assert_int_equal(w[1], 0x0000);
}

static void test_mbmap_i64_is_rounded_wh_most_significant_word_first(void **state)
{
    uint16_t w[4];

    (void) state;
    mbmap_put_i64(12.3456, 1000.0, w); /* 12.3456 kWh = 12346 Wh (rounded) */
    assert_int_equal(w[0], 0);
    assert_int_equal(w[1], 0);
    assert_int_equal(w[2], 0);
    assert_int_equal(w[3], 12346);
    mbmap_put_i64(5e9, 1000.0, w); /* 5e12 Wh = 0x0000_048C_2739_5000 */
    assert_int_equal(w[0], 0x0000);
    assert_int_equal(w[1], 0x048C);
    assert_int_equal(w[2], 0x2739);
    assert_int_equal(w[3], 0x5000);
    mbmap_put_i64(-0.001, 1000.0, w); /* -1 Wh */
    assert_true(words_i64(w) == -1);
}

static void test_mbmap_i64_of_nan_or_huge_is_int64_min(void **state)
{
    uint16_t w[4];

    (void) state;
    mbmap_put_i64(NAN, 1000.0, w);
    assert_true(words_i64(w) == INT64_MIN);
    assert_int_equal(w[0], 0x8000);
    mbmap_put_i64(1e300, 1000.0, w);
    assert_true(words_i64(w) == INT64_MIN);
}

static void test_mbmap_local_addresses_are_the_documented_ones(void **state)
{
    char t = 0;

    (void) state;
    assert_int_equal(mbmap_local_addr("local/u_rms/a", &t), 1002);
    assert_int_equal(t, 'f');
    assert_int_equal(mbmap_local_addr("local/u_ll_rms/ca", NULL), 1012);
    assert_int_equal(mbmap_local_addr("local/i_rms/n", NULL), 1108);
    assert_int_equal(mbmap_local_addr("local/p/total", NULL), 1208);
    assert_int_equal(mbmap_local_addr("local/freq", NULL), 1402);
    assert_int_equal(mbmap_local_addr("local/energy/kwh_del", &t), 2002);
    assert_int_equal(t, 'e');
    assert_int_equal(mbmap_local_addr("local/energy/kvah", NULL), 2018);
    assert_int_equal(mbmap_local_addr("local/nothing", NULL), -1);
    assert_int_equal(mbmap_dev_base(0), 10000);
    assert_int_equal(mbmap_dev_base(3), 10600);
    assert_int_equal(mbmap_dev_base(MBMAP_DEV_MAX), -1);
}

static void test_mbmap_voltage_reads_as_float_with_good_quality(void **state)
{
    struct fix *f = *state;
    static const char *const names[] = {"local/u_rms/a",     "local/u_rms/b",
                                        "local/u_rms/c",     "local/u_ll_rms/ab",
                                        "local/u_ll_rms/bc", "local/u_ll_rms/ca"};
    uint16_t r[14];

    for (int i = 0; i < 6; i++) {
        int id = ch(f->bus, names[i], "V");

        assert_int_equal(bus_publish(f->bus, id, 230.25 + i, T0, 0), 0);
    }
    assert_int_equal(mbmap_read(f->map, 1000, 14, r), 0);
    assert_int_equal(r[0], 0); /* quality: all good */
    assert_int_equal(r[1], 0);
    for (int i = 0; i < 6; i++) {
        /* 230.25 + i is exact in binary32 */
        assert_true(words_f32(&r[2 + 2 * i]) == (float) (230.25 + i));
    }
}

static void test_mbmap_unpublished_value_reads_nan_and_quality_invalid(void **state)
{
    struct fix *f = *state;
    uint16_t r[10];

    ch(f->bus, "local/i_rms/a", "A"); /* registered, never published */
    assert_int_equal(mbmap_read(f->map, 1100, 10, r), 0);
    assert_int_equal(r[0], BUS_Q_INVALID);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r[2 + 2 * i], 0x7FC0);
        assert_int_equal(r[3 + 2 * i], 0x0000);
    }
}

static void test_mbmap_stale_value_keeps_value_and_sets_stale_bit(void **state)
{
    struct fix *f = *state;
    int id = ch(f->bus, "local/freq", "Hz");
    int id10 = ch(f->bus, "local/freq10s", "Hz");
    uint16_t r[6];

    assert_int_equal(bus_publish(f->bus, id, 50.0, T0, BUS_Q_STALE), 0);
    assert_int_equal(bus_publish(f->bus, id10, 49.75, T0, BUS_Q_FLAGGED), 0);
    assert_int_equal(mbmap_read(f->map, 1400, 6, r), 0);
    assert_int_equal(r[0], BUS_Q_STALE | BUS_Q_FLAGGED);
    assert_true(words_f32(&r[2]) == 50.0f);
    assert_true(words_f32(&r[4]) == 49.75f);
}

static void test_mbmap_nan_published_as_good_reads_nan_quality_invalid(void **state)
{
    struct fix *f = *state;
    int id = ch(f->bus, "local/freq", "Hz");
    int id10 = ch(f->bus, "local/freq10s", "Hz");
    uint16_t r[4];

    assert_int_equal(bus_publish(f->bus, id, NAN, T0, 0), 0);
    assert_int_equal(bus_publish(f->bus, id10, 50.0, T0, 0), 0);
    assert_int_equal(mbmap_read(f->map, 1400, 4, r), 0);
    assert_int_equal(r[0], BUS_Q_INVALID);
    assert_int_equal(r[2], 0x7FC0);
    assert_int_equal(r[3], 0x0000);
}

static void test_mbmap_energy_reads_as_int64_wh(void **state)
{
    struct fix *f = *state;
    int id = ch(f->bus, "local/energy/kwh_del", "kWh");
    uint16_t r[4];

    assert_int_equal(bus_publish(f->bus, id, 123456.789, T0, 0), 0);
    assert_int_equal(mbmap_read(f->map, 2002, 4, r), 0);
    assert_true(words_i64(r) == 123456789);
    /* kwh_rec never published: INT64_MIN */
    assert_int_equal(mbmap_read(f->map, 2006, 4, r), 0);
    assert_true(words_i64(r) == INT64_MIN);
}

static void test_mbmap_read_of_second_word_alone_is_the_low_half(void **state)
{
    struct fix *f = *state;
    int id = ch(f->bus, "local/u_rms/a", "V");
    uint16_t r[1];

    assert_int_equal(bus_publish(f->bus, id, 49.99, T0, 0), 0);
    assert_int_equal(mbmap_read(f->map, 1003, 1, r), 0);
    assert_int_equal(r[0], 0xF5C3);
}

static void test_mbmap_header_describes_device_blocks(void **state)
{
    struct fix *f = *state;
    uint16_t r[5];

    assert_int_equal(mbmap_read(f->map, 0, 5, r), 0);
    assert_int_equal(r[0], MBMAP_VERSION);
    assert_int_equal(r[1], 2);
    assert_int_equal(r[2], 10000);
    assert_int_equal(r[3], 200);
    assert_int_equal(r[4], 99);
}

static void test_mbmap_address_outside_map_is_exception_2(void **state)
{
    struct fix *f = *state;
    uint16_t r[125];

    assert_int_equal(mbmap_read(f->map, 5, 1, r), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbmap_read(f->map, 999, 2, r), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbmap_read(f->map, 1000, 15, r), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbmap_read(f->map, 1014, 1, r), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbmap_read(f->map, 3000, 1, r), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbmap_read(f->map, 10400, 1, r), MB_EX_ILLEGAL_ADDRESS); /* dev 2 */
    assert_int_equal(mbmap_read(f->map, 65535, 2, r), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbmap_read(f->map, 10399, 2, r), MB_EX_ILLEGAL_ADDRESS);
}

static void test_mbmap_quantity_outside_1_to_125_is_exception_3(void **state)
{
    struct fix *f = *state;
    uint16_t r[126];

    assert_int_equal(mbmap_read(f->map, 1000, 0, r), MB_EX_ILLEGAL_VALUE);
    assert_int_equal(mbmap_read(f->map, 10000, 126, r), MB_EX_ILLEGAL_VALUE);
    assert_int_equal(mbmap_read(f->map, 10000, 125, r), 0);
}

static void test_mbmap_device_block_holds_channels_in_registration_order(void **state)
{
    struct fix *f = *state;
    int a = ch(f->bus, "bus1.dev1/u_rms/a", "V");
    int x = ch(f->bus, "bus1.dev2/p/total", "W");
    int b = ch(f->bus, "bus1.dev1/energy_kwh_del", "kWh");
    uint16_t r[8];

    ch(f->bus, "bus1.dev10/ignored", "");     /* another device's prefix */
    ch(f->bus, "bus1.dev1/health/state", ""); /* the master's, not a value */
    assert_int_equal(bus_publish(f->bus, a, 231.0, T0, 0), 0);
    assert_int_equal(bus_publish(f->bus, b, 1500.5, T0, BUS_Q_STALE), 0);
    assert_int_equal(bus_publish(f->bus, x, -20.0, T0, 0), 0);
    assert_int_equal(mbmap_read(f->map, 10000, 8, r), 0);
    assert_int_equal(r[0], BUS_Q_STALE);
    assert_int_equal(r[1], 2);
    assert_true(words_f32(&r[2]) == 231.0f);
    assert_true(words_f32(&r[4]) == 1500.5f);
    assert_int_equal(r[6], 0x7FC0); /* past the last channel */
    assert_int_equal(mbmap_read(f->map, 10200, 4, r), 0);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], 1);
    assert_true(words_f32(&r[2]) == -20.0f);
}

static void test_mbmap_device_without_channels_reads_quality_invalid(void **state)
{
    struct fix *f = *state;
    uint16_t r[4];

    assert_int_equal(mbmap_read(f->map, 10200, 4, r), 0);
    assert_int_equal(r[0], BUS_Q_INVALID);
    assert_int_equal(r[1], 0);
    assert_int_equal(r[2], 0x7FC0);
}

static void test_mbmap_device_past_99_channels_counts_the_rest(void **state)
{
    struct fix *f = *state;
    char name[64];
    uint16_t r[2];

    for (int i = 0; i < MBMAP_DEV_VALUES + 3; i++) {
        snprintf(name, sizeof(name), "bus1.dev2/v%d", i);
        ch(f->bus, name, "");
    }
    assert_int_equal(mbmap_read(f->map, 10200, 2, r), 0);
    assert_int_equal(r[1], MBMAP_DEV_VALUES);
    assert_int_equal(mbmap_dev_dropped(f->map, 1), 3);
    assert_int_equal(mbmap_dev_dropped(f->map, 0), 0);
}

static void test_mbmap_more_devices_than_blocks_keeps_the_first(void **state)
{
    struct bus *b;
    struct mbmap *m;
    static char names[MBMAP_DEV_MAX + 5][16];
    const char *p[MBMAP_DEV_MAX + 5];
    uint16_t r[1];

    (void) state;
    for (int i = 0; i < MBMAP_DEV_MAX + 5; i++) {
        snprintf(names[i], sizeof(names[i]), "p.d%d/", i);
        p[i] = names[i];
    }
    assert_int_equal(bus_new(16, 16, &b), 0);
    assert_int_equal(mbmap_new(b, p, MBMAP_DEV_MAX + 5, &m), 0);
    assert_int_equal(mbmap_devices(m), MBMAP_DEV_MAX);
    assert_int_equal(mbmap_read(m, mbmap_dev_base(MBMAP_DEV_MAX - 1) + 199, 1, r), 0);
    assert_int_equal(mbmap_read(m, 0, 1, r), 0);
    mbmap_free(m);
    bus_free(b);
}

static void test_mbmap_doc_lists_every_group_and_the_device_formula(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void) state;
    assert_non_null(f);
    mbmap_print_doc(f);
    fclose(f);
    assert_non_null(strstr(buf, "| 1002 | 2 | float32 | local/u_rms/a | V |"));
    assert_non_null(strstr(buf, "| 2002 | 4 | int64 | local/energy/kwh_del | Wh |"));
    assert_non_null(strstr(buf, "## Downstream devices: 10000 + 200 * d"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mbmap_f32_of_230_is_0x4366_0x0000),
        cmocka_unit_test(test_mbmap_f32_of_nan_is_quiet_nan_words),
        cmocka_unit_test(test_mbmap_i64_is_rounded_wh_most_significant_word_first),
        cmocka_unit_test(test_mbmap_i64_of_nan_or_huge_is_int64_min),
        cmocka_unit_test(test_mbmap_local_addresses_are_the_documented_ones),
        cmocka_unit_test_setup_teardown(
            test_mbmap_voltage_reads_as_float_with_good_quality, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_mbmap_unpublished_value_reads_nan_and_quality_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_mbmap_stale_value_keeps_value_and_sets_stale_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_mbmap_nan_published_as_good_reads_nan_quality_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbmap_energy_reads_as_int64_wh, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_mbmap_read_of_second_word_alone_is_the_low_half, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbmap_header_describes_device_blocks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mbmap_address_outside_map_is_exception_2,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_mbmap_quantity_outside_1_to_125_is_exception_3, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_mbmap_device_block_holds_channels_in_registration_order, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_mbmap_device_without_channels_reads_quality_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_mbmap_device_past_99_channels_counts_the_rest, setup, teardown),
        cmocka_unit_test(test_mbmap_more_devices_than_blocks_keeps_the_first),
        cmocka_unit_test(test_mbmap_doc_lists_every_group_and_the_device_formula),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
