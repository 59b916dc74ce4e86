/* bus.c - the channel bus: a fixed channel table, a bounded ring of pending
 * updates and, per channel, the precomputed list of matching subscriptions.
 *
 * Locking.  One mutex guards the queue, the counters, the latest values, the
 * name index and the subscription array (which bus_register() reads to build
 * a new channel's list).  Publishers hold it for a copy and a few stores;
 * bus_dispatch() holds it only to copy a batch out of the ring, then runs the
 * callbacks unlocked, so a callback may publish, subscribe or unsubscribe.
 *
 * Subscriber lists.  A channel's list is written in two places: by
 * bus_register() for the new channel, under the lock, before the channel
 * count that makes it visible is stored (release); and by the main loop
 * (bus_subscribe(), bus_unsubscribe()) for channels below a count it read.
 * Only the main loop reads the lists (bus_dispatch()), so once a channel is
 * visible its list belongs to the main loop and needs no lock.  bus_subscribe()
 * adds its subscription to the array and reads the channel count in one
 * critical section: channels below that count are its job, later ones see
 * the subscription in bus_register(); each channel gets it exactly once.
 *
 * Unsubscribing clears the subscription's live flag (dispatch skips it at
 * once) and removes the id from the lists, after dispatch if one is running,
 * so a callback never shifts the list its caller is walking.  Ids are never
 * reused.
 *
 * Wake-ups.  A publish that makes the queue non-empty writes the eventfd
 * after unlocking.  bus_dispatch() reads (drains) it before taking anything
 * and writes it again if updates are left, so the fd can never be drained
 * while updates wait; the price is a rare spurious wake-up under a race with
 * a publishing thread.
 */
#include "gateway/bus.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config/names.h"
#include "pq/err.h"

#define DISPATCH_BATCH 256 /* updates copied out of the ring per lock hold */
#define LIST_MIN_CAP   4   /* first allocation of a channel's subscriber list */

struct sub {
    char pattern[BUS_NAME_MAX];
    bus_notify_fn cb;
    void *ctx;
    int live; /* 0 once unsubscribed; written by the main loop under lock */
};

/* A channel whose update was dropped sits once in bus.lost until the ring
 * drains; it needs its latest value re-sent unless a later update of it was
 * queued meanwhile (that update carries the latest value). */
enum lost_state {
    LOST_NO,     /* not in the lost list */
    LOST_RESEND, /* in the list; re-send v */
    LOST_QUEUED, /* in the list; a queued update already carries v */
};

struct channel {
    char name[BUS_NAME_MAX]; /* immutable once the channel is visible */
    char unit[BUS_UNIT_MAX];
    struct bus_value v; /* latest; under lock */
    int lost;           /* enum lost_state; under lock */
    int *subs;          /* ids of the subscriptions matching name, in id order */
    size_t nsubs;
    size_t subs_cap;
};

struct bus {
    pthread_mutex_t lock;

    /* Under lock. */
    struct bus_update *queue; /* ring of queue_cap */
    size_t queue_cap;
    size_t head; /* oldest pending */
    size_t tail; /* next free */
    size_t count;
    uint64_t published;
    uint64_t delivered;
    uint64_t dropped;
    uint64_t resent;
    int *lost; /* ids of channels with lost set (some may have been cleared) */
    size_t nlost;
    int *index; /* open addressing: channel id or -1 */
    size_t index_mask;
    struct sub *subs; /* grows; written by the main loop only */
    size_t nsubs;
    size_t subs_cap;
    size_t nlive;

    /* Set once. */
    struct channel *chans; /* max_channels, never reallocated */
    size_t max_channels;
    int efd;

    /* Written under lock after the channel is filled in; read anywhere. */
    _Atomic size_t nchannels;

    /* Main loop only. */
    struct bus_update *batch; /* a dispatch's copy of the ring */
    size_t batch_cap;
    int dispatching;
    int purge_pending;
};

/* Const readers lock too; a bus always lives in calloc()ed memory, so
 * casting the const away is defined. */
static void lock_bus(const struct bus *b)
{
    pthread_mutex_lock((pthread_mutex_t *) &b->lock);
}

