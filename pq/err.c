/* err.c - text for error codes. */
#include "pq/err.h"

#include <string.h>

static const char *const pq_msgs[] = {
    [PQ_ECONFIG - PQ_EBASE] = "configuration rejected",
    [PQ_EEOF - PQ_EBASE] = "end of recording",
    [PQ_EFORMAT - PQ_EBASE] = "malformed file",
    [PQ_EREFUSED - PQ_EBASE] = "device answered with an exception",
    [PQ_EFRAME - PQ_EBASE] = "bad or short frame",
    [PQ_EFULL - PQ_EBASE] = "queue full, item dropped",
    [PQ_ENOTFOUND - PQ_EBASE] = "not found",
    [PQ_EEXIST - PQ_EBASE] = "already exists",
};

const char *pq_strerror(int rc)
{
    int code = rc < 0 ? -rc : rc;

    if (rc == 0) {
        return "success";
    }
    if (code > PQ_EBASE && code < PQ_ELAST) {
        return pq_msgs[code - PQ_EBASE];
    }
    if (code < PQ_EBASE) {
        /* strerrordesc_np (glibc >= 2.32) returns a constant string and,
         * unlike strerror(), is thread-safe. */
        const char *s = strerrordesc_np(code);

        return s ? s : "unknown error";
    }
    return "unknown error";
}
