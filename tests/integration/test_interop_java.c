/*
 * Interoperability with the reference Java OOCSI server: the library's API
 * against the real server, started from ../shared/reference on a loopback
 * port for this program (label `interop`). Skipped, saying why, when Java or
 * the reference folder is missing.
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#ifndef OOCSI_REFERENCE_DIR
#error "OOCSI_REFERENCE_DIR must name shared/reference"
#endif

static char url[64];
static const char *skip_reason;

/* The server (support_java.c: a free port, UTF-8, a bounded wait for the
 * welcome) for the whole group, with one user account. */
static int group_setup(void **state)
{
    int rc = it_java_start((const char *const[]){"-users", "alice:pw", NULL});
    if (rc == 1)
        skip_reason = it_java_skip_reason();
    (void)state;
    snprintf(url, sizeof url, "%s", it_url);
    return rc < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    it_java_stop();
    return 0;
}

/* A client of the Java server. */
static oocsi_client *java_client(const char *handle)
{
    if (skip_reason) {
        fprintf(stderr, "SKIP: %s\n", skip_reason);
        skip();
    }
    oocsi_client *c = NULL;
    oocsi_options *o = oocsi_options_new();
    oocsi_options_set_handle(o, handle);
    oocsi_options_add_endpoint(o, url);
    oocsi_options_set_logger(o, NULL, NULL);
    int rc = oocsi_connect(&c, o);
    oocsi_options_free(o);
    if (rc != OOCSI_OK)
        fail_msg("connect as %s: %s (%s)", handle, oocsi_strerror(rc), oocsi_last_error(NULL));
    return it_track(c);
}

static void channel_and_direct_messages(void **state)
{
    (void)state;
    char ch[64], a[64], b[64];
    it_unique(ch, sizeof ch, "ij_ch");
    it_unique(a, sizeof a, "ij_a");
    it_unique(b, sizeof b, "ij_b");
    oocsi_client *ca = java_client(a), *cb = java_client(b);
    it_inbox *chan_a = it_inbox_new(), *chan_b = it_inbox_new();
    assert_int_equal(oocsi_subscribe(ca, ch, it_inbox_handler, chan_a), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(cb, ch, it_inbox_handler, chan_b), OOCSI_OK);
    assert_int_equal(oocsi_send_json(ca, ch, "{\"n\":1,\"s\":\"caf\\u00e9\",\"big\":12345678901234}"), OOCSI_OK);
    assert_true(it_inbox_wait(chan_b, 1, IT_TIMEOUT));
    const it_msg *m = it_inbox_at(chan_b, 0);
    assert_string_equal(m->sender, a);
    assert_string_equal(m->recipient, ch);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(m->data, "n")->valuedouble, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m->data, "s")->valuestring, "caf\xc3\xa9");
    assert_true(m->timestamp > 0);
    /* no echo to the sender: b answers, a gets b's message first */
    assert_int_equal(oocsi_send_json(cb, ch, "{\"n\":2}"), OOCSI_OK);
    assert_true(it_inbox_wait(chan_a, 1, IT_TIMEOUT));
    assert_string_equal(it_inbox_at(chan_a, 0)->sender, b);
    /* a direct message arrives on the handle */
    it_inbox *direct = it_inbox_new();
    assert_int_equal(oocsi_subscribe(cb, b, it_inbox_handler, direct), OOCSI_OK);
    assert_int_equal(oocsi_send_json(ca, b, "{\"direct\":true}"), OOCSI_OK);
    assert_true(it_inbox_wait(direct, 1, IT_TIMEOUT));
    assert_string_equal(it_inbox_at(direct, 0)->recipient, b);
}

/* The reference server's filter/transform subscriptions: the expression may
 * hold spaces; deliveries carry the subscription string as recipient. */
