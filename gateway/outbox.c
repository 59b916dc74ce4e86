/* outbox.c - store and forward for MQTT: rows in the onboard store, a window
 * of messages in flight, backlog and live cursors, budget and gaps.
 *
 * State of a message (rows are keyed by seq):
 *
 *   queued (store_write) -> committed (visible to the reader) -> sent (slot
 *   SENT, mid known) -> acknowledged (slot ACKED) -> deletion queued (slot
 *   DELETING, ticket) -> deletion committed (slot free)
 *
 * The reader sees committed rows only, so nothing is sent before it is
 * durable.  Two cursors walk the table in seq order: the backlog range
 * (bl_cur, bl_hi], made of the rows that were waiting when the link came up
 * (or when the process started), and the live rows above live_cur.  A row of
 * the backlog range that is still in the window (sent before an outage and
 * resent by the transport itself) is skipped.
 */
#include "gateway/outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "gateway/store.h"
#include "pq/err.h"

#define MAX_PENDING_GAPS 16
#define MAX_DECLARED     16 /* ranges of one gap record */
#define KV_SEQ           "mqtt.seq"
#define NO_SLOT          (-1)

enum slot_state {
    SLOT_FREE,
    SLOT_SENT,     /* handed to the transport, no PUBACK yet */
    SLOT_ACKED,    /* PUBACK seen, deletion not queued yet */
    SLOT_DELETING, /* deletion queued as ticket */
};

struct slot {
    int state;
    int mid;
    int dropped; /* the budget deleted its row: do not count it twice */
    uint64_t seq;
    uint64_t ticket;
};

struct gap {
    uint64_t first, last, count;
    const char *reason;
};

struct outbox {
    struct store *store;
    struct sqlite3 *db; /* the store's read connection: committed rows only */
    struct outbox_cfg cfg;
    struct outbox_sink sink;
    struct sqlite3_stmt *q_backlog, *q_live, *q_max, *q_nth;

    uint64_t next_seq;
    uint64_t rows;      /* rows in the table: committed or queued */
    uint64_t bl_cur;    /* backlog sent up to here */
    uint64_t bl_hi;     /* backlog ends here */
    uint64_t live_cur;  /* live rows sent up to here */
    uint64_t max_sent;  /* highest seq ever handed to the transport */
    uint64_t kv_seq;    /* highest seq written to kv KV_SEQ */
    double credit;      /* replay share accumulator */
    uint64_t drop_last; /* last seq of the latest budget drop */
    int link_up;

    struct slot *slots; /* cfg.window of them */
    int *free_slots;    /* stack of free slot indexes */
    unsigned nfree;
    int32_t *slot_of_mid; /* 65536 entries, NO_SLOT when unknown */

    /* ranges declared by gap records not acknowledged yet; the newest record
     * repeats them all */
    uint64_t declared[MAX_DECLARED][2];
    size_t ndeclared;
    uint64_t gap_seq;   /* the newest gap record of this run, 0: none */
    uint64_t *gap_rows; /* this run's gap records still in the table */
    size_t ngap_rows;
    uint64_t (*dead)[2]; /* gap records deleted, deletion not committed:
                            {seq, ticket}; the reader still sees them */
    size_t ndead;

    /* losses to report at the next pump; filled from the writer thread too */
    pthread_mutex_t lock;
    struct gap pending[MAX_PENDING_GAPS];
    size_t npending;
    uint64_t store_dropped; /* rows the store's budget deleted, not yet counted */

    uint64_t enqueued, sent, acked, dropped, gaps;
};

static const char *const create_sql = "CREATE TABLE IF NOT EXISTS mqtt_outbox ("
                                      "seq INTEGER PRIMARY KEY, "
                                      "topic TEXT NOT NULL, "
                                      "payload BLOB NOT NULL, "
                                      "gap INTEGER NOT NULL DEFAULT 0)";

static const char *const sql_insert = "INSERT OR REPLACE INTO mqtt_outbox (seq, topic, "
                                      "payload, gap) VALUES (?1, ?2, ?3, ?4)";
