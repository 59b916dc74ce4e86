/* events.h - voltage dips, swells, interruptions, rapid voltage changes and
 * current sags/swells, detected on the Urms(1/2) and Irms(1/2) values of
 * the engine (IEC 61000-4-30 Ed.3: dips and swells 5.4, interruptions 5.5,
 * RVC 5.11 of the 2015 text, the "5.10").
 *
 * Feed every struct pq_halfcycle of pq/engine.h, in order.  Events come
 * out through two callbacks, inside pq_events_halfcycle():
 *
 *   start(kind, start_ns)  at the first half cycle beyond a threshold (an
 *                          RVC: leaving steady state): to flag intervals
 *                          (4.7) and trigger waveform captures;
 *   end(event)             once per reported event, when it is complete.
 *
 * Not every start() is followed by an end() of its kind: a dip that only
 * leads into and out of an interruption is reported as the interruption
 * alone, and an RVC that reaches a dip or swell threshold is discarded
 * (it is that dip or swell).  pq_events_active() says what is running.
 *
 * Rules (reference §1.5, §1.9; defaults when a cfg field is 0):
 *
 *   dip           starts when any channel < dip_pct (90 %), ends when
 *                 every channel >= dip_pct + hysteresis_pct (2 %);
 *   swell         starts when any channel > swell_pct (110 %), ends when
 *                 every channel <= swell_pct - hysteresis_pct;
 *   interruption  starts when every channel < interruption_pct (5 %), ends
 *                 when any channel >= interruption_pct + hysteresis_pct;
 *   current sag   as a dip on Irms(1/2) of phases A..C (not N) against
 *                 i_nominal_a: i_sag_pct (50 %), hysteresis_pct;
 *   current swell as a swell: i_swell_pct (150 %), hysteresis_pct;
 *   RVC           steady state: the last 100/120 Urms(1/2) of every
 *                 channel within +-rvc_pct of their mean; an event starts
 *                 when a value leaves the mean of the previous 100/120 by
 *                 more than rvc_pct, and ends when the last 100/120
 *                 values, all taken since the start, lie within
 *                 +-(rvc_pct - rvc_hysteresis_pct) of their mean.
 *                 rvc_pct 0: off; rvc_hysteresis_pct 0: half of rvc_pct
 *                 (IEC 61000-4-30 NOTE: "50 % of the threshold").  Typical
 *                 settings: 3 % / 1.5 % (LV), 5 % / 2.5 %.  If a dip,
 *                 swell or interruption is running at any half cycle of
 *                 the RVC it is discarded, and the steady state must be
 *                 found again before the next RVC.
 *
 * Thresholds and hysteresis are % of udin_v; with sliding_reference, the
 * dip and swell ones are % of each channel's sliding reference Usr
 * instead (interruptions and RVC stay on udin_v, as 5.5 and 5.11 say).
 *
 * Timing: a Urms(1/2) value at t_ns covers [t_ns - period_s, t_ns).  An
 * event starts at the start of the first window beyond its threshold
 * (5.4.2: "the start of the Urms(1/2)" that initiated it) and ends at the
 * start of the first window back inside (threshold and hysteresis): the
 * first window that no longer contains the disturbance.  So [start_ns,
 * end_ns) covers the whole disturbance, and a rectangular dip whose edges
 * fall on the half-cycle grid measures its length plus half a cycle.
 * Per-phase durations and the RVC follow the same convention.
 *
 * Dip vs interruption: both are detected; every interruption is reported.
 * A dip during which one or more interruptions occurred is reported only
 * if it lasted more than their transitions: more than 3 Urms(1/2) values
 * of the dip, per edge of an interruption, lay outside the interruptions
 * (a step is seen by at most 2 one-cycle windows refreshed every half
 * cycle; one more allows for irregular cycles).  So a supply that drops to
 * 2 % for 2 s gives one interruption and no dip (EN 50160: an
 * interruption is not also counted as a dip), while a 300-ms fault dip, a
 * 500-ms breaker opening and a 300-ms reclose onto the fault give the
 * interruption and a dip around it flagged PQ_EVF_INTERRUPTION (the
 * standard's view: the interruption is a separate event inside the dip).
 *
 * Classification: EN 50160 cell (curves.h) from residual_pct (dips and
 * interruptions, the "X" row) or max_pct (swells) and duration_s; "" for
 * RVC and current events or outside the tables.  ITIC and SEMI F47 are
 * evaluated per segment, as OPQ does: for every phase and every level of
 * the curves (50, 70, 80, 90, 110, 120, 140, 200, 500 %) each continuous
 * run of Urms(1/2) beyond that level is classified by its duration and its
 * least severe value (the magnitude held for the whole run); the event
 * takes the worst verdict.  A rectangular event gets the verdict of its
 * (residual, duration) point up to the smearing of its edges; a two-step
 * event (brief deep notch, long shallow tail) is judged on each part, not
 * on the deep value for the whole duration.  Curve magnitudes are % of
 * udin_v (equipment nominal) even with sliding_reference.  SEMI F47: dips
 * and interruptions only (NA for the rest, and for events shorter than
 * 50 ms); ITIC: NA for current events.
 *
 * Sliding reference Usr (reference §1.4, 1-min first-order low-pass of the
 * 10/12-cycle RMS): approximated from the half-cycle stream by taking every
 * other Urms(1/2) value (adjacent, non-overlapping one-cycle windows),
 * combining 10/12 of them into one RMS (weighted by their periods), and
 * updating Usr = a Usr + (1 - a) U with a = exp(-T/60 s), T that block's
 * duration (0.9967 for 200 ms).  Usr starts at udin_v and is frozen during
 * dips, swells and interruptions (blocks touching one are dropped: those
 * values are flagged, 4.7, and must not drag their own reference).
 *
 * One detector per stream and thread.  pq_events_new() allocates all it
 * will use; feeding allocates nothing.  Pure: time comes from the values.
 */
