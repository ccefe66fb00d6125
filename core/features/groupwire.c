/*
 * Helpers shared by the group behaviours (see groupwire.h). Built on the
 * public API only.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupwire.h"

int oocsi__beh_check(const char *fn, oocsi_client *c, const char *channel, const char *key, int key_required)
{
    if (!c)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: c is NULL", fn);
    if (!channel || !*channel)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: channel is %s", fn, channel ? "empty" : "NULL");
    if (key_required && (!key || !*key))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: key is %s", fn, key ? "empty" : "NULL");
    for (int i = 0; i < 2; i++)
        for (const char *p = i ? key : channel; p && *p; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                return oocsi_fail(OOCSI_ERR_INVAL,
                                  "%s: %s \"%s\" contains a space or a control character (it becomes part of a "
                                  "channel name, and names travel unquoted on the line protocol)",
                                  fn, i ? "key" : "channel", i ? key : channel);
    return OOCSI_OK;
}

char *oocsi__beh_channel(const char *channel, const char *key, const char *suffix)
{
    size_t n = strlen(channel) + (key ? strlen(key) + 1 : 0) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (s) {
        if (key)
            snprintf(s, n, "%s_%s_%s", channel, key, suffix);
        else
            snprintf(s, n, "%s_%s", channel, suffix);
    }
    return s;
}

char *oocsi__beh_instance(oocsi_client *c)
{
    /* Unique per process; the client handle makes it unique on the server. */
    static atomic_uint next = 1;
    unsigned n = atomic_fetch_add(&next, 1);
    const char *h = oocsi_handle(c);
    if (!h)
        h = "";
    size_t len = strlen(h) + 16;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s_%u", h, n);
    return s;
}

int oocsi__beh_send(oocsi_client *c, const char *channel, const char *instance, const char *key, cJSON *value)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !value || !cJSON_AddStringToObject(o, "handle", instance)) {
        cJSON_Delete(o);
        cJSON_Delete(value);
        return OOCSI_ERR_NOMEM;
    }
    cJSON_AddItemToObject(o, key, value);
    int rc = oocsi_send(c, channel, o);
    cJSON_Delete(o);
    return rc;
}

uint64_t oocsi__beh_seed(const void *addr)
{
    static atomic_ullong counter = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)addr;
    x ^= (uint64_t)atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ULL;
    return x ? x : 0x2545f4914f6cdd1dULL;
}

double oocsi__beh_random(uint64_t *state)
{
    /* xorshift64* */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

int64_t oocsi__beh_round(double x)
{
    /* floor without libm (the library links none) */
    double y = x + 0.5;
    int64_t t = (int64_t)y;
    return (double)t > y ? t - 1 : t;
}

int oocsi__beh_int(const cJSON *data, const char *key, int dflt)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(data, key);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
        (it->valuedouble > 2147483647.0 || it->valuedouble < -2147483648.0))
        return dflt;
    return (int)it->valuedouble;
}

int oocsi__beh_table_put(cJSON *table, const char *name, const cJSON *value)
{
    cJSON *copy = cJSON_Duplicate(value, 1);
    if (!copy)
        return OOCSI_ERR_NOMEM;
    if (cJSON_GetObjectItemCaseSensitive(table, name)) {
        cJSON_ReplaceItemInObjectCaseSensitive(table, name, copy);
        return OOCSI_OK;
    }
    if (cJSON_GetArraySize(table) >= OOCSI__BEH_MAX_PEERS) {
        cJSON_Delete(copy);
        return OOCSI_ERR_QUEUE_FULL;
    }
    cJSON_AddItemToObject(table, name, copy);
    return OOCSI_OK;
}

typedef struct bucket {
    char *text; /* the value's JSON text: the sort key of equal counts */
    const cJSON *value;
    int count;
} bucket;

static int by_count(const void *a, const void *b)
{
    const bucket *x = a, *y = b;
    if (x->count != y->count)
        return y->count - x->count;
    return strcmp(x->text, y->text);
}

cJSON *oocsi__beh_histogram(const cJSON *table)
{
    int n = cJSON_GetArraySize(table);
    bucket *bs = calloc((size_t)(n ? n : 1), sizeof(*bs));
    cJSON *out = cJSON_CreateArray();
    int nb = 0, ok = bs && out;
    const cJSON *v;
    cJSON_ArrayForEach(v, table)
    {
        if (!ok)
            break;
        int i = 0;
        while (i < nb && !cJSON_Compare(bs[i].value, v, 1))
            i++;
        if (i == nb) {
            bs[nb].text = cJSON_PrintUnformatted(v);
            bs[nb].value = v;
            ok = bs[nb].text != NULL;
            nb++;
        }
        bs[i].count++;
    }
    if (ok)
        qsort(bs, (size_t)nb, sizeof(*bs), by_count);
    for (int i = 0; ok && i < nb; i++) {
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddItemToObject(e, "value", cJSON_Duplicate(bs[i].value, 1)) &&
             cJSON_AddNumberToObject(e, "count", bs[i].count) && cJSON_AddItemToArray(out, e);
        if (!ok)
            cJSON_Delete(e);
    }
    for (int i = 0; bs && i < nb; i++)
        cJSON_free(bs[i].text);
    free(bs);
    if (!ok) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}
