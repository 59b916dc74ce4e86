/* metrology.c - the local meter in the daemon: one acquisition thread reads
 * the sample source, runs the meter (pq/meter.h) and publishes its records
 * on the channel bus.
 *
 * Channel names come from the record's field table (pq/record.c) with the
 * unit suffix dropped: "u_rms_v" of phase A is local/u_rms/a (V), the total
 * active power local/p/total (W), the 5th voltage harmonic of phase B
 * local/u_h/b/5; aggregates under local/3s/, local/10min/ and local/2h/
 * (without the per-harmonic arrays).  The bus is the bounded queue between
 * this thread and the main loop: publishing never blocks the ADC and drops
 * the newest updates, counted, if the main loop stalls (gateway/bus.h).
 *
 * Whole records go beside the bus on the record channel (gateway/records.h),
 * as the JSON text of DESIGN.md's analysis contract: every event ("event",
 * the line also logged) and every 10-min and 2-h aggregate ("interval", with
 * its per-harmonic arrays).  The acquisition thread formats each into one
 * buffer allocated at start and posts it; posting copies, never blocks, and
 * drops the newest record, counted, when the ring is full.
 */
#include "gateway/metrology.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "config/log.h"
#include "drivers/adc/adc.h"
#include "gateway/bus.h"
#include "gateway/capture.h"
#include "gateway/capture_files.h"
#include "gateway/cmdq.h"
#include "gateway/compliance.h"
#include "gateway/loop.h"
#include "gateway/records.h"
#include "pq/capture.h"
#include "pq/err.h"
#include "pq/event_json.h"
#include "pq/flicker.h"
#include "pq/meter.h"

#define READ_FRAMES 2048
#define IDLE_NS     5000000L /* wait when a realtime source has nothing due */
#define HC_BATCH    384      /* half-cycle updates published in one call */

struct metrology {
    struct gw *gw;
    struct adc *adc;
    struct adc_info info;
    struct pq_meter_cfg mcfg;
    struct pq_meter *meter;
    float *buf;
    /* channel id per level, field and element; -1: not published */
    int *ids[PQ_AGG_COUNT];
    size_t nids; /* per level */
    struct bus_update *upd;
    char *json;       /* a record's text, METROLOGY_RECORD_MAX bytes */
    int records_full; /* the last post found the record ring full */
    int ch_freq10s;
    int ch_energy[5];
    int ch_demand[PQ_DEMAND_NQ][4]; /* last, present, predicted, peak */
    int ch_event[PQ_EV_KIND_COUNT]; /* local/event/<kind>: its depth or height, % */
    int ch_event_count;             /* local/events/count */
    int ch_event_active[PQ_EV_KIND_COUNT]; /* local/event/<kind>/active: 1 from
                                              an event's start to its end */
    int rvc_open;                          /* local/event/rvc/active is 1 */
    int ch_u_half[3], ch_i_half[3]; /* local/u_rms_half/a.., local/i_rms_half/a.. */
    struct bus_update hc[HC_BATCH]; /* half-cycle values of the current chunk */
    size_t nhc;
    int ch_pst[3], ch_plt[3]; /* local/flicker/pst/a... */
    double events;
    int *ids_min, *ids_max;     /* per record value, -1: not published */
    int64_t published_ns;       /* stream time of the last periodic publish */
    struct gw_capture *capture; /* NULL: captures off */
    int capture_events;         /* capture.on_events: capture and burst each event */
    struct gw_en50160 *en50160; /* NULL: not evaluated */
    struct gw_ieee519 *ieee519; /* NULL: not evaluated */
    atomic_int manual;          /* manual captures asked for (main loop) */
    atomic_int reset_extremes;  /* min/max reset asked for (main loop) */
    int sub_reset;              /* bus subscription, -1: none */
    int sub_capture;            /* bus subscription, -1: none */
    int sub_burst;              /* bus subscription, -1: none */
    struct cmdq cmds;           /* alarm captures and bursts asked for (main loop) */
    uint64_t frames;            /* fed to the meter so far */
    pthread_t thread;
    int started;
    atomic_int stop;
};

/* ---- channel names ----------------------------------------------------------- */

static const struct {
    const char *suffix, *unit;
} unit_suffixes[] = {
    {"_var", "var"}, {"_va", "VA"}, {"_hz", "Hz"}, {"_v", "V"}, {"_w", "W"}, {"_a", "A"},
};

/* "u_rms_v" -> base "u_rms", unit "V"; "_pct" and "_deg" names stay whole. */
static void field_base(const char *json, char *base, size_t cap, const char **unit)
{
    size_t len = strlen(json);

    *unit = strstr(json, "_pct") ? "%" : strstr(json, "_deg") ? "deg" : "";
    snprintf(base, cap, "%s", json);
    if (**unit) {
        return;
    }
    for (size_t i = 0; i < sizeof(unit_suffixes) / sizeof(unit_suffixes[0]); i++) {
        size_t sl = strlen(unit_suffixes[i].suffix);

        if (len > sl && strcmp(json + len - sl, unit_suffixes[i].suffix) == 0) {
            base[len - sl] = '\0';
            *unit = unit_suffixes[i].unit;
            return;
        }
    }
}

