/* test_meter.c - the meter: engine, aggregation, energy, demand and extremes
 * together, on a signal whose answer is known. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pq/direction.h"
#include "pq/err.h"
#include "pq/meter.h"

#define T0_NS 1767225600000000000LL /* 2026-01-01T00:00:00Z */
#define FS    6400.0

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("%s: got %.9g, want %.9g +- %.3g", what, got, want, tol);
    }
}

struct seen {
    int energy;
    struct pq_meter_energy last_energy;
    int tenmin;
};

static void on_energy(void *ctx, const struct pq_meter_energy *e)
{
    struct seen *s = ctx;

    s->energy++;
    s->last_energy = *e;
}

static void on_interval(void *ctx, const struct pq_interval *r)
{
    struct seen *s = ctx;

    s->tenmin += r->agg == PQ_AGG_10MIN;
}

/* Single phase: 230 V (then `step` V from t_step on), 10 A in phase. */
static struct pq_meter *run(struct pq_meter_cfg *cfg, struct seen *s, double seconds,
                            double t_step, double step)
{
    struct pq_meter_out out = {.energy = on_energy, .interval = on_interval, .ctx = s};
    struct pq_meter *m = NULL;
    size_t n = (size_t) (seconds * FS);
    float *x = malloc(2 * n * sizeof(float));
    const char *why = NULL;

    cfg->engine.fs_hz = FS;
    cfg->engine.nch = 2;
    cfg->engine.role[0] = PQ_ROLE_UA;
    cfg->engine.role[1] = PQ_ROLE_IA;
    cfg->engine.wiring = PQ_WIRING_SINGLE;
    cfg->engine.f_nominal_hz = 50;
    cfg->engine.udin_v = 230;
    cfg->engine.start_ns = T0_NS;
    cfg->levels = (1u << PQ_AGG_COUNT) - 1;
    assert_int_equal(pq_meter_new(cfg, &out, &m, &why), 0);
    for (size_t k = 0; k < n; k++) {
        double t = (double) k / FS;
        double u = t >= t_step ? step : 230.0;

        x[2 * k] = (float) (u * M_SQRT2 * cos(2 * M_PI * 50 * t));
        x[2 * k + 1] = (float) (10 * M_SQRT2 * cos(2 * M_PI * 50 * t));
    }
    pq_meter_feed(m, x, n);
    free(x);
    return m;
}

static void test_meter_block_demand_of_a_steady_load_is_its_power(void **state)
{
    struct pq_meter_cfg cfg;
    struct seen s;
    struct pq_meter *m;
    const struct pq_demand *d;

    (void) state;
    memset(&cfg, 0, sizeof(cfg));
    memset(&s, 0, sizeof(s));
    cfg.demand_method = PQ_DEMAND_BLOCK;
    cfg.demand_interval_s = 1.0;
    cfg.demand_subintervals = 1;
    m = run(&cfg, &s, 4.5, 1e9, 0);
    d = pq_meter_demand(m, PQ_DEMAND_P);
    assert_non_null(d);
    /* the first block (0..1 s) is partial: the engine settles 0.2 s */
    assert_true(d->n_completed >= 3);
    assert_close(d->last.value, 2300.0, 2300 * 2e-4, "P demand");
    assert_close(pq_meter_demand(m, PQ_DEMAND_IA)->last.value, 10.0, 10 * 1e-4,
                 "I demand");
    assert_close(d->peak, 2300.0, 2300 * 2e-4, "peak");
    assert_null(pq_meter_demand(m, PQ_DEMAND_NQ));
    pq_meter_free(m);
}

static void test_meter_extremes_keep_value_and_time_of_each(void **state)
{
    struct pq_meter_cfg cfg;
    struct seen s;
    struct pq_meter *m;
    const double *mn, *mx;
    const int64_t *tmn, *tmx;
    size_t k = 0;

    (void) state;
    memset(&cfg, 0, sizeof(cfg));
    memset(&s, 0, sizeof(s));
    m = run(&cfg, &s, 3.0, 1.5, 240.0);
    for (size_t i = 0; i < pq_nfields; i++) {
        if (pq_fields[i].json && strcmp(pq_fields[i].json, "u_rms_v") == 0) {
            k = pq_value_index(&pq_fields[i], 0);
        }
    }
    pq_meter_extremes(m, &mn, &tmn, &mx, &tmx);
    assert_close(mn[k], 230.0, 230 * 1e-4, "min U");
    assert_close(mx[k], 240.0, 240 * 1e-4, "max U");
    assert_true(tmn[k] < T0_NS + 1500000000LL);
    assert_true(tmx[k] > T0_NS + 1500000000LL);
    pq_meter_reset_extremes(m);
    pq_meter_extremes(m, &mn, &tmn, &mx, &tmx);
    assert_true(isnan(mn[k]) && tmn[k] == 0);
    pq_meter_free(m);
}

