/*
 * Integration: faults beyond a single drop: endpoints flapping, a slow
 * consumer under a burst, a flood of server pings, lines at the default
 * length limit, private channels (name:secret) used from the client, and
 * calls pending while the connection drops. Line-protocol (tcp) only.
 */
#include "support.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Extra hubs of a test and whether it_hub is stopped: restored by the teardown
 * even when an assertion fails. */
static oocsi_hub *g_extra[2];
static int g_hub_stopped;

static int teardown(void **state)
{
    it_test_teardown(state);
    for (int i = 0; i < 2; i++) {
        oocsi_hub_free(g_extra[i]);
        g_extra[i] = NULL;
    }
    if (g_hub_stopped) {
        oocsi_hub_restart(it_hub);
        g_hub_stopped = 0;
    }
    return 0;
}

#define FT_TEST(f) cmocka_unit_test_setup_teardown(f, it_test_setup, teardown)

/* Options for handle with the given endpoints only (the it_options() defaults otherwise). */
static oocsi_options *opts_for(const char *handle, const char *url1, const char *url2)
{
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    if (handle)
        assert_int_equal(oocsi_options_set_handle(o, handle), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, url1), OOCSI_OK);
    if (url2)
        assert_int_equal(oocsi_options_add_endpoint(o, url2), OOCSI_OK);
    it_options_trust(o);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    assert_int_equal(oocsi_options_set_connect_timeout(o, IT_TIMEOUT), OOCSI_OK);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 50, 200), OOCSI_OK);
    return o;
}

/* 1 if endpoint URL ep names port. */
static int endpoint_has_port(const char *ep, int port)
{
    char needle[16];
    snprintf(needle, sizeof needle, ":%d", port);
    const char *p = ep ? strstr(ep, needle) : NULL;
    return p && (p[strlen(needle)] == '\0' || p[strlen(needle)] == '/');
}

/* ------------------------------------------------------ 1. flapping */

typedef struct ep_seen {
    pthread_mutex_t lock;
    char endpoint[128]; /* oocsi_endpoint() read inside the last message handler */
    it_inbox *in;
} ep_seen;

static void ep_handler(oocsi_client *c, const oocsi_message *msg, void *user)
{
    ep_seen *s = user;
    const char *ep = oocsi_endpoint(c);
    pthread_mutex_lock(&s->lock);
    snprintf(s->endpoint, sizeof s->endpoint, "%s", ep ? ep : "");
    pthread_mutex_unlock(&s->lock);
    it_inbox_handler(c, msg, s->in);
}