/* Label of element i of a field: "a", "ab", "n", "total", "a/5". */
static void element_label(const struct pq_field *f, size_t i, char *buf, size_t cap)
{
    static const char *const ph[] = {"a", "b", "c", "n"};
    static const char *const ll[] = {"ab", "bc", "ca"};

    switch (f->shape) {
    case PQ_SHAPE_SCALAR:
        buf[0] = '\0';
        break;
    case PQ_SHAPE_PHASE:
        snprintf(buf, cap, "%s", strncmp(f->json, "u_ll", 4) == 0 ? ll[i] : ph[i]);
        break;
    case PQ_SHAPE_PHASE_N:
        snprintf(buf, cap, "%s", ph[i]);
        break;
    case PQ_SHAPE_POWER:
        snprintf(buf, cap, "%s", i == PQ_NPH ? "total" : ph[i]);
        break;
    case PQ_SHAPE_HARMONICS:
        /* harmonics h = i + 1; interharmonic subgroups n = i */
        snprintf(buf, cap, "%s/%zu", ph[i / PQ_MAX_H],
                 i % PQ_MAX_H + (strncmp(f->json, "u_ih", 4) == 0 ? 0 : 1));
        break;
    default:
        buf[0] = '\0';
    }
}

/* Does element i of f exist for this meter (phases, neutral)? */
static int element_used(const struct metrology *m, const struct pq_field *f, size_t i)
{
    int nph = m->mcfg.engine.wiring == PQ_WIRING_SINGLE ? 1 : PQ_NPH;

    switch (f->shape) {
    case PQ_SHAPE_PHASE:
        return (int) i < nph;
    case PQ_SHAPE_PHASE_N:
        return (int) i < nph || (i == PQ_NPH && nph == PQ_NPH);
    case PQ_SHAPE_POWER:
        return (int) i < nph || i == PQ_NPH;
    case PQ_SHAPE_HARMONICS:
        return (int) (i / PQ_MAX_H) < nph;
    default:
        return 1;
    }
}

static int register_level(struct metrology *m, int level)
{
    size_t k = 0;

    m->ids[level] = malloc(m->nids * sizeof(int));
    if (!m->ids[level]) {
        return -ENOMEM;
    }
    for (size_t fi = 0; fi < pq_nfields; fi++) {
        const struct pq_field *f = &pq_fields[fi];
        size_t len = pq_field_len(f);
        char base[48], label[16], name[BUS_NAME_MAX];
        const char *unit;

        for (size_t i = 0; i < len; i++, k++) {
            m->ids[level][k] = -1;
            if (!f->json || !element_used(m, f, i) ||
                (level != PQ_AGG_200MS && f->shape == PQ_SHAPE_HARMONICS)) {
                continue;
            }
            field_base(f->json, base, sizeof(base), &unit);
            element_label(f, i, label, sizeof(label));
            snprintf(name, sizeof(name), "local/%s%s%s%s%s",
                     level == PQ_AGG_200MS ? "" : pq_agg_name(level),
                     level == PQ_AGG_200MS ? "" : "/", base, *label ? "/" : "", label);
            m->ids[level][k] = bus_register(m->gw->bus, name, unit);
            if (m->ids[level][k] < 0) {
                LOGF(LOG_ERR, "metrology", "register %s: %s", name,
                     pq_strerror(m->ids[level][k]));
                return m->ids[level][k];
            }
        }
    }
    return 0;
}

/* local/min/... and local/max/...: the extremes of the basic values (not
 * the per-harmonic arrays), with the time each was reached as time stamp. */
static int register_extremes(struct metrology *m)
{
    m->ids_min = malloc(PQ_NVALUES * sizeof(int));
    m->ids_max = malloc(PQ_NVALUES * sizeof(int));
    if (!m->ids_min || !m->ids_max) {
        return -ENOMEM;
    }
    for (size_t k = 0; k < PQ_NVALUES; k++) {
        m->ids_min[k] = m->ids_max[k] = -1;
    }
    for (size_t fi = 0; fi < pq_nfields; fi++) {
        const struct pq_field *f = &pq_fields[fi];
        char base[48], label[16], name[BUS_NAME_MAX];
        const char *unit;

        if (!f->json || f->shape == PQ_SHAPE_HARMONICS) {
            continue;
        }
        field_base(f->json, base, sizeof(base), &unit);
        for (size_t i = 0; i < pq_field_len(f); i++) {
            size_t k = pq_value_index(f, i);

            if (!element_used(m, f, i)) {
                continue;
            }
            element_label(f, i, label, sizeof(label));
            snprintf(name, sizeof(name), "local/min/%s%s%s", base, *label ? "/" : "",
                     label);
            m->ids_min[k] = bus_register(m->gw->bus, name, unit);
            snprintf(name, sizeof(name), "local/max/%s%s%s", base, *label ? "/" : "",
                     label);
            m->ids_max[k] = bus_register(m->gw->bus, name, unit);
            if (m->ids_min[k] < 0 || m->ids_max[k] < 0) {
                return m->ids_min[k] < 0 ? m->ids_min[k] : m->ids_max[k];
            }
        }
    }
    return 0;
}

