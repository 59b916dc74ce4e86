/* bench_recorder.c - the cost of the per-update paths of issue 7's pure
 * parts: a 16-channel interval recorder fed updates, trend statistics fed
 * values, the tariff of an instant (tz offset, season, day type, period)
 * and the tariff split of a 1 s energy reading.
 *
 * Prints one line per figure and exits 0; each runs for about 0.3 s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/recorder.h"
#include "gateway/tou.h"
#include "gateway/trend.h"
#include "gateway/tzif.h"
#include "pq/utc.h"

#define RUN_S 0.3

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static uint64_t rows;

static void count_row(void *ctx, int id, const struct rec_row *row)
{
    (void) ctx;
    (void) id;
    (void) row;
    rows++;
}

static void bench_recorder(void)
{
    struct rec_def d = {.nch = 16, .interval_ns = PQ_NS_PER_S, .value = 0, .depth = 1000};
    struct rec_engine r;
    int64_t t = 1767225600LL * PQ_NS_PER_S;
    uint64_t n = 0;
    double t0 = now_s(), el;

    rec_init(&r, &d, 0, count_row, NULL);
    do {
        for (int i = 0; i < 16000; i++, n++) {
            /* 16 channels every 200 ms */
            rec_update(&r, i % 16, 230.0 + (i & 7), t + (int64_t) (n / 16) * 200000000,
                       0);
        }
    } while ((el = now_s() - t0) < RUN_S);
    printf("recorder: %.1f M updates/s into a 16-channel 1 s interval recorder (%llu "
           "rows)\n",
           (double) n / el / 1e6, (unsigned long long) rows);
}

static void bench_trend(void)
{
    struct trend *tr = malloc(sizeof(*tr));
    int64_t t = 1767225600LL * PQ_NS_PER_S;
    uint64_t n = 0;
    double t0 = now_s(), el;

    trend_init(tr);
    do {
        for (int i = 0; i < 100000; i++, n++) {
            trend_add(tr, 100.0 + (double) (n % 97), t + (int64_t) n * 200000000);
        }
    } while ((el = now_s() - t0) < RUN_S);
    printf("trend: %.1f M values/s (200 ms values: %.1f days of data folded)\n",
           (double) n / el / 1e6, (double) n * 0.2 / 86400);
    free(tr);
}

static void bench_tou(void)
{
    struct tzif *z = NULL;
    struct tou_calendar *c = calloc(1, sizeof(*c));
    struct tou_register reg;
    int64_t t = 1767225600LL * PQ_NS_PER_S;
    uint64_t n = 0;
    double t0, el;
    volatile int sink = 0; /* keeps the look-ups */

    if (tzif_load("Europe/Paris", &z) < 0 || !c) {
        printf("tou: Europe/Paris not available, skipped\n");
        free(c);
        return;
    }
    c->tz = z;
    c->nseasons = 1;
    c->ntariffs = 2;
    c->default_tariff = -1;
    c->season[0] = (struct tou_season){.from_md = 101, .to_md = 1231, .np = {2, 2, 2}};
    for (int k = 0; k < TOU_NDAYTYPES; k++) {
        c->season[0].p[k][0] = (struct tou_period){0, 8 * 60, 20 * 60};
        c->season[0].p[k][1] = (struct tou_period){1, 20 * 60, 8 * 60};
    }
    t0 = now_s();
    do {
        for (int i = 0; i < 100000; i++, n++) {
            sink += tou_at(c, t + (int64_t) n * 60 * PQ_NS_PER_S, NULL);
        }
    } while ((el = now_s() - t0) < RUN_S);
    printf("tou: %.1f M tariff look-ups/s\n", (double) n / el / 1e6);
    memset(&reg, 0, sizeof(reg));
    n = 0;
    t0 = now_s();
    do {
        for (int i = 0; i < 10000; i++, n++) {
            tou_register_update(&reg, c, (double) n, t + (int64_t) n * PQ_NS_PER_S);
        }
    } while ((el = now_s() - t0) < RUN_S);
    printf("tou: %.2f M energy readings/s split by tariff (1 s apart)\n",
           (double) n / el / 1e6);
    tzif_free(z);
    free(c);
}

int main(void)
{
    bench_recorder();
    bench_trend();
    bench_tou();
    return 0;
}
