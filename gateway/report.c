/* report.c - EN 50160 / IEEE 519 report of one recording (report.h).
 *
 * Three parts: feeding (the evaluators of pq/ plus what the plots keep),
 * the summary the writers share (rows of the parameter table, the failed
 * parameters, the percentiles of the bars), and the two writers.  The HTML
 * page is built from inline CSS and SVG only, so it renders the same from
 * a mail attachment, a USB stick or a browser without network.
 */
#include "gateway/report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pq/curves.h"
#include "pq/en50160.h"
#include "pq/ieee519.h"
#include "pq/symcomp.h"
#include "pq/utc.h"

#define NS_PER_S    1000000000LL
#define SLOT_10M    (600 * NS_PER_S)
#define SLOT_2H     (7200 * NS_PER_S)
#define NH_EN       (PQ_EN50160_MAX_H + 1) /* [0]: THD h2..40, [2..25]: orders */
#define NH_IE       (PQ_IEEE519_MAX_H + 1)
#define MAX_ROWS    8
#define HTML_EVENTS 25 /* events listed in the page; all are in the JSON */
#define STR_(x)     #x
#define STR(x)      STR_(x)

/* One 10-min value as the plots and percentiles need it. */
struct tenmin {
    int64_t start_ns, end_ns;
    unsigned flags;
    double u[PQ_NPH];            /* the evaluated voltage: L-N or L-L */
    double h_pct[PQ_NPH][NH_EN]; /* % of U1; [ph][0] THD over h = 2..40 */
    double nema_pct, u2_pct;
};

struct report {
    struct report_cfg cfg; /* strings point into the copies below */
    char *file, *station, *device;
    int64_t p_start, p_end; /* evaluated period */
    int clipped;            /* the recording is longer than the period */
    int has_flicker;        /* EN 50160 Plt evaluated */
    struct pq_en50160 *en;
    struct pq_ieee519 *ie;

    struct tenmin *tm;
    size_t ntm, captm;
    struct pq_event *ev;
    size_t nev, capev;
    uint32_t ev_total, ev_dropped;
    double pst_max[PQ_NPH];
    uint32_t n_pst, n_pst_valid;
    int nomem;
};

/* ---- feeding ------------------------------------------------------------------- */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* Does [start, end) hold a whole 2-h UTC slot that begins after start (the
 * flickermeter has settled by then)? */
static int holds_plt_slot(int64_t start, int64_t end)
{
    int64_t t2 = (pq_floor_div(start, SLOT_2H) + 1) * SLOT_2H;

    return t2 <= INT64_MAX - SLOT_2H && t2 + SLOT_2H <= end;
}

static int setup_en50160(struct report *r, char *why, size_t cap)
{
    struct pq_en50160_cfg c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.network = r->cfg.mv ? PQ_EN50160_MV : PQ_EN50160_LV;
    c.system = r->cfg.island ? PQ_EN50160_ISLAND : PQ_EN50160_SYNCHRONOUS;
    c.f_nom_hz = r->cfg.f_nom_hz;
    c.u_ref_v = r->cfg.udin_v;
    c.u_line_to_line = r->cfg.line_to_line;
    c.nph = r->cfg.nph;
    c.has_flicker = r->has_flicker;
    c.start_ns = r->p_start;
    c.period_ns = r->p_end - r->p_start;
    r->en = calloc(1, sizeof(*r->en));
    if (!r->en) {
        return -ENOMEM;
    }
    rc = pq_en50160_init(r->en, &c);
    if (rc < 0) {
        snprintf(why, cap, "EN 50160: settings refused (Un %.6g V, %.6g Hz, %d phases)",
                 c.u_ref_v, c.f_nom_hz, c.nph);
    }
    return rc;
}

static int setup_ieee519(struct report *r, char *why, size_t cap)
{
    struct pq_ieee519_cfg c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.edition = r->cfg.edition;
    c.bus_v = r->cfg.bus_v;
    c.isc_a = r->cfg.isc_a;
    c.il_a = r->cfg.has_current ? r->cfg.il_a : 0.0;
    c.nph = r->cfg.nph;
    c.start_ns = r->p_start;
    c.period_ns = r->p_end - r->p_start;
    rc = pq_ieee519_new(&c, &r->ie);
    if (rc == -EINVAL) {
        snprintf(why, cap,
                 "IEEE 519: settings refused (edition %d, bus %.6g V, Isc %.6g A, "
                 "IL %.6g A): IL needs Isc",
                 c.edition, c.bus_v, c.isc_a, c.il_a);
    }
    return rc;
}

int report_new(const struct report_cfg *cfg, struct report **out, char *why, size_t cap)
{
    struct report *r;
    int64_t max_ns;
    int rc;

    snprintf(why, cap, "out of memory");
    if (!(cfg->end_ns > cfg->start_ns) || (cfg->nph != 1 && cfg->nph != 3)) {
        snprintf(why, cap, "the recording spans no time");
        return -EINVAL;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        return -ENOMEM;
    }
    r->cfg = *cfg;
    r->file = dup_or_empty(cfg->file);
    r->station = dup_or_empty(cfg->station);
    r->device = dup_or_empty(cfg->device);
    if (!r->file || !r->station || !r->device) {
        rc = -ENOMEM;
        goto fail;
    }
    r->cfg.file = r->file;
    r->cfg.station = r->station;
    r->cfg.device = r->device;
    for (int ph = 0; ph < PQ_NPH; ph++) {
        r->pst_max[ph] = NAN;
    }
    r->p_start = pq_floor_div(cfg->start_ns, SLOT_10M) * SLOT_10M;
    r->p_end = cfg->end_ns;
    max_ns = cfg->kind == REPORT_IEEE519 ? PQ_IEEE519_WEEK_NS
                                         : PQ_EN50160_MAX_DAYS * PQ_EN50160_DAY_NS;
    if (r->p_end - r->p_start > max_ns) {
        r->p_end = r->p_start + max_ns;
        r->clipped = 1;
    }
    r->has_flicker =
        cfg->kind == REPORT_EN50160 && holds_plt_slot(cfg->start_ns, r->p_end);
    rc = cfg->kind == REPORT_IEEE519 ? setup_ieee519(r, why, cap)
                                     : setup_en50160(r, why, cap);
    if (rc < 0) {
        goto fail;
    }
    *out = r;
    return 0;

fail:
    report_free(r);
    return rc;
}

void report_free(struct report *r)
{
    if (!r) {
        return;
    }
    pq_ieee519_free(r->ie);
    free(r->en);
    free(r->tm);
    free(r->ev);
    free(r->file);
    free(r->station);
    free(r->device);
    free(r);
}

/* Room for element n of an array of *cap elements at p: p itself, or the
 * array moved to a doubled capacity (*cap updated), or NULL with p kept. */
static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *q;

    if (n < *cap) {
        return p;
    }
    ncap = *cap ? *cap * 2 : 64;
    q = realloc(p, ncap * size);
    if (q) {
        *cap = ncap;
    }
    return q;
}

static void keep_10min(struct report *r, const struct pq_interval *iv)
{
    struct tenmin *t = grow(r->tm, &r->captm, r->ntm, sizeof(*t));

    if (!t) {
        r->nomem = 1;
        return;
    }
    r->tm = t;
    t = &r->tm[r->ntm++];
    memset(t, 0, sizeof(*t));
    t->start_ns = iv->start_ns;
    t->end_ns = iv->end_ns;
    t->flags = iv->flags;
    for (int ph = 0; ph < PQ_NPH; ph++) {
        double sum = 0.0;

        t->u[ph] = ph >= r->cfg.nph      ? NAN
                   : r->cfg.line_to_line ? iv->u_ll_rms_v[ph]
                                         : iv->u_rms_v[ph];
        for (int h = 2; h <= PQ_EN50160_THD_H; h++) {
            double v = iv->u_h_pct[ph][h - 1];

            sum += v * v;
            if (h < NH_EN) {
                t->h_pct[ph][h] = ph < r->cfg.nph ? v : NAN;
            }
        }
        t->h_pct[ph][0] = ph < r->cfg.nph ? sqrt(sum) : NAN;
        t->h_pct[ph][1] = NAN;
    }
    t->nema_pct = r->cfg.nph == 3 ? iv->u_unb_nema_pct : NAN;
    t->u2_pct = r->cfg.nph == 3 ? iv->u_unb_neg_pct : NAN;
}

void report_interval(struct report *r, const struct pq_interval *iv)
{
    if (iv->agg == PQ_AGG_10MIN) {
        if (r->en) {
            pq_en50160_add_10min(r->en, iv);
        }
        if (r->ie) {
            pq_ieee519_add(r->ie, iv);
        }
        keep_10min(r, iv);
    } else if (iv->agg == PQ_AGG_3S && r->ie) {
        pq_ieee519_add(r->ie, iv);
    }
}

void report_freq10s(struct report *r, int64_t start_ns, double f_hz, unsigned flags)
{
    if (r->en) {
        pq_en50160_add_freq(r->en, start_ns, flags, f_hz);
    }
}

void report_pst(struct report *r, const double pst[3], int nph, unsigned flags)
{
    r->n_pst++;
    if (flags & (PQ_REC_FLAGGED | PQ_REC_PARTIAL)) {
        return;
    }
    r->n_pst_valid++;
    for (int ph = 0; ph < nph && ph < PQ_NPH; ph++) {
        if (isfinite(pst[ph]) && !(pst[ph] <= r->pst_max[ph])) {
            r->pst_max[ph] = pst[ph];
        }
    }
}

void report_plt(struct report *r, int64_t start_ns, const double plt[3], int nph,
                unsigned flags)
{
    double v[PQ_NPH] = {NAN, NAN, NAN};

    if (!r->en || !r->has_flicker) {
        return;
    }
    for (int ph = 0; ph < nph && ph < PQ_NPH; ph++) {
        v[ph] = plt[ph];
    }
    pq_en50160_add_plt(r->en, start_ns, flags, v);
}

void report_event(struct report *r, const struct pq_event *ev)
{
    static const int en_kind[] = {
        [PQ_EV_DIP] = PQ_EN50160_DIP,
        [PQ_EV_SWELL] = PQ_EN50160_SWELL,
        [PQ_EV_INTERRUPTION] = PQ_EN50160_INTERRUPTION,
    };
    struct pq_event *list;

    if (ev->kind > PQ_EV_RVC) {
        return; /* current events: not in these standards */
    }
    r->ev_total++;
    if (r->en && ev->kind != PQ_EV_RVC) {
        struct pq_en50160_event e = {
            .kind = en_kind[ev->kind],
            .pct = ev->kind == PQ_EV_SWELL ? ev->max_pct : ev->residual_pct,
            .duration_s = ev->duration_s,
            .start_ns = ev->start_ns,
        };

        pq_en50160_add_event(r->en, &e);
    }
    if (r->nev >= REPORT_MAX_EVENTS) {
        r->ev_dropped++;
        return;
    }
    list = grow(r->ev, &r->capev, r->nev, sizeof(*list));
    if (!list) {
        r->nomem = 1;
        return;
    }
    r->ev = list;
    r->ev[r->nev++] = *ev;
}

