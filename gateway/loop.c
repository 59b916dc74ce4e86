/* loop.c - poll(2) main loop with periodic timers.
 *
 * Fds and timers live in small arrays; removal only marks an entry dead and
 * the arrays are compacted between iterations, so callbacks may change the
 * sets while the loop walks them.
 */
#include "gateway/loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct watch {
    int fd; /* -1: removed */
    short events;
    loop_fd_fn cb;
    void *ctx;
};

struct timer {
    int id; /* -1: removed */
    int64_t period_ns;
    int64_t due_ns;
    loop_timer_fn cb;
    void *ctx;
};

struct loop {
    struct watch *w;
    size_t nw, capw;
    struct timer *t;
    size_t nt, capt;
    struct pollfd *pfd;
    size_t cappfd;
    int next_timer_id;
    int stop;
    int running; /* inside loop_run() */
};

int64_t loop_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t loop_wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int loop_new(struct loop **out)
{
    struct loop *l = calloc(1, sizeof(*l));

    if (!l) {
        return -ENOMEM;
    }
    *out = l;
    return 0;
}

void loop_free(struct loop *l)
{
    if (!l) {
        return;
    }
    free(l->w);
    free(l->t);
    free(l->pfd);
    free(l);
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    void *p;
    size_t c;

    if (n < *cap) {
        return 0;
    }
    c = *cap ? *cap * 2 : 8;
    p = realloc(*arr, c * elem);
    if (!p) {
        return -ENOMEM;
    }
    *arr = p;
    *cap = c;
    return 0;
}

static struct watch *find_watch(struct loop *l, int fd)
{
    for (size_t i = 0; i < l->nw; i++) {
        if (l->w[i].fd == fd) {
            return &l->w[i];
        }
    }
    return NULL;
}

int loop_add_fd(struct loop *l, int fd, short events, loop_fd_fn cb, void *ctx)
{
    if (fd < 0 || !cb) {
        return -EINVAL;
    }
    if (find_watch(l, fd)) {
        return -EEXIST;
    }
    if (grow((void **) &l->w, &l->capw, l->nw, sizeof(*l->w)) < 0) {
        return -ENOMEM;
    }
    l->w[l->nw++] = (struct watch){.fd = fd, .events = events, .cb = cb, .ctx = ctx};
    return 0;
}

int loop_mod_fd(struct loop *l, int fd, short events)
{
    struct watch *w = find_watch(l, fd);

    if (!w) {
        return -ENOENT;
    }
    w->events = events;
    return 0;
}

void loop_del_fd(struct loop *l, int fd)
{
    struct watch *w = find_watch(l, fd);

    if (w) {
        w->fd = -1;
    }
}

int loop_add_timer(struct loop *l, int64_t period_ns, loop_timer_fn cb, void *ctx)
{
    if (period_ns <= 0 || !cb) {
        return -EINVAL;
    }
    if (grow((void **) &l->t, &l->capt, l->nt, sizeof(*l->t)) < 0) {
        return -ENOMEM;
    }
    l->t[l->nt++] = (struct timer){.id = l->next_timer_id,
                                   .period_ns = period_ns,
                                   .due_ns = loop_mono_ns() + period_ns,
                                   .cb = cb,
                                   .ctx = ctx};
    return l->next_timer_id++;
}

void loop_del_timer(struct loop *l, int id)
{
    for (size_t i = 0; i < l->nt; i++) {
        if (l->t[i].id == id) {
            l->t[i].id = -1;
        }
    }
}

void loop_stop(struct loop *l)
{
    l->stop = 1;
}

static void compact(struct loop *l)
{
    size_t j = 0;

    for (size_t i = 0; i < l->nw; i++) {
        if (l->w[i].fd >= 0) {
            l->w[j++] = l->w[i];
        }
    }
    l->nw = j;
    j = 0;
    for (size_t i = 0; i < l->nt; i++) {
        if (l->t[i].id >= 0) {
            l->t[j++] = l->t[i];
        }
    }
    l->nt = j;
}

/* Milliseconds until the next timer, rounded up; -1 with no timers. */
static int next_timeout_ms(const struct loop *l, int64_t now)
{
    int64_t next = INT64_MAX;

    for (size_t i = 0; i < l->nt; i++) {
        if (l->t[i].id >= 0 && l->t[i].due_ns < next) {
            next = l->t[i].due_ns;
        }
    }
    if (next == INT64_MAX) {
        return -1;
    }
    if (next <= now) {
        return 0;
    }
    next = (next - now + 999999) / 1000000;
    return next > 60000 ? 60000 : (int) next;
}

static void run_timers(struct loop *l)
{
    int64_t now = loop_mono_ns();
    size_t n = l->nt; /* timers added by a callback wait for the next round */

    for (size_t i = 0; i < n && !l->stop; i++) {
        struct timer *t = &l->t[i];

        if (t->id < 0 || t->due_ns > now) {
            continue;
        }
        t->due_ns += t->period_ns;
        if (t->due_ns <= now) { /* skip missed periods */
            t->due_ns = now + t->period_ns - (now - t->due_ns) % t->period_ns;
        }
        l->t[i].cb(l, l->t[i].ctx); /* may grow l->t: do not keep t */
    }
}

static void run_fds(struct loop *l, size_t n)
{
    for (size_t i = 0; i < n && !l->stop; i++) {
        struct watch *w;

        if (!l->pfd[i].revents) {
            continue;
        }
        w = find_watch(l, l->pfd[i].fd);
        if (w) {
            w->cb(l, w->fd, l->pfd[i].revents, w->ctx);
        }
    }
}

static int run(struct loop *l)
{
    l->stop = 0;
    while (!l->stop) {
        size_t n;
        int rc;

        compact(l);
        if (l->nw > l->cappfd) {
            struct pollfd *p = realloc(l->pfd, l->capw * sizeof(*p));

            if (!p) {
                return -ENOMEM;
            }
            l->pfd = p;
            l->cappfd = l->capw;
        }
        for (n = 0; n < l->nw; n++) {
            l->pfd[n] = (struct pollfd){.fd = l->w[n].fd, .events = l->w[n].events};
        }
        rc = poll(l->pfd, n, next_timeout_ms(l, loop_mono_ns()));
        if (rc < 0 && errno != EINTR) {
            return -errno;
        }
        if (rc > 0) {
            run_fds(l, n);
        }
        run_timers(l);
    }
    return 0;
}

int loop_run(struct loop *l)
{
    int rc;

    l->running = 1;
    rc = run(l);
    l->running = 0;
    return rc;
}

int loop_running(const struct loop *l)
{
    return l->running;
}
