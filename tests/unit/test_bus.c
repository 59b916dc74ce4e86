/* test_bus.c - the channel bus: registration, values, subscriptions,
 * dispatch, overflow, the wake-up fd, threads and pattern matching. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gateway/bus.h"
#include "pq/err.h"

#define REC_MAX 2048 /* updates a recorder keeps; it counts all */

#define assert_close(got, want, tol) close_at((got), (want), (tol), __FILE__, __LINE__)

static void close_at(double got, double want, double tol, const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.17g, want %.17g +- %g\n", got, want, tol);
        _fail(file, line);
    }
}

/* A subscriber that writes down what it is given. */
struct rec {
    int n;
    int ch[REC_MAX];
    struct bus_value v[REC_MAX];
};

static void record(void *ctx, int ch, const struct bus_value *v)
{
    struct rec *r = ctx;

    if (r->n < REC_MAX) {
        r->ch[r->n] = ch;
        r->v[r->n] = *v;
    }
    r->n++;
}

static struct rec *rec_new(void)
{
    struct rec *r = test_calloc(1, sizeof(*r));

    assert_non_null(r);
    return r;
}

static int readable(const struct bus *b)
{
    struct pollfd pfd = {.fd = bus_fd(b), .events = POLLIN};
    int rc = poll(&pfd, 1, 0);

    assert_true(rc >= 0);
    return rc == 1 && (pfd.revents & POLLIN);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static struct bus *new_bus(size_t max_channels, size_t queue_cap)
{
    struct bus *b = NULL;

    assert_int_equal(bus_new(max_channels, queue_cap, &b), 0);
    assert_non_null(b);
    return b;
}

/* ---- creation ---- */

static void test_bus_new_with_zero_sizes_is_einval(void **state)
{
    struct bus *b = NULL;

    (void) state;
    assert_int_equal(bus_new(0, 16, &b), -EINVAL);
    assert_int_equal(bus_new(16, 0, &b), -EINVAL);
    assert_int_equal(bus_new(16, 16, NULL), -EINVAL);
    assert_null(b);
    bus_free(NULL);
}

static void test_bus_new_is_empty_and_quiet(void **state)
{
    struct bus *b = new_bus(8, 32);
    struct bus_stats st;

    (void) state;
    bus_stats(b, &st);
    assert_int_equal(st.channels, 0);
    assert_int_equal(st.subscriptions, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.queue_cap, 32);
    assert_int_equal(st.published, 0);
    assert_true(bus_fd(b) >= 0);
    assert_false(readable(b));
    assert_int_equal(bus_dispatch(b, 0), 0);
    bus_free(b);
}

/* ---- registration ---- */

static void test_bus_register_new_names_gives_dense_ids(void **state)
{
    struct bus *b = new_bus(8, 8);

    (void) state;
    assert_int_equal(bus_register(b, "local/u_rms/a", "V"), 0);
    assert_int_equal(bus_register(b, "local/u_rms/b", "V"), 1);
    assert_int_equal(bus_register(b, "bus1.dev7/energy_kwh_del", "kWh"), 2);
    assert_string_equal(bus_name(b, 2), "bus1.dev7/energy_kwh_del");
    assert_string_equal(bus_unit(b, 2), "kWh");
    assert_string_equal(bus_name(b, 0), "local/u_rms/a");
    bus_free(b);
}

static void test_bus_register_same_name_and_unit_returns_same_id(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct bus_stats st;

    (void) state;
    assert_int_equal(bus_register(b, "local/u_rms/a", "V"), 0);
    assert_int_equal(bus_register(b, "local/u_rms/b", "V"), 1);
    assert_int_equal(bus_register(b, "local/u_rms/a", "V"), 0);
    bus_stats(b, &st);
    assert_int_equal(st.channels, 2);
    bus_free(b);
}

static void test_bus_register_same_name_other_unit_is_eexist(void **state)
{
    struct bus *b = new_bus(8, 8);

    (void) state;
    assert_int_equal(bus_register(b, "local/u_rms/a", "V"), 0);
    assert_int_equal(bus_register(b, "local/u_rms/a", "kV"), -PQ_EEXIST);
    assert_int_equal(bus_register(b, "local/u_rms/a", ""), -PQ_EEXIST);
    assert_string_equal(bus_unit(b, 0), "V");
    bus_free(b);
}

static void test_bus_register_null_unit_is_empty_unit(void **state)
{
    struct bus *b = new_bus(8, 8);

    (void) state;
    assert_int_equal(bus_register(b, "pulse/in1", NULL), 0);
    assert_int_equal(bus_register(b, "pulse/in1", ""), 0);
    assert_string_equal(bus_unit(b, 0), "");
    bus_free(b);
}

static void test_bus_register_invalid_name_or_long_unit_is_einval(void **state)
{
    static const char *const bad[] = {
        "", "/a", "a/", "a//b", "a b", "a*", "a?", "a/**", "\xc3\xa4", "a\tb",
    };
    char long_name[BUS_NAME_MAX + 1];
    struct bus *b = new_bus(8, 8);
    struct bus_stats st;

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bus_register(b, bad[i], "V"), -EINVAL);
    }
    assert_int_equal(bus_register(b, NULL, "V"), -EINVAL);
    assert_int_equal(bus_register(NULL, "a", "V"), -EINVAL);
    memset(long_name, 'x', BUS_NAME_MAX);
    long_name[BUS_NAME_MAX] = '\0';
    assert_int_equal(bus_register(b, long_name, "V"), -EINVAL);
    long_name[BUS_NAME_MAX - 1] = '\0'; /* 95 bytes: the longest */
    assert_int_equal(bus_register(b, long_name, "V"), 0);
    assert_int_equal(bus_register(b, "a", "0123456789abcdef"), -EINVAL); /* 16 */
    assert_int_equal(bus_register(b, "a", "0123456789abcde"), 1);        /* 15 */
    bus_stats(b, &st);
    assert_int_equal(st.channels, 2);
    bus_free(b);
}

