/*
 * The libmosquitto baseline of bench_msgcost: publishing and receiving the
 * same payloads at QoS 0 through a local mosquitto broker (started by
 * tests/bench/run.sh on loopback), doing the same JSON work as the OOCSI
 * client (send: cJSON_PrintUnformatted of the object, then publish;
 * receive: cJSON_Parse of each payload and reading "i"; send-text: the same
 * payload prepared once as text and published as it is, the twin of
 * bench_msgcost's send-json).
 *
 *   bench_mosquitto PORT [COUNT]            both modes, sizes 50 and 4096
 *   bench_mosquitto PORT MODE SIZE COUNT    one mode (send, send-text or recv), for callgrind
 *
 * Single-threaded client (mosquitto_loop() driven by the benchmark). For the
 * receive mode a forked child process publishes, so its work is not counted.
 * Measured loops: measured_mosq_send(), measured_mosq_recv().
 */
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include <cjson/cJSON.h>

#define RECV_IDLE_NS (5LL * 1000000000LL)

static int port;
static long received;
static int64_t sum, last_rx;
static int subscribed;

long measured_mosq_send(struct mosquitto *m, cJSON *obj, long count);
long measured_mosq_recv(struct mosquitto *m, long count);
long measured_mosq_send_text(struct mosquitto *m, const char *text, long count);

static void on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg)
{
    (void)m;
    (void)user;
    cJSON *root = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(root, "i");
    if (cJSON_IsNumber(i)) {
        sum += (int64_t)i->valuedouble;
    }
    cJSON_Delete(root);
    received++;
    last_rx = bench_now_ns();
}

static void on_subscribe(struct mosquitto *m, void *user, int mid, int qos_count, const int *granted)
{
    (void)m;
    (void)user;
    (void)mid;
    (void)qos_count;
    (void)granted;
    subscribed = 1;
}

static void on_connect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    *(int *)user = rc == 0 ? 1 : -1;
}

/* Connects and waits for the CONNACK (QoS 0 messages published before it
 * are not delivered). */
static struct mosquitto *mosq_connect(void)
{
    static int connected;
    connected = 0;
    struct mosquitto *m = mosquitto_new(NULL, true, &connected);
    if (!m) {
        return NULL;
    }
    mosquitto_connect_callback_set(m, on_connect);
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(m);
        return NULL;
    }
    int64_t end = bench_now_ns() + 5000000000LL;
    while (connected == 0 && bench_now_ns() < end) {
        mosquitto_loop(m, 100, 1);
    }
    if (connected != 1) {
        mosquitto_destroy(m);
        return NULL;
    }
    return m;
}

static cJSON *make_object(size_t size)
{
    char *buf = malloc(size + 64);
    bench_payload(buf, size + 64, 0, size);
    cJSON *o = cJSON_Parse(buf);
    free(buf);
    return o;
}

__attribute__((noinline)) long measured_mosq_send(struct mosquitto *m, cJSON *obj, long count)
{
    cJSON *num = cJSON_GetObjectItemCaseSensitive(obj, "i");
    long sent = 0;
    for (long i = 0; i < count; i++) {
        cJSON_SetNumberValue(num, (double)i);
        char *json = cJSON_PrintUnformatted(obj);
        if (!json) {
            break;
        }
        int rc = mosquitto_publish(m, NULL, "sink", (int)strlen(json), json, 0, false);
        free(json);
        if (rc != MOSQ_ERR_SUCCESS) {
            break;
        }
        sent++;
        if ((i & 255) == 255) {
            mosquitto_loop(m, 0, 1);
        }
    }
    return sent;
}

__attribute__((noinline)) long measured_mosq_send_text(struct mosquitto *m, const char *text, long count)
{
    long sent = 0;
    for (long i = 0; i < count; i++) {
        /* the same work as oocsi_send_json(), which takes a C string: its length */
        if (mosquitto_publish(m, NULL, "sink", (int)strlen(text), text, 0, false) != MOSQ_ERR_SUCCESS) {
            break;
        }
        sent++;
        if ((i & 255) == 255) {
            mosquitto_loop(m, 0, 1);
        }
    }
    return sent;
}

__attribute__((noinline)) long measured_mosq_recv(struct mosquitto *m, long count)
{
    last_rx = bench_now_ns();
    while (received < count && bench_now_ns() - last_rx < RECV_IDLE_NS) {
        if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS) {
            break;
        }
    }
    return received;
}

