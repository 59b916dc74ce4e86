/* mbserver.c - the Modbus TCP server thread: MBAP framing, the own map,
 * the gateway path and write access control.
 *
 * Why a thread of its own rather than the main loop: a client's reads
 * encode up to 125 registers from the bus under its lock, forwarded answers
 * arrive from the ports' threads, and a slow or hostile client must not
 * delay the bus dispatch, the web pages or MQTT on the main loop; nor must
 * a busy main loop delay a SCADA poll.  The thread shares nothing but the
 * bus (thread-safe) and the ports' queues (thread-safe).
 *
 * Framing is ours, not libmodbus's: modbus_receive() blocks on one client,
 * and we serve many at once with pipelined, out-of-order answers.  MBAP
 * (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3): transaction
 * id (2), protocol id (2, must be 0), length (2: unit id + PDU, 2..254), unit
 * id (1), then the PDU.  A header that breaks those rules closes that client
 * only: the stream cannot be resynchronised.
 */
#include "gateway/mbserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "config/log.h"
#include "config/profile.h"
#include "gateway/bus.h"
#include "gateway/evlog.h"
#include "gateway/loop.h"
#include "gateway/mbmap.h"
#include "gateway/modbus.h"
#include "pq/err.h"

#define MBAP_HDR   7
#define ADU_MAX    (MBAP_HDR + MB_PDU_MAX) /* 260 bytes: header with unit id + PDU */
#define TX_CAP     (ADU_MAX * (MBSRV_PIPELINE + 2))
#define POLL_MS    500
#define ADDR_CHARS INET_ADDRSTRLEN

struct client {
    int fd;      /* -1: slot free */
    uint32_t ip; /* host order */
    char addr[ADDR_CHARS];
    unsigned gen; /* bumped when the slot is reused */
    int inflight; /* forwarded requests not answered yet */
    int64_t last_ns;
    size_t rxlen, txlen;
    uint8_t rx[ADU_MAX];
    uint8_t tx[TX_CAP];
};

/* A forwarded request: written by the port's thread in on_done() under
 * s->mu, read by the server thread after popping it from done[]. */
struct pending {
    struct mbsrv *s;
    int used;
    int client;
    unsigned gen;
    uint16_t tid;
    uint8_t unit, fn;
    int rc;
    size_t len;
    uint8_t pdu[MB_PDU_MAX];
};

struct acl_range {
    int unit, first, last;
    struct cfg_cidr *nets;
    size_t nnets;
};

struct mbsrv_acl {
    struct acl_range *r;
    size_t n;
};

struct mbsrv {
    const struct mbserver_cfg *cfg;
    struct mbsrv_ops ops;
    struct mbmap *map;
    struct mbsrv_acl *acl;
    int lfd, efd, port;
    struct client *cl;
    size_t ncl;
    struct pollfd *pfd;
    struct pending *pend;
    size_t npend;
    pthread_t thread;
    int started;
    atomic_int stop;
    /* guarded by mu: the answers of forwarded requests, and the life of
     * this struct while requests are still queued on ports */
    pthread_mutex_t mu;
    int *done; /* ring of pending indices, npend long */
    size_t done_head, done_n;
    size_t outstanding;
    int closing;
    struct mbsrv_stats st;   /* server thread (and on_done()'s drain under mu) */
    struct mbsrv_stats snap; /* st as of the end of the last poll round, under mu */
};

/* ---- access control ---------------------------------------------------------- */

int mbsrv_acl_new(const struct mbserver_cfg *cfg, struct mbsrv_acl **out)
{
    struct mbsrv_acl *a = calloc(1, sizeof(*a));

    if (!a) {
        return -ENOMEM;
    }
    a->r = calloc(cfg->writes.n ? cfg->writes.n : 1, sizeof(*a->r));
    if (!a->r) {
        free(a);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->writes.n; i++) {
        const struct mbserver_write_cfg *w =
            CFG_AT(cfg->writes, struct mbserver_write_cfg, i);
        struct acl_range *r = &a->r[i];
        int n = cfg_cidr_list(w->clients, NULL, 0);

        a->n = i + 1;
        r->unit = w->unit;
        r->first = w->first;
        r->last = w->last;
        if (n < 0) {
            mbsrv_acl_free(a);
            return -PQ_ECONFIG;
        }
        r->nets = calloc(n ? (size_t) n : 1, sizeof(*r->nets));
        if (!r->nets) {
            mbsrv_acl_free(a);
            return -ENOMEM;
        }
        r->nnets = (size_t) cfg_cidr_list(w->clients, r->nets, (size_t) n);
    }
    *out = a;
    return 0;
}