static void test_bus_register_beyond_max_channels_is_efull(void **state)
{
    struct bus *b = new_bus(2, 8);

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_int_equal(bus_register(b, "b", "V"), 1);
    assert_int_equal(bus_register(b, "c", "V"), -PQ_EFULL);
    assert_int_equal(bus_register(b, "a", "V"), 0); /* a reload still works */
    assert_int_equal(bus_find(b, "c"), -PQ_ENOTFOUND);
    assert_null(bus_name(b, 2));
    bus_free(b);
}

static void test_bus_find_returns_id_or_enotfound(void **state)
{
    struct bus *b = new_bus(8, 8);

    (void) state;
    assert_int_equal(bus_register(b, "local/u_rms/a", "V"), 0);
    assert_int_equal(bus_register(b, "local/u_rms/b", "V"), 1);
    assert_int_equal(bus_find(b, "local/u_rms/b"), 1);
    assert_int_equal(bus_find(b, "local/u_rms/a"), 0);
    assert_int_equal(bus_find(b, "local/u_rms/c"), -PQ_ENOTFOUND);
    assert_int_equal(bus_find(b, "local/u_rms"), -PQ_ENOTFOUND);
    assert_int_equal(bus_find(b, "a//b"), -PQ_ENOTFOUND);
    assert_int_equal(bus_find(b, NULL), -PQ_ENOTFOUND);
    assert_int_equal(bus_find(NULL, "a"), -PQ_ENOTFOUND);
    bus_free(b);
}

static void test_bus_find_among_many_names_returns_each_id(void **state)
{
    enum { N = 3000 };
    struct bus *b = new_bus(N, 8);
    char name[BUS_NAME_MAX];

    (void) state;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "bus%d.dev%d/reg_%d", i % 7, i % 31, i);
        assert_int_equal(bus_register(b, name, "W"), i);
    }
    for (int i = N - 1; i >= 0; i--) {
        snprintf(name, sizeof(name), "bus%d.dev%d/reg_%d", i % 7, i % 31, i);
        assert_int_equal(bus_find(b, name), i);
        assert_string_equal(bus_name(b, i), name);
    }
    assert_int_equal(bus_register(b, "one/more", "W"), -PQ_EFULL);
    bus_free(b);
}

static void test_bus_name_and_unit_of_bad_id_are_null(void **state)
{
    struct bus *b = new_bus(8, 8);

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_null(bus_name(b, -1));
    assert_null(bus_name(b, 1));
    assert_null(bus_unit(b, 1));
    assert_null(bus_unit(b, 8));
    assert_null(bus_name(NULL, 0));
    bus_free(b);
}

/* ---- values ---- */

static void test_bus_get_before_publish_is_invalid_quality(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct bus_value v;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_int_equal(bus_get(b, 0, &v), 0);
    assert_int_equal(v.quality, BUS_Q_INVALID);
    bus_free(b);
}

static void test_bus_publish_then_get_returns_latest_value(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct bus_value v;

    (void) state;
    assert_int_equal(bus_register(b, "local/u_rms/a", "V"), 0);
    assert_int_equal(bus_register(b, "local/u_rms/b", "V"), 1);
    assert_int_equal(bus_publish(b, 0, 230.25, 1000, 0), 0);
    assert_int_equal(bus_publish(b, 1, 229.5, 1001, 0), 0);
    assert_int_equal(bus_publish(b, 0, 231.125, 2000, 0), 0);
    assert_int_equal(bus_get(b, 0, &v), 0);
    assert_close(v.value, 231.125, 1e-12);
    assert_int_equal(v.t_ns, 2000);
    assert_int_equal(v.quality, 0);
    assert_int_equal(bus_get(b, 1, &v), 0);
    assert_close(v.value, 229.5, 1e-12);
    assert_int_equal(v.t_ns, 1001);
    bus_free(b);
}

static void test_bus_publish_keeps_quality_bits(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct rec *r = rec_new();
    const uint32_t q = BUS_Q_FLAGGED | BUS_Q_CLOCK_UNSYNC;
    struct bus_value v;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_true(bus_subscribe(b, "a", record, r) >= 0);
    assert_int_equal(bus_publish(b, 0, 1.0, 1, q), 0);
    assert_int_equal(bus_get(b, 0, &v), 0);
    assert_int_equal(v.quality, q);
    assert_int_equal(bus_publish(b, 0, 2.0, 2, BUS_Q_STALE), 0);
    assert_int_equal(bus_get(b, 0, &v), 0);
    assert_int_equal(v.quality, BUS_Q_STALE);
    assert_int_equal(bus_publish(b, 0, 3.0, 3, 0), 0);
    assert_int_equal(bus_get(b, 0, &v), 0);
    assert_int_equal(v.quality, 0);
    assert_int_equal(bus_dispatch(b, 0), 3);
    assert_int_equal(r->n, 3);
    assert_int_equal(r->v[0].quality, q);
    assert_int_equal(r->v[1].quality, BUS_Q_STALE);
    assert_int_equal(r->v[2].quality, 0);
    test_free(r);
    bus_free(b);
}

