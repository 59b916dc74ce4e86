/* test_mb_port.c - the Modbus master's port: scheduling, fail fast,
 * backoff and recovery, fairness, the bounded queue and the cache with the
 * scripted fake link; then against real libmodbus servers in-process: RTU
 * on a pty (several unit ids, faults on the line, the silent interval) and
 * TCP on 127.0.0.1 (a silent peer, a peer that resets), and discovery.
 *
 * Times are short (timeouts of 10-50 ms) so every test takes well under a
 * second; timing assertions are lower bounds the protocol demands, or
 * upper bounds several times the expected value.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "drivers/modbus/mb_link_impl.h"
#include "drivers/modbus/mb_port.h"
#include "pq/err.h"
#include "tests/unit/mb_testsrv.h"

#define MS      1000000LL
#define WAIT_MS 3000 /* longest wait for a state; ends as soon as it holds */
#define MAXDEV  8
#define MAXREAD 4

/* ---- a recorder of cycles ------------------------------------------------ */

struct rec {
    pthread_mutex_t lock;
    int cycles[MAXDEV];
    size_t n[MAXDEV];
    int rc[MAXDEV][MAXREAD];
    uint8_t exc[MAXDEV][MAXREAD];
    uint16_t regs[MAXDEV][MAXREAD][4];
    uint8_t bits[MAXDEV][MAXREAD][4];
};

static void on_cycle(void *ctx, int dev, const struct mb_read_result *res, size_t n)
{
    struct rec *r = ctx;

    pthread_mutex_lock(&r->lock);
    r->cycles[dev]++;
    r->n[dev] = n;
    for (size_t i = 0; i < n && i < MAXREAD; i++) {
        r->rc[dev][i] = res[i].rc;
        r->exc[dev][i] = res[i].exception;
        for (int k = 0; k < 4 && k < res[i].read->count; k++) {
            if (res[i].regs) {
                r->regs[dev][i][k] = res[i].regs[k];
            }
            if (res[i].bits) {
                r->bits[dev][i][k] = res[i].bits[k];
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
}

static struct rec *rec_new(void)
{
    struct rec *r = test_calloc(1, sizeof(*r));

    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void rec_free(struct rec *r)
{
    pthread_mutex_destroy(&r->lock);
    test_free(r);
}

static int cycles(struct rec *r, int dev)
{
    int n;

    pthread_mutex_lock(&r->lock);
    n = r->cycles[dev];
    pthread_mutex_unlock(&r->lock);
    return n;
}

static int64_t now_ns(void)
{
    return mb_mono_ns();
}

static void sleep_ms(int ms)
{
    mb_sleep_until(mb_mono_ns() + ms * MS);
}

/* Wait up to ms for expr; fails the test if it never holds. */
#define WAIT_FOR(expr, ms)                              \
    do {                                                \
        int64_t until_ = now_ns() + (int64_t) (ms) *MS; \
        while (!(expr) && now_ns() < until_) {          \
            sleep_ms(1);                                \
        }                                               \
        assert_true(expr);                              \
    } while (0)

static struct mb_health health(struct mb_port *p, int dev)
{
    struct mb_health h;

    assert_int_equal(mb_port_health(p, dev, &h), 0);
    return h;
}

/* ---- the fake link -------------------------------------------------------- */

static const struct mb_read two_reads[] = {
    {.fn = MB_FN_HOLDING, .addr = 0, .count = 4},
    {.fn = MB_FN_INPUT, .addr = 10, .count = 2},
};

static const struct mb_read three_reads[] = {
    {.fn = MB_FN_HOLDING, .addr = 0, .count = 4},
    {.fn = MB_FN_HOLDING, .addr = 100, .count = 2},
    {.fn = MB_FN_COILS, .addr = 0, .count = 4},
};

static struct mb_fake *fake_new(void)
{
    struct mb_fake *f = test_malloc(sizeof(*f));

    mb_fake_init(f);
    for (int u = 0; u < 256; u++) {
        for (int k = 0; k < MB_FAKE_REGS; k++) {
            f->unit[u].regs[k] = (uint16_t) (u * 1000 + k);
        }
    }
    return f;
}

static void fake_free(struct mb_fake *f)
{
    mb_fake_fini(f);
    test_free(f);
}

static struct mb_port_cfg fake_cfg(struct mb_fake *f)
{
    return (struct mb_port_cfg){
        .name = "fake", .kind = MB_PORT_FAKE, .timeout_ns = 10 * MS, .fake = f};
}

static struct mb_dev_cfg dev(int unit, int64_t poll_ns, const struct mb_read *reads,
                             size_t n)
{
    return (struct mb_dev_cfg){
        .name = "dev", .unit = unit, .poll_ns = poll_ns, .reads = reads, .nreads = n};
}

static void test_mb_port_fake_devices_polled_at_interval_with_their_values(void **state)
{
    struct mb_fake *f = fake_new();
    struct rec *r = rec_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[2] = {dev(1, 20 * MS, two_reads, 2),
                              dev(2, 20 * MS, two_reads, 2)};
    struct mb_port *p;
    struct mb_health h;
    int c0, c1;

    (void) state;
    mb_fake_set(f, 1, MB_FAKE_ANSWER, 0, 0);
    mb_fake_set(f, 2, MB_FAKE_ANSWER, 0, 0);
    assert_int_equal(mb_port_start(&pc, d, 2, on_cycle, r, &p), 0);
    sleep_ms(210);
    mb_port_stop(p);
    c0 = r->cycles[0];
    c1 = r->cycles[1];
    /* cycles at 0, 20, ..., 200 ms: 11; fewer only on a loaded machine */
    assert_in_range(c0, 6, 12);
    assert_in_range(c1, 6, 12);
    assert_int_equal(r->rc[1][0], 0);
    assert_int_equal(r->regs[1][0][3], 2003);
    assert_int_equal(r->regs[1][1][1], 2011);
    assert_int_equal(r->regs[0][0][0], 1000);
    (void) h;
    rec_free(r);
    fake_free(f);
}

static void test_mb_port_silent_device_fails_fast_and_others_go_on(void **state)
{
    struct mb_fake *f = fake_new();
    struct rec *r = rec_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[2] = {dev(1, 20 * MS, three_reads, 3),
                              dev(2, 20 * MS, two_reads, 2)};
    struct mb_port *p;
    struct mb_health h0, h1;

    (void) state;
    d[0].retries = 2;
    d[0].backoff_min_ns = 1000 * MS; /* one cycle only within the test */
    mb_fake_set(f, 1, MB_FAKE_ABSENT, 0, 0);
    mb_fake_set(f, 2, MB_FAKE_ANSWER, 0, 0);
    assert_int_equal(mb_port_start(&pc, d, 2, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 1) >= 4, WAIT_MS);
    h0 = health(p, 0);
    h1 = health(p, 1);
    mb_port_stop(p);
    /* first read: 1 + 2 retries, all timed out; the rest never tried */
    assert_int_equal(r->cycles[0], 1);
    assert_int_equal(r->rc[0][0], -ETIMEDOUT);
    assert_int_equal(r->rc[0][1], -ECANCELED);
    assert_int_equal(r->rc[0][2], -ECANCELED);
    assert_int_equal(h0.state, MB_DEV_DOWN);
    assert_int_equal(h0.requests, 3);
    assert_int_equal(h0.timeouts, 3);
    assert_int_equal(h0.good, 0);
    assert_int_equal(h0.last_good_ns, 0);
    assert_int_equal(h0.last_rc, -ETIMEDOUT);
    assert_int_equal(h0.backoff_ns, 1000 * MS);
    /* the other device: every request good, at its interval */
    assert_int_equal(h1.state, MB_DEV_UP);
    assert_int_equal(h1.timeouts, 0);
    assert_true(h1.requests >= 8);
    assert_int_equal(h1.good, h1.requests);
    assert_int_equal(h1.backoff_ns, 0);
    assert_true(h1.last_good_ns > 0);
    rec_free(r);
    fake_free(f);
}

static void test_mb_port_down_device_probe_period_doubles_then_recovers(void **state)
{
    struct mb_fake *f = fake_new();
    struct rec *r = rec_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[1] = {dev(1, 10 * MS, two_reads, 2)};
    struct mb_fake_tx tx[16];
    struct mb_port *p;
    struct mb_health h;
    size_t n;
    int c;

    (void) state;
    pc.timeout_ns = 5 * MS;
    d[0].backoff_min_ns = 30 * MS;
    d[0].backoff_max_ns = 120 * MS;
    mb_fake_set(f, 1, MB_FAKE_ABSENT, 0, 0);
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    /* tries at 0, then after 5 ms timeout + 30, 60, 120, 120 ms of backoff */
    WAIT_FOR(mb_fake_log(f, 0, tx, 16) >= 5, WAIT_MS);
    h = health(p, 0);
    assert_int_equal(h.state, MB_DEV_DOWN);
    n = mb_fake_log(f, 0, tx, 16);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tx[i].unit, 1);
        assert_int_equal(tx[i].addr, 0); /* each probe is the first read only */
    }
    {
        const int64_t want[4] = {30, 60, 120, 120}; /* backoff after each failure, ms */

        for (int i = 0; i < 4; i++) {
            int64_t gap = tx[i + 1].t_ns - tx[i].t_ns;

            /* gap = timeout (5 ms) + backoff; upper bound: +25 ms of wake-up
             * noise, less than the step to the next doubling */
            assert_in_range(gap, (want[i] + 5) * MS, (want[i] + 30) * MS);
        }
    }
    /* it comes back: the first good answer puts it UP at its interval */
    mb_fake_set(f, 1, MB_FAKE_ANSWER, 0, 0);
    WAIT_FOR(health(p, 0).state == MB_DEV_UP, WAIT_MS);
    c = cycles(r, 0);
    sleep_ms(100);
    h = health(p, 0);
    mb_port_stop(p);
    assert_int_equal(h.backoff_ns, 0);
    /* 10 ms interval: about 10 in 100 ms (not one per 120 ms backoff) */
    assert_in_range(r->cycles[0] - c, 5, 12);
    assert_int_equal(r->rc[0][0], 0);
    assert_int_equal(r->rc[0][1], 0);
    rec_free(r);
    fake_free(f);
}

static void test_mb_port_exception_answer_is_refused_and_device_stays_up(void **state)
{
    struct mb_fake *f = fake_new();
    struct rec *r = rec_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[1] = {dev(7, 10 * MS, two_reads, 2)};
    struct mb_port *p;
    struct mb_health h;
    int c;

    (void) state;
    d[0].retries = 3;
    mb_fake_set(f, 7, MB_FAKE_EXCEPTION, 2, 0);
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 2, WAIT_MS);
    h = health(p, 0);
    c = cycles(r, 0);
    mb_port_stop(p);
    /* both reads tried, once each (an answer is not retried), every cycle */
    assert_int_equal(r->rc[0][0], -PQ_EREFUSED);
    assert_int_equal(r->exc[0][0], 2);
    assert_int_equal(r->rc[0][1], -PQ_EREFUSED);
    assert_int_equal(h.state, MB_DEV_UP);
    assert_int_equal(h.timeouts, 0);
    assert_int_equal(h.last_exception, 2);
    assert_int_equal(h.last_rc, -PQ_EREFUSED);
    assert_in_range(h.requests, 2 * (uint64_t) c - 2, 2 * (uint64_t) c + 2);
    assert_int_equal(h.exceptions, h.requests);
    rec_free(r);
    fake_free(f);
}

static void test_mb_port_garbage_answer_is_retried_then_frame_error(void **state)
{
    struct mb_fake *f = fake_new();
    struct rec *r = rec_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[1] = {dev(3, 500 * MS, two_reads, 2)};
    struct mb_port *p;
    struct mb_health h;

    (void) state;
    d[0].retries = 1;
    mb_fake_set(f, 3, MB_FAKE_GARBAGE, 0, 0);
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 1, WAIT_MS);
    h = health(p, 0);
    mb_port_stop(p);
    assert_int_equal(r->rc[0][0], -PQ_EFRAME);
    assert_int_equal(r->rc[0][1], -PQ_EFRAME); /* not fail fast: it is talking */
    assert_int_equal(h.requests, 4);
    assert_int_equal(h.frame_errors, 4);
    assert_int_not_equal(h.state, MB_DEV_DOWN);
    rec_free(r);
    fake_free(f);
}

