/* expr.c - a recursive-descent compiler to postfix code, and its stack
 * machine.
 *
 * The parser emits instructions as it recognises them, so the program is
 * the expression in reverse Polish order; it tracks the stack height of
 * the code emitted so far to know the maximum depth.  Both branches of
 * if() and ?: are evaluated every time and the condition selects one: no
 * jumps, and integrate() inside a branch keeps its total continuous.
 */
#include "config/expr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/names.h"
#include "pq/err.h"

enum op {
    OP_CONST,
    OP_REF,
    OP_NEG,
    OP_NOT,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_POW,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_EQ,
    OP_NE,
    OP_AND,
    OP_OR,
    OP_SELECT,
    OP_MIN,
    OP_MAX,
    OP_AVG,
    OP_ABS,
    OP_SQRT,
    OP_CLAMP,
    OP_INTEGRATE,
    OP_RATE,
};

struct insn {
    uint8_t op;
    uint16_t n; /* reference, argument count or state slot */
    double k;   /* OP_CONST */
};

struct ref {
    char name[128];
    char alarm[96]; /* "" unless alarm("...") */
    int col;
};

/* integrate() and rate(): one per call site */
struct site {
    int have;
    double prev_x;
    int64_t prev_t;
    double acc; /* integral (x.s), or the last rate (x/s) */
};

struct expr {
    struct insn *code;
    size_t ncode;
    struct ref *refs;
    size_t nrefs;
    struct site *sites;
    size_t nsites;
    size_t depth;
    double *sv; /* the stack: depth values and qualities */
    uint32_t *sq;
};

/* ---- units --------------------------------------------------------------------- */

enum dim { D_P, D_Q, D_S, D_E, D_EQ, D_ES, D_U, D_I, D_F, D_T, D_PCT, D_VOL };

static const struct {
    const char *name;
    int dim;
    double scale; /* to the dimension's base */
    int prefix;   /* takes m k M G */
} units[] = {
    {"W", D_P, 1, 1},        {"var", D_Q, 1, 1},     {"VA", D_S, 1, 1},
    {"J", D_E, 1, 1},        {"Ws", D_E, 1, 1},      {"Wh", D_E, 3600, 1},
    {"varh", D_EQ, 3600, 1}, {"VAh", D_ES, 3600, 1}, {"V", D_U, 1, 1},
    {"A", D_I, 1, 1},        {"Hz", D_F, 1, 1},      {"s", D_T, 1, 1},
    {"min", D_T, 60, 0},     {"h", D_T, 3600, 0},    {"d", D_T, 86400, 0},
    {"%", D_PCT, 1, 0},      {"m3", D_VOL, 1, 0},    {"l", D_VOL, 1e-3, 0},
};

static int is_digit_c(char c)
{
    return c >= '0' && c <= '9';
}

static int isalpha_c(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int unit_lookup(const char *u, size_t len, int *dim, double *scale)
{
    static const struct {
        char c;
        double f;
    } prefixes[] = {{'m', 1e-3}, {'k', 1e3}, {'M', 1e6}, {'G', 1e9}};

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == len && memcmp(units[i].name, u, len) == 0) {
            *dim = units[i].dim;
            *scale = units[i].scale;
            return 0;
        }
    }
    for (size_t p = 0; len > 1 && p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
        if (u[0] != prefixes[p].c) {
            continue;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (units[i].prefix && strlen(units[i].name) == len - 1 &&
                memcmp(units[i].name, u + 1, len - 1) == 0) {
                *dim = units[i].dim;
                *scale = units[i].scale * prefixes[p].f;
                return 0;
            }
        }
    }
    return -PQ_ECONFIG;
}

int expr_unit_factor(const char *from, const char *to, double *factor)
{
    int df, dt;
    double sf, st;

    if (unit_lookup(from, strlen(from), &df, &sf) < 0 ||
        unit_lookup(to, strlen(to), &dt, &st) < 0 || df != dt) {
        return -PQ_ECONFIG;
    }
    *factor = sf / st;
    return 0;
}

