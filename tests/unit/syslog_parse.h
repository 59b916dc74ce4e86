/* syslog_parse.h - a strict parser of RFC 5424 messages for the tests, and
 * a loopback UDP and TCP collector. */
#ifndef PQGATE_TEST_SYSLOG_PARSE_H
#define PQGATE_TEST_SYSLOG_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct parsed5424 {
    int pri, version;
    char timestamp[64];
    int64_t t_ns; /* from timestamp */
    char hostname[256], app_name[64], procid[160], msgid[64];
    /* structured data: up to 4 elements of up to 6 params, unescaped */
    int n_sd;

    struct {
        char id[40];
        int n;
        char name[6][40];
        char value[6][256];
    } sd[4];

    int bom;
    char msg[2048];
};

/* Parse buf[len] (no framing).  Returns 0, or -1 with why[] saying what
 * broke the grammar (RFC 5424 6). */
int parse5424(const char *buf, size_t len, struct parsed5424 *p, char *why, size_t cap);

/* The value of param name of element id, or NULL. */
const char *sd_param(const struct parsed5424 *p, const char *id, const char *name);

/* A collector on 127.0.0.1: returns the fd bound (and, for TCP, listening)
 * on a free port, the port in *port; port_in > 0 asks for that port. */
int collector_open(int tcp, int port_in, int *port);

/* Read one UDP datagram or one RFC 6587 octet-counted TCP frame from fd
 * within timeout_ms; returns its length, 0 on end of stream, -1 on timeout
 * or a framing error (why says). */
int collector_read(int fd, int tcp, char *buf, size_t cap, int timeout_ms, char *why,
                   size_t why_cap);

#endif
