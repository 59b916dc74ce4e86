/* status.c - gateway health channels, and the channels file. */
#include "gateway/status.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/bus.h"
#include "gateway/loop.h"
#include "pq/err.h"

#define STATUS_PERIOD_NS 1000000000LL
#define SUMMARY_EVERY    60 /* periods */

enum { CH_UPTIME, CH_GENERATION, CH_PUBLISHED, CH_DROPPED, CH_COUNT };

static const struct {
    const char *name;
    const char *unit;
} status_channels[CH_COUNT] = {
    [CH_UPTIME] = {"gateway/uptime_s", "s"},
    [CH_GENERATION] = {"gateway/config_generation", ""},
    [CH_PUBLISHED] = {"gateway/bus/published", ""},
    [CH_DROPPED] = {"gateway/bus/dropped", ""},
};

struct status {
    struct gw *gw;
    int ch[CH_COUNT];
    int timer;
    unsigned ticks;
};

/* A JSON string of s (channel names need no escaping; units might). */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

/* logging.channels_file: every channel with its latest value, written to
 * FILE.tmp and renamed over FILE, so a reader never sees half a file.
 *   {"t_ns": N, "channels": {"NAME": {"value": V|null, "unit": "U",
 *                                     "t_ns": N, "quality": Q}, ...}}
 * Q is the enum bus_quality bit set; value is null when it is NaN. */
static void write_channels(const struct status *s, const char *path, int64_t now)
{
    const struct bus *b = s->gw->bus;
    struct bus_stats st;
    char tmp[512];
    FILE *f;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return;
    }
    f = fopen(tmp, "w");
    if (!f) {
        LOGF(LOG_WARNING, "status", "%s: %s", tmp, pq_strerror(-errno));
        return;
    }
    bus_stats(b, &st);
    fprintf(f, "{\"t_ns\": %lld, \"channels\": {", (long long) now);
    for (size_t ch = 0; ch < st.channels; ch++) {
        struct bus_value v;

        if (bus_get(b, (int) ch, &v) < 0) {
            continue;
        }
        fprintf(f, "%s\n ", ch ? "," : "");
        put_json_string(f, bus_name(b, (int) ch));
        fprintf(f, ": {\"value\": ");
        if (isfinite(v.value)) {
            fprintf(f, "%.17g", v.value);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, ", \"unit\": ");
        put_json_string(f, bus_unit(b, (int) ch));
        fprintf(f, ", \"t_ns\": %lld, \"quality\": %u}", (long long) v.t_ns,
                (unsigned) v.quality);
    }
    fprintf(f, "\n}}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        LOGF(LOG_WARNING, "status", "%s: %s", path, pq_strerror(-errno));
        remove(tmp);
    }
}

static void status_tick(struct loop *l, void *ctx)
{
    struct status *s = ctx;
    struct bus_update u[CH_COUNT];
    struct bus_stats st;
    int64_t now = loop_wall_ns();
    double uptime = (double) (loop_mono_ns() - s->gw->started_ns) / 1e9;
    int rc;

    (void) l;
    bus_stats(s->gw->bus, &st);
    u[CH_UPTIME] = (struct bus_update){s->ch[CH_UPTIME], {uptime, now, 0}};
    u[CH_GENERATION] =
        (struct bus_update){s->ch[CH_GENERATION], {s->gw->generation, now, 0}};
    u[CH_PUBLISHED] =
        (struct bus_update){s->ch[CH_PUBLISHED], {(double) st.published, now, 0}};
    u[CH_DROPPED] = (struct bus_update){s->ch[CH_DROPPED], {(double) st.dropped, now, 0}};
    rc = bus_publish_many(s->gw->bus, u, CH_COUNT);
    if (rc < 0 && rc != -PQ_EFULL) {
        LOGF(LOG_ERR, "status", "publish: %s", pq_strerror(rc));
    }
    if (s->gw->cfg->logging.channels_file[0]) {
        write_channels(s, s->gw->cfg->logging.channels_file, now);
    }
    if (++s->ticks % SUMMARY_EVERY == 0) {
        LOGF(LOG_INFO, "status", "up %.0f s, %zu channels, %llu updates, %llu dropped",
             uptime, st.channels, (unsigned long long) st.published,
             (unsigned long long) st.dropped);
    }
}

static int status_start(struct gw *gw, void **state)
{
    struct status *s = calloc(1, sizeof(*s));

    if (!s) {
        return -ENOMEM;
    }
    s->gw = gw;
    for (int i = 0; i < CH_COUNT; i++) {
        s->ch[i] =
            bus_register(gw->bus, status_channels[i].name, status_channels[i].unit);
        if (s->ch[i] < 0) {
            int rc = s->ch[i];

            LOGF(LOG_ERR, "status", "register %s: %s", status_channels[i].name,
                 pq_strerror(rc));
            free(s);
            return rc;
        }
    }
    s->timer = loop_add_timer(gw->loop, STATUS_PERIOD_NS, status_tick, s);
    if (s->timer < 0) {
        int rc = s->timer;

        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static void status_stop(void *state)
{
    struct status *s = state;

    if (!s) {
        return;
    }
    loop_del_timer(s->gw->loop, s->timer);
    free(s);
}

const struct gw_component status_component = {
    .name = "status",
    .start = status_start,
    .stop = status_stop,
};
