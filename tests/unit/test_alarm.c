/* test_alarm.c - the alarm engine on simulated inputs: time-stamped bus
 * updates drive setpoint, digital, event and logic alarms; pickup and
 * dropout must happen within one update period of the configured delay. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/alarm.h"
#include "gateway/alarm_mail.h"
#include "gateway/bus.h"
#include "gateway/loop.h"
#include "pq/err.h"
#include "tests/unit/cfgtest.h"

#define MS    1000000LL
#define S     1000000000LL
#define T0    1700000000000000000LL /* an arbitrary UTC origin */
#define STEP  (10 * MS)             /* update period of the simulated inputs */
#define PHASE (3 * MS)              /* updates at T0 + 3 ms + k * 10 ms */

struct fixture {
    struct pqgate_cfg *cfg;
    struct bus *bus;
    struct alarms *as;
};

static struct fixture fx;

static void drain(void)
{
    while (bus_dispatch(fx.bus, 0) > 0) {
    }
}

/* Load YAML text and start alarms on a fresh bus. */
static void start(const char *yaml)
{
    fx.cfg = cfgtest_load_ok(yaml);
    assert_int_equal(bus_new(4096, 65536, &fx.bus), 0);
    assert_int_equal(alarms_new(fx.cfg, fx.bus, NULL, &fx.as), 0);
    drain();
}

static int teardown(void **state)
{
    (void) state;
    alarms_free(fx.as);
    bus_free(fx.bus);
    pqgate_cfg_free(fx.cfg);
    memset(&fx, 0, sizeof(fx));
    return 0;
}

static int chan(const char *name)
{
    int ch = bus_register(fx.bus, name, "");

    if (ch == -PQ_EEXIST) {
        ch = bus_find(fx.bus, name);
    }
    assert_true(ch >= 0);
    return ch;
}

static void put(const char *name, double v, int64_t t)
{
    assert_int_equal(bus_publish(fx.bus, chan(name), v, t, 0), 0);
    drain();
}

static struct alarm_status status(const char *name)
{
    struct alarm_status st;
    int idx = alarms_find(fx.as, name);

    assert_true(idx >= 0);
    assert_int_equal(alarms_status(fx.as, idx, &st), 0);
    return st;
}

static double latest(const char *name)
{
    struct bus_value v;

    assert_int_equal(bus_get(fx.bus, chan(name), &v), 0);
    return v.value;
}

/* Feed f(t) on name every 10 ms over [from, to) seconds after T0. */
static void ramp(const char *name, double (*f)(double), double from, double to)
{
    for (int64_t t = T0 + (int64_t) (from * 1e9) + PHASE; t < T0 + (int64_t) (to * 1e9);
         t += STEP) {
        put(name, f((double) (t - T0) / 1e9), t);
    }
}

/* The time of the last transition, in seconds after T0. */
static double since_s(const char *name)
{
    return (double) (status(name).since_ns - T0) / 1e9;
}

static void assert_between(double got, double lo, double hi)
{
    if (!(got >= lo && got <= hi)) {
        print_error("got %.9f, want %.9f..%.9f\n", got, lo, hi);
        fail();
    }
}

/* 230 V, 260 V from 1 s to 5 s, 245 V (inside the hysteresis band) from 5 s
 * to 6 s, then 230 V. */
static double overvoltage(double t)
{
    return t >= 1.0 && t < 5.0 ? 260.0 : t >= 5.0 && t < 6.0 ? 245.0 : 230.0;
}

