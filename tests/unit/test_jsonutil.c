/*
 * Unit tests for the codec helpers in core/jsonutil.c: oocsi_buf,
 * oocsi_event_clear, oocsi_utf8_valid, oocsi_utf8_sanitize and
 * oocsi_json_ascii.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/codec.h"

/* oocsi_json_ascii and oocsi_utf8_sanitize return malloc'd memory; the public
 * contract says oocsi_free(), which is plain free(). Tests use free() so that
 * they depend on nothing but the helpers under test. */

/* ------------------------------------------------------------ oocsi_buf */

static void test_buf_append_basic(void **state)
{
    oocsi_buf b = {NULL, 0, 0};
    (void)state;

    assert_int_equal(oocsi_buf_append(&b, "abc", 3), OOCSI_OK);
    assert_non_null(b.data);
    assert_int_equal(b.len, 3);
    assert_true(b.cap > b.len);
    assert_string_equal(b.data, "abc");
    assert_int_equal(oocsi_buf_append_str(&b, "def"), OOCSI_OK);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "abcdef");
    /* binary data with an embedded NUL is kept; data[len] is still NUL */
    assert_int_equal(oocsi_buf_append(&b, "x\0y", 3), OOCSI_OK);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "abcdefx\0y", 9);
    assert_int_equal(b.data[9], '\0');
    oocsi_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_buf_append_empty(void **state)
{
    oocsi_buf b = {NULL, 0, 0};
    (void)state;

    /* appending nothing still yields a valid empty C string */
    assert_int_equal(oocsi_buf_append(&b, NULL, 0), OOCSI_OK);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_true(b.cap > 0);
    assert_string_equal(b.data, "");
    assert_int_equal(oocsi_buf_append_str(&b, ""), OOCSI_OK);
    assert_int_equal(b.len, 0);
    oocsi_buf_free(&b);
}

static void test_buf_growth(void **state)
{
    oocsi_buf b = {NULL, 0, 0};
    size_t i, changes = 0, last_cap = 0;
    (void)state;

    for (i = 0; i < 100000; i++) {
        char c = (char)('a' + (char)(i % 26));
        assert_int_equal(oocsi_buf_append(&b, &c, 1), OOCSI_OK);
        assert_true(b.cap > b.len);
        assert_int_equal(b.data[b.len], '\0');
        if (b.cap != last_cap) {
            changes++;
            last_cap = b.cap;
        }
    }
    assert_int_equal(b.len, 100000);
    for (i = 0; i < 100000; i++) {
        assert_int_equal(b.data[i], 'a' + (char)(i % 26));
    }
    /* geometric growth: a handful of reallocations, not one per append */
    assert_true(changes <= 20);
    assert_true(b.cap <= 2 * (b.len + 1) + 64);
    /* one big append past the doubling size */
    assert_int_equal(oocsi_buf_append(&b, NULL, 0), OOCSI_OK);
    {
        size_t big = b.cap * 3;
        char *blob = malloc(big);
        assert_non_null(blob);
        memset(blob, 'Z', big);
        assert_int_equal(oocsi_buf_append(&b, blob, big), OOCSI_OK);
        assert_int_equal(b.len, 100000 + big);
        assert_true(b.cap > b.len);
        assert_int_equal(b.data[b.len - 1], 'Z');
        assert_int_equal(b.data[b.len], '\0');
        free(blob);
    }
    oocsi_buf_free(&b);
}

