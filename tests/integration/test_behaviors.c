/*
 * Integration: the group behaviours (gather, consensus, sync, spread) with
 * several C members over the hub, the wire messages they send (as the Java
 * behaviour classes send them), and the loop timers they run on. Periods and
 * timeouts are short; every wait is bounded and event-driven.
 */
#include "support.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "oocsi/behavior.h"

#define N 3
/* A gather or consensus round: long enough for every answer to arrive. */
#define ROUND_MS (100 * it_slowdown())

static void connect_members(oocsi_client **c, int n, const char *prefix)
{
    for (int i = 0; i < n; i++) {
        char h[64];
        it_unique(h, sizeof h, prefix);
        c[i] = it_connect_bg(h);
    }
}

/* Waits until *n >= min. */
typedef struct at_least {
    atomic_int *n;
    int min;
} at_least;

static int is_at_least(void *ctx)
{
    at_least *a = ctx;
    return atomic_load(a->n) >= a->min;
}

static int wait_count(atomic_int *n, int min)
{
    at_least a = {n, min};
    return it_wait_until(is_at_least, &a, IT_TIMEOUT);
}

/* ------------------------------------------------------------------ timers */

typedef struct ticks {
    atomic_int n;
    oocsi_client *c;
    int stop_at; /* > 0: the callback stops its own timer at this count */
} ticks;

static void on_tick(oocsi_client *c, void *user)
{
    ticks *t = user;
    int n = atomic_fetch_add(&t->n, 1) + 1;
    if (t->stop_at && n == t->stop_at)
        assert_int_equal(oocsi_timer_stop(c, on_tick, t), OOCSI_OK);
    it_notify();
}

static int ticks_at_least(void *ctx)
{
    ticks *t = ctx;
    return atomic_load(&t->n) >= t->stop_at;
}

