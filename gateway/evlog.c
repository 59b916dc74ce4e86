/* evlog.c - the event log and the security log: one entry goes to the
 * process log, the store (when open), and for security entries syslog(3)
 * and the remote collector.
 *
 * Process-wide state behind a read-write lock: logging takes it shared, so
 * entries from many threads do not wait for each other; evlog_open() and
 * evlog_close() take it exclusively to swap the store and the sender.
 * Formatting uses a stack buffer: no allocation per entry.
 */
#include "gateway/evlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>
#include <syslog.h>
#include <time.h>

#include "config/log.h"
#include "gateway/store.h"
#include "gateway/syslog5424.h"
#include "pq/err.h"

#define TEXT_MAX          1024
#define FACILITY_AUTHPRIV 10 /* RFC 5424 6.2.1 */
#define REMOTE_LINGER_MS  500

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct store *g_store;
static struct syslog5424 *g_remote;
static int g_syslog_local = 1;
static int g_facility = FACILITY_AUTHPRIV;

static atomic_ullong n_events, n_security, n_refused;

static const char ins_event[] =
    "INSERT INTO event_log(t_ns, clock_sync, severity, source, kind, name, text) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char ins_security[] =
    "INSERT INTO security_log(t_ns, clock_sync, severity, user, remote, kind, text) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

static const struct store_table tables[] = {
    {.name = "event_log",
     .create_sql = "CREATE TABLE IF NOT EXISTS event_log ("
                   "t_ns INTEGER NOT NULL, clock_sync INTEGER NOT NULL, "
                   "severity INTEGER NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, "
                   "name TEXT, text TEXT NOT NULL);"
                   "CREATE INDEX IF NOT EXISTS event_log_t ON event_log(t_ns)",
     .droppable = 1},
    {.name = "security_log",
     .create_sql = "CREATE TABLE IF NOT EXISTS security_log ("
                   "t_ns INTEGER NOT NULL, clock_sync INTEGER NOT NULL, "
                   "severity INTEGER NOT NULL, user TEXT, remote TEXT, "
                   "kind TEXT NOT NULL, text TEXT NOT NULL);"
                   "CREATE INDEX IF NOT EXISTS security_log_t ON security_log(t_ns)",
     .droppable = 1},
};

/* adjtimex(2): the kernel's NTP state, kept by chrony, ntpd or
 * systemd-timesyncd, or by ptp4l/phc2sys; TIME_ERROR or STA_UNSYNC mean the
 * clock is not synchronised. */
static int kernel_clock_synced(void)
{
    struct timex tx;
    int state;

    memset(&tx, 0, sizeof(tx)); /* modes 0: read only */
    state = adjtimex(&tx);
    return state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC);
}

static int (*_Atomic clock_fn)(void) = kernel_clock_synced;

void evlog_set_clock_fn(int (*fn)(void))
{
    atomic_store(&clock_fn, fn ? fn : kernel_clock_synced);
}

int evlog_clock_synced(void)
{
    return atomic_load(&clock_fn)();
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* For the process log and syslog(3), which are line-based: control
 * characters (a newline in a user name) would forge lines; they become '?'.
 * The store and the remote collector (octet-counted or one datagram per
 * message) get the text as it is. */
static const char *clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0;

    if (!src) {
        return "-";
    }
    for (; src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char) src[i];

        dst[i] = c < 32 || c == 127 ? '?' : (char) c;
    }
    dst[i] = '\0';
    return dst;
}

static int clamp_severity(int severity)
{
    return severity < LOG_EMERG ? LOG_EMERG : severity > LOG_DEBUG ? LOG_DEBUG : severity;
}

static struct store_val text_val(const char *s)
{
    return s ? (struct store_val){.type = STORE_TEXT, .p = s}
             : (struct store_val){.type = STORE_NULL};
}

int evlog_open(struct store *s, const struct evlog_cfg *cfg)
{
    struct syslog5424 *remote = NULL, *old;
    int rc = 0;

    if (s) {
        rc = store_add_tables(s, tables, sizeof(tables) / sizeof(tables[0]));
        if (rc < 0) {
            LOGF(LOG_ERR, "evlog", "event and security log tables: %s", pq_strerror(rc));
            s = NULL;
        }
    }
    if (cfg && cfg->remote_host && cfg->remote_host[0]) {
        struct syslog5424_cfg sc = {
            .host = cfg->remote_host,
            .port = cfg->remote_port,
            .proto = cfg->remote_proto,
            .facility = cfg->remote_facility,
            .hostname = cfg->hostname,
        };
        int r = syslog5424_open(&sc, &remote);

        if (r < 0) {
            LOGF(LOG_ERR, "evlog", "remote syslog %s:%d: %s", cfg->remote_host,
                 cfg->remote_port, pq_strerror(r));
            remote = NULL;
            rc = rc < 0 ? rc : r;
        }
    }
    pthread_rwlock_wrlock(&lock);
    old = g_remote;
    g_store = s;
    g_remote = remote;
    g_syslog_local = cfg ? cfg->syslog_local : 1;
    g_facility = cfg ? cfg->facility : FACILITY_AUTHPRIV;
    pthread_rwlock_unlock(&lock);
    syslog5424_close(old, REMOTE_LINGER_MS);
    return rc;
}