/* local/demand/<q>/{last,present,predicted,peak} */
static int register_demand(struct metrology *m)
{
    static const char *const q[PQ_DEMAND_NQ] = {"p", "q", "s", "i/a", "i/b", "i/c"};
    static const char *const unit[PQ_DEMAND_NQ] = {"W", "var", "VA", "A", "A", "A"};
    static const char *const what[4] = {"last", "present", "predicted", "peak"};
    char name[BUS_NAME_MAX];

    for (int k = 0; k < PQ_DEMAND_NQ; k++) {
        for (int w = 0; w < 4; w++) {
            m->ch_demand[k][w] = -1;
            if (m->mcfg.demand_interval_s <= 0) {
                continue;
            }
            snprintf(name, sizeof(name), "local/demand/%s/%s", q[k], what[w]);
            m->ch_demand[k][w] = bus_register(m->gw->bus, name, unit[k]);
            if (m->ch_demand[k][w] < 0) {
                return m->ch_demand[k][w];
            }
        }
    }
    return 0;
}

/* local/event/<kind> (value: residual % of a dip or an interruption, the
 * maximum % of a swell, delta U max % of an RVC; time: the event's start),
 * local/events/count, local/flicker/{pst,plt}/<phase>. */
static int register_events_flicker(struct metrology *m)
{
    static const char *const ph[3] = {"a", "b", "c"};
    char name[BUS_NAME_MAX];

    for (int k = 0; k < PQ_EV_KIND_COUNT; k++) {
        snprintf(name, sizeof(name), "local/event/%s", pq_event_kind_name(k));
        m->ch_event[k] = bus_register(m->gw->bus, name, "%");
        if (m->ch_event[k] < 0) {
            return m->ch_event[k];
        }
        snprintf(name, sizeof(name), "local/event/%s/active", pq_event_kind_name(k));
        m->ch_event_active[k] = bus_register(m->gw->bus, name, "");
        if (m->ch_event_active[k] < 0) {
            return m->ch_event_active[k];
        }
    }
    for (int p = 0; p < 3; p++) {
        snprintf(name, sizeof(name), "local/u_rms_half/%s", ph[p]);
        m->ch_u_half[p] = bus_register(m->gw->bus, name, "V");
        snprintf(name, sizeof(name), "local/i_rms_half/%s", ph[p]);
        m->ch_i_half[p] = bus_register(m->gw->bus, name, "A");
        if (m->ch_u_half[p] < 0 || m->ch_i_half[p] < 0) {
            return m->ch_u_half[p] < 0 ? m->ch_u_half[p] : m->ch_i_half[p];
        }
    }
    m->ch_event_count = bus_register(m->gw->bus, "local/events/count", "");
    if (m->ch_event_count < 0) {
        return m->ch_event_count;
    }
    for (int p = 0; p < 3; p++) {
        snprintf(name, sizeof(name), "local/flicker/pst/%s", ph[p]);
        m->ch_pst[p] = bus_register(m->gw->bus, name, "");
        snprintf(name, sizeof(name), "local/flicker/plt/%s", ph[p]);
        m->ch_plt[p] = bus_register(m->gw->bus, name, "");
        if (m->ch_pst[p] < 0 || m->ch_plt[p] < 0) {
            return m->ch_pst[p] < 0 ? m->ch_pst[p] : m->ch_plt[p];
        }
    }
    return 0;
}

static int register_channels(struct metrology *m)
{
    static const char *const energy[] = {"kwh_del", "kwh_rec", "kvarh_del", "kvarh_rec",
                                         "kvah"};
    static const char *const energy_units[] = {"kWh", "kWh", "kvarh", "kvarh", "kVAh"};
    char name[BUS_NAME_MAX];
    int rc;

    m->nids = 0;
    for (size_t fi = 0; fi < pq_nfields; fi++) {
        m->nids += pq_field_len(&pq_fields[fi]);
    }
    m->upd = malloc(m->nids * sizeof(*m->upd));
    if (!m->upd) {
        return -ENOMEM;
    }
    for (int level = 0; level < PQ_AGG_COUNT; level++) {
        rc = register_level(m, level);
        if (rc < 0) {
            return rc;
        }
    }
    rc = register_extremes(m);
    if (rc == 0) {
        rc = register_demand(m);
    }
    if (rc < 0) {
        return rc;
    }
    rc = register_events_flicker(m);
    if (rc < 0) {
        return rc;
    }
    m->ch_freq10s = bus_register(m->gw->bus, "local/freq10s", "Hz");
    if (m->ch_freq10s < 0) {
        return m->ch_freq10s;
    }
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "local/energy/%s", energy[i]);
        m->ch_energy[i] = bus_register(m->gw->bus, name, energy_units[i]);
        if (m->ch_energy[i] < 0) {
            return m->ch_energy[i];
        }
    }
    return 0;
}

/* ---- meter callbacks (acquisition thread) -------------------------------------- */

/* The record of n bytes in m->json onto the record channel.  A full ring
 * drops it there, counted (records_stats()); logged once per full spell. */
static void post_record(struct metrology *m, const char *type, size_t n)
{
    int rc;

    if (!m->gw->records) {
        return;
    }
    if (n >= METROLOGY_RECORD_MAX) {
        LOGF(LOG_ERR, "metrology", "%s record of %zu bytes not posted: more than %d",
             type, n, METROLOGY_RECORD_MAX);
        return;
    }
    rc = records_post(m->gw->records, type, m->json, n);
    if (rc == -PQ_EFULL && !m->records_full) {
        LOGF(LOG_WARNING, "metrology",
             "%s record dropped: the record ring is full (the main loop is behind)",
             type);
    } else if (rc < 0 && rc != -PQ_EFULL) {
        LOGF(LOG_ERR, "metrology", "%s record not posted: %s", type, pq_strerror(rc));
    }
    m->records_full = rc == -PQ_EFULL;
}