static void
test_alarm_over_picks_up_and_drops_out_within_one_update_of_the_delays(void **state)
{
    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: ov, kind: over, channel: local/u_rms/a, pickup: 253 V,\n"
          "     dropout: 240 V, pickup_delay: 2s, dropout_delay: 1s}\n");
    ramp("local/u_rms/a", overvoltage, 0.0, 2.9);
    assert_int_equal(status("ov").state, ALARM_INACTIVE); /* 1.9 s of 2 s */
    ramp("local/u_rms/a", overvoltage, 2.9, 10.0);
    /* the condition began at 1 s: active 2 s later, within one update */
    assert_int_equal(status("ov").activations, 1);
    assert_int_equal(status("ov").state, ALARM_INACTIVE_UNACKED);
    {
        struct alarm_transition h[4];
        size_t n = alarms_history(fx.as, h, 4);

        assert_int_equal(n, 2);
        assert_int_equal(h[0].to, ALARM_ACTIVE);
        assert_between((double) (h[0].t_ns - T0) / 1e9, 3.0, 3.01);
        assert_int_equal(h[1].to, ALARM_INACTIVE_UNACKED);
        /* 245 V holds it (hysteresis); below 240 V from 6 s, 1 s delay */
        assert_between((double) (h[1].t_ns - T0) / 1e9, 7.0, 7.01);
    }
}

/* Shorter than the pickup delay: nothing. */
static double blip(double t)
{
    return t >= 1.0 && t < 2.5 ? 260.0 : 230.0;
}

static void test_alarm_over_a_blip_shorter_than_the_delay_does_not_activate(void **state)
{
    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: ov, kind: over, channel: u, pickup: 253, pickup_delay: 2s}\n");
    ramp("u", blip, 0.0, 6.0);
    assert_int_equal(status("ov").state, ALARM_INACTIVE);
    assert_int_equal(status("ov").activations, 0);
}

static double undervoltage(double t)
{
    return t >= 0.5 && t < 3.0 ? 200.0 : 230.0;
}

static void
test_alarm_under_picks_up_and_drops_out_within_one_update_of_the_delays(void **state)
{
    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: uv, kind: under, channel: u, pickup: 207 V, dropout: 215 V,\n"
          "     pickup_delay: 500ms, dropout_delay: 250ms}\n");
    ramp("u", undervoltage, 0.0, 2.0);
    assert_int_equal(status("uv").state, ALARM_ACTIVE);
    assert_between(since_s("uv"), 1.0, 1.01);
    ramp("u", undervoltage, 2.0, 5.0);
    assert_int_equal(status("uv").state, ALARM_INACTIVE_UNACKED);
    assert_between(since_s("uv"), 3.25, 3.26);
}

static double frequency(double t)
{
    return t >= 1.0 && t < 2.0 ? 50.3 : 50.02;
}

/* Deviation from a reference channel, in % of the reference: 0.5 % of 50 Hz
 * is 0.25 Hz. */
static void test_alarm_deviation_in_percent_of_a_reference_channel(void **state)
{
    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: df, kind: deviation, channel: f, reference: f_ref,\n"
          "     pickup: 0.5 %, dropout: 0.2 %}\n");
    put("f_ref", 50.0, T0);
    ramp("f", frequency, 0.0, 1.5);
    assert_int_equal(status("df").state, ALARM_ACTIVE);
    assert_between(since_s("df"), 1.0, 1.01);
    put("f_ref", 50.2, T0 + 1600 * MS); /* now 0.1 Hz away: below 0.2 % */
    assert_int_equal(status("df").state, ALARM_INACTIVE_UNACKED);
    assert_between(since_s("df"), 1.6, 1.6);
}

static void test_alarm_deviation_from_a_fixed_value_is_absolute(void **state)
{
    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: dv, kind: deviation, channel: u, reference: 230 V, pickup: 10 V,\n"
          "     dropout: 5 V}\n");
    put("u", 219.0, T0);
    assert_int_equal(status("dv").state, ALARM_ACTIVE);
    put("u", 224.0, T0 + S); /* 6 V away: holds */
    assert_int_equal(status("dv").state, ALARM_ACTIVE);
    put("u", 226.0, T0 + 2 * S);
    assert_int_equal(status("dv").state, ALARM_INACTIVE_UNACKED);
}

/* A digital input that alarms on 0, with a delay, and a quiet input: the
 * timer carries its time forward. */
