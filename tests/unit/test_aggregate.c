/* test_aggregate.c - pq/aggregate: IEC 61000-4-30 time aggregation.
 *
 * A small engine stand-in (struct fix) produces contiguous basic records and
 * restarts its series at every 10-min UTC tick with resync set, as the
 * metrology engine does; a sink keeps a summary of every emitted record and
 * the last full record of each level.  Times start from T0, a 2-h UTC tick.
 *
 * Tolerances: values the spec prints with 3 decimals (T12, T13) are checked
 * to half a unit of the last digit, 5e-4, and against their closed form to
 * 1e-9; other sums of a few thousand terms to 1e-9 absolute (their rounding
 * error is ~1e-12); angles to 1e-9 degree.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pq/aggregate.h"
#include "pq/record.h"

#define S_NS     1000000000LL
#define MS_NS    1000000LL
#define MIN_NS   (60 * S_NS)
#define T0_NS    (1704067200LL * S_NS) /* 2024-01-01T00:00:00Z */
#define BASIC_NS (200 * MS_NS)         /* a nominal basic interval */
#define UDIN_V   230.0
#define CAP      4096 /* records a sink keeps */

#define TOL_SPEC 5e-4 /* half a unit of the spec's 3rd decimal */
#define TOL      1e-9

struct got { /* summary of one emitted record */
    int agg;
    int64_t start_ns;
    int64_t end_ns;
    int count;
    unsigned flags;
    int nph;
    int has_in;
    double u_v; /* u_rms_v[0] */
    double p_w; /* p_w[PQ_NPH], the total */
    double deg; /* u_h_deg[0][0] */
    double i_a; /* i_rms_a[PQ_NPH], the neutral */
};

struct sink {
    int n;
    struct got rec[CAP];
    struct pq_interval last[PQ_AGG_COUNT]; /* last full record per level */
};

struct fix {
    struct pq_agg *a;
    int64_t t_ns;    /* start of the next basic record */
    int64_t dur_ns;  /* of a basic record */
    int resync_next; /* the next record starts a series at a tick */
    struct pq_interval rec;
    struct sink sink;
};

/* ---- helpers ---- */

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g is not within %g of %.17g\n", got, tol, want);
        fail();
    }
}

/* Angles in degrees: compared on the circle. */
static void assert_angle_close(double got, double want, double tol)
{
    double d = fmod(fabs(got - want), 360.0);

    if (!(got > -180.0 && got <= 180.0) || !(fmin(d, 360.0 - d) <= tol)) {
        print_error("angle %.17g is not in (-180, 180] within %g of %.17g\n", got, tol,
                    want);
        fail();
    }
}

static void collect(void *ctx, const struct pq_interval *r)
{
    struct sink *s = ctx;
    struct got *g;

    if (s->n >= CAP) {
        print_error("more than %d records emitted\n", CAP);
        fail();
    }
    g = &s->rec[s->n++];
    g->agg = r->agg;
    g->start_ns = r->start_ns;
    g->end_ns = r->end_ns;
    g->count = r->count;
    g->flags = r->flags;
    g->nph = r->nph;
    g->has_in = r->has_in;
    g->u_v = r->u_rms_v[0];
    g->p_w = r->p_w[PQ_NPH];
    g->deg = r->u_h_deg[0][0];
    g->i_a = r->i_rms_a[PQ_NPH];
    s->last[r->agg] = *r;
}

static int count_level(const struct sink *s, int level)
{
    int n = 0;

    for (int i = 0; i < s->n; i++) {
        n += s->rec[i].agg == level;
    }
    return n;
}

/* The k-th record of a level, failing if there is none. */
static const struct got *nth(const struct sink *s, int level, int k)
{
    for (int i = 0; i < s->n; i++) {
        if (s->rec[i].agg == level && k-- == 0) {
            return &s->rec[i];
        }
    }
    print_error("no record %d of level %s (%d emitted)\n", k, pq_agg_name(level), s->n);
    fail();
    return NULL;
}

static void assert_record(const struct got *g, int64_t start_ns, int64_t end_ns,
                          int count, unsigned flags)
{
    if (g->start_ns != start_ns || g->end_ns != end_ns || g->count != count ||
        g->flags != flags) {
        print_error("%s record [%lld, %lld) count %d flags %#x; want [%lld, %lld) "
                    "count %d flags %#x (times in ms from T0)\n",
                    pq_agg_name(g->agg), (long long) ((g->start_ns - T0_NS) / MS_NS),
                    (long long) ((g->end_ns - T0_NS) / MS_NS), g->count, g->flags,
                    (long long) ((start_ns - T0_NS) / MS_NS),
                    (long long) ((end_ns - T0_NS) / MS_NS), count, flags);
        fail();
    }
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    if (!f || pq_agg_new(10, UDIN_V, &f->a) != 0) {
        free(f);
        return -1;
    }
    f->dur_ns = BASIC_NS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    pq_agg_free(f->a);
    free(f);
    return 0;
}

