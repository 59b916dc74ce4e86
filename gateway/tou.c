/* tou.c - time-of-use calendar: season, day type and tariff of an instant. */
#include "gateway/tou.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/tzif.h"
#include "pq/utc.h"

#define MIN_NS (60LL * PQ_NS_PER_S)

static int in_season(const struct tou_season *s, int md)
{
    if (s->from_md <= s->to_md) {
        return md >= s->from_md && md <= s->to_md;
    }
    return md >= s->from_md || md <= s->to_md; /* wraps the new year */
}

static int is_holiday(const struct tou_calendar *c, int64_t day)
{
    size_t lo = 0, hi = c->nholidays;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->holiday[mid] == day) {
            return 1;
        }
        if (c->holiday[mid] < day) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

static int in_period(const struct tou_period *p, int minute)
{
    if (p->from_min < p->to_min) {
        return minute >= p->from_min && minute < p->to_min;
    }
    return minute >= p->from_min || minute < p->to_min; /* wraps midnight */
}

int tou_at(const struct tou_calendar *c, int64_t t_ns, struct tou_now *out)
{
    struct tou_now now;
    struct pq_utc u;
    int64_t t_s = pq_floor_div(t_ns, PQ_NS_PER_S);
    int64_t local_s;

    now.utoff_s = tzif_offset(c->tz, t_s, NULL);
    local_s = t_s + now.utoff_s;
    now.local_day = pq_floor_div(local_s, 86400);
    now.minute = (int) ((local_s - now.local_day * 86400) / 60);
    now.wday = (int) (((now.local_day + 4) % 7 + 7) % 7); /* 1970-01-01: Thursday */
    pq_utc_from_ns(now.local_day * PQ_DAY_NS, &u);
    if (is_holiday(c, now.local_day)) {
        now.day_type = TOU_HOLIDAY;
    } else if (now.wday == 0 || now.wday == 6) {
        now.day_type = TOU_WEEKEND;
    } else {
        now.day_type = TOU_WEEKDAY;
    }
    now.season = -1;
    now.tariff = c->default_tariff;
    for (int i = 0; i < c->nseasons; i++) {
        if (in_season(&c->season[i], (int) (u.month * 100 + u.day))) {
            const struct tou_season *s = &c->season[i];

            now.season = i;
            for (int k = 0; k < s->np[now.day_type]; k++) {
                if (in_period(&s->p[now.day_type][k], now.minute)) {
                    now.tariff = s->p[now.day_type][k].tariff;
                    break;
                }
            }
            break;
        }
    }
    if (out) {
        *out = now;
    }
    return now.tariff;
}

int tou_split(const struct tou_calendar *c, int64_t t0_ns, int64_t t1_ns, double *frac)
{
    int64_t span = t1_ns - t0_ns;
    int64_t a = t0_ns;
    int64_t ns[TOU_MAX_TARIFFS];

    if (span < 0 || span > TOU_SPLIT_MAX_NS || c->ntariffs > TOU_MAX_TARIFFS) {
        return -EINVAL;
    }
    memset(ns, 0, sizeof(ns));
    while (a < t1_ns) {
        int64_t b = (pq_floor_div(a, MIN_NS) + 1) * MIN_NS;
        int k;

        if (b > t1_ns) {
            b = t1_ns;
        }
        k = tou_at(c, a, NULL);
        if (k >= 0 && k < c->ntariffs) {
            ns[k] += b - a;
        }
        a = b;
    }
    for (int k = 0; k < c->ntariffs; k++) {
        frac[k] = span > 0 ? (double) ns[k] / (double) span : 0.0;
    }
    return 0;
}

static int cmp_day(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

void tou_sort_holidays(struct tou_calendar *c)
{
    qsort(c->holiday, c->nholidays, sizeof(c->holiday[0]), cmp_day);
}

void tou_register_update(struct tou_register *r, const struct tou_calendar *c,
                         double value, int64_t t_ns)
{
    double frac[TOU_MAX_TARIFFS];
    double delta = value - r->last;

    if (!isfinite(value)) { /* an infinity would stay in the register for good */
        return;
    }
    if (!r->primed || delta < 0 || t_ns < r->last_ns) {
        r->primed = 1;
        r->last = value;
        r->last_ns = t_ns;
        return;
    }
    if (tou_split(c, r->last_ns, t_ns, frac) == 0 && t_ns > r->last_ns) {
        for (int k = 0; k < c->ntariffs; k++) {
            r->per_tariff[k] += delta * frac[k];
        }
    } else {
        int k = tou_at(c, t_ns, NULL);

        if (k >= 0 && k < c->ntariffs) {
            r->per_tariff[k] += delta;
        }
    }
    r->last = value;
    r->last_ns = t_ns;
}

void tou_demand_init(struct tou_demand *d)
{
    for (int k = 0; k < TOU_MAX_TARIFFS; k++) {
        d->max[k] = NAN;
        d->t_max_ns[k] = 0;
    }
}

void tou_demand_update(struct tou_demand *d, const struct tou_calendar *c, double value,
                       int64_t t_ns)
{
    int k = tou_at(c, t_ns - 1, NULL);

    if (k < 0 || k >= c->ntariffs || !isfinite(value)) {
        return;
    }
    if (isnan(d->max[k]) || value > d->max[k]) {
        d->max[k] = value;
        d->t_max_ns[k] = t_ns;
    }
}