/* ---- submitted requests --------------------------------------------------- */

struct done_rec {
    pthread_mutex_t lock;
    int calls, rc[MB_PORT_QUEUE + 8];
    uint8_t pdu[MB_PORT_QUEUE + 8][64];
    size_t len[MB_PORT_QUEUE + 8];
};

static void on_done(void *ctx, int rc, const uint8_t *pdu, size_t len)
{
    struct done_rec *d = ctx;

    pthread_mutex_lock(&d->lock);
    if (d->calls < MB_PORT_QUEUE + 8) {
        d->rc[d->calls] = rc;
        d->len[d->calls] = len;
        if (pdu) {
            memcpy(d->pdu[d->calls], pdu, len < 64 ? len : 64);
        }
    }
    d->calls++;
    pthread_mutex_unlock(&d->lock);
}

static int done_calls(struct done_rec *d)
{
    int n;

    pthread_mutex_lock(&d->lock);
    n = d->calls;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static struct done_rec *done_new(void)
{
    struct done_rec *d = test_calloc(1, sizeof(*d));

    pthread_mutex_init(&d->lock, NULL);
    return d;
}

static void done_free(struct done_rec *d)
{
    pthread_mutex_destroy(&d->lock);
    test_free(d);
}

static const uint8_t read3_pdu[5] = {0x03, 0x00, 0x02, 0x00, 0x02}; /* 2 regs from 2 */

static void test_mb_port_submit_gets_at_most_burst_between_poll_transactions(void **state)
{
    struct mb_fake *f = fake_new();
    struct rec *r = rec_new();
    struct done_rec *dr = done_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[1] = {dev(1, 1, two_reads, 2)}; /* always due */
    struct mb_fake_tx *tx = test_malloc(MB_FAKE_LOG * sizeof(*tx));
    struct mb_port *p;
    size_t n;
    int run = 0, maxrun = 0, runs = 0, raws = 0;

    (void) state;
    mb_fake_set(f, 1, MB_FAKE_ANSWER, 0, 1 * MS);
    mb_fake_set(f, 2, MB_FAKE_ANSWER, 0, 1 * MS);
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    sleep_ms(5);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(
            mb_port_submit(p, 2, read3_pdu, sizeof(read3_pdu), 0, on_done, dr), 0);
    }
    WAIT_FOR(done_calls(dr) == 20, WAIT_MS);
    mb_port_stop(p);
    n = mb_fake_log(f, 0, tx, MB_FAKE_LOG);
    for (size_t i = 0; i < n; i++) {
        if (tx[i].raw) {
            raws++;
            run++;
            if (run > maxrun) {
                maxrun = run;
            }
        } else {
            if (run) {
                runs++;
            }
            run = 0;
        }
    }
    assert_int_equal(raws, 20);
    assert_int_equal(maxrun, MB_PORT_BURST);
    assert_true(runs >= 20 / MB_PORT_BURST);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(dr->rc[i], 0);
        assert_int_equal(dr->len[i], 6);
        assert_memory_equal(dr->pdu[i], ((uint8_t[]){0x03, 4, 0x07, 0xD2, 0x07, 0xD3}),
                            6);
    }
    test_free(tx);
    done_free(dr);
    rec_free(r);
    fake_free(f);
}

