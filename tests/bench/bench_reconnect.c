/*
 * Reconnect timing against the in-process hub (default reconnect backoff:
 * 100 ms initial with jitter, doubling up to 5 s).
 *
 *   bench_reconnect [ROUNDS] [DOWN_MS[,DOWN_MS...]]
 *                          defaults 5 rounds, hub down 1000, 3000, 10000 ms
 *
 * Per round:
 *  - drop: the hub closes the client's connection (no bye) while staying up;
 *    measured: drop -> connected again (state handler).
 *  - outages: for each DOWN_MS, the hub stops (every connection closed,
 *    listener closed) for DOWN_MS, then listens again. Measured: stop -> the client's first
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

/* One outage of down_ms; the time from the restart to the first delivered
 * message in *restore_ms, from the stop to the first attempt in *retry_ms.
 * 0 or -1. */
static int outage(oocsi_hub *hub, long down_ms, long r, double *retry_ms, double *restore_ms)
{
    pthread_mutex_lock(&mu);
    first_attempt_ns = 0;
    pthread_mutex_unlock(&mu);
    atomic_store(&delivered_ns, 0);
    int64_t t0 = bench_now_ns();
    pthread_mutex_lock(&mu);
    arm_ns = t0;
    pthread_mutex_unlock(&mu);
    oocsi_hub_stop(hub);
    bench_sleep_ms((int)down_ms);
    if (oocsi_hub_restart(hub) != 0) {
        return -1;
    }
    int64_t t1 = bench_now_ns();
    bench_raw pub;
    char ph[64];
    snprintf(ph, sizeof ph, "rc_pub_%ld_%ld_%ld", (long)getpid(), down_ms, r);
    if (bench_raw_connect(&pub, oocsi_hub_port(hub), ph, 5000) != 0) {
        return -1;
    }
    int64_t end = t1 + 30LL * 1000000000LL;
    while (atomic_load(&delivered_ns) == 0 && bench_now_ns() < end) {
        static const char m[] = "sendraw rc {\"k\":1}\n";
        bench_raw_write(&pub, m, sizeof m - 1);
        bench_sleep_ms(1);
    }
    bench_raw_close(&pub);
    pthread_mutex_lock(&mu);
    arm_ns = 0;
    *retry_ms = first_attempt_ns ? (double)(first_attempt_ns - t0) / 1e6 : -1.0;
    pthread_mutex_unlock(&mu);
    if (atomic_load(&delivered_ns) == 0) {
        return -1;
    }
    *restore_ms = (double)(atomic_load(&delivered_ns) - t1) / 1e6;
    return 0;
}

#define MAX_OUTAGES 8

int main(int argc, char **argv)
{
    long rounds = bench_arg_long(argc, argv, 1, 5);
    long downs[MAX_OUTAGES] = {1000, 3000, 10000};
    int n_downs = 3;
    if (argc > 2) {
        /* DOWN_MS[,DOWN_MS...] */
        n_downs = 0;
        for (char *p = argv[2]; *p && n_downs < MAX_OUTAGES;) {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p || v <= 0) {
                fprintf(stderr, "usage: %s [ROUNDS] [DOWN_MS[,DOWN_MS...]]\n", argv[0]);
                return 2;
            }
            downs[n_downs++] = v;
            p = *e == ',' ? e + 1 : e;
        }
    }
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
    double *retry_ms = calloc((size_t)rounds * (size_t)n_downs, sizeof(double));
    double *restore_ms = calloc((size_t)rounds * (size_t)n_downs, sizeof(double));
    int failed = !drop_ms || !retry_ms || !restore_ms;
    printf("reconnect: %ld rounds; per round one drop and one outage of each length\n", rounds);
    for (long r = 0; r < rounds && !failed; r++) {
        /* drop */
        atomic_store(&connected_ns, 0);
        int64_t t0 = bench_now_ns();
        if (oocsi_hub_drop_client(hub, handle) != 0 || wait_ll(&connected_ns, 10000) != 0) {
            failed = 1;
            break;
        }
        drop_ms[r] = (double)(atomic_load(&connected_ns) - t0) / 1e6;
        printf("round %ld: drop -> reconnected %.1f ms\n", r, drop_ms[r]);
        for (int d = 0; d < n_downs && !failed; d++) {
            if (!oocsi_hub_wait_subscribed(hub, handle, "rc", 5000)) {
                failed = 1;
                break;
            }
            size_t k = (size_t)d * (size_t)rounds + (size_t)r;
            if (outage(hub, downs[d], r, &retry_ms[k], &restore_ms[k]) != 0) {
                failed = 1;
                break;
            }
            printf("round %ld: hub down %ld ms: first retry %.1f ms after the stop, first message %.1f ms after "
                   "the hub came back\n",
                   r, downs[d], retry_ms[k], restore_ms[k]);
        }
    }
    oocsi_close(c);
    oocsi_hub_free(hub);
    if (!failed) {
        double d50 = bench_percentile(drop_ms, (size_t)rounds, 50),
               dmax = bench_percentile(drop_ms, (size_t)rounds, 100);
        printf("ROW|4|connection dropped, hub up -> reconnected (ms), median / max of %ld|%.1f / %.1f|-|-|-|-|-|-|\n",
               rounds, d50, dmax);
        for (int d = 0; d < n_downs; d++) {
            double *rs = restore_ms + (size_t)d * (size_t)rounds;
            double *fs = retry_ms + (size_t)d * (size_t)rounds;
            double f50 = bench_percentile(fs, (size_t)rounds, 50);
            double s50 = bench_percentile(rs, (size_t)rounds, 50), smax = bench_percentile(rs, (size_t)rounds, 100);
            char len[32];
            if (downs[d] % 1000 == 0) {
                snprintf(len, sizeof len, "%ld s", downs[d] / 1000);
            } else {
                snprintf(len, sizeof len, "%ld ms", downs[d]);
            }
            printf("ROW|4|hub down %s, back -> first message on the restored subscription (ms), median / max of "
                   "%ld|%.1f / %.1f|-|-|-|median <= 500 ms|%s|median %.0f ms (first retry %.0f ms after the stop)|\n",
                   len, rounds, s50, smax, s50 <= 500.0 ? "yes" : "no", s50, f50);
        }
    }
    free(drop_ms);
    free(retry_ms);
    free(restore_ms);
    return failed ? 1 : 0;
}
