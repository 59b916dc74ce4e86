/* test_resample.c - pq/resample: accuracy of the whole resample + FFT chain,
 * anti-aliasing, margins, channel groups and the CPU-specific path.
 *
 * The sweeps feed cosines at orders 1..63 of 42.5, 50, 50.37 and 57.5 Hz
 * (50 Hz system, N = 10) and 60 and 69 Hz (60 Hz system, N = 12), sampled
 * at 512, 256 or 128 samples per nominal cycle, resample exactly N cycles
 * to 2048 points, FFT them and compare bin N*h with the analytic amplitude
 * and phase.  Targets: 0.1 % of reading and 0.1 degree; each sweep prints
 * its worst errors as TAP comments.  The resamplers under test: the
 * default flat band (0.375 of the output rate), the IEC band for the
 * system's N (pq_resample_pass_iec()), and the generic code path.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fftw3.h>

#include "pq/harmonics.h"
#include "pq/resample.h"

#define M       2048
#define MAXCH   11
#define MAG_TOL 1e-3 /* 0.1 % of reading */
#define DEG_TOL 0.1  /* degrees */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct fixture {
    struct pq_resampler *def;     /* default options, best code path */
    struct pq_resampler *iec10;   /* flat band of N = 10, up to h = 63 */
    struct pq_resampler *iec12;   /* flat band of N = 12 */
    struct pq_resampler *generic; /* default band, generic code */
    double *in;
    fftw_complex *spec;
    fftw_plan plan;
    double *out[MAXCH];
};

struct worst {
    double mag; /* relative */
    double deg;
    int h_mag;
    int h_deg;
    int h_top; /* highest order checked */
};

static const double sweep_f[] = {42.5, 50.0, 50.37, 57.5, 60.0, 69.0};

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g is not within %g of %.17g\n", got, tol, want);
        fail();
    }
}

static int group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct pq_resample_opts o = {0};

    if (!fx) {
        return -1;
    }
    o.pass = pq_resample_pass_iec(10, 63, M);
    if (pq_resampler_new(M, &fx->def) || pq_resampler_new_opts(M, &o, &fx->iec10)) {
        return -1;
    }
    o.pass = pq_resample_pass_iec(12, 63, M);
    if (pq_resampler_new_opts(M, &o, &fx->iec12)) {
        return -1;
    }
    o.pass = 0.0;
    o.generic = 1;
    if (pq_resampler_new_opts(M, &o, &fx->generic)) {
        return -1;
    }
    fx->in = fftw_malloc(sizeof(double) * M);
    fx->spec = fftw_malloc(sizeof(fftw_complex) * (M / 2 + 1));
    for (int c = 0; c < MAXCH; c++) {
        fx->out[c] = fftw_malloc(sizeof(double) * M);
        if (!fx->out[c]) {
            return -1;
        }
    }
    if (!fx->in || !fx->spec) {
        return -1;
    }
    fx->plan = fftw_plan_dft_r2c_1d(M, fx->in, fx->spec, FFTW_ESTIMATE);
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *fx = *state;

    pq_resampler_free(fx->def);
    pq_resampler_free(fx->iec10);
    pq_resampler_free(fx->iec12);
    pq_resampler_free(fx->generic);
    fftw_destroy_plan(fx->plan);
    fftw_free(fx->in);
    fftw_free(fx->spec);
    for (int c = 0; c < MAXCH; c++) {
        fftw_free(fx->out[c]);
    }
    fftw_cleanup();
    free(fx);
    return 0;
}

/* Spectrum of out[c] into fx->spec. */
static void fft_of(struct fixture *fx, const double *y)
{
    memcpy(fx->in, y, sizeof(double) * M);
    fftw_execute(fx->plan);
}

static double bin_mag(const struct fixture *fx, int k)
{
    return hypot(fx->spec[k][0], fx->spec[k][1]) * 2.0 / M; /* amplitude */
}

static double wrap_deg(double d)
{
    d = fmod(d, 360.0);
    if (d > 180.0) {
        d -= 360.0;
    } else if (d <= -180.0) {
        d += 360.0;
    }
    return d;
}

static float *frames_new(size_t nframes, size_t nch)
{
    float *x = malloc(sizeof(float) * nframes * nch);

    assert_non_null(x);
    return x;
}

