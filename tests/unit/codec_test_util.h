/*
 * What the codec unit tests share: the codec under test, one state per test,
 * decoding from an exact-size heap copy without a terminating NUL (scribbled
 * over afterwards, so ASan catches any read past the frame and any event that
 * borrows from it), the payload as text, and the tests every codec must pass.
 *
 * Before including it, a test file defines CODEC_UNDER_TEST (the function
 * returning its codec), CODEC_WELCOME_FRAME (a frame that welcomes "tester")
 * CODEC_MESSAGE_FRAME (a message frame with payload {"v":1}) and
 * CODEC_SEND_VERB (the word that starts a send command: sendraw, sendjson).
 */
#ifndef OOCSI_CODEC_TEST_UTIL_H
#define OOCSI_CODEC_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "oocsi/codec.h"

#define R "\xef\xbf\xbd" /* U+FFFD */

static inline const oocsi_codec *codec(void)
{
    return CODEC_UNDER_TEST();
}

static inline int setup(void **state)
{
    *state = codec()->create();
    return *state == NULL ? -1 : 0;
}

static inline int teardown(void **state)
{
    codec()->destroy(*state);
    return 0;
}

static inline int decode_n(void *st, const char *frame, size_t len, oocsi_event *ev)
{
    char *copy = malloc(len > 0 ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, frame, len);
    memset(ev, 0, sizeof(*ev));
    rc = codec()->decode(st, len > 0 ? copy : NULL, len, ev);
    memset(copy, 'X', len);
    free(copy);
    return rc;
}

#define DECODE(st, lit, ev) decode_n(st, lit, sizeof(lit) - 1, ev)

