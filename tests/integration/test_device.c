/*
 * Integration: heyOOCSI device descriptions as a listener on "heyOOCSI!"
 * receives them (see codecs/README.md).
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define EPS 1e-9

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        char *s = cJSON_PrintUnformatted(o);
        fail_msg("key \"%s\" missing in %s", key, s ? s : "(null)");
    }
    return v;
}

static void expect_str(const cJSON *o, const char *key, const char *value)
{
    const cJSON *v = get(o, key);
    if (!cJSON_IsString(v) || strcmp(v->valuestring, value) != 0)
        fail_msg("\"%s\" is not \"%s\"", key, value);
}

static void expect_num(const cJSON *o, const char *key, double value)
{
    const cJSON *v = get(o, key);
    if (!cJSON_IsNumber(v))
        fail_msg("\"%s\" is not a number", key);
    IT_ASSERT_NEAR(v->valuedouble, value, EPS);
}

static void expect_bool(const cJSON *o, const char *key, int value)
{
    const cJSON *v = get(o, key);
    if (!cJSON_IsBool(v))
        fail_msg("\"%s\" is not a boolean", key);
    assert_int_equal(cJSON_IsTrue(v) ? 1 : 0, value);
}

static void expect_pair(const cJSON *o, const char *key, double a, double b)
{
    const cJSON *v = get(o, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        fail_msg("\"%s\" is not a 2-element array", key);
    assert_true(cJSON_IsNumber(cJSON_GetArrayItem(v, 0)));
    assert_true(cJSON_IsNumber(cJSON_GetArrayItem(v, 1)));
    IT_ASSERT_NEAR(cJSON_GetArrayItem(v, 0)->valuedouble, a, EPS);
    IT_ASSERT_NEAR(cJSON_GetArrayItem(v, 1)->valuedouble, b, EPS);
}

static oocsi_client *listener(it_inbox *in)
{
    oocsi_client *l = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(l, "heyOOCSI!", it_inbox_handler, in), OOCSI_OK);
    return l;
}

static void test_full_description(void **state)
{
    (void)state;
    it_inbox *in = it_inbox_new();
    oocsi_client *l = listener(in);
    oocsi_client *d = it_connect_bg(NULL);
    char name[64];
    it_unique(name, sizeof name, "dev");
    oocsi_device *dev = oocsi_device_new(d, name);
    assert_non_null(dev);
    assert_int_equal(oocsi_device_add_property(dev, "creator", "liboocsi tests"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_location(dev, "home", 51.4416, 5.4697), OOCSI_OK);
    assert_int_equal(oocsi_device_add_sensor(dev, "temp", "temp_ch", "temperature", "C", 21.5, "thermometer"),
                     OOCSI_OK);
    assert_int_equal(oocsi_device_add_number(dev, "level", "level_ch", 0, 100, "%", 50, NULL), OOCSI_OK);
    assert_int_equal(oocsi_device_add_binary_sensor(dev, "door", "door_ch", "door", 1, "door"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_switch(dev, "plug", "plug_ch", 0, "power-plug"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_light(dev, "lamp", "lamp_ch", "RGB", "RGB", 1, 128, "lightbulb"), OOCSI_OK);
    char *expected_text = oocsi_device_to_json(dev);
    assert_non_null(expected_text);
    assert_int_equal(oocsi_device_submit(dev), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    const it_msg *m = it_inbox_at(in, 0);
    assert_string_equal(m->sender, oocsi_handle(d));
    assert_string_equal(m->recipient, "heyOOCSI!");
    /* What to_json says is what was sent. */
    cJSON *expected = it_json(expected_text);
    oocsi_free(expected_text);
    assert_true(it_json_equal(m->data, expected));
    cJSON_Delete(expected);

    /* One top-level key: the device name. */
    assert_int_equal(cJSON_GetArraySize(m->data), 1);
    const cJSON *desc = get(m->data, name);
    assert_true(cJSON_IsObject(desc));
    const cJSON *props = get(desc, "properties");
    expect_str(props, "device_id", oocsi_handle(d));
    expect_str(props, "creator", "liboocsi tests");
    const cJSON *loc = get(desc, "location");
    expect_pair(loc, "home", 51.4416, 5.4697);
    const cJSON *comps = get(desc, "components");
    assert_int_equal(cJSON_GetArraySize(comps), 5);

    const cJSON *c = get(comps, "temp");
    expect_str(c, "channel_name", "temp_ch");
    expect_str(c, "type", "sensor");
    expect_str(c, "icon", "thermometer");
    expect_str(c, "sensor_type", "temperature");
    expect_str(c, "unit", "C");
    expect_num(c, "value", 21.5);

    c = get(comps, "level");
    expect_str(c, "channel_name", "level_ch");
    expect_str(c, "type", "number");
    assert_true(cJSON_IsNull(get(c, "icon")));
    expect_str(c, "unit", "%");
    expect_pair(c, "min_max", 0, 100);
    expect_num(c, "value", 50);

    c = get(comps, "door");
    expect_str(c, "channel_name", "door_ch");
    expect_str(c, "type", "binary_sensor");
    expect_str(c, "icon", "door");
    expect_str(c, "sensor_type", "door");
    expect_bool(c, "state", 1);

    c = get(comps, "plug");
    expect_str(c, "channel_name", "plug_ch");
    expect_str(c, "type", "switch");
    expect_str(c, "icon", "power-plug");
    expect_bool(c, "state", 0);

    c = get(comps, "lamp");
    expect_str(c, "channel_name", "lamp_ch");
    expect_str(c, "type", "light");
    expect_str(c, "icon", "lightbulb");
    expect_str(c, "led_type", "RGB");
    expect_str(c, "ledType", "RGB");
    expect_str(c, "ledtype", "RGB"); /* the Java client's spelling */
    expect_str(c, "spectrum", "RGB");
    expect_bool(c, "state", 1);
    expect_num(c, "brightness", 128);

    oocsi_device_free(dev);
    (void)l;
}

