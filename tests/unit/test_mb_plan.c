/* test_mb_plan.c - request planning: fewest legal reads for a profile. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/modbus/mb_profile.h"

#define MAXP 512

struct fixture {
    struct mb_profile prof;
    struct mb_point pts[MAXP];
};

static struct fixture fx;

static void prof_init(int max_regs, int max_gap, int no_cross)
{
    memset(&fx, 0, sizeof(fx));
    fx.prof.name = "t";
    fx.prof.source = "test";
    fx.prof.max_regs = max_regs;
    fx.prof.max_gap = max_gap;
    fx.prof.no_cross = no_cross;
    fx.prof.points = fx.pts;
}

static struct mb_point *add(int fn, int addr, int count)
{
    struct mb_point *p = &fx.pts[fx.prof.npoints++];

    p->fn = fn;
    p->addr = addr;
    p->count = count;
    p->type = fn <= MB_FN_DISCRETE ? MB_T_BOOL : count == 1 ? MB_T_UINT16 : MB_T_UINT32;
    p->scale = 1;
    p->sf_addr = -1;
    return p;
}

static int plan(struct mb_read *out, size_t cap)
{
    return mb_plan(&fx.prof, out, cap);
}

static void assert_read(const struct mb_read *r, int fn, int addr, int count)
{
    assert_int_equal(r->fn, fn);
    assert_int_equal(r->addr, addr);
    assert_int_equal(r->count, count);
}

static void test_plan_fifty_adjacent_registers_is_one_read(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(125, 16, 0);
    for (int a = 0; a < 50; a++) {
        add(MB_FN_HOLDING, a, 1);
    }
    assert_int_equal(plan(r, 8), 1);
    assert_read(&r[0], MB_FN_HOLDING, 0, 50);
    assert_int_equal(mb_plan_min_regs(&fx.prof), 50);
}

static void test_plan_gap_of_max_gap_is_spanned_and_one_more_splits(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(125, 16, 0);
    add(MB_FN_HOLDING, 0, 2);
    add(MB_FN_HOLDING, 18, 2); /* 16 unused registers between */
    assert_int_equal(plan(r, 8), 1);
    assert_read(&r[0], MB_FN_HOLDING, 0, 20);
    assert_int_equal(mb_plan_min_regs(&fx.prof), 4);
    fx.pts[1].addr = 19; /* 17 unused */
    assert_int_equal(plan(r, 8), 2);
    assert_read(&r[0], MB_FN_HOLDING, 0, 2);
    assert_read(&r[1], MB_FN_HOLDING, 19, 2);
    fx.prof.max_gap = 0; /* adjacent only */
    fx.pts[1].addr = 2;
    assert_int_equal(plan(r, 8), 1);
    fx.pts[1].addr = 3;
    assert_int_equal(plan(r, 8), 2);
}

static void test_plan_130_register_span_needs_two_reads(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(125, 16, 0);
    for (int a = 0; a < 130; a++) {
        add(MB_FN_INPUT, a, 1);
    }
    assert_int_equal(plan(r, 8), 2);
    assert_read(&r[0], MB_FN_INPUT, 0, 125);
    assert_read(&r[1], MB_FN_INPUT, 125, 5);
}

static void test_plan_max_regs_20_splits_fifty_registers_into_three(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(20, 16, 0);
    for (int a = 0; a < 50; a += 2) {
        add(MB_FN_HOLDING, a, 2); /* float pairs: never split */
    }
    assert_int_equal(plan(r, 8), 3);
    assert_read(&r[0], MB_FN_HOLDING, 0, 20);
    assert_read(&r[1], MB_FN_HOLDING, 20, 20);
    assert_read(&r[2], MB_FN_HOLDING, 40, 10);
    fx.prof.max_regs = 19; /* an odd limit must not cut a pair */
    assert_int_equal(plan(r, 8), 3);
    assert_read(&r[0], MB_FN_HOLDING, 0, 18);
    assert_read(&r[1], MB_FN_HOLDING, 18, 18);
    assert_read(&r[2], MB_FN_HOLDING, 36, 14);
}

