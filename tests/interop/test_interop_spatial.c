/*
 * The group behaviours of <oocsi/behavior.h> and the Java client's own
 * classes in one group, through the reference Java server: a spatial group
 * (OOCSISpatial) of a Java member and two C members agrees on positions,
 * neighbours and routes; an awareness group (OOCSIAwareness) sees each
 * side's key/values; a state machine runs the same script to the same
 * callbacks as OOCSIStateMachine. The Java side is SpatialAwarenessPeer.java
 * (compiled here at test time; skipped without javac), one JVM for the
 * whole program, driven by messages on PREFIX_in.
 */
#include "interop.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oocsi/behavior.h>

static oocsi_client *cmd; /* sends the peer's commands (one per test) */
static io_ref_peer java;  /* SpatialAwarenessPeer */

/* Called first by every test: the command client of the previous test was
 * closed by its teardown. */
static io_peer *the_peer(void)
{
    cmd = NULL;
    return io_ref_peer_use(&java);
}

static int group_setup(void **state)
{
    io_ref_peer_init(&java, "SpatialAwarenessPeer", "java-spatial-peer", "io_beh", "java");
    return io_group_setup(state);
}

static int group_teardown(void **state)
{
    io_ref_peer_release(&java);
    return io_group_teardown(state);
}

/* Sends a command (printf-style JSON) to the peer. */
static void command(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void command(const char *fmt, ...)
{
    char json[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    if (!cmd)
        cmd = io_client("io_beh_cmd");
    io_send(cmd, java.in, json);
}

/* ---------------------------------------------------------------- spatial */

typedef struct count_ctx {
    oocsi_spatial *s;
    int want;
} count_ctx;

static int has_count(void *ctx)
{
    count_ctx *c = ctx;
    return oocsi_spatial_count(c->s) == c->want;
}

/* The peer's view once check(view) holds (asking again until then, bounded:
 * the Java client runs each channel's handlers on their own thread, so a
 * question may overtake the votes). */
static cJSON *java_spatial_until(int (*check)(const cJSON *view, const void *arg), const void *arg)
{
    cJSON *ev = NULL;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 2; it_now_ms() < until;) {
        cJSON_Delete(ev);
        command("{\"cmd\":\"spatial_state\"}");
        ev = io_peer_event(&java.p, "spatial", IT_TIMEOUT * 2);
        if (check(ev, arg))
            return ev;
    }
    return ev;
}

static const char *jpos(const cJSON *view, const char *h)
{
    return cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(view, "positions"), h));
}

static int knows_three(const cJSON *view, const void *arg)
{
    (void)arg;
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(view, "positions")) == 3;
}

typedef struct at_ctx {
    const char *h, *text;
} at_ctx;

static int sees_at(const cJSON *view, const void *arg)
{
    const at_ctx *a = arg;
    const char *p = jpos(view, a->h);
    return p && strcmp(p, a->text) == 0;
}

static void assert_json_text(const cJSON *v, const char *expected)
{
    char *text = cJSON_PrintUnformatted(v);
    assert_string_equal(text, expected);
    cJSON_free(text);
}

static char *sorted_pair(char *buf, size_t size, const char *a, const char *b)
{
    snprintf(buf, size, "[\"%s\",\"%s\"]", strcmp(a, b) < 0 ? a : b, strcmp(a, b) < 0 ? b : a);
    return buf;
}

static void c_route(oocsi_spatial *s, const char *dest, const char *expected)
{
    char *via = NULL;
    int rc = oocsi_spatial_next_hop(s, dest, IT_TIMEOUT, &via);
    if (rc != OOCSI_OK)
        fail_msg("C next hop to %s: %s (expected %s)", dest, oocsi_strerror(rc), expected);
    assert_string_equal(via, expected);
    oocsi_free(via);
}

static void java_route(const char *dest, const char *expected)
{
    command("{\"cmd\":\"route\",\"dest\":\"%s\"}", dest);
    cJSON *ev = io_peer_event(&java.p, "route", IT_TIMEOUT * 3);
    io_assert_str(ev, "via", expected);
    cJSON_Delete(ev);
}

