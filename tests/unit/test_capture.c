/* test_capture.c - waveform capture (pq/capture.c): trigger boundaries to
 * the sample, resampling accuracy, the PM8000 range, buffer exhaustion,
 * the hand-back from another thread, and no allocation after _new.
 *
 * Boundaries are checked with a ramp x[n] = n - F: the capture's output at
 * sample k must then be the source position of that sample, (k - pre) x r
 * frames from the trigger (r = source frames per output sample), which
 * tells an off-by-one sample (r frames) from a filter error (< 0.02 frame).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pq/capture.h"
#include "pq/err.h"

#define T0_NS    (1700000000LL * 1000000000LL)
#define MAX_CH   4
#define FEED_MAX 2000
#define MAX_GOT  16
#define AMP      325.0
#define AMP5     32.5

/* ---- allocation counting ------------------------------------------------ */

static volatile unsigned long n_allocs;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANITIZER_MALLOC 1
#endif
#endif

#ifdef SANITIZER_MALLOC
/* A sanitizer owns malloc: count through its hooks. */
/* NOLINTNEXTLINE(bugprone-reserved-identifier): the sanitizers' interface */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *));

static void on_malloc(const volatile void *p, size_t n)
{
    (void) p;
    (void) n;
    n_allocs++;
}

static void on_free(const volatile void *p)
{
    (void) p;
}

static void count_allocs(void)
{
    static int installed;

    if (!installed) {
        installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    }
    assert_true(installed);
}
#else
/* Replace malloc for this program (glibc allows it) and count the calls;
 * glibc's own allocator does the work. */
void *__libc_malloc(size_t n);              /* NOLINT(bugprone-reserved-identifier) */
void *__libc_calloc(size_t n, size_t size); /* NOLINT(bugprone-reserved-identifier) */
void *__libc_realloc(void *p, size_t n);    /* NOLINT(bugprone-reserved-identifier) */
void __libc_free(void *p);                  /* NOLINT(bugprone-reserved-identifier) */

void *malloc(size_t n)
{
    n_allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    n_allocs++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    n_allocs++;
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

static void count_allocs(void)
{
}
#endif

/* ---- helpers ------------------------------------------------------------- */

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.12g, want %.12g +- %g", got, want, tol);
    }
}

struct got {
    struct pq_capture_buf *buf[MAX_GOT];
    size_t n;
};

static void on_done(void *ctx, struct pq_capture_buf *b)
{
    struct got *g = ctx;

    if (g->n < MAX_GOT) {
        g->buf[g->n++] = b;
    }
}

enum sig_kind { SIG_RAMP, SIG_SINE, SIG_ALIAS, SIG_TWO };

struct sig {
    int kind;
    double fs;
    uint64_t ref; /* ramp: value 0 at this frame; status: bit 0 from here */
    double f_hz;  /* sine frequency */
    double alias_hz;
};

/* Channel ch of the signal at source frame n (channel ch lags 120 deg x ch). */
static double sig_value(const struct sig *s, uint64_t n, size_t ch)
{
    double t = (double) n / s->fs;
    double ph = 2 * M_PI * s->f_hz * t - (double) ch * 2 * M_PI / 3;

    switch (s->kind) {
    case SIG_RAMP:
        return (double) ((int64_t) n - (int64_t) s->ref) * (ch + 1.0);
    case SIG_ALIAS:
        return AMP * sin(ph) + 100 * sin(2 * M_PI * s->alias_hz * t);
    case SIG_TWO:
        return AMP * sin(ph) + 50 * sin(2 * M_PI * 3.1 * t);
    default:
        return AMP * sin(ph) + AMP5 * sin(5 * ph);
    }
}

/* The signal without what the capture must remove (the alias tone). */
static double sig_clean(const struct sig *s, double t_s, size_t ch)
{
    double ph = 2 * M_PI * s->f_hz * t_s - (double) ch * 2 * M_PI / 3;

    if (s->kind == SIG_ALIAS) {
        return AMP * sin(ph);
    }
    if (s->kind == SIG_TWO) {
        return AMP * sin(ph) + 50 * sin(2 * M_PI * 3.1 * t_s);
    }
    return AMP * sin(ph) + AMP5 * sin(5 * ph);
}

