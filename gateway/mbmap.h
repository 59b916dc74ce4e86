/* mbmap.h - the gateway's own Modbus register map: which register holds
 * which channel, and how its value is encoded.
 *
 * The map is one table (gateway/mbmap.c) of fixed groups, like a PM8000's
 * map: a contiguous block per group (voltages, currents, powers, ...), each
 * starting with a quality register, then the values as float32 (2
 * registers, most significant word first) or energies as int64 Wh (4
 * registers, most significant word first).  After the local meter's groups
 * come the downstream devices: device d (0-based, in config order: the
 * serial buses' devices, then the TCP peers') has a block at
 * MBMAP_DEV_BASE + MBMAP_DEV_STRIDE * d holding its quality, its number of
 * channels and up to MBMAP_DEV_VALUES float32 values of its channels in the
 * order they were registered on the channel bus (profile order; the
 * master's "<prefix>health/..." figures are left out).
 * `pqgate help modbus-map` prints the table (docs/modbus-map.md holds it).
 *
 * Addresses are 0-based protocol addresses, as on the wire (Modbus
 * Application Protocol V1.1b3 4.4: register N of the data model is
 * addressed as N-1; here the documented address is the one sent).
 *
 * Values come from bus_get() at read time.  A value that is not there (no
 * such channel, never published, or flagged BUS_Q_INVALID) reads as NaN
 * (0x7FC0 0x0000), an energy as INT64_MIN (0x8000 0 0 0); the group's
 * quality register is the OR of the bus quality bits (gateway/bus.h) of its
 * values, so it says why.
 *
 * Threads: one map belongs to one thread (the Modbus server's); the bus it
 * reads is thread-safe.  Pure apart from bus reads: no I/O, no logging.
 */
#ifndef PQGATE_MBMAP_H
#define PQGATE_MBMAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MBMAP_VERSION    1     /* register 0: bumped when an address moves */
#define MBMAP_DEV_BASE   10000 /* address of device 0's block */
#define MBMAP_DEV_STRIDE 200   /* registers per device block */
#define MBMAP_DEV_VALUES 99    /* float32 values per device block */
#define MBMAP_DEV_MAX    277   /* blocks that fit below address 65536 */
#define MBMAP_MAX_READ   125   /* registers per read (MODBUS 6.3 / 6.4) */
#define MBMAP_MAX_PREFIX 96

/* Modbus exception codes (Modbus Application Protocol V1.1b3, 7). */
enum mb_exception {
    MB_EX_ILLEGAL_FUNCTION = 0x01,
    MB_EX_ILLEGAL_ADDRESS = 0x02,
    MB_EX_ILLEGAL_VALUE = 0x03,
    MB_EX_DEVICE_FAILURE = 0x04,
    MB_EX_BUSY = 0x06,
    MB_EX_GW_PATH = 0x0A,   /* gateway path unavailable */
    MB_EX_GW_TARGET = 0x0B, /* gateway target device failed to respond */
};

struct bus;
struct mbmap; /* opaque */

/* A map over bus for the devices whose channel prefixes ("bus1.dev7/") are
 * given in device-index order; prefixes are copied.  Devices past
 * MBMAP_DEV_MAX get no block (mbmap_devices() says how many did).  Returns
 * 0 and the map in *out (release with mbmap_free()), -EINVAL or -ENOMEM. */
int mbmap_new(const struct bus *b, const char *const *prefixes, size_t ndev,
              struct mbmap **out);
void mbmap_free(struct mbmap *m); /* NULL is a no-op */

/* Devices with a block, and how many channels of device d did not fit its
 * block (beyond MBMAP_DEV_VALUES). */
size_t mbmap_devices(const struct mbmap *m);
size_t mbmap_dev_dropped(const struct mbmap *m, size_t d);

/* Pick up channels registered on the bus since the last call (a device
 * whose channels appear later, a meter started after the server).  Cheap
 * when nothing is new; called by mbmap_read(). */
void mbmap_refresh(struct mbmap *m);

/* Encode count registers from addr into dst.  Returns 0, or a Modbus
 * exception code: MB_EX_ILLEGAL_VALUE for count outside 1..125,
 * MB_EX_ILLEGAL_ADDRESS when any register of the span is not in the map. */
int mbmap_read(struct mbmap *m, int addr, int count, uint16_t *dst);

/* Encodings: IEEE 754 binary32, most significant word first (NaN ->
 * 0x7FC0 0x0000); a signed 64-bit integer of round(v * scale), most
 * significant word first (NaN or out of range -> INT64_MIN). */
void mbmap_put_f32(double v, uint16_t w[2]);
void mbmap_put_i64(double v, double scale, uint16_t w[4]);

/* Address of the register that holds channel name in the local groups
 * (the first of its words), its type ('f' float32, 'e' int64) into *type,
 * or -1 if the map has no such channel.  For tests and tools. */
int mbmap_local_addr(const char *channel, char *type);

/* Base address of device d's block (d < MBMAP_DEV_MAX), or -1. */
int mbmap_dev_base(size_t d);

/* The documented table, Markdown (docs/modbus-map.md holds it). */
void mbmap_print_doc(FILE *f);

/* The device blocks for a config: one row per device prefix with its index,
 * unit id and base address. */
void mbmap_print_devices(FILE *f, const char *const *prefixes, const int *units,
                         size_t ndev);

#endif
