/* alarm.c - the alarm engine: inputs from bus subscriptions, a condition
 * with hysteresis, delays timed by the updates' own time stamps, the
 * four-state acknowledgement machine, and the actions.
 *
 * Every alarm reduces its inputs to a level on each update: +1 (beyond the
 * pickup), -1 (back beyond the dropout) or 0 (in the hysteresis band, or no
 * valid value: hold).  The condition follows the level; when it differs
 * from the alarm's activity a delay starts at that update's time, and the
 * first update at or after start + delay makes the transition, stamped with
 * its own time.
 */
#include "gateway/alarm.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/expr.h"
#include "config/log.h"
#include "gateway/alarm_mail.h"
#include "gateway/bus.h"
#include "gateway/evlog.h"
#include "gateway/loop.h"
#include "pq/err.h"
#include "pq/record.h"

#define TICK_NS 100000000LL /* the timer of quiet inputs */
#define GRACE_NS                                                    \
    500000000LL    /* a quiet input: time carried by the wall clock \
                      only this long after its deadline */
#define EV_KINDS 6 /* = PQ_EV_KIND_COUNT, the names of cfg_alarm.c */

enum role { R_MAIN, R_REF, R_EVENT, R_EXPR };

struct sub {
    struct alarms *as;
    int alarm;
    int role;
    int index; /* R_EVENT: event kind; R_EXPR: reference */
    int id;    /* bus subscription */
};

struct alarm {
    const struct alarm_cfg *cfg;
    int state;
    int active; /* states 1 and 2 */
    int cond;   /* condition after hysteresis */
    int pending;
    int64_t pending_since;
    int64_t since_ns;
    uint64_t activations;
    double value, ref;
    unsigned events; /* bit per event kind in progress */
    int64_t last_t, last_rx_mono;
    struct expr *expr;
    struct expr_value *refs;
    int ch_state, ch_active, ch_output;
    int capture, burst, email;
};

struct alarms {
    const struct pqgate_cfg *cfg;
    struct bus *bus;
    struct loop *loop;
    struct alarm *a;
    size_t n;
    struct sub *subs;
    size_t nsubs;
    int sub_ack;
    int timer;
    int ch_capture, ch_burst, ch_ack;
    struct alarm_mail *mail;
    struct alarm_transition hist[ALARM_HISTORY];
    size_t hist_n, hist_head;
};

static struct alarms *running;

static const char *const event_names[EV_KINDS] = {"dip", "swell",       "interruption",
                                                  "rvc", "current-sag", "current-swell"};
static const char *const state_names[] = {"inactive", "active", "active-acknowledged",
                                          "inactive-unacknowledged"};

/* ---- output --------------------------------------------------------------------- */

static int severity(const struct alarm *a)
{
    /* an alarm is news about the installation, not a fault of the gateway */
    return a->cfg->prio >= 192   ? LOG_WARNING
           : a->cfg->prio >= 128 ? LOG_NOTICE
                                 : LOG_INFO;
}

static void __attribute__((format(printf, 5, 6)))
log_event(int sev, const char *kind, const char *name, int use_evlog, const char *fmt,
          ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (use_evlog) { /* to the process log too, and to the store when open */
        (void) evlog_event(sev, "alarm", kind, name, "%s", text);
    } else {
        LOGF(sev, "alarm", "%s", text);
    }
}

static int has_action(const struct alarm *a, int action)
{
    for (size_t k = 0; k < a->cfg->actions.n; k++) {
        if (CFG_AT(a->cfg->actions, struct alarm_action_item_cfg, k)->action == action) {
            return 1;
        }
    }
    return 0;
}

static void publish_state(struct alarms *as, struct alarm *a, int64_t t)
{
    struct bus_update u[2] = {
        {a->ch_state, {(double) a->state, t, 0}},
        {a->ch_active, {(double) a->active, t, 0}},
    };

    (void) bus_publish_many(as->bus, u, 2);
}

