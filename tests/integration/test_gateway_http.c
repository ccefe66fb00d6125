/*
 * Integration: the HTTP API of oocsi-gateway (examples/gateway/gw_http.c),
 * the gateway running as a child process in front of the in-process hub,
 * spoken to with a small hand-written HTTP client (no curl):
 *
 *  1. POST /send/CHANNEL (JSON and form bodies) reaches a C client
 *     subscribed on the hub, from the gateway's handle; ?sender= is refused;
 *  2. bad requests answer 4xx with a JSON error naming the cause (invalid
 *     JSON, not an object, too large, bad name, wrong method, media type),
 *     and 503 while the upstream is down;
 *  3. GET /events/CHANNEL streams a burst of messages a C client sends, in
 *     order, with keep-alive comments, and ends cleanly on SIGTERM;
 *  4. the Origin check (403), the client limits counting event streams, a
 *     stream reader that does not read cut off past --max-queue, and
 *     --no-http-api; the page at / keeps working.
 *
 * Every wait is bounded (poll() with deadlines, the support waits).
 */
#define _XOPEN_SOURCE 700
#include "support.h"
#include "support_gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef OOCSI_GATEWAY_PATH
#error "OOCSI_GATEWAY_PATH must name the oocsi-gateway binary"
#endif
#ifndef OOCSI_GATEWAY_WWW_DIR
#error "OOCSI_GATEWAY_WWW_DIR must name examples/gateway/www"
#endif

#define TMO IT_TIMEOUT

/* ------------------------------------------------------------------ the gateway process */

static it_gw gw;
static char gw_handle[64]; /* --http-handle */

static int gw_teardown(void **state)
{
    it_gw_kill_all();
    gw.pid = 0;
    return it_test_teardown(state);
}

/* Starts the gateway on an ephemeral port, upstream the hub (or upstream),
 * its HTTP handle unique, plus extra arguments (NULL-terminated); waits until
 * the HTTP API's client is on the hub unless wait_client is 0. */
static void gw_start_up(const char *upstream, int wait_client, const char *const *extra)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", oocsi_hub_port(it_hub));
    it_unique(gw_handle, sizeof gw_handle, "gwhttp");
    const char *args[40];
    int n = 0;
    const char *fixed[] = {"--port",
                           "0",
                           "--url",
                           upstream ? upstream : url,
                           "--www",
                           OOCSI_GATEWAY_WWW_DIR,
                           "--ping-interval",
                           "200",
                           "--connect-timeout",
                           "1000",
                           "--http-handle",
                           gw_handle};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        args[n++] = fixed[i];
    }
    for (int i = 0; extra && extra[i] && n < 39; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    it_gw_start(&gw, OOCSI_GATEWAY_PATH, args);
    if (wait_client) {
        assert_true(oocsi_hub_wait_client(it_hub, gw_handle, TMO));
    }
}

static void gw_start(const char *const *extra)
{
    gw_start_up(NULL, 1, extra);
}

/* SIGTERM; the gateway must exit 0. */
static void gw_stop(void)
{
    it_gw_stop(&gw);
}

/* ------------------------------------------------------------------ a tiny HTTP client */

static int tcp_connect(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* Reads into b (NUL-terminated, *len bytes so far) until stop is in it, EOF,
 * or the deadline; with stop NULL, one read. 1 when stop was found (stop
 * NULL: something was read). */
static int read_until(int fd, char *b, size_t cap, size_t *len, const char *stop, int64_t deadline, int *eof)
{
    *eof = 0;
    while (!(stop && strstr(b, stop))) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0 || *len + 1 >= cap) {
            return 0;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t r = read(fd, b + *len, cap - 1 - *len);
        if (r <= 0) {
            *eof = 1;
            return 0;
        }
        *len += (size_t)r;
        b[*len] = '\0';
        if (!stop) {
            return 1;
        }
    }
    return 1;
}

typedef struct resp {
    int status;
    char head[2048]; /* status line and headers */
    char body[4096];
} resp;

/* The answer on fd: status, headers, a body of Content-Length bytes. */
static void read_response(int fd, resp *r)
{
    static char b[8192];
    size_t len = 0;
    int eof;
    b[0] = '\0';
    memset(r, 0, sizeof *r);
    int64_t dl = it_now_ms() + TMO;
    if (!read_until(fd, b, sizeof b, &len, "\r\n\r\n", dl, &eof)) {
        fail_msg("no HTTP answer within %d ms (got \"%s\")", TMO, b);
    }
    char *end = strstr(b, "\r\n\r\n");
    size_t hl = (size_t)(end - b);
    snprintf(r->head, sizeof r->head, "%.*s", (int)hl, b);
    r->status = atoi(b + 9);
    const char *cl = strstr(r->head, "content-length:");
    size_t want = cl ? (size_t)atol(cl + 15) : 0;
    while (len - hl - 4 < want && !eof && it_now_ms() < dl) {
        read_until(fd, b, sizeof b, &len, NULL, dl, &eof);
    }
    snprintf(r->body, sizeof r->body, "%s", end + 4);
}

