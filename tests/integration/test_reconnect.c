/*
 * Integration: connection loss and recovery: drops, hub
 * restarts, the offline queue, giving up, keep-alive, failover.
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_hub_stopped;

/* The server under test stops (every connection drops) and starts again on
 * the same port: the hub in-process, the Java server as a new process. */
static void hub_stop(void)
{
    if (it_server_is_java())
        it_java_kill();
    else
        assert_int_equal(oocsi_hub_stop(it_hub), 0);
    g_hub_stopped = 1;
}

static void hub_restart(void)
{
    if (it_server_is_java())
        assert_int_equal(it_java_restart(), 0);
    else
        assert_int_equal(oocsi_hub_restart(it_hub), 0);
    g_hub_stopped = 0;
}

/* The server drops the client's connection: the hub drops that one; the
 * Java server has no such facility and is restarted instead (every client
 * drops; the clients' reconnect attempts fail until it is back). */
static void server_drops(const char *handle)
{
    if (it_server_is_java()) {
        hub_stop();
        hub_restart();
    } else {
        assert_int_equal(oocsi_hub_drop_client(it_hub, handle), 0);
    }
}

static int teardown(void **state)
{
    it_test_teardown(state);
    if (g_hub_stopped) {
        if (it_server_is_java())
            (void)it_java_restart();
        else
            oocsi_hub_restart(it_hub);
        g_hub_stopped = 0;
    }
    return 0;
}

#define RC_TEST(f) cmocka_unit_test_setup_teardown(f, it_test_setup, teardown)

typedef struct watched {
    oocsi_client *c;
    it_states *states;
    it_inbox *direct;
    char handle[64];
} watched;

/* A client with a state recorder and a direct inbox; opts may be prepared by the caller. */
static void watched_connect(watched *w, const char *prefix, oocsi_options *opts, int bg)
{
    it_unique(w->handle, sizeof w->handle, prefix);
    w->states = it_states_new();
    w->direct = it_inbox_new();
    if (!opts)
        opts = it_options(NULL);
    assert_int_equal(oocsi_options_set_handle(opts, w->handle), OOCSI_OK);
    assert_int_equal(oocsi_options_set_state_handler(opts, it_state_handler, w->states), OOCSI_OK);
    assert_int_equal(oocsi_options_set_direct_handler(opts, it_inbox_handler, w->direct), OOCSI_OK);
    w->c = it_connect_opts(opts);
    assert_string_equal(oocsi_handle(w->c), w->handle);
    if (bg)
        it_loop_start(w->c);
    /* The first welcome is reported too: event 0 is CONNECTED. */
    assert_int_equal(it_states_settle(w->states), 1);
}

/* Waits for OFFLINE then CONNECTED after event index from; returns the CONNECTED index. */
static int wait_reconnect(watched *w, int from, int *offline_err)
{
    int off = it_states_wait_for(w->states, from, OOCSI_STATE_OFFLINE, IT_TIMEOUT);
    if (off < 0)
        fail_msg("%s: no OFFLINE state", w->handle);
    it_states_at(w->states, off, offline_err);
    int on = it_states_wait_for(w->states, off + 1, OOCSI_STATE_CONNECTED, 2 * IT_TIMEOUT);
    if (on < 0)
        fail_msg("%s: no CONNECTED state after OFFLINE", w->handle);
    return on;
}

static void add_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    int64_t a = 0, b = 0;
    (void)oocsi_message_get_int(req, "a", &a);
    (void)oocsi_message_get_int(req, "b", &b);
    cJSON_AddNumberToObject(response, "sum", (double)(a + b));
}

static void send_i(oocsi_client *c, const char *to, int i)
{
    char json[48];
    snprintf(json, sizeof json, "{\"i\":%d}", i);
    int rc = oocsi_send_json(c, to, json);
    if (rc != OOCSI_OK)
        fail_msg("send #%d: %d (%s)", i, rc, oocsi_strerror(rc));
}

/* Asserts that in holds exactly {"i":0}..{"i":n-1} from index from on, in order. */
static void assert_sequence(it_inbox *in, int from, int n)
{
    for (int i = 0; i < n; i++) {
        const it_msg *m = it_inbox_at(in, from + i);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->data, "i");
        if (!cJSON_IsNumber(v) || (int)v->valuedouble != i)
            fail_msg("message %d is %s, expected {\"i\":%d}", from + i, m->json ? m->json : "(null)", i);
    }
}