static void test_buf_invalid_args(void **state)
{
    oocsi_buf b = {NULL, 0, 0};
    (void)state;

    assert_int_equal(oocsi_buf_append(NULL, "a", 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_buf_append(&b, NULL, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_buf_append_str(&b, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_buf_append_str(NULL, "a"), OOCSI_ERR_INVAL);
    assert_null(b.data);
    oocsi_buf_free(NULL); /* NULL-safe */
    oocsi_buf_free(&b);   /* empty is fine */
}

static void test_buf_size_overflow(void **state)
{
    /* a buffer that claims to be almost SIZE_MAX long: any append that would
     * overflow size_t must fail cleanly, without touching memory */
    char dummy[4] = "abc";
    oocsi_buf b;
    (void)state;

    b.data = dummy;
    b.len = SIZE_MAX - 4;
    b.cap = SIZE_MAX - 3;
    assert_int_equal(oocsi_buf_append(&b, "0123456789", 10), OOCSI_ERR_NOMEM);
    assert_ptr_equal(b.data, dummy);
    assert_int_equal(b.len, SIZE_MAX - 4);
    assert_int_equal(b.cap, SIZE_MAX - 3);
    b.len = SIZE_MAX - 1;
    b.cap = SIZE_MAX;
    assert_int_equal(oocsi_buf_append(&b, "0", 1), OOCSI_ERR_NOMEM);
    assert_int_equal(b.len, SIZE_MAX - 1);
}

/* --------------------------------------------------------- event_clear */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    assert_non_null(d);
    memcpy(d, s, n);
    return d;
}

static void test_event_clear(void **state)
{
    oocsi_event ev;
    (void)state;

    memset(&ev, 0, sizeof(ev));
    ev.type = OOCSI_EVENT_MESSAGE;
    ev.err = OOCSI_ERR_PROTOCOL;
    ev.text = xstrdup("text");
    ev.sender = xstrdup("bob");
    ev.recipient = xstrdup("room");
    ev.timestamp = 42;
    ev.data = cJSON_CreateObject();
    assert_non_null(cJSON_AddNumberToObject(ev.data, "v", 1));
    oocsi_event_clear(&ev); /* leaks would be reported by ASan/valgrind */
    assert_int_equal(ev.type, OOCSI_EVENT_NONE);
    assert_int_equal(ev.err, 0);
    assert_null(ev.text);
    assert_null(ev.sender);
    assert_null(ev.recipient);
    assert_null(ev.data);
    assert_int_equal(ev.timestamp, 0);
    oocsi_event_clear(&ev); /* twice is fine */
    oocsi_event_clear(NULL);
}

/* -------------------------------------------------------------- UTF-8 */

typedef struct {
    const char *s;
    size_t len;
    int valid;
} utf8_case;

/* clang-format off */
#define U8(lit, v) {lit, sizeof(lit) - 1, v}
/* clang-format on */

static const utf8_case utf8_cases[] = {
    U8("", 1),
    U8("plain ascii", 1),
    U8("\x7f", 1),
    U8("caf\xc3\xa9", 1),                 /* é */
    U8("\xc2\x80", 1),                    /* U+0080, smallest 2-byte */
    U8("\xdf\xbf", 1),                    /* U+07FF */
    U8("\xe0\xa0\x80", 1),                /* U+0800, smallest 3-byte */
    U8("\xe2\x82\xac", 1),                /* € */
    U8("\xed\x9f\xbf", 1),                /* U+D7FF, below the surrogates */
    U8("\xee\x80\x80", 1),                /* U+E000, above the surrogates */
    U8("\xef\xbf\xbf", 1),                /* U+FFFF */
    U8("\xf0\x90\x80\x80", 1),            /* U+10000, smallest 4-byte */
    U8("\xf0\x9f\x98\x80", 1),            /* 😀 */
    U8("\xf4\x8f\xbf\xbf", 1),            /* U+10FFFF, the largest */
    U8("a\0b", 1),                        /* U+0000 is valid UTF-8 */
    U8("\x80", 0),                        /* lone continuation */
    U8("\xbf", 0),                        /* lone continuation */
    U8("\xc0\x80", 0),                    /* overlong NUL */
    U8("\xc0\xaf", 0),                    /* overlong '/' */
    U8("\xc1\xbf", 0),                    /* overlong */
    U8("\xe0\x80\x80", 0),                /* overlong 3-byte */
    U8("\xe0\x9f\xbf", 0),                /* overlong U+07FF */
    U8("\xf0\x80\x80\x80", 0),            /* overlong 4-byte */
    U8("\xf0\x8f\xbf\xbf", 0),            /* overlong U+FFFF */
    U8("\xed\xa0\x80", 0),                /* U+D800 high surrogate */
    U8("\xed\xbf\xbf", 0),                /* U+DFFF low surrogate */
    U8("\xed\xa0\xbd\xed\xb8\x80", 0),    /* CESU-8 surrogate pair */
    U8("\xf4\x90\x80\x80", 0),            /* U+110000 */
    U8("\xf5\x80\x80\x80", 0),            /* F5 lead */
    U8("\xf8\x88\x80\x80\x80", 0),        /* 5-byte form */
    U8("\xfe", 0),                        /* FE */
    U8("\xff", 0),                        /* FF */
    U8("\xc3", 0),                        /* truncated 2-byte */
    U8("\xe2\x82", 0),                    /* truncated 3-byte */
    U8("\xf0\x9f\x98", 0),                /* truncated 4-byte */
    U8("\xc3\x28", 0),                    /* bad continuation */
    U8("\xe2\x28\xa1", 0),                /* bad continuation */
    U8("\xf0\x9f\x98\x28", 0),            /* bad last continuation */
    U8("\xc3\xa9\xa9", 0),                /* extra continuation */
    U8("abcdefghijklmnop\xc3\xa9", 1),    /* after the 8-byte fast path */
    U8("abcdefghijklmnop\xc3", 0),        /* truncated after the fast path */
    U8("abcdefghijklmnopqrstuvw\xff", 0), /* invalid after three words */
};

static void test_utf8_valid_table(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        int got = oocsi_utf8_valid(utf8_cases[i].s, utf8_cases[i].len);
        if (got != utf8_cases[i].valid) {
            fail_msg("case %u: expected %d, got %d", (unsigned)i, utf8_cases[i].valid, got);
        }
    }
    assert_true(oocsi_utf8_valid(NULL, 0));
    assert_false(oocsi_utf8_valid(NULL, 3));
    /* the length bounds the check: a sequence cut by len is truncated */
    assert_false(oocsi_utf8_valid("\xc3\xa9", 1));
    assert_true(oocsi_utf8_valid("ab\xff", 2));
}

static void test_utf8_valid_every_offset(void **state)
{
    /* a bad byte at every position around the 8-byte fast path boundaries */
    char buf[40];
    size_t pos;
    (void)state;

    for (pos = 0; pos < sizeof(buf); pos++) {
        memset(buf, 'a', sizeof(buf));
        assert_true(oocsi_utf8_valid(buf, sizeof(buf)));
        buf[pos] = (char)0x80;
        assert_false(oocsi_utf8_valid(buf, sizeof(buf)));
        if (pos + 1 < sizeof(buf)) {
            buf[pos] = (char)0xc3;
            buf[pos + 1] = (char)0xa9;
            assert_true(oocsi_utf8_valid(buf, sizeof(buf)));
        }
    }
}

static void check_sanitize(const char *in, size_t in_len, const char *want, size_t want_len)
{
    size_t out_len = (size_t)-1;
    char *out = oocsi_utf8_sanitize(in, in_len, &out_len);

    assert_non_null(out);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[out_len], '\0');
    assert_int_equal(strlen(out), out_len); /* a proper C string: no NUL inside */
    assert_true(oocsi_utf8_valid(out, out_len));
    free(out);
}

