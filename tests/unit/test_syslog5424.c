/* test_syslog5424.c - RFC 5424 formatting, and delivery to real UDP and TCP
 * collectors on 127.0.0.1 (RFC 5426, RFC 6587 octet counting): every field
 * is parsed back and checked; a lost or stalled collector never blocks the
 * caller, drops the newest with a count, and is reconnected to. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/syslog5424.h"
#include "pq/err.h"
#include "tests/unit/syslog_parse.h"

/* 2024-02-29T23:59:58.123456789Z */
#define T_LEAP_NS (1709251198LL * 1000000000LL + 123456789LL)

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct parsed5424 parse_ok(const char *buf, size_t len)
{
    struct parsed5424 p;
    char why[128] = "";

    if (parse5424(buf, len, &p, why, sizeof(why)) < 0) {
        print_error("not RFC 5424 (%s): %s\n", why, buf);
        fail();
    }
    return p;
}

static void test_syslog5424_format_is_exact_for_a_known_message(void **state)
{
    char buf[512];
    struct syslog5424_msg m = {
        .severity = 5,
        .t_ns = T_LEAP_NS,
        .clock_synced = 1,
        .msgid = "login",
        .user = "alice",
        .remote = "192.0.2.7",
        .text = "user alice logged in",
    };
    size_t n = syslog5424_format(buf, sizeof(buf), 10, "gw-01", "pqgate", 4242, &m);

    (void) state;
    /* PRI = 10 x 8 + 5 = 85 (6.2.1); the time truncated to microseconds */
    assert_string_equal(buf, "<85>1 2024-02-29T23:59:58.123456Z gw-01 pqgate 4242 login "
                             "[timeQuality tzKnown=\"1\" isSynced=\"1\"]"
                             "[pqgate@32473 user=\"alice\" remote=\"192.0.2.7\"] "
                             "user alice logged in");
    assert_int_equal(n, strlen(buf));
}

static void test_syslog5424_param_values_escape_quote_backslash_bracket(void **state)
{
    char buf[512];
    struct syslog5424_msg m = {
        .severity = 4, .t_ns = 0, .user = "a\"b\\c]d\ne", .text = "x"};
    struct parsed5424 p;

    (void) state;
    syslog5424_format(buf, sizeof(buf), 4, "h", "app", 1, &m);
    assert_non_null(strstr(buf, "user=\"a\\\"b\\\\c\\]d e\""));
    p = parse_ok(buf, strlen(buf));
    assert_string_equal(sd_param(&p, "pqgate@32473", "user"), "a\"b\\c]d e");
    assert_null(sd_param(&p, "pqgate@32473", "remote"));
    assert_string_equal(sd_param(&p, "timeQuality", "isSynced"), "0");
    assert_int_equal(p.t_ns, 0);
    assert_string_equal(p.timestamp, "1970-01-01T00:00:00.000000Z");
}

static void test_syslog5424_header_fields_are_printable_ascii_or_nil(void **state)
{
    char buf[512];
    struct syslog5424_msg m = {
        .severity = 9, /* clamped to 7 */
        .t_ns = T_LEAP_NS,
        .msgid = "a very long message id of more than 32 characters",
        .text = "",
    };
    struct parsed5424 p;

    (void) state;
    syslog5424_format(buf, sizeof(buf), 16, "host name\t", "", 7, &m);
    p = parse_ok(buf, strlen(buf));
    assert_int_equal(p.pri, 16 * 8 + 7);
    assert_string_equal(p.hostname, "host_name_");
    assert_string_equal(p.app_name, "-");
    assert_int_equal(strlen(p.msgid), 32); /* 6.2.7: at most 32 */
    assert_int_equal(p.n_sd, 1);
    assert_string_equal(p.msg, "");
    m.msgid = NULL;
    syslog5424_format(buf, sizeof(buf), 16, "h", "a", 7, &m);
    p = parse_ok(buf, strlen(buf));
    assert_string_equal(p.msgid, "-");
}

