/* capture.c - waveform capture from a ring of source frames.
 *
 * How: frames go into a ring of nring frames.  A trigger fixes the
 * position of output sample 0 in source frames (an integer base and a
 * fractional offset, so precision does not fade as the frame count grows)
 * and takes a free buffer.  Each feed then computes, for every filling
 * buffer, the output samples whose filter taps are all in the ring, at most
 * `catchup` times faster than real time.  The ring is sized so that the
 * oldest tap a capture may still need survives the next chunk of frames
 * (see ring_frames()); an assert guards it.
 *
 * The filter: h(u) = sinc(u) x I0(beta sqrt(1 - (u/Z)^2)) / I0(beta), u in
 * zero crossings, |u| <= Z = 16.  A tap at source-frame distance d from the
 * output instant sits at u = d x Z / T, with T = Z / (0.85 min(1, fo/fs))
 * frames, i.e. a cut-off at 0.85 of the lower Nyquist frequency.  The
 * weights are divided by their sum, so DC passes exactly and a ramp comes
 * out as the ramp (the design's first moment is ~0), which makes the
 * trigger position testable to a small fraction of a frame.
 */
#include "pq/capture.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pq/err.h"

#define CAP_ZC       16   /* zero crossings each side */
#define CAP_PHASES   512  /* table entries per zero crossing */
#define CAP_BETA     8.0  /* Kaiser beta: ~80 dB */
#define CAP_RHO      0.85 /* cut-off, fraction of the lower Nyquist frequency */
#define CAP_CHUNK    1024 /* frames written to the ring between progress steps */
#define CAP_TAB_END  ((size_t) CAP_ZC * CAP_PHASES) /* tab[CAP_TAB_END]: u = Z */
#define CAP_TAB_LEN  (CAP_TAB_END + 2)
#define CAP_SNAP     1e-6 /* a trigger this close to a frame is on it */
#define CAP_LAG_DEF  1.0
#define CAP_UP_DEF   4u
#define CAP_NS_PER_S 1e9

enum { BUF_FREE, BUF_FILLING, BUF_OWNED };

struct cap {
    struct pq_capture_buf pub; /* first member: release() finds the rest */
    atomic_int state;
    float *data;
    uint16_t *status;
    int64_t base;  /* trigger frame, integer part */
    double off0;   /* position of sample 0 relative to base, frames */
    double r;      /* source frames per output sample */
    double t;      /* filter half width, frames */
    double scale;  /* zero crossings per frame */
    int copy;      /* output grid on the source frames: copy */
    size_t next;   /* next output sample to compute */
    double credit; /* output samples it may compute now (catch-up bound) */
};

struct pq_capture {
    struct pq_capture_cfg cfg;
    struct pq_capture_fmt fmts[PQ_CAPTURE_MAX_FMTS];
    pq_capture_done_fn done;
    void *ctx;
    size_t nw; /* status words per frame */
    size_t nring;
    float *ring;       /* nring x nch */
    uint16_t *ring_st; /* nring x nw, NULL without status */
    uint64_t nframes;  /* fed so far */
    uint64_t anchor_f; /* frame of the last feed's t_ns */
    int64_t anchor_ns;
    double *tab; /* CAP_TAB_LEN filter values */
    size_t buf_samples;
    uint64_t seq;
    struct pq_capture_stats st;
    struct cap bufs[PQ_CAPTURE_MAX_BUFS];
};

/* ---- configuration ---------------------------------------------------- */

int pq_capture_fmt_check(const struct pq_capture_fmt *f)
{
    unsigned cycles = f->pre_cycles + f->post_cycles;

    if (f->spc < 16 || f->spc > 512 || (f->spc & (f->spc - 1)) != 0) {
        return -PQ_ECONFIG;
    }
    if (f->post_cycles < 1 || f->pre_cycles > PQ_CAPTURE_MAX_CYCLES ||
        cycles > PQ_CAPTURE_MAX_CYCLES) {
        return -PQ_ECONFIG;
    }
    return (uint64_t) f->spc * cycles <= PQ_CAPTURE_MAX_SAMPLES ? 0 : -PQ_ECONFIG;
}

