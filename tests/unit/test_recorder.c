/* test_recorder.c - the data recorder engine on time-stamped synthetic
 * updates: UTC-aligned intervals and their exact averages, min, max and
 * last, missing and late values, depth (stop when full, continuous), every
 * update rows, trigger windows and snapshots, and calendar schedules in
 * site time across daylight-saving changes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "gateway/bus.h"
#include "gateway/daemon.h"
#include "gateway/loop.h"
#include "gateway/recorder.h"
#include "gateway/tzif.h"
#include "pq/err.h"
#include "pq/utc.h"
#include "tests/unit/cfgtest.h"

#define assert_close(got, want, tol) close_at((got), (want), (tol), __FILE__, __LINE__)
#define MIN_NS                       (60LL * PQ_NS_PER_S)
#define MAX_ROWS                     64

static void close_at(double got, double want, double tol, const char *file, int line)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.17g, want %.17g +- %g\n", got, want, tol);
        _fail(file, line);
    }
}

struct sink {
    int n;
    struct rec_row rows[MAX_ROWS];
};

static void collect(void *ctx, int id, const struct rec_row *row)
{
    struct sink *s = ctx;

    assert_int_equal(id, 7);
    if (s->n < MAX_ROWS) {
        s->rows[s->n] = *row;
    }
    s->n++;
}

static int64_t utc_ns(int y, int mo, int d, int h, int mi)
{
    return (pq_days_from_civil(y, (unsigned) mo, (unsigned) d) * 86400 + h * 3600 +
            mi * 60) *
           PQ_NS_PER_S;
}

static void setup_rec(struct rec_engine *r, struct sink *s, struct rec_def *d)
{
    memset(s, 0, sizeof(*s));
    rec_init(r, d, 7, collect, s);
}

static const struct rec_def interval_15min = {
    .nch = 2,
    .interval_ns = 15 * MIN_NS,
    .value = REC_AVERAGE,
    .depth = 1000,
};

static void test_recorder_interval_rows_align_to_utc_and_average_exactly(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = interval_15min;
    int64_t h10 = utc_ns(2026, 3, 2, 10, 0);

    (void) state;
    setup_rec(&r, &s, &d);
    /* channel 0 = minute number, every minute from 10:07 to 10:52; channel
     * 1 only at 10:20 and 10:25 */
    for (int m = 7; m <= 52; m++) {
        rec_update(&r, 0, (double) m, h10 + m * MIN_NS, 0);
        if (m == 20 || m == 25) {
            rec_update(&r, 1, m * 10.0, h10 + m * MIN_NS, BUS_Q_FLAGGED);
        }
    }
    assert_int_equal(s.n, 3); /* 10:15, 10:30, 10:45 closed by later updates */
    rec_tick(&r, h10 + 60 * MIN_NS);
    assert_int_equal(s.n, 3); /* (10:45, 11:00] is still open at 11:00 */
    rec_tick(&r, h10 + 60 * MIN_NS + 1);
    assert_int_equal(s.n, 4);
    /* (10:00, 10:15]: minutes 7..15 -> mean 11 */
    assert_true(s.rows[0].t_ns == h10 + 15 * MIN_NS);
    assert_close(s.rows[0].v[0], 11.0, 1e-12);
    assert_true(isnan(s.rows[0].v[1]));
    assert_int_equal(s.rows[0].q[1], BUS_Q_INVALID);
    /* (10:15, 10:30]: 16..30 -> 23; channel 1 -> 225, flagged */
    assert_true(s.rows[1].t_ns == h10 + 30 * MIN_NS);
    assert_close(s.rows[1].v[0], 23.0, 1e-12);
    assert_close(s.rows[1].v[1], 225.0, 1e-12);
    assert_int_equal(s.rows[1].q[1], BUS_Q_FLAGGED);
    assert_int_equal(s.rows[1].q[0], 0);
    assert_close(s.rows[2].v[0], 38.0, 1e-12); /* 31..45 */
    assert_close(s.rows[3].v[0], 49.0, 1e-12); /* 46..52 */
    assert_true(s.rows[3].t_ns == h10 + 60 * MIN_NS);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(s.rows[i].seq, i + 1);
        assert_int_equal(s.rows[i].n, 2);
    }
}

