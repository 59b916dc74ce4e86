/* meter.c - engine -> aggregation and energy registers. */
#include "pq/meter.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pq/aggregate.h"
#include "pq/direction.h"
#include "pq/energy.h"
#include "pq/err.h"
#include "pq/flicker.h"
#include "pq/minmax.h"

struct pq_meter {
    struct pq_meter_cfg cfg;
    struct pq_meter_out out;
    struct pq_engine *engine;
    struct pq_agg *agg;
    struct pq_energy energy;
    int64_t first_ns;       /* start of the first basic record, -1 before */
    int64_t energy_end_ns;  /* the registers cover time up to here */
    int64_t emitted_end_ns; /* end of the last energy record emitted */
    int has_demand;
    struct pq_demand demand[PQ_DEMAND_NQ];
    struct pq_minmax mm;
    struct pq_events *ev;
    int flag_open; /* a dip, swell or interruption is flagging the engine */
    /* direction: the last second of frames, and one analysis at a time */
    float *ring;
    size_t ring_frames;
    uint64_t fed;       /* frames fed so far */
    int dir_state;      /* 0 idle, 1 waiting for samples, 2 done */
    uint64_t dir_start; /* frame of the event start */
    struct pq_direction_result dir;
    int held; /* an event waits for its direction */
    struct pq_event held_ev;
    /* RMS burst: the last half-cycle values, and one burst at a time */
    struct pq_halfcycle *hc;
    size_t hc_cap, hc_n; /* ring capacity, values stored so far */
    int burst_pending;
    int burst_kind;
    int64_t burst_event_ns;

    struct burst_req {
        int used;
        uint32_t tag;
        int64_t t_ns;
    } req[PQ_METER_BURST_REQS]; /* requested bursts waiting */

    int64_t *b_t;
    double *b_u, *b_ull, *b_i;
    /* flicker: one meter per phase voltage; the Pst (Plt) of one slot are
     * gathered and emitted together */
    struct pq_flicker *fl[3];
    int fl_ch[3];
    int nfl;

    struct fl_ctx {
        struct pq_meter *m;
        int ph;
    } flctx[3];

    struct slot {
        int64_t start_ns, end_ns;
        double v[3];
        unsigned have, flags;
    } pst, plt;

    double *min, *max;
    int64_t *tmin, *tmax;
};

/* Demand: the mean of each quantity over the record's new time. */
static void update_demand(struct pq_meter *m, const struct pq_interval *r, double dt_s)
{
    const double v[PQ_DEMAND_NQ] = {r->p_w[PQ_NPH], r->q_var[PQ_NPH], r->s_va[PQ_NPH],
                                    r->i_rms_a[0],  r->i_rms_a[1],    r->i_rms_a[2]};

    for (int q = 0; q < PQ_DEMAND_NQ; q++) {
        pq_demand_update(&m->demand[q], r->end_ns, v[q], dt_s);
    }
}

static void emit_energy(struct pq_meter *m)
{
    struct pq_energy_reading r;
    struct pq_meter_energy e;

    if (!m->out.energy || m->first_ns < 0 || m->emitted_end_ns == m->energy_end_ns) {
        return;
    }
    m->emitted_end_ns = m->energy_end_ns;
    pq_energy_read(&m->energy, PQ_ENERGY_TOTAL, &r);
    e.start_ns = m->first_ns;
    e.end_ns = m->energy_end_ns;
    e.kwh_del = r.wh_del / 1000.0;
    e.kwh_rec = r.wh_rec / 1000.0;
    e.kvarh_del = r.varh_del / 1000.0;
    e.kvarh_rec = r.varh_rec / 1000.0;
    e.kvah = r.vah / 1000.0;
    m->out.energy(m->out.ctx, &e);
}

static void on_aggregate(void *ctx, const struct pq_interval *r)
{
    struct pq_meter *m = ctx;

    if ((m->cfg.levels & (1u << r->agg)) && m->out.interval) {
        m->out.interval(m->out.ctx, r);
    }
    if (r->agg == PQ_AGG_10MIN) {
        emit_energy(m); /* the registers every 10 min, with the aggregate */
    }
}

/* Energy integrates each basic record's mean powers over the part of its
 * time not already counted: the basic windows are contiguous except at a
 * 10-min resync, where the old and the new series overlap (4.5.3). */