int expr_parse_quantity(const char *s, double *v, int *is_pct)
{
    char *end;
    double x;
    int dim;
    double scale = 1.0;
    size_t ulen;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (!*s || !(is_digit_c(*s) || *s == '-' || *s == '+' || *s == '.')) {
        return -PQ_ECONFIG;
    }
    x = strtod(s, &end);
    if (end == s || !isfinite(x) ||
        (*end && !(*end == ' ' || *end == '\t' || *end == '%' || isalpha_c(*end)))) {
        return -PQ_ECONFIG;
    }
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    ulen = strlen(end);
    while (ulen > 0 && (end[ulen - 1] == ' ' || end[ulen - 1] == '\t')) {
        ulen--;
    }
    dim = -1;
    if (ulen > 0 && unit_lookup(end, ulen, &dim, &scale) < 0) {
        return -PQ_ECONFIG;
    }
    *is_pct = dim == D_PCT;
    *v = x * scale;
    return 0;
}

/* ---- lexer --------------------------------------------------------------------- */

enum tok { T_EOF, T_NUM, T_NAME, T_STR, T_OP, T_BAD };

struct parser {
    const char *s;
    size_t len, pos;
    /* current token */
    enum tok tok;
    size_t tpos, tlen; /* where, in s (T_STR: the quote; tlen: the text inside) */
    double num;
    char op[3];
    /* output */
    struct expr *e;
    size_t height;
    int nest;
    struct expr_error *err;
    int failed;
};

static void __attribute__((format(printf, 3, 4)))
fail_at(struct parser *p, size_t pos, const char *fmt, ...)
{
    va_list ap;

    if (p->failed) {
        return;
    }
    p->failed = 1;
    p->err->col = (int) pos + 1;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_name_char(int c)
{
    return is_alpha(c) || is_digit(c) || c == '.';
}

static int peek_char(const struct parser *p, size_t at)
{
    return at < p->len ? (unsigned char) p->s[at] : 0;
}

/* Number [unit]: "230", "1.5e3", "5kW", "10%", "2m3". */
static void lex_number(struct parser *p)
{
    size_t i = p->pos, u;
    char buf[64];
    int dim;
    double scale;

    while (is_digit(peek_char(p, i))) {
        i++;
    }
    if (peek_char(p, i) == '.') {
        i++;
        while (is_digit(peek_char(p, i))) {
            i++;
        }
    }
    if ((peek_char(p, i) == 'e' || peek_char(p, i) == 'E') &&
        (is_digit(peek_char(p, i + 1)) ||
         ((peek_char(p, i + 1) == '+' || peek_char(p, i + 1) == '-') &&
          is_digit(peek_char(p, i + 2))))) {
        i += 2;
        while (is_digit(peek_char(p, i))) {
            i++;
        }
    }
    if (i - p->pos >= sizeof(buf) || (i - p->pos == 1 && p->s[p->pos] == '.')) {
        p->tok = T_BAD;
        fail_at(p, p->pos, "malformed number");
        return;
    }
    memcpy(buf, p->s + p->pos, i - p->pos);
    buf[i - p->pos] = '\0';
    p->num = strtod(buf, NULL);
    p->tok = T_NUM;
    p->tpos = p->pos;
    /* a unit written right after the number */
    u = i;
    if (peek_char(p, u) == '%') {
        size_t n = u + 1;

        while (peek_char(p, n) == ' ' || peek_char(p, n) == '\t') {
            n++;
        }
        /* "10 % 3" is a remainder; "10%" and "10% + x" a percentage */
        if (!is_digit(peek_char(p, n)) && !is_alpha(peek_char(p, n)) &&
            peek_char(p, n) != '(' && peek_char(p, n) != '"' && peek_char(p, n) != '\'') {
            i = u + 1;
        }
    } else if (is_alpha(peek_char(p, u))) {
        while (is_alpha(peek_char(p, i))) {
            i++;
        }
        if (is_digit(peek_char(p, i))) {
            i++;
        }
        if (unit_lookup(p->s + u, i - u, &dim, &scale) < 0) {
            p->tok = T_BAD;
            fail_at(p, u, "unknown unit '%.*s'", (int) (i - u), p->s + u);
            return;
        }
        p->num *= scale;
    }
    if (!isfinite(p->num)) {
        p->tok = T_BAD;
        fail_at(p, p->pos, "number out of range");
        return;
    }
    p->tlen = i - p->pos;
    p->pos = i;
}

/* A bare name: a letter or '_', then letters, digits, '_' and '.', with
 * '/' and '-' inside it when a letter, digit or '_' follows them: so
 * "local/p/total" and "bus1.dev-7/p" are names, "a - b" and "a / 2" are
 * not. */
static void lex_name(struct parser *p)
{
    size_t i = p->pos;

    while (i < p->len) {
        int c = peek_char(p, i);

        if (is_name_char(c)) {
            i++;
        } else if ((c == '/' || c == '-') &&
                   (is_alpha(peek_char(p, i + 1)) || is_digit(peek_char(p, i + 1)))) {
            i++;
        } else {
            break;
        }
    }
    p->tok = T_NAME;
    p->tpos = p->pos;
    p->tlen = i - p->pos;
    p->pos = i;
}

static void lex_string(struct parser *p)
{
    char q = p->s[p->pos];
    size_t i = p->pos + 1;

    while (i < p->len && p->s[i] != q) {
        i++;
    }
    if (i >= p->len) {
        p->tok = T_BAD;
        fail_at(p, p->pos, "unterminated string");
        return;
    }
    p->tok = T_STR;
    p->tpos = p->pos; /* the quote; the text follows it */
    p->tlen = i - p->pos - 1;
    p->pos = i + 1;
}

static void next(struct parser *p)
{
    static const char *const two[] = {"<=", ">=", "==", "!=", "&&", "||"};
    int c;

    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r')) {
        p->pos++;
    }
    p->tpos = p->pos;
    if (p->pos >= p->len) {
        p->tok = T_EOF;
        return;
    }
    c = (unsigned char) p->s[p->pos];
    if (is_digit(c) || (c == '.' && is_digit(peek_char(p, p->pos + 1)))) {
        lex_number(p);
        return;
    }
    if (is_alpha(c)) {
        lex_name(p);
        return;
    }
    if (c == '"' || c == '\'') {
        lex_string(p);
        return;
    }
    for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++) {
        if (p->pos + 1 < p->len && p->s[p->pos] == two[i][0] &&
            p->s[p->pos + 1] == two[i][1]) {
            memcpy(p->op, two[i], 3);
            p->tok = T_OP;
            p->pos += 2;
            return;
        }
    }
    if (c != '\0' && strchr("+-*/%^<>!?:(),", c)) { /* strchr finds the NUL */
        p->op[0] = (char) c;
        p->op[1] = '\0';
        p->tok = T_OP;
        p->pos++;
        return;
    }
    p->tok = T_BAD;
    if (c >= 0x20 && c < 0x7f) {
        fail_at(p, p->pos, "unexpected character '%c'", c);
    } else {
        fail_at(p, p->pos, "unexpected byte 0x%02x", (unsigned) c);
    }
}

