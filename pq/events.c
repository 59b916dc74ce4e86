/* events.c - dips, swells, interruptions, RVC and current sags/swells on the
 * half-cycle RMS values (events.h has the rules; this file the how).
 *
 * Sources: IEC 61000-4-30 Ed.3 5.4 (dips, swells), 5.5 (interruptions),
 * 5.11 (RVC) as restated in reference §1.4, §1.5 and §1.9: polyphase start
 * and end rules from the inspector-network.com, Hioki, Socomec and SATEC
 * manuals, RVC from the IEC 61000-4-30:2015 §5.11 excerpt (IEC430-TXT) and
 * the Metrel MI 2885 manual (delta U max, delta U ss, duration).
 *
 * Dips, swells, interruptions and the current events are one "level"
 * machine each, differing in direction (below or above the threshold) and
 * in the polyphase rule (any-starts/all-end, or all-start/any-ends for the
 * interruption).  Each keeps, per phase, its own hysteresis state for the
 * phase's time beyond the threshold, and its extreme value.
 *
 * Per half cycle: the interruption first, then the dip, so that an
 * interruption ending on the same half cycle as its dip is emitted before
 * the dip decides whether it was more than the interruption's edges; then
 * the swell; then the RVC, which needs to know whether any of those runs;
 * then the current events and the sliding reference.
 *
 * The RVC keeps a ring of the last 100/120 values per channel; the mean
 * and the steady-state test are recomputed from the ring (360 values at
 * most per half cycle), so nothing drifts.
 */
#include "pq/events.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pq/curves.h"

#define NS_PER_S    1e9
#define RVC_MAX_N   120 /* 100/120 half cycles */
#define EDGE_VALUES 3   /* Urms(1/2) values a step's transition may take, per edge */

/* Curve levels (%) whose runs are classified (curves.h breakpoints):
 * below 100 the runs are under the level, above 100 over it. */
static const double curve_levels[] = {50.0,  70.0,  80.0,  90.0, 110.0,
                                      120.0, 140.0, 200.0, 500.0};

#define NLEVELS (sizeof(curve_levels) / sizeof(curve_levels[0]))

enum curve_dir {
    CURVE_NONE = 0,
    CURVE_BELOW = 1, /* dips, interruptions */
    CURVE_ABOVE = 2, /* swells */
    CURVE_BOTH = 3,  /* RVC */
};

enum step_result {
    STEP_NONE,
    STEP_STARTED,
    STEP_ENDED,
};

/* A stretch of one phase beyond one curve level. */
struct run {
    int on;
    int64_t from_ns;
    double held_pct; /* the least severe value of the run: held all along */
};

struct curve_track {
    struct run run[PQ_NPH][NLEVELS];
    int itic;     /* worst ITIC verdict of the closed runs */
    int f47_fail; /* a run was more severe than SEMI F47 */
};

struct level {
    int kind;
    int below;     /* beyond = under the threshold (dip, interruption, sag) */
    int all_start; /* interruption: starts when all are beyond, ends when any is back */
    int curves;    /* enum curve_dir */
    double start_pct, end_pct; /* threshold, and threshold -+ hysteresis */

    int active;
    int64_t start_ns;
    unsigned phases, ph_in, flags;
    int64_t ph_from_ns[PQ_NPH];
    double ph_dur_s[PQ_NPH];
    double ph_ext[PQ_NPH];
    double ext_pct, ext_v, ext_ref; /* deepest value in % of its reference */
    struct curve_track ct;
    int n_outside; /* dip: its values with no interruption running */
    int n_int;     /* dip: interruptions that started inside it */
};

enum rvc_state {
    RVC_OFF,
    RVC_FILL,   /* start-up: collecting the first 100/120 values */
    RVC_STEADY, /* every channel in steady state */
    RVC_EVENT,  /* an RVC is running */
    RVC_WAIT,   /* not steady, no RVC: start-up, after a dip/swell/discard */
};

struct rvc {
    int state;
    int n;     /* 100/120 */
    int count; /* values in the ring, <= n */
    int head;  /* next slot; the oldest once full */
    double v[PQ_NPH][RVC_MAX_N];
    int64_t from_ns[RVC_MAX_N]; /* window start of each value */
    double thr_v, end_v;        /* rvc_pct and rvc_pct - hysteresis, in V */

