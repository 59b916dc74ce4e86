/* test_outbox.c - the durable outbox on a real onboard store (SQLite in a
 * temporary directory) with a recording transport: durability before
 * sending, the window, acknowledgements, restart, replay share, budget and
 * gaps. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/outbox.h"
#include "gateway/store.h"
#include "pq/err.h"

#define SENT_MAX 4096

/* The transport: writes down what it is given, mids from 1. */
struct wire {
    uint64_t seq[SENT_MAX];
    char topic[SENT_MAX][32];
    int mid[SENT_MAX];
    size_t n;
    int next_mid;
    int refuse; /* send() fails */

    struct {
        uint64_t first, last, count;
        char reason[16];
        uint64_t ranges[16][2];
        size_t nranges;
    } gap[16];

    size_t ngaps;
    int put_gaps;
};

struct fixture {
    char dir[64];
    char path[96];
    struct store *store;
    struct outbox *ob;
    struct wire w;
};

static int wire_send(void *ctx, const char *topic, const void *payload, size_t len,
                     int *mid)
{
    struct wire *w = ctx;
    char text[64];

    if (w->refuse) {
        return -EIO;
    }
    assert_true(len < sizeof(text));
    memcpy(text, payload, len);
    text[len] = '\0';
    assert_true(w->n < SENT_MAX);
    w->seq[w->n] = strtoull(text + 4, NULL, 10); /* "seq N" */
    snprintf(w->topic[w->n], sizeof(w->topic[0]), "%s", topic);
    *mid = w->mid[w->n] = ++w->next_mid;
    w->n++;
    return 0;
}

/* The owner's side of a loss: a gap record through outbox_put_gap(), as
 * gateway/mqtt.c does, when put_gaps is set. */
static struct outbox *wire_outbox;

static void wire_gap(void *ctx, const struct outbox_gap *g)
{
    struct wire *w = ctx;

    assert_true(w->ngaps < 16);
    w->gap[w->ngaps].first = g->first;
    w->gap[w->ngaps].last = g->last;
    w->gap[w->ngaps].count = g->count;
    snprintf(w->gap[w->ngaps].reason, sizeof(w->gap[0].reason), "%s", g->reason);
    w->gap[w->ngaps].nranges = g->nranges;
    memcpy(w->gap[w->ngaps].ranges, g->ranges, g->nranges * sizeof(g->ranges[0]));
    w->ngaps++;
    if (w->put_gaps) {
        uint64_t seq = outbox_next_seq(wire_outbox);
        char text[32];

        snprintf(text, sizeof(text), "seq %" PRIu64, seq);
        assert_int_equal(outbox_put_gap(wire_outbox, seq, "p/gw/gap", text, strlen(text)),
                         0);
    }
}

static void open_all(struct fixture *f, unsigned window, double share, uint64_t budget)
{
    struct store_cfg sc = {.path = f->path, .batch_ns = 3600000000000LL};
    struct outbox_cfg oc = {
        .window = window, .replay_share = share, .budget_rows = budget};
    struct outbox_sink sink = {.send = wire_send, .gap = wire_gap, .ctx = &f->w};

    assert_int_equal(store_open(&sc, &outbox_store_table, 1, &f->store), 0);
    assert_int_equal(outbox_open(f->store, &oc, &sink, &f->ob), 0);
    wire_outbox = f->ob;
}

static void close_all(struct fixture *f)
{
    outbox_close(f->ob);
    store_close(f->store);
    f->ob = NULL;
    f->store = NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_outbox.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    close_all(f);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void put_n(struct fixture *f, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t seq = outbox_next_seq(f->ob);
        char text[32];

        snprintf(text, sizeof(text), "seq %" PRIu64, seq);
        assert_int_equal(outbox_put(f->ob, seq, "p/gw/data", text, strlen(text)), 0);
    }
}

static void commit(struct fixture *f)
{
    assert_int_equal(store_flush(f->store, 5000), 0);
}

/* Acknowledge everything sent so far, commit the deletions, pump. */
static void ack_all(struct fixture *f, size_t from)
{
    for (size_t i = from; i < f->w.n; i++) {
        outbox_acked(f->ob, f->w.mid[i]);
    }
    outbox_pump(f->ob); /* queues the deletions */
    commit(f);
    outbox_pump(f->ob);
}

static void test_outbox_row_not_committed_is_not_sent(void **state)
{
    struct fixture *f = *state;

    open_all(f, 10, 0.5, 1000);
    outbox_link(f->ob, 1);
    put_n(f, 3);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 0); /* queued, not durable yet */
    commit(f);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(f->w.seq[i], i + 1);
        assert_string_equal(f->w.topic[i], "p/gw/data");
    }
}

