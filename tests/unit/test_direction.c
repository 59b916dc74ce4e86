/* test_direction.c - pq/direction against a circuit where the answer is
 * known.
 *
 * The circuit (docs/direction.md, "Test circuit"), per phase:
 *
 *   E ~ Zs --S-- line --M-- cable --D-- load
 *              |        meter      |
 *          upstream             downstream
 *          feeder: load,        fault or
 *          fault or capacitor   capacitor
 *
 * A three-phase EMF of 230 V L-N, 50 Hz behind Zs (X/R = 5) feeds bus S.
 * S also feeds another feeder (a load, and the upstream fault or capacitor
 * bank).  The meter sits at M, at the end of a line from S, and measures
 * the voltages of M to earth and the line currents, positive from S to M.
 * A cable takes M to the load bus D, where the downstream fault or
 * capacitor bank goes.  Faults are a feeder impedance plus Zf to earth
 * (one or three phases) or between two phases.
 *
 * Model: every element is a lumped R-L branch or a capacitor, integrated
 * with the trapezoidal rule (the EMTP companion circuits) at 4 steps per
 * sample, with two backward-Euler steps after each switching to damp the
 * trapezoidal rule's numerical oscillation; the nodal equations are solved
 * by LU at every step.  Switches close at a given instant and open at the
 * first current zero after a given instant.  The meter's v and i are
 * taken at 12.8 kHz with noise of about 0.01 % of full scale.
 *
 * The cases (make_cases(), make_variations()) are a matrix of disturbance
 * kind, side, fault resistance, load power factor and point on wave, run
 * through pq_direction_analyze() with the trigger placed where an
 * Urms(1/2) detector would put it (0 to 1 cycle late).  Every case is
 * printed as a TAP comment; docs/direction.md has the table.
 */
#include <complex.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pq/direction.h"

#define FS      12800.0
#define F0      50.0
#define SUB     4 /* integration steps per sample */
#define MAXN    24
#define MAXE    48
#define GND     (-1)
#define CYC     256 /* samples per cycle at 50 Hz */
#define PRE_CYC 6   /* recorded before the inception */
#define POST_CY 6   /* recorded from the inception */
#define NFRAMES ((PRE_CYC + POST_CY) * CYC)
#define STRIDE  6 /* UA UB UC IA IB IC */

/* ---- the circuit simulator ---- */

enum { EL_RL, EL_C };

struct elem {
    int kind;
    int a, b;       /* nodes (GND: earth); current counts from a to b */
    double r, l, c; /* ohm, H, F */
    int emf;        /* phase of a source EMF in series (a side), -1 none */
    double t_on;    /* switch closes then, s; < 0: closed from the start */
    double t_off;   /* opens at the first current zero after, s; < 0 never */
    int on;
    double i, u; /* current, and v_a - v_b + emf, at the last step */
    double g, h; /* companion conductance and history current */
};

struct sim {
    int nn, ne;
    struct elem e[MAXE];
    double lu[MAXN][MAXN];
    int piv[MAXN];
    double v[MAXN];
    double t, dt;
    double e_pk, w; /* EMF peak, rad/s */
    int be_left;    /* backward-Euler steps still to take */
    int be_built;   /* the method the LU factors are for */
    int dirty;
};

static int sim_node(struct sim *s)
{
    assert_true(s->nn < MAXN);
    return s->nn++;
}

