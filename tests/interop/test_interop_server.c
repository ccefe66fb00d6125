/*
 * liboocsi clients against the reference Java OOCSI server (started by the
 * group setup on a free loopback port): messaging, calls, variables,
 * queries, handles, large messages, bursts and reconnecting after the server
 * was restarted.
 */
#include "interop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Channel messages both ways between two clients, with every JSON type, and
 * no echo to the sender: each side's inbox holds exactly the other's
 * messages, in order (an echo would arrive before the answer it precedes). */
static void channel_both_ways_no_echo(void **state)
{
    (void)state;
    io_require_server();
    char ch[64];
    it_unique(ch, sizeof ch, "io_chan");
    oocsi_client *a = io_client("io_a"), *b = io_client("io_b");
    it_inbox *in_a = it_inbox_new(), *in_b = it_inbox_new();
    assert_int_equal(oocsi_subscribe(a, ch, it_inbox_handler, in_a), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in_b), OOCSI_OK);

    io_send(a, ch,
            "{\"n\":1,\"s\":\"caf\\u00e9 \\\"q\\\"\",\"f\":2.5,\"neg\":-7,\"big\":12345678901234,\"t\":true,"
            "\"nil\":null,\"arr\":[1,\"two\",3.5],\"obj\":{\"k\":\"v\"}}");
    const it_msg *m = io_msg(in_b, 0, oocsi_handle(a), ch);
    /* The reference server drops keys whose value is null (the hub keeps them). */
    cJSON *nil = cJSON_DetachItemFromObjectCaseSensitive(m->data, "nil");
    assert_true(nil == NULL || cJSON_IsNull(nil));
    cJSON_Delete(nil);
    IT_ASSERT_JSON(m->data, "{\"n\":1,\"s\":\"caf\\u00e9 \\\"q\\\"\",\"f\":2.5,\"neg\":-7,\"big\":12345678901234,"
                            "\"t\":true,\"arr\":[1,\"two\",3.5],\"obj\":{\"k\":\"v\"}}");
    assert_true(m->timestamp > 1600000000000LL); /* milliseconds since the epoch */

    io_send(b, ch, "{\"n\":2}");
    io_assert_num(io_msg(in_a, 0, oocsi_handle(b), ch)->data, "n", 2);
    io_send(a, ch, "{\"n\":3}");
    io_assert_num(io_msg(in_b, 1, oocsi_handle(a), ch)->data, "n", 3);
    assert_int_equal(it_inbox_count(in_a), 1);
    assert_int_equal(it_inbox_count(in_b), 2);
}

/* A direct message reaches the recipient's direct handler, from the sender,
 * addressed to the recipient's handle; a third client sees nothing of it. */
static void direct_messages(void **state)
{
    (void)state;
    io_require_server();
    char hb[64];
    it_unique(hb, sizeof hb, "io_direct_b");
    it_inbox *direct = it_inbox_new();
    oocsi_options *o = it_options(hb);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, direct), OOCSI_OK);
    oocsi_client *b = it_connect_opts(o);
    it_loop_start(b);
    oocsi_client *a = io_client("io_direct_a"), *c = io_client("io_direct_c");
    it_inbox *direct_c = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, oocsi_handle(c), it_inbox_handler, direct_c), OOCSI_OK);

    io_send(a, hb, "{\"direct\":\"to b\",\"n\":1}");
    const it_msg *m = io_msg(direct, 0, oocsi_handle(a), hb);
    io_assert_str(m->data, "direct", "to b");
    io_send(b, oocsi_handle(c), "{\"direct\":\"to c\"}");
    io_assert_str(io_msg(direct_c, 0, hb, oocsi_handle(c))->data, "direct", "to c");
    assert_int_equal(it_inbox_count(direct_c), 1);
    assert_int_equal(it_inbox_count(direct), 1);
}

/* Two handlers on one channel both get each message once; a second channel
 * on the same client gets only its own; removing one handler keeps the other. */
