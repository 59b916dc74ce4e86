/* syslog5424.c - RFC 5424 messages to a remote collector from a thread.
 *
 * The queue is a ring of fixed slots of SYSLOG5424_MAX bytes, each holding a
 * formatted message; syslog5424_send() formats into the slot under the lock
 * (a few microseconds) and the thread copies the oldest slot out before it
 * writes it to the socket, so the lock is never held across I/O.
 */
#include "gateway/syslog5424.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pq/err.h"
#include "pq/utc.h"

#define DEFAULT_QUEUE      256
#define BACKOFF_MIN_NS     1000000000LL
#define BACKOFF_MAX_NS     (60 * 1000000000LL)
#define CONNECT_TIMEOUT_MS 2000
#define SEND_TIMEOUT_S     2
#define FRAME_EXTRA        16 /* "MSG-LEN SP" in front of a TCP frame */

/* A private SD-ID needs "@" and an IANA private enterprise number (RFC 5424
 * 6.3.2); 32473 is the number reserved for documentation (RFC 5612), in
 * place until the project registers its own. */
#define SD_ID_PQGATE "pqgate@32473"

struct slot {
    size_t len;
    char buf[SYSLOG5424_MAX];
};

struct syslog5424 {
    char *host;
    char port[8];
    int proto;
    int facility;
    char hostname[256];
    char app_name[49];
    long procid;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct slot *q;
    size_t cap, head, count;
    int stopping;
    int64_t linger_until_ns; /* CLOCK_MONOTONIC, when stopping */
    struct syslog5424_stats st;

    pthread_t thread;
    int fd;
    int64_t backoff_ns;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- formatting (RFC 5424 6) -------------------------------------------- */

struct out {
    char *buf;
    size_t cap, len; /* len may pass cap: what it would need */
};

static void put_char(struct out *o, char c)
{
    if (o->len + 1 < o->cap) {
        o->buf[o->len] = c;
    }
    o->len++;
}

static void put_str(struct out *o, const char *s)
{
    while (*s) {
        put_char(o, *s++);
    }
}

/* A header field: PRINTUSASCII (%d33-126) of at most max characters, others
 * replaced by '_'; empty or NULL is the NILVALUE "-" (6.2.4 - 6.2.7). */
static void put_field(struct out *o, const char *s, size_t max)
{
    size_t n = 0;

    if (!s || !*s) {
        put_char(o, '-');
        return;
    }
    for (; *s && n < max; s++, n++) {
        unsigned char c = (unsigned char) *s;

        put_char(o, c >= 33 && c <= 126 ? (char) c : '_');
    }
}

/* PARAM-VALUE: UTF-8 with '"', '\' and ']' escaped by a backslash (6.3.3);
 * control characters become a space. */
static void put_param(struct out *o, const char *name, const char *v)
{
    put_char(o, ' ');
    put_str(o, name);
    put_str(o, "=\"");
    for (; *v; v++) {
        unsigned char c = (unsigned char) *v;

        if (c == '"' || c == '\\' || c == ']') {
            put_char(o, '\\');
        }
        put_char(o, c < 32 || c == 127 ? ' ' : (char) c);
    }
    put_char(o, '"');
}

static int has_non_ascii(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char) *s >= 128) {
            return 1;
        }
    }
    return 0;
}