static void test_drop_restores_everything(void **state)
{
    (void)state;
    char ch[64], svc[64];
    it_unique(ch, sizeof ch, "rc_ch");
    it_unique(svc, sizeof svc, "rc_svc");
    watched a;
    watched_connect(&a, "drop_a", NULL, 1);
    it_inbox *chan = it_inbox_new();
    assert_int_equal(oocsi_subscribe(a.c, ch, it_inbox_handler, chan), OOCSI_OK);
    assert_int_equal(oocsi_register(a.c, svc, "add", add_responder, NULL), OOCSI_OK);
    char vch[64];
    it_unique(vch, sizeof vch, "rc_var");
    oocsi_variable *var = oocsi_variable_new(a.c, vch, "v");
    assert_non_null(var);
    oocsi_client *b = it_connect_bg(NULL);
    assert_int_equal(it_states_count(a.states), 1);

    server_drops(a.handle);
    int err = 0;
    int on = wait_reconnect(&a, 1, &err);
    assert_int_not_equal(err, OOCSI_OK);
    assert_int_equal(oocsi_is_connected(a.c), 1);
    assert_string_equal(oocsi_handle(a.c), a.handle);
    assert_non_null(it_states_endpoint(a.states, on));
    assert_int_equal(it_wait_subscribed(it_hub, a.handle, ch, IT_TIMEOUT), 1);
    assert_int_equal(it_wait_subscribed(it_hub, a.handle, svc, IT_TIMEOUT), 1);

    assert_int_equal(oocsi_send_json(b, ch, "{\"after\":1}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(chan, 1, IT_TIMEOUT), 1);
    IT_ASSERT_JSON(it_inbox_at(chan, 0)->data, "{\"after\":1}");
    cJSON *req = it_json("{\"a\":4,\"b\":5}"), *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(b, svc, "add", req, IT_TIMEOUT, &resp), OOCSI_OK);
    IT_ASSERT_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "sum")), 9, 1e-9);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    /* The variable's channel is subscribed again too. */
    assert_int_equal(it_wait_subscribed(it_hub, a.handle, vch, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_send_json(b, vch, "{\"v\":12.5}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(b, a.handle, "{\"flush\":\"v\"}"), OOCSI_OK);
    int flushed = it_inbox_wait_str(a.direct, "flush", "v", IT_TIMEOUT);
    double value = oocsi_variable_get(var);
    oocsi_variable_free(var);
    assert_true(flushed >= 0);
    IT_ASSERT_NEAR(value, 12.5, 1e-9);
    /* Exactly one OFFLINE/CONNECTED pair after the first CONNECTED. */
    assert_int_equal(it_states_count(a.states), 3);
}

static void test_offline_sends_after_drop(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_drop_client (a squatter takes the name before the client is back)");
    enum { N = 50 };
    char ch[64];
    it_unique(ch, sizeof ch, "offline_ch");
    oocsi_client *b = it_connect_bg(NULL);
    it_inbox *chan = it_inbox_new();
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, chan), OOCSI_OK);
    /* A slow first retry leaves the squatter below time to take the name. */
    oocsi_options *o = it_options(NULL);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 1000, 1000), OOCSI_OK);
    watched a;
    watched_connect(&a, "offline_a", o, 1);

    assert_int_equal(oocsi_hub_drop_client(it_hub, a.handle), 0);
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    /* A squatter takes the name: a's reconnect attempts get "name already
     * registered" (transient) until it leaves. */
    it_raw *squatter = it_raw_connect(it_server_port(), a.handle);
    if (!squatter)
        fail_msg("the client was back before the squatter (first retry far earlier than 500 ms?)");
    for (int i = 0; i < N; i++)
        send_i(a.c, ch, i);
    assert_int_equal(oocsi_is_connected(a.c), 0);
    it_pump_for(300); /* a few rejected attempts meanwhile */
    assert_int_equal(oocsi_is_connected(a.c), 0);
    it_raw_close(squatter);
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_CONNECTED, 2 * IT_TIMEOUT) >= 0);
    assert_int_equal(it_states_wait_for(a.states, 1, OOCSI_STATE_CLOSED, 0), -1);
    assert_int_equal(oocsi_send_json(a.c, ch, "{\"end\":\"yes\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(chan, "end", "yes", IT_TIMEOUT) >= 0);
    /* Exactly once, in order, before the message sent after reconnecting. */
    assert_int_equal(it_inbox_count(chan), N + 1);
    assert_sequence(chan, 0, N);
    (void)b;
}

static void test_hub_restart(void **state)
{
    (void)state;
    enum { N = 20 };
    char ch[64], ch2[64], svc[64], late[64];
    it_unique(ch, sizeof ch, "restart_ch");
    it_unique(ch2, sizeof ch2, "restart_ch2");
    it_unique(svc, sizeof svc, "restart_svc");
    it_unique(late, sizeof late, "restart_late");
    watched a, b;
    watched_connect(&a, "restart_a", NULL, 1);
    watched_connect(&b, "restart_b", NULL, 1);
    it_inbox *a_chan = it_inbox_new(), *b_chan = it_inbox_new(), *a_late = it_inbox_new();
    assert_int_equal(oocsi_subscribe(a.c, ch, it_inbox_handler, a_chan), OOCSI_OK);
    assert_int_equal(oocsi_register(a.c, svc, "add", add_responder, NULL), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(b.c, ch2, it_inbox_handler, b_chan), OOCSI_OK);

    hub_stop();
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    assert_true(it_states_wait_for(b.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    assert_int_equal(oocsi_is_connected(a.c), 0);
    /* Sent while offline (to itself: delivered as soon as it is back). */
    for (int i = 0; i < N; i++)
        send_i(a.c, a.handle, i);
    /* Queries need the server: OOCSI_ERR_CLOSED while offline, at once. */
    char *out = NULL;
    int64_t tq = it_now_ms();
    assert_int_equal(oocsi_clients(a.c, IT_LONG_WAIT_MS, &out), OOCSI_ERR_CLOSED);
    assert_null(out);
    assert_true(it_now_ms() - tq < IT_HANG_MS); /* not the query's timeout */
    /* Subscribing while offline is recorded and returns at once (the hub is
     * down until hub_restart below: waiting for it would never end). */
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_subscribe(a.c, late, it_inbox_handler, a_late), OOCSI_OK);
    assert_true(it_now_ms() - t0 < IT_HANG_MS);

    hub_restart();
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_CONNECTED, 2 * IT_TIMEOUT) >= 0);
    assert_true(it_states_wait_for(b.states, 1, OOCSI_STATE_CONNECTED, 2 * IT_TIMEOUT) >= 0);
    assert_int_equal(it_inbox_wait(a.direct, N, IT_TIMEOUT), 1);
    send_i(a.c, a.handle, N);
    assert_int_equal(it_inbox_wait(a.direct, N + 1, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_count(a.direct), N + 1);
    assert_sequence(a.direct, 0, N + 1);

    assert_int_equal(it_wait_subscribed(it_hub, a.handle, ch, IT_TIMEOUT), 1);
    assert_int_equal(it_wait_subscribed(it_hub, a.handle, svc, IT_TIMEOUT), 1);
    assert_int_equal(it_wait_subscribed(it_hub, a.handle, late, IT_TIMEOUT), 1);
    assert_int_equal(it_wait_subscribed(it_hub, b.handle, ch2, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_send_json(b.c, ch, "{\"to\":\"a\"}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(b.c, late, "{\"to\":\"late\"}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a.c, ch2, "{\"to\":\"b\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(a_chan, 1, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_wait(a_late, 1, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_wait(b_chan, 1, IT_TIMEOUT), 1);
    IT_ASSERT_JSON(it_inbox_at(a_chan, 0)->data, "{\"to\":\"a\"}");
    IT_ASSERT_JSON(it_inbox_at(b_chan, 0)->data, "{\"to\":\"b\"}");
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(b.c, svc, "add", NULL, IT_TIMEOUT, &resp), OOCSI_OK);
    assert_non_null(resp);
    cJSON_Delete(resp);
}

static void test_max_attempts_then_closed(void **state)
{
    (void)state;
    it_log *log = it_log_new();
    oocsi_options *o = it_options(NULL);
    assert_int_equal(oocsi_options_set_max_reconnect_attempts(o, 2), OOCSI_OK);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 50, 200), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, it_log_fn, log), OOCSI_OK);
    watched a;
    watched_connect(&a, "giveup", o, 0); /* caller-driven: it_wait_until drives it */
    hub_stop();
    int closed = it_states_wait_for(a.states, 1, OOCSI_STATE_CLOSED, 3 * IT_TIMEOUT);
    if (closed < 0)
        fail_msg("no CLOSED state after 2 failed reconnect attempts");
    assert_int_equal(it_states_at(a.states, 1, NULL), OOCSI_STATE_OFFLINE);
    for (int i = 1; i < closed; i++)
        assert_int_not_equal(it_states_at(a.states, i, NULL), OOCSI_STATE_CONNECTED);
    assert_int_equal(oocsi_is_connected(a.c), 0);
    assert_int_equal(oocsi_loop(a.c, 0), OOCSI_ERR_CLOSED);
    assert_int_equal(oocsi_send_json(a.c, "x", "{}"), OOCSI_ERR_CLOSED);
    assert_int_equal(oocsi_subscribe(a.c, "x", it_inbox_handler, a.direct), OOCSI_ERR_CLOSED);
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(a.c, "x", "f", NULL, 100, &resp), OOCSI_ERR_CLOSED);
    assert_null(resp);
    char *out = NULL;
    assert_int_equal(oocsi_clients(a.c, 100, &out), OOCSI_ERR_CLOSED);
    assert_null(out);
    /* "the logger says so" */
    assert_true(it_log_count(log, OOCSI_LOG_WARN) > 0);
    /* The hub coming back changes nothing. */
    hub_restart();
    assert_int_equal(it_wait_hub_client(it_hub, a.handle, 300), 0);
    assert_int_equal(oocsi_loop(a.c, 0), OOCSI_ERR_CLOSED);
}

/* The delays a client chooses ("reconnecting in N ms", its debug log). */
typedef struct delays {
    pthread_mutex_t lock;
    int v[64];
    int n;
} delays;

static void delays_log(oocsi_log_level lvl, const char *msg, void *user)
{
    delays *d = user;
    int ms;
    (void)lvl;
    if (sscanf(msg, "reconnecting in %d ms", &ms) == 1) {
        pthread_mutex_lock(&d->lock);
        if (d->n < 64)
            d->v[d->n++] = ms;
        pthread_mutex_unlock(&d->lock);
        it_notify();
    }
}

static int delays_at_least(void *ctx)
{
    delays *d = ctx;
    pthread_mutex_lock(&d->lock);
    int n = d->n;
    pthread_mutex_unlock(&d->lock);
    return n >= 8;
}

/* A server we were connected to that cannot be reached (stopped, its
 * listener closed) is retried often, so that a restart is noticed soon:
 * with delays of 100 ms doubling to 5 s, every delay stays within the
 * recovery cap (800 ms) instead of growing to 1.6 s, 3.2 s, 5 s. Then the
 * server comes back and the client is connected again. */
static void test_outage_retries_stay_frequent(void **state)
{
    (void)state;
    static delays d;
    memset(&d, 0, sizeof d);
    pthread_mutex_init(&d.lock, NULL);
    oocsi_options *o = it_options(NULL);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 100, 5000), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, delays_log, &d), OOCSI_OK);
    assert_int_equal(oocsi_options_set_log_level(o, OOCSI_LOG_DEBUG), OOCSI_OK);
    watched a;
    watched_connect(&a, "outage", o, 1);
    hub_stop();
    /* eight delays: the one after the loss, then seven failed passes (the
     * fifth would be 0.8-1.6 s, the sixth 1.6-3.2 s without the cap) */
    if (!it_wait_until(delays_at_least, &d, 30 * IT_TIMEOUT))
        fail_msg("fewer than 8 reconnect delays logged (%d) while the hub was down", d.n);
    pthread_mutex_lock(&d.lock);
    for (int i = 0; i < d.n; i++)
        if (d.v[i] > 800 || d.v[i] <= 0)
            fail_msg("reconnect delay %d of %d was %d ms: above the 800 ms cap of a recovering server", i + 1, d.n,
                     d.v[i]);
    pthread_mutex_unlock(&d.lock);
    hub_restart();
    wait_reconnect(&a, 1, NULL);
    it_close(a.c);
    pthread_mutex_destroy(&d.lock);
}

