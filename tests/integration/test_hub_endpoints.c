/*
 * The hub's TLS, WebSocket (ws and wss) and HTTP endpoints on the wire: raw
 * sockets, a raw OpenSSL client and a minimal hand-written WebSocket client
 * (fixed handshake, masked client frames) against an in-process hub on
 * ephemeral loopback ports. Checks the exact frames of the web JSON protocol (codecs/README.md) and
 * that TCP, TLS and WebSocket clients share one set of clients and channels.
 *
 * Every wait is bounded (poll() with a deadline, or the hub's wait_*
 * functions); nothing sleeps to synchronise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "hub.h"
#include "support_certs.h"
#include "support_ws.h"

#define TMO 5000

static oocsi_hub *hub;
static it_certs certs;
static char www[IT_CERTS_PATH_MAX + 16];
static char www_index[IT_CERTS_PATH_MAX + 48];
static char www_file[IT_CERTS_PATH_MAX + 48];
static SSL_CTX *client_ctx;

static char *find_crlf2(char *b, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++) {
        if (!memcmp(b + i, "\r\n\r\n", 4)) {
            return b + i;
        }
    }
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ a byte stream: TCP or TLS */

/* support_ws.h in strict mode: every write must succeed. */
typedef it_ws_peer peer;

static peer *peer_open(int port, int tls)
{
    peer *p = it_ws_peer_connect(port, 0);
    if (!p) {
        return NULL;
    }
    p->strict = 1;
    if (tls) {
        SSL *ssl = SSL_new(client_ctx);
        assert_non_null(ssl);
        p->ssl = ssl;
        SSL_set_fd(ssl, p->fd);
        SSL_set_tlsext_host_name(ssl, "localhost");
        SSL_set1_host(ssl, "localhost");
        if (SSL_connect(ssl) != 1) {
            ERR_print_errors_fp(stderr);
            it_ws_peer_close(p);
            return NULL;
        }
    }
    return p;
}

static void peer_close(peer *p)
{
    it_ws_peer_close(p);
}

static void peer_write(peer *p, const void *b, size_t n)
{
    assert_int_equal(it_ws_peer_write(p, b, n), 0);
}

static void peer_printf(peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_printf(peer *p, const char *fmt, ...)
{
    char b[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < (int)sizeof b);
    peer_write(p, b, (size_t)n);
}

/* Reads more bytes: 1, 0 on timeout, -1 on EOF or error. */
static int peer_fill(peer *p, int64_t deadline)
{
    return it_ws_peer_fill(p, deadline);
}

static void peer_consume(peer *p, size_t n)
{
    it_ws_peer_consume(p, n);
}

/* Next line without LF (malloc'd), NULL on timeout or EOF. */
static char *peer_line(peer *p, int timeout_ms)
{
    int64_t dl = now_ms() + timeout_ms;
    while (1) {
        char *nl = p->len ? memchr(p->buf, '\n', p->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p->buf);
            char *line = malloc(n + 1);
            memcpy(line, p->buf, n);
            line[n] = '\0';
            peer_consume(p, n + 1);
            return line;
        }
        if (peer_fill(p, dl) <= 0) {
            return NULL;
        }
    }
}

static void expect_line(peer *p, const char *expected)
{
    char *l = peer_line(p, TMO);
    if (!l || strcmp(l, expected) != 0) {
        fail_msg("line \"%s\", expected \"%s\"", l ? l : "(none)", expected);
    }
    free(l);
}

/* A line client: hello, welcome. */
static peer *line_client(int port, int tls, const char *handle)
{
    peer *p = peer_open(port, tls);
    assert_non_null(p);
    peer_printf(p, "%s(JSON)\n", handle);
    char welcome[256];
    snprintf(welcome, sizeof welcome, "{'message' : \"welcome %s\"}", handle);
    expect_line(p, welcome);
    return p;
}

static void line_subscribe(peer *p, const char *channel)
{
    peer_printf(p, "subscribe %s\nping\n", channel);
    expect_line(p, ".");
}

/* Next JSON message line (answers pings). */
static cJSON *line_json(peer *p)
{
    while (1) {
        char *l = peer_line(p, TMO);
        assert_non_null(l);
        if (!strcmp(l, "ping")) {
            free(l);
            peer_printf(p, ".\n");
            continue;
        }
        cJSON *j = cJSON_Parse(l);
        if (!j) {
            fail_msg("not JSON: %s", l);
        }
        free(l);
        return j;
    }
}