static void on_record(void *ctx, const struct pq_interval *r)
{
    struct metrology *m = ctx;
    uint32_t q = (r->flags & PQ_REC_FLAGGED) ? BUS_Q_FLAGGED : 0;
    const int *ids = m->ids[r->agg];
    size_t k = 0, n = 0;

    for (size_t fi = 0; fi < pq_nfields; fi++) {
        const struct pq_field *f = &pq_fields[fi];
        const double *v = (const double *) (const void *) ((const char *) r + f->offset);
        size_t len = pq_field_len(f);

        for (size_t i = 0; i < len; i++, k++) {
            if (ids[k] >= 0) {
                m->upd[n].ch = ids[k];
                m->upd[n].v.value = v[i];
                m->upd[n].v.t_ns = r->end_ns;
                m->upd[n].v.quality = q;
                n++;
            }
        }
    }
    (void) bus_publish_many(m->gw->bus, m->upd, n); /* overflow is counted by the bus */
    if (r->agg == PQ_AGG_10MIN || r->agg == PQ_AGG_2H) {
        /* the whole record, harmonic arrays included (not 200 ms or 3 s:
         * those are the bus's) */
        post_record(m, "interval", pq_interval_json(m->json, METROLOGY_RECORD_MAX, r));
    }
    if (m->en50160 && r->agg == PQ_AGG_10MIN) {
        gw_en50160_interval(m->en50160, r);
    }
    if (m->ieee519 && (r->agg == PQ_AGG_10MIN || r->agg == PQ_AGG_3S)) {
        gw_ieee519_interval(m->ieee519, r);
    }
}

static void on_freq10s(void *ctx, int64_t start_ns, int64_t end_ns, double f,
                       unsigned flags)
{
    struct metrology *m = ctx;

    (void) bus_publish(m->gw->bus, m->ch_freq10s, f, end_ns,
                       (flags & PQ_REC_FLAGGED) ? BUS_Q_FLAGGED : 0);
    if (m->en50160) {
        gw_en50160_freq(m->en50160, start_ns, flags, f);
    }
}

static void on_energy(void *ctx, const struct pq_meter_energy *e)
{
    struct metrology *m = ctx;
    const double v[5] = {e->kwh_del, e->kwh_rec, e->kvarh_del, e->kvarh_rec, e->kvah};
    struct bus_update u[5];

    for (int i = 0; i < 5; i++) {
        u[i].ch = m->ch_energy[i];
        u[i].v.value = v[i];
        u[i].v.t_ns = e->end_ns;
        u[i].v.quality = 0;
    }
    (void) bus_publish_many(m->gw->bus, u, 5);
}

/* Demand and extremes change every basic record but matter at a human
 * pace: published once a second of stream time. */
static void publish_periodic(struct metrology *m)
{
    int64_t now = pq_engine_now_ns(pq_meter_engine(m->meter));
    const double *mn, *mx;
    const int64_t *tmn, *tmx;
    size_t n = 0;

    if (now - m->published_ns < 1000000000LL) {
        return;
    }
    m->published_ns = now;
    pq_meter_extremes(m->meter, &mn, &tmn, &mx, &tmx);
    for (size_t k = 0; k < PQ_NVALUES && n + 2 <= m->nids; k++) {
        if (m->ids_min[k] >= 0 && tmn[k] != 0) {
            m->upd[n++] = (struct bus_update){m->ids_min[k], {mn[k], tmn[k], 0}};
            m->upd[n++] = (struct bus_update){m->ids_max[k], {mx[k], tmx[k], 0}};
        }
    }
    for (int q = 0; q < PQ_DEMAND_NQ && m->ch_demand[q][0] >= 0; q++) {
        const struct pq_demand *d = pq_meter_demand(m->meter, q);
        const double v[4] = {d->last.value, d->present, d->predicted, d->peak};
        const int64_t t[4] = {d->last.end_ns, now, now, d->peak_ns};

        for (int w = 0; w < 4 && n < m->nids; w++) {
            m->upd[n++] = (struct bus_update){
                m->ch_demand[q][w], {v[w], t[w], isnan(v[w]) ? BUS_Q_INVALID : 0}};
        }
    }
    (void) bus_publish_many(m->gw->bus, m->upd, n);
}

static void flush_halfcycles(struct metrology *m)
{
    if (m->nhc > 0) {
        (void) bus_publish_many(m->gw->bus, m->hc, m->nhc);
        m->nhc = 0;
    }
}

/* IEC 61000-4-30 5.4.2.1: Urms(1/2), the RMS of one cycle refreshed every
 * half cycle (and Irms(1/2) alike), for half-cycle alarms; gathered per
 * chunk of samples and published in one call, each with its own time. */
static void on_halfcycle(void *ctx, const struct pq_halfcycle *h)
{
    struct metrology *m = ctx;

    if (m->nhc + 6 > HC_BATCH) {
        flush_halfcycles(m);
    }
    for (int p = 0; p < h->nph && p < 3; p++) {
        m->hc[m->nhc++] = (struct bus_update){m->ch_u_half[p], {h->u_rms[p], h->t_ns, 0}};
        m->hc[m->nhc++] = (struct bus_update){m->ch_i_half[p], {h->i_rms[p], h->t_ns, 0}};
    }
}

