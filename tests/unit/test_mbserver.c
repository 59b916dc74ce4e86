/* test_mbserver.c - the Modbus TCP server on 127.0.0.1 with libmodbus and
 * raw sockets as clients: the own map, the gateway path over a fake master
 * (route, submit, cache), exception codes, write access control, framing
 * errors, several clients and pipelining. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <modbus.h>

#include "config/config.h"
#include "gateway/bus.h"
#include "gateway/mbmap.h"
#include "gateway/mbserver.h"
#include "pq/err.h"

#define T0 1700000000000000000LL

/* ---- a fake master ------------------------------------------------------------- *
 * unit 7 and 12: answer at once (reads: 0x1000 + address; writes: echo)
 * unit 8: times out; unit 10: queue full; unit 11: held until released;
 * unit 13: its serial port is missing */

#define HELD_MAX 16

static char fake_port_storage;
#define FAKE_PORT ((struct mb_port *) (void *) &fake_port_storage)

static struct {
    pthread_mutex_t mu;
    mb_done_fn held_done[HELD_MAX];
    void *held_ctx[HELD_MAX];
    uint8_t held_pdu[HELD_MAX][MB_PDU_MAX];
    int held; /* requests held */
    int submits;
    int64_t last_timeout_ns;
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct mb_port *fake_route(int unit, int *dev)
{
    *dev = unit;
    switch (unit) {
    case 7:
    case 8:
    case 10:
    case 11:
    case 12:
    case 13:
        return FAKE_PORT;
    default:
        return NULL;
    }
}

static void answer_now(const uint8_t *pdu, size_t len, mb_done_fn done, void *ctx)
{
    uint8_t a[MB_PDU_MAX];

    if ((pdu[0] == 3 || pdu[0] == 4) && len != 5) {
        done(ctx, -PQ_EFRAME, NULL, 0);
    } else if (pdu[0] == 3 || pdu[0] == 4) {
        int addr = (pdu[1] << 8) | pdu[2], n = (pdu[3] << 8) | pdu[4];

        if (n < 1 || n > 125) {
            a[0] = (uint8_t) (pdu[0] | 0x80);
            a[1] = 3;
            done(ctx, 0, a, 2);
            return;
        }
        a[0] = pdu[0];
        a[1] = (uint8_t) (2 * n);
        for (int i = 0; i < n; i++) {
            a[2 + 2 * i] = (uint8_t) ((0x1000 + addr + i) >> 8);
            a[3 + 2 * i] = (uint8_t) (0x1000 + addr + i);
        }
        done(ctx, 0, a, 2 + 2 * (size_t) n);
    } else if (pdu[0] == 16) {
        done(ctx, 0, pdu, 5);
    } else {
        done(ctx, 0, pdu, len);
    }
}

static int fake_submit(struct mb_port *p, int unit, const uint8_t *pdu, size_t len,
                       int64_t timeout_ns, mb_done_fn done, void *ctx)
{
    assert_ptr_equal(p, FAKE_PORT);
    pthread_mutex_lock(&fake.mu);
    fake.submits++;
    fake.last_timeout_ns = timeout_ns;
    if (unit == 10) {
        pthread_mutex_unlock(&fake.mu);
        return -PQ_EFULL;
    }
    if (unit == 11) {
        assert_true(fake.held < HELD_MAX);
        fake.held_done[fake.held] = done;
        fake.held_ctx[fake.held] = ctx;
        memcpy(fake.held_pdu[fake.held], pdu, len);
        fake.held++;
        pthread_mutex_unlock(&fake.mu);
        return 0;
    }
    pthread_mutex_unlock(&fake.mu);
    if (unit == 8) {
        done(ctx, -ETIMEDOUT, NULL, 0);
    } else if (unit == 13) {
        done(ctx, -ENOENT, NULL, 0); /* the serial port is gone */
    } else {
        answer_now(pdu, len, done, ctx);
    }
    return 0;
}

static int fake_cached(struct mb_port *p, int unit, int fn, int addr, int count,
                       int64_t max_age_ns, uint16_t *dst)
{
    (void) p;
    (void) fn;
    if (unit != 7 || addr != 500 || max_age_ns != 1000000000LL) {
        return -PQ_ENOTFOUND;
    }
    for (int i = 0; i < count; i++) {
        dst[i] = 0xCAFE;
    }
    return 0;
}

static const struct mbsrv_ops fake_ops = {
    .route = fake_route,
    .submit = fake_submit,
    .cached = fake_cached,
};

static int fake_held(void)
{
    int h;

    pthread_mutex_lock(&fake.mu);
    h = fake.held;
    pthread_mutex_unlock(&fake.mu);
    return h;
}

/* Wait (for a state, not a duration) until the server has queued n held
 * requests; fails after 5 s. */
static void wait_held_n(int n)
{
    for (int i = 0; i < 5000 && fake_held() < n; i++) {
        usleep(1000);
    }
    assert_int_equal(fake_held(), n);
}

static void wait_held(void)
{
    wait_held_n(1);
}

/* Answer every held request (as the port's thread would) with rc. */
static void fake_release(int rc)
{
    mb_done_fn done[HELD_MAX];
    void *ctx[HELD_MAX];
    static uint8_t pdu[HELD_MAX][MB_PDU_MAX];
    int n;

    pthread_mutex_lock(&fake.mu);
    n = fake.held;
    memcpy(done, fake.held_done, sizeof(done));
    memcpy(ctx, fake.held_ctx, sizeof(ctx));
    memcpy(pdu, fake.held_pdu, sizeof(pdu));
    fake.held = 0;
    pthread_mutex_unlock(&fake.mu);
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            answer_now(pdu[i], 5, done[i], ctx[i]);
        } else {
            done[i](ctx[i], rc, NULL, 0);
        }
    }
}

