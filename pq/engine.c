/* engine.c - zero crossings, half cycles, basic windows.
 *
 * Pipeline, per feed:
 *
 *  1. Frames are appended to a linear buffer (compacted now and then).
 *  2. The reference voltage (UA) goes through a band-pass around the
 *     nominal frequency (IEC 61000-4-30 5.1.2 asks for filtering before the
 *     zero-crossing detection: harmonics and DC must not add crossings).
 *     Its crossings, strictly alternating in sign and located to a fraction
 *     of a sample by linear interpolation, cut the stream into half cycles.
 *     With no voltage (an interruption) crossings are assumed every nominal
 *     half period, so the windows go on.
 *  3. Each half cycle gets its sums: squares per channel, phase and
 *     line-line voltage squares, u*i per phase, peaks.  A sample at frame k
 *     stands for [k - 1/2, k + 1/2); at a boundary it is split in proportion,
 *     so sums over a window cover exactly its fractional length.
 *  4. Urms(1/2) (5.4.2): the one cycle made of the last two half cycles.
 *  5. A basic window (5.2.1) is 2N half cycles from a positive crossing:
 *     N = 10 cycles at 50 Hz, 12 at 60 Hz.  RMS and active power come from
 *     the half-cycle sums; the spectrum from the window resampled to
 *     PQ_M points (the sample rate is not locked to the mains) and one FFT
 *     per channel, grouped per IEC 61000-4-7.
 *  6. At a 10-min UTC tick the series restarts at the next positive
 *     crossing while the window running at the tick completes (4.5.3), so
 *     two windows can be open at once.
 */
#include "pq/engine.h"

#include <complex.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "pq/gram.h"
#include "pq/harmonics.h"
#include "pq/resample.h"
#include "pq/symcomp.h"
#include "pq/utc.h"

#define PQ_M        2048 /* resampled points per basic window: bins to h = 102 */
#define SEG_RING    64   /* half cycles kept: 2 windows of 2 x 12 and margin */
#define MAX_WINDOWS 4    /* open or waiting basic windows */
#define NAN_RUNS    32   /* remembered runs of missing samples */
#define FLAG_RUNS   32   /* remembered flagged periods */
#define TEN_MIN_NS  600000000000LL
#define TEN_S_NS    10000000000LL
#define F_MIN_HZ    40.0 /* below: no valid crossing pair (IEC range 42.5 Hz) */
#define F_MAX_HZ    75.0
#define PERIODS     9 /* cycle lengths in the period estimate (a median) */
#define SETTLE                                            \
    10 /* positive crossings before the first window: the \
          band-pass's start-up transient has decayed */

/* One half cycle [a, b) in absolute frame positions. */
struct seg {
    double a, b;
    double sq[PQ_MAX_CH]; /* sum of x^2 per channel */
    double sq_ph[3];      /* phase voltages as the wiring defines them */
    double sq_ll[3];      /* line-line voltages */
    double sq_in;         /* residual neutral current when not measured */
    double p[3];          /* u*i per phase */
    double peak[PQ_MAX_CH];
    double peak_ph[3];
    int positive; /* starts at a positive-going crossing */
    int synthetic;
};

struct window {
    uint64_t first_seg; /* sequence number of its first half cycle */
    int cycles;         /* positive crossings seen since its start */
    int chained;        /* on completion, the next window starts at its end */
    int resync;         /* first window of a series restarted at a tick */
    int done;           /* all its half cycles are in: waiting for samples */
    double b;           /* end position once done */
};

struct run {
    double a, b; /* frame positions, or ns for flags */
};

struct pq_engine {
    struct pq_engine_cfg cfg;
    struct pq_engine_out out;
    int ncycles;              /* N of the basic window */
    int ch_of[PQ_ROLE_COUNT]; /* channel of each role, -1 if absent */
    int nph;
    int has_in;

    /* sample buffer: frames [base, base + len) */
    float *buf;
    size_t cap; /* frames */
    size_t len;
    int64_t base;

    /* zero-crossing detector on the reference channel */
    double bq[2][5]; /* two biquads: b0 b1 b2 a1 a2 */
    double bz[2][2]; /* their states */
    double y_prev;
    int64_t next_frame;  /* absolute frame index the detector reads next */
    double last_cross;   /* position of the last crossing */
    int last_sign;       /* +1, -1, 0 before the first */
    double amp;          /* peak |y| of the last half cycle */
    double amp_run;      /* peak |y| of the present half cycle */
    double half_nominal; /* frames */
    int dec;             /* frames averaged per detector sample */
    int dec_n;
    double dec_sum;
    double thr_min; /* below: no voltage */

    struct seg seg[SEG_RING];
    uint64_t nseg; /* half cycles closed so far */

    struct window win[MAX_WINDOWS];
    int nwin;
    int64_t next_tick_ns; /* next 10-min UTC tick of the window series */

    /* 10-s frequency */
    int64_t f10_start_ns;
    double f10_cycles, f10_dur;
    double last_pos_cross;   /* last positive crossing, -1 if none */
    int settled;             /* positive crossings seen, up to SETTLE */
    double periods[PERIODS]; /* last cycle lengths, frames */
    int nperiods;
    double t_est; /* their median: the length of a Urms(1/2) window */
    unsigned f10_flags;

    struct run nans[NAN_RUNS];
    size_t nnan;
    struct run flags[FLAG_RUNS];
    size_t nflags;

    /* spectrum */
    struct pq_resampler *rs;
    size_t margin; /* frames the resampler reads around a window */
    double *rsout[PQ_MAX_CH];
    fftw_complex *spec;
    fftw_plan plan;

    struct pq_interval rec;
};

/* ---- helpers ------------------------------------------------------------ */

static int64_t pos_to_ns(const struct pq_engine *e, double pos)
{
    return e->cfg.start_ns + (int64_t) llround(pos / e->cfg.fs_hz * 1e9);
}