/* One frequency of a sweep: 8 orders per pass, one per channel. */
static void sweep_one(struct fixture *fx, const struct pq_resampler *r, int spc, double f,
                      struct worst *w)
{
    const int n = f < 58.0 ? 10 : 12;
    const double fs = spc * (f < 58.0 ? 50.0 : 60.0);
    const double step = n * fs / f / M;
    const size_t margin = pq_resample_margin(r, step);
    const double start = (double) margin + 2.37;
    const size_t nfr = (size_t) ceil(start + M * step) + margin + 2;
    /* Upsampling keeps the input band up to pass_up (0.42 of fs). */
    const double top = step < 1.0 ? PQ_RESAMPLE_PASS_UP_DEFAULT : 0.5;
    float *x = frames_new(nfr, 8);

    for (int h0 = 1; h0 <= 63; h0 += 8) {
        for (size_t i = 0; i < nfr; i++) {
            for (int c = 0; c < 8; c++) {
                int h = h0 + c;

                x[i * 8 + (size_t) c] =
                    (float) cos(2.0 * M_PI * h * f * (double) i / fs + 0.3 * h);
            }
        }
        pq_resample(r, x, 8, start, step, fx->out);
        for (int c = 0; c < 8; c++) {
            int h = h0 + c;
            double em;
            double ea;

            if (h > 63 || h * f / fs > top) {
                continue;
            }
            fft_of(fx, fx->out[c]);
            em = fabs(bin_mag(fx, n * h) - 1.0);
            ea = fabs(
                wrap_deg(atan2(fx->spec[n * h][1], fx->spec[n * h][0]) * 180.0 / M_PI -
                         (360.0 * h * f * start / fs + 0.3 * h * 180.0 / M_PI)));
            if (em > w->mag) {
                w->mag = em;
                w->h_mag = h;
            }
            if (ea > w->deg) {
                w->deg = ea;
                w->h_deg = h;
            }
            if (h > w->h_top) {
                w->h_top = h;
            }
        }
    }
    free(x);
}

static void sweep(struct fixture *fx, int spc, double mag_tol, int min_top_at_50)
{
    struct {
        const char *name;
        const struct pq_resampler *r50;
        const struct pq_resampler *r60;
    } sets[] = {
        {"default", fx->def, fx->def},
        {"iec", fx->iec10, fx->iec12},
        {"generic", fx->generic, fx->generic},
    };

    for (size_t s = 0; s < ARRAY_LEN(sets); s++) {
        for (size_t i = 0; i < ARRAY_LEN(sweep_f); i++) {
            struct worst w = {0};
            double f = sweep_f[i];

            sweep_one(fx, f < 58.0 ? sets[s].r50 : sets[s].r60, spc, f, &w);
            print_message(
                "# %s, %d samples/cycle, %5.2f Hz: worst magnitude %.4f %% (h%d), "
                "angle %.4f deg (h%d), orders 1..%d\n",
                sets[s].name, spc, f, w.mag * 100.0, w.h_mag, w.deg, w.h_deg, w.h_top);
            assert_true(w.mag < mag_tol);
            assert_true(w.deg < DEG_TOL);
            if (f == 50.0) {
                assert_true(w.h_top >= min_top_at_50);
            }
        }
    }
}

/* ---- accuracy of the chain ---- */

static void test_resample_sweep_at_512_spc_is_within_0_1_pct_and_0_1_deg(void **state)
{
    sweep(*state, 512, MAG_TOL, 63);
}

static void test_resample_sweep_at_256_spc_is_within_0_1_pct_and_0_1_deg(void **state)
{
    sweep(*state, 256, MAG_TOL, 63);
}

/* 128 samples per nominal cycle upsamples; the flat band ends at 0.42 of
 * the input rate, order 53 at 50 Hz (46 at 57.5 Hz, 62 at 42.5 Hz). */
static void test_resample_sweep_at_128_spc_keeps_orders_below_0_42_fs(void **state)
{
    sweep(*state, 128, MAG_TOL, 53);
}

/* Fundamental at full scale plus orders 2..63 at 1 % each: every order
 * within 0.1 % of its reading or 0.01 % of the fundamental, the larger. */
