/*
 * Unit tests for JSON text without a tree (core/engine/jsonscan.c,
 * core/engine/msgtext.c): the strict object checker oocsi_json_scan_object()
 * and its member reports, oocsi_json_unescape(), member look-up, the wire
 * rewrite, number reading, and the line codec's unparsed messages
 * (decode_lazy) checked against its parsed ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "oocsi/codec.h"

/* Checks s from an exact-size heap copy (ASan sees any read past it). */
static int scan(const char *s, size_t *err_at)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int rc = oocsi_json_scan_object(copy, n, NULL, NULL, err_at);
    free(copy);
    return rc;
}

static void test_scan_accepts(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{}",
        " \t\r\n{ } \n",
        "{\"a\":1}",
        "{\"a\":-0.5e+10,\"b\":[1,2,{\"c\":null}],\"d\":true,\"e\":false,\"f\":\"x\"}",
        "{\"big\":12345678901234567890,\"neg\":-9223372036854775809}",
        "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}",
        "{\"\":{},\"x\":[],\"y\":[[]],\"z\":0}",
        "{\"caf\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "{\"a\":1E5,\"b\":0.0,\"c\":-0}",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (scan(ok[i], NULL) < 0)
            fail_msg("refused: %s", ok[i]);
        cJSON *j = cJSON_Parse(ok[i]);
        assert_true(cJSON_IsObject(j)); /* cJSON agrees */
        cJSON_Delete(j);
    }
}

static void test_scan_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t at;
    } bad[] = {
        {"", 0},
        {"[]", 0},
        {"\"s\"", 0},
        {"{", 1},
        {"{\"a\"}", 4},
        {"{\"a\":}", 5},
        {"{\"a\":1,}", 7},
        {"{\"a\":01}", 6},   /* leading zero (cJSON takes it) */
        {"{\"a\":1.}", 5},   /* no digit after the point */
        {"{\"a\":.5}", 5},   /* no digit before it */
        {"{\"a\":+1}", 5},   /* no plus sign */
        {"{\"a\":1e}", 5},   /* empty exponent */
        {"{\"a\":tru}", 5},  /* cut literal */
        {"{\"a\":nul}", 5},  /* cut literal */
        {"{\"a\":NaN}", 5},  /* not JSON */
        {"{\"a\":1}x", 7},   /* trailing garbage */
        {"{\"a\":1}{}", 7},  /* two values */
        {"{\"a\":[1,2}", 9}, /* wrong closer */
        {"{\"a\":\"\\x\"}", 6},
        {"{\"a\":\"\\u12\"}", 6},
        {"{\"a\":\"\\udc00\"}", 6},      /* lone low surrogate */
        {"{\"a\":\"\\ud800x\"}", 12},    /* high surrogate without its low half */
        {"{\"a\":\"\xff\"}", 6},         /* invalid UTF-8 */
        {"{\"a\":\"\xc3\"}", 6},         /* cut sequence */
        {"{\"a\":\"\xed\xa0\x80\"}", 6}, /* encoded surrogate */
        {"{\"a\":\"x", 7},               /* unterminated string */
        {"{\xc3\xa9:1}", 1},             /* non-ASCII outside strings */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t at = 999;
        if (scan(bad[i].text, &at) != OOCSI_ERR_INVAL)
            fail_msg("accepted: %s", bad[i].text);
        if (at != bad[i].at)
            fail_msg("%s: error at %zu, expected %zu", bad[i].text, at, bad[i].at);
    }
    /* a NUL byte inside a string */
    static const char nul[] = "{\"a\":\"x\0y\"}";
    assert_int_equal(oocsi_json_scan_object(nul, sizeof(nul) - 1, NULL, NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_json_scan_object(NULL, 0, NULL, NULL, NULL), OOCSI_ERR_INVAL);
}

/* Long strings take the vectorised path: every position of a special byte
 * in a long run is found. */
static void test_scan_long_strings(void **state)
{
    (void)state;
    char buf[300];
    for (size_t pos = 0; pos < 200; pos++) {
        size_t n = (size_t)snprintf(buf, sizeof buf, "{\"k\":\"");
        for (size_t i = 0; i < 200; i++)
            buf[n++] = i == pos ? '\x01' : 'a';
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\"}");
        assert_int_equal(oocsi_json_scan_object(buf, n, NULL, NULL, NULL), OOCSI_JSON_CONTROL);
        buf[6 + pos] = '"'; /* the string ends early: garbage follows */
        assert_int_equal(oocsi_json_scan_object(buf, n, NULL, NULL, NULL), OOCSI_ERR_INVAL);
        buf[6 + pos] = (char)0xff;
        assert_int_equal(oocsi_json_scan_object(buf, n, NULL, NULL, NULL), OOCSI_ERR_INVAL);
    }
}

