/* cfg_alarm.c - the `virtual:`, `alarms:` and `alarms_email:` sections.
 *
 * Expressions are compiled here, at load, by the one compiler the daemon
 * runs (config/expr.h: pure code, no I/O), so a syntax error is reported
 * like any other config error: at the YAML node, with the column inside
 * the expression. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/expr.h"
#include "config/names.h"
#include "config/units.h"

/* The rule of gateway/bus.h's bus_name_valid(), for names in the config. */
static int channel_name_ok(const char *s)
{
    return names_channel_valid(s, strlen(s), 95);
}

/* Compile an expression and report its first error at the field. */
static void check_expr(struct cfg_ctx *ctx, char *const *field)
{
    struct expr *e = NULL;
    struct expr_error err;
    int rc = expr_compile(*field, strlen(*field), &e, &err);

    if (rc < 0 && err.msg[0]) {
        cfg_error_at(ctx, field, "at column %d of the expression: %s", err.col, err.msg);
    } else if (rc < 0) {
        cfg_error_at(ctx, field, "the expression cannot be compiled (out of memory)");
    }
    expr_free(e);
}

/* ---- virtual: --------------------------------------------------------------- */

static void check_virtual(struct cfg_ctx *ctx, void *obj)
{
    struct virtual_cfg *v = obj;

    if (!*v->name) {
        cfg_error_at(ctx, &v->name, "a virtual channel needs a name");
    }
    check_expr(ctx, &v->expr);
    if (strcmp(v->interval, "on_change") == 0) {
        v->interval_ns = 0;
    } else if (units_parse_duration(v->interval, &v->interval_ns) < 0 ||
               v->interval_ns < 10000000LL || v->interval_ns > 86400LL * 1000000000LL) {
        cfg_error_at(ctx, &v->interval,
                     "expected on_change or a duration from 10ms to 1d, got '%s'",
                     v->interval);
    }
}

static const struct cfg_field virtual_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct virtual_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_channel,
     .doc = "channel name of the result, e.g. site/p_net"},
    {.key = "unit",
     .type = CFG_STRING,
     .offset = offsetof(struct virtual_cfg, unit),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 15,
     .doc = "unit of the result, e.g. W"},
    {.key = "expr",
     .type = CFG_STRING,
     .offset = offsetof(struct virtual_cfg, expr),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = EXPR_MAX_LEN,
     .doc = "expression over channels (docs/virtual.md)"},
    {.key = "interval",
     .type = CFG_STRING,
     .offset = offsetof(struct virtual_cfg, interval),
     .def = "on_change",
     .doc = "on_change (when an input is updated) or a period like 1s"},
    {0},
};

const struct cfg_schema virtual_schema = {
    .name = "virtual channel",
    .size = sizeof(struct virtual_cfg),
    .fields = virtual_fields,
    .check = check_virtual,
};

/* ---- alarms: ---------------------------------------------------------------- */

static const char *const kind_names[] = {"over",  "under", "deviation", "digital",
                                         "event", "logic", NULL};
static const char *const class_names[] = {"1s", "half_cycle", NULL};
static const char *const event_names[] = {"dip", "swell",       "interruption",
                                          "rvc", "current-sag", "current-swell",
                                          NULL}; /* = enum pq_event_kind */
static const char *const action_names[] = {"log",   "capture", "burst", "output",
                                           "email", "mqtt",    NULL};

static const struct cfg_field addr_fields[] = {
    {.key = "address",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_addr_cfg, address),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 3,
     .max = 254,
     .doc = "an e-mail address"},
    {0},
};

static void check_addr(struct cfg_ctx *ctx, void *obj)
{
    struct alarm_addr_cfg *a = obj;

    if (!strchr(a->address, '@') || strpbrk(a->address, " <>\r\n,")) {
        cfg_error_at(ctx, &a->address,
                     "expected an address like ops@example.com, got '%s'", a->address);
    }
}

static const struct cfg_schema addr_schema = {
    .name = "address",
    .size = sizeof(struct alarm_addr_cfg),
    .fields = addr_fields,
    .check = check_addr,
    .scalar_key = "address",
};

