/*
 * heyOOCSI device descriptions (codecs/README.md shows the shape): one message to channel
 * "heyOOCSI!" whose single key is the device name.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/codec.h"
#include "oocsi/oocsi.h"

struct oocsi_device {
    oocsi_client *c;
    char *name;
    pthread_mutex_t mu; /* the description: commands update it from the loop */
    cJSON *properties;
    cJSON *components;
    cJSON *location;
    oocsi_device_command_fn cmd_fn;
    void *cmd_user;
    int hey_attached; /* answers "heyOOCSI?" */
};

static void on_component_message(oocsi_client *c, const oocsi_message *m, void *user);
static void on_hey(oocsi_client *c, const oocsi_message *m, void *user);

oocsi_device *oocsi_device_new(oocsi_client *c, const char *name)
{
    if (!name && !c) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_new: name is NULL and so is c (the name defaults to c's handle)");
        return NULL;
    }
    const char *n = name ? name : oocsi_handle(c);
    if (!n || !*n) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_new: name is %s", name ? "empty" : "NULL and c has no handle");
        return NULL;
    }
    oocsi_device *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->c = c;
    pthread_mutex_init(&d->mu, NULL);
    d->name = strdup(n);
    d->properties = cJSON_CreateObject();
    d->components = cJSON_CreateObject();
    d->location = cJSON_CreateObject();
    const char *id = c ? oocsi_handle(c) : n;
    if (!d->name || !d->properties || !d->components || !d->location ||
        !cJSON_AddStringToObject(d->properties, "device_id", id)) {
        oocsi_device_free(d);
        return NULL;
    }
    return d;
}

void oocsi_device_free(oocsi_device *d)
{
    if (!d)
        return;
    if (d->c && d->components) {
        /* After this no handler runs for d (its client may be closed already:
         * then there is nothing to leave). */
        const cJSON *comp;
        if (d->cmd_fn)
            cJSON_ArrayForEach(comp, d->components)
            {
                const cJSON *ch = cJSON_GetObjectItemCaseSensitive(comp, "channel_name");
                if (cJSON_IsString(ch))
                    oocsi_unsubscribe_handler(d->c, ch->valuestring, on_component_message, d);
            }
        if (d->hey_attached)
            oocsi_unsubscribe_handler(d->c, "heyOOCSI?", on_hey, d);
    }
    pthread_mutex_destroy(&d->mu);
    free(d->name);
    cJSON_Delete(d->properties);
    cJSON_Delete(d->components);
    cJSON_Delete(d->location);
    free(d);
}

/* Replaces key in obj by item (taking it). */
static int put(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return OOCSI_ERR_NOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return OOCSI_ERR_NOMEM;
    }
    return OOCSI_OK;
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

int oocsi_device_add_property(oocsi_device *d, const char *key, const char *value)
{
    if (!d || !key || !*key || !value)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_add_property: %s",
                          !d      ? "d is NULL"
                          : !key  ? "key is NULL"
                          : !*key ? "key is empty"
                                  : "value is NULL");
    pthread_mutex_lock(&d->mu);
    int rc = put(d->properties, key, cJSON_CreateString(value));
    pthread_mutex_unlock(&d->mu);
    return rc;
}

int oocsi_device_add_location(oocsi_device *d, const char *name, double lat, double lon)
{
    if (!d || !name || !*name)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_add_location: %s",
                          !d      ? "d is NULL"
                          : !name ? "name is NULL"
                                  : "name is empty");
    if (!isfinite(lat) || !isfinite(lon))
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_add_location: %s must be a finite number (got %g)",
                          isfinite(lat) ? "lon" : "lat", isfinite(lat) ? lon : lat);
    double ll[2] = {lat, lon};
    pthread_mutex_lock(&d->mu);
    int rc = put(d->location, name, cJSON_CreateDoubleArray(ll, 2));
    pthread_mutex_unlock(&d->mu);
    return rc;
}

