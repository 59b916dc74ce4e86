/* en50160.c - EN 50160:2010 weekly evaluation (spec/pq-reference.md §4).
 *
 * Every parameter keeps counters (valid, invalid, outside the share band,
 * outside the 100 % band) and its extremes; the verdicts are made from
 * them when a result is asked for, so feeding order does not matter and
 * memory does not grow with the period.  Mains signalling also counts per
 * day of the period, for its daily rule.
 *
 * Limits are computed once at init as ref * (100 + p) / 100: with integral
 * percentages and the usual references (230 V, 50 Hz) every band edge is
 * then the exact decimal number (230 * 85 / 100 = 195.5), so values on an
 * edge compare as the standard intends.
 */
#include "pq/en50160.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define NS_PER_S 1000000000LL
#define SLOT_10S (10 * NS_PER_S)
#define SLOT_10M (600 * NS_PER_S)
#define SLOT_2H  (7200 * NS_PER_S)

/* EN 50160:2010 individual harmonic voltages, % of U1 (reference §4.2):
 * the LV and the MV tables share these values.  For MV the 3rd may be
 * lower depending on the network design; the standard gives no number. */
static const double harmonic_limit_pct[PQ_EN50160_MAX_H + 1] = {
    [2] = 2.0,  [3] = 5.0,  [4] = 1.0,  [5] = 6.0,  [6] = 0.5,  [7] = 5.0,
    [8] = 0.5,  [9] = 1.5,  [10] = 0.5, [11] = 3.5, [12] = 0.5, [13] = 3.0,
    [14] = 0.5, [15] = 0.5, [16] = 0.5, [17] = 2.0, [18] = 0.5, [19] = 1.5,
    [20] = 0.5, [21] = 0.5, [22] = 0.5, [23] = 1.5, [24] = 0.5, [25] = 1.5,
};

double pq_en50160_harmonic_limit_pct(int h)
{
    if (h < 2 || h > PQ_EN50160_MAX_H) {
        return NAN;
    }
    return harmonic_limit_pct[h];
}

/* EN 50160:2010 mains signalling curve, reference §4.1: 9 % up to
 * 500 Hz, 5 % from 1 kHz to 10 kHz (both unverified).  The fall between
 * 500 Hz and 1 kHz is taken as a straight line on the standard's log-log
 * axes (unverified).  The curve above 10 kHz is not in the reference. */
double pq_en50160_msv_limit_pct(double f_hz)
{
    if (!(f_hz > 0.0 && f_hz <= 10000.0)) {
        return NAN;
    }
    if (f_hz <= 500.0) {
        return 9.0;
    }
    if (f_hz >= 1000.0) {
        return 5.0;
    }
    return 9.0 * pow(f_hz / 500.0, log(5.0 / 9.0) / log(2.0));
}

/* Reference §4.4, EN 50160:2010 dip table as printed: residual rows
 * 90 > u >= 80, 80 > u >= 70, 70 > u >= 40, 40 > u >= 5, 5 > u; duration
 * columns 0.01 <= t <= 0.2, then 0.2 < t <= 0.5, 0.5 < t <= 1, 1 < t <= 5,
 * 5 < t <= 60.  Same cells, edges and NaN handling as the events module's
 * pq_en50160_dip_cell() (pq/curves.c), which names them "A1".."X5". */
int pq_en50160_dip_index(double residual_pct, double duration_s, int *row, int *col)
{
    static const double row_lo[] = {80.0, 70.0, 40.0, 5.0};
    static const double col_hi[] = {0.2, 0.5, 1.0, 5.0, 60.0};
    int r;
    int c;

    if (!(residual_pct < 90.0)) { /* also NaN */
        return -ERANGE;
    }
    if (!(duration_s >= 0.01 && duration_s <= 60.0)) {
        return -ERANGE;
    }
    for (r = 0; r < 4 && !(residual_pct >= row_lo[r]); r++) {
    }
    for (c = 0; duration_s > col_hi[c]; c++) {
    }
    *row = r;
    *col = c;
    return 0;
}

/* Reference §4.4, EN 50160:2010 swell table as printed: rows u >= 120
 * and 120 > u > 110; columns 0.01 <= t <= 0.5, 0.5 < t <= 5, 5 < t <= 60,
 * and PM8000's extra t > 60 s.  As pq_en50160_swell_cell() (pq/curves.c). */
