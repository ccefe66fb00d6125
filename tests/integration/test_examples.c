/*
 * Every example program runs against a hub and does what its header says:
 * the senders' messages reach the receivers, the call gets its answers, the
 * variables agree, the logger sees the library's lines, the reconnecting
 * client gives up when told to, the heyOOCSI device announces itself.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

#ifndef OOCSI_EXAMPLES_DIR
#error "OOCSI_EXAMPLES_DIR must name the folder of the built examples"
#endif

/* Generous: a child may start slowly under sanitizers on a busy machine. */
#define EX_TIMEOUT 20000

static it_proc *run(const char *name, const char *const *args)
{
    char path[512];
    snprintf(path, sizeof path, "%s/oocsi-example-%s", OOCSI_EXAMPLES_DIR, name);
    return it_proc_startv(path, NULL, args);
}
#define RUN(name, ...) run(name, (const char *const[]){__VA_ARGS__, NULL})

/* Waits for the exit and asserts its code, showing the output if it differs. */
static it_proc *expect_exit(it_proc *p, int code)
{
    int rc = it_proc_wait_exit(p, EX_TIMEOUT);
    if (rc != code)
        fail_msg("exit %d, expected %d; stdout:\n%s\nstderr:\n%s", rc, code, it_buf_text(&p->out),
                 it_buf_text(&p->err));
    return p;
}

#define ASSERT_OUT(p, text) assert_non_null(strstr(it_buf_text(&(p)->out), (text)))

static void channel_send_to_channel_receive(void **state)
{
    (void)state;
    it_proc *rx = RUN("channel-receive", it_url, "2");
    assert_true(it_proc_wait_text(rx, 1, "subscribed to testchannel", EX_TIMEOUT));
    expect_exit(RUN("channel-send", it_url, "2"), 0);
    expect_exit(rx, 0);
    assert_int_equal(it_count_lines(it_buf_text(&rx->out)), 3);
    ASSERT_OUT(rx, "from testsender -> {\"color\":");
    ASSERT_OUT(rx, "\"position\":");
}

static void direct_send_to_direct_receive(void **state)
{
    (void)state;
    it_proc *rx = RUN("direct-receive", it_url, "1");
    assert_true(it_proc_wait_text(rx, 1, "receiving as testreceiver", EX_TIMEOUT));
    it_proc *tx = expect_exit(RUN("direct-send", it_url, "1"), 0);
    ASSERT_OUT(tx, "to testreceiver -> {\"color\":");
    expect_exit(rx, 0);
    ASSERT_OUT(rx, "from testsender: color ");
}

static void call_response_answers_both_calls(void **state)
{
    (void)state;
    it_proc *p = expect_exit(RUN("call-response", it_url), 0);
    ASSERT_OUT(p, "\"newColor\":10");
    ASSERT_OUT(p, "\"newColor\":20");
    ASSERT_OUT(p, "OOCSIClient_");
}

static void variables_agree(void **state)
{
    (void)state;
    it_proc *p = expect_exit(RUN("variables", it_url), 0);
    ASSERT_OUT(p, "value of second variable: 100\n");
    ASSERT_OUT(p, "value of first variable: 200.1\n");
    ASSERT_OUT(p, "value of first variable: hello world\n");
    ASSERT_OUT(p, "python mode: here 150, the peer reads 180\n");
    ASSERT_OUT(p, "java mode: here 150, the peer reads 150\n");
    ASSERT_OUT(p, "throttled: here 5, the peer reads 5\n");
}

static void custom_logger_gets_the_lines(void **state)
{
    (void)state;
    it_proc *p = expect_exit(RUN("custom-logger", it_url), 0);
    ASSERT_OUT(p, "custom log (info): connected to ");
}

/* With 0 reconnect attempts it ends as soon as its server goes away. */
static void custom_reconnection_gives_up(void **state)
{
    (void)state;
    char url[64];
    oocsi_hub *h = it_hub_start_extra(NULL, url, sizeof url);
    assert_non_null(h);
    it_proc *p = RUN("custom-reconnection", url, "0");
    assert_true(it_proc_wait_text(p, 1, "connected (endpoint", EX_TIMEOUT));
    oocsi_hub_free(h);
    expect_exit(p, 1);
    ASSERT_OUT(p, "offline");
    ASSERT_OUT(p, "closed");
}

