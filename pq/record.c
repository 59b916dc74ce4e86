/* record.c - the field table of struct pq_interval. */
#include "pq/record.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pq/symcomp.h"

#define F(name, member, shape, agg, dec)                                       \
    {                                                                          \
        (name), offsetof(struct pq_interval, member), (shape), (agg), 0, (dec) \
    }
#define ANGLE(name, member, mag, dec)                                                 \
    {                                                                                 \
        (name), offsetof(struct pq_interval, member), PQ_SHAPE_HARMONICS, PQ_F_ANGLE, \
            offsetof(struct pq_interval, mag), (dec)                                  \
    }

/* IEC 61000-4-30 Ed.3 5.x aggregation: magnitudes (voltage 5.2, harmonics
 * 5.8, unbalance 5.7, Annex D deviations) as the square root of the mean of
 * the squares; frequency and powers as the arithmetic mean (energy over the
 * interval divided by its length); angles as the angle of the mean phasor.
 * Order = order of the keys in the JSON record (DESIGN.md contract first). */
const struct pq_field pq_fields[] = {
    F("freq_hz", freq_hz, PQ_SHAPE_SCALAR, PQ_F_MEAN, 4),
    F("u_rms_v", u_rms_v, PQ_SHAPE_PHASE, PQ_F_RMS, 3),
    F("u_ll_rms_v", u_ll_rms_v, PQ_SHAPE_PHASE, PQ_F_RMS, 3),
    F("i_rms_a", i_rms_a, PQ_SHAPE_PHASE_N, PQ_F_RMS, 4),
    F("p_w", p_w, PQ_SHAPE_POWER, PQ_F_MEAN, 2),
    F("q_var", q_var, PQ_SHAPE_POWER, PQ_F_MEAN, 2),
    F("s_va", s_va, PQ_SHAPE_POWER, PQ_F_MEAN, 2),
    F("pf", pf, PQ_SHAPE_POWER, PQ_F_DERIVED, 4),
    F("u_thd_pct", u_thd_pct, PQ_SHAPE_PHASE, PQ_F_RMS, 3),
    F("i_thd_pct", i_thd_pct, PQ_SHAPE_PHASE, PQ_F_RMS, 3),
    F("u_h_v", u_h_v, PQ_SHAPE_HARMONICS, PQ_F_RMS, 3),
    F("u_h_pct", u_h_pct, PQ_SHAPE_HARMONICS, PQ_F_DERIVED, 3),
    ANGLE("u_h_deg", u_h_deg, u_h_v, 2),
    F("i_h_a", i_h_a, PQ_SHAPE_HARMONICS, PQ_F_RMS, 4),
    F("u_ih_v", u_ih_v, PQ_SHAPE_HARMONICS, PQ_F_RMS, 3),
    F("u_unb_neg_pct", u_unb_neg_pct, PQ_SHAPE_SCALAR, PQ_F_RMS, 3),
    F("u_unb_zero_pct", u_unb_zero_pct, PQ_SHAPE_SCALAR, PQ_F_RMS, 3),
    F("i_unb_neg_pct", i_unb_neg_pct, PQ_SHAPE_SCALAR, PQ_F_RMS, 3),
    F("u_under_pct", u_under_pct, PQ_SHAPE_PHASE, PQ_F_DERIVED, 3),
    F("u_over_pct", u_over_pct, PQ_SHAPE_PHASE, PQ_F_DERIVED, 3),
    /* beyond the contract's list: more of what the engine measures */
    F("dpf", dpf, PQ_SHAPE_POWER, PQ_F_MEAN, 4),
    F("s_vector_va", s_vector_va, PQ_SHAPE_SCALAR, PQ_F_DERIVED, 2),
    F("i_unb_zero_pct", i_unb_zero_pct, PQ_SHAPE_SCALAR, PQ_F_RMS, 3),
    F("u_unb_nema_pct", u_unb_nema_pct, PQ_SHAPE_SCALAR, PQ_F_RMS, 3),
    F("nema_derating", nema_derating, PQ_SHAPE_SCALAR, PQ_F_DERIVED, 3),
    F("i_tdd_pct", i_tdd_pct, PQ_SHAPE_PHASE, PQ_F_RMS, 3),
    F("i_k_factor", i_k_factor, PQ_SHAPE_PHASE, PQ_F_MEAN, 3),
    F("u_cf", u_cf, PQ_SHAPE_PHASE, PQ_F_MEAN, 4),
    F("i_cf", i_cf, PQ_SHAPE_PHASE, PQ_F_MEAN, 4),
    ANGLE("i_h_deg", i_h_deg, i_h_a, 2),
    /* internal: the Annex D inputs */
    F(NULL, u_under_v, PQ_SHAPE_PHASE, PQ_F_RMS, 3),
    F(NULL, u_over_v, PQ_SHAPE_PHASE, PQ_F_RMS, 3),
};