/* ---- fixture ------------------------------------------------------------------- */

static char w7_clients[] = "127.0.0.1";
static char w13_clients[] = "10.0.0.0/8";
static char bind_lo[] = "127.0.0.1";

static struct mbserver_write_cfg writes[] = {
    {.unit = 7, .first = 100, .last = 199, .clients = w7_clients},
    {.unit = 12, .first = 0, .last = 65535, .clients = w13_clients},
};

struct fix {
    struct mbserver_cfg cfg;
    struct bus *bus;
    struct mbsrv *srv;
    int port;
};

static int setup(void **state)
{
    static struct fix f;
    static const char *const devs[] = {"bus1.meter/"};

    memset(&f, 0, sizeof(f));
    f.cfg.enabled = 1;
    f.cfg.bind = bind_lo;
    f.cfg.port = 0;
    f.cfg.unit_id = 255;
    f.cfg.max_clients = 3;
    f.cfg.idle_timeout_ns = 0;
    f.cfg.gateway.enabled = 1;
    f.cfg.gateway.cache_max_age_ns = 1000000000LL;
    f.cfg.gateway.timeout_ns = 700000000LL;
    f.cfg.writes.items = writes;
    f.cfg.writes.n = 2;
    assert_int_equal(bus_new(256, 256, &f.bus), 0);
    assert_int_equal(mbsrv_start(&f.cfg, f.bus, devs, 1, &fake_ops, &f.srv), 0);
    f.port = mbsrv_port(f.srv);
    assert_true(f.port > 0);
    fake.held = 0;
    fake.submits = 0;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    mbsrv_stop(f->srv);
    if (fake_held()) {
        fake_release(-ECANCELED); /* as mb_port_stop() does: frees the server */
    }
    bus_free(f->bus);
    return 0;
}

static modbus_t *mb_client(int port, int unit)
{
    modbus_t *mb = modbus_new_tcp("127.0.0.1", port);

    assert_non_null(mb);
    assert_int_equal(modbus_set_slave(mb, unit), 0);
    modbus_set_response_timeout(mb, 3, 0);
    assert_int_equal(modbus_connect(mb), 0);
    return mb;
}

static void mb_close(modbus_t *mb)
{
    modbus_close(mb);
    modbus_free(mb);
}

/* A raw MBAP client, for what libmodbus will not send. */
static int raw_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void raw_send(int fd, uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t len)
{
    uint8_t a[300];

    a[0] = (uint8_t) (tid >> 8);
    a[1] = (uint8_t) tid;
    a[2] = a[3] = 0;
    a[4] = (uint8_t) ((len + 1) >> 8);
    a[5] = (uint8_t) (len + 1);
    a[6] = unit;
    memcpy(a + 7, pdu, len);
    assert_int_equal(send(fd, a, len + 7, 0), (ssize_t) (len + 7));
}

static int read_full(int fd, uint8_t *b, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = recv(fd, b + got, n - got, 0);

        if (r <= 0) {
            return r == 0 ? 0 : -1;
        }
        got += (size_t) r;
    }
    return 1;
}

/* Receive one answer: its PDU length (pdu filled), 0 at end of stream. */
static size_t raw_recv(int fd, uint16_t *tid, uint8_t *unit, uint8_t *pdu)
{
    uint8_t h[7];
    size_t len;

    if (read_full(fd, h, 7) != 1) {
        return 0;
    }
    *tid = (uint16_t) ((h[0] << 8) | h[1]);
    *unit = h[6];
    assert_int_equal(h[2] | h[3], 0);
    len = (size_t) ((h[4] << 8) | h[5]) - 1;
    assert_true(len >= 1 && len <= MB_PDU_MAX);
    assert_int_equal(read_full(fd, pdu, len), 1);
    return len;
}