/* One request on a new connection and its answer. headers: extra lines,
 * each ending in \r\n (may be ""). */
static void request(const char *method, const char *path, const char *headers, const char *body, resp *r)
{
    int fd = tcp_connect(gw.port, 0);
    char head[1024];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s", method, path, gw.port,
                     headers ? headers : "");
    if (body) {
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", bl);
    }
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    write_all(fd, head, (size_t)n);
    if (body) {
        write_all(fd, body, bl);
    }
    read_response(fd, r);
    close(fd);
}

static void post_json(const char *path, const char *json, resp *r)
{
    request("POST", path, "Content-Type: application/json\r\n", json, r);
}

static void expect(const resp *r, int status, const char *in_body)
{
    if (r->status != status || (in_body && !strstr(r->body, in_body))) {
        fail_msg("expected %d with \"%s\", got:\n%s\n\n%s", status, in_body ? in_body : "", r->head, r->body);
    }
    if (status != 200 || in_body) {
        cJSON *j = cJSON_Parse(r->body);
        if (!j) {
            fail_msg("the answer is not JSON: %s", r->body);
        }
        cJSON_Delete(j);
    }
}

/* ------------------------------------------------------------------ an event stream reader */

typedef struct sse {
    int fd;
    char buf[1 << 16];
    size_t len;
    resp head;
} sse;

/* GET /events/CHANNEL; the headers are read. */
static void sse_open(sse *s, const char *channel, const char *origin, int rcvbuf)
{
    memset(s, 0, sizeof *s);
    s->fd = tcp_connect(gw.port, rcvbuf);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /events/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s%s%s\r\n", channel,
                     origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "");
    write_all(s->fd, req, (size_t)n);
    int eof;
    int64_t dl = it_now_ms() + TMO;
    if (!read_until(s->fd, s->buf, sizeof s->buf, &s->len, "\r\n\r\n", dl, &eof)) {
        fail_msg("no answer to GET /events/%s (got \"%s\")", channel, s->buf);
    }
    char *end = strstr(s->buf, "\r\n\r\n");
    size_t hl = (size_t)(end - s->buf);
    snprintf(s->head.head, sizeof s->head.head, "%.*s", (int)hl, s->buf);
    s->head.status = atoi(s->buf + 9);
    memmove(s->buf, end + 4, s->len - hl - 4 + 1);
    s->len -= hl + 4;
}

/* The next event (up to its blank line, without it) into out; 0 on timeout, -1 at EOF. */
static int sse_next(sse *s, char *out, size_t cap, int timeout_ms)
{
    int64_t dl = it_now_ms() + timeout_ms;
    int eof = 0;
    for (;;) {
        char *end = strstr(s->buf, "\n\n");
        if (end) {
            size_t n = (size_t)(end - s->buf);
            snprintf(out, cap, "%.*s", (int)n, s->buf);
            memmove(s->buf, end + 2, s->len - n - 2 + 1);
            s->len -= n + 2;
            return 1;
        }
        if (eof) {
            return -1;
        }
        if (!read_until(s->fd, s->buf, sizeof s->buf, &s->len, "\n\n", dl, &eof) && !eof) {
            return 0;
        }
    }
}

/* The next "data:" event as JSON, skipping comments; NULL on timeout or EOF. */
static cJSON *sse_json(sse *s, int timeout_ms)
{
    static char ev[1 << 16];
    int64_t dl = it_now_ms() + timeout_ms;
    while (it_now_ms() < dl) {
        if (sse_next(s, ev, sizeof ev, (int)(dl - it_now_ms())) != 1) {
            return NULL;
        }
        if (!strncmp(ev, "data: ", 6)) {
            return cJSON_Parse(ev + 6);
        }
    }
    return NULL;
}

/* Opens a stream and waits for its first comment, ": subscribed to C as H";
 * handle gets H. */
