/* modbus.c - the downstream fleet: master ports, profiles, channels.
 *
 * One struct mport per serial bus or TCP peer, one struct mdev per device.
 * A device's decoding state (counters, last values, the update buffer) is
 * touched only by its port's thread, inside on_cycle(); the main loop reads
 * health through mb_port_health() once a second.  Everything is allocated
 * at start, sized by the profile: a poll cycle allocates nothing.
 */
#include "gateway/modbus.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/log.h"
#include "config/profile.h"
#include "drivers/modbus/mb_port.h"
#include "drivers/modbus/mb_profile.h"
#include "gateway/bus.h"
#include "gateway/evlog.h"
#include "gateway/loop.h"
#include "gateway/modbus_impl.h"
#include "pq/err.h"

#define HEALTH_PERIOD_NS 1000000000LL

static const struct {
    const char *name;
    const char *unit;
} health_channels[H_COUNT] = {
    [H_STATE] = {"health/state", ""},           [H_REQUESTS] = {"health/requests", ""},
    [H_ERRORS] = {"health/errors", ""},         [H_TIMEOUTS] = {"health/timeouts", ""},
    [H_EXCEPTIONS] = {"health/exceptions", ""}, [H_LATENCY] = {"health/latency_ms", "ms"},
    [H_AGE] = {"health/last_good_age_s", "s"},
};

/* The routing table of gw_modbus_route(): the running component. */
static pthread_mutex_t route_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gwmb *route_owner;

/* Modbus Application Protocol V1.1b3, 6.1-6.4: function codes. */
static const char *fn_name(int fn)
{
    switch (fn) {
    case MB_FN_COILS:
        return "coils";
    case MB_FN_DISCRETE:
        return "discrete";
    case MB_FN_HOLDING:
        return "holding";
    case MB_FN_INPUT:
        return "input";
    default:
        return "fn?";
    }
}

/* Modbus Application Protocol V1.1b3, 7: exception codes. */
static const char *exception_name(int code)
{
    switch (code) {
    case 1:
        return "illegal function";
    case 2:
        return "illegal data address";
    case 3:
        return "illegal data value";
    case 4:
        return "server device failure";
    case 5:
        return "acknowledge";
    case 6:
        return "server device busy";
    case 8:
        return "memory parity error";
    case 0x0a:
        return "gateway path unavailable";
    case 0x0b:
        return "gateway target device failed to respond";
    default:
        return "unknown exception";
    }
}

/* "read holding 40+10: timeout" into buf. */
static void describe_read(char *buf, size_t cap, const struct mb_read_result *r)
{
    const char *what = r->rc == -ETIMEDOUT ? "timeout (no answer)" : pq_strerror(r->rc);

    if (r->rc == -PQ_EREFUSED) {
        snprintf(buf, cap, "read %s %u+%u: exception %d (%s)", fn_name(r->read->fn),
                 r->read->addr, r->read->count, r->exception,
                 exception_name(r->exception));
    } else {
        snprintf(buf, cap, "read %s %u+%u: %s", fn_name(r->read->fn), r->read->addr,
                 r->read->count, what);
    }
}

/* Device lost and back, counter events: the event log (gateway/evlog.h),
 * which also writes them to the process log. */
#define fleet_event(severity, kind, name, ...) \
    (void) evlog_event((severity), "modbus", (kind), (name), __VA_ARGS__)

/* Which of md's reads a result is (the port hands back its own copies). */
static int read_index(const struct mdev *md, const struct mb_read_result *r, size_t j)
{
    if (j < md->nreads && md->reads[j].fn == r->read->fn &&
        md->reads[j].addr == r->read->addr && md->reads[j].count == r->read->count) {
        return (int) j;
    }
    for (size_t k = 0; k < md->nreads; k++) {
        if (md->reads[k].fn == r->read->fn && md->reads[k].addr == r->read->addr &&
            md->reads[k].count == r->read->count) {
            return (int) k;
        }
    }
    return -1;
}

/* An error opening a link (the request never went out), as opposed to a
 * device not answering or a connection dropped mid-request. */
static int is_open_error(int rc)
{
    switch (-rc) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
    case EACCES:
    case EBUSY:
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EADDRNOTAVAIL:
        return 1;
    default:
        return 0;
    }
}

