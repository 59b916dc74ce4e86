/* test_adc_sim.c - the "sim" sample source against closed-form expectations.
 *
 * Each test writes a meter section in YAML, loads it with the real schema
 * (so defaults and rules apply as in a config file) and opens the source.
 * Expected values are computed here, independently of adc_sim.c, in double;
 * the source delivers float, so a sample is compared within a few float
 * ulps of the peak, and an RMS over many cycles within 1e-9 relative.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "drivers/adc/adc.h"
#include "drivers/adc/adc_impl.h"
#include "pq/err.h"

#define SQRT2 1.4142135623730951
#define DEG   (M_PI / 180.0)

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.17g, want %.17g +- %g", got, want, tol);
    }
}

static void assert_rel(double got, double want, double rel)
{
    if (!(fabs(got - want) <= rel * fabs(want))) {
        fail_msg("got %.17g, want %.17g (relative error %.3g > %g)", got, want,
                 fabs(got - want) / fabs(want), rel);
    }
}

/* Load a meter section; fails the test on any config error. */
static struct meter_cfg *load_meter(const char *yaml)
{
    struct cfg_diag d;
    void *obj = NULL;
    int rc;

    cfg_diag_init(&d);
    rc = cfg_load(&meter_schema, "t.yaml", (const uint8_t *) yaml, strlen(yaml), NULL, 0,
                  &obj, &d);
    if (rc != 0) {
        cfg_diag_print(&d, stderr);
    }
    cfg_diag_fini(&d);
    assert_int_equal(rc, 0);
    return obj;
}

/* Open a sim from a meter section; the config is freed at once: the source
 * must have copied what it needs. */
static struct adc *open_sim(const char *yaml)
{
    struct meter_cfg *m = load_meter(yaml);
    struct adc *a = NULL;

    assert_int_equal(adc_open(m, &a), 0);
    cfg_free(&meter_schema, m);
    assert_non_null(a);
    return a;
}

/* Read exactly n frames (a fast source fills every read). */
static float *read_frames(struct adc *a, size_t n)
{
    struct adc_info info;
    float *buf;
    size_t got = 0;

    assert_int_equal(adc_info(a, &info), 0);
    buf = malloc(n * info.nch * sizeof(*buf));
    assert_non_null(buf);
    assert_int_equal(adc_read(a, buf, n, &got), 0);
    assert_int_equal(got, n);
    return buf;
}

/* Frames 0..n-1 in double, as generated before adc_read() rounds them. */
static double *exact_frames(const struct adc *a, size_t n)
{
    struct adc_info info;
    double *buf;

    assert_int_equal(adc_info(a, &info), 0);
    buf = malloc(n * info.nch * sizeof(*buf));
    assert_non_null(buf);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(adc_sim_frame_at(a, (int64_t) k, buf + k * info.nch), 0);
    }
    return buf;
}

static double rmsd_of(const double *buf, size_t nch, size_t ch, size_t n)
{
    double sum = 0;

    for (size_t k = 0; k < n; k++) {
        sum += buf[k * nch + ch] * buf[k * nch + ch];
    }
    return sqrt(sum / (double) n);
}

static double rms_of(const float *buf, size_t nch, size_t ch, size_t n)
{
    double sum = 0;

    for (size_t k = 0; k < n; k++) {
        sum += (double) buf[k * nch + ch] * buf[k * nch + ch];
    }
    return sqrt(sum / (double) n);
}

/* Amplitude (peak) and phase (rad, cosine reference) of channel ch at
 * freq, by a DFT over n samples spanning whole periods of freq. */
static void dft_at(const float *buf, size_t nch, size_t ch, size_t n, double fs,
                   double freq, double *amp, double *phase)
{
    double re = 0, im = 0;

    for (size_t k = 0; k < n; k++) {
        double w = 2 * M_PI * freq * (double) k / fs;

        re += buf[k * nch + ch] * cos(w);
        im -= buf[k * nch + ch] * sin(w);
    }
    *amp = 2 * hypot(re, im) / (double) n;
    *phase = atan2(im, re);
}

static double wrap(double rad)
{
    return remainder(rad, 2 * M_PI);
}

/* ---- channels ---------------------------------------------------------- */