static void test_timers(void **state)
{
    (void)state;
    oocsi_client *c = it_connect(NULL); /* caller-driven: the waits drive it */
    ticks once = {0}, periodic = {0}, stopped = {0};
    once.stop_at = 1;
    assert_int_equal(oocsi_timer_start(c, 10, 0, on_tick, &once), OOCSI_OK);
    /* a periodic timer that stops itself from its own callback at 3 */
    periodic.stop_at = 3;
    assert_int_equal(oocsi_timer_start(c, 0, 5, on_tick, &periodic), OOCSI_OK);
    /* stopped before it is due: never runs */
    assert_int_equal(oocsi_timer_start(c, 20, 0, on_tick, &stopped), OOCSI_OK);
    assert_int_equal(oocsi_timer_stop(c, on_tick, &stopped), OOCSI_OK);
    assert_true(it_wait_until(ticks_at_least, &once, IT_TIMEOUT));
    assert_true(it_wait_until(ticks_at_least, &periodic, IT_TIMEOUT));
    /* a window far longer than the periods: nothing more */
    it_pump_for(100);
    assert_int_equal(atomic_load(&once.n), 1);
    assert_int_equal(atomic_load(&periodic.n), 3);
    assert_int_equal(atomic_load(&stopped.n), 0);
    /* the timer counts in oocsi_next_timeout_ms */
    assert_int_equal(oocsi_timer_start(c, 60000, 0, on_tick, &stopped), OOCSI_OK);
    int next = oocsi_next_timeout_ms(c);
    assert_true(next >= 0 && next <= 60000);
    /* restarting replaces: one timer, due now */
    stopped.stop_at = 1;
    assert_int_equal(oocsi_timer_start(c, 0, 0, on_tick, &stopped), OOCSI_OK);
    assert_true(it_wait_until(ticks_at_least, &stopped, IT_TIMEOUT));
    it_pump_for(50);
    assert_int_equal(atomic_load(&stopped.n), 1);
    /* bad arguments */
    assert_int_equal(oocsi_timer_start(NULL, 0, 0, on_tick, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_timer_start(c, 0, 0, NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_timer_start(c, -1, 0, on_tick, &once), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "delay_ms"));
    assert_int_equal(oocsi_timer_start(c, 0, -5, on_tick, &once), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_timer_stop(NULL, on_tick, &once), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_timer_stop(c, NULL, &once), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_timer_stop(c, on_tick, &once), OOCSI_OK); /* unknown: fine */
}

/* ------------------------------------------------------------------ gather */

typedef struct ends {
    atomic_int n;
} ends;

static void on_gather_end(oocsi_gather *g, void *user)
{
    (void)g;
    atomic_fetch_add(&((ends *)user)->n, 1);
    it_notify();
}

typedef struct gather_ctx {
    oocsi_gather *g;
    const char *expected; /* the histogram's JSON text */
} gather_ctx;

static int gather_is(void *ctx)
{
    gather_ctx *x = ctx;
    cJSON *h = oocsi_gather_get(x->g);
    cJSON *e = cJSON_Parse(x->expected);
    int eq = cJSON_Compare(h, e, 1);
    cJSON_Delete(h);
    cJSON_Delete(e);
    return eq;
}

static void test_gather(void **state)
{
    (void)state;
    oocsi_client *c[2];
    connect_members(c, 2, "gath");
    char ch[64];
    it_unique(ch, sizeof ch, "gch");
    /* the wire, seen by a plain subscriber */
    char wire[128];
    snprintf(wire, sizeof wire, "%s_colour_gather", ch);
    oocsi_client *spy = it_connect_bg(NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(spy, wire, it_inbox_handler, in), OOCSI_OK);

    ends e0 = {0}, e1 = {0};
    oocsi_gather *g0 = oocsi_gather_new(c[0], ch, "colour", ROUND_MS, on_gather_end, &e0);
    oocsi_gather *g1 = oocsi_gather_new(c[1], ch, "colour", ROUND_MS, on_gather_end, &e1);
    assert_non_null(g0);
    assert_non_null(g1);
    assert_int_equal(oocsi_gather_set_string(g1, "blue"), OOCSI_OK);
    /* g1's call and vote */
    assert_int_equal(it_inbox_wait(in, 2, IT_TIMEOUT), 1);
    assert_string_equal(it_inbox_at(in, 0)->sender, oocsi_handle(c[1]));
    assert_string_equal(cJSON_GetObjectItem(it_inbox_at(in, 0)->data, "call")->valuestring, "");
    const char *h = cJSON_GetObjectItem(it_inbox_at(in, 0)->data, "handle")->valuestring;
    assert_int_equal(strncmp(h, oocsi_handle(c[1]), strlen(oocsi_handle(c[1]))), 0);
    assert_string_equal(cJSON_GetObjectItem(it_inbox_at(in, 1)->data, "vote")->valuestring, "blue");

    /* g0 sets red: g1 answers the call with blue, both see both */
    assert_int_equal(oocsi_gather_set_string(g0, "red"), OOCSI_OK);
    gather_ctx x0 = {g0, "[{\"value\":\"blue\",\"count\":1},{\"value\":\"red\",\"count\":1}]"};
    gather_ctx x1 = {g1, x0.expected};
    assert_true(it_wait_until(gather_is, &x0, IT_TIMEOUT));
    assert_true(it_wait_until(gather_is, &x1, IT_TIMEOUT));
    /* the round g0 started ends */
    assert_true(wait_count(&e0.n, 1));

    /* the same value again starts nothing; a change does */
    int before = it_inbox_count(in);
    assert_int_equal(oocsi_gather_set_string(g0, "red"), OOCSI_OK);
    assert_int_equal(oocsi_gather_set_string(g1, "red"), OOCSI_OK);
    gather_ctx y0 = {g0, "[{\"value\":\"red\",\"count\":2}]"};
    gather_ctx y1 = {g1, y0.expected};
    assert_true(it_wait_until(gather_is, &y0, IT_TIMEOUT));
    assert_true(it_wait_until(gather_is, &y1, IT_TIMEOUT));
    assert_int_equal(it_inbox_wait(in, before + 3, IT_TIMEOUT), 1); /* g1's call + vote, g0's answer */
    cJSON *votes = oocsi_gather_votes(g0);
    assert_int_equal(cJSON_GetArraySize(votes), 2);
    assert_string_equal(cJSON_GetObjectItem(votes, oocsi_handle(c[1]))->valuestring, "red");
    cJSON_Delete(votes);
    oocsi_gather_free(g0);
    oocsi_gather_free(g1);
}

/* --------------------------------------------------------------- consensus */

typedef struct results {
    atomic_int own, remote;
} results;

static void on_result(oocsi_consensus *cs, int remote, void *user)
{
    (void)cs;
    results *r = user;
    atomic_fetch_add(remote ? &r->remote : &r->own, 1);
    it_notify();
}

typedef struct all_agree {
    oocsi_consensus **cs;
    int n;
    const char *expected; /* JSON text */
} all_agree;

static int agree(void *ctx)
{
    all_agree *a = ctx;
    cJSON *e = cJSON_Parse(a->expected);
    int ok = 1;
    for (int i = 0; i < a->n && ok; i++) {
        cJSON *v = oocsi_consensus_get(a->cs[i]);
        ok = oocsi_consensus_has_result(a->cs[i]) && cJSON_Compare(v, e, 0);
        cJSON_Delete(v);
    }
    cJSON_Delete(e);
    return ok;
}

/* Every member votes values[i]; the last voter's round collects every vote
 * and its result is what all adopt. */
static void run_round(oocsi_consensus **cs, results *r, const char **values, const char *expected)
{
    for (int i = 1; i < N; i++) {
        cJSON *v = cJSON_Parse(values[i]);
        int own = atomic_load(&r[i].own);
        assert_int_equal(oocsi_consensus_vote(cs[i], v), OOCSI_OK);
        cJSON_Delete(v);
        assert_true(wait_count(&r[i].own, own + 1)); /* its round ended */
    }
    int own = atomic_load(&r[0].own);
    cJSON *v = cJSON_Parse(values[0]);
    assert_int_equal(oocsi_consensus_vote(cs[0], v), OOCSI_OK);
    cJSON_Delete(v);
    assert_true(wait_count(&r[0].own, own + 1));
    all_agree a = {cs, N, expected};
    assert_true(it_wait_until(agree, &a, IT_TIMEOUT));
}

static void test_consensus_majority(void **state)
{
    (void)state;
    oocsi_client *c[N];
    connect_members(c, N, "cons");
    char ch[64];
    it_unique(ch, sizeof ch, "cch");
    results r[N];
    memset(r, 0, sizeof r);
    oocsi_consensus *cs[N];
    for (int i = 0; i < N; i++) {
        /* the string form starts with a round for "" */
        cs[i] = oocsi_consensus_new_string(c[i], ch, "mode", ROUND_MS, on_result, &r[i]);
        assert_non_null(cs[i]);
        assert_true(wait_count(&r[i].own, 1));
    }
    const char *v1[N] = {"\"day\"", "\"day\"", "\"night\""};
    run_round(cs, r, v1, "\"day\"");
    char *s = oocsi_consensus_dup_string(cs[2]);
    assert_string_equal(s, "day"); /* adopted, although it voted night */
    oocsi_free(s);
    assert_true(atomic_load(&r[2].remote) >= 1);
    const char *v2[N] = {"\"night\"", "\"night\"", "\"dusk\""};
    run_round(cs, r, v2, "\"night\"");
    for (int i = 0; i < N; i++)
        oocsi_consensus_free(cs[i]);

    /* booleans: no vote and no result at first */
    ch[0] = 'b';
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof r[i]);
        cs[i] = oocsi_consensus_new_bool(c[i], ch, "on", ROUND_MS, on_result, &r[i]);
        assert_non_null(cs[i]);
        assert_null(oocsi_consensus_get(cs[i]));
        assert_int_equal(oocsi_consensus_get_bool(cs[i], -1), -1);
    }
    const char *v3[N] = {"false", "true", "true"};
    run_round(cs, r, v3, "true");
    assert_int_equal(oocsi_consensus_get_bool(cs[0], 0), 1);
    for (int i = 0; i < N; i++)
        oocsi_consensus_free(cs[i]);
}