static void test_meter_finish_emits_energy_once_with_the_total(void **state)
{
    struct pq_meter_cfg cfg;
    struct seen s;
    struct pq_meter *m;
    double hours;

    (void) state;
    memset(&cfg, 0, sizeof(cfg));
    memset(&s, 0, sizeof(s));
    m = run(&cfg, &s, 2.0, 1e9, 0);
    pq_meter_finish(m);
    assert_int_equal(s.energy, 1);
    assert_int_equal(s.tenmin, 1); /* the partial 10-min value */
    hours = (double) (s.last_energy.end_ns - s.last_energy.start_ns) / 3.6e12;
    assert_close(s.last_energy.kwh_del, 2.3 * hours, 2.3 * hours * 2e-4, "kWh");
    assert_close(s.last_energy.kvarh_del, 0.0, 1e-6, "kvarh");
    pq_meter_free(m);
}

struct dir_seen {
    int n;
    int direction;
    double confidence;
};

static void on_dir_event(void *ctx, const struct pq_event *ev)
{
    struct dir_seen *d = ctx;

    if (ev->kind == PQ_EV_DIP && d->n++ == 0) { /* the first dip's */
        d->direction = ev->direction;
        d->confidence = ev->confidence;
    }
}

/* A fault downstream of a three-phase meter at 1 s: phase A sags to 60 %
 * while a fault current of 8 times the load, lagging 75 degrees, flows
 * through the meter.  Fed in `chunk` frames at a time. */
static struct dir_seen run_fault(size_t chunk)
{
    struct pq_meter_out out = {.event = on_dir_event};
    struct pq_meter_cfg cfg;
    struct pq_meter *m = NULL;
    struct dir_seen seen = {0, 0, 0};
    size_t n = (size_t) (2.0 * 3200.0);
    float *x = malloc(n * 6 * sizeof(float));

    memset(&cfg, 0, sizeof(cfg));
    cfg.engine.fs_hz = 3200.0; /* 64 samples per cycle: the direction's minimum */
    cfg.engine.nch = 6;
    for (int k = 0; k < 6; k++) {
        cfg.engine.role[k] = PQ_ROLE_UA + (k < 3 ? k : k + 1);
    }
    cfg.engine.wiring = PQ_WIRING_WYE;
    cfg.engine.f_nominal_hz = 50;
    cfg.engine.udin_v = 230;
    cfg.engine.start_ns = T0_NS;
    cfg.events = 1;
    cfg.ev.udin_v = 230;
    cfg.ev.nph = 3;
    cfg.ev.f_nominal_hz = 50;
    out.ctx = &seen;
    assert_int_equal(pq_meter_new(&cfg, &out, &m, NULL), 0);
    for (size_t k = 0; k < n; k++) {
        double t = (double) k / 3200.0;
        /* a second fault from 1.6 s to the end: had the ring lost the
         * first fault's pre-event cycles, faulted ones would stand in */
        int fault = (t >= 1.0 && t < 1.1) || t >= 1.6;

        for (int ph = 0; ph < 3; ph++) {
            double a = 2 * M_PI * 50 * t - ph * 2 * M_PI / 3;
            double lvl = fault && ph == 0 ? 0.6 : 1.0;
            double i = lvl * 60 * M_SQRT2 * cos(a - 0.45);

            if (fault && ph == 0) {
                i += 8 * 60 * M_SQRT2 * cos(a - 75 * M_PI / 180);
            }
            x[k * 6 + (size_t) ph] = (float) (lvl * 230 * M_SQRT2 * cos(a));
            x[k * 6 + 3 + (size_t) ph] = (float) i;
        }
    }
    for (size_t k0 = 0; k0 < n; k0 += chunk) {
        pq_meter_feed(m, x + k0 * 6, n - k0 < chunk ? n - k0 : chunk);
    }
    pq_meter_finish(m);
    pq_meter_free(m);
    free(x);
    return seen;
}

/* Regression: a feed longer than the meter's one-second ring once
 * overwrote the pre-event frames the direction analysis reads. */
