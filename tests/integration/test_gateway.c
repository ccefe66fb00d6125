/*
 * Integration: oocsi-gateway (examples/gateway) as a child process between
 * browsers and the in-process hub.
 *
 *  1. headless Chromium opens the gateway's own page (the console), joins a
 *     channel and exchanges messages and a call with a C client on the hub
 *     over TCP; the console's stream, call answer and reconnect state are
 *     checked through what it reports (skipped, with a message, where
 *     Chromium is not installed);
 *  2. a hand-written WebSocket client speaks the web JSON protocol through the
 *     gateway: welcome, subscribe, unsubscribe, messages both ways, direct
 *     messages, calls both ways, taken handle;
 *  3. flood: many browsers, a frame over the limit, a browser that does not
 *     read, connections past the client limit: only the offenders are cut,
 *     the others keep working, the gateway's RSS stays bounded;
 *  4. the hub restarts: every browser keeps its WebSocket and receives again.
 *
 * Every wait is bounded (poll() with deadlines, the support waits); the
 * gateway must exit 0 on SIGTERM (under ASan that includes no leaks).
 */
#define _XOPEN_SOURCE 700
#include "support.h"
#include "support_gateway.h"
#include "support_ws.h"
#ifdef OOCSI_GATEWAY_TEST_TLS
#include "support_certs.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef OOCSI_GATEWAY_PATH
#error "OOCSI_GATEWAY_PATH must name the oocsi-gateway binary"
#endif
#ifndef OOCSI_GATEWAY_WWW_DIR
#error "OOCSI_GATEWAY_WWW_DIR must name examples/gateway/www"
#endif

#define TMO IT_TIMEOUT

/* ------------------------------------------------------------------ the gateway process */

typedef it_gw gw;

typedef struct delivered_ctx {
    unsigned long long before;
} delivered_ctx;

static int hub_delivered_more(void *p)
{
    return oocsi_hub_delivered(it_hub) > ((delivered_ctx *)p)->before;
}

static int gw_teardown(void **state)
{
    it_gw_kill_all();
    return it_test_teardown(state);
}

/* Starts the gateway on an ephemeral port with upstream the hub's TCP port
 * (unless extra names its own) plus extra arguments (NULL-terminated). */
