/* wages.c - the "wages" component: digital inputs and outputs, pulse
 * counting for water, air, gas, electricity and steam meters, and KY pulse
 * outputs (wages.h lists the channels; drivers/io/pulse.h the rules). */
#include "gateway/wages.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/log.h"
#include "drivers/io/io.h"
#include "drivers/io/pulse.h"
#include "gateway/bus.h"
#include "gateway/loop.h"
#include "gateway/store.h"
#include "pq/err.h"

#define TICK_NS    10000000LL   /* edges, settling and KY outputs */
#define PUBLISH_NS 1000000000LL /* flows and states */
#define EDGE_BATCH 256

struct wages;

struct meter {
    struct wages *w;
    const struct wages_cfg *cfg;
    int input; /* io line, or -1 for a channel-sourced meter */
    struct pulse_counter pc;
    int ch_total, ch_flow, ch_pulses;
    char key[BUS_NAME_MAX]; /* store kv key of the total */
    /* channel-sourced: flow from successive totals */
    double last_total;
    int64_t last_ns;
    double flow;
    int sub;
};

struct kyout {
    const struct pulse_output_cfg *cfg;
    int line;
    struct ky_output ky;
    int level;
    int sub;
};

struct outctx {
    struct wages *w;
    int line;
};

struct wages {
    struct gw *gw;
    struct outctx out[IO_MAX_LINES];
    struct io *io;
    size_t nin, nout;
    int ch_state[IO_MAX_LINES];
    int sub_set[IO_MAX_LINES];
    struct meter *meters;
    size_t nmeters;
    struct kyout *ky;
    size_t nky;
    int tick_timer, publish_timer, fd;
};

static const char *const kind_quantity[] = {
    [WAGES_WATER] = "volume",       [WAGES_AIR] = "volume", [WAGES_GAS] = "volume",
    [WAGES_ELECTRICITY] = "energy", [WAGES_STEAM] = "mass",
};

void wages_total_name(int kind, const char *unit, char *out, size_t cap)
{
    size_t n = (size_t) snprintf(out, cap, "%s_%s", kind_quantity[kind], unit);

    for (size_t i = 0; i < n && i < cap; i++) {
        out[i] = (char) tolower((unsigned char) out[i]);
    }
}

static int find_line(const struct pqgate_cfg *c, const char *name, int output)
{
    const struct cfg_list *l = output ? &c->io.outputs : &c->io.inputs;

    for (size_t i = 0; i < l->n; i++) {
        const char *n = output ? CFG_AT(*l, struct io_output_cfg, i)->name
                               : CFG_AT(*l, struct io_input_cfg, i)->name;

        if (strcmp(n, name) == 0) {
            return (int) (output ? c->io.inputs.n + i : i);
        }
    }
    return -1;
}

static void publish(struct wages *w, int ch, double v, int64_t t_ns)
{
    int rc = bus_publish(w->gw->bus, ch, v, t_ns, 0);

    if (rc < 0 && rc != -PQ_EFULL) {
        LOGF(LOG_ERR, "wages", "publish %s: %s", bus_name(w->gw->bus, ch),
             pq_strerror(rc));
    }
}

static void counted(struct wages *w, struct meter *m)
{
    publish(w, m->ch_total, m->pc.total, m->pc.last_ns);
    publish(w, m->ch_pulses, (double) m->pc.pulses, m->pc.last_ns);
    if (w->gw->store) {
        (void) store_kv_put(w->gw->store, m->key, m->pc.total);
    }
}

static void feed_edge(struct wages *w, const struct io_edge *e)
{
    publish(w, w->ch_state[e->line], e->level, e->t_ns);
    for (size_t i = 0; i < w->nmeters; i++) {
        struct meter *m = &w->meters[i];

        if (m->input == e->line && pulse_edge(&m->pc, e->level, e->t_ns)) {
            counted(w, m);
        }
    }
}

