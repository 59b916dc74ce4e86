/* mb_link.c - the backend-independent half of a link: picking the
 * backend, reopening with a retry period, the silent interval and
 * turnaround, error conversion, and the libmodbus transactions rtu and tcp
 * share (including our own framing of answers libmodbus cannot frame).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "drivers/modbus/mb_link_impl.h"
#include "pq/err.h"

#define RETRY_MIN_NS 100000000LL   /* first reopening period: 100 ms */
#define RETRY_MAX_NS 10000000000LL /* longest: 10 s */

static const struct mb_link_ops *const backends[] = {
    [MB_PORT_RTU] = &mb_rtu_ops,
    [MB_PORT_TCP] = &mb_tcp_ops,
    [MB_PORT_FAKE] = &mb_fake_ops,
};

int64_t mb_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void mb_sleep_until(int64_t mono_ns)
{
    struct timespec ts = {.tv_sec = mono_ns / 1000000000LL,
                          .tv_nsec = mono_ns % 1000000000LL};

    if (mono_ns <= 0) {
        return;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

int64_t mb_silent_ns(int baud)
{
    /* Modbus over Serial Line V1.02, 2.5.1.1: frames are separated by at
     * least 3.5 character times; a character is 11 bits (start, 8 data,
     * parity or a second stop, stop).  Above 19200 baud the interval is
     * fixed at 1.750 ms. */
    if (baud <= 0 || baud > 19200) {
        return 1750000;
    }
    return (int64_t) (3.5 * 11.0 * 1e9 / baud + 0.5);
}

int mb_errno_to_rc(int err, uint8_t *exception)
{
    if (err > MODBUS_ENOBASE && err <= EMBXGTAR) {
        if (exception) {
            *exception = (uint8_t) (err - MODBUS_ENOBASE);
        }
        return -PQ_EREFUSED;
    }
    switch (err) {
    case EMBBADCRC:
    case EMBBADDATA:
    case EMBBADEXC:
    case EMBUNKEXC:
    case EMBMDATA:
    case EMBBADSLAVE:
        return -PQ_EFRAME;
    case 0:
        return -EIO; /* libmodbus failed without saying why */
    default:
        return -err;
    }
}

uint16_t mb_crc16(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc & 1) ? (uint16_t) ((crc >> 1) ^ 0xA001) : (uint16_t) (crc >> 1);
        }
    }
    return crc;
}

int mb_devid_parse(const uint8_t *pdu, size_t len, char out[3][64], int *more, int *next)
{
    size_t pos = 7;
    int nobj;

    /* Modbus Application Protocol V1.1b3, 6.21: 0x2B 0x0E code conformity
     * more-follows next-object-id number-of-objects {id length value}... */
    if (len < 7 || pdu[0] != 0x2B || pdu[1] != 0x0E) {
        return -PQ_EFRAME;
    }
    *more = pdu[4] == 0xFF;
    *next = pdu[5];
    nobj = pdu[6];
    for (int i = 0; i < nobj; i++) {
        int id, n;

        if (pos + 2 > len) {
            return -PQ_EFRAME;
        }
        id = pdu[pos];
        n = pdu[pos + 1];
        if (pos + 2 + (size_t) n > len) {
            return -PQ_EFRAME;
        }
        if (id <= 2) {
            size_t c = (size_t) n < 63 ? (size_t) n : 63;

            memcpy(out[id], pdu + pos + 2, c);
            out[id][c] = '\0';
        }
        pos += 2 + (size_t) n;
    }
    return pos == len ? 0 : -PQ_EFRAME;
}

int mb_link_open(const struct mb_port_cfg *cfg, struct mb_link **out)
{
    struct mb_link *l;
    int rc;

    if (!cfg || cfg->kind < 0 ||
        (size_t) cfg->kind >= sizeof(backends) / sizeof(*backends)) {
        return -EINVAL;
    }
    l = calloc(1, sizeof(*l));
    if (!l) {
        return -ENOMEM;
    }
    l->ops = backends[cfg->kind];
    l->kind = cfg->kind;
    l->priv = calloc(1, l->ops->priv_size ? l->ops->priv_size : 1);
    if (!l->priv) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = l->ops->open(l, cfg);
    if (rc < 0) {
        goto fail;
    }
    *out = l;
    return 0;

fail:
    free(l->priv);
    free(l);
    return rc;
}

void mb_link_close(struct mb_link *l)
{
    if (!l) {
        return;
    }
    if (l->connected) {
        l->ops->disconnect(l);
    }
    l->ops->close(l);
    free(l->priv);
    free(l);
}

