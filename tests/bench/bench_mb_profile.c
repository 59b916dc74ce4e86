/* bench_mb_profile.c - cost of decoding a poll cycle and of planning.
 *
 * Figures: points decoded per second (mb_point_sample() over the shipped
 * generic-float32 and eastron-sdm630 profiles, counters included), the
 * decode time of a cycle of 31 devices of generic-float32, profile loads
 * and plans per second, and the plans' requests against the minimum.
 * Prints figures; never fails on time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/profile.h"
#include "config/schema.h"
#include "drivers/modbus/mb_profile.h"

#define RUN_S     0.3
#define MAX_READS 16
#define DEVICES   31

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static struct mb_profile *load(const char *name)
{
    struct mb_profile *p = NULL;
    struct cfg_diag d;
    char path[256];

    cfg_diag_init(&d);
    if (cfg_profile_path(name, NULL, path, sizeof(path)) < 0 ||
        cfg_profile_load(path, &p, &d) < 0) {
        cfg_diag_print(&d, stderr);
        fprintf(stderr, "bench_mb_profile: cannot load %s (run from the repo root)\n",
                name);
        exit(1);
    }
    cfg_diag_fini(&d);
    return p;
}

static void bench(const char *name)
{
    static uint16_t regs[MAX_READS][MB_MAX_REGS];
    struct mb_read reads[MAX_READS];
    struct mb_read_result res[MAX_READS];
    struct mb_profile *p = load(name);
    struct mb_counter *c = calloc(p->npoints, sizeof(*c));
    int n = mb_plan(p, reads, MAX_READS);
    size_t sent = 0, points = 0;
    double t0, t, cycle_us;
    long cycles = 0, plans = 0;

    if (!c || n <= 0 || n > MAX_READS) {
        fprintf(stderr, "bench_mb_profile: %s: plan %d\n", name, n);
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        sent += reads[i].count;
        memset(&res[i], 0, sizeof(res[i]));
        res[i].read = &reads[i];
        res[i].regs = regs[i];
        for (int k = 0; k < reads[i].count; k++) {
            regs[i][k] = (uint16_t) (0x4366 + k); /* finite floats */
        }
    }
    t0 = now_s();
    do {
        for (int dev = 0; dev < DEVICES; dev++) {
            for (size_t i = 0; i < p->npoints; i++) {
                struct mb_sample s;

                res[0].t_ns = (int64_t) cycles * 1000000000LL;
                mb_point_sample(&p->points[i], &c[i], res, (size_t) n, &s);
                points++;
            }
        }
        cycles++;
        t = now_s() - t0;
    } while (t < RUN_S);
    cycle_us = t / (double) cycles * 1e6;
    printf("%s: %zu points, %d reads of %zu registers (minimum %zu, ratio %.3f)\n", name,
           p->npoints, n, sent, mb_plan_min_regs(p),
           (double) sent / (double) mb_plan_min_regs(p));
    printf("%s: decode %.2f M points/s; a cycle of %d devices %.1f us\n", name,
           (double) points / t / 1e6, DEVICES, cycle_us);
    t0 = now_s();
    do {
        mb_plan(p, reads, MAX_READS);
        plans++;
        t = now_s() - t0;
    } while (t < RUN_S);
    printf("%s: plan %.0f plans/s\n", name, (double) plans / t);
    free(c);
    mb_profile_free(p);
}

int main(void)
{
    double t0, t;
    long loads = 0;

    bench("generic-float32");
    bench("eastron-sdm630");
    bench("carlo-gavazzi-em340");
    t0 = now_s();
    do {
        mb_profile_free(load("eastron-sdm630"));
        loads++;
        t = now_s() - t0;
    } while (t < RUN_S);
    printf("profile load (eastron-sdm630, 38 points): %.0f loads/s\n",
           (double) loads / t);
    return 0;
}
