/* resample.c - polyphase Kaiser-sinc resampling, with a halfband decimator
 * in front when downsampling by 2 or more.
 *
 * Method.  The output at time t is sum_j h(t - n_j) x[n_j] with h a
 * Kaiser-windowed sinc (72 dB design), tabulated at 64 phases per input
 * sample and interpolated linearly between phases (the table is
 * pre-emphasised with [-1/12, 7/6, -1/12] along the phase axis, which
 * cancels the sinc^2 droop of linear interpolation).  Lanes are channels:
 * one frame of an 8-channel meter is one 8-float vector, so a tap is one
 * broadcast coefficient times one vector load, shared by 8 channels, and
 * the coefficients of an output are computed once for all of them.
 *
 * Why these choices, with the figures that decided them (8 channels,
 * 2048 points, dev machine, AVX2 path; FFT floor = 8 FFTW r2c of 2048,
 * 13.3 us):
 *  - The kernel is specified in output units: flat to `pass` of the output
 *    rate, stopped from 1 - pass, the lowest frequency that aliases onto the
 *    flat band; the bins in between are never read.  That transition is
 *    wide (0.38 of the output rate for the IEC band at N = 10), so the
 *    kernel spans 12.6 output samples, about 2 x 6.3 x step input taps.
 *  - Kernels are tabulated for 18 scales 1.04^j; the table of the largest
 *    scale <= step is used, its edges being designed 4 % inside so that they
 *    stay inside the specification over the step range of the table.
 *  - Downsampling by 2 or more (512 samples/cycle: step 2.2..3.5) first
 *    halves the rate with a symmetric halfband (80 dB, 4..9 coefficient
 *    pairs, zero phase): the fractional stage then runs at step 1..2 with
 *    16 instead of 32 taps at 50 Hz.  Measured at step 2.5: 23.5 us
 *    (halfband 6, fractional 12.5, float-to-double transpose 3.5) against
 *    ~34 us for the direct 32-tap kernel.
 *  - Upsampling (128 samples/cycle) uses one kernel flat to 0.42 of the
 *    input rate: nothing above the input Nyquist exists to recover.
 *  - Accumulation in float (input is float; 24-bit rounding sits 140 dB
 *    down), output double for FFTW.  Times in 16.48 fixed point: per-output
 *    float/int conversions cost more than the coefficient arithmetic.
 *  - On x86-64 the same code is compiled a second time for AVX2+FMA and
 *    picked at run time, as FFTW does for its own codelets; elsewhere (and
 *    on old x86) the generic GCC-vector code is SSE2/NEON.
 *  Alternatives rejected: an FFT-domain resampler needs FFTs longer than
 *  the window (>= 4x the floor); polynomial (Farrow/Lagrange) interpolators
 *  cost more taps for the same flatness and do not anti-alias; IIR
 *  halfbands are cheaper but not linear-phase (angles).
 *
 * Accuracy reached, resample + FFT, cosines at orders 1..63, 42.5..69 Hz
 * (tests/unit/test_resample.c): worst magnitude error 0.047 % (512
 * samples/cycle), 0.036 % (256), 0.033 % (128, orders up to 0.42 fs);
 * worst angle error 0.003 degree; what aliases onto the flat band is
 * >= 73 dB down.  At 128 samples/cycle the orders above 0.42 fs (53 at
 * 50 Hz, 46 at 57.5 and 69 Hz) are in the transition band and not valid.
 *
 * Speed (tests/bench/bench_resample.c, 512 samples/cycle at 50 Hz): 23.5 us
 * per window with the IEC band (1.8x the FFT floor), 30.7 us with the
 * default band (2.3x), 62 us on the generic SSE2 path; 17 us at 256
 * samples/cycle (1.3x).  The FIR is bound by its two loads per tap
 * (coefficient broadcast + frame), about one cycle per tap.
 */
