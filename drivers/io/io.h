/* io.h - digital inputs and outputs: pulse inputs of water, air, gas,
 * electricity and steam meters (WAGES), relay and KY pulse outputs.
 *
 * Backends: "gpiod" (Linux GPIO character device through libgpiod) and
 * "sim" (pulse trains with contact bounce generated from the wall clock,
 * and edges injected by tests).  A source belongs to one thread; nothing
 * here locks.  Edges carry CLOCK_REALTIME time stamps in ns.
 */
#ifndef PQGATE_IO_H
#define PQGATE_IO_H

#include <stddef.h>
#include <stdint.h>

#define IO_MAX_LINES 32

struct io;

/* One line as the backend needs it (filled from config/ by the caller). */
struct io_line {
    const char *name;     /* "di1", "relay1": names the line in errors */
    unsigned offset;      /* line number on the chip (gpiod) */
    int output;           /* 0: input (edges), 1: output */
    int active_low;       /* the line is active (1) when electrically low */
    double sim_rate_hz;   /* sim: pulses per second on this input; 0: none */
    int sim_bounce;       /* sim: extra chatter transitions at each edge */
    int64_t sim_width_ns; /* sim: how long a pulse stays active; 0: 50 ms */
};

struct io_open_cfg {
    const char *kind; /* "gpiod" or "sim" */
    const char *chip; /* gpiod: "gpiochip0", "/dev/gpiochip0" or a label */
    const struct io_line *lines;
    size_t nlines;
};

/* A change of an input's logical level (active_low already applied). */
struct io_edge {
    int line; /* index into cfg->lines */
    int level;
    int64_t t_ns;
};

/* Open the backend cfg->kind names.  Returns 0 and *out (io_close()),
 * -PQ_ECONFIG (unknown kind, too many lines), -ENOENT (no such chip) or
 * another negative code. */
int io_open(const struct io_open_cfg *cfg, struct io **out);

/* Copy up to cap pending edges into buf, in time order; count in *n. */
int io_read(struct io *io, struct io_edge *buf, size_t cap, size_t *n);

/* Logical level of line now (input or output): 0/1 or a negative code. */
int io_get(struct io *io, int line);

/* Drive output line to level (logical: 1 = active).  -EINVAL if the line
 * is not an output. */
int io_set(struct io *io, int line, int level);

/* A file descriptor polling readable when edges are pending, or -1 (poll
 * io_read() on a timer). */
int io_fd(const struct io *io);

void io_close(struct io *io); /* NULL is a no-op */

/* sim backend only: queue an edge of input line at t_ns (tests).  Returns
 * 0, -EINVAL (bad line, not the sim backend) or -PQ_EFULL. */
int io_sim_inject(struct io *io, int line, int level, int64_t t_ns);

#endif
