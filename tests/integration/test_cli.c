/*
 * Integration: the `oocsi` command-line client (examples/cli), run as a child
 * process against the in-process hub. Its stdout and stderr are read through
 * pipes with poll-bounded waits; every subcommand's output and exit code is
 * checked, failures included (no server, bad JSON, timeouts).
 */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef OOCSI_CLI_PATH
#error "OOCSI_CLI_PATH must name the built oocsi binary"
#endif

/* Bound of anything the child does (it may start slowly under ASan on a
 * loaded machine). */
#define CLI_TIMEOUT 15000

enum { CLI_OK = 0, CLI_RUNTIME = 1, CLI_USAGE = 2, CLI_CONNECT = 3, CLI_TIMEOUT_EXIT = 4 };

/* ------------------------------------------------------------ children */

typedef it_proc proc;
#define buf_text it_buf_text
#define proc_wait_text it_proc_wait_text
#define proc_wait_lines it_proc_wait_lines
#define proc_wait_exit it_proc_wait_exit
#define proc_release it_proc_release
#define count_lines it_count_lines
/* Starts the CLI with the arguments (without the program name). */
#define cli_start(...) it_proc_startv(OOCSI_CLI_PATH, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define cli_start_stdin(text, ...) it_proc_startv(OOCSI_CLI_PATH, (text), (const char *const[]){__VA_ARGS__, NULL})

/* Runs the child to completion and asserts its exit code. */
static proc *cli_expect(proc *p, int code)
{
    int rc = proc_wait_exit(p, CLI_TIMEOUT);
    if (rc != code)
        fail_msg("oocsi exited with %d, expected %d; stdout:\n%s\nstderr:\n%s", rc, code, buf_text(&p->out),
                 buf_text(&p->err));
    return p;
}

static int cli_setup(void **state)
{
    return it_test_setup(state);
}

static int cli_teardown(void **state)
{
    it_proc_free_all();
    return it_test_teardown(state);
}

#define CLI_TEST(f) cmocka_unit_test_setup_teardown(f, cli_setup, cli_teardown)

/* Parses the only/ith line of s as JSON (caller deletes). */
static cJSON *json_line(const char *s, int index)
{
    for (int i = 0; i < index; i++) {
        s = strchr(s, '\n');
        assert_non_null(s);
        s++;
    }
    size_t len = strcspn(s, "\n");
    char *line = strndup(s, len);
    assert_non_null(line);
    cJSON *j = cJSON_Parse(line);
    if (j == NULL)
        fail_msg("not a JSON line: %s", line);
    free(line);
    return j;
}

static const char *json_str(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static char refused_url[64];

static const char *refused(void)
{
    int port = it_free_port();
    assert_true(port > 0);
    snprintf(refused_url, sizeof refused_url, "tcp://127.0.0.1:%d", port);
    return refused_url;
}

/* ------------------------------------------------------------- help */

static void test_help(void **state)
{
    (void)state;
    static const char *const cmds[] = {"send", "listen", "call", "respond", "channels", "clients", "subscribers"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        proc *p = cli_expect(cli_start(cmds[i], "--help"), CLI_OK);
        char want[64];
        snprintf(want, sizeof want, "Usage: oocsi %s", cmds[i]);
        assert_non_null(strstr(buf_text(&p->out), want));
        assert_non_null(strstr(buf_text(&p->out), "Exit codes"));
        assert_non_null(strstr(buf_text(&p->out), "--url"));
        assert_int_equal(p->err.len, 0);
        /* -h, and `help COMMAND`, say the same. */
        proc *q = cli_expect(cli_start("help", cmds[i]), CLI_OK);
        assert_string_equal(buf_text(&q->out), buf_text(&p->out));
        proc_release(q);
        proc_release(p);
    }
    proc *p = cli_expect(cli_start("--help"), CLI_OK);
    assert_non_null(strstr(buf_text(&p->out), "oocsi listen"));
    assert_non_null(strstr(buf_text(&p->out), "4  timeout"));
    p = cli_expect(cli_start("--version"), CLI_OK);
    assert_non_null(strstr(buf_text(&p->out), oocsi_version()));
}

static void test_usage_errors(void **state)
{
    (void)state;
    /* No command, unknown command, unknown or misplaced option, missing
     * arguments, bad numbers: exit code 2 and a hint, before connecting. */
    proc *p = cli_expect(cli_start("--quiet"), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "Usage: oocsi"));
    p = cli_expect(cli_start("frobnicate"), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "unknown command"));
    p = cli_expect(cli_start("listen", "ch", "--frob", "-u", refused()), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "unknown option '--frob'"));
    p = cli_expect(cli_start("channels", "-n", "2", "-u", refused()), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "does not apply"));
    p = cli_expect(cli_start("call", "ch", "-u", refused()), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "needs more arguments"));
    p = cli_expect(cli_start("subscribers", "a", "b", "-u", refused()), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "too many arguments"));
    p = cli_expect(cli_start("listen", "ch", "-n", "abc", "-u", refused()), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "--count"));
    assert_int_equal(p->out.len, 0);
}

