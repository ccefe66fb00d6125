/*
 * Gateway at scale: one oocsi-gateway holding N browser WebSocket connections,
 * each with its own upstream liboocsi client, against an oocsi-hub.
 *
 *   bench_gateway [--quick] [N] [--gateway PATH] [--hub PATH]
 *
 * N browsers (default 10000; --quick: 200) are raw WebSocket clients in this
 * process: non-blocking sockets on one epoll set, at most WINDOW connections
 * being set up at a time. Each says its handle and waits for the gateway's
 * welcome (its upstream client is connected then), answers the gateway's
 * "ping" frames, and a sample of them subscribes to one channel. Figures:
 *  - memory per browser: (gateway VmRSS with all welcomed - VmRSS before the
 *    first browser) / N;
 *  - setup rate: N / (first connect -> last welcome);
 *  - latency: a raw line-protocol client sends one message at a time to the
 *    channel (sendraw); p50/p99 over every (message, sampled browser) of
 *    send -> arrival in this process (one monotonic clock).
 * The hub and the gateway are the built programs, started as children with
 * the descriptor limit raised (hard limit too when running as root). It
 * prints figures and never fails on a time; it fails when not every browser
 * was welcomed or a sampled browser missed a message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

#ifndef BENCH_GATEWAY_PATH
#define BENCH_GATEWAY_PATH "oocsi-gateway"
#endif
#ifndef BENCH_HUB_PATH
#define BENCH_HUB_PATH "oocsi-hub"
#endif

#define WINDOW 256     /* connections being set up at once */
#define RBUF 2048      /* receive buffer of a browser (messages are small) */
#define MAX_SAMPLE 100 /* browsers that subscribe and time messages */
#define CHANNEL "gwbench"
#define GW_OWN_FDS 64 /* descriptors of the gateway besides its sessions */

enum { C_CONNECTING, C_UPGRADING, C_HELLO, C_WELCOMED, C_DEAD };

typedef struct browser {
    int fd, state, sample;
    size_t rlen;
    long last_i; /* last message number received (sample) */
    char rbuf[RBUF];
} browser;

static browser *br;
static long n_br, n_welcomed, n_dead;
static int ep = -1, gw_port;
static double *lat;
static size_t n_lat;
static int64_t *sent_at;
static long n_msgs;

/* ------------------------------------------------------- child programs */

typedef struct child {
    pid_t pid;
    int out; /* its stdout */
} child;

/* Starts argv with stdout on a pipe and waits (timeout_ms) for a line
 * containing key; the port is the number after the last ':' before the
 * first '/' following key's position, or after the last ':' of the line. */
static int child_start(child *c, char *const argv[], const char *key, int timeout_ms, int *port)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        fprintf(stderr, "bench_gateway: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    c->out = p[0];
    char line[1024];
    size_t len = 0;
    int64_t end = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    while (bench_now_ns() < end && len < sizeof line - 1) {
        struct pollfd pf = {c->out, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t n = read(c->out, line + len, 1);
        if (n <= 0)
            return -1;
        if (line[len] != '\n') {
            len++;
            continue;
        }
        line[len] = '\0';
        len = 0;
        if (!strstr(line, key))
            continue;
        /* "…:PORT" or "…:PORT/…": the first such number after key */
        for (char *q = strstr(line, key); (q = strchr(q, ':')) != NULL; q++) {
            char *e;
            long v = strtol(q + 1, &e, 10);
            if (e > q + 1 && v > 0 && v < 65536 && (*e == '\0' || *e == '/' || *e == ' ')) {
                *port = (int)v;
                return 0;
            }
        }
    }
    return -1;
}

static void child_stop(child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    int st;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            c->pid = -1;
            break;
        }
        bench_sleep_ms(10);
    }
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, &st, 0);
    }
    close(c->out);
}

static long proc_status_of(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    if (f)
        fclose(f);
    return v;
}

/* ------------------------------------------------------------ browsers */

/* A masked client frame (opcode op) with payload p. 0 or -1. */
static int ws_send(browser *b, int op, const char *p, size_t n)
{
    unsigned char f[256 + 14];
    static const unsigned char key[4] = {0x3a, 0x5c, 0x19, 0xe7};
    if (n > 256)
        return -1;
    size_t h = 0;
    f[h++] = (unsigned char)(0x80 | op);
    f[h++] = (unsigned char)(0x80 | n); /* n <= 125 here or 126.. below */
    if (n > 125) {
        f[h - 1] = 0x80 | 126;
        f[h++] = (unsigned char)(n >> 8);
        f[h++] = (unsigned char)n;
    }
    memcpy(f + h, key, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        f[h + i] = (unsigned char)p[i] ^ key[i & 3];
    /* small writes on a socket whose buffer is nearly empty: all or nothing */
    return send(b->fd, f, h + n, MSG_NOSIGNAL) == (ssize_t)(h + n) ? 0 : -1;
}

static void kill_browser(browser *b)
{
    if (b->state == C_DEAD)
        return;
    if (b->state == C_WELCOMED)
        n_welcomed--;
    b->state = C_DEAD;
    n_dead++;
    if (b->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, b->fd, NULL);
        close(b->fd);
        b->fd = -1;
    }
}

