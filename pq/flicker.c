/* flicker.c - IEC 61000-4-15 Ed.2 flickermeter (reference §3).
 *
 * Full rate, per input sample: square it (Block 2 comes first: the
 * adaptor's gain varies so slowly that (u g)^2 = u^2 g^2), and feed the
 * anti-alias filter of the decimator: three cascaded length-D moving
 * averages (a CIC of order 3, quadratic B-spline kernel of 3D - 2 taps,
 * unit DC gain), evaluated polyphase: each sample adds into the three
 * outputs it belongs to, three multiply-adds and no history.  Its nulls sit
 * on the multiples of the decimated rate fd = fs / D, so whatever would fold
 * into 0..42 Hz (harmonic products of u^2 near k fd, on mains not locked to
 * fs) is cut by >= 89 dB (>= 97 dB from D = 3); the droop is <= 0.14 % at
 * 33 Hz.  D = floor(fs / 2 kHz), so fd is 2..4 kHz (D = 1 below 4 kHz): the
 * bilinear transform then bends the weighting filter's response by < 0.8 %
 * of Pinst up to 40 Hz.
 *
 * Decimated rate, per output (reference §3.1):
 *   Block 1  x / ref, ref = mean square of u through a first-order low-pass
 *            with tau = 27.3 s.  ref starts at u_nominal^2 with the weight
 *            of one mains cycle and is a running mean until its weight
 *            reaches tau, so it reaches the actual RMS within a second and
 *            Pinst does not depend on the level (u_nominal is only a start).
 *   Block 3  first-order high-pass 0.05 Hz, 6th-order Butterworth low-pass
 *            (35 Hz for 50 Hz mains, 42 Hz for 60 Hz, pre-warped), then the
 *            lamp's weighting filter, all bilinear transforms of the
 *            standard's analogue filters; the high-pass starts at rest for
 *            the normalised DC 1.
 *   Block 4  square, first-order low-pass tau = 300 ms (bilinear), times
 *            the gain k_pinst.
 * k_pinst is derived once from the discrete filters, not by feeding a
 * signal: for x = 1 + a sin(2 pi fm t), Pinst after squaring and smoothing
 * peaks at k a^2 |H(fm)|^2 / 2 (1 + |L(2 fm)|), H the chain before the
 * squarer and L the smoother, so k makes that 1 at fm = 8.8 Hz with the
 * lamp's reference a (the 0.250 % or 0.321 % of Table 1, less the adaptor's
 * 1 + a^2 / 8).
 * The chain is the standard's, so is its floor: the 2 f_line ripple of u^2
 * (as large as its DC) leaves the Butterworth and the weighting filter at
 * about -90 dB, a Pinst of 1.6e-4 on a clean 50 Hz sine (3e-5 at 60 Hz).
 *
 * Block 5 takes Pinst every cls_step decimated samples (about 100 Hz) into a
 * histogram: class 0 is [0, 1e-5), then PQ_FLICKER_CLASSES - 1 log-spaced
 * classes to 1e5.  Px, the level exceeded x % of the time, is read walking
 * down from the top class, interpolated in log inside its class as if the
 * class's values were spread evenly; classes are 0.56 % wide, so Px is
 * within 0.56 % of the exact percentile of the samples (much closer where
 * they are dense) and Pst within half that.  4096 classes of 4 bytes: 16 kB
 * per channel, read once per slot.
 */
#include "pq/flicker.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pq/record.h"

#define NS_PER_S  1000000000LL
#define SLOT_NS   (600LL * NS_PER_S)  /* Pst: 10 min */
#define PLT_NS    (7200LL * NS_PER_S) /* Plt: 2 h */
#define PLT_N     12                  /* Pst per Plt */
#define FD_MIN    2000.0              /* decimate to at least this rate */
#define MAX_D     100                 /* largest decimation factor */
#define CIC_SKIP  2 /* decimated outputs before the CIC window is full */
#define N_BQ      5 /* 3 Butterworth + 2 weighting sections */
#define AGC_TAU_S 27.3
#define HP_HZ     0.05
#define SMOOTH_S  0.3
#define CLS_LO    1e-5
#define CLS_HI    1e5
/* ref >= (1 % of u_nominal)^2: an interruption divides by a small number,
 * not by zero. */
