/* bench_resample.c - the harmonics chain of one basic window, 8 channels at
 * 512 samples per cycle, 50 Hz (L = 5120 input frames -> 2048 points):
 * pq_resample, the 8 FFTW r2c transforms (the floor), pq_harmonics x 8, and
 * the whole chain with its real-time factor.
 *
 * Each figure is the best batch mean over about 0.2 s (other processes on
 * the machine only ever make a batch slower), so the whole run takes about
 * 2 s and a slow machine prints bigger numbers, never a failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <fftw3.h>

#include "pq/err.h"
#include "pq/harmonics.h"
#include "pq/resample.h"

#define NCH   8
#define M     2048
#define N     10  /* cycles per window at 50 Hz */
#define SPC   512 /* samples per nominal cycle */
#define RUN_S 0.2 /* wall seconds per figure */
#define BATCH 20  /* windows per timed batch */
#define WIN_S 0.2 /* signal seconds per window */

struct bench {
    float *x;
    size_t margin;
    double start;
    double step;
    double *in[NCH];
    fftw_complex *spec[NCH];
    fftw_plan plan;
    double sg[NCH][PQ_MAX_H];
    double g[NCH][PQ_MAX_H];
    double deg[NCH][PQ_MAX_H];
    double isg[NCH][PQ_MAX_H];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

enum stage { ST_RESAMPLE = 1, ST_FFT = 2, ST_HARM = 4 };

static void run_window(struct bench *b, const struct pq_resampler *r, unsigned stages)
{
    if (stages & ST_RESAMPLE) {
        pq_resample(r, b->x, NCH, b->start, b->step, b->in);
    }
    if (stages & ST_FFT) {
        for (int c = 0; c < NCH; c++) {
            fftw_execute_dft_r2c(b->plan, b->in[c], b->spec[c]);
        }
    }
    if (stages & ST_HARM) {
        for (int c = 0; c < NCH; c++) {
            pq_harmonics((const double(*)[2]) b->spec[c], M, N, b->sg[c], b->g[c],
                         b->deg[c], b->isg[c]);
        }
    }
}

/* Seconds per window: the best batch over RUN_S. */
static double time_stages(struct bench *b, const struct pq_resampler *r, unsigned stages)
{
    double best = INFINITY;
    double t_end = now_s() + RUN_S;

    run_window(b, r, stages); /* warm the caches */
    while (now_s() < t_end) {
        double t0 = now_s();
        double t;

        for (int i = 0; i < BATCH; i++) {
            run_window(b, r, stages);
        }
        t = (now_s() - t0) / BATCH;
        best = t < best ? t : best;
    }
    return best;
}

static struct pq_resampler *resampler(double pass, int generic)
{
    struct pq_resample_opts o = {.pass = pass, .generic = generic};
    struct pq_resampler *r;
    int rc = pq_resampler_new_opts(M, &o, &r);

