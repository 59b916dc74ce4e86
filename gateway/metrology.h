/* metrology.h - the local meter component: sample source -> meter ->
 * channels "local/..." (names in gateway/metrology.c), and its event and
 * 10-min and 2-h interval records as JSON on the record channel
 * (gateway/records.h: types "event" and "interval"). */
#ifndef PQGATE_METROLOGY_H
#define PQGATE_METROLOGY_H

#include "gateway/daemon.h"

/* Bytes of the largest record the local meter posts: a 10-min or 2-h
 * interval record of three phases with its per-harmonic arrays.  Measured
 * with pq_interval_json(): 7.1 kB for a simulated 230 V 60 A feeder, 15.9 kB
 * with every value at 7 integer digits and all its decimals (an event
 * record: about 430 bytes).  A record that would need more is not posted
 * (logged).  The daemon's record ring holds several. */
#define METROLOGY_RECORD_MAX (32 * 1024)

extern const struct gw_component metrology_component;

#endif
