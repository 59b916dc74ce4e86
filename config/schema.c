/* schema.c - walk a libyaml document and the schema tables together.
 *
 * The file is parsed into a libyaml document (which keeps a line:column mark
 * for every node), --set overrides are grafted onto that document as new
 * nodes, and then one recursive walk fills the object.  Because overrides
 * become ordinary nodes, they are validated by exactly the code that
 * validates the file; a side table remembers which --set created which node
 * so that its errors can name it.
 */
#include "config/schema.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/names.h"
#include "config/units.h"
#include "pq/err.h"

#define MAX_FIELDS   64 /* per struct: the seen-set is one uint64_t */
#define PATH_MAX_LEN 512

struct loc {
    const void *addr; /* field in the object */
    int node;         /* YAML node that set it */
    int failed;       /* it was wrong or missing: already reported */
    char *path;       /* "buses[0].devices[3].unit" */
};

struct cfg_ctx {
    const char *name; /* file name for messages */
    yaml_document_t doc;
    struct cfg_diag *diag;
    struct loc *locs;
    size_t nlocs, caplocs;
    /* nodes with id >= first_set_node were made by --set number
     * set_of[id - first_set_node] */
    int first_set_node;
    int *set_of;
    size_t nset_of, capset_of;
    const char *const *sets;
    int struct_node; /* node of the struct whose check hook runs */
    int enclosing;   /* nearest mapping node present in the file */
    char path[PATH_MAX_LEN];
    int oom;
};

/* ---- diagnostics ------------------------------------------------------ */

void cfg_diag_init(struct cfg_diag *d)
{
    memset(d, 0, sizeof(*d));
}

void cfg_diag_fini(struct cfg_diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->msgs[i]);
    }
    free(d->msgs);
    memset(d, 0, sizeof(*d));
}

void cfg_diag_print(const struct cfg_diag *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++) {
        fprintf(f, "%s\n", d->msgs[i]);
    }
    if (d->dropped) {
        fprintf(f, "(%zu more errors not shown)\n", d->dropped);
    }
}

static void diag_add(struct cfg_diag *d, char *msg)
{
    if (!msg) {
        return;
    }
    if (d->n >= CFG_DIAG_MAX) {
        d->dropped++;
        free(msg);
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **m = realloc(d->msgs, cap * sizeof(*m));

        if (!m) {
            free(msg);
            d->dropped++;
            return;
        }
        d->msgs = m;
        d->cap = cap;
    }
    d->msgs[d->n++] = msg;
}

/* Where a node came from: "file:line:col" or "--set 'k=v'". */
static void node_where(const struct cfg_ctx *ctx, int id, char *buf, size_t cap)
{
    yaml_node_t *n;

    if (id >= ctx->first_set_node && ctx->first_set_node > 0 &&
        (size_t) (id - ctx->first_set_node) < ctx->nset_of) {
        snprintf(buf, cap, "--set '%s'",
                 ctx->sets[ctx->set_of[id - ctx->first_set_node]]);
        return;
    }
    n = id > 0 ? yaml_document_get_node((yaml_document_t *) &ctx->doc, id) : NULL;
    if (!n) {
        snprintf(buf, cap, "%s:1:1", ctx->name); /* the file as a whole */
        return;
    }
    snprintf(buf, cap, "%s:%zu:%zu", ctx->name, n->start_mark.line + 1,
             n->start_mark.column + 1);
}

static void verr_at(struct cfg_ctx *ctx, int node, const char *path, const char *fmt,
                    va_list ap)
{
    char where[512];
    char msg[768];
    char *line = NULL;

    node_where(ctx, node, where, sizeof(where));
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (asprintf(&line, "%s: %s%s%s", where, path, *path ? ": " : "", msg) < 0) {
        ctx->oom = 1;
        return;
    }
    diag_add(ctx->diag, line);
}

static void __attribute__((format(printf, 3, 4)))
err_node(struct cfg_ctx *ctx, int node, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verr_at(ctx, node, ctx->path, fmt, ap);
    va_end(ap);
}

void cfg_error_at(struct cfg_ctx *ctx, const void *addr, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    for (size_t i = ctx->nlocs; i-- > 0;) {
        if (ctx->locs[i].addr == addr) {
            /* a rule about a value already reported as wrong or missing
             * would only repeat that error in other words */
            if (!ctx->locs[i].failed) {
                verr_at(ctx, ctx->locs[i].node, ctx->locs[i].path, fmt, ap);
            }
            va_end(ap);
            return;
        }
    }
    verr_at(ctx, ctx->struct_node, ctx->path, fmt, ap);
    va_end(ap);
}

static void remember(struct cfg_ctx *ctx, const void *addr, int node, int failed)
{
    struct loc *l;

    if (ctx->nlocs == ctx->caplocs) {
        size_t cap = ctx->caplocs ? ctx->caplocs * 2 : 64;

        l = realloc(ctx->locs, cap * sizeof(*l));
        if (!l) {
            ctx->oom = 1;
            return;
        }
        ctx->locs = l;
        ctx->caplocs = cap;
    }
    l = &ctx->locs[ctx->nlocs];
    l->addr = addr;
    l->node = node;
    l->failed = failed;
    l->path = strdup(ctx->path);
    if (!l->path) {
        ctx->oom = 1;
        return;
    }
    ctx->nlocs++;
}

/* ---- paths and hints -------------------------------------------------- */

static size_t path_push_key(struct cfg_ctx *ctx, const char *key)
{
    size_t len = strlen(ctx->path);

    snprintf(ctx->path + len, sizeof(ctx->path) - len, "%s%s", len ? "." : "", key);
    return len;
}

static size_t path_push_index(struct cfg_ctx *ctx, size_t i)
{
    size_t len = strlen(ctx->path);

    snprintf(ctx->path + len, sizeof(ctx->path) - len, "[%zu]", i);
    return len;
}

