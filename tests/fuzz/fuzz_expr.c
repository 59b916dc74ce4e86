/* fuzz_expr.c - libFuzzer target for the expression compiler and its
 * stack machine.
 *
 * The input is an expression.  Compilation must succeed or fail with a
 * column inside the input (or just past it) and a message, never crash,
 * leak or hang; a compiled program is then evaluated on a few sets of
 * inputs (including NaN and infinities), which must not touch memory
 * outside the program.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/expr.h"
#include "pq/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const double samples[] = {0.0, 1.0, -2.5, 1e300, NAN, INFINITY};
    struct expr *e = NULL;
    struct expr_error err;
    struct expr_value refs[EXPR_MAX_REFS], out;
    int rc = expr_compile((const char *) data, size, &e, &err);

    if (rc < 0) {
        if (rc == -PQ_ECONFIG && (err.col < 1 || (size_t) err.col > size + 1) &&
            size <= EXPR_MAX_LEN) {
            abort(); /* an error must point into the expression */
        }
        return 0;
    }
    if (expr_depth(e) < 1 || expr_nrefs(e) > EXPR_MAX_REFS) {
        abort();
    }
    for (size_t k = 0; k < sizeof(samples) / sizeof(samples[0]); k++) {
        for (size_t i = 0; i < expr_nrefs(e); i++) {
            refs[i] = (struct expr_value){samples[(k + i) % 6], (int64_t) k * 1000000,
                                          (uint32_t) i & 0xf};
        }
        expr_eval(e, refs, (int64_t) k * 1000000, &out);
    }
    expr_free(e);
    return 0;
}
