/* test_mb_profile.c - decoding points, energy counters, and every shipped
 * profile against its register dump (tests/data/profiles/<name>.json). */
#include <dirent.h>
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
#include <jansson.h>

#include "config/profile.h"
#include "config/schema.h"
#include "drivers/modbus/mb_profile.h"
#include "drivers/modbus/mb_sunspec.h"
#include "pq/err.h"

#define S(x) ((int64_t) (x) *1000000000LL)

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.17g, want %.17g +- %g", got, want, tol);
    }
}

/* A point of type t at addr in the holding registers. */
static struct mb_point pt(int type, int addr)
{
    struct mb_point p;
    static const int counts[] = {1, 1, 2, 2, 4, 4, 2, 4, 1, 1, 1};

    memset(&p, 0, sizeof(p));
    p.fn = MB_FN_HOLDING;
    p.addr = addr;
    p.type = type;
    p.count = counts[type];
    p.scale = 1;
    p.sf_addr = -1;
    return p;
}

/* One read of count registers from 0 holding regs. */
struct cycle {
    struct mb_read read;
    struct mb_read_result res;
};

static void cycle_init(struct cycle *c, const uint16_t *regs, int count)
{
    c->read = (struct mb_read){MB_FN_HOLDING, 0, (uint16_t) count};
    memset(&c->res, 0, sizeof(c->res));
    c->res.read = &c->read;
    c->res.regs = regs;
    c->res.t_ns = S(1000);
}

static double decode_ok(const struct mb_point *p, const uint16_t *regs, int count)
{
    struct cycle c;
    double v = 0;
    int q = -1;

    cycle_init(&c, regs, count);
    assert_int_equal(mb_point_decode(p, &c.res, 1, &v, &q), 0);
    assert_int_equal(q, MB_Q_GOOD);
    return v;
}

static int decode_q(const struct mb_point *p, const uint16_t *regs, int count)
{
    struct cycle c;
    double v = 0;
    int q = -1;

    cycle_init(&c, regs, count);
    assert_int_equal(mb_point_decode(p, &c.res, 1, &v, &q), 0);
    if (q != MB_Q_GOOD) {
        assert_true(isnan(v));
    }
    return q;
}

/* ---- types and orders --------------------------------------------------- */

static void test_decode_integer_types_give_their_signed_values(void **state)
{
    const uint16_t r[4] = {0xFFFE, 0x8000, 0x0000, 0x0001};
    struct mb_point p = pt(MB_T_INT16, 0);

    (void) state;
    assert_close(decode_ok(&p, r, 4), -2, 0);
    p = pt(MB_T_UINT16, 0);
    assert_close(decode_ok(&p, r, 4), 65534, 0);
    p = pt(MB_T_INT32, 0);
    assert_close(decode_ok(&p, r, 4), (double) (int32_t) 0xFFFE8000u, 0);
    p = pt(MB_T_UINT32, 0);
    assert_close(decode_ok(&p, r, 4), 4294868992.0, 0);
    p = pt(MB_T_INT64, 0);
    assert_close(decode_ok(&p, r, 4), (double) (int64_t) 0xFFFE800000000001ull, 0);
    p = pt(MB_T_UINT64, 0);
    assert_close(decode_ok(&p, r, 4), (double) 0xFFFE800000000001ull, 0);
}

static void test_decode_word_and_byte_orders_of_int32_undo_each_variant(void **state)
{
    /* 0x12345678 = 305419896 as ABCD, CDAB, BADC, DCBA */
    const uint16_t abcd[2] = {0x1234, 0x5678}, cdab[2] = {0x5678, 0x1234};
    const uint16_t badc[2] = {0x3412, 0x7856}, dcba[2] = {0x7856, 0x3412};
    struct mb_point p = pt(MB_T_UINT32, 0);

    (void) state;
    assert_close(decode_ok(&p, abcd, 2), 305419896.0, 0);
    p.words = MB_WORDS_LITTLE;
    assert_close(decode_ok(&p, cdab, 2), 305419896.0, 0);
    p.words = MB_WORDS_BIG;
    p.bytes = MB_BYTES_SWAPPED;
    assert_close(decode_ok(&p, badc, 2), 305419896.0, 0);
    p.words = MB_WORDS_LITTLE;
    assert_close(decode_ok(&p, dcba, 2), 305419896.0, 0);
}

