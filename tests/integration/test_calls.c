/*
 * Integration: call / response between liboocsi clients and with raw-socket
 * peers acting like the Java and Python reference clients (see codecs/README.md).
 */
#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ responders */

typedef struct resp_rec {
    pthread_mutex_t lock;
    int calls;
    int prefilled_ok; /* every request key (but _MESSAGE_HANDLE/_MESSAGE_ID) was in response */
    int had_handle_key;
    char sender[128];
} resp_rec;

static resp_rec g_rec;

static void rec_reset(void)
{
    static int inited;
    if (!inited) {
        pthread_mutex_init(&g_rec.lock, NULL);
        inited = 1;
    }
    pthread_mutex_lock(&g_rec.lock);
    g_rec.calls = 0;
    g_rec.prefilled_ok = 1;
    g_rec.had_handle_key = 0;
    g_rec.sender[0] = '\0';
    pthread_mutex_unlock(&g_rec.lock);
}

static void rec_request(const oocsi_message *req, const cJSON *response)
{
    int prefilled = 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, oocsi_message_data(req))
    {
        if (!it->string || strcmp(it->string, "_MESSAGE_HANDLE") == 0 || strcmp(it->string, "_MESSAGE_ID") == 0)
            continue;
        if (!cJSON_Compare(it, cJSON_GetObjectItemCaseSensitive(response, it->string), 1))
            prefilled = 0;
    }
    pthread_mutex_lock(&g_rec.lock);
    g_rec.calls++;
    if (!prefilled)
        g_rec.prefilled_ok = 0;
    if (cJSON_GetObjectItemCaseSensitive(response, "_MESSAGE_HANDLE"))
        g_rec.had_handle_key = 1;
    snprintf(g_rec.sender, sizeof g_rec.sender, "%s", oocsi_message_sender(req) ? oocsi_message_sender(req) : "");
    pthread_mutex_unlock(&g_rec.lock);
}

/* {a, b} -> sum */
static void add_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    rec_request(req, response);
    int64_t a = 0, b = 0;
    (void)oocsi_message_get_int(req, "a", &a);
    (void)oocsi_message_get_int(req, "b", &b);
    cJSON_AddNumberToObject(response, "sum", (double)(a + b));
}

/* {a, b} -> product */
static void mul_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    rec_request(req, response);
    int64_t a = 0, b = 0;
    (void)oocsi_message_get_int(req, "a", &a);
    (void)oocsi_message_get_int(req, "b", &b);
    cJSON_AddNumberToObject(response, "product", (double)(a * b));
}

/* {x} -> y = 2x */
static void double_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    rec_request(req, response);
    double x = 0;
    (void)oocsi_message_get_double(req, "x", &x);
    cJSON_AddNumberToObject(response, "y", 2 * x);
}

static void ok_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    rec_request(req, response);
    cJSON_AddTrueToObject(response, "ok");
}

static oocsi_client *responder(const char *channel, const char *name, oocsi_responder fn)
{
    char h[64];
    it_unique(h, sizeof h, "resp");
    oocsi_client *r = it_connect_bg(h);
    assert_int_equal(oocsi_register(r, channel, name, fn, NULL), OOCSI_OK);
    assert_int_equal(it_wait_subscribed(it_hub, h, channel, IT_TIMEOUT), 1);
    return r;
}

/* -------------------------------------------------------- call and wait */

/* oocsi_call_and_wait_from says whose answer it took. */
static void test_call_and_wait_from_names_the_responder(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "fromwho");
    oocsi_client *r = responder(ch, "add", add_responder);
    oocsi_client *c = it_connect(NULL);
    cJSON *req = it_json("{\"a\":2,\"b\":3}");
    cJSON *resp = NULL;
    char *who = NULL;
    assert_int_equal(oocsi_call_and_wait_from(c, ch, "add", req, IT_TIMEOUT, &resp, &who), OOCSI_OK);
    assert_non_null(who);
    assert_string_equal(who, oocsi_handle(r));
    IT_ASSERT_JSON(resp, "{\"a\":2,\"b\":3,\"sum\":5}");
    cJSON_Delete(resp);
    oocsi_free(who);
    /* No answer: both stay NULL. */
    who = (char *)"unchanged";
    assert_int_equal(oocsi_call_and_wait_from(c, ch, "nothing", req, 200, &resp, &who), OOCSI_ERR_TIMEOUT);
    assert_null(resp);
    assert_null(who);
    assert_int_equal(oocsi_call_and_wait_from(c, ch, "add", req, 200, &resp, NULL), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "responder"));
    cJSON_Delete(req);
}