static void test_alarm_digital_on_a_quiet_input_ends_its_delay_by_the_timer(void **state)
{
    int64_t mono;

    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: door, kind: digital, channel: io/door/state, state: 0,\n"
          "     pickup_delay: 1s}\n");
    put("io/door/state", 1.0, T0);
    put("io/door/state", 0.0, T0 + S);
    assert_int_equal(status("door").state, ALARM_INACTIVE);
    mono = loop_mono_ns();
    alarms_tick(fx.as, mono + 1200 * MS); /* deadline + 0.2 s: within the grace */
    assert_int_equal(status("door").state, ALARM_INACTIVE);
    alarms_tick(fx.as, mono + 1600 * MS);
    assert_int_equal(status("door").state, ALARM_ACTIVE);
    assert_int_equal(status("door").since_ns, T0 + 2 * S); /* exactly at the deadline */
    put("io/door/state", 1.0, T0 + 3 * S);
    assert_int_equal(status("door").state, ALARM_INACTIVE_UNACKED);
}

/* The PM8000's states: active -> acknowledged -> cleared, and active ->
 * cleared unacknowledged -> acknowledged, by the API and by the command
 * channel. */
static void test_alarm_states_follow_acknowledgements(void **state)
{
    struct alarm_transition h[8];

    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: a, kind: over, channel: x, pickup: 1}\n"
          "  - {name: b, kind: over, channel: x, pickup: 1}\n");
    put("x", 2.0, T0);
    assert_int_equal(status("a").state, ALARM_ACTIVE);
    assert_true(latest("alarm/a/state") == 1.0 && latest("alarm/a/active") == 1.0);
    assert_int_equal(alarms_ack(fx.as, 0), 1);
    assert_int_equal(status("a").state, ALARM_ACTIVE_ACKED);
    assert_true(latest("alarm/a/state") == 2.0 && latest("alarm/a/active") == 1.0);
    assert_int_equal(alarms_ack(fx.as, 0), 0); /* nothing more to acknowledge */
    put("x", 0.0, T0 + S);
    assert_int_equal(status("a").state, ALARM_INACTIVE);
    assert_int_equal(status("b").state, ALARM_INACTIVE_UNACKED);
    assert_true(latest("alarm/b/state") == 3.0 && latest("alarm/b/active") == 0.0);
    put("gateway/command/ack", 1.0, T0 + 2 * S);
    assert_int_equal(status("b").state, ALARM_INACTIVE);
    assert_int_equal(alarms_ack(fx.as, 5), -EINVAL);
    put("x", 2.0, T0 + 3 * S);
    put("gateway/command/ack", -1.0, T0 + 4 * S); /* all */
    assert_int_equal(status("a").state, ALARM_ACTIVE_ACKED);
    assert_int_equal(status("b").state, ALARM_ACTIVE_ACKED);
    assert_int_equal(status("a").activations, 2);
    assert_int_equal(alarms_history(fx.as, h, 8), 8);
    assert_int_equal(h[7].alarm, 1);
    assert_int_equal(h[7].from, ALARM_ACTIVE);
    assert_int_equal(h[7].to, ALARM_ACTIVE_ACKED);
}

static void test_alarm_priorities_read_as_names_or_numbers(void **state)
{
    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: l, kind: over, channel: x, pickup: 1, priority: low}\n"
          "  - {name: m, kind: over, channel: x, pickup: 1}\n"
          "  - {name: h, kind: over, channel: x, pickup: 1, priority: high}\n"
          "  - {name: n, kind: over, channel: x, pickup: 1, priority: 250}\n");
    assert_int_equal(status("l").priority, 64);
    assert_int_equal(status("m").priority, 128);
    assert_int_equal(status("h").priority, 192);
    assert_int_equal(status("n").priority, 250);
}