static void test_decode_floats_in_both_word_orders_give_ieee_values(void **state)
{
    /* 230.5f = 0x43668000; 1.0e6 (double) = 0x412E848000000000 */
    const uint16_t f_abcd[2] = {0x4366, 0x8000}, f_cdab[2] = {0x8000, 0x4366};
    const uint16_t d_big[4] = {0x412E, 0x8480, 0x0000, 0x0000};
    const uint16_t d_little[4] = {0x0000, 0x0000, 0x8480, 0x412E};
    struct mb_point p = pt(MB_T_FLOAT32, 0);

    (void) state;
    assert_close(decode_ok(&p, f_abcd, 2), 230.5, 0);
    p.words = MB_WORDS_LITTLE;
    assert_close(decode_ok(&p, f_cdab, 2), 230.5, 0);
    p = pt(MB_T_FLOAT64, 0);
    assert_close(decode_ok(&p, d_big, 4), 1.0e6, 0);
    p.words = MB_WORDS_LITTLE;
    assert_close(decode_ok(&p, d_little, 4), 1.0e6, 0);
}

static void test_decode_bit_field_extracts_its_bits(void **state)
{
    const uint16_t r[1] = {0xB6C5}; /* 1011 0110 1100 0101 */
    struct mb_point p = pt(MB_T_BITS, 0);

    (void) state;
    p.bit = 4;
    p.nbits = 4;
    assert_close(decode_ok(&p, r, 1), 0xC, 0);
    p.bit = 15;
    p.nbits = 1;
    assert_close(decode_ok(&p, r, 1), 1, 0);
    p.bit = 0;
    p.nbits = 16;
    assert_close(decode_ok(&p, r, 1), 0xB6C5, 0);
}

