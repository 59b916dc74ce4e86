/* bus.h - the channel bus: every value in the gateway is a named channel.
 *
 * A channel has a stable name ("local/u_rms/a", "bus1.dev7/energy_kwh_del"),
 * a unit, and a latest value with its time stamp and quality.  Sources (the
 * metrology engine, the Modbus master, pulse inputs, virtual channels)
 * publish; consumers (recorders, alarms, the Modbus server map, the MQTT
 * outbox, the websocket) subscribe by name or pattern.  It is the one seam
 * between acquisition and everything else: adding a consumer never touches
 * a source.
 *
 * Threads.  bus_register(), bus_publish*(), bus_get(), bus_find() and the
 * name/unit getters may be called from any thread (acquisition, Modbus bus
 * threads, main loop).  bus_subscribe(), bus_unsubscribe() and
 * bus_dispatch() belong to the main loop; callbacks run inside
 * bus_dispatch(), so consumers never need locks of their own.
 *
 * Memory.  Everything is allocated by bus_new(), sized by its arguments;
 * publishing allocates nothing and never blocks on a consumer.  The pending
 * queue is bounded: when it is full the newest update is not queued for
 * subscribers (the latest value is still stored) and is counted in
 * bus_stats().dropped.  Once the queue has drained, every channel that lost
 * an update is delivered once more with its latest value (counted in
 * bus_stats().resent): under overload subscribers miss intermediate values,
 * never the current one.
 */
#ifndef PQGATE_BUS_H
#define PQGATE_BUS_H

#include <stddef.h>
#include <stdint.h>

#define BUS_NAME_MAX 96 /* bytes of a channel name, NUL included */
#define BUS_UNIT_MAX 16 /* bytes of a unit, NUL included */

/* Quality bits of a value; 0 is good. */
enum bus_quality {
    BUS_Q_FLAGGED = 1u << 0,      /* IEC 61000-4-30 4.7: a dip, swell or
                                     interruption overlapped the interval */
    BUS_Q_STALE = 1u << 1,        /* the source did not refresh it (device
                                     did not answer) */
    BUS_Q_CLOCK_UNSYNC = 1u << 2, /* time stamp from an unsynchronised clock */
    BUS_Q_INVALID = 1u << 3,      /* no value: never published or source error */
    BUS_Q_SUBSTITUTED = 1u << 4,  /* not the reading: a value put in its place
                                     (an energy counter's continuous total
                                     after a reset, exchange or glitch) */
};

struct bus_value {
    double value;
    int64_t t_ns;     /* CLOCK_REALTIME (UTC) of the measurement, ns */
    uint32_t quality; /* enum bus_quality bits */
};

struct bus_update {
    int ch; /* channel id from bus_register() */
    struct bus_value v;
};

struct bus_stats {
    uint64_t published; /* updates accepted by bus_publish*(), dropped included */
    uint64_t delivered; /* updates taken off the queue by bus_dispatch() */
    uint64_t dropped;   /* updates not queued because the queue was full */
    uint64_t resent;    /* latest values delivered in place of dropped updates */
    size_t channels;
    size_t subscriptions;
    size_t queued; /* pending now */
    size_t queue_cap;
};

struct bus; /* opaque */

/* Called from bus_dispatch() for each update of a channel the subscription
 * matches; v is valid only during the call. */
typedef void (*bus_notify_fn)(void *ctx, int ch, const struct bus_value *v);

/* A bus for up to max_channels channels and queue_cap pending updates
 * (both >= 1).  Returns 0 and the bus in *out (release with bus_free()),
 * -EINVAL or -ENOMEM. */
int bus_new(size_t max_channels, size_t queue_cap, struct bus **out);
void bus_free(struct bus *b); /* NULL is a no-op */

/* Register a channel and return its id (>= 0, dense from 0, stable for the
 * bus's life).  Registering a name again with the same unit returns the same
 * id (so a config reload can re-register); with another unit it returns
 * -PQ_EEXIST.  -EINVAL for a name that is not valid (see bus_name_valid())
 * or a unit too long (NULL is the empty unit); -PQ_EFULL when max_channels
 * are registered; -ENOMEM when the list of subscriptions matching a new
 * channel cannot be allocated.  The value starts with quality BUS_Q_INVALID
 * (value NaN, t_ns 0). */
int bus_register(struct bus *b, const char *name, const char *unit);

/* Channel id of name, or -PQ_ENOTFOUND. */
int bus_find(const struct bus *b, const char *name);

/* Name and unit of a channel id; valid for the bus's life; NULL for a bad id. */
const char *bus_name(const struct bus *b, int ch);
const char *bus_unit(const struct bus *b, int ch);

/* Store the latest value of ch and queue it for the subscribers.  Returns 0,
 * -EINVAL for a bad id, or -PQ_EFULL when the queue was full (value stored,
 * notification dropped and counted). */
int bus_publish(struct bus *b, int ch, double value, int64_t t_ns, uint32_t quality);

/* The same for n updates under one lock (a 200 ms record of many channels).
 * Returns 0, -EINVAL if any id is bad (nothing published), or -PQ_EFULL if
 * some notifications were dropped (all values stored). */
int bus_publish_many(struct bus *b, const struct bus_update *u, size_t n);

/* Latest value of ch into *out: 0 or -EINVAL. */
int bus_get(const struct bus *b, int ch, struct bus_value *out);

/* Call cb for every update of every channel whose name matches pattern,
 * registered now or later.  A pattern is a channel name in which '*' matches
 * any run of characters within one '/'-separated segment, '**' any run
 * including '/', and '?' one character other than '/'.  '**' stands for
 * characters, not segments: after "local/" it takes "u_rms/a", and between
 * two '/' it needs at least one segment.  Returns the subscription id (>= 0,
 * never reused), -EINVAL for an empty or too long pattern, or -ENOMEM.  Main
 * loop only; a subscription made inside a callback starts with the next
 * update.  The callbacks of one update run in subscription order. */
int bus_subscribe(struct bus *b, const char *pattern, bus_notify_fn cb, void *ctx);

/* Stop a subscription; its callback is not called again.  Main loop only;
 * may be called from inside a callback. */
void bus_unsubscribe(struct bus *b, int sub);

/* Deliver pending updates in publish order, at most max (0: all pending
 * when called; what the callbacks publish waits for the next call).  Returns
 * how many were taken off the queue.  Main loop only; inside a callback it
 * does nothing and returns 0. */
size_t bus_dispatch(struct bus *b, size_t max);

/* A file descriptor that polls readable while updates are pending, for the
 * main loop's poll(); bus_dispatch() re-arms it.  Racing a publishing thread
 * it may now and then poll readable with nothing pending; bus_dispatch() then
 * returns 0. */
int bus_fd(const struct bus *b);

void bus_stats(const struct bus *b, struct bus_stats *out);

/* 1 if name is a valid channel name: 1..BUS_NAME_MAX-1 bytes of
 * [A-Za-z0-9_.-] in non-empty segments separated by single '/'. */
int bus_name_valid(const char *name);

/* 1 if name matches pattern (rules of bus_subscribe()). */
int bus_match(const char *pattern, const char *name);

#endif
