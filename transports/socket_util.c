/*
 * Internal socket helpers shared by the stream transports; see socket_util.h.
 */
#include "socket_util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void oocsi__sock_init(oocsi__sock *k, const char *tag, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    memset(k, 0, sizeof(*k));
    k->fd = -1;
    k->cfg = cfg;
    k->tag = tag;
    snprintf(k->host, sizeof(k->host), "%s", url->host);
    k->port = url->port;
}

void oocsi__sock_log(const oocsi__sock *k, oocsi_log_level lvl, const char *what, int err)
{
    if (k->cfg && k->cfg->log)
        k->cfg->log(k->cfg->log_ctx, lvl, "%s %s:%d: %s: %s", k->tag, k->host, k->port, what, strerror(err));
}

int oocsi__sock_resolve(oocsi__sock *k, const char *host)
{
    char port[16];
    struct addrinfo hints;
    int gai;

    snprintf(port, sizeof(port), "%d", k->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* A numeric address first: no name service, and no AI_ADDRCONFIG (which
     * asks the kernel for the configured addresses over a netlink socket,
     * seven system calls per connect). */
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    gai = getaddrinfo(host, port, &hints, &k->ai_list);
    if (gai == EAI_NONAME) {
        hints.ai_flags = AI_ADDRCONFIG;
        gai = getaddrinfo(host, port, &hints, &k->ai_list);
    }
    if (gai != 0) {
        k->ai_list = NULL;
        return gai;
    }
    k->ai_next = k->ai_list;
    return 0;
}

int oocsi__sock_try_next(oocsi__sock *k)
{
    while (k->ai_next) {
        struct addrinfo *ai = k->ai_next;
        k->ai_next = ai->ai_next;
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            oocsi__sock_log(k, OOCSI_LOG_DEBUG, "socket", errno);
            continue;
        }
        /* No SO_KEEPALIVE: the client's own keep-alive (a ping after 10 s
         * of silence, or WebSocket pings) finds a dead peer long before the
         * kernel's two hours would. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            k->fd = fd;
            k->connected = 1;
            return OOCSI_OK;
        }
        if (errno == EINPROGRESS) {
            k->fd = fd;
            return OOCSI_OK;
        }
        oocsi__sock_log(k, OOCSI_LOG_DEBUG, "connect", errno);
        close(fd);
    }
    return OOCSI_ERR_CONNECT;
}

int oocsi__sock_finish_connect(oocsi__sock *k, int events)
{
    if (!(events & (OOCSI_EV_WRITABLE | OOCSI_EV_ERROR)))
        return 0;
    int err = 0;
    /* Writable without an error condition: connected (no getsockopt). */
    if (events & OOCSI_EV_ERROR) {
        socklen_t len = sizeof(err);
        if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
    }
    if (err == 0) {
        k->connected = 1;
        return 1;
    }
    oocsi__sock_log(k, OOCSI_LOG_DEBUG, "connect", err);
    close(k->fd);
    k->fd = -1;
    return oocsi__sock_try_next(k) == OOCSI_OK ? 0 : OOCSI_ERR_CONNECT;
}

int oocsi__sock_open(oocsi__sock *k, const char *host)
{
    int gai = oocsi__sock_resolve(k, host);
    if (gai != 0) {
        if (k->cfg && k->cfg->log)
            k->cfg->log(k->cfg->log_ctx, OOCSI_LOG_WARN, "%s %s:%d: cannot resolve %s: %s", k->tag, host, k->port, host,
                        gai_strerror(gai));
        return OOCSI_ERR_CONNECT;
    }
    int rc = oocsi__sock_try_next(k);
    if (rc != OOCSI_OK)
        oocsi__sock_release(k);
    return rc;
}

void oocsi__sock_release(oocsi__sock *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    if (k->ai_list)
        freeaddrinfo(k->ai_list);
    k->ai_list = NULL;
    k->ai_next = NULL;
}

ssize_t oocsi__send_nosignal(int fd, const void *buf, size_t len)
{
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

ssize_t oocsi__recv_retry(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

int oocsi__would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

ssize_t oocsi__sock_recv(const oocsi__sock *k, char *buf, size_t len)
{
    ssize_t n = oocsi__recv_retry(k->fd, buf, len);
    if (n > 0)
        return n;
    if (n == 0)
        return OOCSI_ERR_CLOSED;
    if (oocsi__would_block(errno))
        return 0;
    oocsi__sock_log(k, OOCSI_LOG_DEBUG, "recv", errno);
    return OOCSI_ERR_IO;
}

ssize_t oocsi__sock_send(const oocsi__sock *k, const char *buf, size_t len)
{
    ssize_t n = oocsi__send_nosignal(k->fd, buf, len);
    if (n >= 0)
        return n;
    if (oocsi__would_block(errno))
        return 0;
    oocsi__sock_log(k, OOCSI_LOG_DEBUG, "send", errno);
    return OOCSI_ERR_IO;
}

int oocsi__sock_state_fd(void *state)
{
    return ((const oocsi__sock *)state)->fd;
}

void *oocsi__sock_state_new(size_t size, const char *tag, void **state, const oocsi_url *url,
                            const oocsi_transport_config *cfg, int *rc)
{
    *rc = OOCSI_ERR_INVAL;
    if (!state || !url || !url->host || !*url->host)
        return NULL;
    *rc = OOCSI_ERR_NOMEM;
    oocsi__sock *k = calloc(1, size);
    if (k)
        oocsi__sock_init(k, tag, url, cfg);
    return k;
}