#include "pq/resample.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#define RS_LANES       8 /* channels per vector: one frame of an 8-channel meter */
#define RS_PHASE_BITS  6
#define RS_PHASES      (1 << RS_PHASE_BITS) /* kernel table rows per input sample */
#define RS_FIX_BITS    48                   /* fraction bits of fixed-point times */
#define RS_FIX_ONE     281474976710656.0    /* 2^48 */
#define RS_FIX_ONE_U   ((uint64_t) 1 << RS_FIX_BITS)
#define RS_MU_SCALE    (1.0f / (float) ((uint64_t) 1 << (RS_FIX_BITS - RS_PHASE_BITS)))
#define RS_ATTEN_DB    72.0 /* Kaiser design attenuation, fractional stage */
#define RS_HB_ATTEN_DB 80.0 /* and halfband */
#define RS_RHO         1.04 /* ratio of neighbouring kernel scales */
#define RS_NTAB        18   /* scales RS_RHO^0..RS_RHO^17 cover steps 1..2 */
#define RS_MAX_ROW     128  /* longest kernel, taps */
#define RS_HB_MAX      32   /* halfband coefficient pairs, at most */
#define RS_NHB         8    /* halfband designs */
#define RS_BLOCK       128  /* outputs per block */
#define RS_SUB         16   /* outputs per batch of coefficients */
#define RS_BUF         544  /* halfband output frames held at once */

typedef float v8f __attribute__((vector_size(RS_LANES * sizeof(float))));
typedef float v4f __attribute__((vector_size(4 * sizeof(float))));
typedef double v4d __attribute__((vector_size(4 * sizeof(double))));

/* One polyphase kernel.  The output at time t (in input frames of its
 * stage) is sum_j coef[p][j] * x[floor(t) - (half - 1) + j], j < ntaps,
 * with the row interpolated linearly between p = floor(frac(t) * RS_PHASES)
 * and p + 1. */
struct rs_kernel {
    double scale; /* input frames per kernel unit */
    int half;     /* ceil(half-width in frames); ntaps = 2 * half */
    int ntaps;
    int rowlen;  /* ntaps rounded up to RS_LANES; the tail is zero */
    float *coef; /* RS_PHASES + 1 rows */
};

/* Halfband decimator by 2: y = x[0]/2 + sum_q h[q] (x[-(2q+1)] + x[2q+1]). */
struct rs_halfband {
    double smin; /* valid for steps >= smin */
    int npair;
    float h[RS_HB_MAX];
};

typedef void rs_fir_fn(const struct rs_kernel *k, const float *src, ptrdiff_t stride,
                       int lanes, double t0, double step, int nb, v8f *y);
typedef void rs_hb_fn(const struct rs_halfband *h, const float *src, ptrdiff_t stride,
                      int lanes, int count, v8f *y);
typedef void rs_scatter_fn(const v8f *y, int nb, int lanes, double *const *out,
                           size_t m0);

struct pq_resampler {
    size_t m_out;
    double pass;
    double pass_up;
    struct rs_kernel up;            /* step < 1 */
    struct rs_kernel down[RS_NTAB]; /* step (after halfband) in [RHO^j, RHO^j+1) */
    struct rs_halfband hb[RS_NHB];
    rs_fir_fn *fir;
    rs_hb_fn *halfband;
    rs_scatter_fn *scatter;
    const char *isa;
};

static const double hb_smin[RS_NHB] = {2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75};

/* ---- design (start-up only) ---- */

static double bessel_i0(double x)
{
    double sum = 1.0;
    double term = 1.0;

    for (int k = 1; k < 200; k++) {
        double q = x / (2.0 * k);

        term *= q * q;
        sum += term;
        if (term < 1e-17 * sum) {
            break;
        }
    }
    return sum;
}

/* Kaiser-windowed sinc: cutoff fc cycles per unit, half-width w units,
 * stretched to scale input frames per unit. */
struct rs_design {
    double fc;
    double w;
    double beta;
    double i0beta;
    double scale;
};

static double design_eval(const struct rs_design *d, double tau)
{
    double v = tau / d->scale;
    double r = v / d->w;
    double s;

    if (fabs(r) >= 1.0) {
        return 0.0;
    }
    s = v == 0.0 ? 2.0 * d->fc : sin(2.0 * M_PI * d->fc * v) / (M_PI * v);
    return s * bessel_i0(d->beta * sqrt(1.0 - r * r)) / d->i0beta;
}

/* Kaiser's estimates: ntaps ~ (A - 7.95) / (14.36 * transition) units,
 * beta = 0.1102 (A - 8.7) for A > 50 dB. */
static double kaiser_beta(double atten_db)
{
    return 0.1102 * (atten_db - 8.7);
}

