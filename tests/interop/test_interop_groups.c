/*
 * The group behaviours of liboocsi and of the reference Java client in the
 * same groups, through the reference Java server: GroupPeer.java (compiled
 * here at test time; skipped without javac) runs OOCSIGather,
 * OOCSIConsensus, OOCSISync and OOCSISpread on commands, C members join the
 * same channels, and both sides must agree. One JVM peer for the program.
 */
#include "interop.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/behavior.h"

/* A gather or consensus round: long enough for every answer to arrive. */
#define ROUND_MS (300 * it_slowdown())

static oocsi_client *ctl; /* sends the peer its commands */
static io_ref_peer java;  /* GroupPeer */

/* The peer, compiled and started on first use and kept for the program. */
static io_peer *the_peer(void)
{
    return io_ref_peer_use(&java);
}

static int group_setup(void **state)
{
    io_ref_peer_init(&java, "GroupPeer", "group-peer", "io_grp", "peer");
    return io_group_setup(state);
}

static int group_teardown(void **state)
{
    io_ref_peer_release(&java); /* killed if a failed test left it running */
    return io_group_teardown(state);
}

/* Sends the peer a command (printf-style JSON object) and returns the line
 * that says it ran (cJSON_Delete()). */
static cJSON *command(const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static cJSON *command(const char *name, const char *fmt, ...)
{
    io_peer *p = the_peer();
    if (!ctl)
        ctl = io_client("io_grp_ctl");
    char extra[512] = "", msg[700];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    snprintf(msg, sizeof msg, "{\"cmd\":\"%s\"%s%s}", name, extra[0] ? "," : "", extra);
    io_send(ctl, java.in, msg);
    return io_peer_event(p, name, IT_TIMEOUT * 2);
}

/* command() for commands whose answer does not matter. */
#define command_done(...) cJSON_Delete(command(__VA_ARGS__))

static void connect_members(oocsi_client **c, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        c[i] = io_client(name);
}

typedef struct min_count {
    atomic_int *n;
    int min;
} min_count;

static int reached(void *ctx)
{
    min_count *m = ctx;
    return atomic_load(m->n) >= m->min;
}

/* Waits (event-driven, bounded) until *n >= min. */
static int wait_count(atomic_int *n, int min)
{
    min_count m = {n, min};
    return it_wait_until(reached, &m, IT_TIMEOUT * 2);
}

/* ------------------------------------------------------------------ gather */

static void on_gather_end(oocsi_gather *g, void *user)
{
    (void)g;
    atomic_fetch_add((atomic_int *)user, 1);
    it_notify();
}

/* The Java peer's histogram as {value text: count}. */
static cJSON *java_histogram(void)
{
    cJSON *ev = command("gather_get", NULL);
    cJSON *h = cJSON_DetachItemFromObjectCaseSensitive(ev, "histogram");
    cJSON_Delete(ev);
    return h;
}

/* A Java OOCSIGather and a C gather on one channel and key: each collects
 * the other's value. */
static void gather_with_java(void **state)
{
    (void)state;
    the_peer();
    oocsi_client *c;
    connect_members(&c, 1, "io_grp_g");
    atomic_int ends = 0;
    oocsi_gather *g = oocsi_gather_new(c, java.prefix, "colour", ROUND_MS, on_gather_end, &ends);
    assert_non_null(g);
    command_done("gather_new", "\"key\":\"colour\",\"ms\":%d", ROUND_MS);
    command_done("gather_set", "\"value\":\"%s\"", "blue");
    /* the C member's round: the Java member answers the call with blue */
    assert_int_equal(oocsi_gather_set_string(g, "red"), OOCSI_OK);
    assert_true(wait_count(&ends, 1));
    cJSON *h = oocsi_gather_get(g);
    IT_ASSERT_JSON(h, "[{\"value\":\"blue\",\"count\":1},{\"value\":\"red\",\"count\":1}]");
    cJSON_Delete(h);
    /* and the Java member counted the C member's vote (its handlers run on
     * their own thread: ask until it has, bounded) */
    cJSON *jh = NULL;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 2; it_now_ms() < until;) {
        cJSON_Delete(jh);
        jh = java_histogram();
        if (cJSON_GetArraySize(jh) == 2)
            break;
    }
    IT_ASSERT_JSON(jh, "{\"blue\":1,\"red\":1}");
    cJSON_Delete(jh);
    oocsi_gather_free(g);
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

/* The Java member's consensus value (JSON text) once it is expected (its
 * handlers run on their own thread: ask until it is, bounded). */
static void java_consensus_is(const char *expected)
{
    cJSON *e = it_json(expected);
    cJSON *ev = NULL;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 2; it_now_ms() < until;) {
        cJSON_Delete(ev);
        ev = command("cons_get", NULL);
        if (cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ev, "value"), e, 0))
            break;
    }
    char *got = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(ev, "value"));
    if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ev, "value"), e, 0))
        fail_msg("the Java member's consensus is %s, expected %s", got ? got : "(none)", expected);
    cJSON_free(got);
    cJSON_Delete(ev);
    cJSON_Delete(e);
}