static void test_sim_wye_gives_four_voltages_then_four_currents(void **state)
{
    static const int roles[] = {ADC_UA, ADC_UB, ADC_UC, ADC_UN,
                                ADC_IA, ADC_IB, ADC_IC, ADC_IN};
    static const char *const names[] = {"ua", "ub", "uc", "un", "ia", "ib", "ic", "in"};
    struct adc *a = open_sim("source: sim\nsim: {realtime: false}\n");
    struct adc_info info;

    (void) state;
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.nch, 8);
    assert_close(info.fs_hz, 25600, 0);
    assert_int_equal(info.realtime, 0);
    for (size_t c = 0; c < 8; c++) {
        assert_int_equal(info.role[c], roles[c]);
        assert_string_equal(info.name[c], names[c]);
        assert_string_equal(info.unit[c], c < 4 ? "V" : "A");
    }
    assert_int_equal(adc_fd(a), -1);
    adc_close(a);
}

static void test_sim_delta_gives_three_and_three_single_one_or_two_each(void **state)
{
    struct adc_info info;
    struct adc *a;

    (void) state;
    a = open_sim("source: sim\nwiring: delta\nsim: {realtime: false}\n");
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.nch, 6);
    assert_int_equal(info.role[2], ADC_UC);
    assert_int_equal(info.role[3], ADC_IA);
    adc_close(a);

    a = open_sim("source: sim\nwiring: single\nsim: {realtime: false}\n");
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.nch, 4);
    assert_int_equal(info.role[0], ADC_UA);
    assert_int_equal(info.role[1], ADC_UN);
    assert_int_equal(info.role[2], ADC_IA);
    assert_int_equal(info.role[3], ADC_IN);
    adc_close(a);

    a = open_sim("source: sim\nwiring: single\nsim: {realtime: false, neutral: false}\n");
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.nch, 2);
    assert_int_equal(info.role[1], ADC_IA);
    adc_close(a);
}

static void test_sim_source_none_opens_nothing(void **state)
{
    struct meter_cfg *m = load_meter("source: none\n");
    struct adc *a = (struct adc *) 0x1;

    (void) state;
    assert_int_equal(adc_open(m, &a), -PQ_ECONFIG);
    assert_ptr_equal(a, (struct adc *) 0x1); /* untouched */
    cfg_free(&meter_schema, m);
    adc_close(NULL);
}

/* ---- RMS, power, harmonics ---------------------------------------------- */

/* Per-phase RMS of U and I over 100 whole cycles equals the closed form
 * within 1e-9, at rates of 128 to 512 samples per cycle, 50 and 60 Hz.
 * Checked on the generator's doubles: the floats adc_read() delivers are
 * those rounded (next test), which repeat every cycle, so their RMS can be
 * off by a few 1e-9. */
static void test_sim_rms_over_whole_cycles_is_analytic_within_1e9(void **state)
{
    static const struct {
        double fs, f;
    } rates[] = {{25600, 50}, {12800, 50}, {7680, 60}, {30720, 60}};

    const double u_pct[3] = {100, 97, 102}, i_pct[3] = {100, 80, 110};
    const double uh = sqrt(1 + 0.03 * 0.03 + 0.02 * 0.02);
    const double ih = sqrt(1 + 0.2 * 0.2 + 0.1 * 0.1);

    (void) state;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        char yaml[1024];
        size_t n = (size_t) llround(100 * rates[r].fs / rates[r].f);
        struct adc *a;
        double *buf;

        snprintf(yaml, sizeof(yaml),
                 "source: sim\n"
                 "sim:\n"
                 "  realtime: false\n"
                 "  sample_rate: %g Hz\n"
                 "  frequency: %g Hz\n"
                 "  voltage: 230 V\n"
                 "  current: 60 A\n"
                 "  power_factor: 0.9\n"
                 "  unbalance: {b: {voltage: 97 %%, current: 80 %%},"
                 " c: {voltage: 102 %%, current: 110 %%, voltage_angle: 3}}\n"
                 "  harmonics:\n"
                 "    - {order: 5, voltage: 3 %%, current: 20 %%, voltage_angle: 40}\n"
                 "    - {order: 7, voltage: 2 %%, current: 10 %%, current_angle: -75}\n",
                 rates[r].fs, rates[r].f);
        a = open_sim(yaml);
        buf = exact_frames(a, n);
        for (size_t p = 0; p < 3; p++) {
            assert_rel(rmsd_of(buf, 8, p, n), 230 * u_pct[p] / 100 * uh, 1e-9);
            assert_rel(rmsd_of(buf, 8, 4 + p, n), 60 * i_pct[p] / 100 * ih, 1e-9);
        }
        assert_close(rmsd_of(buf, 8, 3, n), 0, 0); /* UN: no noise, 0 V */
        free(buf);
        adc_close(a);
    }
}