/* The port's link cannot be opened (serial port missing, peer refusing)
 * and rc is that: said once for the port by check_links(), not once per
 * device. */
static int link_down(const struct mport *mp, int rc)
{
    struct mb_port *port = atomic_load(&mp->port);

    return is_open_error(rc) && port && is_open_error(mb_port_link_error(port));
}

/* Log what changed in this cycle's reads: a read failing or good again
 * (named with its register), the device lost or back.  Port thread. */
static void note_reads(struct mdev *md, const struct mb_read_result *res, size_t n)
{
    char text[160], first_fail[160] = "";
    int answered = 0, link_failed = 0, first_rc = 0;

    for (size_t j = 0; j < n; j++) {
        if (res[j].rc == 0 || res[j].rc == -PQ_EREFUSED) {
            answered = 1; /* an exception is an answer */
        } else if (res[j].rc != -ECANCELED) {
            if (!link_failed) {
                describe_read(first_fail, sizeof(first_fail), &res[j]);
                first_rc = res[j].rc;
            }
            link_failed = 1;
        }
    }
    for (size_t j = 0; j < n; j++) {
        int k = read_index(md, &res[j], j);
        int rc = res[j].rc;

        if (k < 0 || rc == -ECANCELED || rc == md->read_rc[k]) {
            continue;
        }
        describe_read(text, sizeof(text), &res[j]);
        if (rc == 0) {
            /* after an exception; a device back from silence is one line */
            if (md->read_rc[k] == -PQ_EREFUSED ||
                (md->read_rc[k] < 0 && md->answering == 1)) {
                LOGF(LOG_NOTICE, "modbus", "%s read %s %u+%u: good again", md->prefix,
                     fn_name(res[j].read->fn), res[j].read->addr, res[j].read->count);
            }
        } else if (rc == -PQ_EREFUSED || answered) {
            /* the device answers, this one read fails */
            LOGF(LOG_WARNING, "modbus", "%s %s", md->prefix, text);
        }
        md->read_rc[k] = rc;
    }
    if (answered && md->answering != 1) {
        if (md->answering == 0) {
            fleet_event(LOG_NOTICE, "device_back", md->prefix,
                        "answering again after %.1f s",
                        (double) (loop_mono_ns() - md->lost_ns) / 1e9);
        } else {
            LOGF(LOG_INFO, "modbus", "%s answering (unit %d)", md->prefix, md->cfg->unit);
        }
        md->answering = 1;
    } else if (link_failed && !answered && link_down(md->mp, first_rc)) {
        md->answering = -1; /* unknown until the link is back */
    } else if (link_failed && !answered && md->answering != 0) {
        fleet_event(LOG_WARNING, "device_lost", md->prefix, "%s %s",
                    md->answering == 1 ? "lost:" : "not answering:", first_fail);
        md->answering = 0;
        md->lost_ns = loop_mono_ns();
    }
}

/* A classified counter reading: logged; the channel gets the continuous
 * total, flagged as substituted except after a rollover (the delta across
 * the wrap is real consumption). */
static uint32_t counter_quality(const struct mdev *md, const struct mb_point *p,
                                const struct mb_sample *smp, double before)
{
    char kind[32];

    if (smp->event == MB_COUNTER_OK) {
        return 0;
    }
    snprintf(kind, sizeof(kind), "counter_%s", mb_counter_event_name(smp->event));
    fleet_event(smp->event == MB_COUNTER_GLITCH ? LOG_WARNING : LOG_NOTICE, kind,
                md->prefix, "%s: counter %s: reading %.10g after %.10g; total %.10g %s",
                p->channel, mb_counter_event_name(smp->event), smp->reading, before,
                smp->value, p->unit);
    return smp->event == MB_COUNTER_ROLLOVER ? 0 : BUS_Q_SUBSTITUTED;
}