/* ---- summary ---------------------------------------------------------------------- */

enum verdict { V_NE, V_NO_DATA, V_PASS, V_FAIL }; /* both pq/ enums' values */

static const char *verdict_json(int v)
{
    static const char *const n[] = {"not-evaluated", "no-data", "pass", "fail"};

    return v >= 0 && v <= V_FAIL ? n[v] : "not-evaluated";
}

static const char *verdict_text(int v)
{
    static const char *const n[] = {"not evaluated", "no data", "PASS", "FAIL"};

    return v >= 0 && v <= V_FAIL ? n[v] : "not evaluated";
}

static const char *verdict_class(int v)
{
    static const char *const n[] = {"ne", "nodata", "pass", "fail"};

    return v >= 0 && v <= V_FAIL ? n[v] : "ne";
}

/* The worse of two verdicts: FAIL, then NO_DATA, then PASS, then NE. */
static int worse(int a, int b)
{
    static const int rank[] = {0, 2, 1, 3};

    return rank[b] > rank[a] ? b : a;
}

/* Everything the writers show, computed once. */
struct summary {
    struct pq_en50160_result en;
    struct pq_ieee519_result ie;
    int verdict;
    /* EN 50160 bars: per order (0: THD) the largest 95th percentile over
     * the phases of the valid 10-min values, and per phase */
    double p95[NH_EN];
    double p95_ph[PQ_NPH][NH_EN];
    uint32_t flagged_outside; /* flagged 10-min values with a voltage out
                                 of the share band */
    /* NEMA MG-1 over the valid 10-min values */
    double nema_max_pct, nema_derating, u2_max_pct;
    int64_t nema_at_ns;
    uint32_t nema_n;
};

static int valid_10min(const struct report *r, const struct tenmin *t)
{
    return !(t->flags & (PQ_REC_FLAGGED | PQ_REC_PARTIAL)) && t->start_ns >= r->p_start &&
           t->start_ns < r->p_end;
}

/* The nearest-rank percentiles of the kept values; scratch holds ntm. */
static void percentiles(const struct report *r, struct summary *s, double *scratch)
{
    for (int h = 0; h < NH_EN; h++) {
        s->p95[h] = NAN;
        for (int ph = 0; ph < PQ_NPH; ph++) {
            size_t n = 0;

            s->p95_ph[ph][h] = NAN;
            if (h == 1 || ph >= r->cfg.nph) {
                continue;
            }
            for (size_t i = 0; i < r->ntm; i++) {
                double v = r->tm[i].h_pct[ph][h];

                if (valid_10min(r, &r->tm[i]) && isfinite(v)) {
                    scratch[n++] = v;
                }
            }
            s->p95_ph[ph][h] = pq_ieee519_percentile(scratch, n, 950);
            if (isfinite(s->p95_ph[ph][h]) && !(s->p95_ph[ph][h] <= s->p95[h])) {
                s->p95[h] = s->p95_ph[ph][h];
            }
        }
    }
}

/* A flagged 10-min value of the period with a voltage outside the band of
 * the share rule (which excludes it). */
static int flagged_outside(const struct report *r, const struct tenmin *t,
                           const struct pq_en50160_check *vc)
{
    int out = 0;

    if (!(t->flags & PQ_REC_FLAGGED) || t->start_ns < r->p_start ||
        t->start_ns >= r->p_end) {
        return 0;
    }
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        out |= t->u[ph] < vc->lo || t->u[ph] > vc->hi;
    }
    return out;
}

static void nema_and_flags(const struct report *r, struct summary *s)
{
    const struct pq_en50160_check *vc = &s->en.voltage[0];

    s->nema_max_pct = s->u2_max_pct = NAN;
    s->nema_derating = NAN;
    for (size_t i = 0; i < r->ntm; i++) {
        const struct tenmin *t = &r->tm[i];

        if (!valid_10min(r, t)) {
            s->flagged_outside += r->en && flagged_outside(r, t, vc);
            continue;
        }
        if (isfinite(t->nema_pct)) {
            s->nema_n++;
            if (!(t->nema_pct <= s->nema_max_pct)) {
                s->nema_max_pct = t->nema_pct;
                s->nema_at_ns = t->start_ns;
            }
        }
        if (isfinite(t->u2_pct) && !(t->u2_pct <= s->u2_max_pct)) {
            s->u2_max_pct = t->u2_pct;
        }
    }
    if (isfinite(s->nema_max_pct)) {
        s->nema_derating = pq_nema_derating(s->nema_max_pct);
    }
}

static struct summary *summarize(const struct report *r)
{
    struct summary *s = calloc(1, sizeof(*s));
    double *scratch = malloc((r->ntm ? r->ntm : 1) * sizeof(double));

    if (!s || !scratch) {
        free(s);
        free(scratch);
        return NULL;
    }
    if (r->en) {
        pq_en50160_result(r->en, &s->en);
        s->verdict = s->en.verdict;
    } else {
        pq_ieee519_result(r->ie, &s->ie);
        s->verdict = s->ie.verdict;
    }
    percentiles(r, s, scratch);
    nema_and_flags(r, s);
    free(scratch);
    return s;
}

/* ---- text helpers ---------------------------------------------------------------- */

static const char *phase_name(const struct report *r, int ph)
{
    static const char *const ln[] = {"A", "B", "C"};
    static const char *const ll[] = {"AB", "BC", "CA"};

    return r->cfg.line_to_line ? ll[ph] : ln[ph];
}

/* "2026-01-01 00:10:00 UTC" (ms: with milliseconds, no zone). */
static void fmt_time(char *buf, size_t cap, int64_t t_ns, int ms)
{
    time_t s = (time_t) pq_floor_div(t_ns, NS_PER_S);
    int64_t frac = t_ns - (int64_t) s * NS_PER_S;
    struct tm tm;

    gmtime_r(&s, &tm);
    if (ms) {
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int) (frac / 1000000));
    } else {
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
}

/* "45 s", "30 min", "2 h 10 min", "7 d 0 h". */
static void fmt_span(char *buf, size_t cap, double s)
{
    long m = lround(s / 60.0);

    if (s < 120.0) {
        snprintf(buf, cap, "%.3g s", s);
    } else if (m < 120) {
        snprintf(buf, cap, "%ld min", m);
    } else if (m < 48 * 60) {
        snprintf(buf, cap, "%ld h %ld min", m / 60, m % 60);
    } else {
        snprintf(buf, cap, "%ld d %ld h", m / 1440, (m % 1440) / 60);
    }
}

/* A number for people: up to 6 significant digits, "–" if not finite. */
static const char *num(char *buf, size_t cap, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, cap, "–");
    } else {
        snprintf(buf, cap, "%.6g", fabs(v) < 5e-5 ? 0.0 : v);
    }
    return buf;
}

/* A measured value with the decimals its unit deserves. */
static const char *meas(char *buf, size_t cap, double v, const char *unit)
{
    int dec = strcmp(unit, "Hz") == 0                   ? 3
              : strcmp(unit, "V") == 0 && fabs(v) < 1e4 ? 1
              : strcmp(unit, "V") == 0                  ? 0
                                                        : 2;

    if (!isfinite(v)) {
        snprintf(buf, cap, "–");
    } else {
        snprintf(buf, cap, "%.*f", dec, fabs(v) < 5e-5 ? 0.0 : v);
    }
    return buf;
}