static void test_outbox_window_frees_only_after_deletion_commits(void **state)
{
    struct fixture *f = *state;
    struct outbox_stats st;

    open_all(f, 4, 0.5, 1000);
    outbox_link(f->ob, 1);
    put_n(f, 10);
    commit(f);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 4);
    outbox_acked(f->ob, f->w.mid[0]);
    outbox_acked(f->ob, f->w.mid[1]);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 4); /* acknowledged, deletion not durable */
    commit(f);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 6);
    assert_int_equal(f->w.seq[5], 6);
    outbox_stats(f->ob, &st);
    assert_int_equal(st.inflight, 4);
    assert_int_equal(st.rows, 8);
    assert_int_equal(st.acked, 2);
}

static void test_outbox_link_down_sends_nothing_and_keeps_rows(void **state)
{
    struct fixture *f = *state;

    open_all(f, 10, 0.5, 1000);
    put_n(f, 5);
    commit(f);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 0);
    outbox_link(f->ob, 1);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 5);
}

static void test_outbox_sequence_continues_after_restart_with_empty_table(void **state)
{
    struct fixture *f = *state;

    open_all(f, 10, 0.5, 1000);
    outbox_link(f->ob, 1);
    put_n(f, 5);
    commit(f);
    outbox_pump(f->ob);
    ack_all(f, 0);
    close_all(f);
    open_all(f, 10, 0.5, 1000);
    assert_int_equal(outbox_next_seq(f->ob), 6);
}

/* Rows sent and never acknowledged come back after a restart, in order,
 * before anything new: a duplicate at most per message of the window. */
static void
test_outbox_unacknowledged_rows_are_resent_after_restart_in_order(void **state)
{
    struct fixture *f = *state;

    open_all(f, 3, 0.5, 1000);
    outbox_link(f->ob, 1);
    put_n(f, 8);
    commit(f);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 3);
    outbox_acked(f->ob, f->w.mid[0]);
    outbox_pump(f->ob);
    commit(f);
    close_all(f);
    f->w.n = 0;
    open_all(f, 100, 0.5, 1000);
    assert_int_equal(outbox_next_seq(f->ob), 9);
    outbox_link(f->ob, 1);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(f->w.seq[i], i + 2);
    }
}

/* 40 rows of backlog, then 40 live rows while the backlog is still
 * waiting: with a share of 25 %, one send in four goes to the backlog while
 * both wait; each stream stays in seq order. */
static void test_outbox_replay_share_splits_sends_between_backlog_and_live(void **state)
{
    struct fixture *f = *state;
    size_t backlog = 0, live = 0;
    uint64_t last_b = 0, last_l = 40;

    open_all(f, 20, 0.25, 1000);
    put_n(f, 40);
    commit(f);
    outbox_link(f->ob, 1); /* rows 1..40 are the backlog */
    put_n(f, 40);
    commit(f);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 20);
    for (size_t i = 0; i < f->w.n; i++) {
        if (f->w.seq[i] <= 40) {
            assert_true(f->w.seq[i] > last_b);
            last_b = f->w.seq[i];
            backlog++;
        } else {
            assert_true(f->w.seq[i] > last_l);
            last_l = f->w.seq[i];
            live++;
        }
    }
    assert_int_equal(backlog, 5);
    assert_int_equal(live, 15);
    /* drain: everything arrives exactly once */
    for (int round = 0; round < 10 && f->w.n < 80; round++) {
        ack_all(f, 0);
    }
    assert_int_equal(f->w.n, 80);
}

/* Beyond the budget, the oldest committed rows go, down to 99 % of it, and
 * the gap names them. */
static void test_outbox_budget_drops_oldest_and_reports_gap(void **state)
{
    struct fixture *f = *state;
    struct outbox_stats st;

    open_all(f, 10, 0.5, 100);
    put_n(f, 150);
    commit(f);
    outbox_pump(f->ob);
    assert_int_equal(f->w.ngaps, 1);
    assert_int_equal(f->w.gap[0].first, 1);
    assert_int_equal(f->w.gap[0].last, 51);
    assert_int_equal(f->w.gap[0].count, 51);
    assert_string_equal(f->w.gap[0].reason, "budget");
    outbox_stats(f->ob, &st);
    assert_int_equal(st.rows, 99);
    commit(f);
    outbox_link(f->ob, 1);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 10);
    assert_int_equal(f->w.seq[0], 52);
}

/* Two overflows while the link is down: the second drop takes the first
 * gap record's neighbours but not the record (the budget never drops gap
 * records); the second record repeats the first range, and the first
 * record, undelivered, is deleted and its own number declared lost. */