void mbsrv_acl_free(struct mbsrv_acl *a)
{
    if (!a) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        free(a->r[i].nets);
    }
    free(a->r);
    free(a);
}

static int client_listed(const struct acl_range *r, uint32_t ip)
{
    for (size_t i = 0; i < r->nnets; i++) {
        if ((ip & r->nets[i].mask) == r->nets[i].net) {
            return 1;
        }
    }
    return 0;
}

int mbsrv_acl_check(const struct mbsrv_acl *a, int unit, uint32_t client, int addr,
                    int count)
{
    int listed = 0;

    for (size_t i = 0; a && i < a->n; i++) {
        const struct acl_range *r = &a->r[i];

        if (r->unit != unit || !client_listed(r, client)) {
            continue;
        }
        listed = 1;
        if (count >= 1 && addr >= r->first && addr + count - 1 <= r->last) {
            return 0;
        }
    }
    return listed ? MB_EX_ILLEGAL_ADDRESS : MB_EX_ILLEGAL_FUNCTION;
}

static int be16(const uint8_t *p)
{
    return (p[0] << 8) | p[1];
}

/* Modbus Application Protocol V1.1b3: 6.5 (5), 6.6 (6), 6.11 (15), 6.12
 * (16), 6.16 (22), 6.17 (23: the write half). */
int mbsrv_pdu_write_span(const uint8_t *pdu, size_t len, int *addr, int *count)
{
    if (len < 1) {
        return 0;
    }
    switch (pdu[0]) {
    case 5:
    case 6:
    case 22:
        if (len < 3) {
            return -1;
        }
        *addr = be16(pdu + 1);
        *count = 1;
        return 1;
    case 15:
    case 16:
        if (len < 5) {
            return -1;
        }
        *addr = be16(pdu + 1);
        *count = be16(pdu + 3);
        return 1;
    case 23:
        if (len < 9) {
            return -1;
        }
        *addr = be16(pdu + 5);
        *count = be16(pdu + 7);
        return 1;
    default:
        return 0;
    }
}

/* ---- the security log -------------------------------------------------------- */

static void __attribute__((format(printf, 2, 3)))
security(const char *remote, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    (void) evlog_security(LOG_WARNING, NULL, remote, "modbus_write_refused", "%s", text);
}

/* ---- answers ----------------------------------------------------------------- */

static void put_adu(struct client *c, uint16_t tid, uint8_t unit, const uint8_t *pdu,
                    size_t len)
{
    uint8_t *p = c->tx + c->txlen;

    if (c->fd < 0 || c->txlen + MBAP_HDR + len > TX_CAP) {
        return; /* cannot happen: room is reserved before a request is read */
    }
    p[0] = (uint8_t) (tid >> 8);
    p[1] = (uint8_t) tid;
    p[2] = p[3] = 0;
    p[4] = (uint8_t) ((len + 1) >> 8);
    p[5] = (uint8_t) (len + 1);
    p[6] = unit;
    memcpy(p + MBAP_HDR, pdu, len);
    c->txlen += MBAP_HDR + len;
}

static void put_exception(struct mbsrv *s, struct client *c, uint16_t tid, uint8_t unit,
                          uint8_t fn, uint8_t code)
{
    uint8_t pdu[2] = {(uint8_t) (fn | 0x80), code};

    s->st.exceptions++;
    put_adu(c, tid, unit, pdu, sizeof(pdu));
}

/* Function 3 or 4 answer from registers. */
static void put_regs(struct client *c, uint16_t tid, uint8_t unit, uint8_t fn,
                     const uint16_t *regs, int count)
{
    uint8_t pdu[2 + 2 * MBMAP_MAX_READ];

    pdu[0] = fn;
    pdu[1] = (uint8_t) (2 * count);
    for (int i = 0; i < count; i++) {
        pdu[2 + 2 * i] = (uint8_t) (regs[i] >> 8);
        pdu[3 + 2 * i] = (uint8_t) regs[i];
    }
    put_adu(c, tid, unit, pdu, 2 + 2 * (size_t) count);
}

/* ---- the own map ------------------------------------------------------------- */

