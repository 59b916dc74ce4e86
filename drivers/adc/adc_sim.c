/* adc_sim.c - the "sim" sample source: a three-phase signal generator.
 *
 * Every sample is a closed-form function of its frame index k, never an
 * accumulation, so the signal is exact over hours, the same whatever the
 * read sizes, and the same for the same config (the noise is a counter-based
 * hash of seed, channel and k, not a stateful PRNG).  Per phase p:
 *
 *   theta(k) = 2 pi * cycles(k),  cycles = f0 t + drift t^2 / 2 + sum of
 *              frequency steps * (time since the step), t = k / fs
 *   x_p      = theta + phi_p      (phi = 0, -120, +120 deg + unbalance)
 *   u_p      = sqrt2 U_p env_u,p [cos x_p + sum_h a_h cos(h x_p + alpha_h)
 *                                 + sum_i c_i cos(2 pi f_i t + phi_p + gamma_i)]
 *   i_p      = sqrt2 I_p env_i,p [cos(x_p - psi_p) + same with current terms]
 *
 * psi_p is the current's lag: acos(power_factor) (negative if leading) plus
 * the phase's current_angle.  env multiplies the scenarios' factors that are
 * active at k: dip, swell and interruption step to level (interruption also
 * the current), rvc ramps to level and back, flicker modulates by
 * 1 + dv/2 m(t) with m a unit sine or square.  Events start at the sample
 * nearest to `at` and end at the sample nearest to at + duration (exclusive).
 * UN is 0 V plus noise, IN = -(IA + IB + IC) as generated.  Noise is
 * Gaussian (Box-Muller), its RMS a percentage of U or I.  Values are
 * primary: PT/CT ratios do not apply.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "drivers/adc/adc_impl.h"
#include "pq/err.h"

#define SIM_MAX_H  62
#define SIM_MAX_IH 32
#define SIM_MAX_EV 64

#define TWO_PI (2.0 * M_PI)
#define DEG    (M_PI / 180.0)

struct sim_comp {
    double x;      /* harmonic: order; interharmonic: Hz */
    double u, i;   /* amplitude relative to the fundamental */
    double cu, su; /* cos, sin of the voltage term's angle */
    double ci, si; /* and of the current term's */
};

struct sim_event {
    int kind;    /* enum sim_scenario_kind */
    unsigned ph; /* bit p: phase p affected */
    int64_t k0;  /* first frame */
    int64_t k1;  /* first frame after; INT64_MAX: for good */
    int64_t nramp;
    double level; /* factor */
    double step_hz;
    double mod_hz;
    double dv; /* dV/V as a fraction */
    int shape;
    double fault; /* fault_downstream: fault current / load current */
};

struct sim {
    struct adc_info info;
    double fs;
    int64_t k; /* next frame */
    int realtime;
    struct adc_pace pace;
    int nph;              /* generated phases: 1 or 3 */
    int ch_u[4], ch_i[4]; /* channel of UA..UN, IA..IN; -1: none */
    double f0;
    double drift; /* Hz/s */
    double u_peak[3], i_peak[3];
    double phi[3];           /* voltage angle, rad */
    double psi[3];           /* current lag, rad */
    double noise_u, noise_i; /* RMS */
    uint64_t noise_key;
    size_t nh, nih, nev;
    struct sim_comp h[SIM_MAX_H];
    struct sim_comp ih[SIM_MAX_IH];
    struct sim_event ev[SIM_MAX_EV];
};