static double wrap_deg(double d)
{
    d = fmod(d, 360.0);
    if (d <= -180.0) {
        d += 360.0;
    } else if (d > 180.0) {
        d -= 360.0;
    }
    return d;
}

static int overlaps(const struct run *runs, size_t n, double a, double b)
{
    for (size_t i = 0; i < n; i++) {
        if (runs[i].a < b && runs[i].b > a) {
            return 1;
        }
    }
    return 0;
}

static void add_run(struct run *runs, size_t *n, size_t cap, double a, double b)
{
    if (*n > 0 && a <= runs[*n - 1].b) { /* extends the last one */
        if (b > runs[*n - 1].b) {
            runs[*n - 1].b = b;
        }
        return;
    }
    if (*n == cap) { /* forget the oldest */
        memmove(runs, runs + 1, (cap - 1) * sizeof(*runs));
        (*n)--;
    }
    runs[*n].a = a;
    runs[*n].b = b;
    (*n)++;
}

/* Second-order sections of a band-pass around f0 (low-pass 2.5 f0 and
 * high-pass f0 / 2.5, Butterworth, bilinear): it keeps the fundamental,
 * removes DC, and takes the 3rd harmonic down by about 12 dB, so that
 * distorted waveforms cross zero once per half cycle. */
static void design_biquad(double fc, double fs, int highpass, double *c)
{
    double k = tan(M_PI * fc / fs);
    double q = M_SQRT1_2;
    double norm = 1.0 / (1.0 + k / q + k * k);

    if (highpass) {
        c[0] = norm;
        c[1] = -2.0 * norm;
    } else {
        c[0] = k * k * norm;
        c[1] = 2.0 * c[0];
    }
    c[2] = c[0];
    c[3] = 2.0 * (k * k - 1.0) * norm;
    c[4] = (1.0 - k / q + k * k) * norm;
}

static double biquad(const double *c, double *z, double x)
{
    double y = c[0] * x + z[0];

    z[0] = c[1] * x - c[3] * y + z[1];
    z[1] = c[2] * x - c[4] * y;
    return y;
}

/* ---- set-up --------------------------------------------------------------- */

static int map_roles(struct pq_engine *e, const char **why)
{
    for (int r = 0; r < PQ_ROLE_COUNT; r++) {
        e->ch_of[r] = -1;
    }
    for (size_t ch = 0; ch < e->cfg.nch; ch++) {
        int r = e->cfg.role[ch];

        if (r < 0 || r >= PQ_ROLE_COUNT) {
            *why = "unknown channel role";
            return -EINVAL;
        }
        if (r != PQ_ROLE_OTHER && e->ch_of[r] >= 0) {
            *why = "two channels with the same role";
            return -EINVAL;
        }
        e->ch_of[r] = (int) ch;
    }
    if (e->ch_of[PQ_ROLE_UA] < 0) {
        *why = "no phase A voltage channel";
        return -EINVAL;
    }
    e->nph = e->cfg.wiring == PQ_WIRING_SINGLE ? 1 : 3;
    if (e->nph == 3 && (e->ch_of[PQ_ROLE_UB] < 0 || e->ch_of[PQ_ROLE_UC] < 0)) {
        *why = "three-phase wiring needs UA, UB and UC";
        return -EINVAL;
    }
    e->has_in = e->ch_of[PQ_ROLE_IN] >= 0 ||
                (e->cfg.wiring == PQ_WIRING_WYE && e->ch_of[PQ_ROLE_IA] >= 0 &&
                 e->ch_of[PQ_ROLE_IB] >= 0 && e->ch_of[PQ_ROLE_IC] >= 0);
    return 0;
}

int pq_engine_new(const struct pq_engine_cfg *cfg, const struct pq_engine_out *out,
                  struct pq_engine **ep, const char **why)
{
    struct pq_engine *e;
    const char *dummy;
    double window_max_s;
    int rc;

    why = why ? why : &dummy;
    *why = NULL;
    if (cfg->nch == 0 || cfg->nch > PQ_MAX_CH ||
        (cfg->f_nominal_hz != 50.0 && cfg->f_nominal_hz != 60.0)) {
        *why = "1 to 8 channels and a nominal frequency of 50 or 60 Hz are needed";
        return -EINVAL;
    }
    if (!(cfg->fs_hz >= 32.0 * cfg->f_nominal_hz) || cfg->fs_hz > 1e6) {
        *why = "the sample rate must give at least 32 samples per nominal cycle";
        return -EINVAL;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        return -ENOMEM;
    }
    e->cfg = *cfg;
    if (out) {
        e->out = *out;
    }
    rc = map_roles(e, why);
    if (rc < 0) {
        free(e);
        return rc;
    }
    e->ncycles = cfg->f_nominal_hz == 50.0 ? 10 : 12;
    e->half_nominal = cfg->fs_hz / cfg->f_nominal_hz / 2.0;
    e->thr_min = 0.01 * (cfg->udin_v > 0 ? cfg->udin_v : 1.0);
    /* a window is N cycles at the lowest frequency; two may be open, plus
     * the resampler's margins and one feed's worth of frames */
    window_max_s = 2.2 * e->ncycles / F_MIN_HZ;
    {
        /* flat only as far as IEC 61000-4-7 grouping to h = 63 reads */
        struct pq_resample_opts ro = {
            .pass = pq_resample_pass_iec(e->ncycles, PQ_MAX_H, PQ_M),
        };

        rc = pq_resampler_new_opts(PQ_M, &ro, &e->rs);
    }
    if (rc < 0) {
        free(e);
        return rc;
    }
    e->margin = pq_resample_margin_max(e->rs) + 2;
    e->cap = (size_t) ceil(window_max_s * cfg->fs_hz) + 4 * e->margin + 65536;
    /* PQ_GRAM_N floats of slack: the kernel reads 8 lanes at every frame */
    e->buf = malloc((e->cap * cfg->nch + PQ_GRAM_N) * sizeof(float));
    e->spec = fftw_malloc(sizeof(fftw_complex) * (PQ_M / 2 + 1));
    for (size_t ch = 0; ch < cfg->nch; ch++) {
        e->rsout[ch] = fftw_malloc(sizeof(double) * PQ_M);
        if (!e->rsout[ch]) {
            pq_engine_free(e);
            return -ENOMEM;
        }
    }
    if (!e->buf || !e->spec) {
        pq_engine_free(e);
        return -ENOMEM;
    }
    /* FFTW_ESTIMATE: the same plan every run, so results are reproducible */
    e->plan = fftw_plan_dft_r2c_1d(PQ_M, e->rsout[0], e->spec, FFTW_ESTIMATE);
    if (!e->plan) {
        pq_engine_free(e);
        return -ENOMEM;
    }
    e->dec = (int) (cfg->fs_hz / (128.0 * cfg->f_nominal_hz));
    e->dec = e->dec < 1 ? 1 : e->dec;
    design_biquad(cfg->f_nominal_hz * 2.5, cfg->fs_hz / e->dec, 0, e->bq[0]);
    design_biquad(cfg->f_nominal_hz / 2.5, cfg->fs_hz / e->dec, 1, e->bq[1]);
    e->last_cross = -1.0;
    e->last_pos_cross = -1.0;
    e->next_tick_ns = (pq_floor_div(cfg->start_ns, TEN_MIN_NS) + 1) * TEN_MIN_NS;
    e->f10_start_ns = pq_floor_div(cfg->start_ns, TEN_S_NS) * TEN_S_NS;
    *ep = e;
    return 0;
}

