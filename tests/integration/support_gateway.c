/* The oocsi-gateway as a child process of a test (see support_gateway.h). */
#define _XOPEN_SOURCE 700
#include "support_gateway.h"

#include "support.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GW_MAX 8
#define GW_PORT_WAIT_MS 10000

static pid_t running[GW_MAX]; /* gateways a failing test leaves behind */

static void track(pid_t pid, int on)
{
    for (int i = 0; i < GW_MAX; i++) {
        if (on && !running[i]) {
            running[i] = pid;
            return;
        }
        if (!on && running[i] == pid) {
            running[i] = 0;
        }
    }
}

void it_gw_kill_all(void)
{
    for (int i = 0; i < GW_MAX; i++) {
        if (running[i]) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
    }
}

/* The first line the child writes to fd, bounded by the deadline. */
static void first_line(int fd, char *line, size_t cap)
{
    size_t len = 0;
    int64_t dl = it_now_ms() + (int64_t)GW_PORT_WAIT_MS * it_slowdown();
    while (len + 1 < cap && it_now_ms() < dl) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(dl - it_now_ms())) <= 0) {
            continue;
        }
        if (read(fd, line + len, 1) <= 0) {
            break;
        }
        if (line[len++] == '\n') {
            break;
        }
    }
    line[len] = '\0';
}

void it_gw_start(it_gw *g, const char *exe, const char *const *args)
{
    const char *argv[48];
    int n = 0;
    argv[n++] = exe;
    for (int i = 0; args && args[i]; i++) {
        assert_true(n < 47);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *old = getenv("ASAN_OPTIONS");
        char asan[512];
        snprintf(asan, sizeof asan, "%s%squarantine_size_mb=8", old ? old : "", old && *old ? ":" : "");
        setenv("ASAN_OPTIONS", asan, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[256];
    first_line(fds[0], line, sizeof line);
    close(fds[0]);
    const char *colon = strrchr(line, ':');
    g->pid = pid;
    g->port = colon ? atoi(colon + 1) : 0;
    track(pid, 1);
    if (g->port <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        track(pid, 0);
        g->pid = 0;
        fail_msg("the gateway did not report its port (got \"%s\")", line);
    }
}

void it_gw_stop(it_gw *g)
{
    if (g->pid <= 0) {
        return;
    }
    pid_t pid = g->pid;
    int status = 0;
    int ended = it_stop_child(pid, 15000 * it_slowdown(), &status);
    track(pid, 0);
    g->pid = 0;
    if (!ended) {
        fail_msg("the gateway did not exit on SIGTERM");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail_msg("the gateway exited with status %d (signal %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
}

long it_gw_rss_kb(const it_gw *g)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)g->pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kb;
}