/* Append printf output to buf (of cap bytes, NUL-terminated). */
static void __attribute__((format(printf, 3, 4)))
cat(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;

    if (len + 1 >= cap) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

static const char *standard_name(const struct report *r)
{
    if (r->cfg.kind == REPORT_EN50160) {
        return "EN 50160:2010";
    }
    return r->cfg.edition == PQ_IEEE519_2014 ? "IEEE 519-2014" : "IEEE 519-2022";
}

/* ---- rows of the parameter table --------------------------------------------------- */

struct row {
    char name[64];
    char limit[256];
    char stat[320];
    char n[96];
    char note[320];
    int verdict;
};

/* Band of a check: "207–253 V for 95 %; 195.5–253 V always". */
static void en_limit_text(char *buf, size_t cap, const struct pq_en50160_check *c,
                          const char *unit)
{
    char a[32], b[32];

    buf[0] = '\0';
    if (isfinite(c->lo)) {
        cat(buf, cap, "%s–%s %s", num(a, sizeof(a), c->lo), num(b, sizeof(b), c->hi),
            unit);
    } else {
        cat(buf, cap, "≤ %s %s", num(b, sizeof(b), c->hi), unit);
    }
    cat(buf, cap, " for %g %% of the time", c->pct_time);
    if (isfinite(c->lo100) || isfinite(c->hi100)) {
        cat(buf, cap, "; %s–%s %s always", num(a, sizeof(a), c->lo100),
            num(b, sizeof(b), c->hi100), unit);
    }
}

static void en_stat_text(char *buf, size_t cap, const struct pq_en50160_check *c,
                         const char *unit)
{
    char a[32], b[32];

    buf[0] = '\0';
    if (c->verdict == V_NE) {
        cat(buf, cap, "–");
    } else if (c->verdict == V_NO_DATA) {
        cat(buf, cap, "no valid value");
    } else if (c->decided_by == PQ_EN50160_RULE_ALL) {
        cat(buf, cap, "%s %s outside the 100 %% band",
            meas(a, sizeof(a), c->statistic, unit), unit);
    } else {
        cat(buf, cap,
            "%.2f %% of values outside the band (%.3g %% allowed); range %s–%s %s",
            c->pct_out, 100.0 - c->pct_time, meas(a, sizeof(a), c->min, unit),
            meas(b, sizeof(b), c->max, unit), unit);
    }
}

static void n_text(char *buf, size_t cap, uint32_t valid, uint32_t invalid,
                   const char *what)
{
    snprintf(buf, cap, "%u valid %s, %u excluded", valid, what, invalid);
}

/* Worst phase of a per-phase check: FAIL first, then NO_DATA, then the
 * largest share outside. */
static int worst_phase(const struct pq_en50160_check *c, int nph)
{
    int w = 0;

    for (int ph = 1; ph < nph; ph++) {
        if (worse(c[w].verdict, c[ph].verdict) != c[w].verdict ||
            (c[ph].verdict == c[w].verdict && c[ph].pct_out > c[w].pct_out)) {
            w = ph;
        }
    }
    return w;
}

static void en_row(const struct report *r, struct row *row, const char *name,
                   const struct pq_en50160_check *c, int nph, const char *unit,
                   const char *what)
{
    int w = worst_phase(c, nph);

    snprintf(row->name, sizeof(row->name), "%s", name);
    row->verdict = V_NE;
    for (int ph = 0; ph < nph; ph++) {
        row->verdict = worse(row->verdict, c[ph].verdict);
    }
    en_limit_text(row->limit, sizeof(row->limit), &c[w], unit);
    en_stat_text(row->stat, sizeof(row->stat), &c[w], unit);
    if (nph > 1 && c[w].verdict != V_NE) {
        cat(row->stat, sizeof(row->stat), " (worst phase: %s)", phase_name(r, w));
    }
    n_text(row->n, sizeof(row->n), c[w].n_valid, c[w].n_invalid, what);
    if (row->verdict == V_NE) {
        snprintf(row->n, sizeof(row->n), "–");
    }
    row->note[0] = '\0';
}

static void en_harmonic_row(const struct report *r, const struct summary *s,
                            struct row *row)
{
    const struct pq_en50160_result *e = &s->en;
    int nfail = 0, best_h = 0;
    double best = -1.0;
    char a[32], b[32];

    snprintf(row->name, sizeof(row->name), "Harmonics h2–h25");
    snprintf(row->limit, sizeof(row->limit),
             "EN 50160 Table 1 for 95 %% of the time (h3 5 %%, h5 6 %%, h7 5 %%, "
             "h11 3.5 %%, h13 3 %%, …)");
    row->verdict = V_NE;
    row->stat[0] = '\0';
    for (int h = 2; h <= PQ_EN50160_MAX_H; h++) {
        int v = V_NE;
        double lim = pq_en50160_harmonic_limit_pct(h);

        for (int ph = 0; ph < r->cfg.nph; ph++) {
            v = worse(v, e->harmonic[ph][h].verdict);
        }
        row->verdict = worse(row->verdict, v);
        if (v == V_FAIL && nfail++ < 4) {
            int w = worst_phase((const struct pq_en50160_check[]){e->harmonic[0][h],
                                                                  e->harmonic[1][h],
                                                                  e->harmonic[2][h]},
                                r->cfg.nph);

            cat(row->stat, sizeof(row->stat),
                "%sh%d: %.3g %% of values above %s %% (95th percentile %s %%)",
                nfail > 1 ? "; " : "", h, e->harmonic[w][h].pct_out,
                num(a, sizeof(a), lim), meas(b, sizeof(b), s->p95[h], "%"));
        }
        if (isfinite(s->p95[h]) && s->p95[h] / lim > best) {
            best = s->p95[h] / lim;
            best_h = h;
        }
    }
    if (nfail > 4) {
        cat(row->stat, sizeof(row->stat), "; %d more orders", nfail - 4);
    } else if (nfail == 0 && best_h) {
        cat(row->stat, sizeof(row->stat),
            "all orders within; closest: h%d, 95th percentile %s %% of %s %%", best_h,
            meas(a, sizeof(a), s->p95[best_h], "%"),
            num(b, sizeof(b), pq_en50160_harmonic_limit_pct(best_h)));
    } else if (nfail == 0) {
        cat(row->stat, sizeof(row->stat), "no valid value");
    }
    n_text(row->n, sizeof(row->n), e->harmonic[0][5].n_valid, e->harmonic[0][5].n_invalid,
           "10-min");
    row->note[0] = '\0';
}

static int en_rows(const struct report *r, const struct summary *s, struct row *rows)
{
    const struct pq_en50160_result *e = &s->en;
    int nph = r->cfg.nph, n = 0;
    char a[32];

    en_row(r, &rows[n++], "Power frequency", &e->freq, 1, "Hz", "10-s");
    en_row(r, &rows[n], "Supply voltage", e->voltage, nph, "V", "10-min");
    if (s->flagged_outside) {
        snprintf(
            rows[n].note, sizeof(rows[n].note),
            "%u flagged 10-min value%s (overlapping a dip, swell or interruption) lay "
            "outside the band and %s excluded, as IEC 61000-4-30 4.7 requires",
            s->flagged_outside, s->flagged_outside == 1 ? "" : "s",
            s->flagged_outside == 1 ? "is" : "are");
    }
    n++;
    en_row(r, &rows[n], "Flicker Plt", e->flicker, nph, "", "2-h");
    if (!r->has_flicker) {
        snprintf(rows[n].note, sizeof(rows[n].note),
                 "Plt needs a whole 2-h interval, which this recording does not hold; "
                 "largest Pst %s (%u valid 10-min values)",
                 meas(a, sizeof(a),
                      fmax(r->pst_max[0], fmax(r->pst_max[1], r->pst_max[2])), ""),
                 r->n_pst_valid);
    }
    n++;
    en_row(r, &rows[n], "Unbalance u2", &e->unbalance, 1, "%", "10-min");
    if (nph < 3) {
        snprintf(rows[n].note, sizeof(rows[n].note), "single phase: no unbalance");
    }
    n++;
    en_row(r, &rows[n++], "THD (h2–h40)", e->thd, nph, "%", "10-min");
    en_harmonic_row(r, s, &rows[n++]);
    en_row(r, &rows[n], "Mains signalling", e->msv, nph, "%", "3-s");
    snprintf(rows[n].limit, sizeof(rows[n].limit), "EN 50160 curve, 99 %% of each day");
    snprintf(rows[n].note, sizeof(rows[n].note), "not measured by pqgate analyze");
    n++;
    return n;
}

/* IEEE 519 check of quantity (current or voltage), order h (0: TDD/THD). */
static const struct pq_ieee519_check *ie_check(const struct summary *s, int current,
                                               int h, int ph)
{
    if (current) {
        return h ? &s->ie.i_h[ph][h] : &s->ie.i_tdd[ph];
    }
    return h ? &s->ie.u_h[ph][h] : &s->ie.u_thd[ph];
}

/* "10-min 95th 7.5 % (≤ 7)", for each statistic of an IEEE 519 check. */
static void ie_stat_text(char *buf, size_t cap, const struct pq_ieee519_check *c)
{
    static const char *const what[] = {"10-min 95th", "10-min 99th", "3-s daily 99th"};
    const struct pq_ieee519_stat *st[] = {&c->week95, &c->week99, &c->day99};
    char a[32], b[32];

    buf[0] = '\0';
    for (int i = 0; i < 3; i++) {
        if (st[i]->verdict == V_NE) {
            continue;
        }
        cat(buf, cap, "%s%s %s %% (≤ %s)%s", buf[0] ? "; " : "", what[i],
            meas(a, sizeof(a), st[i]->value, "%"), num(b, sizeof(b), st[i]->limit_pct),
            st[i]->verdict == V_FAIL ? " ✗" : "");
    }
    if (!buf[0]) {
        cat(buf, cap, "–");
    }
}

/* The check of a group that decides: a failed one, else the one closest to
 * its limit (10-min 95th); its index in *which. */
static void ie_worst(const struct pq_ieee519_check *const *c, int n, int *which)
{
    int w = 0, wfail = 0;
    double best = -INFINITY;

    for (int i = 0; i < n; i++) {
        int fail = c[i]->verdict == V_FAIL;
        double ratio = c[i]->week95.value / c[i]->week95.limit_pct;

        if (!isfinite(ratio)) {
            ratio = -1.0;
        }
        if (fail > wfail || (fail == wfail && ratio > best)) {
            w = i;
            wfail = fail;
            best = ratio;
        }
    }
    *which = w;
}

/* One row: voltage or current, THD/TDD (harmonics 0) or the orders. */
static void ie_row(const struct report *r, const struct summary *s, struct row *row,
                   int current, int harmonics)
{
    const struct pq_ieee519_result *e = &s->ie;
    const struct pq_ieee519_check *c[PQ_NPH * NH_IE] = {NULL};
    int ph_of[PQ_NPH * NH_IE] = {0}, h_of[PQ_NPH * NH_IE] = {0};
    int n = 0, w, nfail = 0;
    size_t len;

    row->verdict = V_NE;
    row->stat[0] = row->note[0] = '\0';
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        for (int h = harmonics ? 2 : 0; h <= (harmonics ? PQ_IEEE519_MAX_H : 0); h++) {
            c[n] = ie_check(s, current, h, ph);
            row->verdict = worse(row->verdict, c[n]->verdict);
            ph_of[n] = ph;
            h_of[n++] = h;
        }
    }
    for (int h = 2; harmonics && h <= PQ_IEEE519_MAX_H; h++) {
        if ((current ? e->i_order[h] : e->u_order[h]) == V_FAIL && nfail++ < 6) {
            cat(row->note, sizeof(row->note), "%sh%d", nfail > 1 ? ", " : "fails: ", h);
        }
    }
    if (nfail > 6) {
        cat(row->note, sizeof(row->note), " and %d more", nfail - 6);
    }
    ie_worst(c, n, &w);
    if (harmonics && c[w]->verdict != V_NE) {
        snprintf(row->stat, sizeof(row->stat),
                 "%s h%d: ", c[w]->verdict == V_FAIL ? "worst" : "closest", h_of[w]);
    }
    len = strlen(row->stat);
    ie_stat_text(row->stat + len, sizeof(row->stat) - len, c[w]);
    if (r->cfg.nph > 1 && c[w]->verdict != V_NE) {
        cat(row->stat, sizeof(row->stat), " (phase %s)", phase_name(r, ph_of[w]));
    }
    snprintf(row->n, sizeof(row->n), "%u valid 10-min, %u valid 3-s, %u excluded",
             e->n_10min, e->n_3s, e->n_10min_invalid + e->n_3s_invalid);
}

static int ie_rows(const struct report *r, const struct summary *s, struct row *rows)
{
    const struct pq_ieee519_limits *l = &s->ie.limits;
    char a[32], b[32];

    snprintf(rows[0].name, sizeof(rows[0].name), "Voltage THD (h2–h50)");
    snprintf(rows[0].limit, sizeof(rows[0].limit),
             "≤ %s %% (Table 1, bus %s V): 10-min 95th ≤ 1.0×, 3-s daily 99th ≤ 1.5×",
             num(a, sizeof(a), l->u_thd_pct), num(b, sizeof(b), r->cfg.bus_v));
    ie_row(r, s, &rows[0], 0, 0);
    snprintf(rows[1].name, sizeof(rows[1].name), "Voltage harmonics h2–h50");
    snprintf(rows[1].limit, sizeof(rows[1].limit),
             "each ≤ %s %% (Table 1): 10-min 95th ≤ 1.0×, 3-s daily 99th ≤ 1.5×",
             num(a, sizeof(a), l->u_h_pct));
    ie_row(r, s, &rows[1], 0, 1);
    snprintf(rows[2].name, sizeof(rows[2].name), "Current TDD");
    snprintf(rows[3].name, sizeof(rows[3].name), "Current harmonics h2–h50");
    if (l->table == 0) {
        for (int i = 2; i < 4; i++) {
            snprintf(rows[i].limit, sizeof(rows[i].limit), "%% of IL");
            ie_row(r, s, &rows[i], 1, i == 3);
            snprintf(rows[i].note, sizeof(rows[i].note), "%s",
                     r->cfg.has_current
                         ? "not evaluated: give --il (or --max-demand-current) and --isc"
                         : "not evaluated: the recording has no current channel");
        }
        return 4;
    }
    snprintf(rows[2].limit, sizeof(rows[2].limit),
             "≤ %s %% of IL = %s A (Table %d, Isc/IL %.4g): 10-min 95th ≤ 1.0×, 99th ≤ "
             "1.5×, 3-s daily 99th ≤ 2.0×",
             num(a, sizeof(a), l->i_tdd_pct), num(b, sizeof(b), r->cfg.il_a), l->table,
             l->isc_il);
    ie_row(r, s, &rows[2], 1, 0);
    snprintf(rows[3].limit, sizeof(rows[3].limit),
             "%% of IL, odd h3–h9 %.3g, h11–h15 %.3g, h17–h21 %.3g, h23–h33 %.3g, "
             "h35–h49 %.3g; even %s",
             l->i_h_pct[3], l->i_h_pct[11], l->i_h_pct[17], l->i_h_pct[23],
             l->i_h_pct[35],
             r->cfg.edition == PQ_IEEE519_2014 ? "25 % of the odd limit"
                                               : "50 % (h ≤ 6), 100 % above");
    ie_row(r, s, &rows[3], 1, 1);
    return 4;
}