/* Several responders on one channel: every answer, or the first N. */
static void test_call_and_collect(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "collect");
    oocsi_client *r[3];
    for (int i = 0; i < 3; i++)
        r[i] = responder(ch, "add", add_responder);
    oocsi_client *c = it_connect(NULL);
    cJSON *req = it_json("{\"a\":20,\"b\":22}");
    cJSON *answers = NULL;
    /* All within the timeout (it waits the whole 1500 ms for more). */
    assert_int_equal(oocsi_call_and_collect(c, ch, "add", req, 1500, 0, &answers), OOCSI_OK);
    assert_int_equal(cJSON_GetArraySize(answers), 3);
    int seen[3] = {0, 0, 0};
    const cJSON *a;
    cJSON_ArrayForEach(a, answers)
    {
        const cJSON *who = cJSON_GetObjectItemCaseSensitive(a, "responder");
        assert_true(cJSON_IsString(who));
        for (int i = 0; i < 3; i++)
            seen[i] += strcmp(who->valuestring, oocsi_handle(r[i])) == 0;
        const cJSON *resp = cJSON_GetObjectItemCaseSensitive(a, "response");
        IT_ASSERT_JSON(resp, "{\"a\":20,\"b\":22,\"sum\":42}");
    }
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    cJSON_Delete(answers);
    /* The first 2, returning as soon as they are in (a long timeout). */
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_call_and_collect(c, ch, "add", req, IT_LONG_WAIT_MS, 2, &answers), OOCSI_OK);
    assert_true(it_now_ms() - t0 < IT_HANG_MS);
    assert_int_equal(cJSON_GetArraySize(answers), 2);
    cJSON_Delete(answers);
    /* Nobody answers that name. */
    answers = (cJSON *)1;
    assert_int_equal(oocsi_call_and_collect(c, ch, "nothing", req, 200, 0, &answers), OOCSI_ERR_TIMEOUT);
    assert_null(answers);
    cJSON_Delete(req);
}

/* A request sent with a server key (_DELAY) is delayed by the server; its
 * answer must not carry the key back (and be delayed or retained again). */
static void test_response_does_not_echo_server_keys(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "nokeys");
    responder(ch, "add", add_responder);
    oocsi_client *c = it_connect(NULL);
    cJSON *req = it_json("{\"a\":1,\"b\":1,\"_DELAY\":1}");
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, ch, "add", req, 3 * IT_TIMEOUT, &resp), OOCSI_OK);
    cJSON_Delete(req);
    assert_null(cJSON_GetObjectItemCaseSensitive(resp, "_DELAY"));
    IT_ASSERT_JSON(resp, "{\"a\":1,\"b\":1,\"sum\":2}");
    cJSON_Delete(resp);
}

static void test_call_and_wait_both_directions(void **state)
{
    (void)state;
    rec_reset();
    char ch1[64], ch2[64];
    it_unique(ch1, sizeof ch1, "calc");
    it_unique(ch2, sizeof ch2, "calc2");
    oocsi_client *r = responder(ch1, "add", add_responder);
    oocsi_client *c = it_connect_bg(NULL);
    assert_int_equal(oocsi_register(c, ch2, "mul", mul_responder, NULL), OOCSI_OK);

    cJSON *req = it_json("{\"a\":2,\"b\":3}");
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, ch1, "add", req, IT_TIMEOUT, &resp), OOCSI_OK);
    assert_non_null(resp);
    IT_ASSERT_JSON(resp, "{\"a\":2,\"b\":3,\"sum\":5}");
    cJSON_Delete(resp);
    resp = NULL;

    /* The other direction. */
    assert_int_equal(oocsi_call_and_wait(r, ch2, "mul", req, IT_TIMEOUT, &resp), OOCSI_OK);
    assert_non_null(resp);
    IT_ASSERT_JSON(resp, "{\"a\":2,\"b\":3,\"product\":6}");
    cJSON_Delete(resp);
    resp = NULL;

    /* A caller-driven caller (no background thread). */
    oocsi_client *d = it_connect(NULL);
    cJSON *req2 = it_json("{\"a\":40,\"b\":2}");
    assert_int_equal(oocsi_call_and_wait(d, ch1, "add", req2, IT_TIMEOUT, &resp), OOCSI_OK);
    assert_non_null(resp);
    IT_ASSERT_JSON(resp, "{\"a\":40,\"b\":2,\"sum\":42}");
    cJSON_Delete(resp);
    cJSON_Delete(req2);
    cJSON_Delete(req);

    pthread_mutex_lock(&g_rec.lock);
    int calls = g_rec.calls, prefilled = g_rec.prefilled_ok, handle_key = g_rec.had_handle_key;
    pthread_mutex_unlock(&g_rec.lock);
    assert_int_equal(calls, 3);
    assert_true(prefilled);
    assert_false(handle_key);
}

