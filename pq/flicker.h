/* flicker.h - the flickermeter of IEC 61000-4-15 Ed.2 (2010), one channel.
 *
 * Samples of one voltage in, through the five blocks of the standard's
 * clause 4 (description of the instrument; reference §3.1):
 *
 *   block 1  input voltage adaptor: the signal is normalised by its RMS
 *            through a first-order low-pass with tau = 27.3 s (the
 *            standard's adaptor, not a fixed normalisation);
 *   block 2  squaring demodulator;
 *   block 3  0.05 Hz first-order high-pass, 6th-order Butterworth low-pass
 *            at 35 Hz on 50 Hz mains or 42 Hz on 60 Hz mains, and the
 *            lamp-eye weighting filter of the 230 V or the 120 V lamp
 *            (chosen by config, independent of the mains frequency);
 *   block 4  squaring and first-order smoothing, tau = 300 ms: Pinst, the
 *            instantaneous flicker sensation, 1 for the reference stimulus
 *            (8.8 Hz sinusoidal modulation of 0.250 % for the 230 V lamp,
 *            0.321 % for the 120 V lamp, at its maximum);
 *   block 5  on-line statistical classifier: Pst of every 10-min slot of
 *            the UTC clock, Plt of every 2-h slot from its 12 Pst
 *            (reference §3.2), optionally a sliding Plt after every Pst.
 * Slots and flagging follow IEC 61000-4-30 (5.3 flicker, 4.7 flagging).
 *
 * Time comes from the stream: sample k is at start_ns + k / fs_hz (UTC, ns
 * since the epoch).  Slots are aligned to the clock: a Pst slot starts at a
 * multiple of 10 min since the epoch, a Plt slot at a multiple of 2 h.
 *
 * Start-up: the filters need time to settle (the 0.05 Hz high-pass has a
 * 3.2 s time constant, the adaptor's first estimate of the RMS converges in
 * seconds); the first PQ_FLICKER_SETTLE_S seconds of Pinst are left out of
 * the statistics and of pq_flicker_pinst_max(), and the slot they fall in
 * is PARTIAL.  The IEC 61000-4-15 Table 5 checks run 12 min with the slot
 * starting 2 min into the signal; a measurement starting at a slot boundary
 * yields its first complete Pst at the end of the second slot.
 *
 * Pure: no I/O, threads, globals or clock.  pq_flicker_new() allocates
 * everything; feeding allocates nothing.  A struct pq_flicker belongs to one
 * thread; callbacks run inside pq_flicker_feed() and pq_flicker_finish().
 */
#ifndef PQGATE_FLICKER_H
#define PQGATE_FLICKER_H

#include <stddef.h>
#include <stdint.h>

#define PQ_FLICKER_SETTLE_S  30.0 /* Pinst left out of the statistics at start */
#define PQ_FLICKER_MIN_PST_S 60.0 /* least Pinst time for a Pst to be emitted */
/* Pinst samples per second into the classifier: nominal, the decimated rate
 * divided by a whole number (95 to 105 Hz). */
#define PQ_FLICKER_CLS_HZ 100.0
/* Classifier classes: [0, 1e-5), then log-spaced to 1e5 (0.56 % wide);
 * values above 1e5 count in the top one. */
#define PQ_FLICKER_CLASSES 4096
#define PQ_FLICKER_FS_MIN  1000.0
#define PQ_FLICKER_FS_MAX  200000.0

enum pq_lamp { PQ_LAMP_230V, PQ_LAMP_120V };

struct pq_flicker;