/* ------------------------------------------------------------------ a minimal WebSocket client */

/* Sends the fixed upgrade request (RFC 6455 sample key) and checks the 101. */
static peer *ws_open(int port, int tls, const char *path)
{
    peer *p = peer_open(port, tls);
    assert_non_null(p);
    if (it_ws_handshake(p, port, path, NULL) != 0) {
        peer_close(p);
        return NULL;
    }
    return p;
}

static void ws_send(peer *p, const char *text)
{
    it_ws_send_op(p, 1, text, strlen(text));
}

/* Next text message (malloc'd). NULL on timeout (*closed = 0) or when the
 * connection was closed: close frame or EOF (*closed = 1). */
static char *ws_recv(peer *p, int timeout_ms, int *closed)
{
    return it_ws_recv(p, timeout_ms, closed);
}

static void expect_frame(peer *p, const char *expected)
{
    it_ws_expect_frame(p, expected);
}

static void expect_closed(peer *p)
{
    int closed;
    char *m = ws_recv(p, TMO, &closed);
    if (m || !closed) {
        fail_msg("expected the connection to close, got \"%s\"", m ? m : "(timeout)");
    }
}

/* A WebSocket client at /ws: handle frame, exact welcome frame. */
static peer *ws_client(int port, int tls, const char *handle)
{
    peer *p = ws_open(port, tls, "/ws");
    assert_non_null(p);
    it_ws_hello(p, handle);
    return p;
}

/* Next message frame as JSON (answers "ping" frames with "."). */
static cJSON *ws_json(peer *p)
{
    cJSON *j = it_ws_json_within(p, TMO);
    assert_non_null(j);
    return j;
}

/* The welcome frame's handle for a hello that the hub renames. */
static char *ws_welcomed(peer *p)
{
    int closed;
    char *m = ws_recv(p, TMO, &closed);
    assert_non_null(m);
    const char *pre = "{\"message\" : \"welcome ";
    assert_true(!strncmp(m, pre, strlen(pre)));
    size_t n = strlen(m);
    assert_true(n > strlen(pre) + 2 && !strcmp(m + n - 2, "\"}"));
    char *name = strndup(m + strlen(pre), n - strlen(pre) - 2);
    free(m);
    return name;
}

/* ------------------------------------------------------------------ HTTP */