static void test_decode_string_reads_two_characters_per_register(void **state)
{
    const uint16_t r[4] = {0x534D, 0x2D36, 0x3330, 0x0000}; /* "SM-630" */
    struct mb_point p = pt(MB_T_STRING, 0);
    struct cycle c;
    char buf[16];
    double v;
    int q;

    (void) state;
    p.length = 8;
    p.count = 4;
    cycle_init(&c, r, 4);
    assert_int_equal(mb_point_string(&p, &c.res, 1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "SM-630");
    assert_int_equal(mb_point_string(&p, &c.res, 1, buf, 4), 0);
    assert_string_equal(buf, "SM-");
    assert_int_equal(mb_point_decode(&p, &c.res, 1, &v, &q), -EINVAL);
}

static void test_decode_bool_reads_the_bit_of_a_coil_read(void **state)
{
    const uint8_t bits[3] = {0, 1, 0};
    struct mb_read rd = {MB_FN_COILS, 10, 3};
    struct mb_read_result res = {.read = &rd, .bits = bits};
    struct mb_point p = pt(MB_T_BOOL, 11);
    double v;
    int q;

    (void) state;
    p.fn = MB_FN_COILS;
    assert_int_equal(mb_point_decode(&p, &res, 1, &v, &q), 0);
    assert_int_equal(q, MB_Q_GOOD);
    assert_close(v, 1, 0);
    p.addr = 12;
    assert_int_equal(mb_point_decode(&p, &res, 1, &v, &q), 0);
    assert_close(v, 0, 0);
}

static void test_decode_scale_and_offset_apply_in_order(void **state)
{
    const uint16_t r[1] = {2301};
    struct mb_point p = pt(MB_T_INT16, 0);

    (void) state;
    p.scale = 0.1;
    p.offset = -30;
    assert_close(decode_ok(&p, r, 1), 200.1, 1e-12);
}

static void test_decode_sunspec_scale_factor_register_gives_power_of_ten(void **state)
{
    uint16_t r[2] = {2301, (uint16_t) -1}; /* value, V_SF = -1 */
    struct mb_point p = pt(MB_T_INT16, 0);

    (void) state;
    p.sf_addr = 1;
    assert_close(decode_ok(&p, r, 2), 230.1, 0); /* 2301 / 10, nearest double */
    r[1] = 3;
    assert_close(decode_ok(&p, r, 2), 2301000, 0);
    r[1] = 0x8000; /* sunssf not implemented */
    assert_int_equal(decode_q(&p, r, 2), MB_Q_NOT_IMPL);
    r[1] = 11; /* outside -10..10 */
    assert_int_equal(decode_q(&p, r, 2), MB_Q_NOT_IMPL);
}

static void test_decode_sunspec_not_implemented_patterns_give_not_impl(void **state)
{
    const uint16_t i16[1] = {0x8000}, u16[1] = {0xFFFF};
    const uint16_t i32[2] = {0x8000, 0}, u32[2] = {0xFFFF, 0xFFFF}, acc[2] = {0, 0};
    const uint16_t nan32[2] = {0x7FC0, 0};
    struct mb_point p = pt(MB_T_INT16, 0);

    (void) state;
    p.na = MB_NA_SUNSPEC;
    assert_int_equal(decode_q(&p, i16, 1), MB_Q_NOT_IMPL);
    p = pt(MB_T_UINT16, 0);
    p.na = MB_NA_SUNSPEC;
    assert_int_equal(decode_q(&p, u16, 1), MB_Q_NOT_IMPL);
    p = pt(MB_T_INT32, 0);
    p.na = MB_NA_SUNSPEC;
    assert_int_equal(decode_q(&p, i32, 2), MB_Q_NOT_IMPL);
    p = pt(MB_T_UINT32, 0);
    p.na = MB_NA_SUNSPEC;
    assert_int_equal(decode_q(&p, u32, 2), MB_Q_NOT_IMPL);
    p.counter = 1; /* acc32: 0 is "not accumulated", all ones a count */
    assert_int_equal(decode_q(&p, acc, 2), MB_Q_NOT_IMPL);
    assert_close(decode_ok(&p, u32, 2), 4294967295.0, 0);
    /* the same patterns are plain values without the sunspec rule */
    p = pt(MB_T_INT16, 0);
    assert_close(decode_ok(&p, i16, 1), -32768, 0);
    /* a float NaN is never a value */
    p = pt(MB_T_FLOAT32, 0);
    assert_int_equal(decode_q(&p, nan32, 2), MB_Q_NOT_IMPL);
}

static void
test_decode_failed_read_gives_comm_fail_and_uncovered_point_an_error(void **state)
{
    const uint16_t r[2] = {1, 2};
    struct mb_point p = pt(MB_T_UINT16, 1);
    struct cycle c;
    double v;
    int q;

    (void) state;
    cycle_init(&c, r, 2);
    c.res.rc = -ETIMEDOUT;
    c.res.regs = NULL;
    assert_int_equal(mb_point_decode(&p, &c.res, 1, &v, &q), 0);
    assert_int_equal(q, MB_Q_COMM_FAIL);
    assert_true(isnan(v));
    p.addr = 1;
    p = pt(MB_T_UINT32, 1); /* 1..2: past the read's end */
    assert_int_equal(mb_point_decode(&p, &c.res, 1, &v, &q), -PQ_ENOTFOUND);
    p = pt(MB_T_UINT16, 0);
    p.fn = MB_FN_INPUT; /* right address, other table */
    assert_int_equal(mb_point_decode(&p, &c.res, 1, &v, &q), -PQ_ENOTFOUND);
}

/* ---- counters ------------------------------------------------------------ */

/* A 16-bit counter of 1 kWh per count, at most 2 kWh/s. */
static struct mb_point counter16(void)
{
    struct mb_point p = pt(MB_T_UINT16, 0);

    p.counter = 1;
    p.counter_bits = 16;
    p.max_step = 2;
    return p;
}

static void test_counter_increases_are_added(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};

    (void) state;
    assert_int_equal(mb_counter_feed(&c, &p, 1000, S(0)), MB_COUNTER_OK);
    assert_close(c.total, 1000, 0);
    assert_int_equal(mb_counter_feed(&c, &p, 1015, S(10)), MB_COUNTER_OK);
    assert_int_equal(mb_counter_feed(&c, &p, 1015, S(20)), MB_COUNTER_OK);
    assert_close(c.total, 1015, 0);
}

static void test_counter_wrap_near_top_is_rollover_with_small_delta(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};

    (void) state;
    mb_counter_feed(&c, &p, 65530, S(0));
    /* 65530 -> 4 in 10 s: 6 to the wrap + 4 = 10 kWh, within 2 kWh/s */
    assert_int_equal(mb_counter_feed(&c, &p, 4, S(10)), MB_COUNTER_ROLLOVER);
    assert_close(c.total, 65540, 0);
    assert_int_equal(mb_counter_feed(&c, &p, 10, S(20)), MB_COUNTER_OK);
    assert_close(c.total, 65546, 0);
}

static void test_counter_fall_to_near_zero_is_reset_and_counts_from_it(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};

    (void) state;
    mb_counter_feed(&c, &p, 30000, S(0));
    /* not near the top: no wrap; 3 kWh in 10 s is a credible count from 0 */
    assert_int_equal(mb_counter_feed(&c, &p, 3, S(10)), MB_COUNTER_RESET);
    assert_close(c.total, 30003, 0);
    assert_int_equal(mb_counter_feed(&c, &p, 8, S(20)), MB_COUNTER_OK);
    assert_close(c.total, 30008, 0);
}

