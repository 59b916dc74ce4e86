/* summary.c - periodic one-line summary of local/... channels. */
#include "gateway/summary.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/bus.h"
#include "gateway/loop.h"

struct summary {
    struct gw *gw;
    int timer;
};

/* Latest value of a channel, NaN when absent or never published. */
static double latest(const struct bus *b, const char *name)
{
    struct bus_value v;
    int ch = bus_find(b, name);

    if (ch < 0 || bus_get(b, ch, &v) < 0 || (v.quality & BUS_Q_INVALID)) {
        return NAN;
    }
    return v.value;
}

static void tick(struct loop *l, void *ctx)
{
    struct summary *s = ctx;
    const struct bus *b = s->gw->bus;
    double f = latest(b, "local/freq");
    double peak = latest(b, "local/demand/p/peak");
    char peak_text[32];

    (void) l;
    if (isnan(f)) {
        return; /* no basic interval yet */
    }
    /* the peak counts completed intervals only: none in the first one */
    if (isnan(peak)) {
        snprintf(peak_text, sizeof(peak_text), "none yet");
    } else {
        snprintf(peak_text, sizeof(peak_text), "%.2f kW", peak / 1e3);
    }
    LOGF(LOG_INFO, "meter",
         "U %.1f %.1f %.1f V | I %.2f %.2f %.2f A | P %.2f kW Q %.2f kvar PF %.3f | "
         "f %.3f Hz | THDu %.2f %% THDi %.2f %% | u2 %.2f %% | %.3f kWh | "
         "demand %.2f kW peak %s",
         latest(b, "local/u_rms/a"), latest(b, "local/u_rms/b"),
         latest(b, "local/u_rms/c"), latest(b, "local/i_rms/a"),
         latest(b, "local/i_rms/b"), latest(b, "local/i_rms/c"),
         latest(b, "local/p/total") / 1e3, latest(b, "local/q/total") / 1e3,
         latest(b, "local/pf/total"), f, latest(b, "local/u_thd_pct/a"),
         latest(b, "local/i_thd_pct/a"), latest(b, "local/u_unb_neg_pct"),
         latest(b, "local/energy/kwh_del"), latest(b, "local/demand/p/present") / 1e3,
         peak_text);
}

static int summary_start(struct gw *gw, void **state)
{
    int64_t every = gw->cfg->logging.summary_ns;
    struct summary *s;

    *state = NULL;
    if (every <= 0 || gw->cfg->meter.source == METER_SOURCE_NONE) {
        return 0;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        return -ENOMEM;
    }
    s->gw = gw;
    s->timer = loop_add_timer(gw->loop, every, tick, s);
    if (s->timer < 0) {
        int rc = s->timer;

        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static void summary_stop(void *state)
{
    struct summary *s = state;

    if (s) {
        loop_del_timer(s->gw->loop, s->timer);
        free(s);
    }
}

const struct gw_component summary_component = {
    .name = "summary",
    .start = summary_start,
    .stop = summary_stop,
};
