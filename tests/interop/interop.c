/*
 * The reference Java server as a child process, the peers on the reference
 * clients, and the small assertions the interoperability tests share.
 */
#include "interop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef OOCSI_REFERENCE_DIR
#error "OOCSI_REFERENCE_DIR must name shared/reference"
#endif
#ifndef OOCSI_INTEROP_BUILD_DIR
#error "OOCSI_INTEROP_BUILD_DIR must name the build folder of the interop tests"
#endif

#define IO_MAX_ARGS 8

static struct {
    pid_t pid;
    int port;
    const char *args[IO_MAX_ARGS + 1];
    char log[512];
    const char *skip;
} srv;

static char skip_buf[600];

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

static const char *find_skip_reason(void)
{
    char script[512], java[512];
    snprintf(script, sizeof script, "%s/run-java-server", OOCSI_REFERENCE_DIR);
    if (access(script, X_OK) != 0) {
        snprintf(skip_buf, sizeof skip_buf, "the reference peers are missing (no %s)", script);
        return skip_buf;
    }
    if (!io_find_program("java", java, sizeof java))
        return "no java on PATH for the reference server (Debian: apt-get install default-jre-headless)";
    return NULL;
}

const char *io_skip_reason(void)
{
    return srv.skip;
}

/* ------------------------------------------------------------ the server */

static void show_log(void)
{
    FILE *f = fopen(srv.log, "r");
    if (f == NULL)
        return;
    char line[512];
    fprintf(stderr, "--- %s\n", srv.log);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

/* fork/exec run-java-server PORT -logging ARGS..., its output appended to the
 * log file (only async-signal-safe calls between fork and exec). */
static void spawn_server(void)
{
    char script[512], port[16];
    const char *argv[IO_MAX_ARGS + 4];
    size_t n = 0;
    snprintf(script, sizeof script, "%s/run-java-server", OOCSI_REFERENCE_DIR);
    snprintf(port, sizeof port, "%d", srv.port);
    argv[n++] = script;
    argv[n++] = port;
    argv[n++] = "-logging";
    for (size_t i = 0; srv.args[i] != NULL; i++)
        argv[n++] = srv.args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(srv.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        execv(script, (char *const *)argv);
        _exit(127);
    }
    srv.pid = pid > 0 ? pid : 0;
}

static int port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Waits (bounded) until the port accepts connections and a liboocsi client
 * is welcomed. Between attempts it waits on the server's exit, never blindly. */
static int wait_welcome(void)
{
    int64_t deadline = it_now_ms() + IO_START_TIMEOUT;
    int listening = 0;
    while (srv.pid > 0 && it_now_ms() < deadline) {
        if (!listening)
            listening = port_accepts(srv.port);
        if (listening) {
            char h[64];
            it_unique(h, sizeof h, "io_probe");
            oocsi_options *o = it_options(h);
            oocsi_options_set_max_reconnect_attempts(o, 0);
            oocsi_client *c = NULL;
            int rc = oocsi_connect(&c, o);
            oocsi_options_free(o);
            if (rc == OOCSI_OK) {
                oocsi_close(c);
                return 0;
            }
        }
        int st = 0;
        if (it_wait_child(srv.pid, 50, &st)) {
            fprintf(stderr, "the Java server exited (status %d) before welcoming a client\n", st);
            srv.pid = 0;
        }
    }
    fprintf(stderr, "the Java server on port %d did not welcome a client within %d ms\n", srv.port, IO_START_TIMEOUT);
    show_log();
    io_server_stop();
    return -1;
}

/* The reference server (and the Java client) encode and decode lines in the
 * JVM's default charset: ASCII under a C/POSIX locale on Java 17, which turns
 * every non-ASCII character into '?'. The server and the Java peers run with
 * UTF-8, as OOCSI needs; the children inherit it. */
static void java_utf8(void)
{
    const char *old = getenv("JAVA_TOOL_OPTIONS");
    if (old && strstr(old, "-Dfile.encoding="))
        return;
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%s-Dfile.encoding=UTF-8", old ? old : "", old ? " " : "");
    setenv("JAVA_TOOL_OPTIONS", opts, 1);
}

int io_server_start(const char *const *server_args)
{
    srv.skip = find_skip_reason();
    if (srv.skip)
        return 0;
    java_utf8();
    size_t n = 0;
    for (; server_args && server_args[n] && n < IO_MAX_ARGS; n++)
        srv.args[n] = server_args[n];
    srv.args[n] = NULL;
    srv.port = it_free_port();
    snprintf(it_url, sizeof it_url, "tcp://127.0.0.1:%d", srv.port);
    char exe[256] = "";
    ssize_t n_exe = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n_exe > 0 ? n_exe : 0] = '\0';
    const char *name = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : "test";
    snprintf(srv.log, sizeof srv.log, "%s/%s.java-server.log", OOCSI_INTEROP_BUILD_DIR, name);
    unlink(srv.log);
    spawn_server();
    return wait_welcome();
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
    if (srv.pid > 0)
        it_stop_child(srv.pid, IT_TIMEOUT * 2, NULL);
    srv.pid = 0;
}

void io_server_restart(void)
{
    io_server_stop();
    spawn_server();
    assert_int_equal(wait_welcome(), 0);
}

int io_server_port(void)
{
    return srv.port;
}

void io_require_server(void)
{
    if (srv.skip) {
        fprintf(stderr, "SKIP: %s\n", srv.skip);
        skip();
    }
    if (srv.pid <= 0)
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