static void test_endpoint_flapping(void **state)
{
    (void)state;
    enum { FLAPS = 4 };
    char url[2][64], h[64], ch[64];
    int port[2];
    for (int i = 0; i < 2; i++) {
        g_extra[i] = it_hub_start_extra(NULL, url[i], sizeof url[i]);
        assert_non_null(g_extra[i]);
        port[i] = it_hub_port_in_use(g_extra[i]);
    }
    /* Only one hub up at a time: the client has exactly one place to go. */
    assert_int_equal(oocsi_hub_stop(g_extra[1]), 0);
    it_unique(h, sizeof h, "flap");
    it_unique(ch, sizeof ch, "flap_ch");
    it_states *st = it_states_new();
    ep_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER, .endpoint = "", .in = it_inbox_new()};
    oocsi_options *o = opts_for(h, url[0], url[1]);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *s = it_connect_opts(o);
    it_loop_start(s);
    assert_int_equal(it_states_settle(st), 1);
    assert_true(endpoint_has_port(it_states_endpoint(st, 0), port[0]));
    assert_int_equal(oocsi_subscribe(s, ch, ep_handler, &seen), OOCSI_OK);

    int live = 0, next_ev = 1;
    for (int round = 0; round <= FLAPS; round++) {
        if (round > 0) {
            /* Flap: bring the other hub up, then take the live one down. */
            int other = 1 - live;
            assert_int_equal(oocsi_hub_restart(g_extra[other]), 0);
            assert_int_equal(oocsi_hub_stop(g_extra[live]), 0);
            live = other;
            int off = it_states_wait_for(st, next_ev, OOCSI_STATE_OFFLINE, IT_TIMEOUT);
            if (off != next_ev)
                fail_msg("flap %d: expected OFFLINE as event %d, got index %d", round, next_ev, off);
            int on = it_states_wait_for(st, off + 1, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT);
            if (on != off + 1)
                fail_msg("flap %d: expected CONNECTED as event %d, got index %d", round, off + 1, on);
            const char *ep = it_states_endpoint(st, on);
            if (!endpoint_has_port(ep, port[live]))
                fail_msg("flap %d: reconnected to %s, expected port %d", round, ep ? ep : "(null)", port[live]);
            next_ev = on + 1;
        }
        /* The subscription is restored on the live hub and a peer there reaches the client. */
        assert_int_equal(it_wait_subscribed(g_extra[live], h, ch, IT_TIMEOUT), 1);
        char peer_h[64], tag[16];
        it_unique(peer_h, sizeof peer_h, "flap_peer");
        oocsi_client *peer = it_connect_opts(opts_for(peer_h, url[live], NULL));
        it_loop_start(peer);
        snprintf(tag, sizeof tag, "r%d", round);
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "round", tag);
        assert_int_equal(oocsi_send(peer, ch, m), OOCSI_OK);
        cJSON_Delete(m);
        int idx = it_inbox_wait_str(seen.in, "round", tag, IT_TIMEOUT);
        if (idx != round)
            fail_msg("flap %d: message %s at inbox index %d, expected %d", round, tag, idx, round);
        pthread_mutex_lock(&seen.lock);
        int ep_ok = endpoint_has_port(seen.endpoint, port[live]);
        pthread_mutex_unlock(&seen.lock);
        assert_true(ep_ok);
        it_close(peer);
    }
    /* Exactly one OFFLINE/CONNECTED pair per flap, never CLOSED. */
    assert_int_equal(it_states_count(st), 1 + 2 * FLAPS);
    assert_int_equal(it_states_wait_for(st, 0, OOCSI_STATE_CLOSED, 0), -1);
    assert_int_equal(it_inbox_count(seen.in), FLAPS + 1);
    assert_int_equal(oocsi_is_connected(s), 1);
}

/* -------------------------------------------------- 2. slow consumer */

typedef struct slow {
    pthread_mutex_t lock;
    int count;     /* messages handled */
    int misorders; /* messages not carrying the expected sequence number */
    int marker;    /* the final marker arrived */
    int count_at_marker;
} slow;

static void slow_handler(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    slow *s = user;
    int64_t i = -1;
    int is_marker = oocsi_message_get_string(msg, "end") != NULL;
    if (!is_marker)
        (void)oocsi_message_get_int(msg, "i", &i);
    /* Simulated work (the slow handler is the scenario): a fixed amount of
     * computation, a couple of milliseconds on this machine. */
    volatile uint64_t work = (uint64_t)i;
    for (int k = 0; k < 400000; k++)
        work = work * 6364136223846793005u + 1442695040888963407u;
    pthread_mutex_lock(&s->lock);
    if (is_marker) {
        s->marker++;
        s->count_at_marker = s->count;
    } else {
        if (i != s->count)
            s->misorders++;
        s->count++;
    }
    pthread_mutex_unlock(&s->lock);
    it_notify();
}

typedef struct slow_wait {
    slow *s;
    int count;
} slow_wait;

static int slow_reached(void *ctx)
{
    slow_wait *w = ctx;
    pthread_mutex_lock(&w->s->lock);
    int ok = w->count < 0 ? w->s->marker > 0 : w->s->count >= w->count;
    pthread_mutex_unlock(&w->s->lock);
    return ok;
}

static void echo_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)req;
    (void)user;
    cJSON_AddStringToObject(response, "echoed", "yes");
}

typedef struct caller {
    oocsi_client *c;
    const char *channel, *call_name;
    int timeout_ms;
    int rc;
    int64_t elapsed_ms;
    cJSON *resp;
    pthread_mutex_t lock;
    int done;
} caller;