    int64_t start_ns;
    int since; /* values since the start, the trigger included */
    double mean0[PQ_NPH], du_max[PQ_NPH], far_v[PQ_NPH];
    unsigned phases, flags;
    struct curve_track ct;
};

/* Sliding reference Usr, per channel. */
struct usr {
    double v[PQ_NPH];
    double sq[PQ_NPH]; /* sum of U^2 * period over the block */
    double t_s;
    int parity, cycles, ncyc, dirty;
};

struct pq_events {
    struct pq_events_cfg cfg; /* defaults filled in */
    struct pq_events_out out;
    int n; /* channels */
    double udin[PQ_NPH], inom[PQ_NPH];
    struct level dip, swell, intr, isag, iswell;
    struct rvc rvc;
    struct usr usr;
};

static double ns_to_s(int64_t ns)
{
    return (double) ns / NS_PER_S;
}

/* ---- curve runs ------------------------------------------------------------ */

static void curve_reset(struct curve_track *ct)
{
    memset(ct, 0, sizeof(*ct));
    ct->itic = PQ_ITIC_NO_INTERRUPTION;
}

static void run_close(struct curve_track *ct, struct run *r, double level, int64_t t_ns)
{
    double d = ns_to_s(t_ns - r->from_ns);
    int itic = pq_itic_classify(r->held_pct, d);

    if (ct->itic == PQ_ITIC_NO_INTERRUPTION &&
        (itic == PQ_ITIC_NO_DAMAGE || itic == PQ_ITIC_PROHIBITED)) {
        ct->itic = itic;
    }
    if (level < 100.0 && pq_semi_f47_classify(r->held_pct, d) == PQ_SEMI_FAIL) {
        ct->f47_fail = 1;
    }
    r->on = 0;
}

/* One value per phase, in % of udin_v, whose window starts at t_ns. */
static void curve_feed(struct curve_track *ct, int dir, int n, const double *pct,
                       int64_t t_ns)
{
    for (int k = 0; k < n; k++) {
        for (size_t l = 0; l < NLEVELS; l++) {
            double lv = curve_levels[l];
            int below = lv < 100.0;
            struct run *r = &ct->run[k][l];
            int beyond = below ? pct[k] < lv : pct[k] > lv;

            if (!(dir & (below ? CURVE_BELOW : CURVE_ABOVE))) {
                continue;
            }
            if (!beyond) {
                if (r->on) {
                    run_close(ct, r, lv, t_ns);
                }
                continue;
            }
            if (!r->on) {
                r->on = 1;
                r->from_ns = t_ns;
                r->held_pct = pct[k];
            }
            r->held_pct = below ? fmax(r->held_pct, pct[k]) : fmin(r->held_pct, pct[k]);
        }
    }
}

static void curve_close_all(struct curve_track *ct, int64_t t_ns)
{
    for (int k = 0; k < PQ_NPH; k++) {
        for (size_t l = 0; l < NLEVELS; l++) {
            if (ct->run[k][l].on) {
                run_close(ct, &ct->run[k][l], curve_levels[l], t_ns);
            }
        }
    }
}

/* ---- records --------------------------------------------------------------- */

static void record_init(struct pq_event *e, int kind, int64_t start_ns, int64_t end_ns)
{
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->start_ns = start_ns;
    e->end_ns = end_ns;
    e->duration_s = ns_to_s(end_ns - start_ns);
    e->residual_v = e->residual_pct = NAN;
    e->max_v = e->max_pct = NAN;
    e->rvc_du_max_v = e->rvc_du_ss_v = NAN;
    e->rvc_du_max_pct = e->rvc_du_ss_pct = NAN;
    e->itic = PQ_ITIC_NA;
    e->semi_f47 = PQ_SEMI_NA;
    for (int k = 0; k < PQ_NPH; k++) {
        e->ph_extreme_v[k] = NAN;
        e->ph_duration_s[k] = NAN;
    }
}

static void emit(struct pq_events *ev, const struct pq_event *e)
{
    if (ev->out.end) {
        ev->out.end(ev->out.ctx, e);
    }
}

static void announce(struct pq_events *ev, int kind, int64_t start_ns)
{
    if (ev->out.start) {
        ev->out.start(ev->out.ctx, kind, start_ns);
    }
}

