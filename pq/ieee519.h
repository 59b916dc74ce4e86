/* ieee519.h - IEEE 519-2014 / 519-2022 harmonic limits at the point of
 * common coupling, evaluated over a week (spec/pq-reference.md §5).
 *
 * Limits (pq_ieee519_limits()):
 *   voltage  Table 1 by the nominal bus voltage at the PCC: individual
 *            harmonic and THD, % of the fundamental.
 *   current  Table 2 (120 V .. 69 kV), Table 3 (69 .. 161 kV) or Table 4
 *            (> 161 kV) by Isc/IL, % of IL: odd harmonics by range 2..10,
 *            11..16, 17..22, 23..34, 35..50, and TDD.  Even harmonics:
 *            2014: 25 % of the odd limit of their range; 2022: 50 % for
 *            h <= 6, 100 % above.  A ratio on a row boundary takes the
 *            higher row (the table's "20 < 50" read as 20 <= Isc/IL < 50).
 *            Tables 3 and 4, and the "< 20 row for generation" rule, are
 *            (unverified).
 *
 * Quantities, per phase, from the records (struct pq_interval):
 *   u_h      u_h_pct[ph][h-1], h = 2..50
 *   u_thd    sqrt(sum u_h^2, h = 2..50), recomputed from u_h_pct (IEEE 519
 *            evaluates to the 50th; the record's u_thd_pct runs to 63)
 *   i_h      100 i_h_a[ph][h-1] / IL, h = 2..50
 *   i_tdd    100 sqrt(sum i_h_a^2, h = 2..50) / IL, with the configured IL
 *            (the record's i_tdd_pct uses the meter's IL and runs to 63)
 *
 * Statistics (IEEE 519-2014 clause 5; multipliers (unverified)):
 *   week95   weekly 95th percentile of the 10-min values   <= 1.0 x table
 *   week99   weekly 99th percentile of the 10-min values   <= 1.5 x table
 *            (currents only; not used for voltage)
 *   day99    daily 99th percentile of the 3-s values       <= 1.5 x table
 *            (voltage), <= 2.0 x table (current), on every day
 * "Less than" in the standard is taken as <=.
 * Percentile: nearest rank.  The P-th percentile of n values is the value
 * of rank ceil(P n / 100) in ascending order (1-based), computed in
 * integers: the smallest value that at least P % of the values do not
 * exceed, always one of the values.  1008 values: the 95th is rank 958,
 * the 99th rank 998.
 * Days are counted from the period start (pick a local midnight).
 *
 * Exclusions: records flagged PQ_REC_PARTIAL are excluded; records flagged
 * PQ_REC_FLAGGED (overlapping a dip, swell or interruption, IEC 61000-4-30
 * 4.7) too unless cfg.keep_flagged (IEEE 519 itself says nothing of
 * flagging).  Non-finite values are skipped in their series.
 *
 * Verdicts: a statistic passes if its value is <= its limit.  A check (one
 * quantity, one phase) and every combination of checks (per order over the
 * phases, per phase over the orders, overall) is FAIL if any part fails,
 * else NO_DATA if any part has no data, else PASS; NOT_EVALUATED parts
 * (currents without IL, phases above nph, week99 for voltage) are ignored.
 * So a week with no 3-s values is NO_DATA unless something failed.
 *
 * Memory: pq_ieee519_new() allocates everything (about 0.9 MB for 3
 * phases): per series (quantity, order, phase) the largest values seen,
 * as many as the percentiles need: 51 of at most PQ_IEEE519_MAX_10MIN
 * weekly values (a 10-min record whose slot was already fed is a duplicate,
 * rejected), 321 of at most PQ_IEEE519_MAX_3S_DAY values of the current
 * day.  The 3-s records must come in day order: a day closes when a record
 * of a later day arrives, and a record of a closed day is rejected (late).
 * 3-s records are not de-duplicated: feed each once.  A day's values past
 * PQ_IEEE519_MAX_3S_DAY are rejected (overflow), never guessed at.
 * Feeding and results allocate nothing.  No I/O, no clock; an accumulator
 * belongs to one thread.
 */
#ifndef PQGATE_IEEE519_H
#define PQGATE_IEEE519_H

#include <stddef.h>
#include <stdint.h>

#include "pq/record.h"

#define PQ_IEEE519_MAX_H      50 /* highest order evaluated */
#define PQ_IEEE519_DAY_NS     (86400LL * 1000000000LL)
#define PQ_IEEE519_WEEK_NS    (7 * PQ_IEEE519_DAY_NS)
#define PQ_IEEE519_MAX_10MIN  1008  /* 10-min values in a week */
#define PQ_IEEE519_MAX_3S_DAY 32000 /* 3-s values kept per day (28 800 nominal) */

enum pq_ieee519_edition {
    PQ_IEEE519_2014 = 2014,
    PQ_IEEE519_2022 = 2022,
};

enum pq_ieee519_verdict {
    PQ_IEEE519_NOT_EVALUATED,
    PQ_IEEE519_NO_DATA,
    PQ_IEEE519_PASS,
    PQ_IEEE519_FAIL,
};