static void test_meter_direction_does_not_depend_on_the_feed_size(void **state)
{
    struct dir_seen small = run_fault(320), whole = run_fault(6400);

    (void) state;
    assert_int_equal(small.n, 2);
    assert_int_equal(whole.n, 2);
    assert_int_equal(small.direction, PQ_DIRECTION_DOWNSTREAM);
    assert_int_equal(whole.direction, PQ_DIRECTION_DOWNSTREAM);
    assert_true(small.confidence >= 0.6);
    assert_close(whole.confidence, small.confidence, 1e-12, "same confidence");
}

static void test_meter_rejects_an_impossible_demand_setting(void **state)
{
    struct pq_meter_cfg cfg;
    struct pq_meter *m = NULL;
    const char *why = NULL;

    (void) state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.engine.fs_hz = FS;
    cfg.engine.nch = 1;
    cfg.engine.role[0] = PQ_ROLE_UA;
    cfg.engine.wiring = PQ_WIRING_SINGLE;
    cfg.engine.f_nominal_hz = 50;
    cfg.demand_method = PQ_DEMAND_BLOCK;
    cfg.demand_interval_s = 900;
    cfg.demand_subintervals = 3; /* block with sub-intervals */
    assert_int_equal(pq_meter_new(&cfg, NULL, &m, &why), -EINVAL);
    assert_non_null(why);
    assert_null(m);
}

/* ---- RMS bursts on request ----------------------------------------------- */

struct bursts {
    int n;
    struct pq_burst b[4];
    int64_t t[4][256];
    double u[4][256], i[4][256];
};

static void on_burst(void *ctx, const struct pq_burst *b)
{
    struct bursts *s = ctx;

    assert_true(s->n < 4);
    assert_true(b->n <= 256);
    s->b[s->n] = *b;
    for (size_t k = 0; k < b->n; k++) {
        s->t[s->n][k] = b->t_ns[k];
        s->u[s->n][k] = b->u_rms[k * 3];
        s->i[s->n][k] = b->i_rms[k * 4];
    }
    s->n++;
}

/* Single phase 50 Hz, 230 V then 115 V from 2.0 s, 10 A; frames [from, to). */
static void feed_step(struct pq_meter *m, double from_s, double to_s)
{
    size_t k0 = (size_t) (from_s * FS), k1 = (size_t) (to_s * FS);
    float *x = malloc(2 * (k1 - k0) * sizeof(float));

    for (size_t k = k0; k < k1; k++) {
        double t = (double) k / FS;
        double u = t >= 2.0 ? 115.0 : 230.0;

        x[2 * (k - k0)] = (float) (u * M_SQRT2 * sin(2 * M_PI * 50 * t));
        x[2 * (k - k0) + 1] = (float) (10 * M_SQRT2 * sin(2 * M_PI * 50 * t));
    }
    pq_meter_feed(m, x, k1 - k0);
    free(x);
}

static struct pq_meter *burst_meter(struct bursts *s, double before_s, double after_s)
{
    struct pq_meter_cfg cfg;
    struct pq_meter_out out = {.burst = on_burst, .ctx = s};
    struct pq_meter *m = NULL;
    const char *why = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.engine.fs_hz = FS;
    cfg.engine.nch = 2;
    cfg.engine.role[0] = PQ_ROLE_UA;
    cfg.engine.role[1] = PQ_ROLE_IA;
    cfg.engine.wiring = PQ_WIRING_SINGLE;
    cfg.engine.f_nominal_hz = 50;
    cfg.engine.udin_v = 230;
    cfg.engine.start_ns = T0_NS;
    cfg.burst_before_s = before_s;
    cfg.burst_after_s = after_s; /* no event detection: requests only */
    assert_int_equal(pq_meter_new(&cfg, &out, &m, &why), 0);
    return m;
}

/* The window of burst j: values every half cycle (10 ms) from `before`
 * before t to `after` after it, 230 V while the one-cycle window is wholly
 * before the step at 2.0 s, 115 V once it is wholly after, 10 A
 * throughout (IEC 61000-4-30 5.4.1: Urms(1/2) is the RMS over one cycle,
 * refreshed every half cycle). */