/* Logic over alarms and channels: active while a and (b or y > 5). */
static void test_alarm_logic_combines_alarms_and_conditions(void **state)
{
    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: a, kind: over, channel: x, pickup: 1}\n"
          "  - {name: b, kind: digital, channel: d}\n"
          "  - {name: both, kind: logic,\n"
          "     expr: 'alarm(\"a\") and (alarm(\"b\") or y > 5)', dropout_delay: 1s}\n");
    put("x", 2.0, T0);
    assert_int_equal(status("both").state, ALARM_INACTIVE); /* b and y unknown */
    put("d", 1.0, T0 + S);
    assert_int_equal(status("both").state, ALARM_ACTIVE);
    assert_int_equal(status("both").since_ns, T0 + S);
    put("d", 0.0, T0 + 2 * S);
    put("y", 7.0, T0 + 2 * S + 10 * MS); /* still true: b or y */
    put("x", 0.0, T0 + 3 * S);           /* a clears: false from 3 s */
    assert_int_equal(status("both").state, ALARM_ACTIVE);
    put("y", 7.0, T0 + 4 * S); /* 1 s dropout delay ends */
    assert_int_equal(status("both").state, ALARM_INACTIVE_UNACKED);
    assert_int_equal(status("both").since_ns, T0 + 4 * S);
}

/* PQ events arrive as local/event/<kind>/active from the metrology. */
static void test_alarm_event_is_active_while_an_event_of_its_kinds_lasts(void **state)
{
    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: pq, kind: event, events: [dip, interruption]}\n");
    put("local/event/swell/active", 1.0, T0);
    assert_int_equal(status("pq").state, ALARM_INACTIVE);
    put("local/event/dip/active", 1.0, T0 + S);
    put("local/event/interruption/active", 1.0, T0 + S + 40 * MS);
    put("local/event/interruption/active", 0.0, T0 + S + 80 * MS);
    assert_int_equal(status("pq").state, ALARM_ACTIVE); /* the dip lasts */
    put("local/event/dip/active", 0.0, T0 + S + 100 * MS);
    assert_int_equal(status("pq").state, ALARM_INACTIVE_UNACKED);
    assert_int_equal(status("pq").since_ns, T0 + S + 100 * MS);
}

/* Urms(1/2) every 10 ms, a dip to 60 % from 1.000 s to 1.100 s: with no
 * delays the alarm follows within one half cycle; with a 40 ms pickup delay
 * within one half cycle of it. */
static double dip(double t)
{
    return t >= 1.0 && t < 1.1 ? 138.0 : 230.0;
}

static void test_alarm_half_cycle_class_follows_a_dip_within_a_half_cycle(void **state)
{
    struct alarm_transition h[8];
    size_t n;

    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: d0, class: half_cycle, kind: under, channel: local/u_rms_half/a,\n"
          "     pickup: 207 V, dropout: 211.6 V}\n"
          "  - {name: d40, class: half_cycle, kind: under, channel: local/u_rms_half/a,\n"
          "     pickup: 207 V, dropout: 211.6 V, pickup_delay: 40ms, dropout_delay: "
          "20ms}\n");
    ramp("local/u_rms_half/a", dip, 0.0, 2.0);
    n = alarms_history(fx.as, h, 8);
    assert_int_equal(n, 4);
    /* d0 */
    assert_int_equal(h[0].alarm, 0);
    assert_between((double) (h[0].t_ns - T0) / 1e9, 1.0, 1.01);
    /* d40 */
    assert_int_equal(h[1].alarm, 1);
    assert_between((double) (h[1].t_ns - T0) / 1e9, 1.04, 1.05);
    assert_int_equal(h[2].alarm, 0);
    assert_between((double) (h[2].t_ns - T0) / 1e9, 1.1, 1.11);
    assert_int_equal(h[3].alarm, 1);
    assert_between((double) (h[3].t_ns - T0) / 1e9, 1.12, 1.13);
}

/* 60 alarms at once, pickups 101..160 on one ramp of 1 per second from
 * 100: alarm k picks up when the ramp passes 101 + k, 2 s later. */
static double slope(double t)
{
    return 100.0 + t;
}