struct pq_ieee519_cfg {
    int edition;       /* enum pq_ieee519_edition */
    double bus_v;      /* nominal line-to-line voltage at the PCC, V */
    double isc_a;      /* maximum short-circuit current at the PCC */
    double il_a;       /* maximum demand load current (fundamental) at the
                          PCC; 0: currents not evaluated */
    int generation;    /* 1: held to the first row whatever Isc/IL
                          (unverified); isc_a may then be 0 */
    int nph;           /* 1 or 3 */
    int keep_flagged;  /* 1: PQ_REC_FLAGGED records count as valid */
    int64_t start_ns;  /* period start, UTC ns since the epoch */
    int64_t period_ns; /* 0: a week; 1 ns .. a week */
};

struct pq_ieee519_limits {
    int table;        /* current table: 2, 3 or 4; 0 without currents */
    int row;          /* its row, 0 = the lowest Isc/IL; -1 without currents */
    double isc_il;    /* Isc/IL; NaN without currents or with isc_a 0 */
    double u_h_pct;   /* Table 1 individual harmonic, % of the fundamental */
    double u_thd_pct; /* Table 1 THD */
    double i_h_pct[PQ_IEEE519_MAX_H + 1]; /* [h], % of IL, the edition's even
                                             rule applied; NaN at 0, 1 and
                                             without currents */
    double i_tdd_pct;                     /* NaN without currents */
};

/* One percentile check. */
struct pq_ieee519_stat {
    int verdict;      /* enum pq_ieee519_verdict */
    double limit_pct; /* multiplier x table value */
    double value;     /* the percentile (day99: the highest daily one); NaN
                         without data */
    uint32_t n;       /* values it was taken from (day99: that day's) */
    uint32_t n_days;  /* day99: days with values */
    uint32_t n_days_failed;
    int worst_day; /* day99: day of value, from the period start; -1 */
};

/* One quantity of one phase. */
struct pq_ieee519_check {
    int verdict;      /* over week95, week99, day99 */
    double table_pct; /* the table limit (multiplier 1) */
    struct pq_ieee519_stat week95;
    struct pq_ieee519_stat week99; /* NOT_EVALUATED for voltage */
    struct pq_ieee519_stat day99;
};

struct pq_ieee519_result {
    int verdict; /* over everything */
    int u_verdict;
    int i_verdict;
    struct pq_ieee519_limits limits;
    /* [ph][h] for h = 2..50; entries 0 and 1 NOT_EVALUATED */
    struct pq_ieee519_check u_h[PQ_NPH][PQ_IEEE519_MAX_H + 1];
    struct pq_ieee519_check u_thd[PQ_NPH];
    struct pq_ieee519_check i_h[PQ_NPH][PQ_IEEE519_MAX_H + 1];
    struct pq_ieee519_check i_tdd[PQ_NPH];
    int u_order[PQ_IEEE519_MAX_H + 1]; /* per order, over the phases */
    int i_order[PQ_IEEE519_MAX_H + 1];
    int u_phase[PQ_NPH]; /* per phase, over the orders and THD */
    int i_phase[PQ_NPH]; /* per phase, over the orders and TDD */

    uint32_t n_10min;           /* valid 10-min records */
    uint32_t n_10min_invalid;   /* excluded: partial (or flagged) */
    uint32_t n_10min_duplicate; /* a second record of one 10-min slot */
    uint32_t n_3s;              /* valid 3-s records */
    uint32_t n_3s_invalid;
    uint32_t n_3s_late;     /* for a day already closed */
    uint32_t n_3s_overflow; /* beyond PQ_IEEE519_MAX_3S_DAY in a day */
    uint32_t n_outside;     /* starting outside the period */
};

struct pq_ieee519; /* opaque */

/* The limits cfg selects.  Returns 0, or -EINVAL: unknown edition, bus_v
 * not > 0, il_a < 0, il_a > 0 with isc_a not > 0 (unless generation). */
int pq_ieee519_limits(const struct pq_ieee519_cfg *cfg, struct pq_ieee519_limits *out);

/* Allocate an accumulator for cfg.  Returns 0 and stores it in *out
 * (release with pq_ieee519_free()), -EINVAL (as pq_ieee519_limits(), or
 * nph not 1 or 3, period_ns outside 0 .. a week, a period end beyond
 * INT64_MAX) or -ENOMEM, with *out untouched. */
int pq_ieee519_new(const struct pq_ieee519_cfg *cfg, struct pq_ieee519 **out);

void pq_ieee519_free(struct pq_ieee519 *acc); /* NULL is a no-op */

/* Feed one record: PQ_AGG_10MIN records go to the weekly statistics,
 * PQ_AGG_3S ones to the daily.  Returns 0 (counted: valid, excluded,
 * duplicate, late, overflow or outside), or -EINVAL for another level or
 * r->nph below cfg.nph (nothing counted). */
int pq_ieee519_add(struct pq_ieee519 *acc, const struct pq_interval *r);

/* Grade everything fed so far, the open day included, into *res.  acc is
 * not changed. */
void pq_ieee519_result(const struct pq_ieee519 *acc, struct pq_ieee519_result *res);

/* Nearest-rank percentile of v[0..n-1], permille = 950 for the 95th, 990
 * for the 99th (1..1000): sorts v in place and returns the value of rank
 * ceil(permille n / 1000); NaN if n is 0. */
double pq_ieee519_percentile(double *v, size_t n, int permille);

#endif