static void test_null_data_call(void **state)
{
    (void)state;
    rec_reset();
    char ch[64];
    it_unique(ch, sizeof ch, "nulldata");
    responder(ch, "ok", ok_responder);
    oocsi_client *c = it_connect(NULL);
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, ch, "ok", NULL, IT_TIMEOUT, &resp), OOCSI_OK);
    assert_non_null(resp);
    IT_ASSERT_JSON(resp, "{\"ok\":true}");
    cJSON_Delete(resp);
}

/* ------------------------------------------------ wire: Java-style caller */

/* A call request nobody here answers is not channel data (as in the Java
 * client); a relay opts in to see it. A plain message after it is the
 * marker: it arrives after the request would have. */
static void test_unanswered_call_not_given_to_handlers(void **state)
{
    (void)state;
    char ch[64], ph[64];
    it_unique(ch, sizeof ch, "unanswered");
    it_unique(ph, sizeof ph, "unansweredcaller");
    for (int relay = 0; relay < 2; relay++) {
        oocsi_options *o = it_options(NULL);
        assert_int_equal(oocsi_options_set_calls_to_handlers(o, relay), OOCSI_OK);
        oocsi_client *c = it_connect_opts(o);
        it_inbox *in = it_inbox_new();
        assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
        it_raw *p = it_raw_connect(it_server_port(), ph);
        assert_non_null(p);
        assert_int_equal(
            it_raw_send(p, "sendraw %s {\"x\":1,\"_MESSAGE_HANDLE\":\"nope\",\"_MESSAGE_ID\":\"id-x\"}", ch), 0);
        assert_int_equal(it_raw_send(p, "sendraw %s {\"marker\":true}", ch), 0);
        assert_int_equal(it_inbox_wait(in, relay ? 2 : 1, IT_TIMEOUT), 1);
        int n = it_inbox_count(in);
        if (n != (relay ? 2 : 1))
            fail_msg("calls_to_handlers=%d: the channel handler got %d message(s)", relay, n);
        if (relay)
            assert_non_null(cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, 0)->data, "_MESSAGE_HANDLE"));
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, n - 1)->data, "marker")));
        it_raw_close(p);
        it_close(c);
    }
}

static void test_wire_java_caller(void **state)
{
    (void)state;
    rec_reset();
    char ch[64], ph[64];
    it_unique(ch, sizeof ch, "jcaller");
    it_unique(ph, sizeof ph, "javacaller");
    oocsi_client *r = responder(ch, "double", double_responder);
    it_raw *p = it_raw_connect(it_server_port(), ph);
    assert_non_null(p);

    /* On the channel. */
    assert_int_equal(
        it_raw_send(p, "sendraw %s {\"x\":5,\"_MESSAGE_HANDLE\":\"double\",\"_MESSAGE_ID\":\"id-123\"}", ch), 0);
    cJSON *j = it_raw_next_json(p, IT_TIMEOUT);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "sender")->valuestring, oocsi_handle(r));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "recipient")->valuestring, ph);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "_MESSAGE_ID");
    assert_true(cJSON_IsString(id));
    assert_string_equal(id->valuestring, "id-123");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "_MESSAGE_HANDLE"));
    IT_ASSERT_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "y")), 10.0, 1e-9);
    IT_ASSERT_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "x")), 5.0, 1e-9);
    cJSON_Delete(j);

    /* A call name nobody registered gets no answer; then a direct call to the responder's handle. */
    assert_int_equal(
        it_raw_send(p, "sendraw %s {\"x\":1,\"_MESSAGE_HANDLE\":\"nope\",\"_MESSAGE_ID\":\"id-nope\"}", ch), 0);
    assert_int_equal(it_raw_send(p, "sendraw %s {\"x\":21,\"_MESSAGE_HANDLE\":\"double\",\"_MESSAGE_ID\":\"id-456\"}",
                                 oocsi_handle(r)),
                     0);
    j = it_raw_next_json(p, IT_TIMEOUT);
    assert_non_null(j);
    id = cJSON_GetObjectItemCaseSensitive(j, "_MESSAGE_ID");
    assert_true(cJSON_IsString(id));
    assert_string_equal(id->valuestring, "id-456");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "_MESSAGE_HANDLE"));
    IT_ASSERT_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "y")), 42.0, 1e-9);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "recipient")->valuestring, ph);
    cJSON_Delete(j);

    pthread_mutex_lock(&g_rec.lock);
    assert_int_equal(g_rec.calls, 2);
    assert_string_equal(g_rec.sender, ph);
    pthread_mutex_unlock(&g_rec.lock);
}