static void path_pop(struct cfg_ctx *ctx, size_t len)
{
    ctx->path[len] = '\0';
}

/* Levenshtein distance, capped: only short keys are compared. */
static size_t edit_distance(const char *a, const char *b)
{
    return names_edit_distance(a, strlen(a), b, strlen(b));
}

/* The closest name in a NULL-terminated list, or NULL if none is close. */
static const char *closest(const char *word, const char *const *names, size_t stride)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t limit = strlen(word) / 3 + 1;

    for (const char *const *p = names; *p;
         p = (const char *const *) (const void *) ((const char *) p + stride)) {
        size_t d = edit_distance(word, *p);

        if (d < best_d) {
            best_d = d;
            best = *p;
        }
    }
    return best_d <= limit ? best : NULL;
}

static const struct cfg_field *find_field(const struct cfg_schema *s, const char *key)
{
    for (const struct cfg_field *f = s->fields; f->key; f++) {
        if (strcmp(f->key, key) == 0) {
            return f;
        }
    }
    return NULL;
}

static void report_unknown_key(struct cfg_ctx *ctx, int node, const struct cfg_schema *s,
                               const char *key)
{
    const char *hint = closest(key, &s->fields[0].key, sizeof(struct cfg_field));

    if (hint) {
        err_node(ctx, node, "unknown key '%s' (did you mean '%s'?)", key, hint);
    } else {
        err_node(ctx, node, "unknown key '%s' in %s", key, s->name);
    }
}

/* ---- scalars ---------------------------------------------------------- */

static const char *type_name(const struct cfg_field *f, char *buf, size_t cap)
{
    size_t len;

    switch (f->type) {
    case CFG_BOOL:
        return "true or false";
    case CFG_INT:
        return "an integer";
    case CFG_DOUBLE:
        return "a number";
    case CFG_STRING:
        return "a string";
    case CFG_DURATION:
        return units_expected_duration();
    case CFG_SIZE:
        return units_expected_size();
    case CFG_QUANTITY:
        snprintf(buf, cap, "a value in %s like '%s'",
                 *f->unit ? f->unit : "plain numbers", f->def ? f->def : "1");
        return buf;
    case CFG_ENUM:
        len = (size_t) snprintf(buf, cap, "one of");
        for (const char *const *c = f->choices; c && *c && len < cap; c++) {
            len += (size_t) snprintf(buf + len, cap - len, "%s %s",
                                     c == f->choices ? "" : ",", *c);
        }
        return buf;
    case CFG_STRUCT:
        return "a section of keys";
    case CFG_LIST:
        return "a list";
    }
    return "a value";
}

/* Limits as text in the field's own form: "1..247", "10ms..1h". */
static void range_text(const struct cfg_field *f, char *buf, size_t cap)
{
    char lo[48], hi[48];

    switch (f->type) {
    case CFG_DURATION:
        units_format_duration(lo, sizeof(lo), (int64_t) (f->min * 1e9));
        units_format_duration(hi, sizeof(hi), (int64_t) (f->max * 1e9));
        break;
    case CFG_SIZE:
        units_format_size(lo, sizeof(lo), (uint64_t) f->min);
        units_format_size(hi, sizeof(hi), (uint64_t) f->max);
        break;
    case CFG_QUANTITY:
        units_format_quantity(lo, sizeof(lo), f->min, f->unit);
        units_format_quantity(hi, sizeof(hi), f->max, f->unit);
        break;
    default:
        snprintf(lo, sizeof(lo), "%.15g", f->min);
        snprintf(hi, sizeof(hi), "%.15g", f->max);
        break;
    }
    snprintf(buf, cap, "%s..%s", lo, hi);
}

/* Parse text into the field at p.  Returns 0, -PQ_ECONFIG (wrong form),
 * -ERANGE (outside the field's limits) or -ENOMEM. */
static int parse_scalar(const struct cfg_field *f, const char *text, void *p)
{
    int64_t i64;
    double d;
    int rc;

    switch (f->type) {
    case CFG_BOOL:
        return units_parse_bool(text, (int *) p);
    case CFG_INT:
        rc = units_parse_int(text, &i64);
        if (rc < 0) {
            return rc;
        }
        if (i64 < INT_MIN || i64 > INT_MAX ||
            ((f->flags & CFG_RANGE) && (i64 < f->min || i64 > f->max))) {
            return -ERANGE;
        }
        *(int *) p = (int) i64;
        return 0;
    case CFG_DOUBLE:
    case CFG_QUANTITY:
        rc = f->type == CFG_DOUBLE ? units_parse_double(text, &d)
                                   : units_parse_quantity(text, f->unit, &d);
        if (rc < 0) {
            return rc;
        }
        if ((f->flags & CFG_RANGE) && (d < f->min || d > f->max)) {
            return -ERANGE;
        }
        *(double *) p = d;
        return 0;
    case CFG_DURATION:
        rc = units_parse_duration(text, &i64);
        if (rc < 0) {
            return rc;
        }
        if ((f->flags & CFG_RANGE) && (i64 < f->min * 1e9 || i64 > f->max * 1e9)) {
            return -ERANGE;
        }
        *(int64_t *) p = i64;
        return 0;
    case CFG_SIZE: {
        uint64_t u;

        rc = units_parse_size(text, &u);
        if (rc < 0) {
            return rc;
        }
        if ((f->flags & CFG_RANGE) && ((double) u < f->min || (double) u > f->max)) {
            return -ERANGE;
        }
        *(uint64_t *) p = u;
        return 0;
    }
    case CFG_STRING: {
        size_t len = strlen(text);
        char *s;

        if ((f->flags & CFG_RANGE) && (len < f->min || len > f->max)) {
            return -ERANGE;
        }
        s = strdup(text);
        if (!s) {
            return -ENOMEM;
        }
        free(*(char **) p);
        *(char **) p = s;
        return 0;
    }
    case CFG_ENUM:
        for (int i = 0; f->choices && f->choices[i]; i++) {
            if (strcmp(f->choices[i], text) == 0) {
                *(int *) p = i;
                return 0;
            }
        }
        return -PQ_ECONFIG;
    case CFG_STRUCT:
    case CFG_LIST:
        break;
    }
    return -PQ_ECONFIG;
}

