/* bench_mqtt.c - MQTT forwarding throughput against a real mosquitto on a
 * free loopback port:
 *
 *   1. bare libmosquitto: N QoS 1 messages published as fast as the window
 *      allows, until every PUBACK is in (the limit);
 *   2. the outbox path: the same messages through the durable outbox (a row
 *      in the onboard store, committed, sent, PUBACK, deletion committed);
 *   3. replay: an hour of the example config's messages (config/examples/
 *      mqtt.yaml: one message of values a second plus records) enqueued
 *      while the link is down, then the link comes up: time to drain.
 *
 * Prints messages/s and values/s.  Skips (exit 0) when mosquitto is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "config/config.h"
#include "gateway/mqtt_client.h"
#include "gateway/mqtt_payload.h"
#include "gateway/outbox.h"
#include "gateway/store.h"

#define N_MESSAGES 20000
#define VALUES     12   /* values per message */
#define WINDOW     1000 /* messages in flight */
#define HOUR_MSGS  3700 /* 3600 messages of values + 10-min records + health */
#define MOSQUITTO  "/usr/sbin/mosquitto"
#define TIMEOUT_S  120

static char dir[64];
static pid_t broker = -1;
static int port;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *) &a, &len) == 0) {
        p = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return p;
}

static int accepting(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t) port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    ok = fd >= 0 && connect(fd, (struct sockaddr *) &a, sizeof(a)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static int start_broker(void)
{
    char conf[128];
    FILE *f;

    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
    port = free_port();
    f = fopen(conf, "w");
    if (!f || port < 0) {
        return -1;
    }
    fprintf(f,
            "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 0\nmax_inflight_messages 0\n%s",
            port, geteuid() == 0 ? "user root\n" : "");
    fclose(f);
    broker = fork();
    if (broker == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1);
        dup2(null, 2);
        execl(MOSQUITTO, MOSQUITTO, "-c", conf, (char *) NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        if (accepting()) {
            return 0;
        }
        usleep(10000);
    }
    return -1;
}

static void stop_broker(void)
{
    if (broker > 0) {
        kill(broker, SIGTERM);
        waitpid(broker, NULL, 0);
        broker = -1;
    }
}

/* One message of VALUES values, as the forwarder makes them. */
static size_t make_message(char *buf, size_t cap, uint64_t seq)
{
    struct mqtt_values m;
    int64_t t = 1763730000000000000LL + (int64_t) seq * 1000000000LL;

    mqtt_values_begin(&m, buf, cap, "bench-gw", seq, t);
    for (int i = 0; i < VALUES; i++) {
        char ch[48];

        snprintf(ch, sizeof(ch), "local/u_rms/%c%d", 'a' + i % 3, i);
        mqtt_values_add(&m, ch, 230.0 + i * 0.01, "V", t, 0);
    }
    return mqtt_values_end(&m);
}

/* ---- 1. bare libmosquitto ---------------------------------------------------------- */

static atomic_int acks;

static void bare_on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    (void) mosq;
    (void) obj;
    (void) mid;
    atomic_fetch_add(&acks, 1);
}

static double bench_bare(const char *payload, size_t len)
{
    struct mosquitto *mosq = mosquitto_new("bench-bare", true, NULL);
    double t0, t1;
    int sent = 0;

    mosquitto_publish_callback_set(mosq, bare_on_publish);
    mosquitto_max_inflight_messages_set(mosq, 0);
    if (mosquitto_connect(mosq, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(mosq) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "bare client: cannot connect\n");
        return -1;
    }
    t0 = now_s();
    while (atomic_load(&acks) < N_MESSAGES && now_s() - t0 < TIMEOUT_S) {
        /* the same window as the outbox: at most WINDOW unacknowledged */
        while (sent < N_MESSAGES && sent - atomic_load(&acks) < WINDOW) {
            mosquitto_publish(mosq, NULL, "bench/bare", (int) len, payload, 1, false);
            sent++;
        }
        usleep(100);
    }
    t1 = now_s();
    mosquitto_disconnect(mosq);
    mosquitto_loop_stop(mosq, false);
    mosquitto_destroy(mosq);
    return atomic_load(&acks) == N_MESSAGES ? t1 - t0 : -1;
}

