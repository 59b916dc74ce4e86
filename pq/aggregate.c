/* aggregate.c - IEC 61000-4-30 Ed.3 4.5 time aggregation, table-driven.
 *
 * Each basic record is first turned into a vector of terms, x[], by walking
 * pq_fields[]: x for PQ_F_MEAN, x^2 for PQ_F_RMS, the phasor (m cos a,
 * m sin a) for PQ_F_ANGLE; PQ_F_DERIVED fields take no room.  An accumulator
 * is the running sum of such vectors, so adding a record to every active
 * accumulator is a plain vector add, and the trigonometry runs once per
 * record, not once per accumulator.
 *
 * The 2-h accumulator adds the 10-min sums themselves, not the 10-min
 * results: its RMS, mean and phasor mean are over all of its basic values,
 * exactly as if accumulated directly (the count-weighted combination the
 * standard implies), with no sqrt/square round trip.  Sums of at most
 * 36000 terms in double stay within about 1e-12 relative.
 */
#include "pq/aggregate.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define DEG (3.14159265358979323846 / 180.0) /* radians per degree */

struct acc {
    int active;
    int count;         /* basic values */
    int n10;           /* 2 h: 10-min values merged */
    int nph;           /* largest of the inputs */
    int has_in;        /* OR of the inputs */
    unsigned flags;    /* OR of the inputs */
    int64_t start_ns;  /* 3 s: first start; 10 min, 2 h: the slot */
    int64_t end_ns;    /* 3 s: last end; 10 min, 2 h: the slot end */
    int64_t cover_ns;  /* 10 min: time covered by its basic values */
    int64_t cover_end; /* 10 min: end of the covered time so far */
    double *sum;       /* nsum terms */
};

struct pq_agg {
    double udin_v;
    size_t nsum;        /* terms per record (see the top comment) */
    int have_last;      /* a basic record was seen since new/flush */
    int64_t last_start; /* of the last basic record */
    int64_t last_end;
    struct acc s3[2];       /* 3 s: two overlap after a resync */
    struct acc m10;         /* 10 min */
    struct acc h2;          /* 2 h */
    double *x;              /* terms of the record being added */
    struct pq_interval out; /* the record being emitted */
    double mem[];           /* x and the four sums, 5 * nsum */
};

static const double *field_src(const struct pq_interval *r, size_t offset)
{
    return (const double *) (const void *) ((const char *) r + offset);
}

static double *field_dst(struct pq_interval *r, size_t offset)
{
    return (double *) (void *) ((char *) r + offset);
}

static size_t field_terms(const struct pq_field *f)
{
    switch (f->agg) {
    case PQ_F_RMS:
    case PQ_F_MEAN:
        return pq_field_len(f);
    case PQ_F_ANGLE:
        return 2 * pq_field_len(f);
    default: /* PQ_F_DERIVED */
        return 0;
    }
}

/* Floor of t to a multiple of step, also for t < 0. */
static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;

    if (t % step < 0) {
        q--;
    }
    return q * step;
}

/* Our own table must be consistent: an angle's magnitude field exists and
 * has the angle's length. */
static int pair_ok(const struct pq_field *f)
{
    for (size_t i = 0; i < pq_nfields; i++) {
        if (pq_fields[i].offset == f->pair) {
            return pq_field_len(&pq_fields[i]) == pq_field_len(f);
        }
    }
    return 0;
}

int pq_agg_new(int ncycles, double udin_v, struct pq_agg **out)
{
    struct pq_agg *a;
    size_t nsum = 0;

    if ((ncycles != 10 && ncycles != 12) || !isfinite(udin_v) || udin_v < 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < pq_nfields; i++) {
        assert(pq_fields[i].agg != PQ_F_ANGLE || pair_ok(&pq_fields[i]));
        nsum += field_terms(&pq_fields[i]);
    }
    a = calloc(1, sizeof(*a) + 5 * nsum * sizeof(double));
    if (!a) {
        return -ENOMEM;
    }
    a->udin_v = udin_v;
    a->nsum = nsum;
    a->x = a->mem;
    a->s3[0].sum = a->mem + nsum;
    a->s3[1].sum = a->mem + 2 * nsum;
    a->m10.sum = a->mem + 3 * nsum;
    a->h2.sum = a->mem + 4 * nsum;
    *out = a;
    return 0;
}

void pq_agg_free(struct pq_agg *a)
{
    free(a);
}

/* Phasors m e^{j deg}, as (re, im) pairs. */
static void phasor_terms(double *x, const double *deg, const double *m, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        double rad = deg[k] * DEG;

        x[2 * k] = 0.0;
        x[2 * k + 1] = 0.0;
        if (m[k] != 0) { /* a zero magnitude adds nothing, whatever its angle */
            x[2 * k] = m[k] * cos(rad);
            x[2 * k + 1] = m[k] * sin(rad);
        }
    }
}

