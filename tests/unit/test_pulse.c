/* test_pulse.c - drivers/io/pulse: debounce, counting, flow, KY output;
 * drivers/io sim backend: generated pulse trains with bounce.
 *
 * Times are ns from an arbitrary T0; the answers are exact counts, and
 * flows within 1e-9 relative of weight * 3600 s / interval.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "drivers/io/io.h"
#include "drivers/io/pulse.h"

#define MS 1000000LL
#define S  1000000000LL
#define T0 (1700000000LL * S)

static void assert_close(double got, double want, double rel)
{
    double tol = rel * fmax(fabs(want), 1.0);

    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.12g, want %.12g (tol %.3g)", got, want, tol);
    }
}

/* One clean pulse of width w at t: returns the pulses counted. */
static int clean_pulse(struct pulse_counter *c, int64_t t, int64_t w)
{
    return pulse_edge(c, 1, t) + pulse_edge(c, 0, t + w);
}

/* A pulse whose both edges chatter n times, 100 us apart. */
static int bouncy_pulse(struct pulse_counter *c, int64_t t, int64_t w, int n)
{
    int got = 0;

    for (int j = 0; j <= 2 * n; j++) {
        got += pulse_edge(c, j % 2 == 0, t + j * 100000LL);
    }
    for (int j = 0; j <= 2 * n; j++) {
        got += pulse_edge(c, j % 2 != 0, t + w + j * 100000LL);
    }
    return got;
}

static void test_pulse_clean_pulses_count_once_each(void **state)
{
    struct pulse_counter c;
    int got = 0;

    (void) state;
    pulse_init(&c, 0.01, 5 * MS, 600 * S, 100.0);
    for (int i = 0; i < 1000; i++) {
        got += clean_pulse(&c, T0 + i * S, 50 * MS);
    }
    got += pulse_settle(&c, T0 + 1000 * S);
    assert_int_equal(got, 1000);
    assert_int_equal(c.pulses, 1000);
    assert_close(c.total, 100.0 + 10.0, 1e-12);
}

static void test_pulse_contact_bounce_is_filtered(void **state)
{
    struct pulse_counter c;
    int got = 0;

    (void) state;
    pulse_init(&c, 1.0, 5 * MS, 600 * S, 0.0);
    for (int i = 0; i < 100; i++) {
        got += bouncy_pulse(&c, T0 + i * S, 80 * MS, 3);
    }
    got += pulse_settle(&c, T0 + 101 * S);
    assert_int_equal(got, 100);
    assert_true(c.bounces >= 100 * 2 * 3);
    /* the pulse is counted at its first edge, not when it was confirmed */
    assert_true(c.last_ns == T0 + 99 * S);
}

static void test_pulse_shorter_than_debounce_is_not_counted(void **state)
{
    struct pulse_counter c;

    (void) state;
    pulse_init(&c, 1.0, 5 * MS, 600 * S, 0.0);
    assert_int_equal(clean_pulse(&c, T0, 4 * MS), 0);
    assert_int_equal(pulse_settle(&c, T0 + S), 0);
    assert_int_equal(clean_pulse(&c, T0 + 2 * S, 6 * MS), 1);
    assert_int_equal(c.pulses, 1);
}

static void test_pulse_flow_is_weight_over_interval_then_decays_to_zero(void **state)
{
    struct pulse_counter c;

    (void) state;
    pulse_init(&c, 0.01, 0, 60 * S, 0.0); /* 10 l per pulse, 60 s timeout */
    assert_close(pulse_flow_per_h(&c, T0), 0.0, 0);
    clean_pulse(&c, T0, 50 * MS);
    clean_pulse(&c, T0 + 4 * S, 50 * MS);
    /* 0.01 m3 every 4 s = 9 m3/h */
    assert_close(pulse_flow_per_h(&c, T0 + 5 * S), 9.0, 1e-9);
    /* 8 s without a pulse: at most 0.01 m3 per 8 s */
    assert_close(pulse_flow_per_h(&c, T0 + 12 * S), 4.5, 1e-9);
    assert_close(pulse_flow_per_h(&c, T0 + 4 * S + 60 * S), 0.0, 0);
}

static void test_pulse_flow_does_not_sag_while_a_pulse_is_being_debounced(void **state)
{
    struct pulse_counter c;

    (void) state;
    pulse_init(&c, 0.01, 5 * MS, 60 * S, 0.0);
    clean_pulse(&c, T0, 50 * MS);
    clean_pulse(&c, T0 + 4 * S, 50 * MS);
    /* the next pulse starts on time at 8 s but is confirmed only at 8.005 s */
    pulse_edge(&c, 1, T0 + 8 * S);
    assert_close(pulse_flow_per_h(&c, T0 + 8 * S + 3 * MS), 9.0, 1e-9);
}

static void test_ky_output_gives_one_pulse_per_weight_and_never_drops(void **state)
{
    struct ky_output k;
    int64_t t = T0;
    int prev = 0;
    uint64_t rising = 0;

    (void) state;
    ky_init(&k, 1.0, 50 * MS); /* 1 Wh per pulse, 50 ms wide */
    ky_feed(&k, 1000.0);       /* primes */
    ky_feed(&k, 1000.5);
    assert_int_equal(k.owed, 0);
    ky_feed(&k, 1030.25); /* 30 pulses owed at once: more than 10 per s */
    assert_int_equal(k.owed, 30);
    for (int i = 0; i < 400; i++, t += 10 * MS) {
        int lv = ky_tick(&k, t);

        rising += lv && !prev;
        prev = lv;
    }
    assert_int_equal(rising, 30);
    assert_int_equal(k.given, 30);
    assert_int_equal(k.owed, 0);
    /* the 0.25 left over waits for the next whole pulse */
    ky_feed(&k, 1030.99);
    assert_int_equal(k.owed, 0);
    ky_feed(&k, 1031.0);
    assert_int_equal(k.owed, 1);
}

