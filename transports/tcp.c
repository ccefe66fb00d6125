/*
 * The tcp transport: a non-blocking TCP stream carrying the line protocol.
 * Every address a host name resolves to is tried in turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oocsi/transport.h"

typedef struct tcp_state {
    int fd;
    int connected;
    struct addrinfo *ai_list;
    struct addrinfo *ai_next;
    const oocsi_transport_config *cfg;
    char host[256];
    int port;
} tcp_state;

static void tcp_log(tcp_state *s, oocsi_log_level lvl, const char *what, int err)
{
    if (s->cfg && s->cfg->log)
        s->cfg->log(s->cfg->log_ctx, lvl, "tcp %s:%d: %s: %s", s->host, s->port, what, strerror(err));
}

/* Starts a connect to the next address; OOCSI_OK when one is under way. */
static int tcp_try_next(tcp_state *s)
{
    while (s->ai_next) {
        struct addrinfo *ai = s->ai_next;
        s->ai_next = ai->ai_next;
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            tcp_log(s, OOCSI_LOG_DEBUG, "socket", errno);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            s->fd = fd;
            s->connected = 1;
            return OOCSI_OK;
        }
        if (errno == EINPROGRESS) {
            s->fd = fd;
            return OOCSI_OK;
        }
        tcp_log(s, OOCSI_LOG_DEBUG, "connect", errno);
        close(fd);
    }
    return OOCSI_ERR_CONNECT;
}

static int tcp_open(void **state, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    if (!state || !url || !url->host || !*url->host)
        return OOCSI_ERR_INVAL;
    tcp_state *s = calloc(1, sizeof(*s));
    if (!s)
        return OOCSI_ERR_NOMEM;
    s->fd = -1;
    s->cfg = cfg;
    snprintf(s->host, sizeof(s->host), "%s", url->host);
    s->port = url->port;
    char port[16];
    snprintf(port, sizeof(port), "%d", url->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int gai = getaddrinfo(url->host, port, &hints, &s->ai_list);
    if (gai != 0) {
        if (cfg && cfg->log)
            cfg->log(cfg->log_ctx, OOCSI_LOG_WARN, "tcp: cannot resolve %s: %s", url->host, gai_strerror(gai));
        free(s);
        return OOCSI_ERR_CONNECT;
    }
    s->ai_next = s->ai_list;
    int rc = tcp_try_next(s);
    if (rc != OOCSI_OK) {
        freeaddrinfo(s->ai_list);
        free(s);
        return rc;
    }
    *state = s;
    return OOCSI_OK;
}

static int tcp_fd(void *state)
{
    return ((tcp_state *)state)->fd;
}

static int tcp_interest(void *state)
{
    tcp_state *s = state;
    return s->connected ? OOCSI_WANT_READ : OOCSI_WANT_WRITE;
}

static int tcp_process(void *state, int events)
{
    tcp_state *s = state;
    if (s->connected)
        return 1;
    if (!(events & (OOCSI_EV_WRITABLE | OOCSI_EV_ERROR)))
        return 0;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0) {
        s->connected = 1;
        return 1;
    }
    tcp_log(s, OOCSI_LOG_DEBUG, "connect", err);
    close(s->fd);
    s->fd = -1;
    return tcp_try_next(s) == OOCSI_OK ? 0 : OOCSI_ERR_CONNECT;
}

static ssize_t tcp_read(void *state, char *buf, size_t len)
{
    tcp_state *s = state;
    for (;;) {
        ssize_t n = recv(s->fd, buf, len, 0);
        if (n > 0)
            return n;
        if (n == 0)
            return OOCSI_ERR_CLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        tcp_log(s, OOCSI_LOG_DEBUG, "recv", errno);
        return OOCSI_ERR_IO;
    }
}

static ssize_t tcp_write(void *state, const char *buf, size_t len)
{
    tcp_state *s = state;
    for (;;) {
        ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        tcp_log(s, OOCSI_LOG_DEBUG, "send", errno);
        return OOCSI_ERR_IO;
    }
}

static void tcp_close(void *state)
{
    tcp_state *s = state;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->ai_list)
        freeaddrinfo(s->ai_list);
    free(s);
}

static const oocsi_transport tcp_transport = {
    .scheme = "tcp",
    .default_codec = "line",
    .default_port = 4444,
    .flags = OOCSI_TRANSPORT_STREAM,
    .default_path = NULL,
    .open = tcp_open,
    .fd = tcp_fd,
    .interest = tcp_interest,
    .process = tcp_process,
    .read = tcp_read,
    .write = tcp_write,
    .close = tcp_close,
    .wait = NULL,
    .wake = NULL,
    .pending_frame = NULL,
};

const oocsi_transport *oocsi_transport_tcp(void)
{
    return &tcp_transport;
}
