/* compliance.c - the week's EN 50160 evaluation, published as channels. */
#include "gateway/compliance.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/bus.h"
#include "pq/en50160.h"
#include "pq/events.h"
#include "pq/ieee519.h"
#include "pq/record.h"

#define WEEK_NS (7LL * 86400 * 1000000000LL)
/* 1970-01-01 was a Thursday: Mondays are 4 days after a multiple of 7 */
#define MONDAY_NS (4LL * 86400 * 1000000000LL)

enum {
    CH_VERDICT,
    CH_FREQ,
    CH_UNBALANCE,
    CH_VOLTAGE,
    CH_FLICKER = CH_VOLTAGE + 3,
    CH_THD = CH_FLICKER + 3,
    CH_HARMONICS = CH_THD + 3,
    CH_COUNT = CH_HARMONICS + 3
};

/* The inputs of the last 7 days, compact (what pq_en50160 reads), so the
 * evaluation of a sliding week can be replayed after every 10-min value. */
#define KEEP_10MIN (7 * 144 + 8)
#define KEEP_FREQ  (7 * 8640 + 64)
#define KEEP_PLT   (7 * 12 + 2)
#define KEEP_EV    2048

struct ten {
    int64_t start_ns;
    unsigned flags;
    int nph;
    double u[3], ull[3], unb;
    float h_pct[3][PQ_MAX_H];
};

struct fr {
    int64_t start_ns;
    unsigned flags;
    float f_hz; /* 24 bits: 0.003 mHz at 50 Hz, ample for a 1 % band */
};

struct pl {
    int64_t start_ns;
    unsigned flags;
    double plt[3];
};

struct ring {
    size_t head, n, cap;
};

struct gw_en50160 {
    struct bus *bus;
    struct pq_en50160_cfg cfg;
    struct pq_en50160 acc;
    struct pq_en50160_result res;
    int ch[CH_COUNT];
    int nph;
    struct ten *ten;
    struct fr *fr;
    struct pl *pl;
    struct pq_en50160_event *ev;
    struct ring rten, rfr, rpl, rev;
    struct pq_interval scratch; /* a 10-min record rebuilt for replay */
};

/* Slot of the next entry of ring r (the oldest is overwritten when full). */
static size_t ring_push(struct ring *r)
{
    size_t at = (r->head + r->n) % r->cap;

    if (r->n == r->cap) {
        r->head = (r->head + 1) % r->cap;
    } else {
        r->n++;
    }
    return at;
}

#define RING_AT(r, k) (((r).head + (k)) % (r).cap)

static int64_t week_start(int64_t t_ns)
{
    int64_t k = (t_ns - MONDAY_NS) / WEEK_NS;

    if (t_ns - MONDAY_NS < 0 && (t_ns - MONDAY_NS) % WEEK_NS) {
        k--;
    }
    return MONDAY_NS + k * WEEK_NS;
}

static double verdict_value(int verdict)
{
    return verdict == PQ_EN50160_PASS ? 1.0 : verdict == PQ_EN50160_FAIL ? 0.0 : NAN;
}

/* Fail if any order fails, pass if every evaluated one passes. */
static int harmonics_verdict(const struct pq_en50160_result *r, int ph)
{
    int v = PQ_EN50160_NOT_EVALUATED;

    for (int h = 2; h <= PQ_EN50160_MAX_H; h++) {
        int x = r->harmonic[ph][h].verdict;

        if (x == PQ_EN50160_FAIL) {
            return x;
        }
        if (x == PQ_EN50160_NO_DATA ||
            (x == PQ_EN50160_PASS && v != PQ_EN50160_NO_DATA)) {
            v = x;
        }
    }
    return v;
}

static const char *verdict_name(int v)
{
    return v == PQ_EN50160_PASS      ? "pass"
           : v == PQ_EN50160_FAIL    ? "FAIL"
           : v == PQ_EN50160_NO_DATA ? "no data"
                                     : "n/a";
}

/* The worst of the phases' verdicts, by name. */
static const char *worst(const int *v, int nph)
{
    int w = v[0];

    for (int ph = 1; ph < nph; ph++) {
        if (v[ph] == PQ_EN50160_FAIL ||
            (v[ph] == PQ_EN50160_NO_DATA && w == PQ_EN50160_PASS)) {
            w = v[ph];
        }
    }
    return verdict_name(w);
}

