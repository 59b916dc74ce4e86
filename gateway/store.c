/* store.c - the onboard store: a bounded write queue and one writer thread
 * that commits it to SQLite in WAL mode, one transaction per batch.
 *
 * The queue is a byte ring.  store_write() copies the statement's values
 * (text and blobs included) into the ring under the lock; the writer takes a
 * snapshot of [tail, head) under the lock and then reads those entries
 * without it, since producers only ever append beyond head and the space is
 * released only after the commit.  A write whose text and blobs are larger
 * than 1/16 of the ring gets its bytes in one allocation of its own.
 *
 * A failed transaction (I/O error, disk full, database busy) is rolled back
 * and the same entries are tried again one batch period later: nothing
 * queued is lost while the queue has room; new writes are refused with
 * -PQ_EFULL (and counted) once it has none.  A statement that fails on its
 * own (constraint, type, bad SQL) is counted and logged, and the rest of
 * the batch commits.
 *
 * Durability: PRAGMA synchronous=FULL.  In WAL mode, NORMAL syncs the WAL
 * only at checkpoints: a kill -9 loses nothing committed either way (the
 * data is in the page cache), but a power loss could lose every transaction
 * since the last checkpoint (up to the 1000 pages of wal_autocheckpoint),
 * far more than one batch.  FULL syncs the WAL at each commit; with one
 * commit per batch period (1 s by default) that is one fsync a second, a cost
 * nobody sees, and then a power loss too loses at most the batch being
 * assembled.  Neither setting ever corrupts the file.
 *
 * Size budget: after each commit the writer computes the bytes in use,
 * (page_count - freelist_count) * page_size; over cfg->budget_bytes it
 * deletes the oldest rows (lowest rowid) of the droppable tables, the one
 * holding most rows first, in chunks of at most DROP_CHUNK_ROWS rows, each
 * chunk in its own transaction that also calls the table's on_drop, until it
 * is under 95 % of the budget; at most a quarter of the batch period a
 * cycle, so a big drop never holds commits up (the next cycle goes on,
 * also when no write comes: an idle batch period continues the work).  A
 * new file is created with auto_vacuum=INCREMENTAL, and PRAGMA
 * incremental_vacuum gives free pages beyond 5 % of the budget back to the
 * file system, 4 MB a cycle in cycles without drops; a file created without
 * it keeps its size and reuses its freelist.  No VACUUM ever runs on this path.
 */
#include "gateway/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config/log.h"
#include "pq/err.h"

#define DEFAULT_BUDGET    (512ULL << 20)
#define DEFAULT_BATCH_NS  1000000000LL
#define DEFAULT_QUEUE_CAP 65536
#define RING_BYTES_EACH   128 /* ring bytes per queued write it is sized for */
#define RING_MIN_BYTES    (1u << 20)
#define MAX_VALS          256 /* values bound to one statement */
#define BUSY_TIMEOUT_MS   5000
#define DROP_CHUNK_ROWS   20000
#define VACUUM_PAGES      1024 /* pages given back to the file system a cycle */
#define DROP_LOG_EVERY_NS (60 * 1000000000LL)
#define FAIL_LOG_EVERY_NS (60 * 1000000000LL)
#define WAL_LIMIT_BYTES   (16 << 20)

/* One queued write in the ring, followed by nval store_val (p holding the
 * offset of the bytes from the start of the data) and then the bytes. */
struct entry {
    uint32_t size; /* in the ring, header included, multiple of 8 */
    uint32_t nval;
    const char *sql; /* NULL: padding up to the end of the ring */
    void *heap;      /* the bytes when allocated apart, or NULL */
};

struct cached_stmt {
    const char *sql; /* the key: the caller's pointer */
    sqlite3_stmt *stmt;
    int bad; /* prepare failed (logged once): every write of it fails */
};

struct table {
    char *name;
    int droppable;
    void (*on_drop)(void *ctx, int64_t first_rowid, int64_t last_rowid, uint64_t count);
    void *ctx;
    uint64_t dropped;
};

struct reader {
    sqlite3 *db;
    struct reader *next;
};

struct store {
    char *path;
    uint64_t budget;
    int64_t batch_ns;
    size_t cap; /* writes */

    /* the queue, under lock */
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* writer: work, flush or stop */
    pthread_cond_t settled; /* store_flush(): a commit happened */
    unsigned char *ring;
    uint64_t ring_bytes;
    uint64_t big_bytes;  /* data above this is allocated apart */
    uint64_t head, tail; /* byte positions, increasing */
    size_t count;        /* entries queued */
    uint64_t issued;     /* last ticket handed out */
    uint64_t committed;  /* last ticket committed */
    uint64_t flush_to;   /* a flush waits for this ticket */
    int kicked;          /* queue past half full */
    int stopping;
    struct store_stats st;

