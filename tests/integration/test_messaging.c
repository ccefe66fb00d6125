/* Integration: channel and direct messages through the server under test (every transport, the Java server). */
#include "support.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A client with a direct-message inbox; bg: with a background loop. */
static oocsi_client *connect_direct(const char *prefix, it_inbox *direct, int bg)
{
    char h[64];
    it_unique(h, sizeof h, prefix);
    oocsi_options *o = it_options(h);
    if (direct)
        assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, direct), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    assert_string_equal(oocsi_handle(c), h);
    if (bg)
        it_loop_start(c);
    return c;
}

/* from sends a direct marker to to; waits until to's direct inbox has it. Every
 * message from sent before is then delivered (lines of one connection stay in order). */
static void barrier(oocsi_client *from, oocsi_client *to, it_inbox *to_direct)
{
    static int seq;
    char marker[32];
    snprintf(marker, sizeof marker, "m%d", ++seq);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "barrier", marker);
    assert_int_equal(oocsi_send(from, oocsi_handle(to), o), OOCSI_OK);
    cJSON_Delete(o);
    if (it_inbox_wait_str(to_direct, "barrier", marker, IT_TIMEOUT) < 0)
        fail_msg("barrier message %s did not arrive", marker);
}

static void test_channel_send_receive(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "chan");
    it_inbox *in = it_inbox_new();
    oocsi_client *a = connect_direct("sr_a", NULL, 1);
    oocsi_client *b = connect_direct("sr_b", NULL, 1);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    /* subscribe returned: the hub has the subscription. */
    assert_int_equal(it_wait_subscribed(it_hub, oocsi_handle(b), ch, 0), 1);

    int64_t t0 = it_wall_ms();
    assert_int_equal(oocsi_send_json(a, ch, "{\"v\":1,\"s\":\"x\",\"f\":2.5,\"b\":true,\"o\":{\"n\":[1,2]}}"),
                     OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    int64_t t1 = it_wall_ms();
    const it_msg *m = it_inbox_at(in, 0);
    assert_string_equal(m->sender, oocsi_handle(a));
    assert_string_equal(m->recipient, ch);
    IT_ASSERT_JSON(m->data, "{\"v\":1,\"s\":\"x\",\"f\":2.5,\"b\":true,\"o\":{\"n\":[1,2]}}");
    /* Server clock, same machine: within the send/receive window (with slack). */
    if (m->timestamp < t0 - 2000 || m->timestamp > t1 + 2000)
        fail_msg("timestamp %lld outside [%lld, %lld]", (long long)m->timestamp, (long long)t0, (long long)t1);
}

static void test_three_subscribers(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "three");
    oocsi_client *a = connect_direct("three_a", NULL, 1);
    it_inbox *in[3];
    for (int i = 0; i < 3; i++) {
        in[i] = it_inbox_new();
        oocsi_client *s = connect_direct("three_s", NULL, 1);
        assert_int_equal(oocsi_subscribe(s, ch, it_inbox_handler, in[i]), OOCSI_OK);
    }
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":3}"), OOCSI_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(it_inbox_wait(in[i], 1, IT_TIMEOUT), 1);
        IT_ASSERT_JSON(it_inbox_at(in[i], 0)->data, "{\"n\":3}");
    }
}

static void test_no_echo(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "echo");
    it_inbox *a_chan = it_inbox_new(), *b_chan = it_inbox_new(), *a_direct = it_inbox_new();
    oocsi_client *a = connect_direct("echo_a", a_direct, 1);
    oocsi_client *b = connect_direct("echo_b", NULL, 1);
    assert_int_equal(oocsi_subscribe(a, ch, it_inbox_handler, a_chan), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, b_chan), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a, ch, "{\"from\":\"a\"}"), OOCSI_OK);
    /* A message to itself after it: an echo would have arrived before. */
    barrier(a, a, a_direct);
    assert_int_equal(it_inbox_wait(b_chan, 1, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_count(a_chan), 0);
    assert_int_equal(it_inbox_count(b_chan), 1);
}

/* Several handlers on one channel: an order log. */
typedef struct order_log {
    pthread_mutex_t lock;
    int ids[64];
    int n;
} order_log;

typedef struct order_tag {
    order_log *log;
    int id;
} order_tag;

static void order_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)m;
    order_tag *t = user;
    pthread_mutex_lock(&t->log->lock);
    if (t->log->n < 64)
        t->log->ids[t->log->n++] = t->id;
    pthread_mutex_unlock(&t->log->lock);
    it_notify();
}

