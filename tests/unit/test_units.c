/* test_units.c - config/units: parsers, formatters, and their round trips.
 *
 * Every rejection goes through assert_rejected_by(), which also asserts that the
 * parser left *out alone.  Random round trips use a fixed-seed xorshift, so a
 * failure repeats.
 */
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/units.h"
#include "pq/err.h"

#define N_RANDOM   4000      /* random values per round-trip test */
#define SIX_DIGITS 5.0001e-6 /* relative error of rounding to 6 significant digits */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers: on failure each prints its input, then fails ---- */

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g is not within %g of %.17g\n", got, tol, want);
        fail();
    }
}

static void assert_duration(const char *s, int64_t want)
{
    int64_t got = -1;
    int rc = units_parse_duration(s, &got);

    if (rc != 0 || got != want) {
        print_error("duration \"%s\": rc %d, %" PRId64 " ns; want %" PRId64 "\n", s, rc,
                    got, want);
        fail();
    }
}

static void assert_size(const char *s, uint64_t want)
{
    uint64_t got = 1;
    int rc = units_parse_size(s, &got);

    if (rc != 0 || got != want) {
        print_error("size \"%s\": rc %d, %" PRIu64 " B; want %" PRIu64 "\n", s, rc, got,
                    want);
        fail();
    }
}

/* Quantities: the result must be within one part in 1e15 of want. */
static void assert_quantity(const char *s, const char *unit, double want)
{
    double got = -1;
    int rc = units_parse_quantity(s, unit, &got);

    if (rc != 0 || !(fabs(got - want) <= 1e-15 * fabs(want))) {
        print_error("quantity \"%s\" in \"%s\": rc %d, %.17g; want %.17g\n", s, unit, rc,
                    got, want);
        fail();
    }
}

enum parser { P_DURATION, P_SIZE, P_QUANTITY, P_INT, P_DOUBLE, P_BOOL };

static int run_parser(enum parser p, const char *s, const char *unit, void *out)
{
    switch (p) {
    case P_DURATION:
        return units_parse_duration(s, out);
    case P_SIZE:
        return units_parse_size(s, out);
    case P_QUANTITY:
        return units_parse_quantity(s, unit, out);
    case P_INT:
        return units_parse_int(s, out);
    case P_DOUBLE:
        return units_parse_double(s, out);
    case P_BOOL:
        return units_parse_bool(s, out);
    }
    return 0;
}

union parse_out {
    int64_t i;
    uint64_t u; /* compared: covers every member's bytes */
    double d;
    int b;
};

/* s (a quantity in unit) must give -PQ_ECONFIG and leave *out as it was. */
static void assert_rejected_by(enum parser p, const char *s, const char *unit)
{
    union parse_out out;
    union parse_out before;
    int rc;

    memset(&out, 0xa5, sizeof(out));
    memcpy(&before, &out, sizeof(out));
    rc = run_parser(p, s, unit, &out);
    if (rc != -PQ_ECONFIG || out.u != before.u) {
        print_error("parser %d accepted \"%s\" (rc %d) or touched *out\n", (int) p, s,
                    rc);
        fail();
    }
}

static void assert_rejected(enum parser p, const char *s)
{
    assert_rejected_by(p, s, "V");
}

static void assert_rejected_in(const char *s, const char *unit)
{
    assert_rejected_by(P_QUANTITY, s, unit);
}

/* A formatter returned n and wrote got; want is the full text. */
static void assert_text(const char *what, int n, const char *got, const char *want)
{
    if (n != (int) strlen(want) || strcmp(got, want) != 0) {
        print_error("%s: \"%s\" (%d); want \"%s\"\n", what, got, n, want);
        fail();
    }
}

static void assert_duration_text(int64_t ns, const char *want)
{
    char buf[64];

    assert_text("duration", units_format_duration(buf, sizeof(buf), ns), buf, want);
}

static void assert_size_text(uint64_t bytes, const char *want)
{
    char buf[64];

    assert_text("size", units_format_size(buf, sizeof(buf), bytes), buf, want);
}

static void assert_quantity_text(double v, const char *unit, const char *want)
{
    char buf[64];

    assert_text("quantity", units_format_quantity(buf, sizeof(buf), v, unit), buf, want);
}

/* xorshift64*: the same sequence on every platform. */
static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* ---- durations ---- */

static void test_duration_each_unit_scales_to_ns(void **state)
{
    (void) state;
    assert_duration("1ns", 1);
    assert_duration("1us", 1000);
    assert_duration("1ms", 1000000);
    assert_duration("1s", UNITS_NS_PER_S);
    assert_duration("1min", 60 * UNITS_NS_PER_S);
    assert_duration("1h", 3600 * UNITS_NS_PER_S);
    assert_duration("1d", 86400 * UNITS_NS_PER_S);
    assert_duration("200ms", 200000000);
    assert_duration("10min", 600 * UNITS_NS_PER_S);
    assert_duration("2h", 7200 * UNITS_NS_PER_S);
    assert_duration("007s", 7 * UNITS_NS_PER_S);
}

static void test_duration_fraction_rounds_to_nearest_ns(void **state)
{
    (void) state;
    assert_duration("1.5s", 1500000000);
    assert_duration("0.5ms", 500000);
    assert_duration("0.1s", 100000000);
    assert_duration(".25s", 250000000);
    assert_duration("2.s", 2 * UNITS_NS_PER_S);
    assert_duration("0.5min", 30 * UNITS_NS_PER_S);
    assert_duration("1.4ns", 1);
    assert_duration("1.5ns", 2); /* halves round up */
    assert_duration("1.49999999999999999999ns", 1);
    assert_duration("0.0000000005s", 1);
    assert_duration("0.0000000004999s", 0);
    assert_duration("0.0001us", 0);
    assert_duration("0.000000000000001d", 0);   /* 0.0864 ns */
    assert_duration("0.00000000000001d", 1);    /* 0.864 ns */
    assert_duration("0.000000000001d", 86);     /* 86.4 ns */
    assert_duration("0.0000000000005787d", 50); /* 49.99968 ns */
    assert_duration("1.0000000001h", 3600000000360);
}

static void test_duration_blanks_around_and_between_are_accepted(void **state)
{
    (void) state;
    assert_duration(" 5s", 5 * UNITS_NS_PER_S);
    assert_duration("5s ", 5 * UNITS_NS_PER_S);
    assert_duration("5 s", 5 * UNITS_NS_PER_S);
    assert_duration("\t 1.5 \t min \t", 90 * UNITS_NS_PER_S);
}

