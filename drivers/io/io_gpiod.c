/* io_gpiod.c - the "gpiod" backend: lines of a GPIO chip through libgpiod
 * 1.6 (the Linux GPIO character device).
 *
 * Inputs are requested for both edges; the kernel time-stamps each edge
 * (CLOCK_MONOTONIC since Linux 5.7), and we convert to CLOCK_REALTIME with
 * the offset between the two clocks at read time.  The event fds of all
 * inputs are gathered in one epoll fd, which is what io_fd() gives the main
 * loop.
 */
#include <errno.h>
#include <gpiod.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "drivers/io/io_impl.h"
#include "pq/err.h"

#define GPIO_CONSUMER "pqgate"

struct gpio {
    struct gpiod_chip *chip;
    struct gpiod_line *line[IO_MAX_LINES];
    int epfd;
};

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t) ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t mono_to_wall_offset(void)
{
    struct timespec m, w;

    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &w);
    return ts_ns(&w) - ts_ns(&m);
}

static int request_line(struct io *io, struct gpio *g, size_t i)
{
    const struct io_line *l = &io->lines[i];
    int flags = l->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t) i};

    g->line[i] = gpiod_chip_get_line(g->chip, l->offset);
    if (!g->line[i]) {
        return -errno;
    }
    if (l->output) {
        return gpiod_line_request_output_flags(g->line[i], GPIO_CONSUMER, flags, 0) < 0
                   ? -errno
                   : 0;
    }
    if (gpiod_line_request_both_edges_events_flags(g->line[i], GPIO_CONSUMER, flags) <
        0) {
        return -errno;
    }
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, gpiod_line_event_get_fd(g->line[i]), &ev) < 0) {
        return -errno;
    }
    return 0;
}

static void gpio_close(struct io *io)
{
    struct gpio *g = io->priv;

    for (size_t i = 0; i < io->nlines; i++) {
        if (g->line[i]) {
            gpiod_line_release(g->line[i]);
        }
    }
    if (g->chip) {
        gpiod_chip_close(g->chip);
    }
    if (g->epfd > 0) {
        close(g->epfd);
    }
}

static int gpio_open(struct io *io, const struct io_open_cfg *cfg)
{
    struct gpio *g = io->priv;
    int rc;

    g->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g->epfd < 0) {
        return -errno;
    }
    g->chip = gpiod_chip_open_lookup(cfg->chip);
    if (!g->chip) {
        rc = errno ? -errno : -ENOENT;
        goto fail;
    }
    for (size_t i = 0; i < io->nlines; i++) {
        rc = request_line(io, g, i);
        if (rc < 0) {
            goto fail;
        }
    }
    return 0;

fail:
    gpio_close(io);
    return rc;
}

static int gpio_read(struct io *io, struct io_edge *buf, size_t cap, size_t *n)
{
    struct gpio *g = io->priv;
    struct epoll_event ev[IO_MAX_LINES];
    int64_t offset = mono_to_wall_offset();
    int ready = epoll_wait(g->epfd, ev, IO_MAX_LINES, 0);

    *n = 0;
    if (ready < 0) {
        return errno == EINTR ? 0 : -errno;
    }
    for (int k = 0; k < ready && *n < cap; k++) {
        unsigned i = ev[k].data.u32;
        struct gpiod_line_event le[16];
        unsigned want = cap - *n < 16 ? (unsigned) (cap - *n) : 16;
        int got = gpiod_line_event_read_multiple(g->line[i], le, want);

        for (int j = 0; j < got; j++) {
            buf[(*n)++] = (struct io_edge){
                .line = (int) i,
                .level = le[j].event_type == GPIOD_LINE_EVENT_RISING_EDGE,
                .t_ns = ts_ns(&le[j].ts) + offset,
            };
        }
    }
    return 0;
}

static int gpio_get(struct io *io, int line)
{
    int v = gpiod_line_get_value(((struct gpio *) io->priv)->line[line]);

    return v < 0 ? -errno : v;
}

static int gpio_set(struct io *io, int line, int level)
{
    return gpiod_line_set_value(((struct gpio *) io->priv)->line[line], level) < 0
               ? -errno
               : 0;
}

static int gpio_fd(const struct io *io)
{
    return ((const struct gpio *) io->priv)->epfd;
}

const struct io_ops io_gpiod_ops = {
    .kind = "gpiod",
    .priv_size = sizeof(struct gpio),
    .open = gpio_open,
    .read = gpio_read,
    .get = gpio_get,
    .set = gpio_set,
    .fd = gpio_fd,
    .close = gpio_close,
};
