/* adc.c - the sample-source core: picks a backend by meter.source and
 * forwards to its ops; the pacing and clock helpers the backends share. */
#include "drivers/adc/adc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "drivers/adc/adc_impl.h"
#include "pq/err.h"

/* The only place that looks at cfg->source.  NULL: no sample source. */
static const struct adc_ops *find_backend(int source)
{
    switch (source) {
    case METER_SOURCE_SIM:
        return &adc_sim_ops;
    case METER_SOURCE_REPLAY:
        return &adc_replay_ops;
    case METER_SOURCE_IIO:
        return &adc_iio_ops;
    default:
        return NULL;
    }
}

int adc_open(const struct meter_cfg *cfg, struct adc **out)
{
    const struct adc_ops *ops = find_backend(cfg->source);
    struct adc *a;
    int rc;

    if (!ops) {
        return -PQ_ECONFIG;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        return -ENOMEM;
    }
    a->ops = ops;
    a->priv = calloc(1, ops->priv_size);
    if (!a->priv) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = ops->open(a, cfg);
    if (rc < 0) {
        goto fail;
    }
    *out = a;
    return 0;

fail: /* undo in reverse order */
    free(a->priv);
    free(a);
    return rc;
}

int adc_info(const struct adc *a, struct adc_info *out)
{
    return a->ops->info(a, out);
}

int adc_read(struct adc *a, float *buf, size_t cap, size_t *n)
{
    *n = 0;
    return a->ops->read(a, buf, cap, n);
}

int adc_fd(const struct adc *a)
{
    return a->ops->fd ? a->ops->fd(a) : -1;
}

void adc_close(struct adc *a)
{
    if (!a) {
        return;
    }
    a->ops->close(a);
    free(a->priv);
    free(a);
}

/* ---- shared helpers ----------------------------------------------------- */

int64_t adc_clock_system(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t (*adc_clock_ns)(clockid_t clock) = adc_clock_system;

void adc_pace_start(struct adc_pace *p, double fs_hz)
{
    p->t0_ns = adc_clock_ns(CLOCK_MONOTONIC);
    p->fs_hz = fs_hz;
    p->delivered = 0;
}

size_t adc_pace_due(const struct adc_pace *p, size_t cap)
{
    int64_t elapsed = adc_clock_ns(CLOCK_MONOTONIC) - p->t0_ns;
    double due;

    if (elapsed <= 0) {
        return 0;
    }
    /* exact enough: elapsed ns stays below 2^53 for 104 days, and an error
     * of one frame only moves a frame to the next read */
    due = floor((double) elapsed * p->fs_hz / 1e9) - (double) p->delivered;
    if (due <= 0) {
        return 0;
    }
    return due < (double) cap ? (size_t) due : cap;
}

void adc_info_set_channel(struct adc_info *info, size_t ch, enum adc_role role,
                          const char *name)
{
    static const char *const names[] = {"ua", "ub", "uc", "un", "ia",
                                        "ib", "ic", "in", "x"};

    info->role[ch] = (int) role;
    snprintf(info->name[ch], sizeof(info->name[ch]), "%s", name ? name : names[role]);
    snprintf(info->unit[ch], sizeof(info->unit[ch]), "%s",
             role <= ADC_UN   ? "V"
             : role <= ADC_IN ? "A"
                              : "");
}
