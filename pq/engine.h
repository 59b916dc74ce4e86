/* engine.h - the metrology engine: samples in, IEC 61000-4-30 records out.
 *
 * Feed it frames of interleaved samples (primary volts and amperes) from a
 * fixed-rate source; the rate need not be locked to the mains.  It tracks
 * the fundamental's zero crossings and emits, through callbacks:
 *
 *   - Urms(1/2), Irms(1/2): one-cycle RMS refreshed every half cycle
 *     (IEC 61000-4-30 5.4.2), the input of the event detectors;
 *   - basic 10/12-cycle records (5.2): RMS, power, harmonics, unbalance...
 *     (struct pq_interval, agg PQ_AGG_200MS), with resync set on the first
 *     record of a series restarted at a 10-min UTC tick (4.5.3);
 *   - the 10-s power frequency (5.1).
 *
 * Aggregation, energy and demand are separate modules fed with the basic
 * records (pq/aggregate.h, pq/energy.h, pq/demand.h).
 *
 * Pure: no I/O, no threads, no clock (time comes from the stream: frame k is
 * at start_ns + k/fs).  Everything is allocated by pq_engine_new(), sized by
 * the sample rate; feeding allocates nothing.  One engine per thread.
 */
#ifndef PQGATE_ENGINE_H
#define PQGATE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "pq/record.h"

#define PQ_MAX_CH 8

/* What a channel carries.  Voltages are measured against a common
 * reference: the neutral for wye and single phase, anything (earth, one
 * phase) for delta, where the engine forms line-line voltages and the
 * virtual star point. */
enum pq_role {
    PQ_ROLE_UA,
    PQ_ROLE_UB,
    PQ_ROLE_UC,
    PQ_ROLE_UN, /* neutral to earth */
    PQ_ROLE_IA,
    PQ_ROLE_IB,
    PQ_ROLE_IC,
    PQ_ROLE_IN,
    PQ_ROLE_OTHER, /* carried, not measured */
    PQ_ROLE_COUNT,
};

enum pq_wiring {
    PQ_WIRING_WYE,
    PQ_WIRING_DELTA,
    PQ_WIRING_SINGLE,
};

struct pq_engine_cfg {
    double fs_hz;        /* sample rate of the source */
    size_t nch;          /* channels per frame, <= PQ_MAX_CH */
    int role[PQ_MAX_CH]; /* enum pq_role per channel */
    int wiring;          /* enum pq_wiring */
    double f_nominal_hz; /* 50 or 60: 10 or 12 cycles per basic window */
    double udin_v;       /* declared input voltage (L-N wye/single, L-L delta) */
    double il_a;      /* IEEE 519 maximum demand current for TDD; 0: TDD not computed */
    int64_t start_ns; /* UTC time of the first frame */
};

/* Urms(1/2) of every channel: RMS over the one cycle ending at t_ns. */
struct pq_halfcycle {
    int64_t t_ns;       /* end of the one-cycle window (a zero crossing) */
    double period_s;    /* length of that cycle */
    double u_rms[3];    /* L-N (delta: to the virtual star point) */
    double u_ll_rms[3]; /* AB, BC, CA */
    double i_rms[4];    /* A, B, C, N */
    int nph;
    int synthetic; /* 1: no voltage zero crossings (interruption):
                      cycles of the nominal period were assumed */
};

struct pq_engine_out {
    void (*halfcycle)(void *ctx, const struct pq_halfcycle *h); /* may be NULL */
    void (*interval)(void *ctx, const struct pq_interval *r,
                     int resync); /* may be NULL */
    /* 10-s frequency over [start_ns, end_ns): whole cycles within it
     * divided by their total duration (5.1.2). */
    void (*freq10s)(void *ctx, int64_t start_ns, int64_t end_ns, double f_hz,
                    unsigned flags); /* may be NULL */
    void *ctx;
};

struct pq_engine;

/* Check cfg and allocate the engine (buffers sized for the sample rate,
 * FFT plans).  Returns 0, -EINVAL for an unusable cfg (no UA channel, a
 * rate below 100 samples per nominal cycle... with the reason in *why), or
 * -ENOMEM.  FFTW planning is not thread-safe: create engines from one
 * thread at a time. */
int pq_engine_new(const struct pq_engine_cfg *cfg, const struct pq_engine_out *out,
                  struct pq_engine **e, const char **why);
void pq_engine_free(struct pq_engine *e); /* NULL: no-op */

/* Feed n frames of cfg.nch interleaved samples, continuing the stream.
 * NaN samples (missing values) are taken as 0 and flag the intervals
 * they fall in.  Callbacks run inside this call. */
void pq_engine_feed(struct pq_engine *e, const float *x, size_t n);

/* Flag [from_ns, to_ns) (a dip, swell or interruption, IEC 61000-4-30
 * 4.7): records overlapping it carry PQ_REC_FLAGGED.  Call before the
 * records concerned are emitted (the detector runs on half-cycle values,
 * ahead of the basic window). */
void pq_engine_flag(struct pq_engine *e, int64_t from_ns, int64_t to_ns);

/* An event in progress: flag from from_ns on, until pq_engine_flag_close()
 * gives its end.  Windows ending after from_ns wait for nothing: they are
 * flagged as they are emitted.  One open flag at a time; opening again
 * extends the one that is open. */
void pq_engine_flag_open(struct pq_engine *e, int64_t from_ns);
void pq_engine_flag_close(struct pq_engine *e, int64_t to_ns);

/* Time of the next frame to be fed (UTC ns). */
int64_t pq_engine_now_ns(const struct pq_engine *e);

#endif