void pq_engine_free(struct pq_engine *e)
{
    if (!e) {
        return;
    }
    if (e->plan) {
        fftw_destroy_plan(e->plan);
    }
    for (size_t ch = 0; ch < PQ_MAX_CH; ch++) {
        fftw_free(e->rsout[ch]);
    }
    fftw_free(e->spec);
    pq_resampler_free(e->rs);
    free(e->buf);
    free(e);
}

void pq_engine_flag_open(struct pq_engine *e, int64_t from_ns)
{
    if (e->nflags > 0 && isinf(e->flags[e->nflags - 1].b)) {
        return; /* one is open: it covers this too */
    }
    add_run(e->flags, &e->nflags, FLAG_RUNS, (double) from_ns, INFINITY);
}

void pq_engine_flag_close(struct pq_engine *e, int64_t to_ns)
{
    if (e->nflags > 0 && isinf(e->flags[e->nflags - 1].b)) {
        e->flags[e->nflags - 1].b = (double) to_ns;
    }
}

int64_t pq_engine_now_ns(const struct pq_engine *e)
{
    return pos_to_ns(e, (double) (e->base + (int64_t) e->len));
}

void pq_engine_flag(struct pq_engine *e, int64_t from_ns, int64_t to_ns)
{
    if (to_ns > from_ns) {
        add_run(e->flags, &e->nflags, FLAG_RUNS, (double) from_ns, (double) to_ns);
    }
}

/* ---- half cycles ------------------------------------------------------------ */

static const float *frame_at(const struct pq_engine *e, int64_t k)
{
    return e->buf + (size_t) (k - e->base) * e->cfg.nch;
}

/* Add frame x with weight w to the sums of s. */
static void seg_add(const struct pq_engine *e, struct seg *s, const float *x, double w)
{
    const int *c = e->ch_of;
    double u[3] = {0, 0, 0};

    for (size_t ch = 0; ch < e->cfg.nch; ch++) {
        double v = x[ch];
        double a = fabs(v);

        s->sq[ch] += w * v * v;
        if (a > s->peak[ch]) {
            s->peak[ch] = a;
        }
    }
    for (int ph = 0; ph < e->nph; ph++) {
        u[ph] = x[c[PQ_ROLE_UA + ph]];
    }
    if (e->cfg.wiring == PQ_WIRING_DELTA) {
        /* the virtual star point: the mean of the three (IEC 61000-4-30
         * measures a 3-wire system line to line; L-N values here are to
         * the artificial neutral) */
        double m = (u[0] + u[1] + u[2]) / 3.0;

        u[0] -= m;
        u[1] -= m;
        u[2] -= m;
    }
    for (int ph = 0; ph < e->nph; ph++) {
        int ic = c[PQ_ROLE_IA + ph];
        double a = fabs(u[ph]);

        s->sq_ph[ph] += w * u[ph] * u[ph];
        if (a > s->peak_ph[ph]) {
            s->peak_ph[ph] = a;
        }
        if (ic >= 0) {
            s->p[ph] += w * u[ph] * x[ic];
        }
    }
    if (e->nph == 3) {
        double ab = u[0] - u[1], bc = u[1] - u[2], ca = u[2] - u[0];

        s->sq_ll[0] += w * ab * ab;
        s->sq_ll[1] += w * bc * bc;
        s->sq_ll[2] += w * ca * ca;
        if (c[PQ_ROLE_IN] < 0 && e->has_in) {
            double in = x[c[PQ_ROLE_IA]] + x[c[PQ_ROLE_IB]] + x[c[PQ_ROLE_IC]];

            s->sq_in += w * in * in;
        }
    }
}

/* Add the interior frames' Gram sums to s: every quadratic quantity of
 * the half cycle is a combination of the products g[i][j] = sum x_i x_j. */