/* The publisher of the receive mode, in a child process. */
static void child_publisher(int go_fd, size_t size, long count)
{
    char c;
    if (read(go_fd, &c, 1) != 1) {
        _exit(1);
    }
    struct mosquitto *m = mosq_connect();
    if (!m) {
        _exit(1);
    }
    char *buf = malloc(size + 64);
    for (long i = 0; i < count; i++) {
        size_t n = bench_payload(buf, size + 64, i, size);
        while (mosquitto_publish(m, NULL, "cost", (int)n, buf, 0, false) == MOSQ_ERR_NOMEM) {
            mosquitto_loop(m, 10, 1);
        }
        if ((i & 63) == 63) {
            mosquitto_loop(m, 0, 1);
        }
    }
    for (int k = 0; k < 1000 && mosquitto_want_write(m); k++) {
        mosquitto_loop(m, 10, 1);
    }
    mosquitto_disconnect(m);
    mosquitto_loop(m, 10, 1);
    mosquitto_destroy(m);
    free(buf);
    _exit(0);
}

static int run_mode(const char *mode, size_t size, long count, double *seconds, long *done)
{
    int recv = strcmp(mode, "recv") == 0;
    int go[2] = {-1, -1};
    pid_t child = -1;
    *done = -1;
    *seconds = 0;
    if (recv) {
        if (pipe(go) != 0) {
            return -1;
        }
        fflush(NULL);
        child = fork();
        if (child == 0) {
            close(go[1]);
            child_publisher(go[0], size, count);
        }
        close(go[0]);
    }
    struct mosquitto *m = mosq_connect();
    cJSON *obj = make_object(size);
    int64_t t0 = 0, t1 = 0;
    if (m) {
        mosquitto_message_callback_set(m, on_message);
        mosquitto_subscribe_callback_set(m, on_subscribe);
        received = 0;
        subscribed = 0;
        if (recv) {
            mosquitto_subscribe(m, NULL, "cost", 0);
            int64_t end = bench_now_ns() + 5000000000LL;
            while (!subscribed && bench_now_ns() < end) {
                mosquitto_loop(m, 100, 1);
            }
            if (subscribed && write(go[1], "g", 1) == 1) {
                t0 = bench_now_ns();
                *done = measured_mosq_recv(m, count);
                t1 = last_rx;
            }
        } else if (strcmp(mode, "send-text") == 0) {
            char *text = malloc(size + 64);
            bench_payload(text, size + 64, 0, size);
            t0 = bench_now_ns();
            *done = measured_mosq_send_text(m, text, count);
            t1 = bench_now_ns();
            free(text);
            for (int k = 0; k < 1000 && mosquitto_want_write(m); k++) {
                mosquitto_loop(m, 10, 1);
            }
        } else {
            t0 = bench_now_ns();
            *done = measured_mosq_send(m, obj, count);
            t1 = bench_now_ns();
            for (int k = 0; k < 1000 && mosquitto_want_write(m); k++) {
                mosquitto_loop(m, 10, 1);
            }
        }
        mosquitto_disconnect(m);
        mosquitto_destroy(m);
    } else {
        fprintf(stderr, "cannot connect to the broker on port %d\n", port);
    }
    cJSON_Delete(obj);
    if (recv) {
        close(go[1]);
        if (child > 0) {
            int st;
            waitpid(child, &st, 0);
        }
    }
    *seconds = (double)(t1 - t0) / 1e9;
    return *done == count ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (port = atoi(argv[1])) <= 0) {
        fprintf(stderr, "usage: %s PORT [COUNT] | PORT MODE SIZE COUNT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    int failed = 0;
    double s;
    long done;
    if (argc == 5) {
        long count = bench_arg_long(argc, argv, 4, 10000);
        failed = run_mode(argv[2], (size_t)bench_arg_long(argc, argv, 3, 50), count, &s, &done) != 0;
        printf("mosquitto %s size %s: %ld messages in %.3f s: %.0f msg/s; peak RSS (VmHWM) %ld KiB\n", argv[2], argv[3],
               done, s, s > 0 ? (double)done / s : 0.0, bench_hwm_kb());
        printf("HWM|%s-mosq|%s|%ld\n", argv[2], argv[3], bench_hwm_kb());
    } else {
        long count = bench_arg_long(argc, argv, 2, 100000);
        static const char *modes[] = {"send", "send-text", "recv"};
        static const size_t sizes[] = {50, 4096};
        for (int z = 0; z < 2; z++) {
            for (int k = 0; k < 3; k++) {
                long n = sizes[z] > 1000 ? (count / 4 > 0 ? count / 4 : 1) : count;
                failed |= run_mode(modes[k], sizes[z], n, &s, &done) != 0;
                double rate = s > 0 ? (double)done / s : 0.0;
                printf("mosquitto %-4s %5zu B: %8ld/%ld messages in %7.3f s: %9.0f msg/s\n", modes[k], sizes[z], done,
                       n, s, rate);
                printf("RATE|%s-mosq|%zu|%.0f\n", modes[k], sizes[z], rate);
            }
        }
    }
    mosquitto_lib_cleanup();
    return failed ? 1 : 0;
}
