/* profile.h - device profiles as data: what a Modbus device's registers mean.
 *
 * A profile (config/profiles/<name>.yaml, docs/profiles.md) is a list of
 * points: where a value lives (function, address, type, word and byte
 * order), how it becomes an engineering value (a constant scale, or a
 * SunSpec scale-factor register, and an offset), its unit and the channel it
 * becomes ("<port>.<device>/<channel>").  Energy points may be counters.
 *
 * This header is plain data, filled by cfg_profile_parse() (or built in C by
 * drivers/modbus/mb_sunspec.c); the functions that use it (decode, counters,
 * planning) are in drivers/modbus/mb_profile.h.  A loaded profile is
 * immutable; release it with cfg_profile_free() (= mb_profile_free()).
 */
#ifndef PQGATE_PROFILE_H
#define PQGATE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

struct cfg_diag;
struct cfg_schema;

/* Modbus function codes a point is read with (Modbus Application Protocol
 * V1.1b3, 6.1-6.4); the same numbers as enum mb_fn in mb_port.h. */
enum profile_fn {
    PROFILE_FN_COILS = 1,
    PROFILE_FN_DISCRETE = 2,
    PROFILE_FN_HOLDING = 3,
    PROFILE_FN_INPUT = 4,
};

enum mb_type {
    MB_T_INT16,
    MB_T_UINT16,
    MB_T_INT32,
    MB_T_UINT32,
    MB_T_INT64,
    MB_T_UINT64,
    MB_T_FLOAT32,
    MB_T_FLOAT64,
    MB_T_BITS,   /* bit field: bit..bit+nbits-1 of one register, unsigned */
    MB_T_STRING, /* count registers of ASCII, 2 characters each, high byte first */
    MB_T_BOOL,   /* a coil or discrete input */
};

/* Word order (registers of a 32/64-bit value) and byte order (within a
 * register).  Modbus itself is big-endian in both (MB Application Protocol
 * 4.2: "big-Endian representation for addresses and data items"). */
enum mb_word_order {
    MB_WORDS_BIG,    /* most significant register first (ABCD) */
    MB_WORDS_LITTLE, /* least significant register first (CDAB) */
};

enum mb_byte_order {
    MB_BYTES_BIG,     /* high byte first, as the protocol says */
    MB_BYTES_SWAPPED, /* low byte first in every register (BADC) */
};

/* Which raw patterns mean "not implemented". */
enum mb_na {
    MB_NA_NONE,    /* only a float NaN */
    MB_NA_SUNSPEC, /* SunSpec: int16 0x8000, uint16 0xFFFF, acc 0, ... */
};

struct mb_point {
    char *channel; /* "u_rms/a", relative to the device's prefix */
    char *unit;    /* "V", "kWh", "" */
    int fn;        /* enum profile_fn (= enum mb_fn) */
    int addr;      /* 0-based protocol address */
    int type;      /* enum mb_type */
    int count;     /* registers (or bits) it spans: 1, 2, 4, or length / 2 rounded up */
    int words, bytes; /* enum mb_word_order, enum mb_byte_order */
    int bit, nbits;   /* MB_T_BITS */
    int length;       /* MB_T_STRING: characters */
    double scale;     /* value = raw * scale * 10^sf + offset */
    int sf_addr;      /* SunSpec scale-factor register (int16, same fn); -1: none */
    double offset;
    int counter;      /* 1: an energy counter (mb_counter_feed()) */
    int counter_bits; /* counter: raw width it wraps at (1..64); 0: never wraps */
    double max_step;  /* counter: largest credible increase per second,
                         engineering units; 0: no limit */
    int na;           /* enum mb_na */
};

struct mb_profile {
    char *name;   /* "eastron-sdm630" */
    char *source; /* where the register map comes from (document, revision) */
    int max_regs; /* longest read the device accepts: 1..125; 0: 125 */
    int max_gap;  /* unused registers a read may span to save a request; < 0: 16 */
    int no_cross; /* reads never cross a multiple of this address; 0: any */
    struct mb_point *points;
    size_t npoints;
};

/* Parse the profile YAML text buf[0..len); name names it in messages
 * ("eastron-sdm630.yaml").  Returns 0 and the profile in *out (release with
 * cfg_profile_free()), -PQ_ECONFIG with every error in diag as
 * "FILE:LINE:COL: key.path: message" and *out untouched, or -ENOMEM. */
int cfg_profile_parse(const char *name, const char *buf, size_t len,
                      struct mb_profile **out, struct cfg_diag *diag);

/* The same for the file at path. */
int cfg_profile_load(const char *path, struct mb_profile **out, struct cfg_diag *diag);

/* Find "<name>.yaml" in, in order: the directory of config_path +
 * "/profiles" (config_path may be NULL), PQGATE_SYSCONFDIR "/pqgate/profiles",
 * PQGATE_DATADIR "/profiles" (the installed profiles) and "config/profiles"
 * under the working directory (a source checkout).  name is a plain name
 * (letters, digits, '_', '-', '.'; no '/').  Returns 0 with the path in out,
 * -EINVAL for a bad name, -ENAMETOOLONG, or -PQ_ENOTFOUND. */
int cfg_profile_path(const char *name, const char *config_path, char *out, size_t cap);

void cfg_profile_free(struct mb_profile *prof); /* NULL: no-op */

/* The schema of a profile file (for cfg_schema_selftest() and
 * cfg_print_reference(); docs/profiles.md holds its reference). */
extern const struct cfg_schema cfg_profile_schema;

/* 1 if s is a valid channel name inside a device: the rules of
 * bus_name_valid() (segments of [A-Za-z0-9_.-] separated by single '/'), at
 * most PROFILE_CHANNEL_MAX bytes so that "<bus>.<device>/" + it fits a bus
 * name. */
#define PROFILE_CHANNEL_MAX 29 /* BUS_NAME_MAX 96 - NUL - "<32>.<32>/" */
int cfg_profile_channel_valid(const char *s);

#endif