/* GET path on port; status code, body into *body (malloc'd). */
static int http_get(int port, const char *path, char **body)
{
    peer *p = peer_open(port, 0);
    assert_non_null(p);
    peer_printf(p, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
    int64_t dl = now_ms() + TMO;
    char *end;
    while (!(end = find_crlf2(p->buf, p->len))) {
        assert_int_equal(peer_fill(p, dl), 1);
    }
    size_t hl = (size_t)(end - p->buf) + 4;
    int status = 0;
    assert_int_equal(sscanf(p->buf, "HTTP/1.1 %d", &status), 1);
    long clen = -1;
    char *head = strndup(p->buf, hl);
    for (char *l = head; l && *l; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL) {
        if (!strncasecmp(l, "content-length:", 15)) {
            clen = strtol(l + 15, NULL, 10);
        }
    }
    free(head);
    peer_consume(p, hl);
    if (clen >= 0) {
        while (p->len < (size_t)clen) {
            assert_int_equal(peer_fill(p, dl), 1);
        }
    }
    *body = strndup(p->buf ? p->buf : "", clen >= 0 ? (size_t)clen : p->len);
    peer_close(p);
    return status;
}

/* ------------------------------------------------------------------ fixtures */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static oocsi_hub *start_hub(int ping_interval_ms)
{
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.port = 0;
    o.tls_port = 0;
    o.ws_port = 0;
    o.wss_port = 0;
    o.cert_file = certs.cert_file;
    o.key_file = certs.key_file;
    o.www_dir = www;
    o.ping_interval_ms = ping_interval_ms;
    return oocsi_hub_start(&o);
}

static int group_setup(void **state)
{
    (void)state;
    if (it_certs_make(&certs)) {
        return -1;
    }
    snprintf(www, sizeof www, "%s/www-XXXXXX", certs.dir);
    if (!mkdtemp(www)) {
        return -1;
    }
    snprintf(www_index, sizeof www_index, "%s/index.html", www);
    snprintf(www_file, sizeof www_file, "%s/data.txt", www);
    write_file(www_index, "<html>oocsi hub</html>\n");
    write_file(www_file, "static data\n");
    client_ctx = SSL_CTX_new(TLS_client_method());
    if (!client_ctx || SSL_CTX_load_verify_locations(client_ctx, certs.ca_file, NULL) != 1) {
        return -1;
    }
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
    hub = start_hub(600000); /* no keep-alive pings in the way */
    return hub ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    oocsi_hub_free(hub);
    SSL_CTX_free(client_ctx);
    unlink(www_index);
    unlink(www_file);
    rmdir(www);
    it_certs_free(&certs);
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_ports(void **state)
{
    (void)state;
    assert_true(oocsi_hub_port(hub) > 0);
    assert_true(oocsi_hub_tls_port(hub) > 0);
    assert_true(oocsi_hub_ws_port(hub) > 0);
    assert_true(oocsi_hub_wss_port(hub) > 0);

    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    assert_int_equal(o.tls_port, -1);
    assert_int_equal(o.ws_port, -1);
    assert_int_equal(o.wss_port, -1);
    oocsi_hub *plain = oocsi_hub_start(&o);
    assert_non_null(plain);
    assert_int_equal(oocsi_hub_tls_port(plain), -1);
    assert_int_equal(oocsi_hub_ws_port(plain), -1);
    assert_int_equal(oocsi_hub_wss_port(plain), -1);
    oocsi_hub_free(plain);

    o.tls_port = 0; /* TLS without a certificate: refused */
    assert_null(oocsi_hub_start(&o));
}

static void test_tls_line_client_talks_to_tcp(void **state)
{
    (void)state;
    peer *t = line_client(oocsi_hub_tls_port(hub), 1, "ep_tls1");
    peer *c = line_client(oocsi_hub_port(hub), 0, "ep_tcp1");

    line_subscribe(c, "ep_room1");
    peer_printf(t, "sendraw ep_room1 {\"v\":1,\"s\":\"x\"}\n");
    cJSON *j = line_json(c);
    assert_int_equal(cJSON_GetObjectItem(j, "v")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(j, "sender")->valuestring, "ep_tls1");
    assert_string_equal(cJSON_GetObjectItem(j, "recipient")->valuestring, "ep_room1");
    cJSON_Delete(j);

    line_subscribe(t, "ep_room2");
    peer_printf(c, "sendraw ep_room2 hello world\n");
    j = line_json(t);
    assert_string_equal(cJSON_GetObjectItem(j, "data")->valuestring, "hello world");
    assert_string_equal(cJSON_GetObjectItem(j, "sender")->valuestring, "ep_tcp1");
    cJSON_Delete(j);

    /* commands and queries work over TLS as over TCP */
    peer_printf(t, "clients\n");
    char *l = peer_line(t, TMO);
    assert_non_null(l);
    assert_non_null(strstr(l, "ep_tls1"));
    assert_non_null(strstr(l, "ep_tcp1"));
    free(l);

    /* a client failing the handshake is dropped, the others go on */
    peer *bad = peer_open(oocsi_hub_tls_port(hub), 0);
    assert_non_null(bad);
    peer_printf(bad, "ep_bad(JSON)\n");
    assert_null(peer_line(bad, TMO));
    assert_true(bad->eof);
    peer_close(bad);
    peer_printf(t, "ping\n");
    expect_line(t, ".");

    /* send_raw and quit on a TLS client */
    assert_int_equal(oocsi_hub_send_raw(hub, "ep_tls1", "garbage\n", 8), 0);
    expect_line(t, "garbage");
    peer_printf(t, "quit\n");
    expect_line(t, "bye");
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "ep_tls1", TMO), 1);
    peer_close(t);
    peer_close(c);
}

static void test_tls_drop_client(void **state)
{
    (void)state;
    peer *t = line_client(oocsi_hub_tls_port(hub), 1, "ep_tlsdrop");
    assert_int_equal(oocsi_hub_drop_client(hub, "ep_tlsdrop"), 0);
    assert_null(peer_line(t, TMO));
    assert_true(t->eof);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "ep_tlsdrop", 0), 1);
    peer_close(t);
}

/* A backlog of shared lines (stalled, then far more than one TLS write) to
 * a TLS and a TCP subscriber: each gets every line, in order. */
