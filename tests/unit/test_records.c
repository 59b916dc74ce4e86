/* test_records.c - the record channel: order, types, the overflow policy
 * and its counters, wrap-around, the wake-up fd, callbacks that post,
 * subscribe and unsubscribe, and poster threads. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/records.h"
#include "pq/err.h"

#define LOG_MAX 4096 /* records a log keeps; it counts all */

/* A subscriber that writes down what it is given. */
struct log {
    int n;
    char type[LOG_MAX][RECORDS_TYPE_MAX];
    char text[LOG_MAX][64];
    size_t len[LOG_MAX];
};

static void note(void *ctx, const char *type, const char *json, size_t len)
{
    struct log *l = ctx;

    assert_int_equal(strlen(json), len); /* NUL-terminated at len */
    if (l->n < LOG_MAX) {
        snprintf(l->type[l->n], sizeof(l->type[0]), "%s", type);
        snprintf(l->text[l->n], sizeof(l->text[0]), "%s", json);
        l->len[l->n] = len;
    }
    l->n++;
}

static struct log *log_new(void)
{
    struct log *l = test_calloc(1, sizeof(*l));

    assert_non_null(l);
    return l;
}

static struct records *new_records(size_t cap)
{
    struct records *r = NULL;

    assert_int_equal(records_new(cap, &r), 0);
    assert_non_null(r);
    return r;
}

static int readable(const struct records *r)
{
    struct pollfd pfd = {.fd = records_fd(r), .events = POLLIN};
    int rc = poll(&pfd, 1, 0);

    assert_true(rc >= 0);
    return rc == 1 && (pfd.revents & POLLIN);
}

static int post_text(struct records *r, const char *type, const char *text)
{
    return records_post(r, type, text, strlen(text));
}

/* ---- order, types, text ---- */

static void test_records_dispatch_delivers_in_post_order_with_type_and_text(void **state)
{
    struct records *r = new_records(64 * 1024);
    struct log *l = log_new();
    struct records_stats st;
    char text[64];

    (void) state;
    assert_true(records_subscribe(r, "*", note, l) >= 0);
    for (int i = 0; i < 100; i++) {
        snprintf(text, sizeof(text), "{\"i\":%d}", i);
        assert_int_equal(post_text(r, i % 3 ? "interval" : "event", text), 0);
    }
    assert_int_equal(records_dispatch(r, 0), 100);
    assert_int_equal(l->n, 100);
    for (int i = 0; i < 100; i++) {
        snprintf(text, sizeof(text), "{\"i\":%d}", i);
        assert_string_equal(l->text[i], text);
        assert_int_equal(l->len[i], strlen(text));
        assert_string_equal(l->type[i], i % 3 ? "interval" : "event");
    }
    records_stats(r, &st);
    assert_int_equal(st.posted, 100);
    assert_int_equal(st.delivered, 100);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.queued_bytes, 0);
    assert_int_equal(st.subscriptions, 1);
    records_free(r);
    test_free(l);
}

static void test_records_subscription_by_type_gets_that_type_only(void **state)
{
    struct records *r = new_records(4096);
    struct log *ev = log_new(), *in = log_new(), *all = log_new();

    (void) state;
    assert_true(records_subscribe(r, "event", note, ev) >= 0);
    assert_true(records_subscribe(r, "interval", note, in) >= 0);
    assert_true(records_subscribe(r, "*", note, all) >= 0);
    assert_int_equal(post_text(r, "event", "{\"a\":1}"), 0);
    assert_int_equal(post_text(r, "interval", "{\"b\":2}"), 0);
    assert_int_equal(post_text(r, "energy", "{\"c\":3}"), 0);
    assert_int_equal(post_text(r, "event", "{\"d\":4}"), 0);
    assert_int_equal(records_dispatch(r, 0), 4);
    assert_int_equal(ev->n, 2);
    assert_string_equal(ev->text[0], "{\"a\":1}");
    assert_string_equal(ev->text[1], "{\"d\":4}");
    assert_int_equal(in->n, 1);
    assert_string_equal(in->text[0], "{\"b\":2}");
    assert_int_equal(all->n, 4);
    assert_string_equal(all->type[2], "energy");
    records_free(r);
    test_free(ev);
    test_free(in);
    test_free(all);
}

