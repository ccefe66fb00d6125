/*
 * The hub under a burst: one publisher, 1, 10 and 100 subscribers.
 *
 *   bench_hub [BURST]        messages per burst (default 100000)
 *
 * The hub runs in a forked child process (its memory is read from /proc).
 * The publisher is a raw socket writing "sendraw fan {...}" lines (~50-byte
 * payload) as fast as the hub takes them. Subscribers are raw sockets read
 * by one poll() thread (so the client library is not the bottleneck), then,
 * once, liboocsi clients (each with its loop thread). Delivered messages/s =
 * messages received by all subscribers / (last arrival - first write).
 * A burst ends when everything arrived or after 5 s without progress.
 * Last, a slow subscriber (never reads) next to a fast one: the hub's
 * resident memory before and after the burst.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"
#include "oocsi/oocsi.h"

#define IDLE_LIMIT_NS (5LL * 1000000000LL)
#define BURST_BUDGET_NS (120LL * 1000000000LL)

typedef struct pub_args {
    int port;
    long burst;
    char handle[64];
    int ok;
    int64_t t_start, t_end;
} pub_args;

static void *publisher_main(void *arg)
{
    pub_args *pa = arg;
    bench_raw p;
    pa->ok = 0;
    if (bench_raw_connect(&p, pa->port, pa->handle, 5000) != 0) {
        return NULL;
    }
    static const char pad[] = "abcdefghijklmnopqrstuvwxyz0123";
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    pa->t_start = bench_now_ns();
    for (long i = 0; i < pa->burst; i++) {
        if (cap - len < 128) {
            if (bench_raw_write(&p, buf, len) != 0) {
                free(buf);
                bench_raw_close(&p);
                return NULL;
            }
            len = 0;
        }
        /* payload {"i":N,"pad":"..."}: about 50 bytes */
        len += (size_t)snprintf(buf + len, cap - len, "sendraw fan {\"i\":%ld,\"pad\":\"%s\"}\n", i, pad);
    }
    pa->ok = len == 0 || bench_raw_write(&p, buf, len) == 0;
    pa->t_end = bench_now_ns();
    free(buf);
    /* stay connected until the hub has read everything: a barrier */
    if (pa->ok) {
        char *line;
        size_t ll;
        bench_raw_write(&p, "ping\n", 5);
        while (bench_raw_line(&p, &line, &ll, 60000) == 1 && !(ll == 1 && line[0] == '.')) {
        }
    }
    bench_raw_close(&p);
    return NULL;
}

typedef struct result {
    long expected, delivered;
    double seconds, pub_seconds;
} result;

static void report(const char *name, const result *r)
{
    printf("%-38s delivered %ld/%ld (%.3f%%) in %.3f s: %.0f msg/s delivered (publisher wrote for %.3f s)\n", name,
           r->delivered, r->expected, r->expected ? 100.0 * (double)r->delivered / (double)r->expected : 0.0,
           r->seconds, r->seconds > 0 ? (double)r->delivered / r->seconds : 0.0, r->pub_seconds);
}

/* ------------------------------------------------------------- raw subscribers */

