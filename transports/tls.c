/*
 * The tls transport: the OOCSI line protocol over TLS (OpenSSL) on a
 * non-blocking TCP stream. Every address a host name resolves to is tried in
 * turn for the TCP connect; process() then drives the TLS handshake.
 *
 * Verification is on by default: the certificate chain against the CA file
 * given (else the system store) and the host name or IP address of the URL.
 * cfg->tls_verify == 0 turns it off, and every connect then logs a warning.
 * One SSL_CTX per connection: no global state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "oocsi/transport.h"
#include "socket_util.h"

enum { PH_TCP, PH_HANDSHAKE, PH_OPEN };

/* See tls_interest(): the longest process() waits for handshake input when
 * the core reported the socket writable only. */

typedef struct tls_state {
    oocsi__sock sock; /* the TCP connect; also the fd, cfg, host and port */
    int phase;
    int hs_want;          /* OOCSI_WANT_* the handshake waits for */
    int read_wants_write; /* SSL_read returned SSL_ERROR_WANT_WRITE */
    int write_wants_read; /* SSL_write returned SSL_ERROR_WANT_READ */
    SSL_CTX *ctx;
    SSL *ssl;
    BIO_METHOD *bio_meth;
} tls_state;

static void tls_log(tls_state *s, oocsi_log_level lvl, const char *fmt, const char *what)
{
    if (s->sock.cfg && s->sock.cfg->log) {
        char line[512];
        snprintf(line, sizeof(line), fmt, what);
        s->sock.cfg->log(s->sock.cfg->log_ctx, lvl, "tls %s:%d: %s", s->sock.host, s->sock.port, line);
    }
}

/* Logs the first entry of OpenSSL's error queue (or fallback) and clears it. */
static void tls_log_ssl(tls_state *s, oocsi_log_level lvl, const char *what, const char *fallback)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    else
        snprintf(buf, sizeof(buf), "%s", fallback);
    ERR_clear_error();
    if (s->sock.cfg && s->sock.cfg->log)
        s->sock.cfg->log(s->sock.cfg->log_ctx, lvl, "tls %s:%d: %s: %s", s->sock.host, s->sock.port, what, buf);
}

/* ----------------------------------------------------------------------------
 * A socket BIO writing with MSG_NOSIGNAL, so a peer reset never raises SIGPIPE
 * (OpenSSL's own socket BIO uses write()). */

/* One send or recv on the BIO's socket; a socket that would block asks
 * OpenSSL to retry in the same direction. */
static int sock_bio_io(BIO *b, char *buf, int len, int writing)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = writing ? oocsi__send_nosignal(fd, buf, (size_t)len) : oocsi__recv_retry(fd, buf, (size_t)len);
    if (n >= 0)
        return (int)n;
    if (oocsi__would_block(errno)) {
        if (writing)
            BIO_set_retry_write(b);
        else
            BIO_set_retry_read(b);
    }
    return -1;
}

static int sock_bio_write(BIO *b, const char *buf, int len)
{
    return sock_bio_io(b, (char *)buf, len, 1); /* send() only reads buf */
}

static int sock_bio_read(BIO *b, char *buf, int len)
{
    return sock_bio_io(b, buf, len, 0);
}

static int sock_bio_puts(BIO *b, const char *str)
{
    return sock_bio_write(b, str, (int)strlen(str));
}

static long sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int sock_bio_destroy(BIO *b)
{
    (void)b;
    return 1; /* the fd belongs to tls_state */
}

