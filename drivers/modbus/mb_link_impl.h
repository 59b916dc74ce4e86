/* mb_link_impl.h - what the link backends share; private to drivers/modbus/
 * and its tests.
 *
 * A backend is one file mb_<kind>.c defining a const struct mb_link_ops and
 * one line in mb_link.c's table.  The core allocates struct mb_link and
 * priv_size zeroed bytes at l->priv; open builds what the backend needs
 * (for rtu and tcp the libmodbus context in l->mb) without I/O, connect
 * opens the line, recover decides what a failed transaction means for the
 * line, close frees what open took (not l, not priv).
 */
#ifndef PQGATE_MB_LINK_IMPL_H
#define PQGATE_MB_LINK_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <modbus.h>

#include "drivers/modbus/mb_link.h"

struct mb_link_ops {
    const char *kind;
    size_t priv_size; /* zeroed, at l->priv */
    int (*open)(struct mb_link *l, const struct mb_port_cfg *cfg);
    int (*connect)(struct mb_link *l); /* 0 or negative; l->connected set by the core */
    int (*read)(struct mb_link *l, int unit, const struct mb_read *r, int64_t timeout_ns,
                uint16_t *regs, uint8_t *bits, uint8_t *exception);
    int (*raw)(struct mb_link *l, int unit, const uint8_t *pdu, size_t len,
               int64_t timeout_ns, uint8_t *ans, size_t cap, size_t *alen);
    /* After a failed transaction (err): put the line back in order for the
     * next one.  Returns 1 when the line must be reopened, else 0. */
    int (*recover)(struct mb_link *l, int err);
    void (*disconnect)(struct mb_link *l);
    void (*close)(struct mb_link *l);
};

struct mb_link {
    const struct mb_link_ops *ops;
    void *priv;
    modbus_t *mb;           /* rtu, tcp: the libmodbus context; fake: NULL */
    int kind;               /* enum mb_port_kind */
    int connected;          /* the line is open */
    int64_t silent_ns;      /* inter-frame gap before each frame; 0: none */
    int64_t quiet_until_ns; /* CLOCK_MONOTONIC: no frame starts before */
    int64_t warmup_ns;      /* wait after opening, before the first frame */
    int64_t retry_ns;       /* current reopening period; 0: not failing */
    int64_t retry_at_ns;    /* CLOCK_MONOTONIC: next opening attempt */
    int open_err;           /* last opening error, 0 when open */
    int warning;            /* non-fatal: -ENOTSUP when RS-485 mode refused */
    int64_t latency_ns; /* last transaction: request sent to answer read; 0: none sent */
};

extern const struct mb_link_ops mb_rtu_ops;
extern const struct mb_link_ops mb_tcp_ops;
extern const struct mb_link_ops mb_fake_ops;

int64_t mb_mono_ns(void);
void mb_sleep_until(int64_t mono_ns);

/* Shared by rtu and tcp: one transaction through l->mb. */
int mb_link_mb_read(struct mb_link *l, int unit, const struct mb_read *r,
                    int64_t timeout_ns, uint16_t *regs, uint8_t *bits,
                    uint8_t *exception);
int mb_link_mb_raw(struct mb_link *l, int unit, const uint8_t *pdu, size_t len,
                   int64_t timeout_ns, uint8_t *ans, size_t cap, size_t *alen);

/* The fake backend: a scripted bus of up to 256 unit ids for unit tests.
 * The test owns struct mb_fake (mb_fake_init/mb_fake_fini) and may change
 * a unit's behaviour while a port uses it; every transaction is logged. */
#define MB_FAKE_REGS 512  /* registers (and bits) per unit, addresses 0.. */
#define MB_FAKE_LOG  4096 /* transactions logged; later ones are counted */

enum mb_fake_mode {
    MB_FAKE_ABSENT,    /* never answers: -ETIMEDOUT after the timeout */
    MB_FAKE_ANSWER,    /* answers from regs */
    MB_FAKE_EXCEPTION, /* answers with exception code exc */
    MB_FAKE_GARBAGE,   /* answers with a frame that fails its check */
};

struct mb_fake_unit {
    int mode;         /* enum mb_fake_mode */
    uint8_t exc;      /* MB_FAKE_EXCEPTION */
    int64_t delay_ns; /* time an answer takes */
    uint16_t regs[MB_FAKE_REGS];
};

struct mb_fake_tx {
    int unit;
    uint8_t fn;
    uint16_t addr, count;
    int raw;      /* sent through mb_link_raw (a submitted request) */
    int64_t t_ns; /* CLOCK_MONOTONIC when the request went out */
};

struct mb_fake {
    pthread_mutex_t lock;
    struct mb_fake_unit unit[256];
    struct mb_fake_tx log[MB_FAKE_LOG];
    size_t ntx; /* transactions so far (may exceed MB_FAKE_LOG) */
};

void mb_fake_init(struct mb_fake *f); /* every unit absent */
void mb_fake_fini(struct mb_fake *f);

/* Set unit's behaviour (any thread). */
void mb_fake_set(struct mb_fake *f, int unit, int mode, uint8_t exc, int64_t delay_ns);

/* Copy up to cap logged transactions from index first; returns how many. */
size_t mb_fake_log(struct mb_fake *f, size_t first, struct mb_fake_tx *out, size_t cap);

#endif
