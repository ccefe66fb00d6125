/*
 * Integration: the three ways to run a client (background thread,
 * caller-driven oocsi_loop, the caller's own poll loop) and thread safety.
 */
#include "support.h"

#include <poll.h>
#include <dirent.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static oocsi_client *connect_direct(const char *prefix, it_inbox *direct)
{
    char h[64];
    it_unique(h, sizeof h, prefix);
    oocsi_options *o = it_options(h);
    if (direct)
        assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, direct), OOCSI_OK);
    return it_connect_opts(o);
}

/* A handler that tries to stop the loop from inside a callback. */
static atomic_int g_stop_rc = 1;
static void stop_inside(oocsi_client *c, const oocsi_message *m, void *u)
{
    (void)m;
    (void)u;
    g_stop_rc = oocsi_loop_stop(c);
    it_notify();
}

static int stop_called(void *ctx)
{
    (void)ctx;
    return g_stop_rc != 1;
}

static void test_background_thread(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "bg");
    it_inbox *in = it_inbox_new();
    oocsi_client *a = it_connect_bg(NULL);
    oocsi_client *b = connect_direct("bg_b", NULL);
    it_loop_start(b);
    assert_int_equal(oocsi_loop_start(b), OOCSI_ERR_INVAL); /* already started */
    assert_int_equal(oocsi_loop(b, 0), OOCSI_ERR_INVAL);    /* not while the thread runs */
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":1}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);

    /* Stopped: caller-driven again, and restartable. */
    it_loop_stop(b);
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":2}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 2, IT_TIMEOUT), 1); /* driven by it_wait_until's oocsi_loop */
    it_loop_start(b);
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":3}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 3, IT_TIMEOUT), 1);
    for (int i = 0; i < 3; i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, i)->data, "n");
        assert_int_equal((int)cJSON_GetNumberValue(n), i + 1);
    }

    /* oocsi_loop_stop from inside a callback is refused. */
    char ch2[64];
    it_unique(ch2, sizeof ch2, "bgstop");
    g_stop_rc = 1;
    assert_int_equal(oocsi_subscribe(b, ch2, stop_inside, NULL), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a, ch2, "{}"), OOCSI_OK);
    assert_int_equal(it_wait_until(stop_called, NULL, IT_TIMEOUT), 1);
    assert_int_equal(g_stop_rc, OOCSI_ERR_INVAL);
    /* The thread still runs. */
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":4}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 4, IT_TIMEOUT), 1);
    /* Closing with the thread running (teardown) is fine too. */
}

static void test_caller_driven(void **state)
{
    (void)state;
    it_inbox *direct = it_inbox_new();
    oocsi_client *a = connect_direct("cd_a", NULL);
    oocsi_client *b = connect_direct("cd_b", direct);
    it_set_pumped(a, 0);
    it_set_pumped(b, 0);
    /* Nothing to do: oocsi_loop(c, 0) returns at once, oocsi_loop(c, 200) within about 200 ms. */
    /* (Only a hang reaches IT_HANG_MS: speed is not measured here.) */
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_loop(b, 0), OOCSI_OK);
    assert_true(it_now_ms() - t0 < IT_HANG_MS);
    t0 = it_now_ms();
    assert_int_equal(oocsi_loop(b, 200), OOCSI_OK);
    int64_t dt = it_now_ms() - t0;
    if (dt > IT_HANG_MS)
        fail_msg("oocsi_loop(c, 200) took %lld ms", (long long)dt);

    /* a sends (its own loop drives the write), b receives in its loop. */
    for (int i = 0; i < 20; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"i\":%d}", i);
        assert_int_equal(oocsi_send_json(a, oocsi_handle(b), json), OOCSI_OK);
    }
    int64_t deadline = it_now_ms() + IT_TIMEOUT;
    while (it_inbox_count(direct) < 20 && it_now_ms() < deadline) {
        assert_int_equal(oocsi_loop(a, 5), OOCSI_OK);
        assert_int_equal(oocsi_loop(b, 5), OOCSI_OK);
    }
    assert_int_equal(it_inbox_count(direct), 20);
    for (int i = 0; i < 20; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it_inbox_at(direct, i)->data, "i");
        assert_int_equal((int)cJSON_GetNumberValue(v), i);
    }
}