static void poll_edges(struct wages *w)
{
    struct io_edge e[EDGE_BATCH];
    size_t n;

    do {
        int rc = io_read(w->io, e, EDGE_BATCH, &n);

        if (rc < 0) {
            LOGF(LOG_ERR, "wages", "reading inputs: %s", pq_strerror(rc));
            return;
        }
        for (size_t i = 0; i < n; i++) {
            feed_edge(w, &e[i]);
        }
    } while (n == EDGE_BATCH);
}

static void on_tick(struct loop *l, void *ctx)
{
    struct wages *w = ctx;
    int64_t now = loop_wall_ns();

    (void) l;
    if (w->io && w->fd < 0) {
        poll_edges(w);
    }
    for (size_t i = 0; i < w->nmeters; i++) {
        if (w->meters[i].input >= 0 && pulse_settle(&w->meters[i].pc, now)) {
            counted(w, &w->meters[i]);
        }
    }
    for (size_t i = 0; i < w->nky; i++) {
        struct kyout *k = &w->ky[i];
        int lv = ky_tick(&k->ky, now);

        if (lv != k->level) {
            k->level = lv;
            (void) io_set(w->io, k->line, lv);
            publish(w, w->ch_state[k->line], lv, now);
        }
    }
}

static void on_fd(struct loop *l, int fd, short revents, void *ctx)
{
    (void) l;
    (void) fd;
    (void) revents;
    poll_edges(ctx);
}

static void on_publish(struct loop *l, void *ctx)
{
    struct wages *w = ctx;
    int64_t now = loop_wall_ns();

    (void) l;
    /* Every edge up to now is read first: "no pulse since" must mean none
     * happened, not that a late timer has not looked yet. */
    if (w->io) {
        poll_edges(w);
    }
    for (size_t i = 0; i < w->nmeters; i++) {
        struct meter *m = &w->meters[i];
        double flow = m->input >= 0 ? pulse_flow_per_h(&m->pc, now) : m->flow;

        if (m->input < 0 && m->last_ns && now - m->last_ns > m->cfg->flow_timeout_ns) {
            flow = 0.0;
        }
        publish(w, m->ch_flow, flow, now);
    }
    for (size_t i = 0; i < w->nin + w->nout; i++) {
        int lv = io_get(w->io, (int) i);

        if (lv >= 0) {
            publish(w, w->ch_state[i], lv, now);
        }
    }
}

/* A meter read elsewhere: its total arrives on a channel (a Modbus
 * counter, already checked for rollovers and resets by the master). */
static void on_source(void *ctx, int ch, const struct bus_value *v)
{
    struct meter *m = ctx;

    (void) ch;
    if (v->quality & (BUS_Q_INVALID | BUS_Q_STALE) || !isfinite(v->value)) {
        return;
    }
    if (m->last_ns && v->t_ns > m->last_ns && v->value >= m->last_total) {
        m->flow = (v->value - m->last_total) * 3600e9 / (double) (v->t_ns - m->last_ns);
    }
    m->last_total = v->value;
    m->last_ns = v->t_ns;
    m->pc.total = v->value;
    publish(m->w, m->ch_total, v->value, v->t_ns);
}

/* io/<output>/set: drive the output. */
static void on_set(void *ctx, int ch, const struct bus_value *v)
{
    struct outctx *o = ctx;
    int rc = io_set(o->w->io, o->line, v->value != 0.0);

    if (rc < 0) {
        LOGF(LOG_ERR, "wages", "%s: %s", bus_name(o->w->gw->bus, ch), pq_strerror(rc));
        return;
    }
    publish(o->w, o->w->ch_state[o->line], v->value != 0.0, loop_wall_ns());
}

static void on_ky_source(void *ctx, int ch, const struct bus_value *v)
{
    struct kyout *k = ctx;

    (void) ch;
    if (!(v->quality & BUS_Q_INVALID) && isfinite(v->value)) {
        ky_feed(&k->ky, v->value);
    }
}

/* ---- component ---- */

static int reg(struct wages *w, const char *name, const char *unit, int *ch)
{
    *ch = bus_register(w->gw->bus, name, unit);
    if (*ch < 0) {
        LOGF(LOG_ERR, "wages", "channel %s: %s", name, pq_strerror(*ch));
        return *ch;
    }
    return 0;
}

