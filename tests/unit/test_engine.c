/* test_engine.c - the metrology engine against signals whose answer is known
 * analytically.
 *
 * Targets (the metrology issue; tighter than IEC 61000-4-30 Class A):
 * U and I RMS within 0.01 % of reading; frequency within 1 mHz; P, Q and S
 * within 0.02 % of S; harmonic magnitudes within 0.1 % of reading or
 * 0.01 % of nominal, whichever is larger; angles within 0.1 degree;
 * unbalance within 0.01 percentage points.
 */
#include <complex.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pq/engine.h"

#define T0_NS  1767225600000000000LL /* 2026-01-01T00:00:00Z, a 10-min tick */
#define MAXREC 512

/* One sinusoidal component: RMS, order (multiple of f, may be fractional
 * for an interharmonic), phase in degrees at t = 0 for phase A. */
struct comp {
    double rms, order, deg;
};

/* A three-phase signal: components per quantity, per-phase scale and angle
 * offsets (for unbalance), common-mode voltage (delta tests). */
struct signal {
    double f_hz;
    double fs_hz;
    int nu, ni; /* phases with voltage / current */
    struct comp u[16], i[16];
    int ncu, nci;
    double u_scale[3], u_shift_deg[3];      /* on the fundamental only */
    double common_v;                        /* added to every voltage channel */
    double noise_rel;                       /* uniform noise, fraction of U1 */
    double dip_from_s, dip_to_s, dip_level; /* all voltages x level inside */
};

struct sink {
    struct pq_interval rec[MAXREC];
    int resync[MAXREC];
    int n;
    double f10[16];
    unsigned f10_flags[16];
    int nf10;
    int nhalf;
    double half_u_min, half_u_max; /* of phase A after settling */
};

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("%s: got %.9g, want %.9g +- %.3g", what, got, want, tol);
    }
}

static double angle_diff(double a, double b)
{
    double d = fmod(a - b, 360.0);

    if (d > 180.0) {
        d -= 360.0;
    } else if (d <= -180.0) {
        d += 360.0;
    }
    return d;
}

static void on_interval(void *ctx, const struct pq_interval *r, int resync)
{
    struct sink *s = ctx;

    if (s->n < MAXREC) {
        s->rec[s->n] = *r;
        s->resync[s->n] = resync;
        s->n++;
    }
}

static void on_half(void *ctx, const struct pq_halfcycle *h)
{
    struct sink *s = ctx;

    if (++s->nhalf > 20) {
        s->half_u_min = fmin(s->half_u_min, h->u_rms[0]);
        s->half_u_max = fmax(s->half_u_max, h->u_rms[0]);
    }
}

static void on_f10(void *ctx, int64_t a, int64_t b, double f, unsigned flags)
{
    struct sink *s = ctx;

    (void) a;
    (void) b;
    if (s->nf10 < 16) {
        s->f10_flags[s->nf10] = flags;
        s->f10[s->nf10++] = f;
    }
}

/* Phase ph's instantaneous value of components c at time t: phase B and C
 * are shifted by -120 and +120 degrees times the order (positive sequence
 * fundamental, harmonics in their natural sequence). */
static double wave(const struct signal *sg, const struct comp *c, int n, int ph, double t,
                   int is_u)
{
    double v = 0;

    for (int k = 0; k < n; k++) {
        double deg = c[k].deg - 120.0 * ph * c[k].order;
        double rms = c[k].rms;

        if (is_u && c[k].order == 1.0) {
            rms *= sg->u_scale[ph];
            deg += sg->u_shift_deg[ph];
        }
        v += M_SQRT2 * rms *
             cos(2 * M_PI * c[k].order * sg->f_hz * t + deg * M_PI / 180.0);
    }
    return v;
}

static uint32_t rng = 12345;
static size_t feed_frames = 1000; /* frames per pq_engine_feed() call */

static double noise(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (double) rng / 4294967296.0 - 0.5;
}

/* Run seconds of sg through an engine of the given wiring; roles: UA UB
 * UC (nu of them) then IA IB IC (ni). */