static const struct cfg_field email_action_fields[] = {
    {.key = "to",
     .type = CFG_LIST,
     .offset = offsetof(struct alarm_email_action_cfg, to),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 16,
     .sub = &addr_schema,
     .doc = "recipients (empty: alarms_email.to)"},
    {0},
};

static const struct cfg_schema email_action_schema = {
    .name = "email",
    .size = sizeof(struct alarm_email_action_cfg),
    .fields = email_action_fields,
};

static void check_action(struct cfg_ctx *ctx, void *obj)
{
    struct alarm_action_item_cfg *a = obj;
    int keyed = (*a->output ? 1 : 0) + (a->email.to.n ? 1 : 0);

    a->action = -1;
    for (int i = 0; action_names[i]; i++) {
        if (strcmp(a->kind, action_names[i]) == 0) {
            a->action = i;
        }
    }
    if (*a->kind && a->action < 0) {
        cfg_error_at(ctx, &a->kind,
                     "expected log, capture, burst, output, email or mqtt, got '%s'",
                     a->kind);
    } else if (keyed > 1 || (keyed && *a->kind && a->action != ALARM_ACT_OUTPUT &&
                             a->action != ALARM_ACT_EMAIL)) {
        cfg_error_at(ctx, &a->kind, "one action per item");
    } else if (*a->output) {
        a->action = ALARM_ACT_OUTPUT;
        if (!channel_name_ok(a->output) || strchr(a->output, '/')) {
            cfg_error_at(ctx, &a->output,
                         "expected the name of a digital output like relay1, got '%s'",
                         a->output);
        }
    } else if (a->email.to.n) {
        a->action = ALARM_ACT_EMAIL;
    } else if (a->action == ALARM_ACT_OUTPUT) {
        cfg_error_at(ctx, &a->kind, "output needs the output's name: output: relay1");
    } else if (a->action < 0) {
        cfg_error_at(ctx, &a->kind,
                     "an action: log, capture, burst, output, email or mqtt");
    }
}

static const struct cfg_field action_fields[] = {
    {.key = "kind",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_action_item_cfg, kind),
     .doc = "log, capture, burst, output, email or mqtt"},
    {.key = "output",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_action_item_cfg, output),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .doc = "set this digital output while the alarm is active (io/<name>/set)"},
    {.key = "email",
     .type = CFG_STRUCT,
     .offset = offsetof(struct alarm_action_item_cfg, email),
     .sub = &email_action_schema,
     .doc = "send a message through alarms_email"},
    {0},
};

static const struct cfg_schema action_schema = {
    .name = "action",
    .size = sizeof(struct alarm_action_item_cfg),
    .fields = action_fields,
    .check = check_action,
    .scalar_key = "kind",
};

static const struct cfg_field event_item_fields[] = {
    {.key = "kind",
     .type = CFG_ENUM,
     .offset = offsetof(struct alarm_event_item_cfg, kind),
     .flags = CFG_REQUIRED,
     .choices = event_names,
     .doc = "a PQ event kind"},
    {0},
};

static const struct cfg_schema event_item_schema = {
    .name = "event",
    .size = sizeof(struct alarm_event_item_cfg),
    .fields = event_item_fields,
    .scalar_key = "kind",
};

static void check_priority(struct cfg_ctx *ctx, struct alarm_cfg *a)
{
    int64_t n;

    if (strcmp(a->priority, "low") == 0) {
        a->prio = 64;
    } else if (strcmp(a->priority, "medium") == 0) {
        a->prio = 128;
    } else if (strcmp(a->priority, "high") == 0) {
        a->prio = 192;
    } else if (units_parse_int(a->priority, &n) == 0 && n >= 1 && n <= 255) {
        a->prio = (int) n;
    } else {
        cfg_error_at(ctx, &a->priority, "expected low, medium, high or 1..255, got '%s'",
                     a->priority);
    }
}