static void on_event(void *ctx, const struct pq_event *ev)
{
    struct metrology *m = ctx;
    double v = ev->kind == PQ_EV_SWELL || ev->kind == PQ_EV_CURRENT_SWELL ? ev->max_pct
               : ev->kind == PQ_EV_RVC ? ev->rvc_du_max_pct
                                       : ev->residual_pct;
    size_t n;
    struct bus_update u[3] = {
        {m->ch_event[ev->kind], {v, ev->start_ns, 0}},
        {m->ch_event_count, {++m->events, ev->end_ns, 0}},
        {m->ch_event_active[ev->kind], {0.0, ev->end_ns, 0}},
    };

    /* the record goes to the log, one JSON line, and onto the record
     * channel for its consumers (the MQTT forwarder) */
    n = pq_event_json(m->json, METROLOGY_RECORD_MAX, ev, m->mcfg.ev.use_ll);
    if (m->en50160) {
        gw_en50160_event(m->en50160, ev);
    }
    LOGF(LOG_NOTICE, "event", "%s", n < METROLOGY_RECORD_MAX ? m->json : "(too long)");
    post_record(m, "event", n);
    flush_halfcycles(m); /* before the event's end, in time order */
    m->rvc_open &= ev->kind != PQ_EV_RVC;
    (void) bus_publish_many(m->gw->bus, u, 3);
}

/* The RMS burst of an event or of an alarm: a JSON file beside the
 * captures, "<time>_<kind>_rms.json" or "<time>_alarm_<name>_rms.json" (the
 * event log of the onboard store will hold it when that exists). */
static void on_burst(void *ctx, const struct pq_burst *b)
{
    struct metrology *m = ctx;
    const struct pqgate_cfg *cfg = m->gw->cfg;
    size_t need;
    char *text;
    char name[96], what[8 + CAPTURE_LABEL_MAX] = "alarm_";
    time_t sec = (time_t) (b->event_start_ns / 1000000000LL);
    struct tm tm;

    if (b->kind != PQ_BURST_REQUESTED && !m->capture_events) {
        return; /* an event's, and capture.on_events is off */
    }
    if (b->kind != PQ_BURST_REQUESTED) {
        snprintf(what, sizeof(what), "%s", pq_event_kind_name(b->kind));
    } else if (b->tag >= 1 && b->tag <= cfg->alarms.n) {
        capture_file_label(what + 6, sizeof(what) - 6,
                           CFG_AT(cfg->alarms, struct alarm_cfg, b->tag - 1)->name);
    } else {
        snprintf(what, sizeof(what), "%s", b->tag ? "alarm" : "manual");
    }
    need = pq_burst_json(NULL, 0, b);
    text = malloc(need + 1);
    if (!text) {
        return;
    }
    pq_burst_json(text, need + 1, b);
    gmtime_r(&sec, &tm);
    strftime(name, sizeof(name), "%Y%m%dT%H%M%S", &tm);
    snprintf(name + strlen(name), sizeof(name) - strlen(name), ".%06lldZ_%s_rms.json",
             (long long) (b->event_start_ns % 1000000000LL) / 1000, what);
    if (gw_capture_save_text(m->capture, name, text) < 0) {
        LOGF(LOG_WARNING, "capture", "RMS burst of %s not stored: the writer is behind",
             name);
    }
    free(text);
}

/* A dip, swell or interruption has started: capture its waveforms. */
static void on_event_start(void *ctx, int kind, int64_t start_ns)
{
    struct metrology *m = ctx;

    flush_halfcycles(m);
    if (m->rvc_open &&
        (kind == PQ_EV_DIP || kind == PQ_EV_SWELL || kind == PQ_EV_INTERRUPTION)) {
        /* IEC 61000-4-30 5.11: an RVC that turns into a dip or swell is not
         * an RVC; pq/events.c discards it without an end */
        (void) bus_publish(m->gw->bus, m->ch_event_active[PQ_EV_RVC], 0.0, start_ns, 0);
        m->rvc_open = 0;
    }
    m->rvc_open |= kind == PQ_EV_RVC;
    (void) bus_publish(m->gw->bus, m->ch_event_active[kind], 1.0, start_ns, 0);
    if (m->capture && m->capture_events && kind != PQ_EV_RVC &&
        kind != PQ_EV_CURRENT_SAG && kind != PQ_EV_CURRENT_SWELL) {
        (void) gw_capture_trigger(m->capture, start_ns, PQ_CAPTURE_EVENT,
                                  (uint32_t) m->events + 1);
    }
}

static void publish_flicker(struct metrology *m, const int *ch, const double *v, int nph,
                            int64_t end_ns, unsigned flags)
{
    struct bus_update u[3];
    uint32_t q = (flags & PQ_REC_FLAGGED) ? BUS_Q_FLAGGED : 0;

    for (int p = 0; p < nph; p++) {
        u[p] = (struct bus_update){ch[p], {v[p], end_ns, q}};
    }
    (void) bus_publish_many(m->gw->bus, u, (size_t) nph);
}

static void on_pst(void *ctx, int64_t start, int64_t end, const double pst[3], int nph,
                   unsigned flags)
{
    struct metrology *m = ctx;

    (void) start;
    publish_flicker(m, m->ch_pst, pst, nph, end, flags);
}

static void on_plt(void *ctx, int64_t start, int64_t end, const double plt[3], int nph,
                   unsigned flags)
{
    struct metrology *m = ctx;

    publish_flicker(m, m->ch_plt, plt, nph, end, flags);
    if (m->en50160) {
        gw_en50160_plt(m->en50160, start, flags, plt);
    }
}

