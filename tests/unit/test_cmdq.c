/* test_cmdq.c - the command queue: order, the bound and its overflow
 * policy, and one producer and one consumer thread losing nothing. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/cmdq.h"
#include "pq/err.h"

static void test_cmdq_pops_in_push_order_then_reports_empty(void **state)
{
    struct cmdq q;
    struct cmdq_item it;

    (void) state;
    cmdq_init(&q);
    assert_int_equal(cmdq_pop(&q, &it), 0);
    for (int i = 0; i < 3; i++) {
        struct cmdq_item in = {.what = i, .tag = (uint32_t) i + 10, .t_ns = 1000 * i};

        assert_int_equal(cmdq_push(&q, &in), 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cmdq_pop(&q, &it), 1);
        assert_int_equal(it.what, i);
        assert_int_equal(it.tag, i + 10);
        assert_true(it.t_ns == 1000 * i);
    }
    assert_int_equal(cmdq_pop(&q, &it), 0);
}

static void test_cmdq_full_refuses_the_newest_and_counts_it(void **state)
{
    struct cmdq q;
    struct cmdq_item it = {0};

    (void) state;
    cmdq_init(&q);
    for (int i = 0; i < CMDQ_CAP; i++) {
        it.what = i;
        assert_int_equal(cmdq_push(&q, &it), 0);
    }
    it.what = 99;
    assert_int_equal(cmdq_push(&q, &it), -PQ_EFULL);
    assert_int_equal(atomic_load(&q.dropped), 1);
    /* the queued ones are kept, oldest first; then room again */
    assert_int_equal(cmdq_pop(&q, &it), 1);
    assert_int_equal(it.what, 0);
    it.what = 100;
    assert_int_equal(cmdq_push(&q, &it), 0);
    for (int i = 1; i < CMDQ_CAP; i++) {
        assert_int_equal(cmdq_pop(&q, &it), 1);
        assert_int_equal(it.what, i);
    }
    assert_int_equal(cmdq_pop(&q, &it), 1);
    assert_int_equal(it.what, 100);
    assert_int_equal(cmdq_pop(&q, &it), 0);
}

#define NCMDS 200000

static void *producer(void *arg)
{
    struct cmdq *q = arg;

    for (int i = 0; i < NCMDS;) {
        struct cmdq_item it = {.what = i, .tag = (uint32_t) i, .t_ns = i};

        if (cmdq_push(q, &it) == 0) {
            i++;
        }
    }
    return NULL;
}

static void test_cmdq_two_threads_pass_every_command_in_order(void **state)
{
    static struct cmdq q;
    pthread_t th;
    int next = 0;

    (void) state;
    cmdq_init(&q);
    assert_int_equal(pthread_create(&th, NULL, producer, &q), 0);
    while (next < NCMDS) {
        struct cmdq_item it;

        if (cmdq_pop(&q, &it)) {
            if (it.what != next || it.tag != (uint32_t) next || it.t_ns != next) {
                fail_msg("got %d (tag %u), want %d", it.what, it.tag, next);
            }
            next++;
        }
    }
    pthread_join(th, NULL);
    assert_int_equal(next, NCMDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdq_pops_in_push_order_then_reports_empty),
        cmocka_unit_test(test_cmdq_full_refuses_the_newest_and_counts_it),
        cmocka_unit_test(test_cmdq_two_threads_pass_every_command_in_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