static void test_bus_publish_or_get_of_bad_id_is_einval(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct bus_value v;
    struct bus_stats st;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_int_equal(bus_publish(b, 1, 1.0, 1, 0), -EINVAL);
    assert_int_equal(bus_publish(b, -1, 1.0, 1, 0), -EINVAL);
    assert_int_equal(bus_publish(NULL, 0, 1.0, 1, 0), -EINVAL);
    assert_int_equal(bus_get(b, 1, &v), -EINVAL);
    assert_int_equal(bus_get(b, 0, NULL), -EINVAL);
    bus_stats(b, &st);
    assert_int_equal(st.published, 0);
    assert_false(readable(b));
    bus_free(b);
}

static void test_bus_publish_many_with_bad_id_publishes_nothing(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct bus_update u[3] = {
        {.ch = 0, .v = {.value = 1.0, .t_ns = 1}},
        {.ch = 1, .v = {.value = 2.0, .t_ns = 1}},
        {.ch = 7, .v = {.value = 3.0, .t_ns = 1}},
    };
    struct bus_value v;
    struct bus_stats st;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_int_equal(bus_register(b, "b", "V"), 1);
    assert_int_equal(bus_publish_many(b, u, 3), -EINVAL);
    assert_int_equal(bus_get(b, 0, &v), 0);
    assert_int_equal(v.quality, BUS_Q_INVALID);
    bus_stats(b, &st);
    assert_int_equal(st.published, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(bus_publish_many(b, NULL, 1), -EINVAL);
    assert_int_equal(bus_publish_many(b, u, 0), 0);
    assert_int_equal(bus_publish_many(b, u, 2), 0);
    assert_int_equal(bus_get(b, 1, &v), 0);
    assert_close(v.value, 2.0, 0.0);
    bus_stats(b, &st);
    assert_int_equal(st.published, 2);
    assert_int_equal(st.queued, 2);
    bus_free(b);
}

/* ---- subscriptions ---- */

/* Channels used by the pattern tests; ids follow the order. */
static const char *const names[] = {
    "local/u_rms/a",             /* 0 */
    "local/u_rms/b",             /* 1 */
    "local/i_rms/a",             /* 2 */
    "local/u_rms/ab",            /* 3 */
    "bus1.dev7/energy_kwh_del",  /* 4 */
    "bus1.dev17/energy_kwh_del", /* 5 */
    "local",                     /* 6 */
};

#define NNAMES (sizeof(names) / sizeof(names[0]))

/* Subscribe pattern, register the channels (before or after), publish one
 * update on every channel and return the bit set of channels delivered. */
static unsigned delivered_set(const char *pattern, int subscribe_first)
{
    struct bus *b = new_bus(16, 64);
    struct rec *r = rec_new();
    unsigned set = 0;

    if (subscribe_first) {
        assert_true(bus_subscribe(b, pattern, record, r) >= 0);
    }
    for (size_t i = 0; i < NNAMES; i++) {
        assert_int_equal(bus_register(b, names[i], "x"), (int) i);
    }
    if (!subscribe_first) {
        assert_true(bus_subscribe(b, pattern, record, r) >= 0);
    }
    for (size_t i = 0; i < NNAMES; i++) {
        assert_int_equal(bus_publish(b, (int) i, (double) i, 1, 0), 0);
    }
    assert_int_equal(bus_dispatch(b, 0), NNAMES);
    for (int i = 0; i < r->n; i++) {
        assert_false(set & (1u << r->ch[i])); /* once each */
        assert_close(r->v[i].value, (double) r->ch[i], 0.0);
        set |= 1u << r->ch[i];
    }
    test_free(r);
    bus_free(b);
    return set;
}

struct pattern_case {
    const char *pattern;
    unsigned want; /* bit set of names[] */
};

static const struct pattern_case pattern_cases[] = {
    {"local/u_rms/a", 1u << 0},
    {"local/u_rms/*", 1u << 0 | 1u << 1 | 1u << 3},
    {"local/*/a", 1u << 0 | 1u << 2},
    {"local/*", 0},
    {"local*", 1u << 6},
    {"local/**", 0xfu},
    {"local**", 0xfu | 1u << 6},
    {"**/a", 1u << 0 | 1u << 2},
    {"**", 0x7fu},
    {"local/u_rms/?", 1u << 0 | 1u << 1},
    {"local/?_rms/a", 1u << 0 | 1u << 2},
    {"local?u_rms/a", 0},
    {"bus1.dev?/*", 1u << 4},
    {"bus1.dev*/energy_*", 1u << 4 | 1u << 5},
    {"bus1**del", 1u << 4 | 1u << 5},
    {"nothing/here", 0},
};

static void test_bus_subscribe_patterns_match_the_right_channels(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(pattern_cases) / sizeof(pattern_cases[0]); i++) {
        const struct pattern_case *pc = &pattern_cases[i];
        unsigned after = delivered_set(pc->pattern, 0);

        if (after != pc->want) {
            fail_msg("pattern %s: got %#x, want %#x", pc->pattern, after, pc->want);
        }
    }
}

static void test_bus_subscribe_before_register_still_matches(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(pattern_cases) / sizeof(pattern_cases[0]); i++) {
        const struct pattern_case *pc = &pattern_cases[i];
        unsigned before = delivered_set(pc->pattern, 1);

        if (before != pc->want) {
            fail_msg("pattern %s: got %#x, want %#x", pc->pattern, before, pc->want);
        }
    }
}