    /* the writer's connection; db_lock serialises it with store_add_tables() */
    pthread_mutex_t db_lock;
    sqlite3 *db;
    struct cached_stmt *cache;
    size_t cache_cap, cache_n;
    struct table *tables;
    size_t ntables;
    sqlite3_stmt *st_page_count, *st_freelist, *st_kv_put;
    uint64_t page_size;
    int incremental; /* auto_vacuum = INCREMENTAL */
    int failing;     /* the last transaction failed */
    int64_t fail_logged_ns;
    int budget_warned;
    int dropping;            /* past the budget, not yet back under 95 % */
    int shrinking;           /* free pages left to give back */
    uint64_t drops_unlogged; /* rows dropped since the last log line */
    int64_t drops_logged_ns; /* CLOCK_MONOTONIC; 0: never */

    pthread_t thread;
    int thread_started;
    int efd;

    pthread_mutex_t readers_lock;
    struct reader *readers;
    sqlite3 *kv_db; /* store_kv_get(), under readers_lock */
};

static const char kv_create[] = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, "
                                "value REAL NOT NULL, t_ns INTEGER NOT NULL)";
static const char kv_put_sql[] =
    "INSERT OR REPLACE INTO kv(key, value, t_ns) VALUES(?1, ?2, ?3)";

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

/* SQLite result codes to ours. */
static int sqlite_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -PQ_EFORMAT;
    default:
        return -EIO;
    }
}

/* A statement that failed by itself (the batch goes on) rather than the
 * transaction or the file (the batch is rolled back and tried again). */
static int statement_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
        return 1;
    default:
        return 0;
    }
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        LOGF(LOG_ERR, "store", "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
    }
    sqlite3_free(msg);
    return rc;
}

static int64_t query_int(sqlite3_stmt *st)
{
    int64_t v = -1;

    if (sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return v;
}

/* ---- the prepared statement cache (writer only) --------------------- */

static size_t ptr_hash(const char *p, size_t cap)
{
    uint64_t h = (uint64_t) (uintptr_t) p * 0x9E3779B97F4A7C15ULL;

    return (size_t) (h >> 32) & (cap - 1);
}

static int cache_grow(struct store *s)
{
    size_t cap = s->cache_cap ? s->cache_cap * 2 : 64;
    struct cached_stmt *c = calloc(cap, sizeof(*c));

    if (!c) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->cache_cap; i++) {
        if (s->cache[i].sql) {
            size_t j = ptr_hash(s->cache[i].sql, cap);

            while (c[j].sql) {
                j = (j + 1) & (cap - 1);
            }
            c[j] = s->cache[i];
        }
    }
    free(s->cache);
    s->cache = c;
    s->cache_cap = cap;
    return 0;
}

/* The statement of sql, prepared on first use; NULL when it does not
 * prepare (logged once) or memory ran out (*rc says which). */
static sqlite3_stmt *cache_get(struct store *s, const char *sql, int *rc)
{
    size_t j;
    struct cached_stmt *c;

    *rc = SQLITE_OK;
    if (s->cache_cap && s->cache_n * 2 < s->cache_cap) {
        for (j = ptr_hash(sql, s->cache_cap); s->cache[j].sql;
             j = (j + 1) & (s->cache_cap - 1)) {
            if (s->cache[j].sql == sql) {
                *rc = s->cache[j].bad ? SQLITE_ERROR : SQLITE_OK;
                return s->cache[j].stmt;
            }
        }
    } else if (cache_grow(s) < 0) {
        *rc = SQLITE_NOMEM;
        return NULL;
    } else {
        return cache_get(s, sql, rc);
    }
    c = &s->cache[j];
    *rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt, NULL);
    if (*rc != SQLITE_OK) {
        if (!statement_error(*rc)) {
            return NULL; /* not cached: tried again with the batch */
        }
        LOGF(LOG_ERR, "store", "statement does not prepare: %s: %s", sql,
             sqlite3_errmsg(s->db));
        c->stmt = NULL;
        c->bad = 1;
    }
    c->sql = sql;
    s->cache_n++;
    return c->stmt;
}