static void serve_own(struct mbsrv *s, struct client *c, uint16_t tid, uint8_t unit,
                      const uint8_t *pdu, size_t len)
{
    uint16_t regs[MBMAP_MAX_READ];
    int addr, count, ex;
    uint8_t fn = pdu[0];

    if (mbsrv_pdu_write_span(pdu, len, &addr, &count) != 0) {
        s->st.writes_refused++;
        security(c->addr, "function %d to unit %d, the gateway's read-only map", fn,
                 unit);
        put_exception(s, c, tid, unit, fn, MB_EX_ILLEGAL_FUNCTION);
        return;
    }
    if (fn != MB_FN_HOLDING && fn != MB_FN_INPUT) {
        put_exception(s, c, tid, unit, fn, MB_EX_ILLEGAL_FUNCTION);
        return;
    }
    if (len != 5) {
        put_exception(s, c, tid, unit, fn, MB_EX_ILLEGAL_VALUE);
        return;
    }
    addr = be16(pdu + 1);
    count = be16(pdu + 3);
    ex = mbmap_read(s->map, addr, count, regs);
    if (ex) {
        put_exception(s, c, tid, unit, fn, (uint8_t) ex);
        return;
    }
    put_regs(c, tid, unit, fn, regs, count);
}

/* ---- the gateway path -------------------------------------------------------- */

/* What outlives the server thread until the last forwarded request is
 * answered: freed by mbsrv_stop() or by the last on_done(). */
static void free_shell(struct mbsrv *s)
{
    pthread_mutex_destroy(&s->mu);
    close(s->efd);
    free(s->done);
    free(s->pend);
    free(s);
}

/* On the port's thread: copy, queue for the server thread, wake it. */
static void on_done(void *ctx, int rc, const uint8_t *pdu, size_t len)
{
    struct pending *p = ctx;
    struct mbsrv *s = p->s;
    int last;

    pthread_mutex_lock(&s->mu);
    p->rc = rc;
    p->len = 0;
    if (rc == 0 && pdu && len >= 1 && len <= MB_PDU_MAX) {
        memcpy(p->pdu, pdu, len);
        p->len = len;
    }
    s->done[(s->done_head + s->done_n) % s->npend] = (int) (p - s->pend);
    s->done_n++;
    s->outstanding--;
    last = s->closing && s->outstanding == 0;
    if (!last) {
        uint64_t one = 1;

        (void) !write(s->efd, &one, sizeof(one)); /* under mu: s outlives it */
    }
    pthread_mutex_unlock(&s->mu);
    if (last) {
        free_shell(s);
    }
}

/* rc of a forwarded request -> exception code (0: the PDU is the answer).
 * The device did not answer (in time, or intelligibly): 0x0B; the path to
 * it is not there (the port is stopping, the serial port or the link is
 * gone): 0x0A (Modbus Application Protocol V1.1b3, 7). */
static uint8_t forward_exception(int rc, size_t len)
{
    if (rc == 0) {
        return len ? 0 : MB_EX_GW_TARGET;
    }
    if (rc == -ETIMEDOUT || rc == -PQ_EFRAME) {
        return MB_EX_GW_TARGET;
    }
    return MB_EX_GW_PATH; /* -ECANCELED, -ENOENT, -ECONNREFUSED, ... */
}

static void drain_done(struct mbsrv *s)
{
    uint64_t n;

    (void) !read(s->efd, &n, sizeof(n));
    pthread_mutex_lock(&s->mu);
    while (s->done_n > 0) {
        struct pending *p = &s->pend[s->done[s->done_head]];
        struct client *c = &s->cl[p->client];
        uint8_t ex = forward_exception(p->rc, p->len);

        s->done_head = (s->done_head + 1) % s->npend;
        s->done_n--;
        if (c->fd >= 0 && c->gen == p->gen) {
            c->inflight--;
            if (ex) {
                put_exception(s, c, p->tid, p->unit, p->fn, ex);
            } else {
                put_adu(c, p->tid, p->unit, p->pdu, p->len);
            }
        }
        p->used = 0;
    }
    pthread_mutex_unlock(&s->mu);
}

static struct pending *alloc_pending(struct mbsrv *s)
{
    for (size_t i = 0; i < s->npend; i++) {
        if (!s->pend[i].used) {
            s->pend[i].used = 1;
            return &s->pend[i];
        }
    }
    /* every slot holds a request still on a bus, some of them of clients
     * that have gone since: the caller answers busy (0x06) */
    return NULL;
}

/* Functions the gateway forwards: the reads, the writes (after the ACL) and
 * read device identification (43/14).  Diagnostics (8), which can restart
 * a device, and the serial-line-only functions are not forwarded. */
