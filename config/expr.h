/* expr.h - expressions over channels: compiled once, evaluated without
 * allocation.
 *
 * The language of virtual channels and logic alarms (docs/virtual.md):
 * numbers with optional units ("230V", "5kW", "10%"), channel references
 * (bare: local/p/total, or quoted: "local/p/total"), + - * / % ^, unary -,
 * comparisons < <= > >= == !=, and/or/not (also && || !), c ? a : b and
 * if(c, a, b), and the functions min, max, avg (variadic), abs, sqrt,
 * clamp(x, lo, hi), integrate(x), rate(x), convert(x, "kW", "W") and
 * alarm("name") (1 while that alarm is active).
 *
 * A program is a flat array of stack-machine instructions with its
 * maximum stack depth, both fixed by expr_compile(); expr_eval() touches
 * only memory the program owns.  References are numbered in order of first
 * appearance; the caller resolves each (a channel name; alarm("x") is the
 * channel alarm/x/active) and passes their latest values to expr_eval().
 *
 * Values carry the quality bits of gateway/bus.h: a result's quality is the
 * OR of the qualities of the values it was computed from, and a NaN input
 * gives NaN (integrate() skips NaN and infinite samples).
 *
 * Pure: no I/O, no globals; a program belongs to one thread.
 */
#ifndef PQGATE_EXPR_H
#define PQGATE_EXPR_H

#include <stddef.h>
#include <stdint.h>

#define EXPR_MAX_LEN   4096 /* bytes of source */
#define EXPR_MAX_INSNS 1024 /* instructions of a program */
#define EXPR_MAX_REFS  64   /* distinct references */
#define EXPR_MAX_DEPTH 256  /* stack depth (and parser nesting) */

struct expr; /* opaque */

/* Where and why compilation failed: col is 1-based in the source. */
struct expr_error {
    int col;
    char msg[160];
};

/* A value with its time stamp and quality, as struct bus_value. */
struct expr_value {
    double value;
    int64_t t_ns;
    uint32_t quality;
};

/* Compile src[0..len) (need not be NUL-terminated).  Returns 0 and the
 * program in *out (release with expr_free()), -PQ_ECONFIG with err filled
 * (e.g. col 14, "unknown function 'mx' (did you mean 'max'?)"), or
 * -ENOMEM. */
int expr_compile(const char *src, size_t len, struct expr **out, struct expr_error *err);
void expr_free(struct expr *e); /* NULL is a no-op */

/* References: n of them; name i is a channel name (valid for the
 * program's life); is_alarm is 1 when it came from alarm("x") (name is then
 * "alarm/x/active" and *alarm_name "x"), col its column in the source. */
size_t expr_nrefs(const struct expr *e);
const char *expr_ref_name(const struct expr *e, size_t i);
int expr_ref_is_alarm(const struct expr *e, size_t i, const char **alarm_name);
int expr_ref_col(const struct expr *e, size_t i);

size_t expr_depth(const struct expr *e); /* maximum stack depth */
size_t expr_ninsns(const struct expr *e);

/* Evaluate with refs[i] the latest value of reference i (expr_nrefs() of
 * them) at time t_ns (CLOCK_REALTIME; integrate() and rate() take their time
 * steps from it).  Writes value and quality into *out, out->t_ns = t_ns.
 * Allocates nothing. */
void expr_eval(struct expr *e, const struct expr_value *refs, int64_t t_ns,
               struct expr_value *out);

/* Forget the state of integrate() and rate() call sites. */
void expr_reset(struct expr *e);

/* Conversion factor between two units of the same dimension, "kW" -> "W":
 * value_in_to = value_in_from * factor.  Units: W var VA Wh varh VAh J V A Hz
 * s min h d % (as a number) m3 l with prefixes m k M G (not for %, min, h,
 * d, l).  Returns 0 or -PQ_ECONFIG (unknown unit or different dimensions). */
int expr_unit_factor(const char *from, const char *to, double *factor);

/* A number with an optional unit of the table above, blanks allowed
 * between: "250 V", "5kW", "-3", "10 %".  *v in the base unit; *is_pct 1
 * for "%" (then *v is the number of percent).  Returns 0 or -PQ_ECONFIG. */
int expr_parse_quantity(const char *s, double *v, int *is_pct);

#endif