static void unlock_bus(const struct bus *b)
{
    pthread_mutex_unlock((pthread_mutex_t *) &b->lock);
}

static size_t visible_channels(const struct bus *b)
{
    return atomic_load_explicit(&b->nchannels, memory_order_acquire);
}

static int valid_id(const struct bus *b, int ch)
{
    return b && ch >= 0 && (size_t) ch < visible_channels(b);
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    while (*s) {
        h ^= (unsigned char) *s++;
        h *= 16777619u;
    }
    return h;
}

/* Index slot holding name's id, or the empty slot where it belongs.  The
 * table is at least twice max_channels, so an empty slot always exists.
 * Under lock. */
static size_t index_slot(const struct bus *b, const char *name)
{
    size_t i = name_hash(name) & b->index_mask;

    while (b->index[i] >= 0 && strcmp(b->chans[b->index[i]].name, name) != 0) {
        i = (i + 1) & b->index_mask;
    }
    return i;
}

static int list_add(struct channel *c, int id)
{
    if (c->nsubs == c->subs_cap) {
        size_t cap = c->subs_cap ? 2 * c->subs_cap : LIST_MIN_CAP;
        int *p = realloc(c->subs, cap * sizeof(*p));

        if (!p) {
            return -ENOMEM;
        }
        c->subs = p;
        c->subs_cap = cap;
    }
    c->subs[c->nsubs++] = id;
    return 0;
}

static void list_clear(struct channel *c)
{
    free(c->subs);
    c->subs = NULL;
    c->nsubs = 0;
    c->subs_cap = 0;
}

/* Drop unsubscribed ids from every visible channel's list.  Main loop, not
 * during dispatch. */
static void purge(struct bus *b)
{
    size_t n = visible_channels(b);

    for (size_t c = 0; c < n; c++) {
        struct channel *ch = &b->chans[c];
        size_t kept = 0;

        for (size_t i = 0; i < ch->nsubs; i++) {
            if (b->subs[ch->subs[i]].live) {
                ch->subs[kept++] = ch->subs[i];
            }
        }
        ch->nsubs = kept;
    }
    b->purge_pending = 0;
}

static void release(struct bus *b)
{
    if (b->chans) {
        size_t n = visible_channels(b);

        for (size_t c = 0; c < n; c++) {
            list_clear(&b->chans[c]);
        }
    }
    if (b->efd >= 0) {
        close(b->efd);
    }
    free(b->chans);
    free(b->index);
    free(b->queue);
    free(b->batch);
    free(b->lost);
    free(b->subs);
    free(b);
}

int bus_new(size_t max_channels, size_t queue_cap, struct bus **out)
{
    struct bus *b;
    size_t index_size = 2;
    int rc;

    if (!out || max_channels < 1 || queue_cap < 1 || max_channels > INT_MAX / 2) {
        return -EINVAL;
    }
    while (index_size < 2 * max_channels) {
        index_size *= 2;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        return -ENOMEM;
    }
    b->efd = -1;
    b->max_channels = max_channels;
    b->queue_cap = queue_cap;
    b->batch_cap = queue_cap < DISPATCH_BATCH ? queue_cap : DISPATCH_BATCH;
    b->index_mask = index_size - 1;
    atomic_init(&b->nchannels, 0);
    b->chans = calloc(max_channels, sizeof(*b->chans));
    b->index = calloc(index_size, sizeof(*b->index));
    b->queue = calloc(queue_cap, sizeof(*b->queue));
    b->batch = calloc(b->batch_cap, sizeof(*b->batch));
    b->lost = calloc(max_channels, sizeof(*b->lost));
    if (!b->chans || !b->index || !b->queue || !b->batch || !b->lost) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < index_size; i++) {
        b->index[i] = -1;
    }
    b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->efd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = pthread_mutex_init(&b->lock, NULL);
    if (rc != 0) {
        rc = -rc;
        goto fail;
    }
    *out = b;
    return 0;

fail:
    release(b);
    return rc;
}

void bus_free(struct bus *b)
{
    if (!b) {
        return;
    }
    pthread_mutex_destroy(&b->lock);
    release(b);
}