static void send_mail(struct alarms *as, const struct alarm *a, int64_t t)
{
    const char *to[16];
    size_t nto = 0;
    char subject[200], body[1024];

    for (size_t k = 0; k < a->cfg->actions.n; k++) {
        const struct alarm_action_item_cfg *act =
            CFG_AT(a->cfg->actions, struct alarm_action_item_cfg, k);

        for (size_t i = 0;
             act->action == ALARM_ACT_EMAIL && i < act->email.to.n && nto < 16; i++) {
            to[nto++] = CFG_AT(act->email.to, struct alarm_addr_cfg, i)->address;
        }
    }
    snprintf(subject, sizeof(subject), "[%s] alarm %s %s", as->cfg->gateway.id,
             a->cfg->name, a->active ? "ACTIVE" : "cleared");
    snprintf(body, sizeof(body),
             "Gateway: %s\r\nAlarm: %s (%s, priority %d)\r\nState: %s\r\n"
             "Time: %lld.%09lld s UTC\r\nValue: %.6g\r\n",
             as->cfg->gateway.id, a->cfg->name,
             (const char *[]){"over", "under", "deviation", "digital", "event",
                              "logic"}[a->cfg->kind],
             a->cfg->prio, state_names[a->state], (long long) (t / 1000000000LL),
             (long long) (t % 1000000000LL), a->value);
    if (alarm_mail_send(as->mail, to, nto, subject, body) < 0) {
        LOGF(LOG_WARNING, "alarm", "%s: email dropped: the queue is full", a->cfg->name);
    }
}

static void history_add(struct alarms *as, int idx, int from, int to, int64_t t, double v)
{
    size_t slot = (as->hist_head + as->hist_n) % ALARM_HISTORY;

    if (as->hist_n == ALARM_HISTORY) {
        slot = as->hist_head;
        as->hist_head = (as->hist_head + 1) % ALARM_HISTORY;
    } else {
        as->hist_n++;
    }
    as->hist[slot] = (struct alarm_transition){idx, from, to, t, v};
}

/* ---- the state machine -------------------------------------------------------- */

static void transition(struct alarms *as, struct alarm *a, int want, int64_t t)
{
    int from = a->state;
    int idx = (int) (a - as->a);
    char when[40];

    if (want) {
        a->state = ALARM_ACTIVE;
        a->activations++;
    } else {
        a->state = from == ALARM_ACTIVE_ACKED ? ALARM_INACTIVE : ALARM_INACTIVE_UNACKED;
    }
    a->active = want;
    a->pending = 0;
    a->since_ns = t;
    history_add(as, idx, from, a->state, t, a->value);
    publish_state(as, a, t);
    pq_time_iso(when, sizeof(when), t);
    log_event(want ? severity(a) : LOG_NOTICE, want ? "alarm_active" : "alarm_clear",
              a->cfg->name, has_action(a, ALARM_ACT_LOG),
              "alarm %s %s at %s (value %.6g)", a->cfg->name, want ? "active" : "cleared",
              when, a->value);
    if (a->ch_output >= 0) {
        (void) bus_publish(as->bus, a->ch_output, want ? 1.0 : 0.0, t, 0);
    }
    /* -(index + 1): an alarm's request (a manual one is >= 1) */
    if (want && a->capture && as->ch_capture >= 0) {
        (void) bus_publish(as->bus, as->ch_capture, -(double) (idx + 1), t, 0);
    }
    if (want && a->burst && as->ch_burst >= 0) {
        (void) bus_publish(as->bus, as->ch_burst, -(double) (idx + 1), t, 0);
    }
    if (a->email && as->mail) {
        send_mail(as, a, t);
    }
}

/* The condition is now level (see the top); t is the update's time. */
static void decide(struct alarms *as, struct alarm *a, int level, int64_t t)
{
    int64_t delay;

    if (level > 0) {
        a->cond = 1;
    } else if (level < 0) {
        a->cond = 0;
    }
    if (a->cond == a->active) {
        a->pending = 0;
        return;
    }
    if (!a->pending) {
        a->pending = 1;
        a->pending_since = t;
    }
    delay = a->cond ? a->cfg->pickup_delay_ns : a->cfg->dropout_delay_ns;
    if (t - a->pending_since >= delay) {
        transition(as, a, a->cond, t);
    }
}

/* +1, -1 or 0 for a setpoint alarm on value v. */
static int setpoint_level(const struct alarm *a, double v)
{
    const struct alarm_cfg *c = a->cfg;
    double pickup = c->pickup_v, dropout = c->dropout_v;

    if (isnan(v)) {
        return 0;
    }
    switch (c->kind) {
    case ALARM_OVER:
        return v > pickup ? 1 : v <= dropout ? -1 : 0;
    case ALARM_UNDER:
        return v < pickup ? 1 : v >= dropout ? -1 : 0;
    case ALARM_DEVIATION: {
        double d;

        if (isnan(a->ref)) {
            return 0;
        }
        d = fabs(v - a->ref);
        if (c->pickup_pct) {
            pickup = c->pickup_v / 100.0 * fabs(a->ref);
            dropout = c->dropout_v / 100.0 * fabs(a->ref);
        }
        return d > pickup ? 1 : d <= dropout ? -1 : 0;
    }
    case ALARM_DIGITAL:
        return ((v != 0.0) == (c->state != 0)) ? 1 : -1;
    default:
        return 0;
    }
}