static void cache_free(struct store *s)
{
    for (size_t i = 0; i < s->cache_cap; i++) {
        sqlite3_finalize(s->cache[i].stmt);
    }
    free(s->cache);
    s->cache = NULL;
    s->cache_cap = s->cache_n = 0;
}

/* ---- the queue -------------------------------------------------------- */

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t) 7;
}

static size_t value_len(const struct store_val *v)
{
    if (v->type == STORE_TEXT) {
        return v->n ? v->n : (v->p ? strlen(v->p) : 0);
    }
    return v->type == STORE_BLOB ? v->n : 0;
}

/* Room for size bytes at head, under lock: pads to the ring's end when the
 * entry does not fit before it.  Returns the offset or -1 (full). */
static int64_t ring_reserve(struct store *s, size_t size)
{
    uint64_t pos = s->head % s->ring_bytes;
    uint64_t room = s->ring_bytes - pos;
    uint64_t used = s->head - s->tail;

    if (size <= room) {
        if (used + size > s->ring_bytes) {
            return -1;
        }
        return (int64_t) pos;
    }
    if (used + room + size > s->ring_bytes) {
        return -1;
    }
    if (room >= sizeof(struct entry)) {
        struct entry *pad = (struct entry *) (s->ring + pos);

        memset(pad, 0, sizeof(*pad));
        pad->size = (uint32_t) room;
    }
    s->head += room;
    return 0;
}

