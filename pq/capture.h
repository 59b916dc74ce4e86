/* capture.h - waveform capture: a ring of the last frames of every channel
 * feeding captures triggered manually, by an event or by an alarm.
 *
 * A capture is pre_cycles nominal cycles before its trigger and post_cycles
 * from it, at spc samples per nominal cycle: the output rate is spc x
 * f_nom_hz exactly (800 .. 30720 Hz), whatever the source rate, which is
 * fixed and not locked to the mains.  Output sample k (0-based) is the
 * signal at trigger + (k - pre_cycles x spc) / rate: sample pre_cycles x spc
 * is the trigger instant itself, sample-exact.
 *
 * Resampling: every output sample is the band-limited signal at its instant,
 * computed from the source frames with a Kaiser-windowed sinc (16 zero
 * crossings each side, beta 8, table of 512 phases per crossing with linear
 * interpolation, weights normalised to a DC gain of exactly 1), cut off at
 * 0.85 of the lower Nyquist frequency (output's when decimating, source's
 * when interpolating).  Measured when decimating (the rates are the output
 * rate's): gain within 1e-4 up to 0.34 (the 5th harmonic at 16 samples per
 * cycle, the 174th at 512), -0.13 % at 0.36, -6 dB at 0.425; what would
 * alias is suppressed by 67 dB at 0.49, 80 dB from 0.51 and 100 dB from
 * 1.0.  A 50 Hz sine comes out within 5e-5 of its value at every
 * resolution, on or off the nominal frequency.  When the output grid
 * falls on the source frames (same rate, trigger on a frame) the frames are
 * copied unchanged.  Averaging was rejected: a 16-sample-per-cycle boxcar
 * alone loses 0.64 % of a 50 Hz fundamental.  Status words are taken from
 * the source frame nearest each output instant.
 *
 * Limits (the PM8000's range): spc one of 16, 32, 64, 128, 256, 512;
 * post_cycles >= 1; pre_cycles + post_cycles <= 2880 and spc x (pre + post)
 * <= 163840 samples per channel.  Both ends of the range fit
 * exactly: 512 x 320 = 163840 and 16 x 2880 = 46080 (so the limit is not
 * one sample count: 32 spc stops at 2880 cycles, 92160 samples).
 *
 * Memory and time: pq_capture_new() allocates everything: the ring (sized
 * from the largest pre-trigger need plus max_lag_s plus the filter's
 * reach), nbufs capture buffers (each for the largest format) and the
 * filter table.  pq_capture_feed() and the triggers allocate nothing, never
 * block and do bounded work: each capture behind real time (its pre-trigger
 * part is computed after the trigger) catches up at most `catchup` times
 * faster than the frames arrive, so a feed costs at most nbufs x catchup x
 * the real-time filtering of one capture.  The ring never drops a frame a
 * capture still needs: captures advance at least as fast as frames arrive.
 *
 * Ownership and threads: the capture engine belongs to the acquisition
 * thread: every function except pq_capture_release() is called from it.
 * A finished capture goes to the done callback, called from
 * pq_capture_feed() on that thread; the callee then OWNS the buffer (its
 * data stay valid and unchanged) until it calls pq_capture_release(), from
 * any thread, e.g. the file writer's: a lock-free hand-back (one C11
 * atomic per buffer), never a wait.  The callback must not block: it
 * should queue the pointer and return.  While every buffer is filling or
 * owned, triggers are refused (-PQ_EFULL) and counted; acquisition goes on.
 */
#ifndef PQGATE_CAPTURE_H
#define PQGATE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#define PQ_CAPTURE_MAX_SAMPLES 163840u /* per channel: 512 x 320 */
#define PQ_CAPTURE_MAX_CYCLES  2880u   /* 16 x 2880 */
#define PQ_CAPTURE_MAX_CH      64      /* analog channels per frame */
#define PQ_CAPTURE_MAX_STATUS  64      /* status channels per frame */
#define PQ_CAPTURE_MAX_BUFS    16
#define PQ_CAPTURE_MAX_FMTS    16

enum pq_capture_reason {
    PQ_CAPTURE_MANUAL, /* an operator or a command */
    PQ_CAPTURE_EVENT,  /* a PQ event (dip, swell, interruption, RVC) */
    PQ_CAPTURE_ALARM,  /* an alarm or logic output */
};

/* One capture format (a "waveform recorder" of the PM8000). */
struct pq_capture_fmt {
    unsigned spc;         /* samples per nominal cycle: 16 .. 512, a power of 2 */
    unsigned pre_cycles;  /* before the trigger */
    unsigned post_cycles; /* from the trigger on, >= 1 */
};

struct pq_capture_cfg {
    double fs_hz;    /* source frame rate, fixed, 100 .. 1e6 */
    double f_nom_hz; /* nominal frequency, 10 .. 1000 (50 or 60) */
    size_t nch;      /* analog channels per frame, 1 .. PQ_CAPTURE_MAX_CH */
    size_t nstatus;  /* status channels, 0 .. PQ_CAPTURE_MAX_STATUS */
    size_t nbufs;    /* capture buffers, 1 .. PQ_CAPTURE_MAX_BUFS */
    const struct pq_capture_fmt *fmts; /* the formats triggers may ask for */
    size_t nfmts;                      /* 1 .. PQ_CAPTURE_MAX_FMTS */
    double max_lag_s;                  /* how far before the newest frame a trigger may be
                                          placed (detector latency), 0 .. 10; 0: 1 s */
    unsigned catchup;                  /* catch-up speed, x real time, 2 .. 64; 0: 4 */
};

