/*
 * Integration: synchronised variables between two clients over the hub, with
 * the expectations of the Python reference client's variable tests.
 */
#include "support.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define EPS 1e-9

typedef struct pair {
    oocsi_client *o1, *o2;
    it_inbox *d1, *d2;
    char channel[64];
} pair;

static oocsi_client *connect_with_inbox(const char *prefix, it_inbox *direct)
{
    char h[64];
    it_unique(h, sizeof h, prefix);
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, direct), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    return c;
}

static void pair_init(pair *p, const char *channel_prefix)
{
    p->d1 = it_inbox_new();
    p->d2 = it_inbox_new();
    p->o1 = connect_with_inbox("var_o1", p->d1);
    p->o2 = connect_with_inbox("var_o2", p->d2);
    it_unique(p->channel, sizeof p->channel, channel_prefix);
}

/* Everything `from` sent before has been processed by `to` once a direct
 * marker from `from` reached `to` (one connection's lines stay in order, and
 * the client dispatches in order). */
static void flush(oocsi_client *from, oocsi_client *to, it_inbox *to_direct)
{
    static int seq;
    char marker[32];
    snprintf(marker, sizeof marker, "f%d", ++seq);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "flush", marker);
    assert_int_equal(oocsi_send(from, oocsi_handle(to), o), OOCSI_OK);
    cJSON_Delete(o);
    if (it_inbox_wait_str(to_direct, "flush", marker, IT_TIMEOUT) < 0)
        fail_msg("flush marker %s did not arrive", marker);
}

static void to_o2(pair *p)
{
    flush(p->o1, p->o2, p->d2);
}

static void to_o1(pair *p)
{
    flush(p->o2, p->o1, p->d1);
}

static oocsi_variable *var(oocsi_client *c, const char *channel, const char *key)
{
    oocsi_variable *v = oocsi_variable_new(c, channel, key);
    assert_non_null(v);
    return v;
}

static void set(oocsi_variable *v, double value)
{
    assert_int_equal(oocsi_variable_set(v, value), OOCSI_OK);
}

static void test_basic(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, "variableChannel");
    oocsi_variable *ov1 = var(p.o1, p.channel, "testBasic");
    oocsi_variable *ov2 = var(p.o2, p.channel, "testBasic");
    assert_int_equal(oocsi_variable_has_value(ov1), 0);
    assert_int_equal(oocsi_variable_has_value(ov2), 0);
    assert_true(isnan(oocsi_variable_get(ov1)));
    assert_true(isnan(oocsi_variable_get(ov2)));
    set(ov1, 10);
    IT_ASSERT_NEAR(oocsi_variable_get(ov1), 10, EPS);
    to_o2(&p);
    assert_int_equal(oocsi_variable_has_value(ov2), 1);
    IT_ASSERT_NEAR(oocsi_variable_get(ov2), 10, EPS);
    /* And back. */
    set(ov2, -3.25);
    to_o1(&p);
    IT_ASSERT_NEAR(oocsi_variable_get(ov1), -3.25, EPS);
    IT_ASSERT_NEAR(oocsi_variable_get(ov2), -3.25, EPS);
    assert_int_equal(oocsi_variable_set(ov1, NAN), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_variable_set(ov1, INFINITY), OOCSI_ERR_INVAL);
    IT_ASSERT_NEAR(oocsi_variable_get(ov1), -3.25, EPS);
    oocsi_variable_free(ov1);
    oocsi_variable_free(ov2);
}

