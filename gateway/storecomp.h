/* storecomp.h - the daemon component "store": opens the onboard store from
 * the config's `store:` section and sets gw->store for the components that
 * start after it, opens the event and security log on it (with the
 * `security_log:` section), and writes power_up at the first start,
 * config_change at each start after a reload, and shutdown at the last stop.
 *
 * The file's directory must exist (the package's systemd unit creates
 * /var/lib/pqgate with StateDirectory=).  A store that does not open (no
 * such directory, not writable, a file that is not a database or fails its
 * check) is logged at LOG_CRIT and the gateway runs without it (gw->store
 * NULL): metering, Modbus and MQTT go on, and the event log still reaches
 * the process log and syslog. */
#ifndef PQGATE_STORECOMP_H
#define PQGATE_STORECOMP_H

#include "gateway/daemon.h"

extern const struct gw_component store_component;

#endif
