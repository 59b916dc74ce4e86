/* cfg_modbus.c - the `buses:` and `peers:` sections: the Modbus fleet. */
#include <stddef.h>
#include <string.h>

#include "config/config.h"

static const char *const parity_names[] = {"none", "even", "odd", NULL};
static const char *const rts_names[] = {"none", "up", "down", NULL};
static const char *const sunspec_names[] = {"off", "auto", NULL};

static const char *valid_baud(const void *v)
{
    static const int rates[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
    int baud = *(const int *) v;

    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        if (rates[i] == baud) {
            return NULL;
        }
    }
    return "a baud rate of 1200, 2400, 4800, 9600, 19200, 38400, 57600 or 115200";
}

static const char *valid_stop_bits(const void *v)
{
    int n = *(const int *) v;

    return n == 1 || n == 2 ? NULL : "1 or 2 stop bits";
}

static const char *valid_device_path(const void *v)
{
    const char *s = *(char *const *) v;

    return s[0] == '/' ? NULL : "an absolute device path like /dev/ttyS1";
}

static const struct cfg_field device_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct device_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "channel prefix of this device's values"},
    {.key = "unit",
     .type = CFG_INT,
     .offset = offsetof(struct device_cfg, unit),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 0,
     .max = 255,
     .doc = "Modbus unit id (1..247 on a serial bus)"},
    {.key = "profile",
     .type = CFG_STRING,
     .offset = offsetof(struct device_cfg, profile),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .doc = "register map from config/profiles/"},
    {.key = "poll",
     .type = CFG_DURATION,
     .offset = offsetof(struct device_cfg, poll_ns),
     .flags = CFG_RANGE,
     .min = 0.01,
     .max = 86400,
     .def = "1s",
     .doc = "poll interval"},
    {.key = "timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct device_cfg, timeout_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 10,
     .def = "0",
     .doc = "response timeout; 0 takes the bus's or peer's"},
    {.key = "retries",
     .type = CFG_INT,
     .offset = offsetof(struct device_cfg, retries),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 5,
     .def = "1",
     .doc = "extra tries of a failed request before the device counts as down"},
    {.key = "turnaround",
     .type = CFG_DURATION,
     .offset = offsetof(struct device_cfg, turnaround_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1,
     .def = "0",
     .doc = "wait after this device's answer before the next frame"},
    {.key = "backoff_min",
     .type = CFG_DURATION,
     .offset = offsetof(struct device_cfg, backoff_min_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 3600,
     .def = "0",
     .doc = "first quarantine period of a device that stopped answering; 0: the poll "
            "interval"},
    {.key = "backoff_max",
     .type = CFG_DURATION,
     .offset = offsetof(struct device_cfg, backoff_max_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "60s",
     .doc = "longest quarantine period (it doubles from backoff_min up to this)"},
    {.key = "max_regs",
     .type = CFG_INT,
     .offset = offsetof(struct device_cfg, max_regs),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 125,
     .def = "0",
     .doc = "longest read this device accepts, in registers; 0: the profile's"},
    {.key = "max_gap",
     .type = CFG_INT,
     .offset = offsetof(struct device_cfg, max_gap),
     .flags = CFG_RANGE,
     .min = -1,
     .max = 124,
     .def = "-1",
     .doc = "unused registers a read may span to join two points; -1: the profile's"},
    {.key = "sunspec",
     .type = CFG_ENUM,
     .offset = offsetof(struct device_cfg, sunspec),
     .def = "off",
     .choices = sunspec_names,
     .doc = "auto: find the SunSpec header and model chain at start (profile may be "
            "empty)"},
    {0},
};

static const struct cfg_schema device_schema = {
    .name = "a device",
    .size = sizeof(struct device_cfg),
    .fields = device_fields,
};

/* Names and unit ids are unique per bus or peer; RS-485 addresses are
 * 1..247 (0 is broadcast, 248..255 reserved: Modbus over serial line 2.3). */
static void check_devices(struct cfg_ctx *ctx, const struct cfg_list *devs, int serial)
{
    for (size_t i = 0; i < devs->n; i++) {
        const struct device_cfg *d = CFG_AT(*devs, struct device_cfg, i);

        if (serial && (d->unit < 1 || d->unit > 247)) {
            cfg_error_at(ctx, &d->unit,
                         "expected a unit id 1..247 on a serial bus, got %d", d->unit);
        }
        if (d->backoff_min_ns > 0 && d->backoff_max_ns > 0 &&
            d->backoff_max_ns < d->backoff_min_ns) {
            cfg_error_at(ctx, &d->backoff_max_ns,
                         "backoff_max must not be shorter than backoff_min");
        }
        for (size_t j = 0; j < i; j++) {
            const struct device_cfg *e = CFG_AT(*devs, struct device_cfg, j);

            if (strcmp(d->name, e->name) == 0) {
                cfg_error_at(ctx, &d->name, "device name '%s' is already used", d->name);
            }
            if (d->unit == e->unit) {
                cfg_error_at(ctx, &d->unit, "unit id %d is already used by '%s'", d->unit,
                             e->name);
            }
        }
    }
}

static void check_bus(struct cfg_ctx *ctx, void *obj)
{
    check_devices(ctx, &((struct serial_bus_cfg *) obj)->devices, 1);
}

static void check_peer(struct cfg_ctx *ctx, void *obj)
{
    check_devices(ctx, &((struct tcp_peer_cfg *) obj)->devices, 0);
}

static const struct cfg_field bus_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct serial_bus_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "bus name, as in bus1"},
    {.key = "device",
     .type = CFG_STRING,
     .offset = offsetof(struct serial_bus_cfg, device),
     .flags = CFG_REQUIRED,
     .valid = valid_device_path,
     .doc = "serial port"},
    {.key = "baud",
     .type = CFG_INT,
     .offset = offsetof(struct serial_bus_cfg, baud),
     .def = "19200",
     .valid = valid_baud,
     .doc = "bits per second"},
    {.key = "parity",
     .type = CFG_ENUM,
     .offset = offsetof(struct serial_bus_cfg, parity),
     .def = "even",
     .choices = parity_names,
     .doc = "none, even or odd (Modbus's default is even)"},
    {.key = "data_bits",
     .type = CFG_INT,
     .offset = offsetof(struct serial_bus_cfg, data_bits),
     .flags = CFG_RANGE,
     .min = 7,
     .max = 8,
     .def = "8",
     .doc = "7 or 8"},
    {.key = "stop_bits",
     .type = CFG_INT,
     .offset = offsetof(struct serial_bus_cfg, stop_bits),
     .def = "1",
     .valid = valid_stop_bits,
     .doc = "1 or 2"},
    {.key = "rts",
     .type = CFG_ENUM,
     .offset = offsetof(struct serial_bus_cfg, rts),
     .def = "none",
     .choices = rts_names,
     .doc = "RS-485 direction by RTS: none (the adapter switches), up or down while "
            "sending"},
    {.key = "rts_delay",
     .type = CFG_DURATION,
     .offset = offsetof(struct serial_bus_cfg, rts_delay_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 0.1,
     .def = "0",
     .doc = "hold RTS this long after the last byte"},
    {.key = "silent",
     .type = CFG_DURATION,
     .offset = offsetof(struct serial_bus_cfg, silent_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1,
     .def = "0",
     .doc = "silent interval between frames; 0: 3.5 characters (1.75 ms above 19200 "
            "baud)"},
    {.key = "timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct serial_bus_cfg, timeout_ns),
     .flags = CFG_RANGE,
     .min = 0.005,
     .max = 10,
     .def = "200ms",
     .doc = "response timeout of a device"},
    {.key = "devices",
     .type = CFG_LIST,
     .offset = offsetof(struct serial_bus_cfg, devices),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 31,
     .sub = &device_schema,
     .doc = "up to 31 devices (RS-485 unit loads)"},
    {0},
};

const struct cfg_schema serial_bus_schema = {
    .name = "a serial bus",
    .size = sizeof(struct serial_bus_cfg),
    .fields = bus_fields,
    .check = check_bus,
};

static const struct cfg_field peer_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct tcp_peer_cfg, name),
     .flags = CFG_REQUIRED,
     .valid = cfg_valid_name,
     .doc = "peer name"},
    {.key = "host",
     .type = CFG_STRING,
     .offset = offsetof(struct tcp_peer_cfg, host),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = 253,
     .doc = "host name or IP address"},
    {.key = "port",
     .type = CFG_INT,
     .offset = offsetof(struct tcp_peer_cfg, port),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 65535,
     .def = "502",
     .doc = "TCP port"},
    {.key = "timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct tcp_peer_cfg, timeout_ns),
     .flags = CFG_RANGE,
     .min = 0.005,
     .max = 30,
     .def = "500ms",
     .doc = "response timeout"},
    {.key = "warmup",
     .type = CFG_DURATION,
     .offset = offsetof(struct tcp_peer_cfg, warmup_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 10,
     .def = "0",
     .doc = "wait after connecting before the first request (peers that need it)"},
    {.key = "devices",
     .type = CFG_LIST,
     .offset = offsetof(struct tcp_peer_cfg, devices),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = 247,
     .sub = &device_schema,
     .doc = "unit ids served at this address"},
    {0},
};

const struct cfg_schema tcp_peer_schema = {
    .name = "a TCP peer",
    .size = sizeof(struct tcp_peer_cfg),
    .fields = peer_fields,
    .check = check_peer,
};