/* Feed frames [*next, upto) in batches of at most batch frames. */
static void feed(struct pq_capture *c, const struct sig *s, size_t nch, uint64_t *next,
                 uint64_t upto, size_t batch)
{
    static float fr[FEED_MAX * MAX_CH];
    static uint16_t st[FEED_MAX];

    while (*next < upto) {
        size_t m = upto - *next < batch ? (size_t) (upto - *next) : batch;
        size_t i, ch;

        for (i = 0; i < m; i++) {
            uint64_t n = *next + i;

            for (ch = 0; ch < nch; ch++) {
                fr[i * nch + ch] = (float) sig_value(s, n, ch);
            }
            st[i] = (uint16_t) ((n >= s->ref ? 1u : 0u) | ((n & 1) << 1));
        }
        assert_int_equal(
            pq_capture_feed(c, fr, st, m, T0_NS + llround((double) *next * 1e9 / s->fs)),
            0);
        *next += m;
    }
}

/* Feed until g holds want captures (at most limit frames). */
static void feed_until(struct pq_capture *c, const struct sig *s, size_t nch,
                       uint64_t *next, struct got *g, size_t want, uint64_t limit)
{
    while (g->n < want && *next < limit) {
        feed(c, s, nch, next, *next + 1000 < limit ? *next + 1000 : limit, 1000);
    }
    assert_int_equal(g->n, want);
}

static struct pq_capture *make(double fs, size_t nch, size_t nstatus, size_t nbufs,
                               const struct pq_capture_fmt *fmts, size_t nfmts,
                               struct got *g)
{
    struct pq_capture_cfg cfg = {
        .fs_hz = fs,
        .f_nom_hz = 50,
        .nch = nch,
        .nstatus = nstatus,
        .nbufs = nbufs,
        .fmts = fmts,
        .nfmts = nfmts,
    };
    struct pq_capture *c = NULL;

    memset(g, 0, sizeof(*g));
    assert_int_equal(pq_capture_new(&cfg, on_done, g, &c), 0);
    assert_non_null(c);
    return c;
}

/* Max |output - clean signal| over a capture of a sine, and its RMS error
 * relative to the clean RMS on channel ch. */
static void sine_errors_at(const struct pq_capture_buf *b, const struct sig *s,
                           double trig_s, size_t ch, double *max_err, double *rms_rel)
{
    double sum_got = 0, sum_want = 0, worst = 0;
    size_t k;

    for (k = 0; k < b->nsamples; k++) {
        double t = trig_s + ((double) k - (double) b->trigger_index) / b->rate_hz;
        double want = sig_clean(s, t, ch);
        double got = b->data[k * b->nch + ch];

        worst = fabs(got - want) > worst ? fabs(got - want) : worst;
        sum_got += got * got;
        sum_want += want * want;
    }
    *max_err = worst;
    *rms_rel = sqrt(sum_got / sum_want) - 1;
}

static void sine_errors(const struct pq_capture_buf *b, const struct sig *s,
                        uint64_t trig_frame, size_t ch, double *max_err, double *rms_rel)
{
    sine_errors_at(b, s, (double) trig_frame / s->fs, ch, max_err, rms_rel);
}

/* ---- the PM8000 range ----------------------------------------------------- */

static void test_capture_fmt_check_accepts_exactly_the_pm8000_range(void **state)
{
    static const struct {
        unsigned spc, pre, post;
        int ok;
    } cases[] = {
        {512, 64, 256, 1},  {512, 0, 320, 1},   {512, 1, 320, 0},   {256, 100, 540, 1},
        {256, 100, 541, 0}, {128, 0, 1280, 1},  {128, 0, 1281, 0},  {64, 560, 2000, 1},
        {64, 561, 2000, 0}, {32, 880, 2000, 1}, {32, 881, 2000, 0}, {16, 576, 2304, 1},
        {16, 0, 2880, 1},   {16, 1, 2880, 0},   {16, 2880, 0, 0},   {24, 1, 1, 0},
        {8, 1, 1, 0},       {1024, 1, 1, 0},    {16, 5, 0, 0},      {0, 1, 1, 0},
    };

    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pq_capture_fmt f = {cases[i].spc, cases[i].pre, cases[i].post};

        if ((pq_capture_fmt_check(&f) == 0) != cases[i].ok) {
            fail_msg("%u x (%u + %u): expected %s", f.spc, f.pre_cycles, f.post_cycles,
                     cases[i].ok ? "accepted" : "refused");
        }
    }
}