static const char *const sql_delete = "DELETE FROM mqtt_outbox WHERE seq = ?1";
static const char *const sql_drop =
    "DELETE FROM mqtt_outbox WHERE gap = 0 AND seq > ?1 AND seq <= ?2";

/* One outbox per process: the store's on_drop hook finds it here. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct outbox *open_outbox;

static void add_gap_locked(struct outbox *o, uint64_t first, uint64_t last,
                           uint64_t count, const char *reason)
{
    struct gap *g = o->npending ? &o->pending[o->npending - 1] : NULL;

    if (g && g->reason == reason && first == g->last + 1) {
        g->last = last;
        g->count += count;
        return;
    }
    if (o->npending == MAX_PENDING_GAPS) { /* widen the last one: still covers all */
        g->last = last > g->last ? last : g->last;
        g->first = first < g->first ? first : g->first;
        g->count += count;
        return;
    }
    o->pending[o->npending++] = (struct gap){first, last, count, reason};
}

/* The store's size budget deleted rowids first..last: the writer thread. */
static void on_store_drop(void *ctx, int64_t first, int64_t last, uint64_t count)
{
    (void) ctx;
    pthread_mutex_lock(&open_lock);
    if (open_outbox) {
        pthread_mutex_lock(&open_outbox->lock);
        add_gap_locked(open_outbox, (uint64_t) first, (uint64_t) last, count,
                       "store_budget");
        open_outbox->store_dropped += count;
        pthread_mutex_unlock(&open_outbox->lock);
    }
    pthread_mutex_unlock(&open_lock);
}

const struct store_table outbox_store_table = {
    .name = "mqtt_outbox",
    .create_sql = create_sql,
    .droppable = 1,
    .on_drop = on_store_drop,
    .ctx = NULL,
};

static void add_gap(struct outbox *o, uint64_t first, uint64_t last, uint64_t count,
                    const char *reason)
{
    pthread_mutex_lock(&o->lock);
    add_gap_locked(o, first, last, count, reason);
    pthread_mutex_unlock(&o->lock);
}

/* ---- open and close ------------------------------------------------------------ */

static int prepare(struct outbox *o)
{
    static const char *const sql[] = {
        "SELECT seq, topic, payload FROM mqtt_outbox WHERE seq > ?1 AND seq <= ?2 "
        "ORDER BY seq LIMIT ?3",
        "SELECT seq, topic, payload FROM mqtt_outbox WHERE seq > ?1 ORDER BY seq LIMIT "
        "?2",
        "SELECT max(seq) FROM mqtt_outbox",
        "SELECT seq FROM mqtt_outbox WHERE gap = 0 AND seq > ?1 AND seq <= ?2 ORDER BY "
        "seq "
        "LIMIT ?3",
    };
    struct sqlite3_stmt **st[] = {&o->q_backlog, &o->q_live, &o->q_max, &o->q_nth};

    for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
        if (sqlite3_prepare_v3(o->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, st[i],
                               NULL) != SQLITE_OK) {
            return -PQ_EFORMAT;
        }
    }
    return 0;
}

