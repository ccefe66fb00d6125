/*
 * The tcp transport: a non-blocking TCP stream carrying the line protocol.
 * Every address a host name resolves to is tried in turn.
 */
#include <netdb.h>
#include <stdlib.h>

#include "oocsi/transport.h"
#include "socket_util.h"

typedef struct tcp_state {
    oocsi__sock sock;
} tcp_state;

static int tcp_open(void **state, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    int rc;
    tcp_state *s = oocsi__sock_state_new(sizeof(*s), "tcp", state, url, cfg, &rc);
    if (!s)
        return rc;
    rc = oocsi__sock_open(&s->sock, url->host);
    if (rc != OOCSI_OK) {
        free(s);
        return rc;
    }
    *state = s;
    return OOCSI_OK;
}

static int tcp_interest(void *state)
{
    tcp_state *s = state;
    return s->sock.connected ? OOCSI_WANT_READ : OOCSI_WANT_WRITE;
}

static int tcp_process(void *state, int events)
{
    tcp_state *s = state;
    if (s->sock.connected)
        return 1;
    return oocsi__sock_finish_connect(&s->sock, events);
}

static ssize_t tcp_read(void *state, char *buf, size_t len)
{
    return oocsi__sock_recv(&((tcp_state *)state)->sock, buf, len);
}

static ssize_t tcp_write(void *state, const char *buf, size_t len)
{
    return oocsi__sock_send(&((tcp_state *)state)->sock, buf, len);
}

static void tcp_close(void *state)
{
    tcp_state *s = state;
    if (!s)
        return;
    oocsi__sock_release(&s->sock);
    free(s);
}

static const oocsi_transport tcp_transport = OOCSI__STREAM_TRANSPORT(tcp, "tcp", 4444);

const oocsi_transport *oocsi_transport_tcp(void)
{
    return &tcp_transport;
}
