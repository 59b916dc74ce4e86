/* cmdq.c - the single-producer, single-consumer command queue.
 *
 * head and tail count up forever (size_t wraps cleanly: CMDQ_CAP is a
 * power of two); the producer publishes an item with a release store of
 * head after writing it, the consumer frees the slot with a release store
 * of tail after reading it. */
#include "gateway/cmdq.h"

#include "pq/err.h"

void cmdq_init(struct cmdq *q)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    atomic_init(&q->dropped, 0);
}

int cmdq_push(struct cmdq *q, const struct cmdq_item *it)
{
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);

    if (head - tail >= CMDQ_CAP) {
        atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
        return -PQ_EFULL;
    }
    q->item[head % CMDQ_CAP] = *it;
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
    return 0;
}

int cmdq_pop(struct cmdq *q, struct cmdq_item *out)
{
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&q->head, memory_order_acquire);

    if (head == tail) {
        return 0;
    }
    *out = q->item[tail % CMDQ_CAP];
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    return 1;
}