static void add_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)req;
    (void)user;
    cJSON_AddTrueToObject(response, "ok");
}

static void test_callbacks_only_in_loop(void **state)
{
    (void)state;
    char svc[64];
    it_unique(svc, sizeof svc, "only");
    it_inbox *direct = it_inbox_new();
    oocsi_client *r = it_connect_bg(NULL);
    assert_int_equal(oocsi_register(r, svc, "ok", add_responder, NULL), OOCSI_OK);
    oocsi_client *b = connect_direct("only_b", direct);
    it_set_pumped(b, 0);
    /* r sends b a message, then answers b's call: b reads the message during
     * call_and_wait, but its handler must run only inside oocsi_loop(). */
    assert_int_equal(oocsi_send_json(r, oocsi_handle(b), "{\"first\":1}"), OOCSI_OK);
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(b, svc, "ok", NULL, IT_TIMEOUT, &resp), OOCSI_OK);
    cJSON_Delete(resp);
    assert_int_equal(oocsi_send_json(b, "nobody_here", "{}"), OOCSI_OK);
    char ch[64];
    it_unique(ch, sizeof ch, "onlych");
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, direct), OOCSI_OK);
    assert_int_equal(it_inbox_count(direct), 0);
    it_set_pumped(b, 1);
    assert_int_equal(it_inbox_wait(direct, 1, IT_TIMEOUT), 1);
    IT_ASSERT_JSON(it_inbox_at(direct, 0)->data, "{\"first\":1}");
}

/* The caller's own poll loop over oocsi_fd / oocsi_want_write / oocsi_next_timeout_ms.
 * Over ws/wss there is no single pollable fd (libwebsockets): oocsi_fd is -1
 * and, as documented, the caller runs oocsi_loop instead. */
static void poll_step(oocsi_client *c, int cap_ms)
{
    struct pollfd p;
    int fd = oocsi_fd(c);
    int timeout = oocsi_next_timeout_ms(c);
    if (timeout < 0 || timeout > cap_ms)
        timeout = cap_ms;
    if (it_transport_is_web()) {
        assert_int_equal(fd, -1);
        (void)oocsi_loop(c, timeout);
        return;
    }
    if (fd >= 0) {
        p.fd = fd;
        p.events = POLLIN | (oocsi_want_write(c) ? POLLOUT : 0);
        p.revents = 0;
        (void)poll(&p, 1, timeout);
    } else {
        (void)poll(NULL, 0, timeout);
    }
    (void)oocsi_loop(c, 0);
}

typedef struct cb_rec {
    int count;
    int null_response;
    int64_t at;
} cb_rec;

static void call_cb(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c;
    cb_rec *r = user;
    r->count++;
    r->null_response = response == NULL;
    r->at = it_now_ms();
}

