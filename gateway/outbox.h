/* outbox.h - the durable outbox of the MQTT forwarder: store and forward.
 *
 * Every message gets the next per-gateway sequence number and becomes a row
 * of the store's table "mqtt_outbox" (seq is the rowid).  The rules:
 *
 *  - a message is handed to the transport only once its row is committed
 *    (it is read back through the store's read connection, which sees
 *    committed rows only), so a kill -9 loses only rows never sent;
 *  - a row leaves the outbox only when the broker acknowledged it (QoS 1
 *    PUBACK), and its message stays in the window until that deletion is
 *    committed: after a crash the duplicates a receiver can see are at most
 *    the window, all with the sequence numbers it has seen already;
 *  - the window (cfg->window) bounds the messages sent and not yet durably
 *    removed; after an outage the backlog is sent in seq order while live
 *    messages keep flowing, also in seq order: of the sends made while both
 *    wait, the share cfg->replay_share goes to the backlog (a weighted
 *    alternation, see outbox_pump());
 *  - back-pressure: past cfg->budget_rows rows the oldest rows not sent yet
 *    are dropped (never the window: those may still arrive), and when the
 *    store's size budget deletes rows they are lost too; the transport's
 *    gap() hook is told the lost ranges, so the owner can queue a gap record
 *    (which the budget never drops); every sequence number is either
 *    delivered or inside a range some delivered gap record declares;
 *  - the sequence survives restarts: it continues from the highest number in
 *    the table or the highest acknowledged one (kv "mqtt.seq"), plus one.
 *
 * Threads.  Everything but outbox_store_table's on_drop hook (writer thread)
 * belongs to one thread, the main loop.  The transport's acknowledgements
 * arrive on its own thread and must be handed over (gateway/mqtt.c does).
 */
#ifndef PQGATE_OUTBOX_H
#define PQGATE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_table;
struct outbox;

/* The outbox's table; outbox_open() declares it (store_add_tables()). */
extern const struct store_table outbox_store_table;

/* A loss to declare.  ranges lists every range of sequence numbers declared
 * lost whose gap record the broker has not acknowledged yet, this loss's
 * included, sorted and disjoint: a gap record that carries them all makes
 * the earlier ones unnecessary (the budget deletes undelivered gap records
 * of this run when it drops again, so they must be repeated). */
struct outbox_gap {
    uint64_t first, last, count; /* this loss: count rows among first..last */
    const char *reason;          /* "budget", "store_budget", "queue_full" */
    const uint64_t (*ranges)[2];
    size_t nranges;
};

struct outbox_sink {
    /* Hand one message to the transport (QoS 1).  Returns 0 and the
     * transport's message id (0..65535) in *mid, or a negative code: not
     * sent, tried again at the next pump. */
    int (*send)(void *ctx, const char *topic, const void *payload, size_t len, int *mid);
    /* Messages were lost for good: queue a gap record with outbox_put_gap()
     * (from inside the call).  Called from outbox_pump(). */
    void (*gap)(void *ctx, const struct outbox_gap *g);
    void *ctx;
};

struct outbox_cfg {
    unsigned window;      /* messages sent and not yet durably removed, >= 1 */
    double replay_share;  /* 0 < share < 1: the backlog's share of the sends */
    uint64_t budget_rows; /* rows kept before the oldest are dropped, >= 1 */
};

struct outbox_stats {
    uint64_t next_seq; /* the number the next message gets */
    uint64_t rows;     /* in the table (committed or queued) */
    uint64_t inflight; /* in the window */
    uint64_t backlog;  /* rows of the backlog range still to send (estimate) */
    uint64_t enqueued, sent, acked;
    uint64_t dropped; /* rows dropped (budget, store budget, refused) */
    uint64_t gaps;    /* gap() calls */
    int link_up;
};

/* Open the outbox on s (declaring outbox_store_table there); reads the
 * state left by an earlier run (its rows are the backlog).  sink is copied.
 * Returns 0 and the outbox in *out (release with outbox_close()), or a
 * negative code (-EBUSY if another outbox is open in the process). */
int outbox_open(struct store *s, const struct outbox_cfg *cfg,
                const struct outbox_sink *sink, struct outbox **out);

/* Rows stay in the table for the next run.  NULL is a no-op. */
void outbox_close(struct outbox *o);

/* The sequence number the next outbox_put() must carry (payloads embed it). */
uint64_t outbox_next_seq(const struct outbox *o);

/* Queue a message whose payload carries seq == outbox_next_seq(); topic and
 * payload are copied.  Returns 0; -EINVAL for a wrong seq (nothing done);
 * -PQ_EFULL when the store refused the row: seq is used up and declared
 * lost through gap() ("queue_full"). */
int outbox_put(struct outbox *o, uint64_t seq, const char *topic, const void *payload,
               size_t len);

/* The same for a gap record (outbox_sink.gap): the budget never drops it;
 * once the broker acknowledged it, the ranges it declared are forgotten. */
int outbox_put_gap(struct outbox *o, uint64_t seq, const char *topic, const void *payload,
                   size_t len);

/* The transport's connection came up (1) or went down (0).  Going up turns
 * every unsent row into the backlog; messages in the window stay there (the
 * transport resends them itself). */
void outbox_link(struct outbox *o, int up);

/* The broker acknowledged message id mid; the row's deletion is queued.
 * Unknown ids are ignored. */
void outbox_acked(struct outbox *o, int mid);

/* Do what is due: free the window slots whose deletion committed, report
 * store drops, apply the budget, and while the link is up send committed
 * rows until the window is full.  When the backlog and live rows both wait,
 * each send adds replay_share to a credit; a send whose credit reaches 1
 * takes the oldest backlog row (and takes 1 off), the others the oldest
 * live row.  Call it after each store commit (store_commit_fd()), after
 * acknowledgements and after outbox_link(). */
void outbox_pump(struct outbox *o);

void outbox_stats(const struct outbox *o, struct outbox_stats *out);

#endif