static int is_op(const struct parser *p, const char *op)
{
    return p->tok == T_OP && strcmp(p->op, op) == 0;
}

static int is_word(const struct parser *p, const char *w)
{
    return p->tok == T_NAME && strlen(w) == p->tlen &&
           memcmp(p->s + p->tpos, w, p->tlen) == 0;
}

static void expect(struct parser *p, const char *op, const char *what)
{
    if (!is_op(p, op)) {
        fail_at(p, p->tpos, "expected %s", what);
        return;
    }
    next(p);
}

/* ---- code ------------------------------------------------------------------------ */

/* Append an instruction that pops `pops` values and pushes one. */
static void emit(struct parser *p, int op, unsigned n, double k, size_t pops)
{
    struct expr *e = p->e;

    if (p->failed) {
        return;
    }
    if (e->ncode >= EXPR_MAX_INSNS) {
        fail_at(p, p->tpos, "the expression is too long (over %d operations)",
                EXPR_MAX_INSNS);
        return;
    }
    e->code[e->ncode++] = (struct insn){.op = (uint8_t) op, .n = (uint16_t) n, .k = k};
    p->height = p->height - pops + 1;
    if (p->height > e->depth) {
        e->depth = p->height;
    }
}

static int valid_channel(const char *s, size_t len)
{
    return names_channel_valid(s, len, sizeof(((struct ref *) 0)->name) - 1);
}

