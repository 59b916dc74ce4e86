/* test_store.c - the onboard store: round trips, tickets and the commit fd,
 * batching, the bounded queue, bad statements, the size budget, files that
 * are not databases, kv values, readers, threads, and the fault seams: a
 * VFS shim that fails the Nth write or sync, once or for ever, and SQLite's
 * allocator failing the Nth allocation. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gateway/store.h"
#include "pq/err.h"

#define MS 1000000LL

static const char ins_row[] = "INSERT INTO t(seq, t_ns, v, s) VALUES(?1, ?2, ?3, ?4)";
static const char ins_all[] =
    "INSERT INTO vals(i, d, s, b, n) VALUES(?1, ?2, ?3, ?4, ?5)";
static const char ins_keep[] = "INSERT INTO keep(x) VALUES(?1)";
static const char ins_big[] = "INSERT INTO big(seq, b) VALUES(?1, ?2)";
static const char ins_uniq[] = "INSERT INTO uniq(k) VALUES(?1)";
static const char bad_sql[] = "INSERT INTO no_such_table VALUES(?1)";

/* ---- the fault seam: a VFS wrapping the default one -------------------- */

struct fault_file {
    sqlite3_file base;
    int counted;        /* main database or WAL */
    sqlite3_file *real; /* follows this struct */
};

enum { FAULT_WRITE, FAULT_SYNC, FAULT_KINDS };

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static sqlite3_io_methods fault_io;
static atomic_long fault_calls[FAULT_KINDS]; /* since armed */
static atomic_long fault_at[FAULT_KINDS];    /* fail call number N; 0: off */
static atomic_int fault_forever[FAULT_KINDS];
static atomic_long fault_failed[FAULT_KINDS];

static void fault_arm(int kind, long nth, int forever)
{
    atomic_store(&fault_calls[kind], 0);
    atomic_store(&fault_failed[kind], 0);
    atomic_store(&fault_forever[kind], forever);
    atomic_store(&fault_at[kind], nth);
}

static void fault_off(void)
{
    for (int k = 0; k < FAULT_KINDS; k++) {
        atomic_store(&fault_at[k], 0);
    }
}

static int fault_hit(int kind, const struct fault_file *f)
{
    long at = atomic_load(&fault_at[kind]);
    long n;

    if (!f->counted || at == 0) {
        return 0;
    }
    n = atomic_fetch_add(&fault_calls[kind], 1) + 1;
    if (n == at || (n > at && atomic_load(&fault_forever[kind]))) {
        atomic_fetch_add(&fault_failed[kind], 1);
        return 1;
    }
    return 0;
}

#define REAL(f) (((struct fault_file *) (f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (fault_hit(FAULT_WRITE, (struct fault_file *) f)) {
        return SQLITE_IOERR_WRITE;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    if (fault_hit(FAULT_SYNC, (struct fault_file *) f)) {
        return SQLITE_IOERR_FSYNC;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int f_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int f_device_characteristics(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                  int *out_flags)
{
    struct fault_file *f = (struct fault_file *) file;
    int rc;

    (void) vfs;
    f->real = (sqlite3_file *) (f + 1);
    f->counted = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
    rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    f->base.pMethods = rc == SQLITE_OK && f->real->pMethods ? &fault_io : NULL;
    return rc;
}

static int f_delete(sqlite3_vfs *v, const char *n, int sync)
{
    (void) v;
    return real_vfs->xDelete(real_vfs, n, sync);
}

static int f_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
    (void) v;
    return real_vfs->xAccess(real_vfs, n, flags, out);
}

static int f_full_pathname(sqlite3_vfs *v, const char *n, int cap, char *out)
{
    (void) v;
    return real_vfs->xFullPathname(real_vfs, n, cap, out);
}