/* The value, time and quality of point i from this cycle into *u. */
static void sample_point(struct mdev *md, size_t i, const struct mb_read_result *res,
                         size_t n, int64_t now, struct bus_update *u)
{
    const struct mb_point *p = &md->prof->points[i];
    struct mb_counter *c = p->counter ? &md->ctr[i] : NULL;
    double before = c ? c->last : 0;
    struct mb_sample smp;
    uint32_t bq;

    if (mb_point_sample(p, c, res, n, &smp) < 0) {
        smp.q = MB_Q_COMM_FAIL; /* no read of this cycle covers it */
    }
    switch (smp.q) {
    case MB_Q_GOOD:
    case MB_Q_SUBSTITUTED:
        bq = smp.q == MB_Q_SUBSTITUTED ? BUS_Q_SUBSTITUTED : 0;
        if (c) {
            bq |= counter_quality(md, p, &smp, before);
        }
        md->last[i] = smp.value;
        md->last_t[i] = smp.t_ns;
        md->have[i] = 1;
        *u = (struct bus_update){md->ch[i], {smp.value, smp.t_ns, bq}};
        break;
    case MB_Q_NOT_IMPL:
        *u = (struct bus_update){md->ch[i],
                                 {NAN, smp.t_ns ? smp.t_ns : now, BUS_Q_INVALID}};
        break;
    default:
        if (md->have[i]) {
            *u =
                (struct bus_update){md->ch[i], {md->last[i], md->last_t[i], BUS_Q_STALE}};
        } else {
            *u = (struct bus_update){md->ch[i], {NAN, now, BUS_Q_INVALID | BUS_Q_STALE}};
        }
        break;
    }
}

static void on_cycle(void *ctx, int dev, const struct mb_read_result *res, size_t n)
{
    struct mport *mp = ctx;
    struct mdev *md;
    int64_t now = loop_wall_ns();
    size_t k = 0;
    int rc;

    if (dev < 0 || (size_t) dev >= mp->ndevs) {
        return;
    }
    md = &mp->devs[dev];
    if (!atomic_load_explicit(&md->ready, memory_order_acquire) || n == 0) {
        return;
    }
    note_reads(md, res, n);
    for (size_t i = 0; i < md->prof->npoints; i++) {
        if (md->ch[i] >= 0) {
            sample_point(md, i, res, n, now, &md->upd[k++]);
        }
    }
    rc = bus_publish_many(mp->m->gw->bus, md->upd, k);
    if (rc < 0 && rc != -PQ_EFULL) {
        LOGF(LOG_ERR, "modbus", "%s publish: %s", md->prefix, pq_strerror(rc));
    }
}

static void publish_health(struct gwmb *m)
{
    int64_t now = loop_wall_ns();

    for (size_t i = 0; i < m->nports; i++) {
        struct mport *mp = &m->ports[i];

        for (size_t d = 0; d < mp->ndevs; d++) {
            struct mdev *md = &mp->devs[d];
            struct bus_update u[H_COUNT];
            struct mb_health h;
            uint64_t errors;

            if (!atomic_load(&mp->port) || mb_port_health(mp->port, (int) d, &h) < 0) {
                continue;
            }
            errors = h.timeouts + h.exceptions + h.frame_errors + h.io_errors;
            u[H_STATE] = (struct bus_update){md->ch_health[H_STATE], {h.state, now, 0}};
            u[H_REQUESTS] = (struct bus_update){md->ch_health[H_REQUESTS],
                                                {(double) h.requests, now, 0}};
            u[H_ERRORS] =
                (struct bus_update){md->ch_health[H_ERRORS], {(double) errors, now, 0}};
            u[H_TIMEOUTS] = (struct bus_update){md->ch_health[H_TIMEOUTS],
                                                {(double) h.timeouts, now, 0}};
            u[H_EXCEPTIONS] = (struct bus_update){md->ch_health[H_EXCEPTIONS],
                                                  {(double) h.exceptions, now, 0}};
            u[H_LATENCY] = (struct bus_update){
                md->ch_health[H_LATENCY],
                {h.good ? h.latency_ms_avg : NAN, now, h.good ? 0 : BUS_Q_INVALID}};
            u[H_AGE] = (struct bus_update){
                md->ch_health[H_AGE],
                {h.last_good_ns ? (double) (now - h.last_good_ns) / 1e9 : NAN, now,
                 h.last_good_ns ? 0 : BUS_Q_INVALID}};
            (void) bus_publish_many(m->gw->bus, u, H_COUNT);
        }
    }
}

#define SUMMARY_DEVICES 8 /* devices named in the summary line */

