/* en50160.h - EN 50160:2010 evaluation of the supply voltage over an
 * observation period (spec/pq-reference.md §4).
 *
 * An accumulator, struct pq_en50160, is set up for one observation period
 * [start_ns, start_ns + period_ns) (a week unless configured otherwise) and
 * fed, in any order, with:
 *   10-s power frequency values        pq_en50160_add_freq()
 *   10-min aggregates                  pq_en50160_add_10min()
 *   2-h Plt values, per phase          pq_en50160_add_plt()
 *   3-s mains signalling voltages      pq_en50160_add_msv()
 *   dips, swells and interruptions     pq_en50160_add_event()
 * pq_en50160_result() then grades every parameter.  A value belongs to the
 * period containing its start time; others are counted and ignored.  Each
 * value is expected once: the accumulator keeps counters, not the values,
 * so it cannot see a duplicate.  To evaluate "the last 7 days" continuously,
 * re-feed the stored records of those days into a fresh accumulator.
 *
 * Rules (EN 50160:2010 clause 4 (LV) and 5 (MV); reference §4.1, §4.3):
 *   parameter     value         share rule (band, % of values)   100 % rule
 *   frequency     10 s mean     sync: 50 Hz +-1 %, 99.5 %        +4 %/-6 %
 *                               island: +-2 %, 95 %              +-15 %
 *   voltage LV    10 min RMS    Un +-10 %, 95 %                  +10 %/-15 %
 *   voltage MV    10 min RMS    Uc +-10 %, 99 %                  +-15 %
 *   flicker       2 h Plt       Plt <= 1, 95 %                   -
 *   unbalance     10 min u2     u2 <= 2 % (configurable), 95 %   -
 *   THD           10 min        THD(h = 2..40) <= 8 %, 95 %      -
 *   harmonics     10 min        u_h <= Table 1 (h = 2..25), 95 % -
 *   mains sign.   3 s mean      <= curve, 99 % of each day       -
 * The standard states the synchronous frequency rule over a year; here it
 * is applied to the observation period, whatever its length.  Bands are
 * closed: a value on a limit is inside it ("within", "less or equal").
 *
 * Statistic: the share rule is judged on the percentage of valid values
 * outside its band, pct_out = 100 n_out / n_valid, which must not exceed
 * 100 - pct_time (the PM8000 algorithm, reference §4.3: 50 of 1008 values
 * outside is 4.96 %, a pass; 51 is 5.06 %, a fail).  The comparison is in
 * exact integer arithmetic.  The 100 % rule fails on one valid value
 * outside its band.  A failed 100 % rule decides the verdict, with the
 * extreme value as its statistic; otherwise the share rule decides, with
 * pct_out.  Mains signalling applies the share rule to each day of the
 * period (days counted from start_ns) and reports the worst day's pct_out.
 *
 * Exclusions (IEC 61000-4-30 4.7, reference §1.6): a value flagged
 * PQ_REC_FLAGGED (it overlaps a dip, swell or interruption) or
 * PQ_REC_PARTIAL (an incomplete aggregate) is excluded from every
 * statistic and counted in n_invalid, as is a non-finite value.
 * PQ_REC_UNSYNC does not exclude.  Events are never excluded.
 *
 * Derived values: THD is recomputed from the record's u_h_pct over
 * h = 2..40 as EN 50160 defines it (the record's own u_thd_pct runs to 63);
 * harmonics are u_h_pct, % of the fundamental; unbalance is u_unb_neg_pct.
 *
 * Events (reference §4.4) fill the dip and swell tables of EN 50160 (as
 * printed there; PM8000's extra swell column t > 60 s), and interruptions
 * are counted short (<= 180 s) or long.  Events outside a table (a dip at
 * or above 90 %, a swell at or below 110 %, a duration outside the
 * columns, a non-finite number) are counted as unclassified.  EN 50160
 * gives no limit for events: they do not enter the verdict.
 *
 * Memory: counters only, inside the struct (about 14 kB), bounded for any
 * period up to PQ_EN50160_MAX_DAYS days.  Pure: no allocation, no I/O, no
 * clock; a struct pq_en50160 belongs to one thread.
 */