static void test_zero_attempts(void **state)
{
    (void)state;
    oocsi_options *o = it_options(NULL);
    assert_int_equal(oocsi_options_set_max_reconnect_attempts(o, 0), OOCSI_OK);
    watched a;
    watched_connect(&a, "never", o, 1);
    server_drops(a.handle);
    int closed = it_states_wait_for(a.states, 1, OOCSI_STATE_CLOSED, IT_TIMEOUT);
    assert_true(closed >= 0);
    for (int i = 1; i < closed; i++)
        assert_int_not_equal(it_states_at(a.states, i, NULL), OOCSI_STATE_CONNECTED);
    assert_int_equal(oocsi_send_json(a.c, a.handle, "{}"), OOCSI_ERR_CLOSED);
    assert_int_equal(oocsi_is_connected(a.c), 0);
}

static void test_offline_queue_bound(void **state)
{
    (void)state;
    oocsi_options *o = it_options(NULL);
    assert_int_equal(oocsi_options_set_offline_queue(o, 5, 1 << 20), OOCSI_OK);
    watched a;
    watched_connect(&a, "qbound", o, 1);
    o = it_options(NULL);
    assert_int_equal(oocsi_options_set_offline_queue(o, 1000, 2048), OOCSI_OK);
    watched b;
    watched_connect(&b, "qbytes", o, 1);

    hub_stop();
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    assert_true(it_states_wait_for(b.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    for (int i = 0; i < 5; i++)
        send_i(a.c, a.handle, i);
    assert_int_equal(oocsi_send_json(a.c, a.handle, "{\"i\":5}"), OOCSI_ERR_QUEUE_FULL);
    assert_int_equal(oocsi_send_json(a.c, a.handle, "{\"i\":6}"), OOCSI_ERR_QUEUE_FULL);

    /* The byte bound: one 1500-byte message fits in 2048 bytes, a second does not. */
    char *big = malloc(1600);
    assert_non_null(big);
    memset(big, 'x', 1600);
    memcpy(big, "{\"p\":\"", 6);
    memcpy(big + 1500 - 2, "\"}", 3);
    assert_int_equal(oocsi_send_json(b.c, b.handle, big), OOCSI_OK);
    int rc = oocsi_send_json(b.c, b.handle, big);
    free(big);
    assert_int_equal(rc, OOCSI_ERR_QUEUE_FULL);

    hub_restart();
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_CONNECTED, 2 * IT_TIMEOUT) >= 0);
    assert_int_equal(it_inbox_wait(a.direct, 5, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_send_json(a.c, a.handle, "{\"i\":5}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(a.direct, 6, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_count(a.direct), 6);
    assert_sequence(a.direct, 0, 6);
    assert_int_equal(it_inbox_wait(b.direct, 1, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_send_json(b.c, b.handle, "{\"end\":\"b\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(b.direct, "end", "b", IT_TIMEOUT) >= 0);
    assert_int_equal(it_inbox_count(b.direct), 2);
}

static void test_keepalive_detects_stall(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "ka_ch");
    oocsi_options *o = it_options(NULL);
    const int k = it_slowdown(); /* valgrind: pongs come late */
    assert_int_equal(oocsi_options_set_keepalive(o, 500 * k, 2000 * k), OOCSI_OK);
    watched a;
    watched_connect(&a, "keepalive", o, 1);
    it_inbox *chan = it_inbox_new();
    assert_int_equal(oocsi_subscribe(a.c, ch, it_inbox_handler, chan), OOCSI_OK);
    oocsi_client *b = it_connect_bg(NULL);

    /* Healthy but idle for well over the keep-alive timeout: stays connected
     * (its pings are answered). Over ws/wss the WebSocket keep-alive works in
     * whole seconds: idle for longer than its rounded-up bound. */
    const int healthy_ms = it_transport_is_web() ? it_stall_bound_ms(500 * k, 2000 * k) : 4000 * k;
    int early = it_states_wait_for(a.states, 1, OOCSI_STATE_OFFLINE, healthy_ms);
    if (early >= 0) {
        int err = 0;
        it_states_at(a.states, early, &err);
        fail_msg("%s: a healthy idle connection went OFFLINE (%d, %s) within %d ms (keep-alive 500/2000 ms)",
                 it_transport_name(), err, oocsi_strerror(err), healthy_ms);
    }
    assert_int_equal(oocsi_is_connected(a.c), 1);
    assert_int_equal(it_wait_hub_client(it_hub, a.handle, 0), 1);

    /* The hub stops reading and writing: only the keep-alive can notice.
     * Over ws/wss that is the WebSocket ping/pong (whole seconds). */
    int64_t t0 = it_now_ms(); /* before: stalling the Java server takes a while */
    assert_int_equal(it_server_stall(a.handle, 1), 0);
    int off = it_states_wait_for(a.states, 1, OOCSI_STATE_OFFLINE, IT_HANG_MS);
    int64_t dt = it_now_ms() - t0;
    if (off < 0) {
        it_server_stall(a.handle, 0);
        fail_msg("%s: a stalled connection was never detected (keep-alive 500/2000 ms)", it_transport_name());
    }
    /* The hub still holds the name on the stalled connection: reconnect
     * attempts get "name already registered" meanwhile, which is transient
     * (see codecs/README.md). Observe that for a second, then let the hub see the
     * old connection's end so that the name is free again. */
    it_pump_for(1000);
    it_server_stall(a.handle, 0);
    assert_int_equal(it_states_wait_for(a.states, off + 1, OOCSI_STATE_CLOSED, 0), -1);
    int err = 0;
    it_states_at(a.states, off, &err);
    assert_int_not_equal(err, OOCSI_OK);
    /* The OOCSI keep-alive counts the silence from the stall on (the last
     * data came just before it). Over ws/wss the WebSocket keep-alive counts
     * from the last valid frame, which may precede the stall by up to its
     * ping interval: no lower bound there beyond the healthy window above.
     * The Java server answers pings late and stops as a whole process, so
     * its last answer may come up to a ping interval before the stall. */
    int64_t lower = it_server_is_java() ? 1000 * k : 1500 * k;
    if (!it_transport_is_web() && dt < lower)
        fail_msg("OFFLINE %lld ms after the stall: before the 2000 ms silence timeout", (long long)dt);
    assert_true(it_states_wait_for(a.states, off + 1, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT) >= 0);
    assert_int_equal(it_wait_subscribed(it_hub, a.handle, ch, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_send_json(b, ch, "{\"back\":true}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(chan, 1, IT_TIMEOUT), 1);
    print_message("stall detected after %lld ms\n", (long long)dt);
}

static void test_failover_on_reconnect(void **state)
{
    (void)state;
    char url2[64];
    oocsi_hub *hub2 = it_hub_start_extra(NULL, url2, sizeof url2);
    assert_non_null(hub2);
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_add_endpoint(o, url2), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, it_url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    it_options_trust(o);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 50, 500), OOCSI_OK);
    watched a;
    watched_connect(&a, "failover", o, 1);
    char port2[16], port1[16];
    snprintf(port2, sizeof port2, ":%d", it_hub_port_in_use(hub2));
    snprintf(port1, sizeof port1, ":%d", it_server_port_in_use());
    const char *ep = oocsi_endpoint(a.c);
    int first_ok = ep && strstr(ep, port2) != NULL && it_endpoint_has_scheme(ep);
    oocsi_hub_stop(hub2);
    int off = it_states_wait_for(a.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT);
    int on = off < 0 ? -1 : it_states_wait_for(a.states, off + 1, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT);
    const char *ep2 = on >= 0 ? it_states_endpoint(a.states, on) : NULL;
    int second_ok = ep2 && strstr(ep2, port1) != NULL && it_endpoint_has_scheme(ep2);
    int registered = it_wait_hub_client(it_hub, a.handle, IT_TIMEOUT);
    it_close(a.c);
    oocsi_hub_free(hub2);
    if (!first_ok)
        fail_msg("connected to %s, expected the first endpoint %s", ep ? ep : "(null)", url2);
    assert_true(on >= 0);
    if (!second_ok)
        fail_msg("reconnected to %s, expected the second endpoint %s", ep2 ? ep2 : "(null)", it_url);
    assert_int_equal(registered, 1);
}

/* Records the delays the client announces ("reconnecting in N ms"). */
static pthread_mutex_t retry_lock = PTHREAD_MUTEX_INITIALIZER;
static int retry_ms[64], n_retries;

static void retry_logger(oocsi_log_level level, const char *msg, void *user)
{
    (void)level;
    (void)user;
    int ms;
    if (sscanf(msg, "reconnecting in %d ms", &ms) == 1) {
        pthread_mutex_lock(&retry_lock);
        if (n_retries < 64)
            retry_ms[n_retries++] = ms;
        pthread_mutex_unlock(&retry_lock);
    }
}

static int retry_at(int i)
{
    pthread_mutex_lock(&retry_lock);
    int ms = i < n_retries ? retry_ms[i] : -1;
    pthread_mutex_unlock(&retry_lock);
    return ms;
}

static oocsi_options *retry_logged_options(void)
{
    pthread_mutex_lock(&retry_lock);
    n_retries = 0;
    pthread_mutex_unlock(&retry_lock);
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_add_endpoint(o, it_url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, retry_logger, NULL), OOCSI_OK);
    assert_int_equal(oocsi_options_set_log_level(o, OOCSI_LOG_DEBUG), OOCSI_OK);
    it_options_trust(o);
    return o;
}

static void test_first_retry_fast(void **state)
{
    (void)state;
    /* Default backoff (no oocsi_options_set_reconnect_delay): the first retry
     * is planned well under a second after the drop (the delay the client
     * chose, read from its log: how fast the machine is plays no part). */
    oocsi_options *o = retry_logged_options();
    watched a;
    watched_connect(&a, "fastretry", o, 1);
    server_drops(a.handle);
    int err = 0;
    wait_reconnect(&a, 1, &err);
    int ms = retry_at(0);
    if (ms < 0)
        fail_msg("no \"reconnecting in N ms\" line in the client's log");
    if (ms >= 500)
        fail_msg("first retry planned %d ms after the drop: it should be well under a second", ms);
}

/* A server that drops the client right after each welcome (for a message it
 * cannot take, say) must not get a reconnect several times a second for
 * ever: each quick drop in a row doubles the delay, as failed attempts do. */
static void test_quick_drops_back_off(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_drop_client (five drops right after the welcome)");
    oocsi_options *o = retry_logged_options();
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 100, 3200), OOCSI_OK);
    watched a;
    watched_connect(&a, "flapping", o, 1);
    int from = 1;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(oocsi_hub_drop_client(it_hub, a.handle), 0);
        int err = 0;
        from = wait_reconnect(&a, from, &err) + 1;
    }
    /* Delays drawn from [base/2, base], base 100, 200, 400, 800, 1600 ms. */
    int fifth = retry_at(4);
    if (retry_at(0) < 0 || retry_at(0) > 100)
        fail_msg("first retry after a drop: %d ms, expected the initial 50..100 ms", retry_at(0));
    if (fifth < 800)
        fail_msg("fifth quick drop in a row: reconnecting in %d ms, expected a backoff of at least 800 ms", fifth);
}

/* After a drop the server may still hold our name (the reference server
 * keeps a dead client's handle until it notices): "name already registered"
 * during reconnection is retried with backoff, not fatal. */
static void test_handle_taken_on_reconnect_is_retried(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_drop_client (the name taken before the client is back)");
    oocsi_options *o = it_options(NULL);
    /* Slow first retry, so the impostor below takes the name first. */
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 300, 600), OOCSI_OK);
    it_log *log = it_log_new();
    assert_int_equal(oocsi_options_set_logger(o, it_log_fn, log), OOCSI_OK);
    watched a;
    watched_connect(&a, "heldname", o, 1);
    assert_int_equal(oocsi_hub_drop_client(it_hub, a.handle), 0);
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 1);
    it_raw *holder = it_raw_connect(it_server_port(), a.handle);
    assert_non_null(holder); /* welcomed: the name is taken now */
    /* The client is refused at least once and keeps trying... */
    int refused = 0;
    for (int i = 0; i < 50 && !refused; i++) {
        refused = it_log_contains(log, OOCSI_LOG_WARN, "refused handle");
        if (!refused)
            it_pump_for(100);
    }
    assert_true(refused);
    /* ...and gets its name back once the holder leaves. */
    it_raw_close(holder);
    int on = it_states_wait_for(a.states, 2, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT);
    assert_true(on >= 2);
    for (int i = 1; i < on; i++)
        assert_int_not_equal(it_states_at(a.states, i, NULL), OOCSI_STATE_CLOSED);
    assert_string_equal(oocsi_handle(a.c), a.handle);
    assert_int_equal(it_wait_hub_client(it_hub, a.handle, IT_TIMEOUT), 1);
}

