/* demand.h - demand of one quantity (kW, kvar, kVA, A, pulses/h ...).
 *
 * Methods (reference §10.4):
 *   PQ_DEMAND_BLOCK    D = E_interval / T at the end of each interval T.
 *   PQ_DEMAND_SLIDING  T split into m sub-intervals of T/m; at each
 *                      sub-interval end D = (energy of the last m) / T
 *                      (rolling block, e.g. 15 min = 3 x 5 min).
 *   PQ_DEMAND_THERMAL  exponential: D' = (P - D) / tau with tau = T / ln 10,
 *                      so a step reaches 90 % after T and 99 % after 2 T.
 * Predicted demand (block and sliding): the value the demand will have at
 * the end of the present (sub-)interval if the present rate holds,
 * (E_so_far + P_now * t_left) / T, with E_so_far the energy of the window
 * that closes next and P_now the last value fed.
 *
 * Time: t_ns is UTC, ns since the epoch.  Intervals and sub-intervals are
 * aligned to the clock: their boundaries are the multiples of T (and T/m)
 * since the epoch, so a 15 min interval ends at :00, :15, :30 and :45.
 * The value fed is the mean over [t_ns - dt_s, t_ns); a stretch crossing a
 * boundary is split there in proportion to time.
 *
 * Missing time counts as zero.  Time not covered by any update (before the
 * first one inside the first interval, a gap when t jumps forward, a
 * rejected update) contributes no energy: D = E / T stays the definition.
 * Such a value is flagged PQ_DEMAND_PARTIAL and carries the covered time of
 * its window, so a caller may rescale it (D * T / covered_s) or drop it.
 * Thermal demand decays toward zero across missing time.  So the first
 * interval when the first update arrives mid-interval is reported, at its
 * clock-aligned end, as a partial value with covered_s < T.
 *
 * Completed values: block, one per interval; sliding, one per sub-interval
 * end; thermal, the thermal value sampled at each interval end.  One update
 * may complete several (a gap, or a stretch longer than a sub-interval):
 * n_completed counts every one and the peak sees every one, but `last`
 * holds only the newest.  A gap completes its values with no loop over it:
 * any gap length costs at most m + 2 closings.
 *
 * Peak: the highest completed value (block, sliding) or the highest
 * thermal value after any update (thermal, tracked continuously, as a
 * thermal demand meter's pointer), with its time: the end of its interval,
 * or when the thermal value reached it (an update's t_ns, or an interval
 * end inside a long update or a gap).  Ties keep the first time.  Partial
 * values are peak candidates: zero-filled, they are never above the true
 * demand of a non-negative quantity.
 *
 * A struct pq_demand belongs to one thread; nothing here allocates, locks
 * or reads a clock.
 */
#ifndef PQGATE_DEMAND_H
#define PQGATE_DEMAND_H

#include <stdint.h>

#define PQ_DEMAND_MAX_SUB 60             /* sub-intervals of a sliding window */
#define PQ_DEMAND_MIN_S   1.0            /* shortest interval and sub-interval, s */
#define PQ_DEMAND_MAX_S   86400.0        /* longest interval T, s (one day) */
#define PQ_DEMAND_MAX_DT  86400.0        /* longest stretch one update covers, s */
#define PQ_DEMAND_MIN_T   (-(1LL << 61)) /* t_ns accepted: from 1896-12 */
#define PQ_DEMAND_MAX_T   (1LL << 62)    /* to 2116-02, so no difference overflows */

enum pq_demand_method {
    PQ_DEMAND_BLOCK,
    PQ_DEMAND_SLIDING,
    PQ_DEMAND_THERMAL,
};

enum pq_demand_flag {
    PQ_DEMAND_PARTIAL = 1u << 0, /* part of the window was not covered */
};

/* One completed demand value. */
struct pq_demand_value {
    double value;     /* NaN before the first one */
    int64_t end_ns;   /* end of its (sub-)interval, clock-aligned */
    double covered_s; /* time of its window covered by updates, <= T */
    unsigned flags;   /* enum pq_demand_flag */
};

struct pq_demand {
    /* What the caller reads. */
    struct pq_demand_value last; /* newest completed value */
    uint64_t n_completed;        /* values completed since init */
    /* Running value.  Block/sliding: mean over the window that closes
     * next, from its start to now (missing time as zero); NaN when none of
     * it has elapsed (a block at its very start).  Thermal: the thermal
     * value now.  NaN before the first update. */
    double present;
    /* Block/sliding, see above.  NaN for thermal and before the first
     * update. */
    double predicted;
    double peak;       /* NaN until the first candidate, and after a reset */
    int64_t peak_ns;   /* time of peak */
    uint64_t rejected; /* updates ignored: NaN or infinite value, bad dt, t out
                          of range, or wholly before time already fed */

    /* Private: configuration. */
    int method; /* enum pq_demand_method */
    int m;      /* sub-intervals per interval (1 for block and thermal) */
    int64_t interval_ns;
    int64_t sub_ns; /* interval_ns / m */
    double interval_s;
    double tau_s; /* thermal time constant, T / ln 10 */

    /* Private: state. */
    int started;          /* an update has been accepted */
    int ring_pos;         /* oldest ring entry, overwritten at the next closing */
    int empty_run;        /* closed sub-intervals in a row with no coverage */
    int64_t now_ns;       /* end of the time fed so far */
    int64_t sub_start_ns; /* start of the present sub-interval */
    int64_t sub_cov_ns;   /* time of it covered */
    double sub_e;         /* energy (value * s) of the present sub-interval */
    double thermal;       /* thermal demand value */
    double rate;          /* last value fed: P_now of the prediction */
    double ring_e[PQ_DEMAND_MAX_SUB];       /* energies of the last m closed ones */
    int64_t ring_cov_ns[PQ_DEMAND_MAX_SUB]; /* and their covered time */
};

/* Set d up for a method, an interval of interval_s seconds and, for
 * PQ_DEMAND_SLIDING, subintervals sub-intervals (1..PQ_DEMAND_MAX_SUB; 1 is
 * the block method); block and thermal take subintervals = 1.  interval_s
 * must lie in [PQ_DEMAND_MIN_S, PQ_DEMAND_MAX_S] and, rounded to whole ns,
 * divide into sub-intervals of whole ns, each >= PQ_DEMAND_MIN_S.
 * Returns 0, or -EINVAL with *d untouched. */
int pq_demand_init(struct pq_demand *d, enum pq_demand_method method, double interval_s,
                   int subintervals);

/* Feed the mean value over [t_ns - dt_s, t_ns).  Updates are expected in
 * time order: the part of a stretch before time already fed is ignored, and
 * a stretch wholly before it is rejected (counted).  Completes every value
 * whose (sub-)interval ends at or before t_ns. */
void pq_demand_update(struct pq_demand *d, int64_t t_ns, double value, double dt_s);

/* Forget the peak (billing reset); the next candidate sets it. */
void pq_demand_reset_peak(struct pq_demand *d);

#endif