#ifndef PQGATE_EN50160_H
#define PQGATE_EN50160_H

#include <stdint.h>

#include "pq/record.h"

#define PQ_EN50160_DAY_NS   (86400LL * 1000000000LL)
#define PQ_EN50160_WEEK_NS  (7 * PQ_EN50160_DAY_NS)
#define PQ_EN50160_MAX_DAYS 366   /* longest observation period, days */
#define PQ_EN50160_MAX_H    25    /* highest harmonic order with a limit */
#define PQ_EN50160_THD_H    40    /* THD sums orders 2..40 */
#define PQ_EN50160_SHORT_S  180.0 /* an interruption up to 3 min is short */

/* Event tables (reference §4.4). */
#define PQ_EN50160_DIP_ROWS   5 /* A, B, C, D, X */
#define PQ_EN50160_DIP_COLS   5 /* 1..5 */
#define PQ_EN50160_SWELL_ROWS 2 /* S, T */
#define PQ_EN50160_SWELL_COLS 4 /* 1..4 */

enum pq_en50160_network {
    PQ_EN50160_LV, /* Un, clause 4 */
    PQ_EN50160_MV, /* Uc, clause 5 */
};

enum pq_en50160_system {
    PQ_EN50160_SYNCHRONOUS, /* synchronous connection to an interconnected system */
    PQ_EN50160_ISLAND,      /* no synchronous connection (islands) */
};

enum pq_en50160_verdict {
    PQ_EN50160_NOT_EVALUATED, /* not measured (configuration, phase count) */
    PQ_EN50160_NO_DATA,       /* measured, but no valid value in the period */
    PQ_EN50160_PASS,
    PQ_EN50160_FAIL,
};

enum pq_en50160_rule {
    PQ_EN50160_RULE_NONE,  /* no verdict (no data, not evaluated) */
    PQ_EN50160_RULE_SHARE, /* the 95/99/99.5 % rule: statistic = pct_out */
    PQ_EN50160_RULE_ALL,   /* the 100 % rule failed: statistic = the extreme
                              valid value outside its band */
};

enum pq_en50160_event_kind {
    PQ_EN50160_DIP,
    PQ_EN50160_SWELL,
    PQ_EN50160_INTERRUPTION,
};

struct pq_en50160_cfg {
    int network;          /* enum pq_en50160_network */
    int system;           /* enum pq_en50160_system */
    double f_nom_hz;      /* nominal frequency: 50 (60 accepted) */
    double u_ref_v;       /* Un (LV) or Uc (MV) of the voltage evaluated */
    int u_line_to_line;   /* 0: evaluate u_rms_v (L-N), 1: u_ll_rms_v */
    int nph;              /* 1 or 3; unbalance needs 3 */
    int has_flicker;      /* Plt values are measured and will be fed */
    double msv_hz;        /* mains signalling carrier; 0: not measured */
    double unb_limit_pct; /* 0: 2 %; up to 3 % in some areas (unverified) */
    int64_t start_ns;     /* observation period start, UTC ns since the epoch */
    int64_t period_ns;    /* 0: a week; 1 ns .. PQ_EN50160_MAX_DAYS days */
};

/* An event as the events module characterises it (polyphase-aggregated
 * "equivalent event", reference §1.5): its own struct so this module does
 * not depend on that one. */
struct pq_en50160_event {
    int kind;          /* enum pq_en50160_event_kind */
    double pct;        /* dip, interruption: residual voltage; swell: maximum;
                          % of the reference voltage */
    double duration_s; /* end - start */
    int64_t start_ns;  /* UTC ns since the epoch */
};