static void test_capture_new_refuses_bad_configs_and_leaves_out_alone(void **state)
{
    static const struct pq_capture_fmt ok = {64, 2, 3}, bad = {64, 0, 0};
    struct pq_capture_cfg base = {
        .fs_hz = 6400, .f_nom_hz = 50, .nch = 2, .nbufs = 2, .fmts = &ok, .nfmts = 1};
    struct pq_capture *c = (struct pq_capture *) &base;
    struct pq_capture_cfg cfg;
    struct got g;
    int i;

    (void) state;
    for (i = 0; i < 11; i++) {
        cfg = base;
        switch (i) {
        case 0:
            cfg.fs_hz = 0;
            break;
        case 1:
            cfg.f_nom_hz = NAN;
            break;
        case 2:
            cfg.nch = 0;
            break;
        case 3:
            cfg.nch = PQ_CAPTURE_MAX_CH + 1;
            break;
        case 4:
            cfg.nbufs = 0;
            break;
        case 5:
            cfg.nbufs = PQ_CAPTURE_MAX_BUFS + 1;
            break;
        case 6:
            cfg.nfmts = 0;
            break;
        case 7:
            cfg.fmts = &bad;
            break;
        case 8:
            cfg.catchup = 1;
            break;
        case 9:
            cfg.max_lag_s = -1;
            break;
        default:
            cfg.nstatus = PQ_CAPTURE_MAX_STATUS + 1;
            break;
        }
        assert_int_equal(pq_capture_new(&cfg, on_done, &g, &c), -PQ_ECONFIG);
        assert_ptr_equal(c, (struct pq_capture *) &base);
    }
    assert_int_equal(pq_capture_new(&base, NULL, &g, &c), -PQ_ECONFIG);
    assert_int_equal(pq_capture_memory(&cfg), 0);
    assert_true(pq_capture_memory(&base) > 2 * 320 * 2 * sizeof(float));
}

/* ---- boundaries ------------------------------------------------------------ */

static void test_capture_same_rate_copies_frames_and_boundaries_are_exact(void **state)
{
    static const struct pq_capture_fmt f = {64, 2, 3}; /* 3200 Hz = 64 x 50: r = 1 */
    struct sig s = {SIG_RAMP, 3200, 5000, 50, 0};
    struct got g;
    struct pq_capture *c = make(3200, 2, 2, 1, &f, 1, &g);
    uint64_t next = 0, seq = 0;
    size_t k;

    (void) state;
    feed(c, &s, 2, &next, 5003, 500);
    assert_int_equal(pq_capture_trigger_frame(c, 0, 5000, NULL, &seq), 0);
    assert_int_equal(seq, 1);
    feed(c, &s, 2, &next, 5000 + 191, 7); /* the last sample is frame 5191 */
    assert_int_equal(g.n, 0);
    feed(c, &s, 2, &next, 5000 + 192, 7);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.buf[0]->nsamples, 320);
    assert_int_equal(g.buf[0]->trigger_index, 128);
    assert_close(g.buf[0]->rate_hz, 3200, 0);
    for (k = 0; k < 320; k++) {
        if (g.buf[0]->data[k * 2] != (float) ((double) k - 128) ||
            g.buf[0]->data[k * 2 + 1] != (float) (2 * ((double) k - 128))) {
            fail_msg("sample %zu: %g, %g", k, g.buf[0]->data[k * 2],
                     g.buf[0]->data[k * 2 + 1]);
        }
        assert_int_equal(g.buf[0]->status[k] & 1, k >= 128);
        assert_int_equal((g.buf[0]->status[k] >> 1) & 1, (5000 - 128 + k) & 1);
    }
    assert_int_equal(g.buf[0]->trigger_ns, T0_NS + 5000LL * 312500);
    assert_int_equal(g.buf[0]->start_ns, g.buf[0]->trigger_ns - 128LL * 312500);
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

static void test_capture_decimated_boundaries_are_sample_exact(void **state)
{
    /* 3200 Hz to 16 x 50 = 800 Hz: r = 4 frames per sample */
    static const struct pq_capture_fmt f = {16, 2, 3};
    struct sig s = {SIG_RAMP, 3200, 5000, 50, 0};
    struct got g;
    struct pq_capture *c = make(3200, 1, 0, 1, &f, 1, &g);
    const struct pq_capture_buf *b;
    uint64_t next = 0;
    size_t k;

    (void) state;
    feed(c, &s, 1, &next, 5001, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, 5000, NULL, NULL), 0);
    feed_until(c, &s, 1, &next, &g, 1, 20000);
    b = g.buf[0];
    assert_int_equal(b->nsamples, 80);
    assert_int_equal(b->trigger_index, 32);
    assert_null(b->status);
    for (k = 0; k < b->nsamples; k++) {
        assert_close(b->data[k], ((double) k - 32) * 4, 0.02);
    }
    assert_close(b->data[b->trigger_index], 0, 0.02);
    assert_int_equal(b->start_ns - b->trigger_ns, -32LL * 1250000);
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

