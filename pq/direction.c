/* direction.c - disturbance direction from the waveforms around an event.
 *
 * Steps (docs/direction.md says why):
 *  1. inception: the first sample where a voltage or a current departs from
 *     its value one period earlier by more than the pre-event noise; the
 *     end: the first half cycle back on the pre-event waveform;
 *  2. frequency: refined from the phase drift of the pre-event voltages;
 *  3. fundamental phasors, least squares (cos, sin, offset, ramp: the ramp
 *     absorbs most of a decaying DC offset) over the cycle before the
 *     inception and the cycle from half a cycle after it;
 *  4. the indicators, each a sign and a weight in 0..1;
 *  5. the weighted vote.
 *
 * "Steady" values are what a sample would have been without the event:
 * the same point of the pre-event cycles, repeated (Parsons et al.).
 */
#include "pq/direction.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#define MAXCH     6 /* UA UB UC IA IB IC */
#define SS_CYCLES 2 /* pre-event cycles averaged into the steady values */

struct ctx {
    const struct pq_direction_in *in;
    int nph;
    int off[MAXCH];  /* frame offsets: voltages then currents */
    double period;   /* samples per cycle */
    size_t n0;       /* inception */
    size_t end;      /* end of the disturbance, or in->n */
    size_t guard;    /* samples kept clear before n0 */
    double thr[2];   /* change thresholds: voltages, currents */
    double i_floor;  /* peak current below which changes are noise */
    double s_ref_va; /* apparent power scale for the energy indicators */
};

/* ---- samples ---- */

static double at(const struct pq_direction_in *in, size_t k, int off)
{
    size_t f = in->first + k;

    if (in->ring_frames) {
        f %= in->ring_frames;
    }
    return in->x[f * in->stride + (size_t) off];
}

/* Linear interpolation at a fractional window index t >= 0. */
static double at_frac(const struct pq_direction_in *in, double t, int off)
{
    size_t k = (size_t) t;
    double a = t - (double) k;
    double x0 = at(in, k, off);

    if (a == 0.0 || k + 1 >= in->n) {
        return x0;
    }
    return x0 + a * (at(in, k + 1, off) - x0);
}

/* The steady value of channel ch (0..2 nph-1) at k: the mean of the
 * samples SS_CYCLES whole periods earlier, the latest of them before
 * end. */
static double steady(const struct ctx *c, size_t k, int ch, size_t end)
{
    double j = 1.0;
    double acc = 0.0;

    if ((double) k - c->period > (double) end - 1.0) {
        j = ceil(((double) k - ((double) end - 1.0)) / c->period);
    }
    for (int m = 0; m < SS_CYCLES; m++) {
        acc += at_frac(c->in, (double) k - (j + m) * c->period, c->off[ch]);
    }
    return acc / SS_CYCLES;
}

static int sgn(double x)
{
    return (x > 0.0) - (x < 0.0);
}

/* ---- 1. inception and end ---- */

/* Largest |x(k) - x(k - period)| over the channels [from, to). */
static double cycle_diff(const struct ctx *c, size_t k, int from, int to)
{
    double d = 0.0;

    for (int ch = from; ch < to; ch++) {
        double now = at(c->in, k, c->off[ch]);
        double then = at_frac(c->in, (double) k - c->period, c->off[ch]);

        d = fmax(d, fabs(now - then));
    }
    return d;
}

/* Thresholds from [a, b): 4x the largest cycle difference plus 0.5 % of
 * the peak, per group (voltages, currents).  The current floor is 10x
 * that noise. */