static void test_default_name_and_minimal(void **state)
{
    (void)state;
    it_inbox *in = it_inbox_new();
    listener(in);
    oocsi_client *d = it_connect_bg(NULL);
    oocsi_device *dev = oocsi_device_new(d, NULL);
    assert_non_null(dev);
    assert_int_equal(oocsi_device_add_sensor(dev, "s", "s_ch", "humidity", NULL, 0, NULL), OOCSI_OK);
    assert_int_equal(oocsi_device_submit(dev), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    const it_msg *m = it_inbox_at(in, 0);
    const cJSON *desc = get(m->data, oocsi_handle(d));
    expect_str(get(desc, "properties"), "device_id", oocsi_handle(d));
    const cJSON *s = get(get(desc, "components"), "s");
    expect_str(s, "unit", "");
    assert_true(cJSON_IsNull(get(s, "icon")));
    /* Submitting again sends it again. */
    assert_int_equal(oocsi_device_submit(dev), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 2, IT_TIMEOUT), 1);
    assert_true(it_json_equal(it_inbox_at(in, 1)->data, m->data));
    oocsi_device_free(dev);
}

static void test_light_variants_and_invalid(void **state)
{
    (void)state;
    oocsi_client *d = it_connect(NULL);
    oocsi_device *dev = oocsi_device_new(d, "lights");
    assert_non_null(dev);
    const char *types[] = {"RGB", "RGBW", "RGBWW", "CCT", "DIMMABLE", "ONOFF"};
    const char *spectra[] = {"CCT", "WHITE", "RGB"};
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        assert_int_equal(oocsi_device_add_light(dev, name, "ch", types[i], spectra[i % 3], 0, 10 * i, NULL), OOCSI_OK);
    }
    assert_int_equal(oocsi_device_add_light(dev, "bad1", "ch", "RGBX", "RGB", 0, 0, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_device_add_light(dev, "bad2", "ch", "RGB", "UV", 0, 0, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_device_add_light(dev, "bad3", "ch", "", "RGB", 0, 0, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_device_add_light(dev, "bad4", "ch", NULL, "RGB", 0, 0, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_device_add_light(dev, "bad5", "ch", "RGB", NULL, 0, 0, NULL), OOCSI_ERR_INVAL);
    char *text = oocsi_device_to_json(dev);
    assert_non_null(text);
    cJSON *j = it_json(text);
    oocsi_free(text);
    const cJSON *comps = get(get(j, "lights"), "components");
    assert_int_equal(cJSON_GetArraySize(comps), 6);
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        const cJSON *l = get(comps, name);
        expect_str(l, "led_type", types[i]);
        expect_str(l, "ledType", types[i]);
        expect_str(l, "ledtype", types[i]);
        expect_str(l, "spectrum", spectra[i % 3]);
        expect_num(l, "brightness", 10 * i);
    }
    assert_null(cJSON_GetObjectItemCaseSensitive(comps, "bad1"));
    assert_null(cJSON_GetObjectItemCaseSensitive(comps, "bad2"));
    cJSON_Delete(j);
    oocsi_device_free(dev);
}

/* Several spectra, the mired range, the outlet; no "min_max": null. */
static void test_spectra_mireds_outlet(void **state)
{
    (void)state;
    oocsi_device *dev = oocsi_device_new(NULL, "kinds");
    assert_int_equal(oocsi_device_add_light_spectra(dev, "both", "both_ch", "RGBWW", "RGB,CCT", 150, 400, 1, 80, NULL),
                     OOCSI_OK);
    assert_int_equal(oocsi_device_add_light(dev, "rgb", "rgb_ch", "RGB", "RGB", 0, 0, NULL), OOCSI_OK);
    assert_int_equal(oocsi_device_add_outlet(dev, "plug", "plug_ch", 1, "power-socket"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_light_spectra(dev, "x", "x_ch", "RGB", "RGB,RGB", 150, 400, 0, 0, NULL),
                     OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "twice"));
    assert_int_equal(oocsi_device_add_light_spectra(dev, "x", "x_ch", "CCT", "CCT", 0, 400, 0, 0, NULL),
                     OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "mired"));
    assert_int_equal(oocsi_device_add_light(dev, "x", "x_ch", "RGB", "RGB,CCT", 0, 0, NULL), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "oocsi_device_add_light_spectra"));
    char *text = oocsi_device_to_json(dev);
    cJSON *j = cJSON_Parse(text);
    oocsi_free(text);
    const cJSON *comps = get(get(j, "kinds"), "components");
    const cJSON *both = get(comps, "both");
    const cJSON *sp = get(both, "spectrum");
    assert_true(cJSON_IsArray(sp) && cJSON_GetArraySize(sp) == 2);
    assert_string_equal(cJSON_GetArrayItem(sp, 0)->valuestring, "RGB");
    assert_string_equal(cJSON_GetArrayItem(sp, 1)->valuestring, "CCT");
    expect_pair(both, "min_max", 150, 400);
    assert_null(cJSON_GetObjectItemCaseSensitive(get(comps, "rgb"), "min_max"));
    expect_str(get(comps, "plug"), "type", "switch");
    expect_str(get(comps, "plug"), "sensor_type", "outlet");
    assert_null(cJSON_GetObjectItemCaseSensitive(comps, "x"));
    cJSON_Delete(j);
    oocsi_device_free(dev);
}

