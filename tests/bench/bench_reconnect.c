/*
 * Reconnect timing against the in-process hub (default reconnect backoff:
 * 100 ms initial with jitter, doubling up to 5 s).
 *
 *   bench_reconnect [ROUNDS] [DOWN_MS]     defaults 5 rounds, hub down 1000 ms
 *
 * Per round:
 *  - drop: the hub closes the client's connection (no bye) while staying up;
 *    measured: drop -> connected again (state handler).
 *  - outage: the hub stops (every connection closed, listener closed) for
 *    DOWN_MS, then listens again. Measured: stop -> the client's first
 *    reconnect attempt (its first "cannot open" / "attempt failed" debug log),
 *    and restart -> first message delivered on the restored subscription (a
 *    raw publisher sends on the channel every millisecond after the restart).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "hub.h"
#include "oocsi/oocsi.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t first_attempt_ns;  /* first failed attempt after arm_ns */
static int64_t arm_ns;            /* 0: not recording */
static atomic_llong connected_ns; /* last CONNECTED */
static atomic_llong delivered_ns; /* first delivery after arming */

static void logger(oocsi_log_level lvl, const char *msg, void *user)
{
    (void)lvl;
    (void)user;
    int64_t now = bench_now_ns();
    pthread_mutex_lock(&mu);
    if (arm_ns && !first_attempt_ns &&
        (strncmp(msg, "cannot open", 11) == 0 || strncmp(msg, "attempt on", 10) == 0 || strstr(msg, "cannot open"))) {
        first_attempt_ns = now;
    }
    pthread_mutex_unlock(&mu);
}

static void on_state(oocsi_client *c, oocsi_state st, int err, void *user)
{
    (void)c;
    (void)err;
    (void)user;
    if (st == OOCSI_STATE_CONNECTED) {
        atomic_store(&connected_ns, bench_now_ns());
    }
}

static void on_msg(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)m;
    (void)user;
    long long zero = 0;
    atomic_compare_exchange_strong(&delivered_ns, &zero, bench_now_ns());
}

