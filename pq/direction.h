/* direction.h - disturbance direction: did a dip or swell come from
 * upstream (the source side) or downstream (the load side) of the meter?
 *
 * Sign convention: power and current are positive when they flow from the
 * source side (upstream) through the meter to the load side (downstream),
 * the meter's "delivered" direction (pq-reference.md 8 and 10.3).
 * Voltages are phase to neutral, or to whatever common reference the
 * meter's voltage inputs share.  A meter wired the other way round (CTs
 * reversed, or a meter on a feeder that exports) swaps the two answers.
 *
 * The analyser looks at the waveforms around one event: cycles before the
 * disturbance and cycles into it.  It finds the inception to the sample,
 * computes five published indicators and one derived one
 * (docs/direction.md), each a sign with a weight in 0..1, and combines
 * them into a decision with a confidence in 0..1:
 * confidence = |sum w_i s_i| / sum w_i (pq-reference.md 8).  Every
 * indicator's value and vote is returned for the event log.
 *
 * Input: a waveform capture triggered at the event start (pq/capture.h
 * with at least 64 samples per cycle, 5 cycles before and 5 after) fits
 * as is: x = data, stride = nch, n = nsamples, start = trigger_index.
 *
 * Pure: no I/O, no state, no allocation (about 1 kB of stack);
 * thread-safe.  Cost: a few passes over the window, O(frames x phases).
 */
#ifndef PQGATE_DIRECTION_H
#define PQGATE_DIRECTION_H

#include <stddef.h>

/* What the caller must hold around the trigger (whole nominal cycles). */
#define PQ_DIRECTION_PRE_CYCLES  5 /* before in->start */
#define PQ_DIRECTION_POST_CYCLES 5 /* from in->start on */

/* A decision is reported when confidence >= PQ_DIRECTION_MIN_CONFIDENCE
 * and the weights add up to at least PQ_DIRECTION_MIN_WEIGHT; otherwise
 * the direction is PQ_DIRECTION_UNKNOWN (with the confidence of the side
 * that led, for audit). */
#define PQ_DIRECTION_MIN_CONFIDENCE 0.6
#define PQ_DIRECTION_MIN_WEIGHT     1.0

enum pq_direction {
    PQ_DIRECTION_UNKNOWN,
    PQ_DIRECTION_UPSTREAM,   /* source side of the meter */
    PQ_DIRECTION_DOWNSTREAM, /* load side of the meter */
};

/* The indicators, in the order of result.vote[].  value is in the unit
 * given; sign +1 means downstream. */
enum pq_direction_ind {
    PQ_DIR_ENERGY,       /* Parsons et al. 2000: disturbance energy over the
                            first cycle, J; > 0 downstream */
    PQ_DIR_POWER_PEAK,   /* Parsons et al. 2000: initial disturbance power
                            peak, W; > 0 downstream */
    PQ_DIR_RESISTANCE,   /* Tayjasanant, Li, Xu 2005: R of -dU/dI from the
                            fundamental phasors, ohm; > 0 downstream */
    PQ_DIR_REAL_CURRENT, /* Hamzah et al. 2004: change of the real current
                            during a sag, A; rises: downstream */
    PQ_DIR_GRADIENT,     /* Kim, Santoso et al. 2008: inductance seen at the
                            inception, -du/(di/dt), H; > 0 downstream */
    PQ_DIR_IMPEDANCE,    /* derived: |dU/dI| over the load impedance U/I;
                            small (the source) downstream, about 1 (the
                            load) or more upstream */
    PQ_DIR_COUNT,
};

struct pq_direction_vote {
    double value;    /* the indicator's quantity, unit above */
    double strength; /* its size over its threshold, before clipping */
    double weight;   /* min(1, strength) times the indicator's factor */
    int sign;        /* +1 downstream, -1 upstream, 0 no vote */
};

/* The window: n frames, each of stride floats, in primary volts and
 * amperes.  Frame k (0 <= k < n) is at x + ((first + k) % ring_frames) *
 * stride, or x + (first + k) * stride when ring_frames is 0 (a linear
 * buffer), so a ring of recent frames can be passed without copying. */
struct pq_direction_in {
    const float *x;
    size_t stride;      /* floats per frame */
    size_t ring_frames; /* ring capacity in frames; 0: linear buffer */
    size_t first;       /* frame of window index 0 */
    size_t n;           /* frames in the window */
    int nph;            /* 1 or 3 */
    int u_ch[3];        /* offset in a frame of UA, UB, UC (nph of them) */
    int i_ch[3];        /* offset of IA, IB, IC, positive downstream */
    double fs_hz;       /* sample rate */
    double f_hz;        /* power frequency (nominal or last measured) */
    double i_ref_a;     /* RMS current scale (rated or maximum demand); 0:
                           the pre-event current.  Sets the floor below
                           which current changes count as noise. */
    /* Window index of the event start as a Urms(1/2) detector reports it:
     * the start of the first one-cycle window beyond the threshold (the
     * IEC 61000-4-30 time stamp, pq/events.h: up to a cycle before the
     * inception) or the instant that window completed (up to a cycle
     * after).  The inception is searched in [start - 1.25, start + 1.25]
     * cycles.  Needs PQ_DIRECTION_PRE_CYCLES before it and
     * PQ_DIRECTION_POST_CYCLES from it in the window. */
    size_t start;
};

struct pq_direction_result {
    int direction;       /* enum pq_direction */
    double confidence;   /* |sum w_i s_i| / sum w_i, 0..1 */
    double weight_sum;   /* sum w_i */
    size_t inception;    /* window index of the first disturbed sample */
    int inception_found; /* 0: no step found, start was used */
    size_t end;          /* window index where the waveforms are back to
                            the pre-event ones (searched over 2 cycles);
                            in->n if the disturbance lasts.  Events that
                            end within 1.5 cycles get no phasor votes. */
    double f_hz;         /* frequency used, refined on the pre-event cycles */
    /* Fundamental, positive sequence (the phase itself for one phase),
     * RMS, the cycle before the inception and the cycle from half a cycle
     * after it. */
    double u_pre_v, u_post_v;
    double i_pre_a, i_post_a;
    double x_ohm;  /* X of -dU/dI, the companion of vote[PQ_DIR_RESISTANCE] */
    double lobe_j; /* energy of the lobe of the initial DP peak */
    struct pq_direction_vote vote[PQ_DIR_COUNT];
};

/* Analyse one event.  Returns 0 and fills *out, or -EINVAL (with *out
 * zeroed: unknown, confidence 0) when the input is unusable: nph not 1 or
 * 3, a channel offset outside the stride, fs below 64 samples per cycle,
 * f outside 40..70 Hz, fewer frames around start than the PRE/POST
 * cycles above, a ring smaller than the window, or a NaN or infinite
 * sample in a used channel (missing samples: not analysed).  A window
 * without a usable change gives PQ_DIRECTION_UNKNOWN with a weight sum
 * below PQ_DIRECTION_MIN_WEIGHT. */
int pq_direction_analyze(const struct pq_direction_in *in,
                         struct pq_direction_result *out);

/* "upstream", "downstream", "unknown": the event record's strings. */
const char *pq_direction_name(int direction);

/* "energy", "power_peak", "resistance", "real_current", "gradient",
 * "impedance"; "?" for an unknown index.  Never NULL. */
const char *pq_direction_indicator_name(int ind);

#endif
