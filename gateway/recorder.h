/* recorder.h - data recorders: rows of channel values on intervals, calendar
 * schedules, alarms, events or by hand (the PM8000's data recorders: up to 64
 * recorders of 16 channels).
 *
 * Two parts.  The engine (struct rec_engine, recorder.c) is pure: it is fed
 * time-stamped channel updates and trigger calls and hands finished rows to
 * a callback; no I/O, no clock, no allocation.  The component
 * (recorder_component, reccomp.c) wires engines to the bus and the onboard
 * store, and also keeps the min/max log and the trend statistics
 * (docs/recorders.md).
 *
 * Interval recorders align to UTC multiples of the interval since the epoch
 * (15 min: :00 :15 :30 :45) and stamp each row with the interval's end.  An
 * update stamped t belongs to the interval (end - interval, end]: bus time
 * stamps mark the end of a measurement.  A row is emitted when an update
 * past the interval arrives, or when rec_tick() is told the time has passed
 * it; a channel without an update in the interval is NaN with
 * BUS_Q_INVALID.  Every interval gets its row, empty ones too (all NaN), up
 * to REC_GAP_ROWS rows for one gap in the data; the rest of a longer gap
 * has no rows (counted in skipped).  Updates older than the interval in progress are
 * late: dropped and counted.
 *
 * Every-update recorders (trigger interval "half_cycle") write one row per
 * distinct time stamp of their channels' updates, with the latest value of
 * every channel (a burst of half-cycle RMS values has one stamp per half
 * cycle).  Alarm, event and manual triggers open a window of duration_ns in
 * which the recorder records (every update, or its interval rows); with a
 * duration of 0 a trigger writes one snapshot row.  A trigger is stamped
 * with the time of what caused it and reaches the recorder after the
 * updates of that time: the last REC_HISTORY every-update rows are kept,
 * so those inside the new window are still written.  Schedules write a
 * snapshot row of the latest values.
 *
 * Depth: a stop_when_full recorder stops after depth rows (rec_engine.full);
 * a continuous one goes on, and rec_keep_from() says which rows to keep.
 */
#ifndef PQGATE_RECORDER_H
#define PQGATE_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/store.h"

#define REC_MAX_RECORDERS 64
#define REC_MAX_CH        16
#define REC_GAP_ROWS      3600 /* empty rows written for one gap in the data */
#define REC_HISTORY       64   /* every-update rows kept for a late trigger */

struct rec_row {
    int64_t t_ns; /* UTC: interval end, update stamp or trigger time */
    uint64_t seq; /* per recorder, from 1, never reused */
    int n;        /* channels */
    double v[REC_MAX_CH];
    uint32_t q[REC_MAX_CH]; /* bus quality bits, OR over the interval */
};

/* Called with each finished row; row is valid only during the call. */
typedef void (*rec_emit_fn)(void *ctx, int id, const struct rec_row *row);

enum rec_value {
    REC_AVERAGE,
    REC_LAST,
    REC_MIN,
    REC_MAX,
};

struct rec_def {
    int nch;             /* 1..REC_MAX_CH */
    int64_t interval_ns; /* > 0: interval rows; 0: every update (or none) */
    int every_update;    /* rows per update time stamp */
    int value;           /* enum rec_value for interval rows */
    int gated;           /* records only inside trigger windows */
    int64_t duration_ns; /* trigger window; 0: one snapshot row per trigger */
    int stop_when_full;
    uint64_t depth; /* >= 1 */
};

struct rec_engine {
    struct rec_def def;
    int id;
    rec_emit_fn emit;
    void *ctx;
    /* interval in progress */
    int64_t end_ns; /* 0: none yet */
    double sum[REC_MAX_CH], min[REC_MAX_CH], max[REC_MAX_CH];
    uint32_t n[REC_MAX_CH], qor[REC_MAX_CH];
    /* latest value of each channel */
    double last[REC_MAX_CH];
    uint32_t lastq[REC_MAX_CH];
    int64_t pending_ns; /* every update: stamp of the row being assembled, 0: none */
    /* gated every-update rows not (yet) in a window, newest last: a trigger
     * arrives through the bus after the updates it refers to */
    struct rec_row hist[REC_HISTORY];
    unsigned hist_head, hist_n;
    int64_t win_from_ns, win_to_ns; /* trigger window (win_to 0: none yet) */
    uint64_t seq;                   /* of the last row */
    uint64_t rows;                  /* rows written (for stop_when_full) */
    int full;
    uint64_t late;    /* updates dropped as older than the interval in progress */
    uint64_t skipped; /* empty intervals past REC_GAP_ROWS in one gap: no row */
};

/* Set r up for def (copied); rows go to emit(ctx, id, row). */
void rec_init(struct rec_engine *r, const struct rec_def *def, int id, rec_emit_fn emit,
              void *ctx);

/* Continue after a restart: the last row's seq and the rows kept. */
void rec_resume(struct rec_engine *r, uint64_t seq, uint64_t rows);

/* An update of channel ch (0..nch-1). */
void rec_update(struct rec_engine *r, int ch, double v, int64_t t_ns, uint32_t quality);

/* The data clock is now now_ns: finish the interval or every-update row
 * that ended before it (a timer calls this when updates stop coming). */
void rec_tick(struct rec_engine *r, int64_t now_ns);

/* An alarm, event or manual trigger at t_ns. */
void rec_trigger(struct rec_engine *r, int64_t t_ns);

/* A snapshot row of the latest values at t_ns (schedules). */
void rec_snapshot(struct rec_engine *r, int64_t t_ns);

/* A continuous recorder keeps rows with seq >= this (0: keep all). */
uint64_t rec_keep_from(const struct rec_engine *r);

/* The next instant strictly after t_ns (UTC ns) of schedule s (a parsed
 * trigger.schedule) in civil time of zone tz (NULL: UTC).  A civil time
 * that a daylight-saving change skips is read as gateway/tzif.h says
 * (02:30 on a spring-forward day at 02:00 is 03:30); a repeated one fires
 * once, at the earlier instant. */
struct cfg_schedule;
struct tzif;
int64_t rec_schedule_next(const struct cfg_schedule *s, int64_t t_ns,
                          const struct tzif *tz);

struct gw_component;
extern const struct gw_component recorder_component; /* reccomp.c */

/* The component's store tables (recorders, rec_rows, minmax, trend_state);
 * the component declares them with store_add_tables() at start. */
extern const struct store_table recorder_tables[];
extern const size_t recorder_ntables;

#endif
