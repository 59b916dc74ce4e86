/* mb_tcp.c - the "tcp" link backend: one connection to a Modbus TCP peer
 * through libmodbus's TCP context.
 *
 * A peer that resets the connection, times out or sends a broken answer is
 * reconnected before the next request (mb_link.c rate-limits reopening):
 * after a timeout a late answer may still be on its way, and a fresh
 * connection is the only clean state.  An exception answer leaves the
 * connection as it is.
 */
#include <errno.h>
#include <stdio.h>

#include <modbus.h>

#include "drivers/modbus/mb_link_impl.h"
#include "pq/err.h"

struct tcp {
    int64_t timeout_ns; /* connect timeout: the port's response timeout */
};

static int tcp_open(struct mb_link *l, const struct mb_port_cfg *cfg)
{
    struct tcp *t = l->priv;
    char service[16];

    if (!cfg->host || cfg->port <= 0 || cfg->port > 65535) {
        return -EINVAL;
    }
    snprintf(service, sizeof(service), "%d", cfg->port);
    l->mb = modbus_new_tcp_pi(cfg->host, service);
    if (!l->mb) {
        return errno ? -errno : -ENOMEM;
    }
    /* Never MODBUS_ERROR_RECOVERY_LINK: it sleeps inside calls. */
    modbus_set_error_recovery(l->mb, MODBUS_ERROR_RECOVERY_NONE);
    l->warmup_ns = cfg->warmup_ns;
    t->timeout_ns = cfg->timeout_ns > 0 ? cfg->timeout_ns : 1000000000LL;
    return 0;
}

static int tcp_connect(struct mb_link *l)
{
    struct tcp *t = l->priv;
    int64_t us = t->timeout_ns / 1000;

    /* libmodbus bounds connect() by the response timeout. */
    modbus_set_response_timeout(l->mb, (uint32_t) (us / 1000000),
                                (uint32_t) (us % 1000000));
    if (modbus_connect(l->mb) == -1) {
        return errno ? -errno : -EIO;
    }
    return 0;
}

static int tcp_recover(struct mb_link *l, int err)
{
    (void) l;
    return err != -EINVAL;
}

static void tcp_disconnect(struct mb_link *l)
{
    modbus_close(l->mb);
}

static void tcp_close(struct mb_link *l)
{
    modbus_free(l->mb);
}

const struct mb_link_ops mb_tcp_ops = {
    .kind = "tcp",
    .priv_size = sizeof(struct tcp),
    .open = tcp_open,
    .connect = tcp_connect,
    .read = mb_link_mb_read,
    .raw = mb_link_mb_raw,
    .recover = tcp_recover,
    .disconnect = tcp_disconnect,
    .close = tcp_close,
};