static void install_fault_vfs(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    assert_non_null(real_vfs);
    fault_vfs = *real_vfs; /* randomness, sleep, time and the rest as they are */
    fault_vfs.zName = "fault";
    fault_vfs.szOsFile = (int) sizeof(struct fault_file) + real_vfs->szOsFile;
    fault_vfs.xOpen = f_open;
    fault_vfs.xDelete = f_delete;
    fault_vfs.xAccess = f_access;
    fault_vfs.xFullPathname = f_full_pathname;
    fault_io = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = f_close,
        .xRead = f_read,
        .xWrite = f_write,
        .xTruncate = f_truncate,
        .xSync = f_sync,
        .xFileSize = f_file_size,
        .xLock = f_lock,
        .xUnlock = f_unlock,
        .xCheckReservedLock = f_check_reserved,
        .xFileControl = f_file_control,
        .xSectorSize = f_sector_size,
        .xDeviceCharacteristics = f_device_characteristics,
        .xShmMap = f_shm_map,
        .xShmLock = f_shm_lock,
        .xShmBarrier = f_shm_barrier,
        .xShmUnmap = f_shm_unmap,
        .xFetch = f_fetch,
        .xUnfetch = f_unfetch,
    };
    assert_int_equal(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
}

/* ---- the allocation seam: SQLite's allocator, failing the Nth call ------ */

static sqlite3_mem_methods real_mem;
static atomic_long alloc_calls, alloc_at, alloc_failed;

static int alloc_hit(void)
{
    long at = atomic_load(&alloc_at);

    if (at == 0) {
        return 0;
    }
    if (atomic_fetch_add(&alloc_calls, 1) + 1 == at) {
        atomic_fetch_add(&alloc_failed, 1);
        return 1;
    }
    return 0;
}

static void *m_malloc(int n)
{
    return alloc_hit() ? NULL : real_mem.xMalloc(n);
}

static void *m_realloc(void *p, int n)
{
    return alloc_hit() ? NULL : real_mem.xRealloc(p, n);
}

static void alloc_arm(long nth)
{
    atomic_store(&alloc_calls, 0);
    atomic_store(&alloc_failed, 0);
    atomic_store(&alloc_at, nth);
}

/* Before SQLite initialises: its allocator with a counter in front. */
static void install_fault_malloc(void)
{
    sqlite3_mem_methods m;

    assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
    m = real_mem;
    m.xMalloc = m_malloc;
    m.xRealloc = m_realloc;
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
}

/* ---- fixtures ---------------------------------------------------------- */

struct drops {
    pthread_mutex_t lock;
    uint64_t rows, calls;
    int64_t first, last; /* of the first and the last call */
};

static void on_drop(void *ctx, int64_t first, int64_t last, uint64_t count)
{
    struct drops *d = ctx;

    pthread_mutex_lock(&d->lock);
    if (d->calls == 0) {
        d->first = first;
    }
    d->last = last;
    d->rows += count;
    d->calls++;
    pthread_mutex_unlock(&d->lock);
}

struct fx {
    char dir[64];
    char path[96];
    struct drops drops;
    struct store_table tables[6];
};

static void fx_tables(struct fx *f)
{
    f->tables[0] = (struct store_table){
        "t",
        "CREATE TABLE IF NOT EXISTS t (seq INTEGER NOT NULL, t_ns INTEGER NOT NULL, "
        "v REAL, s TEXT)",
        1, on_drop, &f->drops};
    f->tables[1] = (struct store_table){
        "vals", "CREATE TABLE IF NOT EXISTS vals (i INTEGER, d REAL, s TEXT, b BLOB, n)",
        0, NULL, NULL};
    f->tables[2] = (struct store_table){
        "keep", "CREATE TABLE IF NOT EXISTS keep (x BLOB)", 0, NULL, NULL};
    f->tables[3] = (struct store_table){
        "big", "CREATE TABLE IF NOT EXISTS big (seq INTEGER, b BLOB)", 1, NULL, NULL};
    f->tables[4] = (struct store_table){
        "uniq", "CREATE TABLE IF NOT EXISTS uniq (k INTEGER PRIMARY KEY)", 0, NULL, NULL};
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (!f) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    pthread_mutex_init(&f->drops.lock, NULL);
    fx_tables(f);
    fault_off();
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    fault_off();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    pthread_mutex_destroy(&f->drops.lock);
    free(f);
    return 0;
}