/* Build a kernel flat to fp and stopping from fs (cycles per unit), one
 * unit being scale input frames.  Returns 0, -EINVAL (too long) or
 * -ENOMEM. */
static int kernel_build(struct rs_kernel *k, double fp, double fs, double scale)
{
    /* Linear interpolation between rows multiplies the response by
     * sinc^2(f / RS_PHASES); pre-emphasis [-a, 1 + 2a, -a] along the
     * phase axis with a = 1/12 cancels its f^2 term. */
    const double a = 1.0 / 12.0;
    const double dt = 1.0 / RS_PHASES;
    struct rs_design d;
    double gain = 0.0;
    int lim;

    d.fc = 0.5 * (fp + fs);
    d.w = 0.5 * (RS_ATTEN_DB - 7.95) / (14.36 * (fs - fp));
    d.beta = kaiser_beta(RS_ATTEN_DB);
    d.i0beta = bessel_i0(d.beta);
    d.scale = scale;
    k->scale = scale;
    k->half = (int) ceil(d.w * scale);
    k->ntaps = 2 * k->half;
    k->rowlen = (k->ntaps + RS_LANES - 1) / RS_LANES * RS_LANES;
    if (k->rowlen > RS_MAX_ROW) {
        return -EINVAL;
    }
    k->coef = aligned_alloc(sizeof(v8f), sizeof(float) * (size_t) (RS_PHASES + 1) *
                                             (size_t) k->rowlen);
    if (!k->coef) {
        return -ENOMEM;
    }
    memset(k->coef, 0, sizeof(float) * (size_t) (RS_PHASES + 1) * (size_t) k->rowlen);

    /* DC gain of the continuous kernel, so that every row sums to ~1. */
    lim = k->half * RS_PHASES;
    for (int i = -lim; i <= lim; i++) {
        gain += design_eval(&d, i * dt) * dt;
    }
    for (int p = 0; p <= RS_PHASES; p++) {
        float *row = k->coef + (size_t) p * (size_t) k->rowlen;

        for (int j = 0; j < k->ntaps; j++) {
            double tau = p * dt + (k->half - 1) - j;
            double c = (1.0 + 2.0 * a) * design_eval(&d, tau) -
                       a * (design_eval(&d, tau - dt) + design_eval(&d, tau + dt));

            row[j] = (float) (c / gain);
        }
    }
    return 0;
}

/* Halfband for steps >= smin: flat to pass/smin of the input rate, stopping
 * from 0.5 - pass/smin (what folds onto the flat band when decimating). */
static int halfband_build(struct rs_halfband *h, double pass, double smin)
{
    double fp = pass / smin;
    double ntaps = (RS_HB_ATTEN_DB - 7.95) / (14.36 * (0.5 - 2.0 * fp)) + 1.0;
    int npair = (int) ceil((ntaps + 1.0) / 4.0);
    double beta = kaiser_beta(RS_HB_ATTEN_DB);
    double w = 2.0 * npair; /* window half-width: zero at +-2J */
    double sum = 0.0;

    if (npair > RS_HB_MAX) {
        return -EINVAL;
    }
    h->smin = smin;
    h->npair = npair;
    for (int q = 0; q < npair; q++) {
        double n = 2.0 * q + 1.0;
        double r = n / w;
        double s = sin(M_PI * n / 2.0) / (M_PI * n); /* 0.5 * sinc(n / 2) */
        double c = s * bessel_i0(beta * sqrt(1.0 - r * r)) / bessel_i0(beta);

        h->h[q] = (float) c;
        sum += c;
    }
    for (int q = 0; q < npair; q++) {
        h->h[q] = (float) (h->h[q] * 0.25 / sum); /* DC gain exactly 1 */
    }
    return 0;
}

/* ---- per-window code: compiled once generic and once per extra ISA ---- */

#define RS_INLINE static inline __attribute__((always_inline))

RS_INLINE void load8(v8f *v, const float *p, int lanes)
{
    if (lanes == RS_LANES) {
        memcpy(v, p, sizeof(*v));
        return;
    }
    *v = (v8f){0};
    for (int l = 0; l < lanes; l++) {
        (*v)[l] = p[l];
    }
}

/* y[b] = output at t0 + b * step (in frames of src; 0 <= t0 and
 * t0 + nb * step < 2^15, the range of the fixed-point times), b < nb. */
