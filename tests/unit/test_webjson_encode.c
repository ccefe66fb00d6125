/*
 * Unit tests for the "webjson" codec, the command side: every command encoded
 * as the oocsi-web /ws protocol wants it, commands the protocol lacks, and a
 * round trip through encode and decode.
 */
#define CODEC_UNDER_TEST oocsi_codec_webjson
#define CODEC_WELCOME_FRAME "{\"message\" : \"welcome tester\"}"
#define CODEC_MESSAGE_FRAME "{\"data\":{\"v\":1}}"
#define CODEC_SEND_VERB "sendjson"
#include "codec_test_util.h"
/* ------------------------------------------------------------- encode */

static void test_encode_commands(void **state)
{
    static const encode_case cases[] = {
        /* the bare handle, no "(JSON)" */
        {OOCSI_CMD_HELLO, "alice", NULL, "alice"},
        {OOCSI_CMD_HELLO, "x_h###", NULL, "x_h###"},
        {OOCSI_CMD_SEND, "room", "{\"v\":1}", "sendjson room {\"v\":1}"},
        {OOCSI_CMD_SEND, "bob", "{\"hi\":true}", "sendjson bob {\"hi\":true}"},
        {OOCSI_CMD_SEND, "room:secret", "{\"t\":\"caf\\u00e9\"}", "sendjson room:secret {\"t\":\"caf\\u00e9\"}"},
        {OOCSI_CMD_SUBSCRIBE, "room", NULL, "subscribe room"},
        {OOCSI_CMD_SUBSCRIBE, "presence(room)", NULL, "subscribe presence(room)"},
        {OOCSI_CMD_SUBSCRIBE, "room[filter(a > 1)]", NULL, "subscribe room[filter(a > 1)]"},
        {OOCSI_CMD_UNSUBSCRIBE, "room", NULL, "unsubscribe room"},
        {OOCSI_CMD_PONG, NULL, NULL, "."},
    };
    (void)state;
    expect_encodes(cases, sizeof cases / sizeof cases[0]);
}

static void test_encode_unsupported(void **state)
{
    static const oocsi_command_type unsupported[] = {OOCSI_CMD_PING, OOCSI_CMD_QUIT, OOCSI_CMD_CHANNELS,
                                                     OOCSI_CMD_SUBSCRIBERS, OOCSI_CMD_CLIENTS};
    oocsi_command c;
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        c = mk(unsupported[i], "room", NULL);
        expect_encode_fails(&c, OOCSI_ERR_UNSUPPORTED);
        c = mk(unsupported[i], NULL, NULL);
        expect_encode_fails(&c, OOCSI_ERR_UNSUPPORTED);
    }
    /* no password handles over /ws */
    c = mk(OOCSI_CMD_HELLO, "alice:secret", NULL);
    expect_encode_fails(&c, OOCSI_ERR_UNSUPPORTED);
    c = mk(OOCSI_CMD_HELLO, "alice:", NULL);
    expect_encode_fails(&c, OOCSI_ERR_UNSUPPORTED);
    c = mk(OOCSI_CMD_HELLO, ":", NULL);
    expect_encode_fails(&c, OOCSI_ERR_UNSUPPORTED);
    /* unknown command */
    c = mk((oocsi_command_type)99, "x", NULL);
    expect_encode_fails(&c, OOCSI_ERR_UNSUPPORTED);
}

static void test_encode_payload_len(void **state)
{
    /* payload_len bytes, not up to a NUL */
    oocsi_command c = mk(OOCSI_CMD_SEND, "room", "{\"v\":1}{\"extra\":2}");
    (void)state;

    c.payload_len = 7;
    expect_encode(&c, "sendjson room {\"v\":1}");
}

static void test_encode_appends(void **state)
{
    oocsi_buf out = {NULL, 0, 0};
    oocsi_command c;
    void *st = *state;

    assert_int_equal(oocsi_buf_append_str(&out, "prev|"), OOCSI_OK);
    c = mk(OOCSI_CMD_SUBSCRIBE, "room", NULL);
    assert_int_equal(codec()->encode(st, &c, &out), OOCSI_OK);
    assert_int_equal(oocsi_buf_append(&out, "|", 1), OOCSI_OK);
    c = mk(OOCSI_CMD_SEND, "room", "{}");
    assert_int_equal(codec()->encode(st, &c, &out), OOCSI_OK);
    assert_int_equal(oocsi_buf_append(&out, "|", 1), OOCSI_OK);
    c = mk(OOCSI_CMD_PONG, NULL, NULL);
    assert_int_equal(codec()->encode(st, &c, &out), OOCSI_OK);
    assert_string_equal(out.data, "prev|subscribe room|sendjson room {}|.");
    assert_int_equal(out.len, strlen("prev|subscribe room|sendjson room {}|."));
    oocsi_buf_free(&out);
}

static void test_encode_invalid(void **state)
{
    static const oocsi_command_type with_arg[] = {OOCSI_CMD_HELLO, OOCSI_CMD_SEND, OOCSI_CMD_SUBSCRIBE,
                                                  OOCSI_CMD_UNSUBSCRIBE};
    oocsi_command c;
    oocsi_buf out = {NULL, 0, 0};
    (void)state;

    check_encode_rejects(with_arg, sizeof(with_arg) / sizeof(with_arg[0]));
    /* an invalid handle is INVAL even with a ':' in it */
    c = mk(OOCSI_CMD_HELLO, "a b:pw", NULL);
    expect_encode_fails(&c, OOCSI_ERR_INVAL);
    /* NULL command or buffer */
    c = mk(OOCSI_CMD_PONG, NULL, NULL);
    assert_int_equal(codec()->encode(NULL, NULL, &out), OOCSI_ERR_INVAL);
    assert_int_equal(codec()->encode(NULL, &c, NULL), OOCSI_ERR_INVAL);
    assert_null(out.data);
}

static void test_round_trip(void **state)
{
    /* what we send is what a receiver of the server's frame decodes */
    void *st = *state;
    oocsi_buf out = {NULL, 0, 0}, in = {NULL, 0, 0};
    oocsi_command c = mk(OOCSI_CMD_SEND, "room", "{\"a\":[1,{\"b\":null}],\"s\":\"x y\"}");
    oocsi_event ev;
    char *d;
    const char *payload;

    assert_int_equal(codec()->encode(st, &c, &out), OOCSI_OK);
    payload = out.data + strlen("sendjson room ");
    assert_int_equal(oocsi_buf_append_str(&in, "{\"data\":"), OOCSI_OK);
    assert_int_equal(oocsi_buf_append_str(&in, payload), OOCSI_OK);
    assert_int_equal(oocsi_buf_append_str(&in, ",\"recipient\":\"room\",\"sender\":\"me\",\"timestamp\":5}"), OOCSI_OK);
    welcome(st);
    assert_int_equal(decode_n(st, in.data, in.len, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    d = data_text(&ev);
    assert_string_equal(d, payload);
    free(d);
    oocsi_event_clear(&ev);
    oocsi_buf_free(&in);
    oocsi_buf_free(&out);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_encode_commands),
        T(test_encode_unsupported),
        T(test_encode_payload_len),
        T(test_encode_appends),
        T(test_encode_invalid),
        T(test_round_trip),
        T(test_encode_send_from_json_ascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