/* A component object with the common fields. */
static cJSON *component(const char *channel, const char *type)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "channel_name", channel) || !cJSON_AddStringToObject(o, "type", type)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int finish(oocsi_device *d, const char *name, cJSON *o, const char *icon, int ok)
{
    if (!o)
        return OOCSI_ERR_NOMEM;
    cJSON *ic = str_or_null(icon);
    if (!ok || !ic || !cJSON_AddItemToObject(o, "icon", ic)) {
        if (ic && !cJSON_GetObjectItemCaseSensitive(o, "icon"))
            cJSON_Delete(ic);
        cJSON_Delete(o);
        return OOCSI_ERR_NOMEM;
    }
    char *channel = strdup(cJSON_GetObjectItemCaseSensitive(o, "channel_name")->valuestring);
    if (!channel) {
        cJSON_Delete(o);
        return OOCSI_ERR_NOMEM;
    }
    pthread_mutex_lock(&d->mu);
    int rc = put(d->components, name, o);
    int listen = rc == OOCSI_OK && d->cmd_fn && d->c;
    pthread_mutex_unlock(&d->mu);
    if (listen)
        rc = oocsi_attach(d->c, channel, on_component_message, d);
    free(channel);
    return rc;
}

/* The checks common to the components: OOCSI_OK, or OOCSI_ERR_INVAL with the
 * detail recorded for function fn. */
static int check_names(const char *fn, oocsi_device *d, const char *name, const char *channel)
{
    if (!d)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: d is NULL", fn);
    if (!name || !*name)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: name is %s", fn, name ? "empty" : "NULL");
    if (!channel || !*channel)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: channel is %s", fn, channel ? "empty" : "NULL");
    for (const char *p = channel; *p; p++)
        if ((unsigned char)*p <= 0x20)
            return oocsi_fail(OOCSI_ERR_INVAL,
                              "%s: channel \"%s\" contains a space or a control character (names travel unquoted on "
                              "the line protocol)",
                              fn, channel);
    return OOCSI_OK;
}

/* "<fn>: <arg> must be a finite number (got <v>)"; returns OOCSI_ERR_INVAL. */
static int not_finite(const char *fn, const char *arg, double v)
{
    return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s must be a finite number (got %g)", fn, arg, v);
}