static void test_mb_port_submit_beyond_queue_is_efull_and_stop_cancels_rest(void **state)
{
    struct mb_fake *f = fake_new();
    struct done_rec *dr = done_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[1] = {dev(1, 1000 * MS, two_reads, 2)};
    struct mb_port *p;
    int64_t t0, stop_ns;
    int cancelled = 0;

    (void) state;
    pc.timeout_ns = 150 * MS;
    mb_fake_set(f, 1, MB_FAKE_ABSENT, 0, 0);
    mb_fake_set(f, 2, MB_FAKE_ANSWER, 0, 0);
    assert_int_equal(mb_port_start(&pc, d, 1, NULL, NULL, &p), 0);
    WAIT_FOR(mb_fake_log(f, 0, (struct mb_fake_tx[1]){0}, 1) == 1, WAIT_MS);
    /* the thread now waits out unit 1's timeout: the queue fills */
    for (int i = 0; i < MB_PORT_QUEUE; i++) {
        assert_int_equal(
            mb_port_submit(p, 2, read3_pdu, sizeof(read3_pdu), 0, on_done, dr), 0);
    }
    assert_int_equal(mb_port_submit(p, 2, read3_pdu, sizeof(read3_pdu), 0, on_done, dr),
                     -PQ_EFULL);
    assert_int_equal(mb_port_submit(p, 2, read3_pdu, 0, 0, on_done, dr), -EINVAL);
    t0 = now_ns();
    mb_port_stop(p);
    stop_ns = now_ns() - t0;
    /* every queued request answered exactly once, served or cancelled */
    assert_int_equal(dr->calls, MB_PORT_QUEUE);
    for (int i = 0; i < MB_PORT_QUEUE; i++) {
        assert_true(dr->rc[i] == 0 || dr->rc[i] == -ECANCELED);
        cancelled += dr->rc[i] == -ECANCELED;
    }
    assert_true(cancelled >= MB_PORT_QUEUE - MB_PORT_BURST - 1);
    /* within the transaction's timeout (150 ms), plus slack for a loaded
     * machine: well below the 64 x 150 ms that serving the queue would take */
    assert_in_range(stop_ns, 0, 500 * MS);
    done_free(dr);
    fake_free(f);
}

static void test_mb_port_submit_to_down_device_is_timeout_without_traffic(void **state)
{
    struct mb_fake *f = fake_new();
    struct done_rec *dr = done_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[1] = {dev(1, 10 * MS, two_reads, 2)};
    struct mb_port *p;
    size_t before;

    (void) state;
    d[0].backoff_min_ns = 1000 * MS;
    mb_fake_set(f, 1, MB_FAKE_ABSENT, 0, 0);
    assert_int_equal(mb_port_start(&pc, d, 1, NULL, NULL, &p), 0);
    WAIT_FOR(health(p, 0).state == MB_DEV_DOWN, WAIT_MS);
    before = f->ntx;
    assert_int_equal(mb_port_submit(p, 1, read3_pdu, sizeof(read3_pdu), 0, on_done, dr),
                     0);
    WAIT_FOR(done_calls(dr) == 1, WAIT_MS);
    mb_port_stop(p);
    assert_int_equal(dr->rc[0], -ETIMEDOUT);
    assert_int_equal(f->ntx, before);
    done_free(dr);
    fake_free(f);
}

/* ---- cache, set_reads, start ---------------------------------------------- */

static void test_mb_port_cached_serves_fresh_answers_and_refuses_old_ones(void **state)
{
    struct mb_fake *f = fake_new();
    struct rec *r = rec_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[1] = {dev(4, 10 * MS, three_reads, 3)};
    struct mb_port *p;
    uint16_t v[4] = {0};

    (void) state;
    d[0].backoff_min_ns = 1000 * MS;
    mb_fake_set(f, 4, MB_FAKE_ANSWER, 0, 0);
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 1, WAIT_MS);
    assert_int_equal(mb_port_cached(p, 4, MB_FN_HOLDING, 1, 3, 1000 * MS, v), 0);
    assert_int_equal(v[0], 4001);
    assert_int_equal(v[2], 4003);
    assert_int_equal(mb_port_cached(p, 4, MB_FN_HOLDING, 100, 2, 1000 * MS, v), 0);
    assert_int_equal(v[1], 4101);
    /* not polled: a gap, another function, another unit */
    assert_int_equal(mb_port_cached(p, 4, MB_FN_HOLDING, 2, 4, 1000 * MS, v),
                     -PQ_ENOTFOUND);
    assert_int_equal(mb_port_cached(p, 4, MB_FN_INPUT, 0, 1, 1000 * MS, v),
                     -PQ_ENOTFOUND);
    assert_int_equal(mb_port_cached(p, 5, MB_FN_HOLDING, 0, 1, 1000 * MS, v),
                     -PQ_ENOTFOUND);
    /* the device stops answering: its values age out */
    mb_fake_set(f, 4, MB_FAKE_ABSENT, 0, 0);
    WAIT_FOR(health(p, 0).state == MB_DEV_DOWN, WAIT_MS);
    sleep_ms(40);
    assert_int_equal(mb_port_cached(p, 4, MB_FN_HOLDING, 0, 1, 30 * MS, v),
                     -PQ_ENOTFOUND);
    assert_int_equal(mb_port_cached(p, 4, MB_FN_HOLDING, 0, 1, 1000 * MS, v), 0);
    mb_port_stop(p);
    rec_free(r);
    fake_free(f);
}

