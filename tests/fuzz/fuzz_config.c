/* fuzz_config.c - libFuzzer target for the YAML config loader.
 *
 * The input is a config file; a NUL byte, if any, splits off --set
 * overrides (one per line) to fuzz the override path too.  The loader must
 * return 0 or an error with messages, never crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/schema.h"

#define MAX_SETS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t cfg_len = nul ? (size_t) (nul - data) : size;
    char *sets_text = NULL;
    const char *sets[MAX_SETS];
    size_t nsets = 0;
    struct cfg_diag diag;
    void *obj = NULL;

    if (nul) {
        size_t n = size - cfg_len - 1;
        char *save = NULL;

        sets_text = malloc(n + 1);
        if (!sets_text) {
            return 0;
        }
        memcpy(sets_text, nul + 1, n);
        sets_text[n] = '\0';
        for (char *t = strtok_r(sets_text, "\n", &save); t && nsets < MAX_SETS;
             t = strtok_r(NULL, "\n", &save)) {
            sets[nsets++] = t;
        }
    }
    cfg_diag_init(&diag);
    if (cfg_load(&pqgate_schema, "fuzz.yaml", data, cfg_len, sets, nsets, &obj, &diag) ==
        0) {
        cfg_free(&pqgate_schema, obj);
    }
    cfg_diag_fini(&diag);
    free(sets_text);
    return 0;
}
