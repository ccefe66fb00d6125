/*
 * Unit tests for the "webjson" codec (codecs/webjson.c): every frame shape
 * of the oocsi-web /ws protocol (see codecs/README.md), the handshake states,
 * malformed and hostile input, and every command.
 *
 * Frames are always handed to the codec in an exact-size heap copy without a
 * terminating NUL (and scribbled over afterwards), so ASan catches any read
 * past the frame and any event that borrows from it.
 */
#define CODEC_UNDER_TEST oocsi_codec_webjson
#define CODEC_WELCOME_FRAME "{\"message\" : \"welcome tester\"}"
#define CODEC_MESSAGE_FRAME "{\"data\":{\"v\":1}}"
#define CODEC_SEND_VERB "sendjson"
#include "codec_test_util.h"

/* Decodes a frame and checks only its type (and that no payload leaks into
 * events that carry none). */
static void expect_type_n(void *st, const char *frame, size_t len, oocsi_event_type type)
{
    oocsi_event ev;
    assert_int_equal(decode_n(st, frame, len, &ev), OOCSI_OK);
    if (ev.type != type) {
        fail_msg("frame \"%.*s\": expected event %d, got %d", (int)len, frame, (int)type, (int)ev.type);
    }
    if (type == OOCSI_EVENT_NONE || type == OOCSI_EVENT_PING) {
        assert_null(ev.text);
        assert_null(ev.data);
        assert_null(ev.sender);
        assert_null(ev.recipient);
        assert_int_equal(ev.err, 0);
    }
    oocsi_event_clear(&ev);
}

#define expect_type(st, lit, type) expect_type_n(st, lit, sizeof(lit) - 1, type)

static void expect_text(void *st, const char *frame, size_t len, oocsi_event_type type, const char *text)
{
    oocsi_event ev;
    assert_int_equal(decode_n(st, frame, len, &ev), OOCSI_OK);
    if (ev.type != type) {
        fail_msg("frame \"%.*s\": expected event %d, got %d", (int)len, frame, (int)type, (int)ev.type);
    }
    assert_non_null(ev.text);
    assert_string_equal(ev.text, text);
    assert_null(ev.data);
    assert_null(ev.sender);
    assert_null(ev.recipient);
    if (type == OOCSI_EVENT_INVALID) {
        assert_int_equal(ev.err, OOCSI_ERR_PROTOCOL);
    } else if (type != OOCSI_EVENT_REJECTED) {
        assert_int_equal(ev.err, 0);
    }
    oocsi_event_clear(&ev);
}

#define TXT(st, lit, type, text) expect_text(st, lit, sizeof(lit) - 1, type, text)

static void expect_message(void *st, const char *frame, size_t len, const char *sender, const char *recipient,
                           int64_t ts, const char *data)
{
    oocsi_event ev;
    char *d;

    assert_int_equal(decode_n(st, frame, len, &ev), OOCSI_OK);
    if (ev.type != OOCSI_EVENT_MESSAGE) {
        fail_msg("frame \"%.*s\": expected MESSAGE, got %d", (int)len, frame, (int)ev.type);
    }
    assert_non_null(ev.sender);
    assert_non_null(ev.recipient);
    assert_string_equal(ev.sender, sender);
    assert_string_equal(ev.recipient, recipient);
    if (ev.timestamp != ts) {
        fail_msg("frame \"%.*s\": expected timestamp %lld, got %lld", (int)len, frame, (long long)ts,
                 (long long)ev.timestamp);
    }
    assert_null(ev.text);
    assert_int_equal(ev.err, 0);
    /* the payload is a free-standing root the event owns */
    assert_non_null(ev.data);
    assert_null(ev.data->next);
    assert_null(ev.data->prev);
    assert_null(ev.data->string);
    d = data_text(&ev);
    assert_string_equal(d, data);
    free(d);
    oocsi_event_clear(&ev);
}

#define MSG(st, lit, snd, rcp, ts, data) expect_message(st, lit, sizeof(lit) - 1, snd, rcp, ts, data)

/* ------------------------------------------------------------ vtable */

static void test_codec_table(void **state)
{
    const oocsi_codec *c = oocsi_codec_webjson();
    (void)state;

    assert_non_null(c);
    assert_ptr_equal(c, oocsi_codec_webjson());
    assert_string_equal(c->name, "webjson");
    /* no queries, no client ping, no quit, no password handles */
    assert_int_equal(c->caps & OOCSI_CODEC_QUERIES, 0);
    assert_int_equal(c->caps & OOCSI_CODEC_PING_BARRIER, 0);
    assert_int_equal(c->caps & OOCSI_CODEC_QUIT, 0);
    assert_int_equal(c->caps & OOCSI_CODEC_PASSWORDS, 0);
    assert_non_null(c->create);
    assert_non_null(c->destroy);
    assert_non_null(c->reset);
    assert_non_null(c->decode);
    assert_non_null(c->encode);
}

/* --------------------------------------------------------- handshake */

