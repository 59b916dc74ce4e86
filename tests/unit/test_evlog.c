/* test_evlog.c - the event and security logs: rows in the store with their
 * time stamp and clock-sync state, security entries to a remote RFC 5424
 * collector on 127.0.0.1 (UDP and TCP), and the log without a store. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gateway/evlog.h"
#include "gateway/store.h"
#include "gateway/syslog5424.h"
#include "pq/err.h"
#include "tests/unit/syslog_parse.h"

static int synced_state;

static int fake_clock(void)
{
    return synced_state;
}

struct fx {
    char dir[64];
    char path[96];
    struct store *s;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct store_cfg c = {.batch_ns = 20000000};

    if (!f) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_evlog.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    c.path = f->path;
    if (store_open(&c, NULL, 0, &f->s) < 0) {
        return -1;
    }
    evlog_set_clock_fn(fake_clock);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    evlog_close();
    store_close(f->s);
    evlog_set_clock_fn(NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    free(f);
    return 0;
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const struct evlog_cfg quiet = {.syslog_local = 0, .facility = 10};

static void test_evlog_event_row_has_time_sync_state_and_fields(void **state)
{
    struct fx *f = *state;
    sqlite3 *r;
    sqlite3_stmt *st;
    int64_t t0, t1;

    assert_int_equal(evlog_open(f->s, &quiet), 0);
    synced_state = 1;
    t0 = wall_ns();
    assert_int_equal(evlog_event(LOG_WARNING, "alarm", "alarm_active", "u_over",
                                 "U over %d V for %.1f s", 253, 1.5),
                     0);
    synced_state = 0;
    assert_int_equal(evlog_event(LOG_NOTICE, "gateway", "power_up", NULL, "started"), 0);
    t1 = wall_ns();
    assert_int_equal(store_flush(f->s, 5000), 0);
    r = store_reader(f->s);
    assert_int_equal(
        sqlite3_prepare_v2(r,
                           "SELECT t_ns, clock_sync, severity, source, kind, "
                           "name, text FROM event_log ORDER BY rowid",
                           -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    /* the wall clock at the call: between the reads around it */
    assert_true(sqlite3_column_int64(st, 0) >= t0 && sqlite3_column_int64(st, 0) <= t1);
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    assert_int_equal(sqlite3_column_int(st, 2), LOG_WARNING);
    assert_string_equal((const char *) sqlite3_column_text(st, 3), "alarm");
    assert_string_equal((const char *) sqlite3_column_text(st, 4), "alarm_active");
    assert_string_equal((const char *) sqlite3_column_text(st, 5), "u_over");
    assert_string_equal((const char *) sqlite3_column_text(st, 6),
                        "U over 253 V for 1.5 s");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 1), 0);
    assert_int_equal(sqlite3_column_type(st, 5), SQLITE_NULL);
    assert_string_equal((const char *) sqlite3_column_text(st, 4), "power_up");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static void test_evlog_security_row_keeps_user_remote_and_kind(void **state)
{
    struct fx *f = *state;
    sqlite3 *r;
    sqlite3_stmt *st;
    struct evlog_stats es;

    assert_int_equal(evlog_open(f->s, &quiet), 0);
    synced_state = 1;
    assert_int_equal(evlog_security(LOG_WARNING, "admin", "192.0.2.10", "login_failed",
                                    "wrong password (%d of %d)", 2, 5),
                     0);
    assert_int_equal(evlog_security(42, NULL, NULL, "software_update", "to %s", "0.2.0"),
                     0);
    assert_int_equal(store_flush(f->s, 5000), 0);
    r = store_reader(f->s);
    assert_int_equal(
        sqlite3_prepare_v2(r,
                           "SELECT clock_sync, severity, user, remote, kind, "
                           "text FROM security_log ORDER BY rowid",
                           -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    assert_int_equal(sqlite3_column_int(st, 1), LOG_WARNING);
    assert_string_equal((const char *) sqlite3_column_text(st, 2), "admin");
    assert_string_equal((const char *) sqlite3_column_text(st, 3), "192.0.2.10");
    assert_string_equal((const char *) sqlite3_column_text(st, 4), "login_failed");
    assert_string_equal((const char *) sqlite3_column_text(st, 5),
                        "wrong password (2 of 5)");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 1), LOG_DEBUG); /* 42 clamped */
    assert_int_equal(sqlite3_column_type(st, 2), SQLITE_NULL);
    assert_int_equal(sqlite3_column_type(st, 3), SQLITE_NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    evlog_stats(&es);
    assert_true(es.security >= 2);
}

static void remote_roundtrip(struct fx *f, int tcp)
{
    int port, lfd = collector_open(tcp, 0, &port), fd;
    struct evlog_cfg c = quiet;
    char buf[4096], why[128], pid[32];
    struct parsed5424 p;
    int64_t t0, t1;
    int n;

    assert_true(lfd >= 0);
    c.remote_host = "127.0.0.1";
    c.remote_port = port;
    c.remote_proto = tcp ? SYSLOG5424_TCP : SYSLOG5424_UDP;
    c.remote_facility = 4; /* auth */
    c.hostname = "gw-evlog";
    assert_int_equal(evlog_open(f->s, &c), 0);
    synced_state = 0;
    t0 = wall_ns();
    assert_int_equal(evlog_security(LOG_NOTICE, "jürgen", "::1", "login",
                                    "user logged in from [%s]", "::1"),
                     0);
    t1 = wall_ns();
    /* event entries never go to syslog */
    assert_int_equal(evlog_event(LOG_NOTICE, "gateway", "power_up", NULL, "x"), 0);
    if (tcp) {
        fd = -1;
        for (int i = 0; i < 500 && fd < 0; i++) {
            fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
            if (fd < 0) {
                usleep(10000);
            }
        }
        assert_true(fd >= 0);
    } else {
        fd = lfd;
    }
    n = collector_read(fd, tcp, buf, sizeof(buf), 5000, why, sizeof(why));
    if (n <= 0) {
        print_error("%s\n", why);
    }
    assert_true(n > 0);
    assert_int_equal(parse5424(buf, (size_t) n, &p, why, sizeof(why)), 0);
    snprintf(pid, sizeof(pid), "%ld", (long) getpid());
    assert_int_equal(p.pri, 4 * 8 + LOG_NOTICE);
    assert_int_equal(p.version, 1);
    assert_true(p.t_ns >= t0 / 1000 * 1000 && p.t_ns <= t1);
    assert_string_equal(p.hostname, "gw-evlog");
    assert_string_equal(p.app_name, "pqgate");
    assert_string_equal(p.procid, pid);
    assert_string_equal(p.msgid, "login");
    assert_string_equal(sd_param(&p, "timeQuality", "tzKnown"), "1");
    assert_string_equal(sd_param(&p, "timeQuality", "isSynced"), "0");
    assert_string_equal(sd_param(&p, "pqgate@32473", "user"), "jürgen");
    assert_string_equal(sd_param(&p, "pqgate@32473", "remote"), "::1");
    assert_false(p.bom);
    assert_string_equal(p.msg, "user logged in from [::1]");
    /* nothing else came: the event entry is not a security entry */
    assert_true(collector_read(fd, tcp, buf, sizeof(buf), 300, why, sizeof(why)) < 0);
    evlog_close();
    if (tcp) {
        close(fd);
    }
    close(lfd);
}

static void test_evlog_security_entry_reaches_udp_collector_in_rfc5424(void **state)
{
    remote_roundtrip(*state, 0);
}

static void test_evlog_security_entry_reaches_tcp_collector_in_rfc5424(void **state)
{
    remote_roundtrip(*state, 1);
}

static void test_evlog_without_store_still_logs_and_returns_zero(void **state)
{
    struct evlog_stats a, b;

    (void) state;
    evlog_close();
    evlog_stats(&a);
    assert_int_equal(evlog_event(LOG_INFO, "modbus", "device_lost", "bus1.dev7", "gone"),
                     0);
    assert_int_equal(evlog_security(LOG_INFO, "u", NULL, "logout", "bye"), 0);
    evlog_stats(&b);
    assert_true(b.events == a.events + 1 && b.security == a.security + 1);
}

static void test_evlog_full_store_queue_returns_efull_and_counts(void **state)
{
    struct fx *f = *state;
    struct store_cfg c = {.path = f->path, .batch_ns = 60000000000LL, .queue_cap = 4};
    struct store *small = NULL;
    struct evlog_stats a, b;
    int rc = 0, i;

    (void) state;
    store_close(f->s);
    assert_int_equal(store_open(&c, NULL, 0, &small), 0);
    f->s = small;
    assert_int_equal(evlog_open(small, &quiet), 0);
    evlog_stats(&a);
    for (i = 0; i < 1000 && rc == 0; i++) {
        rc = evlog_event(LOG_INFO, "test", "fill", NULL, "%d", i);
    }
    if (rc == 0) {
        skip(); /* the writer kept up with every entry: nothing to test */
    }
    assert_int_equal(rc, -PQ_EFULL);
    evlog_stats(&b);
    assert_true(b.store_refused == a.store_refused + 1);
}

static void test_evlog_control_characters_cannot_forge_process_log_lines(void **state)
{
    struct fx *f = *state;
    char path[128], buf[4096];
    int saved = dup(2), fd;
    ssize_t n;
    sqlite3 *r;
    sqlite3_stmt *st;

    assert_int_equal(evlog_open(f->s, &quiet), 0);
    snprintf(path, sizeof(path), "%s/stderr", f->dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    (void) evlog_security(LOG_WARNING, "eve\n<2>forged", "x\ry", "login_failed",
                          "bad\npassword");
    dup2(saved, 2);
    close(saved);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    /* one line, the control characters shown as '?' */
    assert_non_null(strstr(buf, "user=eve?<2>forged remote=x?y: bad?password"));
    assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
    /* the store keeps the text as given */
    assert_int_equal(store_flush(f->s, 5000), 0);
    r = store_reader(f->s);
    assert_int_equal(
        sqlite3_prepare_v2(r, "SELECT user, text FROM security_log", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *) sqlite3_column_text(st, 0), "eve\n<2>forged");
    assert_string_equal((const char *) sqlite3_column_text(st, 1), "bad\npassword");
    sqlite3_finalize(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
        T(test_evlog_event_row_has_time_sync_state_and_fields),
        T(test_evlog_security_row_keeps_user_remote_and_kind),
        T(test_evlog_security_entry_reaches_udp_collector_in_rfc5424),
        T(test_evlog_security_entry_reaches_tcp_collector_in_rfc5424),
        T(test_evlog_without_store_still_logs_and_returns_zero),
        T(test_evlog_full_store_queue_returns_efull_and_counts),
        T(test_evlog_control_characters_cannot_forge_process_log_lines),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