/* ---- the own map --------------------------------------------------------------- */

static void test_mbserver_fn3_and_fn4_read_own_map_floats(void **state)
{
    struct fix *f = *state;
    int id = bus_register(f->bus, "local/u_rms/a", "V");
    modbus_t *mb = mb_client(f->port, 255);
    uint16_t r[2];

    assert_int_equal(bus_publish(f->bus, id, 230.5, T0, 0), 0);
    assert_int_equal(modbus_read_registers(mb, 1002, 2, r), 2);
    assert_true(modbus_get_float_abcd(r) == 230.5f);
    assert_int_equal(modbus_read_input_registers(mb, 1002, 2, r), 2);
    assert_true(modbus_get_float_abcd(r) == 230.5f);
    mb_close(mb);
}

static void test_mbserver_unit_0_reads_own_map_too(void **state)
{
    struct fix *f = *state;
    int id = bus_register(f->bus, "local/freq", "Hz");
    int fd = raw_connect(f->port);
    uint8_t pdu[MB_PDU_MAX], unit;
    uint16_t tid;
    static const uint8_t rd[] = {3, 0x05, 0x7A, 0, 2}; /* 1402: frequency */

    assert_int_equal(bus_publish(f->bus, id, 50.0, T0, 0), 0);
    raw_send(fd, 0x0102, 0, rd, sizeof(rd));
    assert_int_equal(raw_recv(fd, &tid, &unit, pdu), 6);
    assert_int_equal(tid, 0x0102);
    assert_int_equal(unit, 0);
    assert_int_equal(pdu[0], 3);
    assert_int_equal(pdu[1], 4);
    assert_int_equal((pdu[2] << 8) | pdu[3], 0x4248); /* 50.0f = 0x42480000 */
    assert_int_equal((pdu[4] << 8) | pdu[5], 0);
    close(fd);
}

static void test_mbserver_address_outside_map_gets_exception_2(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 255);
    uint16_t r[4];

    assert_int_equal(modbus_read_registers(mb, 5000, 2, r), -1);
    assert_int_equal(errno, EMBXILADD);
    mb_close(mb);
}

static void test_mbserver_quantity_126_gets_exception_3(void **state)
{
    struct fix *f = *state;
    int fd = raw_connect(f->port);
    static const uint8_t rd[] = {3, 0x27, 0x10, 0, 126};
    uint8_t pdu[MB_PDU_MAX], unit;
    uint16_t tid;

    raw_send(fd, 1, 255, rd, sizeof(rd));
    assert_int_equal(raw_recv(fd, &tid, &unit, pdu), 2);
    assert_int_equal(pdu[0], 0x83);
    assert_int_equal(pdu[1], MB_EX_ILLEGAL_VALUE);
    close(fd);
}

static void test_mbserver_write_to_own_map_gets_exception_1_and_is_counted(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 255);
    struct mbsrv_stats st;

    assert_int_equal(modbus_write_register(mb, 1002, 1), -1);
    assert_int_equal(errno, EMBXILFUN);
    mb_close(mb);
    mbsrv_stats(f->srv, &st);
    assert_int_equal(st.writes_refused, 1);
}

static void test_mbserver_coil_read_of_own_map_gets_exception_1(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 255);
    uint8_t bits[8];

    assert_int_equal(modbus_read_bits(mb, 0, 8, bits), -1);
    assert_int_equal(errno, EMBXILFUN);
    mb_close(mb);
}

/* ---- the gateway path ---------------------------------------------------------- */

static void test_mbserver_unit_on_no_bus_gets_exception_0a(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 9);
    uint16_t r[2];

    assert_int_equal(modbus_read_registers(mb, 0, 2, r), -1);
    assert_int_equal(errno, EMBXGPATH);
    assert_int_equal(fake.submits, 0);
    mb_close(mb);
}

static void
test_mbserver_forwarded_read_returns_device_answer_with_client_tid(void **state)
{
    struct fix *f = *state;
    int fd = raw_connect(f->port);
    static const uint8_t rd[] = {3, 0, 40, 0, 3};
    uint8_t pdu[MB_PDU_MAX], unit;
    uint16_t tid;
    struct mbsrv_stats st;

    raw_send(fd, 0xBEEF, 7, rd, sizeof(rd));
    assert_int_equal(raw_recv(fd, &tid, &unit, pdu), 8);
    assert_int_equal(tid, 0xBEEF);
    assert_int_equal(unit, 7);
    assert_int_equal(pdu[1], 6);
    for (int i = 0; i < 3; i++) {
        assert_int_equal((pdu[2 + 2 * i] << 8) | pdu[3 + 2 * i], 0x1000 + 40 + i);
    }
    assert_int_equal(fake.last_timeout_ns, 700000000LL);
    close(fd);
    mbsrv_stats(f->srv, &st);
    assert_int_equal(st.forwarded, 1);
}