/* ------------------------------------------------------------- send */

typedef struct sub {
    oocsi_client *c;
    it_inbox *in;
    char channel[64];
} sub;

static void subscriber(sub *s)
{
    it_unique(s->channel, sizeof s->channel, "clich");
    s->c = it_connect_bg(NULL);
    s->in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(s->c, s->channel, it_inbox_handler, s->in), OOCSI_OK);
}

static void test_send_key_value(void **state)
{
    (void)state;
    sub s;
    subscriber(&s);
    proc *p = cli_expect(cli_start("send", "--url", it_url, s.channel, "i=42", "f=-2.5e1", "t=true", "no=false",
                                   "s=hello world", "zip=007", "empty=", "raw:=[1,\"two\",null]", "str:=\"42\"",
                                   "obj:={\"n\":null}", "i=43"),
                         CLI_OK);
    assert_int_equal(p->out.len, 0);
    assert_true(it_inbox_wait(s.in, 1, IT_TIMEOUT));
    const it_msg *m = it_inbox_at(s.in, 0);
    IT_ASSERT_JSON(m->data, "{\"i\":43,\"f\":-25,\"t\":true,\"no\":false,\"s\":\"hello world\",\"zip\":\"007\","
                            "\"empty\":\"\",\"raw\":[1,\"two\",null],\"str\":\"42\",\"obj\":{\"n\":null}}");
    assert_string_equal(m->recipient, s.channel);
    assert_non_null(strstr(m->sender, "oocsi-cli-"));
}

static void test_send_json_and_stdin(void **state)
{
    (void)state;
    sub s;
    subscriber(&s);
    cli_expect(cli_start("send", "-u", it_url, "--handle", "cli_sender_####", s.channel,
                         "{\"a\": {\"b\": [1, 2.5, \"x\"]}, \"c\": \"\\u00e9\"}"),
               CLI_OK);
    assert_true(it_inbox_wait(s.in, 1, IT_TIMEOUT));
    IT_ASSERT_JSON(it_inbox_at(s.in, 0)->data, "{\"a\":{\"b\":[1,2.5,\"x\"]},\"c\":\"\\u00e9\"}");
    assert_non_null(strstr(it_inbox_at(s.in, 0)->sender, "cli_sender_"));

    /* "-": one JSON object per stdin line, blank lines skipped, in order. */
    cli_expect(cli_start_stdin("{\"n\":1}\n\n{\"n\":2}\n{\"n\":3}", "send", "-u", it_url, s.channel, "-"), CLI_OK);
    assert_true(it_inbox_wait(s.in, 4, IT_TIMEOUT));
    IT_ASSERT_JSON(it_inbox_at(s.in, 1)->data, "{\"n\":1}");
    IT_ASSERT_JSON(it_inbox_at(s.in, 2)->data, "{\"n\":2}");
    IT_ASSERT_JSON(it_inbox_at(s.in, 3)->data, "{\"n\":3}");

    /* No DATA: an empty object. */
    cli_expect(cli_start("send", "-u", it_url, s.channel), CLI_OK);
    assert_true(it_inbox_wait(s.in, 5, IT_TIMEOUT));
    IT_ASSERT_JSON(it_inbox_at(s.in, 4)->data, "{}");
}