static void emit_ref(struct parser *p, const char *name, const char *alarm, size_t pos)
{
    struct expr *e = p->e;
    size_t i;

    for (i = 0; i < e->nrefs; i++) {
        if (strcmp(e->refs[i].name, name) == 0) {
            break;
        }
    }
    if (i == e->nrefs) {
        if (e->nrefs >= EXPR_MAX_REFS) {
            fail_at(p, pos, "more than %d different channels", EXPR_MAX_REFS);
            return;
        }
        snprintf(e->refs[i].name, sizeof(e->refs[i].name), "%s", name);
        snprintf(e->refs[i].alarm, sizeof(e->refs[i].alarm), "%s", alarm);
        e->refs[i].col = (int) pos + 1;
        e->nrefs++;
    }
    emit(p, OP_REF, (unsigned) i, 0, 0);
}

/* ---- parser ---------------------------------------------------------------------- */

static void parse_ternary(struct parser *p);

static const struct func {
    const char *name;
    int op;
    int min_args, max_args;
} funcs[] = {
    {"min", OP_MIN, 1, 32},  {"max", OP_MAX, 1, 32},
    {"avg", OP_AVG, 1, 32},  {"abs", OP_ABS, 1, 1},
    {"sqrt", OP_SQRT, 1, 1}, {"clamp", OP_CLAMP, 3, 3},
    {"if", OP_SELECT, 3, 3}, {"rate", OP_RATE, 1, 1},
    {"convert", -1, 3, 3},   {"integrate", OP_INTEGRATE, 1, 1},
    {"alarm", -2, 1, 1},
};

static size_t edit_distance(const char *a, size_t la, const char *b)
{
    return names_edit_distance(a, la, b, strlen(b));
}

static const struct func *find_func(const char *s, size_t len, const char **hint)
{
    size_t best = 3;

    *hint = NULL;
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
        size_t d;

        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, s, len) == 0) {
            return &funcs[i];
        }
        d = edit_distance(s, len, funcs[i].name);
        if (d < best) {
            best = d;
            *hint = funcs[i].name;
        }
    }
    return NULL;
}

/* A string literal argument, copied into buf. */
static int string_arg(struct parser *p, char *buf, size_t cap, const char *what)
{
    if (p->tok != T_STR) {
        fail_at(p, p->tpos, "expected %s in quotes", what);
        return -1;
    }
    if (p->tlen >= cap) {
        fail_at(p, p->tpos, "%s too long", what);
        return -1;
    }
    memcpy(buf, p->s + p->tpos + 1, p->tlen);
    buf[p->tlen] = '\0';
    next(p);
    return 0;
}

/* convert(x, "kW", "W"): a constant factor, found now. */
static void parse_convert(struct parser *p)
{
    char from[16], to[16];
    size_t at;
    double f;

    parse_ternary(p);
    expect(p, ",", "',' and the unit converted from");
    at = p->tpos;
    if (p->failed || string_arg(p, from, sizeof(from), "a unit") < 0) {
        return;
    }
    expect(p, ",", "',' and the unit converted to");
    if (p->failed || string_arg(p, to, sizeof(to), "a unit") < 0) {
        return;
    }
    if (expr_unit_factor(from, to, &f) < 0) {
        fail_at(p, at, "cannot convert '%s' to '%s' (unknown unit or another quantity)",
                from, to);
        return;
    }
    emit(p, OP_CONST, 0, f, 0);
    emit(p, OP_MUL, 0, 0, 2);
    expect(p, ")", "')' after the units");
}

static void parse_alarm_ref(struct parser *p)
{
    char name[96], chan[128];
    size_t at = p->tpos;

    if (string_arg(p, name, sizeof(name), "an alarm name") < 0) {
        return;
    }
    snprintf(chan, sizeof(chan), "alarm/%s/active", name);
    if (!valid_channel(chan, strlen(chan))) {
        fail_at(p, at, "'%s' is not a valid alarm name", name);
        return;
    }
    emit_ref(p, chan, name, at);
    expect(p, ")", "')' after the alarm name");
}