#define REF_FLOOR 1e-4

_Static_assert((int) PQ_FLICKER_FS_MAX / (int) FD_MIN <= MAX_D, "MAX_D too small");

/* Transposed direct form II: y = b0 x + s1; s1 = b1 x - a1 y + s2;
 * s2 = b2 x - a2 y. */
struct biquad {
    double b0, b1, b2, a1, a2;
    double s1, s2;
};

struct lamp_coef {
    double k;
    double lambda_hz, f1, f2, f3, f4; /* lambda, omega1..4 over 2 pi */
    double ref_dvv;                   /* Table 1 at 8.8 Hz, relative */
};

/* Reference §3.1 [src: QWTB, PQOPEN]. */
static const struct lamp_coef lamps[2] = {
    [PQ_LAMP_230V] = {1.74802, 4.05981, 9.15494, 2.27979, 1.22535, 21.9, 0.00250},
    [PQ_LAMP_120V] = {1.6357, 4.167375, 9.077169, 2.939902, 1.394468, 17.31512, 0.00321},
};

struct pst_slot {
    int64_t start_ns; /* Pst slot start; INT64_MIN: empty */
    double pst;
    unsigned flags;
};

struct pq_flicker {
    struct pq_flicker_out out;
    double fs_hz;
    double fd_hz;
    int64_t start_ns;
    double ns_per_sample;

    /* Decimator: w[phase][p], phase 0 for the output completing at the end
     * of this block, 1 and 2 for the next ones. */
    int d;
    int p;         /* position in the block */
    double acc[3]; /* outputs in progress */
    int64_t n_in;  /* input samples fed */
    int64_t n_dec; /* decimated outputs (including the CIC_SKIP first) */
    int bad;       /* outputs still touched by a non-finite sample */
    double x_last; /* last good decimated value */
    double w[3][MAX_D];

    /* Block 1 */
    double ref;
    double ref_floor;
    double agc_alpha;
    double agc_n; /* running-mean weight until 1 / agc_n < agc_alpha */

    /* Block 3 */
    double hp_b0, hp_a1, hp_s; /* y = b0 (x - x1) - a1 y1, as TDF2 */
    struct biquad bq[N_BQ];

    /* Block 4 */
    double lp_b0, lp_a1, lp_s;
    double k_pinst;
    double pinst;
    double pinst_max;
    int64_t settle_dec; /* n_dec from which Pinst counts */

    /* Block 5 */
    int cls_step;
    int cls_phase;
    double cls_hz;
    double cls_log_lo;
    double cls_inv_dlog;
    double cls_dlog;
    uint32_t hist[PQ_FLICKER_CLASSES];
    uint32_t count;
    int64_t first_ns; /* time of the first counted sample of the slot */
    int64_t last_ns;
    int64_t slot_start;
    unsigned slot_flags;
    int64_t pend_from; /* flagged period ahead of the slot; from >= to: none */
    int64_t pend_to;

    /* Plt of the 2-h slot in progress */
    int64_t plt_start;
    double plt_cubes;
    int plt_n;
    unsigned plt_flags;
    struct pst_slot ring[PLT_N]; /* last Pst, for the sliding Plt */
    int ring_pos;

    int finished;
};

/* Largest multiple of step (> 0) not above t, for t of either sign. */
static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;

    if (t % step != 0 && t < 0) {
        q--;
    }
    return q * step;
}

/* ---- filter design ---- */

/* Bilinear transform of (n2 s^2 + n1 s + n0) / (d2 s^2 + d1 s + d0) with
 * s = c (1 - z^-1) / (1 + z^-1). */
