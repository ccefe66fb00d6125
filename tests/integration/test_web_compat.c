/*
 * Integration: the browser side of the gateway (oocsi-gateway, a child
 * process, upstream the in-process hub over TCP) and of the hub's own /ws
 * endpoint behave like the reference web server for the frames the
 * reference web client (oocsi-web.js) sends, checked with raw WebSocket
 * frames:
 *
 *  1. a browser subscribed to its own handle (the web client does that on
 *     every connect) gets each direct message and each call answer once;
 *  2. a payload that is JSON but not an object (text, array, null) is
 *     delivered with an empty data object, from a browser and from a line
 *     client;
 *  3. on SIGTERM the programs send every browser a close frame with status
 *     1001 (going away) before they exit;
 *  4. the hub pings a WebSocket client that sends nothing even while it
 *     streams messages to it, and drops it after the stale timeout;
 *  5. integers beyond 2^53 from a line client reach a browser through the
 *     gateway digit for digit.
 *
 * Every wait is bounded (the support waits, poll() with deadlines).
 */
#include "support.h"
#include "support_ws.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef OOCSI_GATEWAY_PATH
#error "OOCSI_GATEWAY_PATH must name the oocsi-gateway binary"
#endif
#ifndef OOCSI_HUB_PATH
#error "OOCSI_HUB_PATH must name the oocsi-hub binary"
#endif

#define TMO IT_TIMEOUT

/* ------------------------------------------------------------------ the two servers under test */

/* Where a browser connects: the gateway (a child process) or the hub's /ws. */
typedef struct target {
    it_proc *gw; /* NULL: the in-process hub's /ws */
    int port;
} target;

static it_proc *gateway_start(int *port)
{
    char upstream[64];
    snprintf(upstream, sizeof upstream, "tcp://127.0.0.1:%d", oocsi_hub_port(it_hub));
    it_proc *p = it_proc_startv(OOCSI_GATEWAY_PATH, NULL,
                                (const char *const[]){"--port", "0", "--url", upstream, "--www", "", NULL});
    assert_non_null(p);
    *port = it_proc_port_after(p, "ws://", 10000);
    return p;
}

static void target_open(target *t, int gateway)
{
    memset(t, 0, sizeof *t);
    if (gateway) {
        t->gw = gateway_start(&t->port);
    } else {
        t->port = oocsi_hub_ws_port(it_hub);
    }
}

/* The browser's handshake and welcome. */
static it_ws_peer *browser(const target *t, const char *handle)
{
    it_ws_peer *p = it_ws_peer_connect(t->port, 0);
    assert_non_null(p);
    assert_int_equal(it_ws_handshake(p, t->port, "/ws", NULL), 0);
    it_ws_hello(p, handle);
    return p;
}

static void send_frame(it_ws_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_frame(it_ws_peer *p, const char *fmt, ...)
{
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < (int)sizeof b);
    assert_int_equal(it_ws_send_op(p, 1, b, (size_t)n), 0);
}

/* subscribe, and wait until the hub has it. */
static void browser_subscribe(it_ws_peer *p, const char *handle, const char *channel)
{
    send_frame(p, "subscribe %s", channel);
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, channel, TMO));
}

static cJSON *next_json(it_ws_peer *p)
{
    cJSON *j = it_ws_json_within(p, TMO);
    if (!j) {
        fail_msg("no message frame within %d ms", TMO);
    }
    return j;
}

static const cJSON *data_of(const cJSON *j)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    assert_true(cJSON_IsObject(d));
    return d;
}

/* Reads message frames until one whose data has "marker": the number of
 * frames before it whose data has key "key" (each message once: 1). */
static int copies_before_marker(it_ws_peer *p, const char *key)
{
    int copies = 0;
    while (1) {
        cJSON *j = next_json(p);
        const cJSON *d = data_of(j);
        int done = cJSON_HasObjectItem(d, "marker");
        copies += cJSON_HasObjectItem(d, key);
        cJSON_Delete(j);
        if (done) {
            return copies;
        }
    }
}

/* ------------------------------------------------------------------ 1: direct messages once */

static void responder_add(oocsi_client *c, const oocsi_message *req, cJSON *resp, void *user)
{
    (void)c;
    (void)user;
    int64_t x = 0;
    oocsi_message_get_int(req, "x", &x);
    cJSON_AddNumberToObject(resp, "answer", (double)(x + 1));
}