static void test_recorder_min_max_last_values_per_interval(void **state)
{
    static const int modes[] = {REC_MIN, REC_MAX, REC_LAST};
    static const double want[] = {-3.0, 8.0, 5.0};
    int64_t t0 = utc_ns(2026, 3, 2, 10, 0);

    (void) state;
    for (int k = 0; k < 3; k++) {
        struct rec_engine r;
        struct sink s;
        struct rec_def d = {
            .nch = 1, .interval_ns = PQ_NS_PER_S, .value = modes[k], .depth = 10};

        setup_rec(&r, &s, &d);
        rec_update(&r, 0, 1.0, t0 + 100000000, 0);
        rec_update(&r, 0, 8.0, t0 + 300000000, 0);
        rec_update(&r, 0, -3.0, t0 + 600000000, 0);
        rec_update(&r, 0, 5.0, t0 + PQ_NS_PER_S, 0); /* the end: still inside */
        rec_update(&r, 0, 100.0, t0 + PQ_NS_PER_S + 1, 0);
        assert_int_equal(s.n, 1);
        assert_close(s.rows[0].v[0], want[k], 0);
    }
}

static void test_recorder_late_updates_are_dropped_and_counted(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = interval_15min;
    int64_t t0 = utc_ns(2026, 3, 2, 10, 0);

    (void) state;
    setup_rec(&r, &s, &d);
    rec_update(&r, 0, 1.0, t0 + 20 * MIN_NS, 0);
    rec_update(&r, 0, 99.0, t0 + 14 * MIN_NS, 0); /* belongs to a closed one */
    rec_update(&r, 0, 3.0, t0 + 31 * MIN_NS, 0);
    assert_int_equal(r.late, 1);
    assert_int_equal(s.n, 1);
    assert_close(s.rows[0].v[0], 1.0, 0);
}

static void test_recorder_gap_in_the_data_gives_empty_rows_not_missing_ones(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = {
        .nch = 1, .interval_ns = PQ_NS_PER_S, .value = REC_AVERAGE, .depth = 100000};
    int64_t t0 = utc_ns(2026, 3, 2, 10, 0);

    (void) state;
    setup_rec(&r, &s, &d);
    rec_update(&r, 0, 1.0, t0 + 500000000, 0);
    rec_update(&r, 0, 2.0, t0 + 4500000000LL, 0); /* nothing for 3 s */
    assert_int_equal(s.n, 4);
    assert_close(s.rows[0].v[0], 1.0, 0);
    for (int i = 1; i < 4; i++) {
        assert_true(s.rows[i].t_ns == t0 + (i + 1) * PQ_NS_PER_S);
        assert_true(isnan(s.rows[i].v[0]));
        assert_int_equal(s.rows[i].q[0], BUS_Q_INVALID);
    }
    /* a gap longer than REC_GAP_ROWS intervals: that many rows, the rest
     * counted */
    s.n = 0;
    rec_update(&r, 0, 3.0, t0 + (REC_GAP_ROWS + 100) * PQ_NS_PER_S, 0);
    assert_int_equal(s.n, 1 + REC_GAP_ROWS);
    assert_true(r.skipped > 0);
    assert_int_equal(r.seq, 4 + 1 + REC_GAP_ROWS);
    assert_true(r.end_ns == t0 + (REC_GAP_ROWS + 100) * PQ_NS_PER_S);
}

static void feed_seconds(struct rec_engine *r, int64_t t0, int n)
{
    for (int i = 1; i <= n; i++) {
        rec_update(r, 0, (double) i, t0 + i * PQ_NS_PER_S, 0);
    }
}

static void test_recorder_stop_when_full_stops_at_depth(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = {.nch = 1,
                        .interval_ns = PQ_NS_PER_S,
                        .value = REC_AVERAGE,
                        .depth = 3,
                        .stop_when_full = 1};

    (void) state;
    setup_rec(&r, &s, &d);
    feed_seconds(&r, utc_ns(2026, 3, 2, 10, 0), 10);
    rec_tick(&r, utc_ns(2026, 3, 2, 11, 0));
    assert_int_equal(s.n, 3);
    assert_true(r.full);
    assert_close(s.rows[2].v[0], 3.0, 0);
    assert_int_equal(rec_keep_from(&r), 0);
    /* after a restart with 3 rows it stays full */
    rec_init(&r, &d, 7, collect, &s);
    rec_resume(&r, 3, 3);
    feed_seconds(&r, utc_ns(2026, 3, 2, 12, 0), 5);
    assert_int_equal(s.n, 3);
}