static void bilinear(struct biquad *q, const double n[3], const double d[3], double c)
{
    double c2 = c * c;
    double a0 = d[2] * c2 + d[1] * c + d[0];

    q->b0 = (n[2] * c2 + n[1] * c + n[0]) / a0;
    q->b1 = (2 * n[0] - 2 * n[2] * c2) / a0;
    q->b2 = (n[2] * c2 - n[1] * c + n[0]) / a0;
    q->a1 = (2 * d[0] - 2 * d[2] * c2) / a0;
    q->a2 = (d[2] * c2 - d[1] * c + d[0]) / a0;
    q->s1 = 0;
    q->s2 = 0;
}

static double complex biquad_resp(const struct biquad *q, double f_hz, double fs_hz)
{
    double complex z1 = cexp(-I * 2 * M_PI * f_hz / fs_hz); /* z^-1 */

    return (q->b0 + q->b1 * z1 + q->b2 * z1 * z1) / (1 + q->a1 * z1 + q->a2 * z1 * z1);
}

/* First-order sections, bilinear with constant c: the high-pass s / (s + w)
 * is b0 = c g, b1 = -b0; the low-pass w / (s + w) is b0 = w g, b1 = b0; with
 * g = 1 / (c + w) and a1 = (w - c) g for both. */
static void first_order(double w, double c, double *g, double *a1)
{
    *g = 1.0 / (c + w);
    *a1 = (w - c) / (c + w);
}

static void design(struct pq_flicker *f, double f_nominal_hz, int lamp)
{
    const struct lamp_coef *lc = &lamps[lamp];
    double c = 2 * f->fd_hz;
    double fc = f_nominal_hz == 50.0 ? 35.0 : 42.0;
    double wc = 2 * f->fd_hz * tan(M_PI * fc / f->fd_hz); /* pre-warped */
    double w1 = 2 * M_PI * lc->f1, w2 = 2 * M_PI * lc->f2;
    double w3 = 2 * M_PI * lc->f3, w4 = 2 * M_PI * lc->f4;
    double lambda = 2 * M_PI * lc->lambda_hz;
    double g, a1;

    first_order(2 * M_PI * HP_HZ, c, &g, &a1); /* 0.05 Hz high-pass */
    f->hp_b0 = c * g;
    f->hp_a1 = a1;
    /* Butterworth, 6 poles at wc e^{j theta}: sections wc^2 / (s^2 + 2 zeta
     * wc s + wc^2), zeta = sin(15, 45, 75 degrees). */
    for (int k = 0; k < 3; k++) {
        double zeta = sin(M_PI * (2 * k + 1) / 12.0);
        const double num[3] = {wc * wc, 0, 0};
        const double den[3] = {wc * wc, 2 * zeta * wc, 1};

        bilinear(&f->bq[k], num, den, c);
    }
    /* Weighting: k w1 s / (s^2 + 2 lambda s + w1^2) times
     * (1 + s / w2) / ((1 + s / w3)(1 + s / w4)). */
    {
        const double n1[3] = {0, lc->k * w1, 0};
        const double d1[3] = {w1 * w1, 2 * lambda, 1};
        const double n2[3] = {w3 * w4, w3 * w4 / w2, 0};
        const double d2[3] = {w3 * w4, w3 + w4, 1};

        bilinear(&f->bq[3], n1, d1, c);
        bilinear(&f->bq[4], n2, d2, c);
    }
    /* Smoothing: 1 / (1 + s tau) = w / (s + w), w = 1 / tau. */
    first_order(1.0 / SMOOTH_S, c, &g, &a1);
    f->lp_b0 = g / SMOOTH_S;
    f->lp_a1 = a1;
}

/* |response| of the decimator (at the input rate) at f_hz. */
static double cic_gain(const struct pq_flicker *f, double f_hz)
{
    double a = M_PI * f_hz / f->fs_hz;

    if (f->d == 1 || a == 0) {
        return 1.0;
    }
    return pow(fabs(sin(f->d * a) / (f->d * sin(a))), 3);
}

