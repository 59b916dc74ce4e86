/* comtrade_load.c - find, read and parse a COMTRADE recording's files. */
#include "drivers/adc/comtrade_load.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pq/comtrade.h"
#include "pq/err.h"

/* Write the message (if err has room) and return rc. */
static int load_err(int rc, char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int load_err(int rc, char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (err && errcap) {
        vsnprintf(err, errcap, fmt, ap);
    }
    va_end(ap);
    return rc;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int upper(int c)
{
    return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

static int ext_is(const char *ext, const char *want)
{
    size_t i;

    for (i = 0; want[i]; i++) {
        if (lower((unsigned char) ext[i]) != want[i]) {
            return 0;
        }
    }
    return ext[i] == '\0';
}

/* The extension of path (after its last '.', in its last component), or NULL. */
static const char *extension(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');

    if (!dot || (slash && dot < slash)) {
        return NULL;
    }
    return dot + 1;
}

static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Look in path's folder for stem + "." + any case of want. */
static int scan_dir(const char *path, size_t stem_len, const char *want, char *out)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t) (slash - path) : 0;
    const char *base = slash ? slash + 1 : path;
    size_t base_stem = stem_len - (size_t) (base - path);
    char dir[PATH_MAX];
    struct dirent *e;
    DIR *d;
    int found = 0;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int) (dir_len ? dir_len : 1) : 1,
             slash ? path : ".");
    d = opendir(dir);
    if (!d) {
        return 0;
    }
    while (!found && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, base_stem) == 0 &&
            ext_is(e->d_name + base_stem, want)) {
            snprintf(out, PATH_MAX, "%.*s%s", (int) (base - path), path, e->d_name);
            found = is_file(out);
        }
    }
    closedir(d);
    return found;
}

/* The companion of path with extension want ("dat" or "cfg", lower case):
 * same stem; the extension in the case of path's, lower, upper, any. */
static int companion(const char *path, const char *want, char *out, char *err,
                     size_t errcap)
{
    const char *ext = extension(path);
    size_t stem_len = (size_t) (ext - path); /* includes the '.' */
    char try[3][4];
    size_t i, k;

    for (i = 0; i < 3; i++) {
        int c = (unsigned char) ext[i];

        try[0][i] = (char) (c >= 'A' && c <= 'Z' ? upper(want[i]) : want[i]);
        try[1][i] = want[i];
        try[2][i] = (char) upper(want[i]);
    }
    try[0][3] = try[1][3] = try[2][3] = '\0';
    for (k = 0; k < 3; k++) {
        snprintf(out, PATH_MAX, "%.*s%s", (int) stem_len, path, try[k]);
        if (is_file(out)) {
            return 0;
        }
    }
    if (scan_dir(path, stem_len, want, out)) {
        return 0;
    }
    return load_err(-ENOENT, err, errcap, "%s: no .%s file beside it (%.*s%s)", path,
                    want, (int) stem_len, path, try[0]);
}

/* Read a whole regular file of at most COMTRADE_LOAD_MAX bytes. */
static int read_file(const char *path, uint8_t **buf, size_t *len, char *err,
                     size_t errcap)
{
    struct stat st;
    uint8_t *b = NULL;
    size_t size, got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        rc = -errno;
        return load_err(rc, err, errcap, "%s: cannot open: %s", path, pq_strerror(rc));
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        load_err(rc, err, errcap, "%s: cannot stat: %s", path, pq_strerror(rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = load_err(-EINVAL, err, errcap, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t) st.st_size > COMTRADE_LOAD_MAX) {
        rc = load_err(-EFBIG, err, errcap, "%s: %lld bytes, more than the limit of %zu",
                      path, (long long) st.st_size, COMTRADE_LOAD_MAX);
        goto out;
    }
    size = (size_t) st.st_size;
    b = malloc(size ? size : 1);
    if (!b) {
        rc =
            load_err(-ENOMEM, err, errcap, "%s: out of memory for %zu bytes", path, size);
        goto out;
    }
    while (got < size) {
        ssize_t n = read(fd, b + got, size - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            load_err(rc, err, errcap, "%s: read error: %s", path, pq_strerror(rc));
            free(b);
            goto out;
        }
        if (n == 0) {
            break; /* shrank while reading: parse what is there */
        }
        got += (size_t) n;
    }
    *buf = b;
    *len = got;
    rc = 0;
out:
    close(fd);
    return rc;
}

static int load_cff(const char *path, struct pq_comtrade **out, char *err, size_t errcap)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, &buf, &len, err, errcap);

    if (rc == 0) {
        rc = pq_comtrade_parse_cff(path, buf, len, out, err, errcap);
    }
    free(buf);
    return rc;
}

int comtrade_load(const char *path, struct pq_comtrade **out, char *err, size_t errcap)
{
    const char *ext = extension(path);
    char other[PATH_MAX];
    const char *cfg_path, *dat_path;
    uint8_t *cfg = NULL, *dat = NULL;
    size_t cfg_len = 0, dat_len = 0;
    int rc;

    if (strlen(path) >= PATH_MAX) {
        return load_err(-ENAMETOOLONG, err, errcap, "%.64s...: path too long", path);
    }
    if (ext && ext_is(ext, "cff")) {
        return load_cff(path, out, err, errcap);
    }
    if (!ext || !(ext_is(ext, "cfg") || ext_is(ext, "dat"))) {
        return load_err(-EINVAL, err, errcap, "%s: expected a .cfg, .dat or .cff file",
                        path);
    }
    rc = companion(path, ext_is(ext, "cfg") ? "dat" : "cfg", other, err, errcap);
    if (rc < 0) {
        return rc;
    }
    cfg_path = ext_is(ext, "cfg") ? path : other;
    dat_path = ext_is(ext, "cfg") ? other : path;
    rc = read_file(cfg_path, &cfg, &cfg_len, err, errcap);
    if (rc == 0) {
        rc = read_file(dat_path, &dat, &dat_len, err, errcap);
    }
    if (rc == 0) {
        rc = pq_comtrade_parse_named(cfg_path, dat_path, cfg, cfg_len, dat, dat_len, out,
                                     err, errcap);
    }
    free(cfg);
    free(dat);
    return rc;
}
