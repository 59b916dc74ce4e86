/* adc_replay.c - the "replay" sample source: a COMTRADE recording played
 * back, at the recorded rate by the wall clock (the daemon) or as fast as
 * it is read (analysis, tests).
 *
 * Channels (DESIGN.md, "The analysis contract"): an analog channel whose
 * unit is V or kV (also mV, MV) is a voltage, A or kA (mA) a current; the
 * phase comes from its ph field (A, B, C, N or L1, L2, L3, N, any case) and
 * otherwise from channel order (the next free of A, B, C, N).  A phase
 * already taken by an earlier channel of the same kind, and channels beyond
 * 4 voltages and 4 currents, are left out.  The loader gives primary values;
 * they are scaled to V and A here.
 *
 * Timing: the rate is the file's first one.  Samples recorded at a later,
 * different rate are not played (the stream would not be contiguous); a
 * recording with timestamps only plays at its mean rate.  Fast pace stamps
 * frame 0 with the recording's first-sample time; realtime pace with the
 * system clock at open, as if the recording were happening now (with loop,
 * frames continue past the end, so times must keep going).
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "drivers/adc/adc_impl.h"
#include "drivers/adc/comtrade_load.h"
#include "pq/comtrade.h"
#include "pq/err.h"

struct replay {
    struct adc_info info;
    struct pq_comtrade *ct;
    size_t src[ADC_MAX_CH];  /* analog channel of each output channel */
    double mult[ADC_MAX_CH]; /* to V or A */
    size_t nplay;            /* frames played per pass */
    uint64_t pos;            /* next frame of the stream */
    int loop;
    int realtime;
    struct adc_pace pace;
};

/* Unit as V (0) or A (1) and its factor to the base unit; -1 if neither. */
static int unit_kind(const char *unit, double *mult)
{
    char u[8];
    size_t len;

    while (*unit == ' ' || *unit == '\t') {
        unit++;
    }
    len = strcspn(unit, " \t");
    if (len == 0 || len >= sizeof(u)) {
        return -1;
    }
    memcpy(u, unit, len);
    u[len] = '\0';
    *mult = 1.0;
    if (len == 2) {
        switch (u[0]) {
        case 'k':
        case 'K':
            *mult = 1e3;
            break;
        case 'M':
            *mult = 1e6;
            break;
        case 'm':
            *mult = 1e-3;
            break;
        default:
            return -1;
        }
    } else if (len != 1) {
        return -1;
    }
    switch (u[len - 1]) {
    case 'V':
    case 'v':
        return 0;
    case 'A':
    case 'a':
        return 1;
    default:
        return -1;
    }
}

/* Phase 0..3 (A, B, C, N) from a ph field, or -1. */
static int phase_of(const char *ph)
{
    static const char *const names[][2] = {
        {"A", "L1"}, {"B", "L2"}, {"C", "L3"}, {"N", "N"}};
    char p[8];
    size_t len;

    while (*ph == ' ' || *ph == '\t') {
        ph++;
    }
    len = strcspn(ph, " \t");
    if (len == 0 || len >= sizeof(p)) {
        return -1;
    }
    memcpy(p, ph, len);
    p[len] = '\0';
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(p, names[i][0]) == 0 || strcasecmp(p, names[i][1]) == 0) {
            return i;
        }
    }
    return -1;
}

/* Give analog channel j its role if it is a voltage or a current, and on
 * pass 0 has a phase, on pass 1 has none (then the next free phase). */
static void place(const struct pq_comtrade *ct, size_t j, int pass, long slot[8],
                  double mult[8])
{
    double m;
    int kind = unit_kind(ct->analog[j].unit, &m);
    int ph = phase_of(ct->analog[j].ph);

    if (kind < 0 || (pass == 0) != (ph >= 0)) {
        return;
    }
    for (int p = 0; ph < 0 && p < 4; p++) {
        if (slot[kind * 4 + p] < 0) {
            ph = p;
        }
    }
    if (ph >= 0 && slot[kind * 4 + ph] < 0) {
        slot[kind * 4 + ph] = (long) j;
        mult[kind * 4 + ph] = m;
    }
}

/* Which analog channel feeds each role: slot[kind * 4 + phase], -1: none.
 * Channels with a phase first, so that those without fill what is left. */
static void map_channels(const struct pq_comtrade *ct, long slot[8], double mult[8])
{
    for (int s = 0; s < 8; s++) {
        slot[s] = -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < ct->n_analog; j++) {
            place(ct, j, pass, slot, mult);
        }
    }
}

