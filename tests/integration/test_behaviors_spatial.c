/*
 * Integration: spatial groups (oocsi_spatial_*) of several C members over
 * the hub: positions, neighbours, the closest neighbour, routing through
 * neighbours, and the wire messages a Java OOCSISpatial expects.
 */
#include "support.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <oocsi/behavior.h>

typedef struct count_ctx {
    oocsi_spatial *s;
    int want;
} count_ctx;

static int has_count(void *ctx)
{
    count_ctx *c = ctx;
    return oocsi_spatial_count(c->s) == c->want;
}

static void wait_count(oocsi_spatial *s, int want)
{
    count_ctx c = {s, want};
    if (!it_wait_until(has_count, &c, IT_TIMEOUT))
        fail_msg("the spatial member knows %d positions, expected %d", oocsi_spatial_count(s), want);
}

typedef struct pos_ctx {
    oocsi_spatial *s;
    const char *who;
    double x, y;
} pos_ctx;

static int at_xy(void *ctx)
{
    pos_ctx *p = ctx;
    double x = NAN, y = NAN;
    return oocsi_spatial_position(p->s, p->who, &x, &y) == OOCSI_OK && fabs(x - p->x) < 1e-6 && fabs(y - p->y) < 1e-6;
}

/* Waits until s sees who at (x, y) (y 0 in 1-D). */
static void wait_at(oocsi_spatial *s, const char *who, double x, double y)
{
    pos_ctx p = {s, who, x, y};
    if (!it_wait_until(at_xy, &p, IT_TIMEOUT))
        fail_msg("%s is not seen at (%g, %g)", who, x, y);
}

static void assert_neighbours(oocsi_spatial *s, const char *expected_json)
{
    cJSON *n = NULL;
    assert_int_equal(oocsi_spatial_neighbours(s, &n), OOCSI_OK);
    char *text = cJSON_PrintUnformatted(n);
    assert_string_equal(text, expected_json);
    cJSON_free(text);
    cJSON_Delete(n);
}

static void assert_next_hop(oocsi_spatial *s, const char *dest, const char *expected)
{
    char *via = NULL;
    int rc = oocsi_spatial_next_hop(s, dest, IT_TIMEOUT, &via);
    if (!expected) {
        assert_int_equal(rc, OOCSI_ERR_NOT_FOUND);
        assert_null(via);
        return;
    }
    if (rc != OOCSI_OK)
        fail_msg("next hop to %s: %s (expected %s)", dest, oocsi_strerror(rc), expected);
    assert_string_equal(via, expected);
    oocsi_free(via);
}

/* Three members in a line, a - b - c (1 apart, neighbour distance 1.5). */
typedef struct line {
    oocsi_client *ca, *cb, *cc;
    oocsi_spatial *a, *b, *c;
    char channel[64];
} line;

static void line_init(line *l, int dims)
{
    char h[64];
    it_unique(h, sizeof h, "sp_a");
    l->ca = it_connect_bg(h);
    it_unique(h, sizeof h, "sp_b");
    l->cb = it_connect_bg(h);
    it_unique(h, sizeof h, "sp_c");
    l->cc = it_connect_bg(h);
    it_unique(l->channel, sizeof l->channel, "spatial");
    /* In 2-D the line runs diagonally: (0,0) (0.6,0.8) (1.2,1.6). */
    double dx = dims == 2 ? 0.6 : 1, dy = dims == 2 ? 0.8 : 0;
    l->a = oocsi_spatial_new(l->ca, l->channel, "pos", dims, 0, 0, 1.5);
    l->b = oocsi_spatial_new(l->cb, l->channel, "pos", dims, dx, dy, 1.5);
    l->c = oocsi_spatial_new(l->cc, l->channel, "pos", dims, 2 * dx, 2 * dy, 1.5);
    assert_non_null(l->a);
    assert_non_null(l->b);
    assert_non_null(l->c);
    wait_count(l->a, 3);
    wait_count(l->b, 3);
    wait_count(l->c, 3);
}

static void line_free(line *l)
{
    oocsi_spatial_free(l->a);
    oocsi_spatial_free(l->b);
    oocsi_spatial_free(l->c);
}

static char *json1(const char *s)
{
    static char buf[3][128];
    static int i;
    i = (i + 1) % 3;
    snprintf(buf[i], sizeof buf[i], "[\"%s\"]", s);
    return buf[i];
}