static void c_result_is(oocsi_consensus *cs, const char *expected)
{
    cJSON *v = oocsi_consensus_get(cs);
    cJSON *e = it_json(expected);
    assert_true(oocsi_consensus_has_result(cs));
    if (!cJSON_Compare(v, e, 0)) {
        char *got = cJSON_PrintUnformatted(v);
        fail_msg("the C member's consensus is %s, expected %s", got ? got : "(none)", expected);
    }
    cJSON_Delete(e);
    cJSON_Delete(v);
}

/* Two C members and a Java member vote on strings: a result computed in C
 * reaches the Java member, and one computed in Java reaches the C members. */
static void string_consensus_with_java(void **state)
{
    (void)state;
    the_peer();
    oocsi_client *c[2];
    connect_members(c, 2, "io_grp_cs");
    results r[2];
    memset(r, 0, sizeof r);
    oocsi_consensus *cs[2];
    char ch[96];
    snprintf(ch, sizeof ch, "%s_s", java.prefix);
    cJSON *ev = command("cons_new", "\"form\":\"string\",\"channel\":\"%s\",\"key\":\"mode\",\"ms\":%d", ch, ROUND_MS);
    cJSON_Delete(ev);
    cJSON_Delete(io_peer_event(&java.p, "cons_end", IT_TIMEOUT * 2)); /* its first round, for "" */
    for (int i = 0; i < 2; i++) {
        cs[i] = oocsi_consensus_new(c[i], ch, "mode", ROUND_MS, OOCSI_CONSENSUS_MAJORITY, on_result, &r[i]);
        assert_non_null(cs[i]);
    }
    /* C1 night, Java day, then C0 day: C0's round sees all three */
    assert_int_equal(oocsi_consensus_vote_string(cs[1], "night"), OOCSI_OK);
    assert_true(wait_count(&r[1].own, 1));
    command_done("cons_set", "\"value\":\"%s\"", "day");
    cJSON_Delete(io_peer_event(&java.p, "cons_end", IT_TIMEOUT * 2));
    assert_int_equal(oocsi_consensus_vote_string(cs[0], "day"), OOCSI_OK);
    assert_true(wait_count(&r[0].own, 1));
    c_result_is(cs[0], "\"day\"");
    java_consensus_is("\"day\"");
    /* now Java computes: C0 and C1 say dusk, Java dawn */
    assert_int_equal(oocsi_consensus_vote_string(cs[0], "dusk"), OOCSI_OK);
    assert_true(wait_count(&r[0].own, 2));
    assert_int_equal(oocsi_consensus_vote_string(cs[1], "dusk"), OOCSI_OK);
    assert_true(wait_count(&r[1].own, 2));
    int remote0 = atomic_load(&r[0].remote), remote1 = atomic_load(&r[1].remote);
    command_done("cons_set", "\"value\":\"%s\"", "dawn");
    cJSON_Delete(io_peer_event(&java.p, "cons_end", IT_TIMEOUT * 2));
    assert_true(wait_count(&r[0].remote, remote0 + 1));
    assert_true(wait_count(&r[1].remote, remote1 + 1));
    c_result_is(cs[0], "\"dusk\"");
    c_result_is(cs[1], "\"dusk\"");
    java_consensus_is("\"dusk\"");
    for (int i = 0; i < 2; i++)
        oocsi_consensus_free(cs[i]);
}

/* Booleans: the Java member computes the majority of two C votes and its
 * own; the C members adopt it. */
