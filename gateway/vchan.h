/* vchan.h - virtual channels (daemon component "vchan"): channels computed
 * from other channels by the expressions of the config's `virtual:`.
 *
 * Each expression is compiled once at start (config/expr.h) and its output
 * channel registered with the configured unit.  Its inputs are bus
 * subscriptions by exact name, so an input may be registered later (or be
 * another virtual channel).  interval: on_change evaluates and publishes on
 * every update of any input; a period evaluates on a loop timer.  The
 * result carries the newest time stamp of its inputs (the wall clock when
 * it has none) and the OR of their quality bits.  Main loop only; no
 * allocation after start.
 */
#ifndef PQGATE_VCHAN_H
#define PQGATE_VCHAN_H

#include <stddef.h>

#include "gateway/daemon.h"

struct vchans; /* opaque */
struct bus;
struct loop;
struct pqgate_cfg;

/* The virtual channels of cfg on bus; loop (NULL in tests: interval
 * channels are then evaluated only by vchans_eval()).  cfg must outlive
 * them.  Returns 0 and *out, or a negative code (logged). */
int vchans_new(const struct pqgate_cfg *cfg, struct bus *bus, struct loop *loop,
               struct vchans **out);
void vchans_free(struct vchans *v); /* NULL is a no-op */

/* Evaluate virtual channel idx (config order) now and publish it. */
void vchans_eval(struct vchans *v, size_t idx);

extern const struct gw_component vchan_component;

#endif
