/*
 * WebSocket framing corner cases of the ws transport: an empty text message
 * carries nothing and must not disturb the messages after it (it once made
 * the next read fail with a protocol error, a reconnect and lost messages).
 */
#include <stdio.h>
#include <string.h>

#include "support.h"

static void empty_frame_then_a_message(void **state)
{
    (void)state;
    char url[64], handle[64];
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.ws_port = 0;
    oocsi_hub *h = oocsi_hub_start(&ho);
    assert_non_null(h);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", oocsi_hub_ws_port(h));
    it_unique(handle, sizeof handle, "wsf");

    it_states *st = it_states_new();
    it_inbox *in = it_inbox_new();
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_set_handle(o, handle), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    assert_true(oocsi_hub_wait_client(h, handle, IT_TIMEOUT));

    char msg[256];
    int n =
        snprintf(msg, sizeof msg,
                 "{\"data\":{\"k\":\"after-empty\"},\"recipient\":\"%s\",\"sender\":\"peer\",\"timestamp\":1}", handle);
    /* Two empty frames, then a message, then another empty one and a message. */
    assert_int_equal(oocsi_hub_send_raw(h, handle, "", 0), 0);
    assert_int_equal(oocsi_hub_send_raw(h, handle, "", 0), 0);
    assert_int_equal(oocsi_hub_send_raw(h, handle, msg, (size_t)n), 0);
    assert_int_equal(oocsi_hub_send_raw(h, handle, "", 0), 0);
    n = snprintf(msg, sizeof msg,
                 "{\"data\":{\"k\":\"second\"},\"recipient\":\"%s\",\"sender\":\"peer\",\"timestamp\":2}", handle);
    assert_int_equal(oocsi_hub_send_raw(h, handle, msg, (size_t)n), 0);

    assert_true(it_inbox_wait_str(in, "k", "after-empty", IT_TIMEOUT) >= 0);
    assert_true(it_inbox_wait_str(in, "k", "second", IT_TIMEOUT) >= 0);
    /* No drop: the only state change is none at all after the connect. */
    for (int i = 0; i < it_states_count(st); i++)
        assert_int_not_equal(it_states_at(st, i, NULL), OOCSI_STATE_OFFLINE);
    assert_true(oocsi_is_connected(c));
    it_close(c);
    oocsi_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(empty_frame_then_a_message),
    };
    return cmocka_run_group_tests_name("ws_frames", tests, it_group_setup, it_group_teardown);
}