struct pq_flicker_out {
    /* Pst of the 10-min UTC slot [start_ns, end_ns); flags PQ_REC_PARTIAL
     * (pq/record.h) when the slot was not fully observed (start of data,
     * the settling time, finish) or PQ_REC_FLAGGED if pq_flicker_flag()
     * marked part of it.  May be NULL. */
    void (*pst)(void *ctx, int64_t start_ns, int64_t end_ns, double pst, unsigned flags);
    /* Plt (IEC 61000-4-15: cube root of the mean of the cubes of 12 Pst)
     * for the 2-h UTC slot, n_pst values used.  With fewer than 12 the mean
     * is over those and flags carry PQ_REC_PARTIAL, as they do when one of
     * them is partial; PQ_REC_FLAGGED when one of them is.  Emitted after
     * the Pst that ends the slot, or by pq_flicker_finish().  May be NULL. */
    void (*plt)(void *ctx, int64_t start_ns, int64_t end_ns, double plt, int n_pst,
                unsigned flags);
    void *ctx;
    /* Sliding Plt, after every Pst: over the Pst of [end_ns - 2 h, end_ns),
     * same rules as plt.  May be NULL (left out of an initialiser). */
    void (*plt_sliding)(void *ctx, int64_t start_ns, int64_t end_ns, double plt,
                        int n_pst, unsigned flags);
};

/* One channel.  fs_hz: sample rate of what pq_flicker_feed() gets
 * (PQ_FLICKER_FS_MIN to PQ_FLICKER_FS_MAX; not locked to the mains);
 * f_nominal_hz: 50 or 60 (mains: picks the 35 or 42 Hz low-pass); lamp: enum
 * pq_lamp (picks the weighting filter and the reference stimulus);
 * u_nominal_v: nominal RMS of the channel, the adaptor's starting estimate
 * (the adaptor then follows the actual RMS: Pinst does not depend on the
 * voltage level); start_ns: UTC of sample 0 (|start_ns| < 2^62).  out is
 * copied (NULL: no callbacks).  Returns 0 with the meter in *f (release
 * with pq_flicker_free()), -EINVAL for a bad argument or -ENOMEM, with *f
 * untouched. */
int pq_flicker_new(double fs_hz, double f_nominal_hz, int lamp, double u_nominal_v,
                   int64_t start_ns, const struct pq_flicker_out *out,
                   struct pq_flicker **f);

void pq_flicker_free(struct pq_flicker *f); /* NULL: no-op */

/* n samples of the channel, element k at x[k * stride] (interleaved frames:
 * stride = channels per frame, >= 1), continuing the stream.  No
 * allocation.  Callbacks run inside.  A non-finite sample is taken as
 * missing: the demodulated signal holds its last value and the slots of
 * the following PQ_FLICKER_SETTLE_S are flagged.  Ignored after
 * pq_flicker_finish(). */
void pq_flicker_feed(struct pq_flicker *f, const float *x, size_t stride, size_t n);

/* IEC 61000-4-30 4.7: mark [from_ns, to_ns) as a dip, swell or
 * interruption.  The Pst slots it overlaps carry PQ_REC_FLAGGED, and so do
 * the Plt values made of them.  Call before the slot ends: a period wholly
 * before the slot in progress is ignored.  Several periods ahead of the slot
 * in progress are kept as their union, from the first start to the last end. */
void pq_flicker_flag(struct pq_flicker *f, int64_t from_ns, int64_t to_ns);

/* End of data: emit the slot in progress (PARTIAL unless the data reached
 * its end) if it has at least PQ_FLICKER_MIN_PST_S of Pinst, then the Plt
 * slot in progress if it has a Pst.  Feeding afterwards does nothing. */
void pq_flicker_finish(struct pq_flicker *f);

/* Latest instantaneous flicker sensation (0 before the first). */
double pq_flicker_pinst(const struct pq_flicker *f);

/* Largest Pinst since pq_flicker_new(), after PQ_FLICKER_SETTLE_S; NaN
 * before that.  Taken at the decimated rate (every value, not only the
 * classifier's samples). */
double pq_flicker_pinst_max(const struct pq_flicker *f);

/* Rate (Hz) the filters after the demodulator run at: fs_hz divided by a
 * whole number, from 1 to 4 kHz (2 to 4 kHz for fs_hz >= 2 kHz). */
double pq_flicker_rate_hz(const struct pq_flicker *f);

/* Plt of n Pst values (IEC 61000-4-15, Block 5): cbrt(sum(pst^3) / n); NaN
 * for n = 0.  For a sliding Plt over the last 12 Pst, or one of a caller's
 * own grouping. */
double pq_plt(const double *pst, size_t n);

#endif
