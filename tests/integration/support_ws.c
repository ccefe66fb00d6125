/* A minimal WebSocket client for the integration tests: see support_ws.h. */
#include "support_ws.h"

#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef OOCSI_IT_HAVE_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

it_ws_peer *it_ws_peer_connect(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return NULL;
    }
    if (rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    struct timeval tv = {IT_TIMEOUT / 1000, 0}; /* bounds a blocking SSL_read of a partial record */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return NULL;
    }
    it_ws_peer *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->fd = fd;
    return p;
}

void it_ws_peer_close(it_ws_peer *p)
{
    if (!p) {
        return;
    }
#ifdef OOCSI_IT_HAVE_TLS
    if (p->ssl) {
        SSL_free(p->ssl);
    }
#endif
    close(p->fd);
    free(p->buf);
    free(p);
}

int it_ws_peer_write(it_ws_peer *p, const void *b, size_t n)
{
    if (p->ssl) {
#ifdef OOCSI_IT_HAVE_TLS
        size_t w = 0;
        int ok = SSL_write_ex(p->ssl, b, n, &w);
        if (p->strict) {
            assert_int_equal(ok, 1);
            assert_int_equal(w, n);
        }
        return ok == 1 && w == n ? 0 : -1;
#else
        fail_msg("a TLS peer in a build without TLS");
#endif
    }
    const char *s = b;
    while (n) {
        ssize_t w = send(p->fd, s, n, MSG_NOSIGNAL);
        if (p->strict) {
            assert_true(w > 0);
        }
        if (w <= 0) {
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int it_ws_peer_fill(it_ws_peer *p, int64_t deadline)
{
    if (p->eof) {
        return -1;
    }
    int pending = 0;
#ifdef OOCSI_IT_HAVE_TLS
    pending = p->ssl && SSL_pending(p->ssl) > 0;
#endif
    if (!pending) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0) {
            return 0;
        }
        struct pollfd pfd = {p->fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)left);
        if (r <= 0) {
            return r == 0 || errno == EINTR ? 0 : -1;
        }
    }
    if (p->cap - p->len < 65536) {
        p->cap = p->cap ? p->cap * 2 : 131072;
        p->buf = realloc(p->buf, p->cap);
        assert_non_null(p->buf);
    }
    ssize_t n = -1;
    if (p->ssl) {
#ifdef OOCSI_IT_HAVE_TLS
        size_t got = 0;
        n = SSL_read_ex(p->ssl, p->buf + p->len, p->cap - p->len - 1, &got) == 1 ? (ssize_t)got : -1;
        if (n < 0) {
            ERR_clear_error();
        }
#endif
    } else {
        n = recv(p->fd, p->buf + p->len, p->cap - p->len - 1, 0);
    }
    if (n <= 0) {
        p->eof = 1;
        return -1;
    }
    p->len += (size_t)n;
    return 1;
}

void it_ws_peer_consume(it_ws_peer *p, size_t n)
{
    memmove(p->buf, p->buf + n, p->len - n);
    p->len -= n;
}

static const char *find_bytes(const char *b, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; b && i + kl <= n; i++) {
        if (!memcmp(b + i, key, kl)) {
            return b + i;
        }
    }
    return NULL;
}

int it_ws_handshake(it_ws_peer *p, int port, const char *path, const char *origin)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "%s%s%sSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, port, origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "");
    assert_true(n > 0 && n < (int)sizeof req);
    if (it_ws_peer_write(p, req, (size_t)n) != 0) {
        return -1;
    }
    int64_t dl = it_now_ms() + IT_TIMEOUT;
    const char *end;
    while (!(end = find_bytes(p->buf, p->len, "\r\n\r\n"))) {
        if (it_ws_peer_fill(p, dl) <= 0) {
            return -1;
        }
    }
    size_t hl = (size_t)(end - p->buf) + 4;
    int ok = !strncmp(p->buf, "HTTP/1.1 101", 12) && find_bytes(p->buf, hl, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    it_ws_peer_consume(p, hl);
    return ok ? 0 : -1;
}

int it_ws_send_op(it_ws_peer *p, int opcode, const char *s, size_t n)
{
    unsigned char h[14];
    size_t hl = 0;
    h[hl++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) {
            h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
        }
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(h + hl, mask, 4);
    hl += 4;
    unsigned char *f = malloc(hl + n + 1);
    assert_non_null(f);
    memcpy(f, h, hl);
    for (size_t i = 0; i < n; i++) {
        f[hl + i] = (unsigned char)s[i] ^ mask[i & 3];
    }
    int r = it_ws_peer_write(p, f, hl + n);
    free(f);
    return r;
}

