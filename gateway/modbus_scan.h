/* modbus_scan.h - `pqgate modbus-scan`: the read plan of a config, and the
 * discovery of the devices on a serial bus.
 *
 * Both print to out and report problems to err; they return the process
 * exit code (MODBUS_SCAN_* below), so `pqgate help modbus-scan` and
 * docs/modbus.md can name them.
 */
#ifndef PQGATE_GW_MODBUS_SCAN_H
#define PQGATE_GW_MODBUS_SCAN_H

#include <stdint.h>
#include <stdio.h>

struct pqgate_cfg;

enum modbus_scan_exit {
    MODBUS_SCAN_OK = 0,      /* printed the plan; found at least one device */
    MODBUS_SCAN_ERROR = 1,   /* config, profile or link error (printed) */
    MODBUS_SCAN_USAGE = 2,   /* bad command line */
    MODBUS_SCAN_NOTHING = 3, /* the bus was scanned and no unit id answered */
};

/* config_path is the file cfg came from: profiles are looked for beside it
 * first (cfg_profile_path()). */

/* For each device of every bus and peer: its profile, its reads (function,
 * address+count) and the registers they carry; then the totals: reads per
 * cycle, registers read, the minimum the register maps need
 * (mb_plan_min_regs()) and the ratio of the two. */
int modbus_scan_plan(const struct pqgate_cfg *cfg, const char *config_path, FILE *out,
                     FILE *err);

/* Ask unit ids first..last on serial bus bus_name with timeout_ns each
 * (mb_port_scan()), and print for each that answers its unit id, its
 * identification (function 43/14) when offered and the shipped profile that
 * fits (the rule is in modbus_scan.c and docs/modbus.md). */
int modbus_scan_bus(const struct pqgate_cfg *cfg, const char *config_path,
                    const char *bus_name, int first, int last, int64_t timeout_ns,
                    FILE *out, FILE *err);

#endif