/* ---- noise ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) /* splitmix64's finaliser */
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* A standard normal value, a pure function of (key, ch, k). */
static double gauss(uint64_t key, size_t ch, int64_t k)
{
    uint64_t base = mix64(key + (uint64_t) (ch + 1) * 0x9e3779b97f4a7c15ULL);
    uint64_t a = mix64(base ^ ((uint64_t) k * 2));
    uint64_t b = mix64(base ^ ((uint64_t) k * 2 + 1));
    double u1 = (double) ((a >> 11) + 1) * 0x1p-53; /* (0, 1] */
    double u2 = (double) (b >> 11) * 0x1p-53;

    return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

/* ---- the waveform -------------------------------------------------------- */

static double frac(double x)
{
    return x - floor(x);
}

/* Cycles of the fundamental since frame 0, reduced to [0, 1). */
static double cycles_at(const struct sim *s, int64_t k)
{
    double t = (double) k / s->fs;
    double c = frac((double) k * s->f0 / s->fs);

    if (s->drift != 0) {
        c += frac(0.5 * s->drift * t * t);
    }
    for (size_t e = 0; e < s->nev; e++) {
        const struct sim_event *ev = &s->ev[e];

        if (ev->kind == SIM_FREQUENCY_STEP && k > ev->k0) {
            int64_t end = k < ev->k1 ? k : ev->k1;

            c += frac(ev->step_hz * (double) (end - ev->k0) / s->fs);
        }
    }
    return frac(c);
}

/* 0 before start, rising linearly to 1 over n frames. */
static double ramp_up(int64_t k, int64_t start, int64_t n)
{
    if (k < start) {
        return 0;
    }
    if (n <= 0 || k - start >= n) {
        return 1;
    }
    return (double) (k - start) / (double) n;
}

/* An event's factor on the voltage at frame k (1: no effect). */
static double event_factor(const struct sim *s, const struct sim_event *ev, int64_t k)
{
    double ph, m, r;

    switch (ev->kind) {
    case SIM_DIP:
    case SIM_SWELL:
    case SIM_INTERRUPTION:
    case SIM_FAULT_UPSTREAM:
    case SIM_FAULT_DOWNSTREAM:
        return k >= ev->k0 && k < ev->k1 ? ev->level : 1.0;
    case SIM_RVC:
        r = ramp_up(k, ev->k0, ev->nramp);
        if (ev->k1 != INT64_MAX) {
            double back = 1.0 - ramp_up(k, ev->k1, ev->nramp);

            r = r < back ? r : back;
        }
        return 1.0 + (ev->level - 1.0) * r;
    case SIM_FLICKER:
        if (k < ev->k0 || k >= ev->k1) {
            return 1.0;
        }
        ph = frac(ev->mod_hz * (double) (k - ev->k0) / s->fs);
        m = ev->shape == SIM_SHAPE_SQUARE ? (ph < 0.5 ? 1.0 : -1.0) : sin(TWO_PI * ph);
        return 1.0 + 0.5 * ev->dv * m;
    default:
        return 1.0;
    }
}

/* Voltage and current envelopes of each phase at frame k. */
static void envelopes(const struct sim *s, int64_t k, double env_u[3], double env_i[3])
{
    for (int p = 0; p < 3; p++) {
        env_u[p] = env_i[p] = 1.0;
    }
    for (size_t e = 0; e < s->nev; e++) {
        const struct sim_event *ev = &s->ev[e];
        double f, f_i;

        if (ev->kind == SIM_FREQUENCY_STEP || k < ev->k0) {
            continue;
        }
        f = event_factor(s, ev, k);
        /* an interruption takes the current too; in a fault the load (a
         * constant impedance) draws current in proportion to its voltage */
        f_i = ev->kind == SIM_INTERRUPTION || ev->kind == SIM_FAULT_UPSTREAM ||
                      ev->kind == SIM_FAULT_DOWNSTREAM
                  ? f
                  : 1.0;
        for (int p = 0; p < 3; p++) {
            if (ev->ph & (1u << p)) {
                env_u[p] *= f;
                env_i[p] *= f_i;
            }
        }
    }
}

/* The current a downstream fault adds on phase p at frame k: the fault is
 * on the load side, so it flows through the meter, lagging 75 degrees (an
 * X/R of about 3.7). */
static double fault_current(const struct sim *s, int64_t k, int p, double x)
{
    double i = 0;

    for (size_t e = 0; e < s->nev; e++) {
        const struct sim_event *ev = &s->ev[e];

        if (ev->kind == SIM_FAULT_DOWNSTREAM && (ev->ph & (1u << p)) && k >= ev->k0 &&
            k < ev->k1) {
            i += s->i_peak[p] * ev->fault * cos(x - 75.0 * M_PI / 180.0);
        }
    }
    return i;
}

/* Phase voltages u[] and currents i[] at frame k, without noise. */
static void phases_at(const struct sim *s, int64_t k, double u[3], double i[3])
{
    double theta = TWO_PI * cycles_at(s, k);
    double env_u[3], env_i[3];

    envelopes(s, k, env_u, env_i);
    for (int p = 0; p < s->nph && p < 3; p++) {
        double x = theta + s->phi[p];
        double uu = cos(x), ii = cos(x - s->psi[p]);

        for (size_t n = 0; n < s->nh; n++) {
            const struct sim_comp *c = &s->h[n];
            double sn, cs;

            sincos(c->x * x, &sn, &cs);
            uu += c->u * (cs * c->cu - sn * c->su);
            ii += c->i * (cs * c->ci - sn * c->si);
        }
        for (size_t n = 0; n < s->nih; n++) {
            const struct sim_comp *c = &s->ih[n];
            double sn, cs;

            sincos(TWO_PI * frac(c->x * (double) k / s->fs) + s->phi[p], &sn, &cs);
            uu += c->u * (cs * c->cu - sn * c->su);
            ii += c->i * (cs * c->ci - sn * c->si);
        }
        u[p] = s->u_peak[p] * env_u[p] * uu;
        i[p] = s->i_peak[p] * env_i[p] * ii + fault_current(s, k, p, x);
    }
}

static void frame_at(const struct sim *s, int64_t k, double *out)
{
    double u[3] = {0}, i[3] = {0};
    double in = 0;

    phases_at(s, k, u, i);
    for (int p = 0; p < s->nph && p < 3; p++) {
        if (s->noise_u > 0) {
            u[p] += s->noise_u * gauss(s->noise_key, (size_t) s->ch_u[p], k);
        }
        if (s->noise_i > 0) {
            i[p] += s->noise_i * gauss(s->noise_key, (size_t) s->ch_i[p], k);
        }
        out[s->ch_u[p]] = u[p];
        out[s->ch_i[p]] = i[p];
        in -= i[p];
    }
    if (s->ch_u[3] >= 0) {
        out[s->ch_u[3]] = s->noise_u > 0
                              ? s->noise_u * gauss(s->noise_key, (size_t) s->ch_u[3], k)
                              : 0.0;
    }
    if (s->ch_i[3] >= 0) {
        out[s->ch_i[3]] = in;
    }
}

/* ---- open ----------------------------------------------------------------- */

/* Channels by wiring: U then I, phases in order, neutral last. */
static void layout(struct sim *s, int wiring, int neutral)
{
    int n = 0;

    s->nph = wiring == METER_WIRING_SINGLE ? 1 : 3;
    neutral = neutral && wiring != METER_WIRING_DELTA;
    for (int p = 0; p < 4; p++) {
        s->ch_u[p] = s->ch_i[p] = -1;
    }
    for (int kind = 0; kind < 2; kind++) {
        int *ch = kind == 0 ? s->ch_u : s->ch_i;
        enum adc_role first = kind == 0 ? ADC_UA : ADC_IA;

        for (int p = 0; p < s->nph; p++) {
            ch[p] = n;
            adc_info_set_channel(&s->info, (size_t) n++, (enum adc_role)(first + p),
                                 NULL);
        }
        if (neutral) {
            ch[3] = n;
            adc_info_set_channel(&s->info, (size_t) n++, (enum adc_role)(first + 3),
                                 NULL);
        }
    }
    s->info.nch = (size_t) n;
}

static void set_comp(struct sim_comp *c, double x, double u_pct, double u_deg,
                     double i_pct, double i_deg)
{
    c->x = x;
    c->u = u_pct / 100.0;
    c->i = i_pct / 100.0;
    c->cu = cos(u_deg * DEG);
    c->su = sin(u_deg * DEG);
    c->ci = cos(i_deg * DEG);
    c->si = sin(i_deg * DEG);
}

static int64_t frame_of(int64_t t_ns, double fs)
{
    return llround((double) t_ns * fs / 1e9);
}

static int load_events(struct sim *s, const struct sim_cfg *c)
{
    if (c->scenarios.n > SIM_MAX_EV) {
        return -PQ_ECONFIG;
    }
    for (size_t n = 0; n < c->scenarios.n; n++) {
        const struct sim_scenario_cfg *sc =
            CFG_AT(c->scenarios, struct sim_scenario_cfg, n);
        struct sim_event *ev = &s->ev[n];

        ev->kind = sc->kind;
        ev->k0 = frame_of(sc->at_ns, s->fs);
        ev->k1 = sc->duration_ns > 0 ? frame_of(sc->at_ns + sc->duration_ns, s->fs)
                                     : INT64_MAX;
        ev->nramp = frame_of(sc->ramp_ns, s->fs);
        ev->level = sc->level_pct / 100.0;
        ev->fault = sc->fault_pct / 100.0;
        ev->step_hz = sc->step_hz;
        ev->mod_hz = sc->mod_hz;
        ev->dv = sc->dv_pct / 100.0;
        ev->shape = sc->shape;
        for (const char *p = sc->phases ? sc->phases : "ABC"; *p; p++) {
            if (*p < 'A' || *p > 'C') {
                return -PQ_ECONFIG;
            }
            ev->ph |= 1u << (*p - 'A');
        }
    }
    s->nev = c->scenarios.n;
    return 0;
}

static int load_components(struct sim *s, const struct sim_cfg *c)
{
    double nyquist = s->fs / 2;

    if (c->harmonics.n > SIM_MAX_H || c->interharmonics.n > SIM_MAX_IH ||
        c->frequency_hz <= 0 || c->frequency_hz >= nyquist) {
        return -PQ_ECONFIG;
    }
    for (size_t n = 0; n < c->harmonics.n; n++) {
        const struct sim_harmonic_cfg *h =
            CFG_AT(c->harmonics, struct sim_harmonic_cfg, n);

        if (h->order < 1 || h->order * c->frequency_hz >= nyquist) {
            return -PQ_ECONFIG;
        }
        set_comp(&s->h[n], h->order, h->voltage_pct, h->voltage_angle_deg, h->current_pct,
                 h->current_angle_deg);
    }
    for (size_t n = 0; n < c->interharmonics.n; n++) {
        const struct sim_interharmonic_cfg *ih =
            CFG_AT(c->interharmonics, struct sim_interharmonic_cfg, n);

        if (ih->frequency_hz <= 0 || ih->frequency_hz >= nyquist) {
            return -PQ_ECONFIG;
        }
        set_comp(&s->ih[n], ih->frequency_hz, ih->voltage_pct, ih->voltage_angle_deg,
                 ih->current_pct, ih->current_angle_deg);
    }
    s->nh = c->harmonics.n;
    s->nih = c->interharmonics.n;
    return 0;
}

static int sim_open(struct adc *a, const struct meter_cfg *cfg)
{
    static const double base_deg[3] = {0, -120, 120};
    const struct sim_cfg *c = &cfg->sim;
    struct sim *s = a->priv;
    double u_rms = c->voltage_v, lag;
    int rc;

    if (!(c->sample_rate_hz > 0) || c->power_factor < 0 || c->power_factor > 1) {
        return -PQ_ECONFIG;
    }
    s->fs = c->sample_rate_hz;
    s->f0 = c->frequency_hz;
    s->drift = c->drift_hz_per_h / 3600.0;
    rc = load_components(s, c);
    if (rc == 0) {
        rc = load_events(s, c);
    }
    if (rc < 0) {
        return rc;
    }
    if (u_rms == 0) {
        u_rms = cfg->wiring == METER_WIRING_DELTA ? cfg->nominal_voltage_v / sqrt(3.0)
                                                  : cfg->nominal_voltage_v;
    }
    lag = acos(c->power_factor) * (c->leading ? -1.0 : 1.0);
    for (int p = 0; p < 3; p++) {
        const struct sim_phase_cfg *ph = &c->unbalance.ph[p];

        s->u_peak[p] = sqrt(2.0) * u_rms * ph->voltage_pct / 100.0;
        s->i_peak[p] = sqrt(2.0) * c->current_a * ph->current_pct / 100.0;
        s->phi[p] = (base_deg[p] + ph->voltage_angle_deg) * DEG;
        s->psi[p] = lag + ph->current_angle_deg * DEG;
    }
    s->noise_u = u_rms * c->noise_pct / 100.0;
    s->noise_i = c->current_a * c->noise_pct / 100.0;
    s->noise_key = mix64((uint64_t) c->seed + 0x632be59bd9b4e019ULL);
    layout(s, cfg->wiring, c->neutral);
    s->realtime = c->realtime;
    s->info.fs_hz = s->fs;
    s->info.realtime = c->realtime;
    if (c->realtime) {
        s->info.start_ns = adc_clock_ns(CLOCK_REALTIME);
        adc_pace_start(&s->pace, s->fs);
    } else if (cfg_parse_utc(c->start ? c->start : "", &s->info.start_ns) < 0) {
        return -PQ_ECONFIG;
    }
    return 0;
}

/* ---- the ops -------------------------------------------------------------- */

static int sim_info(const struct adc *a, struct adc_info *out)
{
    const struct sim *s = a->priv;

    *out = s->info;
    return 0;
}

static int sim_read(struct adc *a, float *buf, size_t cap, size_t *n)
{
    struct sim *s = a->priv;
    size_t want = s->realtime ? adc_pace_due(&s->pace, cap) : cap;

    for (size_t f = 0; f < want; f++) {
        double x[ADC_MAX_CH] = {0};

        frame_at(s, s->k + (int64_t) f, x);
        for (size_t c = 0; c < s->info.nch; c++) {
            buf[f * s->info.nch + c] = (float) x[c];
        }
    }
    s->k += (int64_t) want;
    s->pace.delivered += want;
    *n = want;
    return 0;
}

int adc_sim_frame_at(const struct adc *a, int64_t k, double *out)
{
    if (a->ops != &adc_sim_ops || k < 0) {
        return -EINVAL;
    }
    frame_at(a->priv, k, out);
    return 0;
}

static void sim_close(struct adc *a)
{
    (void) a; /* nothing beyond priv */
}

const struct adc_ops adc_sim_ops = {
    .kind = "sim",
    .priv_size = sizeof(struct sim),
    .open = sim_open,
    .info = sim_info,
    .read = sim_read,
    .fd = NULL,
    .close = sim_close,
};
