/* log.c - log lines to stderr (journald-ready) or syslog.
 *
 * A line is formatted into one buffer and written with one write(2), so
 * lines from several threads never interleave.  Under systemd, journald
 * sets JOURNAL_STREAM and reads the "<N>" prefix as the priority and adds
 * its own time stamp; on a terminal we add a UTC time stamp.
 */
#include "config/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int log_level = LOG_INFO;

static enum log_target target = LOG_TO_STDERR;
static int stamp = 1;

static const char *const names[] = {"emerg",   "alert",  "crit", "error",
                                    "warning", "notice", "info", "debug"};

int log_level_from_name(const char *name)
{
    for (int i = 0; i < 8; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            return i;
        }
    }
    if (strcasecmp(name, "warn") == 0) {
        return LOG_WARNING;
    }
    if (strcasecmp(name, "err") == 0) {
        return LOG_ERR;
    }
    return -1;
}

const char *log_level_name(int level)
{
    return level >= 0 && level < 8 ? names[level] : "?";
}

void log_open(const char *ident, enum log_target t, int level)
{
    if (target == LOG_TO_SYSLOG && t != LOG_TO_SYSLOG) {
        closelog();
    }
    if (t == LOG_TO_SYSLOG && target != LOG_TO_SYSLOG) {
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    }
    target = t;
    stamp = getenv("JOURNAL_STREAM") == NULL;
    log_set_level(level);
}

void log_set_level(int level)
{
    log_level = level < LOG_EMERG ? LOG_EMERG : level > LOG_DEBUG ? LOG_DEBUG : level;
}

void log_close(void)
{
    if (target == LOG_TO_SYSLOG) {
        closelog();
    }
    target = LOG_TO_STDERR;
}

static size_t format_stamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t) snprintf(buf + n, cap - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    return n < cap ? n : cap - 1;
}

void log_write(int lvl, const char *tag, const char *fmt, ...)
{
    char line[1024];
    size_t n = 0;
    va_list ap;
    int saved = errno;
    int w;

    if (lvl < LOG_EMERG || lvl > LOG_DEBUG) {
        lvl = LOG_ERR;
    }
    if (target == LOG_TO_SYSLOG) {
        va_start(ap, fmt);
        w = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        (void) w;
        syslog(lvl, "%s: %s", tag, line);
        errno = saved;
        return;
    }
    n = (size_t) snprintf(line, sizeof(line), "<%d>", lvl);
    if (stamp) {
        n += format_stamp(line + n, sizeof(line) - n);
    }
    n += (size_t) snprintf(line + n, sizeof(line) - n, "%s %s: ", names[lvl], tag);
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = w < 0 ? n : n + (size_t) w;
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2; /* truncated: keep the newline */
    }
    line[n++] = '\n';
    while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR) {
    }
    errno = saved;
}