static void on_basic(void *ctx, const struct pq_interval *r, int resync)
{
    struct pq_meter *m = ctx;
    int64_t from = r->start_ns > m->energy_end_ns ? r->start_ns : m->energy_end_ns;

    if (m->first_ns < 0) {
        m->first_ns = r->start_ns;
        from = r->start_ns;
    }
    if (r->end_ns > from) {
        double dt = (double) (r->end_ns - from) / 1e9;

        pq_energy_add(&m->energy, r->p_w, r->q_var, r->s_va, dt);
        if (m->has_demand) {
            update_demand(m, r, dt);
        }
        m->energy_end_ns = r->end_ns;
    }
    pq_minmax_update(&m->mm, pq_values(r), r->end_ns);
    if ((m->cfg.levels & (1u << PQ_AGG_200MS)) && m->out.interval) {
        m->out.interval(m->out.ctx, r);
    }
    pq_agg_add(m->agg, r, resync, on_aggregate, m);
    if (m->cfg.energy_every_ns > 0 && r->end_ns / m->cfg.energy_every_ns !=
                                          m->emitted_end_ns / m->cfg.energy_every_ns) {
        emit_energy(m);
    }
}

/* Gather one value per phase for the slot; emit when all are in (a slot
 * that starts while another is pending flushes it first). */
static void gather(struct pq_meter *m, struct slot *sl, int ph, int64_t start,
                   int64_t end, double v, unsigned flags,
                   void (*emit)(void *, int64_t, int64_t, const double *, int, unsigned))
{
    if (sl->have && sl->start_ns != start) {
        if (emit) {
            emit(m->out.ctx, sl->start_ns, sl->end_ns, sl->v, m->nfl,
                 sl->flags | PQ_REC_PARTIAL);
        }
        sl->have = 0;
    }
    if (!sl->have) {
        sl->start_ns = start;
        sl->end_ns = end;
        sl->flags = 0;
        sl->v[0] = sl->v[1] = sl->v[2] = NAN;
    }
    sl->v[ph] = v;
    sl->flags |= flags;
    sl->have |= 1u << ph;
    if (sl->have == (1u << m->nfl) - 1) {
        if (emit) {
            emit(m->out.ctx, sl->start_ns, sl->end_ns, sl->v, m->nfl, sl->flags);
        }
        sl->have = 0;
    }
}

static void on_pst(void *ctx, int64_t start, int64_t end, double pst, unsigned flags)
{
    struct fl_ctx *c = ctx;

    gather(c->m, &c->m->pst, c->ph, start, end, pst, flags, c->m->out.flicker);
}

static void on_plt(void *ctx, int64_t start, int64_t end, double plt, int n,
                   unsigned flags)
{
    struct fl_ctx *c = ctx;

    (void) n;
    gather(c->m, &c->m->plt, c->ph, start, end, plt, flags, c->m->out.flicker_plt);
}

static int open_flicker(struct pq_meter *m)
{
    const struct pq_engine_cfg *e = &m->cfg.engine;
    int nph = e->wiring == PQ_WIRING_SINGLE ? 1 : 3;

    for (int ph = 0; ph < nph; ph++) {
        struct pq_flicker_out fo = {.pst = on_pst, .plt = on_plt};
        int rc;

        m->fl_ch[ph] = -1;
        for (size_t ch = 0; ch < e->nch; ch++) {
            if (e->role[ch] == PQ_ROLE_UA + ph) {
                m->fl_ch[ph] = (int) ch;
            }
        }
        if (m->fl_ch[ph] < 0) {
            return -EINVAL;
        }
        m->flctx[ph].m = m;
        m->flctx[ph].ph = ph;
        fo.ctx = &m->flctx[ph];
        rc = pq_flicker_new(e->fs_hz, e->f_nominal_hz, m->cfg.flicker_lamp,
                            e->udin_v > 0 ? e->udin_v : 230.0, e->start_ns, &fo,
                            &m->fl[ph]);
        if (rc < 0) {
            return rc;
        }
        m->nfl = ph + 1;
    }
    return 0;
}

static void on_freq10s(void *ctx, int64_t start_ns, int64_t end_ns, double f_hz,
                       unsigned flags)
{
    struct pq_meter *m = ctx;

    if (m->out.freq10s) {
        m->out.freq10s(m->out.ctx, start_ns, end_ns, f_hz, flags);
    }
}

