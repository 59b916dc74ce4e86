/* metrology.h - the local meter component: sample source -> meter ->
 * channels "local/..." (names in gateway/metrology.c). */
#ifndef PQGATE_METROLOGY_H
#define PQGATE_METROLOGY_H

#include "gateway/daemon.h"

extern const struct gw_component metrology_component;

#endif
