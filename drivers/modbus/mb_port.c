/* mb_port.c - the Modbus master's port: one thread, one queue, one link.
 *
 * The thread alternates between submitted requests (at most MB_PORT_BURST
 * in a row while poll work is waiting) and poll transactions (one read of
 * the device whose cycle is running, with its retries).  A device's cycle
 * runs read by read; the first read that gets no answer at all (timeout,
 * link error) ends it (fail fast: the rest get -ECANCELED) and puts the
 * device DOWN for its backoff period, which doubles from backoff_min to
 * backoff_max at each failed probe; any answer (values or an exception)
 * brings it back UP at its normal interval.  Exceptions and broken frames
 * do not make a device DOWN: it is there and talking.
 *
 * Locking: p->lock guards the queue, the stop flag, every device's health,
 * pending reads and the cached answers (written by the thread, read by
 * mb_port_cached()).  The link, the schedule and the cycle state belong to
 * the thread alone.
 */
#include "drivers/modbus/mb_port.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/modbus/mb_link_impl.h"
#include "pq/err.h"

#define STACK_SIZE       (256 * 1024)  /* per port thread: 100 peers, 100 threads */
#define TIMEOUT_DEFAULT  1000000000LL  /* a port without one: 1 s */
#define BACKOFF_MAX_DEF  60000000000LL /* 60 s */
#define BCAST_TURNAROUND 100000000LL   /* after a broadcast, when no device says */
#define MAX_REGS         125           /* Application Protocol V1.1b3, 6.3 */
#define MAX_BITS         2000          /* ibid., 6.1 */
#define SCAN_ID_ROUNDS   4             /* 43/14 answers with "more follows" */

/* One device's reads and the last good answer of each. */
struct readset {
    const struct mb_read *reads;
    size_t n;
    struct mb_read_result *res;
    uint16_t **regs;  /* per read: count registers (fn 3, 4) */
    uint8_t **bits;   /* per read: count bits (fn 1, 2) */
    int64_t *good_ns; /* CLOCK_MONOTONIC of the last good answer; 0: none */
};

struct dev {
    const struct mb_dev_cfg *cfg;
    int64_t timeout_ns, backoff_min_ns, backoff_max_ns;
    struct readset *rs;      /* current; swapped by the thread under the lock */
    struct readset *pending; /* from mb_port_set_reads(), under the lock */
    int has_pending;
    int64_t due_ns; /* CLOCK_MONOTONIC: next cycle */
    struct mb_health h;
    uint64_t nlat; /* good answers in latency_ms_avg */
};

struct sub {
    int unit;
    uint8_t pdu[MB_PDU_MAX];
    size_t len;
    int64_t timeout_ns;
    mb_done_fn done;
    void *ctx;
};

struct mb_port {
    struct mb_port_cfg cfg;
    struct mb_link *link;
    struct dev *devs;
    size_t ndevs;
    mb_cycle_fn on_cycle;
    void *ctx;
    int64_t bcast_turnaround_ns;

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int stop;
    struct sub q[MB_PORT_QUEUE];
    size_t qhead, qlen;
    int link_err;

    /* the thread's own */
    int cur;          /* device whose cycle runs, or -1 */
    size_t cur_read;  /* next read of that cycle */
    int cur_answered; /* an answer came in this cycle */
    int cur_silent;   /* a read got no answer: the cycle ended early */
    int burst;        /* submitted requests served since the last poll transaction */
    uint16_t regs[MAX_REGS];
    uint8_t bits[MAX_BITS];
    uint8_t ans[MB_PDU_MAX];
};

static int64_t real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int read_valid(const struct mb_read *r)
{
    int max = r->fn == MB_FN_HOLDING || r->fn == MB_FN_INPUT ? MAX_REGS : MAX_BITS;

    if (r->fn < MB_FN_COILS || r->fn > MB_FN_INPUT) {
        return 0;
    }
    return r->count >= 1 && r->count <= max && (int) r->addr + r->count <= 65536;
}

static void readset_free(struct readset *rs)
{
    free(rs); /* one block */
}

/* One block: the struct, results, times, pointer arrays, a copy of the
 * reads and the values. */
