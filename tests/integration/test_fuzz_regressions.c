/*
 * Integration: regressions found by tests/fuzz/fuzz_client, with a server
 * line injected into the client (oocsi_hub_send_raw) and a raw peer on the
 * other side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* How many members of obj are named key. */
static int count_key(const cJSON *obj, const char *key)
{
    int n = 0;
    for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next)
        n += it->string && strcmp(it->string, key) == 0;
    return n;
}

typedef struct result {
    int done;
    int ids; /* _MESSAGE_ID members in the response data */
    int64_t r;
} result;

static void on_result(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c;
    result *res = user;
    if (response) {
        res->ids = count_key(oocsi_message_data(response), "_MESSAGE_ID");
        res->r = oocsi_message_get_int_or(response, "r", -1);
    }
    res->done = 1;
}

static int result_done(void *ctx)
{
    return ((result *)ctx)->done;
}

/* A response that repeats _MESSAGE_ID (JSON allows it; cJSON keeps every
 * copy): only the first copy was removed, so the call's result still
 * carried a _MESSAGE_ID. (The responder's side, a request repeating the
 * keys, is test_responder_with_repeated_call_keys in
 * test_custom_transport.c: the hub folds repeated keys on the way.) */
static void test_response_with_repeated_id(void **state)
{
    (void)state;
    char h[64], rh[64], ch[64], line[512];
    it_unique(h, sizeof h, "dupkeys");
    it_unique(rh, sizeof rh, "dupraw");
    it_unique(ch, sizeof ch, "dup_ch");
    oocsi_client *c = it_connect(h);
    it_raw *r = it_raw_connect(oocsi_hub_port(it_hub), rh);
    assert_non_null(r);
    assert_int_equal(it_raw_subscribe(r, ch), 0);

    /* The caller's side: the response repeats the id. */
    result res = {0, -1, 0};
    assert_int_equal(oocsi_call(c, ch, "dup", NULL, IT_TIMEOUT, on_result, &res), OOCSI_OK);
    cJSON *req = it_raw_next_json(r, IT_TIMEOUT);
    assert_non_null(req);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "_MESSAGE_ID"));
    assert_non_null(id);
    snprintf(line, sizeof line,
             "{\"_MESSAGE_ID\":\"%s\",\"r\":7,\"_MESSAGE_ID\":\"%s\",\"recipient\":\"%s\",\"timestamp\":1,"
             "\"sender\":\"%s\"}\n",
             id, id, h, rh);
    cJSON_Delete(req);
    assert_int_equal(oocsi_hub_send_raw(it_hub, h, line, strlen(line)), 0);
    assert_int_equal(it_wait_until(result_done, &res, IT_TIMEOUT), 1);
    assert_int_equal(res.r, 7);
    assert_int_equal(res.ids, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_response_with_repeated_id),
    };
    return cmocka_run_group_tests_name("integration.fuzz_regressions", tests, it_group_setup, it_group_teardown);
}
