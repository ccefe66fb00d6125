/*
 * Integration: a user-defined transport (examples/custom_transport.c, the
 * "unix" scheme) registered through the public vtable, reaching the hub
 * through a Unix-socket-to-TCP relay: messages, calls, and a reconnect when
 * the relay drops the connection.
 */
#define CUSTOM_TRANSPORT_NO_MAIN
#include "../../examples/custom_transport.c"

#include "support.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>

/* A relay: accepts on a Unix socket, connects each to the hub over TCP and
 * copies bytes both ways. relay_drop() closes the current pair. */
typedef struct relay {
    char path[108];
    int listen_fd;
    int stop_r, stop_w; /* a pipe to stop or poke the thread */
    int drop;
    pthread_t thread;
    pthread_mutex_t mu;
} relay;

static int tcp_to_hub(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)oocsi_hub_port(it_hub));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    int a = -1, b = -1; /* the accepted unix side and the hub side */
    char buf[65536];
    for (;;) {
        struct pollfd p[4] = {{r->stop_r, POLLIN, 0}, {r->listen_fd, POLLIN, 0}, {a, POLLIN, 0}, {b, POLLIN, 0}};
        if (poll(p, 4, -1) < 0)
            continue;
        if (p[0].revents) {
            char c;
            if (read(r->stop_r, &c, 1) == 1 && c == 'q')
                break;
            pthread_mutex_lock(&r->mu);
            if (r->drop && a >= 0) {
                close(a);
                close(b);
                a = b = -1;
            }
            r->drop = 0;
            pthread_mutex_unlock(&r->mu);
            continue;
        }
        if (p[1].revents & POLLIN) {
            int fd = accept(r->listen_fd, NULL, NULL);
            if (fd >= 0 && a >= 0) {
                close(fd); /* one pair at a time */
            } else if (fd >= 0) {
                a = fd;
                b = tcp_to_hub();
                if (b < 0) {
                    close(a);
                    a = -1;
                }
            }
        }
        for (int i = 2; i < 4; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)) || a < 0)
                continue;
            int from = i == 2 ? a : b, to = i == 2 ? b : a;
            ssize_t n = read(from, buf, sizeof(buf));
            if (n <= 0 || write(to, buf, (size_t)n) != n) {
                close(a);
                close(b);
                a = b = -1;
            }
        }
    }
    if (a >= 0) {
        close(a);
        close(b);
    }
    return NULL;
}

static relay *relay_start(void)
{
    relay *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    snprintf(r->path, sizeof(r->path), "/tmp/oocsi-test-%d-%lld.sock", (int)getpid(), (long long)it_now_ms());
    unlink(r->path);
    r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, r->path);
    assert_int_equal(bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(r->listen_fd, 8), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    r->stop_r = fds[0];
    r->stop_w = fds[1];
    pthread_mutex_init(&r->mu, NULL);
    assert_int_equal(pthread_create(&r->thread, NULL, relay_main, r), 0);
    return r;
}

static void relay_drop(relay *r)
{
    pthread_mutex_lock(&r->mu);
    r->drop = 1;
    pthread_mutex_unlock(&r->mu);
    assert_int_equal(write(r->stop_w, "d", 1), 1);
}