static struct store *fx_open(struct fx *f, int64_t batch_ns, size_t cap, uint64_t budget)
{
    struct store_cfg c = {
        .path = f->path, .budget_bytes = budget, .batch_ns = batch_ns, .queue_cap = cap};
    struct store *s = NULL;

    assert_int_equal(store_open(&c, f->tables, 5, &s), 0);
    assert_non_null(s);
    return s;
}

static int write_row(struct store *s, int64_t seq, uint64_t *ticket)
{
    char text[32];
    struct store_val v[4] = {
        {.type = STORE_INT, .i = seq},
        {.type = STORE_INT, .i = seq * 1000},
        {.type = STORE_REAL, .d = (double) seq / 4.0},
        {.type = STORE_TEXT, .p = text},
    };

    snprintf(text, sizeof(text), "row %lld", (long long) seq);
    return store_write(s, ins_row, v, 4, ticket);
}

/* An independent connection: what a new process would see in the file. */
static int64_t count_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The first column of the first row as text, in a static buffer. */
static const char *check_sql(const char *path, const char *sql)
{
    static char out[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    snprintf(out, sizeof(out), "(no row)");
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out, sizeof(out), "%s", (const char *) sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- tests ------------------------------------------------------------- */

static void test_store_values_of_every_type_read_back_equal(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 50 * MS, 0, 0);
    static const unsigned char blob[5] = {0, 1, 2, 0xff, 0};
    struct store_val v[5] = {
        {.type = STORE_INT, .i = -1234567890123LL},
        {.type = STORE_REAL, .d = 49.987654321},
        {.type = STORE_TEXT, .p = "phase A \xc2\xb5V"},
        {.type = STORE_BLOB, .p = blob, .n = sizeof(blob)},
        {.type = STORE_NULL},
    };
    char text[16] = "ab";
    struct store_val t2[5] = {
        {.type = STORE_INT, .i = 2},
        {.type = STORE_NULL},
        {.type = STORE_TEXT, .p = text, .n = 1}, /* only "a" */
        {.type = STORE_BLOB, .p = NULL, .n = 0},
        {.type = STORE_NULL},
    };
    sqlite3 *r;
    sqlite3_stmt *st;

    assert_int_equal(store_write(s, ins_all, v, 5, NULL), 0);
    assert_int_equal(store_write(s, ins_all, t2, 5, NULL), 0);
    strcpy(text, "zz"); /* copied at the call: the change must not show */
    assert_int_equal(store_flush(s, 5000), 0);
    r = store_reader(s);
    assert_non_null(r);
    assert_int_equal(sqlite3_prepare_v2(r,
                                        "SELECT i, d, s, b, typeof(n), typeof(d) FROM "
                                        "vals ORDER BY rowid",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_int64(st, 0) == -1234567890123LL);
    assert_true(sqlite3_column_double(st, 1) == 49.987654321);
    assert_string_equal((const char *) sqlite3_column_text(st, 2), "phase A \xc2\xb5V");
    assert_int_equal(sqlite3_column_bytes(st, 3), 5);
    assert_memory_equal(sqlite3_column_blob(st, 3), blob, 5);
    assert_string_equal((const char *) sqlite3_column_text(st, 4), "null");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *) sqlite3_column_text(st, 2), "a");
    assert_string_equal((const char *) sqlite3_column_text(st, 5), "null");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    store_close(s);
}

static void test_store_tickets_increase_and_commit_fd_signals_each_commit(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 20 * MS, 0, 0);
    uint64_t t1 = 0, t2 = 0, t3 = 0, n = 0;
    struct pollfd p = {.fd = store_commit_fd(s), .events = POLLIN};

    assert_true(p.fd >= 0);
    assert_int_equal(poll(&p, 1, 0), 0);
    assert_int_equal(write_row(s, 1, &t1), 0);
    assert_int_equal(write_row(s, 2, &t2), 0);
    assert_int_equal(write_row(s, 3, &t3), 0);
    assert_true(t1 == 1 && t2 == 2 && t3 == 3);
    assert_int_equal(store_flush(s, 5000), 0);
    assert_true(store_committed(s) >= t3);
    assert_int_equal(poll(&p, 1, 1000), 1);
    assert_int_equal(read(p.fd, &n, sizeof(n)), (ssize_t) sizeof(n));
    assert_true(n >= 1);
    assert_int_equal(poll(&p, 1, 0), 0); /* re-armed */
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM t"), 3);
    store_close(s);
}

