/* config.h - the typed configuration of the pqgate daemon.
 *
 * Plain data filled by config/ from YAML through the schema tables in
 * config/cfg_*.c; the tiers read it (drivers take their own section, as
 * `const struct meter_cfg *`).  A loaded config is immutable: a reload loads
 * a new one and swaps it in only when all of it validated.
 *
 * Adding a section: a struct here, a schema table in its own cfg_<name>.c,
 * a member of struct pqgate_cfg and one line in the root table (config.c).
 */
#ifndef PQGATE_CONFIG_H
#define PQGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config/schema.h"

/* gateway: identity */
struct gateway_cfg {
    char *id;   /* stable id: MQTT topics, channel names, fleet views */
    char *name; /* display name */
    char *site; /* free text: where the box is */
};

/* meter: the local metrology inputs */
enum meter_source {
    METER_SOURCE_NONE, /* no local meter: a pure Modbus gateway */
    METER_SOURCE_SIM,
    METER_SOURCE_REPLAY,
    METER_SOURCE_IIO,
};

enum meter_wiring {
    METER_WIRING_WYE,    /* 3 phases + neutral, 4 wires */
    METER_WIRING_DELTA,  /* 3 phases, 3 wires */
    METER_WIRING_SINGLE, /* 1 phase + neutral */
};

struct ratio_cfg {
    double primary;   /* V or A on the network side */
    double secondary; /* V or A at the meter terminals */
};

struct meter_cfg {
    int source;                /* enum meter_source */
    double nominal_voltage_v;  /* Udin: L-N for wye/single, L-L for delta */
    double nominal_frequency_hz;
    int wiring;                /* enum meter_wiring */
    struct ratio_cfg pt;       /* voltage transformer */
    struct ratio_cfg ct;       /* current transformer */
};

/* buses and peers: the Modbus fleet */
struct device_cfg {
    char *name;     /* channel prefix: "<bus>.<name>/" */
    int unit;       /* Modbus unit id */
    char *profile;  /* register map (config/profiles/) */
    int64_t poll_ns;
    int64_t timeout_ns; /* 0: the bus's or peer's timeout */
    int retries;
};

enum serial_parity {
    PARITY_NONE,
    PARITY_EVEN,
    PARITY_ODD,
};

struct serial_bus_cfg {
    char *name;   /* "bus1" */
    char *device; /* "/dev/ttyS1" */
    int baud;
    int parity;   /* enum serial_parity */
    int data_bits;
    int stop_bits;
    int64_t timeout_ns;
    struct cfg_list devices; /* struct device_cfg */
};

struct tcp_peer_cfg {
    char *name;
    char *host;
    int port;
    int64_t timeout_ns;
    struct cfg_list devices; /* struct device_cfg (unit ids behind the peer) */
};

/* logging */
enum log_target_cfg {
    LOG_TARGET_STDERR,
    LOG_TARGET_SYSLOG,
};

struct logging_cfg {
    int level;  /* syslog level, LOG_EMERG..LOG_DEBUG */
    int target; /* enum log_target_cfg */
};

struct pqgate_cfg {
    struct gateway_cfg gateway;
    struct meter_cfg meter;
    struct cfg_list buses; /* struct serial_bus_cfg */
    struct cfg_list peers; /* struct tcp_peer_cfg */
    struct logging_cfg logging;
};

extern const struct cfg_schema pqgate_schema;  /* the whole file */
extern const struct cfg_schema gateway_schema; /* config.c */
extern const struct cfg_schema logging_schema; /* config.c */
extern const struct cfg_schema meter_schema;   /* cfg_meter.c */
extern const struct cfg_schema serial_bus_schema; /* cfg_modbus.c */
extern const struct cfg_schema tcp_peer_schema;   /* cfg_modbus.c */

/* Load and validate the daemon's config file with --set overrides.
 * Returns 0 and the config in *out (free with pqgate_cfg_free()), or a
 * negative code with every error in diag. */
int pqgate_cfg_load(const char *path, const char *const *sets, size_t nsets,
                    struct pqgate_cfg **out, struct cfg_diag *diag);
void pqgate_cfg_free(struct pqgate_cfg *cfg); /* NULL is a no-op */

/* Rules shared by several sections: NULL if v (a char **) is a valid name
 * for channel prefixes and topics, else what is expected. */
const char *cfg_valid_name(const void *v);

#endif