static void test_tls_shared_burst(void **state)
{
    (void)state;
    enum { N = 600, PAD = 700 };
    peer *t = line_client(oocsi_hub_tls_port(hub), 1, "ep_tlsb");
    peer *c = line_client(oocsi_hub_port(hub), 0, "ep_tcpb");
    peer *p = line_client(oocsi_hub_port(hub), 0, "ep_pubb");
    line_subscribe(t, "ep_burst");
    line_subscribe(c, "ep_burst");
    assert_int_equal(oocsi_hub_stall_client(hub, "ep_tlsb", 1), 0);
    char pad[PAD + 1];
    memset(pad, 'q', PAD);
    pad[PAD] = '\0';
    for (int i = 0; i < N; i++) {
        peer_printf(p, "sendraw ep_burst {\"i\":%d,\"p\":\"%s\"}\n", i, pad);
    }
    peer_printf(p, "ping\n");
    expect_line(p, ".");
    assert_int_equal(oocsi_hub_stall_client(hub, "ep_tlsb", 0), 0);
    for (int i = 0; i < N; i++) {
        cJSON *a = line_json(t), *b = line_json(c);
        assert_int_equal(cJSON_GetObjectItem(a, "i")->valueint, i);
        assert_int_equal(cJSON_GetObjectItem(b, "i")->valueint, i);
        assert_int_equal((int)strlen(cJSON_GetObjectItem(a, "p")->valuestring), PAD);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    peer_close(t);
    peer_close(c);
    peer_close(p);
}

static void test_ws_handshake_frames(void **state)
{
    (void)state;
    int ws = oocsi_hub_ws_port(hub);
    peer *a = ws_client(ws, 0, "ep_ws_a");
    assert_int_equal(oocsi_hub_wait_client(hub, "ep_ws_a", TMO), 1);

    /* trimmed, one leading and one trailing '/' stripped */
    peer *b = ws_open(ws, 0, "/ws");
    assert_non_null(b);
    ws_send(b, "  /ep_ws_b/ ");
    expect_frame(b, "{\"message\" : \"welcome ep_ws_b\"}");

    /* '#' become digits */
    peer *c = ws_open(ws, 0, "/ws");
    assert_non_null(c);
    ws_send(c, "ep_ws_c###");
    char *name = ws_welcomed(c);
    assert_int_equal(strlen(name), strlen("ep_ws_c###"));
    assert_true(!strncmp(name, "ep_ws_c", 7));
    for (int i = 7; i < 10; i++) {
        assert_true(name[i] >= '0' && name[i] <= '9');
    }
    assert_int_equal(oocsi_hub_wait_client(hub, name, TMO), 1);
    free(name);

    /* invalid handles are replaced by webclient_#### */
    const char *invalid[] = {"two words", "caf\xc3\xa9", NULL};
    char longname[260];
    memset(longname, 'x', 201);
    longname[201] = '\0';
    invalid[2] = longname;
    for (int k = 0; k < 3; k++) {
        peer *d = ws_open(ws, 0, "/ws");
        assert_non_null(d);
        ws_send(d, invalid[k]);
        name = ws_welcomed(d);
        assert_int_equal(strlen(name), strlen("webclient_1234"));
        assert_true(!strncmp(name, "webclient_", 10));
        for (int i = 10; i < 14; i++) {
            assert_true(name[i] >= '0' && name[i] <= '9');
        }
        free(name);
        peer_close(d);
    }

    /* WebSocket only at /ws */
    assert_null(ws_open(ws, 0, "/other"));

    peer_close(a);
    peer_close(b);
    peer_close(c);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "ep_ws_a", TMO), 1);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "ep_ws_b", TMO), 1);
}

static void test_ws_taken_name(void **state)
{
    (void)state;
    peer *t = line_client(oocsi_hub_port(hub), 0, "ep_taken");
    peer *w = ws_open(oocsi_hub_ws_port(hub), 0, "/ws");
    assert_non_null(w);
    ws_send(w, "ep_taken");
    expect_frame(w, "{\"message\" : \"ERROR: client ep_taken exists already\"}");
    expect_closed(w);
    peer_close(w);

    /* and the other way round: a WebSocket client's name is taken for TCP */
    peer *w2 = ws_client(oocsi_hub_ws_port(hub), 0, "ep_taken_ws");
    peer *t2 = peer_open(oocsi_hub_port(hub), 0);
    peer_printf(t2, "ep_taken_ws(JSON)\n");
    expect_line(t2, "error (name already registered: ep_taken_ws)");
    peer_close(t2);
    peer_close(w2);
    peer_close(t);
}