int oocsi_device_add_sensor(oocsi_device *d, const char *name, const char *channel, const char *sensor_type,
                            const char *unit, double default_value, const char *icon)
{
    if (check_names(__func__, d, name, channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    if (!sensor_type)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: sensor_type is NULL", __func__);
    if (!isfinite(default_value))
        return not_finite(__func__, "default_value", default_value);
    cJSON *o = component(channel, "sensor");
    int ok = o && cJSON_AddStringToObject(o, "sensor_type", sensor_type) &&
             cJSON_AddStringToObject(o, "unit", unit ? unit : "") &&
             cJSON_AddNumberToObject(o, "value", default_value) && cJSON_AddStringToObject(o, "mode", "auto") &&
             cJSON_AddNullToObject(o, "step");
    return finish(d, name, o, icon, ok);
}

int oocsi_device_add_number(oocsi_device *d, const char *name, const char *channel, double min, double max,
                            const char *unit, double default_value, const char *icon)
{
    if (check_names(__func__, d, name, channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    if (!isfinite(min))
        return not_finite(__func__, "min", min);
    if (!isfinite(max))
        return not_finite(__func__, "max", max);
    if (min > max)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: min must be <= max (got %g > %g)", __func__, min, max);
    if (!isfinite(default_value))
        return not_finite(__func__, "default_value", default_value);
    cJSON *o = component(channel, "number");
    double mm[2] = {min, max};
    cJSON *arr = cJSON_CreateDoubleArray(mm, 2);
    int ok = o && arr && cJSON_AddItemToObject(o, "min_max", arr);
    if (!ok)
        cJSON_Delete(arr);
    ok = ok && cJSON_AddStringToObject(o, "unit", unit ? unit : "") &&
         cJSON_AddNumberToObject(o, "value", default_value);
    return finish(d, name, o, icon, ok);
}

int oocsi_device_add_binary_sensor(oocsi_device *d, const char *name, const char *channel, const char *sensor_type,
                                   int default_state, const char *icon)
{
    if (check_names(__func__, d, name, channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    if (!sensor_type)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: sensor_type is NULL", __func__);
    cJSON *o = component(channel, "binary_sensor");
    int ok = o && cJSON_AddStringToObject(o, "sensor_type", sensor_type) &&
             cJSON_AddBoolToObject(o, "state", default_state != 0);
    return finish(d, name, o, icon, ok);
}

static int add_switch(const char *fn, oocsi_device *d, const char *name, const char *channel, const char *kind,
                      int default_state, const char *icon)
{
    if (check_names(fn, d, name, channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    cJSON *o = component(channel, "switch");
    int ok =
        o && cJSON_AddStringToObject(o, "sensor_type", kind) && cJSON_AddBoolToObject(o, "state", default_state != 0);
    return finish(d, name, o, icon, ok);
}

int oocsi_device_add_switch(oocsi_device *d, const char *name, const char *channel, int default_state, const char *icon)
{
    return add_switch(__func__, d, name, channel, "switch", default_state, icon);
}

int oocsi_device_add_outlet(oocsi_device *d, const char *name, const char *channel, int default_state, const char *icon)
{
    return add_switch(__func__, d, name, channel, "outlet", default_state, icon);
}

static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* A light: led_type, one or more spectra ("RGB", "RGB,CCT"), a mired range
 * when CCT is among them. */
static int add_light(const char *fn, oocsi_device *d, const char *name, const char *channel, const char *led_type,
                     const char *spectra, int mired_min, int mired_max, int default_state, int default_brightness,
                     const char *icon)
{
    static const char *const led_types[] = {"RGB", "RGBW", "RGBWW", "CCT", "DIMMABLE", "ONOFF", NULL};
    static const char *const known[] = {"CCT", "WHITE", "RGB", NULL};
    if (check_names(fn, d, name, channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    if (!led_type || !spectra)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is NULL", fn, led_type ? "spectrum" : "led_type");
    if (!one_of(led_type, led_types))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: led_type \"%s\" is not one of RGB, RGBW, RGBWW, CCT, DIMMABLE, ONOFF",
                          fn, led_type);
    const char *list[4];
    char buf[64];
    int n = 0, cct = 0;
    if (strlen(spectra) >= sizeof buf)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: spectrum \"%.40s...\" is too long", fn, spectra);
    strcpy(buf, spectra);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!one_of(t, known) || n == 3)
            return oocsi_fail(OOCSI_ERR_INVAL,
                              "%s: spectrum \"%s\" is not one of CCT, WHITE, RGB (or several of them, "
                              "comma-separated, each once)",
                              fn, spectra);
        for (int i = 0; i < n; i++)
            if (strcmp(list[i], t) == 0)
                return oocsi_fail(OOCSI_ERR_INVAL, "%s: spectrum \"%s\" names %s twice", fn, spectra, t);
        cct |= strcmp(t, "CCT") == 0;
        list[n++] = t;
    }
    if (n == 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: spectrum is empty", fn);
    if (default_brightness < 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: default_brightness must be >= 0 (got %d)", fn, default_brightness);
    if (cct && (mired_min <= 0 || mired_max <= mired_min))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: the mired range must satisfy 0 < min < max (got %d..%d)", fn, mired_min,
                          mired_max);
    cJSON *o = component(channel, "light");
    /* HomeAssistant reads led_type; the Python and Node clients write ledType,
     * the Java client ledtype: all three, so each reader finds its own. */
    int ok = o && cJSON_AddStringToObject(o, "led_type", led_type) && cJSON_AddStringToObject(o, "ledType", led_type) &&
             cJSON_AddStringToObject(o, "ledtype", led_type);
    if (ok)
        ok = n == 1 ? cJSON_AddStringToObject(o, "spectrum", list[0]) != NULL
                    : cJSON_AddItemToObject(o, "spectrum", cJSON_CreateStringArray(list, n));
    if (ok && cct) { /* HomeAssistant reads the pair only for CCT; no null anywhere */
        int mm[2] = {mired_min, mired_max};
        cJSON *arr = cJSON_CreateIntArray(mm, 2);
        ok = arr && cJSON_AddItemToObject(o, "min_max", arr);
        if (!ok)
            cJSON_Delete(arr);
    }
    ok = ok && cJSON_AddBoolToObject(o, "state", default_state != 0) &&
         cJSON_AddNumberToObject(o, "brightness", default_brightness);
    return finish(d, name, o, icon, ok);
}

int oocsi_device_add_light(oocsi_device *d, const char *name, const char *channel, const char *led_type,
                           const char *spectrum, int default_state, int default_brightness, const char *icon)
{
    if (spectrum && strchr(spectrum, ','))
        return oocsi_fail(OOCSI_ERR_INVAL,
                          "%s: spectrum \"%s\" names several: use oocsi_device_add_light_spectra() for that", __func__,
                          spectrum);
    return add_light(__func__, d, name, channel, led_type, spectrum, 153, 500, default_state, default_brightness, icon);
}

int oocsi_device_add_light_spectra(oocsi_device *d, const char *name, const char *channel, const char *led_type,
                                   const char *spectra, int mired_min, int mired_max, int default_state,
                                   int default_brightness, const char *icon)
{
    return add_light(__func__, d, name, channel, led_type, spectra, mired_min, mired_max, default_state,
                     default_brightness, icon);
}

static cJSON *build(const oocsi_device *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *body = cJSON_CreateObject();
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    cJSON *p = cJSON_Duplicate(d->properties, 1);
    cJSON *c = cJSON_Duplicate(d->components, 1);
    cJSON *l = cJSON_Duplicate(d->location, 1);
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    if (!root || !body || !p || !c || !l) {
        cJSON_Delete(root);
        cJSON_Delete(body);
        cJSON_Delete(p);
        cJSON_Delete(c);
        cJSON_Delete(l);
        return NULL;
    }
    cJSON_AddItemToObject(body, "properties", p);
    cJSON_AddItemToObject(body, "components", c);
    cJSON_AddItemToObject(body, "location", l);
    cJSON_AddItemToObject(root, d->name, body);
    return root;
}

char *oocsi_device_to_json(const oocsi_device *d)
{
    if (!d) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_to_json: d is NULL");
        return NULL;
    }
    cJSON *root = build(d);
    if (!root)
        return NULL;
    size_t len;
    int err = OOCSI_OK;
    char *text = oocsi_json_ascii(root, &len, &err);
    cJSON_Delete(root);
    return text;
}

int oocsi_device_submit(oocsi_device *d)
{
    if (!d || !d->c)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_submit: d %s",
                          d ? "has no client (it was made with "
                              "oocsi_device_new(NULL, name))"
                            : "is NULL");
    cJSON *root = build(d);
    if (!root)
        return OOCSI_ERR_NOMEM;
    int rc = oocsi_send(d->c, "heyOOCSI!", root);
    cJSON_Delete(root);
    if (rc == OOCSI_OK && !d->hey_attached && oocsi_attach(d->c, "heyOOCSI?", on_hey, d) == OOCSI_OK)
        d->hey_attached = 1; /* Home Assistant asks again when it starts */
    return rc;
}

/* "heyOOCSI?" {"homeassistant": "on"}: Home Assistant (re)started and wants
 * every device's description again. */
static void on_hey(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    const char *v = oocsi_message_get_string(m, "homeassistant");
    if (v && strcmp(v, "on") == 0)
        oocsi_device_submit(user);
}

/* Keys of a command that update a component's description. */
static const char *const command_keys[] = {"state",           "value",      "brightness", "colorrgb",       "colorrgbw",
                                           "colorrgbww",      "color_temp", "colorTemp",  "colorTempInRGB", "white",
                                           "brightnessWhite", "effect",     NULL};

/* A message on a component's channel without "component" (that key marks a
 * device's own update) is a command: Home Assistant's {"state": true,
 * "brightness": 120}, {"value": 3}, ... (the Java form names the component
 * in "clientHandle"). The description takes the new values, then the
 * application's handler runs once per component addressed. */
static void on_component_message(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    oocsi_device *d = user;
    const cJSON *data = oocsi_message_data(m);
    const char *channel = oocsi_message_recipient(m);
    if (!data || !channel || cJSON_GetObjectItemCaseSensitive(data, "component"))
        return;
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(data, "clientHandle");
    char *names[16];
    int n = 0;
    pthread_mutex_lock(&d->mu);
    oocsi_device_command_fn fn = d->cmd_fn;
    void *fn_user = d->cmd_user;
    cJSON *comp;
    cJSON_ArrayForEach(comp, d->components)
    {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(comp, "channel_name");
        if (!cJSON_IsString(ch) || strcmp(ch->valuestring, channel) != 0 || n == 16)
            continue;
        if (target && !(cJSON_IsString(target) && strcmp(target->valuestring, comp->string) == 0))
            continue;
        for (const char *const *k = command_keys; *k; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, *k);
            if (v)
                put(comp, *k, cJSON_Duplicate(v, 1));
        }
        names[n] = strdup(comp->string);
        if (names[n])
            n++;
    }
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < n; i++) {
        if (fn)
            fn(d, names[i], data, fn_user);
        free(names[i]);
    }
}

int oocsi_device_on_command(oocsi_device *d, oocsi_device_command_fn fn, void *user)
{
    if (!d || !fn)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_on_command: %s is NULL", d ? "fn" : "d");
    if (!d->c)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_device_on_command: d has no client (made with "
                                           "oocsi_device_new(NULL, name))");
    pthread_mutex_lock(&d->mu);
    d->cmd_fn = fn;
    d->cmd_user = user;
    cJSON *channels = cJSON_CreateArray();
    const cJSON *comp;
    cJSON_ArrayForEach(comp, d->components)
    {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(comp, "channel_name");
        if (channels && cJSON_IsString(ch))
            cJSON_AddItemToArray(channels, cJSON_CreateString(ch->valuestring));
    }
    pthread_mutex_unlock(&d->mu);
    int rc = channels ? OOCSI_OK : OOCSI_ERR_NOMEM;
    const cJSON *ch;
    cJSON_ArrayForEach(ch, channels)
    {
        if (rc == OOCSI_OK && cJSON_IsString(ch))
            rc = oocsi_attach(d->c, ch->valuestring, on_component_message, d);
    }
    cJSON_Delete(channels);
    return rc;
}

/* Sends {keys of data..., "component": name} to the component's channel and
 * keeps the values in the description. data is taken. */
static int publish(const char *fn, oocsi_device *d, const char *component, cJSON *data)
{
    if (!d || !component || !data) {
        cJSON_Delete(data);
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s", fn,
                          !d           ? "d is NULL"
                          : !component ? "component is NULL"
                                       : "out of memory");
    }
    if (!d->c) {
        cJSON_Delete(data);
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: d has no client (made with oocsi_device_new(NULL, name))", fn);
    }
    pthread_mutex_lock(&d->mu);
    cJSON *comp = cJSON_GetObjectItemCaseSensitive(d->components, component);
    const cJSON *ch = comp ? cJSON_GetObjectItemCaseSensitive(comp, "channel_name") : NULL;
    char *channel = cJSON_IsString(ch) ? strdup(ch->valuestring) : NULL;
    if (comp) {
        const cJSON *v;
        cJSON_ArrayForEach(v, data) put(comp, v->string, cJSON_Duplicate(v, 1));
    }
    pthread_mutex_unlock(&d->mu);
    if (!comp) {
        cJSON_Delete(data);
        return oocsi_fail(OOCSI_ERR_NOT_FOUND, "%s: d has no component \"%s\"", fn, component);
    }
    int rc = channel && put(data, "component", cJSON_CreateString(component)) == OOCSI_OK
                 ? oocsi_send(d->c, channel, data)
                 : OOCSI_ERR_NOMEM;
    free(channel);
    cJSON_Delete(data);
    return rc;
}

int oocsi_device_set_value(oocsi_device *d, const char *component, double value)
{
    if (!isfinite(value))
        return not_finite(__func__, "value", value);
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddNumberToObject(o, "value", value)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return publish(__func__, d, component, o);
}

int oocsi_device_set_state(oocsi_device *d, const char *component, int on)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddBoolToObject(o, "state", on != 0)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return publish(__func__, d, component, o);
}

int oocsi_device_publish(oocsi_device *d, const char *component, const char *json_object)
{
    if (!json_object)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: json_object is NULL", __func__);
    cJSON *o = cJSON_Parse(json_object);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: json_object is not the text of a JSON object", __func__);
    }
    return publish(__func__, d, component, o);
}