static void test_min_max(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, "variableChannel");
    char rh[64];
    it_unique(rh, sizeof rh, "varwire");
    it_raw *raw = it_raw_connect(it_server_port(), rh);
    assert_non_null(raw);
    assert_int_equal(it_raw_subscribe(raw, p.channel), 0);

    oocsi_variable *ov1 = var(p.o1, p.channel, "testMinMax");
    oocsi_variable *ov2 = var(p.o2, p.channel, "testMinMax");
    assert_int_equal(oocsi_variable_min(ov1, 2), OOCSI_OK);
    assert_int_equal(oocsi_variable_max(ov1, 5), OOCSI_OK);
    IT_ASSERT_NEAR(oocsi_variable_get(ov1), 2, EPS);
    assert_int_equal(oocsi_variable_min(ov2, 3), OOCSI_OK);
    assert_int_equal(oocsi_variable_max(ov2, 6), OOCSI_OK);
    IT_ASSERT_NEAR(oocsi_variable_get(ov2), 3, EPS);

    set(ov1, 10);
    IT_ASSERT_NEAR(oocsi_variable_get(ov1), 5, EPS);
    to_o2(&p);
    /* The raw 10 was published: o2 clamps it to its own max 6 (5 would stay 5). */
    IT_ASSERT_NEAR(oocsi_variable_get(ov2), 6, EPS);

    /* On the wire: {"testMinMax": 10}. */
    cJSON *j = it_raw_next_json(raw, IT_TIMEOUT);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "sender")->valuestring, oocsi_handle(p.o1));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "testMinMax");
    assert_true(cJSON_IsNumber(v));
    IT_ASSERT_NEAR(v->valuedouble, 10, EPS);
    cJSON_Delete(j);

    /* Below the minimum. */
    set(ov2, -100);
    IT_ASSERT_NEAR(oocsi_variable_get(ov2), 3, EPS);
    to_o1(&p);
    IT_ASSERT_NEAR(oocsi_variable_get(ov1), 2, EPS);
    oocsi_variable_free(ov1);
    oocsi_variable_free(ov2);
}

static void test_bound_without_value(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, "bounds");
    oocsi_variable *a = var(p.o1, p.channel, "onlymax");
    assert_int_equal(oocsi_variable_max(a, 7.5), OOCSI_OK);
    IT_ASSERT_NEAR(oocsi_variable_get(a), 7.5, EPS);
    oocsi_variable *b = var(p.o1, p.channel, "onlymin");
    assert_int_equal(oocsi_variable_min(b, -2), OOCSI_OK);
    IT_ASSERT_NEAR(oocsi_variable_get(b), -2, EPS);
    oocsi_variable_free(a);
    oocsi_variable_free(b);
}

/* ------------------------------------------------------ smoothing, as a table */

/* One step of a two-client script: set a variable, wait until one client
 * has everything the other sent, check a reading, or configure smoothing.
 * END (0) closes a script. */
typedef enum { END = 0, SET, TO_O2, TO_O1, GET, SMOOTH, LESS } step_op;
typedef struct step {
    step_op op;
    int v;        /* index into the case's variables */
    double value; /* SET: the value; GET: the expected reading; SMOOTH: window; LESS: the other index */
    double sigma; /* SMOOTH */
} step;

#define MAX_VARS 4
#define MAX_STEPS 32
typedef struct var_case {
    const char *name;
    int nvars;
    struct {
        int client; /* 1 or 2 */
        const char *key;
    } vars[MAX_VARS];
    step steps[MAX_STEPS];
} var_case;

/* The Python client's smoothing tests, step for step. */
static const var_case smoothing_cases[] = {
    {"smooth",
     2,
     {{1, "testSmooth"}, {2, "testSmooth"}},
     {{SMOOTH, 1, 2, 0},
      {SET, 0, 10, 0},
      {SET, 0, 20, 0},
      {TO_O2, 0, 0, 0},
      {GET, 0, 20, 0},
      {GET, 1, 15, 0},
      {SET, 0, 10, 0},
      {SET, 0, 10, 0},
      {SET, 0, 10, 0},
      {TO_O2, 0, 0, 0},
      {GET, 0, 10, 0},
      {GET, 1, 10, 0}}},
    {"sigma1",
     4,
     {{1, "testSmoothSigma11"}, {2, "testSmoothSigma11"}, {1, "testSmoothSigma12"}, {2, "testSmoothSigma12"}},
     {{SMOOTH, 0, 2, 1},  {SMOOTH, 1, 2, 1}, {SMOOTH, 2, 2, 2}, {SMOOTH, 3, 2, 2},    {SET, 0, 1, 0},
      {SET, 0, 2, 0},     {SET, 2, 1, 0},    {SET, 2, 2, 0},    {TO_O2, 0, 0, 0},     {GET, 0, 1.5, 0},
      {GET, 1, 1.5, 0},   {GET, 2, 1.5, 0},  {GET, 3, 1.5, 0},  {SET, 1, 10.2, 0},    {TO_O1, 0, 0, 0},
      {GET, 0, 2.0, 0},   {GET, 1, 2.0, 0},  {SET, 3, 10.2, 0}, {TO_O1, 0, 0, 0},     {GET, 2, 2.25, 0},
      {LESS, 0, 2, 0},    {SET, 1, 10.2, 0}, {SET, 1, 10.2, 0}, {TO_O1, 0, 0, 0},     {GET, 0, 2.625, 0},
      {SET, 1, -10.2, 0}, {SET, 1, 10.2, 0}, {TO_O1, 0, 0, 0},  {GET, 0, 2.53125, 0}, {GET, 1, 2.53125, 0}}},
    {"sigma2",
     2,
     {{1, "testSmoothSigma2"}, {2, "testSmoothSigma2"}},
     {{SMOOTH, 1, 2, 1},
      {SET, 0, 10, 0},
      {SET, 0, 20, 0},
      {TO_O2, 0, 0, 0},
      {GET, 0, 20, 0},
      {GET, 1, 10.5, 0},
      {SET, 0, 20, 0},
      {TO_O2, 0, 0, 0},
      {GET, 1, 11, 0},
      {SET, 0, 10, 0},
      {SET, 0, 10, 0},
      {SET, 0, 10, 0},
      {TO_O2, 0, 0, 0},
      {GET, 0, 10, 0},
      {GET, 1, 10, 0}}},
};