static void bool_consensus_with_java(void **state)
{
    (void)state;
    the_peer();
    oocsi_client *c[2];
    connect_members(c, 2, "io_grp_cb");
    results r[2];
    memset(r, 0, sizeof r);
    oocsi_consensus *cs[2];
    char ch[96];
    snprintf(ch, sizeof ch, "%s_b", java.prefix);
    command_done("cons_new", "\"form\":\"bool\",\"channel\":\"%s\",\"key\":\"on\",\"ms\":%d", ch, ROUND_MS);
    for (int i = 0; i < 2; i++) {
        cs[i] = oocsi_consensus_new_bool(c[i], ch, "on", ROUND_MS, on_result, &r[i]);
        assert_non_null(cs[i]);
        assert_int_equal(oocsi_consensus_vote_bool(cs[i], 1), OOCSI_OK);
        assert_true(wait_count(&r[i].own, 1));
    }
    int remote0 = atomic_load(&r[0].remote);
    command_done("cons_set", "\"value\":%s", "false");
    cJSON_Delete(io_peer_event(&java.p, "cons_end", IT_TIMEOUT * 2));
    assert_true(wait_count(&r[0].remote, remote0 + 1));
    c_result_is(cs[0], "true");
    assert_int_equal(oocsi_consensus_get_bool(cs[1], 0), 1);
    java_consensus_is("true");
    /* and a C result reaches Java: C0 votes false, C1 false, Java false */
    assert_int_equal(oocsi_consensus_vote_bool(cs[1], 0), OOCSI_OK);
    assert_true(wait_count(&r[1].own, 2));
    assert_int_equal(oocsi_consensus_vote_bool(cs[0], 0), OOCSI_OK);
    assert_true(wait_count(&r[0].own, 2));
    java_consensus_is("false");
    for (int i = 0; i < 2; i++)
        oocsi_consensus_free(cs[i]);
}

/* An average: the Java member (the float form) votes, the C member computes
 * the mean of both votes and the Java member adopts it. (A Java member
 * cannot compute the average of remote votes itself: its float form casts
 * the numbers that arrive, which are doubles, and fails.) */
static void average_consensus_with_java(void **state)
{
    (void)state;
    the_peer();
    char ch[96];
    snprintf(ch, sizeof ch, "%s_f", java.prefix);
    command_done("cons_new", "\"form\":\"float_avg\",\"channel\":\"%s\",\"key\":\"level\",\"ms\":%d", ch, ROUND_MS);
    cJSON_Delete(io_peer_event(&java.p, "cons_end", IT_TIMEOUT * 2)); /* its first round, alone */
    command_done("cons_set", "\"value\":%s", "1.5");
    cJSON_Delete(io_peer_event(&java.p, "cons_end", IT_TIMEOUT * 2)); /* alone again */
    oocsi_client *c;
    connect_members(&c, 1, "io_grp_ca");
    results r;
    memset(&r, 0, sizeof r);
    oocsi_consensus *cs = oocsi_consensus_new(c, ch, "level", ROUND_MS, OOCSI_CONSENSUS_AVERAGE, on_result, &r);
    assert_non_null(cs);
    assert_int_equal(oocsi_consensus_vote_double(cs, 4.5), OOCSI_OK);
    assert_true(wait_count(&r.own, 1));
    IT_ASSERT_NEAR(oocsi_consensus_get_double(cs, 0), 3.0, 1e-9);
    java_consensus_is("3");
    oocsi_consensus_free(cs);
}

/* -------------------------------------------------------------------- sync */

typedef struct pulses {
    atomic_int n, synced;
} pulses;

static void on_pulse(oocsi_sync *s, void *user)
{
    pulses *p = user;
    atomic_fetch_add(&p->n, 1);
    if (oocsi_sync_is_synced(s))
        atomic_fetch_add(&p->synced, 1);
    it_notify();
}

typedef struct cycle_ctx {
    oocsi_sync *s;
    int min;
} cycle_ctx;

static int cycle_reached(void *ctx)
{
    cycle_ctx *x = ctx;
    return oocsi_sync_cycle(x->s) >= x->min;
}

/* A Java OOCSISync and a C sync on one channel: the C member takes over the
 * Java member's cycle count (it heard it), and the two come into step: one
 * of them reports, at a pulse, that the other is in step with it (of two
 * members in step, the one whose steps come a little later says so). */
