/* fuzz_profile.c - libFuzzer target for the device profile loader.
 *
 * The input is a profile file.  The loader must return 0 or an error with
 * messages, never crash, leak or hang; a profile it accepts must also plan
 * and decode without reading outside the registers its plan asks for
 * (every read's buffer is exactly its count, so ASan catches an overrun). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/profile.h"
#include "config/schema.h"
#include "drivers/modbus/mb_profile.h"

#define MAX_READS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct mb_profile *prof)
{
    struct mb_read reads[MAX_READS];
    struct mb_read_result res[MAX_READS];
    int n = mb_plan(prof, reads, MAX_READS);

    if (n <= 0 || n > MAX_READS) {
        return;
    }
    memset(res, 0, sizeof(res));
    for (int i = 0; i < n; i++) {
        uint16_t *regs = malloc(reads[i].count * sizeof(*regs));
        uint8_t *bits = malloc(reads[i].count);

        if (regs && bits) {
            memset(regs, 0x5A, reads[i].count * sizeof(*regs));
            memset(bits, 1, reads[i].count);
        }
        res[i].read = &reads[i];
        res[i].regs = regs;
        res[i].bits = bits;
    }
    for (size_t i = 0; i < prof->npoints; i++) {
        struct mb_counter c = {0};
        struct mb_sample s;
        char text[64];

        if (prof->points[i].type == MB_T_STRING) {
            mb_point_string(&prof->points[i], res, (size_t) n, text, sizeof(text));
        } else {
            mb_point_sample(&prof->points[i], &c, res, (size_t) n, &s);
        }
    }
    for (int i = 0; i < n; i++) {
        free((void *) res[i].regs);
        free((void *) res[i].bits);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mb_profile *prof = NULL;
    struct cfg_diag diag;

    cfg_diag_init(&diag);
    if (cfg_profile_parse("fuzz.yaml", (const char *) data, size, &prof, &diag) == 0) {
        exercise(prof);
        mb_profile_free(prof);
    }
    cfg_diag_fini(&diag);
    return 0;
}
