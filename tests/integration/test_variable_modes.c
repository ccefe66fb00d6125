/*
 * Integration: how a variable publishes, over the hub. The two modes of
 * oocsi_variable_set_mode() (the Python client's raw value, the Java
 * client's filtered value with a "handle" key, and the Java order of the
 * sigma rule), and the outgoing throttle of oocsi_variable_throttle(). A spy
 * client records what goes over the wire.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define EPS 1e-9

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

/* A spy on a fresh channel: its inbox gets everything published there. */
static it_inbox *spy_on(char *channel, size_t size, const char *prefix)
{
    it_unique(channel, size, prefix);
    it_inbox *wire = it_inbox_new();
    oocsi_client *spy = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(spy, channel, it_inbox_handler, wire), OOCSI_OK);
    return wire;
}

/* The i-th message on the wire, waited for. */
static const cJSON *wire_at(it_inbox *wire, int i)
{
    if (!it_inbox_wait(wire, i + 1, IT_TIMEOUT))
        fail_msg("message %d did not arrive (%d so far)", i, it_inbox_count(wire));
    return it_inbox_at(wire, i)->data;
}

static double num(const cJSON *data, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(data, key);
    if (!cJSON_IsNumber(it))
        fail_msg("no number under \"%s\"", key);
    return it->valuedouble;
}

/* Python mode (the default): the raw value, no other key. Java mode: the
 * clamped value and "handle": "<handle>_<n>". */
static void test_publish_modes(void **state)
{
    (void)state;
    char ch[64];
    it_inbox *wire = spy_on(ch, sizeof ch, "varMode");
    oocsi_client *c = it_connect_bg(NULL);
    oocsi_variable *py = var(c, ch, "x");
    oocsi_variable *java = var(c, ch, "x");
    assert_int_equal(oocsi_variable_set_mode(java, OOCSI_VARIABLE_JAVA), OOCSI_OK);
    for (int i = 0; i < 2; i++) {
        oocsi_variable *v = i ? java : py;
        assert_int_equal(oocsi_variable_min(v, 2), OOCSI_OK);
        assert_int_equal(oocsi_variable_max(v, 6), OOCSI_OK);
    }
    set(py, 1);
    IT_ASSERT_NEAR(oocsi_variable_get(py), 2, EPS);
    IT_ASSERT_JSON(wire_at(wire, 0), "{\"x\":1}");
    set(java, 10.5);
    IT_ASSERT_NEAR(oocsi_variable_get(java), 6, EPS);
    const cJSON *d = wire_at(wire, 1);
    IT_ASSERT_NEAR(num(d, "x"), 6, EPS);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "handle");
    assert_true(cJSON_IsString(h));
    size_t hl = strlen(oocsi_handle(c));
    assert_int_equal(strncmp(h->valuestring, oocsi_handle(c), hl), 0);
    assert_int_equal(h->valuestring[hl], '_');
    assert_true(strspn(h->valuestring + hl + 1, "0123456789") == strlen(h->valuestring + hl + 1));
    assert_true(h->valuestring[hl + 1] != '\0');
    assert_int_equal(cJSON_GetArraySize(d), 2);
    /* Booleans and text carry the handle too; back to Python drops it. */
    assert_int_equal(oocsi_variable_set_bool(java, 1), OOCSI_OK);
    assert_true(cJSON_HasObjectItem(wire_at(wire, 2), "handle"));
    assert_int_equal(oocsi_variable_set_string(java, "t"), OOCSI_OK);
    d = wire_at(wire, 3);
    assert_true(cJSON_HasObjectItem(d, "handle"));
    assert_int_equal(oocsi_variable_set_mode(java, OOCSI_VARIABLE_PYTHON), OOCSI_OK);
    set(java, 10.5);
    IT_ASSERT_JSON(wire_at(wire, 4), "{\"x\":10.5}");
    /* Each variable has its own number. */
    oocsi_variable *other = var(c, ch, "y");
    assert_int_equal(oocsi_variable_set_mode(other, OOCSI_VARIABLE_JAVA), OOCSI_OK);
    assert_int_equal(oocsi_variable_set_mode(java, OOCSI_VARIABLE_JAVA), OOCSI_OK);
    set(other, 1);
    set(java, 1);
    const cJSON *h1 = cJSON_GetObjectItemCaseSensitive(wire_at(wire, 5), "handle");
    const cJSON *h2 = cJSON_GetObjectItemCaseSensitive(wire_at(wire, 6), "handle");
    assert_true(cJSON_IsString(h1) && cJSON_IsString(h2));
    assert_string_not_equal(h1->valuestring, h2->valuestring);
    oocsi_variable_free(py);
    oocsi_variable_free(java);
    oocsi_variable_free(other);
}

