/*
 * heyOOCSI device descriptions (codecs/README.md shows the shape): one message to channel
 * "heyOOCSI!" whose single key is the device name.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/codec.h"
#include "oocsi/oocsi.h"

struct oocsi_device {
    oocsi_client *c;
    char *name;
    cJSON *properties;
    cJSON *components;
    cJSON *location;
};

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
    return put(d->properties, key, cJSON_CreateString(value));
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
    return put(d->location, name, cJSON_CreateDoubleArray(ll, 2));
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
    return put(d->components, name, o);
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

int oocsi_device_add_switch(oocsi_device *d, const char *name, const char *channel, int default_state, const char *icon)
{
    if (check_names(__func__, d, name, channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    cJSON *o = component(channel, "switch");
    int ok = o && cJSON_AddStringToObject(o, "sensor_type", "switch") &&
             cJSON_AddBoolToObject(o, "state", default_state != 0);
    return finish(d, name, o, icon, ok);
}

static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

int oocsi_device_add_light(oocsi_device *d, const char *name, const char *channel, const char *led_type,
                           const char *spectrum, int default_state, int default_brightness, const char *icon)
{
    static const char *const led_types[] = {"RGB", "RGBW", "RGBWW", "CCT", "DIMMABLE", "ONOFF", NULL};
    static const char *const spectra[] = {"CCT", "WHITE", "RGB", NULL};
    if (check_names(__func__, d, name, channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    if (!led_type || !spectrum)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is NULL", __func__, led_type ? "spectrum" : "led_type");
    if (!one_of(led_type, led_types))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: led_type \"%s\" is not one of RGB, RGBW, RGBWW, CCT, DIMMABLE, ONOFF",
                          __func__, led_type);
    if (!one_of(spectrum, spectra))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: spectrum \"%s\" is not one of CCT, WHITE, RGB", __func__, spectrum);
    if (default_brightness < 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: default_brightness must be >= 0 (got %d)", __func__,
                          default_brightness);
    cJSON *o = component(channel, "light");
    /* HomeAssistant reads led_type; the Python and Node clients write ledType. */
    int ok = o && cJSON_AddStringToObject(o, "led_type", led_type) && cJSON_AddStringToObject(o, "ledType", led_type) &&
             cJSON_AddStringToObject(o, "spectrum", spectrum);
    if (ok) {
        if (strcmp(spectrum, "CCT") == 0) {
            int mm[2] = {153, 500}; /* mired range */
            cJSON *arr = cJSON_CreateIntArray(mm, 2);
            ok = arr && cJSON_AddItemToObject(o, "min_max", arr);
            if (!ok)
                cJSON_Delete(arr);
        } else {
            ok = cJSON_AddNullToObject(o, "min_max") != NULL;
        }
    }
    ok = ok && cJSON_AddBoolToObject(o, "state", default_state != 0) &&
         cJSON_AddNumberToObject(o, "brightness", default_brightness);
    return finish(d, name, o, icon, ok);
}

static cJSON *build(const oocsi_device *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *body = cJSON_CreateObject();
    cJSON *p = cJSON_Duplicate(d->properties, 1);
    cJSON *c = cJSON_Duplicate(d->components, 1);
    cJSON *l = cJSON_Duplicate(d->location, 1);
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
    return rc;
}
