/* cfgtest.c - config text in unit tests (cfgtest.h). */
#include "tests/unit/cfgtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

int cfgtest_load_sets(const char *text, const char *const *sets, size_t nsets,
                      struct pqgate_cfg **cfg, struct cfg_diag *diag)
{
    void *obj = NULL;
    int rc;

    cfg_diag_init(diag);
    rc = cfg_load(&pqgate_schema, "t.yaml", (const uint8_t *) text, strlen(text), sets,
                  nsets, &obj, diag);
    *cfg = obj;
    return rc;
}

int cfgtest_load(const char *text, struct pqgate_cfg **cfg, struct cfg_diag *diag)
{
    return cfgtest_load_sets(text, NULL, 0, cfg, diag);
}

struct pqgate_cfg *cfgtest_load_ok(const char *text)
{
    struct pqgate_cfg *cfg;
    struct cfg_diag diag;
    int rc = cfgtest_load(text, &cfg, &diag);

    for (size_t i = 0; i < diag.n; i++) {
        print_message("  config: %s\n", diag.msgs[i]);
    }
    cfg_diag_fini(&diag);
    assert_int_equal(rc, 0);
    return cfg;
}

void cfgtest_assert_error(const struct cfg_diag *d, const char *want)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->msgs[i], want) == 0) {
            return;
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        print_message("  have: %s\n", d->msgs[i]);
    }
    fail_msg("missing error: %s", want);
}