/* ----------------------------------------- wire: Java / Python responders */

typedef struct waiter {
    oocsi_client *c;
    const char *channel, *name;
    cJSON *req;
    int timeout;
    int rc;
    cJSON *resp;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    w->rc = oocsi_call_and_wait(w->c, w->channel, w->name, w->req, w->timeout, &w->resp);
    return NULL;
}

/* Reads the call request on p; checks it and returns its _MESSAGE_ID (malloc'd). */
static char *read_request(it_raw *p, oocsi_client *caller, const char *channel, const char *name, int q)
{
    cJSON *j = it_raw_next_json(p, IT_TIMEOUT);
    assert_non_null(j);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "_MESSAGE_HANDLE");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "_MESSAGE_ID");
    assert_true(cJSON_IsString(h));
    assert_string_equal(h->valuestring, name);
    assert_true(cJSON_IsString(id));
    assert_true(strlen(id->valuestring) > 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "sender")->valuestring, oocsi_handle(caller));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "recipient")->valuestring, channel);
    if (q >= 0)
        IT_ASSERT_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "q")), (double)q, 1e-9);
    char *copy = strdup(id->valuestring);
    cJSON_Delete(j);
    return copy;
}

static void test_wire_java_and_python_responders(void **state)
{
    (void)state;
    char ch[64], ph[64];
    it_unique(ch, sizeof ch, "jsvc");
    it_unique(ph, sizeof ph, "javaresp");
    it_raw *p = it_raw_connect(it_server_port(), ph);
    assert_non_null(p);
    assert_int_equal(it_raw_subscribe(p, ch), 0);
    oocsi_client *c = it_connect(NULL); /* caller-driven: call_and_wait drives it */
    it_set_pumped(c, 0);

    for (int style = 0; style < 2; style++) {
        waiter w = {c, ch, "jcall", NULL, IT_TIMEOUT, -100, NULL};
        w.req = cJSON_CreateObject();
        cJSON_AddNumberToObject(w.req, "q", 7 + style);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
        char *id = read_request(p, c, ch, "jcall", 7 + style);
        /* A reply with another id is not the answer. */
        it_raw_send(p, "sendraw %s {\"answer\":-1,\"_MESSAGE_ID\":\"bogus-%s\"}", oocsi_handle(c), id);
        if (style == 0) /* Java: only the response keys + _MESSAGE_ID */
            it_raw_send(p, "sendraw %s {\"answer\":42,\"_MESSAGE_ID\":\"%s\"}", oocsi_handle(c), id);
        else /* Python: echoes the request keys */
            it_raw_send(p, "sendraw %s {\"q\":8,\"_MESSAGE_ID\":\"%s\",\"answer\":43}", oocsi_handle(c), id);
        pthread_join(t, NULL);
        free(id);
        cJSON_Delete(w.req);
        if (w.rc != OOCSI_OK)
            fail_msg("style %d: call_and_wait %d (%s)", style, w.rc, oocsi_strerror(w.rc));
        assert_non_null(w.resp);
        if (style == 0)
            IT_ASSERT_JSON(w.resp, "{\"answer\":42}");
        else
            IT_ASSERT_JSON(w.resp, "{\"q\":8,\"answer\":43}");
        cJSON_Delete(w.resp);
    }
}

/* ------------------------------------------------------------ async call */

typedef struct cb_rec {
    pthread_mutex_t lock;
    int count;
    int nulls;
    cJSON *data; /* first non-NULL response */
    int64_t at;
} cb_rec;

static void cb_fn(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c;
    cb_rec *r = user;
    pthread_mutex_lock(&r->lock);
    r->count++;
    r->at = it_now_ms();
    if (!response)
        r->nulls++;
    else if (!r->data)
        r->data = cJSON_Duplicate(oocsi_message_data(response), 1);
    pthread_mutex_unlock(&r->lock);
    it_notify();
}