static int check_cfg(const struct pq_capture_cfg *cfg)
{
    size_t i;

    if (!(cfg->fs_hz >= 100 && cfg->fs_hz <= 1e6) ||
        !(cfg->f_nom_hz >= 10 && cfg->f_nom_hz <= 1000) || cfg->nch < 1 ||
        cfg->nch > PQ_CAPTURE_MAX_CH || cfg->nstatus > PQ_CAPTURE_MAX_STATUS ||
        cfg->nbufs < 1 || cfg->nbufs > PQ_CAPTURE_MAX_BUFS || !cfg->fmts ||
        cfg->nfmts < 1 || cfg->nfmts > PQ_CAPTURE_MAX_FMTS ||
        !(cfg->max_lag_s >= 0 && cfg->max_lag_s <= 10) ||
        (cfg->catchup != 0 && (cfg->catchup < 2 || cfg->catchup > 64))) {
        return -PQ_ECONFIG;
    }
    for (i = 0; i < cfg->nfmts; i++) {
        if (pq_capture_fmt_check(&cfg->fmts[i]) < 0) {
            return -PQ_ECONFIG;
        }
    }
    return 0;
}

/* Source frames per output sample of a format. */
static double frames_per_sample(const struct pq_capture_cfg *cfg, unsigned spc)
{
    return cfg->fs_hz / ((double) spc * cfg->f_nom_hz);
}

/* Filter half width in source frames for r frames per output sample. */
static double half_width(double r)
{
    return CAP_ZC * (r > 1 ? r : 1) / CAP_RHO;
}

/* Ring length: a trigger max_lag_s before the newest frame needs its
 * pre-trigger span and the filter's reach behind it, and that must survive
 * the next chunk plus one output step (the catch-up credit moves in whole
 * samples); a capture that has caught up needs 2 half widths and one output
 * step behind the newest frame. */
static size_t ring_frames(const struct pq_capture_cfg *cfg)
{
    double lag = (cfg->max_lag_s > 0 ? cfg->max_lag_s : CAP_LAG_DEF) * cfg->fs_hz;
    double pre = 0, reach = 0;
    size_t i;

    for (i = 0; i < cfg->nfmts; i++) {
        const struct pq_capture_fmt *f = &cfg->fmts[i];
        double r = frames_per_sample(cfg, f->spc);
        double need = f->pre_cycles * cfg->fs_hz / cfg->f_nom_hz + half_width(r) + r;
        double run = 2 * half_width(r) + r;

        pre = need > pre ? need : pre;
        reach = run > reach ? run : reach;
    }
    pre += lag;
    return (size_t) ceil(pre > reach ? pre : reach) + CAP_CHUNK + 4;
}

static size_t max_samples(const struct pq_capture_cfg *cfg)
{
    size_t i, m = 0;

    for (i = 0; i < cfg->nfmts; i++) {
        const struct pq_capture_fmt *f = &cfg->fmts[i];
        size_t n = (size_t) f->spc * (f->pre_cycles + f->post_cycles);

        m = n > m ? n : m;
    }
    return m;
}

size_t pq_capture_memory(const struct pq_capture_cfg *cfg)
{
    size_t nw, frame;

    if (check_cfg(cfg) < 0) {
        return 0;
    }
    nw = (cfg->nstatus + 15) / 16;
    frame = cfg->nch * sizeof(float) + nw * sizeof(uint16_t);
    return sizeof(struct pq_capture) + CAP_TAB_LEN * sizeof(double) +
           ring_frames(cfg) * frame + cfg->nbufs * max_samples(cfg) * frame;
}

/* ---- the filter table --------------------------------------------------- */

static double bessel_i0(double x)
{
    double sum = 1, term = 1, q = x * x / 4;
    int k;

    for (k = 1; k < 200 && term > sum * 1e-17; k++) {
        term *= q / ((double) k * k);
        sum += term;
    }
    return sum;
}

static void fill_table(double *tab)
{
    double i0b = bessel_i0(CAP_BETA);
    int i;

    tab[0] = 1;
    for (i = 1; (size_t) i < CAP_TAB_END; i++) {
        double u = (double) i / CAP_PHASES;
        double z = u / CAP_ZC;

        tab[i] = sin(M_PI * u) / (M_PI * u) * bessel_i0(CAP_BETA * sqrt(1 - z * z)) / i0b;
    }
    tab[CAP_TAB_END] = 0; /* sinc(Z) */
    tab[CAP_TAB_END + 1] = 0;
}

/* ---- life cycle ----------------------------------------------------------- */

