/* capture_files.c - COMTRADE files of waveform captures, and retention. */
#include "gateway/capture_files.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pq/capture.h"
#include "pq/comtrade.h"
#include "pq/comtrade_write.h"
#include "pq/err.h"
#include "pq/utc.h"

#define CF_PATH_MAX 4096

/* ---- names ------------------------------------------------------------- */

int capture_file_stem(char *buf, size_t cap, const struct pq_capture_buf *b)
{
    return capture_file_stem_label(buf, cap, b, NULL);
}

void capture_file_label(char *dst, size_t cap, const char *name)
{
    size_t n = 0;

    for (; name[n] && n < CAPTURE_LABEL_MAX && n + 1 < cap; n++) {
        unsigned char c = (unsigned char) name[n];

        dst[n] =
            isalnum(c) || c == '_' || c == '-' || (c == '.' && n > 0) ? (char) c : '_';
    }
    dst[n] = '\0';
}

int capture_file_stem_label(char *buf, size_t cap, const struct pq_capture_buf *b,
                            const char *label)
{
    struct pq_utc u;
    char clean[CAPTURE_LABEL_MAX + 2];

    clean[0] = '_';
    capture_file_label(clean + 1, sizeof(clean) - 1, label ? label : "");
    pq_utc_from_ns(b->trigger_ns, &u);
    return snprintf(buf, cap,
                    "%04" PRId64 "%02u%02uT%02u%02u%02u.%06" PRId64 "Z_%s%s_%" PRIu64,
                    u.year, u.month, u.day, u.hour, u.minute, u.second, u.nsec / 1000,
                    pq_capture_reason_name(b->why.reason), clean[1] ? clean : "", b->seq);
}

void capture_files_desc(struct pq_ct_desc *d, const struct pq_capture_buf *b)
{
    d->n_analog = b->nch;
    d->n_status = b->nstatus;
    d->line_freq_hz = b->f_nom_hz;
    d->rate_hz = b->rate_hz;
    d->nsamples = b->nsamples;
    d->start_ns = b->start_ns;
    d->trigger_ns = b->trigger_ns;
    d->tmq = b->why.tmq >= 0 && b->why.tmq <= 15 ? b->why.tmq : 15;
}

/* ---- writing ----------------------------------------------------------- */

struct fd_sink {
    int fd;
};

static int write_all(void *ctx, const void *buf, size_t len)
{
    const struct fd_sink *s = ctx;
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(s->fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int open_tmp(const char *path, char *err, size_t errcap)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0) {
        int rc = -errno;

        snprintf(err, errcap, "%s: %s", path, strerror(-rc));
        return rc;
    }
    return fd;
}

/* Close fd after flushing it to disk; 0 or -errno. */
static int close_synced(int fd)
{
    int rc = fsync(fd) < 0 ? -errno : 0;

    if (close(fd) < 0 && rc == 0) {
        rc = -errno;
    }
    return rc;
}

static int write_pair(struct pq_ct_writer *w, const struct pq_ct_desc *d,
                      const float *frames, const uint16_t *status,
                      char (*tmp)[CF_PATH_MAX], char *err, size_t errcap)
{
    struct fd_sink s;
    int rc, i;

    for (i = 0; i < 2; i++) { /* .dat, then .cfg */
        s.fd = open_tmp(tmp[i], err, errcap);
        if (s.fd < 0) {
            return s.fd;
        }
        if (i == 0) {
            rc = pq_ct_writer_dat(w, frames, status, (size_t) d->nsamples, write_all, &s);
        } else {
            rc = pq_ct_writer_cfg(w, write_all, &s);
        }
        if (rc == 0) {
            rc = close_synced(s.fd);
        } else {
            close(s.fd);
        }
        if (rc < 0) {
            snprintf(err, errcap, "%s: %s", tmp[i], pq_strerror(rc));
            return rc;
        }
    }
    return 0;
}

int capture_files_write(const char *dir, const char *stem, const struct pq_ct_desc *d,
                        const float *frames, const uint16_t *status, char *err,
                        size_t errcap)
{
    static const char *const ext[2] = {"dat", "cfg"};
    char path[2][CF_PATH_MAX], tmp[2][CF_PATH_MAX];
    struct pq_ct_writer *w = NULL;
    char dummy[1];
    int rc, i;

    if (!err || errcap == 0) {
        err = dummy;
        errcap = sizeof(dummy);
    }
    err[0] = '\0';
    for (i = 0; i < 2; i++) {
        if (snprintf(path[i], CF_PATH_MAX, "%s/%s.%s", dir, stem, ext[i]) >=
                CF_PATH_MAX ||
            snprintf(tmp[i], CF_PATH_MAX, "%s.tmp", path[i]) >= CF_PATH_MAX) {
            snprintf(err, errcap, "%s/%s: path too long", dir, stem);
            return -ENAMETOOLONG;
        }
    }
    rc = pq_ct_writer_new(d, &w, err, errcap);
    if (rc < 0) {
        return rc;
    }
    pq_ct_writer_scan(w, frames, (size_t) d->nsamples);
    rc = write_pair(w, d, frames, status, tmp, err, errcap);
    pq_ct_writer_free(w);
    for (i = 0; rc == 0 && i < 2; i++) {
        if (rename(tmp[i], path[i]) < 0) {
            rc = -errno;
            snprintf(err, errcap, "%s: %s", path[i], strerror(-rc));
            if (i == 1) {
                unlink(path[0]); /* no .dat without its .cfg */
            }
        }
    }
    if (rc < 0) {
        unlink(tmp[0]);
        unlink(tmp[1]);
    }
    return rc;
}