static void test_duration_bare_zero_is_accepted(void **state)
{
    (void) state;
    assert_duration("0", 0);
    assert_duration(" 0 ", 0);
    assert_duration("0.0", 0);
    assert_duration("0s", 0);
    assert_duration("0d", 0);
}

static void test_duration_bare_nonzero_number_is_rejected(void **state)
{
    (void) state;
    assert_rejected(P_DURATION, "5");
    assert_rejected(P_DURATION, "1.5");
    assert_rejected(P_DURATION, "0.000001");
    assert_rejected(P_DURATION, "1e3");
}

static void test_duration_sign_is_rejected(void **state)
{
    (void) state;
    assert_rejected(P_DURATION, "-1s");
    assert_rejected(P_DURATION, "-0s");
    assert_rejected(P_DURATION, "- 1s");
    assert_rejected(P_DURATION, "+1s");
    assert_rejected(P_DURATION, "-0");
}

static void test_duration_unknown_unit_is_rejected(void **state)
{
    static const char *const bad[] = {
        "5sec",  "5S",         "5 MS", "5m", "5mins", "5hr",   "5H",    "5D", "5 ss",
        "5 s s", "5\xc2\xb5s", "5Ms",  "5y", "5 w",   "5min.", "5 ns0", "5%",
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected(P_DURATION, bad[i]);
    }
}

static void test_duration_malformed_text_is_rejected(void **state)
{
    static const char *const bad[] = {
        "",       "   ",  "\t",   "s",   ".s",   ". s",   "1..5s",  "1.5.3s",
        "1e",     "1es",  "1e+s", "nan", "nans", "inf s", "infs",   "0x10s",
        "1 000s", "1,5s", "5s x", "5s,", "(5s)", "5s\n",  "1_000s", "5 s 5 s",
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected(P_DURATION, bad[i]);
    }
}

static void test_duration_int64_limit_is_accepted_and_one_past_is_rejected(void **state)
{
    (void) state;
    /* INT64_MAX ns is 106751.99116730064 days. */
    assert_duration("106751d", 106751LL * 86400 * UNITS_NS_PER_S);
    assert_rejected(P_DURATION, "106752d");
    assert_duration("2562047h", 2562047LL * 3600 * UNITS_NS_PER_S);
    assert_rejected(P_DURATION, "2562048h");
    assert_duration("9223372036854775807ns", INT64_MAX);
    assert_rejected(P_DURATION, "9223372036854775808ns");
    assert_duration("9223372036854775807.4ns", INT64_MAX);
    assert_rejected(P_DURATION, "9223372036854775807.5ns"); /* rounds past */
    assert_duration("9223372036854775.8074us", INT64_MAX);
    assert_rejected(P_DURATION, "9223372036854775.8075us");
    assert_duration("9223372036.854775807s", INT64_MAX);
    assert_rejected(P_DURATION, "9223372036.854775808s");
    assert_rejected(P_DURATION, "18446744073709551615ns");   /* UINT64_MAX */
    assert_rejected(P_DURATION, "18446744073709551615.5ns"); /* must not wrap */
    assert_rejected(P_DURATION, "18446744073709551616ns");
    assert_rejected(P_DURATION, "99999999999999999999999999999999d");
}

static void test_duration_exponent_is_applied_exactly(void **state)
{
    (void) state;
    assert_duration("1e3ms", UNITS_NS_PER_S);
    assert_duration("1E3ms", UNITS_NS_PER_S);
    assert_duration("1.5e-3s", 1500000);
    assert_duration("15e+2us", 1500000);
    assert_duration("1e-12s", 0);
    assert_duration("6e-10s", 1);
    assert_duration("0e999999999999999999999s", 0);
    assert_duration("1e000000000000000000000003ns", 1000);
    assert_rejected(P_DURATION, "1e19ns");
    assert_rejected(P_DURATION, "1e999999999999999999999s");
    assert_duration("1e-999999999999999999999s", 0);
}

static void test_duration_long_mantissa_is_exact(void **state)
{
    (void) state;
    assert_duration("0.000000001000000000000000000000000000000000000001s", 1);
    assert_duration("0.000000000500000000000000000000000000000000000000s", 1);
    assert_duration("0.000000000499999999999999999999999999999999999999s", 0);
    assert_duration("000000000000000000000000000000000000000005s", 5 * UNITS_NS_PER_S);
    assert_duration("1.000000000000000000000000000000000000000000000001d",
                    86400 * UNITS_NS_PER_S);
}

static void test_duration_format_picks_largest_exact_unit(void **state)
{
    (void) state;
    assert_duration_text(1, "1ns");
    assert_duration_text(1500, "1500ns");
    assert_duration_text(1000, "1us");
    assert_duration_text(1500000, "1500us");
    assert_duration_text(200000000, "200ms");
    assert_duration_text(1500000000, "1500ms");
    assert_duration_text(5 * UNITS_NS_PER_S, "5s");
    assert_duration_text(90 * UNITS_NS_PER_S, "90s");
    assert_duration_text(600 * UNITS_NS_PER_S, "10min");
    assert_duration_text(5400 * UNITS_NS_PER_S, "90min");
    assert_duration_text(7200 * UNITS_NS_PER_S, "2h");
    assert_duration_text(86400 * UNITS_NS_PER_S, "1d");
    assert_duration_text(106751LL * 86400 * UNITS_NS_PER_S, "106751d");
    assert_duration_text(INT64_MAX, "9223372036854775807ns");
}

static void test_duration_format_of_zero_is_0s(void **state)
{
    (void) state;
    assert_duration_text(0, "0s");
}

static void test_duration_format_of_negative_has_minus_sign(void **state)
{
    (void) state;
    assert_duration_text(-5 * UNITS_NS_PER_S, "-5s");
    assert_duration_text(-1, "-1ns");
    assert_duration_text(INT64_MIN, "-9223372036854775808ns");
    assert_rejected(P_DURATION, "-5s"); /* printed for logs, not read back */
}

static void test_duration_format_truncates_and_returns_full_length(void **state)
{
    char buf[4];

    (void) state;
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(units_format_duration(buf, sizeof(buf), 600 * UNITS_NS_PER_S), 5);
    assert_string_equal(buf, "10m");
    assert_int_equal(units_format_duration(buf, 1, 1), 3);
    assert_string_equal(buf, "");
    assert_int_equal(units_format_duration(NULL, 0, INT64_MAX), 21);
}

