/* cfg_profile.c - device profile files (config/profiles/<name>.yaml).
 *
 * The file is loaded with the same table-driven schema as the daemon's
 * config (config/schema.h), so every error is "FILE:LINE:COL: key.path:
 * message" with did-you-mean hints.  The schema fills a struct shaped like
 * the YAML (struct prof_yaml); its check hooks resolve each point (address
 * or Modicon register number, type, count) and apply the rules across
 * points, all reported at the YAML node that caused them.  Only a file
 * without errors is converted to the struct mb_profile of config/profile.h.
 * docs/profiles.md documents every key.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/names.h"
#include "config/profile.h"
#include "config/schema.h"
#include "pq/err.h"

#ifndef PQGATE_DATADIR
#define PQGATE_DATADIR "/usr/local/share/pqgate"
#endif
#ifndef PQGATE_SYSCONFDIR
#define PQGATE_SYSCONFDIR "/etc"
#endif

/* "not given": keys whose every value is meaningful need a marker */
#define UNSET     INT_MIN
#define UNSET_TXT "-2147483648"

struct counter_yaml {
    int bits;
    double max_step;
};

struct point_yaml {
    char *channel;
    char *unit;
    int function; /* index into fn_names */
    int address;
    int reg;
    int type; /* enum mb_type = index into type_names */
    int words, bytes;
    int bit, nbits, length;
    double scale;
    int scale_factor;
    double offset;
    struct counter_yaml counter;
    /* resolved by check_point (not in the schema) */
    int ok;
    int fn, addr, count;
};

struct prof_yaml {
    char *name;
    char *source;
    int max_regs, max_gap, no_cross;
    int na;
    struct cfg_list points; /* struct point_yaml */
};

static const char *const fn_names[] = {"holding", "input", "coil", "discrete", NULL};
static const int fn_codes[] = {PROFILE_FN_HOLDING, PROFILE_FN_INPUT, PROFILE_FN_COILS,
                               PROFILE_FN_DISCRETE};
/* order = enum mb_type */
static const char *const type_names[] = {"int16", "uint16", "int32",   "uint32",
                                         "int64", "uint64", "float32", "float64",
                                         "bits",  "string", "bool",    NULL};
static const char *const words_names[] = {"big", "little", NULL};
static const char *const bytes_names[] = {"big", "swapped", NULL};
static const char *const na_names[] = {"none", "sunspec", NULL};

int cfg_profile_channel_valid(const char *s)
{
    return names_channel_valid(s, strlen(s), PROFILE_CHANNEL_MAX);
}

static const char *valid_channel(const void *v)
{
    return cfg_profile_channel_valid(*(char *const *) v)
               ? NULL
               : "a channel name of 1 to 29 letters, digits, '_', '.' or '-' in segments "
                 "separated by '/'";
}

static const char *valid_profile_name(const void *v)
{
    const char *s = *(char *const *) v;
    size_t len = strlen(s);

    if (len == 0 || len > 64 || s[0] == '.' ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            len) {
        return "a name of 1 to 64 letters, digits, '_', '.' or '-'";
    }
    return NULL;
}

static const char *valid_unit(const void *v)
{
    const char *s = *(char *const *) v;

    for (; *s; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return "a unit of up to 15 printable characters";
        }
    }
    return NULL;
}

/* Words each type takes; 0 for bits/strings (computed). */
static int type_count(int type, int length)
{
    switch (type) {
    case MB_T_INT32:
    case MB_T_UINT32:
    case MB_T_FLOAT32:
        return 2;
    case MB_T_INT64:
    case MB_T_UINT64:
    case MB_T_FLOAT64:
        return 4;
    case MB_T_STRING:
        return (length + 1) / 2;
    default:
        return 1;
    }
}

static int type_bits(int type)
{
    switch (type) {
    case MB_T_INT16:
    case MB_T_UINT16:
        return 16;
    case MB_T_INT32:
    case MB_T_UINT32:
        return 32;
    case MB_T_INT64:
    case MB_T_UINT64:
        return 64;
    default:
        return 0;
    }
}

