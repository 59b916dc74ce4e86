/* alarm.h - alarms on channels, PQ events and logic (daemon component
 * "alarm").
 *
 * Each alarm of the config's `alarms:` watches its inputs on the channel
 * bus and decides on every update, with the update's own time stamp (t_ns),
 * so a pickup or dropout delay ends within one update period of its
 * configured length, however late the main loop delivers: within a half
 * cycle on a Urms(1/2) channel (class half_cycle), within the channel's
 * period otherwise (class 1s).  When an input stops updating, a 100 ms
 * timer carries the channel's time forward by the wall-clock time since
 * its last update, so a pending delay on a quiet input (a digital input
 * that changed once) still ends, at most 0.6 s late.
 *
 * States (PM8000 style), published as alarm/<name>/state:
 *   0 inactive, 1 active (not acknowledged), 2 active and acknowledged,
 *   3 inactive but not acknowledged (it was active; nobody acknowledged).
 * alarm/<name>/active is 1 in states 1 and 2.  Both carry the time of the
 * transition.  An acknowledgement comes from alarms_ack() or from the
 * channel gateway/command/ack (value: the alarm's index, -1 for all).
 *
 * Actions on going active (and clearing): log (event log), capture and
 * burst (publish -(index + 1) on gateway/command/capture and
 * gateway/command/burst, with the time of the transition: the meter
 * captures the waveforms, or records the RMS burst, around that time and
 * names the files for the alarm), output (io/<name>/set 1 while
 * active, 0 after), email (worker thread, gateway/alarm_mail.h) and mqtt
 * (the alarm/<name>/... channels, which every alarm publishes).
 *
 * Threads: everything here runs on the main loop (bus callbacks and loop
 * timers); the functions below are main-loop only.  Evaluation allocates
 * nothing.
 */
#ifndef PQGATE_ALARM_H
#define PQGATE_ALARM_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/daemon.h"

#define ALARM_HISTORY 256 /* transitions kept in memory (the event log has all) */

enum alarm_state {
    ALARM_INACTIVE = 0,
    ALARM_ACTIVE = 1,           /* not acknowledged */
    ALARM_ACTIVE_ACKED = 2,     /* acknowledged, still active */
    ALARM_INACTIVE_UNACKED = 3, /* cleared, not acknowledged */
};

struct alarm_status {
    const char *name; /* valid while the alarms exist */
    int priority;     /* 1..255 */
    int state;        /* enum alarm_state */
    int64_t since_ns; /* time of the last transition (0: none yet) */
    uint64_t activations;
    double value; /* the watched input's latest value (NaN: none) */
};

struct alarm_transition {
    int alarm; /* index */
    int from, to;
    int64_t t_ns;
    double value; /* input value at the transition */
};

struct alarms; /* opaque */
struct bus;
struct loop;
struct pqgate_cfg;

/* Alarms of cfg->alarms on bus; loop (may be NULL in tests: no delay
 * timer) gets the 100 ms timer.  Registers the alarm/<name>/... channels
 * and subscribes to the inputs (the input channels need not exist yet).
 * cfg must outlive the alarms.  Returns 0 and *out, or a negative code. */
int alarms_new(const struct pqgate_cfg *cfg, struct bus *bus, struct loop *loop,
               struct alarms **out);
void alarms_free(struct alarms *a); /* NULL is a no-op */

size_t alarms_count(const struct alarms *a);
int alarms_find(const struct alarms *a, const char *name); /* index or -PQ_ENOTFOUND */
int alarms_status(const struct alarms *a, int idx, struct alarm_status *out);

/* Acknowledge alarm idx (-1: all).  Returns how many changed state, or
 * -EINVAL for a bad index. */
int alarms_ack(struct alarms *a, int idx);

/* Copy the last transitions, oldest first, up to cap; returns how many. */
size_t alarms_history(const struct alarms *a, struct alarm_transition *out, size_t cap);

/* End the pending delays whose inputs are quiet, as the timer does;
 * mono_ns is CLOCK_MONOTONIC now.  For tests. */
void alarms_tick(struct alarms *a, int64_t mono_ns);

/* The daemon's running alarms (for the web tier), or NULL. */
struct alarms *alarms_running(void);

extern const struct gw_component alarm_component;

#endif
