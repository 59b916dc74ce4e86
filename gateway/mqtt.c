/* mqtt.c - the component "mqtt": the publisher (bus -> messages -> outbox)
 * and the glue between the outbox and the client.
 *
 * Everything here runs on the main loop.  Bus callbacks store values in
 * tables allocated when a channel is first seen (nothing is allocated per
 * value); timers turn them into messages.  The local meter's events and
 * 10-min and 2-h aggregates come whole from the record channel
 * (gateway/records.h) and go out as they are, with the head keys spliced
 * in.  Each message takes the outbox's next sequence number and goes into
 * the outbox; the outbox sends committed rows through the client.  What the
 * main loop waits for: the client's eventfd (acknowledgements, link
 * changes), the store's commit fd when it can have it, and a 100 ms tick
 * (the pump, pending changes).
 */
#include "gateway/mqtt.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/bus.h"
#include "gateway/evlog.h"
#include "gateway/loop.h"
#include "gateway/mqtt_client.h"
#include "gateway/mqtt_payload.h"
#include "gateway/outbox.h"
#include "gateway/records.h"
#include "gateway/store.h"
#include "pq/err.h"

#define TICK_NS      100000000LL
#define TOPIC_MAX    160
#define CHANGES_CAP  4096 /* on-change values between two ticks */
#define ACK_BATCH    256
#define MAX_PATTERNS 2

enum topic_kind {
    T_DATA,
    T_AGG10,
    T_AGG2H,
    T_EVENT,
    T_ALARM,
    T_ENERGY,
    T_HEALTH,
    T_GAP,
    T_STATUS,
    T_COUNT
};

static const char *const topic_suffix[T_COUNT] = {
    "data", "agg/10min", "agg/2h", "event", "alarm", "energy", "health", "gap", "status",
};

struct mqtt;

/* Channels sent together on one topic at an interval (or on change). */
struct entry {
    struct mqtt *m;
    int topic;      /* enum topic_kind */
    int64_t period; /* 0: on change */
    int subs[MAX_PATTERNS];
    int timer;
    int *chs;        /* channels seen, in order of first sight */
    int64_t *sent_t; /* t_ns of the value last sent, per chs[] */
    size_t n, cap;
    unsigned char *seen; /* by channel id */
    size_t seen_cap;
};

struct change {
    struct entry *e;
    int ch;
    struct bus_value v;
};

struct mqtt {
    struct gw *gw;
    const struct mqtt_cfg *cfg;
    const char *gateway;
    char topics[T_COUNT][TOPIC_MAX];
    struct mqtt_client *client;
    struct outbox *ob;
    char *buf; /* one message, max_message_bytes */
    size_t buf_cap;
    char *rec; /* records of our own (health, gap) */
    size_t rec_cap;
    struct entry *entries;
    size_t nentries;
    int rsub[2]; /* record channel: "event", "interval"; -1: none */
    struct change changes[CHANGES_CAP];
    size_t nchanges;
    uint64_t changes_dropped;
    int tick_timer, health_timer;
    int commit_fd; /* -1 when another component watches it */
    int client_fd_added;
    uint64_t messages, message_failures;
    uint64_t records_sent;      /* events and aggregates put into the outbox */
    uint64_t records_too_large; /* above max_message_size: not sent */
    uint64_t records_malformed; /* not a record of the contract: not sent */
};

/* ---- messages into the outbox -------------------------------------------------- */

static void put(struct mqtt *m, int topic, const char *payload, size_t len)
{
    int rc = outbox_put(m->ob, outbox_next_seq(m->ob), m->topics[topic], payload, len);

    if (rc < 0) {
        m->message_failures++;
        if (rc != -PQ_EFULL) {
            LOGF(LOG_ERR, "mqtt", "outbox: %s", pq_strerror(rc));
        }
        return; /* -PQ_EFULL: declared as a gap by the outbox */
    }
    m->messages++;
}

/* Values into as many messages as max_message_size needs. */
struct batch {
    struct mqtt *m;
    int topic;
    struct mqtt_values v;
    int open;
};