RS_INLINE void fir_run(const struct rs_kernel *k, const float *src, ptrdiff_t stride,
                       int lanes, double t0, double step, int nb, v8f *y)
{
    float c[RS_SUB][RS_MAX_ROW] __attribute__((aligned(sizeof(v8f))));
    ptrdiff_t n[RS_SUB];
    const int ntaps = k->ntaps;
    const int rowlen = k->rowlen;

    /* Times in 16.48 fixed point: integer steps keep the per-output phase
     * arithmetic off the slow float/int conversions. */
    const uint64_t tfix0 = (uint64_t) (t0 * RS_FIX_ONE + 0.5);
    const uint64_t sfix = (uint64_t) (step * RS_FIX_ONE + 0.5);

    for (int b0 = 0; b0 < nb; b0 += RS_SUB) {
        int ns = nb - b0 < RS_SUB ? nb - b0 : RS_SUB;

        /* Batch the coefficients first: the stores are then long retired
         * when the accumulation below broadcasts them. */
        for (int b = 0; b < ns; b++) {
            uint64_t t = tfix0 + (uint64_t) (b0 + b) * sfix;
            uint64_t frac = t & (RS_FIX_ONE_U - 1);
            int p = (int) (frac >> (RS_FIX_BITS - RS_PHASE_BITS));
            float mu =
                (float) (int64_t) (frac & (RS_FIX_ONE_U / RS_PHASES - 1)) * RS_MU_SCALE;
            const float *r0 = k->coef + (size_t) p * (size_t) rowlen;

            for (int j = 0; j < rowlen; j += RS_LANES) {
                v8f va;
                v8f vb;

                memcpy(&va, r0 + j, sizeof(va));
                memcpy(&vb, r0 + rowlen + j, sizeof(vb));
                va += mu * (vb - va);
                memcpy(&c[b][j], &va, sizeof(va));
            }
            n[b] = (ptrdiff_t) (t >> RS_FIX_BITS) - (k->half - 1);
        }
        /* Two outputs at a time: four independent accumulator chains. */
        int b = 0;

        for (; b + 2 <= ns; b += 2) {
            const float *s0 = src + n[b] * stride;
            const float *s1 = src + n[b + 1] * stride;
            const float *c0 = c[b];
            const float *c1 = c[b + 1];
            v8f a0 = {0};
            v8f a1 = {0};
            v8f a2 = {0};
            v8f a3 = {0};
            v8f v0;
            v8f v1;
            v8f v2;
            v8f v3;

            for (int j = 0; j < ntaps; j += 2) {
                load8(&v0, s0 + j * stride, lanes);
                load8(&v1, s0 + (j + 1) * stride, lanes);
                load8(&v2, s1 + j * stride, lanes);
                load8(&v3, s1 + (j + 1) * stride, lanes);
                a0 += c0[j] * v0;
                a1 += c0[j + 1] * v1;
                a2 += c1[j] * v2;
                a3 += c1[j + 1] * v3;
            }
            y[b0 + b] = a0 + a1;
            y[b0 + b + 1] = a2 + a3;
        }
        for (; b < ns; b++) {
            const float *s0 = src + n[b] * stride;
            v8f a0 = {0};
            v8f a1 = {0};
            v8f v0;
            v8f v1;

            for (int j = 0; j < ntaps; j += 2) {
                load8(&v0, s0 + j * stride, lanes);
                load8(&v1, s0 + (j + 1) * stride, lanes);
                a0 += c[b][j] * v0;
                a1 += c[b][j + 1] * v1;
            }
            y[b0 + b] = a0 + a1;
        }
    }
}

/* y[i] = halfband output centred on src frame 2 * i, i < count. */
RS_INLINE void hb_run(const struct rs_halfband *h, const float *src, ptrdiff_t stride,
                      int lanes, int count, v8f *y)
{
    for (int i = 0; i < count; i++) {
        const float *c = src + 2 * (ptrdiff_t) i * stride;
        v8f acc0;
        v8f acc1 = {0};
        v8f u;
        v8f v;
        int q = 0;

        load8(&acc0, c, lanes);
        acc0 *= 0.5f;
        for (; q + 2 <= h->npair; q += 2) {
            ptrdiff_t o = (2 * q + 1) * stride;

            load8(&u, c - o, lanes);
            load8(&v, c + o, lanes);
            acc1 += h->h[q] * (u + v);
            load8(&u, c - o - 2 * stride, lanes);
            load8(&v, c + o + 2 * stride, lanes);
            acc0 += h->h[q + 1] * (u + v);
        }
        if (q < h->npair) {
            ptrdiff_t o = (2 * q + 1) * stride;

            load8(&u, c - o, lanes);
            load8(&v, c + o, lanes);
            acc1 += h->h[q] * (u + v);
        }
        y[i] = acc0 + acc1;
    }
}