static void test_welcome(void **state)
{
    void *st = *state;
    oocsi_event ev;

    /* {"message" : "welcome <name>"}, valid JSON over /ws */
    assert_int_equal(DECODE(st, "{\"message\" : \"welcome alice\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_WELCOME);
    assert_string_equal(ev.text, "alice");
    assert_int_equal(ev.err, 0);
    assert_null(ev.data);
    assert_null(ev.sender);
    oocsi_event_clear(&ev);
    /* now messages are messages */
    MSG(st, "{\"data\":{\"v\":1},\"recipient\":\"room\",\"sender\":\"bob\",\"timestamp\":1}", "bob", "room", 1,
        "{\"v\":1}");
}

static void test_welcome_variants(void **state)
{
    void *st = *state;

    /* the server's name differs from the request (# replaced, / stripped,
     * invalid handles replaced by webclient_####) */
    TXT(st, "{\"message\" : \"welcome x_h428\"}", OOCSI_EVENT_WELCOME, "x_h428");
    codec()->reset(st);
    TXT(st, "{\"message\" : \"welcome webclient_0042\"}", OOCSI_EVENT_WELCOME, "webclient_0042");
    codec()->reset(st);
    /* compact form and surrounding whitespace */
    TXT(st, "{\"message\":\"welcome bob\"}", OOCSI_EVENT_WELCOME, "bob");
    codec()->reset(st);
    TXT(st, " \t{ \"message\" : \"welcome bob\" }\r\n", OOCSI_EVENT_WELCOME, "bob");
    codec()->reset(st);
    /* whitespace around the name inside the string */
    TXT(st, "{\"message\":\"welcome   carol \"}", OOCSI_EVENT_WELCOME, "carol");
    codec()->reset(st);
    /* other members do not matter */
    TXT(st, "{\"code\":0,\"message\":\"welcome dave\",\"x\":[1]}", OOCSI_EVENT_WELCOME, "dave");
    codec()->reset(st);
    /* JSON escapes are decoded, invalid UTF-8 and NULs are sanitised */
    TXT(st, "{\"message\":\"welcome caf\\u00e9\"}", OOCSI_EVENT_WELCOME, "caf\xc3\xa9");
    codec()->reset(st);
    TXT(st, "{\"message\":\"welcome a\xff\0b\"}", OOCSI_EVENT_WELCOME, "a" R R "b");
}

static void test_not_a_welcome(void **state)
{
    void *st = *state;

    /* the TCP welcome is not JSON: not accepted over /ws */
    expect_type(st, "{'message' : \"welcome alice\"}", OOCSI_EVENT_NONE);
    /* plain-text forms of the TCP variants */
    expect_type(st, "welcome alice", OOCSI_EVENT_NONE);
    expect_type(st, "welcome alice;", OOCSI_EVENT_NONE);
    /* near misses */
    expect_type(st, "{\"message\":\"welcome\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"welcome \"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"welcome  \\t \"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"Welcome alice\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"say welcome alice\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"msg\":\"welcome alice\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"Message\":\"welcome alice\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":[\"welcome alice\"]}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":null}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"data\":{\"message\":\"welcome alice\"}}", OOCSI_EVENT_NONE);
    expect_type(st, "[\"welcome alice\"]", OOCSI_EVENT_NONE);
    expect_type(st, "\"welcome alice\"", OOCSI_EVENT_NONE);
    /* not exactly one JSON object */
    expect_type(st, "{\"message\":\"welcome alice\"", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"welcome alice\"} x", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"welcome alice\"}{}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"welcome alice\"}\0", OOCSI_EVENT_NONE);
    /* none of the above counted as a welcome */
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_NONE);
    welcome(st);
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_MESSAGE);
}

