/*
 * The hub's shared output (examples/hub/hub_output.c) on the wire: one copy
 * of each line for all its subscribers (counted once in the output total),
 * the order each subscriber sees across channels, direct messages and the
 * no-echo rule, WebSocket subscribers of the same lines, partial input lines
 * across reads, and buffers given back once a connection is idle.
 */
#include "hub.h"
#include "hub_wire.h"
#include "support.h"
#include "support_ws.h"

typedef struct usage_want {
    const char *what;
    size_t want;
    int more; /* 1: wait for more than want */
} usage_want;

static int usage_ok(void *ctx)
{
    const usage_want *u = ctx;
    size_t v = oocsi_hub_usage(hub, u->what);
    return u->more ? v > u->want : v == u->want;
}

static int usage_wait(const char *what, size_t want, int more)
{
    usage_want u = {what, want, more};
    return it_wait_until(usage_ok, &u, TMO);
}

/* Reads the next message line of c and checks that it carries "m":"<m>". */
static void expect_m(conn *c, const char *m)
{
    char pat[64];
    snprintf(pat, sizeof pat, "{\"m\":\"%s\",", m);
    const char *l = next_line(c);
    if (strncmp(l, pat, strlen(pat)) != 0) {
        fail_msg("expected message %s, got '%.80s'", m, l);
    }
}

/* ------------------------------------------------------------------ one copy for all */

static void test_shared_lines_counted_once(void **state)
{
    (void)state;
    enum { SUBS = 8, N = 200, PAD = 1000 };
    conn *s[SUBS];
    for (int i = 0; i < SUBS; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        s[i] = json_client(name);
        subscribe(s[i], "fan");
        assert_int_equal(oocsi_hub_stall_client(hub, name, 1), 0);
    }
    conn *p = json_client("p");
    char pad[PAD + 1];
    memset(pad, 'z', PAD);
    pad[PAD] = '\0';
    for (int i = 0; i < N; i++) {
        sendf(p, "sendraw fan {\"i\":%d,\"p\":\"%s\"}", i, pad);
    }
    expect_quiet(p); /* every message was dispatched to the stalled subscribers */
    size_t out = oocsi_hub_usage(hub, "output");
    /* one copy of each line (~1.1 KB), not one per subscriber (8x) */
    assert_true(out > (size_t)N * PAD);
    assert_true(out < (size_t)N * (PAD + 200));
    for (int i = 0; i < SUBS; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(oocsi_hub_stall_client(hub, name, 0), 0);
    }
    for (int i = 0; i < SUBS; i++) {
        for (int k = 0; k < N; k++) {
            char pat[32];
            snprintf(pat, sizeof pat, "{\"i\":%d,", k);
            const char *l = next_line(s[i]);
            if (strncmp(l, pat, strlen(pat)) != 0) {
                fail_msg("subscriber %d, message %d: got '%.40s'", i, k, l);
            }
        }
        expect_quiet(s[i]);
    }
    /* delivered everywhere: every line and queue is given back */
    assert_int_equal(usage_wait("output", 0, 0), 1);
    assert_int_equal(usage_wait("input", 0, 0), 1);
}

/* ------------------------------------------------------------------ order per subscriber */

static void test_order_across_channels(void **state)
{
    (void)state;
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ping_interval_ms = 600000;
    o.ws_port = 0;
    oocsi_hub_free(hub);
    hub = NULL;
    if (start_hub(&o) != 0) {
        skip(); /* a build without WebSockets */
    }
    conn *s = json_client("s");
    subscribe(s, "A");
    subscribe(s, "B");
    conn *q = json_client("q");
    subscribe(q, "A");
    it_ws_peer *w = it_ws_peer_connect(oocsi_hub_ws_port(hub), 0);
    assert_non_null(w);
    assert_int_equal(it_ws_handshake(w, oocsi_hub_ws_port(hub), "/ws", NULL), 0);
    it_ws_hello(w, "w");
    assert_int_equal(it_ws_send_op(w, 1, "subscribe A", 11), 0);
    assert_int_equal(oocsi_hub_wait_subscribed(hub, "w", "A", TMO), 1);
    conn *p = json_client("p");
    assert_int_equal(oocsi_hub_stall_client(hub, "s", 1), 0);
    assert_int_equal(oocsi_hub_stall_client(hub, "w", 1), 0);
    sendf(p, "sendraw A {\"m\":\"A1\"}");
    sendf(p, "sendraw B {\"m\":\"B1\"}");
    sendf(p, "sendraw A {\"m\":\"A2\"}");
    sendf(p, "sendraw A {\"m\":\"A3\"}");
    expect_quiet(p);
    expect_m(q, "A1"); /* q is not stalled */
    expect_m(q, "A2");
    expect_m(q, "A3");
    sendf(q, "sendraw A {\"m\":\"A4\"}"); /* not echoed to q */
    expect_quiet(q);
    sendf(p, "sendraw s {\"m\":\"D1\"}");
    sendf(p, "sendraw A {\"m\":\"A5\"}");
    expect_quiet(p);
    assert_int_equal(oocsi_hub_stall_client(hub, "s", 0), 0);
    assert_int_equal(oocsi_hub_stall_client(hub, "w", 0), 0);
    static const char *const for_s[] = {"A1", "B1", "A2", "A3", "A4", "D1", "A5"};
    for (size_t i = 0; i < sizeof for_s / sizeof *for_s; i++) {
        expect_m(s, for_s[i]);
    }
    expect_quiet(s);
    expect_m(q, "A5");
    expect_quiet(q);
    static const char *const for_w[] = {"A1", "A2", "A3", "A4", "A5"};
    for (size_t i = 0; i < sizeof for_w / sizeof *for_w; i++) {
        cJSON *f = it_ws_json_within(w, TMO);
        assert_non_null(f);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(f, "data"), "m");
        assert_true(cJSON_IsString(m));
        assert_string_equal(m->valuestring, for_w[i]);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(f, "recipient")->valuestring, "A");
        cJSON_Delete(f);
    }
    it_ws_peer_close(w);
}

/* ------------------------------------------------------------------ input */

static void test_partial_line_kept_then_given_back(void **state)
{
    (void)state;
    conn *s = json_client("s");
    subscribe(s, "fan");
    conn *p = json_client("p");
    assert_int_equal(usage_wait("input", 0, 0), 1); /* idle connections hold no input buffer */
    send_str(p, "sendraw fan {\"m\":\"pa");
    assert_int_equal(usage_wait("input", 0, 1), 1); /* the partial line is kept */
    send_str(p, "rt\"}\n");
    expect_m(s, "part");
    assert_int_equal(usage_wait("input", 0, 0), 1);
    assert_int_equal(usage_wait("output", 0, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_lines_counted_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_across_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_line_kept_then_given_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
