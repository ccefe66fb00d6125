/*
 * Child processes for integration tests that run the built programs (the
 * CLI, the examples): spawned with pipes on stdin, stdout and stderr, read
 * with poll-bounded waits, reaped with it_wait_child.
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
#include <unistd.h>
#include <pthread.h>
#include <sys/pidfd.h>

extern char **environ;

#define MAX_PROCS 16
static it_proc *g_procs[MAX_PROCS];

static void buf_append(it_buf *b, const char *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        assert_non_null(p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

const char *it_buf_text(const it_buf *b)
{
    return b->p ? b->p : "";
}

static void proc_free(it_proc *p)
{
    if (p == NULL)
        return;
    if (p->status < 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    if (p->out.fd >= 0)
        close(p->out.fd);
    if (p->err.fd >= 0)
        close(p->err.fd);
    free(p->out.p);
    free(p->err.p);
    free(p);
}

void it_proc_release(it_proc *p)
{
    for (size_t i = 0; i < MAX_PROCS; i++)
        if (g_procs[i] == p)
            g_procs[i] = NULL;
    proc_free(p);
}

static void cloexec_pipe(int fds[2])
{
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
}

it_proc *it_proc_startv(const char *path, const char *stdin_text, const char *const *args)
{
    const char *argv[48];
    size_t n = 0;
    argv[n++] = path;
    for (size_t i = 0; args[i] != NULL; i++) {
        assert_true(n + 1 < sizeof argv / sizeof argv[0]);
        argv[n++] = args[i];
    }
    argv[n] = NULL;

    int out[2], err[2], in[2];
    cloexec_pipe(out);
    cloexec_pipe(err);
    cloexec_pipe(in);
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);

    it_proc *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->status = -1;
    int rc = posix_spawn(&p->pid, path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    p->out.fd = out[0];
    p->err.fd = err[0];
    if (rc != 0) {
        close(in[1]);
        free(p);
        fail_msg("posix_spawn %s: %s", path, strerror(rc));
    }
    size_t slot = 0;
    while (slot < MAX_PROCS && g_procs[slot] != NULL)
        slot++;
    assert_true(slot < MAX_PROCS);
    g_procs[slot] = p;
    /* Small inputs fit in the pipe buffer: written at once, then EOF. */
    if (stdin_text != NULL)
        assert_int_equal(write(in[1], stdin_text, strlen(stdin_text)), (ssize_t)strlen(stdin_text));
    close(in[1]);
    return p;
}

/* Reads what is available from the child's pipes, waiting at most ms. */
static void proc_pump(it_proc *p, int ms)
{
    struct pollfd pfd[2];
    it_buf *bufs[2];
    nfds_t n = 0;
    if (p->out.fd >= 0) {
        pfd[n] = (struct pollfd){.fd = p->out.fd, .events = POLLIN};
        bufs[n++] = &p->out;
    }
    if (p->err.fd >= 0) {
        pfd[n] = (struct pollfd){.fd = p->err.fd, .events = POLLIN};
        bufs[n++] = &p->err;
    }
    if (n == 0)
        return;
    int r = poll(pfd, n, ms);
    if (r <= 0)
        return;
    for (nfds_t i = 0; i < n; i++) {
        if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        char chunk[4096];
        ssize_t got = read(pfd[i].fd, chunk, sizeof chunk);
        if (got > 0) {
            buf_append(bufs[i], chunk, (size_t)got);
        } else if (got == 0 || errno != EINTR) {
            close(bufs[i]->fd);
            bufs[i]->fd = -1;
        }
    }
}

int it_proc_wait_text(it_proc *p, int which, const char *needle, int timeout_ms)
{
    it_buf *b = which == 1 ? &p->out : &p->err;
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        if (strstr(it_buf_text(b), needle) != NULL)
            return 1;
        int64_t left = deadline - it_now_ms();
        if (left <= 0 || b->fd < 0)
            return 0;
        proc_pump(p, (int)left);
    }
}

int it_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

int it_proc_wait_lines(it_proc *p, int lines, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        if (it_count_lines(it_buf_text(&p->out)) >= lines)
            return 1;
        int64_t left = deadline - it_now_ms();
        if (left <= 0 || p->out.fd < 0)
            return 0;
        proc_pump(p, (int)left);
    }
}

int it_proc_wait_exit(it_proc *p, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    while (p->out.fd >= 0 || p->err.fd >= 0) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            fail_msg("the child did not exit within %d ms; stdout:\n%s\nstderr:\n%s", timeout_ms, it_buf_text(&p->out),
                     it_buf_text(&p->err));
        proc_pump(p, (int)left);
    }
    /* Both pipes are closed: the child is exiting. Reap it (bounded). */
    int st = 0;
    int64_t left = deadline - it_now_ms();
    if (!it_wait_child(p->pid, left > 0 ? (int)left : 0, &st))
        fail_msg("the child closed its output but did not exit within %d ms", timeout_ms);
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return p->status;
}

