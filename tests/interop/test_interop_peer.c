/*
 * liboocsi and a reference client as peers through the reference Java
 * server: OOCSI_INTEROP_PEER=python runs peer.py on the reference Python
 * client, OOCSI_INTEROP_PEER=java runs InteropPeer.java on the reference Java
 * client (compiled here at test time; skipped without javac). The peer is
 * one child process for the whole program; it prints what it sees as JSON
 * lines, which the tests read through a pipe, and takes commands as messages
 * on PREFIX_in.
 */
#include "interop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef OOCSI_INTEROP_SOURCE_DIR
#error "OOCSI_INTEROP_SOURCE_DIR must name tests/interop"
#endif

static const char *lang; /* "python" or "java" */
static io_peer peer;
static int peer_started;
static char skip_peer[256];
static char prefix[64], peer_handle[80], ch_in[80], ch_out[80], ch_peer_calls[96], ch_c_calls[96], ch_var[80];

/* Compiles InteropPeer.java into the build folder; the java command line, or
 * a reason to skip in skip_peer. */
static int java_peer_command(char *java, size_t size, char *classpath, size_t cp_size)
{
    char javac[512];
    if (!io_find_program("javac", javac, sizeof javac) || !io_find_program("java", java, size)) {
        snprintf(skip_peer, sizeof skip_peer, "no javac on PATH: the Java client peer is left out");
        return -1;
    }
    char jar[512], classes[512];
    snprintf(jar, sizeof jar, "%s/java/oocsi-client.jar", OOCSI_REFERENCE_DIR);
    snprintf(classes, sizeof classes, "%s/java-peer", OOCSI_INTEROP_BUILD_DIR);
    it_proc *p = it_proc_startv(javac, NULL,
                                (const char *const[]){"-encoding", "UTF-8", "-d", classes, "-cp", jar,
                                                      OOCSI_INTEROP_SOURCE_DIR "/InteropPeer.java", NULL});
    if (it_proc_wait_exit(p, 120000) != 0)
        fail_msg("javac failed:\n%s\n%s", it_buf_text(&p->out), it_buf_text(&p->err));
    it_proc_release(p);
    snprintf(classpath, cp_size, "%s:%s", jar, classes);
    return 0;
}

static int python_peer_command(char *python, size_t size)
{
    if (!io_find_program("python3", python, size)) {
        snprintf(skip_peer, sizeof skip_peer, "no python3 on PATH for the Python client peer");
        return -1;
    }
    const char *old = getenv("PYTHONPATH");
    char path[1024];
    snprintf(path, sizeof path, "%s/python%s%s", OOCSI_REFERENCE_DIR, old ? ":" : "", old ? old : "");
    setenv("PYTHONPATH", path, 1);
    return 0;
}

/* The peer, started on first use and kept for the whole program. Skips the
 * test when the server or the peer's tools are missing. */
static io_peer *the_peer(void)
{
    io_require_server();
    if (skip_peer[0]) {
        fprintf(stderr, "SKIP: %s\n", skip_peer);
        skip();
    }
    if (peer_started)
        return &peer;
    char port[16], prog[512], cp[1100];
    snprintf(port, sizeof port, "%d", io_server_port());
    if (strcmp(lang, "java") == 0) {
        if (java_peer_command(prog, sizeof prog, cp, sizeof cp) == 0)
            io_peer_start(&peer, prog,
                          (const char *const[]){"-cp", cp, "InteropPeer", port, peer_handle, prefix, NULL});
    } else if (python_peer_command(prog, sizeof prog) == 0) {
        io_peer_start(&peer, prog,
                      (const char *const[]){OOCSI_INTEROP_SOURCE_DIR "/peer.py", port, peer_handle, prefix, NULL});
    }
    if (skip_peer[0])
        return the_peer();
    it_proc_keep(peer.proc);
    peer_started = 1;
    cJSON *ready = io_peer_event(&peer, "ready", IO_START_TIMEOUT);
    io_assert_str(ready, "handle", peer_handle);
    cJSON_Delete(ready);
    return &peer;
}

static int group_setup(void **state)
{
    lang = getenv("OOCSI_INTEROP_PEER");
    if (lang == NULL || (strcmp(lang, "java") != 0 && strcmp(lang, "python") != 0))
        lang = "python";
    char base[32];
    snprintf(base, sizeof base, "io_%s", lang);
    it_unique(prefix, sizeof prefix, base);
    snprintf(peer_handle, sizeof peer_handle, "%s_peer", prefix);
    snprintf(ch_in, sizeof ch_in, "%s_in", prefix);
    snprintf(ch_out, sizeof ch_out, "%s_out", prefix);
    snprintf(ch_peer_calls, sizeof ch_peer_calls, "%s_peer_calls", prefix);
    snprintf(ch_c_calls, sizeof ch_c_calls, "%s_c_calls", prefix);
    snprintf(ch_var, sizeof ch_var, "%s_var", prefix);
    return io_group_setup(state);
}

static int group_teardown(void **state)
{
    if (peer_started)
        it_proc_release(peer.proc); /* killed if a failed test left it running */
    return io_group_teardown(state);
}