static void sync_with_java(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    char ch[96];
    snprintf(ch, sizeof ch, "%s_pulse", java.prefix);
    int period = 300 * it_slowdown(); /* steps of 15 ms */
    cJSON_Delete(command("sync_new", "\"channel\":\"%s\",\"ms\":%d", ch, period));
    int java_cycle = 0;
    while (java_cycle < 3) {
        cJSON *ev = io_peer_event(p, "pulse", IT_TIMEOUT * 2);
        const cJSON *cy = cJSON_GetObjectItemCaseSensitive(ev, "cycle");
        assert_true(cJSON_IsNumber(cy));
        java_cycle = cy->valueint;
        cJSON_Delete(ev);
    }
    oocsi_client *c;
    connect_members(&c, 1, "io_grp_sy");
    pulses pc;
    memset(&pc, 0, sizeof pc);
    oocsi_sync *s = oocsi_sync_new(c, ch, period, on_pulse, &pc);
    assert_non_null(s);
    cycle_ctx x = {s, java_cycle};
    assert_true(it_wait_until(cycle_reached, &x, IT_TIMEOUT * 2));
    int in_step = 0;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 4; !in_step && it_now_ms() < until;) {
        cJSON *ev = io_peer_event(p, "pulse", IT_TIMEOUT * 2);
        in_step = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "synced")) || atomic_load(&pc.synced) > 0;
        cJSON_Delete(ev);
    }
    assert_true(in_step);
    cJSON_Delete(command("sync_stop", NULL));
    oocsi_sync_free(s);
}

/* ------------------------------------------------------------------ spread */

static int c_roles_settled(void *ctx)
{
    oocsi_spread **sp = ctx;
    int a = oocsi_spread_get(sp[0]), b = oocsi_spread_get(sp[1]);
    return a > 0 && b > 0 && a != b && oocsi_spread_is_done(sp[0]) && oocsi_spread_is_done(sp[1]);
}

/* A Java OOCSISpread and two C spreads on one channel and key: three
 * distinct roles among 1..3, all stable. */
static void spread_with_java(void **state)
{
    (void)state;
    the_peer();
    char ch[96];
    snprintf(ch, sizeof ch, "%s_sp", java.prefix);
    cJSON_Delete(command("spread_new", "\"channel\":\"%s\",\"key\":\"seat\",\"ms\":%d", ch, 100));
    oocsi_client *c[2];
    connect_members(c, 2, "io_grp_sp");
    oocsi_spread *sp[2];
    for (int i = 0; i < 2; i++) {
        sp[i] = oocsi_spread_new(c[i], ch, "seat", 100, NULL, NULL);
        assert_non_null(sp[i]);
    }
    int java_role = 0, java_done = 0, ok = 0;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 4; !ok && it_now_ms() < until;) {
        assert_true(it_wait_until(c_roles_settled, sp, IT_TIMEOUT * 4));
        cJSON *ev = command("spread_get", NULL);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(ev, "role");
        assert_true(cJSON_IsNumber(role));
        java_role = role->valueint;
        java_done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "done"));
        cJSON_Delete(ev);
        int a = oocsi_spread_get(sp[0]), b = oocsi_spread_get(sp[1]);
        ok = java_done && java_role >= 1 && java_role <= 3 && java_role != a && java_role != b && c_roles_settled(sp) &&
             a <= 3 && b <= 3;
    }
    if (!ok)
        fail_msg("roles: Java %d (%s), C %d and %d", java_role, java_done ? "done" : "not done",
                 oocsi_spread_get(sp[0]), oocsi_spread_get(sp[1]));
    for (int i = 0; i < 2; i++)
        oocsi_spread_free(sp[i]);
}

/* The peer leaves on the "quit" command, with exit code 0. */
static void peer_quits(void **state)
{
    (void)state;
    io_peer *p = the_peer();
    io_send(ctl ? ctl : (ctl = io_client("io_grp_ctl")), java.in, "{\"cmd\":\"quit\"}");
    assert_int_equal(io_peer_wait_exit(p, IT_TIMEOUT * 3), 0);
}

/* The control client is tracked, closed after each test. */
static int test_teardown(void **state)
{
    ctl = NULL;
    return it_test_teardown(state);
}

#undef IT_TEST
#define IT_TEST(f) cmocka_unit_test_setup_teardown(f, it_test_setup, test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(gather_with_java),
        IT_TEST(string_consensus_with_java),
        IT_TEST(bool_consensus_with_java),
        IT_TEST(average_consensus_with_java),
        IT_TEST(sync_with_java),
        IT_TEST(spread_with_java),
        IT_TEST(peer_quits),
    };
    return cmocka_run_group_tests_name("interop.java_groups", tests, group_setup, group_teardown);
}
