/* mqtt_payload.c - JSON payloads of the MQTT forwarder.
 *
 * Numbers: values are written with 10 significant digits ("%.10g"): more
 * than any measured quantity carries (IEC 61000-4-30 Class A asks 0.1 % of
 * Udin), and an energy register of 10^6 kWh keeps its 0.1 Wh.  JSON (RFC
 * 8259 section 6) has no NaN or infinity: those are written as null.
 */
#include "gateway/mqtt_payload.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "pq/err.h"
#include "pq/record.h"

#define NUM_FMT    "%.10g"
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

void mqtt_payload_time(char *buf, size_t cap, int64_t t_ns)
{
    pq_time_iso(buf, cap, t_ns);
}

/* ---- messages of values: written in place ------------------------------------ */

/* RFC 8259 section 7: '"', '\\' and control characters are escaped. */
static size_t escaped(char *dst, size_t cap, const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        char tmp[8];
        size_t k;

        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char) c;
            k = 2;
        } else if (c < 0x20) {
            k = (size_t) snprintf(tmp, sizeof(tmp), "\\u%04x", c);
        } else {
            tmp[0] = (char) c;
            k = 1;
        }
        if (n + k < cap) {
            memcpy(dst + n, tmp, k);
        }
        n += k;
    }
    if (cap) {
        dst[n < cap ? n : cap - 1] = '\0';
    }
    return n;
}

int mqtt_values_begin(struct mqtt_values *m, char *buf, size_t cap, const char *gateway,
                      uint64_t seq, int64_t t_ns)
{
    char t[32];
    int n;

    if (cap < MQTT_VALUES_MIN_CAP || strlen(gateway) > 64) {
        return -EINVAL;
    }
    mqtt_payload_time(t, sizeof(t), t_ns);
    n = snprintf(buf, cap, "{\"gateway\":\"%s\",\"seq\":%llu,\"t\":\"%s\",\"values\":[",
                 gateway, (unsigned long long) seq, t);
    m->buf = buf;
    m->cap = cap;
    m->len = (size_t) n;
    m->n = 0;
    return 0;
}

int mqtt_values_add(struct mqtt_values *m, const char *channel, double value,
                    const char *unit, int64_t t_ns, uint32_t quality)
{
    char t[32], num[32], u[64];
    size_t room = m->cap - m->len;
    int n;

    mqtt_payload_time(t, sizeof(t), t_ns);
    if (isfinite(value)) {
        snprintf(num, sizeof(num), NUM_FMT, value);
    } else {
        snprintf(num, sizeof(num), "null");
    }
    if (escaped(u, sizeof(u), unit ? unit : "") >= sizeof(u)) {
        u[0] = '\0'; /* bus units are < 16 bytes: cannot happen */
    }
    n = snprintf(m->buf + m->len, room,
                 "%s{\"channel\":\"%s\",\"value\":%s,\"unit\":\"%s\",\"t\":\"%s\","
                 "\"quality\":%u}",
                 m->n ? "," : "", channel, num, u, t, (unsigned) quality);
    /* keep 3 bytes for "]}" and the NUL */
    if (n < 0 || (size_t) n + 3 > room) {
        m->buf[m->len] = '\0';
        return -PQ_EFULL;
    }
    m->len += (size_t) n;
    m->n++;
    return 0;
}

size_t mqtt_values_end(struct mqtt_values *m)
{
    memcpy(m->buf + m->len, "]}", 3);
    m->len += 2;
    return m->len;
}

/* ---- records (jansson) ------------------------------------------------------------ */