static void test_send_bad_data(void **state)
{
    (void)state;
    /* Bad DATA is a usage error (2), found before connecting: the URL is one
     * where nothing listens, which would otherwise give 3. */
    static const char *const bad[][2] = {
        {"{bad", "not a valid JSON object"},
        {"{\"a\":1} trailing", "not a valid JSON object"},
        {"novalue", "key=value"},
        {"=1", "empty key"},
        {"k:=[1,", "not valid JSON"},
        {"[1,2]", "key=value"},
    };
    const char *url = refused();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        proc *p = cli_expect(cli_start("send", "-u", url, "ch", bad[i][0]), CLI_USAGE);
        if (strstr(buf_text(&p->err), bad[i][1]) == NULL)
            fail_msg("for '%s' expected '%s' in: %s", bad[i][0], bad[i][1], buf_text(&p->err));
        proc_release(p);
    }
    proc *p = cli_expect(cli_start("send", "-u", url, "ch", "a=1", "{\"b\":2}"), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "only DATA argument"));
    p = cli_expect(cli_start("call", "-u", url, "ch", "name", "{oops"), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "not a valid JSON object"));
    p = cli_expect(cli_start("respond", "-u", url, "ch", "name", "x"), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "key=value"));

    /* A bad stdin line: 2 as well, after the valid lines before it. */
    sub s;
    subscriber(&s);
    p = cli_expect(cli_start_stdin("{\"ok\":1}\nnot json\n{\"never\":1}\n", "send", "-u", it_url, s.channel, "-"),
                   CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "line 2"));
    assert_true(it_inbox_wait(s.in, 1, IT_TIMEOUT));
    IT_ASSERT_JSON(it_inbox_at(s.in, 0)->data, "{\"ok\":1}");
}

/* ------------------------------------------------------ connection failures */

static void test_no_server(void **state)
{
    (void)state;
    const char *url = refused();
    proc *p = cli_expect(cli_start("send", "-u", url, "ch", "a=1"), CLI_CONNECT);
    assert_non_null(strstr(buf_text(&p->err), "cannot connect"));
    assert_non_null(strstr(buf_text(&p->err), url));
    assert_non_null(strstr(buf_text(&p->err), "refused")); /* the cause, not only the code */
    assert_int_equal(p->out.len, 0);
    cli_expect(cli_start("listen", "-u", url, "ch"), CLI_CONNECT);
    cli_expect(cli_start("call", "-u", url, "ch", "name"), CLI_CONNECT);
    cli_expect(cli_start("respond", "-u", url, "ch", "name"), CLI_CONNECT);
    cli_expect(cli_start("channels", "-u", url), CLI_CONNECT);
    cli_expect(cli_start("clients", "-u", url), CLI_CONNECT);
    p = cli_expect(cli_start("subscribers", "-u", url, "ch", "--quiet"), CLI_CONNECT);
    /* --quiet keeps the error itself. */
    assert_non_null(strstr(buf_text(&p->err), "cannot connect"));
}