static inline void welcome(void *st)
{
    oocsi_event ev;
    assert_int_equal(DECODE(st, CODEC_WELCOME_FRAME, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_WELCOME);
    oocsi_event_clear(&ev);
}

/* The payload of a MESSAGE event as compact ASCII text. (Not
 * cJSON_PrintUnformatted: it prints integers above ~1e15 inexactly, e.g.
 * 9007199254740998 as 9.007199254741e+15.) */
static inline char *data_text(const oocsi_event *ev)
{
    char *s;
    assert_non_null(ev->data);
    assert_true(cJSON_IsObject(ev->data));
    s = oocsi_json_ascii(ev->data, NULL, NULL);
    assert_non_null(s);
    return s;
}

/* Two states do not share the handshake. */
static inline void test_states_are_independent(void **state)
{
    void *a = codec()->create(), *b = codec()->create();
    oocsi_event ev;
    (void)state;

    assert_non_null(a);
    assert_non_null(b);
    welcome(a);
    assert_int_equal(DECODE(a, CODEC_MESSAGE_FRAME, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    oocsi_event_clear(&ev);
    assert_int_equal(DECODE(b, CODEC_MESSAGE_FRAME, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    assert_null(ev.data); /* before the welcome nothing leaks into events */
    assert_null(ev.sender);
    assert_null(ev.text);
    oocsi_event_clear(&ev);
    codec()->destroy(a);
    codec()->destroy(b);
    codec()->destroy(NULL);
}

static inline void test_decode_bad_args(void **state)
{
    oocsi_event ev;

    memset(&ev, 0, sizeof(ev));
    assert_int_equal(codec()->decode(NULL, "ping", 4, &ev), OOCSI_ERR_INVAL);
    assert_int_equal(codec()->decode(*state, "ping", 4, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(codec()->decode(*state, NULL, 4, &ev), OOCSI_ERR_INVAL);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    /* an empty frame may come as NULL */
    assert_int_equal(codec()->decode(*state, NULL, 0, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    welcome(*state);
    assert_int_equal(codec()->decode(*state, NULL, 0, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
}

/* Arbitrary bytes never crash and always give a well-formed event, before
 * and after the welcome: rounds frames of 0..63 pseudo-random bytes, each
 * given a codec-specific start by shape() (it may leave the bytes alone). */
static inline void run_binary_noise(void *st, int rounds, void (*shape)(unsigned char *buf, size_t n, int round))
{
    unsigned char buf[64];
    unsigned x = 12345;

    for (int welcomed = 0; welcomed < 2; welcomed++) {
        codec()->reset(st);
        if (welcomed) {
            welcome(st);
        }
        for (int round = 0; round < rounds; round++) {
            oocsi_event ev;
            size_t n = (size_t)(round % 64);
            for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                buf[i] = (unsigned char)(x >> 16);
            }
            shape(buf, n, round);
            assert_int_equal(decode_n(st, (const char *)buf, n, &ev), OOCSI_OK);
            if (ev.text != NULL) {
                assert_true(oocsi_utf8_valid(ev.text, strlen(ev.text)));
            }
            if (ev.type == OOCSI_EVENT_MESSAGE) {
                assert_non_null(ev.sender);
                assert_non_null(ev.recipient);
                assert_non_null(ev.data);
                assert_true(cJSON_IsObject(ev.data));
            }
            if (ev.type == OOCSI_EVENT_INVALID) {
                assert_int_equal(ev.err, OOCSI_ERR_PROTOCOL);
                assert_true(strlen(ev.text) <= 80);
            }
            if (ev.type == OOCSI_EVENT_WELCOME && !welcomed) {
                codec()->reset(st); /* stay in the mode under test */
            }
            oocsi_event_clear(&ev);
        }
    }
}

/* Encoding: the frame a command gives, or the error it fails with. */
static inline void expect_encode(const oocsi_command *cmd, const char *want)
{
    oocsi_buf out = {NULL, 0, 0};
    assert_int_equal(codec()->encode(NULL, cmd, &out), OOCSI_OK);
    assert_non_null(out.data);
    assert_int_equal(out.len, strlen(want));
    assert_string_equal(out.data, want);
    oocsi_buf_free(&out);
}

static inline oocsi_command mk(oocsi_command_type type, const char *arg, const char *payload)
{
    oocsi_command c;
    c.type = type;
    c.arg = arg;
    c.payload = payload;
    c.payload_len = payload != NULL ? strlen(payload) : 0;
    return c;
}

static inline void expect_encode_fails(const oocsi_command *cmd, int err)
{
    oocsi_buf out = {NULL, 0, 0};

    assert_int_equal(oocsi_buf_append_str(&out, "keep"), OOCSI_OK);
    assert_int_equal(codec()->encode(NULL, cmd, &out), err);
    /* nothing was appended */
    assert_int_equal(out.len, 4);
    assert_string_equal(out.data, "keep");
    oocsi_buf_free(&out);
}

/* A command and the frame it must encode to. */
typedef struct encode_case {
    oocsi_command_type type;
    const char *arg, *payload, *want;
} encode_case;

static inline void expect_encodes(const encode_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        oocsi_command c = mk(cases[i].type, cases[i].arg, cases[i].payload);
        expect_encode(&c, cases[i].want);
    }
}

static inline void test_encode_send_from_json_ascii(void **state)
{
    /* the intended pipeline: a cJSON object -> ASCII text -> send frame */
    cJSON *o = cJSON_Parse("{\"t\":\"caf\xc3\xa9\\nline\"}");
    oocsi_command c;
    size_t len = 0;
    char *payload;
    (void)state;

    assert_non_null(o);
    payload = oocsi_json_ascii(o, &len, NULL);
    assert_non_null(payload);
    c = mk(OOCSI_CMD_SEND, "room", payload);
    c.payload_len = len;
    expect_encode(&c, CODEC_SEND_VERB " room {\"t\":\"caf\\u00e9\\nline\"}");
    free(payload);
    cJSON_Delete(o);
}

/* The codec reads len bytes, never up to a NUL: "ping" out of a longer
 * buffer, then (welcomed) the first msg_len bytes of msg are a message and
 * one byte more is not. */
static inline void check_frame_bounded_by_len(void *st, const char *msg, size_t msg_len)
{
    oocsi_event ev;
    const char buf[] = "ping-and-more";

    memset(&ev, 0, sizeof(ev));
    assert_int_equal(codec()->decode(st, buf, 4, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_PING);
    welcome(st);
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(codec()->decode(st, msg, msg_len, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    oocsi_event_clear(&ev);
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(codec()->decode(st, msg, msg_len + 1, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_INVALID);
    oocsi_event_clear(&ev);
}

/* prefix, count times c, suffix: a malloc'd frame of *len bytes, no NUL. */
static inline char *repeat(const char *prefix, char c, size_t count, const char *suffix, size_t *len)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + count + sl);
    assert_non_null(s);
    memcpy(s, prefix, pl);
    memset(s + pl, c, count);
    memcpy(s + pl + count, suffix, sl);
    *len = pl + count + sl;
    return s;
}

/* A big message: prefix + count 'a's + suffix decodes to a MESSAGE whose
 * string key has want characters (and, given, that sender). */
static inline void expect_big_value(void *st, const char *prefix, size_t count, const char *suffix, const char *key,
                                    size_t want, const char *sender)
{
    oocsi_event ev;
    size_t n;
    char *frame = repeat(prefix, 'a', count, suffix, &n);
    assert_int_equal(decode_n(st, frame, n, &ev), OOCSI_OK);
    assert_int_equal(ev.type, OOCSI_EVENT_MESSAGE);
    if (sender)
        assert_string_equal(ev.sender, sender);
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(ev.data, key)->valuestring), want);
    oocsi_event_clear(&ev);
    free(frame);
}

/* Commands that must fail: every argument-taking command with a bad word, and
 * payloads that would break the framing or are missing. */
static inline void check_encode_rejects(const oocsi_command_type *with_arg, size_t n)
{
    static const char *bad_words[] = {NULL, "", "a b", "a\tb", "a\nb", "a\rb", " a", "a ", "a\x01", "a\x7f"};
    static const char *bad_payloads[] = {NULL, "", "{\"a\":\n1}", "{\"a\":1}\r"};
    oocsi_command c;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof(bad_words) / sizeof(bad_words[0]); j++) {
            /* (un)subscribe take the rest of the line: inner spaces are the
             * filter expressions' (the core checks where they may be) */
            int rest_of_line = with_arg[i] == OOCSI_CMD_SUBSCRIBE || with_arg[i] == OOCSI_CMD_UNSUBSCRIBE;
            if (rest_of_line && bad_words[j] && (!strcmp(bad_words[j], "a b") || !strcmp(bad_words[j], "a ")))
                continue;
            c = mk(with_arg[i], bad_words[j], "{}");
            expect_encode_fails(&c, OOCSI_ERR_INVAL);
        }
    }
    for (size_t j = 0; j < sizeof(bad_payloads) / sizeof(bad_payloads[0]); j++) {
        c = mk(OOCSI_CMD_SEND, "room", bad_payloads[j]);
        expect_encode_fails(&c, OOCSI_ERR_INVAL);
    }
    c = mk(OOCSI_CMD_SEND, "room", "{\"a\":1}");
    c.payload = "{\"a\":\0}"; /* a NUL inside the given length */
    expect_encode_fails(&c, OOCSI_ERR_INVAL);
}

#endif