static void parse_call(struct parser *p, size_t name_pos, size_t name_len)
{
    const char *hint;
    const struct func *f = find_func(p->s + name_pos, name_len, &hint);
    int nargs = 0;

    next(p); /* '(' */
    if (!f) {
        if (hint) {
            fail_at(p, name_pos, "unknown function '%.*s' (did you mean '%s'?)",
                    (int) name_len, p->s + name_pos, hint);
        } else {
            fail_at(p, name_pos, "unknown function '%.*s'", (int) name_len,
                    p->s + name_pos);
        }
        return;
    }
    if (f->op == -1) {
        parse_convert(p);
        return;
    }
    if (f->op == -2) {
        parse_alarm_ref(p);
        return;
    }
    if (!is_op(p, ")")) {
        for (;;) {
            parse_ternary(p);
            nargs++;
            if (p->failed || !is_op(p, ",")) {
                break;
            }
            next(p);
        }
    }
    if (p->failed) {
        return;
    }
    if (!is_op(p, ")")) {
        fail_at(p, p->tpos, "expected ',' or ')' in the arguments of %s()", f->name);
        return;
    }
    if (nargs < f->min_args || nargs > f->max_args) {
        if (f->min_args == f->max_args) {
            fail_at(p, name_pos, "%s() takes %d argument%s, not %d", f->name, f->min_args,
                    f->min_args == 1 ? "" : "s", nargs);
        } else {
            fail_at(p, name_pos, "%s() takes %d to %d arguments, not %d", f->name,
                    f->min_args, f->max_args, nargs);
        }
        return;
    }
    next(p);
    if (f->op == OP_INTEGRATE || f->op == OP_RATE) {
        emit(p, f->op, (unsigned) p->e->nsites++, 0, 1);
    } else {
        emit(p, f->op, (unsigned) nargs, 0, (size_t) nargs);
    }
}

static void parse_primary(struct parser *p)
{
    if (p->tok == T_NUM) {
        emit(p, OP_CONST, 0, p->num, 0);
        next(p);
    } else if (p->tok == T_STR) {
        char name[128];
        size_t at = p->tpos;

        if (!valid_channel(p->s + p->tpos + 1, p->tlen)) {
            fail_at(p, at, "'%.*s' is not a valid channel name", (int) p->tlen,
                    p->s + p->tpos + 1);
            return;
        }
        memcpy(name, p->s + p->tpos + 1, p->tlen);
        name[p->tlen] = '\0';
        next(p);
        emit_ref(p, name, "", at);
    } else if (is_op(p, "(")) {
        next(p);
        parse_ternary(p);
        expect(p, ")", "')'");
    } else if (p->tok == T_NAME) {
        size_t at = p->tpos, len = p->tlen;

        if (is_word(p, "true") || is_word(p, "false")) {
            emit(p, OP_CONST, 0, is_word(p, "true") ? 1.0 : 0.0, 0);
            next(p);
            return;
        }
        if (is_word(p, "and") || is_word(p, "or") || is_word(p, "not")) {
            fail_at(p, at, "expected a value before '%.*s'", (int) len, p->s + at);
            return;
        }
        next(p);
        if (is_op(p, "(")) {
            parse_call(p, at, len);
            return;
        }
        if (!valid_channel(p->s + at, len)) {
            fail_at(p, at, "'%.*s' is not a valid channel name", (int) len, p->s + at);
            return;
        }
        {
            char name[128];

            memcpy(name, p->s + at, len);
            name[len] = '\0';
            emit_ref(p, name, "", at);
        }
    } else if (p->tok == T_EOF) {
        fail_at(p, p->tpos, "the expression ends where a value was expected");
    } else if (p->tok != T_BAD) {
        fail_at(p, p->tpos, "expected a value, got '%s'", p->op);
    }
}

static void parse_unary(struct parser *p);

/* x ^ y, right-associative, tighter than unary minus: -2^2 = -4 */
static void parse_power(struct parser *p)
{
    parse_primary(p);
    if (!p->failed && is_op(p, "^")) {
        next(p);
        parse_unary(p);
        emit(p, OP_POW, 0, 0, 2);
    }
}

static void parse_unary(struct parser *p)
{
    if (++p->nest > EXPR_MAX_DEPTH) {
        fail_at(p, p->tpos, "nested too deeply");
        return;
    }
    if (is_op(p, "-")) {
        next(p);
        parse_unary(p);
        emit(p, OP_NEG, 0, 0, 1);
    } else if (is_op(p, "+")) {
        next(p);
        parse_unary(p);
    } else {
        parse_power(p);
    }
    p->nest--;
}

static void parse_mul(struct parser *p)
{
    parse_unary(p);
    while (!p->failed && (is_op(p, "*") || is_op(p, "/") || is_op(p, "%"))) {
        int op = p->op[0] == '*' ? OP_MUL : p->op[0] == '/' ? OP_DIV : OP_MOD;

        next(p);
        parse_unary(p);
        emit(p, op, 0, 0, 2);
    }
}

