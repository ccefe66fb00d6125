/*
 * The hub's budgets (examples/hub/hub_limits.c) on the wire: delayed and
 * retained messages, connections without a welcome, lines before a welcome,
 * the total output, the memory total and its metrics. Each hub here has
 * small limits so that the tests are quick; a client that hits a limit gets
 * an error line naming the flag that raises it.
 */
#include "hub.h"
#include "hub_wire.h"
#include "support.h"
#include "support_ws.h"

static void hub_with(oocsi_hub_options *o)
{
    oocsi_hub_free(hub);
    hub = NULL;
    assert_int_equal(start_hub(o), 0);
}

static void limits_init(oocsi_hub_options *o)
{
    oocsi_hub_options_init(o);
    o->ping_interval_ms = 600000;
}

/* Waits (bounded) until the hub's accounted usage of what equals want. */
typedef struct usage_want {
    const char *what;
    size_t want;
} usage_want;

static int usage_is(void *ctx)
{
    const usage_want *u = ctx;
    return oocsi_hub_usage(hub, u->what) == u->want;
}

static int usage_becomes(const char *what, size_t want, int timeout_ms)
{
    usage_want u = {what, want};
    return it_wait_until(usage_is, &u, timeout_ms);
}

/* "sendraw <to> {"_DELAY":<s>,"p":"<n x's>"}" */
static void send_delayed(conn *c, const char *to, int s, size_t n)
{
    char *pad = malloc(n + 1);
    assert_non_null(pad);
    memset(pad, 'x', n);
    pad[n] = '\0';
    sendf(c, "sendraw %s {\"_DELAY\":%d,\"p\":\"%s\"}", to, s, pad);
    free(pad);
}

/* ------------------------------------------------------------------ 1. delayed messages */

static void test_delay_limits(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.max_delay_s = 60;
    o.max_delayed = 3;
    o.max_delayed_client_bytes = 2000;
    o.max_delayed_bytes = 3000;
    hub_with(&o);
    conn *a = json_client("a");
    /* too far ahead, by _DELAY or _SCHEDULE: refused */
    sendf(a, "sendraw r0 {\"_DELAY\":61}");
    expect_line(a, "error (delay of 61 s over the limit of 60 s, raise with --max-delay)");
    sendf(a, "sendraw r0 {\"_SCHEDULE\":\"2099-01-01 00:00:00\"}");
    expect_match(a, "error (delay of * s over the limit of 60 s, raise with --max-delay)");
    /* at most 3 pending per client; replacing one (same recipient) is fine */
    send_delayed(a, "r1", 30, 10);
    send_delayed(a, "r2", 30, 10);
    send_delayed(a, "r3", 30, 10);
    send_delayed(a, "r3", 60, 10);
    expect_quiet(a);
    send_delayed(a, "r4", 30, 10);
    expect_line(a, "error (too many delayed messages: 3 pending for a, raise with --max-delayed)");
    assert_int_equal(oocsi_hub_usage(hub, "delayed_count"), 3);
    /* they stay after their sender left, and still count against it */
    sendf(a, "quit");
    expect_line(a, "bye");
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "a", TMO), 1);
    assert_int_equal(oocsi_hub_usage(hub, "delayed_count"), 3);
    conn *a2 = json_client("a");
    send_delayed(a2, "r5", 30, 10);
    expect_line(a2, "error (too many delayed messages: 3 pending for a, raise with --max-delayed)");
    /* bytes per client, then in total */
    conn *b = json_client("b");
    send_delayed(b, "r6", 30, 2500);
    expect_line(b, "error (delayed messages of b over 2000 bytes, raise with --max-delayed-client-bytes)");
    send_delayed(b, "r6", 30, 1200);
    expect_quiet(b);
    conn *c = json_client("c");
    send_delayed(c, "r7", 30, 1200);
    expect_line(c, "error (delayed messages over 3000 bytes in total, raise with --max-delayed-bytes)");
    assert_int_equal(oocsi_hub_usage(hub, "delayed_count"), 4);
    assert_true(oocsi_hub_usage(hub, "delayed") <= 3000);
}