/* ---- level machines (dip, swell, interruption, current) -------------------- */

static int lv_beyond(const struct level *m, double x, double ref)
{
    double thr = ref * m->start_pct / 100.0;

    return m->below ? x < thr : x > thr;
}

static int lv_back(const struct level *m, double x, double ref)
{
    double thr = ref * m->end_pct / 100.0;

    return m->below ? x >= thr : x <= thr;
}

/* Extremes and curve runs of one more value set inside the event. */
static void lv_values(struct pq_events *ev, struct level *m, const double *x,
                      const double *ref, int64_t win_ns)
{
    double pct_udin[PQ_NPH];

    for (int k = 0; k < ev->n; k++) {
        double pct = x[k] / ref[k] * 100.0;

        m->ph_ext[k] = m->below ? fmin(m->ph_ext[k], x[k]) : fmax(m->ph_ext[k], x[k]);
        if (isnan(m->ext_pct) || (m->below ? pct < m->ext_pct : pct > m->ext_pct)) {
            m->ext_pct = pct;
            m->ext_v = x[k];
            m->ext_ref = ref[k];
        }
        pct_udin[k] = x[k] / ev->cfg.udin_v * 100.0;
    }
    if (m->curves != CURVE_NONE) {
        curve_feed(&m->ct, m->curves, ev->n, pct_udin, win_ns);
    }
}

static void lv_begin(struct pq_events *ev, struct level *m, unsigned beyond,
                     const double *x, const double *ref, int64_t win_ns)
{
    m->active = 1;
    m->start_ns = win_ns;
    m->phases = m->ph_in = beyond;
    m->flags = 0;
    m->ext_pct = m->ext_v = m->ext_ref = NAN;
    m->n_outside = m->n_int = 0;
    curve_reset(&m->ct);
    for (int k = 0; k < ev->n; k++) {
        m->ph_from_ns[k] = win_ns;
        m->ph_dur_s[k] = 0.0;
        m->ph_ext[k] = x[k];
    }
    lv_values(ev, m, x, ref, win_ns);
    announce(ev, m->kind, win_ns);
}

/* Close m at end_ns into e. */
static void lv_close(struct pq_events *ev, struct level *m, int64_t end_ns,
                     struct pq_event *e)
{
    for (int k = 0; k < ev->n; k++) {
        if (m->ph_in & (1u << k)) {
            m->ph_dur_s[k] += ns_to_s(end_ns - m->ph_from_ns[k]);
        }
    }
    m->ph_in = 0;
    curve_close_all(&m->ct, end_ns);
    m->active = 0;

    record_init(e, m->kind, m->start_ns, end_ns);
    e->phases = m->phases;
    e->flags = m->flags;
    e->ref_v = m->ext_ref;
    if (m->below) {
        e->residual_v = m->ext_v;
        e->residual_pct = m->ext_pct;
    } else {
        e->max_v = m->ext_v;
        e->max_pct = m->ext_pct;
    }
    for (int k = 0; k < ev->n; k++) {
        e->ph_extreme_v[k] = m->ph_ext[k];
        e->ph_duration_s[k] = m->ph_dur_s[k];
    }
    if (m->kind == PQ_EV_DIP || m->kind == PQ_EV_INTERRUPTION) {
        pq_en50160_dip_cell(e->residual_pct, e->duration_s, e->en50160);
        e->semi_f47 = e->duration_s < 0.05 ? PQ_SEMI_NA
                      : m->ct.f47_fail     ? PQ_SEMI_FAIL
                                           : PQ_SEMI_PASS;
    } else if (m->kind == PQ_EV_SWELL) {
        pq_en50160_swell_cell(e->max_pct, e->duration_s, e->en50160);
    }
    if (m->curves != CURVE_NONE) {
        e->itic = m->ct.itic;
    }
}

/* Feed one value set (window starting at win_ns) to m; on STEP_ENDED the
 * finished event is in *e. */