static void direct_once(int gateway)
{
    target t;
    target_open(&t, gateway);
    char h[64], peer_h[64], lib_h[64], calls[64], barrier[64];
    it_unique(barrier, sizeof barrier, "dupbarrier");
    it_unique(h, sizeof h, "dup");
    it_unique(peer_h, sizeof peer_h, "duppeer");
    it_unique(lib_h, sizeof lib_h, "duplib");
    it_unique(calls, sizeof calls, "dupcalls");
    it_ws_peer *p = browser(&t, h);
    browser_subscribe(p, h, h); /* what oocsi-web.js does after every welcome */
    /* commands run in order: once the hub has this one, the one above is done */
    browser_subscribe(p, h, barrier);

    /* a raw line peer's direct message, then a marker */
    it_raw *r = it_raw_connect(oocsi_hub_port(it_hub), peer_h);
    assert_non_null(r);
    assert_int_equal(it_raw_send(r, "sendraw %s {\"x\":1}", h), 0);
    assert_int_equal(it_raw_send(r, "sendraw %s {\"marker\":1}", h), 0);
    assert_int_equal(copies_before_marker(p, "x"), 1);

    /* a library client's direct message */
    oocsi_client *c = it_connect_bg(lib_h);
    assert_int_equal(oocsi_send_json(c, h, "{\"y\":2}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(c, h, "{\"marker\":2}"), OOCSI_OK);
    assert_int_equal(copies_before_marker(p, "y"), 1);

    /* a call from the browser: the answer comes back to its handle, once */
    assert_int_equal(oocsi_register(c, calls, "add", responder_add, NULL), OOCSI_OK);
    send_frame(p, "sendjson %s {\"_MESSAGE_HANDLE\":\"add\",\"_MESSAGE_ID\":\"id-1\",\"x\":41}", calls);
    cJSON *j = next_json(p);
    const cJSON *d = data_of(j);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "_MESSAGE_ID")), "id-1");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(d, "answer")->valueint, 42);
    cJSON_Delete(j);
    assert_int_equal(oocsi_send_json(c, h, "{\"marker\":3}"), OOCSI_OK);
    assert_int_equal(copies_before_marker(p, "answer"), 0);

    it_ws_peer_close(p);
}

static void test_gateway_direct_once(void **state)
{
    (void)state;
    direct_once(1);
}

static void test_hub_ws_direct_once(void **state)
{
    (void)state;
    direct_once(0);
}

/* ------------------------------------------------------------------ 2: payloads that are not objects */

static void non_object_payloads(int gateway)
{
    target t;
    target_open(&t, gateway);
    char h[64], sub_h[64], line_h[64], ch[64];
    it_unique(h, sizeof h, "nobj");
    it_unique(sub_h, sizeof sub_h, "nobjsub");
    it_unique(line_h, sizeof line_h, "nobjline");
    it_unique(ch, sizeof ch, "nobjch");
    it_ws_peer *p = browser(&t, h);
    it_ws_peer *s = browser(&t, sub_h);
    browser_subscribe(s, sub_h, ch);
    it_raw *r = it_raw_connect(oocsi_hub_port(it_hub), line_h);
    assert_non_null(r);
    assert_int_equal(it_raw_subscribe(r, ch), 0);

    /* from a browser: delivered with an empty object, to browsers and line clients */
    const char *payloads[] = {"\"text\"", "[1,2]", "null", "42", "true"};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        send_frame(p, "sendjson %s %s", ch, payloads[i]);
        cJSON *j = next_json(s);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "sender")), h);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "recipient")), ch);
        IT_ASSERT_JSON(data_of(j), "{}");
        cJSON_Delete(j);
        j = it_raw_next_json(r, TMO);
        assert_non_null(j);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "sender")), h);
        assert_null(cJSON_GetObjectItemCaseSensitive(j, "data"));
        cJSON_Delete(j);
    }

    /* from a line client (sendraw): the browser gets it too, as the hub's
     * line protocol delivers it ({"data": the raw text}) */
    assert_int_equal(it_raw_send(r, "sendraw %s \"text\"", ch), 0);
    cJSON *j = next_json(s);
    IT_ASSERT_JSON(data_of(j), "{\"data\":\"\\\"text\\\"\"}");
    cJSON_Delete(j);
    assert_int_equal(it_raw_send(r, "sendraw %s [1,2]", ch), 0);
    j = next_json(s);
    IT_ASSERT_JSON(data_of(j), "{\"data\":\"[1,2]\"}");
    cJSON_Delete(j);

    it_ws_peer_close(p);
    it_ws_peer_close(s);
}

static void test_gateway_non_object(void **state)
{
    (void)state;
    non_object_payloads(1);
}

static void test_hub_ws_non_object(void **state)
{
    (void)state;
    non_object_payloads(0);
}

/* ------------------------------------------------------------------ 3: SIGTERM sends 1001 */

/* A browser of the program prog (started, port known) gets a close frame
 * with status 1001 when the program is sent SIGTERM, and the program exits 0. */