static void test_counter_other_big_decrease_is_exchange_with_new_base(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};

    (void) state;
    mb_counter_feed(&c, &p, 30000, S(0));
    assert_int_equal(mb_counter_feed(&c, &p, 12000, S(10)), MB_COUNTER_EXCHANGE);
    assert_close(c.total, 30000, 0); /* nothing added */
    assert_int_equal(mb_counter_feed(&c, &p, 12010, S(20)), MB_COUNTER_OK);
    assert_close(c.total, 30010, 0); /* counts on from the new base */
}

static void test_counter_top_to_bottom_too_fast_is_not_rollover(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};

    (void) state;
    mb_counter_feed(&c, &p, 60000, S(0));
    /* across the wrap would be 5536 + 100 kWh in 10 s: beyond 2 kWh/s, and 100
     * is no credible count from zero either: a different meter */
    assert_int_equal(mb_counter_feed(&c, &p, 100, S(10)), MB_COUNTER_EXCHANGE);
    assert_close(c.total, 60000, 0);
}

static void test_counter_spike_contradicted_later_is_glitch_ignored(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};

    (void) state;
    mb_counter_feed(&c, &p, 1000, S(0));
    assert_int_equal(mb_counter_feed(&c, &p, 41000, S(10)), MB_COUNTER_GLITCH);
    assert_close(c.total, 1000, 0); /* last good kept */
    assert_int_equal(mb_counter_feed(&c, &p, 1030, S(20)), MB_COUNTER_OK);
    assert_close(c.total, 1030, 0);
}

static void test_counter_jump_confirmed_later_is_exchange_without_delta(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};

    (void) state;
    mb_counter_feed(&c, &p, 1000, S(0));
    assert_int_equal(mb_counter_feed(&c, &p, 41000, S(10)), MB_COUNTER_GLITCH);
    assert_int_equal(mb_counter_feed(&c, &p, 41010, S(20)), MB_COUNTER_EXCHANGE);
    assert_close(c.total, 1000, 0);
    assert_int_equal(mb_counter_feed(&c, &p, 41020, S(30)), MB_COUNTER_OK);
    assert_close(c.total, 1010, 0);
}

static void test_counter_total_never_decreases_nor_jumps_over_random_faults(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};
    double prev = 0, x = 100;
    int64_t t_ok = 0;
    uint32_t seed = 12345;

    (void) state;
    for (int i = 0; i < 20000; i++) {
        double reading;
        int64_t t = S(i * 5 + 5);

        seed = seed * 1103515245u + 12345u;
        x = fmod(x + (seed >> 16) % 10, 65536.0); /* up to 9 kWh per 5 s */
        switch ((seed >> 8) % 50) {
        case 0:
            reading = (double) ((seed >> 4) % 65536); /* anything */
            break;
        case 1:
            reading = NAN;
            break;
        default:
            reading = x;
            break;
        }
        int ev = mb_counter_feed(&c, &p, reading, t);

        /* never down; never up faster than max_step since the last reading
         * that was believed */
        if (i > 0) { /* the first reading primes the total */
            assert_true(c.total >= prev);
            assert_true(c.total - prev <= 2.0 * (double) (t - t_ok) / 1e9 + 1e-9);
        }
        if (ev != MB_COUNTER_GLITCH) {
            t_ok = t;
        }
        prev = c.total;
    }
}

static void test_counter_non_finite_reading_is_ignored(void **state)
{
    struct mb_point p = counter16();
    struct mb_counter c = {0};

    (void) state;
    mb_counter_feed(&c, &p, 10, S(0));
    assert_int_equal(mb_counter_feed(&c, &p, INFINITY, S(1)), MB_COUNTER_GLITCH);
    assert_close(c.total, 10, 0);
    assert_string_equal(mb_counter_event_name(MB_COUNTER_ROLLOVER), "rollover");
}