static void round_trip_duration(int64_t ns)
{
    char buf[32];
    int64_t back = -1;
    int n = units_format_duration(buf, sizeof(buf), ns);

    assert_true(n > 0 && (size_t) n < sizeof(buf));
    if (units_parse_duration(buf, &back) != 0 || back != ns) {
        print_error("%" PRId64 " ns -> \"%s\" -> %" PRId64 "\n", ns, buf, back);
        fail();
    }
}

static void test_duration_round_trip_over_table_is_exact(void **state)
{
    static const int64_t table[] = {
        0,
        1,
        999,
        1000,
        1001,
        999999,
        1000000,
        UNITS_NS_PER_S - 1,
        UNITS_NS_PER_S,
        59 * UNITS_NS_PER_S,
        60 * UNITS_NS_PER_S,
        61 * UNITS_NS_PER_S,
        3600 * UNITS_NS_PER_S,
        86400 * UNITS_NS_PER_S,
        86400 * UNITS_NS_PER_S + 1,
        106751LL * 86400 * UNITS_NS_PER_S,
        INT64_MAX - 1,
        INT64_MAX,
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(table); i++) {
        round_trip_duration(table[i]);
    }
}

static void test_duration_round_trip_over_random_values_is_exact(void **state)
{
    static const int64_t unit_ns[] = {1,
                                      1000,
                                      1000000,
                                      UNITS_NS_PER_S,
                                      60 * UNITS_NS_PER_S,
                                      3600 * UNITS_NS_PER_S,
                                      86400 * UNITS_NS_PER_S};
    uint64_t seed = 0x5eed0001;
    int i;

    (void) state;
    for (i = 0; i < N_RANDOM; i++) {
        uint64_t r = rnd_next(&seed);
        int64_t u = unit_ns[r % ARRAY_LEN(unit_ns)];
        int64_t ns;

        switch (i % 3) {
        case 0: /* any non-negative int64 */
            ns = (int64_t) (rnd_next(&seed) >> 1);
            break;
        case 1: /* a whole number of some unit, up to the limit */
            ns = (int64_t) (rnd_next(&seed) % ((uint64_t) (INT64_MAX / u) + 1)) * u;
            break;
        default: /* a small count of some unit */
            ns = (int64_t) (rnd_next(&seed) % 10000) * u;
            break;
        }
        round_trip_duration(ns);
    }
}

/* ---- sizes ---- */

static void test_size_each_unit_scales_to_bytes(void **state)
{
    (void) state;
    assert_size("1B", 1);
    assert_size("1kB", 1000);
    assert_size("1KB", 1000);
    assert_size("1MB", 1000000);
    assert_size("1GB", 1000000000);
    assert_size("1TB", 1000000000000);
    assert_size("1KiB", 1024);
    assert_size("1MiB", 1048576);
    assert_size("1GiB", 1073741824);
    assert_size("1TiB", 1099511627776);
    assert_size("512MB", 512000000);
    assert_size("64 KiB", 65536);
    assert_size("100B", 100);
    assert_size(" \t2 GiB\t ", 2147483648);
}

static void test_size_bare_integer_is_bytes(void **state)
{
    (void) state;
    assert_size("0", 0);
    assert_size("4096", 4096);
    assert_size(" 4096 ", 4096);
    assert_size("1e3", 1000);
    assert_size("0B", 0);
    assert_size("0TiB", 0);
}

static void test_size_fraction_giving_whole_bytes_is_accepted(void **state)
{
    (void) state;
    assert_size("1.5GB", 1500000000);
    assert_size("0.5KiB", 512);
    assert_size("1.25KiB", 1280);
    assert_size("0.001kB", 1);
    assert_size("1.000000001GB", 1000000001);
    assert_size("2.0B", 2);
    assert_size("0.0009765625MiB", 1024);
    assert_size(".5kB", 500);
}

static void test_size_fraction_giving_partial_byte_is_rejected(void **state)
{
    (void) state;
    assert_rejected(P_SIZE, "1.5");
    assert_rejected(P_SIZE, "1.5B");
    assert_rejected(P_SIZE, "0.3KiB"); /* 307.2 */
    assert_rejected(P_SIZE, "1.0000000001GB");
    assert_rejected(P_SIZE, "0.0001kB");
    assert_rejected(P_SIZE, "1e-1");
    assert_rejected(P_SIZE, "1.00000000000000000000000000001B");
}

static void test_size_sign_is_rejected(void **state)
{
    (void) state;
    assert_rejected(P_SIZE, "-1");
    assert_rejected(P_SIZE, "-1MB");
    assert_rejected(P_SIZE, "-0");
    assert_rejected(P_SIZE, "+1MB");
}

static void test_size_unknown_unit_is_rejected(void **state)
{
    static const char *const bad[] = {
        "5kb", "5Kb",  "5mb",  "5Mb", "5b",    "5KIB", "5kiB",    "5Ki", "5K",  "5k",
        "5M",  "5 PB", "5PiB", "5EB", "5 B B", "5BB",  "5 bytes", "5mB", "5gb", "5 Mib",
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected(P_SIZE, bad[i]);
    }
}

static void test_size_malformed_text_is_rejected(void **state)
{
    static const char *const bad[] = {
        "",       "  ",  "B",   "MB", "0x10", "1 000", "1,5MB",
        "1..5MB", "nan", "inf", "1e", "5MB!", "5MB 5", "5 MB x",
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected(P_SIZE, bad[i]);
    }
}

static void test_size_uint64_limit_is_accepted_and_one_past_is_rejected(void **state)
{
    (void) state;
    assert_size("18446744073709551615", UINT64_MAX);
    assert_size("18446744073709551615B", UINT64_MAX);
    assert_rejected(P_SIZE, "18446744073709551616");
    assert_size("18446744073709551.615kB", UINT64_MAX);
    assert_rejected(P_SIZE, "18446744073709552kB");
    assert_size("16777215TiB", 16777215ULL << 40);
    assert_rejected(P_SIZE, "16777216TiB"); /* 2^64 */
    assert_size("18446744TB", 18446744000000000000ULL);
    assert_rejected(P_SIZE, "18446745TB");
    assert_rejected(P_SIZE, "1e20");
    assert_rejected(P_SIZE, "99999999999999999999999999999999999");
}

