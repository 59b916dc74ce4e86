/* mb_profile.h - device profiles: what a device's registers mean.
 *
 * A profile (config/profiles/<name>.yaml, loaded by config/cfg_profile.c) is
 * a list of points: where a value lives (function, address, type, word and
 * byte order), how it becomes an engineering value (scale, or a SunSpec
 * scale-factor register, and offset), its unit and the channel it becomes
 * ("<port>.<device>/<channel>").  Energy points may be counters: their
 * decreases are classified (rollover, device reset, meter exchange, glitch)
 * so no negative or absurd delta reaches a channel.
 *
 * Plain data and pure functions: no I/O, no threads, no logging.
 */
#ifndef PQGATE_MB_PROFILE_H
#define PQGATE_MB_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/modbus/mb_port.h"

enum mb_type {
    MB_T_INT16,
    MB_T_UINT16,
    MB_T_INT32,
    MB_T_UINT32,
    MB_T_INT64,
    MB_T_UINT64,
    MB_T_FLOAT32,
    MB_T_FLOAT64,
    MB_T_BITS,   /* bit field: bit..bit+nbits-1 of one register */
    MB_T_STRING, /* count registers of ASCII, 2 characters each */
    MB_T_BOOL,   /* a coil or discrete input */
};

/* Word order (registers of a 32/64-bit value) and byte order (within a
 * register).  Modbus itself is big-endian in both. */
enum mb_word_order {
    MB_WORDS_BIG,    /* most significant register first (ABCD) */
    MB_WORDS_LITTLE, /* least significant register first (CDAB) */
};

enum mb_byte_order {
    MB_BYTES_BIG, /* high byte first, as the protocol says */
    MB_BYTES_SWAPPED,
};

struct mb_point {
    char *channel;    /* "u_rms/a", relative to the device's prefix */
    char *unit;       /* "V", "kWh", "" */
    int fn;           /* enum mb_fn */
    int addr;         /* 0-based protocol address */
    int type;         /* enum mb_type */
    int count;        /* registers it spans (1, 2, 4, or the string length / 2) */
    int words, bytes; /* enum mb_word_order, enum mb_byte_order */
    int bit, nbits;   /* MB_T_BITS */
    double scale;     /* value = raw * scale * 10^sf + offset */
    int sf_addr;      /* SunSpec scale-factor register (int16, same fn); -1: none */
    double offset;
    int counter_bits; /* energy counter: declared width in bits (16..64); 0: not a counter
                       */
    double max_step;  /* counter: largest credible increase per second; 0: no limit */
    double nan_raw_set; /* non-zero: a "not implemented" raw pattern is honoured */
};

struct mb_profile {
    char *name;   /* "eastron-sdm630" */
    char *source; /* where the register map comes from (manual, revision) */
    int max_regs; /* longest read the device accepts; 0: 125 */
    int max_gap;  /* registers of a gap a read may span; -1: the device's default (16) */
    int no_cross; /* reads must not cross a multiple of this address; 0: any */
    struct mb_point *points;
    size_t npoints;
};

/* Quality of a decoded value (maps onto enum bus_quality in the gateway). */
enum mb_value_quality {
    MB_Q_GOOD,
    MB_Q_COMM_FAIL,   /* the read failed */
    MB_Q_NOT_IMPL,    /* the device says "not implemented" (SunSpec 0x8000 ...) */
    MB_Q_SUBSTITUTED, /* counter: a decrease was classified; last good total kept */
};

/* Decode point p from the registers of the reads that hold it.  res/n are
 * a cycle's results (mb_port.h).  Returns 0 and *value, *q; or a negative
 * code when no read of the cycle covers p (a planning bug). */
int mb_point_decode(const struct mb_point *p, const struct mb_read_result *res, size_t n,
                    double *value, int *q);

/* Counter state of one energy point across cycles. */
enum mb_counter_event {
    MB_COUNTER_OK,
    MB_COUNTER_ROLLOVER, /* wrapped at 2^counter_bits: delta taken across the wrap */
    MB_COUNTER_RESET,    /* fell to near zero: device reset, total continues from it */
    MB_COUNTER_EXCHANGE, /* a different meter: new base, no delta */
    MB_COUNTER_GLITCH,   /* one absurd value, ignored; last good kept */
};

struct mb_counter {
    int primed;
    double last_raw; /* last good raw reading, engineering units */
    double total;    /* continuous total handed to the channel */
    int64_t last_ns;
};

/* Feed a new reading; returns an enum mb_counter_event and updates c->total
 * so that it never decreases and never jumps by more than the point allows. */
int mb_counter_feed(struct mb_counter *c, const struct mb_point *p, double reading,
                    int64_t t_ns);

/* Planning: coalesce the points of a profile into the fewest legal reads
 * (<= max_regs registers, gaps <= max_gap, not crossing no_cross).
 * Writes up to cap reads to out and returns how many are needed (> cap:
 * nothing useful written), or a negative code. */
int mb_plan(const struct mb_profile *prof, struct mb_read *out, size_t cap);

/* The fewest registers the points need (sum over distinct registers): the
 * denominator of the benchmark's "sent / minimum" ratio. */
size_t mb_plan_min_regs(const struct mb_profile *prof);

void mb_profile_free(struct mb_profile *prof); /* NULL: no-op */

#endif