/* The text need not be NUL-terminated: exactly len bytes are taken. */
static void test_records_post_copies_exactly_len_bytes(void **state)
{
    struct records *r = new_records(1024);
    struct log *l = log_new();
    char text[] = "{\"x\":1}GARBAGE";

    (void) state;
    assert_true(records_subscribe(r, "*", note, l) >= 0);
    assert_int_equal(records_post(r, "event", text, 7), 0);
    memset(text, '?', sizeof(text) - 1); /* the ring holds a copy */
    assert_int_equal(records_dispatch(r, 0), 1);
    assert_string_equal(l->text[0], "{\"x\":1}");
    assert_int_equal(l->len[0], 7);
    records_free(r);
    test_free(l);
}

static void test_records_dispatch_with_max_takes_that_many(void **state)
{
    struct records *r = new_records(4096);
    struct log *l = log_new();

    (void) state;
    assert_true(records_subscribe(r, "*", note, l) >= 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(post_text(r, "event", "{}"), 0);
    }
    assert_int_equal(records_dispatch(r, 2), 2);
    assert_int_equal(l->n, 2);
    assert_true(readable(r)); /* three left: the fd says so */
    assert_int_equal(records_dispatch(r, 0), 3);
    assert_int_equal(l->n, 5);
    assert_false(readable(r));
    assert_int_equal(records_dispatch(r, 0), 0);
    records_free(r);
    test_free(l);
}

/* ---- overflow ---- */

/* A ring of 1024 bytes holds 16 entries of 64 bytes (39 bytes of text):
 * the 17th and later posts are dropped and counted, the queued ones stay
 * whole and arrive in order; once drained, posts are taken again. */
static void test_records_full_ring_drops_newest_and_counts_it(void **state)
{
    struct records *r = new_records(1024);
    struct log *l = log_new();
    struct records_stats st;
    char text[64];
    int accepted = 0, refused = 0;

    (void) state;
    assert_int_equal(records_entry_bytes(39), 64);
    assert_true(records_subscribe(r, "*", note, l) >= 0);
    for (int i = 0; i < 20; i++) {
        int rc;

        snprintf(text, sizeof(text), "{\"i\":%02d,\"pad\":\"%022d\"}", i, 0);
        assert_int_equal(strlen(text), 39);
        rc = post_text(r, "event", text);
        if (rc == 0) {
            assert_int_equal(refused, 0); /* no hole: a prefix is kept */
            accepted++;
        } else {
            assert_int_equal(rc, -PQ_EFULL);
            refused++;
        }
    }
    assert_int_equal(accepted, 16);
    assert_int_equal(refused, 4);
    records_stats(r, &st);
    assert_int_equal(st.posted, 16);
    assert_int_equal(st.dropped, 4);
    assert_int_equal(st.too_large, 0);
    assert_int_equal(st.queued, 16);
    assert_int_equal(st.queued_bytes, 1024);
    assert_int_equal(st.peak_bytes, 1024);
    assert_int_equal(records_dispatch(r, 0), 16);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(atoi(l->text[i] + 5), i);
    }
    assert_int_equal(post_text(r, "event", "{\"after\":1}"), 0);
    assert_int_equal(records_dispatch(r, 0), 1);
    assert_string_equal(l->text[16], "{\"after\":1}");
    records_stats(r, &st);
    assert_int_equal(st.posted, 17);
    assert_int_equal(st.delivered, 17);
    assert_int_equal(st.dropped, 4);
    records_free(r);
    test_free(l);
}

/* A record that needs more than the whole ring is refused with -EMSGSIZE
 * and counted apart; one that needs exactly the ring fits an empty ring. */
static void test_records_record_larger_than_ring_is_refused_with_emsgsize(void **state)
{
    struct records *r = new_records(1024);
    struct log *l = log_new();
    struct records_stats st;
    size_t fit = 0;
    char *big = test_malloc(2048);

    (void) state;
    while (records_entry_bytes(fit + 1) <= 1024) {
        fit++;
    }
    memset(big, 'x', 2048);
    big[0] = '{';
    assert_true(records_subscribe(r, "*", note, l) >= 0);
    assert_int_equal(records_post(r, "interval", big, fit + 1), -EMSGSIZE);
    assert_int_equal(records_post(r, "interval", big, 2048), -EMSGSIZE);
    assert_int_equal(records_post(r, "interval", big, fit), 0);
    /* the ring is full now: a small one is dropped, not too large */
    assert_int_equal(post_text(r, "event", "{}"), -PQ_EFULL);
    records_stats(r, &st);
    assert_int_equal(st.too_large, 2);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.posted, 1);
    assert_int_equal(records_dispatch(r, 0), 1);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->len[0], fit);
    records_free(r);
    test_free(l);
    test_free(big);
}

