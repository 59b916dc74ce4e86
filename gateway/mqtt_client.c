/* mqtt_client.c - libmosquitto in a network thread: connect, loop, back off.
 *
 * MQTT 3.1.1 3.2.2.3 and MQTT 5.0 3.2.2.2: a CONNACK with a non-zero return
 * (reason) code refuses the connection; its text comes from libmosquitto
 * (mosquitto_connack_string() for 3.1.1, mosquitto_reason_string() for 5).
 * QoS 1 (MQTT 3.1.1 4.3.2, 5.0 4.3.2): the sender keeps the message until
 * the PUBACK and resends it with DUP set after a reconnection (libmosquitto
 * does this for the messages it holds).
 */
#include "gateway/mqtt_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "config/config.h"
#include "config/log.h"
#include "pq/err.h"

#define LOOP_TIMEOUT_MS 100
#define STEP_NS         50000000LL /* back-off sleeps in steps, to stop quickly */
#define OFFLINE_WAIT_MS 500

struct mqtt_client {
    const struct mqtt_cfg *cfg;
    struct mosquitto *mosq;
    char *client_id, *password, *status_topic;
    int efd;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int connected;
    atomic_int accepted;   /* a CONNACK accepted the current attempt */
    atomic_int connack_rc; /* of the current attempt, -1: none seen */
    atomic_int offline_mid, offline_acked;

    pthread_mutex_t lock; /* what follows */
    int *ring;            /* acknowledged mids */
    size_t cap, head, n;
    int link_changed;
    struct mqtt_client_stats st;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static void wake(struct mqtt_client *c)
{
    uint64_t one = 1;

    if (write(c->efd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: it is readable anyway */
    }
}

static const char *connack_text(const struct mqtt_client *c, int rc)
{
    return c->cfg->protocol == MQTT_PROTOCOL_5 ? mosquitto_reason_string(rc)
                                               : mosquitto_connack_string(rc);
}

/* ---- libmosquitto callbacks (network thread) ------------------------------------ */

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    struct mqtt_client *c = obj;

    (void) flags;
    (void) props;
    atomic_store(&c->connack_rc, rc);
    if (rc != 0) {
        return;
    }
    atomic_store(&c->accepted, 1);
    /* birth: retained, so a late subscriber sees the state */
    (void) mosquitto_publish(mosq, NULL, c->status_topic, 6, "online", 1, true);
    atomic_store(&c->connected, 1);
    pthread_mutex_lock(&c->lock);
    c->st.connects++;
    c->st.connected = 1;
    c->link_changed = 1;
    pthread_mutex_unlock(&c->lock);
    LOGF(LOG_NOTICE, "mqtt", "connected to %s:%d (MQTT %s%s)", c->cfg->host, c->cfg->port,
         c->cfg->protocol == MQTT_PROTOCOL_5 ? "5" : "3.1.1",
         c->cfg->tls.enabled ? ", TLS" : "");
    wake(c);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    struct mqtt_client *c = obj;