static void test_consensus_average(void **state)
{
    (void)state;
    oocsi_client *c[N];
    connect_members(c, N, "avg");
    char ch[64];
    it_unique(ch, sizeof ch, "ach");
    results r[N];
    memset(r, 0, sizeof r);
    oocsi_consensus *cs[N];
    for (int i = 0; i < N; i++) {
        cs[i] = oocsi_consensus_new_int_avg(c[i], ch, "level", ROUND_MS, on_result, &r[i]);
        assert_non_null(cs[i]);
        assert_true(wait_count(&r[i].own, 1));
    }
    const char *v[N] = {"1", "2", "4"}; /* 7 / 3, truncated */
    run_round(cs, r, v, "2");
    assert_int_equal(oocsi_consensus_get_int(cs[1], -1), 2);
    for (int i = 0; i < N; i++)
        oocsi_consensus_free(cs[i]);

    ch[0] = 'f';
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof r[i]);
        cs[i] = oocsi_consensus_new_float_avg(c[i], ch, "level", ROUND_MS, on_result, &r[i]);
        assert_non_null(cs[i]);
        assert_true(wait_count(&r[i].own, 1));
    }
    const char *w[N] = {"1.5", "2", "5"};
    run_round(cs, r, w, "2.8333333333333335");
    IT_ASSERT_NEAR(oocsi_consensus_get_double(cs[2], 0), 8.5 / 3, 1e-9);
    for (int i = 0; i < N; i++)
        oocsi_consensus_free(cs[i]);
}