static void test_store_write_is_committed_by_the_batch_period_not_at_once(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 400 * MS, 0, 0);
    uint64_t t = 0;
    int64_t t0 = mono_ms(), dt;
    struct store_stats st;

    assert_int_equal(write_row(s, 1, &t), 0);
    assert_true(store_committed(s) < t); /* queued, not yet on disk */
    while (store_committed(s) < t && mono_ms() - t0 < 5000) {
        usleep(2000);
    }
    dt = mono_ms() - t0;
    assert_true(store_committed(s) >= t);
    /* one batch period, 400 ms; tolerance for a busy machine: -50 / +2000 ms */
    assert_true(dt >= 350 && dt <= 2400);
    store_stats(s, &st);
    assert_true(st.commits == 1);
    assert_true(st.queued == 1 && st.committed == 1 && st.pending == 0);
    store_close(s);
}

static void test_store_queue_past_half_full_commits_before_the_period(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 60000 * MS, 100, 0); /* a minute */
    uint64_t t = 0;
    int64_t t0;

    for (int i = 0; i < 51; i++) {
        assert_int_equal(write_row(s, i, &t), 0);
    }
    t0 = mono_ms();
    while (store_committed(s) < t && mono_ms() - t0 < 10000) {
        usleep(2000);
    }
    assert_true(store_committed(s) >= t); /* long before the minute */
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM t"), 51);
    store_close(s);
}

static void test_store_full_queue_refuses_counts_and_recovers(void **state)
{
    struct fx *f = *state;
    struct store *s;
    struct store_stats st;
    int i, rc = 0;

    /* 1 MiB of ring for 8 writes: the count limit fills first; the writer
     * commits at half full, so write faster than it can wake by holding
     * the queue with writes that the period does not commit */
    s = fx_open(f, 60000 * MS, 8, 0);
    for (i = 0; i < 1000; i++) {
        rc = write_row(s, i, NULL);
        if (rc < 0) {
            break;
        }
    }
    if (rc == 0) {
        store_close(s);
        skip(); /* the writer kept up with 1000 writes: nothing to test */
    }
    assert_int_equal(rc, -PQ_EFULL);
    store_stats(s, &st);
    assert_true(st.rejected == 1);
    assert_true(st.queued == (uint64_t) i);
    assert_int_equal(store_flush(s, 5000), 0);
    assert_int_equal(write_row(s, 5000, NULL), 0);
    assert_int_equal(store_flush(s, 5000), 0);
    store_stats(s, &st);
    assert_true(st.committed == (uint64_t) i + 1);
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM t"), i + 1);
    store_close(s);
}

static void test_store_failing_statement_is_counted_and_others_commit(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 50 * MS, 0, 0);
    struct store_val k = {.type = STORE_INT, .i = 7};
    struct store_stats st;
    uint64_t t = 0;

    assert_int_equal(store_write(s, ins_uniq, &k, 1, NULL), 0);
    assert_int_equal(store_write(s, ins_uniq, &k, 1, NULL), 0); /* duplicate key */
    assert_int_equal(store_write(s, bad_sql, &k, 1, NULL), 0);  /* no such table */
    assert_int_equal(store_write(s, bad_sql, &k, 1, NULL), 0);
    assert_int_equal(write_row(s, 1, &t), 0);
    assert_int_equal(store_flush(s, 5000), 0);
    assert_true(store_committed(s) == t);
    store_stats(s, &st);
    assert_true(st.failed == 3);
    assert_true(st.committed == 2);
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM uniq"), 1);
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM t"), 1);
    store_close(s);
}