int store_write(struct store *s, const char *sql, const struct store_val *v, size_t n,
                uint64_t *ticket)
{
    size_t data = 0, hdr, size;
    void *heap = NULL;
    unsigned char *dst;
    struct entry *e;
    struct store_val *ev;
    int64_t off;

    if (!s || !sql || n > MAX_VALS || (n && !v)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        data += value_len(&v[i]);
    }
    hdr = sizeof(struct entry) + n * sizeof(struct store_val);
    if (data > s->big_bytes) {
        heap = malloc(data);
        if (!heap) {
            return -ENOMEM;
        }
    }
    size = align8(hdr + (heap ? 0 : data));
    pthread_mutex_lock(&s->lock);
    if (s->stopping || s->count >= s->cap || (off = ring_reserve(s, size)) < 0) {
        s->st.rejected++;
        pthread_mutex_unlock(&s->lock);
        free(heap);
        return -PQ_EFULL;
    }
    e = (struct entry *) (s->ring + off);
    e->size = (uint32_t) size;
    e->nval = (uint32_t) n;
    e->sql = sql;
    e->heap = heap;
    ev = (struct store_val *) (e + 1);
    dst = heap ? heap : (unsigned char *) (ev + n);
    data = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = value_len(&v[i]);

        ev[i] = v[i];
        ev[i].n = len;
        if (v[i].type == STORE_TEXT || v[i].type == STORE_BLOB) {
            if (len) {
                memcpy(dst + data, v[i].p, len);
            }
            ev[i].p = (const void *) (uintptr_t) data;
            data += len;
        }
    }
    s->head += size;
    s->count++;
    s->st.queued++;
    s->issued++;
    if (ticket) {
        *ticket = s->issued;
    }
    if (!s->kicked &&
        (s->count > s->cap / 2 || (s->head - s->tail) > s->ring_bytes / 2)) {
        s->kicked = 1;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* ---- the writer ------------------------------------------------------- */

struct batch {
    uint64_t from, to; /* ring positions */
    size_t n;          /* entries (tickets) */
    uint64_t failed;   /* statements that failed by themselves */
};

/* The entry at ring position *pos, skipping padding; advances *pos. */
static struct entry *next_entry(struct store *s, uint64_t *pos, uint64_t end)
{
    while (*pos < end) {
        uint64_t off = *pos % s->ring_bytes;
        struct entry *e;

        if (s->ring_bytes - off < sizeof(struct entry)) {
            *pos += s->ring_bytes - off;
            continue;
        }
        e = (struct entry *) (s->ring + off);
        *pos += e->size;
        if (e->sql) {
            return e;
        }
    }
    return NULL;
}

static int bind_entry(sqlite3_stmt *st, const struct entry *e)
{
    const struct store_val *v = (const struct store_val *) (e + 1);
    const unsigned char *data = e->heap ? e->heap : (const unsigned char *) (v + e->nval);
    int rc = SQLITE_OK;

    for (uint32_t i = 0; i < e->nval && rc == SQLITE_OK; i++) {
        int k = (int) i + 1;
        const void *p = data + (uintptr_t) v[i].p;

        switch (v[i].type) {
        case STORE_INT:
            rc = sqlite3_bind_int64(st, k, v[i].i);
            break;
        case STORE_REAL:
            rc = sqlite3_bind_double(st, k, v[i].d);
            break;
        case STORE_TEXT:
            rc = sqlite3_bind_text(st, k, p, (int) v[i].n, SQLITE_STATIC);
            break;
        case STORE_BLOB:
            rc = sqlite3_bind_blob(st, k, p, (int) v[i].n, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(st, k);
            break;
        }
    }
    return rc;
}

/* Run one queued write.  Returns SQLITE_OK, or an error of the transaction
 * (statement errors are counted in b->failed and logged). */
static int run_entry(struct store *s, const struct entry *e, struct batch *b)
{
    int rc;
    sqlite3_stmt *st = cache_get(s, e->sql, &rc);

    if (!st) {
        if (statement_error(rc)) {
            b->failed++;
            return SQLITE_OK;
        }
        return rc;
    }
    rc = bind_entry(st, e);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE && statement_error(rc)) {
        if (b->failed < 3) {
            LOGF(LOG_ERR, "store", "write failed: %s: %s", e->sql, sqlite3_errmsg(s->db));
        }
        b->failed++;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void rollback(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* One transaction with every entry of b.  SQLITE_OK or the error. */
static int commit_batch(struct store *s, struct batch *b)
{
    uint64_t pos = b->from;
    struct entry *e;
    int rc;

    b->failed = 0;
    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    while (rc == SQLITE_OK && (e = next_entry(s, &pos, b->to)) != NULL) {
        rc = run_entry(s, e, b);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        rollback(s);
    }
    return rc;
}

static void free_heaps(struct store *s, const struct batch *b)
{
    uint64_t pos = b->from;
    struct entry *e;

    while ((e = next_entry(s, &pos, b->to)) != NULL) {
        free(e->heap);
    }
}

/* Bytes the pages in use take: free pages are reused before the file grows. */
static uint64_t used_bytes(struct store *s)
{
    int64_t pages = query_int(s->st_page_count);
    int64_t free_pages = query_int(s->st_freelist);

    if (pages < 0 || free_pages < 0 || free_pages > pages) {
        return 0;
    }
    return (uint64_t) (pages - free_pages) * s->page_size;
}

static struct table *largest_table(struct store *s, int64_t *min_rowid, int64_t *rows_out)
{
    struct table *best = NULL;
    int64_t best_rows = 0;

    for (size_t i = 0; i < s->ntables; i++) {
        char sql[256];
        sqlite3_stmt *st;
        int64_t lo, hi;

        if (!s->tables[i].droppable) {
            continue;
        }
        /* two subqueries: min() and max() in one SELECT scan the table */
        snprintf(
            sql, sizeof(sql),
            "SELECT (SELECT min(rowid) FROM \"%s\"), (SELECT max(rowid) FROM \"%s\")",
            s->tables[i].name, s->tables[i].name);
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
            continue;
        }
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            lo = sqlite3_column_int64(st, 0);
            hi = sqlite3_column_int64(st, 1);
            if (hi - lo + 1 > best_rows) {
                best_rows = hi - lo + 1;
                best = &s->tables[i];
                *min_rowid = lo;
            }
        }
        sqlite3_finalize(st);
    }
    *rows_out = best_rows;
    return best;
}

/* Delete rows first..up to `chunk` rows of t in one transaction with its
 * on_drop.  Returns the rows deleted, or -1. */
static int64_t drop_chunk(struct store *s, struct table *t, int64_t first, int64_t chunk)
{
    char sql[256];
    sqlite3_stmt *st = NULL;
    int64_t last = first + chunk - 1, got = -1;
    int rc;

    snprintf(sql, sizeof(sql), "DELETE FROM \"%s\" WHERE rowid <= ?1", t->name);
    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, last);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
    }
    if (rc == SQLITE_OK) {
        got = sqlite3_changes64(s->db);
        if (got > 0 && t->on_drop) {
            t->on_drop(t->ctx, first, last, (uint64_t) got);
        }
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        LOGF(LOG_ERR, "store", "dropping old rows of %s: %s", t->name,
             sqlite3_errmsg(s->db));
        rollback(s);
        return -1;
    }
    t->dropped += (uint64_t) got;
    return got;
}

static void update_file_bytes(struct store *s)
{
    int64_t pages = query_int(s->st_page_count);
    uint64_t bytes = pages > 0 ? (uint64_t) pages * s->page_size : 0;

    pthread_mutex_lock(&s->lock);
    s->st.file_bytes = bytes;
    pthread_mutex_unlock(&s->lock);
}