static void test_bus_subscribe_empty_or_long_pattern_is_einval(void **state)
{
    struct bus *b = new_bus(8, 8);
    char pattern[BUS_NAME_MAX + 1];
    struct bus_stats st;

    (void) state;
    assert_int_equal(bus_subscribe(b, "", record, NULL), -EINVAL);
    assert_int_equal(bus_subscribe(b, NULL, record, NULL), -EINVAL);
    assert_int_equal(bus_subscribe(b, "a", NULL, NULL), -EINVAL);
    assert_int_equal(bus_subscribe(NULL, "a", record, NULL), -EINVAL);
    memset(pattern, '*', BUS_NAME_MAX);
    pattern[BUS_NAME_MAX] = '\0';
    assert_int_equal(bus_subscribe(b, pattern, record, NULL), -EINVAL);
    pattern[BUS_NAME_MAX - 1] = '\0';
    assert_true(bus_subscribe(b, pattern, record, NULL) >= 0);
    bus_stats(b, &st);
    assert_int_equal(st.subscriptions, 1);
    bus_free(b);
}

static void test_bus_several_subscribers_each_get_every_update(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct rec *r1 = rec_new();
    struct rec *r2 = rec_new();
    struct bus_stats st;

    (void) state;
    assert_int_equal(bus_register(b, "a/x", "V"), 0);
    assert_int_equal(bus_subscribe(b, "a/x", record, r1), 0);
    assert_int_equal(bus_subscribe(b, "a/*", record, r2), 1);
    assert_int_equal(bus_subscribe(b, "a/x", record, r2), 2);
    bus_stats(b, &st);
    assert_int_equal(st.subscriptions, 3);
    assert_int_equal(bus_publish(b, 0, 5.0, 1, 0), 0);
    assert_int_equal(bus_dispatch(b, 0), 1);
    assert_int_equal(r1->n, 1);
    assert_int_equal(r2->n, 2); /* one call per subscription */
    test_free(r1);
    test_free(r2);
    bus_free(b);
}

static void test_bus_unsubscribe_stops_calls_and_ignores_bad_ids(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct rec *r = rec_new();
    struct bus_stats st;
    int sub;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    sub = bus_subscribe(b, "a", record, r);
    assert_true(sub >= 0);
    assert_int_equal(bus_publish(b, 0, 1.0, 1, 0), 0);
    bus_unsubscribe(b, sub);
    bus_unsubscribe(b, sub); /* twice is harmless */
    bus_unsubscribe(b, -1);
    bus_unsubscribe(b, 99);
    bus_unsubscribe(NULL, 0);
    assert_int_equal(bus_dispatch(b, 0), 1); /* taken off, nobody called */
    assert_int_equal(r->n, 0);
    bus_stats(b, &st);
    assert_int_equal(st.subscriptions, 0);
    assert_int_equal(bus_subscribe(b, "a", record, r), sub + 1); /* not reused */
    test_free(r);
    bus_free(b);
}

/* A subscriber that unsubscribes itself, or another one, on its first call. */
struct quitter {
    struct bus *b;
    int victim; /* subscription to stop */
    int calls;
};

static void quit_on_first_call(void *ctx, int ch, const struct bus_value *v)
{
    struct quitter *q = ctx;

    (void) ch;
    (void) v;
    if (q->calls++ == 0) {
        bus_unsubscribe(q->b, q->victim);
    }
}

static void test_bus_unsubscribe_inside_callback_stops_calls(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct rec *after = rec_new();
    struct quitter self = {.b = b};

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    self.victim = bus_subscribe(b, "a", quit_on_first_call, &self);
    assert_true(self.victim >= 0);
    assert_true(bus_subscribe(b, "*", record, after) >= 0); /* after it in the list */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bus_publish(b, 0, (double) i, i, 0), 0);
    }
    assert_int_equal(bus_dispatch(b, 0), 3);
    assert_int_equal(self.calls, 1);
    assert_int_equal(after->n, 3); /* the list was not shifted under it */
    for (int i = 0; i < 3; i++) {
        assert_close(after->v[i].value, (double) i, 0.0);
    }
    test_free(after);
    bus_free(b);
}

static void test_bus_unsubscribe_of_next_subscriber_inside_callback_skips_it(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct rec *victim = rec_new();
    struct quitter q = {.b = b};

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_true(bus_subscribe(b, "a", quit_on_first_call, &q) >= 0);
    q.victim = bus_subscribe(b, "a", record, victim);
    assert_true(q.victim >= 0);
    assert_int_equal(bus_publish(b, 0, 1.0, 1, 0), 0);
    assert_int_equal(bus_publish(b, 0, 2.0, 2, 0), 0);
    assert_int_equal(bus_dispatch(b, 0), 2);
    assert_int_equal(q.calls, 2);
    assert_int_equal(victim->n, 0); /* stopped before its first call */
    test_free(victim);
    bus_free(b);
}

/* A subscriber that subscribes more recorders on its first call. */
struct joiner {
    struct bus *b;
    struct rec *r;
    int calls;
};

static void join_on_first_call(void *ctx, int ch, const struct bus_value *v)
{
    struct joiner *j = ctx;

    (void) ch;
    (void) v;
    if (j->calls++ == 0) {
        for (int i = 0; i < 10; i++) { /* grows the channel's list */
            assert_true(bus_subscribe(j->b, "**", record, j->r) >= 0);
        }
    }
}

static void test_bus_subscribe_inside_callback_gets_following_updates(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct joiner j = {.b = b, .r = rec_new()};

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_true(bus_subscribe(b, "a", join_on_first_call, &j) >= 0);
    assert_int_equal(bus_publish(b, 0, 1.0, 1, 0), 0);
    assert_int_equal(bus_publish(b, 0, 2.0, 2, 0), 0);
    assert_int_equal(bus_dispatch(b, 0), 2);
    assert_int_equal(j.calls, 2);
    assert_int_equal(j.r->n, 10); /* the second update, ten times */
    for (int i = 0; i < 10; i++) {
        assert_close(j.r->v[i].value, 2.0, 0.0);
    }
    test_free(j.r);
    bus_free(b);
}

