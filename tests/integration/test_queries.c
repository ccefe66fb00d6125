/*
 * Integration: the channels / clients / channel-subscribers queries.
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void msg_noop(oocsi_client *c, const oocsi_message *m, void *u)
{
    (void)c;
    (void)m;
    (void)u;
}

/* 1 if list (items separated by sep) contains item exactly. */
static int list_has(const char *list, const char *sep, const char *item)
{
    size_t n = strlen(item), seplen = strlen(sep);
    const char *p = list;
    while (p && *p) {
        const char *end = strstr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, item, n) == 0)
            return 1;
        p = end ? end + seplen : NULL;
    }
    return 0;
}

static int list_len(const char *list, const char *sep)
{
    if (!list || !*list)
        return 0;
    int n = 1;
    for (const char *p = strstr(list, sep); p; p = strstr(p + strlen(sep), sep))
        n++;
    return n;
}

static void test_clients(void **state)
{
    (void)state;
    oocsi_client *a = it_connect_bg(NULL);
    oocsi_client *b = it_connect(NULL);
    char *out = NULL;
    assert_int_equal(oocsi_clients(a, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    /* "h1,h2,h3": comma without spaces. */
    assert_null(strchr(out, ' '));
    assert_true(list_has(out, ",", oocsi_handle(a)));
    assert_true(list_has(out, ",", oocsi_handle(b)));
    if (it_hub) /* the Java server has no count to compare with */
        assert_int_equal(list_len(out, ","), oocsi_hub_client_count(it_hub));
    oocsi_free(out);
    out = NULL;
    /* Caller-driven client too. */
    assert_int_equal(oocsi_clients(b, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    assert_true(list_has(out, ",", oocsi_handle(a)));
    oocsi_free(out);
}

static void test_channels_and_subscribers(void **state)
{
    (void)state;
    char qa[64], qb[64], unknown[64];
    it_unique(qa, sizeof qa, "qa");
    it_unique(qb, sizeof qb, "qb");
    it_unique(unknown, sizeof unknown, "qunknown");
    oocsi_client *a = it_connect_bg(NULL);
    oocsi_client *b = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(a, qa, msg_noop, NULL), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(a, qb, msg_noop, NULL), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(b, qa, msg_noop, NULL), OOCSI_OK);

    char *out = NULL;
    assert_int_equal(oocsi_channels(a, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    assert_true(list_has(out, ", ", qa));
    assert_true(list_has(out, ", ", qb));
    assert_false(list_has(out, ", ", unknown));
    oocsi_free(out);
    out = NULL;

    assert_int_equal(oocsi_channel_subscribers(a, qa, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    assert_true(list_has(out, ", ", oocsi_handle(a)));
    assert_true(list_has(out, ", ", oocsi_handle(b)));
    assert_int_equal(list_len(out, ", "), 2);
    oocsi_free(out);
    out = NULL;

    assert_int_equal(oocsi_channel_subscribers(a, qb, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    assert_string_equal(out, oocsi_handle(a));
    oocsi_free(out);
    out = NULL;

    /* The server sends no line for an unknown channel: the answer is "". */
    int64_t t0 = it_now_ms();
    assert_int_equal(oocsi_channel_subscribers(a, unknown, IT_LONG_WAIT_MS, &out), OOCSI_OK);
    assert_true(it_now_ms() - t0 < IT_HANG_MS); /* answered, not the query's timeout */
    assert_non_null(out);
    assert_string_equal(out, "");
    oocsi_free(out);
    out = NULL;

    /* b leaves qa; its own query (after the unsubscribe) sees only a. */
    assert_int_equal(oocsi_unsubscribe(b, qa), OOCSI_OK);
    assert_int_equal(oocsi_channel_subscribers(b, qa, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    assert_string_equal(out, oocsi_handle(a));
    oocsi_free(out);
    out = NULL;

    /* a leaves qb: the channel is gone. */
    assert_int_equal(oocsi_unsubscribe(a, qb), OOCSI_OK);
    assert_int_equal(oocsi_channels(a, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    assert_false(list_has(out, ", ", qb));
    assert_true(list_has(out, ", ", qa));
    oocsi_free(out);
}

/* Several threads query at once: answers must not be mixed up (empty answers
 * produce no line at all). */
typedef struct qthread {
    oocsi_client *c;
    int kind;
    const char *arg;
    const char *expect_item;
    int errors;
    char detail[160];
} qthread;

static void *query_main(void *arg)
{
    qthread *q = arg;
    for (int i = 0; i < 40 && !q->errors; i++) {
        char *out = NULL;
        int rc;
        if (q->kind == 0)
            rc = oocsi_clients(q->c, IT_TIMEOUT, &out);
        else if (q->kind == 1)
            rc = oocsi_channel_subscribers(q->c, q->arg, IT_TIMEOUT, &out);
        else
            rc = oocsi_channels(q->c, IT_TIMEOUT, &out);
        int ok;
        if (it_transport_is_web())
            ok = rc == OOCSI_ERR_UNSUPPORTED && !out; /* no queries over oocsi-web */
        else
            ok = rc == OOCSI_OK && out;
        if (ok && out) {
            if (q->kind == 0)
                ok = list_has(out, ",", q->expect_item);
            else if (q->kind == 1)
                ok = strcmp(out, q->expect_item) == 0;
            else
                ok = list_has(out, ", ", q->expect_item);
        }
        if (!ok) {
            q->errors++;
            snprintf(q->detail, sizeof q->detail, "kind %d, iteration %d: rc %d, '%s'", q->kind, i, rc,
                     out ? out : "(null)");
        }
        oocsi_free(out);
    }
    return NULL;
}

static void test_concurrent_queries(void **state)
{
    (void)state;
    char ch[64], unknown[64];
    it_unique(ch, sizeof ch, "qconc");
    it_unique(unknown, sizeof unknown, "qnone");
    oocsi_client *a = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(a, ch, msg_noop, NULL), OOCSI_OK);
    qthread q[4] = {
        {a, 0, NULL, oocsi_handle(a), 0, ""},
        {a, 1, unknown, "", 0, ""},
        {a, 1, ch, oocsi_handle(a), 0, ""},
        {a, 2, NULL, ch, 0, ""},
    };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, query_main, &q[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        if (q[i].errors)
            fail_msg("%s", q[i].detail);
}

static void test_query_timeout_then_correct(void **state)
{
    (void)state;
    char h[64], ch[64];
    it_unique(h, sizeof h, "qstall");
    it_unique(ch, sizeof ch, "qstallch");
    oocsi_client *a = it_connect_bg(h);
    assert_int_equal(oocsi_subscribe(a, ch, msg_noop, NULL), OOCSI_OK);
    assert_int_equal(it_server_stall(h, 1), 0);
    char *out = NULL;
    int64_t t0 = it_now_ms();
    int rc = oocsi_clients(a, 300, &out);
    int64_t dt = it_now_ms() - t0;
    assert_int_equal(it_server_stall(h, 0), 0);
    assert_int_equal(rc, OOCSI_ERR_TIMEOUT);
    assert_null(out);
    if (dt < 250 || dt > IT_HANG_MS)
        fail_msg("query timed out after %lld ms for 300 ms", (long long)dt);
    /* The late answer of the timed-out query must not be taken for the next one. */
    assert_int_equal(oocsi_channel_subscribers(a, ch, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    assert_string_equal(out, h);
    oocsi_free(out);
    out = NULL;
    assert_int_equal(oocsi_clients(a, IT_TIMEOUT, &out), OOCSI_OK);
    assert_non_null(out);
    assert_true(list_has(out, ",", h));
    oocsi_free(out);
}

/* Runs the three queries on c: each must return OOCSI_ERR_UNSUPPORTED at
 * once (no request goes out, so no waiting for the timeout) and leave *out. */
static void assert_queries_unsupported(oocsi_client *c, const char *channel)
{
    for (int kind = 0; kind < 3; kind++) {
        char *out = NULL;
        int64_t t0 = it_now_ms();
        int rc = kind == 0   ? oocsi_clients(c, IT_LONG_WAIT_MS, &out)
                 : kind == 1 ? oocsi_channel_subscribers(c, channel, IT_LONG_WAIT_MS, &out)
                             : oocsi_channels(c, IT_LONG_WAIT_MS, &out);
        int64_t dt = it_now_ms() - t0;
        if (rc != OOCSI_ERR_UNSUPPORTED)
            fail_msg("%s: query kind %d gave %d (%s), expected OOCSI_ERR_UNSUPPORTED", it_transport_name(), kind, rc,
                     oocsi_strerror(rc));
        assert_null(out);
        if (dt > IT_HANG_MS)
            fail_msg("%s: the unsupported query kind %d took %lld ms", it_transport_name(), kind, (long long)dt);
    }
}

/* ws/wss (the oocsi-web protocol): no queries. They are refused, on
 * background and caller-driven clients alike, and the client keeps working. */
static void test_web_queries_unsupported(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "qweb");
    it_inbox *in = it_inbox_new();
    oocsi_client *a = it_connect_bg(NULL);
    oocsi_client *b = it_connect(NULL);
    assert_int_equal(oocsi_subscribe(a, ch, it_inbox_handler, in), OOCSI_OK);
    assert_queries_unsupported(a, ch);
    assert_queries_unsupported(b, ch);
    assert_queries_unsupported(a, "qweb_unknown_channel");
    /* Both clients are still connected and deliver. */
    assert_int_equal(oocsi_is_connected(a), 1);
    assert_int_equal(oocsi_is_connected(b), 1);
    assert_int_equal(oocsi_send_json(b, ch, "{\"after\":\"queries\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(in, "after", "queries", IT_TIMEOUT) >= 0);
    assert_string_equal(it_inbox_at(in, 0)->sender, oocsi_handle(b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_clients),
        IT_TEST(test_channels_and_subscribers),
        IT_TEST(test_concurrent_queries),
        IT_TEST(test_query_timeout_then_correct),
    };
    /* The oocsi-web protocol has no queries: what is asserted there is that
     * they are refused (also from several threads at once). */
    const struct CMUnitTest web_tests[] = {
        IT_TEST(test_web_queries_unsupported),
        IT_TEST(test_concurrent_queries),
    };
    if (it_transport_is_web())
        return cmocka_run_group_tests_name("integration.queries.web", web_tests, it_group_setup, it_group_teardown);
    return cmocka_run_group_tests_name("integration.queries", tests, it_group_setup, it_group_teardown);
}
