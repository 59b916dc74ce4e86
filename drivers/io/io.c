/* io.c - backend selection for digital inputs and outputs: the only place
 * that looks at cfg->kind. */
#include "drivers/io/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/io/io_impl.h"
#include "pq/err.h"

static const struct io_ops *const backends[] = {&io_gpiod_ops, &io_sim_ops};

static const struct io_ops *find_backend(const char *kind)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (kind && strcmp(backends[i]->kind, kind) == 0) {
            return backends[i];
        }
    }
    return NULL;
}

int io_open(const struct io_open_cfg *cfg, struct io **out)
{
    const struct io_ops *ops = find_backend(cfg->kind);
    struct io *io;
    int rc;

    if (!ops || cfg->nlines > IO_MAX_LINES) {
        return -PQ_ECONFIG;
    }
    io = calloc(1, sizeof(*io));
    if (!io) {
        return -ENOMEM;
    }
    io->ops = ops;
    memcpy(io->lines, cfg->lines, cfg->nlines * sizeof(cfg->lines[0]));
    io->nlines = cfg->nlines;
    io->priv = calloc(1, ops->priv_size);
    if (!io->priv) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = ops->open(io, cfg);
    if (rc < 0) {
        goto fail;
    }
    *out = io;
    return 0;

fail:
    free(io->priv);
    free(io);
    return rc;
}

int io_read(struct io *io, struct io_edge *buf, size_t cap, size_t *n)
{
    return io->ops->read(io, buf, cap, n);
}

int io_get(struct io *io, int line)
{
    if (line < 0 || (size_t) line >= io->nlines) {
        return -EINVAL;
    }
    return io->ops->get(io, line);
}

int io_set(struct io *io, int line, int level)
{
    if (line < 0 || (size_t) line >= io->nlines || !io->lines[line].output) {
        return -EINVAL;
    }
    return io->ops->set(io, line, level ? 1 : 0);
}

int io_fd(const struct io *io)
{
    return io->ops->fd ? io->ops->fd(io) : -1;
}

void io_close(struct io *io)
{
    if (!io) {
        return;
    }
    io->ops->close(io);
    free(io->priv);
    free(io);
}
