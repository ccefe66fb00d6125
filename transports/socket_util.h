/*
 * Internal socket helpers shared by the stream transports (tcp, tls): the
 * non-blocking TCP connect that tries every address a host name resolves to
 * in turn, and send/recv with the transports' return conventions. Not part
 * of the public API (no OOCSI_API: hidden in the shared library).
 */
#ifndef OOCSI_SOCKET_UTIL_H
#define OOCSI_SOCKET_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "oocsi/transport.h"

struct addrinfo;

/* The resolved addresses of one endpoint and the socket being connected. */
typedef struct oocsi__sock {
    int fd;                   /* -1 when none */
    int connected;            /* the TCP connect has completed */
    struct addrinfo *ai_list; /* getaddrinfo()'s results */
    struct addrinfo *ai_next; /* the next one to try */
    const oocsi_transport_config *cfg;
    const char *tag; /* "tcp", "tls": the first word of log lines */
    char host[256];
    int port;
} oocsi__sock;

/** Fills k for url (no I/O): no socket, no addresses yet. */
void oocsi__sock_init(oocsi__sock *k, const char *tag, const oocsi_url *url, const oocsi_transport_config *cfg);
/** Logs "TAG HOST:PORT: what: strerror(err)" through cfg->log, if any. */
void oocsi__sock_log(const oocsi__sock *k, oocsi_log_level lvl, const char *what, int err);
/** Resolves host (the URL's, which k->host may have cut short) and k->port
 *  (stream sockets, any family) and points ai_next at the first result.
 *  0, or getaddrinfo()'s error code (nothing to free). */
int oocsi__sock_resolve(oocsi__sock *k, const char *host);
/** Starts a non-blocking connect to the next address (TCP_NODELAY,
 *  SO_KEEPALIVE); sets connected when it completes at once. OOCSI_OK when
 *  one is under way, OOCSI_ERR_CONNECT when no address is left. */
int oocsi__sock_try_next(oocsi__sock *k);
/** After a connect under way, once events report the socket writable or in
 *  error: 1 connected, 0 still waiting (or the next address under way), or
 *  OOCSI_ERR_CONNECT when the last address failed. */
int oocsi__sock_finish_connect(oocsi__sock *k, int events);
/** oocsi__sock_resolve() then oocsi__sock_try_next(): OOCSI_OK with a
 *  connect under way (or done), else OOCSI_ERR_CONNECT with nothing left to
 *  release (a name that does not resolve is logged as a warning). */
int oocsi__sock_open(oocsi__sock *k, const char *host);
/** Closes the socket and frees the addresses (k itself is not freed). */
void oocsi__sock_release(oocsi__sock *k);

/** send() with MSG_NOSIGNAL (no SIGPIPE on a reset), retried on EINTR. */
ssize_t oocsi__send_nosignal(int fd, const void *buf, size_t len);
/** recv(), retried on EINTR. */
ssize_t oocsi__recv_retry(int fd, void *buf, size_t len);
/** 1 for EAGAIN / EWOULDBLOCK. */
int oocsi__would_block(int err);

/** The transport read(): bytes read, 0 when none are ready,
 *  OOCSI_ERR_CLOSED at end of stream, OOCSI_ERR_IO on an error. */
ssize_t oocsi__sock_recv(const oocsi__sock *k, char *buf, size_t len);
/** The transport write(): bytes written, 0 when the socket is full,
 *  OOCSI_ERR_IO on an error. */
ssize_t oocsi__sock_send(const oocsi__sock *k, const char *buf, size_t len);

/** A zeroed transport state of size bytes whose first member is an
 *  oocsi__sock, initialised for url; NULL with *rc OOCSI_ERR_INVAL (no state
 *  pointer or no host) or OOCSI_ERR_NOMEM. */
void *oocsi__sock_state_new(size_t size, const char *tag, void **state, const oocsi_url *url,
                            const oocsi_transport_config *cfg, int *rc);
/** The transport fd() of a state whose first member is its oocsi__sock. */
int oocsi__sock_state_fd(void *state);

/* The vtable of a stream transport built on these helpers: scheme_ uses
 * prefix_open, prefix_fd, prefix_interest, ... (tcp and tls). */
#define OOCSI__STREAM_TRANSPORT(prefix, scheme_, port_)                                                                \
    {                                                                                                                  \
        .scheme = scheme_, .default_codec = "line", .default_port = port_, .flags = OOCSI_TRANSPORT_STREAM,            \
        .open = prefix##_open, .fd = oocsi__sock_state_fd, .interest = prefix##_interest, .process = prefix##_process, \
        .read = prefix##_read, .write = prefix##_write, .close = prefix##_close,                                       \
    }

#endif
