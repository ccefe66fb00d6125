/*
 * Errors a person can act on: a failed connect says, for every endpoint
 * tried, which endpoint and why, both in the log at the default level and in
 * oocsi_last_error(NULL) (there is no client to ask); invalid arguments name
 * the argument and the rule. Each test asserts the endpoint and the cause.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"
#ifdef OOCSI_IT_HAVE_TLS
#include "support_certs.h"
static it_certs certs;
#endif

/* Log lines at the default level (INFO and above), collected. */
static char logged[8192];

static void collect(oocsi_log_level level, const char *msg, void *user)
{
    (void)user;
    if (level < OOCSI_LOG_INFO)
        return;
    size_t used = strlen(logged);
    snprintf(logged + used, sizeof logged - used, "%s\n", msg);
}

/* Connects to each url in turn (NULL-terminated) and returns the result;
 * the detail is in oocsi_last_error(NULL), the log in `logged`. */
static int try_connect(const char *handle, const char *const *urls, int verify, int timeout_ms)
{
    logged[0] = '\0';
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_set_logger(o, collect, NULL), OOCSI_OK);
    int rc = oocsi_options_set_handle(o, handle);
    for (int i = 0; rc == OOCSI_OK && urls[i]; i++)
        rc = oocsi_options_add_endpoint(o, urls[i]);
    oocsi_options_set_tls_verify(o, verify);
    oocsi_options_set_connect_timeout(o, timeout_ms);
    oocsi_client *c = NULL;
    if (rc == OOCSI_OK)
        rc = oocsi_connect(&c, o);
    oocsi_options_free(o);
    if (c)
        it_track(c);
    return rc;
}

#define ASSERT_HAS(text, part)                                                                                         \
    do {                                                                                                               \
        if (!strstr((text), (part)))                                                                                   \
            fail_msg("expected \"%s\" in: %s", (part), (text));                                                        \
    } while (0)

/* Both the detail and the default-level log name the endpoint and the cause. */
static void assert_explained(const char *url, const char *cause)
{
    const char *detail = oocsi_last_error(NULL);
    ASSERT_HAS(detail, url);
    ASSERT_HAS(detail, cause);
    ASSERT_HAS(logged, url);
    ASSERT_HAS(logged, cause);
}

static void refused_names_each_endpoint(void **state)
{
    (void)state;
    char a[64], b[64];
    snprintf(a, sizeof a, "tcp://127.0.0.1:%d", it_free_port());
    snprintf(b, sizeof b, "tcp://127.0.0.1:%d", it_free_port());
    const char *urls[] = {a, b, NULL};
    assert_int_equal(try_connect("err_refused", urls, 1, IT_TIMEOUT), OOCSI_ERR_CONNECT);
    assert_explained(a, "refused");
    assert_explained(b, "refused");
}

/* A port that accepts connections but never speaks OOCSI. */
static void silent_server_is_a_timeout_with_a_hint(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
    const char *urls[] = {url, NULL};
    int rc = try_connect("err_silent", urls, 1, 1500);
    close(fd);
    assert_true(rc == OOCSI_ERR_TIMEOUT || rc == OOCSI_ERR_CONNECT);
    assert_explained(url, "no welcome");
    ASSERT_HAS(oocsi_last_error(NULL), "OOCSI server?");
}

static void unknown_scheme_lists_the_known_ones(void **state)
{
    (void)state;
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_add_endpoint(o, "tpc://localhost:4444"), OOCSI_ERR_UNSUPPORTED);
    const char *detail = oocsi_last_error(NULL);
    ASSERT_HAS(detail, "tpc://localhost:4444");
    ASSERT_HAS(detail, "unknown scheme \"tpc\"");
    ASSERT_HAS(detail, "tcp");
    assert_int_equal(oocsi_options_add_endpoint(o, "tcp://[::1"), OOCSI_ERR_INVAL);
    ASSERT_HAS(oocsi_last_error(NULL), "tcp://[::1");
    assert_int_equal(oocsi_options_add_endpoint(o, NULL), OOCSI_ERR_INVAL);
    ASSERT_HAS(oocsi_last_error(NULL), "url is NULL");
    oocsi_options_free(o);
}

/* An invalid handle fails the connect instead of connecting as another name,
 * even when set_handle's result was ignored. */