/* ---- 2. and 3. the outbox path --------------------------------------------------- */

struct path {
    struct store *store;
    struct outbox *ob;
    struct mqtt_client *client;
    struct mqtt_cfg cfg;
};

static int path_send(void *ctx, const char *topic, const void *payload, size_t len,
                     int *mid)
{
    struct path *p = ctx;

    return mqtt_client_publish(p->client, topic, payload, len, mid);
}

static int path_open(struct path *p, const char *name, int64_t batch_ns)
{
    char db[128];
    struct store_cfg sc = {.path = db, .batch_ns = batch_ns, .queue_cap = 131072};
    struct outbox_cfg oc = {
        .window = WINDOW, .replay_share = 0.5, .budget_rows = 10000000};
    struct outbox_sink sink = {.send = path_send, .gap = NULL, .ctx = p};

    snprintf(db, sizeof(db), "%s/%s.db", dir, name);
    memset(&p->cfg, 0, sizeof(p->cfg));
    p->cfg.host = "127.0.0.1";
    p->cfg.port = port;
    p->cfg.protocol = MQTT_PROTOCOL_311;
    p->cfg.username = p->cfg.password = p->cfg.password_file = "";
    p->cfg.tls.cafile = p->cfg.tls.capath = p->cfg.tls.certfile = p->cfg.tls.keyfile = "";
    p->cfg.keepalive_ns = 30000000000LL;
    p->cfg.reconnect_min_ns = 100000000LL;
    p->cfg.reconnect_max_ns = 1000000000LL;
    if (store_open(&sc, &outbox_store_table, 1, &p->store) < 0 ||
        outbox_open(p->store, &oc, &sink, &p->ob) < 0 ||
        mqtt_client_new(&p->cfg, name, NULL, "bench/status", WINDOW + 64, &p->client) <
            0) {
        fprintf(stderr, "outbox path: set-up failed\n");
        return -1;
    }
    return 0;
}

static void path_close(struct path *p)
{
    mqtt_client_free(p->client);
    outbox_close(p->ob);
    store_close(p->store);
}