static void check_line(line *l)
{
    const char *ha = oocsi_handle(l->ca), *hb = oocsi_handle(l->cb), *hc = oocsi_handle(l->cc);
    assert_neighbours(l->a, json1(hb));
    assert_neighbours(l->c, json1(hb));
    char both[256];
    snprintf(both, sizeof both, "[\"%s\",\"%s\"]", strcmp(ha, hc) < 0 ? ha : hc, strcmp(ha, hc) < 0 ? hc : ha);
    assert_neighbours(l->b, both);
    char *closest = NULL;
    assert_int_equal(oocsi_spatial_closest(l->a, &closest), OOCSI_OK);
    assert_string_equal(closest, hb);
    oocsi_free(closest);
    /* a neighbour is its own next hop; the far end is reached through b */
    assert_next_hop(l->a, hb, hb);
    assert_next_hop(l->a, hc, hb);
    assert_next_hop(l->c, ha, hb);
    assert_next_hop(l->b, ha, ha);
    assert_next_hop(l->a, "nobody_here", NULL);
}

static void line_1d(void **state)
{
    (void)state;
    line l;
    line_init(&l, 1);
    double x = -1, y = -1;
    assert_int_equal(oocsi_spatial_position(l.c, oocsi_handle(l.ca), &x, &y), OOCSI_OK);
    IT_ASSERT_NEAR(x, 0, 0);
    IT_ASSERT_NEAR(y, 0, 0);
    assert_int_equal(oocsi_spatial_position(l.a, oocsi_handle(l.cc), &x, NULL), OOCSI_OK);
    IT_ASSERT_NEAR(x, 2, 0);
    assert_int_equal(oocsi_spatial_position(l.a, "nobody_here", &x, NULL), OOCSI_ERR_NOT_FOUND);
    check_line(&l);
    line_free(&l);
}

static void line_2d(void **state)
{
    (void)state;
    line l;
    line_init(&l, 2);
    double x = -1, y = -1;
    assert_int_equal(oocsi_spatial_position(l.a, oocsi_handle(l.cc), &x, &y), OOCSI_OK);
    IT_ASSERT_NEAR(x, 1.2, 1e-6);
    IT_ASSERT_NEAR(y, 1.6, 1e-6);
    check_line(&l);
    line_free(&l);
}

/* Five members in 2-D (neighbour distance 1.5):
 *
 *        c(0,1)     d(1.3,1.1)   e(2.5,1.6)
 *        a(0,0)  b(1,0)
 *
 * a reaches d through b (1 + 1.14) rather than c (1 + 1.30), and e, two
 * hops behind, also through b; once b moves away, through c. */
static void shortest_of_several_routes(void **state)
{
    (void)state;
    static const double at[5][2] = {{0, 0}, {1, 0}, {0, 1}, {1.3, 1.1}, {2.5, 1.6}};
    oocsi_client *c[5];
    oocsi_spatial *s[5];
    char ch[64];
    it_unique(ch, sizeof ch, "spatial_d");
    for (int i = 0; i < 5; i++) {
        char h[64], prefix[16];
        snprintf(prefix, sizeof prefix, "sp_d%c", 'a' + i);
        it_unique(h, sizeof h, prefix);
        c[i] = it_connect_bg(h);
        s[i] = oocsi_spatial_new(c[i], ch, "k", 2, at[i][0], at[i][1], 1.5);
        assert_non_null(s[i]);
    }
    for (int i = 0; i < 5; i++)
        wait_count(s[i], 5);
    assert_next_hop(s[0], oocsi_handle(c[3]), oocsi_handle(c[1]));
    assert_next_hop(s[0], oocsi_handle(c[4]), oocsi_handle(c[1]));
    assert_next_hop(s[4], oocsi_handle(c[0]), oocsi_handle(c[3]));
    assert_int_equal(oocsi_spatial_set_position(s[1], 10, 10), OOCSI_OK);
    wait_at(s[0], oocsi_handle(c[1]), 10, 10);
    wait_at(s[2], oocsi_handle(c[1]), 10, 10);
    wait_at(s[3], oocsi_handle(c[1]), 10, 10);
    assert_next_hop(s[0], oocsi_handle(c[4]), oocsi_handle(c[2]));
    for (int i = 0; i < 5; i++)
        oocsi_spatial_free(s[i]);
}

/* A member that moves away is no neighbour any more, and the route through
 * it is gone; a refresh forgets members that left. */