static void publish(struct gw_en50160 *c, int64_t t_ns)
{
    struct bus_update u[CH_COUNT];
    int v[CH_COUNT];
    size_t n = 0;

    pq_en50160_result(&c->acc, &c->res);
    v[CH_VERDICT] = c->res.verdict;
    v[CH_FREQ] = c->res.freq.verdict;
    v[CH_UNBALANCE] = c->res.unbalance.verdict;
    for (int ph = 0; ph < 3; ph++) {
        v[CH_VOLTAGE + ph] = c->res.voltage[ph].verdict;
        v[CH_FLICKER + ph] = c->res.flicker[ph].verdict;
        v[CH_THD + ph] = c->res.thd[ph].verdict;
        v[CH_HARMONICS + ph] = harmonics_verdict(&c->res, ph);
    }
    for (int k = 0; k < CH_COUNT; k++) {
        double x = verdict_value(v[k]);

        if (c->ch[k] >= 0) {
            u[n++] =
                (struct bus_update){c->ch[k], {x, t_ns, isnan(x) ? BUS_Q_INVALID : 0}};
        }
    }
    (void) bus_publish_many(c->bus, u, n);
    LOGF(LOG_INFO, "en50160",
         "last 7 days (%u 10-min values): %s; voltage %s, frequency %s, THD %s, "
         "harmonics %s, "
         "unbalance %s, flicker %s",
         c->res.n_10min, verdict_name(v[CH_VERDICT]), worst(v + CH_VOLTAGE, c->nph),
         verdict_name(v[CH_FREQ]), worst(v + CH_THD, c->nph),
         worst(v + CH_HARMONICS, c->nph), verdict_name(v[CH_UNBALANCE]),
         worst(v + CH_FLICKER, c->nph));
}

/* Evaluate the 7 days ending at end_ns: a fresh accumulator fed with every
 * stored input of the window (EN 50160's observation period is a week;
 * the gateway slides it). */
static void evaluate(struct gw_en50160 *c, int64_t end_ns)
{
    c->cfg.start_ns = end_ns - WEEK_NS;
    c->cfg.period_ns = WEEK_NS;
    if (pq_en50160_init(&c->acc, &c->cfg) < 0) {
        return;
    }
    for (size_t k = 0; k < c->rfr.n; k++) {
        const struct fr *f = &c->fr[RING_AT(c->rfr, k)];

        if (f->start_ns >= c->cfg.start_ns) {
            (void) pq_en50160_add_freq(&c->acc, f->start_ns, f->flags, f->f_hz);
        }
    }
    for (size_t k = 0; k < c->rten.n; k++) {
        const struct ten *t = &c->ten[RING_AT(c->rten, k)];
        struct pq_interval *r = &c->scratch;

        if (t->start_ns < c->cfg.start_ns) {
            continue;
        }
        r->agg = PQ_AGG_10MIN;
        r->start_ns = t->start_ns;
        r->end_ns = t->start_ns + 600000000000LL;
        r->flags = t->flags;
        r->nph = t->nph;
        r->u_unb_neg_pct = t->unb;
        for (int ph = 0; ph < 3; ph++) {
            r->u_rms_v[ph] = t->u[ph];
            r->u_ll_rms_v[ph] = t->ull[ph];
            for (int h = 0; h < PQ_MAX_H; h++) {
                r->u_h_pct[ph][h] = t->h_pct[ph][h];
            }
        }
        (void) pq_en50160_add_10min(&c->acc, r);
    }
    for (size_t k = 0; k < c->rpl.n && c->cfg.has_flicker; k++) {
        const struct pl *p = &c->pl[RING_AT(c->rpl, k)];

        if (p->start_ns >= c->cfg.start_ns) {
            (void) pq_en50160_add_plt(&c->acc, p->start_ns, p->flags, p->plt);
        }
    }
    for (size_t k = 0; k < c->rev.n; k++) {
        const struct pq_en50160_event *e = &c->ev[RING_AT(c->rev, k)];

        if (e->start_ns >= c->cfg.start_ns) {
            (void) pq_en50160_add_event(&c->acc, e);
        }
    }
}

int gw_en50160_new(const struct compliance_cfg *cc, struct bus *bus, double udin_v,
                   int line_to_line, int nph, double f_nom_hz, int has_flicker,
                   struct gw_en50160 **out)
{
    static const char *const names[CH_COUNT] = {
        "verdict",   "freq",      "unbalance",   "voltage/a",   "voltage/b",
        "voltage/c", "flicker/a", "flicker/b",   "flicker/c",   "thd/a",
        "thd/b",     "thd/c",     "harmonics/a", "harmonics/b", "harmonics/c"};
    struct gw_en50160 *c = calloc(1, sizeof(*c));
    char name[BUS_NAME_MAX];