static int open_browser(long i)
{
    browser *b = &br[i];
    b->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (b->fd < 0) {
        fprintf(stderr, "bench_gateway: socket: %s (browser %ld)\n", strerror(errno), i);
        b->state = C_CONNECTING;
        kill_browser(b);
        return -1;
    }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)gw_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    b->state = C_CONNECTING;
    if (connect(b->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        kill_browser(b);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, b->fd, &ev);
    return 0;
}

static void on_text(browser *b, const char *t, size_t n)
{
    if (b->state == C_HELLO) {
        if (memmem(t, n, "welcome", 7)) {
            b->state = C_WELCOMED;
            n_welcomed++;
        } else {
            fprintf(stderr, "bench_gateway: refused: %.*s\n", (int)n, t);
        }
        return;
    }
    if (n == 4 && !memcmp(t, "ping", 4)) {
        if (ws_send(b, 1, ".", 1) != 0)
            kill_browser(b);
        return;
    }
    const char *k = memmem(t, n, "\"i\":", 4);
    if (k && b->sample) {
        int64_t now = bench_now_ns();
        long i = strtol(k + 4, NULL, 10); /* -1: a probe, then 0, 1, ... */
        if (i > b->last_i) {
            if (i >= 0 && i < n_msgs)
                lat[n_lat++] = (double)(now - sent_at[i]) / 1000.0;
            b->last_i = i;
        }
    }
}

static void on_event(long i, uint32_t events)
{
    browser *b = &br[i];
    if (b->state == C_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (events & (EPOLLERR | EPOLLHUP))) {
            kill_browser(b);
            return;
        }
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         gw_port);
        if (send(b->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
            kill_browser(b);
            return;
        }
        b->state = C_UPGRADING;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, b->fd, &ev);
        return;
    }
    for (;;) {
        ssize_t n = recv(b->fd, b->rbuf + b->rlen, RBUF - b->rlen, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            kill_browser(b);
            return;
        }
        if (n < 0)
            break;
        b->rlen += (size_t)n;
        size_t off = 0;
        if (b->state == C_UPGRADING) {
            char *e = memmem(b->rbuf, b->rlen, "\r\n\r\n", 4);
            if (!e) {
                if (b->rlen == RBUF)
                    kill_browser(b);
                continue;
            }
            if (memcmp(b->rbuf, "HTTP/1.1 101", 12) != 0) {
                kill_browser(b);
                return;
            }
            off = (size_t)(e + 4 - b->rbuf);
            char hello[32];
            int hl = snprintf(hello, sizeof hello, "gwb%ld", i);
            b->state = C_HELLO;
            if (ws_send(b, 1, hello, (size_t)hl) != 0) {
                kill_browser(b);
                return;
            }
        }
        /* server frames: unmasked, payload length 7, 16 or 64 bits */
        while (b->rlen - off >= 2) {
            unsigned char *f = (unsigned char *)b->rbuf + off;
            size_t h = 2, len = f[1] & 0x7f;
            if (len == 126) {
                if (b->rlen - off < 4)
                    break;
                len = ((size_t)f[2] << 8) | f[3];
                h = 4;
            } else if (len == 127) {
                kill_browser(b); /* never this long here */
                return;
            }
            if (h + len > RBUF) {
                kill_browser(b);
                return;
            }
            if (b->rlen - off < h + len)
                break;
            int op = f[0] & 0x0f;
            if (op == 1) {
                on_text(b, (char *)f + h, len);
            } else if (op == 9) {
                if (ws_send(b, 10, (char *)f + h, len) != 0) {
                    kill_browser(b);
                    return;
                }
            } else if (op == 8) {
                kill_browser(b);
                return;
            }
            if (b->state == C_DEAD)
                return;
            off += h + len;
        }
        memmove(b->rbuf, b->rbuf + off, b->rlen - off);
        b->rlen -= off;
    }
}

/* Runs the browsers' events for up to ms milliseconds. */
static void pump(int ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(ep, evs, 512, ms);
    for (int k = 0; k < n; k++)
        if (br[evs[k].data.u64].state != C_DEAD)
            on_event((long)evs[k].data.u64, evs[k].events);
}

/* ---------------------------------------------------------------- main */

/* Raises this process's descriptor limit (the hub and the gateway inherit
 * it): the hard limit too when allowed (root with CAP_SYS_RESOURCE), else
 * the soft one to the hard one. Returns the resulting limit. */