static void test_plan_no_cross_boundary_splits_the_read_there(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(125, 16, 100);
    for (int a = 90; a < 110; a += 2) {
        add(MB_FN_HOLDING, a, 2);
    }
    assert_int_equal(plan(r, 8), 2);
    assert_read(&r[0], MB_FN_HOLDING, 90, 10);
    assert_read(&r[1], MB_FN_HOLDING, 100, 10);
    /* a point that itself crosses the boundary cannot be planned */
    add(MB_FN_HOLDING, 199, 2);
    assert_int_equal(plan(r, 8), -EINVAL);
}

static void test_plan_keeps_functions_apart_in_code_order(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(125, 16, 0);
    add(MB_FN_INPUT, 0, 2);
    add(MB_FN_HOLDING, 0, 2);
    add(MB_FN_COILS, 5, 1);
    add(MB_FN_DISCRETE, 5, 1);
    assert_int_equal(plan(r, 8), 4);
    assert_read(&r[0], MB_FN_COILS, 5, 1);
    assert_read(&r[1], MB_FN_DISCRETE, 5, 1);
    assert_read(&r[2], MB_FN_HOLDING, 0, 2);
    assert_read(&r[3], MB_FN_INPUT, 0, 2);
}

static void test_plan_includes_scale_factor_registers(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(125, 16, 0);
    add(MB_FN_HOLDING, 10, 1)->sf_addr = 20;
    add(MB_FN_HOLDING, 11, 1)->sf_addr = 20; /* shared: counted once */
    assert_int_equal(plan(r, 8), 1);
    assert_read(&r[0], MB_FN_HOLDING, 10, 11);
    assert_int_equal(mb_plan_min_regs(&fx.prof), 3);
    fx.pts[0].sf_addr = 60; /* far away: a read of its own */
    fx.pts[1].sf_addr = 60;
    assert_int_equal(plan(r, 8), 2);
    assert_read(&r[1], MB_FN_HOLDING, 60, 1);
}

static void test_plan_coils_take_2000_bits_per_read(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(10, 16, 0); /* max_regs is about registers, not bits */
    for (int a = 0; a < 2100; a += 5) {
        add(MB_FN_COILS, a, 1);
    }
    assert_int_equal(plan(r, 8), 2);
    assert_read(&r[0], MB_FN_COILS, 0, 1996);
    assert_read(&r[1], MB_FN_COILS, 2000, 96);
}

static void test_plan_overlapping_points_are_read_once(void **state)
{
    struct mb_read r[8];

    (void) state;
    prof_init(125, 0, 0);
    add(MB_FN_HOLDING, 4, 2);
    add(MB_FN_HOLDING, 4, 2); /* same registers as another type */
    add(MB_FN_HOLDING, 4, 1); /* bit fields of the first register */
    assert_int_equal(plan(r, 8), 1);
    assert_read(&r[0], MB_FN_HOLDING, 4, 2);
    assert_int_equal(mb_plan_min_regs(&fx.prof), 2);
}

static void test_plan_with_small_cap_counts_all_writes_cap(void **state)
{
    struct mb_read r[3];

    (void) state;
    prof_init(125, 0, 0);
    for (int a = 0; a < 10; a++) {
        add(MB_FN_HOLDING, a * 10, 1);
    }
    memset(r, 0xAB, sizeof(r));
    assert_int_equal(plan(r, 2), 10);
    assert_read(&r[1], MB_FN_HOLDING, 10, 1);
    assert_int_equal(r[2].addr, 0xABAB); /* untouched */
}

/* The optimum by dynamic programming over the same merged spans: best[j]
 * = fewest reads covering spans 0..j-1. */