size_t syslog5424_format(char *buf, size_t cap, int facility, const char *hostname,
                         const char *app_name, long procid,
                         const struct syslog5424_msg *m)
{
    struct out o = {buf, cap, 0};
    char tmp[80];
    struct pq_utc u;
    int sev = m->severity < 0 ? 0 : m->severity > 7 ? 7 : m->severity;
    int fac = facility < 0 || facility > 23 ? 1 : facility;

    /* 6.2.1: PRIVAL = facility x 8 + severity; 6.2.2: VERSION 1 */
    snprintf(tmp, sizeof(tmp), "<%d>1 ", fac * 8 + sev);
    put_str(&o, tmp);
    /* 6.2.3: RFC 3339 time in UTC, TIME-SECFRAC to the microsecond */
    pq_utc_from_ns(m->t_ns, &u);
    snprintf(tmp, sizeof(tmp), "%04lld-%02u-%02uT%02u:%02u:%02u.%06lldZ ",
             (long long) u.year, u.month, u.day, u.hour, u.minute, u.second,
             (long long) (u.nsec / 1000));
    put_str(&o, tmp);
    put_field(&o, hostname, 255);
    put_char(&o, ' ');
    put_field(&o, app_name, 48);
    put_char(&o, ' ');
    snprintf(tmp, sizeof(tmp), "%ld", procid);
    put_field(&o, tmp, 128);
    put_char(&o, ' ');
    put_field(&o, m->msgid, 32);
    put_char(&o, ' ');
    /* 7.1: timeQuality; the time zone is known (UTC); isSynced from the
     * kernel's NTP/PTP state */
    put_str(&o, "[timeQuality tzKnown=\"1\" isSynced=\"");
    put_str(&o, m->clock_synced ? "1\"]" : "0\"]");
    if ((m->user && *m->user) || (m->remote && *m->remote)) {
        put_str(&o, "[" SD_ID_PQGATE);
        if (m->user && *m->user) {
            put_param(&o, "user", m->user);
        }
        if (m->remote && *m->remote) {
            put_param(&o, "remote", m->remote);
        }
        put_char(&o, ']');
    }
    if (m->text && *m->text) {
        put_char(&o, ' ');
        if (has_non_ascii(m->text)) {
            put_str(&o, "\xEF\xBB\xBF"); /* 6.4: UTF-8 MSG starts with the BOM */
        }
        put_str(&o, m->text);
    }
    if (cap) {
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    }
    return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

/* ---- the queue ---------------------------------------------------------- */

int syslog5424_send(struct syslog5424 *s, const struct syslog5424_msg *m)
{
    struct slot *sl;

    if (!s || !m) {
        return -EINVAL;
    }
    pthread_mutex_lock(&s->lock);
    if (s->count >= s->cap || s->stopping) {
        s->st.dropped++;
        pthread_mutex_unlock(&s->lock);
        return -PQ_EFULL;
    }
    sl = &s->q[(s->head + s->count) % s->cap];
    sl->len = syslog5424_format(sl->buf, sizeof(sl->buf), s->facility, s->hostname,
                                s->app_name, s->procid, m);
    s->count++;
    s->st.queued++;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void syslog5424_stats(struct syslog5424 *s, struct syslog5424_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->st;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the connection ----------------------------------------------------- */

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len)
{
    int fl = fcntl(fd, F_GETFL);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t elen = sizeof(err);

    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS) {
            return -errno;
        }
        if (poll(&p, 1, CONNECT_TIMEOUT_MS) <= 0) {
            return -ETIMEDOUT;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
            return err ? -err : -errno;
        }
    }
    fcntl(fd, F_SETFL, fl);
    return 0;
}

static int open_socket(struct syslog5424 *s)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    struct timeval tv = {SEND_TIMEOUT_S, 0};
    int rc, fd = -1;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = s->proto == SYSLOG5424_TCP ? SOCK_STREAM : SOCK_DGRAM;
    rc = getaddrinfo(s->host, s->port, &hints, &res);
    if (rc != 0) {
        return rc == EAI_SYSTEM ? -errno : -ENOENT;
    }
    rc = -ENOENT;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        rc = connect_timeout(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc == 0) {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return rc;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* TCP: has the collector closed its end?  (Reading what it sends, if it
 * sends anything, and throwing it away.) */
static int peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    char junk[256];

    if (poll(&p, 1, 0) <= 0) {
        return 0;
    }
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) {
        return 1;
    }
    return recv(fd, junk, sizeof(junk), MSG_DONTWAIT) == 0;
}

