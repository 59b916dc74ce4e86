/* bench_records.c - record channel throughput: post and dispatch of 10-min
 * interval records and of event records, and poster threads against a
 * dispatching main loop.
 *
 * Prints one line per figure and exits 0; each figure runs for a fixed time
 * (about 1 s in all), so a slow machine gives smaller numbers, not a
 * failure.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/metrology.h"
#include "gateway/records.h"
#include "pq/err.h"

#define RING_BYTES   (8 * METROLOGY_RECORD_MAX) /* the daemon's ring */
#define INTERVAL_LEN 7100 /* a three-phase 10-min record (docs/mqtt.md) */
#define EVENT_LEN    430  /* an event record */
#define RUN_S        0.25 /* wall seconds per single-thread figure */
#define THREADS      3
#define THREAD_RUN   0.5

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static struct records *bench_records(void)
{
    struct records *r;
    int rc = records_new(RING_BYTES, &r);

    if (rc < 0) {
        fprintf(stderr, "bench_records: records_new: %s\n", pq_strerror(rc));
        exit(1);
    }
    return r;
}

/* A subscriber that touches every byte, as a consumer copying it would. */
static void sum_bytes(void *ctx, const char *type, const char *json, size_t len)
{
    uint64_t *sum = ctx;

    (void) type;
    for (size_t i = 0; i < len; i++) {
        *sum += (unsigned char) json[i];
    }
}

static char *text_of(size_t len)
{
    char *t = malloc(len);

    if (!t) {
        exit(1);
    }
    memset(t, '1', len);
    t[0] = '{';
    t[len - 1] = '}';
    return t;
}

/* Post burst records, dispatch them, again, for RUN_S. */
static void single_thread(const char *what, size_t len, int burst)
{
    struct records *r = bench_records();
    char *text = text_of(len);
    uint64_t sum = 0, n = 0;
    double t0 = now_s(), dt;

    records_subscribe(r, "*", sum_bytes, &sum);
    do {
        for (int i = 0; i < burst; i++) {
            if (records_post(r, "interval", text, len) == 0) {
                n++;
            }
        }
        records_dispatch(r, 0);
    } while ((dt = now_s() - t0) < RUN_S);
    printf("records: %-34s %10.0f records/s %8.1f MB/s (bursts of %d)\n", what,
           (double) n / dt, (double) n * (double) len / dt / 1e6, burst);
    free(text);
    records_free(r);
}

struct poster {
    struct records *r;
    const char *text;
    size_t len;
    atomic_int *stop;
    uint64_t ok, full;
    pthread_t tid;
};

static void *post_loop(void *arg)
{
    struct poster *p = arg;

    while (!atomic_load(p->stop)) {
        if (records_post(p->r, "event", p->text, p->len) == 0) {
            p->ok++;
        } else {
            p->full++;
            sched_yield();
        }
    }
    return NULL;
}

static void threads(void)
{
    struct records *r = bench_records();
    char *text = text_of(EVENT_LEN);
    struct poster p[THREADS];
    struct pollfd pfd = {.fd = records_fd(r), .events = POLLIN};
    struct records_stats st;
    atomic_int stop;
    uint64_t sum = 0, ok = 0, full = 0;
    double t0, dt;

    atomic_init(&stop, 0);
    records_subscribe(r, "*", sum_bytes, &sum);
    t0 = now_s();
    for (int i = 0; i < THREADS; i++) {
        p[i] = (struct poster){.r = r, .text = text, .len = EVENT_LEN, .stop = &stop};
        if (pthread_create(&p[i].tid, NULL, post_loop, &p[i]) != 0) {
            exit(1);
        }
    }
    while (now_s() - t0 < THREAD_RUN) {
        if (poll(&pfd, 1, 10) > 0) {
            records_dispatch(r, 64);
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(p[i].tid, NULL);
        ok += p[i].ok;
        full += p[i].full;
    }
    records_dispatch(r, 0);
    dt = now_s() - t0;
    records_stats(r, &st);
    printf("records: %d poster threads, events of %d B %7.0f records/s delivered, "
           "%.0f/s dropped (ring full), peak %zu of %zu bytes\n",
           THREADS, EVENT_LEN, (double) st.delivered / dt, (double) full / dt,
           st.peak_bytes, st.cap_bytes);
    if (st.delivered != ok) {
        printf("records: MISMATCH: %llu accepted, %llu delivered\n",
               (unsigned long long) ok, (unsigned long long) st.delivered);
    }
    free(text);
    records_free(r);
}

int main(void)
{
    single_thread("10-min records of 7100 B, post+dispatch", INTERVAL_LEN, 8);
    single_thread("events of 430 B, post+dispatch", EVENT_LEN, 64);
    threads();
    return 0;
}
