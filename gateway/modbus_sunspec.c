/* modbus_sunspec.c - SunSpec devices: find their model chain through the
 * port's queue, then give them their reads; and the synchronous read
 * through a port's queue that the discovery and modbus-scan use.
 *
 * Discovery needs answers before it can ask the next question (the header,
 * then each model's id and length), so it runs on a thread of its own that
 * submits one request at a time to the device's port and waits for the
 * answer (mb_port_submit() with a condition variable): it never blocks a
 * port's thread, and it shares the bus fairly with the poller.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "config/log.h"
#include "drivers/modbus/mb_sunspec.h"
#include "gateway/loop.h"
#include "gateway/modbus_impl.h"
#include "pq/err.h"

#define BACKOFF_MAX_NS 60000000000LL

struct gw_sunspec {
    struct gwmb *m;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
};

/* One synchronous request through a port's queue. */
struct sync_req {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, rc;
    uint8_t pdu[MB_PDU_MAX];
    size_t len;
};

static void sync_done(void *ctx, int rc, const uint8_t *pdu, size_t len)
{
    struct sync_req *r = ctx;

    pthread_mutex_lock(&r->lock);
    r->rc = rc;
    if (rc == 0) {
        r->len = len < sizeof(r->pdu) ? len : sizeof(r->pdu);
        memcpy(r->pdu, pdu, r->len);
    }
    r->done = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Submit pdu for unit and wait for the answer (the port calls done exactly
 * once: answer, timeout, or -ECANCELED when it stops).  Returns 0 with the
 * answer PDU in r->pdu, or a code. */
static int submit_sync(struct mb_port *p, int unit, const uint8_t *pdu, size_t len,
                       struct sync_req *r)
{
    int rc;

    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    rc = mb_port_submit(p, unit, pdu, len, 0, sync_done, r);
    if (rc == 0) {
        pthread_mutex_lock(&r->lock);
        while (!r->done) {
            pthread_cond_wait(&r->cond, &r->lock);
        }
        rc = r->rc;
        pthread_mutex_unlock(&r->lock);
    }
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    return rc;
}

/* Modbus Application Protocol V1.1b3, 6.1-6.4: read coils, discrete
 * inputs, holding and input registers; 7: an exception answer is the
 * function code | 0x80 and one exception code. */
int gw_modbus_read(struct mb_port *p, int unit, const struct mb_read *rd, uint16_t *regs,
                   uint8_t *bits, uint8_t *exception)
{
    uint8_t req[5] = {rd->fn, (uint8_t) (rd->addr >> 8), (uint8_t) rd->addr,
                      (uint8_t) (rd->count >> 8), (uint8_t) rd->count};
    int is_bits = rd->fn == MB_FN_COILS || rd->fn == MB_FN_DISCRETE;
    size_t bytes = is_bits ? ((size_t) rd->count + 7) / 8 : 2 * (size_t) rd->count;
    struct sync_req r;
    int rc;

    *exception = 0;
    if (!p || (is_bits ? !bits : !regs)) {
        return -EINVAL;
    }
    rc = submit_sync(p, unit, req, sizeof(req), &r);
    if (rc < 0) {
        return rc;
    }
    if (r.len == 2 && r.pdu[0] == (rd->fn | 0x80)) {
        *exception = r.pdu[1];
        return -PQ_EREFUSED;
    }
    if (r.len != 2 + bytes || r.pdu[0] != rd->fn || r.pdu[1] != bytes) {
        return -PQ_EFRAME;
    }
    for (size_t i = 0; i < rd->count; i++) {
        if (is_bits) {
            bits[i] = (uint8_t) (r.pdu[2 + i / 8] >> (i % 8) & 1);
        } else {
            regs[i] = (uint16_t) (r.pdu[2 + 2 * i] << 8 | r.pdu[3 + 2 * i]);
        }
    }
    return 0;
}

struct read_ctx {
    struct mdev *md;
    struct gw_sunspec *s;
};

/* Read count holding registers from addr for the discovery. */
static int ss_read(void *ctx, int fn, int addr, int count, uint16_t *dst)
{
    struct read_ctx *c = ctx;
    struct mb_read r = {(uint8_t) fn, (uint16_t) addr, (uint16_t) count};
    uint8_t exception;
    int stop;

    pthread_mutex_lock(&c->s->lock);
    stop = c->s->stop;
    pthread_mutex_unlock(&c->s->lock);
    if (stop) {
        return -ECANCELED;
    }
    if ((fn != MB_FN_HOLDING && fn != MB_FN_INPUT) || addr < 0 || addr > 0xffff ||
        count < 1 || count > 125) {
        return -EINVAL;
    }
    return gw_modbus_read(c->md->mp->port, c->md->cfg->unit, &r, dst, NULL, &exception);
}

/* One discovery attempt of md: 0 when it has its reads, or a code. */
static int discover(struct gw_sunspec *s, struct mdev *md)
{
    struct read_ctx c = {md, s};
    struct mb_sunspec_info info;
    struct mb_profile *prof = NULL;
    int rc;

    memset(&info, 0, sizeof(info));
    rc = mb_sunspec_discover(ss_read, &c, &info, &prof);

    if (rc < 0) {
        return rc;
    }
    rc = gw_modbus_dev_attach(md, prof);
    if (rc < 0) {
        md->sunspec = -1; /* our problem, not the device's: do not retry */
        return rc;
    }
    atomic_store_explicit(&md->ready, 1, memory_order_release);
    rc = mb_port_set_reads(md->mp->port, md->index, md->reads, md->nreads);
    if (rc < 0) {
        LOGF(LOG_ERR, "modbus", "%s: set reads: %s", md->prefix, pq_strerror(rc));
        md->sunspec = -1;
        return rc;
    }
    md->sunspec = 0;
    LOGF(LOG_NOTICE, "modbus",
         "%s: SunSpec device found at %d: %s %s (serial %s), meter model %d at %d; "
         "%zu points in %zu reads",
         md->prefix, info.base, info.manufacturer, info.model, info.serial,
         info.meter_model, info.meter_addr, prof->npoints, md->nreads);
    return 0;
}

static void try_device(struct gw_sunspec *s, struct mdev *md, int64_t now)
{
    int rc;

    if (md->sunspec != 1 || now < md->next_try_ns) {
        return;
    }
    rc = discover(s, md);
    if (rc == 0 || md->sunspec != 1) {
        return;
    }
    if (md->backoff_ns == 0) {
        LOGF(LOG_WARNING, "modbus",
             "%s: SunSpec discovery: %s; trying again with backoff", md->prefix,
             pq_strerror(rc));
        md->backoff_ns = md->cfg->poll_ns;
    } else if (md->backoff_ns < BACKOFF_MAX_NS) {
        md->backoff_ns *= 2;
        if (md->backoff_ns > BACKOFF_MAX_NS) {
            md->backoff_ns = BACKOFF_MAX_NS;
        }
    }
    md->next_try_ns = loop_mono_ns() + md->backoff_ns;
}

/* Run the due attempts; return the time of the next one (0: none left). */
static int64_t run_due(struct gw_sunspec *s)
{
    int64_t next = 0;

    for (size_t i = 0; i < s->m->nports; i++) {
        struct mport *mp = &s->m->ports[i];

        for (size_t d = 0; d < mp->ndevs; d++) {
            struct mdev *md = &mp->devs[d];

            try_device(s, md, loop_mono_ns());
            if (md->sunspec == 1 && (next == 0 || md->next_try_ns < next)) {
                next = md->next_try_ns;
            }
        }
    }
    return next;
}

static void *sunspec_thread(void *arg)
{
    struct gw_sunspec *s = arg;

    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        int64_t next;
        struct timespec ts;

        pthread_mutex_unlock(&s->lock);
        next = run_due(s);
        pthread_mutex_lock(&s->lock);
        if (next == 0) {
            break; /* every device found (or given up) */
        }
        ts.tv_sec = (time_t) (next / 1000000000);
        ts.tv_nsec = (long) (next % 1000000000);
        if (!s->stop) {
            pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int gw_sunspec_start(struct gwmb *m, struct gw_sunspec **out)
{
    struct gw_sunspec *s = calloc(1, sizeof(*s));
    pthread_condattr_t attr;
    int rc;

    if (!s) {
        return -ENOMEM;
    }
    s->m = m;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* loop_mono_ns() */
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    rc = pthread_create(&s->thread, NULL, sunspec_thread, s);
    if (rc != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return -rc;
    }
    *out = s;
    return 0;
}

void gw_sunspec_stop(struct gw_sunspec *s)
{
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