int mb_link_connect(struct mb_link *l)
{
    int64_t now;
    int rc;

    if (l->connected) {
        return 0;
    }
    now = mb_mono_ns();
    if (now < l->retry_at_ns) {
        return l->open_err;
    }
    rc = l->ops->connect(l);
    now = mb_mono_ns();
    if (rc < 0) {
        l->open_err = rc;
        l->retry_ns = l->retry_ns ? l->retry_ns * 2 : RETRY_MIN_NS;
        if (l->retry_ns > RETRY_MAX_NS) {
            l->retry_ns = RETRY_MAX_NS;
        }
        l->retry_at_ns = now + l->retry_ns;
        return rc;
    }
    l->connected = 1;
    l->open_err = 0;
    l->retry_ns = 0;
    if (l->quiet_until_ns < now + l->warmup_ns) {
        l->quiet_until_ns = now + l->warmup_ns; /* a fresh peer's warm-up */
    }
    return 0;
}

void mb_link_hold(struct mb_link *l, int64_t ns)
{
    int64_t until = mb_mono_ns() + ns;

    if (ns > 0 && l->quiet_until_ns < until) {
        l->quiet_until_ns = until;
    }
}

int mb_link_error(const struct mb_link *l)
{
    return l->connected ? l->warning : l->open_err;
}

static int begin(struct mb_link *l)
{
    int rc = mb_link_connect(l);

    if (rc < 0) {
        return rc;
    }
    mb_sleep_until(l->quiet_until_ns);
    return 0;
}

static void end(struct mb_link *l, int rc)
{
    /* The silent interval counts from the end of the last frame on the
     * line: the answer just read, or our request when none came. */
    int64_t until = mb_mono_ns() + l->silent_ns;

    if (l->quiet_until_ns < until) {
        l->quiet_until_ns = until;
    }
    if (rc < 0 && rc != -PQ_EREFUSED && l->ops->recover(l, rc)) {
        l->ops->disconnect(l);
        l->connected = 0;
        l->open_err = rc;
        l->retry_at_ns = 0; /* the first reopening is at once */
    }
}

int mb_link_read(struct mb_link *l, int unit, const struct mb_read *r, int64_t timeout_ns,
                 uint16_t *regs, uint8_t *bits, uint8_t *exception)
{
    int64_t t0;
    int rc;

    l->latency_ns = 0;
    rc = begin(l);
    if (rc < 0) {
        return rc;
    }
    t0 = mb_mono_ns();
    rc = l->ops->read(l, unit, r, timeout_ns, regs, bits, exception);
    l->latency_ns = mb_mono_ns() - t0;
    end(l, rc);
    return rc;
}

int mb_link_raw(struct mb_link *l, int unit, const uint8_t *pdu, size_t len,
                int64_t timeout_ns, uint8_t *ans, size_t cap, size_t *alen)
{
    int64_t t0;
    int rc;

    *alen = 0;
    l->latency_ns = 0;
    if (len < 1 || len > MB_PDU_MAX) {
        return -EINVAL;
    }
    rc = begin(l);
    if (rc < 0) {
        return rc;
    }
    t0 = mb_mono_ns();
    rc = l->ops->raw(l, unit, pdu, len, timeout_ns, ans, cap, alen);
    l->latency_ns = mb_mono_ns() - t0;
    end(l, rc);
    return rc;
}

/* ---- libmodbus transactions shared by rtu and tcp ---------------------- */

static void set_timeouts(modbus_t *mb, int64_t timeout_ns)
{
    int64_t us = timeout_ns / 1000;

    if (us < 1000) {
        us = 1000;
    }
    modbus_set_response_timeout(mb, (uint32_t) (us / 1000000), (uint32_t) (us % 1000000));
    modbus_set_byte_timeout(mb, (uint32_t) (us / 1000000), (uint32_t) (us % 1000000));
}

int mb_link_mb_read(struct mb_link *l, int unit, const struct mb_read *r,
                    int64_t timeout_ns, uint16_t *regs, uint8_t *bits, uint8_t *exception)
{
    int got;

    if (modbus_set_slave(l->mb, unit) == -1) {
        return -EINVAL;
    }
    set_timeouts(l->mb, timeout_ns);
    switch (r->fn) {
    case MB_FN_HOLDING:
        got = modbus_read_registers(l->mb, r->addr, r->count, regs);
        break;
    case MB_FN_INPUT:
        got = modbus_read_input_registers(l->mb, r->addr, r->count, regs);
        break;
    case MB_FN_COILS:
        got = modbus_read_bits(l->mb, r->addr, r->count, bits);
        break;
    case MB_FN_DISCRETE:
        got = modbus_read_input_bits(l->mb, r->addr, r->count, bits);
        break;
    default:
        return -EINVAL;
    }
    if (got == -1) {
        return mb_errno_to_rc(errno, exception);
    }
    return got == r->count ? 0 : -PQ_EFRAME;
}

/* Functions whose answers libmodbus 3.1.6 frames (modbus_receive_confirmation
 * computes their length from the function code). */
static int libmodbus_frames(uint8_t fn)
{
    switch (fn) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
    case 0x07:
    case 0x0F:
    case 0x10:
    case 0x11:
    case 0x16:
    case 0x17:
        return 1;
    default:
        return 0;
    }
}