/* Rows an earlier run left: all of them are the backlog. */
static int load_state(struct outbox *o)
{
    struct sqlite3_stmt *st = NULL;
    uint64_t lo = 0, hi = 0, n = 0;
    double kv = 0;

    if (sqlite3_prepare_v2(o->db, "SELECT min(seq), max(seq), count(*) FROM mqtt_outbox",
                           -1, &st, NULL) != SQLITE_OK) {
        return -PQ_EFORMAT;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        lo = (uint64_t) sqlite3_column_int64(st, 0);
        hi = (uint64_t) sqlite3_column_int64(st, 1);
        n = (uint64_t) sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (store_kv_get(o->store, KV_SEQ, &kv) < 0 || kv < 0) {
        kv = 0;
    }
    o->kv_seq = (uint64_t) kv;
    o->rows = n;
    o->bl_cur = n ? lo - 1 : hi;
    o->bl_hi = hi;
    o->live_cur = hi;
    o->next_seq = (hi > o->kv_seq ? hi : o->kv_seq) + 1;
    return 0;
}

static void finalize_all(struct outbox *o)
{
    sqlite3_finalize(o->q_backlog);
    sqlite3_finalize(o->q_live);
    sqlite3_finalize(o->q_max);
    sqlite3_finalize(o->q_nth);
}

/* What outbox_open() made, whether it finished or failed half-way. */
static void free_outbox(struct outbox *o)
{
    finalize_all(o);
    free(o->dead);
    free(o->gap_rows);
    free(o->slot_of_mid);
    free(o->free_slots);
    free(o->slots);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

int outbox_open(struct store *s, const struct outbox_cfg *cfg,
                const struct outbox_sink *sink, struct outbox **out)
{
    struct outbox *o;
    int rc = -ENOMEM;

    if (cfg->window < 1 || cfg->budget_rows < 1 || !(cfg->replay_share > 0) ||
        !(cfg->replay_share < 1)) {
        return -EINVAL;
    }
    o = calloc(1, sizeof(*o));
    if (!o) {
        return -ENOMEM;
    }
    pthread_mutex_init(&o->lock, NULL);
    o->store = s;
    o->cfg = *cfg;
    o->sink = *sink;
    o->slots = calloc(cfg->window, sizeof(*o->slots));
    o->free_slots = calloc(cfg->window, sizeof(*o->free_slots));
    o->slot_of_mid = malloc(65536 * sizeof(*o->slot_of_mid));
    o->gap_rows = calloc(cfg->window + 2, sizeof(*o->gap_rows));
    o->dead = calloc(cfg->window + 2, sizeof(*o->dead));
    if (!o->slots || !o->free_slots || !o->slot_of_mid || !o->gap_rows || !o->dead) {
        goto fail;
    }
    for (unsigned i = 0; i < cfg->window; i++) {
        o->free_slots[o->nfree++] = (int) (cfg->window - 1 - i);
    }
    for (int i = 0; i < 65536; i++) {
        o->slot_of_mid[i] = NO_SLOT;
    }
    rc = store_add_tables(s, &outbox_store_table, 1);
    if (rc < 0) {
        goto fail;
    }
    o->db = store_reader(s);
    rc = o->db ? prepare(o) : -PQ_EFORMAT;
    if (rc == 0) {
        rc = load_state(o);
    }
    if (rc < 0) {
        goto fail;
    }
    pthread_mutex_lock(&open_lock);
    if (open_outbox) {
        pthread_mutex_unlock(&open_lock);
        rc = -EBUSY;
        goto fail;
    }
    open_outbox = o;
    pthread_mutex_unlock(&open_lock);
    *out = o;
    return 0;

fail:
    free_outbox(o);
    return rc;
}

void outbox_close(struct outbox *o)
{
    if (!o) {
        return;
    }
    pthread_mutex_lock(&open_lock);
    if (open_outbox == o) {
        open_outbox = NULL;
    }
    pthread_mutex_unlock(&open_lock);
    free_outbox(o);
}

/* ---- producing ------------------------------------------------------------------- */

uint64_t outbox_next_seq(const struct outbox *o)
{
    return o->next_seq;
}

static int put_row(struct outbox *o, uint64_t seq, const char *topic, const void *payload,
                   size_t len, int gap)
{
    struct store_val v[4] = {
        {.type = STORE_INT, .i = (int64_t) seq},
        {.type = STORE_TEXT, .p = topic, .n = strlen(topic)},
        {.type = STORE_BLOB, .p = payload, .n = len},
        {.type = STORE_INT, .i = gap},
    };
    int rc;

    if (seq != o->next_seq) {
        return -EINVAL;
    }
    o->next_seq++;
    rc = store_write(o->store, sql_insert, v, 4, NULL);
    if (rc < 0) {
        o->dropped++;
        add_gap(o, seq, seq, 1, "queue_full");
        return -PQ_EFULL;
    }
    o->rows++;
    o->enqueued++;
    return 0;
}

int outbox_put(struct outbox *o, uint64_t seq, const char *topic, const void *payload,
               size_t len)
{
    return put_row(o, seq, topic, payload, len, 0);
}

int outbox_put_gap(struct outbox *o, uint64_t seq, const char *topic, const void *payload,
                   size_t len)
{
    int rc = put_row(o, seq, topic, payload, len, 1);

    if (rc == 0) {
        o->gap_seq = seq;
        if (o->ngap_rows < o->cfg.window + 2) {
            o->gap_rows[o->ngap_rows++] = seq;
        }
    }
    return rc;
}

/* ---- the window ------------------------------------------------------------------- */

static int in_window(const struct outbox *o, uint64_t seq)
{
    for (unsigned i = 0; i < o->cfg.window; i++) {
        if (o->slots[i].state != SLOT_FREE && o->slots[i].seq == seq) {
            return 1;
        }
    }
    return 0;
}

void outbox_acked(struct outbox *o, int mid)
{
    int k;

    if (mid < 0 || mid > 65535 || (k = o->slot_of_mid[mid]) == NO_SLOT) {
        return;
    }
    o->slot_of_mid[mid] = NO_SLOT;
    if (o->slots[k].state == SLOT_SENT) {
        o->slots[k].state = SLOT_ACKED;
        o->acked++;
    }
}

/* Queue the deletions of the acknowledged rows, after the kv mark that keeps
 * their numbers from being used again (writes commit in ticket order). */
static void queue_deletions(struct outbox *o)
{
    uint64_t hi = o->kv_seq;

    for (unsigned i = 0; i < o->cfg.window; i++) {
        if (o->slots[i].state == SLOT_ACKED && o->slots[i].seq > hi) {
            hi = o->slots[i].seq;
        }
    }
    if (hi > o->kv_seq) {
        if (store_kv_put(o->store, KV_SEQ, (double) hi) < 0) {
            return; /* the queue is full: try at the next pump */
        }
        o->kv_seq = hi;
    }
    for (unsigned i = 0; i < o->cfg.window; i++) {
        struct slot *sl = &o->slots[i];
        struct store_val v = {.type = STORE_INT, .i = (int64_t) sl->seq};

        if (sl->state != SLOT_ACKED) {
            continue;
        }
        if (sl->seq == o->gap_seq) {
            o->ndeclared = 0; /* a receiver has them all now */
            o->gap_seq = 0;
        }
        for (size_t g = 0; g < o->ngap_rows; g++) {
            if (o->gap_rows[g] == sl->seq) {
                o->gap_rows[g] = o->gap_rows[--o->ngap_rows];
                break;
            }
        }
        if (store_write(o->store, sql_delete, &v, 1, &sl->ticket) < 0) {
            return; /* again at the next pump */
        }
        sl->state = SLOT_DELETING;
        if (!sl->dropped && o->rows > 0) {
            o->rows--;
        }
    }
}

static int is_dead(const struct outbox *o, uint64_t seq)
{
    for (size_t i = 0; i < o->ndead; i++) {
        if (o->dead[i][0] == seq) {
            return 1;
        }
    }
    return 0;
}

static void reclaim(struct outbox *o)
{
    uint64_t done = store_committed(o->store);

    for (size_t i = 0; i < o->ndead;) {
        if (o->dead[i][1] <= done) {
            o->dead[i][0] = o->dead[o->ndead - 1][0];
            o->dead[i][1] = o->dead[o->ndead - 1][1];
            o->ndead--;
        } else {
            i++;
        }
    }
    for (unsigned i = 0; i < o->cfg.window; i++) {
        struct slot *sl = &o->slots[i];

        if (sl->state == SLOT_DELETING && sl->ticket <= done) {
            sl->state = SLOT_FREE;
            o->free_slots[o->nfree++] = (int) i;
        }
    }
}

/* ---- gaps and the budget ------------------------------------------------------------
 */

/* Add first..last to the declared ranges: sorted, disjoint, at most
 * MAX_DECLARED (past that the two closest merge: a few delivered numbers are
 * then declared too, never the other way round). */
static void declare(struct outbox *o, uint64_t first, uint64_t last)
{
    uint64_t(*d)[2] = o->declared;
    size_t n = o->ndeclared, i = 0;

    while (i < n && d[i][1] + 1 < first) {
        i++;
    }
    if (i < n && d[i][0] <= last + 1) { /* overlaps or touches d[i] */
        d[i][0] = first < d[i][0] ? first : d[i][0];
        d[i][1] = last > d[i][1] ? last : d[i][1];
        while (i + 1 < n && d[i + 1][0] <= d[i][1] + 1) {
            d[i][1] = d[i + 1][1] > d[i][1] ? d[i + 1][1] : d[i][1];
            memmove(&d[i + 1], &d[i + 2], (n - i - 2) * sizeof(d[0]));
            n--;
        }
    } else {
        if (n == MAX_DECLARED) {
            size_t best = 0;

            for (size_t k = 1; k + 1 < n; k++) {
                if (d[k + 1][0] - d[k][1] < d[best + 1][0] - d[best][1]) {
                    best = k;
                }
            }
            d[best][1] = d[best + 1][1];
            memmove(&d[best + 1], &d[best + 2], (n - best - 2) * sizeof(d[0]));
            n--;
            o->ndeclared = n;
            declare(o, first, last);
            return;
        }
        memmove(&d[i + 1], &d[i], (n - i) * sizeof(d[0]));
        d[i][0] = first;
        d[i][1] = last;
        n++;
    }
    o->ndeclared = n;
}

/* The undelivered gap records of this run (not in the window) are
 * repeated by the next one: delete them, and declare their own numbers
 * lost. */
static void delete_old_gap_rows(struct outbox *o)
{
    for (size_t g = 0; g < o->ngap_rows;) {
        struct store_val v = {.type = STORE_INT, .i = (int64_t) o->gap_rows[g]};

        uint64_t ticket;

        if (in_window(o, o->gap_rows[g]) || o->ndead == o->cfg.window + 2) {
            g++;
            continue;
        }
        if (store_write(o->store, sql_delete, &v, 1, &ticket) < 0) {
            return;
        }
        o->dead[o->ndead][0] = o->gap_rows[g];
        o->dead[o->ndead][1] = ticket;
        o->ndead++;
        o->rows = o->rows > 0 ? o->rows - 1 : 0;
        declare(o, o->gap_rows[g], o->gap_rows[g]);
        o->gap_rows[g] = o->gap_rows[--o->ngap_rows];
    }
}

static void report_gaps(struct outbox *o)
{
    struct gap g[MAX_PENDING_GAPS];
    struct outbox_gap out = {0};
    size_t n;
    uint64_t store_dropped;

    pthread_mutex_lock(&o->lock);
    n = o->npending;
    memcpy(g, o->pending, n * sizeof(g[0]));
    o->npending = 0;
    store_dropped = o->store_dropped;
    o->store_dropped = 0;
    pthread_mutex_unlock(&o->lock);
    o->rows = o->rows > store_dropped ? o->rows - store_dropped : 0;
    o->dropped += store_dropped;
    if (n == 0) {
        return;
    }
    out.first = g[0].first;
    out.last = g[0].last;
    out.reason = g[n - 1].reason;
    for (size_t i = 0; i < n; i++) {
        declare(o, g[i].first, g[i].last);
        out.first = g[i].first < out.first ? g[i].first : out.first;
        out.last = g[i].last > out.last ? g[i].last : out.last;
        out.count += g[i].count;
    }
    delete_old_gap_rows(o);
    out.ranges = (const uint64_t(*)[2]) o->declared;
    out.nranges = o->ndeclared;
    o->gaps++;
    if (o->sink.gap) {
        o->sink.gap(o->sink.ctx, &out);
    }
}

static int64_t query_int(struct sqlite3_stmt *st, int64_t fallback)
{
    int64_t v = fallback;

    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return v;
}

/* Drop up to k of the oldest committed data rows with lo < seq <= hi, none
 * of the window (sent rows may still arrive: they are not lost), and declare
 * the runs of numbers actually deleted (at most MAX_PENDING_GAPS runs per
 * call).  Returns how many. */
static uint64_t drop_range(struct outbox *o, uint64_t lo, uint64_t hi, uint64_t k)
{
    struct sqlite3_stmt *st = o->q_nth;
    uint64_t runs[MAX_PENDING_GAPS][2], last = lo, count = 0;
    size_t nruns = 0;
    struct store_val v[2];

    sqlite3_bind_int64(st, 1, (int64_t) lo);
    sqlite3_bind_int64(st, 2, hi > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) hi);
    sqlite3_bind_int64(st, 3, (int64_t) k);
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t seq = (uint64_t) sqlite3_column_int64(st, 0);

        if (in_window(o, seq)) {
            break;
        }
        if (nruns > 0 && seq == runs[nruns - 1][1] + 1) {
            runs[nruns - 1][1] = seq;
        } else if (nruns < MAX_PENDING_GAPS) {
            runs[nruns][0] = runs[nruns][1] = seq;
            nruns++;
        } else {
            break;
        }
        last = seq;
        count++;
    }
    sqlite3_reset(st);
    v[0] = (struct store_val){.type = STORE_INT, .i = (int64_t) lo};
    v[1] = (struct store_val){.type = STORE_INT, .i = (int64_t) last};
    if (count == 0 || store_write(o->store, sql_drop, v, 2, NULL) < 0) {
        return 0; /* nothing dropped: again at the next pump */
    }
    for (size_t i = 0; i < nruns; i++) {
        add_gap(o, runs[i][0], runs[i][1], runs[i][1] - runs[i][0] + 1, "budget");
    }
    o->rows = o->rows > count ? o->rows - count : 0;
    o->dropped += count;
    o->drop_last = last; /* the reader sees them until the deletion commits:
                            the caller moves its cursor past them */
    return count;
}

