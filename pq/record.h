/* record.h - the measurement records of the metrology engine.
 *
 * One struct, struct pq_interval, carries a basic 10/12-cycle interval and
 * every aggregate of it (150/180 cycles, 10 min, 2 h): the same shape is
 * what `pqgate analyze` prints, what the gateway publishes and what the
 * stores keep (DESIGN.md, "The analysis contract").
 *
 * pq_fields[] describes every numeric field once: its JSON name, shape, and
 * how it aggregates (IEC 61000-4-30 5.x: magnitudes as the RMS of the basic
 * values, powers as the mean, angles as the angle of the mean phasor).
 * Aggregation (pq/aggregate.c) and the JSON writer both walk this table, so a
 * new quantity is one struct member and one table row.
 *
 * Conventions: SI units; phases in order A, B, C (N last where it exists);
 * powers [a, b, c, total]; harmonic arrays [phase][h-1] for h = 1..63,
 * interharmonic arrays [phase][n] for the centred subgroup between h = n and
 * n+1 (n = 0..62); angles in degrees relative to the phase-A voltage
 * fundamental, in (-180, 180].
 */
#ifndef PQGATE_RECORD_H
#define PQGATE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define PQ_MAX_H 63 /* highest harmonic order evaluated */
#define PQ_NPH   3  /* phases */

enum pq_agg_level {
    PQ_AGG_200MS, /* basic 10/12-cycle interval */
    PQ_AGG_3S,    /* 150/180 cycles */
    PQ_AGG_10MIN,
    PQ_AGG_2H,
    PQ_AGG_COUNT,
};

/* Quality flags of a record. */
enum pq_rec_flag {
    PQ_REC_FLAGGED = 1u << 0, /* IEC 61000-4-30 4.7: overlaps a dip, swell or
                                 interruption (or contains a flagged value).
                                 One flag per record: it marks the current
                                 and power values too, which 4.7 does not
                                 require; consumers that want them unflagged
                                 take them from the record anyway. */
    PQ_REC_PARTIAL = 1u << 1, /* an aggregate missing some of its basic values
                                 (start or end of a recording, a gap) */
    PQ_REC_UNSYNC = 1u << 2,  /* time stamps from an unsynchronised clock */
};

struct pq_interval {
    int64_t start_ns; /* UTC, ns since the epoch */
    int64_t end_ns;
    int agg;        /* enum pq_agg_level */
    unsigned flags; /* enum pq_rec_flag */
    int nph;        /* 1 (single phase) or 3 */
    int has_in;     /* neutral current measured: i_rms_a has 4 entries */
    int count;      /* basic intervals aggregated (1 for a basic one) */

    double freq_hz;            /* mean of the interval: cycles / their duration */
    double u_rms_v[PQ_NPH];    /* L-N (delta: to the virtual star point) */
    double u_ll_rms_v[PQ_NPH]; /* AB, BC, CA */
    double i_rms_a[PQ_NPH + 1];
    /* IEEE 1459-2010: P active (= P1 + PH), Q fundamental reactive Q1,
     * S = U*I per phase; total S arithmetic (sum of phase S); PF = P/S
     * signed like P (IEC); displacement PF = P1/S1. */
    double p_w[PQ_NPH + 1];
    double q_var[PQ_NPH + 1];
    double s_va[PQ_NPH + 1];
    double pf[PQ_NPH + 1];
    double dpf[PQ_NPH + 1];
    double s_vector_va;        /* sqrt(P^2 + Q^2) of the totals */
    double u_thd_pct[PQ_NPH];  /* subgroups, h = 2..63 (IEC 61000-4-7 THDS) */
    double i_thd_pct[PQ_NPH];  /* groups, h = 2..63 */
    double i_tdd_pct[PQ_NPH];  /* IEEE 519: harmonic current / IL */
    double i_k_factor[PQ_NPH]; /* sum(h^2 Ih^2) / sum(Ih^2) */
    double u_cf[PQ_NPH];       /* crest factor: peak / RMS */
    double i_cf[PQ_NPH];
    double u_h_v[PQ_NPH][PQ_MAX_H];   /* harmonic subgroups */
    double u_h_pct[PQ_NPH][PQ_MAX_H]; /* of the fundamental subgroup */
    double u_h_deg[PQ_NPH][PQ_MAX_H];
    double i_h_a[PQ_NPH][PQ_MAX_H]; /* harmonic groups */
    double i_h_deg[PQ_NPH][PQ_MAX_H];
    double u_ih_v[PQ_NPH][PQ_MAX_H]; /* interharmonic centred subgroups */
    double u_unb_neg_pct;            /* u2 = |U2|/|U1| (IEC 61000-4-30 5.7.1) */
    double u_unb_zero_pct;
    double i_unb_neg_pct;
    double i_unb_zero_pct;
    /* NEMA MG-1: max deviation of the L-L voltages from their mean, and
     * the induction-motor derating factor for it (NaN above 5 %) */
    double u_unb_nema_pct;
    double nema_derating;
    /* Annex D under/over-deviation.  The _v fields carry min(U, Udin) and
     * max(U, Udin), which aggregate as RMS; the _pct ones derive from them. */
    double u_under_v[PQ_NPH];
    double u_over_v[PQ_NPH];
    double u_under_pct[PQ_NPH];
    double u_over_pct[PQ_NPH];
};

