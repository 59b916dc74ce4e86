/* mqtt_payload.h - the JSON payloads pqgate publishes over MQTT
 * (docs/mqtt.md shows each one).
 *
 * Every message is one JSON object that starts with the same three keys:
 * "gateway" (the gateway id), "seq" (the per-gateway sequence number of the
 * outbox) and "t" (UTC ISO 8601 with milliseconds, when the message was
 * made).  Records follow the shapes of DESIGN.md's analysis contract
 * ("type":"interval","agg":"10min",... and "type":"event",...) with "device"
 * added.
 *
 * Pure: formats into caller buffers, no I/O, no globals, thread-agnostic.
 * A message of values is written directly into the caller's buffer (no
 * allocation per value); records, built once per message, use jansson.
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

/* Where a channel of the local meter's aggregates goes in a record: rest is
 * the part after "local/<agg>/", as "u_rms/a", "p/total", "freq", "pf/b".
 * Returns 0 and the value index (pq_value_index(), < PQ_NVALUES) in *index,
 * or -PQ_ENOTFOUND. */
int mqtt_payload_field_index(const char *rest, size_t *index);

/* The interval record of DESIGN.md built from channel values:
 * {"gateway":..,"seq":..,"t":..,"type":"interval","agg":"10min","device":"local",
 *  "start":..,"end":..,"flagged":false,"freq_hz":..,"u_rms_v":[..],...}
 * vals and have are indexed by value index (PQ_NVALUES each); an array is
 * written for each field with any value present, up to its last present
 * element (missing ones inside are null); harmonic arrays are not.
 * agg_ns is the length of the aggregation interval (start = end - agg_ns).
 * Returns the length the whole text needs (as snprintf), or 0 on failure. */
size_t mqtt_payload_interval(char *buf, size_t cap, const char *gateway,
                             const char *device, uint64_t seq, int64_t t_ns,
                             const char *agg, int64_t agg_ns, int64_t end_ns, int flagged,
                             const double *vals, const unsigned char *have);

/* A PQ event from the local meter's channels:
 * {"gateway","seq","t","type":"event","device":"local","kind":"dip",
 *  "start":..,"<what>":value}, what: "residual_pct" for dips and
 * interruptions, "max_pct" for swells, "du_max_pct" for RVC.  Returns as
 * mqtt_payload_interval(). */
size_t mqtt_payload_event(char *buf, size_t cap, const char *gateway, uint64_t seq,
                          int64_t t_ns, const char *kind, int64_t start_ns, double value);

/* A declared gap: the newest loss, sequence numbers first..last (count
 * messages among them), and "ranges": every range [first, last] declared
 * lost by this record, the earlier undelivered gap records' included.
 * reason: "budget" (outbox full), "store_budget" (the store's size budget),
 * "queue_full" (the store's write queue refused the message). */
size_t mqtt_payload_gap(char *buf, size_t cap, const char *gateway, uint64_t seq,
                        int64_t t_ns, uint64_t first, uint64_t last, uint64_t count,
                        const char *reason, const uint64_t (*ranges)[2], size_t nranges);

/* Any other record: the head keys, "type":type, then every key of extra
 * (a jansson object, borrowed; may be NULL).  Returns as
 * mqtt_payload_interval(). */
struct json_t;
size_t mqtt_payload_object(char *buf, size_t cap, const char *gateway, uint64_t seq,
                           int64_t t_ns, const char *type, struct json_t *extra);

/* UTC ISO 8601 with milliseconds into buf (>= 25 bytes). */
void mqtt_payload_time(char *buf, size_t cap, int64_t t_ns);

#endif