static void test_handle_taken(void **state)
{
    (void)state;
    char handle[64];
    it_unique(handle, sizeof handle, "taken");
    it_connect_bg(handle);
    proc *p = cli_expect(cli_start("send", "-u", it_url, "--handle", handle, "ch", "a=1"), CLI_CONNECT);
    assert_non_null(strstr(buf_text(&p->err), "cannot connect"));
    /* A handle the library rejects outright is a usage error. */
    p = cli_expect(cli_start("send", "-u", it_url, "--handle", "with space", "ch"), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "bad handle"));
    assert_non_null(strstr(buf_text(&p->err), "whitespace"));
    p = cli_expect(cli_start("send", "-u", "nope://x", "ch"), CLI_USAGE);
    assert_non_null(strstr(buf_text(&p->err), "nope://x"));
}

static void test_url_failover(void **state)
{
    (void)state;
    sub s;
    subscriber(&s);
    /* The first URL is refused; the second one is used. */
    cli_expect(cli_start("send", "--url", refused(), "--url", it_url, s.channel, "via=second"), CLI_OK);
    assert_true(it_inbox_wait(s.in, 1, IT_TIMEOUT));
    IT_ASSERT_JSON(it_inbox_at(s.in, 0)->data, "{\"via\":\"second\"}");
}

/* ------------------------------------------------------------- listen */

static void test_listen_count(void **state)
{
    (void)state;
    char handle[64], ch1[64], ch2[64];
    it_unique(handle, sizeof handle, "lis");
    it_unique(ch1, sizeof ch1, "lch");
    it_unique(ch2, sizeof ch2, "lch");
    proc *p = cli_start("listen", "-u", it_url, "--handle", handle, ch1, ch2, "-n", "3");
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch1, CLI_TIMEOUT));
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch2, CLI_TIMEOUT));
    assert_true(proc_wait_text(p, 2, "listening as", CLI_TIMEOUT));

    oocsi_client *c = it_connect_bg("cli_peer_####");
    int64_t before = it_wall_ms();
    assert_int_equal(oocsi_send_json(c, ch1, "{\"a\":1}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(c, ch2, "{\"b\":\"two\",\"nested\":{\"x\":[true]}}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(c, handle, "{\"direct\":3}"), OOCSI_OK); /* direct message */
    cli_expect(p, CLI_OK);

    /* Exactly COUNT lines, one JSON object each, flushed as they came. */
    assert_int_equal(count_lines(buf_text(&p->out)), 3);
    cJSON *j = json_line(buf_text(&p->out), 0);
    assert_string_equal(json_str(j, "sender"), oocsi_handle(c));
    assert_string_equal(json_str(j, "recipient"), ch1);
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(j, "data"), "{\"a\":1}");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "timestamp");
    assert_true(cJSON_IsNumber(ts));
    assert_true(ts->valuedouble >= (double)(before - 60000) && ts->valuedouble <= (double)(it_wall_ms() + 60000));
    cJSON_Delete(j);
    j = json_line(buf_text(&p->out), 1);
    assert_string_equal(json_str(j, "recipient"), ch2);
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(j, "data"), "{\"b\":\"two\",\"nested\":{\"x\":[true]}}");
    cJSON_Delete(j);
    j = json_line(buf_text(&p->out), 2);
    assert_string_equal(json_str(j, "recipient"), handle);
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(j, "data"), "{\"direct\":3}");
    cJSON_Delete(j);
}

/* Integers beyond 2^53 go through the CLI digit for digit: sent as a JSON
 * argument or a stdin line, printed by listen (a double would change them). */
static void test_exact_integers(void **state)
{
    (void)state;
    char handle[64], ch[64];
    it_unique(handle, sizeof handle, "lisx");
    it_unique(ch, sizeof ch, "xch");
    proc *p = cli_start("listen", "-u", it_url, "--handle", handle, ch, "-n", "2");
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));
    cli_expect(cli_start("send", "-u", it_url, ch, "{\"n\": 9007199254740993}"), CLI_OK);
    cli_expect(cli_start_stdin("{\"m\":-9223372036854775807}\n", "send", "-u", it_url, ch, "-"), CLI_OK);
    cli_expect(p, CLI_OK);
    const char *out = buf_text(&p->out);
    assert_int_equal(count_lines(out), 2);
    assert_non_null(strstr(out, "\"data\":{\"n\":9007199254740993}"));
    assert_non_null(strstr(out, "\"data\":{\"m\":-9223372036854775807}"));
}