static long raise_fd_limit(long need)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need) {
        struct rlimit want = {(rlim_t)need, (rlim_t)need};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("descriptor limit of this process, the hub and the gateway: %llu (wanted %ld)\n",
           (unsigned long long)rl.rlim_cur, need);
    return rl.rlim_cur > (rlim_t)LONG_MAX / 2 ? LONG_MAX / 2 : (long)rl.rlim_cur;
}

int main(int argc, char **argv)
{
    const char *gw_path = BENCH_GATEWAY_PATH, *hub_path = BENCH_HUB_PATH;
    n_br = 10000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            n_br = 200;
        } else if (!strcmp(argv[i], "--gateway") && i + 1 < argc) {
            gw_path = argv[++i];
        } else if (!strcmp(argv[i], "--hub") && i + 1 < argc) {
            hub_path = argv[++i];
        } else if (atol(argv[i]) > 0) {
            n_br = atol(argv[i]);
        } else {
            fprintf(stderr, "usage: bench_gateway [--quick] [N] [--gateway PATH] [--hub PATH]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    long limit = raise_fd_limit(2 * n_br + 4096);
    /* the gateway holds two descriptors per browser (its socket and the
     * upstream client's) plus a few of its own */
    long fit = (limit - GW_OWN_FDS) / 2;
    if (n_br > fit) {
        printf("only %ld browsers fit in one gateway under the descriptor limit %ld (2 per browser + %d); "
               "running %ld instead of %ld\n",
               fit, limit, GW_OWN_FDS, fit, n_br);
        n_br = fit;
    }
    long sample = n_br < MAX_SAMPLE ? n_br : MAX_SAMPLE;
    n_msgs = n_br <= 1000 ? 50 : 200;
    br = calloc((size_t)n_br, sizeof *br);
    lat = calloc((size_t)(sample * n_msgs + 1), sizeof *lat);
    sent_at = calloc((size_t)n_msgs, sizeof *sent_at);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!br || !lat || !sent_at || ep < 0)
        return 1;
    for (long i = 0; i < n_br; i++)
        br[i].fd = -1;

    char cap[32], gw_cap[32], port_s[16], url[64];
    snprintf(cap, sizeof cap, "%ld", n_br + 64);
    snprintf(gw_cap, sizeof gw_cap, "%ld", n_br);
    char *hub_argv[] = {(char *)hub_path,  "--port", "0", "--max-conns-per-addr", cap, "--max-pending-hellos", cap,
                        "--hello-timeout", "60000",  NULL};
    child hub = {-1, -1}, gw = {-1, -1};
    int hub_port = 0, rc = 1;
    if (child_start(&hub, hub_argv, "listening", 10000, &hub_port) != 0) {
        fprintf(stderr, "bench_gateway: the hub (%s) did not start\n", hub_path);
        return 1;
    }
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", hub_port);
    snprintf(port_s, sizeof port_s, "0");
    char *gw_argv[] = {(char *)gw_path,
                       "--port",
                       port_s,
                       "--url",
                       url,
                       "--www",
                       "",
                       "--no-http-api",
                       "--max-clients",
                       cap,
                       "--max-per-address",
                       cap,
                       "--connect-timeout",
                       "30000",
                       NULL};
    if (child_start(&gw, gw_argv, "listening", 10000, &gw_port) != 0) {
        fprintf(stderr, "bench_gateway: the gateway (%s) did not start\n", gw_path);
        child_stop(&hub);
        return 1;
    }
    bench_sleep_ms(200); /* let the gateway settle before the baseline reading */
    long rss0 = bench_rss_kb_of(gw.pid), hub_rss0 = bench_rss_kb_of(hub.pid);
    printf("gateway %s (pid %d) on port %d, hub %s on port %d; %ld browsers, %ld sampled, %ld messages\n", gw_path,
           (int)gw.pid, gw_port, hub_path, hub_port, n_br, sample, n_msgs);

    /* --- setup: at most WINDOW connections in progress */
    int64_t t0 = bench_now_ns(), last_progress = t0;
    long opened = 0, seen = 0;
    while (n_welcomed + n_dead < n_br) {
        while (opened < n_br && opened - n_welcomed - n_dead < WINDOW)
            open_browser(opened++);
        pump(100);
        if (n_welcomed + n_dead != seen) {
            seen = n_welcomed + n_dead;
            last_progress = bench_now_ns();
        } else if (bench_now_ns() - last_progress > 30000000000LL) {
            fprintf(stderr, "bench_gateway: no progress for 30 s\n");
            break;
        }
    }
    int64_t t1 = bench_now_ns();
    long welcomed = n_welcomed;
    double setup_s = (double)(t1 - t0) / 1e9;
    bench_sleep_ms(500);
    for (int k = 0; k < 5; k++)
        pump(10);
    long rss1 = bench_rss_kb_of(gw.pid), hub_rss1 = bench_rss_kb_of(hub.pid);
    long threads = proc_status_of(gw.pid, "Threads");
    char lim[64], lline[256];
    snprintf(lim, sizeof lim, "/proc/%d/limits", (int)gw.pid);
    FILE *lf = fopen(lim, "r");
    while (lf && fgets(lline, sizeof lline, lf))
        if (!strncmp(lline, "Max open files", 14))
            printf("gateway's %s", lline);
    if (lf)
        fclose(lf);
    printf("welcomed %ld of %ld browsers in %.2f s (%ld failed)\n", welcomed, n_br, setup_s, n_dead);
    printf("gateway VmRSS %ld KiB before, %ld KiB with the browsers; %ld threads; hub VmRSS %ld -> %ld KiB\n", rss0,
           rss1, threads, hub_rss0, hub_rss1);

    /* --- latency: a sample of the welcomed browsers subscribes; probes
     * until all of them receive */
    long *pick = calloc((size_t)sample + 1, sizeof *pick), n_pick = 0;
    long step = welcomed > sample ? welcomed / sample : 1;
    for (long i = 0, w = 0; pick && i < n_br && n_pick < sample; i++) {
        if (br[i].state != C_WELCOMED || w++ % step)
            continue;
        browser *b = &br[i];
        b->sample = 1;
        b->last_i = -2;
        pick[n_pick++] = i;
        if (ws_send(b, 1, "subscribe " CHANNEL, strlen("subscribe " CHANNEL)) != 0)
            kill_browser(b);
    }
    bench_raw pub;
    int ok = n_pick > 0 && bench_raw_connect(&pub, hub_port, "gwbench_pub", 10000) == 0;
    int ready = 0;
    char line[256];
    for (int64_t end = bench_now_ns() + 60000000000LL; ok && !ready && bench_now_ns() < end;) {
        int n = snprintf(line, sizeof line, "sendraw " CHANNEL " {\"i\":-1}\n");
        bench_raw_write(&pub, line, (size_t)n);
        for (int k = 0; k < 10; k++)
            pump(10);
        ready = 1;
        for (long k = 0; k < n_pick; k++)
            ready &= br[pick[k]].last_i >= -1;
    }
    int missed = 0;
    for (long i = 0; ready && i < n_msgs; i++) {
        int n = snprintf(line, sizeof line, "sendraw " CHANNEL " {\"i\":%ld}\n", i);
        sent_at[i] = bench_now_ns();
        bench_raw_write(&pub, line, (size_t)n);
        int64_t end = bench_now_ns() + 10000000000LL;
        int all = 0;
        while (!all && bench_now_ns() < end) {
            pump(5);
            all = 1;
            for (long k = 0; k < n_pick; k++)
                all &= br[pick[k]].last_i >= i;
        }
        missed |= !all;
    }
    if (ok)
        bench_raw_close(&pub);
    free(pick);
    double p50 = n_lat ? bench_percentile(lat, n_lat, 50) : 0, p99 = n_lat ? bench_percentile(lat, n_lat, 99) : 0;
    printf("latency C client -> hub -> gateway -> browser, %zu arrivals: p50 %.0f us, p99 %.0f us%s\n", n_lat, p50, p99,
           ready ? "" : " (subscriptions never confirmed)");
    double per_conn = welcomed ? (double)(rss1 - rss0) / (double)welcomed : 0;
    double rate = setup_s > 0 ? (double)welcomed / setup_s : 0;
    printf("ROW|5|gateway, %ld browsers: memory per browser connection (gateway RSS growth / browsers)|%.1f KiB "
           "(+%ld KiB, %ld threads)|-|bounded|%s|\n",
           welcomed, per_conn, rss1 - rss0, threads, welcomed == n_br ? "yes" : "no");
    printf("ROW|5|gateway, %ld browsers: connection setup rate (until all welcomed)|%.0f/s (%.2f s)|-|-|-|\n", welcomed,
           rate, setup_s);
    printf("ROW|5|gateway, %ld browsers: message latency C client -> hub -> gateway -> %ld browsers, p50; p99|%.0f "
           "us; %.0f us|-|-|-|\n",
           welcomed, n_pick, p50, p99);
    rc = (welcomed == n_br && ready && !missed) ? 0 : 1;
    if (rc)
        fprintf(stderr, "bench_gateway: %ld of %ld welcomed, subscriptions %s, %s\n", welcomed, n_br,
                ready ? "confirmed" : "not confirmed", missed ? "messages missed" : "no message missed");
    for (long i = 0; i < n_br; i++)
        if (br[i].fd >= 0)
            close(br[i].fd);
    child_stop(&gw);
    child_stop(&hub);
    return rc;
}