static void test_store_file_that_is_not_a_database_is_refused_and_left_alone(void **state)
{
    struct fx *f = *state;
    struct store_cfg c = {.path = f->path};
    struct store *s = NULL;
    char junk[8192], back[8192];
    struct stat sb;
    FILE *fp;

    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (char) ('A' + i % 26);
    }
    fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
    fclose(fp);
    assert_int_equal(store_open(&c, f->tables, 5, &s), -PQ_EFORMAT);
    assert_null(s);
    fp = fopen(f->path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(back));
    assert_int_equal(fgetc(fp), EOF);
    fclose(fp);
    assert_memory_equal(junk, back, sizeof(junk));
    {
        char wal[128];

        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        assert_int_equal(stat(wal, &sb), -1);
    }
}

static void test_store_corrupt_page_fails_the_check_with_eformat(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 20 * MS, 0, 0);
    struct store_cfg c = {.path = f->path};
    unsigned char page[4096];
    int fd;

    for (int i = 0; i < 3000; i++) {
        assert_int_equal(write_row(s, i, NULL), 0);
    }
    assert_int_equal(store_flush(s, 5000), 0);
    store_close(s); /* checkpoints the WAL into the file */
    s = NULL;
    /* overwrite the third page (a b-tree page of t) with garbage */
    memset(page, 0x5a, sizeof(page));
    fd = open(f->path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, page, sizeof(page), 2 * 4096), (ssize_t) sizeof(page));
    close(fd);
    assert_int_equal(store_open(&c, f->tables, 5, &s), -PQ_EFORMAT);
    assert_null(s);
}

static void test_store_kv_value_survives_reopen_and_missing_key_is_notfound(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 20 * MS, 0, 0);
    double v = 0;

    assert_int_equal(store_kv_get(s, "gas_main", &v), -PQ_ENOTFOUND);
    assert_int_equal(store_kv_put(s, "gas_main", 1234.5), 0);
    assert_int_equal(store_kv_put(s, "gas_main", 1234.75), 0); /* replaces */
    assert_int_equal(store_flush(s, 5000), 0);
    assert_int_equal(store_kv_get(s, "gas_main", &v), 0);
    assert_true(v == 1234.75);
    store_close(s);
    s = fx_open(f, 20 * MS, 0, 0);
    v = 0;
    assert_int_equal(store_kv_get(s, "gas_main", &v), 0);
    assert_true(v == 1234.75);
    assert_int_equal(store_kv_get(s, "water", &v), -PQ_ENOTFOUND);
    store_close(s);
}

static void test_store_reader_sees_committed_rows_only(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 60000 * MS, 0, 0);
    sqlite3 *r = store_reader(s);
    sqlite3_stmt *st;

    assert_non_null(r);
    assert_int_equal(write_row(s, 1, NULL), 0);
    assert_int_equal(sqlite3_prepare_v2(r, "SELECT count(*) FROM t", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0); /* queued only */
    sqlite3_reset(st);
    assert_int_equal(store_flush(s, 5000), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    /* read-only: a write through it is refused */
    assert_int_equal(sqlite3_exec(r, "DELETE FROM t", NULL, NULL, NULL), SQLITE_READONLY);
    store_close(s); /* closes r */
}

static void test_store_tables_added_after_open_take_writes(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 20 * MS, 0, 0);
    static const char ins[] = "INSERT INTO late(a) VALUES(?1)";
    struct store_table late = {"late", "CREATE TABLE IF NOT EXISTS late (a INTEGER)", 1,
                               NULL, NULL};
    struct store_table broken = {"broken", "CREATE TABL broken (a)", 0, NULL, NULL};
    struct store_val v = {.type = STORE_INT, .i = 42};

    assert_int_equal(store_add_tables(s, &late, 1), 0);
    assert_int_equal(store_add_tables(s, &late, 1), 0); /* idempotent */
    assert_int_equal(store_add_tables(s, &broken, 1), -PQ_ECONFIG);
    assert_int_equal(store_write(s, ins, &v, 1, NULL), 0);
    assert_int_equal(store_flush(s, 5000), 0);
    assert_int_equal(count_sql(f->path, "SELECT sum(a) FROM late"), 42);
    store_close(s);
}