#define SAN(in, want) check_sanitize(in, sizeof(in) - 1, want, sizeof(want) - 1)
#define R "\xef\xbf\xbd" /* U+FFFD */

static void test_utf8_sanitize(void **state)
{
    (void)state;

    SAN("", "");
    SAN("abc", "abc");
    SAN("caf\xc3\xa9 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", "caf\xc3\xa9 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    SAN("a\x80"
        "b",
        "a" R "b");
    SAN("\xff", R);
    SAN("\xf5\xff", R R); /* F5..FF: one U+FFFD each */
    /* overlongs: C0/C1 are never valid, then the continuation alone */
    SAN("\xc0\xaf", R R);
    SAN("\xe0\x80\xaf", R R R);
    SAN("\xf0\x80\x80\xaf", R R R R);
    /* surrogates: ED then a byte outside 80..9F breaks at once */
    SAN("\xed\xa0\x80", R R R);
    /* above U+10FFFF */
    SAN("\xf4\x90\x80\x80", R R R R);
    /* truncated sequences: one U+FFFD for the whole maximal subpart */
    SAN("\xf0\x9f\x98", R);
    SAN("\xf0\x9f\x98x", R "x");
    SAN("\xe2\x82"
        "A",
        R "A");
    SAN("\xc3", R);
    SAN("x\xe2\x82", "x" R);
    /* the example of Unicode Table 3-8 (U+FFFD for maximal subparts) */
    SAN("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", "a" R R R "b" R "c" R R "d");
    /* NUL bytes become U+FFFD so the result is a proper C string */
    SAN("a\0b", "a" R "b");
    SAN("\0", R);
    /* a valid character right after an invalid byte is kept */
    SAN("\xff\xc3\xa9", R "\xc3\xa9");
}

