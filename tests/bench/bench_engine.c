/* bench_engine.c - the whole metrology chain on one core, beside its FFT floor.
 *
 * 8 channels (UA UB UC UN, IA IB IC IN) at 512 samples per cycle, 50 Hz
 * (25.6 kHz), 10 minutes of distorted three-phase signal through pq_meter
 * (engine, aggregation, energy) in this thread.  Prints the real-time factor
 * (seconds of signal per second of CPU), the time the same FFTs take alone
 * (the floor: one 2048-point r2c per phase voltage and current per basic
 * window), and their ratio.  Figures only; it never fails on time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fftw3.h>

#include "pq/meter.h"

#define FS      25600.0
#define F0      50.0
#define SECONDS 600
#define NCH     8
#define M_FFT   2048

static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long basic_records;

static void on_interval(void *ctx, const struct pq_interval *r)
{
    (void) ctx;
    basic_records += r->agg == PQ_AGG_200MS;
}

/* One second (50 whole cycles, so it repeats seamlessly) of 230 V / 100 A
 * with harmonics, interleaved. */
static float *one_second(void)
{
    size_t n = (size_t) FS;
    float *x = malloc(n * NCH * sizeof(float));

    for (size_t k = 0; k < n; k++) {
        double t = (double) k / FS;
        double in = 0;

        for (int ph = 0; ph < 3; ph++) {
            double a = 2 * M_PI * F0 * t - ph * 2 * M_PI / 3;
            double u = 230 * M_SQRT2 * (cos(a) + 0.03 * cos(5 * a) + 0.02 * cos(7 * a));
            double i =
                100 * M_SQRT2 *
                (cos(a - 0.5) + 0.2 * cos(5 * (a - 0.5)) + 0.1 * cos(7 * (a - 0.5)));

            x[k * NCH + (size_t) ph] = (float) u;
            x[k * NCH + 4 + (size_t) ph] = (float) i;
            in += i;
        }
        x[k * NCH + 3] = (float) (0.5 * cos(2 * M_PI * 150 * t));
        x[k * NCH + 7] = (float) in;
    }
    return x;
}

static double fft_floor_s(long windows, int ffts_per_window)
{
    double *in = fftw_malloc(sizeof(double) * M_FFT);
    fftw_complex *out = fftw_malloc(sizeof(fftw_complex) * (M_FFT / 2 + 1));
    fftw_plan p = fftw_plan_dft_r2c_1d(M_FFT, in, out, FFTW_ESTIMATE);
    long n = windows * ffts_per_window;
    double t0;

    for (int k = 0; k < M_FFT; k++) {
        in[k] = sin(0.1 * k) + 0.01 * k;
    }
    t0 = cpu_s();
    for (long i = 0; i < n; i++) {
        fftw_execute_dft_r2c(p, in, out);
        in[i % M_FFT] += out[1][0] * 1e-12; /* keep the work observable */
    }
    t0 = cpu_s() - t0;
    fftw_destroy_plan(p);
    fftw_free(in);
    fftw_free(out);
    return t0;
}

/* The chain over SECONDS of sec; returns CPU seconds. */
static double run_chain(const float *sec, int flicker_events)
{
    static const int roles[NCH] = {PQ_ROLE_UA, PQ_ROLE_UB, PQ_ROLE_UC, PQ_ROLE_UN,
                                   PQ_ROLE_IA, PQ_ROLE_IB, PQ_ROLE_IC, PQ_ROLE_IN};
    struct pq_meter_out out = {.interval = on_interval};
    struct pq_meter_cfg cfg;
    struct pq_meter *m = NULL;
    const char *why = NULL;
    double t;

    memset(&cfg, 0, sizeof(cfg));
    cfg.engine.fs_hz = FS;
    cfg.engine.nch = NCH;
    memcpy(cfg.engine.role, roles, sizeof(roles));
    cfg.engine.wiring = PQ_WIRING_WYE;
    cfg.engine.f_nominal_hz = F0;
    cfg.engine.udin_v = 230;
    cfg.engine.il_a = 100;
    cfg.engine.start_ns = 1767225600000000000LL;
    cfg.levels = (1u << PQ_AGG_COUNT) - 1;
    cfg.flicker = flicker_events;
    cfg.events = flicker_events;
    cfg.ev.udin_v = 230;
    cfg.ev.nph = 3;
    cfg.ev.f_nominal_hz = F0;
    cfg.ev.rvc_pct = 5;
    cfg.ev.rvc_hysteresis_pct = 2.5;
    if (pq_meter_new(&cfg, &out, &m, &why) < 0) {
        fprintf(stderr, "bench_engine: %s\n", why ? why : "cannot create the meter");
        exit(1);
    }
    basic_records = 0;
    t = cpu_s();
    for (int s = 0; s < SECONDS; s++) {
        for (size_t k = 0; k < (size_t) FS; k += 2560) { /* 100 ms per feed */
            pq_meter_feed(m, sec + k * NCH, 2560);
        }
    }
    pq_meter_finish(m);
    t = cpu_s() - t;
    pq_meter_free(m);
    return t;
}

int main(void)
{
    float *sec = one_second();
    double t, t_all, floor_s;

    t = run_chain(sec, 0);
    t_all = run_chain(sec, 1);
    free(sec);
    floor_s = fft_floor_s(basic_records, 6);
    printf("engine: %d s of 8 channels at 512 samples/cycle, 50 Hz: %ld basic windows\n",
           SECONDS, basic_records);
    printf("engine: whole chain %.3f s CPU: real-time factor %.0f\n", t, SECONDS / t);
    printf("engine: FFT floor (%ld x 6 r2c of %d points) %.3f s: real-time factor %.0f\n",
           basic_records, M_FFT, floor_s, SECONDS / floor_s);
    printf("engine: chain / FFT floor = %.2f\n", t / floor_s);
    printf("engine: %.1f us per basic window, %.2f ns per sample and channel\n",
           t / (double) basic_records * 1e6, t / (SECONDS * FS * NCH) * 1e9);
    printf("engine: with flicker (3 phases) and event detection: %.3f s CPU: real-time "
           "factor %.0f\n",
           t_all, SECONDS / t_all);
    return 0;
}