static int order_count(order_log *l)
{
    pthread_mutex_lock(&l->lock);
    int n = l->n;
    pthread_mutex_unlock(&l->lock);
    return n;
}

static int order_has(void *ctx)
{
    order_log *l = ((order_log **)ctx)[0];
    int want = (int)(intptr_t)((void **)ctx)[1];
    return order_count(l) >= want;
}

static void test_handlers_in_order(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "order");
    static order_log log;
    memset(&log, 0, sizeof log);
    pthread_mutex_init(&log.lock, NULL);
    static order_tag tags[3];
    oocsi_client *a = connect_direct("order_a", NULL, 1);
    oocsi_client *b = connect_direct("order_b", NULL, 0); /* caller-driven */
    for (int i = 0; i < 3; i++) {
        tags[i].log = &log;
        tags[i].id = i + 1;
        assert_int_equal(oocsi_subscribe(b, ch, order_handler, &tags[i]), OOCSI_OK);
    }
    for (int k = 0; k < 3; k++) {
        char json[32];
        snprintf(json, sizeof json, "{\"k\":%d}", k);
        assert_int_equal(oocsi_send_json(a, ch, json), OOCSI_OK);
    }
    void *ctx[2] = {&log, (void *)(intptr_t)9};
    int ok = it_wait_until(order_has, ctx, IT_TIMEOUT);
    it_close(b);
    it_close(a);
    pthread_mutex_destroy(&log.lock);
    if (!ok)
        fail_msg("only %d handler calls of 9", log.n);
    assert_int_equal(log.n, 9);
    for (int i = 0; i < 9; i++)
        assert_int_equal(log.ids[i], i % 3 + 1);
}

static void test_duplicate_subscribe(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "dup");
    it_inbox *in = it_inbox_new(), *b_direct = it_inbox_new();
    oocsi_client *a = connect_direct("dup_a", NULL, 1);
    oocsi_client *b = connect_direct("dup_b", b_direct, 1);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":1}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":2}"), OOCSI_OK);
    barrier(a, b, b_direct);
    assert_int_equal(it_inbox_count(in), 2);
    IT_ASSERT_JSON(it_inbox_at(in, 0)->data, "{\"n\":1}");
    IT_ASSERT_JSON(it_inbox_at(in, 1)->data, "{\"n\":2}");
}