/* Modicon reference numbers (Modicon Modbus Protocol Reference Guide
 * PI-MBUS-300 rev. J, ch. 2 "Data Addresses in Modbus Messages": reference
 * 40001 is addressed as holding register 0000): 0xxxx coils, 1xxxx
 * discrete inputs, 3xxxx input registers, 4xxxx holding registers, 1-based,
 * with 5 digits (x = 0001..9999) or 6 (x = 00001..65536). */
static int parse_register(int r, int *fn, int *addr)
{
    static const struct {
        int base5, base6, fn;
    } ranges[] = {
        {0, 0, PROFILE_FN_COILS},
        {10000, 100000, PROFILE_FN_DISCRETE},
        {30000, 300000, PROFILE_FN_INPUT},
        {40000, 400000, PROFILE_FN_HOLDING},
    };

    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (r > ranges[i].base5 && r <= ranges[i].base5 + 9999) {
            *fn = ranges[i].fn;
            *addr = r - ranges[i].base5 - 1;
            return 0;
        }
        if (ranges[i].base6 && r > ranges[i].base6 && r <= ranges[i].base6 + 65536) {
            *fn = ranges[i].fn;
            *addr = r - ranges[i].base6 - 1;
            return 0;
        }
    }
    return -1;
}

static void check_counter(struct cfg_ctx *ctx, struct point_yaml *p)
{
    int width = type_bits(p->type);
    int is_float = p->type == MB_T_FLOAT32 || p->type == MB_T_FLOAT64;

    if (p->counter.bits == UNSET) {
        return;
    }
    if (!width && !is_float) {
        cfg_error_at(ctx, &p->counter.bits,
                     "a counter must be an integer or float type, not %s",
                     type_names[p->type]);
        p->ok = 0;
    } else if (is_float && p->counter.bits != 0) {
        cfg_error_at(
            ctx, &p->counter.bits,
            "a float counter does not wrap: expected 0 (or leave bits out), got %d",
            p->counter.bits);
        p->ok = 0;
    } else if (!is_float && (p->counter.bits < 1 || p->counter.bits > width)) {
        cfg_error_at(ctx, &p->counter.bits,
                     "expected a counter width of 1..%d bits for %s, got %d", width,
                     type_names[p->type], p->counter.bits);
        p->ok = 0;
    } else if (!(p->counter.max_step > 0)) {
        /* without a rate limit a single reading near zero would pass for a
         * device reset and the next good one would count the whole total
         * again: an absurd delta (issue: none may reach a channel) */
        cfg_error_at(ctx, &p->counter.bits,
                     "a counter needs max_step, the largest credible increase per "
                     "second, to tell a glitch from a device reset");
        p->ok = 0;
    }
}

static void resolve_address(struct cfg_ctx *ctx, struct point_yaml *p)
{
    int given_fn = fn_codes[p->function];

    p->fn = given_fn;
    if (p->address != UNSET && p->reg != UNSET) {
        cfg_error_at(ctx, &p->reg, "give address or register, not both");
        p->ok = 0;
        return;
    }
    if (p->address == UNSET && p->reg == UNSET) {
        /* &p->ok is no field: the error lands on the point itself */
        cfg_error_at(ctx, &p->ok, "missing required key 'address' (or 'register')");
        p->ok = 0;
        return;
    }
    if (p->address != UNSET) {
        if (p->address < 0 || p->address > 65535) {
            cfg_error_at(ctx, &p->address, "expected an address in 0..65535, got %d",
                         p->address);
            p->ok = 0;
            return;
        }
        p->addr = p->address;
        return;
    }
    if (parse_register(p->reg, &p->fn, &p->addr) < 0) {
        cfg_error_at(
            ctx, &p->reg,
            "expected a register number like 40001 (4xxxx holding, 3xxxx input, "
            "1xxxx discrete, 0xxxx coil; 6 digits for addresses past 9999), got %d",
            p->reg);
        p->ok = 0;
        return;
    }
    /* function defaults to holding: a different one given must agree */
    if (given_fn != PROFILE_FN_HOLDING && given_fn != p->fn) {
        cfg_error_at(ctx, &p->function,
                     "function %s disagrees with register %d (leave function out)",
                     fn_names[p->function], p->reg);
        p->ok = 0;
    }
}

