/* comtrade_write.h - COMTRADE writer (IEEE C37.111-2013 = IEC 60255-24:2013,
 * and C37.111-1999 on request): the .cfg text and the .dat records.
 *
 * Pure: no file I/O.  Output goes through a sink callback (pq_ct_sink), one
 * call per staged block of at most PQ_CT_STAGE bytes; pq_ct_buf_sink() fills
 * a caller buffer.  Opening, naming and renaming files is the gateway's job
 * (gateway/capture_files.h).  A writer belongs to one thread; it allocates
 * at pq_ct_writer_new() only.  Text uses the C locale's decimal point (pqgate
 * never calls setlocale).
 *
 * What is written (reference section 9; clause numbers of C37.111-2013):
 *  - 7.4.2 station_name,rec_dev_id,rev_year
 *  - 7.4.3 TT,##A,##D
 *  - 7.4.4 An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS
 *  - 7.4.5 Dn,ch_id,ph,ccbm,y
 *  - 7.4.6 lf; 7.4.7 nrates = 1 and "samp,endsamp" (one rate, so every
 *    reader takes t = (n - 1) / samp; the .dat timestamps agree with it)
 *  - 7.4.8 start and trigger time, dd/mm/yyyy,hh:mm:ss.ssssss: 6 fraction
 *    digits, or 9 (ns base, 2013 only) when a time is not a whole
 *    microsecond or ns_base asks for it.  Written as recorded time = UTC +
 *    time_code (7.4.11).  1999 rounds both times to the microsecond.
 *  - 7.4.9 ft; 7.4.10 timemult
 *  - 2013 only: 7.4.11 time_code,local_code ("0", "+1", "-7h15", "+10h30")
 *    and 7.4.12 tmq_code,leapsec (one hex digit; 0..3)
 * Every line ends in CR LF.  .dat records (clause 8, reference 9.2): n from
 * 1, the timestamp round(k / samp / (base x timemult)) of sample k = n - 1,
 * the analog values, then ceil(nD / 16) status words (bit 0 of word 0 =
 * status channel 1), all little-endian; ASCII lines "n,ts,A1..,D1.." CR LF.
 *
 * Values: frames are floats in PRIMARY units (ratio applied).  With PS 'S'
 * the file holds secondary values: file = primary x secondary / primary_ratio
 * (the reader multiplies back).  Per format:
 *  - BINARY (int16), BINARY32 (int32), 1999 ASCII (integers): with a = 0 in
 *    the description the writer picks a and b from the range pq_ct_writer_scan()
 *    saw, [lo, hi] in file units: b = (lo + hi) / 2, a = (hi - lo) / (2 R)
 *    with R = 32767, 2147483647 or 99998 (legal raw range +-R: 0x8000,
 *    0x80000000 and 99999 stay free as missing-value marks).  raw =
 *    round((v - b) / a).  Error bound, primary units: a / 2 / gain (gain =
 *    secondary / primary for 'S', else 1), i.e. (hi - lo) / (4 R gain):
 *    1/131068 of the span for BINARY, 2.3e-10 for BINARY32.  a and b are
 *    printed with enough digits to read back as the same doubles, so the
 *    bound holds for any reader.  A value outside the scanned range is
 *    clamped to +-R and counted (pq_ct_writer_clipped()).  A constant
 *    channel gets a = 1, b = the value: raw 0, exact.
 *    min,max in the .cfg = -R,R.
 *  - FLOAT32 and 2013 ASCII (real numbers, clause 4.5): a = 1, b = 0 unless
 *    given; raw = (v x gain - b) / a as float32 (FLOAT32) or with 9
 *    significant digits (ASCII).  With PS 'P', a = 1 and b = 0, FLOAT32
 *    gives back every sample exactly (bound 0) and ASCII a double that
 *    rounds to the same float; otherwise the bound is one float rounding:
 *    2^-23 x (max|v x gain| + |b|) / gain.  min,max = the scanned raw
 *    range, rounded outwards to 7 digits (at most 13 characters).
 *    A real that would print as the ASCII missing mark 99999 is written as
 *    the next float up (99999.0078).
 * Missing values: NaN and +-infinity in the frames are written as missing:
 * BINARY 0x8000, BINARY32 0x80000000, FLOAT32 NaN, ASCII 99999 (never an
 * empty field: python-comtrade rejects those, reference 9.3).  The scan
 * ignores them.
 *
 * Limits (checked by pq_ct_writer_new, -PQ_ECONFIG with a message naming
 * the field): station, rec_dev_id, ch_id, ccbm <= 64 bytes, ph <= 2, uu <=
 * 32, none holding ',', CR or LF; 1 <= TT <= 999999; rate in 1e-6..1e12 Hz;
 * 1 <= nsamples <= 2^32 - 1 (binary n is uint32) or 9999999999 (ASCII);
 * BINARY32 and FLOAT32 need rev 2013; dates 1900..9999; |time_code|,
 * |local_code| < 24 h; tmq 0..15; leapsec 0..3; the last timestamp must fit
 * 0..2^32 - 2 (timemult 0 picks the smallest power of 10 that does).
 */
#ifndef PQGATE_COMTRADE_WRITE_H
#define PQGATE_COMTRADE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#define PQ_CT_STAGE 65536 /* bytes staged before a sink call */

/* Receives len bytes of output; returns 0 or a negative code, which the
 * writer returns from then on. */
typedef int (*pq_ct_sink)(void *ctx, const void *buf, size_t len);

