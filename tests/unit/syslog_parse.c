/* syslog_parse.c - RFC 5424 parser and loopback collectors for the tests. */
#include "tests/unit/syslog_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pq/utc.h"

static int fail(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A header token: 1..max PRINTUSASCII up to the next SP (6: SP separates). */
static int token(const char **s, const char *end, char *out, size_t max, size_t cap)
{
    size_t n = 0;

    while (*s < end && **s != ' ') {
        unsigned char c = (unsigned char) **s;

        if (c < 33 || c > 126 || n >= max || n + 1 >= cap) {
            return -1;
        }
        out[n++] = (char) c;
        (*s)++;
    }
    out[n] = '\0';
    if (n == 0 || *s >= end) {
        return -1;
    }
    (*s)++; /* the SP */
    return 0;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* 6.2.3: YYYY-MM-DDThh:mm:ss[.1*6DIGIT]Z (only the UTC form is sent) */
static int parse_time(const char *t, int64_t *ns)
{
    int y, mo, d, h, mi, sec, frac = 0, nf = 0;
    size_t len = strlen(t);

    if (len < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':' || t[len - 1] != 'Z') {
        return -1;
    }
    if (digits(t, 4, &y) || digits(t + 5, 2, &mo) || digits(t + 8, 2, &d) ||
        digits(t + 11, 2, &h) || digits(t + 14, 2, &mi) || digits(t + 17, 2, &sec)) {
        return -1;
    }
    if (t[19] == '.') {
        nf = (int) len - 21;
        if (nf < 1 || nf > 6 || digits(t + 20, nf, &frac)) {
            return -1;
        }
    } else if (len != 20) {
        return -1;
    }
    for (int i = nf; i < 9; i++) {
        frac *= 10;
    }
    *ns = (pq_days_from_civil(y, (unsigned) mo, (unsigned) d) * 86400 + h * 3600 +
           mi * 60 + sec) *
              1000000000LL +
          frac;
    return 0;
}

static int sd_name(const char **s, const char *end, char *out, size_t cap)
{
    size_t n = 0;

    while (*s < end) {
        unsigned char c = (unsigned char) **s;

        if (c == '=' || c == ' ' || c == ']' || c == '"') {
            break;
        }
        if (c < 33 || c > 126 || n >= 32 || n + 1 >= cap) {
            return -1;
        }
        out[n++] = (char) c;
        (*s)++;
    }
    out[n] = '\0';
    return n ? 0 : -1;
}

static int sd_element(const char **s, const char *end, struct parsed5424 *p)
{
    int k = p->n_sd;

    if (k >= 4) {
        return -1;
    }
    (*s)++; /* '[' */
    if (sd_name(s, end, p->sd[k].id, sizeof(p->sd[k].id)) < 0) {
        return -1;
    }
    p->sd[k].n = 0;
    while (*s < end && **s == ' ') {
        int j = p->sd[k].n;
        size_t n = 0;

        if (j >= 6) {
            return -1;
        }
        (*s)++;
        if (sd_name(s, end, p->sd[k].name[j], sizeof(p->sd[k].name[j])) < 0 ||
            *s + 1 >= end || (*s)[0] != '=' || (*s)[1] != '"') {
            return -1;
        }
        *s += 2;
        while (*s < end && **s != '"') {
            if (**s == '\\' && *s + 1 < end &&
                ((*s)[1] == '"' || (*s)[1] == '\\' || (*s)[1] == ']')) {
                (*s)++;
            } else if (**s == ']') {
                return -1; /* 6.3.3: ']' MUST be escaped */
            }
            if (n + 1 >= sizeof(p->sd[k].value[j])) {
                return -1;
            }
            p->sd[k].value[j][n++] = **s;
            (*s)++;
        }
        if (*s >= end) {
            return -1;
        }
        p->sd[k].value[j][n] = '\0';
        (*s)++; /* closing quote */
        p->sd[k].n++;
    }
    if (*s >= end || **s != ']') {
        return -1;
    }
    (*s)++;
    p->n_sd++;
    return 0;
}

int parse5424(const char *buf, size_t len, struct parsed5424 *p, char *why, size_t cap)
{
    const char *s = buf, *end = buf + len;
    char *e;
    long v;

    memset(p, 0, sizeof(*p));
    /* 6.2.1: "<" 1*3DIGIT ">" then VERSION "1" */
    if (s >= end || *s != '<') {
        return fail(why, cap, "no '<' at the start");
    }
    v = strtol(s + 1, &e, 10);
    if (e == s + 1 || e - s - 1 > 3 || e >= end || *e != '>' || v < 0 || v > 191) {
        return fail(why, cap, "bad PRI");
    }
    p->pri = (int) v;
    s = e + 1;
    if (end - s < 2 || s[0] != '1' || s[1] != ' ') {
        return fail(why, cap, "VERSION is not 1");
    }
    p->version = 1;
    s += 2;
    if (token(&s, end, p->timestamp, 32, sizeof(p->timestamp)) < 0 ||
        parse_time(p->timestamp, &p->t_ns) < 0) {
        return fail(why, cap, "bad TIMESTAMP");
    }
    if (token(&s, end, p->hostname, 255, sizeof(p->hostname)) < 0) {
        return fail(why, cap, "bad HOSTNAME");
    }
    if (token(&s, end, p->app_name, 48, sizeof(p->app_name)) < 0) {
        return fail(why, cap, "bad APP-NAME");
    }
    if (token(&s, end, p->procid, 128, sizeof(p->procid)) < 0) {
        return fail(why, cap, "bad PROCID");
    }
    if (token(&s, end, p->msgid, 32, sizeof(p->msgid)) < 0) {
        return fail(why, cap, "bad MSGID");
    }
    /* 6.3: NILVALUE or 1*SD-ELEMENT */
    if (s < end && *s == '-') {
        s++;
    } else {
        if (s >= end || *s != '[') {
            return fail(why, cap, "bad STRUCTURED-DATA");
        }
        while (s < end && *s == '[') {
            if (sd_element(&s, end, p) < 0) {
                return fail(why, cap, "bad SD-ELEMENT");
            }
        }
    }
    /* 6.4: [SP MSG], MSG-UTF8 starting with the BOM, or MSG-ANY */
    if (s < end) {
        if (*s != ' ') {
            return fail(why, cap, "no SP before MSG");
        }
        s++;
        if (end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            p->bom = 1;
            s += 3;
        }
        if ((size_t) (end - s) >= sizeof(p->msg)) {
            return fail(why, cap, "MSG too long for the test");
        }
        memcpy(p->msg, s, (size_t) (end - s));
        p->msg[end - s] = '\0';
    }
    return 0;
}

const char *sd_param(const struct parsed5424 *p, const char *id, const char *name)
{
    for (int k = 0; k < p->n_sd; k++) {
        if (strcmp(p->sd[k].id, id) != 0) {
            continue;
        }
        for (int j = 0; j < p->sd[k].n; j++) {
            if (strcmp(p->sd[k].name[j], name) == 0) {
                return p->sd[k].value[j];
            }
        }
    }
    return NULL;
}

int collector_open(int tcp, int port_in, int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int one = 1;
    int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t) port_in);
    if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || (tcp && listen(fd, 4) < 0) ||
        getsockname(fd, (struct sockaddr *) &a, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, timeout_ms) == 1;
}