const size_t pq_nfields = sizeof(pq_fields) / sizeof(pq_fields[0]);

size_t pq_field_len(const struct pq_field *f)
{
    switch (f->shape) {
    case PQ_SHAPE_SCALAR:
        return 1;
    case PQ_SHAPE_PHASE:
        return PQ_NPH;
    case PQ_SHAPE_PHASE_N:
    case PQ_SHAPE_POWER:
        return PQ_NPH + 1;
    case PQ_SHAPE_HARMONICS:
        return (size_t) PQ_NPH * PQ_MAX_H;
    default:
        return 0;
    }
}

size_t pq_value_index(const struct pq_field *f, size_t i)
{
    return (f->offset - offsetof(struct pq_interval, freq_hz)) / sizeof(double) + i;
}

const char *pq_agg_name(int level)
{
    static const char *const names[PQ_AGG_COUNT] = {"200ms", "3s", "10min", "2h"};

    return level >= 0 && level < PQ_AGG_COUNT ? names[level] : "?";
}

void pq_interval_derive(struct pq_interval *r, double udin_v)
{
    for (int k = 0; k <= PQ_NPH; k++) {
        /* IEEE 1459-2010 3.1.2.x: PF = P/S; its sign is the sign of P, the
         * IEC convention (negative when active power is received). */
        r->pf[k] = r->s_va[k] > 0 ? r->p_w[k] / r->s_va[k] : 0.0;
    }
    r->s_vector_va = hypot(r->p_w[PQ_NPH], r->q_var[PQ_NPH]);
    /* NEMA MG-1 derating of the (aggregated) unbalance; NaN above 5 % */
    {
        double d = r->nph == PQ_NPH ? pq_nema_derating(r->u_unb_nema_pct) : 1.0;

        r->nema_derating = d < 0 ? NAN : d;
    }
    for (int ph = 0; ph < PQ_NPH; ph++) {
        double h1 = r->u_h_v[ph][0];

        for (int h = 0; h < PQ_MAX_H; h++) {
            r->u_h_pct[ph][h] = h1 > 0 ? 100.0 * r->u_h_v[ph][h] / h1 : 0.0;
        }
        /* IEC 61000-4-30 Annex D: U_under = (Udin - sqrt(mean(min(U,Udin)^2)))
         * / Udin, U_over = (sqrt(mean(max(U,Udin)^2)) - Udin) / Udin, in %. */
        r->u_under_pct[ph] =
            udin_v > 0 ? 100.0 * (udin_v - r->u_under_v[ph]) / udin_v : 0.0;
        r->u_over_pct[ph] =
            udin_v > 0 ? 100.0 * (r->u_over_v[ph] - udin_v) / udin_v : 0.0;
    }
}

/* ---- JSON ------------------------------------------------------------------ */

struct out {
    char *buf;
    size_t cap;
    size_t len; /* needed so far; may exceed cap */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len - 1;