static void test_capture_trigger_between_frames_lands_on_its_instant(void **state)
{
    /* 3000 Hz, not a multiple of 50 x 32: r = 1.875; trigger 0.4 frame
     * after frame 4000 */
    static const struct pq_capture_fmt f = {32, 3, 2};
    struct sig s = {SIG_RAMP, 3000, 4000, 50, 0};
    struct got g;
    struct pq_capture *c = make(3000, 1, 0, 1, &f, 1, &g);
    const struct pq_capture_buf *b;
    int64_t t_trig = T0_NS + 4000LL * 1000000000 / 3000 + 133333; /* +0.4 frame */
    uint64_t next = 0;
    size_t k;

    (void) state;
    feed(c, &s, 1, &next, 4100, 1000);
    assert_int_equal(pq_capture_trigger(c, 0, t_trig, NULL, NULL), 0);
    feed_until(c, &s, 1, &next, &g, 1, 20000);
    b = g.buf[0];
    assert_int_equal(b->trigger_index, 96);
    assert_int_equal(b->trigger_ns, t_trig);
    assert_int_equal(b->start_ns, t_trig - 60000000); /* 3 cycles of 20 ms */
    for (k = 0; k < b->nsamples; k++) {
        assert_close(b->data[k], 0.4 + ((double) k - 96) * 1.875, 0.02);
    }
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

static void test_capture_with_no_pre_cycles_waits_for_a_future_trigger(void **state)
{
    static const struct pq_capture_fmt f = {64, 0, 1};
    struct sig s = {SIG_RAMP, 3200, 3000, 50, 0};
    struct got g;
    struct pq_capture *c = make(3200, 1, 0, 1, &f, 1, &g);
    uint64_t next = 0;

    (void) state;
    feed(c, &s, 1, &next, 2000, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, 3000, NULL, NULL), 0);
    feed(c, &s, 1, &next, 3063, 1000);
    assert_int_equal(g.n, 0);
    feed(c, &s, 1, &next, 3064, 1000);
    assert_int_equal(g.n, 1);
    assert_close(g.buf[0]->data[0], 0, 0);
    assert_close(g.buf[0]->data[63], 63, 0);
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

/* ---- accuracy ---------------------------------------------------------------- */

static void test_capture_sine_rms_within_0_1_percent_at_every_resolution(void **state)
{
    /* 25 kHz source, not locked to 50 Hz; 50 Hz + 10 % 5th harmonic. */
    static const struct pq_capture_fmt fmts[] = {
        {16, 5, 20}, {32, 5, 20}, {64, 5, 20}, {128, 5, 20}, {256, 5, 20}, {512, 5, 20},
    };
    struct sig s = {SIG_SINE, 25000, 0, 50, 0};
    struct got g;
    struct pq_capture *c = make(25000, 3, 0, 6, fmts, 6, &g);
    uint64_t next = 0, trig = 4000 + 2500 + 7;
    size_t i, ch;

    (void) state;
    feed(c, &s, 3, &next, trig + 1, 1000);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pq_capture_trigger_frame(c, i, trig, NULL, NULL), 0);
    }
    feed_until(c, &s, 3, &next, &g, 6, 100000);
    for (i = 0; i < 6; i++) {
        const struct pq_capture_buf *b = g.buf[i];

        assert_int_equal(b->nsamples, 25 * b->spc);
        for (ch = 0; ch < 3; ch++) {
            double max_err, rms_rel;

            sine_errors(b, &s, trig, ch, &max_err, &rms_rel);
            if (!(fabs(rms_rel) <= 1e-3 && max_err <= 1e-3 * AMP)) {
                fail_msg("%u spc, channel %zu: RMS off by %.3g %%, max error %.3g V",
                         b->spc, ch, rms_rel * 100, max_err);
            }
        }
        pq_capture_release(c, g.buf[i]);
    }
    pq_capture_free(c);
}

