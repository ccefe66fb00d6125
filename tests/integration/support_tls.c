/*
 * Test-only TLS-terminating relay (see support_tls.h).
 */
#include "support_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

typedef struct relay_conn {
    struct it_tls_relay *r;
    pthread_t th;
    int cfd; /* the TLS client */
    int tfd; /* the target (hub); -1 until connected */
    struct relay_conn *next;
} relay_conn;

struct it_tls_relay {
    SSL_CTX *ctx;
    int lfd;
    int port;
    int target_port;
    int stop_r, stop_w;
    pthread_t acceptor;
    pthread_mutex_t mu;
    relay_conn *conns;
    int accepted;
};

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int ssl_write_all(SSL *ssl, const char *p, size_t n)
{
    while (n > 0) {
        int w = SSL_write(ssl, p, (int)n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int connect_target(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *conn_main(void *arg)
{
    relay_conn *c = arg;
    it_tls_relay *r = c->r;
    SSL *ssl = SSL_new(r->ctx);
    if (!ssl || SSL_set_fd(ssl, c->cfd) != 1 || SSL_accept(ssl) != 1)
        goto out;
    pthread_mutex_lock(&r->mu);
    r->accepted++;
    pthread_mutex_unlock(&r->mu);
    int tfd = connect_target(r->target_port);
    if (tfd < 0)
        goto out;
    pthread_mutex_lock(&r->mu);
    c->tfd = tfd;
    pthread_mutex_unlock(&r->mu);
    char buf[16384];
    for (;;) {
        struct pollfd p[3] = {{c->cfd, POLLIN, 0}, {tfd, POLLIN, 0}, {r->stop_r, POLLIN, 0}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[2].revents)
            break;
        if (p[0].revents) {
            int n;
            do {
                n = SSL_read(ssl, buf, sizeof buf);
                if (n <= 0 || send_all(tfd, buf, (size_t)n) < 0)
                    goto out;
            } while (SSL_pending(ssl) > 0);
        }
        if (p[1].revents) {
            ssize_t n = recv(tfd, buf, sizeof buf, 0);
            if (n <= 0 || ssl_write_all(ssl, buf, (size_t)n) < 0)
                goto out;
        }
    }
out:
    /* The descriptors are closed by it_tls_relay_stop() after the join, so
     * that stop can shut them down without racing a reuse of the number. */
    shutdown(c->cfd, SHUT_RDWR);
    pthread_mutex_lock(&r->mu);
    if (c->tfd >= 0)
        shutdown(c->tfd, SHUT_RDWR);
    pthread_mutex_unlock(&r->mu);
    SSL_free(ssl);
    ERR_clear_error();
    return NULL;
}

static void *accept_main(void *arg)
{
    it_tls_relay *r = arg;
    for (;;) {
        struct pollfd p[2] = {{r->lfd, POLLIN, 0}, {r->stop_r, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!p[0].revents)
            continue;
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        relay_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->r = r;
        c->cfd = fd;
        c->tfd = -1;
        pthread_mutex_lock(&r->mu);
        if (pthread_create(&c->th, NULL, conn_main, c) != 0) {
            pthread_mutex_unlock(&r->mu);
            close(fd);
            free(c);
            continue;
        }
        c->next = r->conns;
        r->conns = c;
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

it_tls_relay *it_tls_relay_start(const char *cert_file, const char *key_file, int target_port)
{
    signal(SIGPIPE, SIG_IGN); /* SSL_write on a socket the client closed */
    it_tls_relay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->lfd = r->stop_r = r->stop_w = -1;
    r->target_port = target_port;
    pthread_mutex_init(&r->mu, NULL);
    r->ctx = SSL_CTX_new(TLS_server_method());
    if (!r->ctx || SSL_CTX_use_certificate_chain_file(r->ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(r->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "tls relay: cannot load %s / %s\n", cert_file, key_file);
        goto fail;
    }
    int fds[2];
    if (pipe(fds) < 0)
        goto fail;
    r->stop_r = fds[0];
    r->stop_w = fds[1];
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->lfd < 0)
        goto fail;
    int one = 1;
    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(r->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->lfd, 16) < 0 ||
        getsockname(r->lfd, (struct sockaddr *)&a, &alen) < 0) {
        perror("tls relay: listen");
        goto fail;
    }
    r->port = ntohs(a.sin_port);
    if (pthread_create(&r->acceptor, NULL, accept_main, r) != 0)
        goto fail;
    return r;
fail:
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->stop_r >= 0)
        close(r->stop_r);
    if (r->stop_w >= 0)
        close(r->stop_w);
    SSL_CTX_free(r->ctx);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return NULL;
}

int it_tls_relay_port(const it_tls_relay *r)
{
    return r->port;
}

int it_tls_relay_accepted(it_tls_relay *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->accepted;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void it_tls_relay_stop(it_tls_relay *r)
{
    if (!r)
        return;
    /* The pipe stays readable: every poll() in every thread returns. */
    ssize_t w;
    do {
        w = write(r->stop_w, "x", 1);
    } while (w < 0 && errno == EINTR);
    pthread_join(r->acceptor, NULL);
    /* Unblock threads inside SSL_accept/SSL_read/SSL_write. */
    pthread_mutex_lock(&r->mu);
    for (relay_conn *c = r->conns; c; c = c->next) {
        shutdown(c->cfd, SHUT_RDWR);
        if (c->tfd >= 0)
            shutdown(c->tfd, SHUT_RDWR);
    }
    relay_conn *list = r->conns;
    r->conns = NULL;
    pthread_mutex_unlock(&r->mu);
    while (list) {
        relay_conn *next = list->next;
        pthread_join(list->th, NULL);
        close(list->cfd);
        if (list->tfd >= 0)
            close(list->tfd);
        free(list);
        list = next;
    }
    close(r->lfd);
    close(r->stop_r);
    close(r->stop_w);
    SSL_CTX_free(r->ctx);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