static void *caller_main(void *arg)
{
    caller *k = arg;
    int64_t t0 = it_now_ms();
    cJSON *req = cJSON_CreateObject();
    cJSON_AddNumberToObject(req, "x", 1);
    cJSON *resp = NULL;
    int rc = oocsi_call_and_wait(k->c, k->channel, k->call_name, req, k->timeout_ms, &resp);
    cJSON_Delete(req);
    pthread_mutex_lock(&k->lock);
    k->rc = rc;
    k->resp = resp;
    k->elapsed_ms = it_now_ms() - t0;
    k->done = 1;
    pthread_mutex_unlock(&k->lock);
    it_notify();
    return NULL;
}

static int caller_done(void *ctx)
{
    caller *k = ctx;
    pthread_mutex_lock(&k->lock);
    int d = k->done;
    pthread_mutex_unlock(&k->lock);
    return d;
}

static void test_slow_consumer(void **state)
{
    (void)state;
    enum { N = 2000 };
    char h[64], ch[64], svc[64];
    it_unique(h, sizeof h, "slow");
    it_unique(ch, sizeof ch, "slow_ch");
    it_unique(svc, sizeof svc, "slow_svc");
    oocsi_client *responder = it_connect_bg(NULL);
    assert_int_equal(oocsi_register(responder, svc, "echo", echo_responder, NULL), OOCSI_OK);
    it_states *st = it_states_new();
    oocsi_options *o = it_options(h);
    /* Short keep-alive: a loop whose reads starved would be declared dead. */
    assert_int_equal(oocsi_options_set_keepalive(o, 300 * it_slowdown(), 1000 * it_slowdown()), OOCSI_OK);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    assert_int_equal(it_states_settle(st), 1);
    slow s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(oocsi_subscribe(c, ch, slow_handler, &s), OOCSI_OK);
    oocsi_client *peer = it_connect_bg(NULL);
    for (int i = 0; i < N; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"i\":%d}", i);
        assert_int_equal(oocsi_send_json(peer, ch, json), OOCSI_OK);
    }
    /* A call from another thread while the handler works through the burst. */
    slow_wait w = {&s, 100};
    assert_int_equal(it_wait_until(slow_reached, &w, 30000), 1);
    caller k = {.c = c, .channel = svc, .call_name = "echo", .timeout_ms = 60000, .lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, caller_main, &k), 0);
    w.count = N;
    int all = it_wait_until(slow_reached, &w, 60000);
    int call_done = it_wait_until(caller_done, &k, 65000);
    if (call_done)
        pthread_join(t, NULL);
    else
        fail_msg("oocsi_call_and_wait did not return within its own timeout"); /* thread leaks: cannot join */
    cJSON *resp = k.resp;
    int rc = k.rc;
    const cJSON *echoed = cJSON_GetObjectItemCaseSensitive(resp, "echoed");
    int echoed_ok = cJSON_IsString(echoed) && strcmp(echoed->valuestring, "yes") == 0;
    cJSON_Delete(resp);
    print_message("call completed in %lld ms\n", (long long)k.elapsed_ms);
    assert_int_equal(rc, OOCSI_OK);
    assert_true(echoed_ok);
    if (!all)
        fail_msg("only %d of %d messages arrived", s.count, N);
    /* Exactly once: nothing more arrives before a marker sent after the burst. */
    assert_int_equal(oocsi_send_json(peer, ch, "{\"end\":\"yes\"}"), OOCSI_OK);
    w.count = -1;
    assert_int_equal(it_wait_until(slow_reached, &w, IT_TIMEOUT), 1);
    pthread_mutex_lock(&s.lock);
    int count = s.count, mis = s.misorders, at_marker = s.count_at_marker, markers = s.marker;
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(mis, 0);
    assert_int_equal(count, N);
    assert_int_equal(at_marker, N);
    assert_int_equal(markers, 1);
    /* Never considered the server dead. */
    assert_int_equal(it_states_count(st), 1);
    assert_int_equal(oocsi_is_connected(c), 1);
}

/* ------------------------------------------------ 3. ping flood */