static void run(const struct signal *sg, int wiring, double f_nom, double udin,
                double seconds, int64_t t0_ns, struct sink *s)
{
    struct pq_engine_cfg cfg;
    struct pq_engine_out out = {
        .interval = on_interval, .halfcycle = on_half, .freq10s = on_f10, .ctx = s};
    struct pq_engine *e = NULL;
    size_t nch = (size_t) (sg->nu + sg->ni);
    size_t total = (size_t) llround(seconds * sg->fs_hz);
    size_t chunk = feed_frames;
    float *x = malloc(chunk * nch * sizeof(float));
    const char *why = NULL;

    memset(s, 0, sizeof(*s));
    s->half_u_min = INFINITY;
    memset(&cfg, 0, sizeof(cfg));
    cfg.fs_hz = sg->fs_hz;
    cfg.nch = nch;
    for (int k = 0; k < sg->nu; k++) {
        cfg.role[k] = PQ_ROLE_UA + k;
    }
    for (int k = 0; k < sg->ni; k++) {
        cfg.role[sg->nu + k] = PQ_ROLE_IA + k;
    }
    cfg.wiring = wiring;
    cfg.f_nominal_hz = f_nom;
    cfg.udin_v = udin;
    cfg.il_a = 100.0;
    cfg.start_ns = t0_ns;
    assert_int_equal(pq_engine_new(&cfg, &out, &e, &why), 0);
    for (size_t k0 = 0; k0 < total; k0 += chunk) {
        size_t n = total - k0 < chunk ? total - k0 : chunk;

        for (size_t k = 0; k < n; k++) {
            double t = (double) (k0 + k) / sg->fs_hz;
            double level = t >= sg->dip_from_s && t < sg->dip_to_s ? sg->dip_level : 1.0;

            for (int ph = 0; ph < sg->nu; ph++) {
                double u = wave(sg, sg->u, sg->ncu, ph, t, 1) * level +
                           sg->common_v * M_SQRT2 * cos(2 * M_PI * sg->f_hz * t);

                if (sg->noise_rel > 0) {
                    u += sg->noise_rel * sg->u[0].rms * noise();
                }
                x[k * nch + (size_t) ph] = (float) u;
            }
            for (int ph = 0; ph < sg->ni; ph++) {
                x[k * nch + (size_t) (sg->nu + ph)] =
                    (float) wave(sg, sg->i, sg->nci, ph, t, 0);
            }
        }
        pq_engine_feed(e, x, n);
    }
    pq_engine_free(e);
    free(x);
}

/* A distorted three-phase system: 230 V with harmonics to the 63rd, 100 A
 * lagging 30 degrees with current harmonics. */
static void rich_signal(struct signal *sg, double f, double fs)
{
    memset(sg, 0, sizeof(*sg));
    sg->f_hz = f;
    sg->fs_hz = fs;
    sg->nu = 3;
    sg->ni = 3;
    for (int ph = 0; ph < 3; ph++) {
        sg->u_scale[ph] = 1.0;
    }
    sg->u[sg->ncu++] = (struct comp){230.0, 1, 10.0};
    sg->u[sg->ncu++] = (struct comp){6.9, 3, 40.0};   /* 3 % */
    sg->u[sg->ncu++] = (struct comp){11.5, 5, -75.0}; /* 5 % */
    sg->u[sg->ncu++] = (struct comp){4.6, 7, 120.0};  /* 2 % */
    sg->u[sg->ncu++] = (struct comp){2.3, 13, 33.0};  /* 1 % */
    sg->u[sg->ncu++] = (struct comp){1.15, 25, -150.0};
    sg->u[sg->ncu++] = (struct comp){0.69, 49, 60.0};
    sg->u[sg->ncu++] = (struct comp){0.46, 63, -20.0}; /* 0.2 % at the 63rd */
    sg->i[sg->nci++] = (struct comp){100.0, 1, -20.0};
    sg->i[sg->nci++] = (struct comp){20.0, 5, 30.0};
    sg->i[sg->nci++] = (struct comp){10.0, 7, -60.0};
    sg->i[sg->nci++] = (struct comp){3.0, 11, 90.0};
    sg->i[sg->nci++] = (struct comp){1.0, 35, 10.0};
}

static double comp_rms(const struct comp *c, int n)
{
    double s = 0;

    for (int k = 0; k < n; k++) {
        s += c[k].rms * c[k].rms;
    }
    return sqrt(s);
}

