/* storecomp.c - the "store" daemon component. */
#include "gateway/storecomp.h"

#include <errno.h>
#include <stdlib.h>

#include "config/config.h"
#include "config/log.h"
#include "gateway/evlog.h"
#include "gateway/loop.h"
#include "gateway/store.h"
#include "gateway/syslog5424.h"
#include "pq/err.h"

#define CLOSE_FLUSH_MS 1000

struct storecomp {
    struct gw *gw;
    struct store *store;
};

/* Across the restarts of a reload: the first start is the power-up. */
static int started_once;

static struct store *open_store(const struct store_section_cfg *c)
{
    struct store_cfg sc = {
        .path = c->path, .budget_bytes = c->budget_bytes, .batch_ns = c->batch_ns};
    struct store *s = NULL;
    int rc = store_open(&sc, NULL, 0, &s);

    if (rc < 0) {
        LOGF(LOG_CRIT, "store",
             "%s: %s; running without the onboard store (logs and records are not "
             "kept)",
             c->path,
             rc == -PQ_EFORMAT ? "not a database or damaged (left as it is)"
                               : pq_strerror(rc));
        return NULL;
    }
    LOGF(LOG_INFO, "store", "%s open: budget %llu bytes, commits every %lld ms", c->path,
         (unsigned long long) c->budget_bytes, (long long) (c->batch_ns / 1000000));
    return s;
}

static int storecomp_start(struct gw *gw, void **state)
{
    const struct pqgate_cfg *cfg = gw->cfg;
    const struct security_log_cfg *sl = &cfg->security_log;
    struct storecomp *sc = calloc(1, sizeof(*sc));
    struct evlog_cfg ec = {
        .syslog_local = sl->syslog_local,
        .facility = sl->facility,
        .remote_host = sl->remote.host,
        .remote_port = sl->remote.port,
        .remote_proto =
            sl->remote.protocol == SYSLOG_TCP ? SYSLOG5424_TCP : SYSLOG5424_UDP,
        .remote_facility = sl->remote.facility,
    };

    if (!sc) {
        return -ENOMEM;
    }
    sc->gw = gw;
    sc->store = open_store(&cfg->store);
    gw->store = sc->store;
    (void) evlog_open(sc->store, &ec); /* logs its own problems */
    if (!started_once) {
        evlog_event(LOG_NOTICE, "gateway", "power_up", NULL,
                    "pqgate %s started, gateway %s", PQGATE_VERSION, cfg->gateway.id);
        started_once = 1;
    } else {
        evlog_event(LOG_NOTICE, "config", "config_change", NULL,
                    "configuration reloaded (generation %u)", gw->generation + 1);
        evlog_security(LOG_NOTICE, NULL, NULL, "config_change",
                       "configuration reloaded (generation %u)", gw->generation + 1);
    }
    *state = sc;
    return 0;
}

static void storecomp_stop(void *state)
{
    struct storecomp *sc = state;
    int rc;

    if (!sc) {
        return;
    }
    if (!loop_running(sc->gw->loop)) {
        /* not a reload: the process is going down */
        evlog_event(LOG_NOTICE, "gateway", "shutdown", NULL, "pqgate stopping");
    }
    evlog_close();
    if (sc->store) {
        rc = store_flush(sc->store, CLOSE_FLUSH_MS);
        if (rc < 0) {
            LOGF(LOG_ERR, "store", "final commit: %s", pq_strerror(rc));
        }
        store_close(sc->store);
    }
    sc->gw->store = NULL;
    free(sc);
}

const struct gw_component store_component = {
    .name = "store",
    .start = storecomp_start,
    .stop = storecomp_stop,
};