/* Java at 0, C members at 1 and 2 (neighbour distance 1.5): all see the
 * same positions and neighbours; Java routes to the far C member through
 * the near one (a C responder answers it) and the far one back through it;
 * then a C member moves to the other side of Java, and a C member's route
 * goes through Java (Java's responder answers C). */
static void spatial_group_agrees(void **state)
{
    (void)state;
    the_peer();
    char ch[64], buf[256];
    it_unique(ch, sizeof ch, "io_sp");
    oocsi_client *c1 = io_client("io_sp_c1"), *c2 = io_client("io_sp_c2");
    const char *h1 = oocsi_handle(c1), *h2 = oocsi_handle(c2);
    oocsi_spatial *s1 = oocsi_spatial_new(c1, ch, "pos", 1, 1, 0, 1.5);
    oocsi_spatial *s2 = oocsi_spatial_new(c2, ch, "pos", 1, 2, 0, 1.5);
    assert_non_null(s1);
    assert_non_null(s2);
    command("{\"cmd\":\"spatial\",\"channel\":\"%s\",\"key\":\"pos\",\"x\":0,\"nd\":1.5}", ch);
    cJSON_Delete(io_peer_event(&java.p, "spatial_joined", IT_TIMEOUT * 2));
    count_ctx k1 = {s1, 3}, k2 = {s2, 3};
    assert_true(it_wait_until(has_count, &k1, IT_TIMEOUT));
    assert_true(it_wait_until(has_count, &k2, IT_TIMEOUT));

    /* what Java sees: the C votes as Java float text, its neighbour */
    cJSON *view = java_spatial_until(knows_three, NULL);
    io_assert_str(view, "closest", h1);
    assert_string_equal(jpos(view, h1), "1.0");
    assert_string_equal(jpos(view, h2), "2.0");
    assert_string_equal(jpos(view, java.handle), "0.0");
    snprintf(buf, sizeof buf, "[\"%s\"]", h1);
    assert_json_text(cJSON_GetObjectItemCaseSensitive(view, "neighbours"), buf);
    cJSON_Delete(view);
    /* what C sees: Java's vote, the same neighbours */
    double x = -1;
    assert_int_equal(oocsi_spatial_position(s2, java.handle, &x, NULL), OOCSI_OK);
    IT_ASSERT_NEAR(x, 0, 0);
    cJSON *nb = NULL;
    assert_int_equal(oocsi_spatial_neighbours(s1, &nb), OOCSI_OK);
    assert_json_text(nb, sorted_pair(buf, sizeof buf, java.handle, h2));
    cJSON_Delete(nb);

    /* routes in both directions, each through the C member in the middle */
    java_route(h2, h1);
    java_route(h1, h1);
    c_route(s2, java.handle, h1);

    /* c2 moves to -1: Java is now in the middle */
    assert_int_equal(oocsi_spatial_set_position(s2, -1, 0), OOCSI_OK);
    at_ctx moved = {h2, "-1.0"};
    view = java_spatial_until(sees_at, &moved);
    assert_string_equal(jpos(view, h2), "-1.0");
    assert_json_text(cJSON_GetObjectItemCaseSensitive(view, "neighbours"), sorted_pair(buf, sizeof buf, h1, h2));
    cJSON_Delete(view);
    double x2 = 0;
    assert_int_equal(oocsi_spatial_position(s1, h2, &x2, NULL), OOCSI_OK); /* c1 had it before Java answered */
    IT_ASSERT_NEAR(x2, -1, 0);
    c_route(s1, h2, java.handle); /* Java's responder answers c1 */
    java_route(h2, h2);
    oocsi_spatial_free(s1);
    oocsi_spatial_free(s2);
}

/* A 2-D group: Java reads the C votes ("x;y" in Java float text) and C the
 * Java one; both agree on the neighbours by straight-line distance. (A
 * second OOCSISpatial in the Java program replaces its routing responder;
 * this test does not route.) */