/* Free pages beyond 5 % of the budget go back to the file system, at most
 * VACUUM_PAGES a cycle, in the cycles without drops; the rest are reused by
 * the next inserts (giving them back only for the file to grow again would
 * be churn). */
static void shrink(struct store *s)
{
    int64_t free_pages = query_int(s->st_freelist);
    int64_t keep = (int64_t) (s->budget / 20 / s->page_size);
    char sql[64];

    s->shrinking = 0;
    if (!s->incremental || free_pages <= keep) {
        return;
    }
    s->shrinking = free_pages - keep > VACUUM_PAGES; /* more next cycle */
    snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%lld)",
             (long long) (free_pages - keep > VACUUM_PAGES ? VACUUM_PAGES
                                                           : free_pages - keep));
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

static void log_drops(struct store *s, uint64_t used)
{
    int64_t now = mono_ns();

    if (s->drops_unlogged && now - s->drops_logged_ns >= DROP_LOG_EVERY_NS) {
        LOGF(LOG_INFO, "store",
             "size budget: dropped %llu oldest rows, %llu bytes in use",
             (unsigned long long) s->drops_unlogged, (unsigned long long) used);
        s->drops_unlogged = 0;
        s->drops_logged_ns = now;
    }
}

/* Keep the file under the budget: see the top of the file.  Past the budget
 * it drops down to 95 % of it, spending at most a quarter of the batch
 * period a cycle (at least one chunk), so that commits are never held up
 * for long; the next cycle goes on. */
static void enforce_budget(struct store *s)
{
    uint64_t used, low = s->budget - s->budget / 20;
    uint64_t dropped = 0;
    int64_t until = mono_ns() + s->batch_ns / 4;

    update_file_bytes(s);
    used = used_bytes(s);
    if (!s->dropping && used <= s->budget) {
        shrink(s); /* only between drops: while dropping, inserts reuse them */
        update_file_bytes(s);
        return;
    }
    s->dropping = used > low;
    while (s->dropping && (dropped == 0 || mono_ns() < until)) {
        int64_t first = 0, rows = 0, chunk, got;
        struct table *t = largest_table(s, &first, &rows);

        if (!t) {
            if (!s->budget_warned) {
                LOGF(LOG_WARNING, "store",
                     "%s: %llu bytes in use, over the budget of %llu, and no old rows "
                     "left to drop",
                     s->path, (unsigned long long) used, (unsigned long long) s->budget);
                s->budget_warned = 1;
            }
            s->dropping = 0;
            break;
        }
        /* rows to drop: the excess at the mean row size, in chunks */
        chunk = (int64_t) ((double) rows * (double) (used - low) / (double) used) + 1;
        chunk = chunk > DROP_CHUNK_ROWS ? DROP_CHUNK_ROWS : chunk;
        got = drop_chunk(s, t, first, chunk);
        if (got <= 0) {
            s->dropping = 0;
            break;
        }
        dropped += (uint64_t) got;
        used = used_bytes(s);
        s->dropping = used > low;
    }
    update_file_bytes(s);
    if (dropped) {
        pthread_mutex_lock(&s->lock);
        s->st.dropped += dropped;
        pthread_mutex_unlock(&s->lock);
        s->drops_unlogged += dropped;
        s->shrinking = 1; /* give pages back once the drops are done */
    }
    log_drops(s, used);
    if (used <= s->budget) {
        s->budget_warned = 0;
    }
}

static void note_failure(struct store *s, int rc, size_t n)
{
    int64_t now = mono_ns();

    if (!s->failing || now - s->fail_logged_ns >= FAIL_LOG_EVERY_NS) {
        LOGF(LOG_ERR, "store",
             "%s: commit of %zu writes failed: %s; kept in the queue, trying again",
             s->path, n, sqlite3_errstr(rc));
        s->fail_logged_ns = now;
    }
    s->failing = 1;
    pthread_mutex_lock(&s->lock);
    s->st.commit_errors++;
    s->st.last_error = sqlite_rc(rc);
    pthread_mutex_unlock(&s->lock);
}

