/* report.h - an EN 50160 or IEEE 519 compliance report of one recording,
 * fed by `pqgate analyze --report` from the meter's callbacks and written
 * as one JSON document or one self-contained HTML page.
 *
 * The evaluation is pq/en50160.h's or pq/ieee519.h's, with their rules
 * unchanged; this module collects what they need, keeps what the plots
 * need (the 10-min voltages and harmonics, the events, the NEMA unbalance)
 * and writes the result.  The observation period is the recording's span,
 * from the 10-min UTC tick at or before its start (so its first, partial
 * 10-min value is counted as invalid rather than outside), to its end; a
 * period shorter than the standard's week is evaluated as it is and the
 * report says so, with the number of valid values of every parameter.
 *
 * Choices the standards leave open (docs/analyze.md, "Reports"):
 *   - EN 50160 flicker (Plt, 2 h) is evaluated only when the period holds a
 *     whole 2-h UTC slot; otherwise it is "not evaluated" and the report
 *     gives the largest Pst instead.  Mains signalling is not measured.
 *   - The harmonic bars show, per order, the largest over the phases of
 *     the nearest-rank 95th percentile of the valid 10-min values (EN
 *     50160; the same rule as its share rule) or IEEE 519's weekly 95th.
 *   - NEMA MG-1 unbalance: the largest over the valid 10-min values, and
 *     the derating factor at it.
 *   - Periods longer than the standard's limit (IEEE 519: a week, EN
 *     50160: 366 days) are evaluated over their first part only.
 *
 * Memory: report_new() allocates the evaluator; feeding grows the kept
 * 10-min values (a week: about 1 MB) and the event list (at most
 * REPORT_MAX_EVENTS; later events are counted, still graded by EN 50160's
 * tables, but not listed).  A report belongs to one thread.
 */
#ifndef PQGATE_REPORT_H
#define PQGATE_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pq/events.h"
#include "pq/record.h"

#define REPORT_MAX_EVENTS 10000 /* listed and plotted; the rest are counted */

enum report_kind {
    REPORT_EN50160,
    REPORT_IEEE519,
};

enum report_format {
    REPORT_JSON,
    REPORT_HTML,
};

struct report_cfg {
    int kind; /* enum report_kind */

    /* the recording: shown in the report, escaped; may be NULL */
    const char *file;
    const char *station;
    const char *device;
    int64_t start_ns, end_ns; /* its span, UTC ns since the epoch */

    /* the meter's settings */
    double udin_v;    /* nominal voltage: L-N, or L-L when line_to_line */
    int line_to_line; /* delta: voltages are compared line to line */
    int nph;          /* 1 or 3 */
    double f_nom_hz;  /* 50 or 60 */
    int has_current;  /* current channels exist (IEEE 519 currents) */

    /* EN 50160 */
    int mv;     /* MV (clause 5, Uc = udin_v) instead of LV (clause 4, Un) */
    int island; /* no synchronous connection to an interconnected system */

    /* IEEE 519 */
    int edition;  /* 2014 or 2022 */
    double bus_v; /* nominal L-L voltage at the PCC (Table 1) */
    double isc_a; /* short-circuit current at the PCC */
    double il_a;  /* maximum demand load current; 0: currents not evaluated */
};

struct report;

/* Set a report up for cfg.  Returns 0 and the report in *out (release
 * with report_free()), -EINVAL with the reason in why (NUL-terminated, at
 * most cap bytes) for settings the evaluator refuses (IEEE 519: il_a > 0
 * without isc_a; a span that is empty or reversed), or -ENOMEM. */
int report_new(const struct report_cfg *cfg, struct report **out, char *why, size_t cap);

void report_free(struct report *r); /* NULL is a no-op */

/* One interval record of any level, as the meter emits it: the 10-min and
 * 3-s ones are used, the others ignored.  Memory errors while keeping a
 * value are remembered and make the writers fail. */
void report_interval(struct report *r, const struct pq_interval *iv);

/* One 10-s frequency value (IEC 61000-4-30 5.1); flags enum pq_rec_flag. */
void report_freq10s(struct report *r, int64_t start_ns, double f_hz, unsigned flags);

/* One set of Pst (10 min) or Plt (2 h) values, nph of them. */
void report_pst(struct report *r, const double pst[3], int nph, unsigned flags);
void report_plt(struct report *r, int64_t start_ns, const double plt[3], int nph,
                unsigned flags);

/* One complete voltage event (dip, swell, interruption, RVC). */
void report_event(struct report *r, const struct pq_event *ev);

/* Write the report.  JSON: one document (format in docs/analyze.md).
 * HTML: one self-contained page (inline CSS and SVG; no script, font or
 * URL), every text from the recording escaped.  Returns 0, or -ENOMEM
 * (a value could not be kept) or -EIO (the stream failed). */
int report_write_json(const struct report *r, FILE *f);
int report_write_html(const struct report *r, FILE *f);

#endif
