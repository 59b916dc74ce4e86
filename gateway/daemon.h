/* daemon.h - `pqgate run`: the gateway process.
 *
 * The daemon owns the main loop, the channel bus, the record channel and the
 * config, and runs a fixed table of components (status now; metrology,
 * Modbus, store, MQTT and web as they arrive).  A config reload (SIGHUP) is
 * transactional: the new file is loaded and validated in full first; only then are the
 * components stopped and started again on it, and if one fails to start the old config is
 * put back.  The bus lives across reloads, so channel ids stay stable; so does the record
 * channel, so no record posted before a reload is lost.
 */
#ifndef PQGATE_DAEMON_H
#define PQGATE_DAEMON_H

#include <stddef.h>
#include <stdint.h>

struct bus;
struct loop;
struct records;
struct pqgate_cfg;
struct store;

/* What components share.  Borrowed pointers, valid from start to stop. */
struct gw {
    const struct pqgate_cfg *cfg;
    const char *config_path; /* the file cfg came from (profiles beside it) */
    struct bus *bus;
    struct records *records; /* whole records (events, aggregates) as JSON */
    struct loop *loop;
    struct store *store; /* onboard store, set by the store component; NULL
                            before it started or when none is configured */
    int64_t started_ns;  /* CLOCK_MONOTONIC at process start */
    unsigned generation; /* 1 at start, +1 per successful reload */
};

/* A component: start() takes what it needs from gw (registers channels,
 * adds loop fds and timers, starts threads) and stores its state in *state;
 * it logs its own problems and returns 0 or a negative code.  stop() undoes
 * all of it, quickly (the process must stop within 2 s of SIGTERM). */
struct gw_component {
    const char *name;
    int (*start)(struct gw *gw, void **state);
    void (*stop)(void *state);
};

struct daemon_opts {
    const char *config_path;
    const char *const *sets; /* --set key.path=value, applied on every load */
    size_t nsets;
};

/* Run until SIGTERM or SIGINT.  Returns the process exit code: 0 after a
 * clean stop, 1 when the config is invalid or a component cannot start. */
int daemon_run(const struct daemon_opts *o);

#endif