static int lv_step(struct pq_events *ev, struct level *m, const double *x,
                   const double *ref, int64_t win_ns, int synthetic, struct pq_event *e)
{
    unsigned beyond = 0, back = 0, all = (1u << ev->n) - 1;

    for (int k = 0; k < ev->n; k++) {
        beyond |= lv_beyond(m, x[k], ref[k]) ? 1u << k : 0;
        back |= lv_back(m, x[k], ref[k]) ? 1u << k : 0;
    }
    if (!m->active) {
        if (m->all_start ? beyond != all : beyond == 0) {
            return STEP_NONE;
        }
        lv_begin(ev, m, beyond, x, ref, win_ns);
        m->flags |= synthetic ? PQ_EVF_SYNTHETIC : 0;
        return STEP_STARTED;
    }
    if (m->all_start ? back != 0 : back == all) {
        lv_close(ev, m, win_ns, e);
        return STEP_ENDED;
    }
    for (int k = 0; k < ev->n; k++) {
        unsigned bit = 1u << k;

        if (!(m->ph_in & bit) && (beyond & bit)) {
            m->ph_in |= bit;
            m->phases |= bit;
            m->ph_from_ns[k] = win_ns;
        } else if ((m->ph_in & bit) && (back & bit)) {
            m->ph_in &= ~bit;
            m->ph_dur_s[k] += ns_to_s(win_ns - m->ph_from_ns[k]);
        }
    }
    lv_values(ev, m, x, ref, win_ns);
    m->flags |= synthetic ? PQ_EVF_SYNTHETIC : 0;
    return STEP_NONE;
}

/* A dip has ended: report it unless it was only the edges of the
 * interruption(s) inside it (events.h). */
static void dip_report(struct pq_events *ev, struct pq_event *e)
{
    const struct level *d = &ev->dip;

    if (d->n_int > 0) {
        if (d->n_outside <= 2 * EDGE_VALUES * d->n_int) {
            return;
        }
        e->flags |= PQ_EVF_INTERRUPTION;
    }
    emit(ev, e);
}

static void lv_setup(struct level *m, int kind, int below, int all_start, int curves,
                     double thr_pct, double hyst_pct)
{
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->below = below;
    m->all_start = all_start;
    m->curves = curves;
    m->start_pct = thr_pct;
    m->end_pct = below ? thr_pct + hyst_pct : thr_pct - hyst_pct;
}

/* ---- RVC ------------------------------------------------------------------- */

static double ring_mean(const struct rvc *r, int k)
{
    double s = 0.0;

    for (int i = 0; i < r->count; i++) {
        s += r->v[k][i];
    }
    return s / r->count;
}

/* Every channel's ring within +-lim of its mean. */
static int ring_steady(const struct rvc *r, int n, double lim)
{
    for (int k = 0; k < n; k++) {
        double m = ring_mean(r, k);

        for (int i = 0; i < r->count; i++) {
            if (!(fabs(r->v[k][i] - m) <= lim)) {
                return 0;
            }
        }
    }
    return 1;
}

static void ring_push(struct rvc *r, int n, const double *x, int64_t win_ns)
{
    for (int k = 0; k < n; k++) {
        r->v[k][r->head] = x[k];
    }
    r->from_ns[r->head] = win_ns;
    r->head = (r->head + 1) % r->n;
    if (r->count < r->n) {
        r->count++;
    }
}

static void rvc_begin(struct pq_events *ev, const double *mean, unsigned trig,
                      int64_t win_ns)
{
    struct rvc *r = &ev->rvc;

    r->state = RVC_EVENT;
    r->start_ns = win_ns;
    r->since = 0;
    r->phases = trig;
    r->flags = 0;
    curve_reset(&r->ct);
    for (int k = 0; k < ev->n; k++) {
        r->mean0[k] = mean[k];
        r->du_max[k] = 0.0;
        r->far_v[k] = mean[k];
    }
    announce(ev, PQ_EV_RVC, win_ns);
}

static void rvc_close(struct pq_events *ev, int64_t end_ns, int finished)
{
    struct rvc *r = &ev->rvc;
    struct pq_event e;
    double du_max = 0.0, du_ss = 0.0;

    curve_close_all(&r->ct, end_ns);
    record_init(&e, PQ_EV_RVC, r->start_ns, end_ns);
    e.phases = r->phases;
    e.flags = r->flags | (finished ? 0 : PQ_EVF_UNFINISHED);
    e.ref_v = ev->cfg.udin_v;
    for (int k = 0; k < ev->n; k++) {
        du_max = fmax(du_max, r->du_max[k]);
        du_ss = fmax(du_ss, fabs(ring_mean(r, k) - r->mean0[k]));
        e.ph_extreme_v[k] = r->far_v[k];
        e.ph_duration_s[k] = (r->phases & (1u << k)) ? e.duration_s : 0.0;
    }
    e.rvc_du_max_v = du_max;
    e.rvc_du_ss_v = finished ? du_ss : NAN;
    e.rvc_du_max_pct = e.rvc_du_max_v / ev->cfg.udin_v * 100.0;
    e.rvc_du_ss_pct = e.rvc_du_ss_v / ev->cfg.udin_v * 100.0;
    e.itic = r->ct.itic;
    emit(ev, &e);
}

