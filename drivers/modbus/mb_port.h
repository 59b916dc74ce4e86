/* mb_port.h - the Modbus master: one request queue and one thread per
 * physical link (an RS-485 serial bus, or one TCP connection to a peer).
 *
 * A port polls its devices on their intervals, reading the blocks the
 * planner made (mb_plan.h), and serves requests submitted by others (the
 * serial gateway path, writes) through the same one queue, fairly: between
 * two poll transactions at most MB_PORT_BURST submitted requests go first.
 * A port knows nothing of profiles or channels: it hands each poll cycle's
 * raw words to on_cycle, and the caller decodes them.
 *
 * Timing is ours, not libmodbus's: the RTU silent interval before every
 * frame (3.5 characters; 1.75 ms above 19200 baud), a per-device
 * turnaround delay after a broadcast or before the next request, and a
 * post-connect warm-up for TCP peers.  A device that stops answering fails
 * fast: its first timeout ends its cycle (the retries are spent only while
 * it is up), and it is quarantined with an exponential backoff
 * (backoff_min_ns doubling up to backoff_max_ns); one probe per backoff
 * period, and the first good answer puts it back at its normal interval.
 * So a dead device costs its bus at most one timeout per backoff period and
 * never delays another port.
 *
 * Threads.  mb_port_start() starts the port's thread; on_cycle and the
 * submit callbacks run on it (they must not block: copy, publish, return).
 * mb_port_submit(), mb_port_cached(), mb_port_health() and mb_port_stop()
 * may be called from any thread.
 */
#ifndef PQGATE_MB_PORT_H
#define PQGATE_MB_PORT_H

#include <stddef.h>
#include <stdint.h>

#define MB_PORT_BURST 4   /* submitted requests between two poll transactions */
#define MB_PORT_QUEUE 64  /* pending submitted requests per port */
#define MB_PDU_MAX    253 /* bytes of a Modbus PDU (function code included) */

enum mb_port_kind {
    MB_PORT_RTU,
    MB_PORT_TCP,
    MB_PORT_FAKE, /* tests: scripted devices (struct mb_fake, mb_link_impl.h) */
};

enum mb_rts {
    MB_RTS_NONE, /* the adapter switches direction itself */
    MB_RTS_UP,   /* RTS high while sending (TIOCM_RTS) */
    MB_RTS_DOWN, /* RTS low while sending */
};

struct mb_port_cfg {
    const char *name; /* "bus1", "peer3": names the port in logs */
    int kind;         /* enum mb_port_kind */
    /* RTU */
    const char *device; /* "/dev/ttyS1" */
    int baud;
    char parity; /* 'N', 'E', 'O' */
    int data_bits, stop_bits;
    int rts;              /* enum mb_rts */
    int64_t rts_delay_ns; /* extra hold of RTS after the last byte; 0: none */
    int64_t silent_ns;    /* inter-frame gap; 0: 3.5 characters (>= 1.75 ms) */
    /* TCP */
    const char *host;
    int port;
    int64_t warmup_ns; /* wait after connecting before the first request */
    /* both */
    int64_t timeout_ns; /* default response timeout of the port's devices */
    /* MB_PORT_FAKE */
    void *fake; /* struct mb_fake *, borrowed until mb_port_stop() */
};

/* Function codes the poller reads with. */
enum mb_fn {
    MB_FN_COILS = 1,
    MB_FN_DISCRETE = 2,
    MB_FN_HOLDING = 3,
    MB_FN_INPUT = 4,
};

/* One read of a poll cycle: count registers (or bits) from addr (0-based
 * protocol address). */
struct mb_read {
    uint8_t fn; /* enum mb_fn */
    uint16_t addr;
    uint16_t count; /* <= 125 registers, <= 2000 bits */
};

struct mb_dev_cfg {
    const char *name; /* "dev7": names the device in logs */
    int unit;         /* 1..247 (0..255 on TCP) */
    int64_t poll_ns;
    int64_t timeout_ns;                     /* 0: the port's */
    int64_t turnaround_ns;                  /* wait after this device's answer; 0: none */
    int retries;                            /* extra tries while the device is up */
    int64_t backoff_min_ns, backoff_max_ns; /* 0: poll_ns and 60 s */
    const struct mb_read *reads;            /* copied by mb_port_start() */
    size_t nreads;
};

/* The result of one read of a cycle.  rc is 0, -ETIMEDOUT, -PQ_EREFUSED
 * (exception: code in exception), -PQ_EFRAME (bad CRC, short or malformed
 * answer) or another negative code; regs (registers) or bits (one byte per
 * bit, 0/1) hold the answer when rc is 0, valid only during the callback.
 * A read not tried because the device failed earlier in the cycle (fail
 * fast) has rc -ECANCELED. */
struct mb_read_result {
    const struct mb_read *read;
    int rc;
    uint8_t exception;
    int64_t t_ns; /* CLOCK_REALTIME when the answer arrived */
    const uint16_t *regs;
    const uint8_t *bits;
};

/* Called on the port's thread after each poll cycle of device dev (index
 * into the devs given to mb_port_start()).  res[i] is the result of the
 * device's read i, in the order the reads were given. */
typedef void (*mb_cycle_fn)(void *ctx, int dev, const struct mb_read_result *res,
                            size_t n);