static void test_mbserver_silent_device_gets_exception_0b(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 8);
    uint16_t r[2];

    assert_int_equal(modbus_read_registers(mb, 0, 2, r), -1);
    assert_int_equal(errno, EMBXGTAR);
    mb_close(mb);
}

static void test_mbserver_missing_serial_port_gets_exception_0a(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 13);
    uint16_t r[2];

    assert_int_equal(modbus_read_registers(mb, 0, 2, r), -1);
    assert_int_equal(errno, EMBXGPATH);
    assert_int_equal(fake.submits, 1);
    mb_close(mb);
}

static void test_mbserver_full_port_queue_gets_exception_06(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 10);
    uint16_t r[2];

    assert_int_equal(modbus_read_registers(mb, 0, 2, r), -1);
    assert_int_equal(errno, EMBXSBUSY);
    mb_close(mb);
}

static void test_mbserver_cached_read_is_answered_without_the_bus(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 7);
    uint16_t r[3];
    struct mbsrv_stats st;

    assert_int_equal(modbus_read_registers(mb, 500, 3, r), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i], 0xCAFE);
    }
    assert_int_equal(fake.submits, 0);
    /* not in the cache: asks the device */
    assert_int_equal(modbus_read_registers(mb, 600, 1, r), 1);
    assert_int_equal(r[0], 0x1000 + 600);
    assert_int_equal(fake.submits, 1);
    mb_close(mb);
    mbsrv_stats(f->srv, &st);
    assert_int_equal(st.cached, 1);
}

static void test_mbserver_diagnostics_are_not_forwarded(void **state)
{
    struct fix *f = *state;
    int fd = raw_connect(f->port);
    static const uint8_t diag[] = {8, 0, 1, 0, 0}; /* restart communications */
    uint8_t pdu[MB_PDU_MAX], unit;
    uint16_t tid;

    raw_send(fd, 3, 7, diag, sizeof(diag));
    assert_int_equal(raw_recv(fd, &tid, &unit, pdu), 2);
    assert_int_equal(pdu[0], 0x88);
    assert_int_equal(pdu[1], MB_EX_ILLEGAL_FUNCTION);
    assert_int_equal(fake.submits, 0);
    close(fd);
}

static void test_mbserver_mei_13_canopen_is_not_forwarded(void **state)
{
    struct fix *f = *state;
    int fd = raw_connect(f->port);
    static const uint8_t mei13[] = {43, 13, 0, 0, 0}; /* CANopen general reference */
    uint8_t pdu[MB_PDU_MAX], unit;
    uint16_t tid;

    raw_send(fd, 4, 7, mei13, sizeof(mei13));
    assert_int_equal(raw_recv(fd, &tid, &unit, pdu), 2);
    assert_int_equal(tid, 4);
    assert_int_equal(pdu[0], 0xAB);
    assert_int_equal(pdu[1], MB_EX_ILLEGAL_FUNCTION);
    assert_int_equal(fake.submits, 0);
    close(fd);
}

/* ---- write access control ------------------------------------------------------ */

static void test_mbserver_write_in_allowed_range_is_forwarded(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 7);
    uint16_t v[3] = {1, 2, 3};

    assert_int_equal(modbus_write_register(mb, 150, 42), 1);
    assert_int_equal(modbus_write_registers(mb, 197, 3, v), 3);
    assert_int_equal(fake.submits, 2);
    mb_close(mb);
}

static void test_mbserver_write_outside_range_gets_exception_2(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 7);
    uint16_t v[3] = {1, 2, 3};

    assert_int_equal(modbus_write_register(mb, 250, 42), -1);
    assert_int_equal(errno, EMBXILADD);
    /* 198..200 crosses the end of 100..199 */
    assert_int_equal(modbus_write_registers(mb, 198, 3, v), -1);
    assert_int_equal(errno, EMBXILADD);
    assert_int_equal(fake.submits, 0);
    mb_close(mb);
}

static void test_mbserver_write_from_unlisted_client_gets_exception_1(void **state)
{
    struct fix *f = *state;
    modbus_t *mb = mb_client(f->port, 12); /* only 10.0.0.0/8 may write */
    struct mbsrv_stats st;

    assert_int_equal(modbus_write_bit(mb, 5, 1), -1);
    assert_int_equal(errno, EMBXILFUN);
    assert_int_equal(fake.submits, 0);
    mb_close(mb);
    mbsrv_stats(f->srv, &st);
    assert_int_equal(st.writes_refused, 1);
}