static void test_rejected(void **state)
{
    void *st = *state;
    oocsi_event ev;

    /* the name is taken */
    assert_int_equal(DECODE(st, "{\"message\" : \"ERROR: client alice exists already\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_HANDLE_TAKEN);
    assert_string_equal(ev.text, "ERROR: client alice exists already");
    assert_null(ev.data);
    oocsi_event_clear(&ev);

    /* with whitespace around the frame */
    assert_int_equal(DECODE(st, "\r\n {\"message\":\"ERROR: client bob exists already\"} \r\n", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_HANDLE_TAKEN);
    assert_string_equal(ev.text, "ERROR: client bob exists already");
    oocsi_event_clear(&ev);

    /* "ERROR" anywhere plus "exists already": taken */
    assert_int_equal(DECODE(st, "{\"message\":\"server ERROR: x exists already!\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_HANDLE_TAKEN);
    oocsi_event_clear(&ev);

    /* any other ERROR: a protocol failure */
    assert_int_equal(DECODE(st, "{\"message\":\"ERROR: something else\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_PROTOCOL);
    assert_string_equal(ev.text, "ERROR: something else");
    oocsi_event_clear(&ev);

    assert_int_equal(DECODE(st, "{\"message\":\"ERROR\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_PROTOCOL);
    assert_string_equal(ev.text, "ERROR");
    oocsi_event_clear(&ev);

    /* "exists already" without "ERROR" is no rejection */
    expect_type(st, "{\"message\":\"client alice exists already\"}", OOCSI_EVENT_NONE);
    /* case-sensitive, and must start the message (when not "exists already") */
    expect_type(st, "{\"message\":\"error: something\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"an ERROR happened\"}", OOCSI_EVENT_NONE);
    /* the TCP error lines are not /ws frames */
    expect_type(st, "error (name already registered: alice)", OOCSI_EVENT_NONE);
    expect_type(st, "ERROR: client alice exists already", OOCSI_EVENT_NONE);

    /* the text is sanitised */
    assert_int_equal(DECODE(st, "{\"message\":\"ERROR: client \xc0\x80 exists already\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_REJECTED);
    assert_int_equal(ev.err, OOCSI_ERR_HANDLE_TAKEN);
    assert_string_equal(ev.text, "ERROR: client " R R " exists already");
    oocsi_event_clear(&ev);

    /* a rejection does not welcome: messages are still ignored */
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_NONE);
}

static void test_before_welcome(void **state)
{
    void *st = *state;

    expect_type(st, "ping", OOCSI_EVENT_PING);
    expect_type(st, " ping\r\n", OOCSI_EVENT_PING);
    expect_type(st, "", OOCSI_EVENT_NONE);
    expect_type(st, " \t\r\n", OOCSI_EVENT_NONE);
    expect_type(st, ".", OOCSI_EVENT_NONE);
    expect_type(st, "bye", OOCSI_EVENT_NONE);
    expect_type(st, "pings", OOCSI_EVENT_NONE);
    expect_type(st, "hello world", OOCSI_EVENT_NONE);
    expect_type(st, "{\"data\":{\"v\":1},\"recipient\":\"r\",\"sender\":\"s\",\"timestamp\":1}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"code\":200,\"status\":\"ok\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"message\":\"hello\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"a\":", OOCSI_EVENT_NONE); /* broken JSON: not INVALID yet */
    expect_type(st, "[1,2]", OOCSI_EVENT_NONE);
    /* none of the above counted as a welcome */
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_NONE);
    welcome(st);
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_MESSAGE);
}

static void test_reset(void **state)
{
    void *st = *state;

    welcome(st);
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_MESSAGE);
    expect_type(st, "hello", OOCSI_EVENT_TEXT);
    expect_type(st, "{\"a\":", OOCSI_EVENT_INVALID);
    codec()->reset(st);
    /* back to the handshake */
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_NONE);
    expect_type(st, "hello", OOCSI_EVENT_NONE);
    expect_type(st, "{\"a\":", OOCSI_EVENT_NONE);
    expect_type(st, "ping", OOCSI_EVENT_PING);
    TXT(st, "{\"message\":\"ERROR: client x exists already\"}", OOCSI_EVENT_REJECTED, "ERROR: client x exists already");
    TXT(st, "{\"message\":\"welcome again\"}", OOCSI_EVENT_WELCOME, "again");
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_MESSAGE);
    /* reset is idempotent and NULL-safe */
    codec()->reset(st);
    codec()->reset(st);
    expect_type(st, "{\"data\":{\"v\":1}}", OOCSI_EVENT_NONE);
    codec()->reset(NULL);
}

/* ------------------------------------------------- example session (web JSON) */

static void test_example_session(void **state)
{
    void *st = *state;

    TXT(st, "{\"message\" : \"welcome alice\"}", OOCSI_EVENT_WELCOME, "alice");
    expect_type(st, "ping", OOCSI_EVENT_PING);
    MSG(st, "{\"data\":{\"v\":1},\"recipient\":\"room\",\"sender\":\"bob\",\"timestamp\":1795526313761}", "bob", "room",
        INT64_C(1795526313761), "{\"v\":1}");
    expect_type(st, "{\"code\":200,\"status\":\"message sent\"}", OOCSI_EVENT_NONE);
    MSG(st,
        "{\"data\":{\"_MESSAGE_HANDLE\":\"add\",\"_MESSAGE_ID\":\"0f8c-1\",\"x\":1},\"recipient\":\"alice\","
        "\"sender\":\"caller\",\"timestamp\":2}",
        "caller", "alice", 2, "{\"_MESSAGE_HANDLE\":\"add\",\"_MESSAGE_ID\":\"0f8c-1\",\"x\":1}");
    expect_type(st, "ping", OOCSI_EVENT_PING);
}

/* ------------------------------------------------------ control frames */

static void test_control_frames(void **state)
{
    void *st = *state;

    welcome(st);
    expect_type(st, "", OOCSI_EVENT_NONE);
    expect_type(st, " \t \r\n", OOCSI_EVENT_NONE);
    expect_type(st, "ping", OOCSI_EVENT_PING);
    expect_type(st, "ping\r\n", OOCSI_EVENT_PING);
    expect_type(st, "  ping  ", OOCSI_EVENT_PING);
    /* no pong, bye or query answers over /ws: just text */
    TXT(st, ".", OOCSI_EVENT_TEXT, ".");
    TXT(st, "bye", OOCSI_EVENT_TEXT, "bye");
    TXT(st, "pings", OOCSI_EVENT_TEXT, "pings");
    TXT(st, "PING", OOCSI_EVENT_TEXT, "PING");
    TXT(st, "ping pong", OOCSI_EVENT_TEXT, "ping pong");
}

static void test_frame_bounded_by_len(void **state)
{
    const char msg[] = "{\"data\":{\"v\":1}}garbage";
    oocsi_event ev;

    check_frame_bounded_by_len(*state, msg, 16);
    /* one byte short of the closing brace is not a message either */
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(codec()->decode(*state, msg, 15, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    oocsi_event_clear(&ev);
}

/* ------------------------------------------------------------ messages */

static void test_message_sorted_keys(void **state)
{
    void *st = *state;

    welcome(st);
    /* envelope and payload keys sorted alphabetically */
    MSG(st,
        "{\"data\":{\"a\":1,\"b\":\"two\",\"c\":[1,2,3],\"d\":{\"e\":true,\"f\":null}},\"recipient\":\"room\","
        "\"sender\":\"bob\",\"timestamp\":1795526313761}",
        "bob", "room", INT64_C(1795526313761), "{\"a\":1,\"b\":\"two\",\"c\":[1,2,3],\"d\":{\"e\":true,\"f\":null}}");
    /* any other order works too */
    MSG(st, "{\"timestamp\":7,\"sender\":\"s\",\"recipient\":\"r\",\"data\":{\"x\":\"y\"}}", "s", "r", 7,
        "{\"x\":\"y\"}");
    MSG(st, "{\"sender\":\"s\",\"data\":{\"z\":1,\"a\":2},\"timestamp\":8,\"recipient\":\"c:secret\"}", "s", "c:secret",
        8, "{\"z\":1,\"a\":2}");
    /* whitespace inside the JSON, as a pretty-printer would emit it */
    MSG(st,
        "{\n  \"data\" : { \"v\" : 1 } ,\n  \"recipient\" : \"room\" ,\n  \"sender\" : \"bob\" ,\n  \"timestamp\" : "
        "3\n}",
        "bob", "room", 3, "{\"v\":1}");
    /* presence, meta and function recipients are kept verbatim */
    MSG(st, "{\"data\":{\"join\":\"room\"},\"recipient\":\"presence(room)\",\"sender\":\"bob\",\"timestamp\":9}", "bob",
        "presence(room)", 9, "{\"join\":\"room\"}");
    MSG(st, "{\"data\":{\"v\":3},\"recipient\":\"room[min(v)]\",\"sender\":\"SERVER\",\"timestamp\":10}", "SERVER",
        "room[min(v)]", 10, "{\"v\":3}");
}

static void test_message_envelope_names_in_payload(void **state)
{
    void *st = *state;
    oocsi_event ev;

    welcome(st);
    /* payload keys named like the envelope stay in the payload */
    MSG(st,
        "{\"data\":{\"recipient\":\"fake-r\",\"sender\":\"fake-s\",\"timestamp\":5,\"v\":1},\"recipient\":\"room\","
        "\"sender\":\"bob\",\"timestamp\":7}",
        "bob", "room", 7, "{\"recipient\":\"fake-r\",\"sender\":\"fake-s\",\"timestamp\":5,\"v\":1}");
    /* ... even when the envelope lacks them */
    MSG(st, "{\"data\":{\"sender\":\"inner\",\"timestamp\":99}}", "", "", 0, "{\"sender\":\"inner\",\"timestamp\":99}");
    /* a payload key named "data" is payload too */
    MSG(st, "{\"data\":{\"data\":{\"data\":1}},\"sender\":\"s\"}", "s", "", 0, "{\"data\":{\"data\":1}}");

    assert_int_equal(DECODE(st,
                            "{\"data\":{\"sender\":\"x\",\"recipient\":\"y\",\"timestamp\":1},\"recipient\":\"r\","
                            "\"sender\":\"s\",\"timestamp\":2}",
                            &ev),
                     OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_int_equal(cJSON_GetArraySize(ev.data), 3);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "sender")->valuestring, "x");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "recipient")->valuestring, "y");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "timestamp")->valueint, 1);
    assert_string_equal(ev.sender, "s");
    assert_string_equal(ev.recipient, "r");
    assert_true(ev.timestamp == 2);
    oocsi_event_clear(&ev);
}

static void test_message_non_object_data(void **state)
{
    void *st = *state;

    welcome(st);
    /* the server wraps a non-JSON payload: {"data": "<text>"} */
    MSG(st, "{\"data\":\"hello world\",\"recipient\":\"room\",\"sender\":\"alice\",\"timestamp\":1795526313761}",
        "alice", "room", INT64_C(1795526313761), "{\"data\":\"hello world\"}");
    MSG(st, "{\"data\":\"\",\"sender\":\"s\"}", "s", "", 0, "{\"data\":\"\"}");
    MSG(st, "{\"data\":[1,\"two\",{\"three\":3}],\"sender\":\"s\"}", "s", "", 0,
        "{\"data\":[1,\"two\",{\"three\":3}]}");
    MSG(st, "{\"data\":42}", "", "", 0, "{\"data\":42}");
    MSG(st, "{\"data\":-1.5}", "", "", 0, "{\"data\":-1.5}");
    MSG(st, "{\"data\":true}", "", "", 0, "{\"data\":true}");
    MSG(st, "{\"data\":false}", "", "", 0, "{\"data\":false}");
    MSG(st, "{\"data\":null}", "", "", 0, "{\"data\":null}");
    MSG(st, "{\"data\":\"caf\\u00e9 \\\"q\\\"\"}", "", "", 0, "{\"data\":\"caf\\u00e9 \\\"q\\\"\"}");
    /* an empty payload */
    MSG(st, "{\"data\":{},\"recipient\":\"room\",\"sender\":\"bob\",\"timestamp\":4}", "bob", "room", 4, "{}");
}

static void test_message_missing_or_odd_envelope(void **state)
{
    void *st = *state;

    welcome(st);
    /* missing keys: "" and 0, never NULL */
    MSG(st, "{\"data\":{\"v\":1}}", "", "", 0, "{\"v\":1}");
    MSG(st, "{\"data\":{\"v\":1},\"sender\":\"s\"}", "s", "", 0, "{\"v\":1}");
    MSG(st, "{\"data\":{\"v\":1},\"recipient\":\"r\"}", "", "r", 0, "{\"v\":1}");
    MSG(st, "{\"data\":{\"v\":1},\"timestamp\":3}", "", "", 3, "{\"v\":1}");
    /* wrong types: treated as missing */
    MSG(st, "{\"data\":{\"v\":1},\"sender\":42,\"recipient\":null,\"timestamp\":\"123\"}", "", "", 0, "{\"v\":1}");
    MSG(st, "{\"data\":{},\"sender\":{\"a\":1},\"recipient\":[\"r\"],\"timestamp\":true}", "", "", 0, "{}");
    /* other top-level members are not payload */
    MSG(st, "{\"code\":1,\"data\":{\"v\":1},\"extra\":[1],\"message\":\"m\",\"status\":\"x\",\"sender\":\"s\"}", "s",
        "", 0, "{\"v\":1}");
    /* duplicates: the last one wins */
    MSG(st,
        "{\"data\":{\"old\":1},\"sender\":\"fake\",\"timestamp\":1,\"data\":{\"new\":2},\"sender\":\"bob\","
        "\"timestamp\":2}",
        "bob", "", 2, "{\"new\":2}");
    /* only exact, case-sensitive names */
    MSG(st, "{\"Data\":{\"x\":1},\"data\":{\"v\":1},\"Sender\":\"x\",\"sender\":\"s\"}", "s", "", 0, "{\"v\":1}");
    /* a \u0000 escape ends a C string: no crash, the prefix survives */
    MSG(st, "{\"data\":{},\"sender\":\"a\\u0000b\"}", "a", "", 0, "{}");
}

static void test_message_timestamps(void **state)
{
    void *st = *state;

    welcome(st);
    MSG(st, "{\"data\":{},\"timestamp\":1795526313761}", "", "", INT64_C(1795526313761), "{}");
    MSG(st, "{\"data\":{},\"timestamp\":0}", "", "", 0, "{}");
    MSG(st, "{\"data\":{},\"timestamp\":-5}", "", "", -5, "{}");
    /* a fraction is truncated */
    MSG(st, "{\"data\":{},\"timestamp\":1795526313761.9}", "", "", INT64_C(1795526313761), "{}");
    MSG(st, "{\"data\":{},\"timestamp\":1.5e3}", "", "", 1500, "{}");
    /* exact up to 2^53 */
    MSG(st, "{\"data\":{},\"timestamp\":9007199254740992}", "", "", INT64_C(9007199254740992), "{}");
    /* out of range: saturated */
    MSG(st, "{\"data\":{},\"timestamp\":99999999999999999999}", "", "", INT64_MAX, "{}");
    MSG(st, "{\"data\":{},\"timestamp\":-99999999999999999999}", "", "", INT64_MIN, "{}");
    MSG(st, "{\"data\":{},\"timestamp\":1e30}", "", "", INT64_MAX, "{}");
    MSG(st, "{\"data\":{},\"timestamp\":1e400}", "", "", INT64_MAX, "{}");
    MSG(st, "{\"data\":{},\"timestamp\":-1e400}", "", "", INT64_MIN, "{}");
}

static void test_message_values(void **state)
{
    void *st = *state;
    oocsi_event ev;
    char *s;

    welcome(st);
    assert_int_equal(DECODE(st,
                            "{\"data\":{\"big\":12345678901234,\"huge\":1.0E300,\"i\":10,\"neg\":-12345678901234,"
                            "\"pi\":3.14159,\"u\":\"a\\/b\"},\"recipient\":\"r\",\"sender\":\"s\",\"timestamp\":1}",
                            &ev),
                     OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_true(cJSON_GetObjectItemCaseSensitive(ev.data, "big")->valuedouble == 12345678901234.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(ev.data, "neg")->valuedouble == -12345678901234.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(ev.data, "pi")->valuedouble == 3.14159);
    assert_true(cJSON_GetObjectItemCaseSensitive(ev.data, "huge")->valuedouble == 1e300);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "i")->valueint, 10);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "u")->valuestring, "a/b");
    s = data_text(&ev);
    assert_non_null(strstr(s, "\"big\":12345678901234,"));
    assert_non_null(strstr(s, "\"neg\":-12345678901234,"));
    free(s);
    oocsi_event_clear(&ev);
}

