/*
 * Integration: a thread waiting in oocsi_call_and_wait() while the loop
 * thread owns the connection. The loop thread hands the answer over by
 * waking that thread directly; these tests cover the other ways such a wait
 * ends: its timeout, the loop thread stopping (the waiter then drives the
 * connection itself), and many waiters at once.
 */
#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A responder that holds its answer until released. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int hold_entered, hold_released;

static void holding_responder(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)req;
    (void)user;
    pthread_mutex_lock(&hold_lock);
    hold_entered++;
    it_notify();
    while (!hold_released)
        pthread_cond_wait(&hold_cv, &hold_lock);
    pthread_mutex_unlock(&hold_lock);
    cJSON_AddStringToObject(response, "held", "yes");
}

static int entered(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&hold_lock);
    int e = hold_entered > 0;
    pthread_mutex_unlock(&hold_lock);
    return e;
}

static void release_holder(void)
{
    pthread_mutex_lock(&hold_lock);
    hold_released = 1;
    pthread_cond_broadcast(&hold_cv);
    pthread_mutex_unlock(&hold_lock);
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

static oocsi_client *responder(const char *channel, const char *name, oocsi_responder fn)
{
    char h[64];
    it_unique(h, sizeof h, "cwresp");
    oocsi_client *r = it_connect_bg(h);
    assert_int_equal(oocsi_register(r, channel, name, fn, NULL), OOCSI_OK);
    assert_int_equal(it_wait_subscribed(it_hub, h, channel, IT_TIMEOUT), 1);
    return r;
}

/* A call nobody answers times out while the loop thread runs; the client's
 * next call is answered (the timed-out waiter left nothing behind). */
static void test_timeout_with_loop_thread(void **state)
{
    (void)state;
    char nobody[64], ch[64];
    it_unique(nobody, sizeof nobody, "cwnobody");
    it_unique(ch, sizeof ch, "cwadd");
    responder(ch, "add", add_responder);
    oocsi_client *c = it_connect_bg(NULL);
    for (int i = 0; i < 3; i++) {
        cJSON *resp = NULL;
        assert_int_equal(oocsi_call_and_wait(c, nobody, "add", NULL, 200, &resp), OOCSI_ERR_TIMEOUT);
        assert_null(resp);
        cJSON *req = it_json("{\"a\":2,\"b\":3}");
        assert_int_equal(oocsi_call_and_wait(c, ch, "add", req, IT_TIMEOUT, &resp), OOCSI_OK);
        IT_ASSERT_JSON(resp, "{\"a\":2,\"b\":3,\"sum\":5}");
        cJSON_Delete(resp);
        cJSON_Delete(req);
    }
}

typedef struct caller_arg {
    oocsi_client *c;
    const char *channel;
    int rc;
    cJSON *resp;
} caller_arg;

static void *caller_main(void *p)
{
    caller_arg *a = p;
    a->rc = oocsi_call_and_wait(a->c, a->channel, "hold", NULL, IT_HANG_MS, &a->resp);
    it_notify();
    return NULL;
}

/* The loop thread stops while a thread waits for its answer: the waiter is
 * woken and drives the connection itself, and gets the answer when it
 * comes, long before its own deadline. */
static void test_loop_stopped_while_waiting(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "cwhold");
    pthread_mutex_lock(&hold_lock);
    hold_entered = hold_released = 0;
    pthread_mutex_unlock(&hold_lock);
    responder(ch, "hold", holding_responder);
    oocsi_client *c = it_connect_bg(NULL);
    caller_arg a = {c, ch, -1, NULL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, caller_main, &a), 0);
    /* the request reached the responder: the caller is waiting */
    assert_true(it_wait_until(entered, NULL, IT_TIMEOUT));
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_loop_stop(c), OOCSI_OK);
    release_holder();
    pthread_join(t, NULL);
    int64_t dt = it_now_ms() - t0;
    assert_int_equal(a.rc, OOCSI_OK);
    IT_ASSERT_JSON(a.resp, "{\"held\":\"yes\"}");
    cJSON_Delete(a.resp);
    /* a waiter left asleep would have returned only at its deadline */
    if (dt >= IT_HANG_MS)
        fail_msg("the waiting caller returned after %lld ms: not woken when the loop thread stopped", (long long)dt);
}