static int readset_new(const struct mb_read *reads, size_t n, struct readset **out)
{
    size_t words = 0, bytes = 0, size;
    struct readset *rs;
    struct mb_read *copy;
    uint16_t *w;
    uint8_t *b;

    for (size_t i = 0; i < n; i++) {
        if (!read_valid(&reads[i])) {
            return -EINVAL;
        }
        if (reads[i].fn == MB_FN_HOLDING || reads[i].fn == MB_FN_INPUT) {
            words += reads[i].count;
        } else {
            bytes += reads[i].count;
        }
    }
    size = sizeof(*rs) +
           n * (sizeof(*rs->res) + sizeof(*rs->regs) + sizeof(*rs->bits) +
                sizeof(*rs->good_ns) + sizeof(*reads)) +
           words * sizeof(uint16_t) + bytes;
    rs = calloc(1, size);
    if (!rs) {
        return -ENOMEM;
    }
    rs->n = n;
    rs->res = (struct mb_read_result *) (rs + 1);
    rs->good_ns = (int64_t *) (rs->res + n);
    rs->regs = (uint16_t **) (rs->good_ns + n);
    rs->bits = (uint8_t **) (rs->regs + n);
    copy = (struct mb_read *) (rs->bits + n);
    if (n) {
        memcpy(copy, reads,
               n * sizeof(*reads)); /* ours: the caller may reuse its array */
    }
    rs->reads = copy;
    w = (uint16_t *) (copy + n);
    b = (uint8_t *) (w + words);
    for (size_t i = 0; i < n; i++) {
        rs->res[i].read = &copy[i];
        if (reads[i].fn == MB_FN_HOLDING || reads[i].fn == MB_FN_INPUT) {
            rs->regs[i] = w;
            w += reads[i].count;
        } else {
            rs->bits[i] = b;
            b += reads[i].count;
        }
    }
    *out = rs;
    return 0;
}

/* ---- health ------------------------------------------------------------ */

/* Count one transaction of d that ended with rc (an exception answer of a
 * submitted request is rc -PQ_EREFUSED here).  Under p->lock. */
static void count_tx(struct dev *d, int rc, uint8_t exc, int64_t latency_ns)
{
    struct mb_health *h = &d->h;

    h->requests++;
    h->last_rc = rc;
    if (rc == 0) {
        double ms = (double) latency_ns / 1e6;

        h->good++;
        h->last_good_ns = real_ns();
        h->latency_ms_last = ms;
        d->nlat++;
        h->latency_ms_avg += (ms - h->latency_ms_avg) / (double) d->nlat;
        if (ms > h->latency_ms_max) {
            h->latency_ms_max = ms;
        }
    } else if (rc == -PQ_EREFUSED) {
        h->exceptions++;
        h->last_exception = exc;
    } else if (rc == -ETIMEDOUT) {
        h->timeouts++;
    } else if (rc == -PQ_EFRAME) {
        h->frame_errors++;
    } else {
        h->io_errors++;
    }
}

static int answered(int rc)
{
    return rc == 0 || rc == -PQ_EREFUSED;
}

/* ---- polling ----------------------------------------------------------- */

/* The due device with the earliest due time, or -1; *next receives the
 * earliest due time of all pollable devices (INT64_MAX: none). */
static int next_due(struct mb_port *p, int64_t now, int64_t *next)
{
    int best = -1;

    *next = INT64_MAX;
    for (size_t i = 0; i < p->ndevs; i++) {
        struct dev *d = &p->devs[i];

        if (d->rs->n == 0 && !d->has_pending) {
            continue;
        }
        if (d->due_ns < *next) {
            *next = d->due_ns;
            if (d->due_ns <= now) {
                best = (int) i;
            }
        }
    }
    return best;
}

static void end_cycle(struct mb_port *p, struct dev *d)
{
    int64_t now = mb_mono_ns();
    struct readset *rs = d->rs;

    pthread_mutex_lock(&p->lock);
    if (!p->cur_silent && p->cur_answered) {
        d->h.state = MB_DEV_UP;
        d->h.backoff_ns = 0;
        d->due_ns += d->cfg->poll_ns;
        if (d->due_ns < now) {
            d->due_ns = now; /* fell behind: no burst of catch-up cycles */
        }
    } else if (p->cur_silent || d->h.state == MB_DEV_DOWN) {
        /* quarantine: one probe per period, the period doubling */
        if (d->h.state != MB_DEV_DOWN) {
            d->h.backoff_ns = d->backoff_min_ns;
        } else {
            d->h.backoff_ns *= 2;
            if (d->h.backoff_ns > d->backoff_max_ns) {
                d->h.backoff_ns = d->backoff_max_ns;
            }
        }
        d->h.state = MB_DEV_DOWN;
        d->due_ns = now + d->h.backoff_ns;
    } else {
        d->due_ns += d->cfg->poll_ns; /* only broken frames: it is there */
        if (d->due_ns < now) {
            d->due_ns = now;
        }
    }
    pthread_mutex_unlock(&p->lock);
    p->cur = -1;
    if (p->on_cycle) {
        p->on_cycle(p->ctx, (int) (d - p->devs), rs->res, rs->n);
    }
}