static int is_null_scalar(const yaml_node_t *n)
{
    const char *v = (const char *) n->data.scalar.value;

    return n->type == YAML_SCALAR_NODE &&
           n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a section of keys";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a value";
    }
}

/* What a field expects, with its limits: "an integer in 1..247". */
static const char *expectation(const struct cfg_field *f, char *buf, size_t cap)
{
    char tbuf[256], rbuf[128];
    const char *t = type_name(f, tbuf, sizeof(tbuf));

    if (!(f->flags & CFG_RANGE)) {
        snprintf(buf, cap, "%s", t);
    } else if (f->type == CFG_QUANTITY) {
        range_text(f, rbuf, sizeof(rbuf));
        snprintf(buf, cap, "a value in %s like '%s'", rbuf, f->def ? f->def : "1");
    } else if (f->type == CFG_STRING) {
        range_text(f, rbuf, sizeof(rbuf));
        snprintf(buf, cap, "%s of %s characters", t, rbuf);
    } else {
        range_text(f, rbuf, sizeof(rbuf));
        snprintf(buf, cap, "%s in %s", t, rbuf);
    }
    return buf;
}

/* Parse the scalar node id into the field at p; 0 or -1 (reported). */
static int parse_node(struct cfg_ctx *ctx, const struct cfg_field *f, void *p, int id)
{
    yaml_node_t *n = yaml_document_get_node(&ctx->doc, id);
    char ebuf[512];
    const char *text;
    const char *why;
    const char *hint;
    int rc;

    if (n->type != YAML_SCALAR_NODE) {
        err_node(ctx, id, "expected %s, got %s", expectation(f, ebuf, sizeof(ebuf)),
                 node_kind(n));
        return -1;
    }
    text = (const char *) n->data.scalar.value;
    if (is_null_scalar(n) && f->type != CFG_STRING) {
        err_node(ctx, id, "no value; expected %s", expectation(f, ebuf, sizeof(ebuf)));
        return -1;
    }
    rc = parse_scalar(f, text, p);
    if (rc == -ENOMEM) {
        ctx->oom = 1;
        return -1;
    }
    if (rc == -ERANGE && f->type == CFG_STRING) {
        err_node(ctx, id, "expected %s, got %zu", expectation(f, ebuf, sizeof(ebuf)),
                 strlen(text));
        return -1;
    }
    if (rc < 0) {
        hint = f->type == CFG_ENUM ? closest(text, f->choices, sizeof(char *)) : NULL;
        err_node(ctx, id, "expected %s, got '%s'%s%s%s",
                 expectation(f, ebuf, sizeof(ebuf)), text, hint ? " (did you mean '" : "",
                 hint ? hint : "", hint ? "'?)" : "");
        return -1;
    }
    if (f->valid && (why = f->valid(p)) != NULL) {
        err_node(ctx, id, "expected %s, got '%s'", why, text);
        return -1;
    }
    return 0;
}

static void load_scalar(struct cfg_ctx *ctx, const struct cfg_field *f, void *p, int id)
{
    remember(ctx, p, id, parse_node(ctx, f, p, id) < 0);
}

/* ---- structs and lists ------------------------------------------------ */

static void load_struct(struct cfg_ctx *ctx, const struct cfg_schema *s, void *obj,
                        int id);

/* Every field of obj to its default ("" for strings), before the file is
 * read over it: an object is whole even where the file is wrong, so the
 * check hooks always run on well-formed data. */
static int fill_defaults(const struct cfg_schema *s, void *obj)
{
    for (const struct cfg_field *f = s->fields; f->key; f++) {
        void *p = (char *) obj + f->offset;
        int rc = 0;

        if (f->type == CFG_STRUCT) {
            rc = fill_defaults(f->sub, p);
        } else if (f->type == CFG_LIST) {
            continue; /* zeroed: empty */
        } else if (f->def) {
            rc = parse_scalar(f, f->def, p); /* checked by cfg_schema_selftest() */
        } else if (f->type == CFG_STRING) {
            *(char **) p = strdup("");
            rc = *(char **) p ? 0 : -ENOMEM;
        }
        if (rc == -ENOMEM) {
            return rc;
        }
    }
    return 0;
}

static void load_list(struct cfg_ctx *ctx, const struct cfg_field *f, struct cfg_list *l,
                      int id)
{
    yaml_node_t *n = yaml_document_get_node(&ctx->doc, id);
    size_t count;
    char rbuf[64];

    if (is_null_scalar(n)) {
        return;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        err_node(ctx, id, "expected a list (items starting with '- '), got %s",
                 node_kind(n));
        return;
    }
    count = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
    if ((f->flags & CFG_RANGE) && (count < f->min || count > f->max)) {
        range_text(f, rbuf, sizeof(rbuf));
        err_node(ctx, id, "expected %s items, got %zu", rbuf, count);
        remember(ctx, l, id, 1);
        if (count > f->max) {
            return;
        }
    }
    if (count == 0) {
        return;
    }
    l->items = calloc(count, f->sub->size);
    if (!l->items) {
        ctx->oom = 1;
        return;
    }
    l->n = count;
    for (size_t i = 0; i < count; i++) {
        if (fill_defaults(f->sub, (char *) l->items + i * f->sub->size) < 0) {
            ctx->oom = 1;
            return;
        }
    }
    for (size_t i = 0; i < count; i++) {
        /* re-fetch: the document's node array does not move while loading,
         * but keep the habit of not holding node pointers across calls */
        int item = yaml_document_get_node(&ctx->doc, id)->data.sequence.items.start[i];
        size_t mark = path_push_index(ctx, i);
        void *obj = (char *) l->items + i * f->sub->size;
        const struct cfg_field *only = &f->sub->fields[0];
        yaml_node_t *in = yaml_document_get_node(&ctx->doc, item);

        /* a list of one-field sections takes plain values as shorthand:
         * "holidays: [2026-12-25]" for "holidays: [{date: 2026-12-25}]" */
        if (in->type == YAML_SCALAR_NODE && !is_null_scalar(in) && only->key &&
            !only[1].key && only->type != CFG_STRUCT && only->type != CFG_LIST) {
            load_scalar(ctx, only, (char *) obj + only->offset, item);
        } else {
            load_struct(ctx, f->sub, obj, item);
        }
        path_pop(ctx, mark);
    }
    remember(ctx, l, id, 0);
}

