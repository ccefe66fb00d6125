/*
 * Connecting: oocsi_connect() (until it returns, i.e. welcomed) next to a raw
 * connect + hello + welcome over the same loopback path, in the same run.
 *
 *   bench_connect [N]      N connects per side (default 500), interleaved
 *
 * The hub runs in a forked child process. Each iteration connects once with
 * each side (the order alternates), each with a fresh handle; closing is not
 * timed. p50/p99 in microseconds.
 *
 * System calls per connect: a child process does 1 + 10 connects of each
 * kind under ptrace (this program is the tracer); the calls made by every
 * thread of the child between two marker calls (getppid, which neither side
 * makes otherwise) around each connect are counted, the first connect (lazy
 * binding, first allocations) left out. Without ptrace (a container that
 * forbids it) the counts say n/a.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "oocsi/oocsi.h"

#define TRACE_ROUNDS 10
#define MAX_NR 512

static oocsi_options *lib_options(int port)
{
    char url[64];
    oocsi_options *o = oocsi_options_new();
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    if (o) {
        oocsi_options_add_endpoint(o, url);
        oocsi_options_set_logger(o, NULL, NULL);
    }
    return o;
}

/* One timed connect of the given kind; the client (lib) is closed after the
 * clock stopped. Returns microseconds, or -1. */
static double timed_connect(int lib, int port, oocsi_options *o, const char *handle)
{
    int64_t t0, t1;
    if (lib) {
        oocsi_client *c = NULL;
        oocsi_options_set_handle(o, handle);
        t0 = bench_now_ns();
        int rc = oocsi_connect(&c, o);
        t1 = bench_now_ns();
        if (rc != OOCSI_OK) {
            fprintf(stderr, "oocsi_connect: %s\n", oocsi_strerror(rc));
            return -1;
        }
        oocsi_close(c);
    } else {
        bench_raw r;
        t0 = bench_now_ns();
        int rc = bench_raw_connect(&r, port, handle, 5000);
        t1 = bench_now_ns();
        if (rc != 0) {
            fprintf(stderr, "raw connect failed\n");
            return -1;
        }
        bench_raw_close(&r);
    }
    return (double)(t1 - t0) / 1000.0;
}

/* ------------------------------------------------------------ tracing */

static void traced_child(int lib, int port)
{
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) {
        _exit(3);
    }
    raise(SIGSTOP);
    oocsi_options *o = lib_options(port);
    for (int i = 0; i <= TRACE_ROUNDS; i++) {
        char handle[64];
        snprintf(handle, sizeof handle, "bct_%d_%ld_%d", lib, (long)getpid(), i);
        syscall(SYS_getppid);
        int ok;
        oocsi_client *c = NULL;
        bench_raw r;
        if (lib) {
            oocsi_options_set_handle(o, handle);
            ok = oocsi_connect(&c, o) == OOCSI_OK;
        } else {
            ok = bench_raw_connect(&r, port, handle, 5000) == 0;
        }
        syscall(SYS_getppid);
        if (lib) {
            oocsi_close(c);
        } else if (ok) {
            bench_raw_close(&r);
        }
        if (!ok) {
            _exit(4);
        }
    }
    oocsi_options_free(o);
    _exit(0);
}

/* Counts the system calls per connect of one kind; counts[nr] per connect
 * (x TRACE_ROUNDS). Returns the total per connect, or -1. */
static double count_syscalls(int lib, int port, long counts[MAX_NR])
{
    memset(counts, 0, sizeof(long) * MAX_NR);
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        return -1;
    }
    if (child == 0) {
        traced_child(lib, port);
    }
    int st;
    if (waitpid(child, &st, 0) != child || !WIFSTOPPED(st)) {
        return -1;
    }
    if (ptrace(PTRACE_SETOPTIONS, child, NULL,
               (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL)) != 0) {
        kill(child, SIGKILL);
        waitpid(child, &st, 0);
        return -1;
    }
    ptrace(PTRACE_SYSCALL, child, NULL, NULL);
    int markers = 0; /* 2 per connect; counting between odd and even */
    long total = 0;
    int child_rc = -1;
    for (;;) {
        pid_t t = waitpid(-1, &st, __WALL);
        if (t < 0) {
            break;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (t == child) {
                child_rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
                break;
            }
            continue;
        }
        int sig = 0;
        if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
            struct __ptrace_syscall_info info;
            memset(&info, 0, sizeof info);
            if (ptrace(PTRACE_GET_SYSCALL_INFO, t, (void *)sizeof info, &info) > 0 &&
                info.op == PTRACE_SYSCALL_INFO_ENTRY) {
                long nr = (long)info.entry.nr;
                if (nr == SYS_getppid) {
                    markers++;
                } else if (markers % 2 == 1 && markers > 2) { /* inside a connect, not the first */
                    total++;
                    if (nr >= 0 && nr < MAX_NR) {
                        counts[nr]++;
                    }
                }
            }
        } else if (WSTOPSIG(st) != SIGTRAP && WSTOPSIG(st) != SIGSTOP) {
            sig = WSTOPSIG(st); /* a real signal: pass it on */
        }
        ptrace(PTRACE_SYSCALL, t, NULL, (void *)(long)sig);
    }
    if (child_rc != 0) {
        fprintf(stderr, "traced %s child failed (%d)\n", lib ? "liboocsi" : "raw", child_rc);
        return -1;
    }
    return (double)total / TRACE_ROUNDS;
}