static void test_poll_integration(void **state)
{
    (void)state;
    char ch[64], nobody[64];
    it_unique(ch, sizeof ch, "poll");
    it_unique(nobody, sizeof nobody, "pollnobody");
    it_inbox *in = it_inbox_new(), *b_direct = it_inbox_new();
    oocsi_client *a = connect_direct("poll_a", NULL);
    it_set_pumped(a, 0);
    oocsi_client *b = connect_direct("poll_b", b_direct);
    it_loop_start(b);
    if (it_transport_is_web())
        assert_int_equal(oocsi_fd(a), -1);
    else
        assert_true(oocsi_fd(a) >= 0);
    assert_int_equal(oocsi_subscribe(a, ch, it_inbox_handler, in), OOCSI_OK);

    /* Receiving (on the Java server in windows: its drop queue). */
    const int window = it_burst_window() ? it_burst_window() : 100;
    int64_t deadline = it_now_ms() + IT_TIMEOUT;
    for (int i = 0; i < 100; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"i\":%d}", i);
        assert_int_equal(oocsi_send_json(b, ch, json), OOCSI_OK);
        while ((i + 1) % window == 0 && it_inbox_count(in) < i + 1 && it_now_ms() < deadline)
            poll_step(a, 100);
    }
    while (it_inbox_count(in) < 100 && it_now_ms() < deadline)
        poll_step(a, 100);
    assert_int_equal(it_inbox_count(in), 100);

    /* Sending: the poll loop writes what oocsi_send queued. */
    deadline = it_now_ms() + IT_TIMEOUT;
    for (int i = 0; i < 100; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"i\":%d}", i);
        assert_int_equal(oocsi_send_json(a, oocsi_handle(b), json), OOCSI_OK);
        while ((i + 1) % window == 0 && it_inbox_count(b_direct) < i + 1 && it_now_ms() < deadline)
            poll_step(a, 100);
    }
    while (it_inbox_count(b_direct) < 100 && it_now_ms() < deadline)
        poll_step(a, 100);
    assert_int_equal(it_inbox_count(b_direct), 100);
    for (int i = 0; i < 100; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it_inbox_at(b_direct, i)->data, "i");
        assert_int_equal((int)cJSON_GetNumberValue(v), i);
    }

    /* Timers: a call timeout shows in oocsi_next_timeout_ms and fires from the poll loop. */
    static cb_rec rec;
    memset(&rec, 0, sizeof rec);
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_call(a, nobody, "f", NULL, 400, call_cb, &rec), OOCSI_OK);
    int next = oocsi_next_timeout_ms(a);
    if (next < 0 || next > 400)
        fail_msg("oocsi_next_timeout_ms = %d with a call due in 400 ms", next);
    deadline = it_now_ms() + IT_TIMEOUT;
    while (rec.count == 0 && it_now_ms() < deadline)
        poll_step(a, 2000); /* the cap is never what wakes it */
    assert_int_equal(rec.count, 1);
    assert_true(rec.null_response);
    int64_t dt = rec.at - t0;
    if (dt < 350)
        fail_msg("call timeout fired after %lld ms for 400 ms", (long long)dt);
}

static void test_poll_keepalive_timer(void **state)
{
    (void)state;
    it_states *st = it_states_new();
    char h[64];
    it_unique(h, sizeof h, "pollka");
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_keepalive(o, 300, 800), OOCSI_OK);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *a = it_connect_opts(o);
    it_set_pumped(a, 0);
    /* The first welcome's CONNECTED comes from the loop. */
    int64_t deadline = it_now_ms() + IT_TIMEOUT;
    while (it_states_count(st) < 1 && it_now_ms() < deadline)
        poll_step(a, 100);
    assert_int_equal(it_states_count(st), 1);
    assert_int_equal(it_states_at(st, 0, NULL), OOCSI_STATE_CONNECTED);
    if (it_transport_is_web()) {
        /* ws/wss: the keep-alive is the WebSocket ping/pong inside
         * libwebsockets, not a client timer; no fd, oocsi_loop drives it. */
        assert_int_equal(oocsi_fd(a), -1);
    } else {
        /* Idle: the keep-alive timer must show up in oocsi_next_timeout_ms. */
        int next = oocsi_next_timeout_ms(a);
        if (next < 0 || next > 800)
            fail_msg("oocsi_next_timeout_ms = %d with keep-alive 300/800 ms", next);
    }
    assert_int_equal(it_server_stall(h, 1), 0);
    int64_t t0 = it_now_ms();
    deadline = t0 + IT_HANG_MS;
    while (it_states_count(st) < 2 && it_now_ms() < deadline)
        poll_step(a, 3000);
    int64_t dt = it_now_ms() - t0;
    it_server_stall(h, 0);
    if (it_states_count(st) < 2)
        fail_msg("%s: the stall was never detected (keep-alive 300/800 ms)", it_transport_name());
    assert_int_equal(it_states_at(st, 1, NULL), OOCSI_STATE_OFFLINE);
    print_message("stall detected after %lld ms\n", (long long)dt);
    /* And it reconnects, still from the poll loop (the fd changes). */
    deadline = it_now_ms() + 3 * IT_TIMEOUT;
    while (it_states_count(st) < 3 && it_now_ms() < deadline)
        poll_step(a, 100);
    assert_true(it_states_count(st) >= 3);
    assert_int_equal(it_states_at(st, 2, NULL), OOCSI_STATE_CONNECTED);
    assert_int_equal(oocsi_is_connected(a), 1);
}