static int cb_count(cb_rec *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static int cb_called(void *ctx)
{
    return cb_count(ctx) > 0;
}

static void cb_init(cb_rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
}

static void cb_destroy(cb_rec *r)
{
    cJSON_Delete(r->data);
    pthread_mutex_destroy(&r->lock);
}

static void test_async_call(void **state)
{
    (void)state;
    rec_reset();
    enum { N = 5 };
    static cb_rec recs[N + 1];
    char ch[64], nobody[64];
    it_unique(ch, sizeof ch, "async");
    it_unique(nobody, sizeof nobody, "nobody");
    responder(ch, "add", add_responder);
    oocsi_client *c = it_connect_bg(NULL);
    for (int i = 0; i <= N; i++)
        cb_init(&recs[i]);
    /* Several calls in flight: each callback gets its own answer. */
    for (int i = 0; i < N; i++) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddNumberToObject(req, "a", i);
        cJSON_AddNumberToObject(req, "b", 100);
        assert_int_equal(oocsi_call(c, ch, "add", req, IT_TIMEOUT, cb_fn, &recs[i]), OOCSI_OK);
        cJSON_Delete(req);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(it_wait_until(cb_called, &recs[i], IT_TIMEOUT), 1);
    /* A call nobody answers times out; it was issued later with a later deadline. */
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_call(c, nobody, "add", NULL, 300, cb_fn, &recs[N]), OOCSI_OK);
    assert_int_equal(it_wait_until(cb_called, &recs[N], IT_TIMEOUT), 1);
    int64_t dt = recs[N].at - t0;
    it_close(c);
    int failed = 0;
    for (int i = 0; i < N && !failed; i++) {
        if (recs[i].count != 1 || recs[i].nulls != 0 || !recs[i].data)
            failed = i + 1;
    }
    int n_count = recs[N].count, n_nulls = recs[N].nulls;
    cJSON *d2 = recs[2].data ? cJSON_Duplicate(recs[2].data, 1) : NULL;
    for (int i = 0; i <= N; i++)
        cb_destroy(&recs[i]);
    if (failed)
        fail_msg("call %d: callback count/null/data wrong", failed - 1);
    assert_int_equal(n_count, 1);
    assert_int_equal(n_nulls, 1);
    if (dt < 250)
        fail_msg("timeout callback after %lld ms for a 300 ms timeout", (long long)dt);
    IT_ASSERT_JSON(d2, "{\"a\":2,\"b\":100,\"sum\":102}");
    cJSON_Delete(d2);
}

static void test_timeout(void **state)
{
    (void)state;
    char nobody[64], ch[64];
    it_unique(nobody, sizeof nobody, "nobody");
    it_unique(ch, sizeof ch, "othercall");
    responder(ch, "add", add_responder);
    oocsi_client *c = it_connect(NULL);
    cJSON *resp = NULL;
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_call_and_wait(c, nobody, "add", NULL, 300, &resp), OOCSI_ERR_TIMEOUT);
    int64_t dt = it_now_ms() - t0;
    assert_null(resp);
    if (dt < 250)
        fail_msg("call_and_wait timed out after %lld ms for a 300 ms timeout", (long long)dt);
    /* The channel exists but nobody answers that call name. */
    assert_int_equal(oocsi_call_and_wait(c, ch, "sub", NULL, 300, &resp), OOCSI_ERR_TIMEOUT);
    assert_null(resp);
    /* The client still works. */
    cJSON *req = it_json("{\"a\":1,\"b\":1}");
    assert_int_equal(oocsi_call_and_wait(c, ch, "add", req, IT_TIMEOUT, &resp), OOCSI_OK);
    IT_ASSERT_JSON(resp, "{\"a\":1,\"b\":1,\"sum\":2}");
    cJSON_Delete(resp);
    cJSON_Delete(req);
}

static void test_late_response_dropped(void **state)
{
    (void)state;
    char ch[64], ph[64], h[64];
    it_unique(ch, sizeof ch, "late");
    it_unique(ph, sizeof ph, "lateresp");
    it_unique(h, sizeof h, "latecaller");
    it_raw *p = it_raw_connect(it_server_port(), ph);
    assert_non_null(p);
    assert_int_equal(it_raw_subscribe(p, ch), 0);
    it_inbox *direct = it_inbox_new();
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, direct), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    static cb_rec rec;
    cb_init(&rec);
    cJSON *req = it_json("{\"q\":1}");
    assert_int_equal(oocsi_call(c, ch, "slow", req, 300, cb_fn, &rec), OOCSI_OK);
    cJSON_Delete(req);
    char *id = read_request(p, c, ch, "slow", 1);
    int timed_out = it_wait_until(cb_called, &rec, IT_TIMEOUT);
    /* Now the answer, too late; then a marker after it. */
    it_raw_send(p, "sendraw %s {\"answer\":1,\"_MESSAGE_ID\":\"%s\"}", h, id);
    it_raw_send(p, "sendraw %s {\"marker\":\"after\"}", h);
    free(id);
    int marker = it_inbox_wait_str(direct, "marker", "after", IT_TIMEOUT);
    it_close(c);
    int count = rec.count, nulls = rec.nulls;
    cb_destroy(&rec);
    assert_true(timed_out);
    assert_true(marker >= 0);
    assert_int_equal(count, 1);
    assert_int_equal(nulls, 1);
    /* The late response reached nobody: only the marker came in directly. */
    assert_int_equal(it_inbox_count(direct), 1);
}

