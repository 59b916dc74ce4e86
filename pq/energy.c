/* energy.c - energy registers: exact accumulation of W s, var s, VA s.
 *
 * Why whole joules plus a carried fraction, not a double sum: a double
 * register of E joules rounds every add to ulp(E)/2, which grows with E.
 * A year at 100 kW is 3.2e12 J (ulp 4.9e-4 J) reached in 1.6e8 adds of
 * 2e4 J: a naive sum can lose up to ~1e-8 of the total, and it is biased for
 * a constant load, since every add rounds the same way.  Here the only
 * rounding is fl(frac + x) with frac < 1 J, an error of at most
 * 2^-53 * (x + 1 J) per add: relative to the increment, not to the register.
 * k = trunc(frac + x) and (frac + x) - k are exact (Sterbenz), so the whole
 * joules are exact integers and net/total/quadrant sums combine them
 * exactly.  Neumaier compensated summation would also hold 1e-9 over a year;
 * the integer form was preferred because its error bound does not depend
 * on the register's size at all, its state is two plain numbers to persist,
 * and the integer part is what a register export (whole Wh) wants.
 */
#include "pq/energy.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#define J_PER_WH 3600.0

/* Add x >= 0 joules (checked by the caller) to r. */
static inline void reg_add(struct pq_energy_reg *r, double x)
{
    double y = r->frac + x;  /* the one rounding of the scheme */
    int64_t k = (int64_t) y; /* 0 <= y < MAX_ADD + 1 < 2^50: trunc is floor */

    r->frac = y - (double) k; /* exact: the fractional bits of y */
    if (k > INT64_MAX - r->j) {
        r->j = INT64_MAX; /* saturate: 2,900 years at 100 MW */
        r->frac = 0.0;
        return;
    }
    r->j += k;
}

/* A valid increment: finite and 0 <= x <= MAX.  NaN fails both compares. */
static inline int valid_j(double x)
{
    return x >= 0.0 && x <= PQ_ENERGY_MAX_ADD_J;
}

/* Quadrant of (p, q), half open by angle (energy.h, IEC 62053-23 and the
 * reference §10.3): Q1 [0, 90), Q2 [90, 180), Q3 [180, 270), Q4 [270, 360)
 * degrees of atan2(q, p).  -0.0 compares equal to 0.0, so it is an axis. */
int pq_quadrant(double p, double q)
{
    if (isnan(p) || isnan(q)) {
        return 0;
    }
    if (q > 0.0) {
        return p > 0.0 ? 1 : 2; /* (0, +q) is 90 deg: Q2 */
    }
    if (q < 0.0) {
        return p < 0.0 ? 3 : 4; /* (0, -q) is 270 deg: Q4 */
    }
    return p < 0.0 ? 3 : 1; /* on the P axis: 180 deg is Q3, 0 deg Q1 */
}

static inline unsigned add_channel(struct pq_energy_ch *c, double p, double q, double s,
                                   double dt)
{
    double xp = fabs(p) * dt;
    double xq = fabs(q) * dt;
    double xs = s * dt; /* S < 0 fails valid_j() */
    int quad = pq_quadrant(p, q);
    unsigned bad = 0;

    /* Active: delivered P > 0, received P < 0 (reference §10.3); P = 0
     * adds 0 to delivered, which changes nothing. */
    if (valid_j(xp)) {
        reg_add(p >= 0.0 ? &c->p_del : &c->p_rec, xp);
    } else {
        bad++;
    }
    /* Reactive by quadrant; delivered and received are sums of quadrants
     * (pq_energy_read()), so they follow the same axis rule. */
    if (quad != 0 && valid_j(xq)) {
        reg_add(&c->q_quad[quad - 1], xq);
    } else {
        bad++;
    }
    if (valid_j(xs)) {
        reg_add(&c->s, xs);
    } else {
        bad++;
    }
    return bad;
}

void pq_energy_add(struct pq_energy *e, const double p_w[4], const double q_var[4],
                   const double s_va[4], double dt_s)
{
    unsigned bad = 0;
    int i;

    if (!(isfinite(dt_s) && dt_s > 0.0)) {
        e->skipped++;
        return;
    }
    for (i = 0; i < PQ_ENERGY_NCH; i++) {
        bad += add_channel(&e->ch[i], p_w[i], q_var[i], s_va[i], dt_s);
    }
    e->skipped += bad;
}

void pq_energy_reset(struct pq_energy *e)
{
    memset(e, 0, sizeof(*e));
}

/* Value of a register in J, or of the sum of two, in one rounding each. */
static double reg_j(const struct pq_energy_reg *r)
{
    return (double) r->j + r->frac;
}

static double reg_sum_j(const struct pq_energy_reg *a, const struct pq_energy_reg *b)
{
    return ((double) a->j + (double) b->j) + (a->frac + b->frac);
}

void pq_energy_read(const struct pq_energy *e, int ch, struct pq_energy_reading *out)
{
    const struct pq_energy_ch *c;
    int i;

    assert(ch >= 0 && ch < PQ_ENERGY_NCH);
    c = &e->ch[ch];
    out->wh_del = reg_j(&c->p_del) / J_PER_WH;
    out->wh_rec = reg_j(&c->p_rec) / J_PER_WH;
    /* Both are >= 0, so the integer difference cannot overflow. */
    out->wh_net =
        ((double) (c->p_del.j - c->p_rec.j) + (c->p_del.frac - c->p_rec.frac)) / J_PER_WH;
    out->wh_total = reg_sum_j(&c->p_del, &c->p_rec) / J_PER_WH;
    out->varh_del = reg_sum_j(&c->q_quad[0], &c->q_quad[1]) / J_PER_WH;
    out->varh_rec = reg_sum_j(&c->q_quad[2], &c->q_quad[3]) / J_PER_WH;
    for (i = 0; i < 4; i++) {
        out->varh_q[i] = reg_j(&c->q_quad[i]) / J_PER_WH;
    }
    out->vah = reg_j(&c->s) / J_PER_WH;
}