static void
test_resample_distorted_wave_keeps_each_order_within_iec_tolerance(void **state)
{
    struct fixture *fx = *state;
    const double f = 50.37;
    const double fs = 256 * 50.0;
    const double step = 10.0 * fs / f / M;
    const size_t margin = pq_resample_margin(fx->def, step);
    const double start = (double) margin + 0.61;
    const size_t nfr = (size_t) ceil(start + M * step) + margin + 2;
    float *x = frames_new(nfr, 1);
    double *out[1] = {fx->out[0]};
    double worst = 0.0;

    (void) state;
    for (size_t i = 0; i < nfr; i++) {
        double v = cos(2.0 * M_PI * f * (double) i / fs);

        for (int h = 2; h <= 63; h++) {
            v += 0.01 * cos(2.0 * M_PI * h * f * (double) i / fs + 1.7 * h);
        }
        x[i] = (float) v;
    }
    pq_resample(fx->def, x, 1, start, step, out);
    fft_of(fx, out[0]);
    assert_close(bin_mag(fx, 10), 1.0, MAG_TOL);
    for (int h = 2; h <= 63; h++) {
        double err = fabs(bin_mag(fx, 10 * h) - 0.01);

        worst = err > worst ? err : worst;
    }
    print_message("# 1 %% orders on a full-scale fundamental: worst error %.2e of the "
                  "fundamental\n",
                  worst);
    assert_true(worst <= 1e-4); /* max(0.1 % of 0.01, 0.01 % of 1) */
    free(x);
}

/* T8 through the chain, at fs = 10.24 kHz (step 1) and 25.6 kHz (2.5). */
static void test_resample_t8_through_the_chain_gives_reference_groups(void **state)
{
    struct fixture *fx = *state;
    const double rates[] = {10240.0, 25600.0};

    for (size_t i = 0; i < ARRAY_LEN(rates); i++) {
        const double fs = rates[i];
        const double step = 10.0 * fs / 50.0 / M;
        const size_t margin = pq_resample_margin(fx->def, step);
        const double start = (double) margin + 1.0;
        const size_t nfr = (size_t) ceil(start + M * step) + margin + 2;
        float *x = frames_new(nfr, 1);
        double *out[1] = {fx->out[0]};
        double sg[PQ_MAX_H];
        double g[PQ_MAX_H];
        double isg[PQ_MAX_H];

        for (size_t k = 0; k < nfr; k++) {
            double t = (double) k / fs;

            x[k] = (float) (sqrt(2.0) * (230.0 * cos(2.0 * M_PI * 50.0 * t) +
                                         10.0 * cos(2.0 * M_PI * 250.0 * t) +
                                         2.0 * cos(2.0 * M_PI * 285.0 * t)));
        }
        pq_resample(fx->def, x, 1, start, step, out);
        fft_of(fx, out[0]);
        pq_harmonics((const double(*)[2]) fx->spec, M, 10, sg, g, NULL, isg);
        assert_close(sg[0], 230.0, 230.0 * MAG_TOL);
        assert_close(sg[4], 10.0, 10.0 * MAG_TOL);
        assert_close(g[4], 10.0, 10.0 * MAG_TOL);
        assert_close(isg[5], 2.0, 2.0 * MAG_TOL);
        assert_close(pq_thd_pct(sg, 50), 4.348, 0.005);
        free(x);
    }
}

/* ---- anti-aliasing ---- */

/* Tones above the output Nyquist, which fold onto the flat band, come out
 * at least 70 dB down. */
static void test_resample_suppresses_what_would_alias_onto_the_flat_band(void **state)
{
    struct fixture *fx = *state;
    const double steps[] = {2.5, 3.53, 1.9, 1.3};
    const double fo[] = {0.63, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4};
    double worst_db = -400.0;

    for (size_t s = 0; s < ARRAY_LEN(steps); s++) {
        const double step = steps[s];
        const size_t margin = pq_resample_margin(fx->def, step);
        const double start = (double) margin + 0.4;
        const size_t nfr = (size_t) ceil(start + M * step) + margin + 2;
        float *x = frames_new(nfr, 1);
        double *out[1] = {fx->out[0]};

        for (size_t i = 0; i < ARRAY_LEN(fo); i++) {
            double fin = fo[i] / step; /* cycles per input sample */
            double peak = 0.0;

            if (fin >= 0.49) {
                continue;
            }
            for (size_t k = 0; k < nfr; k++) {
                x[k] = (float) cos(2.0 * M_PI * fin * (double) k + 0.2);
            }
            pq_resample(fx->def, x, 1, start, step, out);
            fft_of(fx, out[0]);
            for (int k = 1; k <= (int) (PQ_RESAMPLE_PASS_DEFAULT * M); k++) {
                peak = fmax(peak, bin_mag(fx, k));
            }
            worst_db = fmax(worst_db, 20.0 * log10(peak + 1e-300));
        }
        free(x);
    }
    print_message("# strongest alias on the flat band: %.1f dB\n", worst_db);
    assert_true(worst_db < -70.0);
}