#ifndef PQGATE_EVENTS_H
#define PQGATE_EVENTS_H

#include <stdint.h>

#include "pq/engine.h"

enum pq_event_kind {
    PQ_EV_DIP,
    PQ_EV_SWELL,
    PQ_EV_INTERRUPTION,
    PQ_EV_RVC,
    PQ_EV_CURRENT_SAG,
    PQ_EV_CURRENT_SWELL,
    PQ_EV_KIND_COUNT,
};

enum pq_event_flag {
    PQ_EVF_UNFINISHED = 1u << 0,   /* closed by pq_events_finish(): the data
                                      ended during the event */
    PQ_EVF_INTERRUPTION = 1u << 1, /* a dip with interruption(s) inside,
                                      reported separately */
    PQ_EVF_SYNTHETIC = 1u << 2,    /* some half cycles had no zero crossings
                                      (pq_halfcycle.synthetic) */
};

struct pq_events_cfg {
    double udin_v; /* declared input voltage of what is compared: L-N (wye/single) or L-L
                      (delta, use_ll set) */
    int nph;       /* 1 or 3 */
    int use_ll;    /* compare pq_halfcycle.u_ll_rms instead of u_rms (3-wire delta) */
    double f_nominal_hz; /* 50/60: RVC uses 100/120 half cycles, Usr 10/12 cycles */
    double dip_pct, swell_pct, interruption_pct, hysteresis_pct; /* 0: 90, 110, 5, 2 */
    int sliding_reference; /* MV option: dip/swell thresholds relative to Usr */
    double rvc_pct, rvc_hysteresis_pct; /* 0: RVC off / half of rvc_pct */
    double i_nominal_a;                 /* current sag/swell reference; 0: off */
    double i_sag_pct, i_swell_pct;      /* 0: 50, 150 */
};