/* ------------------------------------------- blocking call inside callbacks */

typedef struct nested {
    pthread_mutex_t lock;
    const char *channel;
    int done;
    int rc;
    double sum;
} nested;

static nested g_nested;

static void nested_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)m;
    (void)user;
    cJSON *req = it_json("{\"a\":20,\"b\":22}");
    cJSON *resp = NULL;
    int rc = oocsi_call_and_wait(c, g_nested.channel, "add", req, IT_TIMEOUT, &resp);
    cJSON_Delete(req);
    pthread_mutex_lock(&g_nested.lock);
    g_nested.rc = rc;
    g_nested.sum = resp ? cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "sum")) : -1;
    g_nested.done++;
    pthread_mutex_unlock(&g_nested.lock);
    cJSON_Delete(resp);
    it_notify();
}

/* A responder that itself calls "add" and answers with its result. */
static void chain_responder(oocsi_client *c, const oocsi_message *reqm, cJSON *response, void *user)
{
    (void)reqm;
    (void)user;
    cJSON *req = it_json("{\"a\":1,\"b\":2}");
    cJSON *resp = NULL;
    int rc = oocsi_call_and_wait(c, g_nested.channel, "add", req, IT_TIMEOUT, &resp);
    cJSON_Delete(req);
    cJSON_AddNumberToObject(response, "rc", rc);
    cJSON_AddNumberToObject(response, "inner",
                            resp ? cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "sum")) : -1);
    cJSON_Delete(resp);
}

static int nested_done(void *ctx)
{
    int want = *(int *)ctx;
    pthread_mutex_lock(&g_nested.lock);
    int d = g_nested.done >= want;
    pthread_mutex_unlock(&g_nested.lock);
    return d;
}

static void test_call_from_handler(void **state)
{
    (void)state;
    char ch[64], trig[64], chain[64];
    it_unique(ch, sizeof ch, "nestcalc");
    it_unique(trig, sizeof trig, "trigger");
    it_unique(chain, sizeof chain, "chain");
    memset(&g_nested, 0, sizeof g_nested);
    pthread_mutex_init(&g_nested.lock, NULL);
    g_nested.channel = ch;
    responder(ch, "add", add_responder);
    oocsi_client *sender = it_connect_bg(NULL);

    /* Background-thread client: blocking call inside a channel handler. */
    oocsi_client *bg = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(bg, trig, nested_handler, NULL), OOCSI_OK);
    assert_int_equal(oocsi_send_json(sender, trig, "{\"go\":1}"), OOCSI_OK);
    int want = 1;
    int ok1 = it_wait_until(nested_done, &want, 3 * IT_TIMEOUT);
    it_close(bg);
    int rc1 = g_nested.rc;
    double sum1 = g_nested.sum;

    /* Caller-driven client: the handler runs inside oocsi_loop. */
    oocsi_client *cd = it_connect(NULL);
    assert_int_equal(oocsi_subscribe(cd, trig, nested_handler, NULL), OOCSI_OK);
    assert_int_equal(oocsi_send_json(sender, trig, "{\"go\":2}"), OOCSI_OK);
    want = 2;
    int ok2 = it_wait_until(nested_done, &want, 3 * IT_TIMEOUT);
    it_close(cd);
    int rc2 = g_nested.rc;
    double sum2 = g_nested.sum;

    /* A responder that makes a blocking call itself. */
    oocsi_client *ch_resp = it_connect_bg(NULL);
    assert_int_equal(oocsi_register(ch_resp, chain, "chain", chain_responder, NULL), OOCSI_OK);
    cJSON *resp = NULL;
    int rc3 = oocsi_call_and_wait(sender, chain, "chain", NULL, 3 * IT_TIMEOUT, &resp);
    it_close(ch_resp);
    pthread_mutex_destroy(&g_nested.lock);

    assert_true(ok1);
    assert_int_equal(rc1, OOCSI_OK);
    IT_ASSERT_NEAR(sum1, 42, 1e-9);
    assert_true(ok2);
    assert_int_equal(rc2, OOCSI_OK);
    IT_ASSERT_NEAR(sum2, 42, 1e-9);
    assert_int_equal(rc3, OOCSI_OK);
    assert_non_null(resp);
    IT_ASSERT_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "rc")), OOCSI_OK, 1e-9);
    IT_ASSERT_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "inner")), 3, 1e-9);
    cJSON_Delete(resp);
}

