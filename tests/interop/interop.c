/*
 * The reference Java server as a child process, the peers on the reference
 * clients, and the small assertions the interoperability tests share.
 */
#include "interop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef OOCSI_REFERENCE_DIR
#error "OOCSI_REFERENCE_DIR must name shared/reference"
#endif
#ifndef OOCSI_INTEROP_BUILD_DIR
#error "OOCSI_INTEROP_BUILD_DIR must name the build folder of the interop tests"
#endif
#ifndef OOCSI_INTEROP_SOURCE_DIR
#error "OOCSI_INTEROP_SOURCE_DIR must name tests/interop"
#endif

static const char *skip_reason;

/* ---------------------------------------------------------------- lookup */

int io_find_program(const char *name, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, size, "%.*s/%s", (int)n, path, name);
        if (n > 0 && access(buf, X_OK) == 0)
            return 1;
        path = end ? end + 1 : NULL;
    }
    return 0;
}

const char *io_skip_reason(void)
{
    return skip_reason;
}

/* ------------------------------------------------------------ the server */

/* The server itself is the integration helpers' (support_java.c): a free
 * port, -logging, UTF-8, a bounded wait for the welcome, its log next to
 * the program. */
int io_server_start(const char *const *server_args)
{
    int rc = it_java_start(server_args);
    if (rc == 1) {
        skip_reason = it_java_skip_reason();
        return 0;
    }
    return rc;
}

int io_group_setup(void **state)
{
    (void)state;
    return io_server_start(NULL);
}

int io_group_teardown(void **state)
{
    (void)state;
    io_server_stop();
    return 0;
}

void io_server_stop(void)
{
    it_java_stop();
}

void io_server_restart(void)
{
    assert_int_equal(it_java_restart(), 0);
}

int io_server_port(void)
{
    return it_java_port();
}

void io_require_server(void)
{
    if (skip_reason) {
        fprintf(stderr, "SKIP: %s\n", skip_reason);
        skip();
    }
    if (!it_java_running())
        fail_msg("the Java server is not running");
}

/* --------------------------------------------------------------- clients */

oocsi_client *io_client(const char *prefix)
{
    char h[64];
    it_unique(h, sizeof h, prefix);
    return it_connect_bg(h);
}

int io_try_handle(const char *handle)
{
    oocsi_options *o = it_options(handle);
    assert_int_equal(oocsi_options_set_max_reconnect_attempts(o, 0), OOCSI_OK);
    oocsi_client *c = NULL;
    int rc = oocsi_connect(&c, o);
    oocsi_options_free(o);
    if (rc == OOCSI_OK)
        oocsi_close(c);
    return rc;
}

void io_send(oocsi_client *c, const char *recipient, const char *json)
{
    assert_int_equal(oocsi_send_json(c, recipient, json), OOCSI_OK);
}

const it_msg *io_msg(it_inbox *in, int i, const char *sender, const char *recipient)
{
    if (!it_inbox_wait(in, i + 1, IT_TIMEOUT))
        fail_msg("message %d (from %s to %s) did not arrive (%d arrived)", i, sender, recipient, it_inbox_count(in));
    const it_msg *m = it_inbox_at(in, i);
    assert_string_equal(m->sender, sender);
    assert_string_equal(m->recipient, recipient);
    return m;
}

void io_assert_num(const cJSON *data, const char *key, double expected)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
    if (!cJSON_IsNumber(v))
        fail_msg("\"%s\" is not a number in the message", key);
    IT_ASSERT_NEAR(v->valuedouble, expected, 1e-9);
}

void io_assert_str(const cJSON *data, const char *key, const char *expected)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
    if (!cJSON_IsString(v))
        fail_msg("\"%s\" is not a string in the message", key);
    assert_string_equal(v->valuestring, expected);
}

int io_list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        p += strspn(p, ", \t\r\n");
        size_t len = strcspn(p, ", \t\r\n");
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

void io_mul_responder(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    (void)user;
    double x = oocsi_message_get_double_or(request, "x", 0), y = oocsi_message_get_double_or(request, "y", 0);
    cJSON_AddNumberToObject(response, "product", x * y);
    cJSON_AddStringToObject(response, "by", oocsi_handle(c));
}

/* ------------------------------------------------------------------ peers */

void io_peer_start(io_peer *p, const char *path, const char *const *args)
{
    p->proc = it_proc_startv(path, NULL, args);
    p->cursor = 0;
}

static void peer_fail(io_peer *p, const char *what)
{
    fail_msg("%s; the peer's stdout:\n%s\nits stderr:\n%s", what, it_buf_text(&p->proc->out),
             it_buf_text(&p->proc->err));
}

