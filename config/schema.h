/* schema.h - table-driven loading of YAML into typed C structs.
 *
 * A schema is a table of fields (key, type, offset in the struct, range,
 * default) per struct; nested sections and lists point to their own tables.
 * The loader walks the YAML document (libyaml) and the tables together and
 * reports every problem of a file in one run, each as
 *
 *     FILE:LINE:COL: path.to[2].key: message
 *
 * Unknown keys (with a "did you mean" hint), wrong types, out-of-range
 * values, duplicate keys and missing required keys are all found by the
 * table; rules that span several fields live in the schema's check hook,
 * which reports through cfg_error_at() with the location of a field.
 *
 * Adding a config section is local: a struct, a field table and one line in
 * the parent table.  Durations, sizes and SI quantities are parsed by
 * config/units.c, the one place for them.
 *
 * Memory: cfg_load() allocates the object and every string and list in it;
 * cfg_free() releases them by walking the same schema.  Not thread-safe per
 * object; distinct loads are independent.
 */
#ifndef PQGATE_SCHEMA_H
#define PQGATE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cfg_type {
    CFG_BOOL,     /* int: 0 or 1 */
    CFG_INT,      /* int */
    CFG_DOUBLE,   /* double */
    CFG_STRING,   /* char *, owned by the object ("" when unset) */
    CFG_ENUM,     /* int: index into choices */
    CFG_DURATION, /* int64_t, ns */
    CFG_SIZE,     /* uint64_t, bytes */
    CFG_QUANTITY, /* double, in the base SI unit given by unit */
    CFG_STRUCT,   /* embedded struct described by sub */
    CFG_LIST,     /* struct cfg_list of sub structs */
};

/* A YAML sequence of structs: n items of sub->size bytes each. */
struct cfg_list {
    void *items;
    size_t n;
};

#define CFG_AT(list, type, i) (&((type *) (list).items)[(i)])

#define CFG_REQUIRED 0x1u /* the key must be present */
#define CFG_RANGE    0x2u /* min and max apply (for a list: its length) */

struct cfg_ctx; /* one load in progress, passed to check hooks */

struct cfg_field {
    const char *key;
    enum cfg_type type;
    size_t offset; /* offsetof() in the parent struct */
    unsigned flags;
    /* Default, written as it would be in the file ("200ms", "230 V");
     * NULL means zero, "" or an empty list.  Parsed by the same code as the
     * file, so a bad default fails the schema self-test. */
    const char *def;
    /* With CFG_RANGE: inclusive limits in the field's base unit: seconds for
     * durations, bytes for sizes, the SI unit for quantities, items for
     * lists, bytes for strings (length). */
    double min, max;
    const char *const *choices;   /* CFG_ENUM: NULL-terminated names */
    const struct cfg_schema *sub; /* CFG_STRUCT, CFG_LIST */
    const char *unit;             /* CFG_QUANTITY: "V", "Hz", "" ... */
    /* Optional per-value rule: return NULL if v is fine, otherwise what is
     * expected ("50 or 60 Hz").  v points to the stored value. */
    const char *(*valid)(const void *v);
    const char *doc; /* one line, shown by check-config --explain */
};

struct cfg_schema {
    const char *name;               /* for docs and messages */
    size_t size;                    /* sizeof the struct */
    const struct cfg_field *fields; /* ends with a zeroed entry */
    /* Rules across fields, run after the fields of one instance loaded
     * without error.  Report with cfg_error_at(). */
    void (*check)(struct cfg_ctx *ctx, void *obj);
    /* Optional: a plain scalar in place of the struct sets this one field
     * (a list item "- log" reads as "- {kind: log}"). */
    const char *scalar_key;
};

/* Errors of one load, each a line "FILE:LINE:COL: path: message". */
struct cfg_diag {
    char **msgs;
    size_t n;
    size_t cap;
    size_t dropped; /* past CFG_DIAG_MAX */
};

#define CFG_DIAG_MAX 200

void cfg_diag_init(struct cfg_diag *d);
void cfg_diag_fini(struct cfg_diag *d);
void cfg_diag_print(const struct cfg_diag *d, FILE *f); /* one line each */

/* Load the YAML text buf[0..len) named name (used in messages) into a new
 * object of schema root.  sets are overrides "key.path[2].key=value" applied
 * on top of the file (a --set value is validated exactly like the file's;
 * its errors name the --set).  Returns 0 and the object in *out (release
 * with cfg_free()), or -PQ_ECONFIG with every error in diag and *out
 * untouched, or -ENOMEM. */
int cfg_load(const struct cfg_schema *root, const char *name, const uint8_t *buf,
             size_t len, const char *const *sets, size_t nsets, void **out,
             struct cfg_diag *diag);

/* The same, reading the file at path (errors for an unreadable file go to
 * diag too). */
int cfg_load_file(const struct cfg_schema *root, const char *path,
                  const char *const *sets, size_t nsets, void **out,
                  struct cfg_diag *diag);

void cfg_free(const struct cfg_schema *root, void *obj); /* NULL: no-op */

/* Report a rule violation from a check hook, located at the YAML node that
 * set the field at addr (a pointer into the object being checked), or at the
 * struct itself when the field came from a default. */
void cfg_error_at(struct cfg_ctx *ctx, const void *addr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write obj as YAML, every field with its effective value (defaults filled
 * in), with the field's doc as a comment when docs is non-zero. */
void cfg_print(FILE *f, const struct cfg_schema *root, const void *obj, int docs);

/* Write the reference of a schema as Markdown: one table per section, a
 * row per key with its type, default, limits and description.  docs/config.md
 * holds this output; a test keeps the two equal. */
void cfg_print_reference(FILE *f, const struct cfg_schema *root);

/* Check a schema's own tables: defaults parse, ranges make sense, enums have
 * choices.  Prints each problem to diag; returns 0 or -PQ_ECONFIG.  For
 * tests. */
int cfg_schema_selftest(const struct cfg_schema *root, struct cfg_diag *diag);

#endif
