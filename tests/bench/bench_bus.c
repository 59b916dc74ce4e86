/* bench_bus.c - channel bus throughput: publish, publish_many, dispatch and
 * publisher threads against a dispatching main loop.
 *
 * Prints one line per figure and exits 0; each figure runs for a fixed time
 * (about 1.5 s in all), so a slow machine gives smaller numbers, not a
 * failure.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gateway/bus.h"
#include "pq/err.h"

#define CHANNELS   64
#define QUEUE_CAP  65536
#define BATCH      512  /* updates per bus_publish_many() */
#define RUN_S      0.25 /* wall seconds per single-thread figure */
#define THREADS    3
#define THREAD_RUN 0.5

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* A bus with CHANNELS channels "bench/c<i>". */
static struct bus *bench_bus(void)
{
    struct bus *b;
    char name[32];
    int rc = bus_new(CHANNELS, QUEUE_CAP, &b);

    if (rc < 0) {
        fprintf(stderr, "bench_bus: bus_new: %s\n", pq_strerror(rc));
        exit(1);
    }
    for (int i = 0; i < CHANNELS; i++) {
        snprintf(name, sizeof(name), "bench/c%d", i);
        rc = bus_register(b, name, "V");
        if (rc < 0) {
            fprintf(stderr, "bench_bus: bus_register %s: %s\n", name, pq_strerror(rc));
            exit(1);
        }
    }
    return b;
}

static void sum_value(void *ctx, int ch, const struct bus_value *v)
{
    double *sum = ctx;

    (void) ch;
    *sum += v->value;
}

/* Fill the queue, untimed, with QUEUE_CAP updates. */
static void fill(struct bus *b)
{
    for (int i = 0; i < QUEUE_CAP; i++) {
        (void) bus_publish(b, i % CHANNELS, (double) i, i, 0);
    }
}

static void bench_publish(void)
{
    struct bus *b = bench_bus();
    double start = now_s();
    double spent = 0.0;
    uint64_t n = 0;

    while (now_s() - start < RUN_S) {
        double t0 = now_s();

        fill(b);
        spent += now_s() - t0;
        n += QUEUE_CAP;
        bus_dispatch(b, 0); /* no subscribers: just empties the queue */
    }
    printf("bus: publish 1 thread: %.1f M updates/s\n", (double) n / spent / 1e6);
    bus_free(b);
}

static void bench_publish_many(void)
{
    static struct bus_update u[BATCH];
    struct bus *b = bench_bus();
    double start = now_s();
    double spent = 0.0;
    uint64_t n = 0;

    for (int i = 0; i < BATCH; i++) {
        u[i].ch = i % CHANNELS;
        u[i].v.value = (double) i;
        u[i].v.t_ns = i;
        u[i].v.quality = 0;
    }
    while (now_s() - start < RUN_S) {
        double t0 = now_s();

        for (int k = 0; k < QUEUE_CAP / BATCH; k++) {
            (void) bus_publish_many(b, u, BATCH);
        }
        spent += now_s() - t0;
        n += QUEUE_CAP;
        bus_dispatch(b, 0);
    }
    printf("bus: publish_many %d-update batches: %.1f M updates/s\n", BATCH,
           (double) n / spent / 1e6);
    bus_free(b);
}

static void bench_dispatch(int nsubs)
{
    static const char *const patterns[] = {"bench/*", "**", "bench/**", "*/*",
                                           "bench/c*"};
    struct bus *b = bench_bus();
    double sum = 0.0;
    double start = now_s();
    double spent = 0.0;
    uint64_t n = 0;

    for (int i = 0; i < nsubs; i++) {
        (void) bus_subscribe(b, patterns[i % 5], sum_value, &sum);
    }
    while (now_s() - start < RUN_S) {
        double t0;

        fill(b);
        t0 = now_s();
        n += bus_dispatch(b, 0);
        spent += now_s() - t0;
    }
    printf("bus: dispatch to %d subscriber%s: %.1f M updates/s (%.1f M callbacks/s)\n",
           nsubs, nsubs == 1 ? "" : "s", (double) n / spent / 1e6,
           (double) n * nsubs / spent / 1e6);
    bus_free(b);
}

struct publisher {
    struct bus *b;
    atomic_int *stop;
    int first; /* channel */
    uint64_t published;
    pthread_t tid;
};

static void *publish_until_stopped(void *arg)
{
    struct publisher *p = arg;
    uint64_t i = 0;

    while (!atomic_load_explicit(p->stop, memory_order_relaxed)) {
        for (int k = 0; k < 1024; k++, i++) {
            (void) bus_publish(p->b, p->first + (int) (i % 8), (double) i, (int64_t) i,
                               0);
        }
    }
    p->published = i;
    return NULL;
}

static void bench_threads(void)
{
    struct bus *b = bench_bus();
    struct publisher pub[THREADS];
    struct pollfd pfd = {.fd = bus_fd(b), .events = POLLIN};
    struct bus_stats st;
    atomic_int stop;
    uint64_t published = 0;
    uint64_t delivered = 0;
    double sum = 0.0;
    double t0;
    double spent;

    atomic_init(&stop, 0);
    (void) bus_subscribe(b, "bench/*", sum_value, &sum);
    t0 = now_s();
    for (int i = 0; i < THREADS; i++) {
        pub[i].b = b;
        pub[i].stop = &stop;
        pub[i].first = 8 * i;
        if (pthread_create(&pub[i].tid, NULL, publish_until_stopped, &pub[i]) != 0) {
            fprintf(stderr, "bench_bus: pthread_create failed\n");
            exit(1);
        }
    }
    while (now_s() - t0 < THREAD_RUN) {
        (void) poll(&pfd, 1, 10);
        delivered += bus_dispatch(b, 0);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(pub[i].tid, NULL);
        published += pub[i].published;
    }
    spent = now_s() - t0;
    bus_stats(b, &st);
    printf("bus: %d publisher threads + dispatching main: %.1f M updates/s delivered, "
           "%.1f M/s published, %.1f%% dropped\n",
           THREADS, (double) delivered / spent / 1e6, (double) published / spent / 1e6,
           published ? 100.0 * (double) st.dropped / (double) published : 0.0);
    bus_free(b);
}

static void *idle(void *arg)
{
    return arg;
}

int main(void)
{
    pthread_t t;

    /* glibc locks without atomics while a process has only ever had one
     * thread; the gateway has several, so measure the real lock. */
    if (pthread_create(&t, NULL, idle, NULL) == 0) {
        pthread_join(t, NULL);
    }
    bench_publish();
    bench_publish_many();
    bench_dispatch(1);
    bench_dispatch(10);
    bench_threads();
    return 0;
}