/* A value of a running RVC: it ends when the ring holds only values since
 * the start and they are steady within rvc_pct - hysteresis; its end is
 * the start of the new steady state's first window. */
static void rvc_event_value(struct pq_events *ev, const double *x, int64_t win_ns,
                            int synthetic)
{
    struct rvc *r = &ev->rvc;
    double pct[PQ_NPH];

    ring_push(r, ev->n, x, win_ns);
    r->since++;
    r->flags |= synthetic ? PQ_EVF_SYNTHETIC : 0;
    for (int k = 0; k < ev->n; k++) {
        double du = fabs(x[k] - r->mean0[k]);

        if (du > r->du_max[k]) {
            r->du_max[k] = du;
            r->far_v[k] = x[k];
        }
        if (du > r->thr_v) {
            r->phases |= 1u << k;
        }
        pct[k] = x[k] / ev->cfg.udin_v * 100.0;
    }
    curve_feed(&r->ct, CURVE_BOTH, ev->n, pct, win_ns);
    if (r->since >= r->n && ring_steady(r, ev->n, r->end_v)) {
        rvc_close(ev, r->from_ns[r->head], 1);
        r->state = RVC_STEADY;
    }
}

/* disturbed: a dip, swell or interruption is running at this value. */
static void rvc_step(struct pq_events *ev, const double *x, int64_t win_ns, int synthetic,
                     int disturbed)
{
    struct rvc *r = &ev->rvc;
    double mean[PQ_NPH];
    unsigned trig = 0;

    switch (r->state) {
    case RVC_FILL:
        ring_push(r, ev->n, x, win_ns);
        if (r->count == r->n) {
            r->state =
                !disturbed && ring_steady(r, ev->n, r->thr_v) ? RVC_STEADY : RVC_WAIT;
        }
        break;
    case RVC_STEADY:
        for (int k = 0; k < ev->n; k++) {
            mean[k] = ring_mean(r, k);
            trig |= fabs(x[k] - mean[k]) > r->thr_v ? 1u << k : 0;
        }
        if (disturbed) {
            ring_push(r, ev->n, x, win_ns);
            r->state = RVC_WAIT;
        } else if (trig) {
            rvc_begin(ev, mean, trig, win_ns);
            rvc_event_value(ev, x, win_ns, synthetic);
        } else {
            ring_push(r, ev->n, x, win_ns);
        }
        break;
    case RVC_EVENT:
        if (disturbed) { /* a dip or swell, not an RVC: discarded */
            ring_push(r, ev->n, x, win_ns);
            r->state = RVC_WAIT;
        } else {
            rvc_event_value(ev, x, win_ns, synthetic);
        }
        break;
    case RVC_WAIT:
        ring_push(r, ev->n, x, win_ns);
        if (!disturbed && ring_steady(r, ev->n, r->end_v)) {
            r->state = RVC_STEADY;
        }
        break;
    default:
        break;
    }
}

/* ---- sliding reference ----------------------------------------------------- */

static void usr_step(struct pq_events *ev, const double *x, double period_s,
                     int disturbed)
{
    struct usr *s = &ev->usr;

    s->dirty |= disturbed;
    s->parity ^= 1;
    if (!s->parity) {
        return; /* the window overlapping the previous one by half a cycle */
    }
    for (int k = 0; k < ev->n; k++) {
        s->sq[k] += x[k] * x[k] * period_s;
    }
    s->t_s += period_s;
    if (++s->cycles < s->ncyc) {
        return;
    }
    if (!s->dirty && s->t_s > 0.0) {
        double a = exp(-s->t_s / 60.0);

        for (int k = 0; k < ev->n; k++) {
            s->v[k] = a * s->v[k] + (1.0 - a) * sqrt(s->sq[k] / s->t_s);
        }
    }
    memset(s->sq, 0, sizeof(s->sq));
    s->t_s = 0.0;
    s->cycles = 0;
    s->dirty = 0;
}