    (void) mosq;
    (void) rc;
    (void) props;
    if (atomic_exchange(&c->connected, 0)) {
        pthread_mutex_lock(&c->lock);
        c->st.connected = 0;
        c->link_changed = 1;
        pthread_mutex_unlock(&c->lock);
        wake(c);
    }
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
                       const mosquitto_property *props)
{
    struct mqtt_client *c = obj;

    (void) mosq;
    (void) props;
    if (mid == atomic_load(&c->offline_mid)) {
        atomic_store(&c->offline_acked, 1);
    }
    /* MQTT 5.0 3.4.2.1: reason >= 0x80 is a refusal (not authorised,
     * quota...); the message is not retried (it would be refused again) */
    if (reason >= 0x80) {
        LOGF(LOG_WARNING, "mqtt", "the broker refused message %d: %s", mid,
             mosquitto_reason_string(reason));
    }
    pthread_mutex_lock(&c->lock);
    if (c->n < c->cap) {
        c->ring[(c->head + c->n) % c->cap] = mid;
        c->n++;
    } else {
        c->st.acks_lost++;
    }
    pthread_mutex_unlock(&c->lock);
    wake(c);
}

/* ---- the network thread -------------------------------------------------------- */

static void sleep_ns(struct mqtt_client *c, int64_t ns)
{
    while (ns > 0 && !atomic_load(&c->stop)) {
        int64_t step = ns < STEP_NS ? ns : STEP_NS;
        struct timespec ts = {(time_t) (step / 1000000000LL),
                              (long) (step % 1000000000LL)};

        nanosleep(&ts, NULL);
        ns -= step;
    }
}

static void describe(struct mqtt_client *c, int rc, int err, char *buf, size_t cap)
{
    int crc = atomic_load(&c->connack_rc);

    if (crc > 0) {
        snprintf(buf, cap, "the broker refused the connection: %s (CONNACK code %d)",
                 connack_text(c, crc), crc);
    } else if (rc == MOSQ_ERR_ERRNO) {
        snprintf(buf, cap, "%s", pq_strerror(-err));
    } else {
        snprintf(buf, cap, "%s", mosquitto_strerror(rc));
    }
}

/* Clean stop: "offline" (retained) replaces the birth message, then a
 * DISCONNECT (after which the broker does not send the will). */
static void say_goodbye(struct mqtt_client *c)
{
    int mid = -1;

    if (!atomic_load(&c->connected) ||
        mosquitto_publish(c->mosq, &mid, c->status_topic, 7, "offline", 1, true) !=
            MOSQ_ERR_SUCCESS) {
        return;
    }
    atomic_store(&c->offline_mid, mid);
    for (int i = 0; i < OFFLINE_WAIT_MS / 20 && !atomic_load(&c->offline_acked); i++) {
        if (mosquitto_loop(c->mosq, 20, 1) != MOSQ_ERR_SUCCESS) {
            break;
        }
    }
    mosquitto_disconnect(c->mosq);
    (void) mosquitto_loop(c->mosq, 20, 1);
}

static void *net_main(void *arg)
{
    struct mqtt_client *c = arg;
    const struct mqtt_cfg *cfg = c->cfg;
    int64_t delay = cfg->reconnect_min_ns;
    int keepalive = (int) (cfg->keepalive_ns / 1000000000LL);
    int first = 1;

    while (!atomic_load(&c->stop)) {
        char why[128];
        int rc, err;

        atomic_store(&c->accepted, 0);
        atomic_store(&c->connack_rc, -1);
        pthread_mutex_lock(&c->lock);
        c->st.attempts++;
        pthread_mutex_unlock(&c->lock);
        rc = first ? mosquitto_connect_async(c->mosq, cfg->host, cfg->port, keepalive)
                   : mosquitto_reconnect_async(c->mosq);
        first = 0;
        while (rc == MOSQ_ERR_SUCCESS && !atomic_load(&c->stop)) {
            rc = mosquitto_loop(c->mosq, LOOP_TIMEOUT_MS, 1);
        }
        err = errno;
        if (atomic_load(&c->stop)) {
            break;
        }
        on_disconnect(c->mosq, c, rc, NULL);
        if (atomic_load(&c->accepted)) {
            delay = cfg->reconnect_min_ns; /* it worked: start over fast */
        }
        describe(c, rc, err, why, sizeof(why));
        pthread_mutex_lock(&c->lock);
        c->st.failures++;
        snprintf(c->st.last_error, sizeof(c->st.last_error), "%s", why);
        pthread_mutex_unlock(&c->lock);
        /* a refusal is a configuration problem (credentials, client id):
         * an error; a network failure a warning */
        LOGF(atomic_load(&c->connack_rc) > 0 ? LOG_ERR : LOG_WARNING, "mqtt",
             "%s:%d: %s; next attempt in %.1f s", cfg->host, cfg->port, why,
             (double) delay / 1e9);
        sleep_ns(c, delay);
        delay = delay * 2 > cfg->reconnect_max_ns ? cfg->reconnect_max_ns : delay * 2;
    }
    say_goodbye(c);
    return NULL;
}

/* ---- set-up --------------------------------------------------------------------- */

static int no_key_password(char *buf, int size, int rwflag, void *userdata)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) userdata;
    return 0; /* an encrypted key cannot be used: never prompt on a terminal */
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

static int setup_tls(struct mqtt_client *c)
{
    const struct mqtt_tls_cfg *t = &c->cfg->tls;
    int rc;

    if (!t->enabled) {
        return 0;
    }
    rc = mosquitto_tls_set(c->mosq, or_null(t->cafile), or_null(t->capath),
                           or_null(t->certfile), or_null(t->keyfile), no_key_password);
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_tls_opts_set(c->mosq, 1 /* SSL_VERIFY_PEER */, NULL, NULL);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_tls_insecure_set(c->mosq, !t->verify_hostname);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        LOGF(LOG_ERR, "mqtt", "TLS set-up (cafile '%s', capath '%s', certfile '%s'): %s",
             t->cafile, t->capath, t->certfile,
             rc == MOSQ_ERR_INVAL ? "a file is missing or unreadable"
                                  : mosquitto_strerror(rc));
        return -PQ_ECONFIG;
    }
    return 0;
}

