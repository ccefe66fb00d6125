/* Shared helpers of the benchmark programs (bench_common.h). */
#include "bench_common.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hub.h"
#ifdef BENCH_HAVE_TLS
#include "support_certs.h"
#endif

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void bench_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0) {
        return 0.0;
    }
    qsort(v, n, sizeof(double), cmp_double);
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return v[rank - 1];
}

double bench_mean(const double *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
    }
    return n ? s / (double)n : 0.0;
}

static long status_field(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0) {
            v = strtol(line + kl, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

long bench_rss_kb(void)
{
    return status_field("/proc/self/status", "VmRSS:");
}

long bench_hwm_kb(void)
{
    return status_field("/proc/self/status", "VmHWM:");
}

long bench_status_kb_of(pid_t pid, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    return status_field(path, key);
}

long bench_rss_kb_of(pid_t pid)
{
    return bench_status_kb_of(pid, "VmRSS:");
}

long bench_arg_long(int argc, char **argv, int i, long def)
{
    if (i < argc) {
        char *end;
        long v = strtol(argv[i], &end, 10);
        if (*end == '\0' && v > 0) {
            return v;
        }
    }
    return def;
}

/* ------------------------------------------------------------ raw peer */

int bench_raw_write(bench_raw *r, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(r->fd, s, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int bench_raw_line(bench_raw *r, char **line, size_t *len, int timeout_ms)
{
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000LL;
    for (;;) {
        char *nl = r->buf ? memchr(r->buf + r->off, '\n', r->len - r->off) : NULL;
        if (nl) {
            *line = r->buf + r->off;
            *len = (size_t)(nl - *line);
            *nl = '\0';
            r->off = (size_t)(nl - r->buf) + 1;
            return 1;
        }
        if (r->off > 0) {
            memmove(r->buf, r->buf + r->off, r->len - r->off);
            r->len -= r->off;
            r->off = 0;
        }
        if (r->cap - r->len < 65536) {
            size_t cap = r->cap ? r->cap * 2 : 262144;
            char *b = realloc(r->buf, cap);
            if (!b) {
                return -1;
            }
            r->buf = b;
            r->cap = cap;
        }
        int64_t left = (deadline - bench_now_ns()) / 1000000LL;
        if (left < 0) {
            return 0;
        }
        struct pollfd p = {r->fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            return pr == 0 ? 0 : -1;
        }
        ssize_t n = recv(r->fd, r->buf + r->len, r->cap - r->len - 1, 0);
        if (n <= 0) {
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            return -1;
        }
        r->len += (size_t)n;
    }
}

int bench_raw_connect(bench_raw *r, int port, const char *handle, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (r->fd < 0) {
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(r->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        bench_raw_close(r);
        return -1;
    }
    char hello[256];
    int n = snprintf(hello, sizeof hello, "%s(JSON)\n", handle);
    if (bench_raw_write(r, hello, (size_t)n) != 0) {
        bench_raw_close(r);
        return -1;
    }
    char *line;
    size_t len;
    while (bench_raw_line(r, &line, &len, timeout_ms) == 1) {
        if (strstr(line, "welcome ")) {
            return 0;
        }
        if (strncmp(line, "error", 5) == 0) {
            break;
        }
    }
    bench_raw_close(r);
    return -1;
}

void bench_raw_close(bench_raw *r)
{
    if (r->fd >= 0) {
        close(r->fd);
    }
    free(r->buf);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

int bench_raw_subscribe(bench_raw *r, const char *channel, int timeout_ms)
{
    char cmd[256];
    int n = snprintf(cmd, sizeof cmd, "subscribe %s\nping\n", channel);
    if (bench_raw_write(r, cmd, (size_t)n) != 0) {
        return -1;
    }
    char *line;
    size_t len;
    while (bench_raw_line(r, &line, &len, timeout_ms) == 1) {
        if (len == 1 && line[0] == '.') {
            return 0;
        }
    }
    return -1;
}

/* --------------------------------------------------------- child hub */

struct hub_info {
    int port, tls_port, ws_port;
    char ca_file[512];
};

size_t bench_payload(char *buf, size_t cap, long i, size_t size)
{
    int head = snprintf(buf, cap, "{\"i\":%ld,\"pad\":\"", i);
    size_t len = (size_t)head;
    size_t pad = size > len + 2 ? size - len - 2 : 1;
    if (len + pad + 3 > cap) {
        pad = cap - len - 3;
    }
    for (size_t k = 0; k < pad; k++) {
        buf[len++] = (char)('a' + (char)(k % 26));
    }
    buf[len++] = '"';
    buf[len++] = '}';
    buf[len] = '\0';
    return len;
}

/* The child's publisher: count lines on channel, written in 256 KiB batches. */
static void child_publish(int port, const char *channel, long count, size_t size)
{
    static long seq;
    bench_raw p;
    char handle[64];
    snprintf(handle, sizeof handle, "bench_pub_%ld_%ld", (long)getpid(), seq++);
    if (bench_raw_connect(&p, port, handle, 5000) != 0) {
        return;
    }
    size_t cap = 1 << 18, len = 0, line_max = size + 256;
    char *buf = malloc(cap);
    for (long i = 0; buf && i < count; i++) {
        if (cap - len < line_max) {
            if (bench_raw_write(&p, buf, len) != 0) {
                break;
            }
            len = 0;
        }
        len += (size_t)snprintf(buf + len, cap - len, "sendraw %s ", channel);
        len += bench_payload(buf + len, cap - len, i, size);
        buf[len++] = '\n';
    }
    if (buf && len > 0) {
        bench_raw_write(&p, buf, len);
    }
    free(buf);
    /* a barrier: the hub has read all of it before we hang up */
    char *line;
    size_t ll;
    bench_raw_write(&p, "ping\n", 5);
    while (bench_raw_line(&p, &line, &ll, 60000) == 1 && !(ll == 1 && line[0] == '.')) {
    }
    bench_raw_close(&p);
}

static void child_hub_main(int info_fd, int ctl_fd, int with_tls_ws)
{
    struct hub_info info;
    memset(&info, 0, sizeof info);
    info.port = -1;
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    /* a burst to 100 subscribers may queue ~1.2 GB at once: measured lossless,
     * so above the hub's total output and memory budgets (1 and 2 GiB) */
    o.max_output = o.max_memory = (size_t)-1 / 2;
    o.max_conns_per_addr = o.max_pending_hellos = 1 << 20; /* bench_hub: thousands of loopback clients */
#ifdef BENCH_HAVE_TLS
    it_certs certs;
    int have_certs = 0;
    if (with_tls_ws && it_certs_make(&certs) == 0) {
        have_certs = 1;
        o.cert_file = certs.cert_file;
        o.key_file = certs.key_file;
        o.tls_port = 0;
        snprintf(info.ca_file, sizeof info.ca_file, "%s", certs.ca_file);
    }
#endif
#ifdef BENCH_HAVE_WS
    if (with_tls_ws) {
        o.ws_port = 0;
    }
#endif
    (void)with_tls_ws;
    oocsi_hub *h = oocsi_hub_start(&o);
    if (h) {
        info.port = oocsi_hub_port(h);
        info.tls_port = oocsi_hub_tls_port(h);
        info.ws_port = oocsi_hub_ws_port(h);
    }
    if (write(info_fd, &info, sizeof info) != (ssize_t)sizeof info) {
        info.port = -1;
    }
    close(info_fd);
    if (h) {
        FILE *ctl = fdopen(ctl_fd, "r");
        char line[256], channel[128];
        long count;
        size_t size;
        while (ctl && fgets(line, sizeof line, ctl)) {
            if (sscanf(line, "P %127s %ld %zu", channel, &count, &size) == 3) {
                child_publish(info.port, channel, count, size);
            }
        }
        if (ctl) {
            fclose(ctl);
        }
    }
    oocsi_hub_free(h);
#ifdef BENCH_HAVE_TLS
    if (have_certs) {
        it_certs_free(&certs);
    }
#endif
    _exit(h ? 0 : 1);
}

static int ctl_write_fd = -1;

int bench_child_hub_start(bench_child_hub *h, int with_tls_ws)
{
    int info[2], ctl[2];
    memset(h, 0, sizeof(*h));
    h->pid = -1;
    if (pipe(info) != 0) {
        return -1;
    }
    if (pipe(ctl) != 0) {
        close(info[0]);
        close(info[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        close(info[0]);
        close(ctl[1]);
        child_hub_main(info[1], ctl[0], with_tls_ws);
    }
    close(info[1]);
    close(ctl[0]);
    struct hub_info hi;
    ssize_t n;
    while ((n = read(info[0], &hi, sizeof hi)) < 0 && errno == EINTR) {
    }
    close(info[0]);
    ctl_write_fd = ctl[1];
    h->pid = pid;
    if (n != (ssize_t)sizeof hi || hi.port <= 0) {
        bench_child_hub_stop(h);
        return -1;
    }
    h->port = hi.port;
    h->tls_port = hi.tls_port;
    h->ws_port = hi.ws_port;
    snprintf(h->ca_file, sizeof h->ca_file, "%s", hi.ca_file);
    return 0;
}

void bench_child_hub_stop(bench_child_hub *h)
{
    if (ctl_write_fd >= 0) {
        close(ctl_write_fd); /* EOF: the child frees the hub and exits */
        ctl_write_fd = -1;
    }
    if (h->pid > 0) {
        int st;
        for (int i = 0; i < 500; i++) {
            if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
                h->pid = -1;
                return;
            }
            bench_sleep_ms(10);
        }
        kill(h->pid, SIGKILL);
        waitpid(h->pid, &st, 0);
        h->pid = -1;
    }
}

int bench_child_hub_publish(bench_child_hub *h, const char *channel, long count, size_t size)
{
    char cmd[256];
    (void)h;
    int n = snprintf(cmd, sizeof cmd, "P %s %ld %zu\n", channel, count, size);
    if (ctl_write_fd < 0 || write(ctl_write_fd, cmd, (size_t)n) != n) {
        return -1;
    }
    return 0;
}