static void filter_subscription(void **state)
{
    (void)state;
    char ch[64], sub[160];
    it_unique(ch, sizeof ch, "ij_filter");
    snprintf(sub, sizeof sub, "%s[filter(size > 9 && size < 22);transform(twice,size * 2)]", ch);
    oocsi_client *rx = java_client(NULL), *tx = java_client(NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, sub, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_send_json(tx, ch, "{\"size\":5}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(tx, ch, "{\"size\":15}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(tx, ch, "{\"size\":30,\"last\":true}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(tx, ch, "{\"size\":10}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 2, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_count(in), 2);
    const it_msg *m = it_inbox_at(in, 0);
    assert_string_equal(m->recipient, sub);
    IT_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(m->data, "size")->valuedouble, 15, 1e-9);
    IT_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(m->data, "twice")->valuedouble, 30, 1e-3);
    IT_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, 1)->data, "size")->valuedouble, 10, 1e-9);
    assert_int_equal(oocsi_unsubscribe(rx, sub), OOCSI_OK);
    /* Spaces stay refused outside the brackets. */
    assert_int_equal(oocsi_subscribe(rx, "a b[filter(x > 1)]", it_inbox_handler, in), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe(rx, "ab[filter(x > 1)] ", it_inbox_handler, in), OOCSI_ERR_INVAL);
}

static void square(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c, (void)user;
    int64_t x = oocsi_message_get_int_or(req, "x", 0);
    cJSON_AddNumberToObject(response, "result", (double)(x * x));
}

static void call_and_response(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "ij_calc");
    oocsi_client *responder = java_client("ij_responder_###");
    oocsi_client *caller = java_client("ij_caller_###");
    it_loop_start(responder);
    assert_int_equal(oocsi_register(responder, ch, "square", square, NULL), OOCSI_OK);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddNumberToObject(req, "x", 12);
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(caller, ch, "square", req, IT_TIMEOUT, &resp), OOCSI_OK);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(resp, "result")->valuedouble, 144);
    cJSON_Delete(resp);
    /* no responder for that name: a timeout, not a wrong answer */
    resp = NULL;
    assert_int_equal(oocsi_call_and_wait(caller, ch, "cube", req, 300, &resp), OOCSI_ERR_TIMEOUT);
    assert_null(resp);
    cJSON_Delete(req);
}

static void variables_agree(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "ij_var");
    oocsi_client *c1 = java_client("ij_var1_###"), *c2 = java_client("ij_var2_###");
    it_inbox *seen = it_inbox_new();
    oocsi_variable *v1 = oocsi_variable_new(c1, ch, "level");
    oocsi_variable *v2 = oocsi_variable_new(c2, ch, "level");
    assert_int_equal(oocsi_subscribe(c2, ch, it_inbox_handler, seen), OOCSI_OK);
    assert_int_equal(oocsi_variable_set(v1, 42.5), OOCSI_OK);
    assert_true(it_inbox_wait(seen, 1, IT_TIMEOUT)); /* dispatched after the variable's handler */
    IT_ASSERT_NEAR(oocsi_variable_get(v2), 42.5, 1e-9);
    oocsi_variable_free(v1);
    oocsi_variable_free(v2);
}

