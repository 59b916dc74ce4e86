/* store_load.c - load for the kill -9 test of the onboard store.
 *
 *   store_load DB BATCH_MS [SECONDS [BUDGET_BYTES]]
 *
 * Writes numbered rows (seq, t_ns) into table "load" of the store at DB as
 * fast as the store takes them (a refused write is tried again with the same
 * seq), starting from max(seq) + 1 of what the file holds.  Its progress is
 * kept in DB.progress, a small file mapped in memory, so that it survives a
 * kill -9 in the page cache:
 *
 *   start       first seq of this run
 *   queued_seq  last seq store_write() accepted, and its t_ns
 *   committed   last seq store_committed() reported durable
 *   first_t     t_ns of this run's first row
 *   commit_us   the longest writer cycle so far, a commit and the size
 *               budget's drops after it (a lost tail spans at most a batch
 *               period and two cycles: the one that completed last and the
 *               one the kill interrupted)
 *
 * Prints "ready START" on stdout once the store is open.  Runs until killed
 * (or SECONDS when not 0, then closes the store cleanly and prints "done N").
 * BUDGET_BYTES: the store's size budget (the oldest rows are dropped).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gateway/store.h"
#include "pq/err.h"

struct progress {
    _Atomic int64_t start;
    _Atomic int64_t queued_seq;
    _Atomic int64_t queued_t_ns;
    _Atomic int64_t committed_seq;
    _Atomic int64_t commit_us_max; /* the longest writer cycle of this run */
    _Atomic int64_t first_t_ns;    /* t_ns of the first row of this run */
};

static const char ins[] = "INSERT INTO load(seq, t_ns) VALUES(?1, ?2)";

static const struct store_table table = {
    .name = "load",
    .create_sql = "CREATE TABLE IF NOT EXISTS load (seq INTEGER NOT NULL, t_ns INTEGER "
                  "NOT NULL)",
    .droppable = 1,
};

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct progress *map_progress(const char *db)
{
    char path[4200];
    int fd;
    void *p;

    snprintf(path, sizeof(path), "%s.progress", db);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, sizeof(struct progress)) < 0) {
        perror(path);
        return NULL;
    }
    p = mmap(NULL, sizeof(struct progress), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static int64_t next_seq(struct store *s)
{
    sqlite3 *r = store_reader(s);
    sqlite3_stmt *st;
    int64_t v = 1;

    if (r &&
        sqlite3_prepare_v2(r, "SELECT max(seq) FROM load", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            v = sqlite3_column_int64(st, 0) + 1;
        }
        sqlite3_finalize(st);
    }
    return v;
}

int main(int argc, char **argv)
{
    struct store_cfg cfg = {0};
    struct store *s = NULL;
    struct progress *pr;
    int64_t start, seq, end_ns = 0;
    char *e;
    long ms;
    int rc;

    if (argc < 3) {
        fprintf(stderr, "usage: store_load DB BATCH_MS [SECONDS [BUDGET_BYTES]]\n");
        return 2;
    }
    ms = strtol(argv[2], &e, 10);
    if (*e || ms <= 0) {
        fprintf(stderr, "store_load: bad BATCH_MS %s\n", argv[2]);
        return 2;
    }
    if (argc > 3 && strtod(argv[3], NULL) > 0) {
        end_ns = mono_ns() + (int64_t) (strtod(argv[3], NULL) * 1e9);
    }
    if (argc > 4) {
        cfg.budget_bytes = strtoull(argv[4], NULL, 10);
    }
    cfg.path = argv[1];
    cfg.batch_ns = (int64_t) ms * 1000000;
    pr = map_progress(argv[1]);
    if (!pr) {
        return 1;
    }
    rc = store_open(&cfg, &table, 1, &s);
    if (rc < 0) {
        fprintf(stderr, "store_load: %s: %s\n", argv[1], pq_strerror(rc));
        return 1;
    }
    start = next_seq(s);
    atomic_store(&pr->start, start);
    atomic_store(&pr->queued_seq, start - 1);
    atomic_store(&pr->committed_seq, start - 1);
    atomic_store(&pr->commit_us_max, 0);
    atomic_store(&pr->first_t_ns, 0);
    printf("ready %lld\n", (long long) start);
    fflush(stdout);
    for (seq = start; end_ns == 0 || mono_ns() < end_ns;) {
        int64_t t = wall_ns();
        struct store_val v[2] = {{.type = STORE_INT, .i = seq},
                                 {.type = STORE_INT, .i = t}};

        rc = store_write(s, ins, v, 2, NULL);
        if (rc == -PQ_EFULL) {
            sched_yield();
        } else if (rc < 0) {
            fprintf(stderr, "store_load: write: %s\n", pq_strerror(rc));
            return 1;
        } else {
            /* the row, then its number: a reader never sees a seq whose
             * t_ns is not yet stored */
            if (seq == start) {
                atomic_store(&pr->first_t_ns, t);
            }
            atomic_store(&pr->queued_t_ns, t);
            atomic_store(&pr->queued_seq, seq);
            seq++;
        }
        /* tickets count from 1 in this run: ticket k is seq start + k - 1 */
        atomic_store(&pr->committed_seq, start - 1 + (int64_t) store_committed(s));
        {
            struct store_stats st;

            store_stats(s, &st);
            atomic_store(&pr->commit_us_max, (int64_t) (st.busy_ms_max * 1000.0));
        }
    }
    {
        struct store_stats st;

        store_stats(s, &st);
        fprintf(stderr,
                "store_load: %llu commits, longest commit %.1f ms, longest cycle %.1f "
                "ms, %llu rows dropped, file %llu bytes\n",
                (unsigned long long) st.commits, st.commit_ms_max, st.busy_ms_max,
                (unsigned long long) st.dropped, (unsigned long long) st.file_bytes);
    }
    store_close(s);
    printf("done %lld\n", (long long) (seq - start));
    return 0;
}