static void
test_mb_port_set_reads_copies_and_starts_polling_a_device_begun_without(void **state)
{
    struct mb_fake *f = fake_new();
    struct rec *r = rec_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_dev_cfg d[1] = {dev(9, 10 * MS, NULL, 0)};
    static const struct mb_read bad[1] = {{.fn = MB_FN_HOLDING, .addr = 0, .count = 126}};
    struct mb_read mine[1] = {{.fn = MB_FN_INPUT, .addr = 10, .count = 2}};
    struct mb_port *p;

    (void) state;
    mb_fake_set(f, 9, MB_FAKE_ANSWER, 0, 0);
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    sleep_ms(30);
    assert_int_equal(f->ntx, 0);
    assert_int_equal(health(p, 0).state, MB_DEV_UNKNOWN);
    assert_int_equal(mb_port_set_reads(p, 0, bad, 1), -EINVAL);
    assert_int_equal(mb_port_set_reads(p, 1, two_reads, 2), -EINVAL);
    assert_int_equal(mb_port_set_reads(p, 0, mine, 1), 0);
    mine[0].addr = 300; /* copied: the caller may reuse its array at once */
    WAIT_FOR(cycles(r, 0) >= 2, WAIT_MS);
    mb_port_stop(p);
    assert_int_equal(r->n[0], 1);
    assert_int_equal(r->regs[0][0][0], 9010);
    rec_free(r);
    fake_free(f);
}

static void test_mb_port_start_rejects_bad_devices_and_reads(void **state)
{
    struct mb_fake *f = fake_new();
    struct mb_port_cfg pc = fake_cfg(f);
    struct mb_port_cfg rtu = {
        .kind = MB_PORT_RTU, .device = "/nonexistent", .baud = 9600};
    static const struct mb_read bits_too_many[1] = {{.fn = MB_FN_COILS, .count = 2001}};
    static const struct mb_read bad_fn[1] = {{.fn = 6, .count = 1}};
    struct mb_dev_cfg d[1] = {dev(1, 10 * MS, two_reads, 2)};
    struct mb_port *p = NULL;

    (void) state;
    d[0].unit = 0;
    assert_int_equal(mb_port_start(&rtu, d, 1, NULL, NULL, &p), -EINVAL); /* RTU unit 0 */
    d[0].unit = 248;
    assert_int_equal(mb_port_start(&rtu, d, 1, NULL, NULL, &p), -EINVAL);
    d[0] = dev(1, 10 * MS, bits_too_many, 1);
    assert_int_equal(mb_port_start(&pc, d, 1, NULL, NULL, &p), -EINVAL);
    d[0] = dev(1, 10 * MS, bad_fn, 1);
    assert_int_equal(mb_port_start(&pc, d, 1, NULL, NULL, &p), -EINVAL);
    d[0] = dev(1, 0, two_reads, 2);
    assert_int_equal(mb_port_start(&pc, d, 1, NULL, NULL, &p), -EINVAL);
    rtu.baud = 300;
    d[0] = dev(1, 10 * MS, two_reads, 2);
    assert_int_equal(mb_port_start(&rtu, d, 1, NULL, NULL, &p), -EINVAL);
    assert_null(p);
    mb_port_stop(NULL);
    fake_free(f);
}

static void test_mb_silent_interval_is_3_5_chars_or_1_75_ms(void **state)
{
    (void) state;
    /* 3.5 x 11 bits: 9600 baud 4.0104 ms, 1200 baud 32.083 ms; >19200: 1.75 ms */
    assert_int_equal(mb_silent_ns(9600), 4010417);
    assert_int_equal(mb_silent_ns(1200), 32083333);
    assert_int_equal(mb_silent_ns(19200), 2005208);
    assert_int_equal(mb_silent_ns(38400), 1750000);
    assert_int_equal(mb_silent_ns(115200), 1750000);
}

static void test_mb_errno_to_rc_keeps_exception_code_and_classes(void **state)
{
    uint8_t exc = 0;

    (void) state;
    assert_int_equal(mb_errno_to_rc(EMBXILADD, &exc), -PQ_EREFUSED);
    assert_int_equal(exc, 2);
    assert_int_equal(mb_errno_to_rc(EMBXGTAR, &exc), -PQ_EREFUSED);
    assert_int_equal(exc, 0x0B);
    assert_int_equal(mb_errno_to_rc(EMBBADCRC, NULL), -PQ_EFRAME);
    assert_int_equal(mb_errno_to_rc(EMBBADDATA, NULL), -PQ_EFRAME);
    assert_int_equal(mb_errno_to_rc(EMBBADEXC, NULL), -PQ_EFRAME);
    assert_int_equal(mb_errno_to_rc(EMBMDATA, NULL), -PQ_EFRAME);
    assert_int_equal(mb_errno_to_rc(ETIMEDOUT, NULL), -ETIMEDOUT);
    assert_int_equal(mb_errno_to_rc(ECONNRESET, NULL), -ECONNRESET);
    /* CRC of "01 03 00 00 00 01" is 0x0A84, sent 84 0A */
    assert_int_equal(mb_crc16((const uint8_t[]){1, 3, 0, 0, 0, 1}, 6), 0x0A84);
}

/* ---- real libmodbus servers: RTU on a pty ---------------------------------- */

static struct mb_port_cfg rtu_cfg(const struct srv *s, int baud)
{
    return (struct mb_port_cfg){.name = "bus1",
                                .kind = MB_PORT_RTU,
                                .device = s->path,
                                .baud = baud,
                                .parity = 'N',
                                .data_bits = 8,
                                .stop_bits = 1,
                                .timeout_ns = 30 * MS};
}

static void test_mb_port_rtu_units_answer_and_silent_unit_costs_only_itself(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct rec *r = rec_new();
    struct mb_port_cfg pc;
    struct mb_dev_cfg d[4];
    struct mb_health h[4];
    struct mb_port *p;

    (void) state;
    assert_int_equal(srv_start_rtu(s), 0);
    for (int u = 1; u <= 3; u++) {
        srv_add_unit(s, u);
    }
    pc = rtu_cfg(s, 19200);
    for (int i = 0; i < 4; i++) {
        d[i] = dev(i < 3 ? i + 1 : 9, 50 * MS, two_reads, 2);
        d[i].retries = 1;
        d[i].backoff_min_ns = 1000 * MS;
    }
    assert_int_equal(mb_port_start(&pc, d, 4, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 3 && cycles(r, 1) >= 3 && cycles(r, 2) >= 3, WAIT_MS);
    for (int i = 0; i < 4; i++) {
        h[i] = health(p, i);
    }
    assert_int_equal(mb_port_link_error(p), 0);
    mb_port_stop(p);
    srv_stop(s);
    assert_int_equal(r->regs[1][0][0], 2000);
    assert_int_equal(r->regs[1][0][3], 2003);
    assert_int_equal(r->regs[2][1][1], 3511); /* input register 11 of unit 3 */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h[i].state, MB_DEV_UP);
        assert_int_equal(h[i].timeouts, 0);
        assert_int_equal(h[i].good, h[i].requests);
        assert_true(h[i].latency_ms_max > 0.0 && h[i].latency_ms_max < 150.0);
        assert_true(h[i].latency_ms_avg <= h[i].latency_ms_max);
    }
    /* unit 9: one cycle, first read 1 + 1 retry, both timed out */
    assert_int_equal(r->cycles[3], 1);
    assert_int_equal(r->rc[3][0], -ETIMEDOUT);
    assert_int_equal(r->rc[3][1], -ECANCELED);
    assert_int_equal(h[3].state, MB_DEV_DOWN);
    assert_int_equal(h[3].requests, 2);
    assert_int_equal(h[3].timeouts, 2);
    assert_int_equal(h[3].good, 0);
    rec_free(r);
    test_free(s);
}