static void batch_flush(struct batch *b)
{
    if (b->open && b->v.n > 0) {
        size_t len = mqtt_values_end(&b->v);

        put(b->m, b->topic, b->m->buf, len);
    }
    b->open = 0;
}

static void batch_add(struct batch *b, int ch, const struct bus_value *v)
{
    struct mqtt *m = b->m;
    const char *name = bus_name(m->gw->bus, ch);
    const char *unit = bus_unit(m->gw->bus, ch);

    for (int tries = 0; tries < 2; tries++) {
        if (!b->open) {
            mqtt_values_begin(&b->v, m->buf, m->buf_cap, m->gateway,
                              outbox_next_seq(m->ob), loop_wall_ns());
            b->open = 1;
        }
        if (mqtt_values_add(&b->v, name, v->value, unit, v->t_ns, v->quality) == 0) {
            return;
        }
        if (b->v.n == 0) {
            return; /* cannot happen: the buffer holds one value of any channel */
        }
        batch_flush(b);
    }
}

/* ---- periodic and on-change channels ------------------------------------------- */

static int grow_seen(struct entry *e, int ch)
{
    size_t cap = e->seen_cap ? e->seen_cap : 256;
    unsigned char *p;

    while (cap <= (size_t) ch) {
        cap *= 2;
    }
    p = realloc(e->seen, cap);
    if (!p) {
        return -ENOMEM;
    }
    memset(p + e->seen_cap, 0, cap - e->seen_cap);
    e->seen = p;
    e->seen_cap = cap;
    return 0;
}

/* First sight of a channel: remember it (an allocation per new channel,
 * never per value). */
static int note_channel(struct entry *e, int ch)
{
    if ((size_t) ch >= e->seen_cap && grow_seen(e, ch) < 0) {
        return -ENOMEM;
    }
    if (e->seen[ch]) {
        return 0;
    }
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        int *chs = realloc(e->chs, cap * sizeof(*chs));
        int64_t *t;

        if (!chs) {
            return -ENOMEM;
        }
        e->chs = chs;
        t = realloc(e->sent_t, cap * sizeof(*t));
        if (!t) {
            return -ENOMEM;
        }
        e->sent_t = t;
        e->cap = cap;
    }
    e->chs[e->n] = ch;
    e->sent_t[e->n] = 0;
    e->n++;
    e->seen[ch] = 1;
    return 0;
}

static void on_entry_value(void *ctx, int ch, const struct bus_value *v)
{
    struct entry *e = ctx;
    struct mqtt *m = e->m;

    if (note_channel(e, ch) < 0) {
        return;
    }
    if (e->period > 0) {
        return; /* the timer reads the latest value */
    }
    if (m->nchanges == CHANGES_CAP) {
        m->changes_dropped++; /* drop newest; the bus resends the latest */
        return;
    }
    m->changes[m->nchanges++] = (struct change){e, ch, *v};
}

/* The latest value of each channel updated since the last message. */
static void on_entry_timer(struct loop *l, void *ctx)
{
    struct entry *e = ctx;
    struct batch b = {.m = e->m, .topic = e->topic};

    (void) l;
    for (size_t i = 0; i < e->n; i++) {
        struct bus_value v;

        if (bus_get(e->m->gw->bus, e->chs[i], &v) < 0 || (v.quality & BUS_Q_INVALID) ||
            v.t_ns == e->sent_t[i]) {
            continue;
        }
        e->sent_t[i] = v.t_ns;
        batch_add(&b, e->chs[i], &v);
    }
    batch_flush(&b);
}

static void flush_changes(struct mqtt *m)
{
    for (int t = 0; t < T_COUNT && m->nchanges > 0; t++) {
        struct batch b = {.m = m, .topic = t};

        for (size_t i = 0; i < m->nchanges; i++) {
            if (m->changes[i].e->topic == t) {
                batch_add(&b, m->changes[i].ch, &m->changes[i].v);
            }
        }
        batch_flush(&b);
    }
    m->nchanges = 0;
}

/* ---- events and aggregates of the local meter: whole records ------------------ */