static void test_unsubscribe(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "unsub");
    it_inbox *in = it_inbox_new(), *b_direct = it_inbox_new();
    oocsi_client *a = connect_direct("unsub_a", NULL, 1);
    oocsi_client *b = connect_direct("unsub_b", b_direct, 1);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":1}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);

    assert_int_equal(oocsi_unsubscribe(b, ch), OOCSI_OK);
    if (it_transport_is_web()) {
        /* No queries over oocsi-web: b's direct message to itself comes after
         * its unsubscribe on the same connection. */
        barrier(b, b, b_direct);
    } else {
        /* b's own query comes after its unsubscribe: the channel is gone. */
        char *subs = NULL;
        assert_int_equal(oocsi_channel_subscribers(b, ch, IT_TIMEOUT, &subs), OOCSI_OK);
        assert_non_null(subs);
        assert_null(strstr(subs, oocsi_handle(b)));
        oocsi_free(subs);
    }
    assert_int_equal(it_wait_subscribed(it_hub, oocsi_handle(b), ch, 0), 0);

    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":2}"), OOCSI_OK);
    barrier(a, b, b_direct);
    assert_int_equal(it_inbox_count(in), 1);

    /* Unknown channel: OK. Subscribing again works. */
    assert_int_equal(oocsi_unsubscribe(b, "never_subscribed_channel"), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_send_json(a, ch, "{\"n\":3}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 2, IT_TIMEOUT), 1);
    IT_ASSERT_JSON(it_inbox_at(in, 1)->data, "{\"n\":3}");
}

static void test_direct_messages(void **state)
{
    (void)state;
    it_inbox *a_direct = it_inbox_new();
    oocsi_client *a = connect_direct("direct_a", a_direct, 0);
    oocsi_client *b = connect_direct("direct_b", NULL, 1);
    assert_int_equal(oocsi_send_json(b, oocsi_handle(a), "{\"d\":1}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(a_direct, 1, IT_TIMEOUT), 1);
    const it_msg *m = it_inbox_at(a_direct, 0);
    assert_string_equal(m->sender, oocsi_handle(b));
    assert_string_equal(m->recipient, oocsi_handle(a));
    IT_ASSERT_JSON(m->data, "{\"d\":1}");

    /* Self-delivery. */
    assert_int_equal(oocsi_send_json(a, oocsi_handle(a), "{\"self\":true}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(a_direct, 2, IT_TIMEOUT), 1);
    m = it_inbox_at(a_direct, 1);
    assert_string_equal(m->sender, oocsi_handle(a));
    assert_string_equal(m->recipient, oocsi_handle(a));
    IT_ASSERT_JSON(m->data, "{\"self\":true}");
}

static void test_send_json_and_invalid(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "json");
    it_inbox *in = it_inbox_new();
    oocsi_client *a = connect_direct("json_a", NULL, 1);
    oocsi_client *b = connect_direct("json_b", NULL, 1);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);

    const char *bad[] = {"[1,2]", "42", "\"text\"", "true", "null", "{bad json", "", "{\"a\":1} trailing"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = oocsi_send_json(a, ch, bad[i]);
        if (rc != OOCSI_ERR_INVAL)
            fail_msg("oocsi_send_json(%s): %d, expected OOCSI_ERR_INVAL", bad[i], rc);
    }
    cJSON *arr = cJSON_CreateArray();
    cJSON *str = cJSON_CreateString("x");
    assert_int_equal(oocsi_send(a, ch, arr), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send(a, ch, str), OOCSI_ERR_INVAL);
    cJSON_Delete(arr);
    cJSON_Delete(str);

    /* Whitespace and escapes survive; the key "data" is kept. */
    const char *text = "{ \"data\" : 5, \"s\" : \"a\\\"b\\\\c/d\\n\\te\\u0001\", \"arr\":[1,\"two\",{\"x\":false}],"
                       " \"neg\":-12345678901234, \"e\":1e-3, \"empty\":{} }";
    assert_int_equal(oocsi_send_json(a, ch, text), OOCSI_OK);
    cJSON *obj = it_json("{\"built\":[1,2,3]}");
    assert_int_equal(oocsi_send(a, ch, obj), OOCSI_OK);
    cJSON_Delete(obj);
    assert_int_equal(oocsi_send_json(a, ch, "{}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 3, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_count(in), 3);
    IT_ASSERT_JSON(it_inbox_at(in, 0)->data, text);
    IT_ASSERT_JSON(it_inbox_at(in, 1)->data, "{\"built\":[1,2,3]}");
    IT_ASSERT_JSON(it_inbox_at(in, 2)->data, "{}");
}

/* Typed getters, run inside the callback (the message is borrowed). */
typedef struct getters {
    pthread_mutex_t lock;
    int done;
    int rc_i, rc_big, rc_d_as_int, rc_missing, rc_s_as_int, rc_null_key, rc_null_out;
    int64_t i, big;
    int rc_dd, rc_di, rc_ds;
    double dd, di;
    const char *s_ok; /* copies */
    int s_of_int_null, s_missing_null;
    int rc_bt, rc_bf, rc_b0, rc_b1, rc_bs;
    int bt, bf, b0, b1;
    int has_sender, has_recipient, has_timestamp;
    char *json;
} getters;

static void getters_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    getters *g = user;
    pthread_mutex_lock(&g->lock);
    g->rc_i = oocsi_message_get_int(m, "i", &g->i);
    g->rc_big = oocsi_message_get_int(m, "big", &g->big);
    int64_t tmp;
    g->rc_d_as_int = oocsi_message_get_int(m, "d", &tmp);
    g->rc_missing = oocsi_message_get_int(m, "missing", &tmp);
    g->rc_s_as_int = oocsi_message_get_int(m, "s", &tmp);
    g->rc_null_key = oocsi_message_get_int(m, NULL, &tmp);
    g->rc_null_out = oocsi_message_get_int(m, "i", NULL);
    g->rc_dd = oocsi_message_get_double(m, "d", &g->dd);
    g->rc_di = oocsi_message_get_double(m, "i", &g->di);
    double dtmp;
    g->rc_ds = oocsi_message_get_double(m, "s", &dtmp);
    const char *s = oocsi_message_get_string(m, "s");
    g->s_ok = s ? strdup(s) : NULL;
    g->s_of_int_null = oocsi_message_get_string(m, "i") == NULL;
    g->s_missing_null = oocsi_message_get_string(m, "missing") == NULL;
    g->rc_bt = oocsi_message_get_bool(m, "bt", &g->bt);
    g->rc_bf = oocsi_message_get_bool(m, "bf", &g->bf);
    g->rc_b0 = oocsi_message_get_bool(m, "zero", &g->b0);
    g->rc_b1 = oocsi_message_get_bool(m, "i", &g->b1);
    int btmp;
    g->rc_bs = oocsi_message_get_bool(m, "s", &btmp);
    const cJSON *data = oocsi_message_data(m);
    g->has_sender = cJSON_GetObjectItemCaseSensitive(data, "sender") != NULL;
    g->has_recipient = cJSON_GetObjectItemCaseSensitive(data, "recipient") != NULL;
    g->has_timestamp = cJSON_GetObjectItemCaseSensitive(data, "timestamp") != NULL;
    g->json = oocsi_message_data_json(m);
    g->done = 1;
    pthread_mutex_unlock(&g->lock);
    it_notify();
}

static int getters_done(void *ctx)
{
    getters *g = ctx;
    pthread_mutex_lock(&g->lock);
    int d = g->done;
    pthread_mutex_unlock(&g->lock);
    return d;
}

static void test_typed_getters(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "getters");
    static getters g;
    memset(&g, 0, sizeof g);
    pthread_mutex_init(&g.lock, NULL);
    oocsi_client *a = connect_direct("get_a", NULL, 1);
    oocsi_client *b = connect_direct("get_b", NULL, 1);
    assert_int_equal(oocsi_subscribe(b, ch, getters_handler, &g), OOCSI_OK);
    const char *payload = "{\"i\":42,\"big\":12345678901234,\"d\":2.5,\"s\":\"str\",\"bt\":true,\"bf\":false,"
                          "\"zero\":0}";
    assert_int_equal(oocsi_send_json(a, ch, payload), OOCSI_OK);
    int ok = it_wait_until(getters_done, &g, IT_TIMEOUT);
    it_close(b); /* no more callbacks */
    pthread_mutex_destroy(&g.lock);
    assert_true(ok);

    assert_int_equal(g.rc_i, OOCSI_OK);
    assert_int_equal(g.i, 42);
    assert_int_equal(g.rc_big, OOCSI_OK);
    assert_true(g.big == 12345678901234LL);
    assert_int_equal(g.rc_d_as_int, OOCSI_ERR_UNSUPPORTED);
    assert_int_equal(g.rc_missing, OOCSI_ERR_NOT_FOUND);
    assert_int_equal(g.rc_s_as_int, OOCSI_ERR_UNSUPPORTED);
    assert_int_equal(g.rc_null_key, OOCSI_ERR_INVAL);
    assert_int_equal(g.rc_null_out, OOCSI_ERR_INVAL);
    assert_int_equal(g.rc_dd, OOCSI_OK);
    IT_ASSERT_NEAR(g.dd, 2.5, 1e-12);
    assert_int_equal(g.rc_di, OOCSI_OK);
    IT_ASSERT_NEAR(g.di, 42.0, 1e-12);
    assert_int_equal(g.rc_ds, OOCSI_ERR_UNSUPPORTED);
    assert_non_null(g.s_ok);
    assert_string_equal(g.s_ok, "str");
    free((void *)g.s_ok);
    assert_true(g.s_of_int_null);
    assert_true(g.s_missing_null);
    assert_int_equal(g.rc_bt, OOCSI_OK);
    assert_int_equal(g.bt, 1);
    assert_int_equal(g.rc_bf, OOCSI_OK);
    assert_int_equal(g.bf, 0);
    assert_int_equal(g.rc_b0, OOCSI_OK);
    assert_int_equal(g.b0, 0);
    assert_int_equal(g.rc_b1, OOCSI_OK);
    assert_int_equal(g.b1, 1);
    assert_int_not_equal(g.rc_bs, OOCSI_OK);
    /* data has exactly the payload keys: no envelope. */
    assert_false(g.has_sender);
    assert_false(g.has_recipient);
    assert_false(g.has_timestamp);
    assert_non_null(g.json);
    cJSON *parsed = cJSON_Parse(g.json);
    oocsi_free(g.json);
    IT_ASSERT_JSON(parsed, payload);
    cJSON_Delete(parsed);
    (void)a;
}

static void test_text_payload_from_raw_peer(void **state)
{
    (void)state;
    char ch[64], rawh[64];
    it_unique(ch, sizeof ch, "text");
    it_unique(rawh, sizeof rawh, "rawtext");
    it_inbox *in = it_inbox_new();
    oocsi_client *b = connect_direct("text_b", NULL, 1);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    it_raw *r = it_raw_connect(it_server_port(), rawh);
    assert_non_null(r);
    assert_int_equal(it_raw_send(r, "sendraw %s hello  world 42", ch), 0);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    const it_msg *m = it_inbox_at(in, 0);
    assert_string_equal(m->sender, rawh);
    assert_string_equal(m->recipient, ch);
    IT_ASSERT_JSON(m->data, "{\"data\":\"hello  world 42\"}");

    /* What the library puts on the wire: one sendraw-style message with the JSON payload. */
    char rch[64];
    it_unique(rch, sizeof rch, "wire");
    assert_int_equal(it_raw_subscribe(r, rch), 0);
    assert_int_equal(oocsi_send_json(b, rch, "{\"w\":\"x\\ny\"}"), OOCSI_OK);
    cJSON *j = it_raw_next_json(r, IT_TIMEOUT);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "sender")->valuestring, oocsi_handle(b));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "w")->valuestring, "x\ny");
    cJSON_Delete(j);
}