/* Commands in Home Assistant's shapes reach the application and the
 * description; a device's own updates (with "component") are not commands. */
typedef struct cmds {
    pthread_mutex_t lock;
    int n;
    char component[8][32];
    char json[8][160];
} cmds;

static void on_cmd(oocsi_device *d, const char *component, const cJSON *command, void *user)
{
    (void)d;
    cmds *c = user;
    char *j = cJSON_PrintUnformatted(command);
    pthread_mutex_lock(&c->lock);
    if (c->n < 8) {
        snprintf(c->component[c->n], sizeof c->component[0], "%s", component);
        snprintf(c->json[c->n], sizeof c->json[0], "%s", j ? j : "");
        c->n++;
    }
    pthread_mutex_unlock(&c->lock);
    cJSON_free(j);
    it_notify();
}

static int cmds_at_least(void *ctx)
{
    cmds *c = ctx;
    pthread_mutex_lock(&c->lock);
    int n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n >= 3;
}

static void test_commands_and_updates(void **state)
{
    (void)state;
    char sw[64], lamp[64];
    it_unique(sw, sizeof sw, "cmd_sw");
    it_unique(lamp, sizeof lamp, "cmd_lamp");
    oocsi_client *dc = it_connect_bg(NULL);
    oocsi_device *dev = oocsi_device_new(dc, NULL);
    assert_int_equal(oocsi_device_add_outlet(dev, "plug", sw, 0, NULL), OOCSI_OK);
    static cmds got;
    memset(&got, 0, sizeof got);
    pthread_mutex_init(&got.lock, NULL);
    assert_int_equal(oocsi_device_on_command(dev, on_cmd, &got), OOCSI_OK);
    /* added after on_command: listened to as well; two lights on one channel */
    assert_int_equal(oocsi_device_add_light_spectra(dev, "lamp", lamp, "RGB", "RGB", 0, 0, 0, 0, NULL), OOCSI_OK);
    assert_int_equal(oocsi_device_add_light(dev, "spot", lamp, "DIMMABLE", "WHITE", 0, 0, NULL), OOCSI_OK);
    assert_int_equal(it_wait_subscribed(it_hub, oocsi_handle(dc), lamp, IT_TIMEOUT), 1);
    assert_int_equal(it_wait_subscribed(it_hub, oocsi_handle(dc), sw, IT_TIMEOUT), 1);

    oocsi_client *ha = it_connect(NULL);
    /* a device's update, not a command */
    assert_int_equal(oocsi_send_json(ha, sw, "{\"state\":true,\"component\":\"plug\"}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(ha, sw, "{\"state\":true}"), OOCSI_OK);
    /* the Java form picks one component of the channel */
    assert_int_equal(oocsi_send_json(ha, lamp,
                                     "{\"clientHandle\":\"lamp\",\"state\":true,\"brightness\":120,"
                                     "\"colorrgb\":[255,0,0]}"),
                     OOCSI_OK);
    assert_int_equal(oocsi_send_json(ha, lamp, "{\"clientHandle\":\"spot\",\"state\":false}"), OOCSI_OK);
    assert_true(it_wait_until(cmds_at_least, &got, IT_TIMEOUT));
    pthread_mutex_lock(&got.lock);
    int n = got.n;
    pthread_mutex_unlock(&got.lock);
    assert_int_equal(n, 3);
    assert_string_equal(got.component[0], "plug");
    assert_string_equal(got.json[0], "{\"state\":true}");
    assert_string_equal(got.component[1], "lamp");
    assert_string_equal(got.component[2], "spot");
    char *text = oocsi_device_to_json(dev);
    cJSON *j = cJSON_Parse(text);
    oocsi_free(text);
    const cJSON *comps = get(get(j, oocsi_handle(dc)), "components");
    expect_bool(get(comps, "plug"), "state", 1);
    expect_bool(get(comps, "lamp"), "state", 1);
    expect_num(get(comps, "lamp"), "brightness", 120);
    expect_bool(get(comps, "spot"), "state", 0);
    expect_num(get(comps, "spot"), "brightness", 0);
    cJSON_Delete(j);

    /* Publishing: the Java/ESP shape, kept in the description. */
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(ha, lamp, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_device_set_state(dev, "lamp", 0), OOCSI_OK);
    assert_int_equal(oocsi_device_publish(dev, "lamp", "{\"brightness\":7}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 2, IT_TIMEOUT), 1);
    IT_ASSERT_JSON(it_inbox_at(in, 0)->data, "{\"state\":false,\"component\":\"lamp\"}");
    IT_ASSERT_JSON(it_inbox_at(in, 1)->data, "{\"brightness\":7,\"component\":\"lamp\"}");
    assert_int_equal(oocsi_device_set_value(dev, "nothing", 1), OOCSI_ERR_NOT_FOUND);
    assert_int_equal(oocsi_device_publish(dev, "lamp", "[1]"), OOCSI_ERR_INVAL);
    oocsi_device_free(dev);
    pthread_mutex_destroy(&got.lock);
}

/* Home Assistant's "heyOOCSI?" {"homeassistant": "on"}: the device
 * announces itself again. */
static void test_heyoocsi_question(void **state)
{
    (void)state;
    it_inbox *in = it_inbox_new();
    listener(in);
    oocsi_client *dc = it_connect_bg(NULL);
    oocsi_device *dev = oocsi_device_new(dc, NULL);
    assert_int_equal(oocsi_device_add_switch(dev, "sw", "hq_sw", 0, NULL), OOCSI_OK);
    assert_int_equal(oocsi_device_submit(dev), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    int before = it_inbox_count(in);
    oocsi_client *ha = it_connect(NULL);
    assert_int_equal(oocsi_send_json(ha, "heyOOCSI?", "{\"homeassistant\":\"on\"}"), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, before + 1, IT_TIMEOUT), 1);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, before)->data, oocsi_handle(dc)));
    oocsi_device_free(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_full_description),           IT_TEST(test_default_name_and_minimal),
        IT_TEST(test_light_variants_and_invalid), IT_TEST(test_spectra_mireds_outlet),
        IT_TEST(test_commands_and_updates),       IT_TEST(test_heyoocsi_question),
    };
    return cmocka_run_group_tests_name("integration.device", tests, it_group_setup, it_group_teardown);
}