/* Topic of a record, or -1 when the config does not forward it. */
static int record_topic(const struct mqtt *m, const char *type, const char *agg)
{
    if (strcmp(type, "event") == 0) {
        return m->cfg->events ? T_EVENT : -1;
    }
    if (strcmp(type, "interval") == 0 && strcmp(agg, "10min") == 0) {
        return m->cfg->aggregates_10min ? T_AGG10 : -1;
    }
    if (strcmp(type, "interval") == 0 && strcmp(agg, "2h") == 0) {
        return m->cfg->aggregates_2h ? T_AGG2H : -1;
    }
    return -1;
}

/* A record from the record channel: one message, never split. */
static void on_record(void *ctx, const char *type, const char *json, size_t len)
{
    struct mqtt *m = ctx;
    char agg[16];
    int topic;
    size_t n;

    if (mqtt_payload_record_check(json, len, agg, sizeof(agg)) < 0) {
        m->records_malformed++;
        LOGF(LOG_ERR, "mqtt",
             "%s record of %zu bytes not sent: not a record of the analysis contract",
             type, len);
        return;
    }
    topic = record_topic(m, type, agg);
    if (topic < 0) {
        return;
    }
    n = mqtt_payload_record(m->buf, m->buf_cap, m->gateway, "local",
                            outbox_next_seq(m->ob), loop_wall_ns(), json, len);
    if (n == 0) {
        m->records_malformed++; /* not an object: the check above let it by */
        return;
    }
    if (n >= m->buf_cap) {
        m->records_too_large++;
        LOGF(LOG_WARNING, "mqtt",
             "%s%s%s record of %zu bytes not sent: above max_message_size (%zu bytes)",
             type, *agg ? " " : "", agg, n, m->buf_cap);
        return;
    }
    put(m, topic, m->buf, n);
    m->records_sent++;
}

/* ---- health ----------------------------------------------------------------------- */

static json_t *devices_health(const struct mqtt *m)
{
    struct bus_stats bs;
    json_t *d = json_object();

    bus_stats(m->gw->bus, &bs);
    for (size_t ch = 0; d && ch < bs.channels; ch++) {
        const char *name = bus_name(m->gw->bus, (int) ch);
        const char *slash = name ? strchr(name, '/') : NULL;
        char dev[BUS_NAME_MAX];
        struct bus_value v;
        json_t *o;

        if (!slash || bus_get(m->gw->bus, (int) ch, &v) < 0) {
            continue;
        }
        snprintf(dev, sizeof(dev), "%.*s", (int) (slash - name), name);
        o = json_object_get(d, dev);
        if (!o) {
            o = json_pack("{s:i,s:i}", "channels", 0, "stale", 0);
            json_object_set_new(d, dev, o);
        }
        json_object_set_new(
            o, "channels",
            json_integer(json_integer_value(json_object_get(o, "channels")) + 1));
        if (v.quality & (BUS_Q_STALE | BUS_Q_INVALID)) {
            json_object_set_new(
                o, "stale",
                json_integer(json_integer_value(json_object_get(o, "stale")) + 1));
        }
    }
    return d;
}

/* Records forwarded and not, and the record channel's own drops (a full
 * ring: the main loop was behind). */
static json_t *records_health(const struct mqtt *m)
{
    struct records_stats rs = {0};

    records_stats(m->gw->records, &rs);
    return json_pack("{s:I,s:I,s:I,s:I}", "sent", (json_int_t) m->records_sent,
                     "too_large", (json_int_t) m->records_too_large, "malformed",
                     (json_int_t) m->records_malformed, "ring_dropped",
                     (json_int_t) (rs.dropped + rs.too_large));
}