static void test_listen_pretty(void **state)
{
    (void)state;
    char handle[64], ch[64];
    it_unique(handle, sizeof handle, "lisp");
    it_unique(ch, sizeof ch, "lch");
    proc *p = cli_start("listen", "-u", it_url, "--handle", handle, "--pretty", "-n1", ch);
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));
    oocsi_client *c = it_connect_bg(NULL);
    assert_int_equal(oocsi_send_json(c, ch, "{\"v\":1.5}"), OOCSI_OK);
    cli_expect(p, CLI_OK);
    /* "HH:MM:SS.mmm  sender -> channel  {data}" */
    const char *line = buf_text(&p->out);
    assert_int_equal(count_lines(line), 1);
    assert_true(strlen(line) > 14);
    for (int i = 0; i < 12; i++) {
        if (i == 2 || i == 5)
            assert_int_equal(line[i], ':');
        else if (i == 8)
            assert_int_equal(line[i], '.');
        else
            assert_true(line[i] >= '0' && line[i] <= '9');
    }
    char want[256];
    snprintf(want, sizeof want, "  %s -> %s  {\"v\":1.5}\n", oocsi_handle(c), ch);
    assert_string_equal(line + 12, want);
}

static void test_listen_timeout_and_signals(void **state)
{
    (void)state;
    char ch[64], handle[64];
    it_unique(ch, sizeof ch, "lch");
    /* Nothing within --timeout: exit 4. */
    proc *p = cli_expect(cli_start("listen", "-u", it_url, ch, "--timeout", "300"), CLI_TIMEOUT_EXIT);
    assert_non_null(strstr(buf_text(&p->err), "timeout"));
    assert_int_equal(p->out.len, 0);
    /* Fewer than COUNT within --timeout: exit 4 as well. */
    it_unique(handle, sizeof handle, "list");
    p = cli_start("listen", "-u", it_url, "--handle", handle, ch, "-n", "2", "-t", "3000");
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));
    oocsi_client *c = it_connect_bg(NULL);
    assert_int_equal(oocsi_send_json(c, ch, "{\"only\":1}"), OOCSI_OK);
    cli_expect(p, CLI_TIMEOUT_EXIT);
    assert_int_equal(count_lines(buf_text(&p->out)), 1);

    /* SIGTERM and SIGINT end listening cleanly with 0. */
    static const int sigs[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < 2; i++) {
        it_unique(handle, sizeof handle, "lsig");
        p = cli_start("listen", "-u", it_url, "--handle", handle, ch);
        assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));
        assert_int_equal(kill(p->pid, sigs[i]), 0);
        cli_expect(p, CLI_OK);
        /* It said goodbye: the hub forgets the handle. */
        assert_true(oocsi_hub_wait_client_gone(it_hub, handle, CLI_TIMEOUT));
    }
}

static void test_listen_survives_restart(void **state)
{
    (void)state;
    char handle[64], ch[64];
    it_unique(handle, sizeof handle, "lisr");
    it_unique(ch, sizeof ch, "lch");
    proc *p = cli_start("listen", "-u", it_url, "--handle", handle, ch);
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));

    assert_int_equal(oocsi_hub_stop(it_hub), 0);
    assert_true(proc_wait_text(p, 2, "connection lost", CLI_TIMEOUT));
    assert_int_equal(oocsi_hub_restart(it_hub), 0);
    assert_true(proc_wait_text(p, 2, "reconnected to", CLI_TIMEOUT));
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));

    oocsi_client *c = it_connect_bg(NULL);
    assert_int_equal(oocsi_send_json(c, ch, "{\"after\":\"restart\"}"), OOCSI_OK);
    assert_true(proc_wait_lines(p, 1, CLI_TIMEOUT));
    cJSON *j = json_line(buf_text(&p->out), 0);
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(j, "data"), "{\"after\":\"restart\"}");
    cJSON_Delete(j);
    assert_int_equal(kill(p->pid, SIGTERM), 0);
    cli_expect(p, CLI_OK);
}