static void test_capture_off_nominal_mains_is_resampled_in_time(void **state)
{
    /* 49.7 Hz: the output grid is nominal (800 Hz), the signal is not */
    static const struct pq_capture_fmt f = {16, 10, 40};
    struct sig s = {SIG_SINE, 10000, 0, 49.7, 0};
    struct got g;
    struct pq_capture *c = make(10000, 1, 0, 1, &f, 1, &g);
    uint64_t next = 0, trig = 5000;
    double max_err, rms_rel;

    (void) state;
    feed(c, &s, 1, &next, trig, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, trig, NULL, NULL), 0);
    feed_until(c, &s, 1, &next, &g, 1, 100000);
    sine_errors(g.buf[0], &s, trig, 0, &max_err, &rms_rel);
    assert_true(max_err <= 1e-3 * AMP);
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

static void test_capture_content_above_the_output_nyquist_is_not_aliased(void **state)
{
    /* 1000 Hz at 100 V would alias to 200 Hz at 800 Hz output; must be
     * suppressed by ~60 dB or more. */
    static const struct pq_capture_fmt f = {16, 5, 20};
    struct sig s = {SIG_ALIAS, 25000, 0, 50, 1000};
    struct got g;
    struct pq_capture *c = make(25000, 1, 0, 1, &f, 1, &g);
    uint64_t next = 0, trig = 20000;
    double max_err, rms_rel;

    (void) state;
    feed(c, &s, 1, &next, trig, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, trig, NULL, NULL), 0);
    feed_until(c, &s, 1, &next, &g, 1, 100000);
    sine_errors(g.buf[0], &s, trig, 0, &max_err, &rms_rel);
    if (!(max_err <= 0.1)) {
        fail_msg("alias residue %.3g V of 100 V", max_err);
    }
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

/* ---- the longest and shortest PM8000 formats --------------------------------- */

static void test_capture_longest_pm8000_format_512_x_320(void **state)
{
    static const struct pq_capture_fmt f = {512, 64, 256};
    struct sig s = {SIG_SINE, 25000, 0, 50, 0};
    struct got g;
    struct pq_capture *c = make(25000, 2, 0, 1, &f, 1, &g);
    uint64_t next = 0, trig = 64 * 500 + 777;
    double max_err, rms_rel;

    (void) state;
    feed(c, &s, 2, &next, trig + 10, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, trig, NULL, NULL), 0);
    feed_until(c, &s, 2, &next, &g, 1, trig + 256 * 500 + 5000);
    assert_int_equal(g.buf[0]->nsamples, PQ_CAPTURE_MAX_SAMPLES);
    assert_int_equal(g.buf[0]->trigger_index, 512 * 64);
    assert_close(g.buf[0]->rate_hz, 25600, 0);
    sine_errors(g.buf[0], &s, trig, 1, &max_err, &rms_rel);
    assert_true(fabs(rms_rel) <= 1e-3);
    assert_true(max_err <= 1e-3 * AMP);
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

static void test_capture_shortest_resolution_longest_duration_16_x_2880(void **state)
{
    static const struct pq_capture_fmt f = {16, 576, 2304};
    struct sig s = {SIG_SINE, 6400, 0, 50, 0};
    struct got g;
    struct pq_capture *c = make(6400, 1, 0, 1, &f, 1, &g);
    uint64_t next = 0, trig = 576 * 128 + 333;
    double max_err, rms_rel;

    (void) state;
    feed(c, &s, 1, &next, trig + 1, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, trig, NULL, NULL), 0);
    feed_until(c, &s, 1, &next, &g, 1, trig + 2304 * 128 + 5000);
    assert_int_equal(g.buf[0]->nsamples, 46080);
    assert_int_equal(g.buf[0]->trigger_index, 16 * 576);
    assert_int_equal(g.buf[0]->start_ns, g.buf[0]->trigger_ns - 11520000000LL);
    sine_errors(g.buf[0], &s, trig, 0, &max_err, &rms_rel);
    assert_true(fabs(rms_rel) <= 1e-3);
    assert_true(max_err <= 1e-3 * AMP);
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

/* ---- buffers and refusals ---------------------------------------------------- */

