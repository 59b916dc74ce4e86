/* test_harmonics.c - pq/harmonics: IEC 61000-4-7 grouping, phase angles and
 * the distortion indices.
 *
 * T8 (pq-reference.md 12) runs on a real 10-cycle window through FFTW.  The
 * grouping checks build the spectrum bin by bin (set_bin()), so which bins
 * a group counts, and with which weight, is checked exactly: values to
 * 1e-9 relative.  T8's expected values are printed to 1 or 3 decimals and
 * are checked to half a unit of the last digit.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <fftw3.h>

#include "pq/harmonics.h"

#define M     2048
#define NBIN  (M / 2 + 1)
#define TIGHT 1e-9

typedef double bin_t[2];

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g is not within %g of %.17g\n", got, tol, want);
        fail();
    }
}

/* a - b folded into (-180, 180]. */
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

/* Put a component of RMS c and phase phi_deg (cosine reference) on bin k. */
static void set_bin(bin_t *x, size_t m, long k, double c, double phi_deg)
{
    double a = c * (double) m / sqrt(2.0);

    x[k][0] = a * cos(phi_deg * M_PI / 180.0);
    x[k][1] = a * sin(phi_deg * M_PI / 180.0);
}

/* FFT of m samples of sum_i sqrt(2) c[i] cos(2 pi f[i] t + phi[i]), fs in Hz. */
static void spectrum_of(bin_t *x, size_t m, double fs, int n, const double *c,
                        const double *f, const double *phi_deg)
{
    double *in = fftw_malloc(sizeof(double) * m);
    fftw_complex *out = fftw_malloc(sizeof(fftw_complex) * (m / 2 + 1));
    fftw_plan p = fftw_plan_dft_r2c_1d((int) m, in, out, FFTW_ESTIMATE);

    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < m; i++) {
        double v = 0.0;

        for (int j = 0; j < n; j++) {
            v += sqrt(2.0) * c[j] *
                 cos(2.0 * M_PI * f[j] * (double) i / fs + phi_deg[j] * M_PI / 180.0);
        }
        in[i] = v;
    }
    fftw_execute(p);
    memcpy(x, out, sizeof(fftw_complex) * (m / 2 + 1));
    fftw_destroy_plan(p);
    fftw_free(in);
    fftw_free(out);
}

static double parseval_rms(bin_t *x, size_t m)
{
    double s = 0.0;

    for (size_t k = 0; k <= m / 2; k++) {
        double p = (x[k][0] * x[k][0] + x[k][1] * x[k][1]) / ((double) m * (double) m);

        s += (k == 0 || k == m / 2) ? p : 2.0 * p;
    }
    return sqrt(s);
}

/* ---- T8 ---- */

/* 50 Hz, fs = 10.24 kHz, 10 cycles = 2048 samples: 230 V + 10 V at 250 Hz
 * + 2 V at 285 Hz (an interharmonic on bin 57, between orders 5 and 6). */
static void test_harmonics_t8_window_gives_reference_groups(void **state)
{
    static bin_t x[NBIN];
    const double c[3] = {230.0, 10.0, 2.0};
    const double f[3] = {50.0, 250.0, 285.0};
    const double phi[3] = {0.0, 0.0, 0.0};
    double sg[PQ_MAX_H];
    double g[PQ_MAX_H];
    double isg[PQ_MAX_H];
    double ig[PQ_MAX_H];

    (void) state;
    spectrum_of(x, M, 10240.0, 3, c, f, phi);
    pq_harmonics((const double(*)[2]) x, M, 10, sg, g, NULL, isg);
    pq_interharmonic_groups((const double(*)[2]) x, M, 10, ig);
    assert_close(sg[0], 230.0, 0.05);
    assert_close(sg[4], 10.0, 0.05);
    assert_close(g[4], 10.0, 0.05);
    assert_close(isg[5], 2.0, 0.05);
    assert_close(ig[5], 2.0, 0.05);
    assert_close(pq_thd_pct(sg, 50), 4.348, 0.0005);
    assert_close(parseval_rms(x, M), 230.226, 0.0005);
    /* and exactly, as the bins are exact */
    assert_close(sg[0], 230.0, 1e-9 * 230.0);
    assert_close(g[5], 2.0, 1e-9 * 2.0); /* bin 57 sits in group 6 (55..65) */
    assert_close(sg[5], 0.0, 1e-9);
}