/* Several threads send on one client while its loop thread receives. */
typedef struct multi {
    pthread_mutex_t lock;
    pthread_cond_t moved; /* a message counted */
    int next[8];
    int total;
    int disorder;
} multi;

typedef struct sender {
    oocsi_client *c;
    const char *to;
    int t, n;
    int errors;
    multi *rx;  /* the receiver's counts */
    int window; /* 0, or wait for delivery after every window messages */
} sender;

/* Waits (bounded) until rx counted n messages of sender t, or one out of order. */
static int sender_wait(multi *rx, int t, int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += IT_TIMEOUT / 1000;
    pthread_mutex_lock(&rx->lock);
    int rc = 0;
    while (rx->next[t] < n && !rx->disorder && rc == 0)
        rc = pthread_cond_timedwait(&rx->moved, &rx->lock, &ts);
    int ok = rx->next[t] >= n;
    pthread_mutex_unlock(&rx->lock);
    return ok;
}

static void *sender_main(void *arg)
{
    sender *s = arg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "t", s->t);
    cJSON *i = cJSON_AddNumberToObject(o, "i", 0);
    for (int k = 0; k < s->n; k++) {
        cJSON_SetNumberValue(i, k);
        if (oocsi_send(s->c, s->to, o) != OOCSI_OK)
            s->errors++;
        if (s->window && (k + 1) % s->window == 0 && !sender_wait(s->rx, s->t, k + 1))
            break;
    }
    cJSON_Delete(o);
    return NULL;
}

static void multi_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    multi *mu = user;
    int64_t t = -1, i = -1;
    oocsi_message_get_int(m, "t", &t);
    oocsi_message_get_int(m, "i", &i);
    pthread_mutex_lock(&mu->lock);
    if (t < 0 || t >= 8 || mu->next[t] != i)
        mu->disorder++;
    else
        mu->next[t]++;
    int total = ++mu->total;
    pthread_cond_broadcast(&mu->moved);
    pthread_mutex_unlock(&mu->lock);
    if (total % 100 == 0)
        it_notify();
}

typedef struct multi_goal {
    multi *mu;
    int total;
} multi_goal;

static int multi_done(void *ctx)
{
    multi_goal *g = ctx;
    pthread_mutex_lock(&g->mu->lock);
    int d = g->mu->total >= g->total || g->mu->disorder;
    pthread_mutex_unlock(&g->mu->lock);
    return d;
}

static void test_concurrent_senders(void **state)
{
    (void)state;
    enum { T = 4, N = 500, BACK = 1000 };
    char out_ch[64], in_ch[64];
    it_unique(out_ch, sizeof out_ch, "mt_out");
    it_unique(in_ch, sizeof in_ch, "mt_in");
    static multi recv_b, recv_s;
    memset(&recv_b, 0, sizeof recv_b);
    memset(&recv_s, 0, sizeof recv_s);
    pthread_mutex_init(&recv_b.lock, NULL);
    pthread_mutex_init(&recv_s.lock, NULL);
    pthread_cond_init(&recv_b.moved, NULL);
    pthread_cond_init(&recv_s.moved, NULL);
    /* On the Java server (its drop queue) the T senders to b share a window. */
    const int window = it_burst_window();
    oocsi_client *s = it_connect_bg(NULL);
    oocsi_client *b = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(b, out_ch, multi_handler, &recv_b), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(s, in_ch, multi_handler, &recv_s), OOCSI_OK);

    sender snd[T + 1];
    pthread_t th[T + 1];
    for (int t = 0; t < T; t++) {
        snd[t] = (sender){s, out_ch, t, N, 0, &recv_b, window / T};
        assert_int_equal(pthread_create(&th[t], NULL, sender_main, &snd[t]), 0);
    }
    /* Meanwhile s's loop thread receives a stream from b. */
    snd[T] = (sender){b, in_ch, 0, BACK, 0, &recv_s, window};
    assert_int_equal(pthread_create(&th[T], NULL, sender_main, &snd[T]), 0);
    for (int t = 0; t <= T; t++)
        pthread_join(th[t], NULL);
    multi_goal gb = {&recv_b, T * N}, gs = {&recv_s, BACK};
    int ok_b = it_wait_until(multi_done, &gb, 6 * IT_TIMEOUT);
    int ok_s = it_wait_until(multi_done, &gs, 6 * IT_TIMEOUT);
    it_close(s);
    it_close(b);
    pthread_mutex_destroy(&recv_b.lock);
    pthread_mutex_destroy(&recv_s.lock);
    pthread_cond_destroy(&recv_b.moved);
    pthread_cond_destroy(&recv_s.moved);
    for (int t = 0; t <= T; t++)
        assert_int_equal(snd[t].errors, 0);
    assert_true(ok_b);
    assert_true(ok_s);
    assert_int_equal(recv_b.disorder, 0);
    assert_int_equal(recv_s.disorder, 0);
    assert_int_equal(recv_b.total, T * N);
    assert_int_equal(recv_s.total, BACK);
    for (int t = 0; t < T; t++)
        assert_int_equal(recv_b.next[t], N);
}

