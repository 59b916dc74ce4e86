/* test_cfg_profile.c - the profile file loader: keys, rules, errors with
 * FILE:LINE:COL, the search path, and docs/profiles.md's key reference. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/profile.h"
#include "config/schema.h"
#include "drivers/modbus/mb_profile.h"
#include "pq/err.h"
#include "tests/unit/cfgtest.h"

static int parse(const char *text, struct mb_profile **out, struct cfg_diag *d)
{
    cfg_diag_init(d);
    *out = NULL;
    return cfg_profile_parse("t.yaml", text, strlen(text), out, d);
}

#define HEAD "name: t\nsource: test document rev 1\n"

static void test_profile_schema_selftest_passes(void **state)
{
    struct cfg_diag d;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(cfg_schema_selftest(&cfg_profile_schema, &d), 0);
    cfg_diag_fini(&d);
}

static void test_profile_keys_fill_the_point(void **state)
{
    struct mb_profile *p;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        parse(HEAD "max_regs: 60\nmax_gap: 4\nno_cross: 100\nnot_implemented: sunspec\n"
                   "points:\n"
                   "  - {channel: e/kwh, unit: kWh, function: input, address: 0x10,\n"
                   "     type: uint32, words: little, bytes: swapped, scale: 0.1,\n"
                   "     offset: 5, counter: {max_step: 3}}\n"
                   "  - {channel: st, address: 30, type: bits, bit: 3, nbits: 2,\n"
                   "     scale_factor: 31}\n"
                   "  - {channel: sn, register: 40101, type: string, length: 7}\n"
                   "  - {channel: relay, register: 17, type: bool}\n",
              &p, &d),
        0);
    assert_string_equal(p->name, "t");
    assert_string_equal(p->source, "test document rev 1");
    assert_int_equal(p->max_regs, 60);
    assert_int_equal(p->max_gap, 4);
    assert_int_equal(p->no_cross, 100);
    assert_int_equal(p->npoints, 4);
    assert_string_equal(p->points[0].channel, "e/kwh");
    assert_string_equal(p->points[0].unit, "kWh");
    assert_int_equal(p->points[0].fn, MB_FN_INPUT);
    assert_int_equal(p->points[0].addr, 16);
    assert_int_equal(p->points[0].type, MB_T_UINT32);
    assert_int_equal(p->points[0].count, 2);
    assert_int_equal(p->points[0].words, MB_WORDS_LITTLE);
    assert_int_equal(p->points[0].bytes, MB_BYTES_SWAPPED);
    assert_true(p->points[0].scale == 0.1 && p->points[0].offset == 5);
    assert_int_equal(p->points[0].counter, 1);
    assert_int_equal(p->points[0].counter_bits, 32); /* the type's width */
    assert_true(p->points[0].max_step == 3);
    assert_int_equal(p->points[0].sf_addr, -1);
    assert_int_equal(p->points[0].na, MB_NA_SUNSPEC);
    assert_int_equal(p->points[1].bit, 3);
    assert_int_equal(p->points[1].nbits, 2);
    assert_int_equal(p->points[1].sf_addr, 31);
    assert_int_equal(p->points[1].counter, 0);
    assert_int_equal(p->points[2].fn, MB_FN_HOLDING);
    assert_int_equal(p->points[2].addr, 100);
    assert_int_equal(p->points[2].count, 4);
    assert_int_equal(p->points[2].length, 7);
    assert_int_equal(p->points[3].fn, MB_FN_COILS);
    assert_int_equal(p->points[3].addr, 16);
    mb_profile_free(p);
    cfg_diag_fini(&d);
}

static void test_profile_defaults_are_125_regs_gap_16_big_endian(void **state)
{
    struct mb_profile *p;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        parse(HEAD "points:\n  - {channel: v, address: 0, type: float32}\n", &p, &d), 0);
    assert_int_equal(p->max_regs, 125);
    assert_int_equal(p->max_gap, 16);
    assert_int_equal(p->no_cross, 0);
    assert_int_equal(p->points[0].fn, MB_FN_HOLDING);
    assert_int_equal(p->points[0].words, MB_WORDS_BIG);
    assert_int_equal(p->points[0].bytes, MB_BYTES_BIG);
    assert_true(p->points[0].scale == 1 && p->points[0].offset == 0);
    assert_int_equal(p->points[0].na, MB_NA_NONE);
    mb_profile_free(p);
    cfg_diag_fini(&d);
}