static void seg_from_gram(const struct pq_engine *e, struct seg *s,
                          const struct pq_gram *gm)
{
    const int *c = e->ch_of;
    int u[3] = {c[PQ_ROLE_UA], c[PQ_ROLE_UB], c[PQ_ROLE_UC]};
    int delta = e->cfg.wiring == PQ_WIRING_DELTA;
    double sum_all = 0; /* sum over the three phases of g[x][y]: 9 m^2 */

    for (size_t ch = 0; ch < e->cfg.nch; ch++) {
        s->sq[ch] += gm->g[ch][ch];
        s->peak[ch] = fmax(s->peak[ch], gm->peak[ch]);
    }
    if (delta) {
        for (int x = 0; x < 3; x++) {
            for (int y = 0; y < 3; y++) {
                sum_all += gm->g[u[x]][u[y]];
            }
        }
    }
    for (int ph = 0; ph < e->nph; ph++) {
        int a = u[ph], ic = c[PQ_ROLE_IA + ph];

        if (!delta) {
            s->sq_ph[ph] += gm->g[a][a];
            s->peak_ph[ph] = fmax(s->peak_ph[ph], gm->peak[a]);
            if (ic >= 0) {
                s->p[ph] += gm->g[a][ic];
            }
            continue;
        }
        /* (ua - m)^2 with m = (ua + ub + uc) / 3, and (ua - m) ia */
        s->sq_ph[ph] += gm->g[a][a] -
                        2.0 / 3.0 * (gm->g[a][u[0]] + gm->g[a][u[1]] + gm->g[a][u[2]]) +
                        sum_all / 9.0;
        if (ic >= 0) {
            s->p[ph] += gm->g[a][ic] -
                        (gm->g[u[0]][ic] + gm->g[u[1]][ic] + gm->g[u[2]][ic]) / 3.0;
        }
    }
    if (e->nph == 3) {
        for (int k = 0; k < 3; k++) {
            int a = u[k], b = u[(k + 1) % 3];

            /* (ua - ub)^2: no cancellation, the cross term is negative */
            s->sq_ll[k] += gm->g[a][a] + gm->g[b][b] - 2.0 * gm->g[a][b];
        }
    }
}

/* What the Gram matrix cannot give: the peaks of the virtual star
 * voltages (delta), and the residual neutral current, whose square from
 * the Gram sums would cancel catastrophically on a balanced load. */
static void seg_scalar_extras(const struct pq_engine *e, struct seg *s, int64_t from,
                              int64_t to)
{
    const int *c = e->ch_of;
    int need_in = e->nph == 3 && c[PQ_ROLE_IN] < 0 && e->has_in;
    int delta = e->cfg.wiring == PQ_WIRING_DELTA;

    if (!need_in && !delta) {
        return;
    }
    for (int64_t k = from; k < to; k++) {
        const float *x = frame_at(e, k);

        if (need_in) {
            double in = (double) x[c[PQ_ROLE_IA]] + x[c[PQ_ROLE_IB]] + x[c[PQ_ROLE_IC]];

            s->sq_in += in * in;
        }
        if (delta) {
            double m =
                ((double) x[c[PQ_ROLE_UA]] + x[c[PQ_ROLE_UB]] + x[c[PQ_ROLE_UC]]) / 3.0;

            for (int ph = 0; ph < 3; ph++) {
                double a = fabs(x[c[PQ_ROLE_UA + ph]] - m);

                s->peak_ph[ph] = a > s->peak_ph[ph] ? a : s->peak_ph[ph];
            }
        }
    }
}

/* Sums of the half cycle [a, b): frame k covers [k - 1/2, k + 1/2).  The
 * two boundary frames carry their fractional weights (seg_add); the ones
 * between go through the vector kernel. */
static void seg_sum(const struct pq_engine *e, struct seg *s, double a, double b)
{
    int64_t k0 = (int64_t) floor(a + 0.5);
    int64_t k1 = (int64_t) floor(b + 0.5);

    memset(s, 0, sizeof(*s));
    s->a = a;
    s->b = b;
    if (k0 == k1) {
        seg_add(e, s, frame_at(e, k0), b - a);
        return;
    }
    seg_add(e, s, frame_at(e, k0), (double) k0 + 0.5 - a);
    if (k1 - k0 > 1) {
        struct pq_gram gm;

        pq_gram_zero(&gm);
        pq_gram_add(&gm, frame_at(e, k0 + 1), e->cfg.nch, (size_t) (k1 - k0 - 1));
        seg_from_gram(e, s, &gm);
        seg_scalar_extras(e, s, k0 + 1, k1);
    }
    seg_add(e, s, frame_at(e, k1), b - ((double) k1 - 0.5));
}

static const struct seg *seg_get(const struct pq_engine *e, uint64_t seq)
{
    return &e->seg[seq % SEG_RING];
}

/* Urms(1/2) (5.4.2): the RMS over one cycle ending at the latest crossing.
 * The window is exactly one period long: the median of the last cycle
 * lengths, not the distance between the last crossings, which a sudden
 * change of amplitude moves for a cycle or two (any filter before the
 * detector does); over a whole period the starting phase does not
 * matter.  The two half cycles give the sums; the difference between
 * their start and the window's start is added or taken away. */