static void on_input(void *ctx, int ch, const struct bus_value *v)
{
    struct sub *s = ctx;
    struct alarms *as = s->as;
    struct alarm *a = &as->a[s->alarm];
    int usable = !(v->quality & (BUS_Q_INVALID | BUS_Q_STALE));
    int level = 0;

    (void) ch;
    a->last_t = v->t_ns;
    a->last_rx_mono = loop_mono_ns();
    switch (s->role) {
    case R_MAIN:
        a->value = usable ? v->value : NAN;
        level = setpoint_level(a, a->value);
        break;
    case R_REF:
        a->ref = usable ? v->value : NAN;
        level = setpoint_level(a, a->value);
        break;
    case R_EVENT:
        a->events = usable && v->value != 0.0 ? a->events | (1u << s->index)
                                              : a->events & ~(1u << s->index);
        a->value = a->events ? 1.0 : 0.0;
        level = a->events ? 1 : -1;
        break;
    default: {
        struct expr_value out;

        a->refs[s->index] = (struct expr_value){v->value, v->t_ns, v->quality};
        expr_eval(a->expr, a->refs, v->t_ns, &out);
        a->value = out.value;
        level = isnan(out.value) ? 0 : out.value != 0.0 ? 1 : -1;
        break;
    }
    }
    decide(as, a, level, v->t_ns);
}

void alarms_tick(struct alarms *as, int64_t mono_ns)
{
    for (size_t i = 0; i < as->n; i++) {
        struct alarm *a = &as->a[i];
        int64_t delay, now_t;

        if (!a->pending || a->last_rx_mono == 0) {
            continue;
        }
        delay = a->cond ? a->cfg->pickup_delay_ns : a->cfg->dropout_delay_ns;
        now_t = a->last_t + (mono_ns - a->last_rx_mono);
        if (now_t >= a->pending_since + delay + GRACE_NS) {
            transition(as, a, a->cond, a->pending_since + delay);
        }
    }
}

static void on_tick(struct loop *l, void *ctx)
{
    (void) l;
    alarms_tick(ctx, loop_mono_ns());
}

int alarms_ack(struct alarms *as, int idx)
{
    int n = 0;
    int64_t now = loop_wall_ns();

    if (idx < -1 || idx >= (int) as->n) {
        return -EINVAL;
    }
    for (size_t i = idx < 0 ? 0 : (size_t) idx; i < (idx < 0 ? as->n : (size_t) idx + 1);
         i++) {
        struct alarm *a = &as->a[i];
        int from = a->state;

        if (from == ALARM_ACTIVE) {
            a->state = ALARM_ACTIVE_ACKED;
        } else if (from == ALARM_INACTIVE_UNACKED) {
            a->state = ALARM_INACTIVE;
        } else {
            continue;
        }
        n++;
        history_add(as, (int) i, from, a->state, now, a->value);
        publish_state(as, a, now);
        log_event(LOG_INFO, "alarm_ack", a->cfg->name, has_action(a, ALARM_ACT_LOG),
                  "alarm %s acknowledged (%s)", a->cfg->name, state_names[a->state]);
    }
    return n;
}

static void on_ack(void *ctx, int ch, const struct bus_value *v)
{
    struct alarms *as = ctx;

    (void) ch;
    if (isnan(v->value) || v->value < -1 || v->value >= (double) as->n ||
        alarms_ack(as, (int) v->value) < 0) {
        LOGF(LOG_WARNING, "alarm", "gateway/command/ack: no alarm %g (0..%zu, -1 all)",
             v->value, as->n - 1);
    }
}

/* ---- set-up --------------------------------------------------------------------- */

static int reg(struct bus *b, const char *name, const char *unit)
{
    int ch = bus_register(b, name, unit);

    if (ch == -PQ_EEXIST) {
        ch = bus_find(b, name); /* a command channel made by another unit */
    }
    if (ch < 0) {
        LOGF(LOG_ERR, "alarm", "channel %s: %s", name, pq_strerror(ch));
    }
    return ch;
}

static int subscribe(struct alarms *as, int alarm, int role, int index, const char *name)
{
    struct sub *s = &as->subs[as->nsubs];

    *s = (struct sub){as, alarm, role, index, -1};
    s->id = bus_subscribe(as->bus, name, on_input, s);
    if (s->id < 0) {
        LOGF(LOG_ERR, "alarm", "subscribe %s: %s", name, pq_strerror(s->id));
        return s->id;
    }
    as->nsubs++;
    return 0;
}

