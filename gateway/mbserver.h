/* mbserver.h - the Modbus TCP server: the gateway's own register map and
 * the Ethernet-to-serial gateway path, with write access control.
 *
 * One TCP port serves both, told apart by the MBAP unit id (as a PM8000 or
 * a Link150 does): the configured unit_id (default 255, the value the
 * Modbus TCP implementation guide gives for a directly addressed server)
 * and unit 0 read the own map (gateway/mbmap.h); any other unit id that the
 * Modbus master routes to a port (gw_modbus_route()) is forwarded to that
 * port's one request queue with mb_port_submit(), and the answer goes back
 * with the client's transaction id.  Exceptions (Modbus Application
 * Protocol V1.1b3, 7): 0x01 function not served or write refused to this
 * client, 0x02 address not in the map or not in a writable range, 0x03 bad
 * quantity, 0x06 the port's queue is full, 0x0A unit id on no port,
 * 0x0B the device did not answer in time.  docs/modbus-server.md.
 *
 * Threads.  The server runs one thread of its own: poll() over the
 * listening socket, the clients (non-blocking) and an eventfd on which the
 * ports' threads post the answers of forwarded requests.  A client never
 * waits for another's forwarded request; each client may have up to
 * MBSRV_PIPELINE requests in flight, answered in completion order.
 *
 * Bounds: max_clients connections (one more is accepted and closed), a
 * fixed 260-byte receive and 1560-byte send buffer per client, and
 * max_clients * MBSRV_PIPELINE forwarded requests in flight in all; a
 * request past that (clients gone with requests still on a bus, then new
 * ones) is answered 0x06 at once.
 */
#ifndef PQGATE_MBSERVER_H
#define PQGATE_MBSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "drivers/modbus/mb_port.h"
#include "gateway/daemon.h"

#define MBSRV_PIPELINE 4 /* requests in flight per client; more wait unread */

struct bus;
struct mbserver_cfg;
struct pqgate_cfg;
struct mbsrv;     /* opaque */
struct mbsrv_acl; /* opaque */

/* The master's side, a seam for tests: NULL members (or NULL ops) mean no
 * gateway path (every other unit id gets 0x0A) and no cache. */
struct mbsrv_ops {
    struct mb_port *(*route)(int unit, int *dev_index);
    int (*submit)(struct mb_port *p, int unit, const uint8_t *pdu, size_t len,
                  int64_t timeout_ns, mb_done_fn done, void *ctx);
    int (*cached)(struct mb_port *p, int unit, int fn, int addr, int count,
                  int64_t max_age_ns, uint16_t *dst);
};

/* The ops of the running daemon: the Modbus master's (gateway/modbus.h,
 * drivers/modbus/mb_port.h). */
const struct mbsrv_ops *mbsrv_default_ops(void);

struct mbsrv_stats {
    uint64_t connections; /* accepted */
    uint64_t refused;     /* connections over max_clients */
    uint64_t requests;
    uint64_t exceptions; /* answered with an exception, own or forwarded path */
    uint64_t forwarded;  /* submitted to a port */
    uint64_t cached;     /* answered from the poller's cache */
    uint64_t writes_refused;
    uint64_t bad_frames; /* connections closed for a malformed MBAP header */
};

/* Listen on cfg->bind:cfg->port (port 0: any free port, for tests) and start
 * the thread.  cfg is borrowed until mbsrv_stop(); prefixes (the devices'
 * channel prefixes "bus1.dev7/", in device-index order) are copied.  b must
 * outlive the server.  Returns 0 and the server in *out, -errno (bind
 * failed: the port is taken, the address is not local) or -ENOMEM. */
int mbsrv_start(const struct mbserver_cfg *cfg, const struct bus *b,
                const char *const *prefixes, size_t ndev, const struct mbsrv_ops *ops,
                struct mbsrv **out);

/* The port listened on. */
int mbsrv_port(const struct mbsrv *s);

/* Counters so far (any thread). */
void mbsrv_stats(struct mbsrv *s, struct mbsrv_stats *out);

/* Close the socket and every client and join the thread; forwarded requests
 * still queued on a port complete later into memory kept until the last
 * one is back.  NULL is a no-op. */
void mbsrv_stop(struct mbsrv *s);

/* ---- access control (pure) ---------------------------------------------------- */

/* The write ranges of cfg (cfg->writes), parsed.  0 and *out, -PQ_ECONFIG
 * (a clients list that does not parse) or -ENOMEM. */
int mbsrv_acl_new(const struct mbserver_cfg *cfg, struct mbsrv_acl **out);
void mbsrv_acl_free(struct mbsrv_acl *a); /* NULL is a no-op */

/* May client (IPv4, host order) write count addresses from addr of unit?
 * 0 if yes; MB_EX_ILLEGAL_FUNCTION when no range of unit lists the client;
 * MB_EX_ILLEGAL_ADDRESS when some do but none holds the whole span. */
int mbsrv_acl_check(const struct mbsrv_acl *a, int unit, uint32_t client, int addr,
                    int count);

/* The span a write request PDU touches (functions 5, 6, 15, 16, 22, 23).
 * Returns 1 and *addr, *count for a write, 0 for a request that writes
 * nothing, -1 for a write PDU too short to say. */
int mbsrv_pdu_write_span(const uint8_t *pdu, size_t len, int *addr, int *count);

/* `pqgate help modbus-map [--config FILE]`: the register table
 * (mbmap_print_doc()) and, with a config (loaded from config_path, where
 * its profiles are looked up first), its device blocks with each device's
 * channels and addresses.  0 or -ENOMEM. */
int mbsrv_print_map(FILE *f, const struct pqgate_cfg *cfg, const char *config_path);

extern const struct gw_component mbserver_component;

#endif