/* ---- which bins a group counts ---- */

static void
test_harmonics_subgroup_counts_only_the_centre_and_its_neighbours(void **state)
{
    static bin_t x[NBIN];
    double sg[PQ_MAX_H];

    (void) state;
    memset(x, 0, sizeof(x));
    set_bin(x, M, 70, 3.0, 10.0); /* h = 7, N = 10 */
    set_bin(x, M, 69, 1.0, 0.0);
    set_bin(x, M, 71, 2.0, 0.0);
    set_bin(x, M, 72, 5.0, 0.0); /* outside the subgroup */
    pq_harmonics((const double(*)[2]) x, M, 10, sg, NULL, NULL, NULL);
    assert_close(sg[6], sqrt(9.0 + 1.0 + 4.0), TIGHT);
}

static void check_group_edges(int n)
{
    static bin_t x[NBIN];
    double g[PQ_MAX_H];
    double sg[PQ_MAX_H];
    const int h = 5;
    const long k = (long) n * h;

    memset(x, 0, sizeof(x));
    set_bin(x, M, k, 4.0, 0.0);
    set_bin(x, M, k - n / 2, 2.0, 0.0);     /* edge: half weight */
    set_bin(x, M, k + n / 2, 2.0, 0.0);     /* edge: half weight */
    set_bin(x, M, k + n / 2 - 1, 1.0, 0.0); /* inside: full weight */
    set_bin(x, M, k - 2, 3.0, 0.0);         /* inside group, outside subgroup */
    pq_harmonics((const double(*)[2]) x, M, n, sg, g, NULL, NULL);
    assert_close(g[h - 1], sqrt(16.0 + 0.5 * 4.0 + 0.5 * 4.0 + 1.0 + 9.0), TIGHT);
    assert_close(sg[h - 1], 4.0, TIGHT);
    /* each shared edge bin gives its other half to the next group */
    assert_close(g[h], sqrt(0.5 * 4.0), TIGHT);
    assert_close(g[h - 2], sqrt(0.5 * 4.0), TIGHT);
    assert_close(g[h - 3], 0.0, TIGHT);
    assert_close(g[h + 1], 0.0, TIGHT);
}

static void test_harmonics_group_counts_edge_bins_at_half_weight_n10(void **state)
{
    (void) state;
    check_group_edges(10);
}

static void test_harmonics_group_counts_edge_bins_at_half_weight_n12(void **state)
{
    (void) state;
    check_group_edges(12);
}

static void check_centred_subgroup(int n)
{
    static bin_t x[NBIN];
    double isg[PQ_MAX_H];
    double ig[PQ_MAX_H];
    double sg[PQ_MAX_H];
    const int h = 3;
    const long k = (long) n * h;

    memset(x, 0, sizeof(x));
    set_bin(x, M, k + 1, 7.0, 0.0);     /* next to harmonic 3: subgroup, not isg */
    set_bin(x, M, k + 2, 1.0, 0.0);     /* first isg bin */
    set_bin(x, M, k + n / 2, 2.0, 0.0); /* mid-way */
    set_bin(x, M, k + n - 2, 3.0, 0.0); /* last isg bin */
    set_bin(x, M, k + n - 1, 9.0, 0.0); /* next to harmonic 4: not isg */
    pq_harmonics((const double(*)[2]) x, M, n, sg, NULL, NULL, isg);
    pq_interharmonic_groups((const double(*)[2]) x, M, n, ig);
    assert_close(isg[h], sqrt(1.0 + 4.0 + 9.0), TIGHT);
    assert_close(ig[h], sqrt(49.0 + 1.0 + 4.0 + 9.0 + 81.0), TIGHT);
    assert_close(sg[h - 1], 7.0, TIGHT);
    assert_close(sg[h], 9.0, TIGHT);
    assert_close(isg[h - 1], 0.0, TIGHT);
    assert_close(isg[h + 1], 0.0, TIGHT);
}