/* Why and under which clock a capture was triggered; copied into it. */
struct pq_capture_why {
    int reason;   /* enum pq_capture_reason */
    uint32_t tag; /* the caller's: event or alarm number */
    int tmq;      /* clock quality at the trigger (C37.118 code, 0 .. 15) */
};

/* A finished capture, as handed to the done callback. */
struct pq_capture_buf {
    uint64_t seq; /* 1, 2, ... in trigger order */
    size_t fmt;   /* index into cfg.fmts */
    struct pq_capture_why why;
    unsigned spc, pre_cycles, post_cycles;
    double rate_hz;         /* spc x f_nom_hz */
    double f_nom_hz;        /* COMTRADE lf */
    size_t nch, nstatus;    /* per frame */
    size_t nwords;          /* status words per frame: ceil(nstatus / 16) */
    size_t nsamples;        /* spc x (pre_cycles + post_cycles) */
    size_t trigger_index;   /* spc x pre_cycles: the sample at the trigger */
    int64_t trigger_ns;     /* UTC ns */
    int64_t start_ns;       /* UTC ns of sample 0 */
    const float *data;      /* nsamples x nch, in the units fed */
    const uint16_t *status; /* nsamples x nwords (bit 0 of word 0 = status
                               channel 1), or NULL when nstatus is 0 */
};

/* Called from pq_capture_feed() with a finished capture, which the callee
 * owns until pq_capture_release(). */
typedef void (*pq_capture_done_fn)(void *ctx, struct pq_capture_buf *buf);

struct pq_capture_stats {
    uint64_t frames;         /* fed so far */
    uint64_t triggered;      /* captures started */
    uint64_t completed;      /* handed to the callback */
    uint64_t refused_busy;   /* no free buffer (-PQ_EFULL) */
    uint64_t refused_nodata; /* pre-trigger data no longer (or not yet) in
                                the ring, or nothing fed yet (-ENODATA) */
    uint64_t refused_range;  /* trigger too far ahead or bad format (-ERANGE,
                                -EINVAL) */
    size_t filling, owned;   /* buffers now in each state */
};

struct pq_capture; /* opaque */

/* 0 when f is in the PM8000 range above, else -PQ_ECONFIG. */
int pq_capture_fmt_check(const struct pq_capture_fmt *f);

/* Check cfg and allocate everything.  cfg and fmts are copied.  done may
 * not be NULL.  Returns 0 and *out (pq_capture_free()), -PQ_ECONFIG or
 * -ENOMEM, with *out untouched on error. */
int pq_capture_new(const struct pq_capture_cfg *cfg, pq_capture_done_fn done, void *ctx,
                   struct pq_capture **out);

/* Free everything, buffers included: call it only once no one holds a
 * buffer any more (writer threads stopped).  NULL: no-op. */
void pq_capture_free(struct pq_capture *c);

/* Append n frames: frames[n x nch] (any units; NaN allowed), status[n x
 * nwords] or NULL (all 0).  t_ns: UTC ns of the first of them; it maps
 * trigger times to frames until the next feed.  Captures progress and
 * finished ones go to the callback before this returns.  n == 0 only lets
 * captures catch up (a source that paused).  Returns 0 or -EINVAL (NULL
 * frames with n > 0). */
int pq_capture_feed(struct pq_capture *c, const float *frames, const uint16_t *status,
                    size_t n, int64_t t_ns);

/* Start a capture of format fmt triggered at UTC t_ns (mapped to the
 * frames through the last feed's time).  why is copied (NULL: manual, tag
 * 0, tmq 15 = clock state unknown).  Returns 0 and the capture's seq in
 * *seq (may be NULL); -PQ_EFULL (no free buffer), -ENODATA (the
 * pre-trigger part is not in the ring: too old, before the first frame, or
 * nothing fed), -ERANGE (more than the ring's length ahead of the newest
 * frame), -EINVAL (fmt out of range).  Each refusal is counted. */
int pq_capture_trigger(struct pq_capture *c, size_t fmt, int64_t t_ns,
                       const struct pq_capture_why *why, uint64_t *seq);

/* The same at the instant of source frame `frame` (0 = the first frame
 * ever fed). */
int pq_capture_trigger_frame(struct pq_capture *c, size_t fmt, uint64_t frame,
                             const struct pq_capture_why *why, uint64_t *seq);

/* Give a finished buffer back; any thread.  buf must come from this
 * engine's callback and be released once. */
void pq_capture_release(struct pq_capture *c, struct pq_capture_buf *buf);

void pq_capture_stats(const struct pq_capture *c, struct pq_capture_stats *st);

/* Bytes pq_capture_new() allocates for cfg (0 if cfg is invalid). */
size_t pq_capture_memory(const struct pq_capture_cfg *cfg);

/* "manual", "event", "alarm" ("?" otherwise). */
const char *pq_capture_reason_name(int reason);

#endif