/* Burst: a counting handler that checks the order. */
typedef struct burst {
    pthread_mutex_t lock;
    int next;
    int bad_at; /* -1: all in order */
    int bad_value;
} burst;

static void burst_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    burst *b = user;
    int64_t i = -1;
    (void)oocsi_message_get_int(m, "i", &i);
    pthread_mutex_lock(&b->lock);
    if (i != b->next && b->bad_at < 0) {
        b->bad_at = b->next;
        b->bad_value = (int)i;
    }
    b->next++;
    int n = b->next;
    pthread_mutex_unlock(&b->lock);
    if (n % 100 == 0 || n >= 10000 || (it_burst_window() && n % it_burst_window() == 0))
        it_notify();
}

typedef struct burst_goal {
    burst *b;
    int n;
} burst_goal;

static int burst_reached(void *ctx)
{
    burst_goal *g = ctx;
    pthread_mutex_lock(&g->b->lock);
    int n = g->b->next;
    pthread_mutex_unlock(&g->b->lock);
    return n >= g->n;
}

static void test_burst_10000(void **state)
{
    (void)state;
    enum { N = 10000 };
    char ch[64];
    it_unique(ch, sizeof ch, "burst");
    static burst bs;
    memset(&bs, 0, sizeof bs);
    bs.bad_at = -1;
    pthread_mutex_init(&bs.lock, NULL);
    oocsi_client *a = connect_direct("burst_a", NULL, 1);
    oocsi_client *b = connect_direct("burst_b", NULL, 1);
    assert_int_equal(oocsi_subscribe(b, ch, burst_handler, &bs), OOCSI_OK);
    unsigned long long before = it_hub ? oocsi_hub_delivered(it_hub) : 0;
    const int window = it_burst_window(); /* Java: its drop queue */
    int64_t t0 = it_now_ms();
    cJSON *o = cJSON_CreateObject();
    cJSON *num = cJSON_AddNumberToObject(o, "i", 0);
    cJSON_AddStringToObject(o, "pad", "0123456789abcdef0123456789abcdef");
    int first_err = OOCSI_OK, err_at = -1;
    for (int i = 0; i < N; i++) {
        cJSON_SetNumberValue(num, i);
        int rc = oocsi_send(a, ch, o);
        if (rc != OOCSI_OK && first_err == OOCSI_OK) {
            first_err = rc;
            err_at = i;
        }
        burst_goal g = {&bs, i + 1};
        if (window && (i + 1) % window == 0 && !it_wait_until(burst_reached, &g, IT_TIMEOUT))
            break;
    }
    cJSON_Delete(o);
    burst_goal all = {&bs, N};
    int ok = first_err == OOCSI_OK && it_wait_until(burst_reached, &all, 30000);
    int64_t dt = it_now_ms() - t0;
    it_close(b);
    pthread_mutex_destroy(&bs.lock);
    if (first_err != OOCSI_OK)
        fail_msg("oocsi_send #%d: %d (%s)", err_at, first_err, oocsi_strerror(first_err));
    if (!ok)
        fail_msg("received %d of %d messages (hub delivered %llu)", bs.next, N,
                 (it_hub ? oocsi_hub_delivered(it_hub) : 0) - before);
    if (bs.bad_at >= 0)
        fail_msg("message #%d had i=%d: out of order or lost", bs.bad_at, bs.bad_value);
    assert_int_equal(bs.next, N);
    print_message("burst of %d messages delivered in %lld ms\n", N, (long long)dt);
    (void)a;
}