static void test_mb_port_rtu_exception_garbage_and_bad_crc_then_good(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct rec *r = rec_new();
    struct mb_port_cfg pc;
    struct mb_dev_cfg d[3];
    struct mb_health h[3];
    struct mb_port *p;

    (void) state;
    assert_int_equal(srv_start_rtu(s), 0);
    for (int u = 1; u <= 3; u++) {
        srv_add_unit(s, u);
    }
    srv_set(s, 1, SRV_EXCEPTION, 0, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    srv_set(s, 2, SRV_GARBAGE, 1, 0);
    srv_set(s, 3, SRV_BADCRC, 1, 0);
    pc = rtu_cfg(s, 38400);
    for (int i = 0; i < 3; i++) {
        d[i] = dev(i + 1, 40 * MS, two_reads, 2);
    }
    assert_int_equal(mb_port_start(&pc, d, 3, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 3 && cycles(r, 1) >= 3 && cycles(r, 2) >= 3, WAIT_MS);
    for (int i = 0; i < 3; i++) {
        h[i] = health(p, i);
    }
    mb_port_stop(p);
    srv_stop(s);
    assert_int_equal(r->rc[0][0], -PQ_EREFUSED);
    assert_int_equal(r->exc[0][0], 2);
    assert_int_equal(h[0].state, MB_DEV_UP);
    assert_int_equal(h[0].exceptions, h[0].requests);
    /* one broken answer each; the line is cleared and the next is good */
    for (int i = 1; i < 3; i++) {
        assert_int_equal(h[i].frame_errors, 1);
        assert_int_equal(h[i].timeouts, 0);
        assert_int_equal(h[i].good, h[i].requests - 1);
        assert_int_equal(h[i].state, MB_DEV_UP);
        assert_int_equal(r->rc[i][0], 0);
        assert_int_equal(r->regs[i][0][2], (i + 1) * 1000 + 2);
    }
    rec_free(r);
    test_free(s);
}

static void
test_mb_port_rtu_gap_before_each_frame_is_silent_interval_or_turnaround(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct srv_frame *fr = test_malloc(SRV_LOG * sizeof(*fr));
    struct mb_port_cfg pc;
    struct mb_dev_cfg d[2];
    struct mb_port *p;
    int64_t silent = mb_silent_ns(9600), min_gap = INT64_MAX, min_turn = INT64_MAX;
    size_t n;

    (void) state;
    assert_int_equal(srv_start_rtu(s), 0);
    srv_add_unit(s, 1);
    srv_add_unit(s, 2);
    pc = rtu_cfg(s, 9600);
    pc.timeout_ns = 500 * MS;       /* every answer in time: each gets its turnaround */
    d[0] = dev(1, 1, two_reads, 2); /* always due: frames back to back */
    d[1] = dev(2, 1, two_reads, 2);
    d[1].turnaround_ns = 15 * MS;
    assert_int_equal(mb_port_start(&pc, d, 2, NULL, NULL, &p), 0);
    WAIT_FOR(srv_frames(s, fr, SRV_LOG) >= 12, WAIT_MS);
    mb_port_stop(p);
    n = srv_frames(s, fr, SRV_LOG);
    srv_stop(s);
    for (size_t i = 0; i + 1 < n; i++) {
        int64_t gap = fr[i + 1].t_first_ns - fr[i].t_end_ns;

        if (fr[i].unit == 2) {
            min_turn = gap < min_turn ? gap : min_turn;
        } else {
            min_gap = gap < min_gap ? gap : min_gap;
        }
    }
    /* Serial Line V1.02, 2.5.1.1: >= 3.5 characters (4.01 ms at 9600 baud)
     * between the end of an answer and our next request; after unit 2 its
     * 15 ms turnaround.  Exact bounds, no slack: the server stamps an answer
     * before writing it, so we cannot have read it earlier, and it cannot
     * see our next request before we send it. */
    assert_true(min_gap >= silent);
    assert_true(min_turn >= 15 * MS);
    assert_true(min_gap < min_turn); /* the turnaround is unit 2's alone */
    test_free(fr);
    test_free(s);
}

struct found_rec {
    int n, unit[8];
    char vendor[8][64], product[8][64], rev[8][64];
    int has_id[8];
};

static void on_found(void *ctx, int unit, const char *vendor, const char *product,
                     const char *revision)
{
    struct found_rec *f = ctx;

    if (f->n < 8) {
        f->unit[f->n] = unit;
        f->has_id[f->n] = vendor != NULL;
        snprintf(f->vendor[f->n], 64, "%s", vendor ? vendor : "");
        snprintf(f->product[f->n], 64, "%s", product ? product : "");
        snprintf(f->rev[f->n], 64, "%s", revision ? revision : "");
    }
    f->n++;
}

static void test_mb_port_scan_finds_answering_units_and_their_identification(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct found_rec f = {0};
    struct mb_port_cfg pc;

    (void) state;
    assert_int_equal(srv_start_rtu(s), 0);
    srv_add_unit(s, 2);
    srv_add_unit(s, 3);
    srv_add_unit(s, 5);
    srv_set_devid(s, 3);
    srv_set(s, 5, SRV_EXCEPTION, 0, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
    pc = rtu_cfg(s, 19200);
    assert_int_equal(mb_port_scan(&pc, 1, 6, 100 * MS, on_found, &f), 3);
    assert_int_equal(mb_port_scan(&pc, 0, 6, 100 * MS, on_found, &f), -EINVAL);
    srv_stop(s);
    assert_int_equal(f.n, 3);
    assert_int_equal(f.unit[0], 2);
    assert_false(f.has_id[0]);
    assert_int_equal(f.unit[1], 3);
    assert_true(f.has_id[1]);
    assert_string_equal(f.vendor[1], "Acme Meters");
    assert_string_equal(f.product[1], "PM-31");
    assert_string_equal(f.rev[1], "v2.7");
    assert_int_equal(f.unit[2], 5); /* answers with exceptions: it is there */
    assert_false(f.has_id[2]);
    test_free(s);
}

static void test_mb_port_rtu_submit_writes_reads_and_identifies_raw(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct done_rec *dr = done_new();
    static const uint8_t write6[5] = {0x06, 0x00, 0x05, 0x12, 0x34};
    static const uint8_t read5[5] = {0x03, 0x00, 0x05, 0x00, 0x01};
    static const uint8_t devid[4] = {0x2B, 0x0E, 0x01, 0x00};
    static const uint8_t write_bad[5] = {0x06, 0x01, 0x05, 0x00, 0x01}; /* addr 261 */
    struct mb_port_cfg pc;
    struct mb_port *p;

    (void) state;
    assert_int_equal(srv_start_rtu(s), 0);
    srv_add_unit(s, 1);
    srv_set_devid(s, 1);
    pc = rtu_cfg(s, 19200);
    assert_int_equal(mb_port_start(&pc, NULL, 0, NULL, NULL, &p), 0);
    assert_int_equal(mb_port_submit(p, 1, write6, 5, 0, on_done, dr), 0);
    assert_int_equal(mb_port_submit(p, 1, read5, 5, 0, on_done, dr), 0);
    assert_int_equal(mb_port_submit(p, 1, devid, 4, 0, on_done, dr), 0);
    assert_int_equal(mb_port_submit(p, 1, write_bad, 5, 0, on_done, dr), 0);
    assert_int_equal(mb_port_submit(p, 4, read5, 5, 0, on_done, dr), 0); /* absent */
    WAIT_FOR(done_calls(dr) == 5, WAIT_MS);
    mb_port_stop(p);
    srv_stop(s);
    assert_int_equal(dr->rc[0], 0);
    assert_int_equal(dr->len[0], 5);
    assert_memory_equal(dr->pdu[0], write6, 5);
    assert_int_equal(dr->rc[1], 0);
    assert_int_equal(dr->len[1], 4);
    assert_memory_equal(dr->pdu[1], ((uint8_t[]){0x03, 0x02, 0x12, 0x34}), 4);
    assert_int_equal(dr->rc[2], 0);
    assert_memory_equal(dr->pdu[2], ((uint8_t[]){0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 3}),
                        7);
    assert_int_equal(dr->rc[3], 0);
    assert_int_equal(dr->len[3], 2);
    assert_memory_equal(dr->pdu[3], ((uint8_t[]){0x86, 0x02}), 2);
    assert_int_equal(dr->rc[4], -ETIMEDOUT);
    done_free(dr);
    test_free(s);
}

static void test_mb_port_rtu_babbling_line_is_frame_error_then_recovers(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct done_rec *dr = done_new();
    static const uint8_t devid[4] = {0x2B, 0x0E, 0x01, 0x00};
    struct mb_port_cfg pc;
    struct mb_port *p;

    (void) state;
    assert_int_equal(srv_start_rtu(s), 0);
    srv_add_unit(s, 1);
    srv_set_devid(s, 1);
    srv_set(s, 1, SRV_FLOOD, 1, 0);
    pc = rtu_cfg(s, 19200);
    assert_int_equal(mb_port_start(&pc, NULL, 0, NULL, NULL, &p), 0);
    /* 43/14 has no length libmodbus knows, so its answer ends at a silent
     * gap; 400 bytes without one are longer than any ADU (256 bytes,
     * Serial Line V1.02, 2.5.1) */
    assert_int_equal(mb_port_submit(p, 1, devid, 4, 0, on_done, dr), 0);
    WAIT_FOR(done_calls(dr) == 1, WAIT_MS);
    assert_int_equal(mb_port_submit(p, 1, devid, 4, 0, on_done, dr), 0);
    WAIT_FOR(done_calls(dr) == 2, WAIT_MS);
    mb_port_stop(p);
    srv_stop(s);
    assert_int_equal(dr->rc[0], -PQ_EFRAME);
    assert_int_equal(dr->rc[1], 0);
    assert_memory_equal(dr->pdu[1], ((uint8_t[]){0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 3}),
                        7);
    done_free(dr);
    test_free(s);
}

/* ---- real libmodbus servers: TCP on 127.0.0.1 ------------------------------ */

static struct mb_port_cfg tcp_cfg(const struct srv *s)
{
    return (struct mb_port_cfg){.name = "peer",
                                .kind = MB_PORT_TCP,
                                .host = "127.0.0.1",
                                .port = s->port,
                                .timeout_ns = 30 * MS};
}

static void test_mb_port_tcp_silent_peer_does_not_delay_another_port(void **state)
{
    struct srv *a = test_calloc(1, sizeof(*a)), *b = test_calloc(1, sizeof(*b));
    struct rec *ra = rec_new(), *rb = rec_new();
    struct mb_port_cfg pa, pb;
    struct mb_dev_cfg da[1] = {dev(1, 20 * MS, two_reads, 2)};
    struct mb_dev_cfg db[1] = {dev(1, 20 * MS, two_reads, 2)};
    struct mb_port *p, *q;
    struct mb_health ha, hb;
    int during;

    (void) state;
    assert_int_equal(srv_start_tcp(a), 0);
    assert_int_equal(srv_start_tcp(b), 0);
    srv_add_unit(a, 1);
    srv_add_unit(b, 1);
    srv_set(b, 1, SRV_SILENT, 0, 0); /* accepts, reads, never answers */
    pa = tcp_cfg(a);
    pb = tcp_cfg(b);
    pb.timeout_ns = 400 * MS;
    db[0].backoff_min_ns = 10000 * MS; /* no probe within the test */
    assert_int_equal(mb_port_start(&pb, db, 1, on_cycle, rb, &q), 0);
    assert_int_equal(mb_port_start(&pa, da, 1, on_cycle, ra, &p), 0);
    sleep_ms(350);
    during = cycles(ra, 0); /* port b is inside its first timeout */
    WAIT_FOR(health(q, 0).state == MB_DEV_DOWN, WAIT_MS);
    ha = health(p, 0);
    hb = health(q, 0);
    mb_port_stop(p);
    mb_port_stop(q);
    srv_stop(a);
    srv_stop(b);
    /* port a: every 20 ms, 18 cycles in 350 ms (fewer on a loaded machine);
     * waiting on b's 400 ms timeout would have allowed 1 */
    assert_in_range(during, 4, 19);
    assert_int_equal(ha.good, ha.requests);
    assert_int_equal(ha.timeouts, 0);
    assert_int_equal(ra->regs[0][0][1], 1001);
    /* port b: one timeout, then quarantined */
    assert_int_equal(hb.state, MB_DEV_DOWN);
    assert_int_equal(hb.requests, 1);
    assert_int_equal(hb.timeouts, 1);
    assert_int_equal(hb.good, 0);
    assert_int_equal(rb->cycles[0], 1);
    assert_int_equal(rb->rc[0][0], -ETIMEDOUT);
    assert_int_equal(rb->rc[0][1], -ECANCELED);
    /* after the timeout the connection is dropped (a late answer cannot be
     * taken for the next) and not reopened before the next request */
    assert_int_equal(b->connections, 1);
    rec_free(ra);
    rec_free(rb);
    test_free(a);
    test_free(b);
}

static void test_mb_port_tcp_peer_reset_is_reconnected_and_recovers(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct rec *r = rec_new();
    struct mb_port_cfg pc;
    struct mb_dev_cfg d[1] = {dev(1, 20 * MS, two_reads, 2)};
    struct mb_port *p;
    struct mb_health h;

    (void) state;
    assert_int_equal(srv_start_tcp(s), 0);
    srv_add_unit(s, 1);
    srv_set(s, 1, SRV_RESET, 1, 0);
    pc = tcp_cfg(s);
    d[0].backoff_min_ns = 20 * MS;
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 3, WAIT_MS);
    h = health(p, 0);
    assert_int_equal(mb_port_link_error(p), 0);
    mb_port_stop(p);
    srv_stop(s);
    assert_int_equal(h.io_errors, 1);
    assert_int_equal(h.timeouts, 0);
    assert_int_equal(h.state, MB_DEV_UP);
    assert_int_equal(h.good, h.requests - 1);
    assert_int_equal(r->rc[0][0], 0);
    assert_int_equal(r->regs[0][1][0], 1510);
    assert_int_equal(s->connections, 2);
    rec_free(r);
    test_free(s);
}

static void test_mb_port_tcp_refused_peer_reports_link_error_and_goes_down(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct rec *r = rec_new();
    struct mb_port_cfg pc;
    struct mb_dev_cfg d[1] = {dev(1, 20 * MS, two_reads, 2)};
    struct mb_port *p;
    struct mb_health h;

    (void) state;
    assert_int_equal(srv_start_tcp(s), 0); /* a free port, then nobody there */
    pc = tcp_cfg(s);
    srv_stop(s);
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 1, WAIT_MS);
    h = health(p, 0);
    assert_int_equal(mb_port_link_error(p), -ECONNREFUSED);
    mb_port_stop(p);
    assert_int_equal(h.state, MB_DEV_DOWN);
    assert_int_equal(h.io_errors, 1);
    assert_int_equal(r->rc[0][0], -ECONNREFUSED);
    rec_free(r);
    test_free(s);
}

static void test_mb_port_tcp_submit_answers_pdus_and_exceptions(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct done_rec *dr = done_new();
    static const uint8_t devid[4] = {0x2B, 0x0E, 0x01, 0x00};
    struct mb_port_cfg pc;
    struct mb_port *p;
    char id[3][64] = {{0}};
    int more = 1, next = 1;

    (void) state;
    assert_int_equal(srv_start_tcp(s), 0);
    srv_add_unit(s, 1);
    srv_add_unit(s, 2);
    srv_set_devid(s, 1);
    srv_set(s, 2, SRV_EXCEPTION, 0, MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
    pc = tcp_cfg(s);
    assert_int_equal(mb_port_start(&pc, NULL, 0, NULL, NULL, &p), 0);
    assert_int_equal(mb_port_submit(p, 1, read3_pdu, 5, 0, on_done, dr), 0);
    assert_int_equal(mb_port_submit(p, 1, devid, 4, 0, on_done, dr), 0);
    assert_int_equal(mb_port_submit(p, 2, read3_pdu, 5, 0, on_done, dr), 0);
    assert_int_equal(mb_port_submit(p, 1, read3_pdu, 5, 0, on_done, dr), 0);
    WAIT_FOR(done_calls(dr) == 4, WAIT_MS);
    mb_port_stop(p);
    srv_stop(s);
    assert_int_equal(dr->rc[0], 0);
    assert_memory_equal(dr->pdu[0], ((uint8_t[]){0x03, 4, 0x03, 0xEA, 0x03, 0xEB}), 6);
    /* 43/14, framed by its MBAP length since libmodbus cannot frame it */
    assert_int_equal(dr->rc[1], 0);
    assert_int_equal(mb_devid_parse(dr->pdu[1], dr->len[1], id, &more, &next), 0);
    assert_string_equal(id[0], "Acme Meters");
    assert_string_equal(id[2], "v2.7");
    assert_int_equal(more, 0);
    assert_int_equal(dr->rc[2], 0);
    assert_memory_equal(dr->pdu[2], ((uint8_t[]){0x83, 0x06}), 2);
    /* the connection is still in step after both */
    assert_int_equal(dr->rc[3], 0);
    assert_int_equal(dr->len[3], 6);
    assert_memory_equal(dr->pdu[3], dr->pdu[0], 6);
    done_free(dr);
    test_free(s);
}

static void test_mb_port_rtu_broadcast_waits_turnaround_before_next_frame(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct done_rec *dr = done_new();
    struct srv_frame fr[4];
    static const uint8_t write6[5] = {0x06, 0x00, 0x07, 0x00, 0x2A};
    static const uint8_t read7[5] = {0x03, 0x00, 0x07, 0x00, 0x01};
    struct mb_port_cfg pc;
    struct mb_port *p;
    int64_t t_submit;
    size_t n;

    (void) state;
    assert_int_equal(srv_start_rtu(s), 0);
    srv_add_unit(s, 1);
    pc = rtu_cfg(s, 19200);
    /* every answer in time however slow the server thread is scheduled: the
     * timeout is not what this test is about */
    pc.timeout_ns = 500 * MS;
    assert_int_equal(mb_port_start(&pc, NULL, 0, NULL, NULL, &p), 0);
    t_submit = now_ns();
    assert_int_equal(mb_port_submit(p, 0, write6, 5, 0, on_done, dr), 0);
    assert_int_equal(mb_port_submit(p, 1, read7, 5, 0, on_done, dr), 0);
    WAIT_FOR(done_calls(dr) == 2, WAIT_MS);
    mb_port_stop(p);
    n = srv_frames(s, fr, 4);
    srv_stop(s);
    /* a broadcast has no answer (Serial Line V1.02, 2.1): rc 0, no PDU */
    assert_int_equal(dr->rc[0], 0);
    assert_int_equal(dr->len[0], 0);
    assert_int_equal(dr->rc[1], 0);
    assert_int_equal(n, 2);
    assert_int_equal(fr[0].unit, 0);
    /* the next frame waits the broadcast turnaround (100 ms with no device
     * turnaround configured; Serial Line V1.02, 2.4.1).  Exact bound, no
     * slack, whatever the load: the broadcast is written after t_submit and
     * the turnaround runs from the end of that write, and the server cannot
     * see the next request before it is written.  (Comparing with the
     * server's own time of the broadcast is not sound: a server thread woken
     * late shrinks that gap.)  Without the turnaround the next request would
     * follow the broadcast by the 2 ms silent interval. */
    assert_true(fr[1].t_first_ns - t_submit >= 100 * MS);
    assert_true(fr[0].t_first_ns >= t_submit);
    done_free(dr);
    test_free(s);
}

static void test_mb_port_rtu_rts_refused_by_pty_is_reported_and_link_works(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct rec *r = rec_new();
    struct mb_port_cfg pc;
    struct mb_dev_cfg d[1] = {dev(1, 20 * MS, two_reads, 2)};
    struct mb_port *p;
    int err;

    (void) state;
    assert_int_equal(srv_start_rtu(s), 0);
    srv_add_unit(s, 1);
    pc = rtu_cfg(s, 19200);
    pc.rts = MB_RTS_UP;
    pc.rts_delay_ns = 100000;
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 2, WAIT_MS);
    err = mb_port_link_error(p);
    mb_port_stop(p);
    srv_stop(s);
    assert_int_equal(err, -ENOTSUP);
    assert_int_equal(r->rc[0][0], 0);
    assert_int_equal(r->regs[0][0][1], 1001);
    rec_free(r);
    test_free(s);
}

static void test_mb_port_rtu_missing_serial_port_reports_enoent_devices_down(void **state)
{
    struct rec *r = rec_new();
    struct mb_port_cfg pc = {.name = "bus9",
                             .kind = MB_PORT_RTU,
                             .device = "/dev/pqgate-test-no-such-tty",
                             .baud = 9600,
                             .parity = 'E',
                             .timeout_ns = 20 * MS};
    struct mb_dev_cfg d[2] = {dev(1, 20 * MS, two_reads, 2),
                              dev(2, 20 * MS, two_reads, 2)};
    struct mb_port *p;
    struct mb_health h;

    (void) state;
    assert_int_equal(mb_port_start(&pc, d, 2, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 1 && cycles(r, 1) >= 1, WAIT_MS);
    h = health(p, 1);
    assert_int_equal(mb_port_link_error(p), -ENOENT);
    mb_port_stop(p);
    assert_int_equal(r->rc[0][0], -ENOENT);
    assert_int_equal(r->rc[0][1], -ECANCELED);
    assert_int_equal(h.state, MB_DEV_DOWN);
    assert_int_equal(h.io_errors, 1);
    rec_free(r);
}

static void test_mb_port_tcp_first_request_waits_warmup_after_connect(void **state)
{
    struct srv *s = test_calloc(1, sizeof(*s));
    struct rec *r = rec_new();
    struct srv_frame fr[1];
    struct mb_port_cfg pc;
    struct mb_dev_cfg d[1] = {dev(1, 500 * MS, two_reads, 2)};
    struct mb_port *p;
    int64_t t_start;

    (void) state;
    assert_int_equal(srv_start_tcp(s), 0);
    srv_add_unit(s, 1);
    pc = tcp_cfg(s);
    pc.warmup_ns = 60 * MS;
    t_start = now_ns();
    assert_int_equal(mb_port_start(&pc, d, 1, on_cycle, r, &p), 0);
    WAIT_FOR(cycles(r, 0) >= 1, WAIT_MS);
    mb_port_stop(p);
    assert_int_equal(srv_frames(s, fr, 1), 1);
    srv_stop(s);
    /* exact lower bound: the connection is made after the start and the
     * first request waits 60 ms after it (a loopback connect takes well
     * under a millisecond: without the warm-up this would be about 1 ms) */
    assert_true(fr[0].t_first_ns - t_start >= 60 * MS);
    assert_int_equal(r->rc[0][0], 0);
    rec_free(r);
    test_free(s);
}

static void test_mb_devid_parse_reads_objects_and_rejects_truncation(void **state)
{
    static const uint8_t pdu[] = {0x2B, 0x0E, 0x01, 0x01, 0xFF, 0x02, 2,   0x00,
                                  3,    'A',  'c',  'm',  0x01, 2,    'P', '1'};
    char id[3][64] = {{0}};
    int more = 0, next = 0;

    (void) state;
    assert_int_equal(mb_devid_parse(pdu, sizeof(pdu), id, &more, &next), 0);
    assert_string_equal(id[0], "Acm");
    assert_string_equal(id[1], "P1");
    assert_int_equal(more, 1);
    assert_int_equal(next, 2);
    assert_int_equal(mb_devid_parse(pdu, sizeof(pdu) - 1, id, &more, &next), -PQ_EFRAME);
    assert_int_equal(mb_devid_parse(pdu, 5, id, &more, &next), -PQ_EFRAME);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mb_silent_interval_is_3_5_chars_or_1_75_ms),
        cmocka_unit_test(test_mb_errno_to_rc_keeps_exception_code_and_classes),
        cmocka_unit_test(test_mb_devid_parse_reads_objects_and_rejects_truncation),
        cmocka_unit_test(test_mb_port_start_rejects_bad_devices_and_reads),
        cmocka_unit_test(test_mb_port_fake_devices_polled_at_interval_with_their_values),
        cmocka_unit_test(test_mb_port_silent_device_fails_fast_and_others_go_on),
        cmocka_unit_test(test_mb_port_down_device_probe_period_doubles_then_recovers),
        cmocka_unit_test(test_mb_port_exception_answer_is_refused_and_device_stays_up),
        cmocka_unit_test(test_mb_port_garbage_answer_is_retried_then_frame_error),
        cmocka_unit_test(
            test_mb_port_submit_gets_at_most_burst_between_poll_transactions),
        cmocka_unit_test(test_mb_port_submit_beyond_queue_is_efull_and_stop_cancels_rest),
        cmocka_unit_test(test_mb_port_submit_to_down_device_is_timeout_without_traffic),
        cmocka_unit_test(test_mb_port_cached_serves_fresh_answers_and_refuses_old_ones),
        cmocka_unit_test(
            test_mb_port_set_reads_copies_and_starts_polling_a_device_begun_without),
        cmocka_unit_test(test_mb_port_rtu_units_answer_and_silent_unit_costs_only_itself),
        cmocka_unit_test(test_mb_port_rtu_exception_garbage_and_bad_crc_then_good),
        cmocka_unit_test(
            test_mb_port_rtu_gap_before_each_frame_is_silent_interval_or_turnaround),
        cmocka_unit_test(
            test_mb_port_scan_finds_answering_units_and_their_identification),
        cmocka_unit_test(test_mb_port_rtu_submit_writes_reads_and_identifies_raw),
        cmocka_unit_test(test_mb_port_rtu_babbling_line_is_frame_error_then_recovers),
        cmocka_unit_test(test_mb_port_rtu_broadcast_waits_turnaround_before_next_frame),
        cmocka_unit_test(test_mb_port_rtu_rts_refused_by_pty_is_reported_and_link_works),
        cmocka_unit_test(
            test_mb_port_rtu_missing_serial_port_reports_enoent_devices_down),
        cmocka_unit_test(test_mb_port_tcp_first_request_waits_warmup_after_connect),
        cmocka_unit_test(test_mb_port_tcp_silent_peer_does_not_delay_another_port),
        cmocka_unit_test(test_mb_port_tcp_peer_reset_is_reconnected_and_recovers),
        cmocka_unit_test(test_mb_port_tcp_refused_peer_reports_link_error_and_goes_down),
        cmocka_unit_test(test_mb_port_tcp_submit_answers_pdus_and_exceptions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