    if (!c) {
        return -ENOMEM;
    }
    c->rten.cap = KEEP_10MIN;
    c->rfr.cap = KEEP_FREQ;
    c->rpl.cap = KEEP_PLT;
    c->rev.cap = KEEP_EV;
    c->ten = calloc(KEEP_10MIN, sizeof(*c->ten));
    c->fr = calloc(KEEP_FREQ, sizeof(*c->fr));
    c->pl = calloc(KEEP_PLT, sizeof(*c->pl));
    c->ev = calloc(KEEP_EV, sizeof(*c->ev));
    if (!c->ten || !c->fr || !c->pl || !c->ev) {
        gw_en50160_free(c);
        return -ENOMEM;
    }
    c->bus = bus;
    c->nph = nph;
    c->cfg.network = cc->network == EN50160_MV ? PQ_EN50160_MV : PQ_EN50160_LV;
    c->cfg.system =
        cc->system == EN50160_ISLAND ? PQ_EN50160_ISLAND : PQ_EN50160_SYNCHRONOUS;
    c->cfg.f_nom_hz = f_nom_hz;
    c->cfg.u_ref_v = udin_v;
    c->cfg.u_line_to_line = line_to_line;
    c->cfg.nph = nph;
    c->cfg.has_flicker = has_flicker;
    for (int k = 0; k < CH_COUNT; k++) {
        int ph = k >= CH_VOLTAGE ? (k - CH_VOLTAGE) % 3 : 0;

        c->ch[k] = -1;
        if (ph >= nph || (k == CH_UNBALANCE && nph != 3) ||
            (k >= CH_FLICKER && k < CH_THD && !has_flicker)) {
            continue;
        }
        snprintf(name, sizeof(name), "local/en50160/%s", names[k]);
        c->ch[k] = bus_register(bus, name, "");
        if (c->ch[k] < 0) {
            int rc = c->ch[k];

            gw_en50160_free(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

void gw_en50160_free(struct gw_en50160 *c)
{
    if (!c) {
        return;
    }
    free(c->ten);
    free(c->fr);
    free(c->pl);
    free(c->ev);
    free(c);
}

void gw_en50160_interval(struct gw_en50160 *c, const struct pq_interval *r)
{
    struct ten *t = &c->ten[ring_push(&c->rten)];

    t->start_ns = r->start_ns;
    t->flags = r->flags;
    t->nph = r->nph;
    t->unb = r->u_unb_neg_pct;
    for (int ph = 0; ph < 3; ph++) {
        t->u[ph] = r->u_rms_v[ph];
        t->ull[ph] = r->u_ll_rms_v[ph];
        for (int h = 0; h < PQ_MAX_H; h++) {
            t->h_pct[ph][h] = (float) r->u_h_pct[ph][h];
        }
    }
    evaluate(c, r->end_ns);
    publish(c, r->end_ns);
}

void gw_en50160_freq(struct gw_en50160 *c, int64_t start_ns, unsigned flags, double f_hz)
{
    struct fr *f = &c->fr[ring_push(&c->rfr)];

    f->start_ns = start_ns;
    f->flags = flags;
    f->f_hz = (float) f_hz;
}

void gw_en50160_plt(struct gw_en50160 *c, int64_t start_ns, unsigned flags,
                    const double plt[3])
{
    struct pl *p = &c->pl[ring_push(&c->rpl)];

    p->start_ns = start_ns;
    p->flags = flags;
    memcpy(p->plt, plt, sizeof(p->plt));
}

void gw_en50160_event(struct gw_en50160 *c, const struct pq_event *ev)
{
    struct pq_en50160_event e = {.duration_s = ev->duration_s, .start_ns = ev->start_ns};

    switch (ev->kind) {
    case PQ_EV_DIP:
        e.kind = PQ_EN50160_DIP;
        e.pct = ev->residual_pct;
        break;
    case PQ_EV_SWELL:
        e.kind = PQ_EN50160_SWELL;
        e.pct = ev->max_pct;
        break;
    case PQ_EV_INTERRUPTION:
        e.kind = PQ_EN50160_INTERRUPTION;
        e.pct = ev->residual_pct;
        break;
    default:
        return;
    }
    c->ev[ring_push(&c->rev)] = e;
}

/* ---- IEEE 519 ----------------------------------------------------------------- */

struct gw_ieee519 {
    struct bus *bus;
    struct pq_ieee519_cfg cfg;
    struct pq_ieee519 *acc;
    struct pq_ieee519_result res;
    int ch_verdict, ch_u[3], ch_i[3];
    int nph;
};

static double ieee_value(int v)
{
    return v == PQ_IEEE519_PASS ? 1.0 : v == PQ_IEEE519_FAIL ? 0.0 : NAN;
}

int gw_ieee519_new(const struct compliance_cfg *cc, struct bus *bus, double bus_v,
                   double il_a, int nph, struct gw_ieee519 **out)
{
    static const char *const ph[3] = {"a", "b", "c"};
    struct gw_ieee519 *c = calloc(1, sizeof(*c));
    char name[BUS_NAME_MAX];
    int rc;

    if (!c) {
        return -ENOMEM;
    }
    c->bus = bus;
    c->nph = nph;
    c->cfg.edition = cc->edition;
    c->cfg.bus_v = bus_v;
    c->cfg.isc_a = cc->isc_a;
    c->cfg.il_a = il_a;
    c->cfg.nph = nph;
    c->cfg.start_ns = week_start(0);
    rc = pq_ieee519_new(&c->cfg, &c->acc); /* checks the settings */
    if (rc < 0) {
        LOGF(LOG_ERR, "ieee519",
             "%.6g V bus, Isc %.6g A, IL %.6g A: not a valid IEEE 519 "
             "setting",
             bus_v, cc->isc_a, il_a);
        free(c);
        return rc;
    }
    c->ch_verdict = bus_register(bus, "local/ieee519/verdict", "");
    for (int p = 0; p < 3; p++) {
        c->ch_u[p] = c->ch_i[p] = -1;
        if (p >= nph) {
            continue;
        }
        snprintf(name, sizeof(name), "local/ieee519/voltage/%s", ph[p]);
        c->ch_u[p] = bus_register(bus, name, "");
        snprintf(name, sizeof(name), "local/ieee519/current/%s", ph[p]);
        c->ch_i[p] = il_a > 0 ? bus_register(bus, name, "") : -1;
    }
    *out = c;
    return 0;
}

void gw_ieee519_free(struct gw_ieee519 *c)
{
    if (c) {
        pq_ieee519_free(c->acc);
        free(c);
    }
}

void gw_ieee519_interval(struct gw_ieee519 *c, const struct pq_interval *r)
{
    int64_t start = week_start(r->start_ns);
    struct bus_update u[7];
    size_t n = 0;

    if (start != c->cfg.start_ns) { /* a new week: log the last one's verdict */
        struct pq_ieee519 *acc = NULL;

        pq_ieee519_result(c->acc, &c->res);
        if (c->res.n_10min > 0) {
            LOGF(LOG_NOTICE, "ieee519", "week from %lld: %s",
                 (long long) (c->cfg.start_ns / 1000000000LL),
                 c->res.verdict == PQ_IEEE519_PASS   ? "pass"
                 : c->res.verdict == PQ_IEEE519_FAIL ? "FAIL"
                                                     : "no data");
        }
        c->cfg.start_ns = start;
        if (pq_ieee519_new(&c->cfg, &acc) < 0) {
            return;
        }
        pq_ieee519_free(c->acc);
        c->acc = acc;
    }
    (void) pq_ieee519_add(c->acc, r);
    if (r->agg != PQ_AGG_10MIN) {
        return; /* the 3-s values feed the daily statistics; publish every 10 min */
    }
    pq_ieee519_result(c->acc, &c->res);
    u[n++] =
        (struct bus_update){c->ch_verdict, {ieee_value(c->res.verdict), r->end_ns, 0}};
    for (int p = 0; p < c->nph; p++) {
        u[n++] = (struct bus_update){c->ch_u[p],
                                     {ieee_value(c->res.u_phase[p]), r->end_ns, 0}};
        if (c->ch_i[p] >= 0) {
            u[n++] = (struct bus_update){c->ch_i[p],
                                         {ieee_value(c->res.i_phase[p]), r->end_ns, 0}};
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (isnan(u[k].v.value)) {
            u[k].v.quality = BUS_Q_INVALID;
        }
    }
    (void) bus_publish_many(c->bus, u, n);
    LOGF(LOG_INFO, "ieee519",
         "week so far (%u 10-min values): %s; voltage %s, current %s", c->res.n_10min,
         c->res.verdict == PQ_IEEE519_PASS   ? "pass"
         : c->res.verdict == PQ_IEEE519_FAIL ? "FAIL"
                                             : "no data",
         c->res.u_verdict == PQ_IEEE519_PASS   ? "pass"
         : c->res.u_verdict == PQ_IEEE519_FAIL ? "FAIL"
                                               : "no data",
         c->res.i_verdict == PQ_IEEE519_PASS   ? "pass"
         : c->res.i_verdict == PQ_IEEE519_FAIL ? "FAIL"
                                               : "n/a");
}