static void test_mbserver_acl_matches_prefixes_units_and_spans(void **state)
{
    static char c1[] = "10.0.0.0/8, 192.168.1.7";
    static char c2[] = "127.0.0.1";
    static char c3[] = "0.0.0.0/0";
    struct mbserver_write_cfg w[] = {
        {.unit = 5, .first = 100, .last = 199, .clients = c1},
        {.unit = 5, .first = 300, .last = 300, .clients = c2},
        {.unit = 6, .first = 0, .last = 9, .clients = c3},
    };
    struct mbserver_cfg cfg = {.writes = {.items = w, .n = 3}};
    struct mbsrv_acl *a;
    uint32_t ten = 0x0A010203, host7 = 0xC0A80107, host8 = 0xC0A80108, lo = 0x7F000001;

    (void) state;
    assert_int_equal(mbsrv_acl_new(&cfg, &a), 0);
    assert_int_equal(mbsrv_acl_check(a, 5, ten, 150, 10), 0);
    assert_int_equal(mbsrv_acl_check(a, 5, ten, 100, 100), 0);
    assert_int_equal(mbsrv_acl_check(a, 5, ten, 195, 10), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbsrv_acl_check(a, 5, ten, 99, 1), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbsrv_acl_check(a, 5, ten, 300, 1), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbsrv_acl_check(a, 5, 0x0B000001, 150, 1), MB_EX_ILLEGAL_FUNCTION);
    assert_int_equal(mbsrv_acl_check(a, 5, host7, 199, 1), 0);
    assert_int_equal(mbsrv_acl_check(a, 5, host8, 199, 1), MB_EX_ILLEGAL_FUNCTION);
    assert_int_equal(mbsrv_acl_check(a, 5, lo, 300, 1), 0);
    assert_int_equal(mbsrv_acl_check(a, 5, lo, 150, 1), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbsrv_acl_check(a, 6, host8, 9, 1), 0);
    assert_int_equal(mbsrv_acl_check(a, 6, host8, 9, 2), MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mbsrv_acl_check(a, 7, lo, 0, 1), MB_EX_ILLEGAL_FUNCTION);
    assert_int_equal(mbsrv_acl_check(a, 5, ten, 150, 0), MB_EX_ILLEGAL_ADDRESS);
    mbsrv_acl_free(a);
    assert_int_equal(mbsrv_acl_check(NULL, 5, ten, 150, 1), MB_EX_ILLEGAL_FUNCTION);
}

static void test_mbserver_cidr_list_parses_and_rejects(void **state)
{
    struct cfg_cidr c[4];

    (void) state;
    assert_int_equal(cfg_cidr_list("127.0.0.1, 10.0.0.0/8 192.168.0.0/16", c, 4), 3);
    assert_int_equal(c[0].net, 0x7F000001);
    assert_int_equal(c[0].mask, 0xFFFFFFFF);
    assert_int_equal(c[1].net, 0x0A000000);
    assert_int_equal(c[1].mask, 0xFF000000);
    assert_int_equal(c[2].mask, 0xFFFF0000);
    assert_int_equal(cfg_cidr_list("10.1.2.3/8", c, 4), 1);
    assert_int_equal(c[0].net, 0x0A000000); /* host bits dropped */
    assert_int_equal(cfg_cidr_list("0.0.0.0/0", c, 4), 1);
    assert_int_equal(c[0].mask, 0);
    assert_int_equal(cfg_cidr_list("", c, 4), 0);
    assert_int_equal(cfg_cidr_list("10.0.0.0/33", c, 4), -PQ_ECONFIG);
    assert_int_equal(cfg_cidr_list("300.1.1.1", c, 4), -PQ_ECONFIG);
    assert_int_equal(cfg_cidr_list("10.0.0.0/", c, 4), -PQ_ECONFIG);
    assert_int_equal(cfg_cidr_list("host.example", c, 4), -PQ_ECONFIG);
    assert_int_equal(cfg_cidr_list("::1", c, 4), -PQ_ECONFIG);
}

