/* mb_rtu.c - the "rtu" link backend: one RS-485 serial bus through
 * libmodbus's RTU context, with its serial settings and RTS control.
 *
 * A device that stays silent is its own timeout, never a reason to reopen
 * the bus: after a timeout or a bad frame we only clear the line (flush
 * what arrived and wait for it to fall silent), so a late or broken answer
 * cannot be taken for the next one.  Only an error of the serial port
 * itself (unplugged adapter) reopens it.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <modbus.h>

#include "drivers/modbus/mb_link_impl.h"
#include "pq/err.h"

#define DRAIN_ROUNDS 20 /* at most this many quiet windows while clearing */

struct rtu {
    int rts; /* enum mb_rts */
    int rts_delay_us;
};

static int rtu_open(struct mb_link *l, const struct mb_port_cfg *cfg)
{
    struct rtu *r = l->priv;
    char parity = cfg->parity ? cfg->parity : 'N';

    if (!cfg->device || cfg->baud < 1200 || cfg->baud > 115200 ||
        (parity != 'N' && parity != 'E' && parity != 'O')) {
        return -EINVAL;
    }
    if ((cfg->data_bits && (cfg->data_bits < 7 || cfg->data_bits > 8)) ||
        (cfg->stop_bits && (cfg->stop_bits < 1 || cfg->stop_bits > 2)) || cfg->rts < 0 ||
        cfg->rts > MB_RTS_DOWN) {
        return -EINVAL;
    }
    l->mb = modbus_new_rtu(cfg->device, cfg->baud, parity,
                           cfg->data_bits ? cfg->data_bits : 8,
                           cfg->stop_bits ? cfg->stop_bits : 1);
    if (!l->mb) {
        return errno ? -errno : -ENOMEM;
    }
    /* Never MODBUS_ERROR_RECOVERY_LINK: it sleeps inside calls. */
    modbus_set_error_recovery(l->mb, MODBUS_ERROR_RECOVERY_NONE);
    r->rts = cfg->rts;
    r->rts_delay_us = (int) (cfg->rts_delay_ns / 1000);
    l->silent_ns = cfg->silent_ns > 0 ? cfg->silent_ns : mb_silent_ns(cfg->baud);
    return 0;
}

static int rtu_connect(struct mb_link *l)
{
    struct rtu *r = l->priv;

    if (modbus_connect(l->mb) == -1) {
        return errno ? -errno : -EIO;
    }
    l->warning = 0;
    if (r->rts == MB_RTS_NONE) {
        return 0; /* the adapter switches direction itself */
    }
    /* Kernel RS-485 mode first; a port without it (a pty, most USB
     * adapters) has RTS switched by libmodbus around each frame instead. */
    if (modbus_rtu_set_serial_mode(l->mb, MODBUS_RTU_RS485) == -1) {
        l->warning = -ENOTSUP;
        modbus_rtu_set_rts(l->mb,
                           r->rts == MB_RTS_UP ? MODBUS_RTU_RTS_UP : MODBUS_RTU_RTS_DOWN);
        if (r->rts_delay_us > 0) {
            modbus_rtu_set_rts_delay(l->mb, r->rts_delay_us);
        }
    }
    return 0;
}

/* Discard what is on the line until it stays quiet for one window. */
static void drain(struct mb_link *l)
{
    int fd = modbus_get_socket(l->mb);
    int64_t window = l->silent_ns > 2000000 ? l->silent_ns : 2000000;
    uint8_t junk[256];

    modbus_flush(l->mb);
    for (int i = 0; i < DRAIN_ROUNDS; i++) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int) ((window + 999999) / 1000000));

        if (rc <= 0) {
            return;
        }
        if (read(fd, junk, sizeof(junk)) <= 0) {
            return;
        }
    }
}

/* Whatever sits in the input before our request cannot be its answer: a
 * late answer to an earlier request (a device slower than its timeout)
 * would otherwise be taken for this one, by this or another unit id.
 * RTU has no transaction id (Serial Line V1.02, 2.1: one request, then its
 * answer), so we clear the input before every request. */
static int rtu_read(struct mb_link *l, int unit, const struct mb_read *r,
                    int64_t timeout_ns, uint16_t *regs, uint8_t *bits, uint8_t *exception)
{
    modbus_flush(l->mb);
    return mb_link_mb_read(l, unit, r, timeout_ns, regs, bits, exception);
}

static int rtu_raw(struct mb_link *l, int unit, const uint8_t *pdu, size_t len,
                   int64_t timeout_ns, uint8_t *ans, size_t cap, size_t *alen)
{
    modbus_flush(l->mb);
    return mb_link_mb_raw(l, unit, pdu, len, timeout_ns, ans, cap, alen);
}

static int rtu_recover(struct mb_link *l, int err)
{
    if (err == -ETIMEDOUT || err == -PQ_EFRAME) {
        drain(l);
        return 0;
    }
    if (err == -EINVAL) {
        return 0; /* our request was refused before it went out */
    }
    return 1; /* the port itself failed */
}

static void rtu_disconnect(struct mb_link *l)
{
    modbus_close(l->mb);
}

static void rtu_close(struct mb_link *l)
{
    modbus_free(l->mb);
}

const struct mb_link_ops mb_rtu_ops = {
    .kind = "rtu",
    .priv_size = sizeof(struct rtu),
    .open = rtu_open,
    .connect = rtu_connect,
    .read = rtu_read,
    .raw = rtu_raw,
    .recover = rtu_recover,
    .disconnect = rtu_disconnect,
    .close = rtu_close,
};
