/* mb_testsrv.h - in-process Modbus servers for the master's tests and
 * bench: a libmodbus RTU server on the far end of a pty (several unit ids:
 * it looks at the unit id itself before modbus_reply(), since libmodbus's
 * RTU server answers one) and a libmodbus TCP server on 127.0.0.1 (a free
 * port).  One thread each.  It frames requests itself (so it can answer
 * function 43/14 and misbehave on purpose) and logs each frame's times.
 *
 * Header-only so the unit test and the bench share it; every function is
 * static and marked unused.
 */
#ifndef PQGATE_MB_TESTSRV_H
#define PQGATE_MB_TESTSRV_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#define SRV_UNUSED __attribute__((unused))
#define SRV_REGS   256  /* holding and input registers per unit */
#define SRV_LOG    2048 /* frames logged */

enum srv_mode {
    SRV_ANSWER,
    SRV_SILENT,    /* reads the request, never answers */
    SRV_EXCEPTION, /* answers with exception exc */
    SRV_GARBAGE,   /* RTU: 20 bytes of 0x55 0xAA instead of an answer */
    SRV_BADCRC,    /* RTU: a read answer with a wrong CRC */
    SRV_RESET,     /* TCP: resets the connection instead of answering */
    SRV_FLOOD,     /* RTU: 400 bytes of 0x55 without a pause instead of an answer */
};

struct srv_unit {
    int served;
    int mode; /* enum srv_mode */
    int once; /* back to SRV_ANSWER after one such answer */
    uint8_t exc;
    int devid; /* answers 43/14 */
    modbus_mapping_t *map;
};

struct srv_frame {
    int unit;
    uint8_t fn;
    int64_t t_first_ns; /* CLOCK_MONOTONIC: first byte of the request seen */
    int64_t t_end_ns;   /* the answer put on the line (just before writing it) */
};

struct srv {
    int rtu;
    int fd;     /* RTU: pty master; TCP: listening socket */
    int slave;  /* RTU: our own hold on the pty slave */
    int client; /* TCP: the connection, or -1 */
    int wake[2];
    char path[64]; /* RTU: the pty slave the master opens */
    int port;      /* TCP */
    modbus_t *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    struct srv_unit unit[256];
    struct srv_frame log[SRV_LOG];
    size_t nframes;
    int connections;
    int64_t t_accept_ns; /* CLOCK_MONOTONIC of the last accept */
    uint8_t buf[512];
};

static SRV_UNUSED int64_t srv_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static SRV_UNUSED uint16_t srv_crc(const uint8_t *b, size_t n)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc & 1) ? (uint16_t) ((crc >> 1) ^ 0xA001) : (uint16_t) (crc >> 1);
        }
    }
    return crc;
}

/* Serve unit with registers value(k) = unit * 1000 + k. */
static SRV_UNUSED void srv_add_unit(struct srv *s, int unit)
{
    modbus_mapping_t *m = modbus_mapping_new(SRV_REGS, SRV_REGS, SRV_REGS, SRV_REGS);

    for (int k = 0; k < SRV_REGS; k++) {
        m->tab_registers[k] = (uint16_t) (unit * 1000 + k);
        m->tab_input_registers[k] = (uint16_t) (unit * 1000 + k + 500);
        m->tab_bits[k] = (uint8_t) (k & 1);
        m->tab_input_bits[k] = (uint8_t) ((k >> 1) & 1);
    }
    pthread_mutex_lock(&s->lock);
    s->unit[unit].map = m;
    s->unit[unit].served = 1;
    pthread_mutex_unlock(&s->lock);
}

static SRV_UNUSED void srv_set(struct srv *s, int unit, int mode, int once, uint8_t exc)
{
    pthread_mutex_lock(&s->lock);
    s->unit[unit].mode = mode;
    s->unit[unit].once = once;
    s->unit[unit].exc = exc;
    pthread_mutex_unlock(&s->lock);
}

static SRV_UNUSED void srv_set_devid(struct srv *s, int unit)
{
    pthread_mutex_lock(&s->lock);
    s->unit[unit].devid = 1;
    pthread_mutex_unlock(&s->lock);
}

static SRV_UNUSED size_t srv_frames(struct srv *s, struct srv_frame *out, size_t cap)
{
    size_t n;

    pthread_mutex_lock(&s->lock);
    n = s->nframes < cap ? s->nframes : cap;
    memcpy(out, s->log, n * sizeof(*out));
    pthread_mutex_unlock(&s->lock);
    return n;
}

static SRV_UNUSED int srv_wait(int fd, int wake, int ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake, .events = POLLIN}};
    int rc = poll(p, 2, ms);

    if (rc > 0 && p[1].revents) {
        return -1;
    }
    return rc;
}

/* RTU request length from what has arrived, or 0: until the line is quiet. */
static SRV_UNUSED size_t srv_rtu_need(const uint8_t *b, size_t have)
{
    if (have < 2) {
        return 2;
    }
    if (b[1] >= 1 && b[1] <= 6) {
        return 8;
    }
    if (b[1] == 15 || b[1] == 16) {
        return have < 7 ? 7 : 9 + (size_t) b[6];
    }
    if (b[1] == 0x2B) {
        return 7;
    }
    return 0;
}