static int forwardable(const uint8_t *pdu, size_t len)
{
    static const uint8_t ok[] = {1, 2, 3, 4, 5, 6, 15, 16, 22, 23};

    /* 43 only as MEI type 14, read device identification (Application
     * Protocol V1.1b3, 6.21); MEI 13 (CANopen general reference, Annex B)
     * can write objects and has no span the access list could check. */
    if (pdu[0] == 43) {
        return len >= 2 && pdu[1] == 0x0E;
    }
    for (size_t i = 0; i < sizeof(ok); i++) {
        if (ok[i] == pdu[0]) {
            return 1;
        }
    }
    return 0;
}

static int try_cache(struct mbsrv *s, struct client *c, struct mb_port *port,
                     uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t len)
{
    uint16_t regs[MBMAP_MAX_READ];
    int addr, count;

    if (s->cfg->gateway.cache_max_age_ns <= 0 || !s->ops.cached || len != 5 ||
        (pdu[0] != MB_FN_HOLDING && pdu[0] != MB_FN_INPUT)) {
        return 0;
    }
    addr = be16(pdu + 1);
    count = be16(pdu + 3);
    if (count < 1 || count > MBMAP_MAX_READ ||
        s->ops.cached(port, unit, pdu[0], addr, count, s->cfg->gateway.cache_max_age_ns,
                      regs) != 0) {
        return 0;
    }
    s->st.cached++;
    put_regs(c, tid, unit, pdu[0], regs, count);
    return 1;
}

static void serve_gateway(struct mbsrv *s, struct client *c, uint16_t tid, uint8_t unit,
                          const uint8_t *pdu, size_t len)
{
    struct mb_port *port = NULL;
    struct pending *p;
    int dev = -1, addr, count, w, rc;
    uint8_t fn = pdu[0];

    if (s->cfg->gateway.enabled && s->ops.route) {
        port = s->ops.route(unit, &dev);
    }
    if (!port || !s->ops.submit) {
        put_exception(s, c, tid, unit, fn, MB_EX_GW_PATH);
        return;
    }
    w = mbsrv_pdu_write_span(pdu, len, &addr, &count);
    if (w < 0) {
        put_exception(s, c, tid, unit, fn, MB_EX_ILLEGAL_VALUE);
        return;
    }
    if (w > 0 && (rc = mbsrv_acl_check(s->acl, unit, c->ip, addr, count)) != 0) {
        s->st.writes_refused++;
        security(c->addr,
                 "function %d to unit %d addresses %d..%d refused (exception %d)", fn,
                 unit, addr, addr + count - 1, rc);
        put_exception(s, c, tid, unit, fn, (uint8_t) rc);
        return;
    }
    if (!forwardable(pdu, len)) {
        put_exception(s, c, tid, unit, fn, MB_EX_ILLEGAL_FUNCTION);
        return;
    }
    if (try_cache(s, c, port, tid, unit, pdu, len)) {
        return;
    }
    p = alloc_pending(s);
    if (!p) {
        put_exception(s, c, tid, unit, fn, MB_EX_BUSY);
        return;
    }
    p->client = (int) (c - s->cl);
    p->gen = c->gen;
    p->tid = tid;
    p->unit = unit;
    p->fn = fn;
    pthread_mutex_lock(&s->mu);
    s->outstanding++;
    pthread_mutex_unlock(&s->mu);
    c->inflight++;
    rc = s->ops.submit(port, unit, pdu, len, s->cfg->gateway.timeout_ns, on_done, p);
    if (rc == 0) {
        s->st.forwarded++;
        return;
    }
    /* not queued: done will not be called */
    pthread_mutex_lock(&s->mu);
    s->outstanding--;
    pthread_mutex_unlock(&s->mu);
    c->inflight--;
    p->used = 0;
    put_exception(s, c, tid, unit, fn,
                  rc == -PQ_EFULL ? MB_EX_BUSY
                  : rc == -EINVAL ? MB_EX_ILLEGAL_VALUE
                                  : MB_EX_GW_PATH);
}

/* ---- clients ----------------------------------------------------------------- */

/* Make the counters visible to mbsrv_stats(): at the end of each poll round,
 * and before a close the peer could see first. */
static void publish_stats(struct mbsrv *s)
{
    pthread_mutex_lock(&s->mu);
    s->snap = s->st;
    pthread_mutex_unlock(&s->mu);
}

static void close_client(struct mbsrv *s, struct client *c, const char *why)
{
    (void) s;
    LOGF(LOG_DEBUG, "mbserver", "client %s closed: %s", c->addr, why);
    close(c->fd);
    c->fd = -1;
    c->gen++;
    c->inflight = 0;
    c->rxlen = c->txlen = 0;
}