/* -------------------------------------------------------------------- sync */

typedef struct pulses {
    atomic_int n;
    atomic_int aligned_in_row; /* pulses of this member at which the other one was within a step */
    atomic_int synced;         /* pulses at which this member said it was in step */
    oocsi_sync *other;
} pulses;

/* A step position on the 21-step cycle (a nudge may leave -1 or 21 for a
 * moment: the same places as 20 and 0). */
static int cyc(int progress)
{
    return ((progress % 21) + 21) % 21;
}

static void on_pulse(oocsi_sync *s, void *user)
{
    pulses *p = user;
    atomic_fetch_add(&p->n, 1);
    if (oocsi_sync_is_synced(s))
        atomic_fetch_add(&p->synced, 1);
    oocsi_sync *other = p->other;
    if (other) {
        /* this member is at step 20 now: is the other at 19, 20 or 0? */
        int d = cyc(oocsi_sync_progress(other)) - cyc(oocsi_sync_progress(s));
        d = d < 0 ? -d : d;
        if (d <= 1 || d >= 20)
            atomic_fetch_add(&p->aligned_in_row, 1);
        else
            atomic_store(&p->aligned_in_row, 0);
    }
    it_notify();
}

static int either_synced(void *ctx)
{
    pulses *p = ctx;
    return atomic_load(&p[0].synced) > 0 || atomic_load(&p[1].synced) > 0;
}

typedef struct step_ctx {
    oocsi_sync *s;
    int max;
} step_ctx;

static int pulsed_and_below(void *ctx)
{
    step_ctx *x = ctx;
    return oocsi_sync_cycle(x->s) >= 1 && oocsi_sync_progress(x->s) <= x->max;
}