static int is_4_5(void *v)
{
    return oocsi_variable_get(v) == 4.5;
}

static int is_3_5(void *v)
{
    return oocsi_variable_get(v) == 3.5;
}

/* The Java order of the filter: max 5, smooth(2, sigma 1); 3 then 10. Java:
 * 10 is clamped to 5, then the sigma rule makes it 3 + 1 = 4 (published 4,
 * window [3, 4], mean 3.5). Python: clamped, no sigma rule, published raw
 * 10. A receiver with the same settings and mode agrees with the sender. */
static void test_java_sigma_after_clamp(void **state)
{
    (void)state;
    char ch[64];
    it_inbox *wire = spy_on(ch, sizeof ch, "varSigma");
    oocsi_client *a = it_connect_bg(NULL), *b = it_connect_bg(NULL);
    oocsi_variable *va[2], *vb[2];
    const char *keys[2] = {"py", "java"};
    for (int i = 0; i < 2; i++) {
        va[i] = var(a, ch, keys[i]);
        vb[i] = var(b, ch, keys[i]);
        oocsi_variable *both[2] = {va[i], vb[i]};
        for (int j = 0; j < 2; j++) {
            if (i)
                assert_int_equal(oocsi_variable_set_mode(both[j], OOCSI_VARIABLE_JAVA), OOCSI_OK);
            assert_int_equal(oocsi_variable_max(both[j], 5), OOCSI_OK);
            assert_int_equal(oocsi_variable_smooth(both[j], 2, 1), OOCSI_OK);
        }
    }
    set(va[0], 3);
    set(va[1], 3);
    set(va[0], 10);
    set(va[1], 10);
    IT_ASSERT_NEAR(num(wire_at(wire, 2), "py"), 10, EPS);
    IT_ASSERT_NEAR(num(wire_at(wire, 3), "java"), 4, EPS);
    /* Python: the max made the value 5, so 3 met the sigma rule (5 - 1 = 4):
     * [4], then 10 clamped to 5 without it: [4, 5]. Java: no mean before the
     * window has values: [3], then [3, 4]. */
    IT_ASSERT_NEAR(oocsi_variable_get(va[0]), 4.5, EPS);
    IT_ASSERT_NEAR(oocsi_variable_get(va[1]), 3.5, EPS);
    /* The receivers, with the same settings, end where the senders are. */
    assert_true(it_wait_until(is_4_5, vb[0], IT_TIMEOUT));
    assert_true(it_wait_until(is_3_5, vb[1], IT_TIMEOUT));
    for (int i = 0; i < 2; i++) {
        oocsi_variable_free(va[i]);
        oocsi_variable_free(vb[i]);
    }
}

static void test_mode_arguments(void **state)
{
    (void)state;
    oocsi_client *c = it_connect_bg(NULL);
    oocsi_variable *v = var(c, "varModeArgs", "k");
    assert_int_equal(oocsi_variable_set_mode(NULL, OOCSI_VARIABLE_JAVA), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "v is NULL"));
    assert_int_equal(oocsi_variable_set_mode(v, (oocsi_variable_mode)7), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "got 7"));
    assert_int_equal(oocsi_variable_throttle(NULL, 10), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_variable_throttle(v, -1), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "period_ms"));
    assert_int_equal(oocsi_variable_throttle(v, 0), OOCSI_OK);
    oocsi_variable_free(v);
}

/* Throttle: the first set goes out at once; sets within the period change
 * the value at once but only the latest of them is sent, when the period
 * ends, no earlier than period after the first publication. */
