/* ieee519.c - IEEE 519-2014 / 519-2022 evaluation (spec/pq-reference.md §5).
 *
 * A series is one quantity of one phase: THD or an individual order of the
 * voltage, TDD or an individual order of the current.  For a nearest-rank
 * percentile of n values only the largest n - ceil(P n) + 1 matter, so each
 * series keeps its largest values in a bounded min-heap: KEEP_10MIN of the
 * week's 10-min values (enough for the 95th and the 99th of up to
 * PQ_IEEE519_MAX_10MIN values, which the slot map guarantees) and KEEP_3S of
 * the open day's 3-s values.  Closing a day reduces its heap to the day's
 * 99th percentile, compared at once with the limit; the highest daily value
 * is kept with its day.
 */
#include "pq/ieee519.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000LL
#define SLOT_10M (600 * NS_PER_S)

/* ceil(permille n / 1000), the nearest rank, 1-based */
#define RANK(n, pm) (((uint64_t) (pm) * (n) + 999) / 1000)
/* largest values a percentile of at most n values needs */
#define KEEP(n, pm) ((n) -RANK(n, pm) + 1)
#define KEEP_10MIN  ((int) KEEP(PQ_IEEE519_MAX_10MIN, 950))  /* 51 */
#define KEEP_3S     ((int) KEEP(PQ_IEEE519_MAX_3S_DAY, 990)) /* 321 */

#define P95 950
#define P99 990

/* Series of one phase: quantity q (0 voltage, 1 current) x index k (0: THD
 * or TDD, k >= 1: order h = k + 1). */
#define NK         PQ_IEEE519_MAX_H /* 50: THD/TDD and h = 2..50 */
#define SER_PER_PH (2 * NK)

/* Multipliers on the table values (reference §5; IEEE 519-2014 clause 5,
 * values (unverified)). */
#define MUL_DAY99_U  1.5
#define MUL_DAY99_I  2.0
#define MUL_WEEK99_I 1.5

struct series {
    uint32_t n10; /* valid 10-min values of the period */
    uint32_t n3;  /* valid 3-s values of the open day */
    int len10;    /* heap sizes */
    int len3;
    /* closed days */
    uint32_t n_days;
    uint32_t n_days_failed;
    double day_worst; /* highest daily 99th percentile; NaN before any */
    uint32_t day_worst_n;
    int day_worst_idx;
};

struct pq_ieee519 {
    struct pq_ieee519_cfg cfg; /* period_ns resolved */
    struct pq_ieee519_limits lim;
    int currents; /* currents are evaluated */
    int nser;
    int day;         /* open day of the 3-s values, -1 before the first */
    uint32_t day_n3; /* valid 3-s records of the open day */
    uint32_t n_10min, n_10min_invalid, n_10min_duplicate;
    uint32_t n_3s, n_3s_invalid, n_3s_late, n_3s_overflow, n_outside;
    uint8_t slot_seen[(PQ_IEEE519_MAX_10MIN + 7) / 8];
    struct series *ser; /* [nser] */
    double *top10;      /* [nser][KEEP_10MIN] min-heaps */
    double *top3;       /* [nser][KEEP_3S] */
};

/* ---- limits ---------------------------------------------------------------- */

/* Table 1, voltage distortion limits by bus voltage at the PCC [src:
 * CODE519, STUDENT519]; unchanged in 2022 [src: MBDRIVE]. */
static void table1(double bus_v, double *h_pct, double *thd_pct)
{
    static const struct {
        double upto_v;
        double h_pct;
        double thd_pct;
    } t1[] = {
        {1000.0, 5.0, 8.0},
        {69000.0, 3.0, 5.0},
        {161000.0, 1.5, 2.5},
        {INFINITY, 1.0, 1.5},
    };

    size_t i = 0;

    while (bus_v > t1[i].upto_v) {
        i++;
    }
    *h_pct = t1[i].h_pct;
    *thd_pct = t1[i].thd_pct;
}

/* Current distortion tables, % of IL: the odd-harmonic ranges 2..10 (the
 * table's 3 <= h < 11, even orders below 11 under the even rule), 11..16,
 * 17..22, 23..34, 35..50, then TDD.  A row applies from its Isc/IL
 * (inclusive) to the next row's. */