static void sse_subscribed(sse *s, const char *channel, char *handle, size_t hsize)
{
    sse_open(s, channel, NULL, 0);
    if (s->head.status != 200 || !strstr(s->head.head, "content-type: text/event-stream")) {
        fail_msg("GET /events/%s: %s", channel, s->head.head);
    }
    char ev[512];
    assert_int_equal(sse_next(s, ev, sizeof ev, TMO), 1);
    const char *as = strstr(ev, " as ");
    if (strncmp(ev, ": subscribed to ", 16) || !as) {
        fail_msg("first event: \"%s\"", ev);
    }
    snprintf(handle, hsize, "%s", as + 4);
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, channel, TMO));
}

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* ------------------------------------------------------------------ 1: POST /send */

static void test_post_reaches_subscriber(void **state)
{
    (void)state;
    gw_start(NULL);
    char channel[64];
    it_unique(channel, sizeof channel, "httpch");
    oocsi_client *c = it_connect_bg(NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, channel, it_inbox_handler, in), OOCSI_OK);

    char path[128];
    snprintf(path, sizeof path, "/send/%s", channel);
    resp r;
    post_json(path, "{\"temp\": 21.5, \"room\": \"lab\"}", &r);
    expect(&r, 200, "{\"ok\":true}");
    assert_true(it_inbox_wait(in, 1, TMO));
    const it_msg *m = it_inbox_at(in, 0);
    assert_string_equal(m->sender, gw_handle);
    assert_string_equal(m->recipient, channel);
    assert_string_equal(jstr(m->data, "room"), "lab");
    IT_ASSERT_NEAR(cJSON_GetObjectItem(m->data, "temp")->valuedouble, 21.5, 1e-9);

    /* form fields become strings */
    request("POST", path, "Content-Type: application/x-www-form-urlencoded\r\n", "event=door+open&who=%C3%A9mile", &r);
    expect(&r, 200, NULL);
    assert_true(it_inbox_wait(in, 2, TMO));
    m = it_inbox_at(in, 1);
    assert_string_equal(jstr(m->data, "event"), "door open");
    assert_string_equal(jstr(m->data, "who"), "\xc3\xa9mile");
    assert_string_equal(m->sender, gw_handle);

    /* no impersonation: ?sender= is refused and nothing is sent */
    char spath[160];
    snprintf(spath, sizeof spath, "/send/%s?sender=boss", channel);
    post_json(spath, "{\"fake\": true}", &r);
    expect(&r, 400, "sender");
    /* one more, in order after the refused one: had that been sent, it
     * would have arrived first */
    post_json(path, "{\"last\": 1}", &r);
    expect(&r, 200, NULL);
    assert_true(it_inbox_wait(in, 3, TMO));
    assert_non_null(cJSON_GetObjectItem(it_inbox_at(in, 2)->data, "last"));
    assert_int_equal(it_inbox_count(in), 3);

    /* the page at / is still served */
    request("GET", "/", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "text/html"));
    gw_stop();
}

/* ------------------------------------------------------------------ 2: errors */

static void test_post_errors(void **state)
{
    (void)state;
    const char *const extra[] = {"--max-frame", "1024", NULL};
    gw_start(extra);
    char channel[64], path[128];
    it_unique(channel, sizeof channel, "httperr");
    snprintf(path, sizeof path, "/send/%s", channel);
    oocsi_client *c = it_connect_bg(NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, channel, it_inbox_handler, in), OOCSI_OK);
    resp r;

    post_json(path, "{\"a\": 1,", &r);
    expect(&r, 400, "invalid JSON");
    post_json(path, "{\"a\": 1} trailing", &r);
    expect(&r, 400, "invalid JSON");
    post_json(path, "[1, 2]", &r);
    expect(&r, 400, "JSON object");
    request("POST", path, "Content-Type: text/plain\r\n", "hello", &r);
    expect(&r, 415, "Content-Type");
    request("POST", path, "Content-Type: application/x-www-form-urlencoded\r\n", "a=%zz", &r);
    expect(&r, 400, "form");
    post_json("/send/two%20words", "{}", &r);
    expect(&r, 400, "name");
    post_json("/send/", "{}", &r);
    expect(&r, 400, "name");
    request("GET", path, "", NULL, &r);
    expect(&r, 405, "POST");
    post_json("/events/x", "{}", &r);
    expect(&r, 405, "GET");
    request("PUT", path, "Content-Type: application/json\r\n", "{}", &r);
    expect(&r, 405, "POST");

    /* too large: refused from the Content-Length, before the body */
    int fd = tcp_connect(gw.port, 0);
    char head[256];
    int n =
        snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n", path);
    write_all(fd, head, (size_t)n);
    read_response(fd, &r);
    close(fd);
    expect(&r, 413, "too large");
    /* at the limit it passes */
    char big[1100];
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"k\":\"", 6);
    memcpy(big + 1024 - 2, "\"}", 3);
    post_json(path, big, &r);
    expect(&r, 200, NULL);
    assert_true(it_inbox_wait(in, 1, TMO));
    assert_int_equal(it_inbox_count(in), 1); /* none of the refused ones got through */
    gw_stop();

    /* upstream down: 503, for a POST and a stream */
    char down[64];
    snprintf(down, sizeof down, "tcp://127.0.0.1:%d", it_free_port());
    gw_start_up(down, 0, NULL);
    post_json(path, "{}", &r);
    expect(&r, 503, "upstream");
    sse s;
    sse_open(&s, channel, NULL, 0);
    assert_int_equal(s.head.status, 503);
    close(s.fd);
    gw_stop();
}

