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

static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int set_time(json_t *o, const char *key, int64_t t_ns)
{
    char t[32];

    mqtt_payload_time(t, sizeof(t), t_ns);
    return json_object_set_new(o, key, json_string(t));
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

/* ---- channel name -> record field ------------------------------------------------ */

static const struct {
    const char *suffix;
} unit_suffixes[] = {{"_var"}, {"_va"}, {"_hz"}, {"_v"}, {"_w"}, {"_a"}};

/* The channel base of a field, as gateway/metrology.c names it: the unit
 * suffix dropped ("u_rms_v" -> "u_rms"), "_pct" and "_deg" names whole. */
static void field_base(const char *json, char *base, size_t cap)
{
    size_t len = strlen(json);

    snprintf(base, cap, "%s", json);
    if (strstr(json, "_pct") || strstr(json, "_deg")) {
        return;
    }
    for (size_t i = 0; i < sizeof(unit_suffixes) / sizeof(unit_suffixes[0]); i++) {
        size_t sl = strlen(unit_suffixes[i].suffix);

        if (len > sl && strcmp(json + len - sl, unit_suffixes[i].suffix) == 0) {
            base[len - sl] = '\0';
            return;
        }
    }
}

/* Element index of label in field f, -1 if none. */
static int element_of(const struct pq_field *f, const char *label)
{
    static const char *const ph[] = {"a", "b", "c", "n"};
    static const char *const ll[] = {"ab", "bc", "ca"};
    int ll_field = strncmp(f->json, "u_ll", 4) == 0;

    switch (f->shape) {
    case PQ_SHAPE_SCALAR:
        return *label ? -1 : 0;
    case PQ_SHAPE_PHASE:
        for (int i = 0; i < PQ_NPH; i++) {
            if (strcmp(label, ll_field ? ll[i] : ph[i]) == 0) {
                return i;
            }
        }
        return -1;
    case PQ_SHAPE_PHASE_N:
        for (int i = 0; i <= PQ_NPH; i++) {
            if (strcmp(label, ph[i]) == 0) {
                return i;
            }
        }
        return -1;
    case PQ_SHAPE_POWER:
        if (strcmp(label, "total") == 0) {
            return PQ_NPH;
        }
        for (int i = 0; i < PQ_NPH; i++) {
            if (strcmp(label, ph[i]) == 0) {
                return i;
            }
        }
        return -1;
    default:
        return -1; /* harmonic arrays are not in the aggregates */
    }
}

int mqtt_payload_field_index(const char *rest, size_t *index)
{
    const char *slash = strchr(rest, '/');
    size_t blen = slash ? (size_t) (slash - rest) : strlen(rest);
    const char *label = slash ? slash + 1 : "";

    for (size_t fi = 0; fi < pq_nfields; fi++) {
        const struct pq_field *f = &pq_fields[fi];
        char base[48];
        int e;

        if (!f->json) {
            continue;
        }
        field_base(f->json, base, sizeof(base));
        if (strlen(base) != blen || strncmp(base, rest, blen) != 0) {
            continue;
        }
        e = element_of(f, label);
        if (e < 0) {
            return -PQ_ENOTFOUND;
        }
        *index = pq_value_index(f, (size_t) e);
        return 0;
    }
    return -PQ_ENOTFOUND;
}

/* The field f as an array (or a number for a scalar) of the values
 * present; NULL when none is. */
static json_t *field_value(const struct pq_field *f, const double *vals,
                           const unsigned char *have)
{
    size_t len = pq_field_len(f), last = 0, any = 0;
    json_t *a;

    if (f->shape == PQ_SHAPE_HARMONICS) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (have[pq_value_index(f, i)]) {
            any = 1;
            last = i;
        }
    }
    if (!any) {
        return NULL;
    }
    if (f->shape == PQ_SHAPE_SCALAR) {
        return number(vals[pq_value_index(f, 0)]);
    }
    a = json_array();
    for (size_t i = 0; a && i <= last; i++) {
        size_t k = pq_value_index(f, i);

        if (json_array_append_new(a, have[k] ? number(vals[k]) : json_null()) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

size_t mqtt_payload_interval(char *buf, size_t cap, const char *gateway,
                             const char *device, uint64_t seq, int64_t t_ns,
                             const char *agg, int64_t agg_ns, int64_t end_ns, int flagged,
                             const double *vals, const unsigned char *have)
{
    json_t *o = head(gateway, seq, t_ns, "interval");

    if (!o || json_object_set_new(o, "agg", json_string(agg)) < 0 ||
        json_object_set_new(o, "device", json_string(device)) < 0 ||
        set_time(o, "start", end_ns - agg_ns) < 0 || set_time(o, "end", end_ns) < 0 ||
        json_object_set_new(o, "flagged", json_boolean(flagged)) < 0) {
        json_decref(o);
        return 0;
    }
    for (size_t fi = 0; fi < pq_nfields; fi++) {
        const struct pq_field *f = &pq_fields[fi];
        json_t *v;

        if (!f->json) {
            continue;
        }
        v = field_value(f, vals, have);
        if (v && json_object_set_new(o, f->json, v) < 0) {
            json_decref(o);
            return 0;
        }
    }
    return dump(o, buf, cap);
}

size_t mqtt_payload_event(char *buf, size_t cap, const char *gateway, uint64_t seq,
                          int64_t t_ns, const char *kind, int64_t start_ns, double value)
{
    json_t *o = head(gateway, seq, t_ns, "event");
    const char *what = strstr(kind, "swell")      ? "max_pct"
                       : strcmp(kind, "rvc") == 0 ? "du_max_pct"
                                                  : "residual_pct";

    if (!o || json_object_set_new(o, "device", json_string("local")) < 0 ||
        json_object_set_new(o, "kind", json_string(kind)) < 0 ||
        set_time(o, "start", start_ns) < 0 ||
        json_object_set_new(o, what, number(value)) < 0) {
        json_decref(o);
        return 0;
    }
    return dump(o, buf, cap);
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