struct ctable {
    int nrows;
    double from[5];
    double v[5][6];
};

/* Table 2, 120 V .. 69 kV [src: CODE519, STUDENT519]. */
static const struct ctable table2 = {
    5,
    {0.0, 20.0, 50.0, 100.0, 1000.0},
    {
        {4.0, 2.0, 1.5, 0.6, 0.3, 5.0},
        {7.0, 3.5, 2.5, 1.0, 0.5, 8.0},
        {10.0, 4.5, 4.0, 1.5, 0.7, 12.0},
        {12.0, 5.5, 5.0, 2.0, 1.0, 15.0},
        {15.0, 7.0, 6.0, 2.5, 1.4, 20.0},
    },
};

/* Table 3, 69 .. 161 kV: the reference confirms only the first row (2.0,
 * 1.0, 0.75, 0.3, 0.15, TDD 2.5); the other rows, half of Table 2's, are
 * (unverified). */
static const struct ctable table3 = {
    5,
    {0.0, 20.0, 50.0, 100.0, 1000.0},
    {
        {2.0, 1.0, 0.75, 0.3, 0.15, 2.5},
        {3.5, 1.75, 1.25, 0.5, 0.25, 4.0},
        {5.0, 2.25, 2.0, 0.75, 0.35, 6.0},
        {6.0, 2.75, 2.5, 1.0, 0.5, 7.5},
        {7.5, 3.5, 3.0, 1.25, 0.7, 10.0},
    },
};

/* Table 4, above 161 kV, rows < 25, 25 < 50, >= 50: (unverified). */
static const struct ctable table4 = {
    3,
    {0.0, 25.0, 50.0},
    {
        {1.0, 0.5, 0.38, 0.15, 0.1, 1.5},
        {2.0, 1.0, 0.75, 0.3, 0.15, 2.5},
        {3.0, 1.5, 1.15, 0.45, 0.22, 3.75},
    },
};

static int range_of(int h)
{
    if (h < 11) {
        return 0;
    }
    if (h < 17) {
        return 1;
    }
    if (h < 23) {
        return 2;
    }
    return h < 35 ? 3 : 4;
}

/* Share of the odd limit an even order gets: 2014, 25 % [src: CODE519];
 * 2022, 50 % up to the 6th and 100 % above [src: 519-2022].  Applied to
 * Tables 3 and 4 the same way (unverified). */
static double even_share(int edition, int h)
{
    if (h % 2) {
        return 1.0;
    }
    if (edition == PQ_IEEE519_2014) {
        return 0.25;
    }
    return h <= 6 ? 0.5 : 1.0;
}

static int check_cfg(const struct pq_ieee519_cfg *cfg)
{
    if (cfg->edition != PQ_IEEE519_2014 && cfg->edition != PQ_IEEE519_2022) {
        return -EINVAL;
    }
    if (!(cfg->bus_v > 0.0 && cfg->bus_v < INFINITY)) {
        return -EINVAL;
    }
    if (!(cfg->il_a >= 0.0 && cfg->il_a < INFINITY)) {
        return -EINVAL;
    }
    if (!(cfg->isc_a >= 0.0 && cfg->isc_a < INFINITY)) {
        return -EINVAL;
    }
    if (cfg->il_a > 0.0 && !cfg->generation && !(cfg->isc_a > 0.0)) {
        return -EINVAL;
    }
    return 0;
}