/* A WebSocket client gets the error as an oocsi-web frame. */
static void test_delay_limit_ws(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.max_delay_s = 60;
    o.ws_port = 0;
    oocsi_hub_free(hub);
    hub = NULL;
    if (start_hub(&o) != 0) {
        skip(); /* a hub built without WebSocket */
    }
    it_ws_peer *w = it_ws_peer_connect(oocsi_hub_ws_port(hub), 0);
    assert_non_null(w);
    assert_int_equal(it_ws_handshake(w, oocsi_hub_ws_port(hub), "/ws", NULL), 0);
    it_ws_hello(w, "w");
    const char *cmd = "sendjson r {\"_DELAY\":100}";
    assert_int_equal(it_ws_send_op(w, 1, cmd, strlen(cmd)), 0);
    it_ws_expect_frame(w, "{\"message\" : \"ERROR: delay of 100 s over the limit of 60 s, raise with --max-delay\"}");
    it_ws_peer_close(w);
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "w", TMO), 1);
    assert_int_equal(usage_becomes("total", 0, TMO), 1);
}

/* The queue releases in due order, also after replacing a message in the
 * middle of it. */
static void test_delay_order(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(a, "q0");
    subscribe(a, "q1");
    subscribe(a, "q2");
    sendf(b, "sendraw q0 {\"_DELAY\":2,\"n\":0}");
    sendf(b, "sendraw q1 {\"_DELAY\":1,\"n\":1}");
    sendf(b, "sendraw q2 {\"_DELAY\":1,\"n\":2}");
    sendf(b, "sendraw q1 {\"_DELAY\":2,\"n\":3}");
    expect_quiet(b);
    assert_int_equal(oocsi_hub_usage(hub, "delayed_count"), 3);
    expect_match(a, "{\"_DELAY\":1,\"n\":2,\"recipient\":\"q2\",\"timestamp\":*,\"sender\":\"b\"}");
    /* then q0 and q1 (due within the same millisecond or so: either order) */
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        const char *l = next_line(a);
        if (match("{\"_DELAY\":2,\"n\":0,\"recipient\":\"q0\",\"timestamp\":*,\"sender\":\"b\"}", l)) {
            seen |= 1;
        } else if (match("{\"_DELAY\":2,\"n\":3,\"recipient\":\"q1\",\"timestamp\":*,\"sender\":\"b\"}", l)) {
            seen |= 2;
        } else {
            fail_msg("got line '%s'", l);
        }
    }
    assert_int_equal(seen, 3);
    expect_quiet(a);
    assert_int_equal(oocsi_hub_usage(hub, "delayed_count"), 0);
    assert_int_equal(oocsi_hub_usage(hub, "delayed"), 0);
}

/* 150k delayed messages to distinct recipients: each add and each loop
 * pass used to search the whole queue (100k froze the hub for a minute;
 * 150k: about three). A bound that only a hang reaches (IT_HANG_MS x 2:
 * the heap takes well under a second natively, seconds under valgrind). */
static void test_delay_many(void **state)
{
    (void)state;
    enum { N = 150000 };
    oocsi_hub_options o;
    limits_init(&o);
    o.max_delayed = N;
    o.max_delayed_client_bytes = (size_t)64 * 1024 * 1024;
    hub_with(&o);
    conn *a = json_client("a");
    size_t cap = (size_t)N * 48, len = 0;
    char *all = malloc(cap);
    assert_non_null(all);
    for (int i = 0; i < N; i++) {
        len += (size_t)snprintf(all + len, cap - len, "sendraw d%d {\"_DELAY\":3600}\n", i);
    }
    send_bytes(a, all, len);
    free(all);
    send_str(a, "ping\n");
    int r = read_line(a, 2 * IT_HANG_MS);
    assert_int_equal(r, 1);
    assert_string_equal(a->line, ".");
    assert_int_equal(oocsi_hub_usage(hub, "delayed_count"), N);
    conn *b = json_client("b");
    expect_quiet(b);
}

/* ------------------------------------------------------------------ 2. retained messages, subscriptions */

static void test_retained_limits(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.max_retained_client_bytes = 2000;
    o.max_retained_bytes = 2500;
    hub_with(&o);
    conn *s = json_client("s");
    subscribe(s, "c1");
    subscribe(s, "c2");
    subscribe(s, "c3");
    conn *b = json_client("b");
    char pad[1300];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    sendf(b, "sendraw c1 {\"_RETAIN\":600,\"p\":\"%s\"}", pad);
    expect_quiet(b);
    /* a second one from b is over b's share: delivered, not retained */
    sendf(b, "sendraw c2 {\"_RETAIN\":600,\"p\":\"%s\"}", pad);
    expect_line(b, "error (retained messages of b over 2000 bytes, not retained, raise with "
                   "--max-retained-client-bytes)");
    expect_prefix(s, "{\"_RETAIN\":600,\"p\":\"xxx");
    expect_prefix(s, "{\"_RETAIN\":600,\"p\":\"xxx");
    conn *c = json_client("c");
    sendf(c, "sendraw c3 {\"_RETAIN\":600,\"p\":\"%s\"}", pad);
    expect_line(c, "error (retained messages over 2500 bytes in total, not retained, raise with "
                   "--max-retained-bytes)");
    expect_prefix(s, "{\"_RETAIN\":600,\"p\":\"xxx");
    /* a new subscriber gets only the retained one */
    conn *n = json_client("n");
    subscribe(n, "c2");
    subscribe(n, "c3");
    sendf(n, "subscribe c1");
    expect_prefix(n, "{\"_RETAIN\":600,\"p\":\"xxx");
    expect_quiet(n);
    /* clearing it frees the budget */
    sendf(b, "sendraw c1 {\"v\":1}");
    expect_prefix(s, "{\"v\":1,");
    expect_prefix(n, "{\"v\":1,");
    assert_int_equal(oocsi_hub_usage(hub, "retained"), 0);
    sendf(c, "sendraw c3 {\"_RETAIN\":600,\"p\":\"%s\"}", pad);
    expect_quiet(c);
    assert_true(oocsi_hub_usage(hub, "retained") > 1300);
}

