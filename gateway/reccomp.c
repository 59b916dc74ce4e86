/* reccomp.c - the "recorder" component: data recorders, the min/max log
 * and trend statistics, between the channel bus and the onboard store.
 *
 * Tables (docs/recorders.md):
 *   recorders(id, name, channels)         one per name and channel list
 *   rec_rows(rec, seq, t_ns, vals, quality) one row per record; vals holds
 *       the channel values as float64 and quality the bus quality bits as
 *       uint32, both little-endian, in the order of recorders.channels
 *   minmax(channel, min, t_min_ns, max, t_max_ns)  extremes since reset
 *   trend_state(channel, state)           the trend statistics (opaque)
 *
 * Time: the components run on the data clock, the newest update time stamp
 * seen, advanced by the monotonic clock while no update comes; so a
 * replay or a fast simulator records in its own time. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/bus.h"
#include "gateway/daemon.h"
#include "gateway/loop.h"
#include "gateway/recorder.h"
#include "gateway/store.h"
#include "gateway/trend.h"
#include "gateway/tzif.h"
#include "pq/err.h"
#include "pq/utc.h"

#define TICK_NS        (250 * 1000000LL)
#define TICK_LAG_NS    (2 * PQ_NS_PER_S) /* rows close on the timer this late */
#define PROGRESS_TICKS 40                /* a progress line every 10 s */
#define MINMAX_CAP     1024              /* extremes tracked */
#define TREND_NPUB     (4 * 4 + 8 * 3)   /* channels published per trend */
#define CHANNELS_TEXT  (REC_MAX_CH * BUS_NAME_MAX)

static const char SQL_REC_TABLE[] =
    "CREATE TABLE IF NOT EXISTS recorders(id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "channels TEXT NOT NULL, UNIQUE(name, channels))";
static const char SQL_ROWS_TABLE[] =
    "CREATE TABLE IF NOT EXISTS rec_rows(rec INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "t_ns INTEGER NOT NULL, vals BLOB NOT NULL, quality BLOB NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS rec_rows_seq ON rec_rows(rec, seq)";
static const char SQL_MINMAX_TABLE[] =
    "CREATE TABLE IF NOT EXISTS minmax(channel TEXT PRIMARY KEY, min REAL, "
    "t_min_ns INTEGER, max REAL, t_max_ns INTEGER)";
static const char SQL_TREND_TABLE[] = "CREATE TABLE IF NOT EXISTS trend_state(channel "
                                      "TEXT PRIMARY KEY, state BLOB NOT NULL)";
static const char SQL_REC_ADD[] =
    "INSERT OR IGNORE INTO recorders(name, channels) VALUES(?1, ?2)";
static const char SQL_ROW_ADD[] =
    "INSERT INTO rec_rows(rec, seq, t_ns, vals, quality) VALUES(?1, ?2, ?3, ?4, ?5)";
static const char SQL_ROW_TRIM[] = "DELETE FROM rec_rows WHERE rec = ?1 AND seq < ?2";
static const char SQL_MINMAX_PUT[] =
    "INSERT OR REPLACE INTO minmax(channel, min, t_min_ns, max, t_max_ns) "
    "VALUES(?1, ?2, ?3, ?4, ?5)";
static const char SQL_MINMAX_CLEAR[] = "DELETE FROM minmax";
static const char SQL_TREND_PUT[] =
    "INSERT OR REPLACE INTO trend_state(channel, state) VALUES(?1, ?2)";

/* The tables, declared at start with store_add_tables(). */
const struct store_table recorder_tables[] = {
    {.name = "recorders", .create_sql = SQL_REC_TABLE},
    {.name = "rec_rows", .create_sql = SQL_ROWS_TABLE, .droppable = 1},
    {.name = "minmax", .create_sql = SQL_MINMAX_TABLE},
    {.name = "trend_state", .create_sql = SQL_TREND_TABLE},
};
const size_t recorder_ntables = sizeof(recorder_tables) / sizeof(recorder_tables[0]);

struct reccomp;

/* What a subscription callback needs to find its recorder channel. */
struct chan_ref {
    struct reccomp *c;
    int rec, idx;
};

