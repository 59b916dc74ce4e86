/* evlog.h - the event log and the security log.
 *
 * The event log holds what happened to the installation (alarms going
 * active, acknowledged and clear, PQ events, configuration changes,
 * power-up and shutdown, devices lost and back); the security log holds
 * who did what (user login and logout, failed logins, configuration and
 * software changes, user management).  Each entry is time-stamped to the
 * millisecond (CLOCK_REALTIME) with the clock-sync state of the kernel
 * (adjtimex: synchronised by NTP/PTP or not), kept in the onboard store
 * (tables "event_log" and "security_log") and written to the process log;
 * security entries also go to syslog, local and remote (RFC 5424 over UDP
 * or TCP) when configured.
 *
 * One process-wide log, like config/log.h: evlog_open() is called by the
 * store component at start, and every component may call evlog_event() and
 * evlog_security() from any thread without holding a handle.  Before
 * evlog_open() (or when no store is configured) entries still reach the
 * process log and syslog.
 */
#ifndef PQGATE_EVLOG_H
#define PQGATE_EVLOG_H

#include <stdint.h>

struct store;

/* Where security entries go besides the store and the process log. */
struct evlog_cfg {
    int syslog_local;        /* syslog(3) */
    int facility;            /* RFC 5424 code 0..23 for syslog(3); authpriv: 10 */
    const char *remote_host; /* NULL or "": no remote collector */
    int remote_port;
    int remote_proto;     /* enum syslog5424_proto: UDP or TCP */
    int remote_facility;  /* code 0..23 */
    const char *hostname; /* HOSTNAME of remote messages; NULL: gethostname() */
};

/* Tables "event_log" and "security_log" (both droppable, oldest first):
 *   t_ns INTEGER      CLOCK_REALTIME in ns (at least millisecond-accurate)
 *   clock_sync INTEGER 1: the kernel clock is synchronised (NTP/PTP), 0: not
 *   severity INTEGER  syslog level 0..7
 *   source / user TEXT, remote TEXT (security_log), kind TEXT, name TEXT
 *   (event_log), text TEXT
 * with an index on t_ns. */

/* Start the process-wide log on store s (NULL: process log and syslog only),
 * declaring the two tables; starts the remote syslog sender when cfg names
 * a host.  A second call replaces the first (evlog_close() first).  Returns
 * 0 or a negative code (the tables could not be created: logged); the log
 * is usable either way. */
int evlog_open(struct store *s, const struct evlog_cfg *cfg);

/* Stop using the store (before store_close()) and the remote sender, which
 * gets up to 0.5 s to deliver what it holds. */
void evlog_close(void);

/* The kernel's clock state (adjtimex): 1 synchronised, 0 not (STA_UNSYNC set
 * or TIME_ERROR). */
int evlog_clock_synced(void);

/* Test seam: take the clock-sync state from fn instead of the kernel (NULL
 * puts the kernel back). */
void evlog_set_clock_fn(int (*fn)(void));

struct evlog_stats {
    uint64_t events, security;            /* entries logged */
    uint64_t store_refused;               /* entries the store queue refused */
    uint64_t remote_sent, remote_dropped; /* remote syslog: sent, dropped (queue full) */
};

void evlog_stats(struct evlog_stats *out);

/* Severity: syslog levels (LOG_EMERG..LOG_DEBUG). */

/* An entry of the event log.  source: who reports it ("alarm", "meter",
 * "modbus", "gateway", "config"); kind: a stable machine word ("alarm_active",
 * "alarm_clear", "alarm_ack", "dip", "power_up", "shutdown", "config_change",
 * "device_lost", "device_back"); name: the object (alarm, device) or NULL;
 * text: the human sentence (printf format).  Returns 0 or a negative code
 * (store queue full: still logged to the process log). */
int evlog_event(int severity, const char *source, const char *kind, const char *name,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An entry of the security log.  user: the account or NULL (the system);
 * remote: the client address or NULL; kind: "login", "logout",
 * "login_failed", "config_change", "software_update", "user_added", ... */
int evlog_security(int severity, const char *user, const char *remote, const char *kind,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