static int run_raw(int port, int nsubs, long burst, result *res)
{
    bench_raw *subs = calloc((size_t)nsubs, sizeof(bench_raw));
    struct pollfd *pf = calloc((size_t)nsubs, sizeof(struct pollfd));
    char *at_start = calloc((size_t)nsubs, 1);
    char *buf = malloc(1 << 18);
    int rc = -1;
    int connected = 0;
    for (int i = 0; i < nsubs; i++) {
        char h[64];
        snprintf(h, sizeof h, "fs_%d_%d_%ld", nsubs, i, (long)getpid());
        if (bench_raw_connect(&subs[i], port, h, 5000) != 0 || bench_raw_subscribe(&subs[i], "fan", 5000) != 0) {
            fprintf(stderr, "subscriber %d: cannot connect\n", i);
            goto out;
        }
        connected++;
        pf[i].fd = subs[i].fd;
        pf[i].events = POLLIN;
        at_start[i] = 1;
    }
    pub_args pa = {.port = port, .burst = burst};
    snprintf(pa.handle, sizeof pa.handle, "fp_%d_%ld", nsubs, (long)getpid());
    pthread_t t;
    long expected = burst * nsubs, got = 0;
    pthread_create(&t, NULL, publisher_main, &pa);
    int64_t t0 = bench_now_ns(), last = t0, t_last = t0;
    while (got < expected) {
        int64_t now = bench_now_ns();
        if (now - last > IDLE_LIMIT_NS || now - t0 > BURST_BUDGET_NS) {
            break;
        }
        int pr = poll(pf, (nfds_t)nsubs, 100);
        if (pr <= 0) {
            continue;
        }
        for (int i = 0; i < nsubs; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            ssize_t n = recv(pf[i].fd, buf, 1 << 18, MSG_DONTWAIT);
            if (n <= 0) {
                continue;
            }
            for (ssize_t k = 0; k < n; k++) {
                if (at_start[i] && buf[k] == '{') {
                    got++;
                }
                at_start[i] = buf[k] == '\n';
            }
            last = t_last = bench_now_ns();
        }
    }
    pthread_join(t, NULL);
    res->expected = expected;
    res->delivered = got;
    res->seconds = (double)(t_last - (pa.t_start ? pa.t_start : t0)) / 1e9;
    res->pub_seconds = (double)(pa.t_end - pa.t_start) / 1e9;
    rc = pa.ok ? 0 : -1;
out:
    for (int i = 0; i < connected; i++) {
        bench_raw_close(&subs[i]);
    }
    free(subs);
    free(pf);
    free(at_start);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------- liboocsi subscribers */

static atomic_long lib_got;

static void on_fan(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)m;
    (void)user;
    atomic_fetch_add_explicit(&lib_got, 1, memory_order_relaxed);
}

static int run_lib(int port, int nsubs, long burst, result *res)
{
    oocsi_client **cs = calloc((size_t)nsubs, sizeof(*cs));
    char url[64];
    int rc = -1;
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    atomic_store(&lib_got, 0);
    for (int i = 0; i < nsubs; i++) {
        oocsi_options *o = oocsi_options_new();
        char h[64];
        snprintf(h, sizeof h, "fl_%d_%d_%ld", nsubs, i, (long)getpid());
        oocsi_options_set_handle(o, h);
        oocsi_options_add_endpoint(o, url);
        oocsi_options_set_logger(o, NULL, NULL);
        int r = oocsi_connect(&cs[i], o);
        oocsi_options_free(o);
        if (r != OOCSI_OK || oocsi_subscribe(cs[i], "fan", on_fan, NULL) != OOCSI_OK ||
            oocsi_loop_start(cs[i]) != OOCSI_OK) {
            fprintf(stderr, "liboocsi subscriber %d: %s\n", i, oocsi_strerror(r));
            goto out;
        }
    }
    pub_args pa = {.port = port, .burst = burst};
    snprintf(pa.handle, sizeof pa.handle, "flp_%d_%ld", nsubs, (long)getpid());
    pthread_t t;
    long expected = burst * nsubs, prev = 0;
    pthread_create(&t, NULL, publisher_main, &pa);
    int64_t t0 = bench_now_ns(), last = t0, t_last = t0;
    for (;;) {
        long got = atomic_load(&lib_got);
        int64_t now = bench_now_ns();
        if (got != prev) {
            prev = got;
            last = t_last = now;
        }
        if (got >= expected || now - last > IDLE_LIMIT_NS || now - t0 > BURST_BUDGET_NS) {
            break;
        }
        bench_sleep_ms(1);
    }
    pthread_join(t, NULL);
    res->expected = expected;
    res->delivered = atomic_load(&lib_got);
    res->seconds = (double)(t_last - pa.t_start) / 1e9;
    res->pub_seconds = (double)(pa.t_end - pa.t_start) / 1e9;
    rc = pa.ok ? 0 : -1;
out:
    for (int i = 0; i < nsubs; i++) {
        oocsi_close(cs[i]);
    }
    free(cs);
    return rc;
}