static void several_handlers(void **state)
{
    (void)state;
    io_require_server();
    char ch1[64], ch2[64];
    it_unique(ch1, sizeof ch1, "io_multi");
    it_unique(ch2, sizeof ch2, "io_other");
    oocsi_client *rx = io_client("io_rx"), *tx = io_client("io_tx");
    it_inbox *h1 = it_inbox_new(), *h2 = it_inbox_new(), *other = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, ch1, it_inbox_handler, h1), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(rx, ch1, it_inbox_handler, h2), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(rx, ch2, it_inbox_handler, other), OOCSI_OK);

    io_send(tx, ch1, "{\"seq\":1}");
    io_send(tx, ch2, "{\"seq\":2}");
    io_assert_num(io_msg(other, 0, oocsi_handle(tx), ch2)->data, "seq", 2);
    io_assert_num(io_msg(h1, 0, oocsi_handle(tx), ch1)->data, "seq", 1);
    io_assert_num(io_msg(h2, 0, oocsi_handle(tx), ch1)->data, "seq", 1);

    assert_int_equal(oocsi_unsubscribe_handler(rx, ch1, it_inbox_handler, h1), OOCSI_OK);
    io_send(tx, ch1, "{\"seq\":3}");
    io_send(tx, ch2, "{\"seq\":4}");
    io_assert_num(io_msg(other, 1, oocsi_handle(tx), ch2)->data, "seq", 4); /* after seq 3 on ch1 */
    io_assert_num(io_msg(h2, 1, oocsi_handle(tx), ch1)->data, "seq", 3);
    assert_int_equal(it_inbox_count(h1), 1);
    assert_int_equal(it_inbox_count(h2), 2);
    assert_int_equal(it_inbox_count(other), 2);
}

typedef struct call_result {
    int done;
    cJSON *data;
} call_result;

static void on_response(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c;
    call_result *r = user;
    r->data = response ? cJSON_Duplicate(oocsi_message_data(response), 1) : NULL;
    __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
    it_notify();
}

static int call_done(void *ctx)
{
    return __atomic_load_n(&((call_result *)ctx)->done, __ATOMIC_SEQ_CST);
}

/* A C caller and a C responder through the Java server: the response to the
 * caller carries the responder's result, blocking and with a callback; an
 * unanswered call name times out. */
static void call_response(void **state)
{
    (void)state;
    io_require_server();
    char ch[64];
    it_unique(ch, sizeof ch, "io_calc");
    oocsi_client *responder = io_client("io_responder"), *caller = io_client("io_caller");
    assert_int_equal(oocsi_register(responder, ch, "mul", io_mul_responder, NULL), OOCSI_OK);

    cJSON *req = it_json("{\"x\":6,\"y\":7}"), *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(caller, ch, "mul", req, IT_TIMEOUT, &resp), OOCSI_OK);
    io_assert_num(resp, "product", 42);
    io_assert_str(resp, "by", oocsi_handle(responder));
    assert_null(cJSON_GetObjectItemCaseSensitive(resp, "_MESSAGE_ID"));
    cJSON_Delete(resp);

    call_result r = {0, NULL};
    cJSON_ReplaceItemInObject(req, "x", cJSON_CreateNumber(-1.5));
    assert_int_equal(oocsi_call(caller, ch, "mul", req, IT_TIMEOUT, on_response, &r), OOCSI_OK);
    assert_true(it_wait_until(call_done, &r, IT_TIMEOUT * 2));
    assert_non_null(r.data);
    io_assert_num(r.data, "product", -10.5);
    cJSON_Delete(r.data);

    resp = NULL;
    assert_int_equal(oocsi_call_and_wait(caller, ch, "nobody", req, 500, &resp), OOCSI_ERR_TIMEOUT);
    assert_null(resp);
    cJSON_Delete(req);
}

/* Two C clients with a variable on one channel and key: a number and a
 * string set on either side reach the other. The inbox on the same channel
 * is dispatched after the variable's handler: once it has the message, the
 * variable has the value. */
static void variables_two_clients(void **state)
{
    (void)state;
    io_require_server();
    char ch[64];
    it_unique(ch, sizeof ch, "io_var");
    oocsi_client *c1 = io_client("io_var1"), *c2 = io_client("io_var2");
    oocsi_variable *v1 = oocsi_variable_new(c1, ch, "level"), *v2 = oocsi_variable_new(c2, ch, "level");
    oocsi_variable *s1 = oocsi_variable_new(c1, ch, "name"), *s2 = oocsi_variable_new(c2, ch, "name");
    assert_true(v1 && v2 && s1 && s2);
    it_inbox *seen1 = it_inbox_new(), *seen2 = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c1, ch, it_inbox_handler, seen1), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(c2, ch, it_inbox_handler, seen2), OOCSI_OK);

    assert_int_equal(oocsi_variable_set(v1, 42.5), OOCSI_OK);
    io_assert_num(io_msg(seen2, 0, oocsi_handle(c1), ch)->data, "level", 42.5);
    assert_true(oocsi_variable_has_value(v2));
    IT_ASSERT_NEAR(oocsi_variable_get(v2), 42.5, 1e-9);

    assert_int_equal(oocsi_variable_set(v2, -3.25), OOCSI_OK);
    io_msg(seen1, 0, oocsi_handle(c2), ch);
    IT_ASSERT_NEAR(oocsi_variable_get(v1), -3.25, 1e-9);

    assert_int_equal(oocsi_variable_set_string(s1, "h\xc3\xa9llo"), OOCSI_OK);
    io_assert_str(io_msg(seen2, 1, oocsi_handle(c1), ch)->data, "name", "h\xc3\xa9llo");
    assert_string_equal(oocsi_variable_get_string(s2), "h\xc3\xa9llo");
    IT_ASSERT_NEAR(oocsi_variable_get(v2), -3.25, 1e-9); /* the other key kept its value */
    oocsi_variable_free(s1);
    oocsi_variable_free(s2);
    oocsi_variable_free(v1);
    oocsi_variable_free(v2);
}