/* Read one request; its length, 0 on a broken one, -1 to stop/close. */
static SRV_UNUSED int srv_read_req(struct srv *s, int fd, int64_t *t_first)
{
    size_t have = 0;

    for (;;) {
        size_t need = s->rtu     ? srv_rtu_need(s->buf, have)
                      : have < 7 ? 7
                                 : 6 + (((size_t) s->buf[4] << 8) | s->buf[5]);
        ssize_t n;
        int rc;

        if (need > sizeof(s->buf)) {
            return 0;
        }
        if (need && have >= need) {
            return (int) have;
        }
        rc = srv_wait(fd, s->wake[0], have == 0 ? -1 : need ? 500 : 5);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            return need ? 0 : (int) have;
        }
        n = read(fd, s->buf + have, need ? need - have : sizeof(s->buf) - have);
        if (n <= 0) {
            return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        }
        if (have == 0) {
            *t_first = srv_now();
        }
        have += (size_t) n;
    }
}

static SRV_UNUSED void srv_devid(struct srv *s, int fd, const uint8_t *req, int hdr)
{
    static const char *obj[3] = {"Acme Meters", "PM-31", "v2.7"};
    uint8_t out[128];
    size_t n = 0;

    if (s->rtu) {
        out[n++] = req[0];
    } else {
        memcpy(out, req, 7); /* MBAP: length patched below */
        n = 7;
    }
    out[n++] = 0x2B;
    out[n++] = 0x0E;
    out[n++] = 0x01; /* basic */
    out[n++] = 0x01; /* conformity: basic, stream only */
    out[n++] = 0x00; /* no more follows */
    out[n++] = 0x00;
    out[n++] = 3;
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(obj[i]);

        out[n++] = (uint8_t) i;
        out[n++] = (uint8_t) len;
        memcpy(out + n, obj[i], len);
        n += len;
    }
    (void) hdr;
    if (s->rtu) {
        uint16_t crc = srv_crc(out, n);

        out[n++] = (uint8_t) crc;
        out[n++] = (uint8_t) (crc >> 8);
    } else {
        out[4] = (uint8_t) ((n - 6) >> 8);
        out[5] = (uint8_t) (n - 6);
    }
    (void) !write(fd, out, n);
}

static SRV_UNUSED void srv_badcrc(struct srv *s, int fd, const uint8_t *req,
                                  modbus_mapping_t *m)
{
    uint8_t out[260];
    int addr = (req[2] << 8) | req[3], count = (req[4] << 8) | req[5];
    size_t n = 0;
    uint16_t crc;

    if (count > 125 || addr + count > SRV_REGS) {
        count = 1;
        addr = 0;
    }
    out[n++] = req[0];
    out[n++] = 3;
    out[n++] = (uint8_t) (2 * count);
    for (int i = 0; i < count; i++) {
        out[n++] = (uint8_t) (m->tab_registers[addr + i] >> 8);
        out[n++] = (uint8_t) m->tab_registers[addr + i];
    }
    crc = (uint16_t) (srv_crc(out, n) ^ 0x5A5A);
    out[n++] = (uint8_t) crc;
    out[n++] = (uint8_t) (crc >> 8);
    (void) s;
    (void) !write(fd, out, n);
}

/* Answer one request as the unit's mode says; logs the frame. */
static SRV_UNUSED void srv_handle(struct srv *s, int fd, int len, int64_t t_first)
{
    int hdr = s->rtu ? 1 : 7;
    int unit, mode;
    uint8_t fn;
    struct srv_unit u;
    int64_t t_answer;

    if (len < hdr + 1) {
        return;
    }
    if (s->rtu &&
        srv_crc(s->buf, (size_t) len - 2) != (s->buf[len - 2] | (s->buf[len - 1] << 8))) {
        return; /* a broken request is not answered */
    }
    unit = s->buf[hdr - 1];
    fn = s->buf[hdr];
    pthread_mutex_lock(&s->lock);
    u = s->unit[unit];
    if (s->unit[unit].once) {
        s->unit[unit].mode = SRV_ANSWER;
        s->unit[unit].once = 0;
    }
    pthread_mutex_unlock(&s->lock);
    mode = u.served ? u.mode : SRV_SILENT;
    t_answer = srv_now();
    modbus_set_slave(s->ctx, s->rtu ? (unit ? unit : 1) : unit);
    if (mode == SRV_EXCEPTION) {
        modbus_reply_exception(s->ctx, s->buf, u.exc);
    } else if (mode == SRV_GARBAGE) {
        static const uint8_t junk[20] = {0x55, 0xAA, 0x55, 0xAA, 0x55, 0xAA, 0x55,
                                         0xAA, 0x55, 0xAA, 0x55, 0xAA, 0x55, 0xAA,
                                         0x55, 0xAA, 0x55, 0xAA, 0x55, 0xAA};

        (void) !write(fd, junk, sizeof(junk));
    } else if (mode == SRV_FLOOD) {
        uint8_t junk[400];

        memset(junk, 0x55, sizeof(junk));
        (void) !write(fd, junk, sizeof(junk));
    } else if (mode == SRV_BADCRC && s->rtu && fn == 3) {
        srv_badcrc(s, fd, s->buf, u.map);
    } else if (mode == SRV_RESET && !s->rtu) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};

        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fd);
        s->client = -1;
    } else if (mode == SRV_ANSWER && fn == 0x2B) {
        if (u.devid) {
            srv_devid(s, fd, s->buf, hdr);
        } else {
            modbus_reply_exception(s->ctx, s->buf, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
        }
    } else if (mode == SRV_ANSWER && !(s->rtu && unit == 0)) {
        modbus_reply(s->ctx, s->buf, len, u.map);
    }
    pthread_mutex_lock(&s->lock);
    if (s->nframes < SRV_LOG) {
        s->log[s->nframes++] = (struct srv_frame){
            .unit = unit, .fn = fn, .t_first_ns = t_first, .t_end_ns = t_answer};
    }
    pthread_mutex_unlock(&s->lock);
}

