/* meter.h - one meter: the engine, the aggregation and the energy registers
 * put together, as the gateway and `pqgate analyze` both run them.
 *
 * Samples in; out come the basic records and every aggregate that
 * completes (in the order they complete), the 10-s frequency, the
 * half-cycle values, and the energy registers at each 10-min tick and at
 * the end.  Pure and single-threaded like its parts; allocation happens in
 * pq_meter_new() only.
 */
#ifndef PQGATE_METER_H
#define PQGATE_METER_H

#include <stddef.h>
#include <stdint.h>

#include "pq/demand.h"
#include "pq/engine.h"
#include "pq/events.h"
#include "pq/record.h"

/* Energy registers since the meter started, in kWh, kvarh, kVAh. */
struct pq_meter_energy {
    int64_t start_ns, end_ns;
    double kwh_del, kwh_rec, kvarh_del, kvarh_rec, kvah;
};

/* The half-cycle RMS burst of an event (IEC 61000-4-30 Urms(1/2) and
 * Irms(1/2) of every channel from a time before its start to a time after),
 * or of a request (pq_meter_burst_request(): the same window around the
 * requested time): n values, value k of phase p at u_rms[k * 3 + p],
 * i_rms[k * 4 + p]. */
#define PQ_BURST_REQUESTED (-1) /* pq_burst.kind of a requested burst */

struct pq_burst {
    int kind;               /* of the event that started it (enum pq_event_kind), or
                               PQ_BURST_REQUESTED */
    uint32_t tag;           /* a request's tag; 0 for an event's burst */
    int64_t event_start_ns; /* the event's start, or the requested time */
    int nph;
    size_t n;
    const int64_t *t_ns;    /* end of each one-cycle window */
    const double *u_rms;    /* n x 3 */
    const double *u_ll_rms; /* n x 3 */
    const double *i_rms;    /* n x 4 (A, B, C, N) */
};

struct pq_meter_out {
    void (*interval)(void *ctx, const struct pq_interval *r); /* every level */
    void (*freq10s)(void *ctx, int64_t start_ns, int64_t end_ns, double f_hz,
                    unsigned flags);
    void (*halfcycle)(void *ctx, const struct pq_halfcycle *h);
    void (*energy)(void *ctx, const struct pq_meter_energy *e);
    /* IEC 61000-4-15 Pst of a 10-min UTC slot and Plt of a 2-h slot, one
     * value per phase voltage (nph of them) */
    void (*flicker)(void *ctx, int64_t start_ns, int64_t end_ns, const double pst[3],
                    int nph, unsigned flags);
    void (*flicker_plt)(void *ctx, int64_t start_ns, int64_t end_ns, const double plt[3],
                        int nph, unsigned flags);
    /* a complete event (dip, swell, interruption, RVC, current sag or
     * swell): the dips, swells and interruptions have flagged the records
     * they overlap (IEC 61000-4-30 4.7) */
    void (*event)(void *ctx, const struct pq_event *ev);
    /* an event has started (its first Urms(1/2) beyond the threshold):
     * the moment to trigger a waveform capture */
    void (*event_start)(void *ctx, int kind, int64_t start_ns);
    /* the RMS burst of an event, once burst_after_s past its start */
    void (*burst)(void *ctx, const struct pq_burst *b);
    void *ctx; /* every callback may be NULL */
};

/* Quantities with a demand register. */
enum pq_meter_demand_q {
    PQ_DEMAND_P,  /* total active power, W */
    PQ_DEMAND_Q,  /* total reactive power, var */
    PQ_DEMAND_S,  /* total apparent power, VA */
    PQ_DEMAND_IA, /* phase currents, A */
    PQ_DEMAND_IB,
    PQ_DEMAND_IC,
    PQ_DEMAND_NQ,
};

struct pq_meter_cfg {
    struct pq_engine_cfg engine;
    int demand_method;        /* enum pq_demand_method */
    double demand_interval_s; /* 0: no demand */
    int demand_subintervals;  /* sliding block; 1 otherwise */
    int events;               /* detect events on Urms(1/2) */
    double burst_before_s;    /* RMS burst around each event and request;
                                 both 0: none */
    double burst_after_s;
    struct pq_events_cfg ev; /* their thresholds */
    int flicker;             /* run a flickermeter per phase voltage */
    int flicker_lamp;        /* enum pq_lamp */
    unsigned levels;         /* bit (1u << PQ_AGG_*) per level to emit */
    int64_t energy_every_ns; /* also emit the registers this often (0: at
                                10-min ticks and at the end only) */
};

struct pq_meter;

/* 0, -EINVAL (reason in *why) or -ENOMEM. */
int pq_meter_new(const struct pq_meter_cfg *cfg, const struct pq_meter_out *out,
                 struct pq_meter **m, const char **why);
void pq_meter_feed(struct pq_meter *m, const float *x, size_t n);
/* End of the stream: emit the aggregates in progress (PQ_REC_PARTIAL) and
 * the energy registers. */
void pq_meter_finish(struct pq_meter *m);
void pq_meter_free(struct pq_meter *m); /* NULL: no-op */
struct pq_engine *pq_meter_engine(struct pq_meter *m);

#define PQ_METER_BURST_REQS  4   /* requested bursts waiting at once */
#define PQ_METER_BURST_LAG_S 1.0 /* how far in the past a request may be */

/* Ask for an RMS burst around UTC t_ns (stream time, like the half-cycle
 * values' t_ns): the half-cycle values from burst_before_s before t_ns to
 * burst_after_s after it, handed to out.burst (kind PQ_BURST_REQUESTED,
 * event_start_ns = t_ns, tag = tag) by the pq_meter_feed() that reaches
 * t_ns + burst_after_s, or by pq_meter_finish() with what there is.  Needs
 * no event detection.  t_ns may be up to PQ_METER_BURST_LAG_S before the
 * newest value fed (the half-cycle ring keeps that much more than the
 * window) or in the future.  Returns 0, -ENOTSUP (both burst times are 0:
 * no ring) or -PQ_EFULL (PQ_METER_BURST_REQS requests already wait; the
 * request is dropped). */
int pq_meter_burst_request(struct pq_meter *m, int64_t t_ns, uint32_t tag);

/* Demand register of quantity q (enum pq_meter_demand_q), fed with every
 * basic record; NULL without demand.  Valid until pq_meter_free(). */
const struct pq_demand *pq_meter_demand(const struct pq_meter *m, int q);

/* Minimum and maximum of every value of the basic records since the start
 * or the last reset, with the end time of the record that set it.  The
 * arrays are indexed like the record's values: element i of field f is at
 * pq_value_index(f, i).  NaN (time 0) where nothing was seen. */
void pq_meter_extremes(const struct pq_meter *m, const double **min, const int64_t **tmin,
                       const double **max, const int64_t **tmax);
void pq_meter_reset_extremes(struct pq_meter *m);

#endif