static void moving_and_leaving(void **state)
{
    (void)state;
    line l;
    line_init(&l, 1);
    const char *hb = oocsi_handle(l.cb), *hc = oocsi_handle(l.cc);
    assert_int_equal(oocsi_spatial_set_position(l.b, 10, 0), OOCSI_OK);
    wait_at(l.a, hb, 10, 0);
    wait_at(l.c, hb, 10, 0);
    assert_neighbours(l.a, "[]");
    assert_next_hop(l.a, hc, NULL);
    char *closest = NULL;
    assert_int_equal(oocsi_spatial_closest(l.a, &closest), OOCSI_ERR_NOT_FOUND);
    assert_null(closest);
    /* c comes next to a: a direct neighbour now */
    assert_int_equal(oocsi_spatial_set_position(l.c, 0.5, 0), OOCSI_OK);
    wait_at(l.a, hc, 0.5, 0);
    assert_next_hop(l.a, hc, hc);
    /* b leaves; a refresh of a forgets it and learns c again */
    oocsi_spatial_free(l.b);
    l.b = NULL;
    assert_int_equal(oocsi_spatial_refresh(l.a), OOCSI_OK);
    wait_count(l.a, 2);
    assert_int_equal(oocsi_spatial_position(l.a, hb, NULL, NULL), OOCSI_ERR_NOT_FOUND);
    assert_int_equal(oocsi_spatial_position(l.a, hc, NULL, NULL), OOCSI_OK);
    line_free(&l);
}

/* Neighbours include the boundary (distance == neighbour distance); the
 * closest neighbour is strictly inside it and not at the same place. */
static void boundaries(void **state)
{
    (void)state;
    char h[64], ch[64];
    it_unique(ch, sizeof ch, "spatial_b");
    it_unique(h, sizeof h, "sp_m");
    oocsi_client *cm = it_connect_bg(h);
    it_unique(h, sizeof h, "sp_edge");
    oocsi_client *ce = it_connect_bg(h);
    it_unique(h, sizeof h, "sp_same");
    oocsi_client *cs = it_connect_bg(h);
    oocsi_spatial *m = oocsi_spatial_new(cm, ch, "k", 2, 0, 0, 5);
    oocsi_spatial *e = oocsi_spatial_new(ce, ch, "k", 2, 3, 4, 5); /* exactly 5 away */
    oocsi_spatial *s = oocsi_spatial_new(cs, ch, "k", 2, 0, 0, 5); /* same place */
    wait_count(m, 3);
    cJSON *n = NULL;
    assert_int_equal(oocsi_spatial_neighbours(m, &n), OOCSI_OK);
    assert_int_equal(cJSON_GetArraySize(n), 2);
    cJSON_Delete(n);
    char *closest = NULL;
    assert_int_equal(oocsi_spatial_closest(m, &closest), OOCSI_ERR_NOT_FOUND);
    /* e moves just inside: now it is the closest */
    assert_int_equal(oocsi_spatial_set_position(e, 3, 3.9), OOCSI_OK);
    wait_at(m, oocsi_handle(ce), 3, 3.9);
    assert_int_equal(oocsi_spatial_closest(m, &closest), OOCSI_OK);
    assert_string_equal(closest, oocsi_handle(ce));
    oocsi_free(closest);
    /* and just outside: no neighbour but the one at the same place */
    assert_int_equal(oocsi_spatial_set_position(e, 3, 4.01), OOCSI_OK);
    wait_at(m, oocsi_handle(ce), 3, 4.01);
    assert_neighbours(m, json1(oocsi_handle(cs)));
    oocsi_spatial_free(m);
    oocsi_spatial_free(e);
    oocsi_spatial_free(s);
}

/* The wire as a Java OOCSISpatial expects it: the call and the vote on
 * "<channel>_<key>_spatial" with the instance's handle, positions as Java
 * float text, votes on request, and the routing responder's answers. */
