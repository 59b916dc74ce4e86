/* curves.c - ITIC, SEMI F47 and EN 50160 event classification (curves.h).
 *
 * Sources: reference §6.1 and OPQ's polygons (openpowerquality/opq,
 * mauka/plugins/itic_plugin.py) for ITIC; reference §6.2 (SEMI F47-0706 as
 * restated by Astrodyne TDI and Power Standards Lab) for F47; reference
 * §4.4 (Schneider PM8000 technical note on EN 50160:2010) for the cells.
 *
 * The segment tests compare with <= at a breakpoint, so a breakpoint
 * belongs to the segment before it, and the slopes are interpolated as
 * a + (b - a) * (t - t0) / (t1 - t0), which is exact at both ends: the
 * limit at 1 ms is 200 % and at 3 ms 140 %, not a rounding of them.
 */
#include "pq/curves.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "pq/en50160.h"

#define ITIC_T_CYC (0.01 / 60.0) /* 0.01 cycle at 60 Hz, s */
#define ITIC_T_1MS 1e-3
#define ITIC_T_3MS 3e-3

static double lerp(double a, double b, double t, double t0, double t1)
{
    return a + (b - a) * ((t - t0) / (t1 - t0));
}

double pq_itic_upper_pct(double duration_s)
{
    double t = duration_s;

    if (!(t >= 0.0)) {
        return NAN;
    }
    if (t <= ITIC_T_CYC) {
        return 500.0;
    }
    if (t <= ITIC_T_1MS) {
        return lerp(500.0, 200.0, t, ITIC_T_CYC, ITIC_T_1MS);
    }
    if (t <= ITIC_T_3MS) {
        return lerp(200.0, 140.0, t, ITIC_T_1MS, ITIC_T_3MS);
    }
    return t <= 0.5 ? 120.0 : 110.0;
}

double pq_itic_lower_pct(double duration_s)
{
    double t = duration_s;

    if (!(t >= 0.0)) {
        return NAN;
    }
    if (t <= 0.02) {
        return 0.0;
    }
    if (t <= 0.5) {
        return 70.0;
    }
    return t <= 10.0 ? 80.0 : 90.0;
}

int pq_itic_classify(double magnitude_pct, double duration_s)
{
    if (!(duration_s >= 0.0) || !(magnitude_pct >= 0.0) || isinf(magnitude_pct)) {
        return PQ_ITIC_NA;
    }
    if (magnitude_pct > pq_itic_upper_pct(duration_s)) {
        return PQ_ITIC_PROHIBITED;
    }
    if (magnitude_pct < pq_itic_lower_pct(duration_s)) {
        return PQ_ITIC_NO_DAMAGE;
    }
    return PQ_ITIC_NO_INTERRUPTION;
}

int pq_semi_f47_classify(double residual_pct, double duration_s)
{
    double need;

    if (!(duration_s >= 0.05) || !(residual_pct >= 0.0) || residual_pct >= 100.0) {
        return PQ_SEMI_NA; /* < 50 ms, not a sag, NaN */
    }
    if (duration_s <= 0.2) {
        need = 50.0;
    } else if (duration_s <= 0.5) {
        need = 70.0;
    } else {
        need = 80.0; /* to 1 s, and the first second of a longer sag */
    }
    return residual_pct < need ? PQ_SEMI_FAIL : PQ_SEMI_PASS;
}

const char *pq_itic_name(int itic)
{
    switch (itic) {
    case PQ_ITIC_NO_INTERRUPTION:
        return "no-interruption";
    case PQ_ITIC_NO_DAMAGE:
        return "no-damage";
    case PQ_ITIC_PROHIBITED:
        return "prohibited";
    default:
        return "n/a";
    }
}

const char *pq_semi_name(int semi)
{
    switch (semi) {
    case PQ_SEMI_PASS:
        return "pass";
    case PQ_SEMI_FAIL:
        return "fail";
    default:
        return "n/a";
    }
}

static int put_cell(char out[4], char row, int col)
{
    out[0] = row;
    out[1] = (char) ('0' + col);
    out[2] = '\0';
    return 0;
}

static int no_cell(char out[4])
{
    out[0] = '\0';
    return -ERANGE;
}

/* The tables' boundaries live in one place, pq/en50160.c; these name the
 * cells. */
int pq_en50160_dip_cell(double residual_pct, double duration_s, char out[4])
{
    int row, col;

    if (pq_en50160_dip_index(residual_pct, duration_s, &row, &col) < 0) {
        return no_cell(out); /* also NaN */
    }
    return put_cell(out, "ABCDX"[row], col + 1);
}

int pq_en50160_swell_cell(double max_pct, double duration_s, char out[4])
{
    int row, col;

    if (pq_en50160_swell_index(max_pct, duration_s, &row, &col) < 0) {
        return no_cell(out);
    }
    return put_cell(out, "ST"[row], col + 1);
}