static void test_recorder_continuous_keeps_the_newest_depth_rows(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = {
        .nch = 1, .interval_ns = PQ_NS_PER_S, .value = REC_AVERAGE, .depth = 3};

    (void) state;
    setup_rec(&r, &s, &d);
    feed_seconds(&r, utc_ns(2026, 3, 2, 10, 0), 2);
    assert_int_equal(rec_keep_from(&r), 0); /* 1 row, under depth */
    feed_seconds(&r, utc_ns(2026, 3, 2, 10, 1), 10);
    /* rows: 1 (10:00:01), 2 (the rest of the first run) ... */
    assert_false(r.full);
    assert_int_equal(r.seq, (uint64_t) s.n);
    assert_int_equal(rec_keep_from(&r), r.seq - 2);
    /* resumed after a restart, the numbering goes on */
    rec_init(&r, &d, 7, collect, &s);
    rec_resume(&r, 40, 3);
    s.n = 0;
    feed_seconds(&r, utc_ns(2026, 3, 2, 11, 0), 3);
    assert_int_equal(s.rows[0].seq, 41);
    assert_int_equal(rec_keep_from(&r), 40);
}

static void test_recorder_every_update_writes_a_row_per_time_stamp(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = {.nch = 3, .every_update = 1, .depth = 100};
    int64_t t0 = utc_ns(2026, 3, 2, 10, 0);
    const int64_t half = 10000000; /* 10 ms: a half cycle at 50 Hz */

    (void) state;
    setup_rec(&r, &s, &d);
    for (int k = 0; k < 5; k++) {
        for (int ch = 0; ch < 3; ch++) {
            rec_update(&r, ch, 230.0 - k - ch, t0 + k * half, 0);
        }
    }
    assert_int_equal(s.n, 4); /* the last waits for a newer stamp or a tick */
    rec_tick(&r, t0 + 4 * half + 1);
    assert_int_equal(s.n, 5);
    for (int k = 0; k < 5; k++) {
        assert_true(s.rows[k].t_ns == t0 + k * half);
        assert_close(s.rows[k].v[2], 228.0 - k, 0);
    }
    /* a channel without an update at a stamp keeps its latest value */
    rec_update(&r, 0, 1.0, t0 + 10 * half, 0);
    rec_tick(&r, t0 + 11 * half);
    assert_close(s.rows[5].v[0], 1.0, 0);
    assert_close(s.rows[5].v[1], 225.0, 0);
}

static void test_recorder_trigger_window_records_only_for_its_duration(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = {.nch = 1,
                        .every_update = 1,
                        .gated = 1,
                        .duration_ns = 2 * PQ_NS_PER_S,
                        .depth = 100};
    int64_t t0 = utc_ns(2026, 3, 2, 10, 0);
    const int64_t step = 200000000; /* 200 ms */

    (void) state;
    setup_rec(&r, &s, &d);
    for (int k = 0; k <= 50; k++) { /* 10 s of 200 ms values */
        if (k == 10) {
            rec_trigger(&r, t0 + k * step); /* at 2 s: records 2 s .. 4 s */
        }
        rec_update(&r, 0, (double) k, t0 + k * step, 0);
    }
    rec_tick(&r, t0 + 60 * step);
    assert_int_equal(s.n, 11); /* stamps 2.0, 2.2, ... 4.0 s */
    assert_close(s.rows[0].v[0], 10.0, 0);
    assert_close(s.rows[10].v[0], 20.0, 0);
}

static void test_recorder_late_trigger_still_writes_the_rows_it_covers(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = {
        .nch = 1, .every_update = 1, .gated = 1, .duration_ns = 100000000, .depth = 100};
    int64_t t0 = utc_ns(2026, 3, 2, 10, 0);
    const int64_t half = 10000000;

    (void) state;
    setup_rec(&r, &s, &d);
    for (int k = 0; k <= 20; k++) {
        rec_update(&r, 0, (double) k, t0 + k * half, 0);
    }
    assert_int_equal(s.n, 0);
    /* the alarm that half cycle 5 set off arrives after half cycle 20 */
    rec_trigger(&r, t0 + 5 * half);
    /* the window is 5..15 (100 ms): rows from the history */
    assert_int_equal(s.n, 11);
    for (int k = 25; k <= 30; k++) {
        rec_update(&r, 0, (double) k, t0 + k * half, 0);
    }
    assert_int_equal(s.n, 11); /* 20 and later are past the window */
    for (int i = 0; i < 11; i++) {
        assert_close(s.rows[i].v[0], 5.0 + i, 0);
        assert_true(s.rows[i].t_ns == t0 + (5 + i) * half);
    }
}