static void check_type(struct cfg_ctx *ctx, struct point_yaml *p)
{
    int bitfn = p->fn == PROFILE_FN_COILS || p->fn == PROFILE_FN_DISCRETE;

    if (bitfn != (p->type == MB_T_BOOL)) {
        cfg_error_at(ctx, &p->type,
                     bitfn ? "coils and discrete inputs hold type bool, got %s"
                           : "type %s needs a coil or discrete input (function coil or "
                             "discrete)",
                     type_names[p->type]);
        p->ok = 0;
        return;
    }
    if (p->type == MB_T_BITS && p->bit + p->nbits > 16) {
        cfg_error_at(ctx, &p->nbits, "bits %d..%d do not fit one 16-bit register", p->bit,
                     p->bit + p->nbits - 1);
        p->ok = 0;
    }
    if (p->type == MB_T_STRING && p->length == 0) {
        cfg_error_at(ctx, &p->length, "a string needs its length in characters");
        p->ok = 0;
    }
    if (p->type != MB_T_STRING && p->length != 0) {
        cfg_error_at(ctx, &p->length, "length applies to strings only");
        p->ok = 0;
    }
    if (p->scale == 0) {
        cfg_error_at(ctx, &p->scale, "a scale of 0 would hide every value");
        p->ok = 0;
    }
}

static void check_point(struct cfg_ctx *ctx, void *obj)
{
    struct point_yaml *p = obj;

    p->ok = 1;
    resolve_address(ctx, p);
    if (!p->ok) {
        return;
    }
    check_type(ctx, p);
    check_counter(ctx, p);
    p->count = type_count(p->type, p->length);
    if (p->ok && p->addr + p->count - 1 > 65535) {
        cfg_error_at(ctx, p->reg != UNSET ? (void *) &p->reg : (void *) &p->address,
                     "%s at %d runs past the last address 65535", type_names[p->type],
                     p->addr);
        p->ok = 0;
    }
    if (p->scale_factor != UNSET && (p->scale_factor < 0 || p->scale_factor > 65535)) {
        cfg_error_at(ctx, &p->scale_factor, "expected an address in 0..65535, got %d",
                     p->scale_factor);
        p->ok = 0;
    } else if (p->scale_factor != UNSET &&
               (p->type == MB_T_BOOL || p->type == MB_T_STRING ||
                p->fn == PROFILE_FN_COILS || p->fn == PROFILE_FN_DISCRETE)) {
        cfg_error_at(ctx, &p->scale_factor,
                     "a scale factor applies to numbers in registers");
        p->ok = 0;
    }
}

static const struct cfg_field counter_fields[] = {
    {.key = "bits",
     .type = CFG_INT,
     .offset = offsetof(struct counter_yaml, bits),
     .def = UNSET_TXT,
     .doc = "raw width the counter wraps at (default: the type's; 0 for floats)"},
    {.key = "max_step",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct counter_yaml, max_step),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 1e15,
     .def = "0",
     .doc = "largest credible increase per second, engineering units (required with "
            "bits: it tells a glitch from a device reset)"},
    {0},
};

static const struct cfg_schema counter_schema = {
    .name = "a counter",
    .size = sizeof(struct counter_yaml),
    .fields = counter_fields,
};