static void test_unregister(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "unreg");
    oocsi_client *r = responder(ch, "add", add_responder);
    assert_int_equal(oocsi_register(r, ch, "ok", ok_responder, NULL), OOCSI_OK);
    oocsi_client *c = it_connect_bg(NULL);
    cJSON *resp = NULL;
    assert_int_equal(oocsi_call_and_wait(c, ch, "add", NULL, IT_TIMEOUT, &resp), OOCSI_OK);
    cJSON_Delete(resp);
    resp = NULL;
    assert_int_equal(oocsi_unregister(r, ch, "add"), OOCSI_OK);
    assert_int_equal(oocsi_unregister(r, ch, "never"), OOCSI_OK);
    assert_int_equal(oocsi_call_and_wait(c, ch, "add", NULL, 300, &resp), OOCSI_ERR_TIMEOUT);
    assert_null(resp);
    /* The other responder on that channel is still there. */
    assert_int_equal(oocsi_call_and_wait(c, ch, "ok", NULL, IT_TIMEOUT, &resp), OOCSI_OK);
    IT_ASSERT_JSON(resp, "{\"ok\":true}");
    cJSON_Delete(resp);
}

/* Calls in a row, in both loop modes, each answered and none mixed up with
 * another (their speed is measured by tests/bench/bench_roundtrip, not here). */
static void test_calls_in_a_row(void **state)
{
    (void)state;
    enum { N = 50 };
    char ch[64];
    it_unique(ch, sizeof ch, "inarow");
    responder(ch, "add", add_responder);
    for (int mode = 0; mode < 2; mode++) {
        oocsi_client *c = mode ? it_connect_bg(NULL) : it_connect(NULL);
        for (int i = 0; i < N; i++) {
            cJSON *req = cJSON_CreateObject();
            cJSON_AddNumberToObject(req, "a", i);
            cJSON_AddNumberToObject(req, "b", 1000);
            cJSON *resp = NULL;
            int rc = oocsi_call_and_wait(c, ch, "add", req, IT_TIMEOUT, &resp);
            cJSON_Delete(req);
            assert_int_equal(rc, OOCSI_OK);
            cJSON *sum = cJSON_GetObjectItemCaseSensitive(resp, "sum");
            if (!cJSON_IsNumber(sum) || sum->valuedouble != i + 1000)
                fail_msg("call %d (%s): wrong or missing sum", i, mode ? "background thread" : "caller-driven");
            cJSON_Delete(resp);
        }
        it_close(c);
    }
}

static void test_close_with_pending_call(void **state)
{
    (void)state;
    char nobody[64];
    it_unique(nobody, sizeof nobody, "pendingnobody");
    static cb_rec rec;
    for (int bg = 1; bg >= 0; bg--) {
        cb_init(&rec);
        oocsi_client *c = bg ? it_connect_bg(NULL) : it_connect(NULL);
        assert_int_equal(oocsi_call(c, nobody, "f", NULL, IT_LONG_WAIT_MS, cb_fn, &rec), OOCSI_OK);
        int64_t t0 = it_now_ms();
        it_close(c);
        int64_t dt = it_now_ms() - t0;
        int count = rec.count, nulls = rec.nulls;
        cb_destroy(&rec);
        if (dt > IT_HANG_MS)
            fail_msg("oocsi_close took %lld ms with a pending call: it waited for the call's timeout", (long long)dt);
        /* oocsi_call_fn: "response is NULL when the call timed out (or the client closed)". */
        if (count != 1 || nulls != 1)
            fail_msg("%s client closed with a pending call: callback ran %d time(s), %d with NULL",
                     bg ? "background" : "caller-driven", count, nulls);
    }
}

/* Drives a caller-driven client from a helper thread until pump_stop. */
static atomic_int pump_stop;

static void *pump_main(void *arg)
{
    oocsi_client *c = arg;
    while (!pump_stop)
        oocsi_loop(c, 10);
    return NULL;
}

/* Messages that arrive while a handler blocks in call_and_wait are queued and
 * run after it returns, never nested inside it. */
typedef struct nesting {
    pthread_mutex_t lock;
    int depth, max_depth;
    int order[4];
    int count;
    int call_rc;
    const char *call_channel;
} nesting;

static nesting g_nest;

