/* store.h - the onboard store: one SQLite file in WAL mode that loses
 * nothing when the network or the server is down.
 *
 * Modules (event and security logs, data recorders, the MQTT outbox, pulse
 * totals) declare their tables when the store opens and then write rows
 * through one writer thread, which commits everything queued in one
 * transaction per batch (default every 1 s).  A kill -9 at any moment loses
 * at most the writes of the batch being assembled and never corrupts the file
 * (WAL with synchronous=FULL: one fsync per batch, see store.c, so a power
 * loss too loses at most that batch).
 *
 * Size budget: when the file grows past cfg->budget_bytes, the writer deletes
 * the oldest rows (lowest rowid) of the droppable tables, the table holding
 * most rows first, until it is back under the budget; the newest rows are
 * never dropped first.  Each drop is counted per table and reported to the
 * table's on_drop hook (the outbox publishes a gap record from it).
 *
 * Threads.  store_write(), store_kv_put() and store_stats() may be called
 * from any thread; they copy their arguments and never wait for the disk.
 * store_reader() hands out a read connection that belongs to the calling
 * thread's component (see there).  on_drop callbacks run on the writer
 * thread; store_commit_fd() tells the main loop about commits.
 */
#ifndef PQGATE_STORE_H
#define PQGATE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct store;

struct store_cfg {
    const char *path;      /* the database file; its directory must exist */
    uint64_t budget_bytes; /* 0: 512 MiB */
    int64_t batch_ns;      /* commit period; 0: 1 s */
    size_t queue_cap;      /* queued writes before -PQ_EFULL; 0: 65536 */
};

/* A table a module needs.  create_sql is run with IF NOT EXISTS semantics
 * at open (it must be idempotent: "CREATE TABLE IF NOT EXISTS ...", indexes
 * likewise); droppable tables take part in the size budget, in rowid order.
 * on_drop, when set, is called on the writer thread inside the transaction
 * that deleted rows first_rowid..last_rowid (count rows); it may call
 * store_write() (and so evlog_*()), never store_flush() or store_close().
 * Tables must be rowid tables (not WITHOUT ROWID). */
struct store_table {
    const char *name;
    const char *create_sql;
    int droppable;
    void (*on_drop)(void *ctx, int64_t first_rowid, int64_t last_rowid, uint64_t count);
    void *ctx;
};

enum store_vtype {
    STORE_NULL,
    STORE_INT,
    STORE_REAL,
    STORE_TEXT, /* copied at store_write(); n = strlen when 0 */
    STORE_BLOB, /* copied at store_write() */
};

struct store_val {
    int type; /* enum store_vtype */
    int64_t i;
    double d;
    const void *p;
    size_t n;
};

struct store_stats {
    uint64_t queued;    /* writes accepted */
    uint64_t committed; /* writes committed */
    uint64_t rejected;  /* writes refused with -PQ_EFULL */
    uint64_t failed;    /* writes whose statement failed (logged) */
    uint64_t commits;   /* transactions */
    uint64_t dropped;   /* rows deleted by the size budget, all tables */
    uint64_t file_bytes;
    int64_t last_commit_ns; /* CLOCK_REALTIME */
    double commit_ms_max;
    /* added with the implementation */
    double last_commit_ms;  /* duration of the last transaction */
    double busy_ms_max;     /* longest commit plus the size budget's drops after it:
                               a write waits at most a batch period and two of these */
    uint64_t commit_errors; /* transactions that failed (kept, tried again) */
    int last_error;         /* code of the last failed transaction, or 0 */
    uint64_t pending;       /* writes queued, not yet committed */
};

/* Open (creating when missing) the store at cfg->path, run the tables'
 * create_sql, check the file (PRAGMA quick_check) and start the writer.
 * Returns 0 and the store in *out (close with store_close()), -PQ_EFORMAT if
 * the file is not a database or fails the check (the caller logs; the file
 * is left alone), or another negative code. */
int store_open(const struct store_cfg *cfg, const struct store_table *tables,
               size_t ntables, struct store **out);

/* Declare more tables after store_open() (a module that starts after the
 * store component: the MQTT outbox, the recorders, the event log).  Runs
 * their create_sql at once on the writer's connection, between batches; the
 * same name declared again replaces the earlier entry's hooks (a module
 * restarted on a config reload).  Returns 0, -PQ_ECONFIG (create_sql does
 * not run: logged) or another negative code. */
int store_add_tables(struct store *s, const struct store_table *tables, size_t ntables);

/* Commit what is queued, stop the writer and close.  NULL is a no-op.  When
 * the last commit fails too, the writes still queued are lost (logged). */
void store_close(struct store *s);

/* Queue one statement with its bound values (?1..?n) for the writer.  sql
 * must stay valid for the store's life (a string literal): the writer keeps
 * one prepared statement per sql pointer.  On success *ticket (when not
 * NULL) is the write's number, increasing from 1; the write is durable once
 * store_committed() >= ticket.  Returns 0, -PQ_EFULL (queue full: not
 * queued, counted), -ENOMEM, or -EINVAL (more than 256 values).
 *
 * Queue: cfg->queue_cap writes and cfg->queue_cap x 128 bytes of values
 * (at least 1 MiB), whichever fills first; a write whose text and blobs
 * exceed 1/16 of those bytes is copied into an allocation of its own.  The
 * writer commits early when either is half full.  A failed transaction
 * (I/O error, disk full) keeps its writes queued and is tried again every
 * batch period; a statement that fails by itself (constraint, bad SQL) is
 * counted in stats.failed, logged, and does not hold up the others.  Its
 * ticket still counts as committed. */
int store_write(struct store *s, const char *sql, const struct store_val *v, size_t n,
                uint64_t *ticket);

/* Highest ticket committed so far (writes are committed in ticket order). */
uint64_t store_committed(const struct store *s);

/* A file descriptor (eventfd) that polls readable after each commit, for
 * the main loop; read 8 bytes to re-arm it. */
int store_commit_fd(const struct store *s);

/* Commit everything queued before the call, and wait for it (at most
 * timeout_ms).  Returns 0 or -ETIMEDOUT. */
int store_flush(struct store *s, int timeout_ms);

/* A read-only connection (WAL readers do not block the writer) for the
 * calling component; it sees committed data only.  One per caller: call it
 * once at start and use it from one thread; closed by store_close(). */
struct sqlite3 *store_reader(struct store *s);

/* Persistent small values (pulse totals, counters): queued like a write
 * (INSERT OR REPLACE); store_kv_get() reads the committed value.  Returns 0,
 * -PQ_ENOTFOUND (get), -PQ_EFULL or -ENOMEM. */
int store_kv_put(struct store *s, const char *key, double value);
int store_kv_get(struct store *s, const char *key, double *value);

void store_stats(const struct store *s, struct store_stats *out);

/* The file's path, as opened (borrowed, valid until store_close()). */
const char *store_path(const struct store *s);

#endif
