/* harmonics.c - IEC 61000-4-7 groups and subgroups from one window's DFT.
 *
 * Everything works on bin powers C_k^2, summed per group and square-rooted
 * once.  Formulas as in pq-reference.md section 2 (IEC 61000-4-7:2002+A1
 * harmonic subgroup 5.6, group, interharmonic group and centred subgroup),
 * IEEE 519-2014 for TDD and IEEE C57.110 for the K-factor.
 *
 * Cost: each bin's power is taken once (768 bins at N = 12) and the
 * angles use a series atan2 (libm's alone would cost ~5 us for 8 x 63
 * bins, a third of the 8 FFTs).
 */
#include "pq/harmonics.h"

#include <math.h>
#include <string.h>

#define NCYCLES_MAX 32
#define NBINS_MAX   (NCYCLES_MAX * (PQ_MAX_H + 1)) /* bins grouped, at most */

/* Bin powers C_k^2 (RMS squared) of bins 0..n_out-1 into p: |X_k|^2 * 2 / m^2
 * for 0 < k < m/2, and |X_k|^2 / m^2 for DC and the Nyquist bin of an even
 * m, which are not mirrored; bins beyond m/2 are 0. */
static void bin_powers(const double (*X)[2], size_t m, long n_out, double *p)
{
    typedef double v2d __attribute__((vector_size(2 * sizeof(double))));
    const long last = (long) (m / 2);
    const long n_in = n_out <= last ? n_out : last + 1;
    const double scale = 2.0 / ((double) m * (double) m);
    long k = 0;

    /* Two bins per step as (re, im) pairs: square, then add across. */
    for (; k + 2 <= n_in; k += 2) {
        v2d a;
        v2d b;
        v2d s;

        memcpy(&a, X[k], sizeof(a));
        memcpy(&b, X[k + 1], sizeof(b));
        a *= a;
        b *= b;
        s = __builtin_shufflevector(a, b, 0, 2) + __builtin_shufflevector(a, b, 1, 3);
        s *= scale;
        memcpy(p + k, &s, sizeof(s));
    }
    for (; k < n_in; k++) {
        p[k] = (X[k][0] * X[k][0] + X[k][1] * X[k][1]) * scale;
    }
    for (; k < n_out; k++) {
        p[k] = 0.0;
    }
    p[0] *= 0.5;
    if (m % 2 == 0 && last < n_out) {
        p[last] *= 0.5;
    }
}

static double sum(const double *p, long lo, long hi)
{
    double s = 0.0;

    for (long k = lo; k <= hi; k++) {
        s += p[k];
    }
    return s;
}

static int args_ok(size_t m, int ncycles)
{
    /* N >= 4 keeps the half-weight group edges off the subgroup bins. */
    return m >= 2 && ncycles >= 4 && ncycles <= NCYCLES_MAX && ncycles % 2 == 0;
}

static void zero(double *v)
{
    if (v) {
        for (int i = 0; i < PQ_MAX_H; i++) {
            v[i] = 0.0;
        }
    }
}

/* atan2 in degrees, (-180, 180], 0 for (0, 0), within 1e-8 degree: libm's
 * is exact but costs a third of the FFT across 8 x 63 bins.  Octant
 * reduction to t = lo/hi in [0, 1], then above tan(pi/12) atan(t) =
 * pi/6 + atan((t sqrt3 - 1) / (t + sqrt3)), one division either way,
 * leaving |u| <= 0.268 for 8 terms of u - u^3/3 + ... (remainder below
 * 0.268^17 / 17 < 1e-10 rad). */
static double atan2_deg(double y, double x)
{
    const double tan15 = 0.26794919243112270; /* 2 - sqrt(3) */
    const double sqrt3 = 1.7320508075688772;
    double ax = fabs(x);
    double ay = fabs(y);
    double lo = ay < ax ? ay : ax;
    double hi = ay < ax ? ax : ay;
    double u;
    double u2;
    double a;
    double off = 0.0;

    if (hi == 0.0) {
        return 0.0;
    }
    if (lo > tan15 * hi) {
        u = (lo * sqrt3 - hi) / (lo + hi * sqrt3);
        off = M_PI / 6.0;
    } else {
        u = lo / hi;
    }
    u2 = u * u;
    a = 1.0 / 15.0;
    a = 1.0 / 13.0 - u2 * a;
    a = 1.0 / 11.0 - u2 * a;
    a = 1.0 / 9.0 - u2 * a;
    a = 1.0 / 7.0 - u2 * a;
    a = 1.0 / 5.0 - u2 * a;
    a = 1.0 / 3.0 - u2 * a;
    a = off + u * (1.0 - u2 * a);
    if (ay > ax) {
        a = M_PI / 2.0 - a;
    }
    if (x < 0.0) {
        a = M_PI - a;
    }
    a *= 180.0 / M_PI;
    return y < 0.0 ? -a : a;
}

