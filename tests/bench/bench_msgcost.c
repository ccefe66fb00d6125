/*
 * Client cost per message, send path and receive path: liboocsi next to a
 * hand-written raw socket + cJSON loop doing the same work.
 *
 *   bench_msgcost [COUNT]                   every mode, sizes 50 and 4096
 *   bench_msgcost MODE SIZE COUNT           one mode (for callgrind)
 *
 * MODE: send-lib, send-json, send-raw, recv-lib, recv-raw, recv-thread (as
 * recv-lib with the handlers on oocsi_loop_start()'s thread, for the peak
 * RSS of a burst). The hub runs in a forked
 * child process, which also publishes for the receive modes, so this process
 * does only the client's work and runs one thread (liboocsi caller-driven:
 * no loop thread). The measured loop of each mode is its own function,
 * measured_<mode>(), for `valgrind --tool=callgrind --collect-atstart=no
 * --toggle-collect=measured_*`: instructions per message = Ir / COUNT.
 *
 * The same work on both sides:
 *  - send: a cJSON object {"i":N,"pad":"..."} of SIZE bytes, updated per
 *    message, is serialised and written as one "sendraw sink <json>" line
 *    (liboocsi: oocsi_send(); raw: cJSON_PrintUnformatted + snprintf +
 *    send()). No one subscribes to "sink": the hub reads and drops it.
 *  - send-json: the same message prepared once as JSON text, sent with
 *    oocsi_send_json() (the libmosquitto twin publishes the same text).
 *  - receive: COUNT such messages arrive on a subscribed channel; each is
 *    parsed into a cJSON tree, sender/recipient/timestamp are taken out, a
 *    handler reads "i" (liboocsi: oocsi_loop() + a handler using
 *    oocsi_message_get_int(); raw: recv + line split + cJSON_Parse).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"
#include "oocsi/oocsi.h"

#define RECV_BUDGET_NS (120LL * 1000000000LL)

static bench_child_hub hub;
static char url[64];

static cJSON *make_object(size_t size)
{
    char *buf = malloc(size + 64);
    bench_payload(buf, size + 64, 0, size);
    cJSON *o = cJSON_Parse(buf);
    free(buf);
    return o;
}

static oocsi_client *lib_connect(const char *handle)
{
    oocsi_options *o = oocsi_options_new();
    oocsi_client *c = NULL;
    oocsi_options_set_handle(o, handle);
    oocsi_options_add_endpoint(o, url);
    oocsi_options_set_logger(o, NULL, NULL);
    int rc = oocsi_connect(&c, o);
    oocsi_options_free(o);
    return rc == OOCSI_OK ? c : NULL;
}

/* --------------------------------------------------------------- send */

long measured_send_lib(oocsi_client *c, cJSON *obj, long count);
long measured_send_raw(bench_raw *r, cJSON *obj, long count);
long measured_send_json(oocsi_client *c, const char *text, long count);
long measured_recv_lib(oocsi_client *c, long count);
long measured_recv_raw(bench_raw *r, long count);

__attribute__((noinline)) long measured_send_lib(oocsi_client *c, cJSON *obj, long count)
{
    cJSON *num = cJSON_GetObjectItemCaseSensitive(obj, "i");
    long sent = 0;
    for (long i = 0; i < count; i++) {
        cJSON_SetNumberValue(num, (double)i);
        int rc = oocsi_send(c, "sink", obj);
        for (int k = 0; rc == OOCSI_ERR_QUEUE_FULL && k < 1000; k++) {
            oocsi_loop(c, 10); /* the hub does not keep up: let the loop write */
            rc = oocsi_send(c, "sink", obj);
        }
        if (rc != OOCSI_OK) {
            fprintf(stderr, "oocsi_send: %s\n", oocsi_strerror(rc));
            break;
        }
        sent++;
        if ((i & 255) == 255) {
            oocsi_loop(c, 0); /* what an application's loop does meanwhile */
        }
    }
    return sent;
}

__attribute__((noinline)) long measured_send_json(oocsi_client *c, const char *text, long count)
{
    long sent = 0;
    for (long i = 0; i < count; i++) {
        int rc = oocsi_send_json(c, "sink", text);
        for (int k = 0; rc == OOCSI_ERR_QUEUE_FULL && k < 1000; k++) {
            oocsi_loop(c, 10);
            rc = oocsi_send_json(c, "sink", text);
        }
        if (rc != OOCSI_OK) {
            fprintf(stderr, "oocsi_send_json: %s\n", oocsi_strerror(rc));
            break;
        }
        sent++;
        if ((i & 255) == 255) {
            oocsi_loop(c, 0);
        }
    }
    return sent;
}