static void gw_start(gw *g, const char *const *extra)
{
    char upstream[64];
    snprintf(upstream, sizeof upstream, "tcp://127.0.0.1:%d", oocsi_hub_port(it_hub));
    const char *args[40];
    int n = 0;
    args[n++] = "--port";
    args[n++] = "0";
    int own_upstream = 0;
    for (int i = 0; extra && extra[i]; i++) {
        own_upstream |= !strcmp(extra[i], "--upstream");
    }
    if (!own_upstream) {
        args[n++] = "--upstream";
        args[n++] = upstream;
    }
    args[n++] = "--www";
    args[n++] = OOCSI_GATEWAY_WWW_DIR;
    args[n++] = "--ping-interval";
    args[n++] = "1000";
    for (int i = 0; extra && extra[i] && n < 39; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    it_gw_start(g, OOCSI_GATEWAY_PATH, args);
}

static void gw_stop(gw *g)
{
    it_gw_stop(g);
}

static long gw_rss_kb(const gw *g)
{
    return it_gw_rss_kb(g);
}

/* ------------------------------------------------------------------ a minimal WebSocket client */

/* support_ws.h, not strict: the gateway may close a connection on purpose. */
typedef it_ws_peer peer;

static void peer_close(peer *p)
{
    it_ws_peer_close(p);
}

/* The upgrade request at /ws (RFC 6455 sample key); NULL if refused. */
static peer *ws_open_origin(int port, const char *origin, int rcvbuf)
{
    peer *p = it_ws_peer_connect(port, rcvbuf);
    if (p && it_ws_handshake(p, port, "/ws", origin) != 0) {
        it_ws_peer_close(p);
        p = NULL;
    }
    return p;
}

static peer *ws_open(int port)
{
    return ws_open_origin(port, NULL, 0);
}

static int ws_send_op(peer *p, int opcode, const char *s, size_t n)
{
    return it_ws_send_op(p, opcode, s, n);
}

static void ws_send(peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ws_send(peer *p, const char *fmt, ...)
{
    char b[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < (int)sizeof b);
    assert_int_equal(ws_send_op(p, 1, b, (size_t)n), 0);
}

/* Next text message (malloc'd); NULL on timeout (*closed 0) or close/EOF (*closed 1). */
static char *ws_recv(peer *p, int timeout_ms, int *closed)
{
    return it_ws_recv(p, timeout_ms, closed);
}

static void expect_frame(peer *p, const char *expected)
{
    it_ws_expect_frame(p, expected);
}

/* The connection closes within the timeout (messages before are skipped). */
static int wait_closed(peer *p, int timeout_ms)
{
    int64_t dl = it_now_ms() + timeout_ms;
    while (it_now_ms() < dl) {
        int closed;
        char *m = ws_recv(p, (int)(dl - it_now_ms()), &closed);
        free(m);
        if (!m && closed) {
            return 1;
        }
    }
    return 0;
}

static peer *ws_client(int port, const char *handle)
{
    peer *p = ws_open(port);
    assert_non_null(p);
    it_ws_hello(p, handle);
    return p;
}

/* Next message frame as JSON, answering "ping" with "."; NULL on timeout. */
static cJSON *ws_json_within(peer *p, int timeout_ms)
{
    return it_ws_json_within(p, timeout_ms);
}

static cJSON *ws_json(peer *p)
{
    cJSON *j = ws_json_within(p, TMO);
    if (!j) {
        fail_msg("no message frame within %d ms", TMO);
    }
    return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Subscribes through the gateway and waits until the hub has it. */
static void ws_subscribe(peer *p, const char *handle, const char *channel)
{
    ws_send(p, "subscribe %s", channel);
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, channel, TMO));
}

/* ------------------------------------------------------------------ 2: the protocol through the gateway */

static void responder_add(oocsi_client *c, const oocsi_message *req, cJSON *resp, void *user)
{
    (void)c;
    (void)user;
    int64_t x = 0;
    oocsi_message_get_int(req, "x", &x);
    cJSON_AddNumberToObject(resp, "answer", (double)(x + 21));
}

typedef struct call_box {
    int done;
    cJSON *data;
} call_box;

static void on_call_result(oocsi_client *c, const oocsi_message *resp, void *user)
{
    (void)c;
    call_box *b = user;
    b->data = resp ? cJSON_Duplicate(oocsi_message_data(resp), 1) : NULL;
    __atomic_store_n(&b->done, 1, __ATOMIC_SEQ_CST);
    it_notify();
}

static int call_done(void *ctx)
{
    return __atomic_load_n(&((call_box *)ctx)->done, __ATOMIC_SEQ_CST);
}

static void test_protocol(void **state)
{
    (void)state;
    gw g;
    gw_start(&g, NULL);
    char h[64], ch[64], cname[64], calls[64];
    it_unique(h, sizeof h, "gwweb");
    it_unique(ch, sizeof ch, "gwchan");
    it_unique(calls, sizeof calls, "gwcalls");
    it_unique(cname, sizeof cname, "gwc");

    peer *p = ws_client(g.port, h);
    oocsi_client *c = it_connect_bg(cname);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    ws_subscribe(p, h, ch);

    /* C -> browser on the channel: the web JSON frame */
    assert_int_equal(oocsi_send_json(c, ch, "{\"n\":1,\"b\":\"x\"}"), OOCSI_OK);
    cJSON *j = ws_json(p);
    assert_string_equal(jstr(j, "recipient"), ch);
    assert_string_equal(jstr(j, "sender"), cname);
    assert_true(jnum(j, "timestamp") > 0);
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(j, "data"), "{\"n\":1,\"b\":\"x\"}");
    cJSON_Delete(j);

    /* browser -> C on the channel, and a direct message */
    ws_send(p, "sendjson %s {\"from\":\"ws\",\"k\":[1,2]}", ch);
    assert_true(it_inbox_wait_str(in, "from", "ws", TMO) >= 0);
    assert_string_equal(it_inbox_at(in, 0)->sender, h);
    assert_int_equal(oocsi_send_json(c, h, "{\"direct\":true}"), OOCSI_OK);
    j = ws_json(p);
    assert_string_equal(jstr(j, "recipient"), h);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"), "direct")));
    cJSON_Delete(j);

    /* a call from the browser to a C responder: the response comes back directly */
    assert_int_equal(oocsi_register(c, calls, "add", responder_add, NULL), OOCSI_OK);
    ws_send(p, "sendjson %s {\"_MESSAGE_HANDLE\":\"add\",\"_MESSAGE_ID\":\"id-1\",\"x\":21}", calls);
    j = ws_json(p);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    assert_string_equal(jstr(j, "recipient"), h);
    assert_string_equal(jstr(d, "_MESSAGE_ID"), "id-1");
    assert_int_equal((int)jnum(d, "answer"), 42);
    cJSON_Delete(j);

    /* a call from C answered by the browser */
    char rch[64];
    it_unique(rch, sizeof rch, "gwresp");
    ws_subscribe(p, h, rch);
    call_box box = {0, NULL};
    cJSON *req = it_json("{\"v\":4}");
    assert_int_equal(oocsi_call(c, rch, "twice", req, TMO, on_call_result, &box), OOCSI_OK);
    cJSON_Delete(req);
    j = ws_json(p);
    d = cJSON_GetObjectItemCaseSensitive(j, "data");
    assert_string_equal(jstr(d, "_MESSAGE_HANDLE"), "twice");
    ws_send(p, "sendjson %s {\"_MESSAGE_ID\":\"%s\",\"v\":8}", jstr(j, "sender"), jstr(d, "_MESSAGE_ID"));
    cJSON_Delete(j);
    assert_true(it_wait_until(call_done, &box, TMO));
    assert_non_null(box.data);
    assert_int_equal((int)jnum(box.data, "v"), 8);
    cJSON_Delete(box.data);

    /* unsubscribe: channel messages stop, direct ones still arrive (in order) */
    ws_send(p, "unsubscribe %s", ch);
    ws_send(p, "sendjson %s {\"barrier\":1}", h); /* processed after the unsubscribe */
    j = ws_json(p);
    assert_int_equal((int)jnum(cJSON_GetObjectItemCaseSensitive(j, "data"), "barrier"), 1);
    cJSON_Delete(j);
    assert_int_equal(oocsi_send_json(c, ch, "{\"lost\":1}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(c, h, "{\"after\":1}"), OOCSI_OK);
    j = ws_json(p);
    assert_int_equal((int)jnum(cJSON_GetObjectItemCaseSensitive(j, "data"), "after"), 1);
    cJSON_Delete(j);

    /* the handle is taken: error frame, then the gateway closes */
    peer *q = ws_open(g.port);
    assert_non_null(q);
    ws_send(q, "%s", h);
    char err[256];
    snprintf(err, sizeof err, "{\"message\" : \"ERROR: client %s exists already\"}", h);
    expect_frame(q, err);
    assert_true(wait_closed(q, TMO));
    peer_close(q);

    /* a disallowed Origin is refused when origins are configured */
    gw g2;
    const char *const extra[] = {"--origin", "http://good.example", "--ping-interval", "100", "--idle-timeout", "500",
                                 NULL};
    gw_start(&g2, extra);
    q = ws_open_origin(g2.port, "http://evil.example", 0);
    assert_null(q);
    q = ws_open_origin(g2.port, "http://good.example", 0);
    assert_non_null(q);
    /* ... and a browser that stays silent past --idle-timeout is closed */
    assert_true(wait_closed(q, TMO));
    peer_close(q);
    gw_stop(&g2);

    /* closing the WebSocket ends the upstream client */
    peer_close(p);
    assert_true(oocsi_hub_wait_client_gone(it_hub, h, TMO));
    gw_stop(&g);
}

/* ------------------------------------------------------------------ 3: flood */

#define GOOD 20

static void test_flood(void **state)
{
    (void)state;
    gw g;
    const char *const extra[] = {"--max-clients", "24", "--max-per-address", "24", "--max-frame", "8192", "--max-queue",
                                 "65536",         NULL};
    gw_start(&g, extra);
    char ch[64], fch[64], cname[64];
    it_unique(ch, sizeof ch, "gwflood");
    it_unique(fch, sizeof fch, "gwfloodbig");
    it_unique(cname, sizeof cname, "gwfloodc");
    oocsi_client *c = it_connect_bg(cname);

    static char handles[GOOD][64];
    peer *good[GOOD];
    for (int i = 0; i < GOOD; i++) {
        it_unique(handles[i], sizeof handles[i], "gwgood");
        good[i] = ws_client(g.port, handles[i]);
        ws_subscribe(good[i], handles[i], ch);
    }
    long rss0 = gw_rss_kb(&g);
    assert_true(rss0 > 0);

    /* past the client limit: upgrades refused */
    peer *extra_p[10];
    int accepted = 0;
    for (int i = 0; i < 10; i++) {
        extra_p[i] = ws_open(g.port);
        accepted += extra_p[i] != NULL;
    }
    assert_int_equal(accepted, 24 - GOOD);
    for (int i = 0; i < 10; i++) {
        peer_close(extra_p[i]);
    }

    /* offenders (retrying while the extras' slots free up) */
    peer *big = NULL, *slow = NULL;
    for (int64_t dl = it_now_ms() + TMO; !big && it_now_ms() < dl;) {
        big = ws_open(g.port); /* refused until the gateway has seen the extras close */
    }
    assert_non_null(big);
    for (int64_t dl = it_now_ms() + TMO; !slow && it_now_ms() < dl;) {
        slow = ws_open_origin(g.port, NULL, 4096);
    }
    assert_non_null(slow);

    /* a frame over --max-frame: cut off */
    char bh[64];
    it_unique(bh, sizeof bh, "gwbig");
    ws_send(big, "%s", bh);
    size_t n = 1u << 20;
    char *huge = malloc(n);
    assert_non_null(huge);
    memset(huge, 'a', n);
    memcpy(huge, "sendjson x ", 11);
    ws_send_op(big, 1, huge, n); /* may fail midway: the gateway closes */
    free(huge);
    assert_true(wait_closed(big, TMO));
    peer_close(big);

    /* a browser that does not read while its channel floods: cut off at the queue bound */
    char sh[64];
    it_unique(sh, sizeof sh, "gwslow");
    ws_send(slow, "%s", sh);
    ws_subscribe(slow, sh, fch);
    char *blob = malloc(4096 + 64);
    assert_non_null(blob);
    snprintf(blob, 64, "{\"i\":0,\"pad\":\"");
    size_t bl = strlen(blob);
    memset(blob + bl, 'p', 4000);
    strcpy(blob + bl + 4000, "\"}");
    int sent = 0;
    for (int i = 0; i < 3000 && oocsi_hub_wait_client(it_hub, sh, 0); i++) {
        int rc = oocsi_send_json(c, fch, blob);
        if (rc == OOCSI_ERR_QUEUE_FULL) {
            /* our own outgoing buffer is full: wait for the hub to take more */
            unsigned long long before = oocsi_hub_delivered(it_hub);
            delivered_ctx dc = {before};
            (void)it_wait_until(hub_delivered_more, &dc, TMO);
            continue;
        }
        assert_int_equal(rc, OOCSI_OK);
        sent++;
    }
    free(blob);
    assert_true(oocsi_hub_wait_client_gone(it_hub, sh, 20000));
    assert_true(wait_closed(slow, 20000));
    peer_close(slow);

    /* a flood of small frames from one browser: relayed or cut, never harmful */
    peer *spam = NULL;
    for (int64_t dl = it_now_ms() + TMO; !spam && it_now_ms() < dl;) {
        spam = ws_open(g.port);
    }
    assert_non_null(spam);
    char sph[64];
    it_unique(sph, sizeof sph, "gwspam");
    ws_send(spam, "%s", sph);
    for (int i = 0; i < 20000; i++) {
        if (ws_send_op(spam, 1, "subscribe nowhere_at_all", 24) != 0) {
            break;
        }
    }
    peer_close(spam);

    /* everyone else still works */
    assert_int_equal(oocsi_send_json(c, ch, "{\"still\":\"here\"}"), OOCSI_OK);
    for (int i = 0; i < GOOD; i++) {
        cJSON *j = ws_json(good[i]);
        assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "data"), "still"), "here");
        cJSON_Delete(j);
        ws_send(good[i], "sendjson %s {\"back\":%d}", cname, i);
    }
    long rss1 = gw_rss_kb(&g);
    print_message("gateway RSS: %ld kB before the flood, %ld kB after (%d big messages sent)\n", rss0, rss1, sent);
    assert_true(rss1 < rss0 + 48 * 1024);
    for (int i = 0; i < GOOD; i++) {
        peer_close(good[i]);
    }
    gw_stop(&g);
}

