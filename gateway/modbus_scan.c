/* modbus_scan.c - the read plan of a config, and discovery on a serial bus.
 *
 * Which shipped profile fits a device found by the scan:
 *  1. by identification: when the device answers function 43/14, a profile
 *     fits if every '-'-separated word of its name other than "generic"
 *     appears, letters and digits only and case ignored, in the device's
 *     vendor and product code together ("eastron-sdm630" fits vendor
 *     "Eastron", product "SDM630-Modbus");
 *  2. otherwise by reading: a profile fits if the device answers the first
 *     read of the profile's plan and every point that read carries decodes
 *     to a plausible value: finite, no larger than 1e9 in magnitude, a
 *     frequency (unit Hz) within 42.5..69 Hz, a voltage or current (V, A)
 *     not negative (an absent map answers with an exception, a wrong one
 *     with NaNs, absurd floats or impossible frequencies).
 * Rule 2 is a heuristic: it says what could be, and the user confirms.
 */
#include "gateway/modbus_scan.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/profile.h"
#include "drivers/modbus/mb_port.h"
#include "drivers/modbus/mb_profile.h"
#include "gateway/modbus_impl.h"
#include "pq/err.h"

#define SANE_MAX    1e9
#define MAX_PROFILE 64

struct plan_totals {
    size_t devices, reads, regs, min_regs;
};

static const char *fn_word(int fn)
{
    static const char *const names[] = {"?", "coils", "discrete", "holding", "input"};

    return fn >= 1 && fn <= 4 ? names[fn] : "?";
}

static int plan_device(const char *port, const struct device_cfg *d,
                       const char *config_path, FILE *out, FILE *err,
                       struct plan_totals *t)
{
    char who[BUS_NAME_MAX];
    struct mb_profile *prof = NULL;
    struct mb_read *reads = NULL;
    size_t n = 0, regs = 0, min;
    int rc;

    snprintf(who, sizeof(who), "%s.%s", port, d->name);
    if (d->sunspec == SUNSPEC_AUTO || strcmp(d->profile, "sunspec") == 0) {
        fprintf(out, "%s  unit %d  sunspec: models found at run time, no fixed plan\n",
                who, d->unit);
        return 0;
    }
    if (d->profile[0] == '\0') {
        fprintf(err, "%s: no profile (set profile, or sunspec: auto)\n", who);
        return -PQ_ECONFIG;
    }
    rc = gw_modbus_load_profile(who, d->profile, config_path, &prof);
    if (rc < 0) {
        return rc;
    }
    gw_modbus_apply_limits(d, prof);
    rc = gw_modbus_plan(prof, &reads, &n);
    if (rc < 0) {
        fprintf(err, "%s: planning profile '%s': %s\n", who, d->profile, pq_strerror(rc));
        mb_profile_free(prof);
        return rc;
    }
    min = mb_plan_min_regs(prof);
    fprintf(out, "%s  unit %d  profile %s  (%zu points)\n", who, d->unit, prof->name,
            prof->npoints);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "  read %-8s %5u+%u\n", fn_word(reads[i].fn), reads[i].addr,
                reads[i].count);
        regs += reads[i].count;
    }
    fprintf(out, "  %zu reads, %zu registers, minimum %zu\n", n, regs, min);
    t->devices++;
    t->reads += n;
    t->regs += regs;
    t->min_regs += min;
    free(reads);
    mb_profile_free(prof);
    return 0;
}