static void load_field(struct cfg_ctx *ctx, const struct cfg_field *f, void *p, int id)
{
    switch (f->type) {
    case CFG_STRUCT:
        /* not remembered: a struct shares its address with its first field */
        load_struct(ctx, f->sub, p, id);
        break;
    case CFG_LIST:
        load_list(ctx, f, p, id);
        break;
    default:
        load_scalar(ctx, f, p, id);
        break;
    }
}

/* Index of the first pair of mapping id whose key is `key`, or -1. */
static int first_pair_with_key(yaml_document_t *doc, int id, const char *key,
                               size_t before)
{
    yaml_node_t *m = yaml_document_get_node(doc, id);

    for (size_t i = 0; i < before; i++) {
        yaml_node_t *k = yaml_document_get_node(doc, m->data.mapping.pairs.start[i].key);

        if (k->type == YAML_SCALAR_NODE &&
            strcmp((const char *) k->data.scalar.value, key) == 0) {
            return (int) i;
        }
    }
    return -1;
}

static void load_pairs(struct cfg_ctx *ctx, const struct cfg_schema *s, void *obj, int id,
                       uint64_t *seen)
{
    yaml_node_t *m = yaml_document_get_node(&ctx->doc, id);
    size_t npairs = (size_t) (m->data.mapping.pairs.top - m->data.mapping.pairs.start);

    for (size_t i = 0; i < npairs; i++) {
        yaml_node_pair_t pair =
            yaml_document_get_node(&ctx->doc, id)->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(&ctx->doc, pair.key);
        const struct cfg_field *f;
        const char *key;
        size_t mark;
        int dup;

        if (k->type != YAML_SCALAR_NODE) {
            err_node(ctx, pair.key, "keys must be plain names, got %s", node_kind(k));
            continue;
        }
        key = (const char *) k->data.scalar.value;
        f = find_field(s, key);
        if (!f) {
            report_unknown_key(ctx, pair.key, s, key);
            continue;
        }
        dup = first_pair_with_key(&ctx->doc, id, key, i);
        if (dup >= 0) {
            yaml_node_t *first = yaml_document_get_node(
                &ctx->doc,
                yaml_document_get_node(&ctx->doc, id)->data.mapping.pairs.start[dup].key);

            err_node(ctx, pair.key, "duplicate key '%s' (first at line %zu)", key,
                     first->start_mark.line + 1);
            continue;
        }
        *seen |= 1ull << (f - s->fields);
        mark = path_push_key(ctx, key);
        load_field(ctx, f, (char *) obj + f->offset, pair.value);
        path_pop(ctx, mark);
    }
}

static void load_struct(struct cfg_ctx *ctx, const struct cfg_schema *s, void *obj,
                        int id)
{
    yaml_node_t *n = id > 0 ? yaml_document_get_node(&ctx->doc, id) : NULL;
    int saved_enclosing = ctx->enclosing;
    uint64_t seen = 0;
    int at;

    if (n && is_null_scalar(n)) {
        n = NULL; /* "meter:" with nothing under it: all defaults */
    }
    if (n && n->type == YAML_SCALAR_NODE && s->scalar_key &&
        find_field(s, s->scalar_key)) {
        /* the shorthand "- log" for "- {kind: log}" */
        const struct cfg_field *f = find_field(s, s->scalar_key);
        size_t mark = path_push_key(ctx, f->key);

        seen |= 1ull << (f - s->fields);
        load_field(ctx, f, (char *) obj + f->offset, id);
        path_pop(ctx, mark);
        n = NULL;
    }
    if (n && n->type != YAML_MAPPING_NODE) {
        err_node(ctx, id, "expected %s, got %s", "a section of keys", node_kind(n));
        return;
    }
    /* a section absent from the file reports at its nearest parent */
    at = n || seen ? id : ctx->enclosing;
    ctx->enclosing = at;
    if (n) {
        load_pairs(ctx, s, obj, id, &seen);
    }
    for (const struct cfg_field *f = s->fields; f->key; f++) {
        void *p = (char *) obj + f->offset;

        if (seen & (1ull << (f - s->fields))) {
            continue;
        }
        if (f->flags & CFG_REQUIRED) {
            err_node(ctx, at, "missing required key '%s'", f->key);
            remember(ctx, p, at, 1);
        } else if (f->type == CFG_STRUCT) {
            /* absent section: its own required keys and rules still apply */
            size_t mark = path_push_key(ctx, f->key);

            load_struct(ctx, f->sub, p, 0);
            path_pop(ctx, mark);
        }
    }
    if (s->check && !ctx->oom) {
        int saved = ctx->struct_node;

        ctx->struct_node = at;
        s->check(ctx, obj);
        ctx->struct_node = saved;
    }
    ctx->enclosing = saved_enclosing;
}