static SRV_UNUSED void *srv_main(void *arg)
{
    struct srv *s = arg;

    for (;;) {
        int64_t t_first = 0;
        int fd, len;

        if (!s->rtu && s->client < 0) {
            if (srv_wait(s->fd, s->wake[0], -1) < 0) {
                break;
            }
            s->client = accept(s->fd, NULL, NULL);
            if (s->client < 0) {
                continue;
            }
            pthread_mutex_lock(&s->lock);
            s->connections++;
            s->t_accept_ns = srv_now();
            pthread_mutex_unlock(&s->lock);
            modbus_set_socket(s->ctx, s->client);
        }
        fd = s->rtu ? s->fd : s->client;
        len = srv_read_req(s, fd, &t_first);
        if (len < 0 && s->rtu) {
            break;
        }
        if (len < 0) {
            close(s->client);
            s->client = -1;
            if (srv_wait(s->wake[0], s->wake[0], 0) != 0) {
                break;
            }
            continue;
        }
        srv_handle(s, fd, len, t_first);
    }
    return NULL;
}

static SRV_UNUSED int srv_start_thread(struct srv *s)
{
    pthread_attr_t ta;
    int rc;

    pthread_attr_init(&ta);
    pthread_attr_setstacksize(&ta, 256 * 1024);
    rc = pthread_create(&s->thread, &ta, srv_main, s);
    pthread_attr_destroy(&ta);
    return -rc;
}

/* An RTU server on a pty: the master opens s->path. */
static SRV_UNUSED int srv_start_rtu(struct srv *s)
{
    struct termios t;
    int slave;

    memset(s, 0, sizeof(*s));
    s->rtu = 1;
    s->slave = -1;
    s->client = -1;
    pthread_mutex_init(&s->lock, NULL);
    if (openpty(&s->fd, &slave, s->path, NULL, NULL) < 0 || pipe(s->wake) < 0) {
        return -errno;
    }
    /* keep the slave open so the pair survives the master's reopening;
     * raw on both ends */
    tcgetattr(slave, &t);
    cfmakeraw(&t);
    tcsetattr(slave, TCSANOW, &t);
    s->slave = slave;
    s->ctx = modbus_new_rtu("/dev/null", 9600, 'N', 8, 1);
    modbus_set_socket(s->ctx, s->fd);
    return srv_start_thread(s);
}

/* A TCP server on 127.0.0.1 and a free port (s->port). */
static SRV_UNUSED int srv_start_tcp(struct srv *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    int one = 1;

    memset(s, 0, sizeof(*s));
    s->client = -1;
    s->slave = -1;
    pthread_mutex_init(&s->lock, NULL);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || pipe(s->wake) < 0) {
        return -errno;
    }
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s->fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(s->fd, 16) < 0 ||
        getsockname(s->fd, (struct sockaddr *) &a, &alen) < 0) {
        return -errno;
    }
    s->port = ntohs(a.sin_port);
    s->ctx = modbus_new_tcp("127.0.0.1", s->port);
    return srv_start_thread(s);
}

static SRV_UNUSED void srv_stop(struct srv *s)
{
    (void) !write(s->wake[1], "x", 1);
    pthread_join(s->thread, NULL);
    if (s->client >= 0) {
        close(s->client);
    }
    modbus_set_socket(s->ctx, -1);
    modbus_free(s->ctx);
    close(s->fd);
    if (s->slave >= 0) {
        close(s->slave);
    }
    close(s->wake[0]);
    close(s->wake[1]);
    for (int u = 0; u < 256; u++) {
        if (s->unit[u].map) {
            modbus_mapping_free(s->unit[u].map);
        }
    }
    pthread_mutex_destroy(&s->lock);
}

#endif