static void parse_add(struct parser *p)
{
    parse_mul(p);
    while (!p->failed && (is_op(p, "+") || is_op(p, "-"))) {
        int op = p->op[0] == '+' ? OP_ADD : OP_SUB;

        next(p);
        parse_mul(p);
        emit(p, op, 0, 0, 2);
    }
}

static void parse_cmp(struct parser *p)
{
    static const struct {
        const char *s;
        int op;
    } cmps[] = {{"<", OP_LT},  {"<=", OP_LE}, {">", OP_GT},
                {">=", OP_GE}, {"==", OP_EQ}, {"!=", OP_NE}};

    parse_add(p);
    for (;;) {
        int op = -1;

        for (size_t i = 0; !p->failed && i < sizeof(cmps) / sizeof(cmps[0]); i++) {
            if (is_op(p, cmps[i].s)) {
                op = cmps[i].op;
            }
        }
        if (op < 0) {
            return;
        }
        next(p);
        parse_add(p);
        emit(p, op, 0, 0, 2);
    }
}

static void parse_not(struct parser *p)
{
    if (++p->nest > EXPR_MAX_DEPTH) {
        fail_at(p, p->tpos, "nested too deeply");
        return;
    }
    if (is_word(p, "not") || is_op(p, "!")) {
        next(p);
        parse_not(p);
        emit(p, OP_NOT, 0, 0, 1);
    } else {
        parse_cmp(p);
    }
    p->nest--;
}

static void parse_and(struct parser *p)
{
    parse_not(p);
    while (!p->failed && (is_word(p, "and") || is_op(p, "&&"))) {
        next(p);
        parse_not(p);
        emit(p, OP_AND, 0, 0, 2);
    }
}

static void parse_or(struct parser *p)
{
    parse_and(p);
    while (!p->failed && (is_word(p, "or") || is_op(p, "||"))) {
        next(p);
        parse_and(p);
        emit(p, OP_OR, 0, 0, 2);
    }
}

static void parse_ternary(struct parser *p)
{
    if (++p->nest > EXPR_MAX_DEPTH) {
        fail_at(p, p->tpos, "nested too deeply");
        return;
    }
    parse_or(p);
    if (!p->failed && is_op(p, "?")) {
        next(p);
        parse_ternary(p);
        expect(p, ":", "':' of the '?' before it");
        if (!p->failed) {
            parse_ternary(p);
            emit(p, OP_SELECT, 3, 0, 3);
        }
    }
    p->nest--;
}

/* ---- compile --------------------------------------------------------------------- */

void expr_free(struct expr *e)
{
    if (!e) {
        return;
    }
    free(e->code);
    free(e->refs);
    free(e->sites);
    free(e->sv);
    free(e->sq);
    free(e);
}

static int parse_all(struct parser *p)
{
    next(p);
    if (p->tok == T_EOF && !p->failed) {
        fail_at(p, 0, "the expression is empty");
    }
    parse_ternary(p);
    if (!p->failed && p->tok != T_EOF) {
        if (p->tok == T_OP) {
            fail_at(p, p->tpos, "unexpected '%s'", p->op);
        } else {
            fail_at(p, p->tpos, "expected an operator before '%.*s'", (int) p->tlen,
                    p->s + p->tpos);
        }
    }
    return p->failed ? -PQ_ECONFIG : 0;
}