struct recslot {
    const struct recorder_cfg *cfg;
    struct rec_engine eng;
    int64_t db_id; /* recorders.id, 0: not stored */
    int nch;
    char names[REC_MAX_CH][BUS_NAME_MAX];
    struct cfg_schedule sched;
    int has_sched;
    int64_t next_sched_ns; /* 0: not computed yet */
    double alarm_last;
    uint64_t logged_seq; /* rows reported by the last progress line */
};

struct extreme {
    int ch; /* bus id of local/min/X or local/max/X, -1: free */
    int slot;
};

struct mmentry {
    char name[BUS_NAME_MAX]; /* X */
    double min, max;
    int64_t t_min, t_max;
};

struct trendslot {
    struct reccomp *c;
    char name[BUS_NAME_MAX];
    struct trend *t;
    int pub[TREND_NPUB]; /* channel ids, -1: name too long */
};

struct reccomp {
    struct gw *gw;
    struct store *store;
    struct tzif *tz;
    int timer;
    int nsubs;
    int subs[REC_MAX_RECORDERS * (REC_MAX_CH + 2) + 8 + 64];
    int nrec;
    struct recslot rec[REC_MAX_RECORDERS];
    struct chan_ref refs[REC_MAX_RECORDERS * REC_MAX_CH];
    int64_t data_ns, data_mono_ns; /* data clock */
    unsigned ticks;
    uint64_t rows_failed;
    /* min/max log */
    struct extreme ext[MINMAX_CAP * 2];
    struct mmentry mm[MINMAX_CAP];
    int nmm;
    /* trends */
    int ntrend;
    struct trendslot *trends;
};

/* ---- the data clock ---- */

static void saw_time(struct reccomp *c, int64_t t_ns)
{
    if (t_ns > c->data_ns) {
        c->data_ns = t_ns;
        c->data_mono_ns = loop_mono_ns();
    }
}

static int64_t data_now(const struct reccomp *c)
{
    if (c->data_ns == 0) {
        return loop_wall_ns();
    }
    return c->data_ns + (loop_mono_ns() - c->data_mono_ns);
}

static int subscribe(struct reccomp *c, const char *pattern, bus_notify_fn cb, void *ctx)
{
    int id;

    if (c->nsubs >= (int) (sizeof(c->subs) / sizeof(c->subs[0]))) {
        return -PQ_EFULL;
    }
    id = bus_subscribe(c->gw->bus, pattern, cb, ctx);
    if (id >= 0) {
        c->subs[c->nsubs++] = id;
    }
    return id < 0 ? id : 0;
}

/* ---- recorders ---- */

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static void on_row(void *ctx, int id, const struct rec_row *row)
{
    struct reccomp *c = ctx;
    struct recslot *r = &c->rec[id];
    uint8_t vals[REC_MAX_CH * 8], qual[REC_MAX_CH * 4];
    struct store_val v[5];
    uint64_t keep;
    int rc;

    if (!c->store || r->db_id == 0) {
        return;
    }
    for (int i = 0; i < row->n; i++) {
        uint64_t bits;

        memcpy(&bits, &row->v[i], 8);
        put_le64(vals + 8 * i, bits);
        put_le32(qual + 4 * i, row->q[i]);
    }
    v[0] = (struct store_val){.type = STORE_INT, .i = r->db_id};
    v[1] = (struct store_val){.type = STORE_INT, .i = (int64_t) row->seq};
    v[2] = (struct store_val){.type = STORE_INT, .i = row->t_ns};
    v[3] = (struct store_val){.type = STORE_BLOB, .p = vals, .n = (size_t) row->n * 8};
    v[4] = (struct store_val){.type = STORE_BLOB, .p = qual, .n = (size_t) row->n * 4};
    rc = store_write(c->store, SQL_ROW_ADD, v, 5, NULL);
    keep = rec_keep_from(&r->eng);
    if (rc == 0 && keep > 0) {
        v[1] = (struct store_val){.type = STORE_INT, .i = (int64_t) keep};
        rc = store_write(c->store, SQL_ROW_TRIM, v, 2, NULL);
    }
    if (r->eng.def.stop_when_full && r->eng.rows == r->eng.def.depth) {
        LOGF(LOG_NOTICE, "recorder", "%s: full at %llu rows (stop_when_full)",
             r->cfg->name, (unsigned long long) r->eng.rows);
    }
    if (rc < 0 && c->rows_failed++ == 0) {
        LOGF(LOG_WARNING, "recorder", "%s: row not queued: %s (counted; logged once)",
             r->cfg->name, pq_strerror(rc));
    }
}

