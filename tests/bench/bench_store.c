/* bench_store.c - the onboard store: rows per second committed (rows of 4
 * columns: t_ns, channel, value, quality), the latency of a commit, and the
 * cost of store_write() on the caller.
 *
 * Prints one line per figure and exits 0; each figure runs for a fixed time,
 * so a slow machine gives smaller numbers, not a failure.  The file goes to
 * a fresh directory under $TMPDIR (or /tmp) and is removed afterwards.
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/store.h"
#include "pq/err.h"

#define FLOOD_S    2.0 /* seconds of writes as fast as taken */
#define STEADY_S   4.0 /* seconds of a steady rate */
#define STEADY_HZ  20000
#define MAX_COMMIT 4096

static const char ins[] = "INSERT INTO rec(t_ns, ch, v, q) VALUES(?1, ?2, ?3, ?4)";

static const struct store_table table = {
    .name = "rec",
    .create_sql = "CREATE TABLE IF NOT EXISTS rec (t_ns INTEGER NOT NULL, ch INTEGER "
                  "NOT NULL, v REAL NOT NULL, q INTEGER NOT NULL)",
    .droppable = 1,
};

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    return v[(size_t) (p * (double) (n - 1))];
}

/* After each commit (the commit fd), the duration of that commit. */
static void collect_commit(struct store *s, double *ms, size_t *n)
{
    struct pollfd p = {.fd = store_commit_fd(s), .events = POLLIN};
    uint64_t k;

    if (poll(&p, 1, 0) == 1 && read(p.fd, &k, sizeof(k)) == (ssize_t) sizeof(k)) {
        struct store_stats st;

        store_stats(s, &st);
        if (*n < MAX_COMMIT) {
            ms[(*n)++] = st.last_commit_ms;
        }
    }
}

static int write_row(struct store *s, int64_t i)
{
    struct store_val v[4] = {
        {.type = STORE_INT, .i = i * 1000},
        {.type = STORE_INT, .i = i % 64},
        {.type = STORE_REAL, .d = 230.0 + (double) (i % 100) * 0.01},
        {.type = STORE_INT, .i = 0},
    };

    return store_write(s, ins, v, 4, NULL);
}

static struct store *open_bench(const char *path, int64_t batch_ns)
{
    struct store_cfg c = {.path = path, .batch_ns = batch_ns, .budget_bytes = 4ULL << 30};
    struct store *s = NULL;
    int rc = store_open(&c, &table, 1, &s);

    if (rc < 0) {
        fprintf(stderr, "bench_store: %s: %s\n", path, pq_strerror(rc));
        exit(1);
    }
    return s;
}

/* As fast as the store takes them: rows committed per second. */
static void bench_flood(const char *path, int64_t batch_ns)
{
    static double ms[MAX_COMMIT];
    struct store *s = open_bench(path, batch_ns);
    size_t nms = 0;
    int64_t i = 0, full = 0, t0 = now_ns(), t1;
    struct store_stats st;

    while (now_ns() - t0 < (int64_t) (FLOOD_S * 1e9)) {
        if (write_row(s, i) == 0) {
            i++;
        } else {
            full++;
        }
        if ((i & 1023) == 0) {
            collect_commit(s, ms, &nms);
        }
    }
    store_flush(s, 60000);
    t1 = now_ns();
    store_stats(s, &st);
    printf("store: flood, batch %lld ms: %.0f k rows/s committed (4 columns), %llu "
           "commits, commit p50 %.1f ms, p99 %.1f ms, max %.1f ms, %lld writes refused "
           "(queue full)\n",
           (long long) (batch_ns / 1000000),
           (double) st.committed / ((double) (t1 - t0) / 1e9) / 1e3,
           (unsigned long long) st.commits, pct(ms, nms, 0.5), pct(ms, nms, 0.99),
           st.commit_ms_max, (long long) full);
    store_close(s);
}

/* A steady STEADY_HZ rows/s with the default 1 s batch: what a commit costs
 * at a realistic rate, and what store_write() costs its caller. */
static void bench_steady(const char *path)
{
    static double ms[MAX_COMMIT];
    static double call_ns[1 << 16];
    struct store *s = open_bench(path, 1000000000LL);
    size_t nms = 0, ncall = 0;
    int64_t t0 = now_ns(), i = 0, sum = 0;

    while (now_ns() - t0 < (int64_t) (STEADY_S * 1e9)) {
        int64_t due = t0 + i * (1000000000LL / STEADY_HZ);
        int64_t a, b;

        while (now_ns() < due) {
            collect_commit(s, ms, &nms);
        }
        a = now_ns();
        if (write_row(s, i) < 0) {
            fprintf(stderr, "bench_store: steady write refused\n");
        }
        b = now_ns();
        sum += b - a;
        if (ncall < sizeof(call_ns) / sizeof(call_ns[0])) {
            call_ns[ncall++] = (double) (b - a);
        }
        i++;
    }
    store_flush(s, 60000);
    collect_commit(s, ms, &nms);
    printf("store: steady %d rows/s, batch 1 s: commit p50 %.1f ms, max %.1f ms "
           "(%zu commits)\n",
           STEADY_HZ, pct(ms, nms, 0.5), pct(ms, nms, 1.0), nms);
    printf("store: store_write() on the caller (4 values): mean %.0f ns, p50 %.0f ns, "
           "p99 %.0f ns, max %.0f ns\n",
           (double) sum / (double) i, pct(call_ns, ncall, 0.5), pct(call_ns, ncall, 0.99),
           pct(call_ns, ncall, 1.0));
    store_close(s);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[256], path[300], cmd[320];

    snprintf(dir, sizeof(dir), "%s/bench_store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_store: mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/flood1.db", dir);
    bench_flood(path, 1000000000LL);
    snprintf(path, sizeof(path), "%s/flood100.db", dir);
    bench_flood(path, 100000000LL);
    snprintf(path, sizeof(path), "%s/steady.db", dir);
    bench_steady(path);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