__attribute__((noinline)) long measured_send_raw(bench_raw *r, cJSON *obj, long count)
{
    cJSON *num = cJSON_GetObjectItemCaseSensitive(obj, "i");
    size_t cap = 8192;
    char *line = malloc(cap);
    long sent = 0;
    for (long i = 0; i < count; i++) {
        cJSON_SetNumberValue(num, (double)i);
        char *json = cJSON_PrintUnformatted(obj);
        if (!json) {
            break;
        }
        size_t need = strlen(json) + 32;
        if (need > cap) {
            char *l = realloc(line, need);
            if (!l) {
                free(json);
                break;
            }
            line = l;
            cap = need;
        }
        int n = snprintf(line, cap, "sendraw sink %s\n", json);
        free(json);
        if (bench_raw_write(r, line, (size_t)n) != 0) {
            break;
        }
        sent++;
    }
    free(line);
    return sent;
}

/* ------------------------------------------------------------ receive */

static long lib_received;
static int64_t lib_sum;

static void on_cost(oocsi_client *c, const oocsi_message *m, void *user)
{
    int64_t i = 0;
    (void)c;
    (void)user;
    if (oocsi_message_get_int(m, "i", &i) == OOCSI_OK) {
        lib_sum += i;
    }
    __atomic_add_fetch(&lib_received, 1, __ATOMIC_RELAXED);
}

__attribute__((noinline)) long measured_recv_lib(oocsi_client *c, long count)
{
    int64_t end = bench_now_ns() + RECV_BUDGET_NS;
    while (lib_received < count && bench_now_ns() < end) {
        if (oocsi_loop(c, 100) != OOCSI_OK) {
            break;
        }
    }
    return lib_received;
}

static long raw_received;
static int64_t raw_sum;

/* the raw receiver's per-message work: what liboocsi's decode + dispatch do */
static void raw_handle_line(const char *s, size_t n)
{
    cJSON *root = cJSON_ParseWithLength(s, n);
    if (!root) {
        return;
    }
    cJSON *snd = cJSON_DetachItemFromObjectCaseSensitive(root, "sender");
    cJSON *rcp = cJSON_DetachItemFromObjectCaseSensitive(root, "recipient");
    cJSON *ts = cJSON_DetachItemFromObjectCaseSensitive(root, "timestamp");
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(root, "i");
    if (cJSON_IsString(rcp) && strcmp(rcp->valuestring, "cost") == 0 && cJSON_IsNumber(i)) {
        raw_sum += (int64_t)i->valuedouble;
    }
    raw_received++;
    cJSON_Delete(snd);
    cJSON_Delete(rcp);
    cJSON_Delete(ts);
    cJSON_Delete(root);
}

__attribute__((noinline)) long measured_recv_raw(bench_raw *r, long count)
{
    int64_t end = bench_now_ns() + RECV_BUDGET_NS;
    while (raw_received < count && bench_now_ns() < end) {
        char *line;
        size_t len;
        int rc = bench_raw_line(r, &line, &len, 100);
        if (rc < 0) {
            break;
        }
        if (rc == 1 && len > 0 && line[0] == '{') {
            raw_handle_line(line, len);
        } else if (rc == 1 && len == 4 && memcmp(line, "ping", 4) == 0) {
            bench_raw_write(r, ".\n", 2);
        }
    }
    return raw_received;
}

/* -------------------------------------------------------------- modes */

typedef struct outcome {
    long done;
    double seconds;
} outcome;