/* Gain that makes Pinst peak at 1 for the lamp's 8.8 Hz reference. */
static double pinst_gain(const struct pq_flicker *f, double ref_dvv)
{
    const double fm = 8.8;
    double om = 2 * M_PI * fm / f->fd_hz;
    double complex z1 = cexp(-I * om);
    double complex h = f->hp_b0 * (1 - z1) / (1 + f->hp_a1 * z1);
    double complex z2 = cexp(-I * 2 * om);
    double complex l = f->lp_b0 * (1 + z2) / (1 + f->lp_a1 * z2);
    double a = ref_dvv / (1 + ref_dvv * ref_dvv / 8); /* after the adaptor */
    double g2;

    for (int k = 0; k < N_BQ; k++) {
        h *= biquad_resp(&f->bq[k], fm, f->fd_hz);
    }
    g2 = a * a * cabs(h) * cabs(h) * cic_gain(f, fm) * cic_gain(f, fm);
    return 2.0 / (g2 * (1 + cabs(l)));
}

/* Coefficients of (1 + z^-1 + ... + z^-(d-1))^3 / d^3, split in phases. */
static void design_cic(struct pq_flicker *f)
{
    int d = f->d;
    int len = 3 * d - 2;
    double h[3 * MAX_D];
    double box2[2 * MAX_D];

    memset(box2, 0, sizeof(box2));
    memset(h, 0, sizeof(h));
    for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) {
            box2[i + j] += 1;
        }
    }
    for (int i = 0; i < 2 * d - 1; i++) {
        for (int j = 0; j < d; j++) {
            h[i + j] += box2[i];
        }
    }
    for (int p = 0; p < d; p++) {
        for (int ph = 0; ph < 3; ph++) {
            int j = (ph + 1) * d - 1 - p;

            f->w[ph][p] = j < len ? h[j] / ((double) d * d * d) : 0.0;
        }
    }
}

/* ---- set-up ---- */

int pq_flicker_new(double fs_hz, double f_nominal_hz, int lamp, double u_nominal_v,
                   int64_t start_ns, const struct pq_flicker_out *out,
                   struct pq_flicker **fp)
{
    struct pq_flicker *f;

    if (!fp || !(fs_hz >= PQ_FLICKER_FS_MIN && fs_hz <= PQ_FLICKER_FS_MAX) ||
        (f_nominal_hz != 50.0 && f_nominal_hz != 60.0) ||
        (lamp != PQ_LAMP_230V && lamp != PQ_LAMP_120V) ||
        !(u_nominal_v > 0 && u_nominal_v < 1e7) || start_ns <= -(1LL << 62) ||
        start_ns >= (1LL << 62)) {
        return -EINVAL;
    }
    f = calloc(1, sizeof(*f));
    if (!f) {
        return -ENOMEM;
    }
    if (out) {
        f->out = *out;
    }
    f->fs_hz = fs_hz;
    f->start_ns = start_ns;
    f->ns_per_sample = 1e9 / fs_hz;
    f->d = fs_hz < 2 * FD_MIN ? 1 : (int) floor(fs_hz / FD_MIN);
    f->fd_hz = fs_hz / f->d;
    design_cic(f);
    design(f, f_nominal_hz, lamp);
    f->k_pinst = pinst_gain(f, lamps[lamp].ref_dvv);

    f->ref = u_nominal_v * u_nominal_v;
    f->ref_floor = REF_FLOOR * f->ref;
    f->agc_alpha = -expm1(-1.0 / (f->fd_hz * AGC_TAU_S));
    f->agc_n = f->fd_hz / f_nominal_hz; /* prior: one cycle */
    f->hp_s = -f->hp_b0;                /* at rest for x / ref = 1 */
    f->pinst_max = NAN;
    f->settle_dec = CIC_SKIP + (int64_t) ceil(PQ_FLICKER_SETTLE_S * f->fd_hz);