static void wire_messages(void **state)
{
    (void)state;
    char h[64], ch[64], group[96];
    it_unique(ch, sizeof ch, "spatial_w");
    snprintf(group, sizeof group, "%s_pos_spatial", ch);
    it_unique(h, sizeof h, "sp_spy");
    oocsi_client *spy = it_connect_bg(h);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(spy, group, it_inbox_handler, in), OOCSI_OK);
    it_unique(h, sizeof h, "sp_w1");
    oocsi_client *c1 = it_connect_bg(h);
    oocsi_spatial *s1 = oocsi_spatial_new(c1, ch, "pos", 1, 4, 0, 2);
    assert_non_null(s1);
    assert_true(it_inbox_wait(in, 2, IT_TIMEOUT));
    const it_msg *call = it_inbox_at(in, 0), *vote = it_inbox_at(in, 1);
    assert_string_equal(call->sender, oocsi_handle(c1));
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(call->data, "oocsi_spatial_call"), "\"\"");
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(call->data, "handle"));
    assert_non_null(id);
    assert_int_equal(strncmp(id, oocsi_handle(c1), strlen(oocsi_handle(c1))), 0);
    assert_int_equal(id[strlen(oocsi_handle(c1))], '_');
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vote->data, "oocsi_spatial_vote")),
                        "4.0");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vote->data, "handle")), id);
    /* Java's float text for other values */
    static const struct {
        double x;
        const char *text;
    } floats[] = {{-2.5, "-2.5"}, {0.001, "0.001"},   {1e7, "1.0E7"},         {123.456, "123.456"},
                  {0.1, "0.1"},   {0.0001, "1.0E-4"}, {1234567, "1234567.0"}, {0, "0.0"}};
    int n = 2;
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        assert_int_equal(oocsi_spatial_set_position(s1, floats[i].x, 0), OOCSI_OK);
        n++;
        assert_true(it_inbox_wait(in, n, IT_TIMEOUT));
        assert_string_equal(
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, n - 1)->data, "oocsi_spatial_vote")),
            floats[i].text);
    }
    /* a call from anyone is answered with a vote */
    assert_int_equal(oocsi_send_json(spy, group, "{\"oocsi_spatial_call\":\"\",\"handle\":\"x_1\"}"), OOCSI_OK);
    n++;
    assert_true(it_inbox_wait(in, n, IT_TIMEOUT));
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, n - 1)->data, "oocsi_spatial_vote")),
        "0.0");
    /* a vote from the spy (as Java sends it) makes it known, and a neighbour */
    assert_int_equal(oocsi_send_json(spy, group, "{\"oocsi_spatial_vote\":\"1.5\",\"handle\":\"x_1\"}"), OOCSI_OK);
    wait_at(s1, oocsi_handle(spy), 1.5, 0);
    /* a vote that does not parse is ignored */
    assert_int_equal(oocsi_send_json(spy, group, "{\"oocsi_spatial_vote\":\"far\"}"), OOCSI_OK);
    /* the routing responder: distance to a neighbour, the largest float when
     * the path already holds the member or nobody knows the destination */
    cJSON *req = it_json("{\"oocsi_spatial_destination_request\":\"\",\"oocsi_spatial_routing_path\":\"x,\"}");
    cJSON_ReplaceItemInObjectCaseSensitive(req, "oocsi_spatial_destination_request",
                                           cJSON_CreateString(oocsi_handle(spy)));
    cJSON *resp = NULL;
    assert_int_equal(
        oocsi_call_and_wait(spy, oocsi_handle(c1), "oocsi_spatial_destination_request", req, IT_TIMEOUT, &resp),
        OOCSI_OK);
    IT_ASSERT_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "oocsi_spatial_destination_distance")),
                   1.5, 1e-6);
    assert_null(cJSON_GetObjectItemCaseSensitive(resp, "oocsi_spatial_routing_path"));
    cJSON_Delete(resp);
    char path[160];
    snprintf(path, sizeof path, "x,%s,", oocsi_handle(c1));
    cJSON_ReplaceItemInObjectCaseSensitive(req, "oocsi_spatial_routing_path", cJSON_CreateString(path));
    assert_int_equal(
        oocsi_call_and_wait(spy, oocsi_handle(c1), "oocsi_spatial_destination_request", req, IT_TIMEOUT, &resp),
        OOCSI_OK);
    assert_true((float)cJSON_GetNumberValue(
                    cJSON_GetObjectItemCaseSensitive(resp, "oocsi_spatial_destination_distance")) == FLT_MAX);
    cJSON_Delete(resp);
    cJSON_ReplaceItemInObjectCaseSensitive(req, "oocsi_spatial_destination_request", cJSON_CreateString("nobody_here"));
    /* the only neighbour (the spy) is on the path: not asked, no path */
    snprintf(path, sizeof path, "%s,", oocsi_handle(spy));
    cJSON_ReplaceItemInObjectCaseSensitive(req, "oocsi_spatial_routing_path", cJSON_CreateString(path));
    assert_int_equal(
        oocsi_call_and_wait(spy, oocsi_handle(c1), "oocsi_spatial_destination_request", req, IT_TIMEOUT, &resp),
        OOCSI_OK);
    assert_true((float)cJSON_GetNumberValue(
                    cJSON_GetObjectItemCaseSensitive(resp, "oocsi_spatial_destination_distance")) == FLT_MAX);
    cJSON_Delete(resp);
    cJSON_ReplaceItemInObjectCaseSensitive(req, "oocsi_spatial_routing_path", cJSON_CreateString("x,"));
    /* the spy is the only neighbour and does not answer: the member waits
     * out its budget (2000 - 100 ms) and knows no path */
    assert_int_equal(
        oocsi_call_and_wait(spy, oocsi_handle(c1), "oocsi_spatial_destination_request", req, IT_TIMEOUT + 2000, &resp),
        OOCSI_OK);
    assert_true((float)cJSON_GetNumberValue(
                    cJSON_GetObjectItemCaseSensitive(resp, "oocsi_spatial_destination_distance")) == FLT_MAX);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    oocsi_spatial_free(s1);
}