static const struct cfg_field point_fields[] = {
    {.key = "channel",
     .type = CFG_STRING,
     .offset = offsetof(struct point_yaml, channel),
     .flags = CFG_REQUIRED,
     .valid = valid_channel,
     .doc = "channel name under the device's prefix"},
    {.key = "unit",
     .type = CFG_STRING,
     .offset = offsetof(struct point_yaml, unit),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 15,
     .valid = valid_unit,
     .doc = "unit of the engineering value"},
    {.key = "function",
     .type = CFG_ENUM,
     .offset = offsetof(struct point_yaml, function),
     .def = "holding",
     .choices = fn_names,
     .doc = "register table"},
    {.key = "address",
     .type = CFG_INT,
     .offset = offsetof(struct point_yaml, address),
     .def = UNSET_TXT,
     .doc = "0-based protocol address"},
    {.key = "register",
     .type = CFG_INT,
     .offset = offsetof(struct point_yaml, reg),
     .def = UNSET_TXT,
     .doc = "1-based Modicon reference (40001 = holding address 0)"},
    {.key = "type",
     .type = CFG_ENUM,
     .offset = offsetof(struct point_yaml, type),
     .flags = CFG_REQUIRED,
     .choices = type_names,
     .doc = "data type"},
    {.key = "words",
     .type = CFG_ENUM,
     .offset = offsetof(struct point_yaml, words),
     .def = "big",
     .choices = words_names,
     .doc = "register order: big (high word first) or little"},
    {.key = "bytes",
     .type = CFG_ENUM,
     .offset = offsetof(struct point_yaml, bytes),
     .def = "big",
     .choices = bytes_names,
     .doc = "byte order in a register: big or swapped"},
    {.key = "bit",
     .type = CFG_INT,
     .offset = offsetof(struct point_yaml, bit),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 15,
     .def = "0",
     .doc = "bits: lowest bit of the field"},
    {.key = "nbits",
     .type = CFG_INT,
     .offset = offsetof(struct point_yaml, nbits),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 16,
     .def = "1",
     .doc = "bits: width of the field"},
    {.key = "length",
     .type = CFG_INT,
     .offset = offsetof(struct point_yaml, length),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 246,
     .def = "0",
     .doc = "string: characters (2 per register)"},
    {.key = "scale",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct point_yaml, scale),
     .def = "1",
     .doc = "multiplier of the raw value"},
    {.key = "scale_factor",
     .type = CFG_INT,
     .offset = offsetof(struct point_yaml, scale_factor),
     .def = UNSET_TXT,
     .doc = "address of a SunSpec int16 scale-factor register: value x 10^sf"},
    {.key = "offset",
     .type = CFG_DOUBLE,
     .offset = offsetof(struct point_yaml, offset),
     .def = "0",
     .doc = "added after scaling"},
    {.key = "counter",
     .type = CFG_STRUCT,
     .offset = offsetof(struct point_yaml, counter),
     .sub = &counter_schema,
     .doc = "energy counter: wrap width and credible rate"},
    {0},
};

static const struct cfg_schema point_schema = {
    .name = "a point",
    .size = sizeof(struct point_yaml),
    .fields = point_fields,
    .check = check_point,
};

static int spans_overlap(const struct point_yaml *a, const struct point_yaml *b)
{
    return a->fn == b->fn && a->addr < b->addr + b->count && b->addr < a->addr + a->count;
}

