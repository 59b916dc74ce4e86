/* test_mb_sunspec.c - SunSpec discovery on synthetic register images. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/modbus/mb_profile.h"
#include "drivers/modbus/mb_sunspec.h"
#include "pq/err.h"

/* A device: holding registers that exist, and how it answers. */
struct image {
    uint16_t regs[65536];
    uint8_t present[65536];
    int silent; /* every read times out */
    int reads;
};

static struct image *img;

static int image_read(void *ctx, int fn, int addr, int count, uint16_t *dst)
{
    struct image *im = ctx;

    im->reads++;
    if (im->silent) {
        return -ETIMEDOUT;
    }
    if (fn != 3 || count < 1 || count > 125 || addr < 0 || addr + count > 65536) {
        return -PQ_EREFUSED;
    }
    for (int i = 0; i < count; i++) {
        if (!im->present[addr + i]) {
            return -PQ_EREFUSED; /* exception 02: illegal data address */
        }
        dst[i] = im->regs[addr + i];
    }
    return 0;
}

static int put(int addr, uint16_t v)
{
    img->regs[addr] = v;
    img->present[addr] = 1;
    return addr + 1;
}

static int put_string(int addr, const char *s, int nregs)
{
    for (int i = 0; i < nregs; i++) {
        int a = 2 * i < (int) strlen(s) ? (unsigned char) s[2 * i] : 0;
        int b = 2 * i + 1 < (int) strlen(s) ? (unsigned char) s[2 * i + 1] : 0;

        addr = put(addr, (uint16_t) (a << 8 | b));
    }
    return addr;
}

/* "SunS", model 1, optionally another model, meter model `model`, end. */
static int build(int base, int model, int extra_model)
{
    int a = base, meter;

    memset(img, 0, sizeof(*img));
    a = put(a, 0x5375);
    a = put(a, 0x6E53);
    a = put(a, 1);
    a = put(a, 66);
    a = put_string(a, "pqgate", 16);
    a = put_string(a, "SIM-METER", 16);
    a = put_string(a, "opt", 8);
    a = put_string(a, "1.2.3", 8);
    a = put_string(a, "SN0042", 16);
    a = put(a, 1);      /* DA */
    a = put(a, 0x8000); /* pad */
    if (extra_model) {
        a = put(a, (uint16_t) extra_model);
        a = put(a, 10);
        for (int i = 0; i < 10; i++) {
            a = put(a, 0);
        }
    }
    meter = a;
    if (model) {
        int len = model >= 211 ? 124 : 105;

        a = put(a, (uint16_t) model);
        a = put(a, (uint16_t) len);
        for (int i = 0; i < len; i++) {
            a = put(a, 0);
        }
    }
    a = put(a, 0xFFFF);
    put(a, 0);
    return meter;
}

static int setup(void **state)
{
    (void) state;
    img = calloc(1, sizeof(*img));
    return img ? 0 : -1;
}

static int teardown(void **state)
{
    (void) state;
    free(img);
    return 0;
}

static const struct mb_point *find(const struct mb_profile *p, const char *channel)
{
    for (size_t i = 0; i < p->npoints; i++) {
        if (strcmp(p->points[i].channel, channel) == 0) {
            return &p->points[i];
        }
    }
    fail_msg("no point %s", channel);
    return NULL;
}

/* Decode channel through the profile's own plan, reading from the image. */
static double value_of(const struct mb_profile *prof, const char *channel, int *q)
{
    struct mb_read reads[16];
    struct mb_read_result res[16];
    static uint16_t regs[16][125];
    int n = mb_plan(prof, reads, 16);
    double v;

    assert_in_range(n, 1, 16);
    for (int i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof(res[i]));
        res[i].read = &reads[i];
        res[i].rc = image_read(img, reads[i].fn, reads[i].addr, reads[i].count, regs[i]);
        res[i].regs = regs[i];
    }
    assert_int_equal(mb_point_decode(find(prof, channel), res, (size_t) n, &v, q), 0);
    return v;
}