static void test_mbserver_write_span_of_each_write_function(void **state)
{
    static const uint8_t f5[] = {5, 0, 7, 0xFF, 0};
    static const uint8_t f6[] = {6, 1, 0, 0, 1};
    static const uint8_t f15[] = {15, 0, 20, 0, 10, 2, 0xFF, 3};
    static const uint8_t f16[] = {16, 0, 100, 0, 2, 4, 0, 1, 0, 2};
    static const uint8_t f22[] = {22, 0, 9, 0, 0xF, 0, 0};
    static const uint8_t f23[] = {23, 0, 0, 0, 1, 0, 50, 0, 3, 6, 0, 0, 0, 0, 0, 0};
    static const uint8_t f3[] = {3, 0, 0, 0, 1};
    int a = -1, n = -1;

    (void) state;
    assert_int_equal(mbsrv_pdu_write_span(f5, sizeof(f5), &a, &n), 1);
    assert_int_equal(a, 7);
    assert_int_equal(n, 1);
    assert_int_equal(mbsrv_pdu_write_span(f6, sizeof(f6), &a, &n), 1);
    assert_int_equal(a, 256);
    assert_int_equal(mbsrv_pdu_write_span(f15, sizeof(f15), &a, &n), 1);
    assert_int_equal(a, 20);
    assert_int_equal(n, 10);
    assert_int_equal(mbsrv_pdu_write_span(f16, sizeof(f16), &a, &n), 1);
    assert_int_equal(a, 100);
    assert_int_equal(n, 2);
    assert_int_equal(mbsrv_pdu_write_span(f22, sizeof(f22), &a, &n), 1);
    assert_int_equal(a, 9);
    assert_int_equal(n, 1);
    assert_int_equal(mbsrv_pdu_write_span(f23, sizeof(f23), &a, &n), 1);
    assert_int_equal(a, 50);
    assert_int_equal(n, 3);
    assert_int_equal(mbsrv_pdu_write_span(f3, sizeof(f3), &a, &n), 0);
    assert_int_equal(mbsrv_pdu_write_span(f16, 3, &a, &n), -1);
}

/* ---- clients ------------------------------------------------------------------- */

static void test_mbserver_held_request_does_not_block_another_client(void **state)
{
    struct fix *f = *state;
    int a = raw_connect(f->port);
    modbus_t *b = mb_client(f->port, 255);
    static const uint8_t rd[] = {3, 0, 0, 0, 1};
    uint8_t pdu[MB_PDU_MAX], unit;
    uint16_t tid, r[5];

    raw_send(a, 77, 11, rd, sizeof(rd));
    wait_held();
    /* client b is served while a's request waits on the bus */
    assert_int_equal(modbus_read_registers(b, 0, 5, r), 5);
    assert_int_equal(r[0], MBMAP_VERSION);
    fake_release(0);
    assert_int_equal(raw_recv(a, &tid, &unit, pdu), 4);
    assert_int_equal(tid, 77);
    assert_int_equal((pdu[2] << 8) | pdu[3], 0x1000);
    mb_close(b);
    close(a);
}

static void test_mbserver_pipelined_requests_answer_in_completion_order(void **state)
{
    struct fix *f = *state;
    int fd = raw_connect(f->port);
    static const uint8_t rd[] = {3, 0, 0, 0, 1};
    uint8_t pdu[MB_PDU_MAX], unit;
    uint16_t tid;

    raw_send(fd, 1, 11, rd, sizeof(rd));  /* waits on the bus */
    raw_send(fd, 2, 255, rd, sizeof(rd)); /* the own map: at once */
    wait_held();
    assert_int_equal(raw_recv(fd, &tid, &unit, pdu), 4);
    assert_int_equal(tid, 2);
    assert_int_equal(unit, 255);
    fake_release(-ETIMEDOUT);
    assert_int_equal(raw_recv(fd, &tid, &unit, pdu), 2);
    assert_int_equal(tid, 1);
    assert_int_equal(unit, 11);
    assert_int_equal(pdu[0], 0x83);
    assert_int_equal(pdu[1], MB_EX_GW_TARGET);
    close(fd);
}

static void test_mbserver_bad_protocol_id_closes_that_client_only(void **state)
{
    struct fix *f = *state;
    int bad = raw_connect(f->port);
    modbus_t *good = mb_client(f->port, 255);
    static const uint8_t frame[] = {0, 1, 0, 1, 0, 6, 255, 3, 0, 0, 0, 1};
    uint8_t buf[16];
    uint16_t r[1];
    struct mbsrv_stats st;

    assert_int_equal(send(bad, frame, sizeof(frame), 0), (ssize_t) sizeof(frame));
    assert_int_equal(recv(bad, buf, sizeof(buf), 0), 0); /* closed by the server */
    assert_int_equal(modbus_read_registers(good, 0, 1, r), 1);
    mb_close(good);
    close(bad);
    mbsrv_stats(f->srv, &st);
    assert_int_equal(st.bad_frames, 1);
}

/* The largest legal ADU is 260 bytes (a 253-byte PDU): it must be read
 * whole and answered. */