static void test_resample_constant_input_stays_constant(void **state)
{
    struct fixture *fx = *state;
    const double steps[] = {0.55, 1.0, 1.37, 2.0, 2.9, 3.9};

    for (size_t s = 0; s < ARRAY_LEN(steps); s++) {
        const size_t margin = pq_resample_margin(fx->def, steps[s]);
        const double start = (double) margin + 0.5;
        const size_t nfr = (size_t) ceil(start + M * steps[s]) + margin + 2;
        float *x = frames_new(nfr, 1);
        double *out[1] = {fx->out[0]};

        for (size_t k = 0; k < nfr; k++) {
            x[k] = 3.0f;
        }
        pq_resample(fx->def, x, 1, start, steps[s], out);
        for (int k = 0; k < M; k++) {
            assert_close(out[0][k], 3.0, 3.0 * 2e-4);
        }
        free(x);
    }
}

/* ---- what is read ---- */

/* Frames outside floor(start) - margin .. ceil(start + m*step) + margin are
 * NaN: not one may reach an output. */
static void test_resample_reads_nothing_outside_the_margin(void **state)
{
    struct fixture *fx = *state;
    const double steps[] = {0.54, 0.99, 1.0, 1.3, 1.999, 2.0, 2.2, 2.5, 3.53, 4.0, 5.5};
    const size_t nchs[] = {1, 3, 8, 11};
    const struct pq_resampler *rs[] = {fx->def, fx->generic, fx->iec10};

    for (size_t ri = 0; ri < ARRAY_LEN(rs); ri++) {
        for (size_t s = 0; s < ARRAY_LEN(steps); s++) {
            for (size_t c = 0; c < ARRAY_LEN(nchs); c++) {
                const size_t nch = nchs[c];
                const double step = steps[s];
                const size_t margin = pq_resample_margin(rs[ri], step);
                const double start = (double) margin + 20.73;
                const size_t lo = (size_t) floor(start) - margin;
                const size_t hi = (size_t) ceil(start + M * step) + margin;
                const size_t nfr = hi + 20;
                float *x = frames_new(nfr, nch);

                for (size_t k = 0; k < nfr; k++) {
                    for (size_t ch = 0; ch < nch; ch++) {
                        x[k * nch + ch] =
                            k < lo || k > hi
                                ? NAN
                                : (float) sin(0.01 * (double) k + (double) ch);
                    }
                }
                pq_resample(rs[ri], x, nch, start, step, fx->out);
                for (size_t ch = 0; ch < nch; ch++) {
                    for (int k = 0; k < M; k++) {
                        if (!isfinite(fx->out[ch][k])) {
                            print_error("step %g nch %zu: out[%zu][%d] not finite\n",
                                        step, nch, ch, k);
                            fail();
                        }
                    }
                }
                free(x);
            }
        }
    }
}

static void test_resample_margin_max_bounds_the_margin_of_every_step(void **state)
{
    struct fixture *fx = *state;
    const struct pq_resampler *rs[] = {fx->def, fx->iec10, fx->iec12};

    for (size_t i = 0; i < ARRAY_LEN(rs); i++) {
        size_t mx = pq_resample_margin_max(rs[i]);

        for (double step = 0.05; step <= 3.0 * PQ_RESAMPLE_STEP_MAX; step += 0.001) {
            assert_true(pq_resample_margin(rs[i], step) <= mx);
        }
    }
}

/* x may point into a larger buffer and the window may start at negative
 * frames: the same samples give the same outputs. */