static void test_capture_refuses_and_counts_when_every_buffer_is_busy(void **state)
{
    static const struct pq_capture_fmt f = {32, 1, 1};
    struct sig s = {SIG_SINE, 6400, 0, 50, 0};
    struct got g;
    struct pq_capture *c = make(6400, 1, 0, 2, &f, 1, &g);
    struct pq_capture_why why = {PQ_CAPTURE_ALARM, 42, 1};
    struct pq_capture_stats st;
    uint64_t next = 0, seq = 0;

    (void) state;
    feed(c, &s, 1, &next, 1000, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, 900, &why, &seq), 0);
    assert_int_equal(pq_capture_trigger_frame(c, 0, 950, NULL, &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(pq_capture_trigger_frame(c, 0, 990, NULL, &seq), -PQ_EFULL);
    assert_int_equal(seq, 2);
    feed_until(c, &s, 1, &next, &g, 2, 5000);
    /* both finished but owned by the "writer": still no free buffer */
    assert_int_equal(pq_capture_trigger_frame(c, 0, next - 10, NULL, NULL), -PQ_EFULL);
    pq_capture_stats(c, &st);
    assert_int_equal(st.refused_busy, 2);
    assert_int_equal(st.owned, 2);
    assert_int_equal(st.filling, 0);
    assert_int_equal(g.buf[0]->why.reason, PQ_CAPTURE_ALARM);
    assert_int_equal(g.buf[0]->why.tag, 42);
    assert_int_equal(g.buf[0]->why.tmq, 1);
    assert_int_equal(g.buf[1]->why.reason, PQ_CAPTURE_MANUAL);
    pq_capture_release(c, g.buf[0]);
    assert_int_equal(pq_capture_trigger_frame(c, 0, next - 10, NULL, &seq), 0);
    assert_int_equal(seq, 3);
    pq_capture_stats(c, &st);
    assert_int_equal(st.triggered, 3);
    assert_int_equal(st.completed, 2);
    assert_int_equal(st.owned, 1);
    assert_int_equal(st.filling, 1);
    assert_int_equal(st.frames, next);
    pq_capture_release(c, g.buf[1]);
    pq_capture_free(c);
}

static void test_capture_refuses_triggers_outside_the_ring(void **state)
{
    static const struct pq_capture_fmt f = {32, 10, 1};
    struct sig s = {SIG_SINE, 6400, 0, 50, 0};
    struct got g;
    struct pq_capture *c = make(6400, 1, 0, 1, &f, 1, &g);
    struct pq_capture_stats st;
    uint64_t next = 0;

    (void) state;
    assert_int_equal(pq_capture_trigger(c, 0, T0_NS, NULL, NULL), -ENODATA);
    feed(c, &s, 1, &next, 2000, 1000);
    /* 10 cycles before frame 1000 is before frame 0 */
    assert_int_equal(pq_capture_trigger_frame(c, 0, 1000, NULL, NULL), -ENODATA);
    assert_int_equal(pq_capture_trigger(c, 0, T0_NS - 1000000, NULL, NULL), -ENODATA);
    feed(c, &s, 1, &next, 200000, 1000);
    /* 1 s of lag allowed (default): 2 s back is gone */
    assert_int_equal(pq_capture_trigger_frame(c, 0, next - 2 * 6400, NULL, NULL),
                     -ENODATA);
    assert_int_equal(pq_capture_trigger_frame(c, 0, next + 100000000, NULL, NULL),
                     -ERANGE);
    assert_int_equal(pq_capture_trigger_frame(c, 1, next, NULL, NULL), -EINVAL);
    assert_int_equal(pq_capture_trigger(c, 0, INT64_MIN, NULL, NULL), -ERANGE);
    assert_int_equal(pq_capture_trigger(c, 0, INT64_MAX, NULL, NULL), -ERANGE);
    pq_capture_stats(c, &st);
    assert_int_equal(st.refused_nodata, 4);
    assert_int_equal(st.refused_range, 4);
    assert_int_equal(st.triggered, 0);
    /* within the lag: fine */
    assert_int_equal(pq_capture_trigger_frame(c, 0, next - 6000, NULL, NULL), 0);
    pq_capture_free(c);
}

static void test_capture_long_pre_trigger_catches_up_at_the_stated_speed(void **state)
{
    /* 30 s before the trigger, 1 cycle after, frames one at a time.  The
     * 24016 samples (2 frames each) are computed at catchup = 4 x real
     * time: 48032 frames of signal in 12008 frames fed, never faster (the
     * per-feed work is bounded), and the ring never loses a frame on the way. */
    static const struct pq_capture_fmt f = {16, 1500, 1};
    struct sig s = {SIG_SINE, 1600, 0, 50, 0};
    struct got g;
    struct pq_capture *c = make(1600, 1, 0, 1, &f, 1, &g);
    uint64_t next = 0, trig = 1500 * 32 + 100;
    double max_err, rms_rel;

    (void) state;
    feed(c, &s, 1, &next, trig + 1, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, trig, NULL, NULL), 0);
    feed(c, &s, 1, &next, trig + 1 + 12007, 1);
    assert_int_equal(g.n, 0);
    feed(c, &s, 1, &next, trig + 1 + 12008, 1);
    assert_int_equal(g.n, 1);
    sine_errors(g.buf[0], &s, trig, 0, &max_err, &rms_rel);
    assert_true(max_err <= 1e-3 * AMP);
    pq_capture_release(c, g.buf[0]);
    pq_capture_free(c);
}