/* Commit what was queued at the call.  Returns SQLITE_OK or the error. */
static int writer_commit(struct store *s)
{
    struct batch b;
    int64_t t0, t1;
    double ms;
    int rc;
    uint64_t one = 1;

    pthread_mutex_lock(&s->lock);
    b.from = s->tail;
    b.to = s->head;
    b.n = s->count;
    s->kicked = 0;
    pthread_mutex_unlock(&s->lock);
    if (b.n == 0) {
        if (s->dropping || s->shrinking) { /* work left from a busy cycle */
            pthread_mutex_lock(&s->db_lock);
            enforce_budget(s);
            pthread_mutex_unlock(&s->db_lock);
        }
        return SQLITE_OK;
    }
    t0 = mono_ns();
    pthread_mutex_lock(&s->db_lock);
    rc = commit_batch(s, &b);
    pthread_mutex_unlock(&s->db_lock);
    if (rc != SQLITE_OK) {
        note_failure(s, rc, b.n);
        return rc;
    }
    if (s->failing) {
        LOGF(LOG_NOTICE, "store", "%s: commits work again", s->path);
        s->failing = 0;
    }
    t1 = mono_ns();
    ms = (double) (t1 - t0) / 1e6;
    free_heaps(s, &b);
    pthread_mutex_lock(&s->lock);
    s->tail = b.to;
    s->count -= b.n;
    s->committed += b.n;
    s->st.committed += b.n - b.failed;
    s->st.failed += b.failed;
    s->st.commits++;
    s->st.last_commit_ns = wall_ns();
    s->st.last_commit_ms = ms;
    if (ms > s->st.commit_ms_max) {
        s->st.commit_ms_max = ms;
    }
    pthread_cond_broadcast(&s->settled);
    pthread_mutex_unlock(&s->lock);
    if (write(s->efd, &one, sizeof(one)) < 0) {
        /* the counter cannot overflow at one commit a batch */
    }
    pthread_mutex_lock(&s->db_lock);
    enforce_budget(s);
    pthread_mutex_unlock(&s->db_lock);
    ms = (double) (mono_ns() - t0) / 1e6;
    pthread_mutex_lock(&s->lock);
    if (ms > s->st.busy_ms_max) {
        s->st.busy_ms_max = ms;
    }
    pthread_mutex_unlock(&s->lock);
    return SQLITE_OK;
}

static void deadline_after(struct timespec *ts, int64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ns += ts->tv_nsec;
    ts->tv_sec += ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
}

static void *writer_main(void *arg)
{
    struct store *s = arg;

    for (;;) {
        struct timespec until;
        int stop;

        deadline_after(&until, s->batch_ns);
        pthread_mutex_lock(&s->lock);
        while (!s->stopping && !s->kicked && s->flush_to <= s->committed) {
            if (pthread_cond_timedwait(&s->wake, &s->lock, &until) == ETIMEDOUT) {
                break;
            }
        }
        stop = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (writer_commit(s) != SQLITE_OK) {
            if (stop) {
                break;
            }
            /* wait a period before trying again, even when kicked */
            deadline_after(&until, s->batch_ns);
            pthread_mutex_lock(&s->lock);
            while (!s->stopping &&
                   pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT) {
            }
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        if (stop) {
            break;
        }
    }
    return NULL;
}

/* ---- open and close --------------------------------------------------- */

static int register_table(struct store *s, const struct store_table *t)
{
    struct table *n;
    int rc = exec(s->db, t->create_sql);

    if (rc != SQLITE_OK) {
        return rc == SQLITE_ERROR ? -PQ_ECONFIG : sqlite_rc(rc);
    }
    for (size_t i = 0; i < s->ntables; i++) {
        if (strcmp(s->tables[i].name, t->name) == 0) {
            s->tables[i].droppable = t->droppable;
            s->tables[i].on_drop = t->on_drop;
            s->tables[i].ctx = t->ctx;
            return 0;
        }
    }
    n = realloc(s->tables, (s->ntables + 1) * sizeof(*n));
    if (!n) {
        return -ENOMEM;
    }
    s->tables = n;
    n = &s->tables[s->ntables];
    memset(n, 0, sizeof(*n));
    n->name = strdup(t->name);
    if (!n->name) {
        return -ENOMEM;
    }
    n->droppable = t->droppable;
    n->on_drop = t->on_drop;
    n->ctx = t->ctx;
    s->ntables++;
    return 0;
}

int store_add_tables(struct store *s, const struct store_table *tables, size_t ntables)
{
    int rc = 0;

    if (!s) {
        return -EINVAL;
    }
    pthread_mutex_lock(&s->db_lock);
    for (size_t i = 0; i < ntables && rc == 0; i++) {
        if (!tables[i].name || !tables[i].create_sql) {
            rc = -EINVAL;
            break;
        }
        rc = register_table(s, &tables[i]);
        if (rc < 0) {
            LOGF(LOG_ERR, "store", "%s: table %s: %s", s->path, tables[i].name,
                 pq_strerror(rc));
        }
    }
    pthread_mutex_unlock(&s->db_lock);
    return rc;
}

/* PRAGMA quick_check: -PQ_EFORMAT unless the file is a sound database. */
static int check_file(struct store *s)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL);
    int ok = 0;

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *r = sqlite3_column_text(st, 0);

            ok = r && strcmp((const char *) r, "ok") == 0;
            if (!ok) {
                LOGF(LOG_CRIT, "store", "%s fails its check: %s", s->path,
                     r ? (const char *) r : "?");
            }
        }
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_ROW) {
        LOGF(LOG_CRIT, "store", "%s: %s", s->path, sqlite3_errmsg(s->db));
        rc &= 0xff;
        return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? -PQ_EFORMAT : sqlite_rc(rc);
    }
    return ok ? 0 : -PQ_EFORMAT;
}

