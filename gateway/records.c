/* records.c - the record channel: a byte ring of variable-length entries
 * (a header and the record's text), one mutex, an eventfd.
 *
 * Ring.  Entries sit at multiples of 8 bytes in ring[0..cap); head is the
 * oldest pending entry, tail the next free byte, count the entries between.
 * The free space is [tail, cap) and [0, head) when tail > head (or the ring
 * is empty), [tail, head) when tail <= head with entries pending.  An entry
 * never wraps: when it does not fit before the end, it goes to offset 0
 * (if it fits before head) and a wrap marker (an entry header of size 0) is
 * left at the old tail, or nothing when fewer than a header's bytes remain;
 * the reader wraps on either.  When the ring empties, the next post starts
 * again at 0, so any record of up to cap bytes fits an empty ring.
 *
 * Locking.  Posters hold the lock to find room, copy the text and update
 * the counters.  records_dispatch() holds it only to find the head entry and
 * then to free it: the callbacks read the text in place, unlocked.  That is
 * safe because the entry stays allocated (head has not moved past it), so
 * no poster writes there; the mutex orders the poster's copy before the
 * reader's look.  Callbacks may therefore post, subscribe and unsubscribe.
 *
 * Subscriptions belong to the main loop (an array that grows, ids never
 * reused); only their live count is shared, for records_stats().
 *
 * Wake-ups: as gateway/bus.c.  A post that makes the ring non-empty writes
 * the eventfd after unlocking; records_dispatch() drains it before taking
 * anything and writes it again if records are left.
 */
#include "gateway/records.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pq/err.h"

#define ALIGN      8u
#define MIN_CAP    256u
#define SUBS_FIRST 8u

struct entry {
    uint32_t size; /* bytes of the entry, this header included; 0: wrap marker */
    uint32_t len;  /* bytes of text, NUL not included */
    char type[RECORDS_TYPE_MAX];
    /* the text and its NUL follow */
};

struct sub {
    char type[RECORDS_TYPE_MAX]; /* "*": every type */
    records_fn cb;
    void *ctx;
    int id; /* records_subscribe()'s answer; slots move, ids never do */
    int live;
};

struct records {
    pthread_mutex_t lock;

    /* Under lock. */
    size_t head, tail, count;
    size_t used; /* bytes of the pending entries */
    size_t peak;
    uint64_t posted, delivered, dropped, too_large;
    size_t nlive;
    size_t nslots; /* nsubs, for records_stats() */

    /* Set once. */
    unsigned char *ring;
    size_t cap;
    int efd;

    /* Main loop only. */
    struct sub *subs;
    size_t nsubs, subs_cap;
    int next_id;
    int dispatching;
};

static void lock_records(const struct records *r)
{
    pthread_mutex_lock((pthread_mutex_t *) &r->lock);
}

static void unlock_records(const struct records *r)
{
    pthread_mutex_unlock((pthread_mutex_t *) &r->lock);
}

static struct entry *entry_at(const struct records *r, size_t off)
{
    return (struct entry *) (void *) (r->ring + off);
}

size_t records_entry_bytes(size_t len)
{
    size_t raw;

    if (len > SIZE_MAX - sizeof(struct entry) - ALIGN) {
        return SIZE_MAX;
    }
    raw = sizeof(struct entry) + len + 1;
    return (raw + ALIGN - 1) / ALIGN * ALIGN;
}

int records_new(size_t cap_bytes, struct records **out)
{
    struct records *r;
    int rc;

    /* entry sizes are uint32_t */
    if (!out || cap_bytes < MIN_CAP || (uint64_t) cap_bytes > UINT32_MAX) {
        return -EINVAL;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        return -ENOMEM;
    }
    r->efd = -1;
    r->cap = cap_bytes / ALIGN * ALIGN;
    r->ring = malloc(r->cap); /* malloc aligns for any type: entries too */
    if (!r->ring) {
        rc = -ENOMEM;
        goto fail;
    }
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = -pthread_mutex_init(&r->lock, NULL);
    if (rc < 0) {
        goto fail;
    }
    *out = r;
    return 0;

fail:
    if (r->efd >= 0) {
        close(r->efd);
    }
    free(r->ring);
    free(r);
    return rc;
}

void records_free(struct records *r)
{
    if (!r) {
        return;
    }
    pthread_mutex_destroy(&r->lock);
    close(r->efd);
    free(r->ring);
    free(r->subs);
    free(r);
}

/* Find where an entry of need bytes goes: 0 and the offset in *off, or -1
 * when the ring has no room for it now.  Leaves the wrap marker if the entry
 * goes to 0.  Under lock. */
static int find_room(struct records *r, size_t need, size_t *off)
{
    if (r->count == 0) {
        r->head = r->tail = 0;
    }
    if (r->count == 0 || r->tail > r->head) {
        if (r->cap - r->tail >= need) {
            *off = r->tail;
            return 0;
        }
        if (r->head >= need) {
            if (r->cap - r->tail >= sizeof(struct entry)) {
                entry_at(r, r->tail)->size = 0; /* the reader wraps here */
            }
            *off = 0;
            return 0;
        }
        return -1;
    }
    if (r->head - r->tail >= need) {
        *off = r->tail;
        return 0;
    }
    return -1;
}

static int type_valid(const char *type)
{
    size_t n = type ? strnlen(type, RECORDS_TYPE_MAX) : 0;

    return n > 0 && n < RECORDS_TYPE_MAX;
}