static int build_rows(const struct report *r, const struct summary *s, struct row *rows)
{
    memset(rows, 0, MAX_ROWS * sizeof(*rows));
    return r->en ? en_rows(r, s, rows) : ie_rows(r, s, rows);
}

/* ---- JSON ----------------------------------------------------------------------------
 */

static void j_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void j_num(FILE *f, double v)
{
    if (isfinite(v)) {
        fprintf(f, "%.7g", v);
    } else {
        fputs("null", f);
    }
}

static void j_time(FILE *f, int64_t t_ns)
{
    char b[32];

    pq_time_iso(b, sizeof(b), t_ns);
    fprintf(f, "\"%s\"", b);
}

/* ,"key":number */
static void j_kv(FILE *f, const char *key, double v)
{
    fprintf(f, ",\"%s\":", key);
    j_num(f, v);
}

static void j_head(const struct report *r, FILE *f)
{
    double span_s = (double) (r->cfg.end_ns - r->cfg.start_ns) / 1e9;
    double std_s = 7 * 86400.0;

    fputs("{\"type\":\"report\",\"standard\":", f);
    j_str(f, standard_name(r));
    fputs(",\"file\":", f);
    j_str(f, r->file);
    fputs(",\"station\":", f);
    j_str(f, r->station);
    fputs(",\"device\":", f);
    j_str(f, r->device);
    fputs(",\n\"period\":{\"start\":", f);
    j_time(f, r->cfg.start_ns);
    fputs(",\"end\":", f);
    j_time(f, r->cfg.end_ns);
    j_kv(f, "duration_s", span_s);
    fputs(",\"evaluated_from\":", f);
    j_time(f, r->p_start);
    fputs(",\"evaluated_to\":", f);
    j_time(f, r->p_end);
    fprintf(f, ",\"standard_period\":\"one week\",\"standard_period_s\":%.0f", std_s);
    fprintf(f, ",\"shorter_than_standard\":%s,\"clipped\":%s}",
            span_s < std_s ? "true" : "false", r->clipped ? "true" : "false");
}

static void j_names(FILE *f, const char *const *names, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        fputs(i ? "," : "", f);
        j_str(f, names[i]);
    }
    fputc(']', f);
}

/* The failed parameters, by name: "frequency", "voltage", "h5", "i_h5"... */
static void j_failed(const struct report *r, const struct summary *s, FILE *f)
{
    char names[4 + 2 * NH_IE][16];
    const char *list[4 + 2 * NH_IE];
    int n = 0;

    if (r->en) {
        const struct pq_en50160_result *e = &s->en;

        const struct {
            const char *name;
            const struct pq_en50160_check *c;
            int nph;
        } p[] = {{"frequency", &e->freq, 1}, {"voltage", e->voltage, 3},
                 {"flicker", e->flicker, 3}, {"unbalance", &e->unbalance, 1},
                 {"thd", e->thd, 3},         {"msv", e->msv, 3}};

        for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
            for (int ph = 0; ph < p[i].nph; ph++) {
                if (p[i].c[ph].verdict == V_FAIL) {
                    list[n++] = p[i].name;
                    break;
                }
            }
        }
        for (int h = 2; h <= PQ_EN50160_MAX_H; h++) {
            for (int ph = 0; ph < PQ_NPH; ph++) {
                if (e->harmonic[ph][h].verdict == V_FAIL) {
                    snprintf(names[n], sizeof(names[n]), "h%d", h);
                    list[n] = names[n];
                    n++;
                    break;
                }
            }
        }
    } else {
        const struct pq_ieee519_result *e = &s->ie;

        for (int ph = 0; ph < PQ_NPH; ph++) {
            if (e->u_thd[ph].verdict == V_FAIL) {
                list[n++] = "u_thd";
                break;
            }
        }
        for (int h = 2; h <= PQ_IEEE519_MAX_H; h++) {
            if (e->u_order[h] == V_FAIL) {
                snprintf(names[n], sizeof(names[n]), "u_h%d", h);
                list[n] = names[n];
                n++;
            }
        }
        for (int ph = 0; ph < PQ_NPH; ph++) {
            if (e->i_tdd[ph].verdict == V_FAIL) {
                list[n++] = "i_tdd";
                break;
            }
        }
        for (int h = 2; h <= PQ_IEEE519_MAX_H; h++) {
            if (e->i_order[h] == V_FAIL) {
                snprintf(names[n], sizeof(names[n]), "i_h%d", h);
                list[n] = names[n];
                n++;
            }
        }
    }
    j_names(f, list, n);
}

static void j_en_check(const struct report *r, FILE *f, const char *name, int ph, int h,
                       const char *unit, const struct pq_en50160_check *c, double p95)
{
    static const char *const rule[] = {NULL, "share", "all"};

    fputs(",\n{\"parameter\":", f);
    j_str(f, name);
    if (ph >= 0) {
        fprintf(f, ",\"phase\":\"%s\"", phase_name(r, ph));
    }
    if (h > 0) {
        fprintf(f, ",\"order\":%d", h);
    }
    fprintf(f, ",\"unit\":\"%s\",\"verdict\":\"%s\",\"decided_by\":", unit,
            verdict_json(c->verdict));
    if (c->decided_by > 0 && c->decided_by <= PQ_EN50160_RULE_ALL) {
        fprintf(f, "\"%s\"", rule[c->decided_by]);
    } else {
        fputs("null", f);
    }
    j_kv(f, "statistic", c->statistic);
    j_kv(f, "pct_time", c->pct_time);
    j_kv(f, "lo", c->lo);
    j_kv(f, "hi", c->hi);
    j_kv(f, "lo100", c->lo100);
    j_kv(f, "hi100", c->hi100);
    fprintf(f, ",\"n_valid\":%u,\"n_invalid\":%u,\"n_out\":%u,\"n_out100\":%u",
            c->n_valid, c->n_invalid, c->n_out, c->n_out100);
    j_kv(f, "pct_out", c->pct_out);
    j_kv(f, "min", c->min);
    j_kv(f, "max", c->max);
    if (h >= 0 && strcmp(unit, "%") == 0 && strcmp(name, "unbalance") != 0) {
        j_kv(f, "p95", p95);
    }
    fputc('}', f);
}

static void j_en_parameters(const struct report *r, const struct summary *s, FILE *f)
{
    const struct pq_en50160_result *e = &s->en;

    fputs(",\n\"parameters\":[", f);
    fputs("{\"parameter\":\"observation\"", f);
    fprintf(f,
            ",\"n_10min_expected\":%u,\"n_10min\":%u,\"n_10min_flagged\":%u,"
            "\"n_10min_partial\":%u,\"n_freq_expected\":%u,\"n_freq\":%u,"
            "\"n_plt_expected\":%u,\"n_plt\":%u,\"n_outside\":%u,"
            "\"n_10min_flagged_voltage_outside\":%u}",
            e->n_10min_expected, e->n_10min, e->n_10min_flagged, e->n_10min_partial,
            e->n_freq_expected, e->n_freq, e->n_plt_expected, e->n_plt, e->n_outside,
            s->flagged_outside);
    j_en_check(r, f, "frequency", -1, -1, "Hz", &e->freq, NAN);
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        j_en_check(r, f, "voltage", ph, -1, "V", &e->voltage[ph], NAN);
    }
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        j_en_check(r, f, "flicker", ph, -1, "Plt", &e->flicker[ph], NAN);
    }
    j_en_check(r, f, "unbalance", -1, -1, "%", &e->unbalance, NAN);
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        j_en_check(r, f, "thd", ph, 0, "%", &e->thd[ph], s->p95_ph[ph][0]);
    }
    for (int h = 2; h <= PQ_EN50160_MAX_H; h++) {
        for (int ph = 0; ph < r->cfg.nph; ph++) {
            j_en_check(r, f, "harmonic", ph, h, "%", &e->harmonic[ph][h],
                       s->p95_ph[ph][h]);
        }
    }
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        j_en_check(r, f, "msv", ph, -1, "%", &e->msv[ph], NAN);
    }
    fputs("]", f);
}

static void j_en_tables(const struct summary *s, FILE *f)
{
    const struct pq_en50160_result *e = &s->en;

    fputs(",\"en50160\":{\"dips\":{", f);
    for (int row = 0; row < PQ_EN50160_DIP_ROWS; row++) {
        for (int col = 0; col < PQ_EN50160_DIP_COLS; col++) {
            fprintf(f, "%s\"%c%d\":%u", row || col ? "," : "", "ABCDX"[row], col + 1,
                    e->dips[row][col]);
        }
    }
    fputs("},\"swells\":{", f);
    for (int row = 0; row < PQ_EN50160_SWELL_ROWS; row++) {
        for (int col = 0; col < PQ_EN50160_SWELL_COLS; col++) {
            fprintf(f, "%s\"%c%d\":%u", row || col ? "," : "", "ST"[row], col + 1,
                    e->swells[row][col]);
        }
    }
    fprintf(f,
            "},\"dips_unclassified\":%u,\"swells_unclassified\":%u,"
            "\"interruptions_short\":%u,\"interruptions_long\":%u,"
            "\"interruptions_unclassified\":%u}",
            e->dips_unclassified, e->swells_unclassified, e->interruptions_short,
            e->interruptions_long, e->interruptions_unclassified);
}

static void j_ie_stat(FILE *f, const char *key, const struct pq_ieee519_stat *st, int day)
{
    fprintf(f, ",\"%s\":", key);
    if (st->verdict == V_NE) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\"verdict\":\"%s\"", verdict_json(st->verdict));
    j_kv(f, "limit_pct", st->limit_pct);
    j_kv(f, "value", st->value);
    fprintf(f, ",\"n\":%u", st->n);
    if (day) {
        fprintf(f, ",\"n_days\":%u,\"n_days_failed\":%u,\"worst_day\":%d", st->n_days,
                st->n_days_failed, st->worst_day);
    }
    fputc('}', f);
}

static void j_ie_check(const struct report *r, FILE *f, const char *name, int ph, int h,
                       const struct pq_ieee519_check *c)
{
    fputs(",\n{\"parameter\":", f);
    j_str(f, name);
    fprintf(f, ",\"phase\":\"%s\"", phase_name(r, ph));
    if (h > 0) {
        fprintf(f, ",\"order\":%d", h);
    }
    fprintf(f, ",\"verdict\":\"%s\"", verdict_json(c->verdict));
    j_kv(f, "table_pct", c->table_pct);
    j_ie_stat(f, "week95", &c->week95, 0);
    j_ie_stat(f, "week99", &c->week99, 0);
    j_ie_stat(f, "day99", &c->day99, 1);
    fputc('}', f);
}