/* _RETAIN beyond max_retain_s is shortened: the message expires on time. */
static void test_retain_time(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.max_retain_s = 1;
    hub_with(&o);
    conn *s = json_client("s");
    subscribe(s, "r");
    conn *b = json_client("b");
    sendf(b, "sendraw r {\"_RETAIN\":3600}");
    expect_prefix(s, "{\"_RETAIN\":3600,");
    assert_true(oocsi_hub_usage(hub, "retained") > 0);
    assert_int_equal(usage_becomes("retained", 0, TMO), 1);
    conn *n = json_client("n");
    subscribe(n, "r");
    expect_quiet(n);
}

/* A client with many subscriptions leaves: the hub used to take them off
 * the front of its list one by one, moving the rest each time (O(n^2):
 * 400k froze it for 9 to 16 s). Counted, not timed: the list steps of
 * the leave stay linear (the old way: n^2/2 = 200 million for 20k). */
static void test_many_subscriptions_leave(void **state)
{
    (void)state;
    enum { N = 20000 };
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(b, "presence(s7)");
    size_t cap = (size_t)N * 24, len = 0;
    char *all = malloc(cap);
    assert_non_null(all);
    for (int i = 0; i < N; i++) {
        len += (size_t)snprintf(all + len, cap - len, "subscribe s%d\n", i);
    }
    send_bytes(a, all, len);
    free(all);
    send_str(a, "ping\n");
    assert_int_equal(read_line(a, IT_HANG_MS), 1);
    assert_string_equal(a->line, ".");
    expect_match(b, "{\"channel\":\"s7\",\"join\":\"a\",\"recipient\":\"presence(s7)\",\"timestamp\":*,"
                    "\"sender\":\"s7\"}");
    assert_true(oocsi_hub_usage(hub, "subscriptions") >= (size_t)N); /* every one was accepted */
    size_t before = oocsi_hub_usage(hub, "list_steps");
    sendf(a, "quit");
    expect_line(a, "bye");
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "a", IT_HANG_MS), 1);
    size_t steps = oocsi_hub_usage(hub, "list_steps") - before;
    if (steps > (size_t)N * 8) {
        fail_msg("leaving with %d subscriptions took %zu list steps", N, steps);
    }
    /* every subscription went, with its event */
    expect_match(b, "{\"channel\":\"s7\",\"leave\":\"a\",\"recipient\":\"presence(s7)\",\"timestamp\":*,"
                    "\"sender\":\"s7\"}");
    assert_int_equal(oocsi_hub_usage(hub, "subscriptions"), 64); /* b's presence subscription */
    sendf(b, "channels");
    expect_line(b, "b");
}

/* ------------------------------------------------------------------ 3. connections without a welcome */

/* WebSocket connections count too: the per-address limit refuses the
 * upgrade, and a browser that never says its name is closed at the hello
 * deadline with an error frame. */
