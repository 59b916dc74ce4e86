/* adc.h - sample sources: where the metrology engine's frames come from.
 *
 * Backends, picked by meter.source: "sim" (generated waveforms, for the demo
 * and tests), "replay" (a COMTRADE recording) and "iio" (a Linux IIO buffered
 * ADC through libiio).  Each is configured by its own section of struct
 * meter_cfg (docs/config.md); adc_open() copies what it needs, so the config
 * may be freed or reloaded while the source is open.
 *
 * A source delivers frames: one float per channel, interleaved, in PRIMARY
 * engineering units (V, A) with PT/CT ratios and the device's scale already
 * applied.  Frame k of the stream was sampled at
 *
 *     info.start_ns + k * 1e9 / info.fs_hz        (UTC, ns)
 *
 * and frames are contiguous: no read skips or repeats one.  The rate is the
 * ADC's, not locked to the mains (25.6 kHz, 12.8 kHz, 128..512 samples per
 * nominal cycle all happen); the engine tracks the frequency itself.
 *
 * Lost frames.  When a real source finds that frames were lost (the kernel's
 * buffer overran), adc_read() returns -PQ_EFRAME with *n = 0: the stream
 * restarts.  The next read's first frame is frame 0 of a new segment, and
 * adc_info() then gives that segment's start_ns; the engine treats the gap
 * like a power-up (it flags the intervals it overlaps).  sim and replay never
 * lose frames.
 *
 * Missing values.  A replayed recording may lack a value (COMTRADE's
 * "missing data"): that sample is NaN.
 *
 * Threads: a source belongs to one thread (the acquisition thread); nothing
 * here locks.  Nothing is allocated after adc_open(); drivers return codes
 * and never log.
 */
#ifndef PQGATE_ADC_H
#define PQGATE_ADC_H

#include <stddef.h>
#include <stdint.h>

#define ADC_MAX_CH 8

/* What a channel measures.  Voltages are against the neutral for wye and
 * single and against the common reference of the meter's inputs for delta
 * (the engine forms line-to-line values); UN is neutral-to-earth. */
enum adc_role {
    ADC_UA,
    ADC_UB,
    ADC_UC,
    ADC_UN,
    ADC_IA,
    ADC_IB,
    ADC_IC,
    ADC_IN,
    ADC_OTHER,
};

struct adc_info {
    double fs_hz;              /* frames per second */
    size_t nch;                /* channels per frame, 1..ADC_MAX_CH */
    int role[ADC_MAX_CH];      /* enum adc_role, per channel */
    char name[ADC_MAX_CH][32]; /* "ua", "voltage0", a COMTRADE channel id */
    char unit[ADC_MAX_CH][8];  /* "V" or "A" */
    int64_t start_ns;          /* UTC time of frame 0 (of this segment) */
    int realtime;              /* 1: frames arrive at wall-clock pace */
};

struct adc;       /* opaque */
struct meter_cfg; /* config/config.h */

/* Open the source cfg->source names, configured by its section of cfg
 * (cfg->sim, cfg->replay or cfg->iio) and cfg's nominal values, wiring and
 * PT/CT ratios.  Returns 0 and the source in *out (release with
 * adc_close()), or a negative code with *out untouched and nothing left
 * open: -PQ_ECONFIG for source none or a setting the source cannot honour
 * (no such IIO device or channel, a recording without voltage or current
 * channels), -PQ_EFORMAT for a malformed recording, -ENOMEM, or -errno from
 * the system or libiio. */
int adc_open(const struct meter_cfg *cfg, struct adc **out);

/* The source's rate, channels and time origin; 0.  Constant from open to
 * close except start_ns, which changes after a read returned -PQ_EFRAME. */
int adc_info(const struct adc *a, struct adc_info *out);

/* Read up to cap frames (cap * info.nch floats) into buf; *n = frames read.
 * A realtime source returns those due so far, possibly 0 (poll adc_fd(), or
 * wait on a timer if it is -1); a fast one (sim with realtime false, replay
 * with pace fast) fills cap.  Returns 0; -PQ_EEOF with *n = 0 once a replay
 * without loop has delivered its last frame; -PQ_EFRAME with *n = 0 when
 * frames were lost (see above); or another negative code (the source is
 * then unusable: close it). */
int adc_read(struct adc *a, float *buf, size_t cap, size_t *n);

/* A descriptor that polls readable when frames are ready, or -1: then poll
 * on a timer (a few ms).  Owned by the source. */
int adc_fd(const struct adc *a);

void adc_close(struct adc *a); /* NULL is a no-op */

#endif