static void test_scan_flags_and_depth(void **state)
{
    (void)state;
    assert_int_equal(scan("{\"a\":\"plain\"}", NULL), 0);
    assert_int_equal(scan("{\"a\":\"caf\xc3\xa9\"}", NULL), OOCSI_JSON_NON_ASCII);
    assert_int_equal(scan("{\"a\":\"tab\there\"}", NULL), OOCSI_JSON_CONTROL);
    assert_int_equal(scan("{\n\"a\": 1\r\n}", NULL), OOCSI_JSON_LINEBREAK);
    assert_int_equal(scan("{\t\"a\" : 1 }", NULL), 0); /* spaces and tabs are no line breaks */
    /* 1000 levels (cJSON's limit) pass, 1001 do not */
    for (int levels = 1000; levels <= 1001; levels++) {
        char *deep = malloc((size_t)levels * 6 + 8);
        size_t n = 0;
        deep[n++] = '{';
        for (int i = 1; i < levels; i++) {
            memcpy(deep + n, "\"a\":{", 5);
            n += 5;
        }
        for (int i = 0; i < levels; i++)
            deep[n++] = '}';
        int rc = oocsi_json_scan_object(deep, n, NULL, NULL, NULL);
        assert_int_equal(rc, levels == 1000 ? 0 : OOCSI_ERR_INVAL);
        free(deep);
    }
}

typedef struct seen {
    int n;
    char keys[8][16], vals[8][32];
} seen;

static void on_member(const char *k, size_t kn, const char *v, size_t vn, void *user)
{
    seen *s = user;
    if (s->n < 8) {
        snprintf(s->keys[s->n], sizeof s->keys[0], "%.*s", (int)kn, k);
        snprintf(s->vals[s->n], sizeof s->vals[0], "%.*s", (int)vn, v);
    }
    s->n++;
}

static void test_scan_members(void **state)
{
    (void)state;
    seen s = {0};
    const char *t = "{ \"a\" : [1, {\"in\":2}] , \"b\\\"q\":\"x,y\",\"c\":12345678901234567890 }";
    assert_true(oocsi_json_scan_object(t, strlen(t), on_member, &s, NULL) >= 0);
    assert_int_equal(s.n, 3); /* top level only */
    assert_string_equal(s.keys[0], "a");
    assert_string_equal(s.vals[0], "[1, {\"in\":2}]");
    assert_string_equal(s.keys[1], "b\\\"q");
    assert_string_equal(s.vals[1], "\"x,y\"");
    assert_string_equal(s.vals[2], "12345678901234567890");

    /* the iterator over checked text finds the same */
    oocsi__json_iter it = {t, strlen(t), 0};
    oocsi__json_span k, v;
    int n = 0;
    while (oocsi__json_next_member(&it, &k, &v)) {
        assert_int_equal((int)v.n, (int)strlen(s.vals[n]));
        assert_memory_equal(v.p, s.vals[n], v.n);
        n++;
    }
    assert_int_equal(n, 3);
}

static void test_unescape(void **state)
{
    (void)state;
    char out[64];
    const char *raw = "a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\\u0041";
    size_t n = oocsi_json_unescape(raw, strlen(raw), out);
    assert_string_equal(out, "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80"
                             "A");
    assert_int_equal(n, strlen(out));
    assert_int_equal(oocsi_json_unescape("plain", 5, out), 5);
    assert_string_equal(out, "plain");
    /* in place */
    char inplace[] = "x\\ty";
    assert_int_equal(oocsi_json_unescape(inplace, strlen(inplace), inplace), 3);
    assert_string_equal(inplace, "x\ty");
    /* an escaped key matches its decoded name */
    oocsi__json_span key = {"\\u0069", 6};
    assert_true(oocsi__json_key_is(&key, "i", 1));
    assert_false(oocsi__json_key_is(&key, "j", 1));
}

static void test_wire_rewrite(void **state)
{
    (void)state;
    const char *t = "{\n  \"t\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\ttab\",\r\n \"n\" : [1, 2]\n}";
    size_t n = 0;
    char *w = oocsi__json_wire(t, strlen(t), &n);
    assert_non_null(w);
    assert_string_equal(w, "{\"t\":\"caf\\u00e9 \\ud83d\\ude00\\u0009tab\",\"n\":[1,2]}");
    assert_int_equal(n, strlen(w));
    assert_int_equal(oocsi_json_scan_object(w, n, NULL, NULL, NULL), 0); /* clean for the wire */
    free(w);
}