static void test_utf8_sanitize_edge(void **state)
{
    size_t n = 99;
    char *out;
    (void)state;

    out = oocsi_utf8_sanitize(NULL, 0, &n);
    assert_non_null(out);
    assert_string_equal(out, "");
    assert_int_equal(n, 0);
    free(out);
    assert_null(oocsi_utf8_sanitize(NULL, 5, &n));
    /* out_len may be NULL; the input is bounded by len, not by a NUL */
    out = oocsi_utf8_sanitize("abc\xff-not-this", 4, NULL);
    assert_non_null(out);
    assert_string_equal(out, "abc" R);
    free(out);
}

static void test_utf8_sanitize_large(void **state)
{
    /* 1 MiB of invalid bytes: every byte becomes 3 */
    size_t n = 1u << 20, out_len = 0, i;
    char *in = malloc(n), *out;
    (void)state;

    assert_non_null(in);
    memset(in, 0xff, n);
    out = oocsi_utf8_sanitize(in, n, &out_len);
    assert_non_null(out);
    assert_int_equal(out_len, 3 * n);
    for (i = 0; i < out_len; i += 3) {
        assert_memory_equal(out + i, R, 3);
    }
    free(out);
    free(in);
}

/* ---------------------------------------------------------- json_ascii */

static void check_ascii(const cJSON *obj, const char *want)
{
    size_t len = 12345;
    int err = 12345;
    char *s = oocsi_json_ascii(obj, &len, &err);
    size_t i;

    assert_non_null(s);
    assert_int_equal(err, OOCSI_OK);
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    for (i = 0; i < len; i++) {
        assert_true((unsigned char)s[i] < 0x80);
    }
    free(s);
}

/* Parses text, serialises it, compares with want. */
static void check_ascii_text(const char *json, const char *want)
{
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    check_ascii(o, want);
    cJSON_Delete(o);
}

static void test_ascii_escapes_non_ascii(void **state)
{
    (void)state;

    check_ascii_text("{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\\u00e9\"}");
    check_ascii_text("{\"a\":\"\xf0\x9f\x98\x80\"}", "{\"a\":\"\\ud83d\\ude00\"}");
    check_ascii_text("{\"a\":\"caf\xc3\xa9 \xe2\x82\xac!\"}", "{\"a\":\"caf\\u00e9 \\u20ac!\"}");
    /* boundaries */
    check_ascii_text("{\"a\":\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\"}",
                     "{\"a\":\"\\u0080\\u07ff\\u0800\\uffff\"}");
    check_ascii_text("{\"a\":\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}", "{\"a\":\"\\ud800\\udc00\\udbff\\udfff\"}");
    /* keys are escaped too */
    check_ascii_text("{\"cl\xc3\xa9\":1}", "{\"cl\\u00e9\":1}");
    /* \u escapes in the input come back as the same escapes */
    check_ascii_text("{\"a\":\"\\u00e9\\ud83d\\ude00\"}", "{\"a\":\"\\u00e9\\ud83d\\ude00\"}");
    /* nested */
    check_ascii_text("{\"o\":{\"l\":[\"\xc3\xa9\",{\"\xc3\xa9\":\"\xc3\xa9\"}]}}",
                     "{\"o\":{\"l\":[\"\\u00e9\",{\"\\u00e9\":\"\\u00e9\"}]}}");
}

static void test_ascii_escapes_control(void **state)
{
    cJSON *o = cJSON_CreateObject();
    (void)state;

    assert_non_null(cJSON_AddStringToObject(o, "s", "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f~"));
    check_ascii(o, "{\"s\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f~\"}");
    cJSON_Delete(o);
}

