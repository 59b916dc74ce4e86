/* cfg_mbserver.c - the `modbus_server:` section: the Modbus TCP server. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "pq/err.h"

/* One item "a.b.c.d" or "a.b.c.d/n" of length len. */
static int parse_cidr(const char *s, size_t len, struct cfg_cidr *out)
{
    char buf[32];
    char *slash, *end;
    struct in_addr a;
    long bits = 32;

    if (len == 0 || len >= sizeof(buf)) {
        return -PQ_ECONFIG;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        if (!isdigit((unsigned char) slash[1])) {
            return -PQ_ECONFIG;
        }
        bits = strtol(slash + 1, &end, 10);
        if (*end || bits < 0 || bits > 32) {
            return -PQ_ECONFIG;
        }
    }
    if (inet_pton(AF_INET, buf, &a) != 1) {
        return -PQ_ECONFIG;
    }
    out->mask = bits == 0 ? 0 : UINT32_MAX << (32 - bits);
    out->net = ntohl(a.s_addr) & out->mask;
    return 0;
}

int cfg_cidr_list(const char *s, struct cfg_cidr *out, size_t cap)
{
    size_t n = 0;

    if (!s) {
        return 0;
    }
    for (;;) {
        size_t len;
        struct cfg_cidr c;

        s += strspn(s, ", \t");
        if (!*s) {
            break;
        }
        len = strcspn(s, ", \t");
        if (parse_cidr(s, len, &c) < 0) {
            return -PQ_ECONFIG;
        }
        if (n < cap) {
            out[n] = c;
        }
        n++;
        s += len;
    }
    return (int) n;
}

static const char *valid_clients(const void *v)
{
    const char *s = *(char *const *) v;

    return cfg_cidr_list(s, NULL, 0) > 0
               ? NULL
               : "IPv4 addresses or prefixes, as in \"127.0.0.1, 10.0.0.0/8\"";
}

static const char *valid_bind(const void *v)
{
    const char *s = *(char *const *) v;
    struct in_addr a;

    return inet_pton(AF_INET, s, &a) == 1
               ? NULL
               : "an IPv4 address such as 0.0.0.0 or 127.0.0.1";
}

static const struct cfg_field write_fields[] = {
    {.key = "unit",
     .type = CFG_INT,
     .offset = offsetof(struct mbserver_write_cfg, unit),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = 255,
     .doc = "unit id of the downstream device the range belongs to"},
    {.key = "first",
     .type = CFG_INT,
     .offset = offsetof(struct mbserver_write_cfg, first),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 0,
     .max = 65535,
     .doc = "first writable address (0-based, holding registers and coils)"},
    {.key = "last",
     .type = CFG_INT,
     .offset = offsetof(struct mbserver_write_cfg, last),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 0,
     .max = 65535,
     .doc = "last writable address, inclusive"},
    {.key = "clients",
     .type = CFG_STRING,
     .offset = offsetof(struct mbserver_write_cfg, clients),
     .flags = CFG_REQUIRED,
     .valid = valid_clients,
     .doc = "client addresses allowed to write: \"127.0.0.1, 10.0.0.0/8\""},
    {0},
};

static void check_write(struct cfg_ctx *ctx, void *obj)
{
    struct mbserver_write_cfg *w = obj;

    if (w->last < w->first) {
        cfg_error_at(ctx, &w->last, "last (%d) is below first (%d)", w->last, w->first);
    }
}

static const struct cfg_schema write_schema = {
    .name = "a writable range",
    .size = sizeof(struct mbserver_write_cfg),
    .fields = write_fields,
    .check = check_write,
};

static const struct cfg_field gateway_fields[] = {
    {.key = "enabled",
     .type = CFG_BOOL,
     .offset = offsetof(struct mbserver_gateway_cfg, enabled),
     .def = "true",
     .doc = "forward requests for the fleet's unit ids to their bus"},
    {.key = "cache_max_age",
     .type = CFG_DURATION,
     .offset = offsetof(struct mbserver_gateway_cfg, cache_max_age_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 3600,
     .def = "0",
     .doc = "answer reads of registers the poller holds when fresher; 0: always ask"},
    {.key = "timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct mbserver_gateway_cfg, timeout_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 60,
     .def = "0",
     .doc = "response timeout of a forwarded request (then 0x0B); 0: the device's"},
    {0},
};

static const struct cfg_schema gw_schema = {
    .name = "modbus_server.gateway",
    .size = sizeof(struct mbserver_gateway_cfg),
    .fields = gateway_fields,
};

static void check_server(struct cfg_ctx *ctx, void *obj)
{
    struct mbserver_cfg *c = obj;

    for (size_t i = 0; i < c->writes.n; i++) {
        struct mbserver_write_cfg *w = CFG_AT(c->writes, struct mbserver_write_cfg, i);

        if (w->unit == c->unit_id) {
            cfg_error_at(ctx, &w->unit,
                         "unit %d is the gateway's own map, which is read-only", w->unit);
        }
    }
}

static const struct cfg_field server_fields[] = {
    {.key = "enabled",
     .type = CFG_BOOL,
     .offset = offsetof(struct mbserver_cfg, enabled),
     .def = "false",
     .doc = "serve Modbus TCP"},
    {.key = "bind",
     .type = CFG_STRING,
     .offset = offsetof(struct mbserver_cfg, bind),
     .def = "0.0.0.0",
     .valid = valid_bind,
     .doc = "IPv4 address to listen on"},
    {.key = "port",
     .type = CFG_INT,
     .offset = offsetof(struct mbserver_cfg, port),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 65535,
     .def = "502",
     .doc = "TCP port of the map and the gateway"},
    {.key = "unit_id",
     .type = CFG_INT,
     .offset = offsetof(struct mbserver_cfg, unit_id),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 255,
     .def = "255",
     .doc = "unit id of the gateway's own register map (0 reaches it too)"},
    {.key = "max_clients",
     .type = CFG_INT,
     .offset = offsetof(struct mbserver_cfg, max_clients),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 256,
     .def = "16",
     .doc = "TCP connections at once; more are refused"},
    {.key = "idle_timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct mbserver_cfg, idle_timeout_ns),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 86400,
     .def = "60s",
     .doc = "close a connection silent this long; 0: never"},
    {.key = "gateway",
     .type = CFG_STRUCT,
     .offset = offsetof(struct mbserver_cfg, gateway),
     .sub = &gw_schema,
     .doc = "the Ethernet-to-serial gateway path"},
    {.key = "writes",
     .type = CFG_LIST,
     .offset = offsetof(struct mbserver_cfg, writes),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 64,
     .sub = &write_schema,
     .doc = "writable ranges of downstream devices; none: read-only"},
    {0},
};

const struct cfg_schema mbserver_schema = {
    .name = "modbus_server",
    .size = sizeof(struct mbserver_cfg),
    .fields = server_fields,
    .check = check_server,
};