static void test_store_large_blob_round_trips(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 20 * MS, 0, 0);
    size_t n = 300000; /* past 1/16 of the 1 MiB ring: allocated apart */
    unsigned char *b = malloc(n);
    struct store_val v[2] = {{.type = STORE_INT, .i = 1}, {.type = STORE_BLOB, .n = n}};
    sqlite3 *db;
    sqlite3_stmt *st;

    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        b[i] = (unsigned char) (i * 7 + 3);
    }
    v[1].p = b;
    assert_int_equal(store_write(s, ins_big, v, 2, NULL), 0);
    assert_int_equal(store_flush(s, 5000), 0);
    db = store_reader(s);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT b FROM big", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(st, 0), (int) n);
    assert_memory_equal(sqlite3_column_blob(st, 0), b, n);
    sqlite3_finalize(st);
    free(b);
    store_close(s);
}

static void test_store_budget_drops_oldest_rows_of_droppable_tables_only(void **state)
{
    struct fx *f = *state;
    uint64_t budget = 2u << 20; /* 2 MiB */
    struct store *s = fx_open(f, 50 * MS, 0, budget);
    static unsigned char blob[1000];
    struct store_val kv = {.type = STORE_BLOB, .p = blob, .n = sizeof(blob)};
    struct store_stats st;
    struct stat sb;
    int64_t rows, lo, hi, n_rows = 8000;

    /* 200 kB in a table the budget may not touch */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(store_write(s, ins_keep, &kv, 1, NULL), 0);
    }
    /* 8000 small rows (~40 B) in t and 4000 rows of 1 kB in big: 4.5 MB */
    for (int64_t i = 1; i <= n_rows; i++) {
        struct store_val v[2] = {{.type = STORE_INT, .i = i},
                                 {.type = STORE_BLOB, .p = blob, .n = sizeof(blob)}};

        assert_int_equal(write_row(s, i, NULL), 0);
        if (i % 2 == 0) {
            v[0].i = i / 2;
            assert_int_equal(store_write(s, ins_big, v, 2, NULL), 0);
        }
        if (i % 1000 == 0) {
            assert_int_equal(store_flush(s, 10000), 0);
        }
    }
    assert_int_equal(store_flush(s, 10000), 0);
    /* the writer drops a quarter period's worth a cycle and goes on in idle
     * periods: wait until it is back under the budget */
    for (int64_t t0 = mono_ms(); mono_ms() - t0 < 20000;) {
        store_stats(s, &st);
        if (st.file_bytes <= budget) {
            break;
        }
        usleep(10000);
    }
    store_stats(s, &st);
    assert_true(st.dropped > 0);
    /* pages in use under 95 % of the budget, free pages up to 5 % kept */
    if (st.file_bytes > budget) {
        print_error("file %llu bytes\n", (unsigned long long) st.file_bytes);
    }
    assert_true(st.file_bytes <= budget);
    store_close(s); /* the writer may still be dropping after the flush */
    /* the file: within the budget plus one batch (1000 rows of t and 500 of
     * big: 600 kB) */
    assert_int_equal(stat(f->path, &sb), 0);
    assert_true((uint64_t) sb.st_size <= budget + 600000);
    /* the untouchable table is whole */
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM keep"), 200);
    /* the newest rows are there and what is left is contiguous */
    hi = count_sql(f->path, "SELECT max(seq) FROM big");
    lo = count_sql(f->path, "SELECT min(seq) FROM big");
    rows = count_sql(f->path, "SELECT count(*) FROM big");
    assert_int_equal(hi, 4000);
    assert_true(lo > 1);
    assert_int_equal(rows, hi - lo + 1);
    hi = count_sql(f->path, "SELECT max(seq) FROM t");
    lo = count_sql(f->path, "SELECT min(seq) FROM t");
    rows = count_sql(f->path, "SELECT count(*) FROM t");
    assert_int_equal(hi, n_rows);
    assert_int_equal(rows, hi - lo + 1);
    /* on_drop reported every row t lost, from the first rowid */
    pthread_mutex_lock(&f->drops.lock);
    assert_true(f->drops.rows == (uint64_t) (n_rows - rows));
    if (f->drops.calls) {
        assert_true(f->drops.first == 1);
        assert_true(f->drops.last == lo - 1);
    }
    pthread_mutex_unlock(&f->drops.lock);
    assert_string_equal(check_sql(f->path, "PRAGMA integrity_check"), "ok");
}

