/*
 * Unit tests for the "line" codec (codecs/line.c): every server line shape of
 * the line protocol (codecs/README.md), malformed and hostile input, and every command.
 *
 * Frames are always handed to the codec in an exact-size heap copy without a
 * terminating NUL (and scribbled over afterwards), so ASan catches any read
 * past the frame and any event that borrows from it.
 */
#define CODEC_UNDER_TEST oocsi_codec_line
#define CODEC_WELCOME_FRAME "{'message' : \"welcome tester\"}"
#define CODEC_MESSAGE_FRAME "{\"v\":1}"
#define CODEC_SEND_VERB "sendraw"
#include "codec_test_util.h"

/* Decodes a line that carries no payload and checks its type. */
static void expect_type_n(void *st, const char *line, size_t len, oocsi_event_type type)
{
    oocsi_event ev;
    assert_int_equal(decode_n(st, line, len, &ev), OOCSI_OK);
    if (ev.type != type) {
        fail_msg("line \"%.*s\": expected event %d, got %d", (int)len, line, (int)type, (int)ev.type);
    }
    oocsi_event_clear(&ev);
}

#define expect_type(st, lit, type) expect_type_n(st, lit, sizeof(lit) - 1, type)

static void expect_text(void *st, const char *line, size_t len, oocsi_event_type type, const char *text)
{
    oocsi_event ev;
    assert_int_equal(decode_n(st, line, len, &ev), OOCSI_OK);
    assert_int_equal(ev.type, type);
    assert_non_null(ev.text);
    assert_string_equal(ev.text, text);
    assert_null(ev.data);
    assert_null(ev.sender);
    oocsi_event_clear(&ev);
}

static void expect_message(void *st, const char *line, size_t len, const char *sender, const char *recipient,
                           int64_t ts, const char *data)
{
    oocsi_event ev;
    char *d;

    assert_int_equal(decode_n(st, line, len, &ev), OOCSI_OK);
    if (ev.type != OOCSI_EVENT_MESSAGE) {
        fail_msg("line \"%.*s\": expected MESSAGE, got %d", (int)len, line, (int)ev.type);
    }
    assert_non_null(ev.sender);
    assert_non_null(ev.recipient);
    assert_string_equal(ev.sender, sender);
    assert_string_equal(ev.recipient, recipient);
    assert_true(ev.timestamp == ts);
    assert_null(ev.text);
    d = data_text(&ev);
    assert_string_equal(d, data);
    free(d);
    oocsi_event_clear(&ev);
}

#define TXT(st, lit, type, text) expect_text(st, lit, sizeof(lit) - 1, type, text)
#define MSG(st, lit, snd, rcp, ts, data) expect_message(st, lit, sizeof(lit) - 1, snd, rcp, ts, data)

/* ------------------------------------------------------------ vtable */

static void test_codec_table(void **state)
{
    const oocsi_codec *c = oocsi_codec_line();
    (void)state;

    assert_non_null(c);
    assert_ptr_equal(c, oocsi_codec_line());
    assert_string_equal(c->name, "line");
    assert_int_equal(c->caps,
                     OOCSI_CODEC_QUERIES | OOCSI_CODEC_PING_BARRIER | OOCSI_CODEC_QUIT | OOCSI_CODEC_PASSWORDS);
    assert_non_null(c->create);
    assert_non_null(c->destroy);
    assert_non_null(c->reset);
    assert_non_null(c->decode);
    assert_non_null(c->encode);
}

/* --------------------------------------------------------- handshake */