static void relay_stop(relay *r)
{
    assert_int_equal(write(r->stop_w, "q", 1), 1);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
    close(r->stop_r);
    close(r->stop_w);
    unlink(r->path);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void echo_responder(oocsi_client *c, const oocsi_message *req, cJSON *resp, void *user)
{
    (void)c;
    (void)req;
    (void)user;
    cJSON_AddStringToObject(resp, "via", "unix");
}

static void test_registered_scheme_carries_everything(void **state)
{
    (void)state;
    assert_int_equal(oocsi_register_transport(&unix_transport), OOCSI_OK);
    assert_ptr_equal(oocsi_find_transport("unix"), &unix_transport);
    relay *r = relay_start();
    char url[160], h[64], ch[64];
    snprintf(url, sizeof(url), "unix://%s", r->path);
    it_unique(h, sizeof h, "unixclient");
    it_unique(ch, sizeof ch, "unix_ch");

    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_set_handle(o, h), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 20, 200), OOCSI_OK);
    it_states *st = it_states_new();
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *u = it_connect_opts(o);
    assert_string_equal(oocsi_endpoint(u), url);
    it_loop_start(u);
    assert_int_equal(it_states_settle(st), 1);

    /* A TCP client and the unix-transport client talk through the hub. */
    oocsi_client *t = it_connect_bg(NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(u, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_send_json(t, ch, "{\"n\":1}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_register(u, ch, "where", echo_responder, NULL), OOCSI_OK);
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(t, ch, "where", NULL, IT_TIMEOUT, &resp), OOCSI_OK);
    assert_string_equal(cJSON_GetObjectItem(resp, "via")->valuestring, "unix");
    cJSON_Delete(resp);

    /* The relay drops the connection: the client reconnects over the same
     * custom transport and its subscription is restored. */
    relay_drop(r);
    assert_true(it_states_wait_for(st, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    assert_true(it_states_wait_for(st, 2, OOCSI_STATE_CONNECTED, IT_TIMEOUT) >= 0);
    assert_int_equal(oocsi_hub_wait_subscribed(it_hub, h, ch, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_send_json(t, ch, "{\"n\":2}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 2, IT_TIMEOUT), 1);
    it_close(u);
    it_close(t);
    relay_stop(r);
}

static void test_bad_urls(void **state)
{
    (void)state;
    assert_int_equal(oocsi_register_transport(&unix_transport), OOCSI_OK);
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_add_endpoint(o, "nosuchscheme://x"), OOCSI_ERR_UNSUPPORTED);
    assert_int_equal(oocsi_options_add_endpoint(o, "unix:///nonexistent/oocsi.sock"), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    assert_int_equal(oocsi_options_set_connect_timeout(o, 1000), OOCSI_OK);
    oocsi_client *c = NULL;
    assert_int_equal(oocsi_connect(&c, o), OOCSI_ERR_CONNECT);
    assert_null(c);
    oocsi_options_free(o);
    /* Incomplete tables are refused. */
    oocsi_transport broken = unix_transport;
    broken.read = NULL;
    assert_int_equal(oocsi_register_transport(&broken), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_register_transport(NULL), OOCSI_ERR_INVAL);
}

/* A scripted in-memory server for the "script" scheme: it welcomes the hello
 * with script_welcome, answers ping with "." (followed once by
 * script_after_pong), quit with "bye" and the end of the stream, and keeps
 * the client's last sendraw line. No socket: wait() returns at once. */
static const char *script_welcome;
static const char *script_after_pong; /* a line sent once after the next "." */
static char script_sent[512];         /* the last sendraw line of the client */

typedef struct script {
    char in[512]; /* what the client will read */
    size_t in_len;
    char line[512]; /* the client's line under way */
    size_t line_len;
    int eof;
} script;

static int script_open(void **state, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    (void)url;
    (void)cfg;
    *state = calloc(1, sizeof(script));
    return *state ? OOCSI_OK : OOCSI_ERR_NOMEM;
}

static int script_interest(void *state)
{
    (void)state;
    return OOCSI_WANT_READ;
}

static int script_process(void *state, int events)
{
    (void)state;
    (void)events;
    return 1;
}

static void script_say(script *s, const char *text)
{
    size_t n = strlen(text);
    assert_true(s->in_len + n + 1 <= sizeof s->in);
    memcpy(s->in + s->in_len, text, n);
    s->in[s->in_len + n] = '\n';
    s->in_len += n + 1;
}

static ssize_t script_read(void *state, char *buf, size_t len)
{
    script *s = state;
    if (s->in_len == 0)
        return s->eof ? OOCSI_ERR_CLOSED : 0;
    size_t n = s->in_len < len ? s->in_len : len;
    memcpy(buf, s->in, n);
    memmove(s->in, s->in + n, s->in_len - n);
    s->in_len -= n;
    return (ssize_t)n;
}

static ssize_t script_write(void *state, const char *buf, size_t len)
{
    script *s = state;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n') {
            assert_true(s->line_len + 1 < sizeof s->line);
            s->line[s->line_len++] = buf[i];
            continue;
        }
        s->line[s->line_len] = '\0';
        s->line_len = 0;
        if (strstr(s->line, "(JSON)"))
            script_say(s, script_welcome);
        else if (!strcmp(s->line, "ping")) {
            script_say(s, ".");
            if (script_after_pong)
                script_say(s, script_after_pong);
            script_after_pong = NULL;
        } else if (!strncmp(s->line, "sendraw ", 8))
            snprintf(script_sent, sizeof script_sent, "%s", s->line);
        else if (!strcmp(s->line, "quit")) {
            script_say(s, "bye");
            s->eof = 1;
        }
    }
    return (ssize_t)len;
}

static void script_close(void *state)
{
    free(state);
}

static int script_wait(void *state, int timeout_ms)
{
    (void)state;
    (void)timeout_ms;
    return OOCSI_OK;
}

static void script_wake(void *state)
{
    (void)state;
}

static const oocsi_transport script_transport = {
    .scheme = "script",
    .default_codec = "line",
    .flags = OOCSI_TRANSPORT_STREAM,
    .open = script_open,
    .interest = script_interest,
    .process = script_process,
    .read = script_read,
    .write = script_write,
    .close = script_close,
    .wait = script_wait,
    .wake = script_wake,
};

static void ignore_message(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)m;
    (void)user;
}

/* The handle after a connect that script_welcome answered (and a subscribe,
 * whose barrier the script answers). */
static char *handle_after(const char *welcome)
{
    script_welcome = welcome;
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_set_handle(o, "scripted"), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, "script://server"), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    oocsi_client *c = NULL;
    assert_int_equal(oocsi_connect(&c, o), OOCSI_OK);
    oocsi_options_free(o);
    assert_int_equal(oocsi_subscribe(c, "scripted_ch", ignore_message, NULL), OOCSI_OK);
    char *h = strdup(oocsi_handle(c));
    assert_non_null(h);
    oocsi_close(c);
    return h;
}

/* Regression (found by tests/fuzz/fuzz_client): a welcome naming an empty
 * handle ({'message' : "welcome "}), or one with a space, became the
 * client's handle; it keeps the requested handle now. A valid name still
 * replaces it (the server may have changed it). */
static void test_welcome_without_a_valid_name(void **state)
{
    (void)state;
    assert_int_equal(oocsi_register_transport(&script_transport), OOCSI_OK);
    const char *welcomes[] = {"{'message' : \"welcome \"}", "{'message' : \"welcome a b\"}", "welcome \x01"};
    for (size_t i = 0; i < sizeof welcomes / sizeof welcomes[0]; i++) {
        char *h = handle_after(welcomes[i]);
        assert_string_equal(h, "scripted");
        free(h);
    }
    char *h = handle_after("{'message' : \"welcome scripted_42\"}");
    assert_string_equal(h, "scripted_42");
    free(h);
}

/* How many members of obj are named key. */
static int count_key(const cJSON *obj, const char *key)
{
    int n = 0;
    for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next)
        n += it->string && strcmp(it->string, key) == 0;
    return n;
}

static int prefilled_handles = -1; /* _MESSAGE_HANDLE members in the prefilled response */

static void add_one(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    (void)c;
    (void)request;
    (void)user;
    prefilled_handles = count_key(response, "_MESSAGE_HANDLE");
    cJSON_AddNumberToObject(response, "answered", 1);
}

/* Regression (found by tests/fuzz/fuzz_client): a request repeating
 * _MESSAGE_HANDLE and _MESSAGE_ID (JSON allows it; cJSON keeps every copy)
 * had only the first copy removed from the response the responder gets
 * prefilled, which must not hold _MESSAGE_HANDLE. The answer on the wire
 * carries the request's first id once. */
static void test_responder_with_repeated_call_keys(void **state)
{
    (void)state;
    assert_int_equal(oocsi_register_transport(&script_transport), OOCSI_OK);
    script_welcome = "{'message' : \"welcome scripted\"}";
    script_sent[0] = '\0';
    prefilled_handles = -1;
    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_add_endpoint(o, "script://server"), OOCSI_OK);
    assert_int_equal(oocsi_options_set_handle(o, "scripted"), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    oocsi_client *c = NULL;
    assert_int_equal(oocsi_connect(&c, o), OOCSI_OK);
    oocsi_options_free(o);
    /* the request comes right after the registration's barrier */
    script_after_pong = "{\"_MESSAGE_HANDLE\":\"add\",\"_MESSAGE_ID\":\"one\",\"_MESSAGE_HANDLE\":\"add\","
                        "\"_MESSAGE_ID\":\"two\",\"recipient\":\"calls\",\"timestamp\":1,\"sender\":\"peer\"}";
    assert_int_equal(oocsi_register(c, "calls", "add", add_one, NULL), OOCSI_OK);
    int64_t deadline = it_now_ms() + IT_TIMEOUT;
    while (!script_sent[0] && it_now_ms() < deadline)
        assert_int_equal(oocsi_loop(c, 10), OOCSI_OK);
    oocsi_close(c);
    assert_int_equal(prefilled_handles, 0);
    assert_true(strncmp(script_sent, "sendraw peer {", 14) == 0);
    cJSON *answer = cJSON_Parse(script_sent + 13);
    assert_non_null(answer);
    assert_int_equal(count_key(answer, "_MESSAGE_HANDLE"), 0);
    assert_int_equal(count_key(answer, "_MESSAGE_ID"), 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "_MESSAGE_ID")), "one");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(answer, "answered")));
    cJSON_Delete(answer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_registered_scheme_carries_everything),
        IT_TEST(test_bad_urls),
        IT_TEST(test_welcome_without_a_valid_name),
        IT_TEST(test_responder_with_repeated_call_keys),
    };
    return cmocka_run_group_tests_name("integration.custom_transport", tests, it_group_setup, it_group_teardown);
}