void it_proc_keep(it_proc *p)
{
    for (size_t i = 0; i < MAX_PROCS; i++)
        if (g_procs[i] == p)
            g_procs[i] = NULL;
}

void it_proc_free_all(void)
{
    for (size_t i = 0; i < MAX_PROCS; i++) {
        proc_free(g_procs[i]);
        g_procs[i] = NULL;
    }
}

/* ---------------------------------------------------------- waiting for children */

/* Where pidfd_open() is missing (e.g. under valgrind, which does not know the
 * system call), a thread blocks in waitpid() and reports the exit through a
 * pipe: still an event, never a polling sleep. A waiter outlives a timeout
 * so a later call (after SIGKILL) picks up the same exit. */
typedef struct child_waiter {
    int pid;
    int fds[2];
    pthread_t thread;
} child_waiter;

static pthread_mutex_t g_child_lock = PTHREAD_MUTEX_INITIALIZER;
static child_waiter *g_child_waiters[16];

static void *child_wait_main(void *arg)
{
    child_waiter *w = arg;
    int st = 0;
    while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR) {
    }
    ssize_t n = write(w->fds[1], &st, sizeof st);
    (void)n;
    return NULL;
}

static child_waiter *child_waiter_for(int pid)
{
    pthread_mutex_lock(&g_child_lock);
    child_waiter *w = NULL;
    int slot = -1;
    for (int i = 0; i < 16; i++) {
        if (g_child_waiters[i] && g_child_waiters[i]->pid == pid)
            w = g_child_waiters[i];
        else if (!g_child_waiters[i] && slot < 0)
            slot = i;
    }
    if (!w && slot >= 0 && (w = calloc(1, sizeof *w)) != NULL) {
        w->pid = pid;
        if (pipe(w->fds) != 0 || pthread_create(&w->thread, NULL, child_wait_main, w) != 0) {
            free(w);
            w = NULL;
        } else {
            g_child_waiters[slot] = w;
        }
    }
    pthread_mutex_unlock(&g_child_lock);
    return w;
}

static void child_waiter_done(child_waiter *w)
{
    pthread_mutex_lock(&g_child_lock);
    for (int i = 0; i < 16; i++)
        if (g_child_waiters[i] == w)
            g_child_waiters[i] = NULL;
    pthread_mutex_unlock(&g_child_lock);
    pthread_join(w->thread, NULL);
    close(w->fds[0]);
    close(w->fds[1]);
    free(w);
}

static int wait_readable(int fd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - it_now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return 1;
        if (r == 0 || errno != EINTR)
            return 0;
    }
}

int it_wait_child(int pid, int timeout_ms, int *status)
{
    int st = 0;
    int64_t deadline = it_now_ms() + timeout_ms;
    int fd = pidfd_open(pid, 0);
    if (fd >= 0) {
        int exited = 0;
        for (;;) {
            if (waitpid(pid, &st, WNOHANG) == pid) {
                exited = 1;
                break;
            }
            if (!wait_readable(fd, deadline) && waitpid(pid, &st, WNOHANG) != pid)
                break;
        }
        close(fd);
        if (exited && status)
            *status = st;
        return exited;
    }
    child_waiter *w = child_waiter_for(pid);
    if (!w || !wait_readable(w->fds[0], deadline))
        return 0;
    if (read(w->fds[0], &st, sizeof st) != (ssize_t)sizeof st)
        st = 0;
    child_waiter_done(w);
    if (status)
        *status = st;
    return 1;
}

int it_stop_child(int pid, int timeout_ms, int *status)
{
    kill(pid, SIGTERM);
    if (it_wait_child(pid, timeout_ms, status))
        return 1;
    kill(pid, SIGKILL);
    (void)it_wait_child(pid, 10000, NULL);
    return 0;
}

int it_proc_port_after(it_proc *p, const char *marker, int timeout_ms)
{
    if (!it_proc_wait_text(p, 1, marker, timeout_ms)) {
        fail_msg("no \"%s\" on stdout: \"%s\" (stderr \"%s\")", marker, it_buf_text(&p->out), it_buf_text(&p->err));
    }
    const char *t = strstr(it_buf_text(&p->out), marker), *colon = NULL;
    for (const char *q = t; *q && *q != '\n'; q++) {
        if (*q == ':') {
            colon = q;
        }
    }
    int port = colon ? atoi(colon + 1) : 0;
    assert_true(port > 0);
    return port;
}

int it_have_program(const char *name)
{
    const char *path = getenv("PATH");
    char buf[512];
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
        if (n > 0 && access(buf, X_OK) == 0) {
            return 1;
        }
        path = end ? end + 1 : NULL;
    }
    return 0;
}