static void test_ws_tcp_messages(void **state)
{
    (void)state;
    peer *w = ws_client(oocsi_hub_ws_port(hub), 0, "ep_wsm");
    peer *c = line_client(oocsi_hub_port(hub), 0, "ep_tcpm");

    /* TCP -> WebSocket channel: payload nested in "data" */
    ws_send(w, "subscribe ep_wsroom");
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "ep_wsm", "ep_wsroom", TMO), 1);
    peer_printf(c, "sendraw ep_wsroom {\"a\":1,\"s\":\"x\",\"o\":{\"k\":[1,2]}}\n");
    cJSON *j = ws_json(w);
    assert_int_equal(cJSON_GetArraySize(j), 4);
    cJSON *data = cJSON_GetObjectItem(j, "data");
    assert_true(cJSON_IsObject(data));
    assert_int_equal(cJSON_GetArraySize(data), 3);
    assert_int_equal(cJSON_GetObjectItem(data, "a")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(data, "s")->valuestring, "x");
    assert_string_equal(cJSON_GetObjectItem(j, "recipient")->valuestring, "ep_wsroom");
    assert_string_equal(cJSON_GetObjectItem(j, "sender")->valuestring, "ep_tcpm");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "timestamp")));
    assert_true(cJSON_GetObjectItem(j, "timestamp")->valuedouble > 1.5e12);
    cJSON_Delete(j);

    /* TCP -> WebSocket direct message; text payloads arrive as {"data": text} */
    peer_printf(c, "sendraw ep_wsm just text\n");
    j = ws_json(w);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "data")->valuestring, "just text");
    assert_string_equal(cJSON_GetObjectItem(j, "recipient")->valuestring, "ep_wsm");
    cJSON_Delete(j);

    /* WebSocket -> TCP direct message: the normal line format */
    ws_send(w, "sendjson ep_tcpm {\"b\":2}");
    j = line_json(c);
    assert_int_equal(cJSON_GetArraySize(j), 4);
    assert_int_equal(cJSON_GetObjectItem(j, "b")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(j, "sender")->valuestring, "ep_wsm");
    assert_string_equal(cJSON_GetObjectItem(j, "recipient")->valuestring, "ep_tcpm");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "timestamp")));
    cJSON_Delete(j);

    /* WebSocket -> TCP channel; no echo to the sender */
    line_subscribe(c, "ep_tcproom");
    ws_send(w, "subscribe ep_tcproom");
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "ep_wsm", "ep_tcproom", TMO), 1);
    ws_send(w, "sendjson ep_tcproom {\"c\":3}");
    j = line_json(c);
    assert_int_equal(cJSON_GetObjectItem(j, "c")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItem(j, "recipient")->valuestring, "ep_tcproom");
    cJSON_Delete(j);

    /* a TLS client and a second WebSocket (wss) client on the same channel */
    peer *t = line_client(oocsi_hub_tls_port(hub), 1, "ep_tlsm");
    peer *s = ws_client(oocsi_hub_wss_port(hub), 1, "ep_wssm");
    line_subscribe(t, "ep_tcproom");
    ws_send(s, "subscribe ep_tcproom");
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "ep_wssm", "ep_tcproom", TMO), 1);
    peer_printf(c, "sendraw ep_tcproom {\"d\":4}\n");
    j = line_json(t);
    assert_int_equal(cJSON_GetObjectItem(j, "d")->valueint, 4);
    cJSON_Delete(j);
    j = ws_json(s);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "d")->valueint, 4);
    cJSON_Delete(j);
    j = ws_json(w);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "d")->valueint, 4);
    assert_string_equal(cJSON_GetObjectItem(j, "sender")->valuestring, "ep_tcpm");
    cJSON_Delete(j);

    /* a large message across the endpoints (fragmented reads, several TLS records) */
    size_t big = 300000;
    char *line = malloc(big + 64);
    int n = snprintf(line, 64, "sendjson ep_tcpm {\"big\":\"");
    memset(line + n, 'y', big);
    strcpy(line + n + big, "\"}");
    ws_send(s, line);
    j = line_json(c);
    assert_int_equal(strlen(cJSON_GetObjectItem(j, "big")->valuestring), big);
    assert_string_equal(cJSON_GetObjectItem(j, "sender")->valuestring, "ep_wssm");
    cJSON_Delete(j);
    free(line);

    peer_close(s);
    peer_close(t);
    peer_close(w);
    peer_close(c);
}

static void test_ws_keepalive_ping(void **state)
{
    (void)state;
    oocsi_hub *h = start_hub(50);
    assert_non_null(h);
    peer *w = ws_client(oocsi_hub_ws_port(h), 0, "ep_wsping");
    expect_frame(w, "ping");
    ws_send(w, ".");
    peer_close(w);
    oocsi_hub_free(h);
}

