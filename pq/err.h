/* err.h - error codes shared by every tier.
 *
 * Functions return 0 or a negative code: either -errno or -PQ_E*.  One int
 * carries both because PQ_EBASE sits above every errno value.  This is the
 * bottom layer: every folder may include it.
 */
#ifndef PQGATE_ERR_H
#define PQGATE_ERR_H

enum pq_err {
    PQ_EBASE = 2000, /* above every errno value */
    PQ_ECONFIG,      /* configuration rejected */
    PQ_EEOF,         /* replay source finished */
    PQ_EFORMAT,      /* malformed file (COMTRADE, profile) */
    PQ_EREFUSED,     /* device answered with an exception */
    PQ_EFRAME,       /* bad CRC, short or malformed response */
    PQ_EFULL,        /* bounded queue full: item dropped and counted */
    PQ_ENOTFOUND,    /* no such name (channel, device, section) */
    PQ_EEXIST,       /* name already taken */
    PQ_ELAST         /* keep last */
};

/* Text for a code as returned by any pqgate function (0, -errno, -PQ_E*).
 * Never NULL, never allocates, thread-safe. */
const char *pq_strerror(int rc);

#endif
