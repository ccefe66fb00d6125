/*
 * The hub's TLS layer for the line protocol endpoint (OpenSSL): a server
 * context and non-blocking per-connection reads and writes that drive the
 * handshake and remember which poll events OpenSSL is waiting for. Used only
 * from the hub thread.
 */
#include "hub_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct hub_tls_ctx {
    SSL_CTX *ctx;
};

struct hub_tls_conn {
    SSL *ssl;
    int handshake_done;
    int read_wants_write; /* the last handshake/read returned WANT_WRITE */
    int write_wants_read; /* the last write returned WANT_READ */
    char err[160];
};

static void log_openssl(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e) {
        ERR_error_string_n(e, buf, sizeof buf);
    }
    fprintf(stderr, "oocsi-hub: %s: %s\n", what, buf);
    ERR_clear_error();
}

hub_tls_ctx *hub_tls_ctx_new(const char *cert_file, const char *key_file)
{
    if (!cert_file || !key_file) {
        fprintf(stderr, "oocsi-hub: TLS needs a certificate and a key file\n");
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        log_openssl("SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* partial writes of a gathered buffer; record buffers given back while a connection is idle */
    SSL_CTX_set_mode(ctx,
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        log_openssl(cert_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        log_openssl(key_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    hub_tls_ctx *t = calloc(1, sizeof *t);
    if (!t) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    t->ctx = ctx;
    return t;
}

void hub_tls_ctx_free(hub_tls_ctx *t)
{
    if (t) {
        SSL_CTX_free(t->ctx);
        free(t);
    }
}

hub_tls_conn *hub_tls_conn_new(hub_tls_ctx *t, int fd)
{
    hub_tls_conn *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->ssl = SSL_new(t->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
        ERR_clear_error();
        SSL_free(c->ssl);
        free(c);
        return NULL;
    }
    SSL_set_accept_state(c->ssl);
    return c;
}

void hub_tls_conn_free(hub_tls_conn *c)
{
    if (c) {
        SSL_free(c->ssl);
        free(c);
    }
}

/* Maps the result r of an SSL call to the recv()/send() convention. */
static ssize_t fail(hub_tls_conn *c, int r, const char *op, int *want_other)
{
    int e = SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        if (want_other) {
            *want_other = 0;
        }
        ERR_clear_error();
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        if (want_other) {
            *want_other = 1;
        }
        ERR_clear_error();
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return 0;
    case SSL_ERROR_SYSCALL:
        if (!ERR_peek_error()) {
            int se = errno;
            snprintf(c->err, sizeof c->err, "TLS %s: %s", op, se ? strerror(se) : "unexpected end of stream");
            if (!se && op[0] == 'r') {
                return 0; /* EOF without close_notify: treated as EOF */
            }
            errno = se ? se : ECONNRESET;
            return -1;
        }
        /* fall through */
    default: {
        char buf[128] = "error";
        unsigned long le = ERR_get_error();
        if (le) {
            ERR_error_string_n(le, buf, sizeof buf);
        }
        snprintf(c->err, sizeof c->err, "TLS %s failed: %s", op, buf);
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
    }
}

static int handshake(hub_tls_conn *c)
{
    if (c->handshake_done) {
        return 1;
    }
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->handshake_done = 1;
        c->read_wants_write = 0;
        return 1;
    }
    ssize_t f = fail(c, r, "handshake", &c->read_wants_write);
    if (f == 0) {
        snprintf(c->err, sizeof c->err, "TLS handshake: connection closed");
        errno = ECONNRESET;
    }
    return -1;
}

ssize_t hub_tls_read(hub_tls_conn *c, void *buf, size_t n)
{
    if (handshake(c) < 0) {
        return -1;
    }
    size_t got = 0;
    ERR_clear_error();
    int r = SSL_read_ex(c->ssl, buf, n, &got);
    if (r == 1) {
        c->read_wants_write = 0;
        return (ssize_t)got;
    }
    return fail(c, r, "read", &c->read_wants_write);
}

ssize_t hub_tls_write(hub_tls_conn *c, const void *buf, size_t n)
{
    if (handshake(c) < 0) {
        if (errno == EAGAIN) {
            c->write_wants_read = !c->read_wants_write;
        }
        return -1;
    }
    size_t put = 0;
    ERR_clear_error();
    int r = SSL_write_ex(c->ssl, buf, n, &put);
    if (r == 1) {
        c->write_wants_read = 0;
        return (ssize_t)put;
    }
    int want_write = 0;
    ssize_t f = fail(c, r, "write", &want_write);
    if (f < 0 && errno == EAGAIN) {
        c->write_wants_read = !want_write;
    }
    if (f == 0) {
        errno = EPIPE;
        return -1;
    }
    return f;
}

short hub_tls_events(const hub_tls_conn *c, int have_output)
{
    short ev = POLLIN;
    if (c->read_wants_write || (have_output && !c->write_wants_read)) {
        ev |= POLLOUT;
    }
    return ev;
}

int hub_tls_pending(const hub_tls_conn *c)
{
    return c->handshake_done && SSL_pending(c->ssl) > 0;
}

void hub_tls_close_notify(hub_tls_conn *c)
{
    if (c->handshake_done) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
}

const char *hub_tls_error(const hub_tls_conn *c)
{
    return c->err[0] ? c->err : "TLS error";
}
