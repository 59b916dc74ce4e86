/* config.c - the root of the daemon's config: identity, logging, and the
 * table of sections. */
#include "config/config.h"

#include <stddef.h>
#include <string.h>

#include "config/names.h"
#include "pq/err.h"

const char *cfg_valid_name(const void *v)
{
    const char *s = *(char *const *) v;
    size_t len = strlen(s);

    if (len == 0 || len > 32 ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len) {
        return "a name of 1 to 32 letters, digits, '_' or '-'";
    }
    return NULL;
}

const char *cfg_valid_channel(const void *v)
{
    const char *s = *(char *const *) v;

    return !*s || names_channel_valid(s, strlen(s), 95)
               ? NULL
               : "a channel name: segments of letters, digits, '_', '.' or '-' "
                 "separated by '/'";
}

static const struct cfg_field gateway_fields[] = {
    {.key = "id",
     .type = CFG_STRING,
     .offset = offsetof(struct gateway_cfg, id),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "stable id of this gateway: MQTT topics and the fleet view use it"},
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct gateway_cfg, name),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 128,
     .doc = "display name"},
    {.key = "site",
     .type = CFG_STRING,
     .offset = offsetof(struct gateway_cfg, site),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 256,
     .doc = "where the gateway is installed"},
    {0},
};

const struct cfg_schema gateway_schema = {
    .name = "gateway",
    .size = sizeof(struct gateway_cfg),
    .fields = gateway_fields,
};

/* Index = syslog level (LOG_EMERG 0 .. LOG_DEBUG 7). */
static const char *const level_names[] = {"emerg",  "alert", "crit",  "error", "warning",
                                          "notice", "info",  "debug", NULL};
static const char *const target_names[] = {"stderr", "syslog", NULL};

