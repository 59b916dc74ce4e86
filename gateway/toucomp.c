/* toucomp.c - the "tou" component: the active tariff as channels, energy
 * registers split by tariff and the maximum demand per tariff.
 *
 * Channels: tou/tariff (index in order of first appearance in the config),
 * tou/tariff/<name> (1 while active, else 0), tou/season, tou/day_type
 * (0 weekday, 1 weekend, 2 holiday), tou/<name>/<counter> for each energy
 * counter (the last segment of its channel: kwh_del ...) and
 * tou/<name>/demand_max.  Registers are kept in the store's key-value table
 * (keys as the channel names, plus the last reading of each counter so the
 * energy used while the daemon was down is split over the gap), written
 * every minute and at stop. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/bus.h"
#include "gateway/daemon.h"
#include "gateway/loop.h"
#include "gateway/store.h"
#include "gateway/tou.h"
#include "gateway/tzif.h"
#include "pq/err.h"
#include "pq/utc.h"

#define TOU_MAX_COUNTERS 16
#define TICK_NS          PQ_NS_PER_S
#define SAVE_EVERY       60 /* ticks */
#define NAME_LEN         33

struct counter {
    struct toucomp *c;
    char src[BUS_NAME_MAX];  /* local/energy/kwh_del */
    char base[BUS_NAME_MAX]; /* kwh_del */
    struct tou_register reg;
    int pub[TOU_MAX_TARIFFS];
};

struct toucomp {
    struct gw *gw;
    struct store *store;
    struct tzif *tz;
    struct tou_calendar cal;
    char names[TOU_MAX_TARIFFS][NAME_LEN];
    int ncounters;
    struct counter counters[TOU_MAX_COUNTERS];
    struct tou_demand demand;
    int ch_demand[TOU_MAX_TARIFFS];
    int ch_tariff, ch_active[TOU_MAX_TARIFFS], ch_season, ch_day_type;
    int subs[TOU_MAX_COUNTERS + 2];
    int nsubs;
    int timer, ticks;
    int last_tariff;
    int64_t data_ns, data_mono_ns;
};

static int tariff_index(struct toucomp *c, const char *name)
{
    for (int k = 0; k < c->cal.ntariffs; k++) {
        if (strcmp(c->names[k], name) == 0) {
            return k;
        }
    }
    if (c->cal.ntariffs == TOU_MAX_TARIFFS) {
        return -1;
    }
    snprintf(c->names[c->cal.ntariffs], NAME_LEN, "%s", name);
    return c->cal.ntariffs++;
}

static int add_periods(struct toucomp *c, struct tou_season *s, int type,
                       const struct cfg_list *l)
{
    for (size_t i = 0; i < l->n && i < TOU_MAX_PERIODS; i++) {
        const struct tou_period_cfg *p = CFG_AT(*l, struct tou_period_cfg, i);
        struct tou_period *t = &s->p[type][s->np[type]];

        t->tariff = tariff_index(c, p->name);
        if (t->tariff < 0 || cfg_parse_hhmm(p->from, &t->from_min) < 0 ||
            cfg_parse_hhmm(p->to, &t->to_min) < 0) {
            return -PQ_ECONFIG; /* the loader checked: not reached */
        }
        t->to_min %= TOU_DAY_MIN + 1;
        s->np[type]++;
    }
    return 0;
}