/* Emit the burst around t0 (kind, tag) from the half-cycle ring: every
 * value from burst_before_s before t0 to the first at or after
 * burst_after_s after it (or the newest). */
static void emit_burst(struct pq_meter *m, int kind, uint32_t tag, int64_t t0)
{
    int64_t from = t0 - (int64_t) (m->cfg.burst_before_s * 1e9);
    int64_t to = t0 + (int64_t) (m->cfg.burst_after_s * 1e9);
    size_t first = m->hc_n > m->hc_cap ? m->hc_n - m->hc_cap : 0;
    struct pq_burst b = {.kind = kind,
                         .tag = tag,
                         .event_start_ns = t0,
                         .t_ns = m->b_t,
                         .u_rms = m->b_u,
                         .u_ll_rms = m->b_ull,
                         .i_rms = m->b_i};

    for (size_t k = first; k < m->hc_n; k++) {
        const struct pq_halfcycle *h = &m->hc[k % m->hc_cap];

        if (h->t_ns < from) {
            continue;
        }
        b.nph = h->nph;
        m->b_t[b.n] = h->t_ns;
        memcpy(m->b_u + 3 * b.n, h->u_rms, 3 * sizeof(double));
        memcpy(m->b_ull + 3 * b.n, h->u_ll_rms, 3 * sizeof(double));
        memcpy(m->b_i + 4 * b.n, h->i_rms, 4 * sizeof(double));
        b.n++;
        if (h->t_ns >= to) {
            break;
        }
    }
    if (m->out.burst && b.n > 0) {
        m->out.burst(m->out.ctx, &b);
    }
}

static void emit_event_burst(struct pq_meter *m)
{
    m->burst_pending = 0;
    emit_burst(m, m->burst_kind, 0, m->burst_event_ns);
}

/* Emit the requests whose window has ended by `now` (all: INT64_MAX). */
static void emit_requests(struct pq_meter *m, int64_t now)
{
    int64_t after = (int64_t) (m->cfg.burst_after_s * 1e9);

    for (int i = 0; i < PQ_METER_BURST_REQS; i++) {
        struct burst_req *r = &m->req[i];

        if (r->used && (now == INT64_MAX || now >= r->t_ns + after)) {
            r->used = 0;
            emit_burst(m, PQ_BURST_REQUESTED, r->tag, r->t_ns);
        }
    }
}

static void keep_halfcycle(struct pq_meter *m, const struct pq_halfcycle *h)
{
    m->hc[m->hc_n % m->hc_cap] = *h;
    m->hc_n++;
    if (m->burst_pending &&
        h->t_ns >= m->burst_event_ns + (int64_t) (m->cfg.burst_after_s * 1e9)) {
        emit_event_burst(m);
    }
    emit_requests(m, h->t_ns);
}

int pq_meter_burst_request(struct pq_meter *m, int64_t t_ns, uint32_t tag)
{
    if (!m->hc) {
        return -ENOTSUP;
    }
    for (int i = 0; i < PQ_METER_BURST_REQS; i++) {
        if (!m->req[i].used) {
            m->req[i] = (struct burst_req){.used = 1, .tag = tag, .t_ns = t_ns};
            return 0;
        }
    }
    return -PQ_EFULL;
}

/* The events that flag intervals (IEC 61000-4-30 4.7). */
#define FLAGGING ((1u << PQ_EV_DIP) | (1u << PQ_EV_SWELL) | (1u << PQ_EV_INTERRUPTION))

static void on_halfcycle(void *ctx, const struct pq_halfcycle *h)
{
    struct pq_meter *m = ctx;

    if (m->hc) {
        keep_halfcycle(m, h);
    }
    if (m->ev) {
        pq_events_halfcycle(m->ev, h);
        /* a start that came to nothing (a dip that became an
         * interruption and ended with it) closes here */
        if (m->flag_open && !(pq_events_active(m->ev) & FLAGGING)) {
            pq_engine_flag_close(m->engine, h->t_ns);
            m->flag_open = 0;
        }
    }
    if (m->out.halfcycle) {
        m->out.halfcycle(m->out.ctx, h);
    }
}

/* Frame index of a time of the stream. */
static uint64_t frame_of(const struct pq_meter *m, int64_t t_ns)
{
    double f = (double) (t_ns - m->cfg.engine.start_ns) * m->cfg.engine.fs_hz / 1e9;

    return f > 0 ? (uint64_t) f : 0;
}

