/* energy.h - energy registers of one meter: per phase and total.
 *
 * The engine calls pq_energy_add() for every stretch of time it has measured
 * (typically one 10/12-cycle window, about 0.2 s) with the mean powers of
 * that stretch; the registers integrate them.  Index 0..2 are phases A, B, C
 * and index 3 (PQ_ENERGY_TOTAL) the total.  The total registers integrate the
 * total power the caller passes, not the sum of the phase registers: with
 * phase A importing and phase B exporting at once, the total delivered energy
 * is less than the sum of the phases' delivered energies, as in any
 * polyphase meter.
 *
 * Registers (reference §10.3, restating IEC 62053-21/-23 practice):
 *   active   delivered (P > 0, import), received (P < 0, export),
 *            net = delivered - received, total = delivered + received;
 *   reactive delivered (Q > 0), received (Q < 0), and per quadrant Q1..Q4;
 *   apparent (S >= 0).
 * Reactive power is what the caller passes: the engine passes the
 * fundamental Q1 of IEEE 1459 (record.h).
 *
 * Quadrants (IEC 62053-23 geometric representation, reference §10.3): the
 * quadrant is that of the point (P, Q), Q1 = import inductive (P+, Q+),
 * Q2 = export capacitive (P-, Q+), Q3 = export inductive (P-, Q-), Q4 =
 * import capacitive (P+, Q-).  On the axes each quadrant is half open by
 * angle, phi = atan2(Q, P) in [0, 360 deg): quadrant n holds
 * [(n-1)*90, n*90) deg.  So P > 0, Q = 0 is Q1; P = 0, Q > 0 is Q2;
 * P < 0, Q = 0 is Q3; P = 0, Q < 0 is Q4; (0, 0) is Q1.  Only P = 0 with
 * Q != 0 moves varh: pure reactive power counts in Q2 (Q > 0) or Q4 (Q < 0),
 * so varh delivered = Q1 + Q2 and received = Q3 + Q4 hold on the axes too.
 * On the Q axis (P = 0) no Wh register moves.
 *
 * Exactness: each register is a whole number of joules (W s, var s, VA s)
 * in an int64 plus the fraction of a joule carried in a double, [0, 1).
 * The error of one add is one rounding of the increment, never a rounding
 * relative to the register's size, so the registers do not drift: a year
 * of 0.2 s adds at constant power ends within ~1e-15 of P * T (test).
 * Range: no rollover.  A register saturates at INT64_MAX J = 2.56e15 Wh,
 * 2,900 years at 100 MW (29 years at 10 GW).  Readings are doubles, exact to
 * about 1e-16 relative.
 *
 * A struct pq_energy belongs to one thread; nothing here locks or
 * allocates.  A zeroed struct is a valid, empty set of registers.
 */
#ifndef PQGATE_ENERGY_H
#define PQGATE_ENERGY_H

#include <stdint.h>

#define PQ_ENERGY_NCH   4 /* phases A, B, C, then the total */
#define PQ_ENERGY_TOTAL 3 /* index of the total */

/* Largest increment one add accepts, in J (278 GWh): guards the integer
 * conversion against absurd inputs; larger ones are skipped. */
#define PQ_ENERGY_MAX_ADD_J 1e15

/* One register: whole joules plus the carried fraction. */
struct pq_energy_reg {
    int64_t j;   /* whole J (W s, var s or VA s), >= 0, saturates */
    double frac; /* J not yet whole, in [0, 1) */
};

/* The registers of one phase or of the total. */
struct pq_energy_ch {
    struct pq_energy_reg p_del;     /* active, P > 0 */
    struct pq_energy_reg p_rec;     /* active, P < 0, as a positive amount */
    struct pq_energy_reg q_quad[4]; /* reactive by quadrant Q1..Q4 at [0..3] */
    struct pq_energy_reg s;         /* apparent */
};

struct pq_energy {
    struct pq_energy_ch ch[PQ_ENERGY_NCH];
    uint64_t skipped; /* increments ignored: NaN or infinite power, S < 0,
                         bad dt (counts once per call), above MAX_ADD */
};

/* What pq_energy_read() returns: Wh, varh, VAh. */
struct pq_energy_reading {
    double wh_del;    /* active delivered (import) */
    double wh_rec;    /* active received (export), >= 0 */
    double wh_net;    /* del - rec */
    double wh_total;  /* del + rec */
    double varh_del;  /* Q > 0: Q1 + Q2 */
    double varh_rec;  /* Q < 0: Q3 + Q4, >= 0 */
    double varh_q[4]; /* Q1..Q4 at [0..3], each >= 0 */
    double vah;       /* apparent */
};

/* Zero every register and the skipped counter. */
void pq_energy_reset(struct pq_energy *e);

/* Integrate the mean powers of a stretch of dt_s seconds: p_w, q_var and
 * s_va hold phases A, B, C then the total (4 values each).  dt_s must be
 * finite and > 0, else nothing is added and skipped counts 1.  A NaN or
 * infinite value skips only the registers it feeds (a NaN P also skips the
 * quadrant register, which needs its sign); S < 0 is skipped. */
void pq_energy_add(struct pq_energy *e, const double p_w[4], const double q_var[4],
                   const double s_va[4], double dt_s);

/* Read the registers of index ch (0..2 phase, PQ_ENERGY_TOTAL) into *out. */
void pq_energy_read(const struct pq_energy *e, int ch, struct pq_energy_reading *out);

/* Quadrant 1..4 of the point (p, q) by the rule above; 0 if either is NaN. */
int pq_quadrant(double p, double q);

#endif
