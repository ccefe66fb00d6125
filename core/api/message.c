/*
 * Accessors of received messages.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    return m ? oocsi__message_payload(m) : NULL;
}

char *oocsi_message_data_json(const oocsi_message *m)
{
    if (!m) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_message_data_json: m is NULL");
        return NULL;
    }
    if (m->json)
        return oocsi__message_payload_text(m); /* numbers exactly as they came */
    if (!m->data)
        return NULL;
    return cJSON_PrintUnformatted(m->data);
}

static const cJSON *item(const oocsi_message *m, const char *key)
{
    if (!m || !key)
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(oocsi__message_payload(m), key);
}

/* The value under key in the message's text: 1 found, 0 absent, -1 when
 * the message has no text form (ask its tree). */
static int raw_item(const oocsi_message *m, const char *key, oocsi__json_span *v)
{
    return oocsi__message_value(m, key, v);
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
    oocsi__json_span v;
    int raw = raw_item(m, key, &v);
    if (raw >= 0)
        return raw == 0 ? OOCSI_ERR_NOT_FOUND : oocsi__json_to_double(&v, out);
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
    oocsi__json_span v;
    if (raw_item(m, key, &v) == 1 && oocsi__json_to_i64(&v, out) == OOCSI_OK)
        return OOCSI_OK; /* an integer literal: exact, beyond 2^53 too */
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

int oocsi_message_get_uint64(const oocsi_message *m, const char *key, uint64_t *out)
{
    if (check_get(__func__, m, key, out) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    oocsi__json_span v;
    int raw = raw_item(m, key, &v);
    if (raw == 1 && oocsi__json_to_u64(&v, out) == OOCSI_OK)
        return OOCSI_OK;
    double d;
    int rc = oocsi_message_get_double(m, key, &d);
    if (rc != OOCSI_OK)
        return rc;
    if (!(isfinite(d) && d == floor(d) && d >= 0 && d < 18446744073709551616.0))
        return OOCSI_ERR_UNSUPPORTED;
    *out = (uint64_t)d;
    return OOCSI_OK;
}

int oocsi_message_get_bool(const oocsi_message *m, const char *key, int *out)
{
    if (check_get(__func__, m, key, out) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    oocsi__json_span v;
    int raw = raw_item(m, key, &v);
    if (raw == 0)
        return OOCSI_ERR_NOT_FOUND;
    if (raw == 1) {
        double d;
        if (v.n == 4 && memcmp(v.p, "true", 4) == 0)
            *out = 1;
        else if (v.n == 5 && memcmp(v.p, "false", 5) == 0)
            *out = 0;
        else if (oocsi__json_to_double(&v, &d) == OOCSI_OK)
            *out = d != 0.0;
        else
            return OOCSI_ERR_UNSUPPORTED;
        return OOCSI_OK;
    }
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