/* ---- API ------------------------------------------------------------------- */

static double or_default(double v, double d)
{
    return v == 0.0 ? d : v;
}

static int finite_pos(double v)
{
    return isfinite(v) && v > 0.0;
}

static int check_cfg(const struct pq_events_cfg *c)
{
    double h = c->hysteresis_pct;

    if (!finite_pos(c->udin_v) || (c->nph != 1 && c->nph != 3) ||
        (c->f_nominal_hz != 50.0 && c->f_nominal_hz != 60.0) ||
        (c->use_ll && c->nph != 3)) {
        return -EINVAL;
    }
    /* every event must be able to end at the nominal voltage */
    if (!finite_pos(c->dip_pct) || !finite_pos(c->swell_pct) ||
        !finite_pos(c->interruption_pct) || !finite_pos(h) ||
        !(c->interruption_pct + h < c->dip_pct) || !(c->dip_pct + h < 100.0) ||
        !(c->swell_pct - h > 100.0)) {
        return -EINVAL;
    }
    if (!(isfinite(c->rvc_pct) && c->rvc_pct >= 0.0) ||
        (c->rvc_pct > 0.0 &&
         (!finite_pos(c->rvc_hysteresis_pct) || !(c->rvc_hysteresis_pct < c->rvc_pct)))) {
        return -EINVAL;
    }
    if (!(isfinite(c->i_nominal_a) && c->i_nominal_a >= 0.0) ||
        !finite_pos(c->i_sag_pct) || !finite_pos(c->i_swell_pct) ||
        !(c->i_sag_pct + h < 100.0) || !(c->i_swell_pct - h > 100.0)) {
        return -EINVAL;
    }
    return 0;
}

/* Runtime state back to a new stream; cfg and out kept. */
static void reset_state(struct pq_events *ev)
{
    const struct pq_events_cfg *c = &ev->cfg;
    double h = c->hysteresis_pct;
    struct rvc *r = &ev->rvc;

    lv_setup(&ev->dip, PQ_EV_DIP, 1, 0, CURVE_BELOW, c->dip_pct, h);
    lv_setup(&ev->swell, PQ_EV_SWELL, 0, 0, CURVE_ABOVE, c->swell_pct, h);
    lv_setup(&ev->intr, PQ_EV_INTERRUPTION, 1, 1, CURVE_BELOW, c->interruption_pct, h);
    lv_setup(&ev->isag, PQ_EV_CURRENT_SAG, 1, 0, CURVE_NONE, c->i_sag_pct, h);
    lv_setup(&ev->iswell, PQ_EV_CURRENT_SWELL, 0, 0, CURVE_NONE, c->i_swell_pct, h);

    memset(r, 0, sizeof(*r));
    r->state = c->rvc_pct > 0.0 ? RVC_FILL : RVC_OFF;
    r->n = c->f_nominal_hz == 60.0 ? 120 : 100;
    r->thr_v = c->rvc_pct / 100.0 * c->udin_v;
    r->end_v = (c->rvc_pct - c->rvc_hysteresis_pct) / 100.0 * c->udin_v;

    memset(&ev->usr, 0, sizeof(ev->usr));
    ev->usr.ncyc = c->f_nominal_hz == 60.0 ? 12 : 10;
    for (int k = 0; k < PQ_NPH; k++) {
        ev->usr.v[k] = c->udin_v;
    }
}

int pq_events_new(const struct pq_events_cfg *cfg, const struct pq_events_out *out,
                  struct pq_events **evp)
{
    struct pq_events_cfg c;
    struct pq_events *ev;
    int rc;