/* ---- acquisition thread ----------------------------------------------------------- */

static int open_meter(struct metrology *m)
{
    struct pq_meter_out out = {
        .interval = on_record,
        .freq10s = on_freq10s,
        .halfcycle = on_halfcycle,
        .energy = on_energy,
        .event = on_event,
        .event_start = on_event_start,
        .burst = NULL,
        .flicker = on_pst,
        .flicker_plt = on_plt,
        .ctx = m,
    };
    const char *why = NULL;
    int rc;

    if (m->capture) {
        out.burst = on_burst; /* stored beside the captures */
    }
    m->mcfg.engine.start_ns = m->info.start_ns;
    rc = pq_meter_new(&m->mcfg, &out, &m->meter, &why);
    if (rc < 0) {
        LOGF(LOG_ERR, "metrology", "the meter cannot run on this source: %s",
             why ? why : pq_strerror(rc));
    }
    return rc;
}

static void idle(const struct metrology *m)
{
    int fd = adc_fd(m->adc);

    if (fd >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        (void) poll(&p, 1, 50);
    } else {
        struct timespec ts = {0, IDLE_NS};

        nanosleep(&ts, NULL);
    }
}

/* A source that is not real time (a fast simulator, a replay) has no
 * deadline: instead of letting the bus drop what the consumers cannot take
 * (its overflow policy, right for a real ADC that must never wait), it
 * waits while the bus queue is more than a quarter full.  So recorders,
 * alarms and the MQTT outbox see every value of a fast run. */
static void wait_for_consumers(const struct metrology *m)
{
    struct bus_stats st;
    struct timespec ts = {0, 1000000L}; /* 1 ms */

    for (;;) {
        bus_stats(m->gw->bus, &st);
        if (st.queued <= st.queue_cap / 4 || atomic_load(&m->stop)) {
            return;
        }
        nanosleep(&ts, NULL);
    }
}

enum { CMD_CAPTURE, CMD_BURST };

/* The captures and bursts alarms asked for, around the alarm's time (the
 * time stamp of the update that made it active) when that lies within the
 * last PQ_METER_BURST_LAG_S of the stream (the capture ring reaches as far
 * back); else (a source faster than real time, a time from another clock)
 * around the newest sample. */
static void run_commands(struct metrology *m)
{
    int64_t now = pq_engine_now_ns(pq_meter_engine(m->meter));
    int64_t lag = (int64_t) (PQ_METER_BURST_LAG_S * 1e9);
    struct cmdq_item c;

    while (cmdq_pop(&m->cmds, &c)) {
        int64_t t = c.t_ns <= now && c.t_ns >= now - lag ? c.t_ns : now;
        int rc;

        if (c.what == CMD_CAPTURE && m->capture) {
            (void) gw_capture_trigger(m->capture, t, PQ_CAPTURE_ALARM, c.tag); /* logs */
        } else if (c.what == CMD_BURST &&
                   (rc = pq_meter_burst_request(m->meter, t, c.tag)) < 0) {
            LOGF(LOG_WARNING, "metrology", "RMS burst (tag %u) refused: %s",
                 (unsigned) c.tag, pq_strerror(rc));
        }
    }
}

static void *acquire(void *arg)
{
    struct metrology *m = arg;

    while (!atomic_load(&m->stop)) {
        size_t n = 0;
        int rc = adc_read(m->adc, m->buf, READ_FRAMES, &n);

        if (rc == -PQ_EEOF) {
            LOGF(LOG_NOTICE, "metrology", "the recording has ended");
            pq_meter_finish(m->meter);
            flush_halfcycles(m);
            break;
        }
        if (rc == -PQ_EFRAME) {
            /* frames lost: a new segment, like a power-up */
            LOGF(LOG_WARNING, "metrology", "samples were lost; the meter restarts");
            pq_meter_free(m->meter);
            m->meter = NULL;
            m->frames = 0;
            if (adc_info(m->adc, &m->info) < 0 || open_meter(m) < 0) {
                break;
            }
            continue;
        }
        if (rc < 0) {
            LOGF(LOG_ERR, "metrology", "sample source failed: %s; the local meter stops",
                 pq_strerror(rc));
            break;
        }
        if (n == 0) {
            idle(m);
            continue;
        }
        if (atomic_exchange(&m->reset_extremes, 0)) {
            pq_meter_reset_extremes(m->meter);
        }
        if (m->capture && atomic_exchange(&m->manual, 0)) {
            (void) gw_capture_trigger(m->capture,
                                      pq_engine_now_ns(pq_meter_engine(m->meter)),
                                      PQ_CAPTURE_MANUAL, 0);
        }
        run_commands(m);
        if (m->capture) {
            gw_capture_feed(m->capture, m->buf, n,
                            m->info.start_ns +
                                (int64_t) ((double) m->frames * 1e9 / m->info.fs_hz));
        }
        m->frames += n;
        pq_meter_feed(m->meter, m->buf, n);
        flush_halfcycles(m);
        publish_periodic(m);
        if (!m->info.realtime) {
            wait_for_consumers(m);
        }
    }
    return NULL;
}

/* Main loop: gateway/command/minmax_reset was published (the min/max
 * log's reset); the acquisition thread resets at its next read. */