/* ------------------------------------------------------------------ 3: GET /events */

static void test_events_stream(void **state)
{
    (void)state;
    const char *const extra[] = {"--idle-timeout", "300", NULL};
    gw_start(extra);
    char channel[64], handle[256];
    it_unique(channel, sizeof channel, "httpsse");
    sse s;
    sse_subscribed(&s, channel, handle, sizeof handle);
    assert_non_null(strstr(s.head.head, "cache-control: no-cache"));
    int64_t opened = it_now_ms();

    oocsi_client *c = it_connect_bg(NULL);
    enum { BURST = 200 };
    for (int i = 0; i < BURST; i++) {
        assert_int_equal(oocsi_send_jsonf(c, channel, "{\"i\": %d, \"pad\": \"%0200d\"}", i, i), OOCSI_OK);
    }
    for (int i = 0; i < BURST; i++) {
        cJSON *j = sse_json(&s, TMO);
        if (!j) {
            fail_msg("event %d of %d did not arrive", i, BURST);
        }
        assert_string_equal(jstr(j, "sender"), oocsi_handle(c));
        assert_string_equal(jstr(j, "recipient"), channel);
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "timestamp")));
        cJSON *d = cJSON_GetObjectItem(j, "data");
        assert_int_equal(cJSON_GetObjectItem(d, "i")->valueint, i);
        cJSON_Delete(j);
    }
    /* keep-alive comments while nothing happens, past --idle-timeout: a
     * stream's reader sends nothing and is not idle for that */
    char ev[512];
    int keep = 0;
    for (int64_t dl = it_now_ms() + TMO; it_now_ms() < dl && !(keep >= 2 && it_now_ms() - opened > 900);) {
        int rc = sse_next(&s, ev, sizeof ev, TMO);
        if (rc < 0) {
            fail_msg("the stream ended after %d keep-alive comments", keep);
        }
        keep += rc == 1 && !strcmp(ev, ": keep-alive");
    }
    assert_true(keep >= 2);
    /* a POST reaches the stream too */
    char path[128];
    snprintf(path, sizeof path, "/send/%s", channel);
    resp r;
    post_json(path, "{\"via\": \"http\"}", &r);
    expect(&r, 200, NULL);
    cJSON *j = sse_json(&s, TMO);
    assert_non_null(j);
    assert_string_equal(jstr(j, "sender"), gw_handle);
    cJSON_Delete(j);

    /* SIGTERM: the stream ends with a comment and EOF, the gateway exits 0 */
    kill(gw.pid, SIGTERM);
    int rc, ended = 0;
    while ((rc = sse_next(&s, ev, sizeof ev, TMO)) == 1) {
        ended |= strstr(ev, "shutting down") != NULL;
    }
    assert_int_equal(rc, -1);
    assert_true(ended);
    close(s.fd);
    gw_stop();
}

/* ------------------------------------------------------------------ 4: protections */

static void test_origin(void **state)
{
    (void)state;
    const char *const extra[] = {"--origin", "http://good.example", NULL};
    gw_start(extra);
    char channel[64], path[128];
    it_unique(channel, sizeof channel, "httporg");
    snprintf(path, sizeof path, "/send/%s", channel);
    resp r;
    request("POST", path, "Content-Type: application/json\r\nOrigin: http://evil.example\r\n", "{}", &r);
    expect(&r, 403, "Origin");
    request("POST", path, "Content-Type: application/json\r\n", "{}", &r);
    expect(&r, 403, "Origin");
    sse s;
    sse_open(&s, channel, "http://evil.example", 0);
    assert_int_equal(s.head.status, 403);
    close(s.fd);
    request("POST", path, "Content-Type: application/json\r\nOrigin: http://good.example\r\n", "{}", &r);
    expect(&r, 200, NULL);
    assert_non_null(strstr(r.head, "access-control-allow-origin: http://good.example"));
    sse_open(&s, channel, "http://good.example", 0);
    assert_int_equal(s.head.status, 200);
    close(s.fd);
    gw_stop();
}

