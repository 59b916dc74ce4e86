/* mbmap.c - the register map: one table of groups, encoded on demand.
 *
 * A read walks the groups its span touches; each group is encoded whole
 * into a scratch block and the overlap copied, so the two or four words of
 * one value always come from the same bus_get() (no torn floats).
 */
#include "gateway/mbmap.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/bus.h"

enum ent_type {
    E_F32,   /* float32, 2 registers */
    E_I64,   /* int64, 4 registers: round(value * scale) */
    E_CONST, /* uint16 describing the map itself */
};

enum konst {
    K_VERSION,
    K_NDEV,
    K_DEV_BASE,
    K_DEV_STRIDE,
    K_DEV_VALUES,
};

struct ent {
    const char *channel; /* or, for E_CONST, the register's name */
    int type;            /* enum ent_type */
    double scale;        /* E_I64 */
    const char *unit;    /* as encoded */
    const char *doc;
    int konst; /* E_CONST: enum konst */
};

struct group {
    const char *name;
    int base;
    int quality; /* base+0 is the quality register, base+1 reserved */
    const struct ent *ents;
    size_t n;
};

#define F(ch, u, d)                                                \
    {                                                              \
        .channel = "local/" ch, .type = E_F32, .unit = u, .doc = d \
    }
#define WH(ch, u, d)                                                                \
    {                                                                               \
        .channel = "local/" ch, .type = E_I64, .scale = 1000.0, .unit = u, .doc = d \
    }
#define K(name, k, d)                                          \
    {                                                          \
        .channel = name, .type = E_CONST, .konst = k, .doc = d \
    }
#define G(nm, b, q, arr)                                  \
    {                                                     \
        .name = nm, .base = b, .quality = q, .ents = arr, \
        .n = sizeof(arr) / sizeof(arr[0])                 \
    }

static const struct ent g_header[] = {
    K("map version", K_VERSION, "bumped when an address of this map moves"),
    K("device blocks", K_NDEV, "downstream devices with a block"),
    K("device base", K_DEV_BASE, "address of device 0's block"),
    K("device stride", K_DEV_STRIDE, "registers per device block"),
    K("device values", K_DEV_VALUES, "float32 values per device block"),
};

static const struct ent g_voltage[] = {
    F("u_rms/a", "V", "voltage A-N, RMS over 10/12 cycles"),
    F("u_rms/b", "V", "voltage B-N"),
    F("u_rms/c", "V", "voltage C-N"),
    F("u_ll_rms/ab", "V", "voltage A-B"),
    F("u_ll_rms/bc", "V", "voltage B-C"),
    F("u_ll_rms/ca", "V", "voltage C-A"),
};

static const struct ent g_current[] = {
    F("i_rms/a", "A", "current A, RMS over 10/12 cycles"),
    F("i_rms/b", "A", "current B"),
    F("i_rms/c", "A", "current C"),
    F("i_rms/n", "A", "current N (measured)"),
};

static const struct ent g_power[] = {
    F("p/a", "W", "active power A"),     F("p/b", "W", "active power B"),
    F("p/c", "W", "active power C"),     F("p/total", "W", "active power total"),
    F("q/a", "var", "reactive power A"), F("q/b", "var", "reactive power B"),
    F("q/c", "var", "reactive power C"), F("q/total", "var", "reactive power total"),
    F("s/a", "VA", "apparent power A"),  F("s/b", "VA", "apparent power B"),
    F("s/c", "VA", "apparent power C"),  F("s/total", "VA", "apparent power total"),
};

static const struct ent g_pf[] = {
    F("pf/a", "", "power factor A (IEC sign: negative when P is received)"),
    F("pf/b", "", "power factor B"),
    F("pf/c", "", "power factor C"),
    F("pf/total", "", "power factor total"),
    F("dpf/a", "", "displacement power factor A"),
    F("dpf/b", "", "displacement power factor B"),
    F("dpf/c", "", "displacement power factor C"),
    F("dpf/total", "", "displacement power factor total"),
};

static const struct ent g_freq[] = {
    F("freq", "Hz", "frequency over 10/12 cycles"),
    F("freq10s", "Hz", "frequency over 10 s (IEC 61000-4-30 5.1)"),
};

static const struct ent g_thd[] = {
    F("u_thd_pct/a", "%", "voltage THD A"),
    F("u_thd_pct/b", "%", "voltage THD B"),
    F("u_thd_pct/c", "%", "voltage THD C"),
    F("i_thd_pct/a", "%", "current THD A"),
    F("i_thd_pct/b", "%", "current THD B"),
    F("i_thd_pct/c", "%", "current THD C"),
    F("i_tdd_pct/a", "%", "current TDD A (IEEE 519)"),
    F("i_tdd_pct/b", "%", "current TDD B"),
    F("i_tdd_pct/c", "%", "current TDD C"),
};

