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
 *
 * Then (bench_hub_peers.c) the hub side by side with the mosquitto broker
 * and the Java reference server when they are given (run.sh starts them):
 * server CPU seconds per 100k messages delivered and messages lost for a
 * burst to 10 subscribers, bytes per idle connection, and the hub's peak
 * memory under a burst from many publishers to many subscribers against
 * the bytes in flight.
 *
 *   bench_hub BURST [--mosquitto PORT:PID] [--java PORT:PID] [--conns N] [--clients N]
 *     --conns    idle connections per server (default 1000)
 *     --clients  publishers and subscribers of the many-to-many burst (default 1000 each)
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/resource.h>

#include "bench_common.h"
#include "bench_hub_peers.h"
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

static int parse_peer(const char *arg, peer_server *s)
{
    long port = 0, pid = 0;
    if (sscanf(arg, "%ld:%ld", &port, &pid) != 2 || port <= 0 || port > 65535 || pid <= 0) {
        return -1;
    }
    s->port = (int)port;
    s->pid = (pid_t)pid;
    return 0;
}

/* "%.3f" or "n/a" */
static const char *fmt3(char *b, size_t cap, double v)
{
    if (v < 0) {
        snprintf(b, cap, "n/a");
    } else {
        snprintf(b, cap, "%.3f", v);
    }
    return b;
}

static double per_100k(const peer_fan *f)
{
    return f->cpu_s >= 0 && f->delivered > 0 ? f->cpu_s * 100000.0 / (double)f->delivered : -1.0;
}