/* VmRSS of this process in KiB, or -1. */
static long vm_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void test_ping_flood(void **state)
{
    (void)state;
    enum { CHUNKS = 50, PER_CHUNK = 100, AFTER = 100 };
    char h[64], ch[64];
    it_unique(h, sizeof h, "pingflood");
    it_unique(ch, sizeof ch, "pingflood_ch");
    it_states *st = it_states_new();
    it_inbox *in = it_inbox_new();
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    assert_int_equal(it_states_settle(st), 1);
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    oocsi_client *peer = it_connect_bg(NULL);

    long rss0 = vm_rss_kib();
    char chunk[PER_CHUNK * 5 + 1];
    for (int i = 0; i < PER_CHUNK; i++)
        memcpy(chunk + i * 5, "ping\n", 5);
    for (int i = 0; i < CHUNKS; i++)
        assert_int_equal(oocsi_hub_send_raw(it_hub, h, chunk, PER_CHUNK * 5), 0);
    /* A request/response round trip after the flood: the client read through
     * every ping and still talks to the hub. */
    char *clients = NULL;
    assert_int_equal(oocsi_clients(c, IT_TIMEOUT, &clients), OOCSI_OK);
    int listed = clients && strstr(clients, h) != NULL;
    oocsi_free(clients);
    assert_true(listed);
    /* Regular messages still arrive, all of them, in order. */
    for (int i = 0; i < AFTER; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"i\":%d}", i);
        assert_int_equal(oocsi_send_json(peer, ch, json), OOCSI_OK);
    }
    assert_int_equal(it_inbox_wait(in, AFTER, IT_TIMEOUT), 1);
    for (int i = 0; i < AFTER; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, i)->data, "i");
        assert_true(cJSON_IsNumber(v));
        assert_int_equal((int)v->valuedouble, i);
    }
    long rss1 = vm_rss_kib();
    if (rss0 > 0 && rss1 > 0) {
        print_message("VmRSS %ld -> %ld KiB\n", rss0, rss1);
        assert_true(rss1 - rss0 < 16 * 1024);
    }
    assert_int_equal(it_states_count(st), 1);
    assert_int_equal(oocsi_is_connected(c), 1);
    assert_int_equal(oocsi_hub_wait_client(it_hub, h, 0), 1);
}

/* --------------------------------------- 4. lines at the default limit */

#define MIB (1024u * 1024u)

/* A channel message to recipient whose line (without LF) is exactly len
 * bytes, then LF: {"pad":"ppp...","recipient":...,"sender":"hub","timestamp":1}.
 * Returns the malloc'd line (len + 1 bytes) and the pad length in *pad_len. */
static char *padded_line(size_t len, const char *recipient, size_t *pad_len)
{
    char tail[256];
    int t = snprintf(tail, sizeof tail, "\",\"recipient\":\"%s\",\"sender\":\"hub\",\"timestamp\":1}", recipient);
    assert_true(t > 0 && (size_t)t < sizeof tail);
    static const char head[] = "{\"pad\":\"";
    size_t fixed = sizeof head - 1 + (size_t)t;
    assert_true(len > fixed);
    char *line = malloc(len + 1);
    assert_non_null(line);
    memcpy(line, head, sizeof head - 1);
    *pad_len = len - fixed;
    memset(line + sizeof head - 1, 'p', *pad_len);
    memcpy(line + sizeof head - 1 + *pad_len, tail, (size_t)t);
    line[len] = '\n';
    return line;
}