static int setup(struct mqtt_client *c)
{
    const struct mqtt_cfg *cfg = c->cfg;
    int rc;

    c->mosq = mosquitto_new(c->client_id, true, c);
    if (!c->mosq) {
        return errno == EINVAL ? -PQ_ECONFIG : -ENOMEM;
    }
    mosquitto_threaded_set(c->mosq, true);
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         cfg->protocol == MQTT_PROTOCOL_5 ? MQTT_PROTOCOL_V5
                                                          : MQTT_PROTOCOL_V311);
    /* our window bounds what is in flight; libmosquitto must not queue */
    mosquitto_max_inflight_messages_set(c->mosq, 0);
    mosquitto_connect_v5_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
    mosquitto_publish_v5_callback_set(c->mosq, on_publish);
    rc = mosquitto_will_set(c->mosq, c->status_topic, 7, "offline", 1, true);
    if (rc == MOSQ_ERR_SUCCESS && *cfg->username) {
        rc = mosquitto_username_pw_set(c->mosq, cfg->username, c->password);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        LOGF(LOG_ERR, "mqtt", "client set-up: %s", mosquitto_strerror(rc));
        return -PQ_ECONFIG;
    }
    return setup_tls(c);
}

int mqtt_client_new(const struct mqtt_cfg *cfg, const char *client_id,
                    const char *password, const char *status_topic, size_t ack_cap,
                    struct mqtt_client **out)
{
    struct mqtt_client *c;
    int rc;

    pthread_once(&lib_once, lib_init);
    c = calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->cfg = cfg;
    c->efd = -1;
    pthread_mutex_init(&c->lock, NULL);
    atomic_store(&c->offline_mid, -1);
    c->cap = ack_cap ? ack_cap : 1;
    c->ring = calloc(c->cap, sizeof(*c->ring));
    c->client_id = strdup(client_id);
    c->status_topic = strdup(status_topic);
    c->password = password ? strdup(password) : NULL;
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!c->ring || !c->client_id || !c->status_topic || (password && !c->password) ||
        c->efd < 0) {
        rc = c->efd < 0 ? -errno : -ENOMEM;
        goto fail;
    }
    rc = setup(c);
    if (rc < 0) {
        goto fail;
    }
    *out = c;
    return 0;

fail:
    mqtt_client_free(c);
    return rc;
}

int mqtt_client_start(struct mqtt_client *c)
{
    int rc = pthread_create(&c->thread, NULL, net_main, c);

    if (rc != 0) {
        return -rc;
    }
    c->started = 1;
    return 0;
}

void mqtt_client_free(struct mqtt_client *c)
{
    if (!c) {
        return;
    }
    atomic_store(&c->stop, 1);
    if (c->started) {
        pthread_join(c->thread, NULL);
    }
    mosquitto_destroy(c->mosq);
    if (c->efd >= 0) {
        close(c->efd);
    }
    if (c->password) {
        memset(c->password, 0, strlen(c->password));
    }
    free(c->password);
    free(c->client_id);
    free(c->status_topic);
    free(c->ring);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int mqtt_client_fd(const struct mqtt_client *c)
{
    return c->efd;
}

size_t mqtt_client_take(struct mqtt_client *c, int *mids, size_t cap, int *changed,
                        int *up)
{
    size_t k = 0;
    uint64_t v;

    if (read(c->efd, &v, sizeof(v)) < 0) {
        /* nothing signalled: take what is there anyway */
    }
    pthread_mutex_lock(&c->lock);
    while (k < cap && c->n > 0) {
        mids[k++] = c->ring[c->head];
        c->head = (c->head + 1) % c->cap;
        c->n--;
    }
    *changed = c->link_changed;
    *up = c->st.connected;
    c->link_changed = 0;
    if (c->n > 0) {
        wake(c); /* more than cap: come back */
    }
    pthread_mutex_unlock(&c->lock);
    return k;
}

int mqtt_client_publish(struct mqtt_client *c, const char *topic, const void *payload,
                        size_t len, int *mid)
{
    int rc = mosquitto_publish(c->mosq, mid, topic, (int) len, payload, 1, false);

    /* MOSQ_ERR_NO_CONN: the link dropped just now; libmosquitto queued the
     * message and sends it after the reconnection, under this mid */
    if (rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN) {
        return 0;
    }
    return rc == MOSQ_ERR_NOMEM          ? -ENOMEM
           : rc == MOSQ_ERR_PAYLOAD_SIZE ? -EMSGSIZE
                                         : -EIO;
}

void mqtt_client_stats(struct mqtt_client *c, struct mqtt_client_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}
