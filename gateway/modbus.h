/* modbus.h - the daemon component "modbus": the downstream fleet on the
 * channel bus.
 *
 * For every serial bus and TCP peer of the config it starts one master port
 * (drivers/modbus/mb_port.h) with the bus's or peer's devices; each device
 * reads the register map of its profile (config/profiles/, planned by
 * mb_plan()), and every point of the profile becomes a channel
 * "<bus>.<device>/<channel>" with the profile's unit.  Values are published
 * with the time of the read that carried them and a quality:
 *
 *   0                                  good
 *   BUS_Q_STALE                        the read failed; the last good value
 *                                      again, with the time it was read
 *   BUS_Q_INVALID | BUS_Q_STALE        the read failed and there never was a
 *                                      good value: NaN
 *   BUS_Q_INVALID                      the device says "not implemented": NaN
 *   BUS_Q_SUBSTITUTED                  an energy counter decreased (reset,
 *                                      meter exchange, glitch): the
 *                                      continuous total, not the reading
 *
 * Per device also "<bus>.<device>/health/state" (0 unknown, 1 up, 2 down),
 * ".../health/requests", ".../health/errors", ".../health/latency_ms" and
 * ".../health/last_good_age_s", once a second.  Devices lost and back,
 * failing reads (with their register) and counter events go to the log.
 */
#ifndef PQGATE_GW_MODBUS_H
#define PQGATE_GW_MODBUS_H

#include <stddef.h>

#include "gateway/daemon.h"

struct mb_port;

extern const struct gw_component modbus_component;

/* The serial gateway path (gateway/mbserver.c): the port of the serial bus
 * that hosts unit id unit, and in *dev_index (may be NULL) the device's
 * index on that port (for mb_port_health()).  NULL when no serial bus has
 * that unit id (TCP peers are never routed), or when the component is not
 * running.  When two buses have the same unit id, the first bus in the
 * config wins.
 *
 * Threads and lifetime: any thread.  The routing table is read-mostly: it is
 * filled when the component has started all its ports and emptied, under
 * the same lock, before it stops them; the returned port stays valid until
 * the modbus component stops.  A component listed after "modbus" in the
 * daemon's table is stopped before it, so within its own start..stop it may
 * keep the pointer; anyone else must look it up again per request. */
struct mb_port *gw_modbus_route(int unit, int *dev_index);

/* The ports the component runs now, in config order (serial buses first,
 * then TCP peers): up to cap names and ports into names/ports (either may be
 * NULL).  Returns how many there are.  Same threads and lifetime as
 * gw_modbus_route(); names are borrowed from the config. */
size_t gw_modbus_ports(const char **names, struct mb_port **ports, size_t cap);

#endif
