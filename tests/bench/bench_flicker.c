/* bench_flicker.c - cost of the IEC 61000-4-15 flickermeter per channel.
 *
 * One channel at 25.6 kHz (512 samples per 50 Hz cycle, the engine's rate),
 * fed as the engine will: interleaved 8-channel frames (stride 8), 100 ms
 * per call, 10 minutes of a distorted 230 V voltage with 0.25 % at 8.8 Hz,
 * so one Pst is emitted.  Prints the CPU time per sample and the real-time
 * factor (seconds of signal per CPU second) of one channel; the engine's
 * factor with flicker on 3 channels drops by 3 / that per second of signal.
 * Figures only; it never fails on time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pq/flicker.h"

#define FS      25600.0
#define F0      50.0
#define NCH     8
#define SECONDS 600
#define FEED    2560 /* frames per call: 100 ms */

static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int npst;
static double last_pst;

static void on_pst(void *ctx, int64_t start_ns, int64_t end_ns, double pst,
                   unsigned flags)
{
    (void) ctx;
    (void) start_ns;
    (void) end_ns;
    (void) flags;
    npst++;
    last_pst = pst;
}

/* Ten seconds of frames (500 cycles, 88 modulation periods: it repeats
 * seamlessly), the voltage on channel 0. */
static float *ten_seconds(size_t *n)
{
    size_t frames = (size_t) (10 * FS);
    float *x = calloc(frames * NCH, sizeof(float));

    for (size_t k = 0; x && k < frames; k++) {
        double t = (double) k / FS;
        double a = 2 * M_PI * F0 * t;
        double u = 230 * M_SQRT2 * (sin(a) + 0.03 * sin(5 * a) + 0.02 * sin(7 * a));

        x[k * NCH] = (float) (u * (1 + 0.0025 / 2 * sin(2 * M_PI * 8.8 * t)));
        for (int c = 1; c < NCH; c++) {
            x[k * NCH + (size_t) c] = (float) (c * 10 * sin(a));
        }
    }
    *n = frames;
    return x;
}

int main(void)
{
    struct pq_flicker_out out = {.pst = on_pst};
    struct pq_flicker *f = NULL;
    size_t frames = 0;
    float *x = ten_seconds(&frames);
    double t;

    if (!x ||
        pq_flicker_new(FS, F0, PQ_LAMP_230V, 230, 1767225600000000000LL, &out, &f) < 0) {
        fprintf(stderr, "bench_flicker: cannot set up\n");
        free(x);
        return 1;
    }
    t = cpu_s();
    for (int s = 0; s < SECONDS; s += 10) {
        for (size_t k = 0; k < frames; k += FEED) {
            pq_flicker_feed(f, x + k * NCH, NCH, FEED);
        }
    }
    pq_flicker_finish(f);
    t = cpu_s() - t;
    printf("flicker: %d s of one channel at %.1f kHz (stride %d), decimated to %.1f Hz; "
           "%d Pst (%.3f)\n",
           SECONDS, FS / 1e3, NCH, pq_flicker_rate_hz(f), npst, last_pst);
    printf("flicker: %.2f ns per sample, real-time factor %.0f per channel\n",
           t / (SECONDS * FS) * 1e9, SECONDS / t);
    pq_flicker_free(f);
    free(x);
    return 0;
}