static int parse_level(struct cfg_ctx *ctx, char *const *field, double *v, int *pct)
{
    if (expr_parse_quantity(*field, v, pct) < 0) {
        cfg_error_at(ctx, field, "expected a value like 250 V, 5 kW or 10 %%, got '%s'",
                     *field);
        return -1;
    }
    return 0;
}

/* pickup and dropout of over, under and deviation alarms */
static void check_levels(struct cfg_ctx *ctx, struct alarm_cfg *a)
{
    if (!*a->pickup) {
        cfg_error_at(ctx, &a->pickup, "an alarm of kind %s needs a pickup value",
                     kind_names[a->kind]);
        return;
    }
    if (parse_level(ctx, &a->pickup, &a->pickup_v, &a->pickup_pct) < 0) {
        return;
    }
    if (!*a->dropout) {
        a->dropout_v = a->pickup_v;
        a->dropout_pct = a->pickup_pct;
    } else if (parse_level(ctx, &a->dropout, &a->dropout_v, &a->dropout_pct) < 0) {
        return;
    }
    if (a->pickup_pct != a->dropout_pct) {
        cfg_error_at(ctx, &a->dropout,
                     "pickup and dropout must both be in %% or neither");
    } else if ((a->kind == ALARM_OVER || a->kind == ALARM_DEVIATION) &&
               a->dropout_v > a->pickup_v) {
        cfg_error_at(
            ctx, &a->dropout,
            "the dropout (%g) must not be above the pickup (%g) of an alarm of kind %s",
            a->dropout_v, a->pickup_v, kind_names[a->kind]);
    } else if (a->kind == ALARM_UNDER && a->dropout_v < a->pickup_v) {
        cfg_error_at(ctx, &a->dropout,
                     "the dropout (%g) must not be below the pickup (%g) of an alarm of "
                     "kind under",
                     a->dropout_v, a->pickup_v);
    }
}

static void check_deviation(struct cfg_ctx *ctx, struct alarm_cfg *a)
{
    int pct;

    if (!*a->reference) {
        cfg_error_at(ctx, &a->reference, "a deviation alarm needs a reference");
    } else if (expr_parse_quantity(a->reference, &a->reference_v, &pct) == 0 && !pct) {
        a->reference_is_channel = 0;
    } else if (channel_name_ok(a->reference)) {
        a->reference_is_channel = 1;
    } else {
        cfg_error_at(ctx, &a->reference,
                     "expected a value like 230 V or a channel, got '%s'", a->reference);
    }
    if (a->pickup_v < 0 || a->dropout_v < 0) {
        cfg_error_at(ctx, &a->pickup,
                     "a deviation is a distance: pickup and dropout >= 0");
    }
}

static void check_alarm(struct cfg_ctx *ctx, void *obj)
{
    struct alarm_cfg *a = obj;

    check_priority(ctx, a);
    if (a->kind == ALARM_OVER || a->kind == ALARM_UNDER || a->kind == ALARM_DEVIATION ||
        a->kind == ALARM_DIGITAL) {
        if (!*a->channel) {
            cfg_error_at(ctx, &a->channel, "an alarm of kind %s needs a channel",
                         kind_names[a->kind]);
        }
    } else if (*a->channel) {
        cfg_error_at(ctx, &a->channel, "an alarm of kind %s takes no channel (%s)",
                     kind_names[a->kind], a->kind == ALARM_EVENT ? "events" : "expr");
    }
    if (a->kind == ALARM_OVER || a->kind == ALARM_UNDER || a->kind == ALARM_DEVIATION) {
        check_levels(ctx, a);
    }
    if (a->kind == ALARM_DEVIATION) {
        check_deviation(ctx, a);
    }
    if (a->kind == ALARM_EVENT && a->events.n == 0) {
        cfg_error_at(ctx, &a->events, "an event alarm needs events: [dip, swell, ...]");
    }
    if (a->kind == ALARM_LOGIC) {
        if (!*a->expr) {
            cfg_error_at(ctx, &a->expr, "a logic alarm needs an expr");
        } else {
            check_expr(ctx, &a->expr);
        }
    } else if (*a->expr) {
        cfg_error_at(ctx, &a->expr, "only a logic alarm takes an expr");
    }
}