enum mb_dev_state {
    MB_DEV_UNKNOWN, /* not polled yet */
    MB_DEV_UP,
    MB_DEV_DOWN, /* quarantined: probed once per backoff period */
};

/* Per device, counting every transaction of its unit id: poll reads (each
 * retry is one) and submitted requests.  requests = good + timeouts +
 * exceptions + frame_errors + io_errors; io_errors include transactions the
 * link refused before sending (port not open).  Latency is from the request
 * going out to the answer read, over good answers (avg: mean of all). */
struct mb_health {
    int state; /* enum mb_dev_state */
    uint64_t requests, good;
    uint64_t timeouts, exceptions, frame_errors, io_errors;
    uint8_t last_exception;
    int last_rc;
    int64_t last_good_ns; /* CLOCK_REALTIME; 0: never */
    double latency_ms_last, latency_ms_avg, latency_ms_max;
    int64_t backoff_ns; /* current quarantine period; 0 when up */
};

struct mb_port;

/* Open the link and start the thread.  devs are borrowed until
 * mb_port_stop(); their reads are copied (results point into the copy).  A link that
 * cannot be opened yet (serial port missing, peer refusing) is not an error: the thread
 * retries before the next transaction, at most once per retry period (100 ms doubling to
 * 10 s); the devices' reads fail with the opening error meanwhile and
 * mb_port_link_error() says it, for the caller to log once.  Returns 0 and
 * the port in *out, -EINVAL (bad cfg, device or read) or -ENOMEM. */
int mb_port_start(const struct mb_port_cfg *cfg, const struct mb_dev_cfg *devs,
                  size_t ndevs, mb_cycle_fn on_cycle, void *ctx, struct mb_port **out);

/* Stop the thread (within the current transaction's timeout: no retry or
 * further read is started once stop is asked), fail every
 * pending submitted request with -ECANCELED, close and free.  NULL: no-op. */
void mb_port_stop(struct mb_port *p);

/* A request from outside the poller: the PDU (function code and data, as
 * on the wire without unit id and CRC) for unit.  done is called once, on
 * the port's thread, with rc 0 and the answer PDU (an exception answer is a PDU too:
 * function | 0x80, code), or rc -ETIMEDOUT, -PQ_EFRAME, -ECANCELED, or a
 * link error (-ECONNREFUSED, -ENOENT, ...).  A unit whose device is DOWN
 * gets -ETIMEDOUT at once, without traffic (its probe decides when it is
 * back).  On RTU, unit 0 is a broadcast: rc 0 with no PDU, and the bus then
 * keeps quiet for the broadcast turnaround (the largest device turnaround,
 * else 100 ms).  timeout_ns 0: the device's, else the port's.  Returns 0
 * when queued, -PQ_EFULL when MB_PORT_QUEUE requests are pending (done is
 * then not called: the newest is refused), -EINVAL for a bad PDU,
 * -ECANCELED while stopping. */
typedef void (*mb_done_fn)(void *ctx, int rc, const uint8_t *pdu, size_t len);
int mb_port_submit(struct mb_port *p, int unit, const uint8_t *pdu, size_t len,
                   int64_t timeout_ns, mb_done_fn done, void *ctx);

/* Copy count registers (fn 3 or 4) from addr of unit out of the last good
 * poll answers when all of them were read within max_age_ns.  Returns 0 or
 * -PQ_ENOTFOUND. */
int mb_port_cached(struct mb_port *p, int unit, int fn, int addr, int count,
                   int64_t max_age_ns, uint16_t *dst);

/* Replace the reads of device dev (a SunSpec device is started with none
 * and gets its reads once its model chain has been discovered through
 * mb_port_submit()).  reads are copied (the caller may reuse its array at
 * once; a result's read then points into the port's copy); the change
 * takes effect at the device's next cycle.  Any thread.  Returns 0,
 * -EINVAL (bad dev or read) or -ENOMEM. */
int mb_port_set_reads(struct mb_port *p, int dev, const struct mb_read *reads, size_t n);

/* Health of device dev (index), or -EINVAL. */
int mb_port_health(struct mb_port *p, int dev, struct mb_health *out);

/* The link's condition, for the caller to log when it changes: 0 when the
 * link is open and configured as asked; the last error opening it
 * (-ENOENT: serial port missing, -ECONNREFUSED, ...) while it is not; or,
 * with the link working, -ENOTSUP when RS-485 RTS control was asked for
 * and the port refused the kernel RS-485 mode (RTS is then switched by
 * libmodbus around each frame).  Any thread. */
int mb_port_link_error(struct mb_port *p);

/* Discovery (pqgate modbus-scan --bus): ask each unit id of [first, last]
 * with a short timeout; for each that answers, call found with the unit
 * id and, when the device offers it, its identification (function 43/14:
 * vendor, product code, revision; NULL when not offered).  Runs on the
 * calling thread on a port that is not started (mb_port_scan opens and
 * closes the link itself).  Returns the number found or a negative code. */
typedef void (*mb_found_fn)(void *ctx, int unit, const char *vendor, const char *product,
                            const char *revision);
int mb_port_scan(const struct mb_port_cfg *cfg, int first, int last, int64_t timeout_ns,
                 mb_found_fn found, void *ctx);

#endif