static void test_sample_of_sunspec_acc32_uses_scale_factor_for_the_wrap(void **state)
{
    /* acc32 Wh with TotWh_SF = 2 (100 Wh per count), scaled to kWh: wraps at
     * 2^32 * 0.1 kWh */
    uint16_t r[3] = {0xFFFF, 0xFFF0, 2};
    struct mb_point p = pt(MB_T_UINT32, 0);
    struct mb_counter c = {0};
    struct mb_sample s;
    struct cycle cy;

    (void) state;
    p.scale = 0.001;
    p.sf_addr = 2;
    p.counter = 1;
    p.counter_bits = 32;
    p.na = MB_NA_SUNSPEC;
    cycle_init(&cy, r, 3);
    assert_int_equal(mb_point_sample(&p, &c, &cy.res, 1, &s), 0);
    assert_int_equal(s.q, MB_Q_GOOD);
    assert_close(s.value, 4294967280.0 * 0.1, 1e-3);
    assert_int_equal(s.t_ns, S(1000));
    r[0] = 0;
    r[1] = 4;
    cy.res.t_ns = S(1010);
    assert_int_equal(mb_point_sample(&p, &c, &cy.res, 1, &s), 0);
    assert_int_equal(s.event, MB_COUNTER_ROLLOVER);
    assert_close(s.value, (4294967280.0 + 20) * 0.1, 1e-3); /* 16 + 4 counts */
}

/* ---- shipped profiles against their dumps -------------------------------- */

struct dump {
    json_t *root;
    json_t *tables[5]; /* by enum mb_fn */
};

static int dump_get(const struct dump *d, int fn, int addr, uint16_t *out)
{
    char key[16];
    json_t *v;

    snprintf(key, sizeof(key), "%d", addr);
    v = d->tables[fn] ? json_object_get(d->tables[fn], key) : NULL;
    if (!json_is_integer(v)) {
        return -PQ_ENOTFOUND;
    }
    *out = (uint16_t) json_integer_value(v);
    return 0;
}

static int dump_read(void *ctx, int fn, int addr, int count, uint16_t *dst)
{
    for (int i = 0; i < count; i++) {
        if (dump_get(ctx, fn, addr + i, &dst[i]) < 0) {
            return -PQ_EREFUSED; /* a device answers an unmapped address so */
        }
    }
    return 0;
}

static struct mb_profile *profile_of_dump(const struct dump *d, const char *name)
{
    struct mb_profile *prof = NULL;
    struct cfg_diag diag;
    char path[256];

    if (strncmp(name, "sunspec-", 8) == 0) {
        struct mb_sunspec_info info;

        assert_int_equal(mb_sunspec_discover(dump_read, (void *) d, &info, &prof), 0);
        assert_string_equal(prof->name, name);
        return prof;
    }
    assert_int_equal(cfg_profile_path(name, NULL, path, sizeof(path)), 0);
    cfg_diag_init(&diag);
    if (cfg_profile_load(path, &prof, &diag) < 0) {
        cfg_diag_print(&diag, stderr);
        fail_msg("%s does not load", path);
    }
    cfg_diag_fini(&diag);
    assert_string_equal(prof->name, name);
    assert_true(strlen(prof->source) > 10);
    return prof;
}

static void check_dump(const char *file)
{
    static const char *const tables[] = {NULL, "coils", "discrete", "holding", "input"};
    struct mb_read reads[64];
    struct mb_read_result res[64];
    uint16_t(*regs)[MB_MAX_BITS] = calloc(64, sizeof(*regs));
    uint8_t(*bits)[MB_MAX_BITS] = calloc(64, sizeof(*bits));
    struct mb_profile *prof;
    json_error_t jerr;
    struct dump d;
    json_t *expect;
    int n;

    assert_non_null(regs);
    assert_non_null(bits);
    d.root = json_load_file(file, 0, &jerr);
    if (!d.root) {
        fail_msg("%s:%d: %s", file, jerr.line, jerr.text);
    }
    for (int fn = 1; fn <= 4; fn++) {
        d.tables[fn] = json_object_get(json_object_get(d.root, "registers"), tables[fn]);
    }
    expect = json_object_get(d.root, "expect");
    prof = profile_of_dump(&d, json_string_value(json_object_get(d.root, "profile")));
    n = mb_plan(prof, reads, 64);
    assert_in_range(n, 1, 64);
    for (int i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof(res[i]));
        res[i].read = &reads[i];
        res[i].t_ns = S(1700000000);
        for (int k = 0; k < reads[i].count; k++) {
            uint16_t w = 0;

            /* every register a planned read asks for is in the dump, so a
             * simulator serving the dump answers every read */
            if (dump_get(&d, reads[i].fn, reads[i].addr + k, &w) < 0) {
                fail_msg("%s: read %d:%d+%d: register %d missing", file, reads[i].fn,
                         reads[i].addr, reads[i].count, reads[i].addr + k);
            }
            regs[i][k] = w;
            bits[i][k] = (uint8_t) (w != 0);
        }
        if (reads[i].fn == MB_FN_COILS || reads[i].fn == MB_FN_DISCRETE) {
            res[i].bits = bits[i];
        } else {
            res[i].regs = regs[i];
        }
    }
    assert_int_equal(json_object_size(expect), prof->npoints);
    for (size_t i = 0; i < prof->npoints; i++) {
        const struct mb_point *p = &prof->points[i];
        json_t *e = json_object_get(expect, p->channel);
        struct mb_counter c = {0};
        struct mb_sample s;

        if (!e) {
            fail_msg("%s: no expectation for point %s", file, p->channel);
        }
        assert_int_equal(mb_point_sample(p, &c, res, (size_t) n, &s), 0);
        if (s.q != MB_Q_GOOD) {
            fail_msg("%s: %s: quality %d", file, p->channel, s.q);
        }
        /* written as !(<=) so that a NaN value fails too */
        if (!(fabs(s.value - json_number_value(json_object_get(e, "value"))) <=
              json_number_value(json_object_get(e, "tol")))) {
            fail_msg("%s: %s: got %.17g, want %.17g +- %g", file, p->channel, s.value,
                     json_number_value(json_object_get(e, "value")),
                     json_number_value(json_object_get(e, "tol")));
        }
    }
    mb_profile_free(prof);
    json_decref(d.root);
    free(regs);
    free(bits);
}