/* Expected P of one phase: sum over the orders both carry. */
static double comp_p(const struct signal *sg)
{
    double p = 0;

    for (int a = 0; a < sg->ncu; a++) {
        for (int b = 0; b < sg->nci; b++) {
            if (sg->u[a].order == sg->i[b].order) {
                p += sg->u[a].rms * sg->i[b].rms *
                     cos((sg->u[a].deg - sg->i[b].deg) * M_PI / 180.0);
            }
        }
    }
    return p;
}

/* Check every settled record of a balanced run against the analytic
 * values. */
static void check_rich(const struct signal *sg, const struct sink *s, double udin)
{
    double urms = comp_rms(sg->u, sg->ncu), irms = comp_rms(sg->i, sg->nci);
    double p = comp_p(sg);
    double q1 =
        sg->u[0].rms * sg->i[0].rms * sin((sg->u[0].deg - sg->i[0].deg) * M_PI / 180.0);
    double sva = urms * irms;
    double thd = 0, ull = 0;
    int checked = 0;

    /* line-line: order h gives U_h |1 - e^{-j 2 pi h / 3}|, sqrt(3) U_h,
     * or 0 for the triplen orders, which are in phase in A, B and C */
    for (int k = 0; k < sg->ncu; k++) {
        int h = (int) sg->u[k].order;

        ull += h % 3 ? 3.0 * sg->u[k].rms * sg->u[k].rms : 0.0;
    }
    ull = sqrt(ull);
    for (int k = 1; k < sg->ncu; k++) {
        thd += sg->u[k].rms * sg->u[k].rms;
    }
    thd = 100.0 * sqrt(thd) / sg->u[0].rms;
    assert_true(s->n >= 4);
    for (int n = 0; n < s->n; n++) {
        const struct pq_interval *r = &s->rec[n];

        assert_close(r->freq_hz, sg->f_hz, 0.001, "frequency");
        for (int ph = 0; ph < 3; ph++) {
            assert_close(r->u_rms_v[ph], urms, 1e-4 * urms, "U rms");
            assert_close(r->i_rms_a[ph], irms, 1e-4 * irms, "I rms");
            assert_close(r->p_w[ph], p, 2e-4 * sva, "P");
            assert_close(r->q_var[ph], q1, 2e-4 * sva, "Q1");
            assert_close(r->s_va[ph], sva, 2e-4 * sva, "S");
            assert_close(r->u_thd_pct[ph], thd, 0.01, "THD");
            for (int k = 0; k < sg->ncu; k++) {
                int h = (int) sg->u[k].order;
                double want_deg = sg->u[k].deg - 120.0 * ph * h - h * sg->u[0].deg;

                assert_close(r->u_h_v[ph][h - 1], sg->u[k].rms,
                             fmax(1e-3 * sg->u[k].rms, 1e-4 * udin), "U harmonic");
                assert_close(angle_diff(r->u_h_deg[ph][h - 1], want_deg), 0.0, 0.1,
                             "U harmonic angle");
            }
            for (int k = 0; k < sg->nci; k++) {
                int h = (int) sg->i[k].order;
                double want_deg = sg->i[k].deg - 120.0 * ph * h - h * sg->u[0].deg;

                assert_close(r->i_h_a[ph][h - 1], sg->i[k].rms,
                             fmax(1e-3 * sg->i[k].rms, 1e-4 * sg->i[0].rms),
                             "I harmonic");
                assert_close(angle_diff(r->i_h_deg[ph][h - 1], want_deg), 0.0, 0.1,
                             "I harmonic angle");
            }
        }
        assert_close(r->u_ll_rms_v[0], ull, 1e-4 * ull, "U ll");
        assert_close(r->p_w[3], 3 * p, 2e-4 * 3 * sva, "P total");
        assert_close(r->u_unb_neg_pct, 0.0, 0.01, "u2");
        assert_close(r->u_unb_zero_pct, 0.0, 0.01, "u0");
        assert_int_equal(r->flags & PQ_REC_FLAGGED, 0);
        checked++;
    }
    assert_true(checked >= 2);
}