static void test_throttle(void **state)
{
    (void)state;
    char ch[64];
    it_inbox *wire = spy_on(ch, sizeof ch, "varThrottle");
    oocsi_client *c = it_connect_bg(NULL);
    oocsi_variable *v = var(c, ch, "t");
    const int period = 1500;
    assert_int_equal(oocsi_variable_throttle(v, period), OOCSI_OK);
    int64_t start = it_now_ms();
    for (int i = 1; i <= 5; i++) {
        set(v, i);
        IT_ASSERT_NEAR(oocsi_variable_get(v), i, EPS); /* the value changes at once */
    }
    IT_ASSERT_NEAR(num(wire_at(wire, 0), "t"), 1, EPS);
    /* The publication of 5: messages of one connection stay in order, so any
     * of 2, 3, 4 sent would have come before it. */
    const cJSON *second = wire_at(wire, 1);
    int64_t arrived = it_now_ms();
    IT_ASSERT_NEAR(num(second, "t"), 5, EPS);
    assert_int_equal(it_inbox_count(wire), 2);
    if (arrived - start < period)
        fail_msg("the held value came %lld ms after the first set, within the %d ms period",
                 (long long)(arrived - start), period);
    /* Switching the throttle off sends what it holds at once. */
    set(v, 6);
    set(v, 7); /* held (6 either went out, or is held and replaced) */
    assert_int_equal(oocsi_variable_throttle(v, 0), OOCSI_OK);
    assert_int_equal(oocsi_send_json(c, ch, "{\"end\":\"a\"}"), OOCSI_OK);
    int end = it_inbox_wait_str(wire, "end", "a", IT_TIMEOUT);
    assert_true(end >= 3);
    IT_ASSERT_NEAR(num(it_inbox_at(wire, end - 1)->data, "t"), 7, EPS);
    /* Unthrottled again: every set is sent. */
    set(v, 8);
    set(v, 9);
    assert_int_equal(oocsi_send_json(c, ch, "{\"end\":\"b\"}"), OOCSI_OK);
    int end2 = it_inbox_wait_str(wire, "end", "b", IT_TIMEOUT);
    assert_int_equal(end2, end + 3);
    IT_ASSERT_NEAR(num(it_inbox_at(wire, end + 1)->data, "t"), 8, EPS);
    IT_ASSERT_NEAR(num(it_inbox_at(wire, end + 2)->data, "t"), 9, EPS);
    oocsi_variable_free(v);
}

/* A held value goes out when the variable is freed; a throttled text and
 * boolean variable, and a Java-mode one (the held value keeps its handle). */
static void test_throttle_free_and_types(void **state)
{
    (void)state;
    char ch[64];
    it_inbox *wire = spy_on(ch, sizeof ch, "varThrottleFree");
    oocsi_client *c = it_connect_bg(NULL);
    oocsi_variable *v = var(c, ch, "s");
    assert_int_equal(oocsi_variable_set_mode(v, OOCSI_VARIABLE_JAVA), OOCSI_OK);
    assert_int_equal(oocsi_variable_throttle(v, 60000), OOCSI_OK);
    assert_int_equal(oocsi_variable_set_string(v, "first"), OOCSI_OK);
    assert_int_equal(oocsi_variable_set_string(v, "second"), OOCSI_OK);
    assert_int_equal(oocsi_variable_set_bool(v, 1), OOCSI_OK);
    assert_int_equal(oocsi_variable_set_string(v, "last"), OOCSI_OK);
    assert_string_equal(oocsi_variable_get_string(v), "last");
    const cJSON *d = wire_at(wire, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "s")->valuestring, "first");
    oocsi_variable_free(v);
    d = wire_at(wire, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "s")->valuestring, "last");
    assert_true(cJSON_HasObjectItem(d, "handle"));
    assert_int_equal(oocsi_send_json(c, ch, "{\"end\":\"c\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait_str(wire, "end", "c", IT_TIMEOUT), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_publish_modes), IT_TEST(test_java_sigma_after_clamp),  IT_TEST(test_mode_arguments),
        IT_TEST(test_throttle),      IT_TEST(test_throttle_free_and_types),
    };
    return cmocka_run_group_tests_name("integration.variable_modes", tests, it_group_setup, it_group_teardown);
}
