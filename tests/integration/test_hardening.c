/*
 * Hostile or careless peers: call ids that reveal nothing, numbers a variable
 * cannot hold.
 */
#include <stdio.h>
#include <string.h>

#include "support.h"

/* Records the _MESSAGE_ID of each request. */
static char ids[50][64];
static int n_ids;

static void record_id(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)response;
    (void)user;
    const char *id = oocsi_message_get_string(req, "_MESSAGE_ID");
    if (id && n_ids < 50)
        snprintf(ids[n_ids++], sizeof ids[0], "%s", id);
}

/* Call ids are version-4 UUIDs, all different. */
static void call_ids_are_fresh_uuids(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "hd_ids");
    oocsi_client *responder = it_connect_bg(NULL);
    oocsi_client *caller = it_connect(NULL);
    assert_int_equal(oocsi_register(responder, ch, "id", record_id, NULL), OOCSI_OK);
    n_ids = 0;
    for (int i = 0; i < 20; i++) {
        cJSON *resp = NULL;
        assert_int_equal(oocsi_call_and_wait(caller, ch, "id", NULL, IT_TIMEOUT, &resp), OOCSI_OK);
        cJSON_Delete(resp);
    }
    assert_int_equal(n_ids, 20);
    for (int i = 0; i < n_ids; i++) {
        assert_int_equal(strlen(ids[i]), 36);
        assert_int_equal(ids[i][14], '4'); /* version 4 */
        assert_non_null(strchr("89ab", ids[i][19]));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
    }
}

/* A peer's infinity (1e999) does not reach a variable: it keeps its value. */
static void variables_refuse_infinity_from_peers(void **state)
{
    (void)state;
    if (it_transport_is_web())
        skip(); /* raw lines are line-protocol frames */
    char ch[64], handle[64];
    it_unique(ch, sizeof ch, "hd_inf");
    it_unique(handle, sizeof handle, "hd_var");
    oocsi_client *c = it_connect(handle);
    it_inbox *in = it_inbox_new();
    oocsi_variable *v = oocsi_variable_new(c, ch, "x");
    assert_non_null(v);
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_variable_set(v, 5.0), OOCSI_OK);
    char line[256];
    int n = snprintf(line, sizeof line,
                     "{\"x\":1e999,\"k\":\"inf\",\"sender\":\"peer\",\"recipient\":\"%s\",\"timestamp\":1}\n"
                     "{\"x\":-1e999,\"k\":\"-inf\",\"sender\":\"peer\",\"recipient\":\"%s\",\"timestamp\":2}\n",
                     ch, ch);
    assert_int_equal(oocsi_hub_send_raw(it_hub, handle, line, (size_t)n), 0);
    assert_true(it_inbox_wait_str(in, "k", "-inf", IT_TIMEOUT) >= 0);
    IT_ASSERT_NEAR(oocsi_variable_get(v), 5.0, 1e-12);
    oocsi_variable_free(v);
}

/* Careless teardown: a client closed twice, a variable freed after its
 * client. Reported (the sanitizer build would catch any read of freed
 * memory), never a hang or a crash. */
static void careless_teardown_is_reported(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "hd_teardown");
    oocsi_client *c = NULL;
    oocsi_options *o = it_options(NULL);
    assert_int_equal(oocsi_connect(&c, o), OOCSI_OK);
    oocsi_options_free(o);
    oocsi_variable *v = oocsi_variable_new(c, ch, "x");
    assert_non_null(v);
    oocsi_close(c);
    oocsi_variable_free(v); /* its client is gone: nothing left to unsubscribe */
    assert_non_null(strstr(oocsi_last_error(NULL), "closed already"));
    oocsi_close(c);
    assert_non_null(strstr(oocsi_last_error(NULL), "closed twice"));
}

static int log_names_delay(void *ctx)
{
    return it_log_contains(ctx, OOCSI_LOG_WARN, "_DELAY");
}

/* The server's refusals on an open connection reach the application (log,
 * oocsi_last_error) and are never taken for a query's answer. */
static void server_refusals_are_reported(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "hd_refused");
    it_log *log = it_log_new();
    oocsi_options *o = it_options(NULL);
    assert_int_equal(oocsi_options_set_logger(o, it_log_fn, log), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, it_inbox_new()), OOCSI_OK);
    assert_int_equal(oocsi_send_json(c, ch, "{\"_DELAY\":-5}"), OOCSI_OK);
    if (!it_transport_is_web()) {
        /* A query right behind it gets its own answer. */
        char *out = NULL;
        assert_int_equal(oocsi_channel_subscribers(c, ch, IT_TIMEOUT, &out), OOCSI_OK);
        assert_string_equal(out, oocsi_handle(c));
        oocsi_free(out);
    }
    assert_true(it_wait_until(log_names_delay, log, IT_TIMEOUT));
    assert_true(it_log_contains(log, OOCSI_LOG_WARN, "the server refused a request"));
    assert_non_null(strstr(oocsi_last_error(c), "_DELAY"));
    assert_int_equal(oocsi_is_connected(c), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(call_ids_are_fresh_uuids),
        IT_TEST(variables_refuse_infinity_from_peers),
        IT_TEST(careless_teardown_is_reported),
        IT_TEST(server_refusals_are_reported),
    };
    return cmocka_run_group_tests_name("hardening", tests, it_group_setup, it_group_teardown);
}
