/* fuzz_comtrade.c - libFuzzer target for the COMTRADE parser.
 *
 * The input is a .cfg and a .dat separated by the first "\n--DAT--\n" (or
 * cut in half without one), and also a whole .cff.  Each part is copied to
 * a buffer of its exact size so ASan sees any read past it.  A parse that
 * succeeds is walked end to end and checked for the header's promises.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. pq/comtrade.c pq/err.c \
 *       tests/fuzz/fuzz_comtrade.c -lm -o fuzz_comtrade
 *   ./fuzz_comtrade tests/fuzz/corpus/comtrade
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pq/comtrade.h"
#include "pq/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char sep[] = "\n--DAT--\n";

static size_t find_sep(const uint8_t *data, size_t size)
{
    size_t n = sizeof(sep) - 1;
    size_t i;

    for (i = 0; i + n <= size; i++) {
        if (memcmp(data + i, sep, n) == 0) {
            return i;
        }
    }
    return size;
}

static uint8_t *dup(const uint8_t *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);

    if (!b) {
        abort();
    }
    if (n) {
        memcpy(b, p, n);
    }
    return b;
}

static void check_name(const char *s)
{
    if (memchr(s, '\0', PQ_CT_NAME_MAX) == NULL) {
        abort();
    }
}

/* What a successful parse promises: every array as long as said, names
 * terminated, times finite, rates looked up in range. */
static void check(const struct pq_comtrade *ct)
{
    size_t i, k, nw = pq_comtrade_status_words(ct);
    volatile double sink = 0;

    check_name(ct->station);
    check_name(ct->device);
    if (ct->nsamples == 0 || !ct->t_s || (ct->n_analog && !ct->data) ||
        (ct->n_status && !ct->status) || ct->format < 0 || ct->format > 3) {
        abort();
    }
    for (k = 0; k < ct->n_analog; k++) {
        check_name(ct->analog[k].id);
        check_name(ct->analog[k].unit);
    }
    for (k = 0; k < ct->n_status; k++) {
        check_name(ct->status_id[k]);
    }
    for (i = 0; i < ct->nsamples; i++) {
        if (!isfinite(ct->t_s[i])) {
            abort();
        }
        sink += pq_comtrade_rate_at(ct, i);
        for (k = 0; k < ct->n_analog; k++) {
            sink += ct->data[i * ct->n_analog + k];
        }
        for (k = 0; k < nw; k++) {
            sink += ct->status[i * nw + k];
        }
        for (k = 0; k < ct->n_status; k++) {
            sink += pq_comtrade_status_bit(ct, i, k);
        }
    }
    (void) sink;
}

static void run(int rc, struct pq_comtrade *ct, const char *err, size_t errcap)
{
    if (rc == 0) {
        check(ct);
        pq_comtrade_free(ct);
        return;
    }
    if (ct || (rc != -PQ_EFORMAT && rc != -ENOMEM) || !memchr(err, '\0', errcap) ||
        err[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = find_sep(data, size);
    size_t cfg_len = at < size ? at : size / 2;
    size_t dat_at = at < size ? at + sizeof(sep) - 1 : cfg_len;
    uint8_t *cfg = dup(data, cfg_len);
    uint8_t *dat = dup(data + dat_at, size - dat_at);
    uint8_t *all = dup(data, size);
    struct pq_comtrade *ct = NULL;
    char err[160];
    int rc;

    rc = pq_comtrade_parse("fuzz.cfg", cfg, cfg_len, dat, size - dat_at, &ct, err,
                           sizeof(err));
    run(rc, ct, err, sizeof(err));
    ct = NULL;
    rc = pq_comtrade_parse_cff("fuzz.cff", all, size, &ct, err, sizeof(err));
    run(rc, ct, err, sizeof(err));
    free(cfg);
    free(dat);
    free(all);
    return 0;
}