/* Past the budget: drop the oldest rows not sent yet (the backlog's front,
 * then the live rows), down to 99 % of the budget.  Every row in the
 * dropped range is gone or dropped (the scan stops at the first row of the
 * window), so the cursor moves to its end. */
static void apply_budget(struct outbox *o)
{
    uint64_t k;

    if (o->rows <= o->cfg.budget_rows) {
        return;
    }
    k = o->rows - o->cfg.budget_rows + o->cfg.budget_rows / 100;
    if (o->bl_cur < o->bl_hi) {
        uint64_t n = drop_range(o, o->bl_cur, o->bl_hi, k);

        if (n > 0) {
            o->bl_cur = o->drop_last;
            k -= n;
        }
    }
    if (k > 0 && drop_range(o, o->live_cur, UINT64_MAX, k) > 0) {
        o->live_cur = o->drop_last;
    }
}

/* ---- sending ----------------------------------------------------------------------- */

struct cursor {
    struct sqlite3_stmt *st;
    int row; /* a row is ready in st */
    int done;
};

static void cursor_next(struct outbox *o, struct cursor *c, int backlog)
{
    while (!c->done) {
        uint64_t seq;

        if (sqlite3_step(c->st) != SQLITE_ROW) {
            c->done = 1;
            c->row = 0;
            return;
        }
        seq = (uint64_t) sqlite3_column_int64(c->st, 0);
        if ((backlog && seq <= o->max_sent && in_window(o, seq)) || is_dead(o, seq)) {
            /* the transport resends it, or its deletion is on the way */
            if (backlog) {
                o->bl_cur = seq;
            } else {
                o->live_cur = seq;
            }
            continue;
        }
        c->row = 1;
        return;
    }
}

