/*
 * Round trip through the hub: oocsi_call_and_wait() latency over tcp, tls
 * and ws, next to a raw-socket baseline over the same path in the same run.
 *
 *   bench_roundtrip [N]      N round trips per variant (default 2000)
 *
 * The hub runs in a forked child process. Path of every variant:
 * caller -> hub -> responder -> hub -> caller.
 *  - raw: two bare TCP sockets; the caller writes "sendraw rtraw {...}", the
 *    responder (its own thread, blocking reads) answers each line at once
 *    with "sendraw <caller> <the line>". No JSON parsing on either side.
 *  - liboocsi: a responder client (oocsi_register, background loop thread)
 *    and a caller client driving its own I/O inside oocsi_call_and_wait()
 *    (caller-driven, no loop thread); over tcp also with a loop thread.
 * Each variant does N/10 (at least 10) warm-up round trips first. Prints the
 * p50/p99/mean in microseconds, and "ROW|" lines for tests/bench/run.sh.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"
#include "oocsi/oocsi.h"

#define CALL_TIMEOUT_MS 5000
#define VARIANT_BUDGET_NS (60LL * 1000000000LL) /* bound per variant */

typedef struct stats {
    double p50, p99, mean;
    long done;
} stats;

static void summarize(double *v, long n, stats *s)
{
    s->done = n;
    s->mean = bench_mean(v, (size_t)n);
    s->p50 = bench_percentile(v, (size_t)n, 50.0);
    s->p99 = bench_percentile(v, (size_t)n, 99.0);
}

/* ------------------------------------------------------------ raw */

typedef struct raw_responder {
    bench_raw r;
    char caller[64];
} raw_responder;

static void *raw_responder_main(void *arg)
{
    raw_responder *rr = arg;
    char *line;
    size_t len;
    char *out = NULL;
    size_t out_cap = 0;
    for (;;) {
        int rc = bench_raw_line(&rr->r, &line, &len, 10000);
        if (rc <= 0) {
            break;
        }
        if (len == 0 || line[0] != '{') {
            if (len == 4 && memcmp(line, "ping", 4) == 0) {
                bench_raw_write(&rr->r, ".\n", 2);
            }
            continue;
        }
        size_t need = len + strlen(rr->caller) + 16;
        if (need > out_cap) {
            char *o = realloc(out, need);
            if (!o) {
                break;
            }
            out = o;
            out_cap = need;
        }
        int n = snprintf(out, out_cap, "sendraw %s %.*s\n", rr->caller, (int)len, line);
        if (bench_raw_write(&rr->r, out, (size_t)n) != 0) {
            break;
        }
    }
    free(out);
    return NULL;
}

static int run_raw(int port, long n, long warm, stats *st)
{
    raw_responder rr;
    bench_raw caller;
    char hcaller[64], hresp[64];
    snprintf(hcaller, sizeof hcaller, "rtc_raw_%ld", (long)getpid());
    snprintf(hresp, sizeof hresp, "rtr_raw_%ld", (long)getpid());
    snprintf(rr.caller, sizeof rr.caller, "%s", hcaller);
    if (bench_raw_connect(&rr.r, port, hresp, 5000) != 0 || bench_raw_subscribe(&rr.r, "rtraw", 5000) != 0) {
        fprintf(stderr, "raw responder: cannot connect\n");
        return -1;
    }
    if (bench_raw_connect(&caller, port, hcaller, 5000) != 0) {
        fprintf(stderr, "raw caller: cannot connect\n");
        bench_raw_close(&rr.r);
        return -1;
    }
    pthread_t t;
    pthread_create(&t, NULL, raw_responder_main, &rr);
    double *v = calloc((size_t)n, sizeof(double));
    long done = 0;
    int64_t t_end = bench_now_ns() + VARIANT_BUDGET_NS;
    for (long i = 0; i < warm + n && bench_now_ns() < t_end; i++) {
        char msg[160];
        /* the same size as a call: a counter, _MESSAGE_HANDLE and a UUID */
        int len = snprintf(msg, sizeof msg,
                           "sendraw rtraw {\"i\":%ld,\"_MESSAGE_HANDLE\":\"echo\",\"_MESSAGE_ID\":"
                           "\"00000000-0000-4000-8000-000000000000\"}\n",
                           i);
        int64_t t0 = bench_now_ns();
        if (bench_raw_write(&caller, msg, (size_t)len) != 0) {
            break;
        }
        char *line;
        size_t ll;
        int rc;
        while ((rc = bench_raw_line(&caller, &line, &ll, CALL_TIMEOUT_MS)) == 1 && (ll == 0 || line[0] != '{')) {
            if (ll == 4 && memcmp(line, "ping", 4) == 0) {
                bench_raw_write(&caller, ".\n", 2);
            }
        }
        if (rc != 1) {
            fprintf(stderr, "raw: no answer\n");
            break;
        }
        if (i >= warm) {
            v[done++] = (double)(bench_now_ns() - t0) / 1000.0;
        }
    }
    bench_raw_close(&caller); /* the responder sees the hub route nothing more */
    shutdown(rr.r.fd, SHUT_RDWR);
    pthread_join(t, NULL);
    bench_raw_close(&rr.r);
    summarize(v, done, st);
    free(v);
    return done == n ? 0 : -1;
}