int modbus_scan_plan(const struct pqgate_cfg *cfg, const char *config_path, FILE *out,
                     FILE *err)
{
    struct plan_totals t = {0};
    int failed = 0;

    for (size_t i = 0; i < cfg->buses.n + cfg->peers.n; i++) {
        const char *name;
        const struct cfg_list *devs;

        if (i < cfg->buses.n) {
            const struct serial_bus_cfg *b = CFG_AT(cfg->buses, struct serial_bus_cfg, i);

            name = b->name;
            devs = &b->devices;
            fprintf(out, "# %s: serial %s, %d baud\n", b->name, b->device, b->baud);
        } else {
            const struct tcp_peer_cfg *p =
                CFG_AT(cfg->peers, struct tcp_peer_cfg, i - cfg->buses.n);

            name = p->name;
            devs = &p->devices;
            fprintf(out, "# %s: tcp %s:%d\n", p->name, p->host, p->port);
        }
        for (size_t d = 0; d < devs->n; d++) {
            if (plan_device(name, CFG_AT(*devs, struct device_cfg, d), config_path, out,
                            err, &t) < 0) {
                failed = 1;
            }
        }
    }
    fprintf(out,
            "total: %zu devices planned, %zu reads per cycle, %zu registers read, "
            "minimum %zu, ratio %.3f\n",
            t.devices, t.reads, t.regs, t.min_regs,
            t.min_regs ? (double) t.regs / (double) t.min_regs : 0.0);
    return failed ? MODBUS_SCAN_ERROR : MODBUS_SCAN_OK;
}

/* -- discovery ------------------------------------------------------------ */

struct found {
    int unit;
    char vendor[64], product[64], revision[32];
    int has_id;
};

struct scan_ctx {
    struct found *found;
    size_t n, cap;
};