static int alloc_all(struct pq_capture *c)
{
    size_t i, n = c->nring;

    c->tab = malloc(CAP_TAB_LEN * sizeof(*c->tab));
    c->ring = calloc(n, c->cfg.nch * sizeof(float));
    if (!c->tab || !c->ring) {
        return -ENOMEM;
    }
    if (c->nw) {
        c->ring_st = calloc(n, c->nw * sizeof(uint16_t));
        if (!c->ring_st) {
            return -ENOMEM;
        }
    }
    for (i = 0; i < c->cfg.nbufs; i++) {
        struct cap *b = &c->bufs[i];

        b->data = calloc(c->buf_samples, c->cfg.nch * sizeof(float));
        if (!b->data) {
            return -ENOMEM;
        }
        if (c->nw) {
            b->status = calloc(c->buf_samples, c->nw * sizeof(uint16_t));
            if (!b->status) {
                return -ENOMEM;
            }
        }
        atomic_init(&b->state, BUF_FREE);
    }
    return 0;
}

int pq_capture_new(const struct pq_capture_cfg *cfg, pq_capture_done_fn done, void *ctx,
                   struct pq_capture **out)
{
    struct pq_capture *c;
    int rc = check_cfg(cfg);

    if (rc < 0 || !done) {
        return -PQ_ECONFIG;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->cfg = *cfg;
    memcpy(c->fmts, cfg->fmts, cfg->nfmts * sizeof(*cfg->fmts));
    c->cfg.fmts = c->fmts;
    if (c->cfg.max_lag_s == 0) {
        c->cfg.max_lag_s = CAP_LAG_DEF;
    }
    if (c->cfg.catchup == 0) {
        c->cfg.catchup = CAP_UP_DEF;
    }
    c->done = done;
    c->ctx = ctx;
    c->nw = (cfg->nstatus + 15) / 16;
    c->nring = ring_frames(&c->cfg);
    c->buf_samples = max_samples(&c->cfg);
    rc = alloc_all(c);
    if (rc < 0) {
        pq_capture_free(c);
        return rc;
    }
    fill_table(c->tab);
    *out = c;
    return 0;
}

void pq_capture_free(struct pq_capture *c)
{
    size_t i;

    if (!c) {
        return;
    }
    for (i = 0; i < PQ_CAPTURE_MAX_BUFS; i++) {
        free(c->bufs[i].data);
        free(c->bufs[i].status);
    }
    free(c->ring);
    free(c->ring_st);
    free(c->tab);
    free(c);
}

/* ---- computing output samples ------------------------------------------- */

/* Status of output sample k of b: the words of source frame `frame`. */
static void copy_status(const struct pq_capture *c, struct cap *b, size_t k,
                        uint64_t frame)
{
    if (b->status && c->ring_st) {
        memcpy(b->status + k * c->nw, c->ring_st + (frame % c->nring) * c->nw,
               c->nw * sizeof(uint16_t));
    }
}

/* Output sample k of buffer b from the ring. */
static void compute_one(const struct pq_capture *c, struct cap *b, size_t k)
{
    size_t nch = c->cfg.nch;
    double q = b->off0 + (double) k * b->r;
    float *out = b->data + k * nch;
    double acc[PQ_CAPTURE_MAX_CH] = {0};
    double lo, u, wsum = 0;
    int64_t n0, n1, n;
    size_t idx, ch;

    if (b->copy) {
        n = b->base + (int64_t) q;
        assert(n >= 0 && (uint64_t) n < c->nframes &&
               (uint64_t) n + c->nring > c->nframes);
        memcpy(out, c->ring + ((uint64_t) n % c->nring) * nch, nch * sizeof(float));
        copy_status(c, b, k, (uint64_t) n);
        return;
    }
    lo = ceil(q - b->t);
    n0 = b->base + (int64_t) lo;
    n1 = b->base + (int64_t) floor(q + b->t);
    assert(n0 >= 0 && (uint64_t) n1 < c->nframes &&
           (uint64_t) n0 + c->nring > c->nframes);
    idx = (size_t) ((uint64_t) n0 % c->nring);
    u = (q - lo) * b->scale;
    for (n = n0; n <= n1; n++) {
        double a = fabs(u) * CAP_PHASES;
        size_t i = (size_t) a;
        const float *x = c->ring + idx * nch;
        double w = c->tab[i] + (a - (double) i) * (c->tab[i + 1] - c->tab[i]);

        wsum += w;
        for (ch = 0; ch < nch; ch++) {
            acc[ch] += w * x[ch];
        }
        u -= b->scale;
        idx = idx + 1 == c->nring ? 0 : idx + 1;
    }
    for (ch = 0; ch < nch; ch++) {
        out[ch] = (float) (acc[ch] / wsum);
    }
    copy_status(c, b, k, (uint64_t) (b->base + (int64_t) llround(q)));
}

/* Compute the samples of b that the ring can give, at most catchup x m
 * frames' worth for m frames fed (a credit, so any batch size gives the
 * same speed); hand b over when complete. */
static void advance(struct pq_capture *c, struct cap *b, size_t m)
{
    double cap = c->cfg.catchup * (double) CAP_CHUNK / b->r + 1;
    size_t budget;

    b->credit += c->cfg.catchup * (double) m / b->r;
    b->credit = b->credit < cap ? b->credit : cap;
    budget = (size_t) b->credit;
    b->credit -= (double) budget;
    while (b->next < b->pub.nsamples && budget > 0) {
        double q = b->off0 + (double) b->next * b->r;
        int64_t last = b->base + (int64_t) floor(q + b->t);

        if (last < 0 || (uint64_t) last >= c->nframes) {
            break;
        }
        compute_one(c, b, b->next);
        b->next++;
        budget--;
    }
    b->credit += (double) budget; /* unused: kept, within the cap */
    if (b->next == b->pub.nsamples) {
        atomic_store_explicit(&b->state, BUF_OWNED, memory_order_release);
        c->st.completed++;
        c->done(c->ctx, &b->pub);
    }
}

static void progress(struct pq_capture *c, size_t m)
{
    size_t i;

    for (i = 0; i < c->cfg.nbufs; i++) {
        struct cap *b = &c->bufs[i];

        if (atomic_load_explicit(&b->state, memory_order_relaxed) == BUF_FILLING) {
            advance(c, b, m);
        }
    }
}

int pq_capture_feed(struct pq_capture *c, const float *frames, const uint16_t *status,
                    size_t n, int64_t t_ns)
{
    size_t nch = c->cfg.nch;
    size_t done = 0;

    if (n == 0) {
        progress(c, CAP_CHUNK); /* catch up without new frames */
        return 0;
    }
    if (!frames) {
        return -EINVAL;
    }
    c->anchor_f = c->nframes;
    c->anchor_ns = t_ns;
    while (done < n) {
        size_t m = n - done < CAP_CHUNK ? n - done : CAP_CHUNK;
        size_t j;

        for (j = 0; j < m; j++) {
            size_t slot = (size_t) ((c->nframes + j) % c->nring);

            memcpy(c->ring + slot * nch, frames + (done + j) * nch, nch * sizeof(float));
            if (c->nw && status) {
                memcpy(c->ring_st + slot * c->nw, status + (done + j) * c->nw,
                       c->nw * sizeof(uint16_t));
            } else if (c->nw) {
                memset(c->ring_st + slot * c->nw, 0, c->nw * sizeof(uint16_t));
            }
        }
        c->nframes += m;
        c->st.frames += m;
        done += m;
        progress(c, m);
    }
    return 0;
}

/* ---- triggers ------------------------------------------------------------ */

static struct cap *free_buffer(struct pq_capture *c)
{
    size_t i;