/* ------------------------------------------------------------ liboocsi */

static void echo(oocsi_client *c, const oocsi_message *req, cJSON *resp, void *user)
{
    (void)c;
    (void)req;
    (void)resp;
    (void)user;
}

static oocsi_client *connect_client(const char *url, const char *ca, const char *handle)
{
    oocsi_options *o = oocsi_options_new();
    oocsi_client *c = NULL;
    if (!o) {
        return NULL;
    }
    oocsi_options_set_handle(o, handle);
    oocsi_options_set_logger(o, NULL, NULL);
    if (ca && ca[0]) {
        oocsi_options_set_tls_ca_file(o, ca);
    }
    int rc = oocsi_options_add_endpoint(o, url);
    if (rc == OOCSI_OK) {
        rc = oocsi_connect(&c, o);
    }
    if (rc != OOCSI_OK) {
        fprintf(stderr, "%s: %s\n", url, oocsi_strerror(rc));
    }
    oocsi_options_free(o);
    return rc == OOCSI_OK ? c : NULL;
}

static int run_lib(const char *url, const char *ca, const char *tag, int threaded, long n, long warm, stats *st)
{
    char hcaller[64], hresp[64], chan[64];
    snprintf(hcaller, sizeof hcaller, "rtc_%s%d_%ld", tag, threaded, (long)getpid());
    snprintf(hresp, sizeof hresp, "rtr_%s%d_%ld", tag, threaded, (long)getpid());
    snprintf(chan, sizeof chan, "rt_%s%d", tag, threaded);
    oocsi_client *resp = connect_client(url, ca, hresp);
    oocsi_client *caller = resp ? connect_client(url, ca, hcaller) : NULL;
    if (!caller || oocsi_register(resp, chan, "echo", echo, NULL) != OOCSI_OK || oocsi_loop_start(resp) != OOCSI_OK ||
        (threaded && oocsi_loop_start(caller) != OOCSI_OK)) {
        oocsi_close(caller);
        oocsi_close(resp);
        return -1;
    }
    cJSON *data = cJSON_CreateObject();
    cJSON *num = cJSON_AddNumberToObject(data, "i", 0);
    double *v = calloc((size_t)n, sizeof(double));
    long done = 0;
    int64_t t_end = bench_now_ns() + VARIANT_BUDGET_NS;
    for (long i = 0; i < warm + n && bench_now_ns() < t_end; i++) {
        cJSON_SetNumberValue(num, (double)i);
        cJSON *answer = NULL;
        int64_t t0 = bench_now_ns();
        int rc = oocsi_call_and_wait(caller, chan, "echo", data, CALL_TIMEOUT_MS, &answer);
        int64_t t1 = bench_now_ns();
        cJSON_Delete(answer);
        if (rc != OOCSI_OK) {
            fprintf(stderr, "%s: call failed: %s\n", url, oocsi_strerror(rc));
            break;
        }
        if (i >= warm) {
            v[done++] = (double)(t1 - t0) / 1000.0;
        }
    }
    cJSON_Delete(data);
    oocsi_close(caller);
    oocsi_close(resp);
    summarize(v, done, st);
    free(v);
    return done == n ? 0 : -1;
}