static void emit_halfcycle(struct pq_engine *e)
{
    const struct seg *s0 = seg_get(e, e->nseg - 2), *s1 = seg_get(e, e->nseg - 1);
    double n = e->t_est > 0 ? e->t_est : s1->b - s0->a;
    double a = s1->b - n;
    struct seg t = *s0, edge;
    struct pq_halfcycle h;
    double sign = 1.0;

    for (size_t ch = 0; ch < PQ_MAX_CH; ch++) {
        t.sq[ch] += s1->sq[ch];
    }
    for (int ph = 0; ph < 3; ph++) {
        t.sq_ph[ph] += s1->sq_ph[ph];
        t.sq_ll[ph] += s1->sq_ll[ph];
    }
    t.sq_in += s1->sq_in;
    if (fabs(a - s0->a) > 1e-9) {
        if (a > s0->a) {
            seg_sum(e, &edge, s0->a, a); /* the half cycles start too early */
            sign = -1.0;
        } else {
            seg_sum(e, &edge, a, s0->a); /* too late */
        }
        for (size_t ch = 0; ch < PQ_MAX_CH; ch++) {
            t.sq[ch] += sign * edge.sq[ch];
        }
        for (int ph = 0; ph < 3; ph++) {
            t.sq_ph[ph] += sign * edge.sq_ph[ph];
            t.sq_ll[ph] += sign * edge.sq_ll[ph];
        }
        t.sq_in += sign * edge.sq_in;
    }
    memset(&h, 0, sizeof(h));
    h.t_ns = pos_to_ns(e, s1->b);
    h.period_s = n / e->cfg.fs_hz;
    h.nph = e->nph;
    h.synthetic = s0->synthetic || s1->synthetic;
    for (int ph = 0; ph < e->nph; ph++) {
        int ic = e->ch_of[PQ_ROLE_IA + ph];

        h.u_rms[ph] = sqrt(fmax(t.sq_ph[ph], 0.0) / n);
        h.u_ll_rms[ph] = sqrt(fmax(t.sq_ll[ph], 0.0) / n);
        if (ic >= 0) {
            h.i_rms[ph] = sqrt(fmax(t.sq[ic], 0.0) / n);
        }
    }
    if (e->ch_of[PQ_ROLE_IN] >= 0) {
        h.i_rms[3] = sqrt(fmax(t.sq[e->ch_of[PQ_ROLE_IN]], 0.0) / n);
    } else if (e->has_in) {
        h.i_rms[3] = sqrt(fmax(t.sq_in, 0.0) / n);
    }
    e->out.halfcycle(e->out.ctx, &h);
}

/* The median of the last PERIODS cycle lengths: one cycle disturbed by a
 * step cannot move it. */