static const struct {
    long nr;
    const char *name;
} names[] = {
    {SYS_socket, "socket"},
    {SYS_connect, "connect"},
    {SYS_setsockopt, "setsockopt"},
    {SYS_getsockopt, "getsockopt"},
    {SYS_fcntl, "fcntl"},
    {SYS_poll, "poll"},
    {SYS_ppoll, "ppoll"},
    {SYS_read, "read"},
    {SYS_write, "write"},
    {SYS_sendto, "sendto"},
    {SYS_recvfrom, "recvfrom"},
    {SYS_close, "close"},
    {SYS_eventfd2, "eventfd2"},
    {SYS_pipe2, "pipe2"},
    {SYS_getrandom, "getrandom"},
    {SYS_futex, "futex"},
    {SYS_openat, "openat"},
    {SYS_newfstatat, "newfstatat"},
    {SYS_mmap, "mmap"},
    {SYS_munmap, "munmap"},
    {SYS_brk, "brk"},
    {SYS_clock_gettime, "clock_gettime"},
    {SYS_getpid, "getpid"},
    {SYS_gettid, "gettid"},
    {SYS_rt_sigprocmask, "rt_sigprocmask"},
    {SYS_rt_sigaction, "rt_sigaction"},
    {SYS_getsockname, "getsockname"},
    {SYS_getpeername, "getpeername"},
    {SYS_ioctl, "ioctl"},
    {SYS_clone, "clone"},
#ifdef SYS_clone3
    {SYS_clone3, "clone3"},
#endif
    {SYS_bind, "bind"},
    {SYS_uname, "uname"},
};

static void print_counts(const char *who, double per, const long counts[MAX_NR])
{
    printf("%s: %.1f system calls per connect:", who, per);
    for (long nr = 0; nr < MAX_NR; nr++) {
        if (!counts[nr]) {
            continue;
        }
        const char *name = NULL;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (names[i].nr == nr) {
                name = names[i].name;
            }
        }
        if (name) {
            printf(" %s %.1f", name, (double)counts[nr] / TRACE_ROUNDS);
        } else {
            printf(" #%ld %.1f", nr, (double)counts[nr] / TRACE_ROUNDS);
        }
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    long n = bench_arg_long(argc, argv, 1, 500);
    bench_child_hub hub;
    if (bench_child_hub_start(&hub, 0) != 0) {
        fprintf(stderr, "cannot start the hub\n");
        return 1;
    }
    static long raw_counts[MAX_NR], lib_counts[MAX_NR];
    double raw_sys = count_syscalls(0, hub.port, raw_counts);
    double lib_sys = raw_sys >= 0 ? count_syscalls(1, hub.port, lib_counts) : -1;

    double *vr = calloc((size_t)n, sizeof(double));
    double *vl = calloc((size_t)n, sizeof(double));
    oocsi_options *o = lib_options(hub.port);
    long done = 0;
    int failed = !vr || !vl || !o;
    for (long i = 0; !failed && i < n + 10; i++) {
        char hr[64], hl[64];
        snprintf(hr, sizeof hr, "bc_raw_%ld_%ld", (long)getpid(), i);
        snprintf(hl, sizeof hl, "bc_lib_%ld_%ld", (long)getpid(), i);
        double r, l;
        if (i % 2) {
            r = timed_connect(0, hub.port, o, hr);
            l = timed_connect(1, hub.port, o, hl);
        } else {
            l = timed_connect(1, hub.port, o, hl);
            r = timed_connect(0, hub.port, o, hr);
        }
        if (r < 0 || l < 0) {
            failed = 1;
            break;
        }
        if (i >= 10) { /* the first ten warm up */
            vr[done] = r;
            vl[done] = l;
            done++;
        }
    }
    oocsi_options_free(o);
    bench_child_hub_stop(&hub);
    if (failed || done == 0) {
        free(vr);
        free(vl);
        return 1;
    }
    double r50 = bench_percentile(vr, (size_t)done, 50), r99 = bench_percentile(vr, (size_t)done, 99);
    double l50 = bench_percentile(vl, (size_t)done, 50), l99 = bench_percentile(vl, (size_t)done, 99);
    free(vr);
    free(vl);
    printf("connect until welcomed, %ld per side, interleaved\n", done);
    printf("raw connect+hello+welcome   p50=%8.1f us  p99=%8.1f us\n", r50, r99);
    printf("oocsi_connect               p50=%8.1f us  p99=%8.1f us\n", l50, l99);
    if (raw_sys >= 0 && lib_sys >= 0) {
        print_counts("raw", raw_sys, raw_counts);
        print_counts("liboocsi", lib_sys, lib_counts);
    } else {
        printf("system calls: n/a (ptrace not allowed here)\n");
    }
    double ratio = l50 / r50;
    char ls[32] = "n/a", rs[32] = "n/a";
    if (raw_sys >= 0 && lib_sys >= 0) {
        snprintf(ls, sizeof ls, "%.0f", lib_sys);
        snprintf(rs, sizeof rs, "%.0f", raw_sys);
    }
    printf("ROW|4|connect until welcomed: p50 / p99 (us); system calls|%.1f / %.1f; %s|%.1f / %.1f; %s|-|-|"
           "p50 <= 1.5x raw|%s|%.2fx raw p50; %s vs %s system calls|\n",
           l50, l99, ls, r50, r99, rs, ratio <= 1.5 ? "yes" : "no", ratio, ls, rs);
    return 0;
}