/* Grade of one parameter (one phase, one harmonic order). */
struct pq_en50160_check {
    int verdict;         /* enum pq_en50160_verdict */
    int decided_by;      /* enum pq_en50160_rule */
    double statistic;    /* what decided the verdict (see decided_by); NaN for
                            no verdict */
    double pct_time;     /* share required inside [lo, hi]: 95, 99 or 99.5 */
    double lo, hi;       /* band of the share rule, in the value's unit (Hz, V,
                            %, Plt); NaN: no bound on that side */
    double lo100, hi100; /* band of the 100 % rule; both NaN: no such rule */
    uint32_t n_valid;    /* values in the statistics */
    uint32_t n_invalid;  /* flagged, partial or non-finite values excluded */
    uint32_t n_out;      /* valid values outside [lo, hi] */
    uint32_t n_out100;   /* valid values outside [lo100, hi100] */
    double pct_out;      /* 100 n_out / n_valid (daily rule: the worst day's);
                            NaN without valid values */
    double min, max;     /* extremes of the valid values; NaN without any */
    uint32_t n_days;     /* daily rule (mains signalling): days with values */
    uint32_t n_days_failed;
};

struct pq_en50160_result {
    int verdict; /* FAIL if any check fails; else NO_DATA if any evaluated
                    check has no valid value; else PASS */
    struct pq_en50160_check freq;
    struct pq_en50160_check voltage[PQ_NPH];
    struct pq_en50160_check flicker[PQ_NPH];
    struct pq_en50160_check unbalance;
    struct pq_en50160_check thd[PQ_NPH];
    /* [ph][h] for h = 2..PQ_EN50160_MAX_H; entries 0 and 1 NOT_EVALUATED */
    struct pq_en50160_check harmonic[PQ_NPH][PQ_EN50160_MAX_H + 1];
    struct pq_en50160_check msv[PQ_NPH];

    /* Event tables: dips[row][col], row 0..4 = A, B, C, D, X and col 0..4 =
     * columns 1..5; swells[row][col], row 0..1 = S, T and col 0..3. */
    uint32_t dips[PQ_EN50160_DIP_ROWS][PQ_EN50160_DIP_COLS];
    uint32_t swells[PQ_EN50160_SWELL_ROWS][PQ_EN50160_SWELL_COLS];
    uint32_t dips_unclassified;
    uint32_t swells_unclassified;
    uint32_t interruptions_short; /* duration <= 180 s */
    uint32_t interruptions_long;
    uint32_t interruptions_unclassified; /* non-finite or negative duration */

    /* Coverage of the period. */
    uint32_t n_10min_expected; /* whole 10-min slots in the period */
    uint32_t n_10min;          /* 10-min records fed inside the period */
    uint32_t n_10min_flagged;  /* of which PQ_REC_FLAGGED */
    uint32_t n_10min_partial;  /* of which PQ_REC_PARTIAL */
    uint32_t n_freq_expected;  /* whole 10-s slots */
    uint32_t n_freq;
    uint32_t n_plt_expected; /* whole 2-h slots */
    uint32_t n_plt;
    uint32_t n_msv;
    uint32_t n_outside; /* values and events starting outside the period */
};

/* Running counts of one parameter.  Private. */
struct pq_en50160_count {
    uint32_t n_valid;
    uint32_t n_invalid;
    uint32_t n_out;
    uint32_t n_out100;
    double min;
    double max;
};

/* Limits of one parameter.  Private. */
struct pq_en50160_band {
    int permille_out; /* share allowed outside [lo, hi], per mille */
    double lo, hi;    /* NaN: no bound */
    double lo100, hi100;
};

struct pq_en50160 {
    struct pq_en50160_cfg cfg; /* as given, period_ns resolved */

    /* Private: limits. */
    struct pq_en50160_band b_freq, b_voltage, b_flicker, b_unbalance, b_thd, b_msv;
    struct pq_en50160_band b_harmonic[PQ_EN50160_MAX_H + 1];