static void test_alarm_sixty_alarms_each_pick_up_on_time(void **state)
{
    char yaml[16384];
    size_t len = 0;

    (void) state;
    len +=
        (size_t) snprintf(yaml + len, sizeof(yaml) - len, "gateway: {id: t}\nalarms:\n");
    for (int k = 0; k < 60; k++) {
        len += (size_t) snprintf(yaml + len, sizeof(yaml) - len,
                                 "  - {name: a%d, kind: over, channel: r, pickup: %d,"
                                 " pickup_delay: 2s}\n",
                                 k, 101 + k);
    }
    start(yaml);
    ramp("r", slope, 0.0, 64.0);
    for (int k = 0; k < 60; k++) {
        char name[16];

        snprintf(name, sizeof(name), "a%d", k);
        assert_int_equal(status(name).state, ALARM_ACTIVE);
        /* above 101 + k from t = 1 + k (first update after it), +2 s */
        assert_between(since_s(name), 3.0 + k, 3.01 + k);
    }
}

static void test_alarm_output_capture_and_burst_actions_publish_commands(void **state)
{
    struct bus_value v;

    (void) state;
    start("gateway: {id: t}\n"
          "alarms:\n"
          "  - {name: other, kind: over, channel: y, pickup: 1}\n"
          "  - {name: a, kind: over, channel: x, pickup: 1,\n"
          "     actions: [log, capture, burst, {output: relay1}, mqtt]}\n");
    put("x", 2.0, T0);
    assert_true(latest("io/relay1/set") == 1.0);
    /* -(index + 1), at the time of the transition */
    assert_int_equal(bus_get(fx.bus, chan("gateway/command/capture"), &v), 0);
    assert_true(v.value == -2.0);
    assert_true(v.t_ns == T0);
    assert_int_equal(bus_get(fx.bus, chan("gateway/command/burst"), &v), 0);
    assert_true(v.value == -2.0);
    assert_true(v.t_ns == T0);
    put("x", 0.0, T0 + S);
    assert_true(latest("io/relay1/set") == 0.0);
    /* once per activation: nothing new on clearing */
    assert_int_equal(bus_get(fx.bus, chan("gateway/command/capture"), &v), 0);
    assert_true(v.t_ns == T0);
    assert_int_equal(bus_get(fx.bus, chan("gateway/command/burst"), &v), 0);
    assert_true(v.t_ns == T0);
}

/* Config errors name the file, line and column. */
static void test_alarm_config_errors_are_located(void **state)
{
    static const char yaml[] =
        "gateway: {id: t}\n"
        "alarms:\n"
        "  - {name: a, kind: over, channel: x, pickup: 10, dropout: 12}\n"
        "  - {name: b, kind: logic, expr: 'alarm(\"c\") or mx(1, 2)'}\n"
        "  - {name: a, kind: under, channel: 'bad//name', pickup: 1 furlong}\n"
        "  - {name: c, kind: over, channel: x, pickup: 1, actions: [email, blink]}\n";
    struct cfg_diag diag;
    void *obj = NULL;
    const char *want[] = {
        "test.yaml:3:60: alarms[0].dropout: the dropout (12) must not be above the "
        "pickup (10) of an alarm of kind over",
        "test.yaml:4:34: alarms[1].expr: at column 15 of the expression: unknown "
        "function 'mx' (did you mean 'max'?)",
        "test.yaml:5:37: alarms[2].channel: expected a channel name",
        "test.yaml:5:58: alarms[2].pickup: expected a value like",
        "test.yaml:6:67: alarms[3].actions[1].kind: expected log, capture",
        "test.yaml:5:12: alarms[2].name: alarm name 'a' is used twice",
        "test.yaml:6:60: alarms[3].actions[0].kind: the email action needs "
        "alarms_email.server",
    };

    (void) state;
    cfg_diag_init(&diag);
    assert_int_equal(cfg_load(&pqgate_schema, "test.yaml", (const uint8_t *) yaml,
                              strlen(yaml), NULL, 0, &obj, &diag),
                     -PQ_ECONFIG);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int found = 0;

        for (size_t k = 0; k < diag.n; k++) {
            found |= strncmp(diag.msgs[k], want[i], strlen(want[i])) == 0;
        }
        if (!found) {
            print_error("missing: %s\n", want[i]);
            cfg_diag_print(&diag, stderr);
            fail();
        }
    }
    cfg_diag_fini(&diag);
}

