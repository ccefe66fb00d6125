/*
 * The hub (examples/hub) on the wire, under load and with its controls:
 * bursts, the reference drop queue, line limits, garbage, keep-alive, client
 * limits, drops, stop and restart.
 */
#include "hub.h"
#include "hub_wire.h"
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