static void check_schedule(struct reccomp *c, struct recslot *r, int64_t now)
{
    if (!r->has_sched) {
        return;
    }
    if (r->next_sched_ns == 0) {
        r->next_sched_ns = rec_schedule_next(&r->sched, now, c->tz);
        return;
    }
    while (now >= r->next_sched_ns) {
        rec_snapshot(&r->eng, r->next_sched_ns);
        r->next_sched_ns = rec_schedule_next(&r->sched, r->next_sched_ns, c->tz);
    }
}

static void on_value(void *ctx, int ch, const struct bus_value *v)
{
    struct chan_ref *ref = ctx;
    struct reccomp *c = ref->c;
    struct recslot *r = &c->rec[ref->rec];

    (void) ch;
    saw_time(c, v->t_ns);
    check_schedule(c, r, v->t_ns);
    rec_update(&r->eng, ref->idx, v->value, v->t_ns, v->quality);
}

static void on_record_command(void *ctx, int ch, const struct bus_value *v)
{
    struct reccomp *c = ctx;
    /* range-checked as a double: (int) of 1e30 is undefined (INT_MIN on x86) */
    int k = v->value >= 0 && v->value < (double) c->nrec ? (int) v->value : -1;

    (void) ch;
    if (k < 0 || !c->rec[k].cfg->trigger.manual) {
        LOGF(LOG_WARNING, "recorder",
             "record command %g: no manual recorder with that index", v->value);
        return;
    }
    LOGF(LOG_NOTICE, "recorder", "%s: manual trigger", c->rec[k].cfg->name);
    rec_trigger(&c->rec[k].eng, data_now(c));
}

static void on_alarm(void *ctx, int ch, const struct bus_value *v)
{
    struct chan_ref *ref = ctx;
    struct recslot *r = &ref->c->rec[ref->rec];

    (void) ch;
    if (v->value != 0 && !(r->alarm_last != 0)) {
        LOGF(LOG_NOTICE, "recorder", "%s: triggered by alarm %s", r->cfg->name,
             r->cfg->trigger.on_alarm);
        rec_trigger(&r->eng, v->t_ns);
    }
    r->alarm_last = v->value;
}

static void on_event(void *ctx, int ch, const struct bus_value *v)
{
    struct chan_ref *ref = ctx;

    LOGF(LOG_NOTICE, "recorder", "%s: triggered by %s", ref->c->rec[ref->rec].cfg->name,
         bus_name(ref->c->gw->bus, ch));
    rec_trigger(&ref->c->rec[ref->rec].eng, v->t_ns);
}

/* Expand the channel list: exact names as they are (they may be
 * registered later), patterns against the channels registered now. */
static int expand(struct reccomp *c, struct recslot *r)
{
    const struct bus *b = c->gw->bus;

    for (size_t i = 0; i < r->cfg->channels.n; i++) {
        const char *p = CFG_AT(r->cfg->channels, struct rec_channel_cfg, i)->name;

        if (!strpbrk(p, "*?")) {
            if (r->nch == REC_MAX_CH) {
                return -PQ_EFULL;
            }
            snprintf(r->names[r->nch++], BUS_NAME_MAX, "%s", p);
            continue;
        }
        for (int ch = 0; bus_name(b, ch); ch++) {
            if (!bus_match(p, bus_name(b, ch))) {
                continue;
            }
            if (r->nch == REC_MAX_CH) {
                return -PQ_EFULL;
            }
            snprintf(r->names[r->nch++], BUS_NAME_MAX, "%s", bus_name(b, ch));
        }
    }
    return 0;
}

static struct rec_def make_def(const struct recorder_cfg *rc, int nch)
{
    const struct rec_trigger_cfg *t = &rc->trigger;
    struct rec_def d;
    int64_t interval = 0;