static void
test_every_shipped_profile_decodes_its_dump_to_the_expected_values(void **state)
{
    DIR *dir = opendir("tests/data/profiles");
    struct dirent *de;
    int dumps = 0, yaml = 0;

    (void) state;
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        char path[512];

        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
            snprintf(path, sizeof(path), "tests/data/profiles/%s", de->d_name);
            check_dump(path);
            dumps++;
        }
    }
    closedir(dir);
    /* and every shipped profile has its dump */
    dir = opendir("config/profiles");
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        char path[512];
        FILE *f;

        if (len > 5 && strcmp(de->d_name + len - 5, ".yaml") == 0) {
            snprintf(path, sizeof(path), "tests/data/profiles/%.*s.json", (int) (len - 5),
                     de->d_name);
            f = fopen(path, "r");
            if (!f) {
                fail_msg("config/profiles/%s has no dump %s", de->d_name, path);
            }
            fclose(f);
            yaml++;
        }
    }
    closedir(dir);
    assert_true(yaml >= 3);
    assert_int_equal(dumps, yaml + 1); /* + sunspec-203 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_integer_types_give_their_signed_values),
        cmocka_unit_test(test_decode_word_and_byte_orders_of_int32_undo_each_variant),
        cmocka_unit_test(test_decode_floats_in_both_word_orders_give_ieee_values),
        cmocka_unit_test(test_decode_bit_field_extracts_its_bits),
        cmocka_unit_test(test_decode_string_reads_two_characters_per_register),
        cmocka_unit_test(test_decode_bool_reads_the_bit_of_a_coil_read),
        cmocka_unit_test(test_decode_scale_and_offset_apply_in_order),
        cmocka_unit_test(test_decode_sunspec_scale_factor_register_gives_power_of_ten),
        cmocka_unit_test(test_decode_sunspec_not_implemented_patterns_give_not_impl),
        cmocka_unit_test(
            test_decode_failed_read_gives_comm_fail_and_uncovered_point_an_error),
        cmocka_unit_test(test_counter_increases_are_added),
        cmocka_unit_test(test_counter_wrap_near_top_is_rollover_with_small_delta),
        cmocka_unit_test(test_counter_fall_to_near_zero_is_reset_and_counts_from_it),
        cmocka_unit_test(test_counter_other_big_decrease_is_exchange_with_new_base),
        cmocka_unit_test(test_counter_top_to_bottom_too_fast_is_not_rollover),
        cmocka_unit_test(test_counter_spike_contradicted_later_is_glitch_ignored),
        cmocka_unit_test(test_counter_jump_confirmed_later_is_exchange_without_delta),
        cmocka_unit_test(test_counter_total_never_decreases_nor_jumps_over_random_faults),
        cmocka_unit_test(test_counter_non_finite_reading_is_ignored),
        cmocka_unit_test(test_sample_of_sunspec_acc32_uses_scale_factor_for_the_wrap),
        cmocka_unit_test(
            test_every_shipped_profile_decodes_its_dump_to_the_expected_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
