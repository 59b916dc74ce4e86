/* summary.h - a one-line log of the local meter's live values every
 * logging.summary (0: off): what `make demo` shows until the web page
 * exists, and a quick look at a running box in the journal. */
#ifndef PQGATE_SUMMARY_H
#define PQGATE_SUMMARY_H

#include "gateway/daemon.h"

extern const struct gw_component summary_component;

#endif