/* logging.summary: one line of the fleet, as the meter's summary line. */
static void log_summary(struct gwmb *m)
{
    char line[1024];
    size_t len = 0, up = 0, total = 0, named = 0;

    for (size_t i = 0; i < m->nports; i++) {
        for (size_t d = 0; d < m->ports[i].ndevs; d++) {
            struct mdev *md = &m->ports[i].devs[d];
            struct bus_value v;

            total++;
            up += md->answering == 1;
            if (named == SUMMARY_DEVICES ||
                !atomic_load_explicit(&md->ready, memory_order_acquire) ||
                md->ch_summary < 0 || bus_get(m->gw->bus, md->ch_summary, &v) < 0 ||
                len >= sizeof(line)) {
                continue;
            }
            len += (size_t) snprintf(line + len, sizeof(line) - len, " | %s %.6g %s%s",
                                     md->prefix, v.value,
                                     bus_unit(m->gw->bus, md->ch_summary),
                                     v.quality & BUS_Q_STALE ? " (stale)" : "");
            named++;
        }
    }
    LOGF(LOG_INFO, "fleet", "%zu/%zu devices answering%s%s", up, total,
         len < sizeof(line) ? line : "", named < total ? " | ..." : "");
}

/* Log each port's link when its condition changes (mb_port_link_error()). */
static void check_links(struct gwmb *m)
{
    for (size_t i = 0; i < m->nports; i++) {
        struct mport *mp = &m->ports[i];
        struct mb_port *port = atomic_load(&mp->port);
        int le = port ? mb_port_link_error(port) : 0;
        char where[320];

        if (le < 0 && le != -ENOTSUP && !is_open_error(le)) {
            le = 0; /* a connection dropped: its devices say what failed */
        }
        if (le == mp->link_err) {
            continue;
        }
        if (mp->serial) {
            snprintf(where, sizeof(where), "%s", mp->pcfg.device);
        } else {
            snprintf(where, sizeof(where), "%s:%d", mp->pcfg.host, mp->pcfg.port);
        }
        if (le == -ENOTSUP) {
            LOGF(LOG_WARNING, "modbus",
                 "%s: %s refused the kernel RS-485 mode; RTS is switched around each "
                 "frame instead",
                 mp->name, where);
        } else if (le < 0) {
            fleet_event(LOG_WARNING, "link_lost", mp->name,
                        "%s: %s; its %zu devices wait", where, pq_strerror(le),
                        mp->ndevs);
        } else if (mp->link_err != -ENOTSUP) {
            fleet_event(LOG_NOTICE, "link_back", mp->name, "%s open", where);
        }
        mp->link_err = le;
    }
}

static void on_health_timer(struct loop *l, void *ctx)
{
    struct gwmb *m = ctx;
    int64_t every = m->gw->cfg->logging.summary_ns;

    (void) l;
    check_links(m);
    publish_health(m);
    if (every > 0 && loop_mono_ns() >= m->next_summary_ns) {
        m->next_summary_ns = loop_mono_ns() + every;
        log_summary(m);
    }
}

/* -- set-up ------------------------------------------------------------ */

static int register_channel(struct gw *gw, const char *prefix, const char *rel,
                            const char *unit)
{
    char name[BUS_NAME_MAX + 32];
    int ch;

    if ((size_t) snprintf(name, sizeof(name), "%s/%s", prefix, rel) >= BUS_NAME_MAX) {
        LOGF(LOG_ERR, "modbus", "%s/%s: channel name longer than %d bytes", prefix, rel,
             BUS_NAME_MAX - 1);
        return -EINVAL;
    }
    ch = bus_register(gw->bus, name, unit);
    if (ch == -PQ_EEXIST) {
        LOGF(LOG_ERR, "modbus",
             "%s: registered before with another unit than '%s' (a profile changed "
             "units: restart the daemon)",
             name, unit);
    } else if (ch < 0) {
        LOGF(LOG_ERR, "modbus", "%s: register: %s", name, pq_strerror(ch));
    }
    return ch;
}

/* Load a profile by name; its problems are logged as FILE:LINE:COL. */
int gw_modbus_load_profile(const char *who, const char *name, const char *config_path,
                           struct mb_profile **out)
{
    char path[512];
    struct cfg_diag diag;
    int rc = cfg_profile_path(name, config_path, path, sizeof(path));

