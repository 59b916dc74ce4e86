/* loop.h - the main loop: file descriptors and periodic timers over poll(2).
 *
 * One loop per process, run by the main thread; nothing here locks.  Later
 * tiers plug their sockets in here (libwebsockets through its external poll
 * callbacks, libmosquitto's socket), so everything that is not acquisition
 * or a Modbus bus runs on this one thread.
 *
 * Callbacks may add and remove fds and timers, including their own, and may
 * call loop_stop().
 */
#ifndef PQGATE_LOOP_H
#define PQGATE_LOOP_H

#include <stdint.h>

struct loop;

typedef void (*loop_fd_fn)(struct loop *l, int fd, short revents, void *ctx);
typedef void (*loop_timer_fn)(struct loop *l, void *ctx);

/* 0 and the loop in *out (release with loop_free()), or -ENOMEM. */
int loop_new(struct loop **out);
void loop_free(struct loop *l); /* NULL is a no-op */

/* Watch fd for events (POLLIN, POLLOUT); cb gets the revents.  -EEXIST if
 * fd is watched already, -ENOMEM. */
int loop_add_fd(struct loop *l, int fd, short events, loop_fd_fn cb, void *ctx);
int loop_mod_fd(struct loop *l, int fd, short events); /* -ENOENT if unknown */
void loop_del_fd(struct loop *l, int fd);

/* Call cb every period_ns (> 0), first one period from now.  Missed periods
 * are skipped, not bunched.  Returns a timer id (>= 0) or -EINVAL/-ENOMEM. */
int loop_add_timer(struct loop *l, int64_t period_ns, loop_timer_fn cb, void *ctx);
void loop_del_timer(struct loop *l, int id);

/* Run until loop_stop().  Returns 0, or -errno if poll() failed. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* 1 while loop_run() runs (a component stopped from a callback: a config
 * reload), 0 before and after it (start-up and shutdown). */
int loop_running(const struct loop *l);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in ns. */
int64_t loop_mono_ns(void);
int64_t loop_wall_ns(void);

#endif
