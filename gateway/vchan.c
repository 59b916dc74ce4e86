/* vchan.c - virtual channels: one compiled expression, one output channel,
 * one subscription per input and, for a period, one loop timer each. */
#include "gateway/vchan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/expr.h"
#include "config/log.h"
#include "gateway/bus.h"
#include "gateway/loop.h"
#include "pq/err.h"

struct vchan;

struct vsub {
    struct vchan *v;
    int ref;
    int id; /* bus subscription, -1: none */
};

struct vchan {
    struct vchans *owner;
    const struct virtual_cfg *cfg;
    struct expr *expr;
    struct expr_value *refs;
    struct vsub *subs;
    size_t nsubs;
    int ch;
    int timer;
};

struct vchans {
    struct bus *bus;
    struct loop *loop;
    struct vchan *v;
    size_t n;
};

static void eval_publish(struct vchans *vs, struct vchan *v)
{
    struct expr_value out;
    int64_t t = 0;

    for (size_t i = 0; i < v->nsubs; i++) {
        t = v->refs[i].t_ns > t ? v->refs[i].t_ns : t;
    }
    if (t == 0) {
        t = loop_wall_ns(); /* a constant, or no input seen yet */
    }
    expr_eval(v->expr, v->refs, t, &out);
    (void) bus_publish(vs->bus, v->ch, out.value, t, out.quality);
}

void vchans_eval(struct vchans *vs, size_t idx)
{
    if (idx < vs->n) {
        eval_publish(vs, &vs->v[idx]);
    }
}

static void on_input(void *ctx, int ch, const struct bus_value *bv)
{
    struct vsub *s = ctx;
    struct vchan *v = s->v;

    (void) ch;
    v->refs[s->ref] = (struct expr_value){bv->value, bv->t_ns, bv->quality};
    if (v->cfg->interval_ns == 0) {
        eval_publish(v->owner, v);
    }
}

static void on_timer(struct loop *l, void *ctx)
{
    struct vchan *v = ctx;

    (void) l;
    eval_publish(v->owner, v);
}

static int setup(struct vchans *vs, struct vchan *v)
{
    struct expr_error err;
    size_t n;
    int rc = expr_compile(v->cfg->expr, strlen(v->cfg->expr), &v->expr, &err);

    if (rc < 0) {
        LOGF(LOG_ERR, "vchan", "%s: column %d: %s", v->cfg->name, err.col, err.msg);
        return rc;
    }
    n = expr_nrefs(v->expr);
    v->refs = calloc(n + 1, sizeof(*v->refs));
    v->subs = calloc(n + 1, sizeof(*v->subs));
    if (!v->refs || !v->subs) {
        return -ENOMEM;
    }
    v->ch = bus_register(vs->bus, v->cfg->name, v->cfg->unit);
    if (v->ch < 0) {
        LOGF(LOG_ERR, "vchan", "channel %s: %s", v->cfg->name, pq_strerror(v->ch));
        return v->ch;
    }
    for (size_t r = 0; r < n; r++) {
        struct vsub *s = &v->subs[r];

        v->refs[r] = (struct expr_value){NAN, 0, BUS_Q_INVALID};
        *s = (struct vsub){v, (int) r, -1};
        s->id = bus_subscribe(vs->bus, expr_ref_name(v->expr, r), on_input, s);
        if (s->id < 0) {
            return s->id;
        }
        v->nsubs++;
    }
    if (v->cfg->interval_ns > 0 && vs->loop) {
        v->timer = loop_add_timer(vs->loop, v->cfg->interval_ns, on_timer, v);
        if (v->timer < 0) {
            return v->timer;
        }
    }
    return 0;
}

int vchans_new(const struct pqgate_cfg *cfg, struct bus *bus, struct loop *loop,
               struct vchans **out)
{
    struct vchans *vs = calloc(1, sizeof(*vs));
    int rc = 0;

    if (!vs) {
        return -ENOMEM;
    }
    vs->bus = bus;
    vs->loop = loop;
    vs->v = calloc(cfg->virtuals.n + 1, sizeof(*vs->v));
    if (!vs->v) {
        free(vs);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->virtuals.n && rc == 0; i++) {
        struct vchan *v = &vs->v[i];

        v->owner = vs;
        v->cfg = CFG_AT(cfg->virtuals, struct virtual_cfg, i);
        v->timer = -1;
        vs->n = i + 1;
        rc = setup(vs, v);
    }
    if (rc < 0) {
        vchans_free(vs);
        return rc;
    }
    *out = vs;
    return 0;
}

void vchans_free(struct vchans *vs)
{
    if (!vs) {
        return;
    }
    for (size_t i = 0; i < vs->n; i++) {
        struct vchan *v = &vs->v[i];

        if (v->timer >= 0) {
            loop_del_timer(vs->loop, v->timer);
        }
        for (size_t s = 0; s < v->nsubs; s++) {
            bus_unsubscribe(vs->bus, v->subs[s].id);
        }
        expr_free(v->expr);
        free(v->refs);
        free(v->subs);
    }
    free(vs->v);
    free(vs);
}

static int vchan_start(struct gw *gw, void **state)
{
    struct vchans *vs = NULL;
    int rc;

    *state = NULL;
    if (gw->cfg->virtuals.n == 0) {
        return 0;
    }
    rc = vchans_new(gw->cfg, gw->bus, gw->loop, &vs);
    if (rc < 0) {
        LOGF(LOG_ERR, "vchan", "virtual channels not started: %s", pq_strerror(rc));
        return rc;
    }
    LOGF(LOG_INFO, "vchan", "%zu virtual channels", vs->n);
    *state = vs;
    return 0;
}

static void vchan_stop(void *state)
{
    vchans_free(state);
}

const struct gw_component vchan_component = {
    .name = "vchan",
    .start = vchan_start,
    .stop = vchan_stop,
};