/* ---- --set overrides -------------------------------------------------- */

static int note_set_node(struct cfg_ctx *ctx, int node, size_t set)
{
    if (node <= 0) {
        return -ENOMEM;
    }
    if (ctx->first_set_node == 0) {
        ctx->first_set_node = node;
    }
    if ((size_t) (node - ctx->first_set_node) >= ctx->capset_of) {
        size_t cap = ctx->capset_of ? ctx->capset_of * 2 : 16;
        int *p = realloc(ctx->set_of, cap * sizeof(*p));

        if (!p) {
            return -ENOMEM;
        }
        ctx->set_of = p;
        ctx->capset_of = cap;
    }
    ctx->set_of[node - ctx->first_set_node] = (int) set;
    ctx->nset_of = (size_t) (node - ctx->first_set_node) + 1;
    return 0;
}

static int add_scalar(struct cfg_ctx *ctx, size_t set, const char *text)
{
    int id = yaml_document_add_scalar(&ctx->doc, NULL, (const yaml_char_t *) text,
                                      (int) strlen(text), YAML_PLAIN_SCALAR_STYLE);

    return note_set_node(ctx, id, set) < 0 ? -1 : id;
}

static int add_mapping(struct cfg_ctx *ctx, size_t set)
{
    int id = yaml_document_add_mapping(&ctx->doc, NULL, YAML_BLOCK_MAPPING_STYLE);

    return note_set_node(ctx, id, set) < 0 ? -1 : id;
}

/* Value node of key in mapping id, or 0. */
static int mapping_get(yaml_document_t *doc, int id, const char *key,
                       yaml_node_pair_t **pair)
{
    yaml_node_t *m = yaml_document_get_node(doc, id);

    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);

        if (k->type == YAML_SCALAR_NODE &&
            strcmp((const char *) k->data.scalar.value, key) == 0) {
            *pair = p;
            return p->value;
        }
    }
    return 0;
}

/* Node for key in mapping id, created (as a mapping) when absent. */
static int descend_key(struct cfg_ctx *ctx, size_t set, int id, const char *key)
{
    yaml_node_pair_t *pair = NULL;
    int child = mapping_get(&ctx->doc, id, key, &pair);
    int k;

    if (child > 0 && !is_null_scalar(yaml_document_get_node(&ctx->doc, child))) {
        return child;
    }
    k = add_scalar(ctx, set, key);
    child = add_mapping(ctx, set);
    if (k < 0 || child < 0) {
        return -1;
    }
    if (pair) {
        pair->value = child; /* replace "key:" with nothing */
        return child;
    }
    return yaml_document_append_mapping_pair(&ctx->doc, id, k, child) ? child : -1;
}

/* Item index of the sequence under key in mapping id; index == length
 * appends a new empty item. */
static int descend_index(struct cfg_ctx *ctx, size_t set, int id, const char *key,
                         size_t index, const char **err)
{
    yaml_node_pair_t *pair = NULL;
    int seq = mapping_get(&ctx->doc, id, key, &pair);
    yaml_node_t *n = seq > 0 ? yaml_document_get_node(&ctx->doc, seq) : NULL;
    size_t len;
    int item;

    if (!n || is_null_scalar(n)) {
        int k = add_scalar(ctx, set, key);

        seq = yaml_document_add_sequence(&ctx->doc, NULL, YAML_BLOCK_SEQUENCE_STYLE);
        if (k < 0 || note_set_node(ctx, seq, set) < 0) {
            return -1;
        }
        if (pair) {
            pair->value = seq;
        } else if (!yaml_document_append_mapping_pair(&ctx->doc, id, k, seq)) {
            return -1;
        }
        n = yaml_document_get_node(&ctx->doc, seq);
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        *err = "is not a list";
        return 0;
    }
    len = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
    if (index < len) {
        return n->data.sequence.items.start[index];
    }
    if (index > len) {
        *err = "index past the end of the list (use the next free index to add an item)";
        return 0;
    }
    item = add_mapping(ctx, set);
    if (item < 0 || !yaml_document_append_sequence_item(&ctx->doc, seq, item)) {
        return -1;
    }
    return item;
}

static void set_error(struct cfg_ctx *ctx, size_t set, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct cfg_ctx *ctx, size_t set, const char *fmt, ...)
{
    char msg[512];
    char *line = NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (asprintf(&line, "--set '%s': %s", ctx->sets[set], msg) < 0) {
        ctx->oom = 1;
        return;
    }
    diag_add(ctx->diag, line);
}

/* Split "name[3]" into name and index; index -1 when absent. */
static int split_token(char *tok, long *index)
{
    char *br = strchr(tok, '[');
    char *end;

    *index = -1;
    if (!br) {
        return *tok ? 0 : -1;
    }
    errno = 0;
    *index = strtol(br + 1, &end, 10);
    if (end == br + 1 || *end != ']' || end[1] || *index < 0 || errno) {
        return -1;
    }
    *br = '\0';
    return *tok ? 0 : -1;
}

