/* minmax.h - minimum and maximum of n values, with the time of each.
 *
 * The arrays belong to the caller (often members of a record or a
 * register map); struct pq_minmax only points to them, for as long as the
 * caller keeps them.  Nothing here allocates, locks or reads a clock.
 *
 * Empty: min[i] and max[i] are NaN and tmin[i], tmax[i] are 0 until the
 * first non-NaN value of entry i.  NaN inputs are ignored; +-infinity are
 * values.  Ties keep the first time: a later value equal to the minimum
 * (or maximum) does not move tmin (tmax).  -0.0 and 0.0 tie.
 */
#ifndef PQGATE_MINMAX_H
#define PQGATE_MINMAX_H

#include <stddef.h>
#include <stdint.h>

struct pq_minmax {
    double *min;   /* [n] */
    double *max;   /* [n] */
    int64_t *tmin; /* [n], ns, the caller's time base */
    int64_t *tmax; /* [n] */
    size_t n;
};

/* Point m at the caller's arrays, each of n entries, and empty them. */
void pq_minmax_init(struct pq_minmax *m, double *min, double *max, int64_t *tmin,
                    int64_t *tmax, size_t n);

/* Fold in v[0..n-1], measured at t_ns. */
void pq_minmax_update(struct pq_minmax *m, const double *v, int64_t t_ns);

/* Empty every entry (NaN, time 0). */
void pq_minmax_reset(struct pq_minmax *m);

#endif
