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
#define BLOCK 20

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

typedef struct raw_variant {
    raw_responder rr;
    bench_raw caller;
    pthread_t t;
    long i;
} raw_variant;

static int raw_setup(raw_variant *v, int port)
{
    char hcaller[64], hresp[64];
    memset(v, 0, sizeof(*v));
    snprintf(hcaller, sizeof hcaller, "rtc_raw_%ld", (long)getpid());
    snprintf(hresp, sizeof hresp, "rtr_raw_%ld", (long)getpid());
    snprintf(v->rr.caller, sizeof v->rr.caller, "%s", hcaller);
    if (bench_raw_connect(&v->rr.r, port, hresp, 5000) != 0 || bench_raw_subscribe(&v->rr.r, "rtraw", 5000) != 0) {
        fprintf(stderr, "raw responder: cannot connect\n");
        return -1;
    }
    if (bench_raw_connect(&v->caller, port, hcaller, 5000) != 0) {
        fprintf(stderr, "raw caller: cannot connect\n");
        bench_raw_close(&v->rr.r);
        return -1;
    }
    pthread_create(&v->t, NULL, raw_responder_main, &v->rr);
    return 0;
}

/* One round trip; microseconds or -1. */
static double raw_once(raw_variant *v)
{
    char msg[160];
    /* the same size as a call: a counter, _MESSAGE_HANDLE and a UUID */
    int len = snprintf(msg, sizeof msg,
                       "sendraw rtraw {\"i\":%ld,\"_MESSAGE_HANDLE\":\"echo\",\"_MESSAGE_ID\":"
                       "\"00000000-0000-4000-8000-000000000000\"}\n",
                       v->i++);
    int64_t t0 = bench_now_ns();
    if (bench_raw_write(&v->caller, msg, (size_t)len) != 0) {
        return -1;
    }
    char *line;
    size_t ll;
    int rc;
    while ((rc = bench_raw_line(&v->caller, &line, &ll, CALL_TIMEOUT_MS)) == 1 && (ll == 0 || line[0] != '{')) {
        if (ll == 4 && memcmp(line, "ping", 4) == 0) {
            bench_raw_write(&v->caller, ".\n", 2);
        }
    }
    if (rc != 1) {
        fprintf(stderr, "raw: no answer\n");
        return -1;
    }
    return (double)(bench_now_ns() - t0) / 1000.0;
}

static void raw_teardown(raw_variant *v)
{
    bench_raw_close(&v->caller); /* the responder sees the hub route nothing more */
    shutdown(v->rr.r.fd, SHUT_RDWR);
    pthread_join(v->t, NULL);
    bench_raw_close(&v->rr.r);
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

typedef struct lib_variant {
    oocsi_client *resp, *caller;
    char chan[64];
    cJSON *data, *num;
    long i;
} lib_variant;

static int lib_setup(lib_variant *v, const char *url, const char *ca, const char *tag, int threaded)
{
    char hcaller[64], hresp[64];
    memset(v, 0, sizeof(*v));
    snprintf(hcaller, sizeof hcaller, "rtc_%s%d_%ld", tag, threaded, (long)getpid());
    snprintf(hresp, sizeof hresp, "rtr_%s%d_%ld", tag, threaded, (long)getpid());
    snprintf(v->chan, sizeof v->chan, "rt_%s%d", tag, threaded);
    v->resp = connect_client(url, ca, hresp);
    v->caller = v->resp ? connect_client(url, ca, hcaller) : NULL;
    if (!v->caller || oocsi_register(v->resp, v->chan, "echo", echo, NULL) != OOCSI_OK ||
        oocsi_loop_start(v->resp) != OOCSI_OK || (threaded && oocsi_loop_start(v->caller) != OOCSI_OK)) {
        oocsi_close(v->caller);
        oocsi_close(v->resp);
        return -1;
    }
    v->data = cJSON_CreateObject();
    v->num = cJSON_AddNumberToObject(v->data, "i", 0);
    return 0;
}

static double lib_once(lib_variant *v)
{
    cJSON_SetNumberValue(v->num, (double)v->i++);
    cJSON *answer = NULL;
    int64_t t0 = bench_now_ns();
    int rc = oocsi_call_and_wait(v->caller, v->chan, "echo", v->data, CALL_TIMEOUT_MS, &answer);
    int64_t t1 = bench_now_ns();
    cJSON_Delete(answer);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "%s: call failed: %s\n", v->chan, oocsi_strerror(rc));
        return -1;
    }
    return (double)(t1 - t0) / 1000.0;
}

static void lib_teardown(lib_variant *v)
{
    cJSON_Delete(v->data);
    oocsi_close(v->caller);
    oocsi_close(v->resp);
}

static void print_stats(const char *name, const stats *s)
{
    printf("%-34s n=%-7ld p50=%9.1f us  p99=%9.1f us  mean=%9.1f us\n", name, s->done, s->p50, s->p99, s->mean);
}

enum { V_RAW, V_TCP, V_TCP_THR, V_TLS, V_WS, N_VARIANTS };

static const char *const variant_names[N_VARIANTS] = {
    "raw sockets (baseline, tcp)",  "liboocsi tcp (caller-driven)", "liboocsi tcp (loop thread)",
    "liboocsi tls (caller-driven)", "liboocsi ws (caller-driven)",
};