static void check_profile(struct cfg_ctx *ctx, void *obj)
{
    struct prof_yaml *y = obj;

    for (size_t i = 0; i < y->points.n; i++) {
        struct point_yaml *p = CFG_AT(y->points, struct point_yaml, i);
        int bitfn = p->fn == PROFILE_FN_COILS || p->fn == PROFILE_FN_DISCRETE;

        if (!p->ok) {
            continue;
        }
        if (!bitfn && p->count > y->max_regs) {
            cfg_error_at(ctx, &p->type, "%s spans %d registers, more than max_regs %d",
                         type_names[p->type], p->count, y->max_regs);
        }
        if (!bitfn && y->no_cross &&
            p->addr / y->no_cross != (p->addr + p->count - 1) / y->no_cross) {
            cfg_error_at(ctx, p->reg != UNSET ? (void *) &p->reg : (void *) &p->address,
                         "%s at %d crosses the no_cross boundary %d", type_names[p->type],
                         p->addr, (p->addr + p->count - 1) / y->no_cross * y->no_cross);
        }
        for (size_t j = 0; j < i; j++) {
            const struct point_yaml *q = CFG_AT(y->points, struct point_yaml, j);

            if (strcmp(p->channel, q->channel) == 0) {
                cfg_error_at(ctx, &p->channel,
                             "channel '%s' is already used by points[%zu]", p->channel,
                             j);
            }
            if (q->ok && spans_overlap(p, q) &&
                (p->addr != q->addr || p->count != q->count)) {
                cfg_error_at(
                    ctx, p->reg != UNSET ? (void *) &p->reg : (void *) &p->address,
                    "registers %d..%d overlap those of points[%zu] ('%s', %d..%d); "
                    "overlapping points must span the same registers",
                    p->addr, p->addr + p->count - 1, j, q->channel, q->addr,
                    q->addr + q->count - 1);
            }
        }
    }
}

static const struct cfg_field profile_fields[] = {
    {.key = "name",
     .type = CFG_STRING,
     .offset = offsetof(struct prof_yaml, name),
     .flags = CFG_REQUIRED,
     .valid = valid_profile_name,
     .doc = "profile name, as devices name it"},
    {.key = "source",
     .type = CFG_STRING,
     .offset = offsetof(struct prof_yaml, source),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = 512,
     .doc = "where the register map comes from: document and revision"},
    {.key = "max_regs",
     .type = CFG_INT,
     .offset = offsetof(struct prof_yaml, max_regs),
     .flags = CFG_RANGE,
     .min = 1,
     .max = 125,
     .def = "125",
     .doc = "longest read the device accepts, registers"},
    {.key = "max_gap",
     .type = CFG_INT,
     .offset = offsetof(struct prof_yaml, max_gap),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 125,
     .def = "16",
     .doc = "unused registers a read may span rather than split"},
    {.key = "no_cross",
     .type = CFG_INT,
     .offset = offsetof(struct prof_yaml, no_cross),
     .flags = CFG_RANGE,
     .min = 0,
     .max = 65536,
     .def = "0",
     .doc = "reads never cross a multiple of this address (0: no rule)"},
    {.key = "not_implemented",
     .type = CFG_ENUM,
     .offset = offsetof(struct prof_yaml, na),
     .def = "none",
     .choices = na_names,
     .doc = "raw patterns meaning 'not implemented': none (float NaN only) or sunspec"},
    {.key = "points",
     .type = CFG_LIST,
     .offset = offsetof(struct prof_yaml, points),
     .flags = CFG_REQUIRED | CFG_RANGE,
     .min = 1,
     .max = 4096,
     .sub = &point_schema,
     .doc = "the values the device offers"},
    {0},
};

const struct cfg_schema cfg_profile_schema = {
    .name = "a profile",
    .size = sizeof(struct prof_yaml),
    .fields = profile_fields,
    .check = check_profile,
};

void cfg_profile_free(struct mb_profile *prof)
{
    if (!prof) {
        return;
    }
    for (size_t i = 0; i < prof->npoints; i++) {
        free(prof->points[i].channel);
        free(prof->points[i].unit);
    }
    free(prof->points);
    free(prof->name);
    free(prof->source);
    free(prof);
}