int pq_ieee519_limits(const struct pq_ieee519_cfg *cfg, struct pq_ieee519_limits *out)
{
    const struct ctable *t;
    int rc = check_cfg(cfg);
    int row = 0;

    if (rc < 0) {
        return rc;
    }
    memset(out, 0, sizeof(*out));
    table1(cfg->bus_v, &out->u_h_pct, &out->u_thd_pct);
    out->table = 0;
    out->row = -1;
    out->isc_il = NAN;
    out->i_tdd_pct = NAN;
    for (int h = 0; h <= PQ_IEEE519_MAX_H; h++) {
        out->i_h_pct[h] = NAN;
    }
    if (cfg->il_a == 0.0) {
        return 0;
    }
    if (cfg->bus_v <= 69000.0) {
        t = &table2;
        out->table = 2;
    } else if (cfg->bus_v <= 161000.0) {
        t = &table3;
        out->table = 3;
    } else {
        t = &table4;
        out->table = 4;
    }
    if (cfg->isc_a > 0.0) {
        out->isc_il = cfg->isc_a / cfg->il_a;
    }
    /* Table 2 footnote: generation is held to the first row whatever its
     * Isc/IL (unverified). */
    if (!cfg->generation) {
        while (row + 1 < t->nrows && out->isc_il >= t->from[row + 1]) {
            row++;
        }
    }
    out->row = row;
    for (int h = 2; h <= PQ_IEEE519_MAX_H; h++) {
        out->i_h_pct[h] = t->v[row][range_of(h)] * even_share(cfg->edition, h);
    }
    out->i_tdd_pct = t->v[row][5];
    return 0;
}

/* ---- percentiles ----------------------------------------------------------- */

static int cmp_up(const void *a, const void *b)
{
    double x = *(const double *) a;
    double y = *(const double *) b;

    return (x > y) - (x < y);
}

double pq_ieee519_percentile(double *v, size_t n, int permille)
{
    if (n == 0 || permille < 1 || permille > 1000) {
        return NAN;
    }
    qsort(v, n, sizeof(*v), cmp_up);
    return v[RANK(n, permille) - 1];
}

