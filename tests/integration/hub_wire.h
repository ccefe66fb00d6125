/*
 * The hub on the wire, for test_hub*.c: raw TCP connections to an in-process
 * hub on an ephemeral loopback port, bounded line reads (poll() with a
 * deadline), exact and pattern matches, and "nothing arrives" checked with
 * the ping barrier (send "ping", expect "." as the very next line).
 */
#ifndef OOCSI_IT_HUB_WIRE_H
#define OOCSI_IT_HUB_WIRE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hub.h"

#define TMO 5000 /* generous bound for anything that normally takes milliseconds */
#define MAXCONN 16

/* ------------------------------------------------------------------ helpers */

typedef struct conn {
    int fd;
    char *buf;
    size_t off, len, cap;
    char line[1 << 16];
} conn;

static oocsi_hub *hub __attribute__((unused));
static int port __attribute__((unused));
static conn *conns[MAXCONN] __attribute__((unused));

static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int start_hub(oocsi_hub_options *o)
{
    oocsi_hub_options d;
    if (!o) {
        oocsi_hub_options_init(&d);
        d.ping_interval_ms = 600000; /* no keep-alive pings or presence refreshes in the way */
        o = &d;
    }
    o->port = 0;
    hub = oocsi_hub_start(o);
    if (!hub) {
        return -1;
    }
    port = oocsi_hub_port(hub);
    return port > 0 ? 0 : -1;
}

static inline int setup(void **state)
{
    (void)state;
    return start_hub(NULL);
}

static inline void conn_close(conn *c)
{
    for (int i = 0; i < MAXCONN; i++) {
        if (conns[i] == c) {
            conns[i] = NULL;
        }
    }
    if (c) {
        if (c->fd >= 0) {
            close(c->fd);
        }
        free(c->buf);
        free(c);
    }
}

static inline int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < MAXCONN; i++) {
        conn_close(conns[i]);
    }
    oocsi_hub_free(hub);
    hub = NULL;
    return 0;
}

static inline int tcp_connect(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)p);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static inline conn *conn_open(void)
{
    conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fd = tcp_connect(port);
    if (c->fd < 0) {
        fail_msg("connect to port %d: %s", port, strerror(errno));
    }
    c->cap = 1 << 20;
    c->buf = malloc(c->cap);
    assert_non_null(c->buf);
    for (int i = 0; i < MAXCONN; i++) {
        if (!conns[i]) {
            conns[i] = c;
            return c;
        }
    }
    fail_msg("too many connections in one test");
    return NULL;
}

static inline void send_bytes(conn *c, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            fail_msg("send: %s", strerror(errno));
        }
        s += w;
        n -= (size_t)w;
    }
}

static inline void send_str(conn *c, const char *s)
{
    send_bytes(c, s, strlen(s));
}

/* Sends a line (LF appended). */
static inline void sendf(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void sendf(conn *c, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof buf - 1);
    buf[n++] = '\n';
    send_bytes(c, buf, (size_t)n);
}

/* Next line (without LF) into c->line: 1; 0 on timeout; -1 on EOF or error. */
static inline int read_line(conn *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (1) {
        char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
        if (nl) {
            size_t n = (size_t)(nl - (c->buf + c->off));
            if (n >= sizeof c->line) {
                fail_msg("line of %zu bytes too long for the test buffer", n);
            }
            memcpy(c->line, c->buf + c->off, n);
            c->line[n] = '\0';
            c->off += n + 1;
            return 1;
        }
        if (c->off == c->len) {
            c->off = c->len = 0;
        } else if (c->len == c->cap) {
            memmove(c->buf, c->buf + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            return 0;
        }
        struct pollfd p = {c->fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return r == 0 ? 0 : -1;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        c->len += (size_t)n;
    }
}

static inline const char *next_line(conn *c)
{
    int r = read_line(c, TMO);
    if (r == 0) {
        fail_msg("no line within %d ms", TMO);
    }
    if (r < 0) {
        fail_msg("connection closed while waiting for a line");
    }
    return c->line;
}

static inline void expect_line(conn *c, const char *exact)
{
    const char *l = next_line(c);
    if (strcmp(l, exact) != 0) {
        fail_msg("got line '%s', expected '%s'", l, exact);
    }
}

/* pattern: '*' matches one or more digits, '~' exactly one digit. */
static inline int match(const char *pat, const char *s)
{
    while (*pat) {
        if (*pat == '*') {
            if (*s < '0' || *s > '9') {
                return 0;
            }
            while (*s >= '0' && *s <= '9') {
                s++;
            }
            pat++;
        } else if (*pat == '~') {
            if (*s < '0' || *s > '9') {
                return 0;
            }
            s++;
            pat++;
        } else if (*pat++ != *s++) {
            return 0;
        }
    }
    return *s == '\0';
}

static inline void expect_match(conn *c, const char *pat)
{
    const char *l = next_line(c);
    if (!match(pat, l)) {
        fail_msg("got line '%s', expected '%s'", l, pat);
    }
}

/* The next line starts with prefix. */
static inline void expect_prefix(conn *c, const char *prefix)
{
    const char *l = next_line(c);
    if (strncmp(l, prefix, strlen(prefix)) != 0) {
        fail_msg("got line '%s', expected a line starting with '%s'", l, prefix);
    }
}

/* Nothing is pending: the answer to a ping is the very next line. */
static inline void expect_quiet(conn *c)
{
    send_str(c, "ping\n");
    expect_line(c, ".");
}

static inline void expect_eof(conn *c)
{
    int r = read_line(c, TMO);
    if (r == 1) {
        fail_msg("got line '%s', expected EOF", c->line);
    }
    if (r == 0) {
        fail_msg("no EOF within %d ms", TMO);
    }
}

static inline conn *hello(const char *line, const char *welcome)
{
    conn *c = conn_open();
    sendf(c, "%s", line);
    expect_line(c, welcome);
    return c;
}

/* A JSON client registered as name. */
static inline conn *json_client(const char *name)
{
    char req[256], wel[256];
    snprintf(req, sizeof req, "%s(JSON)", name);
    snprintf(wel, sizeof wel, "{'message' : \"welcome %s\"}", name);
    return hello(req, wel);
}

/* subscribe + ping barrier */
static inline void subscribe(conn *c, const char *channel)
{
    sendf(c, "subscribe %s", channel);
    expect_quiet(c);
}

/* Value of the top-level "timestamp" of a message line. */
static inline long long timestamp_of(const char *line)
{
    const char *t = strstr(line, "\"timestamp\":");
    assert_non_null(t);
    return strtoll(t + 12, NULL, 10);
}

/* ------------------------------------------------------------------ handshake */

#endif