/* A subscriber that publishes to another channel. */
struct relay {
    struct bus *b;
    int to;
    int calls;
};

static void relay_value(void *ctx, int ch, const struct bus_value *v)
{
    struct relay *rl = ctx;

    (void) ch;
    rl->calls++;
    assert_int_equal(bus_publish(rl->b, rl->to, v->value * 2.0, v->t_ns, v->quality), 0);
    assert_int_equal(bus_dispatch(rl->b, 0), 0); /* no nested dispatch */
}

static void test_bus_publish_inside_callback_is_delivered_by_next_dispatch(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct rec *r = rec_new();
    struct relay rl = {.b = b};

    (void) state;
    assert_int_equal(bus_register(b, "in", "V"), 0);
    rl.to = bus_register(b, "out", "V");
    assert_int_equal(rl.to, 1);
    assert_true(bus_subscribe(b, "in", relay_value, &rl) >= 0);
    assert_true(bus_subscribe(b, "out", record, r) >= 0);
    assert_int_equal(bus_publish(b, 0, 21.0, 7, 0), 0);
    assert_int_equal(bus_dispatch(b, 0), 1);
    assert_int_equal(rl.calls, 1);
    assert_int_equal(r->n, 0);
    assert_true(readable(b));
    assert_int_equal(bus_dispatch(b, 0), 1);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->ch[0], 1);
    assert_close(r->v[0].value, 42.0, 0.0);
    assert_int_equal(r->v[0].t_ns, 7);
    assert_false(readable(b));
    test_free(r);
    bus_free(b);
}

static void test_bus_dispatch_all_stops_at_updates_pending_when_called(void **state)
{
    struct bus *b = new_bus(8, 8);
    struct relay rl = {.b = b, .to = 0}; /* feeds itself */

    (void) state;
    assert_int_equal(bus_register(b, "loop", "V"), 0);
    assert_true(bus_subscribe(b, "loop", relay_value, &rl) >= 0);
    assert_int_equal(bus_publish(b, 0, 1.0, 1, 0), 0);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(bus_dispatch(b, 0), 1);
        assert_int_equal(rl.calls, i);
        assert_true(readable(b));
    }
    bus_free(b);
}

/* ---- dispatch and the queue ---- */

static void test_bus_dispatch_order_equals_publish_order(void **state)
{
    enum { N = 1000 }; /* several internal batches */
    struct bus *b = new_bus(4, N);
    struct rec *r = rec_new();
    struct bus_update u[3];

    (void) state;
    for (int c = 0; c < 4; c++) {
        char name[16];

        snprintf(name, sizeof(name), "ch/%d", c);
        assert_int_equal(bus_register(b, name, "V"), c);
    }
    assert_true(bus_subscribe(b, "ch/*", record, r) >= 0);
    for (int i = 0; i < N - 3; i++) {
        assert_int_equal(bus_publish(b, (i * 7) % 4, (double) i, i, 0), 0);
    }
    for (int i = 0; i < 3; i++) {
        u[i].ch = (N - 3 + i) * 7 % 4;
        u[i].v.value = (double) (N - 3 + i);
        u[i].v.t_ns = N - 3 + i;
        u[i].v.quality = 0;
    }
    assert_int_equal(bus_publish_many(b, u, 3), 0);
    assert_int_equal(bus_dispatch(b, 0), N);
    assert_int_equal(r->n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r->ch[i], (i * 7) % 4);
        assert_close(r->v[i].value, (double) i, 0.0);
        assert_int_equal(r->v[i].t_ns, i);
    }
    test_free(r);
    bus_free(b);
}

static void test_bus_dispatch_order_survives_ring_wrap(void **state)
{
    struct bus *b = new_bus(1, 8);
    struct rec *r = rec_new();
    int next = 0;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_true(bus_subscribe(b, "a", record, r) >= 0);
    for (int round = 0; round < 20; round++) {
        int k = 1 + round % 8; /* 1..8 per round, head walks round the ring */

        for (int i = 0; i < k; i++) {
            assert_int_equal(bus_publish(b, 0, (double) (next + i), 0, 0), 0);
        }
        assert_int_equal(bus_dispatch(b, round % 3 == 0 ? 0 : (size_t) k), k);
        next += k;
    }
    assert_int_equal(r->n, next);
    for (int i = 0; i < next; i++) {
        assert_close(r->v[i].value, (double) i, 0.0);
    }
    test_free(r);
    bus_free(b);
}

static void test_bus_queue_overflow_counts_dropped_and_keeps_latest(void **state)
{
    struct bus *b = new_bus(4, 3);
    struct rec *r = rec_new();
    struct bus_value v;
    struct bus_stats st;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_true(bus_subscribe(b, "a", record, r) >= 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(bus_publish(b, 0, (double) i, i, 0), 0);
    }
    assert_int_equal(bus_publish(b, 0, 4.0, 4, 0), -PQ_EFULL);
    assert_int_equal(bus_publish(b, 0, 5.0, 5, BUS_Q_STALE), -PQ_EFULL);
    bus_stats(b, &st);
    assert_int_equal(st.published, 5);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.queued, 3);
    assert_int_equal(bus_get(b, 0, &v), 0);
    assert_close(v.value, 5.0, 0.0);
    assert_int_equal(v.t_ns, 5);
    assert_int_equal(v.quality, BUS_Q_STALE);
    assert_int_equal(bus_dispatch(b, 0), 4);
    assert_int_equal(r->n, 4); /* the oldest three (drop newest), then the latest */
    for (int i = 0; i < 3; i++) {
        assert_close(r->v[i].value, (double) (i + 1), 0.0);
    }
    assert_close(r->v[3].value, 5.0, 0.0);
    assert_int_equal(r->v[3].t_ns, 5);
    assert_int_equal(r->v[3].quality, BUS_Q_STALE);
    bus_stats(b, &st);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.resent, 1);
    assert_int_equal(st.queued, 0);
    assert_int_equal(bus_dispatch(b, 0), 0);           /* re-sent once only */
    assert_int_equal(bus_publish(b, 0, 6.0, 6, 0), 0); /* room again */
    test_free(r);
    bus_free(b);
}

