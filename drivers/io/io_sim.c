/* io_sim.c - the "sim" backend: pulse trains with contact bounce.
 *
 * Each input with sim_rate_hz > 0 gives one pulse per period, aligned to
 * the UTC second: active for sim_width_ns, and at both of its edges
 * sim_bounce extra pairs of transitions 100 us apart, as a mechanical reed
 * contact does.  Edges are produced when io_read() finds their time has
 * come (CLOCK_REALTIME), so a slow reader gets them late but complete.
 * Tests inject edges of their own with io_sim_inject().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/io/io_impl.h"
#include "pq/err.h"

#define BOUNCE_STEP_NS 100000LL /* 100 us between chatter transitions */
#define INJECT_CAP     1024

struct sim_input {
    int64_t period_ns; /* 0: no generated pulses */
    int64_t width_ns;
    int bounce;
    int64_t t0_ns; /* start of the current pulse */
    int idx;       /* next edge of the current pulse */
};

struct sim {
    struct sim_input in[IO_MAX_LINES];
    int level[IO_MAX_LINES];
    struct io_edge inject[INJECT_CAP];
    size_t ihead, icount;
};

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Edge k of a pulse starting at t0: the rising group is 2*bounce+1
 * transitions ending active, the falling group the same ending inactive. */
static void pulse_edge(const struct sim_input *s, int k, int64_t *t, int *level)
{
    int group = 2 * s->bounce + 1;
    int j = k % group;

    if (k < group) {
        *t = s->t0_ns + j * BOUNCE_STEP_NS;
        *level = (j % 2) == 0;
    } else {
        *t = s->t0_ns + s->width_ns + j * BOUNCE_STEP_NS;
        *level = (j % 2) != 0;
    }
}

static int sim_open(struct io *io, const struct io_open_cfg *cfg)
{
    struct sim *p = io->priv;
    int64_t now = now_ns();

    (void) cfg;
    for (size_t i = 0; i < io->nlines; i++) {
        const struct io_line *l = &io->lines[i];
        struct sim_input *s = &p->in[i];

        if (l->output || !(l->sim_rate_hz > 0)) {
            continue;
        }
        s->period_ns = (int64_t) (1e9 / l->sim_rate_hz);
        if (s->period_ns < 1000000) {
            s->period_ns = 1000000; /* at most 1 kHz */
        }
        s->width_ns = l->sim_width_ns > 0 ? l->sim_width_ns : 50000000LL;
        s->bounce = l->sim_bounce < 0 ? 0 : l->sim_bounce;
        /* the pulse and its chatter must fit in the period */
        if (s->width_ns + 2 * (2 * s->bounce + 1) * BOUNCE_STEP_NS >= s->period_ns) {
            s->width_ns = s->period_ns / 2;
            s->bounce = 0;
        }
        s->t0_ns = (now / 1000000000LL + 1) * 1000000000LL;
    }
    return 0;
}

static void push_sorted(struct io_edge *buf, size_t *n, const struct io_edge *e)
{
    size_t k = *n;

    while (k > 0 && buf[k - 1].t_ns > e->t_ns) {
        buf[k] = buf[k - 1];
        k--;
    }
    buf[k] = *e;
    (*n)++;
}

static int sim_read(struct io *io, struct io_edge *buf, size_t cap, size_t *n)
{
    struct sim *p = io->priv;
    int64_t now = now_ns();

    *n = 0;
    while (p->icount > 0 && *n < cap) {
        struct io_edge *e = &p->inject[p->ihead];

        p->level[e->line] = e->level;
        push_sorted(buf, n, e);
        p->ihead = (p->ihead + 1) % INJECT_CAP;
        p->icount--;
    }
    for (size_t i = 0; i < io->nlines && *n < cap; i++) {
        struct sim_input *s = &p->in[i];
        int per_pulse = 2 * (2 * s->bounce + 1);

        while (s->period_ns > 0 && *n < cap) {
            struct io_edge e = {.line = (int) i};

            pulse_edge(s, s->idx, &e.t_ns, &e.level);
            if (e.t_ns > now) {
                break;
            }
            p->level[i] = e.level;
            push_sorted(buf, n, &e);
            if (++s->idx == per_pulse) {
                s->idx = 0;
                s->t0_ns += s->period_ns;
            }
        }
    }
    return 0;
}

static int sim_get(struct io *io, int line)
{
    return ((struct sim *) io->priv)->level[line];
}

static int sim_set(struct io *io, int line, int level)
{
    ((struct sim *) io->priv)->level[line] = level;
    return 0;
}

static void sim_close(struct io *io)
{
    (void) io;
}

int io_sim_inject(struct io *io, int line, int level, int64_t t_ns)
{
    struct sim *p;

    if (!io || io->ops != &io_sim_ops || line < 0 || (size_t) line >= io->nlines ||
        io->lines[line].output) {
        return -EINVAL;
    }
    p = io->priv;
    if (p->icount == INJECT_CAP) {
        return -PQ_EFULL;
    }
    p->inject[(p->ihead + p->icount) % INJECT_CAP] =
        (struct io_edge){.line = line, .level = level ? 1 : 0, .t_ns = t_ns};
    p->icount++;
    return 0;
}

const struct io_ops io_sim_ops = {
    .kind = "sim",
    .priv_size = sizeof(struct sim),
    .open = sim_open,
    .read = sim_read,
    .get = sim_get,
    .set = sim_set,
    .fd = NULL,
    .close = sim_close,
};