    for (i = 0; i < c->cfg.nbufs; i++) {
        if (atomic_load_explicit(&c->bufs[i].state, memory_order_acquire) == BUF_FREE) {
            return &c->bufs[i];
        }
    }
    return NULL;
}

/* Is the pre-trigger span from frame `first` on still (or already) in
 * the ring after the next chunk? */
static int span_available(const struct pq_capture *c, int64_t first)
{
    int64_t lowest = (int64_t) c->nframes + CAP_CHUNK - (int64_t) c->nring;

    return first >= 0 && first >= lowest;
}

/* Fill b for a trigger at source position base + frac (0 <= frac < 1). */
static void setup(struct pq_capture *c, struct cap *b, size_t fmt, int64_t base,
                  double frac, int64_t trigger_ns, const struct pq_capture_why *why)
{
    const struct pq_capture_fmt *f = &c->fmts[fmt];
    struct pq_capture_buf *p = &b->pub;

    b->r = frames_per_sample(&c->cfg, f->spc);
    b->copy = frac == 0 && b->r == 1.0;
    b->t = b->copy ? 0 : half_width(b->r);
    b->scale = b->copy ? 0 : CAP_ZC / b->t;
    b->base = base;
    p->trigger_index = (size_t) f->spc * f->pre_cycles;
    b->off0 = frac - (double) p->trigger_index * b->r;
    b->next = 0;
    b->credit = 0;
    p->seq = ++c->seq;
    p->fmt = fmt;
    p->why = why ? *why : (struct pq_capture_why){PQ_CAPTURE_MANUAL, 0, 15};
    p->spc = f->spc;
    p->pre_cycles = f->pre_cycles;
    p->post_cycles = f->post_cycles;
    p->rate_hz = f->spc * c->cfg.f_nom_hz;
    p->f_nom_hz = c->cfg.f_nom_hz;
    p->nch = c->cfg.nch;
    p->nstatus = c->cfg.nstatus;
    p->nwords = c->nw;
    p->nsamples = (size_t) f->spc * (f->pre_cycles + f->post_cycles);
    p->trigger_ns = trigger_ns;
    p->start_ns =
        trigger_ns - llround((double) p->trigger_index * CAP_NS_PER_S / p->rate_hz);
    p->data = b->data;
    p->status = c->nw ? b->status : NULL;
}

static int start(struct pq_capture *c, size_t fmt, int64_t base, double frac,
                 int64_t trigger_ns, const struct pq_capture_why *why, uint64_t *seq)
{
    const struct pq_capture_fmt *f;
    struct cap *b;
    double r, first;

    if (fmt >= c->cfg.nfmts) {
        c->st.refused_range++;
        return -EINVAL;
    }
    f = &c->fmts[fmt];
    r = frames_per_sample(&c->cfg, f->spc);
    if (frac < CAP_SNAP || frac > 1 - CAP_SNAP) {
        base += frac > 0.5;
        frac = 0;
    }
    first = frac - (double) f->spc * f->pre_cycles * r;
    first -= (frac == 0 && r == 1.0) ? 0 : half_width(r);
    if (c->nframes == 0 || !span_available(c, base + (int64_t) floor(first))) {
        c->st.refused_nodata++;
        return -ENODATA;
    }
    if (base > (int64_t) (c->nframes + c->nring)) {
        c->st.refused_range++;
        return -ERANGE;
    }
    b = free_buffer(c);
    if (!b) {
        c->st.refused_busy++;
        return -PQ_EFULL;
    }
    setup(c, b, fmt, base, frac, trigger_ns, why);
    atomic_store_explicit(&b->state, BUF_FILLING, memory_order_relaxed);
    c->st.triggered++;
    if (seq) {
        *seq = b->pub.seq;
    }
    return 0;
}

int pq_capture_trigger(struct pq_capture *c, size_t fmt, int64_t t_ns,
                       const struct pq_capture_why *why, uint64_t *seq)
{
    int64_t dt_ns;
    double d, fl;

    if (c->nframes == 0) {
        c->st.refused_nodata++;
        return -ENODATA;
    }
    if (__builtin_sub_overflow(t_ns, c->anchor_ns, &dt_ns)) {
        c->st.refused_range++;
        return -ERANGE;
    }
    d = (double) dt_ns * c->cfg.fs_hz / CAP_NS_PER_S;
    fl = floor(d);
    return start(c, fmt, (int64_t) c->anchor_f + (int64_t) fl, d - fl, t_ns, why, seq);
}

int pq_capture_trigger_frame(struct pq_capture *c, size_t fmt, uint64_t frame,
                             const struct pq_capture_why *why, uint64_t *seq)
{
    double d = ((double) frame - (double) c->anchor_f) * CAP_NS_PER_S / c->cfg.fs_hz;

    if (frame > (uint64_t) INT64_MAX / 2) {
        c->st.refused_range++;
        return -ERANGE;
    }
    return start(c, fmt, (int64_t) frame, 0, c->anchor_ns + llround(d), why, seq);
}

void pq_capture_release(struct pq_capture *c, struct pq_capture_buf *buf)
{
    struct cap *b = (struct cap *) (void *) buf;

    (void) c;
    assert(atomic_load_explicit(&b->state, memory_order_relaxed) == BUF_OWNED);
    atomic_store_explicit(&b->state, BUF_FREE, memory_order_release);
}

void pq_capture_stats(const struct pq_capture *c, struct pq_capture_stats *st)
{
    size_t i;

    *st = c->st;
    st->filling = 0;
    st->owned = 0;
    for (i = 0; i < c->cfg.nbufs; i++) {
        int s = atomic_load_explicit(&c->bufs[i].state, memory_order_acquire);

        st->filling += s == BUF_FILLING;
        st->owned += s == BUF_OWNED;
    }
}

const char *pq_capture_reason_name(int reason)
{
    switch (reason) {
    case PQ_CAPTURE_MANUAL:
        return "manual";
    case PQ_CAPTURE_EVENT:
        return "event";
    case PQ_CAPTURE_ALARM:
        return "alarm";
    default:
        return "?";
    }
}
