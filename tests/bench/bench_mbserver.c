/* bench_mbserver.c - the Modbus TCP server's own map on 127.0.0.1: libmodbus
 * clients reading 125 registers of a device block (62 float32 values from
 * the bus) and 14 registers of the voltage group, with 1 and 4 clients, and
 * mbmap_read() alone (the encoding without the network).
 *
 * Prints one line per figure and exits 0; each figure runs for a fixed time,
 * so a slow machine gives smaller numbers, not a failure.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <modbus.h>

#include "config/config.h"
#include "gateway/bus.h"
#include "gateway/mbmap.h"
#include "gateway/mbserver.h"
#include "pq/err.h"

#define RUN_S   0.5
#define CLIENTS 4

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

struct job {
    int port, addr, count;
    atomic_int *go;
    long done;
    int failed;
};

static void *client(void *arg)
{
    struct job *j = arg;
    modbus_t *mb = modbus_new_tcp("127.0.0.1", j->port);
    uint16_t r[MBMAP_MAX_READ];
    double end;

    if (!mb || modbus_set_slave(mb, 255) < 0 || modbus_connect(mb) < 0) {
        j->failed = 1;
        modbus_free(mb);
        return NULL;
    }
    while (!atomic_load(j->go)) {
    }
    end = now_s() + RUN_S;
    while (now_s() < end) {
        if (modbus_read_registers(mb, j->addr, j->count, r) != j->count) {
            j->failed = 1;
            break;
        }
        j->done++;
    }
    modbus_close(mb);
    modbus_free(mb);
    return NULL;
}

static void run_clients(int port, int nclients, int addr, int count, const char *what)
{
    pthread_t th[CLIENTS];
    struct job jobs[CLIENTS];
    atomic_int go = 0;
    long total = 0;
    int failed = 0;
    double t0, spent;

    for (int i = 0; i < nclients; i++) {
        jobs[i] = (struct job){.port = port, .addr = addr, .count = count, .go = &go};
        pthread_create(&th[i], NULL, client, &jobs[i]);
    }
    t0 = now_s();
    atomic_store(&go, 1);
    for (int i = 0; i < nclients; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].done;
        failed |= jobs[i].failed;
    }
    spent = now_s() - t0;
    printf("mbserver: %d client%s reading %s: %.0f transactions/s (%.1f us each)%s\n",
           nclients, nclients == 1 ? "" : "s", what, (double) total / spent,
           spent * 1e6 * nclients / (double) (total ? total : 1),
           failed ? " [a read failed]" : "");
}

int main(void)
{
    static const char *const devs[] = {"bus1.dev1/"};
    static char bind_lo[] = "127.0.0.1";
    struct mbserver_cfg cfg = {
        .enabled = 1, .bind = bind_lo, .unit_id = 255, .max_clients = CLIENTS + 1};
    struct bus *b;
    struct mbsrv *s;
    struct mbmap *m;
    uint16_t r[MBMAP_MAX_READ];
    char name[64];
    long n = 0;
    double end;
    int rc = bus_new(1024, 1024, &b);

    if (rc < 0) {
        fprintf(stderr, "bench_mbserver: bus_new: %s\n", pq_strerror(rc));
        return 1;
    }
    for (int i = 0; i < MBMAP_DEV_VALUES; i++) {
        snprintf(name, sizeof(name), "bus1.dev1/v%d", i);
        (void) bus_publish(b, bus_register(b, name, ""), i * 1.5, 1, 0);
    }
    rc = mbmap_new(b, devs, 1, &m);
    if (rc < 0) {
        fprintf(stderr, "bench_mbserver: mbmap_new: %s\n", pq_strerror(rc));
        return 1;
    }
    end = now_s() + RUN_S;
    for (; now_s() < end; n++) {
        (void) mbmap_read(m, MBMAP_DEV_BASE, MBMAP_MAX_READ, r);
    }
    printf("mbserver: mbmap_read of 125 registers (62 values): %.0f reads/s\n",
           (double) n / RUN_S);
    mbmap_free(m);
    rc = mbsrv_start(&cfg, b, devs, 1, NULL, &s);
    if (rc < 0) {
        fprintf(stderr, "bench_mbserver: mbsrv_start: %s\n", pq_strerror(rc));
        return 1;
    }
    run_clients(mbsrv_port(s), 1, MBMAP_DEV_BASE, MBMAP_MAX_READ, "125 registers");
    run_clients(mbsrv_port(s), CLIENTS, MBMAP_DEV_BASE, MBMAP_MAX_READ, "125 registers");
    run_clients(mbsrv_port(s), 1, 1000, 14, "14 registers");
    mbsrv_stop(s);
    bus_free(b);
    return 0;
}