/* The same with npair a constant: the loop unrolls and the coefficients
 * stay in registers.  For 16-register ISAs with 256-bit vectors only (on
 * SSE2 a v8f takes two registers and they would spill). */
RS_INLINE void hb_fixed(const struct rs_halfband *h, const int npair, const float *src,
                        ptrdiff_t stride, int count, v8f *y)
{
    v8f hv[RS_HB_MAX];

    for (int q = 0; q < npair; q++) {
        hv[q] = (v8f){0} + h->h[q];
    }
    for (int i = 0; i < count; i++) {
        const float *c = src + 2 * (ptrdiff_t) i * stride;
        v8f acc0;
        v8f acc1 = {0};
        v8f u;
        v8f v;

        memcpy(&acc0, c, sizeof(acc0));
        acc0 *= 0.5f;
#pragma GCC unroll 16
        for (int q = 0; q < npair; q++) {
            ptrdiff_t o = (2 * q + 1) * stride;

            memcpy(&u, c - o, sizeof(u));
            memcpy(&v, c + o, sizeof(v));
            if (q % 2) {
                acc0 += hv[q] * (u + v);
            } else {
                acc1 += hv[q] * (u + v);
            }
        }
        y[i] = acc0 + acc1;
    }
}

/* fixed: use hb_fixed() for the usual pair counts (4..9: the default and
 * IEC bands) of a full group. */
RS_INLINE void hb_dispatch(const struct rs_halfband *h, const float *src,
                           ptrdiff_t stride, int lanes, int count, v8f *y,
                           const int fixed)
{
    if (!fixed || lanes != RS_LANES) {
        if (lanes == RS_LANES) {
            hb_run(h, src, stride, RS_LANES, count, y);
        } else {
            hb_run(h, src, stride, lanes, count, y);
        }
        return;
    }
    switch (h->npair) {
    case 4:
        hb_fixed(h, 4, src, stride, count, y);
        break;
    case 5:
        hb_fixed(h, 5, src, stride, count, y);
        break;
    case 6:
        hb_fixed(h, 6, src, stride, count, y);
        break;
    case 7:
        hb_fixed(h, 7, src, stride, count, y);
        break;
    case 8:
        hb_fixed(h, 8, src, stride, count, y);
        break;
    case 9:
        hb_fixed(h, 9, src, stride, count, y);
        break;
    default:
        hb_run(h, src, stride, RS_LANES, count, y);
        break;
    }
}

/* out[l][m0 + b] = y[b][l]: a 4x4 transpose per quarter, then float to
 * double four at a time. */
RS_INLINE void scatter_run(const v8f *y, int nb, int lanes, double *const *out, size_t m0)
{
    int b = 0;

    if (lanes == RS_LANES) {
        for (; b + 4 <= nb; b += 4) {
            for (int h = 0; h < RS_LANES; h += 4) {
                const float *f = (const float *) &y[b] + h;
                v4f r0;
                v4f r1;
                v4f r2;
                v4f r3;
                v4f t0;
                v4f t1;
                v4f t2;
                v4f t3;
                v4d d;

                memcpy(&r0, f, sizeof(r0));
                memcpy(&r1, f + RS_LANES, sizeof(r1));
                memcpy(&r2, f + 2 * RS_LANES, sizeof(r2));
                memcpy(&r3, f + 3 * RS_LANES, sizeof(r3));
                t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
                t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
                t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
                t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
                d = __builtin_convertvector(__builtin_shufflevector(t0, t2, 0, 1, 4, 5),
                                            v4d);
                memcpy(out[h] + m0 + b, &d, sizeof(d));
                d = __builtin_convertvector(__builtin_shufflevector(t0, t2, 2, 3, 6, 7),
                                            v4d);
                memcpy(out[h + 1] + m0 + b, &d, sizeof(d));
                d = __builtin_convertvector(__builtin_shufflevector(t1, t3, 0, 1, 4, 5),
                                            v4d);
                memcpy(out[h + 2] + m0 + b, &d, sizeof(d));
                d = __builtin_convertvector(__builtin_shufflevector(t1, t3, 2, 3, 6, 7),
                                            v4d);
                memcpy(out[h + 3] + m0 + b, &d, sizeof(d));
            }
        }
    }
    for (int l = 0; l < lanes; l++) {
        for (int k = b; k < nb; k++) {
            out[l][m0 + (size_t) k] = y[k][l];
        }
    }
}