/* Place the engine's next basic record at t_ns. */
static void start_at(struct fix *f, int64_t t_ns)
{
    f->t_ns = t_ns;
    f->resync_next = t_ns % PQ_AGG_10MIN_NS == 0;
}

/* The next basic record, with every magnitude at u_v and total power p_w;
 * the caller may change it before push(). */
static struct pq_interval *next_basic(struct fix *f, double u_v, double p_w)
{
    struct pq_interval *r = &f->rec;

    memset(r, 0, sizeof(*r));
    r->start_ns = f->t_ns;
    r->end_ns = f->t_ns + f->dur_ns;
    r->agg = PQ_AGG_200MS;
    r->nph = 3;
    r->count = 1;
    r->freq_hz = 50.0;
    for (int ph = 0; ph < PQ_NPH; ph++) {
        r->u_rms_v[ph] = u_v;
        r->u_ll_rms_v[ph] = u_v * sqrt(3.0);
        r->u_h_v[ph][0] = u_v;
        r->u_under_v[ph] = fmin(u_v, UDIN_V);
        r->u_over_v[ph] = fmax(u_v, UDIN_V);
        r->i_rms_a[ph] = 10.0;
        r->p_w[ph] = p_w / 3;
    }
    r->p_w[PQ_NPH] = p_w;
    return r;
}

/* Feed f->rec; then, like the engine, start the next record where this one
 * ends, or at the 10-min tick if this one ran into it (with resync). */
static void push(struct fix *f)
{
    int64_t tick = f->t_ns - f->t_ns % PQ_AGG_10MIN_NS + PQ_AGG_10MIN_NS;

    pq_agg_add(f->a, &f->rec, f->resync_next, collect, &f->sink);
    f->resync_next = 0;
    f->t_ns += f->dur_ns;
    if (f->t_ns >= tick) {
        f->t_ns = tick;
        f->resync_next = 1;
    }
}

static void feed(struct fix *f, long n, double u_v, double p_w, unsigned flags)
{
    for (long i = 0; i < n; i++) {
        next_basic(f, u_v, p_w)->flags = flags;
        push(f);
    }
}

/* Feed steady records until the next one would start at or after t_ns. */
static void feed_until(struct fix *f, int64_t t_ns, double u_v)
{
    while (f->t_ns < t_ns) {
        feed(f, 1, u_v, 1000.0, 0);
    }
}

static void flush(struct fix *f)
{
    pq_agg_flush(f->a, collect, &f->sink);
}

/* ---- construction ---- */

static void test_agg_new_with_bad_arguments_is_rejected_and_out_untouched(void **state)
{
    struct pq_agg *a = (struct pq_agg *) state; /* any non-NULL sentinel */

    assert_int_equal(pq_agg_new(11, 230.0, &a), -EINVAL);
    assert_int_equal(pq_agg_new(0, 230.0, &a), -EINVAL);
    assert_int_equal(pq_agg_new(10, -1.0, &a), -EINVAL);
    assert_int_equal(pq_agg_new(12, NAN, &a), -EINVAL);
    assert_ptr_equal(a, (struct pq_agg *) state);
    assert_int_equal(pq_agg_new(12, 0.0, &a), 0);
    pq_agg_free(a);
    pq_agg_free(NULL);
}

/* ---- aggregation operators (5.x, Annex D) ---- */

/* T12 */
static void test_agg_10min_of_2999_at_230_v_and_one_at_0_v_is_rms_229_962_v(void **state)
{
    struct fix *f = *state;
    const struct pq_interval *r = &f->sink.last[PQ_AGG_10MIN];

    start_at(f, T0_NS);
    feed(f, 1500, 230.0, 1000.0, 0);
    feed(f, 1, 0.0, 1000.0, 0);
    feed(f, 1499, 230.0, 1000.0, 0);
    assert_int_equal(count_level(&f->sink, PQ_AGG_10MIN), 0);
    feed(f, 1, 230.0, 1000.0, 0); /* first of the next slot closes it */

    assert_int_equal(count_level(&f->sink, PQ_AGG_10MIN), 1);
    assert_record(nth(&f->sink, PQ_AGG_10MIN, 0), T0_NS, T0_NS + 10 * MIN_NS, 3000, 0);
    for (int ph = 0; ph < PQ_NPH; ph++) {
        assert_close(r->u_rms_v[ph], 229.962, TOL_SPEC);
        assert_close(r->u_rms_v[ph], 230.0 * sqrt(2999.0 / 3000.0), TOL);
    }
    /* the arithmetic mean, 229.923, would be wrong */
    assert_true(fabs(r->u_rms_v[0] - 230.0 * 2999.0 / 3000.0) > 0.03);
}

