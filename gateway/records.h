/* records.h - the record channel: whole records as JSON text, beside the
 * channel bus.
 *
 * The bus (gateway/bus.h) carries numbers: one value per channel.  Some
 * results are records, not numbers: a PQ event with its duration, phases,
 * ITIC and SEMI F47 classes and direction, or a 10-min aggregate with its
 * per-harmonic arrays (DESIGN.md, "The analysis contract").  Their producer
 * (the metrology) formats each record once, as the JSON text `pqgate
 * analyze` prints, and posts it here with its type ("event", "interval");
 * consumers (the MQTT forwarder) subscribe by type and get the text as it
 * is.  A record is one JSON object, without a trailing newline.
 *
 * Threads.  records_post() and records_stats() may be called from any
 * thread (the acquisition thread posts directly).  records_subscribe(),
 * records_unsubscribe() and records_dispatch() belong to the main loop;
 * callbacks run inside records_dispatch(), so consumers need no locks.
 *
 * Memory and overflow.  records_new() allocates everything: a ring of
 * cap_bytes that holds the pending records' text.  Posting copies the text
 * into the ring, never allocates and never waits for a consumer.  When the
 * record does not fit in the free space, the newest record (the one being
 * posted) is dropped and counted (records_stats().dropped): records already
 * queued are never overwritten, so consumers see an unbroken prefix of what
 * was posted.  A record that could not fit even in an empty ring is refused
 * with -EMSGSIZE and counted apart (too_large): size the ring for a few of
 * the largest records (records_entry_bytes()).
 */
#ifndef PQGATE_RECORDS_H
#define PQGATE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#define RECORDS_TYPE_MAX 16 /* bytes of a type name, NUL included */

struct records_stats {
    uint64_t posted;    /* records accepted into the ring */
    uint64_t delivered; /* records taken off the ring by records_dispatch() */
    uint64_t dropped;   /* refused because the ring was full (-PQ_EFULL) */
    uint64_t too_large; /* refused because no ring could hold them (-EMSGSIZE) */
    size_t queued;      /* records pending now */
    size_t queued_bytes;
    size_t peak_bytes; /* the most ring bytes ever in use */
    size_t cap_bytes;
    size_t subscriptions;
    size_t sub_slots; /* table slots in use, live or awaiting reuse */
};

struct records; /* opaque */

/* Called from records_dispatch() for each record of a type the
 * subscription matches.  json is the record's text, NUL-terminated, len
 * bytes without the NUL; type and json are valid only during the call. */
typedef void (*records_fn)(void *ctx, const char *type, const char *json, size_t len);

/* A record channel whose pending records share cap_bytes of ring
 * (256..UINT32_MAX).  Returns 0 and the channel in *out (release with
 * records_free()), -EINVAL or -ENOMEM. */
int records_new(size_t cap_bytes, struct records **out);
void records_free(struct records *r); /* NULL is a no-op; pending records go */

/* Ring bytes one record of len bytes takes (its header and text, NUL
 * included, rounded up to 8): a record is accepted by an empty ring when
 * this is <= records_stats().cap_bytes (records_new()'s cap_bytes rounded
 * down to a multiple of 8). */
size_t records_entry_bytes(size_t len);

/* Queue a copy of json[0..len) (len >= 1; the text need not be
 * NUL-terminated) as a record of type (1..RECORDS_TYPE_MAX-1 bytes, not
 * "*").  Returns 0; -EINVAL for a bad argument; -EMSGSIZE when the record is
 * larger than the ring can ever hold; -PQ_EFULL when the ring is full now
 * (the record is dropped, counted).  Any thread; never blocks on a
 * consumer, never allocates. */
int records_post(struct records *r, const char *type, const char *json, size_t len);

/* Call cb for every record of type ("event", "interval"), or of any type
 * with "*".  Returns the subscription id (>= 0, never reused), -EINVAL,
 * -ENOMEM, or -EOVERFLOW after INT_MAX subscriptions.  Main loop only; a
 * subscription made inside a callback starts with the next record.  The
 * callbacks of one record run in subscription order.  Slots of ended
 * subscriptions are reused by the next records_subscribe() made outside
 * records_dispatch(), so subscribing again after each unsubscribe (a
 * restart) keeps the table at the live count. */
int records_subscribe(struct records *r, const char *type, records_fn cb, void *ctx);

/* Stop a subscription; its callback is not called again.  Main loop only;
 * may be called from inside a callback (its own subscription included). */
void records_unsubscribe(struct records *r, int sub);

/* Deliver pending records in post order, at most max (0: all pending when
 * called; what the callbacks post waits for the next call).  A record is
 * read in place and its ring space is freed after its callbacks returned.
 * Returns how many records were taken off the ring.  Main loop only;
 * inside a callback it does nothing and returns 0. */
size_t records_dispatch(struct records *r, size_t max);

/* A file descriptor that polls readable while records are pending, for the
 * main loop's poll(); records_dispatch() re-arms it.  Racing a posting
 * thread it may now and then poll readable with nothing pending;
 * records_dispatch() then returns 0. */
int records_fd(const struct records *r);

void records_stats(const struct records *r, struct records_stats *out);

#endif