    memset(&d, 0, sizeof(d));
    d.nch = nch;
    if (*t->interval) {
        (void) cfg_parse_rec_interval(t->interval, &interval); /* validated */
    }
    d.interval_ns = interval;
    d.gated = *t->on_alarm || *t->on_event || t->manual;
    /* a gated recorder without an interval records every update in its
     * window; half_cycle records every update */
    d.every_update = (*t->interval && interval == 0) || (d.gated && !*t->interval);
    d.duration_ns = t->duration_ns;
    if (d.gated && *t->schedule) {
        d.gated = 0; /* the schedule's snapshots are not windowed */
    }
    switch (rc->value) {
    case REC_VALUE_LAST:
        d.value = REC_LAST;
        break;
    case REC_VALUE_MIN:
        d.value = REC_MIN;
        break;
    case REC_VALUE_MAX:
        d.value = REC_MAX;
        break;
    default:
        d.value = REC_AVERAGE;
        break;
    }
    d.stop_when_full = rc->mode == REC_MODE_STOP_WHEN_FULL;
    d.depth = (uint64_t) rc->depth;
    return d;
}

static void channels_text(const struct recslot *r, char *buf, size_t cap)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < r->nch && used < cap; i++) {
        used +=
            (size_t) snprintf(buf + used, cap - used, "%s%s", i ? "," : "", r->names[i]);
    }
}