static void emit_event(struct pq_meter *m, struct pq_event *ev)
{
    if (m->dir_state == 2) {
        ev->direction = m->dir.direction;
        ev->confidence = m->dir.confidence;
    }
    m->dir_state = 0;
    if (m->out.event) {
        m->out.event(m->out.ctx, ev);
    }
}

/* Run the direction analysis once PQ_DIRECTION_POST_CYCLES (and one more)
 * have been fed after the start; emit an event that waited for it. */
static void run_direction(struct pq_meter *m)
{
    const struct pq_engine_cfg *e = &m->cfg.engine;
    size_t cycle = (size_t) (e->fs_hz / e->f_nominal_hz);
    size_t pre = (PQ_DIRECTION_PRE_CYCLES + 1) * cycle;
    size_t post = (PQ_DIRECTION_POST_CYCLES + 1) * cycle;
    struct pq_direction_in in;

    if (m->dir_state != 1 || m->fed < m->dir_start + post) {
        return;
    }
    memset(&in, 0, sizeof(in));
    in.x = m->ring;
    in.stride = e->nch;
    in.ring_frames = m->ring_frames;
    in.first = (size_t) ((m->dir_start - pre) % m->ring_frames);
    in.n = pre + post;
    in.nph = e->wiring == PQ_WIRING_SINGLE ? 1 : 3;
    for (size_t ch = 0; ch < e->nch; ch++) {
        int r = e->role[ch];

        if (r >= PQ_ROLE_UA && r <= PQ_ROLE_UC) {
            in.u_ch[r - PQ_ROLE_UA] = (int) ch;
        } else if (r >= PQ_ROLE_IA && r <= PQ_ROLE_IC) {
            in.i_ch[r - PQ_ROLE_IA] = (int) ch;
        }
    }
    in.fs_hz = e->fs_hz;
    in.f_hz = e->f_nominal_hz;
    in.i_ref_a = e->il_a;
    in.start = pre;
    if (pq_direction_analyze(&in, &m->dir) < 0) {
        m->dir.direction = PQ_DIRECTION_UNKNOWN;
        m->dir.confidence = 0;
    }
    m->dir_state = 2;
    if (m->held) {
        m->held = 0;
        emit_event(m, &m->held_ev);
    }
}

static void on_event_start(void *ctx, int kind, int64_t start_ns)
{
    struct pq_meter *m = ctx;

    if ((kind == PQ_EV_DIP || kind == PQ_EV_SWELL) && m->ring && m->dir_state == 0) {
        uint64_t f = frame_of(m, start_ns);
        size_t cycle = (size_t) (m->cfg.engine.fs_hz / m->cfg.engine.f_nominal_hz);

        if (f > (PQ_DIRECTION_PRE_CYCLES + 1) * cycle) {
            m->dir_state = 1;
            m->dir_start = f;
        }
    }

    if ((1u << kind) & FLAGGING) {
        pq_engine_flag_open(m->engine, start_ns);
        m->flag_open = 1;
    }
    if (m->hc && !m->burst_pending && kind != PQ_EV_CURRENT_SAG &&
        kind != PQ_EV_CURRENT_SWELL) {
        m->burst_pending = 1;
        m->burst_kind = kind;
        m->burst_event_ns = start_ns;
    } else if (m->burst_pending && m->burst_kind == PQ_EV_RVC &&
               ((1u << kind) & FLAGGING)) {
        /* an RVC that turns into a dip or swell is that dip or swell
         * (IEC 61000-4-30 5.11): the burst is its, from its start */
        m->burst_kind = kind;
        m->burst_event_ns = start_ns;
    }
    if (m->out.event_start) {
        m->out.event_start(m->out.ctx, kind, start_ns);
    }
}

