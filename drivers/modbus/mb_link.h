/* mb_link.h - one Modbus link (a serial bus or a TCP connection): single
 * transactions with our own timing around libmodbus.
 *
 * Backends (mb_link_impl.h): "rtu" (mb_rtu.c), "tcp" (mb_tcp.c) and "fake"
 * (mb_fake.c, scripted devices for tests); cfg->kind picks one.  A link
 * belongs to one thread (its port's, or mb_port_scan's caller); nothing
 * here locks.  Every call returns 0 or a negative code converted where it
 * entered: -PQ_EREFUSED (the device answered with an exception; code in
 * *exception), -PQ_EFRAME (bad CRC, short or malformed answer),
 * -ETIMEDOUT, or -errno of the link.
 *
 * Timing: before each frame the link waits until the line has been quiet
 * for the silent interval since the end of the last frame (RTU; Modbus over
 * Serial Line V1.02, 2.5.1.1) and for any turnaround asked with
 * mb_link_hold().  A link that failed (TCP reset or timeout, serial port
 * gone) is reopened before the next transaction, at most once per retry
 * period (doubling from 100 ms to 10 s); inside that period a transaction
 * fails at once with the last opening error.
 */
#ifndef PQGATE_MB_LINK_H
#define PQGATE_MB_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/modbus/mb_port.h"

struct mb_link;

/* Build the link for cfg (no I/O yet).  0 and *out, -EINVAL, -ENOMEM. */
int mb_link_open(const struct mb_port_cfg *cfg, struct mb_link **out);

void mb_link_close(struct mb_link *l); /* NULL is a no-op */

/* Open the link if it is not open (rate-limited as above), then wait the
 * warm-up of a fresh TCP connection.  0 or the opening error. */
int mb_link_connect(struct mb_link *l);

/* Read r from unit: registers into regs (r->count of them) or bits into
 * bits (one byte 0/1 each).  timeout_ns bounds the wait for the answer. */
int mb_link_read(struct mb_link *l, int unit, const struct mb_read *r, int64_t timeout_ns,
                 uint16_t *regs, uint8_t *bits, uint8_t *exception);

/* Send pdu (function code and data) to unit and copy the answer PDU (an
 * exception answer too: function | 0x80, code) into ans (cap bytes), its
 * length in *alen.  Unit 0 (broadcast) waits for no answer: *alen = 0. */
int mb_link_raw(struct mb_link *l, int unit, const uint8_t *pdu, size_t len,
                int64_t timeout_ns, uint8_t *ans, size_t cap, size_t *alen);

/* Keep the line quiet for ns more from now (a device's turnaround). */
void mb_link_hold(struct mb_link *l, int64_t ns);

/* 0, the last opening error while the link is not open, or a non-fatal
 * warning (-ENOTSUP: RS-485 mode refused) while it is. */
int mb_link_error(const struct mb_link *l);

/* The RTU silent interval at baud: 3.5 characters of 11 bits, or 1.75 ms
 * above 19200 baud (Modbus over Serial Line V1.02, 2.5.1.1). */
int64_t mb_silent_ns(int baud);

/* libmodbus's errno to our code: EMBX* -> -PQ_EREFUSED (code in
 * *exception), EMBBADCRC/EMBBADDATA/EMBBADEXC/EMBMDATA/EMBUNKEXC/
 * EMBBADSLAVE -> -PQ_EFRAME, ETIMEDOUT kept, others -errno. */
int mb_errno_to_rc(int err, uint8_t *exception);

/* CRC-16 of an RTU frame (Modbus over Serial Line V1.02, 6.2.2): poly
 * 0xA001 reflected, initial 0xFFFF; sent low byte first. */
uint16_t mb_crc16(const uint8_t *buf, size_t len);

/* Parse a read-device-identification answer PDU (function 43, MEI 14;
 * Modbus Application Protocol V1.1b3, 6.21): copy objects 0..2 (vendor,
 * product code, revision) found in it into out[id] (cap bytes each, NUL
 * terminated).  *more and *next receive "more follows" and the next object
 * id.  0 or -PQ_EFRAME. */
int mb_devid_parse(const uint8_t *pdu, size_t len, char out[3][64], int *more, int *next);

#endif