void evlog_close(void)
{
    struct syslog5424 *old;

    pthread_rwlock_wrlock(&lock);
    old = g_remote;
    g_remote = NULL;
    g_store = NULL;
    pthread_rwlock_unlock(&lock);
    syslog5424_close(old, REMOTE_LINGER_MS);
}

void evlog_stats(struct evlog_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->events = atomic_load(&n_events);
    out->security = atomic_load(&n_security);
    out->store_refused = atomic_load(&n_refused);
    pthread_rwlock_rdlock(&lock);
    if (g_remote) {
        struct syslog5424_stats st;

        syslog5424_stats(g_remote, &st);
        out->remote_sent = st.sent;
        out->remote_dropped = st.dropped;
    }
    pthread_rwlock_unlock(&lock);
}

static int store_entry(const char *sql, const struct store_val *v)
{
    int rc = 0;

    if (g_store) {
        rc = store_write(g_store, sql, v, 7, NULL);
        if (rc < 0) {
            atomic_fetch_add(&n_refused, 1);
        }
    }
    return rc;
}

int evlog_event(int severity, const char *source, const char *kind, const char *name,
                const char *fmt, ...)
{
    char text[TEXT_MAX];
    int64_t t = wall_ns();
    int synced = evlog_clock_synced();
    va_list ap;
    int rc;

    severity = clamp_severity(severity);
    source = source ? source : "gateway";
    kind = kind ? kind : "event";
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (severity <= log_level) {
        char c_src[64], c_kind[64], c_name[128], c_text[TEXT_MAX];

        log_write(severity, "event", "%s %s%s%s: %s%s",
                  clean(c_src, sizeof(c_src), source),
                  clean(c_kind, sizeof(c_kind), kind), name ? " " : "",
                  name ? clean(c_name, sizeof(c_name), name) : "",
                  clean(c_text, sizeof(c_text), text),
                  synced ? "" : " (clock not synchronised)");
    }
    atomic_fetch_add(&n_events, 1);
    {
        struct store_val v[7] = {
            {.type = STORE_INT, .i = t},
            {.type = STORE_INT, .i = synced},
            {.type = STORE_INT, .i = severity},
            text_val(source),
            text_val(kind),
            text_val(name),
            text_val(text),
        };

        pthread_rwlock_rdlock(&lock);
        rc = store_entry(ins_event, v);
        pthread_rwlock_unlock(&lock);
    }
    return rc;
}

int evlog_security(int severity, const char *user, const char *remote, const char *kind,
                   const char *fmt, ...)
{
    char text[TEXT_MAX], c_text[TEXT_MAX], c_kind[64], c_user[128], c_remote[128];
    int64_t t = wall_ns();
    int synced = evlog_clock_synced();
    va_list ap;
    int rc;

    severity = clamp_severity(severity);
    kind = kind ? kind : "security";
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    clean(c_kind, sizeof(c_kind), kind);
    clean(c_user, sizeof(c_user), user);
    clean(c_remote, sizeof(c_remote), remote);
    clean(c_text, sizeof(c_text), text);
    LOGF(severity, "security", "%s user=%s remote=%s: %s%s", c_kind, c_user, c_remote,
         c_text, synced ? "" : " (clock not synchronised)");
    atomic_fetch_add(&n_security, 1);
    {
        struct store_val v[7] = {
            {.type = STORE_INT, .i = t},
            {.type = STORE_INT, .i = synced},
            {.type = STORE_INT, .i = severity},
            text_val(user),
            text_val(remote),
            text_val(kind),
            text_val(text),
        };
        struct syslog5424_msg m = {
            .severity = severity,
            .t_ns = t,
            .clock_synced = synced,
            .msgid = kind,
            .user = user,
            .remote = remote,
            .text = text,
        };

        pthread_rwlock_rdlock(&lock);
        rc = store_entry(ins_security, v);
        if (g_syslog_local) {
            syslog((g_facility << 3) | severity, "security %s user=%s remote=%s: %s",
                   kind, user ? user : "-", remote ? remote : "-", text);
        }
        if (g_remote) {
            (void) syslog5424_send(g_remote, &m); /* full: dropped and counted */
        }
        pthread_rwlock_unlock(&lock);
    }
    return rc;
}