    if (rc < 0) {
        fprintf(stderr, "bench_resample: pq_resampler_new_opts: %s\n", pq_strerror(rc));
        exit(1);
    }
    return r;
}

static void setup(struct bench *b, double fs, double f, size_t margin)
{
    size_t nfr;

    b->step = N * fs / f / M;
    b->margin = margin;
    b->start = (double) margin + 0.25;
    nfr = (size_t) ceil(b->start + M * b->step) + margin + 2;
    free(b->x);
    b->x = malloc(sizeof(float) * nfr * NCH);
    if (!b->x) {
        fprintf(stderr, "bench_resample: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < nfr; i++) {
        for (int c = 0; c < NCH; c++) {
            double t = (double) i / fs + c * 0.001;

            b->x[i * NCH + (size_t) c] =
                (float) (cos(2 * M_PI * f * t) + 0.05 * cos(2 * M_PI * 5 * f * t) +
                         0.01 * cos(2 * M_PI * 37 * f * t));
        }
    }
}

int main(void)
{
    static struct bench b;
    struct pq_resampler *iec = resampler(pq_resample_pass_iec(N, PQ_MAX_H, M), 0);
    struct pq_resampler *def = resampler(0.0, 0);
    struct pq_resampler *gen = resampler(pq_resample_pass_iec(N, PQ_MAX_H, M), 1);
    double t_fft;
    double t_res;
    double t_def;
    double t_gen;
    double t_harm;
    double t_chain;
    double t_256;

    for (int c = 0; c < NCH; c++) {
        b.in[c] = fftw_malloc(sizeof(double) * M);
        b.spec[c] = fftw_malloc(sizeof(fftw_complex) * (M / 2 + 1));
        if (!b.in[c] || !b.spec[c]) {
            fprintf(stderr, "bench_resample: out of memory\n");
            return 1;
        }
    }
    /* FFTW_MEASURE overwrites the arrays: plan before filling them. */
    b.plan = fftw_plan_dft_r2c_1d(M, b.in[0], b.spec[0], FFTW_MEASURE);
    setup(&b, SPC * 50.0, 50.0, pq_resample_margin_max(def));
    run_window(&b, iec, ST_RESAMPLE);

    t_fft = time_stages(&b, iec, ST_FFT);
    t_res = time_stages(&b, iec, ST_RESAMPLE);
    t_def = time_stages(&b, def, ST_RESAMPLE);
    t_gen = time_stages(&b, gen, ST_RESAMPLE);
    t_harm = time_stages(&b, iec, ST_HARM);
    t_chain = time_stages(&b, iec, ST_RESAMPLE | ST_FFT | ST_HARM);

    printf("8 ch, %d samples/cycle at 50 Hz, N = %d: %.0f input frames -> %d points "
           "(step %.3f)\n",
           SPC, N, M * b.step, M, b.step);
    printf("fft: 8 x r2c %d (FFTW_MEASURE): %.1f us per window (the floor)\n", M,
           t_fft * 1e6);
    printf("resample: 8 ch x %d: %.1f us per window (FFT floor %.1f us, ratio %.2f) "
           "[IEC band %.4f, %s]\n",
           M, t_res * 1e6, t_fft * 1e6, t_res / t_fft,
           pq_resample_pass_iec(N, PQ_MAX_H, M), pq_resampler_isa(iec));
    printf("resample: 8 ch x %d: %.1f us per window (FFT floor %.1f us, ratio %.2f) "
           "[default band %.3f, %s]\n",
           M, t_def * 1e6, t_fft * 1e6, t_def / t_fft, PQ_RESAMPLE_PASS_DEFAULT,
           pq_resampler_isa(def));
    printf("resample: 8 ch x %d: %.1f us per window (FFT floor %.1f us, ratio %.2f) "
           "[IEC band, generic code]\n",
           M, t_gen * 1e6, t_fft * 1e6, t_gen / t_fft);
    printf("harmonics: 8 x pq_harmonics: %.1f us per window\n", t_harm * 1e6);
    printf(
        "chain: resample + fft + harmonics: %.1f us per window (%.2f x the FFT floor), "
        "real-time factor %.0f\n",
        t_chain * 1e6, t_chain / t_fft, WIN_S / t_chain);

    setup(&b, 256 * 50.0, 50.0, pq_resample_margin_max(def));
    t_256 = time_stages(&b, iec, ST_RESAMPLE);
    printf("resample at 256 samples/cycle (step %.3f): %.1f us per window (ratio %.2f)\n",
           b.step, t_256 * 1e6, t_256 / t_fft);

    fftw_destroy_plan(b.plan);
    for (int c = 0; c < NCH; c++) {
        fftw_free(b.in[c]);
        fftw_free(b.spec[c]);
    }
    free(b.x);
    pq_resampler_free(iec);
    pq_resampler_free(def);
    pq_resampler_free(gen);
    fftw_cleanup();
    return 0;
}