static void test_http_static_files(void **state)
{
    (void)state;
    char *body = NULL;
    assert_int_equal(http_get(oocsi_hub_ws_port(hub), "/", &body), 200);
    assert_string_equal(body, "<html>oocsi hub</html>\n");
    free(body);
    assert_int_equal(http_get(oocsi_hub_ws_port(hub), "/data.txt", &body), 200);
    assert_string_equal(body, "static data\n");
    free(body);
    assert_int_equal(http_get(oocsi_hub_ws_port(hub), "/missing.txt", &body), 404);
    free(body);
}

static void test_ws_fault_controls(void **state)
{
    (void)state;
    peer *w = ws_client(oocsi_hub_ws_port(hub), 0, "ep_wsd");
    peer *c = line_client(oocsi_hub_port(hub), 0, "ep_tcpd");

    /* send_raw: the bytes as one text frame */
    assert_int_equal(oocsi_hub_send_raw(hub, "ep_wsd", "{not json", 9), 0);
    expect_frame(w, "{not json");

    /* stall and resume: the queued message arrives after resuming */
    assert_int_equal(oocsi_hub_stall_client(hub, "ep_wsd", 1), 0);
    peer_printf(c, "sendraw ep_wsd {\"q\":1}\nping\n");
    expect_line(c, ".");
    assert_int_equal(oocsi_hub_stall_client(hub, "ep_wsd", 0), 0);
    cJSON *j = ws_json(w);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "q")->valueint, 1);
    cJSON_Delete(j);

    /* drop: the connection closes, the handle is free again */
    assert_int_equal(oocsi_hub_drop_client(hub, "ep_wsd"), 0);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "ep_wsd", 0), 1);
    expect_closed(w);
    peer_close(w);
    assert_int_equal(oocsi_hub_drop_client(hub, "ep_wsd"), -1);
    peer *w2 = ws_client(oocsi_hub_ws_port(hub), 0, "ep_wsd");
    peer_close(w2);
    peer_close(c);
}

static void test_stop_restart_all_endpoints(void **state)
{
    (void)state;
    oocsi_hub *h = start_hub(600000);
    assert_non_null(h);
    int ports[4] = {oocsi_hub_port(h), oocsi_hub_tls_port(h), oocsi_hub_ws_port(h), oocsi_hub_wss_port(h)};
    peer *w = ws_client(ports[2], 0, "ep_rs_ws");
    peer *t = line_client(ports[1], 1, "ep_rs_tls");
    assert_int_equal(oocsi_hub_stop(h), 0);
    expect_closed(w);
    assert_null(peer_line(t, TMO));
    assert_true(t->eof);
    peer_close(w);
    peer_close(t);
    assert_int_equal(oocsi_hub_client_count(h), 0);
    assert_null(peer_open(ports[2], 0)); /* nothing listens */
    assert_null(peer_open(ports[1], 0));

    assert_int_equal(oocsi_hub_restart(h), 0);
    assert_int_equal(oocsi_hub_port(h), ports[0]);
    assert_int_equal(oocsi_hub_tls_port(h), ports[1]);
    assert_int_equal(oocsi_hub_ws_port(h), ports[2]);
    assert_int_equal(oocsi_hub_wss_port(h), ports[3]);
    w = ws_client(ports[2], 0, "ep_rs_ws");
    t = line_client(ports[1], 1, "ep_rs_tls");
    peer *s = ws_client(ports[3], 1, "ep_rs_wss");
    ws_send(s, "sendjson ep_rs_tls {\"r\":1}");
    cJSON *j = line_json(t);
    assert_int_equal(cJSON_GetObjectItem(j, "r")->valueint, 1);
    cJSON_Delete(j);
    peer_close(s);
    peer_close(w);
    peer_close(t);
    oocsi_hub_free(h); /* with WebSocket clients possibly still registered */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_tls_line_client_talks_to_tcp),
        cmocka_unit_test(test_tls_drop_client),
        cmocka_unit_test(test_tls_shared_burst),
        cmocka_unit_test(test_ws_handshake_frames),
        cmocka_unit_test(test_ws_taken_name),
        cmocka_unit_test(test_ws_tcp_messages),
        cmocka_unit_test(test_ws_keepalive_ping),
        cmocka_unit_test(test_http_static_files),
        cmocka_unit_test(test_ws_fault_controls),
        cmocka_unit_test(test_stop_restart_all_endpoints),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