static void test_ws_admission_and_hello_deadline(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.hello_timeout_ms = 300;
    o.max_conns_per_addr = 2;
    o.ws_port = 0;
    oocsi_hub_free(hub);
    hub = NULL;
    if (start_hub(&o) != 0)
        skip(); /* a hub built without WebSocket */
    int wsp = oocsi_hub_ws_port(hub);
    it_ws_peer *a = it_ws_peer_connect(wsp, 0);
    it_ws_peer *b = it_ws_peer_connect(wsp, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(it_ws_handshake(a, wsp, "/ws", NULL), 0);
    assert_int_equal(it_ws_handshake(b, wsp, "/ws", NULL), 0);
    it_ws_peer *c = it_ws_peer_connect(wsp, 0);
    assert_non_null(c);
    assert_int_not_equal(it_ws_handshake(c, wsp, "/ws", NULL), 0); /* a third from 127.0.0.1 */
    it_ws_peer_close(c);
    /* a says its name; b says nothing and is closed at the deadline */
    it_ws_hello(a, "ws_named");
    int closed = 0;
    char *f = it_ws_recv(b, IT_HANG_MS, &closed);
    assert_non_null(f);
    assert_string_equal(f, "{\"message\" : \"ERROR: no welcome within 300 ms, raise with --hello-timeout\"}");
    free(f);
    assert_true(it_ws_recv_close(b, TMO) >= 0);
    it_ws_peer_close(b);
    assert_int_equal(oocsi_hub_wait_client(hub, "ws_named", 0), 1); /* a stays */
    it_ws_peer_close(a);
}

static void test_hello_deadline(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.hello_timeout_ms = 300;
    hub_with(&o);
    conn *ok = json_client("ok");
    /* invalid hellos (silently ignored) do not extend the deadline */
    conn *c = conn_open();
    int64_t deadline = now_ms() + TMO;
    while (1) {
        sendf(c, "not a hello");
        int r = read_line(c, 50);
        if (r == 1) {
            break;
        }
        assert_int_equal(r, 0);
        if (now_ms() > deadline) {
            fail_msg("no error line within %d ms", TMO);
        }
    }
    assert_string_equal(c->line, "error (no welcome within 300 ms, raise with --hello-timeout)");
    expect_eof(c);
    /* a connection that says nothing at all */
    conn *d = conn_open();
    expect_line(d, "error (no welcome within 300 ms, raise with --hello-timeout)");
    expect_eof(d);
    /* a welcomed client stays */
    expect_quiet(ok);
    assert_int_equal(oocsi_hub_client_count(hub), 1);
}

static void test_conns_per_addr(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.max_conns_per_addr = 3;
    hub_with(&o);
    conn *a = json_client("a");
    conn_open();
    conn_open();
    conn *x = conn_open();
    expect_line(x, "error (too many connections from 127.0.0.1 (3), raise with --max-conns-per-addr)");
    expect_eof(x);
    conn_close(x);
    /* once one leaves, another is accepted */
    sendf(a, "quit");
    expect_line(a, "bye");
    conn_close(a);
    int64_t deadline = now_ms() + TMO;
    while (1) {
        conn *y = conn_open();
        sendf(y, "y(JSON)");
        int r = read_line(y, TMO);
        if (r == 1 && !strcmp(y->line, "{'message' : \"welcome y\"}")) {
            break;
        }
        if (r == 1 && strncmp(y->line, "error (too many connections from 127.0.0.1", 42) != 0) {
            fail_msg("got '%s'", y->line);
        }
        conn_close(y); /* refused (the line, or a reset) */
        if (now_ms() > deadline) {
            fail_msg("the address stayed at its limit");
        }
    }
}

static void test_pending_hellos(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.max_pending_hellos = 2;
    hub_with(&o);
    conn *p1 = conn_open();
    conn_open();
    conn *x = conn_open();
    expect_line(x, "error (too many connections without a hello (2), raise with --max-pending-hellos)");
    expect_eof(x);
    /* a welcome frees a place at once */
    sendf(p1, "p1(JSON)");
    expect_line(p1, "{'message' : \"welcome p1\"}");
    hello("p3(JSON)", "{'message' : \"welcome p3\"}");
    assert_int_equal(oocsi_hub_client_count(hub), 2);
}

/* ------------------------------------------------------------------ 4. memory per connection, output */

static void test_hello_line_limit(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(b, "room");
    /* after a welcome, long lines are fine */
    char *big = malloc(20001);
    assert_non_null(big);
    memset(big, 'y', 20000);
    memcpy(big, "sendraw room ", 13);
    big[20000] = '\n';
    send_bytes(a, big, 20001);
    expect_prefix(b, "{\"data\":\"yyy");
    /* before one, 4 KiB at most (even without its LF yet) */
    conn *c = conn_open();
    send_bytes(c, big + 13, 5000);
    free(big);
    expect_line(c, "error (line before a welcome longer than 4096 bytes, raise with --max-hello-line)");
    expect_eof(c);
    expect_quiet(a);
}

static void test_output_budget(void **state)
{
    (void)state;
    enum { N = 400, SIZE = 1000 };
    oocsi_hub_options o;
    limits_init(&o);
    o.max_output = 256 * 1024;
    hub_with(&o);
    conn *slow = json_client("slow");
    conn *fast = json_client("fast");
    conn *p = json_client("p");
    subscribe(slow, "flood");
    subscribe(fast, "flood");
    assert_int_equal(oocsi_hub_stall_client(hub, "slow", 1), 0);
    char pad[SIZE];
    memset(pad, 'z', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < N; i++) {
        sendf(p, "sendraw flood {\"i\":%d,\"p\":\"%s\"}", i, pad);
        char pat[64];
        snprintf(pat, sizeof pat, "{\"i\":%d,*", i);
        const char *l = next_line(fast);
        if (strncmp(l, pat, strlen(pat) - 1) != 0) {
            fail_msg("message %d: got '%.60s'", i, l);
        }
    }
    /* the stalled client's output passed the total: it was dropped, not the others */
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "slow", TMO), 1);
    expect_quiet(fast);
    expect_quiet(p);
    assert_true(oocsi_hub_usage(hub, "output") < 256 * 1024);
    /* the accounting returns to zero when everybody has left */
    conn_close(fast);
    conn_close(p);
    conn_close(slow);
    assert_int_equal(usage_becomes("total", 0, TMO), 1);
    assert_int_equal(oocsi_hub_usage(hub, "input"), 0);
    assert_int_equal(oocsi_hub_usage(hub, "output"), 0);
}