static void test_message_unicode(void **state)
{
    void *st = *state;
    oocsi_event ev;

    welcome(st);
    /* raw UTF-8 */
    assert_int_equal(
        DECODE(st, "{\"data\":{\"t\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"},\"sender\":\"b\xc3\xb8\x62\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "t")->valuestring, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(ev.sender, "b\xc3\xb8\x62");
    oocsi_event_clear(&ev);
    /* \u escapes, including a surrogate pair */
    assert_int_equal(DECODE(st, "{\"data\":{\"t\":\"caf\\u00e9 \\ud83d\\ude00\"},\"recipient\":\"r\\u00e9\"}", &ev),
                     OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "t")->valuestring, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(ev.recipient, "r\xc3\xa9");
    oocsi_event_clear(&ev);
    /* a lone surrogate escape cannot be decoded */
    expect_type(st, "{\"data\":{\"t\":\"\\ud800\"}}", OOCSI_EVENT_INVALID);
}

static void test_message_invalid_utf8_and_nul(void **state)
{
    void *st = *state;
    oocsi_event ev;

    welcome(st);
    /* invalid bytes in strings: replaced, the message survives */
    MSG(st,
        "{\"data\":{\"t\":\"a\xff"
        "b\"},\"sender\":\"s\xc0\",\"recipient\":\"r\xed\xa0\x80\"}",
        "s" R, "r" R R R, 0, "{\"t\":\"a\\ufffdb\"}");
    /* a truncated character at the end of a string */
    MSG(st, "{\"data\":{\"t\":\"ab\xe2\x82\"},\"sender\":\"s\"}", "s", "", 0, "{\"t\":\"ab\\ufffd\"}");
    /* a non-object payload with invalid bytes */
    MSG(st, "{\"data\":\"x\xfey\"}", "", "", 0, "{\"data\":\"x\\ufffdy\"}");
    /* a NUL inside a string: replaced, so the value is a full C string */
    assert_int_equal(DECODE(st, "{\"data\":{\"t\":\"x\0y\"},\"sender\":\"s\"}", &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev.data, "t")->valuestring, "x" R "y");
    oocsi_event_clear(&ev);
    /* NUL or invalid bytes between tokens: not JSON */
    expect_type(st, "{\"data\":{},\0\"sender\":\"s\"}", OOCSI_EVENT_INVALID);
    expect_type(st, "{\"data\":{}}\0", OOCSI_EVENT_INVALID);
    expect_type(st, "{\"data\":\xff}", OOCSI_EVENT_INVALID);
    /* the INVALID text is sanitised */
    TXT(st, "{\"t\":\xff\0", OOCSI_EVENT_INVALID, "{\"t\":" R R);
    /* plain text is sanitised */
    TXT(st, "caf\xc3\xa9", OOCSI_EVENT_TEXT, "caf\xc3\xa9");
    TXT(st, "a\xff,b\0c", OOCSI_EVENT_TEXT, "a" R ",b" R "c");
}

/* ------------------------------------------ status and other frames */

static void test_status_frames(void **state)
{
    void *st = *state;

    welcome(st);
    /* {"code": n, "status": "..."} from sender "server": nothing to do */
    expect_type(st, "{\"code\":200,\"status\":\"ok\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"code\" : 404, \"status\" : \"recipient not found\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"code\":1,\"sender\":\"server\",\"status\":\"x\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"code\":1}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"status\":\"x\"}", OOCSI_EVENT_NONE);
    expect_type(st, "{\"code\":1,\"message\":\"m\",\"status\":\"x\"}", OOCSI_EVENT_NONE);
    expect_type(st, " {\"code\":200,\"status\":\"ok\"}\r\n", OOCSI_EVENT_NONE);
    /* with a "data" member it is a message */
    expect_type(st, "{\"code\":1,\"data\":{},\"status\":\"x\"}", OOCSI_EVENT_MESSAGE);
}

static void test_text_frames(void **state)
{
    void *st = *state;

    welcome(st);
    /* a JSON object with a "message": its text */
    TXT(st, "{\"message\":\"hello\"}", OOCSI_EVENT_TEXT, "hello");
    TXT(st, "{\"message\":\"\"}", OOCSI_EVENT_TEXT, "");
    TXT(st, "{\"message\":\"caf\\u00e9\",\"x\":1}", OOCSI_EVENT_TEXT, "caf\xc3\xa9");
    /* a second welcome or a late error is text: the session is up */
    TXT(st, "{\"message\" : \"welcome other\"}", OOCSI_EVENT_TEXT, "welcome other");
    TXT(st, "{\"message\" : \"ERROR: client x exists already\"}", OOCSI_EVENT_TEXT, "ERROR: client x exists already");
    /* non-JSON text */
    TXT(st, "hello world", OOCSI_EVENT_TEXT, "hello world");
    TXT(st, "  hello world \r\n", OOCSI_EVENT_TEXT, "hello world");
    TXT(st, "welcome other", OOCSI_EVENT_TEXT, "welcome other");
    TXT(st, "a, b, c", OOCSI_EVENT_TEXT, "a, b, c");
    TXT(st, "true story", OOCSI_EVENT_TEXT, "true story");
    TXT(st, "\"unterminated", OOCSI_EVENT_TEXT, "\"unterminated");
    TXT(st, "}{", OOCSI_EVENT_TEXT, "}{");
}

static void test_invalid_frames(void **state)
{
    static const char *bad[] = {
        /* broken JSON */
        "{",
        "{\"data\":",
        "{\"data\":{\"v\":1}",
        "{\"data\":{},}",
        "{data:{}}",
        "{'data':{}}",
        "{'message' : \"welcome alice\"}",
        "{\"data\":{}}}",
        "{\"data\":{}} x",
        "{\"data\":{}}{\"data\":{}}",
        "{\"data\":{}},",
        "{\"data\":{}}\x01",
        "{\"data\":tru}",
        "{\"data\":\"unterminated}",
        "{\"data\":\"bad escape \\q\"}",
        "{\"data\":[1,2}",
        "[",
        "[1,2",
        "[1,2]]",
        /* valid JSON that is not an object */
        "[]",
        "[1,2]",
        "[{\"data\":{}}]",
        "42",
        "-1.5e3",
        "\"x\"",
        "true",
        "false",
        "null",
        /* an object of no known shape */
        "{}",
        "{\"v\":1}",
        "{\"sender\":\"s\",\"recipient\":\"r\",\"timestamp\":1}",
        "{\"message\":42}",
    };
    void *st = *state;
    size_t i;

    welcome(st);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_text(st, bad[i], strlen(bad[i]), OOCSI_EVENT_INVALID, bad[i]);
    }
    /* the session goes on */
    MSG(st, "{\"data\":{\"v\":2},\"sender\":\"s\"}", "s", "", 0, "{\"v\":2}");
}