/* One pass over the bins.  The span between orders h and h+1 (bins
 * N*h + 2 .. N*h + N - 2) splits into lo (below the mid bin N*h + N/2),
 * mid and hi: the centred subgroup is lo + mid + hi, and harmonic group
 * h + 1 takes hi, half of mid, then the subgroup of h + 1 and the next
 * span's lo and half mid.  So each bin is summed once. */
/* The pass for N = n; inlined with the N in use as a constant, so the short
 * sums unroll. */
static inline __attribute__((always_inline)) void
group_pass(const double (*X)[2], size_t m, const double *p, long n, double *sg, double *g,
           double *deg, double *isg)
{
    const long half = n / 2;
    const long last = (long) (m / 2);
    double prev_mid = 0.0;
    double prev_hi = 0.0;

    for (long h = 0; h <= PQ_MAX_H; h++) {
        long k = n * h;
        double lo = sum(p, k + 2, k + half - 1);
        double mid = p[k + half];
        double hi = sum(p, k + half + 1, k + n - 2);

        if (h >= 1) {
            /* IEC 61000-4-7 5.6: G_sg,h^2 = sum_{i=-1..1} C_{k+i}^2 */
            double sub = p[k - 1] + p[k] + p[k + 1];

            if (sg) {
                sg[h - 1] = sqrt(sub);
            }
            if (g) {
                /* G_g,h^2 = C_{k-N/2}^2 / 2 + sum_{i=-N/2+1..N/2-1} C_{k+i}^2
                 *         + C_{k+N/2}^2 / 2 */
                g[h - 1] = sqrt(0.5 * prev_mid + prev_hi + sub + lo + 0.5 * mid);
            }
            if (deg) {
                deg[h - 1] = k <= last ? atan2_deg(X[k][1], X[k][0]) : 0.0;
            }
        }
        if (isg && h < PQ_MAX_H) {
            /* C_isg,h^2 = sum_{i=2..N-2} C_{N*h+i}^2 */
            isg[h] = sqrt(lo + mid + hi);
        }
        prev_mid = mid;
        prev_hi = hi;
    }
}

void pq_harmonics(const double (*X)[2], size_t m, int ncycles, double *sg, double *g,
                  double *deg, double *isg)
{
    double p[NBINS_MAX];

    if (!args_ok(m, ncycles)) {
        zero(sg);
        zero(g);
        zero(deg);
        zero(isg);
        return;
    }
    /* spans 0..PQ_MAX_H, the last one's top bin unused: N * (PQ_MAX_H + 1) */
    bin_powers(X, m, (long) ncycles * (PQ_MAX_H + 1), p);
    if (ncycles == 10) {
        group_pass(X, m, p, 10, sg, g, deg, isg);
    } else if (ncycles == 12) {
        group_pass(X, m, p, 12, sg, g, deg, isg);
    } else {
        group_pass(X, m, p, ncycles, sg, g, deg, isg);
    }
}

void pq_interharmonic_groups(const double (*X)[2], size_t m, int ncycles, double *ig)
{
    const long n = ncycles;
    double p[NBINS_MAX];

    if (!ig) {
        return;
    }
    if (!args_ok(m, ncycles)) {
        zero(ig);
        return;
    }
    bin_powers(X, m, n * (PQ_MAX_H + 1), p);
    for (long h = 0; h < PQ_MAX_H; h++) {
        /* C_ig,h^2 = sum_{i=1..N-1} C_{N*h+i}^2 */
        ig[h] = sqrt(sum(p, n * h + 1, n * h + n - 1));
    }
}

static double harmonic_rss(const double *mag, int hmax)
{
    double s = 0.0;

    for (int h = 2; h <= hmax; h++) {
        s += mag[h - 1] * mag[h - 1];
    }
    return sqrt(s);
}

double pq_thd_pct(const double *mag, int hmax)
{
    /* IEC 61000-4-7 THDS/THDG: sqrt(sum_{h=2..H} (G_h / G_1)^2) */
    if (hmax < 2 || mag[0] == 0.0) {
        return 0.0;
    }
    return harmonic_rss(mag, hmax) / mag[0] * 100.0;
}

double pq_tdd_pct(const double *mag, int hmax, double il_a)
{
    /* IEEE 519-2014 3: TDD = sqrt(sum_{h=2..H} I_h^2) / I_L */
    if (!(il_a > 0.0) || hmax < 2) {
        return 0.0;
    }
    return harmonic_rss(mag, hmax) / il_a * 100.0;
}

double pq_k_factor(const double *mag, int hmax)
{
    /* IEEE C57.110 / UL 1561: K = sum(h^2 I_h^2) / sum(I_h^2) */
    double num = 0.0;
    double den = 0.0;

    for (int h = 1; h <= hmax; h++) {
        double p = mag[h - 1] * mag[h - 1];

        num += (double) h * (double) h * p;
        den += p;
    }
    return den > 0.0 ? num / den : 0.0;
}