static int setup_inputs(struct alarms *as, size_t i)
{
    struct alarm *a = &as->a[i];
    const struct alarm_cfg *c = a->cfg;
    char name[BUS_NAME_MAX];
    int rc = 0;

    if (*c->channel) {
        rc = subscribe(as, (int) i, R_MAIN, 0, c->channel);
    }
    if (rc == 0 && c->kind == ALARM_DEVIATION) {
        if (c->reference_is_channel) {
            rc = subscribe(as, (int) i, R_REF, 0, c->reference);
        } else {
            a->ref = c->reference_v;
        }
    }
    for (size_t k = 0; rc == 0 && c->kind == ALARM_EVENT && k < c->events.n; k++) {
        int kind = CFG_AT(c->events, struct alarm_event_item_cfg, k)->kind;

        snprintf(name, sizeof(name), "local/event/%s/active", event_names[kind]);
        rc = subscribe(as, (int) i, R_EVENT, kind, name);
    }
    if (rc == 0 && c->kind == ALARM_LOGIC) {
        struct expr_error err;

        rc = expr_compile(c->expr, strlen(c->expr), &a->expr, &err);
        a->refs = rc == 0 ? malloc(expr_nrefs(a->expr) * sizeof(*a->refs) + 1) : NULL;
        if (rc == 0 && !a->refs) {
            rc = -ENOMEM;
        }
        for (size_t r = 0; rc == 0 && r < expr_nrefs(a->expr); r++) {
            a->refs[r] = (struct expr_value){NAN, 0, BUS_Q_INVALID};
            rc = subscribe(as, (int) i, R_EXPR, (int) r, expr_ref_name(a->expr, r));
        }
    }
    return rc;
}

static int setup_alarm(struct alarms *as, size_t i)
{
    struct alarm *a = &as->a[i];
    char name[BUS_NAME_MAX];

    a->value = a->ref = NAN;
    a->ch_output = -1;
    snprintf(name, sizeof(name), "alarm/%s/state", a->cfg->name);
    a->ch_state = reg(as->bus, name, "");
    snprintf(name, sizeof(name), "alarm/%s/active", a->cfg->name);
    a->ch_active = reg(as->bus, name, "");
    if (a->ch_state < 0 || a->ch_active < 0) {
        return a->ch_state < 0 ? a->ch_state : a->ch_active;
    }
    for (size_t k = 0; k < a->cfg->actions.n; k++) {
        const struct alarm_action_item_cfg *act =
            CFG_AT(a->cfg->actions, struct alarm_action_item_cfg, k);

        if (act->action == ALARM_ACT_OUTPUT) {
            snprintf(name, sizeof(name), "io/%s/set", act->output);
            a->ch_output = reg(as->bus, name, "");
            if (a->ch_output < 0) {
                return a->ch_output;
            }
        }
        a->capture |= act->action == ALARM_ACT_CAPTURE;
        a->burst |= act->action == ALARM_ACT_BURST;
        a->email |= act->action == ALARM_ACT_EMAIL;
    }
    if (a->cfg->klass == ALARM_CLASS_HALF_CYCLE && !strstr(a->cfg->channel, "_half/")) {
        LOGF(LOG_WARNING, "alarm",
             "%s: class half_cycle on %s, which is not a half-cycle channel "
             "(local/u_rms_half/..., local/i_rms_half/...): it responds at that "
             "channel's pace",
             a->cfg->name, *a->cfg->channel ? a->cfg->channel : "its inputs");
    }
    return setup_inputs(as, i);
}

static size_t count_subs(const struct pqgate_cfg *cfg)
{
    size_t n = 0;

    for (size_t i = 0; i < cfg->alarms.n; i++) {
        const struct alarm_cfg *c = CFG_AT(cfg->alarms, struct alarm_cfg, i);

        n += 2 + c->events.n + (c->kind == ALARM_LOGIC ? EXPR_MAX_REFS : 0);
    }
    return n;
}

static int need_mail(const struct alarms *as)
{
    for (size_t i = 0; i < as->n; i++) {
        if (as->a[i].email) {
            return 1;
        }
    }
    return 0;
}

int alarms_new(const struct pqgate_cfg *cfg, struct bus *bus, struct loop *loop,
               struct alarms **out)
{
    struct alarms *as = calloc(1, sizeof(*as));
    int64_t now = loop_wall_ns();
    int rc = 0;

