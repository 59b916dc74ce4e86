/* curves.h - equipment tolerance curves (ITIC, SEMI F47) and the EN 50160
 * event tables: where a voltage event of a given magnitude and duration falls.
 *
 * Magnitudes are in % of the nominal (declared) voltage, durations in
 * seconds.  Everything here is a pure function of its arguments: no state,
 * no allocation, thread-safe.
 *
 * ITIC (CBEMA), reference §6.1, as OPQ draws it (openpowerquality/opq,
 * mauka/plugins/itic_plugin.py):
 *
 *   upper boundary (above: PROHIBITED)    lower boundary (below: NO_DAMAGE)
 *   t <= 0.01 cycle (1/6 ms)  500 %       t <= 20 ms          0 %
 *   1/6 ms .. 1 ms   linear 500 -> 200 %  20 ms < t <= 0.5 s  70 %
 *   1 ms .. 3 ms     linear 200 -> 140 %  0.5 s < t <= 10 s   80 %
 *   3 ms < t <= 0.5 s         120 %       t > 10 s            90 %
 *   t > 0.5 s                 110 %
 *
 * The slopes are linear in time, as OPQ's polygons (drawn in cycles), so
 * 2 ms gives 170 % (log-time interpolation would give 162.1 %).  The
 * vertical steps belong to the shorter duration: at exactly 3 ms the limit
 * is 140 %, at exactly 0.5 s 120 % (upper) and 70 % (lower), at exactly
 * 20 ms 0 %, at exactly 10 s 80 %.  Points on a boundary are
 * NO_INTERRUPTION, as OPQ reports them.  Below 0.01 cycle OPQ leaves the
 * curve open; we keep 500 % (the reference's table).  ITIC is drawn for
 * 120 V / 60 Hz equipment: apply it to % of the actual nominal.
 *
 * SEMI F47-0706, reference §6.2: equipment must ride through sags to 50 %
 * for 50 ms .. 0.2 s, 70 % up to 0.5 s, 80 % up to 1 s.  An event is FAIL
 * ("more severe than the curve": ride-through not required) when its
 * residual is below the level the curve requires at its duration:
 * 0.05 <= t <= 0.2 s and u < 50 %, 0.2 < t <= 0.5 s and u < 70 %,
 * t > 0.5 s and u < 80 % (beyond 1 s the curve ends, but such an event
 * contains a 1-s stretch below 80 %, so it stays FAIL); otherwise PASS.
 * NA below 50 ms (nothing required) and for residuals of 100 % or more
 * (not a sag: swells are outside F47).  OPQ's informative tail (80 % to
 * 10 s, 90 % beyond) is not applied.
 *
 * EN 50160:2010 event tables, reference §4.4, with the inequalities exactly
 * as printed: upper bound of u exclusive, lower inclusive; duration lower
 * bounds exclusive except the first column's 0.01 s.
 */
#ifndef PQGATE_CURVES_H
#define PQGATE_CURVES_H

enum pq_itic {
    PQ_ITIC_NO_INTERRUPTION, /* between the boundaries, or on one */
    PQ_ITIC_NO_DAMAGE,       /* below the lower boundary */
    PQ_ITIC_PROHIBITED,      /* above the upper boundary */
    PQ_ITIC_NA,              /* not classified: bad input, current events */
};

enum pq_semi {
    PQ_SEMI_NA,   /* shorter than 50 ms, not a sag, or bad input */
    PQ_SEMI_PASS, /* inside the ride-through area (on the curve included) */
    PQ_SEMI_FAIL, /* more severe than the curve */
};

/* ITIC region of a rectangular event: magnitude_pct its residual (sag) or
 * maximum (swell), duration_s its duration.  PQ_ITIC_NA for NaN or a
 * negative argument. */
int pq_itic_classify(double magnitude_pct, double duration_s);

/* The ITIC boundaries at duration_s, in %: NaN for NaN or negative t. */
double pq_itic_upper_pct(double duration_s);
double pq_itic_lower_pct(double duration_s);

/* SEMI F47-0706 verdict of a sag with residual_pct lasting duration_s. */
int pq_semi_f47_classify(double residual_pct, double duration_s);

/* JSON names (DESIGN.md, "event" record): "no-interruption", "no-damage",
 * "prohibited", "n/a"; "pass", "fail", "n/a".  Never NULL: an unknown
 * value gives "n/a". */
const char *pq_itic_name(int itic);
const char *pq_semi_name(int semi);

/* EN 50160 dip cell "A1".."X5" of a dip with residual_pct (of the
 * reference voltage) lasting duration_s, or swell cell "S1".."T4" of a
 * swell with max_pct ("S4"/"T4": the PM8000's column beyond 60 s).
 * Returns 0 with the cell in out, or -ERANGE with "" in out when the event
 * is outside the table (a dip with u >= 90 % or t outside 0.01..60 s; a
 * swell with u <= 110 % or t < 0.01 s; NaN). */
int pq_en50160_dip_cell(double residual_pct, double duration_s, char out[4]);
int pq_en50160_swell_cell(double max_pct, double duration_s, char out[4]);

#endif
