/* mb_fake.c - the "fake" link backend: a scripted bus for unit tests of
 * the scheduling (mb_port.c) without a line.  Each unit id answers from its
 * registers, stays silent (the caller's timeout passes in real time), or
 * answers with an exception or a broken frame; every transaction is
 * logged with its time.
 */
#include <errno.h>
#include <string.h>

#include "drivers/modbus/mb_link_impl.h"
#include "pq/err.h"

void mb_fake_init(struct mb_fake *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
}

void mb_fake_fini(struct mb_fake *f)
{
    pthread_mutex_destroy(&f->lock);
}

void mb_fake_set(struct mb_fake *f, int unit, int mode, uint8_t exc, int64_t delay_ns)
{
    pthread_mutex_lock(&f->lock);
    f->unit[unit & 0xFF].mode = mode;
    f->unit[unit & 0xFF].exc = exc;
    f->unit[unit & 0xFF].delay_ns = delay_ns;
    pthread_mutex_unlock(&f->lock);
}

size_t mb_fake_log(struct mb_fake *f, size_t first, struct mb_fake_tx *out, size_t cap)
{
    size_t n = 0;

    pthread_mutex_lock(&f->lock);
    for (size_t i = first; i < f->ntx && i < MB_FAKE_LOG && n < cap; i++) {
        out[n++] = f->log[i];
    }
    pthread_mutex_unlock(&f->lock);
    return n;
}

static int fake_open(struct mb_link *l, const struct mb_port_cfg *cfg)
{
    if (!cfg->fake) {
        return -EINVAL;
    }
    *(struct mb_fake **) l->priv = cfg->fake;
    return 0;
}

static int fake_connect(struct mb_link *l)
{
    (void) l;
    return 0;
}

/* Log the request and take a copy of what the unit will do. */
static struct mb_fake_unit *begin_tx(struct mb_fake *f, int unit, uint8_t fn, int addr,
                                     int count, int raw, struct mb_fake_unit *u)
{
    struct mb_fake_unit *real = &f->unit[unit & 0xFF];

    pthread_mutex_lock(&f->lock);
    if (f->ntx < MB_FAKE_LOG) {
        f->log[f->ntx] = (struct mb_fake_tx){.unit = unit,
                                             .fn = fn,
                                             .addr = (uint16_t) addr,
                                             .count = (uint16_t) count,
                                             .raw = raw,
                                             .t_ns = mb_mono_ns()};
    }
    f->ntx++;
    u->mode = real->mode;
    u->exc = real->exc;
    u->delay_ns = real->delay_ns;
    pthread_mutex_unlock(&f->lock);
    return real;
}

/* Wait as the unit would; the code of a failed answer, or 0. */
static int behave(const struct mb_fake_unit *u, int64_t timeout_ns, uint8_t *exception)
{
    if (u->mode == MB_FAKE_ABSENT || u->delay_ns >= timeout_ns) {
        mb_sleep_until(mb_mono_ns() + timeout_ns);
        return -ETIMEDOUT;
    }
    mb_sleep_until(mb_mono_ns() + u->delay_ns);
    if (u->mode == MB_FAKE_EXCEPTION) {
        if (exception) {
            *exception = u->exc;
        }
        return -PQ_EREFUSED;
    }
    return u->mode == MB_FAKE_GARBAGE ? -PQ_EFRAME : 0;
}

static int fake_read(struct mb_link *l, int unit, const struct mb_read *r,
                     int64_t timeout_ns, uint16_t *regs, uint8_t *bits,
                     uint8_t *exception)
{
    struct mb_fake *f = *(struct mb_fake **) l->priv;
    struct mb_fake_unit u;
    struct mb_fake_unit *real = begin_tx(f, unit, r->fn, r->addr, r->count, 0, &u);
    int rc = behave(&u, timeout_ns, exception);

    if (rc < 0) {
        return rc;
    }
    if (r->addr + r->count > MB_FAKE_REGS) {
        *exception = 2; /* illegal data address */
        return -PQ_EREFUSED;
    }
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < r->count; i++) {
        if (r->fn == MB_FN_HOLDING || r->fn == MB_FN_INPUT) {
            regs[i] = real->regs[r->addr + i];
        } else {
            bits[i] = real->regs[r->addr + i] != 0;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static int fake_raw(struct mb_link *l, int unit, const uint8_t *pdu, size_t len,
                    int64_t timeout_ns, uint8_t *ans, size_t cap, size_t *alen)
{
    struct mb_fake *f = *(struct mb_fake **) l->priv;
    struct mb_fake_unit u;
    int addr = len >= 3 ? (pdu[1] << 8) | pdu[2] : 0;
    int count = len >= 5 ? (pdu[3] << 8) | pdu[4] : 0;
    struct mb_fake_unit *real = begin_tx(f, unit, pdu[0], addr, count, 1, &u);
    uint8_t exc = 0;
    int rc = behave(&u, timeout_ns, &exc);

    if (rc == -PQ_EREFUSED) {
        ans[0] = (uint8_t) (pdu[0] | 0x80);
        ans[1] = exc;
        *alen = 2;
        return 0;
    }
    if (rc < 0) {
        return rc;
    }
    if ((pdu[0] == 3 || pdu[0] == 4) && len == 5 && count >= 1 && count <= 125 &&
        addr + count <= MB_FAKE_REGS && cap >= 2 + 2 * (size_t) count) {
        pthread_mutex_lock(&f->lock);
        ans[0] = pdu[0];
        ans[1] = (uint8_t) (2 * count);
        for (int i = 0; i < count; i++) {
            ans[2 + 2 * i] = (uint8_t) (real->regs[addr + i] >> 8);
            ans[3 + 2 * i] = (uint8_t) real->regs[addr + i];
        }
        pthread_mutex_unlock(&f->lock);
        *alen = 2 + 2 * (size_t) count;
        return 0;
    }
    if (pdu[0] == 6 && len == 5 && addr < MB_FAKE_REGS && cap >= 5) {
        pthread_mutex_lock(&f->lock);
        real->regs[addr] = (uint16_t) count;
        pthread_mutex_unlock(&f->lock);
        memcpy(ans, pdu, 5);
        *alen = 5;
        return 0;
    }
    ans[0] = (uint8_t) (pdu[0] | 0x80);
    ans[1] = 1; /* illegal function */
    *alen = 2;
    return 0;
}

static int fake_recover(struct mb_link *l, int err)
{
    (void) l;
    (void) err;
    return 0;
}

static void fake_disconnect(struct mb_link *l)
{
    (void) l;
}

static void fake_close(struct mb_link *l)
{
    (void) l;
}

const struct mb_link_ops mb_fake_ops = {
    .kind = "fake",
    .priv_size = sizeof(struct mb_fake *),
    .open = fake_open,
    .connect = fake_connect,
    .read = fake_read,
    .raw = fake_raw,
    .recover = fake_recover,
    .disconnect = fake_disconnect,
    .close = fake_close,
};