/* ------------------------------------------------------------------ 4: upstream restart */

static void test_upstream_restart(void **state)
{
    (void)state;
    gw g;
    gw_start(&g, NULL);
    char h[64], ch[64], cname[64];
    it_unique(h, sizeof h, "gwrst");
    it_unique(ch, sizeof ch, "gwrstchan");
    it_unique(cname, sizeof cname, "gwrstc");
    peer *p = ws_client(g.port, h);
    ws_subscribe(p, h, ch);
    oocsi_client *c = it_connect_bg(cname);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);

    assert_int_equal(oocsi_hub_stop(it_hub), 0);
    assert_int_equal(oocsi_hub_restart(it_hub), 0);
    /* the gateway's client for the browser comes back with its subscription */
    assert_true(oocsi_hub_wait_subscribed(it_hub, h, ch, 15000));
    assert_true(oocsi_hub_wait_subscribed(it_hub, cname, ch, 15000));

    assert_int_equal(oocsi_send_json(c, ch, "{\"after\":\"restart\"}"), OOCSI_OK);
    cJSON *j = ws_json(p); /* same WebSocket: it was never closed */
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "data"), "after"), "restart");
    cJSON_Delete(j);
    ws_send(p, "sendjson %s {\"from\":\"ws after restart\"}", ch);
    assert_true(it_inbox_wait_str(in, "from", "ws after restart", TMO) >= 0);
    gw_stop(&g); /* with the browser still connected */
    peer_close(p);
}