static const struct ent g_unb[] = {
    F("u_unb_neg_pct", "%", "voltage unbalance, negative sequence u2"),
    F("u_unb_zero_pct", "%", "voltage unbalance, zero sequence u0"),
    F("i_unb_neg_pct", "%", "current unbalance, negative sequence"),
    F("i_unb_zero_pct", "%", "current unbalance, zero sequence"),
};

static const struct ent g_demand[] = {
    F("demand/p/last", "W", "active power demand, last interval"),
    F("demand/p/present", "W", "active power demand, present interval"),
    F("demand/p/predicted", "W", "active power demand, predicted"),
    F("demand/p/peak", "W", "active power demand, peak"),
    F("demand/q/last", "var", "reactive power demand, last interval"),
    F("demand/q/present", "var", "reactive power demand, present"),
    F("demand/q/predicted", "var", "reactive power demand, predicted"),
    F("demand/q/peak", "var", "reactive power demand, peak"),
    F("demand/s/last", "VA", "apparent power demand, last interval"),
    F("demand/s/present", "VA", "apparent power demand, present"),
    F("demand/s/predicted", "VA", "apparent power demand, predicted"),
    F("demand/s/peak", "VA", "apparent power demand, peak"),
    F("demand/i/a/last", "A", "current A demand, last interval"),
    F("demand/i/a/peak", "A", "current A demand, peak"),
    F("demand/i/b/last", "A", "current B demand, last interval"),
    F("demand/i/b/peak", "A", "current B demand, peak"),
    F("demand/i/c/last", "A", "current C demand, last interval"),
    F("demand/i/c/peak", "A", "current C demand, peak"),
};

static const struct ent g_10min[] = {
    F("10min/u_rms/a", "V", "10-min voltage A-N (IEC 61000-4-30 4.5.3)"),
    F("10min/u_rms/b", "V", "10-min voltage B-N"),
    F("10min/u_rms/c", "V", "10-min voltage C-N"),
    F("10min/i_rms/a", "A", "10-min current A"),
    F("10min/i_rms/b", "A", "10-min current B"),
    F("10min/i_rms/c", "A", "10-min current C"),
    F("10min/freq", "Hz", "10-min frequency"),
    F("10min/u_thd_pct/a", "%", "10-min voltage THD A"),
    F("10min/u_thd_pct/b", "%", "10-min voltage THD B"),
    F("10min/u_thd_pct/c", "%", "10-min voltage THD C"),
    F("10min/u_unb_neg_pct", "%", "10-min voltage unbalance u2"),
    F("10min/p/total", "W", "10-min active power total"),
    F("10min/q/total", "var", "10-min reactive power total"),
    F("10min/s/total", "VA", "10-min apparent power total"),
    F("10min/pf/total", "", "10-min power factor total"),
};

static const struct ent g_flicker[] = {
    F("flicker/pst/a", "", "short-term flicker Pst A (IEC 61000-4-15)"),
    F("flicker/pst/b", "", "Pst B"),
    F("flicker/pst/c", "", "Pst C"),
    F("flicker/plt/a", "", "long-term flicker Plt A"),
    F("flicker/plt/b", "", "Plt B"),
    F("flicker/plt/c", "", "Plt C"),
};

static const struct ent g_energy[] = {
    WH("energy/kwh_del", "Wh", "active energy delivered (imported)"),
    WH("energy/kwh_rec", "Wh", "active energy received (exported)"),
    WH("energy/kvarh_del", "varh", "reactive energy delivered"),
    WH("energy/kvarh_rec", "varh", "reactive energy received"),
    WH("energy/kvah", "VAh", "apparent energy"),
};

/* Sorted by base; a group's span must not reach the next base. */
static const struct group groups[] = {
    G("Map header", 0, 0, g_header),          G("Voltages", 1000, 1, g_voltage),
    G("Currents", 1100, 1, g_current),        G("Powers", 1200, 1, g_power),
    G("Power factors", 1300, 1, g_pf),        G("Frequency", 1400, 1, g_freq),
    G("Harmonic distortion", 1500, 1, g_thd), G("Unbalance", 1600, 1, g_unb),
    G("Demand", 1700, 1, g_demand),           G("10-minute values", 1800, 1, g_10min),
    G("Flicker", 1900, 1, g_flicker),         G("Energies", 2000, 1, g_energy),
};