/* A constant `lanes` of RS_LANES lets the compiler drop the partial-load
 * path from the loops of an 8-channel group. */
#define RS_ISA_FUNCS(suffix, attr, fixed)                                              \
    attr static void fir_##suffix(const struct rs_kernel *k, const float *src,         \
                                  ptrdiff_t stride, int lanes, double t0, double step, \
                                  int nb, v8f *y)                                      \
    {                                                                                  \
        if (lanes == RS_LANES) {                                                       \
            fir_run(k, src, stride, RS_LANES, t0, step, nb, y);                        \
        } else {                                                                       \
            fir_run(k, src, stride, lanes, t0, step, nb, y);                           \
        }                                                                              \
    }                                                                                  \
    attr static void hb_##suffix(const struct rs_halfband *h, const float *src,        \
                                 ptrdiff_t stride, int lanes, int count, v8f *y)       \
    {                                                                                  \
        hb_dispatch(h, src, stride, lanes, count, y, fixed);                           \
    }

RS_ISA_FUNCS(generic, , 0)

static void scatter_generic(const v8f *y, int nb, int lanes, double *const *out,
                            size_t m0)
{
    scatter_run(y, nb, lanes, out, m0);
}

/* x86-64: FFTW picks AVX2/FMA codelets at run time, so do the same here;
 * the baseline (SSE2) build stays the fallback.  ISO C mode turns off FMA
 * contraction, hence fp-contract for GCC (clang contracts by default). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RS_X86 1
#if defined(__clang__)
#define RS_AVX2_ATTR __attribute__((target("avx2,fma")))
#else
#define RS_AVX2_ATTR __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#endif
RS_ISA_FUNCS(avx2, RS_AVX2_ATTR, 1)

/* 8 outputs x 8 channels per pass: an 8x8 transpose in registers, then
 * float to double 4 at a time (GCC splits the generic v4d conversion). */
RS_AVX2_ATTR static void scatter8_avx2(const v8f *y, int nb, int lanes,
                                       double *const *out, size_t m0)
{
    int b = 0;

    if (lanes == RS_LANES) {
        for (; b + 8 <= nb; b += 8) {
            const float *f = (const float *) &y[b];
            __m256 t[8];
            __m256 s[8];

            for (int i = 0; i < 8; i += 2) {
                __m256 r0 = _mm256_loadu_ps(f + i * RS_LANES);
                __m256 r1 = _mm256_loadu_ps(f + (i + 1) * RS_LANES);

                t[i] = _mm256_unpacklo_ps(r0, r1);
                t[i + 1] = _mm256_unpackhi_ps(r0, r1);
            }
            for (int i = 0; i < 8; i += 4) {
                s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
                s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
                s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
                s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
            }
            /* s[c] holds channel c (low half) and c + 4 (high half) of
             * outputs b..b+3; s[c + 4] the same of outputs b+4..b+7. */
            for (int c = 0; c < 4; c++) {
                double *lo = out[c] + m0 + b;
                double *hi = out[c + 4] + m0 + b;

                _mm256_storeu_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(s[c])));
                _mm256_storeu_pd(lo + 4,
                                 _mm256_cvtps_pd(_mm256_castps256_ps128(s[c + 4])));
                _mm256_storeu_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(s[c], 1)));
                _mm256_storeu_pd(hi + 4,
                                 _mm256_cvtps_pd(_mm256_extractf128_ps(s[c + 4], 1)));
            }
        }
    }
    for (int l = 0; l < lanes; l++) {
        for (int k = b; k < nb; k++) {
            out[l][m0 + (size_t) k] = y[k][l];
        }
    }
}
#else
#define RS_X86 0
#endif