/* Fill c's list with the live subscriptions matching name.  Under lock. */
static int match_subs(struct bus *b, struct channel *c, const char *name)
{
    for (size_t i = 0; i < b->nsubs; i++) {
        if (b->subs[i].live && bus_match(b->subs[i].pattern, name) &&
            list_add(c, (int) i) < 0) {
            list_clear(c);
            return -ENOMEM;
        }
    }
    return 0;
}

int bus_register(struct bus *b, const char *name, const char *unit)
{
    struct channel *c;
    size_t slot;
    size_t n;
    int rc;

    if (!unit) {
        unit = "";
    }
    if (!b || !bus_name_valid(name) || strnlen(unit, BUS_UNIT_MAX) >= BUS_UNIT_MAX) {
        return -EINVAL;
    }
    lock_bus(b);
    slot = index_slot(b, name);
    if (b->index[slot] >= 0) {
        int id = b->index[slot];

        rc = strcmp(b->chans[id].unit, unit) == 0 ? id : -PQ_EEXIST;
        goto out;
    }
    n = atomic_load_explicit(&b->nchannels, memory_order_relaxed);
    if (n == b->max_channels) {
        rc = -PQ_EFULL;
        goto out;
    }
    c = &b->chans[n];
    rc = match_subs(b, c, name);
    if (rc < 0) {
        goto out;
    }
    memcpy(c->name, name, strlen(name) + 1); /* lengths checked above */
    memcpy(c->unit, unit, strlen(unit) + 1);
    c->v.value = NAN;
    c->v.t_ns = 0;
    c->v.quality = BUS_Q_INVALID;
    b->index[slot] = (int) n;
    atomic_store_explicit(&b->nchannels, n + 1, memory_order_release);
    rc = (int) n;
out:
    unlock_bus(b);
    return rc;
}

int bus_find(const struct bus *b, const char *name)
{
    int id;

    if (!b || !bus_name_valid(name)) {
        return -PQ_ENOTFOUND;
    }
    lock_bus(b);
    id = b->index[index_slot(b, name)];
    unlock_bus(b);
    return id >= 0 ? id : -PQ_ENOTFOUND;
}

const char *bus_name(const struct bus *b, int ch)
{
    return valid_id(b, ch) ? b->chans[ch].name : NULL;
}

const char *bus_unit(const struct bus *b, int ch)
{
    return valid_id(b, ch) ? b->chans[ch].unit : NULL;
}

int bus_publish(struct bus *b, int ch, double value, int64_t t_ns, uint32_t quality)
{
    struct bus_update u = {
        .ch = ch,
        .v = {.value = value, .t_ns = t_ns, .quality = quality},
    };

    return bus_publish_many(b, &u, 1);
}

int bus_publish_many(struct bus *b, const struct bus_update *u, size_t n)
{
    size_t nch;
    size_t dropped = 0;
    int wake;

    if (!b || (!u && n > 0)) {
        return -EINVAL;
    }
    /* Channels are never removed, so ids valid now stay valid. */
    nch = visible_channels(b);
    for (size_t i = 0; i < n; i++) {
        if (u[i].ch < 0 || (size_t) u[i].ch >= nch) {
            return -EINVAL;
        }
    }
    if (n == 0) {
        return 0;
    }
    lock_bus(b);
    wake = b->count == 0;
    for (size_t i = 0; i < n; i++) {
        struct channel *c = &b->chans[u[i].ch];

        c->v = u[i].v;
        if (b->count == b->queue_cap) {
            dropped++; /* drop newest; its latest value is re-sent later */
            if (c->lost == LOST_NO) {
                b->lost[b->nlost++] = u[i].ch; /* at most once: max_channels fit */
            }
            c->lost = LOST_RESEND;
            continue;
        }
        if (c->lost == LOST_RESEND) {
            c->lost = LOST_QUEUED;
        }
        b->queue[b->tail] = u[i];
        if (++b->tail == b->queue_cap) {
            b->tail = 0;
        }
        b->count++;
    }
    b->published += n;
    b->dropped += dropped;
    unlock_bus(b);
    if (wake) {
        (void) eventfd_write(b->efd, 1); /* only EAGAIN at 2^64-2: still readable */
    }
    return dropped ? -PQ_EFULL : 0;
}