static int send_row(struct outbox *o, struct sqlite3_stmt *st)
{
    uint64_t seq = (uint64_t) sqlite3_column_int64(st, 0);
    const char *topic = (const char *) sqlite3_column_text(st, 1);
    const void *payload = sqlite3_column_blob(st, 2);
    size_t len = (size_t) sqlite3_column_bytes(st, 2);
    struct slot *sl;
    int mid = -1, k, rc;

    rc = o->sink.send(o->sink.ctx, topic ? topic : "", payload, len, &mid);
    if (rc < 0 || mid < 0 || mid > 65535) {
        return rc < 0 ? rc : -EINVAL;
    }
    k = o->free_slots[--o->nfree];
    sl = &o->slots[k];
    *sl = (struct slot){.state = SLOT_SENT, .mid = mid, .seq = seq};
    o->slot_of_mid[mid] = k;
    if (seq > o->max_sent) {
        o->max_sent = seq;
    }
    o->sent++;
    return 0;
}

static void send_some(struct outbox *o)
{
    unsigned room = o->nfree;
    struct cursor b = {o->q_backlog, 0, o->bl_cur >= o->bl_hi};
    struct cursor l = {o->q_live, 0, 0};

    if (room == 0) {
        return;
    }
    sqlite3_bind_int64(b.st, 1, (int64_t) o->bl_cur);
    sqlite3_bind_int64(b.st, 2, (int64_t) o->bl_hi);
    sqlite3_bind_int64(b.st, 3, room);
    sqlite3_bind_int64(l.st, 1, (int64_t) o->live_cur);
    sqlite3_bind_int64(l.st, 2, room);
    cursor_next(o, &b, 1);
    cursor_next(o, &l, 0);
    while (o->nfree > 0 && (b.row || l.row)) {
        int take_backlog;

        if (b.row && l.row) {
            o->credit += o->cfg.replay_share;
            take_backlog = o->credit >= 1.0;
            if (take_backlog) {
                o->credit -= 1.0;
            }
        } else {
            take_backlog = b.row;
        }
        if (send_row(o, take_backlog ? b.st : l.st) < 0) {
            break;
        }
        if (take_backlog) {
            o->bl_cur = (uint64_t) sqlite3_column_int64(b.st, 0);
            cursor_next(o, &b, 1);
        } else {
            o->live_cur = (uint64_t) sqlite3_column_int64(l.st, 0);
            cursor_next(o, &l, 0);
        }
    }
    sqlite3_reset(b.st);
    if (!b.row && o->bl_cur < o->bl_hi) {
        /* is anything left in the range (not acknowledged, not dropped)? */
        sqlite3_bind_int64(b.st, 1, (int64_t) o->bl_cur);
        sqlite3_bind_int64(b.st, 3, 1);
        if (sqlite3_step(b.st) != SQLITE_ROW) {
            o->bl_cur = o->bl_hi;
        }
        sqlite3_reset(b.st);
    }
    sqlite3_reset(l.st);
}

void outbox_link(struct outbox *o, int up)
{
    o->link_up = up;
    if (up) {
        uint64_t hi = (uint64_t) query_int(o->q_max, 0);

        if (hi > o->live_cur) {
            if (o->bl_cur >= o->bl_hi) {
                o->bl_cur = o->live_cur;
            }
            o->bl_hi = hi;
            o->live_cur = hi;
        }
    }
}

void outbox_pump(struct outbox *o)
{
    reclaim(o);
    queue_deletions(o);
    apply_budget(o);
    report_gaps(o);
    if (o->link_up) {
        send_some(o);
    }
}

void outbox_stats(const struct outbox *o, struct outbox_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->next_seq = o->next_seq;
    out->rows = o->rows;
    out->inflight = o->cfg.window - o->nfree;
    out->backlog = o->bl_hi > o->bl_cur ? o->bl_hi - o->bl_cur : 0;
    out->enqueued = o->enqueued;
    out->sent = o->sent;
    out->acked = o->acked;
    out->dropped = o->dropped;
    out->gaps = o->gaps;
    out->link_up = o->link_up;
}