/* ------------------------------------------------------------- slow subscriber */

static int run_slow(bench_child_hub *hub, long burst, long *rss_before, long *rss_after, result *res)
{
    bench_raw slow;
    char h[64];
    snprintf(h, sizeof h, "slow_%ld", (long)getpid());
    if (bench_raw_connect(&slow, hub->port, h, 5000) != 0 || bench_raw_subscribe(&slow, "fan", 5000) != 0) {
        return -1;
    }
    int one = 4096;
    setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
    *rss_before = bench_rss_kb_of(hub->pid);
    int rc = run_raw(hub->port, 1, burst, res); /* the fast one gets everything meanwhile */
    *rss_after = bench_rss_kb_of(hub->pid);
    bench_raw_close(&slow);
    return rc;
}

int main(int argc, char **argv)
{
    long burst = bench_arg_long(argc, argv, 1, 100000);
    bench_child_hub hub;
    if (bench_child_hub_start(&hub, 0) != 0) {
        fprintf(stderr, "cannot start the hub\n");
        return 1;
    }
    int failed = 0;
    static const int fan[] = {1, 10, 100};
    result raw[3], lib1, lib10, slow;
    printf("hub fan-out, burst of %ld messages (~50-byte payload)\n", burst);
    for (int k = 0; k < 3; k++) {
        char name[64];
        failed |= run_raw(hub.port, fan[k], burst, &raw[k]) != 0;
        snprintf(name, sizeof name, "raw subscribers: %d", fan[k]);
        report(name, &raw[k]);
    }
    failed |= run_lib(hub.port, 1, burst, &lib1) != 0;
    report("liboocsi subscribers: 1", &lib1);
    failed |= run_lib(hub.port, 10, burst, &lib10) != 0;
    report("liboocsi subscribers: 10", &lib10);
    long before = 0, after = 0;
    failed |= run_slow(&hub, burst, &before, &after, &slow) != 0;
    report("fast subscriber next to a stalled one", &slow);
    printf("hub resident memory: %ld KiB before, %ld KiB after the burst with a stalled subscriber (+%ld KiB)\n",
           before, after, after - before);
    bench_child_hub_stop(&hub);

    for (int k = 0; k < 3; k++) {
        double rate = raw[k].seconds > 0 ? (double)raw[k].delivered / raw[k].seconds : 0.0;
        double pct = 100.0 * (double)raw[k].delivered / (double)raw[k].expected;
        int met = raw[k].delivered == raw[k].expected && (fan[k] != 1 || rate >= 50000.0);
        printf("ROW|3|hub burst %ld, %d raw subscriber%s: delivered msg/s, %% delivered|%.0f/s, %.2f%%|-|%s|%s|\n",
               burst, fan[k], fan[k] == 1 ? "" : "s", rate, pct, fan[k] == 1 ? "zero loss, >= 50000/s" : "zero loss",
               met ? "yes" : "no");
    }
    result *libs[2] = {&lib1, &lib10};
    for (int k = 0; k < 2; k++) {
        const result *r = libs[k];
        double rate = r->seconds > 0 ? (double)r->delivered / r->seconds : 0.0;
        printf("ROW|3|hub burst %ld, %d liboocsi subscriber%s: delivered msg/s, %% delivered|%.0f/s, %.2f%%|-|zero "
               "loss|%s|\n",
               burst, k ? 10 : 1, k ? "s" : "", rate, 100.0 * (double)r->delivered / (double)r->expected,
               r->delivered == r->expected ? "yes" : "no");
    }
    printf("ROW|3|hub burst %ld with a stalled subscriber: hub RSS growth; fast subscriber|+%ld KiB; %.2f%% "
           "delivered|-|bounded (hub drops a client past 64 MiB pending)|%s|\n",
           burst, after - before, 100.0 * (double)slow.delivered / (double)slow.expected,
           after - before < 80 * 1024 && slow.delivered == slow.expected ? "yes" : "no");
    return failed ? 1 : 0;
}