static void test_mbserver_largest_legal_frame_is_answered(void **state)
{
    struct fix *f = *state;
    int fd = raw_connect(f->port);
    uint8_t big[MB_PDU_MAX], pdu[MB_PDU_MAX], unit;
    uint16_t tid;

    memset(big, 0x55, sizeof(big));
    big[0] = 0x41; /* no such function */
    raw_send(fd, 9, 255, big, sizeof(big));
    assert_int_equal(raw_recv(fd, &tid, &unit, pdu), 2);
    assert_int_equal(tid, 9);
    assert_int_equal(pdu[0], 0xC1);
    assert_int_equal(pdu[1], MB_EX_ILLEGAL_FUNCTION);
    close(fd);
}

static void test_mbserver_oversized_length_closes_the_client(void **state)
{
    struct fix *f = *state;
    int bad = raw_connect(f->port);
    static const uint8_t frame[] = {0, 1, 0, 0, 0x01, 0x00, 255, 3}; /* length 256 */
    uint8_t buf[16];

    assert_int_equal(send(bad, frame, sizeof(frame), 0), (ssize_t) sizeof(frame));
    assert_int_equal(recv(bad, buf, sizeof(buf), 0), 0);
    close(bad);
}

/* Random bytes, and frames with valid headers and random PDUs (every
 * function code, short and long), from one client after another: the server
 * answers or closes each, and still serves a good client afterwards. */
static void test_mbserver_random_input_never_stops_the_server(void **state)
{
    struct fix *f = *state;
    uint32_t seed = 12345;
    uint8_t buf[300], in[512];
    uint16_t r[1];
    modbus_t *good;

    for (int round = 0; round < 200; round++) {
        int fd = raw_connect(f->port);
        struct timeval tv = {.tv_usec = 200000};
        size_t n;

        seed = seed * 1103515245u + 12345u;
        n = 1 + (seed >> 8) % sizeof(buf);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t) (seed >> 16);
        }
        if (round % 2) { /* a well-formed header around a random PDU */
            size_t pdu = n > 8 ? (n - 7 > MB_PDU_MAX ? MB_PDU_MAX : n - 7) : 1;

            buf[2] = buf[3] = 0;
            buf[4] = (uint8_t) ((pdu + 1) >> 8);
            buf[5] = (uint8_t) (pdu + 1);
            buf[6] = round % 4 == 1 ? 255 : 7; /* own map or forwarded */
            n = pdu + 7;
        }
        assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t) n);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) !recv(fd, in, sizeof(in), 0); /* an answer, a close or nothing */
        close(fd);
    }
    good = mb_client(f->port, 255);
    assert_int_equal(modbus_read_registers(good, 0, 1, r), 1);
    assert_int_equal(r[0], MBMAP_VERSION);
    mb_close(good);
}

static void test_mbserver_client_over_max_clients_is_refused(void **state)
{
    struct fix *f = *state;
    modbus_t *c[3];
    int extra;
    uint8_t buf[4];
    uint16_t r[1];
    struct mbsrv_stats st;

    for (int i = 0; i < 3; i++) {
        c[i] = mb_client(f->port, 255);
        assert_int_equal(modbus_read_registers(c[i], 0, 1, r), 1); /* accepted */
    }
    extra = raw_connect(f->port);
    assert_int_equal(recv(extra, buf, sizeof(buf), 0), 0);
    close(extra);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(modbus_read_registers(c[i], 0, 1, r), 1);
        mb_close(c[i]);
    }
    mbsrv_stats(f->srv, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.connections, 3);
}

static void test_mbserver_stop_with_request_on_the_bus_frees_on_last_answer(void **state)
{
    struct fix *f = *state;
    int fd = raw_connect(f->port);
    static const uint8_t rd[] = {3, 0, 0, 0, 1};

    raw_send(fd, 1, 11, rd, sizeof(rd));
    wait_held();
    mbsrv_stop(f->srv);
    f->srv = NULL;
    close(fd);
    fake_release(-ECANCELED); /* the port stops later: frees the server (ASan) */
}

/* Clients that leave with requests on the bus keep their slots of the
 * in-flight pool (3 clients x 4) until the bus answers: a request past it
 * is answered busy at once, and the pool is whole again afterwards. */