struct writer_arg {
    struct store *s;
    int id;
    int n;
    int refused;
};

static void *writer_thread(void *p)
{
    struct writer_arg *a = p;

    for (int i = 0; i < a->n; i++) {
        int rc;

        while ((rc = write_row(a->s, (int64_t) a->id * 1000000 + i, NULL)) == -PQ_EFULL) {
            a->refused++;
            usleep(1000);
        }
        assert_int_equal(rc, 0);
    }
    return NULL;
}

static void test_store_four_writer_threads_lose_nothing(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 30 * MS, 4096, 0);
    pthread_t th[4];
    struct writer_arg a[4];
    struct store_stats st;

    for (int i = 0; i < 4; i++) {
        a[i] = (struct writer_arg){s, i + 1, 20000, 0};
        assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    assert_int_equal(store_flush(s, 20000), 0);
    store_stats(s, &st);
    assert_true(st.queued == 80000 && st.committed == 80000);
    assert_true(st.rejected ==
                (uint64_t) (a[0].refused + a[1].refused + a[2].refused + a[3].refused));
    assert_int_equal(count_sql(f->path, "SELECT count(DISTINCT seq) FROM t"), 80000);
    for (int i = 0; i < 4; i++) {
        char sql[128];

        snprintf(sql, sizeof(sql),
                 "SELECT max(seq) - min(seq) + 1 FROM t WHERE seq / 1000000 = %d", i + 1);
        assert_int_equal(count_sql(f->path, sql), 20000);
    }
    store_close(s);
}

static void test_store_failed_write_once_is_retried_and_nothing_lost(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 50 * MS, 0, 0);
    struct store_stats st;

    for (int i = 0; i < 100; i++) {
        assert_int_equal(write_row(s, i, NULL), 0);
    }
    assert_int_equal(store_flush(s, 5000), 0);
    fault_arm(FAULT_WRITE, 1, 0); /* the next write to the database or the WAL */
    for (int i = 100; i < 300; i++) {
        assert_int_equal(write_row(s, i, NULL), 0);
    }
    assert_int_equal(store_flush(s, 10000), 0);
    assert_true(atomic_load(&fault_failed[FAULT_WRITE]) == 1);
    store_stats(s, &st);
    assert_true(st.commit_errors == 1);
    assert_true(st.last_error == -EIO);
    assert_true(st.committed == 300);
    fault_off();
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM t"), 300);
    assert_int_equal(count_sql(f->path, "SELECT max(seq) - min(seq) + 1 FROM t"), 300);
    store_close(s);
}

static void test_store_failed_sync_once_is_retried_and_nothing_lost(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 50 * MS, 0, 0);
    struct store_stats st;

    fault_arm(FAULT_SYNC, 1, 0);
    for (int i = 0; i < 500; i++) {
        assert_int_equal(write_row(s, i, NULL), 0);
    }
    assert_int_equal(store_flush(s, 10000), 0);
    assert_true(atomic_load(&fault_failed[FAULT_SYNC]) == 1);
    store_stats(s, &st);
    assert_true(st.commit_errors >= 1);
    fault_off();
    store_close(s);
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM t"), 500);
}