/* The recorder's id and where its numbering stands, from the store. */
static void resume_from_store(struct reccomp *c, struct sqlite3 *db, struct recslot *r)
{
    char text[CHANNELS_TEXT];
    sqlite3_stmt *st = NULL;

    channels_text(r, text, sizeof(text));
    if (sqlite3_prepare_v2(db,
                           "SELECT id FROM recorders WHERE name = ?1 AND channels = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        LOGF(LOG_ERR, "recorder", "%s: %s", r->cfg->name, sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, r->cfg->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        r->db_id = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (r->db_id == 0 ||
        sqlite3_prepare_v2(db, "SELECT max(seq), count(*) FROM rec_rows WHERE rec = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        return;
    }
    sqlite3_bind_int64(st, 1, r->db_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        rec_resume(&r->eng, (uint64_t) sqlite3_column_int64(st, 0),
                   (uint64_t) sqlite3_column_int64(st, 1));
        r->logged_seq = r->eng.seq;
    }
    sqlite3_finalize(st);
    (void) c;
}

static int start_recorder(struct reccomp *c, int k)
{
    struct recslot *r = &c->rec[k];
    const struct rec_trigger_cfg *t;
    struct rec_def d;
    char text[CHANNELS_TEXT];
    int rc;

    r->cfg = CFG_AT(c->gw->cfg->recorders, struct recorder_cfg, (size_t) k);
    t = &r->cfg->trigger;
    if (expand(c, r) < 0) {
        LOGF(LOG_WARNING, "recorder",
             "%s: more than %d channels; the first %d are recorded", r->cfg->name,
             REC_MAX_CH, REC_MAX_CH);
    }
    d = make_def(r->cfg, r->nch);
    rec_init(&r->eng, &d, k, on_row, c);
    r->has_sched = *t->schedule && cfg_parse_schedule(t->schedule, &r->sched) == 0;
    for (int i = 0; i < r->nch; i++) {
        struct chan_ref *ref = &c->refs[k * REC_MAX_CH + i];

        *ref = (struct chan_ref){c, k, i};
        rc = subscribe(c, r->names[i], on_value, ref);
        if (rc < 0) {
            return rc;
        }
    }
    if (*t->on_alarm) {
        char name[BUS_NAME_MAX];

        snprintf(name, sizeof(name), "alarm/%s/active", t->on_alarm);
        rc = subscribe(c, name, on_alarm, &c->refs[k * REC_MAX_CH]);
        if (rc < 0) {
            return rc;
        }
    }
    if (*t->on_event) {
        char name[BUS_NAME_MAX];

        snprintf(name, sizeof(name), "local/event/%s",
                 strcmp(t->on_event, "any") == 0 ? "*" : t->on_event);
        rc = subscribe(c, name, on_event, &c->refs[k * REC_MAX_CH]);
        if (rc < 0) {
            return rc;
        }
    }
    if (c->store) {
        struct store_val v[2];

        channels_text(r, text, sizeof(text));
        v[0] = (struct store_val){.type = STORE_TEXT, .p = r->cfg->name};
        v[1] = (struct store_val){.type = STORE_TEXT, .p = text};
        rc = store_write(c->store, SQL_REC_ADD, v, 2, NULL);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- min/max log ---- */

static int mm_find(struct reccomp *c, const char *name)
{
    for (int i = 0; i < c->nmm; i++) {
        if (strcmp(c->mm[i].name, name) == 0) {
            return i;
        }
    }
    if (c->nmm == MINMAX_CAP) {
        return -1;
    }
    snprintf(c->mm[c->nmm].name, BUS_NAME_MAX, "%s", name);
    c->mm[c->nmm].min = c->mm[c->nmm].max = NAN;
    c->mm[c->nmm].t_min = c->mm[c->nmm].t_max = 0;
    return c->nmm++;
}

/* Slot of the min/max entry of bus channel ch (local/min/X or local/max/X). */
static int mm_slot(struct reccomp *c, int ch, int *is_max)
{
    size_t cap = sizeof(c->ext) / sizeof(c->ext[0]);
    size_t h = (size_t) ch * 2654435761u % cap;
    const char *name = bus_name(c->gw->bus, ch);

    *is_max = name && strncmp(name, "local/max/", 10) == 0;
    for (size_t i = 0; i < cap; i++) {
        struct extreme *e = &c->ext[(h + i) % cap];

        if (e->ch == ch) {
            return e->slot;
        }
        if (e->ch < 0) {
            e->ch = ch;
            e->slot = name ? mm_find(c, name + 10) : -1;
            return e->slot;
        }
    }
    return -1;
}

static void on_extreme(void *ctx, int ch, const struct bus_value *v)
{
    struct reccomp *c = ctx;
    int is_max, k = mm_slot(c, ch, &is_max);
    struct mmentry *e;
    struct store_val sv[5];

    if (k < 0 || (v->quality & BUS_Q_INVALID) || isnan(v->value)) {
        return;
    }
    e = &c->mm[k];
    if (is_max ? !(v->value > e->max || isnan(e->max))
               : !(v->value < e->min || isnan(e->min))) {
        return;
    }
    if (is_max) {
        e->max = v->value;
        e->t_max = v->t_ns;
    } else {
        e->min = v->value;
        e->t_min = v->t_ns;
    }
    if (!c->store) {
        return;
    }
    sv[0] = (struct store_val){.type = STORE_TEXT, .p = e->name};
    sv[1] = isnan(e->min) ? (struct store_val){.type = STORE_NULL}
                          : (struct store_val){.type = STORE_REAL, .d = e->min};
    sv[2] = (struct store_val){.type = STORE_INT, .i = e->t_min};
    sv[3] = isnan(e->max) ? (struct store_val){.type = STORE_NULL}
                          : (struct store_val){.type = STORE_REAL, .d = e->max};
    sv[4] = (struct store_val){.type = STORE_INT, .i = e->t_max};
    (void) store_write(c->store, SQL_MINMAX_PUT, sv, 5, NULL);
}

static void on_minmax_reset(void *ctx, int ch, const struct bus_value *v)
{
    struct reccomp *c = ctx;

    (void) ch;
    (void) v;
    LOGF(LOG_NOTICE, "recorder", "min/max log reset");
    for (int i = 0; i < c->nmm; i++) {
        c->mm[i].min = c->mm[i].max = NAN;
        c->mm[i].t_min = c->mm[i].t_max = 0;
    }
    if (c->store) {
        (void) store_write(c->store, SQL_MINMAX_CLEAR, NULL, 0, NULL);
    }
}

static void load_minmax(struct reccomp *c, struct sqlite3 *db)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, "SELECT channel, min, t_min_ns, max, t_max_ns FROM minmax",
                           -1, &st, NULL) != SQLITE_OK) {
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int k = mm_find(c, (const char *) sqlite3_column_text(st, 0));

        if (k < 0) {
            break;
        }
        c->mm[k].min = sqlite3_column_type(st, 1) == SQLITE_NULL
                           ? NAN
                           : sqlite3_column_double(st, 1);
        c->mm[k].t_min = sqlite3_column_int64(st, 2);
        c->mm[k].max = sqlite3_column_type(st, 3) == SQLITE_NULL
                           ? NAN
                           : sqlite3_column_double(st, 3);
        c->mm[k].t_max = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
}

/* ---- trends ---- */

static void trend_publish(struct reccomp *c, struct trendslot *s, int mask)
{
    static const int periods[] = {TREND_HOUR, TREND_DAY, TREND_WEEK, TREND_MONTH};
    struct bus_update u[TREND_NPUB];
    struct trend_forecast fh[TREND_AHEAD], fd[TREND_AHEAD];
    size_t n = 0;
    int k = 0;

    for (int p = 0; p < 4; p++, k += 4) {
        struct trend_stat last;
        struct trend_stat all[TREND_DAYS];
        size_t got;

        if (!(mask & (1 << periods[p]))) {
            continue;
        }
        got = trend_history(s->t, periods[p], all, TREND_DAYS);
        if (got == 0) {
            continue;
        }
        last = all[got - 1];
        {
            const double v[4] = {last.mean, last.min, last.max, trend_stat_sd(&last)};

            for (int i = 0; i < 4; i++) {
                if (s->pub[k + i] >= 0) {
                    u[n++] = (struct bus_update){s->pub[k + i], {v[i], last.start_ns, 0}};
                }
            }
        }
    }
    trend_forecast_hours(s->t, fh);
    trend_forecast_days(s->t, fd);
    for (int a = 0; a < TREND_AHEAD * 2; a++, k += 3) {
        const struct trend_forecast *f = a < TREND_AHEAD ? &fh[a] : &fd[a - TREND_AHEAD];
        const double v[3] = {f->avg, f->min, f->max};

        for (int i = 0; i < 3; i++) {
            if (s->pub[k + i] >= 0) {
                u[n++] = (struct bus_update){
                    s->pub[k + i], {v[i], f->start_ns, isnan(v[i]) ? BUS_Q_INVALID : 0}};
            }
        }
    }
    (void) bus_publish_many(c->gw->bus, u, n);
    if (c->store) {
        size_t len;
        const void *bytes = trend_bytes(s->t, &len);
        struct store_val v[2] = {{.type = STORE_TEXT, .p = s->name},
                                 {.type = STORE_BLOB, .p = bytes, .n = len}};

        (void) store_write(c->store, SQL_TREND_PUT, v, 2, NULL);
    }
}

static void on_trend_value(void *ctx, int ch, const struct bus_value *v)
{
    struct trendslot *s = ctx;
    int mask;

    (void) ch;
    if (v->quality & BUS_Q_INVALID) {
        return;
    }
    saw_time(s->c, v->t_ns);
    mask = trend_add(s->t, v->value, v->t_ns);
    if (mask > 0) {
        trend_publish(s->c, s, mask);
    }
}

static int register_trend(struct reccomp *c, struct trendslot *s)
{
    static const char *const periods[] = {"hour", "day", "week", "month"};
    static const char *const stats[] = {"avg", "min", "max", "sd"};
    const char *unit;
    char name[BUS_NAME_MAX + 64];
    int k = 0, ch = bus_find(c->gw->bus, s->name);

    unit = ch >= 0 ? bus_unit(c->gw->bus, ch) : "";
    for (int p = 0; p < 4; p++) {
        for (int i = 0; i < 4; i++, k++) {
            snprintf(name, sizeof(name), "trend/%s/%s/%s", s->name, periods[p], stats[i]);
            s->pub[k] =
                strlen(name) < BUS_NAME_MAX ? bus_register(c->gw->bus, name, unit) : -1;
        }
    }
    for (int a = 0; a < TREND_AHEAD * 2; a++) {
        for (int i = 0; i < 3; i++, k++) {
            snprintf(name, sizeof(name), "trend/%s/forecast/%c%d/%s", s->name,
                     a < TREND_AHEAD ? 'h' : 'd', a % TREND_AHEAD + 1, stats[i]);
            s->pub[k] =
                strlen(name) < BUS_NAME_MAX ? bus_register(c->gw->bus, name, unit) : -1;
        }
    }
    for (k = 0; k < TREND_NPUB; k++) {
        if (s->pub[k] == -PQ_EFULL || s->pub[k] == -ENOMEM) {
            return s->pub[k];
        }
    }
    return 0;
}

static void load_trend(struct sqlite3 *db, struct trendslot *s)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, "SELECT state FROM trend_state WHERE channel = ?1", -1,
                           &st, NULL) != SQLITE_OK) {
        return;
    }
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW &&
        trend_load(s->t, sqlite3_column_blob(st, 0),
                   (size_t) sqlite3_column_bytes(st, 0)) < 0) {
        LOGF(LOG_WARNING, "recorder",
             "trend %s: stored state unreadable; starting afresh", s->name);
        trend_init(s->t);
    }
    sqlite3_finalize(st);
}

