/* modbus_impl.h - what modbus.c and modbus_sunspec.c share: the
 * component's ports and devices.  Private to gateway/modbus*.c. */
#ifndef PQGATE_GW_MODBUS_IMPL_H
#define PQGATE_GW_MODBUS_IMPL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/modbus/mb_port.h"
#include "drivers/modbus/mb_profile.h"
#include "gateway/bus.h"

struct device_cfg;
struct gw;
struct gw_sunspec;
struct gwmb;

enum {
    H_STATE,
    H_REQUESTS,
    H_ERRORS,
    H_TIMEOUTS,
    H_EXCEPTIONS,
    H_LATENCY,
    H_AGE,
    H_COUNT
};

struct mport;

struct mdev {
    struct mport *mp;
    int index; /* in the port's devices */
    const struct device_cfg *cfg;
    char prefix[BUS_NAME_MAX]; /* "bus1.dev7" */
    atomic_int ready;          /* profile, reads and channels in place */
    struct mb_profile *prof;
    struct mb_read *reads;
    size_t nreads;
    int *read_rc; /* last result of each read (port thread) */
    int *ch;      /* channel of each point */
    struct mb_counter *ctr;
    double *last; /* last good value of each point */
    int64_t *last_t;
    unsigned char *have;
    struct bus_update *upd;
    atomic_int answering; /* port thread writes: -1 not yet known, 0 lost, 1 answering */
    int64_t lost_ns;
    int ch_health[H_COUNT];
    int ch_summary; /* the channel of the fleet summary line: p/total or the first */
    /* SunSpec discovery (modbus_sunspec.c's thread) */
    int sunspec;
    int64_t next_try_ns, backoff_ns;
};

struct mport {
    struct gwmb *m;
    const char *name;
    int serial;
    struct mb_port_cfg pcfg;
    struct mb_dev_cfg *dcfg;
    struct mdev *devs;
    size_t ndevs;
    _Atomic(struct mb_port *) port; /* set once started; read by its own thread */
    int link_err;                   /* main loop: last mb_port_link_error() logged */
};

struct gwmb {
    struct gw *gw;
    struct mport *ports;
    size_t nports;
    int timer;
    int64_t next_summary_ns; /* CLOCK_MONOTONIC; logging.summary */
    struct gw_sunspec *ss;
};

/* modbus.c */

/* Load profile name (found by cfg_profile_path(), beside config_path
 * first; NULL: the standard places only); its problems are logged
 * (FILE:LINE:COL) naming who.  Returns 0 and the profile in *out
 * (mb_profile_free()), or a code. */
int gw_modbus_load_profile(const char *who, const char *name, const char *config_path,
                           struct mb_profile **out);

/* A device's own max_regs and max_gap (when set) over the profile's. */
void gw_modbus_apply_limits(const struct device_cfg *d, struct mb_profile *prof);

/* The reads of a profile as mb_plan() makes them: 0 and a new array in *out
 * (free(); never NULL) with *n reads, or a negative code. */
int gw_modbus_plan(const struct mb_profile *prof, struct mb_read **out, size_t *n);

/* Give md its profile (taken, also on error): the device's max_regs and
 * max_gap applied, the reads planned, per-point state allocated and the
 * channels registered.  Does not set md->ready.  Returns 0 or a code
 * (logged). */
int gw_modbus_dev_attach(struct mdev *md, struct mb_profile *prof);

/* modbus_sunspec.c: one read through port p's queue (mb_port_submit()),
 * waiting for the answer; any thread but a port's own.  Registers go to
 * regs (fn 3, 4), bits one per byte to bits (fn 1, 2).  Returns 0,
 * -PQ_EREFUSED with the code in *exception, -ETIMEDOUT, -PQ_EFRAME,
 * -ECANCELED (port stopping), -PQ_EFULL (queue full) or -EINVAL. */
int gw_modbus_read(struct mb_port *p, int unit, const struct mb_read *rd, uint16_t *regs,
                   uint8_t *bits, uint8_t *exception);

/* modbus_sunspec.c: one thread that discovers the SunSpec devices of m
 * (those with md->sunspec set) through mb_port_submit(), then hands each
 * its reads with mb_port_set_reads(); a device not found yet is tried
 * again with a doubling backoff (its poll interval up to 60 s).  Returns 0
 * and the discoverer in *out, or a code.  gw_sunspec_stop(NULL) is a no-op;
 * it returns once the thread has ended (within one request timeout). */
int gw_sunspec_start(struct gwmb *m, struct gw_sunspec **out);
void gw_sunspec_stop(struct gw_sunspec *s);

#endif
