/* tzif.h - a reader of the system time zone database (TZif files, RFC 8536).
 *
 * Converts between UTC and a site's civil time without the C library's
 * process-global TZ state (setenv("TZ") + localtime_r is not thread-safe
 * and changes every thread's view): a zone is an immutable object, safe to
 * share between threads once loaded.
 *
 * Versions 1, 2 and 3 are read; for v2+ the 64-bit block is used and the
 * POSIX TZ footer rule (RFC 8536 section 3.3, POSIX.1-2017 section 8.3
 * "TZ", with the v3 extensions: hours -167..167 in rule times) gives the
 * offset after the last transition, which is how "slim" files (Debian 12)
 * describe every year after 2007.  Leap second records are skipped: times
 * here are POSIX times (the "right/" zones are not supported).
 */
#ifndef PQGATE_TZIF_H
#define PQGATE_TZIF_H

#include <stddef.h>
#include <stdint.h>

#define TZIF_NAME_MAX 64 /* bytes of a zone name, NUL included */

struct tzif; /* opaque, immutable once loaded */

/* Parse a TZif file held in buf[0..len) (name is kept for messages).
 * Returns 0 and the zone in *out (release with tzif_free()), -PQ_EFORMAT
 * for a malformed file or footer, or -ENOMEM. */
int tzif_parse(const uint8_t *buf, size_t len, const char *name, struct tzif **out);

/* Load zone name ("Europe/Paris", "UTC") from $TZDIR or /usr/share/zoneinfo.
 * A name that is empty, absolute, contains ".." or other than
 * [A-Za-z0-9/_+-] is -EINVAL; a missing zone is -PQ_ENOTFOUND; otherwise as
 * tzif_parse(). */
int tzif_load(const char *name, struct tzif **out);

void tzif_free(struct tzif *z); /* NULL is a no-op */

const char *tzif_name(const struct tzif *z);

/* UTC offset (seconds east of Greenwich) in force at the UTC instant t_s
 * (seconds since the epoch); *is_dst (when not NULL) gets the DST flag. */
int32_t tzif_offset(const struct tzif *z, int64_t t_s, int *is_dst);

/* The UTC instant of a civil time local_s (seconds since the epoch as if the
 * local wall clock were UTC).  An ambiguous time (the repeated hour in
 * autumn) gives the earlier instant; a time that does not exist (the
 * skipped hour in spring) is read with the offset before the change, so
 * 02:30 on a spring-forward day at 02:00 gives the instant the clock shows
 * 03:30.  Returns the UTC instant in seconds. */
int64_t tzif_utc_from_local(const struct tzif *z, int64_t local_s);

#endif