/* Room for the answer of one more request and of every one in flight. */
static int can_take(const struct client *c)
{
    return c->inflight < MBSRV_PIPELINE &&
           c->txlen + (size_t) (c->inflight + 1) * ADU_MAX <= TX_CAP;
}

/* Handle the complete frames in c->rx.  Returns 0, or -1 when the client
 * was closed for a bad header. */
static int handle_frames(struct mbsrv *s, struct client *c)
{
    while (c->rxlen >= MBAP_HDR && can_take(c)) {
        int proto = be16(c->rx + 2), len = be16(c->rx + 4);
        uint16_t tid = (uint16_t) be16(c->rx);
        uint8_t unit = c->rx[6];
        size_t adu;

        if (proto != 0 || len < 2 || len > MB_PDU_MAX + 1) {
            s->st.bad_frames++;
            publish_stats(s);
            LOGF(LOG_INFO, "mbserver",
                 "client %s: bad MBAP header (protocol %d, length %d): closed", c->addr,
                 proto, len);
            close_client(s, c, "bad frame");
            return -1;
        }
        adu = (size_t) len + 6;
        if (c->rxlen < adu) {
            break;
        }
        s->st.requests++;
        if (unit == s->cfg->unit_id || unit == 0) {
            serve_own(s, c, tid, unit, c->rx + MBAP_HDR, adu - MBAP_HDR);
        } else {
            serve_gateway(s, c, tid, unit, c->rx + MBAP_HDR, adu - MBAP_HDR);
        }
        memmove(c->rx, c->rx + adu, c->rxlen - adu);
        c->rxlen -= adu;
    }
    return 0;
}

static void on_readable(struct mbsrv *s, struct client *c)
{
    ssize_t n;

    if (c->rxlen == sizeof(c->rx)) {
        return; /* a whole frame waits for room to answer it */
    }
    n = read(c->fd, c->rx + c->rxlen, sizeof(c->rx) - c->rxlen);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_client(s, c, n == 0 ? "end of stream" : strerror(errno));
        return;
    }
    if (n > 0) {
        c->rxlen += (size_t) n;
        c->last_ns = loop_mono_ns();
    }
    (void) handle_frames(s, c);
}

static void on_writable(struct mbsrv *s, struct client *c)
{
    ssize_t n = send(c->fd, c->tx, c->txlen, MSG_NOSIGNAL);

    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        close_client(s, c, strerror(errno));
        return;
    }
    if (n > 0) {
        c->last_ns = loop_mono_ns(); /* idle counts from the last answer too */
        memmove(c->tx, c->tx + n, c->txlen - (size_t) n);
        c->txlen -= (size_t) n;
        /* frames left waiting for room */
        (void) handle_frames(s, c);
    }
}

static void on_accept(struct mbsrv *s)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = accept4(s->lfd, (struct sockaddr *) &sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int one = 1;

    if (fd < 0) {
        return;
    }
    for (size_t i = 0; i < s->ncl; i++) {
        struct client *c = &s->cl[i];

        if (c->fd >= 0) {
            continue;
        }
        c->fd = fd;
        c->ip = ntohl(sa.sin_addr.s_addr);
        inet_ntop(AF_INET, &sa.sin_addr, c->addr, sizeof(c->addr));
        c->last_ns = loop_mono_ns();
        c->rxlen = c->txlen = 0;
        c->inflight = 0;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        s->st.connections++;
        LOGF(LOG_DEBUG, "mbserver", "client %s connected", c->addr);
        return;
    }
    s->st.refused++;
    publish_stats(s);
    if (s->st.refused == 1 || s->st.refused % 100 == 0) {
        char a[ADDR_CHARS];

        inet_ntop(AF_INET, &sa.sin_addr, a, sizeof(a));
        LOGF(LOG_WARNING, "mbserver",
             "connection from %s refused: %d clients connected already (%llu refused)", a,
             s->cfg->max_clients, (unsigned long long) s->st.refused);
    }
    close(fd);
}

static void check_idle(struct mbsrv *s)
{
    int64_t now = loop_mono_ns(), idle = s->cfg->idle_timeout_ns;

    for (size_t i = 0; idle > 0 && i < s->ncl; i++) {
        struct client *c = &s->cl[i];

        if (c->fd >= 0 && c->inflight == 0 && c->txlen == 0 && now - c->last_ns > idle) {
            close_client(s, c, "idle");
        }
    }
}