static struct elem *sim_add(struct sim *s, int kind, int a, int b, double r, double l,
                            double c)
{
    struct elem *e;

    assert_true(s->ne < MAXE);
    e = &s->e[s->ne++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->a = a;
    e->b = b;
    e->r = r;
    e->l = l;
    e->c = c;
    e->emf = -1;
    e->t_on = -1.0;
    e->t_off = -1.0;
    e->on = 1;
    return e;
}

static double sim_emf(const struct sim *s, int ph, double t)
{
    return s->e_pk * sin(s->w * t - ph * 2.0 * M_PI / 3.0);
}

static double node_v(const struct sim *s, int n)
{
    return n == GND ? 0.0 : s->v[n];
}

/* Conductance of the companion circuit for the method (1: backward Euler). */
static double companion_g(const struct elem *e, double dt, int be)
{
    if (e->kind == EL_C) {
        return (be ? 1.0 : 2.0) * e->c / dt;
    }
    return 1.0 / (e->r + (be ? 1.0 : 2.0) * e->l / dt);
}

static void stamp(double y[MAXN][MAXN], int a, int b, double g)
{
    if (a != GND) {
        y[a][a] += g;
    }
    if (b != GND) {
        y[b][b] += g;
    }
    if (a != GND && b != GND) {
        y[a][b] -= g;
        y[b][a] -= g;
    }
}

static void sim_factor(struct sim *s, int be)
{
    memset(s->lu, 0, sizeof(s->lu));
    for (int k = 0; k < s->ne; k++) {
        struct elem *e = &s->e[k];

        if (e->on) {
            e->g = companion_g(e, s->dt, be);
            stamp(s->lu, e->a, e->b, e->g);
        }
    }
    for (int c = 0; c < s->nn; c++) {
        int p = c;

        for (int r = c + 1; r < s->nn; r++) {
            if (fabs(s->lu[r][c]) > fabs(s->lu[p][c])) {
                p = r;
            }
        }
        assert_true(fabs(s->lu[p][c]) > 0.0); /* a floating node */
        s->piv[c] = p;
        if (p != c) {
            for (int j = 0; j < s->nn; j++) {
                double t = s->lu[c][j];

                s->lu[c][j] = s->lu[p][j];
                s->lu[p][j] = t;
            }
        }
        for (int r = c + 1; r < s->nn; r++) {
            double f = s->lu[r][c] / s->lu[c][c];

            s->lu[r][c] = f;
            for (int j = c + 1; j < s->nn; j++) {
                s->lu[r][j] -= f * s->lu[c][j];
            }
        }
    }
    s->be_built = be;
    s->dirty = 0;
}

static void sim_solve(struct sim *s, double *x)
{
    for (int c = 0; c < s->nn; c++) {
        double t = x[c];

        x[c] = x[s->piv[c]];
        x[s->piv[c]] = t;
    }
    for (int r = 1; r < s->nn; r++) {
        for (int j = 0; j < r; j++) {
            x[r] -= s->lu[r][j] * x[j];
        }
    }
    for (int r = s->nn - 1; r >= 0; r--) {
        for (int j = r + 1; j < s->nn; j++) {
            x[r] -= s->lu[r][j] * x[j];
        }
        x[r] /= s->lu[r][r];
    }
}

static void sim_step(struct sim *s)
{
    double t1 = s->t + s->dt;
    double rhs[MAXN] = {0.0};
    int be;

    for (int k = 0; k < s->ne; k++) {
        struct elem *e = &s->e[k];

        if (!e->on && e->t_on >= 0.0 && t1 >= e->t_on) {
            e->on = 1;
            e->i = 0.0;
            s->dirty = 1;
            s->be_left = 2;
        }
    }
    be = s->be_left > 0;
    if (s->dirty || be != s->be_built) {
        sim_factor(s, be);
    }
    for (int k = 0; k < s->ne; k++) {
        struct elem *e = &s->e[k];
        double j;

        if (!e->on) {
            continue;
        }
        if (e->kind == EL_C) {
            e->h = be ? -e->g * e->u : -(e->g * e->u + e->i);
        } else if (be) {
            e->h = e->g * (e->l / s->dt) * e->i;
        } else {
            e->h = e->g * e->u + e->g * (2.0 * e->l / s->dt - e->r) * e->i;
        }
        j = e->h + (e->emf >= 0 ? e->g * sim_emf(s, e->emf, t1) : 0.0);
        if (e->a != GND) {
            rhs[e->a] -= j;
        }
        if (e->b != GND) {
            rhs[e->b] += j;
        }
    }
    sim_solve(s, rhs);
    memcpy(s->v, rhs, sizeof(s->v));
    for (int k = 0; k < s->ne; k++) {
        struct elem *e = &s->e[k];
        double before = e->i;

        if (!e->on) {
            continue;
        }
        e->u = node_v(s, e->a) - node_v(s, e->b) +
               (e->emf >= 0 ? sim_emf(s, e->emf, t1) : 0.0);
        e->i = e->g * e->u + e->h;
        if (e->t_off >= 0.0 && t1 >= e->t_off && before * e->i <= 0.0) {
            e->on = 0; /* a breaker: interrupts at a current zero */
            e->t_on = -1.0;
            e->t_off = -1.0;
            e->i = 0.0;
            s->dirty = 1;
            s->be_left = 2;
        }
    }
    s->t = t1;
    if (s->be_left > 0) {
        s->be_left--;
    }
}

/* ---- the test network ---- */

enum kind { K_3PH, K_SLG, K_LL, K_CAP, K_LOAD };

enum side { UPSTREAM, DOWNSTREAM };

static const char *const kind_name[] = {"3ph", "1ph-g", "ph-ph", "cap", "load"};

struct tcase {
    int side;         /* enum side */
    int kind;         /* enum kind */
    double zf;        /* fault resistance, ohm */
    double pf;        /* load power factor (lagging) */
    double on_deg;    /* point on wave of the phase-A EMF at the switching:
                         0 = upward zero crossing, 90 = positive peak */
    double lag_cyc;   /* trigger - inception, cycles: < 0 the IEC time stamp
                         (start of the Urms(1/2) window), > 0 the instant
                         the window crossed the threshold */
    double zn;        /* source neutral to earth, ohm; 0: solidly earthed */
    double f_hz;      /* source frequency (the analyser is told 50 Hz) */
    double xr;        /* source X/R */
    double clear_cyc; /* fault cleared after that many cycles; 0: never */
    double noise;     /* noise multiplier */
    const char *note;
};

struct meter {
    float x[NFRAMES * STRIDE];
    size_t start;
};

#define V_LN       230.0
#define ZS         0.0153                    /* |Zs| of a 630 kVA, 6 % transformer, ohm */
#define XL(x)      ((x) / (2.0 * M_PI * F0)) /* reactance at 50 Hz to H */
#define LOAD_VA    100e3
#define UP_LOAD_VA 150e3
#define CAP_VAR    150e3
#define STEP_VA    300e3 /* load switched on: pf 0.3, like a motor start */

/* A star of R-L loads from three nodes; star point earthed or floating. */
static void add_load(struct sim *s, const int *n, double va, double pf, int floating)
{
    double z = V_LN * V_LN / (va / 3.0);
    int star = floating ? sim_node(s) : GND;

    for (int p = 0; p < 3; p++) {
        sim_add(s, EL_RL, n[p], star, z * pf, XL(z * sqrt(1.0 - pf * pf)), 0.0);
    }
}

/* The disturbance at the nodes n: a fault through a feeder (10 + j4
 * mohm) and zf, a wye-earthed capacitor bank behind 10 uH, or a load. */
static void add_disturbance(struct sim *s, const struct tcase *tc, const int *n,
                            double t_on, double t_off)
{
    struct elem *e[3] = {NULL, NULL, NULL};
    double r = 0.010 + tc->zf;
    double l = XL(0.004);

    switch (tc->kind) {
    case K_3PH:
        for (int p = 0; p < 3; p++) {
            e[p] = sim_add(s, EL_RL, n[p], GND, r, l, 0.0);
        }
        break;
    case K_SLG:
        e[0] = sim_add(s, EL_RL, n[0], GND, r, l, 0.0);
        break;
    case K_LL:
        e[0] = sim_add(s, EL_RL, n[1], n[2], 0.020 + tc->zf, 2.0 * l, 0.0);
        break;
    case K_CAP:
        for (int p = 0; p < 3; p++) {
            int mid = sim_node(s);

            e[p] = sim_add(s, EL_RL, n[p], mid, 0.001, 10e-6, 0.0);
            sim_add(s, EL_C, mid, GND, 0.0, 0.0,
                    CAP_VAR / (3.0 * 2.0 * M_PI * F0 * V_LN * V_LN));
        }
        break;
    case K_LOAD: {
        double z = V_LN * V_LN / (STEP_VA / 3.0);

        for (int p = 0; p < 3; p++) {
            e[p] = sim_add(s, EL_RL, n[p], GND, 0.3 * z, XL(z * sqrt(1.0 - 0.09)), 0.0);
        }
        break;
    }
    default:
        fail();
    }
    for (int p = 0; p < 3; p++) {
        if (e[p]) {
            e[p]->on = 0;
            e[p]->t_on = t_on;
            e[p]->t_off = t_off;
        }
    }
}

/* Deterministic noise, roughly normal, unit variance. */
static double noise(uint32_t *st)
{
    double acc = 0.0;

    for (int k = 0; k < 4; k++) {
        *st = *st * 1664525u + 1013904223u;
        acc += (double) (*st >> 8) / 16777216.0 - 0.5;
    }
    return acc * sqrt(3.0);
}

/* Simulate a case: the meter's frames into m, the detector's trigger into
 * m->start.  The switching happens 15 cycles in (the start-up transients
 * have died away), at the EMF angle asked for. */
static void simulate(const struct tcase *tc, struct meter *m, uint32_t seed)
{
    static struct sim s; /* ~6 kB: off the stack */
    int ns[3];
    int nm[3];
    int nd[3];
    int neutral = GND;
    struct elem *line[3];
    double per = 1.0 / tc->f_hz;
    double t_on = 15.0 * per + tc->on_deg / 360.0 * per;
    double rs = ZS / sqrt(1.0 + tc->xr * tc->xr);
    size_t rec0 = (size_t) llround(t_on * FS) - PRE_CYC * CYC;
    size_t k = 0;
    uint32_t st = seed;

    memset(&s, 0, sizeof(s));
    s.dt = 1.0 / (FS * SUB);
    s.e_pk = V_LN * sqrt(2.0);
    s.w = 2.0 * M_PI * tc->f_hz;
    s.dirty = 1;
    if (tc->zn > 0.0) {
        neutral = sim_node(&s);
        sim_add(&s, EL_RL, neutral, GND, tc->zn, 0.0, 0.0);
    }
    for (int p = 0; p < 3; p++) {
        ns[p] = sim_node(&s);
        nm[p] = sim_node(&s);
        nd[p] = sim_node(&s);
    }
    for (int p = 0; p < 3; p++) {
        struct elem *src = sim_add(&s, EL_RL, neutral, ns[p], rs, XL(rs * tc->xr), 0.0);

        src->emf = p;
        line[p] = sim_add(&s, EL_RL, ns[p], nm[p], 0.010, XL(0.004), 0.0); /* 50 m */
        sim_add(&s, EL_RL, nm[p], nd[p], 0.006, XL(0.0024), 0.0);          /* 30 m */
    }
    add_load(&s, ns, UP_LOAD_VA, 0.9, tc->zn > 0.0);
    add_load(&s, nd, LOAD_VA, tc->pf, tc->zn > 0.0);
    add_disturbance(&s, tc, tc->side == UPSTREAM ? ns : nd, t_on,
                    tc->clear_cyc > 0.0 ? t_on + tc->clear_cyc * per : -1.0);

    for (size_t n = 0; k < NFRAMES; n++) {
        for (int j = 0; j < SUB; j++) {
            sim_step(&s);
        }
        if (n + 1 < rec0) {
            continue;
        }
        for (int p = 0; p < 3; p++) {
            m->x[k * STRIDE + p] = (float) (s.v[nm[p]] + 0.0325 * tc->noise * noise(&st));
            m->x[k * STRIDE + 3 + p] =
                (float) (line[p]->i + 0.05 * tc->noise * noise(&st));
        }
        k++;
    }
    m->start = (size_t) ((double) (PRE_CYC * CYC) + tc->lag_cyc * CYC);
}

static void meter_in(const struct tcase *tc, const struct meter *m,
                     struct pq_direction_in *in)
{
    memset(in, 0, sizeof(*in));
    in->x = m->x;
    in->stride = STRIDE;
    in->n = NFRAMES;
    in->nph = 3;
    for (int p = 0; p < 3; p++) {
        in->u_ch[p] = p;
        in->i_ch[p] = 3 + p;
    }
    in->fs_hz = FS;
    in->f_hz = tc->f_hz > 55.0 ? 60.0 : F0; /* the nominal */
    in->start = m->start;
}

/* ---- the matrices ---- */

#define NCASES 36
#define NVARS  24

static struct tcase base_case(int side, int kind, double zf, double pf)
{
    return (struct tcase){.side = side,
                          .kind = kind,
                          .zf = zf,
                          .pf = pf,
                          .f_hz = F0,
                          .xr = 5.0,
                          .noise = 1.0,
                          .note = ""};
}

/* 2 sides x (3 fault kinds x 2 fault resistances x 2 load power factors
 * + capacitor bank x 2 power factors x 2 closing angles + earth fault on
 * an impedance-earthed system x 2 fault resistances). */
static int make_cases(struct tcase *tc)
{
    static const int kinds[] = {K_3PH, K_SLG, K_LL};
    static const double zfs[] = {0.005, 0.1};
    static const double pfs[] = {0.8, 0.98};
    int n = 0;

    for (int side = 0; side < 2; side++) {
        for (int k = 0; k < 3; k++) {
            for (int z = 0; z < 2; z++) {
                for (int p = 0; p < 2; p++) {
                    tc[n++] = base_case(side, kinds[k], zfs[z], pfs[p]);
                }
            }
        }
        for (int p = 0; p < 2; p++) {
            for (int a = 0; a < 2; a++) {
                tc[n] = base_case(side, K_CAP, 0.0, pfs[p]);
                tc[n++].on_deg = a ? 90.0 : 0.0;
            }
        }
        /* 2-ohm neutral, 3-wire loads: swells on the sound phases */
        for (int z = 0; z < 2; z++) {
            tc[n] = base_case(side, K_SLG, z ? 1.0 : 0.005, 0.9);
            tc[n].zn = 2.0;
            tc[n++].note = "Zn 2 ohm";
        }
    }
    for (int i = 0; i < n; i++) {
        if (tc[i].kind != K_CAP) {
            tc[i].on_deg = fmod(37.0 * i, 180.0);
        }
        tc[i].lag_cyc = fmod(0.29 * i, 2.0) - 1.0; /* both time stamps */
    }
    return n;
}

/* Conditions the analyser was not tuned on, each on both sides. */
static int make_variations(struct tcase *tc)
{
    int n = 0;

    for (int side = 0; side < 2; side++) {
        tc[n] = base_case(side, K_3PH, 0.05, 0.85);
        tc[n].xr = 10.0;
        tc[n++].note = "X/R 10";
        tc[n] = base_case(side, K_SLG, 0.05, 0.85);
        tc[n].xr = 10.0;
        tc[n++].note = "X/R 10";
        tc[n] = base_case(side, K_3PH, 0.02, 0.9);
        tc[n].f_hz = 49.5;
        tc[n++].note = "49.5 Hz";
        tc[n] = base_case(side, K_SLG, 0.02, 0.9);
        tc[n].clear_cyc = 2.0;
        tc[n++].note = "cleared 2 cyc";
        tc[n] = base_case(side, K_3PH, 0.02, 0.9);
        tc[n].clear_cyc = 0.5;
        tc[n++].note = "cleared .5 cyc";
        tc[n] = base_case(side, K_SLG, 0.05, 0.9);
        tc[n].f_hz = 60.0;
        tc[n++].note = "60 Hz system";
        tc[n] = base_case(side, K_LL, 0.05, 0.9);
        tc[n].lag_cyc = 0.0;
        tc[n++].note = "no lag";
        tc[n] = base_case(side, K_LL, 0.05, 0.9);
        tc[n].lag_cyc = 1.0;
        tc[n++].note = "lag 1 cyc";
        tc[n] = base_case(side, K_LL, 0.05, 0.9);
        tc[n].lag_cyc = -1.0;
        tc[n++].note = "lead 1 cyc";
        tc[n] = base_case(side, K_SLG, 0.1, 0.9);
        tc[n].noise = 10.0;
        tc[n++].note = "noise x10";
        tc[n] = base_case(side, K_LOAD, 0.0, 0.9);
        tc[n++].note = "300 kVA on";
        tc[n] = base_case(side, K_CAP, 0.0, 0.9);
        tc[n].xr = 10.0;
        tc[n].on_deg = 60.0;
        tc[n++].note = "X/R 10";
    }
    for (int i = 0; i < n; i++) {
        if (tc[i].kind != K_CAP) {
            tc[i].on_deg = fmod(53.0 * i + 11.0, 180.0);
        }
        if (strcmp(tc[i].note, "no lag") && strcmp(tc[i].note, "lag 1 cyc") &&
            strcmp(tc[i].note, "lead 1 cyc")) {
            tc[i].lag_cyc = fmod(0.37 * i, 2.0) - 1.0;
        }
    }
    return n;
}

static int want_of(const struct tcase *tc)
{
    return tc->side == UPSTREAM ? PQ_DIRECTION_UPSTREAM : PQ_DIRECTION_DOWNSTREAM;
}

static int is_right(const struct tcase *tc, const struct pq_direction_result *r)
{
    return r->direction == want_of(tc) && r->confidence > 0.6;
}

static void print_header(void)
{
    printf("# %2s %-10s %-5s %5s %4s %3s %-13s %5s | %-10s %4s %4s %5s |", "#", "side",
           "kind", "zf", "pf", "deg", "note", "U1/U0", "decision", "conf", "sumw", "");
    for (int v = 0; v < PQ_DIR_COUNT; v++) {
        printf(" %17s", pq_direction_indicator_name(v));
    }
    printf("\n");
}

static void print_row(int i, const struct tcase *tc, const struct pq_direction_result *r)
{
    printf("# %2d %-10s %-5s %5.3f %4.2f %3.0f %-13s %5.3f | %-10s %4.2f %4.2f %5s |", i,
           tc->side == UPSTREAM ? "upstream" : "downstream", kind_name[tc->kind], tc->zf,
           tc->pf, tc->on_deg, tc->note, r->u_post_v / r->u_pre_v,
           pq_direction_name(r->direction), r->confidence, r->weight_sum,
           is_right(tc, r)                        ? "right"
           : r->direction == PQ_DIRECTION_UNKNOWN ? "undec"
                                                  : "WRONG");
    for (int v = 0; v < PQ_DIR_COUNT; v++) {
        printf(" %+10.3g %+.2f", r->vote[v].value, r->vote[v].weight * r->vote[v].sign);
    }
    if (r->end < NFRAMES) {
        printf(" ends %.2f cyc", ((double) r->end - (double) r->inception) / CYC);
    }
    printf("\n");
}

/* Per indicator: votes of weight >= 0.2 and how many of them were right. */
static void tally(const struct tcase *tc, const struct pq_direction_result *r,
                  int votes[PQ_DIR_COUNT], int good[PQ_DIR_COUNT])
{
    int want = tc->side == UPSTREAM ? -1 : 1;

    for (int v = 0; v < PQ_DIR_COUNT; v++) {
        if (r->vote[v].weight >= 0.2) {
            votes[v]++;
            good[v] += r->vote[v].sign == want;
        }
    }
}

static void print_tally(const int votes[PQ_DIR_COUNT], const int good[PQ_DIR_COUNT])
{
    printf("# indicators (votes of weight >= 0.2 right / cast):");
    for (int v = 0; v < PQ_DIR_COUNT; v++) {
        printf(" %s %d/%d", pq_direction_indicator_name(v), good[v], votes[v]);
    }
    printf("\n");
}

/* Run the cases, print the table, return how many are right. */
static int run_cases(const struct tcase *tc, int n, uint32_t seed, double *cmin,
                     double *cmax)
{
    static struct meter m;
    int votes[PQ_DIR_COUNT] = {0};
    int good[PQ_DIR_COUNT] = {0};
    int right = 0;

    print_header();
    for (int i = 0; i < n; i++) {
        struct pq_direction_in in;
        struct pq_direction_result r;

        simulate(&tc[i], &m, seed + (uint32_t) i);
        meter_in(&tc[i], &m, &in);
        assert_int_equal(pq_direction_analyze(&in, &r), 0);
        print_row(i, &tc[i], &r);
        tally(&tc[i], &r, votes, good);
        /* the switching instant, found to the sample (3 of slack) */
        assert_true(r.inception_found);
        assert_true(labs((long) r.inception - PRE_CYC * CYC) <= 3);
        right += is_right(&tc[i], &r);
        /* never confidently wrong */
        assert_false(r.direction != PQ_DIRECTION_UNKNOWN &&
                     r.direction != want_of(&tc[i]));
        *cmin = fmin(*cmin, r.confidence);
        *cmax = fmax(*cmax, r.confidence);
    }
    print_tally(votes, good);
    return right;
}

/* All but the weakest case: an earth fault through 1 ohm upstream on the
 * 2-ohm-earthed system, where the meter (3-wire load) sees a neutral shift
 * and a 0.2 % change of the positive sequence, nothing else; unknown is
 * the honest answer there.  None may be wrong. */
static void test_direction_circuit_matrix_is_right(void **state)
{
    struct tcase tc[NCASES];
    int n = make_cases(tc);
    double cmin = 1.0;
    double cmax = 0.0;
    int right;

    (void) state;
    assert_int_equal(n, NCASES);
    right = run_cases(tc, n, 1234u, &cmin, &cmax);
    printf("# matrix: %d of %d right with confidence > 0.6 (confidence %.2f..%.2f)\n",
           right, n, cmin, cmax);
    assert_true(right >= NCASES - 1);
}

static void test_direction_untuned_variations_are_right(void **state)
{
    struct tcase tc[NVARS];
    int n = make_variations(tc);
    double cmin = 1.0;
    double cmax = 0.0;
    int right;

    (void) state;
    assert_int_equal(n, NVARS);
    right = run_cases(tc, n, 777u, &cmin, &cmax);
    printf("# variations: %d of %d right with confidence > 0.6 (confidence %.2f..%.2f)\n",
           right, n, cmin, cmax);
    assert_int_equal(right, n);
}

/* A one-phase meter on phase A: the cases that disturb phase A (not the
 * b-c faults; not the impedance-earthed ones, whose phase A change is the
 * zero-sequence shift alone). */
static void test_direction_single_phase_meter_is_right(void **state)
{
    static struct meter m;
    struct tcase tc[NCASES];
    int n = make_cases(tc);
    int runs = 0;
    int right = 0;
    double cmin = 1.0;

    (void) state;
    print_header();
    for (int i = 0; i < n; i++) {
        struct pq_direction_in in;
        struct pq_direction_result r;

        if (tc[i].kind == K_LL || tc[i].zn > 0.0) {
            continue;
        }
        simulate(&tc[i], &m, 99u + (uint32_t) i);
        meter_in(&tc[i], &m, &in);
        in.nph = 1;
        assert_int_equal(pq_direction_analyze(&in, &r), 0);
        print_row(i, &tc[i], &r);
        right += is_right(&tc[i], &r);
        cmin = fmin(cmin, r.confidence);
        runs++;
    }
    printf("# one phase: %d of %d right with confidence > 0.6 (lowest confidence %.2f)\n",
           right, runs, cmin);
    assert_int_equal(right, runs);
}

/* The same frames through a ring that wraps inside the window give the
 * same answer, bit for bit. */
static void test_direction_ring_window_equals_linear_window(void **state)
{
    static struct meter m;
    static float ring[(NFRAMES + 100) * STRIDE];
    struct tcase tc[NCASES];
    struct pq_direction_in in;
    struct pq_direction_result lin;
    struct pq_direction_result rng;
    size_t cap = NFRAMES + 100;
    size_t first = cap - 700; /* wraps 700 frames in */

    (void) state;
    make_cases(tc);
    simulate(&tc[22], &m, 5u);
    for (size_t k = 0; k < NFRAMES; k++) {
        memcpy(&ring[((first + k) % cap) * STRIDE], &m.x[k * STRIDE],
               STRIDE * sizeof(float));
    }
    meter_in(&tc[22], &m, &in);
    assert_int_equal(pq_direction_analyze(&in, &lin), 0);
    in.x = ring;
    in.ring_frames = cap;
    in.first = first;
    assert_int_equal(pq_direction_analyze(&in, &rng), 0);
    assert_int_equal(lin.direction, PQ_DIRECTION_DOWNSTREAM);
    assert_memory_equal(&lin, &rng, sizeof(lin));
}

/* Current transformers wired backwards flip every signed indicator (the
 * sign convention is the meter's delivered direction).  The impedance
 * ratio is a magnitude and keeps pointing the right way, so the answer
 * becomes the other side or unknown, never the original one. */
static void test_direction_reversed_currents_flip_the_signed_votes(void **state)
{
    static struct meter m;
    struct tcase tc[NCASES];

    (void) state;
    make_cases(tc);
    for (int i = 0; i < NCASES; i += 3) {
        const struct tcase *t = &tc[i];
        struct pq_direction_in in;
        struct pq_direction_result fwd;
        struct pq_direction_result rev;

        simulate(t, &m, 42u);
        meter_in(t, &m, &in);
        assert_int_equal(pq_direction_analyze(&in, &fwd), 0);
        for (size_t k = 0; k < NFRAMES; k++) {
            for (size_t p = 3; p < 6; p++) {
                m.x[k * STRIDE + p] = -m.x[k * STRIDE + p];
            }
        }
        assert_int_equal(pq_direction_analyze(&in, &rev), 0);
        for (int v = 0; v < PQ_DIR_IMPEDANCE; v++) {
            if (fwd.vote[v].weight > 0.05) {
                assert_int_equal(rev.vote[v].sign, -fwd.vote[v].sign);
            }
        }
        assert_int_equal(rev.vote[PQ_DIR_IMPEDANCE].sign,
                         fwd.vote[PQ_DIR_IMPEDANCE].sign);
        assert_int_not_equal(rev.direction, want_of(t));
        printf("# reversed CTs, case %2d: %s %.2f\n", i, pq_direction_name(rev.direction),
               rev.confidence);
    }
}

/* Clean sine waves with noise and no event: nothing to find. */
static void test_direction_steady_signal_is_unknown(void **state)
{
    static struct meter m;
    struct tcase tc = base_case(UPSTREAM, K_3PH, 0.0, 0.9);
    struct pq_direction_in in;
    struct pq_direction_result r;
    uint32_t st = 7u;

    (void) state;
    for (size_t k = 0; k < NFRAMES; k++) {
        double th = 2.0 * M_PI * F0 * (double) k / FS;

        for (int p = 0; p < 3; p++) {
            double ph = th - p * 2.0 * M_PI / 3.0;

            m.x[k * STRIDE + (size_t) p] =
                (float) (325.0 * cos(ph) + 0.0325 * noise(&st));
            m.x[k * STRIDE + 3 + (size_t) p] =
                (float) (200.0 * cos(ph - 0.45) + 0.05 * noise(&st));
        }
    }
    m.start = PRE_CYC * CYC;
    meter_in(&tc, &m, &in);
    assert_int_equal(pq_direction_analyze(&in, &r), 0);
    assert_int_equal(r.direction, PQ_DIRECTION_UNKNOWN);
    assert_int_equal(r.inception_found, 0);
    assert_true(r.weight_sum < PQ_DIRECTION_MIN_WEIGHT);
}

static void test_direction_unusable_input_is_einval(void **state)
{
    static struct meter m;
    struct tcase tc = base_case(UPSTREAM, K_3PH, 0.0, 0.9);
    struct pq_direction_in in;
    struct pq_direction_in bad;
    struct pq_direction_result r;

    (void) state;
    memset(&m, 0, sizeof(m));
    m.start = PRE_CYC * CYC;
    meter_in(&tc, &m, &in);
    assert_int_equal(pq_direction_analyze(NULL, &r), -EINVAL);
    bad = in;
    bad.x = NULL;
    assert_int_equal(pq_direction_analyze(&bad, &r), -EINVAL);
    bad = in;
    bad.nph = 2;
    assert_int_equal(pq_direction_analyze(&bad, &r), -EINVAL);
    bad = in;
    bad.i_ch[2] = STRIDE;
    assert_int_equal(pq_direction_analyze(&bad, &r), -EINVAL);
    bad = in;
    bad.f_hz = 16.7;
    assert_int_equal(pq_direction_analyze(&bad, &r), -EINVAL);
    bad = in;
    bad.fs_hz = 3000.0; /* 60 samples per cycle */
    assert_int_equal(pq_direction_analyze(&bad, &r), -EINVAL);
    bad = in;
    bad.start = PQ_DIRECTION_PRE_CYCLES * CYC - 1;
    assert_int_equal(pq_direction_analyze(&bad, &r), -EINVAL);
    bad = in;
    bad.start = NFRAMES - PQ_DIRECTION_POST_CYCLES * CYC + 1;
    assert_int_equal(pq_direction_analyze(&bad, &r), -EINVAL);
    bad = in;
    bad.ring_frames = NFRAMES - 1;
    assert_int_equal(pq_direction_analyze(&bad, &r), -EINVAL);
    m.x[100 * STRIDE + 4] = NAN; /* a missing current sample */
    assert_int_equal(pq_direction_analyze(&in, &r), -EINVAL);
    m.x[100 * STRIDE + 4] = 0.0f;
    assert_int_equal(r.direction, PQ_DIRECTION_UNKNOWN);
    assert_true(r.confidence == 0.0);
    /* the edges themselves are accepted */
    bad = in;
    bad.start = PQ_DIRECTION_PRE_CYCLES * CYC;
    assert_int_equal(pq_direction_analyze(&bad, &r), 0);
    bad.start = NFRAMES - PQ_DIRECTION_POST_CYCLES * CYC;
    assert_int_equal(pq_direction_analyze(&bad, &r), 0);
}

static void test_direction_names_are_the_record_strings(void **state)
{
    (void) state;
    assert_string_equal(pq_direction_name(PQ_DIRECTION_UPSTREAM), "upstream");
    assert_string_equal(pq_direction_name(PQ_DIRECTION_DOWNSTREAM), "downstream");
    assert_string_equal(pq_direction_name(PQ_DIRECTION_UNKNOWN), "unknown");
    assert_string_equal(pq_direction_name(42), "unknown");
    assert_string_equal(pq_direction_indicator_name(PQ_DIR_ENERGY), "energy");
    assert_string_equal(pq_direction_indicator_name(PQ_DIR_IMPEDANCE), "impedance");
    assert_string_equal(pq_direction_indicator_name(PQ_DIR_COUNT), "?");
    assert_string_equal(pq_direction_indicator_name(-1), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direction_circuit_matrix_is_right),
        cmocka_unit_test(test_direction_untuned_variations_are_right),
        cmocka_unit_test(test_direction_single_phase_meter_is_right),
        cmocka_unit_test(test_direction_ring_window_equals_linear_window),
        cmocka_unit_test(test_direction_reversed_currents_flip_the_signed_votes),
        cmocka_unit_test(test_direction_steady_signal_is_unknown),
        cmocka_unit_test(test_direction_unusable_input_is_einval),
        cmocka_unit_test(test_direction_names_are_the_record_strings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
