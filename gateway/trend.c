/* trend.c - hourly/daily/weekly/monthly statistics and a seasonal forecast. */
#include "gateway/trend.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "pq/utc.h"

#define TREND_MAGIC 0x54524e44u /* "TRND" */
#define HOUR_NS     (3600LL * PQ_NS_PER_S)
#define WEEK_NS     (7 * PQ_DAY_NS)
#define MONDAY0_NS  (4 * PQ_DAY_NS) /* 1970-01-05, the first Monday */

/* Smoothing constants of the forecast (docs/recorders.md): the weight of
 * the newest week in the hour-of-week profile, of the newest day in the
 * hour-of-day fallback, of the newest error in the level, and the damping
 * of the level per step ahead. */
#define GAMMA_WEEK 0.5
#define GAMMA_DAY  0.3
#define BETA_LEVEL 0.5
#define PHI_DAMP   0.7

/* Key of the period (start, end] holding t_ns: a count of periods since the
 * epoch (hours, days, weeks since the first Monday) or year * 12 + month. */
static int64_t period_key(int p, int64_t t_ns)
{
    struct pq_utc u;

    switch (p) {
    case TREND_HOUR:
        return pq_floor_div(t_ns - 1, HOUR_NS);
    case TREND_DAY:
        return pq_floor_div(t_ns - 1, PQ_DAY_NS);
    case TREND_WEEK:
        return pq_floor_div(t_ns - 1 - MONDAY0_NS, WEEK_NS);
    default:
        pq_utc_from_ns(t_ns - 1, &u);
        return u.year * 12 + (int64_t) u.month - 1;
    }
}

static int64_t period_start(int p, int64_t key)
{
    switch (p) {
    case TREND_HOUR:
        return key * HOUR_NS;
    case TREND_DAY:
        return key * PQ_DAY_NS;
    case TREND_WEEK:
        return key * WEEK_NS + MONDAY0_NS;
    default:
        return pq_days_from_civil(pq_floor_div(key, 12),
                                  (unsigned) (key - pq_floor_div(key, 12) * 12 + 1), 1) *
               PQ_DAY_NS;
    }
}

static struct trend_stat *ring(struct trend *t, int p, uint32_t *size)
{
    static const uint32_t sizes[] = {TREND_HOURS, TREND_DAYS, TREND_WEEKS, TREND_MONTHS};
    struct trend_stat *const rings[] = {t->hour, t->day, t->week, t->month};

    *size = sizes[p];
    return rings[p];
}

void trend_init(struct trend *t)
{
    memset(t, 0, sizeof(*t));
    t->magic = TREND_MAGIC;
    t->size = (uint32_t) sizeof(*t);
    for (int p = 0; p < TREND_NPERIODS; p++) {
        t->key[p] = INT64_MIN;
    }
}

double trend_stat_sd(const struct trend_stat *s)
{
    return s->n > 0 ? sqrt(s->m2 / (double) s->n) : NAN;
}

/* Chan, Golub, LeVeque (1979): the pairwise update of mean and M2. */
void trend_stat_merge(struct trend_stat *a, const struct trend_stat *b)
{
    double n, d;

    if (b->n == 0) {
        return;
    }
    if (a->n == 0) {
        int64_t start = a->start_ns;

        *a = *b;
        a->start_ns = start;
        return;
    }
    n = (double) (a->n + b->n);
    d = b->mean - a->mean;
    a->mean += d * (double) b->n / n;
    a->m2 += b->m2 + d * d * (double) a->n * (double) b->n / n;
    a->min = fmin(a->min, b->min);
    a->max = fmax(a->max, b->max);
    a->n += b->n;
}

/* Welford (1962): one value into mean and M2. */
static void stat_add(struct trend_stat *s, double v)
{
    double d = v - s->mean;

    if (s->n == 0) {
        s->min = s->max = v;
    } else {
        s->min = fmin(s->min, v);
        s->max = fmax(s->max, v);
    }
    s->n++;
    s->mean += d / (double) s->n;
    s->m2 += d * (v - s->mean);
}

static void push(struct trend *t, int p, const struct trend_stat *s)
{
    uint32_t size;
    struct trend_stat *r = ring(t, p, &size);

    r[t->head[p]] = *s;
    t->head[p] = (t->head[p] + 1) % size;
    if (t->count[p] < size) {
        t->count[p]++;
    }
}

