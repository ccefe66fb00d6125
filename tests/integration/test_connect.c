/*
 * Integration: connecting, handles, endpoints, argument checking.
 */
#include "support.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

static int is_generated_handle(const char *h)
{
    if (!h || strncmp(h, "OOCSIClient_", 12) != 0 || strlen(h) != 12 + 15)
        return 0;
    for (const char *p = h + 12; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* A loopback listener that accepts connections and never answers (no
 * welcome, no TLS handshake, no HTTP upgrade); its URL for the transport
 * under test in url. Returns the listening socket. */
static int silent_listener(char *url, size_t url_size)
{
    int port;
    int fd = it_silent_listener(&port);
    it_url_for_port(url, url_size, port);
    return fd;
}

/* Connects with opts and returns the result; *out set on success (tracked). */
static int try_connect(oocsi_options *opts, oocsi_client **out)
{
    oocsi_client *c = NULL;
    int rc = oocsi_connect(&c, opts);
    oocsi_options_free(opts);
    if (rc == OOCSI_OK) {
        assert_non_null(c);
        it_track(c);
    } else {
        assert_null(c);
    }
    if (out)
        *out = c;
    return rc;
}

static void test_generated_handle(void **state)
{
    (void)state;
    /* Never set, set to "" and set to NULL all give a generated handle. */
    for (int variant = 0; variant < 3; variant++) {
        oocsi_options *o = it_options(NULL);
        if (variant == 1)
            assert_int_equal(oocsi_options_set_handle(o, ""), OOCSI_OK);
        if (variant == 2)
            assert_int_equal(oocsi_options_set_handle(o, NULL), OOCSI_OK);
        oocsi_client *c = it_connect_opts(o);
        const char *h = oocsi_handle(c);
        if (!is_generated_handle(h))
            fail_msg("variant %d: generated handle '%s' is not OOCSIClient_ + 15 hex", variant, h ? h : "(null)");
        assert_int_equal(it_wait_hub_client(it_hub, h, IT_TIMEOUT), 1);
        assert_int_equal(oocsi_is_connected(c), 1);
    }
    /* Two generated handles differ. */
    oocsi_client *a = it_connect(NULL);
    oocsi_client *b = it_connect(NULL);
    assert_string_not_equal(oocsi_handle(a), oocsi_handle(b));
}

static void test_hash_digits(void **state)
{
    (void)state;
    char base[64], req[80];
    it_unique(base, sizeof base, "hash");
    snprintf(req, sizeof req, "%s_x###y#", base);
    oocsi_client *c = it_connect(req);
    const char *h = oocsi_handle(c);
    assert_non_null(h);
    assert_int_equal(strlen(h), strlen(req));
    assert_null(strchr(h, '#'));
    for (size_t i = 0; i < strlen(req); i++) {
        if (req[i] == '#') {
            if (!(h[i] >= '0' && h[i] <= '9'))
                fail_msg("position %zu of '%s' is not a digit", i, h);
        } else {
            assert_int_equal(h[i], req[i]);
        }
    }
    assert_int_equal(it_wait_hub_client(it_hub, h, IT_TIMEOUT), 1);
}

static void test_invalid_handles(void **state)
{
    (void)state;
    char longest[200], too_long[200];
    memset(too_long, 'a', 195);
    too_long[195] = '\0';
    const char *bad[] = {"has space", "tab\there", "new\nline", "cr\rline", "h\xc3\xa9llo", "ctl\x01x", too_long};
    /* The endpoint never answers and the connect timeout is long: a client
     * that connected before checking the handle would wait for it. */
    char silent[64];
    int sfd = silent_listener(silent, sizeof silent);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oocsi_options *o = oocsi_options_new();
        assert_int_equal(oocsi_options_add_endpoint(o, silent), OOCSI_OK);
        assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
        assert_int_equal(oocsi_options_set_connect_timeout(o, IT_LONG_WAIT_MS), OOCSI_OK);
        it_options_trust(o);
        int rc = oocsi_options_set_handle(o, bad[i]);
        if (rc == OOCSI_OK) {
            /* Rejected at connect then, before any connection. */
            int64_t t0 = it_now_ms();
            oocsi_client *c = NULL;
            rc = oocsi_connect(&c, o);
            int64_t dt = it_now_ms() - t0;
            assert_null(c);
            if (dt > IT_HANG_MS)
                fail_msg("invalid handle #%zu took %lld ms: not rejected before connecting", i, (long long)dt);
        }
        oocsi_options_free(o);
        if (rc != OOCSI_ERR_INVAL)
            fail_msg("invalid handle #%zu: %d, expected OOCSI_ERR_INVAL", i, rc);
    }
    close(sfd);
    /* 194 characters is the longest accepted handle (200 with "(JSON)"). */
    it_unique(longest, sizeof longest, "long");
    size_t n = strlen(longest);
    memset(longest + n, 'z', 194 - n);
    longest[194] = '\0';
    oocsi_client *c = it_connect(longest);
    assert_string_equal(oocsi_handle(c), longest);
    assert_int_equal(it_wait_hub_client(it_hub, longest, IT_TIMEOUT), 1);
}

static void test_welcomed_name_is_used(void **state)
{
    (void)state;
    /* The server strips one leading '/' (as the reference server does): the client
     * must use the name it was welcomed with. */
    char base[64], req[80];
    it_unique(base, sizeof base, "slash");
    snprintf(req, sizeof req, "/%s", base);
    it_inbox *direct = it_inbox_new();
    oocsi_options *o = it_options(req);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, direct), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    assert_string_equal(oocsi_handle(c), base);
    assert_int_equal(it_wait_hub_client(it_hub, base, IT_TIMEOUT), 1);
    /* Direct messages to the welcomed name reach the direct handler. */
    oocsi_client *p = it_connect(NULL);
    assert_int_equal(oocsi_send_json(p, base, "{\"to\":\"welcomed\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(direct, 1, IT_TIMEOUT), 1);
    assert_string_equal(it_inbox_at(direct, 0)->recipient, base);
}

static void test_handle_taken(void **state)
{
    (void)state;
    char h[64];
    it_unique(h, sizeof h, "taken");
    oocsi_client *a = it_connect(h);
    assert_string_equal(oocsi_handle(a), h);
    assert_int_equal(try_connect(it_options(h), NULL), OOCSI_ERR_HANDLE_TAKEN);
    /* The first client is unaffected. */
    assert_int_equal(oocsi_is_connected(a), 1);
    /* After closing, the name is free again. */
    it_close(a);
    assert_int_equal(it_wait_client_gone(it_hub, h, IT_TIMEOUT), 1);
    oocsi_client *b = NULL;
    assert_int_equal(try_connect(it_options(h), &b), OOCSI_OK);
    assert_string_equal(oocsi_handle(b), h);
}

static void test_password_handles(void **state)
{
    (void)state;
    char name[64], req[96], other[64], users[160];
    it_unique(name, sizeof name, "pw");
    it_unique(other, sizeof other, "pwother");
    /* Over ws/wss (the oocsi-web protocol) there are no password handles:
     * the webjson codec refuses the hello with OOCSI_ERR_UNSUPPORTED, and
     * connect must say so (OOCSI_ERR_AUTH would also be a fair answer), never
     * connect under another name or report a transport failure. */
    const int web = it_transport_is_web();
    int rc;
    /* The default hub has no users list: every password handle is refused. */
    snprintf(req, sizeof req, "%s:s3cret", name);
    rc = try_connect(it_options(req), NULL);
    if (web) {
        if (rc != OOCSI_ERR_UNSUPPORTED && rc != OOCSI_ERR_AUTH)
            fail_msg("%s: password handle gave %d (%s), expected OOCSI_ERR_UNSUPPORTED or OOCSI_ERR_AUTH",
                     it_transport_name(), rc, oocsi_strerror(rc));
        print_message("%s: a password handle is refused with %d (%s)\n", it_transport_name(), rc, oocsi_strerror(rc));
    } else {
        assert_int_equal(rc, OOCSI_ERR_AUTH);
    }
    const int web_err = rc;

    /* A hub with a users list. */
    snprintf(users, sizeof users, "%s:s3cret;%s:other1", name, other);
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.users = users;
    char url[64];
    oocsi_hub *hub = it_hub_start_extra(&ho, url, sizeof url);
    assert_non_null(hub);

    oocsi_options *o_wrong = oocsi_options_new();
    assert_non_null(o_wrong);
    char wrong[96];
    snprintf(wrong, sizeof wrong, "%s:Wr0ngPw", name);
    assert_int_equal(oocsi_options_set_handle(o_wrong, wrong), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o_wrong, url), OOCSI_OK);
    /* Every log line, DEBUG included, is kept: no password may be in any. */
    it_log *log = it_log_new();
    assert_int_equal(oocsi_options_set_logger(o_wrong, it_log_fn, log), OOCSI_OK);
    assert_int_equal(oocsi_options_set_log_level(o_wrong, OOCSI_LOG_DEBUG), OOCSI_OK);
    it_options_trust(o_wrong);
    assert_int_equal(try_connect(o_wrong, NULL), web ? web_err : OOCSI_ERR_AUTH);

    oocsi_options *o_ok = oocsi_options_new();
    assert_non_null(o_ok);
    assert_int_equal(oocsi_options_set_handle(o_ok, req), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o_ok, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o_ok, it_log_fn, log), OOCSI_OK);
    assert_int_equal(oocsi_options_set_log_level(o_ok, OOCSI_LOG_DEBUG), OOCSI_OK);
    it_options_trust(o_ok);
    oocsi_client *c = NULL;
    rc = try_connect(o_ok, &c);
    if (rc == OOCSI_OK) {
        /* The handle is the name without the password. */
        assert_string_equal(oocsi_handle(c), name);
        assert_int_equal(oocsi_hub_wait_client(hub, name, IT_TIMEOUT), 1);
        it_close(c);
    }
    int registered = web ? oocsi_hub_wait_client(hub, name, 0) : 0;
    oocsi_hub_free(hub);
    /* Even a correct password cannot be used over ws/wss. */
    assert_int_equal(rc, web ? web_err : OOCSI_OK);
    assert_int_equal(registered, 0);
    assert_true(it_log_count(log, OOCSI_LOG_DEBUG) > 0);
    assert_false(it_log_contains(log, OOCSI_LOG_DEBUG, "s3cret"));
    assert_false(it_log_contains(log, OOCSI_LOG_DEBUG, "Wr0ngPw"));
}