/* adc_read() delivers the generator's values rounded to the nearest float. */
static void test_sim_read_is_the_exact_frame_rounded_to_float(void **state)
{
    struct adc *a =
        open_sim("source: sim\nsim: {realtime: false, noise: 0.5 %, harmonics: [{order: "
                 "11, voltage: 1 %}],"
                 " scenarios: [{kind: dip, at: 10ms, duration: 20ms, level: 50 %}]}\n");
    size_t n = 5000;
    double *exact = exact_frames(a, n);
    float *buf = read_frames(a, n);

    (void) state;
    for (size_t j = 0; j < n * 8; j++) {
        if (buf[j] != (float) exact[j]) {
            fail_msg("frame %zu channel %zu: %.9g is not %.17g rounded", j / 8, j % 8,
                     (double) buf[j], exact[j]);
        }
    }
    free(exact);
    free(buf);
    adc_close(a);
}

/* IN = -(IA + IB + IC): its RMS is that of the phasor sums, per harmonic. */
static void test_sim_neutral_current_is_the_sum_of_unbalanced_phases(void **state)
{
    struct adc *a = open_sim("source: sim\n"
                             "sim:\n"
                             "  realtime: false\n"
                             "  current: 100 A\n"
                             "  unbalance: {b: {current: 50 %}}\n"
                             "  harmonics: [{order: 3, current: 30 %}]\n");
    const double phi[3] = {0, -120 * DEG, 120 * DEG}, scale[3] = {1, 0.5, 1};
    double sum2 = 0;
    size_t n = (size_t) 512 * 50;
    double *buf = exact_frames(a, n);

    (void) state;
    for (int h = 1; h <= 3; h += 2) {
        double re = 0, im = 0, amp = h == 1 ? 100 : 30;

        for (int p = 0; p < 3; p++) {
            re += amp * scale[p] * cos(h * phi[p]);
            im += amp * scale[p] * sin(h * phi[p]);
        }
        sum2 += re * re + im * im;
    }
    assert_rel(rmsd_of(buf, 8, 7, n), sqrt(sum2), 1e-9);
    free(buf);
    adc_close(a);
}

/* Mean of u*i over whole cycles: U I cos(phi), lagging or leading. */
static void test_sim_active_power_follows_the_power_factor(void **state)
{
    (void) state;
    for (int leading = 0; leading < 2; leading++) {
        char yaml[256];
        size_t n = (size_t) 512 * 50;
        double p = 0, amp, ph_u, ph_i;
        struct adc *a;
        double *exact;
        float *buf;

        snprintf(yaml, sizeof(yaml),
                 "source: sim\nsim: {realtime: false, voltage: 230 V, current: 60 A, "
                 "power_factor: 0.9, leading: %s}\n",
                 leading ? "true" : "false");
        a = open_sim(yaml);
        exact = exact_frames(a, n);
        buf = read_frames(a, n);
        for (size_t k = 0; k < n; k++) {
            p += exact[k * 8] * exact[k * 8 + 4];
        }
        assert_rel(p / (double) n, 230 * 60 * 0.9, 1e-9);
        free(exact);
        dft_at(buf, 8, 0, n, 25600, 50, &amp, &ph_u);
        dft_at(buf, 8, 4, n, 25600, 50, &amp, &ph_i);
        /* lagging: the current's angle is below the voltage's */
        assert_close(wrap(ph_i - ph_u), (leading ? 1 : -1) * acos(0.9), 1e-6);
        free(buf);
        adc_close(a);
    }
}

/* A DFT at the exact frequency finds each component's RMS and angle. */
static void test_sim_harmonics_and_interharmonics_by_dft(void **state)
{
    struct adc *a = open_sim("source: sim\n"
                             "sim:\n"
                             "  realtime: false\n"
                             "  voltage: 230 V\n"
                             "  current: 10 A\n"
                             "  harmonics: [{order: 5, voltage: 3 %, voltage_angle: 30,"
                             " current: 20 %, current_angle: -60}]\n"
                             "  interharmonics: [{frequency: 175 Hz, voltage: 0.5 %}]\n");
    const double base[3] = {0, -120, 120};
    size_t n = 5120; /* 10 cycles of 50 Hz, 35 of 175 Hz */
    float *buf = read_frames(a, n);

    (void) state;
    for (size_t p = 0; p < 3; p++) {
        double amp, ph, want;

        dft_at(buf, 8, p, n, 25600, 50, &amp, &ph);
        assert_rel(amp / SQRT2, 230, 1e-7);
        assert_close(wrap(ph - base[p] * DEG), 0, 1e-6);
        dft_at(buf, 8, p, n, 25600, 250, &amp, &ph);
        assert_rel(amp / SQRT2, 230 * 0.03, 1e-6);
        want = 5 * base[p] + 30; /* order x the phase's angle + its own */
        assert_close(wrap(ph - want * DEG), 0, 1e-5);
        dft_at(buf, 8, 4 + p, n, 25600, 250, &amp, &ph);
        assert_rel(amp / SQRT2, 10 * 0.2, 1e-6);
        assert_close(wrap(ph - (5 * base[p] - 60) * DEG), 0, 1e-5);
        dft_at(buf, 8, p, n, 25600, 175, &amp, &ph);
        assert_rel(amp / SQRT2, 230 * 0.005, 1e-5);
        assert_close(wrap(ph - base[p] * DEG), 0, 1e-4);
        dft_at(buf, 8, p, n, 25600, 150, &amp, &ph); /* nothing there */
        assert_close(amp, 0, 1e-4);
    }
    free(buf);
    adc_close(a);
}