    if (rc < 0) {
        LOGF(LOG_ERR, "modbus", "%s: profile '%s': %s", who, name,
             rc == -PQ_ENOTFOUND ? "no such profile" : pq_strerror(rc));
        return rc;
    }
    cfg_diag_init(&diag);
    rc = cfg_profile_load(path, out, &diag);
    if (rc < 0) {
        for (size_t i = 0; i < diag.n; i++) {
            LOGF(LOG_ERR, "modbus", "%s", diag.msgs[i]);
        }
        LOGF(LOG_ERR, "modbus", "%s: profile '%s' (%s) has errors", who, name, path);
    }
    cfg_diag_fini(&diag);
    return rc;
}

/* A device's own limits override the profile's (config: max_regs, max_gap). */
void gw_modbus_apply_limits(const struct device_cfg *d, struct mb_profile *prof)
{
    if (d->max_regs > 0) {
        prof->max_regs = d->max_regs;
    }
    if (d->max_gap >= 0) {
        prof->max_gap = d->max_gap;
    }
}

/* The reads of a profile: 0 and a new array in *out (free()), or a code. */
int gw_modbus_plan(const struct mb_profile *prof, struct mb_read **out, size_t *n)
{
    int need = mb_plan(prof, NULL, 0);
    struct mb_read *r;

    if (need < 0) {
        return need;
    }
    r = calloc(need > 0 ? (size_t) need : 1, sizeof(*r));
    if (!r) {
        return -ENOMEM;
    }
    if (need > 0 && mb_plan(prof, r, (size_t) need) != need) {
        free(r);
        return -EINVAL;
    }
    *out = r;
    *n = (size_t) need;
    return 0;
}

/* Profile, reads, per-point state and channels of md from prof (taken). */
int gw_modbus_dev_attach(struct mdev *md, struct mb_profile *prof)
{
    struct gw *gw = md->mp->m->gw;
    size_t np = prof->npoints;
    int rc;

    gw_modbus_apply_limits(md->cfg, prof);
    md->prof = prof;
    rc = gw_modbus_plan(prof, &md->reads, &md->nreads);
    if (rc < 0) {
        LOGF(LOG_ERR, "modbus", "%s: planning the reads of profile '%s': %s", md->prefix,
             prof->name, pq_strerror(rc));
        return rc;
    }
    md->read_rc = calloc(md->nreads + 1, sizeof(*md->read_rc));
    md->ch = calloc(np + 1, sizeof(*md->ch));
    md->ctr = calloc(np + 1, sizeof(*md->ctr));
    md->last = calloc(np + 1, sizeof(*md->last));
    md->last_t = calloc(np + 1, sizeof(*md->last_t));
    md->have = calloc(np + 1, 1);
    md->upd = calloc(np + 1, sizeof(*md->upd));
    if (!md->read_rc || !md->ch || !md->ctr || !md->last || !md->last_t || !md->have ||
        !md->upd) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < md->nreads; i++) {
        md->read_rc[i] = 1; /* not tried yet */
    }
    for (size_t i = 0; i < np; i++) {
        md->ch[i] = register_channel(gw, md->prefix, prof->points[i].channel,
                                     prof->points[i].unit);
        if (md->ch[i] < 0) {
            return md->ch[i];
        }
        if (md->ch_summary < 0 || strcmp(prof->points[i].channel, "p/total") == 0) {
            md->ch_summary = md->ch[i];
        }
    }
    return 0;
}

static void dev_free(struct mdev *md)
{
    mb_profile_free(md->prof);
    free(md->reads);
    free(md->read_rc);
    free(md->ch);
    free(md->ctr);
    free(md->last);
    free(md->last_t);
    free(md->have);
    free(md->upd);
}

static int is_sunspec(const struct device_cfg *d)
{
    return d->sunspec == SUNSPEC_AUTO || strcmp(d->profile, "sunspec") == 0;
}