static void going_away(it_proc *prog, int port, const char *handle)
{
    it_ws_peer *p = it_ws_peer_connect(port, 0);
    assert_non_null(p);
    assert_int_equal(it_ws_handshake(p, port, "/ws", NULL), 0);
    it_ws_hello(p, handle);
    assert_int_equal(kill(prog->pid, SIGTERM), 0);
    assert_int_equal(it_ws_recv_close(p, 10000), 1001);
    assert_int_equal(it_proc_wait_exit(prog, 15000), 0);
    it_ws_peer_close(p);
}

static void test_gateway_sigterm(void **state)
{
    (void)state;
    int port;
    it_proc *g = gateway_start(&port);
    char h[64];
    it_unique(h, sizeof h, "bye_gw");
    going_away(g, port, h);
}

static void test_hub_sigterm(void **state)
{
    (void)state;
    it_proc *hub = it_proc_startv(OOCSI_HUB_PATH, NULL, (const char *const[]){"--port", "0", "--ws-port", "0", NULL});
    assert_non_null(hub);
    int port = it_proc_port_after(hub, "ws://", 10000);
    going_away(hub, port, "bye_hub");
}

/* ------------------------------------------------------------------ 4: pings under a stream */

static void test_hub_ws_ping_while_streaming(void **state)
{
    (void)state;
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ws_port = 0;
    o.ping_interval_ms = 50;
    o.stale_timeout_ms = 1000;
    oocsi_hub *h = it_hub_start_extra(&o, NULL, 0);
    assert_non_null(h);
    it_ws_peer *p = it_ws_peer_connect(oocsi_hub_ws_port(h), 0);
    assert_non_null(p);
    assert_int_equal(it_ws_handshake(p, oocsi_hub_ws_port(h), "/ws", NULL), 0);
    it_ws_hello(p, "mute_ws");
    it_raw *r = it_raw_connect(oocsi_hub_port(h), "streamer");
    assert_non_null(r);

    /* one message at a time, each read before the next is sent: the
     * browser always has fresh traffic but never answers a ping */
    int pings = 0, closed = 0;
    int64_t dl = it_now_ms() + 20000;
    for (int i = 0; !closed && it_now_ms() < dl; i++) {
        assert_int_equal(it_raw_send(r, "sendraw mute_ws {\"i\":%d}", i), 0);
        while (1) {
            char *m = it_ws_recv(p, TMO, &closed);
            if (!m) {
                assert_true(closed); /* else: a message did not arrive in time */
                break;
            }
            int is_ping = !strcmp(m, "ping");
            int is_msg = strstr(m, "\"i\"") != NULL;
            pings += is_ping;
            free(m);
            if (is_msg) {
                break;
            }
        }
    }
    assert_true(pings > 0);
    assert_true(closed); /* dropped as stale although it received all the time */
    assert_int_equal(oocsi_hub_wait_client_gone(h, "mute_ws", TMO), 1);
    it_ws_peer_close(p);
    it_raw_close(r);
    oocsi_hub_free(h);
}

/* ------------------------------------------------------------------ 5: exact integers */

static void test_gateway_exact_integers(void **state)
{
    (void)state;
    target t;
    target_open(&t, 1);
    char h[64], peer_h[64];
    it_unique(h, sizeof h, "exact");
    it_unique(peer_h, sizeof peer_h, "exactpeer");
    it_ws_peer *p = browser(&t, h);
    browser_subscribe(p, h, h);
    it_raw *r = it_raw_connect(oocsi_hub_port(it_hub), peer_h);
    assert_non_null(r);
    assert_int_equal(it_raw_send(r, "sendraw %s {\"n\":9007199254740993,\"a\":[-9223372036854775807,1.5]}", h), 0);
    int closed = 0;
    char *m = it_ws_recv(p, TMO, &closed);
    assert_non_null(m);
    /* a double would have made these 9007199254740992 and -9223372036854775808 */
    assert_non_null(strstr(m, "\"data\":{\"a\":[-9223372036854775807,1.5],\"n\":9007199254740993}"));
    free(m);
    it_raw_close(r);
    it_ws_peer_close(p);
}

static int group_setup(void **state)
{
    (void)state;
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ws_port = 0;
    return it_hub_start(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_gateway_direct_once),
        IT_TEST(test_hub_ws_direct_once),
        IT_TEST(test_gateway_non_object),
        IT_TEST(test_hub_ws_non_object),
        IT_TEST(test_gateway_sigterm),
        IT_TEST(test_hub_sigterm),
        IT_TEST(test_hub_ws_ping_while_streaming),
        IT_TEST(test_gateway_exact_integers),
    };
    return cmocka_run_group_tests(tests, group_setup, it_group_teardown);
}