static void test_unicode_round_trip(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "unicode");
    it_inbox *in = it_inbox_new();
    oocsi_client *a = connect_direct("uni_a", NULL, 1);
    oocsi_client *b = connect_direct("uni_b", NULL, 1);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);

    const char *text = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";
    const char *key = "k\xc3\xa9y";
    /* A long one: multi-byte characters across every 1024-byte boundary. */
    size_t n = 1500;
    char *longtext = malloc(n * 3 + 1);
    assert_non_null(longtext);
    for (size_t i = 0; i < n; i++)
        memcpy(longtext + i * 3, "\xe2\x82\xac", 3); /* euro sign */
    longtext[n * 3] = '\0';

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, key, text);
    cJSON_AddStringToObject(o, "long", longtext);
    assert_int_equal(oocsi_send(a, ch, o), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    const it_msg *m = it_inbox_at(in, 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->data, key);
    assert_true(cJSON_IsString(v));
    assert_string_equal(v->valuestring, text);
    v = cJSON_GetObjectItemCaseSensitive(m->data, "long");
    assert_true(cJSON_IsString(v));
    assert_int_equal(strlen(v->valuestring), n * 3);
    assert_true(strcmp(v->valuestring, longtext) == 0);
    assert_true(it_json_equal(m->data, o));
    cJSON_Delete(o);
    free(longtext);
}