/* While one thread waits for a slow answer, the client's handlers go on
 * running on the loop thread: messages sent meanwhile arrive before the
 * answer is released. */
static void test_handlers_run_during_a_call(void **state)
{
    (void)state;
    char ch[64], news[64];
    it_unique(ch, sizeof ch, "cwslow");
    it_unique(news, sizeof news, "cwnews");
    pthread_mutex_lock(&hold_lock);
    hold_entered = hold_released = 0;
    pthread_mutex_unlock(&hold_lock);
    responder(ch, "hold", holding_responder);
    it_inbox *in = it_inbox_new();
    oocsi_client *c = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(c, news, it_inbox_handler, in), OOCSI_OK);
    oocsi_client *sender = it_connect(NULL);
    /* A first message handled proves the loop thread has taken the loop (a
     * thread that drives it while waiting runs no handlers). */
    assert_int_equal(oocsi_send_json(sender, news, "{\"n\":0}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    caller_arg a = {c, ch, -1, NULL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, caller_main, &a), 0);
    assert_true(it_wait_until(entered, NULL, IT_TIMEOUT));
    for (int i = 0; i < 3; i++)
        assert_int_equal(oocsi_send_json(sender, news, "{\"n\":1}"), OOCSI_OK);
    /* the call is still unanswered (the responder holds it) */
    int got = it_inbox_wait(in, 4, IT_TIMEOUT);
    int n = it_inbox_count(in) - 1;
    release_holder();
    pthread_join(t, NULL);
    assert_int_equal(a.rc, OOCSI_OK);
    cJSON_Delete(a.resp);
    if (!got)
        fail_msg("the handler got %d of 3 messages while another thread waited for an answer", n);
}

/* Several threads wait at once on one client with a loop thread; each gets
 * its own answer. */
typedef struct many_arg {
    oocsi_client *c;
    const char *channel;
    int id;
    int ok;
} many_arg;

static void *many_main(void *p)
{
    many_arg *a = p;
    for (int i = 0; i < 20; i++) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddNumberToObject(req, "a", a->id * 1000);
        cJSON_AddNumberToObject(req, "b", i);
        cJSON *resp = NULL;
        int rc = oocsi_call_and_wait(a->c, a->channel, "add", req, IT_TIMEOUT, &resp);
        cJSON_Delete(req);
        const cJSON *sum = cJSON_GetObjectItemCaseSensitive(resp, "sum");
        if (rc == OOCSI_OK && cJSON_IsNumber(sum) && (int)sum->valuedouble == a->id * 1000 + i)
            a->ok++;
        cJSON_Delete(resp);
    }
    return NULL;
}

static void test_many_waiters(void **state)
{
    (void)state;
    enum { THREADS = 4 };
    char ch[64];
    it_unique(ch, sizeof ch, "cwmany");
    responder(ch, "add", add_responder);
    oocsi_client *c = it_connect_bg(NULL);
    pthread_t t[THREADS];
    many_arg a[THREADS];
    for (int k = 0; k < THREADS; k++) {
        a[k] = (many_arg){c, ch, k + 1, 0};
        assert_int_equal(pthread_create(&t[k], NULL, many_main, &a[k]), 0);
    }
    for (int k = 0; k < THREADS; k++) {
        pthread_join(t[k], NULL);
        if (a[k].ok != 20)
            fail_msg("thread %d: %d of 20 calls answered with their own sum", k, a[k].ok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_timeout_with_loop_thread),
        IT_TEST(test_loop_stopped_while_waiting),
        IT_TEST(test_handlers_run_during_a_call),
        IT_TEST(test_many_waiters),
    };
    return cmocka_run_group_tests_name("integration.call_wait", tests, it_group_setup, it_group_teardown);
}