int main(int argc, char **argv)
{
    long n = bench_arg_long(argc, argv, 1, 2000);
    long warm = n / 10 < 10 ? 10 : n / 10;
    bench_child_hub hub;
    if (bench_child_hub_start(&hub, 1) != 0) {
        fprintf(stderr, "cannot start the hub\n");
        return 1;
    }
    char url[128];
    raw_variant raw;
    lib_variant lib[N_VARIANTS];
    int have[N_VARIANTS] = {0};
    have[V_RAW] = raw_setup(&raw, hub.port) == 0;
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", hub.port);
    have[V_TCP] = lib_setup(&lib[V_TCP], url, NULL, "tcp", 0) == 0;
    have[V_TCP_THR] = lib_setup(&lib[V_TCP_THR], url, NULL, "tcp", 1) == 0;
    if (hub.tls_port > 0) {
        snprintf(url, sizeof url, "tls://127.0.0.1:%d", hub.tls_port);
        have[V_TLS] = lib_setup(&lib[V_TLS], url, hub.ca_file, "tls", 0) == 0;
    }
    if (hub.ws_port > 0) {
        snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", hub.ws_port);
        have[V_WS] = lib_setup(&lib[V_WS], url, NULL, "ws", 0) == 0;
    }
    int failed = !have[V_RAW] || !have[V_TCP] || !have[V_TCP_THR];

    /* Interleaved: BLOCK round trips of each variant in turn, the order
     * rotating, so that a change in the machine's load during the run
     * touches every variant alike. */
    double *v[N_VARIANTS];
    long done[N_VARIANTS] = {0};
    for (int k = 0; k < N_VARIANTS; k++) {
        v[k] = calloc((size_t)n, sizeof(double));
        failed |= !v[k];
    }
    printf("round trip through the hub, %ld iterations per variant (after %ld warm-up), interleaved in blocks of %d\n",
           n, warm, BLOCK);
    int64_t t_end = bench_now_ns() + VARIANT_BUDGET_NS * N_VARIANTS;
    for (long i = 0; !failed && i < warm + n && bench_now_ns() < t_end; i += BLOCK) {
        for (int j = 0; !failed && j < N_VARIANTS; j++) {
            int k = (int)((j + i / BLOCK) % N_VARIANTS);
            if (!have[k]) {
                continue;
            }
            for (long b = i; b < i + BLOCK && b < warm + n; b++) {
                double us = k == V_RAW ? raw_once(&raw) : lib_once(&lib[k]);
                if (us < 0) {
                    failed = 1;
                    break;
                }
                if (b >= warm) {
                    v[k][done[k]++] = us;
                }
            }
        }
    }
    if (have[V_RAW]) {
        raw_teardown(&raw);
    }
    for (int k = V_TCP; k < N_VARIANTS; k++) {
        if (have[k]) {
            lib_teardown(&lib[k]);
        }
    }
    bench_child_hub_stop(&hub);

    stats st[N_VARIANTS];
    memset(st, 0, sizeof st);
    for (int k = 0; k < N_VARIANTS; k++) {
        if (have[k]) {
            summarize(v[k], done[k], &st[k]);
            print_stats(variant_names[k], &st[k]);
            failed |= done[k] != n;
        }
        free(v[k]);
    }
    const stats *raw_st = &st[V_RAW];
    double r_tcp = raw_st->p50 > 0 ? st[V_TCP].p50 / raw_st->p50 : 0.0;
    double r_thr = raw_st->p50 > 0 ? st[V_TCP_THR].p50 / raw_st->p50 : 0.0;
    printf("ROW|4|call_and_wait round trip, tcp, caller-driven: p50 / p99 (us)|%.1f / %.1f|%.1f / %.1f|-|-|"
           "p50 <= 1.2x raw|%s|%.2fx raw p50|\n",
           st[V_TCP].p50, st[V_TCP].p99, raw_st->p50, raw_st->p99, r_tcp <= 1.2 ? "yes" : "no", r_tcp);
    printf("ROW|4|call_and_wait round trip, tcp, loop thread: p50 / p99 (us)|%.1f / %.1f|%.1f / %.1f|-|-|"
           "p50 <= 1.2x raw|%s|%.2fx raw p50|\n",
           st[V_TCP_THR].p50, st[V_TCP_THR].p99, raw_st->p50, raw_st->p99, r_thr <= 1.2 ? "yes" : "no", r_thr);
    if (have[V_TLS]) {
        printf("ROW|-|call_and_wait round trip, tls, caller-driven: p50 / p99 (us)|%.1f / %.1f|%.1f / %.1f (tcp)|-|-|"
               "-|-|%.2fx raw tcp p50|\n",
               st[V_TLS].p50, st[V_TLS].p99, raw_st->p50, raw_st->p99, st[V_TLS].p50 / raw_st->p50);
    }
    if (have[V_WS]) {
        printf("ROW|-|call_and_wait round trip, ws, caller-driven: p50 / p99 (us)|%.1f / %.1f|%.1f / %.1f (tcp)|-|-|"
               "-|-|%.2fx raw tcp p50|\n",
               st[V_WS].p50, st[V_WS].p99, raw_st->p50, raw_st->p99, st[V_WS].p50 / raw_st->p50);
    }
    return failed ? 1 : 0;
}
