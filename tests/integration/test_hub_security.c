/*
 * The hub (examples/hub) against clients that try to pass for somebody else
 * or to break it with values: refused hellos are closed, listed users keep
 * their names, reserved and invalid handles, server-key values out of range,
 * password guessing, and the WebSocket endpoint's Origin check and binary
 * frames. Raw TCP (hub_wire.h) and raw WebSocket peers (support_ws.h).
 */
#include "hub.h"
#include "hub_wire.h"

static int start_with_users(const char *users)
{
    oocsi_hub_free(hub);
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.ping_interval_ms = 600000;
    o.users = users;
    return start_hub(&o);
}

/* ------------------------------------------------------------------ refused hellos */

/* After a refused hello (wrong password, name taken) the connection used to
 * stay open and its sendraw went out with "sender" set to the refused name:
 * anybody could speak as a password-protected client. Now the error line is
 * the last thing the connection gets. */
static void test_refused_hello_is_closed(void **state)
{
    (void)state;
    assert_int_equal(start_with_users("alice:pw1"), 0);
    conn *carol = json_client("carol");
    subscribe(carol, "room");
    conn *alice = hello("alice:pw1(JSON)", "{'message' : \"welcome alice\"}");
    const char *tries[] = {"alice:wrong(JSON)", "carol(JSON)"};
    const char *errors[] = {"error (password wrong for name: alice)", "error (name already registered: carol)"};
    for (int i = 0; i < 2; i++) {
        conn *m = conn_open();
        sendf(m, "%s", tries[i]);
        expect_line(m, errors[i]);
        /* whatever follows is not run: no message, no subscription, no answer */
        send_str(m, "sendraw room {\"forged\":1}\nsendraw alice {\"forged\":2}\nsubscribe room\nclients\nping\n");
        expect_eof(m);
    }
    expect_quiet(carol);
    expect_quiet(alice);
    sendf(carol, "channels room");
    expect_line(carol, "carol");
}

/* A channel named like a listed user used to lock that user out ("name
 * already registered"); now no channel of that name can be made. */
static void test_channel_cannot_take_a_users_name(void **state)
{
    (void)state;
    assert_int_equal(start_with_users("alice:pw1"), 0);
    conn *b = json_client("bob");
    subscribe(b, "alice");
    subscribe(b, "alice:secret");
    sendf(b, "channels");
    expect_line(b, "bob");
    hello("alice:pw1(JSON)", "{'message' : \"welcome alice\"}");
}

/* A listed user's name is only given with its password, also after the
 * owner has left. */
static void test_users_name_needs_its_password(void **state)
{
    (void)state;
    assert_int_equal(start_with_users("alice:pw1"), 0);
    conn *a = hello("alice:pw1(JSON)", "{'message' : \"welcome alice\"}");
    sendf(a, "quit");
    expect_line(a, "bye");
    assert_int_equal(oocsi_hub_wait_client_gone(hub, "alice", TMO), 1);
    conn *m = conn_open();
    sendf(m, "alice(JSON)");
    expect_line(m, "error (password wrong for name: alice)");
    expect_eof(m);
    hello("alice:pw1", "welcome alice");
}

/* ------------------------------------------------------------------ handles */

static void refused(const char *line, const char *error)
{
    conn *c = conn_open();
    sendf(c, "%s", line);
    expect_line(c, error);
    expect_eof(c);
    conn_close(c);
}

static void test_reserved_and_invalid_handles(void **state)
{
    (void)state;
    refused("SERVER(JSON)", "error (name reserved: SERVER)");
    refused("server", "error (name reserved: server)");
    refused("OOCSI_clients(JSON)", "error (name reserved: OOCSI_clients)");
    refused("OOCSI_metrics(JSON)", "error (name reserved: OOCSI_metrics)");
    refused("room/?(JSON)", "error (name reserved: room/?)");
    refused("a,b(JSON)", "error (invalid character in name: a,b)");
    refused("a\"b(JSON)", "error (invalid character in name: a\"b)");
    refused("a\x01"
            "b(JSON)",
            "error (invalid character in name: a?b)");
    refused("a\x7f"
            "b(JSON)",
            "error (invalid character in name: a?b)");
    conn *z = conn_open();
    send_bytes(z, "a\0b(JSON)\n", 10);
    expect_line(z, "error (invalid character in name: a?b)");
    expect_eof(z);
    assert_int_equal(oocsi_hub_client_count(hub), 0);
    /* what the reference clients send still works */
    hello("OOCSIClient_0123456789abcdef0(JSON)", "{'message' : \"welcome OOCSIClient_0123456789abcdef0\"}");
    hello("name.with-dots_1(JSON)", "{'message' : \"welcome name.with-dots_1\"}");
    conn *h = conn_open();
    sendf(h, "dev_###(JSON)");
    expect_match(h, "{'message' : \"welcome dev_~~~\"}");
    /* the meta channels still come from SERVER */
    subscribe(h, "OOCSI_clients");
    expect_prefix(h, "{\"clients\":\"");
    assert_non_null(strstr(h->line, "\"sender\":\"SERVER\"}"));
}

/* ------------------------------------------------------------------ server keys */

static void refused_key(conn *b, const char *payload, const char *key)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "error (invalid %s: ", key);
    sendf(b, "sendraw room %s", payload);
    expect_prefix(b, prefix);
}