/* T13 */
static void
test_agg_10min_of_220_v_and_240_v_deviates_2_150_under_2_197_over(void **state)
{
    struct fix *f = *state;
    const struct pq_interval *r = &f->sink.last[PQ_AGG_10MIN];

    start_at(f, T0_NS);
    for (int i = 0; i < 1500; i++) {
        feed(f, 1, 220.0, 1000.0, 0);
        feed(f, 1, 240.0, 1000.0, 0);
    }
    feed(f, 1, 230.0, 1000.0, 0);

    assert_record(nth(&f->sink, PQ_AGG_10MIN, 0), T0_NS, T0_NS + 10 * MIN_NS, 3000, 0);
    for (int ph = 0; ph < PQ_NPH; ph++) {
        double under = sqrt((220.0 * 220.0 + 230.0 * 230.0) / 2);
        double over = sqrt((230.0 * 230.0 + 240.0 * 240.0) / 2);

        assert_close(r->u_under_pct[ph], 2.150, TOL_SPEC);
        assert_close(r->u_over_pct[ph], 2.197, TOL_SPEC);
        assert_close(r->u_under_pct[ph], 100.0 * (230.0 - under) / 230.0, TOL);
        assert_close(r->u_over_pct[ph], 100.0 * (over - 230.0) / 230.0, TOL);
        assert_close(r->u_rms_v[ph], sqrt((220.0 * 220.0 + 240.0 * 240.0) / 2), TOL);
    }
}

static void test_agg_power_fields_are_arithmetic_means_and_pf_is_rederived(void **state)
{
    struct fix *f = *state;
    const struct pq_interval *r = &f->sink.last[PQ_AGG_3S];
    double pf_mean = 0;

    start_at(f, T0_NS);
    for (int i = 0; i < PQ_AGG_3S_N; i++) {
        struct pq_interval *b = next_basic(f, 230.0, 1000.0 * (i + 1));

        b->q_var[PQ_NPH] = 500.0 * (i - 7); /* -3500 .. 3500 */
        b->s_va[PQ_NPH] = b->p_w[PQ_NPH] + 5000.0;
        b->pf[PQ_NPH] = b->p_w[PQ_NPH] / b->s_va[PQ_NPH];
        b->freq_hz = 49.93 + 0.01 * i;
        pf_mean += b->pf[PQ_NPH] / PQ_AGG_3S_N;
        push(f);
    }

    assert_int_equal(count_level(&f->sink, PQ_AGG_3S), 1);
    assert_close(r->p_w[PQ_NPH], 8000.0, TOL); /* RMS would be 9092 */
    assert_close(r->p_w[0], 8000.0 / 3, TOL);
    assert_close(r->q_var[PQ_NPH], 0.0, TOL);
    assert_close(r->s_va[PQ_NPH], 13000.0, TOL);
    assert_close(r->freq_hz, 50.0, TOL);
    /* pf = mean P / mean S (pq_interval_derive), not the mean of the pfs */
    assert_close(r->pf[PQ_NPH], 8000.0 / 13000.0, TOL);
    assert_true(fabs(r->pf[PQ_NPH] - pf_mean) > 0.01);
    assert_close(r->s_vector_va, 8000.0, TOL);
}

static void test_agg_harmonic_pct_is_rederived_from_aggregated_magnitudes(void **state)
{
    struct fix *f = *state;
    const struct pq_interval *r = &f->sink.last[PQ_AGG_3S];

    start_at(f, T0_NS);
    for (int i = 0; i < 2; i++) {
        struct pq_interval *b = next_basic(f, 230.0, 1000.0);

        b->u_h_v[1][0] = i ? 220.0 : 240.0;
        b->u_h_v[1][4] = i ? 6.0 : 8.0;
        b->u_h_pct[1][4] = 999.0; /* derived: ignored on input */
        push(f);
    }
    flush(f);

    assert_close(r->u_h_v[1][4], sqrt(50.0), TOL);
    assert_close(r->u_h_pct[1][4],
                 100.0 * sqrt(50.0) / sqrt((220.0 * 220.0 + 240.0 * 240.0) / 2), TOL);
    assert_close(r->u_h_pct[1][0], 100.0, TOL);
}

/* Two basic values, each with harmonic-1 voltage angle deg[i] and magnitude
 * mag[i] on phase A, then flush: the phasor mean at every level. */