/* The rate and how many samples are played at it. */
static int timing(const struct pq_comtrade *ct, double *fs, size_t *nplay)
{
    size_t n = ct->nsamples;

    if (ct->nrates > 0) {
        *fs = ct->rates[0].rate_hz;
        for (size_t r = 1; r < ct->nrates; r++) {
            if (ct->rates[r].rate_hz != *fs) {
                n = (size_t) ct->rates[r - 1].end_sample;
                break;
            }
        }
    } else if (n >= 2 && ct->t_s && ct->t_s[n - 1] > ct->t_s[0]) {
        *fs = (double) (n - 1) / (ct->t_s[n - 1] - ct->t_s[0]);
    } else {
        return -PQ_EFORMAT;
    }
    if (!(*fs > 0) || !isfinite(*fs) || n == 0 || n > ct->nsamples) {
        return -PQ_EFORMAT;
    }
    *nplay = n;
    return 0;
}

static int replay_setup(struct replay *r, const struct replay_cfg *c)
{
    const struct pq_comtrade *ct = r->ct;
    long slot[8];
    double mult[8] = {0};
    size_t nch = 0;
    int rc = timing(ct, &r->info.fs_hz, &r->nplay);

    if (rc < 0) {
        return rc;
    }
    map_channels(ct, slot, mult);
    for (int s = 0; s < 8; s++) {
        if (slot[s] < 0) {
            continue;
        }
        r->src[nch] = (size_t) slot[s];
        r->mult[nch] = mult[s];
        adc_info_set_channel(&r->info, nch, (enum adc_role) s, ct->analog[slot[s]].id);
        nch++;
    }
    if (nch == 0 || !ct->data) {
        return -PQ_ECONFIG; /* nothing to measure */
    }
    r->info.nch = nch;
    r->loop = c->loop;
    r->realtime = c->pace == REPLAY_PACE_REALTIME;
    r->info.realtime = r->realtime;
    if (r->realtime) {
        r->info.start_ns = adc_clock_ns(CLOCK_REALTIME);
        adc_pace_start(&r->pace, r->info.fs_hz);
    } else {
        r->info.start_ns = ct->start_ns + (ct->t_s ? llround(ct->t_s[0] * 1e9) : 0);
    }
    return 0;
}

static int replay_open(struct adc *a, const struct meter_cfg *cfg)
{
    struct replay *r = a->priv;
    char err[256];
    int rc;

    if (!cfg->replay.file || !*cfg->replay.file) {
        return -PQ_ECONFIG;
    }
    rc = comtrade_load(cfg->replay.file, &r->ct, err, sizeof(err));
    if (rc < 0) {
        return rc;
    }
    rc = replay_setup(r, &cfg->replay);
    if (rc < 0) {
        pq_comtrade_free(r->ct);
        r->ct = NULL;
    }
    return rc;
}

static int replay_info(const struct adc *a, struct adc_info *out)
{
    const struct replay *r = a->priv;

    *out = r->info;
    return 0;
}

static int replay_read(struct adc *a, float *buf, size_t cap, size_t *n)
{
    struct replay *r = a->priv;
    const double *data = r->ct->data;
    size_t na = r->ct->n_analog, nch = r->info.nch;
    size_t want = r->realtime ? adc_pace_due(&r->pace, cap) : cap;

    if (!r->loop) {
        uint64_t left = r->pos < r->nplay ? r->nplay - r->pos : 0;

        if (left == 0) {
            return -PQ_EEOF;
        }
        want = want < left ? want : (size_t) left;
    }
    for (size_t f = 0; f < want; f++) {
        const double *row = data + (size_t) ((r->pos + f) % r->nplay) * na;

        for (size_t c = 0; c < nch; c++) {
            buf[f * nch + c] = (float) (row[r->src[c]] * r->mult[c]);
        }
    }
    r->pos += want;
    r->pace.delivered += want;
    *n = want;
    return 0;
}

static void replay_close(struct adc *a)
{
    struct replay *r = a->priv;

    pq_comtrade_free(r->ct);
    r->ct = NULL;
}

const struct adc_ops adc_replay_ops = {
    .kind = "replay",
    .priv_size = sizeof(struct replay),
    .open = replay_open,
    .info = replay_info,
    .read = replay_read,
    .fd = NULL,
    .close = replay_close,
};
