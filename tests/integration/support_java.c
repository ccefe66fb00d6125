/*
 * The server under test (see support.h, "server under test"): the in-process
 * hub, or with OOCSI_IT_SERVER=java the reference Java server from
 * OOCSI_REFERENCE_DIR as a child process on a free loopback port, one per
 * test program. Also the waits on the server's state that work with both:
 * the hub's own functions, or a query loop through an observer client.
 */
#include "support_internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef OOCSI_REFERENCE_DIR
#error "OOCSI_REFERENCE_DIR must name shared/reference"
#endif

#define JAVA_MAX_ARGS 8
/* Exit code of a program that cannot run at all (ctest SKIP_RETURN_CODE). */
#define IT_EXIT_SKIP 77

static struct {
    pid_t pid;
    int port;
    const char *args[JAVA_MAX_ARGS + 1];
    char log[512];
    const char *skip;
    int stopped;            /* SIGSTOPped by it_server_stall() */
    oocsi_client *observer; /* asks the server's queries; made on first use */
} js;

static char skip_buf[640];

int it_server_is_java(void)
{
    const char *s = getenv("OOCSI_IT_SERVER");
    return s != NULL && strcmp(s, "java") == 0;
}

int it_server_port(void)
{
    return it_server_is_java() ? js.port : oocsi_hub_port(it_hub);
}

int it_server_port_in_use(void)
{
    return it_server_is_java() ? js.port : it_hub_port_in_use(it_hub);
}

int it_burst_window(void)
{
    return it_server_is_java() ? IT_JAVA_WINDOW : 0;
}

int it_server_stall(const char *handle, int stalled)
{
    if (!it_server_is_java())
        return oocsi_hub_stall_client(it_hub, handle, stalled);
    if (js.pid <= 0 || kill(js.pid, stalled ? SIGSTOP : SIGCONT) != 0)
        return -1;
    js.stopped = stalled;
    if (stalled) {
        /* kill() returns before every thread of the JVM has stopped: wait
         * for the stop itself (reported once all have; or an exit), leaving
         * the state to be reaped later. */
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)js.pid, &info, WSTOPPED | WEXITED | WNOWAIT) != 0 || info.si_code != CLD_STOPPED)
            return -1;
    }
    return 0;
}

void it_require_hub(const char *facility)
{
    if (!it_server_is_java())
        return;
    fprintf(stderr, "SKIP: needs the hub's %s\n", facility);
    skip();
}

/* ------------------------------------------------------ the Java server */

const char *it_java_skip_reason(void)
{
    char script[512];
    snprintf(script, sizeof script, "%s/run-java-server", OOCSI_REFERENCE_DIR);
    if (access(script, X_OK) != 0) {
        snprintf(skip_buf, sizeof skip_buf, "the reference Java server is missing (no %s)", script);
        return skip_buf;
    }
    if (!it_have_program("java"))
        return "no java on PATH for the reference server (Debian: apt-get install default-jre-headless)";
    return NULL;
}

int it_java_port(void)
{
    return js.port;
}