static const struct cfg_field alarm_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "alarm name: channels alarm/<name>/state and alarm/<name>/active"},
    {.key = "priority",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_cfg, priority),
     .def = "medium",
     .doc = "low, medium, high or 1..255 (255 most urgent)"},
    {.key = "class",
     .type = CFG_ENUM,
     .offset = offsetof(struct alarm_cfg, klass),
     .def = "1s",
     .choices = class_names,
     .doc = "response class: 1s, or half_cycle on a Urms(1/2) channel"},
    {.key = "kind",
     .type = CFG_ENUM,
     .offset = offsetof(struct alarm_cfg, kind),
     .flags = CFG_REQUIRED,
     .choices = kind_names,
     .doc = "over, under, deviation, digital, event or logic"},
    {.key = "channel",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_cfg, channel),
     .valid = cfg_valid_channel,
     .doc = "the channel watched (over, under, deviation, digital)"},
    {.key = "pickup",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_cfg, pickup),
     .doc = "value that activates: 253 V; deviation: 10 V or 5 %"},
    {.key = "dropout",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_cfg, dropout),
     .doc = "value that clears (hysteresis; default: the pickup)"},
    {.key = "pickup_delay",
     .type = CFG_DURATION,
     .offset = offsetof(struct alarm_cfg, pickup_delay_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "0",
     .doc = "the condition must hold this long before the alarm activates"},
    {.key = "dropout_delay",
     .type = CFG_DURATION,
     .offset = offsetof(struct alarm_cfg, dropout_delay_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "0",
     .doc = "the condition must be gone this long before the alarm clears"},
    {.key = "reference",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_cfg, reference),
     .doc = "deviation: the value or channel the input is compared with"},
    {.key = "state",
     .type = CFG_INT,
     .offset = offsetof(struct alarm_cfg, state),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1,
     .def = "1",
     .doc = "digital: the input state that activates (0 or 1)"},
    {.key = "events",
     .type = CFG_LIST,
     .offset = offsetof(struct alarm_cfg, events),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 6,
     .sub = &event_item_schema,
     .doc = "event: PQ event kinds (dip, swell, interruption, rvc, current-sag, "
            "current-swell)"},
    {.key = "expr",
     .type = CFG_STRING,
     .offset = offsetof(struct alarm_cfg, expr),
     .flags = CFG_RANGE,
     .min = 0,
     .max = EXPR_MAX_LEN,
     .doc = "logic: a Boolean expression over channels and alarm(\"name\")"},
    {.key = "actions",
     .type = CFG_LIST,
     .offset = offsetof(struct alarm_cfg, actions),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 16,
     .sub = &action_schema,
     .doc = "log, capture, burst, output: NAME, email: {to: [...]}, mqtt"},
    {0},
};

const struct cfg_schema alarm_schema = {
    .name = "alarm",
    .size = sizeof(struct alarm_cfg),
    .fields = alarm_fields,
    .check = check_alarm,
};

/* ---- alarms_email: ---------------------------------------------------------- */

static void check_email(struct cfg_ctx *ctx, void *obj)
{
    struct alarms_email_cfg *e = obj;

    if (*e->server && strncmp(e->server, "smtp://", 7) != 0 &&
        strncmp(e->server, "smtps://", 8) != 0) {
        cfg_error_at(ctx, &e->server,
                     "expected smtp://host[:port] or smtps://..., got '%s'", e->server);
    }
    if (*e->server && !*e->from) {
        cfg_error_at(ctx, &e->from, "the email action needs a from address");
    } else if (*e->from && (!strchr(e->from, '@') || strpbrk(e->from, " <>\r\n,"))) {
        cfg_error_at(ctx, &e->from, "expected an address like gw@example.com, got '%s'",
                     e->from);
    }
}