static void test_mbserver_full_inflight_pool_answers_busy(void **state)
{
    struct fix *f = *state;
    static const uint8_t rd[] = {3, 0, 0, 0, 1};
    uint8_t pdu[MB_PDU_MAX], unit;
    uint16_t tid, r[1];
    modbus_t *mb;
    int fd;

    for (int c = 0; c < 3; c++) {
        fd = raw_connect(f->port);
        for (int k = 0; k < MBSRV_PIPELINE; k++) {
            raw_send(fd, (uint16_t) k, 11, rd, sizeof(rd));
        }
        wait_held_n((c + 1) * MBSRV_PIPELINE);
        close(fd);
    }
    /* until the server has seen the three leave, a fourth is refused */
    for (int i = 0;; i++) {
        size_t n;

        fd = raw_connect(f->port);
        raw_send(fd, 99, 11, rd, sizeof(rd));
        n = raw_recv(fd, &tid, &unit, pdu);
        if (n > 0 || i == 500) {
            assert_int_equal(n, 2);
            break;
        }
        close(fd);
        usleep(10000);
    }
    assert_int_equal(tid, 99);
    assert_int_equal(pdu[0], 0x83);
    assert_int_equal(pdu[1], MB_EX_BUSY);
    close(fd);
    fake_release(-ECANCELED);
    mb = mb_client(f->port, 7);
    assert_int_equal(modbus_read_registers(mb, 3, 1, r), 1);
    assert_int_equal(r[0], 0x1000 + 3);
    mb_close(mb);
}

static void test_mbserver_idle_client_is_closed_busy_one_is_not(void **state)
{
    struct fix *f = *state;
    struct mbserver_cfg cfg = f->cfg;
    struct mbsrv *s;
    static const uint8_t rd[] = {3, 0, 0, 0, 1};
    uint8_t buf[16], pdu[MB_PDU_MAX], unit;
    uint16_t tid;
    int idle, busy;

    cfg.idle_timeout_ns = 100000000LL; /* 100 ms */
    assert_int_equal(mbsrv_start(&cfg, f->bus, NULL, 0, &fake_ops, &s), 0);
    idle = raw_connect(mbsrv_port(s));
    busy = raw_connect(mbsrv_port(s));
    raw_send(busy, 1, 11, rd, sizeof(rd)); /* held on the bus: not idle */
    wait_held();
    assert_int_equal(recv(idle, buf, sizeof(buf), 0), 0); /* closed by the server */
    fake_release(0);
    assert_int_equal(raw_recv(busy, &tid, &unit, pdu), 4);
    assert_int_equal(tid, 1);
    close(idle);
    close(busy);
    mbsrv_stop(s);
}

static void test_mbserver_port_in_use_fails_to_start(void **state)
{
    struct fix *f = *state;
    struct mbserver_cfg cfg = f->cfg;
    struct mbsrv *s = NULL;

    cfg.port = f->port;
    assert_int_equal(mbsrv_start(&cfg, f->bus, NULL, 0, &fake_ops, &s), -EADDRINUSE);
    assert_null(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_mbserver_fn3_and_fn4_read_own_map_floats),
        T(test_mbserver_unit_0_reads_own_map_too),
        T(test_mbserver_address_outside_map_gets_exception_2),
        T(test_mbserver_quantity_126_gets_exception_3),
        T(test_mbserver_write_to_own_map_gets_exception_1_and_is_counted),
        T(test_mbserver_coil_read_of_own_map_gets_exception_1),
        T(test_mbserver_unit_on_no_bus_gets_exception_0a),
        T(test_mbserver_forwarded_read_returns_device_answer_with_client_tid),
        T(test_mbserver_silent_device_gets_exception_0b),
        T(test_mbserver_missing_serial_port_gets_exception_0a),
        T(test_mbserver_full_port_queue_gets_exception_06),
        T(test_mbserver_cached_read_is_answered_without_the_bus),
        T(test_mbserver_diagnostics_are_not_forwarded),
        T(test_mbserver_mei_13_canopen_is_not_forwarded),
        T(test_mbserver_write_in_allowed_range_is_forwarded),
        T(test_mbserver_write_outside_range_gets_exception_2),
        T(test_mbserver_write_from_unlisted_client_gets_exception_1),
        cmocka_unit_test(test_mbserver_acl_matches_prefixes_units_and_spans),
        cmocka_unit_test(test_mbserver_cidr_list_parses_and_rejects),
        cmocka_unit_test(test_mbserver_write_span_of_each_write_function),
        T(test_mbserver_held_request_does_not_block_another_client),
        T(test_mbserver_pipelined_requests_answer_in_completion_order),
        T(test_mbserver_bad_protocol_id_closes_that_client_only),
        T(test_mbserver_largest_legal_frame_is_answered),
        T(test_mbserver_oversized_length_closes_the_client),
        T(test_mbserver_random_input_never_stops_the_server),
        T(test_mbserver_client_over_max_clients_is_refused),
        T(test_mbserver_stop_with_request_on_the_bus_frees_on_last_answer),
        T(test_mbserver_full_inflight_pool_answers_busy),
        T(test_mbserver_idle_client_is_closed_busy_one_is_not),
        T(test_mbserver_port_in_use_fails_to_start),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