static void copy_id(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static void on_found(void *ctx, int unit, const char *vendor, const char *product,
                     const char *revision)
{
    struct scan_ctx *c = ctx;
    struct found *f;

    if (c->n == c->cap) {
        return; /* cap is 247: every unit id */
    }
    f = &c->found[c->n++];
    f->unit = unit;
    f->has_id = (vendor && vendor[0]) || (product && product[0]);
    copy_id(f->vendor, sizeof(f->vendor), vendor);
    copy_id(f->product, sizeof(f->product), product);
    copy_id(f->revision, sizeof(f->revision), revision);
}

/* Letters and digits of s, lower case, into dst. */
static void squash(char *dst, size_t cap, const char *s)
{
    size_t n = 0;

    for (; *s && n + 1 < cap; s++) {
        if (isalnum((unsigned char) *s)) {
            dst[n++] = (char) tolower((unsigned char) *s);
        }
    }
    dst[n] = '\0';
}

/* Rule 1: every word of the profile's name but "generic" in vendor+product. */
static int fits_by_id(const char *profile, const struct found *f)
{
    char id[160], word[MAX_PROFILE + 1], all[160];
    const char *p = profile;
    int words = 0;

    snprintf(all, sizeof(all), "%s %s", f->vendor, f->product);
    squash(id, sizeof(id), all);
    while (*p) {
        size_t len = strcspn(p, "-");
        char raw[MAX_PROFILE + 1];

        snprintf(raw, sizeof(raw), "%.*s", (int) len, p);
        squash(word, sizeof(word), raw);
        p += len + (p[len] == '-');
        if (word[0] == '\0' || strcmp(word, "generic") == 0) {
            continue;
        }
        if (!strstr(id, word)) {
            return 0;
        }
        words++;
    }
    return words > 0;
}

/* A value a meter could show: finite and at most SANE_MAX in magnitude; a
 * frequency within 45..65 Hz (EN 50160 4.2.1 allows 42.5..57.5 Hz on
 * islands, 50 Hz systems; 60 Hz systems likewise around 60); a voltage or
 * current not negative. */
static int plausible(const struct mb_point *p, double v)
{
    if (!isfinite(v) || fabs(v) > SANE_MAX) {
        return 0;
    }
    if (strcmp(p->unit, "Hz") == 0) {
        return v >= 42.5 && v <= 69.0;
    }
    if (strcmp(p->unit, "V") == 0 || strcmp(p->unit, "A") == 0) {
        return v >= 0;
    }
    return 1;
}

/* Rule 2: the profile's first read answered and every point in it sane. */
static int fits_by_read(struct mb_port *port, int unit, const struct mb_profile *prof)
{
    struct mb_read *reads = NULL;
    struct mb_read_result res;
    uint16_t regs[125];
    uint8_t bits[2000];
    size_t n = 0;
    int sane = 1, covered = 0;

    if (gw_modbus_plan(prof, &reads, &n) < 0 || n == 0) {
        free(reads);
        return 0;
    }
    memset(&res, 0, sizeof(res));
    res.read = &reads[0];
    res.rc = gw_modbus_read(port, unit, &reads[0], regs, bits, &res.exception);
    res.regs = regs;
    res.bits = bits;
    for (size_t i = 0; res.rc == 0 && i < prof->npoints; i++) {
        double v;
        int q;

        if (mb_point_decode(&prof->points[i], &res, 1, &v, &q) < 0) {
            continue; /* not in this read */
        }
        covered++;
        if (q != MB_Q_GOOD || !plausible(&prof->points[i], v)) {
            sane = 0;
        }
    }
    free(reads);
    return res.rc == 0 && covered > 0 && sane;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Add the profile names of dir (its *.yaml) to names, without repeats. */
static void names_of_dir(const char *dir, char (*names)[MAX_PROFILE + 1], size_t cap,
                         size_t *n)
{
    struct dirent *e;
    DIR *dp = opendir(dir);

    while (dp && (e = readdir(dp)) != NULL && *n < cap) {
        size_t len = strlen(e->d_name), i;

        if (len <= 5 || len - 5 > MAX_PROFILE ||
            strcmp(e->d_name + len - 5, ".yaml") != 0) {
            continue;
        }
        snprintf(names[*n], MAX_PROFILE + 1, "%.*s", (int) (len - 5), e->d_name);
        for (i = 0; i < *n && strcmp(names[i], names[*n]) != 0; i++) {
        }
        *n += i == *n;
    }
    if (dp) {
        closedir(dp);
    }
}

/* The shipped and installed profiles: the places cfg_profile_path() looks
 * in (config/profile.h), in its order. */
static void profile_names(const char *config_path, char (*names)[MAX_PROFILE + 1],
                          size_t cap, size_t *n)
{
    char dir[512];
    const char *slash = config_path ? strrchr(config_path, '/') : NULL;

    *n = 0;
    if (config_path) {
        snprintf(dir, sizeof(dir), "%.*sprofiles",
                 slash ? (int) (slash - config_path + 1) : 0, config_path);
        names_of_dir(dir, names, cap, n);
    }
    names_of_dir(PQGATE_SYSCONFDIR "/pqgate/profiles", names, cap, n);
#ifdef PQGATE_DATADIR
    names_of_dir(PQGATE_DATADIR "/profiles", names, cap, n);
#endif
    names_of_dir("config/profiles", names, cap, n);
    qsort(names, *n, sizeof(names[0]), cmp_names);
}

/* Print the profiles that fit f, by rule 1 if it has an identification
 * and one matches, else by rule 2. */
static void print_fits(struct mb_port *port, const struct found *f,
                       const char *config_path, char (*names)[MAX_PROFILE + 1],
                       size_t nnames, FILE *out)
{
    int any = 0;

    for (size_t i = 0; f->has_id && i < nnames; i++) {
        if (fits_by_id(names[i], f)) {
            fprintf(out, "%s%s", any ? ", " : "  fits: ", names[i]);
            any = 1;
        }
    }
    if (any) {
        fprintf(out, " (by identification)\n");
        return;
    }
    for (size_t i = 0; port && i < nnames; i++) {
        struct mb_profile *prof = NULL;
        char path[512];
        struct cfg_diag diag;

        if (strcmp(names[i], "sunspec") == 0 ||
            cfg_profile_path(names[i], config_path, path, sizeof(path)) < 0) {
            continue;
        }
        cfg_diag_init(&diag);
        if (cfg_profile_load(path, &prof, &diag) == 0) {
            if (fits_by_read(port, f->unit, prof)) {
                fprintf(out, "%s%s", any ? ", " : "  fits: ", names[i]);
                any = 1;
            }
            mb_profile_free(prof);
        }
        cfg_diag_fini(&diag);
    }
    fprintf(out,
            any ? " (by reading its first registers)\n" : "  fits: no shipped profile\n");
}

static const struct serial_bus_cfg *find_bus(const struct pqgate_cfg *cfg,
                                             const char *name)
{
    for (size_t i = 0; i < cfg->buses.n; i++) {
        const struct serial_bus_cfg *b = CFG_AT(cfg->buses, struct serial_bus_cfg, i);

        if (strcmp(b->name, name) == 0) {
            return b;
        }
    }
    return NULL;
}

static void port_cfg_of(const struct serial_bus_cfg *b, int64_t timeout_ns,
                        struct mb_port_cfg *pc)
{
    static const char parity[] = {'N', 'E', 'O'};

    memset(pc, 0, sizeof(*pc));
    pc->name = b->name;
    pc->kind = MB_PORT_RTU;
    pc->device = b->device;
    pc->baud = b->baud;
    pc->parity = parity[b->parity];
    pc->data_bits = b->data_bits;
    pc->stop_bits = b->stop_bits;
    pc->rts = b->rts;
    pc->rts_delay_ns = b->rts_delay_ns;
    pc->silent_ns = b->silent_ns;
    pc->timeout_ns = timeout_ns;
}

int modbus_scan_bus(const struct pqgate_cfg *cfg, const char *config_path,
                    const char *bus_name, int first, int last, int64_t timeout_ns,
                    FILE *out, FILE *err)
{
    static char names[256][MAX_PROFILE + 1];
    const struct serial_bus_cfg *b = find_bus(cfg, bus_name);
    struct found found[247];
    struct scan_ctx c = {found, 0, 247};
    struct mb_port_cfg pc;
    struct mb_port *port = NULL;
    size_t nnames = 0;
    int rc;

    if (!b) {
        fprintf(err, "pqgate modbus-scan: no serial bus '%s' in the config", bus_name);
        for (size_t i = 0; i < cfg->buses.n; i++) {
            fprintf(err, "%s%s", i ? ", " : " (buses: ",
                    CFG_AT(cfg->buses, struct serial_bus_cfg, i)->name);
        }
        fprintf(err, "%s\n", cfg->buses.n ? ")" : "");
        return MODBUS_SCAN_ERROR;
    }
    port_cfg_of(b, timeout_ns, &pc);
    fprintf(out, "# %s: %s, %d baud, unit ids %d..%d, %.0f ms each\n", b->name, b->device,
            b->baud, first, last, (double) timeout_ns / 1e6);
    fflush(out);
    rc = mb_port_scan(&pc, first, last, timeout_ns, on_found, &c);
    if (rc < 0) {
        fprintf(err, "pqgate modbus-scan: %s (%s): %s\n", b->name, b->device,
                pq_strerror(rc));
        return MODBUS_SCAN_ERROR;
    }
    profile_names(config_path, names, 256, &nnames);
    /* a started port (no devices to poll) for rule 2's reads */
    pc.timeout_ns = timeout_ns * 4;
    if (c.n > 0 && mb_port_start(&pc, NULL, 0, NULL, NULL, &port) < 0) {
        port = NULL;
    }
    for (size_t i = 0; i < c.n; i++) {
        const struct found *f = &found[i];

        fprintf(out, "unit %3d", f->unit);
        if (f->has_id) {
            fprintf(out, "  vendor \"%s\"  product \"%s\"  revision \"%s\"\n", f->vendor,
                    f->product, f->revision);
        } else {
            fprintf(out, "  (no device identification)\n");
        }
        print_fits(port, f, config_path, names, nnames, out);
    }
    mb_port_stop(port);
    fprintf(out, "found %zu device%s on %s\n", c.n, c.n == 1 ? "" : "s", b->name);
    return c.n > 0 ? MODBUS_SCAN_OK : MODBUS_SCAN_NOTHING;
}