static void test_large_message(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "large");
    it_inbox *in = it_inbox_new();
    oocsi_client *a = connect_direct("large_a", NULL, 1);
    oocsi_client *b = connect_direct("large_b", NULL, 0);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    size_t n = 200000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "big", big);
    for (int k = 0; k < 3; k++)
        assert_int_equal(oocsi_send(a, ch, o), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 3, IT_TIMEOUT * 2), 1);
    for (int k = 0; k < 3; k++)
        assert_true(it_json_equal(it_inbox_at(in, k)->data, o));
    cJSON_Delete(o);
    free(big);
}

/* Ping-pong: each handler answers the other client directly, 100 steps. */
typedef struct pingpong {
    pthread_mutex_t lock;
    int steps;
    int errors;
    oocsi_client *peer[2];
} pingpong;

static pingpong g_pp;

static void pp_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    int side = (int)(intptr_t)user;
    int64_t n = 0;
    if (oocsi_message_get_int(m, "n", &n) != OOCSI_OK)
        return;
    pthread_mutex_lock(&g_pp.lock);
    g_pp.steps = (int)n;
    pthread_mutex_unlock(&g_pp.lock);
    if (n < 100) {
        char json[32];
        snprintf(json, sizeof json, "{\"n\":%lld}", (long long)n + 1);
        /* Sending from inside a callback. */
        if (oocsi_send_json(c, oocsi_handle(g_pp.peer[1 - side]), json) != OOCSI_OK) {
            pthread_mutex_lock(&g_pp.lock);
            g_pp.errors++;
            pthread_mutex_unlock(&g_pp.lock);
        }
    }
    it_notify();
}

static int pp_done(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&g_pp.lock);
    int d = g_pp.steps >= 100 || g_pp.errors;
    pthread_mutex_unlock(&g_pp.lock);
    return d;
}

static void test_ping_pong(void **state)
{
    (void)state;
    memset(&g_pp, 0, sizeof g_pp);
    pthread_mutex_init(&g_pp.lock, NULL);
    for (int side = 0; side < 2; side++) {
        char h[64];
        it_unique(h, sizeof h, side ? "pp_b" : "pp_a");
        oocsi_options *o = it_options(h);
        assert_int_equal(oocsi_options_set_direct_handler(o, pp_handler, (void *)(intptr_t)side), OOCSI_OK);
        g_pp.peer[side] = it_connect_opts(o);
    }
    it_loop_start(g_pp.peer[0]);
    it_loop_start(g_pp.peer[1]);
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_send_json(g_pp.peer[0], oocsi_handle(g_pp.peer[1]), "{\"n\":1}"), OOCSI_OK);
    int ok = it_wait_until(pp_done, NULL, 20000);
    int64_t dt = it_now_ms() - t0;
    it_close(g_pp.peer[0]);
    it_close(g_pp.peer[1]);
    pthread_mutex_destroy(&g_pp.lock);
    assert_true(ok);
    assert_int_equal(g_pp.errors, 0);
    assert_int_equal(g_pp.steps, 100);
    print_message("100-step ping-pong took %lld ms\n", (long long)dt);
}

static void msg_noop(oocsi_client *c, const oocsi_message *m, void *u)
{
    (void)c;
    (void)m;
    (void)u;
}

