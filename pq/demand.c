/* demand.c - block, sliding-block and thermal demand (reference §10.4).
 *
 * Time is cut on a grid of sub-intervals aligned to the epoch (block and
 * thermal: one sub-interval per interval).  Each update is split on that
 * grid into pieces; a piece adds value * duration to the present
 * sub-interval's energy, and reaching a sub-interval's end closes it.
 * Closing pushes the sub-interval's energy into a ring of the last m
 * (sliding) and completes a value: E_ring / T.  Sums over the ring are
 * recomputed at each closing (m <= 60), so nothing drifts.
 *
 * A gap is the same walk with pieces that carry no energy.  Once m closed
 * sub-intervals in a row were empty the ring is all zero and every further
 * closing in the gap repeats the value 0, so the walk jumps to the last
 * whole sub-interval of the gap and counts the values it skipped.
 * Thermal demand needs no ring: across whole intervals of a gap it decays
 * by exp(-k T / tau) = 10^-k in one step.
 */
#include "pq/demand.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define NS_PER_S 1e9

/* Largest multiple of step (> 0) not above t, for t of either sign. */
static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;

    if (t % step != 0 && t < 0) {
        q--;
    }
    return q * step;
}

static double ns_to_s(int64_t ns)
{
    return (double) ns / NS_PER_S; /* correctly rounded: 2e8 ns is 0.2 */
}

int pq_demand_init(struct pq_demand *d, enum pq_demand_method method, double interval_s,
                   int subintervals)
{
    int64_t interval_ns;

    switch (method) {
    case PQ_DEMAND_BLOCK:
    case PQ_DEMAND_THERMAL:
        if (subintervals != 1) {
            return -EINVAL;
        }
        break;
    case PQ_DEMAND_SLIDING:
        if (subintervals < 1 || subintervals > PQ_DEMAND_MAX_SUB) {
            return -EINVAL;
        }
        break;
    default:
        return -EINVAL;
    }
    /* The comparisons reject NaN; the bounds keep llround() in range. */
    if (!(interval_s >= PQ_DEMAND_MIN_S && interval_s <= PQ_DEMAND_MAX_S)) {
        return -EINVAL;
    }
    interval_ns = llround(interval_s * NS_PER_S);
    if (interval_ns % subintervals != 0 ||
        interval_ns / subintervals < (int64_t) (PQ_DEMAND_MIN_S * NS_PER_S)) {
        return -EINVAL;
    }

    memset(d, 0, sizeof(*d));
    d->method = method;
    d->m = subintervals;
    d->interval_ns = interval_ns;
    d->sub_ns = interval_ns / subintervals;
    d->interval_s = ns_to_s(interval_ns);
    /* 90 % of a step after T: 1 - exp(-T / tau) = 0.9, tau = T / ln 10
     * (reference §10.4, from SIEMENS9340's 90 %/99 % figures). */
    d->tau_s = d->interval_s / log(10.0);
    d->last.value = NAN;
    d->present = NAN;
    d->predicted = NAN;
    d->peak = NAN;
    return 0;
}

void pq_demand_reset_peak(struct pq_demand *d)
{
    d->peak = NAN;
    d->peak_ns = 0;
}

static void peak_check(struct pq_demand *d, double v, int64_t t_ns)
{
    if (isnan(d->peak) || v > d->peak) { /* ties keep the first time */
        d->peak = v;
        d->peak_ns = t_ns;
    }
}

static void complete(struct pq_demand *d, double value, int64_t end_ns, int64_t cov_ns)
{
    d->last.value = value;
    d->last.end_ns = end_ns;
    d->last.covered_s = ns_to_s(cov_ns);
    d->last.flags = cov_ns < d->interval_ns ? PQ_DEMAND_PARTIAL : 0;
    d->n_completed++;
    if (d->method != PQ_DEMAND_THERMAL) {
        peak_check(d, value, end_ns);
    }
}

/* Close the present sub-interval at its end and start the next. */
static void close_sub(struct pq_demand *d)
{
    int64_t end = d->sub_start_ns + d->sub_ns;

    if (d->method == PQ_DEMAND_THERMAL) {
        complete(d, d->thermal, end, d->sub_cov_ns);
    } else {
        double e = 0.0;
        int64_t cov = 0;
        int i;

        d->ring_e[d->ring_pos] = d->sub_e;
        d->ring_cov_ns[d->ring_pos] = d->sub_cov_ns;
        d->ring_pos = (d->ring_pos + 1) % d->m;
        for (i = 0; i < d->m; i++) {
            e += d->ring_e[i];
            cov += d->ring_cov_ns[i];
        }
        /* Block: D = E_interval / T; sliding: D = sum of the last m
         * sub-interval energies / T (reference §10.4). */
        complete(d, e / d->interval_s, end, cov);
    }
    d->empty_run = d->sub_cov_ns == 0 ? d->empty_run + 1 : 0;
    d->sub_start_ns = end;
    d->sub_e = 0.0;
    d->sub_cov_ns = 0;
}