/* ------------------------------------------------------------------ 5: TLS on both sides */

#ifdef OOCSI_GATEWAY_TEST_TLS
/* The gateway serves wss with --cert; upstream it fails over from a dead
 * tcp endpoint to the hub's tls endpoint. The "browser" is liboocsi itself
 * over wss (it speaks the web JSON protocol too). */
static void test_tls(void **state)
{
    (void)state;
    it_certs certs;
    assert_int_equal(it_certs_make(&certs), 0);
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.tls_port = 0;
    ho.cert_file = certs.cert_file;
    ho.key_file = certs.key_file;
    oocsi_hub *hub = oocsi_hub_start(&ho);
    assert_non_null(hub);
    char dead[64], tls[64], tcp[64], wss[96];
    snprintf(dead, sizeof dead, "tcp://127.0.0.1:%d", it_free_port());
    snprintf(tls, sizeof tls, "tls://localhost:%d", oocsi_hub_tls_port(hub));
    snprintf(tcp, sizeof tcp, "tcp://127.0.0.1:%d", oocsi_hub_port(hub));
    gw g;
    const char *const extra[] = {"--upstream",    dead,    "--upstream",   tls, "--ca", certs.ca_file, "--cert",
                                 certs.cert_file, "--key", certs.key_file, NULL};
    gw_start(&g, extra);
    snprintf(wss, sizeof wss, "wss://localhost:%d/ws", g.port);

    char h[64], ch[64], cname[64];
    it_unique(h, sizeof h, "gwtls");
    it_unique(ch, sizeof ch, "gwtlschan");
    it_unique(cname, sizeof cname, "gwtlsc");
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_set_handle(o, h), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, wss), OOCSI_OK);
    assert_int_equal(oocsi_options_set_tls_ca_file(o, certs.ca_file), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    oocsi_client *web = it_connect_opts(o);
    it_loop_start(web);
    assert_string_equal(oocsi_handle(web), h);
    it_inbox *web_in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(web, ch, it_inbox_handler, web_in), OOCSI_OK);
    assert_true(oocsi_hub_wait_subscribed(hub, h, ch, TMO));

    o = oocsi_options_new();
    assert_int_equal(oocsi_options_set_handle(o, cname), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, tcp), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    it_inbox *c_in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, c_in), OOCSI_OK);

    assert_int_equal(oocsi_send_json(c, ch, "{\"to\":\"web\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(web_in, "to", "web", TMO) >= 0);
    assert_int_equal(oocsi_send_json(web, ch, "{\"to\":\"c\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(c_in, "to", "c", TMO) >= 0);

    it_close(web);
    it_close(c);
    gw_stop(&g);
    oocsi_hub_free(hub);
    it_certs_free(&certs);
}
#endif

/* ------------------------------------------------------------------ 1: a real browser */

typedef struct find_ctx {
    it_inbox *in;
    const char *key;
    int n; /* has_echo: of.n; callresult: answer */
} find_ctx;

static int find_cond(void *p)
{
    find_ctx *f = p;
    for (int i = 0; i < it_inbox_count(f->in); i++) {
        const cJSON *d = it_inbox_at(f->in, i)->data;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, f->key);
        if (!strcmp(f->key, "hello") && cJSON_IsString(v) && !strcmp(v->valuestring, "from the browser")) {
            return 1;
        }
        if (!strcmp(f->key, "echo") && cJSON_IsTrue(v) &&
            (int)jnum(cJSON_GetObjectItemCaseSensitive(d, "of"), "n") == f->n) {
            return 1;
        }
        if (!strcmp(f->key, "callresult") && (int)jnum(v, "answer") == f->n) {
            return 1;
        }
    }
    return 0;
}

static void test_browser(void **state)
{
    (void)state;
    const char *exe = it_find_chromium();
    if (!exe) {
        print_message("SKIP: Chromium not found (install the Debian package chromium, or set CHROMIUM=/path)\n");
        skip();
    }
    gw g;
    gw_start(&g, NULL);
    char ch[64], calls[64], cname[64], url[512];
    it_unique(ch, sizeof ch, "gwbrowser");
    it_unique(calls, sizeof calls, "gwbrowsercalls");
    it_unique(cname, sizeof cname, "gwbrowserc");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/?channel=%s&call=add&callchannel=%s", g.port, ch, calls);

    oocsi_client *c = it_connect_bg(cname);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_register(c, calls, "add", responder_add, NULL), OOCSI_OK);

    char profile[] = "/tmp/oocsi-chromium-XXXXXX";
    assert_non_null(mkdtemp(profile));
    pid_t pid = it_browser_start(exe, profile, url);
    assert_true(pid > 0);

    find_ctx hello = {in, "hello", 0};
    int got_hello = it_wait_until(find_cond, &hello, 60000); /* Chromium may start slowly */
    int got_echo = 0, got_call = 0;
    if (got_hello) {
        assert_int_equal(oocsi_send_json(c, ch, "{\"echo\":\"please\",\"n\":7}"), OOCSI_OK);
        find_ctx echo = {in, "echo", 7};
        got_echo = it_wait_until(find_cond, &echo, 30000);
        find_ctx call = {in, "callresult", 42}; /* the page called add with x = 21 */
        got_call = it_wait_until(find_cond, &call, 30000);
    }
    it_browser_stop(pid, profile);
    gw_stop(&g);
    if (!got_hello) {
        fail_msg("no hello from the gateway's page in headless Chromium (browser -> C)");
    }
    if (!got_echo) {
        fail_msg("the page did not echo the C client's message (C -> browser)");
    }
    if (!got_call) {
        fail_msg("the page's call to the C responder was not answered");
    }
}

/* ------------------------------------------------------------------ 1b: the console page */

/* What the console reports (its report= parameter): the text it shows. */
typedef struct shown_want {
    it_inbox *in;
    const char *kind; /* console_row: the row's tag ("you", "direct", "answer", "" for others) */
    const char *from, *to, *data_has;
    const char *call_has; /* console_call: a substring of the call's answer line */
    int joins;            /* console_state: the join that says "connected as" after a reconnect state */
} shown_want;

static int is_clock(const char *t)
{
    static const char shape[] = "dd:dd:dd";
    if (!t || strlen(t) != 8) {
        return 0;
    }
    for (int i = 0; i < 8; i++) {
        if (shape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != ':') {
            return 0;
        }
    }
    return 1;
}

static int shown_state(const cJSON *d, const shown_want *w)
{
    const char *st = jstr(d, "console_state");
    if (!st || (int)jnum(d, "joins") != w->joins || strncmp(st, "connected as gwcons_", 19)) {
        return 0;
    }
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(d, "before"))
    {
        if (cJSON_IsString(b) && strstr(b->valuestring, "reconnecting in")) {
            return 1;
        }
    }
    return 0;
}