static int setup_db(struct store *s)
{
    sqlite3_stmt *st;
    int rc;

    rc = sqlite3_open_v2(s->path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        LOGF(LOG_ERR, "store", "%s: %s", s->path,
             s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return sqlite_rc(rc);
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    rc = check_file(s);
    if (rc < 0) {
        return rc;
    }
    /* only takes effect on a new file, before its first table */
    rc = exec(s->db, "PRAGMA auto_vacuum=INCREMENTAL");
    if (rc == SQLITE_OK) {
        rc = exec(s->db, "PRAGMA journal_mode=WAL");
    }
    if (rc == SQLITE_OK) {
        rc = exec(s->db, "PRAGMA synchronous=FULL"); /* see the top of the file */
    }
    if (rc == SQLITE_OK) {
        char sql[64];

        snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%d", WAL_LIMIT_BYTES);
        rc = exec(s->db, sql);
    }
    if (rc == SQLITE_OK) {
        rc = exec(s->db, kv_create);
    }
    if (rc != SQLITE_OK) {
        return sqlite_rc(rc);
    }
    if (sqlite3_prepare_v2(s->db, "PRAGMA auto_vacuum", -1, &st, NULL) == SQLITE_OK) {
        s->incremental = query_int(st) == 2;
        sqlite3_finalize(st);
    }
    if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
        int64_t ps = query_int(st);

        s->page_size = ps > 0 ? (uint64_t) ps : 4096;
        sqlite3_finalize(st);
    }
    rc = sqlite3_prepare_v3(s->db, "PRAGMA page_count", -1, SQLITE_PREPARE_PERSISTENT,
                            &s->st_page_count, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v3(s->db, "PRAGMA freelist_count", -1,
                                SQLITE_PREPARE_PERSISTENT, &s->st_freelist, NULL);
    }
    return sqlite_rc(rc);
}

static void free_store(struct store *s)
{
    struct reader *r = s->readers;

    while (r) {
        struct reader *next = r->next;

        sqlite3_close_v2(r->db);
        free(r);
        r = next;
    }
    sqlite3_close_v2(s->kv_db);
    cache_free(s);
    sqlite3_finalize(s->st_page_count);
    sqlite3_finalize(s->st_freelist);
    if (s->db) {
        sqlite3_close_v2(s->db);
    }
    for (size_t i = 0; i < s->ntables; i++) {
        free(s->tables[i].name);
    }
    free(s->tables);
    if (s->efd >= 0) {
        close(s->efd);
    }
    free(s->ring);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->db_lock);
    pthread_mutex_destroy(&s->readers_lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->settled);
    free(s->path);
    free(s);
}

static int init_sync(struct store *s)
{
    pthread_condattr_t ca;
    int rc;

    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->db_lock, NULL);
    pthread_mutex_init(&s->readers_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&s->wake, &ca);
    if (rc == 0) {
        rc = pthread_cond_init(&s->settled, &ca);
    }
    pthread_condattr_destroy(&ca);
    return -rc;
}