enum pq_field_agg {
    PQ_F_RMS,     /* sqrt(mean(x^2)) */
    PQ_F_MEAN,    /* mean(x) */
    PQ_F_ANGLE,   /* angle of the mean phasor (mag field at .pair) */
    PQ_F_DERIVED, /* recomputed by pq_interval_derive() after aggregating */
};

enum pq_field_shape {
    PQ_SHAPE_SCALAR,
    PQ_SHAPE_PHASE,     /* [nph] */
    PQ_SHAPE_PHASE_N,   /* [nph] or [nph + 1] with a neutral (has_in) */
    PQ_SHAPE_POWER,     /* phases at [0..nph), the total at [PQ_NPH] */
    PQ_SHAPE_HARMONICS, /* [nph][PQ_MAX_H] */
};

struct pq_field {
    const char *json; /* key in the JSON record; NULL: internal, not printed */
    size_t offset;    /* offsetof(struct pq_interval, ...) */
    int shape;        /* enum pq_field_shape */
    int agg;          /* enum pq_field_agg */
    size_t pair;      /* PQ_F_ANGLE: offset of the magnitude field */
    int decimals;     /* digits after the point in JSON */
};

extern const struct pq_field pq_fields[];
extern const size_t pq_nfields;

/* The values of a record, freq_hz to the end, are one array of doubles:
 * PQ_NVALUES of them, element i of field f at pq_value_index(f, i). */
#define PQ_NVALUES                                                          \
    ((sizeof(struct pq_interval) - offsetof(struct pq_interval, freq_hz)) / \
     sizeof(double))

size_t pq_value_index(const struct pq_field *f, size_t i);

static inline const double *pq_values(const struct pq_interval *r)
{
    return &r->freq_hz;
}

/* Number of doubles a field occupies in the struct (its full capacity,
 * independent of nph). */
size_t pq_field_len(const struct pq_field *f);

/* Fill the PQ_F_DERIVED fields of r from the others: pf, s_vector_va,
 * u_h_pct, u_under_pct, u_over_pct.  udin_v is the declared input voltage
 * (Annex D reference).  dpf is not derived: P1 and S1 are not kept, so the
 * dpf of an aggregate is the mean of the basic ones. */
void pq_interval_derive(struct pq_interval *r, double udin_v);

/* Write r as one JSON object (no newline) per DESIGN.md's contract:
 * {"type":"interval","agg":"200ms","start":...,"end":...,"flagged":false,
 * then every named field of pq_fields[] in table order}.  Arrays have nph
 * entries (+1 for powers, +1 for currents with a neutral), harmonic arrays
 * nph rows of PQ_MAX_H.  Non-finite numbers print as null.  Returns the
 * length the whole text needs (as snprintf); the text is complete only if
 * that is < cap.  Pure: formats into buf, no I/O. */
size_t pq_interval_json(char *buf, size_t cap, const struct pq_interval *r);

/* UTC ISO 8601 with milliseconds, "2026-11-21T15:20:01.123Z"; buf of at
 * least 25 bytes. */
void pq_time_iso(char *buf, size_t cap, int64_t t_ns);

/* Name of an aggregation level: "200ms", "3s", "10min", "2h". */
const char *pq_agg_name(int level);

#endif
