/* recorder.c - the data recorder engine: intervals, every-update rows,
 * trigger windows, snapshots, depth; and calendar schedules. */
#include "gateway/recorder.h"

#include <math.h>
#include <string.h>

#include "config/config.h"
#include "gateway/bus.h"
#include "gateway/tzif.h"
#include "pq/utc.h"

static void reset_interval(struct rec_engine *r)
{
    for (int i = 0; i < r->def.nch; i++) {
        r->sum[i] = 0;
        r->min[i] = INFINITY;
        r->max[i] = -INFINITY;
        r->n[i] = 0;
        r->qor[i] = 0;
    }
}

void rec_init(struct rec_engine *r, const struct rec_def *def, int id, rec_emit_fn emit,
              void *ctx)
{
    memset(r, 0, sizeof(*r));
    r->def = *def;
    if (r->def.nch > REC_MAX_CH) {
        r->def.nch = REC_MAX_CH;
    }
    if (r->def.depth == 0) {
        r->def.depth = 1;
    }
    r->id = id;
    r->emit = emit;
    r->ctx = ctx;
    for (int i = 0; i < REC_MAX_CH; i++) {
        r->last[i] = NAN;
        r->lastq[i] = BUS_Q_INVALID;
    }
    reset_interval(r);
}

void rec_resume(struct rec_engine *r, uint64_t seq, uint64_t rows)
{
    r->seq = seq;
    r->rows = rows;
    r->full = r->def.stop_when_full && rows >= r->def.depth;
}

static int in_window(const struct rec_engine *r, int64_t t_ns, int64_t slack_ns)
{
    if (!r->def.gated) {
        return 1;
    }
    return r->win_to_ns != 0 && t_ns >= r->win_from_ns && t_ns <= r->win_to_ns + slack_ns;
}

static void emit(struct rec_engine *r, struct rec_row *row)
{
    if (r->full) {
        return;
    }
    row->seq = ++r->seq;
    row->n = r->def.nch;
    r->rows++;
    r->emit(r->ctx, r->id, row);
    if (r->def.stop_when_full && r->rows >= r->def.depth) {
        r->full = 1;
    }
}

static void latest_row(const struct rec_engine *r, int64_t t_ns, struct rec_row *row)
{
    row->t_ns = t_ns;
    for (int i = 0; i < r->def.nch; i++) {
        row->v[i] = r->last[i];
        row->q[i] = r->lastq[i];
    }
}

static void close_interval(struct rec_engine *r)
{
    struct rec_row row;

    /* a row for the interval that started inside the window counts */
    if (in_window(r, r->end_ns, r->def.interval_ns)) {
        row.t_ns = r->end_ns;
        for (int i = 0; i < r->def.nch; i++) {
            if (r->n[i] == 0) {
                row.v[i] = NAN;
                row.q[i] = BUS_Q_INVALID;
                continue;
            }
            switch (r->def.value) {
            case REC_LAST:
                row.v[i] = r->last[i];
                break;
            case REC_MIN:
                row.v[i] = r->min[i];
                break;
            case REC_MAX:
                row.v[i] = r->max[i];
                break;
            default:
                row.v[i] = r->sum[i] / r->n[i];
                break;
            }
            row.q[i] = r->qor[i];
        }
        emit(r, &row);
    }
    reset_interval(r);
}

/* End of the interval (end - I, end] holding t_ns. */
static int64_t interval_end(const struct rec_engine *r, int64_t t_ns)
{
    return (pq_floor_div(t_ns - 1, r->def.interval_ns) + 1) * r->def.interval_ns;
}

/* Close the interval in progress and the empty ones up to the one holding
 * t_ns (rows of NaN, BUS_Q_INVALID: a gap in the data shows as a gap in
 * the values, not in the time axis), at most REC_GAP_ROWS of them. */
static void advance_to(struct rec_engine *r, int64_t t_ns)
{
    int64_t target = interval_end(r, t_ns);
    uint64_t empty = 0;

    close_interval(r);
    r->end_ns += r->def.interval_ns;
    while (r->end_ns < target) {
        if (empty++ == REC_GAP_ROWS) {
            r->skipped += (uint64_t) ((target - r->end_ns) / r->def.interval_ns);
            break;
        }
        close_interval(r);
        r->end_ns += r->def.interval_ns;
    }
    r->end_ns = target;
}