    f->cls_step = (int) lround(f->fd_hz / PQ_FLICKER_CLS_HZ);
    f->cls_step = f->cls_step < 1 ? 1 : f->cls_step;
    f->cls_hz = f->fd_hz / f->cls_step;
    f->cls_log_lo = log(CLS_LO);
    f->cls_dlog = (log(CLS_HI) - log(CLS_LO)) / (PQ_FLICKER_CLASSES - 1);
    f->cls_inv_dlog = 1.0 / f->cls_dlog;
    f->slot_start = floor_to(start_ns, SLOT_NS);
    f->first_ns = INT64_MAX;
    f->plt_start = floor_to(start_ns, PLT_NS);
    for (int i = 0; i < PLT_N; i++) {
        f->ring[i].start_ns = INT64_MIN;
    }
    *fp = f;
    return 0;
}

void pq_flicker_free(struct pq_flicker *f)
{
    free(f);
}

/* ---- Block 5 ---- */

/* Level exceeded by pct % of the slot's samples. */
static double percentile(const struct pq_flicker *f, double pct)
{
    double target = pct / 100.0 * f->count;
    double above = 0;

    for (int c = PQ_FLICKER_CLASSES - 1; c >= 0; c--) {
        double n = f->hist[c];
        double frac;

        if (n == 0 || above + n < target) {
            above += n;
            continue;
        }
        frac = (target - above) / n; /* of the class above the level */
        if (c == 0) {
            return CLS_LO * (1 - frac);
        }
        return exp(f->cls_log_lo + f->cls_dlog * (c - frac));
    }
    return 0;
}

static double pst_of_slot(const struct pq_flicker *f)
{
    double p01 = percentile(f, 0.1);
    double p1s = (percentile(f, 0.7) + percentile(f, 1) + percentile(f, 1.5)) / 3;
    double p3s = (percentile(f, 2.2) + percentile(f, 3) + percentile(f, 4)) / 3;
    double p10s = (percentile(f, 6) + percentile(f, 8) + percentile(f, 10) +
                   percentile(f, 13) + percentile(f, 17)) /
                  5;
    double p50s = (percentile(f, 30) + percentile(f, 50) + percentile(f, 80)) / 3;

    return sqrt(0.0314 * p01 + 0.0525 * p1s + 0.0657 * p3s + 0.28 * p10s + 0.08 * p50s);
}

double pq_plt(const double *pst, size_t n)
{
    double s = 0;

    if (n == 0) {
        return NAN;
    }
    for (size_t i = 0; i < n; i++) {
        s += pst[i] * pst[i] * pst[i];
    }
    return cbrt(s / (double) n);
}

static void emit_plt(struct pq_flicker *f)
{
    unsigned flags = f->plt_flags | (f->plt_n < PLT_N ? PQ_REC_PARTIAL : 0u);

    if (f->plt_n > 0 && f->out.plt) {
        f->out.plt(f->out.ctx, f->plt_start, f->plt_start + PLT_NS,
                   cbrt(f->plt_cubes / f->plt_n), f->plt_n, flags);
    }
    f->plt_cubes = 0;
    f->plt_n = 0;
    f->plt_flags = 0;
}

static void emit_sliding(struct pq_flicker *f, int64_t end_ns)
{
    double v[PLT_N];
    size_t n = 0;
    unsigned flags = 0;

    for (int i = 0; i < PLT_N; i++) {
        const struct pst_slot *s = &f->ring[i];

        if (s->start_ns != INT64_MIN && s->start_ns >= end_ns - PLT_NS) {
            v[n++] = s->pst;
            flags |= s->flags;
        }
    }
    if (n < PLT_N) {
        flags |= PQ_REC_PARTIAL;
    }
    f->out.plt_sliding(f->out.ctx, end_ns - PLT_NS, end_ns, pq_plt(v, n), (int) n, flags);
}