static void check_base(int base)
{
    struct mb_sunspec_info info;
    struct mb_profile *prof = NULL;
    int body, q;

    body = build(base, 203, 0) + 2;
    img->regs[body + 6] = 2305;              /* PhVphA */
    img->regs[body + 13] = (uint16_t) -1;    /* V_SF */
    img->regs[body + 16] = 340;              /* W */
    img->regs[body + 20] = 1;                /* W_SF */
    img->regs[body + 44] = 0x0001;           /* TotWhImp, high word */
    img->regs[body + 45] = 0x0002;           /* = 65538 */
    img->regs[body + 52] = 2;                /* TotWh_SF */
    img->regs[body + 31] = (uint16_t) -9605; /* PF */
    img->regs[body + 35] = (uint16_t) -2;    /* PF_SF */
    assert_int_equal(mb_sunspec_discover(image_read, img, &info, &prof), 0);
    assert_int_equal(info.base, base);
    assert_int_equal(info.meter_model, 203);
    assert_int_equal(info.meter_addr, body - 2);
    assert_int_equal(info.nmodels, 2);
    assert_string_equal(info.manufacturer, "pqgate");
    assert_string_equal(info.model, "SIM-METER");
    assert_string_equal(info.options, "opt");
    assert_string_equal(info.version, "1.2.3");
    assert_string_equal(info.serial, "SN0042");
    assert_string_equal(prof->name, "sunspec-203");
    assert_int_equal(prof->npoints, 37);
    assert_int_equal(find(prof, "u_rms/a")->sf_addr, body + 13);
    assert_true(fabs(value_of(prof, "u_rms/a", &q) - 230.5) < 1e-12);
    assert_int_equal(q, MB_Q_GOOD);
    assert_true(fabs(value_of(prof, "p/total", &q) - 3400) < 1e-12);
    assert_true(fabs(value_of(prof, "energy/kwh_del", &q) - 6553.8) < 1e-9);
    assert_true(fabs(value_of(prof, "pf/total", &q) + 0.9605) < 1e-12);
    /* registers left at 0: PhVphB (int16 0 is a value), TotWhExp (acc32 0 is
     * "not accumulated") */
    assert_true(fabs(value_of(prof, "u_rms/b", &q)) < 1e-12);
    assert_int_equal(q, MB_Q_GOOD);
    value_of(prof, "energy/kwh_rec", &q);
    assert_int_equal(q, MB_Q_NOT_IMPL);
    img->regs[body + 7] = 0x8000;
    value_of(prof, "u_rms/b", &q);
    assert_int_equal(q, MB_Q_NOT_IMPL);
    mb_profile_free(prof);
}

static void test_sunspec_discover_finds_model_203_at_40000(void **state)
{
    (void) state;
    check_base(40000);
}

static void test_sunspec_discover_finds_model_203_at_0(void **state)
{
    (void) state;
    check_base(0);
}

static void test_sunspec_discover_finds_model_203_at_50000(void **state)
{
    (void) state;
    check_base(50000);
}

static void test_sunspec_discover_skips_other_models_in_the_chain(void **state)
{
    struct mb_sunspec_info info;
    struct mb_profile *prof = NULL;
    int meter;

    (void) state;
    meter = build(40000, 201, 11);
    assert_int_equal(mb_sunspec_discover(image_read, img, &info, &prof), 0);
    assert_int_equal(info.meter_model, 201);
    assert_int_equal(info.meter_addr, meter);
    assert_int_equal(info.nmodels, 3);
    /* single phase: no phase b or c points */
    assert_int_equal(prof->npoints, 21);
    for (size_t i = 0; i < prof->npoints; i++) {
        const char *c = prof->points[i].channel;

        assert_null(strstr(c, "/b"));
        assert_null(strstr(c, "/c"));
    }
    mb_profile_free(prof);
}

static void test_sunspec_float_model_213_decodes_float32_points(void **state)
{
    struct mb_sunspec_info info;
    struct mb_profile *prof = NULL;
    int body, q;

    (void) state;
    body = build(40000, 213, 0) + 2;
    img->regs[body + 24] = 0x4248; /* Hz = 50.0f = 0x42480000 */
    img->regs[body + 25] = 0x0000;
    img->regs[body + 66] = 0x47F1; /* TotWhImp = 123456.0f = 0x47F12000 */
    img->regs[body + 67] = 0x2000;
    assert_int_equal(mb_sunspec_discover(image_read, img, &info, &prof), 0);
    assert_int_equal(info.meter_model, 213);
    assert_int_equal(find(prof, "freq")->type, MB_T_FLOAT32);
    assert_int_equal(find(prof, "freq")->sf_addr, -1);
    assert_true(fabs(value_of(prof, "freq", &q) - 50.0) < 1e-12);
    assert_true(fabs(value_of(prof, "energy/kwh_del", &q) - 123.456) < 1e-9);
    mb_profile_free(prof);
}

static void test_sunspec_without_marker_is_not_found_after_three_bases(void **state)
{
    struct mb_sunspec_info info;
    struct mb_profile *prof = NULL;

    (void) state;
    memset(img, 0, sizeof(*img));
    put(40000, 1);
    put(40001, 2); /* registers there, but not "SunS" */
    assert_int_equal(mb_sunspec_discover(image_read, img, &info, &prof), -PQ_ENOTFOUND);
    assert_int_equal(img->reads, 3);
    assert_null(prof);
}