static void *run(void *arg)
{
    struct mbsrv *s = arg;

    while (!atomic_load(&s->stop)) {
        size_t n = 2;

        s->pfd[0] = (struct pollfd){.fd = s->efd, .events = POLLIN};
        s->pfd[1] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        for (size_t i = 0; i < s->ncl; i++) {
            struct client *c = &s->cl[i];
            /* POLLRDHUP always: a client that leaves while its socket is not
             * read (requests in flight) frees its slot at once */
            short ev = (short) ((can_take(c) && c->rxlen < sizeof(c->rx) ? POLLIN : 0) |
                                (c->txlen ? POLLOUT : 0) | POLLRDHUP);

            /* fd -1 is skipped by poll(): the slot index stays the client's */
            s->pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        if (poll(s->pfd, n, POLL_MS) < 0) {
            continue; /* EINTR */
        }
        if (s->pfd[0].revents) {
            drain_done(s);
            for (size_t i = 0; i < s->ncl; i++) {
                if (s->cl[i].fd >= 0) {
                    (void) handle_frames(s, &s->cl[i]); /* waiting for room */
                }
            }
        }
        if (s->pfd[1].revents & POLLIN) {
            on_accept(s);
        }
        for (size_t i = 0; i < s->ncl; i++) {
            struct client *c = &s->cl[i];
            short re = s->pfd[2 + i].revents;

            if (c->fd < 0 || s->pfd[2 + i].fd != c->fd || !re) {
                continue;
            }
            if (re & POLLOUT) {
                on_writable(s, c);
            }
            if (c->fd >= 0 && (re & (POLLRDHUP | POLLHUP | POLLERR))) {
                /* gone (or half-closed: its answers could not be read) */
                close_client(s, c, "closed by the client");
            } else if (c->fd >= 0 && (re & POLLIN)) {
                on_readable(s, c);
            }
        }
        check_idle(s);
        publish_stats(s);
    }
    return NULL;
}

/* ---- start and stop ---------------------------------------------------------- */

static int open_listener(const struct mbserver_cfg *cfg, int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) cfg->port)};
    socklen_t sl = sizeof(sa);
    int one = 1, fd, rc;

    if (inet_pton(AF_INET, cfg->bind, &sa.sin_addr) != 1) {
        return -EINVAL;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *) &sa, &sl) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static void free_server(struct mbsrv *s)
{
    for (size_t i = 0; s->cl && i < s->ncl; i++) {
        if (s->cl[i].fd >= 0) {
            close(s->cl[i].fd);
        }
    }
    free(s->cl);
    free(s->pfd);
    if (s->lfd >= 0) {
        close(s->lfd);
    }
    mbmap_free(s->map);
    mbsrv_acl_free(s->acl);
    s->cl = NULL;
    s->pfd = NULL;
    s->lfd = -1;
    s->map = NULL;
    s->acl = NULL;
}

static int alloc_server(struct mbsrv *s, const struct mbserver_cfg *cfg)
{
    s->ncl = (size_t) (cfg->max_clients > 0 ? cfg->max_clients : 1);
    s->npend = s->ncl * MBSRV_PIPELINE;
    s->cl = calloc(s->ncl, sizeof(*s->cl));
    s->pfd = calloc(s->ncl + 2, sizeof(*s->pfd));
    s->pend = calloc(s->npend, sizeof(*s->pend));
    s->done = calloc(s->npend, sizeof(*s->done));
    if (!s->cl || !s->pfd || !s->pend || !s->done) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->ncl; i++) {
        s->cl[i].fd = -1;
    }
    for (size_t i = 0; i < s->npend; i++) {
        s->pend[i].s = s;
    }
    return 0;
}

int mbsrv_start(const struct mbserver_cfg *cfg, const struct bus *b,
                const char *const *prefixes, size_t ndev, const struct mbsrv_ops *ops,
                struct mbsrv **out)
{
    struct mbsrv *s = calloc(1, sizeof(*s));
    int rc;

    if (!s) {
        return -ENOMEM;
    }
    s->cfg = cfg;
    s->lfd = s->efd = -1;
    if (ops) {
        s->ops = *ops;
    }
    pthread_mutex_init(&s->mu, NULL);
    rc = alloc_server(s, cfg);
    if (rc == 0) {
        rc = mbmap_new(b, prefixes, ndev, &s->map);
    }
    if (rc == 0) {
        rc = mbsrv_acl_new(cfg, &s->acl);
    }
    if (rc == 0) {
        s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        rc = s->efd < 0 ? -errno : 0;
    }
    if (rc == 0) {
        s->lfd = open_listener(cfg, &s->port);
        rc = s->lfd < 0 ? s->lfd : 0;
    }
    if (rc == 0) {
        rc = -pthread_create(&s->thread, NULL, run, s);
    }
    if (rc < 0) {
        free_server(s);
        if (s->efd >= 0) {
            close(s->efd);
        }
        pthread_mutex_destroy(&s->mu);
        free(s->pend);
        free(s->done);
        free(s);
        return rc;
    }
    s->started = 1;
    *out = s;
    return 0;
}