/* x[] = the terms of r, in pq_fields[] order. */
static void terms(double *x, const struct pq_interval *r)
{
    for (size_t i = 0; i < pq_nfields; i++) {
        const struct pq_field *f = &pq_fields[i];
        const double *v = field_src(r, f->offset);
        size_t n = pq_field_len(f);

        switch (f->agg) {
        case PQ_F_RMS: /* 5.2, 5.7, 5.8, Annex D: sqrt(mean(x^2)) */
            for (size_t k = 0; k < n; k++) {
                x[k] = v[k] * v[k];
            }
            break;
        case PQ_F_MEAN:
            memcpy(x, v, n * sizeof(*x));
            break;
        case PQ_F_ANGLE:
            phasor_terms(x, v, field_src(r, f->pair), n);
            break;
        default:
            continue; /* PQ_F_DERIVED: no terms */
        }
        x += field_terms(f);
    }
}

static void sum_into(double *restrict dst, const double *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] += src[i];
    }
}

/* Start an accumulator at [start_ns, end_ns). */
static void acc_start(struct acc *c, size_t nsum, int64_t start_ns, int64_t end_ns)
{
    c->active = 1;
    c->count = 0;
    c->n10 = 0;
    c->nph = 0;
    c->has_in = 0;
    c->flags = 0;
    c->start_ns = start_ns;
    c->end_ns = end_ns;
    c->cover_ns = 0;
    c->cover_end = start_ns;
    memset(c->sum, 0, nsum * sizeof(*c->sum));
}

/* IEC 61000-4-30 4.7: an aggregate holding a flagged value is flagged;
 * the other flags (unsynchronised clock, partial) propagate the same way. */
static void acc_meta(struct acc *c, int count, int nph, int has_in, unsigned flags)
{
    c->count += count;
    if (nph > c->nph) {
        c->nph = nph;
    }
    c->has_in |= has_in != 0;
    c->flags |= flags;
}

/* Fill a->out from c: the mean of each field's terms (IEC 61000-4-30 5.x:
 * RMS for magnitudes, arithmetic mean for powers, mean phasor for angles),
 * then the derived fields.  c->count > 0. */
static void acc_result(struct pq_agg *a, const struct acc *c, int level, unsigned flags)
{
    struct pq_interval *r = &a->out;
    const double *s = c->sum;
    double n = c->count;

    memset(r, 0, sizeof(*r));
    r->start_ns = c->start_ns;
    r->end_ns = c->end_ns;
    r->agg = level;
    r->flags = flags;
    r->nph = c->nph;
    r->has_in = c->has_in;
    r->count = c->count;
    for (size_t i = 0; i < pq_nfields; i++) {
        const struct pq_field *f = &pq_fields[i];
        double *v = field_dst(r, f->offset);
        size_t len = pq_field_len(f);

        switch (f->agg) {
        case PQ_F_RMS:
            for (size_t k = 0; k < len; k++) {
                v[k] = sqrt(s[k] / n);
            }
            break;
        case PQ_F_MEAN:
            for (size_t k = 0; k < len; k++) {
                v[k] = s[k] / n;
            }
            break;
        case PQ_F_ANGLE:
            /* angle of the mean phasor, in (-180, 180]; 0 if it is zero */
            for (size_t k = 0; k < len; k++) {
                double deg = atan2(s[2 * k + 1], s[2 * k]) / DEG;

                v[k] = deg <= -180.0 ? deg + 360.0 : deg;
            }
            break;
        default:
            continue;
        }
        s += field_terms(f);
    }
    pq_interval_derive(r, a->udin_v);
}

static void emit_acc(struct pq_agg *a, struct acc *c, int level, unsigned flags,
                     pq_agg_emit_fn emit, void *ctx)
{
    c->active = 0;
    if (emit) {
        acc_result(a, c, level, flags);
        emit(ctx, &a->out);
    }
}

static void emit_3s(struct pq_agg *a, struct acc *c, pq_agg_emit_fn emit, void *ctx)
{
    unsigned partial = c->count < PQ_AGG_3S_N ? PQ_REC_PARTIAL : 0;

    emit_acc(a, c, PQ_AGG_3S, c->flags | partial, emit, ctx);
}

/* Emit the 2-h value in progress (IEC 61000-4-30 4.5: 12 10-min values). */
static void close_2h(struct pq_agg *a, pq_agg_emit_fn emit, void *ctx)
{
    struct acc *h = &a->h2;
    unsigned partial = h->n10 < PQ_AGG_2H_N ? PQ_REC_PARTIAL : 0;

    /* a partial 10-min value already set PQ_REC_PARTIAL in h->flags */
    emit_acc(a, h, PQ_AGG_2H, h->flags | partial, emit, ctx);
}

/* Emit the 10-min value in progress and merge it into its 2-h value.
 * pq_agg_add() closed any 2-h value of an earlier slot before this one
 * started, so the one in progress, if any, is this one's. */