/* [a, b) inside the present sub-interval, at value v, or a gap. */
static void piece(struct pq_demand *d, int64_t a, int64_t b, double v, int has_data)
{
    double dur = ns_to_s(b - a);

    if (has_data) {
        d->sub_e += v * dur;
        d->sub_cov_ns += b - a;
    } else {
        v = 0.0; /* missing time counts as zero */
    }
    if (d->method == PQ_DEMAND_THERMAL) {
        /* Reference §10.4: D_k = D_k-1 + (P_k - D_k-1)(1 - e^(-dt/tau)),
         * exact for a constant P over the piece. */
        d->thermal += (v - d->thermal) * -expm1(-dur / d->tau_s);
        peak_check(d, d->thermal, b);
    }
}

/* In a gap at a sub-interval start with whole empty sub-intervals ahead:
 * jump over k of them when every value they complete is known. */
static int can_skip(const struct pq_demand *d)
{
    return d->method == PQ_DEMAND_THERMAL || d->empty_run >= d->m;
}

static void skip(struct pq_demand *d, int64_t k)
{
    if (d->method == PQ_DEMAND_THERMAL) {
        d->thermal *= exp(-ns_to_s(k * d->sub_ns) / d->tau_s);
        peak_check(d, d->thermal, d->sub_start_ns + k * d->sub_ns);
    }
    /* Block/sliding: each skipped value is 0 with no coverage, already
     * completed once (empty_run >= m), so the peak has seen it. */
    d->sub_start_ns += k * d->sub_ns;
    d->n_completed += (uint64_t) k;
}

/* Walk [a, b) on the sub-interval grid at value v, or as a gap. */
static void run(struct pq_demand *d, int64_t a, int64_t b, double v, int has_data)
{
    while (a < b) {
        int64_t end = d->sub_start_ns + d->sub_ns;
        int64_t stop = b < end ? b : end;

        if (!has_data && a == d->sub_start_ns && can_skip(d)) {
            int64_t whole = (b - a) / d->sub_ns;

            if (whole >= 2) {
                skip(d, whole - 1); /* the last one closes normally */
                a = d->sub_start_ns;
                continue;
            }
        }
        piece(d, a, stop, v, has_data);
        a = stop;
        if (a == end) {
            close_sub(d);
        }
    }
}

/* present and predicted at now_ns (header; reference §10.4 for predicted:
 * D_pred = (E_elapsed + P_now (T - t_elapsed)) / T). */
static void derive(struct pq_demand *d)
{
    double e_keep = 0.0, elapsed_s, left_s;
    int i;

    if (d->method == PQ_DEMAND_THERMAL) {
        d->present = d->thermal;
        d->predicted = NAN;
        return;
    }
    /* The window closing next: the ring without its oldest entry, then the
     * present sub-interval. */
    for (i = 0; i < d->m; i++) {
        if (i != d->ring_pos) {
            e_keep += d->ring_e[i];
        }
    }
    elapsed_s = ns_to_s((int64_t) (d->m - 1) * d->sub_ns + (d->now_ns - d->sub_start_ns));
    left_s = ns_to_s(d->sub_start_ns + d->sub_ns - d->now_ns);
    d->present = elapsed_s > 0.0 ? (e_keep + d->sub_e) / elapsed_s : NAN;
    d->predicted = (e_keep + d->sub_e + d->rate * left_s) / d->interval_s;
}

void pq_demand_update(struct pq_demand *d, int64_t t_ns, double value, double dt_s)
{
    int64_t dt_ns, start;

    if (!isfinite(value) || !(dt_s > 0.0 && dt_s <= PQ_DEMAND_MAX_DT) ||
        t_ns > PQ_DEMAND_MAX_T || t_ns < PQ_DEMAND_MIN_T) {
        d->rejected++;
        return;
    }
    dt_ns = llround(dt_s * NS_PER_S);
    if (dt_ns <= 0) {
        d->rejected++; /* shorter than half a ns */
        return;
    }
    start = t_ns - dt_ns;
    if (!d->started) {
        /* Clock alignment: the first (sub-)interval is the one holding
         * start; the part of it before start stays uncovered. */
        d->started = 1;
        d->sub_start_ns = floor_to(start, d->sub_ns);
        d->now_ns = start;
    }
    if (t_ns <= d->now_ns) {
        d->rejected++; /* wholly before time already fed */
        return;
    }
    if (start > d->now_ns) {
        run(d, d->now_ns, start, 0.0, 0); /* a gap */
    } else {
        start = d->now_ns; /* overlap: keep what was fed first */
    }
    run(d, start, t_ns, value, 1);
    d->now_ns = t_ns;
    d->rate = value;
    derive(d);
}
