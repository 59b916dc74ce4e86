/* bench_modbus.c - the Modbus master's poll cycles against in-process
 * libmodbus servers (tests/unit/mb_testsrv.h):
 *
 *   rtu: one serial port (a pty) with 31 unit ids x 50 holding registers,
 *        polled back to back by one port at 115200 baud settings (our
 *        1.75 ms silent interval is enforced; a pty has no baud rate, so
 *        the wire time of the frames is printed beside, computed);
 *   tcp: 100 peers on 127.0.0.1 (one server thread each), 100 ports (one
 *        thread each), each peer one device of 50 registers.
 *
 * Prints transactions per second, the cycle time and the ratio of requests
 * sent to the minimum the register maps need (one read of <= 125 registers
 * per device: 1.00 when each device's 50 registers go in one read).  Runs a
 * fixed time; never fails on time.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "drivers/modbus/mb_link_impl.h"
#include "drivers/modbus/mb_port.h"
#include "pq/err.h"
#include "tests/unit/mb_testsrv.h"

#define RTU_UNITS 31
#define TCP_PEERS 100
#define REGS      50
#define RTU_RUN_S 1.5
#define TCP_RUN_S 1.5
#define MS        1000000LL

static const struct mb_read block = {.fn = MB_FN_HOLDING, .addr = 0, .count = REGS};

struct counts {
    atomic_int cycles[TCP_PEERS > RTU_UNITS ? TCP_PEERS : RTU_UNITS];
    atomic_int bad;
};

static void on_cycle(void *ctx, int dev, const struct mb_read_result *res, size_t n)
{
    struct counts *c = ctx;

    for (size_t i = 0; i < n; i++) {
        if (res[i].rc != 0 || res[i].regs[REGS - 1] == 0) {
            atomic_fetch_add(&c->bad, 1);
        }
    }
    atomic_fetch_add(&c->cycles[dev], 1);
}

/* Reads the register maps need at least: ceil(registers / 125) per device
 * (Modbus Application Protocol V1.1b3, 6.3: at most 125 per read). */
static int min_reads(int regs)
{
    return (regs + 124) / 125;
}

static int min_of(struct counts *c, int n)
{
    int m = atomic_load(&c->cycles[0]);

    for (int i = 1; i < n; i++) {
        int v = atomic_load(&c->cycles[i]);

        m = v < m ? v : m;
    }
    return m;
}

static int sum_of(struct counts *c, int n)
{
    int s = 0;

    for (int i = 0; i < n; i++) {
        s += atomic_load(&c->cycles[i]);
    }
    return s;
}

static void bench_rtu(void)
{
    struct srv *s = calloc(1, sizeof(*s));
    struct counts *c = calloc(1, sizeof(*c));
    struct mb_dev_cfg d[RTU_UNITS];
    struct mb_port_cfg pc;
    struct mb_port *p;
    uint64_t requests = 0;
    int64_t t0, t1;
    int rounds, cycles;
    double el, wire_ms;

    if (!s || !c || srv_start_rtu(s) < 0) {
        printf("rtu: cannot start the pty server\n");
        free(s);
        free(c);
        return;
    }
    for (int u = 1; u <= RTU_UNITS; u++) {
        srv_add_unit(s, u);
        d[u - 1] = (struct mb_dev_cfg){
            .name = "dev", .unit = u, .poll_ns = 1, .reads = &block, .nreads = 1};
    }
    pc = (struct mb_port_cfg){.name = "bus1",
                              .kind = MB_PORT_RTU,
                              .device = s->path,
                              .baud = 115200,
                              .parity = 'N',
                              .data_bits = 8,
                              .stop_bits = 1,
                              .timeout_ns = 200 * MS};
    t0 = srv_now();
    if (mb_port_start(&pc, d, RTU_UNITS, on_cycle, c, &p) < 0) {
        printf("rtu: cannot start the port\n");
        srv_stop(s);
        free(s);
        free(c);
        return;
    }
    mb_sleep_until(t0 + (int64_t) (RTU_RUN_S * 1e9));
    rounds = min_of(c, RTU_UNITS);
    cycles = sum_of(c, RTU_UNITS);
    t1 = srv_now();
    for (int i = 0; i < RTU_UNITS; i++) {
        struct mb_health h;

        mb_port_health(p, i, &h);
        requests += h.requests;
    }
    mb_port_stop(p);
    srv_stop(s);
    el = (double) (t1 - t0) / 1e9;
    /* on a real line: request 8 bytes, answer 5 + 2 x 50 bytes, 11 bits each,
     * plus the two silent intervals (Serial Line V1.02, 2.5.1.1) */
    wire_ms = RTU_UNITS * ((8.0 + 5 + 2 * REGS) * 11.0 / 115200.0 * 1e3 +
                           2 * mb_silent_ns(115200) / 1e6);
    printf("rtu: %d units x %d registers over a pty, one port\n", RTU_UNITS, REGS);
    printf("rtu:   transactions/s        %.0f\n", cycles / el);
    printf("rtu:   cycle time (31 dev)   %.1f ms  (%d full cycles in %.2f s)\n",
           rounds ? el * 1e3 * RTU_UNITS / cycles : 0.0, rounds, el);
    printf("rtu:   same cycle on a 115200-baud wire would take >= %.1f ms\n", wire_ms);
    printf("rtu:   requests / minimum    %.2f  (%llu sent, %d cycles x %d needed)\n",
           cycles ? (double) requests / ((double) cycles * min_reads(REGS)) : 0.0,
           (unsigned long long) requests, cycles, min_reads(REGS));
    printf("rtu:   failed reads          %d\n", atomic_load(&c->bad));
    free(s);
    free(c);
}