static void show_log(void)
{
    FILE *f = fopen(js.log, "r");
    if (f == NULL)
        return;
    char line[512];
    fprintf(stderr, "--- %s\n", js.log);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

/* fork/exec run-java-server PORT -logging ARGS..., its output appended to the
 * log file (only async-signal-safe calls between fork and exec). */
static void spawn_server(void)
{
    char script[512], port[16];
    const char *argv[JAVA_MAX_ARGS + 4];
    size_t n = 0;
    snprintf(script, sizeof script, "%s/run-java-server", OOCSI_REFERENCE_DIR);
    snprintf(port, sizeof port, "%d", js.port);
    argv[n++] = script;
    argv[n++] = port;
    argv[n++] = "-logging";
    for (size_t i = 0; js.args[i] != NULL; i++)
        argv[n++] = js.args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* Never outlive the test program (a crash, a ctest timeout). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(js.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
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
    js.pid = pid > 0 ? pid : 0;
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

static void notify_state(oocsi_client *c, oocsi_state state, int err, void *user)
{
    (void)c, (void)state, (void)err, (void)user;
    it_notify();
}

/* A plain tcp client of the Java server (not tracked); its state changes
 * wake it_wait_until(). */
static int java_connect(const char *handle, oocsi_client **out)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", js.port);
    oocsi_options *o = oocsi_options_new();
    if (!o)
        return OOCSI_ERR_NOMEM;
    oocsi_options_set_handle(o, handle);
    oocsi_options_add_endpoint(o, url);
    oocsi_options_set_logger(o, NULL, NULL);
    oocsi_options_set_connect_timeout(o, IT_TIMEOUT);
    oocsi_options_set_reconnect_delay(o, 50, 500);
    oocsi_options_set_state_handler(o, notify_state, NULL);
    int rc = oocsi_connect(out, o);
    oocsi_options_free(o);
    return rc;
}

/* Waits (bounded: a JVM starts slowly on a busy machine) until the port
 * accepts connections and a liboocsi client is welcomed. Between attempts it
 * waits on the server's exit, never blindly. */
static int wait_welcome(void)
{
    int64_t deadline = it_now_ms() + IT_JAVA_START_TIMEOUT;
    int listening = 0;
    while (js.pid > 0 && it_now_ms() < deadline) {
        if (!listening)
            listening = port_accepts(js.port);
        if (listening) {
            char h[64];
            it_unique(h, sizeof h, "it_probe");
            oocsi_client *c = NULL;
            if (java_connect(h, &c) == OOCSI_OK) {
                oocsi_close(c);
                return 0;
            }
        }
        int st = 0;
        if (it_wait_child(js.pid, 50, &st)) {
            fprintf(stderr, "the Java server exited (status %d) before welcoming a client\n", st);
            js.pid = 0;
        }
    }
    fprintf(stderr, "the Java server on port %d did not welcome a client within %d ms\n", js.port,
            IT_JAVA_START_TIMEOUT);
    show_log();
    it_java_stop();
    return -1;
}

/* The reference server decodes and encodes lines in the JVM's default
 * charset: ASCII under a C/POSIX locale on Java 17, which turns every
 * non-ASCII character into '?'. OOCSI is UTF-8; the children inherit it. */
static void java_utf8(void)
{
    const char *old = getenv("JAVA_TOOL_OPTIONS");
    if (old && strstr(old, "-Dfile.encoding="))
        return;
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%s-Dfile.encoding=UTF-8", old ? old : "", old ? " " : "");
    setenv("JAVA_TOOL_OPTIONS", opts, 1);
}

int it_java_start(const char *const *server_args)
{
    js.skip = it_java_skip_reason();
    if (js.skip)
        return 1;
    java_utf8();
    size_t n = 0;
    for (; server_args && server_args[n] && n < JAVA_MAX_ARGS; n++)
        js.args[n] = server_args[n];
    js.args[n] = NULL;
    js.port = it_free_port();
    snprintf(it_url, sizeof it_url, "tcp://127.0.0.1:%d", js.port);
    char exe[400] = "";
    ssize_t n_exe = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n_exe > 0 ? n_exe : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
        *slash = '\0';
        snprintf(js.log, sizeof js.log, "%s/%s.java-server.log", exe, slash + 1);
    } else {
        snprintf(js.log, sizeof js.log, "java-server.log");
    }
    unlink(js.log);
    spawn_server();
    return wait_welcome();
}

void it_java_stop(void)
{
    if (js.pid > 0 && js.stopped)
        kill(js.pid, SIGCONT);
    js.stopped = 0;
    if (js.observer) {
        oocsi_close(js.observer);
        js.observer = NULL;
    }
    it_java_kill();
}

void it_java_kill(void)
{
    if (js.pid > 0 && js.stopped)
        kill(js.pid, SIGCONT);
    js.stopped = 0;
    if (js.pid > 0)
        it_stop_child(js.pid, IT_TIMEOUT * 2, NULL);
    js.pid = 0;
}

static int observer_online(void *ctx)
{
    (void)ctx;
    return js.observer == NULL || oocsi_is_connected(js.observer);
}

int it_java_restart(void)
{
    it_java_kill();
    spawn_server();
    if (wait_welcome() != 0)
        return -1;
    /* The observer is back before anything asks it a question. */
    return it_wait_until(observer_online, NULL, IT_JAVA_START_TIMEOUT) ? 0 : -1;
}

int it_java_running(void)
{
    return js.pid > 0;
}

/* Group setup in java mode: the server, or exit IT_EXIT_SKIP saying why. */
int it__java_group_setup(void)
{
    if (strcmp(it_transport_name(), "tcp") != 0) {
        fprintf(stderr, "OOCSI_IT_SERVER=java runs over tcp only (OOCSI_IT_TRANSPORT=%s)\n", it_transport_name());
        return -1;
    }
    int rc = it_java_start(NULL);
    if (rc == 1) {
        fprintf(stderr, "SKIP: %s\n", js.skip);
        exit(IT_EXIT_SKIP);
    }
    return rc;
}

/* ------------------------------------------------- waits on the server */

static oocsi_client *observer(void)
{
    if (!js.observer) {
        char h[64];
        it_unique(h, sizeof h, "it_observer");
        int rc = java_connect(h, &js.observer);
        if (rc != OOCSI_OK)
            fail_msg("the observer client could not connect to the Java server: %s", oocsi_strerror(rc));
        assert_int_equal(oocsi_loop_start(js.observer), OOCSI_OK);
    }
    return js.observer;
}

/* 1 if list (a query answer, ", " or "," separated) holds name. */
static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        p += strspn(p, ", ");
        size_t len = strcspn(p, ",");
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

/* One query: 1 if the server lists handle (among channel's subscribers, or
 * among the clients when channel is NULL), 0 if not, -1 if it did not answer
 * within timeout_ms. */
static int java_lists(const char *handle, const char *channel, int timeout_ms)
{
    char *out = NULL;
    oocsi_client *o = observer();
    int rc = channel ? oocsi_channel_subscribers(o, channel, timeout_ms, &out) : oocsi_clients(o, timeout_ms, &out);
    if (rc != OOCSI_OK)
        return -1;
    int has = list_has(out, handle);
    oocsi_free(out);
    return has;
}

/* Queries until the server lists (want 1) or no longer lists (want 0)
 * handle, or timeout_ms passed (at least one query). Each round waits on the
 * query's answer; meanwhile the tracked caller-driven clients are driven. */
int it__java_wait_listed(const char *handle, const char *channel, int want, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - it_now_ms();
        int has = java_lists(handle, channel, left > IT_TIMEOUT ? (int)left : IT_TIMEOUT);
        if (has == want)
            return 1;
        left = deadline - it_now_ms();
        if (left <= 0)
            return 0;
        if (has < 0) /* offline (the server restarting): wait for the observer's reconnection */
            (void)it_wait_until(observer_online, NULL, (int)left);
        else
            it__pump(1);
    }
}

int it_wait_client_gone(oocsi_hub *h, const char *handle, int timeout_ms)
{
    if (h == NULL && it_server_is_java())
        return it__java_wait_listed(handle, NULL, 0, timeout_ms);
    return oocsi_hub_wait_client_gone(h, handle, timeout_ms);
}