/* A caller buffer as a sink: appends at p + len; when a block does not fit
 * in cap, nothing of it is written and -ENOSPC is returned. */
struct pq_ct_buf {
    uint8_t *p;
    size_t cap, len;
};

int pq_ct_buf_sink(void *ctx, const void *buf, size_t len);

struct pq_ct_analog_desc {
    const char *id;   /* ch_id (NULL: empty) */
    const char *ph;   /* "A", "B", "C", "N", ... (NULL: empty) */
    const char *ccbm; /* circuit component monitored (NULL: empty) */
    const char *unit; /* "V", "kV", "A", ... (NULL: empty) */
    double skew_us;
    double primary, secondary; /* PT/CT ratio factors, e.g. 20000 and 100;
                                  both 0: 1 and 1 */
    int ps;                    /* 'P' (or 0) or 'S': what a*x+b gives */
    double a, b;               /* a == 0: chosen by the writer (see above) */
};

struct pq_ct_status_desc {
    const char *id, *ph, *ccbm; /* NULL: empty */
    int y;                      /* normal state, 0 or 1 */
};

struct pq_ct_desc {
    const char *station, *device; /* station_name, rec_dev_id */
    int rev_year;                 /* 2013 (or 0) or 1999 */
    int format;                   /* enum pq_ct_format (pq/comtrade.h) */
    size_t n_analog;
    const struct pq_ct_analog_desc *analog;
    size_t n_status;
    const struct pq_ct_status_desc *status;
    double line_freq_hz; /* lf; 0: unknown */
    double rate_hz;      /* the one sample rate */
    uint64_t nsamples;   /* endsamp */
    int64_t start_ns;    /* UTC ns since the epoch of the first sample */
    int64_t trigger_ns;  /* UTC ns of the trigger */
    int time_code_min;   /* recorded time minus UTC, minutes (2013 line) */
    int local_code_min;  /* local time minus UTC, minutes */
    int tmq;             /* IEEE C37.118 time quality: 0 locked .. 15 failed */
    int leapsec;         /* 0 none, 1 added, 2 subtracted, 3 cannot tell */
    double timemult;     /* > 0, or 0: chosen */
    int ns_base;         /* nonzero: 9 fraction digits anyway (2013) */
};

/* What the writer chose for analog channel k. */
struct pq_ct_scale {
    double a, b;      /* as written in the .cfg */
    double min, max;  /* as written in the .cfg (raw units) */
    double gain;      /* file value = primary value x gain */
    double err_bound; /* |read back - written|, primary units, for values in
                         the scanned range (see above) */
};

struct pq_ct_writer; /* opaque */

/* Check d and make a writer for it.  d and its strings are borrowed until
 * pq_ct_writer_free().  Returns 0 and *out, -PQ_ECONFIG with a message in
 * err (NUL-terminated, at most errcap bytes; err may be NULL), or -ENOMEM.
 *   "analog channel 2 (IA): ph: at most 2 characters, got 'ABC'" */
int pq_ct_writer_new(const struct pq_ct_desc *d, struct pq_ct_writer **out, char *err,
                     size_t errcap);

void pq_ct_writer_free(struct pq_ct_writer *w); /* NULL: no-op */

/* Widen each analog channel's range with n frames (n x n_analog floats).
 * Call it over every frame before the first pq_ct_writer_cfg() or _dat();
 * later calls change nothing.  Without any scan, chosen scales are a = 1,
 * b = 0. */
void pq_ct_writer_scan(struct pq_ct_writer *w, const float *frames, size_t n);

/* Write the .cfg.  Fixes the scales.  Returns 0 or the sink's code. */
int pq_ct_writer_cfg(struct pq_ct_writer *w, pq_ct_sink sink, void *ctx);

/* Write the next n samples to the .dat: frames as above, status n x
 * ceil(n_status / 16) words (NULL: all 0).  Fixes the scales.  Samples past
 * nsamples are refused with -ERANGE (nothing written).  Returns 0 or the
 * sink's code (the writer is then failed and returns it again). */
int pq_ct_writer_dat(struct pq_ct_writer *w, const float *frames, const uint16_t *status,
                     size_t n, pq_ct_sink sink, void *ctx);

/* 0 when every announced sample has been written, else -ERANGE. */
int pq_ct_writer_finish(const struct pq_ct_writer *w);

/* Scale of analog channel k (fixed by now if _cfg or _dat ran).  Returns 0,
 * or -EINVAL for k out of range. */
int pq_ct_writer_scale(struct pq_ct_writer *w, size_t k, struct pq_ct_scale *out);

/* Values clamped to +-R so far (integer formats). */
uint64_t pq_ct_writer_clipped(const struct pq_ct_writer *w);

/* timemult in use (the given one or the chosen one). */
double pq_ct_writer_timemult(const struct pq_ct_writer *w);

/* Bytes per binary record: 8 + 2 or 4 per analog + 2 per 16 status
 * channels (reference 9.2); 0 for ASCII. */
size_t pq_ct_record_size(int format, size_t n_analog, size_t n_status);

/* Everything at once: scan all d->nsamples frames, write the .cfg to one
 * sink and the .dat to the other.  Returns 0, -PQ_ECONFIG (message in err),
 * -ENOMEM or a sink's code. */
int pq_ct_write(const struct pq_ct_desc *d, const float *frames, const uint16_t *status,
                pq_ct_sink cfg_sink, void *cfg_ctx, pq_ct_sink dat_sink, void *dat_ctx,
                char *err, size_t errcap);

#endif