static void set_thresholds(struct ctx *c, size_t a, size_t b)
{
    double noise[2] = {0.0, 0.0};
    double peak[2] = {0.0, 0.0};

    for (size_t k = a; k < b; k++) {
        for (int g = 0; g < 2; g++) {
            noise[g] = fmax(noise[g], cycle_diff(c, k, g * c->nph, (g + 1) * c->nph));
            for (int ch = g * c->nph; ch < (g + 1) * c->nph; ch++) {
                peak[g] = fmax(peak[g], fabs(at(c->in, k, c->off[ch])));
            }
        }
    }
    for (int g = 0; g < 2; g++) {
        c->thr[g] = 4.0 * noise[g] + 0.005 * peak[g];
    }
    c->i_floor = fmax(c->i_floor, 10.0 * noise[1]);
}

/* First of 3 consecutive samples in [lo, hi] whose cycle difference
 * exceeds the threshold, in the voltages or in the currents.  Returns 1
 * and sets c->n0, or 0. */
static int find_inception(struct ctx *c, size_t lo, size_t hi)
{
    int run = 0;

    for (size_t k = lo; k <= hi; k++) {
        int hit = cycle_diff(c, k, 0, c->nph) > c->thr[0] ||
                  cycle_diff(c, k, c->nph, 2 * c->nph) > c->thr[1];

        run = hit ? run + 1 : 0;
        if (run == 3) {
            c->n0 = k - 2;
            return 1;
        }
    }
    return 0;
}

/* The end: the start of the first half cycle, after the first eighth,
 * in which every channel stays within its threshold of the steady value
 * (a half cycle passes every peak, so a lasting change shows).  Searched
 * up to two cycles in (later ends leave the phasor window whole); in->n
 * if none. */
static size_t find_end(const struct ctx *c)
{
    size_t a = c->n0 - c->guard;
    size_t from = c->n0 + (size_t) (c->period / 8.0);
    size_t to = c->n0 + (size_t) (2.0 * c->period);
    size_t need = (size_t) (c->period / 2.0);
    size_t run = 0;

    for (size_t k = from; k < to; k++) {
        int quiet = 1;

        for (int ch = 0; ch < 2 * c->nph && quiet; ch++) {
            double d = fabs(at(c->in, k, c->off[ch]) - steady(c, k, ch, a));

            quiet = d <= c->thr[ch < c->nph ? 0 : 1];
        }
        run = quiet ? run + 1 : 0;
        if (run == need) {
            return k + 1 - need;
        }
    }
    return c->in->n;
}

/* ---- 2, 3. phasors ---- */

/* Cholesky solve of the 4x4 normal equations a x = b for nb right sides;
 * the solutions replace b. */