static void test_ascii_roundtrip(void **state)
{
    /* the ASCII text parses back to the very same tree */
    const char *src = "{\"t\":\"a\xc3\xa9\xf0\x9f\x98\x80\\n\\\"\",\"n\":[1,2.5,-3,null,true,false,{}],"
                      "\"o\":{\"x\":{\"y\":[[]]}},\"e\":\"\"}";
    cJSON *o = cJSON_Parse(src), *back;
    char *s;
    (void)state;

    assert_non_null(o);
    s = oocsi_json_ascii(o, NULL, NULL);
    assert_non_null(s);
    back = cJSON_Parse(s);
    assert_non_null(back);
    assert_true(cJSON_Compare(o, back, 1));
    free(s);
    cJSON_Delete(back);
    cJSON_Delete(o);
}

static void test_ascii_same_as_cjson_for_ascii(void **state)
{
    /* for ASCII-only data the output equals cJSON's compact form */
    const char *src = "{\"v\":1,\"s\":\"x y\",\"a\":[1,[2,[3]],{\"k\":null}],\"b\":true,\"c\":false,"
                      "\"f\":3.14159,\"neg\":-7,\"z\":0,\"e\":{}}";
    cJSON *o = cJSON_Parse(src);
    char *mine, *theirs;
    (void)state;

    assert_non_null(o);
    mine = oocsi_json_ascii(o, NULL, NULL);
    theirs = cJSON_PrintUnformatted(o);
    assert_non_null(mine);
    assert_non_null(theirs);
    assert_string_equal(mine, theirs);
    assert_string_equal(mine, src);
    free(mine);
    cJSON_free(theirs);
    cJSON_Delete(o);
}

static void test_ascii_numbers(void **state)
{
    (void)state;

    check_ascii_text("{\"n\":12345678901234}", "{\"n\":12345678901234}");
    check_ascii_text("{\"n\":-12345678901234}", "{\"n\":-12345678901234}");
    check_ascii_text("{\"n\":1795526313761}", "{\"n\":1795526313761}");
    check_ascii_text("{\"n\":9007199254740992}", "{\"n\":9007199254740992}");
    check_ascii_text("{\"n\":2147483648}", "{\"n\":2147483648}");
    check_ascii_text("{\"n\":0}", "{\"n\":0}");
    check_ascii_text("{\"n\":-0.0}", "{\"n\":0}");
    check_ascii_text("{\"n\":1.0}", "{\"n\":1}");
    check_ascii_text("{\"n\":1.5}", "{\"n\":1.5}");
    check_ascii_text("{\"n\":0.1}", "{\"n\":0.1}");
    check_ascii_text("{\"n\":3.14159}", "{\"n\":3.14159}");
    check_ascii_text("{\"n\":-2.5e-7}", "{\"n\":-2.5e-07}");
    check_ascii_text("{\"n\":1e300}", "{\"n\":1e+300}");
    check_ascii_text("{\"n\":1.0E300}", "{\"n\":1e+300}");
    {
        /* needs 17 digits to read back */
        cJSON *o = cJSON_CreateObject();
        char *s;
        cJSON *back;
        assert_non_null(cJSON_AddNumberToObject(o, "n", 0.1 + 0.2));
        s = oocsi_json_ascii(o, NULL, NULL);
        assert_non_null(s);
        assert_string_equal(s, "{\"n\":0.30000000000000004}");
        back = cJSON_Parse(s);
        assert_non_null(back);
        assert_true(cJSON_GetObjectItem(back, "n")->valuedouble == 0.1 + 0.2);
        cJSON_Delete(back);
        free(s);
        cJSON_Delete(o);
    }
    {
        /* non-finite numbers cannot be JSON: null, like cJSON */
        cJSON *o = cJSON_CreateObject();
        assert_non_null(cJSON_AddNumberToObject(o, "nan", NAN));
        assert_non_null(cJSON_AddNumberToObject(o, "inf", INFINITY));
        assert_non_null(cJSON_AddNumberToObject(o, "minf", -INFINITY));
        check_ascii(o, "{\"nan\":null,\"inf\":null,\"minf\":null}");
        cJSON_Delete(o);
    }
}