/* ---- scenarios, sample by sample ----------------------------------------- */

/* A phase voltage expected at frame k: fundamental only, 230 V. */
struct expect {
    double fs, f;
    double ang;                                          /* the phase's angle, rad */
    double (*env)(const struct expect *e, int64_t k);    /* NULL: 1 */
    double (*cycles)(const struct expect *e, int64_t k); /* NULL: f k / fs */
    int64_t k0, k1;
    double level, extra;
};

static double expected_u(const struct expect *e, int64_t k)
{
    double c = e->cycles ? e->cycles(e, k) : e->f * (double) k / e->fs;
    double env = e->env ? e->env(e, k) : 1.0;

    return 230 * SQRT2 * env * cos(2 * M_PI * c + e->ang);
}

/* Every one of n frames of channel ch matches within 1e-6 of the peak. */
static void assert_channel_follows(const float *buf, size_t nch, size_t ch, size_t n,
                                   const struct expect *e)
{
    for (size_t k = 0; k < n; k++) {
        double want = expected_u(e, (int64_t) k);

        if (!(fabs(buf[k * nch + ch] - want) <= 230 * SQRT2 * 1e-6)) {
            fail_msg("frame %zu: got %.9g, want %.9g", k, (double) buf[k * nch + ch],
                     want);
        }
    }
}

static double env_step(const struct expect *e, int64_t k)
{
    return k >= e->k0 && k < e->k1 ? e->level : 1.0;
}

static void test_sim_dip_starts_and_ends_on_the_nearest_sample(void **state)
{
    /* at 100 ms + 0.6 sample periods: the nearest sample is 2561 */
    struct adc *a =
        open_sim("source: sim\n"
                 "sim:\n"
                 "  realtime: false\n"
                 "  voltage: 230 V\n"
                 "  scenarios:\n"
                 "    - {kind: dip, at: 100023438ns, duration: 60ms, level: 40 %,"
                 " phases: A}\n");
    struct expect e = {.fs = 25600,
                       .f = 50,
                       .env = env_step,
                       .k0 = 2561,
                       .k1 = 2561 + 1536,
                       .level = 0.4};
    struct expect b_ok = {.fs = 25600, .f = 50, .ang = -120 * DEG};
    size_t n = 6000;
    float *buf = read_frames(a, n);

    (void) state;
    assert_channel_follows(buf, 8, 0, n, &e);
    assert_channel_follows(buf, 8, 1, n, &b_ok); /* phase B is untouched */
    /* the depth: RMS of the 3 whole cycles inside the dip */
    assert_rel(rms_of(buf + (size_t) 3072 * 8, 8, 0, (size_t) 512 * 2), 230 * 0.4, 1e-6);
    free(buf);
    adc_close(a);
}

static void test_sim_swell_and_interruption_change_level_for_their_duration(void **state)
{
    struct adc *a =
        open_sim("source: sim\n"
                 "sim:\n"
                 "  realtime: false\n"
                 "  voltage: 230 V\n"
                 "  current: 50 A\n"
                 "  scenarios:\n"
                 "    - {kind: swell, at: 20ms, duration: 40ms, level: 120 %,"
                 " phases: A}\n"
                 "    - {kind: interruption, at: 100ms, duration: 1s, phases: C}\n");
    struct expect e = {
        .fs = 25600, .f = 50, .env = env_step, .k0 = 512, .k1 = 1536, .level = 1.2};
    size_t n = 25600;
    float *buf = read_frames(a, n);

    (void) state;
    assert_channel_follows(buf, 8, 0, n, &e);
    /* interruption: C's voltage and current are 0 from frame 2560 */
    assert_true(fabsf(buf[(size_t) 2559 * 8 + 2]) > 1 &&
                fabsf(buf[(size_t) 2559 * 8 + 6]) > 0.1f);
    assert_close(rms_of(buf + (size_t) 2560 * 8, 8, 2, n - 2560), 0, 0);
    assert_close(rms_of(buf + (size_t) 2560 * 8, 8, 6, n - 2560), 0, 0);
    assert_rel(rms_of(buf, 8, 6, 2560), 50, 1e-7); /* float samples */
    free(buf);
    adc_close(a);
}

