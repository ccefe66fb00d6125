/*
 * Integration: awareness groups (oocsi_awareness_*) of several C members over
 * the hub, and the local state machine (oocsi_statemachine_*).
 */
#include "support.h"

#include <stdio.h>
#include <string.h>

#include <oocsi/behavior.h>

typedef struct has_ctx {
    oocsi_awareness *a;
    const char *node, *key;
    double value;
} has_ctx;

static int has_value(void *ctx)
{
    has_ctx *h = ctx;
    return oocsi_awareness_get_number(h->a, h->node, h->key, -12345) == h->value;
}

static void wait_value(oocsi_awareness *a, const char *node, const char *key, double value)
{
    has_ctx h = {a, node, key, value};
    if (!it_wait_until(has_value, &h, IT_TIMEOUT))
        fail_msg("%s's %s is not %g", node, key, value);
}

static int gone(void *ctx)
{
    has_ctx *h = ctx;
    return !oocsi_awareness_contains(h->a, h->node);
}

static int is_text(void *ctx)
{
    has_ctx *h = ctx;
    char *s = oocsi_awareness_get_string(h->a, h->node, h->key);
    int ok = s && strcmp(s, "text") == 0;
    oocsi_free(s);
    return ok;
}

static void count_nodes(const char *node, const cJSON *data, void *user)
{
    (void)node;
    *(int *)user += cJSON_GetArraySize(data);
}

/* Every member sees what the others sent to the group channel: all keys, or
 * only the chosen ones; a later message updates only the keys it holds. */
static void members_see_each_other(void **state)
{
    (void)state;
    char h[64], ch[64];
    it_unique(ch, sizeof ch, "aware");
    it_unique(h, sizeof h, "aw_a");
    oocsi_client *ca = it_connect_bg(h);
    it_unique(h, sizeof h, "aw_b");
    oocsi_client *cb = it_connect_bg(h);
    it_unique(h, sizeof h, "aw_c");
    oocsi_client *cc = it_connect_bg(h);
    oocsi_awareness *a = oocsi_awareness_new(ca, ch, NULL, 0, 0);
    const char *only_x[] = {"x"};
    oocsi_awareness *b = oocsi_awareness_new(cb, ch, only_x, 1, 0);
    assert_non_null(a);
    assert_non_null(b);
    /* c is no awareness member: it just sends to "<channel>_awareness" */
    char group[96];
    snprintf(group, sizeof group, "%s_awareness", ch);
    assert_int_equal(oocsi_send_json(cc, group, "{\"x\":1,\"mood\":\"calm\"}"), OOCSI_OK);
    wait_value(a, oocsi_handle(cc), "x", 1);
    wait_value(b, oocsi_handle(cc), "x", 1);
    char *mood = oocsi_awareness_get_string(a, oocsi_handle(cc), "mood");
    assert_string_equal(mood, "calm");
    oocsi_free(mood);
    assert_null(oocsi_awareness_get(b, oocsi_handle(cc), "mood")); /* b keeps x only */
    /* a publishes: b sees it, a does not see itself */
    assert_int_equal(oocsi_awareness_set_number(a, "x", 7), OOCSI_OK);
    wait_value(b, oocsi_handle(ca), "x", 7);
    assert_int_equal(oocsi_awareness_contains(a, oocsi_handle(ca)), 0);
    assert_int_equal(oocsi_awareness_size(b), 2);
    assert_int_equal(oocsi_awareness_size(a), 1);
    /* an update of one key keeps the others */
    assert_int_equal(oocsi_send_json(cc, group, "{\"x\":2}"), OOCSI_OK);
    wait_value(a, oocsi_handle(cc), "x", 2);
    mood = oocsi_awareness_get_string(a, oocsi_handle(cc), "mood");
    assert_string_equal(mood, "calm");
    oocsi_free(mood);
    cJSON *list = it_json("[1,\"two\"]");
    assert_int_equal(oocsi_awareness_set(b, "list", list), OOCSI_OK);
    assert_int_equal(oocsi_awareness_set_string(b, "x", "text"), OOCSI_OK);
    /* the list came first on the same connection: once x is text, both are in */
    has_ctx hc = {a, oocsi_handle(cb), "x", 0};
    assert_true(it_wait_until(is_text, &hc, IT_TIMEOUT));
    cJSON *got = oocsi_awareness_get(a, oocsi_handle(cb), "list");
    assert_true(it_json_equal(got, list));
    cJSON_Delete(got);
    cJSON_Delete(list);
    int keys = 0;
    assert_int_equal(oocsi_awareness_each(a, count_nodes, &keys), 2);
    assert_int_equal(keys, 4); /* c: x, mood; b: list, x */
    assert_int_equal(oocsi_awareness_remove(a, oocsi_handle(cc)), OOCSI_OK);
    assert_int_equal(oocsi_awareness_contains(a, oocsi_handle(cc)), 0);
    assert_int_equal(oocsi_awareness_remove(a, "nobody_here"), OOCSI_OK);
    IT_ASSERT_NEAR(oocsi_awareness_get_number(a, "nobody_here", "x", 3.5), 3.5, 0);
    oocsi_awareness_free(a);
    oocsi_awareness_free(b);
}