static void check_angle_mean(struct fix *f, const double deg[2], const double mag[2],
                             double want)
{
    start_at(f, T0_NS + 3 * MIN_NS);
    for (int i = 0; i < 2; i++) {
        struct pq_interval *b = next_basic(f, 230.0, 1000.0);

        b->u_h_v[0][0] = mag[i];
        b->u_h_deg[0][0] = deg[i];
        b->i_h_a[2][6] = mag[i];
        b->i_h_deg[2][6] = deg[i];
        push(f);
    }
    flush(f);
    for (int level = PQ_AGG_3S; level <= PQ_AGG_2H; level++) {
        assert_int_equal(f->sink.last[level].count, 2);
        assert_angle_close(f->sink.last[level].u_h_deg[0][0], want, TOL);
        assert_angle_close(f->sink.last[level].i_h_deg[2][6], want, TOL);
    }
}

static void test_agg_angle_of_10_and_30_deg_with_equal_magnitudes_is_20_deg(void **state)
{
    const double deg[2] = {10.0, 30.0};
    const double mag[2] = {5.0, 5.0};

    check_angle_mean(*state, deg, mag, 20.0);
}

static void test_agg_angle_of_175_and_minus_165_deg_wraps_to_minus_175_deg(void **state)
{
    const double deg[2] = {175.0, -165.0}; /* the arithmetic mean would be 5 */
    const double mag[2] = {5.0, 5.0};

    check_angle_mean(*state, deg, mag, -175.0);
}

static void test_agg_angle_of_minus_180_deg_is_reported_as_180_deg(void **state)
{
    const double deg[2] = {-180.0, -180.0};
    const double mag[2] = {5.0, 5.0};

    check_angle_mean(*state, deg, mag, 180.0); /* and in (-180, 180] */
}

static void test_agg_angle_is_weighted_by_the_magnitudes(void **state)
{
    const double deg[2] = {0.0, 90.0};
    const double mag[2] = {1.0, 3.0};

    check_angle_mean(*state, deg, mag, atan2(3.0, 1.0) * 180.0 / M_PI);
}

/* ---- 150/180 cycles ---- */

static void test_agg_3s_takes_15_consecutive_basic_values(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS + 2 * MIN_NS);
    for (int i = 0; i < 45; i++) {
        feed(f, 1, 230.0, i, 0); /* total power = index: identifies the record */
    }

    assert_int_equal(f->sink.n, 3);
    for (int k = 0; k < 3; k++) {
        const struct got *g = nth(&f->sink, PQ_AGG_3S, k);
        int64_t t = T0_NS + 2 * MIN_NS + 3 * S_NS * k;

        assert_record(g, t, t + 3 * S_NS, 15, 0);
        assert_close(g->p_w, 15.0 * k + 7.0, TOL); /* mean of 15k .. 15k + 14 */
    }
}

static void
test_agg_3s_series_in_progress_at_tick_completes_and_overlaps_new(void **state)
{
    struct fix *f = *state;
    int64_t t = T0_NS + 10 * MIN_NS - 7 * BASIC_NS; /* 7 records before tick */

    start_at(f, t);
    for (int i = 0; i < 37; i++) {
        feed(f, 1, 230.0, i, 0);
    }

    /* records 0..6 before the tick; 7 starts the new series (resync), and
     * series A goes on to 14; B is 7..21, C 22..36 */
    assert_int_equal(f->sink.n, 4);
    assert_int_equal(f->sink.rec[0].agg, PQ_AGG_10MIN); /* closed by record 7 */
    assert_record(&f->sink.rec[0], T0_NS, T0_NS + 10 * MIN_NS, 7, PQ_REC_PARTIAL);
    assert_record(&f->sink.rec[1], t, t + 3 * S_NS, 15, 0);
    assert_close(f->sink.rec[1].p_w, 7.0, TOL);
    assert_record(&f->sink.rec[2], T0_NS + 10 * MIN_NS, T0_NS + 10 * MIN_NS + 3 * S_NS,
                  15, 0);
    assert_close(f->sink.rec[2].p_w, 14.0, TOL);
    assert_record(&f->sink.rec[3], T0_NS + 10 * MIN_NS + 3 * S_NS,
                  T0_NS + 10 * MIN_NS + 6 * S_NS, 15, 0);
    assert_close(f->sink.rec[3].p_w, 29.0, TOL);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(f->sink.rec[i].agg, PQ_AGG_3S);
    }
}