static void test_size_format_prefers_decimal_then_binary_then_bytes(void **state)
{
    (void) state;
    assert_size_text(0, "0B");
    assert_size_text(1, "1B");
    assert_size_text(100, "100B");
    assert_size_text(1000, "1kB");
    assert_size_text(1024, "1KiB");
    assert_size_text(65536, "64KiB");
    assert_size_text(512000000, "512MB");
    assert_size_text(1500000000, "1500MB");
    assert_size_text(1024000, "1024kB"); /* decimal first */
    assert_size_text(1048576, "1MiB");
    assert_size_text(1073741824, "1GiB");
    assert_size_text(3ULL << 40, "3TiB");
    assert_size_text(5000000000000000ULL, "5000TB");
    assert_size_text(1536, "1536B"); /* 1.5 KiB: printed whole */
    assert_size_text(UINT64_MAX, "18446744073709551615B");
}

static void test_size_format_truncates_and_returns_full_length(void **state)
{
    char buf[3];

    (void) state;
    assert_int_equal(units_format_size(buf, sizeof(buf), 512000000), 5);
    assert_string_equal(buf, "51");
    assert_int_equal(units_format_size(NULL, 0, UINT64_MAX), 21);
}

static void round_trip_size(uint64_t bytes)
{
    char buf[32];
    uint64_t back = 1;
    int n = units_format_size(buf, sizeof(buf), bytes);

    assert_true(n > 0 && (size_t) n < sizeof(buf));
    if (units_parse_size(buf, &back) != 0 || back != bytes) {
        print_error("%" PRIu64 " B -> \"%s\" -> %" PRIu64 "\n", bytes, buf, back);
        fail();
    }
}

static void test_size_round_trip_over_table_is_exact(void **state)
{
    static const uint64_t table[] = {
        0,
        1,
        999,
        1000,
        1023,
        1024,
        1025,
        4096,
        1000000,
        1048576,
        1000000000,
        1ULL << 30,
        1ULL << 40,
        1ULL << 50,
        1000000000000000000ULL,
        1ULL << 63,
        UINT64_MAX,
        UINT64_MAX - 1,
        18446744000000000000ULL,
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(table); i++) {
        round_trip_size(table[i]);
    }
}

static void test_size_round_trip_over_random_values_is_exact(void **state)
{
    static const uint64_t unit_b[] = {
        1,          1000,       1000000,    1000000000, 1000000000000ULL,
        1ULL << 10, 1ULL << 20, 1ULL << 30, 1ULL << 40};
    uint64_t seed = 0x5eed0002;
    int i;

    (void) state;
    for (i = 0; i < N_RANDOM; i++) {
        uint64_t u = unit_b[rnd_next(&seed) % ARRAY_LEN(unit_b)];
        uint64_t b;

        switch (i % 3) {
        case 0:
            b = rnd_next(&seed);
            break;
        case 1:
            b = rnd_next(&seed);
            b = u == 1 ? b : (b % (UINT64_MAX / u + 1)) * u; /* u > 1: no wrap */
            break;
        default:
            b = (rnd_next(&seed) % 10000) * u;
            break;
        }
        round_trip_size(b);
    }
}

/* ---- quantities ---- */

static void test_quantity_bare_number_is_in_base_unit(void **state)
{
    (void) state;
    assert_quantity("230", "V", 230.0);
    assert_quantity(" 0.5 ", "A", 0.5);
    assert_quantity("50", "Hz", 50.0);
    assert_quantity("1e3", "W", 1000.0);
    assert_quantity("0.95", "", 0.95);
}

static void test_quantity_every_listed_unit_parses_with_and_without_prefix(void **state)
{
    (void) state;
    assert_quantity("230 V", "V", 230.0);
    assert_quantity("11kV", "V", 11000.0);
    assert_quantity("5 A", "A", 5.0);
    assert_quantity("0.5 mA", "A", 0.0005);
    assert_quantity("50 Hz", "Hz", 50.0);
    assert_quantity("20 mHz", "Hz", 0.02);
    assert_quantity("1.5 kW", "W", 1500.0);
    assert_quantity("-3 kvar", "var", -3000.0);
    assert_quantity("2 Mvar", "var", 2e6);
    assert_quantity("100 VA", "VA", 100.0);
    assert_quantity("1.5MVA", "VA", 1.5e6);
    assert_quantity("12 kWh", "Wh", 12000.0);
    assert_quantity("3 GWh", "Wh", 3e9);
    assert_quantity("2 %", "%", 2.0);
    assert_quantity("0.2 s", "s", 0.2);
    assert_quantity("200 ms", "s", 0.2);
    assert_quantity("2.5M", "", 2.5e6);
}

static void test_quantity_each_prefix_scales_by_its_power_of_ten(void **state)
{
    (void) state;
    assert_quantity("1 pV", "V", 1e-12);
    assert_quantity("1 nV", "V", 1e-9);
    assert_quantity("1 uV", "V", 1e-6);
    assert_quantity("1 mV", "V", 1e-3);
    assert_quantity("1 V", "V", 1.0);
    assert_quantity("1 kV", "V", 1e3);
    assert_quantity("1 MV", "V", 1e6);
    assert_quantity("1 GV", "V", 1e9);
    assert_quantity("0.3 mA", "A", 0.0003); /* one rounding, not two */
    assert_quantity("1.1 kV", "V", 1100.0);
    assert_quantity("3 p", "", 3e-12);
    assert_quantity("3 G", "", 3e9);
}

static void test_quantity_micro_sign_is_micro(void **state)
{
    (void) state;
    assert_quantity("5 \xc2\xb5"
                    "A",
                    "A", 5e-6);
    assert_quantity("5\xc2\xb5V", "V", 5e-6);
    assert_quantity("5 \xc2\xb5", "", 5e-6);
    assert_rejected_in("5 \xc2"
                       "A",
                       "A"); /* half a micro sign */
    assert_rejected_in("5 \xb5"
                       "A",
                       "A"); /* Latin-1, not UTF-8 */
    assert_rejected_in("5 \xce\xbc"
                       "A",
                       "A"); /* Greek mu: not listed */
}