static void run_case(const var_case *vc)
{
    pair p;
    pair_init(&p, "variableChannel");
    oocsi_variable *v[MAX_VARS];
    for (int i = 0; i < vc->nvars; i++)
        v[i] = var(vc->vars[i].client == 1 ? p.o1 : p.o2, p.channel, vc->vars[i].key);
    for (int i = 0; i < MAX_STEPS && vc->steps[i].op != END; i++) {
        const step *s = &vc->steps[i];
        double got = oocsi_variable_get(v[s->v]);
        switch (s->op) {
        case SET:
            set(v[s->v], s->value);
            break;
        case TO_O2:
            to_o2(&p);
            break;
        case TO_O1:
            to_o1(&p);
            break;
        case GET:
            if (!(fabs(got - s->value) <= EPS))
                fail_msg("case %s, step %d: variable %d reads %.9g, expected %.9g", vc->name, i, s->v, got, s->value);
            break;
        case SMOOTH:
            assert_int_equal(oocsi_variable_smooth(v[s->v], (int)s->value, s->sigma), OOCSI_OK);
            break;
        case LESS:
            assert_true(got < oocsi_variable_get(v[(int)s->value]));
            break;
        case END:
            break;
        }
    }
    for (int i = 0; i < vc->nvars; i++)
        oocsi_variable_free(v[i]);
}

static void test_smoothing_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof smoothing_cases / sizeof smoothing_cases[0]; i++)
        run_case(&smoothing_cases[i]);
}

static void test_smooth_rejects_window_0(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, "variableChannel");
    oocsi_variable *v = var(p.o2, p.channel, "testSmooth0");
    assert_int_equal(oocsi_variable_smooth(v, 0, 0), OOCSI_ERR_INVAL);
    oocsi_variable_free(v);
}

static void test_string_variables(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, "strings");
    char rh[64];
    it_unique(rh, sizeof rh, "strwire");
    it_raw *raw = it_raw_connect(it_server_port(), rh);
    assert_non_null(raw);
    assert_int_equal(it_raw_subscribe(raw, p.channel), 0);
    oocsi_variable *s1 = var(p.o1, p.channel, "color");
    oocsi_variable *s2 = var(p.o2, p.channel, "color");
    assert_null(oocsi_variable_get_string(s1));
    assert_null(oocsi_variable_get_string(s2));
    const char *text = "dark \"blue\" w\xc3\xb6rld";
    assert_int_equal(oocsi_variable_set_string(s1, text), OOCSI_OK);
    assert_non_null(oocsi_variable_get_string(s1));
    assert_string_equal(oocsi_variable_get_string(s1), text);
    to_o2(&p);
    assert_non_null(oocsi_variable_get_string(s2));
    assert_string_equal(oocsi_variable_get_string(s2), text);
    cJSON *j = it_raw_next_json(raw, IT_TIMEOUT);
    assert_non_null(j);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "color");
    assert_true(cJSON_IsString(v));
    assert_string_equal(v->valuestring, text);
    cJSON_Delete(j);
    /* Back from a raw peer. */
    assert_int_equal(it_raw_send(raw, "sendraw %s {\"color\":\"red\"}", p.channel), 0);
    assert_int_equal(it_raw_send(raw, "sendraw %s {\"flush\":\"raw1\"}", oocsi_handle(p.o2)), 0);
    assert_true(it_inbox_wait_str(p.d2, "flush", "raw1", IT_TIMEOUT) >= 0);
    assert_string_equal(oocsi_variable_get_string(s2), "red");
    oocsi_variable_free(s1);
    oocsi_variable_free(s2);
}

