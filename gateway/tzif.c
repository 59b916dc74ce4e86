/* tzif.c - TZif (RFC 8536) reader and POSIX TZ rule evaluation.
 *
 * The file is parsed once into arrays; lookups are binary searches over the
 * transition times, then the footer rule for instants after the last one.
 * Nothing is global; a zone is read-only after tzif_parse(). */
#include "gateway/tzif.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pq/err.h"
#include "pq/utc.h"

#define TZIF_FILE_MAX (1u << 20) /* the largest zone file is about 4 KiB */

/* A POSIX TZ rule date: Jn (1..365, no Feb 29), n (0..365) or Mm.w.d. */
enum rule_kind {
    RULE_JULIAN1,
    RULE_JULIAN0,
    RULE_MWD,
};

struct rule_date {
    int kind;      /* enum rule_kind */
    int day;       /* Jn / n */
    int mon, week; /* Mm.w.d */
    int wday;      /* 0 = Sunday */
    int32_t time;  /* seconds after local midnight, -167h..167h (v3) */
};

/* RFC 8536 3.3: the footer, a POSIX TZ string. */
struct posix_tz {
    int valid;
    int32_t std_off; /* seconds east */
    int has_dst;
    int32_t dst_off;
    struct rule_date start, end;
};

struct tzif {
    char name[TZIF_NAME_MAX];
    size_t ntrans;
    int64_t *trans; /* [ntrans] UTC seconds, ascending */
    uint8_t *idx;   /* [ntrans] type index */
    size_t ntypes;
    int32_t *utoff; /* [ntypes] */
    uint8_t *isdst; /* [ntypes] */
    struct posix_tz rule;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t) ((uint64_t) be32(p) << 32 | be32(p + 4));
}

/* ---- POSIX TZ string (footer) ---- */

static const char *parse_num(const char *s, int lo, int hi, int *out)
{
    int v = 0, digits = 0;

    while (*s >= '0' && *s <= '9' && digits < 4) {
        v = v * 10 + (*s++ - '0');
        digits++;
    }
    if (digits == 0 || v < lo || v > hi) {
        return NULL;
    }
    *out = v;
    return s;
}

/* [+-]hh[:mm[:ss]] into seconds; hours up to maxh. */
static const char *parse_hms(const char *s, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, sec = 0;

    if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
    }
    s = parse_num(s, 0, maxh, &h);
    if (s && *s == ':') {
        s = parse_num(s + 1, 0, 59, &m);
        if (s && *s == ':') {
            s = parse_num(s + 1, 0, 59, &sec);
        }
    }
    if (s) {
        *out = sign * (h * 3600 + m * 60 + sec);
    }
    return s;
}

/* A zone abbreviation: 3+ letters, or <...> quoted with letters, digits, +-. */
static const char *parse_abbr(const char *s)
{
    const char *start = s;

    if (*s == '<') {
        s++;
        while (*s && *s != '>') {
            s++;
        }
        return *s == '>' && s - start >= 4 ? s + 1 : NULL;
    }
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
        s++;
    }
    return s - start >= 3 ? s : NULL;
}

static const char *parse_rule_date(const char *s, struct rule_date *d)
{
    d->time = 2 * 3600; /* POSIX default 02:00:00 */
    if (*s == 'J') {
        d->kind = RULE_JULIAN1;
        s = parse_num(s + 1, 1, 365, &d->day);
    } else if (*s == 'M') {
        d->kind = RULE_MWD;
        s = parse_num(s + 1, 1, 12, &d->mon);
        if (s && *s == '.') {
            s = parse_num(s + 1, 1, 5, &d->week);
        } else {
            s = NULL;
        }
        if (s && *s == '.') {
            s = parse_num(s + 1, 0, 6, &d->wday);
        } else {
            s = NULL;
        }
    } else {
        d->kind = RULE_JULIAN0;
        s = parse_num(s, 0, 365, &d->day);
    }
    if (s && *s == '/') {
        s = parse_hms(s + 1, 167, &d->time);
    }
    return s;
}