static void check_frequency(double f, double fs, double f_nom)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));

    rich_signal(&sg, f, fs);
    run(&sg, PQ_WIRING_WYE, f_nom, 230.0, 1.4, T0_NS + 1000000000LL, s);
    print_message("# %.2f Hz at %.0f S/s: %d records\n", f, fs, s->n);
    check_rich(&sg, s, 230.0);
    free(s);
}

static void test_engine_fixed_rate_at_42_5_hz_meets_every_target(void **state)
{
    (void) state;
    check_frequency(42.5, 25600.0, 50.0);
}

static void test_engine_fixed_rate_at_50_hz_meets_every_target(void **state)
{
    (void) state;
    check_frequency(50.0, 25600.0, 50.0);
}

static void test_engine_fixed_rate_at_50_37_hz_meets_every_target(void **state)
{
    (void) state;
    check_frequency(50.37, 25600.0, 50.0);
}

static void test_engine_fixed_rate_at_57_5_hz_meets_every_target(void **state)
{
    (void) state;
    check_frequency(57.5, 25600.0, 50.0);
}

static void test_engine_fixed_rate_at_60_hz_meets_every_target(void **state)
{
    (void) state;
    check_frequency(60.0, 30720.0, 60.0);
}

static void test_engine_fixed_rate_at_69_hz_meets_every_target(void **state)
{
    (void) state;
    check_frequency(69.0, 30720.0, 60.0);
}

static void test_engine_locked_512_samples_per_cycle_meets_every_target(void **state)
{
    (void) state;
    check_frequency(50.0, 512 * 50.0, 50.0);
}

static void
test_engine_locked_256_samples_per_cycle_at_60_hz_meets_every_target(void **state)
{
    (void) state;
    check_frequency(60.0, 256 * 60.0, 60.0);
}

static void test_engine_12_8_khz_fixed_rate_meets_every_target(void **state)
{
    (void) state;
    check_frequency(50.2, 12800.0, 50.0);
}

/* Reference T10: 230 V; 10 A in phase + 3 A 3rd harmonic. */
static void test_engine_single_phase_t10_gives_ieee_1459_values(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));

    (void) state;
    memset(&sg, 0, sizeof(sg));
    sg.f_hz = 50.0;
    sg.fs_hz = 25600.0;
    sg.nu = 1;
    sg.ni = 1;
    sg.u_scale[0] = 1.0;
    sg.u[sg.ncu++] = (struct comp){230.0, 1, 0.0};
    sg.i[sg.nci++] = (struct comp){10.0, 1, 0.0};
    sg.i[sg.nci++] = (struct comp){3.0, 3, 0.0};
    run(&sg, PQ_WIRING_SINGLE, 50.0, 230.0, 1.0, T0_NS, s);
    assert_true(s->n >= 3);
    for (int n = 0; n < s->n; n++) {
        const struct pq_interval *r = &s->rec[n];

        assert_int_equal(r->nph, 1);
        assert_close(r->p_w[0], 2300.0, 2e-4 * 2401.27, "P");
        assert_close(r->p_w[3], 2300.0, 2e-4 * 2401.27, "P total");
        assert_close(r->s_va[0], 2401.27, 0.01 * 1.0 + 2e-4 * 2401.27, "S");
        assert_close(r->pf[0], 0.9578, 1e-4, "PF");
        assert_close(r->dpf[0], 1.0, 1e-6, "DPF");
        assert_close(r->q_var[0], 0.0, 2e-4 * 2401.27, "Q1");
        assert_close(r->i_thd_pct[0], 30.0, 0.01, "THDi");
    }
    free(s);
}

/* Reference T6: Ua = 230/0, Ub = 220/-120, Uc = 240/120 degrees. */
static void test_engine_unbalance_t6_gives_u2_and_u0_of_2_51_pct(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));

    (void) state;
    memset(&sg, 0, sizeof(sg));
    sg.f_hz = 50.0;
    sg.fs_hz = 25600.0;
    sg.nu = 3;
    sg.u_scale[0] = 1.0;
    sg.u_scale[1] = 220.0 / 230.0;
    sg.u_scale[2] = 240.0 / 230.0;
    sg.u[sg.ncu++] = (struct comp){230.0, 1, 0.0};
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 1.0, T0_NS, s);
    assert_true(s->n >= 3);
    for (int n = 0; n < s->n; n++) {
        assert_close(s->rec[n].u_unb_neg_pct, 2.510, 0.01, "u2");
        assert_close(s->rec[n].u_unb_zero_pct, 2.510, 0.01, "u0");
        /* reference T6: NEMA MG-1 on the line-line voltages 2.181 %;
         * derating between 0.95 (2 %) and 0.93 (2.5 %): 0.9428 */
        assert_close(s->rec[n].u_unb_nema_pct, 2.181, 0.005, "NEMA unbalance");
        assert_close(s->rec[n].nema_derating, 0.95 - 0.181 / 0.5 * 0.02, 0.001,
                     "derating");
        assert_close(s->rec[n].u_rms_v[1], 220.0, 220e-4, "Ub");
    }
    free(s);
}