static void j_ie_parameters(const struct report *r, const struct summary *s, FILE *f)
{
    const struct pq_ieee519_result *e = &s->ie;
    const struct pq_ieee519_limits *l = &e->limits;

    fprintf(f, ",\n\"voltage_verdict\":\"%s\",\"current_verdict\":\"%s\"",
            verdict_json(e->u_verdict), verdict_json(e->i_verdict));
    fprintf(f, ",\n\"limits\":{\"current_table\":%d,\"current_row\":%d", l->table,
            l->row);
    j_kv(f, "isc_il", l->isc_il);
    j_kv(f, "u_h_pct", l->u_h_pct);
    j_kv(f, "u_thd_pct", l->u_thd_pct);
    j_kv(f, "i_tdd_pct", l->i_tdd_pct);
    fputs(",\"i_h_pct\":[", f);
    for (int h = 2; h <= PQ_IEEE519_MAX_H; h++) {
        fputs(h > 2 ? "," : "", f);
        j_num(f, l->i_h_pct[h]);
    }
    fputs("]}", f);
    fprintf(f,
            ",\n\"parameters\":[{\"parameter\":\"observation\",\"n_10min\":%u,"
            "\"n_10min_invalid\":%u,\"n_10min_duplicate\":%u,\"n_3s\":%u,"
            "\"n_3s_invalid\":%u,\"n_3s_late\":%u,\"n_3s_overflow\":%u,\"n_outside\":%u}",
            e->n_10min, e->n_10min_invalid, e->n_10min_duplicate, e->n_3s,
            e->n_3s_invalid, e->n_3s_late, e->n_3s_overflow, e->n_outside);
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        j_ie_check(r, f, "u_thd", ph, 0, &e->u_thd[ph]);
    }
    for (int h = 2; h <= PQ_IEEE519_MAX_H; h++) {
        for (int ph = 0; ph < r->cfg.nph; ph++) {
            j_ie_check(r, f, "u_h", ph, h, &e->u_h[ph][h]);
        }
    }
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        j_ie_check(r, f, "i_tdd", ph, 0, &e->i_tdd[ph]);
    }
    for (int h = 2; h <= PQ_IEEE519_MAX_H; h++) {
        for (int ph = 0; ph < r->cfg.nph; ph++) {
            j_ie_check(r, f, "i_h", ph, h, &e->i_h[ph][h]);
        }
    }
    fputs("]", f);
}

static void j_options(const struct report *r, const struct summary *s, FILE *f)
{
    fputs(",\n\"options\":{", f);
    if (r->en) {
        fprintf(f, "\"network\":\"%s\",\"system\":\"%s\",", r->cfg.mv ? "MV" : "LV",
                r->cfg.island ? "island" : "synchronous");
        fprintf(f, "\"%s\":", r->cfg.mv ? "uc_v" : "un_v");
        j_num(f, r->cfg.udin_v);
        fprintf(f, ",\"flicker_evaluated\":%s,", r->has_flicker ? "true" : "false");
    } else {
        fprintf(f, "\"edition\":%d,\"bus_v\":", r->cfg.edition);
        j_num(f, r->cfg.bus_v);
        j_kv(f, "isc_a", r->cfg.isc_a);
        j_kv(f, "il_a", r->cfg.il_a);
        j_kv(f, "udin_v", r->cfg.udin_v);
        fprintf(f, ",\"currents_evaluated\":%s,", s->ie.limits.table ? "true" : "false");
    }
    fprintf(f, "\"voltage\":\"%s\",\"phases\":%d,\"f_nom_hz\":%.0f}",
            r->cfg.line_to_line ? "line-to-line" : "line-to-neutral", r->cfg.nph,
            r->cfg.f_nom_hz);
}

static void j_nema(const struct report *r, const struct summary *s, FILE *f)
{
    fputs(",\n\"unbalance_nema\":{", f);
    if (r->cfg.nph < 3) {
        fputs("\"applicable\":false}", f);
        return;
    }
    fprintf(f, "\"applicable\":true,\"n\":%u", s->nema_n);
    j_kv(f, "max_pct", s->nema_max_pct);
    fputs(",\"max_at\":", f);
    if (s->nema_n) {
        j_time(f, s->nema_at_ns);
    } else {
        fputs("null", f);
    }
    /* -1 from pq_nema_derating(): above 5 %, operation not recommended */
    j_kv(f, "derating", s->nema_derating >= 0 ? s->nema_derating : NAN);
    fprintf(f, ",\"operation_recommended\":%s",
            !isfinite(s->nema_derating) ? "null"
            : s->nema_derating >= 0     ? "true"
                                        : "false");
    j_kv(f, "u2_max_pct", s->u2_max_pct);
    fputc('}', f);
}

static void j_event(const struct report *r, const struct pq_event *ev, FILE *f)
{
    fputs("\n{\"kind\":", f);
    j_str(f, pq_event_kind_name(ev->kind));
    fputs(",\"start\":", f);
    j_time(f, ev->start_ns);
    fputs(",\"end\":", f);
    j_time(f, ev->end_ns);
    j_kv(f, "duration_s", ev->duration_s);
    fputs(",\"phases\":[", f);
    for (int ph = 0, n = 0; ph < PQ_NPH; ph++) {
        if (ev->phases & 1u << ph) {
            fprintf(f, "%s\"%s\"", n++ ? "," : "", phase_name(r, ph));
        }
    }
    fputc(']', f);
    j_kv(f, "residual_v", ev->residual_v);
    j_kv(f, "residual_pct", ev->residual_pct);
    j_kv(f, "max_v", ev->max_v);
    j_kv(f, "max_pct", ev->max_pct);
    fputs(",\"en50160\":", f);
    j_str(f, ev->en50160);
    fprintf(f, ",\"itic\":\"%s\",\"semi_f47\":\"%s\",\"unfinished\":%s}",
            pq_itic_name(ev->itic), pq_semi_name(ev->semi_f47),
            (ev->flags & PQ_EVF_UNFINISHED) ? "true" : "false");
}

static void j_events(const struct report *r, const struct summary *s, FILE *f)
{
    fprintf(f, ",\n\"events\":{\"n\":%u,\"listed\":%zu,\"not_listed\":%u", r->ev_total,
            r->nev, r->ev_dropped);
    if (r->en) {
        j_en_tables(s, f);
    }
    fputs(",\"list\":[", f);
    for (size_t i = 0; i < r->nev; i++) {
        fputs(i ? "," : "", f);
        j_event(r, &r->ev[i], f);
    }
    fputs("]}", f);
}

static int finish(FILE *f)
{
    if (fflush(f) != 0 || ferror(f)) {
        return -EIO;
    }
    return 0;
}

int report_write_json(const struct report *r, FILE *f)
{
    struct summary *s;

    if (r->nomem) {
        return -ENOMEM;
    }
    s = summarize(r);
    if (!s) {
        return -ENOMEM;
    }
    j_head(r, f);
    j_options(r, s, f);
    fprintf(f, ",\n\"verdict\":\"%s\",\"failed\":", verdict_json(s->verdict));
    j_failed(r, s, f);
    if (r->en) {
        j_en_parameters(r, s, f);
        fputs(",\n\"flicker_pst\":{", f);
        fprintf(f, "\"n\":%u,\"n_valid\":%u,\"max\":[", r->n_pst, r->n_pst_valid);
        for (int ph = 0; ph < r->cfg.nph; ph++) {
            fputs(ph ? "," : "", f);
            j_num(f, r->pst_max[ph]);
        }
        fputs("]}", f);
    } else {
        j_ie_parameters(r, s, f);
    }
    j_nema(r, s, f);
    j_events(r, s, f);
    fputs("}\n", f);
    free(s);
    return finish(f);
}

/* ---- HTML: helpers ---------------------------------------------------------------- */

static const char *const phase_colour[PQ_NPH] = {"#0969da", "#bc4c00", "#8250df"};

/* Text into HTML (element content or a quoted attribute). */
static void h_esc(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if (*p >= 0x20 || *p == '\t' || *p == '\n') {
                fputc(*p, f);
            }
        }
    }
}

/* Plot area (x, y, w, h in SVG units) and the data range it shows. */
struct axes {
    double x, y, w, h;
    double x0, x1, y0, y1;
    int xlog;
};

static double clamp01(double t)
{
    return t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
}

static double ax_x(const struct axes *a, double v)
{
    double t = a->xlog ? (log10(v) - log10(a->x0)) / (log10(a->x1) - log10(a->x0))
                       : (v - a->x0) / (a->x1 - a->x0);

    return a->x + clamp01(isfinite(t) ? t : 0.0) * a->w;
}

static double ax_y(const struct axes *a, double v)
{
    double t = (v - a->y0) / (a->y1 - a->y0);

    return a->y + a->h - clamp01(isfinite(t) ? t : 0.0) * a->h;
}

/* 1, 2 or 5 times a power of ten, about range / n. */
static double nice_step(double range, int n)
{
    double raw = range / n;
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;

    return (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
}

static void svg_open(FILE *f, int w, int h, const char *label)
{
    fprintf(f,
            "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
            "aria-label=\"",
            w, h, w, h);
    h_esc(f, label);
    fputs("\">\n", f);
}

/* Horizontal grid lines with labels at the left, a frame, a y title. */
static void svg_yaxis(FILE *f, const struct axes *a, double step, const char *title)
{
    for (double v = ceil(a->y0 / step) * step; v <= a->y1 + step * 1e-9; v += step) {
        double y = ax_y(a, v);

        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                a->x, y, a->x + a->w, y, a->x - 5, y + 4,
                fabs(v) < step * 1e-9 ? 0.0 : v);
    }
    fprintf(f,
            "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
            "<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            a->x, a->y, a->w, a->h, a->x - 44, a->y + a->h / 2);
    h_esc(f, title);
    fputs("</text>\n", f);
}

/* Vertical grid and labels of a UTC time axis (x in seconds). */
static void svg_time_axis(FILE *f, const struct axes *a)
{
    static const double steps[] = {1,     2,     5,     10,    15,     30,    60,
                                   120,   300,   600,   900,   1800,   3600,  7200,
                                   10800, 21600, 43200, 86400, 172800, 604800};
    double span = a->x1 - a->x0, step = steps[0];

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        step = steps[i];
        if (span / step <= 8.0) {
            break;
        }
    }
    for (double t = ceil(a->x0 / step) * step; t <= a->x1 + 1e-6; t += step) {
        time_t s = (time_t) t;
        struct tm tm;
        char lab[32];
        double x = ax_x(a, t);

        gmtime_r(&s, &tm);
        strftime(lab, sizeof(lab),
                 step >= 86400 ? "%m-%d"
                 : step >= 60  ? "%H:%M"
                               : "%H:%M:%S",
                 &tm);
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, a->y, x, a->y + a->h, x, a->y + a->h + 15, lab);
    }
}