    if (!as) {
        return -ENOMEM;
    }
    as->cfg = cfg;
    as->bus = bus;
    as->loop = loop;
    as->n = cfg->alarms.n;
    as->sub_ack = as->timer = -1;
    as->a = calloc(as->n ? as->n : 1, sizeof(*as->a));
    as->subs = calloc(count_subs(cfg) + 1, sizeof(*as->subs));
    if (!as->a || !as->subs) {
        alarms_free(as);
        return -ENOMEM;
    }
    as->ch_capture = reg(bus, "gateway/command/capture", "");
    as->ch_burst = reg(bus, "gateway/command/burst", "");
    as->ch_ack = reg(bus, "gateway/command/ack", "");
    for (size_t i = 0; i < as->n && rc == 0; i++) {
        as->a[i].cfg = CFG_AT(cfg->alarms, struct alarm_cfg, i);
        rc = setup_alarm(as, i);
    }
    if (rc == 0 && as->ch_ack >= 0) {
        as->sub_ack = bus_subscribe(bus, "gateway/command/ack", on_ack, as);
        rc = as->sub_ack < 0 ? as->sub_ack : 0;
    }
    if (rc == 0 && loop && as->n) {
        as->timer = loop_add_timer(loop, TICK_NS, on_tick, as);
        rc = as->timer < 0 ? as->timer : 0;
    }
    if (rc == 0 && need_mail(as)) {
        rc = alarm_mail_new(&cfg->alarms_email, &as->mail);
    }
    if (rc < 0) {
        alarms_free(as);
        return rc;
    }
    for (size_t i = 0; i < as->n; i++) {
        publish_state(as, &as->a[i], now);
    }
    *out = as;
    return 0;
}

void alarms_free(struct alarms *as)
{
    if (!as) {
        return;
    }
    alarm_mail_free(as->mail);
    if (as->timer >= 0) {
        loop_del_timer(as->loop, as->timer);
    }
    if (as->sub_ack >= 0) {
        bus_unsubscribe(as->bus, as->sub_ack);
    }
    for (size_t i = 0; i < as->nsubs; i++) {
        bus_unsubscribe(as->bus, as->subs[i].id);
    }
    for (size_t i = 0; as->a && i < as->n; i++) {
        expr_free(as->a[i].expr);
        free(as->a[i].refs);
    }
    free(as->subs);
    free(as->a);
    free(as);
}

/* ---- queries -------------------------------------------------------------------- */

size_t alarms_count(const struct alarms *as)
{
    return as->n;
}

int alarms_find(const struct alarms *as, const char *name)
{
    for (size_t i = 0; i < as->n; i++) {
        if (strcmp(as->a[i].cfg->name, name) == 0) {
            return (int) i;
        }
    }
    return -PQ_ENOTFOUND;
}

int alarms_status(const struct alarms *as, int idx, struct alarm_status *out)
{
    const struct alarm *a;

    if (idx < 0 || (size_t) idx >= as->n) {
        return -EINVAL;
    }
    a = &as->a[idx];
    *out = (struct alarm_status){a->cfg->name, a->cfg->prio,   a->state,
                                 a->since_ns,  a->activations, a->value};
    return 0;
}

size_t alarms_history(const struct alarms *as, struct alarm_transition *out, size_t cap)
{
    size_t n = as->hist_n < cap ? as->hist_n : cap;
    size_t first = as->hist_n - n; /* the newest n */

    for (size_t i = 0; i < n; i++) {
        out[i] = as->hist[(as->hist_head + first + i) % ALARM_HISTORY];
    }
    return n;
}

struct alarms *alarms_running(void)
{
    return running;
}

/* ---- component ------------------------------------------------------------------ */

static int alarm_start(struct gw *gw, void **state)
{
    struct alarms *as = NULL;
    int rc;

    *state = NULL;
    if (gw->cfg->alarms.n == 0) {
        return 0;
    }
    rc = alarms_new(gw->cfg, gw->bus, gw->loop, &as);
    if (rc < 0) {
        LOGF(LOG_ERR, "alarm", "alarms not started: %s", pq_strerror(rc));
        return rc;
    }
    LOGF(LOG_INFO, "alarm", "%zu alarms", as->n);
    running = as;
    *state = as;
    return 0;
}

static void alarm_stop(void *state)
{
    if (state && running == state) {
        running = NULL;
    }
    alarms_free(state);
}

const struct gw_component alarm_component = {
    .name = "alarm",
    .start = alarm_start,
    .stop = alarm_stop,
};