static void on_health(struct loop *l, void *ctx)
{
    struct mqtt *m = ctx;
    struct outbox_stats os;
    struct mqtt_client_stats cs;
    struct store_stats ss;
    json_t *x;
    size_t n;

    (void) l;
    outbox_stats(m->ob, &os);
    mqtt_client_stats(m->client, &cs);
    store_stats(m->gw->store, &ss);
    x = json_pack("{s:f,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:{s:b,s:I,s:I,s:s},"
                  "s:{s:I,s:I,s:I}}",
                  "uptime_s", (double) (loop_mono_ns() - m->gw->started_ns) / 1e9,
                  "outbox", "rows", (json_int_t) os.rows, "inflight",
                  (json_int_t) os.inflight, "backlog", (json_int_t) os.backlog, "sent",
                  (json_int_t) os.sent, "dropped", (json_int_t) os.dropped, "gaps",
                  (json_int_t) os.gaps, "link", "connected", cs.connected, "connects",
                  (json_int_t) cs.connects, "failures", (json_int_t) cs.failures,
                  "last_error", cs.last_error, "store", "file_bytes",
                  (json_int_t) ss.file_bytes, "rejected", (json_int_t) ss.rejected,
                  "dropped", (json_int_t) ss.dropped);
    if (x) {
        json_object_set_new(json_object_get(x, "outbox"), "changes_dropped",
                            json_integer((json_int_t) m->changes_dropped));
        json_object_set_new(x, "records", records_health(m));
        json_object_set_new(x, "devices", devices_health(m));
    }
    n = mqtt_payload_object(m->rec, m->rec_cap, m->gateway, outbox_next_seq(m->ob),
                            loop_wall_ns(), "health", x);
    json_decref(x);
    if (n > 0 && n < m->rec_cap) {
        put(m, T_HEALTH, m->rec, n);
    }
}

/* ---- outbox <-> client --------------------------------------------------------------
 */

static int sink_send(void *ctx, const char *topic, const void *payload, size_t len,
                     int *mid)
{
    struct mqtt *m = ctx;

    return mqtt_client_publish(m->client, topic, payload, len, mid);
}

static void sink_gap(void *ctx, const struct outbox_gap *g)
{
    struct mqtt *m = ctx;
    uint64_t seq = outbox_next_seq(m->ob);
    size_t n;

    /* the event log (and the process log) */
    (void) evlog_event(
        LOG_WARNING, "mqtt", "mqtt_gap", NULL,
        "messages %llu..%llu (%llu) dropped from the outbox (%s); gap record %llu "
        "declares %zu range(s)",
        (unsigned long long) g->first, (unsigned long long) g->last,
        (unsigned long long) g->count, g->reason, (unsigned long long) seq, g->nranges);
    n = mqtt_payload_gap(m->rec, m->rec_cap, m->gateway, seq, loop_wall_ns(), g->first,
                         g->last, g->count, g->reason, g->ranges, g->nranges);
    if (n > 0 && n < m->rec_cap &&
        outbox_put_gap(m->ob, seq, m->topics[T_GAP], m->rec, n) == 0) {
        m->messages++;
    }
}

static void on_client(struct loop *l, int fd, short revents, void *ctx)
{
    struct mqtt *m = ctx;
    int mids[ACK_BATCH], changed = 0, up = 0;
    size_t n;

    (void) l;
    (void) fd;
    (void) revents;
    n = mqtt_client_take(m->client, mids, ACK_BATCH, &changed, &up);
    for (size_t i = 0; i < n; i++) {
        outbox_acked(m->ob, mids[i]);
    }
    if (changed) {
        outbox_link(m->ob, up);
    }
    outbox_pump(m->ob);
}

static void on_commit(struct loop *l, int fd, short revents, void *ctx)
{
    struct mqtt *m = ctx;
    uint64_t v;

    (void) l;
    (void) revents;
    if (read(fd, &v, sizeof(v)) < 0) {
        /* nothing: pump anyway */
    }
    outbox_pump(m->ob);
}

static void on_tick(struct loop *l, void *ctx)
{
    struct mqtt *m = ctx;

    (void) l;
    flush_changes(m);
    outbox_pump(m->ob);
}

/* ---- start and stop ---------------------------------------------------------------- */

