/* mb_profile.h - device profiles: decoding, counters and request planning.
 *
 * The profile itself (struct mb_profile, struct mb_point) is plain data
 * in config/profile.h, loaded from config/profiles/<name>.yaml by
 * cfg_profile_load() or built by mb_sunspec_discover().  Here are the pure
 * functions that use it: turning a poll cycle's raw registers into
 * engineering values, keeping energy counters continuous, and planning the
 * fewest reads that cover a profile.  docs/profiles.md describes the rules.
 *
 * No I/O, no threads, no logging.  Decoding and counters allocate nothing
 * (they run per value, per cycle); mb_plan() and mb_plan_min_regs() take a
 * scratch array for the sort (-ENOMEM), at start-up or on reload.
 */
#ifndef PQGATE_MB_PROFILE_H
#define PQGATE_MB_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "config/profile.h"
#include "drivers/modbus/mb_port.h"

#define MB_MAX_REGS 125  /* registers of one read (MB Application Protocol 6.3) */
#define MB_MAX_BITS 2000 /* coils or inputs of one read (6.1, 6.2) */

/* Quality of a decoded value (maps onto enum bus_quality in the gateway:
 * COMM_FAIL -> BUS_Q_STALE, NOT_IMPL -> BUS_Q_INVALID, SUBSTITUTED ->
 * BUS_Q_FLAGGED or a quality of its own). */
enum mb_value_quality {
    MB_Q_GOOD,
    MB_Q_COMM_FAIL,   /* the read failed (or its scale-factor read did) */
    MB_Q_NOT_IMPL,    /* the device says "not implemented" (SunSpec 0x8000, NaN ...) */
    MB_Q_SUBSTITUTED, /* counter: this reading was not believed; last good total kept */
};

/* Decode point p from the registers of the reads that hold it.  res/n are
 * a cycle's results (mb_port.h).  Returns 0 with *value and *q (on
 * MB_Q_COMM_FAIL and MB_Q_NOT_IMPL *value is NaN); -PQ_ENOTFOUND when no
 * read of the cycle covers p or its scale-factor register (a planning
 * bug); -EINVAL for a string point (use mb_point_string()). */
int mb_point_decode(const struct mb_point *p, const struct mb_read_result *res, size_t n,
                    double *value, int *q);

/* The text of an MB_T_STRING point, trailing NULs and blanks removed, in
 * buf (cap >= 1; truncated to fit).  Returns 0, -PQ_ENOTFOUND, -EINVAL for
 * another type, or the read's failure code. */
int mb_point_string(const struct mb_point *p, const struct mb_read_result *res, size_t n,
                    char *buf, size_t cap);

/* Counter state of one energy point across cycles (caller's memory; zero it
 * to start).
 *
 * Rules (docs/profiles.md "Counters"), with W = 2^counter_bits counts and
 * limit = max_step x seconds since the last good reading (none when
 * max_step is 0):
 *  - an increase within the limit: added to the total (OK);
 *  - a decrease from the top eighth of W to the bottom eighth, whose
 *    increase across the wrap (W - last + new) is within the limit:
 *    ROLLOVER, that increase is added;
 *  - otherwise a decrease to a reading within the bottom 1/1000 of W (or
 *    below max_step x 60 s for counters that never wrap): RESET, the device
 *    restarted from zero; the reading itself is added (what it counted
 *    since the reset);
 *  - any other decrease: EXCHANGE, a different meter: the reading becomes
 *    the new base, nothing is added;
 *  - an increase beyond the limit: GLITCH, held for one reading: if the
 *    next reading is credible against the last good one the spike was a
 *    glitch and is forgotten; if it is credible against the spike, the new
 *    level is real but its jump is not consumption: EXCHANGE (new base,
 *    nothing added).
 * So the total never decreases and never grows faster than max_step. */
enum mb_counter_event {
    MB_COUNTER_OK,
    MB_COUNTER_ROLLOVER, /* wrapped at 2^counter_bits: delta taken across the wrap */
    MB_COUNTER_RESET,    /* fell to near zero: device reset, total continues from it */
    MB_COUNTER_EXCHANGE, /* a different meter (or a confirmed jump): new base, no delta */
    MB_COUNTER_GLITCH,   /* an absurd reading, not believed; last good kept */
};

struct mb_counter {
    int primed;
    double last;     /* last good reading, engineering units */
    int64_t last_ns; /* its time */
    double total;    /* continuous total handed to the channel */
    int pending;     /* a spike waits for the next reading */
    double spike;
    int64_t spike_ns;
    double lsb; /* engineering value of one count (scale x 10^sf); 0: |p->scale| */
};

/* Feed a reading (engineering units) taken at t_ns; returns an enum
 * mb_counter_event and updates c->total.  A non-finite reading is a
 * GLITCH that is simply ignored. */
int mb_counter_feed(struct mb_counter *c, const struct mb_point *p, double reading,
                    int64_t t_ns);

/* Human name of an enum mb_counter_event ("rollover"). */
const char *mb_counter_event_name(int ev);

/* What the gateway does with each point each cycle, in one call. */
struct mb_sample {
    double value;   /* engineering value; for a counter, the continuous total */
    int q;          /* enum mb_value_quality */
    int64_t t_ns;   /* when the read that held it was answered */
    int event;      /* counter: enum mb_counter_event of this reading; else OK */
    double reading; /* counter: the device's own reading */
};

/* Decode p from the cycle and, when p is a counter, feed c (which may be
 * NULL for other points).  Returns 0 or the code of mb_point_decode()
 * (-EINVAL for a string point: skip those, or use mb_point_string()). */
int mb_point_sample(const struct mb_point *p, struct mb_counter *c,
                    const struct mb_read_result *res, size_t n, struct mb_sample *out);

/* Planning: coalesce the points of a profile (and their scale-factor
 * registers) into the fewest legal reads: per function, <= max_regs
 * registers (<= 2000 bits for coils and discrete inputs), spanning gaps of
 * at most max_gap unused registers, never crossing a multiple of no_cross.
 * Reads come sorted by function then address.  Writes up to cap reads to
 * out and returns how many are needed (> cap: only cap written), or a
 * negative code (-EINVAL for a point the limits cannot hold, -ENOMEM). */
int mb_plan(const struct mb_profile *prof, struct mb_read *out, size_t cap);

/* The fewest registers (and bits) the points need (distinct addresses):
 * the denominator of the benchmark's "sent / minimum" ratio. */
size_t mb_plan_min_regs(const struct mb_profile *prof);

void mb_profile_free(struct mb_profile *prof); /* NULL: no-op */

#endif