static void test_harmonics_centred_subgroup_skips_bins_next_to_harmonics_n10(void **state)
{
    (void) state;
    check_centred_subgroup(10);
}

static void test_harmonics_centred_subgroup_skips_bins_next_to_harmonics_n12(void **state)
{
    (void) state;
    check_centred_subgroup(12);
}

static void test_harmonics_subharmonic_subgroup_uses_bins_2_to_n_minus_2(void **state)
{
    static bin_t x[NBIN];
    double isg[PQ_MAX_H];

    (void) state;
    memset(x, 0, sizeof(x));
    set_bin(x, M, 0, 100.0, 0.0); /* DC: not part of any subgroup */
    set_bin(x, M, 1, 50.0, 0.0);  /* 5 Hz: next to DC, not in isg 0 */
    set_bin(x, M, 2, 1.0, 0.0);
    set_bin(x, M, 8, 2.0, 0.0);
    set_bin(x, M, 9, 50.0, 0.0); /* next to the fundamental */
    pq_harmonics((const double(*)[2]) x, M, 10, NULL, NULL, NULL, isg);
    assert_close(isg[0], sqrt(5.0), TIGHT);
}

static void test_harmonics_order_63_group_reaches_bin_n_times_63_plus_half(void **state)
{
    static bin_t x[NBIN];
    double g[PQ_MAX_H];

    (void) state;
    memset(x, 0, sizeof(x));
    set_bin(x, M, 12 * 63 + 6, 2.0, 0.0); /* 762: the top edge at N = 12 */
    set_bin(x, M, 12 * 63 + 7, 9.0, 0.0); /* beyond every group */
    pq_harmonics((const double(*)[2]) x, M, 12, NULL, g, NULL, NULL);
    assert_close(g[62], sqrt(0.5 * 4.0), TIGHT);
}

/* ---- phase ---- */

static void test_harmonics_phase_is_cosine_phase_at_window_start(void **state)
{
    static bin_t x[NBIN];
    const double phis[] = {0.0, 37.5, 90.0, -90.0, 179.5, -179.5, -120.0};
    const int orders[] = {1, 2, 5, 13, 40, 63, 7};
    double c[7];
    double f[7];
    double deg[PQ_MAX_H];

    (void) state;
    for (int i = 0; i < 7; i++) {
        c[i] = 1.0 + i;
        f[i] = 50.0 * orders[i];
    }
    spectrum_of(x, M, 10240.0, 7, c, f, phis);
    pq_harmonics((const double(*)[2]) x, M, 10, NULL, NULL, deg, NULL);
    for (int i = 0; i < 7; i++) {
        assert_close(deg[orders[i] - 1], phis[i], 1e-9);
    }
}

static void test_harmonics_phase_of_minus_180_reads_plus_180(void **state)
{
    static bin_t x[NBIN];
    double deg[PQ_MAX_H];

    (void) state;
    memset(x, 0, sizeof(x));
    x[10][0] = -5.0;
    x[10][1] = -0.0; /* atan2 gives -180 */
    pq_harmonics((const double(*)[2]) x, M, 10, NULL, NULL, deg, NULL);
    assert_close(deg[0], 180.0, 0.0);
    assert_close(deg[1], 0.0, 0.0); /* empty bin */
}

/* The angle comes from a series, not libm: check it against atan2() over
 * every octant and magnitudes from 1e-6 to 1e6. */