static void heyoocsi_device_announces_itself(void **state)
{
    (void)state;
    oocsi_client *c = it_connect(NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, "heyOOCSI!", it_inbox_handler, in), OOCSI_OK);
    it_proc *p = RUN("heyoocsi-device", it_url, "ex_device");
    assert_true(it_inbox_wait(in, 1, EX_TIMEOUT));
    const it_msg *m = it_inbox_at(in, 0);
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(m->data, "ex_device");
    assert_non_null(dev);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(dev, "components"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(dev, "properties"));
    /* Home Assistant turns the fan on; then asks for the devices again. */
    assert_int_equal(oocsi_send_json(c, "ex_device_fan", "{\"state\":true}"), OOCSI_OK);
    assert_true(it_proc_wait_text(p, 1, "the fan is on", EX_TIMEOUT));
    assert_int_equal(oocsi_send_json(c, "heyOOCSI?", "{\"homeassistant\":\"on\"}"), OOCSI_OK);
    assert_true(it_inbox_wait(in, 2, EX_TIMEOUT));
    const cJSON *again = cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, 1)->data, "ex_device");
    const cJSON *fan = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(again, "components"), "fan");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fan, "state"))); /* the description followed */
    kill(p->pid, SIGTERM);
    expect_exit(p, 0);
}

/* Lines on stdin become {"text": ...} on the chat channel; SIGTERM ends it. */
static void poll_loop_sends_stdin_lines(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "ex_chat");
    oocsi_client *c = it_connect(NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/oocsi-example-poll-loop", OOCSI_EXAMPLES_DIR);
    it_proc *p = it_proc_startv(path, "hello from stdin\n", (const char *const[]){it_url, "ex_poller", ch, NULL});
    assert_true(it_inbox_wait_str(in, "text", "hello from stdin", EX_TIMEOUT) >= 0);
    assert_string_equal(it_inbox_at(in, 0)->sender, "ex_poller");
    assert_true(it_proc_wait_text(p, 1, "stdin closed", EX_TIMEOUT));
    kill(p->pid, SIGTERM);
    expect_exit(p, 0);
}

/* ---- group behaviours (examples/behaviors/): spatial, awareness, state machine */

static void spatial_route_goes_through_the_middle(void **state)
{
    (void)state;
    it_proc *p = expect_exit(RUN("spatial-route", it_url), 0);
    ASSERT_OUT(p, "neighbours of spatial_a: [\"spatial_b\"]\n");
    ASSERT_OUT(p, "neighbours of spatial_b: [\"spatial_a\",\"spatial_c\"]\n");
    ASSERT_OUT(p, "from spatial_a to spatial_c: through spatial_b\n");
}

static void awareness_room_knows_the_members(void **state)
{
    (void)state;
    it_proc *p = expect_exit(RUN("awareness-room", it_url), 0);
    ASSERT_OUT(p, "aware_one knows 2 members\n");
    ASSERT_OUT(p, "aware_sensor says {\"temperature\":23,\"battery\":80}\n");
    ASSERT_OUT(p, "aware_two is happy\n");
}

static void statemachine_lamp_follows_its_transitions(void **state)
{
    (void)state;
    it_proc *p = expect_exit(RUN("statemachine-lamp", it_url), 0);
    ASSERT_OUT(p, "lamp refuses: oocsi_statemachine_set: no transition from \"dimmed\" to \"on\"\n");
    ASSERT_OUT(p, "lamp ends off after 6 commands\n");
}

/* Every server feature in one run: each step waits for its event. */
static void server_features_all_arrive(void **state)
{
    (void)state;
    it_proc *p = expect_exit(RUN("server-features", it_url), 0);
    ASSERT_OUT(p, "handled reading 1\nhandled reading 2\n");
    ASSERT_OUT(p, "over the limit: reading 3\nover the limit: reading 4\n");
    ASSERT_OUT(p, " joined sf_readings\n");
    ASSERT_OUT(p, " left sf_readings\n");
    ASSERT_OUT(p, "sf_news got the announcement\n");
    ASSERT_OUT(p, "sf_alerts got the announcement\n");
    ASSERT_OUT(p, "late subscriber got the retained status: open\n");
    ASSERT_OUT(p, "reminder channel: now\nreminder channel: later\n"); /* the delayed one last */
    ASSERT_OUT(p, "private channel sf_vault:opensesame: 42\n");
    ASSERT_OUT(p, "the client list names sf_late_");
    assert_null(strstr(it_buf_text(&p->out), "handled reading 3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(channel_send_to_channel_receive),
        IT_TEST(direct_send_to_direct_receive),
        IT_TEST(call_response_answers_both_calls),
        IT_TEST(variables_agree),
        IT_TEST(custom_logger_gets_the_lines),
        IT_TEST(custom_reconnection_gives_up),
        IT_TEST(heyoocsi_device_announces_itself),
        IT_TEST(poll_loop_sends_stdin_lines),
        IT_TEST(spatial_route_goes_through_the_middle),
        IT_TEST(awareness_room_knows_the_members),
        IT_TEST(statemachine_lamp_follows_its_transitions),
        IT_TEST(server_features_all_arrive),
    };
    return cmocka_run_group_tests_name("examples", tests, it_group_setup, it_group_teardown);
}