int expr_compile(const char *src, size_t len, struct expr **out, struct expr_error *err)
{
    struct parser p;
    struct expr *e;
    int rc;

    memset(err, 0, sizeof(*err));
    if (len > EXPR_MAX_LEN) {
        err->col = EXPR_MAX_LEN + 1;
        snprintf(err->msg, sizeof(err->msg), "longer than %d characters", EXPR_MAX_LEN);
        return -PQ_ECONFIG;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        return -ENOMEM;
    }
    e->code = malloc(EXPR_MAX_INSNS * sizeof(*e->code));
    e->refs = calloc(EXPR_MAX_REFS, sizeof(*e->refs));
    if (!e->code || !e->refs) {
        expr_free(e);
        return -ENOMEM;
    }
    memset(&p, 0, sizeof(p));
    p.s = src;
    p.len = len;
    p.e = e;
    p.err = err;
    rc = parse_all(&p);
    if (rc == 0 && e->depth > EXPR_MAX_DEPTH) {
        err->col = 1;
        snprintf(err->msg, sizeof(err->msg), "needs a stack deeper than %d",
                 EXPR_MAX_DEPTH);
        rc = -PQ_ECONFIG;
    }
    if (rc < 0) {
        expr_free(e);
        return rc;
    }
    /* shrink to what the program uses, and take its evaluation memory now */
    {
        struct insn *code = realloc(e->code, e->ncode * sizeof(*e->code));
        struct ref *refs = realloc(e->refs, (e->nrefs ? e->nrefs : 1) * sizeof(*e->refs));

        e->code = code ? code : e->code;
        e->refs = refs ? refs : e->refs;
    }
    e->sites = calloc(e->nsites ? e->nsites : 1, sizeof(*e->sites));
    e->sv = malloc(e->depth * sizeof(*e->sv));
    e->sq = malloc(e->depth * sizeof(*e->sq));
    if (!e->sites || !e->sv || !e->sq) {
        expr_free(e);
        return -ENOMEM;
    }
    *out = e;
    return 0;
}

size_t expr_nrefs(const struct expr *e)
{
    return e->nrefs;
}

const char *expr_ref_name(const struct expr *e, size_t i)
{
    return i < e->nrefs ? e->refs[i].name : NULL;
}

int expr_ref_is_alarm(const struct expr *e, size_t i, const char **alarm_name)
{
    if (i >= e->nrefs || !e->refs[i].alarm[0]) {
        return 0;
    }
    if (alarm_name) {
        *alarm_name = e->refs[i].alarm;
    }
    return 1;
}

int expr_ref_col(const struct expr *e, size_t i)
{
    return i < e->nrefs ? e->refs[i].col : 0;
}

size_t expr_depth(const struct expr *e)
{
    return e->depth;
}

size_t expr_ninsns(const struct expr *e)
{
    return e->ncode;
}

void expr_reset(struct expr *e)
{
    memset(e->sites, 0, (e->nsites ? e->nsites : 1) * sizeof(*e->sites));
}

/* ---- evaluation ------------------------------------------------------------------ */

static double truth(double a)
{
    return isnan(a) ? NAN : (a != 0.0 ? 1.0 : 0.0);
}

static double compare(int op, double a, double b)
{
    if (isnan(a) || isnan(b)) {
        return NAN;
    }
    switch (op) {
    case OP_LT:
        return a < b;
    case OP_LE:
        return a <= b;
    case OP_GT:
        return a > b;
    case OP_GE:
        return a >= b;
    case OP_EQ:
        return a == b;
    default:
        return a != b;
    }
}

/* Kleene's three-valued and/or: a NaN side matters only when the other side
 * does not decide (0 and NaN is 0; 1 or NaN is 1).  The quality follows the
 * side that decided. */
static void logic(int op, double *v, uint32_t *q)
{
    double a = truth(v[0]), b = truth(v[1]);
    double decide = op == OP_AND ? 0.0 : 1.0;

    if (a == decide) {
        v[0] = decide;
    } else if (b == decide) {
        v[0] = decide;
        q[0] = q[1];
    } else if (isnan(a) || isnan(b)) {
        v[0] = NAN;
        q[0] |= q[1];
    } else {
        v[0] = 1.0 - decide;
        q[0] |= q[1];
    }
}

static double binary(int op, double a, double b)
{
    switch (op) {
    case OP_ADD:
        return a + b;
    case OP_SUB:
        return a - b;
    case OP_MUL:
        return a * b;
    case OP_DIV:
        return a / b;
    case OP_MOD:
        return fmod(a, b);
    case OP_POW:
        return pow(a, b);
    default:
        return compare(op, a, b);
    }
}

static double fold(int op, const double *v, size_t n)
{
    double r = v[0];

    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            return NAN;
        }
    }
    for (size_t i = 1; i < n; i++) {
        if (op == OP_MIN) {
            r = v[i] < r ? v[i] : r;
        } else if (op == OP_MAX) {
            r = v[i] > r ? v[i] : r;
        } else {
            r += v[i];
        }
    }
    return op == OP_AVG ? r / (double) n : r;
}