static void test_records_bad_arguments_are_refused(void **state)
{
    struct records *r = new_records(1024);
    struct records *none = NULL;
    struct records_stats st;

    (void) state;
    assert_int_equal(records_new(100, &none), -EINVAL);
    assert_null(none);
    assert_int_equal(records_new(1024, NULL), -EINVAL);
    assert_int_equal(post_text(r, "*", "{}"), -EINVAL);
    assert_int_equal(post_text(r, "", "{}"), -EINVAL);
    assert_int_equal(post_text(r, "a-type-name-too-long", "{}"), -EINVAL);
    assert_int_equal(records_post(r, "event", "{}", 0), -EINVAL);
    assert_int_equal(records_post(r, "event", NULL, 2), -EINVAL);
    assert_int_equal(records_post(NULL, "event", "{}", 2), -EINVAL);
    assert_int_equal(records_subscribe(r, "event", NULL, NULL), -EINVAL);
    assert_int_equal(records_subscribe(r, "", note, NULL), -EINVAL);
    records_unsubscribe(r, 7);  /* unknown: nothing */
    records_unsubscribe(r, -1); /* nothing */
    assert_int_equal(records_dispatch(NULL, 0), 0);
    assert_int_equal(records_fd(NULL), -1);
    records_stats(r, &st);
    assert_int_equal(st.posted + st.dropped + st.too_large, 0);
    records_free(r);
    records_free(NULL);
}

/* A restart unsubscribes and subscribes again: a thousand restarts leave
 * the table at the two live subscriptions, ids stay distinct, and an old id
 * stops nothing. */
static void
test_records_resubscribing_reuses_dead_slots_and_never_reuses_ids(void **state)
{
    struct records *r = new_records(4096);
    struct log *l = log_new();
    struct records_stats st;
    int ev = -1, in = -1, first_ev, prev = -1;

    (void) state;
    first_ev = records_subscribe(r, "event", note, l);
    assert_true(first_ev >= 0);
    records_unsubscribe(r, first_ev);
    for (int i = 0; i < 1000; i++) {
        records_unsubscribe(r, ev);
        records_unsubscribe(r, in);
        ev = records_subscribe(r, "event", note, l);
        in = records_subscribe(r, "interval", note, l);
        assert_true(ev > prev);
        assert_true(in > ev);
        prev = in;
    }
    records_unsubscribe(r, first_ev); /* long gone: stops nothing */
    records_stats(r, &st);
    assert_int_equal(st.subscriptions, 2);
    assert_int_equal(st.sub_slots, 2);
    assert_int_equal(post_text(r, "event", "{\"a\":1}"), 0);
    assert_int_equal(post_text(r, "interval", "{\"b\":2}"), 0);
    assert_int_equal(records_dispatch(r, 0), 2);
    assert_int_equal(l->n, 2); /* each record once: no dead slot called */
    records_free(r);
    test_free(l);
}

/* ---- wrap-around ---- */

struct seqcheck {
    unsigned next;
    unsigned bad;
};

/* Text: "{\"n\":N,\"p\":\"xxx...\"}" of a length that depends on N. */
static size_t make_text(char *buf, size_t cap, unsigned n)
{
    size_t pad = (n * 7919u) % 300u;
    int k = snprintf(buf, cap, "{\"n\":%u,\"p\":\"", n);

    memset(buf + k, 'a' + (char) (n % 26), pad);
    memcpy(buf + (size_t) k + pad, "\"}", 3);
    return (size_t) k + pad + 2;
}

static void check_seq(void *ctx, const char *type, const char *json, size_t len)
{
    struct seqcheck *c = ctx;
    char want[512];

    (void) type;
    if (make_text(want, sizeof(want), c->next) != len || memcmp(want, json, len) != 0) {
        c->bad++;
    }
    c->next++;
}

/* Records of 20..330 bytes through a ring of 1000 bytes (rounded to 1000),
 * posting a few and dispatching some at a time: entries wrap at every
 * position (with a marker, and with too few bytes left for one), and each
 * arrives whole and in order. */
static void test_records_wrap_around_keeps_every_record_whole_and_in_order(void **state)
{
    struct records *r = new_records(1000);
    struct seqcheck c = {0, 0};
    char text[512];
    unsigned posted = 0, dropped = 0;

    (void) state;
    assert_true(records_subscribe(r, "*", check_seq, &c) >= 0);
    for (int round = 0; round < 5000; round++) {
        int burst = 1 + round % 3;

        for (int i = 0; i < burst; i++) {
            size_t len = make_text(text, sizeof(text), posted);
            int rc = records_post(r, "interval", text, len);

            if (rc == -PQ_EFULL) {
                dropped++;
                break; /* the same record again next round */
            }
            assert_int_equal(rc, 0);
            posted++;
        }
        records_dispatch(r, (size_t) (1 + round % 2));
    }
    records_dispatch(r, 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.next, posted);
    assert_true(posted > 5000);
    assert_true(dropped > 0); /* the ring did fill up */
    records_free(r);
}