static void on_event_end(void *ctx, const struct pq_event *ev)
{
    struct pq_meter *m = ctx;

    if ((1u << ev->kind) & FLAGGING) {
        for (int ph = 0; ph < m->nfl; ph++) {
            pq_flicker_flag(m->fl[ph], ev->start_ns, ev->end_ns);
        }
        if (m->flag_open && !(pq_events_active(m->ev) & FLAGGING)) {
            pq_engine_flag_close(m->engine, ev->end_ns);
            m->flag_open = 0;
        }
    }
    if ((ev->kind == PQ_EV_DIP || ev->kind == PQ_EV_SWELL) && m->dir_state == 1 &&
        !m->held) {
        m->held_ev = *ev; /* its direction needs a few more cycles */
        m->held = 1;
        return;
    }
    {
        struct pq_event copy = *ev;

        if (ev->kind != PQ_EV_DIP && ev->kind != PQ_EV_SWELL) {
            /* not a dip or swell: no direction; an analysis under way is
             * kept for the dip or swell it belongs to */
            copy.direction = PQ_DIRECTION_UNKNOWN;
            if (m->out.event) {
                m->out.event(m->out.ctx, &copy);
            }
            return;
        }
        emit_event(m, &copy);
    }
}

int pq_meter_new(const struct pq_meter_cfg *cfg, const struct pq_meter_out *out,
                 struct pq_meter **mp, const char **why)
{
    struct pq_engine_out eo = {
        .interval = on_basic,
        .freq10s = on_freq10s,
        .halfcycle = (out && out->halfcycle) || cfg->events ||
                             cfg->burst_before_s + cfg->burst_after_s > 0
                         ? on_halfcycle
                         : NULL,
    };
    struct pq_meter *m = calloc(1, sizeof(*m));
    const char *dummy;
    int rc;

    why = why ? why : &dummy;
    if (!m) {
        return -ENOMEM;
    }
    m->cfg = *cfg;
    if (out) {
        m->out = *out;
    }
    m->first_ns = -1;
    m->energy_end_ns = INT64_MIN;
    m->emitted_end_ns = INT64_MIN;
    eo.ctx = m;
    m->min = malloc(PQ_NVALUES * sizeof(double));
    m->max = malloc(PQ_NVALUES * sizeof(double));
    m->tmin = malloc(PQ_NVALUES * sizeof(int64_t));
    m->tmax = malloc(PQ_NVALUES * sizeof(int64_t));
    if (!m->min || !m->max || !m->tmin || !m->tmax) {
        pq_meter_free(m);
        return -ENOMEM;
    }
    pq_minmax_init(&m->mm, m->min, m->max, m->tmin, m->tmax, PQ_NVALUES);
    if (cfg->demand_interval_s > 0) {
        for (int q = 0; q < PQ_DEMAND_NQ; q++) {
            rc = pq_demand_init(&m->demand[q], cfg->demand_method, cfg->demand_interval_s,
                                cfg->demand_subintervals > 0 ? cfg->demand_subintervals
                                                             : 1);
            if (rc < 0) {
                *why = "demand: an interval of 1 s to 1 day, sub-intervals only for "
                       "the sliding block, each a whole number of seconds";
                pq_meter_free(m);
                return rc;
            }
        }
        m->has_demand = 1;
    }
    if (cfg->events && cfg->engine.fs_hz >= 64.0 * cfg->engine.f_nominal_hz) {
        int has_i = 0;

        for (size_t ch = 0; ch < cfg->engine.nch; ch++) {
            has_i |= cfg->engine.role[ch] == PQ_ROLE_IA;
        }
        if (has_i) { /* direction needs the currents */
            m->ring_frames = (size_t) cfg->engine.fs_hz;
            m->ring = malloc(m->ring_frames * cfg->engine.nch * sizeof(float));
            if (!m->ring) {
                pq_meter_free(m);
                return -ENOMEM;
            }
        }
    }
    if (cfg->burst_before_s + cfg->burst_after_s > 0) {
        /* two values per cycle at up to 75 Hz, with a cycle of slack, and
         * the lag a request may have */
        m->hc_cap =
            (size_t) ((cfg->burst_before_s + cfg->burst_after_s + PQ_METER_BURST_LAG_S) *
                      150.0) +
            4;
        m->hc = calloc(m->hc_cap, sizeof(*m->hc));
        m->b_t = malloc(m->hc_cap * sizeof(int64_t));
        m->b_u = malloc(m->hc_cap * 3 * sizeof(double));
        m->b_ull = malloc(m->hc_cap * 3 * sizeof(double));
        m->b_i = malloc(m->hc_cap * 4 * sizeof(double));
        if (!m->hc || !m->b_t || !m->b_u || !m->b_ull || !m->b_i) {
            pq_meter_free(m);
            return -ENOMEM;
        }
    }
    if (cfg->events) {
        struct pq_events_out evo = {
            .start = on_event_start, .end = on_event_end, .ctx = m};

        rc = pq_events_new(&cfg->ev, &evo, &m->ev);
        if (rc < 0) {
            *why = "events: thresholds out of order (interruption < dip < 100 % < swell, "
                   "with room for the hysteresis)";
            pq_meter_free(m);
            return rc;
        }
    }
    if (cfg->flicker && (rc = open_flicker(m)) < 0) {
        *why =
            "flicker: a sample rate of 1 to 200 kHz and a voltage per phase are needed";
        pq_meter_free(m);
        return rc;
    }
    rc = pq_engine_new(&cfg->engine, &eo, &m->engine, why);
    if (rc == 0) {
        rc = pq_agg_new(cfg->engine.f_nominal_hz == 60.0 ? 12 : 10, cfg->engine.udin_v,
                        &m->agg);
    }
    if (rc < 0) {
        pq_meter_free(m);
        return rc;
    }
    *mp = m;
    return 0;
}

