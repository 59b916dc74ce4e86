/* adc_impl.h - what the adc backends share; private to drivers/adc/ and its
 * tests.
 *
 * A backend is one file adc_<kind>.c defining a const struct adc_ops and
 * one line in adc.c's table.  The core allocates struct adc and priv_size
 * zeroed bytes of backend state at a->priv; open fills them, close frees what
 * open took (not a, not priv).  A failed open must undo its own work.
 */
#ifndef PQGATE_ADC_IMPL_H
#define PQGATE_ADC_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "drivers/adc/adc.h"

struct adc_ops {
    const char *kind;
    size_t priv_size; /* zeroed, at a->priv */
    int (*open)(struct adc *a, const struct meter_cfg *cfg);
    int (*info)(const struct adc *a, struct adc_info *out);
    int (*read)(struct adc *a, float *buf, size_t cap, size_t *n);
    int (*fd)(const struct adc *a); /* NULL: no fd, poll on a timer */
    void (*close)(struct adc *a);   /* frees what open took, not a */
};

struct adc {
    const struct adc_ops *ops;
    void *priv;
};

extern const struct adc_ops adc_sim_ops;
extern const struct adc_ops adc_replay_ops;
extern const struct adc_ops adc_iio_ops;

/* The clock every backend reads (CLOCK_REALTIME for start_ns,
 * CLOCK_MONOTONIC for pacing), in ns.  A seam: tests point it at a fake
 * clock; it is adc_clock_system() otherwise. */
extern int64_t (*adc_clock_ns)(clockid_t clock);
int64_t adc_clock_system(clockid_t clock);

/* Wall-clock pacing of a realtime source: frames become due at fs from the
 * moment of adc_pace_start(). */
struct adc_pace {
    int64_t t0_ns; /* CLOCK_MONOTONIC at the start */
    double fs_hz;
    uint64_t delivered; /* frames handed out since the start */
};

void adc_pace_start(struct adc_pace *p, double fs_hz);

/* Frames due now and not yet delivered, at most cap; the caller adds what
 * it delivers to p->delivered. */
size_t adc_pace_due(const struct adc_pace *p, size_t cap);

/* For tests: frame k (>= 0) of a sim source, info.nch values in double
 * before adc_read() rounds them to float; reads no clock and leaves the
 * stream alone.  0, or -EINVAL if a is not a sim. */
int adc_sim_frame_at(const struct adc *a, int64_t k, double *out);

/* Copy a role's conventional name ("ua") and unit ("V") into info's
 * channel ch. */
void adc_info_set_channel(struct adc_info *info, size_t ch, enum adc_role role,
                          const char *name);

#endif