/* ---- HTML: plots ------------------------------------------------------------------- */

/* The 10-min voltage of each phase as steps over the period, against the
 * share band (filled) and the 100 % band (red, dashed). */
static void h_voltage_plot(const struct report *r, const struct summary *s, FILE *f)
{
    const struct pq_en50160_check *c = &s->en.voltage[0];
    struct axes a = {64, 12, 960, 250, 0, 0, 0, 0, 0};
    double un = r->cfg.udin_v, lo = 0.8 * un, hi = 1.15 * un;
    const double lines[] = {c->lo, c->hi, c->lo100, c->hi100, un};

    a.x0 = (double) r->p_start / 1e9;
    a.x1 = (double) r->p_end / 1e9;
    for (size_t i = 0; i < r->ntm; i++) {
        for (int ph = 0; ph < r->cfg.nph; ph++) {
            lo = fmin(lo, r->tm[i].u[ph]);
            hi = fmax(hi, r->tm[i].u[ph]);
        }
    }
    a.y0 = fmax(lo, 0.5 * un);
    a.y1 = fmin(hi, 1.5 * un);
    fputs("<figure><figcaption>10-min supply voltage per phase against the EN 50160 "
          "band</figcaption>\n",
          f);
    svg_open(f, 1100, 300, "10-min voltage per phase");
    fprintf(
        f,
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#dafbe1\"/>\n",
        a.x, ax_y(&a, c->hi), a.w, ax_y(&a, c->lo) - ax_y(&a, c->hi));
    svg_yaxis(f, &a, nice_step(a.y1 - a.y0, 6),
              r->cfg.line_to_line ? "U L-L (V)" : "U L-N (V)");
    svg_time_axis(f, &a);
    for (int i = 0; i < 5; i++) {
        const char *col = i < 2 ? "#1a7f37" : i < 4 ? "#cf222e" : "#57606a";
        char lab[32] = "Un";

        if (!isfinite(lines[i]) || (i < 2 && lines[i] == lines[i + 2])) {
            continue; /* LV: +10 % is both bands' edge; drawn once, red */
        }
        if (i < 4) {
            snprintf(lab, sizeof(lab), "%+.4g %%%s", 100.0 * (lines[i] / un - 1.0),
                     i >= 2 ? " always" : "");
        }
        fprintf(
            f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"1.5\"%s/><text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text>\n",
            a.x, ax_y(&a, lines[i]), a.x + a.w, ax_y(&a, lines[i]), col,
            i < 4 ? " stroke-dasharray=\"6 4\"" : "", a.x + a.w + 6,
            ax_y(&a, lines[i]) + 4, col, lab);
    }
    for (int ph = 0; ph < r->cfg.nph; ph++) {
        for (int valid = 0; valid < 2; valid++) {
            fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s d=\"",
                    phase_colour[ph], valid ? "2.5" : "1.5",
                    valid ? "" : " stroke-dasharray=\"5 3\" opacity=\"0.7\"");
            for (size_t i = 0; i < r->ntm; i++) {
                const struct tenmin *t = &r->tm[i];
                double t0 = fmax((double) t->start_ns, (double) r->p_start) / 1e9;
                double t1 = fmin((double) t->end_ns, (double) r->p_end) / 1e9;

                if (valid_10min(r, t) == valid && isfinite(t->u[ph]) && t1 > t0) {
                    fprintf(f, "M%.1f %.1fH%.1f", ax_x(&a, t0), ax_y(&a, t->u[ph]),
                            ax_x(&a, t1));
                }
                if (i + 1 < r->ntm && valid && t->end_ns == t[1].start_ns) {
                    fprintf(f, "M%.1f %.1fV%.1f", ax_x(&a, t1), ax_y(&a, t->u[ph]),
                            ax_y(&a, t[1].u[ph]));
                }
            }
            fputs("\"/>\n", f);
        }
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                a.x + 10 + ph * 60, a.y + 12, phase_colour[ph], a.x + 28 + ph * 60,
                a.y + 17, phase_name(r, ph));
    }
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\">dashed: flagged or partial, excluded</text>\n",
            a.x + 200, a.y + 17);
    if (r->ntm == 0) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"big\">no "
                "10-min value in the recording</text>\n",
                a.x + a.w / 2, a.y + a.h / 2);
    }
    fputs("</svg></figure>\n", f);
}

struct bar {
    char label[12]; /* an order, "THD" or "TDD" */
    double value, limit;
};

/* Bars against per-bar limits (a black tick each); red above the limit. */
static void h_bars(FILE *f, const char *caption, const struct bar *b, int n,
                   const char *ytitle)
{
    struct axes a = {64, 24, 1020, 210, 0, 1, 0, 1, 0};
    double top = 1.0, slot;

    for (int i = 0; i < n; i++) {
        top = fmax(top, fmax(isfinite(b[i].value) ? b[i].value : 0.0,
                             isfinite(b[i].limit) ? b[i].limit : 0.0));
    }
    a.y1 = top * 1.15;
    a.x1 = n;
    slot = a.w / n;
    fputs("<figure><figcaption>", f);
    h_esc(f, caption);
    fputs("</figcaption>\n", f);
    svg_open(f, 1100, 270, caption);
    svg_yaxis(f, &a, nice_step(a.y1, 5), ytitle);
    for (int i = 0; i < n; i++) {
        double cx = a.x + (i + 0.5) * slot;
        int over = b[i].value > b[i].limit;

        if (isfinite(b[i].value)) {
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"%s\"/>\n",
                    cx - 0.32 * slot, ax_y(&a, b[i].value), 0.64 * slot,
                    ax_y(&a, 0) - ax_y(&a, b[i].value), over ? "#cf222e" : "#2da44e");
        }
        if (over) {
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"bad\">"
                    "%.3g</text>\n",
                    cx, ax_y(&a, b[i].value) - 4, b[i].value);
        }
        if (isfinite(b[i].limit)) {
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#24292f\" stroke-width=\"2\"/>\n",
                    cx - 0.46 * slot, ax_y(&a, b[i].limit), cx + 0.46 * slot,
                    ax_y(&a, b[i].limit));
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"%s>%s</text>\n", cx,
                a.y + a.h + 14, isfinite(b[i].value) ? "" : " fill=\"#8c959f\"",
                b[i].label);
    }
    fprintf(
        f,
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">order</text>"
        "<g transform=\"translate(%.1f 10)\"><rect width=\"12\" height=\"10\" "
        "fill=\"#2da44e\"/><text x=\"16\" y=\"9\">within</text><rect x=\"70\" "
        "width=\"12\" height=\"10\" fill=\"#cf222e\"/><text x=\"86\" y=\"9\">above "
        "limit</text><line x1=\"170\" y1=\"5\" x2=\"190\" y2=\"5\" stroke=\"#24292f\" "
        "stroke-width=\"2\"/><text x=\"195\" y=\"9\">limit</text></g>\n",
        a.x + a.w / 2, a.y + a.h + 30, a.x + a.w - 240);
    fputs("</svg></figure>\n", f);
}

static void h_en_bars(const struct report *r, const struct summary *s, FILE *f)
{
    struct bar b[NH_EN];
    int n = 0;

    (void) r;
    for (int h = 2; h <= PQ_EN50160_MAX_H; h++, n++) {
        snprintf(b[n].label, sizeof(b[n].label), "%d", h);
        b[n].value = s->p95[h];
        b[n].limit = pq_en50160_harmonic_limit_pct(h);
    }
    snprintf(b[n].label, sizeof(b[n].label), "THD");
    b[n].value = s->p95[0];
    b[n].limit = s->en.thd[0].hi;
    n++;
    h_bars(f,
           "Voltage harmonics: 95th percentile of the valid 10-min values (largest "
           "phase) against EN 50160 Table 1",
           b, n, "% of U1");
}

static void h_ie_bars(const struct report *r, const struct summary *s, FILE *f,
                      int current)
{
    struct bar b[NH_IE];
    int n = 0;

    for (int k = 2; k <= PQ_IEEE519_MAX_H + 1; k++, n++) {
        int h = k <= PQ_IEEE519_MAX_H ? k : 0; /* THD or TDD last */

        b[n].value = b[n].limit = NAN;
        for (int ph = 0; ph < r->cfg.nph; ph++) {
            const struct pq_ieee519_check *c = ie_check(s, current, h, ph);

            b[n].limit = c->week95.limit_pct;
            if (isfinite(c->week95.value) && !(c->week95.value <= b[n].value)) {
                b[n].value = c->week95.value;
            }
        }
        snprintf(b[n].label, sizeof(b[n].label), "%d", h);
        if (!h) {
            snprintf(b[n].label, sizeof(b[n].label), current ? "TDD" : "THD");
        }
    }
    h_bars(f,
           current ? "Current harmonics: weekly 95th percentile of the 10-min values "
                     "(largest phase) against IEEE 519 Table 2"
                   : "Voltage harmonics: weekly 95th percentile of the 10-min values "
                     "(largest phase) against IEEE 519 Table 1",
           b, n, current ? "% of IL" : "% of U1");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

#define ITIC_T0   1e-4 /* s: the chart's time axis */
#define ITIC_T1   1e3
#define ITIC_TOP  300.0 /* %: the upper curve is clipped here (500 % at 1/6 ms) */
#define ITIC_NPTS 300

/* Durations to draw the ITIC curves at: log-spaced, plus both sides of
 * every corner so the steps stay vertical. */
static int itic_times(double *t)
{
    static const double corners[] = {1.0 / 6000.0, 1e-3, 3e-3, 20e-3, 0.5, 10.0};
    int n = 0;

    for (int i = 0; i < ITIC_NPTS; i++) {
        t[n++] = ITIC_T0 * pow(ITIC_T1 / ITIC_T0, (double) i / (ITIC_NPTS - 1));
    }
    for (size_t i = 0; i < sizeof(corners) / sizeof(corners[0]); i++) {
        t[n++] = corners[i];
        t[n++] = corners[i] * (1.0 + 1e-9);
    }
    qsort(t, (size_t) n, sizeof(*t), cmp_double);
    return n;
}

/* A polyline of an ITIC boundary; region: close it to the top (upper) or
 * the bottom (lower) as a filled area. */
static void itic_curve(FILE *f, const struct axes *a, const double *t, int n, int upper,
                       const char *attrs)
{
    fputs("<path d=\"", f);
    for (int i = 0; i < n; i++) {
        double v = upper ? pq_itic_upper_pct(t[i]) : pq_itic_lower_pct(t[i]);

        fprintf(f, "%s%.1f %.1f", i ? "L" : "M", ax_x(a, t[i]), ax_y(a, fmin(v, a->y1)));
    }
    fprintf(f, "\" %s/>\n", attrs);
}

static void itic_marker(FILE *f, const struct axes *a, const struct pq_event *ev)
{
    static const char *const colour[] = {"#2da44e", "#bf8700", "#cf222e", "#8c959f"};
    double pct = ev->kind == PQ_EV_SWELL ? ev->max_pct : ev->residual_pct;
    double x = ax_x(a, fmax(ev->duration_s, a->x0)), y = ax_y(a, pct);
    const char *fill = colour[ev->itic >= 0 && ev->itic <= PQ_ITIC_NA ? ev->itic : 3];
    const char *stroke = ev->semi_f47 == PQ_SEMI_FAIL ? "stroke=\"#8250df\" "
                                                        "stroke-width=\"2.5\""
                                                      : "stroke=\"#24292f\" "
                                                        "stroke-width=\"0.8\"";

    if (!isfinite(pct)) {
        return;
    }
    if (ev->kind == PQ_EV_DIP) {
        fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\" %s/>\n",
                x - 6, y - 5, x + 6, y - 5, x, y + 6, fill, stroke);
    } else if (ev->kind == PQ_EV_SWELL) {
        fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"%s\" %s/>\n",
                x - 6, y + 5, x + 6, y + 5, x, y - 6, fill, stroke);
    } else {
        fprintf(
            f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\" %s/>\n",
            x - 5, y - 5, fill, stroke);
    }
}

