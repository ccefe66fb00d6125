/*
 * The short API for scripts and examples: oocsi_connect_to() (handle and
 * server in one call), oocsi_send_jsonf(), the typed getters with a default,
 * and oocsi_run()/oocsi_stop().
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

/* oocsi_connect_to accepts what oocsi_options_add_endpoint accepts. */
static void connect_to_url_and_host_port(void **state)
{
    (void)state;
    char handle[64];
    it_unique(handle, sizeof handle, "qs_url");
    oocsi_client *c = NULL;
    assert_int_equal(oocsi_connect_to(&c, handle, it_url), OOCSI_OK);
    it_track(c);
    assert_string_equal(oocsi_handle(c), handle);
    assert_true(oocsi_is_connected(c));
    it_close(c);

    if (strcmp(it_transport_name(), "tcp") == 0) {
        /* "host:port" means tcp. */
        char hostport[64];
        snprintf(hostport, sizeof hostport, "127.0.0.1:%d", it_hub_port_in_use(it_hub));
        assert_int_equal(oocsi_connect_to(&c, handle, hostport), OOCSI_OK);
        it_track(c);
        assert_non_null(strstr(oocsi_endpoint(c), "tcp://127.0.0.1:"));
        it_close(c);
    }
}

/* An invalid handle or server fails before any connection. */
static void connect_to_rejects_bad_arguments(void **state)
{
    (void)state;
    oocsi_client *c = (oocsi_client *)&c; /* must stay untouched */
    oocsi_client *const marker = c;
    assert_int_equal(oocsi_connect_to(NULL, "x", it_url), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_connect_to(&c, "my lamp", it_url), OOCSI_ERR_INVAL);
    assert_ptr_equal(c, marker);
    assert_int_equal(oocsi_connect_to(&c, "qs_bad", "tcp://"), OOCSI_ERR_INVAL);
    assert_ptr_equal(c, marker);
    /* Nothing listens there: a connect attempt would give OOCSI_ERR_CONNECT. */
    char nowhere[64];
    snprintf(nowhere, sizeof nowhere, "127.0.0.1:%d", it_free_port());
    assert_int_equal(oocsi_connect_to(&c, "my lamp", nowhere), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_connect_to(&c, "qs_ok", nowhere), OOCSI_ERR_CONNECT);
}

/* A generated handle when none is given. */
static void connect_to_generates_a_handle(void **state)
{
    (void)state;
    oocsi_client *c = NULL;
    assert_int_equal(oocsi_connect_to(&c, NULL, it_url), OOCSI_OK);
    it_track(c);
    assert_int_equal(strncmp(oocsi_handle(c), "OOCSIClient_", 12), 0);
    assert_int_equal(strlen(oocsi_handle(c)), 12 + 15);
}

/* send_jsonf builds the text; getters with a default answer for present,
 * absent and mistyped keys. */
static int64_t got_int, got_missing;
static double got_double;
static const char *got_str_missing;
static char got_str[32];
static int got_bool, got_bool_mistyped, got_count, rc_bool_missing, rc_bool_mistyped, rc_double_missing;

static void on_quick(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)user;
    got_int = oocsi_message_get_int_or(m, "n", -1);
    got_missing = oocsi_message_get_int_or(m, "absent", 77);
    got_double = oocsi_message_get_double_or(m, "d", -1.0);
    snprintf(got_str, sizeof got_str, "%s", oocsi_message_get_string_or(m, "s", "none"));
    got_str_missing = oocsi_message_get_string_or(m, "n", "not a string");
    got_bool = oocsi_message_get_bool_or(m, "b", -1);
    got_bool_mistyped = oocsi_message_get_bool_or(m, "s", 5);
    int b;
    double d;
    rc_bool_missing = oocsi_message_get_bool(m, "absent", &b);
    rc_bool_mistyped = oocsi_message_get_bool(m, "s", &b);
    rc_double_missing = oocsi_message_get_double(m, "absent", &d);
    got_count++;
    it_notify();
}

static int quick_arrived(void *ctx)
{
    (void)ctx;
    return got_count > 0;
}