/* The hub against the broker and the Java server; the hub's memory. */
static int run_peers(long burst, const peer_server *mq, const peer_server *java, int conns, int clients)
{
    int failed = 0;
    bench_child_hub hub;
    if (bench_child_hub_start(&hub, 0) != 0) {
        fprintf(stderr, "cannot start the hub\n");
        return 1;
    }
    peer_server servers[3] = {{"hub", hub.port, hub.pid, 0}};
    int ns = 1;
    if (mq) {
        servers[ns++] = *mq;
    }
    if (java) {
        servers[ns++] = *java;
    }
    peer_fan fan[3];
    double idle[3];
    memset(fan, 0, sizeof fan);
    for (int k = 0; k < 3; k++) {
        fan[k].cpu_s = idle[k] = -1.0;
    }
    /* idle connections first: on a fresh server (freed memory would be reused) */
    for (int k = 0; k < ns; k++) {
        failed |= peer_idle(&servers[k], conns, &idle[k]) != 0 && k == 0;
        printf("%-10s %d idle connections: %.0f bytes each (RSS growth / connections)\n", servers[k].name, conns,
               idle[k]);
    }
    for (int k = 0; k < ns; k++) {
        peer_fan warm;
        int r = peer_fanout(&servers[k], 10, burst / 10 > 0 ? burst / 10 : 1, &warm); /* warm-up (JIT) */
        r |= peer_fanout(&servers[k], 10, burst, &fan[k]);
        failed |= r != 0 && k == 0;
        printf("%-10s burst %ld to 10 subscribers: delivered %ld/%ld, %.3f CPU s (%.3f per 100k delivered), %.3f s\n",
               servers[k].name, burst, fan[k].delivered, fan[k].expected, fan[k].cpu_s, per_100k(&fan[k]),
               fan[k].seconds);
    }
    bench_child_hub_stop(&hub);

    /* the many-to-many burst, in a hub of its own */
    peer_burst_result b;
    memset(&b, 0, sizeof b);
    if (bench_child_hub_start(&hub, 0) != 0) {
        return 1;
    }
    peer_server hs = {"hub", hub.port, hub.pid, 0};
    failed |= peer_burst(&hs, clients, clients, &b) != 0;
    bench_child_hub_stop(&hub);
    printf("hub burst %d publishers x %d subscribers: delivered %ld/%ld (%d subscribers complete), RSS %ld KiB "
           "before, %ld KiB with all in flight, peak growth %ld KiB (VmHWM %s); %.0f bytes per line, %.0f KiB "
           "distinct in flight (%.1f MiB as copies)\n",
           clients, clients, b.delivered, b.expected, b.complete_subs, b.rss_before_kb, b.rss_loaded_kb,
           b.peak_growth_kb, b.hwm_reset ? "reset before" : "not resettable", b.line_bytes, b.inflight_bytes / 1024.0,
           b.inflight_bytes * clients / 1048576.0);

    char h1[32], m1[32], j1[32], ml[32] = "n/a", jl[32] = "n/a";
    const peer_fan *hf = &fan[0], *mf = mq ? &fan[1] : NULL, *jf = java ? &fan[ns - 1] : NULL;
    double hc = per_100k(hf), mc = mf ? per_100k(mf) : -1.0, jc = jf ? per_100k(jf) : -1.0;
    if (mf) {
        snprintf(ml, sizeof ml, "%ld", mf->expected - mf->delivered);
    }
    if (jf) {
        snprintf(jl, sizeof jl, "%ld", jf->expected - jf->delivered);
    }
    int lead = hc >= 0 && mc >= 0 && jc >= 0 && hc < mc && hc < jc && hf->delivered == hf->expected;
    /* ROW|target|measurement|hub|raw|mosquitto|Java|target text|met|why| (tests/bench/README.md) */
    printf("ROW|5|hub burst %ld to 10 subscribers: server CPU s per 100k delivered; messages lost|%s; lost %ld|-|"
           "%s; lost %s|%s; lost %s|below both, zero loss|%s|%s|\n",
           burst, fmt3(h1, sizeof h1, hc), hf->expected - hf->delivered, fmt3(m1, sizeof m1, mc), ml,
           fmt3(j1, sizeof j1, jc), jl, lead ? "yes" : (mf && jf ? "no" : "-"),
           mf && jf ? "-" : "n/a (a peer is missing)");
    char mi[32] = "n/a", ji[32] = "n/a";
    if (idle[1] >= 0 && mq) {
        snprintf(mi, sizeof mi, "%.0f B", idle[1]);
    }
    if (java && idle[ns - 1] >= 0) {
        snprintf(ji, sizeof ji, "%.0f B", idle[ns - 1]);
    }
    printf("ROW|5|hub: bytes per idle connection (%d connections: server RSS growth / connections)|%.0f B|-|%s|%s|"
           "<= 2048 B|%s|-|\n",
           conns, idle[0], mi, ji, idle[0] >= 0 && idle[0] <= 2048 ? "yes" : "no");
    double ratio = b.inflight_bytes > 0 ? (double)b.peak_growth_kb * 1024.0 / b.inflight_bytes : -1.0;
    printf("ROW|5|hub burst %d publishers x %d subscribers (one message each): peak memory; bytes in flight|+%ld KiB "
           "(%.2fx in flight); %.2f%% delivered|%.0f KiB distinct in flight (%.1f MiB as copies)|-|-|<= 2x in flight, "
           "zero loss|%s|-|\n",
           clients, clients, b.peak_growth_kb, ratio,
           b.expected ? 100.0 * (double)b.delivered / (double)b.expected : 0.0, b.inflight_bytes / 1024.0,
           b.inflight_bytes * clients / 1048576.0,
           ratio >= 0 && ratio <= 2.0 && b.delivered == b.expected ? "yes" : "no");
    return failed;
}

int main(int argc, char **argv)
{
    long burst = bench_arg_long(argc, argv, 1, 100000);
    peer_server mq = {"mosquitto", 0, 0, 1}, java = {"java", 0, 0, 0};
    int have_mq = 0, have_java = 0, conns = 1000, clients = 1000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mosquitto")) {
            have_mq = parse_peer(argv[i + 1], &mq) == 0;
        } else if (!strcmp(argv[i], "--java")) {
            have_java = parse_peer(argv[i + 1], &java) == 0;
        } else if (!strcmp(argv[i], "--conns")) {
            conns = (int)bench_arg_long(argc, argv, i + 1, 1000);
        } else if (!strcmp(argv[i], "--clients")) {
            clients = (int)bench_arg_long(argc, argv, i + 1, 1000);
        }
    }
    struct rlimit rl; /* thousands of sockets here and in the hub (a child: inherits it) */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
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
    failed |= run_peers(burst, have_mq ? &mq : NULL, have_java ? &java : NULL, conns, clients);
    return failed ? 1 : 0;
}