static void smooth(struct trend_profile *pr, const struct trend_stat *s, double gamma)
{
    if (pr->n == 0) {
        pr->avg = s->mean;
        pr->min = s->min;
        pr->max = s->max;
    } else {
        pr->avg += gamma * (s->mean - pr->avg);
        pr->min += gamma * (s->min - pr->min);
        pr->max += gamma * (s->max - pr->max);
    }
    pr->n++;
}

static int hour_of_week(int64_t start_ns)
{
    int64_t day = pq_floor_div(start_ns, PQ_DAY_NS);
    int dow = (int) (((day + 3) % 7 + 7) % 7); /* 0 = Monday */
    int hour = (int) ((start_ns - day * PQ_DAY_NS) / HOUR_NS);

    return dow * 24 + hour;
}

/* The seasonal part of an hour starting at start_ns: the same hour of the
 * week, else the same hour of the day, else the last hour. */
static int hour_base(const struct trend *t, int64_t start_ns, double out[3])
{
    int slot = hour_of_week(start_ns);
    const struct trend_profile *pr = &t->by_hour_of_week[slot];

    if (pr->n == 0) {
        pr = &t->by_hour_of_day[slot % 24];
    }
    if (pr->n > 0) {
        out[0] = pr->avg;
        out[1] = pr->min;
        out[2] = pr->max;
        return 1;
    }
    if (t->last_hour.n > 0) {
        out[0] = t->last_hour.mean;
        out[1] = t->last_hour.min;
        out[2] = t->last_hour.max;
        return 1;
    }
    return 0;
}

static int day_base(const struct trend *t, int64_t start_ns, double out[3])
{
    int dow = hour_of_week(start_ns) / 24;
    const struct trend_profile *pr = &t->by_day_of_week[dow];

    if (pr->n > 0) {
        out[0] = pr->avg;
        out[1] = pr->min;
        out[2] = pr->max;
        return 1;
    }
    if (t->last_day.n > 0) {
        out[0] = t->last_day.mean;
        out[1] = t->last_day.min;
        out[2] = t->last_day.max;
        return 1;
    }
    return 0;
}

static void learn(double level[3], const double base[3], const struct trend_stat *s)
{
    const double actual[3] = {s->mean, s->min, s->max};

    for (int i = 0; i < 3; i++) {
        level[i] += BETA_LEVEL * ((actual[i] - base[i]) - level[i]);
    }
}

static void close_hour(struct trend *t)
{
    struct trend_stat *s = &t->cur[TREND_HOUR];
    double base[3];
    int slot;

    if (s->n == 0) {
        return;
    }
    push(t, TREND_HOUR, s);
    trend_stat_merge(&t->cur[TREND_DAY], s);
    if (hour_base(t, s->start_ns, base)) {
        learn(t->level_h, base, s);
    }
    slot = hour_of_week(s->start_ns);
    smooth(&t->by_hour_of_week[slot], s, GAMMA_WEEK);
    smooth(&t->by_hour_of_day[slot % 24], s, GAMMA_DAY);
    t->last_hour = *s;
}

static void close_day(struct trend *t)
{
    struct trend_stat *s = &t->cur[TREND_DAY];
    double base[3];

    if (s->n == 0) {
        return;
    }
    push(t, TREND_DAY, s);
    trend_stat_merge(&t->cur[TREND_WEEK], s);
    trend_stat_merge(&t->cur[TREND_MONTH], s);
    if (day_base(t, s->start_ns, base)) {
        learn(t->level_d, base, s);
    }
    smooth(&t->by_day_of_week[hour_of_week(s->start_ns) / 24], s, GAMMA_WEEK);
    t->last_day = *s;
}