int bus_get(const struct bus *b, int ch, struct bus_value *out)
{
    if (!valid_id(b, ch) || !out) {
        return -EINVAL;
    }
    lock_bus(b);
    *out = b->chans[ch].v;
    unlock_bus(b);
    return 0;
}

static int grow_subs(struct bus *b)
{
    size_t cap = b->subs_cap ? 2 * b->subs_cap : 16;
    struct sub *p;

    if (cap > (size_t) INT_MAX) {
        return -ENOMEM;
    }
    p = realloc(b->subs, cap * sizeof(*p));
    if (!p) {
        return -ENOMEM;
    }
    b->subs = p;
    b->subs_cap = cap;
    return 0;
}

int bus_subscribe(struct bus *b, const char *pattern, bus_notify_fn cb, void *ctx)
{
    struct sub *s;
    size_t len;
    size_t n;
    int id;

    if (!b || !pattern || !cb) {
        return -EINVAL;
    }
    len = strnlen(pattern, BUS_NAME_MAX);
    if (len == 0 || len >= BUS_NAME_MAX) {
        return -EINVAL;
    }
    lock_bus(b);
    if (b->nsubs == b->subs_cap && grow_subs(b) < 0) {
        unlock_bus(b);
        return -ENOMEM;
    }
    id = (int) b->nsubs;
    s = &b->subs[id];
    memcpy(s->pattern, pattern, len + 1);
    s->cb = cb;
    s->ctx = ctx;
    s->live = 1;
    b->nsubs++;
    b->nlive++;
    n = atomic_load_explicit(&b->nchannels, memory_order_relaxed);
    unlock_bus(b);

    /* Channels from n on are matched by bus_register(); the lists below n
     * belong to the main loop (see the top of this file). */
    for (size_t c = 0; c < n; c++) {
        if (bus_match(pattern, b->chans[c].name) && list_add(&b->chans[c], id) < 0) {
            bus_unsubscribe(b, id);
            return -ENOMEM;
        }
    }
    return id;
}

void bus_unsubscribe(struct bus *b, int sub)
{
    /* nsubs and live are written by the main loop only: no lock to read. */
    if (!b || sub < 0 || (size_t) sub >= b->nsubs || !b->subs[sub].live) {
        return;
    }
    lock_bus(b);
    b->subs[sub].live = 0;
    b->nlive--;
    unlock_bus(b);
    b->purge_pending = 1;
    if (!b->dispatching) {
        purge(b);
    }
}

/* Copy up to want pending updates into b->batch; *left gets how many stay
 * queued.  Returns how many were taken. */
static size_t take(struct bus *b, size_t want, size_t *left)
{
    size_t k;
    size_t first;

    lock_bus(b);
    k = want < b->count ? want : b->count;
    if (k > b->batch_cap) {
        k = b->batch_cap;
    }
    first = b->queue_cap - b->head < k ? b->queue_cap - b->head : k;
    memcpy(b->batch, b->queue + b->head, first * sizeof(*b->batch));
    memcpy(b->batch + first, b->queue, (k - first) * sizeof(*b->batch));
    b->head += k;
    if (b->head >= b->queue_cap) {
        b->head -= b->queue_cap;
    }
    b->count -= k;
    b->delivered += k;
    /* Once the ring is empty, channels whose updates were dropped get their
     * latest value: subscribers lose intermediate values under overload,
     * never the current one. */
    while (b->count == 0 && b->nlost > 0 && k < want && k < b->batch_cap) {
        struct channel *c = &b->chans[b->lost[--b->nlost]];
        int resend = c->lost == LOST_RESEND;

        c->lost = LOST_NO;
        if (resend) {
            b->batch[k].ch = (int) (c - b->chans);
            b->batch[k].v = c->v;
            k++;
            b->resent++;
        }
    }
    *left = b->count + b->nlost;
    unlock_bus(b);
    return k;
}

/* Run the callbacks for the k updates in b->batch, unlocked.  A callback may
 * subscribe (lists and b->subs may move: index them afresh each time) or
 * unsubscribe (live drops at once; the lists shrink only after dispatch). */