static void test_no_server(void **state)
{
    (void)state;
    int port = it_free_port();
    assert_true(port > 0);
    char url[64];
    it_url_for_port(url, sizeof url, port);
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    it_options_trust(o);
    assert_int_equal(oocsi_options_set_connect_timeout(o, IT_LONG_WAIT_MS), OOCSI_OK);
    int64_t t0 = it_now_ms();
    assert_int_equal(try_connect(o, NULL), OOCSI_ERR_CONNECT);
    int64_t dt = it_now_ms() - t0;
    if (dt > IT_HANG_MS)
        fail_msg("refused connection took %lld ms: it waited for the connect timeout", (long long)dt);
}

static void test_silent_server_bounded(void **state)
{
    (void)state;
    /* A server that accepts TCP but never answers (no welcome; over tls/wss no
     * TLS handshake, over ws/wss no HTTP upgrade): bounded by the connect timeout. */
    char url[64];
    int fd = silent_listener(url, sizeof url);
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    it_options_trust(o);
    assert_int_equal(oocsi_options_set_connect_timeout(o, 600), OOCSI_OK);
    int64_t t0 = it_now_ms();
    int rc = try_connect(o, NULL);
    int64_t dt = it_now_ms() - t0;
    close(fd);
    if (rc != OOCSI_ERR_TIMEOUT && rc != OOCSI_ERR_CONNECT)
        fail_msg("%s silent server: %d (%s), expected OOCSI_ERR_TIMEOUT or OOCSI_ERR_CONNECT", it_transport_name(), rc,
                 oocsi_strerror(rc));
    if (dt < 400 || dt > IT_HANG_MS)
        fail_msg("silent server: returned after %lld ms with a 600 ms connect timeout", (long long)dt);
}