static void itic_axes(FILE *f, const struct axes *a)
{
    static const char *const lab[] = {"0.1 ms", "1 ms", "10 ms", "0.1 s",
                                      "1 s",    "10 s", "100 s", "1000 s"};

    for (int d = 0; d < 8; d++) {
        double x = ax_x(a, ITIC_T0 * pow(10.0, d));

        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, a->y, x, a->y + a->h, x, a->y + a->h + 15, lab[d]);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">duration</text>\n",
            a->x + a->w / 2, a->y + a->h + 31);
}

/* Dips, swells and interruptions on the ITIC curve, with SEMI F47. */
static void h_itic(const struct report *r, FILE *f)
{
    struct axes a = {56, 10, 452, 270, ITIC_T0, ITIC_T1, 0, ITIC_TOP, 1};
    double t[ITIC_NPTS + 12];
    int n = itic_times(t), shown = 0;

    fputs("<figure><figcaption>Events on the ITIC (CBEMA) curve and SEMI "
          "F47</figcaption>\n",
          f);
    svg_open(f, 536, 320, "events on the ITIC and SEMI F47 curves");
    /* regions: above the upper boundary, below the lower one */
    fprintf(f, "<path d=\"M%.1f %.1fH%.1fV%.1f", a.x, a.y, a.x + a.w, a.y);
    for (int i = n - 1; i >= 0; i--) {
        fprintf(f, "L%.1f %.1f", ax_x(&a, t[i]),
                ax_y(&a, fmin(pq_itic_upper_pct(t[i]), ITIC_TOP)));
    }
    fputs("Z\" fill=\"#ffebe9\"/>\n", f);
    fprintf(f, "<path d=\"M%.1f %.1f", a.x, a.y + a.h);
    for (int i = 0; i < n; i++) {
        fprintf(f, "L%.1f %.1f", ax_x(&a, t[i]), ax_y(&a, pq_itic_lower_pct(t[i])));
    }
    fprintf(f, "L%.1f %.1fZ\" fill=\"#fff8c5\"/>\n", a.x + a.w, a.y + a.h);
    svg_yaxis(f, &a, 50, "% of nominal");
    itic_axes(f, &a);
    itic_curve(f, &a, t, n, 1, "fill=\"none\" stroke=\"#24292f\" stroke-width=\"2\"");
    itic_curve(f, &a, t, n, 0, "fill=\"none\" stroke=\"#24292f\" stroke-width=\"2\"");
    fprintf(f,
            "<path d=\"M%.1f %.1fH%.1fV%.1fH%.1fV%.1fH%.1f\" fill=\"none\" "
            "stroke=\"#8250df\" stroke-width=\"2\" stroke-dasharray=\"7 4\"/>\n",
            ax_x(&a, 0.05), ax_y(&a, 50), ax_x(&a, 0.2), ax_y(&a, 70), ax_x(&a, 0.5),
            ax_y(&a, 80), ax_x(&a, 1.0));
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" class=\"region\">prohibited</text>"
            "<text x=\"%.1f\" y=\"%.1f\" class=\"region\">no interruption</text>"
            "<text x=\"%.1f\" y=\"%.1f\" class=\"region\">no damage</text>"
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#8250df\" text-anchor=\"end\">SEMI "
            "F47</text>\n",
            ax_x(&a, 0.02), ax_y(&a, 250), ax_x(&a, 2e-4), ax_y(&a, 95), ax_x(&a, 1.0),
            ax_y(&a, 25), ax_x(&a, 0.05) - 4, ax_y(&a, 50) + 4);
    for (size_t i = 0; i < r->nev; i++) {
        if (r->ev[i].kind <= PQ_EV_INTERRUPTION) {
            itic_marker(f, &a, &r->ev[i]);
            shown++;
        }
    }
    if (!shown) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"big\">no "
                "dip, swell or interruption</text>\n",
                ax_x(&a, 10.0), ax_y(&a, 200));
    }
    fputs("</svg>\n<div class=\"legend\">▼ dip &nbsp; ▲ swell &nbsp; ■ interruption "
          "&nbsp; fill: <span style=\"color:#2da44e\">■</span> no interruption "
          "<span style=\"color:#bf8700\">■</span> no damage "
          "<span style=\"color:#cf222e\">■</span> prohibited &nbsp; purple outline: "
          "SEMI F47 fail. Magnitude: residual (dips) or maximum (swells); the ITIC "
          "verdict is per segment, as events.h describes. The upper curve rises to "
          "500 % at 0.17 ms (clipped).</div></figure>\n",
          f);
}

/* NEMA MG-1 derating curve with the largest 10-min unbalance on it. */
static void h_nema(const struct report *r, const struct summary *s, FILE *f)
{
    double xmax = fmax(7.0, isfinite(s->nema_max_pct) ? ceil(s->nema_max_pct) + 1 : 0);
    struct axes a = {56, 10, 452, 270, 0, xmax, 0.7, 1.02, 0};
    char t[64], a_[32], b[32], c[32];

    fputs("<figure><figcaption>Voltage unbalance (NEMA MG-1) and motor "
          "derating</figcaption>\n",
          f);
    svg_open(f, 536, 320, "NEMA unbalance and derating");
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"#ffebe9\"/><text x=\"%.1f\" y=\"%.1f\" class=\"region\">not "
            "recommended</text>\n",
            ax_x(&a, 5.0), a.y, ax_x(&a, xmax) - ax_x(&a, 5.0), a.h, ax_x(&a, 5.0) + 6,
            a.y + 16);
    svg_yaxis(f, &a, 0.05, "derating factor");
    for (int x = 0; x <= (int) xmax; x++) {
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
                ax_x(&a, x), a.y, ax_x(&a, x), a.y + a.h, ax_x(&a, x), a.y + a.h + 15, x);
    }
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">NEMA unbalance of the "
            "line-to-line voltages (%%)</text>\n<path d=\"",
            a.x + a.w / 2, a.y + a.h + 31);
    for (int i = 0; i <= 100; i++) {
        fprintf(f, "%s%.1f %.1f", i ? "L" : "M", ax_x(&a, i * 0.05),
                ax_y(&a, pq_nema_derating(i * 0.05)));
    }
    fputs("\" fill=\"none\" stroke=\"#24292f\" stroke-width=\"2\"/>\n", f);
    if (r->cfg.nph < 3 || !isfinite(s->nema_max_pct)) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                "class=\"big\">%s</text>\n",
                a.x + a.w / 2, a.y + a.h / 2,
                r->cfg.nph < 3 ? "single phase: no unbalance" : "no valid 10-min value");
    } else {
        double y = s->nema_derating >= 0 ? s->nema_derating : a.y1;
        int bad = !(s->nema_derating >= 1.0);
        double dy = y > 0.97 ? 20 : -10; /* the label below a point at the top */

        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\" stroke=\"#24292f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">max %s %% → "
                "%s</text>\n",
                ax_x(&a, s->nema_max_pct), ax_y(&a, y), bad ? "#cf222e" : "#2da44e",
                ax_x(&a, s->nema_max_pct) + (s->nema_max_pct > xmax / 2 ? -10 : 10),
                ax_y(&a, y) + dy, s->nema_max_pct > xmax / 2 ? "end" : "start",
                bad ? "bad" : "good", meas(c, sizeof(c), s->nema_max_pct, "%"),
                s->nema_derating >= 0 ? meas(b, sizeof(b), s->nema_derating, "")
                                      : "not recommended");
    }
    fputs("</svg>\n<div class=\"legend\">", f);
    if (r->cfg.nph == 3 && isfinite(s->nema_max_pct)) {
        fmt_time(t, sizeof(t), s->nema_at_ns, 0);
        fprintf(f,
                "Largest NEMA unbalance of the %u valid 10-min values: <b>%s %%</b> "
                "(from %s); derating factor <b>%s</b> for normal-torque induction "
                "motors (NEMA MG-1: derate above 1 %%, no operation above 5 %%). IEC "
                "u2 largest: %s %%.",
                s->nema_n, meas(a_, sizeof(a_), s->nema_max_pct, "%"), t,
                s->nema_derating >= 0 ? meas(b, sizeof(b), s->nema_derating, "")
                                      : "not applicable",
                meas(c, sizeof(c), s->u2_max_pct, "%"));
    }
    fputs("</div></figure>\n", f);
}

/* ---- HTML: page ----------------------------------------------------------------------
 */

static const char css[] =
    "body{font-family:sans-serif;margin:14px 22px;color:#1f2328;background:#fff;"
    "font-size:14px}\n"
    "h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:18px 0 6px}\n"
    ".head{display:flex;justify-content:space-between;align-items:center;"
    "border-bottom:2px solid #d0d7de;padding-bottom:8px}\n"
    ".sub{color:#57606a;margin:2px 0}.sub b{color:#1f2328}\n"
    ".badge{font-size:30px;font-weight:bold;padding:10px 26px;border-radius:8px;"
    "color:#fff;text-align:center}.badge small{display:block;font-size:12px;"
    "font-weight:normal}\n"
    ".pass{background:#1a7f37}.fail{background:#cf222e}.nodata{background:#9a6700}"
    ".ne{background:#8c959f}\n"
    ".warn{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:10px 0;"
    "border-radius:6px}\n"
    "table{border-collapse:collapse;margin:6px 0}\n"
    "table.params{width:100%}th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;"
    "text-align:left;vertical-align:top}th{background:#f6f8fa}\n"
    "td.v{font-weight:bold;color:#fff;text-align:center;white-space:nowrap;width:96px}\n"
    ".note{color:#9a6700;font-size:12px;margin-top:2px}.n{white-space:nowrap;"
    "color:#57606a}\n"
    ".grid2{display:flex;gap:12px;flex-wrap:wrap}\n"
    "figure{margin:10px 0 0;border:1px solid #d0d7de;border-radius:6px;padding:6px 8px;"
    "display:inline-block}\nfigcaption{font-weight:bold;margin-bottom:2px}\n"
    ".legend{font-size:12px;color:#57606a;max-width:540px}\n"
    "svg{font-size:11px;display:block}svg text{fill:#1f2328}\n"
    "svg .grid{stroke:#d8dee4;stroke-width:1}svg .frame{fill:none;stroke:#57606a}\n"
    "svg text.bad{fill:#cf222e;font-weight:bold}svg text.good{fill:#1a7f37;"
    "font-weight:bold}svg text.big{font-size:15px;fill:#57606a}\n"
    "svg text.region{fill:#57606a;font-style:italic}\n"
    "table.ev td,table.ev th{font-size:12px;padding:2px 6px}\n"
    "table.cells td{text-align:center;min-width:26px}table.cells "
    "td.hit{background:#ffebe9;"
    "font-weight:bold}\n"
    ".foot{color:#57606a;font-size:12px;margin-top:14px;border-top:1px solid #d0d7de;"
    "padding-top:6px}\n";