static void test_ascii_literals_and_shapes(void **state)
{
    (void)state;

    check_ascii_text("{}", "{}");
    check_ascii_text("{ \"a\" : [ ] , \"b\" : { } }", "{\"a\":[],\"b\":{}}");
    check_ascii_text("{\"t\":true,\"f\":false,\"n\":null}", "{\"t\":true,\"f\":false,\"n\":null}");
    check_ascii_text("{\"o\":{\"a\":[1,null,{\"b\":null}],\"n\":null}}",
                     "{\"o\":{\"a\":[1,null,{\"b\":null}],\"n\":null}}");
    check_ascii_text("{\"a\":[[[[1]],[2]],3]}", "{\"a\":[[[[1]],[2]],3]}");
    /* non-object input is allowed (the caller checks) */
    check_ascii_text("[1,2]", "[1,2]");
    check_ascii_text("\"x\xc3\xa9\"", "\"x\\u00e9\"");
    check_ascii_text("42", "42");
    check_ascii_text("null", "null");
}

static void test_ascii_item_with_siblings(void **state)
{
    /* an item inside an object prints alone: no key, no siblings */
    cJSON *o = cJSON_Parse("{\"a\":{\"x\":1},\"b\":2}");
    (void)state;

    assert_non_null(o);
    check_ascii(o->child, "{\"x\":1}");
    check_ascii(o->child->next, "2");
    cJSON_Delete(o);
}

static void test_ascii_raw(void **state)
{
    cJSON *o = cJSON_CreateObject();
    (void)state;

    assert_non_null(cJSON_AddRawToObject(o, "r", "{\"k\":\n[1,\t2],\"s\":\"\xc3\xa9\"}"));
    /* raw text is kept, but a raw LF can never reach the wire and non-ASCII
     * is escaped */
    check_ascii(o, "{\"r\":{\"k\": [1, 2],\"s\":\"\\u00e9\"}}");
    cJSON_Delete(o);
}

static void check_ascii_fails(const cJSON *obj, int want_err)
{
    size_t len = 777;
    int err = 0;
    char *s = oocsi_json_ascii(obj, &len, &err);
    assert_null(s);
    assert_int_equal(err, want_err);
    assert_int_equal(len, 0);
}

static void test_ascii_invalid_utf8(void **state)
{
    static const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "x\xe2\x82y"};
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON *arr, *inner;
        /* in a value */
        assert_non_null(cJSON_AddStringToObject(o, "k", bad[i]));
        check_ascii_fails(o, OOCSI_ERR_INVAL);
        cJSON_Delete(o);
        /* in a key */
        o = cJSON_CreateObject();
        assert_non_null(cJSON_AddStringToObject(o, bad[i], "v"));
        check_ascii_fails(o, OOCSI_ERR_INVAL);
        cJSON_Delete(o);
        /* deep inside */
        o = cJSON_CreateObject();
        arr = cJSON_AddArrayToObject(o, "a");
        inner = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, inner);
        assert_non_null(cJSON_AddStringToObject(inner, "ok", "fine"));
        assert_non_null(cJSON_AddStringToObject(inner, "bad", bad[i]));
        check_ascii_fails(o, OOCSI_ERR_INVAL);
        cJSON_Delete(o);
    }
}

static void test_ascii_bad_args(void **state)
{
    cJSON *o;
    (void)state;

    check_ascii_fails(NULL, OOCSI_ERR_INVAL);
    assert_null(oocsi_json_ascii(NULL, NULL, NULL)); /* len/err may be NULL */
    /* an item of no valid type */
    o = cJSON_CreateObject();
    assert_non_null(cJSON_AddNullToObject(o, "x"));
    o->child->type = cJSON_Invalid;
    check_ascii_fails(o, OOCSI_ERR_INVAL);
    cJSON_Delete(o);
}