static int shown(void *p)
{
    const shown_want *w = p;
    for (int i = 0; i < it_inbox_count(w->in); i++) {
        const cJSON *d = it_inbox_at(w->in, i)->data;
        if (w->joins) {
            if (shown_state(d, w)) {
                return 1;
            }
            continue;
        }
        if (w->call_has) {
            const char *line = jstr(d, "console_call");
            if (line && strstr(line, "answered") && strstr(line, w->call_has)) {
                return 1;
            }
            continue;
        }
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "console_row");
        const char *kind = jstr(r, "kind"), *from = jstr(r, "from"), *to = jstr(r, "to"), *data = jstr(r, "data");
        if (kind && from && to && data && is_clock(jstr(r, "time")) && !strcmp(kind, w->kind) &&
            !strcmp(from, w->from) && !strcmp(to, w->to) && strstr(data, w->data_has)) {
            return 1;
        }
    }
    return 0;
}

static int page_said(void *p)
{
    find_ctx *f = p;
    for (int i = 0; i < it_inbox_count(f->in); i++) {
        const cJSON *d = it_inbox_at(f->in, i)->data;
        const char *from = jstr(d, "from");
        if ((int)jnum(d, "n") == 5 && from && !strcmp(from, "the page")) {
            f->n = i;
            return 1;
        }
    }
    return 0;
}