/* The calendar from tou: (validated by config/cfg_recorder.c). */
static int build(struct toucomp *c, const struct tou_cfg *t)
{
    int rc = 0;

    c->cal.tz = c->tz;
    c->cal.default_tariff = -1;
    for (size_t i = 0; i < t->seasons.n && i < TOU_MAX_SEASONS && rc == 0; i++) {
        const struct tou_season_cfg *sc = CFG_AT(t->seasons, struct tou_season_cfg, i);
        struct tou_season *s = &c->cal.season[c->cal.nseasons++];
        const struct cfg_list *weekend = sc->weekend.n ? &sc->weekend : &sc->weekday;
        const struct cfg_list *holiday = sc->holiday.n ? &sc->holiday : weekend;

        if (cfg_parse_mmdd(sc->from, &s->from_md) < 0 ||
            cfg_parse_mmdd(sc->to, &s->to_md) < 0) {
            return -PQ_ECONFIG;
        }
        rc = add_periods(c, s, TOU_WEEKDAY, &sc->weekday);
        if (rc == 0) {
            rc = add_periods(c, s, TOU_WEEKEND, weekend);
        }
        if (rc == 0) {
            rc = add_periods(c, s, TOU_HOLIDAY, holiday);
        }
    }
    if (rc == 0 && *t->default_tariff) {
        c->cal.default_tariff = tariff_index(c, t->default_tariff);
        rc = c->cal.default_tariff < 0 ? -PQ_ECONFIG : 0;
    }
    for (size_t i = 0; i < t->holidays.n && i < TOU_MAX_HOLIDAYS && rc == 0; i++) {
        rc = cfg_parse_date(CFG_AT(t->holidays, struct tou_date_cfg, i)->date,
                            &c->cal.holiday[c->cal.nholidays++]);
    }
    tou_sort_holidays(&c->cal);
    return rc;
}

static int64_t data_now(const struct toucomp *c)
{
    return c->data_ns == 0 ? loop_wall_ns()
                           : c->data_ns + (loop_mono_ns() - c->data_mono_ns);
}

static void saw_time(struct toucomp *c, int64_t t_ns)
{
    if (t_ns > c->data_ns) {
        c->data_ns = t_ns;
        c->data_mono_ns = loop_mono_ns();
    }
}

static void publish_tariff(struct toucomp *c, int64_t now)
{
    struct tou_now n;
    struct bus_update u[TOU_MAX_TARIFFS + 3];
    size_t k = 0;
    int tariff = tou_at(&c->cal, now, &n);

    u[k++] = (struct bus_update){
        c->ch_tariff, {tariff < 0 ? NAN : tariff, now, tariff < 0 ? BUS_Q_INVALID : 0}};
    u[k++] = (struct bus_update){c->ch_season, {n.season, now, 0}};
    u[k++] = (struct bus_update){c->ch_day_type, {n.day_type, now, 0}};
    for (int i = 0; i < c->cal.ntariffs; i++) {
        u[k++] = (struct bus_update){c->ch_active[i], {i == tariff ? 1.0 : 0.0, now, 0}};
    }
    (void) bus_publish_many(c->gw->bus, u, k);
    if (tariff != c->last_tariff) {
        LOGF(LOG_INFO, "tou", "tariff %s", tariff >= 0 ? c->names[tariff] : "(none)");
        c->last_tariff = tariff;
    }
}

static void on_energy(void *ctx, int ch, const struct bus_value *v)
{
    struct counter *e = ctx;
    struct toucomp *c = e->c;
    struct bus_update u[TOU_MAX_TARIFFS];
    size_t n = 0;

    (void) ch;
    if (v->quality & (BUS_Q_INVALID | BUS_Q_STALE)) {
        return;
    }
    saw_time(c, v->t_ns);
    if (tou_at(&c->cal, v->t_ns, NULL) != c->last_tariff) {
        publish_tariff(c, v->t_ns); /* on the data's time, to the second */
    }
    tou_register_update(&e->reg, &c->cal, v->value, v->t_ns);
    for (int k = 0; k < c->cal.ntariffs; k++) {
        u[n++] = (struct bus_update){e->pub[k], {e->reg.per_tariff[k], v->t_ns, 0}};
    }
    (void) bus_publish_many(c->gw->bus, u, n);
}

static void on_demand(void *ctx, int ch, const struct bus_value *v)
{
    struct toucomp *c = ctx;
    int k;

    (void) ch;
    if (v->quality & BUS_Q_INVALID) {
        return;
    }
    tou_demand_update(&c->demand, &c->cal, v->value, v->t_ns);
    k = tou_at(&c->cal, v->t_ns - 1, NULL);
    if (k >= 0 && !isnan(c->demand.max[k])) {
        (void) bus_publish(c->gw->bus, c->ch_demand[k], c->demand.max[k],
                           c->demand.t_max_ns[k], 0);
    }
}

static void kv_key(char *buf, size_t cap, const char *a, const char *b, const char *what)
{
    snprintf(buf, cap, "tou/%s/%s%s", a, b, what);
}