static void test_updates_from_others(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, "foreign");
    char rh[64];
    it_unique(rh, sizeof rh, "foreignpeer");
    it_raw *raw = it_raw_connect(it_server_port(), rh);
    assert_non_null(raw);
    it_inbox *chan = it_inbox_new();
    oocsi_variable *v = var(p.o2, p.channel, "num");
    assert_int_equal(oocsi_subscribe(p.o2, p.channel, it_inbox_handler, chan), OOCSI_OK);
    /* A plain message with the key (and other keys) updates the variable. */
    assert_int_equal(it_raw_send(raw, "sendraw %s {\"num\":7.5,\"other\":1}", p.channel), 0);
    assert_int_equal(it_raw_send(raw, "sendraw %s {\"flush\":\"r1\"}", oocsi_handle(p.o2)), 0);
    assert_true(it_inbox_wait_str(p.d2, "flush", "r1", IT_TIMEOUT) >= 0);
    IT_ASSERT_NEAR(oocsi_variable_get(v), 7.5, EPS);
    assert_int_equal(it_inbox_count(chan), 1); /* the channel handler saw it too */
    /* Without the key: no change. */
    assert_int_equal(it_raw_send(raw, "sendraw %s {\"other\":2}", p.channel), 0);
    /* Unsubscribing the channel's handlers keeps the variable subscribed. */
    assert_int_equal(oocsi_unsubscribe(p.o2, p.channel), OOCSI_OK);
    assert_int_equal(it_raw_send(raw, "sendraw %s {\"num\":-1}", p.channel), 0);
    assert_int_equal(it_raw_send(raw, "sendraw %s {\"flush\":\"r2\"}", oocsi_handle(p.o2)), 0);
    assert_true(it_inbox_wait_str(p.d2, "flush", "r2", IT_TIMEOUT) >= 0);
    IT_ASSERT_NEAR(oocsi_variable_get(v), -1, EPS);
    oocsi_variable_free(v);
}

/* ---------------------------------------------- as the Java client has */

typedef struct changes {
    pthread_mutex_t lock;
    int remote, local;
    double last;
} changes;

static void on_change(oocsi_variable *v, int remote, void *user)
{
    changes *ch = user;
    double d = oocsi_variable_get(v);
    pthread_mutex_lock(&ch->lock);
    if (remote)
        ch->remote++;
    else
        ch->local++;
    ch->last = d;
    pthread_mutex_unlock(&ch->lock);
    it_notify();
}

static int change_count(changes *ch, int remote)
{
    pthread_mutex_lock(&ch->lock);
    int n = remote ? ch->remote : ch->local;
    pthread_mutex_unlock(&ch->lock);
    return n;
}

static void test_bool_change_callback_send_on_change(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, "javaVars");
    it_inbox *wire = it_inbox_new();
    oocsi_client *spy = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(spy, p.channel, it_inbox_handler, wire), OOCSI_OK);
    oocsi_variable *ov1 = var(p.o1, p.channel, "flag");
    oocsi_variable *ov2 = var(p.o2, p.channel, "flag");
    static changes ch;
    memset(&ch, 0, sizeof ch);
    pthread_mutex_init(&ch.lock, NULL);
    assert_int_equal(oocsi_variable_on_change(ov2, on_change, &ch), OOCSI_OK);
    /* true/false on the wire, as a Java OOCSIBoolean */
    assert_int_equal(oocsi_variable_set_bool(ov1, 1), OOCSI_OK);
    assert_int_equal(it_inbox_wait(wire, 1, IT_TIMEOUT), 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it_inbox_at(wire, 0)->data, "flag")));
    to_o2(&p);
    assert_int_equal(oocsi_variable_get_bool(ov2), 1);
    assert_int_equal(change_count(&ch, 1), 1);
    assert_int_equal(oocsi_variable_set_bool(ov2, 0), OOCSI_OK);
    assert_int_equal(change_count(&ch, 0), 1);
    assert_int_equal(it_inbox_wait(wire, 2, IT_TIMEOUT), 1); /* ov2's false is on the wire */
    to_o1(&p);
    assert_int_equal(oocsi_variable_get_bool(ov1), 0);
    /* send-on-change: the same value twice sends once */
    assert_int_equal(oocsi_variable_send_on_change(ov1, 1), OOCSI_OK);
    int before = it_inbox_count(wire);
    set(ov1, 7);
    set(ov1, 7);
    set(ov1, 8);
    assert_int_equal(oocsi_send_json(p.o1, p.channel, "{\"marker\":true}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(wire, before + 3, IT_TIMEOUT), 1);
    assert_int_equal(it_inbox_count(wire), before + 3); /* 7, 8, the marker: one 7 only */
    IT_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(it_inbox_at(wire, before)->data, "flag")->valuedouble, 7, EPS);
    IT_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(it_inbox_at(wire, before + 1)->data, "flag")->valuedouble, 8, EPS);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it_inbox_at(wire, before + 2)->data, "marker")));
    to_o2(&p);
    assert_int_equal(change_count(&ch, 1), 3); /* true, 7, 8 */
    oocsi_variable_free(ov1);
    oocsi_variable_free(ov2);
    pthread_mutex_destroy(&ch.lock);
}