/* --------------------------------------------------------- call, respond */

static void square(oocsi_client *c, const oocsi_message *req, cJSON *resp, void *user)
{
    (void)c;
    (void)user;
    double x = 0;
    if (oocsi_message_get_double(req, "x", &x) == OOCSI_OK)
        cJSON_AddNumberToObject(resp, "result", x * x);
}

static void test_call(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "svc");
    oocsi_client *r = it_connect_bg(NULL);
    assert_int_equal(oocsi_register(r, ch, "square", square, NULL), OOCSI_OK);

    proc *p = cli_expect(cli_start("call", "-u", it_url, ch, "square", "x=3"), CLI_OK);
    assert_int_equal(count_lines(buf_text(&p->out)), 1);
    cJSON *j = json_line(buf_text(&p->out), 0);
    IT_ASSERT_JSON(j, "{\"x\":3,\"result\":9}");
    cJSON_Delete(j);

    /* JSON DATA, options after the arguments, --pretty still parses. */
    p = cli_expect(cli_start("call", ch, "square", "{\"x\": 1.5}", "--url", it_url, "--pretty", "-t", "5000"), CLI_OK);
    j = it_json(buf_text(&p->out));
    IT_ASSERT_JSON(j, "{\"x\":1.5,\"result\":2.25}");
    cJSON_Delete(j);

    /* Directly to the responder's handle. */
    p = cli_expect(cli_start("call", "-u", it_url, oocsi_handle(r), "square", "x=-2"), CLI_OK);
    j = json_line(buf_text(&p->out), 0);
    IT_ASSERT_JSON(j, "{\"x\":-2,\"result\":4}");
    cJSON_Delete(j);
}

static void test_call_timeout(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "nobody");
    int64_t t0 = it_now_ms();
    proc *p = cli_expect(cli_start("call", "-u", it_url, ch, "anyone", "--timeout", "300"), CLI_TIMEOUT_EXIT);
    assert_true(it_now_ms() - t0 >= 300);
    assert_non_null(strstr(buf_text(&p->err), "no answer"));
    assert_int_equal(p->out.len, 0);
}

static void test_respond_echo(void **state)
{
    (void)state;
    char handle[64], ch[64];
    it_unique(handle, sizeof handle, "resp");
    it_unique(ch, sizeof ch, "svc");
    proc *p = cli_start("respond", "-u", it_url, "--handle", handle, ch, "echo", "-n", "1");
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));

    oocsi_client *c = it_connect_bg(NULL);
    cJSON *req = it_json("{\"x\":5,\"s\":\"hi\"}");
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, ch, "echo", req, CLI_TIMEOUT, &resp), OOCSI_OK);
    IT_ASSERT_JSON(resp, "{\"x\":5,\"s\":\"hi\"}");
    cJSON_Delete(resp);
    cJSON_Delete(req);

    cli_expect(p, CLI_OK); /* -n 1: done after one answer */
    assert_int_equal(count_lines(buf_text(&p->out)), 1);
    cJSON *j = json_line(buf_text(&p->out), 0);
    assert_string_equal(json_str(j, "sender"), oocsi_handle(c));
    assert_string_equal(json_str(j, "recipient"), ch);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(data, "x")->valueint, 5);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "response");
    assert_true(cJSON_IsObject(r));
    assert_string_equal(json_str(r, "s"), "hi");
    cJSON_Delete(j);
}