cJSON *io_peer_event(io_peer *p, const char *event, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        const char *text = it_buf_text(&p->proc->out);
        const char *line = text + p->cursor;
        const char *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            cJSON *j = cJSON_ParseWithLength(line, (size_t)(nl - line));
            const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "event");
            if (cJSON_IsString(ev) && strcmp(ev->valuestring, event) == 0) {
                p->cursor = (size_t)(nl + 1 - text);
                return j;
            }
            cJSON_Delete(j);
            line = nl + 1;
        }
        int64_t left = deadline - it_now_ms();
        if (left <= 0 || !it_proc_wait_lines(p->proc, it_count_lines(text) + 1, (int)left)) {
            char what[128];
            snprintf(what, sizeof what, "no \"%s\" event from the peer within %d ms", event, timeout_ms);
            peer_fail(p, what);
        }
    }
}

int io_peer_wait_exit(io_peer *p, int timeout_ms)
{
    return it_proc_wait_exit(p->proc, timeout_ms);
}

/* Compiles the Java peer with PeerBase.java into its build folder and starts
 * it, or says why it cannot in rp->skip. */
static void start_java(io_ref_peer *rp, const char *port)
{
    char javac[512], jvm[512], jar[512], classes[512], src[512], base[512], cp[1100];
    if (!io_find_program("javac", javac, sizeof javac) || !io_find_program("java", jvm, sizeof jvm)) {
        snprintf(rp->skip, sizeof rp->skip, "no javac on PATH: the Java peer %s is left out", rp->program);
        return;
    }
    snprintf(jar, sizeof jar, "%s/java/oocsi-client.jar", OOCSI_REFERENCE_DIR);
    snprintf(classes, sizeof classes, "%s/%s", OOCSI_INTEROP_BUILD_DIR, rp->classes);
    snprintf(src, sizeof src, "%s/%s.java", OOCSI_INTEROP_SOURCE_DIR, rp->program);
    snprintf(base, sizeof base, "%s/PeerBase.java", OOCSI_INTEROP_SOURCE_DIR);
    it_proc *c = it_proc_startv(
        javac, NULL,
        (const char *const[]){"-encoding", "UTF-8", "-nowarn", "-d", classes, "-cp", jar, src, base, NULL});
    if (it_proc_wait_exit(c, 120000) != 0)
        fail_msg("javac failed:\n%s\n%s", it_buf_text(&c->out), it_buf_text(&c->err));
    it_proc_release(c);
    snprintf(cp, sizeof cp, "%s:%s", jar, classes);
    io_peer_start(&rp->p, jvm, (const char *const[]){"-cp", cp, rp->program, port, rp->handle, rp->prefix, NULL});
}

static void start_python(io_ref_peer *rp, const char *port)
{
    char py[512], path[1024];
    if (!io_find_program("python3", py, sizeof py)) {
        snprintf(rp->skip, sizeof rp->skip, "no python3 on PATH for the Python client peer");
        return;
    }
    const char *old = getenv("PYTHONPATH");
    snprintf(path, sizeof path, "%s/python%s%s", OOCSI_REFERENCE_DIR, old ? ":" : "", old ? old : "");
    setenv("PYTHONPATH", path, 1);
    io_peer_start(&rp->p, py,
                  (const char *const[]){OOCSI_INTEROP_SOURCE_DIR "/peer.py", port, rp->handle, rp->prefix, NULL});
}

void io_ref_peer_init(io_ref_peer *rp, const char *program, const char *classes, const char *base, const char *suffix)
{
    memset(rp, 0, sizeof *rp);
    rp->program = program;
    rp->classes = classes;
    it_unique(rp->prefix, sizeof rp->prefix, base);
    snprintf(rp->handle, sizeof rp->handle, "%s_%s", rp->prefix, suffix);
    snprintf(rp->in, sizeof rp->in, "%s_in", rp->prefix);
}

io_peer *io_ref_peer_use(io_ref_peer *rp)
{
    io_require_server();
    if (!rp->started && !rp->skip[0]) {
        char port[16];
        snprintf(port, sizeof port, "%d", io_server_port());
        if (strcmp(rp->program, "python") == 0)
            start_python(rp, port);
        else
            start_java(rp, port);
        if (!rp->skip[0]) {
            it_proc_keep(rp->p.proc);
            rp->started = 1;
            cJSON *ready = io_peer_event(&rp->p, "ready", IO_START_TIMEOUT);
            io_assert_str(ready, "handle", rp->handle);
            cJSON_Delete(ready);
        }
    }
    if (rp->skip[0]) {
        fprintf(stderr, "SKIP: %s\n", rp->skip);
        skip();
    }
    return &rp->p;
}

void io_ref_peer_release(io_ref_peer *rp)
{
    if (rp->started)
        it_proc_release(rp->p.proc);
}