static void print_stats(const char *name, const stats *s)
{
    printf("%-34s n=%-7ld p50=%9.1f us  p99=%9.1f us  mean=%9.1f us\n", name, s->done, s->p50, s->p99, s->mean);
}

int main(int argc, char **argv)
{
    long n = bench_arg_long(argc, argv, 1, 2000);
    long warm = n / 10 < 10 ? 10 : n / 10;
    bench_child_hub hub;
    if (bench_child_hub_start(&hub, 1) != 0) {
        fprintf(stderr, "cannot start the hub\n");
        return 1;
    }
    int failed = 0;
    char url[128];
    stats raw = {0}, tcp = {0}, tcp_thr = {0}, tls = {0}, ws = {0};
    int have_tls = hub.tls_port > 0, have_ws = hub.ws_port > 0;

    printf("round trip through the hub, %ld iterations per variant (after %ld warm-up)\n", n, warm);
    failed |= run_raw(hub.port, n, warm, &raw) != 0;
    print_stats("raw sockets (baseline, tcp)", &raw);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", hub.port);
    failed |= run_lib(url, NULL, "tcp", 0, n, warm, &tcp) != 0;
    print_stats("liboocsi tcp (caller-driven)", &tcp);
    failed |= run_lib(url, NULL, "tcp", 1, n, warm, &tcp_thr) != 0;
    print_stats("liboocsi tcp (loop thread)", &tcp_thr);
    if (have_tls) {
        snprintf(url, sizeof url, "tls://127.0.0.1:%d", hub.tls_port);
        failed |= run_lib(url, hub.ca_file, "tls", 0, n, warm, &tls) != 0;
        print_stats("liboocsi tls (caller-driven)", &tls);
    }
    if (have_ws) {
        snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", hub.ws_port);
        failed |= run_lib(url, NULL, "ws", 0, n, warm, &ws) != 0;
        print_stats("liboocsi ws (caller-driven)", &ws);
    }
    bench_child_hub_stop(&hub);

    double ratio = raw.p50 > 0 ? tcp.p50 / raw.p50 : 0.0;
    printf("ROW|1|round trip p50/p99 (us), raw sockets, tcp|%.1f / %.1f|-|baseline|-|\n", raw.p50, raw.p99);
    printf("ROW|1|round trip p50/p99 (us), call_and_wait, tcp|%.1f / %.1f|%.2fx raw p50|p50 <= 1.2x raw|%s|\n", tcp.p50,
           tcp.p99, ratio, ratio <= 1.2 ? "yes" : "no");
    printf("ROW|1|round trip p50/p99 (us), call_and_wait, tcp, loop thread|%.1f / %.1f|%.2fx raw p50|-|-|\n",
           tcp_thr.p50, tcp_thr.p99, raw.p50 > 0 ? tcp_thr.p50 / raw.p50 : 0.0);
    if (have_tls) {
        printf("ROW|1|round trip p50/p99 (us), call_and_wait, tls|%.1f / %.1f|%.2fx raw p50|-|-|\n", tls.p50, tls.p99,
               raw.p50 > 0 ? tls.p50 / raw.p50 : 0.0);
    }
    if (have_ws) {
        printf("ROW|1|round trip p50/p99 (us), call_and_wait, ws|%.1f / %.1f|%.2fx raw p50|-|-|\n", ws.p50, ws.p99,
               raw.p50 > 0 ? ws.p50 / raw.p50 : 0.0);
    }
    return failed ? 1 : 0;
}