int collector_read(int fd, int tcp, char *buf, size_t cap, int timeout_ms, char *why,
                   size_t why_cap)
{
    size_t len = 0, got = 0;
    int ndig = 0;

    if (!tcp) {
        ssize_t n;

        if (!wait_readable(fd, timeout_ms)) {
            return fail(why, why_cap, "no datagram within %d ms", timeout_ms);
        }
        n = recv(fd, buf, cap - 1, 0);
        if (n < 0) {
            return fail(why, why_cap, "recv: %s", strerror(errno));
        }
        buf[n] = '\0';
        return (int) n;
    }
    /* RFC 6587 3.4.1: MSG-LEN (NONZERO-DIGIT *DIGIT) SP SYSLOG-MSG */
    for (;;) {
        char c;
        ssize_t n;

        if (!wait_readable(fd, timeout_ms)) {
            return fail(why, why_cap, "no frame within %d ms", timeout_ms);
        }
        n = recv(fd, &c, 1, 0);
        if (n == 0 && ndig == 0) {
            return 0;
        }
        if (n != 1) {
            return fail(why, why_cap, "stream ended inside MSG-LEN");
        }
        if (c == ' ' && ndig > 0) {
            break;
        }
        if (c < '0' || c > '9' || (ndig == 0 && c == '0') || ndig >= 9) {
            return fail(why, why_cap, "bad MSG-LEN character 0x%02x", (unsigned char) c);
        }
        len = len * 10 + (size_t) (c - '0');
        ndig++;
    }
    if (len >= cap) {
        return fail(why, why_cap, "frame of %zu bytes too long for the test", len);
    }
    while (got < len) {
        ssize_t n;

        if (!wait_readable(fd, timeout_ms)) {
            return fail(why, why_cap, "frame cut after %zu of %zu bytes", got, len);
        }
        n = recv(fd, buf + got, len - got, 0);
        if (n <= 0) {
            return fail(why, why_cap, "stream ended inside a frame");
        }
        got += (size_t) n;
    }
    buf[len] = '\0';
    return (int) len;
}