/* Close the slot in progress: its Pst, and the Plt its end completes. */
static void close_slot(struct pq_flicker *f, int finishing)
{
    int64_t end = f->slot_start + SLOT_NS;
    int64_t tol = (int64_t) (2e9 / f->cls_hz);

    if (f->count >= PQ_FLICKER_MIN_PST_S * f->cls_hz) {
        unsigned flags = f->slot_flags;
        double pst = pst_of_slot(f);

        if (f->first_ns > f->slot_start + tol || (finishing && f->last_ns < end - tol)) {
            flags |= PQ_REC_PARTIAL;
        }
        if (f->out.pst) {
            f->out.pst(f->out.ctx, f->slot_start, end, pst, flags);
        }
        if (floor_to(f->slot_start, PLT_NS) != f->plt_start) {
            emit_plt(f); /* not reached on a continuous stream */
            f->plt_start = floor_to(f->slot_start, PLT_NS);
        }
        f->plt_cubes += pst * pst * pst;
        f->plt_n++;
        f->plt_flags |= flags;
        f->ring[f->ring_pos] = (struct pst_slot){f->slot_start, pst, flags};
        f->ring_pos = (f->ring_pos + 1) % PLT_N;
        if (f->out.plt_sliding) {
            emit_sliding(f, end);
        }
    }
    if (end == f->plt_start + PLT_NS || finishing) {
        emit_plt(f);
        f->plt_start = end;
    }
    memset(f->hist, 0, sizeof(f->hist));
    f->count = 0;
    f->first_ns = INT64_MAX;
}

/* Start the slot holding t_ns. */
static void next_slot(struct pq_flicker *f, int64_t t_ns)
{
    int64_t end;

    f->slot_start = floor_to(t_ns, SLOT_NS);
    end = f->slot_start + SLOT_NS;
    f->slot_flags = 0;
    if (f->pend_from < f->pend_to && f->pend_from < end && f->pend_to > f->slot_start) {
        f->slot_flags = PQ_REC_FLAGGED;
    }
    if (f->pend_to <= end) {
        f->pend_from = f->pend_to = 0; /* used up */
    }
}

static void classify(struct pq_flicker *f, double pinst, int64_t t_ns)
{
    double l;
    int c;

    while (t_ns >= f->slot_start + SLOT_NS) {
        close_slot(f, 0);
        next_slot(f, t_ns);
    }
    if (f->n_dec < f->settle_dec) {
        return;
    }
    if (!(pinst >= CLS_LO)) {
        c = 0;
    } else {
        l = (log(pinst) - f->cls_log_lo) * f->cls_inv_dlog;
        c = l >= PQ_FLICKER_CLASSES - 2 ? PQ_FLICKER_CLASSES - 1 : 1 + (int) l;
    }
    f->hist[c]++;
    f->count++;
    if (f->first_ns == INT64_MAX) {
        f->first_ns = t_ns;
    }
    f->last_ns = t_ns;
}

/* ---- Blocks 1, 3 and 4, at the decimated rate ---- */

static double biquad_run(struct biquad *q, double x)
{
    double y = q->b0 * x + q->s1;

    q->s1 = q->b1 * x - q->a1 * y + q->s2;
    q->s2 = q->b2 * x - q->a2 * y;
    return y;
}

static void decimated(struct pq_flicker *f, double x)
{
    double y, s;

    f->n_dec++;
    if (f->n_dec <= CIC_SKIP) {
        return;
    }
    /* Block 1: running mean, then tau = 27.3 s. */
    if (f->agc_n * f->agc_alpha < 1) {
        f->agc_n += 1;
        f->ref += (x - f->ref) / f->agc_n;
    } else {
        f->ref += f->agc_alpha * (x - f->ref);
    }
    if (f->ref < f->ref_floor) {
        f->ref = f->ref_floor;
    }
    y = x / f->ref;
    /* Block 3 */
    s = f->hp_b0 * y + f->hp_s;
    f->hp_s = -f->hp_b0 * y - f->hp_a1 * s;
    y = s;
    for (int k = 0; k < N_BQ; k++) {
        y = biquad_run(&f->bq[k], y);
    }
    /* Block 4 */
    s = f->lp_b0 * y * y + f->lp_s;
    f->lp_s = f->lp_b0 * y * y - f->lp_a1 * s;
    f->pinst = f->k_pinst * s;
    if (f->n_dec >= f->settle_dec && !(f->pinst <= f->pinst_max)) {
        f->pinst_max = f->pinst; /* also replaces the initial NaN */
    }
    if (++f->cls_phase >= f->cls_step) {
        f->cls_phase = 0;
        classify(f, f->pinst,
                 f->start_ns + (int64_t) ((double) (f->n_in - 1) * f->ns_per_sample));
    }
}