static int start_cycle(struct mb_port *p, int i)
{
    struct dev *d = &p->devs[i];
    struct readset *old = NULL;

    pthread_mutex_lock(&p->lock);
    if (d->has_pending) {
        old = d->rs;
        d->rs = d->pending;
        d->pending = NULL;
        d->has_pending = 0;
    }
    pthread_mutex_unlock(&p->lock);
    readset_free(old);
    if (d->rs->n == 0) {
        d->due_ns += d->cfg->poll_ns;
        return 0;
    }
    p->cur = i;
    p->cur_read = 0;
    p->cur_answered = 0;
    p->cur_silent = 0;
    return 1;
}

/* One read of the running cycle, with its retries while the device is up. */
static void poll_read(struct mb_port *p)
{
    struct dev *d = &p->devs[p->cur];
    struct readset *rs = d->rs;
    size_t i = p->cur_read++;
    const struct mb_read *r = &rs->reads[i];
    struct mb_read_result *res = &rs->res[i];
    int regs = r->fn == MB_FN_HOLDING || r->fn == MB_FN_INPUT;
    int tries = d->h.state == MB_DEV_DOWN ? 1 : 1 + d->cfg->retries;
    uint8_t exc = 0;
    int rc = -ECANCELED;

    for (int t = 0; t < tries; t++) {
        int stop;

        exc = 0;
        rc =
            mb_link_read(p->link, d->cfg->unit, r, d->timeout_ns, p->regs, p->bits, &exc);
        pthread_mutex_lock(&p->lock);
        count_tx(d, rc, exc, p->link->latency_ns);
        if (rc == 0) {
            if (regs) {
                memcpy(rs->regs[i], p->regs, r->count * sizeof(uint16_t));
            } else {
                memcpy(rs->bits[i], p->bits, r->count);
            }
            rs->good_ns[i] = mb_mono_ns();
        }
        p->link_err = mb_link_error(p->link);
        stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (answered(rc) || rc == -EINVAL || stop) {
            break;
        }
    }
    res->rc = rc;
    res->exception = rc == -PQ_EREFUSED ? exc : 0;
    res->t_ns = real_ns();
    res->regs = rc == 0 && regs ? rs->regs[i] : NULL;
    res->bits = rc == 0 && !regs ? rs->bits[i] : NULL;
    if (answered(rc)) {
        p->cur_answered = 1;
        pthread_mutex_lock(&p->lock);
        if (d->h.state == MB_DEV_DOWN) {
            d->h.state = MB_DEV_UP; /* back: the rest of the cycle gets retries */
            d->h.backoff_ns = 0;
        }
        pthread_mutex_unlock(&p->lock);
        mb_link_hold(p->link, d->cfg->turnaround_ns);
    } else if (rc != -PQ_EFRAME && rc != -EINVAL) {
        /* fail fast: no answer at all ends the device's cycle */
        p->cur_silent = 1;
        for (size_t k = p->cur_read; k < rs->n; k++) {
            rs->res[k] = (struct mb_read_result){.read = &rs->reads[k], .rc = -ECANCELED};
        }
        p->cur_read = rs->n;
    }
    if (p->cur_read >= rs->n) {
        end_cycle(p, d);
    }
}

/* ---- submitted requests ------------------------------------------------ */

static struct dev *dev_of_unit(struct mb_port *p, int unit)
{
    for (size_t i = 0; i < p->ndevs; i++) {
        if (p->devs[i].cfg->unit == unit) {
            return &p->devs[i];
        }
    }
    return NULL;
}