static void test_quantity_percent_takes_no_prefix_and_optional_blank(void **state)
{
    (void) state;
    assert_quantity("2%", "%", 2.0);
    assert_quantity("2 %", "%", 2.0);
    assert_quantity("0.5\t%", "%", 0.5);
    assert_quantity("2", "%", 2.0);
    assert_rejected_in("2 m%", "%");
    assert_rejected_in("2 k%", "%");
    assert_rejected_in("2 k", "%");
    assert_rejected_in("2 %%", "%");
    assert_rejected_in("2 %", "");
    assert_rejected_in("2 %", "V");
}

static void test_quantity_prefix_without_unit_is_dimensionless_only(void **state)
{
    (void) state;
    assert_quantity("2.5M", "", 2.5e6);
    assert_quantity("2.5 k", "", 2500.0);
    assert_quantity("7m", "", 0.007);
    assert_rejected_in("2.5M", "V");
    assert_rejected_in("2.5 k", "A");
    assert_rejected_in("2.5 V", "");
    assert_rejected_in("2.5 kk", "");
}

static void test_quantity_whole_unit_match_wins_over_prefix(void **state)
{
    (void) state;
    /* No listed unit starts with a prefix letter; a unit "m" would. */
    assert_quantity("5 m", "m", 5.0);
    assert_quantity("5 mm", "m", 0.005);
    assert_quantity("5 km", "m", 5000.0);
    assert_quantity("5 Mm", "m", 5e6);
}

static void test_quantity_min_is_not_a_seconds_prefix(void **state)
{
    (void) state;
    assert_rejected_in("5 min", "s");
    assert_rejected_in("5 h", "s");
    assert_quantity("5 ms", "s", 0.005);
    assert_quantity("5 us", "s", 5e-6);
    assert_quantity("5 ks", "s", 5000.0);
}

static void test_quantity_wrong_or_misspelt_unit_is_rejected(void **state)
{
    (void) state;
    assert_rejected_in("230 v", "V");
    assert_rejected_in("230 A", "V");
    assert_rejected_in("11 KV", "V"); /* capital K is not kilo */
    assert_rejected_in("11 k V", "V");
    assert_rejected_in("5 mVA", "var");
    assert_rejected_in("5 VAr", "var");
    assert_rejected_in("5 kVAh", "VA");
    assert_rejected_in("5 Wh", "W");
    assert_rejected_in("5 W", "Wh");
    assert_rejected_in("5 hz", "Hz");
    assert_rejected_in("5 mkV", "V"); /* one prefix only */
    assert_rejected_in("5 TV", "V");  /* T is not a listed prefix */
    assert_rejected_in("5 fV", "V");
    assert_rejected_in("5 Vk", "V");
    assert_rejected_in("5 V V", "V");
    assert_rejected_in("5 VV", "V");
}

static void test_quantity_negative_value_is_accepted(void **state)
{
    (void) state;
    assert_quantity("-5 kvar", "var", -5000.0);
    assert_quantity("-0.5", "", -0.5);
    assert_quantity("+5 V", "V", 5.0);
    assert_quantity("-1.5e-3 A", "A", -0.0015);
}

static void test_quantity_nan_inf_and_out_of_range_are_rejected(void **state)
{
    (void) state;
    assert_rejected_in("nan", "");
    assert_rejected_in("NaN V", "V");
    assert_rejected_in("inf V", "V");
    assert_rejected_in("-inf", "");
    assert_rejected_in("infinity", "");
    assert_rejected_in("1e309 V", "V");
    assert_rejected_in("-1e309", "");
    assert_rejected_in("1e300 GV", "V"); /* overflows once scaled */
    assert_rejected_in("1e-400 V", "V"); /* nothing left of it */
    assert_rejected_in("1e-320 pV", "V");
    assert_quantity("1e-300 pV", "V", 1e-312); /* subnormal, kept */
    assert_quantity("1.7976931348623157e308", "", DBL_MAX);
    assert_quantity("0e-400", "", 0.0);
}

static void test_quantity_malformed_text_is_rejected(void **state)
{
    static const char *const bad[] = {
        "",        " ",      "V",     "kV",    ".V",      "1..5 V",
        "1.5.3 V", "0x10 V", "0x1p3", "1,5 V", "1 000 V", "230 V!",
        "230 V 5", "--5 V",  "+-5 V", "5-V",   "(5) V",   "5e V",
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected_in(bad[i], "V");
    }
}

static void test_quantity_format_picks_engineering_prefix(void **state)
{
    (void) state;
    assert_quantity_text(230.0, "V", "230 V");
    assert_quantity_text(11000.0, "V", "11 kV");
    assert_quantity_text(0.5, "A", "500 mA");
    assert_quantity_text(1.0, "A", "1 A");
    assert_quantity_text(999.0, "A", "999 A");
    assert_quantity_text(1000.0, "A", "1 kA");
    assert_quantity_text(0.001, "A", "1 mA");
    assert_quantity_text(0.00099, "A", "990 uA"); /* ASCII u, not the micro sign */
    assert_quantity_text(2.5e-9, "s", "2.5 ns");
    assert_quantity_text(1e-12, "V", "1 pV");
    assert_quantity_text(1.5e6, "VA", "1.5 MVA");
    assert_quantity_text(2e9, "Wh", "2 GWh");
    assert_quantity_text(-5000.0, "var", "-5 kvar");
    assert_quantity_text(50.0, "Hz", "50 Hz");
    assert_quantity_text(0.02, "Hz", "20 mHz");
    assert_quantity_text(0.0, "V", "0 V");
    assert_quantity_text(-0.0, "V", "0 V");
}

static void test_quantity_format_rounds_to_six_significant_digits(void **state)
{
    (void) state;
    assert_quantity_text(123456.7, "V", "123.457 kV");
    assert_quantity_text(230.0000001, "V", "230 V");
    assert_quantity_text(1.0 / 3.0, "A", "333.333 mA");
    assert_quantity_text(999999.7, "V", "1 MV"); /* rounding carries into the prefix */
    assert_quantity_text(999.9995, "V", "1 kV");
    assert_quantity_text(0.99999949, "V", "999.999 mV");
    assert_quantity_text(-123456.7, "W", "-123.457 kW");
}

