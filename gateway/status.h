/* status.h - the gateway's own health as channels: uptime, config
 * generation and channel-bus counters, published every second under
 * "gateway/", and a summary in the log every minute. */
#ifndef PQGATE_STATUS_H
#define PQGATE_STATUS_H

#include "gateway/daemon.h"

extern const struct gw_component status_component;

#endif
