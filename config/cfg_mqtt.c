/* cfg_mqtt.c - the `mqtt:` section: broker, TLS, what is published, and the
 * outbox (window, replay share, budget).  docs/mqtt.md explains each. */
#include <stddef.h>
#include <string.h>

#include "config/config.h"

static const char *const protocol_names[] = {"3.1.1", "5", NULL};

/* MQTT 3.1.1 4.7.1 and MQTT 5.0 4.7.1: '+' and '#' are wildcards, never
 * part of a topic a client publishes to. */
static const char *valid_prefix(const void *v)
{
    const char *s = *(char *const *) v;
    size_t len = strlen(s);

    if (len == 0 || len > 64 || strpbrk(s, "+#") || s[0] == '/' || s[len - 1] == '/' ||
        strstr(s, "//")) {
        return "1 to 64 characters without '+' or '#' and without a leading, "
               "trailing or double '/'";
    }
    return NULL;
}

static const char *valid_pattern(const void *v)
{
    const char *s = *(char *const *) v;
    size_t len = strlen(s);

    if (len == 0 || len > 95 ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/*?") != len) {
        return "a channel pattern of 1 to 95 characters (letters, digits, _ . - / and "
               "the wildcards * ** ?)";
    }
    return NULL;
}

static const char *valid_alarm_pattern(const void *v)
{
    return **(char *const *) v ? valid_pattern(v) : NULL;
}

static const struct cfg_field tls_fields[] = {
    {.key = "enabled",
     .type = CFG_BOOL,
     .offset = offsetof(struct mqtt_tls_cfg, enabled),
     .def = "false",
     .doc = "connect over TLS"},
    {.key = "cafile",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_tls_cfg, cafile),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 4096,
     .doc = "PEM file of the CAs that may sign the broker's certificate"},
    {.key = "capath",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_tls_cfg, capath),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 4096,
     .doc = "directory of trusted CA certificates (hashed names, as c_rehash makes)"},
    {.key = "certfile",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_tls_cfg, certfile),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 4096,
     .doc = "client certificate (PEM) when the broker asks for one"},
    {.key = "keyfile",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_tls_cfg, keyfile),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 4096,
     .doc = "private key of certfile (PEM)"},
    {.key = "verify_hostname",
     .type = CFG_BOOL,
     .offset = offsetof(struct mqtt_tls_cfg, verify_hostname),
     .def = "true",
     .doc = "check the broker's name or IP address against its certificate"},
    {0},
};

static void check_tls(struct cfg_ctx *ctx, void *obj)
{
    const struct mqtt_tls_cfg *t = obj;

    if (t->enabled && !*t->cafile && !*t->capath) {
        cfg_error_at(ctx, &t->enabled, "TLS needs cafile or capath to verify the broker");
    }
    if (!*t->certfile != !*t->keyfile) {
        cfg_error_at(ctx, *t->certfile ? &t->certfile : &t->keyfile,
                     "a client certificate needs both certfile and keyfile");
    }
}

static const struct cfg_schema mqtt_tls_schema = {
    .name = "mqtt.tls",
    .size = sizeof(struct mqtt_tls_cfg),
    .fields = tls_fields,
    .check = check_tls,
};

static const struct cfg_field publish_fields[] = {
    {.key = "channels",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_publish_cfg, channels),
     .flags = CFG_REQUIRED,
     .valid = valid_pattern,
     .doc = "channel pattern, as local/u_rms/* or bus1.**"},
    {.key = "interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct mqtt_publish_cfg, interval_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "10s",
     .doc = "send the latest values this often; 0: every update"},
    {0},
};

static const struct cfg_schema mqtt_publish_schema = {
    .name = "an mqtt.publish entry",
    .size = sizeof(struct mqtt_publish_cfg),
    .fields = publish_fields,
};

static void check_mqtt(struct cfg_ctx *ctx, void *obj)
{
    const struct mqtt_cfg *m = obj;

    if (*m->password && *m->password_file) {
        cfg_error_at(ctx, &m->password_file, "give password or password_file, not both");
    }
    if ((*m->password || *m->password_file) && !*m->username) {
        cfg_error_at(ctx, *m->password ? &m->password : &m->password_file,
                     "a password needs a username");
    }
    if (m->reconnect_min_ns > m->reconnect_max_ns) {
        cfg_error_at(ctx, &m->reconnect_max_ns,
                     "reconnect_max must not be below reconnect_min");
    }
}

static const struct cfg_field mqtt_fields[] = {
    {.key = "enabled",
     .type = CFG_BOOL,
     .offset = offsetof(struct mqtt_cfg, enabled),
     .def = "false",
     .doc = "forward to the broker (the outbox fills while it is down)"},
    {.key = "host",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_cfg, host),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 253,
     .def = "127.0.0.1",
     .doc = "broker host name or IP address"},
    {.key = "port",
     .type = CFG_INT,
     .offset = offsetof(struct mqtt_cfg, port),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 65535,
     .def = "1883",
     .doc = "broker port (8883 is the usual TLS port)"},
    {.key = "protocol",
     .type = CFG_ENUM,
     .offset = offsetof(struct mqtt_cfg, protocol),
     .def = "3.1.1",
     .choices = protocol_names,
     .doc = "MQTT version: 3.1.1 or 5"},
    {.key = "client_id",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_cfg, client_id),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .doc = "MQTT client id; empty: pqgate-<gateway id>"},
    {.key = "username",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_cfg, username),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 256,
     .doc = "user name; empty: none"},
    {.key = "password",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_cfg, password),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 256,
     .doc = "password (prefer password_file: the config is often readable)"},
    {.key = "password_file",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_cfg, password_file),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 4096,
     .doc = "file whose first line is the password"},
    {.key = "keepalive",
     .type = CFG_DURATION,
     .offset = offsetof(struct mqtt_cfg, keepalive_ns),
     .flags = CFG_RANGE,
     .min = 5,
     .max = 65535,
     .def = "30s",
     .doc = "MQTT keepalive: a PINGREQ after this silence"},
    {.key = "reconnect_min",
     .type = CFG_DURATION,
     .offset = offsetof(struct mqtt_cfg, reconnect_min_ns),
     .flags = CFG_RANGE,
     .min = 0.1,
     .max = 3600,
     .def = "1s",
     .doc = "first wait before connecting again; doubled after each failure"},
    {.key = "reconnect_max",
     .type = CFG_DURATION,
     .offset = offsetof(struct mqtt_cfg, reconnect_max_ns),
     .flags = CFG_RANGE,
     .min = 0.1,
     .max = 3600,
     .def = "60s",
     .doc = "longest wait between two attempts"},
    {.key = "tls",
     .type = CFG_STRUCT,
     .offset = offsetof(struct mqtt_cfg, tls),
     .sub = &mqtt_tls_schema,
     .doc = "TLS: CA, server verification, client certificate"},
    {.key = "topic_prefix",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_cfg, topic_prefix),
     .def = "pqgate",
     .valid = valid_prefix,
     .doc = "topics are <topic_prefix>/<gateway id>/<kind>"},
    {.key = "max_inflight",
     .type = CFG_INT,
     .offset = offsetof(struct mqtt_cfg, max_inflight),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 10000,
     .def = "1000",
     .doc = "window: messages sent and not yet durably acknowledged (bounds the "
            "duplicates after a crash)"},
    {.key = "replay_share",
     .type = CFG_QUANTITY,
     .offset = offsetof(struct mqtt_cfg, replay_share_pct),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 99,
     .unit = "%",
     .def = "50 %",
     .doc = "share of the sends that go to the backlog while live messages wait too"},
    {.key = "max_message_size",
     .type = CFG_SIZE,
     .offset = offsetof(struct mqtt_cfg, max_message_bytes),
     .flags = CFG_RANGE,
     .min = 1024,
     .max = 1048576,
     .def = "32KiB",
     .doc = "a message of values is split above this size; a larger record "
            "(10-min, 2-h, event) is not sent (logged, counted in health)"},
    {.key = "outbox_budget",
     .type = CFG_INT,
     .offset = offsetof(struct mqtt_cfg, outbox_budget),
     .flags = CFG_RANGE,
     .min = 100,
     .max = 100000000,
     .def = "1000000",
     .doc = "messages kept while the broker is away; then the oldest go (a gap record)"},
    {.key = "publish",
     .type = CFG_LIST,
     .offset = offsetof(struct mqtt_cfg, publish),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .sub = &mqtt_publish_schema,
     .doc = "channels sent on <prefix>/<id>/data at their intervals"},
    {.key = "aggregates_10min",
     .type = CFG_BOOL,
     .offset = offsetof(struct mqtt_cfg, aggregates_10min),
     .def = "true",
     .doc = "send the local meter's 10-min records on .../agg/10min"},
    {.key = "aggregates_2h",
     .type = CFG_BOOL,
     .offset = offsetof(struct mqtt_cfg, aggregates_2h),
     .def = "true",
     .doc = "send the local meter's 2-h records on .../agg/2h"},
    {.key = "events",
     .type = CFG_BOOL,
     .offset = offsetof(struct mqtt_cfg, events),
     .def = "true",
     .doc = "send PQ events (dips, swells, interruptions, RVC) on .../event"},
    {.key = "alarms",
     .type = CFG_STRING,
     .offset = offsetof(struct mqtt_cfg, alarms),
     .def = "alarm/**",
     .valid = valid_alarm_pattern,
     .doc = "channels whose every change goes to .../alarm; empty: none"},
    {.key = "energy_interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct mqtt_cfg, energy_interval_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "15min",
     .doc = "send every energy register (**/energy*) this often on .../energy; 0: never"},
    {.key = "health_interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct mqtt_cfg, health_interval_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "60s",
     .doc =
         "send the gateway's health (outbox, store, bus, devices) this often; 0: never"},
    {0},
};

const struct cfg_schema mqtt_schema = {
    .name = "mqtt",
    .size = sizeof(struct mqtt_cfg),
    .fields = mqtt_fields,
    .check = check_mqtt,
};