/* The three queries answered by the Java server: the clients (both), the
 * channels (the one subscribed) and a channel's subscribers (only the one
 * that subscribed). */
static void queries(void **state)
{
    (void)state;
    io_require_server();
    char ch[64];
    it_unique(ch, sizeof ch, "io_query");
    oocsi_client *sub = io_client("io_q_sub"), *other = io_client("io_q_other");
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(sub, ch, it_inbox_handler, in), OOCSI_OK);
    char *out = NULL;
    assert_int_equal(oocsi_clients(other, IT_TIMEOUT, &out), OOCSI_OK);
    assert_true(io_list_has(out, oocsi_handle(sub)) && io_list_has(out, oocsi_handle(other)));
    oocsi_free(out);
    assert_int_equal(oocsi_channels(other, IT_TIMEOUT, &out), OOCSI_OK);
    assert_true(io_list_has(out, ch));
    oocsi_free(out);
    assert_int_equal(oocsi_channel_subscribers(other, ch, IT_TIMEOUT, &out), OOCSI_OK);
    if (!io_list_has(out, oocsi_handle(sub)) || io_list_has(out, oocsi_handle(other)))
        fail_msg("subscribers of %s: \"%s\"", ch, out);
    oocsi_free(out);
}

/* Handles as the Java server sees them: a taken handle is refused with
 * OOCSI_ERR_HANDLE_TAKEN; a generated handle and '#' handles (digits) are
 * welcomed and listed by the server under the handle the client reports. */
static void handles(void **state)
{
    (void)state;
    io_require_server();
    char h[64];
    it_unique(h, sizeof h, "io_taken");
    oocsi_client *first = it_connect_bg(h);
    assert_int_equal(io_try_handle(h), OOCSI_ERR_HANDLE_TAKEN);
    assert_true(oocsi_is_connected(first));

    oocsi_client *gen = it_connect_bg(NULL);
    const char *gh = oocsi_handle(gen);
    assert_true(strlen(gh) > 0);
    assert_null(strpbrk(gh, "# \t"));
    oocsi_client *hash = it_connect_bg("io_hash_####");
    const char *hh = oocsi_handle(hash);
    assert_int_equal(strlen(hh), strlen("io_hash_####"));
    assert_int_equal(strncmp(hh, "io_hash_", 8), 0);
    assert_int_equal(strspn(hh + 8, "0123456789"), 4);

    char *out = NULL;
    assert_int_equal(oocsi_clients(first, IT_TIMEOUT, &out), OOCSI_OK);
    if (!io_list_has(out, h) || !io_list_has(out, gh) || !io_list_has(out, hh))
        fail_msg("clients \"%s\" lack %s, %s or %s", out, h, gh, hh);
    oocsi_free(out);
    /* a message to the generated handle reaches it */
    it_inbox *direct = it_inbox_new();
    assert_int_equal(oocsi_subscribe(gen, gh, it_inbox_handler, direct), OOCSI_OK);
    io_send(hash, gh, "{\"hello\":\"generated\"}");
    io_assert_str(io_msg(direct, 0, hh, gh)->data, "hello", "generated");
}

/* A 100 KiB string value arrives intact, both ways. */
static void large_message(void **state)
{
    (void)state;
    io_require_server();
    enum { LARGE = 100 * 1024 };
    char ch[64];
    it_unique(ch, sizeof ch, "io_large");
    oocsi_client *a = io_client("io_large_a"), *b = io_client("io_large_b");
    it_inbox *in_a = it_inbox_new(), *in_b = it_inbox_new();
    assert_int_equal(oocsi_subscribe(a, ch, it_inbox_handler, in_a), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in_b), OOCSI_OK);
    char *big = malloc(LARGE + 1);
    assert_non_null(big);
    for (int i = 0; i < LARGE; i++)
        big[i] = (char)('a' + i % 26);
    big[LARGE] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "blob", big);
    cJSON_AddNumberToObject(o, "len", LARGE);
    assert_int_equal(oocsi_send(a, ch, o), OOCSI_OK);
    io_assert_str(io_msg(in_b, 0, oocsi_handle(a), ch)->data, "blob", big);
    assert_int_equal(oocsi_send(b, ch, o), OOCSI_OK);
    io_assert_str(io_msg(in_a, 0, oocsi_handle(b), ch)->data, "blob", big);
    io_assert_num(it_inbox_at(in_a, 0)->data, "len", LARGE);
    cJSON_Delete(o);
    free(big);
}