static int run_mode(const char *mode, size_t size, long count, outcome *out)
{
    char handle[64];
    static int seq;
    snprintf(handle, sizeof handle, "cost_%ld_%d", (long)getpid(), seq++);
    cJSON *obj = make_object(size);
    int64_t t0 = 0, t1 = 0;
    long done = -1;
    if (strcmp(mode, "send-json") == 0) {
        oocsi_client *c = lib_connect(handle);
        char *text = malloc(size + 64);
        bench_payload(text, size + 64, 0, size);
        if (c) {
            t0 = bench_now_ns();
            done = measured_send_json(c, text, count);
            t1 = bench_now_ns();
        }
        free(text);
        oocsi_close(c);
    } else if (strcmp(mode, "recv-thread") == 0) {
        oocsi_client *c = lib_connect(handle);
        if (c && oocsi_subscribe(c, "cost", on_cost, NULL) == OOCSI_OK && oocsi_loop_start(c) == OOCSI_OK) {
            lib_received = 0;
            bench_child_hub_publish(&hub, "cost", count, size);
            t0 = bench_now_ns();
            int64_t end = t0 + RECV_BUDGET_NS;
            while (__atomic_load_n(&lib_received, __ATOMIC_RELAXED) < count && bench_now_ns() < end) {
                bench_sleep_ms(5);
            }
            t1 = bench_now_ns();
            done = __atomic_load_n(&lib_received, __ATOMIC_RELAXED);
        }
        oocsi_close(c);
    } else if (strcmp(mode, "send-lib") == 0 || strcmp(mode, "recv-lib") == 0) {
        oocsi_client *c = lib_connect(handle);
        int recv = mode[0] == 'r';
        if (c && (!recv || oocsi_subscribe(c, "cost", on_cost, NULL) == OOCSI_OK)) {
            lib_received = 0;
            if (recv) {
                bench_child_hub_publish(&hub, "cost", count, size);
            }
            t0 = bench_now_ns();
            done = recv ? measured_recv_lib(c, count) : measured_send_lib(c, obj, count);
            t1 = bench_now_ns();
        }
        oocsi_close(c);
    } else if (strcmp(mode, "send-raw") == 0 || strcmp(mode, "recv-raw") == 0) {
        bench_raw r;
        int recv = mode[0] == 'r';
        if (bench_raw_connect(&r, hub.port, handle, 5000) == 0) {
            if (!recv || bench_raw_subscribe(&r, "cost", 5000) == 0) {
                raw_received = 0;
                if (recv) {
                    bench_child_hub_publish(&hub, "cost", count, size);
                }
                t0 = bench_now_ns();
                done = recv ? measured_recv_raw(&r, count) : measured_send_raw(&r, obj, count);
                t1 = bench_now_ns();
            }
            bench_raw_close(&r);
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
    }
    cJSON_Delete(obj);
    out->done = done;
    out->seconds = (double)(t1 - t0) / 1e9;
    return done == count ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (bench_child_hub_start(&hub, 0) != 0) {
        fprintf(stderr, "cannot start the hub\n");
        return 1;
    }
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", hub.port);
    int failed = 0;
    if (argc == 4) {
        outcome o;
        long count = bench_arg_long(argc, argv, 3, 10000);
        failed = run_mode(argv[1], (size_t)bench_arg_long(argc, argv, 2, 50), count, &o) != 0;
        printf("%s size %s: %ld messages in %.3f s: %.0f msg/s; peak RSS (VmHWM) %ld KiB\n", argv[1], argv[2], o.done,
               o.seconds, o.seconds > 0 ? (double)o.done / o.seconds : 0.0, bench_hwm_kb());
        printf("HWM|%s|%s|%ld\n", argv[1], argv[2], bench_hwm_kb());
    } else {
        long count = bench_arg_long(argc, argv, 1, 100000);
        static const char *modes[] = {"send-lib", "send-json", "send-raw", "recv-lib", "recv-raw"};
        static const size_t sizes[] = {50, 4096};
        printf("client cost per message, %ld messages per mode (messages/s; run.sh adds callgrind figures)\n", count);
        for (int s = 0; s < 2; s++) {
            for (int m = 0; m < 5; m++) {
                outcome o;
                long n = sizes[s] > 1000 ? (count / 4 > 0 ? count / 4 : 1) : count;
                failed |= run_mode(modes[m], sizes[s], n, &o) != 0;
                double rate = o.seconds > 0 ? (double)o.done / o.seconds : 0.0;
                printf("%-9s %5zu B: %8ld messages in %7.3f s: %9.0f msg/s\n", modes[m], sizes[s], o.done, o.seconds,
                       rate);
                printf("RATE|%s|%zu|%.0f\n", modes[m], sizes[s], rate);
            }
        }
    }
    bench_child_hub_stop(&hub);
    return failed ? 1 : 0;
}
