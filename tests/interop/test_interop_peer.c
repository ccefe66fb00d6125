/*
 * liboocsi and a reference client as peers through the reference Java
 * server: OOCSI_INTEROP_PEER=python runs peer.py on the reference Python
 * client, OOCSI_INTEROP_PEER=java runs InteropPeer.java on the reference Java
 * client (compiled here at test time; skipped without javac). The peer is
 * one child process for the whole program; it prints what it sees as JSON
 * lines, which the tests read through a pipe, and takes commands as messages
 * on PREFIX_in.
 */
#include "interop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *lang; /* "python" or "java" */
static char ch_out[80], ch_peer_calls[96], ch_c_calls[96], ch_var[80];
static io_ref_peer peer; /* peer.py or InteropPeer */

/* The peer, started on first use and kept for the whole program. Skips the
 * test when the server or the peer's tools are missing. */
static io_peer *the_peer(void)
{
    return io_ref_peer_use(&peer);
}

static int group_setup(void **state)
{
    lang = getenv("OOCSI_INTEROP_PEER");
    if (lang == NULL || (strcmp(lang, "java") != 0 && strcmp(lang, "python") != 0))
        lang = "python";
    char base[32];
    snprintf(base, sizeof base, "io_%s", lang);
    io_ref_peer_init(&peer, strcmp(lang, "java") == 0 ? "InteropPeer" : "python", "java-peer", base, "peer");
    snprintf(ch_out, sizeof ch_out, "%s_out", peer.prefix);
    snprintf(ch_peer_calls, sizeof ch_peer_calls, "%s_peer_calls", peer.prefix);
    snprintf(ch_c_calls, sizeof ch_c_calls, "%s_c_calls", peer.prefix);
    snprintf(ch_var, sizeof ch_var, "%s_var", peer.prefix);
    return io_group_setup(state);
}

static int group_teardown(void **state)
{
    io_ref_peer_release(&peer); /* killed if a failed test left it running */
    return io_group_teardown(state);
}

/* The next "message" line of the peer whose data has key == value. */
static cJSON *peer_message(io_peer *p, const char *key, const char *value)
{
    for (;;) {
        cJSON *ev = io_peer_event(p, "message", IT_TIMEOUT * 2);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "data"), key);
        if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0)
            return ev;
        cJSON_Delete(ev);
    }
}

/* A message the peer's client sent reaches a C subscriber with its sender,
 * channel and every value (numbers, boolean, non-ASCII text). */
static void peer_to_c_message(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_rx");
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch_out, it_inbox_handler, in), OOCSI_OK);
    io_send(c, peer.in, "{\"cmd\":\"send\"}");
    const it_msg *m = io_msg(in, 0, peer.handle, ch_out);
    io_assert_str(m->data, "from", lang);
    io_assert_num(m->data, "n", 7);
    io_assert_num(m->data, "ratio", 0.25);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m->data, "ok")));
    io_assert_str(m->data, "text", "h\xc3\xa9llo w\xc3\xb6rld");
    cJSON_Delete(io_peer_event(p, "sent", IT_TIMEOUT));
}

/* A message from a C client reaches the peer's client: the peer prints the
 * sender, the channel and the data it got. */
static void c_to_peer_message(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_tx");
    io_send(c, peer.in, "{\"hello\":\"from C\",\"n\":42,\"text\":\"\\u00fcn\\u00efcode\",\"list\":[1,2,3]}");
    cJSON *ev = peer_message(p, "hello", "from C");
    io_assert_str(ev, "sender", oocsi_handle(c));
    io_assert_str(ev, "recipient", peer.in);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
    io_assert_num(data, "n", 42);
    io_assert_str(data, "text",
                  "\xc3\xbc"
                  "n\xc3\xaf"
                  "code");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(data, "list"), "[1,2,3]");
    cJSON_Delete(ev);
}

/* A C caller gets the answer of the peer's responder. */
static void c_calls_peer(void **state)
{
    (void)state;
    the_peer();
    oocsi_client *c = io_client("io_c_caller");
    cJSON *req = it_json("{\"a\":2,\"b\":3.5}"), *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, ch_peer_calls, "add", req, IT_TIMEOUT * 2, &resp), OOCSI_OK);
    io_assert_num(resp, "sum", 5.5);
    io_assert_str(resp, "by", lang);
    cJSON_Delete(resp);
    cJSON_Delete(req);
}

/* The peer's client calls a C responder and prints the answer. */
static void peer_calls_c(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_responder");
    assert_int_equal(oocsi_register(c, ch_c_calls, "mul", io_mul_responder, NULL), OOCSI_OK);
    io_send(c, peer.in, "{\"cmd\":\"call\",\"x\":6,\"y\":7}");
    cJSON *ev = io_peer_event(p, "response", IT_TIMEOUT * 3);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
    if (!cJSON_IsObject(data))
        fail_msg("the peer got no response to its call");
    io_assert_num(data, "product", 42);
    io_assert_str(data, "by", oocsi_handle(c));
    cJSON_Delete(ev);
}

/* A variable on one channel and key, shared by C and the peer's client:
 * each side's value reaches the other. */
static void shared_variable(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_var");
    oocsi_variable *v = oocsi_variable_new(c, ch_var, "level");
    assert_non_null(v);
    it_inbox *seen = it_inbox_new(); /* dispatched after the variable's handler */
    assert_int_equal(oocsi_subscribe(c, ch_var, it_inbox_handler, seen), OOCSI_OK);

    assert_int_equal(oocsi_variable_set(v, 12.5), OOCSI_OK);
    /* The Java client runs each channel's handlers on their own thread: a
     * var_get sent after the value may be answered before the variable took
     * it. Ask again until it has (bounded). */
    double got = NAN;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 2; got != 12.5 && it_now_ms() < until;) {
        io_send(c, peer.in, "{\"cmd\":\"var_get\"}");
        cJSON *ev = io_peer_event(p, "variable", IT_TIMEOUT * 2);
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(ev, "value");
        got = cJSON_IsNumber(val) ? val->valuedouble : NAN;
        cJSON_Delete(ev);
    }
    IT_ASSERT_NEAR(got, 12.5, 1e-9);

    io_send(c, peer.in, "{\"cmd\":\"var_set\",\"value\":-4.75}");
    const it_msg *m = io_msg(seen, 0, peer.handle, ch_var);
    io_assert_num(m->data, "level", -4.75);
    IT_ASSERT_NEAR(oocsi_variable_get(v), -4.75, 1e-9);
    oocsi_variable_free(v);
}

/* The peer leaves on the "quit" command, with exit code 0. */
static void peer_quits(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_quit");
    io_send(c, peer.in, "{\"cmd\":\"quit\"}");
    assert_int_equal(io_peer_wait_exit(p, IT_TIMEOUT * 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(peer_to_c_message), IT_TEST(c_to_peer_message), IT_TEST(c_calls_peer),
        IT_TEST(peer_calls_c),      IT_TEST(shared_variable),   IT_TEST(peer_quits),
    };
    const char *peer_name = getenv("OOCSI_INTEROP_PEER");
    return cmocka_run_group_tests_name(peer_name && strcmp(peer_name, "java") == 0 ? "interop.java_peer"
                                                                                   : "interop.python_peer",
                                       tests, group_setup, group_teardown);
}