/* _SCHEDULE fields went through sscanf("%d") and "year - 1900": signed
 * overflow (undefined behaviour) for the first values below, and out of
 * range dates were "normalised" by mktime. Every one is refused now, with an
 * error line to the sender and nothing delivered. */
static void test_server_key_values_refused(void **state)
{
    (void)state;
    conn *a = json_client("a");
    conn *b = json_client("b");
    subscribe(a, "room");
    const char *sched[] = {"-2147483648-01-01 00:00:00", "2000--2147483648-01 00:00:00",
                           "2147481747-12-31 23:59:59",  "1969-12-31 23:59:59",
                           "10000-01-01 00:00:00",       "2024-13-01 00:00:00",
                           "2024-00-10 00:00:00",        "2023-02-29 00:00:00",
                           "2024-04-31 00:00:00",        "2024-01-00 00:00:00",
                           "2024-01-01 24:00:00",        "2024-01-01 00:60:00",
                           "2024-01-01 00:00:60",        "2024-01-01T00:00:00",
                           "2024-01-01 00:00:00 ",       "+2024-01-01 00:00:00",
                           "2024-01-01 00:00",           "99999999999-01-01 00:00:00"};
    for (size_t i = 0; i < sizeof sched / sizeof *sched; i++) {
        char p[128];
        snprintf(p, sizeof p, "{\"_SCHEDULE\":\"%s\",\"n\":%zu}", sched[i], i);
        refused_key(b, p, "_SCHEDULE");
    }
    refused_key(b, "{\"_SCHEDULE\":20240101}", "_SCHEDULE");
    const char *delay[] = {"-1", "\"-5\"", "\"NaN\"", "\"Infinity\"", "1e300", "\"abc\"", "true", "{}", "315360001"};
    for (size_t i = 0; i < sizeof delay / sizeof *delay; i++) {
        char p[128];
        snprintf(p, sizeof p, "{\"_DELAY\":%s}", delay[i]);
        refused_key(b, p, "_DELAY");
    }
    const char *retain[] = {"-1", "\"x\"", "1.5", "99999999999999999999", "true", "\"NaN\""};
    for (size_t i = 0; i < sizeof retain / sizeof *retain; i++) {
        char p[128];
        snprintf(p, sizeof p, "{\"_RETAIN\":%s}", retain[i]);
        refused_key(b, p, "_RETAIN");
    }
    expect_quiet(a);
    /* valid values still work: a past date (at once), leap day, edges */
    sendf(b, "sendraw room {\"_SCHEDULE\":\"2024-02-29 23:59:59\",\"n\":1}");
    expect_match(a, "{\"_SCHEDULE\":\"2024-02-29 23:59:59\",\"n\":1,\"recipient\":\"room\",\"timestamp\":*,"
                    "\"sender\":\"b\"}");
    sendf(b, "sendraw room {\"_DELAY\":0,\"_RETAIN\":0,\"n\":2}");
    expect_match(a, "{\"_DELAY\":0,\"_RETAIN\":0,\"n\":2,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    sendf(b, "sendraw room {\"_SCHEDULE\":\"9999-12-31 23:59:59\",\"n\":3}"); /* valid */
    /* but beyond a budget (test_hub_limits.c) */
    expect_match(b, "error (delay of * s over the limit of 86400 s, raise with --max-delay)");
    sendf(b, "sendraw room {\"_RETAIN\":99999999,\"n\":4}"); /* capped at 2 days */
    expect_match(a, "{\"_RETAIN\":99999999,\"n\":4,\"recipient\":\"room\",\"timestamp\":*,\"sender\":\"b\"}");
    expect_quiet(b);
}

/* ------------------------------------------------------------------ password guessing */

/* A connection from the loopback address 127.0.0.2 (another address than
 * conn_open's 127.0.0.1, for the hub); NULL where the system refuses it. */
static conn *conn_open_from_127_0_0_2(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7F000002);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return NULL;
    }
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return NULL;
    }
    conn *c = conn_open(); /* a slot and buffers; its own socket is replaced */
    close(c->fd);
    c->fd = fd;
    return c;
}

/* Wrong passwords were answered at once, without limit (thousands of guesses
 * a second). After 5 wrong ones within a minute the address is refused for
 * a while, even with the right password; other hellos, and the same user
 * from another address (127.0.0.2 on loopback), are not affected. */
static void test_password_guessing_throttled(void **state)
{
    (void)state;
    assert_int_equal(start_with_users("alice:pw1"), 0);
    for (int i = 0; i < 5; i++) {
        char line[64];
        snprintf(line, sizeof line, "alice:guess%d(JSON)", i);
        refused(line, "error (password wrong for name: alice)");
    }
    conn *c = conn_open();
    sendf(c, "alice:pw1(JSON)");
    expect_prefix(c,
                  "error (password wrong for name: alice; too many wrong passwords from this address, try again in ");
    expect_eof(c);
    conn *d = conn_open();
    sendf(d, "nobody:x(JSON)");
    expect_prefix(d, "error (password wrong for name: nobody; too many wrong passwords");
    expect_eof(d);
    json_client("carol");
    assert_int_equal(oocsi_hub_client_count(hub), 1);
    /* another address is not blocked */
    conn *e = conn_open_from_127_0_0_2();
    if (e) {
        sendf(e, "alice:pw1(JSON)");
        expect_line(e, "{'message' : \"welcome alice\"}");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_hello_is_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channel_cannot_take_a_users_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_name_needs_its_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_and_invalid_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_key_values_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_guessing_throttled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
