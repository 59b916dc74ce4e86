/* bench_alarm.c - cost of the expression machine and of the alarm engine:
 * evaluations per second of a typical virtual-channel expression, and
 * input updates per second through the bus into 256 alarms.
 *
 * Prints one line per figure and exits 0; each figure runs for a fixed
 * time, so a slow machine gives smaller numbers, not a failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "config/expr.h"
#include "config/log.h"
#include "gateway/alarm.h"
#include "gateway/bus.h"
#include "pq/err.h"

#define RUN_S 0.5

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int bench_expr(void)
{
    static const char src[] = "convert(integrate(max(local/p/total - bus1.pv/p, 0)), "
                              "\"Ws\", \"kWh\") + (local/u_rms/a > 253V ? 1 : 0)";
    struct expr *e;
    struct expr_error err;
    struct expr_value refs[3] = {{50000, 0, 0}, {20000, 0, 0}, {230, 0, 0}}, out;
    double t0, el;
    long n = 0;

    if (expr_compile(src, strlen(src), &e, &err) < 0) {
        fprintf(stderr, "bench_expr: %s\n", err.msg);
        return 1;
    }
    t0 = now_s();
    do {
        for (int k = 0; k < 1000; k++, n++) {
            expr_eval(e, refs, n * 1000000LL, &out);
        }
        el = now_s() - t0;
    } while (el < RUN_S);
    printf("expr: %zu instructions, depth %zu: %.1f M evaluations/s (%.0f ns each)\n",
           expr_ninsns(e), expr_depth(e), (double) n / el / 1e6, el / (double) n * 1e9);
    expr_free(e);
    return 0;
}

/* 256 over alarms with hysteresis on 16 channels (16 each), fed through
 * the bus: updates per second including dispatch. */
static int bench_alarms(void)
{
    char *yaml = malloc(65536);
    size_t len = 0;
    struct cfg_diag diag;
    void *obj = NULL;
    struct bus *bus;
    struct alarms *as;
    int ch[16];
    double t0, el;
    long n = 0;

    len += (size_t) snprintf(yaml + len, 65536 - len, "gateway: {id: b}\nalarms:\n");
    for (int k = 0; k < 256; k++) {
        len +=
            (size_t) snprintf(yaml + len, 65536 - len,
                              "  - {name: a%d, kind: over, channel: in/c%d, pickup: %d,"
                              " dropout: %d, pickup_delay: 100ms}\n",
                              k, k % 16, 100 + k % 16, 95 + k % 16);
    }
    cfg_diag_init(&diag);
    if (cfg_load(&pqgate_schema, "bench.yaml", (const uint8_t *) yaml, len, NULL, 0, &obj,
                 &diag) < 0) {
        cfg_diag_print(&diag, stderr);
        return 1;
    }
    cfg_diag_fini(&diag);
    free(yaml);
    if (bus_new(4096, 65536, &bus) < 0 || alarms_new(obj, bus, NULL, &as) < 0) {
        return 1;
    }
    for (int c = 0; c < 16; c++) {
        char name[32];

        snprintf(name, sizeof(name), "in/c%d", c);
        ch[c] = bus_register(bus, name, "");
    }
    t0 = now_s();
    do {
        for (int k = 0; k < 1600; k++, n++) {
            /* a square wave: every alarm goes active and clears */
            double v = (n / 1600) % 2 ? 120.0 : 90.0;

            (void) bus_publish(bus, ch[k % 16], v, n * 10000000LL, 0);
        }
        while (bus_dispatch(bus, 0) > 0) {
        }
        el = now_s() - t0;
    } while (el < RUN_S);
    printf("alarms: 256 alarms on 16 channels: %.2f M input updates/s through the bus "
           "(%.0f ns per update, 16 alarms each)\n",
           (double) n / el / 1e6, el / (double) n * 1e9);
    alarms_free(as);
    bus_free(bus);
    pqgate_cfg_free(obj);
    return 0;
}

int main(void)
{
    log_set_level(LOG_ERR); /* the transitions are logged at warning and below */
    return bench_expr() || bench_alarms();
}