static int convert_point(const struct point_yaml *y, int na, struct mb_point *p)
{
    p->channel = strdup(y->channel);
    p->unit = strdup(y->unit);
    if (!p->channel || !p->unit) {
        return -ENOMEM;
    }
    p->fn = y->fn;
    p->addr = y->addr;
    p->type = y->type;
    p->count = y->count;
    p->words = y->words;
    p->bytes = y->bytes;
    p->bit = y->bit;
    p->nbits = y->type == MB_T_BITS ? y->nbits : 0;
    p->length = y->length;
    p->scale = y->scale;
    p->sf_addr = y->scale_factor == UNSET ? -1 : y->scale_factor;
    p->offset = y->offset;
    p->counter = y->counter.bits != UNSET || y->counter.max_step > 0;
    if (p->counter) {
        p->counter_bits = y->counter.bits != UNSET ? y->counter.bits : type_bits(y->type);
    }
    p->max_step = y->counter.max_step;
    p->na = na;
    return 0;
}

static int convert(const struct prof_yaml *y, struct mb_profile **out)
{
    struct mb_profile *prof = calloc(1, sizeof(*prof));

    if (!prof) {
        return -ENOMEM;
    }
    prof->name = strdup(y->name);
    prof->source = strdup(y->source);
    prof->points = calloc(y->points.n, sizeof(*prof->points));
    if (!prof->name || !prof->source || !prof->points) {
        cfg_profile_free(prof);
        return -ENOMEM;
    }
    prof->max_regs = y->max_regs;
    prof->max_gap = y->max_gap;
    prof->no_cross = y->no_cross;
    for (size_t i = 0; i < y->points.n; i++) {
        prof->npoints = i + 1; /* so a failure frees what was copied */
        if (convert_point(CFG_AT(y->points, struct point_yaml, i), y->na,
                          &prof->points[i]) < 0) {
            cfg_profile_free(prof);
            return -ENOMEM;
        }
    }
    *out = prof;
    return 0;
}

int cfg_profile_parse(const char *name, const char *buf, size_t len,
                      struct mb_profile **out, struct cfg_diag *diag)
{
    void *obj = NULL;
    int rc = cfg_load(&cfg_profile_schema, name, (const uint8_t *) buf, len, NULL, 0,
                      &obj, diag);

    if (rc < 0) {
        return rc;
    }
    rc = convert(obj, out);
    cfg_free(&cfg_profile_schema, obj);
    return rc;
}

int cfg_profile_load(const char *path, struct mb_profile **out, struct cfg_diag *diag)
{
    void *obj = NULL;
    int rc = cfg_load_file(&cfg_profile_schema, path, NULL, 0, &obj, diag);

    if (rc < 0) {
        return rc;
    }
    rc = convert(obj, out);
    cfg_free(&cfg_profile_schema, obj);
    return rc;
}

static int try_dir(const char *dir, size_t dirlen, const char *name, char *out,
                   size_t cap)
{
    int n = snprintf(out, cap, "%.*s%sprofiles/%s.yaml", (int) dirlen, dir,
                     dirlen ? "/" : "", name);

    if (n < 0 || (size_t) n >= cap) {
        return -ENAMETOOLONG;
    }
    return access(out, R_OK) == 0 ? 0 : -PQ_ENOTFOUND;
}

int cfg_profile_path(const char *name, const char *config_path, char *out, size_t cap)
{
    const char *dirs[] = {PQGATE_SYSCONFDIR "/pqgate", PQGATE_DATADIR, "config"};
    size_t len = strlen(name);
    int rc;

    if (len == 0 || len > 64 || name[0] == '.' ||
        strspn(name,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            len) {
        return -EINVAL;
    }
    if (config_path) {
        const char *slash = strrchr(config_path, '/');

        /* "site.yaml" lives in ".": its profiles in "profiles/" */
        rc = slash ? try_dir(config_path,
                             slash == config_path ? 1 : (size_t) (slash - config_path),
                             name, out, cap)
                   : try_dir("", 0, name, out, cap);
        if (rc != -PQ_ENOTFOUND) {
            return rc;
        }
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        rc = try_dir(dirs[i], strlen(dirs[i]), name, out, cap);
        if (rc != -PQ_ENOTFOUND) {
            return rc;
        }
    }
    return -PQ_ENOTFOUND;
}