static double cycles_step(const struct expect *e, int64_t k)
{
    double c = e->f * (double) k / e->fs;

    if (k > e->k0) {
        c += e->extra * (double) (k - e->k0) / e->fs;
    }
    return c;
}

/* The frequency changes at the step's sample with no jump in phase. */
static void test_sim_frequency_step_is_phase_continuous(void **state)
{
    struct adc *a =
        open_sim("source: sim\n"
                 "sim:\n"
                 "  realtime: false\n"
                 "  voltage: 230 V\n"
                 "  scenarios: [{kind: frequency_step, at: 1s, step: 0.5 Hz}]\n");
    struct expect e = {
        .fs = 25600, .f = 50, .cycles = cycles_step, .k0 = 25600, .extra = 0.5};
    size_t n = (size_t) 25600 * 3;
    float *buf = read_frames(a, n);
    double first = -1, last = -1;
    int crossings = 0;

    (void) state;
    assert_channel_follows(buf, 8, 0, n, &e);
    /* after the step, rising zero crossings every 1/50.5 s */
    for (size_t k = 25600 * 2 + 1; k < n; k++) {
        if (buf[(k - 1) * 8] < 0 && buf[k * 8] >= 0) {
            double t =
                (double) (k - 1) + buf[(k - 1) * 8] / (buf[(k - 1) * 8] - buf[k * 8]);

            if (first < 0) {
                first = t;
            }
            last = t;
            crossings++;
        }
    }
    assert_true(crossings > 10);
    assert_close((crossings - 1) / ((last - first) / 25600), 50.5, 1e-6);
    free(buf);
    adc_close(a);
}

static double cycles_drift(const struct expect *e, int64_t k)
{
    double t = (double) k / e->fs;

    return e->f * t + 0.5 * e->extra * t * t;
}

/* drift: f(t) = f0 + d t, so the phase is quadratic; exact hours later
 * (every sample is a function of its index, so frame 10 h in needs no
 * reading of what comes before). */
static void test_sim_drift_is_exact_hours_later(void **state)
{
    struct adc *a = open_sim("source: sim\n"
                             "sim: {realtime: false, voltage: 230 V, drift: 0.36 Hz/h,"
                             " sample_rate: 12.8 kHz}\n");
    struct expect e = {
        .fs = 12800, .f = 50, .cycles = cycles_drift, .extra = 0.36 / 3600};
    size_t n = (size_t) 12800 * 10;
    float *buf = read_frames(a, n);

    (void) state;
    assert_channel_follows(buf, 8, 0, n, &e);
    for (int64_t k = 12800LL * 36000; k < 12800LL * 36001; k += 7) {
        double x[8];

        assert_int_equal(adc_sim_frame_at(a, k, x), 0);
        assert_close(x[0], expected_u(&e, k), 230 * SQRT2 * 1e-8);
    }
    free(buf);
    adc_close(a);
}

static double env_flicker(const struct expect *e, int64_t k)
{
    double t = (double) (k - e->k0) / e->fs;

    return k < e->k0 ? 1.0 : 1.0 + 0.5 * e->level * sin(2 * M_PI * e->extra * t);
}

static double env_square(const struct expect *e, int64_t k)
{
    double ph = e->extra * (double) (k - e->k0) / e->fs;

    ph -= floor(ph);
    return k < e->k0 ? 1.0 : 1.0 + 0.5 * e->level * (ph < 0.5 ? 1 : -1);
}

static void test_sim_flicker_modulates_the_amplitude(void **state)
{
    struct adc *a = open_sim("source: sim\n"
                             "sim:\n"
                             "  realtime: false\n"
                             "  voltage: 230 V\n"
                             "  scenarios:\n"
                             "    - {kind: flicker, at: 0.5s, frequency: 8.8 Hz, dv: 1 %,"
                             " phases: A}\n"
                             "    - {kind: flicker, at: 0.5s, frequency: 1 Hz, dv: 2 %,"
                             " shape: square, phases: B}\n");
    struct expect e = {.fs = 25600,
                       .f = 50,
                       .env = env_flicker,
                       .k0 = 12800,
                       .level = 0.01,
                       .extra = 8.8};
    struct expect sq = {.fs = 25600,
                        .f = 50,
                        .ang = -120 * DEG,
                        .env = env_square,
                        .k0 = 12800,
                        .level = 0.02,
                        .extra = 1};
    size_t n = (size_t) 25600 * 2;
    float *buf = read_frames(a, n);

    (void) state;
    assert_channel_follows(buf, 8, 0, n, &e);
    assert_channel_follows(buf, 8, 1, n, &sq);
    free(buf);
    adc_close(a);
}