/* The reference server keeps at most 21 lines pending for a client and drops
 * the oldest beyond that (when the client's socket does not take them fast
 * enough). With at most 20 messages in flight it never has to drop. */
#define BURST 1000
#define BURST_WINDOW 20

/* 1000 messages, paced: every BURST_WINDOW messages the sender waits until
 * the receiver has them all. They arrive complete and in order. */
static void burst_in_order(void **state)
{
    (void)state;
    io_require_server();
    char ch[64];
    it_unique(ch, sizeof ch, "io_burst");
    oocsi_client *tx = io_client("io_burst_tx"), *rx = io_client("io_burst_rx");
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, in), OOCSI_OK);
    for (int i = 0; i < BURST; i++) {
        assert_int_equal(oocsi_send_jsonf(tx, ch, "{\"seq\":%d,\"pad\":\"burst-message-%04d\"}", i, i), OOCSI_OK);
        if ((i + 1) % BURST_WINDOW == 0 && !it_inbox_wait(in, i + 1, IT_TIMEOUT * 2))
            fail_msg("%d of %d messages arrived", it_inbox_count(in), i + 1);
    }
    assert_int_equal(it_inbox_count(in), BURST);
    for (int i = 0; i < BURST; i++) {
        const it_msg *m = it_inbox_at(in, i);
        assert_string_equal(m->sender, oocsi_handle(tx));
        io_assert_num(m->data, "seq", i);
    }
}

typedef struct sub_query {
    oocsi_client *asker;
    const char *channel, *handle;
} sub_query;

/* The server lists handle among the subscribers of channel. */
static int subscribed_on_server(void *ctx)
{
    const sub_query *q = ctx;
    char *out = NULL;
    int found = 0;
    if (oocsi_channel_subscribers(q->asker, q->channel, 1000, &out) == OOCSI_OK)
        found = io_list_has(out, q->handle);
    oocsi_free(out);
    return found;
}

/* The Java server is stopped and started again on the same port. A
 * caller-driven sender goes offline and queues what it sends meanwhile; a
 * fresh receiver subscribes on the restarted server; driving the sender then
 * reconnects it and delivers the queued messages in order. A background
 * client that was subscribed before reconnects and subscribes again. */
static void reconnect_after_restart(void **state)
{
    (void)state;
    io_require_server();
    char ch[64], hs[64];
    it_unique(ch, sizeof ch, "io_restart");
    it_unique(hs, sizeof hs, "io_restart_tx");
    it_states *st = it_states_new();
    oocsi_options *o = it_options(hs);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *tx = it_connect_opts(o); /* caller-driven: reconnects only when driven */
    int from = it_states_settle(st);
    oocsi_client *old_rx = io_client("io_restart_old");
    it_inbox *old_in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(old_rx, ch, it_inbox_handler, old_in), OOCSI_OK);

    io_server_stop();
    /* drive tx until it notices the server is gone, then leave it alone */
    int off = it_states_wait_for(st, from, OOCSI_STATE_OFFLINE, IT_TIMEOUT * 2);
    assert_true(off >= 0);
    it_set_pumped(tx, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(oocsi_send_jsonf(tx, ch, "{\"offline\":%d}", i), OOCSI_OK);

    io_server_restart();
    oocsi_client *rx = io_client("io_restart_new");
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, in), OOCSI_OK);
    it_set_pumped(tx, 1);
    assert_true(it_states_wait_for(st, off + 1, OOCSI_STATE_CONNECTED, IO_START_TIMEOUT) > off);
    for (int i = 0; i < 5; i++)
        io_assert_num(io_msg(in, i, hs, ch)->data, "offline", i);

    /* the old background receiver is subscribed again on the new server */
    sub_query q = {rx, ch, oocsi_handle(old_rx)};
    assert_true(it_wait_until(subscribed_on_server, &q, IO_START_TIMEOUT));
    io_send(tx, ch, "{\"after\":\"restart\"}");
    int i = it_inbox_wait_str(old_in, "after", "restart", IT_TIMEOUT);
    assert_true(i >= 0);
    assert_string_equal(it_inbox_at(old_in, i)->sender, hs);
    io_assert_str(io_msg(in, 5, hs, ch)->data, "after", "restart");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(channel_both_ways_no_echo),
        IT_TEST(direct_messages),
        IT_TEST(several_handlers),
        IT_TEST(call_response),
        IT_TEST(variables_two_clients),
        IT_TEST(queries),
        IT_TEST(handles),
        IT_TEST(large_message),
        IT_TEST(burst_in_order),
        IT_TEST(reconnect_after_restart),
    };
    return cmocka_run_group_tests_name("interop.java_server", tests, io_group_setup, io_group_teardown);
}
