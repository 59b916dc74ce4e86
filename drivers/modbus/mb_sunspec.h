/* mb_sunspec.h - SunSpec discovery: find a device's meter model and make
 * a profile of it.
 *
 * SunSpec devices (SunSpec Information Model Specification v1.0, 4.1-4.2)
 * put the marker "SunS" (0x5375 0x6E53) at a base address of the holding
 * registers, 40000 (preferred), 0 or 50000, followed by a chain of models,
 * each a header (model id, length L in registers) and L registers, ended by
 * id 0xFFFF.  Model 1 (common) names the device; the meter models this
 * module knows are 201-204 (single phase, split phase, wye, delta: integers
 * with scale-factor registers) and 211-214 (the same as float32).  The
 * register layouts are C tables in mb_sunspec.c, from the SunSpec model
 * definitions (docs/profiles.md, "SunSpec").
 *
 * The reads go through the caller: either a synchronous callback
 * (mb_sunspec_discover(); it blocks for each read, so never call it on the
 * port's own thread when the callback waits for mb_port_submit()), or the
 * steps of struct mb_sunspec_probe, which a caller drives from
 * mb_port_submit()'s done callbacks without blocking.  No I/O of its own,
 * no threads, no logging.
 */
#ifndef PQGATE_MB_SUNSPEC_H
#define PQGATE_MB_SUNSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/modbus/mb_profile.h"

#define MB_SUNSPEC_ID 0x53756E53u /* "SunS" */

/* Read count (<= 64) registers of function fn (3) from addr into dst.
 * Returns 0 or a negative code (-ETIMEDOUT, -PQ_EREFUSED for an exception
 * answer, ...). */
typedef int (*mb_sunspec_read_fn)(void *ctx, int fn, int addr, int count, uint16_t *dst);

struct mb_sunspec_info {
    int base;              /* address of "SunS" */
    char manufacturer[33]; /* model 1 Mn */
    char model[33];        /* model 1 Md */
    char options[17];      /* model 1 Opt */
    char version[17];      /* model 1 Vr */
    char serial[33];       /* model 1 SN */
    int meter_model;       /* 201..204 or 211..214 */
    int meter_addr;        /* address of the meter model's id register */
    int nmodels;           /* models in the chain */
};

/* Discovery as steps, for callers that cannot block (a port's queue):
 *
 *     mb_sunspec_probe_init(&pr);
 *     while (mb_sunspec_probe_next(&pr, &addr, &count)) {
 *         ... read count holding registers (function 3) at addr, later:
 *         mb_sunspec_probe_feed(&pr, rc, regs);
 *     }
 *     pr.rc: 0 (pr.info.meter_model found: mb_sunspec_profile()) or the
 *     code mb_sunspec_discover() would return.
 *
 * Caller's memory; no allocation; one read outstanding at a time. */
struct mb_sunspec_probe {
    int state; /* private */
    int base_i;
    int addr;
    int len;
    int rc; /* -EINPROGRESS until next() returns 0 */
    struct mb_sunspec_info info;
};

void mb_sunspec_probe_init(struct mb_sunspec_probe *pr);

/* The next read to make: returns 1 with *addr and *count (<= 64), or 0 when
 * discovery has finished (result in pr->rc). */
int mb_sunspec_probe_next(const struct mb_sunspec_probe *pr, int *addr, int *count);

/* The answer to the read next() asked for: rc 0 with its registers in regs,
 * or the read's failure code (regs then unused). */
void mb_sunspec_probe_feed(struct mb_sunspec_probe *pr, int rc, const uint16_t *regs);

/* Look for "SunS" at 40000, then 0, then 50000; walk the model chain to its
 * end (at most 64 models), read model 1 and build a profile of the first
 * meter model found.  Returns 0 with *info filled and the profile in *out
 * (name "sunspec-<model>"; release with mb_profile_free(); plan it with
 * mb_plan()), -PQ_ENOTFOUND when no base holds "SunS" or the chain has no
 * meter model (*info still says what was found), -PQ_EFORMAT for a broken
 * chain (a model running past 65535, no end marker), -ETIMEDOUT when the
 * device does not answer at all (a base that answers with an exception is
 * simply not SunSpec), or -ENOMEM. */
int mb_sunspec_discover(mb_sunspec_read_fn read, void *ctx, struct mb_sunspec_info *info,
                        struct mb_profile **out);

/* The profile of meter model `model` (201-204, 211-214) whose id register
 * is at addr, as mb_sunspec_discover() builds it.  Returns 0, -EINVAL for
 * another model, or -ENOMEM. */
int mb_sunspec_profile(int model, int addr, struct mb_profile **out);

#endif