static void h_header(const struct report *r, const struct summary *s, FILE *f)
{
    char a[64], b[64], span[32];
    double span_s = (double) (r->cfg.end_ns - r->cfg.start_ns) / 1e9;

    fmt_time(a, sizeof(a), r->cfg.start_ns, 0);
    fmt_time(b, sizeof(b), r->cfg.end_ns, 0);
    fmt_span(span, sizeof(span), span_s);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>",
          f);
    h_esc(f, standard_name(r));
    fputs(" report: ", f);
    h_esc(f, r->file);
    fprintf(f,
            "</title>\n<style>\n%s</style></head><body>\n<div class=\"head\"><div>"
            "<h1>",
            css);
    h_esc(f, standard_name(r));
    fputs(" report</h1>\n<div class=\"sub\">Recording <b>", f);
    h_esc(f, r->file);
    fputs("</b> · station <b>", f);
    h_esc(f, r->station[0] ? r->station : "–");
    fputs("</b> · device <b>", f);
    h_esc(f, r->device[0] ? r->device : "–");
    fprintf(f,
            "</b></div>\n<div class=\"sub\">Observation period <b>%s</b> to <b>%s</b> "
            "(<b>%s</b>)</div>\n<div class=\"sub\">",
            a, b, span);
    if (r->en) {
        fprintf(f, "%s network, %s system, %s %.6g V %s, %.0f Hz, %d phase%s",
                r->cfg.mv ? "MV" : "LV", r->cfg.island ? "island" : "synchronous",
                r->cfg.mv ? "Uc" : "Un", r->cfg.udin_v,
                r->cfg.line_to_line ? "L-L" : "L-N", r->cfg.f_nom_hz, r->cfg.nph,
                r->cfg.nph > 1 ? "s" : "");
    } else {
        fprintf(f, "Bus %.6g V L-L, Isc %.6g A, IL %.6g A, %.0f Hz, %d phase%s",
                r->cfg.bus_v, r->cfg.isc_a, r->cfg.il_a, r->cfg.f_nom_hz, r->cfg.nph,
                r->cfg.nph > 1 ? "s" : "");
    }
    fprintf(f,
            "</div></div>\n<div class=\"badge %s\">%s<small>overall verdict</small></div>"
            "</div>\n",
            verdict_class(s->verdict), verdict_text(s->verdict));
    if (span_s < 7 * 86400.0 || r->clipped) {
        fprintf(f,
                "<div class=\"warn\"><b>Short observation period.</b> The recording "
                "covers %s; %s states its limits over one week%s. The standard's rules "
                "are applied to this period as it is: read the verdict with the number "
                "of valid values (column N).</div>\n",
                span, standard_name(r),
                r->en ? " (the synchronous frequency rule over a year)" : "");
    }
    if (r->clipped) {
        fputs("<div class=\"warn\">The recording is longer than the standard's longest "
              "period: only its first part is evaluated.</div>\n",
              f);
    }
}

static void h_params(const struct report *r, const struct summary *s, FILE *f)
{
    struct row rows[MAX_ROWS];
    int n = build_rows(r, s, rows);

    fputs("<h2>Parameters</h2>\n<table class=\"params\"><tr><th>Parameter</th>"
          "<th>Limit</th><th>Measured statistic</th><th>N</th><th>Verdict</th></tr>\n",
          f);
    for (int i = 0; i < n; i++) {
        fputs("<tr><td><b>", f);
        h_esc(f, rows[i].name);
        fputs("</b></td><td>", f);
        h_esc(f, rows[i].limit);
        fputs("</td><td>", f);
        h_esc(f, rows[i].stat);
        if (rows[i].note[0]) {
            fputs("<div class=\"note\">", f);
            h_esc(f, rows[i].note);
            fputs("</div>", f);
        }
        fputs("</td><td class=\"n\">", f);
        h_esc(f, rows[i].n);
        fprintf(f, "</td><td class=\"v %s\">%s</td></tr>\n",
                verdict_class(rows[i].verdict), verdict_text(rows[i].verdict));
    }
    fputs("</table>\n", f);
}

static void h_events(const struct report *r, FILE *f)
{
    size_t n = r->nev < HTML_EVENTS ? r->nev : HTML_EVENTS;

    fprintf(f, "<h2>Events (%u)</h2>\n", r->ev_total);
    if (!r->ev_total) {
        fputs("<p>No dip, swell, interruption or rapid voltage change.</p>\n", f);
        return;
    }
    fputs("<table class=\"ev\"><tr><th>Start (UTC)</th><th>Kind</th><th>Phases</th>"
          "<th>Duration</th><th>Residual / max</th><th>EN 50160</th><th>ITIC</th>"
          "<th>SEMI F47</th></tr>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const struct pq_event *ev = &r->ev[i];
        double pct = ev->kind == PQ_EV_SWELL ? ev->max_pct : ev->residual_pct;
        char t[40], d[32], p[32];

        fmt_time(t, sizeof(t), ev->start_ns, 1);
        fmt_span(d, sizeof(d), ev->duration_s);
        fprintf(f, "<tr><td>%s</td><td>%s%s</td><td>", t, pq_event_kind_name(ev->kind),
                (ev->flags & PQ_EVF_UNFINISHED) ? " (unfinished)" : "");
        for (int ph = 0, k = 0; ph < PQ_NPH; ph++) {
            if (ev->phases & 1u << ph) {
                fprintf(f, "%s%s", k++ ? " " : "", phase_name(r, ph));
            }
        }
        meas(p, sizeof(p), pct, "%");
        fprintf(f,
                "</td><td>%s</td><td>%s%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                d, p, isfinite(pct) ? " %" : "", ev->en50160[0] ? ev->en50160 : "–",
                pq_itic_name(ev->itic), pq_semi_name(ev->semi_f47));
    }
    fputs("</table>\n", f);
    if (r->ev_total > n) {
        fprintf(f, "<p class=\"n\">… and %zu more, listed in the JSON report%s.</p>\n",
                (size_t) r->ev_total - n,
                r->ev_dropped ? " (up to its limit of " STR(REPORT_MAX_EVENTS) ")" : "");
    }
}

static void h_cells(FILE *f, const char *title, const char *rows, int nrow, int ncol,
                    const uint32_t *v, const char *const *cols)
{
    fprintf(f, "<table class=\"cells\"><tr><th>%s</th>", title);
    for (int c = 0; c < ncol; c++) {
        fprintf(f, "<th>%s</th>", cols[c]);
    }
    fputs("</tr>\n", f);
    for (int rr = 0; rr < nrow; rr++) {
        fprintf(f, "<tr><th>%c</th>", rows[rr]);
        for (int c = 0; c < ncol; c++) {
            uint32_t k = v[rr * ncol + c];

            fprintf(f, "<td%s>%u</td>", k ? " class=\"hit\"" : "", k);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void h_en_tables(const struct summary *s, FILE *f)
{
    static const char *const dcols[] = {"≤0.2 s", "≤0.5 s", "≤1 s", "≤5 s", "≤60 s"};
    static const char *const scols[] = {"≤0.5 s", "≤5 s", "≤60 s", "&gt;60 s"};
    const struct pq_en50160_result *e = &s->en;

    fputs("<h2>EN 50160 event tables</h2>\n<div class=\"grid2\"><div>", f);
    h_cells(f, "dips", "ABCDX", PQ_EN50160_DIP_ROWS, PQ_EN50160_DIP_COLS, &e->dips[0][0],
            dcols);
    fputs("<div class=\"legend\">A 90–80 %, B 80–70 %, C 70–40 %, D 40–5 %, X &lt;5 % "
          "residual</div></div><div>",
          f);
    h_cells(f, "swells", "ST", PQ_EN50160_SWELL_ROWS, PQ_EN50160_SWELL_COLS,
            &e->swells[0][0], scols);
    fprintf(f,
            "<div class=\"legend\">S ≥120 %%, T 110–120 %%</div></div><div><table>"
            "<tr><th>interruptions</th><th>n</th></tr><tr><td>short (≤ 3 min)</td>"
            "<td>%u</td></tr><tr><td>long</td><td>%u</td></tr><tr><td>dips outside "
            "the table</td><td>%u</td></tr><tr><td>swells outside the table</td>"
            "<td>%u</td></tr></table></div></div>\n",
            e->interruptions_short, e->interruptions_long, e->dips_unclassified,
            e->swells_unclassified);
}

static void h_foot(const struct report *r, FILE *f)
{
    fputs("<div class=\"foot\">", f);
    if (r->en) {
        fputs(
            "Rules of EN 50160:2010 clause 4 (LV) or 5 (MV): a share rule (95 %, 99 % or "
            "99.5 % of the values inside a band) and a 100 % rule; the share rule is "
            "judged on the percentage of valid values outside its band. ",
            f);
    } else {
        fputs(
            "IEEE 519 statistics: weekly 95th and 99th percentiles of the 10-min values "
            "and daily 99th percentiles of the 3-s values, against 1.0×, 1.5× and "
            "1.5× (voltage) or 2.0× (current) the table values; nearest-rank "
            "percentiles. ",
            f);
    }
    fprintf(f,
            "Values that overlap a dip, swell or interruption (IEC 61000-4-30 4.7) and "
            "incomplete aggregates are excluded. Generated by pqgate %s analyze.</div>\n"
            "</body></html>\n",
            PQGATE_VERSION);
}

int report_write_html(const struct report *r, FILE *f)
{
    struct summary *s;

    if (r->nomem) {
        return -ENOMEM;
    }
    s = summarize(r);
    if (!s) {
        return -ENOMEM;
    }
    h_header(r, s, f);
    h_params(r, s, f);
    fputs("<h2>Plots</h2>\n", f);
    if (r->en) {
        h_voltage_plot(r, s, f);
        h_en_bars(r, s, f);
    } else {
        if (s->ie.limits.table) {
            h_ie_bars(r, s, f, 1);
        }
        h_ie_bars(r, s, f, 0);
    }
    fputs("<div class=\"grid2\">", f);
    h_itic(r, f);
    h_nema(r, s, f);
    fputs("</div>\n", f);
    h_events(r, f);
    if (r->en) {
        h_en_tables(s, f);
    }
    h_foot(r, f);
    free(s);
    return finish(f);
}