static void test_profile_register_numbers_map_to_tables_and_addresses(void **state)
{
    static const struct {
        int reg, fn, addr;
    } cases[] = {
        {1, MB_FN_COILS, 0},
        {9999, MB_FN_COILS, 9998},
        {10001, MB_FN_DISCRETE, 0},
        {30001, MB_FN_INPUT, 0},
        {39999, MB_FN_INPUT, 9998},
        {40001, MB_FN_HOLDING, 0},
        {40100, MB_FN_HOLDING, 99},
        {300001, MB_FN_INPUT, 0},
        {365536, MB_FN_INPUT, 65535},
        {400001, MB_FN_HOLDING, 0},
        {465536, MB_FN_HOLDING, 65535},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        struct mb_profile *p;
        struct cfg_diag d;
        int bit = cases[i].fn <= MB_FN_DISCRETE;

        snprintf(text, sizeof(text),
                 HEAD "points:\n  - {channel: v, register: %d, type: %s}\n", cases[i].reg,
                 bit ? "bool" : "uint16");
        assert_int_equal(parse(text, &p, &d), 0);
        assert_int_equal(p->points[0].fn, cases[i].fn);
        assert_int_equal(p->points[0].addr, cases[i].addr);
        mb_profile_free(p);
        cfg_diag_fini(&d);
    }
}

static void test_profile_errors_name_file_line_column_and_key(void **state)
{
    struct mb_profile *p;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        parse("name: bad\n"
              "source: test\n"
              "max_regs: 10\n"
              "points:\n"
              "  - {channel: a, unit: V, register: 40001, type: float32}\n"
              "  - {channel: a, unit: V, address: 1, type: int16}\n"
              "  - {channel: b/c, unit: V, adress: 5, type: int16}\n"
              "  - {channel: \"b//c\", address: 70000, type: int61}\n"
              "  - {channel: d, address: 65535, type: uint32}\n"
              "  - {channel: e, function: coil, address: 3, type: int16}\n"
              "  - {channel: f, function: input, register: 40010, type: int16}\n"
              "  - {channel: g, address: 20, type: string}\n"
              "  - {channel: h, address: 30, type: float64, counter: {bits: 32}}\n"
              "  - {channel: i, address: 40, type: uint16, counter: {bits: 17}}\n"
              "  - {channel: j, address: 50, type: bits, bit: 12, nbits: 8}\n"
              "  - {channel: k, address: 60, register: 40061, type: int16}\n"
              "  - {channel: l, register: 30005, type: int16, scale: 0}\n"
              "  - {channel: m, register: 100001, type: bool}\n"
              "  - {channel: n, address: 100, type: string, length: 30}\n"
              "  - {channel: o, address: 200, type: bool}\n"
              "  - {channel: q, register: 70001, type: int16}\n"
              "  - {channel: r, address: 300, type: uint32, counter: {bits: 32}}\n",
              &p, &d),
        -PQ_ECONFIG);
    assert_null(p);
    cfgtest_assert_error(
        &d, "t.yaml:7:29: points[2]: unknown key 'adress' (did you mean 'address'?)");
    cfgtest_assert_error(
        &d, "t.yaml:7:5: points[2]: missing required key 'address' (or 'register')");
    cfgtest_assert_error(
        &d, "t.yaml:8:15: points[3].channel: expected a channel name of 1 to 29 "
            "letters, digits, '_', '.' or '-' in segments separated by '/', got "
            "'b//c'");
    cfgtest_assert_error(
        &d, "t.yaml:8:45: points[3].type: expected one of int16, uint16, int32, "
            "uint32, int64, uint64, float32, float64, bits, string, bool, got "
            "'int61' (did you mean 'int64'?)");
    cfgtest_assert_error(
        &d, "t.yaml:8:32: points[3].address: expected an address in 0..65535, got "
            "70000");
    cfgtest_assert_error(
        &d, "t.yaml:9:27: points[4].address: uint32 at 65535 runs past the last "
            "address 65535");
    cfgtest_assert_error(
        &d, "t.yaml:10:52: points[5].type: coils and discrete inputs hold type bool, got "
            "int16");
    cfgtest_assert_error(
        &d, "t.yaml:11:28: points[6].function: function input disagrees with "
            "register 40010 (leave function out)");
    cfgtest_assert_error(
        &d, "t.yaml:12:5: points[7]: a string needs its length in characters");
    cfgtest_assert_error(
        &d, "t.yaml:13:62: points[8].counter.bits: a float counter does not wrap: "
            "expected 0 (or leave bits out), got 32");
    cfgtest_assert_error(
        &d, "t.yaml:14:61: points[9].counter.bits: expected a counter width of "
            "1..16 bits for uint16, got 17");
    cfgtest_assert_error(
        &d, "t.yaml:15:59: points[10].nbits: bits 12..19 do not fit one 16-bit "
            "register");
    cfgtest_assert_error(
        &d, "t.yaml:16:41: points[11].register: give address or register, not both");
    cfgtest_assert_error(
        &d, "t.yaml:17:55: points[12].scale: a scale of 0 would hide every value");
    cfgtest_assert_error(&d,
                         "t.yaml:6:15: points[1].channel: channel 'a' is already used by "
                         "points[0]");
    cfgtest_assert_error(
        &d, "t.yaml:6:36: points[1].address: registers 1..1 overlap those of "
            "points[0] ('a', 0..1); overlapping points must span the same "
            "registers");
    cfgtest_assert_error(
        &d, "t.yaml:19:38: points[14].type: string spans 15 registers, more than "
            "max_regs 10");
    cfgtest_assert_error(
        &d, "t.yaml:20:38: points[15].type: type bool needs a coil or discrete "
            "input (function coil or discrete)");
    cfgtest_assert_error(
        &d, "t.yaml:21:28: points[16].register: expected a register number like "
            "40001 (4xxxx holding, 3xxxx input, 1xxxx discrete, 0xxxx coil; 6 "
            "digits for addresses past 9999), got 70001");
    cfgtest_assert_error(&d,
                         "t.yaml:22:62: points[17].counter.bits: a counter needs "
                         "max_step, the largest credible increase per second, to tell "
                         "a glitch from a device reset");
    assert_int_equal(d.n, 20); /* m is fine; nothing else is reported */
    cfg_diag_fini(&d);
}