struct releaser {
    struct pq_capture *c;
    struct pq_capture_buf *b;
};

static void *release_thread(void *arg)
{
    struct releaser *r = arg;

    pq_capture_release(r->c, r->b);
    return NULL;
}

static void test_capture_buffer_released_by_another_thread_is_reused(void **state)
{
    static const struct pq_capture_fmt f = {32, 1, 1};
    struct sig s = {SIG_SINE, 6400, 0, 50, 0};
    struct got g;
    struct pq_capture *c = make(6400, 1, 0, 1, &f, 1, &g);
    struct releaser r;
    pthread_t th;
    uint64_t next = 0;

    (void) state;
    feed(c, &s, 1, &next, 1000, 1000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, 900, NULL, NULL), 0);
    feed_until(c, &s, 1, &next, &g, 1, 5000);
    assert_int_equal(pq_capture_trigger_frame(c, 0, next - 1, NULL, NULL), -PQ_EFULL);
    r.c = c;
    r.b = g.buf[0];
    assert_int_equal(pthread_create(&th, NULL, release_thread, &r), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pq_capture_trigger_frame(c, 0, next - 1, NULL, NULL), 0);
    feed_until(c, &s, 1, &next, &g, 2, 10000);
    assert_ptr_equal(g.buf[1], g.buf[0]); /* the same buffer, reused */
    assert_int_equal(g.buf[1]->seq, 2);
    pq_capture_release(c, g.buf[1]);
    pq_capture_free(c);
}

/* Random batches and triggers: every capture must come out right, which it
 * cannot if the ring ever dropped a frame a capture still needed (the
 * asserts in capture.c would fire first). */
struct checker {
    struct pq_capture *c;
    const struct sig *s;
    double trig_s[4096]; /* by seq */
    size_t done;
    double worst;
};

static void check_and_release(void *ctx, struct pq_capture_buf *b)
{
    struct checker *k = ctx;
    double max_err, rms_rel;

    sine_errors_at(b, k->s, k->trig_s[b->seq % 4096], 0, &max_err, &rms_rel);
    k->worst = max_err > k->worst ? max_err : k->worst;
    k->done++;
    pq_capture_release(k->c, b);
}