static void test_invalid_prefix_is_short(void **state)
{
    void *st = *state;
    char frame[400];
    oocsi_event ev;
    size_t i;

    welcome(st);
    /* {"t":"ééé... (unterminated): cut at <= 80 bytes on a character boundary */
    memcpy(frame, "{\"t\":\"", 6);
    for (i = 6; i + 2 <= 305; i += 2) {
        frame[i] = (char)0xc3;
        frame[i + 1] = (char)0xa9;
    }
    assert_int_equal(decode_n(st, frame, i, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_int_equal(ev.err, OOCSI_ERR_PROTOCOL);
    assert_int_equal(strlen(ev.text), 80);
    assert_true(oocsi_utf8_valid(ev.text, strlen(ev.text)));
    assert_memory_equal(ev.text, frame, 80);
    oocsi_event_clear(&ev);
    /* odd offset: the boundary moves back by one */
    memcpy(frame, "{\"tt\":\"", 7);
    for (i = 7; i + 2 <= 305; i += 2) {
        frame[i] = (char)0xc3;
        frame[i + 1] = (char)0xa9;
    }
    assert_int_equal(decode_n(st, frame, i, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_int_equal(strlen(ev.text), 79);
    assert_true(oocsi_utf8_valid(ev.text, strlen(ev.text)));
    oocsi_event_clear(&ev);
    /* a long non-object value is cut too */
    memset(frame, '1', 300);
    frame[0] = '[';
    frame[299] = ']';
    assert_int_equal(decode_n(st, frame, 300, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_int_equal(strlen(ev.text), 80);
    oocsi_event_clear(&ev);
}

/* ------------------------------------------------------ hostile input */

static void test_very_long_frames(void **state)
{
    void *st = *state;
    const size_t mib = 1u << 20;
    oocsi_event ev;
    size_t n;
    char *frame;

    /* 1 MiB of garbage before the welcome */
    frame = repeat("", 'x', mib, "", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    free(frame);
    /* a 1 MiB welcome name */
    frame = repeat("{\"message\":\"welcome ", 'n', mib, "\"}", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_WELCOME);
    assert_int_equal(strlen(ev.text), mib);
    oocsi_event_clear(&ev);
    free(frame);
    /* a 1 MiB string value in the payload */
    expect_big_value(st, "{\"data\":{\"big\":\"", mib, "\"},\"recipient\":\"r\",\"sender\":\"s\",\"timestamp\":1}",
                     "big", mib, "s");
    /* a 1 MiB message with an invalid byte: repaired, still delivered */
    expect_big_value(st, "{\"data\":{\"big\":\"", mib, "\xff\"}}", "big", mib + 3, NULL);
    /* a 1 MiB wrapped text payload */
    frame = repeat("{\"data\":\"", 'w', mib, "\"}", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(ev.data, "data")->valuestring), mib);
    oocsi_event_clear(&ev);
    free(frame);
    /* a 1 MiB text frame */
    frame = repeat("", 'q', mib, "", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_TEXT);
    assert_int_equal(strlen(ev.text), mib);
    oocsi_event_clear(&ev);
    free(frame);
    /* a 1 MiB truncated message */
    frame = repeat("{\"data\":{\"big\":\"", 'a', mib, "", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_true(strlen(ev.text) <= 80);
    oocsi_event_clear(&ev);
    free(frame);
    /* 1 MiB of whitespace */
    frame = repeat("", ' ', mib, "", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    free(frame);
}

static void test_deep_nesting(void **state)
{
    void *st = *state;
    const size_t depth = 100000;
    oocsi_event ev;
    size_t n, i;
    char *frame;

    /* 100k unclosed brackets before the welcome: ignored */
    frame = repeat("", '[', depth, "", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    free(frame);
    frame = repeat("{\"message\":", '[', depth, "", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    free(frame);
    welcome(st);
    /* 100k unclosed brackets, bare and in the payload */
    frame = repeat("", '[', depth, "", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    assert_true(strlen(ev.text) <= 80);
    oocsi_event_clear(&ev);
    free(frame);
    frame = repeat("{\"data\":", '[', depth, "", &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    oocsi_event_clear(&ev);
    free(frame);
    /* 100k balanced brackets in the payload: beyond cJSON's nesting limit */
    n = 8 + 2 * depth + 1;
    frame = malloc(n);
    assert_non_null(frame);
    memcpy(frame, "{\"data\":", 8);
    for (i = 0; i < depth; i++) {
        frame[8 + i] = '[';
        frame[8 + depth + i] = ']';
    }
    frame[n - 1] = '}';
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    oocsi_event_clear(&ev);
    free(frame);
    /* 100k nested objects */
    n = 8 * depth + depth;
    frame = malloc(n);
    assert_non_null(frame);
    for (i = 0; i < depth; i++) {
        memcpy(frame + 8 * i, "{\"data\":", 8);
    }
    memset(frame + 8 * depth, '}', depth);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    oocsi_event_clear(&ev);
    free(frame);
    /* moderate nesting is a normal message */
    {
        const size_t d = 500;
        n = 13 + 2 * d + 2;
        frame = malloc(n);
        assert_non_null(frame);
        memcpy(frame, "{\"data\":{\"a\":", 13);
        for (i = 0; i < d; i++) {
            frame[13 + i] = '[';
            frame[13 + d + i] = ']';
        }
        frame[n - 2] = '}';
        frame[n - 1] = '}';
        assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
        assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
        assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(ev.data, "a")));
        oocsi_event_clear(&ev);
        free(frame);
    }
}

/* Frames that start like a message or a status frame. */
static void webjson_shape(unsigned char *buf, size_t n, int round)
{
    if (n > 10 && round % 3 == 0) {
        memcpy(buf, "{\"data\":", 8);
    } else if (n > 12 && round % 3 == 1) {
        memcpy(buf, "{\"message\":\"", 12);
    }
}

static void test_binary_noise(void **state)
{
    run_binary_noise(*state, 3000, webjson_shape);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_codec_table),
        T(test_states_are_independent),
        T(test_decode_bad_args),
        T(test_welcome),
        T(test_welcome_variants),
        T(test_not_a_welcome),
        T(test_rejected),
        T(test_before_welcome),
        T(test_reset),
        T(test_example_session),
        T(test_control_frames),
        T(test_frame_bounded_by_len),
        T(test_message_sorted_keys),
        T(test_message_envelope_names_in_payload),
        T(test_message_non_object_data),
        T(test_message_missing_or_odd_envelope),
        T(test_message_timestamps),
        T(test_message_values),
        T(test_message_unicode),
        T(test_message_invalid_utf8_and_nul),
        T(test_status_frames),
        T(test_text_frames),
        T(test_invalid_frames),
        T(test_invalid_prefix_is_short),
        T(test_very_long_frames),
        T(test_deep_nesting),
        T(test_binary_noise),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
