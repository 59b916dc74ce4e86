/* comtrade.h - COMTRADE recordings (IEEE C37.111-1991, -1999, -2013 =
 * IEC 60255-24:2013) parsed from memory.
 *
 * A pure parser: it takes the .cfg text and the .dat bytes (or one 2013
 * .cff) as buffers and returns one heap object holding the configuration,
 * the time of every sample and every sample as a PRIMARY value.  Opening
 * files is drivers/adc/comtrade_load.h's job.  Nothing here keeps state
 * between calls; the functions are reentrant.
 *
 * Accepted: revisions 1991 (mm/dd/yy dates, no timemult), 1999 and 2013;
 * data ASCII, BINARY (int16), BINARY32 (int32) and FLOAT32, little-endian;
 * CR/LF, LF or CR line ends; blanks around fields; a trailing SUB (0x1A)
 * and a UTF-8 byte order mark; .cfg text in UTF-8 or, when it is not valid
 * UTF-8, ISO 8859-1 (converted, so every name here is valid UTF-8).
 */
#ifndef PQGATE_COMTRADE_H
#define PQGATE_COMTRADE_H

#include <stddef.h>
#include <stdint.h>

#define PQ_CT_NAME_MAX     65     /* 64 bytes of UTF-8 and the NUL */
#define PQ_CT_MAX_CHANNELS 999999 /* C37.111-2013 7.4: TT <= 999999 */
#define PQ_CT_MAX_RATES    999    /* C37.111-2013 7.4: nrates <= 999 */

enum pq_ct_format { PQ_CT_ASCII, PQ_CT_BINARY, PQ_CT_BINARY32, PQ_CT_FLOAT32 };

struct pq_ct_analog {
    char id[PQ_CT_NAME_MAX]; /* ch_id, as UTF-8 (ISO 8859-1 files converted) */
    char ph[PQ_CT_NAME_MAX]; /* phase field as written */
    char ccbm[PQ_CT_NAME_MAX];
    char unit[PQ_CT_NAME_MAX]; /* as written: "V", "kV", "A", "kA", ... */
    double a, b, skew_s, min, max, primary, secondary;
    int ps; /* 'P' or 'S': what a*x+b gives */
};

struct pq_ct_rate {
    double rate_hz;
    uint64_t end_sample; /* last sample number (1-based) at this rate */
};

struct pq_comtrade {
    char station[PQ_CT_NAME_MAX], device[PQ_CT_NAME_MAX];
    int rev_year; /* 1991, 1999 or 2013 */
    size_t n_analog, n_status;
    struct pq_ct_analog *analog;
    char (*status_id)[PQ_CT_NAME_MAX];
    double line_freq_hz; /* 0 when the file says 0 (unknown) */
    size_t nrates;
    struct pq_ct_rate *rates; /* nrates == 0: timestamps only */
    /* UTC ns since the epoch (time_code applied: recorded time minus the
     * time_code offset) */
    int64_t start_ns, trigger_ns;
    int time_code_min, local_code_min; /* 2013: offsets in minutes, 0 if absent */
    int tmq, leapsec;                  /* 2013: -1 if absent */
    int format;                        /* enum pq_ct_format */
    double timemult;                   /* 1 in 1991 files */
    size_t nsamples;
    /* nsamples: time of each sample after start_ns, seconds (from the
     * rates, or from the .dat timestamps x timemult x base when
     * nrates == 0) */
    double *t_s;
    /* nsamples x n_analog row-major: PRIMARY values (a*x+b, times
     * primary/secondary when ps is 'S'); NaN for missing values.  NULL
     * when n_analog is 0. */
    double *data;
    /* nsamples x pq_comtrade_status_words() words, bit 0 of word 0 =
     * status channel 1; unused high bits are 0.  NULL when n_status is 0. */
    uint16_t *status;
};

/* Parse a .cfg text and its .dat bytes.  name is used in errors (e.g. the
 * .cfg path; the .dat is named after it with the extension "dat" in the
 * same letter case).  Returns 0 and *out (free with pq_comtrade_free), or
 * -PQ_EFORMAT with a message in err (NUL-terminated, at most errcap bytes,
 * err may be NULL) naming the file, the line and the field:
 *   "rec.cfg:3: analog channel 1, field 'a' (multiplier): expected a number, got 'x'"
 *   "rec.dat: sample 17: ..." (binary), "rec.dat:17: ..." (ASCII).
 * -ENOMEM possible.  *out is untouched on error.  Never crashes or reads
 * out of bounds on any input.  Memory taken is bounded by a small multiple
 * of cfg_len + dat_len.
 *
 * The .dat must hold exactly the samples the .cfg announces (the last
 * endsamp); binary data is rejected with the byte offset of the first
 * incomplete or surplus record.  Missing values become NaN: ASCII 99999
 * (every revision) or an empty field, BINARY 0x8000, BINARY32 0x80000000,
 * a FLOAT32 NaN. */
int pq_comtrade_parse(const char *name, const uint8_t *cfg, size_t cfg_len,
                      const uint8_t *dat, size_t dat_len, struct pq_comtrade **out,
                      char *err, size_t errcap);

/* The same with the name of each file given (cfg_name for the .cfg's
 * errors, dat_name for the .dat's). */
int pq_comtrade_parse_named(const char *cfg_name, const char *dat_name,
                            const uint8_t *cfg, size_t cfg_len, const uint8_t *dat,
                            size_t dat_len, struct pq_comtrade **out, char *err,
                            size_t errcap);

/* Parse a 2013 single-file .cff (C37.111-2013 combined format): sections
 * introduced by "--- file type: CFG ---", INF, HDR, "DAT ASCII" or
 * "DAT BINARY: <bytes>" (also BINARY32, FLOAT32).  INF and HDR are
 * skipped.  Errors as above, with line numbers of the .cff and byte offsets
 * from its start.  Same return values and ownership. */
int pq_comtrade_parse_cff(const char *name, const uint8_t *buf, size_t len,
                          struct pq_comtrade **out, char *err, size_t errcap);

void pq_comtrade_free(struct pq_comtrade *ct); /* NULL: no-op */

/* Sample rate of sample index i (0-based; the rate of its segment), or 0
 * when timestamps only or i >= nsamples. */
double pq_comtrade_rate_at(const struct pq_comtrade *ct, size_t i);

/* Words of status per sample: ceil(n_status / 16). */
size_t pq_comtrade_status_words(const struct pq_comtrade *ct);

/* State (0 or 1) of status channel ch (0-based) at sample i; both must be
 * in range. */
int pq_comtrade_status_bit(const struct pq_comtrade *ct, size_t i, size_t ch);

/* "ASCII", "BINARY", "BINARY32", "FLOAT32" ("?" for anything else). */
const char *pq_comtrade_format_name(int format);

#endif