static void test_syslog5424_utf8_text_starts_with_bom_ascii_does_not(void **state)
{
    char buf[512];
    struct syslog5424_msg m = {.severity = 5, .t_ns = T_LEAP_NS, .text = "Jürgen"};
    struct parsed5424 p;

    (void) state;
    syslog5424_format(buf, sizeof(buf), 10, "h", "a", 1, &m);
    p = parse_ok(buf, strlen(buf));
    assert_true(p.bom);
    assert_string_equal(p.msg, "Jürgen");
    m.text = "plain";
    syslog5424_format(buf, sizeof(buf), 10, "h", "a", 1, &m);
    p = parse_ok(buf, strlen(buf));
    assert_false(p.bom);
    assert_string_equal(p.msg, "plain");
}

static void test_syslog5424_small_buffer_is_cut_and_terminated(void **state)
{
    char buf[20];
    struct syslog5424_msg m = {.severity = 5, .t_ns = T_LEAP_NS, .text = "x"};
    size_t n;

    (void) state;
    memset(buf, 'Z', sizeof(buf));
    n = syslog5424_format(buf, sizeof(buf), 10, "h", "a", 1, &m);
    assert_int_equal(n, 19);
    assert_int_equal(buf[19], '\0');
    assert_memory_equal(buf, "<85>1 2024-02-29T23", 19);
}

static struct syslog5424 *open_sender(int proto, int port, size_t cap)
{
    struct syslog5424_cfg c = {
        .host = "127.0.0.1",
        .port = port,
        .proto = proto,
        .facility = 10,
        .hostname = "gw-test",
        .queue_cap = cap,
    };
    struct syslog5424 *s = NULL;

    assert_int_equal(syslog5424_open(&c, &s), 0);
    return s;
}

static void send_numbered(struct syslog5424 *s, int i, int64_t t_ns)
{
    char text[64];
    struct syslog5424_msg m = {
        .severity = i % 8,
        .t_ns = t_ns,
        .clock_synced = i % 2,
        .msgid = "login_failed",
        .user = "bob",
        .remote = "127.0.0.1",
        .text = text,
    };

    snprintf(text, sizeof(text), "attempt %d", i);
    assert_int_equal(syslog5424_send(s, &m), 0);
}

/* Every field of message i as send_numbered() made it. */
static void check_numbered(const char *buf, int len, int i, int64_t t_ns)
{
    struct parsed5424 p = parse_ok(buf, (size_t) len);
    char text[64], pid[32];

    snprintf(text, sizeof(text), "attempt %d", i);
    snprintf(pid, sizeof(pid), "%ld", (long) getpid());
    assert_int_equal(p.pri, 10 * 8 + i % 8);
    assert_int_equal(p.version, 1);
    assert_true(p.t_ns == t_ns / 1000 * 1000); /* microseconds on the wire */
    assert_string_equal(p.hostname, "gw-test");
    assert_string_equal(p.app_name, "pqgate");
    assert_string_equal(p.procid, pid);
    assert_string_equal(p.msgid, "login_failed");
    assert_int_equal(p.n_sd, 2);
    assert_string_equal(p.sd[0].id, "timeQuality");
    assert_string_equal(sd_param(&p, "timeQuality", "tzKnown"), "1");
    assert_string_equal(sd_param(&p, "timeQuality", "isSynced"), i % 2 ? "1" : "0");
    assert_string_equal(sd_param(&p, "pqgate@32473", "user"), "bob");
    assert_string_equal(sd_param(&p, "pqgate@32473", "remote"), "127.0.0.1");
    assert_false(p.bom);
    assert_string_equal(p.msg, text);
}

static void test_syslog5424_udp_collector_receives_every_field(void **state)
{
    int port, fd = collector_open(0, 0, &port);
    struct syslog5424 *s;
    char buf[4096], why[128];
    int64_t t = T_LEAP_NS;
    struct syslog5424_stats st;

    (void) state;
    assert_true(fd >= 0);
    s = open_sender(SYSLOG5424_UDP, port, 0);
    for (int i = 0; i < 5; i++) {
        send_numbered(s, i, t + i * 1000999LL);
    }
    for (int i = 0; i < 5; i++) {
        int n = collector_read(fd, 0, buf, sizeof(buf), 5000, why, sizeof(why));

        if (n <= 0) {
            print_error("%s\n", why);
        }
        assert_true(n > 0);
        check_numbered(buf, n, i, t + i * 1000999LL);
    }
    /* counted just after send() returns, maybe after the datagram arrived */
    for (int64_t t0 = mono_ms(); mono_ms() - t0 < 2000;) {
        syslog5424_stats(s, &st);
        if (st.sent == 5) {
            break;
        }
        usleep(1000);
    }
    assert_true(st.sent == 5 && st.dropped == 0);
    syslog5424_close(s, 1000);
    close(fd);
}

