/* cfg_store.c - the `store:` and `security_log:` sections. */
#include <stddef.h>

#include "config/config.h"

static const struct cfg_field store_fields[] = {
    {.key = "path",
     .type = CFG_STRING,
     .offset = offsetof(struct store_section_cfg, path),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 4000,
     .def = "/var/lib/pqgate/store.db",
     .doc = "the onboard store's SQLite file; its directory must exist"},
    {.key = "budget",
     .type = CFG_SIZE,
     .offset = offsetof(struct store_section_cfg, budget_bytes),
     .flags = CFG_RANGE,
     .min = 1e6,
     .max = 1e12,
     .def = "512MB",
     .doc = "size of the file; over it the oldest rows of the logs are dropped"},
    {.key = "batch",
     .type = CFG_DURATION,
     .offset = offsetof(struct store_section_cfg, batch_ns),
     .flags = CFG_RANGE,
     .min = 0.01,
     .max = 60,
     .def = "1s",
     .doc = "commit period: a crash loses at most the writes of one period"},
    {0},
};

const struct cfg_schema store_section_schema = {
    .name = "store",
    .size = sizeof(struct store_section_cfg),
    .fields = store_fields,
};

/* RFC 5424 6.2.1 table 1: the facility codes 0..23, in order. */
const char *const cfg_syslog_facility_names[] = {
    "kern",   "user",   "mail",   "daemon",   "auth",   "syslog", "lpr",
    "news",   "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",
    "alert",  "clock",  "local0", "local1",   "local2", "local3", "local4",
    "local5", "local6", "local7", NULL};

static const char *const protocol_names[] = {"udp", "tcp", NULL};

static const struct cfg_field remote_fields[] = {
    {.key = "host",
     .type = CFG_STRING,
     .offset = offsetof(struct syslog_remote_cfg, host),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 253,
     .def = "",
     .doc = "the syslog collector (name or address); empty: none"},
    {.key = "port",
     .type = CFG_INT,
     .offset = offsetof(struct syslog_remote_cfg, port),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 65535,
     .def = "514",
     .doc = "its port"},
    {.key = "protocol",
     .type = CFG_ENUM,
     .offset = offsetof(struct syslog_remote_cfg, protocol),
     .def = "udp",
     .choices = protocol_names,
     .doc = "udp (RFC 5426) or tcp (RFC 6587 octet counting)"},
    {.key = "facility",
     .type = CFG_ENUM,
     .offset = offsetof(struct syslog_remote_cfg, facility),
     .def = "authpriv",
     .choices = cfg_syslog_facility_names,
     .doc = "syslog facility of the messages sent"},
    {0},
};

static const struct cfg_schema remote_schema = {
    .name = "security_log.remote",
    .size = sizeof(struct syslog_remote_cfg),
    .fields = remote_fields,
};

static const struct cfg_field security_log_fields[] = {
    {.key = "syslog_local",
     .type = CFG_BOOL,
     .offset = offsetof(struct security_log_cfg, syslog_local),
     .def = "true",
     .doc = "also send security entries to the local syslog (syslog(3))"},
    {.key = "facility",
     .type = CFG_ENUM,
     .offset = offsetof(struct security_log_cfg, facility),
     .def = "authpriv",
     .choices = cfg_syslog_facility_names,
     .doc = "local syslog facility of security entries"},
    {.key = "remote",
     .type = CFG_STRUCT,
     .offset = offsetof(struct security_log_cfg, remote),
     .sub = &remote_schema,
     .doc = "a remote syslog collector for security entries (RFC 5424)"},
    {0},
};

const struct cfg_schema security_log_schema = {
    .name = "security_log",
    .size = sizeof(struct security_log_cfg),
    .fields = security_log_fields,
};
