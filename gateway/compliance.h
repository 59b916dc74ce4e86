/* compliance.h - EN 50160 and IEEE 519 evaluated continuously on the live
 * meter.
 *
 * EN 50160: the observation period (a week) slides: after every 10-min
 * value the last 7 days of inputs, kept compactly (about 1.7 MB), are
 * replayed into a fresh evaluation and published: local/en50160/<parameter>
 * is 1 (pass), 0 (fail) or invalid (no valid value yet),
 * local/en50160/verdict the whole.
 *
 * IEEE 519: its daily statistics of 3-s values cannot be replayed cheaply
 * (every 3-s value of a week), so it is evaluated over the calendar week
 * (from Monday 00:00 UTC) and starts afresh each week; the week's verdict
 * is logged when it ends.
 *
 * Everything runs in the acquisition thread, fed by the meter's
 * callbacks. */
#ifndef PQGATE_COMPLIANCE_H
#define PQGATE_COMPLIANCE_H

#include <stdint.h>

struct bus;
struct compliance_cfg;
struct pq_event;
struct pq_interval;
struct gw_en50160;

/* udin_v: Un (L-N, or L-L with line_to_line); nph 1 or 3. */
int gw_en50160_new(const struct compliance_cfg *cc, struct bus *bus, double udin_v,
                   int line_to_line, int nph, double f_nom_hz, int has_flicker,
                   struct gw_en50160 **out);
void gw_en50160_free(struct gw_en50160 *c); /* NULL: no-op */

void gw_en50160_interval(struct gw_en50160 *c, const struct pq_interval *r); /* 10-min */
void gw_en50160_freq(struct gw_en50160 *c, int64_t start_ns, unsigned flags, double f_hz);
void gw_en50160_plt(struct gw_en50160 *c, int64_t start_ns, unsigned flags,
                    const double plt[3]);
void gw_en50160_event(struct gw_en50160 *c, const struct pq_event *ev);

/* IEEE 519 over the week: weekly 95th/99th percentiles of the 10-min
 * values and daily 99th of the 3-s values; local/ieee519/verdict,
 * local/ieee519/voltage/<ph>, local/ieee519/current/<ph>.  bus_v: nominal
 * L-L voltage at the PCC; il_a: maximum demand current (0: voltage only). */
struct gw_ieee519;

int gw_ieee519_new(const struct compliance_cfg *cc, struct bus *bus, double bus_v,
                   double il_a, int nph, struct gw_ieee519 **out);
void gw_ieee519_free(struct gw_ieee519 *c); /* NULL: no-op */
void gw_ieee519_interval(struct gw_ieee519 *c,
                         const struct pq_interval *r); /* 3 s, 10 min */

#endif