static void test_bus_dropped_channel_later_queued_is_not_resent_twice(void **state)
{
    struct bus *b = new_bus(4, 2);
    struct rec *r = rec_new();
    struct bus_stats st;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_true(bus_subscribe(b, "a", record, r) >= 0);
    assert_int_equal(bus_publish(b, 0, 1.0, 1, 0), 0);
    assert_int_equal(bus_publish(b, 0, 2.0, 2, 0), 0);
    assert_int_equal(bus_publish(b, 0, 3.0, 3, 0), -PQ_EFULL); /* lost */
    assert_int_equal(bus_dispatch(b, 1), 1);                   /* room for one */
    assert_int_equal(bus_publish(b, 0, 4.0, 4, 0), 0);         /* carries the latest */
    assert_int_equal(bus_dispatch(b, 0), 2);
    assert_int_equal(r->n, 3);
    assert_close(r->v[0].value, 1.0, 0.0);
    assert_close(r->v[1].value, 2.0, 0.0);
    assert_close(r->v[2].value, 4.0, 0.0);
    bus_stats(b, &st);
    assert_int_equal(st.resent, 0);
    for (int i = 0; i < 50;
         i++) { /* drop and queue again and again: list stays bounded */
        (void) bus_publish(b, 0, 10.0 + i, 10 + i, 0);
        if (i % 3 == 0) {
            bus_dispatch(b, 1);
        }
    }
    while (bus_dispatch(b, 0) > 0) {
    }
    assert_close(r->v[r->n - 1].value, 59.0, 0.0);
    test_free(r);
    bus_free(b);
}

static void test_bus_publish_many_overflow_is_efull_and_stores_all(void **state)
{
    struct bus *b = new_bus(8, 4);
    struct bus_update u[6];
    struct bus_value v;
    struct bus_stats st;

    (void) state;
    for (int i = 0; i < 6; i++) {
        char name[16];

        snprintf(name, sizeof(name), "m/%d", i);
        assert_int_equal(bus_register(b, name, "A"), i);
        u[i].ch = i;
        u[i].v.value = 10.0 + i;
        u[i].v.t_ns = 100;
        u[i].v.quality = 0;
    }
    assert_int_equal(bus_publish_many(b, u, 6), -PQ_EFULL);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(bus_get(b, i, &v), 0);
        assert_close(v.value, 10.0 + i, 0.0);
    }
    bus_stats(b, &st);
    assert_int_equal(st.published, 6);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.queued, 4);
    bus_free(b);
}

static void test_bus_fd_is_readable_iff_updates_pending(void **state)
{
    struct bus *b = new_bus(8, 8);

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_false(readable(b));
    assert_int_equal(bus_publish(b, 0, 1.0, 1, 0), 0);
    assert_true(readable(b));
    assert_int_equal(bus_publish(b, 0, 2.0, 2, 0), 0);
    assert_true(readable(b));
    assert_int_equal(bus_dispatch(b, 0), 2);
    assert_false(readable(b));
    assert_int_equal(bus_dispatch(b, 0), 0);
    assert_false(readable(b));
    for (int i = 0; i < 10; i++) { /* 8 queued, 2 dropped */
        (void) bus_publish(b, 0, (double) i, i, 0);
    }
    assert_true(readable(b));
    assert_int_equal(bus_dispatch(b, 0), 9); /* 8, then the latest re-sent */
    assert_false(readable(b));
    bus_free(b);
}

static void test_bus_dispatch_with_max_leaves_rest_pending_and_signalled(void **state)
{
    struct bus *b = new_bus(8, 16);
    struct rec *r = rec_new();
    struct bus_stats st;

    (void) state;
    assert_int_equal(bus_register(b, "a", "V"), 0);
    assert_true(bus_subscribe(b, "a", record, r) >= 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(bus_publish(b, 0, (double) i, i, 0), 0);
    }
    assert_int_equal(bus_dispatch(b, 4), 4);
    assert_int_equal(r->n, 4);
    assert_close(r->v[3].value, 3.0, 0.0);
    bus_stats(b, &st);
    assert_int_equal(st.queued, 6);
    assert_int_equal(st.delivered, 4);
    assert_true(readable(b));
    assert_int_equal(bus_dispatch(b, 100), 6);
    assert_int_equal(r->n, 10);
    assert_close(r->v[9].value, 9.0, 0.0);
    assert_false(readable(b));
    test_free(r);
    bus_free(b);
}

/* ---- threads ---- */

#define MT_THREADS 4
#define MT_UPDATES 100000

struct mt {
    struct bus *b;
    atomic_int finished;
};

struct mt_publisher {
    struct mt *mt;
    int index;
    pthread_t tid;
};

/* Registers its own channel, so registration races subscription too. */
static void *mt_publish(void *arg)
{
    struct mt_publisher *p = arg;
    char name[32];
    int ch;

    snprintf(name, sizeof(name), "mt/p%d", p->index);
    ch = bus_register(p->mt->b, name, "n");
    if (ch >= 0) {
        for (int i = 0; i < MT_UPDATES; i++) {
            int rc = bus_publish(p->mt->b, ch, (double) i, i, 0);

            if (rc == -PQ_EFULL) {
                sched_yield(); /* dropped and counted; let the main thread in */
            } else if (rc != 0) {
                break;
            }
        }
    }
    atomic_fetch_add(&p->mt->finished, 1);
    return NULL;
}