/* ---- driver ---- */

static const struct rs_kernel *pick_kernel(const struct pq_resampler *r, double s)
{
    int j;

    if (s < 1.0) {
        return &r->up;
    }
    j = (int) floor(log(s) / log(RS_RHO));
    if (j >= RS_NTAB) {
        j = RS_NTAB - 1;
    }
    return &r->down[j < 0 ? 0 : j];
}

static const struct rs_halfband *pick_halfband(const struct pq_resampler *r, double s)
{
    int i = RS_NHB - 1;

    while (i > 0 && r->hb[i].smin > s) {
        i--;
    }
    return &r->hb[i];
}

/* One group of up to RS_LANES channels; x0 points at frame floor(start) of
 * the group's first channel, t0 = start - floor(start). */
static void run_direct(const struct pq_resampler *r, const float *x0, ptrdiff_t stride,
                       int lanes, double t0, double step, double *const *out)
{
    const struct rs_kernel *k = pick_kernel(r, step);
    v8f y[RS_BLOCK];

    for (size_t m0 = 0; m0 < r->m_out; m0 += RS_BLOCK) {
        int nb = r->m_out - m0 < RS_BLOCK ? (int) (r->m_out - m0) : RS_BLOCK;

        double tb = t0 + (double) m0 * step;
        ptrdiff_t fb = (ptrdiff_t) tb; /* tb >= 0: floor */

        /* Rebased per block, so fixed-point times stay small. */
        r->fir(k, x0 + fb * stride, stride, lanes, tb - (double) fb, step, nb, y);
        r->scatter(y, nb, lanes, out, m0);
    }
}

/* Halfband by 2, then the fractional stage at step / 2.  Halfband frame i is
 * centred on input frame 2i (relative to x0); buf holds frames [lo, hi) and
 * slides along the window. */
static void run_two_stage(const struct pq_resampler *r, const float *x0, ptrdiff_t stride,
                          int lanes, double t0, double step, double *const *out)
{
    const struct rs_halfband *hb = pick_halfband(r, step);
    const double s2 = 0.5 * step;
    const struct rs_kernel *k = pick_kernel(r, s2);
    v8f buf[RS_BUF];
    v8f y[RS_BLOCK];
    ptrdiff_t lo = 0;
    ptrdiff_t hi = 0;
    double fit = (RS_BUF - k->ntaps - 2) / s2;
    int nbmax = fit >= RS_BLOCK ? RS_BLOCK : fit < 1.0 ? 1 : (int) fit;

    for (size_t m0 = 0; m0 < r->m_out; m0 += (size_t) nbmax) {
        int nb = r->m_out - m0 < (size_t) nbmax ? (int) (r->m_out - m0) : nbmax;
        double u0 = 0.5 * (t0 + (double) m0 * step);
        double u1 = 0.5 * (t0 + (double) (m0 + (size_t) nb - 1) * step);
        ptrdiff_t need_lo = (ptrdiff_t) u0 - (k->half - 1);
        /* + 2: fir_run() rounds times in fixed point, floor may move by 1 */
        ptrdiff_t need_hi = (ptrdiff_t) u1 + k->half + 2;

        if (need_lo >= lo && need_lo < hi) {
            memmove(buf, buf + (need_lo - lo), (size_t) (hi - need_lo) * sizeof(*buf));
        } else {
            hi = need_lo;
        }
        lo = need_lo;
        if (need_hi > hi) {
            r->halfband(hb, x0 + 2 * hi * stride, stride, lanes, (int) (need_hi - hi),
                        buf + (hi - lo));
            hi = need_hi;
        }
        r->fir(k, (const float *) buf, RS_LANES, RS_LANES, u0 - (double) lo, s2, nb, y);
        r->scatter(y, nb, lanes, out, m0);
    }
}

void pq_resample(const struct pq_resampler *r, const float *x, size_t nch, double start,
                 double step, double *const *out)
{
    double base = floor(start);
    const float *xb;

    if (!(step > 0.0) || nch == 0) {
        return;
    }
    xb = x + (ptrdiff_t) base * (ptrdiff_t) nch;
    for (size_t g0 = 0; g0 < nch; g0 += RS_LANES) {
        int lanes = nch - g0 < RS_LANES ? (int) (nch - g0) : RS_LANES;

        if (step >= 2.0) {
            run_two_stage(r, xb + g0, (ptrdiff_t) nch, lanes, start - base, step,
                          out + g0);
        } else {
            run_direct(r, xb + g0, (ptrdiff_t) nch, lanes, start - base, step, out + g0);
        }
    }
}