static void msg_noop(oocsi_client *c, const oocsi_message *m, void *u)
{
    (void)c;
    (void)m;
    (void)u;
}

static void test_many_subscriptions_restored(void **state)
{
    (void)state;
    enum { N = 200 };
    char base[48];
    it_unique(base, sizeof base, "many");
    watched a;
    watched_connect(&a, "many", NULL, 1);
    for (int i = 0; i < N; i++) {
        char ch[80];
        snprintf(ch, sizeof ch, "%s_%d", base, i);
        assert_int_equal(oocsi_subscribe(a.c, ch, msg_noop, NULL), OOCSI_OK);
    }
    server_drops(a.handle);
    int err = 0;
    wait_reconnect(&a, 1, &err);
    for (int i = 0; i < N; i++) {
        char ch[80];
        snprintf(ch, sizeof ch, "%s_%d", base, i);
        if (!it_wait_subscribed(it_hub, a.handle, ch, IT_TIMEOUT))
            fail_msg("channel %d of %d not subscribed again", i, N);
    }
}

static void test_unsubscribe_while_offline(void **state)
{
    (void)state;
    char keep[64], gone[64];
    it_unique(keep, sizeof keep, "offunsub_keep");
    it_unique(gone, sizeof gone, "offunsub_gone");
    watched a;
    watched_connect(&a, "offunsub", NULL, 1);
    assert_int_equal(oocsi_subscribe(a.c, keep, msg_noop, NULL), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(a.c, gone, msg_noop, NULL), OOCSI_OK);
    hub_stop();
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    assert_int_equal(oocsi_unsubscribe(a.c, gone), OOCSI_OK);
    hub_restart();
    assert_true(it_states_wait_for(a.states, 1, OOCSI_STATE_CONNECTED, 2 * IT_TIMEOUT) >= 0);
    assert_int_equal(it_wait_subscribed(it_hub, a.handle, keep, IT_TIMEOUT), 1);
    /* a's direct message to itself comes after its re-subscriptions: the
     * dropped channel is not back (the hub says so; over the line protocol
     * a's own query says so too). */
    assert_int_equal(oocsi_send_json(a.c, a.handle, "{\"after\":\"resubscribe\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(a.direct, "after", "resubscribe", IT_TIMEOUT) >= 0);
    int resurrected = it_wait_subscribed(it_hub, a.handle, gone, 0);
    if (!it_transport_is_web()) {
        char *out = NULL;
        assert_int_equal(oocsi_channel_subscribers(a.c, gone, IT_TIMEOUT, &out), OOCSI_OK);
        assert_non_null(out);
        resurrected |= strstr(out, a.handle) != NULL;
        oocsi_free(out);
    }
    if (resurrected)
        fail_msg("a channel unsubscribed while offline was subscribed again on reconnect");

    /* Closing while the hub is down (client in backoff) is quick. */
    hub_stop();
    assert_true(it_states_wait_for(a.states, 3, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    int64_t t0 = it_now_ms();
    it_close(a.c);
    int64_t dt = it_now_ms() - t0;
    if (dt > IT_HANG_MS)
        fail_msg("oocsi_close took %lld ms while reconnecting", (long long)dt);
    hub_restart();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RC_TEST(test_drop_restores_everything),
        RC_TEST(test_quick_drops_back_off),
        RC_TEST(test_offline_sends_after_drop),
        RC_TEST(test_hub_restart),
        RC_TEST(test_max_attempts_then_closed),
        RC_TEST(test_outage_retries_stay_frequent),
        RC_TEST(test_zero_attempts),
        RC_TEST(test_offline_queue_bound),
        RC_TEST(test_keepalive_detects_stall),
        RC_TEST(test_failover_on_reconnect),
        RC_TEST(test_first_retry_fast),
        RC_TEST(test_handle_taken_on_reconnect_is_retried),
        RC_TEST(test_many_subscriptions_restored),
        RC_TEST(test_unsubscribe_while_offline),
    };
    return cmocka_run_group_tests_name("integration.reconnect", tests, it_group_setup, it_group_teardown);
}