static void test_agg_3s_second_resync_within_a_series_cuts_the_older(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS + MIN_NS);
    feed(f, 3, 230.0, 0.0, 0);
    f->resync_next = 1;
    feed(f, 3, 230.0, 0.0, 0);
    f->resync_next = 1;
    feed(f, 1, 230.0, 0.0, 0);

    assert_int_equal(f->sink.n, 1);
    assert_record(&f->sink.rec[0], T0_NS + MIN_NS, T0_NS + MIN_NS + 1200 * MS_NS, 6,
                  PQ_REC_PARTIAL);
    feed(f, 11, 230.0, 0.0, 0); /* the series from record 3 completes */
    assert_int_equal(f->sink.n, 2);
    assert_record(&f->sink.rec[1], T0_NS + MIN_NS + 600 * MS_NS,
                  T0_NS + MIN_NS + 3600 * MS_NS, 15, 0);
}

/* ---- 10 min ---- */

static void
test_agg_10min_of_data_starting_mid_slot_is_partial_then_complete(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS + 5 * MIN_NS);
    feed_until(f, T0_NS + 20 * MIN_NS, 230.0);
    feed(f, 1, 230.0, 1000.0, 0);

    assert_int_equal(count_level(&f->sink, PQ_AGG_10MIN), 2);
    assert_record(nth(&f->sink, PQ_AGG_10MIN, 0), T0_NS, T0_NS + 10 * MIN_NS, 1500,
                  PQ_REC_PARTIAL);
    assert_record(nth(&f->sink, PQ_AGG_10MIN, 1), T0_NS + 10 * MIN_NS,
                  T0_NS + 20 * MIN_NS, 3000, 0);
}

static void
test_agg_10min_basic_value_straddling_the_tick_counts_in_previous(void **state)
{
    struct fix *f = *state;
    const struct pq_interval *r = &f->sink.last[PQ_AGG_10MIN];

    /* 10 cycles at 49.75 Hz: 201 ms, so record 2985 runs from 599.985 s to
     * 600.186 s, across the tick */
    f->dur_ns = 201 * MS_NS;
    start_at(f, T0_NS);
    for (int i = 0; i < 2985; i++) {
        feed(f, 1, 230.0, i, 0);
    }
    assert_int_equal(f->rec.end_ns, T0_NS + 10 * MIN_NS - 15 * MS_NS);
    feed(f, 1, 0.0, 2985, 0); /* the straddling record */
    assert_int_equal(f->rec.end_ns, T0_NS + 10 * MIN_NS + 186 * MS_NS);
    assert_int_equal(f->t_ns, T0_NS + 10 * MIN_NS);
    assert_int_equal(count_level(&f->sink, PQ_AGG_10MIN), 0);
    feed(f, 1, 100.0, 1e6, 0); /* starts at the tick, resync */

    assert_int_equal(count_level(&f->sink, PQ_AGG_10MIN), 1);
    assert_record(nth(&f->sink, PQ_AGG_10MIN, 0), T0_NS, T0_NS + 10 * MIN_NS, 2986, 0);
    assert_close(r->p_w[PQ_NPH], 2985.0 / 2, TOL); /* mean of 0 .. 2985 */
    assert_close(r->u_rms_v[0], 230.0 * sqrt(2985.0 / 2986.0), TOL);
    flush(f);
    assert_record(nth(&f->sink, PQ_AGG_10MIN, 1), T0_NS + 10 * MIN_NS,
                  T0_NS + 20 * MIN_NS, 1, PQ_REC_PARTIAL);
    assert_close(r->u_rms_v[0], 100.0, TOL);
}

static void test_agg_10min_one_missing_basic_is_complete_but_two_are_partial(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS);
    feed(f, 100, 230.0, 1000.0, 0);
    start_at(f, f->t_ns + BASIC_NS); /* one missing */
    feed_until(f, T0_NS + 10 * MIN_NS + 100 * BASIC_NS, 230.0);
    start_at(f, f->t_ns + 400 * MS_NS); /* two missing */
    feed_until(f, T0_NS + 20 * MIN_NS, 230.0);
    feed(f, 1, 230.0, 1000.0, 0);

    assert_record(nth(&f->sink, PQ_AGG_10MIN, 0), T0_NS, T0_NS + 10 * MIN_NS, 2999, 0);
    assert_record(nth(&f->sink, PQ_AGG_10MIN, 1), T0_NS + 10 * MIN_NS,
                  T0_NS + 20 * MIN_NS, 2998, PQ_REC_PARTIAL);
    /* each gap cut a 3-s series short: 100 = 6 * 15 + 10 */
    assert_record(nth(&f->sink, PQ_AGG_3S, 6), T0_NS + 90 * BASIC_NS,
                  T0_NS + 100 * BASIC_NS, 10, PQ_REC_PARTIAL);
}

static void test_agg_10min_overlapping_basic_values_count_their_time_once(void **state)
{
    struct fix *f = *state;

    /* 3000 values, but 200-ms windows every 100 ms: 300.1 s of the slot */
    for (int i = 0; i < 3000; i++) {
        start_at(f, T0_NS + 100 * MS_NS * i);
        feed(f, 1, 230.0, 1000.0, 0);
    }
    flush(f);

    assert_record(nth(&f->sink, PQ_AGG_10MIN, 0), T0_NS, T0_NS + 10 * MIN_NS, 3000,
                  PQ_REC_PARTIAL);
}

