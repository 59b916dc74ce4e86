/* syslog5424.h - a sender of RFC 5424 syslog messages to one remote
 * collector, over UDP (RFC 5426: one message per datagram) or TCP (RFC 6587
 * 3.4.1 octet counting: "MSG-LEN SP SYSLOG-MSG").
 *
 * syslog5424_send() formats the message and queues it; a thread of the
 * sender resolves the host, connects, writes, and on a lost connection
 * reconnects with a back-off from 1 s doubling to 60 s.  The caller never
 * waits for the network: when the queue is full the new message is dropped
 * and counted (drop newest).  Messages queued while the collector is away are
 * sent when it is back; a UDP collector that is away loses what is sent
 * meanwhile, as UDP does.
 */
#ifndef PQGATE_SYSLOG5424_H
#define PQGATE_SYSLOG5424_H

#include <stddef.h>
#include <stdint.h>

#define SYSLOG5424_MAX 2048 /* bytes of one message; longer text is cut */

enum syslog5424_proto {
    SYSLOG5424_UDP,
    SYSLOG5424_TCP,
};

struct syslog5424_cfg {
    const char *host; /* name or address of the collector */
    int port;
    int proto;            /* enum syslog5424_proto */
    int facility;         /* RFC 5424 6.2.1 code, 0..23 (authpriv: 10) */
    const char *hostname; /* HOSTNAME field; NULL: gethostname() */
    const char *app_name; /* APP-NAME field; NULL: "pqgate" */
    size_t queue_cap;     /* messages; 0: 256 */
};

/* One message's fields, as they go on the wire (RFC 5424 6). */
struct syslog5424_msg {
    int severity;       /* 0..7 (LOG_EMERG..LOG_DEBUG) */
    int64_t t_ns;       /* CLOCK_REALTIME; sent in UTC to the microsecond */
    int clock_synced;   /* the timeQuality isSynced parameter (RFC 5424 7.1) */
    const char *msgid;  /* MSGID (e.g. "login"), or NULL: "-" */
    const char *user;   /* SD-PARAMs of the pqgate element, or NULL */
    const char *remote; /* the client's address, or NULL */
    const char *text;   /* MSG */
};

struct syslog5424;

struct syslog5424_stats {
    uint64_t queued;   /* accepted by syslog5424_send() */
    uint64_t sent;     /* written to the socket */
    uint64_t dropped;  /* refused: queue full */
    uint64_t connects; /* successful connections (TCP) */
    uint64_t send_errors;
    int connected; /* TCP: now connected; UDP: socket ready */
};

/* Start a sender.  Returns 0 and the sender in *out (stop with
 * syslog5424_close()), -EINVAL (no host, port out of range) or -ENOMEM.
 * The host is resolved later, on the sender's thread. */
int syslog5424_open(const struct syslog5424_cfg *cfg, struct syslog5424 **out);

/* Send what is queued for at most linger_ms more, then stop.  NULL: no-op. */
void syslog5424_close(struct syslog5424 *s, int linger_ms);

/* Format and queue one message; any thread, never blocks on the network.
 * Returns 0 or -PQ_EFULL (dropped, counted). */
int syslog5424_send(struct syslog5424 *s, const struct syslog5424_msg *m);

void syslog5424_stats(struct syslog5424 *s, struct syslog5424_stats *out);

/* Write the RFC 5424 message (without transport framing) into buf[cap],
 * NUL-terminated; returns its length (cut to cap - 1).  hostname, app_name:
 * as in the cfg (not NULL); procid: the PROCID field.  Pure: for the sender,
 * tests and the fuzzer. */
size_t syslog5424_format(char *buf, size_t cap, int facility, const char *hostname,
                         const char *app_name, long procid,
                         const struct syslog5424_msg *m);

#endif