static int wait_ll(atomic_llong *v, int timeout_ms)
{
    int64_t end = bench_now_ns() + (int64_t)timeout_ms * 1000000LL;
    while (atomic_load(v) == 0) {
        if (bench_now_ns() > end) {
            return -1;
        }
        bench_sleep_ms(1);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long rounds = bench_arg_long(argc, argv, 1, 5);
    long down_ms = bench_arg_long(argc, argv, 2, 1000);
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    oocsi_hub *hub = oocsi_hub_start(&ho);
    if (!hub) {
        return 1;
    }
    char url[64], handle[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", oocsi_hub_port(hub));
    snprintf(handle, sizeof handle, "rc_sub_%ld", (long)getpid());
    oocsi_options *o = oocsi_options_new();
    oocsi_options_set_handle(o, handle);
    oocsi_options_add_endpoint(o, url);
    oocsi_options_set_logger(o, logger, NULL);
    oocsi_options_set_log_level(o, OOCSI_LOG_DEBUG);
    oocsi_options_set_state_handler(o, on_state, NULL);
    oocsi_client *c = NULL;
    int rc = oocsi_connect(&c, o);
    oocsi_options_free(o);
    if (rc != OOCSI_OK || oocsi_subscribe(c, "rc", on_msg, NULL) != OOCSI_OK || oocsi_loop_start(c) != OOCSI_OK) {
        fprintf(stderr, "cannot connect: %s\n", oocsi_strerror(rc));
        oocsi_close(c);
        oocsi_hub_free(hub);
        return 1;
    }
    /* the first CONNECTED note is dispatched by the loop thread: let it pass */
    if (wait_ll(&connected_ns, 5000) != 0) {
        fprintf(stderr, "no CONNECTED state\n");
    }
    double *drop_ms = calloc((size_t)rounds, sizeof(double));
    double *retry_ms = calloc((size_t)rounds, sizeof(double));
    double *restore_ms = calloc((size_t)rounds, sizeof(double));
    int failed = 0;
    printf("reconnect: %ld rounds, hub down %ld ms per outage\n", rounds, down_ms);
    for (long r = 0; r < rounds && !failed; r++) {
        /* drop */
        atomic_store(&connected_ns, 0);
        int64_t t0 = bench_now_ns();
        if (oocsi_hub_drop_client(hub, handle) != 0 || wait_ll(&connected_ns, 10000) != 0) {
            failed = 1;
            break;
        }
        drop_ms[r] = (double)(atomic_load(&connected_ns) - t0) / 1e6;
        if (!oocsi_hub_wait_subscribed(hub, handle, "rc", 5000)) {
            failed = 1;
            break;
        }
        /* outage */
        pthread_mutex_lock(&mu);
        first_attempt_ns = 0;
        pthread_mutex_unlock(&mu);
        atomic_store(&delivered_ns, 0);
        t0 = bench_now_ns();
        pthread_mutex_lock(&mu);
        arm_ns = t0;
        pthread_mutex_unlock(&mu);
        oocsi_hub_stop(hub);
        bench_sleep_ms((int)down_ms);
        if (oocsi_hub_restart(hub) != 0) {
            failed = 1;
            break;
        }
        int64_t t1 = bench_now_ns();
        bench_raw pub;
        char ph[64];
        snprintf(ph, sizeof ph, "rc_pub_%ld_%ld", (long)getpid(), r);
        if (bench_raw_connect(&pub, oocsi_hub_port(hub), ph, 5000) != 0) {
            failed = 1;
            break;
        }
        int64_t end = t1 + 15LL * 1000000000LL;
        while (atomic_load(&delivered_ns) == 0 && bench_now_ns() < end) {
            static const char m[] = "sendraw rc {\"k\":1}\n";
            bench_raw_write(&pub, m, sizeof m - 1);
            bench_sleep_ms(1);
        }
        bench_raw_close(&pub);
        pthread_mutex_lock(&mu);
        arm_ns = 0;
        retry_ms[r] = first_attempt_ns ? (double)(first_attempt_ns - t0) / 1e6 : -1.0;
        pthread_mutex_unlock(&mu);
        if (atomic_load(&delivered_ns) == 0) {
            failed = 1;
            break;
        }
        restore_ms[r] = (double)(atomic_load(&delivered_ns) - t1) / 1e6;
        printf("round %ld: drop -> reconnected %.1f ms; outage: first retry %.1f ms after the drop, first message "
               "%.1f ms after the hub came back\n",
               r, drop_ms[r], retry_ms[r], restore_ms[r]);
    }
    oocsi_close(c);
    oocsi_hub_free(hub);
    if (!failed) {
        double d50 = bench_percentile(drop_ms, (size_t)rounds, 50),
               dmax = bench_percentile(drop_ms, (size_t)rounds, 100);
        double f50 = bench_percentile(retry_ms, (size_t)rounds, 50),
               fmax = bench_percentile(retry_ms, (size_t)rounds, 100);
        double s50 = bench_percentile(restore_ms, (size_t)rounds, 50),
               smax = bench_percentile(restore_ms, (size_t)rounds, 100);
        printf("ROW|4|first retry after a drop (ms), median / max of %ld|%.1f / %.1f|-|< 500 ms|%s|\n", rounds, f50,
               fmax, fmax >= 0 && fmax < 500.0 ? "yes" : "no");
        printf("ROW|4|drop with the hub up -> reconnected (ms), median / max|%.1f / %.1f|-|-|-|\n", d50, dmax);
        printf("ROW|4|hub back after %ld ms down -> first message on the restored subscription (ms), median / "
               "max|%.1f / %.1f|-|-|-|\n",
               down_ms, s50, smax);
    }
    free(drop_ms);
    free(retry_ms);
    free(restore_ms);
    return failed ? 1 : 0;
}