static void spatial_2d_positions_agree(void **state)
{
    (void)state;
    the_peer();
    char ch[64], buf[256];
    it_unique(ch, sizeof ch, "io_sp2");
    oocsi_client *c1 = io_client("io_sp2_c1"), *c2 = io_client("io_sp2_c2");
    const char *h1 = oocsi_handle(c1), *h2 = oocsi_handle(c2);
    oocsi_spatial *s1 = oocsi_spatial_new(c1, ch, "xy", 2, 0.6, 0.8, 1.5);
    oocsi_spatial *s2 = oocsi_spatial_new(c2, ch, "xy", 2, 3, -4, 1.5);
    assert_non_null(s1);
    assert_non_null(s2);
    command("{\"cmd\":\"spatial\",\"channel\":\"%s\",\"key\":\"xy\",\"x\":0,\"y\":1.25,\"nd\":1.5}", ch);
    cJSON_Delete(io_peer_event(&java.p, "spatial_joined", IT_TIMEOUT * 2));
    count_ctx k1 = {s1, 3};
    assert_true(it_wait_until(has_count, &k1, IT_TIMEOUT));
    cJSON *view = java_spatial_until(knows_three, NULL);
    assert_string_equal(jpos(view, h1), "0.6;0.8");
    assert_string_equal(jpos(view, h2), "3.0;-4.0");
    assert_string_equal(jpos(view, java.handle), "0.0;1.25");
    snprintf(buf, sizeof buf, "[\"%s\"]", h1);
    assert_json_text(cJSON_GetObjectItemCaseSensitive(view, "neighbours"), buf);
    cJSON_Delete(view);
    double x = -1, y = -1;
    assert_int_equal(oocsi_spatial_position(s1, java.handle, &x, &y), OOCSI_OK);
    IT_ASSERT_NEAR(x, 0, 0);
    IT_ASSERT_NEAR(y, 1.25, 0);
    cJSON *nb = NULL;
    assert_int_equal(oocsi_spatial_neighbours(s1, &nb), OOCSI_OK);
    snprintf(buf, sizeof buf, "[\"%s\"]", java.handle);
    assert_json_text(nb, buf);
    cJSON_Delete(nb);
    oocsi_spatial_free(s1);
    oocsi_spatial_free(s2);
}

/* -------------------------------------------------------------- awareness */

typedef struct num_ctx {
    oocsi_awareness *a;
    const char *node, *key;
    double want;
} num_ctx;

static int has_num(void *ctx)
{
    num_ctx *n = ctx;
    return oocsi_awareness_get_number(n->a, n->node, n->key, NAN) == n->want;
}

/* The peer's awareness of node (keys x and mood) once it has key (asking
 * again until then, bounded). */
static cJSON *java_awareness_until(const char *node, const char *key)
{
    cJSON *ev = NULL;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 2; it_now_ms() < until;) {
        cJSON_Delete(ev);
        command("{\"cmd\":\"aware_state\",\"nodes\":\"%s,%s\",\"keys\":\"x,mood\"}", node, java.handle);
        ev = io_peer_event(&java.p, "awareness", IT_TIMEOUT * 2);
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "nodes"), node);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(seen, key);
        if (v && !cJSON_IsNull(v))
            break;
    }
    return ev;
}

/* Java (all keys) and two C members (all keys; only "x") in one awareness
 * group: each sees what the other side sent, nobody sees itself. */
