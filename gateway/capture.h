/* capture.h - waveform captures in the daemon: the ring of every channel
 * (pq/capture.h) fed by the acquisition thread, triggers on events, and a
 * writer thread that turns finished captures into COMTRADE 2013 files and
 * applies the retention.  A capture never blocks acquisition: writing
 * happens on its own thread, and a trigger with no free buffer is refused
 * and counted. */
#ifndef PQGATE_GW_CAPTURE_H
#define PQGATE_GW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct adc_info;
struct capture_cfg;
struct gw_capture;

/* Start the ring and the writer thread for a source described by info;
 * station names the recordings (the gateway id).  0 or a negative code
 * (logged). */
int gw_capture_new(const struct capture_cfg *cc, const struct adc_info *info,
                   double f_nominal_hz, const char *station, struct gw_capture **out);

/* Acquisition thread: n frames, the first at t_ns. */
void gw_capture_feed(struct gw_capture *c, const float *frames, size_t n, int64_t t_ns);

/* Name the alarm captures: a capture with reason PQ_CAPTURE_ALARM and tag
 * k (1..n) is written as "<time>_alarm_<names[k-1]>_<seq>" (other tags:
 * "<time>_alarm_<seq>").  The names are copied.  Call it before the first
 * trigger (before the acquisition thread starts).  0 or -ENOMEM. */
int gw_capture_set_alarm_names(struct gw_capture *c, const char *const *names, size_t n);

/* Acquisition thread: capture around t_ns (reason: enum pq_capture_reason,
 * tag: the event's number, or the alarm's index + 1).  0, or a negative
 * code when refused. */
int gw_capture_trigger(struct gw_capture *c, int64_t t_ns, int reason, uint32_t tag);

/* Acquisition thread: store text (an event's RMS burst as JSON) as
 * dir/name, written by the writer thread.  The text is copied (events are
 * rare: this is not the per-sample path).  0, -ENOMEM, or -PQ_EFULL when
 * the writer is behind by more than a few files. */
int gw_capture_save_text(struct gw_capture *c, const char *name, const char *text);

/* Stop the writer (finishing the captures handed to it) and free. */
void gw_capture_free(struct gw_capture *c); /* NULL: no-op */

#endif