static void test_ascii_deep_nesting(void **state)
{
    /* deeper than cJSON would ever parse: the writer is iterative */
    const size_t depth = 5000;
    cJSON *root = cJSON_CreateArray(), *cur = root;
    size_t i, len = 0;
    char *s;
    (void)state;

    for (i = 1; i < depth; i++) {
        cJSON *next = cJSON_CreateArray();
        cJSON_AddItemToArray(cur, next);
        cur = next;
    }
    cJSON_AddItemToArray(cur, cJSON_CreateString("\xc3\xa9"));
    s = oocsi_json_ascii(root, &len, NULL);
    assert_non_null(s);
    assert_int_equal(len, 2 * depth + 8);
    for (i = 0; i < depth; i++) {
        assert_int_equal(s[i], '[');
        assert_int_equal(s[len - 1 - i], ']');
    }
    assert_memory_equal(s + depth, "\"\\u00e9\"", 8);
    free(s);
    cJSON_Delete(root);
}

static void test_ascii_long_string(void **state)
{
    size_t n = 1u << 20, len = 0, i;
    char *big = malloc(n + 1), *s;
    cJSON *o = cJSON_CreateObject();
    (void)state;

    assert_non_null(big);
    for (i = 0; i < n; i++) {
        big[i] = (char)('a' + (char)(i % 26));
    }
    big[n] = '\0';
    big[n / 2] = '"';
    assert_non_null(cJSON_AddStringToObject(o, "s", big));
    s = oocsi_json_ascii(o, &len, NULL);
    assert_non_null(s);
    assert_int_equal(len, n + 9); /* {"s":""} plus one backslash */
    assert_memory_equal(s, "{\"s\":\"", 6);
    assert_memory_equal(s + 6, big, n / 2);
    assert_memory_equal(s + 6 + n / 2, "\\\"", 2);
    assert_memory_equal(s + len - 2, "\"}", 2);
    free(s);
    free(big);
    cJSON_Delete(o);
}

/* A key added twice goes on the wire once, with the value written last (as
 * a dictionary would have it); arrays keep every element. */
static void test_ascii_duplicate_keys_last_wins(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "x", 3);
    cJSON_AddNumberToObject(o, "result", 9);
    cJSON_AddNumberToObject(o, "x", 4);
    check_ascii(o, "{\"result\":9,\"x\":4}");
    cJSON *inner = cJSON_AddObjectToObject(o, "in");
    cJSON_AddStringToObject(inner, "a", "old");
    cJSON_AddStringToObject(inner, "a", "new");
    cJSON_AddStringToObject(inner, "b", "kept");
    cJSON_AddStringToObject(inner, "a", "newest");
    check_ascii(o, "{\"result\":9,\"x\":4,\"in\":{\"b\":\"kept\",\"a\":\"newest\"}}");
    cJSON_Delete(o);
    check_ascii_text("[1,1,{\"k\":1,\"k\":2},[{\"k\":0}]]", "[1,1,{\"k\":2},[{\"k\":0}]]");
    check_ascii_text("{\"a\":1,\"a\":{\"z\":1},\"b\":2}", "{\"a\":{\"z\":1},\"b\":2}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_basic),
        cmocka_unit_test(test_buf_append_empty),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_invalid_args),
        cmocka_unit_test(test_buf_size_overflow),
        cmocka_unit_test(test_event_clear),
        cmocka_unit_test(test_utf8_valid_table),
        cmocka_unit_test(test_utf8_valid_every_offset),
        cmocka_unit_test(test_utf8_sanitize),
        cmocka_unit_test(test_utf8_sanitize_edge),
        cmocka_unit_test(test_utf8_sanitize_large),
        cmocka_unit_test(test_ascii_escapes_non_ascii),
        cmocka_unit_test(test_ascii_escapes_control),
        cmocka_unit_test(test_ascii_roundtrip),
        cmocka_unit_test(test_ascii_same_as_cjson_for_ascii),
        cmocka_unit_test(test_ascii_numbers),
        cmocka_unit_test(test_ascii_literals_and_shapes),
        cmocka_unit_test(test_ascii_item_with_siblings),
        cmocka_unit_test(test_ascii_raw),
        cmocka_unit_test(test_ascii_invalid_utf8),
        cmocka_unit_test(test_ascii_bad_args),
        cmocka_unit_test(test_ascii_deep_nesting),
        cmocka_unit_test(test_ascii_long_string),
        cmocka_unit_test(test_ascii_duplicate_keys_last_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
