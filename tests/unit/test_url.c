/* Unit tests: endpoint URL parsing (core/util.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "url.h"

struct good {
    const char *in;
    const char *scheme, *host;
    int port;
    const char *path, *url;
};

static const struct good goods[] = {
    {"tcp://host:4444", "tcp", "host", 4444, "", "tcp://host:4444"},
    {"tcp://localhost", "tcp", "localhost", -1, "", "tcp://localhost"},
    {"tls://h", "tls", "h", -1, "", "tls://h"},
    {"tls://oocsi.example.org:4443", "tls", "oocsi.example.org", 4443, "", "tls://oocsi.example.org:4443"},
    {"ws://h:8080/ws", "ws", "h", 8080, "/ws", "ws://h:8080/ws"},
    {"wss://h/path?x=1", "wss", "h", -1, "/path?x=1", "wss://h/path?x=1"},
    {"wss://h?x=1", "wss", "h", -1, "?x=1", "wss://h?x=1"},
    {"ws://h/", "ws", "h", -1, "/", "ws://h/"},
    {"host", "tcp", "host", -1, "", "tcp://host"},
    {"host:1", "tcp", "host", 1, "", "tcp://host:1"},
    {"host:65535", "tcp", "host", 65535, "", "tcp://host:65535"},
    {"127.0.0.1:4444", "tcp", "127.0.0.1", 4444, "", "tcp://127.0.0.1:4444"},
    {"host:004444", "tcp", "host", 4444, "", "tcp://host:4444"},
    {"[::1]:4444", "tcp", "::1", 4444, "", "tcp://[::1]:4444"},
    {"[::1]", "tcp", "::1", -1, "", "tcp://[::1]"},
    {"tcp://[::1]", "tcp", "::1", -1, "", "tcp://[::1]"},
    {"ws://[fe80::1%eth0]:80/ws", "ws", "fe80::1%eth0", 80, "/ws", "ws://[fe80::1%eth0]:80/ws"},
    {"tcp://[::ffff:10.0.0.1]:9", "tcp", "::ffff:10.0.0.1", 9, "", "tcp://[::ffff:10.0.0.1]:9"},
    {"TCP://Host", "tcp", "Host", -1, "", "tcp://Host"},
    {"WsS://MiXeD:443/Ws", "wss", "MiXeD", 443, "/Ws", "wss://MiXeD:443/Ws"},
    {"unix:///tmp/sock", "unix", "", -1, "/tmp/sock", "unix:///tmp/sock"},
    {"pipe://name", "pipe", "name", -1, "", "pipe://name"},
    {"my-proto+x.1://a:7/b", "my-proto+x.1", "a", 7, "/b", "my-proto+x.1://a:7/b"},
    {"pipe://", "pipe", "", -1, "", "pipe://"},
    {"oocsi-hub_1.local", "tcp", "oocsi-hub_1.local", -1, "", "tcp://oocsi-hub_1.local"},
};

static const char *const bads[] = {
    "",
    "tcp://",
    "tls://",
    "ws://",
    "wss://",
    "ws:///ws",
    "tcp://:4444",
    ":4444",
    "host:",
    "host:0",
    "host:65536",
    "host:99999999999999999999",
    "host:-1",
    "host:+80",
    "host:80a",
    "host:8 0",
    "ho st",
    " host",
    "host ",
    "tcp://host\n",
    "tcp://ho\tst",
    "tcp://h/pa th",
    "tcp://h\x01",
    "tcp://h\x7f",
    "::1",
    "host:1:2",
    "[::1",
    "[::1]x",
    "[::1]x80",
    "[::1]:",
    "[::1]:0",
    "[::1]:70000",
    "[]",
    "[host]",
    "[::g]",
    "[fe80::1%]",
    "://host",
    "1tcp://host",
    "tc p://host",
    "tc_p://host",
    "user@host",
    "tcp://user:pw@host",
    "tcp://ho#st",
    "tcp://h[x]",
};

static void test_good_urls(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof goods / sizeof goods[0]; i++) {
        oocsi__url u;
        int rc = oocsi__url_parse(goods[i].in, &u);
        if (rc != OOCSI_OK) {
            print_error("\"%s\": %d\n", goods[i].in, rc);
            fail();
        }
        assert_string_equal(u.scheme, goods[i].scheme);
        assert_string_equal(u.host, goods[i].host);
        assert_int_equal(u.port, goods[i].port);
        assert_string_equal(u.path, goods[i].path);
        assert_string_equal(u.url, goods[i].url);
        oocsi__url_free(&u);
        assert_null(u.url);
        assert_null(u.scheme);
        assert_null(u.host);
        assert_null(u.path);
    }
}

static void test_bad_urls(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        oocsi__url u;
        int rc;
        memset(&u, 0xAB, sizeof u); /* garbage must be overwritten */
        rc = oocsi__url_parse(bads[i], &u);
        if (rc != OOCSI_ERR_INVAL) {
            print_error("\"%s\" gave %d, expected OOCSI_ERR_INVAL\n", bads[i], rc);
            fail();
        }
        /* out is left empty and safe to free */
        assert_null(u.url);
        assert_null(u.scheme);
        assert_null(u.host);
        assert_null(u.path);
        assert_int_equal(u.port, -1);
        oocsi__url_free(&u);
    }
}

static void test_null_arguments(void **state)
{
    oocsi__url u;
    (void)state;
    assert_int_equal(oocsi__url_parse(NULL, &u), OOCSI_ERR_INVAL);
    assert_null(u.url);
    assert_int_equal(oocsi__url_parse("tcp://h", NULL), OOCSI_ERR_INVAL);
    oocsi__url_free(NULL);
}

static void test_free_twice_and_reparse(void **state)
{
    oocsi__url u;
    (void)state;
    assert_int_equal(oocsi__url_parse("ws://a:1/x", &u), OOCSI_OK);
    oocsi__url_free(&u);
    oocsi__url_free(&u); /* fields were cleared: no double free */
    assert_int_equal(u.port, -1);
    assert_int_equal(oocsi__url_parse("tls://b", &u), OOCSI_OK);
    assert_string_equal(u.url, "tls://b");
    oocsi__url_free(&u);
}

static void test_normalised_url_reparses_identically(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof goods / sizeof goods[0]; i++) {
        oocsi__url a, b;
        assert_int_equal(oocsi__url_parse(goods[i].in, &a), OOCSI_OK);
        assert_int_equal(oocsi__url_parse(a.url, &b), OOCSI_OK);
        assert_string_equal(a.url, b.url);
        assert_string_equal(a.scheme, b.scheme);
        assert_string_equal(a.host, b.host);
        assert_int_equal(a.port, b.port);
        assert_string_equal(a.path, b.path);
        oocsi__url_free(&a);
        oocsi__url_free(&b);
    }
}

static void test_long_host(void **state)
{
    char *in = malloc(6 + 5000 + 6 + 1);
    oocsi__url u;
    (void)state;
    assert_non_null(in);
    memcpy(in, "tcp://", 6);
    memset(in + 6, 'a', 5000);
    memcpy(in + 6 + 5000, ":4444", 6);
    assert_int_equal(oocsi__url_parse(in, &u), OOCSI_OK);
    assert_int_equal(strlen(u.host), 5000);
    assert_int_equal(u.port, 4444);
    assert_int_equal(strlen(u.url), 6 + 5000 + 5);
    oocsi__url_free(&u);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_urls),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_free_twice_and_reparse),
        cmocka_unit_test(test_normalised_url_reparses_identically),
        cmocka_unit_test(test_long_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