/* Trapezoidal rule over the time stamps of successive evaluations; a NaN
 * sample is left out (the next valid one starts a new trapezoid). */
static double integrate(struct site *s, double x, int64_t t)
{
    if (!isfinite(x)) { /* a gap: an infinity would stay in the total */
        s->have = 0;
        return s->acc;
    }
    if (s->have && t > s->prev_t) {
        s->acc += 0.5 * (x + s->prev_x) * (double) (t - s->prev_t) / 1e9;
    }
    if (!s->have || t >= s->prev_t) {
        s->prev_x = x;
        s->prev_t = t;
        s->have = 1;
    }
    return s->acc;
}

/* Backward difference per second; NaN until two samples were seen. */
static double rate(struct site *s, double x, int64_t t)
{
    if (isnan(x)) {
        s->have = 0;
        return NAN;
    }
    if (!s->have) {
        s->have = 1;
        s->prev_x = x;
        s->prev_t = t;
        s->acc = NAN;
    } else if (t > s->prev_t) {
        s->acc = (x - s->prev_x) * 1e9 / (double) (t - s->prev_t);
        s->prev_x = x;
        s->prev_t = t;
    }
    return s->acc;
}

static size_t step(struct expr *e, const struct insn *in, const struct expr_value *refs,
                   int64_t t_ns, size_t sp)
{
    double *v = e->sv;
    uint32_t *q = e->sq;

    switch (in->op) {
    case OP_CONST:
        v[sp] = in->k;
        q[sp] = 0;
        return sp + 1;
    case OP_REF:
        v[sp] = refs[in->n].value;
        q[sp] = refs[in->n].quality;
        return sp + 1;
    case OP_NEG:
        v[sp - 1] = -v[sp - 1];
        return sp;
    case OP_NOT:
        v[sp - 1] = isnan(v[sp - 1]) ? NAN : (v[sp - 1] == 0.0);
        return sp;
    case OP_ABS:
        v[sp - 1] = fabs(v[sp - 1]);
        return sp;
    case OP_SQRT:
        v[sp - 1] = sqrt(v[sp - 1]);
        return sp;
    case OP_INTEGRATE:
        v[sp - 1] = integrate(&e->sites[in->n], v[sp - 1], t_ns);
        return sp;
    case OP_RATE:
        v[sp - 1] = rate(&e->sites[in->n], v[sp - 1], t_ns);
        return sp;
    case OP_AND:
    case OP_OR:
        logic(in->op, &v[sp - 2], &q[sp - 2]);
        return sp - 1;
    case OP_SELECT: {
        double c = truth(v[sp - 3]);

        q[sp - 3] |= isnan(c) ? q[sp - 2] | q[sp - 1] : c != 0.0 ? q[sp - 2] : q[sp - 1];
        v[sp - 3] = isnan(c) ? NAN : c != 0.0 ? v[sp - 2] : v[sp - 1];
        return sp - 2;
    }
    case OP_CLAMP: {
        double x = v[sp - 3], lo = v[sp - 2], hi = v[sp - 1];

        v[sp - 3] = isnan(x) || isnan(lo) || isnan(hi) ? NAN
                    : x < lo                           ? lo
                    : x > hi                           ? hi
                                                       : x;
        q[sp - 3] |= q[sp - 2] | q[sp - 1];
        return sp - 2;
    }
    case OP_MIN:
    case OP_MAX:
    case OP_AVG: {
        size_t n = in->n, b = sp - n;

        v[b] = fold(in->op, &v[b], n);
        for (size_t i = 1; i < n; i++) {
            q[b] |= q[b + i];
        }
        return b + 1;
    }
    default: /* binary operators and comparisons */
        v[sp - 2] = binary(in->op, v[sp - 2], v[sp - 1]);
        q[sp - 2] |= q[sp - 1];
        return sp - 1;
    }
}

void expr_eval(struct expr *e, const struct expr_value *refs, int64_t t_ns,
               struct expr_value *out)
{
    size_t sp = 0;

    for (size_t i = 0; i < e->ncode; i++) {
        sp = step(e, &e->code[i], refs, t_ns, sp);
    }
    out->value = sp == 1 ? e->sv[0] : NAN;
    out->quality = sp == 1 ? e->sq[0] : 0;
    out->t_ns = t_ns;
}
