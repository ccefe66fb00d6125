/*
 * The hub's WebSocket endpoint against web pages of other sites: an upgrade
 * with a foreign Origin gets HTTP 403 (any page could otherwise use a local
 * hub), local and same-host pages and non-browser clients are accepted,
 * --allow-origin adds origins; binary frames are not run as commands.
 * Raw WebSocket peers (support_ws.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "support_ws.h"

static oocsi_hub *start(const char *allow)
{
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.ws_port = 0;
    ho.ping_interval_ms = 600000;
    ho.allow_origins = allow;
    oocsi_hub *h = oocsi_hub_start(&ho);
    assert_non_null(h);
    return h;
}

/* The status code of the answer to an upgrade with these Origin and Host
 * headers (NULL: no header); 0 if the connection closed without an answer. */
static int upgrade_status(int port, const char *origin, const char *host)
{
    it_ws_peer *p = it_ws_peer_connect(port, 0);
    assert_non_null(p);
    char req[512], hostbuf[64];
    if (!host) {
        snprintf(hostbuf, sizeof hostbuf, "127.0.0.1:%d", port);
        host = hostbuf;
    }
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s%s%s"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     host, origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "");
    assert_true(n > 0 && n < (int)sizeof req);
    assert_int_equal(it_ws_peer_write(p, req, (size_t)n), 0);
    int64_t dl = it_now_ms() + IT_TIMEOUT;
    while (p->len < 12 || !memchr(p->buf, '\n', p->len)) {
        if (it_ws_peer_fill(p, dl) <= 0) {
            break;
        }
    }
    int status = 0;
    if (p->len >= 12 && !strncmp(p->buf, "HTTP/1.", 7)) { /* lws answers a refusal with HTTP/1.0 */
        status = atoi(p->buf + 9);
    }
    it_ws_peer_close(p);
    return status;
}

static void foreign_origins_get_403(void **state)
{
    (void)state;
    oocsi_hub *h = start(NULL);
    int port = oocsi_hub_ws_port(h);
    char same[64];
    snprintf(same, sizeof same, "http://127.0.0.1:%d", port);
    /* accepted: no Origin (not a browser), local pages, the hub's own pages */
    assert_int_equal(upgrade_status(port, NULL, NULL), 101);
    assert_int_equal(upgrade_status(port, "http://localhost:8080", NULL), 101);
    assert_int_equal(upgrade_status(port, "http://127.0.0.1", NULL), 101);
    assert_int_equal(upgrade_status(port, "https://[::1]:3000", NULL), 101);
    assert_int_equal(upgrade_status(port, same, NULL), 101);
    assert_int_equal(upgrade_status(port, "http://hub.lan:4447", "hub.lan:4447"), 101);
    /* refused: any other site, look-alikes, sandboxed pages */
    assert_int_equal(upgrade_status(port, "https://evil.example", NULL), 403);
    assert_int_equal(upgrade_status(port, "http://localhost.evil.example", NULL), 403);
    assert_int_equal(upgrade_status(port, "http://127.0.0.1.evil.example:80", NULL), 403);
    assert_int_equal(upgrade_status(port, "null", NULL), 403);
    assert_int_equal(upgrade_status(port, "http://hub.lan:4447", "other.lan:4447"), 403);
    oocsi_hub_free(h);
}

static void allow_origin_adds_origins(void **state)
{
    (void)state;
    oocsi_hub *h = start("https://app.example,http://dev.example:8000/");
    int port = oocsi_hub_ws_port(h);
    assert_int_equal(upgrade_status(port, "https://app.example", NULL), 101);
    assert_int_equal(upgrade_status(port, "HTTPS://APP.example", NULL), 101);
    assert_int_equal(upgrade_status(port, "http://dev.example:8000", NULL), 101);
    assert_int_equal(upgrade_status(port, "http://app.example", NULL), 403);
    assert_int_equal(upgrade_status(port, "https://app.example.evil", NULL), 403);
    assert_int_equal(upgrade_status(port, "http://localhost", NULL), 101);
    oocsi_hub_free(h);
    h = start("*");
    assert_int_equal(upgrade_status(oocsi_hub_ws_port(h), "https://anything.example", NULL), 101);
    oocsi_hub_free(h);
}

/* A binary frame with a command in it used to be run like a text frame. */
static void binary_frames_are_not_commands(void **state)
{
    (void)state;
    oocsi_hub *h = start(NULL);
    int port = oocsi_hub_ws_port(h);
    it_ws_peer *a = it_ws_peer_connect(port, 0);
    it_ws_peer *b = it_ws_peer_connect(port, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(it_ws_handshake(a, port, "/ws", NULL), 0);
    assert_int_equal(it_ws_handshake(b, port, "/ws", NULL), 0);
    it_ws_hello(a, "wa");
    it_ws_hello(b, "wb");
    const char *sub = "subscribe room";
    assert_int_equal(it_ws_send_op(a, 1, sub, strlen(sub)), 0);
    assert_int_equal(oocsi_hub_wait_subscribed(h, "wa", "room", IT_TIMEOUT), 1);
    const char *bin = "sendjson room {\"n\":1}";
    assert_int_equal(it_ws_send_op(b, 2, bin, strlen(bin)), 0);
    const char *bsub = "subscribe other";
    assert_int_equal(it_ws_send_op(b, 2, bsub, strlen(bsub)), 0);
    const char *txt = "sendjson room {\"n\":2}";
    assert_int_equal(it_ws_send_op(b, 1, txt, strlen(txt)), 0);
    /* the text message is the first (and only) one to arrive */
    cJSON *m = it_ws_json_within(a, IT_TIMEOUT);
    assert_non_null(m);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(m, "data");
    assert_non_null(data);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(data, "n")->valueint, 2);
    cJSON_Delete(m);
    assert_int_equal(oocsi_hub_wait_subscribed(h, "wb", "other", 0), 0);
    it_ws_peer_close(a);
    it_ws_peer_close(b);
    oocsi_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(foreign_origins_get_403),
        IT_TEST(allow_origin_adds_origins),
        IT_TEST(binary_frames_are_not_commands),
    };
    return cmocka_run_group_tests_name("hub_origin", tests, it_group_setup, it_group_teardown);
}