static const struct cfg_field email_fields[] = {
    {.key = "server",
     .type = CFG_STRING,
     .offset = offsetof(struct alarms_email_cfg, server),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 512,
     .doc = "SMTP server URL: smtp://host:port or smtps://host:port (empty: no email)"},
    {.key = "from",
     .type = CFG_STRING,
     .offset = offsetof(struct alarms_email_cfg, from),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 254,
     .doc = "sender address"},
    {.key = "to",
     .type = CFG_LIST,
     .offset = offsetof(struct alarms_email_cfg, to),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 16,
     .sub = &addr_schema,
     .doc = "default recipients"},
    {.key = "username",
     .type = CFG_STRING,
     .offset = offsetof(struct alarms_email_cfg, username),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 254,
     .doc = "SMTP login (empty: none)"},
    {.key = "password_file",
     .type = CFG_STRING,
     .offset = offsetof(struct alarms_email_cfg, password_file),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 4000,
     .doc = "file whose first line is the SMTP password"},
    {.key = "starttls",
     .type = CFG_BOOL,
     .offset = offsetof(struct alarms_email_cfg, starttls),
     .def = "false",
     .doc = "require STARTTLS on smtp:// (smtps:// is TLS from the start)"},
    {.key = "timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct alarms_email_cfg, timeout_ns),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 300,
     .def = "30s",
     .doc = "give up on one message after this long"},
    {.key = "queue",
     .type = CFG_INT,
     .offset = offsetof(struct alarms_email_cfg, queue),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 1024,
     .def = "64",
     .doc = "messages waiting at most; more are dropped and counted"},
    {0},
};

const struct cfg_schema alarms_email_schema = {
    .name = "alarms_email",
    .size = sizeof(struct alarms_email_cfg),
    .fields = email_fields,
    .check = check_email,
};

/* ---- across sections -------------------------------------------------------- */

/* Index of the alarm named name among the first n, or -1. */
static int alarm_index(const struct pqgate_cfg *c, const char *name, size_t n)
{
    for (size_t i = 0; i < n && i < c->alarms.n; i++) {
        if (strcmp(CFG_AT(c->alarms, struct alarm_cfg, i)->name, name) == 0) {
            return (int) i;
        }
    }
    return -1;
}

/* Every alarm("x") of an expression names an alarm among the first n (a
 * logic alarm may use only the alarms above it: no cycles). */
static void check_alarm_refs(struct cfg_ctx *ctx, const struct pqgate_cfg *c,
                             char *const *field, size_t n, const char *where)
{
    struct expr *e = NULL;
    struct expr_error err;

    if (expr_compile(*field, strlen(*field), &e, &err) < 0) {
        return; /* reported by the item's check */
    }
    for (size_t r = 0; r < expr_nrefs(e); r++) {
        const char *name;

        if (expr_ref_is_alarm(e, r, &name) && alarm_index(c, name, n) < 0) {
            cfg_error_at(ctx, field, "at column %d of the expression: %s '%s'",
                         expr_ref_col(e, r), where, name);
        }
    }
    expr_free(e);
}

static void check_email_actions(struct cfg_ctx *ctx, const struct pqgate_cfg *c,
                                const struct alarm_cfg *a)
{
    for (size_t k = 0; k < a->actions.n; k++) {
        const struct alarm_action_item_cfg *act =
            CFG_AT(a->actions, struct alarm_action_item_cfg, k);

        const void *at = act->email.to.n ? (const void *) &act->email.to : &act->kind;

        if (act->action != ALARM_ACT_EMAIL) {
            continue;
        }
        if (!*c->alarms_email.server) {
            cfg_error_at(ctx, at, "the email action needs alarms_email.server");
        } else if (act->email.to.n == 0 && c->alarms_email.to.n == 0) {
            cfg_error_at(ctx, at,
                         "no recipients: give email: {to: [...]} or alarms_email.to");
        }
    }
}

static int virtual_index(const struct pqgate_cfg *c, const char *name)
{
    for (size_t i = 0; i < c->virtuals.n; i++) {
        if (strcmp(CFG_AT(c->virtuals, struct virtual_cfg, i)->name, name) == 0) {
            return (int) i;
        }
    }
    return -1;
}

/* Depth-first search from on_change channel i through the on_change
 * channels it reads; 1 if it comes back to one on the path (mark: 0 new, 1
 * on the path, 2 done). */