static void apply_set(struct cfg_ctx *ctx, const struct cfg_schema *root, size_t set,
                      int root_id)
{
    const char *eq = strchr(ctx->sets[set], '=');
    const struct cfg_schema *s = root;
    int id = root_id;
    char keypath[PATH_MAX_LEN];
    char *save = NULL;
    char *tok;

    if (!eq || eq == ctx->sets[set] ||
        (size_t) (eq - ctx->sets[set]) >= sizeof(keypath)) {
        set_error(ctx, set, "expected key.path=value");
        return;
    }
    memcpy(keypath, ctx->sets[set], (size_t) (eq - ctx->sets[set]));
    keypath[eq - ctx->sets[set]] = '\0';
    for (tok = strtok_r(keypath, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        const char *err = NULL;
        const struct cfg_field *f;
        int last = save == NULL || *save == '\0';
        long index;

        if (split_token(tok, &index) < 0) {
            set_error(ctx, set, "bad key path near '%s'", tok);
            return;
        }
        f = find_field(s, tok);
        if (!f) {
            const char *hint = closest(tok, &s->fields[0].key, sizeof(struct cfg_field));

            set_error(ctx, set, "unknown key '%s' in %s%s%s%s", tok, s->name,
                      hint ? " (did you mean '" : "", hint ? hint : "",
                      hint ? "'?)" : "");
            return;
        }
        if ((f->type == CFG_LIST) != (index >= 0)) {
            set_error(ctx, set,
                      index >= 0 ? "'%s' is not a list"
                                 : "'%s' is a list: name an item, as %s[0]",
                      tok, tok);
            return;
        }
        if (last) {
            yaml_node_pair_t *pair = NULL;
            int v, k;

            if (f->type == CFG_STRUCT || f->type == CFG_LIST) {
                set_error(ctx, set, "'%s' is a section: set one of its keys, as %s.%s",
                          tok, tok, f->sub->fields[0].key);
                return;
            }
            v = add_scalar(ctx, set, eq + 1);
            if (v < 0) {
                ctx->oom = 1;
                return;
            }
            if (mapping_get(&ctx->doc, id, tok, &pair) > 0) {
                pair->value = v;
                return;
            }
            k = add_scalar(ctx, set, tok);
            if (k < 0 || !yaml_document_append_mapping_pair(&ctx->doc, id, k, v)) {
                ctx->oom = 1;
            }
            return;
        }
        if (f->type == CFG_LIST) {
            id = descend_index(ctx, set, id, tok, (size_t) index, &err);
        } else if (f->type == CFG_STRUCT) {
            id = descend_key(ctx, set, id, tok);
        } else {
            set_error(ctx, set, "'%s' is a value, not a section", tok);
            return;
        }
        if (id < 0) {
            ctx->oom = 1;
            return;
        }
        if (id == 0 || yaml_document_get_node(&ctx->doc, id)->type != YAML_MAPPING_NODE) {
            set_error(ctx, set, "'%s' %s", tok, err ? err : "is not a section of keys");
            return;
        }
        s = f->sub;
    }
}

/* ---- load ------------------------------------------------------------- */

static int parse_document(struct cfg_ctx *ctx, const uint8_t *buf, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    int rc = 0;

    if (!yaml_parser_initialize(&parser)) {
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, buf, len);
    if (!yaml_parser_load(&parser, &ctx->doc)) {
        char *line = NULL;

        if (asprintf(&line, "%s:%zu:%zu: YAML syntax: %s%s%s", ctx->name,
                     parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "error", parser.context ? " " : "",
                     parser.context ? parser.context : "") >= 0) {
            diag_add(ctx->diag, line);
        }
        yaml_parser_delete(&parser);
        return -PQ_ECONFIG;
    }
    if (yaml_document_get_root_node(&ctx->doc)) {
        if (!yaml_parser_load(&parser, &extra)) {
            rc = -PQ_ECONFIG;
            err_node(ctx, 0, "YAML syntax after the first document: %s",
                     parser.problem ? parser.problem : "error");
        } else {
            if (yaml_document_get_root_node(&extra)) {
                char *line = NULL;

                if (asprintf(&line, "%s:%zu:%zu: only one YAML document is allowed",
                             ctx->name, extra.start_mark.line + 1,
                             extra.start_mark.column + 1) >= 0) {
                    diag_add(ctx->diag, line);
                }
                rc = -PQ_ECONFIG;
            }
            yaml_document_delete(&extra);
        }
    }
    yaml_parser_delete(&parser);
    if (rc < 0) {
        yaml_document_delete(&ctx->doc);
    }
    return rc;
}

static void ctx_fini(struct cfg_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nlocs; i++) {
        free(ctx->locs[i].path);
    }
    free(ctx->locs);
    free(ctx->set_of);
    yaml_document_delete(&ctx->doc);
}

int cfg_load(const struct cfg_schema *root, const char *name, const uint8_t *buf,
             size_t len, const char *const *sets, size_t nsets, void **out,
             struct cfg_diag *diag)
{
    struct cfg_ctx ctx;
    size_t errors = diag->n + diag->dropped;
    void *obj;
    int root_id;
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.name = name;
    ctx.diag = diag;
    ctx.sets = sets;
    rc = parse_document(&ctx, buf, len);
    if (rc < 0) {
        return rc;
    }
    root_id = yaml_document_get_root_node(&ctx.doc) ? 1 : 0;
    if (root_id && is_null_scalar(yaml_document_get_node(&ctx.doc, root_id))) {
        root_id = 0; /* a file that is just "~" or "null": as if empty */
    }
    if (!root_id && nsets) {
        /* an empty file: give the overrides a root to hang from */
        root_id = add_mapping(&ctx, 0);
    }
    if (root_id && yaml_document_get_node(&ctx.doc, root_id)->type != YAML_MAPPING_NODE &&
        !is_null_scalar(yaml_document_get_node(&ctx.doc, root_id))) {
        err_node(&ctx, root_id,
                 "expected a section of keys at the top of the file, got %s",
                 node_kind(yaml_document_get_node(&ctx.doc, root_id)));
        ctx_fini(&ctx);
        return -PQ_ECONFIG;
    }
    for (size_t i = 0; i < nsets && root_id > 0 && !ctx.oom; i++) {
        apply_set(&ctx, root, i, root_id);
    }
    obj = calloc(1, root->size);
    if (!obj) {
        ctx_fini(&ctx);
        return -ENOMEM;
    }
    if (fill_defaults(root, obj) < 0) {
        ctx.oom = 1;
    } else {
        load_struct(&ctx, root, obj, root_id);
    }
    rc = ctx.oom ? -ENOMEM : diag->n + diag->dropped != errors ? -PQ_ECONFIG : 0;
    ctx_fini(&ctx);
    if (rc < 0) {
        cfg_free(root, obj);
        return rc;
    }
    *out = obj;
    return 0;
}