static void test_respond_fixed(void **state)
{
    (void)state;
    char handle[64], ch[64];
    it_unique(handle, sizeof handle, "resf");
    it_unique(ch, sizeof ch, "svc");
    proc *p = cli_start("respond", "-u", it_url, "--handle", handle, "--pretty", ch, "status", "ok=true", "code=200");
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));

    oocsi_client *c = it_connect_bg(NULL);
    for (int i = 0; i < 2; i++) {
        cJSON *req = it_json("{\"ignored\":1}");
        cJSON *resp = NULL;
        assert_int_equal(oocsi_call_and_wait(c, ch, "status", req, CLI_TIMEOUT, &resp), OOCSI_OK);
        IT_ASSERT_JSON(resp, "{\"ok\":true,\"code\":200}");
        cJSON_Delete(resp);
        cJSON_Delete(req);
    }
    /* Calls by other names are not answered. */
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, ch, "other", NULL, 300, &resp), OOCSI_ERR_TIMEOUT);
    assert_null(resp);

    /* The CLI as the caller of the CLI as the responder. */
    proc *q = cli_expect(cli_start("call", "-u", it_url, ch, "status"), CLI_OK);
    cJSON *j = json_line(buf_text(&q->out), 0);
    IT_ASSERT_JSON(j, "{\"ok\":true,\"code\":200}");
    cJSON_Delete(j);

    assert_true(proc_wait_lines(p, 3, CLI_TIMEOUT));
    assert_non_null(strstr(buf_text(&p->out), "-> "));
    assert_non_null(strstr(buf_text(&p->out), "=> {\"ok\":true,\"code\":200}"));
    assert_int_equal(kill(p->pid, SIGINT), 0);
    cli_expect(p, CLI_OK);
}

/* ----------------------------------------------------------- queries */

/* Names and payloads come from the network: what the CLI prints for a person
 * must not carry terminal controls (an OSC sequence sets the window title or
 * the clipboard; C1 CSI \u009b starts a control sequence on some terminals). */
static int has_control_bytes(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return 1;
    return 0;
}

static void test_terminal_controls_escaped(void **state)
{
    (void)state;
    char handle[64], ch[64], evil[96];
    it_unique(handle, sizeof handle, "esc");
    it_unique(ch, sizeof ch, "escch");
    proc *p = cli_start("listen", "-u", it_url, "--handle", handle, "--pretty", "-n1", ch);
    assert_true(oocsi_hub_wait_subscribed(it_hub, handle, ch, CLI_TIMEOUT));
    oocsi_client *c = it_connect_bg(NULL);
    assert_int_equal(oocsi_send_json(c, ch, "{\"t\":\"\\u009b31m\\u001b]0;x\\u0007\"}"), OOCSI_OK);
    cli_expect(p, CLI_OK);
    const char *out = buf_text(&p->out);
    if (has_control_bytes(out))
        fail_msg("listen --pretty printed terminal controls: %s", out);
    assert_non_null(strstr(out, "\\u009b31m"));

    /* A channel whose name carries an OSC sequence, made by a raw client. */
    snprintf(evil, sizeof evil,
             "%s\x1b]0;pwned\x07"
             "end",
             ch);
    it_raw *r = it_raw_connect(oocsi_hub_port(it_hub), "escraw");
    assert_non_null(r);
    assert_int_equal(it_raw_subscribe(r, evil), 0);
    p = cli_expect(cli_start("channels", "-u", it_url, "--handle", "cli_esc_self"), CLI_OK);
    out = buf_text(&p->out);
    if (has_control_bytes(out))
        fail_msg("channels printed terminal controls: %s", out);
    char shown[128];
    snprintf(shown, sizeof shown, "%s\\x1b]0;pwned\\x07end\n", ch);
    if (!strstr(out, shown))
        fail_msg("channels: no line %s in:\n%s", shown, out);
    it_raw_close(r);
}

