/* mqtt_payload.h - the JSON payloads pqgate publishes over MQTT
 * (docs/mqtt.md shows each one).
 *
 * Every message is one JSON object that starts with the same three keys:
 * "gateway" (the gateway id), "seq" (the per-gateway sequence number of the
 * outbox) and "t" (UTC ISO 8601 with milliseconds, when the message was
 * made).  Records follow the shapes of DESIGN.md's analysis contract
 * ("type":"interval","agg":"10min",... and "type":"event",...), taken whole
 * from the record channel (gateway/records.h), with "device" added.
 *
 * Pure: formats into caller buffers, no I/O, no globals, thread-agnostic.
 * A message of values is written directly into the caller's buffer (no
 * allocation per value); the contract's records are spliced as text; other
 * records (health, gap), built once per message, use jansson.
 */
#ifndef PQGATE_MQTT_PAYLOAD_H
#define PQGATE_MQTT_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/* A message of many values:
 * {"gateway":"gw1","seq":12,"t":"...","values":[
 *   {"channel":"local/u_rms/a","value":230.1,"unit":"V","t":"...","quality":0},...]}
 * quality: the bus's quality bits (gateway/bus.h), 0 is good; a value that
 * is not finite is written as null. */
struct mqtt_values {
    char *buf;
    size_t cap; /* the message's size limit, NUL included */
    size_t len;
    size_t n; /* values written */
};

/* Smallest cap that holds the head and one value of the longest channel. */
#define MQTT_VALUES_MIN_CAP 512

/* Start a message in buf[0..cap) (cap >= MQTT_VALUES_MIN_CAP).  gateway is a
 * config-validated name.  Returns 0 or -EINVAL. */
int mqtt_values_begin(struct mqtt_values *m, char *buf, size_t cap, const char *gateway,
                      uint64_t seq, int64_t t_ns);

/* Append one value.  Returns 0, or -PQ_EFULL when it would not fit with the
 * closing bytes (nothing written: end this message and start another). */
int mqtt_values_add(struct mqtt_values *m, const char *channel, double value,
                    const char *unit, int64_t t_ns, uint32_t quality);

/* Close the message; returns its length (buf is NUL-terminated). */
size_t mqtt_values_end(struct mqtt_values *m);

/* Check a record of DESIGN.md's analysis contract (as gateway/records.h
 * carries it): rec[0..len) must be one JSON object, without duplicate keys
 * and without the head keys ("gateway", "seq", "t", "device") that
 * mqtt_payload_record() adds.  Its "agg" ("10min", "2h"; empty when it has
 * none) goes into agg[0..agg_cap).  Returns 0 or -PQ_EFORMAT. */
int mqtt_payload_record_check(const char *rec, size_t len, char *agg, size_t agg_cap);

/* The record as published:
 * {"gateway":..,"seq":..,"t":..,"device":"local",<the record's own keys>}.
 * The record's text (checked by mqtt_payload_record_check()) is spliced in
 * after the head byte for byte, so its numbers are exactly those `pqgate
 * analyze` prints and nothing is parsed or allocated for it.  Returns the
 * length the whole text needs (as snprintf; the text is written only if it
 * fits), or 0 when rec does not start with '{'. */
size_t mqtt_payload_record(char *buf, size_t cap, const char *gateway, const char *device,
                           uint64_t seq, int64_t t_ns, const char *rec, size_t len);

/* A declared gap: the newest loss, sequence numbers first..last (count
 * messages among them), and "ranges": every range [first, last] declared
 * lost by this record, the earlier undelivered gap records' included.
 * reason: "budget" (outbox full), "store_budget" (the store's size budget),
 * "queue_full" (the store's write queue refused the message).  Returns as
 * mqtt_payload_object(). */
size_t mqtt_payload_gap(char *buf, size_t cap, const char *gateway, uint64_t seq,
                        int64_t t_ns, uint64_t first, uint64_t last, uint64_t count,
                        const char *reason, const uint64_t (*ranges)[2], size_t nranges);

/* Any other record: the head keys, "type":type, then every key of extra
 * (a jansson object, borrowed; may be NULL).  Returns the length the whole
 * text needs (as snprintf), or 0 on failure. */
struct json_t;
size_t mqtt_payload_object(char *buf, size_t cap, const char *gateway, uint64_t seq,
                           int64_t t_ns, const char *type, struct json_t *extra);

/* UTC ISO 8601 with milliseconds into buf (>= 25 bytes). */
void mqtt_payload_time(char *buf, size_t cap, int64_t t_ns);

#endif