        memcpy(o->buf + o->len, s, n < room ? n : room);
        o->buf[o->len + (n < room ? n : room)] = '\0';
    }
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct out *o, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(o, tmp, n < 0 ? 0 : (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

static void put_num(struct out *o, double v, int decimals)
{
    char tmp[48];
    int n;

    if (!isfinite(v)) {
        puts_(o, "null");
        return;
    }
    n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, v);
    if (n > 0 && (size_t) n < sizeof(tmp)) {
        /* "-0.000" is zero */
        if (strspn(tmp, "-0.") == (size_t) n) {
            puts_(o, "0");
            return;
        }
        /* trim trailing zeros of the fraction: 230.000 -> 230 */
        if (strchr(tmp, '.')) {
            while (n > 0 && tmp[n - 1] == '0') {
                n--;
            }
            if (n > 0 && tmp[n - 1] == '.') {
                n--;
            }
        }
        put(o, tmp, (size_t) n);
    }
}

static void put_array(struct out *o, const double *v, size_t n, int decimals)
{
    puts_(o, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) {
            puts_(o, ",");
        }
        put_num(o, v[i], decimals);
    }
    puts_(o, "]");
}

void pq_time_iso(char *buf, size_t cap, int64_t t_ns)
{
    int64_t ms = t_ns >= 0 ? t_ns / 1000000 : -((-t_ns + 999999) / 1000000);
    time_t sec = (time_t) (ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    int msec = (int) (ms - (int64_t) sec * 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&sec, &tm);
    n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n > 0 && n < cap) {
        snprintf(buf + n, cap - n, ".%03dZ", msec);
    }
}

size_t pq_interval_json(char *buf, size_t cap, const struct pq_interval *r)
{
    struct out o = {buf, cap, 0};
    char t[32];
    int nph = r->nph == 1 ? 1 : PQ_NPH;

    if (cap) {
        buf[0] = '\0';
    }
    puts_(&o, "{\"type\":\"interval\",\"agg\":\"");
    puts_(&o, pq_agg_name(r->agg));
    pq_time_iso(t, sizeof(t), r->start_ns);
    putf(&o, "\",\"start\":\"%s\"", t);
    pq_time_iso(t, sizeof(t), r->end_ns);
    putf(&o, ",\"end\":\"%s\",\"flagged\":%s", t,
         (r->flags & PQ_REC_FLAGGED) ? "true" : "false");
    if (r->flags & PQ_REC_PARTIAL) {
        puts_(&o, ",\"partial\":true");
    }
    if (r->agg != PQ_AGG_200MS) {
        putf(&o, ",\"count\":%d", r->count);
    }
    for (size_t i = 0; i < pq_nfields; i++) {
        const struct pq_field *f = &pq_fields[i];
        const double *v = (const double *) (const void *) ((const char *) r + f->offset);

        if (!f->json) {
            continue;
        }
        putf(&o, ",\"%s\":", f->json);
        switch (f->shape) {
        case PQ_SHAPE_SCALAR:
            put_num(&o, *v, f->decimals);
            break;
        case PQ_SHAPE_PHASE:
            put_array(&o, v, (size_t) nph, f->decimals);
            break;
        case PQ_SHAPE_PHASE_N:
            if (r->has_in && nph == PQ_NPH) {
                put_array(&o, v, PQ_NPH + 1, f->decimals);
            } else {
                put_array(&o, v, (size_t) nph, f->decimals);
            }
            break;
        case PQ_SHAPE_POWER: {
            /* phases then the total (stored at index PQ_NPH) */
            double p[PQ_NPH + 1];

            memcpy(p, v, (size_t) nph * sizeof(double));
            p[nph] = v[PQ_NPH];
            put_array(&o, p, (size_t) nph + 1, f->decimals);
            break;
        }
        case PQ_SHAPE_HARMONICS:
            puts_(&o, "[");
            for (int ph = 0; ph < nph; ph++) {
                if (ph) {
                    puts_(&o, ",");
                }
                put_array(&o, v + (size_t) ph * PQ_MAX_H, PQ_MAX_H, f->decimals);
            }
            puts_(&o, "]");
            break;
        default:
            break;
        }
    }
    puts_(&o, "}");
    return o.len;
}