static double env_rvc(const struct expect *e, int64_t k)
{
    double r;

    if (k < e->k0) {
        return 1.0;
    }
    r = fmin(1.0, (double) (k - e->k0) / 2560.0);
    if (k >= e->k1) {
        r = fmin(r, 1.0 - fmin(1.0, (double) (k - e->k1) / 2560.0));
    }
    return 1.0 + (e->level - 1.0) * r;
}

static void test_sim_rvc_ramps_to_its_level_and_back(void **state)
{
    struct adc *a =
        open_sim("source: sim\n"
                 "sim:\n"
                 "  realtime: false\n"
                 "  voltage: 230 V\n"
                 "  scenarios: [{kind: rvc, at: 1s, duration: 1s, ramp: 100ms,"
                 " level: 95 %}]\n");
    struct expect e = {
        .fs = 25600, .f = 50, .env = env_rvc, .k0 = 25600, .k1 = 51200, .level = 0.95};
    size_t n = (size_t) 25600 * 3;
    float *buf = read_frames(a, n);

    (void) state;
    assert_channel_follows(buf, 8, 0, n, &e);
    assert_rel(rms_of(buf + (size_t) 30000 * 8, 8, 0, 5120), 230 * 0.95, 1e-6);
    free(buf);
    adc_close(a);
}

/* ---- determinism and noise ----------------------------------------------- */

#define NOISY(realtime)                         \
    "source: sim\n"                             \
    "sim:\n"                                    \
    "  realtime: " realtime "\n"                \
    "  noise: 1 %\n"                            \
    "  harmonics: [{order: 3, voltage: 1 %}]\n" \
    "  scenarios: [{kind: dip, at: 0.2s, duration: 0.1s, level: 70 %}]\n"

static const char *const noisy = NOISY("false");

/* Same config, same samples, however the reads are cut. */
static void test_sim_same_config_gives_same_samples_whatever_the_reads(void **state)
{
    size_t n = 20000, done = 0;
    struct adc *a = open_sim(noisy), *b = open_sim(noisy);
    float *one = read_frames(a, n);
    float *many = malloc(n * 8 * sizeof(*many));

    (void) state;
    assert_non_null(many);
    while (done < n) {
        size_t want = n - done < 7 ? n - done : 7, got = 0;

        assert_int_equal(adc_read(b, many + done * 8, want, &got), 0);
        assert_int_equal(got, want);
        done += got;
    }
    assert_memory_equal(one, many, n * 8 * sizeof(*one));
    free(one);
    free(many);
    adc_close(a);
    adc_close(b);
}

static void test_sim_noise_has_the_set_rms_and_depends_on_the_seed(void **state)
{
    struct adc *a = open_sim("source: sim\nsim: {realtime: false, voltage: 200 V,"
                             " current: 10 A, noise: 1 %}\n");
    struct adc *b = open_sim("source: sim\nsim: {realtime: false, voltage: 200 V,"
                             " current: 10 A, noise: 1 %, seed: 2}\n");
    size_t n = 200000;
    float *x = read_frames(a, n), *y = read_frames(b, n);
    double mean = 0;

    (void) state;
    for (size_t k = 0; k < n; k++) {
        mean += x[k * 8 + 3];
    }
    assert_close(mean / (double) n, 0, 0.02);  /* 5 sigma of the mean */
    assert_rel(rms_of(x, 8, 3, n), 2.0, 0.01); /* UN: noise only, 1 % of 200 V */
    assert_rel(rms_of(x, 8, 4, n), sqrt(100 + 0.01), 1e-3); /* IA: 10 A + 0.1 A noise */
    assert_true(memcmp(x, y, n * 8 * sizeof(*x)) != 0);
    free(x);
    free(y);
    adc_close(a);
    adc_close(b);
}

/* ---- time ----------------------------------------------------------------- */

static int64_t fake_mono_ns, fake_real_ns;

static int64_t fake_clock(clockid_t clock)
{
    return clock == CLOCK_MONOTONIC ? fake_mono_ns : fake_real_ns;
}