/* Write a whole frame.  0, or -errno with the connection to be dropped. */
static int write_frame(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

/* ---- the thread --------------------------------------------------------- */

static void wait_until(struct syslog5424 *s, int64_t t_ns)
{
    struct timespec ts = {.tv_sec = t_ns / 1000000000LL, .tv_nsec = t_ns % 1000000000LL};

    pthread_cond_timedwait(&s->wake, &s->lock, &ts);
}

/* s->fd changes under the lock, so that syslog5424_close() may shut it
 * down to free a send() blocked on a stalled collector. */
static void drop_connection(struct syslog5424 *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    s->st.connected = 0;
    pthread_mutex_unlock(&s->lock);
}

/* Connect when not connected.  Returns 1 when connected, 0 when not (the
 * next try is after the back-off). */
static int ensure_connected(struct syslog5424 *s, int64_t *next_try_ns)
{
    int fd;

    if (s->fd >= 0) {
        return 1;
    }
    if (mono_ns() < *next_try_ns) {
        return 0;
    }
    fd = open_socket(s);
    if (fd < 0) {
        *next_try_ns = mono_ns() + s->backoff_ns;
        s->backoff_ns =
            s->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : s->backoff_ns * 2;
        return 0;
    }
    s->backoff_ns = BACKOFF_MIN_NS;
    pthread_mutex_lock(&s->lock);
    s->fd = fd;
    s->st.connected = 1;
    s->st.connects++;
    pthread_mutex_unlock(&s->lock);
    return 1;
}

/* Send one message; returns 1 when it is done with (sent, or given up as
 * UDP does), 0 when it should be tried again on a new connection. */
static int send_one(struct syslog5424 *s, const char *msg, size_t len)
{
    char frame[SYSLOG5424_MAX + FRAME_EXTRA];
    size_t n = len;
    int rc;

    if (s->proto == SYSLOG5424_TCP) {
        if (peer_closed(s->fd)) {
            drop_connection(s);
            return 0;
        }
        /* RFC 6587 3.4.1: SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG */
        n = (size_t) snprintf(frame, sizeof(frame), "%zu ", len);
        memcpy(frame + n, msg, len);
        n += len;
        msg = frame;
    }
    rc = s->proto == SYSLOG5424_TCP
             ? write_frame(s->fd, msg, n)
             : (send(s->fd, msg, n, MSG_NOSIGNAL) < 0 ? -errno : 0);
    pthread_mutex_lock(&s->lock);
    if (rc == 0) {
        s->st.sent++;
    } else {
        s->st.send_errors++;
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == 0) {
        return 1;
    }
    drop_connection(s);
    return s->proto == SYSLOG5424_UDP; /* UDP: fire and forget */
}

static void *sender_main(void *arg)
{
    struct syslog5424 *s = arg;
    char msg[SYSLOG5424_MAX];
    int64_t next_try = 0;

    for (;;) {
        size_t len;
        int64_t now = mono_ns();

        pthread_mutex_lock(&s->lock);
        while (!s->stopping && s->count == 0) {
            pthread_cond_wait(&s->wake, &s->lock);
        }
        if (s->stopping && (s->count == 0 || now >= s->linger_until_ns)) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        if (s->fd < 0 && now < next_try) {
            int64_t until = next_try;

            if (s->stopping && s->linger_until_ns < until) {
                until = s->linger_until_ns;
            }
            wait_until(s, until);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        len = s->q[s->head].len;
        memcpy(msg, s->q[s->head].buf, len);
        pthread_mutex_unlock(&s->lock);
        if (!ensure_connected(s, &next_try) || !send_one(s, msg, len)) {
            continue;
        }
        pthread_mutex_lock(&s->lock);
        s->head = (s->head + 1) % s->cap;
        s->count--;
        pthread_mutex_unlock(&s->lock);
    }
    drop_connection(s);
    return NULL;
}

int syslog5424_open(const struct syslog5424_cfg *cfg, struct syslog5424 **out)
{
    struct syslog5424 *s;
    pthread_condattr_t ca;
    int rc;

    if (!cfg || !cfg->host || !cfg->host[0] || cfg->port < 1 || cfg->port > 65535) {
        return -EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    s->fd = -1;
    s->backoff_ns = BACKOFF_MIN_NS;
    s->proto = cfg->proto;
    s->facility = cfg->facility;
    s->procid = (long) getpid();
    snprintf(s->port, sizeof(s->port), "%d", cfg->port);
    if (cfg->hostname) {
        snprintf(s->hostname, sizeof(s->hostname), "%s", cfg->hostname);
    } else if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0) {
        s->hostname[0] = '\0'; /* sent as "-" */
    }
    snprintf(s->app_name, sizeof(s->app_name), "%s",
             cfg->app_name ? cfg->app_name : "pqgate");
    s->cap = cfg->queue_cap ? cfg->queue_cap : DEFAULT_QUEUE;
    s->host = strdup(cfg->host);
    s->q = calloc(s->cap, sizeof(*s->q));
    if (!s->host || !s->q) {
        rc = -ENOMEM;
        goto fail;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    rc = -pthread_create(&s->thread, NULL, sender_main, s);
    if (rc < 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        goto fail;
    }
    *out = s;
    return 0;

fail:
    free(s->q);
    free(s->host);
    free(s);
    return rc;
}

void syslog5424_close(struct syslog5424 *s, int linger_ms)
{
    struct timespec until;
    int64_t linger_ns = (int64_t) (linger_ms > 0 ? linger_ms : 0) * 1000000;

    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    s->linger_until_ns = mono_ns() + linger_ns;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    clock_gettime(CLOCK_REALTIME, &until);
    linger_ns += until.tv_nsec + 50000000; /* and 50 ms to wind down */
    until.tv_sec += linger_ns / 1000000000LL;
    until.tv_nsec = linger_ns % 1000000000LL;
    if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
        /* still in a send() to a stalled collector: cut it short */
        pthread_mutex_lock(&s->lock);
        if (s->fd >= 0) {
            shutdown(s->fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->q);
    free(s->host);
    free(s);
}