static int accept_within(int lfd, int timeout_ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};

    if (poll(&p, 1, timeout_ms) != 1) {
        return -1;
    }
    return accept(lfd, NULL, NULL);
}

static void test_syslog5424_tcp_collector_receives_octet_counted_frames(void **state)
{
    int port, lfd = collector_open(1, 0, &port), fd;
    struct syslog5424 *s;
    char buf[4096], why[128];
    int64_t t = T_LEAP_NS;

    (void) state;
    assert_true(lfd >= 0);
    s = open_sender(SYSLOG5424_TCP, port, 0);
    for (int i = 0; i < 20; i++) {
        send_numbered(s, i, t + i);
    }
    fd = accept_within(lfd, 5000);
    assert_true(fd >= 0);
    for (int i = 0; i < 20; i++) {
        int n = collector_read(fd, 1, buf, sizeof(buf), 5000, why, sizeof(why));

        if (n <= 0) {
            print_error("%s\n", why);
        }
        assert_true(n > 0);
        check_numbered(buf, n, i, t + i);
    }
    syslog5424_close(s, 1000);
    /* closing ends the stream cleanly, between frames */
    assert_int_equal(collector_read(fd, 1, buf, sizeof(buf), 5000, why, sizeof(why)), 0);
    close(fd);
    close(lfd);
}

static void
test_syslog5424_absent_collector_never_blocks_drops_newest_then_delivers(void **state)
{
    int port, lfd = collector_open(1, 0, &port), fd;
    struct syslog5424 *s;
    struct syslog5424_stats st;
    char buf[4096], why[128];
    int64_t t0;

    (void) state;
    assert_true(lfd >= 0);
    close(lfd); /* nobody listens on port now: connections are refused */
    s = open_sender(SYSLOG5424_TCP, port, 16);
    t0 = mono_ms();
    for (int i = 0; i < 300; i++) {
        char text[32];
        struct syslog5424_msg m = {.severity = 5, .t_ns = i, .text = text};

        snprintf(text, sizeof(text), "n%d", i);
        (void) syslog5424_send(s, &m);
    }
    /* 300 calls with the collector away: no network wait in them (a generous
     * bound for a loaded machine; one connect timeout would be 2000 ms) */
    assert_true(mono_ms() - t0 < 1000);
    syslog5424_stats(s, &st);
    assert_true(st.queued == 16);
    assert_true(st.dropped == 284);
    assert_true(st.connected == 0);
    /* the collector comes back: the sender reconnects (back-off 1 s, 2 s) and
     * delivers the 16 oldest, in order */
    lfd = collector_open(1, port, &port);
    assert_true(lfd >= 0);
    fd = accept_within(lfd, 10000);
    assert_true(fd >= 0);
    for (int i = 0; i < 16; i++) {
        int n = collector_read(fd, 1, buf, sizeof(buf), 5000, why, sizeof(why));
        struct parsed5424 p;
        char text[32];

        assert_true(n > 0);
        p = parse_ok(buf, (size_t) n);
        snprintf(text, sizeof(text), "n%d", i);
        assert_string_equal(p.msg, text);
    }
    for (int64_t t1 = mono_ms(); mono_ms() - t1 < 2000;) {
        syslog5424_stats(s, &st);
        if (st.sent == 16) {
            break;
        }
        usleep(1000);
    }
    assert_true(st.sent == 16 && st.connects == 1);
    syslog5424_close(s, 1000);
    close(fd);
    close(lfd);
}

