/* minmax.c - running minimum and maximum with time stamps. */
#include "pq/minmax.h"

#include <math.h>

void pq_minmax_init(struct pq_minmax *m, double *min, double *max, int64_t *tmin,
                    int64_t *tmax, size_t n)
{
    m->min = min;
    m->max = max;
    m->tmin = tmin;
    m->tmax = tmax;
    m->n = n;
    pq_minmax_reset(m);
}

void pq_minmax_reset(struct pq_minmax *m)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        m->min[i] = NAN;
        m->max[i] = NAN;
        m->tmin[i] = 0;
        m->tmax[i] = 0;
    }
}

/* With an empty entry holding NaN, !(x >= min) is true for any non-NaN x
 * when the entry is empty or x is below the minimum, and false on a tie:
 * one comparison per bound covers the first value, a new extreme and the
 * first-time rule. */
void pq_minmax_update(struct pq_minmax *m, const double *v, int64_t t_ns)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        double x = v[i];

        if (isnan(x)) {
            continue;
        }
        if (!(x >= m->min[i])) {
            m->min[i] = x;
            m->tmin[i] = t_ns;
        }
        if (!(x <= m->max[i])) {
            m->max[i] = x;
            m->tmax[i] = t_ns;
        }
    }
}