static const struct cfg_field logging_fields[] = {
    {.key = "level",
     .type = CFG_ENUM,
     .offset = offsetof(struct logging_cfg, level),
     .def = "info",
     .choices = level_names,
     .doc = "lowest level written"},
    {.key = "target",
     .type = CFG_ENUM,
     .offset = offsetof(struct logging_cfg, target),
     .def = "stderr",
     .choices = target_names,
     .doc = "stderr (journald reads its <N> prefixes) or syslog"},
    {.key = "summary",
     .type = CFG_DURATION,
     .offset = offsetof(struct logging_cfg, summary_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "0",
     .doc = "log a line of the local meter's live values this often (0: never)"},
    {.key = "channels_file",
     .type = CFG_STRING,
     .offset = offsetof(struct logging_cfg, channels_file),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 255,
     .doc = "write every channel (value, unit, time, quality) to this JSON file each "
            "second, replaced atomically; empty: none"},
    {0},
};

const struct cfg_schema logging_schema = {
    .name = "logging",
    .size = sizeof(struct logging_cfg),
    .fields = logging_fields,
};

static void check_names_unique(struct cfg_ctx *ctx, const struct pqgate_cfg *c)
{
    /* buses and peers share one name space: both prefix channel names */
    size_t n = c->buses.n + c->peers.n;

    for (size_t i = 0; i < n; i++) {
        char *const *a =
            i < c->buses.n ? &CFG_AT(c->buses, struct serial_bus_cfg, i)->name
                           : &CFG_AT(c->peers, struct tcp_peer_cfg, i - c->buses.n)->name;

        for (size_t j = 0; j < i; j++) {
            char *const *b =
                j < c->buses.n
                    ? &CFG_AT(c->buses, struct serial_bus_cfg, j)->name
                    : &CFG_AT(c->peers, struct tcp_peer_cfg, j - c->buses.n)->name;

            if (strcmp(*a, *b) == 0) {
                cfg_error_at(ctx, a, "name '%s' is already used by another bus or peer",
                             *a);
                break;
            }
        }
    }
}

static void check_root(struct cfg_ctx *ctx, void *obj)
{
    check_names_unique(ctx, obj);
    cfg_io_check(ctx, obj);
    cfg_alarm_check_root(ctx, obj);
}

static const struct cfg_field root_fields[] = {
    {.key = "gateway",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, gateway),
     .sub = &gateway_schema,
     .doc = "identity of this gateway"},
    {.key = "meter",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, meter),
     .sub = &meter_schema,
     .doc = "the local meter: sample source, nominal values, wiring"},
    {.key = "buses",
     .type = CFG_LIST,
     .offset = offsetof(struct pqgate_cfg, buses),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 8,
     .sub = &serial_bus_schema,
     .doc = "RS-485 serial buses with their Modbus RTU devices"},
    {.key = "peers",
     .type = CFG_LIST,
     .offset = offsetof(struct pqgate_cfg, peers),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .sub = &tcp_peer_schema,
     .doc = "Modbus TCP peers (meters or gateways) and their unit ids"},
    {.key = "events",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, events),
     .sub = &events_schema,
     .doc = "dips, swells, interruptions, RVC: thresholds"},
    {.key = "capture",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, capture),
     .sub = &capture_schema,
     .doc = "waveform captures to COMTRADE on events"},
    {.key = "compliance",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, compliance),
     .sub = &compliance_schema,
     .doc = "continuous EN 50160 evaluation: a pass/fail channel per parameter"},
    {.key = "recorders",
     .type = CFG_LIST,
     .offset = offsetof(struct pqgate_cfg, recorders),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .sub = &recorder_schema,
     .doc = "data recorders: channels logged to the store on intervals or triggers"},
    {.key = "trends",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, trends),
     .sub = &trends_schema,
     .doc = "trend statistics and forecast per channel"},
    {.key = "tou",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, tou),
     .sub = &tou_schema,
     .doc = "time of use: seasons, day types, tariffs in the site's time zone"},
    {.key = "modbus_server",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, modbus_server),
     .sub = &mbserver_schema,
     .doc = "Modbus TCP server: the gateway's register map and serial gateway"},
    {.key = "logging",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, logging),
     .sub = &logging_schema,
     .doc = "where log lines go and how many"},
    {.key = "io",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, io),
     .sub = &io_schema,
     .doc = "digital inputs and outputs: pulse inputs, relays"},
    {.key = "wages",
     .type = CFG_LIST,
     .offset = offsetof(struct pqgate_cfg, wages),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 32,
     .sub = &wages_schema,
     .doc = "water, air, gas, electricity and steam meters: pulse inputs or channels"},
    {.key = "pulse_outputs",
     .type = CFG_LIST,
     .offset = offsetof(struct pqgate_cfg, pulse_outputs),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 8,
     .sub = &pulse_output_schema,
     .doc = "KY pulse outputs that follow an energy or volume total"},
    {.key = "store",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, store),
     .sub = &store_section_schema,
     .doc = "the onboard store: file, size budget, commit period"},
    {.key = "security_log",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, security_log),
     .sub = &security_log_schema,
     .doc = "security log entries to syslog, local and remote"},
    {.key = "virtual",
     .type = CFG_LIST,
     .offset = offsetof(struct pqgate_cfg, virtuals),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1024,
     .sub = &virtual_schema,
     .doc = "virtual channels computed from expressions (docs/virtual.md)"},
    {.key = "alarms",
     .type = CFG_LIST,
     .offset = offsetof(struct pqgate_cfg, alarms),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 256,
     .sub = &alarm_schema,
     .doc = "alarms on channels, PQ events and logic (docs/alarms.md)"},
    {.key = "alarms_email",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, alarms_email),
     .sub = &alarms_email_schema,
     .doc = "the SMTP server of the alarms' email action"},
    {.key = "mqtt",
     .type = CFG_STRUCT,
     .offset = offsetof(struct pqgate_cfg, mqtt),
     .sub = &mqtt_schema,
     .doc = "forwarding to an MQTT broker with store and forward (docs/mqtt.md)"},
    {0},
};

const struct cfg_schema pqgate_schema = {
    .name = "the config file",
    .size = sizeof(struct pqgate_cfg),
    .fields = root_fields,
    .check = check_root,
};

int pqgate_cfg_load(const char *path, const char *const *sets, size_t nsets,
                    struct pqgate_cfg **out, struct cfg_diag *diag)
{
    void *obj = NULL;
    int rc = cfg_load_file(&pqgate_schema, path, sets, nsets, &obj, diag);

    if (rc == 0) {
        *out = obj;
    }
    return rc;
}

void pqgate_cfg_free(struct pqgate_cfg *cfg)
{
    cfg_free(&pqgate_schema, cfg);
}