static int dev_setup(struct mport *mp, size_t i, const struct device_cfg *d)
{
    struct mdev *md = &mp->devs[i];
    struct mb_dev_cfg *dc = &mp->dcfg[i];
    struct mb_profile *prof = NULL;
    int rc;

    md->mp = mp;
    md->index = (int) i;
    md->cfg = d;
    md->answering = -1;
    md->ch_summary = -1;
    snprintf(md->prefix, sizeof(md->prefix), "%s.%s", mp->name, d->name);
    for (int h = 0; h < H_COUNT; h++) {
        md->ch_health[h] = register_channel(
            mp->m->gw, md->prefix, health_channels[h].name, health_channels[h].unit);
        if (md->ch_health[h] < 0) {
            return md->ch_health[h];
        }
    }
    dc->name = d->name;
    dc->unit = d->unit;
    dc->poll_ns = d->poll_ns;
    dc->timeout_ns = d->timeout_ns;
    dc->turnaround_ns = d->turnaround_ns;
    dc->retries = d->retries;
    dc->backoff_min_ns = d->backoff_min_ns;
    dc->backoff_max_ns = d->backoff_max_ns;
    if (is_sunspec(d)) {
        md->sunspec = 1; /* reads come from discovery, after start */
        return 0;
    }
    if (d->profile[0] == '\0') {
        LOGF(LOG_ERR, "modbus", "%s: no profile (set profile, or sunspec: auto)",
             md->prefix);
        return -PQ_ECONFIG;
    }
    rc = gw_modbus_load_profile(md->prefix, d->profile, mp->m->gw->config_path, &prof);
    if (rc < 0) {
        return rc;
    }
    rc = gw_modbus_dev_attach(md, prof);
    if (rc < 0) {
        return rc;
    }
    dc->reads = md->reads;
    dc->nreads = md->nreads;
    atomic_store_explicit(&md->ready, 1, memory_order_release);
    return 0;
}