static void test_agg_gap_of_slots_emits_no_empty_10min_and_cuts_3s(void **state)
{
    struct fix *f = *state;
    int64_t t = T0_NS + 5 * MIN_NS + 7 * BASIC_NS;

    start_at(f, T0_NS);
    feed_until(f, t, 230.0);
    start_at(f, T0_NS + 32 * MIN_NS); /* nothing for 26.6 min */
    f->sink.n = 0;
    feed(f, 1, 230.0, 1000.0, 0);

    /* the 3-s series cut by the gap, then the 10-min value */
    assert_int_equal(f->sink.n, 2);
    assert_record(&f->sink.rec[0], t - 7 * BASIC_NS, t, 7, PQ_REC_PARTIAL);
    assert_record(&f->sink.rec[1], T0_NS, T0_NS + 10 * MIN_NS, 1507, PQ_REC_PARTIAL);

    feed_until(f, T0_NS + 40 * MIN_NS, 230.0);
    feed(f, 1, 230.0, 1000.0, 0);
    assert_int_equal(count_level(&f->sink, PQ_AGG_10MIN), 2); /* no 10, 20 min */
    assert_record(nth(&f->sink, PQ_AGG_10MIN, 1), T0_NS + 30 * MIN_NS,
                  T0_NS + 40 * MIN_NS, 2400, PQ_REC_PARTIAL);
    assert_record(nth(&f->sink, PQ_AGG_3S, 1), T0_NS + 32 * MIN_NS,
                  T0_NS + 32 * MIN_NS + 3 * S_NS, 15, 0);
    assert_int_equal(count_level(&f->sink, PQ_AGG_2H), 0);
    flush(f);
    assert_record(nth(&f->sink, PQ_AGG_2H, 0), T0_NS, T0_NS + 120 * MIN_NS,
                  1507 + 2400 + 1, PQ_REC_PARTIAL);
}

static void test_agg_gap_across_2h_boundary_emits_2h_at_the_next_record(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS + 100 * MIN_NS); /* 01:40: not the last 10-min slot */
    feed(f, 10, 230.0, 1000.0, 0);
    start_at(f, T0_NS + 303 * MIN_NS); /* resumes at 05:03 */
    feed(f, 1, 230.0, 1000.0, 0);

    assert_int_equal(count_level(&f->sink, PQ_AGG_10MIN), 1);
    assert_int_equal(count_level(&f->sink, PQ_AGG_2H), 1);
    assert_record(nth(&f->sink, PQ_AGG_2H, 0), T0_NS, T0_NS + 120 * MIN_NS, 10,
                  PQ_REC_PARTIAL);
}

/* ---- 2 h ---- */

static void test_agg_2h_is_aligned_to_even_utc_hours_and_counts_12_values(void **state)
{
    struct fix *f = *state;
    const struct pq_interval *r = &f->sink.last[PQ_AGG_2H];

    start_at(f, T0_NS + 110 * MIN_NS); /* 01:50 */
    feed_until(f, T0_NS + 150 * MIN_NS, 230.0);
    feed(f, 1, 0.0, 1000.0, 0); /* one 0 V value among 36000 */
    feed_until(f, T0_NS + 240 * MIN_NS, 230.0);
    assert_int_equal(count_level(&f->sink, PQ_AGG_2H), 1);
    feed(f, 1, 230.0, 1000.0, 0); /* 04:00 closes 03:50 and 02:00 .. 04:00 */

    assert_int_equal(count_level(&f->sink, PQ_AGG_10MIN), 13);
    assert_int_equal(count_level(&f->sink, PQ_AGG_2H), 2);
    assert_record(nth(&f->sink, PQ_AGG_2H, 0), T0_NS, T0_NS + 120 * MIN_NS, 3000,
                  PQ_REC_PARTIAL);
    assert_record(nth(&f->sink, PQ_AGG_2H, 1), T0_NS + 120 * MIN_NS, T0_NS + 240 * MIN_NS,
                  36000, 0);
    /* the 2-h value comes right after its 12th 10-min value */
    assert_int_equal(f->sink.rec[f->sink.n - 1].agg, PQ_AGG_2H);
    assert_int_equal(f->sink.rec[f->sink.n - 2].agg, PQ_AGG_10MIN);
    assert_int_equal(f->sink.rec[f->sink.n - 2].end_ns, T0_NS + 240 * MIN_NS);
    /* RMS over all 36000 basic values, to the precision of the 10-min sums */
    assert_close(r->u_rms_v[0], 230.0 * sqrt(35999.0 / 36000.0), 1e-10);
    assert_close(r->p_w[PQ_NPH], 1000.0, 1e-10);
}