static void invalid_handle_fails_the_connect(void **state)
{
    (void)state;
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_add_endpoint(o, it_url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_handle(o, "my lamp"), OOCSI_ERR_INVAL);
    ASSERT_HAS(oocsi_last_error(NULL), "\"my lamp\"");
    ASSERT_HAS(oocsi_last_error(NULL), "whitespace");
    oocsi_client *c = NULL;
    assert_int_equal(oocsi_connect(&c, o), OOCSI_ERR_INVAL);
    assert_null(c);
    ASSERT_HAS(oocsi_last_error(NULL), "\"my lamp\"");
    /* A valid handle set afterwards clears it. */
    assert_int_equal(oocsi_options_set_handle(o, "err_lamp"), OOCSI_OK);
    oocsi_options_set_logger(o, NULL, NULL);
    assert_int_equal(oocsi_connect(&c, o), OOCSI_OK);
    it_track(c);
    assert_string_equal(oocsi_handle(c), "err_lamp");
    oocsi_options_free(o);
    assert_int_equal(oocsi_options_set_handle(NULL, "x"), OOCSI_ERR_INVAL);
    ASSERT_HAS(oocsi_last_error(NULL), "opts is NULL");
}

/* A password handle on a server without user accounts. */
static void password_on_a_server_without_users(void **state)
{
    (void)state;
    if (it_transport_is_web())
        skip();
    const char *urls[] = {it_url, NULL};
    int rc = try_connect("err_pw:secret", urls, 1, IT_TIMEOUT);
    assert_int_equal(rc, OOCSI_ERR_AUTH);
    assert_explained(it_url, "connect as plain name");
}

#ifdef OOCSI_IT_HAVE_TLS
static oocsi_hub *tls_hub(void)
{
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.tls_port = 0;
#ifdef OOCSI_IT_HAVE_WS
    ho.ws_port = 0;
    ho.wss_port = 0;
#endif
    ho.cert_file = certs.self_signed_cert_file;
    ho.key_file = certs.self_signed_key_file;
    oocsi_hub *h = oocsi_hub_start(&ho);
    assert_non_null(h);
    return h;
}

static void self_signed_certificate_says_how_to_trust_it(void **state)
{
    (void)state;
    oocsi_hub *h = tls_hub();
    char url[64];
    snprintf(url, sizeof url, "tls://127.0.0.1:%d", oocsi_hub_tls_port(h));
    const char *urls[] = {url, NULL};
    assert_int_equal(try_connect("err_tls", urls, 1, IT_TIMEOUT), OOCSI_ERR_TLS);
    assert_explained(url, "certificate verification failed");
    ASSERT_HAS(oocsi_last_error(NULL), "oocsi_options_set_tls_ca_file");
#ifdef OOCSI_IT_HAVE_WS
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", oocsi_hub_wss_port(h));
    assert_int_equal(try_connect("err_wss", urls, 1, IT_TIMEOUT), OOCSI_ERR_TLS);
    assert_explained(url, "certificate verification failed");
    ASSERT_HAS(oocsi_last_error(NULL), "oocsi_options_set_tls_ca_file");

    /* wss:// to a plain ws port */
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", oocsi_hub_ws_port(h));
    assert_int_equal(try_connect("err_wss_plain", urls, 1, IT_TIMEOUT), OOCSI_ERR_TLS);
    assert_explained(url, "is the port a wss endpoint?");

    /* ws:// to a path that is not the WebSocket endpoint */
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/nope", oocsi_hub_ws_port(h));
    assert_int_equal(try_connect("err_ws_path", urls, 1, IT_TIMEOUT), OOCSI_ERR_CONNECT);
    assert_explained(url, "refused the WebSocket upgrade");
#endif
    oocsi_hub_free(h);
}

static int setup(void **state)
{
    return it_certs_make(&certs) == 0 ? it_group_setup(state) : -1;
}

static int teardown(void **state)
{
    it_certs_free(&certs);
    return it_group_teardown(state);
}
#else
#define setup it_group_setup
#define teardown it_group_teardown
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(refused_names_each_endpoint),
        IT_TEST(silent_server_is_a_timeout_with_a_hint),
        IT_TEST(unknown_scheme_lists_the_known_ones),
        IT_TEST(invalid_handle_fails_the_connect),
        IT_TEST(password_on_a_server_without_users),
#ifdef OOCSI_IT_HAVE_TLS
        IT_TEST(self_signed_certificate_says_how_to_trust_it),
#endif
    };
    return cmocka_run_group_tests_name("errors", tests, setup, teardown);
}
