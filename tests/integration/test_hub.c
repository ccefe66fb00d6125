/*
 * The hub (examples/hub) on the wire: raw TCP sockets against an in-process
 * hub on an ephemeral loopback port, asserting the exact bytes of
 * PROTOCOL.md. Uses only hub.h, POSIX sockets and cmocka.
 *
 * Every wait is a bounded read (poll() on the socket with a deadline);
 * "nothing arrives" is checked with the ping barrier: send "ping" and expect
 * "." as the very next line.
 */
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

static oocsi_hub *hub;
static int port;
static conn *conns[MAXCONN];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int start_hub(oocsi_hub_options *o)
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

static int setup(void **state)
{
    (void)state;
    return start_hub(NULL);
}

static void conn_close(conn *c)
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

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < MAXCONN; i++) {
        conn_close(conns[i]);
    }
    oocsi_hub_free(hub);
    hub = NULL;
    return 0;
}

static int tcp_connect(int p)
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

static conn *conn_open(void)
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

static void send_bytes(conn *c, const char *s, size_t n)
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

static void send_str(conn *c, const char *s)
{
    send_bytes(c, s, strlen(s));
}

/* Sends a line (LF appended). */
static void sendf(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sendf(conn *c, const char *fmt, ...)
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
static int read_line(conn *c, int timeout_ms)
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

static const char *next_line(conn *c)
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

static void expect_line(conn *c, const char *exact)
{
    const char *l = next_line(c);
    if (strcmp(l, exact) != 0) {
        fail_msg("got line '%s', expected '%s'", l, exact);
    }
}

/* pattern: '*' matches one or more digits, '~' exactly one digit. */
static int match(const char *pat, const char *s)
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

static void expect_match(conn *c, const char *pat)
{
    const char *l = next_line(c);
    if (!match(pat, l)) {
        fail_msg("got line '%s', expected '%s'", l, pat);
    }
}

/* Nothing is pending: the answer to a ping is the very next line. */
static void expect_quiet(conn *c)
{
    send_str(c, "ping\n");
    expect_line(c, ".");
}

static void expect_eof(conn *c)
{
    int r = read_line(c, TMO);
    if (r == 1) {
        fail_msg("got line '%s', expected EOF", c->line);
    }
    if (r == 0) {
        fail_msg("no EOF within %d ms", TMO);
    }
}

static conn *hello(const char *line, const char *welcome)
{
    conn *c = conn_open();
    sendf(c, "%s", line);
    expect_line(c, welcome);
    return c;
}

/* A JSON client registered as name. */
static conn *json_client(const char *name)
{
    char req[256], wel[256];
    snprintf(req, sizeof req, "%s(JSON)", name);
    snprintf(wel, sizeof wel, "{'message' : \"welcome %s\"}", name);
    return hello(req, wel);
}

/* subscribe + ping barrier */
static void subscribe(conn *c, const char *channel)
{
    sendf(c, "subscribe %s", channel);
    expect_quiet(c);
}

/* Value of the top-level "timestamp" of a message line. */
static long long timestamp_of(const char *line)
{
    const char *t = strstr(line, "\"timestamp\":");
    assert_non_null(t);
    return strtoll(t + 12, NULL, 10);
}

/* ------------------------------------------------------------------ handshake */

static void test_welcome_lines(void **state)
{
    (void)state;
    conn *j = hello("alice(JSON)", "{'message' : \"welcome alice\"}");
    hello("bob", "welcome bob");
    conn *pd = hello("carol;", "welcome carol;");
    send_str(pd, "ping\n");
    expect_line(pd, ".;");
    /* CRLF and a line split over two writes */
    conn *crlf = conn_open();
    send_str(crlf, "da");
    send_str(crlf, "ve(JSON)\r\n");
    expect_line(crlf, "{'message' : \"welcome dave\"}");
    /* one leading and one trailing '/' of the whole line; (JSON) removed anywhere */
    hello("/slash/", "welcome slash");
    hello("/abc/(JSON)", "{'message' : \"welcome abc/\"}");
    hello("ab(JSON)x", "{'message' : \"welcome abx\"}");
    assert_int_equal(oocsi_hub_client_count(hub), 7);
    sendf(j, "clients");
    expect_line(j, "alice,bob,carol,dave,slash,abc/,abx");
}

static void test_hash_replacement(void **state)
{
    (void)state;
    conn *c = conn_open();
    sendf(c, "x_h###(JSON)");
    expect_match(c, "{'message' : \"welcome x_h~~~\"}");
    char name[16];
    memcpy(name, strstr(c->line, "x_h"), 6);
    name[6] = '\0';
    assert_int_equal(oocsi_hub_wait_client(hub, name, TMO), 1);
}

static void test_name_taken(void **state)
{
    (void)state;
    conn *a = json_client("alice");
    conn *dup = conn_open();
    sendf(dup, "alice(JSON)");
    expect_line(dup, "error (name already registered: alice)");
    /* the connection stays open as an unregistered client */
    expect_quiet(dup);
    sendf(dup, "clients");
    expect_line(dup, "alice");
    /* a handle cannot equal an existing channel */
    subscribe(a, "room");
    conn *r = conn_open();
    sendf(r, "room(JSON)");
    expect_line(r, "error (name already registered: room)");
    assert_int_equal(oocsi_hub_client_count(hub), 1);
}

static void test_password_without_users(void **state)
{
    (void)state;
    conn *c = conn_open();
    sendf(c, "bob:secret(JSON)");
    expect_line(c, "error (password wrong for name: bob)");
    expect_quiet(c);
    assert_int_equal(oocsi_hub_client_count(hub), 0);
    /* with nobody registered, "clients" and "channels" have no answer line */
    sendf(c, "clients");
    sendf(c, "channels");
    expect_quiet(c);
}

static void test_password_with_users(void **state)
{
    (void)state;
    oocsi_hub_free(hub);
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ping_interval_ms = 600000;
    o.users = "alice:pw1;bob:p.w%$-2";
    assert_int_equal(start_hub(&o), 0);
    hello("alice:pw1(JSON)", "{'message' : \"welcome alice\"}");
    hello("bob:p.w%$-2", "welcome bob");
    conn *w = conn_open();
    sendf(w, "carol:pw1(JSON)");
    expect_line(w, "error (password wrong for name: carol)");
    conn *x = conn_open();
    sendf(x, "alice:wrong(JSON)");
    expect_line(x, "error (password wrong for name: alice)");
    /* password clients are private: not listed by "channels" */
    conn *p = json_client("pub");
    sendf(p, "channels");
    expect_line(p, "pub");
    assert_int_equal(oocsi_hub_client_count(hub), 3);
}

static void test_silent_rejection(void **state)
{
    (void)state;
    char longname[256];
    memset(longname, 'n', 195);
    memcpy(longname + 195, "(JSON)", 7); /* 201 characters */
    const char *bad[] = {"has space(JSON)", longname, "caf\xc3\xa9(JSON)", "SSH-2.0-OpenSSH_9.2", "x\tb(JSON)"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        conn *c = conn_open();
        sendf(c, "%s", bad[i]);
        /* no reply; the next line is a new hello */
        char name[32], wel[64];
        snprintf(name, sizeof name, "next%zu(JSON)", i);
        snprintf(wel, sizeof wel, "{'message' : \"welcome next%zu\"}", i);
        sendf(c, "%s", name);
        expect_line(c, wel);
    }
    /* "ping" after a rejection registers a client named ping */
    conn *p = conn_open();
    sendf(p, "a b");
    sendf(p, "ping");
    expect_line(p, "welcome ping");
    /* 200 characters including (JSON) are accepted */
    memset(longname, 'm', 194);
    memcpy(longname + 194, "(JSON)", 7);
    conn *l = conn_open();
    sendf(l, "%s", longname);
    const char *w = next_line(l);
    assert_int_equal(strlen(w), strlen("{'message' : \"welcome \"}") + 194);
}

/* ------------------------------------------------------------------ commands and routing */

static void test_no_echo_and_direct(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(a, "room");
    subscribe(b, "room");
    sendf(a, "sendraw room {\"x\":1}");
    expect_match(b, "{\"x\":1,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    expect_quiet(a); /* no echo */
    /* direct, including to oneself */
    sendf(a, "sendraw a {\"self\":true}");
    expect_match(a, "{\"self\":true,\"recipient\":\"a\",\"timestamp\":*,\"sender\":\"a\"}");
    sendf(b, "sendraw a {\"k\":\"v\"}");
    expect_match(a, "{\"k\":\"v\",\"recipient\":\"a\",\"timestamp\":*,\"sender\":\"b\"}");
    /* unknown recipient: dropped */
    sendf(a, "sendraw nobody {\"x\":1}");
    expect_quiet(a);
    expect_quiet(b);
    /* subscribing twice does not deliver twice */
    subscribe(b, "room");
    sendf(a, "sendraw room {\"x\":2}");
    expect_match(b, "{\"x\":2,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    expect_quiet(b);
    /* unsubscribe */
    sendf(b, "unsubscribe room");
    expect_quiet(b);
    sendf(a, "sendraw room {\"x\":3}");
    expect_quiet(a);
    expect_quiet(b);
    assert_true(oocsi_hub_delivered(hub) >= 4);
}

static void test_payload_forms(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    sendf(a, "sendraw b hello world");
    expect_match(b, "{\"data\":\"hello world\",\"recipient\":\"b\",\"timestamp\":*,\"sender\":\"a\"}");
    sendf(a, "sendraw b [1, 2]");
    expect_match(b, "{\"data\":\"[1, 2]\",\"recipient\":\"b\",\"timestamp\":*,\"sender\":\"a\"}");
    sendf(a, "sendraw b say \"hi\"\\now");
    expect_match(b, "{\"data\":\"say \\\"hi\\\"\\\\now\",\"recipient\":\"b\",\"timestamp\":*,\"sender\":\"a\"}");
    /* invalid JSON: an empty message */
    sendf(a, "sendraw b {\"x\":");
    expect_match(b, "{\"recipient\":\"b\",\"timestamp\":*,\"sender\":\"a\"}");
    sendf(a, "sendraw b {}");
    expect_match(b, "{\"recipient\":\"b\",\"timestamp\":*,\"sender\":\"a\"}");
    /* send: JSON as sendraw, anything else an empty message */
    sendf(a, "send b {\"y\":2}");
    expect_match(b, "{\"y\":2,\"recipient\":\"b\",\"timestamp\":*,\"sender\":\"a\"}");
    sendf(a, "send b rO0ABXNyABFqYXZh");
    expect_match(b, "{\"recipient\":\"b\",\"timestamp\":*,\"sender\":\"a\"}");
    /* no payload: ignored */
    sendf(a, "sendraw b");
    expect_quiet(b);
    /* value fidelity (§4.2): top-level nulls and integers beyond 64 bits are
     * dropped, envelope keys overwritten, numbers kept as written, \u escapes
     * written as UTF-8, nested values verbatim */
    sendf(a, "sendraw b { \"n\" : null, \"big\":123456789012345678901234, \"max\":9223372036854775807,"
             " \"min\":-9223372036854775808, \"f\":1.0, \"e\":1e300, \"s\":\"\\u00e9\\ud83d\\ude00\\n\","
             " \"sender\":\"fake\", \"timestamp\":1, \"recipient\":\"x\", \"o\":{\"z\":null,\"a\":[1,null]} }");
    expect_match(b, "{\"max\":9223372036854775807,\"min\":-9223372036854775808,\"f\":1.0,\"e\":1e300,"
                    "\"s\":\"\xc3\xa9\xf0\x9f\x98\x80\\n\",\"o\":{\"z\":null,\"a\":[1,null]},"
                    "\"recipient\":\"b\",\"timestamp\":*,\"sender\":\"a\"}");
}

static void test_queries(void **state)
{
    (void)state;
    conn *a1 = json_client("a1");
    conn *a2 = json_client("a2");
    hello("hid+den(JSON)", "{'message' : \"welcome hid+den\"}");
    sendf(a1, "channels");
    expect_line(a1, "a1, a2");
    sendf(a1, "clients");
    expect_line(a1, "a1,a2,hid+den");
    subscribe(a1, "room");
    subscribe(a1, "se#cret");
    sendf(a2, "channels");
    expect_line(a2, "a1, a2, room");
    sendf(a2, "channels room");
    expect_line(a2, "a1");
    subscribe(a2, "room");
    sendf(a2, "channels room");
    expect_line(a2, "a1, a2");
    /* no line for an unknown channel */
    sendf(a2, "channels nothing");
    expect_quiet(a2);
    /* ping, pong, unknown commands */
    sendf(a2, ".");
    sendf(a2, "whatever you say");
    sendf(a2, "channelsX");
    expect_quiet(a2);
}

static void test_quit(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    sendf(a, "quit");
    expect_line(a, "bye");
    expect_eof(a);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "a", TMO), 1);
    sendf(b, "clients");
    expect_line(b, "b");
    /* the name is free again */
    json_client("a");
}

static void test_private_channels(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    conn *c = json_client("c");
    subscribe(a, "priv:s3cret");
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "a", "priv:s3cret", TMO), 1);
    subscribe(c, "priv"); /* ineffective */
    subscribe(c, "priv:other");
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "c", "priv", 0), 0);
    sendf(b, "sendraw priv {\"v\":1}");
    sendf(b, "sendraw priv:wrong {\"v\":2}");
    sendf(b, "sendraw priv:s3cret {\"v\":3}");
    expect_match(a, "{\"v\":3,\"recipient\":\"priv:s3cret\",\"timestamp\":*,\"sender\":\"b\"}");
    expect_quiet(a);
    expect_quiet(c);
    /* not listed */
    sendf(b, "channels");
    expect_line(b, "a, b, c");
    /* unsubscribing needs the token */
    sendf(a, "unsubscribe priv");
    sendf(b, "sendraw priv:s3cret {\"v\":4}");
    expect_match(a, "{\"v\":4,\"recipient\":\"priv:s3cret\",\"timestamp\":*,\"sender\":\"b\"}");
    sendf(a, "unsubscribe priv:s3cret");
    expect_quiet(a);
    sendf(b, "sendraw priv:s3cret {\"v\":5}");
    expect_quiet(b);
    expect_quiet(a);
}

