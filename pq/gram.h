/* gram.h - the engine's per-sample kernel: over a run of frames, the sum
 * of every product x_i * x_j of the channels (the Gram matrix) and each
 * channel's peak |x|.
 *
 * Every quadratic quantity of a half cycle follows exactly from it: the
 * squares (RMS), u*i (active power), (ua - ub)^2 (line-line RMS), and the
 * voltages to a virtual star point (ua - (ua + ub + uc) / 3).  One pass of
 * 8-lane vector arithmetic per frame replaces a dozen scalar sums.
 */
#ifndef PQGATE_GRAM_H
#define PQGATE_GRAM_H

#include <stddef.h>

#define PQ_GRAM_N 8 /* lanes: channels per frame at most */

struct pq_gram {
    double g[PQ_GRAM_N][PQ_GRAM_N]; /* symmetric */
    float peak[PQ_GRAM_N];
};

void pq_gram_zero(struct pq_gram *gm);

/* Add frames [0, n) of x (stride nch floats, nch <= 8).  Reads 8 floats at
 * each frame: the buffer must stay readable for 8 - nch floats after the
 * last frame (their lanes are ignored).  Products are formed in float and
 * summed in double every 32 frames: about 1e-7 relative. */
void pq_gram_add(struct pq_gram *gm, const float *x, size_t nch, size_t n);

#endif