static int optimum(int *start, int *end, int n, int limit, int gap, int no_cross)
{
    int best[MAXP + 1];

    best[0] = 0;
    for (int j = 1; j <= n; j++) {
        best[j] = 1 << 30;
        for (int i = j - 1; i >= 0; i--) {
            int ok = end[j - 1] - start[i] <= limit &&
                     (!no_cross || start[i] / no_cross == (end[j - 1] - 1) / no_cross);

            for (int k = i + 1; k < j && ok; k++) {
                ok = start[k] - end[k - 1] <= gap;
            }
            if (ok && best[i] + 1 < best[j]) {
                best[j] = best[i] + 1;
            }
        }
    }
    return best[n];
}

static void test_plan_equals_exhaustive_optimum_on_random_profiles(void **state)
{
    uint32_t seed = 7;

    (void) state;
    for (int round = 0; round < 400; round++) {
        struct mb_read r[MAXP];
        int used[1200] = {0};
        int start[MAXP], end[MAXP], n = 0, got;
        int limit, no_cross;

        seed = seed * 1103515245u + 12345u;
        limit = 4 + (int) (seed >> 16) % 122;
        no_cross = (seed >> 8) % 3 == 0 ? 50 + (int) (seed >> 20) % 60 : 0;
        prof_init(limit, (int) (seed >> 4) % 20, no_cross);
        for (int i = 0; i < 60; i++) {
            int addr, count;

            seed = seed * 1103515245u + 12345u;
            addr = (int) (seed >> 16) % 1000;
            count = (seed >> 8) % 4 == 0 ? 2 : 1;
            if (used[addr] || used[addr + 1] ||
                (no_cross && count == 2 && addr / no_cross != (addr + 1) / no_cross)) {
                continue;
            }
            used[addr] = used[addr + count - 1] = 1;
            add(MB_FN_HOLDING, addr, count);
        }
        got = plan(r, MAXP);
        assert_true(got > 0);
        /* each read is legal, and every point lies whole in one read */
        for (int k = 0; k < got; k++) {
            assert_true(r[k].count <= limit);
            if (no_cross) {
                assert_int_equal(r[k].addr / no_cross,
                                 (r[k].addr + r[k].count - 1) / no_cross);
            }
        }
        for (size_t i = 0; i < fx.prof.npoints; i++) {
            int covered = 0;

            for (int k = 0; k < got; k++) {
                covered |= fx.pts[i].addr >= r[k].addr &&
                           fx.pts[i].addr + fx.pts[i].count <= r[k].addr + r[k].count;
            }
            assert_true(covered);
        }
        /* spans as the planner sees them */
        for (int a = 0; a < 1001;) {
            size_t i;

            for (i = 0; i < fx.prof.npoints && fx.pts[i].addr != a; i++) {
            }
            if (i == fx.prof.npoints) {
                a++;
                continue;
            }
            start[n] = a;
            end[n] = a + fx.pts[i].count;
            n++;
            a = end[n - 1];
        }
        assert_int_equal(got, optimum(start, end, n, limit, fx.prof.max_gap, no_cross));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_fifty_adjacent_registers_is_one_read),
        cmocka_unit_test(test_plan_gap_of_max_gap_is_spanned_and_one_more_splits),
        cmocka_unit_test(test_plan_130_register_span_needs_two_reads),
        cmocka_unit_test(test_plan_max_regs_20_splits_fifty_registers_into_three),
        cmocka_unit_test(test_plan_no_cross_boundary_splits_the_read_there),
        cmocka_unit_test(test_plan_keeps_functions_apart_in_code_order),
        cmocka_unit_test(test_plan_includes_scale_factor_registers),
        cmocka_unit_test(test_plan_coils_take_2000_bits_per_read),
        cmocka_unit_test(test_plan_overlapping_points_are_read_once),
        cmocka_unit_test(test_plan_with_small_cap_counts_all_writes_cap),
        cmocka_unit_test(test_plan_equals_exhaustive_optimum_on_random_profiles),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