static void deliver(struct bus *b, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        const struct bus_update *u = &b->batch[i];
        const struct channel *c = &b->chans[u->ch];
        size_t nsubs = c->nsubs; /* a new subscription starts with the next update */

        for (size_t j = 0; j < nsubs; j++) {
            const struct sub *s = &b->subs[c->subs[j]];

            if (s->live) {
                s->cb(s->ctx, u->ch, &u->v);
            }
        }
    }
}

size_t bus_dispatch(struct bus *b, size_t max)
{
    eventfd_t junk;
    size_t limit = max;
    size_t taken = 0;
    size_t left = 0;

    if (!b || b->dispatching) {
        return 0; /* not from inside a callback */
    }
    /* Drain first: whatever is published after the last take() below
     * signals again, so the fd is never left drained with updates pending. */
    (void) eventfd_read(b->efd, &junk);
    if (limit == 0) {
        lock_bus(b);
        limit = b->count + b->nlost;
        unlock_bus(b);
    }
    b->dispatching = 1;
    while (taken < limit) {
        size_t k = take(b, limit - taken, &left);

        if (k == 0) {
            break;
        }
        deliver(b, k);
        taken += k;
    }
    b->dispatching = 0;
    if (b->purge_pending) {
        purge(b);
    }
    if (left > 0) {
        (void) eventfd_write(b->efd, 1);
    }
    return taken;
}

int bus_fd(const struct bus *b)
{
    return b ? b->efd : -1;
}

void bus_stats(const struct bus *b, struct bus_stats *out)
{
    if (!b || !out) {
        return;
    }
    lock_bus(b);
    out->published = b->published;
    out->delivered = b->delivered;
    out->dropped = b->dropped;
    out->resent = b->resent;
    out->channels = atomic_load_explicit(&b->nchannels, memory_order_relaxed);
    out->subscriptions = b->nlive;
    out->queued = b->count;
    out->queue_cap = b->queue_cap;
    unlock_bus(b);
}

int bus_name_valid(const char *name)
{
    return name && names_channel_valid(name, strlen(name), BUS_NAME_MAX - 1);
}

/* bus_match() walks the pattern once over a row of states: row[j] says
 * whether the pattern so far matches the first j bytes of name.  That is
 * O(pattern * name) with no backtracking, so "*a*a*a*a*b" costs no more than
 * any other pattern, and '*' and '**' mix without the corner cases of the
 * star-pointer algorithm (a later '*' cannot take over what an earlier '**'
 * would have matched across a '/').  Each pass returns whether any state is
 * still alive. */

/* '*' (cross 0) or '**' (cross 1): extend every live state over a run of
 * bytes; the forward sweep sees states it has just set. */
static bool star_pass(bool *row, const char *name, size_t n, bool cross)
{
    bool any = row[0];

    for (size_t j = 1; j <= n; j++) {
        row[j] = row[j] || (row[j - 1] && (cross || name[j - 1] != '/'));
        any = any || row[j];
    }
    return any;
}

/* A literal byte or '?': move every live state one byte on; the backward
 * sweep reads states before they are overwritten. */
static bool byte_pass(bool *row, const char *name, size_t n, char pc)
{
    bool any = false;

    for (size_t j = n; j > 0; j--) {
        char c = name[j - 1];

        row[j] = row[j - 1] && (pc == '?' ? c != '/' : c == pc);
        any = any || row[j];
    }
    row[0] = false;
    return any;
}

/* Names longer than a channel name never match. */
int bus_match(const char *pattern, const char *name)
{
    bool row[BUS_NAME_MAX] = {true};
    size_t n;

    if (!pattern || !name) {
        return 0;
    }
    n = strnlen(name, BUS_NAME_MAX);
    if (n >= BUS_NAME_MAX) {
        return 0;
    }
    for (const char *p = pattern; *p; p++) {
        bool any;

        if (*p == '*') {
            bool cross = p[1] == '*'; /* "**", or more stars */

            while (p[1] == '*') {
                p++;
            }
            any = star_pass(row, name, n, cross);
        } else {
            any = byte_pass(row, name, n, *p);
        }
        if (!any) {
            return 0;
        }
    }
    return row[n];
}