static void send_jsonf_and_getters_with_default(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "qs_ch");
    oocsi_client *rx = it_connect(NULL);
    oocsi_client *tx = it_connect(NULL);
    got_count = 0;
    assert_int_equal(oocsi_subscribe(rx, ch, on_quick, NULL), OOCSI_OK);
    assert_int_equal(oocsi_send_jsonf(tx, ch, "{\"n\":%d,\"d\":%.1f,\"s\":\"%s\",\"b\":%s}", 42, 2.5, "hi", "true"),
                     OOCSI_OK);
    assert_true(it_wait_until(quick_arrived, NULL, IT_TIMEOUT));
    assert_int_equal(got_int, 42);
    assert_int_equal(got_missing, 77);
    IT_ASSERT_NEAR(got_double, 2.5, 1e-9);
    assert_string_equal(got_str, "hi");
    assert_string_equal(got_str_missing, "not a string");
    assert_int_equal(got_bool, 1);
    assert_int_equal(got_bool_mistyped, 5);
    /* Without a default: a missing key and a wrong type are told apart. */
    assert_int_equal(rc_bool_missing, OOCSI_ERR_NOT_FOUND);
    assert_int_equal(rc_bool_mistyped, OOCSI_ERR_UNSUPPORTED);
    assert_int_equal(rc_double_missing, OOCSI_ERR_NOT_FOUND);

    /* Not an object, or not JSON at all. */
    assert_int_equal(oocsi_send_jsonf(tx, ch, "[%d]", 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_jsonf(tx, ch, "{%s}", "broken"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_jsonf(NULL, ch, "{}"), OOCSI_ERR_INVAL);
    /* Longer than the on-stack buffer. */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    got_count = 0;
    assert_int_equal(oocsi_send_jsonf(tx, ch, "{\"n\":7,\"s\":\"%s\"}", big), OOCSI_OK);
    assert_true(it_wait_until(quick_arrived, NULL, IT_TIMEOUT));
    assert_int_equal(got_int, 7);
    /* The getters are NULL-safe. */
    assert_int_equal(oocsi_message_get_int_or(NULL, "n", 3), 3);
    assert_string_equal(oocsi_message_get_string_or(NULL, NULL, "d"), "d");
}

/* oocsi_run returns after oocsi_stop from a handler, and a stop that came
 * before run makes run return at once; the flag is then cleared. */
static void on_stop_request(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)m;
    int *seen = user;
    (*seen)++;
    oocsi_stop(c);
}

static void run_until_stop(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "qs_run");
    oocsi_client *rx = it_connect(NULL);
    oocsi_client *tx = it_connect_bg(NULL);
    it_set_pumped(rx, 0);
    int seen = 0;
    assert_int_equal(oocsi_subscribe(rx, ch, on_stop_request, &seen), OOCSI_OK);
    assert_int_equal(oocsi_send_json(tx, ch, "{\"stop\":true}"), OOCSI_OK);
    assert_int_equal(oocsi_run(rx), OOCSI_OK);
    assert_int_equal(seen, 1);

    assert_int_equal(oocsi_stop(rx), OOCSI_OK);
    assert_int_equal(oocsi_run(rx), OOCSI_OK); /* returns at once */
    assert_int_equal(oocsi_stop(NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_run(NULL), OOCSI_ERR_INVAL);

    /* With the background thread running, run refuses. */
    it_loop_start(rx);
    assert_int_equal(oocsi_run(rx), OOCSI_ERR_INVAL);
    it_loop_stop(rx);
}

/* oocsi_run ends with OOCSI_ERR_CLOSED once the client gives up. */
static void run_ends_when_the_client_gives_up(void **state)
{
    (void)state;
    char url[64];
    oocsi_hub *h = it_hub_start_extra(NULL, url, sizeof url);
    assert_non_null(h);
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    oocsi_options_set_logger(o, NULL, NULL);
    oocsi_options_set_max_reconnect_attempts(o, 0);
    oocsi_client *c = it_connect_opts(o);
    it_set_pumped(c, 0);
    oocsi_hub_free(h); /* the server goes away; no reconnect allowed */
    assert_int_equal(oocsi_run(c), OOCSI_ERR_CLOSED);
}

/* A responder that sets a key the request already had replaces it: the
 * answer carries the key once, with the responder's value. */
static void square_into_x(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    int64_t x = oocsi_message_get_int_or(req, "x", 0);
    cJSON_AddNumberToObject(response, "result", (double)(x * x));
    cJSON_AddNumberToObject(response, "x", (double)(x + 1));
}

static void responder_replaces_request_keys(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "qs_call");
    oocsi_client *responder = it_connect_bg(NULL);
    oocsi_client *caller = it_connect(NULL);
    assert_int_equal(oocsi_register(responder, ch, "square", square_into_x, NULL), OOCSI_OK);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddNumberToObject(req, "x", 3);
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(caller, ch, "square", req, IT_TIMEOUT, &resp), OOCSI_OK);
    cJSON_Delete(req);
    assert_non_null(resp);
    int count = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, resp)
    {
        if (strcmp(it->string, "x") == 0) {
            count++;
            assert_int_equal((int)it->valuedouble, 4);
        }
    }
    assert_int_equal(count, 1);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(resp, "result")->valuedouble, 9);
    cJSON_Delete(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(connect_to_url_and_host_port),
        IT_TEST(connect_to_rejects_bad_arguments),
        IT_TEST(connect_to_generates_a_handle),
        IT_TEST(send_jsonf_and_getters_with_default),
        IT_TEST(run_until_stop),
        IT_TEST(run_ends_when_the_client_gives_up),
        IT_TEST(responder_replaces_request_keys),
    };
    return cmocka_run_group_tests_name("quickstart", tests, it_group_setup, it_group_teardown);
}