static BIO_METHOD *sock_bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "oocsi socket");
    if (!m)
        return NULL;
    if (!BIO_meth_set_write(m, sock_bio_write) || !BIO_meth_set_read(m, sock_bio_read) ||
        !BIO_meth_set_puts(m, sock_bio_puts) || !BIO_meth_set_ctrl(m, sock_bio_ctrl) ||
        !BIO_meth_set_create(m, sock_bio_create) || !BIO_meth_set_destroy(m, sock_bio_destroy)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------------------- */

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The per-connection context: protocol floor, trust anchors, client cert. */
static int tls_setup_ctx(tls_state *s)
{
    const oocsi_transport_config *cfg = s->sock.cfg;
    ERR_clear_error();
    s->ctx = SSL_CTX_new(TLS_client_method());
    if (!s->ctx) {
        tls_log_ssl(s, OOCSI_LOG_ERROR, "SSL_CTX_new", "failed");
        return OOCSI_ERR_TLS;
    }
    if (!SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION)) {
        tls_log_ssl(s, OOCSI_LOG_ERROR, "cannot require TLS 1.2", "failed");
        return OOCSI_ERR_TLS;
    }
    SSL_CTX_set_options(s->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (cfg && cfg->tls_verify) {
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
        if (cfg->tls_ca_file && *cfg->tls_ca_file) {
            if (SSL_CTX_load_verify_locations(s->ctx, cfg->tls_ca_file, NULL) != 1) {
                tls_log_ssl(s, OOCSI_LOG_ERROR, "cannot load the CA file", cfg->tls_ca_file);
                return OOCSI_ERR_TLS;
            }
        } else if (SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
            tls_log_ssl(s, OOCSI_LOG_ERROR, "cannot load the system CA store", "failed");
            return OOCSI_ERR_TLS;
        }
    } else {
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);
    }
    if (cfg && cfg->tls_cert_file && *cfg->tls_cert_file) {
        const char *key = cfg->tls_key_file && *cfg->tls_key_file ? cfg->tls_key_file : cfg->tls_cert_file;
        if (SSL_CTX_use_certificate_chain_file(s->ctx, cfg->tls_cert_file) != 1) {
            tls_log_ssl(s, OOCSI_LOG_ERROR, "cannot load the client certificate", cfg->tls_cert_file);
            return OOCSI_ERR_TLS;
        }
        if (SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(s->ctx) != 1) {
            tls_log_ssl(s, OOCSI_LOG_ERROR, "cannot load the client key", key);
            return OOCSI_ERR_TLS;
        }
    }
    return OOCSI_OK;
}

/* The SSL object on the connected socket: SNI and the name or IP to verify. */
static int tls_setup_ssl(tls_state *s)
{
    ERR_clear_error();
    if (!s->bio_meth)
        s->bio_meth = sock_bio_method();
    s->ssl = s->bio_meth ? SSL_new(s->ctx) : NULL;
    BIO *bio = s->ssl ? BIO_new(s->bio_meth) : NULL;
    if (!bio) {
        tls_log_ssl(s, OOCSI_LOG_ERROR, "cannot create the TLS session", "out of memory");
        return OOCSI_ERR_NOMEM;
    }
    BIO_set_data(bio, (void *)(intptr_t)s->sock.fd);
    SSL_set_bio(s->ssl, bio, bio);
    SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_connect_state(s->ssl);
    int ip = is_ip_literal(s->sock.host);
    if (!ip && SSL_set_tlsext_host_name(s->ssl, s->sock.host) != 1) {
        tls_log_ssl(s, OOCSI_LOG_ERROR, "cannot set the server name", s->sock.host);
        return OOCSI_ERR_TLS;
    }
    if (s->sock.cfg && s->sock.cfg->tls_verify) {
        X509_VERIFY_PARAM *param = SSL_get0_param(s->ssl);
        int ok;
        if (ip) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(param, s->sock.host);
        } else {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = X509_VERIFY_PARAM_set1_host(param, s->sock.host, 0);
        }
        if (ok != 1) {
            tls_log_ssl(s, OOCSI_LOG_ERROR, "cannot set the name to verify", s->sock.host);
            return OOCSI_ERR_TLS;
        }
    }
    return OOCSI_OK;
}

static int tls_open(void **state, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    int rc;
    tls_state *s = oocsi__sock_state_new(sizeof(*s), "tls", state, url, cfg, &rc);
    if (!s)
        return rc;
    if (!cfg || !cfg->tls_verify)
        tls_log(s, OOCSI_LOG_WARN, "%s",
                "INSECURE: certificate verification is disabled (tls_verify 0); the server is not authenticated");
    rc = tls_setup_ctx(s);
    if (rc == OOCSI_OK)
        rc = oocsi__sock_open(&s->sock, url->host);
    if (rc != OOCSI_OK) {
        SSL_CTX_free(s->ctx);
        free(s);
        return rc;
    }
    *state = s;
    return OOCSI_OK;
}

static int tls_interest(void *state)
{
    tls_state *s = state;
    switch (s->phase) {
    case PH_TCP:
        return OOCSI_WANT_WRITE;
    case PH_HANDSHAKE:
        return s->hs_want;
    default:
        return OOCSI_WANT_READ | (s->read_wants_write ? OOCSI_WANT_WRITE : 0);
    }
}

