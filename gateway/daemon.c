/* daemon.c - main loop, signals, transactional reload, systemd notify. */
#include "gateway/daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/alarm.h"
#include "gateway/bus.h"
#include "gateway/loop.h"
#include "gateway/mbserver.h"
#include "gateway/metrology.h"
#include "gateway/modbus.h"
#include "gateway/mqtt.h"
#include "gateway/recorder.h"
#include "gateway/records.h"
#include "gateway/status.h"
#include "gateway/storecomp.h"
#include "gateway/summary.h"
#include "gateway/tou.h"
#include "gateway/vchan.h"
#include "gateway/wages.h"
#include "pq/err.h"

/* Sized for a full box: 8 buses x 31 devices x ~100 values plus the local
 * meter's few thousand; the queue holds several seconds of updates. */
#define BUS_MAX_CHANNELS 65536
#define BUS_QUEUE_CAP    65536
#define DISPATCH_BATCH   4096

/* The record ring holds 8 of the largest interval records, or some 500
 * event records (about 500 bytes each), between two turns of the main
 * loop; when full, the newest record is dropped and counted. */
#define RECORDS_CAP_BYTES (8 * METROLOGY_RECORD_MAX)
#define RECORDS_BATCH     64

/* Start order; stopped in reverse.  New tiers add one line here. */
static const struct gw_component *const components[] = {
    &status_component,   &store_component,   &metrology_component, &modbus_component,
    &wages_component,    &summary_component, &vchan_component,     &alarm_component,
    &recorder_component, &tou_component,     &mbserver_component,  &mqtt_component,
};

#define N_COMPONENTS (sizeof(components) / sizeof(components[0]))

struct daemon {
    const struct daemon_opts *opts;
    struct gw gw;
    void *state[N_COMPONENTS];
    size_t started; /* components[0..started) are running */
    int sfd;        /* signalfd */
    int exit_code;
    int watchdog_timer;
    int ch_capture; /* gateway/command/capture: a manual capture */
    unsigned captures;
};

static void apply_logging(const struct pqgate_cfg *cfg)
{
    log_open("pqgate",
             cfg->logging.target == LOG_TARGET_SYSLOG ? LOG_TO_SYSLOG : LOG_TO_STDERR,
             cfg->logging.level);
}

static void log_summary(const struct pqgate_cfg *cfg)
{
    static const char *const sources[] = {"none", "sim", "replay", "iio"};
    static const char *const wirings[] = {"wye", "delta", "single"};
    size_t devices = 0, peer_devices = 0;

    for (size_t i = 0; i < cfg->buses.n; i++) {
        devices += CFG_AT(cfg->buses, struct serial_bus_cfg, i)->devices.n;
    }
    for (size_t i = 0; i < cfg->peers.n; i++) {
        peer_devices += CFG_AT(cfg->peers, struct tcp_peer_cfg, i)->devices.n;
    }
    LOGF(LOG_INFO, "config",
         "gateway %s; meter %s %.6g V %.6g Hz %s; %zu serial buses, %zu devices; "
         "%zu TCP peers, %zu devices; log level %s",
         cfg->gateway.id, sources[cfg->meter.source], cfg->meter.nominal_voltage_v,
         cfg->meter.nominal_frequency_hz, wirings[cfg->meter.wiring], cfg->buses.n,
         devices, cfg->peers.n, peer_devices, log_level_name(cfg->logging.level));
}

static void stop_components(struct daemon *d)
{
    while (d->started > 0) {
        d->started--;
        components[d->started]->stop(d->state[d->started]);
        d->state[d->started] = NULL;
    }
}

static int start_components(struct daemon *d)
{
    for (size_t i = 0; i < N_COMPONENTS; i++) {
        int rc = components[i]->start(&d->gw, &d->state[i]);

        if (rc < 0) {
            LOGF(LOG_ERR, "daemon", "component %s did not start: %s", components[i]->name,
                 pq_strerror(rc));
            stop_components(d);
            return rc;
        }
        d->started = i + 1;
    }
    return 0;
}

static struct pqgate_cfg *load_config(const struct daemon_opts *o)
{
    struct pqgate_cfg *cfg = NULL;
    struct cfg_diag diag;

    cfg_diag_init(&diag);
    if (pqgate_cfg_load(o->config_path, o->sets, o->nsets, &cfg, &diag) < 0) {
        for (size_t i = 0; i < diag.n; i++) {
            LOGF(LOG_ERR, "config", "%s", diag.msgs[i]);
        }
        if (diag.dropped) {
            LOGF(LOG_ERR, "config", "(%zu more errors not shown)", diag.dropped);
        }
        cfg = NULL;
    }
    cfg_diag_fini(&diag);
    return cfg;
}

static void notify_reloading(void)
{
    char msg[64];

    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
             (long long) (loop_mono_ns() / 1000));
    sd_notify(0, msg);
}

/* SIGHUP: load all of the new file first; swap only when it validated. */
static void reload(struct daemon *d)
{
    struct pqgate_cfg *old = (struct pqgate_cfg *) d->gw.cfg;
    struct pqgate_cfg *cfg;

    LOGF(LOG_INFO, "daemon", "reloading %s", d->opts->config_path);
    cfg = load_config(d->opts);
    if (!cfg) {
        LOGF(LOG_ERR, "daemon",
             "reload failed: %s has errors; the running config stays in force",
             d->opts->config_path);
        return;
    }
    notify_reloading();
    stop_components(d);
    d->gw.cfg = cfg;
    apply_logging(cfg);
    if (start_components(d) < 0) {
        LOGF(LOG_ERR, "daemon",
             "reload failed: the new config does not start; "
             "going back to the running one");
        d->gw.cfg = old;
        apply_logging(old);
        pqgate_cfg_free(cfg);
        if (start_components(d) < 0) {
            LOGF(LOG_CRIT, "daemon",
                 "the previous config does not start again either; exiting");
            d->exit_code = 1;
            loop_stop(d->gw.loop);
        }
        sd_notify(0, "READY=1");
        return;
    }
    pqgate_cfg_free(old);
    d->gw.generation++;
    log_summary(cfg);
    LOGF(LOG_NOTICE, "daemon", "config reloaded (generation %u)", d->gw.generation);
    sd_notify(0, "READY=1\nSTATUS=running (config reloaded)");
}