static void test_store_permanent_write_failure_is_reported_not_crashed_on(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 30 * MS, 64, 0);
    struct store_stats st;
    int rc = 0, i;

    for (i = 0; i < 10; i++) {
        assert_int_equal(write_row(s, i, NULL), 0);
    }
    assert_int_equal(store_flush(s, 5000), 0);
    fault_arm(FAULT_WRITE, 1, 1); /* every write from now on */
    for (i = 10; i < 20; i++) {
        assert_int_equal(write_row(s, i, NULL), 0);
    }
    assert_int_equal(store_flush(s, 300), -ETIMEDOUT);
    store_stats(s, &st);
    assert_true(st.commit_errors >= 1);
    assert_true(st.last_error == -EIO);
    assert_true(st.pending == 10);
    assert_true(st.committed == 10);
    /* the queue fills and then refuses, counted */
    for (i = 20; i < 1000 && rc == 0; i++) {
        rc = write_row(s, i, NULL);
    }
    assert_int_equal(rc, -PQ_EFULL);
    store_stats(s, &st);
    assert_true(st.rejected >= 1);
    /* the disk comes back: everything queued lands */
    fault_off();
    assert_int_equal(store_flush(s, 10000), 0);
    store_stats(s, &st);
    assert_true(st.pending == 0);
    store_close(s);
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM t"), 10 + 64);
    assert_int_equal(count_sql(f->path, "SELECT max(seq) - min(seq) + 1 FROM t"), 74);
}

static void test_store_failed_allocation_nth_is_retried_and_nothing_lost(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 20 * MS, 0, 0);
    struct store_stats st;
    int64_t seq = 0;
    long hits = 0;

    /* warm up: the statements are prepared, the caches full */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(write_row(s, seq++, NULL), 0);
    }
    assert_int_equal(store_flush(s, 5000), 0);
    /* fail the 1st, 2nd, ... 60th allocation SQLite makes after the writes
     * are queued, once each: somewhere in a commit (or its retry) */
    for (long n = 1; n <= 60; n++) {
        for (int i = 0; i < 50; i++) {
            assert_int_equal(write_row(s, seq++, NULL), 0);
        }
        alloc_arm(n);
        assert_int_equal(store_flush(s, 10000), 0);
        hits += atomic_load(&alloc_failed);
        alloc_arm(0);
    }
    store_stats(s, &st);
    assert_true(hits > 0); /* the seam was reached */
    assert_true(st.committed == (uint64_t) seq);
    assert_true(st.pending == 0);
    store_close(s);
    assert_int_equal(count_sql(f->path, "SELECT count(*) FROM t"), seq);
    assert_int_equal(count_sql(f->path, "SELECT max(seq) - min(seq) + 1 FROM t"), seq);
    assert_string_equal(check_sql(f->path, "PRAGMA integrity_check"), "ok");
}

static void test_store_close_with_a_dead_disk_returns(void **state)
{
    struct fx *f = *state;
    struct store *s = fx_open(f, 30 * MS, 0, 0);
    int64_t t0;

    for (int i = 0; i < 10; i++) {
        assert_int_equal(write_row(s, i, NULL), 0);
    }
    fault_arm(FAULT_WRITE, 1, 1);
    t0 = mono_ms();
    store_close(s); /* one last try, logged as lost */
    assert_true(mono_ms() - t0 < 5000);
    fault_off();
    assert_string_equal(check_sql(f->path, "PRAGMA quick_check"), "ok");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
        T(test_store_values_of_every_type_read_back_equal),
        T(test_store_tickets_increase_and_commit_fd_signals_each_commit),
        T(test_store_write_is_committed_by_the_batch_period_not_at_once),
        T(test_store_queue_past_half_full_commits_before_the_period),
        T(test_store_full_queue_refuses_counts_and_recovers),
        T(test_store_failing_statement_is_counted_and_others_commit),
        T(test_store_file_that_is_not_a_database_is_refused_and_left_alone),
        T(test_store_corrupt_page_fails_the_check_with_eformat),
        T(test_store_kv_value_survives_reopen_and_missing_key_is_notfound),
        T(test_store_reader_sees_committed_rows_only),
        T(test_store_tables_added_after_open_take_writes),
        T(test_store_large_blob_round_trips),
        T(test_store_budget_drops_oldest_rows_of_droppable_tables_only),
        T(test_store_four_writer_threads_lose_nothing),
        T(test_store_failed_write_once_is_retried_and_nothing_lost),
        T(test_store_failed_sync_once_is_retried_and_nothing_lost),
        T(test_store_permanent_write_failure_is_reported_not_crashed_on),
        T(test_store_failed_allocation_nth_is_retried_and_nothing_lost),
        T(test_store_close_with_a_dead_disk_returns),
#undef T
    };

    install_fault_malloc();
    install_fault_vfs();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