static void test_sunspec_silent_device_stops_at_first_timeout(void **state)
{
    struct mb_sunspec_info info;
    struct mb_profile *prof = NULL;

    (void) state;
    memset(img, 0, sizeof(*img));
    img->silent = 1;
    assert_int_equal(mb_sunspec_discover(image_read, img, &info, &prof), -ETIMEDOUT);
    assert_int_equal(img->reads, 1);
}

static void test_sunspec_chain_without_meter_reports_the_device(void **state)
{
    struct mb_sunspec_info info;
    struct mb_profile *prof = NULL;

    (void) state;
    build(40000, 0, 11);
    assert_int_equal(mb_sunspec_discover(image_read, img, &info, &prof), -PQ_ENOTFOUND);
    assert_string_equal(info.manufacturer, "pqgate");
    assert_int_equal(info.nmodels, 2);
    assert_int_equal(info.meter_model, 0);
}

static void test_sunspec_chain_running_off_the_end_is_a_format_error(void **state)
{
    struct mb_sunspec_info info;
    struct mb_profile *prof = NULL;
    int a = 65500;

    (void) state;
    memset(img, 0, sizeof(*img));
    /* marker at 50000, a model whose length runs past 65535 */
    put(50000, 0x5375);
    put(50001, 0x6E53);
    put(50002, 7);
    put(50003, 60000);
    assert_int_equal(mb_sunspec_discover(image_read, img, &info, &prof), -PQ_EFORMAT);
    /* and a chain of models that never ends */
    memset(img, 0, sizeof(*img));
    put(40000, 0x5375);
    put(40001, 0x6E53);
    for (a = 40002; a < 65534; a += 2) {
        put(a, 9);
        put(a + 1, 0);
    }
    assert_int_equal(mb_sunspec_discover(image_read, img, &info, &prof), -PQ_EFORMAT);
    assert_null(prof);
}

static void test_sunspec_probe_steps_ask_for_each_read_in_order(void **state)
{
    static const int want[][2] = {
        {40000, 2}, {0, 2}, {2, 2}, {4, 64}, {70, 2}, {177, 2},
    };
    struct mb_sunspec_probe pr;
    uint16_t regs[64];
    int addr, count, step = 0;

    (void) state;
    build(0, 203, 0); /* "SunS" at 0: 40000 is tried first and refused */
    mb_sunspec_probe_init(&pr);
    assert_int_equal(pr.rc, -EINPROGRESS);
    while (mb_sunspec_probe_next(&pr, &addr, &count)) {
        assert_in_range(step, 0, 5);
        assert_int_equal(addr, want[step][0]);
        assert_int_equal(count, want[step][1]);
        mb_sunspec_probe_feed(&pr, image_read(img, 3, addr, count, regs), regs);
        step++;
    }
    assert_int_equal(step, 6);
    assert_int_equal(pr.rc, 0);
    assert_int_equal(pr.info.meter_model, 203);
    assert_int_equal(pr.info.meter_addr, 70);
    assert_string_equal(pr.info.serial, "SN0042");
    /* a failed read mid-chain ends the probe with its code */
    mb_sunspec_probe_init(&pr);
    mb_sunspec_probe_feed(&pr, -PQ_EREFUSED, regs);
    assert_true(mb_sunspec_probe_next(&pr, &addr, &count));
    mb_sunspec_probe_feed(&pr, image_read(img, 3, addr, count, regs), regs);
    assert_true(mb_sunspec_probe_next(&pr, &addr, &count));
    mb_sunspec_probe_feed(&pr, -ETIMEDOUT, regs);
    assert_false(mb_sunspec_probe_next(&pr, &addr, &count));
    assert_int_equal(pr.rc, -ETIMEDOUT);
}

static void test_sunspec_profile_refuses_unknown_model(void **state)
{
    struct mb_profile *prof = NULL;

    (void) state;
    assert_int_equal(mb_sunspec_profile(103, 40000, &prof), -EINVAL);
    assert_int_equal(mb_sunspec_profile(203, 65500, &prof), -EINVAL);
    assert_null(prof);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sunspec_discover_finds_model_203_at_40000),
        cmocka_unit_test(test_sunspec_discover_finds_model_203_at_0),
        cmocka_unit_test(test_sunspec_discover_finds_model_203_at_50000),
        cmocka_unit_test(test_sunspec_discover_skips_other_models_in_the_chain),
        cmocka_unit_test(test_sunspec_float_model_213_decodes_float32_points),
        cmocka_unit_test(test_sunspec_without_marker_is_not_found_after_three_bases),
        cmocka_unit_test(test_sunspec_silent_device_stops_at_first_timeout),
        cmocka_unit_test(test_sunspec_chain_without_meter_reports_the_device),
        cmocka_unit_test(test_sunspec_chain_running_off_the_end_is_a_format_error),
        cmocka_unit_test(test_sunspec_probe_steps_ask_for_each_read_in_order),
        cmocka_unit_test(test_sunspec_profile_refuses_unknown_model),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