static void test_sim_realtime_delivers_what_the_clock_says_is_due(void **state)
{
    struct adc_info info;
    float buf[2000 * 8];
    size_t got = 99;
    struct adc *a;

    (void) state;
    fake_mono_ns = 5000000000LL;
    fake_real_ns = 1700000000123456789LL;
    adc_clock_ns = fake_clock;
    a = open_sim("source: sim\nsim: {realtime: true}\n");
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.realtime, 1);
    assert_int_equal(info.start_ns, 1700000000123456789LL);

    assert_int_equal(adc_read(a, buf, 2000, &got), 0);
    assert_int_equal(got, 0); /* nothing due yet */
    fake_mono_ns += 10000000; /* 10 ms: 256 frames */
    assert_int_equal(adc_read(a, buf, 2000, &got), 0);
    assert_int_equal(got, 256);
    fake_mono_ns += 39062; /* not quite one more period (39062.5 ns) */
    assert_int_equal(adc_read(a, buf, 2000, &got), 0);
    assert_int_equal(got, 0);
    fake_mono_ns += 1;
    assert_int_equal(adc_read(a, buf, 2000, &got), 0);
    assert_int_equal(got, 1);
    fake_mono_ns += 1000000000; /* 1 s: 25600 due, capped per read */
    assert_int_equal(adc_read(a, buf, 2000, &got), 0);
    assert_int_equal(got, 2000);
    for (int i = 0; i < 11; i++) {
        assert_int_equal(adc_read(a, buf, 2000, &got), 0);
        assert_int_equal(got, 2000);
    }
    assert_int_equal(adc_read(a, buf, 2000, &got), 0);
    assert_int_equal(got, 1600);
    assert_int_equal(adc_read(a, buf, 2000, &got), 0);
    assert_int_equal(got, 0);
    adc_close(a);
    adc_clock_ns = adc_clock_system;
}

/* Paced or not, the samples are the same function of the frame index. */
static void test_sim_realtime_samples_equal_fast_samples(void **state)
{
    struct adc *fast = open_sim(noisy);
    float *want = read_frames(fast, 2560);
    float got_buf[2560 * 8];
    size_t got;
    struct adc *rt;

    (void) state;
    fake_mono_ns = 0;
    fake_real_ns = 0;
    adc_clock_ns = fake_clock;
    rt = open_sim(NOISY("true"));
    fake_mono_ns = 100000000; /* 100 ms */
    assert_int_equal(adc_read(rt, got_buf, 2560, &got), 0);
    assert_int_equal(got, 2560);
    assert_memory_equal(got_buf, want, sizeof(got_buf));
    adc_clock_ns = adc_clock_system;
    free(want);
    adc_close(fast);
    adc_close(rt);
}

static void test_sim_start_is_the_configured_utc_time(void **state)
{
    struct adc_info info;
    struct adc *a = open_sim("source: sim\nsim: {realtime: false}\n");

    (void) state;
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.start_ns, 946684800LL * 1000000000LL); /* 2000-01-01 */
    adc_close(a);
    a = open_sim("source: sim\nsim: {realtime: false, start: 2024-02-29T12:34:56.5Z}\n");
    assert_int_equal(adc_info(a, &info), 0);
    assert_int_equal(info.start_ns, 1709210096LL * 1000000000LL + 500000000LL);
    adc_close(a);
}

/* ---- the config section --------------------------------------------------- */

static void assert_rejected(const char *yaml, const char *want)
{
    struct cfg_diag d;
    void *obj = NULL;

    cfg_diag_init(&d);
    assert_int_equal(cfg_load(&meter_schema, "t.yaml", (const uint8_t *) yaml,
                              strlen(yaml), NULL, 0, &obj, &d),
                     -PQ_ECONFIG);
    assert_null(obj);
    for (size_t i = 0; i < d.n; i++) {
        if (strcmp(d.msgs[i], want) == 0) {
            cfg_diag_fini(&d);
            return;
        }
    }
    for (size_t i = 0; i < d.n; i++) {
        print_message("  have: %s\n", d.msgs[i]);
    }
    cfg_diag_fini(&d);
    fail_msg("missing error: %s", want);
}