static json_t *head(const char *gateway, uint64_t seq, int64_t t_ns, const char *type)
{
    char t[32];
    json_t *o = json_object();

    if (!o) {
        return NULL;
    }
    mqtt_payload_time(t, sizeof(t), t_ns);
    if (json_object_set_new(o, "gateway", json_string(gateway)) < 0 ||
        json_object_set_new(o, "seq", json_integer((json_int_t) seq)) < 0 ||
        json_object_set_new(o, "t", json_string(t)) < 0 ||
        json_object_set_new(o, "type", json_string(type)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Dump o (consumed) into buf; the length needed, 0 on failure. */
static size_t dump(json_t *o, char *buf, size_t cap)
{
    size_t n;

    if (!o) {
        return 0;
    }
    n = json_dumpb(o, buf, cap ? cap - 1 : 0, DUMP_FLAGS);
    if (n > 0 && n < cap) {
        buf[n] = '\0';
    } else if (cap) {
        buf[0] = '\0';
    }
    json_decref(o);
    return n;
}

size_t mqtt_payload_object(char *buf, size_t cap, const char *gateway, uint64_t seq,
                           int64_t t_ns, const char *type, struct json_t *extra)
{
    json_t *o = head(gateway, seq, t_ns, type);

    if (o && extra && json_object_update(o, extra) < 0) {
        json_decref(o);
        return 0;
    }
    return dump(o, buf, cap);
}

/* ---- records of the analysis contract: spliced ------------------------------------ */

int mqtt_payload_record_check(const char *rec, size_t len, char *agg, size_t agg_cap)
{
    static const char *const head_keys[] = {"gateway", "seq", "t", "device"};
    json_error_t err;
    json_t *o = json_loadb(rec, len, JSON_REJECT_DUPLICATES, &err);
    const char *a;
    int rc = 0;

    if (!json_is_object(o)) {
        json_decref(o);
        return -PQ_EFORMAT;
    }
    for (size_t i = 0; i < sizeof(head_keys) / sizeof(head_keys[0]); i++) {
        if (json_object_get(o, head_keys[i])) {
            rc = -PQ_EFORMAT;
        }
    }
    a = json_string_value(json_object_get(o, "agg"));
    if (agg_cap > 0) {
        snprintf(agg, agg_cap, "%s", a ? a : "");
    }
    json_decref(o);
    return rc;
}

/* RFC 8259 section 2: insignificant whitespace. */
static int json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t mqtt_payload_record(char *buf, size_t cap, const char *gateway, const char *device,
                           uint64_t seq, int64_t t_ns, const char *rec, size_t len)
{
    char t[32], gw[160], dev[64], head[512];
    size_t i, body, hn;
    int n;

    if (cap) {
        buf[0] = '\0';
    }
    while (len > 0 && json_ws(*rec)) {
        rec++;
        len--;
    }
    if (len == 0 || rec[0] != '{' || escaped(gw, sizeof(gw), gateway) >= sizeof(gw) ||
        escaped(dev, sizeof(dev), device) >= sizeof(dev)) {
        return 0;
    }
    i = 1;
    while (i < len && json_ws(rec[i])) {
        i++;
    }
    mqtt_payload_time(t, sizeof(t), t_ns);
    /* the record's own keys follow the head: a comma unless it is "{}" */
    n = snprintf(head, sizeof(head),
                 "{\"gateway\":\"%s\",\"seq\":%llu,\"t\":\"%s\",\"device\":\"%s\"%s", gw,
                 (unsigned long long) seq, t, dev, i < len && rec[i] == '}' ? "" : ",");
    hn = (size_t) n;
    body = len - 1; /* all after the opening brace */
    if (hn + body < cap) {
        memcpy(buf, head, hn);
        memcpy(buf + hn, rec + 1, body);
        buf[hn + body] = '\0';
    }
    return hn + body;
}

size_t mqtt_payload_gap(char *buf, size_t cap, const char *gateway, uint64_t seq,
                        int64_t t_ns, uint64_t first, uint64_t last, uint64_t count,
                        const char *reason, const uint64_t (*ranges)[2], size_t nranges)
{
    json_t *o = head(gateway, seq, t_ns, "gap");
    json_t *r = json_array();

    for (size_t i = 0; r && i < nranges; i++) {
        if (json_array_append_new(r, json_pack("[I,I]", (json_int_t) ranges[i][0],
                                               (json_int_t) ranges[i][1])) < 0) {
            json_decref(r);
            r = NULL;
        }
    }
    if (!o || !r ||
        json_object_set_new(o, "first_seq", json_integer((json_int_t) first)) < 0 ||
        json_object_set_new(o, "last_seq", json_integer((json_int_t) last)) < 0 ||
        json_object_set_new(o, "count", json_integer((json_int_t) count)) < 0 ||
        json_object_set_new(o, "reason", json_string(reason)) < 0 ||
        json_object_set_new(o, "ranges", r) < 0) {
        json_decref(o);
        return 0;
    }
    return dump(o, buf, cap);
}
