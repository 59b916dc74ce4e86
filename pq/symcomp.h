/* symcomp.h - supply unbalance: symmetrical components (IEC 61000-4-30
 * 5.7), the line-to-line-only form, and NEMA MG-1 unbalance and motor
 * derating.
 *
 * Phasors come in as magnitude and angle in degrees, in phase order A, B, C
 * (the form pq_harmonics() gives for h = 1: sg[0] and deg[0]).  Magnitudes
 * may be RMS or peak: every result is a ratio or uses them consistently.
 * Pure functions: no state, no allocation, thread-safe.
 */
#ifndef PQGATE_SYMCOMP_H
#define PQGATE_SYMCOMP_H

/* Sequence components, [0] zero, [1] positive, [2] negative sequence. */
struct pq_seq {
    double mag[3];
    double deg[3]; /* (-180, 180]; 0 for a zero magnitude */
};

/* Fortescue with a = e^{j120 deg}: U0 = (Ua + Ub + Uc)/3,
 * U1 = (Ua + a Ub + a^2 Uc)/3, U2 = (Ua + a^2 Ub + a Uc)/3. */
void pq_symcomp(const double mag[3], const double deg[3], struct pq_seq *out);

/* IEC 61000-4-30 5.7.1: u2 = |U2| / |U1| * 100 and u0 = |U0| / |U1| * 100,
 * in %; 0 if |U1| is nil (below 1e-12 of the mean input magnitude, e.g. a
 * pure negative-sequence set). */
double pq_unbalance_neg_pct(const double mag[3], const double deg[3]);
double pq_unbalance_zero_pct(const double mag[3], const double deg[3]);

/* Line-to-line phasors U_AB = Ua - Ub, U_BC = Ub - Uc, U_CA = Uc - Ua. */
void pq_line_to_line(const double mag[3], const double deg[3], double ll_mag[3],
                     double ll_deg[3]);

/* The line-to-line-only form, from the three L-L magnitudes:
 * beta = (U12^4 + U23^4 + U31^4) / (U12^2 + U23^2 + U31^2)^2 (1/3 when
 * balanced), u2 = sqrt((1 - sqrt(3 - 6 beta)) / (1 + sqrt(3 - 6 beta))) *
 * 100 %.  beta is 0 for all-zero input; the u2 form returns 0 then, and
 * -1 for magnitudes that no triangle has (beta > 1/2). */
double pq_unbalance_beta(const double ll_mag[3]);
double pq_unbalance_ll_pct(const double ll_mag[3]);

/* NEMA MG-1 unbalance in %: max |U_i - avg| / avg * 100 over the three L-L
 * magnitudes; 0 if avg == 0. */
double pq_nema_unbalance_pct(const double ll_mag[3]);

/* NEMA MG-1 derating factor for an unbalance in % (pq-reference.md 7,
 * linear between the table points 0, 0.5, ..., 5 %).  Returns -1 ("not
 * applicable": operation not recommended) above 5 % and for a negative or
 * NaN input. */
double pq_nema_derating(double unbalance_pct);

#endif