/* With a timeout, a node that stays silent is forgotten. */
static void silent_nodes_are_forgotten(void **state)
{
    (void)state;
    char h[64], ch[64], group[96];
    it_unique(ch, sizeof ch, "aware_t");
    snprintf(group, sizeof group, "%s_awareness", ch);
    it_unique(h, sizeof h, "aw_t");
    oocsi_client *ct = it_connect_bg(h);
    it_unique(h, sizeof h, "aw_s");
    oocsi_client *cs = it_connect_bg(h);
    oocsi_awareness *a = oocsi_awareness_new(ct, ch, NULL, 0, 200);
    assert_non_null(a);
    assert_int_equal(oocsi_send_json(cs, group, "{\"x\":1}"), OOCSI_OK);
    wait_value(a, oocsi_handle(cs), "x", 1);
    has_ctx g = {a, oocsi_handle(cs), "x", 0};
    assert_true(it_wait_until(gone, &g, IT_TIMEOUT));
    assert_int_equal(oocsi_awareness_size(a), 0);
    oocsi_awareness_free(a);
}

static void awareness_invalid_arguments(void **state)
{
    (void)state;
    char h[64];
    it_unique(h, sizeof h, "aw_inv");
    oocsi_client *c = it_connect_bg(h);
    const char *keys[] = {"x", ""};
    assert_null(oocsi_awareness_new(NULL, "ch", NULL, 0, 0));
    assert_non_null(strstr(oocsi_last_error(NULL), "c is NULL"));
    assert_null(oocsi_awareness_new(c, NULL, NULL, 0, 0));
    assert_null(oocsi_awareness_new(c, "c h", NULL, 0, 0));
    assert_null(oocsi_awareness_new(c, "ch", NULL, 1, 0));
    assert_null(oocsi_awareness_new(c, "ch", keys, 2, 0));
    assert_non_null(strstr(oocsi_last_error(NULL), "non-empty"));
    assert_null(oocsi_awareness_new(c, "ch", keys, 1, -1));
    oocsi_awareness *a = oocsi_awareness_new(c, "aw_inv", keys, 1, 0);
    assert_non_null(a);
    cJSON *v = cJSON_CreateNumber(1);
    assert_int_equal(oocsi_awareness_set(NULL, "x", v), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_awareness_set(a, NULL, v), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_awareness_set(a, "", v), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_awareness_set(a, "x", NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_awareness_set_string(a, "x", NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_awareness_set_number(NULL, "x", 1), OOCSI_ERR_INVAL);
    cJSON_Delete(v);
    assert_null(oocsi_awareness_get(NULL, "n", "x"));
    assert_null(oocsi_awareness_get(a, NULL, "x"));
    assert_null(oocsi_awareness_get(a, "n", NULL));
    assert_null(oocsi_awareness_get_string(a, NULL, "x"));
    IT_ASSERT_NEAR(oocsi_awareness_get_number(NULL, "n", "x", 2), 2, 0);
    assert_int_equal(oocsi_awareness_contains(NULL, "n"), 0);
    assert_int_equal(oocsi_awareness_contains(a, NULL), 0);
    assert_int_equal(oocsi_awareness_remove(a, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_awareness_size(NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_awareness_each(NULL, NULL, NULL), OOCSI_ERR_INVAL);
    oocsi_awareness_free(a);
    oocsi_awareness_free(NULL);
}

/* ---------------------------------------------------------- state machine */

typedef struct trace {
    char text[512];
    oocsi_statemachine *m;
    const char *jump_to; /* set from inside an enter callback */
} trace;

static void add(trace *t, const char *what, const char *state)
{
    size_t n = strlen(t->text);
    snprintf(t->text + n, sizeof t->text - n, "%s%s:%s", n ? " " : "", what, state);
}

static void sm_enter(oocsi_statemachine *m, const char *state, void *user)
{
    trace *t = user;
    add(t, "enter", state);
    if (t->jump_to && strcmp(state, "b") == 0) {
        const char *to = t->jump_to;
        t->jump_to = NULL;
        assert_int_equal(oocsi_statemachine_set(m, to), OOCSI_OK);
    }
}

static void sm_stay(oocsi_statemachine *m, const char *state, void *user)
{
    (void)m;
    add(user, "stay", state);
}

static void sm_exit(oocsi_statemachine *m, const char *state, void *user)
{
    (void)m;
    add(user, "exit", state);
}

static void statemachine_runs_callbacks(void **state)
{
    (void)state;
    trace t = {0};
    oocsi_statemachine *m = oocsi_statemachine_new();
    assert_non_null(m);
    assert_null(oocsi_statemachine_get(m));
    assert_int_equal(oocsi_statemachine_execute(m), OOCSI_OK); /* no state: nothing */
    assert_int_equal(oocsi_statemachine_add_state(m, "a", sm_enter, sm_stay, sm_exit, &t), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_state(m, "b", sm_enter, NULL, sm_exit, &t), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_state(m, "c", NULL, sm_stay, NULL, &t), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_set(m, "a"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_execute(m), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_set(m, "b"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_execute(m), OOCSI_OK);  /* b has no stay */
    assert_int_equal(oocsi_statemachine_set(m, "b"), OOCSI_OK); /* again: exit and enter */
    assert_int_equal(oocsi_statemachine_set(m, "c"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_execute(m), OOCSI_OK);
    assert_string_equal(t.text, "enter:a stay:a exit:a enter:b exit:b enter:b exit:b stay:c");
    assert_string_equal(oocsi_statemachine_get(m), "c");
    assert_true(oocsi_statemachine_is(m, "c"));
    assert_false(oocsi_statemachine_is(m, "a"));
    assert_int_equal(oocsi_statemachine_set(m, "nowhere"), OOCSI_ERR_NOT_FOUND);
    assert_string_equal(oocsi_statemachine_get(m), "c");
    /* a callback may change the state itself */
    t.text[0] = 0;
    t.jump_to = "a";
    assert_int_equal(oocsi_statemachine_set(m, "b"), OOCSI_OK);
    assert_string_equal(t.text, "enter:b exit:b enter:a");
    assert_string_equal(oocsi_statemachine_get(m), "a");
    oocsi_statemachine_free(m);
}

static void statemachine_transitions(void **state)
{
    (void)state;
    trace t = {0};
    oocsi_statemachine *m = oocsi_statemachine_new();
    assert_int_equal(oocsi_statemachine_add_state(m, "idle", sm_enter, NULL, sm_exit, &t), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_state(m, "busy", sm_enter, NULL, sm_exit, &t), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_state(m, "done", sm_enter, NULL, sm_exit, &t), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_transition(m, "idle", "busy"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_transition(m, "busy", "done"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_transition(m, "idle", "ghost"), OOCSI_ERR_NOT_FOUND);
    assert_non_null(strstr(oocsi_last_error(NULL), "ghost"));
    assert_int_equal(oocsi_statemachine_set(m, "done"), OOCSI_OK); /* the first set is free */
    assert_int_equal(oocsi_statemachine_set(m, "idle"), OOCSI_ERR_UNSUPPORTED);
    assert_non_null(strstr(oocsi_last_error(NULL), "no transition from \"done\" to \"idle\""));
    oocsi_statemachine_free(m);
    t.text[0] = 0;
    m = oocsi_statemachine_new();
    assert_int_equal(oocsi_statemachine_add_state(m, "idle", sm_enter, NULL, sm_exit, &t), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_state(m, "busy", sm_enter, NULL, sm_exit, &t), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_transition(m, "idle", "busy"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_set(m, "idle"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_set(m, "idle"), OOCSI_ERR_UNSUPPORTED); /* no idle -> idle */
    assert_int_equal(oocsi_statemachine_set(m, "busy"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_set(m, "idle"), OOCSI_ERR_UNSUPPORTED);
    assert_string_equal(t.text, "enter:idle exit:idle enter:busy");
    /* replacing a state's callbacks keeps its transitions */
    assert_int_equal(oocsi_statemachine_add_state(m, "busy", NULL, NULL, NULL, NULL), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_add_transition(m, "busy", "idle"), OOCSI_OK);
    assert_int_equal(oocsi_statemachine_set(m, "idle"), OOCSI_OK);
    assert_string_equal(t.text, "enter:idle exit:idle enter:busy enter:idle");
    oocsi_statemachine_free(m);
}

static void statemachine_invalid_arguments(void **state)
{
    (void)state;
    oocsi_statemachine *m = oocsi_statemachine_new();
    assert_int_equal(oocsi_statemachine_add_state(NULL, "a", NULL, NULL, NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_statemachine_add_state(m, NULL, NULL, NULL, NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_statemachine_add_state(m, "", NULL, NULL, NULL, NULL), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "name is empty"));
    assert_int_equal(oocsi_statemachine_add_transition(NULL, "a", "b"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_statemachine_add_transition(m, "a", NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_statemachine_set(NULL, "a"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_statemachine_set(m, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_statemachine_execute(NULL), OOCSI_ERR_INVAL);
    assert_null(oocsi_statemachine_get(NULL));
    assert_false(oocsi_statemachine_is(NULL, "a"));
    assert_false(oocsi_statemachine_is(m, NULL));
    oocsi_statemachine_free(m);
    oocsi_statemachine_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(members_see_each_other),      IT_TEST(silent_nodes_are_forgotten),
        IT_TEST(awareness_invalid_arguments), IT_TEST(statemachine_runs_callbacks),
        IT_TEST(statemachine_transitions),    IT_TEST(statemachine_invalid_arguments),
    };
    return cmocka_run_group_tests_name("integration.behaviors_awareness", tests, it_group_setup, it_group_teardown);
}