static void test_limits(void **state)
{
    (void)state;
    const char *const extra[] = {"--max-clients", "3", "--max-per-address", "2", "--max-queue", "65536", NULL};
    gw_start(extra);
    char channel[64], h1[256], h2[256];
    it_unique(channel, sizeof channel, "httplim");
    sse a, b, c;
    sse_subscribed(&a, channel, h1, sizeof h1);
    sse_subscribed(&b, channel, h2, sizeof h2);
    /* a third stream from this address is refused (--max-per-address counts streams) */
    sse_open(&c, channel, NULL, 0);
    assert_int_equal(c.head.status, 429);
    close(c.fd);

    /* a stream that stops reading is cut off past --max-queue; a keeps its stream */
    close(b.fd);
    assert_true(oocsi_hub_wait_client_gone(it_hub, h2, TMO));
    sse slow;
    char hs[256];
    sse_open(&slow, channel, NULL, 4096);
    assert_int_equal(slow.head.status, 200);
    char ev[512];
    assert_int_equal(sse_next(&slow, ev, sizeof ev, TMO), 1);
    const char *as = strstr(ev, " as ");
    assert_non_null(as);
    snprintf(hs, sizeof hs, "%s", as + 4);
    assert_true(oocsi_hub_wait_subscribed(it_hub, hs, channel, TMO));
    oocsi_client *sender = it_connect_bg(NULL);
    char pad[2001];
    memset(pad, 'p', 2000);
    pad[2000] = '\0';
    int gone = 0, sent = 0;
    /* small batches, each read by a to its end: a's queue stays short while
     * slow's grows; at most 64 MiB, far past the queue and any socket buffer */
    for (int batch = 0; batch < 3200 && !gone; batch++) {
        for (int i = 0; i < 10; i++, sent++) {
            assert_int_equal(oocsi_send_jsonf(sender, channel, "{\"n\": %d, \"pad\": \"%s\"}", sent, pad), OOCSI_OK);
        }
        for (int last = -1; last != sent - 1;) {
            cJSON *j = sse_json(&a, TMO);
            if (!j) {
                fail_msg("the reading stream lost its messages after %d", last);
            }
            const cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "n");
            last = cJSON_IsNumber(n) ? n->valueint : last;
            cJSON_Delete(j);
        }
        gone = oocsi_hub_wait_client_gone(it_hub, hs, 1);
    }
    assert_true(gone);
    close(slow.fd);
    char path[128];
    snprintf(path, sizeof path, "/send/%s", channel);
    resp r;
    post_json(path, "{\"after\": 1}", &r);
    expect(&r, 200, NULL);
    int seen = 0;
    for (cJSON *j; !seen && (j = sse_json(&a, TMO)) != NULL;) {
        seen = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "after") != NULL;
        cJSON_Delete(j);
    }
    assert_true(seen);
    close(a.fd);
    gw_stop();

    /* --max-clients counts streams: 1 allowed, the second is refused with 503 */
    const char *const extra1[] = {"--max-clients", "1", NULL};
    gw_start(extra1);
    sse_subscribed(&a, channel, h1, sizeof h1);
    sse_open(&c, channel, NULL, 0);
    assert_int_equal(c.head.status, 503);
    close(c.fd);
    close(a.fd);
    gw_stop();

    /* --no-http-api: neither endpoint exists; the page stays */
    const char *const off[] = {"--no-http-api", NULL};
    gw_start_up(NULL, 0, off);
    post_json(path, "{}", &r);
    assert_int_equal(r.status, 404);
    sse_open(&c, channel, NULL, 0);
    assert_int_equal(c.head.status, 404);
    close(c.fd);
    request("GET", "/", "", NULL, &r);
    assert_int_equal(r.status, 200);
    gw_stop();
}

#define GW_TEST(f) cmocka_unit_test_setup_teardown(f, it_test_setup, gw_teardown)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        GW_TEST(test_post_reaches_subscriber),
        GW_TEST(test_post_errors),
        GW_TEST(test_events_stream),
        GW_TEST(test_origin),
        GW_TEST(test_limits),
    };
    return cmocka_run_group_tests_name("integration.gateway_http", tests, it_group_setup, it_group_teardown);
}