static void save(struct toucomp *c)
{
    char key[256];

    if (!c->store) {
        return;
    }
    for (int i = 0; i < c->ncounters; i++) {
        struct counter *e = &c->counters[i];

        for (int k = 0; k < c->cal.ntariffs; k++) {
            kv_key(key, sizeof(key), c->names[k], e->base, "");
            (void) store_kv_put(c->store, key, e->reg.per_tariff[k]);
        }
        if (e->reg.primed) {
            kv_key(key, sizeof(key), "_last", e->base, "");
            (void) store_kv_put(c->store, key, e->reg.last);
            kv_key(key, sizeof(key), "_last", e->base, "_t_s");
            (void) store_kv_put(c->store, key, (double) e->reg.last_ns / 1e9);
        }
    }
    for (int k = 0; k < c->cal.ntariffs; k++) {
        if (!isnan(c->demand.max[k])) {
            kv_key(key, sizeof(key), c->names[k], "demand_max", "");
            (void) store_kv_put(c->store, key, c->demand.max[k]);
            kv_key(key, sizeof(key), c->names[k], "demand_max", "_t_s");
            (void) store_kv_put(c->store, key,
                                (double) (c->demand.t_max_ns[k] / PQ_NS_PER_S));
        }
    }
}

static void restore(struct toucomp *c)
{
    char key[256];
    double v, t;

    for (int i = 0; i < c->ncounters; i++) {
        struct counter *e = &c->counters[i];

        for (int k = 0; k < c->cal.ntariffs; k++) {
            kv_key(key, sizeof(key), c->names[k], e->base, "");
            if (store_kv_get(c->store, key, &v) == 0) {
                e->reg.per_tariff[k] = v;
            }
        }
        kv_key(key, sizeof(key), "_last", e->base, "");
        if (store_kv_get(c->store, key, &v) == 0) {
            kv_key(key, sizeof(key), "_last", e->base, "_t_s");
            if (store_kv_get(c->store, key, &t) == 0) {
                e->reg.primed = 1;
                e->reg.last = v;
                e->reg.last_ns = llround(t * 1e9); /* to a few hundred ns */
            }
        }
    }
    for (int k = 0; k < c->cal.ntariffs; k++) {
        kv_key(key, sizeof(key), c->names[k], "demand_max", "");
        if (store_kv_get(c->store, key, &v) == 0) {
            c->demand.max[k] = v;
            kv_key(key, sizeof(key), c->names[k], "demand_max", "_t_s");
            if (store_kv_get(c->store, key, &t) == 0) {
                c->demand.t_max_ns[k] = (int64_t) t * PQ_NS_PER_S;
            }
        }
    }
}

static void on_tick(struct loop *l, void *ctx)
{
    struct toucomp *c = ctx;

    (void) l;
    publish_tariff(c, data_now(c));
    if (++c->ticks % SAVE_EVERY == 0) {
        save(c);
    }
}

static int reg(struct toucomp *c, const char *name, const char *unit)
{
    return bus_register(c->gw->bus, name, unit);
}

static int register_channels(struct toucomp *c)
{
    char name[BUS_NAME_MAX * 2];
    int rc;

    if ((c->ch_tariff = reg(c, "tou/tariff", "")) < 0 ||
        (c->ch_season = reg(c, "tou/season", "")) < 0 ||
        (c->ch_day_type = reg(c, "tou/day_type", "")) < 0) {
        return c->ch_tariff < 0   ? c->ch_tariff
               : c->ch_season < 0 ? c->ch_season
                                  : c->ch_day_type;
    }
    for (int k = 0; k < c->cal.ntariffs; k++) {
        int dch = bus_find(c->gw->bus, c->gw->cfg->tou.demand);

        snprintf(name, sizeof(name), "tou/tariff/%s", c->names[k]);
        if ((rc = c->ch_active[k] = reg(c, name, "")) < 0) {
            return rc;
        }
        snprintf(name, sizeof(name), "tou/%s/demand_max", c->names[k]);
        if ((rc = c->ch_demand[k] =
                 reg(c, name, dch >= 0 ? bus_unit(c->gw->bus, dch) : "")) < 0) {
            return rc;
        }
        for (int i = 0; i < c->ncounters; i++) {
            int ech = bus_find(c->gw->bus, c->counters[i].src);

            snprintf(name, sizeof(name), "tou/%s/%s", c->names[k], c->counters[i].base);
            if ((rc = c->counters[i].pub[k] =
                     reg(c, name, ech >= 0 ? bus_unit(c->gw->bus, ech) : "")) < 0) {
                return rc;
            }
        }
    }
    return 0;
}

