/* aggregate.h - IEC 61000-4-30 Ed.3 time aggregation (4.5) of basic records.
 *
 * Basic 10/12-cycle records (PQ_AGG_200MS) go in one at a time, in time
 * order; 150/180-cycle (PQ_AGG_3S), 10-min and 2-h records come out through
 * a callback as they complete.  Every numeric field aggregates as its row of
 * pq_fields[] (pq/record.c) says; the PQ_F_DERIVED ones are then recomputed
 * by pq_interval_derive().
 *
 * Levels (IEC 61000-4-30 4.5, spec/pq-reference.md 1.2):
 *   3 s     15 consecutive basic values.  A new series starts with the basic
 *           record flagged resync (the engine restarted its basic intervals
 *           at a 10-min UTC tick); the series in progress still completes
 *           with the following basic values, so the two overlap.
 *   10 min  every basic value whose START lies in [tick, tick + 10 min),
 *           ticks at multiples of 600 s UTC: the basic interval running at
 *           a tick belongs to the previous value.  Emitted when the first
 *           basic value of a later slot arrives (or at flush), time-stamped
 *           start_ns = tick, end_ns = tick + 10 min.
 *   2 h     the 10-min values of [t, t + 2 h), t at multiples of 7200 s UTC
 *           (00:00, 02:00, ...), merged as sums: the RMS, mean and phasor
 *           mean over all their basic values.  Emitted when the first basic
 *           value of a later 2-h slot arrives, right after its last 10-min
 *           value, or at flush.
 * An aggregate's count is its number of basic values, its flags the OR of
 * its inputs' flags (IEC 61000-4-30 4.7: an aggregate containing a flagged
 * value is flagged), its nph the largest of its inputs', has_in the OR.
 *
 * PQ_REC_PARTIAL (the standard leaves these to the instrument):
 *   3 s     fewer than 15 basic values: the series was cut by a gap in the
 *           data (a basic record starting more than half a nominal basic
 *           interval, 100 ms, after the previous one ended), by time going
 *           back, or by pq_agg_flush().
 *   10 min  its basic values, clipped to the slot, cover less than the slot
 *           minus PQ_AGG_SLACK_NS (one nominal basic interval and a margin
 *           for off-nominal frequency): the data started or stopped inside
 *           the slot, or more than one basic value is missing.  Aggregated by
 *           clock, not by count.
 *   2 h     fewer than 12 10-min values, or any of them partial.
 * Slots without any basic value (a gap in the data) emit nothing.  A basic
 * record starting before the previous one did (time went back: clock step)
 * first closes every aggregate in progress, as pq_agg_flush() does.
 *
 * Memory: pq_agg_new() allocates everything; pq_agg_add() and
 * pq_agg_flush() allocate nothing.  The state belongs to one thread.
 */
#ifndef PQGATE_AGGREGATE_H
#define PQGATE_AGGREGATE_H

#include <stdint.h>

#include "pq/record.h"

#define PQ_AGG_BASIC_NS 200000000LL     /* nominal 10 cycles at 50 Hz, 12 at 60 Hz */
#define PQ_AGG_3S_N     15              /* basic values in a 150/180-cycle value */
#define PQ_AGG_10MIN_NS 600000000000LL  /* 10-min slot, aligned to UTC */
#define PQ_AGG_2H_NS    7200000000000LL /* 2-h slot, aligned to UTC */
#define PQ_AGG_2H_N     12              /* 10-min values in a 2-h value */
#define PQ_AGG_GAP_NS   (PQ_AGG_BASIC_NS / 2)
#define PQ_AGG_SLACK_NS (PQ_AGG_BASIC_NS + PQ_AGG_BASIC_NS / 4)

struct pq_agg; /* opaque */

/* Called once per completed aggregate.  r is borrowed: valid only during
 * the call (copy what you keep).  The callback must not call pq_agg_add()
 * or pq_agg_flush() on the same aggregator. */
typedef void (*pq_agg_emit_fn)(void *ctx, const struct pq_interval *r);

/* New aggregator for basic intervals of ncycles cycles (10 at 50 Hz, 12 at
 * 60 Hz); udin_v is the declared input voltage handed to
 * pq_interval_derive() (0: leave the Annex D percentages at 0).
 * Returns 0 and stores it in *out (release with pq_agg_free()), -EINVAL for
 * another ncycles or a negative or non-finite udin_v, -ENOMEM; *out is
 * untouched on error. */
int pq_agg_new(int ncycles, double udin_v, struct pq_agg **out);

void pq_agg_free(struct pq_agg *a); /* NULL is a no-op */

/* Feed one basic record: basic->agg == PQ_AGG_200MS, start_ns < end_ns
 * (UTC), flags as measured.  resync is non-zero when the engine restarted its
 * basic-interval series with this record at a 10-min UTC tick (it is the
 * first of the new series).  Emits through emit (NULL: discard), in this
 * order, the aggregates this record completes or closes: 3-s values cut by
 * a gap, then the 10-min and 2-h values it closes by starting a later slot,
 * then the 3-s values it completes. */
void pq_agg_add(struct pq_agg *a, const struct pq_interval *basic, int resync,
                pq_agg_emit_fn emit, void *ctx);

/* End of data (end of a recording, daemon shutdown): emit every aggregate
 * in progress (3 s, 10 min, 2 h, in that order), with PQ_REC_PARTIAL set by
 * the rules above (a 3-s value in progress always is; a 10-min value
 * whose basic values already cover its slot is not).  The aggregator is then
 * empty and may be fed again. */
void pq_agg_flush(struct pq_agg *a, pq_agg_emit_fn emit, void *ctx);

#endif