/* Delta: phase voltages measured against earth with a 60 V common-mode
 * shift; the engine forms L-L values and the virtual star point. */
static void test_engine_delta_removes_common_mode_and_keeps_totals(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));
    double ull = 400.0;

    (void) state;
    rich_signal(&sg, 50.0, 25600.0);
    sg.ncu = 1;
    sg.u[0] = (struct comp){ull / sqrt(3.0), 1, 0.0};
    sg.nci = 1;
    sg.i[0] = (struct comp){50.0, 1, -25.0};
    sg.common_v = 60.0;
    run(&sg, PQ_WIRING_DELTA, 50.0, 400.0, 1.0, T0_NS, s);
    assert_true(s->n >= 3);
    for (int n = 0; n < s->n; n++) {
        const struct pq_interval *r = &s->rec[n];
        double p = 3 * (ull / sqrt(3.0)) * 50.0 * cos(25.0 * M_PI / 180.0);

        for (int ph = 0; ph < 3; ph++) {
            assert_close(r->u_ll_rms_v[ph], ull, 1e-4 * ull, "U ll");
            assert_close(r->u_rms_v[ph], ull / sqrt(3.0), 1e-4 * ull,
                         "U to the star point");
        }
        assert_close(r->p_w[3], p, 2e-4 * 3 * ull / sqrt(3.0) * 50.0, "P total");
        assert_close(r->u_unb_zero_pct, 0.0, 0.01, "u0 of a virtual star");
    }
    free(s);
}

static void test_engine_noise_keeps_rms_within_target(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));

    (void) state;
    rich_signal(&sg, 50.0, 25600.0);
    sg.ncu = 1;
    sg.nci = 1;
    sg.noise_rel = 0.001; /* uniform +-0.05 % of U1: 0.029 % RMS */
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 1.0, T0_NS, s);
    assert_true(s->n >= 3);
    for (int n = 0; n < s->n; n++) {
        /* noise adds in quadrature: sqrt(1 + (0.001^2/12)) - 1 = 4e-8 */
        assert_close(s->rec[n].u_rms_v[0], 230.0, 1e-4 * 230.0, "U rms with noise");
        assert_close(s->rec[n].freq_hz, 50.0, 0.001, "frequency with noise");
    }
    free(s);
}

/* Reference T8 in the engine: 230 V + 10 V at 250 Hz + 2 V at 285 Hz. */
static void test_engine_interharmonic_lands_in_its_centred_subgroup(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));

    (void) state;
    memset(&sg, 0, sizeof(sg));
    sg.f_hz = 50.0;
    sg.fs_hz = 25600.0;
    sg.nu = 3;
    for (int ph = 0; ph < 3; ph++) {
        sg.u_scale[ph] = 1.0;
    }
    sg.u[sg.ncu++] = (struct comp){230.0, 1, 0.0};
    sg.u[sg.ncu++] = (struct comp){10.0, 5, 0.0};
    sg.u[sg.ncu++] = (struct comp){2.0, 5.7, 0.0};
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 1.0, T0_NS, s);
    assert_true(s->n >= 3);
    for (int n = 0; n < s->n; n++) {
        const struct pq_interval *r = &s->rec[n];

        assert_close(r->u_h_v[0][4], 10.0, 1e-3 * 10.0, "G sg 5");
        assert_close(r->u_ih_v[0][5], 2.0, 1e-3 * 2.0 + 0.023, "C isg 5");
        assert_close(r->u_thd_pct[0], 4.348, 0.005, "THDS");
    }
    free(s);
}