/* ---- flags (4.7), nph ---- */

static void test_agg_flagged_basic_flags_only_the_aggregates_holding_it(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS + 100 * MIN_NS); /* 01:40 */
    feed(f, 20, 230.0, 1000.0, 0);
    feed(f, 1, 230.0, 1000.0, PQ_REC_FLAGGED); /* in the second 3-s value */
    feed_until(f, T0_NS + 115 * MIN_NS, 230.0);
    feed(f, 1, 230.0, 1000.0, PQ_REC_UNSYNC);
    feed_until(f, T0_NS + 120 * MIN_NS, 230.0);
    feed(f, 1, 230.0, 1000.0, 0);

    assert_int_equal(nth(&f->sink, PQ_AGG_3S, 0)->flags, 0);
    assert_int_equal(nth(&f->sink, PQ_AGG_3S, 1)->flags, PQ_REC_FLAGGED);
    assert_int_equal(nth(&f->sink, PQ_AGG_3S, 2)->flags, 0);
    assert_int_equal(nth(&f->sink, PQ_AGG_10MIN, 0)->flags, PQ_REC_FLAGGED);
    assert_int_equal(nth(&f->sink, PQ_AGG_10MIN, 1)->flags, PQ_REC_UNSYNC);
    assert_int_equal(nth(&f->sink, PQ_AGG_2H, 0)->flags,
                     PQ_REC_FLAGGED | PQ_REC_UNSYNC | PQ_REC_PARTIAL);
    feed(f, 30, 230.0, 1000.0, 0);
    flush(f);
    assert_int_equal(nth(&f->sink, PQ_AGG_10MIN, 2)->flags, PQ_REC_PARTIAL);
    assert_int_equal(nth(&f->sink, PQ_AGG_2H, 1)->flags, PQ_REC_PARTIAL);
}

static void test_agg_nph_and_neutral_are_taken_from_the_inputs(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS);
    for (int i = 0; i < PQ_AGG_3S_N; i++) {
        struct pq_interval *b = next_basic(f, 230.0, 1000.0);

        b->nph = 1;
        b->has_in = i == 3;
        b->i_rms_a[PQ_NPH] = i == 3 ? 15.0 : 0.0;
        push(f);
    }
    flush(f);

    for (int level = PQ_AGG_3S; level <= PQ_AGG_2H; level++) {
        const struct got *g = nth(&f->sink, level, 0);

        assert_int_equal(g->nph, 1);
        assert_int_equal(g->has_in, 1);
        assert_close(g->i_a, 15.0 / sqrt(15.0), TOL);
    }
}

/* ---- flush, time going back ---- */

static void test_agg_flush_emits_aggregates_in_progress_as_partial(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS + 7 * MIN_NS);
    feed(f, 100, 230.0, 1000.0, 0);
    assert_int_equal(f->sink.n, 6);
    flush(f);

    assert_int_equal(f->sink.n, 9);
    assert_record(&f->sink.rec[6], T0_NS + 7 * MIN_NS + 18 * S_NS,
                  T0_NS + 7 * MIN_NS + 20 * S_NS, 10, PQ_REC_PARTIAL);
    assert_record(&f->sink.rec[7], T0_NS, T0_NS + 10 * MIN_NS, 100, PQ_REC_PARTIAL);
    assert_record(&f->sink.rec[8], T0_NS, T0_NS + 120 * MIN_NS, 100, PQ_REC_PARTIAL);
    assert_int_equal(f->sink.rec[6].agg, PQ_AGG_3S);
    assert_int_equal(f->sink.rec[7].agg, PQ_AGG_10MIN);
    assert_int_equal(f->sink.rec[8].agg, PQ_AGG_2H);

    flush(f); /* nothing left */
    assert_int_equal(f->sink.n, 9);
    feed(f, 15, 230.0, 1000.0, 0); /* and it can go on */
    assert_int_equal(f->sink.n, 10);
    assert_record(&f->sink.rec[9], T0_NS + 7 * MIN_NS + 20 * S_NS,
                  T0_NS + 7 * MIN_NS + 23 * S_NS, 15, 0);
}

static void test_agg_flush_of_a_covered_10min_slot_is_not_partial(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS);
    feed(f, 3000, 230.0, 1000.0, 0);
    assert_int_equal(count_level(&f->sink, PQ_AGG_3S), 200);
    flush(f);

    assert_int_equal(count_level(&f->sink, PQ_AGG_3S), 200);
    assert_record(nth(&f->sink, PQ_AGG_10MIN, 0), T0_NS, T0_NS + 10 * MIN_NS, 3000, 0);
    assert_record(nth(&f->sink, PQ_AGG_2H, 0), T0_NS, T0_NS + 120 * MIN_NS, 3000,
                  PQ_REC_PARTIAL);
}

