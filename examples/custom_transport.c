/*
 * custom_transport: adding a transport of your own.
 *
 * This registers a "unix" URL scheme that reaches an OOCSI server (or a relay
 * to one) over a Unix-domain stream socket: unix:///path/to/socket. The
 * transport only moves bytes; the built-in line codec does the OOCSI part.
 * Everything the built-in tcp transport can do works over it: reconnects,
 * subscriptions, calls.
 *
 * Usage: oocsi-example-custom-transport /path/to/socket
 * (tests/integration/test_custom_transport.c runs it against a relay to the
 * hub.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <oocsi/oocsi.h>
#include <oocsi/transport.h>

typedef struct unix_state {
    int fd;
    int connected;
} unix_state;

/* Start connecting without blocking. */
static int unix_open(void **state, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    (void)cfg;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (!url->path[0] || strlen(url->path) >= sizeof(sa.sun_path))
        return OOCSI_ERR_INVAL;
    strcpy(sa.sun_path, url->path);
    unix_state *s = calloc(1, sizeof(*s));
    if (!s)
        return OOCSI_ERR_NOMEM;
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        free(s);
        return OOCSI_ERR_IO;
    }
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        s->connected = 1;
    } else if (errno != EINPROGRESS && errno != EAGAIN) {
        close(s->fd);
        free(s);
        return OOCSI_ERR_CONNECT; /* no socket there, or refused */
    }
    *state = s;
    return OOCSI_OK;
}

static int unix_fd(void *state)
{
    return ((unix_state *)state)->fd;
}

/* While connecting, wait until the socket is writable; then read. */
static int unix_interest(void *state)
{
    return ((unix_state *)state)->connected ? OOCSI_WANT_READ : OOCSI_WANT_WRITE;
}

/* 1 once connected, 0 while connecting, < 0 on failure. */
static int unix_process(void *state, int events)
{
    unix_state *s = state;
    if (s->connected)
        return 1;
    if (!(events & (OOCSI_EV_WRITABLE | OOCSI_EV_ERROR)))
        return 0;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err)
        return OOCSI_ERR_CONNECT;
    s->connected = 1;
    return 1;
}

/* Bytes in: > 0 bytes, 0 = nothing now, < 0 = an error or the end. */
static ssize_t unix_read(void *state, char *buf, size_t len)
{
    ssize_t n = recv(((unix_state *)state)->fd, buf, len, 0);
    if (n > 0)
        return n;
    if (n == 0)
        return OOCSI_ERR_CLOSED;
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : OOCSI_ERR_IO;
}

/* Bytes out: how many the socket took (0 = try again when writable). */
static ssize_t unix_write(void *state, const char *buf, size_t len)
{
    ssize_t n = send(((unix_state *)state)->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : OOCSI_ERR_IO;
}

static void unix_close(void *state)
{
    unix_state *s = state;
    close(s->fd);
    free(s);
}

/* The table the core drives; it must outlive every client using it. */
static const oocsi_transport unix_transport = {
    .scheme = "unix",
    .default_codec = "line", /* the OOCSI line protocol, as over TCP */
    .default_port = 0,
    .flags = OOCSI_TRANSPORT_STREAM,
    .open = unix_open,
    .fd = unix_fd,
    .interest = unix_interest,
    .process = unix_process,
    .read = unix_read,
    .write = unix_write,
    .close = unix_close,
};

#ifndef CUSTOM_TRANSPORT_NO_MAIN
static void on_message(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    char *json = oocsi_message_data_json(m);
    printf("received from %s on %s: %s\n", oocsi_message_sender(m), oocsi_message_recipient(m), json);
    oocsi_free(json);
    *(int *)user = 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/socket\n", argv[0]);
        return 2;
    }
    char url[256];
    snprintf(url, sizeof(url), "unix://%s", argv[1]);
    int rc = oocsi_register_transport(&unix_transport);
    oocsi_options *o = oocsi_options_new();
    oocsi_client *rx = NULL, *tx = NULL;
    if (rc == OOCSI_OK)
        rc = oocsi_options_add_endpoint(o, url);
    if (rc == OOCSI_OK)
        rc = oocsi_connect(&rx, o); /* a generated handle each */
    if (rc == OOCSI_OK)
        rc = oocsi_connect(&tx, o);
    oocsi_options_free(o);
    int got = 0;
    if (rc == OOCSI_OK)
        rc = oocsi_subscribe(rx, "unix-demo", on_message, &got);
    if (rc == OOCSI_OK)
        rc = oocsi_send_json(tx, "unix-demo", "{\"over\":\"a unix socket\"}");
    for (int i = 0; rc == OOCSI_OK && !got && i < 100; i++)
        oocsi_loop(rx, 50);
    if (rc != OOCSI_OK)
        fprintf(stderr, "error: %s\n", oocsi_strerror(rc));
    oocsi_close(tx);
    oocsi_close(rx);
    return rc == OOCSI_OK && got ? 0 : 1;
}
#endif