static int solve4(double a[4][4], double b[][4], int nb)
{
    double l[4][4] = {{0.0}};

    for (int i = 0; i < 4; i++) {
        for (int j = 0; j <= i; j++) {
            double s = a[i][j];

            for (int k = 0; k < j; k++) {
                s -= l[i][k] * l[j][k];
            }
            if (i == j) {
                if (!(s > 0.0)) {
                    return -1;
                }
                l[i][i] = sqrt(s);
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    for (int r = 0; r < nb; r++) {
        double y[4];

        for (int i = 0; i < 4; i++) {
            double s = b[r][i];

            for (int k = 0; k < i; k++) {
                s -= l[i][k] * y[k];
            }
            y[i] = s / l[i][i];
        }
        for (int i = 3; i >= 0; i--) {
            double s = y[i];

            for (int k = i + 1; k < 4; k++) {
                s -= l[k][i] * b[r][k];
            }
            b[r][i] = s / l[i][i];
        }
    }
    return 0;
}

/* Fit a cos(w (k - ref)) + b sin(w (k - ref)) + c + d (k - mid) to every
 * channel over [a, a + m); ph[ch] = a - jb, the peak phasor at k = ref. */
static int fit(const struct ctx *c, size_t a, size_t m, double w, double ref,
               double complex ph[MAXCH])
{
    double n[4][4] = {{0.0}};
    double b[MAXCH][4] = {{0.0}};
    double mid = (double) a + 0.5 * (double) (m - 1);
    int nch = 2 * c->nph;

    for (size_t k = a; k < a + m; k++) {
        double th = w * ((double) k - ref);
        double base[4] = {cos(th), sin(th), 1.0, ((double) k - mid) / (double) m};

        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                n[i][j] += base[i] * base[j];
            }
        }
        for (int ch = 0; ch < nch; ch++) {
            double x = at(c->in, k, c->off[ch]);

            for (int i = 0; i < 4; i++) {
                b[ch][i] += base[i] * x;
            }
        }
    }
    if (solve4(n, b, nch) < 0) {
        return -1;
    }
    for (int ch = 0; ch < nch; ch++) {
        ph[ch] = b[ch][0] - I * b[ch][1];
    }
    return 0;
}

/* Refine the frequency from the phase drift of the voltages between the
 * cycle ending at the guard and the cycle two cycles before it; the
 * given frequency if the drift is implausible (over 5 %). */
static double refine_frequency(const struct ctx *c, size_t m)
{
    const struct pq_direction_in *in = c->in;
    double complex p1[MAXCH];
    double complex p2[MAXCH];
    double complex acc = 0.0;
    size_t b = c->n0 - c->guard;
    double w = 2.0 * M_PI / c->period;
    double df;

    if (fit(c, b - 3 * m, m, w, (double) b, p1) < 0 ||
        fit(c, b - m, m, w, (double) b, p2) < 0) {
        return in->f_hz;
    }
    for (int p = 0; p < c->nph; p++) {
        acc += p2[p] * conj(p1[p]);
    }
    df = carg(acc) / (2.0 * M_PI * 2.0 * (double) m / in->fs_hz);
    if (!(fabs(df) <= 0.05 * in->f_hz)) {
        return in->f_hz;
    }
    return in->f_hz + df;
}

/* Positive sequence of three phasors (the phasor itself for one phase). */
static double complex positive(const double complex *p, int nph)
{
    const double complex a = -0.5 + I * (sqrt(3.0) / 2.0);

    if (nph == 1) {
        return p[0];
    }
    return (p[0] + a * p[1] + a * a * p[2]) / 3.0;
}

/* ---- 4. indicators ---- */

static void vote(struct pq_direction_vote *v, double value, int sign, double strength,
                 double factor)
{
    v->value = value;
    v->sign = sign;
    v->strength = strength;
    v->weight = sign ? fmin(1.0, strength) * fmin(1.0, fmax(0.0, factor)) : 0.0;
}

/* Disturbance power at k: the sum over the phases of u i minus its
 * steady value. */
static double dp_at(const struct ctx *c, size_t k, size_t end)
{
    double d = 0.0;

    for (int p = 0; p < c->nph; p++) {
        double u = at(c->in, k, c->off[p]);
        double i = at(c->in, k, c->off[c->nph + p]);

        d += u * i - steady(c, k, p, end) * steady(c, k, c->nph + p, end);
    }
    return d;
}

/* How far the voltage fell over [n0, b): -sum u0 du / sum u0^2, u0 the
 * steady voltage, du the change: the relative fall of the RMS for a
 * scaled wave, about that of the positive sequence for any change. */
static double sag_of(const struct ctx *c, size_t b)
{
    size_t a = c->n0 - c->guard;
    double num = 0.0;
    double den = 0.0;

    for (size_t k = c->n0; k < b; k++) {
        for (int p = 0; p < c->nph; p++) {
            double u0 = steady(c, k, p, a);

            num -= u0 * (at(c->in, k, c->off[p]) - u0);
            den += u0 * u0;
        }
    }
    return den > 0.0 ? num / den : 0.0;
}

/* Parsons et al.: DE, the integral of the disturbance power over the
 * first cycle of the event (or all of it if shorter).
 *
 * DE votes only in a sag.  There an upstream cause leaves the passive
 * load less energy (DE < 0), and a downstream one (fault, motor,
 * transformer) draws more through the meter (DE > 0).  When the voltage
 * rises, an upstream cause gives the load more energy and a downstream
 * capacitor takes its charge: DE > 0 either way, no direction.
 *
 * The initial peak is the first extremum of DP that reaches 20 % of the
 * largest |DP| of the first half cycle: the first response to the step,
 * before any ringing (a capacitor's overshoot can exceed its initial
 * collapse).  Its weight comes from the energy of its lobe (the run of
 * samples of its sign around it), not from one sample, and is halved on a
 * one-phase meter: one phase's u i pulsates at 2f through zero, so the
 * sign of a short lobe depends on the point on wave (the three-phase sum
 * does not pulsate when balanced). */
static void energy(const struct ctx *c, struct pq_direction_result *out)
{
    const struct pq_direction_in *in = c->in;
    size_t a = c->n0 - c->guard;
    size_t end_de = c->n0 + (size_t) c->period;
    size_t end_pk;
    double de = 0.0;
    double big = 0.0;
    double pk = 0.0;
    double prev = 0.0;
    double lobe = 0.0;
    double e_ref = c->s_ref_va * c->period / in->fs_hz;
    double sag;
    size_t k;

    end_de = end_de < c->end ? end_de : c->end;
    end_pk = c->n0 + (size_t) (0.5 * c->period);
    end_pk = end_pk < end_de ? end_pk : end_de;
    for (k = a; k < end_de; k++) {
        double d = dp_at(c, k, a);

        de += d / in->fs_hz;
        if (k < end_pk) {
            big = fmax(big, fabs(d));
        }
    }
    for (k = a; k <= end_pk; k++) {
        double d = dp_at(c, k, a);

        if (fabs(prev) >= 0.2 * big && (fabs(d) < fabs(prev) || sgn(d) != sgn(prev))) {
            pk = prev;
            break;
        }
        prev = d;
    }
    if (pk != 0.0) {
        for (size_t j = k; j-- > a && sgn(dp_at(c, j, a)) == sgn(pk);) {
            lobe += dp_at(c, j, a) / in->fs_hz;
        }
        for (size_t j = k; j < end_de && sgn(dp_at(c, j, a)) == sgn(pk); j++) {
            lobe += dp_at(c, j, a) / in->fs_hz;
        }
    }
    out->lobe_j = lobe;
    sag = sag_of(c, end_de);
    /* full weight: DE 10 % of a cycle's apparent energy in a sag of 5 %;
     * the lobe 1 % of it */
    vote(&out->vote[PQ_DIR_ENERGY], de, sag > 0.0 ? sgn(de) : 0,
         e_ref > 0.0 ? fabs(de) / (0.1 * e_ref) : 0.0, sag / 0.05);
    vote(&out->vote[PQ_DIR_POWER_PEAK], pk, sgn(pk),
         e_ref > 0.0 ? fabs(lobe) / (0.01 * e_ref) : 0.0, c->nph == 3 ? 1.0 : 0.5);
}

/* Kim, Santoso et al.: at the inception the changes of u and of di/dt have
 * opposite signs when the disturbance is downstream (the meter sees the
 * source inductance: du = -L d(di)/dt) and equal signs when upstream (it
 * sees the load's).  Least squares over the first 1/16 cycle, all
 * phases: L = -sum du d(di)/dt / sum (d(di)/dt)^2. */
static void gradient(const struct ctx *c, double u_pk, struct pq_direction_result *out)
{
    const struct pq_direction_in *in = c->in;
    size_t a = c->n0 - c->guard;
    size_t b = c->n0 + (size_t) (c->period / 16.0) + 1;
    double suv = 0.0;
    double sdd = 0.0;
    double svv = 0.0;
    double l;
    double corr;
    double du_rms;
    size_t cnt = 0;

    for (size_t k = c->n0 - 1; k < b; k++) {
        cnt += (size_t) c->nph;
        for (int p = 0; p < c->nph; p++) {
            int ip = c->nph + p;
            double du = at(in, k, c->off[p]) - steady(c, k, p, a);
            double di1 = at(in, k + 1, c->off[ip]) - steady(c, k + 1, ip, a);
            double di0 = at(in, k - 1, c->off[ip]) - steady(c, k - 1, ip, a);
            double didt = (di1 - di0) * in->fs_hz / 2.0;

            suv += du * didt;
            sdd += didt * didt;
            svv += du * du;
        }
    }
    if (!(sdd > 0.0) || !(svv > 0.0)) {
        return;
    }
    l = -suv / sdd;
    corr = fabs(suv) / sqrt(sdd * svv);
    du_rms = sqrt(svv / (double) cnt);
    /* full weight: a 2 % step, well explained by an inductance */
    vote(&out->vote[PQ_DIR_GRADIENT], l, sgn(l),
         u_pk > 0.0 ? du_rms / (0.02 * u_pk) : 0.0, corr / 0.5);
}

/* Tayjasanant et al.: Z = -dU/dI seen from the meter is the impedance of
 * the side without the disturbance; its real part is positive (a passive
 * source side) when the disturbance is downstream and negative (minus the
 * load) when upstream.  Three phases: R = -Re(sum dU dI*) / sum |dI|^2,
 * positive for any passive upstream network, coupled or not.
 *
 * The same Z gives a second, derived test on the positive sequence: |Z1|
 * is the source impedance (a few % of the load's U1/I1) for a downstream
 * cause and the load's own (ratio about 1) for an upstream one.  Not the
 * zero sequence: an impedance-earthed source has a large one by design. */
static void impedance(const struct ctx *c, const double complex *pre,
                      const double complex *post, struct pq_direction_result *out)
{
    int nph = c->nph;
    double complex num = 0.0;
    double di2 = 0.0;
    double du2 = 0.0;
    double u2 = 0.0;
    double i2 = 0.0;
    double fl2 = c->i_floor * c->i_floor;
    double complex du1 = positive(post, nph) - positive(pre, nph);
    double complex di1 = positive(post + nph, nph) - positive(pre + nph, nph);
    double u1 = cabs(positive(pre, nph));
    double i1 = fmax(cabs(positive(pre + nph, nph)), c->i_floor);
    double r;
    double x;
    double cosang;
    double rho;

    for (int p = 0; p < nph; p++) {
        double complex du = post[p] - pre[p];
        double complex di = post[nph + p] - pre[nph + p];
        double ipk = fmax(cabs(pre[nph + p]), cabs(post[nph + p]));

        num += du * conj(di);
        di2 += creal(di * conj(di));
        du2 += creal(du * conj(du));
        u2 += creal(pre[p] * conj(pre[p]));
        i2 += fmax(ipk * ipk, fl2);
    }
    if (!(di2 > 0.0) || !(i2 > 0.0) || !(u2 > 0.0) || !(u1 > 0.0) || !(i1 > 0.0)) {
        return;
    }
    r = -creal(num) / di2;
    x = -cimag(num) / di2;
    out->x_ohm = x;
    cosang = hypot(r, x) > 0.0 ? fabs(r) / hypot(r, x) : 0.0;
    /* full weight: a 5 % current change, a 1 % voltage change, and the
     * angle of Z at least 6 degrees away from +-90 */
    vote(&out->vote[PQ_DIR_RESISTANCE], r, sgn(r), sqrt(di2 / i2) / 0.05,
         fmin(sqrt(du2 / u2) / 0.01, cosang / 0.1));

    if (!(cabs(di1) > 0.0)) {
        return;
    }
    /* full weight: a factor of 2 away from 0.25, and a 0.2 % change of U1 */
    rho = cabs(du1) / cabs(di1) / (u1 / i1);
    vote(&out->vote[PQ_DIR_IMPEDANCE], rho, rho < 0.25 ? 1 : -1, fabs(log2(rho / 0.25)),
         cabs(du1) / u1 / 0.002);
}

/* Hamzah et al.: in a sag the real (in-phase) current through the meter
 * rises when the cause is downstream (the fault draws it) and falls with
 * the voltage when upstream.  Positive sequence; no vote unless the
 * positive-sequence voltage falls. */
static void real_current(const struct ctx *c, const double complex *pre,
                         const double complex *post, struct pq_direction_result *out)
{
    int nph = c->nph;
    double complex u0 = positive(pre, nph);
    double complex u1 = positive(post, nph);
    double complex i0 = positive(pre + nph, nph);
    double complex i1 = positive(post + nph, nph);
    double iscale = fmax(fmax(cabs(i0), cabs(i1)), c->i_floor);
    double dip;
    double sag;

    if (!(cabs(u0) > 0.0) || !(cabs(u1) > 0.0) || !(iscale > 0.0)) {
        return;
    }
    dip = creal(i1 * conj(u1)) / cabs(u1) - creal(i0 * conj(u0)) / cabs(u0);
    sag = (cabs(u0) - cabs(u1)) / cabs(u0);
    /* full weight: a 5 % change of the current in a sag of 5 % */
    vote(&out->vote[PQ_DIR_REAL_CURRENT], dip / sqrt(2.0), sag > 0.0 ? sgn(dip) : 0,
         fabs(dip) / (0.05 * iscale), sag / 0.05);
}

/* ---- 5. combination ---- */

static void combine(struct pq_direction_result *out)
{
    double sw = 0.0;
    double sws = 0.0;

    for (int i = 0; i < PQ_DIR_COUNT; i++) {
        sw += out->vote[i].weight;
        sws += out->vote[i].weight * out->vote[i].sign;
    }
    out->weight_sum = sw;
    out->confidence = sw > 0.0 ? fabs(sws) / sw : 0.0;
    out->direction = PQ_DIRECTION_UNKNOWN;
    if (out->confidence >= PQ_DIRECTION_MIN_CONFIDENCE && sw >= PQ_DIRECTION_MIN_WEIGHT) {
        out->direction = sws > 0.0 ? PQ_DIRECTION_DOWNSTREAM : PQ_DIRECTION_UPSTREAM;
    }
}

/* ---- entry ---- */

static int check(const struct pq_direction_in *in, double *period)
{
    if (!in->x || (in->nph != 1 && in->nph != 3) || !(in->f_hz >= 40.0) ||
        !(in->f_hz <= 70.0) || !(in->fs_hz >= 64.0 * in->f_hz) || !(in->fs_hz < 1e7)) {
        return -EINVAL;
    }
    for (int p = 0; p < in->nph; p++) {
        if (in->u_ch[p] < 0 || (size_t) in->u_ch[p] >= in->stride || in->i_ch[p] < 0 ||
            (size_t) in->i_ch[p] >= in->stride) {
            return -EINVAL;
        }
    }
    if (in->ring_frames && in->n > in->ring_frames) {
        return -EINVAL;
    }
    *period = in->fs_hz / in->f_hz;
    if ((double) in->start < PQ_DIRECTION_PRE_CYCLES * *period || in->start >= in->n ||
        (double) (in->n - in->start) < PQ_DIRECTION_POST_CYCLES * *period) {
        return -EINVAL;
    }
    for (size_t k = 0; k < in->n; k++) {
        for (int p = 0; p < in->nph; p++) {
            if (!isfinite(at(in, k, in->u_ch[p])) || !isfinite(at(in, k, in->i_ch[p]))) {
                return -EINVAL;
            }
        }
    }
    return 0;
}

/* Steps 2 and 3, and the scales the indicators use. */
static int phasors(struct ctx *c, struct pq_direction_result *out,
                   double complex pre[MAXCH], double complex post[MAXCH], double *u_pk)
{
    double s_pre = 0.0;
    double s_post = 0.0;
    double s_floor = 0.0;
    double w;
    size_t m = (size_t) lround(c->period);

    out->f_hz = refine_frequency(c, m);
    c->period = c->in->fs_hz / out->f_hz;
    m = (size_t) lround(c->period);
    w = 2.0 * M_PI / c->period;
    if (fit(c, c->n0 - c->guard - m, m, w, (double) c->n0, pre) < 0 ||
        fit(c, c->n0 + m / 2, m, w, (double) c->n0, post) < 0) {
        return -1;
    }
    *u_pk = 0.0;
    for (int p = 0; p < c->nph; p++) {
        s_pre += cabs(pre[p]) * cabs(pre[c->nph + p]) / 2.0;
        s_post += cabs(post[p]) * cabs(post[c->nph + p]) / 2.0;
        s_floor += cabs(pre[p]) * c->i_floor / 2.0;
        *u_pk = fmax(*u_pk, cabs(pre[p]));
    }
    c->s_ref_va = fmax(fmax(s_pre, s_post), s_floor);
    out->u_pre_v = cabs(positive(pre, c->nph)) / sqrt(2.0);
    out->i_pre_a = cabs(positive(pre + c->nph, c->nph)) / sqrt(2.0);
    out->u_post_v = cabs(positive(post, c->nph)) / sqrt(2.0);
    out->i_post_a = cabs(positive(post + c->nph, c->nph)) / sqrt(2.0);
    return 0;
}

int pq_direction_analyze(const struct pq_direction_in *in,
                         struct pq_direction_result *out)
{
    struct ctx c;
    double complex pre[MAXCH];
    double complex post[MAXCH];
    double u_pk;
    size_t lo;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    if (!in || check(in, &c.period) < 0) {
        return -EINVAL;
    }
    c.in = in;
    c.nph = in->nph;
    c.i_floor = in->i_ref_a > 0.0 ? sqrt(2.0) * in->i_ref_a : 0.0;
    for (int p = 0; p < in->nph; p++) {
        c.off[p] = in->u_ch[p];
        c.off[in->nph + p] = in->i_ch[p];
    }
    c.guard = (size_t) (c.period / 16.0);

    /* 1. the inception is searched in [start - 1.25, start + 1.25]
     * cycles, against the noise of the 2.5 cycles before that */
    lo = in->start - (size_t) (1.25 * c.period);
    set_thresholds(&c, in->start - (size_t) (4.0 * c.period),
                   lo - (size_t) (c.period / 4.0));
    out->inception_found = find_inception(&c, lo, in->start + (size_t) (1.25 * c.period));
    if (!out->inception_found) {
        c.n0 = in->start;
    }
    out->inception = c.n0;
    c.end = find_end(&c);
    out->end = c.end;

    /* 2, 3 */
    if (phasors(&c, out, pre, post, &u_pk) < 0) {
        return 0;
    }

    /* 4, 5: the phasor indicators need the event to last through the
     * second window */
    energy(&c, out);
    gradient(&c, u_pk, out);
    if (c.end > c.n0 + (size_t) (1.5 * c.period) + 2) {
        impedance(&c, pre, post, out);
        real_current(&c, pre, post, out);
    }
    combine(out);
    return 0;
}

const char *pq_direction_name(int direction)
{
    switch (direction) {
    case PQ_DIRECTION_UPSTREAM:
        return "upstream";
    case PQ_DIRECTION_DOWNSTREAM:
        return "downstream";
    default:
        return "unknown";
    }
}

const char *pq_direction_indicator_name(int ind)
{
    static const char *const names[PQ_DIR_COUNT] = {
        [PQ_DIR_ENERGY] = "energy",         [PQ_DIR_POWER_PEAK] = "power_peak",
        [PQ_DIR_RESISTANCE] = "resistance", [PQ_DIR_REAL_CURRENT] = "real_current",
        [PQ_DIR_GRADIENT] = "gradient",     [PQ_DIR_IMPEDANCE] = "impedance",
    };

    if (ind < 0 || ind >= PQ_DIR_COUNT) {
        return "?";
    }
    return names[ind];
}