static int start_trends(struct reccomp *c)
{
    const struct cfg_list *l = &c->gw->cfg->trends.channels;

    if (l->n == 0) {
        return 0;
    }
    c->trends = calloc(l->n, sizeof(*c->trends));
    if (!c->trends) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        struct trendslot *s = &c->trends[i];
        int rc;

        s->c = c;
        snprintf(s->name, sizeof(s->name), "%s",
                 CFG_AT(*l, struct rec_channel_cfg, i)->name);
        s->t = malloc(sizeof(*s->t));
        c->ntrend++;
        if (!s->t) {
            return -ENOMEM;
        }
        trend_init(s->t);
        rc = register_trend(c, s);
        if (rc == 0) {
            rc = subscribe(c, s->name, on_trend_value, s);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- the component ---- */

/* A line per recorder that wrote rows since the last one. */
static void log_progress(struct reccomp *c)
{
    for (int k = 0; k < c->nrec; k++) {
        struct recslot *r = &c->rec[k];
        uint64_t kept = r->eng.rows;

        if (r->eng.seq == r->logged_seq) {
            continue;
        }
        if (!r->eng.def.stop_when_full && kept > r->eng.def.depth) {
            kept = r->eng.def.depth;
        }
        LOGF(LOG_INFO, "recorder", "%s: +%llu rows, %llu kept%s", r->cfg->name,
             (unsigned long long) (r->eng.seq - r->logged_seq), (unsigned long long) kept,
             c->store ? "" : " (no store: not saved)");
        r->logged_seq = r->eng.seq;
    }
}

static void on_tick(struct loop *l, void *ctx)
{
    struct reccomp *c = ctx;
    int64_t now = data_now(c);

    (void) l;
    for (int k = 0; k < c->nrec; k++) {
        check_schedule(c, &c->rec[k], now);
        rec_tick(&c->rec[k].eng, now - TICK_LAG_NS);
    }
    if (++c->ticks % PROGRESS_TICKS == 0) {
        log_progress(c);
    }
    for (int i = 0; i < c->ntrend; i++) {
        int mask = trend_tick(c->trends[i].t, now - TICK_LAG_NS);

        if (mask > 0) {
            trend_publish(c, &c->trends[i], mask);
        }
    }
}

static void reccomp_stop(void *state);

/* Read back what the store holds: recorder ids and numbering, extremes,
 * trend states.  The writes queued so far (recorders rows) go first. */
static void load_from_store(struct reccomp *c)
{
    struct sqlite3 *db;

    if (store_flush(c->store, 5000) < 0) {
        LOGF(LOG_WARNING, "recorder",
             "store did not commit in 5 s; recorders start empty");
    }
    db = store_reader(c->store);
    if (!db) {
        LOGF(LOG_ERR, "recorder", "no read connection to the store");
        return;
    }
    for (int k = 0; k < c->nrec; k++) {
        resume_from_store(c, db, &c->rec[k]);
        if (c->rec[k].db_id == 0) {
            LOGF(LOG_ERR, "recorder", "%s: not in the store; its rows are not kept",
                 c->rec[k].cfg->name);
        }
    }
    load_minmax(c, db);
    for (int i = 0; i < c->ntrend; i++) {
        load_trend(db, &c->trends[i]);
    }
}

static int reccomp_start(struct gw *gw, void **state)
{
    const struct pqgate_cfg *cfg = gw->cfg;
    struct reccomp *c;
    int rc = 0;

    *state = NULL;
    c = calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->gw = gw;
    c->store = gw->store;
    c->timer = -1;
    for (size_t i = 0; i < sizeof(c->ext) / sizeof(c->ext[0]); i++) {
        c->ext[i].ch = -1;
    }
    if (*cfg->tou.timezone && (rc = tzif_load(cfg->tou.timezone, &c->tz)) < 0) {
        LOGF(LOG_ERR, "recorder", "time zone %s: %s", cfg->tou.timezone, pq_strerror(rc));
        goto fail;
    }
    if (c->store &&
        (rc = store_add_tables(c->store, recorder_tables, recorder_ntables)) < 0) {
        LOGF(LOG_ERR, "recorder", "store tables: %s; recording without the store",
             pq_strerror(rc));
        c->store = NULL;
        rc = 0;
    }
    if (!c->store && (cfg->recorders.n > 0 || cfg->trends.channels.n > 0)) {
        LOGF(LOG_WARNING, "recorder",
             "no onboard store: recorder rows, extremes and trends are not kept");
    }
    for (size_t k = 0; k < cfg->recorders.n && rc == 0; k++) {
        rc = start_recorder(c, (int) k);
        c->nrec = (int) k + 1;
    }
    if (rc == 0) {
        rc = start_trends(c);
    }
    if (rc == 0 && (rc = bus_register(gw->bus, "gateway/command/record", "")) >= 0) {
        rc = subscribe(c, "gateway/command/record", on_record_command, c);
    }
    if (rc == 0 &&
        (rc = bus_register(gw->bus, "gateway/command/minmax_reset", "")) >= 0) {
        rc = subscribe(c, "gateway/command/minmax_reset", on_minmax_reset, c);
    }
    if (rc == 0 && cfg->meter.source != METER_SOURCE_NONE) {
        rc = subscribe(c, "local/min/**", on_extreme, c);
        if (rc == 0) {
            rc = subscribe(c, "local/max/**", on_extreme, c);
        }
    }
    if (rc < 0) {
        LOGF(LOG_ERR, "recorder", "start: %s", pq_strerror(rc));
        goto fail;
    }
    if (c->store) {
        load_from_store(c);
    }
    c->timer = loop_add_timer(gw->loop, TICK_NS, on_tick, c);
    if (c->timer < 0) {
        rc = c->timer;
        goto fail;
    }
    LOGF(LOG_INFO, "recorder", "%d recorders, %d trend channels", c->nrec, c->ntrend);
    *state = c;
    return 0;

fail:
    reccomp_stop(c);
    return rc;
}

static void reccomp_stop(void *state)
{
    struct reccomp *c = state;

    if (!c) {
        return;
    }
    for (int i = 0; i < c->nsubs; i++) {
        bus_unsubscribe(c->gw->bus, c->subs[i]);
    }
    if (c->timer >= 0) {
        loop_del_timer(c->gw->loop, c->timer);
    }
    /* the interval in progress is not a complete row: it is not written;
     * the trend states are, so a restart goes on where this one stopped */
    for (int i = 0; i < c->ntrend; i++) {
        if (c->store && c->trends[i].t) {
            size_t len;
            const void *bytes = trend_bytes(c->trends[i].t, &len);
            struct store_val v[2] = {{.type = STORE_TEXT, .p = c->trends[i].name},
                                     {.type = STORE_BLOB, .p = bytes, .n = len}};

            (void) store_write(c->store, SQL_TREND_PUT, v, 2, NULL);
        }
        free(c->trends[i].t);
    }
    free(c->trends);
    tzif_free(c->tz);
    free(c);
}

const struct gw_component recorder_component = {
    .name = "recorder",
    .start = reccomp_start,
    .stop = reccomp_stop,
};