static void test_numbers(void **state)
{
    (void)state;
    int64_t i;
    uint64_t u;
    double d;
    oocsi__json_span v = {"12345678901234567890", 20};
    assert_int_equal(oocsi__json_to_u64(&v, &u), OOCSI_OK);
    assert_true(u == 12345678901234567890ull);
    assert_int_equal(oocsi__json_to_i64(&v, &i), OOCSI_ERR_UNSUPPORTED); /* beyond int64 */
    oocsi__json_span mx = {"9223372036854775807", 19}, mn = {"-9223372036854775808", 20};
    assert_int_equal(oocsi__json_to_i64(&mx, &i), OOCSI_OK);
    assert_true(i == INT64_MAX);
    assert_int_equal(oocsi__json_to_i64(&mn, &i), OOCSI_OK);
    assert_true(i == INT64_MIN);
    assert_int_equal(oocsi__json_to_u64(&mn, &u), OOCSI_ERR_UNSUPPORTED);
    oocsi__json_span over = {"18446744073709551616", 20};
    assert_int_equal(oocsi__json_to_u64(&over, &u), OOCSI_ERR_UNSUPPORTED);
    oocsi__json_span f = {"2.5e1", 5};
    assert_int_equal(oocsi__json_to_double(&f, &d), OOCSI_OK);
    assert_true(d == 25.0);
    assert_int_equal(oocsi__json_to_i64(&f, &i), OOCSI_ERR_UNSUPPORTED); /* not an integer literal */
    oocsi__json_span s = {"\"7\"", 3};
    assert_int_equal(oocsi__json_to_double(&s, &d), OOCSI_ERR_UNSUPPORTED);
}

/* ------------------------------------------------- the line codec, lazily */

static void decode_both(const char *line, oocsi_event *eager, oocsi_event *lazy)
{
    const oocsi_codec *codec = oocsi_codec_line();
    void *st = codec->create();
    oocsi_event w;
    memset(&w, 0, sizeof w);
    const char *welcome = "{'message' : \"welcome tester\"}";
    assert_int_equal(codec->decode(st, welcome, strlen(welcome), &w), OOCSI_OK);
    oocsi_event_clear(&w);
    size_t n = strlen(line);
    char *copy = malloc(n);
    memcpy(copy, line, n);
    memset(eager, 0, sizeof *eager);
    memset(lazy, 0, sizeof *lazy);
    assert_int_equal(codec->decode(st, copy, n, eager), OOCSI_OK);
    assert_int_equal(codec->decode_lazy(st, copy, n, lazy), OOCSI_OK);
    memset(copy, 'Z', n); /* nothing may borrow from the frame */
    free(copy);
    codec->destroy(st);
}

static void test_line_lazy_matches(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"sender\":\"a\",\"recipient\":\"ch\",\"timestamp\":1700000000123,\"v\":1}",
        /* duplicates: the last envelope key wins, payload duplicates stay */
        "{\"sender\":\"x\",\"v\":1,\"sender\":\"b\",\"v\":2,\"recipient\":\"ch\"}",
        /* envelope keys in nested objects are payload */
        "{\"sender\":\"a\",\"v\":{\"sender\":\"inner\",\"timestamp\":3},\"recipient\":\"ch\"}",
        /* escaped envelope keys and values */
        "{\"send\\u0065r\":\"s\\u00e9nder\",\"recipient\":\"c\\\"h\",\"timestamp\":9007199254740993}",
        /* envelope values of other types */
        "{\"sender\":5,\"recipient\":null,\"timestamp\":\"soon\",\"x\":[1]}",
        "{\"timestamp\":-9223372036854775808,\"timestamp2\":1.5}",
        "{\"timestamp\":1e3}",
        "{\"timestamp\":123456789012345678901234567890123456789012345678901234567890123456789012345}",
        "{\"timestamp\":-1.5e2}",
        /* an escaped NUL ends a key, as in cJSON (a fuzzing finding) */
        "{\"recipient\":\"r\",\"timestamp\\u0000\":-4503599627370496,\"sender\":\"s\"}",
        "{\"recipient\":\"r\",\"timestamp\\u0000\":-9007199299045741,\"se\\t\":\"ers\"}",
        "{\"re\":\"r\",\"timestamp\\u0000mp\\u0000\":-450359223372036854775808996,\"sender\":\"s\"}",
        "  {\"v\":\"caf\xc3\xa9\"}  ",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        oocsi_event a, b;
        decode_both(lines[i], &a, &b);
        assert_int_equal(a.type, OOCSI_EVENT_MESSAGE);
        assert_int_equal(b.type, OOCSI_EVENT_MESSAGE);
        assert_non_null(b.json);
        assert_null(b.data);
        cJSON *payload = oocsi__payload_tree(b.json, b.json_len);
        /* compared as text: cJSON_Compare does not handle duplicate keys */
        char *pa = cJSON_PrintUnformatted(a.data), *pb = cJSON_PrintUnformatted(payload);
        if (strcmp(pa, pb) != 0)
            fail_msg("payloads differ for %s: %s vs %s", lines[i], pa, pb);
        free(pa);
        free(pb);
        assert_string_equal(a.sender, b.sender);
        assert_string_equal(a.recipient, b.recipient);
        assert_true(a.timestamp == b.timestamp);
        cJSON_Delete(payload);
        oocsi_event_clear(&a);
        oocsi_event_clear(&b);
    }
}