char *it_ws_recv(it_ws_peer *p, int timeout_ms, int *closed)
{
    int64_t dl = it_now_ms() + timeout_ms;
    char *msg = NULL;
    size_t mlen = 0;
    *closed = 0;
    while (1) {
        if (p->len >= 2) {
            const unsigned char *b = (const unsigned char *)p->buf;
            int fin = b[0] & 0x80, op = b[0] & 0x0F;
            uint64_t n = b[1] & 0x7F;
            size_t hl = 2;
            if (n == 126 && p->len >= 4) {
                n = ((uint64_t)b[2] << 8) | b[3];
                hl = 4;
            } else if (n == 127 && p->len >= 10) {
                n = 0;
                for (int i = 0; i < 8; i++) {
                    n = (n << 8) | b[2 + i];
                }
                hl = 10;
            } else if (n >= 126) {
                hl = 0; /* header incomplete */
            }
            if (p->strict) {
                assert_false(b[1] & 0x80); /* server frames are not masked */
            }
            if (hl && p->len >= hl + n) {
                if (op == 8) {
                    free(msg);
                    *closed = 1;
                    return NULL;
                }
                if (op == 9) { /* ping: pong */
                    it_ws_send_op(p, 10, p->buf + hl, (size_t)n);
                } else if (op == 1 || op == 2 || op == 0) {
                    msg = realloc(msg, mlen + n + 1);
                    assert_non_null(msg);
                    memcpy(msg + mlen, p->buf + hl, n);
                    mlen += n;
                    msg[mlen] = '\0';
                }
                it_ws_peer_consume(p, hl + n);
                if (fin && (op == 1 || op == 2 || op == 0)) {
                    return msg;
                }
                continue;
            }
        }
        int r = it_ws_peer_fill(p, dl);
        if (r <= 0) {
            free(msg);
            *closed = r < 0;
            return NULL;
        }
    }
}

int it_ws_recv_close(it_ws_peer *p, int timeout_ms)
{
    int64_t dl = it_now_ms() + timeout_ms;
    while (it_now_ms() < dl) {
        int closed;
        char *m = it_ws_recv(p, (int)(dl - it_now_ms()), &closed);
        free(m);
        if (m || !closed) {
            continue;
        }
        /* it_ws_recv leaves a close frame in the buffer; on EOF there is none */
        const unsigned char *b = (const unsigned char *)p->buf;
        if (p->len < 2 || (b[0] & 0x0F) != 8) {
            return -1;
        }
        size_t n = b[1] & 0x7F;
        return n >= 2 && p->len >= 4 ? (b[2] << 8) | b[3] : 0;
    }
    return -1;
}

void it_ws_expect_frame(it_ws_peer *p, const char *expected)
{
    int closed;
    char *m = it_ws_recv(p, IT_TIMEOUT, &closed);
    if (!m || strcmp(m, expected) != 0) {
        fail_msg("frame \"%s\", expected \"%s\"%s", m ? m : "(none)", expected, closed ? " (closed)" : "");
    }
    free(m);
}

void it_ws_hello(it_ws_peer *p, const char *handle)
{
    assert_int_equal(it_ws_send_op(p, 1, handle, strlen(handle)), 0);
    char welcome[256];
    snprintf(welcome, sizeof welcome, "{\"message\" : \"welcome %s\"}", handle);
    it_ws_expect_frame(p, welcome);
}

cJSON *it_ws_json_within(it_ws_peer *p, int timeout_ms)
{
    int64_t dl = it_now_ms() + timeout_ms;
    while (1) {
        int closed;
        int left = (int)(dl - it_now_ms());
        char *m = left > 0 ? it_ws_recv(p, left, &closed) : NULL;
        if (!m) {
            return NULL;
        }
        if (!strcmp(m, "ping")) {
            free(m);
            assert_int_equal(it_ws_send_op(p, 1, ".", 1), 0);
            continue;
        }
        cJSON *j = cJSON_Parse(m);
        if (!j) {
            fail_msg("not JSON: %s", m);
        }
        free(m);
        return j;
    }
}