/* "CET-1CEST,M3.5.0,M10.5.0/3": offsets in POSIX are hours west. */
static int parse_posix(const char *s, struct posix_tz *p)
{
    int32_t off;

    memset(p, 0, sizeof(*p));
    s = parse_abbr(s);
    if (!s || !(s = parse_hms(s, 24, &off))) {
        return -PQ_EFORMAT;
    }
    p->std_off = -off;
    if (*s == '\0') {
        p->valid = 1;
        return 0;
    }
    s = parse_abbr(s);
    if (!s) {
        return -PQ_EFORMAT;
    }
    p->has_dst = 1;
    p->dst_off = p->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!(s = parse_hms(s, 24, &off))) {
            return -PQ_EFORMAT;
        }
        p->dst_off = -off;
    }
    if (*s != ',') {
        return -PQ_EFORMAT; /* no rules: POSIX leaves it to the system */
    }
    s = parse_rule_date(s + 1, &p->start);
    if (!s || *s != ',') {
        return -PQ_EFORMAT;
    }
    s = parse_rule_date(s + 1, &p->end);
    if (!s || *s != '\0') {
        return -PQ_EFORMAT;
    }
    p->valid = 1;
    return 0;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* Days since the epoch of a rule date in year y (local calendar). */
static int64_t rule_day(const struct rule_date *d, int64_t y)
{
    int64_t jan1 = pq_days_from_civil(y, 1, 1);

    if (d->kind == RULE_JULIAN1) {
        /* Jn: Feb 29 is never counted, so day 60 is always Mar 1 */
        return jan1 + d->day - 1 + (is_leap(y) && d->day >= 60 ? 1 : 0);
    }
    if (d->kind == RULE_JULIAN0) {
        return jan1 + d->day;
    }
    {
        int64_t first = pq_days_from_civil(y, (unsigned) d->mon, 1);
        int wd1 = (int) (((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        int64_t day = first + (d->wday - wd1 + 7) % 7 + (int64_t) (d->week - 1) * 7;
        unsigned len = mdays[d->mon - 1] + (d->mon == 2 && is_leap(y) ? 1 : 0);

        while (day >= first + len) {
            day -= 7; /* week 5: the last such weekday of the month */
        }
        return day;
    }
}

static int32_t posix_offset(const struct posix_tz *p, int64_t t_s, int *is_dst)
{
    struct pq_utc u;
    int64_t start, end;
    int dst;

    if (!p->has_dst) {
        *is_dst = 0;
        return p->std_off;
    }
    pq_utc_from_ns(pq_floor_div(t_s + p->std_off, 86400) * PQ_DAY_NS, &u);
    /* start is given in standard time, end in daylight time (POSIX) */
    start = rule_day(&p->start, u.year) * 86400 + p->start.time - p->std_off;
    end = rule_day(&p->end, u.year) * 86400 + p->end.time - p->dst_off;
    if (start < end) {
        dst = t_s >= start && t_s < end;
    } else {
        dst = !(t_s >= end && t_s < start); /* southern hemisphere */
    }
    *is_dst = dst;
    return dst ? p->dst_off : p->std_off;
}

/* ---- the binary file ---- */

struct hdr {
    int version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_hdr(const uint8_t *p, size_t len, struct hdr *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0) {
        return -PQ_EFORMAT;
    }
    h->version = p[4] == 0 ? 1 : p[4] - '0';
    if (h->version < 1 || h->version > 9) {
        return -PQ_EFORMAT;
    }
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->timecnt > 100000 ||
        h->leapcnt > 100000 || h->charcnt > 100000 ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)) {
        return -PQ_EFORMAT;
    }
    return 0;
}

static size_t data_len(const struct hdr *h, size_t tsize)
{
    return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static int fill(struct tzif *z, const struct hdr *h, const uint8_t *p, size_t tsize)
{
    const uint8_t *idx = p + h->timecnt * tsize;
    const uint8_t *types = idx + h->timecnt;

    z->ntrans = h->timecnt;
    z->ntypes = h->typecnt;
    z->trans = calloc(h->timecnt + 1, sizeof(*z->trans));
    z->idx = calloc(h->timecnt + 1, 1);
    z->utoff = calloc(h->typecnt, sizeof(*z->utoff));
    z->isdst = calloc(h->typecnt, 1);
    if (!z->trans || !z->idx || !z->utoff || !z->isdst) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < h->timecnt; i++) {
        z->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t) be32(p + i * 4);
        z->idx[i] = idx[i];
        if (idx[i] >= h->typecnt || (i > 0 && z->trans[i] <= z->trans[i - 1])) {
            return -PQ_EFORMAT;
        }
    }
    for (size_t i = 0; i < h->typecnt; i++) {
        int32_t off = (int32_t) be32(types + i * 6);

        if (off < -25 * 3600 || off > 26 * 3600 || types[i * 6 + 4] > 1) {
            return -PQ_EFORMAT;
        }
        z->utoff[i] = off;
        z->isdst[i] = types[i * 6 + 4];
    }
    return 0;
}