int pq_en50160_swell_index(double max_pct, double duration_s, int *row, int *col)
{
    if (!(max_pct > 110.0) || !(duration_s >= 0.01)) { /* also NaN */
        return -ERANGE;
    }
    *row = max_pct >= 120.0 ? 0 : 1;
    if (duration_s <= 0.5) {
        *col = 0;
    } else if (duration_s <= 5.0) {
        *col = 1;
    } else if (duration_s <= 60.0) {
        *col = 2;
    } else {
        *col = 3;
    }
    return 0;
}

/* ---- limits ---------------------------------------------------------------- */

static double at_pct(double ref, double pct)
{
    return ref * (100.0 + pct) / 100.0;
}

static struct pq_en50160_band band(int permille_out, double lo, double hi, double lo100,
                                   double hi100)
{
    struct pq_en50160_band b = {permille_out, lo, hi, lo100, hi100};

    return b;
}

static void set_limits(struct pq_en50160 *acc)
{
    const struct pq_en50160_cfg *c = &acc->cfg;
    double f = c->f_nom_hz;
    double u = c->u_ref_v;

    if (c->system == PQ_EN50160_SYNCHRONOUS) {
        /* Reference §4.1, §4.3: 50 Hz +-1 % during 99.5 % of a year,
         * +4 %/-6 % during 100 % of the time. */
        acc->b_freq = band(5, at_pct(f, -1), at_pct(f, 1), at_pct(f, -6), at_pct(f, 4));
    } else {
        /* island: +-2 % during 95 % of a week, +-15 % during 100 %. */
        acc->b_freq =
            band(50, at_pct(f, -2), at_pct(f, 2), at_pct(f, -15), at_pct(f, 15));
    }
    if (c->network == PQ_EN50160_LV) {
        /* Reference §4.1, §4.3 (LV): 95 % of the 10-min values of each week
         * within Un +-10 %; all of them within Un +10 %/-15 %. */
        acc->b_voltage =
            band(50, at_pct(u, -10), at_pct(u, 10), at_pct(u, -15), at_pct(u, 10));
    } else {
        /* Reference §4.1 (MV): 99 % within Uc +-10 %, all within +-15 %. */
        acc->b_voltage =
            band(10, at_pct(u, -10), at_pct(u, 10), at_pct(u, -15), at_pct(u, 15));
    }
    /* Reference §4.1, §4.3: Plt <= 1 for 95 % of the time. */
    acc->b_flicker = band(50, NAN, 1.0, NAN, NAN);
    /* Reference §4.1, §4.3: 95 % of the 10-min values of u2 within 0..2 %. */
    acc->b_unbalance = band(50, NAN, c->unb_limit_pct, NAN, NAN);
    /* Reference §4.1, §4.3: THD up to the 40th <= 8 %, 95 % of the time. */
    acc->b_thd = band(50, NAN, 8.0, NAN, NAN);
    for (int h = 0; h <= PQ_EN50160_MAX_H; h++) {
        /* Reference §4.2: 95 % of the 10-min values of each individual
         * harmonic <= its table value. */
        acc->b_harmonic[h] = band(50, NAN, pq_en50160_harmonic_limit_pct(h), NAN, NAN);
    }
    /* Reference §4.1, §4.3: 99 % of a day the 3-s mean below the curve. */
    acc->b_msv = band(10, NAN, pq_en50160_msv_limit_pct(c->msv_hz), NAN, NAN);
}

int pq_en50160_init(struct pq_en50160 *acc, const struct pq_en50160_cfg *cfg)
{
    int64_t period = cfg->period_ns ? cfg->period_ns : PQ_EN50160_WEEK_NS;
    double unb = cfg->unb_limit_pct != 0.0 ? cfg->unb_limit_pct : 2.0;

    if ((cfg->network != PQ_EN50160_LV && cfg->network != PQ_EN50160_MV) ||
        (cfg->system != PQ_EN50160_SYNCHRONOUS && cfg->system != PQ_EN50160_ISLAND)) {
        return -EINVAL;
    }
    if (!(cfg->f_nom_hz > 0.0 && cfg->f_nom_hz < INFINITY) ||
        !(cfg->u_ref_v > 0.0 && cfg->u_ref_v < INFINITY)) {
        return -EINVAL;
    }
    if ((cfg->nph != 1 && cfg->nph != PQ_NPH) || (cfg->u_line_to_line && cfg->nph == 1)) {
        return -EINVAL;
    }
    if (cfg->msv_hz != 0.0 && isnan(pq_en50160_msv_limit_pct(cfg->msv_hz))) {
        return -EINVAL;
    }
    if (!(unb > 0.0 && unb <= 100.0)) {
        return -EINVAL;
    }
    if (period <= 0 || period > PQ_EN50160_MAX_DAYS * PQ_EN50160_DAY_NS ||
        cfg->start_ns > INT64_MAX - period) {
        return -EINVAL;
    }

    memset(acc, 0, sizeof(*acc));
    acc->cfg = *cfg;
    acc->cfg.period_ns = period;
    acc->cfg.unb_limit_pct = unb;
    set_limits(acc);
    return 0;
}