/* Keep the cap largest values seen in the min-heap h[0..*len). */
static void keep_largest(double *h, int *len, int cap, double v)
{
    int i;

    if (*len < cap) {
        i = (*len)++;
        while (i > 0 && h[(i - 1) / 2] > v) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = v;
        return;
    }
    if (!(v > h[0])) {
        return;
    }
    i = 0;
    for (;;) {
        int c = 2 * i + 1;

        if (c >= *len) {
            break;
        }
        if (c + 1 < *len && h[c + 1] < h[c]) {
            c++;
        }
        if (!(h[c] < v)) {
            break;
        }
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

/* Nearest-rank percentile of n values of which the heap holds the len
 * largest: rank r from below is rank n - r + 1 from above. */
static double heap_percentile(const double *h, int len, uint32_t n, int permille)
{
    double tmp[KEEP_3S];
    uint64_t from_top;

    if (n == 0) {
        return NAN;
    }
    from_top = n - RANK(n, permille); /* 0-based, from the largest */
    assert(from_top < (uint64_t) len && len <= KEEP_3S);
    memcpy(tmp, h, (size_t) len * sizeof(*h));
    qsort(tmp, (size_t) len, sizeof(*tmp), cmp_up);
    return tmp[(uint64_t) len - 1 - from_top];
}

/* ---- set-up ---------------------------------------------------------------- */

int pq_ieee519_new(const struct pq_ieee519_cfg *cfg, struct pq_ieee519 **out)
{
    int64_t period = cfg->period_ns ? cfg->period_ns : PQ_IEEE519_WEEK_NS;
    struct pq_ieee519_limits lim;
    struct pq_ieee519 *acc;
    int rc = pq_ieee519_limits(cfg, &lim);
    int nser;

    if (rc < 0) {
        return rc;
    }
    if ((cfg->nph != 1 && cfg->nph != PQ_NPH) || period <= 0 ||
        period > PQ_IEEE519_WEEK_NS || cfg->start_ns > INT64_MAX - period) {
        return -EINVAL;
    }
    nser = cfg->nph * SER_PER_PH;
    /* one block: the struct, the series, then the heaps (all 8-aligned) */
    acc = calloc(1, sizeof(*acc) + (size_t) nser * sizeof(struct series) +
                        (size_t) nser * (KEEP_10MIN + KEEP_3S) * sizeof(double));
    if (!acc) {
        return -ENOMEM;
    }
    acc->cfg = *cfg;
    acc->cfg.period_ns = period;
    acc->lim = lim;
    acc->currents = cfg->il_a > 0.0;
    acc->nser = nser;
    acc->day = -1;
    acc->ser = (struct series *) (void *) (acc + 1);
    acc->top10 = (double *) (void *) (acc->ser + nser);
    acc->top3 = acc->top10 + (size_t) nser * KEEP_10MIN;
    for (int s = 0; s < nser; s++) {
        acc->ser[s].day_worst = NAN;
        acc->ser[s].day_worst_idx = -1;
    }
    *out = acc;
    return 0;
}

void pq_ieee519_free(struct pq_ieee519 *acc)
{
    free(acc);
}

/* ---- feeding --------------------------------------------------------------- */

static int ser_index(int ph, int q, int k)
{
    return (ph * 2 + q) * NK + k;
}

static double table_value(const struct pq_ieee519 *acc, int q, int k)
{
    if (q == 0) {
        return k == 0 ? acc->lim.u_thd_pct : acc->lim.u_h_pct;
    }
    return k == 0 ? acc->lim.i_tdd_pct : acc->lim.i_h_pct[k + 1];
}

/* The values of one phase of r: v[q][k] as the series define them. */
static void phase_values(const struct pq_ieee519 *acc, const struct pq_interval *r,
                         int ph, double v[2][NK])
{
    double su = 0.0;
    double si = 0.0;

    for (int h = 2; h <= PQ_IEEE519_MAX_H; h++) {
        double u = r->u_h_pct[ph][h - 1];
        double i = r->i_h_a[ph][h - 1];

        v[0][h - 1] = u;
        su += u * u;
        v[1][h - 1] = 100.0 * i / acc->cfg.il_a;
        si += i * i;
    }
    v[0][0] = sqrt(su);                         /* THD to the 50th */
    v[1][0] = 100.0 * sqrt(si) / acc->cfg.il_a; /* TDD, IEEE 519-2014 3.1 */
}

/* One value of series s into the weekly (daily 0) or the open day's heap. */
static void push_value(struct pq_ieee519 *acc, int s, double v, int daily)
{
    struct series *se = &acc->ser[s];

    if (!isfinite(v)) {
        return;
    }
    if (daily) {
        keep_largest(acc->top3 + (size_t) s * KEEP_3S, &se->len3, KEEP_3S, v);
        se->n3++;
    } else {
        keep_largest(acc->top10 + (size_t) s * KEEP_10MIN, &se->len10, KEEP_10MIN, v);
        se->n10++;
    }
}

/* Every series' value of r into its weekly (daily 0) or daily heap. */
static void push(struct pq_ieee519 *acc, const struct pq_interval *r, int daily)
{
    int nq = acc->currents ? 2 : 1;
    double v[2][NK];

    for (int ph = 0; ph < acc->cfg.nph; ph++) {
        phase_values(acc, r, ph, v);
        for (int q = 0; q < nq; q++) {
            for (int k = 0; k < NK; k++) {
                push_value(acc, ser_index(ph, q, k), v[q][k], daily);
            }
        }
    }
}

static double day_limit(const struct pq_ieee519 *acc, int q, int k)
{
    return table_value(acc, q, k) * (q == 0 ? MUL_DAY99_U : MUL_DAY99_I);
}

/* Reduce the open day of every series to its 99th percentile. */
static void close_day(struct pq_ieee519 *acc)
{
    for (int s = 0; s < acc->nser; s++) {
        struct series *se = &acc->ser[s];
        int q = (s / NK) % 2;
        double p;

        if (se->n3 == 0) {
            continue;
        }
        p = heap_percentile(acc->top3 + (size_t) s * KEEP_3S, se->len3, se->n3, P99);
        se->n_days++;
        se->n_days_failed += p > day_limit(acc, q, s % NK);
        if (isnan(se->day_worst) || p > se->day_worst) {
            se->day_worst = p;
            se->day_worst_n = se->n3;
            se->day_worst_idx = acc->day;
        }
        se->n3 = 0;
        se->len3 = 0;
    }
    acc->day_n3 = 0;
}

static int excluded(const struct pq_ieee519 *acc, unsigned flags)
{
    unsigned mask = PQ_REC_PARTIAL | (acc->cfg.keep_flagged ? 0u : PQ_REC_FLAGGED);

    return (flags & mask) != 0;
}

static void add_10min(struct pq_ieee519 *acc, const struct pq_interval *r, uint64_t off)
{
    uint64_t slot = off / SLOT_10M; /* < 1008: the period is at most a week */

    if (acc->slot_seen[slot / 8] & (1u << (slot % 8))) {
        acc->n_10min_duplicate++;
        return;
    }
    acc->slot_seen[slot / 8] |= (uint8_t) (1u << (slot % 8));
    if (excluded(acc, r->flags)) {
        acc->n_10min_invalid++;
        return;
    }
    acc->n_10min++;
    push(acc, r, 0);
}

static void add_3s(struct pq_ieee519 *acc, const struct pq_interval *r, uint64_t off)
{
    int day = (int) (off / PQ_IEEE519_DAY_NS);

    if (day < acc->day) {
        acc->n_3s_late++;
        return;
    }
    if (day > acc->day) {
        close_day(acc);
        acc->day = day;
    }
    if (excluded(acc, r->flags)) {
        acc->n_3s_invalid++;
        return;
    }
    if (acc->day_n3 >= PQ_IEEE519_MAX_3S_DAY) {
        acc->n_3s_overflow++;
        return;
    }
    acc->day_n3++;
    acc->n_3s++;
    push(acc, r, 1);
}

int pq_ieee519_add(struct pq_ieee519 *acc, const struct pq_interval *r)
{
    int64_t start = acc->cfg.start_ns;
    uint64_t off;

    if ((r->agg != PQ_AGG_10MIN && r->agg != PQ_AGG_3S) || r->nph < acc->cfg.nph) {
        return -EINVAL;
    }
    if (r->start_ns < start ||
        (uint64_t) r->start_ns - (uint64_t) start >= (uint64_t) acc->cfg.period_ns) {
        acc->n_outside++;
        return 0;
    }
    off = (uint64_t) r->start_ns - (uint64_t) start;
    if (r->agg == PQ_AGG_10MIN) {
        add_10min(acc, r, off);
    } else {
        add_3s(acc, r, off);
    }
    return 0;
}

/* ---- grading --------------------------------------------------------------- */

/* FAIL > NO_DATA > PASS > NOT_EVALUATED */
static int worse(int a, int b)
{
    static const int rank[] = {
        [PQ_IEEE519_NOT_EVALUATED] = 0,
        [PQ_IEEE519_PASS] = 1,
        [PQ_IEEE519_NO_DATA] = 2,
        [PQ_IEEE519_FAIL] = 3,
    };

    return rank[b] > rank[a] ? b : a;
}

static void stat_none(struct pq_ieee519_stat *st, double limit_pct)
{
    memset(st, 0, sizeof(*st));
    st->verdict = PQ_IEEE519_NOT_EVALUATED;
    st->limit_pct = limit_pct;
    st->value = NAN;
    st->worst_day = -1;
}

static void stat_judge(struct pq_ieee519_stat *st)
{
    if (isnan(st->value)) {
        st->verdict = PQ_IEEE519_NO_DATA;
    } else {
        st->verdict = st->value <= st->limit_pct ? PQ_IEEE519_PASS : PQ_IEEE519_FAIL;
    }
}

/* The day99 statistic: the closed days, then the open one. */
static void grade_days(const struct pq_ieee519 *acc, int s, struct pq_ieee519_stat *st)
{
    const struct series *se = &acc->ser[s];

    st->value = se->day_worst;
    st->n = se->day_worst_n;
    st->worst_day = se->day_worst_idx;
    st->n_days = se->n_days;
    st->n_days_failed = se->n_days_failed;
    if (se->n3 > 0) {
        double p =
            heap_percentile(acc->top3 + (size_t) s * KEEP_3S, se->len3, se->n3, P99);

        st->n_days++;
        st->n_days_failed += p > st->limit_pct;
        if (isnan(st->value) || p > st->value) {
            st->value = p;
            st->n = se->n3;
            st->worst_day = acc->day;
        }
    }
    stat_judge(st);
}

static void grade(const struct pq_ieee519 *acc, int ph, int q, int k,
                  struct pq_ieee519_check *c)
{
    double t = table_value(acc, q, k);
    int on = ph < acc->cfg.nph && (q == 0 || acc->currents);
    int s;

    c->table_pct = t;
    stat_none(&c->week95, t);
    stat_none(&c->week99, q == 1 ? MUL_WEEK99_I * t : NAN);
    stat_none(&c->day99, q == 0 ? MUL_DAY99_U * t : MUL_DAY99_I * t);
    c->verdict = PQ_IEEE519_NOT_EVALUATED;
    if (!on) {
        return;
    }
    s = ser_index(ph, q, k);
    c->week95.n = acc->ser[s].n10;
    c->week95.value = heap_percentile(acc->top10 + (size_t) s * KEEP_10MIN,
                                      acc->ser[s].len10, acc->ser[s].n10, P95);
    stat_judge(&c->week95);
    if (q == 1) {
        c->week99.n = acc->ser[s].n10;
        c->week99.value = heap_percentile(acc->top10 + (size_t) s * KEEP_10MIN,
                                          acc->ser[s].len10, acc->ser[s].n10, P99);
        stat_judge(&c->week99);
    }
    grade_days(acc, s, &c->day99);
    c->verdict = worse(worse(c->week95.verdict, c->week99.verdict), c->day99.verdict);
}

static void not_evaluated(struct pq_ieee519_check *c)
{
    c->table_pct = NAN;
    stat_none(&c->week95, NAN);
    stat_none(&c->week99, NAN);
    stat_none(&c->day99, NAN);
    c->verdict = PQ_IEEE519_NOT_EVALUATED;
}

/* Checks of one quantity (q) and phase; returns the phase's verdict. */
static int grade_phase(const struct pq_ieee519 *acc, int ph, int q,
                       struct pq_ieee519_check *total, struct pq_ieee519_check *orders)
{
    int v;

    grade(acc, ph, q, 0, total);
    v = total->verdict;
    not_evaluated(&orders[0]);
    not_evaluated(&orders[1]);
    for (int h = 2; h <= PQ_IEEE519_MAX_H; h++) {
        grade(acc, ph, q, h - 1, &orders[h]);
        v = worse(v, orders[h].verdict);
    }
    return v;
}

void pq_ieee519_result(const struct pq_ieee519 *acc, struct pq_ieee519_result *res)
{
    memset(res, 0, sizeof(*res));
    res->limits = acc->lim;
    res->u_verdict = PQ_IEEE519_NOT_EVALUATED;
    res->i_verdict = PQ_IEEE519_NOT_EVALUATED;
    for (int ph = 0; ph < PQ_NPH; ph++) {
        res->u_phase[ph] = grade_phase(acc, ph, 0, &res->u_thd[ph], res->u_h[ph]);
        res->i_phase[ph] = grade_phase(acc, ph, 1, &res->i_tdd[ph], res->i_h[ph]);
        res->u_verdict = worse(res->u_verdict, res->u_phase[ph]);
        res->i_verdict = worse(res->i_verdict, res->i_phase[ph]);
    }
    for (int h = 0; h <= PQ_IEEE519_MAX_H; h++) {
        res->u_order[h] = PQ_IEEE519_NOT_EVALUATED;
        res->i_order[h] = PQ_IEEE519_NOT_EVALUATED;
        for (int ph = 0; ph < PQ_NPH; ph++) {
            res->u_order[h] = worse(res->u_order[h], res->u_h[ph][h].verdict);
            res->i_order[h] = worse(res->i_order[h], res->i_h[ph][h].verdict);
        }
    }
    res->verdict = worse(res->u_verdict, res->i_verdict);
    res->n_10min = acc->n_10min;
    res->n_10min_invalid = acc->n_10min_invalid;
    res->n_10min_duplicate = acc->n_10min_duplicate;
    res->n_3s = acc->n_3s;
    res->n_3s_invalid = acc->n_3s_invalid;
    res->n_3s_late = acc->n_3s_late;
    res->n_3s_overflow = acc->n_3s_overflow;
    res->n_outside = acc->n_outside;
}