static void test_resample_accepts_negative_frame_indices(void **state)
{
    struct fixture *fx = *state;
    const double step = 2.5;
    const size_t shift = 6000;
    const size_t nfr = 2 * shift;
    float *base = frames_new(nfr, 1);
    double *a[1] = {fx->out[0]};
    double *b[1] = {fx->out[1]};

    for (size_t k = 0; k < nfr; k++) {
        base[k] = (float) cos(0.013 * (double) k);
    }
    pq_resample(fx->def, base, 1, 100.3, step, a);
    pq_resample(fx->def, base + shift, 1, 100.3 - (double) shift, step, b);
    for (int k = 0; k < M; k++) {
        assert_close(b[0][k], a[0][k], 0.0);
    }
    free(base);
}

/* ---- channels and code paths ---- */

/* Eleven channels (a group of 8 and one of 3) give what each channel
 * resampled alone gives. */
static void test_resample_channel_groups_match_single_channel_runs(void **state)
{
    struct fixture *fx = *state;
    const double steps[] = {0.7, 1.4, 2.6};
    const size_t nch = 11;

    for (size_t s = 0; s < ARRAY_LEN(steps); s++) {
        const double step = steps[s];
        const size_t margin = pq_resample_margin(fx->def, step);
        const double start = (double) margin + 3.3;
        const size_t nfr = (size_t) ceil(start + M * step) + margin + 2;
        float *x = frames_new(nfr, nch);
        float *one = frames_new(nfr, 1);
        double *single[1];

        single[0] = malloc(sizeof(double) * M);
        assert_non_null(single[0]);
        for (size_t k = 0; k < nfr; k++) {
            for (size_t ch = 0; ch < nch; ch++) {
                x[k * nch + ch] =
                    (float) cos(0.002 * (double) ((ch + 1) * k) + (double) ch);
            }
        }
        pq_resample(fx->def, x, nch, start, step, fx->out);
        for (size_t ch = 0; ch < nch; ch++) {
            for (size_t k = 0; k < nfr; k++) {
                one[k] = x[k * nch + ch];
            }
            pq_resample(fx->def, one, 1, start, step, single);
            for (int k = 0; k < M; k++) {
                assert_close(fx->out[ch][k], single[0][k], 1e-6);
            }
        }
        free(single[0]);
        free(one);
        free(x);
    }
}

static void test_resample_generic_and_cpu_specific_paths_agree(void **state)
{
    struct fixture *fx = *state;
    const double steps[] = {0.6, 1.0, 1.3, 2.5, 3.5};

    print_message("# code path in use: %s\n", pq_resampler_isa(fx->def));
    for (size_t s = 0; s < ARRAY_LEN(steps); s++) {
        const double step = steps[s];
        const size_t margin = pq_resample_margin(fx->def, step);
        const double start = (double) margin + 0.9;
        const size_t nfr = (size_t) ceil(start + M * step) + margin + 2;
        float *x = frames_new(nfr, 8);
        double *gen[8];

        for (int c = 0; c < 8; c++) {
            gen[c] = malloc(sizeof(double) * M);
            assert_non_null(gen[c]);
        }
        for (size_t k = 0; k < nfr * 8; k++) {
            x[k] = (float) sin(0.0037 * (double) k);
        }
        pq_resample(fx->def, x, 8, start, step, fx->out);
        pq_resample(fx->generic, x, 8, start, step, gen);
        for (int c = 0; c < 8; c++) {
            for (int k = 0; k < M; k++) {
                assert_close(fx->out[c][k], gen[c][k], 1e-5);
            }
            free(gen[c]);
        }
        free(x);
    }
}

/* An output count that is no multiple of the blocks: 1001 points over 10
 * cycles still put order 3 on bin 30. */