/* ---- feeding --------------------------------------------------------------- */

static int in_period(const struct pq_en50160 *acc, int64_t t_ns)
{
    /* t >= start, so the unsigned difference is the true one */
    return t_ns >= acc->cfg.start_ns &&
           (uint64_t) t_ns - (uint64_t) acc->cfg.start_ns < (uint64_t) acc->cfg.period_ns;
}

static int excluded(unsigned flags)
{
    return (flags & (PQ_REC_FLAGGED | PQ_REC_PARTIAL)) != 0;
}

static int outside(double lo, double hi, double v)
{
    return (!isnan(lo) && v < lo) || (!isnan(hi) && v > hi);
}

/* Count v; returns 1 if it is valid and outside the share band, -1 if it is
 * not valid, 0 otherwise. */
static int count(struct pq_en50160_count *c, const struct pq_en50160_band *b, int valid,
                 double v)
{
    if (!valid || !isfinite(v)) {
        c->n_invalid++;
        return -1;
    }
    if (c->n_valid == 0 || v < c->min) {
        c->min = v;
    }
    if (c->n_valid == 0 || v > c->max) {
        c->max = v;
    }
    c->n_valid++;
    if (outside(b->lo100, b->hi100, v)) {
        c->n_out100++;
    }
    if (outside(b->lo, b->hi, v)) {
        c->n_out++;
        return 1;
    }
    return 0;
}

int pq_en50160_add_freq(struct pq_en50160 *acc, int64_t start_ns, unsigned flags,
                        double freq_hz)
{
    if (!in_period(acc, start_ns)) {
        acc->n_outside++;
        return 0;
    }
    acc->n_freq++;
    count(&acc->freq, &acc->b_freq, !excluded(flags), freq_hz);
    return 0;
}

/* EN 50160:2010 THD: orders 2..40 (reference §4.1), from the harmonic
 * ratios of the aggregate. */
static double thd40(const double *u_h_pct)
{
    double sum = 0.0;

    for (int h = 2; h <= PQ_EN50160_THD_H; h++) {
        sum += u_h_pct[h - 1] * u_h_pct[h - 1];
    }
    return sqrt(sum);
}

int pq_en50160_add_10min(struct pq_en50160 *acc, const struct pq_interval *r)
{
    int nph = acc->cfg.nph;
    int valid;

    if (r->agg != PQ_AGG_10MIN || r->nph < nph) {
        return -EINVAL;
    }
    if (!in_period(acc, r->start_ns)) {
        acc->n_outside++;
        return 0;
    }
    acc->n_10min++;
    acc->n_10min_flagged += (r->flags & PQ_REC_FLAGGED) != 0;
    acc->n_10min_partial += (r->flags & PQ_REC_PARTIAL) != 0;
    valid = !excluded(r->flags);
    for (int ph = 0; ph < nph; ph++) {
        double u = acc->cfg.u_line_to_line ? r->u_ll_rms_v[ph] : r->u_rms_v[ph];

        count(&acc->voltage[ph], &acc->b_voltage, valid, u);
        count(&acc->thd[ph], &acc->b_thd, valid, thd40(r->u_h_pct[ph]));
        for (int h = 2; h <= PQ_EN50160_MAX_H; h++) {
            count(&acc->harmonic[ph][h], &acc->b_harmonic[h], valid,
                  r->u_h_pct[ph][h - 1]);
        }
    }
    if (nph == PQ_NPH) {
        count(&acc->unbalance, &acc->b_unbalance, valid, r->u_unb_neg_pct);
    }
    return 0;
}

int pq_en50160_add_plt(struct pq_en50160 *acc, int64_t start_ns, unsigned flags,
                       const double plt[PQ_NPH])
{
    if (!acc->cfg.has_flicker) {
        return -EINVAL;
    }
    if (!in_period(acc, start_ns)) {
        acc->n_outside++;
        return 0;
    }
    acc->n_plt++;
    for (int ph = 0; ph < acc->cfg.nph; ph++) {
        count(&acc->flicker[ph], &acc->b_flicker, !excluded(flags), plt[ph]);
    }
    return 0;
}