struct pq_event {
    int kind;                 /* enum pq_event_kind */
    int64_t start_ns, end_ns; /* UTC */
    double duration_s;
    unsigned phases;                 /* bit 0 A, 1 B, 2 C (for delta: AB, BC, CA): the
                                        channels beyond the threshold at some time (RVC:
                                        that left the steady state by more than rvc_pct) */
    double residual_v, residual_pct; /* dip, interruption, current sag: lowest
                                        value of any phase; NaN otherwise */
    double max_v, max_pct;           /* swell, current swell: highest; NaN otherwise */
    double ph_extreme_v[3];  /* per phase: lowest (dip...) or highest (swell...) value
                                during the event; RVC: the value farthest from the
                                mean before; NaN for phases not measured */
    double ph_duration_s[3]; /* per phase: time beyond the threshold (RVC: the
                                event's duration for the phases in `phases`) */
    double rvc_du_max_v, rvc_du_ss_v; /* RVC: delta U max and delta U steady-state
                                         (reference 1.9); NaN otherwise */
    char en50160[4]; /* "A1".."X5", "S1".."T4" (reference 4.4), "" if none */
    int itic;        /* enum pq_itic */
    int semi_f47;    /* enum pq_semi */

    /* Extensions. */
    unsigned flags; /* enum pq_event_flag */
    double ref_v;   /* what the _pct values are relative to: udin_v, the
                       channel's Usr at the start (sliding reference), or
                       i_nominal_a.  With Usr, residual/max is the channel
                       deepest in % of its own Usr. */
    double rvc_du_max_pct, rvc_du_ss_pct; /* of udin_v; NaN if not an RVC.
                                             du_ss NaN too if unfinished */
    /* Disturbance direction (pq/direction.h), filled by whoever has the
     * waveforms (pq/meter.c) for dips and swells; 0 (unknown) here. */
    int direction;     /* enum pq_direction */
    double confidence; /* 0..1 */
};

struct pq_events_out {
    void (*start)(void *ctx, int kind, int64_t start_ns); /* may be NULL */
    void (*end)(void *ctx, const struct pq_event *ev);    /* may be NULL; ev lives
                                                             for the call */
    void *ctx;
};

struct pq_events;

/* Check cfg and allocate the detector.  Returns 0 and the detector in *ev,
 * -EINVAL for a NULL argument or an impossible setting, or -ENOMEM.
 * Impossible: udin_v <= 0, nph not 1 or 3, use_ll with nph 1, f_nominal_hz
 * not 50 or 60, a negative, infinite or NaN value, RVC hysteresis >=
 * rvc_pct, or thresholds some event could not end from at the nominal
 * value: not interruption + hysteresis < dip, dip + hysteresis < 100 <
 * swell - hysteresis, i_sag + hysteresis < 100 < i_swell - hysteresis
 * (the first two as config/cfg_events.c checks them).  out is copied; it
 * may be NULL. */
int pq_events_new(const struct pq_events_cfg *cfg, const struct pq_events_out *out,
                  struct pq_events **ev);
void pq_events_free(struct pq_events *ev); /* NULL: no-op */

/* One Urms(1/2)/Irms(1/2) set, the next in time.  Reads h->u_rms (or
 * u_ll_rms) and h->i_rms of the cfg's nph channels; h->nph is not read. */
void pq_events_halfcycle(struct pq_events *ev, const struct pq_halfcycle *h);

/* End of data: close the events in progress at t_ns (flag
 * PQ_EVF_UNFINISHED; an unfinished RVC has no rvc_du_ss) and start over:
 * the next value begins a new stream (RVC start-up, Usr = udin_v). */
void pq_events_finish(struct pq_events *ev, int64_t t_ns);

/* Events in progress: bit (1u << kind) for each kind running. */
unsigned pq_events_active(const struct pq_events *ev);

/* "dip", "swell", "interruption", "rvc", "current-sag", "current-swell";
 * "?" for an unknown kind.  Never NULL. */
const char *pq_event_kind_name(int kind);

#endif