int store_open(const struct store_cfg *cfg, const struct store_table *tables,
               size_t ntables, struct store **out)
{
    struct store *s;
    int rc;

    if (!cfg || !cfg->path || !cfg->path[0] || !out) {
        return -EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    s->efd = -1;
    rc = init_sync(s);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->budget = cfg->budget_bytes ? cfg->budget_bytes : DEFAULT_BUDGET;
    s->batch_ns = cfg->batch_ns > 0 ? cfg->batch_ns : DEFAULT_BATCH_NS;
    s->cap = cfg->queue_cap ? cfg->queue_cap : DEFAULT_QUEUE_CAP;
    s->ring_bytes = align8((size_t) s->cap * RING_BYTES_EACH);
    if (s->ring_bytes < RING_MIN_BYTES) {
        s->ring_bytes = RING_MIN_BYTES;
    }
    s->big_bytes = s->ring_bytes / 16;
    s->path = strdup(cfg->path);
    s->ring = malloc(s->ring_bytes);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!s->path || !s->ring || s->efd < 0) {
        rc = s->efd < 0 ? -errno : -ENOMEM;
        goto fail;
    }
    memset(s->ring, 0, s->ring_bytes); /* its pages now, not on the first writes */
    rc = setup_db(s);
    if (rc == 0) {
        rc = store_add_tables(s, tables, ntables);
    }
    if (rc < 0) {
        goto fail;
    }
    update_file_bytes(s);
    rc = -pthread_create(&s->thread, NULL, writer_main, s);
    if (rc < 0) {
        goto fail;
    }
    s->thread_started = 1;
    *out = s;
    return 0;

fail:
    free_store(s);
    return rc;
}

void store_close(struct store *s)
{
    if (!s) {
        return;
    }
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    if (s->count) {
        struct batch b = {.from = s->tail, .to = s->head, .n = s->count};

        LOGF(LOG_ERR, "store", "%s: closing with %zu writes not committed: lost", s->path,
             s->count);
        free_heaps(s, &b);
    }
    free_store(s);
}

uint64_t store_committed(const struct store *s)
{
    uint64_t v;

    pthread_mutex_lock((pthread_mutex_t *) &s->lock);
    v = s->committed;
    pthread_mutex_unlock((pthread_mutex_t *) &s->lock);
    return v;
}

int store_commit_fd(const struct store *s)
{
    return s->efd;
}

int store_flush(struct store *s, int timeout_ms)
{
    struct timespec until;
    int rc = 0;

    deadline_after(&until, (int64_t) timeout_ms * 1000000LL);
    pthread_mutex_lock(&s->lock);
    if (s->issued > s->flush_to) {
        s->flush_to = s->issued;
    }
    {
        uint64_t target = s->issued;

        pthread_cond_signal(&s->wake);
        while (s->committed < target && rc == 0) {
            if (pthread_cond_timedwait(&s->settled, &s->lock, &until) == ETIMEDOUT) {
                rc = s->committed < target ? -ETIMEDOUT : 0;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static sqlite3 *open_reader(struct store *s)
{
    sqlite3 *db = NULL;

    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        LOGF(LOG_ERR, "store", "%s: read connection: %s", s->path,
             db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    return db;
}

struct sqlite3 *store_reader(struct store *s)
{
    struct reader *r;

    if (!s) {
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        return NULL;
    }
    r->db = open_reader(s);
    if (!r->db) {
        free(r);
        return NULL;
    }
    pthread_mutex_lock(&s->readers_lock);
    r->next = s->readers;
    s->readers = r;
    pthread_mutex_unlock(&s->readers_lock);
    return r->db;
}

int store_kv_put(struct store *s, const char *key, double value)
{
    struct store_val v[3] = {
        {.type = STORE_TEXT, .p = key},
        {.type = STORE_REAL, .d = value},
        {.type = STORE_INT, .i = wall_ns()},
    };

    if (!key) {
        return -EINVAL;
    }
    return store_write(s, kv_put_sql, v, 3, NULL);
}

int store_kv_get(struct store *s, const char *key, double *value)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (!s || !key || !value) {
        return -EINVAL;
    }
    pthread_mutex_lock(&s->readers_lock);
    if (!s->kv_db) {
        s->kv_db = open_reader(s);
    }
    rc = s->kv_db ? sqlite3_prepare_v2(s->kv_db, "SELECT value FROM kv WHERE key = ?1",
                                       -1, &st, NULL)
                  : SQLITE_CANTOPEN;
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *value = sqlite3_column_double(st, 0);
            rc = 0;
        } else {
            rc = rc == SQLITE_DONE ? -PQ_ENOTFOUND : sqlite_rc(rc);
        }
    } else {
        rc = sqlite_rc(rc);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->readers_lock);
    return rc;
}

void store_stats(const struct store *s, struct store_stats *out)
{
    pthread_mutex_lock((pthread_mutex_t *) &s->lock);
    *out = s->st;
    out->pending = s->count;
    pthread_mutex_unlock((pthread_mutex_t *) &s->lock);
}

const char *store_path(const struct store *s)
{
    return s->path;
}