static void test_invalid_names(void **state)
{
    (void)state;
    it_inbox *a_direct = it_inbox_new();
    oocsi_client *a = connect_direct("names_a", a_direct, 1);
    /* Names that would break the line protocol (or inject commands) are refused. */
    const char *bad[] = {"", "has space", "new\nline", "cr\rx", "tab\tx", "ch\nquit",
                         /* a filter's spaces only inside its trailing brackets */
                         "a b[filter(x > 1)]", "ab[filter(x > 1)] ", "[filter(x > 1)]", "ab[filter(x >\n1)]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (oocsi_send_json(a, bad[i], "{}") != OOCSI_ERR_INVAL)
            fail_msg("oocsi_send_json to name #%zu accepted", i);
        if (oocsi_subscribe(a, bad[i], msg_noop, NULL) != OOCSI_ERR_INVAL)
            fail_msg("oocsi_subscribe to name #%zu accepted", i);
    }
    /* A reference-server filter subscription is sent as it is (this hub
     * ignores it), and left again. */
    assert_int_equal(oocsi_subscribe(a, "names_f[filter(x > 1);transform(y,x * 2)]", msg_noop, NULL), OOCSI_OK);
    assert_int_equal(oocsi_unsubscribe(a, "names_f[filter(x > 1);transform(y,x * 2)]"), OOCSI_OK);
    /* Still registered and working (no injected quit): a round trip through
     * the server, and on the line protocol a query as well. */
    assert_int_equal(it_wait_hub_client(it_hub, oocsi_handle(a), 100), 1);
    barrier(a, a, a_direct);
    if (!it_transport_is_web()) {
        char *out = NULL;
        assert_int_equal(oocsi_clients(a, IT_TIMEOUT, &out), OOCSI_OK);
        oocsi_free(out);
    }
    assert_int_equal(it_wait_hub_client(it_hub, oocsi_handle(a), 0), 1);
}

static void test_subscribe_bounded_by_connect_timeout(void **state)
{
    (void)state;
    char h[64], ch[64];
    it_unique(h, sizeof h, "subtimeout");
    it_unique(ch, sizeof ch, "subto");
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_connect_timeout(o, 500), OOCSI_OK);
    oocsi_client *a = it_connect_opts(o);
    it_loop_start(a);
    assert_int_equal(it_server_stall(h, 1), 0);
    int64_t t0 = it_now_ms();
    int rc = oocsi_subscribe(a, ch, msg_noop, NULL);
    int64_t dt = it_now_ms() - t0;
    it_server_stall(h, 0);
    assert_int_equal(rc, OOCSI_ERR_TIMEOUT);
    if (dt < 400 || dt > IT_HANG_MS)
        fail_msg("subscribe returned after %lld ms with a 500 ms connect timeout", (long long)dt);
}

/* Subscribing and unsubscribing from inside handlers. */
typedef struct reentrant {
    pthread_mutex_t lock;
    char other[64];
    int calls;
    int sub_rc, unsub_rc;
} reentrant;

static reentrant g_re;

static void reentrant_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)m;
    const char *own = user;
    int first;
    pthread_mutex_lock(&g_re.lock);
    first = g_re.calls++ == 0;
    pthread_mutex_unlock(&g_re.lock);
    if (first) {
        int s = oocsi_subscribe(c, g_re.other, msg_noop, NULL);
        int u = oocsi_unsubscribe(c, own);
        pthread_mutex_lock(&g_re.lock);
        g_re.sub_rc = s;
        g_re.unsub_rc = u;
        pthread_mutex_unlock(&g_re.lock);
    }
    it_notify();
}

static int reentrant_done(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&g_re.lock);
    int d = g_re.calls > 0 && g_re.sub_rc != 1;
    pthread_mutex_unlock(&g_re.lock);
    return d;
}

static void test_subscribe_inside_handler(void **state)
{
    (void)state;
    static char ch[64];
    memset(&g_re, 0, sizeof g_re);
    pthread_mutex_init(&g_re.lock, NULL);
    g_re.sub_rc = 1;
    it_unique(ch, sizeof ch, "reent");
    it_unique(g_re.other, sizeof g_re.other, "reent_other");
    for (int bg = 0; bg < 2; bg++) {
        it_inbox *b_direct = it_inbox_new();
        oocsi_client *a = connect_direct("reent_a", NULL, 1);
        oocsi_client *b = connect_direct("reent_b", b_direct, bg);
        pthread_mutex_lock(&g_re.lock);
        g_re.calls = 0;
        g_re.sub_rc = 1;
        pthread_mutex_unlock(&g_re.lock);
        assert_int_equal(oocsi_subscribe(b, ch, reentrant_handler, ch), OOCSI_OK);
        assert_int_equal(oocsi_send_json(a, ch, "{\"n\":1}"), OOCSI_OK);
        assert_int_equal(it_wait_until(reentrant_done, NULL, IT_TIMEOUT), 1);
        assert_int_equal(g_re.sub_rc, OOCSI_OK);
        assert_int_equal(g_re.unsub_rc, OOCSI_OK);
        if (it_wait_subscribed(it_hub, oocsi_handle(b), g_re.other, IT_TIMEOUT) != 1)
            fail_msg("%s (%s): the subscription made inside a handler never reached the hub", it_transport_name(),
                     bg ? "background loop" : "caller-driven");
        /* Unsubscribed from inside its own handler: no further calls. */
        assert_int_equal(oocsi_send_json(a, ch, "{\"n\":2}"), OOCSI_OK);
        barrier(a, b, b_direct);
        assert_int_equal(g_re.calls, 1);
        it_close(b);
        it_close(a);
    }
    pthread_mutex_destroy(&g_re.lock);
}