/* RTU: the whole frame length once enough of it is known, or 0 when the
 * function gives no length (the frame then ends with the line falling
 * silent, Modbus over Serial Line V1.02, 2.5.1.1). */
static size_t rtu_need(const uint8_t *b, size_t have)
{
    size_t pos;

    if (have < 2) {
        return 2;
    }
    if (b[1] & 0x80) {
        return 5; /* unit, function, exception code, CRC */
    }
    if (b[1] == 0x08) {
        return 8; /* diagnostics: sub-function and data echo */
    }
    if (b[1] != 0x2B) {
        return 0;
    }
    /* 43/14: unit 2B 0E code conformity more next n {id len value}... CRC */
    if (have < 8) {
        return 8;
    }
    pos = 8;
    for (int i = 0; i < b[7]; i++) {
        if (have < pos + 2) {
            return pos + 2;
        }
        pos += 2 + b[pos + 1];
    }
    return pos + 2;
}

static int wait_readable(int fd, int64_t deadline_ns)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int64_t left = deadline_ns - mb_mono_ns();
    int rc;

    if (left <= 0) {
        return 0;
    }
    do {
        rc = poll(&pfd, 1, (int) ((left + 999999) / 1000000));
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : rc;
}

/* Our own reading of an answer whose length libmodbus cannot compute. */
static int read_frame(struct mb_link *l, int64_t timeout_ns, uint8_t *buf, size_t cap)
{
    int fd = modbus_get_socket(l->mb);
    int64_t deadline = mb_mono_ns() + timeout_ns;
    int64_t gap = l->silent_ns > 5000000 ? l->silent_ns : 5000000;
    size_t have = 0;
    int tcp = l->kind == MB_PORT_TCP;

    for (;;) {
        size_t need;
        ssize_t n;
        int rc;

        if (tcp) {
            need = have < 7 ? 7 : 6 + (((size_t) buf[4] << 8) | buf[5]);
        } else {
            need = rtu_need(buf, have);
        }
        if (need > cap) {
            return -PQ_EFRAME;
        }
        if (need && have >= need) {
            return (int) have;
        }
        if (!need && have == cap) {
            return -PQ_EFRAME; /* no silence within the longest ADU: a babbling line */
        }
        rc = wait_readable(fd, need || have == 0 ? deadline : mb_mono_ns() + gap);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            if (!need && have > 0) {
                return (int) have; /* the line fell silent: end of frame */
            }
            return have ? -PQ_EFRAME : -ETIMEDOUT;
        }
        n = read(fd, buf + have, need ? need - have : cap - have);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -ECONNRESET;
        }
        have += (size_t) n;
    }
}

int mb_link_mb_raw(struct mb_link *l, int unit, const uint8_t *pdu, size_t len,
                   int64_t timeout_ns, uint8_t *ans, size_t cap, size_t *alen)
{
    uint8_t req[MB_PDU_MAX + 1];
    uint8_t buf[MODBUS_MAX_ADU_LENGTH];
    int hdr = modbus_get_header_length(l->mb);
    int crc = l->kind == MB_PORT_RTU ? 2 : 0;
    int got;
    size_t n;

    /* the unit id goes out from req[0]; libmodbus's own idea of it only
     * filters RTU answers */
    if (modbus_set_slave(l->mb, unit) == -1 && l->kind == MB_PORT_RTU) {
        return -EINVAL;
    }
    set_timeouts(l->mb, timeout_ns);
    req[0] = (uint8_t) unit;
    memcpy(req + 1, pdu, len);
    if (modbus_send_raw_request(l->mb, req, (int) len + 1) == -1) {
        return mb_errno_to_rc(errno, NULL);
    }
    if (unit == 0 && l->kind == MB_PORT_RTU) {
        return 0; /* broadcast: no answer (Serial Line V1.02, 2.1) */
    }
    if (libmodbus_frames(pdu[0])) {
        got = modbus_receive_confirmation(l->mb, buf);
        if (got == -1) {
            return mb_errno_to_rc(errno, NULL);
        }
    } else {
        got = read_frame(l, timeout_ns, buf, sizeof(buf));
        if (got < 0) {
            return got;
        }
        if (crc && (got < 4 || mb_crc16(buf, (size_t) got - 2) !=
                                   (buf[got - 2] | (buf[got - 1] << 8)))) {
            return -PQ_EFRAME;
        }
    }
    if (got < hdr + 1 + crc || buf[hdr - 1] != (uint8_t) unit) {
        return -PQ_EFRAME;
    }
    n = (size_t) (got - hdr - crc);
    if ((buf[hdr] & 0x7F) != pdu[0] || ((buf[hdr] & 0x80) && n != 2) || n > cap) {
        return -PQ_EFRAME;
    }
    memcpy(ans, buf + hdr, n);
    *alen = n;
    return 0;
}
