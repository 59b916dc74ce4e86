/* mqtt.h - the daemon component "mqtt": forwards channels, aggregates,
 * events, alarms, energy and health to an MQTT broker through the durable
 * outbox (gateway/outbox.h).  Topics and payloads: docs/mqtt.md.
 *
 * Threads.  libmosquitto runs in a network thread of this component (its
 * own connect / mosquitto_loop() / back-off cycle); the callbacks there only
 * queue acknowledgements and link changes under a mutex and wake the main
 * loop through an eventfd.  Everything else (bus callbacks, building
 * messages, the outbox) runs on the main loop and never waits for the
 * network.
 */
#ifndef PQGATE_MQTT_H
#define PQGATE_MQTT_H

#include "gateway/daemon.h"

extern const struct gw_component mqtt_component;

#endif