/* ---- the fd ---- */

static void test_records_fd_is_readable_while_records_are_pending(void **state)
{
    struct records *r = new_records(1024);

    (void) state;
    assert_true(records_fd(r) >= 0);
    assert_false(readable(r));
    assert_int_equal(post_text(r, "event", "{}"), 0);
    assert_true(readable(r));
    assert_int_equal(post_text(r, "event", "{}"), 0);
    assert_int_equal(records_dispatch(r, 0), 2); /* nobody subscribed: taken anyway */
    assert_false(readable(r));
    records_free(r);
}

/* ---- callbacks that change things ---- */

struct reentry {
    struct records *r;
    struct log *log;
    int own_sub;
    int other_sub;
    int calls;
    size_t nested_dispatch;
};

static void unsubscribe_self_and_other(void *ctx, const char *type, const char *json,
                                       size_t len)
{
    struct reentry *x = ctx;

    note(x->log, type, json, len);
    x->calls++;
    records_unsubscribe(x->r, x->own_sub);
    records_unsubscribe(x->r, x->other_sub);
}

/* Unsubscribing inside a callback: the callback's own subscription and one
 * later in the order stop at once, in the middle of a dispatch. */
static void test_records_unsubscribe_inside_callback_stops_at_once(void **state)
{
    struct records *r = new_records(1024);
    struct log *mine = log_new(), *other = log_new(), *all = log_new();
    struct reentry x = {.r = r, .log = mine};

    (void) state;
    assert_true(records_subscribe(r, "*", note, all) >= 0);
    x.own_sub = records_subscribe(r, "*", unsubscribe_self_and_other, &x);
    x.other_sub = records_subscribe(r, "*", note, other);
    assert_true(x.own_sub >= 0 && x.other_sub >= 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(post_text(r, "event", "{}"), 0);
    }
    assert_int_equal(records_dispatch(r, 0), 3);
    assert_int_equal(x.calls, 1);
    assert_int_equal(other->n, 0); /* unsubscribed before its turn */
    assert_int_equal(all->n, 3);
    records_free(r);
    test_free(mine);
    test_free(other);
    test_free(all);
}

static void subscribe_post_dispatch(void *ctx, const char *type, const char *json,
                                    size_t len)
{
    struct reentry *x = ctx;

    (void) type;
    (void) json;
    (void) len;
    if (x->calls++ == 0) {
        x->other_sub = records_subscribe(x->r, "*", note, x->log);
        assert_int_equal(post_text(x->r, "event", "{\"from\":\"callback\"}"), 0);
        x->nested_dispatch = records_dispatch(x->r, 0);
    }
}

/* Inside a callback: a new subscription starts with the next record (not
 * the one being delivered), a posted record waits for the next dispatch,
 * and a nested dispatch does nothing. */
static void test_records_callback_may_subscribe_and_post_for_next_records(void **state)
{
    struct records *r = new_records(1024);
    struct log *late = log_new();
    struct reentry x = {.r = r, .log = late, .other_sub = -1};

    (void) state;
    assert_true(records_subscribe(r, "*", subscribe_post_dispatch, &x) >= 0);
    assert_int_equal(post_text(r, "event", "{\"first\":1}"), 0);
    assert_int_equal(post_text(r, "event", "{\"second\":2}"), 0);
    assert_int_equal(records_dispatch(r, 0), 2); /* the pending two only */
    assert_int_equal(x.nested_dispatch, 0);
    assert_true(x.other_sub >= 0);
    assert_int_equal(late->n, 1);
    assert_string_equal(late->text[0], "{\"second\":2}");
    assert_true(readable(r));
    assert_int_equal(records_dispatch(r, 0), 1);
    assert_int_equal(late->n, 2);
    assert_string_equal(late->text[1], "{\"from\":\"callback\"}");
    records_free(r);
    test_free(late);
}

/* ---- threads ---- */

#define MT_THREADS 4
#define MT_POSTS   20000

struct mt_poster {
    struct records *r;
    int index;
    pthread_t tid;
    unsigned accepted, refused;
    atomic_int *finished;
};