static void test_harmonics_phase_matches_libm_atan2_within_1e_8_deg(void **state)
{
    static bin_t x[NBIN];
    double deg[PQ_MAX_H];
    double worst = 0.0;

    (void) state;
    memset(x, 0, sizeof(x));
    for (int i = 0; i < 36000; i += PQ_MAX_H) {
        for (int h = 1; h <= PQ_MAX_H; h++) {
            double a = (i + h) * 0.01 - 180.0 + 1e-3 * h;
            double r = pow(10.0, (double) (h % 13) - 6.0);

            x[10 * h][0] = r * cos(a * M_PI / 180.0);
            x[10 * h][1] = r * sin(a * M_PI / 180.0);
        }
        pq_harmonics((const double(*)[2]) x, M, 10, NULL, NULL, deg, NULL);
        for (int h = 1; h <= PQ_MAX_H; h++) {
            double want = atan2(x[10 * h][1], x[10 * h][0]) * 180.0 / M_PI;

            worst = fmax(worst, fabs(angle_diff(deg[h - 1], want)));
            assert_true(deg[h - 1] > -180.0 && deg[h - 1] <= 180.0);
        }
    }
    print_message("# worst angle error against libm: %.2e deg\n", worst);
    assert_true(worst < 1e-8);
}

/* ---- arguments ---- */

static void test_harmonics_null_outputs_are_skipped(void **state)
{
    static bin_t x[NBIN];
    double g[PQ_MAX_H];

    (void) state;
    memset(x, 0, sizeof(x));
    set_bin(x, M, 30, 1.5, 0.0);
    pq_harmonics((const double(*)[2]) x, M, 10, NULL, g, NULL, NULL);
    pq_harmonics((const double(*)[2]) x, M, 10, NULL, NULL, NULL, NULL);
    pq_interharmonic_groups((const double(*)[2]) x, M, 10, NULL);
    assert_close(g[2], 1.5, TIGHT);
}

/* A short window: orders whose bins lie beyond m/2 read as 0, and nothing
 * past the m/2 + 1 bins is touched (ASan). */
static void test_harmonics_bins_beyond_nyquist_count_as_zero(void **state)
{
    enum { SHORT = 256 };

    bin_t *x = test_malloc(sizeof(bin_t) * (SHORT / 2 + 1));
    double sg[PQ_MAX_H];
    double g[PQ_MAX_H];
    double isg[PQ_MAX_H];
    double deg[PQ_MAX_H];

    (void) state;
    memset(x, 0, sizeof(bin_t) * (SHORT / 2 + 1));
    set_bin(x, SHORT, 120, 1.0, 45.0);      /* h = 12 */
    set_bin(x, SHORT, SHORT / 2, 2.0, 0.0); /* Nyquist: not mirrored */
    pq_harmonics((const double(*)[2]) x, SHORT, 10, sg, g, deg, isg);
    assert_close(sg[11], 1.0, TIGHT);
    assert_close(deg[11], 45.0, 1e-9);
    /* set_bin() scaled the Nyquist bin (128) as a mirrored one; unmirrored
     * it reads as 2.0 * sqrt(2) / 2.  It lies in isg 12 (122..128) and,
     * at full weight, in group 13 (125..135), not in subgroup 13. */
    assert_close(isg[12], sqrt(2.0), TIGHT);
    assert_close(g[12], sqrt(2.0), TIGHT);
    assert_close(sg[12], 0.0, 0.0);
    assert_close(sg[13], 0.0, 0.0);
    assert_close(g[62], 0.0, 0.0);
    assert_close(isg[62], 0.0, 0.0);
    assert_close(deg[62], 0.0, 0.0);
    test_free(x);
}

static void test_harmonics_invalid_ncycles_zeroes_every_output(void **state)
{
    static bin_t x[NBIN];
    double sg[PQ_MAX_H];
    double isg[PQ_MAX_H];
    double ig[PQ_MAX_H];

    (void) state;
    memset(x, 0, sizeof(x));
    set_bin(x, M, 11, 1.0, 0.0);
    sg[0] = isg[0] = ig[0] = 7.0;
    pq_harmonics((const double(*)[2]) x, M, 11, sg, NULL, NULL, isg);
    pq_interharmonic_groups((const double(*)[2]) x, M, 0, ig);
    assert_close(sg[0], 0.0, 0.0);
    assert_close(isg[0], 0.0, 0.0);
    assert_close(ig[0], 0.0, 0.0);
}