static void test_recorder_trigger_without_duration_takes_one_snapshot(void **state)
{
    struct rec_engine r;
    struct sink s;
    struct rec_def d = {.nch = 2, .gated = 1, .depth = 100};
    int64_t t0 = utc_ns(2026, 3, 2, 10, 0);

    (void) state;
    setup_rec(&r, &s, &d);
    rec_update(&r, 0, 5.0, t0, 0);
    rec_update(&r, 0, 6.0, t0 + 1, 0);
    assert_int_equal(s.n, 0);
    rec_trigger(&r, t0 + 5);
    assert_int_equal(s.n, 1);
    assert_true(s.rows[0].t_ns == t0 + 5);
    assert_close(s.rows[0].v[0], 6.0, 0);
    assert_true(isnan(s.rows[0].v[1]));
    assert_int_equal(s.rows[0].q[1], BUS_Q_INVALID);
}

static int64_t next(const char *text, int64_t t, const struct tzif *z)
{
    struct cfg_schedule sc;

    assert_int_equal(cfg_parse_schedule(text, &sc), 0);
    return rec_schedule_next(&sc, t, z);
}

static void test_recorder_schedules_follow_site_time_across_dst(void **state)
{
    struct tzif *paris = NULL, *kolkata = NULL;

    (void) state;
    assert_int_equal(tzif_load("Europe/Paris", &paris), 0);
    assert_int_equal(tzif_load("Asia/Kolkata", &kolkata), 0);
    /* daily 00:00 in Paris: 23:00 UTC in winter, 22:00 UTC after the change */
    assert_true(next("daily 00:00", utc_ns(2026, 3, 28, 12, 0), paris) ==
                utc_ns(2026, 3, 28, 23, 0));
    assert_true(next("daily 00:00", utc_ns(2026, 3, 28, 23, 0), paris) ==
                utc_ns(2026, 3, 29, 22, 0));
    /* 02:30 does not exist on 2026-03-29: read as 03:30 CEST = 01:30 UTC */
    assert_true(next("daily 02:30", utc_ns(2026, 3, 29, 0, 0), paris) ==
                utc_ns(2026, 3, 29, 1, 30));
    /* 02:30 happens twice on 2026-10-25: once, the first time */
    assert_true(next("daily 02:30", utc_ns(2026, 10, 24, 12, 0), paris) ==
                utc_ns(2026, 10, 25, 0, 30));
    assert_true(next("daily 02:30", utc_ns(2026, 10, 25, 0, 30), paris) ==
                utc_ns(2026, 10, 26, 1, 30));
    /* hourly :30 in Kolkata (+05:30) is on the UTC hour */
    assert_true(next("hourly :30", utc_ns(2026, 3, 2, 10, 0), kolkata) ==
                utc_ns(2026, 3, 2, 11, 0));
    /* weekly and monthly in UTC */
    assert_true(next("weekly mon 06:00", utc_ns(2026, 3, 4, 0, 0), NULL) ==
                utc_ns(2026, 3, 9, 6, 0));
    assert_true(next("monthly 1 00:00", utc_ns(2026, 12, 15, 0, 0), NULL) ==
                utc_ns(2027, 1, 1, 0, 0));
    tzif_free(paris);
    tzif_free(kolkata);
}

/* ---- the recorders: section through the config loader ---- */