static void test_agg_time_going_back_closes_everything_in_progress(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS + MIN_NS);
    feed(f, 10, 230.0, 1000.0, 0);
    start_at(f, T0_NS + MIN_NS - S_NS); /* the clock stepped back */
    feed(f, 1, 230.0, 1000.0, 0);

    assert_int_equal(f->sink.n, 3);
    assert_record(&f->sink.rec[0], T0_NS + MIN_NS, T0_NS + MIN_NS + 2 * S_NS, 10,
                  PQ_REC_PARTIAL);
    assert_record(&f->sink.rec[1], T0_NS, T0_NS + 10 * MIN_NS, 10, PQ_REC_PARTIAL);
    assert_record(&f->sink.rec[2], T0_NS, T0_NS + 120 * MIN_NS, 10, PQ_REC_PARTIAL);
    flush(f);
    assert_record(&f->sink.rec[3], T0_NS + MIN_NS - S_NS,
                  T0_NS + MIN_NS - S_NS + BASIC_NS, 1, PQ_REC_PARTIAL);
}

static void test_agg_null_emit_discards_what_completes(void **state)
{
    struct fix *f = *state;

    start_at(f, T0_NS + 9 * MIN_NS);
    for (int i = 0; i < 320; i++) { /* 300 records to the tick, 20 after */
        pq_agg_add(f->a, next_basic(f, 230.0, 1000.0), f->resync_next, NULL, NULL);
        f->t_ns += f->dur_ns;
        f->resync_next = f->t_ns == T0_NS + 10 * MIN_NS;
    }
    flush(f);

    /* only what was still in progress: the 3-s series from the tick (its 20
     * values were 15 + 5), the 10-min and 2-h values since the tick */
    assert_int_equal(f->sink.n, 3);
    assert_record(&f->sink.rec[0], T0_NS + 10 * MIN_NS + 3 * S_NS,
                  T0_NS + 10 * MIN_NS + 4 * S_NS, 5, PQ_REC_PARTIAL);
    assert_record(&f->sink.rec[1], T0_NS + 10 * MIN_NS, T0_NS + 20 * MIN_NS, 20,
                  PQ_REC_PARTIAL);
    assert_record(&f->sink.rec[2], T0_NS, T0_NS + 120 * MIN_NS, 320, PQ_REC_PARTIAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agg_new_with_bad_arguments_is_rejected_and_out_untouched),
        T(test_agg_10min_of_2999_at_230_v_and_one_at_0_v_is_rms_229_962_v),
        T(test_agg_10min_of_220_v_and_240_v_deviates_2_150_under_2_197_over),
        T(test_agg_power_fields_are_arithmetic_means_and_pf_is_rederived),
        T(test_agg_harmonic_pct_is_rederived_from_aggregated_magnitudes),
        T(test_agg_angle_of_10_and_30_deg_with_equal_magnitudes_is_20_deg),
        T(test_agg_angle_of_175_and_minus_165_deg_wraps_to_minus_175_deg),
        T(test_agg_angle_of_minus_180_deg_is_reported_as_180_deg),
        T(test_agg_angle_is_weighted_by_the_magnitudes),
        T(test_agg_3s_takes_15_consecutive_basic_values),
        T(test_agg_3s_series_in_progress_at_tick_completes_and_overlaps_new),
        T(test_agg_3s_second_resync_within_a_series_cuts_the_older),
        T(test_agg_10min_of_data_starting_mid_slot_is_partial_then_complete),
        T(test_agg_10min_basic_value_straddling_the_tick_counts_in_previous),
        T(test_agg_10min_one_missing_basic_is_complete_but_two_are_partial),
        T(test_agg_10min_overlapping_basic_values_count_their_time_once),
        T(test_agg_gap_of_slots_emits_no_empty_10min_and_cuts_3s),
        T(test_agg_gap_across_2h_boundary_emits_2h_at_the_next_record),
        T(test_agg_2h_is_aligned_to_even_utc_hours_and_counts_12_values),
        T(test_agg_flagged_basic_flags_only_the_aggregates_holding_it),
        T(test_agg_nph_and_neutral_are_taken_from_the_inputs),
        T(test_agg_flush_emits_aggregates_in_progress_as_partial),
        T(test_agg_flush_of_a_covered_10min_slot_is_not_partial),
        T(test_agg_time_going_back_closes_everything_in_progress),
        T(test_agg_null_emit_discards_what_completes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