int mbsrv_port(const struct mbsrv *s)
{
    return s->port;
}

void mbsrv_stats(struct mbsrv *s, struct mbsrv_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->snap;
    pthread_mutex_unlock(&s->mu);
}

void mbsrv_stop(struct mbsrv *s)
{
    uint64_t one = 1;
    int last;

    if (!s) {
        return;
    }
    atomic_store(&s->stop, 1);
    (void) !write(s->efd, &one, sizeof(one));
    if (s->started) {
        pthread_join(s->thread, NULL);
    }
    free_server(s);
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    last = s->outstanding == 0;
    pthread_mutex_unlock(&s->mu);
    if (last) {
        free_shell(s);
    }
    /* else the last on_done() frees it */
}

/* ---- the daemon component ----------------------------------------------------- */

const struct mbsrv_ops *mbsrv_default_ops(void)
{
    static const struct mbsrv_ops ops = {
        .route = gw_modbus_route,
        .submit = mb_port_submit,
        .cached = mb_port_cached,
    };

    return &ops;
}

/* Channel prefixes ("bus1.dev7/") and unit ids of the fleet in
 * device-index order: the serial buses' devices, then the peers'.  Free
 * with free_prefixes(). */
static void free_prefixes(char **p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        free(p[i]);
    }
    free(p);
}

static const struct cfg_list *port_devices(const struct pqgate_cfg *cfg, size_t i,
                                           const char **name)
{
    if (i < cfg->buses.n) {
        const struct serial_bus_cfg *b = CFG_AT(cfg->buses, struct serial_bus_cfg, i);

        *name = b->name;
        return &b->devices;
    } else {
        const struct tcp_peer_cfg *t =
            CFG_AT(cfg->peers, struct tcp_peer_cfg, i - cfg->buses.n);

        *name = t->name;
        return &t->devices;
    }
}

