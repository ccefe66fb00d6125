/*
 * Integration: the bound of received messages waiting for their handlers
 * (oocsi_options_set_pending_limit), on every transport.
 *
 * A loop that runs handlers stops reading at the bound and loses nothing; an
 * application blocked in a call still gets its answer, and the messages past
 * the bound are dropped with a warning instead of piling up without limit.
 */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FLOOD = 400, PAD = 1000, LIMIT = 64 * 1024 };

static char flood_channel[64];

static void send_padded(oocsi_client *c, const char *channel, int i)
{
    char pad[PAD + 1];
    memset(pad, 'p', PAD);
    pad[PAD] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "i", i);
    cJSON_AddStringToObject(o, "pad", pad);
    assert_int_equal(oocsi_send(c, channel, o), OOCSI_OK);
    cJSON_Delete(o);
}

/* Floods flood_channel, then answers: the answer comes after the flood. */
static void flooding_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)req;
    (void)user;
    for (int i = 0; i < FLOOD; i++)
        send_padded(c, flood_channel, i);
    cJSON_AddStringToObject(response, "done", "yes");
}

static oocsi_client *limited_client(it_inbox *in, it_log *log)
{
    oocsi_options *o = it_options(NULL);
    assert_int_equal(oocsi_options_set_pending_limit(o, LIMIT), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, it_log_fn, log), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    assert_int_equal(oocsi_subscribe(c, flood_channel, it_inbox_handler, in), OOCSI_OK);
    return c;
}

static void test_blocked_call_bounds_waiting_messages(void **state)
{
    (void)state;
    char svc[64];
    it_unique(flood_channel, sizeof flood_channel, "pendflood");
    it_unique(svc, sizeof svc, "pendsvc");
    oocsi_client *r = it_connect_bg(NULL);
    assert_int_equal(oocsi_register(r, svc, "flood", flooding_responder, NULL), OOCSI_OK);
    assert_int_equal(it_wait_subscribed(it_hub, oocsi_handle(r), svc, IT_TIMEOUT), 1);

    it_inbox *in = it_inbox_new();
    it_log *log = it_log_new();
    oocsi_client *c = limited_client(in, log);
    it_set_pumped(c, 0); /* nothing runs its handlers while it is blocked */
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, svc, "flood", NULL, 3 * IT_TIMEOUT, &resp), OOCSI_OK);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(resp, "done"));
    cJSON_Delete(resp);
    assert_true(it_log_contains(log, OOCSI_LOG_WARN, "oocsi_options_set_pending_limit"));

    /* The handlers run now: what was kept, in order, and no more than the bound. */
    while (oocsi_loop(c, 0) == OOCSI_OK && it_inbox_count(in) < FLOOD &&
           !it_log_contains(log, OOCSI_LOG_WARN, "were dropped"))
        ;
    int got = it_inbox_count(in);
    if (got <= 0 || got * PAD > 2 * LIMIT)
        fail_msg("%s: %d of %d flooded messages kept with a %d-byte bound", it_transport_name(), got, FLOOD, LIMIT);
    for (int i = 0; i < got; i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, i)->data, "i");
        assert_true(cJSON_IsNumber(n));
        assert_int_equal(n->valueint, i);
    }
    assert_true(it_log_contains(log, OOCSI_LOG_WARN, "were dropped"));
    it_set_pumped(c, 1);
}

static void test_loop_loses_nothing(void **state)
{
    (void)state;
    it_unique(flood_channel, sizeof flood_channel, "pendloop");
    it_inbox *in = it_inbox_new();
    it_log *log = it_log_new();
    (void)limited_client(in, log);
    oocsi_client *p = it_connect_bg(NULL);
    for (int i = 0; i < FLOOD; i++)
        send_padded(p, flood_channel, i);
    /* it_wait_until drives c's loop: reading stops at the bound until the
     * handlers ran, and every message arrives. */
    if (it_inbox_wait(in, FLOOD, 6 * IT_TIMEOUT) != 1)
        fail_msg("%s: %d of %d messages arrived", it_transport_name(), it_inbox_count(in), FLOOD);
    assert_false(it_log_contains(log, OOCSI_LOG_WARN, "dropp"));
}

static void test_pending_limit_argument(void **state)
{
    (void)state;
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_set_pending_limit(o, 0), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "max_bytes"));
    assert_int_equal(oocsi_options_set_pending_limit(NULL, 1), OOCSI_ERR_INVAL);
    oocsi_options_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_blocked_call_bounds_waiting_messages),
        IT_TEST(test_loop_loses_nothing),
        IT_TEST(test_pending_limit_argument),
    };
    return cmocka_run_group_tests_name("integration.pending", tests, it_group_setup, it_group_teardown);
}