/* ---- retention ----------------------------------------------------------- */

struct cf_file {
    char *name;  /* the directory entry */
    size_t stem; /* length of the stem */
    uint64_t bytes;
    int64_t mtime_ns;
};

struct cf_group {
    const struct cf_file *files; /* n files of one stem */
    size_t n;
    uint64_t bytes;
    int64_t mtime_ns; /* newest file's */
};

static int ext_matches(const char *ext)
{
    static const char *const known[] = {"cfg", "dat", "cff", "hdr", "inf"};
    size_t i, k;

    if (strlen(ext) != 3) {
        return 0;
    }
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        for (k = 0; k < 3; k++) {
            if (tolower((unsigned char) ext[k]) != known[i][k]) {
                break;
            }
        }
        if (k == 3) {
            return 1;
        }
    }
    return 0;
}

static int by_stem(const void *a, const void *b)
{
    const struct cf_file *x = a, *y = b;
    size_t n = x->stem < y->stem ? x->stem : y->stem;
    int c = memcmp(x->name, y->name, n);

    if (c != 0) {
        return c;
    }
    return (x->stem > y->stem) - (x->stem < y->stem);
}

/* Oldest first: newest file's time, then the stem. */
static int by_age(const void *a, const void *b)
{
    const struct cf_group *x = a, *y = b;

    if (x->mtime_ns != y->mtime_ns) {
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    }
    return by_stem(x->files, y->files);
}

struct cf_list {
    struct cf_file *files;
    size_t n, cap;
};

static void free_list(struct cf_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->files[i].name);
    }
    free(l->files);
}

static int add_file(struct cf_list *l, int dfd, const char *name)
{
    const char *dot = strrchr(name, '.');
    struct stat st;

    if (!dot || dot == name || !ext_matches(dot + 1)) {
        return 0;
    }
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return errno == ENOENT ? 0 : -errno; /* deleted meanwhile: fine */
    }
    if (!S_ISREG(st.st_mode)) {
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct cf_file *f = realloc(l->files, cap * sizeof(*f));

        if (!f) {
            return -ENOMEM;
        }
        l->files = f;
        l->cap = cap;
    }
    l->files[l->n].name = strdup(name);
    if (!l->files[l->n].name) {
        return -ENOMEM;
    }
    l->files[l->n].stem = (size_t) (dot - name);
    l->files[l->n].bytes = (uint64_t) st.st_size;
    l->files[l->n].mtime_ns =
        (int64_t) st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    l->n++;
    return 0;
}

static int list_dir(int dfd, struct cf_list *l)
{
    DIR *d = fdopendir(dup(dfd));
    struct dirent *e;
    int rc = 0;

    if (!d) {
        return -errno;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        rc = add_file(l, dfd, e->d_name);
    }
    closedir(d);
    return rc;
}

/* Group l's files (sorted by stem); returns the count or -ENOMEM. */
static long make_groups(const struct cf_list *l, struct cf_group **out)
{
    struct cf_group *g = calloc(l->n ? l->n : 1, sizeof(*g));
    size_t i, ng = 0;

    if (!g) {
        return -ENOMEM;
    }
    for (i = 0; i < l->n; i++) {
        const struct cf_file *f = &l->files[i];

        if (ng == 0 || by_stem(g[ng - 1].files, f) != 0) {
            g[ng++] = (struct cf_group){f, 0, 0, INT64_MIN};
        }
        g[ng - 1].n++;
        g[ng - 1].bytes += f->bytes;
        if (f->mtime_ns > g[ng - 1].mtime_ns) {
            g[ng - 1].mtime_ns = f->mtime_ns;
        }
    }
    *out = g;
    return (long) ng;
}

static int delete_group(int dfd, const struct cf_group *g)
{
    size_t i;

    for (i = 0; i < g->n; i++) {
        if (unlinkat(dfd, g->files[i].name, 0) < 0 && errno != ENOENT) {
            return -errno;
        }
    }
    return 0;
}

int capture_retention(const char *dir, size_t max_count, uint64_t max_bytes)
{
    struct cf_list l = {NULL, 0, 0};
    struct cf_group *g = NULL;
    uint64_t total = 0;
    size_t i, left;
    long ng;
    int deleted = 0, rc;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dfd < 0) {
        return -errno;
    }
    rc = list_dir(dfd, &l);
    if (rc < 0) {
        goto out;
    }
    if (l.n) {
        qsort(l.files, l.n, sizeof(*l.files), by_stem);
    }
    ng = make_groups(&l, &g);
    if (ng < 0) {
        rc = (int) ng;
        goto out;
    }
    qsort(g, (size_t) ng, sizeof(*g), by_age);
    for (i = 0; i < (size_t) ng; i++) {
        total += g[i].bytes;
    }
    left = (size_t) ng;
    for (i = 0; i < (size_t) ng; i++) {
        if (!((max_count && left > max_count) || (max_bytes && total > max_bytes))) {
            break;
        }
        rc = delete_group(dfd, &g[i]);
        if (rc < 0) {
            break;
        }
        total -= g[i].bytes;
        left--;
        deleted++;
    }
out:
    free(g);
    free_list(&l);
    close(dfd);
    return rc < 0 ? rc : deleted;
}