#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

struct dev {
    char prefix[MBMAP_MAX_PREFIX];
    size_t plen;
    int ids[MBMAP_DEV_VALUES];
    size_t n;
    size_t dropped;
};

struct mbmap {
    const struct bus *bus;
    int *ids[NGROUPS]; /* per group entry: channel id, -1: not (yet) on the bus */
    struct dev *devs;
    size_t ndev;
    int scanned; /* bus channel ids below this have been looked at */
    uint16_t scratch[MBMAP_DEV_STRIDE];
};

static int ent_regs(const struct ent *e)
{
    return e->type == E_I64 ? 4 : e->type == E_F32 ? 2 : 1;
}

static int group_size(const struct group *g)
{
    int n = g->quality ? 2 : 0;

    for (size_t i = 0; i < g->n; i++) {
        n += ent_regs(&g->ents[i]);
    }
    return n;
}

/* ---- encodings --------------------------------------------------------------- */

/* IEEE 754 binary32 in two registers, high word first: registers are
 * big-endian (Modbus Application Protocol V1.1b3 4.2) and the word order is
 * the common "ABCD" of PM8000-class meters. */
void mbmap_put_f32(double v, uint16_t w[2])
{
    float f = (float) v;
    uint32_t u;

    if (isnan(v)) {
        w[0] = 0x7FC0; /* the quiet NaN */
        w[1] = 0x0000;
        return;
    }
    memcpy(&u, &f, sizeof(u));
    w[0] = (uint16_t) (u >> 16);
    w[1] = (uint16_t) u;
}

void mbmap_put_i64(double v, double scale, uint16_t w[4])
{
    double x = v * scale;
    uint64_t u;

    /* 2^63: beyond it llround() is undefined */
    if (!isfinite(x) || fabs(x) >= 9223372036854775807.0) {
        u = UINT64_C(1) << 63;
    } else {
        u = (uint64_t) (int64_t) llround(x);
    }
    for (int i = 0; i < 4; i++) {
        w[i] = (uint16_t) (u >> (48 - 16 * i));
    }
}

/* ---- building ---------------------------------------------------------------- */

int mbmap_new(const struct bus *b, const char *const *prefixes, size_t ndev,
              struct mbmap **out)
{
    struct mbmap *m;

    if (!b || !out || (ndev && !prefixes)) {
        return -EINVAL;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        return -ENOMEM;
    }
    m->bus = b;
    m->ndev = ndev < MBMAP_DEV_MAX ? ndev : MBMAP_DEV_MAX;
    m->devs = calloc(m->ndev ? m->ndev : 1, sizeof(*m->devs));
    if (!m->devs) {
        free(m);
        return -ENOMEM;
    }
    for (size_t d = 0; d < m->ndev; d++) {
        snprintf(m->devs[d].prefix, sizeof(m->devs[d].prefix), "%s", prefixes[d]);
        m->devs[d].plen = strlen(m->devs[d].prefix);
    }
    for (size_t g = 0; g < NGROUPS; g++) {
        m->ids[g] = malloc(groups[g].n * sizeof(int));
        if (!m->ids[g]) {
            mbmap_free(m);
            return -ENOMEM;
        }
        for (size_t i = 0; i < groups[g].n; i++) {
            m->ids[g][i] = -1;
        }
    }
    mbmap_refresh(m);
    *out = m;
    return 0;
}

void mbmap_free(struct mbmap *m)
{
    if (!m) {
        return;
    }
    for (size_t g = 0; g < NGROUPS; g++) {
        free(m->ids[g]);
    }
    free(m->devs);
    free(m);
}

size_t mbmap_devices(const struct mbmap *m)
{
    return m->ndev;
}

size_t mbmap_dev_dropped(const struct mbmap *m, size_t d)
{
    return d < m->ndev ? m->devs[d].dropped : 0;
}

static void add_dev_channel(struct mbmap *m, int ch, const char *name)
{
    for (size_t d = 0; d < m->ndev; d++) {
        struct dev *v = &m->devs[d];

        if (strncmp(name, v->prefix, v->plen) != 0) {
            continue;
        }
        if (strncmp(name + v->plen, "health/", 7) == 0) {
            return; /* the master's health figures are not values of the device */
        }
        if (v->n < MBMAP_DEV_VALUES) {
            v->ids[v->n++] = ch;
        } else {
            v->dropped++;
        }
        return;
    }
}