static void flush_pending(struct rec_engine *r)
{
    struct rec_row row;

    if (r->pending_ns == 0) {
        return;
    }
    latest_row(r, r->pending_ns, &row);
    if (in_window(r, r->pending_ns, 0)) {
        emit(r, &row);
    } else if (r->def.gated) {
        r->hist[r->hist_head] = row;
        r->hist_head = (r->hist_head + 1) % REC_HISTORY;
        if (r->hist_n < REC_HISTORY) {
            r->hist_n++;
        }
    }
    r->pending_ns = 0;
}

void rec_update(struct rec_engine *r, int ch, double v, int64_t t_ns, uint32_t quality)
{
    if (ch < 0 || ch >= r->def.nch) {
        return;
    }
    if (r->def.interval_ns > 0) {
        if (r->end_ns != 0 && t_ns <= r->end_ns - r->def.interval_ns) {
            r->late++;
            return;
        }
        if (r->end_ns == 0) {
            r->end_ns = interval_end(r, t_ns);
        } else if (t_ns > r->end_ns) {
            advance_to(r, t_ns);
        }
        if (!isnan(v)) {
            r->sum[ch] += v;
            r->min[ch] = fmin(r->min[ch], v);
            r->max[ch] = fmax(r->max[ch], v);
            r->n[ch]++;
        }
        r->qor[ch] |= quality;
    } else if (r->def.every_update) {
        if (r->pending_ns != 0 && t_ns != r->pending_ns) {
            flush_pending(r);
        }
        r->pending_ns = t_ns;
    }
    r->last[ch] = v;
    r->lastq[ch] = quality;
}

void rec_tick(struct rec_engine *r, int64_t now_ns)
{
    if (r->def.interval_ns > 0 && r->end_ns != 0 && now_ns > r->end_ns) {
        advance_to(r, now_ns);
    }
    if (r->def.every_update && r->pending_ns != 0 && now_ns > r->pending_ns) {
        flush_pending(r);
    }
}

void rec_trigger(struct rec_engine *r, int64_t t_ns)
{
    if (r->def.duration_ns == 0 || (!r->def.every_update && r->def.interval_ns == 0)) {
        rec_snapshot(r, t_ns);
        return;
    }
    /* a trigger inside an open window extends it */
    if (r->win_to_ns == 0 || t_ns > r->win_to_ns) {
        r->win_from_ns = t_ns;
    }
    r->win_to_ns = t_ns + r->def.duration_ns;
    /* rows that went by before the trigger arrived, oldest first */
    for (unsigned i = 0; i < r->hist_n; i++) {
        struct rec_row *h =
            &r->hist[(r->hist_head + REC_HISTORY - r->hist_n + i) % REC_HISTORY];

        if (in_window(r, h->t_ns, 0)) {
            emit(r, h);
        }
    }
    r->hist_n = 0;
}

void rec_snapshot(struct rec_engine *r, int64_t t_ns)
{
    struct rec_row row;

    latest_row(r, t_ns, &row);
    emit(r, &row);
}

uint64_t rec_keep_from(const struct rec_engine *r)
{
    if (r->def.stop_when_full || r->seq <= r->def.depth) {
        return 0;
    }
    return r->seq - r->def.depth + 1;
}

static int day_matches(const struct cfg_schedule *s, int64_t day)
{
    struct pq_utc u;

    switch (s->kind) {
    case CFG_SCHED_WEEKLY:
        return (int) (((day + 4) % 7 + 7) % 7) == s->wday; /* 1970-01-01: Thursday */
    case CFG_SCHED_MONTHLY:
        pq_utc_from_ns(day * PQ_DAY_NS, &u);
        return (int) u.day == s->mday;
    default:
        return 1;
    }
}

int64_t rec_schedule_next(const struct cfg_schedule *s, int64_t t_ns,
                          const struct tzif *tz)
{
    int64_t t_s = pq_floor_div(t_ns, PQ_NS_PER_S);
    int64_t local_day = pq_floor_div(t_s + (tz ? tzif_offset(tz, t_s, NULL) : 0), 86400);

    /* candidate civil times from the day before (the zone may be behind)
     * over two months (a monthly schedule) */
    for (int64_t d = local_day - 1; d <= local_day + 62; d++) {
        int per_day = s->kind == CFG_SCHED_HOURLY ? 24 : 1;

        if (!day_matches(s, d)) {
            continue;
        }
        for (int h = 0; h < per_day; h++) {
            int minute = s->kind == CFG_SCHED_HOURLY ? h * 60 + s->minute : s->minute;
            int64_t local = d * 86400 + minute * 60;
            int64_t u = tz ? tzif_utc_from_local(tz, local) : local;

            if (u * PQ_NS_PER_S > t_ns) {
                return u * PQ_NS_PER_S;
            }
        }
    }
    return INT64_MAX;
}