static void
test_profile_missing_top_keys_and_no_cross_violation_are_reported(void **state)
{
    struct mb_profile *p;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(parse("nmae: x\n", &p, &d), -PQ_ECONFIG);
    cfgtest_assert_error(&d, "t.yaml:1:1: unknown key 'nmae' (did you mean 'name'?)");
    cfgtest_assert_error(&d, "t.yaml:1:1: missing required key 'name'");
    cfgtest_assert_error(&d, "t.yaml:1:1: missing required key 'source'");
    cfgtest_assert_error(&d, "t.yaml:1:1: missing required key 'points'");
    cfg_diag_fini(&d);
    assert_int_equal(parse(HEAD "no_cross: 100\npoints:\n"
                                "  - {channel: v, address: 99, type: float32}\n",
                           &p, &d),
                     -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:5:27: points[0].address: float32 at 99 crosses the no_cross "
            "boundary 100");
    cfg_diag_fini(&d);
    assert_int_equal(parse("name: x\nsource: y\npoints: [\n", &p, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.msgs[0], "t.yaml:4:1: YAML syntax"));
    cfg_diag_fini(&d);
}

static void test_profile_identical_overlaps_and_bit_fields_are_allowed(void **state)
{
    struct mb_profile *p;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(
        parse(HEAD "points:\n"
                   "  - {channel: raw, address: 0, type: uint32}\n"
                   "  - {channel: f, address: 0, type: float32}\n"
                   "  - {channel: lo, address: 2, type: bits, bit: 0, nbits: 4}\n"
                   "  - {channel: hi, address: 2, type: bits, bit: 4, nbits: 4}\n",
              &p, &d),
        0);
    assert_int_equal(p->npoints, 4);
    mb_profile_free(p);
    cfg_diag_fini(&d);
}