static void queries(void **state)
{
    (void)state;
    char ch[64], h[64];
    it_unique(ch, sizeof ch, "ij_q");
    it_unique(h, sizeof h, "ij_query");
    oocsi_client *c = java_client(h);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    char *out = NULL;
    assert_int_equal(oocsi_clients(c, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(strstr(out, h));
    oocsi_free(out);
    assert_int_equal(oocsi_channels(c, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(strstr(out, ch));
    oocsi_free(out);
    assert_int_equal(oocsi_channel_subscribers(c, ch, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(strstr(out, h));
    oocsi_free(out);
}

static void handles_as_the_server_sees_them(void **state)
{
    (void)state;
    char h[64];
    it_unique(h, sizeof h, "ij_taken");
    java_client(h);
    /* taken */
    oocsi_client *c = NULL;
    oocsi_options *o = oocsi_options_new();
    oocsi_options_set_handle(o, h);
    oocsi_options_add_endpoint(o, url);
    oocsi_options_set_logger(o, NULL, NULL);
    assert_int_equal(oocsi_connect(&c, o), OOCSI_ERR_HANDLE_TAKEN);
    /* passwords: wrong, then right */
    oocsi_options_set_handle(o, "alice:nope");
    assert_int_equal(oocsi_connect(&c, o), OOCSI_ERR_AUTH);
    assert_non_null(strstr(oocsi_last_error(NULL), "password"));
    oocsi_options_set_handle(o, "alice:pw");
    assert_int_equal(oocsi_connect(&c, o), OOCSI_OK);
    assert_string_equal(oocsi_handle(c), "alice");
    oocsi_close(c);
    oocsi_options_free(o);
    /* generated and '#' handles are what the server welcomed */
    oocsi_client *g = java_client(NULL);
    assert_int_equal(strncmp(oocsi_handle(g), "OOCSIClient_", 12), 0);
    oocsi_client *d = java_client("ij_digits_###");
    assert_int_equal(strlen(oocsi_handle(d)), strlen("ij_digits_###"));
    assert_null(strchr(oocsi_handle(d), '#'));
}

/* The reference Python client as a peer, through the Java server: messages
 * both ways and a call to a Python responder. */
static void python_peer(void **state)
{
    (void)state;
    char ch_in[64], ch_out[64], port[16];
    it_unique(ch_in, sizeof ch_in, "ij_py_in");
    it_unique(ch_out, sizeof ch_out, "ij_py_out");
    oocsi_client *c = java_client("ij_with_python");
    it_loop_start(c);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch_out, it_inbox_handler, in), OOCSI_OK);
    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "SKIP: no /usr/bin/python3 for the Python peer\n");
        skip();
    }
    snprintf(port, sizeof port, "%s", strrchr(url, ':') + 1);
    it_proc *py =
        it_proc_startv("/usr/bin/python3", NULL,
                       (const char *const[]){OOCSI_PYTHON_PEER, OOCSI_REFERENCE_DIR, port, ch_in, ch_out, NULL});
    if (!it_proc_wait_text(py, 1, "ready", IT_JAVA_START_TIMEOUT))
        fail_msg("the Python peer did not start:\n%s\n%s", it_buf_text(&py->out), it_buf_text(&py->err));
    /* Python -> C */
    assert_true(it_inbox_wait(in, 1, IT_TIMEOUT));
    const it_msg *m = it_inbox_at(in, 0);
    assert_string_equal(m->sender, "py_peer");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m->data, "from")->valuestring, "python");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(m->data, "n")->valuedouble, 7);
    /* C -> Python */
    assert_int_equal(oocsi_send_json(c, ch_in, "{\"hello\":\"from C\"}"), OOCSI_OK);
    assert_true(it_proc_wait_text(py, 1, "\"hello\": \"from C\"", IT_TIMEOUT));
    assert_true(it_proc_wait_text(py, 1, "\"sender\": \"ij_with_python\"", IT_TIMEOUT));
    /* C calls a Python responder */
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    cJSON_AddNumberToObject(req, "x", 21);
    assert_int_equal(oocsi_call_and_wait(c, ch_in, "double", req, IT_TIMEOUT, &resp), OOCSI_OK);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(resp, "doubled")->valuedouble, 42);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    assert_int_equal(oocsi_send_json(c, ch_in, "{\"quit\":true}"), OOCSI_OK);
    assert_int_equal(it_proc_wait_exit(py, IT_TIMEOUT * 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(channel_and_direct_messages),
        IT_TEST(filter_subscription),
        IT_TEST(call_and_response),
        IT_TEST(variables_agree),
        IT_TEST(queries),
        IT_TEST(handles_as_the_server_sees_them),
        IT_TEST(python_peer),
    };
    return cmocka_run_group_tests_name("interop.java_server", tests, group_setup, group_teardown);
}