/* Lines the strict checker refuses take the parsing path: same result. */
static void test_line_lazy_falls_back(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"sender\":\"a\",\"v\":\"bad \xff\"}", /* repaired to U+FFFD */
        "{\"v\":01}",                            /* cJSON's leniency */
        "{\"v\":1",                              /* invalid: INVALID event */
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        oocsi_event a, b;
        decode_both(lines[i], &a, &b);
        assert_int_equal(a.type, b.type);
        assert_null(b.json);
        if (a.type == OOCSI_EVENT_MESSAGE) {
            char *pa = cJSON_PrintUnformatted(a.data), *pb = cJSON_PrintUnformatted(b.data);
            assert_string_equal(pa, pb);
            free(pa);
            free(pb);
        }
        oocsi_event_clear(&a);
        oocsi_event_clear(&b);
    }
}

/* json_special: set exactly when a top-level key begins with '_' or is
 * escaped (the core looks for call keys only then). */
static void test_line_lazy_special(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int special;
    } cases[] = {
        {"{\"sender\":\"a\",\"v\":{\"_MESSAGE_ID\":1}}", 0}, /* nested keys do not count */
        {"{\"_MESSAGE_ID\":\"x\"}", 1},
        {"{\"\\u005fMESSAGE_ID\":\"x\"}", 1},
        {"{\"v_\":1}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        oocsi_event a, b;
        decode_both(cases[i].line, &a, &b);
        assert_non_null(b.json);
        assert_int_equal(b.json_special, cases[i].special);
        oocsi_event_clear(&a);
        oocsi_event_clear(&b);
    }
}

/* Messages kept as text: look-ups skip the envelope and take the first of
 * duplicates (as cJSON does); the payload text keeps numbers exactly. */
static void test_message_text(void **state)
{
    (void)state;
    const char *t = "{\"sender\":\"a\",\"v\":1,\"big\":12345678901234567890,\"v\":2, \"s\" : \"caf\\u00e9 \\n\","
                    "\"timestamp\":5,\"recipient\":\"r\"}";
    oocsi_message m = {"a", "r", 5, NULL, t, strlen(t), 0};
    oocsi__json_span v;
    assert_int_equal(oocsi__message_value(&m, "v", &v), 1);
    assert_int_equal((int)v.n, 1);
    assert_int_equal(v.p[0], '1');
    assert_int_equal(oocsi__message_value(&m, "sender", &v), 0);
    assert_int_equal(oocsi__message_value(&m, "nope", &v), 0);
    char *p = oocsi__message_payload_text(&m);
    assert_string_equal(p, "{\"v\":1,\"big\":12345678901234567890,\"v\":2,\"s\":\"caf\xc3\xa9 \\n\"}");
    free(p);
    const cJSON *tree = oocsi__message_payload(&m);
    assert_non_null(tree);
    assert_ptr_equal(tree, oocsi__message_payload(&m)); /* parsed once */
    assert_null(cJSON_GetObjectItemCaseSensitive(tree, "sender"));
    assert_int_equal(cJSON_GetArraySize(tree), 4);
    cJSON_Delete(m.data);
}

/* The codecs refuse a payload with CR, LF or NUL wherever it is (long
 * payloads take a vectorised path), and take one with tabs. */
static void test_send_payload_check(void **state)
{
    (void)state;
    const oocsi_codec *codec = oocsi_codec_line();
    char *p = malloc(1000);
    for (size_t pos = 0; pos < 1000; pos += 37) {
        for (int k = 0; k < 4; k++) {
            memset(p, 'a', 1000);
            p[pos] = "\n\r\0\t"[k];
            oocsi_command cmd = {OOCSI_CMD_SEND, "ch", p, 1000};
            oocsi_buf out = {NULL, 0, 0};
            int rc = codec->encode(NULL, &cmd, &out);
            assert_int_equal(rc, k == 3 ? OOCSI_OK : OOCSI_ERR_INVAL);
            oocsi_buf_free(&out);
        }
    }
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_accepts),       cmocka_unit_test(test_scan_refuses),
        cmocka_unit_test(test_scan_long_strings),  cmocka_unit_test(test_scan_flags_and_depth),
        cmocka_unit_test(test_scan_members),       cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_wire_rewrite),       cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_line_lazy_matches),  cmocka_unit_test(test_line_lazy_falls_back),
        cmocka_unit_test(test_line_lazy_special),  cmocka_unit_test(test_message_text),
        cmocka_unit_test(test_send_payload_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