static void test_queries(void **state)
{
    (void)state;
    char ch[64], ha[64], hb[64], unknown[64];
    it_unique(ch, sizeof ch, "qch");
    it_unique(ha, sizeof ha, "qa");
    it_unique(hb, sizeof hb, "qb");
    it_unique(unknown, sizeof unknown, "qnone");
    oocsi_client *a = it_connect_bg(ha);
    it_connect_bg(hb);
    assert_int_equal(oocsi_subscribe(a, ch, it_inbox_handler, it_inbox_new()), OOCSI_OK);

    char line_a[80], line_b[80], line_ch[80];
    snprintf(line_a, sizeof line_a, "%s\n", ha);
    snprintf(line_b, sizeof line_b, "%s\n", hb);
    snprintf(line_ch, sizeof line_ch, "%s\n", ch);

    /* One item per line; the CLI's own handle is left out. */
    proc *p = cli_expect(cli_start("clients", "-u", it_url, "--handle", "cli_q_self"), CLI_OK);
    const char *out = buf_text(&p->out);
    assert_non_null(strstr(out, line_a));
    assert_non_null(strstr(out, line_b));
    assert_null(strstr(out, "cli_q_self"));
    assert_null(strchr(out, ','));
    assert_null(strstr(out, "\n\n"));

    p = cli_expect(cli_start("channels", "-u", it_url, "--handle", "cli_q_self"), CLI_OK);
    out = buf_text(&p->out);
    assert_non_null(strstr(out, line_ch));
    assert_null(strstr(out, "cli_q_self"));
    assert_null(strchr(out, ','));

    p = cli_expect(cli_start("subscribers", "-u", it_url, ch), CLI_OK);
    assert_string_equal(buf_text(&p->out), line_a);

    p = cli_expect(cli_start("subscribers", "-u", it_url, unknown), CLI_OK);
    assert_int_equal(p->out.len, 0);
}

static void test_queries_over_ws(void **state)
{
    (void)state;
#ifdef OOCSI_CLI_TEST_WS
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.bind_address = "127.0.0.1";
    o.ws_port = 0;
    oocsi_hub *h = oocsi_hub_start(&o);
    assert_non_null(h);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", oocsi_hub_ws_port(h));
    static const char *const cmds[] = {"channels", "clients", "subscribers"};
    for (size_t i = 0; i < 3; i++) {
        proc *p = i == 2 ? cli_start(cmds[i], "-u", url, "ch") : cli_start(cmds[i], "-u", url);
        int rc = proc_wait_exit(p, CLI_TIMEOUT);
        int has_msg = strstr(buf_text(&p->err), "no queries") != NULL;
        char err[512];
        snprintf(err, sizeof err, "%s", buf_text(&p->err));
        proc_release(p);
        if (rc != CLI_RUNTIME || !has_msg) {
            oocsi_hub_free(h);
            fail_msg("%s over ws: exit %d, stderr: %s", cmds[i], rc, err);
        }
    }
    oocsi_hub_free(h);
#else
    skip();
#endif
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a child that exits early must not kill us */
    const struct CMUnitTest tests[] = {
        CLI_TEST(test_help),
        CLI_TEST(test_usage_errors),
        CLI_TEST(test_send_key_value),
        CLI_TEST(test_send_json_and_stdin),
        CLI_TEST(test_send_bad_data),
        CLI_TEST(test_no_server),
        CLI_TEST(test_handle_taken),
        CLI_TEST(test_url_failover),
        CLI_TEST(test_listen_count),
        CLI_TEST(test_exact_integers),
        CLI_TEST(test_listen_pretty),
        CLI_TEST(test_listen_timeout_and_signals),
        CLI_TEST(test_call),
        CLI_TEST(test_call_timeout),
        CLI_TEST(test_respond_echo),
        CLI_TEST(test_respond_fixed),
        CLI_TEST(test_queries),
        CLI_TEST(test_terminal_controls_escaped),
        CLI_TEST(test_queries_over_ws),
        CLI_TEST(test_listen_survives_restart),
    };
    return cmocka_run_group_tests(tests, it_group_setup, it_group_teardown);
}