    if (!cfg || !evp) {
        return -EINVAL;
    }
    c = *cfg;
    c.dip_pct = or_default(c.dip_pct, 90.0);
    c.swell_pct = or_default(c.swell_pct, 110.0);
    c.interruption_pct = or_default(c.interruption_pct, 5.0);
    c.hysteresis_pct = or_default(c.hysteresis_pct, 2.0);
    c.rvc_hysteresis_pct = or_default(c.rvc_hysteresis_pct, c.rvc_pct / 2.0);
    c.i_sag_pct = or_default(c.i_sag_pct, 50.0);
    c.i_swell_pct = or_default(c.i_swell_pct, 150.0);
    rc = check_cfg(&c);
    if (rc < 0) {
        return rc;
    }
    ev = calloc(1, sizeof(*ev));
    if (!ev) {
        return -ENOMEM;
    }
    ev->cfg = c;
    if (out) {
        ev->out = *out;
    }
    ev->n = c.nph;
    for (int k = 0; k < PQ_NPH; k++) {
        ev->udin[k] = c.udin_v;
        ev->inom[k] = c.i_nominal_a;
    }
    reset_state(ev);
    *evp = ev;
    return 0;
}

void pq_events_free(struct pq_events *ev)
{
    free(ev);
}

void pq_events_halfcycle(struct pq_events *ev, const struct pq_halfcycle *h)
{
    const double *u = ev->cfg.use_ll ? h->u_ll_rms : h->u_rms;
    const double *uref = ev->cfg.sliding_reference ? ev->usr.v : ev->udin;
    int64_t win_ns = h->t_ns - (int64_t) llround(h->period_s * NS_PER_S);
    int syn = h->synthetic != 0;
    struct pq_event e;
    int r_int, disturbed;

    r_int = lv_step(ev, &ev->intr, u, ev->udin, win_ns, syn, &e);
    if (r_int == STEP_ENDED) {
        emit(ev, &e);
    }
    if (lv_step(ev, &ev->dip, u, uref, win_ns, syn, &e) == STEP_ENDED) {
        dip_report(ev, &e);
    }
    if (ev->dip.active) {
        ev->dip.n_int += r_int == STEP_STARTED;
        ev->dip.n_outside += !ev->intr.active;
    }
    if (lv_step(ev, &ev->swell, u, uref, win_ns, syn, &e) == STEP_ENDED) {
        emit(ev, &e);
    }
    disturbed = ev->dip.active || ev->swell.active || ev->intr.active;
    if (ev->rvc.state != RVC_OFF) {
        rvc_step(ev, u, win_ns, syn, disturbed);
    }
    if (ev->cfg.i_nominal_a > 0.0) {
        if (lv_step(ev, &ev->isag, h->i_rms, ev->inom, win_ns, syn, &e) == STEP_ENDED) {
            emit(ev, &e);
        }
        if (lv_step(ev, &ev->iswell, h->i_rms, ev->inom, win_ns, syn, &e) == STEP_ENDED) {
            emit(ev, &e);
        }
    }
    if (ev->cfg.sliding_reference) {
        usr_step(ev, u, h->period_s, disturbed);
    }
}

void pq_events_finish(struct pq_events *ev, int64_t t_ns)
{
    struct pq_event e;
    struct level *order[] = {&ev->intr, &ev->dip, &ev->swell, &ev->isag, &ev->iswell};

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        struct level *m = order[i];

        if (!m->active) {
            continue;
        }
        lv_close(ev, m, t_ns, &e);
        e.flags |= PQ_EVF_UNFINISHED;
        if (m == &ev->dip) {
            dip_report(ev, &e);
        } else {
            emit(ev, &e);
        }
    }
    if (ev->rvc.state == RVC_EVENT) {
        rvc_close(ev, t_ns, 0);
    }
    reset_state(ev);
}

unsigned pq_events_active(const struct pq_events *ev)
{
    const struct level *lv[] = {&ev->dip, &ev->swell, &ev->intr, &ev->isag, &ev->iswell};
    unsigned bits = ev->rvc.state == RVC_EVENT ? 1u << PQ_EV_RVC : 0;

    for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
        bits |= lv[i]->active ? 1u << lv[i]->kind : 0;
    }
    return bits;
}

const char *pq_event_kind_name(int kind)
{
    static const char *const names[PQ_EV_KIND_COUNT] = {
        [PQ_EV_DIP] = "dip",
        [PQ_EV_SWELL] = "swell",
        [PQ_EV_INTERRUPTION] = "interruption",
        [PQ_EV_RVC] = "rvc",
        [PQ_EV_CURRENT_SAG] = "current-sag",
        [PQ_EV_CURRENT_SWELL] = "current-swell",
    };

    return kind >= 0 && kind < PQ_EV_KIND_COUNT ? names[kind] : "?";
}