static void nesting_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)user;
    int64_t n = 0;
    oocsi_message_get_int(m, "n", &n);
    pthread_mutex_lock(&g_nest.lock);
    g_nest.depth++;
    if (g_nest.depth > g_nest.max_depth)
        g_nest.max_depth = g_nest.depth;
    if (g_nest.count < 4)
        g_nest.order[g_nest.count] = (int)n;
    g_nest.count++;
    pthread_mutex_unlock(&g_nest.lock);
    if (n == 1) {
        cJSON *resp = NULL;
        int rc = oocsi_call_and_wait(c, g_nest.call_channel, "slow", NULL, IT_TIMEOUT, &resp);
        cJSON_Delete(resp);
        pthread_mutex_lock(&g_nest.lock);
        g_nest.call_rc = rc;
        pthread_mutex_unlock(&g_nest.lock);
    }
    pthread_mutex_lock(&g_nest.lock);
    g_nest.depth--;
    pthread_mutex_unlock(&g_nest.lock);
    it_notify();
}

static int nesting_done(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&g_nest.lock);
    int d = g_nest.count >= 2 && g_nest.depth == 0;
    pthread_mutex_unlock(&g_nest.lock);
    return d;
}

static void test_no_nested_callbacks(void **state)
{
    (void)state;
    for (int bg = 0; bg < 2; bg++) {
        char trig[64], svc[64], ph[64];
        it_unique(trig, sizeof trig, "nesttrig");
        it_unique(svc, sizeof svc, "nestsvc");
        it_unique(ph, sizeof ph, "nestpeer");
        memset(&g_nest, 0, sizeof g_nest);
        pthread_mutex_init(&g_nest.lock, NULL);
        g_nest.call_rc = 1;
        g_nest.call_channel = svc;
        it_raw *p = it_raw_connect(it_server_port(), ph);
        assert_non_null(p);
        assert_int_equal(it_raw_subscribe(p, svc), 0);
        oocsi_client *c = bg ? it_connect_bg(NULL) : it_connect(NULL);
        assert_int_equal(oocsi_subscribe(c, trig, nesting_handler, NULL), OOCSI_OK);
        assert_int_equal(it_raw_send(p, "sendraw %s {\"n\":1}", trig), 0);
        if (!bg) {
            /* Drive the caller-driven client from a helper thread: this thread plays the responder. */
            it_set_pumped(c, 0);
        }
        pthread_t t;
        int started = 0;
        if (!bg) {
            assert_int_equal(pthread_create(&t, NULL, pump_main, c), 0);
            started = 1;
        }
        /* The request arrives; trigger 2 goes out before the answer, on the same connection. */
        char *id = read_request(p, c, svc, "slow", -1);
        assert_int_equal(it_raw_send(p, "sendraw %s {\"n\":2}", trig), 0);
        assert_int_equal(it_raw_send(p, "sendraw %s {\"done\":true,\"_MESSAGE_ID\":\"%s\"}", oocsi_handle(c), id), 0);
        free(id);
        int ok = it_wait_until(nesting_done, NULL, IT_TIMEOUT);
        if (started) {
            pump_stop = 1;
            pthread_join(t, NULL);
            pump_stop = 0;
        }
        it_close(c);
        it_raw_close(p);
        pthread_mutex_destroy(&g_nest.lock);
        assert_true(ok);
        assert_int_equal(g_nest.call_rc, OOCSI_OK);
        if (g_nest.max_depth != 1)
            fail_msg("%s: a handler ran nested inside another's call_and_wait", bg ? "background" : "caller-driven");
        assert_int_equal(g_nest.count, 2);
        assert_int_equal(g_nest.order[0], 1);
        assert_int_equal(g_nest.order[1], 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_call_and_wait_both_directions),
        IT_TEST(test_null_data_call),
        IT_TEST(test_wire_java_caller),
        IT_TEST(test_wire_java_and_python_responders),
        IT_TEST(test_async_call),
        IT_TEST(test_timeout),
        IT_TEST(test_late_response_dropped),
        IT_TEST(test_call_from_handler),
        IT_TEST(test_unregister),
        IT_TEST(test_calls_in_a_row),
        IT_TEST(test_call_and_wait_from_names_the_responder),
        IT_TEST(test_call_and_collect),
        IT_TEST(test_response_does_not_echo_server_keys),
        IT_TEST(test_unanswered_call_not_given_to_handlers),
        IT_TEST(test_close_with_pending_call),
        IT_TEST(test_no_nested_callbacks),
    };
    return cmocka_run_group_tests_name("integration.calls", tests, it_group_setup, it_group_teardown);
}