static void test_engine_halfcycle_rms_of_a_sine_is_its_rms(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));

    (void) state;
    rich_signal(&sg, 50.37, 25600.0);
    sg.ncu = 1;
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 1.0, T0_NS, s);
    assert_true(s->nhalf > 90);
    assert_close(s->half_u_min, 230.0, 230e-4, "Urms(1/2) min");
    assert_close(s->half_u_max, 230.0, 230e-4, "Urms(1/2) max");
    free(s);
}

static void test_engine_ten_second_frequency_counts_whole_cycles(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));

    (void) state;
    rich_signal(&sg, 50.37, 6400.0);
    sg.ncu = 1;
    sg.ni = 0;
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 31.0, T0_NS, s);
    assert_int_equal(s->nf10, 3);
    for (int k = 0; k < s->nf10; k++) {
        print_message("# f10[%d] = %.6f\n", k, s->f10[k]);
        assert_close(s->f10[k], 50.37, 0.001, "10-s frequency");
    }
    free(s);
}

static void test_engine_interruption_keeps_windows_going_and_flags_them(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));
    int flagged = 0;

    (void) state;
    rich_signal(&sg, 50.0, 12800.0);
    sg.ncu = 1;
    sg.nci = 1;
    sg.dip_from_s = 0.6;
    sg.dip_to_s = 1.6;
    sg.dip_level = 0.0;
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 3.0, T0_NS, s);
    /* 200 ms of settling, then windows of about 200 ms without a gap */
    assert_true(s->n >= 13);
    for (int n = 1; n < s->n; n++) {
        assert_close((double) (s->rec[n].start_ns - s->rec[n - 1].end_ns), 0.0, 1e3,
                     "gap");
        flagged += (s->rec[n].flags & PQ_REC_FLAGGED) != 0;
    }
    assert_true(flagged >= 4);
    assert_close(s->rec[s->n - 1].u_rms_v[0], 230.0, 230e-4, "after the interruption");
    free(s);
}

static void test_engine_restarts_the_series_at_the_ten_minute_tick(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));
    int found = 0;

    (void) state;
    rich_signal(&sg, 50.37, 6400.0);
    sg.ncu = 1;
    sg.ni = 0;
    /* start 1.1 s before the tick at T0 */
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 2.5, T0_NS - 1100000000LL, s);
    for (int n = 1; n < s->n; n++) {
        if (s->resync[n]) {
            found++;
            /* the new series starts right after the tick (first positive
             * crossing), while the previous window runs past it */
            assert_true(s->rec[n].start_ns >= T0_NS);
            assert_true(s->rec[n].start_ns < T0_NS + 20000000LL);
            assert_true(s->rec[n - 1].start_ns < T0_NS);
            assert_true(s->rec[n - 1].end_ns > s->rec[n].start_ns);
        } else {
            assert_close((double) (s->rec[n].start_ns - s->rec[n - 1].end_ns), 0.0, 1e3,
                         "contiguous");
        }
    }
    assert_int_equal(found, 1);
    free(s);
}

/* Regression: a feed of many seconds at once once overran the half-cycle
 * ring and produced records ending before they started. */
static void test_engine_one_huge_feed_gives_the_same_records_as_small_ones(void **state)
{
    struct signal sg;
    struct sink *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

    (void) state;
    rich_signal(&sg, 50.0, 6400.0);
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 4.0, T0_NS, a);
    feed_frames = (size_t) (4.0 * 6400.0);
    run(&sg, PQ_WIRING_WYE, 50.0, 230.0, 4.0, T0_NS, b);
    feed_frames = 1000;
    assert_int_equal(a->n, b->n);
    assert_true(a->n >= 18);
    for (int n = 0; n < a->n; n++) {
        assert_true(b->rec[n].end_ns > b->rec[n].start_ns);
        assert_int_equal(a->rec[n].start_ns, b->rec[n].start_ns);
        assert_close(b->rec[n].u_rms_v[0], a->rec[n].u_rms_v[0], 1e-9, "same U");
    }
    free(a);
    free(b);
}

/* pq_engine_flag(): exactly the records overlapping the period are flagged
 * (IEC 61000-4-30 4.7). */