/* One step of SSL_connect: 1 done, 0 in progress, or OOCSI_ERR_TLS. */
static int tls_handshake(tls_state *s)
{
    ERR_clear_error();
    int r = SSL_connect(s->ssl);
    if (r == 1) {
        s->phase = PH_OPEN;
        s->hs_want = 0;
        if (s->sock.cfg && s->sock.cfg->log)
            s->sock.cfg->log(s->sock.cfg->log_ctx, OOCSI_LOG_DEBUG, "tls %s:%d: %s established (%s)", s->sock.host,
                             s->sock.port, SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl));
        return 1;
    }
    int err = SSL_get_error(s->ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
        s->hs_want = OOCSI_WANT_READ;
        return 0;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        s->hs_want = OOCSI_WANT_WRITE;
        return 0;
    }
    long vr = s->sock.cfg && s->sock.cfg->tls_verify ? SSL_get_verify_result(s->ssl) : X509_V_OK;
    if (vr != X509_V_OK) {
        tls_log(s, OOCSI_LOG_ERROR, "certificate verification failed: %s", X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        tls_log(s, OOCSI_LOG_ERROR, "handshake failed: %s",
                r == 0 || errno == 0 ? "connection closed by the server" : strerror(errno));
    } else {
        tls_log_ssl(s, OOCSI_LOG_ERROR, "handshake failed", "connection closed by the server");
    }
    return OOCSI_ERR_TLS;
}

static int tls_process(void *state, int events)
{
    tls_state *s = state;
    if (s->phase == PH_OPEN)
        return 1;
    if (s->phase == PH_TCP) {
        int rc = oocsi__sock_finish_connect(&s->sock, events);
        if (rc != 1)
            return rc; /* still connecting, or no address left */
        rc = tls_setup_ssl(s);
        if (rc != OOCSI_OK)
            return rc;
        s->phase = PH_HANDSHAKE;
        s->hs_want = OOCSI_WANT_WRITE;
    } else if (!(events & (OOCSI_EV_READABLE | OOCSI_EV_WRITABLE | OOCSI_EV_ERROR))) {
        return 0; /* a timer tick: nothing to do yet */
    }
    return tls_handshake(s);
}

/* One SSL_read or SSL_write. Each direction may need the socket the other
 * way (a renegotiation or a post-handshake message): wants_other records that
 * for tls_interest(). Returns bytes moved, 0 (try again), or an error. */
static ssize_t tls_io(tls_state *s, int writing, char *buf, size_t len)
{
    const char *what = writing ? "write" : "read";
    int *wants_other = writing ? &s->write_wants_read : &s->read_wants_write;
    if (s->phase != PH_OPEN || len == 0)
        return 0;
    ERR_clear_error();
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    int n = writing ? SSL_write(s->ssl, buf, chunk) : SSL_read(s->ssl, buf, chunk);
    if (n > 0) {
        *wants_other = 0;
        return n;
    }
    int err = SSL_get_error(s->ssl, n);
    switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        *wants_other = (err == SSL_ERROR_WANT_WRITE) != writing;
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        return OOCSI_ERR_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (!writing && ERR_peek_error() == 0 && (n == 0 || errno == 0))
            return OOCSI_ERR_CLOSED; /* the peer closed without close_notify */
        if (ERR_peek_error() == 0) {
            if (errno)
                oocsi__sock_log(&s->sock, OOCSI_LOG_DEBUG, what, errno);
            else
                tls_log(s, OOCSI_LOG_DEBUG, "%s: connection closed", what);
            return OOCSI_ERR_IO;
        }
        /* fall through */
    default:
        tls_log_ssl(s, OOCSI_LOG_WARN, what, "failed");
        return OOCSI_ERR_IO;
    }
}

static ssize_t tls_read(void *state, char *buf, size_t len)
{
    return tls_io(state, 0, buf, len);
}

static ssize_t tls_write(void *state, const char *buf, size_t len)
{
    /* SSL_write does not change buf; tls_io shares one signature. */
    return tls_io(state, 1, (char *)buf, len);
}

static void tls_close(void *state)
{
    tls_state *s = state;
    if (!s)
        return;
    if (s->ssl) {
        if (s->phase == PH_OPEN) {
            /* Best effort close_notify; never waits for the peer's. */
            ERR_clear_error();
            SSL_shutdown(s->ssl);
        }
        ERR_clear_error();
        SSL_free(s->ssl); /* also frees the BIO */
    }
    SSL_CTX_free(s->ctx);
    BIO_meth_free(s->bio_meth);
    oocsi__sock_release(&s->sock);
    free(s);
}

static const oocsi_transport tls_transport = OOCSI__STREAM_TRANSPORT(tls, "tls", 4443);

const oocsi_transport *oocsi_transport_tls(void)
{
    return &tls_transport;
}