static void test_retain(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    /* no channel yet: not retained */
    sendf(b, "sendraw room {\"_RETAIN\":60,\"v\":0}");
    expect_quiet(b);
    subscribe(a, "room");
    sendf(b, "sendraw room {\"_RETAIN\":60,\"v\":1}");
    expect_match(a, "{\"_RETAIN\":60,\"v\":1,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    long long ts = timestamp_of(a->line);
    /* a later subscriber gets it at once with the original timestamp and sender */
    conn *c = json_client("c");
    sendf(c, "subscribe room");
    expect_match(c, "{\"_RETAIN\":60,\"v\":1,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    assert_true(timestamp_of(c->line) == ts);
    /* the channel survives without subscribers */
    sendf(a, "unsubscribe room");
    sendf(c, "unsubscribe room");
    expect_quiet(a);
    expect_quiet(c);
    conn *d = json_client("d");
    sendf(d, "subscribe room");
    expect_match(d, "{\"_RETAIN\":60,\"v\":1,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    /* a later message clears it */
    sendf(b, "sendraw room {\"v\":2}");
    expect_match(d, "{\"v\":2,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    conn *e = json_client("e");
    subscribe(e, "room");
    expect_quiet(e);
}

static void test_delay(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(a, "room");
    int64_t t0 = now_ms();
    sendf(b, "sendraw room {\"_DELAY\":1,\"n\":1}");
    expect_quiet(b);
    expect_quiet(a); /* not immediately */
    expect_match(a, "{\"_DELAY\":1,\"n\":1,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    int64_t dt = now_ms() - t0;
    if (dt < 900) {
        fail_msg("delayed message arrived after %lld ms", (long long)dt);
    }
    /* one pending delayed message per recipient: the second replaces the first */
    sendf(b, "sendraw room {\"_DELAY\":\"1\",\"n\":2}");
    sendf(b, "sendraw room {\"_DELAY\":1.7,\"n\":3}");
    expect_match(a, "{\"_DELAY\":1.7,\"n\":3,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    sendf(b, "sendraw room {\"_DELAY\":1,\"n\":4}");
    expect_match(a, "{\"_DELAY\":1,\"n\":4,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    /* _DELAY <= 0: immediate */
    sendf(b, "sendraw room {\"_DELAY\":0,\"n\":5}");
    expect_match(a, "{\"_DELAY\":0,\"n\":5,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
}

/* Regression (found by tests/fuzz/fuzz_hub_commands): an empty string, or a
 * string that starts with an escape, as the value of a server-interpreted
 * key reached sb_put(b, s, 0) on an empty buffer, i.e. memcpy(NULL + 0, s, 0):
 * undefined behaviour that the ASan + UBSan build aborts on. Each message is
 * delivered at once (the value is not a number / not a date). */
static void test_fuzz_empty_key_strings(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(a, "room");
    sendf(b, "sendraw room {\"_DELAY\":\"\",\"n\":1}");
    expect_match(a, "{\"_DELAY\":\"\",\"n\":1,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    sendf(b, "sendraw room {\"_SCHEDULE\":\"\",\"n\":2}");
    expect_match(a, "{\"_SCHEDULE\":\"\",\"n\":2,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    sendf(b, "sendraw room {\"_RETAIN\":\"\\u0031\",\"n\":3}");
    expect_match(a, "{\"_RETAIN\":\"\\u0031\",\"n\":3,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
}

static void test_presence(void **state)
{
    (void)state;
    conn *a = json_client("a");
    subscribe(a, "presence(room)");
    subscribe(a, "presence(b)");
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "a", "presence(b)", TMO), 1);
    conn *b = json_client("b");
    expect_match(a, "{\"client\":\"b\",\"join\":\"b\",\"recipient\":\"presence(b)\",\"timestamp\":*,\"sender\":\"b\"}");
    sendf(b, "subscribe room");
    expect_match(
        a,
        "{\"channel\":\"room\",\"join\":\"b\",\"recipient\":\"presence(room)\",\"timestamp\":*,\"sender\":\"room\"}");
    expect_match(a,
                 "{\"client\":\"b\",\"created\":\"\",\"recipient\":\"presence(b)\",\"timestamp\":*,\"sender\":\"b\"}");
    sendf(b, "quit");
    expect_line(b, "bye");
    expect_match(a,
                 "{\"client\":\"b\",\"leave\":\"b\",\"recipient\":\"presence(b)\",\"timestamp\":*,\"sender\":\"b\"}");
    expect_match(
        a,
        "{\"channel\":\"room\",\"leave\":\"b\",\"recipient\":\"presence(room)\",\"timestamp\":*,\"sender\":\"room\"}");
    expect_match(a,
                 "{\"client\":\"b\",\"closed\":\"\",\"recipient\":\"presence(b)\",\"timestamp\":*,\"sender\":\"b\"}");
    expect_quiet(a);
}

static void test_meta_channels(void **state)
{
    (void)state;
    conn *a = json_client("a");
    json_client("b");
    sendf(a, "subscribe OOCSI_clients");
    expect_match(a, "{\"clients\":\"a,b\",\"recipient\":\"OOCSI_clients\",\"timestamp\":*,\"sender\":\"SERVER\"}");
    /* a tick may come before the unsubscribe: skip such lines up to the pong */
    sendf(a, "unsubscribe OOCSI_clients");
    send_str(a, "ping\n");
    while (strcmp(next_line(a), ".") != 0) {
        assert_true(match("{\"clients\":\"a,b\",\"recipient\":\"OOCSI_clients\",\"timestamp\":*,\"sender\":\"SERVER\"}",
                          a->line));
    }
    expect_quiet(a);
    sendf(a, "subscribe a/?");
    sendf(a, "subscribe OOCSI_channels");
    int got_channels = 0, got_sub = 0;
    for (int i = 0; i < 6 && !(got_channels && got_sub); i++) {
        const char *l = next_line(a);
        if (match("{\"channels\":\"a, b, OOCSI_channels\",\"recipient\":\"OOCSI_channels\",\"timestamp\":*,"
                  "\"sender\":\"SERVER\"}",
                  l)) {
            got_channels = 1;
        } else if (match("{\"channels\":\"\",\"recipient\":\"a/?\",\"timestamp\":*,\"sender\":\"SERVER\"}", l)) {
            got_sub = 1;
        }
    }
    assert_true(got_channels && got_sub);
}

/* ------------------------------------------------------------------ load and robustness */

static void test_burst_lossless(void **state)
{
    (void)state;
    enum { N = 10000 };
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(a, "burst");
    size_t cap = (size_t)N * 48, len = 0;
    char *all = malloc(cap);
    assert_non_null(all);
    for (int i = 0; i < N; i++) {
        len += (size_t)snprintf(all + len, cap - len, "sendraw burst {\"i\":%d}\n", i);
    }
    unsigned long long before = oocsi_hub_delivered(hub);
    send_bytes(b, all, len);
    free(all);
    for (int i = 0; i < N; i++) {
        char pat[128];
        snprintf(pat, sizeof pat, "{\"i\":%d,\"recipient\":\"burst\",\"timestamp\":*,\"sender\":\"b\"}", i);
        int r = read_line(a, 10000);
        if (r != 1) {
            fail_msg("message %d: %s", i, r ? "EOF" : "timeout");
        }
        if (!match(pat, a->line)) {
            fail_msg("message %d: got '%s'", i, a->line);
        }
    }
    expect_quiet(a);
    assert_true(oocsi_hub_delivered(hub) - before >= N);
}

static void test_reference_drop_queue(void **state)
{
    (void)state;
    oocsi_hub_free(hub);
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ping_interval_ms = 600000;
    o.reference_drop_queue = 1;
    assert_int_equal(start_hub(&o), 0);
    enum { N = 200 };
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(a, "q");
    char all[N * 40];
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        len += (size_t)snprintf(all + len, sizeof all - len, "sendraw q {\"i\":%d}\n", i);
    }
    send_bytes(b, all, len);
    expect_quiet(b);
    /* the oldest lines were dropped; what arrives is in order and ends with the last */
    int count = 0, last = -1;
    send_str(a, "ping\n");
    while (1) {
        const char *l = next_line(a);
        if (!strcmp(l, ".")) {
            break;
        }
        int i = atoi(l + 5);
        assert_true(i > last);
        last = i;
        count++;
    }
    assert_int_equal(last, N - 1);
    assert_true(count >= 20 && count < N);
}

static void test_max_line(void **state)
{
    (void)state;
    oocsi_hub_free(hub);
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ping_interval_ms = 600000;
    o.max_line = 1024;
    assert_int_equal(start_hub(&o), 0);
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(b, "room");
    /* a line of max_line bytes is fine */
    char line[1100];
    memset(line, 'x', sizeof line);
    memcpy(line, "sendraw room ", 13);
    line[1024] = '\n';
    send_bytes(a, line, 1025);
    const char *l = next_line(b);
    assert_true(strncmp(l, "{\"data\":\"xxx", 12) == 0);
    /* a longer one (even without its LF yet) drops that client only */
    char big[4096];
    memset(big, 'y', sizeof big);
    send_bytes(a, big, sizeof big);
    expect_eof(a);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "a", TMO), 1);
    expect_quiet(b);
    assert_int_equal(oocsi_hub_client_count(hub), 1);
}

static void test_garbage(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(b, "room");
    /* NUL bytes, invalid UTF-8, binary, deep nesting, broken JSON */
    static const char junk[] = "\x00\x01\x02\xff\xfe garbage\n\x80\x80\x80\nsend\nsendraw\nsubscribe\n"
                               "subscribe \nsendraw room {\"a\":[[[[[[[[[[[[[[[[[\n"
                               "sendraw room {\"a\":\"\x01\"}\nsendraw room {\"a\":1}}\n";
    send_bytes(a, junk, sizeof junk - 1);
    expect_match(b, "{\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    expect_match(b, "{\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    expect_match(b, "{\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    char deep[3000];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "sendraw room {\"d\":");
    for (int i = 0; i < 1000; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < 1000; i++) {
        deep[n++] = ']';
    }
    deep[n++] = '}';
    deep[n++] = '\n';
    send_bytes(a, deep, n);
    expect_match(b, "{\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    /* invalid UTF-8 becomes U+FFFD */
    send_str(a, "sendraw room caf\xe9!\n");
    expect_match(b, "{\"data\":\"caf\xef\xbf\xbd!\",\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    send_bytes(a, "sendraw room x\x00y\n", 17);
    expect_match(b, "{\"data\":\"x\\u0000y\",\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    expect_quiet(a);
    expect_quiet(b);
    /* a client vanishing mid-line */
    conn *c = json_client("c");
    send_str(c, "sendraw room {\"half\":");
    conn_close(c);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "c", TMO), 1);
    /* a connection that never says hello, garbage only */
    conn *g = conn_open();
    send_bytes(g, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    conn_close(g);
    expect_quiet(a);
    expect_quiet(b);
    assert_int_equal(oocsi_hub_client_count(hub), 2);
}

/* ------------------------------------------------------------------ keep-alive and controls */

static void test_keepalive(void **state)
{
    (void)state;
    oocsi_hub_free(hub);
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ping_interval_ms = 100;
    o.stale_timeout_ms = 1000;
    assert_int_equal(start_hub(&o), 0);
    conn *a = json_client("a");
    /* pinged while idle; never answering gets "bye" and EOF */
    int pings = 0;
    while (1) {
        const char *l = next_line(a);
        if (!strcmp(l, "ping")) {
            pings++;
            continue;
        }
        assert_string_equal(l, "bye");
        break;
    }
    assert_true(pings >= 2);
    expect_eof(a);
    assert_int_equal(oocsi_hub_client_count(hub), 0);
}

static void test_max_clients(void **state)
{
    (void)state;
    oocsi_hub_free(hub);
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ping_interval_ms = 600000;
    o.max_clients = 2;
    assert_int_equal(start_hub(&o), 0);
    json_client("a");
    json_client("b");
    conn *c = conn_open();
    sendf(c, "c(JSON)");
    expect_line(c, "error (too many clients)");
    expect_eof(c);
}

static void test_drop_client(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    assert_int_equal(oocsi_hub_drop_client(hub, "nobody"), -1);
    assert_int_equal(oocsi_hub_drop_client(hub, "a"), 0);
    assert_int_equal(oocsi_hub_client_count(hub), 1);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "a", 0), 1);
    expect_eof(a);
    expect_quiet(b);
}

static void test_stop_restart(void **state)
{
    (void)state;
    conn *a = json_client("a");
    subscribe(a, "room");
    int p = port;
    assert_int_equal(oocsi_hub_stop(hub), 0);
    expect_eof(a);
    assert_int_equal(oocsi_hub_client_count(hub), 0);
    assert_int_equal(oocsi_hub_port(hub), p);
    int fd = tcp_connect(p);
    int err = errno;
    if (fd >= 0) {
        close(fd);
        fail_msg("connect succeeded after stop");
    }
    assert_int_equal(err, ECONNREFUSED);
    assert_int_equal(oocsi_hub_restart(hub), 0);
    assert_int_equal(oocsi_hub_port(hub), p);
    /* everything was forgotten */
    conn *a2 = json_client("a");
    sendf(a2, "channels");
    expect_line(a2, "a");
    /* restarting while listening is fine */
    assert_int_equal(oocsi_hub_restart(hub), 0);
    expect_quiet(a2);
}

static void test_controls(void **state)
{
    (void)state;
    assert_int_equal(oocsi_hub_wait_client(hub, "a", 50), 0);
    conn *a = json_client("a");
    assert_int_equal(oocsi_hub_wait_client(hub, "a", TMO), 1);
    conn *b = json_client("b");
    sendf(b, "subscribe room");
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "b", "room", TMO), 1);
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "b", "other", 0), 0);
    /* send_raw: exact bytes */
    assert_int_equal(oocsi_hub_send_raw(hub, "a", "raw\x01line\nnext", 13), 0);
    assert_int_equal(oocsi_hub_send_raw(hub, "nobody", "x", 1), -1);
    expect_line(a, "raw\x01line");
    send_str(a, "ping\n");
    expect_line(a, "next.");
    /* stall: nothing is read or written until resumed; output accumulates */
    assert_int_equal(oocsi_hub_stall_client(hub, "b", 1), 0);
    sendf(a, "sendraw room {\"v\":1}");
    sendf(b, "ping");
    expect_quiet(a);
    struct pollfd p = {b->fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 200), 0); /* bounded observation window */
    assert_int_equal(oocsi_hub_stall_client(hub, "b", 0), 0);
    expect_match(b, "{\"v\":1,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"a\"}");
    expect_line(b, ".");
    assert_int_equal(oocsi_hub_stall_client(hub, "nobody", 1), -1);
    assert_int_equal(oocsi_hub_client_count(hub), 2);
    assert_true(oocsi_hub_delivered(hub) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_welcome_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_replacement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_without_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_with_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_rejection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_echo_and_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_empty_key_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_lossless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_drop_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_controls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