/* The console page in Chromium, driven by its URL parameters and observed
 * through what it reports (report=): its send form reaches a C client, the C
 * client's channel and direct messages appear in its stream with sender,
 * recipient and time, its own message is shown marked, a call made with its
 * call form shows the answer, and after the gateway restarts on the same port
 * the page has shown "reconnecting" and is connected again by itself. */
static void test_console(void **state)
{
    (void)state;
    const char *exe = it_find_chromium();
    if (!exe) {
        print_message("SKIP: Chromium not found (install the Debian package chromium, or set CHROMIUM=/path)\n");
        skip();
    }
    gw g;
    gw_start(&g, NULL);
    char ch[64], rep[64], calls[64], cname[64], url[1024], port[16];
    it_unique(ch, sizeof ch, "gwcons");
    it_unique(rep, sizeof rep, "gwconsrep");
    it_unique(calls, sizeof calls, "gwconscalls");
    it_unique(cname, sizeof cname, "gwconsc");
    /* '#' unescaped in the middle of the query: the page reads it as part of the handle */
    snprintf(url, sizeof url,
             "http://127.0.0.1:%d/?channel=%s&handle=gwcons_###&report=%s&to=%s&data=n%%3D5+from%%3Dthe%%20page&send"
             "&call=add&callchannel=%s&hello=0",
             g.port, ch, rep, ch, calls);
    snprintf(port, sizeof port, "%d", g.port);

    oocsi_client *c = it_connect_bg(cname);
    it_inbox *in = it_inbox_new(), *seen = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(c, rep, it_inbox_handler, seen), OOCSI_OK);
    assert_int_equal(oocsi_register(c, calls, "add", responder_add, NULL), OOCSI_OK);

    char profile[] = "/tmp/oocsi-chromium-XXXXXX";
    assert_non_null(mkdtemp(profile));
    pid_t pid = it_browser_start(exe, profile, url);
    assert_true(pid > 0);

    const char *failed = NULL;
    char page[64] = "";
    find_ctx said = {in, "n", -1};
    if (!it_wait_until(page_said, &said, 60000)) { /* Chromium may start slowly */
        failed = "the page's send form did not reach the C client (n=5 from=the page)";
    } else {
        snprintf(page, sizeof page, "%s", it_inbox_at(in, said.n)->sender);
        size_t len = strlen(page);
        if (len != 10 || strncmp(page, "gwcons_", 7) || strspn(page + 7, "0123456789") != 3) {
            failed = "the page's handle is not gwcons_ with its ### as digits";
        }
    }
    if (!failed) {
        assert_int_equal(oocsi_send_json(c, ch, "{\"k\":9,\"note\":\"from c\"}"), OOCSI_OK);
        assert_int_equal(oocsi_send_json(c, page, "{\"d\":1}"), OOCSI_OK);
        shown_want rows[] = {
            {seen, "", cname, ch, "\"k\":9", NULL, 0},          {seen, "direct", cname, page, "\"d\":1", NULL, 0},
            {seen, "you", page, ch, "\"n\":5", NULL, 0},        {seen, "answer", cname, page, "\"answer\":42", NULL, 0},
            {seen, NULL, NULL, NULL, NULL, "\"answer\":42", 0},
        };
        static const char *const what[] = {
            "the C client's channel message is not in the page's stream with sender, recipient and time",
            "the C client's direct message is not in the page's stream marked direct",
            "the page's own message is not in its stream marked as its own",
            "the answer to the page's call is not in its stream",
            "the page's call form does not show the answer",
        };
        for (size_t i = 0; !failed && i < sizeof rows / sizeof rows[0]; i++) {
            if (!it_wait_until(shown, &rows[i], 30000)) {
                failed = what[i];
            }
        }
    }
    if (!failed) {
        /* the gateway goes away and comes back on the same port */
        gw_stop(&g);
        const char *const same_port[] = {"--port", port, NULL};
        gw_start(&g, same_port);
        shown_want back = {seen, NULL, NULL, NULL, NULL, NULL, 2};
        if (!it_wait_until(shown, &back, 60000)) {
            failed = "after the gateway restarted the page did not show reconnecting and connect again";
        }
    }
    it_browser_stop(pid, profile);
    gw_stop(&g);
    if (failed) {
        fail_msg("%s", failed);
    }
}