/* Subscribing and unsubscribing from several threads while messages flow. */
typedef struct churn {
    oocsi_client *c;
    char channel[64];
    int errors;
} churn;

static void msg_noop(oocsi_client *c, const oocsi_message *m, void *u)
{
    (void)c;
    (void)m;
    (void)u;
}

static void *churn_main(void *arg)
{
    churn *ch = arg;
    for (int i = 0; i < 20; i++) {
        if (oocsi_subscribe(ch->c, ch->channel, msg_noop, NULL) != OOCSI_OK)
            ch->errors++;
        if (oocsi_unsubscribe(ch->c, ch->channel) != OOCSI_OK)
            ch->errors++;
    }
    return NULL;
}

static void test_concurrent_subscribe(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "churn_main");
    it_inbox *in = it_inbox_new();
    oocsi_client *c = it_connect_bg(NULL);
    oocsi_client *p = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    churn cs[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        cs[i].c = c;
        cs[i].errors = 0;
        it_unique(cs[i].channel, sizeof cs[i].channel, "churn");
        assert_int_equal(pthread_create(&th[i], NULL, churn_main, &cs[i]), 0);
    }
    /* On the Java server in windows (its drop queue; c's pongs count too). */
    const int window = it_burst_window() ? it_burst_window() / 2 : 50;
    for (int i = 0; i < 50; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"i\":%d}", i);
        assert_int_equal(oocsi_send_json(p, ch, json), OOCSI_OK);
        if ((i + 1) % window == 0)
            assert_int_equal(it_inbox_wait(in, i + 1, IT_TIMEOUT), 1);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cs[i].errors, 0);
    assert_int_equal(it_inbox_wait(in, 50, IT_TIMEOUT), 1);
    for (int i = 0; i < 50; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, i)->data, "i");
        assert_int_equal((int)cJSON_GetNumberValue(v), i);
    }
}

/* Variable setters from several threads while the peer mirrors it. */
typedef struct setter {
    oocsi_variable *v;
    int t;
} setter;

static void *setter_main(void *arg)
{
    setter *s = arg;
    for (int i = 0; i < 200; i++)
        oocsi_variable_set(s->v, s->t * 1000 + i);
    return NULL;
}

static void test_variable_set_from_threads(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "varthreads");
    it_inbox *direct = it_inbox_new();
    oocsi_client *a = it_connect_bg(NULL);
    oocsi_client *b = connect_direct("varthreads_b", direct);
    it_loop_start(b);
    oocsi_variable *va = oocsi_variable_new(a, ch, "x");
    oocsi_variable *vb = oocsi_variable_new(b, ch, "x");
    assert_non_null(va);
    assert_non_null(vb);
    setter s[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        s[t].v = va;
        s[t].t = t;
        assert_int_equal(pthread_create(&th[t], NULL, setter_main, &s[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    /* One last value from this thread, then a marker: b mirrors exactly that value. */
    assert_int_equal(oocsi_variable_set(va, 424242), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a, oocsi_handle(b), "{\"flush\":\"x\"}"), OOCSI_OK);
    int flushed = it_inbox_wait_str(direct, "flush", "x", IT_TIMEOUT);
    double got_a = oocsi_variable_get(va), got_b = oocsi_variable_get(vb);
    oocsi_variable_free(va);
    oocsi_variable_free(vb);
    assert_true(flushed >= 0);
    IT_ASSERT_NEAR(got_a, 424242, 1e-9);
    IT_ASSERT_NEAR(got_b, 424242, 1e-9);
}

/* Descriptors open in this process (the in-process hub's included). */
/* The wake-up descriptors of this process: the eventfds (each client
 * without a wake signal has one; counting all descriptors would also count
 * the in-process hub's, which come and go in their own time). */
static int count_eventfds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[300], target[64];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = '\0';
            n += strcmp(target, "anon_inode:[eventfd]") == 0;
        }
    }
    closedir(d);
    return n;
}