static uint32_t lcg(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

static void test_capture_random_batches_and_triggers_never_lose_data(void **state)
{
    static const struct pq_capture_fmt fmts[] = {
        {16, 4, 6}, {128, 2, 3}, {512, 1, 2}, {32, 20, 2}};
    static struct checker k;
    struct pq_capture_cfg cfg = {.fs_hz = 6400,
                                 .f_nom_hz = 50,
                                 .nch = 1,
                                 .nbufs = 3,
                                 .fmts = fmts,
                                 .nfmts = 4,
                                 .max_lag_s = 0.5};
    struct sig s = {SIG_TWO, 6400, 0, 47.3, 0};
    struct pq_capture_stats st;
    uint32_t x = 12345, n;
    uint64_t next = 0, accepted = 0;

    (void) state;
    memset(&k, 0, sizeof(k));
    k.s = &s;
    assert_int_equal(pq_capture_new(&cfg, check_and_release, &k, &k.c), 0);
    while (next < 600000) {
        size_t batch = 1 + lcg(&x) % 2500;
        uint64_t seq = 0;

        feed(k.c, &s, 1, &next, next + batch, FEED_MAX);
        for (n = lcg(&x) % 4; n > 0; n--) {
            /* up to 0.6 s back (0.5 s allowed) or 0.1 s ahead */
            double back = (double) (lcg(&x) % 7000) / 10000 - 0.1;
            int64_t t = T0_NS + llround(((double) next / 6400 - back) * 1e9);

            if (pq_capture_trigger(k.c, lcg(&x) % 4, t, NULL, &seq) == 0) {
                k.trig_s[seq % 4096] = (double) (t - T0_NS) * 1e-9;
                accepted++;
            }
        }
    }
    feed(k.c, &s, 1, &next, next + 40000, 1000);
    pq_capture_stats(k.c, &st);
    assert_true(accepted >= 200);
    assert_int_equal(k.done, accepted);
    assert_int_equal(st.completed, accepted);
    assert_true(st.refused_busy > 0 && st.refused_nodata > 0);
    print_message("# %" PRIu64 " captures, worst error %.3g V\n", accepted, k.worst);
    if (!(k.worst <= 2e-3 * AMP)) {
        fail_msg("worst error %.3g V over %zu captures", k.worst, k.done);
    }
    pq_capture_free(k.c);
}

static void test_capture_allocates_nothing_after_new(void **state)
{
    static const struct pq_capture_fmt fmts[] = {{16, 5, 5}, {512, 2, 3}};
    struct sig s = {SIG_SINE, 25000, 0, 50, 0};
    struct got g;
    struct pq_capture *c;
    struct pq_capture_stats st;
    uint64_t next = 0;
    unsigned long before;
    int rc[4];

    (void) state;
    count_allocs();
    before = n_allocs;
    c = make(25000, 4, 20, 2, fmts, 2, &g);
    assert_true(n_allocs - before >= 5); /* the counter sees _new's */
    before = n_allocs;
    feed(c, &s, 4, &next, 10000, 1000);
    rc[0] = pq_capture_trigger_frame(c, 0, 9000, NULL, NULL);
    rc[1] = pq_capture_trigger(c, 1, T0_NS + 360000000, NULL, NULL);
    rc[2] = pq_capture_trigger_frame(c, 1, 9500, NULL, NULL); /* refused: busy */
    feed(c, &s, 4, &next, 30000, 100);
    pq_capture_release(c, g.buf[0]);
    rc[3] = pq_capture_trigger_frame(c, 1, 29000, NULL, NULL);
    feed(c, &s, 4, &next, 40000, 1);
    pq_capture_stats(c, &st);
    assert_int_equal(n_allocs - before, 0);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    assert_int_equal(rc[2], -PQ_EFULL);
    assert_int_equal(rc[3], 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.buf[2]->nstatus, 20);
    assert_int_equal(g.buf[2]->nwords, 2);
    pq_capture_release(c, g.buf[1]);
    pq_capture_release(c, g.buf[2]);
    pq_capture_free(c);
}

static void test_capture_reason_names(void **state)
{
    (void) state;
    assert_string_equal(pq_capture_reason_name(PQ_CAPTURE_MANUAL), "manual");
    assert_string_equal(pq_capture_reason_name(PQ_CAPTURE_EVENT), "event");
    assert_string_equal(pq_capture_reason_name(PQ_CAPTURE_ALARM), "alarm");
    assert_string_equal(pq_capture_reason_name(7), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_fmt_check_accepts_exactly_the_pm8000_range),
        cmocka_unit_test(test_capture_new_refuses_bad_configs_and_leaves_out_alone),
        cmocka_unit_test(test_capture_same_rate_copies_frames_and_boundaries_are_exact),
        cmocka_unit_test(test_capture_decimated_boundaries_are_sample_exact),
        cmocka_unit_test(test_capture_trigger_between_frames_lands_on_its_instant),
        cmocka_unit_test(test_capture_with_no_pre_cycles_waits_for_a_future_trigger),
        cmocka_unit_test(test_capture_sine_rms_within_0_1_percent_at_every_resolution),
        cmocka_unit_test(test_capture_off_nominal_mains_is_resampled_in_time),
        cmocka_unit_test(test_capture_content_above_the_output_nyquist_is_not_aliased),
        cmocka_unit_test(test_capture_longest_pm8000_format_512_x_320),
        cmocka_unit_test(test_capture_shortest_resolution_longest_duration_16_x_2880),
        cmocka_unit_test(test_capture_refuses_and_counts_when_every_buffer_is_busy),
        cmocka_unit_test(test_capture_refuses_triggers_outside_the_ring),
        cmocka_unit_test(test_capture_long_pre_trigger_catches_up_at_the_stated_speed),
        cmocka_unit_test(test_capture_buffer_released_by_another_thread_is_reused),
        cmocka_unit_test(test_capture_random_batches_and_triggers_never_lose_data),
        cmocka_unit_test(test_capture_allocates_nothing_after_new),
        cmocka_unit_test(test_capture_reason_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