int pq_en50160_add_msv(struct pq_en50160 *acc, int64_t start_ns, unsigned flags,
                       const double pct[PQ_NPH])
{
    uint64_t day;

    if (acc->cfg.msv_hz == 0.0) {
        return -EINVAL;
    }
    if (!in_period(acc, start_ns)) {
        acc->n_outside++;
        return 0;
    }
    acc->n_msv++;
    day = ((uint64_t) start_ns - (uint64_t) acc->cfg.start_ns) / PQ_EN50160_DAY_NS;
    for (int ph = 0; ph < acc->cfg.nph; ph++) {
        int out = count(&acc->msv[ph], &acc->b_msv, !excluded(flags), pct[ph]);

        if (out >= 0) {
            acc->msv_day_n[day][ph]++;
            acc->msv_day_out[day][ph] += (uint32_t) out;
        }
    }
    return 0;
}

int pq_en50160_add_event(struct pq_en50160 *acc, const struct pq_en50160_event *ev)
{
    int row;
    int col;

    if (ev->kind != PQ_EN50160_DIP && ev->kind != PQ_EN50160_SWELL &&
        ev->kind != PQ_EN50160_INTERRUPTION) {
        return -EINVAL;
    }
    if (!in_period(acc, ev->start_ns)) {
        acc->n_outside++;
        return 0;
    }
    switch (ev->kind) {
    case PQ_EN50160_DIP:
        if (pq_en50160_dip_index(ev->pct, ev->duration_s, &row, &col) == 0) {
            acc->dips[row][col]++;
        } else {
            acc->dips_unclassified++;
        }
        break;
    case PQ_EN50160_SWELL:
        if (pq_en50160_swell_index(ev->pct, ev->duration_s, &row, &col) == 0) {
            acc->swells[row][col]++;
        } else {
            acc->swells_unclassified++;
        }
        break;
    default:
        /* reference §4.1: a short interruption lasts up to 3 min */
        if (!(ev->duration_s >= 0.0 && ev->duration_s < INFINITY)) {
            acc->interruptions_unclassified++;
        } else if (ev->duration_s <= PQ_EN50160_SHORT_S) {
            acc->interruptions_short++;
        } else {
            acc->interruptions_long++;
        }
        break;
    }
    return 0;
}

/* ---- grading --------------------------------------------------------------- */

static void not_evaluated(struct pq_en50160_check *k, const struct pq_en50160_band *b)
{
    memset(k, 0, sizeof(*k));
    k->verdict = PQ_EN50160_NOT_EVALUATED;
    k->decided_by = PQ_EN50160_RULE_NONE;
    k->statistic = NAN;
    k->pct_time = 100.0 - b->permille_out / 10.0;
    k->lo = b->lo;
    k->hi = b->hi;
    k->lo100 = b->lo100;
    k->hi100 = b->hi100;
    k->pct_out = NAN;
    k->min = NAN;
    k->max = NAN;
}

static int share_fails(uint32_t n_out, uint32_t n, int permille_out)
{
    return (uint64_t) n_out * 1000u > (uint64_t) permille_out * n;
}

static void grade(struct pq_en50160_check *k, const struct pq_en50160_count *c,
                  const struct pq_en50160_band *b, int evaluated)
{
    not_evaluated(k, b);
    if (!evaluated) {
        return;
    }
    k->n_valid = c->n_valid;
    k->n_invalid = c->n_invalid;
    k->n_out = c->n_out;
    k->n_out100 = c->n_out100;
    if (c->n_valid == 0) {
        k->verdict = PQ_EN50160_NO_DATA;
        return;
    }
    k->min = c->min;
    k->max = c->max;
    k->pct_out = 100.0 * c->n_out / c->n_valid;
    if (c->n_out100 > 0) {
        k->verdict = PQ_EN50160_FAIL;
        k->decided_by = PQ_EN50160_RULE_ALL;
        k->statistic = !isnan(b->lo100) && c->min < b->lo100 ? c->min : c->max;
        return;
    }
    k->verdict = share_fails(c->n_out, c->n_valid, b->permille_out) ? PQ_EN50160_FAIL
                                                                    : PQ_EN50160_PASS;
    k->decided_by = PQ_EN50160_RULE_SHARE;
    k->statistic = k->pct_out;
}