static void test_engine_flag_marks_exactly_the_overlapping_records(void **state)
{
    struct signal sg;
    struct sink *s = calloc(1, sizeof(*s));
    struct pq_engine_cfg cfg;
    struct pq_engine_out out = {.interval = on_interval, .ctx = s};
    struct pq_engine *e = NULL;
    size_t n = (size_t) (2.0 * 6400);
    float *x = malloc(n * sizeof(float));
    int64_t from = T0_NS + 1000000000LL, to = T0_NS + 1100000000LL;
    int flagged = 0;

    (void) state;
    rich_signal(&sg, 50.0, 6400.0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.fs_hz = 6400.0;
    cfg.nch = 1;
    cfg.role[0] = PQ_ROLE_UA;
    cfg.wiring = PQ_WIRING_SINGLE;
    cfg.f_nominal_hz = 50.0;
    cfg.udin_v = 230.0;
    cfg.start_ns = T0_NS;
    for (size_t k = 0; k < n; k++) {
        x[k] = (float) wave(&sg, sg.u, 1, 0, (double) k / 6400.0, 1);
    }
    assert_int_equal(pq_engine_new(&cfg, &out, &e, NULL), 0);
    pq_engine_flag(e, from, to);
    pq_engine_feed(e, x, n);
    assert_true(s->n >= 8);
    for (int k = 0; k < s->n; k++) {
        int overlaps = s->rec[k].start_ns < to && s->rec[k].end_ns > from;

        assert_int_equal((s->rec[k].flags & PQ_REC_FLAGGED) != 0, overlaps);
        flagged += overlaps;
    }
    assert_true(flagged >= 1 && flagged <= 2);
    pq_engine_free(e);
    free(x);
    free(s);
}

static void test_engine_rejects_a_config_without_phase_a_voltage(void **state)
{
    struct pq_engine_cfg cfg;
    struct pq_engine *e = NULL;
    const char *why = NULL;

    (void) state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.fs_hz = 12800;
    cfg.nch = 1;
    cfg.role[0] = PQ_ROLE_IA;
    cfg.f_nominal_hz = 50;
    assert_int_equal(pq_engine_new(&cfg, NULL, &e, &why), -EINVAL);
    assert_non_null(why);
    assert_null(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_fixed_rate_at_42_5_hz_meets_every_target),
        cmocka_unit_test(test_engine_fixed_rate_at_50_hz_meets_every_target),
        cmocka_unit_test(test_engine_fixed_rate_at_50_37_hz_meets_every_target),
        cmocka_unit_test(test_engine_fixed_rate_at_57_5_hz_meets_every_target),
        cmocka_unit_test(test_engine_fixed_rate_at_60_hz_meets_every_target),
        cmocka_unit_test(test_engine_fixed_rate_at_69_hz_meets_every_target),
        cmocka_unit_test(test_engine_locked_512_samples_per_cycle_meets_every_target),
        cmocka_unit_test(
            test_engine_locked_256_samples_per_cycle_at_60_hz_meets_every_target),
        cmocka_unit_test(test_engine_12_8_khz_fixed_rate_meets_every_target),
        cmocka_unit_test(test_engine_single_phase_t10_gives_ieee_1459_values),
        cmocka_unit_test(test_engine_unbalance_t6_gives_u2_and_u0_of_2_51_pct),
        cmocka_unit_test(test_engine_delta_removes_common_mode_and_keeps_totals),
        cmocka_unit_test(test_engine_noise_keeps_rms_within_target),
        cmocka_unit_test(test_engine_interharmonic_lands_in_its_centred_subgroup),
        cmocka_unit_test(test_engine_halfcycle_rms_of_a_sine_is_its_rms),
        cmocka_unit_test(test_engine_ten_second_frequency_counts_whole_cycles),
        cmocka_unit_test(test_engine_interruption_keeps_windows_going_and_flags_them),
        cmocka_unit_test(test_engine_restarts_the_series_at_the_ten_minute_tick),
        cmocka_unit_test(test_engine_one_huge_feed_gives_the_same_records_as_small_ones),
        cmocka_unit_test(test_engine_flag_marks_exactly_the_overlapping_records),
        cmocka_unit_test(test_engine_rejects_a_config_without_phase_a_voltage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