static void test_ky_pulse_is_width_long_and_spaced(void **state)
{
    struct ky_output k;
    int64_t rise = 0, fall = 0, rise2 = 0;
    int prev = 0;

    (void) state;
    ky_init(&k, 1.0, 100 * MS);
    ky_feed(&k, 0.0);
    ky_feed(&k, 2.0);
    for (int64_t t = T0; t < T0 + S; t += MS) {
        int lv = ky_tick(&k, t);

        if (lv && !prev) {
            if (!rise) {
                rise = t;
            } else if (!rise2) {
                rise2 = t;
            }
        }
        if (!lv && prev && !fall) {
            fall = t;
        }
        prev = lv;
    }
    assert_true(fall - rise == 100 * MS);
    assert_true(rise2 - fall == 100 * MS);
}

static void test_io_sim_generates_bouncy_pulses_that_count_right(void **state)
{
    struct io_line lines[2] = {
        {.name = "di1", .sim_rate_hz = 50.0, .sim_bounce = 2, .sim_width_ns = 5 * MS},
        {.name = "do1", .output = 1},
    };
    struct io_open_cfg cfg = {.kind = "sim", .lines = lines, .nlines = 2};
    struct io *io;
    struct pulse_counter c;
    struct io_edge e[256];
    size_t n;
    int64_t first = 0, last = 0;
    int pulses = 0;
    struct timespec ts;

    (void) state;
    assert_int_equal(io_open(&cfg, &io), 0);
    pulse_init(&c, 1.0, 1 * MS, 600 * S, 0.0);
    /* the train starts on the next whole second: read for up to 2.5 s */
    for (int i = 0; i < 250; i++) {
        usleep(10000);
        assert_int_equal(io_read(io, e, 256, &n), 0);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(e[j].line, 0);
            if (j > 0) {
                assert_true(e[j].t_ns >= e[j - 1].t_ns);
            }
            if (pulse_edge(&c, e[j].level, e[j].t_ns)) {
                pulses++;
                first = first ? first : c.last_ns;
                last = c.last_ns;
            }
        }
    }
    assert_true(pulses >= 50);
    /* one pulse every 20 ms exactly, on the UTC second grid */
    assert_int_equal((last - first) % (20 * MS), 0);
    assert_int_equal((last - first) / (20 * MS), pulses - 1);
    assert_int_equal(first % (20 * MS), 0);
    assert_true(c.bounces >= (uint64_t) pulses * 2);
    clock_gettime(CLOCK_REALTIME, &ts);
    assert_true(last <= (int64_t) ts.tv_sec * S + ts.tv_nsec);
    /* outputs */
    assert_int_equal(io_set(io, 1, 1), 0);
    assert_int_equal(io_get(io, 1), 1);
    assert_int_equal(io_set(io, 0, 1), -EINVAL);
    assert_int_equal(io_fd(io), -1);
    io_close(io);
}

static void test_io_sim_injected_edges_come_out_in_order(void **state)
{
    struct io_line lines[1] = {{.name = "di1"}};
    struct io_open_cfg cfg = {.kind = "sim", .lines = lines, .nlines = 1};
    struct io *io;
    struct io_edge e[8];
    size_t n;

    (void) state;
    assert_int_equal(io_open(&cfg, &io), 0);
    assert_int_equal(io_sim_inject(io, 0, 1, T0), 0);
    assert_int_equal(io_sim_inject(io, 0, 0, T0 + 10 * MS), 0);
    assert_int_equal(io_sim_inject(io, 1, 0, T0), -EINVAL);
    assert_int_equal(io_read(io, e, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_true(e[0].t_ns == T0 && e[0].level == 1);
    assert_true(e[1].t_ns == T0 + 10 * MS && e[1].level == 0);
    assert_int_equal(io_get(io, 0), 0);
    io_close(io);
}

static void test_io_open_unknown_backend_is_a_config_error(void **state)
{
    struct io_open_cfg cfg = {.kind = "parport"};
    struct io *io = NULL;

    (void) state;
    assert_true(io_open(&cfg, &io) < 0);
    assert_null(io);
    io_close(NULL);
}

static void test_io_gpiod_missing_chip_is_an_error_not_a_crash(void **state)
{
    struct io_line lines[1] = {{.name = "di1", .offset = 3}};
    struct io_open_cfg cfg = {
        .kind = "gpiod", .chip = "pqgate-no-such-chip", .lines = lines, .nlines = 1};
    struct io *io = NULL;

    (void) state;
    assert_true(io_open(&cfg, &io) < 0);
    assert_null(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pulse_clean_pulses_count_once_each),
        cmocka_unit_test(test_pulse_contact_bounce_is_filtered),
        cmocka_unit_test(test_pulse_shorter_than_debounce_is_not_counted),
        cmocka_unit_test(test_pulse_flow_is_weight_over_interval_then_decays_to_zero),
        cmocka_unit_test(test_pulse_flow_does_not_sag_while_a_pulse_is_being_debounced),
        cmocka_unit_test(test_ky_output_gives_one_pulse_per_weight_and_never_drops),
        cmocka_unit_test(test_ky_pulse_is_width_long_and_spaced),
        cmocka_unit_test(test_io_sim_generates_bouncy_pulses_that_count_right),
        cmocka_unit_test(test_io_sim_injected_edges_come_out_in_order),
        cmocka_unit_test(test_io_open_unknown_backend_is_a_config_error),
        cmocka_unit_test(test_io_gpiod_missing_chip_is_an_error_not_a_crash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