static void test_quantity_format_percent_and_dimensionless_have_no_prefix(void **state)
{
    (void) state;
    assert_quantity_text(2.0, "%", "2 %");
    assert_quantity_text(0.5, "%", "0.5 %");
    assert_quantity_text(1500.0, "%", "1500 %");
    assert_quantity_text(0.0001, "%", "0.0001 %");
    assert_quantity_text(0.00001, "%", "1e-05 %");
    assert_quantity_text(0.95, "", "0.95");
    assert_quantity_text(-0.5, "", "-0.5");
    assert_quantity_text(123456.0, "", "123456");
    assert_quantity_text(2.5e6, "", "2.5e+06");
    assert_quantity_text(0.0, "", "0");
}

static void test_quantity_format_beyond_prefix_range_uses_exponent(void **state)
{
    (void) state;
    assert_quantity_text(5e12, "V", "5000 GV");
    assert_quantity_text(1e14, "V", "100000 GV");
    assert_quantity_text(1e15, "V", "1e+06 GV");
    assert_quantity_text(1e-13, "V", "0.1 pV");
    assert_quantity_text(1e-16, "V", "0.0001 pV");
    assert_quantity_text(1e-17, "V", "1e-05 pV");
    assert_quantity_text(DBL_MAX, "W", "1.79769e+299 GW");
    assert_quantity_text(DBL_MAX, "", "1.79769e+308");
}

static void test_quantity_format_nan_and_inf_are_not_read_back(void **state)
{
    (void) state;
    assert_quantity_text(NAN, "V", "nan V");
    assert_quantity_text(INFINITY, "V", "inf V");
    assert_quantity_text(-INFINITY, "", "-inf");
    assert_rejected_in("nan V", "V");
    assert_rejected_in("inf V", "V");
}

static void test_quantity_format_truncates_and_returns_full_length(void **state)
{
    char buf[4];

    (void) state;
    assert_int_equal(units_format_quantity(buf, sizeof(buf), 11000.0, "V"), 5);
    assert_string_equal(buf, "11 ");
    assert_int_equal(units_format_quantity(NULL, 0, 123456.7, "V"), 10);
}

/* v -> text -> v within 6 significant digits, and text -> v -> text again
 * gives the same text. */
static void round_trip_quantity(double v, const char *unit)
{
    char buf[48];
    char again[48];
    double back = NAN;
    double tol = SIX_DIGITS * fabs(v) + DBL_TRUE_MIN;

    units_format_quantity(buf, sizeof(buf), v, unit);
    if (units_parse_quantity(buf, unit, &back) != 0 || !(fabs(back - v) <= tol)) {
        print_error("%.17g %s -> \"%s\" -> %.17g\n", v, unit, buf, back);
        fail();
    }
    units_format_quantity(again, sizeof(again), back, unit);
    if (strcmp(buf, again) != 0) {
        print_error("%.17g %s -> \"%s\" -> %.17g -> \"%s\"\n", v, unit, buf, back, again);
        fail();
    }
}

static const char *const quantity_units[] = {"V",  "A", "Hz", "W", "var", "VA",
                                             "Wh", "%", "s",  "",  "m"};

static void test_quantity_round_trip_over_table_is_within_six_digits(void **state)
{
    static const double table[] = {
        0.0,      1.0,      -1.0,    230.0,        11000.0,   0.5,    0.001,  999.9994,
        999.9996, 1e-12,    1e-13,   1e-15,        1e-20,     1e9,    1e12,   1e15,
        1e20,     0.1,      1.0 / 3, 2.0 / 3,      123456.75, 49.995, 1e-300, 1e300,
        DBL_MAX,  -DBL_MAX, DBL_MIN, DBL_TRUE_MIN, 1e-310,    3e-323,
    };
    size_t i;
    size_t j;

    (void) state;
    for (i = 0; i < ARRAY_LEN(table); i++) {
        for (j = 0; j < ARRAY_LEN(quantity_units); j++) {
            round_trip_quantity(table[i], quantity_units[j]);
        }
    }
}

static void test_quantity_round_trip_over_random_values_is_within_six_digits(void **state)
{
    uint64_t seed = 0x5eed0003;
    int i;

    (void) state;
    for (i = 0; i < N_RANDOM; i++) {
        const char *unit = quantity_units[rnd_next(&seed) % ARRAY_LEN(quantity_units)];
        uint64_t bits = rnd_next(&seed);
        double v;

        if (i % 2 == 0) { /* magnitudes a meter sees: 1e-15 .. 1e15 */
            double m = 1.0 + 9.0 * (double) (bits >> 11) / 9007199254740992.0;
            int e = (int) (rnd_next(&seed) % 31) - 15;

            v = (bits & 1 ? -m : m) * pow(10.0, e);
        } else { /* any finite double */
            memcpy(&v, &bits, sizeof(v));
            if (!isfinite(v)) {
                v = 1.0;
            }
        }
        round_trip_quantity(v, unit);
    }
}

/* ---- plain values ---- */