void mbmap_refresh(struct mbmap *m)
{
    const char *name;
    int local = 0;

    /* ids are dense from 0 and never removed: a new one is past scanned */
    while ((name = bus_name(m->bus, m->scanned)) != NULL) {
        if (strncmp(name, "local/", 6) == 0) {
            local = 1;
        } else {
            add_dev_channel(m, m->scanned, name);
        }
        m->scanned++;
    }
    if (!local) {
        return;
    }
    for (size_t g = 0; g < NGROUPS; g++) {
        for (size_t i = 0; i < groups[g].n; i++) {
            if (m->ids[g][i] < 0 && groups[g].ents[i].type != E_CONST) {
                int id = bus_find(m->bus, groups[g].ents[i].channel);

                m->ids[g][i] = id >= 0 ? id : -1;
            }
        }
    }
}

/* ---- reading ----------------------------------------------------------------- */

/* Latest value of ch, or NaN with BUS_Q_INVALID in *q. */
static double value_of(const struct mbmap *m, int ch, uint32_t *q)
{
    struct bus_value v;

    if (ch < 0 || bus_get(m->bus, ch, &v) < 0) {
        *q |= BUS_Q_INVALID;
        return NAN;
    }
    *q |= v.quality;
    if ((v.quality & BUS_Q_INVALID) || !isfinite(v.value)) {
        *q |= BUS_Q_INVALID;
        return NAN;
    }
    return v.value;
}

static uint16_t konst_value(const struct mbmap *m, int k)
{
    switch (k) {
    case K_VERSION:
        return MBMAP_VERSION;
    case K_NDEV:
        return (uint16_t) m->ndev;
    case K_DEV_BASE:
        return MBMAP_DEV_BASE;
    case K_DEV_STRIDE:
        return MBMAP_DEV_STRIDE;
    default:
        return MBMAP_DEV_VALUES;
    }
}

static void encode_group(struct mbmap *m, size_t gi, uint16_t *w)
{
    const struct group *g = &groups[gi];
    uint32_t q = 0;
    int k = g->quality ? 2 : 0;

    for (size_t i = 0; i < g->n; i++) {
        const struct ent *e = &g->ents[i];

        if (e->type == E_CONST) {
            w[k] = konst_value(m, e->konst);
        } else if (e->type == E_F32) {
            mbmap_put_f32(value_of(m, m->ids[gi][i], &q), &w[k]);
        } else {
            mbmap_put_i64(value_of(m, m->ids[gi][i], &q), e->scale, &w[k]);
        }
        k += ent_regs(e);
    }
    if (g->quality) {
        w[0] = (uint16_t) q;
        w[1] = 0;
    }
}

static void encode_dev(struct mbmap *m, size_t d, uint16_t *w)
{
    const struct dev *v = &m->devs[d];
    uint32_t q = 0;

    for (size_t i = 0; i < MBMAP_DEV_VALUES; i++) {
        uint32_t qi = 0;
        double x = i < v->n ? value_of(m, v->ids[i], &qi) : NAN;

        mbmap_put_f32(x, &w[2 + 2 * i]);
        q |= qi;
    }
    if (v->n == 0) {
        q |= BUS_Q_INVALID; /* no channel of the device is on the bus */
    }
    w[0] = (uint16_t) q;
    w[1] = (uint16_t) v->n;
}

/* Encode the segment holding addr into m->scratch; its span in *base,
 * *size.  Returns 0 or -1 when addr is in no segment. */
static int encode_at(struct mbmap *m, int addr, int *base, int *size)
{
    if (addr >= MBMAP_DEV_BASE) {
        size_t d = (size_t) (addr - MBMAP_DEV_BASE) / MBMAP_DEV_STRIDE;

        if (d >= m->ndev) {
            return -1;
        }
        *base = mbmap_dev_base(d);
        *size = MBMAP_DEV_STRIDE;
        encode_dev(m, d, m->scratch);
        return 0;
    }
    for (size_t g = 0; g < NGROUPS; g++) {
        int sz = group_size(&groups[g]);

        if (addr >= groups[g].base && addr < groups[g].base + sz) {
            *base = groups[g].base;
            *size = sz;
            encode_group(m, g, m->scratch);
            return 0;
        }
    }
    return -1;
}

