/*
 * Integration: wss:// follows the same certificate rules as tls://: the chain
 * and the host name (or IP) are verified by default, failures are
 * OOCSI_ERR_TLS in bounded time, and only the loudly named insecure switch
 * accepts an untrusted certificate.
 */
#include "support.h"
#include "support_certs.h"

#include <stdio.h>
#include <string.h>

static it_certs certs;

static int setup(void **state)
{
    (void)state;
    return it_certs_make(&certs);
}

static int teardown(void **state)
{
    (void)state;
    it_certs_free(&certs);
    return 0;
}

static oocsi_hub *hub_with(const char *cert, const char *key, int wss)
{
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.bind_address = "127.0.0.1";
    if (wss) {
        ho.wss_port = 0;
        ho.cert_file = cert;
        ho.key_file = key;
    } else {
        ho.ws_port = 0;
    }
    oocsi_hub *h = oocsi_hub_start(&ho);
    assert_non_null(h);
    return h;
}

/* Connects to url; returns the result, *ms the time it took. */
static int try_connect(const char *url, int verify, int64_t *ms, it_log *log)
{
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_tls_ca_file(o, certs.ca_file), OOCSI_OK);
    assert_int_equal(oocsi_options_set_tls_verify(o, verify), OOCSI_OK);
    /* Long: a verification failure must end the attempt at once, not by timing out. */
    assert_int_equal(oocsi_options_set_connect_timeout(o, IT_LONG_WAIT_MS), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, it_log_fn, log), OOCSI_OK);
    oocsi_client *c = NULL;
    int64_t t0 = it_now_ms();
    int rc = oocsi_connect(&c, o);
    *ms = it_now_ms() - t0;
    oocsi_options_free(o);
    if (c) {
        assert_int_equal(oocsi_send_json(c, "nobody", "{\"x\":1}"), OOCSI_OK);
        oocsi_close(c);
    }
    return rc;
}

static void expect_tls_failure(const char *cert, const char *key, const char *host, const char *what)
{
    oocsi_hub *h = hub_with(cert, key, 1);
    char url[96];
    snprintf(url, sizeof url, "wss://%s:%d/ws", host, oocsi_hub_wss_port(h));
    it_log *log = it_log_new();
    int64_t ms = 0;
    int rc = try_connect(url, 1, &ms, log);
    oocsi_hub_free(h);
    if (rc != OOCSI_ERR_TLS)
        fail_msg("%s: wss connect gave %d (%s), expected OOCSI_ERR_TLS", what, rc, oocsi_strerror(rc));
    if (ms > IT_HANG_MS)
        fail_msg("%s: failing took %lld ms: it waited for the connect timeout", what, (long long)ms);
}

static void test_trusted_certificate_connects(void **state)
{
    (void)state;
    oocsi_hub *h = hub_with(certs.cert_file, certs.key_file, 1);
    char url[96];
    it_log *log = it_log_new();
    int64_t ms;
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", oocsi_hub_wss_port(h));
    assert_int_equal(try_connect(url, 1, &ms, log), OOCSI_OK);
    snprintf(url, sizeof url, "wss://localhost:%d/ws", oocsi_hub_wss_port(h));
    assert_int_equal(try_connect(url, 1, &ms, log), OOCSI_OK);
    oocsi_hub_free(h);
}

static void test_untrusted_certificate(void **state)
{
    (void)state;
    expect_tls_failure(certs.self_signed_cert_file, certs.self_signed_key_file, "127.0.0.1", "untrusted CA");
}

static void test_expired_certificate(void **state)
{
    (void)state;
    expect_tls_failure(certs.expired_cert_file, certs.key_file, "127.0.0.1", "expired certificate");
}

static void test_wrong_host_name(void **state)
{
    (void)state;
    expect_tls_failure(certs.wrong_host_cert_file, certs.key_file, "localhost", "wrong host name");
    expect_tls_failure(certs.wrong_host_cert_file, certs.key_file, "127.0.0.1", "wrong IP address");
}

static void test_plain_ws_server_on_wss_url(void **state)
{
    (void)state;
    oocsi_hub *h = hub_with(NULL, NULL, 0);
    char url[96];
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", oocsi_hub_ws_port(h));
    it_log *log = it_log_new();
    int64_t ms = 0;
    int rc = try_connect(url, 1, &ms, log);
    oocsi_hub_free(h);
    assert_true(rc == OOCSI_ERR_TLS || rc == OOCSI_ERR_CONNECT);
    assert_true(ms <= IT_HANG_MS);
}

static void test_insecure_switch(void **state)
{
    (void)state;
    oocsi_hub *h = hub_with(certs.self_signed_cert_file, certs.self_signed_key_file, 1);
    char url[96];
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", oocsi_hub_wss_port(h));
    it_log *log = it_log_new();
    int64_t ms;
    assert_int_equal(try_connect(url, 0, &ms, log), OOCSI_OK);
    /* ... and says so, loudly. */
    assert_true(it_log_contains(log, OOCSI_LOG_WARN, "verification is OFF"));
    oocsi_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_trusted_certificate_connects), IT_TEST(test_untrusted_certificate),
        IT_TEST(test_expired_certificate),          IT_TEST(test_wrong_host_name),
        IT_TEST(test_plain_ws_server_on_wss_url),   IT_TEST(test_insecure_switch),
    };
    return cmocka_run_group_tests_name("integration.wss_verify", tests, setup, teardown);
}