static void bench_tcp(void)
{
    struct srv *s = calloc(TCP_PEERS, sizeof(*s));
    struct counts *c = calloc(1, sizeof(*c));
    struct mb_dev_cfg d = {
        .name = "dev", .unit = 1, .poll_ns = 1, .reads = &block, .nreads = 1};
    struct mb_port *p[TCP_PEERS] = {0};
    uint64_t requests = 0;
    int64_t t0, t1;
    int rounds, cycles, started = 0, servers = 0;
    double el;

    if (!s || !c) {
        free(s);
        free(c);
        return;
    }
    for (int i = 0; i < TCP_PEERS; i++) {
        if (srv_start_tcp(&s[i]) < 0) {
            break;
        }
        srv_add_unit(&s[i], 1);
        servers++;
    }
    t0 = srv_now();
    for (int i = 0; i < servers; i++) {
        struct mb_port_cfg pc = {.name = "peer",
                                 .kind = MB_PORT_TCP,
                                 .host = "127.0.0.1",
                                 .port = s[i].port,
                                 .timeout_ns = 1000 * MS};
        /* each port has its own device index 0: count per port */
        if (mb_port_start(&pc, &d, 1, NULL, NULL, &p[i]) == 0) {
            started++;
        }
    }
    mb_sleep_until(t0 + (int64_t) (TCP_RUN_S * 1e9));
    t1 = srv_now();
    rounds = INT32_MAX;
    cycles = 0;
    for (int i = 0; i < servers; i++) {
        struct mb_health h = {0};

        if (p[i] && mb_port_health(p[i], 0, &h) == 0) {
            requests += h.requests;
            cycles += (int) h.good;
            rounds = (int) h.good < rounds ? (int) h.good : rounds;
        }
    }
    for (int i = 0; i < servers; i++) {
        mb_port_stop(p[i]);
    }
    for (int i = 0; i < servers; i++) {
        srv_stop(&s[i]);
    }
    el = (double) (t1 - t0) / 1e9;
    printf("tcp: %d peers x %d registers on 127.0.0.1, %d ports (threads)\n", servers,
           REGS, started);
    printf("tcp:   transactions/s        %.0f\n", cycles / el);
    printf("tcp:   cycle time (all %d)  %.2f ms mean per port, %.2f ms slowest port\n",
           started, cycles ? el * 1e3 * started / cycles : 0.0,
           rounds && rounds != INT32_MAX ? el * 1e3 / rounds : 0.0);
    printf("tcp:   requests / minimum    %.2f  (%llu sent, %d good cycles x %d needed)\n",
           cycles ? (double) requests / ((double) cycles * min_reads(REGS)) : 0.0,
           (unsigned long long) requests, cycles, min_reads(REGS));
    free(s);
    free(c);
}

int main(void)
{
    bench_rtu();
    bench_tcp();
    return 0;
}
