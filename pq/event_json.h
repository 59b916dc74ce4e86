/* event_json.h - an event as the JSON record of DESIGN.md's contract:
 * {"type":"event","kind":"dip","start":...,"duration_s":0.1,"phases":["A"],
 *  "residual_v":115.0,"residual_pct":50.0,"max_v":null,"max_pct":null,
 *  "itic":"no-damage","semi_f47":"pass","direction":"unknown",
 *  "confidence":0, then "end", "en50160" and the RVC values}.
 * Pure: formats into a caller buffer. */
#ifndef PQGATE_EVENT_JSON_H
#define PQGATE_EVENT_JSON_H

#include <stddef.h>

#include "pq/events.h"
#include "pq/meter.h"

/* delta: name the phases AB, BC, CA.  The direction and its confidence
 * come from ev (pq/direction.h names).  Returns the length the whole text
 * needs (as snprintf). */
size_t pq_event_json(char *buf, size_t cap, const struct pq_event *ev, int delta);

/* The RMS burst of an event:
 * {"type":"rms_burst","kind":"dip","event_start":...,"t_s":[offsets of the
 *  window ends from event_start],"u_rms_v":[[A...],[B...],[C...]],
 *  "u_ll_rms_v":[...],"i_rms_a":[[A...],...,[N...]]}.
 * A requested burst (PQ_BURST_REQUESTED) has "kind":"request","tag":N,
 * and event_start is the requested time.  Returns the length the whole text needs (as
 * snprintf). */
size_t pq_burst_json(char *buf, size_t cap, const struct pq_burst *b);

#endif