static void test_profile_channel_rule_follows_bus_names(void **state)
{
    (void) state;
    assert_true(cfg_profile_channel_valid("u_rms/a"));
    assert_true(cfg_profile_channel_valid("energy/kwh.del-1"));
    assert_true(cfg_profile_channel_valid("a23456789012345678901234567890" + 1)); /* 29 */
    assert_false(cfg_profile_channel_valid("a23456789012345678901234567890"));    /* 30 */
    assert_false(cfg_profile_channel_valid(""));
    assert_false(cfg_profile_channel_valid("/a"));
    assert_false(cfg_profile_channel_valid("a/"));
    assert_false(cfg_profile_channel_valid("a b"));
    assert_false(cfg_profile_channel_valid("a*"));
}

static void test_profile_path_prefers_the_config_files_directory(void **state)
{
    char dir[] = "/tmp/pqgate-prof-XXXXXX";
    char sub[128], file[160], cfgpath[160], out[256];
    FILE *f;

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/profiles", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof(file), "%s/generic-float32.yaml", sub);
    f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(cfgpath, sizeof(cfgpath), "%s/site.yaml", dir);
    /* beside the config file first */
    assert_int_equal(cfg_profile_path("generic-float32", cfgpath, out, sizeof(out)), 0);
    assert_string_equal(out, file);
    /* then the checkout's config/profiles (tests run from the repo root) */
    assert_int_equal(cfg_profile_path("eastron-sdm630", cfgpath, out, sizeof(out)), 0);
    assert_string_equal(out, "config/profiles/eastron-sdm630.yaml");
    assert_int_equal(cfg_profile_path("eastron-sdm630", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "config/profiles/eastron-sdm630.yaml");
    assert_int_equal(cfg_profile_path("no-such-meter", cfgpath, out, sizeof(out)),
                     -PQ_ENOTFOUND);
    assert_int_equal(cfg_profile_path("../etc/passwd", NULL, out, sizeof(out)), -EINVAL);
    assert_int_equal(cfg_profile_path("", NULL, out, sizeof(out)), -EINVAL);
    assert_int_equal(cfg_profile_path("eastron-sdm630", NULL, out, 10), -ENAMETOOLONG);
    unlink(file);
    rmdir(sub);
    rmdir(dir);
}

static void test_profile_load_of_missing_file_names_it(void **state)
{
    struct mb_profile *p = NULL;
    struct cfg_diag d;

    (void) state;
    cfg_diag_init(&d);
    assert_int_equal(cfg_profile_load("/nonexistent/x.yaml", &p, &d), -PQ_ECONFIG);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.msgs[0], "/nonexistent/x.yaml: cannot open"));
    cfg_diag_fini(&d);
}

/* docs/profiles.md carries the key reference the schema prints. */
static void test_profile_reference_in_docs_matches_the_schema(void **state)
{
    char *ref = NULL, *doc;
    size_t reflen = 0;
    FILE *f = open_memstream(&ref, &reflen);
    long len;

    (void) state;
    assert_non_null(f);
    cfg_print_reference(f, &cfg_profile_schema);
    fclose(f);
    f = fopen("docs/profiles.md", "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    doc = calloc(1, (size_t) len + 1);
    assert_non_null(doc);
    assert_int_equal(fread(doc, 1, (size_t) len, f), (size_t) len);
    fclose(f);
    if (!strstr(doc, ref)) {
        fail_msg("docs/profiles.md lacks the current key reference:\n%s", ref);
    }
    free(doc);
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_schema_selftest_passes),
        cmocka_unit_test(test_profile_keys_fill_the_point),
        cmocka_unit_test(test_profile_defaults_are_125_regs_gap_16_big_endian),
        cmocka_unit_test(test_profile_register_numbers_map_to_tables_and_addresses),
        cmocka_unit_test(test_profile_errors_name_file_line_column_and_key),
        cmocka_unit_test(
            test_profile_missing_top_keys_and_no_cross_violation_are_reported),
        cmocka_unit_test(test_profile_identical_overlaps_and_bit_fields_are_allowed),
        cmocka_unit_test(test_profile_channel_rule_follows_bus_names),
        cmocka_unit_test(test_profile_path_prefers_the_config_files_directory),
        cmocka_unit_test(test_profile_load_of_missing_file_names_it),
        cmocka_unit_test(test_profile_reference_in_docs_matches_the_schema),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