static void close_10min(struct pq_agg *a, pq_agg_emit_fn emit, void *ctx)
{
    struct acc *m = &a->m10;
    struct acc *h = &a->h2;
    int64_t h_start = floor_to(m->start_ns, PQ_AGG_2H_NS);
    unsigned flags = m->flags;

    if (m->cover_ns < PQ_AGG_10MIN_NS - PQ_AGG_SLACK_NS) {
        flags |= PQ_REC_PARTIAL;
    }
    emit_acc(a, m, PQ_AGG_10MIN, flags, emit, ctx);

    if (!h->active) {
        acc_start(h, a->nsum, h_start, h_start + PQ_AGG_2H_NS);
    }
    assert(h->start_ns == h_start);
    sum_into(h->sum, m->sum, a->nsum);
    acc_meta(h, m->count, m->nph, m->has_in, flags);
    h->n10++;
}

/* The two 3-s accumulators, older series first. */
static void order_3s(struct acc *s, struct acc *o[2])
{
    int swap = s[1].active && (!s[0].active || s[1].start_ns < s[0].start_ns);

    o[0] = &s[swap];
    o[1] = &s[!swap];
}

/* Emit the 3-s values in progress, older first: cut short, so partial. */
static void close_3s(struct pq_agg *a, pq_agg_emit_fn emit, void *ctx)
{
    struct acc *o[2];

    order_3s(a->s3, o);
    for (int i = 0; i < 2; i++) {
        if (o[i]->active) {
            emit_3s(a, o[i], emit, ctx);
        }
    }
}

void pq_agg_flush(struct pq_agg *a, pq_agg_emit_fn emit, void *ctx)
{
    close_3s(a, emit, ctx);
    if (a->m10.active) {
        close_10min(a, emit, ctx);
    }
    if (a->h2.active) {
        close_2h(a, emit, ctx);
    }
    a->have_last = 0;
}

/* 150/180-cycle values (IEC 61000-4-30 4.5): 15 consecutive basic values.
 * A series starts with a resync or when none runs; the record goes to every
 * series in progress, so after a resync at a 10-min tick the older series
 * completes with the first values of the new one (the two overlap). */
static void add_3s(struct pq_agg *a, const struct pq_interval *b, int resync,
                   pq_agg_emit_fn emit, void *ctx)
{
    struct acc *o[2];

    order_3s(a->s3, o);
    if (resync || !o[0]->active) {
        /* a free accumulator; with both busy (a second resync within 15
         * values: time went oddly) the older series is cut short */
        struct acc *c = !o[0]->active ? o[0] : !o[1]->active ? o[1] : o[0];

        if (c->active) {
            emit_3s(a, c, emit, ctx);
        }
        acc_start(c, a->nsum, b->start_ns, b->end_ns);
        order_3s(a->s3, o);
    }
    for (int i = 0; i < 2; i++) {
        if (o[i]->active) {
            sum_into(o[i]->sum, a->x, a->nsum);
            acc_meta(o[i], 1, b->nph, b->has_in, b->flags);
            o[i]->end_ns = b->end_ns;
            if (o[i]->count == PQ_AGG_3S_N) {
                emit_3s(a, o[i], emit, ctx);
            }
        }
    }
}

/* 10-min values (IEC 61000-4-30 4.5): the slot is the one the record STARTS
 * in, so the basic interval running at a tick counts in the previous value.
 * The covered time decides PQ_REC_PARTIAL (aggregation by clock, not by
 * count: 3000 values only at exactly 50 Hz). */
static void add_10min(struct pq_agg *a, const struct pq_interval *b)
{
    struct acc *m = &a->m10;
    int64_t from;
    int64_t to;

    if (!m->active) {
        int64_t slot = floor_to(b->start_ns, PQ_AGG_10MIN_NS);

        acc_start(m, a->nsum, slot, slot + PQ_AGG_10MIN_NS);
    }
    sum_into(m->sum, a->x, a->nsum);
    acc_meta(m, 1, b->nph, b->has_in, b->flags);
    /* covered time: the union of the basic intervals, clipped to the slot */
    from = b->start_ns > m->cover_end ? b->start_ns : m->cover_end;
    to = b->end_ns < m->end_ns ? b->end_ns : m->end_ns;
    if (to > from) {
        m->cover_ns += to - from;
        m->cover_end = to;
    }
}

void pq_agg_add(struct pq_agg *a, const struct pq_interval *basic, int resync,
                pq_agg_emit_fn emit, void *ctx)
{
    assert(basic->agg == PQ_AGG_200MS && basic->end_ns > basic->start_ns);
    if (a->have_last && basic->start_ns <= a->last_start) {
        pq_agg_flush(a, emit, ctx); /* time went back: start afresh */
    }
    if (a->have_last && basic->start_ns - a->last_end > PQ_AGG_GAP_NS) {
        /* a gap: the 3-s values in progress can no longer be consecutive */
        close_3s(a, emit, ctx);
    }
    if (a->m10.active && basic->start_ns >= a->m10.end_ns) {
        close_10min(a, emit, ctx); /* the first value of a later slot */
    }
    if (a->h2.active && basic->start_ns >= a->h2.end_ns) {
        close_2h(a, emit, ctx); /* its 12th 10-min value just closed, or a gap */
    }
    terms(a->x, basic);
    add_10min(a, basic);
    add_3s(a, basic, resync, emit, ctx);
    a->have_last = 1;
    a->last_start = basic->start_ns;
    a->last_end = basic->end_ns;
}