static int open_io(struct wages *w, const struct pqgate_cfg *c)
{
    struct io_line lines[IO_MAX_LINES] = {{0}};
    struct io_open_cfg oc = {.kind = c->io.backend == IO_BACKEND_GPIOD ? "gpiod" : "sim",
                             .chip = c->io.chip,
                             .lines = lines};
    char name[BUS_NAME_MAX];
    int rc;

    w->nin = c->io.inputs.n;
    w->nout = c->io.outputs.n;
    for (size_t i = 0; i < w->nin; i++) {
        const struct io_input_cfg *in = CFG_AT(c->io.inputs, struct io_input_cfg, i);

        lines[i] = (struct io_line){.name = in->name,
                                    .offset = (unsigned) in->line,
                                    .active_low = in->active_low,
                                    .sim_rate_hz = in->sim_rate_hz,
                                    .sim_bounce = in->sim_bounce};
    }
    for (size_t i = 0; i < w->nout; i++) {
        const struct io_output_cfg *o = CFG_AT(c->io.outputs, struct io_output_cfg, i);

        lines[w->nin + i] = (struct io_line){.name = o->name,
                                             .offset = (unsigned) o->line,
                                             .output = 1,
                                             .active_low = o->active_low};
    }
    oc.nlines = w->nin + w->nout;
    rc = io_open(&oc, &w->io);
    if (rc < 0) {
        LOGF(LOG_ERR, "wages", "io backend %s%s%s: %s", oc.kind, c->io.chip[0] ? " " : "",
             c->io.chip, pq_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < oc.nlines; i++) {
        snprintf(name, sizeof(name), "io/%s/state", lines[i].name);
        if ((rc = reg(w, name, "", &w->ch_state[i])) < 0) {
            return rc;
        }
        if (lines[i].output) {
            snprintf(name, sizeof(name), "io/%s/set", lines[i].name);
            w->out[i] = (struct outctx){w, (int) i};
            w->sub_set[i] = bus_subscribe(w->gw->bus, name, on_set, &w->out[i]);
            if (w->sub_set[i] < 0) {
                return w->sub_set[i];
            }
        }
    }
    return 0;
}

static int start_meter(struct wages *w, struct meter *m, const struct wages_cfg *wc)
{
    char name[BUS_NAME_MAX], total[48], unit[16];
    double saved = 0.0;
    int rc;

    m->w = w;
    m->cfg = wc;
    m->sub = -1;
    m->input = wc->input[0] ? find_line(w->gw->cfg, wc->input, 0) : -1;
    wages_total_name(wc->kind, wc->unit, total, sizeof(total));
    snprintf(m->key, sizeof(m->key), "wages.%s.total", wc->name);
    if (m->input >= 0 && w->gw->store) {
        (void) store_kv_get(w->gw->store, m->key, &saved);
    }
    pulse_init(&m->pc, wc->weight,
               m->input >= 0
                   ? CFG_AT(w->gw->cfg->io.inputs, struct io_input_cfg, (size_t) m->input)
                         ->debounce_ns
                   : 0,
               wc->flow_timeout_ns, saved);
    snprintf(name, sizeof(name), "wages.%s/%s", wc->name, total);
    if ((rc = reg(w, name, wc->unit, &m->ch_total)) < 0) {
        return rc;
    }
    snprintf(name, sizeof(name), "wages.%s/flow_%s_per_h", wc->name, wc->unit);
    snprintf(unit, sizeof(unit), "%s/h", wc->unit);
    for (char *p = name; *p; p++) {
        *p = (char) tolower((unsigned char) *p);
    }
    if ((rc = reg(w, name, unit, &m->ch_flow)) < 0) {
        return rc;
    }
    snprintf(name, sizeof(name), "wages.%s/pulses", wc->name);
    if ((rc = reg(w, name, "", &m->ch_pulses)) < 0) {
        return rc;
    }
    if (m->input >= 0) {
        publish(w, m->ch_total, saved, loop_wall_ns());
        return 0;
    }
    m->sub = bus_subscribe(w->gw->bus, wc->channel, on_source, m);
    return m->sub < 0 ? m->sub : 0;
}

static void wages_stop(void *state);

static int wages_start(struct gw *gw, void **state)
{
    const struct pqgate_cfg *c = gw->cfg;
    struct wages *w;
    int rc = 0;

    if (c->io.backend == IO_BACKEND_NONE && c->wages.n == 0) {
        *state = NULL;
        return 0;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        return -ENOMEM;
    }
    w->gw = gw;
    w->fd = w->tick_timer = w->publish_timer = -1;
    for (size_t i = 0; i < IO_MAX_LINES; i++) {
        w->sub_set[i] = -1;
    }
    *state = w;
    if (c->io.backend != IO_BACKEND_NONE && (rc = open_io(w, c)) < 0) {
        goto fail;
    }
    w->meters = calloc(c->wages.n ? c->wages.n : 1, sizeof(*w->meters));
    w->ky = calloc(c->pulse_outputs.n ? c->pulse_outputs.n : 1, sizeof(*w->ky));
    if (!w->meters || !w->ky) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < c->wages.n; i++, w->nmeters++) {
        if ((rc = start_meter(w, &w->meters[i], CFG_AT(c->wages, struct wages_cfg, i))) <
            0) {
            goto fail;
        }
    }
    for (size_t i = 0; i < c->pulse_outputs.n; i++, w->nky++) {
        const struct pulse_output_cfg *pc =
            CFG_AT(c->pulse_outputs, struct pulse_output_cfg, i);
        struct kyout *k = &w->ky[i];

        k->cfg = pc;
        k->line = find_line(c, pc->output, 1);
        ky_init(&k->ky, pc->weight, pc->width_ns);
        k->sub = bus_subscribe(gw->bus, pc->channel, on_ky_source, k);
        if (k->sub < 0) {
            rc = k->sub;
            goto fail;
        }
    }
    if (w->io && (w->fd = io_fd(w->io)) >= 0 &&
        (rc = loop_add_fd(gw->loop, w->fd, POLLIN, on_fd, w)) < 0) {
        w->fd = -1;
        goto fail;
    }
    w->tick_timer = loop_add_timer(gw->loop, TICK_NS, on_tick, w);
    w->publish_timer = loop_add_timer(gw->loop, PUBLISH_NS, on_publish, w);
    if (w->tick_timer < 0 || w->publish_timer < 0) {
        rc = -ENOMEM;
        goto fail;
    }
    LOGF(LOG_INFO, "wages", "%zu inputs, %zu outputs, %zu meters, %zu pulse outputs",
         w->nin, w->nout, w->nmeters, w->nky);
    return 0;

fail:
    wages_stop(w);
    *state = NULL;
    return rc;
}

static void wages_stop(void *state)
{
    struct wages *w = state;

    if (!w) {
        return;
    }
    if (w->tick_timer >= 0) {
        loop_del_timer(w->gw->loop, w->tick_timer);
    }
    if (w->publish_timer >= 0) {
        loop_del_timer(w->gw->loop, w->publish_timer);
    }
    if (w->fd >= 0) {
        loop_del_fd(w->gw->loop, w->fd);
    }
    for (size_t i = 0; i < w->nin + w->nout; i++) {
        if (w->sub_set[i] >= 0) {
            bus_unsubscribe(w->gw->bus, w->sub_set[i]);
        }
    }
    for (size_t i = 0; i < w->nmeters; i++) {
        if (w->meters[i].sub >= 0) {
            bus_unsubscribe(w->gw->bus, w->meters[i].sub);
        }
    }
    for (size_t i = 0; i < w->nky; i++) {
        if (w->ky[i].sub >= 0) {
            bus_unsubscribe(w->gw->bus, w->ky[i].sub);
        }
    }
    io_close(w->io);
    free(w->meters);
    free(w->ky);
    free(w);
}

const struct gw_component wages_component = {
    .name = "wages",
    .start = wages_start,
    .stop = wages_stop,
};