static int read_password(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");

    if (!f) {
        int rc = -errno;

        LOGF(LOG_ERR, "mqtt", "password_file %s: %s", path, pq_strerror(rc));
        return rc;
    }
    if (!fgets(buf, (int) cap, f)) {
        buf[0] = '\0';
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int add_entry(struct mqtt *m, int topic, int64_t period, const char *const *pats,
                     size_t npats)
{
    struct entry *e = &m->entries[m->nentries++];

    e->m = m;
    e->topic = topic;
    e->period = period;
    e->timer = -1;
    for (size_t i = 0; i < MAX_PATTERNS; i++) {
        e->subs[i] = -1;
    }
    for (size_t i = 0; i < npats; i++) {
        e->subs[i] = bus_subscribe(m->gw->bus, pats[i], on_entry_value, e);
        if (e->subs[i] < 0) {
            LOGF(LOG_ERR, "mqtt", "subscribe %s: %s", pats[i], pq_strerror(e->subs[i]));
            return e->subs[i];
        }
    }
    if (period > 0) {
        e->timer = loop_add_timer(m->gw->loop, period, on_entry_timer, e);
        if (e->timer < 0) {
            return e->timer;
        }
    }
    return 0;
}

static int subscribe_all(struct mqtt *m)
{
    const struct mqtt_cfg *c = m->cfg;
    static const char *const energy[] = {"**/energy*", "**/energy/*"};
    int rc = 0;

    m->entries = calloc(c->publish.n + 2, sizeof(*m->entries));
    if (!m->entries) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->publish.n && rc == 0; i++) {
        const struct mqtt_publish_cfg *p = CFG_AT(c->publish, struct mqtt_publish_cfg, i);
        const char *pat = p->channels;

        rc = add_entry(m, T_DATA, p->interval_ns, &pat, 1);
    }
    if (rc == 0 && *c->alarms) {
        const char *pat = c->alarms;

        rc = add_entry(m, T_ALARM, 0, &pat, 1);
    }
    if (rc == 0 && c->energy_interval_ns > 0) {
        rc = add_entry(m, T_ENERGY, c->energy_interval_ns, energy, 2);
    }
    if (rc == 0 && c->events) {
        m->rsub[0] = records_subscribe(m->gw->records, "event", on_record, m);
        rc = m->rsub[0] < 0 ? m->rsub[0] : 0;
    }
    if (rc == 0 && (c->aggregates_10min || c->aggregates_2h)) {
        m->rsub[1] = records_subscribe(m->gw->records, "interval", on_record, m);
        rc = m->rsub[1] < 0 ? m->rsub[1] : 0;
    }
    return rc;
}

static int open_outbox(struct mqtt *m)
{
    const struct mqtt_cfg *c = m->cfg;
    struct outbox_cfg oc = {
        .window = (unsigned) c->max_inflight,
        .replay_share = c->replay_share_pct / 100.0,
        .budget_rows = (uint64_t) c->outbox_budget,
    };
    struct outbox_sink sink = {.send = sink_send, .gap = sink_gap, .ctx = m};
    struct outbox_stats st;
    int rc = outbox_open(m->gw->store, &oc, &sink, &m->ob);

    if (rc < 0) {
        LOGF(LOG_ERR, "mqtt", "outbox: %s", pq_strerror(rc));
        return rc;
    }
    outbox_stats(m->ob, &st);
    LOGF(LOG_INFO, "mqtt", "outbox: %llu messages waiting, next sequence number %llu",
         (unsigned long long) st.rows, (unsigned long long) st.next_seq);
    return 0;
}

static int start_client(struct mqtt *m)
{
    const struct mqtt_cfg *c = m->cfg;
    char id[128], pw[512];
    const char *password = NULL;
    int rc;

    snprintf(id, sizeof(id), "%s", *c->client_id ? c->client_id : "");
    if (!*c->client_id) {
        snprintf(id, sizeof(id), "pqgate-%s", m->gateway);
    }
    if (*c->password_file) {
        rc = read_password(c->password_file, pw, sizeof(pw));
        if (rc < 0) {
            return rc;
        }
        password = pw;
    } else if (*c->password) {
        password = c->password;
    }
    rc = mqtt_client_new(c, id, password, m->topics[T_STATUS],
                         (size_t) c->max_inflight + 64, &m->client);
    memset(pw, 0, sizeof(pw));
    if (rc < 0) {
        return rc;
    }
    rc = loop_add_fd(m->gw->loop, mqtt_client_fd(m->client), POLLIN, on_client, m);
    if (rc < 0) {
        return rc;
    }
    m->client_fd_added = 1;
    return mqtt_client_start(m->client);
}

static void mqtt_stop(void *state);

static int mqtt_start(struct gw *gw, void **state)
{
    const struct mqtt_cfg *c = &gw->cfg->mqtt;
    struct mqtt *m;
    int rc;

    *state = NULL;
    if (!c->enabled) {
        return 0;
    }
    if (!gw->store) {
        LOGF(LOG_ERR, "mqtt",
             "forwarding needs the onboard store (the outbox lives there)");
        return -PQ_ECONFIG;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        return -ENOMEM;
    }
    m->gw = gw;
    m->cfg = c;
    m->gateway = gw->cfg->gateway.id;
    m->commit_fd = -1;
    m->tick_timer = m->health_timer = -1;
    m->rsub[0] = m->rsub[1] = -1;
    for (int t = 0; t < T_COUNT; t++) {
        snprintf(m->topics[t], TOPIC_MAX, "%s/%s/%s", c->topic_prefix, m->gateway,
                 topic_suffix[t]);
    }
    m->buf_cap = (size_t) c->max_message_bytes;
    m->rec_cap = m->buf_cap > 65536 ? m->buf_cap : 65536;
    m->buf = malloc(m->buf_cap);
    m->rec = malloc(m->rec_cap);
    *state = m;
    if (!m->buf || !m->rec) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = open_outbox(m);
    if (rc == 0) {
        rc = start_client(m);
    }
    if (rc == 0) {
        rc = subscribe_all(m);
    }
    if (rc == 0) {
        m->tick_timer = loop_add_timer(gw->loop, TICK_NS, on_tick, m);
        rc = m->tick_timer < 0 ? m->tick_timer : 0;
    }
    if (rc == 0 && c->health_interval_ns > 0) {
        m->health_timer = loop_add_timer(gw->loop, c->health_interval_ns, on_health, m);
        rc = m->health_timer < 0 ? m->health_timer : 0;
    }
    if (rc < 0) {
        goto fail;
    }
    /* the commit fd wakes the pump at once; if another component watches it
     * already, the tick does the job within 100 ms */
    if (loop_add_fd(gw->loop, store_commit_fd(gw->store), POLLIN, on_commit, m) == 0) {
        m->commit_fd = store_commit_fd(gw->store);
    }
    LOGF(LOG_INFO, "mqtt", "forwarding to %s:%d as %s/%s/...", c->host, c->port,
         c->topic_prefix, m->gateway);
    return 0;

fail:
    LOGF(LOG_ERR, "mqtt", "not started: %s", pq_strerror(rc));
    mqtt_stop(m);
    *state = NULL;
    return rc;
}

static void free_entries(struct mqtt *m)
{
    for (size_t i = 0; i < m->nentries; i++) {
        struct entry *e = &m->entries[i];

        for (int k = 0; k < MAX_PATTERNS; k++) {
            if (e->subs[k] >= 0) {
                bus_unsubscribe(m->gw->bus, e->subs[k]);
            }
        }
        if (e->timer >= 0) {
            loop_del_timer(m->gw->loop, e->timer);
        }
        free(e->chs);
        free(e->sent_t);
        free(e->seen);
    }
    free(m->entries);
}

static void mqtt_stop(void *state)
{
    struct mqtt *m = state;

    if (!m) {
        return;
    }
    free_entries(m);
    for (int i = 0; i < 2; i++) {
        records_unsubscribe(m->gw->records, m->rsub[i]); /* -1: nothing */
    }
    if (m->tick_timer >= 0) {
        loop_del_timer(m->gw->loop, m->tick_timer);
    }
    if (m->health_timer >= 0) {
        loop_del_timer(m->gw->loop, m->health_timer);
    }
    if (m->commit_fd >= 0) {
        loop_del_fd(m->gw->loop, m->commit_fd);
    }
    if (m->client_fd_added) {
        loop_del_fd(m->gw->loop, mqtt_client_fd(m->client));
    }
    mqtt_client_free(m->client); /* "offline", DISCONNECT, thread joined */
    outbox_close(m->ob);         /* unsent rows stay for the next start */
    free(m->buf);
    free(m->rec);
    free(m);
}

const struct gw_component mqtt_component = {
    .name = "mqtt",
    .start = mqtt_start,
    .stop = mqtt_stop,
};
