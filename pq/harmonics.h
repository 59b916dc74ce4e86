/* harmonics.h - IEC 61000-4-7 grouping of one basic window's spectrum, and
 * the distortion indices built on the groups.
 *
 * Input is the FFTW r2c output of one channel's window of exactly ncycles
 * fundamental cycles (10 at 50 Hz, 12 at 60 Hz) resampled to m points
 * (pq/resample.h), so harmonic h sits on bin ncycles*h and the bins are
 * 5 Hz apart.  Pure functions: no state, no allocation, thread-safe.
 *
 * Note for callers built with -Wpedantic: C11 does not convert
 * fftw_complex * (double (*)[2]) to const double (*)[2] implicitly, so pass
 * (const double (*)[2]) out.
 */
#ifndef PQGATE_HARMONICS_H
#define PQGATE_HARMONICS_H

#include <stddef.h>

#include "pq/record.h" /* PQ_MAX_H */

/* Group one spectrum.  X: m/2 + 1 bins; ncycles: N, an even number 4..32
 * (10 or 12 in use).  Amplitudes are RMS: C_k = |X_k| * sqrt(2) / m.
 * For h = 1..PQ_MAX_H fills
 *   sg[h-1]  harmonic subgroup G_sg,h: bins N*h-1 .. N*h+1
 *   g[h-1]   harmonic group G_g,h: bins N*h-N/2 .. N*h+N/2, the two edge
 *            bins at half weight
 *   deg[h-1] phase of bin N*h in degrees, (-180, 180], cosine reference:
 *            x(t) = sqrt(2) C cos(2 pi h f t + phi) gives phi at the window
 *            start (0 for an empty bin; within 1e-8 degree)
 * and for n = 0..PQ_MAX_H-1
 *   isg[n]   interharmonic centred subgroup C_isg,n between orders n and
 *            n+1: bins N*n+2 .. N*n+N-2
 * Any output pointer may be NULL to skip it.  Bins beyond m/2 count as
 * zero; an invalid ncycles or m zeroes every requested output. */
void pq_harmonics(const double (*X)[2], size_t m, int ncycles, double *sg, double *g,
                  double *deg, double *isg);

/* Interharmonic groups C_ig,n between orders n and n+1 (bins N*n+1 ..
 * N*n+N-1), n = 0..PQ_MAX_H-1, into ig (same conventions as above). */
void pq_interharmonic_groups(const double (*X)[2], size_t m, int ncycles, double *ig);

/* Total harmonic distortion in %: sqrt(sum_{h=2..hmax} mag[h-1]^2) / mag[0]
 * * 100, mag[h-1] the order-h subgroup (THDS) or group (THDG).  0 if
 * mag[0] == 0 or hmax < 2. */
double pq_thd_pct(const double *mag, int hmax);

/* IEEE 519 total demand distortion in %: sqrt(sum_{h=2..hmax} mag[h-1]^2) /
 * il_a * 100, il_a the maximum demand load current.  0 if il_a <= 0. */
double pq_tdd_pct(const double *mag, int hmax, double il_a);

/* K-factor: sum(h^2 I_h^2) / sum(I_h^2) over h = 1..hmax, I_h = mag[h-1].
 * 1 for a pure fundamental; 0 if every magnitude is 0. */
double pq_k_factor(const double *mag, int hmax);

#endif
