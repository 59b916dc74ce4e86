/* mqtt_client.h - the connection to the broker: libmosquitto in a network
 * thread of its own, QoS 1 publishing, birth and will on the status topic,
 * reconnection with exponential back-off.
 *
 * Why a thread and not the main loop: libmosquitto's TLS handshake, name
 * resolution and connect are blocking calls, and a broker far away or a
 * slow TLS peer must never stall the main loop (bus dispatch, the web
 * server).  Why our own cycle and not mosquitto_loop_forever() with
 * mosquitto_reconnect_delay_set(): libmosquitto 2.0's loop_forever() gives
 * up for good on "fatal" errors (a TLS failure, an MQTT 5 CONNACK refusal
 * maps to MOSQ_ERR_PROTOCOL/AUTH), and never returns its back-off to the
 * minimum after a good connection; a gateway must retry for ever, say why
 * each time, and start over fast after a short blip.
 *
 * The cycle: connect (async) -> mosquitto_loop(100 ms) until it fails ->
 * wait the back-off (reconnect_min, doubled after each failed attempt up to
 * reconnect_max; back to reconnect_min once a CONNACK accepted us) ->
 * connect again.  Each failure is logged with its reason (the CONNACK reason
 * named: "not authorised", "bad user name or password", or the socket/TLS
 * error) and the wait before the next attempt.
 *
 * Threads.  mqtt_client_publish() and mqtt_client_take() may be called from
 * one other thread (the main loop) while the network thread runs; the
 * libmosquitto callbacks only queue under a mutex and signal the eventfd.
 */
#ifndef PQGATE_MQTT_CLIENT_H
#define PQGATE_MQTT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct mqtt_cfg;
struct mqtt_client;

struct mqtt_client_stats {
    uint64_t attempts;  /* connection attempts */
    uint64_t connects;  /* accepted by a CONNACK */
    uint64_t failures;  /* attempts or connections that ended in an error */
    uint64_t acks_lost; /* acknowledgements not queued: the queue was full */
    int connected;
    char last_error[128];
};

/* A client for cfg (borrowed until mqtt_client_free()).  client_id and
 * status_topic are copied; password may be NULL.  ack_cap bounds the queue of
 * acknowledgements waiting for mqtt_client_take(): it must exceed the
 * messages the caller keeps in flight (the window) plus a few.  Does not
 * connect yet.  Returns 0 and the client in *out, -PQ_ECONFIG (logged: a TLS
 * file missing...) or -ENOMEM. */
int mqtt_client_new(const struct mqtt_cfg *cfg, const char *client_id,
                    const char *password, const char *status_topic, size_t ack_cap,
                    struct mqtt_client **out);

/* Start the network thread.  Returns 0 or -errno. */
int mqtt_client_start(struct mqtt_client *c);

/* Publish "offline" (retained) when connected, disconnect, join the thread
 * (within ~0.5 s) and free.  NULL is a no-op. */
void mqtt_client_free(struct mqtt_client *c);

/* An eventfd that polls readable when acknowledgements or a link change
 * wait for mqtt_client_take(). */
int mqtt_client_fd(const struct mqtt_client *c);

/* Take up to cap acknowledged message ids into mids (returns how many) and,
 * when the link changed since the last call, set *changed = 1 and *up to the
 * current state.  Re-arms the eventfd once all is taken. */
size_t mqtt_client_take(struct mqtt_client *c, int *mids, size_t cap, int *changed,
                        int *up);

/* Publish with QoS 1 (retain 0).  Returns 0 and the message id in *mid
 * (libmosquitto holds the message and resends it after a reconnection until
 * the PUBACK), or a negative code (not queued). */
int mqtt_client_publish(struct mqtt_client *c, const char *topic, const void *payload,
                        size_t len, int *mid);

void mqtt_client_stats(struct mqtt_client *c, struct mqtt_client_stats *out);

#endif