/* Checks each channel's values arrive in increasing order. */
struct mt_sink {
    uint64_t got;
    uint64_t out_of_order;
    double last[MT_THREADS + 1];
};

static void mt_receive(void *ctx, int ch, const struct bus_value *v)
{
    struct mt_sink *s = ctx;

    s->got++;
    if (ch < 0 || ch > MT_THREADS || !(v->value > s->last[ch])) {
        s->out_of_order++;
        return;
    }
    s->last[ch] = v->value;
}

static void sink_init(struct mt_sink *s)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i <= MT_THREADS; i++) {
        s->last[i] = -1.0;
    }
}

static void test_bus_four_publisher_threads_lose_nothing_uncounted(void **state)
{
    struct mt mt = {.b = new_bus(MT_THREADS + 1, 1024)};
    struct mt_publisher pub[MT_THREADS];
    struct mt_sink early;
    struct mt_sink late;
    struct pollfd pfd = {.fd = bus_fd(mt.b), .events = POLLIN};
    struct bus_stats st;
    struct bus_value v;
    int late_sub = -1;

    (void) state;
    sink_init(&early);
    sink_init(&late);
    atomic_init(&mt.finished, 0);
    assert_int_equal(bus_register(mt.b, "other", "n"), 0); /* never published */
    assert_true(bus_subscribe(mt.b, "mt/*", mt_receive, &early) >= 0);
    for (int i = 0; i < MT_THREADS; i++) {
        pub[i].mt = &mt;
        pub[i].index = i;
        assert_int_equal(pthread_create(&pub[i].tid, NULL, mt_publish, &pub[i]), 0);
    }
    while (atomic_load(&mt.finished) < MT_THREADS) {
        assert_true(poll(&pfd, 1, 10) >= 0);
        bus_dispatch(mt.b, 0);
        if (late_sub < 0) { /* while threads are registering */
            late_sub = bus_subscribe(mt.b, "mt/**", mt_receive, &late);
            assert_true(late_sub >= 0);
        }
    }
    for (int i = 0; i < MT_THREADS; i++) {
        assert_int_equal(pthread_join(pub[i].tid, NULL), 0);
    }
    while (bus_dispatch(mt.b, 0) > 0) {
    }
    assert_false(readable(mt.b));
    bus_stats(mt.b, &st);
    assert_int_equal(st.channels, MT_THREADS + 1);
    assert_int_equal(st.published, (uint64_t) MT_THREADS * MT_UPDATES);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.delivered + st.resent, early.got);
    assert_true(st.resent <= st.dropped);
    assert_int_equal(early.out_of_order, 0);
    assert_int_equal(late.out_of_order, 0); /* no update twice either */
    assert_true(late.got <= early.got);
    for (int ch = 1; ch <= MT_THREADS; ch++) {
        assert_int_equal(bus_get(mt.b, ch, &v), 0);
        assert_close(v.value, MT_UPDATES - 1, 0.0);
        /* however much was dropped, every subscriber ends on the latest */
        assert_close(early.last[ch], MT_UPDATES - 1, 0.0);
        assert_close(late.last[ch], MT_UPDATES - 1, 0.0);
    }
    print_message("# %llu delivered, %llu dropped, %llu re-sent\n",
                  (unsigned long long) st.delivered, (unsigned long long) st.dropped,
                  (unsigned long long) st.resent);
    bus_free(mt.b);
}

/* ---- names and patterns ---- */

static void test_bus_name_valid_accepts_only_clean_segments(void **state)
{
    static const char *const good[] = {
        "a", "local/u_rms/a", "bus1.dev7/energy_kwh_del", "A-Z_0.9/x", "a/b/c/d/e",
    };
    static const char *const bad[] = {
        "", "/", "/a", "a/", "a//b", "a b", "a*", "a?", "a+b", "a\\b", "\xc3\xa4", "a\nb",
    };
    char s[BUS_NAME_MAX + 1];

    (void) state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(bus_name_valid(good[i]));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(bus_name_valid(bad[i]));
    }
    assert_false(bus_name_valid(NULL));
    memset(s, 'n', sizeof(s));
    s[BUS_NAME_MAX] = '\0';
    assert_false(bus_name_valid(s)); /* 96 bytes */
    s[BUS_NAME_MAX - 1] = '\0';
    assert_true(bus_name_valid(s)); /* 95 */
    s[BUS_NAME_MAX - 2] = '/';
    assert_false(bus_name_valid(s));
}

struct match_case {
    const char *pattern;
    const char *name;
    int want;
};