static void test_sync(void **state)
{
    (void)state;
    oocsi_client *c[2];
    connect_members(c, 2, "sync");
    char ch[64], wire[96];
    it_unique(ch, sizeof ch, "sch");
    snprintf(wire, sizeof wire, "%s_sync", ch);
    oocsi_client *spy = it_connect_bg(NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(spy, wire, it_inbox_handler, in), OOCSI_OK);
    pulses p[2];
    memset(p, 0, sizeof p);
    int period = 300 * it_slowdown(); /* a step every 15 ms */
    oocsi_sync *s[2];
    s[0] = oocsi_sync_new(c[0], ch, period, on_pulse, &p[0]);
    assert_non_null(s[0]);
    /* the second member joins some steps out of phase */
    step_ctx x = {s[0], 15};
    assert_true(it_wait_until(pulsed_and_below, &x, IT_TIMEOUT));
    p[1].other = s[0];
    s[1] = oocsi_sync_new(c[1], ch, period, on_pulse, &p[1]);
    assert_non_null(s[1]);
    /* each member says where it is once per cycle: integers sync and cycle */
    assert_int_equal(it_inbox_wait(in, 2, IT_TIMEOUT), 1);
    const cJSON *d = it_inbox_at(in, 0)->data;
    assert_true(cJSON_IsString(cJSON_GetObjectItem(d, "handle")));
    int step = cJSON_GetObjectItem(d, "sync")->valueint;
    assert_true(step >= 0 && step < 20);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(d, "cycle")));
    /* they come into step: the pulses of both fall within a step, several
     * cycles in a row */
    at_least a = {&p[1].aligned_in_row, 3};
    assert_true(it_wait_until(is_at_least, &a, IT_TIMEOUT * 4));
    /* and count their cycles alike (the highest heard wins) */
    int d01 = oocsi_sync_cycle(s[0]) - oocsi_sync_cycle(s[1]);
    assert_true(d01 >= -1 && d01 <= 1);
    /* in step, a member that hears the other says so (of two members in
     * step, the one whose steps come a little later) */
    assert_true(it_wait_until(either_synced, p, IT_TIMEOUT));
    oocsi_sync_free(s[1]);
    oocsi_sync_free(s[0]);
    /* stopped: no pulse after free */
    int after = atomic_load(&p[0].n);
    it_pump_for(50);
    assert_int_equal(atomic_load(&p[0].n), after);
}

/* ------------------------------------------------------------------ spread */

typedef struct spread_ctx {
    oocsi_spread **sp;
    int n;
} spread_ctx;

static int distinct_and_done(void *ctx)
{
    spread_ctx *x = ctx;
    int seen[N + 2] = {0};
    for (int i = 0; i < x->n; i++) {
        int r = oocsi_spread_get(x->sp[i]);
        if (r < 1 || r > x->n || seen[r] || !oocsi_spread_is_done(x->sp[i]))
            return 0;
        seen[r] = 1;
    }
    return 1;
}

static atomic_int stable_calls;

static void on_stable(oocsi_spread *sp, int role, void *user)
{
    (void)sp;
    (void)user;
    if (role > 0)
        atomic_fetch_add(&stable_calls, 1);
    it_notify();
}

static void test_spread(void **state)
{
    (void)state;
    oocsi_client *c[N];
    connect_members(c, N, "spr");
    char ch[64];
    it_unique(ch, sizeof ch, "spch");
    oocsi_spread *sp[N];
    atomic_store(&stable_calls, 0);
    for (int i = 0; i < N; i++) {
        sp[i] = oocsi_spread_new(c[i], ch, "seat", 40, on_stable, NULL);
        assert_non_null(sp[i]);
    }
    spread_ctx x = {sp, N};
    assert_true(it_wait_until(distinct_and_done, &x, IT_TIMEOUT * 4));
    assert_true(atomic_load(&stable_calls) >= 1);
    /* a reset member picks again, among the roles it hears */
    assert_int_equal(oocsi_spread_reset(sp[0]), OOCSI_OK);
    assert_int_equal(oocsi_spread_set_rebalancing(sp[1], 0), OOCSI_OK);
    assert_true(it_wait_until(distinct_and_done, &x, IT_TIMEOUT * 4));
    for (int i = 0; i < N; i++)
        oocsi_spread_free(sp[i]);
}

