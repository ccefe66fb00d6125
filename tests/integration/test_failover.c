/*
 * Integration: endpoint failover across transports. The endpoint list is
 * tried in order on connect and on every reconnect; oocsi_endpoint() and the
 * state handler say which one is in use; subscriptions follow the client to
 * whichever endpoint it lands on.
 */
#include "support.h"
#include "support_certs.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static it_certs certs;

static int setup(void **state)
{
    (void)state;
    return it_certs_make(&certs) == 0 ? it_group_setup(state) : -1;
}

static int teardown(void **state)
{
    it_certs_free(&certs);
    return it_group_teardown(state);
}

/* A second hub with TCP and WSS endpoints. */
static oocsi_hub *wss_hub(void)
{
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.bind_address = "127.0.0.1";
    ho.wss_port = 0;
    ho.cert_file = certs.cert_file;
    ho.key_file = certs.key_file;
    oocsi_hub *h = oocsi_hub_start(&ho);
    assert_non_null(h);
    return h;
}

static oocsi_options *opts_for(const char *handle, it_states *st)
{
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_set_handle(o, handle), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    assert_int_equal(oocsi_options_set_tls_ca_file(o, certs.ca_file), OOCSI_OK);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 20, 200), OOCSI_OK);
    if (st)
        assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    return o;
}

/* First endpoint refused: the second one is used at once, without waiting
 * for the (long) connect timeout. */
static void test_refused_first_endpoint(void **state)
{
    (void)state;
    char h[64], dead[64], live[64];
    it_unique(h, sizeof h, "fo_refused");
    snprintf(dead, sizeof dead, "tcp://127.0.0.1:%d", it_free_port());
    snprintf(live, sizeof live, "tcp://127.0.0.1:%d", oocsi_hub_port(it_hub));
    oocsi_options *o = opts_for(h, NULL);
    assert_int_equal(oocsi_options_set_connect_timeout(o, IT_LONG_WAIT_MS), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, dead), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, live), OOCSI_OK);
    int64_t t0 = it_now_ms();
    oocsi_client *c = it_connect_opts(o);
    int64_t dt = it_now_ms() - t0;
    assert_string_equal(oocsi_endpoint(c), live);
    if (dt > IT_HANG_MS)
        fail_msg("failover took %lld ms: the refused endpoint held it until the connect timeout", (long long)dt);
    it_close(c);
}

/* First endpoint accepts but never answers (a silent server): the second one
 * is still reached within the connect timeout (the silent one gets its share
 * of the timeout, not all of it: otherwise the connect fails). */
static void test_silent_first_endpoint(void **state)
{
    (void)state;
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(silent, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(silent, 4), 0); /* connections complete in the backlog; nobody reads */
    socklen_t len = sizeof sa;
    getsockname(silent, (struct sockaddr *)&sa, &len);
    char h[64], dead[64], live[64];
    it_unique(h, sizeof h, "fo_silent");
    snprintf(dead, sizeof dead, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
    snprintf(live, sizeof live, "tcp://127.0.0.1:%d", oocsi_hub_port(it_hub));
    oocsi_options *o = opts_for(h, NULL);
    assert_int_equal(oocsi_options_set_connect_timeout(o, 8000 * it_slowdown()), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, dead), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, live), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    assert_string_equal(oocsi_endpoint(c), live);
    it_close(c);
    close(silent);
}

/* A client on TCP loses its server; the only reachable endpoint left is wss
 * on another hub: it continues there, subscriptions restored. */
static void test_tcp_to_wss_on_reconnect(void **state)
{
    (void)state;
    oocsi_hub *b = wss_hub();
    char h[64], ch[64], tcp[64], wss[64];
    it_unique(h, sizeof h, "fo_mover");
    it_unique(ch, sizeof ch, "fo_ch");
    oocsi_hub_options ao;
    oocsi_hub_options_init(&ao);
    ao.bind_address = "127.0.0.1";
    oocsi_hub *a = oocsi_hub_start(&ao);
    assert_non_null(a);
    snprintf(tcp, sizeof tcp, "tcp://127.0.0.1:%d", oocsi_hub_port(a));
    snprintf(wss, sizeof wss, "wss://127.0.0.1:%d/ws", oocsi_hub_wss_port(b));

    it_states *st = it_states_new();
    oocsi_options *o = opts_for(h, st);
    assert_int_equal(oocsi_options_add_endpoint(o, tcp), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, wss), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    assert_int_equal(it_states_settle(st), 1);
    assert_string_equal(it_states_endpoint(st, 0), tcp);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);

    oocsi_hub_stop(a); /* the TCP server goes away for good */
    int off = it_states_wait_for(st, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT);
    assert_true(off >= 1);
    int on = it_states_wait_for(st, off + 1, OOCSI_STATE_CONNECTED, 2 * IT_TIMEOUT);
    assert_true(on > off);
    assert_string_equal(it_states_endpoint(st, on), wss);
    assert_string_equal(oocsi_endpoint(c), wss);
    assert_int_equal(oocsi_hub_wait_subscribed(b, h, ch, IT_TIMEOUT), 1);

    /* A client of hub b (over its plain TCP port) reaches it there. */
    char btcp[64];
    snprintf(btcp, sizeof btcp, "tcp://127.0.0.1:%d", oocsi_hub_port(b));
    oocsi_options *po = opts_for("fo_peer", NULL);
    assert_int_equal(oocsi_options_add_endpoint(po, btcp), OOCSI_OK);
    oocsi_client *peer = it_connect_opts(po);
    assert_int_equal(oocsi_send_json(peer, ch, "{\"after\":\"failover\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(in, "after", "failover", IT_TIMEOUT) >= 0);
    it_close(peer);
    it_close(c);
    oocsi_hub_free(a);
    oocsi_hub_free(b);
}

/* Endpoints are tried in order on every reconnect: after a drop, the first
 * endpoint (still alive) is used again, not the next one in the list. */
static void test_order_on_every_reconnect(void **state)
{
    (void)state;
    oocsi_hub *b = wss_hub();
    char h[64], tcp[64], wss[64];
    it_unique(h, sizeof h, "fo_order");
    snprintf(tcp, sizeof tcp, "tcp://127.0.0.1:%d", oocsi_hub_port(it_hub));
    snprintf(wss, sizeof wss, "wss://127.0.0.1:%d/ws", oocsi_hub_wss_port(b));
    it_states *st = it_states_new();
    oocsi_options *o = opts_for(h, st);
    assert_int_equal(oocsi_options_add_endpoint(o, wss), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, tcp), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    assert_int_equal(it_states_settle(st), 1);
    assert_string_equal(oocsi_endpoint(c), wss);
    /* Drop it on the wss hub: the first endpoint is tried first again. */
    assert_int_equal(oocsi_hub_wait_client(b, h, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_hub_drop_client(b, h), 0);
    int on = it_states_wait_for(st, 2, OOCSI_STATE_CONNECTED, 2 * IT_TIMEOUT);
    assert_true(on >= 2);
    assert_string_equal(it_states_endpoint(st, on), wss);
    it_close(c);
    oocsi_hub_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_refused_first_endpoint),
        IT_TEST(test_silent_first_endpoint),
        IT_TEST(test_tcp_to_wss_on_reconnect),
        IT_TEST(test_order_on_every_reconnect),
    };
    return cmocka_run_group_tests_name("integration.failover", tests, setup, teardown);
}