/* The share rule applied to each day; pct_out becomes the worst day's. */
static void grade_daily(struct pq_en50160_check *k, const struct pq_en50160 *acc, int ph)
{
    uint64_t ndays =
        ((uint64_t) acc->cfg.period_ns + PQ_EN50160_DAY_NS - 1) / PQ_EN50160_DAY_NS;
    double worst = NAN;

    if (k->verdict != PQ_EN50160_PASS && k->verdict != PQ_EN50160_FAIL) {
        return;
    }
    for (uint64_t d = 0; d < ndays; d++) {
        uint32_t n = acc->msv_day_n[d][ph];
        uint32_t out = acc->msv_day_out[d][ph];
        double pct;

        if (n == 0) {
            continue;
        }
        k->n_days++;
        k->n_days_failed += share_fails(out, n, acc->b_msv.permille_out);
        pct = 100.0 * out / n;
        if (isnan(worst) || pct > worst) {
            worst = pct;
        }
    }
    k->pct_out = worst;
    k->statistic = worst;
    k->verdict = k->n_days_failed ? PQ_EN50160_FAIL : PQ_EN50160_PASS;
}

/* FAIL > NO_DATA > PASS > NOT_EVALUATED */
static int worse(int a, int b)
{
    static const int rank[] = {
        [PQ_EN50160_NOT_EVALUATED] = 0,
        [PQ_EN50160_PASS] = 1,
        [PQ_EN50160_NO_DATA] = 2,
        [PQ_EN50160_FAIL] = 3,
    };

    return rank[b] > rank[a] ? b : a;
}

static int overall(const struct pq_en50160_result *res)
{
    int v = worse(res->freq.verdict, res->unbalance.verdict);

    for (int ph = 0; ph < PQ_NPH; ph++) {
        v = worse(v, res->voltage[ph].verdict);
        v = worse(v, res->flicker[ph].verdict);
        v = worse(v, res->thd[ph].verdict);
        v = worse(v, res->msv[ph].verdict);
        for (int h = 2; h <= PQ_EN50160_MAX_H; h++) {
            v = worse(v, res->harmonic[ph][h].verdict);
        }
    }
    return v;
}

void pq_en50160_result(const struct pq_en50160 *acc, struct pq_en50160_result *res)
{
    const struct pq_en50160_cfg *c = &acc->cfg;

    memset(res, 0, sizeof(*res));
    grade(&res->freq, &acc->freq, &acc->b_freq, 1);
    grade(&res->unbalance, &acc->unbalance, &acc->b_unbalance, c->nph == PQ_NPH);
    for (int ph = 0; ph < PQ_NPH; ph++) {
        int on = ph < c->nph;

        grade(&res->voltage[ph], &acc->voltage[ph], &acc->b_voltage, on);
        grade(&res->flicker[ph], &acc->flicker[ph], &acc->b_flicker,
              on && c->has_flicker);
        grade(&res->thd[ph], &acc->thd[ph], &acc->b_thd, on);
        grade(&res->msv[ph], &acc->msv[ph], &acc->b_msv, on && c->msv_hz != 0.0);
        grade_daily(&res->msv[ph], acc, ph);
        for (int h = 0; h <= PQ_EN50160_MAX_H; h++) {
            grade(&res->harmonic[ph][h], &acc->harmonic[ph][h], &acc->b_harmonic[h],
                  on && h >= 2);
        }
    }
    res->verdict = overall(res);

    memcpy(res->dips, acc->dips, sizeof(res->dips));
    memcpy(res->swells, acc->swells, sizeof(res->swells));
    res->dips_unclassified = acc->dips_unclassified;
    res->swells_unclassified = acc->swells_unclassified;
    res->interruptions_short = acc->interruptions_short;
    res->interruptions_long = acc->interruptions_long;
    res->interruptions_unclassified = acc->interruptions_unclassified;

    res->n_10min_expected = (uint32_t) (c->period_ns / SLOT_10M);
    res->n_10min = acc->n_10min;
    res->n_10min_flagged = acc->n_10min_flagged;
    res->n_10min_partial = acc->n_10min_partial;
    res->n_freq_expected = (uint32_t) (c->period_ns / SLOT_10S);
    res->n_freq = acc->n_freq;
    res->n_plt_expected = (uint32_t) (c->period_ns / SLOT_2H);
    res->n_plt = acc->n_plt;
    res->n_msv = acc->n_msv;
    res->n_outside = acc->n_outside;
}