static void *mt_post(void *arg)
{
    struct mt_poster *p = arg;
    char text[96];

    for (unsigned i = 0; i < MT_POSTS; i++) {
        int n = snprintf(text, sizeof(text), "{\"thread\":%d,\"i\":%u,\"pad\":\"%*s\"}",
                         p->index, i, (int) (i % 40), "");
        int rc = records_post(p->r, "event", text, (size_t) n);

        if (rc == 0) {
            p->accepted++;
        } else if (rc == -PQ_EFULL) {
            p->refused++;
            sched_yield(); /* dropped and counted; let the main thread in */
        } else {
            break;
        }
    }
    atomic_fetch_add(p->finished, 1);
    return NULL;
}

/* Per thread: what arrived, and that it arrived in increasing order. */
struct mt_sink {
    unsigned got[MT_THREADS];
    long last[MT_THREADS];
    unsigned bad;
};

static void mt_receive(void *ctx, const char *type, const char *json, size_t len)
{
    struct mt_sink *s = ctx;
    int t = -1;
    long i = -1;

    (void) type;
    if (sscanf(json, "{\"thread\":%d,\"i\":%ld,", &t, &i) != 2 || t < 0 ||
        t >= MT_THREADS || i <= s->last[t] || json[len - 1] != '}') {
        s->bad++;
        return;
    }
    s->last[t] = i;
    s->got[t]++;
}

/* Four threads post into a small ring while the main thread dispatches:
 * every record accepted arrives exactly once, whole, in its thread's order;
 * every refusal is counted. */
static void test_records_four_poster_threads_lose_nothing_uncounted(void **state)
{
    struct records *r = new_records(8192);
    struct mt_poster p[MT_THREADS];
    struct mt_sink sink;
    struct records_stats st;
    struct pollfd pfd = {.fd = records_fd(r), .events = POLLIN};
    atomic_int finished;
    unsigned accepted = 0, refused = 0;

    (void) state;
    atomic_init(&finished, 0);
    memset(&sink, 0, sizeof(sink));
    for (int t = 0; t < MT_THREADS; t++) {
        sink.last[t] = -1;
    }
    assert_true(records_subscribe(r, "event", mt_receive, &sink) >= 0);
    for (int t = 0; t < MT_THREADS; t++) {
        p[t] = (struct mt_poster){.r = r, .index = t, .finished = &finished};
        assert_int_equal(pthread_create(&p[t].tid, NULL, mt_post, &p[t]), 0);
    }
    while (atomic_load(&finished) < MT_THREADS) {
        if (poll(&pfd, 1, 10) > 0) {
            records_dispatch(r, 64);
        }
    }
    for (int t = 0; t < MT_THREADS; t++) {
        assert_int_equal(pthread_join(p[t].tid, NULL), 0);
        accepted += p[t].accepted;
        refused += p[t].refused;
    }
    records_dispatch(r, 0);
    assert_int_equal(sink.bad, 0);
    for (int t = 0; t < MT_THREADS; t++) {
        assert_int_equal(p[t].accepted + p[t].refused, MT_POSTS);
        assert_int_equal(sink.got[t], p[t].accepted);
    }
    records_stats(r, &st);
    assert_int_equal(st.posted, accepted);
    assert_int_equal(st.dropped, refused);
    assert_int_equal(st.delivered, accepted);
    assert_int_equal(st.queued, 0);
    assert_true(st.peak_bytes <= st.cap_bytes);
    assert_false(readable(r));
    records_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_dispatch_delivers_in_post_order_with_type_and_text),
        cmocka_unit_test(test_records_subscription_by_type_gets_that_type_only),
        cmocka_unit_test(test_records_post_copies_exactly_len_bytes),
        cmocka_unit_test(test_records_dispatch_with_max_takes_that_many),
        cmocka_unit_test(test_records_full_ring_drops_newest_and_counts_it),
        cmocka_unit_test(test_records_record_larger_than_ring_is_refused_with_emsgsize),
        cmocka_unit_test(test_records_bad_arguments_are_refused),
        cmocka_unit_test(test_records_wrap_around_keeps_every_record_whole_and_in_order),
        cmocka_unit_test(test_records_fd_is_readable_while_records_are_pending),
        cmocka_unit_test(test_records_unsubscribe_inside_callback_stops_at_once),
        cmocka_unit_test(
            test_records_resubscribing_reuses_dead_slots_and_never_reuses_ids),
        cmocka_unit_test(test_records_callback_may_subscribe_and_post_for_next_records),
        cmocka_unit_test(test_records_four_poster_threads_lose_nothing_uncounted),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
