/*
 * Accessors of received messages.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/engine.h"

const char *oocsi_message_sender(const oocsi_message *m)
{
    return m ? m->sender : NULL;
}

const char *oocsi_message_recipient(const oocsi_message *m)
{
    return m ? m->recipient : NULL;
}

int64_t oocsi_message_timestamp(const oocsi_message *m)
{
    return m ? m->timestamp : 0;
}

const cJSON *oocsi_message_data(const oocsi_message *m)
{
    return m ? m->data : NULL;
}

char *oocsi_message_data_json(const oocsi_message *m)
{
    if (!m) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_message_data_json: m is NULL");
        return NULL;
    }
    if (!m->data)
        return NULL;
    return cJSON_PrintUnformatted(m->data);
}

static const cJSON *item(const oocsi_message *m, const char *key)
{
    if (!m || !key || !m->data)
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(m->data, key);
}

static int is_int(double d)
{
    return isfinite(d) && d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0;
}

/* The checks of the getters: m, key and out are required. */
static int check_get(const char *fn, const oocsi_message *m, const char *key, const void *out)
{
    if (m && key && out)
        return OOCSI_OK;
    return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is NULL", fn, !m ? "m" : !key ? "key" : "out");
}

int oocsi_message_get_double(const oocsi_message *m, const char *key, double *out)
{
    if (check_get(__func__, m, key, out) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    const cJSON *it = item(m, key);
    if (!cJSON_IsNumber(it))
        return it ? OOCSI_ERR_UNSUPPORTED : OOCSI_ERR_NOT_FOUND;
    *out = it->valuedouble;
    return OOCSI_OK;
}

int oocsi_message_get_int(const oocsi_message *m, const char *key, int64_t *out)
{
    if (check_get(__func__, m, key, out) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    double d;
    int rc = oocsi_message_get_double(m, key, &d);
    if (rc != OOCSI_OK)
        return rc;
    if (!is_int(d))
        return OOCSI_ERR_UNSUPPORTED;
    *out = (int64_t)d;
    return OOCSI_OK;
}

const char *oocsi_message_get_string(const oocsi_message *m, const char *key)
{
    if (!m || !key) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_message_get_string: %s is NULL", m ? "key" : "m");
        return NULL;
    }
    const cJSON *it = item(m, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

int oocsi_message_get_bool(const oocsi_message *m, const char *key, int *out)
{
    if (check_get(__func__, m, key, out) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    const cJSON *it = item(m, key);
    if (cJSON_IsBool(it)) {
        *out = cJSON_IsTrue(it) ? 1 : 0;
        return OOCSI_OK;
    }
    if (cJSON_IsNumber(it)) {
        *out = it->valuedouble != 0.0;
        return OOCSI_OK;
    }
    return it ? OOCSI_ERR_UNSUPPORTED : OOCSI_ERR_NOT_FOUND;
}

int64_t oocsi_message_get_int_or(const oocsi_message *m, const char *key, int64_t dflt)
{
    int64_t v;
    return oocsi_message_get_int(m, key, &v) == OOCSI_OK ? v : dflt;
}

double oocsi_message_get_double_or(const oocsi_message *m, const char *key, double dflt)
{
    double v;
    return oocsi_message_get_double(m, key, &v) == OOCSI_OK ? v : dflt;
}

const char *oocsi_message_get_string_or(const oocsi_message *m, const char *key, const char *dflt)
{
    const char *v = oocsi_message_get_string(m, key);
    return v ? v : dflt;
}

int oocsi_message_get_bool_or(const oocsi_message *m, const char *key, int dflt)
{
    int v;
    return oocsi_message_get_bool(m, key, &v) == OOCSI_OK ? v : dflt;
}

/* ------------------------------------------------------------ arrays */

enum { ARRAY_INT, ARRAY_DOUBLE, ARRAY_STRING };

/* The shared walk of the array getters: checks every element's type, then
 * writes the first max of them to out. */
static int get_array(const char *fn, const oocsi_message *m, const char *key, int kind, void *out, size_t max,
                     size_t *count)
{
    if (!m || !key || !count)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is NULL", fn, !m ? "m" : !key ? "key" : "count");
    if (max > 0 && !out)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: out is NULL with max %zu", fn, max);
    *count = 0;
    const cJSON *a = item(m, key);
    if (!a)
        return OOCSI_ERR_NOT_FOUND;
    if (!cJSON_IsArray(a))
        return OOCSI_ERR_UNSUPPORTED;
    size_t n = 0;
    for (const cJSON *e = a->child; e; e = e->next, n++) {
        int ok = kind == ARRAY_STRING ? cJSON_IsString(e)
                 : kind == ARRAY_INT  ? cJSON_IsNumber(e) && is_int(e->valuedouble)
                                      : cJSON_IsNumber(e);
        if (!ok)
            return OOCSI_ERR_UNSUPPORTED;
    }
    size_t i = 0;
    for (const cJSON *e = a->child; e && i < max; e = e->next, i++) {
        if (kind == ARRAY_STRING)
            ((const char **)out)[i] = e->valuestring;
        else if (kind == ARRAY_INT)
            ((int64_t *)out)[i] = (int64_t)e->valuedouble;
        else
            ((double *)out)[i] = e->valuedouble;
    }
    *count = n;
    return OOCSI_OK;
}

int oocsi_message_get_int_array(const oocsi_message *m, const char *key, int64_t *out, size_t max, size_t *count)
{
    return get_array(__func__, m, key, ARRAY_INT, out, max, count);
}

int oocsi_message_get_double_array(const oocsi_message *m, const char *key, double *out, size_t max, size_t *count)
{
    return get_array(__func__, m, key, ARRAY_DOUBLE, out, max, count);
}

int oocsi_message_get_string_array(const oocsi_message *m, const char *key, const char **out, size_t max, size_t *count)
{
    return get_array(__func__, m, key, ARRAY_STRING, out, max, count);
}