/* A decimated output of the CIC, or the last good value while a non-finite
 * sample is in its window. */
static void block_done(struct pq_flicker *f)
{
    double x = f->acc[0];

    if (!isfinite(x) || !isfinite(f->acc[1]) || !isfinite(f->acc[2])) {
        int64_t t = f->start_ns + (int64_t) ((double) f->n_in * f->ns_per_sample);

        pq_flicker_flag(f, t - (int64_t) (3 * f->d * f->ns_per_sample),
                        t + (int64_t) (PQ_FLICKER_SETTLE_S * NS_PER_S));
        f->bad = 3;
        for (int i = 0; i < 3; i++) {
            f->acc[i] = isfinite(f->acc[i]) ? f->acc[i] : 0.0;
        }
    }
    if (f->bad > 0) {
        f->bad--;
        x = f->x_last;
    }
    f->x_last = x;
    f->acc[0] = f->acc[1];
    f->acc[1] = f->acc[2];
    f->acc[2] = 0;
    decimated(f, x);
}

void pq_flicker_feed(struct pq_flicker *f, const float *x, size_t stride, size_t n)
{
    size_t k = 0;

    if (f->finished) {
        return;
    }
    while (k < n) {
        size_t m = (size_t) (f->d - f->p);
        const double *w0 = &f->w[0][f->p];
        const double *w1 = &f->w[1][f->p];
        const double *w2 = &f->w[2][f->p];
        double a0 = f->acc[0], a1 = f->acc[1], a2 = f->acc[2];
        const float *px = x + k * stride;

        m = m < n - k ? m : n - k;
        for (size_t j = 0; j < m; j++) {
            double v = (double) px[j * stride];

            v *= v;
            a0 += w0[j] * v;
            a1 += w1[j] * v;
            a2 += w2[j] * v;
        }
        f->acc[0] = a0;
        f->acc[1] = a1;
        f->acc[2] = a2;
        f->p += (int) m;
        f->n_in += (int64_t) m;
        k += m;
        if (f->p == f->d) {
            f->p = 0;
            block_done(f);
        }
    }
}

void pq_flicker_flag(struct pq_flicker *f, int64_t from_ns, int64_t to_ns)
{
    int64_t end = f->slot_start + SLOT_NS;

    if (from_ns >= to_ns) {
        return;
    }
    if (from_ns < end && to_ns > f->slot_start) {
        f->slot_flags |= PQ_REC_FLAGGED;
    }
    if (to_ns > end) {
        from_ns = from_ns > end ? from_ns : end;
        if (f->pend_from >= f->pend_to) {
            f->pend_from = from_ns;
            f->pend_to = to_ns;
        } else {
            f->pend_from = from_ns < f->pend_from ? from_ns : f->pend_from;
            f->pend_to = to_ns > f->pend_to ? to_ns : f->pend_to;
        }
    }
}

void pq_flicker_finish(struct pq_flicker *f)
{
    if (f->finished) {
        return;
    }
    f->finished = 1;
    close_slot(f, 1);
}

double pq_flicker_pinst(const struct pq_flicker *f)
{
    return f->pinst;
}

double pq_flicker_pinst_max(const struct pq_flicker *f)
{
    return f->pinst_max;
}

double pq_flicker_rate_hz(const struct pq_flicker *f)
{
    return f->fd_hz;
}