int records_post(struct records *r, const char *type, const char *json, size_t len)
{
    size_t need = records_entry_bytes(len);
    struct entry *e;
    size_t off;
    int wake;

    if (!r || !type_valid(type) || strcmp(type, "*") == 0 || !json || len == 0) {
        return -EINVAL;
    }
    lock_records(r);
    if (need > r->cap) {
        r->too_large++;
        unlock_records(r);
        return -EMSGSIZE;
    }
    if (find_room(r, need, &off) < 0) {
        r->dropped++; /* drop newest: what is queued stays whole */
        unlock_records(r);
        return -PQ_EFULL;
    }
    e = entry_at(r, off);
    e->size = (uint32_t) need;
    e->len = (uint32_t) len;
    memset(e->type, 0, sizeof(e->type));
    memcpy(e->type, type, strlen(type));
    memcpy((char *) (e + 1), json, len);
    ((char *) (e + 1))[len] = '\0';
    r->tail = off + need;
    wake = r->count == 0;
    r->count++;
    r->used += need;
    if (r->used > r->peak) {
        r->peak = r->used;
    }
    r->posted++;
    unlock_records(r);
    if (wake) {
        (void) eventfd_write(r->efd, 1); /* only EAGAIN at 2^64-2: still readable */
    }
    return 0;
}

static int grow_subs(struct records *r)
{
    size_t cap = r->subs_cap ? 2 * r->subs_cap : SUBS_FIRST;
    struct sub *p;

    if (cap > (size_t) INT32_MAX) {
        return -ENOMEM;
    }
    p = realloc(r->subs, cap * sizeof(*p));
    if (!p) {
        return -ENOMEM;
    }
    r->subs = p;
    r->subs_cap = cap;
    return 0;
}

/* Drop dead slots, keeping the live ones in subscription order.  Never
 * while dispatching: deliver() walks the slots by index. */
static void compact_subs(struct records *r)
{
    size_t n = 0;

    for (size_t i = 0; i < r->nsubs; i++) {
        if (r->subs[i].live) {
            r->subs[n++] = r->subs[i];
        }
    }
    r->nsubs = n;
}

int records_subscribe(struct records *r, const char *type, records_fn cb, void *ctx)
{
    struct sub *s;

    if (!r || !type_valid(type) || !cb) {
        return -EINVAL;
    }
    if (r->next_id == INT_MAX) {
        return -EOVERFLOW; /* ids are never reused */
    }
    if (!r->dispatching) {
        compact_subs(r); /* so re-subscribing (a restart) does not grow the table */
    }
    if (r->nsubs == r->subs_cap && grow_subs(r) < 0) {
        return -ENOMEM;
    }
    s = &r->subs[r->nsubs];
    memset(s->type, 0, sizeof(s->type));
    memcpy(s->type, type, strlen(type));
    s->cb = cb;
    s->ctx = ctx;
    s->id = r->next_id++;
    s->live = 1;
    r->nsubs++;
    lock_records(r);
    r->nlive++;
    r->nslots = r->nsubs;
    unlock_records(r);
    return s->id;
}

void records_unsubscribe(struct records *r, int sub)
{
    size_t i = 0;

    if (!r || sub < 0) {
        return;
    }
    while (i < r->nsubs && r->subs[i].id != sub) {
        i++;
    }
    if (i == r->nsubs || !r->subs[i].live) {
        return;
    }
    r->subs[i].live = 0;
    lock_records(r);
    r->nlive--;
    unlock_records(r);
}

/* The oldest pending entry, past a wrap, or NULL.  Under lock. */
static const struct entry *peek(struct records *r)
{
    if (r->count == 0) {
        return NULL;
    }
    if (r->cap - r->head < sizeof(struct entry) || entry_at(r, r->head)->size == 0) {
        r->head = 0;
    }
    return entry_at(r, r->head);
}

/* Run the callbacks of one record, unlocked.  A callback may subscribe
 * (r->subs may move: index it afresh) or unsubscribe (live drops at once). */
static void deliver(struct records *r, const struct entry *e)
{
    size_t n = r->nsubs; /* a new subscription starts with the next record */
    const char *text = (const char *) (e + 1);

    for (size_t i = 0; i < n; i++) {
        const struct sub *s = &r->subs[i];

        if (s->live && (strcmp(s->type, "*") == 0 || strcmp(s->type, e->type) == 0)) {
            s->cb(s->ctx, e->type, text, e->len);
        }
    }
}

size_t records_dispatch(struct records *r, size_t max)
{
    eventfd_t junk;
    size_t limit = max, taken = 0, left;

    if (!r || r->dispatching) {
        return 0; /* not from inside a callback */
    }
    /* Drain first: a post after the last look below signals again. */
    (void) eventfd_read(r->efd, &junk);
    lock_records(r);
    if (limit == 0) {
        limit = r->count;
    }
    unlock_records(r);
    r->dispatching = 1;
    while (taken < limit) {
        const struct entry *e;

        lock_records(r);
        e = peek(r);
        unlock_records(r);
        if (!e) {
            break;
        }
        deliver(r, e);
        lock_records(r);
        r->head += e->size;
        r->used -= e->size;
        r->count--;
        r->delivered++;
        unlock_records(r);
        taken++;
    }
    r->dispatching = 0;
    lock_records(r);
    left = r->count;
    unlock_records(r);
    if (left > 0) {
        (void) eventfd_write(r->efd, 1);
    }
    return taken;
}

int records_fd(const struct records *r)
{
    return r ? r->efd : -1;
}

void records_stats(const struct records *r, struct records_stats *out)
{
    if (!r || !out) {
        return;
    }
    lock_records(r);
    out->posted = r->posted;
    out->delivered = r->delivered;
    out->dropped = r->dropped;
    out->too_large = r->too_large;
    out->queued = r->count;
    out->queued_bytes = r->used;
    out->peak_bytes = r->peak;
    out->cap_bytes = r->cap;
    out->subscriptions = r->nlive;
    out->sub_slots = r->nslots;
    unlock_records(r);
}
