/* log.h - logging for every program tier (pq/ and drivers/ never log: they
 * return codes and their caller logs once).
 *
 * Lines go to stderr, each with the "<N>" syslog-priority prefix journald
 * reads (and a UTC time stamp when stderr is not the journal), or to
 * syslog(3).  log_write() is thread-safe: one line is one write(2).
 */
#ifndef PQGATE_LOG_H
#define PQGATE_LOG_H

#include <syslog.h>

/* Current threshold: messages with lvl <= log_level are written.  Written
 * only by log_open()/log_set_level(); read without a lock (an int). */
extern int log_level;

enum log_target {
    LOG_TO_STDERR,
    LOG_TO_SYSLOG,
};

/* Select the target and level; ident names the program in syslog.  May be
 * called again (config reload) at any time. */
void log_open(const char *ident, enum log_target target, int level);
void log_set_level(int level);
void log_close(void);

/* Level from its name: "emerg".."debug" (syslog names, also "warn" and
 * "error"); -1 if unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(int level); /* "info"...; never NULL */

/* tag: the module ("modbus", "config", "bus").  Use LOGF, which skips the
 * call, and the evaluation of the arguments, when the level is filtered. */
void log_write(int lvl, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOGF(lvl, tag, ...)                       \
    do {                                          \
        if ((lvl) <= log_level) {                 \
            log_write((lvl), (tag), __VA_ARGS__); \
        }                                         \
    } while (0)

#endif