static void awareness_group_agrees(void **state)
{
    (void)state;
    the_peer();
    char ch[64];
    it_unique(ch, sizeof ch, "io_aw");
    oocsi_client *c1 = io_client("io_aw_c1"), *c2 = io_client("io_aw_c2");
    const char *h1 = oocsi_handle(c1);
    oocsi_awareness *a1 = oocsi_awareness_new(c1, ch, NULL, 0, 0);
    const char *only_x[] = {"x"};
    oocsi_awareness *a2 = oocsi_awareness_new(c2, ch, only_x, 1, 0);
    assert_non_null(a1);
    assert_non_null(a2);
    command("{\"cmd\":\"aware\",\"channel\":\"%s\",\"keys\":\"\"}", ch);
    cJSON_Delete(io_peer_event(&java.p, "aware_joined", IT_TIMEOUT * 2));

    /* Java -> C */
    command("{\"cmd\":\"aware_say\",\"channel\":\"%s\",\"x\":3,\"mood\":\"calm\"}", ch);
    num_ctx n1 = {a1, java.handle, "x", 3}, n2 = {a2, java.handle, "x", 3};
    assert_true(it_wait_until(has_num, &n1, IT_TIMEOUT));
    assert_true(it_wait_until(has_num, &n2, IT_TIMEOUT));
    char *mood = oocsi_awareness_get_string(a1, java.handle, "mood");
    assert_string_equal(mood, "calm");
    oocsi_free(mood);
    assert_null(oocsi_awareness_get(a2, java.handle, "mood"));

    /* C -> Java. The Java client hands each message to a pool thread, and
     * OOCSIAwareness makes a new sender's entry without a lock: two first
     * messages at once can lose one, so "mood" goes once Java has the node. */
    assert_int_equal(oocsi_awareness_set_number(a1, "x", 5), OOCSI_OK);
    cJSON_Delete(java_awareness_until(h1, "x"));
    assert_int_equal(oocsi_awareness_set_string(a1, "mood", "busy"), OOCSI_OK);
    cJSON *ev = java_awareness_until(h1, "mood");
    const cJSON *seen = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "nodes"), h1);
    io_assert_num(seen, "x", 5);
    io_assert_str(seen, "mood", "busy");
    io_assert_num(ev, "size", 1); /* c1 only: Java is not its own node, c2 said nothing */
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "nodes"), java.handle));
    cJSON_Delete(ev);
    assert_int_equal(oocsi_awareness_contains(a1, h1), 0);
    oocsi_awareness_free(a1);
    oocsi_awareness_free(a2);
}

/* ---------------------------------------------------------- state machine */

static void record(char *trace, const char *what, const char *state)
{
    size_t n = strlen(trace);
    snprintf(trace + n, 1024 - n, "%s%s:%s", n ? " " : "", what, state);
}

static void sm_enter(oocsi_statemachine *m, const char *s, void *user)
{
    (void)m;
    record(user, "enter", s);
}

static void sm_stay(oocsi_statemachine *m, const char *s, void *user)
{
    (void)m;
    record(user, "stay", s);
}

static void sm_exit(oocsi_statemachine *m, const char *s, void *user)
{
    (void)m;
    record(user, "exit", s);
}

/* The same states and steps give the same callbacks in the same order, and
 * the same final state, in C and in Java (without transitions, where both
 * allow every change; neither sends anything). */
static void statemachine_runs_like_java(void **state)
{
    (void)state;
    the_peer();
    const char *ops = "exec,set:idle,exec,set:busy,exec,set:busy,set:done,exec,set:idle";
    command("{\"cmd\":\"sm\",\"states\":\"idle,busy,done\",\"ops\":\"%s\"}", ops);
    cJSON *ev = io_peer_event(&java.p, "sm", IT_TIMEOUT * 2);
    char trace[1024] = "";
    oocsi_statemachine *m = oocsi_statemachine_new();
    const char *states[] = {"idle", "busy", "done"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(oocsi_statemachine_add_state(m, states[i], sm_enter, sm_stay, sm_exit, trace), OOCSI_OK);
    char steps[256];
    snprintf(steps, sizeof steps, "%s", ops);
    for (char *save = NULL, *op = strtok_r(steps, ",", &save); op; op = strtok_r(NULL, ",", &save))
        assert_int_equal(
            strncmp(op, "set:", 4) == 0 ? oocsi_statemachine_set(m, op + 4) : oocsi_statemachine_execute(m), OOCSI_OK);
    io_assert_str(ev, "trace", trace);
    io_assert_str(ev, "state", oocsi_statemachine_get(m));
    assert_string_equal(trace, "enter:idle stay:idle exit:idle enter:busy stay:busy exit:busy enter:busy exit:busy "
                               "enter:done stay:done exit:done enter:idle");
    cJSON_Delete(ev);
    oocsi_statemachine_free(m);
}

static void peer_quits(void **state)
{
    (void)state;
    the_peer();
    command("{\"cmd\":\"quit\"}");
    assert_int_equal(io_peer_wait_exit(&java.p, IT_TIMEOUT * 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(spatial_group_agrees),
        IT_TEST(spatial_2d_positions_agree),
        IT_TEST(awareness_group_agrees),
        IT_TEST(statemachine_runs_like_java),
        IT_TEST(peer_quits),
    };
    return cmocka_run_group_tests_name("interop.java_spatial_awareness", tests, group_setup, group_teardown);
}