static int parse_footer(struct tzif *z, const uint8_t *p, size_t len)
{
    char buf[128];
    const uint8_t *nl;

    if (len < 2 || p[0] != '\n') {
        return -PQ_EFORMAT;
    }
    nl = memchr(p + 1, '\n', len - 1);
    if (!nl || (size_t) (nl - p - 1) >= sizeof(buf)) {
        return -PQ_EFORMAT;
    }
    if (nl == p + 1) {
        return 0; /* empty footer: no rule */
    }
    memcpy(buf, p + 1, (size_t) (nl - p - 1));
    buf[nl - p - 1] = '\0';
    return parse_posix(buf, &z->rule);
}

int tzif_parse(const uint8_t *buf, size_t len, const char *name, struct tzif **out)
{
    struct tzif *z;
    struct hdr h;
    size_t n1;
    int rc = read_hdr(buf, len, &h);

    if (rc < 0) {
        return rc;
    }
    z = calloc(1, sizeof(*z));
    if (!z) {
        return -ENOMEM;
    }
    snprintf(z->name, sizeof(z->name), "%s", name ? name : "");
    n1 = 44 + data_len(&h, 4);
    if (n1 > len) {
        rc = -PQ_EFORMAT;
    } else if (h.version == 1) {
        rc = fill(z, &h, buf + 44, 4);
    } else {
        const uint8_t *p2 = buf + n1;
        size_t n2;

        rc = read_hdr(p2, len - n1, &h);
        n2 = rc == 0 ? 44 + data_len(&h, 8) : 0;
        if (rc == 0 && n2 > len - n1) {
            rc = -PQ_EFORMAT;
        }
        if (rc == 0) {
            rc = fill(z, &h, p2 + 44, 8);
        }
        if (rc == 0) {
            rc = parse_footer(z, p2 + n2, len - n1 - n2);
        }
    }
    if (rc < 0) {
        tzif_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

static int valid_zone_name(const char *name)
{
    size_t len = strlen(name);

    return len > 0 && len < TZIF_NAME_MAX && name[0] != '/' && !strstr(name, "..") &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789/_+-") == len;
}

int tzif_load(const char *name, struct tzif **out)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    uint8_t *buf;
    struct stat st;
    ssize_t got;
    int fd, rc;

    if (!name || !valid_zone_name(name)) {
        return -EINVAL;
    }
    if (!dir || !*dir) {
        dir = "/usr/share/zoneinfo";
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT || errno == ENOTDIR ? -PQ_ENOTFOUND : -errno;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TZIF_FILE_MAX) {
        close(fd);
        return -PQ_ENOTFOUND;
    }
    buf = malloc((size_t) st.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    got = read(fd, buf, (size_t) st.st_size);
    close(fd);
    rc = got == st.st_size ? tzif_parse(buf, (size_t) got, name, out) : -PQ_EFORMAT;
    free(buf);
    return rc;
}

void tzif_free(struct tzif *z)
{
    if (z) {
        free(z->trans);
        free(z->idx);
        free(z->utoff);
        free(z->isdst);
        free(z);
    }
}

const char *tzif_name(const struct tzif *z)
{
    return z->name;
}

int32_t tzif_offset(const struct tzif *z, int64_t t_s, int *is_dst)
{
    int dummy;
    size_t lo = 0, hi = z->ntrans;

    if (!is_dst) {
        is_dst = &dummy;
    }
    if ((z->ntrans == 0 || t_s >= z->trans[z->ntrans - 1]) && z->rule.valid) {
        return posix_offset(&z->rule, t_s, is_dst);
    }
    if (z->ntrans == 0 || t_s < z->trans[0]) {
        *is_dst = z->isdst[0];
        return z->utoff[0]; /* RFC 8536 3.2: type 0 before the first */
    }
    while (hi - lo > 1) { /* last transition <= t_s */
        size_t mid = lo + (hi - lo) / 2;

        if (z->trans[mid] <= t_s) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    *is_dst = z->isdst[z->idx[lo]];
    return z->utoff[z->idx[lo]];
}

int64_t tzif_utc_from_local(const struct tzif *z, int64_t local_s)
{
    /* A civil time has at most two readings, one per offset in force a day
     * either side (no zone changes twice within two days). */
    int32_t before = tzif_offset(z, local_s - 86400, NULL);
    int32_t after = tzif_offset(z, local_s + 86400, NULL);
    int64_t t_before = local_s - before, t_after = local_s - after;
    int ok_before = tzif_offset(z, t_before, NULL) == before;
    int ok_after = tzif_offset(z, t_after, NULL) == after;

    if (ok_before && ok_after) {
        return t_before < t_after ? t_before : t_after;
    }
    if (ok_before) {
        return t_before;
    }
    if (ok_after) {
        return t_after;
    }
    return t_before; /* in the gap: read with the offset before the change */
}