static int port_setup(struct gwmb *m, struct mport *mp, const struct cfg_list *devs)
{
    int rc;

    mp->m = m;
    mp->ndevs = devs->n;
    mp->dcfg = calloc(devs->n + 1, sizeof(*mp->dcfg));
    mp->devs = calloc(devs->n + 1, sizeof(*mp->devs));
    if (!mp->dcfg || !mp->devs) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < devs->n; i++) {
        rc = dev_setup(mp, i, CFG_AT(*devs, struct device_cfg, i));
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static void serial_port_cfg(struct mport *mp, const struct serial_bus_cfg *b)
{
    static const char parity[] = {'N', 'E', 'O'};

    mp->name = b->name;
    mp->serial = 1;
    mp->pcfg.name = b->name;
    mp->pcfg.kind = MB_PORT_RTU;
    mp->pcfg.device = b->device;
    mp->pcfg.baud = b->baud;
    mp->pcfg.parity = parity[b->parity];
    mp->pcfg.data_bits = b->data_bits;
    mp->pcfg.stop_bits = b->stop_bits;
    mp->pcfg.rts = b->rts; /* enum serial_rts = enum mb_rts */
    mp->pcfg.rts_delay_ns = b->rts_delay_ns;
    mp->pcfg.silent_ns = b->silent_ns;
    mp->pcfg.timeout_ns = b->timeout_ns;
}

static void tcp_port_cfg(struct mport *mp, const struct tcp_peer_cfg *p)
{
    mp->name = p->name;
    mp->pcfg.name = p->name;
    mp->pcfg.kind = MB_PORT_TCP;
    mp->pcfg.host = p->host;
    mp->pcfg.port = p->port;
    mp->pcfg.warmup_ns = p->warmup_ns;
    mp->pcfg.timeout_ns = p->timeout_ns;
}

static void modbus_free(struct gwmb *m)
{
    pthread_mutex_lock(&route_lock);
    if (route_owner == m) {
        route_owner = NULL;
    }
    pthread_mutex_unlock(&route_lock);
    gw_sunspec_stop(m->ss);
    for (size_t i = 0; i < m->nports; i++) {
        mb_port_stop(atomic_exchange(&m->ports[i].port, NULL));
    }
    for (size_t i = 0; i < m->nports; i++) {
        struct mport *mp = &m->ports[i];

        for (size_t d = 0; mp->devs && d < mp->ndevs; d++) {
            dev_free(&mp->devs[d]);
        }
        free(mp->devs);
        free(mp->dcfg);
    }
    free(m->ports);
    free(m);
}

static int start_ports(struct gwmb *m)
{
    size_t devices = 0, points = 0, reads = 0;

    for (size_t i = 0; i < m->nports; i++) {
        struct mport *mp = &m->ports[i];
        struct mb_port *port = NULL;
        int rc = mb_port_start(&mp->pcfg, mp->dcfg, mp->ndevs, on_cycle, mp, &port);

        atomic_store(&mp->port, port);
        if (rc < 0) {
            LOGF(LOG_ERR, "modbus", "%s: start: %s", mp->name, pq_strerror(rc));
            return rc;
        }
        for (size_t d = 0; d < mp->ndevs; d++) {
            devices++;
            points += mp->devs[d].prof ? mp->devs[d].prof->npoints : 0;
            reads += mp->devs[d].nreads;
        }
    }
    LOGF(LOG_INFO, "modbus", "%zu ports, %zu devices, %zu points in %zu reads per cycle",
         m->nports, devices, points, reads);
    return 0;
}

static int modbus_start(struct gw *gw, void **state)
{
    const struct pqgate_cfg *cfg = gw->cfg;
    struct gwmb *m;
    int rc = 0, sunspec = 0;

    *state = NULL;
    if (cfg->buses.n + cfg->peers.n == 0) {
        return 0;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        return -ENOMEM;
    }
    m->gw = gw;
    m->timer = -1;
    m->ports = calloc(cfg->buses.n + cfg->peers.n, sizeof(*m->ports));
    if (!m->ports) {
        free(m);
        return -ENOMEM;
    }
    m->nports = cfg->buses.n + cfg->peers.n;
    for (size_t i = 0; rc == 0 && i < m->nports; i++) {
        struct mport *mp = &m->ports[i];

        if (i < cfg->buses.n) {
            const struct serial_bus_cfg *b = CFG_AT(cfg->buses, struct serial_bus_cfg, i);

            serial_port_cfg(mp, b);
            rc = port_setup(m, mp, &b->devices);
        } else {
            const struct tcp_peer_cfg *p =
                CFG_AT(cfg->peers, struct tcp_peer_cfg, i - cfg->buses.n);

            tcp_port_cfg(mp, p);
            rc = port_setup(m, mp, &p->devices);
        }
        for (size_t d = 0; rc == 0 && d < mp->ndevs; d++) {
            sunspec |= mp->devs[d].sunspec;
        }
    }
    if (rc == 0) {
        rc = start_ports(m);
    }
    if (rc == 0 && sunspec) {
        rc = gw_sunspec_start(m, &m->ss);
    }
    if (rc == 0) {
        m->timer = loop_add_timer(gw->loop, HEALTH_PERIOD_NS, on_health_timer, m);
        rc = m->timer < 0 ? m->timer : 0;
    }
    if (rc < 0) {
        modbus_free(m);
        return rc;
    }
    pthread_mutex_lock(&route_lock);
    route_owner = m;
    pthread_mutex_unlock(&route_lock);
    *state = m;
    return 0;
}

static void modbus_stop(void *state)
{
    struct gwmb *m = state;

    if (!m) {
        return;
    }
    if (m->timer >= 0) {
        loop_del_timer(m->gw->loop, m->timer);
    }
    modbus_free(m);
}

const struct gw_component modbus_component = {
    .name = "modbus",
    .start = modbus_start,
    .stop = modbus_stop,
};

/* -- for the TCP server and the SunSpec discovery ------------------------ */

struct mb_port *gw_modbus_route(int unit, int *dev_index)
{
    struct mb_port *port = NULL;

    pthread_mutex_lock(&route_lock);
    for (size_t i = 0; route_owner && !port && i < route_owner->nports; i++) {
        const struct mport *mp = &route_owner->ports[i];

        for (size_t d = 0; mp->serial && d < mp->ndevs; d++) {
            if (mp->dcfg[d].unit == unit) {
                port = mp->port;
                if (dev_index) {
                    *dev_index = (int) d;
                }
                break;
            }
        }
    }
    pthread_mutex_unlock(&route_lock);
    return port;
}

size_t gw_modbus_ports(const char **names, struct mb_port **ports, size_t cap)
{
    size_t n = 0;

    pthread_mutex_lock(&route_lock);
    if (route_owner) {
        n = route_owner->nports;
        for (size_t i = 0; i < n && i < cap; i++) {
            if (names) {
                names[i] = route_owner->ports[i].name;
            }
            if (ports) {
                ports[i] = route_owner->ports[i].port;
            }
        }
    }
    pthread_mutex_unlock(&route_lock);
    return n;
}