/* --------------------------------------------------------- bad arguments */

static void test_invalid_args(void **state)
{
    (void)state;
    oocsi_client *c = it_connect_bg(NULL);
    assert_null(oocsi_gather_new(NULL, "ch", "k", 100, NULL, NULL));
    assert_non_null(strstr(oocsi_last_error(NULL), "c is NULL"));
    assert_null(oocsi_gather_new(c, "has space", "k", 100, NULL, NULL));
    assert_non_null(strstr(oocsi_last_error(NULL), "space"));
    assert_null(oocsi_gather_new(c, "ch", NULL, 100, NULL, NULL));
    assert_null(oocsi_gather_new(c, "ch", "k", 0, NULL, NULL));
    assert_non_null(strstr(oocsi_last_error(NULL), "timeout_ms"));
    assert_null(oocsi_consensus_new(c, "ch", "k", -1, OOCSI_CONSENSUS_MAJORITY, NULL, NULL));
    assert_null(oocsi_consensus_new(c, "ch", "k", 100, (oocsi_consensus_rule)7, NULL, NULL));
    assert_null(oocsi_consensus_new_int(c, "", "k", 100, NULL, NULL));
    assert_null(oocsi_sync_new(c, "ch", 19, NULL, NULL));
    assert_non_null(strstr(oocsi_last_error(NULL), "period_ms"));
    assert_null(oocsi_sync_new(c, NULL, 2000, NULL, NULL));
    assert_null(oocsi_spread_new(c, "ch", "k", 19, NULL, NULL));
    assert_null(oocsi_spread_new(c, "ch", "k\n", 100, NULL, NULL));

    assert_int_equal(oocsi_gather_set(NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_gather_set_string(NULL, "x"), OOCSI_ERR_INVAL);
    assert_null(oocsi_gather_get(NULL));
    assert_null(oocsi_gather_votes(NULL));
    assert_int_equal(oocsi_consensus_vote(NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_consensus_vote_bool(NULL, 1), OOCSI_ERR_INVAL);
    assert_null(oocsi_consensus_get(NULL));
    assert_int_equal(oocsi_consensus_get_int(NULL, 7), 7);
    assert_null(oocsi_consensus_dup_string(NULL));
    assert_int_equal(oocsi_sync_cycle(NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_sync_is_synced(NULL), 0);
    assert_int_equal(oocsi_spread_get(NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spread_reset(NULL), OOCSI_ERR_INVAL);
    oocsi_gather_free(NULL);
    oocsi_consensus_free(NULL);
    oocsi_sync_free(NULL);
    oocsi_spread_free(NULL);

    /* values: null, non-finite, NULL strings */
    oocsi_gather *g = oocsi_gather_new(c, "ch", "k", 100, NULL, NULL);
    assert_non_null(g);
    cJSON *null = cJSON_CreateNull();
    assert_int_equal(oocsi_gather_set(g, null), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_gather_set_string(g, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_gather_set_double(g, 1.0 / 0.0), OOCSI_ERR_INVAL);
    oocsi_consensus *cs = oocsi_consensus_new(c, "ch", "k", 100, OOCSI_CONSENSUS_AVERAGE, NULL, NULL);
    assert_non_null(cs);
    assert_int_equal(oocsi_consensus_vote(cs, null), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_consensus_vote_double(cs, 0.0 / 0.0), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_consensus_vote_string(cs, NULL), OOCSI_ERR_INVAL);
    cJSON_Delete(null);
    oocsi_gather_free(g);
    oocsi_consensus_free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_timers), IT_TEST(test_gather), IT_TEST(test_consensus_majority), IT_TEST(test_consensus_average),
        IT_TEST(test_sync),   IT_TEST(test_spread), IT_TEST(test_invalid_args),
    };
    return cmocka_run_group_tests_name("integration.behaviors", tests, it_group_setup, it_group_teardown);
}