static int add_counter(struct toucomp *c, const char *channel)
{
    struct counter *e = &c->counters[c->ncounters];
    const char *slash = strrchr(channel, '/');
    int rc;

    e->c = c;
    snprintf(e->src, sizeof(e->src), "%s", channel);
    snprintf(e->base, sizeof(e->base), "%s", slash ? slash + 1 : channel);
    c->ncounters++;
    rc = bus_subscribe(c->gw->bus, channel, on_energy, e);
    if (rc >= 0) {
        c->subs[c->nsubs++] = rc;
    }
    return rc < 0 ? rc : 0;
}

static void toucomp_stop(void *state);

static int subscribe_all(struct toucomp *c)
{
    static const char *const defaults[] = {"local/energy/kwh_del", "local/energy/kwh_rec",
                                           "local/energy/kvarh_del",
                                           "local/energy/kvarh_rec", "local/energy/kvah"};
    const struct tou_cfg *t = &c->gw->cfg->tou;
    size_t n = t->energy.n ? t->energy.n : 5;
    int rc = 0;

    for (size_t i = 0; i < n && i < TOU_MAX_COUNTERS && rc == 0; i++) {
        rc = add_counter(c, t->energy.n
                                ? CFG_AT(t->energy, struct rec_channel_cfg, i)->name
                                : defaults[i]);
    }
    if (rc == 0 && *t->demand) {
        rc = bus_subscribe(c->gw->bus, t->demand, on_demand, c);
        if (rc >= 0) {
            c->subs[c->nsubs++] = rc;
            rc = 0;
        }
    }
    return rc;
}

static int toucomp_start(struct gw *gw, void **state)
{
    const struct tou_cfg *t = &gw->cfg->tou;
    struct toucomp *c;
    int rc;

    *state = NULL;
    if (!*t->timezone) {
        return 0;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->gw = gw;
    c->store = gw->store;
    c->timer = -1;
    c->last_tariff = -2;
    tou_demand_init(&c->demand);
    rc = tzif_load(t->timezone, &c->tz);
    if (rc < 0) {
        LOGF(LOG_ERR, "tou", "time zone %s: %s", t->timezone, pq_strerror(rc));
        goto fail;
    }
    rc = build(c, t);
    if (rc == 0) {
        rc = subscribe_all(c);
    }
    if (rc == 0) {
        rc = register_channels(c);
    }
    if (rc < 0) {
        LOGF(LOG_ERR, "tou", "start: %s", pq_strerror(rc));
        goto fail;
    }
    if (c->store) {
        restore(c);
    } else {
        LOGF(LOG_WARNING, "tou", "no onboard store: the tariff registers restart from 0");
    }
    publish_tariff(c, loop_wall_ns());
    c->timer = loop_add_timer(gw->loop, TICK_NS, on_tick, c);
    if (c->timer < 0) {
        rc = c->timer;
        goto fail;
    }
    LOGF(LOG_INFO, "tou", "%s: %d seasons, %d tariffs, %zu holidays", t->timezone,
         c->cal.nseasons, c->cal.ntariffs, c->cal.nholidays);
    *state = c;
    return 0;

fail:
    toucomp_stop(c);
    return rc;
}

static void toucomp_stop(void *state)
{
    struct toucomp *c = state;

    if (!c) {
        return;
    }
    for (int i = 0; i < c->nsubs; i++) {
        bus_unsubscribe(c->gw->bus, c->subs[i]);
    }
    if (c->timer >= 0) {
        loop_del_timer(c->gw->loop, c->timer);
        save(c);
    }
    tzif_free(c->tz);
    free(c);
}

const struct gw_component tou_component = {
    .name = "tou",
    .start = toucomp_start,
    .stop = toucomp_stop,
};
