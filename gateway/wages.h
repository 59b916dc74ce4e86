/* wages.h - digital inputs and outputs, metered utilities (WAGES: water,
 * air, gas, electricity, steam) and KY pulse outputs in the daemon.
 *
 * Channels (docs/wages.md):
 *   io/<input>/state, io/<output>/state       0/1
 *   io/<output>/set                           a command: publish 0/1 to drive it
 *   wages.<meter>/<quantity>_<unit>           the total (volume_m3, mass_kg, energy_kwh)
 *   wages.<meter>/flow_<unit>_per_h           the flow
 *   wages.<meter>/pulses                      pulses counted since start
 * Totals of pulse inputs survive restarts (onboard store, key
 * "wages.<meter>.total"); a meter read through a channel (a Modbus
 * counter) takes its total from that channel.
 */
#ifndef PQGATE_WAGES_H
#define PQGATE_WAGES_H

#include "gateway/daemon.h"

extern const struct gw_component wages_component;

/* The channel suffix of a meter's total: "volume_m3", "energy_kwh"...;
 * kind is enum wages_kind_cfg, unit as configured.  Writes at most cap
 * bytes to out. */
void wages_total_name(int kind, const char *unit, char *out, size_t cap);

#endif