/* The port of "scheme://127.0.0.1:PORT[/...]", or -1. */
static int endpoint_port(const char *ep)
{
    const char *p = ep ? strstr(ep, "127.0.0.1:") : NULL;
    return p ? atoi(p + 10) : -1;
}

static void test_endpoint_and_failover(void **state)
{
    (void)state;
    oocsi_client *c = it_connect(NULL);
    const char *ep = oocsi_endpoint(c);
    assert_non_null(ep);
    if (!it_endpoint_has_scheme(ep))
        fail_msg("endpoint '%s' is not a %s:// URL", ep, it_transport_name());
    assert_int_equal(endpoint_port(ep), it_server_port_in_use());

    /* A dead endpoint first, then the hub: the client uses the second. Over
     * tcp the hub is given as a bare "host:port" (which means tcp). */
    char dead[64], live[64];
    it_url_for_port(dead, sizeof dead, it_free_port());
    if (strcmp(it_transport_name(), "tcp") == 0)
        snprintf(live, sizeof live, "127.0.0.1:%d", it_server_port());
    else
        snprintf(live, sizeof live, "%s", it_url);
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_add_endpoint(o, dead), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, live), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    it_options_trust(o);
    oocsi_client *d = NULL;
    assert_int_equal(try_connect(o, &d), OOCSI_OK);
    ep = oocsi_endpoint(d);
    assert_non_null(ep);
    if (!it_endpoint_has_scheme(ep))
        fail_msg("endpoint '%s' is not a %s:// URL", ep, it_transport_name());
    assert_int_equal(endpoint_port(ep), it_server_port_in_use());
    assert_int_equal(oocsi_is_connected(d), 1);
}