static void update_period(struct pq_engine *e, double period)
{
    double v[PERIODS];
    int n;

    if (e->nperiods == PERIODS) {
        memmove(e->periods, e->periods + 1, (PERIODS - 1) * sizeof(double));
        e->nperiods--;
    }
    e->periods[e->nperiods++] = period;
    n = e->nperiods;
    memcpy(v, e->periods, (size_t) n * sizeof(double));
    for (int i = 1; i < n; i++) { /* insertion sort of at most 9 */
        double x = v[i];
        int j = i - 1;

        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
    e->t_est = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* ---- windows and frequency ---------------------------------------------------- */

static void open_window(struct pq_engine *e, int resync)
{
    struct window *w;

    if (e->nwin == MAX_WINDOWS) {
        return; /* cannot happen with at most two open; keep safe */
    }
    w = &e->win[e->nwin++];
    memset(w, 0, sizeof(*w));
    w->first_seg = e->nseg; /* the half cycle that starts now */
    w->chained = 1;
    w->resync = resync;
}

/* 10-s frequency (5.1.2): whole cycles inside the 10-s clock interval,
 * divided by their total duration; cycles across a tick are dropped. */
static void frequency_cycle(struct pq_engine *e, double a, double b)
{
    int64_t ta = pos_to_ns(e, a), tb = pos_to_ns(e, b);
    unsigned flags = overlaps(e->flags, e->nflags, (double) ta, (double) tb) ||
                             overlaps(e->nans, e->nnan, a, b)
                         ? PQ_REC_FLAGGED
                         : 0;

    while (tb > e->f10_start_ns + TEN_S_NS) {
        if (e->f10_cycles > 0 && e->out.freq10s) {
            e->out.freq10s(e->out.ctx, e->f10_start_ns, e->f10_start_ns + TEN_S_NS,
                           e->f10_cycles / e->f10_dur, e->f10_flags);
        }
        e->f10_start_ns += TEN_S_NS;
        e->f10_cycles = 0;
        e->f10_dur = 0;
        e->f10_flags = 0;
    }
    if (ta >= e->f10_start_ns) {
        e->f10_cycles += 1.0;
        e->f10_dur += (b - a) / e->cfg.fs_hz;
        e->f10_flags |= flags;
    }
}

static void positive_crossing(struct pq_engine *e, double pos)
{
    int64_t t = pos_to_ns(e, pos);
    int resync = 0;

    if (e->last_pos_cross >= 0) {
        update_period(e, pos - e->last_pos_cross);
    }
    if (e->settled < SETTLE) {
        e->settled++;
        e->last_pos_cross = pos;
        return;
    }
    if (e->last_pos_cross >= 0) {
        frequency_cycle(e, e->last_pos_cross, pos);
    }
    e->last_pos_cross = pos;
    if (t >= e->next_tick_ns) {
        /* 4.5.3: the series restarts at the tick; the running window
         * completes on its own and starts no successor */
        resync = e->nwin > 0 || e->nseg > 0;
        for (int i = 0; i < e->nwin; i++) {
            e->win[i].chained = 0;
        }
        e->next_tick_ns = (pq_floor_div(t, TEN_MIN_NS) + 1) * TEN_MIN_NS;
    }
    for (int i = 0; i < e->nwin; i++) {
        struct window *w = &e->win[i];

        if (!w->done && e->nseg > w->first_seg && ++w->cycles == e->ncycles) {
            w->done = 1;
            w->b = pos;
            if (w->chained) {
                w->chained = 0;
                open_window(e, 0);
            }
        }
    }
    if (resync || (e->nwin == 0)) {
        open_window(e, resync);
    }
}

/* A zero crossing at pos: close the half cycle that ends there. */
static void crossing(struct pq_engine *e, double pos, int sign, int synthetic)
{
    if (e->last_cross >= 0) {
        struct seg *s = &e->seg[e->nseg % SEG_RING];

        seg_sum(e, s, e->last_cross, pos);
        s->positive = sign < 0; /* it started at the previous, opposite crossing */
        s->synthetic = synthetic;
        e->nseg++;
        if (e->nseg >= 2 && e->out.halfcycle) {
            emit_halfcycle(e);
        }
    }
    e->last_cross = pos;
    e->last_sign = sign;
    if (sign > 0) {
        positive_crossing(e, pos);
    }
}

/* One filtered reference sample y at frame position k: look for a zero
 * crossing since the previous one, D frames earlier. */
static void detect_at(struct pq_engine *e, double k, double y)
{
    /* hysteresis: a crossing counts once the half cycle before it reached
     * a tenth of the previous one's peak (and 1 % of Udin) */
    double thr = fmax(0.1 * e->amp, e->thr_min);
    int sign = 0;

    if (fabs(y) > e->amp_run) {
        e->amp_run = fabs(y);
    }
    if (e->y_prev < 0 && y >= 0 && e->last_sign <= 0) {
        sign = 1;
    } else if (e->y_prev > 0 && y <= 0 && e->last_sign >= 0) {
        sign = -1;
    }
    if (sign && e->amp_run > thr &&
        (e->last_cross < 0 || k - e->last_cross > e->cfg.fs_hz / F_MAX_HZ / 2.0)) {
        double pos = k - e->dec * (1.0 - e->y_prev / (e->y_prev - y));

        crossing(e, pos, sign, 0);
        e->amp = e->amp_run;
        e->amp_run = 0;
    } else if (e->last_cross >= 0 && k - e->last_cross > 1.5 * e->half_nominal) {
        /* no voltage: assume the nominal half period (the windows and
         * Urms(1/2) go on through an interruption) */
        crossing(e, e->last_cross + e->half_nominal, e->last_sign > 0 ? -1 : 1, 1);
        e->amp = 0;
    }
    e->y_prev = y;
}

/* Run the detector over the frames not yet seen.  The reference is first
 * averaged over D frames (about 128 samples per nominal cycle remain): the
 * band-pass is an IIR, serial by nature, and needs no more.  The average
 * delays the reference by (D - 1)/2 frames, the same for every crossing,
 * so cycle lengths are unchanged; the crossings are placed on that
 * delayed time line, which only shifts where the windows start. */
static void detect(struct pq_engine *e)
{
    int ua = e->ch_of[PQ_ROLE_UA];
    int ub = e->ch_of[PQ_ROLE_UB];
    int delta = e->cfg.wiring == PQ_WIRING_DELTA;
    int64_t end = e->base + (int64_t) e->len;
    double half = (e->dec - 1) / 2.0;

    for (; e->next_frame < end; e->next_frame++) {
        const float *x = frame_at(e, e->next_frame);

        /* delta: the reference is the line-line voltage AB */
        e->dec_sum += delta ? (double) x[ua] - x[ub] : x[ua];
        if (++e->dec_n == e->dec) {
            double v = e->dec_sum / e->dec;
            double y = biquad(e->bq[1], e->bz[1], biquad(e->bq[0], e->bz[0], v));

            detect_at(e, (double) e->next_frame - half, y);
            e->dec_sum = 0;
            e->dec_n = 0;
        }
    }
}

/* ---- the basic window ---------------------------------------------------------- */

static void window_sums(const struct pq_engine *e, const struct window *w, struct seg *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < 2 * e->ncycles; i++) {
        const struct seg *s = seg_get(e, w->first_seg + (uint64_t) i);

        for (size_t ch = 0; ch < PQ_MAX_CH; ch++) {
            t->sq[ch] += s->sq[ch];
            t->peak[ch] = fmax(t->peak[ch], s->peak[ch]);
        }
        for (int ph = 0; ph < 3; ph++) {
            t->sq_ph[ph] += s->sq_ph[ph];
            t->sq_ll[ph] += s->sq_ll[ph];
            t->p[ph] += s->p[ph];
            t->peak_ph[ph] = fmax(t->peak_ph[ph], s->peak_ph[ph]);
        }
        t->sq_in += s->sq_in;
        t->synthetic |= s->synthetic;
    }
    t->a = seg_get(e, w->first_seg)->a;
    t->b = w->b;
}

/* Fundamental phasor of a spectrum: bin N of the r2c output; for
 * x = sqrt(2) C cos(wt + phi) it is (M/2) sqrt(2) C e^{j phi}. */
static double complex fundamental(const struct pq_engine *e)
{
    /* <complex.h> comes before <fftw3.h>: fftw_complex is double complex */
    return e->spec[e->ncycles] * (M_SQRT2 / PQ_M);
}

/* Resample the window, FFT each phase channel, group per IEC 61000-4-7. */
static void window_spectra(struct pq_engine *e, const struct seg *t, double complex u1[3],
                           double complex i1[3])
{
    struct pq_interval *r = &e->rec;
    const int *c = e->ch_of;
    double step = (t->b - t->a) / PQ_M;
    double ref_deg;

    pq_resample(e->rs, e->buf, e->cfg.nch, t->a - (double) e->base, step, e->rsout);
    if (e->cfg.wiring == PQ_WIRING_DELTA) {
        double *a = e->rsout[c[PQ_ROLE_UA]], *b = e->rsout[c[PQ_ROLE_UB]];
        double *cc = e->rsout[c[PQ_ROLE_UC]];

        for (size_t k = 0; k < PQ_M; k++) {
            double m = (a[k] + b[k] + cc[k]) / 3.0;

            a[k] -= m;
            b[k] -= m;
            cc[k] -= m;
        }
    }
    for (int ph = 0; ph < e->nph; ph++) {
        fftw_execute_dft_r2c(e->plan, e->rsout[c[PQ_ROLE_UA + ph]], e->spec);
        /* 5.8 / IEC 61000-4-7 5.6: voltage harmonic subgroups, centred
         * interharmonic subgroups */
        pq_harmonics((const double(*)[2])(const void *) e->spec, PQ_M, e->ncycles,
                     r->u_h_v[ph], NULL, r->u_h_deg[ph], r->u_ih_v[ph]);
        u1[ph] = fundamental(e);
        if (c[PQ_ROLE_IA + ph] >= 0) {
            fftw_execute_dft_r2c(e->plan, e->rsout[c[PQ_ROLE_IA + ph]], e->spec);
            /* IEC 61000-4-7 5.5: current harmonic groups */
            pq_harmonics((const double(*)[2])(const void *) e->spec, PQ_M, e->ncycles,
                         NULL, r->i_h_a[ph], r->i_h_deg[ph], NULL);
            i1[ph] = fundamental(e);
        } else {
            i1[ph] = 0;
        }
    }
    /* angles relative to the phase-A voltage fundamental: harmonic h turns
     * h times as fast, so its reference is h * phi(UA1) */
    ref_deg = carg(u1[0]) * 180.0 / M_PI;
    for (int ph = 0; ph < e->nph; ph++) {
        int has_i = c[PQ_ROLE_IA + ph] >= 0;

        for (int h = 1; h <= PQ_MAX_H; h++) {
            r->u_h_deg[ph][h - 1] = wrap_deg(r->u_h_deg[ph][h - 1] - h * ref_deg);
            if (has_i) {
                r->i_h_deg[ph][h - 1] = wrap_deg(r->i_h_deg[ph][h - 1] - h * ref_deg);
            }
        }
    }
}

/* Powers per IEEE 1459-2010: P from the instantaneous power (3.1.1.1),
 * S = U I (3.1.2.5), Q = Q1 fundamental reactive (3.1.2.4) from the
 * fundamental phasors, PF = P / S (3.1.2.13), displacement PF = P1 / S1
 * (3.1.2.11).  Totals: P and Q summed, S arithmetic (sum of phase S). */
static void window_powers(struct pq_engine *e, const struct seg *t, double n,
                          const double complex u1[3], const double complex i1[3])
{
    struct pq_interval *r = &e->rec;

    for (int ph = 0; ph < e->nph; ph++) {
        double complex s1 = u1[ph] * conj(i1[ph]);

        r->p_w[ph] = t->p[ph] / n;
        r->s_va[ph] = r->u_rms_v[ph] * r->i_rms_a[ph];
        r->q_var[ph] = cimag(s1);
        r->dpf[ph] = cabs(s1) > 0 ? creal(s1) / cabs(s1) : 0.0;
        r->p_w[PQ_NPH] += r->p_w[ph];
        r->q_var[PQ_NPH] += r->q_var[ph];
        r->s_va[PQ_NPH] += r->s_va[ph];
    }
    {
        double complex s1t = 0;

        for (int ph = 0; ph < e->nph; ph++) {
            s1t += u1[ph] * conj(i1[ph]);
        }
        r->dpf[PQ_NPH] = cabs(s1t) > 0 ? creal(s1t) / cabs(s1t) : 0.0;
    }
}

static void window_unbalance(struct pq_engine *e, const double complex u1[3],
                             const double complex i1[3])
{
    struct pq_interval *r = &e->rec;
    double um[3], ud[3], im[3], id[3];

    if (e->nph != 3) {
        return;
    }
    for (int ph = 0; ph < 3; ph++) {
        um[ph] = cabs(u1[ph]);
        ud[ph] = carg(u1[ph]) * 180.0 / M_PI;
        im[ph] = cabs(i1[ph]);
        id[ph] = carg(i1[ph]) * 180.0 / M_PI;
    }
    /* 5.7.1: u2 = |U2| / |U1|, u0 = |U0| / |U1| from fundamental phasors */
    r->u_unb_neg_pct = pq_unbalance_neg_pct(um, ud);
    r->u_unb_zero_pct = pq_unbalance_zero_pct(um, ud);
    r->i_unb_neg_pct = pq_unbalance_neg_pct(im, id);
    r->i_unb_zero_pct = pq_unbalance_zero_pct(im, id);
    /* NEMA MG-1 14.35: on the RMS line-line voltages, not on phasors */
    r->u_unb_nema_pct = pq_nema_unbalance_pct(r->u_ll_rms_v);
}

static void process_window(struct pq_engine *e, const struct window *w)
{
    struct pq_interval *r = &e->rec;
    const int *c = e->ch_of;
    double complex u1[3] = {0, 0, 0}, i1[3] = {0, 0, 0};
    struct seg t;
    double n;

    window_sums(e, w, &t);
    n = t.b - t.a;
    memset(r, 0, sizeof(*r));
    r->agg = PQ_AGG_200MS;
    r->count = 1;
    r->nph = e->nph;
    r->has_in = e->has_in;
    r->start_ns = pos_to_ns(e, t.a);
    r->end_ns = pos_to_ns(e, t.b);
    r->freq_hz = e->ncycles * e->cfg.fs_hz / n;
    if (t.synthetic || overlaps(e->nans, e->nnan, t.a, t.b) ||
        overlaps(e->flags, e->nflags, (double) r->start_ns, (double) r->end_ns)) {
        r->flags |= PQ_REC_FLAGGED;
    }
    /* 5.2: RMS over the N-cycle window */
    for (int ph = 0; ph < e->nph; ph++) {
        int ic = c[PQ_ROLE_IA + ph];

        r->u_rms_v[ph] = sqrt(t.sq_ph[ph] / n);
        r->u_ll_rms_v[ph] = e->nph == 3 ? sqrt(t.sq_ll[ph] / n) : 0.0;
        r->u_cf[ph] = r->u_rms_v[ph] > 0 ? t.peak_ph[ph] / r->u_rms_v[ph] : 0.0;
        if (ic >= 0) {
            r->i_rms_a[ph] = sqrt(t.sq[ic] / n);
            r->i_cf[ph] = r->i_rms_a[ph] > 0 ? t.peak[ic] / r->i_rms_a[ph] : 0.0;
        }
    }
    if (c[PQ_ROLE_IN] >= 0) {
        r->i_rms_a[3] = sqrt(t.sq[c[PQ_ROLE_IN]] / n);
    } else if (e->has_in) {
        r->i_rms_a[3] = sqrt(t.sq_in / n);
    }
    window_spectra(e, &t, u1, i1);
    window_powers(e, &t, n, u1, i1);
    window_unbalance(e, u1, i1);
    for (int ph = 0; ph < e->nph; ph++) {
        /* 5.8: THD of the voltage from subgroups, of the current from
         * groups, h = 2..63; IEEE 519 TDD against IL; K-factor */
        double u = e->cfg.wiring == PQ_WIRING_DELTA ? r->u_ll_rms_v[ph] : r->u_rms_v[ph];

        r->u_thd_pct[ph] = pq_thd_pct(r->u_h_v[ph], PQ_MAX_H);
        r->i_thd_pct[ph] = pq_thd_pct(r->i_h_a[ph], PQ_MAX_H);
        r->i_tdd_pct[ph] =
            e->cfg.il_a > 0 ? pq_tdd_pct(r->i_h_a[ph], PQ_MAX_H, e->cfg.il_a) : 0;
        r->i_k_factor[ph] = pq_k_factor(r->i_h_a[ph], PQ_MAX_H);
        /* Annex D inputs: delta compares line-line values with Udin */
        r->u_under_v[ph] = fmin(u, e->cfg.udin_v);
        r->u_over_v[ph] = fmax(u, e->cfg.udin_v);
    }
    pq_interval_derive(r, e->cfg.udin_v);
    if (e->out.interval) {
        e->out.interval(e->out.ctx, r, w->resync);
    }
}

/* Windows whose samples (with the resampler's margin) are all here. */
static void run_windows(struct pq_engine *e)
{
    double have = (double) (e->base + (int64_t) e->len);

    /* A window waits for its resampler margin and for the crossings one
     * cycle past its end: the event detectors have then seen every
     * Urms(1/2) that overlaps it, and flagged it if need be (4.7). */
    while (e->nwin > 0 && e->win[0].done && e->win[0].b + (double) e->margin < have &&
           e->last_cross >= e->win[0].b + 1.8 * e->half_nominal) {
        /* its half cycles must still be in the ring (50-ms passes ensure
         * it); if not, drop the window rather than measure garbage */
        if (e->nseg - e->win[0].first_seg <= SEG_RING) {
            process_window(e, &e->win[0]);
        }
        memmove(e->win, e->win + 1, (size_t) (e->nwin - 1) * sizeof(e->win[0]));
        e->nwin--;
    }
}

/* Drop frames no open window, half cycle or margin needs any more. */
static void compact(struct pq_engine *e)
{
    /* the Urms(1/2) window may reach a little before the two last half
     * cycles: keep a cycle and a half */
    double keep = e->last_cross >= 0 ? e->last_cross - 3.0 * e->half_nominal
                                     : (double) e->next_frame;
    int64_t first;
    size_t drop;

    for (int i = 0; i < e->nwin; i++) {
        double a =
            e->nseg > e->win[i].first_seg ? seg_get(e, e->win[i].first_seg)->a : keep;

        keep = fmin(keep, a);
    }
    first = (int64_t) floor(keep) - (int64_t) e->margin - 2;
    if (first <= e->base) {
        return;
    }
    drop = (size_t) (first - e->base);
    if (drop > e->len) {
        drop = e->len;
    }
    memmove(e->buf, e->buf + drop * e->cfg.nch,
            (e->len - drop) * e->cfg.nch * sizeof(float));
    e->len -= drop;
    e->base += (int64_t) drop;
}

/* Append n frames; returns non-zero if any sample is NaN (missing). */
static int copy_frames(struct pq_engine *e, const float *x, size_t n)
{
    size_t count = n * e->cfg.nch;
    float *dst = e->buf + e->len * e->cfg.nch;
    int missing = 0;

    typedef float v4f __attribute__((vector_size(16)));
    typedef int v4i __attribute__((vector_size(16)));
    v4i any = {0, 0, 0, 0};
    size_t i = 0;

    memcpy(dst, x, count * sizeof(float));
    for (; i + 4 <= count; i += 4) { /* NaN != NaN; 4 lanes at a time */
        v4f v;

        memcpy(&v, x + i, sizeof(v));
        any |= v != v;
    }
    for (; i < count; i++) {
        missing |= x[i] != x[i];
    }
    return missing | any[0] | any[1] | any[2] | any[3];
}

/* The rare path: zero the missing samples and remember where they were. */
static void mark_missing(struct pq_engine *e, const float *x, size_t n)
{
    size_t nch = e->cfg.nch;
    float *dst = e->buf + e->len * nch;

    for (size_t k = 0; k < n; k++) {
        int missing = 0;

        for (size_t ch = 0; ch < nch; ch++) {
            if (isnan(x[k * nch + ch])) {
                dst[k * nch + ch] = 0.0f;
                missing = 1;
            }
        }
        if (missing) {
            double pos = (double) (e->base + (int64_t) (e->len + k));

            add_run(e->nans, &e->nnan, NAN_RUNS, pos - 0.5, pos + 0.5);
        }
    }
}

void pq_engine_feed(struct pq_engine *e, const float *x, size_t n)
{
    size_t nch = e->cfg.nch;

    /* at most 50 ms per pass, so windows are processed while their half
     * cycles are still in the ring, whatever the caller's chunk size */
    size_t pass = (size_t) (e->cfg.fs_hz * 0.05) + 1;

    while (n > 0) {
        size_t room, take;

        if (e->len == e->cap) {
            compact(e);
        }
        room = e->cap - e->len;
        if (room == 0) {
            /* cannot happen: the buffer holds two windows and margins;
             * rather than overrun, restart the buffer */
            e->base += (int64_t) e->len;
            e->len = 0;
            e->nwin = 0;
            e->last_cross = -1.0;
            e->next_frame = e->base;
            room = e->cap;
        }
        take = n < room ? n : room;
        take = take < pass ? take : pass;
        if (copy_frames(e, x, take)) {
            mark_missing(e, x, take);
        }
        e->len += take;
        x += take * nch;
        n -= take;
        detect(e);
        run_windows(e);
        if (e->len > e->cap / 2) {
            compact(e);
        }
    }
}