static void test_resample_odd_output_count_keeps_harmonics_on_their_bins(void **state)
{
    enum { ODD = 1001 };
    struct pq_resampler *r;
    double *y = fftw_malloc(sizeof(double) * ODD);
    fftw_complex *sp = fftw_malloc(sizeof(fftw_complex) * (ODD / 2 + 1));
    fftw_plan p = fftw_plan_dft_r2c_1d(ODD, y, sp, FFTW_ESTIMATE);
    const double fs = 12800.0;
    const double f = 49.2;
    const double step = 10.0 * fs / f / ODD;
    double *out[1] = {y};
    float *x;
    size_t margin;
    size_t nfr;

    (void) state;
    assert_int_equal(pq_resampler_new(ODD, &r), 0);
    margin = pq_resample_margin(r, step);
    nfr = (size_t) ceil(margin + 1.0 + ODD * step) + margin + 2;
    x = frames_new(nfr, 1);
    for (size_t k = 0; k < nfr; k++) {
        x[k] = (float) cos(2.0 * M_PI * 3.0 * f * (double) k / fs - 1.0);
    }
    pq_resample(r, x, 1, (double) margin + 1.0, step, out);
    fftw_execute(p);
    assert_close(hypot(sp[30][0], sp[30][1]) * 2.0 / ODD, 1.0, MAG_TOL);
    assert_close(hypot(sp[31][0], sp[31][1]) * 2.0 / ODD, 0.0, 1e-4);
    free(x);
    fftw_destroy_plan(p);
    fftw_free(sp);
    fftw_free(y);
    pq_resampler_free(r);
}

/* ---- life cycle ---- */

static void test_resampler_new_rejects_bad_options_and_leaves_out_alone(void **state)
{
    struct pq_resampler *r = (struct pq_resampler *) state; /* any non-NULL marker */
    struct pq_resample_opts o = {0};

    assert_int_equal(pq_resampler_new(0, &r), -EINVAL);
    o.pass = 0.46;
    assert_int_equal(pq_resampler_new_opts(M, &o, &r), -EINVAL);
    o.pass = 0.01;
    assert_int_equal(pq_resampler_new_opts(M, &o, &r), -EINVAL);
    o.pass = 0.3;
    o.pass_up = 0.48;
    assert_int_equal(pq_resampler_new_opts(M, &o, &r), -EINVAL);
    o.pass_up = NAN;
    assert_int_equal(pq_resampler_new_opts(M, &o, &r), -EINVAL);
    assert_ptr_equal(r, (struct pq_resampler *) state);
    pq_resampler_free(NULL);
}

static void test_resample_pass_iec_covers_group_63(void **state)
{
    (void) state;
    assert_close(pq_resample_pass_iec(10, 63, 2048), 635.0 / 2048.0, 1e-15);
    assert_close(pq_resample_pass_iec(12, 63, 2048), 762.0 / 2048.0, 1e-15);
    assert_close(pq_resample_pass_iec(10, 63, 0), 0.0, 0.0);
}

static void test_resample_ignores_nonpositive_step_and_zero_channels(void **state)
{
    struct fixture *fx = *state;
    float x[64] = {0};

    fx->out[0][0] = 42.0;
    pq_resample(fx->def, x, 1, 10.0, 0.0, fx->out);
    pq_resample(fx->def, x, 1, 10.0, -1.0, fx->out);
    pq_resample(fx->def, x, 1, 10.0, NAN, fx->out);
    pq_resample(fx->def, x, 0, 10.0, 1.0, fx->out);
    assert_close(fx->out[0][0], 42.0, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resample_sweep_at_512_spc_is_within_0_1_pct_and_0_1_deg),
        cmocka_unit_test(test_resample_sweep_at_256_spc_is_within_0_1_pct_and_0_1_deg),
        cmocka_unit_test(test_resample_sweep_at_128_spc_keeps_orders_below_0_42_fs),
        cmocka_unit_test(
            test_resample_distorted_wave_keeps_each_order_within_iec_tolerance),
        cmocka_unit_test(test_resample_t8_through_the_chain_gives_reference_groups),
        cmocka_unit_test(test_resample_suppresses_what_would_alias_onto_the_flat_band),
        cmocka_unit_test(test_resample_constant_input_stays_constant),
        cmocka_unit_test(test_resample_reads_nothing_outside_the_margin),
        cmocka_unit_test(test_resample_margin_max_bounds_the_margin_of_every_step),
        cmocka_unit_test(test_resample_accepts_negative_frame_indices),
        cmocka_unit_test(test_resample_channel_groups_match_single_channel_runs),
        cmocka_unit_test(test_resample_generic_and_cpu_specific_paths_agree),
        cmocka_unit_test(test_resample_odd_output_count_keeps_harmonics_on_their_bins),
        cmocka_unit_test(test_resampler_new_rejects_bad_options_and_leaves_out_alone),
        cmocka_unit_test(test_resample_pass_iec_covers_group_63),
        cmocka_unit_test(test_resample_ignores_nonpositive_step_and_zero_channels),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
