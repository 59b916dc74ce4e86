/* trend.h - trend statistics and forecast of one channel.
 *
 * Pure: no I/O, no clock, no allocation; time stamps are passed in.  Values
 * are folded into the statistics (count, mean, min, max, standard deviation)
 * of the hour, day, week and month in progress; each completed period goes
 * into a ring of the last 24 hours, 31 days, 8 weeks and 12 months.  Hours
 * merge into days, days into weeks and months (Chan, Golub and LeVeque's
 * pairwise update of Welford's sums), so every value is read once.
 *
 * Periods are UTC: hours and days start on the hour and at 00:00 UTC,
 * weeks on Monday 00:00 UTC (ISO 8601), months on the 1st.  A value belongs
 * to the period (start, end] of its time stamp, because bus time stamps mark
 * the end of the measurement (a 200 ms value stamped 10:00:00.000 belongs to
 * the hour 09:00-10:00).  Periods without any value are not stored: each
 * stored period carries its start.
 *
 * Forecast (docs/recorders.md has the method and its measured error):
 * seasonal profiles per hour of the week and per day of the week, updated by
 * exponential smoothing when a period completes, plus a damped level
 * correction from the latest errors (an additive Holt-Winters model with
 * fixed constants).  Average, minimum and maximum are forecast separately.
 *
 * The state is one plain struct: trend_save()/trend_load() copy it to and
 * from a byte buffer (same machine) so it survives restarts.
 */
#ifndef PQGATE_TREND_H
#define PQGATE_TREND_H

#include <stddef.h>
#include <stdint.h>

#define TREND_HOURS     24
#define TREND_DAYS      31
#define TREND_WEEKS     8
#define TREND_MONTHS    12
#define TREND_AHEAD     4 /* forecast horizon: 4 hours and 4 days */
#define TREND_WEEK_SLOT (7 * 24)

enum trend_period {
    TREND_HOUR,
    TREND_DAY,
    TREND_WEEK,
    TREND_MONTH,
    TREND_NPERIODS,
};

/* Statistics of one period.  sd is the population standard deviation of
 * the values (n in the denominator). */
struct trend_stat {
    int64_t start_ns; /* UTC start of the period */
    uint64_t n;
    double mean, m2, min, max;
};

/* Smoothed seasonal profile of avg, min and max, and the damped level. */
struct trend_profile {
    double avg, min, max;
    uint32_t n; /* periods seen */
};

struct trend {
    uint32_t magic, size;                  /* for trend_load() */
    int64_t key[TREND_NPERIODS];           /* period in progress, -1: none yet */
    struct trend_stat cur[TREND_NPERIODS]; /* in progress */
    struct trend_stat hour[TREND_HOURS], day[TREND_DAYS], week[TREND_WEEKS],
        month[TREND_MONTHS];
    uint32_t count[TREND_NPERIODS]; /* completed periods stored (<= ring size) */
    uint32_t head[TREND_NPERIODS];  /* next ring slot */
    struct trend_profile by_hour_of_week[TREND_WEEK_SLOT];
    struct trend_profile by_hour_of_day[24];
    struct trend_profile by_day_of_week[7];
    double level_h[3], level_d[3]; /* error correction: avg, min, max */
    struct trend_stat last_hour, last_day;
};

struct trend_forecast {
    int64_t start_ns;     /* UTC start of the forecast period */
    double avg, min, max; /* NaN when there is no history at all */
};

void trend_init(struct trend *t);

/* Fold in value v stamped t_ns (NaN and infinities are ignored).  Values must come in
 * time order; an older value than the period in progress is dropped (returns -1). Returns
 * a bit mask of the periods completed by this call (1 << enum trend_period), so the
 * caller can publish and persist. */
int trend_add(struct trend *t, double v, int64_t t_ns);

/* Complete the periods that ended at or before now_ns without a newer value
 * (a timer calls it); returns the same mask as trend_add(). */
int trend_tick(struct trend *t, int64_t now_ns);

/* Completed periods of kind p, oldest first, into out[0..cap); returns the
 * count copied. */
size_t trend_history(const struct trend *t, int p, struct trend_stat *out, size_t cap);

double trend_stat_sd(const struct trend_stat *s);

/* Fold b into a (both describe disjoint sets of values). */
void trend_stat_merge(struct trend_stat *a, const struct trend_stat *b);

/* The next TREND_AHEAD hours (from the hour in progress on) and days. */
void trend_forecast_hours(const struct trend *t, struct trend_forecast out[TREND_AHEAD]);
void trend_forecast_days(const struct trend *t, struct trend_forecast out[TREND_AHEAD]);

/* The state as bytes, and back: trend_load() returns 0 or -EINVAL for a
 * buffer that is not a saved state of this build. */
const void *trend_bytes(const struct trend *t, size_t *len);
int trend_load(struct trend *t, const void *buf, size_t len);

#endif