static int in_loop(const struct pqgate_cfg *c, size_t i, unsigned char *mark, int depth)
{
    const struct virtual_cfg *v = CFG_AT(c->virtuals, struct virtual_cfg, i);
    struct expr *e = NULL;
    struct expr_error err;
    int loop = 0;

    if (mark[i] == 1) {
        return 1;
    }
    if (mark[i] == 2 || v->interval_ns != 0 || depth > 1100 ||
        expr_compile(v->expr, strlen(v->expr), &e, &err) < 0) {
        return 0;
    }
    mark[i] = 1;
    for (size_t r = 0; !loop && r < expr_nrefs(e); r++) {
        int j = virtual_index(c, expr_ref_name(e, r));

        loop = j >= 0 && in_loop(c, (size_t) j, mark, depth + 1);
    }
    expr_free(e);
    mark[i] = loop ? 1 : 2;
    return loop;
}

/* on_change channels that read each other would evaluate for ever */
static void check_virtual_loops(struct cfg_ctx *ctx, const struct pqgate_cfg *c)
{
    unsigned char *mark = calloc(c->virtuals.n + 1, 1);

    if (!mark) {
        return;
    }
    for (size_t i = 0; i < c->virtuals.n; i++) {
        const struct virtual_cfg *v = CFG_AT(c->virtuals, struct virtual_cfg, i);

        if (in_loop(c, i, mark, 0)) { /* marks kept: each expression once */
            cfg_error_at(ctx, &v->expr,
                         "'%s' is in or reads from a loop of on_change channels; give "
                         "one of them an interval",
                         v->name);
        }
    }
    free(mark);
}

void cfg_alarm_check_root(struct cfg_ctx *ctx, const struct pqgate_cfg *c)
{
    check_virtual_loops(ctx, c);
    for (size_t i = 0; i < c->alarms.n; i++) {
        const struct alarm_cfg *a = CFG_AT(c->alarms, struct alarm_cfg, i);

        if (alarm_index(c, a->name, i) >= 0) {
            cfg_error_at(ctx, &a->name, "alarm name '%s' is used twice", a->name);
        }
        if (a->kind == ALARM_LOGIC) {
            check_alarm_refs(ctx, c, &a->expr, i,
                             "alarm() may name only alarms listed above this one, not");
        }
        check_email_actions(ctx, c, a);
    }
    for (size_t i = 0; i < c->virtuals.n; i++) {
        const struct virtual_cfg *v = CFG_AT(c->virtuals, struct virtual_cfg, i);

        for (size_t j = 0; j < i; j++) {
            if (strcmp(CFG_AT(c->virtuals, struct virtual_cfg, j)->name, v->name) == 0) {
                cfg_error_at(ctx, &v->name, "virtual channel '%s' is defined twice",
                             v->name);
                break;
            }
        }
        check_alarm_refs(ctx, c, &v->expr, c->alarms.n, "no alarm is named");
    }
    for (size_t i = 0; i < c->recorders.n; i++) {
        const struct recorder_cfg *r = CFG_AT(c->recorders, struct recorder_cfg, i);

        if (r->trigger.on_alarm[0] &&
            alarm_index(c, r->trigger.on_alarm, c->alarms.n) < 0) {
            cfg_error_at(ctx, &r->trigger.on_alarm, "no alarm is named '%s'",
                         r->trigger.on_alarm);
        }
    }
}

int cfg_alarm_wants(const struct pqgate_cfg *c, int action)
{
    for (size_t i = 0; i < c->alarms.n; i++) {
        const struct alarm_cfg *a = CFG_AT(c->alarms, struct alarm_cfg, i);

        for (size_t k = 0; k < a->actions.n; k++) {
            if (CFG_AT(a->actions, struct alarm_action_item_cfg, k)->action == action) {
                return 1;
            }
        }
    }
    return 0;
}

int cfg_alarm_wants_capture(const struct pqgate_cfg *c)
{
    return cfg_alarm_wants(c, ALARM_ACT_CAPTURE);
}