int cfg_load_file(const struct cfg_schema *root, const char *path,
                  const char *const *sets, size_t nsets, void **out,
                  struct cfg_diag *diag)
{
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    FILE *f = fopen(path, "rb");
    int rc;

    if (!f) {
        char *line = NULL;

        rc = -errno;
        if (asprintf(&line, "%s: cannot open: %s", path, pq_strerror(rc)) >= 0) {
            diag_add(diag, line);
        }
        return -PQ_ECONFIG;
    }
    for (;;) {
        size_t got;

        if (len == cap) {
            uint8_t *p;

            cap = cap ? cap * 2 : 4096;
            if (cap > (16u << 20)) {
                char *line = NULL;

                if (asprintf(&line, "%s: larger than 16 MiB, not a config file", path) >=
                    0) {
                    diag_add(diag, line);
                }
                free(buf);
                fclose(f);
                return -PQ_ECONFIG;
            }
            p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = p;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc == 0) {
        rc = cfg_load(root, path, buf, len, sets, nsets, out, diag);
    }
    free(buf);
    return rc;
}

/* ---- free ------------------------------------------------------------- */

static void free_struct(const struct cfg_schema *s, void *obj)
{
    for (const struct cfg_field *f = s->fields; f->key; f++) {
        void *p = (char *) obj + f->offset;

        if (f->type == CFG_STRING) {
            free(*(char **) p);
        } else if (f->type == CFG_STRUCT) {
            free_struct(f->sub, p);
        } else if (f->type == CFG_LIST) {
            struct cfg_list *l = p;

            for (size_t i = 0; i < l->n; i++) {
                free_struct(f->sub, (char *) l->items + i * f->sub->size);
            }
            free(l->items);
        }
    }
}

void cfg_free(const struct cfg_schema *root, void *obj)
{
    if (!obj) {
        return;
    }
    free_struct(root, obj);
    free(obj);
}

/* ---- print ------------------------------------------------------------ */

static void print_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\x%02x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

/* Shortest "%.Ng" that reads back as the same double. */
static void print_double(FILE *f, double v)
{
    char buf[40];

    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    fputs(buf, f);
}

static void print_scalar(FILE *f, const struct cfg_field *fd, const void *p)
{
    char buf[64];

    switch (fd->type) {
    case CFG_BOOL:
        fputs(*(const int *) p ? "true" : "false", f);
        break;
    case CFG_INT:
        fprintf(f, "%d", *(const int *) p);
        break;
    case CFG_DOUBLE:
        print_double(f, *(const double *) p);
        break;
    case CFG_STRING:
        print_string(f, *(char *const *) p ? *(char *const *) p : "");
        break;
    case CFG_ENUM:
        fputs(fd->choices[*(const int *) p], f);
        break;
    case CFG_DURATION:
        units_format_duration(buf, sizeof(buf), *(const int64_t *) p);
        fputs(buf, f);
        break;
    case CFG_SIZE:
        units_format_size(buf, sizeof(buf), *(const uint64_t *) p);
        fputs(buf, f);
        break;
    case CFG_QUANTITY: {
        double v = *(const double *) p, back;

        /* the engineering form ("11 kV") when it reads back exactly, else
         * every digit in the base unit: the printed config is the config */
        units_format_quantity(buf, sizeof(buf), v, fd->unit);
        if (units_parse_quantity(buf, fd->unit, &back) < 0 || back != v) {
            print_double(f, v);
            fprintf(f, "%s%s", *fd->unit ? " " : "", fd->unit);
        } else {
            fputs(buf, f);
        }
        break;
    }
    case CFG_STRUCT:
    case CFG_LIST:
        break;
    }
}

static void print_struct(FILE *f, const struct cfg_schema *s, const void *obj, int indent,
                         int docs, const char *first_prefix);

static void print_field(FILE *f, const struct cfg_field *fd, const void *p, int indent,
                        int docs, const char *prefix)
{
    if (docs && fd->doc) {
        fprintf(f, "%*s# %s\n", indent, "", fd->doc);
    }
    fprintf(f, "%s%s:", prefix, fd->key);
    if (fd->type == CFG_STRUCT) {
        fputc('\n', f);
        print_struct(f, fd->sub, p, indent + 2, docs, NULL);
    } else if (fd->type == CFG_LIST) {
        const struct cfg_list *l = p;

        if (l->n == 0) {
            fputs(" []\n", f);
            return;
        }
        fputc('\n', f);
        for (size_t i = 0; i < l->n; i++) {
            char pre[80];

            snprintf(pre, sizeof(pre), "%*s- ", indent + 2, "");
            print_struct(f, fd->sub, (const char *) l->items + i * fd->sub->size,
                         indent + 4, docs, pre);
        }
    } else {
        fputc(' ', f);
        print_scalar(f, fd, p);
        fputc('\n', f);
    }
}

static void print_struct(FILE *f, const struct cfg_schema *s, const void *obj, int indent,
                         int docs, const char *first_prefix)
{
    char pre[80];

    for (const struct cfg_field *fd = s->fields; fd->key; fd++) {
        if (first_prefix && fd == s->fields) {
            /* a list item: "- key:" on the first line; its doc would split
             * the dash from the key, so it is left out */
            print_field(f, fd, (const char *) obj + fd->offset, indent, 0, first_prefix);
            continue;
        }
        snprintf(pre, sizeof(pre), "%*s", indent, "");
        print_field(f, fd, (const char *) obj + fd->offset, indent, docs, pre);
    }
}

void cfg_print(FILE *f, const struct cfg_schema *root, const void *obj, int docs)
{
    print_struct(f, root, obj, 0, docs, NULL);
}

/* ---- reference --------------------------------------------------------- */

static void ref_type(FILE *f, const struct cfg_field *fd)
{
    switch (fd->type) {
    case CFG_BOOL:
        fputs("boolean", f);
        break;
    case CFG_INT:
        fputs("integer", f);
        break;
    case CFG_DOUBLE:
        fputs("number", f);
        break;
    case CFG_STRING:
        fputs("string", f);
        break;
    case CFG_ENUM:
        for (const char *const *c = fd->choices; *c; c++) {
            fprintf(f, "%s`%s`", c == fd->choices ? "" : ", ", *c);
        }
        break;
    case CFG_DURATION:
        fputs("duration", f);
        break;
    case CFG_SIZE:
        fputs("size", f);
        break;
    case CFG_QUANTITY:
        fprintf(f, "quantity (%s)", *fd->unit ? fd->unit : "plain number");
        break;
    case CFG_STRUCT:
        fputs("section", f);
        break;
    case CFG_LIST:
        fputs("list", f);
        break;
    }
}

static void ref_table(FILE *f, const struct cfg_schema *s, const char *path)
{
    char sub[PATH_MAX_LEN];
    char rbuf[128];

    fprintf(f, "\n### `%s`\n\n", *path ? path : "(top level)");
    fprintf(f, "| key | type | default | limits | description |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (const struct cfg_field *fd = s->fields; fd->key; fd++) {
        fprintf(f, "| `%s` | ", fd->key);
        ref_type(f, fd);
        fputs(" | ", f);
        if (fd->flags & CFG_REQUIRED) {
            fputs("required", f);
        } else if (fd->def) {
            fprintf(f, "`%s`", fd->def);
        } else {
            fputs(fd->type == CFG_STRING ? "empty"
                  : fd->type == CFG_LIST ? "none"
                                         : "",
                  f);
        }
        fputs(" | ", f);
        if (fd->valid) {
            /* a rule says what it expects when shown a value it rejects;
             * every rule so far rejects zero and "" */
            union {
                int i;
                double d;
                const char *s;
            } zero = {0};

            const char *rule;

            if (fd->type == CFG_STRING) {
                zero.s = "";
            }
            rule = fd->valid(&zero);
            fputs(rule ? rule : "", f);
        } else if (fd->flags & CFG_RANGE) {
            range_text(fd, rbuf, sizeof(rbuf));
            fprintf(f, "%s%s", rbuf,
                    fd->type == CFG_LIST     ? " items"
                    : fd->type == CFG_STRING ? " characters"
                                             : "");
        }
        fprintf(f, " | %s |\n", fd->doc ? fd->doc : "");
    }
    for (const struct cfg_field *fd = s->fields; fd->key; fd++) {
        if (fd->type == CFG_STRUCT || fd->type == CFG_LIST) {
            snprintf(sub, sizeof(sub), "%s%s%s%s", path, *path ? "." : "", fd->key,
                     fd->type == CFG_LIST ? "[]" : "");
            ref_table(f, fd->sub, sub);
        }
    }
}

void cfg_print_reference(FILE *f, const struct cfg_schema *root)
{
    ref_table(f, root, "");
}

/* ---- self-test -------------------------------------------------------- */

static void selftest_error(struct cfg_diag *d, const char *schema, const char *key,
                           const char *what)
{
    char *line = NULL;

    if (asprintf(&line, "schema %s: field '%s': %s", schema, key, what) >= 0) {
        diag_add(d, line);
    }
}

static void selftest_struct(const struct cfg_schema *s, struct cfg_diag *d, int depth)
{
    size_t count = 0;

    if (depth > 16) {
        selftest_error(d, s->name, "", "nesting deeper than 16 (a cycle?)");
        return;
    }
    for (const struct cfg_field *f = s->fields; f->key; f++, count++) {
        union {
            int i;
            double d;
            int64_t i64;
            uint64_t u64;
            char *s;
        } v;

        memset(&v, 0, sizeof(v));
        if (find_field(s, f->key) != f) {
            selftest_error(d, s->name, f->key, "duplicate key");
        }
        if ((f->type == CFG_STRUCT || f->type == CFG_LIST) && !f->sub) {
            selftest_error(d, s->name, f->key, "no sub-schema");
            continue;
        }
        if (f->type == CFG_ENUM && (!f->choices || !f->choices[0])) {
            selftest_error(d, s->name, f->key, "enum without choices");
        }
        if (f->type == CFG_QUANTITY && !f->unit) {
            selftest_error(d, s->name, f->key, "quantity without unit");
        }
        if ((f->flags & CFG_RANGE) && f->min > f->max) {
            selftest_error(d, s->name, f->key, "min > max");
        }
        if ((f->flags & CFG_REQUIRED) && f->def) {
            selftest_error(d, s->name, f->key, "required and defaulted");
        }
        if (f->type == CFG_STRUCT || f->type == CFG_LIST) {
            selftest_struct(f->sub, d, depth + 1);
        } else if (f->def) {
            if (parse_scalar(f, f->def, &v) < 0) {
                selftest_error(d, s->name, f->key,
                               "default does not parse or is out of range");
            } else if (f->valid && f->valid(&v)) {
                selftest_error(d, s->name, f->key, "default fails its rule");
            }
            if (f->type == CFG_STRING) {
                free(v.s);
            }
        }
    }
    if (count > MAX_FIELDS) {
        selftest_error(d, s->name, "", "more than 64 fields");
    }
}

int cfg_schema_selftest(const struct cfg_schema *root, struct cfg_diag *diag)
{
    size_t before = diag->n;

    selftest_struct(root, diag, 0);
    return diag->n == before ? 0 : -PQ_ECONFIG;
}