static void test_bad_endpoints(void **state)
{
    (void)state;
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_add_endpoint(o, ""), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_options_add_endpoint(o, "tcp://"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_options_add_endpoint(o, "tcp://host:notaport"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_options_add_endpoint(o, "tcp://host:99999"), OOCSI_ERR_INVAL);
    int rc = oocsi_options_add_endpoint(o, "nosuchscheme://host:1");
    if (rc != OOCSI_ERR_UNSUPPORTED && rc != OOCSI_ERR_INVAL)
        fail_msg("unknown scheme: %d", rc);
    oocsi_options_free(o);
}

static void test_close_says_quit(void **state)
{
    (void)state;
    char h[64];
    it_unique(h, sizeof h, "quit");
    oocsi_client *c = it_connect(h);
    assert_int_equal(it_wait_hub_client(it_hub, h, IT_TIMEOUT), 1);
    it_close(c);
    assert_int_equal(it_wait_client_gone(it_hub, h, IT_TIMEOUT), 1);
    /* Also with a running background loop. */
    c = it_connect_bg(h);
    assert_int_equal(it_wait_hub_client(it_hub, h, IT_TIMEOUT), 1);
    it_close(c);
    assert_int_equal(it_wait_client_gone(it_hub, h, IT_TIMEOUT), 1);
    oocsi_close(NULL);
}

static void test_custom_logger(void **state)
{
    (void)state;
    it_log *log = it_log_new();
    char h[64];
    it_unique(h, sizeof h, "logger");
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_logger(o, it_log_fn, log), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    (void)c;
    if (!it_log_contains(log, OOCSI_LOG_DEBUG, "connected"))
        fail_msg("the custom logger got no line containing \"connected\"");
    /* The library passes the text; the handle prefix is the default logger's business. */
    it_log *quiet = it_log_new();
    o = it_options(NULL);
    assert_int_equal(oocsi_options_set_logger(o, it_log_fn, quiet), OOCSI_OK);
    assert_int_equal(oocsi_options_set_log_level(o, OOCSI_LOG_ERROR), OOCSI_OK);
    c = it_connect_opts(o);
    it_close(c);
    assert_int_equal(it_log_count(quiet, OOCSI_LOG_DEBUG) - it_log_count(quiet, OOCSI_LOG_ERROR), 0);
}

static void test_default_logger_format(void **state)
{
    (void)state;
    char h[64], path[] = "/tmp/oocsi_it_stderr_XXXXXX";
    it_unique(h, sizeof h, "deflog");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    dup2(fd, 2);
    oocsi_options *o = oocsi_options_new();
    int rc = -100;
    if (o) {
        oocsi_options_set_handle(o, h);
        oocsi_options_add_endpoint(o, it_url);
        if (it_transport_is_tls())
            oocsi_options_set_tls_ca_file(o, it_ca_file());
        oocsi_client *c = NULL;
        rc = oocsi_connect(&c, o);
        oocsi_options_free(o);
        oocsi_close(c);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    buf[n > 0 ? n : 0] = '\0';
    assert_int_equal(rc, OOCSI_OK);
    /* Default: INFO and above to stderr, "[handle]: text". */
    char prefix[80];
    snprintf(prefix, sizeof prefix, "[%s]: ", h);
    const char *line = strstr(buf, prefix);
    if (!line || !strstr(line, "connected"))
        fail_msg("stderr has no \"%sconnected...\" line: %s", prefix, buf);
}

static void msg_noop(oocsi_client *c, const oocsi_message *m, void *u)
{
    (void)c;
    (void)m;
    (void)u;
}

static void resp_noop(oocsi_client *c, const oocsi_message *m, cJSON *r, void *u)
{
    (void)c;
    (void)m;
    (void)r;
    (void)u;
}

static void call_noop(oocsi_client *c, const oocsi_message *m, void *u)
{
    (void)c;
    (void)m;
    (void)u;
}

static void state_noop(oocsi_client *c, oocsi_state s, int e, void *u)
{
    (void)c;
    (void)s;
    (void)e;
    (void)u;
}

static void log_noop(oocsi_log_level l, const char *m, void *u)
{
    (void)l;
    (void)m;
    (void)u;
}

static void test_null_arguments(void **state)
{
    (void)state;
    const int E = OOCSI_ERR_INVAL;
    /* options */
    assert_int_equal(oocsi_options_set_handle(NULL, "x"), E);
    assert_int_equal(oocsi_options_add_endpoint(NULL, it_url), E);
    assert_int_equal(oocsi_options_set_max_reconnect_attempts(NULL, 1), E);
    assert_int_equal(oocsi_options_set_logger(NULL, log_noop, NULL), E);
    assert_int_equal(oocsi_options_set_log_level(NULL, OOCSI_LOG_INFO), E);
    assert_int_equal(oocsi_options_set_direct_handler(NULL, msg_noop, NULL), E);
    assert_int_equal(oocsi_options_set_tls_ca_file(NULL, "x"), E);
    assert_int_equal(oocsi_options_set_tls_verify(NULL, 1), E);
    assert_int_equal(oocsi_options_set_connect_timeout(NULL, 100), E);
    assert_int_equal(oocsi_options_set_state_handler(NULL, state_noop, NULL), E);
    assert_int_equal(oocsi_options_set_reconnect_delay(NULL, 10, 100), E);
    assert_int_equal(oocsi_options_set_keepalive(NULL, 100, 200), E);
    assert_int_equal(oocsi_options_set_max_line_length(NULL, 4096), E);
    assert_int_equal(oocsi_options_set_offline_queue(NULL, 10, 1000), E);
    oocsi_options_free(NULL);
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_add_endpoint(o, NULL), E);
    oocsi_options_free(o);

    /* connect */
    oocsi_client *out = NULL;
    assert_int_equal(oocsi_connect(NULL, NULL), E);
    assert_int_equal(oocsi_connect(&out, NULL), E);
    assert_null(out);
    o = it_options(NULL);
    assert_int_equal(oocsi_connect(NULL, o), E);
    oocsi_options_free(o);

    /* client-less calls */
    cJSON *obj = cJSON_CreateObject();
    char *text = NULL;
    cJSON *resp = NULL;
    assert_null(oocsi_handle(NULL));
    assert_null(oocsi_endpoint(NULL));
    assert_int_equal(oocsi_is_connected(NULL), 0);
    assert_int_equal(oocsi_loop(NULL, 0), E);
    assert_int_equal(oocsi_loop_start(NULL), E);
    assert_int_equal(oocsi_loop_stop(NULL), E);
    assert_int_equal(oocsi_fd(NULL), -1);
    assert_int_equal(oocsi_want_write(NULL), 0);
    (void)oocsi_next_timeout_ms(NULL);
    assert_int_equal(oocsi_send(NULL, "ch", obj), E);
    assert_int_equal(oocsi_send_json(NULL, "ch", "{}"), E);
    assert_int_equal(oocsi_subscribe(NULL, "ch", msg_noop, NULL), E);
    assert_int_equal(oocsi_unsubscribe(NULL, "ch"), E);
    assert_int_equal(oocsi_channels(NULL, 100, &text), E);
    assert_int_equal(oocsi_channel_subscribers(NULL, "ch", 100, &text), E);
    assert_int_equal(oocsi_clients(NULL, 100, &text), E);
    assert_int_equal(oocsi_register(NULL, "ch", "f", resp_noop, NULL), E);
    assert_int_equal(oocsi_unregister(NULL, "ch", "f"), E);
    assert_int_equal(oocsi_call(NULL, "ch", "f", obj, 100, call_noop, NULL), E);
    assert_int_equal(oocsi_call_and_wait(NULL, "ch", "f", obj, 100, &resp), E);
    assert_null(text);
    assert_null(resp);
    assert_null(oocsi_variable_new(NULL, "ch", "k"));
    /* A device without a client may exist (for oocsi_device_to_json), but cannot be submitted. */
    oocsi_device *orphan = oocsi_device_new(NULL, "dev");
    if (orphan) {
        assert_int_not_equal(oocsi_device_submit(orphan), OOCSI_OK);
        oocsi_device_free(orphan);
    }
    assert_null(oocsi_device_new(NULL, NULL));

    /* message accessors */
    int64_t i64 = 0;
    double d = 0;
    int b = 0;
    assert_null(oocsi_message_sender(NULL));
    assert_null(oocsi_message_recipient(NULL));
    assert_int_equal(oocsi_message_timestamp(NULL), 0);
    assert_null(oocsi_message_data(NULL));
    assert_null(oocsi_message_data_json(NULL));
    assert_int_equal(oocsi_message_get_int(NULL, "k", &i64), E);
    assert_int_equal(oocsi_message_get_double(NULL, "k", &d), E);
    assert_null(oocsi_message_get_string(NULL, "k"));
    assert_int_equal(oocsi_message_get_bool(NULL, "k", &b), E);
    oocsi_free(NULL);

    /* variables and devices */
    assert_int_equal(oocsi_variable_set(NULL, 1.0), E);
    assert_true(isnan(oocsi_variable_get(NULL)));
    assert_int_equal(oocsi_variable_has_value(NULL), 0);
    assert_int_equal(oocsi_variable_min(NULL, 1.0), E);
    assert_int_equal(oocsi_variable_max(NULL, 1.0), E);
    assert_int_equal(oocsi_variable_smooth(NULL, 2, 1.0), E);
    assert_int_equal(oocsi_variable_set_string(NULL, "x"), E);
    assert_null(oocsi_variable_get_string(NULL));
    oocsi_variable_free(NULL);
    assert_int_equal(oocsi_device_add_property(NULL, "k", "v"), E);
    assert_int_equal(oocsi_device_add_location(NULL, "l", 1, 2), E);
    assert_int_equal(oocsi_device_add_sensor(NULL, "s", "c", "temperature", "C", 1, NULL), E);
    assert_int_equal(oocsi_device_add_number(NULL, "n", "c", 0, 1, "", 0, NULL), E);
    assert_int_equal(oocsi_device_add_binary_sensor(NULL, "b", "c", "door", 0, NULL), E);
    assert_int_equal(oocsi_device_add_switch(NULL, "s", "c", 0, NULL), E);
    assert_int_equal(oocsi_device_add_light(NULL, "l", "c", "RGB", "RGB", 0, 0, NULL), E);
    assert_int_equal(oocsi_device_submit(NULL), E);
    assert_null(oocsi_device_to_json(NULL));
    oocsi_device_free(NULL);

    /* with a live client, NULL where a value is required */
    oocsi_client *c = it_connect(NULL);
    assert_int_equal(oocsi_send(c, NULL, obj), E);
    assert_int_equal(oocsi_send(c, "ch", NULL), E);
    assert_int_equal(oocsi_send_json(c, NULL, "{}"), E);
    assert_int_equal(oocsi_send_json(c, "ch", NULL), E);
    assert_int_equal(oocsi_subscribe(c, NULL, msg_noop, NULL), E);
    assert_int_equal(oocsi_subscribe(c, "ch", NULL, NULL), E);
    assert_int_equal(oocsi_unsubscribe(c, NULL), E);
    assert_int_equal(oocsi_channels(c, 1000, NULL), E);
    assert_int_equal(oocsi_channel_subscribers(c, NULL, 1000, &text), E);
    assert_int_equal(oocsi_channel_subscribers(c, "ch", 1000, NULL), E);
    assert_int_equal(oocsi_clients(c, 1000, NULL), E);
    assert_int_equal(oocsi_register(c, NULL, "f", resp_noop, NULL), E);
    assert_int_equal(oocsi_register(c, "ch", NULL, resp_noop, NULL), E);
    assert_int_equal(oocsi_register(c, "ch", "f", NULL, NULL), E);
    assert_int_equal(oocsi_call(c, NULL, "f", obj, 100, call_noop, NULL), E);
    assert_int_equal(oocsi_call(c, "ch", NULL, obj, 100, call_noop, NULL), E);
    assert_int_equal(oocsi_call_and_wait(c, NULL, "f", obj, 100, &resp), E);
    assert_int_equal(oocsi_call_and_wait(c, "ch", NULL, obj, 100, &resp), E);
    assert_int_equal(oocsi_call_and_wait(c, "ch", "f", obj, 100, NULL), E);
    assert_null(oocsi_variable_new(c, NULL, "k"));
    assert_null(oocsi_variable_new(c, "ch", NULL));
    assert_null(text);
    assert_null(resp);
    /* The client still works: a subscribe completes its server round trip. */
    assert_int_equal(oocsi_is_connected(c), 1);
    char ch[64];
    it_unique(ch, sizeof ch, "nullargs");
    assert_int_equal(oocsi_subscribe(c, ch, msg_noop, NULL), OOCSI_OK);
    assert_int_equal(it_wait_subscribed(it_hub, oocsi_handle(c), ch, IT_TIMEOUT), 1);
    if (it_transport_is_web()) {
        /* oocsi-web has no queries (see codecs/README.md). */
        assert_int_equal(oocsi_clients(c, IT_TIMEOUT, &text), OOCSI_ERR_UNSUPPORTED);
        assert_null(text);
    } else {
        assert_int_equal(oocsi_clients(c, IT_TIMEOUT, &text), OOCSI_OK);
        assert_non_null(text);
        assert_non_null(strstr(text, oocsi_handle(c)));
        oocsi_free(text);
    }
    assert_int_equal(oocsi_is_connected(c), 1);
    cJSON_Delete(obj);
}

static void test_strerror_and_version(void **state)
{
    (void)state;
    for (int e = OOCSI_OK; e >= OOCSI_ERR_IO; e--) {
        const char *s = oocsi_strerror(e);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int f = OOCSI_OK; f > e; f--)
            assert_string_not_equal(s, oocsi_strerror(f));
    }
    assert_non_null(oocsi_strerror(-12345));
    assert_non_null(oocsi_strerror(12345));
    assert_string_equal(oocsi_version(), OOCSI_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_generated_handle),
        IT_TEST(test_hash_digits),
        IT_TEST(test_invalid_handles),
        IT_TEST(test_handle_taken),
        IT_TEST(test_welcomed_name_is_used),
        IT_TEST(test_password_handles),
        IT_TEST(test_no_server),
        IT_TEST(test_silent_server_bounded),
        IT_TEST(test_endpoint_and_failover),
        IT_TEST(test_bad_endpoints),
        IT_TEST(test_close_says_quit),
        IT_TEST(test_custom_logger),
        IT_TEST(test_default_logger_format),
        IT_TEST(test_null_arguments),
        IT_TEST(test_strerror_and_version),
    };
    return cmocka_run_group_tests_name("integration.connect", tests, it_group_setup, it_group_teardown);
}