static atomic_int g_run_rc = 1;
static void *run_main(void *arg)
{
    g_run_rc = oocsi_run(arg);
    it_notify();
    return NULL;
}

static int run_returned(void *ctx)
{
    (void)ctx;
    return g_run_rc != 1;
}

/* The wake-up of the loop: one eventfd per client by default (a pipe took
 * two descriptors), none with oocsi_options_set_wake_signal(), where the
 * loop thread is signalled instead: subscribing and sending from another
 * thread, and oocsi_stop(), still reach it. */
static void test_wake_descriptor_or_signal(void **state)
{
    (void)state;
    oocsi_options *bad = it_options("wake_bad");
    assert_int_equal(oocsi_options_set_wake_signal(bad, SIGKILL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_options_set_wake_signal(bad, -1), OOCSI_ERR_INVAL);
    oocsi_options_free(bad);

    char ch[64], ch2[64], h[64];
    it_unique(ch, sizeof ch, "wake");
    it_unique(ch2, sizeof ch2, "wake2");
    it_inbox *in = it_inbox_new(), *in2 = it_inbox_new();
    int n0 = count_eventfds();
    oocsi_client *a = it_connect_bg(NULL);
    int n1 = count_eventfds();
    it_unique(h, sizeof h, "wake_sig");
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_wake_signal(o, SIGRTMIN + 1), OOCSI_OK);
    oocsi_client *b = it_connect_opts(o);
    int n2 = count_eventfds();
    /* One eventfd for the default wake-up, none with a wake signal (over
     * ws/wss each client's libwebsockets context has one more of its own). */
    int extra = it_transport_is_web() ? 1 : 0;
    assert_int_equal(n1 - n0, 1 + extra);
    assert_int_equal(n2 - n1, extra);
    it_loop_start(b);
    /* from this thread while the loop thread waits: a subscribe (it waits
     * for the hub's confirmation) and messages both ways */
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(a, ch2, it_inbox_handler, in2), OOCSI_OK);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(oocsi_send_json(a, ch, "{\"n\":1}"), OOCSI_OK);
        assert_int_equal(oocsi_send_json(b, ch2, "{\"n\":2}"), OOCSI_OK);
    }
    assert_int_equal(it_inbox_wait(in, 20, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_wait(in2, 20, IT_TIMEOUT), 1);
    it_loop_stop(b);

    /* oocsi_run on another thread, ended by oocsi_stop from this one */
    pthread_t t;
    g_run_rc = 1;
    assert_int_equal(pthread_create(&t, NULL, run_main, b), 0);
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":3}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 21, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_stop(b), OOCSI_OK);
    assert_int_equal(it_wait_until(run_returned, NULL, IT_TIMEOUT), 1);
    pthread_join(t, NULL);
    assert_int_equal(g_run_rc, OOCSI_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_background_thread),         IT_TEST(test_caller_driven),
        IT_TEST(test_callbacks_only_in_loop),    IT_TEST(test_poll_integration),
        IT_TEST(test_poll_keepalive_timer),      IT_TEST(test_concurrent_senders),
        IT_TEST(test_concurrent_subscribe),      IT_TEST(test_variable_set_from_threads),
        IT_TEST(test_wake_descriptor_or_signal),
    };
    return cmocka_run_group_tests_name("integration.loop_modes", tests, it_group_setup, it_group_teardown);
}
