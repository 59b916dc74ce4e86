/* symcomp.c - symmetrical components and unbalance figures.
 *
 * Phasors are handled as complex numbers internally (re, im), built from
 * magnitude and angle at the boundary.
 */
#include "pq/symcomp.h"

#include <complex.h>
#include <math.h>

#define DEG (M_PI / 180.0)

static double complex phasor(double mag, double deg)
{
    return mag * cexp(I * deg * DEG);
}

static double angle_deg(double complex z)
{
    double a;

    if (z == 0.0) {
        return 0.0;
    }
    a = carg(z) / DEG;
    return a <= -180.0 ? a + 360.0 : a;
}

/* a = e^{j120 deg}, a^2 = e^{-j120 deg}; exact in binary up to sqrt(3)/2. */
static void components(const double mag[3], const double deg[3], double complex u[3])
{
    const double complex a = -0.5 + I * (sqrt(3.0) / 2.0);
    const double complex a2 = -0.5 - I * (sqrt(3.0) / 2.0);
    double complex ua = phasor(mag[0], deg[0]);
    double complex ub = phasor(mag[1], deg[1]);
    double complex uc = phasor(mag[2], deg[2]);

    /* IEC 61000-4-30 5.7.1 (Fortescue) */
    u[0] = (ua + ub + uc) / 3.0;
    u[1] = (ua + a * ub + a2 * uc) / 3.0;
    u[2] = (ua + a2 * ub + a * uc) / 3.0;
}

void pq_symcomp(const double mag[3], const double deg[3], struct pq_seq *out)
{
    double complex u[3];

    components(mag, deg, u);
    for (int i = 0; i < 3; i++) {
        out->mag[i] = cabs(u[i]);
        out->deg[i] = angle_deg(u[i]);
    }
}

/* |U_i| / |U1| * 100; 0 when |U1| is nil, i.e. below 1e-12 of the mean
 * input magnitude (rounding leaves ~1e-16 of a pure negative sequence). */
static double ratio_pct(const double mag[3], const double deg[3], int i)
{
    double complex u[3];
    double u1;
    double scale = (fabs(mag[0]) + fabs(mag[1]) + fabs(mag[2])) / 3.0;

    components(mag, deg, u);
    u1 = cabs(u[1]);
    if (!(u1 > 1e-12 * scale)) {
        return 0.0;
    }
    return cabs(u[i]) / u1 * 100.0;
}

double pq_unbalance_neg_pct(const double mag[3], const double deg[3])
{
    /* IEC 61000-4-30 5.7.1: u2 = |U2| / |U1| * 100 % */
    return ratio_pct(mag, deg, 2);
}

double pq_unbalance_zero_pct(const double mag[3], const double deg[3])
{
    /* IEC 61000-4-30 5.7.1: u0 = |U0| / |U1| * 100 % */
    return ratio_pct(mag, deg, 0);
}

void pq_line_to_line(const double mag[3], const double deg[3], double ll_mag[3],
                     double ll_deg[3])
{
    for (int i = 0; i < 3; i++) {
        int j = (i + 1) % 3;
        double complex d = phasor(mag[i], deg[i]) - phasor(mag[j], deg[j]);

        ll_mag[i] = cabs(d);
        ll_deg[i] = angle_deg(d);
    }
}

double pq_unbalance_beta(const double ll_mag[3])
{
    double s2 = 0.0;
    double s4 = 0.0;

    for (int i = 0; i < 3; i++) {
        double q = ll_mag[i] * ll_mag[i];

        s2 += q;
        s4 += q * q;
    }
    /* IEC 61000-4-30 5.7.1: beta = sum U^4 / (sum U^2)^2 */
    return s2 > 0.0 ? s4 / (s2 * s2) : 0.0;
}

double pq_unbalance_ll_pct(const double ll_mag[3])
{
    double beta = pq_unbalance_beta(ll_mag);
    double r;

    if (beta == 0.0) {
        return 0.0;
    }
    if (beta > 0.5 + 1e-12) {
        return -1.0; /* not a triangle */
    }
    /* u2 = sqrt((1 - sqrt(3 - 6 beta)) / (1 + sqrt(3 - 6 beta))) * 100 %;
     * rounding can take 3 - 6 beta a hair outside [0, 1]. */
    r = sqrt(fmax(0.0, 3.0 - 6.0 * beta));
    return sqrt(fmax(0.0, (1.0 - r) / (1.0 + r))) * 100.0;
}

double pq_nema_unbalance_pct(const double ll_mag[3])
{
    double avg = (ll_mag[0] + ll_mag[1] + ll_mag[2]) / 3.0;
    double dev = 0.0;

    if (avg == 0.0) {
        return 0.0;
    }
    /* NEMA MG-1: max |U_i - U_avg| / U_avg * 100 % */
    for (int i = 0; i < 3; i++) {
        dev = fmax(dev, fabs(ll_mag[i] - avg));
    }
    return dev / avg * 100.0;
}

double pq_nema_derating(double unbalance_pct)
{
    /* NEMA MG-1 derating of normal-torque induction motors, read at 0.5 %
     * steps (pq-reference.md 7). */
    static const double factor[] = {1.00, 1.00, 1.00, 0.97, 0.95, 0.93,
                                    0.89, 0.85, 0.82, 0.78, 0.76};
    double x = unbalance_pct / 0.5;
    int i;

    if (!(unbalance_pct >= 0.0) || unbalance_pct > 5.0) {
        return -1.0;
    }
    i = (int) x;
    if (i >= 10) {
        return factor[10];
    }
    return factor[i] + (x - i) * (factor[i + 1] - factor[i]);
}