static void test_bus_match_follows_segment_rules(void **state)
{
    static const struct match_case cases[] = {
        {"local/u_rms/a", "local/u_rms/a", 1},
        {"local/u_rms/a", "local/u_rms/b", 0},
        {"local/u_rms/a", "local/u_rms/a/x", 0},
        {"local/u_rms/a/x", "local/u_rms/a", 0},
        {"local/*/a", "local/u_rms/a", 1},
        {"local/*", "local/u_rms/a", 0},
        {"local/*/*", "local/u_rms/a", 1},
        {"local/**", "local/u_rms/a", 1},
        {"**", "x", 1},
        {"**/a", "local/u_rms/a", 1},
        {"*/a", "local/u_rms/a", 0},
        {"*", "abc", 1},
        {"*", "a/b", 0},
        {"***", "a/b", 1},
        {"a*", "a", 1},
        {"*a", "a", 1},
        {"a**", "a", 1},
        {"local/u_*/a", "local/u_rms/a", 1},
        {"local/*rms*/a", "local/u_rms/a", 1},
        {"local/*/?", "local/u_rms/a", 1},
        {"local/*/?", "local/u_rms/ab", 0},
        {"local?u_rms/a", "local/u_rms/a", 0},
        {"?", "", 0},
        {"", "a", 0},
        {"a/**/b", "a/x/y/b", 1},
        {"a/**/b", "a/b", 0}, /* '**' is a run of characters, not of segments */
        {"a/**b", "a/b", 1},
        {"**x*y", "a/x/b/y", 0}, /* '*' cannot take back the '/' that '**' gave up */
        {"**x*y", "a/x/b/xzy", 1},
        {"*x**y", "ax/b/y", 1},
        {"*x**y", "a/x/b/y", 0},
        {"bus?.dev*/energy_*", "bus1.dev7/energy_kwh_del", 1},
        {"bus1**del", "bus1.dev7/energy_kwh_del", 1},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (bus_match(cases[i].pattern, cases[i].name) != cases[i].want) {
            fail_msg("bus_match(\"%s\", \"%s\") != %d", cases[i].pattern, cases[i].name,
                     cases[i].want);
        }
    }
    assert_false(bus_match(NULL, "a"));
    assert_false(bus_match("a", NULL));
}

static void test_bus_match_pathological_pattern_is_fast_and_correct(void **state)
{
    static const char *const patterns[] = {
        "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
        "**a**a**a**a**a**a**a**a**a**a**a**a**a**a**b",
        "*a**a*a**a*a**a*a**a*a**a*a**a*a**a*b",
        "?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*b",
    };
    char no[BUS_NAME_MAX];
    char yes[BUS_NAME_MAX];
    double t0;
    double dt;

    (void) state;
    memset(no, 'a', BUS_NAME_MAX - 1);
    no[BUS_NAME_MAX - 1] = '\0';
    memcpy(yes, no, sizeof(yes));
    yes[BUS_NAME_MAX - 2] = 'b';
    t0 = now_s();
    for (int rep = 0; rep < 100; rep++) {
        for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
            assert_false(bus_match(patterns[i], no));
            assert_true(bus_match(patterns[i], yes));
        }
    }
    dt = now_s() - t0;
    /* 800 matches of 95 bytes take microseconds each; a backtracking
     * matcher would take longer than the age of the universe. */
    assert_true(dt < 2.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_new_with_zero_sizes_is_einval),
        cmocka_unit_test(test_bus_new_is_empty_and_quiet),
        cmocka_unit_test(test_bus_register_new_names_gives_dense_ids),
        cmocka_unit_test(test_bus_register_same_name_and_unit_returns_same_id),
        cmocka_unit_test(test_bus_register_same_name_other_unit_is_eexist),
        cmocka_unit_test(test_bus_register_null_unit_is_empty_unit),
        cmocka_unit_test(test_bus_register_invalid_name_or_long_unit_is_einval),
        cmocka_unit_test(test_bus_register_beyond_max_channels_is_efull),
        cmocka_unit_test(test_bus_find_returns_id_or_enotfound),
        cmocka_unit_test(test_bus_find_among_many_names_returns_each_id),
        cmocka_unit_test(test_bus_name_and_unit_of_bad_id_are_null),
        cmocka_unit_test(test_bus_get_before_publish_is_invalid_quality),
        cmocka_unit_test(test_bus_publish_then_get_returns_latest_value),
        cmocka_unit_test(test_bus_publish_keeps_quality_bits),
        cmocka_unit_test(test_bus_publish_or_get_of_bad_id_is_einval),
        cmocka_unit_test(test_bus_publish_many_with_bad_id_publishes_nothing),
        cmocka_unit_test(test_bus_subscribe_patterns_match_the_right_channels),
        cmocka_unit_test(test_bus_subscribe_before_register_still_matches),
        cmocka_unit_test(test_bus_subscribe_empty_or_long_pattern_is_einval),
        cmocka_unit_test(test_bus_several_subscribers_each_get_every_update),
        cmocka_unit_test(test_bus_unsubscribe_stops_calls_and_ignores_bad_ids),
        cmocka_unit_test(test_bus_unsubscribe_inside_callback_stops_calls),
        cmocka_unit_test(
            test_bus_unsubscribe_of_next_subscriber_inside_callback_skips_it),
        cmocka_unit_test(test_bus_subscribe_inside_callback_gets_following_updates),
        cmocka_unit_test(test_bus_publish_inside_callback_is_delivered_by_next_dispatch),
        cmocka_unit_test(test_bus_dispatch_all_stops_at_updates_pending_when_called),
        cmocka_unit_test(test_bus_dispatch_order_equals_publish_order),
        cmocka_unit_test(test_bus_dispatch_order_survives_ring_wrap),
        cmocka_unit_test(test_bus_queue_overflow_counts_dropped_and_keeps_latest),
        cmocka_unit_test(test_bus_dropped_channel_later_queued_is_not_resent_twice),
        cmocka_unit_test(test_bus_publish_many_overflow_is_efull_and_stores_all),
        cmocka_unit_test(test_bus_fd_is_readable_iff_updates_pending),
        cmocka_unit_test(test_bus_dispatch_with_max_leaves_rest_pending_and_signalled),
        cmocka_unit_test(test_bus_four_publisher_threads_lose_nothing_uncounted),
        cmocka_unit_test(test_bus_name_valid_accepts_only_clean_segments),
        cmocka_unit_test(test_bus_match_follows_segment_rules),
        cmocka_unit_test(test_bus_match_pathological_pattern_is_fast_and_correct),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