static void test_default_line_limit(void **state)
{
    (void)state;
    char h[64], ch[64];
    it_unique(h, sizeof h, "limit");
    it_unique(ch, sizeof ch, "limit_ch");
    it_states *st = it_states_new();
    it_inbox *in = it_inbox_new();
    oocsi_options *o = it_options(h); /* the default max line length: 16 MiB + 64 KiB */
    const size_t limit = 16 * MIB + 64 * 1024;
    it_log *log = it_log_new();
    assert_int_equal(oocsi_options_set_logger(o, it_log_fn, log), OOCSI_OK);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    assert_int_equal(it_states_settle(st), 1);
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);

    /* 16 MiB + 1 KiB (a message just under a server's 16 MiB limit, with
     * its envelope): delivered intact. */
    size_t pad = 0;
    char *line = padded_line(16 * MIB + 1024, ch, &pad);
    int rc = oocsi_hub_send_raw(it_hub, h, line, 16 * MIB + 1024 + 1);
    free(line);
    assert_int_equal(rc, 0);
    assert_int_equal(it_inbox_wait(in, 1, 30000), 1);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, 0)->data, "pad");
    assert_true(cJSON_IsString(p));
    assert_int_equal(strlen(p->valuestring), pad);
    assert_int_equal(strspn(p->valuestring, "p"), pad);
    assert_int_equal(it_states_count(st), 1);

    /* One byte over the limit (a well-formed message otherwise), twice, the
     * second one with the next message in the same write: each skipped with a
     * warning, the connection kept, what follows delivered. */
    for (int round = 0; round < 2; round++) {
        line = padded_line(limit + 1, ch, &pad);
        rc = oocsi_hub_send_raw(it_hub, h, line, limit + 1 + 1);
        free(line);
        assert_int_equal(rc, 0);
    }
    oocsi_client *peer = it_connect_bg(NULL);
    assert_int_equal(oocsi_send_json(peer, ch, "{\"after\":\"yes\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait_str(in, "after", "yes", 30000), 1);
    assert_int_equal(it_inbox_count(in), 2);
    assert_int_equal(it_states_count(st), 1); /* never OFFLINE */
    assert_int_equal(oocsi_is_connected(c), 1);
    assert_true(it_log_contains(log, OOCSI_LOG_WARN, "skipped a line of 16842753 bytes"));
    assert_true(it_log_contains(log, OOCSI_LOG_WARN, "oocsi_options_set_max_line_length"));
}

/* --------------------------------------------- 5. private channels */

static void test_private_channel(void **state)
{
    (void)state;
    char base[64], priv[96], wrong[96], hs[64], hp[64];
    it_unique(base, sizeof base, "room");
    snprintf(priv, sizeof priv, "%s:s3cret", base);
    snprintf(wrong, sizeof wrong, "%s:wrong", base);
    it_unique(hs, sizeof hs, "priv_s");
    it_unique(hp, sizeof hp, "priv_p");
    it_inbox *chan = it_inbox_new(), *s_direct = it_inbox_new(), *p_direct = it_inbox_new();

    oocsi_options *o = it_options(hs);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, s_direct), OOCSI_OK);
    oocsi_client *s = it_connect_opts(o);
    it_loop_start(s);
    o = it_options(hp);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, p_direct), OOCSI_OK);
    oocsi_client *p = it_connect_opts(o);
    it_loop_start(p);

    assert_int_equal(oocsi_subscribe(s, priv, it_inbox_handler, chan), OOCSI_OK);
    assert_int_equal(oocsi_hub_wait_subscribed(it_hub, hs, priv, IT_TIMEOUT), 1);

    assert_int_equal(oocsi_send_json(p, priv, "{\"k\":\"good\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait_str(chan, "k", "good", IT_TIMEOUT), 0);
    assert_string_equal(it_inbox_at(chan, 0)->recipient, priv);
    assert_string_equal(it_inbox_at(chan, 0)->sender, hp);

    /* Without the token or with a wrong one: not delivered. The hub handles
     * p's messages in order, so the marker after them proves it. */
    assert_int_equal(oocsi_send_json(p, base, "{\"k\":\"public\"}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(p, wrong, "{\"k\":\"wrong\"}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(p, priv, "{\"k\":\"marker\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait_str(chan, "k", "marker", IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_count(chan), 2);
    assert_int_equal(it_inbox_count(s_direct), 0);

    /* Unsubscribed: no more delivery. s's barrier message to p follows its
     * unsubscribe on the same connection, so the hub has handled both before
     * p sends on. */
    assert_int_equal(oocsi_unsubscribe(s, priv), OOCSI_OK);
    assert_int_equal(oocsi_send_json(s, hp, "{\"barrier\":\"b\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait_str(p_direct, "barrier", "b", IT_TIMEOUT), 0);
    assert_int_equal(oocsi_send_json(p, priv, "{\"k\":\"after\"}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(p, hs, "{\"flush\":\"f\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait_str(s_direct, "flush", "f", IT_TIMEOUT), 0);
    assert_int_equal(it_inbox_count(chan), 2);
    assert_int_equal(it_inbox_count(s_direct), 1);
}

/* ------------------------------------ 6. pending calls and a drop */

typedef struct call_result {
    pthread_mutex_t lock;
    int calls;
    int non_null;
    int64_t at_ms;
} call_result;

static void call_cb(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c;
    call_result *r = user;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    if (response)
        r->non_null++;
    r->at_ms = it_now_ms();
    pthread_mutex_unlock(&r->lock);
    it_notify();
}

static int call_ran(void *ctx)
{
    call_result *r = ctx;
    pthread_mutex_lock(&r->lock);
    int n = r->calls;
    pthread_mutex_unlock(&r->lock);
    return n > 0;
}

static void test_pending_calls_on_drop(void **state)
{
    (void)state;
    enum { CALL_TIMEOUT = 1500, OUTAGE_CALL_TIMEOUT = 1000 };
    char h[64], svc[64];
    it_unique(h, sizeof h, "pending");
    it_unique(svc, sizeof svc, "pending_svc");
    /* The request is delivered, but nobody answers it (a monitor that sees
     * call requests on its channel handler). */
    oocsi_options *so = it_options(NULL);
    assert_int_equal(oocsi_options_set_calls_to_handlers(so, 1), OOCSI_OK);
    oocsi_client *silent = it_connect_opts(so);
    it_loop_start(silent);
    it_inbox *requests = it_inbox_new();
    assert_int_equal(oocsi_subscribe(silent, svc, it_inbox_handler, requests), OOCSI_OK);
    it_states *st = it_states_new();
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    assert_int_equal(it_states_settle(st), 1);

    call_result r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_call(c, svc, "never", NULL, CALL_TIMEOUT, call_cb, &r), OOCSI_OK);
    assert_int_equal(it_inbox_wait(requests, 1, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_hub_drop_client(it_hub, h), 0);
    /* The callback runs (with NULL), not lost with the connection. */
    if (!it_wait_until(call_ran, &r, IT_HANG_MS))
        fail_msg("the pending call's callback never ran after the connection dropped");
    pthread_mutex_lock(&r.lock);
    int64_t took = r.at_ms - t0;
    pthread_mutex_unlock(&r.lock);
    print_message("call callback after %lld ms\n", (long long)took);
    int on = it_states_wait_for(st, 1, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT);
    assert_true(on >= 0);
    it_pump_for(CALL_TIMEOUT); /* observation window: no second run after the reconnect */
    pthread_mutex_lock(&r.lock);
    int calls = r.calls, non_null = r.non_null;
    pthread_mutex_unlock(&r.lock);
    assert_int_equal(calls, 1);
    assert_int_equal(non_null, 0);

    /* A blocking call from another thread during an outage returns in bounded time. */
    assert_int_equal(oocsi_hub_stop(it_hub), 0);
    g_hub_stopped = 1;
    assert_true(it_states_wait_for(st, on + 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT) >= 0);
    caller k = {.c = c,
                .channel = svc,
                .call_name = "never",
                .timeout_ms = OUTAGE_CALL_TIMEOUT,
                .lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, caller_main, &k), 0);
    /* The hub stays down: a call that waited for a reconnect would never return. */
    int returned = it_wait_until(caller_done, &k, IT_HANG_MS);
    if (!returned) {
        /* Let it finish (the hub back) so the thread can be joined, then fail. */
        assert_int_equal(oocsi_hub_restart(it_hub), 0);
        g_hub_stopped = 0;
        returned = it_wait_until(caller_done, &k, 60000);
        if (returned)
            pthread_join(t, NULL);
        fail_msg("oocsi_call_and_wait during an outage did not return (timeout %d ms)", OUTAGE_CALL_TIMEOUT);
    }
    pthread_join(t, NULL);
    cJSON_Delete(k.resp);
    print_message("outage call: %d (%s) after %lld ms\n", k.rc, oocsi_strerror(k.rc), (long long)k.elapsed_ms);
    assert_int_equal(k.rc, OOCSI_ERR_TIMEOUT);
    assert_true(k.elapsed_ms >= OUTAGE_CALL_TIMEOUT - 50);

    /* Back up: the client reconnects and calls work again. */
    assert_int_equal(oocsi_hub_restart(it_hub), 0);
    g_hub_stopped = 0;
    assert_true(it_states_wait_for(st, on + 2, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT) >= 0);
    char svc2[64];
    it_unique(svc2, sizeof svc2, "pending_svc2");
    oocsi_client *responder = it_connect_bg(NULL);
    assert_int_equal(oocsi_register(responder, svc2, "echo", echo_responder, NULL), OOCSI_OK);
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, svc2, "echo", NULL, IT_TIMEOUT, &resp), OOCSI_OK);
    cJSON_Delete(resp);
    assert_int_equal(it_states_wait_for(st, 0, OOCSI_STATE_CLOSED, 0), -1);
}

/* Deeply nested JSON from the server (100,000 levels): skipped without
 * crashing or stalling, and the connection goes on delivering. */
/* The server closed an idle client's connection (its stale timeout, say) and
 * the application, which has not run its loop since, sends: the send notices
 * the closed connection, the message waits for the next one, nothing is lost. */
static void test_send_after_server_closed(void **state)
{
    (void)state;
    char h[64], ch[64];
    it_unique(h, sizeof h, "afterdrop");
    it_unique(ch, sizeof ch, "afterdrop_ch");
    it_inbox *in = it_inbox_new();
    oocsi_client *s = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(s, ch, it_inbox_handler, in), OOCSI_OK);
    it_states *st = it_states_new();
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_set_pumped(c, 0);
    it_pump_for(1200); /* c idle (it checks a peer idle for a second or more) */
    assert_int_equal(oocsi_hub_drop_client(it_hub, h), 0);
    struct pollfd p = {.fd = oocsi_fd(c), .events = POLLIN};
    assert_int_equal(poll(&p, 1, IT_TIMEOUT), 1); /* the end of stream has arrived */
    assert_int_equal(oocsi_send_json(c, ch, "{\"after\":\"drop\"}"), OOCSI_OK);
    assert_int_equal(oocsi_is_connected(c), 0);
    it_set_pumped(c, 1);
    if (it_inbox_wait_str(in, "after", "drop", 3 * IT_TIMEOUT) < 0)
        fail_msg("the message sent into the closed connection was lost");
    assert_true(it_states_wait_for(st, 1, OOCSI_STATE_OFFLINE, 0) >= 0);
}

static void test_deeply_nested_json(void **state)
{
    (void)state;
    enum { DEPTH = 100000 };
    char h[64], ch[64];
    it_unique(h, sizeof h, "nested");
    it_unique(ch, sizeof ch, "nested_ch");
    it_states *st = it_states_new();
    it_inbox *in = it_inbox_new();
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    assert_int_equal(it_states_settle(st), 1);
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    char *line = malloc(2 * DEPTH + 64);
    assert_non_null(line);
    size_t n = (size_t)snprintf(line, 64, "{\"recipient\":\"%s\",\"a\":", ch);
    memset(line + n, '[', DEPTH);
    n += DEPTH;
    memset(line + n, ']', DEPTH);
    n += DEPTH;
    memcpy(line + n, "}\n", 2);
    n += 2;
    assert_int_equal(oocsi_hub_send_raw(it_hub, h, line, n), 0);
    free(line);
    oocsi_client *peer = it_connect_bg(NULL);
    assert_int_equal(oocsi_send_json(peer, ch, "{\"after\":\"nesting\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(in, "after", "nesting", IT_TIMEOUT) >= 0);
    /* The nested line itself was not delivered, and nothing dropped the connection. */
    assert_int_equal(it_inbox_count(in), 1);
    assert_int_equal(it_states_count(st), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FT_TEST(test_endpoint_flapping),  FT_TEST(test_slow_consumer),
        FT_TEST(test_ping_flood),         FT_TEST(test_default_line_limit),
        FT_TEST(test_private_channel),    FT_TEST(test_pending_calls_on_drop),
        FT_TEST(test_deeply_nested_json), FT_TEST(test_send_after_server_closed),
    };
    return cmocka_run_group_tests_name("integration.faults", tests, it_group_setup, it_group_teardown);
}