/* --max-clients counts sessions until their upstream client has ended: a
 * browser that opens, says its handle and leaves while the upstream is slow
 * (here: silent) keeps its slot until that worker ends. And one address
 * cannot take more than --max-per-address slots. */
static void test_admission_limits(void **state)
{
    (void)state;
    int silent_port;
    int silent = it_silent_listener(&silent_port);
    char up[64];
    snprintf(up, sizeof up, "tcp://127.0.0.1:%d", silent_port);
    gw g;
    const char *const extra[] = {
        "--upstream", up, "--max-clients", "2", "--connect-timeout", "120000", "--max-per-address", "2", NULL};
    gw_start(&g, extra);
    for (int i = 0; i < 2; i++) {
        peer *p = ws_open(g.port);
        assert_non_null(p);
        ws_send(p, "gwadmit%d", i); /* its worker now waits for the silent upstream */
        peer_close(p);
    }
    /* Observation window: the gateway sees both browsers leave, but their
     * workers still hold the slots; no newcomer gets in. */
    for (int64_t dl = it_now_ms() + 2000; it_now_ms() < dl;) {
        peer *p = ws_open(g.port);
        if (p) {
            peer_close(p);
            fail_msg("a browser got in while 2 upstream workers of gone browsers still ran (--max-clients 2)");
        }
    }
    gw_stop(&g);
    close(silent);

    /* Per address: 2 from 127.0.0.1, the third refused though slots are free. */
    const char *const extra2[] = {"--max-clients", "8", "--max-per-address", "2", NULL};
    gw_start(&g, extra2);
    char h1[64], h2[64];
    it_unique(h1, sizeof h1, "gwaddr");
    it_unique(h2, sizeof h2, "gwaddr");
    peer *a = ws_client(g.port, h1);
    peer *b = ws_client(g.port, h2);
    peer *c = ws_open(g.port);
    if (c)
        peer_close(c);
    assert_null(c);
    peer_close(a);
    peer_close(b);
    gw_stop(&g);
}

#define GW_TEST(f) cmocka_unit_test_setup_teardown(f, it_test_setup, gw_teardown)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        GW_TEST(test_browser), GW_TEST(test_console),          GW_TEST(test_protocol),
        GW_TEST(test_flood),   GW_TEST(test_upstream_restart),
#ifdef OOCSI_GATEWAY_TEST_TLS
        GW_TEST(test_tls),     GW_TEST(test_admission_limits),
#endif
    };
    return cmocka_run_group_tests_name("integration.gateway", tests, it_group_setup, it_group_teardown);
}