static int back_to_reference(void *ctx)
{
    return oocsi_variable_get(ctx) == 4.0;
}

static void test_reference_rate_out_channel(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, "javaRef");
    oocsi_variable *ov1 = var(p.o1, p.channel, "x");
    oocsi_variable *ov2 = var(p.o2, p.channel, "x");
    /* reference 4, timeout 300 ms: the reference before any value, the
     * remote value, then the reference again (a local set does not count). */
    assert_int_equal(oocsi_variable_reference(ov2, 4, 300), OOCSI_OK);
    IT_ASSERT_NEAR(oocsi_variable_get(ov2), 4, EPS);
    set(ov1, 1);
    to_o2(&p);
    double got = oocsi_variable_get(ov2);
    assert_true(got == 1.0 || got == 4.0); /* 4 only if 300 ms passed meanwhile */
    set(ov2, 0);
    assert_true(it_wait_until(back_to_reference, ov2, IT_TIMEOUT));
    /* At most 2 remote updates a minute: the third and later are ignored. */
    oocsi_variable *ov3 = var(p.o2, p.channel, "y");
    oocsi_variable *ov4 = var(p.o1, p.channel, "y");
    assert_int_equal(oocsi_variable_limit_rate(ov3, 2, 60000), OOCSI_OK);
    for (int i = 1; i <= 5; i++)
        set(ov4, i);
    to_o2(&p);
    IT_ASSERT_NEAR(oocsi_variable_get(ov3), 2, EPS);
    assert_int_equal(oocsi_variable_limit_rate(ov3, 1, 0), OOCSI_ERR_INVAL);
    /* A separate out channel: ov4 publishes there, ov3 does not hear it. */
    char out[80];
    snprintf(out, sizeof out, "%s_out", p.channel);
    it_inbox *outbox = it_inbox_new();
    oocsi_client *spy = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(spy, out, it_inbox_handler, outbox), OOCSI_OK);
    assert_int_equal(oocsi_variable_limit_rate(ov3, 0, 0), OOCSI_OK);
    assert_int_equal(oocsi_variable_out_channel(ov4, out), OOCSI_OK);
    set(ov4, 42);
    assert_int_equal(it_inbox_wait(outbox, 1, IT_TIMEOUT), 1);
    IT_ASSERT_JSON(it_inbox_at(outbox, 0)->data, "{\"y\":42}");
    to_o2(&p);
    IT_ASSERT_NEAR(oocsi_variable_get(ov3), 2, EPS);
    assert_int_equal(oocsi_variable_out_channel(ov4, "has space"), OOCSI_ERR_INVAL);
    oocsi_variable_free(ov1);
    oocsi_variable_free(ov2);
    oocsi_variable_free(ov3);
    oocsi_variable_free(ov4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_basic),
        IT_TEST(test_min_max),
        IT_TEST(test_bound_without_value),
        IT_TEST(test_smoothing_cases),
        IT_TEST(test_smooth_rejects_window_0),
        IT_TEST(test_string_variables),
        IT_TEST(test_updates_from_others),
        IT_TEST(test_bool_change_callback_send_on_change),
        IT_TEST(test_reference_rate_out_channel),
    };
    return cmocka_run_group_tests_name("integration.variables", tests, it_group_setup, it_group_teardown);
}
