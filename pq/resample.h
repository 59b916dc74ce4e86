/* resample.h - band-limited resampling of a fixed-rate sample stream onto the
 * IEC 61000-4-7 window grid.
 *
 * The ADC runs at a fixed rate that is not locked to the mains, so a basic
 * window of exactly N fundamental cycles (N = 10 at 50 Hz, 12 at 60 Hz;
 * IEC 61000-4-30 5.8, IEC 61000-4-7 4.4) spans a non-integer number L of
 * input samples.  pq_resample() evaluates the band-limited signal at
 * m_out equally spaced times over the window, so that a DFT of m_out points
 * puts harmonic h exactly on bin N*h.
 *
 * Accuracy contract: output bins k <= pass*m_out (opts.pass, a fraction of
 * the output rate) are kept flat to within 0.05 % (measured through an FFT:
 * 0.047 % worst) with zero phase error (linear-phase kernels; measured
 * 0.003 degree), and input content that would alias onto them is
 * suppressed by at least 70 dB (73 dB measured).  Bins above pass*m_out
 * are not guaranteed.
 * When upsampling (step < 1) the flat band also ends at pass_up of the input
 * rate, because nothing above the input Nyquist exists to resample.
 *
 * A resampler is created at start-up (it allocates its kernel tables, about
 * 0.2 MB with the default band) and is then read-only: pq_resample()
 * allocates nothing (it uses ~30 KB of stack) and may be called on the same
 * resampler from several threads.
 */
#ifndef PQGATE_RESAMPLE_H
#define PQGATE_RESAMPLE_H

#include <stddef.h>

/* Steps up to this are fully anti-aliased (4 covers 512 samples per nominal
 * cycle down to 42.5 Hz with N = 10 and to 51 Hz with N = 12).  A larger
 * step still resamples correctly in the flat band, but the anti-alias
 * stopband then starts above 1 - pass of the output rate. */
#define PQ_RESAMPLE_STEP_MAX 4.0

/* Default flat band: bins up to 0.375 * m_out, i.e. every bin that
 * IEC 61000-4-7 grouping up to h = 63 reads at N = 10 or 12 and m_out = 2048
 * (pq_resample_pass_iec() gives the exact, smaller band, which is cheaper). */
#define PQ_RESAMPLE_PASS_DEFAULT    0.375
#define PQ_RESAMPLE_PASS_UP_DEFAULT 0.42

struct pq_resampler; /* opaque */

struct pq_resample_opts {
    double pass;    /* flat band, fraction of the output rate, 0.05..0.45;
                       0: PQ_RESAMPLE_PASS_DEFAULT */
    double pass_up; /* step < 1: flat band as a fraction of the input rate,
                       0.05..0.47 (raised to pass if below it);
                       0: PQ_RESAMPLE_PASS_UP_DEFAULT */
    int generic;    /* nonzero: never use CPU-specific code (tests, benches) */
};

/* Create a resampler producing m_out (>= 1) points per channel, with default
 * options.  Returns 0 and stores it in *out (release with
 * pq_resampler_free()), or -EINVAL / -ENOMEM with *out untouched. */
int pq_resampler_new(size_t m_out, struct pq_resampler **out);

/* The same with options (o may be NULL for the defaults).  Returns -EINVAL
 * for m_out == 0 or an option out of range. */
int pq_resampler_new_opts(size_t m_out, const struct pq_resample_opts *o,
                          struct pq_resampler **out);

void pq_resampler_free(struct pq_resampler *r); /* NULL is a no-op */

/* The flat band IEC 61000-4-7 grouping needs up to harmonic order hmax with
 * an ncycles-cycle window resampled to m_out points: bins up to
 * ncycles*hmax + ncycles/2 (the upper edge of harmonic group hmax), as a
 * fraction of the output rate.  E.g. (10, 63, 2048) -> 0.3105,
 * (12, 63, 2048) -> 0.3726. */
double pq_resample_pass_iec(int ncycles, int hmax, size_t m_out);

/* Extra input frames pq_resample() reads on each side of the window for this
 * step (see pq_resample()); not monotonic in step.  pq_resample_margin_max()
 * bounds it for every step, for sizing a ring buffer at start-up. */
size_t pq_resample_margin(const struct pq_resampler *r, double step);
size_t pq_resample_margin_max(const struct pq_resampler *r);

/* Resample nch (>= 1) interleaved channels.
 *
 * x holds frames of nch floats, x[f*nch + ch], frame f at time f (input
 * sample units); x may point into a larger buffer, and f may be negative.
 * Writes out[ch][k] = the band-limited signal of channel ch at time
 * start + k*step, k = 0..m_out-1, for ch = 0..nch-1 (out[ch] has m_out
 * doubles).  step = L/m_out > 0; below 1 it upsamples, above 1 it
 * downsamples and first suppresses what would alias (see the contract
 * above).
 *
 * The caller guarantees frames floor(start) - margin ..
 * ceil(start + m_out*step) + margin exist, margin = pq_resample_margin(r,
 * step); nothing outside them is read.  Allocates nothing. */
void pq_resample(const struct pq_resampler *r, const float *x, size_t nch, double start,
                 double step, double *const *out);

/* Name of the code path in use: "avx2+fma" or "generic" (benchmarks). */
const char *pq_resampler_isa(const struct pq_resampler *r);

#endif