    /* Private: counts. */
    struct pq_en50160_count freq;
    struct pq_en50160_count voltage[PQ_NPH];
    struct pq_en50160_count flicker[PQ_NPH];
    struct pq_en50160_count unbalance;
    struct pq_en50160_count thd[PQ_NPH];
    struct pq_en50160_count harmonic[PQ_NPH][PQ_EN50160_MAX_H + 1];
    struct pq_en50160_count msv[PQ_NPH];
    uint32_t msv_day_n[PQ_EN50160_MAX_DAYS][PQ_NPH];
    uint32_t msv_day_out[PQ_EN50160_MAX_DAYS][PQ_NPH];
    uint32_t dips[PQ_EN50160_DIP_ROWS][PQ_EN50160_DIP_COLS];
    uint32_t swells[PQ_EN50160_SWELL_ROWS][PQ_EN50160_SWELL_COLS];
    uint32_t dips_unclassified;
    uint32_t swells_unclassified;
    uint32_t interruptions_short;
    uint32_t interruptions_long;
    uint32_t interruptions_unclassified;
    uint32_t n_10min, n_10min_flagged, n_10min_partial;
    uint32_t n_freq, n_plt, n_msv, n_outside;
};

/* Set acc up for cfg, with every count zero.  Returns 0, or -EINVAL with
 * *acc untouched: unknown network or system, f_nom_hz or u_ref_v not > 0,
 * nph not 1 or 3, msv_hz not 0 and outside the signalling curve,
 * unb_limit_pct not 0 and outside (0, 100], period_ns outside 0 .. 366
 * days, or a period end beyond INT64_MAX. */
int pq_en50160_init(struct pq_en50160 *acc, const struct pq_en50160_cfg *cfg);

/* One 10-s frequency value (reference §1.3) starting at start_ns; flags are
 * enum pq_rec_flag.  Returns 0 (counted: valid, invalid or outside). */
int pq_en50160_add_freq(struct pq_en50160 *acc, int64_t start_ns, unsigned flags,
                        double freq_hz);

/* One 10-min aggregate: its voltage, unbalance, THD and harmonics.
 * Returns 0, or -EINVAL if r->agg is not PQ_AGG_10MIN or r->nph is below
 * cfg.nph (nothing counted). */
int pq_en50160_add_10min(struct pq_en50160 *acc, const struct pq_interval *r);

/* One 2-h Plt value per phase (plt[0..nph-1]).  Returns 0, or -EINVAL if
 * cfg.has_flicker is 0. */
int pq_en50160_add_plt(struct pq_en50160 *acc, int64_t start_ns, unsigned flags,
                       const double plt[PQ_NPH]);

/* One 3-s mains signalling voltage at cfg.msv_hz per phase, in % of the
 * reference voltage.  Returns 0, or -EINVAL if cfg.msv_hz is 0. */
int pq_en50160_add_msv(struct pq_en50160 *acc, int64_t start_ns, unsigned flags,
                       const double pct[PQ_NPH]);

/* One dip, swell or interruption.  Returns 0, or -EINVAL for an unknown
 * kind (nothing counted). */
int pq_en50160_add_event(struct pq_en50160 *acc, const struct pq_en50160_event *ev);

/* Grade everything fed so far into *res.  acc is not changed: feeding may
 * go on and a later result includes the new values. */
void pq_en50160_result(const struct pq_en50160 *acc, struct pq_en50160_result *res);

/* Table 1 limit of harmonic order h in % of the fundamental (the same for
 * LV and MV), NaN for h outside 2..25. */
double pq_en50160_harmonic_limit_pct(int h);

/* Limit of the mains signalling voltage at carrier f_hz, % of the
 * reference voltage; NaN outside 0 < f_hz <= 10 kHz. */
double pq_en50160_msv_limit_pct(double f_hz);

/* Cell of a dip (residual pct, duration) in the dip table: 0 with *row
 * (0..4 = A..X) and *col (0..4 = 1..5), or -ERANGE outside the table (u >=
 * 90 %, t outside 0.01..60 s, NaN).  The cells of pq_en50160_dip_cell()
 * (pq/curves.h) as indices, for counting. */
int pq_en50160_dip_index(double residual_pct, double duration_s, int *row, int *col);

/* Cell of a swell (maximum pct, duration): 0 with *row (0 = S, 1 = T) and
 * *col (0..3), or -ERANGE outside the table (u <= 110 %, t < 0.01 s, NaN).
 * The cells of pq_en50160_swell_cell() as indices. */
int pq_en50160_swell_index(double max_pct, double duration_s, int *row, int *col);

#endif