/* ---- indices ---- */

static void test_thd_of_known_spectrum_is_rss_over_fundamental(void **state)
{
    double mag[PQ_MAX_H] = {0};

    (void) state;
    mag[0] = 100.0;
    mag[2] = 3.0;
    mag[4] = 4.0;
    mag[40] = 12.0; /* order 41: beyond H = 40 */
    assert_close(pq_thd_pct(mag, 40), 5.0, TIGHT);
    assert_close(pq_thd_pct(mag, 50), 13.0, TIGHT);
    assert_close(pq_thd_pct(mag, 1), 0.0, 0.0);
}

static void test_thd_of_zero_fundamental_is_zero(void **state)
{
    double mag[PQ_MAX_H] = {0};

    (void) state;
    mag[4] = 1.0;
    assert_close(pq_thd_pct(mag, PQ_MAX_H), 0.0, 0.0);
}

static void test_tdd_is_harmonic_rss_over_demand_current(void **state)
{
    double mag[PQ_MAX_H] = {0};

    (void) state;
    mag[0] = 80.0; /* the fundamental does not count */
    mag[4] = 6.0;
    mag[6] = 8.0;
    assert_close(pq_tdd_pct(mag, 50, 200.0), 5.0, TIGHT);
    assert_close(pq_tdd_pct(mag, 50, 0.0), 0.0, 0.0);
    assert_close(pq_tdd_pct(mag, 50, -1.0), 0.0, 0.0);
}

static void test_k_factor_of_known_spectrum(void **state)
{
    double mag[PQ_MAX_H] = {0};

    (void) state;
    mag[0] = 1.0;
    mag[4] = 0.2;
    mag[6] = 0.14;
    /* (1 + 25 * 0.04 + 49 * 0.0196) / (1 + 0.04 + 0.0196) */
    assert_close(pq_k_factor(mag, PQ_MAX_H), 2.9604 / 1.0596, TIGHT);
    mag[4] = mag[6] = 0.0;
    assert_close(pq_k_factor(mag, PQ_MAX_H), 1.0, 0.0);
    mag[0] = 0.0;
    assert_close(pq_k_factor(mag, PQ_MAX_H), 0.0, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harmonics_t8_window_gives_reference_groups),
        cmocka_unit_test(
            test_harmonics_subgroup_counts_only_the_centre_and_its_neighbours),
        cmocka_unit_test(test_harmonics_group_counts_edge_bins_at_half_weight_n10),
        cmocka_unit_test(test_harmonics_group_counts_edge_bins_at_half_weight_n12),
        cmocka_unit_test(
            test_harmonics_centred_subgroup_skips_bins_next_to_harmonics_n10),
        cmocka_unit_test(
            test_harmonics_centred_subgroup_skips_bins_next_to_harmonics_n12),
        cmocka_unit_test(test_harmonics_subharmonic_subgroup_uses_bins_2_to_n_minus_2),
        cmocka_unit_test(test_harmonics_order_63_group_reaches_bin_n_times_63_plus_half),
        cmocka_unit_test(test_harmonics_phase_is_cosine_phase_at_window_start),
        cmocka_unit_test(test_harmonics_phase_of_minus_180_reads_plus_180),
        cmocka_unit_test(test_harmonics_phase_matches_libm_atan2_within_1e_8_deg),
        cmocka_unit_test(test_harmonics_null_outputs_are_skipped),
        cmocka_unit_test(test_harmonics_bins_beyond_nyquist_count_as_zero),
        cmocka_unit_test(test_harmonics_invalid_ncycles_zeroes_every_output),
        cmocka_unit_test(test_thd_of_known_spectrum_is_rss_over_fundamental),
        cmocka_unit_test(test_thd_of_zero_fundamental_is_zero),
        cmocka_unit_test(test_tdd_is_harmonic_rss_over_demand_current),
        cmocka_unit_test(test_k_factor_of_known_spectrum),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
