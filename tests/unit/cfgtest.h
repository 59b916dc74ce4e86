/* cfgtest.h - loading config text in unit tests and checking its errors. */
#ifndef PQGATE_CFGTEST_H
#define PQGATE_CFGTEST_H

#include <stddef.h>

#include "config/config.h"

/* Load text as the daemon's config file "t.yaml" (with --set overrides).
 * *cfg is the config or NULL; diag holds every error (cfg_diag_fini() it). */
int cfgtest_load(const char *text, struct pqgate_cfg **cfg, struct cfg_diag *diag);
int cfgtest_load_sets(const char *text, const char *const *sets, size_t nsets,
                      struct pqgate_cfg **cfg, struct cfg_diag *diag);

/* Load text that must be valid: the config, or the test fails with every
 * message printed. */
struct pqgate_cfg *cfgtest_load_ok(const char *text);

/* Fail the test unless diag holds exactly the message want (every message
 * it does hold is printed). */
void cfgtest_assert_error(const struct cfg_diag *d, const char *want);

#endif