static void test_outbox_second_overflow_gap_record_repeats_earlier_ranges(void **state)
{
    struct fixture *f = *state;

    f->w.put_gaps = 1;
    open_all(f, 10, 0.5, 100);
    put_n(f, 150);
    commit(f);
    outbox_pump(f->ob); /* drops 1..51, gap record 151 */
    assert_int_equal(f->w.ngaps, 1);
    put_n(f, 60);
    commit(f);
    outbox_pump(f->ob); /* 160 rows (gap record included): drops 52..112 */
    assert_int_equal(f->w.ngaps, 2);
    assert_int_equal(f->w.gap[1].first, 52);
    /* 1..51 and 52..112 touch; the first record, deleted, is declared too */
    assert_int_equal(f->w.gap[1].nranges, 2);
    assert_int_equal(f->w.gap[1].ranges[0][0], 1);
    assert_int_equal(f->w.gap[1].ranges[0][1], 112);
    assert_int_equal(f->w.gap[1].ranges[1][0], 151);
    assert_int_equal(f->w.gap[1].ranges[1][1], 151);
    commit(f);
    outbox_link(f->ob, 1);
    for (int round = 0; round < 20; round++) {
        ack_all(f, 0);
    }
    /* the first gap record (151) went; the second arrives */
    for (size_t i = 0; i < f->w.n; i++) {
        assert_true(f->w.seq[i] != 151);
    }
    assert_string_equal(f->w.topic[f->w.n - 1], "p/gw/gap");
}

/* Over the budget while connected: the rows in the window are being
 * delivered, so the oldest rows not sent yet go instead. */
static void test_outbox_budget_while_connected_spares_the_window(void **state)
{
    struct fixture *f = *state;

    open_all(f, 10, 0.5, 100);
    outbox_link(f->ob, 1);
    put_n(f, 150);
    commit(f);
    outbox_pump(f->ob); /* drops 1..51, sends 52..61 */
    assert_int_equal(f->w.ngaps, 1);
    assert_int_equal(f->w.gap[0].last, 51);
    assert_int_equal(f->w.n, 10);
    assert_int_equal(f->w.seq[0], 52);
    put_n(f, 60);
    commit(f);
    outbox_pump(f->ob); /* 159 rows: 60 go, from 62 on */
    assert_int_equal(f->w.ngaps, 2);
    assert_int_equal(f->w.gap[1].first, 62);
    assert_int_equal(f->w.gap[1].last, 121);
    assert_int_equal(f->w.gap[1].count, 60);
    assert_int_equal(f->w.n, 10); /* the window is still full */
}

static void test_outbox_put_with_wrong_seq_is_refused(void **state)
{
    struct fixture *f = *state;

    open_all(f, 10, 0.5, 100);
    assert_int_equal(outbox_put(f->ob, 7, "t", "x", 1), -EINVAL);
    assert_int_equal(outbox_next_seq(f->ob), 1);
}

static void test_outbox_transport_refusal_keeps_row_for_next_pump(void **state)
{
    struct fixture *f = *state;

    open_all(f, 10, 0.5, 100);
    outbox_link(f->ob, 1);
    put_n(f, 2);
    commit(f);
    f->w.refuse = 1;
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 0);
    f->w.refuse = 0;
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 2);
    assert_int_equal(f->w.seq[0], 1);
}

/* A link that drops and comes back: what was in the window stays there (the
 * transport resends it), what was not sent becomes the backlog, nothing is
 * sent twice by the outbox. */
static void test_outbox_reconnect_sends_each_row_once(void **state)
{
    struct fixture *f = *state;

    open_all(f, 5, 0.5, 1000);
    outbox_link(f->ob, 1);
    put_n(f, 8);
    commit(f);
    outbox_pump(f->ob);
    assert_int_equal(f->w.n, 5);
    outbox_link(f->ob, 0);
    put_n(f, 4);
    commit(f);
    outbox_pump(f->ob);
    outbox_link(f->ob, 1);
    ack_all(f, 0);
    for (int round = 0; round < 10 && f->w.n < 12; round++) {
        ack_all(f, 0);
    }
    assert_int_equal(f->w.n, 12);
    for (size_t i = 0; i < 12; i++) {
        for (size_t j = 0; j < i; j++) {
            assert_true(f->w.seq[i] != f->w.seq[j]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outbox_row_not_committed_is_not_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_window_frees_only_after_deletion_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_link_down_sends_nothing_and_keeps_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_sequence_continues_after_restart_with_empty_table, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_unacknowledged_rows_are_resent_after_restart_in_order, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_replay_share_splits_sends_between_backlog_and_live, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_outbox_budget_drops_oldest_and_reports_gap,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_second_overflow_gap_record_repeats_earlier_ranges, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_budget_while_connected_spares_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_put_with_wrong_seq_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_outbox_transport_refusal_keeps_row_for_next_pump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_reconnect_sends_each_row_once, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