static void check_window(const struct bursts *s, int j, int64_t t, double before,
                         double after)
{
    const struct pq_burst *b = &s->b[j];
    size_t n = b->n;
    double first = (double) (s->t[j][0] - t) / 1e9;
    double last = (double) (s->t[j][n - 1] - t) / 1e9;
    int low = 0, high = 0;

    assert_int_equal(b->kind, PQ_BURST_REQUESTED);
    assert_true(b->event_start_ns == t);
    /* the first value at or after t - before, the last at or after t + after:
     * each within one half cycle (and a sample) of the window's ends */
    assert_close(first, -before, 0.0102, "first value's time");
    assert_true(first >= -before);
    assert_close(last, after, 0.0102, "last value's time");
    assert_true(last >= after);
    assert_close((double) n, (before + after) / 0.01 + 1, 1.0, "values");
    for (size_t k = 0; k < n; k++) {
        double end = (double) (s->t[j][k] - T0_NS) / 1e9; /* of the window */

        if (k > 0) {
            /* zero crossings: the step moves one by about half a ms */
            assert_close((double) (s->t[j][k] - s->t[j][k - 1]) / 1e9, 0.01, 1e-3,
                         "spacing");
        }
        assert_close(s->i[j][k], 10.0, 10 * 1e-4, "Irms(1/2)");
        if (end <= 2.0 - 1e-4) {
            assert_close(s->u[j][k], 230.0, 230 * 1e-4, "Urms(1/2) before the step");
            low++;
        } else if (end >= 2.02 + 1e-4) {
            assert_close(s->u[j][k], 115.0, 115 * 1e-4, "Urms(1/2) after the step");
            high++;
        }
    }
    assert_true(low >= 15 && high >= 40);
}

static void
test_meter_burst_on_request_holds_the_half_cycle_values_of_its_window(void **state)
{
    struct bursts *s = calloc(1, sizeof(*s));
    struct pq_meter *m = burst_meter(s, 0.2, 0.5);
    int64_t t = T0_NS + 2000000000LL;

    (void) state;
    feed_step(m, 0, 1.5);
    assert_int_equal(pq_meter_burst_request(m, t, 7), 0); /* ahead of the data */
    feed_step(m, 1.5, 2.45);
    assert_int_equal(s->n, 0); /* not before its window has passed */
    feed_step(m, 2.45, 2.6);
    assert_int_equal(s->n, 1);
    assert_int_equal(s->b[0].tag, 7);
    check_window(s, 0, t, 0.2, 0.5);
    /* a request 0.9 s in the past still gets its whole window */
    feed_step(m, 2.6, 2.9);
    assert_int_equal(pq_meter_burst_request(m, t, 8), 0);
    feed_step(m, 2.9, 2.95);
    assert_int_equal(s->n, 2);
    assert_int_equal(s->b[1].tag, 8);
    check_window(s, 1, t, 0.2, 0.5);
    pq_meter_free(m);
    free(s);
}

static void test_meter_burst_requests_beyond_the_limit_are_refused(void **state)
{
    struct bursts *s = calloc(1, sizeof(*s));
    struct pq_meter *m = burst_meter(s, 0.1, 0.2);
    int64_t t = T0_NS + 400000000LL;

    (void) state;
    feed_step(m, 0, 0.5);
    for (int i = 0; i < PQ_METER_BURST_REQS; i++) {
        assert_int_equal(pq_meter_burst_request(m, t, (uint32_t) i + 1), 0);
    }
    assert_int_equal(pq_meter_burst_request(m, t, 99), -PQ_EFULL);
    pq_meter_finish(m); /* the data end: each with what there is of it */
    assert_int_equal(s->n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(s->b[i].tag, (uint32_t) i + 1);
        /* 0.3 .. 0.5 s of the window 0.3 .. 0.6 s */
        assert_close((double) (s->t[i][0] - t) / 1e9, -0.1, 0.0102, "first value");
        assert_close((double) (s->t[i][s->b[i].n - 1] - t) / 1e9, 0.1, 0.0102,
                     "last value");
    }
    pq_meter_free(m);
    free(s);
}

static void test_meter_burst_request_without_a_window_is_not_supported(void **state)
{
    struct bursts s;
    struct pq_meter *m;

    (void) state;
    memset(&s, 0, sizeof(s));
    m = burst_meter(&s, 0, 0);
    assert_int_equal(pq_meter_burst_request(m, T0_NS, 1), -ENOTSUP);
    pq_meter_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meter_block_demand_of_a_steady_load_is_its_power),
        cmocka_unit_test(test_meter_extremes_keep_value_and_time_of_each),
        cmocka_unit_test(test_meter_finish_emits_energy_once_with_the_total),
        cmocka_unit_test(test_meter_direction_does_not_depend_on_the_feed_size),
        cmocka_unit_test(test_meter_rejects_an_impossible_demand_setting),
        cmocka_unit_test(
            test_meter_burst_on_request_holds_the_half_cycle_values_of_its_window),
        cmocka_unit_test(test_meter_burst_requests_beyond_the_limit_are_refused),
        cmocka_unit_test(test_meter_burst_request_without_a_window_is_not_supported),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