static char **device_prefixes(const struct pqgate_cfg *cfg, size_t *n, int *units,
                              size_t units_cap)
{
    size_t total = 0, k = 0;
    const char *port;
    char **p;

    for (size_t i = 0; i < cfg->buses.n + cfg->peers.n; i++) {
        total += port_devices(cfg, i, &port)->n;
    }
    p = calloc(total ? total : 1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    for (size_t i = 0; i < cfg->buses.n + cfg->peers.n; i++) {
        const struct cfg_list *devs = port_devices(cfg, i, &port);

        for (size_t d = 0; d < devs->n; d++, k++) {
            const struct device_cfg *dc = CFG_AT(*devs, struct device_cfg, d);

            if (asprintf(&p[k], "%s.%s/", port, dc->name) < 0) {
                p[k] = NULL;
                free_prefixes(p, k);
                return NULL;
            }
            if (k < units_cap) {
                units[k] = dc->unit;
            }
        }
    }
    *n = total;
    return p;
}

/* The channels of one device's block, from its profile. */
static void print_dev_channels(FILE *f, size_t d, const struct device_cfg *dc,
                               const char *prefix, const char *config_path)
{
    char path[512];
    struct mb_profile *prof = NULL;
    struct cfg_diag diag;
    int base = mbmap_dev_base(d), rc;

    fprintf(f, "\n### %s (d = %zu, unit %d): %d-%d\n\n", prefix, d, dc->unit, base,
            base + MBMAP_DEV_STRIDE - 1);
    if (dc->sunspec == SUNSPEC_AUTO || strcmp(dc->profile, "sunspec") == 0) {
        fprintf(f,
                "SunSpec: the channels of the models found at start, in model order.\n");
        return;
    }
    rc = cfg_profile_path(dc->profile, config_path, path, sizeof(path));
    cfg_diag_init(&diag);
    if (rc == 0) {
        rc = cfg_profile_load(path, &prof, &diag);
    }
    cfg_diag_fini(&diag);
    if (rc < 0) {
        fprintf(f, "Profile '%s' not loaded: %s.\n", dc->profile, pq_strerror(rc));
        return;
    }
    fprintf(f, "| address | regs | type | channel | unit |\n|---|---|---|---|---|\n");
    fprintf(f, "| %d | 1 | uint16 | (quality) | |\n| %d | 1 | uint16 | (channels) | |\n",
            base, base + 1);
    for (size_t i = 0; i < prof->npoints && i < MBMAP_DEV_VALUES; i++) {
        fprintf(f, "| %d | 2 | float32 | %s%s | %s |\n", base + 2 + 2 * (int) i, prefix,
                prof->points[i].channel, prof->points[i].unit);
    }
    if (prof->npoints > MBMAP_DEV_VALUES) {
        fprintf(f, "\n%zu more channels of the profile have no register.\n",
                prof->npoints - MBMAP_DEV_VALUES);
    }
    cfg_profile_free(prof);
}

int mbsrv_print_map(FILE *f, const struct pqgate_cfg *cfg, const char *config_path)
{
    size_t n = 0, d = 0;
    const char *port;
    int *units;
    char **pre;

    mbmap_print_doc(f);
    if (!cfg) {
        return 0;
    }
    for (size_t i = 0; i < cfg->buses.n + cfg->peers.n; i++) {
        n += port_devices(cfg, i, &port)->n;
    }
    units = calloc(n + 1, sizeof(int));
    if (!units) {
        return -ENOMEM;
    }
    pre = device_prefixes(cfg, &n, units, n + 1);
    if (!pre) {
        free(units);
        return -ENOMEM;
    }
    fprintf(f, "\n## Device blocks of this config (own map at unit %d)\n\n",
            cfg->modbus_server.unit_id);
    mbmap_print_devices(f, (const char *const *) pre, units, n);
    for (size_t i = 0; i < cfg->buses.n + cfg->peers.n; i++) {
        const struct cfg_list *devs = port_devices(cfg, i, &port);

        for (size_t k = 0; k < devs->n && d < MBMAP_DEV_MAX; k++, d++) {
            print_dev_channels(f, d, CFG_AT(*devs, struct device_cfg, k), pre[d],
                               config_path);
        }
    }
    free_prefixes(pre, n);
    free(units);
    return 0;
}

static int component_start(struct gw *gw, void **state)
{
    const struct mbserver_cfg *c = &gw->cfg->modbus_server;
    struct mbsrv *s = NULL;
    size_t n = 0;
    char **pre;
    int rc;

    *state = NULL;
    if (!c->enabled) {
        return 0;
    }
    pre = device_prefixes(gw->cfg, &n, NULL, 0);
    if (!pre) {
        return -ENOMEM;
    }
    rc = mbsrv_start(c, gw->bus, (const char *const *) pre, n, mbsrv_default_ops(), &s);
    free_prefixes(pre, n);
    if (rc < 0) {
        LOGF(LOG_ERR, "mbserver", "cannot serve Modbus TCP on %s:%d: %s", c->bind,
             c->port, pq_strerror(rc));
        return rc;
    }
    if (n > MBMAP_DEV_MAX) {
        LOGF(LOG_WARNING, "mbserver",
             "%zu devices: only the first %d have a block in the register map", n,
             MBMAP_DEV_MAX);
    }
    LOGF(LOG_NOTICE, "mbserver",
         "serving Modbus TCP on %s:%d: own map at unit %d, %zu device blocks, gateway "
         "%s, %zu writable ranges",
         c->bind, mbsrv_port(s), c->unit_id, n < MBMAP_DEV_MAX ? n : MBMAP_DEV_MAX,
         c->gateway.enabled ? "on" : "off", c->writes.n);
    *state = s;
    return 0;
}

static void component_stop(void *state)
{
    struct mbsrv *s = state;
    struct mbsrv_stats st;

    if (!s) {
        return;
    }
    mbsrv_stats(s, &st);
    LOGF(LOG_INFO, "mbserver",
         "stopped: %llu connections (%llu refused), %llu requests, %llu forwarded, %llu "
         "from cache, %llu exceptions, %llu writes refused, %llu bad frames",
         (unsigned long long) st.connections, (unsigned long long) st.refused,
         (unsigned long long) st.requests, (unsigned long long) st.forwarded,
         (unsigned long long) st.cached, (unsigned long long) st.exceptions,
         (unsigned long long) st.writes_refused, (unsigned long long) st.bad_frames);
    mbsrv_stop(s);
}

const struct gw_component mbserver_component = {
    .name = "mbserver",
    .start = component_start,
    .stop = component_stop,
};