/* A server that accepts connections into its backlog and never speaks:
 * the worker is stuck in its first message.  The queue (1) keeps one more;
 * the rest are dropped and counted; stopping abandons the stuck transfer. */
static void test_alarm_mail_queue_is_bounded_and_stop_abandons_a_stuck_send(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    char url[64];
    struct alarms_email_cfg cfg = {0};
    struct alarm_mail *m = NULL;
    struct alarm_mail_stats st;
    const char *to[] = {"ops@example.com"};
    int64_t t0;
    int dropped = 0;

    (void) state;
    assert_true(srv >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(srv, (struct sockaddr *) &sa, sizeof(sa)), 0);
    assert_int_equal(listen(srv, 8), 0);
    assert_int_equal(getsockname(srv, (struct sockaddr *) &sa, &sl), 0);
    snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", ntohs(sa.sin_port));
    cfg.server = url;
    cfg.from = "gw@example.com";
    cfg.username = "";
    cfg.password_file = "";
    cfg.timeout_ns = 30 * S;
    cfg.queue = 1;
    assert_int_equal(alarm_mail_new(&cfg, &m), 0);
    for (int k = 0; k < 5; k++) {
        dropped += alarm_mail_send(m, to, 1, "subject", "body") == -PQ_EFULL;
    }
    alarm_mail_stats(m, &st);
    assert_true(dropped >= 3); /* one being sent (or waiting), one queued at most */
    assert_int_equal(st.dropped, (uint64_t) dropped);
    assert_int_equal(st.queued + st.dropped, 5);
    t0 = loop_mono_ns();
    alarm_mail_free(m);
    /* the 30 s timeout is not waited for: libcurl's progress callback, called
     * at least once a second, aborts the transfer */
    assert_true(loop_mono_ns() - t0 < 2 * S);
    close(srv);
}

int main(void)
{
    log_set_level(LOG_ERR); /* the transitions are logged at warning */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_alarm_over_picks_up_and_drops_out_within_one_update_of_the_delays,
            teardown),
        cmocka_unit_test_teardown(
            test_alarm_over_a_blip_shorter_than_the_delay_does_not_activate, teardown),
        cmocka_unit_test_teardown(
            test_alarm_under_picks_up_and_drops_out_within_one_update_of_the_delays,
            teardown),
        cmocka_unit_test_teardown(test_alarm_deviation_in_percent_of_a_reference_channel,
                                  teardown),
        cmocka_unit_test_teardown(test_alarm_deviation_from_a_fixed_value_is_absolute,
                                  teardown),
        cmocka_unit_test_teardown(
            test_alarm_digital_on_a_quiet_input_ends_its_delay_by_the_timer, teardown),
        cmocka_unit_test_teardown(test_alarm_states_follow_acknowledgements, teardown),
        cmocka_unit_test_teardown(test_alarm_priorities_read_as_names_or_numbers,
                                  teardown),
        cmocka_unit_test_teardown(test_alarm_logic_combines_alarms_and_conditions,
                                  teardown),
        cmocka_unit_test_teardown(
            test_alarm_event_is_active_while_an_event_of_its_kinds_lasts, teardown),
        cmocka_unit_test_teardown(
            test_alarm_half_cycle_class_follows_a_dip_within_a_half_cycle, teardown),
        cmocka_unit_test_teardown(test_alarm_sixty_alarms_each_pick_up_on_time, teardown),
        cmocka_unit_test_teardown(
            test_alarm_output_capture_and_burst_actions_publish_commands, teardown),
        cmocka_unit_test(test_alarm_config_errors_are_located),
        cmocka_unit_test(test_alarm_mail_queue_is_bounded_and_stop_abandons_a_stuck_send),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