static void test_syslog5424_collector_that_closes_is_reconnected_to(void **state)
{
    int port, lfd = collector_open(1, 0, &port), fd;
    struct syslog5424 *s;
    struct syslog5424_stats st;
    char buf[4096], why[128];
    int n;

    (void) state;
    assert_true(lfd >= 0);
    s = open_sender(SYSLOG5424_TCP, port, 0);
    send_numbered(s, 0, 1000);
    fd = accept_within(lfd, 5000);
    assert_true(fd >= 0);
    n = collector_read(fd, 1, buf, sizeof(buf), 5000, why, sizeof(why));
    assert_true(n > 0);
    check_numbered(buf, n, 0, 1000);
    close(fd); /* the collector restarts */
    usleep(100000);
    send_numbered(s, 1, 2000);
    fd = accept_within(lfd, 10000);
    assert_true(fd >= 0);
    n = collector_read(fd, 1, buf, sizeof(buf), 5000, why, sizeof(why));
    if (n <= 0) {
        print_error("%s\n", why);
    }
    assert_true(n > 0);
    check_numbered(buf, n, 1, 2000);
    syslog5424_stats(s, &st);
    assert_true(st.connects == 2);
    syslog5424_close(s, 1000);
    close(fd);
    close(lfd);
}

static void test_syslog5424_stalled_collector_never_blocks_the_caller(void **state)
{
    int port, lfd = collector_open(1, 0, &port), fd;
    struct syslog5424 *s;
    struct syslog5424_stats st;
    char big[1800];
    struct syslog5424_msg m = {.severity = 5, .t_ns = 1, .text = big};
    int64_t t0, t1;

    (void) state;
    assert_true(lfd >= 0);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s = open_sender(SYSLOG5424_TCP, port, 64);
    (void) syslog5424_send(s, &m);
    fd = accept_within(lfd, 5000); /* accepted, never read */
    assert_true(fd >= 0);
    t0 = mono_ms();
    /* 20 000 x 1.8 kB = 36 MB: far past the socket buffers */
    for (int i = 0; i < 20000; i++) {
        (void) syslog5424_send(s, &m);
    }
    t1 = mono_ms();
    assert_true(t1 - t0 < 2000); /* no send waited for the stalled peer */
    syslog5424_stats(s, &st);
    assert_true(st.dropped > 0);
    assert_true(st.queued + st.dropped == 20001);
    t0 = mono_ms();
    syslog5424_close(s, 200); /* gives up after the linger */
    assert_true(mono_ms() - t0 < 1500);
    close(fd);
    close(lfd);
}

static void test_syslog5424_open_rejects_missing_host_and_bad_port(void **state)
{
    struct syslog5424_cfg c = {.host = "", .port = 514};
    struct syslog5424 *s = NULL;

    (void) state;
    assert_int_equal(syslog5424_open(&c, &s), -EINVAL);
    c.host = "127.0.0.1";
    c.port = 0;
    assert_int_equal(syslog5424_open(&c, &s), -EINVAL);
    c.port = 65536;
    assert_int_equal(syslog5424_open(&c, &s), -EINVAL);
    assert_null(s);
    syslog5424_close(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syslog5424_format_is_exact_for_a_known_message),
        cmocka_unit_test(test_syslog5424_param_values_escape_quote_backslash_bracket),
        cmocka_unit_test(test_syslog5424_header_fields_are_printable_ascii_or_nil),
        cmocka_unit_test(test_syslog5424_utf8_text_starts_with_bom_ascii_does_not),
        cmocka_unit_test(test_syslog5424_small_buffer_is_cut_and_terminated),
        cmocka_unit_test(test_syslog5424_udp_collector_receives_every_field),
        cmocka_unit_test(test_syslog5424_tcp_collector_receives_octet_counted_frames),
        cmocka_unit_test(
            test_syslog5424_absent_collector_never_blocks_drops_newest_then_delivers),
        cmocka_unit_test(test_syslog5424_collector_that_closes_is_reconnected_to),
        cmocka_unit_test(test_syslog5424_stalled_collector_never_blocks_the_caller),
        cmocka_unit_test(test_syslog5424_open_rejects_missing_host_and_bad_port),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
