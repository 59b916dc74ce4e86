/* units.h - the one place where durations, sizes and SI quantities are
 * parsed and printed, for config files, --set overrides and the CLI.
 *
 * Parsers take a NUL-terminated string, accept surrounding blanks (space,
 * tab), and never allocate.  On error they return -PQ_ECONFIG and leave *out
 * untouched; the caller reports where (file:line:col) and units_expected_*()
 * says what.  (units_parse_quantity() and units_parse_double() may also
 * return -ENOMEM if the "C" locale cannot be had on first use; glibc never
 * fails it.)
 *
 * A number is written as in YAML 1.2, always with '.' whatever the locale:
 * [-+]? ( digits [. digits?] | . digits ) ( [eE] [-+]? digits )?, so "5.",
 * ".5" and "1e3" are numbers; "inf", "nan", "0x1p3" and "1,5" are not.
 * Blanks may separate number and unit; units are case-sensitive.  Every
 * function here is thread-safe.
 */
#ifndef PQGATE_UNITS_H
#define PQGATE_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_NS_PER_S 1000000000LL

/* Duration: a number and a unit, "200ms", "1.5 s", "10min", "2h", "1d";
 * units ns, us, ms, s, min, h, d.  A bare zero ("0", "0.0") is accepted; any
 * other bare number is rejected (is 5 seconds or milliseconds?).  Result in
 * whole ns, rounded to nearest (halves up), computed exactly from the
 * decimal digits; must fit in int64.  No sign: "-1s" and "+1s" are
 * rejected. */
int units_parse_duration(const char *s, int64_t *ns_out);

/* Size in bytes: "512MB", "64 KiB", "1GB", "100B", or a bare number (bytes).
 * kB/MB/GB/TB are powers of 1000 ("KB" is read as kB), KiB/MiB/GiB/TiB
 * powers of 1024.  A fraction is accepted when the result is a whole byte
 * count ("1.5GB", "0.5KiB"; not "0.3KiB").  Must fit in uint64; no sign. */
int units_parse_size(const char *s, uint64_t *bytes_out);

/* Quantity in the SI unit `unit` ("V", "A", "Hz", "W", "var", "VA", "Wh",
 * "%", "s"...): "230 V", "11kV", "0.5 mA", "2.5M" is rejected unless unit
 * is "" (dimensionless).  A bare number is taken in the base unit.  Prefixes:
 * p n u (or the micro sign U+00B5 in UTF-8) m k M G; "%" takes none ("2%"
 * and "2 %" both read).  The whole unit is tried before prefix + unit (with
 * a unit "m", "m" is the unit and "mm" milli).  The result is in the base
 * unit, within one ulp of exact; a magnitude beyond double, or a non-zero
 * that would become 0, is rejected (subnormals are kept).  unit: not NULL. */
int units_parse_quantity(const char *s, const char *unit, double *out);

/* Plain numbers, strict: the whole string must be the number.  Integers
 * are decimal (a leading 0 is not octal: "010" is 10) or take a 0x prefix,
 * with an optional sign.  Doubles follow the number syntax above, with the
 * range rules of units_parse_quantity(). */
int units_parse_int(const char *s, int64_t *out);
int units_parse_double(const char *s, double *out);
int units_parse_bool(const char *s, int *out); /* true/false yes/no on/off, any case */

/* Formatters write text the matching parser reads back ("200ms", "10min",
 * "512MB", "11 kV"), NUL-terminated, truncated to cap.  Return the length
 * that the full text needs (as snprintf); buf may be NULL when cap is 0.
 *
 * Durations, exact: a whole count of the largest unit that divides
 * ("1500us", "90min"); 0 is "0s".  Negative ns print with a '-' (for logs:
 * the parser refuses them).  Sizes, exact: the largest of TB..kB that
 * divides, else of TiB..KiB, else bytes ("1024kB", "64KiB", "1536B"); 0 is
 * "0B".
 *
 * Quantities are not exact: they are rounded to 6 significant digits, with
 * the prefix (p..G, micro as ASCII "u") that puts the number in [1, 1000)
 * and a space before the unit: "230 V", "11 kV", "500 mA", "123.457 kV".
 * "" and "%" take no prefix: "0.5", "2.5e+06", "2 %".  Beyond G or p the
 * number grows, then takes an exponent ("5000 GV", "1e-05 pV").  Parsing
 * the text gives v within 5e-6 of it, relative, and printing that again
 * gives the same text.  NaN and infinities print as "nan V", "-inf V", which
 * the parser refuses. */
int units_format_duration(char *buf, size_t cap, int64_t ns);
int units_format_size(char *buf, size_t cap, uint64_t bytes);
int units_format_quantity(char *buf, size_t cap, double v, const char *unit);

/* What a parser expected, for error messages: "a duration like 200ms, 10min
 * or 1h".  Constant strings. */
const char *units_expected_duration(void);
const char *units_expected_size(void);

#endif