static int enqueue(struct path *p, int n, char *buf, size_t cap)
{
    for (int i = 0; i < n; i++) {
        uint64_t seq = outbox_next_seq(p->ob);
        size_t len = make_message(buf, cap, seq);

        if (outbox_put(p->ob, seq, "bench/outbox", buf, len) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Run the main loop's part: enqueue up to `more` messages, a chunk at a
 * time while the outbox holds fewer than PENDING_MAX rows (a producer that
 * respects the store's queue), until every message is acknowledged and its
 * deletion committed. */
#define CHUNK       500
#define PENDING_MAX 4000

static int drain(struct path *p, int more, char *buf, size_t cap)
{
    struct pollfd fds[2] = {{.fd = mqtt_client_fd(p->client), .events = POLLIN},
                            {.fd = store_commit_fd(p->store), .events = POLLIN}};
    double t0 = now_s();
    struct outbox_stats st;

    for (;;) {
        int mids[1024], changed, up;
        size_t n;
        uint64_t v;

        outbox_stats(p->ob, &st);
        if (more > 0 && st.rows < PENDING_MAX) {
            int k = more < CHUNK ? more : CHUNK;

            if (enqueue(p, k, buf, cap) < 0) {
                return -1;
            }
            more -= k;
            continue;
        }
        if (more == 0 && st.rows == 0 && st.inflight == 0) {
            return 0;
        }
        if (now_s() - t0 > TIMEOUT_S) {
            return -1;
        }
        (void) poll(fds, 2, 50);
        if (fds[1].revents & POLLIN) {
            (void) !read(fds[1].fd, &v, sizeof(v));
        }
        n = mqtt_client_take(p->client, mids, 1024, &changed, &up);
        for (size_t i = 0; i < n; i++) {
            outbox_acked(p->ob, mids[i]);
        }
        if (changed) {
            outbox_link(p->ob, up);
        }
        outbox_pump(p->ob);
    }
}

static double bench_outbox(const char *name, int64_t batch_ns, char *buf, size_t cap)
{
    struct path p;
    double t0, t;

    if (path_open(&p, name, batch_ns) < 0 || mqtt_client_start(p.client) < 0) {
        return -1;
    }
    t0 = now_s();
    if (drain(&p, N_MESSAGES, buf, cap) < 0) {
        fprintf(stderr, "%s: not drained within %d s\n", name, TIMEOUT_S);
        path_close(&p);
        return -1;
    }
    t = now_s() - t0;
    path_close(&p);
    return t;
}

static double bench_replay(int64_t batch_ns, char *buf, size_t cap)
{
    struct path p;
    double t0, t;
    char name[32];

    snprintf(name, sizeof(name), "bench-replay-%lld", (long long) (batch_ns / 1000000));
    if (path_open(&p, name, batch_ns) < 0 || enqueue(&p, HOUR_MSGS, buf, cap) < 0 ||
        store_flush(p.store, 10000) < 0) {
        return -1;
    }
    t0 = now_s(); /* the link comes up now */
    if (mqtt_client_start(p.client) < 0 || drain(&p, 0, buf, cap) < 0) {
        path_close(&p);
        return -1;
    }
    t = now_s() - t0;
    path_close(&p);
    return t;
}

int main(void)
{
    static char buf[16384];
    size_t len;
    double t;

    if (access(MOSQUITTO, X_OK) != 0) {
        printf("bench_mqtt: skipped: %s is not installed\n", MOSQUITTO);
        return 0;
    }
    snprintf(dir, sizeof(dir), "/tmp/bench_mqtt.XXXXXX");
    if (!mkdtemp(dir) || start_broker() < 0) {
        fprintf(stderr, "bench_mqtt: cannot start mosquitto\n");
        stop_broker();
        return 1;
    }
    mosquitto_lib_init();
    len = make_message(buf, sizeof(buf), 1);
    printf("mosquitto on 127.0.0.1:%d; %d messages of %zu bytes, %d values each; window "
           "%d\n",
           port, N_MESSAGES, len, VALUES, WINDOW);
    t = bench_bare(buf, len);
    if (t > 0) {
        printf("bare libmosquitto QoS 1       : %8.0f messages/s %10.0f values/s\n",
               N_MESSAGES / t, N_MESSAGES * VALUES / t);
    }
    t = bench_outbox("bench-outbox-100", 100000000LL, buf, sizeof(buf));
    if (t > 0) {
        printf("outbox, store batch 100 ms    : %8.0f messages/s %10.0f values/s\n",
               N_MESSAGES / t, N_MESSAGES * VALUES / t);
    }
    t = bench_outbox("bench-outbox-1000", 1000000000LL, buf, sizeof(buf));
    if (t > 0) {
        printf("outbox, store batch 1 s       : %8.0f messages/s %10.0f values/s\n",
               N_MESSAGES / t, N_MESSAGES * VALUES / t);
    }
    t = bench_replay(1000000000LL, buf, sizeof(buf));
    if (t > 0) {
        printf(
            "replay of 1 h backlog (%d msgs), batch 1 s  : %6.2f s, %8.0f messages/s\n",
            HOUR_MSGS, t, HOUR_MSGS / t);
    }
    t = bench_replay(100000000LL, buf, sizeof(buf));
    if (t > 0) {
        printf(
            "replay of 1 h backlog (%d msgs), batch 100 ms: %6.2f s, %8.0f messages/s\n",
            HOUR_MSGS, t, HOUR_MSGS / t);
    }
    stop_broker();
    mosquitto_lib_cleanup();
    {
        char cmd[96];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
    }
    return 0;
}