static void test_sim_config_rules_report_where(void **state)
{
    (void) state;
    assert_rejected("sim:\n  sample_rate: 5 kHz\n  harmonics:\n    - {order: 63}\n",
                    "t.yaml:4:15: sim.harmonics[0].order: harmonic 63 (3150 Hz) is not "
                    "below half the sample rate (2500 Hz)");
    assert_rejected("sim:\n  harmonics: [{order: 5}, {order: 5}]\n",
                    "t.yaml:2:35: sim.harmonics[1].order: harmonic 5 is already listed");
    assert_rejected(
        "sim:\n  scenarios: [{kind: dip, at: 1s, duration: 0.1s}]\n",
        "t.yaml:2:15: sim.scenarios[0]: a dip needs a level above 0 % and below "
        "100 % (0 % is an interruption), got 0 %");
    assert_rejected("sim:\n  scenarios: [{kind: swell, at: 1s, level: 110 %}]\n",
                    "t.yaml:2:15: sim.scenarios[0]: a swell needs a duration above 0");
    assert_rejected(
        "sim:\n  scenarios: [{kind: flicker, at: 1s, phases: AA}]\n",
        "t.yaml:2:47: sim.scenarios[0].phases: expected phases as letters A, B, "
        "C, each once, like ABC, got 'AA'");
    assert_rejected(
        "sim:\n  start: 2023-02-29T00:00:00Z\n",
        "t.yaml:2:10: sim.start: expected a UTC time like 2024-01-01T00:00:00Z "
        "(from 1970), got '2023-02-29T00:00:00Z'");
    assert_rejected(
        "sim:\n  sample_rate: 500 kHz\n",
        "t.yaml:2:16: sim.sample_rate: expected a value in 1 kHz..200 kHz like "
        "'25.6 kHz', got '500 kHz'");
}

static void test_sim_parse_utc_accepts_only_the_documented_form(void **state)
{
    int64_t ns = 7;

    (void) state;
    assert_int_equal(cfg_parse_utc("1970-01-01T00:00:00Z", &ns), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(cfg_parse_utc("2000-03-01T00:00:01.000000001Z", &ns), 0);
    assert_int_equal(ns, 951868801000000001LL);
    ns = 7;
    assert_int_equal(cfg_parse_utc("2000-03-01T00:00:01.0000000001Z", &ns), -PQ_ECONFIG);
    assert_int_equal(cfg_parse_utc("2000-03-01 00:00:01Z", &ns), -PQ_ECONFIG);
    assert_int_equal(cfg_parse_utc("2000-03-01T00:00:01", &ns), -PQ_ECONFIG);
    assert_int_equal(cfg_parse_utc("2000-13-01T00:00:01Z", &ns), -PQ_ECONFIG);
    assert_int_equal(cfg_parse_utc("1969-12-31T23:59:59Z", &ns), -PQ_ECONFIG);
    assert_int_equal(cfg_parse_utc("2000-03-01T00:00:01.Z", &ns), -PQ_ECONFIG);
    assert_int_equal(cfg_parse_utc("", &ns), -PQ_ECONFIG);
    assert_int_equal(ns, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_wye_gives_four_voltages_then_four_currents),
        cmocka_unit_test(test_sim_delta_gives_three_and_three_single_one_or_two_each),
        cmocka_unit_test(test_sim_source_none_opens_nothing),
        cmocka_unit_test(test_sim_rms_over_whole_cycles_is_analytic_within_1e9),
        cmocka_unit_test(test_sim_read_is_the_exact_frame_rounded_to_float),
        cmocka_unit_test(test_sim_neutral_current_is_the_sum_of_unbalanced_phases),
        cmocka_unit_test(test_sim_active_power_follows_the_power_factor),
        cmocka_unit_test(test_sim_harmonics_and_interharmonics_by_dft),
        cmocka_unit_test(test_sim_dip_starts_and_ends_on_the_nearest_sample),
        cmocka_unit_test(test_sim_swell_and_interruption_change_level_for_their_duration),
        cmocka_unit_test(test_sim_frequency_step_is_phase_continuous),
        cmocka_unit_test(test_sim_drift_is_exact_hours_later),
        cmocka_unit_test(test_sim_flicker_modulates_the_amplitude),
        cmocka_unit_test(test_sim_rvc_ramps_to_its_level_and_back),
        cmocka_unit_test(test_sim_same_config_gives_same_samples_whatever_the_reads),
        cmocka_unit_test(test_sim_noise_has_the_set_rms_and_depends_on_the_seed),
        cmocka_unit_test(test_sim_realtime_delivers_what_the_clock_says_is_due),
        cmocka_unit_test(test_sim_realtime_samples_equal_fast_samples),
        cmocka_unit_test(test_sim_start_is_the_configured_utc_time),
        cmocka_unit_test(test_sim_config_rules_report_where),
        cmocka_unit_test(test_sim_parse_utc_accepts_only_the_documented_form),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