static void test_welcome_json_form(void **state)
{
    void *st = *state;
    oocsi_event ev;

    assert_int_equal(DECODE(st, "{'message' : \"welcome alice\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_WELCOME);
    assert_string_equal(ev.text, "alice");
    assert_null(ev.data);
    oocsi_event_clear(&ev);
    /* now messages are messages */
    MSG(st, "{\"v\":1,\"sender\":\"bob\",\"recipient\":\"room\",\"timestamp\":1}", "bob", "room", 1, "{\"v\":1}");
}

static void test_welcome_plain_and_pd_forms(void **state)
{
    void *st = *state;

    TXT(st, "welcome alice", OOCSI_EVENT_WELCOME, "alice");
    codec()->reset(st);
    TXT(st, "welcome alice;", OOCSI_EVENT_WELCOME, "alice");
    codec()->reset(st);
    TXT(st, "welcome alice\r", OOCSI_EVENT_WELCOME, "alice");
    codec()->reset(st);
    TXT(st, "  welcome alice ; \r", OOCSI_EVENT_WELCOME, "alice");
}

static void test_welcome_variants(void **state)
{
    void *st = *state;

    /* the server's name differs from the request (# replaced, / stripped) */
    TXT(st, "{'message' : \"welcome x_h428\"}", OOCSI_EVENT_WELCOME, "x_h428");
    codec()->reset(st);
    TXT(st, "{'message' : \"welcome abc/\"}\r", OOCSI_EVENT_WELCOME, "abc/");
    codec()->reset(st);
    /* the oocsi-web form (valid JSON) works as well */
    TXT(st, "{\"message\" : \"welcome bob\"}", OOCSI_EVENT_WELCOME, "bob");
    codec()->reset(st);
    /* a password handle is welcomed under its name only */
    TXT(st, "{'message' : \"welcome carol\"}", OOCSI_EVENT_WELCOME, "carol");
    codec()->reset(st);
    /* a JSON-ish welcome without a closing quote: the rest of the line */
    TXT(st, "{'message' : \"welcome dave", OOCSI_EVENT_WELCOME, "dave");
    codec()->reset(st);
    /* invalid UTF-8 / NUL in the name is sanitised */
    TXT(st, "welcome a\xff\0b", OOCSI_EVENT_WELCOME, "a" R R "b");
}

static void test_rejected(void **state)
{
    void *st = *state;
    oocsi_event ev;

    assert_int_equal(DECODE(st, "error (name already registered: alice)", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_HANDLE_TAKEN);
    assert_string_equal(ev.text, "error (name already registered: alice)");
    oocsi_event_clear(&ev);

    assert_int_equal(DECODE(st, "error (password wrong for name: alice)\r", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_AUTH);
    assert_string_equal(ev.text, "error (password wrong for name: alice)");
    oocsi_event_clear(&ev);

    assert_int_equal(DECODE(st, "error (name cannot contain spaces: a b)", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_PROTOCOL);
    assert_string_equal(ev.text, "error (name cannot contain spaces: a b)");
    oocsi_event_clear(&ev);

    assert_int_equal(DECODE(st, "error", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_PROTOCOL);
    oocsi_event_clear(&ev);

    /* the text is sanitised */
    assert_int_equal(DECODE(st, "error (name already registered: \xc0\x80)", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_HANDLE_TAKEN);
    assert_string_equal(ev.text, "error (name already registered: " R R ")");
    oocsi_event_clear(&ev);

    /* a rejection does not welcome: messages are still ignored */
    expect_type(st, "{\"v\":1}", OOCSI_EVENT_NONE);
}

static void test_before_welcome(void **state)
{
    void *st = *state;

    expect_type(st, "ping", OOCSI_EVENT_PING);
    expect_type(st, " ping\r", OOCSI_EVENT_PING);
    expect_type(st, "", OOCSI_EVENT_NONE);
    expect_type(st, ".", OOCSI_EVENT_NONE);
    expect_type(st, "bye", OOCSI_EVENT_NONE);
    expect_type(st, "bob,alice", OOCSI_EVENT_NONE);
    expect_type(st, "{\"v\":1,\"sender\":\"x\"}", OOCSI_EVENT_NONE);
    expect_type(st, "welcome", OOCSI_EVENT_NONE);    /* no space: not a welcome */
    expect_type(st, "welcome \r", OOCSI_EVENT_NONE); /* trimmed to "welcome" */
    expect_type(st, "Error (x)", OOCSI_EVENT_NONE);  /* case-sensitive prefix */
    /* none of the above counted as a welcome */
    expect_type(st, "{\"v\":1}", OOCSI_EVENT_NONE);
    welcome(st);
    expect_type(st, "{\"v\":1}", OOCSI_EVENT_MESSAGE);
}

static void test_reset(void **state)
{
    void *st = *state;

    welcome(st);
    expect_type(st, "{\"v\":1}", OOCSI_EVENT_MESSAGE);
    expect_type(st, "a,b", OOCSI_EVENT_TEXT);
    codec()->reset(st);
    /* back to the handshake */
    expect_type(st, "{\"v\":1}", OOCSI_EVENT_NONE);
    expect_type(st, "a,b", OOCSI_EVENT_NONE);
    expect_type(st, "ping", OOCSI_EVENT_PING);
    TXT(st, "error (name already registered: x)", OOCSI_EVENT_REJECTED, "error (name already registered: x)");
    TXT(st, "welcome again", OOCSI_EVENT_WELCOME, "again");
    expect_type(st, "{\"v\":1}", OOCSI_EVENT_MESSAGE);
    codec()->reset(NULL); /* NULL-safe */
}

/* ------------------------------------------------- example session (line protocol) */

static void test_example_session(void **state)
{
    void *st = *state;
    oocsi_event ev;

    TXT(st, "{'message' : \"welcome alice\"}", OOCSI_EVENT_WELCOME, "alice");
    expect_type(st, ".", OOCSI_EVENT_PONG);
    MSG(st, "{\"v\":1,\"recipient\":\"room\",\"timestamp\":1795526313761,\"sender\":\"bob\"}", "bob", "room",
        INT64_C(1795526313761), "{\"v\":1}");
    assert_int_equal(DECODE(st, "bob,alice", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_TEXT);
    assert_string_equal(ev.text, "bob,alice");
    oocsi_event_clear(&ev);
    expect_type(st, "ping", OOCSI_EVENT_PING);
    expect_type(st, "bye", OOCSI_EVENT_BYE);
}

/* ------------------------------------------------------ control lines */

static void test_control_lines(void **state)
{
    void *st = *state;

    welcome(st);
    expect_type(st, "", OOCSI_EVENT_NONE);
    expect_type(st, " \t \r", OOCSI_EVENT_NONE);
    expect_type(st, "\r", OOCSI_EVENT_NONE);
    expect_type(st, "ping", OOCSI_EVENT_PING);
    expect_type(st, "ping\r", OOCSI_EVENT_PING);
    expect_type(st, "  ping  ", OOCSI_EVENT_PING);
    expect_type(st, ".", OOCSI_EVENT_PONG);
    expect_type(st, ".\r", OOCSI_EVENT_PONG);
    expect_type(st, ".;", OOCSI_EVENT_PONG); /* PD-style pong: any line starting with '.' */
    expect_type(st, "bye", OOCSI_EVENT_BYE);
    expect_type(st, "bye\r", OOCSI_EVENT_BYE);
    /* near misses are text */
    expect_type(st, "pings", OOCSI_EVENT_TEXT);
    expect_type(st, "PING", OOCSI_EVENT_TEXT);
    expect_type(st, "byebye", OOCSI_EVENT_TEXT);
    expect_type(st, "bye now", OOCSI_EVENT_TEXT);
}

static void test_frame_bounded_by_len(void **state)
{
    check_frame_bounded_by_len(*state, "{\"v\":1}garbage", 7);
}

/* ---------------------------------------------------------- text lines */

static void test_query_answers(void **state)
{
    void *st = *state;

    welcome(st);
    TXT(st, "a, b, c", OOCSI_EVENT_TEXT, "a, b, c");
    TXT(st, "h1,h2", OOCSI_EVENT_TEXT, "h1,h2");
    TXT(st, "h1,h2\r", OOCSI_EVENT_TEXT, "h1,h2");
    TXT(st, "  OOCSI_clients, room \r", OOCSI_EVENT_TEXT, "OOCSI_clients, room");
    TXT(st, "single", OOCSI_EVENT_TEXT, "single");
    /* error lines after the welcome are just text */
    TXT(st, "error (name already registered: x)", OOCSI_EVENT_TEXT, "error (name already registered: x)");
    /* a second welcome is text too (the session is already up) */
    TXT(st, "welcome other", OOCSI_EVENT_TEXT, "welcome other");
    /* non-object JSON does not start with '{': text, not a message */
    TXT(st, "[1,2]", OOCSI_EVENT_TEXT, "[1,2]");
    TXT(st, "\"x\"", OOCSI_EVENT_TEXT, "\"x\"");
    TXT(st, "42", OOCSI_EVENT_TEXT, "42");
    /* raw UTF-8 is kept, invalid bytes and NULs are replaced */
    TXT(st, "caf\xc3\xa9, b", OOCSI_EVENT_TEXT, "caf\xc3\xa9, b");
    TXT(st, "a\xff,b\0c", OOCSI_EVENT_TEXT, "a" R ",b" R "c");
}

/* ------------------------------------------------------------ messages */

static void test_message_key_orders(void **state)
{
    void *st = *state;

    welcome(st);
    /* live v1.3.7 order: payload, recipient, timestamp, sender */
    MSG(st, "{\"v\":1,\"recipient\":\"room\",\"timestamp\":1795526313761,\"sender\":\"bob\"}", "bob", "room",
        INT64_C(1795526313761), "{\"v\":1}");
    /* v1.3.8: sorted payload then envelope */
    MSG(st, "{\"a\":1,\"b\":2,\"sender\":\"bob\",\"recipient\":\"room\",\"timestamp\":5}", "bob", "room", 5,
        "{\"a\":1,\"b\":2}");
    /* envelope first */
    MSG(st, "{\"timestamp\":7,\"sender\":\"s\",\"recipient\":\"r\",\"x\":\"y\",\"z\":[1]}", "s", "r", 7,
        "{\"x\":\"y\",\"z\":[1]}");
    /* envelope scattered between payload keys */
    MSG(st, "{\"p\":1,\"sender\":\"s\",\"q\":2,\"timestamp\":8,\"r\":3,\"recipient\":\"c:secret\",\"t\":4}", "s",
        "c:secret", 8, "{\"p\":1,\"q\":2,\"r\":3,\"t\":4}");
    /* whitespace inside the JSON */
    MSG(st, "{ \"v\" : 1 , \"recipient\" : \"room\" , \"timestamp\" : 3 , \"sender\" : \"bob\" }", "bob", "room", 3,
        "{\"v\":1}");
    /* presence and function recipients are kept verbatim */
    MSG(st, "{\"join\":\"room\",\"recipient\":\"presence(room)\",\"timestamp\":9,\"sender\":\"bob\"}", "bob",
        "presence(room)", 9, "{\"join\":\"room\"}");
}

static void test_message_envelope_overwrites_payload(void **state)
{
    void *st = *state;
    oocsi_event ev;

    welcome(st);
    /* the server overwrote the payload's keys in place (v1.3.7 hash position) */
    MSG(st, "{\"sender\":\"bob\",\"v\":1,\"recipient\":\"room\",\"timestamp\":11}", "bob", "room", 11, "{\"v\":1}");
    /* duplicates: the last one wins and none stays in the payload */
    MSG(st,
        "{\"sender\":\"fake\",\"recipient\":\"fake\",\"timestamp\":1,\"v\":1,\"recipient\":\"room\","
        "\"timestamp\":2,\"sender\":\"bob\"}",
        "bob", "room", 2, "{\"v\":1}");
    /* only exact, case-sensitive names are envelope keys */
    MSG(st, "{\"Sender\":\"x\",\"senders\":1,\"recipient\":\"r\",\"sender\":\"s\"}", "s", "r", 0,
        "{\"Sender\":\"x\",\"senders\":1}");
    /* nested keys of those names are payload */
    MSG(st, "{\"o\":{\"sender\":\"in\",\"timestamp\":1},\"sender\":\"s\",\"recipient\":\"r\",\"timestamp\":4}", "s",
        "r", 4, "{\"o\":{\"sender\":\"in\",\"timestamp\":1}}");
    /* the data object holds no envelope key at all */
    assert_int_equal(DECODE(st, "{\"v\":1,\"recipient\":\"room\",\"timestamp\":1,\"sender\":\"bob\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_null(cJSON_GetObjectItemCaseSensitive(ev.data, "sender"));
    assert_null(cJSON_GetObjectItemCaseSensitive(ev.data, "recipient"));
    assert_null(cJSON_GetObjectItemCaseSensitive(ev.data, "timestamp"));
    assert_int_equal(cJSON_GetArraySize(ev.data), 1);
    oocsi_event_clear(&ev);
}

static void test_message_missing_or_odd_envelope(void **state)
{
    void *st = *state;

    welcome(st);
    /* missing keys: "" and 0, never NULL */
    MSG(st, "{\"v\":1}", "", "", 0, "{\"v\":1}");
    MSG(st, "{\"v\":1,\"sender\":\"s\"}", "s", "", 0, "{\"v\":1}");
    MSG(st, "{\"v\":1,\"recipient\":\"r\"}", "", "r", 0, "{\"v\":1}");
    /* wrong types: removed from the payload, treated as missing */
    MSG(st, "{\"v\":1,\"sender\":42,\"recipient\":null,\"timestamp\":\"123\"}", "", "", 0, "{\"v\":1}");
    MSG(st, "{\"sender\":{\"a\":1},\"recipient\":[\"r\"],\"timestamp\":true}", "", "", 0, "{}");
}

static void test_message_data_wrapping_and_empty(void **state)
{
    void *st = *state;

    welcome(st);
    /* sendraw room hello world -> {"data":"hello world",...} */
    MSG(st, "{\"data\":\"hello world\",\"recipient\":\"room\",\"timestamp\":1795526313761,\"sender\":\"alice\"}",
        "alice", "room", INT64_C(1795526313761), "{\"data\":\"hello world\"}");
    /* an empty message: only envelope keys; data is an empty object */
    MSG(st, "{\"recipient\":\"room\",\"timestamp\":1795526313761,\"sender\":\"bob\"}", "bob", "room",
        INT64_C(1795526313761), "{}");
    MSG(st, "{}", "", "", 0, "{}");
    MSG(st, "{ }", "", "", 0, "{}");
}

static void test_message_protocol_shapes(void **state)
{
    void *st = *state;

    welcome(st);
    /* presence events */
    MSG(st,
        "{\"client\":\"bob\",\"join\":\"bob\",\"recipient\":\"presence(bob)\",\"timestamp\":1795526313761,"
        "\"sender\":\"bob\"}",
        "bob", "presence(bob)", INT64_C(1795526313761), "{\"client\":\"bob\",\"join\":\"bob\"}");
    MSG(st, "{\"client\":\"bob\",\"created\":\"\",\"recipient\":\"presence(bob)\",\"timestamp\":2,\"sender\":\"bob\"}",
        "bob", "presence(bob)", 2, "{\"client\":\"bob\",\"created\":\"\"}");
    MSG(st,
        "{\"channel\":\"room\",\"refresh\":[\"carol\",\"bob\"],\"recipient\":\"presence(room)\",\"timestamp\":3,"
        "\"sender\":\"room\"}",
        "room", "presence(room)", 3, "{\"channel\":\"room\",\"refresh\":[\"carol\",\"bob\"]}");
    MSG(st, "{\"client\":\"bob\",\"refresh\":[],\"recipient\":\"presence(bob)\",\"timestamp\":4,\"sender\":\"bob\"}",
        "bob", "presence(bob)", 4, "{\"client\":\"bob\",\"refresh\":[]}");
    /* meta channels, sent by SERVER */
    MSG(st, "{\"clients\":\"h1,h2,h3\",\"recipient\":\"OOCSI_clients\",\"timestamp\":5,\"sender\":\"SERVER\"}",
        "SERVER", "OOCSI_clients", 5, "{\"clients\":\"h1,h2,h3\"}");
    MSG(st, "{\"channels\":\"s1, s2\",\"recipient\":\"room/?\",\"timestamp\":6,\"sender\":\"SERVER\"}", "SERVER",
        "room/?", 6, "{\"channels\":\"s1, s2\"}");
    MSG(st,
        "{\"PUB\":\"bob\",\"CHANNEL\":\"\",\"SUB\":[\"-\"],\"size\":3,\"count\":1,\"recipient\":\"OOCSI_events\","
        "\"timestamp\":7,\"sender\":\"SERVER\"}",
        "SERVER", "OOCSI_events", 7, "{\"PUB\":\"bob\",\"CHANNEL\":\"\",\"SUB\":[\"-\"],\"size\":3,\"count\":1}");
    /* function subscriptions keep the bracketed recipient */
    MSG(st, "{\"v\":3,\"recipient\":\"room[min(v)]\",\"timestamp\":8,\"sender\":\"bob\"}", "bob", "room[min(v)]", 8,
        "{\"v\":3}");
    /* call/response and server keys stay in the payload */
    MSG(st,
        "{\"x\":1,\"_MESSAGE_HANDLE\":\"add\",\"_MESSAGE_ID\":\"0f8c-1\",\"recipient\":\"add\",\"timestamp\":9,"
        "\"sender\":\"caller\"}",
        "caller", "add", 9, "{\"x\":1,\"_MESSAGE_HANDLE\":\"add\",\"_MESSAGE_ID\":\"0f8c-1\"}");
    MSG(st, "{\"_RETAIN\":60,\"_DELAY\":\"2\",\"recipient\":\"room\",\"timestamp\":10,\"sender\":\"bob\"}", "bob",
        "room", 10, "{\"_RETAIN\":60,\"_DELAY\":\"2\"}");
    /* Java's writer escapes '/' */
    MSG(st, "{\"u\":\"a\\/b\",\"sender\":\"s\"}", "s", "", 0, "{\"u\":\"a/b\"}");
    /* legacy plain-client and PD message lines are not for a JSON client: text */
    TXT(st, "send room rO0ABXNyABFqYXZh 1795526313761 bob", OOCSI_EVENT_TEXT,
        "send room rO0ABXNyABFqYXZh 1795526313761 bob");
    TXT(st, "room timestamp=1 sender=bob v=1 ;", OOCSI_EVENT_TEXT, "room timestamp=1 sender=bob v=1 ;");
}

static void test_message_nested_values(void **state)
{
    void *st = *state;

    welcome(st);
    MSG(st,
        "{\"o\":{\"a\":[1,null,{\"b\":null}],\"n\":null},\"l\":[[],{},[[1]]],\"t\":true,\"f\":false,"
        "\"z\":null,\"recipient\":\"r\",\"timestamp\":1,\"sender\":\"s\"}",
        "s", "r", 1,
        "{\"o\":{\"a\":[1,null,{\"b\":null}],\"n\":null},\"l\":[[],{},[[1]]],\"t\":true,\"f\":false,\"z\":null}");
}

static void test_message_numbers(void **state)
{
    void *st = *state;
    oocsi_event ev;
    cJSON *v;

    welcome(st);
    assert_int_equal(DECODE(st,
                            "{\"big\":12345678901234,\"neg\":-12345678901234,\"pi\":3.14159,\"one\":1.0,"
                            "\"huge\":1.0E300,\"tiny\":2.5e-7,\"i\":10,\"sender\":\"s\"}",
                            &ev),
                     OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    v = cJSON_GetObjectItemCaseSensitive(ev.data, "big");
    assert_true(cJSON_IsNumber(v));
    assert_true(v->valuedouble == 12345678901234.0);
    assert_true((int64_t)v->valuedouble == INT64_C(12345678901234));
    v = cJSON_GetObjectItemCaseSensitive(ev.data, "neg");
    assert_true((int64_t)v->valuedouble == INT64_C(-12345678901234));
    assert_true(cJSON_GetObjectItemCaseSensitive(ev.data, "pi")->valuedouble == 3.14159);
    assert_true(cJSON_GetObjectItemCaseSensitive(ev.data, "one")->valuedouble == 1.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(ev.data, "huge")->valuedouble == 1e300);
    assert_true(cJSON_GetObjectItemCaseSensitive(ev.data, "tiny")->valuedouble == 2.5e-7);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "i")->valueint, 10);
    {
        /* re-sent, the big integer stays exact */
        char *s = oocsi_json_ascii(ev.data, NULL, NULL);
        assert_non_null(s);
        assert_non_null(strstr(s, "\"big\":12345678901234,"));
        assert_non_null(strstr(s, "\"neg\":-12345678901234,"));
        assert_non_null(strstr(s, "\"pi\":3.14159,"));
        free(s);
    }
    oocsi_event_clear(&ev);
}

static void test_message_timestamps(void **state)
{
    void *st = *state;

    welcome(st);
    MSG(st, "{\"timestamp\":1795526313761}", "", "", INT64_C(1795526313761), "{}");
    MSG(st, "{\"timestamp\":0}", "", "", 0, "{}");
    MSG(st, "{\"timestamp\":-5}", "", "", -5, "{}");
    /* a fraction is truncated */
    MSG(st, "{\"timestamp\":1795526313761.9}", "", "", INT64_C(1795526313761), "{}");
    MSG(st, "{\"timestamp\":1.5e3}", "", "", 1500, "{}");
    /* beyond 2^53 the exact integer is kept, not the double */
    MSG(st, "{\"timestamp\":9007199254740993}", "", "", INT64_C(9007199254740993), "{}");
    MSG(st, "{\"timestamp\":9223372036854775807}", "", "", INT64_MAX, "{}");
    MSG(st, "{\"timestamp\":-9223372036854775808}", "", "", INT64_MIN, "{}");
    MSG(st, "{\"timestamp\":-9007199254740993}", "", "", INT64_C(-9007199254740993), "{}");
    /* the last top-level timestamp, not a nested one or one inside a string */
    MSG(st,
        "{\"o\":{\"timestamp\":9007199254740994},\"s\":\"\\\"timestamp\\\":1 }{\",\"timestamp\":9007199254740993,"
        "\"a\":[\"timestamp\",{\"timestamp\":9007199254740998}]}",
        "", "", INT64_C(9007199254740993),
        "{\"o\":{\"timestamp\":9007199254740994},\"s\":\"\\\"timestamp\\\":1 }{\",\"a\":[\"timestamp\",{\"timestamp\":"
        "9007199254740998}]}");
    MSG(st, "{\"timestamp\":1,\"timestamp\":9007199254740993}", "", "", INT64_C(9007199254740993), "{}");
    /* out of range: saturated */
    MSG(st, "{\"timestamp\":99999999999999999999}", "", "", INT64_MAX, "{}");
    MSG(st, "{\"timestamp\":-99999999999999999999}", "", "", INT64_MIN, "{}");
    MSG(st, "{\"timestamp\":1e30}", "", "", INT64_MAX, "{}");
    MSG(st, "{\"timestamp\":1e400}", "", "", INT64_MAX, "{}");
}

static void test_message_unicode(void **state)
{
    void *st = *state;
    oocsi_event ev;

    welcome(st);
    /* raw UTF-8 (how the server sends non-ASCII) */
    assert_int_equal(DECODE(st, "{\"t\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"sender\":\"b\xc3\xb8\x62\"}", &ev),
                     OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "t")->valuestring, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(ev.sender, "b\xc3\xb8\x62");
    oocsi_event_clear(&ev);
    /* \u escapes, including a surrogate pair */
    assert_int_equal(DECODE(st, "{\"t\":\"caf\\u00e9 \\ud83d\\ude00\",\"k\\u00e9\":1}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "t")->valuestring, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(ev.data, "k\xc3\xa9"));
    oocsi_event_clear(&ev);
    /* a lone surrogate escape cannot be decoded: skipped */
    expect_type(st, "{\"t\":\"\\ud800\"}", OOCSI_EVENT_INVALID);
}

static void test_message_whitespace_and_crlf(void **state)
{
    void *st = *state;

    welcome(st);
    MSG(st, "{\"v\":1,\"sender\":\"s\"}\r", "s", "", 0, "{\"v\":1}");
    MSG(st, "  \t{\"v\":1,\"sender\":\"s\"}  \r", "s", "", 0, "{\"v\":1}");
    MSG(st, "{\"v\":1,\"sender\":\"s\"}\r\r\n", "s", "", 0, "{\"v\":1}");
}

static void test_message_invalid_utf8_and_nul(void **state)
{
    void *st = *state;
    oocsi_event ev;

    welcome(st);
    /* invalid bytes in strings: replaced, the message survives */
    MSG(st,
        "{\"t\":\"a\xff"
        "b\",\"sender\":\"s\xc0\",\"recipient\":\"r\xed\xa0\x80\"}",
        "s" R, "r" R R R, 0, "{\"t\":\"a\\ufffdb\"}");
    /* a truncated character at the end of a string (server chunk split) */
    MSG(st, "{\"t\":\"ab\xe2\x82\",\"sender\":\"s\"}", "s", "", 0, "{\"t\":\"ab\\ufffd\"}");
    /* a NUL inside a string: replaced, so the value is a full C string */
    assert_int_equal(DECODE(st, "{\"t\":\"x\0y\",\"sender\":\"s\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "t")->valuestring, "x" R "y");
    oocsi_event_clear(&ev);
    /* NUL or invalid bytes between tokens: not JSON */
    expect_type(st, "{\"a\":1,\0\"b\":2}", OOCSI_EVENT_INVALID);
    expect_type(st, "{\"a\":1}\0", OOCSI_EVENT_INVALID);
    expect_type(st, "{\"a\":\xff}", OOCSI_EVENT_INVALID);
    /* the INVALID text is sanitised */
    assert_int_equal(DECODE(st, "{\"t\":\xff\0", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_string_equal(ev.text, "{\"t\":" R R);
    oocsi_event_clear(&ev);
}

static void test_invalid_json(void **state)
{
    static const char *bad[] = {
        "{",
        "{\"a\":",
        "{\"a\":1",
        "{\"a\":1,}",
        "{a:1}",
        "{'a':1}",
        "{'message' : \"welcome alice\"}", /* the welcome is not JSON */
        "{\"a\":1}}",
        "{\"a\":1} x",
        "{\"a\":1}{\"b\":2}",
        "{\"a\":1},",
        "{\"a\":1}\x01",
        "{\"a\":tru}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"bad escape \\q\"}",
        "{\"a\":01x}",
        "{\"a\":[1,2}",
        "{}]",
    };
    void *st = *state;
    size_t i;

    welcome(st);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        oocsi_event ev;
        size_t n = strlen(bad[i]);
        assert_int_equal(decode_n(st, bad[i], n, &ev), OOCSI_OK);
        if (ev.type != OOCSI_EVENT_INVALID) {
            fail_msg("\"%s\": expected INVALID, got %d", bad[i], (int)ev.type);
        }
        assert_int_equal(ev.err, OOCSI_ERR_PROTOCOL);
        assert_non_null(ev.text);
        assert_string_equal(ev.text, bad[i]); /* short lines: the whole line */
        assert_null(ev.data);
        assert_null(ev.sender);
        oocsi_event_clear(&ev);
    }
    /* the session goes on */
    MSG(st, "{\"v\":2,\"sender\":\"s\"}", "s", "", 0, "{\"v\":2}");
}

static void test_invalid_prefix_is_short(void **state)
{
    void *st = *state;
    char line[400];
    oocsi_event ev;
    size_t i, n;

    welcome(st);
    /* {"t":"ééé... (unterminated): cut at <= 80 bytes on a character boundary */
    memcpy(line, "{\"t\":\"", 6);
    for (i = 6; i + 2 <= 305; i += 2) {
        line[i] = (char)0xc3;
        line[i + 1] = (char)0xa9;
    }
    n = i;
    assert_int_equal(decode_n(st, line, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_true(strlen(ev.text) <= 80);
    assert_true(strlen(ev.text) >= 78);
    assert_true(oocsi_utf8_valid(ev.text, strlen(ev.text)));
    assert_memory_equal(ev.text, line, strlen(ev.text));
    oocsi_event_clear(&ev);
    /* odd offset: the boundary moves back by one */
    memcpy(line, "{\"tt\":\"", 7);
    for (i = 7; i + 2 <= 305; i += 2) {
        line[i] = (char)0xc3;
        line[i + 1] = (char)0xa9;
    }
    assert_int_equal(decode_n(st, line, i, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_int_equal(strlen(ev.text), 79);
    assert_true(oocsi_utf8_valid(ev.text, strlen(ev.text)));
    oocsi_event_clear(&ev);
}

static void test_very_long_lines(void **state)
{
    void *st = *state;
    const size_t mib = 1u << 20;
    oocsi_event ev;
    size_t n;
    char *line;

    /* 1 MiB of garbage before the welcome */
    line = repeat("", 'x', mib, "", &n);
    assert_int_equal(decode_n(st, line, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    free(line);
    welcome(st);
    /* a 1 MiB string value */
    expect_big_value(st, "{\"big\":\"", mib, "\",\"sender\":\"s\",\"recipient\":\"r\",\"timestamp\":1}", "big", mib,
                     "s");
    /* a 1 MiB message with an invalid byte: repaired, still delivered */
    expect_big_value(st, "{\"big\":\"", mib, "\xff\"}", "big", mib + 3, NULL);
    /* a 1 MiB text line */
    line = repeat("", 'q', mib, "", &n);
    assert_int_equal(decode_n(st, line, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_TEXT);
    assert_int_equal(strlen(ev.text), mib);
    oocsi_event_clear(&ev);
    free(line);
    /* a 1 MiB truncated message (server write cut short) */
    line = repeat("{\"big\":\"", 'a', mib, "", &n);
    assert_int_equal(decode_n(st, line, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_true(strlen(ev.text) <= 80);
    oocsi_event_clear(&ev);
    free(line);
}

static void test_deep_nesting(void **state)
{
    void *st = *state;
    oocsi_event ev;
    size_t n, i;
    char *line;

    welcome(st);
    /* 100k unclosed brackets */
    line = repeat("{\"a\":", '[', 100000, "", &n);
    assert_int_equal(decode_n(st, line, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    oocsi_event_clear(&ev);
    free(line);
    /* 100k balanced brackets: beyond cJSON's nesting limit */
    {
        size_t depth = 100000;
        n = 5 + 2 * depth + 1;
        line = malloc(n);
        assert_non_null(line);
        memcpy(line, "{\"a\":", 5);
        for (i = 0; i < depth; i++) {
            line[5 + i] = '[';
            line[5 + depth + i] = ']';
        }
        line[n - 1] = '}';
        assert_int_equal(decode_n(st, line, n, &ev), OOCSI_OK);
        assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
        oocsi_event_clear(&ev);
        free(line);
    }
    /* 100k nested objects */
    {
        size_t depth = 100000;
        n = 5 * depth + depth;
        line = malloc(n);
        assert_non_null(line);
        for (i = 0; i < depth; i++) {
            memcpy(line + 5 * i, "{\"a\":", 5);
        }
        memset(line + 5 * depth, '}', depth);
        assert_int_equal(decode_n(st, line, n, &ev), OOCSI_OK);
        assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
        oocsi_event_clear(&ev);
        free(line);
    }
    /* moderate nesting is a normal message */
    {
        size_t depth = 500;
        n = 5 + 2 * depth + 1;
        line = malloc(n);
        assert_non_null(line);
        memcpy(line, "{\"a\":", 5);
        for (i = 0; i < depth; i++) {
            line[5 + i] = '[';
            line[5 + depth + i] = ']';
        }
        line[n - 1] = '}';
        assert_int_equal(decode_n(st, line, n, &ev), OOCSI_OK);
        assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
        assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(ev.data, "a")));
        oocsi_event_clear(&ev);
        free(line);
    }
}

/* Every third frame starts like a JSON message line. */
static void line_shape(unsigned char *buf, size_t n, int round)
{
    if (n > 0 && round % 3 == 0) {
        buf[0] = '{';
    }
}

static void test_binary_noise(void **state)
{
    run_binary_noise(*state, 2000, line_shape);
}

/* ------------------------------------------------------------- encode */

static void test_encode_commands(void **state)
{
    static const encode_case cases[] = {
        {OOCSI_CMD_HELLO, "alice", NULL, "alice(JSON)"},
        {OOCSI_CMD_HELLO, "alice:secret", NULL, "alice:secret(JSON)"},
        {OOCSI_CMD_SEND, "room", "{\"v\":1}", "sendraw room {\"v\":1}"},
        {OOCSI_CMD_SEND, "bob", "{\"hi\":true}", "sendraw bob {\"hi\":true}"},
        {OOCSI_CMD_SEND, "room:secret", "{\"t\":\"caf\\u00e9\"}", "sendraw room:secret {\"t\":\"caf\\u00e9\"}"},
        {OOCSI_CMD_SUBSCRIBE, "room", NULL, "subscribe room"},
        {OOCSI_CMD_SUBSCRIBE, "presence(room)", NULL, "subscribe presence(room)"},
        {OOCSI_CMD_SUBSCRIBE, "room[filter(a > 1)]", NULL, "subscribe room[filter(a > 1)]"},
        {OOCSI_CMD_UNSUBSCRIBE, "room", NULL, "unsubscribe room"},
        {OOCSI_CMD_PING, NULL, NULL, "ping"},
        {OOCSI_CMD_PONG, NULL, NULL, "."},
        {OOCSI_CMD_QUIT, NULL, NULL, "quit"},
        {OOCSI_CMD_CHANNELS, NULL, NULL, "channels"},
        {OOCSI_CMD_SUBSCRIBERS, "room", NULL, "channels room"},
        {OOCSI_CMD_CLIENTS, NULL, NULL, "clients"},
    };
    (void)state;
    expect_encodes(cases, sizeof cases / sizeof cases[0]);
}

static void test_encode_payload_len(void **state)
{
    /* payload_len bytes, not up to a NUL */
    oocsi_command c = mk(OOCSI_CMD_SEND, "room", "{\"v\":1}{\"extra\":2}");
    (void)state;

    c.payload_len = 7;
    expect_encode(&c, "sendraw room {\"v\":1}");
}

static void test_encode_appends(void **state)
{
    oocsi_buf out = {NULL, 0, 0};
    oocsi_command c;
    void *st = *state;

    assert_int_equal(oocsi_buf_append_str(&out, "prev\n"), OOCSI_OK);
    c = mk(OOCSI_CMD_SUBSCRIBE, "room", NULL);
    assert_int_equal(codec()->encode(st, &c, &out), OOCSI_OK);
    assert_int_equal(oocsi_buf_append(&out, "\n", 1), OOCSI_OK);
    c = mk(OOCSI_CMD_PING, NULL, NULL);
    assert_int_equal(codec()->encode(st, &c, &out), OOCSI_OK);
    assert_string_equal(out.data, "prev\nsubscribe room\nping");
    assert_int_equal(out.len, strlen("prev\nsubscribe room\nping"));
    oocsi_buf_free(&out);
}

static void test_encode_invalid(void **state)
{
    static const oocsi_command_type with_arg[] = {OOCSI_CMD_HELLO, OOCSI_CMD_SEND, OOCSI_CMD_SUBSCRIBE,
                                                  OOCSI_CMD_UNSUBSCRIBE, OOCSI_CMD_SUBSCRIBERS};
    oocsi_command c;
    oocsi_buf out = {NULL, 0, 0};
    (void)state;

    check_encode_rejects(with_arg, sizeof(with_arg) / sizeof(with_arg[0]));
    /* unknown command */
    c = mk((oocsi_command_type)99, "x", NULL);
    expect_encode_fails(&c, OOCSI_ERR_UNSUPPORTED);
    /* NULL command or buffer */
    c = mk(OOCSI_CMD_PING, NULL, NULL);
    assert_int_equal(codec()->encode(NULL, NULL, &out), OOCSI_ERR_INVAL);
    assert_int_equal(codec()->encode(NULL, &c, NULL), OOCSI_ERR_INVAL);
    assert_null(out.data);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_codec_table),
        T(test_states_are_independent),
        T(test_decode_bad_args),
        T(test_welcome_json_form),
        T(test_welcome_plain_and_pd_forms),
        T(test_welcome_variants),
        T(test_rejected),
        T(test_before_welcome),
        T(test_reset),
        T(test_example_session),
        T(test_control_lines),
        T(test_frame_bounded_by_len),
        T(test_query_answers),
        T(test_message_key_orders),
        T(test_message_envelope_overwrites_payload),
        T(test_message_missing_or_odd_envelope),
        T(test_message_data_wrapping_and_empty),
        T(test_message_protocol_shapes),
        T(test_message_nested_values),
        T(test_message_numbers),
        T(test_message_timestamps),
        T(test_message_unicode),
        T(test_message_whitespace_and_crlf),
        T(test_message_invalid_utf8_and_nul),
        T(test_invalid_json),
        T(test_invalid_prefix_is_short),
        T(test_very_long_lines),
        T(test_deep_nesting),
        T(test_binary_noise),
        T(test_encode_commands),
        T(test_encode_payload_len),
        T(test_encode_appends),
        T(test_encode_invalid),
        T(test_encode_send_from_json_ascii),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
