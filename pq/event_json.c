/* event_json.c - JSON of an event record. */
#include "pq/event_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pq/curves.h"
#include "pq/direction.h"
#include "pq/record.h"

/* A number, or null when it does not apply (NaN). */
static int num(char *buf, size_t cap, double v, int decimals)
{
    return isfinite(v) ? snprintf(buf, cap, "%.*f", decimals, v)
                       : snprintf(buf, cap, "null");
}

size_t pq_event_json(char *buf, size_t cap, const struct pq_event *ev, int delta)
{
    static const char *const ph[2][3] = {{"A", "B", "C"}, {"AB", "BC", "CA"}};
    char start[32], end[32], phases[32] = "", rv[32], rp[32], mv[32], mp[32], du[32],
                             dss[32];
    size_t n = 0;
    int len;

    pq_time_iso(start, sizeof(start), ev->start_ns);
    pq_time_iso(end, sizeof(end), ev->end_ns);
    for (int k = 0; k < 3; k++) {
        if (ev->phases & (1u << k)) {
            n += (size_t) snprintf(phases + n, sizeof(phases) - n, "%s\"%s\"",
                                   n ? "," : "", ph[delta != 0][k]);
        }
    }
    num(rv, sizeof(rv), ev->residual_v, 3);
    num(rp, sizeof(rp), ev->residual_pct, 3);
    num(mv, sizeof(mv), ev->max_v, 3);
    num(mp, sizeof(mp), ev->max_pct, 3);
    num(du, sizeof(du), ev->rvc_du_max_v, 3);
    num(dss, sizeof(dss), ev->rvc_du_ss_v, 3);
    len = snprintf(
        buf, cap,
        "{\"type\":\"event\",\"kind\":\"%s\",\"start\":\"%s\",\"duration_s\":%.4f,"
        "\"phases\":[%s],\"residual_v\":%s,\"residual_pct\":%s,\"max_v\":%s,"
        "\"max_pct\":%s,\"itic\":\"%s\",\"semi_f47\":\"%s\",\"direction\":\"%s\","
        "\"confidence\":%.2f,\"end\":\"%s\",\"en50160\":\"%s\","
        "\"rvc_du_max_v\":%s,\"rvc_du_ss_v\":%s,\"unfinished\":%s}",
        pq_event_kind_name(ev->kind), start, ev->duration_s, phases, rv, rp, mv, mp,
        pq_itic_name(ev->itic), pq_semi_name(ev->semi_f47),
        pq_direction_name(ev->direction), ev->confidence, end, ev->en50160, du, dss,
        (ev->flags & PQ_EVF_UNFINISHED) ? "true" : "false");
    return len < 0 ? 0 : (size_t) len;
}

/* Append to buf within cap; the length needed grows regardless. */
static void add(char *buf, size_t cap, size_t *len, int decimals, double v)
{
    char tmp[48];
    int n = isfinite(v) ? snprintf(tmp, sizeof(tmp), "%.*f", decimals, v)
                        : snprintf(tmp, sizeof(tmp), "null");

    if (n > 0 && *len + (size_t) n < cap) {
        memcpy(buf + *len, tmp, (size_t) n + 1);
    }
    *len += n > 0 ? (size_t) n : 0;
}

static void add_s(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n < cap) {
        memcpy(buf + *len, s, n + 1);
    }
    *len += n;
}

static void series(char *buf, size_t cap, size_t *len, const char *key, const double *v,
                   size_t n, size_t stride, size_t rows)
{
    add_s(buf, cap, len, ",\"");
    add_s(buf, cap, len, key);
    add_s(buf, cap, len, "\":[");
    for (size_t r = 0; r < rows; r++) {
        add_s(buf, cap, len, r ? ",[" : "[");
        for (size_t k = 0; k < n; k++) {
            if (k) {
                add_s(buf, cap, len, ",");
            }
            add(buf, cap, len, 3, v[k * stride + r]);
        }
        add_s(buf, cap, len, "]");
    }
    add_s(buf, cap, len, "]");
}

size_t pq_burst_json(char *buf, size_t cap, const struct pq_burst *b)
{
    char t[32];
    size_t len = 0;
    size_t nph = b->nph == 1 ? 1 : 3;

    if (cap) {
        buf[0] = '\0';
    }
    pq_time_iso(t, sizeof(t), b->event_start_ns);
    add_s(buf, cap, &len, "{\"type\":\"rms_burst\",\"kind\":\"");
    if (b->kind == PQ_BURST_REQUESTED) {
        add_s(buf, cap, &len, "request\",\"tag\":");
        add(buf, cap, &len, 0, (double) b->tag);
        add_s(buf, cap, &len, ",\"event_start\":\"");
    } else {
        add_s(buf, cap, &len, pq_event_kind_name(b->kind));
        add_s(buf, cap, &len, "\",\"event_start\":\"");
    }
    add_s(buf, cap, &len, t);
    add_s(buf, cap, &len, "\",\"t_s\":[");
    for (size_t k = 0; k < b->n; k++) {
        if (k) {
            add_s(buf, cap, &len, ",");
        }
        add(buf, cap, &len, 4, (double) (b->t_ns[k] - b->event_start_ns) / 1e9);
    }
    add_s(buf, cap, &len, "]");
    series(buf, cap, &len, "u_rms_v", b->u_rms, b->n, 3, nph);
    if (nph == 3) {
        series(buf, cap, &len, "u_ll_rms_v", b->u_ll_rms, b->n, 3, 3);
    }
    series(buf, cap, &len, "i_rms_a", b->i_rms, b->n, 4, nph == 3 ? 4 : 1);
    add_s(buf, cap, &len, "}");
    return len;
}