size_t pq_resample_margin(const struct pq_resampler *r, double step)
{
    if (step >= 2.0) {
        const struct rs_halfband *hb = pick_halfband(r, step);
        const struct rs_kernel *k = pick_kernel(r, 0.5 * step);

        return (size_t) (2 * k->half + 2 * hb->npair + 1);
    }
    return (size_t) pick_kernel(r, step)->half + 1;
}

size_t pq_resample_margin_max(const struct pq_resampler *r)
{
    size_t m = (size_t) r->up.half + 1;
    int npair = 0;

    for (int j = 0; j < RS_NTAB; j++) {
        if ((size_t) r->down[j].half + 1 > m) {
            m = (size_t) r->down[j].half + 1;
        }
    }
    for (int i = 0; i < RS_NHB; i++) {
        npair = r->hb[i].npair > npair ? r->hb[i].npair : npair;
    }
    if ((size_t) (2 * r->down[RS_NTAB - 1].half + 2 * npair + 1) > m) {
        m = (size_t) (2 * r->down[RS_NTAB - 1].half + 2 * npair + 1);
    }
    return m;
}

double pq_resample_pass_iec(int ncycles, int hmax, size_t m_out)
{
    if (m_out == 0) {
        return 0.0;
    }
    return (double) (ncycles * hmax + ncycles / 2) / (double) m_out;
}

const char *pq_resampler_isa(const struct pq_resampler *r)
{
    return r->isa;
}

/* ---- life cycle ---- */

void pq_resampler_free(struct pq_resampler *r)
{
    if (!r) {
        return;
    }
    free(r->up.coef);
    for (int j = 0; j < RS_NTAB; j++) {
        free(r->down[j].coef);
    }
    free(r);
}

int pq_resampler_new(size_t m_out, struct pq_resampler **out)
{
    return pq_resampler_new_opts(m_out, NULL, out);
}

int pq_resampler_new_opts(size_t m_out, const struct pq_resample_opts *o,
                          struct pq_resampler **out)
{
    struct pq_resampler *r;
    double pass = o && o->pass != 0.0 ? o->pass : PQ_RESAMPLE_PASS_DEFAULT;
    double pass_up = o && o->pass_up != 0.0 ? o->pass_up : PQ_RESAMPLE_PASS_UP_DEFAULT;
    int rc = 0;

    if (m_out == 0 || !(pass >= 0.05 && pass <= 0.45) ||
        !(pass_up >= 0.05 && pass_up <= 0.47)) {
        return -EINVAL;
    }
    if (pass_up < pass) {
        pass_up = pass;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        return -ENOMEM;
    }
    r->m_out = m_out;
    r->pass = pass;
    r->pass_up = pass_up;

    /* Upsampling: in input units, flat to pass_up, images of the flat band
     * (from 1 - pass_up) stopped. */
    rc = kernel_build(&r->up, pass_up, 1.0 - pass_up, 1.0);
    /* Downsampling, kernel j used for steps s in [RHO^j, RHO^j+1): in output
     * units its edges move to fp * s / RHO^j >= pass and
     * fs * s / RHO^j < 1 - pass, the lowest frequency that aliases onto the
     * flat band. */
    for (int j = 0; j < RS_NTAB && rc == 0; j++) {
        rc = kernel_build(&r->down[j], pass, (1.0 - pass) / RS_RHO, pow(RS_RHO, j));
    }
    for (int i = 0; i < RS_NHB && rc == 0; i++) {
        rc = halfband_build(&r->hb[i], pass, hb_smin[i]);
    }
    if (rc < 0) {
        pq_resampler_free(r);
        return rc;
    }
    r->fir = fir_generic;
    r->halfband = hb_generic;
    r->scatter = scatter_generic;
    r->isa = "generic";
#if RS_X86
    if (!(o && o->generic) && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
        r->fir = fir_avx2;
        r->halfband = hb_avx2;
        r->scatter = scatter8_avx2;
        r->isa = "avx2+fma";
    }
#endif
    *out = r;
    return 0;
}
