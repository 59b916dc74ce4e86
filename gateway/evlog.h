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