/* ------------------------------------------------------------------ 5. the memory total and its metrics */

static void test_memory_budget(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.max_memory = 1024 * 1024; /* each connection's read buffer counts too (64 KiB) */
    hub_with(&o);
    conn *a = json_client("a");
    conn *m = json_client("m");
    subscribe(m, "OOCSI_metrics");
    expect_match(m, "{\"uptime\":*,\"messagesTotal\":*,\"messages\":*,\"channels\":*,\"clients\":*,\"memory\":*,"
                    "\"inputBytes\":*,\"outputBytes\":*,\"subscriptionBytes\":*,\"retainedBytes\":*,"
                    "\"delayedBytes\":*,\"delayedMessages\":~,\"recipient\":\"OOCSI_metrics\",\"timestamp\":*,"
                    "\"sender\":\"SERVER\"}");
    /* delayed messages until the memory total refuses one */
    int refused = 0;
    for (int i = 0; i < 400 && !refused; i++) {
        char to[32];
        snprintf(to, sizeof to, "d%d", i);
        send_delayed(a, to, 600, 4000);
        send_str(a, "ping\n");
        const char *l = next_line(a);
        if (!strcmp(l, ".")) {
            continue;
        }
        if (!match("error (memory over * bytes, raise with --max-memory)", l)) {
            fail_msg("got '%s'", l);
        }
        refused = 1;
        expect_line(a, ".");
    }
    assert_true(refused);
    assert_true(oocsi_hub_usage(hub, "total") <= 1024 * 1024);
    assert_true(oocsi_hub_usage(hub, "delayed") > 512 * 1024);
    /* subscriptions too (the room left is less than one delayed message) */
    refused = 0;
    for (int i = 0; i < 100 && !refused; i++) {
        sendf(a, "subscribe s%d", i);
        send_str(a, "ping\n");
        const char *l = next_line(a);
        if (strcmp(l, ".") != 0) {
            assert_string_equal(l, "error (memory over 1048576 bytes, raise with --max-memory)");
            expect_line(a, ".");
            refused = 1;
        }
    }
    assert_true(refused);
}

/* One client's share: its delayed messages count against it, not others'. */
static void test_client_memory(void **state)
{
    (void)state;
    oocsi_hub_options o;
    limits_init(&o);
    o.max_client_memory = 256 * 1024; /* its read buffer (64 KiB) counts too */
    hub_with(&o);
    conn *a = json_client("a");
    int refused = 0;
    for (int i = 0; i < 100 && !refused; i++) {
        char to[32];
        snprintf(to, sizeof to, "d%d", i);
        send_delayed(a, to, 600, 4000);
        send_str(a, "ping\n");
        const char *l = next_line(a);
        if (strcmp(l, ".") != 0) {
            assert_string_equal(l, "error (memory of a over 262144 bytes, raise with --max-client-memory)");
            expect_line(a, ".");
            refused = 1;
        }
    }
    assert_true(refused);
    assert_true(oocsi_hub_usage(hub, "delayed") > 128 * 1024);
    /* another client has its own share */
    conn *b = json_client("b");
    send_delayed(b, "e0", 600, 4000);
    subscribe(b, "room");
    expect_quiet(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delay_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_limit_ws, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retained_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retain_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_subscriptions_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_admission_and_hello_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conns_per_addr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_hellos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_line_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
