/* test_capture_files.c - captures on disk (gateway/capture_files.c): a
 * capture from the engine written as COMTRADE and read back by the loader,
 * the stems, and retention by count and size in a private directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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

#include "drivers/adc/comtrade_load.h"
#include "gateway/capture_files.h"
#include "pq/capture.h"
#include "pq/comtrade.h"
#include "pq/comtrade_write.h"
#include "pq/err.h"

#define T0_NS (1772600767LL * 1000000000LL) /* 2026-03-04 05:06:07 UTC */

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.17g, want %.17g +- %g", got, want, tol);
    }
}

static int setup_dir(void **state)
{
    char *dir = strdup("/tmp/pqgate-capfiles-XXXXXX");

    if (!dir || !mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[256];
    char *dir = *state;

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    free(dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* dir/name with size bytes, modified at t_s seconds after the epoch. */
static void make_file(const char *dir, const char *name, size_t size, long t_s)
{
    char path[512];
    struct timespec ts[2] = {{t_s, 0}, {t_s, 0}};
    char zeros[256] = {0};
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    while (size > 0) {
        size_t n = size < sizeof(zeros) ? size : sizeof(zeros);

        assert_int_equal(write(fd, zeros, n), (ssize_t) n);
        size -= n;
    }
    assert_int_equal(futimens(fd, ts), 0);
    close(fd);
}

static int exists(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* ---- retention ------------------------------------------------------------ */

static void test_capture_retention_by_count_deletes_the_oldest_pairs(void **state)
{
    const char *dir = *state;
    int i;

    /* names sort the other way round from the times: age wins */
    for (i = 0; i < 5; i++) {
        char name[32];

        snprintf(name, sizeof(name), "rec%d.cfg", 9 - i);
        make_file(dir, name, 100, 1000 + i);
        snprintf(name, sizeof(name), "rec%d.dat", 9 - i);
        make_file(dir, name, 1000, 1000 + i);
    }
    assert_int_equal(capture_retention(dir, 3, 0), 2);
    assert_false(exists(dir, "rec9.cfg"));
    assert_false(exists(dir, "rec9.dat"));
    assert_false(exists(dir, "rec8.cfg"));
    assert_false(exists(dir, "rec8.dat"));
    assert_true(exists(dir, "rec7.cfg"));
    assert_true(exists(dir, "rec5.dat"));
    assert_int_equal(capture_retention(dir, 3, 0), 0);
}

static void test_capture_retention_by_size_deletes_until_within(void **state)
{
    const char *dir = *state;

    make_file(dir, "a.cfg", 100, 100);
    make_file(dir, "a.dat", 900, 100); /* 1000 */
    make_file(dir, "b.cfg", 100, 200);
    make_file(dir, "b.dat", 1900, 200); /* 2000 */
    make_file(dir, "c.cfg", 100, 300);
    make_file(dir, "c.dat", 2900, 300); /* 3000 */
    /* 6000 in all: 5000 allowed -> a goes; 5000 allowed -> nothing more */
    assert_int_equal(capture_retention(dir, 0, 5000), 1);
    assert_false(exists(dir, "a.dat"));
    assert_true(exists(dir, "b.cfg"));
    assert_int_equal(capture_retention(dir, 0, 5000), 0);
    /* both limits: the tighter one decides */
    assert_int_equal(capture_retention(dir, 1, 4999), 1);
    assert_false(exists(dir, "b.dat"));
    assert_true(exists(dir, "c.dat"));
    /* a recording alone above the limit goes too */
    assert_int_equal(capture_retention(dir, 0, 10), 1);
    assert_false(exists(dir, "c.cfg"));
}

static void test_capture_retention_counts_orphans_cff_and_any_case_only(void **state)
{
    const char *dir = *state;
    char sub[512];

    make_file(dir, "old.DAT", 10, 10); /* an orphan .dat, upper case */
    make_file(dir, "mid.cff", 10, 20); /* single-file recording */
    make_file(dir, "new.Cfg", 10, 30);
    make_file(dir, "new.dAt", 10, 30);
    make_file(dir, "new.hdr", 10, 31);
    make_file(dir, "notes.txt", 10, 1);    /* not a recording */
    make_file(dir, "part.dat.tmp", 10, 1); /* being written */
    make_file(dir, ".cfg", 10, 1);         /* no stem */
    snprintf(sub, sizeof(sub), "%s/dir.cfg", dir);
    assert_int_equal(mkdir(sub, 0755), 0); /* not a regular file */
    assert_int_equal(capture_retention(dir, 0, 0), 0);
    assert_int_equal(capture_retention(dir, 1, 0), 2);
    assert_false(exists(dir, "old.DAT"));
    assert_false(exists(dir, "mid.cff"));
    assert_true(exists(dir, "new.Cfg"));
    assert_true(exists(dir, "new.dAt"));
    assert_true(exists(dir, "new.hdr"));
    assert_true(exists(dir, "notes.txt"));
    assert_true(exists(dir, "part.dat.tmp"));
    assert_true(exists(dir, ".cfg"));
    assert_true(exists(dir, "dir.cfg"));
    assert_int_equal(capture_retention(dir, 0, 30), 0); /* new: 30 bytes */
    assert_int_equal(capture_retention(dir, 0, 29), 1);
    assert_false(exists(dir, "new.hdr"));
}

static void test_capture_retention_of_a_missing_directory_is_enoent(void **state)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/none", (const char *) *state);
    assert_int_equal(capture_retention(path, 1, 1), -ENOENT);
}

/* ---- writing captures -------------------------------------------------------- */

struct got {
    struct pq_capture_buf *buf;
};

static void on_done(void *ctx, struct pq_capture_buf *b)
{
    ((struct got *) ctx)->buf = b;
}

static void
test_capture_written_by_the_gateway_reads_back_through_the_loader(void **state)
{
    static const struct pq_capture_fmt fmt = {64, 2, 4};
    static const struct pq_ct_analog_desc ch[3] = {
        {"UA", "A", "", "V", 0, 20000, 100, 'P', 0, 0},
        {"UB", "B", "", "V", 0, 20000, 100, 'P', 0, 0},
        {"IA", "A", "", "A", 0, 400, 5, 'S', 0, 0},
    };
    static const struct pq_ct_status_desc st[1] = {{"TRIG", "", "", 0}};
    struct pq_capture_cfg cfg = {.fs_hz = 5000,
                                 .f_nom_hz = 50,
                                 .nch = 3,
                                 .nstatus = 1,
                                 .nbufs = 1,
                                 .fmts = &fmt,
                                 .nfmts = 1};
    struct pq_ct_desc d = {.station = "SUB",
                           .device = "pqgate",
                           .format = PQ_CT_BINARY32,
                           .analog = ch,
                           .status = st,
                           .local_code_min = 60};
    const char *dir = *state;
    struct pq_capture *c = NULL;
    struct pq_comtrade *ct = NULL;
    struct got g = {NULL};
    struct pq_capture_why why = {PQ_CAPTURE_EVENT, 7, 0};
    static float fr[500 * 3];
    uint16_t sw[500];
    char stem[128], path[512], err[256];
    size_t i, k;
    uint64_t n = 0;

    assert_int_equal(pq_capture_new(&cfg, on_done, &g, &c), 0);
    while (!g.buf) {
        for (i = 0; i < 500; i++, n++) {
            for (k = 0; k < 3; k++) {
                fr[i * 3 + k] = (float) (11000 * sin(2 * M_PI * 50 * (double) n / 5000 -
                                                     (double) k * 2.0944));
            }
            sw[i] = n >= 2000;
        }
        assert_int_equal(
            pq_capture_feed(c, fr, sw, 500, T0_NS + (int64_t) n * 200000 - 500 * 200000),
            0);
        if (n == 2500) {
            assert_int_equal(pq_capture_trigger_frame(c, 0, 2000, &why, NULL), 0);
        }
    }
    capture_files_desc(&d, g.buf);
    capture_file_stem(stem, sizeof(stem), g.buf);
    assert_string_equal(stem, "20260304T050607.400000Z_event_1");
    assert_int_equal(
        capture_files_write(dir, stem, &d, g.buf->data, g.buf->status, err, sizeof(err)),
        0);
    snprintf(path, sizeof(path), "%s/%s.dat.tmp", dir, stem);
    assert_int_equal(access(path, F_OK), -1); /* renamed */
    snprintf(path, sizeof(path), "%s/%s.cfg", dir, stem);
    if (comtrade_load(path, &ct, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(ct->nsamples, 384);
    assert_close(ct->rates[0].rate_hz, 3200, 0);
    assert_int_equal(ct->trigger_ns, g.buf->trigger_ns);
    assert_int_equal(ct->start_ns, g.buf->trigger_ns - 40000000);
    assert_int_equal(ct->tmq, 0);
    assert_int_equal(ct->local_code_min, 60);
    for (i = 0; i < ct->nsamples; i++) {
        for (k = 0; k < 3; k++) {
            assert_close(ct->data[i * 3 + k], g.buf->data[i * 3 + k], 1e-5);
        }
        assert_int_equal(pq_comtrade_status_bit(ct, i, 0), i >= 128);
    }
    pq_comtrade_free(ct);
    pq_capture_release(c, g.buf);
    pq_capture_free(c);
}

static void test_capture_files_write_errors_name_the_file_and_leave_nothing(void **state)
{
    static const struct pq_ct_analog_desc ch = {"U", "", "", "V", 0, 0, 0, 0, 0, 0};
    static const float f[2] = {1, 2};
    struct pq_ct_desc d = {.station = "S",
                           .device = "D",
                           .format = PQ_CT_BINARY,
                           .n_analog = 1,
                           .analog = &ch,
                           .rate_hz = 1000,
                           .nsamples = 2,
                           .start_ns = T0_NS,
                           .trigger_ns = T0_NS};
    const char *dir = *state;
    char path[512], err[512];

    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(capture_files_write(path, "x", &d, f, NULL, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "missing/x.dat.tmp"));
    d.tmq = 99;
    assert_int_equal(capture_files_write(dir, "y", &d, f, NULL, err, sizeof(err)),
                     -PQ_ECONFIG);
    assert_non_null(strstr(err, "tmq_code"));
    assert_false(exists(dir, "y.dat"));
    assert_false(exists(dir, "y.dat.tmp"));
    d.tmq = 0;
    assert_int_equal(capture_files_write(dir, "y", &d, f, NULL, NULL, 0), 0);
    assert_true(exists(dir, "y.cfg"));
    assert_true(exists(dir, "y.dat"));
}

static void test_capture_file_stems_sort_in_trigger_order(void **state)
{
    struct pq_capture_buf a = {.seq = 9, .why = {PQ_CAPTURE_MANUAL, 0, 0}};
    struct pq_capture_buf b = {.seq = 10, .why = {PQ_CAPTURE_ALARM, 0, 0}};
    char sa[64], sb[64];

    (void) state;
    a.trigger_ns = T0_NS + 999999999;
    b.trigger_ns = T0_NS + 1000000000;
    capture_file_stem(sa, sizeof(sa), &a);
    capture_file_stem(sb, sizeof(sb), &b);
    assert_string_equal(sa, "20260304T050607.999999Z_manual_9");
    assert_string_equal(sb, "20260304T050608.000000Z_alarm_10");
    assert_true(strcmp(sa, sb) < 0);
    a.trigger_ns = -1000; /* before 1970 */
    capture_file_stem(sa, sizeof(sa), &a);
    assert_string_equal(sa, "19691231T235959.999999Z_manual_9");
}

static void test_capture_file_stem_of_an_alarm_names_the_alarm(void **state)
{
    struct pq_capture_buf b = {.seq = 3, .why = {PQ_CAPTURE_ALARM, 1, 0}};
    char s[128];
    char long_name[80];

    (void) state;
    b.trigger_ns = T0_NS + 123456789;
    capture_file_stem_label(s, sizeof(s), &b, "dip_a");
    assert_string_equal(s, "20260304T050607.123456Z_alarm_dip_a_3");
    /* no label: as capture_file_stem() */
    capture_file_stem_label(s, sizeof(s), &b, "");
    assert_string_equal(s, "20260304T050607.123456Z_alarm_3");
    capture_file_stem_label(s, sizeof(s), &b, NULL);
    assert_string_equal(s, "20260304T050607.123456Z_alarm_3");
    /* what a file name cannot hold becomes '_' (no '/', no leading '.') */
    capture_file_stem_label(s, sizeof(s), &b, "../feeder 2/ü");
    assert_string_equal(s, "20260304T050607.123456Z_alarm__._feeder_2____3");
    /* at most CAPTURE_LABEL_MAX characters of the name */
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    capture_file_stem_label(s, sizeof(s), &b, long_name);
    assert_int_equal(strlen(s),
                     strlen("20260304T050607.123456Z_alarm__3") + CAPTURE_LABEL_MAX);
    /* a too small destination is cut, NUL-terminated */
    capture_file_label(s, 4, "dip_a");
    assert_string_equal(s, "dip");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_capture_retention_by_count_deletes_the_oldest_pairs, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_capture_retention_by_size_deletes_until_within, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_capture_retention_counts_orphans_cff_and_any_case_only, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_capture_retention_of_a_missing_directory_is_enoent, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_capture_written_by_the_gateway_reads_back_through_the_loader, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(
            test_capture_files_write_errors_name_the_file_and_leave_nothing, setup_dir,
            teardown_dir),
        cmocka_unit_test(test_capture_file_stems_sort_in_trigger_order),
        cmocka_unit_test(test_capture_file_stem_of_an_alarm_names_the_alarm),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