int mbmap_read(struct mbmap *m, int addr, int count, uint16_t *dst)
{
    int pos = addr, end = addr + count;

    /* quantity 1..125, else exception 3; then the span, else 2
     * (Modbus Application Protocol V1.1b3 6.3, 6.4) */
    if (count < 1 || count > MBMAP_MAX_READ) {
        return MB_EX_ILLEGAL_VALUE;
    }
    if (addr < 0 || end > 65536) {
        return MB_EX_ILLEGAL_ADDRESS;
    }
    mbmap_refresh(m);
    while (pos < end) {
        int base, size, n;

        if (encode_at(m, pos, &base, &size) < 0) {
            return MB_EX_ILLEGAL_ADDRESS;
        }
        n = (base + size < end ? base + size : end) - pos;
        memcpy(dst + (pos - addr), m->scratch + (pos - base), (size_t) n * sizeof(*dst));
        pos += n;
    }
    return 0;
}

int mbmap_local_addr(const char *channel, char *type)
{
    for (size_t g = 0; g < NGROUPS; g++) {
        int k = groups[g].base + (groups[g].quality ? 2 : 0);

        for (size_t i = 0; i < groups[g].n; i++) {
            const struct ent *e = &groups[g].ents[i];

            if (e->type != E_CONST && strcmp(e->channel, channel) == 0) {
                if (type) {
                    *type = e->type == E_I64 ? 'e' : 'f';
                }
                return k;
            }
            k += ent_regs(e);
        }
    }
    return -1;
}

int mbmap_dev_base(size_t d)
{
    return d < MBMAP_DEV_MAX ? MBMAP_DEV_BASE + (int) d * MBMAP_DEV_STRIDE : -1;
}

/* ---- documentation ----------------------------------------------------------- */

static const char *type_name(int t)
{
    return t == E_I64 ? "int64" : t == E_F32 ? "float32" : "uint16";
}

void mbmap_print_doc(FILE *f)
{
    fprintf(f,
            "Map version %d.  Addresses are 0-based protocol addresses (mbpoll -0 -r "
            "ADDR).\n\n",
            MBMAP_VERSION);
    for (size_t g = 0; g < NGROUPS; g++) {
        const struct group *gr = &groups[g];
        int k = gr->base;

        fprintf(f, "## %s: %d-%d\n\n", gr->name, gr->base, gr->base + group_size(gr) - 1);
        fprintf(f, "| address | regs | type | channel | unit | description |\n");
        fprintf(f, "|---|---|---|---|---|---|\n");
        if (gr->quality) {
            fprintf(f,
                    "| %d | 1 | uint16 | (quality) | | OR of the quality bits of the "
                    "group's values |\n",
                    k);
            fprintf(f, "| %d | 1 | uint16 | (reserved) | | 0 |\n", k + 1);
            k += 2;
        }
        for (size_t i = 0; i < gr->n; i++) {
            const struct ent *e = &gr->ents[i];

            fprintf(f, "| %d | %d | %s | %s%s%s | %s | %s |\n", k, ent_regs(e),
                    type_name(e->type), e->type == E_CONST ? "(" : "", e->channel,
                    e->type == E_CONST ? ")" : "", e->type == E_CONST ? "" : e->unit,
                    e->doc);
            k += ent_regs(e);
        }
        fprintf(f, "\n");
    }
    fprintf(
        f,
        "## Downstream devices: %d + %d * d\n\n"
        "Device d (0-based: the serial buses' devices in config order, then the\n"
        "TCP peers') has a block of %d registers at %d + %d * d, for d < %d:\n\n"
        "| offset | regs | type | content |\n|---|---|---|---|\n"
        "| 0 | 1 | uint16 | quality: OR of the quality bits of the device's values |\n"
        "| 1 | 1 | uint16 | number of channels in the block (at most %d) |\n"
        "| 2 + 2 * i | 2 | float32 | channel i of the device, in profile order "
        "(NaN past the last) |\n\n",
        MBMAP_DEV_BASE, MBMAP_DEV_STRIDE, MBMAP_DEV_STRIDE, MBMAP_DEV_BASE,
        MBMAP_DEV_STRIDE, MBMAP_DEV_MAX, MBMAP_DEV_VALUES);
    fprintf(f, "`pqgate help modbus-map --config FILE` lists the blocks of a config.\n");
}

void mbmap_print_devices(FILE *f, const char *const *prefixes, const int *units,
                         size_t ndev)
{
    fprintf(f, "| d | device | unit id | addresses |\n|---|---|---|---|\n");
    for (size_t d = 0; d < ndev; d++) {
        int base = mbmap_dev_base(d);

        if (base < 0) {
            fprintf(f, "| %zu | %s | %d | (no block: past %d devices) |\n", d,
                    prefixes[d], units[d], MBMAP_DEV_MAX);
            continue;
        }
        fprintf(f, "| %zu | %s | %d | %d-%d |\n", d, prefixes[d], units[d], base,
                base + MBMAP_DEV_STRIDE - 1);
    }
}