static void resp_noop(oocsi_client *c, const oocsi_message *m, cJSON *r, void *u)
{
    (void)c;
    (void)m;
    (void)r;
    (void)u;
}

static void test_subscribe_barrier(void **state)
{
    (void)state;
    /* The protocol: subscribe, register and variable_new return only once
     * the server has the subscription (checked without waiting). */
    for (int bg = 0; bg < 2; bg++) {
        oocsi_client *a = connect_direct("barrier_a", NULL, bg);
        const char *h = oocsi_handle(a);
        for (int i = 0; i < 20; i++) {
            char ch[64];
            it_unique(ch, sizeof ch, "barrier");
            assert_int_equal(oocsi_subscribe(a, ch, msg_noop, NULL), OOCSI_OK);
            if (!it_wait_subscribed(it_hub, h, ch, 0))
                fail_msg("subscribe returned before the server had channel %s", ch);
        }
        char svc[64], vch[64];
        it_unique(svc, sizeof svc, "barrier_svc");
        it_unique(vch, sizeof vch, "barrier_var");
        assert_int_equal(oocsi_register(a, svc, "f", resp_noop, NULL), OOCSI_OK);
        assert_int_equal(it_wait_subscribed(it_hub, h, svc, 0), 1);
        oocsi_variable *v = oocsi_variable_new(a, vch, "k");
        assert_non_null(v);
        int ok = it_wait_subscribed(it_hub, h, vch, 0);
        oocsi_variable_free(v);
        assert_int_equal(ok, 1);
        it_close(a);
    }
}

/* Two threads subscribe to the same channel (different handlers) while the
 * server is not answering: neither may return before the server has it. */
typedef struct subthread {
    oocsi_client *c;
    const char *channel;
    int id;
    int rc;
    int server_had_it;
} subthread;

static void *subthread_main(void *arg)
{
    subthread *t = arg;
    t->rc = oocsi_subscribe(t->c, t->channel, msg_noop, &t->id);
    t->server_had_it = it_wait_subscribed(it_hub, oocsi_handle(t->c), t->channel, 0);
    return NULL;
}

static void test_concurrent_subscribe_same_channel(void **state)
{
    (void)state;
    char h[64], ch[64];
    it_unique(h, sizeof h, "samech");
    it_unique(ch, sizeof ch, "samech_ch");
    oocsi_client *a = it_connect_bg(h);
    assert_int_equal(it_server_stall(h, 1), 0);
    subthread t[2] = {{a, ch, 1, -100, -1}, {a, ch, 2, -100, -1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, subthread_main, &t[i]), 0);
    /* Observation window with the hub stalled, then let it answer. */
    it_pump_for(500);
    it_server_stall(h, 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        if (t[i].rc != OOCSI_OK)
            fail_msg("thread %d: subscribe %d (%s)", i, t[i].rc, oocsi_strerror(t[i].rc));
        if (!t[i].server_had_it)
            fail_msg("thread %d: oocsi_subscribe returned OK before the server had the subscription", i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_channel_send_receive),
        IT_TEST(test_three_subscribers),
        IT_TEST(test_no_echo),
        IT_TEST(test_handlers_in_order),
        IT_TEST(test_duplicate_subscribe),
        IT_TEST(test_unsubscribe),
        IT_TEST(test_direct_messages),
        IT_TEST(test_send_json_and_invalid),
        IT_TEST(test_typed_getters),
        IT_TEST(test_text_payload_from_raw_peer),
        IT_TEST(test_burst_10000),
        IT_TEST(test_unicode_round_trip),
        IT_TEST(test_large_message),
        IT_TEST(test_ping_pong),
        IT_TEST(test_invalid_names),
        IT_TEST(test_subscribe_bounded_by_connect_timeout),
        IT_TEST(test_subscribe_inside_handler),
        IT_TEST(test_subscribe_barrier),
        IT_TEST(test_concurrent_subscribe_same_channel),
    };
    return cmocka_run_group_tests_name("integration.messaging", tests, it_group_setup, it_group_teardown);
}