static void invalid_arguments(void **state)
{
    (void)state;
    char h[64];
    it_unique(h, sizeof h, "sp_inv");
    oocsi_client *c = it_connect_bg(h);
    assert_null(oocsi_spatial_new(NULL, "ch", "k", 1, 0, 0, 1));
    assert_non_null(strstr(oocsi_last_error(NULL), "c is NULL"));
    assert_null(oocsi_spatial_new(c, NULL, "k", 1, 0, 0, 1));
    assert_null(oocsi_spatial_new(c, "ch", "", 1, 0, 0, 1));
    assert_null(oocsi_spatial_new(c, "c h", "k", 1, 0, 0, 1));
    assert_null(oocsi_spatial_new(c, "ch", "k", 3, 0, 0, 1));
    assert_non_null(strstr(oocsi_last_error(NULL), "dimensions"));
    assert_null(oocsi_spatial_new(c, "ch", "k", 1, 0, 0, -1));
    assert_null(oocsi_spatial_new(c, "ch", "k", 1, NAN, 0, 1));
    assert_null(oocsi_spatial_new(c, "ch", "k", 2, 0, INFINITY, 1));
    assert_null(oocsi_spatial_new(c, "ch", "k", 1, 1e39, 0, 1));
    oocsi_spatial *s = oocsi_spatial_new(c, "ch_inv", "k", 1, 0, 0, 1);
    assert_non_null(s);
    assert_null(oocsi_spatial_new(c, "ch_other", "k", 1, 0, 0, 1)); /* one group per client */
    assert_non_null(strstr(oocsi_last_error(NULL), "already in a spatial group"));
    char *out = (char *)"x";
    cJSON *arr = (cJSON *)1;
    assert_int_equal(oocsi_spatial_set_position(NULL, 0, 0), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_set_position(s, NAN, 0), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_refresh(NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_position(NULL, "a", NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_position(s, NULL, NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_count(NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_neighbours(NULL, &arr), OOCSI_ERR_INVAL);
    assert_null(arr);
    assert_int_equal(oocsi_spatial_neighbours(s, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_closest(s, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_closest(NULL, &out), OOCSI_ERR_INVAL);
    assert_null(out);
    assert_int_equal(oocsi_spatial_next_hop(s, NULL, 0, &out), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_next_hop(s, "", 0, &out), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_next_hop(s, "a", -1, &out), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "timeout_ms"));
    assert_int_equal(oocsi_spatial_next_hop(s, "a", 0, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_spatial_count(s), 1);
    oocsi_spatial_free(s);
    oocsi_spatial_free(NULL);
    /* freed, the client may join another group */
    s = oocsi_spatial_new(c, "ch_other", "k", 1, 0, 0, 1);
    assert_non_null(s);
    oocsi_spatial_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(line_1d),    IT_TEST(line_2d),       IT_TEST(moving_and_leaving), IT_TEST(shortest_of_several_routes),
        IT_TEST(boundaries), IT_TEST(wire_messages), IT_TEST(invalid_arguments),
    };
    return cmocka_run_group_tests_name("integration.behaviors_spatial", tests, it_group_setup, it_group_teardown);
}