static void serve(struct mb_port *p, struct sub *s)
{
    struct dev *d = dev_of_unit(p, s->unit);
    int64_t timeout = s->timeout_ns > 0 ? s->timeout_ns
                      : d               ? d->timeout_ns
                                        : p->cfg.timeout_ns;
    size_t alen = 0;
    int down, rc;

    pthread_mutex_lock(&p->lock);
    down = d && d->h.state == MB_DEV_DOWN;
    pthread_mutex_unlock(&p->lock);
    if (down) {
        /* quarantined: its probe decides when it is back, not this request */
        s->done(s->ctx, -ETIMEDOUT, NULL, 0);
        return;
    }
    rc = mb_link_raw(p->link, s->unit, s->pdu, s->len, timeout, p->ans, sizeof(p->ans),
                     &alen);
    pthread_mutex_lock(&p->lock);
    if (d) {
        int counted = rc == 0 && alen == 2 && (p->ans[0] & 0x80) ? -PQ_EREFUSED : rc;

        count_tx(d, counted, counted == -PQ_EREFUSED ? p->ans[1] : 0,
                 p->link->latency_ns);
    }
    p->link_err = mb_link_error(p->link);
    pthread_mutex_unlock(&p->lock);
    if (rc == 0 && s->unit == 0 && p->cfg.kind == MB_PORT_RTU) {
        mb_link_hold(p->link, p->bcast_turnaround_ns);
    } else if (rc == 0 && d) {
        mb_link_hold(p->link, d->cfg->turnaround_ns);
    }
    s->done(s->ctx, rc, rc == 0 ? p->ans : NULL, rc == 0 ? alen : 0);
}

/* ---- the thread -------------------------------------------------------- */

static void wait_until(struct mb_port *p, int64_t mono_ns)
{
    struct timespec ts;

    if (mono_ns == INT64_MAX) {
        pthread_cond_wait(&p->cond, &p->lock);
        return;
    }
    ts.tv_sec = mono_ns / 1000000000LL;
    ts.tv_nsec = mono_ns % 1000000000LL;
    pthread_cond_timedwait(&p->cond, &p->lock, &ts);
}