static void test_recorder_config_errors_are_located(void **state)
{
    static const char text[] = "gateway: {id: t}\n"
                               "recorders:\n"
                               "  - name: ok\n"
                               "    channels: [local/u_rms/a, \"local/p/*\"]\n"
                               "    trigger: {interval: 15min}\n"
                               "  - name: bad\n"
                               "    channels: [local/u_rms/a]\n"
                               "    trigger: {interval: 5ms, schedule: \"daily 25:00\", "
                               "on_event: sag}\n"
                               "  - name: none\n"
                               "    channels: [local//x]\n"
                               "    value: average\n"
                               "  - name: snap\n"
                               "    channels: [local/u_rms/a]\n"
                               "    trigger: {on_alarm: sag_a, duration: 10s}\n";
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load(text, &cfg, &d), -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:8:25: recorders[1].trigger.interval: expected half_cycle or a "
            "duration from 200ms to 31 days, got '5ms'");
    cfgtest_assert_error(
        &d, "t.yaml:8:40: recorders[1].trigger.schedule: expected 'hourly :MM', "
            "'daily HH:MM', 'weekly DAY HH:MM' or 'monthly D HH:MM' (D 1..28), got "
            "'daily 25:00'");
    cfgtest_assert_error(
        &d, "t.yaml:8:65: recorders[1].trigger.on_event: expected dip, swell, "
            "interruption, rvc or any, got 'sag'");
    cfgtest_assert_error(
        &d, "t.yaml:10:16: recorders[2].channels[0]: expected a channel name or "
            "pattern (letters, digits, '_', '.', '-', '/', '*', '?'), got "
            "'local//x'");
    cfgtest_assert_error(&d,
                         "t.yaml:9:5: recorders[2]: recorder 'none' has no trigger: set "
                         "interval, schedule, on_alarm, on_event or manual");
    cfgtest_assert_error(
        &d, "t.yaml:11:12: recorders[2].value: value 'average' needs an interval "
            "trigger");
    cfgtest_assert_error(&d,
                         "t.yaml:14:25: recorders[3].trigger.on_alarm: no alarm is named "
                         "'sag_a'");
    assert_int_equal(d.n, 7);
    cfg_diag_fini(&d);
}

static void test_recorder_config_trend_of_a_pattern_is_refused(void **state)
{
    static const char text[] = "gateway: {id: t}\n"
                               "trends:\n"
                               "  channels: [local/p/total, \"local/u_rms/*\"]\n";
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag d;

    (void) state;
    assert_int_equal(cfgtest_load(text, &cfg, &d), -PQ_ECONFIG);
    cfgtest_assert_error(
        &d, "t.yaml:3:29: trends.channels[1]: a trend needs one channel name, not "
            "a pattern: 'local/u_rms/*'");
    assert_int_equal(d.n, 1);
    cfg_diag_fini(&d);
}

/* gateway/command/record with a value that is no recorder's index (out of
 * range, far out of int's range, NaN) is refused with a warning, never
 * read as an index. */
static void test_recorder_command_out_of_range_is_refused_not_a_crash(void **state)
{
    static const double bad[] = {1e30, -1e30, 2.0, -1.0, NAN, INFINITY};
    struct gw gw;
    void *rc = NULL;
    int ch;

    (void) state;
    memset(&gw, 0, sizeof(gw));
    gw.cfg = cfgtest_load_ok("gateway: {id: t}\n"
                             "recorders:\n"
                             "  - name: m\n"
                             "    channels: [local/u_rms/a]\n"
                             "    trigger: {manual: true, duration: 0s}\n");
    assert_int_equal(bus_new(1024, 4096, &gw.bus), 0);
    assert_int_equal(loop_new(&gw.loop), 0);
    assert_int_equal(recorder_component.start(&gw, &rc), 0);
    ch = bus_find(gw.bus, "gateway/command/record");
    assert_true(ch >= 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bus_publish(gw.bus, ch, bad[i], 1, 0), 0);
        while (bus_dispatch(gw.bus, 0) > 0) {
        }
    }
    recorder_component.stop(rc);
    loop_free(gw.loop);
    bus_free(gw.bus);
    pqgate_cfg_free((struct pqgate_cfg *) gw.cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorder_interval_rows_align_to_utc_and_average_exactly),
        cmocka_unit_test(test_recorder_min_max_last_values_per_interval),
        cmocka_unit_test(test_recorder_late_updates_are_dropped_and_counted),
        cmocka_unit_test(test_recorder_gap_in_the_data_gives_empty_rows_not_missing_ones),
        cmocka_unit_test(test_recorder_stop_when_full_stops_at_depth),
        cmocka_unit_test(test_recorder_continuous_keeps_the_newest_depth_rows),
        cmocka_unit_test(test_recorder_every_update_writes_a_row_per_time_stamp),
        cmocka_unit_test(test_recorder_trigger_window_records_only_for_its_duration),
        cmocka_unit_test(test_recorder_late_trigger_still_writes_the_rows_it_covers),
        cmocka_unit_test(test_recorder_trigger_without_duration_takes_one_snapshot),
        cmocka_unit_test(test_recorder_schedules_follow_site_time_across_dst),
        cmocka_unit_test(test_recorder_config_errors_are_located),
        cmocka_unit_test(test_recorder_config_trend_of_a_pattern_is_refused),
        cmocka_unit_test(test_recorder_command_out_of_range_is_refused_not_a_crash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
