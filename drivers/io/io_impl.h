/* io_impl.h - the backend table of drivers/io (private to drivers/io). */
#ifndef PQGATE_IO_IMPL_H
#define PQGATE_IO_IMPL_H

#include "drivers/io/io.h"

struct io_ops {
    const char *kind;
    size_t priv_size; /* zeroed, at io->priv */
    int (*open)(struct io *io, const struct io_open_cfg *cfg);
    int (*read)(struct io *io, struct io_edge *buf, size_t cap, size_t *n);
    int (*get)(struct io *io, int line);
    int (*set)(struct io *io, int line, int level);
    int (*fd)(const struct io *io); /* NULL: no fd */
    void (*close)(struct io *io);   /* frees what open took, not io */
};

struct io {
    const struct io_ops *ops;
    void *priv;
    struct io_line lines[IO_MAX_LINES];
    size_t nlines;
};

extern const struct io_ops io_gpiod_ops;
extern const struct io_ops io_sim_ops;

#endif
