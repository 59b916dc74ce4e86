/* cmdq.h - commands from the main loop to an acquisition thread (a capture
 * or an RMS burst an alarm asked for): a bounded single-producer,
 * single-consumer queue.
 *
 * Threads: one thread pushes (the main loop's bus callbacks), one pops (the
 * acquisition thread, between reads).  Lock-free with C11 atomics: neither
 * side ever waits.  Memory: the caller's (cmdq_init()); nothing allocates.
 * Overflow policy: a push to a full queue is refused (-PQ_EFULL) and
 * counted in dropped; what is queued stays (commands are rare: CMDQ_CAP of
 * them waiting means the acquisition thread is stuck, and the newest is the
 * one to lose).
 */
#ifndef PQGATE_CMDQ_H
#define PQGATE_CMDQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CMDQ_CAP 16 /* a power of two */

struct cmdq_item {
    int what;     /* the caller's command code */
    uint32_t tag; /* e.g. the alarm's index + 1; 0: none */
    int64_t t_ns; /* UTC time the command refers to */
};

struct cmdq {
    struct cmdq_item item[CMDQ_CAP];
    atomic_size_t head; /* next to write; the producer's */
    atomic_size_t tail; /* next to read; the consumer's */
    atomic_uint_fast64_t dropped;
};

void cmdq_init(struct cmdq *q);

/* Producer: 0, or -PQ_EFULL (not queued, counted). */
int cmdq_push(struct cmdq *q, const struct cmdq_item *it);

/* Consumer: 1 and the oldest command in *out, or 0 when empty. */
int cmdq_pop(struct cmdq *q, struct cmdq_item *out);

#endif