/* Complete every period in progress that t_ns lies past; start new ones. */
static int advance(struct trend *t, int64_t t_ns)
{
    int mask = 0;

    for (int p = 0; p < TREND_NPERIODS; p++) {
        int64_t k = period_key(p, t_ns);

        if (t->key[p] == INT64_MIN) {
            t->key[p] = k;
            memset(&t->cur[p], 0, sizeof(t->cur[p]));
            t->cur[p].start_ns = period_start(p, k);
            continue;
        }
        if (k <= t->key[p]) {
            continue;
        }
        /* hours close before days, days before weeks and months: each
         * merges into the next before that one closes */
        if (p == TREND_HOUR) {
            close_hour(t);
        } else if (p == TREND_DAY) {
            close_day(t);
        } else if (t->cur[p].n > 0) {
            push(t, p, &t->cur[p]);
        }
        if (t->cur[p].n > 0) {
            mask |= 1 << p;
        }
        t->key[p] = k;
        memset(&t->cur[p], 0, sizeof(t->cur[p]));
        t->cur[p].start_ns = period_start(p, k);
    }
    return mask;
}

int trend_add(struct trend *t, double v, int64_t t_ns)
{
    int mask;

    if (!isfinite(v)) { /* one infinity would make every later sum NaN */
        return 0;
    }
    if (t->key[TREND_HOUR] != INT64_MIN &&
        period_key(TREND_HOUR, t_ns) < t->key[TREND_HOUR]) {
        return -1;
    }
    mask = advance(t, t_ns);
    stat_add(&t->cur[TREND_HOUR], v);
    return mask;
}

int trend_tick(struct trend *t, int64_t now_ns)
{
    if (t->key[TREND_HOUR] == INT64_MIN) {
        return 0;
    }
    return advance(t, now_ns);
}

size_t trend_history(const struct trend *t, int p, struct trend_stat *out, size_t cap)
{
    uint32_t size;
    const struct trend_stat *r = ring((struct trend *) t, p, &size);
    size_t n = t->count[p] < cap ? t->count[p] : cap;
    uint32_t first = (t->head[p] + size - t->count[p]) % size;

    for (size_t i = 0; i < n; i++) {
        out[i] = r[(first + i) % size];
    }
    return n;
}

static void forecast(const double base[3], const double level[3], int k,
                     struct trend_forecast *f)
{
    double damp = pow(PHI_DAMP, k);

    f->avg = base[0] + level[0] * damp;
    f->min = base[1] + level[1] * damp;
    f->max = base[2] + level[2] * damp;
    if (f->min > f->avg) {
        f->min = f->avg;
    }
    if (f->max < f->avg) {
        f->max = f->avg;
    }
}

void trend_forecast_hours(const struct trend *t, struct trend_forecast out[TREND_AHEAD])
{
    for (int k = 0; k < TREND_AHEAD; k++) {
        double base[3];

        out[k].start_ns = t->key[TREND_HOUR] == INT64_MIN
                              ? 0
                              : period_start(TREND_HOUR, t->key[TREND_HOUR] + k);
        if (t->key[TREND_HOUR] == INT64_MIN || !hour_base(t, out[k].start_ns, base)) {
            out[k].avg = out[k].min = out[k].max = NAN;
            continue;
        }
        forecast(base, t->level_h, k + 1, &out[k]);
    }
}

void trend_forecast_days(const struct trend *t, struct trend_forecast out[TREND_AHEAD])
{
    for (int k = 0; k < TREND_AHEAD; k++) {
        double base[3];

        out[k].start_ns = t->key[TREND_DAY] == INT64_MIN
                              ? 0
                              : period_start(TREND_DAY, t->key[TREND_DAY] + k);
        if (t->key[TREND_DAY] == INT64_MIN || !day_base(t, out[k].start_ns, base)) {
            out[k].avg = out[k].min = out[k].max = NAN;
            continue;
        }
        forecast(base, t->level_d, k + 1, &out[k]);
    }
}

const void *trend_bytes(const struct trend *t, size_t *len)
{
    *len = sizeof(*t);
    return t;
}

int trend_load(struct trend *t, const void *buf, size_t len)
{
    struct trend tmp;

    if (len != sizeof(tmp)) {
        return -EINVAL;
    }
    memcpy(&tmp, buf, len);
    if (tmp.magic != TREND_MAGIC || tmp.size != sizeof(tmp)) {
        return -EINVAL;
    }
    for (int p = 0; p < TREND_NPERIODS; p++) {
        uint32_t size;

        (void) ring(&tmp, p, &size);
        if (tmp.count[p] > size || tmp.head[p] >= size) {
            return -EINVAL;
        }
    }
    *t = tmp;
    return 0;
}