static void test_int_decimal_and_hex_are_accepted(void **state)
{
    int64_t v = 0;

    (void) state;
    assert_int_equal(units_parse_int("42", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(units_parse_int(" -17 ", &v), 0);
    assert_int_equal(v, -17);
    assert_int_equal(units_parse_int("+5", &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(units_parse_int("0x1F", &v), 0);
    assert_int_equal(v, 31);
    assert_int_equal(units_parse_int("\t0xff\t", &v), 0);
    assert_int_equal(v, 255);
    assert_int_equal(units_parse_int("-0x10", &v), 0);
    assert_int_equal(v, -16);
    assert_int_equal(units_parse_int("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(units_parse_int("-0", &v), 0);
    assert_int_equal(v, 0);
}

static void test_int_leading_zero_is_decimal_not_octal(void **state)
{
    int64_t v = 0;

    (void) state;
    assert_int_equal(units_parse_int("010", &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(units_parse_int("09", &v), 0);
    assert_int_equal(v, 9);
    assert_int_equal(units_parse_int("0x010", &v), 0);
    assert_int_equal(v, 16);
}

static void test_int_int64_limits_are_accepted_and_one_past_is_rejected(void **state)
{
    int64_t v = 0;

    (void) state;
    assert_int_equal(units_parse_int("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(units_parse_int("-9223372036854775808", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(units_parse_int("0x7fffffffffffffff", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(units_parse_int("-0x8000000000000000", &v), 0);
    assert_true(v == INT64_MIN);
    assert_rejected(P_INT, "9223372036854775808");
    assert_rejected(P_INT, "-9223372036854775809");
    assert_rejected(P_INT, "0x8000000000000000");
    assert_rejected(P_INT, "-0x8000000000000001");
    assert_rejected(P_INT, "99999999999999999999999");
}

static void test_int_malformed_text_is_rejected(void **state)
{
    static const char *const bad[] = {
        "",      " ",   "-",   "+",   "0x",   "0x ",  "0xg",   "0X10", "1.0",
        "1e3",   "1 2", "12a", "--1", "+-1",  "- 1",  "0b1",   "0o7",  "1,000",
        "1_000", "nan", "inf", "x1",  "0x-1", "0x+1", " 0x 1", "1 .",  "5\n",
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected(P_INT, bad[i]);
    }
}

static void test_double_yaml_float_forms_are_accepted(void **state)
{
    double v = 0;

    (void) state;
    assert_int_equal(units_parse_double("1.5", &v), 0);
    assert_close(v, 1.5, 0.0);
    assert_int_equal(units_parse_double(" -2 ", &v), 0);
    assert_close(v, -2.0, 0.0);
    assert_int_equal(units_parse_double(".5", &v), 0);
    assert_close(v, 0.5, 0.0);
    assert_int_equal(units_parse_double("5.", &v), 0);
    assert_close(v, 5.0, 0.0);
    assert_int_equal(units_parse_double("+1e-3", &v), 0);
    assert_close(v, 0.001, 0.0);
    assert_int_equal(units_parse_double("6.02214076E23", &v), 0);
    assert_close(v, 6.02214076e23, 0.0);
    assert_int_equal(units_parse_double("0.1", &v), 0);
    assert_close(v, 0.1, 0.0); /* correctly rounded: the same double as the literal */
    assert_int_equal(units_parse_double("1e-310", &v), 0);
    assert_close(v, 1e-310, 0.0); /* subnormal, kept */
}

static void test_double_nan_inf_hex_and_comma_are_rejected(void **state)
{
    static const char *const bad[] = {
        "",     " ",    "nan",   "NAN",   "-nan", "inf",  "-inf", "infinity",
        ".inf", ".nan", "0x1p3", "0x10",  "1,5",  "1.5.", "1e",   "1e+",
        "e5",   ".",    "-.",    "1.5 V", "1.5x", "1 5",  "--1",  "1.5\n",
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected(P_DOUBLE, bad[i]);
    }
}

static void test_double_overflow_and_underflow_to_zero_are_rejected(void **state)
{
    double v = 0;

    (void) state;
    assert_rejected(P_DOUBLE, "1e309");
    assert_rejected(P_DOUBLE, "-1e309");
    assert_rejected(P_DOUBLE, "1e-400");
    assert_rejected(P_DOUBLE, "1e99999999999999999999");
    assert_int_equal(units_parse_double("1.7976931348623157e308", &v), 0);
    assert_close(v, DBL_MAX, 0.0);
    assert_int_equal(units_parse_double("0e99999", &v), 0);
    assert_close(v, 0.0, 0.0);
}

static void test_bool_words_in_any_case_are_accepted(void **state)
{
    static const struct {
        const char *s;
        int want;
    } table[] = {
        {"true", 1},  {"yes", 1}, {"on", 1},  {"TRUE", 1},  {"Yes", 1}, {" On ", 1},
        {"false", 0}, {"no", 0},  {"off", 0}, {"FALSE", 0}, {"No", 0},  {"\tOFF\t", 0},
    };

    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(table); i++) {
        int v = -1;

        assert_int_equal(units_parse_bool(table[i].s, &v), 0);
        assert_int_equal(v, table[i].want);
    }
}

static void test_bool_other_words_are_rejected(void **state)
{
    static const char *const bad[] = {
        "",           " ",      "1",     "0",    "y",         "n",  "t",
        "f",          "tru",    "truee", "yess", "o",         "of", "on on",
        "true false", "enable", "ja",    "nein", "\xc3\xb6n",
    };
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected(P_BOOL, bad[i]);
    }
}

/* ---- all parsers ---- */

static void test_failed_parses_leave_out_untouched(void **state)
{
    static const char *const bad[] = {"", "x", "1 2", "-", "nan", "1e999999", "\xff"};
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_rejected(P_DURATION, bad[i]);
        assert_rejected(P_SIZE, bad[i]);
        assert_rejected(P_QUANTITY, bad[i]);
        assert_rejected(P_INT, bad[i]);
        assert_rejected(P_DOUBLE, bad[i]);
        assert_rejected(P_BOOL, bad[i]);
    }
}

/* Random short strings from the characters the grammar cares about: the
 * parsers must answer 0 or -PQ_ECONFIG, never crash (ASan/UBSan watch). */
static void test_parsers_answer_0_or_econfig_on_random_text(void **state)
{
    static const char alphabet[] = "0123456789..eE+-xX skmMGunpBiKTVAdh%\t\xc2\xb5";
    uint64_t seed = 0x5eed0004;
    char s[16];
    int i;

    (void) state;
    for (i = 0; i < 20000; i++) {
        size_t len = rnd_next(&seed) % (sizeof(s) - 1);
        size_t k;
        int64_t i64;
        uint64_t u64;
        double d;
        int b;
        int rc[6];
        size_t r;

        for (k = 0; k < len; k++) {
            s[k] = alphabet[rnd_next(&seed) % (sizeof(alphabet) - 1)];
        }
        s[len] = '\0';
        rc[0] = units_parse_duration(s, &i64);
        rc[1] = units_parse_size(s, &u64);
        rc[2] = units_parse_quantity(s, "V", &d);
        rc[3] = units_parse_int(s, &i64);
        rc[4] = units_parse_double(s, &d);
        rc[5] = units_parse_bool(s, &b);
        for (r = 0; r < ARRAY_LEN(rc); r++) {
            if (rc[r] != 0 && rc[r] != -PQ_ECONFIG) {
                print_error("parser %zu on \"%s\": rc %d\n", r, s, rc[r]);
                fail();
            }
        }
    }
}

static void test_parsers_ignore_a_comma_decimal_locale(void **state)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
                                        "fr_FR.utf8",  "de_DE",      "fr_FR"};
    double v = 0;
    int64_t ns = 0;
    size_t i;

    (void) state;
    for (i = 0; i < ARRAY_LEN(names); i++) {
        if (setlocale(LC_ALL, names[i])) {
            break;
        }
    }
    if (i == ARRAY_LEN(names)) {
        /* No comma locale installed: counted as passed; the "C" checks
         * below still run.  (cmocka 1.1.5 prints skips as "not ok".) */
        print_message("# no comma-decimal locale installed; checked in \"C\" only\n");
    }
    assert_int_equal(units_parse_double("1.5", &v), 0);
    assert_close(v, 1.5, 0.0);
    assert_rejected(P_DOUBLE, "1,5");
    assert_int_equal(units_parse_quantity("0.5 kV", "V", &v), 0);
    assert_close(v, 500.0, 0.0);
    assert_int_equal(units_parse_duration("1.5s", &ns), 0);
    assert_int_equal(ns, 1500000000);
    assert_quantity_text(0.5, "A", "500 mA");
    assert_quantity_text(1.5, "V", "1.5 V");
    assert_quantity_text(2.5e-7, "%", "2.5e-07 %");
    setlocale(LC_ALL, "C");
}

static void test_expected_strings_name_the_units(void **state)
{
    const char *d = units_expected_duration();
    const char *s = units_expected_size();

    (void) state;
    assert_non_null(d);
    assert_non_null(s);
    assert_ptr_equal(d, units_expected_duration()); /* constant */
    assert_non_null(strstr(d, "200ms"));
    assert_non_null(strstr(d, "min"));
    assert_non_null(strstr(s, "KiB"));
    assert_non_null(strstr(s, "MB"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_each_unit_scales_to_ns),
        cmocka_unit_test(test_duration_fraction_rounds_to_nearest_ns),
        cmocka_unit_test(test_duration_blanks_around_and_between_are_accepted),
        cmocka_unit_test(test_duration_bare_zero_is_accepted),
        cmocka_unit_test(test_duration_bare_nonzero_number_is_rejected),
        cmocka_unit_test(test_duration_sign_is_rejected),
        cmocka_unit_test(test_duration_unknown_unit_is_rejected),
        cmocka_unit_test(test_duration_malformed_text_is_rejected),
        cmocka_unit_test(test_duration_int64_limit_is_accepted_and_one_past_is_rejected),
        cmocka_unit_test(test_duration_exponent_is_applied_exactly),
        cmocka_unit_test(test_duration_long_mantissa_is_exact),
        cmocka_unit_test(test_duration_format_picks_largest_exact_unit),
        cmocka_unit_test(test_duration_format_of_zero_is_0s),
        cmocka_unit_test(test_duration_format_of_negative_has_minus_sign),
        cmocka_unit_test(test_duration_format_truncates_and_returns_full_length),
        cmocka_unit_test(test_duration_round_trip_over_table_is_exact),
        cmocka_unit_test(test_duration_round_trip_over_random_values_is_exact),
        cmocka_unit_test(test_size_each_unit_scales_to_bytes),
        cmocka_unit_test(test_size_bare_integer_is_bytes),
        cmocka_unit_test(test_size_fraction_giving_whole_bytes_is_accepted),
        cmocka_unit_test(test_size_fraction_giving_partial_byte_is_rejected),
        cmocka_unit_test(test_size_sign_is_rejected),
        cmocka_unit_test(test_size_unknown_unit_is_rejected),
        cmocka_unit_test(test_size_malformed_text_is_rejected),
        cmocka_unit_test(test_size_uint64_limit_is_accepted_and_one_past_is_rejected),
        cmocka_unit_test(test_size_format_prefers_decimal_then_binary_then_bytes),
        cmocka_unit_test(test_size_format_truncates_and_returns_full_length),
        cmocka_unit_test(test_size_round_trip_over_table_is_exact),
        cmocka_unit_test(test_size_round_trip_over_random_values_is_exact),
        cmocka_unit_test(test_quantity_bare_number_is_in_base_unit),
        cmocka_unit_test(test_quantity_every_listed_unit_parses_with_and_without_prefix),
        cmocka_unit_test(test_quantity_each_prefix_scales_by_its_power_of_ten),
        cmocka_unit_test(test_quantity_micro_sign_is_micro),
        cmocka_unit_test(test_quantity_percent_takes_no_prefix_and_optional_blank),
        cmocka_unit_test(test_quantity_prefix_without_unit_is_dimensionless_only),
        cmocka_unit_test(test_quantity_whole_unit_match_wins_over_prefix),
        cmocka_unit_test(test_quantity_min_is_not_a_seconds_prefix),
        cmocka_unit_test(test_quantity_wrong_or_misspelt_unit_is_rejected),
        cmocka_unit_test(test_quantity_negative_value_is_accepted),
        cmocka_unit_test(test_quantity_nan_inf_and_out_of_range_are_rejected),
        cmocka_unit_test(test_quantity_malformed_text_is_rejected),
        cmocka_unit_test(test_quantity_format_picks_engineering_prefix),
        cmocka_unit_test(test_quantity_format_rounds_to_six_significant_digits),
        cmocka_unit_test(test_quantity_format_percent_and_dimensionless_have_no_prefix),
        cmocka_unit_test(test_quantity_format_beyond_prefix_range_uses_exponent),
        cmocka_unit_test(test_quantity_format_nan_and_inf_are_not_read_back),
        cmocka_unit_test(test_quantity_format_truncates_and_returns_full_length),
        cmocka_unit_test(test_quantity_round_trip_over_table_is_within_six_digits),
        cmocka_unit_test(
            test_quantity_round_trip_over_random_values_is_within_six_digits),
        cmocka_unit_test(test_int_decimal_and_hex_are_accepted),
        cmocka_unit_test(test_int_leading_zero_is_decimal_not_octal),
        cmocka_unit_test(test_int_int64_limits_are_accepted_and_one_past_is_rejected),
        cmocka_unit_test(test_int_malformed_text_is_rejected),
        cmocka_unit_test(test_double_yaml_float_forms_are_accepted),
        cmocka_unit_test(test_double_nan_inf_hex_and_comma_are_rejected),
        cmocka_unit_test(test_double_overflow_and_underflow_to_zero_are_rejected),
        cmocka_unit_test(test_bool_words_in_any_case_are_accepted),
        cmocka_unit_test(test_bool_other_words_are_rejected),
        cmocka_unit_test(test_failed_parses_leave_out_untouched),
        cmocka_unit_test(test_parsers_answer_0_or_econfig_on_random_text),
        cmocka_unit_test(test_parsers_ignore_a_comma_decimal_locale),
        cmocka_unit_test(test_expected_strings_name_the_units),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