/* Keep the last second of frames for the direction analysis. */
static void keep_frames(struct pq_meter *m, const float *x, size_t n)
{
    size_t nch = m->cfg.engine.nch;

    while (n > 0) {
        size_t at = (size_t) (m->fed % m->ring_frames);
        size_t k = m->ring_frames - at < n ? m->ring_frames - at : n;

        memcpy(m->ring + at * nch, x, k * nch * sizeof(float));
        x += k * nch;
        n -= k;
        m->fed += k;
    }
}

void pq_meter_feed(struct pq_meter *m, const float *x, size_t n)
{
    /* pieces of at most a quarter of the direction ring: the frames before
     * an event are still in it when the analysis runs, whatever the
     * caller's chunk size */
    size_t piece = m->ring ? m->ring_frames / 4 : n;

    while (n > 0) {
        size_t k = n < piece ? n : piece;

        if (m->ring) {
            keep_frames(m, x, k);
        }
        /* the engine first: its event flags must reach the flickermeters
         * before they close the slot the samples fall in */
        pq_engine_feed(m->engine, x, k);
        for (int ph = 0; ph < m->nfl; ph++) {
            pq_flicker_feed(m->fl[ph], x + m->fl_ch[ph], m->cfg.engine.nch, k);
        }
        if (m->ring) {
            run_direction(m);
        }
        x += k * m->cfg.engine.nch;
        n -= k;
    }
}

void pq_meter_finish(struct pq_meter *m)
{
    if (m->ev) {
        pq_events_finish(m->ev, pq_engine_now_ns(m->engine));
    }
    if (m->burst_pending) { /* what there is of it */
        emit_event_burst(m);
    }
    if (m->hc) {
        emit_requests(m, INT64_MAX);
    }
    if (m->held) { /* the data ended before its direction could be told */
        m->held = 0;
        m->dir_state = 0;
        emit_event(m, &m->held_ev);
    }
    for (int ph = 0; ph < m->nfl; ph++) {
        pq_flicker_finish(m->fl[ph]);
    }
    pq_agg_flush(m->agg, on_aggregate, m);
    emit_energy(m);
}

void pq_meter_free(struct pq_meter *m)
{
    if (!m) {
        return;
    }
    pq_engine_free(m->engine);
    pq_agg_free(m->agg);
    pq_events_free(m->ev);
    free(m->ring);
    free(m->hc);
    free(m->b_t);
    free(m->b_u);
    free(m->b_ull);
    free(m->b_i);
    for (int ph = 0; ph < 3; ph++) {
        pq_flicker_free(m->fl[ph]);
    }
    free(m->min);
    free(m->max);
    free(m->tmin);
    free(m->tmax);
    free(m);
}

const struct pq_demand *pq_meter_demand(const struct pq_meter *m, int q)
{
    return m->has_demand && q >= 0 && q < PQ_DEMAND_NQ ? &m->demand[q] : NULL;
}

void pq_meter_extremes(const struct pq_meter *m, const double **min, const int64_t **tmin,
                       const double **max, const int64_t **tmax)
{
    *min = m->min;
    *tmin = m->tmin;
    *max = m->max;
    *tmax = m->tmax;
}

void pq_meter_reset_extremes(struct pq_meter *m)
{
    pq_minmax_reset(&m->mm);
}

struct pq_engine *pq_meter_engine(struct pq_meter *m)
{
    return m->engine;
}