/* The next "message" line of the peer whose data has key == value. */
static cJSON *peer_message(io_peer *p, const char *key, const char *value)
{
    for (;;) {
        cJSON *ev = io_peer_event(p, "message", IT_TIMEOUT * 2);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "data"), key);
        if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0)
            return ev;
        cJSON_Delete(ev);
    }
}

/* A message the peer's client sent reaches a C subscriber with its sender,
 * channel and every value (numbers, boolean, non-ASCII text). */
static void peer_to_c_message(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_rx");
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch_out, it_inbox_handler, in), OOCSI_OK);
    io_send(c, ch_in, "{\"cmd\":\"send\"}");
    const it_msg *m = io_msg(in, 0, peer_handle, ch_out);
    io_assert_str(m->data, "from", lang);
    io_assert_num(m->data, "n", 7);
    io_assert_num(m->data, "ratio", 0.25);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m->data, "ok")));
    io_assert_str(m->data, "text", "h\xc3\xa9llo w\xc3\xb6rld");
    cJSON_Delete(io_peer_event(p, "sent", IT_TIMEOUT));
}

/* A message from a C client reaches the peer's client: the peer prints the
 * sender, the channel and the data it got. */
static void c_to_peer_message(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_tx");
    io_send(c, ch_in, "{\"hello\":\"from C\",\"n\":42,\"text\":\"\\u00fcn\\u00efcode\",\"list\":[1,2,3]}");
    cJSON *ev = peer_message(p, "hello", "from C");
    io_assert_str(ev, "sender", oocsi_handle(c));
    io_assert_str(ev, "recipient", ch_in);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
    io_assert_num(data, "n", 42);
    io_assert_str(data, "text",
                  "\xc3\xbc"
                  "n\xc3\xaf"
                  "code");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(data, "list"), "[1,2,3]");
    cJSON_Delete(ev);
}

/* A C caller gets the answer of the peer's responder. */
static void c_calls_peer(void **state)
{
    (void)state;
    the_peer();
    oocsi_client *c = io_client("io_c_caller");
    cJSON *req = it_json("{\"a\":2,\"b\":3.5}"), *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, ch_peer_calls, "add", req, IT_TIMEOUT * 2, &resp), OOCSI_OK);
    io_assert_num(resp, "sum", 5.5);
    io_assert_str(resp, "by", lang);
    cJSON_Delete(resp);
    cJSON_Delete(req);
}

/* The peer's client calls a C responder and prints the answer. */
static void peer_calls_c(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_responder");
    assert_int_equal(oocsi_register(c, ch_c_calls, "mul", io_mul_responder, NULL), OOCSI_OK);
    io_send(c, ch_in, "{\"cmd\":\"call\",\"x\":6,\"y\":7}");
    cJSON *ev = io_peer_event(p, "response", IT_TIMEOUT * 3);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
    if (!cJSON_IsObject(data))
        fail_msg("the peer got no response to its call");
    io_assert_num(data, "product", 42);
    io_assert_str(data, "by", oocsi_handle(c));
    cJSON_Delete(ev);
}

/* A variable on one channel and key, shared by C and the peer's client:
 * each side's value reaches the other. */
static void shared_variable(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_var");
    oocsi_variable *v = oocsi_variable_new(c, ch_var, "level");
    assert_non_null(v);
    it_inbox *seen = it_inbox_new(); /* dispatched after the variable's handler */
    assert_int_equal(oocsi_subscribe(c, ch_var, it_inbox_handler, seen), OOCSI_OK);

    assert_int_equal(oocsi_variable_set(v, 12.5), OOCSI_OK);
    /* The Java client runs each channel's handlers on their own thread: a
     * var_get sent after the value may be answered before the variable took
     * it. Ask again until it has (bounded). */
    double got = NAN;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 2; got != 12.5 && it_now_ms() < until;) {
        io_send(c, ch_in, "{\"cmd\":\"var_get\"}");
        cJSON *ev = io_peer_event(p, "variable", IT_TIMEOUT * 2);
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(ev, "value");
        got = cJSON_IsNumber(val) ? val->valuedouble : NAN;
        cJSON_Delete(ev);
    }
    IT_ASSERT_NEAR(got, 12.5, 1e-9);

    io_send(c, ch_in, "{\"cmd\":\"var_set\",\"value\":-4.75}");
    const it_msg *m = io_msg(seen, 0, peer_handle, ch_var);
    io_assert_num(m->data, "level", -4.75);
    IT_ASSERT_NEAR(oocsi_variable_get(v), -4.75, 1e-9);
    oocsi_variable_free(v);
}

/* The peer leaves on the "quit" command, with exit code 0. */
static void peer_quits(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    oocsi_client *c = io_client("io_c_quit");
    io_send(c, ch_in, "{\"cmd\":\"quit\"}");
    assert_int_equal(io_peer_wait_exit(p, IT_TIMEOUT * 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(peer_to_c_message), IT_TEST(c_to_peer_message), IT_TEST(c_calls_peer),
        IT_TEST(peer_calls_c),      IT_TEST(shared_variable),   IT_TEST(peer_quits),
    };
    const char *peer_name = getenv("OOCSI_INTEROP_PEER");
    return cmocka_run_group_tests_name(peer_name && strcmp(peer_name, "java") == 0 ? "interop.java_peer"
                                                                                   : "interop.python_peer",
                                       tests, group_setup, group_teardown);
}