static void on_minmax_reset(void *ctx, int ch, const struct bus_value *v)
{
    struct metrology *m = ctx;

    (void) ch;
    (void) v;
    atomic_store(&m->reset_extremes, 1);
}

/* Main loop: a command for the acquisition thread; value -(i + 1) is
 * alarm i's (gateway/alarm.h), any other a manual one (tag 0). */
static void queue_command(struct metrology *m, int what, const struct bus_value *v)
{
    struct cmdq_item c = {
        .what = what,
        .tag = v->value <= -1.0 && v->value >= -1e9 ? (uint32_t) -v->value : 0,
        .t_ns = v->t_ns};

    if (cmdq_push(&m->cmds, &c) < 0) {
        LOGF(LOG_WARNING, "metrology", "%s request dropped: %d are waiting",
             what == CMD_BURST ? "RMS burst" : "capture", CMDQ_CAP);
    }
}

/* Main loop: gateway/command/capture was published: by SIGUSR1 (a count
 * from 1 up: manual), or by an alarm (-(index + 1)). */
static void on_capture_command(void *ctx, int ch, const struct bus_value *v)
{
    struct metrology *m = ctx;

    (void) ch;
    if (v->value <= -1.0) {
        queue_command(m, CMD_CAPTURE, v);
    } else {
        atomic_store(&m->manual, 1);
    }
}

/* Main loop: gateway/command/burst was published (an alarm's burst). */
static void on_burst_command(void *ctx, int ch, const struct bus_value *v)
{
    struct metrology *m = ctx;

    (void) ch;
    queue_command(m, CMD_BURST, v);
}

/* ---- component ------------------------------------------------------------------------
 */

static void metrology_free(struct metrology *m)
{
    gw_capture_free(m->capture);
    gw_en50160_free(m->en50160);
    gw_ieee519_free(m->ieee519);
    pq_meter_free(m->meter);
    adc_close(m->adc);
    for (int l = 0; l < PQ_AGG_COUNT; l++) {
        free(m->ids[l]);
    }
    free(m->upd);
    free(m->json);
    free(m->ids_min);
    free(m->ids_max);
    free(m->buf);
    free(m);
}

static void engine_cfg(struct metrology *m, const struct meter_cfg *mc,
                       const struct events_cfg *ev)
{
    struct pq_engine_cfg *e = &m->mcfg.engine;

    e->fs_hz = m->info.fs_hz;
    e->nch = m->info.nch;
    for (size_t ch = 0; ch < m->info.nch; ch++) {
        /* enum adc_role and enum pq_role list the roles in the same order */
        e->role[ch] = m->info.role[ch] <= ADC_OTHER ? m->info.role[ch] : PQ_ROLE_OTHER;
    }
    e->wiring = mc->wiring == METER_WIRING_DELTA    ? PQ_WIRING_DELTA
                : mc->wiring == METER_WIRING_SINGLE ? PQ_WIRING_SINGLE
                                                    : PQ_WIRING_WYE;
    e->f_nominal_hz = mc->nominal_frequency_hz;
    e->udin_v = mc->nominal_voltage_v;
    e->il_a = mc->max_demand_current_a;
    m->mcfg.levels = (1u << PQ_AGG_COUNT) - 1;
    m->mcfg.energy_every_ns = 1000000000LL;
    m->mcfg.demand_method = mc->demand.method; /* same order as pq_demand_method */
    m->mcfg.demand_interval_s = (double) mc->demand.interval_ns / 1e9;
    m->mcfg.demand_subintervals = cfg_demand_subintervals(&mc->demand);
    m->mcfg.flicker = mc->flicker != FLICKER_OFF && m->info.fs_hz >= 1000.0;
    m->mcfg.events = ev->enabled;
    m->mcfg.burst_before_s = (double) ev->burst_before_ns / 1e9;
    m->mcfg.burst_after_s = (double) ev->burst_after_ns / 1e9;
    m->mcfg.ev.udin_v = e->udin_v;
    m->mcfg.ev.nph = e->wiring == PQ_WIRING_SINGLE ? 1 : 3;
    m->mcfg.ev.use_ll = e->wiring == PQ_WIRING_DELTA;
    m->mcfg.ev.f_nominal_hz = e->f_nominal_hz;
    m->mcfg.ev.dip_pct = ev->dip_pct;
    m->mcfg.ev.swell_pct = ev->swell_pct;
    m->mcfg.ev.interruption_pct = ev->interruption_pct;
    m->mcfg.ev.hysteresis_pct = ev->hysteresis_pct;
    m->mcfg.ev.sliding_reference = ev->reference == EVENT_REF_SLIDING;
    m->mcfg.ev.rvc_pct = ev->rvc_pct;
    m->mcfg.ev.rvc_hysteresis_pct = ev->rvc_hysteresis_pct;
    m->mcfg.ev.i_nominal_a = ev->current_nominal_a;
    m->mcfg.ev.i_sag_pct = ev->current_sag_pct;
    m->mcfg.ev.i_swell_pct = ev->current_swell_pct;
    m->mcfg.flicker_lamp = mc->flicker == FLICKER_120V   ? PQ_LAMP_120V
                           : mc->flicker == FLICKER_230V ? PQ_LAMP_230V
                           : e->f_nominal_hz == 60.0     ? PQ_LAMP_120V
                                                         : PQ_LAMP_230V;
}

