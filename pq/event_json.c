/* event_json.c - JSON of an event record. */
#include "pq/event_json.h"

#include <math.h>
#include <stdio.h>

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