static void *port_main(void *arg)
{
    struct mb_port *p = arg;
    struct sub s;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        int64_t now = mb_mono_ns(), next;
        int due = p->cur >= 0 ? p->cur : next_due(p, now, &next);

        if (p->qlen > 0 && (p->burst < MB_PORT_BURST || due < 0)) {
            s = p->q[p->qhead];
            p->qhead = (p->qhead + 1) % MB_PORT_QUEUE;
            p->qlen--;
            p->burst++;
            pthread_mutex_unlock(&p->lock);
            serve(p, &s);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        if (due >= 0) {
            pthread_mutex_unlock(&p->lock);
            if (p->cur >= 0 || start_cycle(p, due)) {
                poll_read(p);
            }
            pthread_mutex_lock(&p->lock);
            p->burst = 0;
            continue;
        }
        wait_until(p, next);
    }
    while (p->qlen > 0) {
        s = p->q[p->qhead];
        p->qhead = (p->qhead + 1) % MB_PORT_QUEUE;
        p->qlen--;
        pthread_mutex_unlock(&p->lock);
        s.done(s.ctx, -ECANCELED, NULL, 0);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- API --------------------------------------------------------------- */

static int dev_valid(const struct mb_port_cfg *cfg, const struct mb_dev_cfg *dc)
{
    int lo = cfg->kind == MB_PORT_RTU ? 1 : 0;

    /* RTU: 1..247 (Serial Line V1.02, 2.2); TCP: 0..247 or 255, what
     * libmodbus 3.1.6 accepts as a unit identifier */
    return dc->unit >= lo && (dc->unit <= 247 || (lo == 0 && dc->unit == 255)) &&
           dc->poll_ns > 0 && dc->timeout_ns >= 0 && dc->turnaround_ns >= 0 &&
           dc->retries >= 0 && dc->retries <= 10 && dc->backoff_min_ns >= 0 &&
           dc->backoff_max_ns >= 0 && (dc->reads || dc->nreads == 0);
}

static void port_free(struct mb_port *p)
{
    for (size_t i = 0; i < p->ndevs; i++) {
        readset_free(p->devs[i].rs);
        readset_free(p->devs[i].pending);
    }
    free(p->devs);
    mb_link_close(p->link);
    free(p);
}

static int port_init_devs(struct mb_port *p, const struct mb_dev_cfg *devs, size_t ndevs)
{
    int64_t now = mb_mono_ns();

    p->devs = calloc(ndevs ? ndevs : 1, sizeof(*p->devs));
    if (!p->devs) {
        return -ENOMEM;
    }
    p->ndevs = ndevs;
    for (size_t i = 0; i < ndevs; i++) {
        struct dev *d = &p->devs[i];
        int rc;

        if (!dev_valid(&p->cfg, &devs[i])) {
            return -EINVAL;
        }
        rc = readset_new(devs[i].reads, devs[i].nreads, &d->rs);
        if (rc < 0) {
            return rc;
        }
        d->cfg = &devs[i];
        d->timeout_ns = devs[i].timeout_ns ? devs[i].timeout_ns : p->cfg.timeout_ns;
        d->backoff_min_ns =
            devs[i].backoff_min_ns ? devs[i].backoff_min_ns : devs[i].poll_ns;
        d->backoff_max_ns =
            devs[i].backoff_max_ns ? devs[i].backoff_max_ns : BACKOFF_MAX_DEF;
        if (d->backoff_max_ns < d->backoff_min_ns) {
            d->backoff_max_ns = d->backoff_min_ns;
        }
        d->due_ns = now;
        if (devs[i].turnaround_ns > p->bcast_turnaround_ns) {
            p->bcast_turnaround_ns = devs[i].turnaround_ns;
        }
    }
    if (p->bcast_turnaround_ns == 0) {
        p->bcast_turnaround_ns = BCAST_TURNAROUND;
    }
    return 0;
}

static int port_start_thread(struct mb_port *p)
{
    pthread_condattr_t ca;
    pthread_attr_t ta;
    int rc;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        return -rc;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_attr_init(&ta);
    pthread_attr_setstacksize(&ta, STACK_SIZE);
    rc = pthread_create(&p->thread, &ta, port_main, p);
    pthread_attr_destroy(&ta);
    if (rc != 0) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        return -rc;
    }
    return 0;
}

int mb_port_start(const struct mb_port_cfg *cfg, const struct mb_dev_cfg *devs,
                  size_t ndevs, mb_cycle_fn on_cycle, void *ctx, struct mb_port **out)
{
    struct mb_port *p;
    int rc;

    if (!cfg || !out || (ndevs && !devs) || ndevs > 65536) {
        return -EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        return -ENOMEM;
    }
    p->cfg = *cfg;
    if (p->cfg.timeout_ns <= 0) {
        p->cfg.timeout_ns = TIMEOUT_DEFAULT;
    }
    p->on_cycle = on_cycle;
    p->ctx = ctx;
    p->cur = -1;
    rc = mb_link_open(&p->cfg, &p->link);
    if (rc < 0) {
        goto fail;
    }
    rc = port_init_devs(p, devs, ndevs);
    if (rc < 0) {
        goto fail;
    }
    rc = port_start_thread(p);
    if (rc < 0) {
        goto fail;
    }
    *out = p;
    return 0;

fail:
    port_free(p);
    return rc;
}

void mb_port_stop(struct mb_port *p)
{
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    port_free(p);
}

int mb_port_submit(struct mb_port *p, int unit, const uint8_t *pdu, size_t len,
                   int64_t timeout_ns, mb_done_fn done, void *ctx)
{
    struct sub *s;
    int rc = 0;

    if (!p || !pdu || len < 1 || len > MB_PDU_MAX || !done || unit < 0 || unit > 255 ||
        (pdu[0] & 0x80) || pdu[0] == 0) {
        return -EINVAL;
    }
    pthread_mutex_lock(&p->lock);
    if (p->stop) {
        rc = -ECANCELED;
    } else if (p->qlen >= MB_PORT_QUEUE) {
        rc = -PQ_EFULL; /* overflow policy: refuse the newest, the caller answers */
    } else {
        s = &p->q[(p->qhead + p->qlen) % MB_PORT_QUEUE];
        s->unit = unit;
        memcpy(s->pdu, pdu, len);
        s->len = len;
        s->timeout_ns = timeout_ns;
        s->done = done;
        s->ctx = ctx;
        p->qlen++;
        pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Register a of unit's fn from the freshest good answer within max_age. */
static int cached_reg(struct mb_port *p, int unit, int fn, int a, int64_t oldest,
                      uint16_t *dst)
{
    int found = 0;
    int64_t best = 0;

    for (size_t i = 0; i < p->ndevs; i++) {
        struct readset *rs = p->devs[i].rs;

        if (p->devs[i].cfg->unit != unit) {
            continue;
        }
        for (size_t k = 0; k < rs->n; k++) {
            const struct mb_read *r = &rs->reads[k];

            if (r->fn == fn && a >= r->addr && a < r->addr + r->count && rs->good_ns[k] &&
                rs->good_ns[k] >= oldest && rs->good_ns[k] > best) {
                best = rs->good_ns[k];
                *dst = rs->regs[k][a - r->addr];
                found = 1;
            }
        }
    }
    return found;
}

int mb_port_cached(struct mb_port *p, int unit, int fn, int addr, int count,
                   int64_t max_age_ns, uint16_t *dst)
{
    int64_t oldest = mb_mono_ns() - max_age_ns;
    int rc = 0;

    if (!p || (fn != MB_FN_HOLDING && fn != MB_FN_INPUT) || addr < 0 || count < 1 ||
        count > MAX_REGS || addr + count > 65536 || !dst) {
        return -PQ_ENOTFOUND;
    }
    pthread_mutex_lock(&p->lock);
    for (int k = 0; k < count && rc == 0; k++) {
        if (!cached_reg(p, unit, fn, addr + k, oldest, &dst[k])) {
            rc = -PQ_ENOTFOUND;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int mb_port_set_reads(struct mb_port *p, int dev, const struct mb_read *reads, size_t n)
{
    struct readset *rs, *old;
    int rc;

    if (!p || dev < 0 || (size_t) dev >= p->ndevs || (n && !reads)) {
        return -EINVAL;
    }
    rc = readset_new(reads, n, &rs);
    if (rc < 0) {
        return rc;
    }
    pthread_mutex_lock(&p->lock);
    old = p->devs[dev].pending;
    p->devs[dev].pending = rs;
    p->devs[dev].has_pending = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    readset_free(old);
    return 0;
}

int mb_port_health(struct mb_port *p, int dev, struct mb_health *out)
{
    if (!p || dev < 0 || (size_t) dev >= p->ndevs || !out) {
        return -EINVAL;
    }
    pthread_mutex_lock(&p->lock);
    *out = p->devs[dev].h;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int mb_port_link_error(struct mb_port *p)
{
    int rc;

    if (!p) {
        return -EINVAL;
    }
    pthread_mutex_lock(&p->lock);
    rc = p->link_err;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* ---- discovery --------------------------------------------------------- */

/* Read device identification (function 43/14, basic objects 0..2;
 * Application Protocol V1.1b3, 6.21).  1 when the device offers it. */
static int scan_ident(struct mb_link *l, int unit, int64_t timeout_ns, char id[3][64])
{
    uint8_t req[4] = {0x2B, 0x0E, 0x01, 0x00}; /* basic, from object 0 */
    uint8_t ans[MB_PDU_MAX];
    int offered = 0;

    for (int round = 0; round < SCAN_ID_ROUNDS; round++) {
        size_t alen;
        int more = 0, next = 0;

        if (mb_link_raw(l, unit, req, sizeof(req), timeout_ns, ans, sizeof(ans), &alen) <
                0 ||
            mb_devid_parse(ans, alen, id, &more, &next) < 0) {
            break;
        }
        offered = 1;
        if (!more || next <= req[3] || next > 2) {
            break;
        }
        req[3] = (uint8_t) next;
    }
    return offered;
}

int mb_port_scan(const struct mb_port_cfg *cfg, int first, int last, int64_t timeout_ns,
                 mb_found_fn found, void *ctx)
{
    const struct mb_read probe = {.fn = MB_FN_HOLDING, .addr = 0, .count = 1};
    int hi = cfg && cfg->kind == MB_PORT_RTU ? 247 : 255;
    int lo = cfg && cfg->kind == MB_PORT_RTU ? 1 : 0;
    struct mb_link *l;
    int nfound = 0;
    int rc;

    if (!cfg || !found || first < lo || last > hi || first > last || timeout_ns <= 0) {
        return -EINVAL;
    }
    rc = mb_link_open(cfg, &l);
    if (rc < 0) {
        return rc;
    }
    rc = mb_link_connect(l);
    for (int unit = first; unit <= last && rc == 0; unit++) {
        char id[3][64] = {{0}};
        uint16_t reg;
        uint8_t exc;

        rc = mb_link_read(l, unit, &probe, timeout_ns, &reg, NULL, &exc);
        if (answered(rc)) {
            int offered = scan_ident(l, unit, timeout_ns, id);

            found(ctx, unit, offered ? id[0] : NULL, offered ? id[1] : NULL,
                  offered ? id[2] : NULL);
            nfound++;
        }
        /* a silent or garbled unit is absent; a dead link ends the scan */
        rc = mb_link_connect(l);
    }
    mb_link_close(l);
    return rc < 0 ? rc : nfound;
}
