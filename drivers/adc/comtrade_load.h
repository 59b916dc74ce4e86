/* comtrade_load.h - read a COMTRADE recording from disk.
 *
 * The file side of pq/comtrade.h: finds the companion file, reads the
 * files whole and hands them to the parser.  Blocking I/O; no state kept
 * between calls, so any thread may call it.
 */
#ifndef PQGATE_COMTRADE_LOAD_H
#define PQGATE_COMTRADE_LOAD_H

#include <stddef.h>

#define COMTRADE_LOAD_MAX ((size_t) 2 << 30) /* bytes per file: 2 GiB */

struct pq_comtrade;

/* Load the recording at path: a .cfg (its .dat is found beside it), a .dat
 * (its .cfg likewise) or a 2013 .cff.  The companion has the same stem and
 * its extension in any letter case: the one matching the given extension's
 * case is preferred, then lower, then upper case, then any other.
 * Returns 0 and *out (free with pq_comtrade_free()), or a negative code
 * with a message in err (NUL-terminated, at most errcap bytes) that names
 * the path: -ENOENT and other -errno (file missing or unreadable), -EFBIG
 * (over COMTRADE_LOAD_MAX), -EINVAL (not .cfg/.dat/.cff, not a regular
 * file), -PQ_EFORMAT (the parser's message: file, line, field), -ENOMEM. */
int comtrade_load(const char *path, struct pq_comtrade **out, char *err, size_t errcap);

#endif