static void on_signal(struct loop *l, int fd, short revents, void *ctx)
{
    struct daemon *d = ctx;
    struct signalfd_siginfo si;

    (void) revents;
    while (read(fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGHUP:
            reload(d);
            break;
        case SIGUSR1:
            /* a manual waveform capture: a command on the bus, for
             * whoever captures (gateway/metrology.c) */
            LOGF(LOG_NOTICE, "daemon", "manual capture requested");
            (void) bus_publish(d->gw.bus, d->ch_capture, (double) ++d->captures,
                               loop_wall_ns(), 0);
            break;
        case SIGTERM:
        case SIGINT:
            LOGF(LOG_NOTICE, "daemon", "stopping on %s", strsignal((int) si.ssi_signo));
            loop_stop(l);
            return;
        default:
            break;
        }
    }
}

static void on_bus(struct loop *l, int fd, short revents, void *ctx)
{
    (void) l;
    (void) fd;
    (void) revents;
    bus_dispatch(ctx, DISPATCH_BATCH);
}

static void on_records(struct loop *l, int fd, short revents, void *ctx)
{
    (void) l;
    (void) fd;
    (void) revents;
    records_dispatch(ctx, RECORDS_BATCH);
}

static void on_watchdog(struct loop *l, void *ctx)
{
    (void) l;
    (void) ctx;
    sd_notify(0, "WATCHDOG=1");
}

/* Signals arrive through a signalfd on the main loop; they are blocked
 * before any thread starts, so every thread inherits the mask.  Returns the
 * fd or -errno. */
static int open_signals(void)
{
    sigset_t set;
    int fd;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
        return -errno;
    }
    signal(SIGPIPE, SIG_IGN);
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* systemd's watchdog: ping at half the period it asked for. */
static int start_watchdog(struct daemon *d)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
        return 0;
    }
    d->watchdog_timer =
        loop_add_timer(d->gw.loop, (int64_t) usec * 1000 / 2, on_watchdog, NULL);
    return d->watchdog_timer < 0 ? d->watchdog_timer : 0;
}

static int setup(struct daemon *d)
{
    int rc;

    d->sfd = open_signals();
    if (d->sfd < 0) {
        LOGF(LOG_ERR, "daemon", "signals: %s", pq_strerror(d->sfd));
        return d->sfd;
    }
    rc = loop_new(&d->gw.loop);
    if (rc == 0) {
        rc = bus_new(BUS_MAX_CHANNELS, BUS_QUEUE_CAP, &d->gw.bus);
    }
    if (rc == 0) {
        rc = records_new(RECORDS_CAP_BYTES, &d->gw.records);
    }
    if (rc == 0) {
        rc = loop_add_fd(d->gw.loop, d->sfd, POLLIN, on_signal, d);
    }
    if (rc == 0) {
        rc = loop_add_fd(d->gw.loop, bus_fd(d->gw.bus), POLLIN, on_bus, d->gw.bus);
    }
    if (rc == 0) {
        rc = loop_add_fd(d->gw.loop, records_fd(d->gw.records), POLLIN, on_records,
                         d->gw.records);
    }
    if (rc == 0) {
        rc = start_watchdog(d);
    }
    if (rc == 0) {
        d->ch_capture = bus_register(d->gw.bus, "gateway/command/capture", "");
        rc = d->ch_capture < 0 ? d->ch_capture : 0;
    }
    if (rc < 0) {
        LOGF(LOG_ERR, "daemon", "set-up: %s", pq_strerror(rc));
    }
    return rc;
}

static void teardown(struct daemon *d)
{
    stop_components(d);
    bus_free(d->gw.bus);
    records_free(d->gw.records);
    loop_free(d->gw.loop);
    if (d->sfd >= 0) {
        close(d->sfd);
    }
    pqgate_cfg_free((struct pqgate_cfg *) d->gw.cfg);
}

int daemon_run(const struct daemon_opts *o)
{
    struct daemon d;
    struct pqgate_cfg *cfg;
    int rc;

    memset(&d, 0, sizeof(d));
    d.opts = o;
    d.gw.config_path = o->config_path;
    d.sfd = -1;
    d.gw.started_ns = loop_mono_ns();
    d.gw.generation = 1;
    cfg = load_config(o);
    if (!cfg) {
        LOGF(LOG_ERR, "daemon", "not started: %s has errors", o->config_path);
        return 1;
    }
    d.gw.cfg = cfg;
    apply_logging(cfg);
    if (setup(&d) < 0 || start_components(&d) < 0) {
        teardown(&d);
        return 1;
    }
    log_summary(cfg);
    LOGF(LOG_NOTICE, "daemon", "started: pqgate %s, gateway %s, config %s",
         PQGATE_VERSION, cfg->gateway.id, o->config_path);
    sd_notify(0, "READY=1\nSTATUS=running");
    rc = loop_run(d.gw.loop);
    if (rc < 0) {
        LOGF(LOG_CRIT, "daemon", "main loop: %s", pq_strerror(rc));
        d.exit_code = 1;
    }
    sd_notify(0, "STOPPING=1");
    teardown(&d);
    LOGF(LOG_NOTICE, "daemon", "stopped");
    log_close();
    return d.exit_code;
}