static int set_alarm_names(struct metrology *m)
{
    const struct cfg_list *l = &m->gw->cfg->alarms;
    const char **names = calloc(l->n ? l->n : 1, sizeof(*names));
    int rc;

    if (!names) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        names[i] = CFG_AT(*l, struct alarm_cfg, i)->name;
    }
    rc = gw_capture_set_alarm_names(m->capture, names, l->n);
    free(names);
    return rc;
}

static int metrology_start(struct gw *gw, void **state)
{
    const struct meter_cfg *mc = &gw->cfg->meter;
    struct metrology *m;
    int rc;

    *state = NULL;
    if (mc->source == METER_SOURCE_NONE) {
        return 0;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        return -ENOMEM;
    }
    m->gw = gw;
    atomic_init(&m->stop, 0);
    atomic_init(&m->manual, 0);
    atomic_init(&m->reset_extremes, 0);
    cmdq_init(&m->cmds);
    m->sub_capture = -1;
    m->sub_burst = -1;
    m->sub_reset = -1;
    rc = adc_open(mc, &m->adc);
    if (rc < 0) {
        LOGF(LOG_ERR, "metrology", "sample source '%s': %s",
             mc->source == METER_SOURCE_SIM      ? "sim"
             : mc->source == METER_SOURCE_REPLAY ? "replay"
                                                 : "iio",
             pq_strerror(rc));
        metrology_free(m);
        return rc;
    }
    adc_info(m->adc, &m->info);
    engine_cfg(m, mc, &gw->cfg->events);
    m->buf = malloc(READ_FRAMES * m->info.nch * sizeof(float));
    m->json = malloc(METROLOGY_RECORD_MAX);
    rc = m->buf && m->json ? register_channels(m) : -ENOMEM;
    m->sub_capture = -1;
    m->sub_reset = -1;
    m->capture_events = gw->cfg->capture.on_events;
    if (rc == 0) {
        m->sub_reset =
            bus_subscribe(gw->bus, "gateway/command/minmax_reset", on_minmax_reset, m);
        rc = m->sub_reset < 0 ? m->sub_reset : 0;
    }
    /* the writer also serves manual and alarm-triggered captures, and the
     * alarms' RMS bursts */
    if (rc == 0 && (m->capture_events || cfg_alarm_wants_capture(gw->cfg) ||
                    cfg_alarm_wants(gw->cfg, ALARM_ACT_BURST))) {
        rc = gw_capture_new(&gw->cfg->capture, &m->info, mc->nominal_frequency_hz,
                            gw->cfg->gateway.id, &m->capture);
        if (rc == 0) {
            rc = set_alarm_names(m);
        }
        if (rc == 0) {
            m->sub_capture =
                bus_subscribe(gw->bus, "gateway/command/capture", on_capture_command, m);
            m->sub_burst =
                bus_subscribe(gw->bus, "gateway/command/burst", on_burst_command, m);
        }
    }
    if (rc == 0 && gw->cfg->compliance.en50160) {
        rc = gw_en50160_new(&gw->cfg->compliance, gw->bus, m->mcfg.engine.udin_v,
                            m->mcfg.engine.wiring == PQ_WIRING_DELTA,
                            m->mcfg.engine.wiring == PQ_WIRING_SINGLE ? 1 : 3,
                            m->mcfg.engine.f_nominal_hz, m->mcfg.flicker, &m->en50160);
    }
    if (rc == 0 && gw->cfg->compliance.ieee519) {
        double bus_v = m->mcfg.engine.wiring == PQ_WIRING_DELTA
                           ? m->mcfg.engine.udin_v
                           : m->mcfg.engine.udin_v * sqrt(3.0); /* L-L at the PCC */

        rc = gw_ieee519_new(
            &gw->cfg->compliance, gw->bus, bus_v, mc->max_demand_current_a,
            m->mcfg.engine.wiring == PQ_WIRING_SINGLE ? 1 : 3, &m->ieee519);
    }
    if (rc == 0) {
        rc = open_meter(m); /* after the capture: the RMS bursts go with it */
    }
    if (rc == 0) {
        rc = -pthread_create(&m->thread, NULL, acquire, m);
        m->started = rc == 0;
    }
    if (rc < 0) {
        metrology_free(m);
        return rc;
    }
    LOGF(LOG_INFO, "metrology",
         "local meter: %zu channels at %.6g Hz, %s, Udin %.6g V, %.0f Hz", m->info.nch,
         m->info.fs_hz,
         m->mcfg.engine.wiring == PQ_WIRING_WYE     ? "wye"
         : m->mcfg.engine.wiring == PQ_WIRING_DELTA ? "delta"
                                                    : "single phase",
         m->mcfg.engine.udin_v, m->mcfg.engine.f_nominal_hz);
    *state = m;
    return 0;
}

static void metrology_stop(void *state)
{
    struct metrology *m = state;

    if (!m) {
        return;
    }
    atomic_store(&m->stop, 1);
    if (m->started) {
        pthread_join(m->thread, NULL);
    }
    if (m->sub_reset >= 0) {
        bus_unsubscribe(m->gw->bus, m->sub_reset);
    }
    if (m->sub_capture >= 0) {
        bus_unsubscribe(m->gw->bus, m->sub_capture);
    }
    if (m->sub_burst >= 0) {
        bus_unsubscribe(m->gw->bus, m->sub_burst);
    }
    metrology_free(m);
}

const struct gw_component metrology_component = {
    .name = "metrology",
    .start = metrology_start,
    .stop = metrology_stop,
};
