/* tou.h - time of use: which tariff is in force at a UTC instant.
 *
 * Pure calendar logic: no I/O, no clock, no allocation.  A calendar holds up
 * to 6 seasons (ranges of month-day in civil time, which may wrap the year),
 * three day types (weekday Monday..Friday, weekend Saturday and Sunday,
 * holiday from a list of civil dates, which wins over the other two) and per
 * season and day type up to 8 periods of civil time, each naming a tariff
 * index.  Civil time comes from a tz database zone (gateway/tzif.h), so a
 * day of 23 or 25 hours at a daylight-saving change is simply a day with one
 * hour fewer or more of whichever tariff covers the skipped or repeated
 * hour.  Instants are UTC ns throughout.
 *
 * Minutes not covered by any period fall to default_tariff; with none
 * (-1) they have no tariff (tou_at() returns -1).  The config loader
 * refuses such gaps unless a default tariff is set (docs/tou.md).
 */
#ifndef PQGATE_TOU_H
#define PQGATE_TOU_H

#include <stddef.h>
#include <stdint.h>

#define TOU_MAX_SEASONS  6
#define TOU_MAX_PERIODS  8  /* per season and day type */
#define TOU_MAX_TARIFFS  32 /* distinct tariff names over the whole calendar */
#define TOU_MAX_HOLIDAYS 256
#define TOU_DAY_MIN      1440
#define TOU_SPLIT_MAX_NS (31LL * 86400 * 1000000000LL) /* longest tou_split() span */

struct tzif;

enum tou_day_type {
    TOU_WEEKDAY,
    TOU_WEEKEND,
    TOU_HOLIDAY,
    TOU_NDAYTYPES,
};

/* Civil minutes [from_min, to_min) of a day; to_min <= from_min wraps past
 * midnight (22:00-06:00); 0-1440 is the whole day. */
struct tou_period {
    int tariff;
    int from_min, to_min;
};

struct tou_season {
    int from_md, to_md; /* month * 100 + day, inclusive; from > to wraps the year */
    int np[TOU_NDAYTYPES];
    struct tou_period p[TOU_NDAYTYPES][TOU_MAX_PERIODS];
};

struct tou_calendar {
    const struct tzif *tz; /* borrowed; must outlive the calendar */
    int nseasons;
    struct tou_season season[TOU_MAX_SEASONS];
    size_t nholidays;
    int64_t holiday[TOU_MAX_HOLIDAYS]; /* civil days since 1970-01-01, ascending */
    int ntariffs;
    int default_tariff; /* for uncovered minutes; -1: none */
};

/* What the calendar says about one instant. */
struct tou_now {
    int64_t local_day; /* civil days since 1970-01-01 */
    int minute;        /* civil minute of the day, 0..1439 */
    int wday;          /* 0 = Sunday */
    int season;        /* index, -1: none covers the date */
    int day_type;      /* enum tou_day_type */
    int tariff;        /* index, -1: none */
    int32_t utoff_s;   /* UTC offset in force */
};

/* The tariff in force at t_ns (>= 0) or -1; out (when not NULL) gets the
 * details. */
int tou_at(const struct tou_calendar *c, int64_t t_ns, struct tou_now *out);

/* Split the span [t0_ns, t1_ns) by tariff: frac[k] (k < c->ntariffs) gets
 * the fraction of the span spent in tariff k (the rest, if any, had no
 * tariff).  Tariffs change on civil minute boundaries, which are UTC minute
 * boundaries in every zone in use since 1972, so the split is exact.
 * Returns 0; -EINVAL when t1_ns < t0_ns or the span is longer than
 * TOU_SPLIT_MAX_NS (frac untouched). */
int tou_split(const struct tou_calendar *c, int64_t t0_ns, int64_t t1_ns, double *frac);

/* An energy register split by tariff: fed the readings of a cumulative
 * counter (kWh), it adds each increase to the tariffs in force between the
 * two readings, pro rata to time (exact at a constant load).  The first
 * reading only primes it; a decrease (counter reset, meter replaced)
 * re-primes without counting; a gap longer than TOU_SPLIT_MAX_NS goes to the
 * tariff in force at the new reading. */
struct tou_register {
    int primed;
    double last;     /* last reading */
    int64_t last_ns; /* its time */
    double per_tariff[TOU_MAX_TARIFFS];
};

void tou_register_update(struct tou_register *r, const struct tou_calendar *c,
                         double value, int64_t t_ns);

/* Maximum demand per tariff: a demand value for the interval ending at
 * t_ns belongs to the tariff in force at its last instant (t_ns - 1 ns).
 * max[k] is NaN until the first value of tariff k. */
struct tou_demand {
    double max[TOU_MAX_TARIFFS];
    int64_t t_max_ns[TOU_MAX_TARIFFS];
};

void tou_demand_init(struct tou_demand *d);
void tou_demand_update(struct tou_demand *d, const struct tou_calendar *c, double value,
                       int64_t t_ns);

/* Sort the holiday list (the calendar may be filled in any order). */
void tou_sort_holidays(struct tou_calendar *c);

/* The daemon component "tou" (toucomp.c): the tariff channel and the
 * per-tariff energy and demand registers (docs/tou.md). */
struct gw_component;
extern const struct gw_component tou_component;

#endif
