/*
 * Synchronised variables: one key of the messages on one channel.
 * The arithmetic lives in util.c (oocsi__varmath); this file wires it to a
 * client. A variable's state is protected by its client's lock.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

struct oocsi_variable {
    oocsi_client *c;
    char *channel;
    char *key;
    oocsi__varmath m;
    char *str;
};

oocsi_variable *oocsi_variable_new(oocsi_client *c, const char *channel, const char *key)
{
    if (!c || !channel || !*channel || !key || !*key)
        return NULL;
    for (const char *p = channel; *p; p++)
        if ((unsigned char)*p <= 0x20)
            return NULL;
    oocsi_variable *v = calloc(1, sizeof(*v));
    oocsi__listener *l = calloc(1, sizeof(*l));
    if (!v || !l)
        goto fail;
    v->c = c;
    v->channel = strdup(channel);
    v->key = strdup(key);
    if (!v->channel || !v->key)
        goto fail;
    oocsi__varmath_init(&v->m);
    l->kind = SUB_VARIABLE;
    l->var = v;
    pthread_mutex_lock(&c->mu);
    int rc = oocsi__subscribe_locked(c, channel, l);
    pthread_mutex_unlock(&c->mu);
    if (rc != OOCSI_OK && rc != OOCSI_ERR_TIMEOUT) {
        /* The listener was freed on failure. */
        free(v->channel);
        free(v->key);
        free(v);
        return NULL;
    }
    return v;
fail:
    if (v) {
        free(v->channel);
        free(v->key);
    }
    free(v);
    free(l);
    return NULL;
}

static int is_this_var(oocsi__listener *l, void *ctx)
{
    return l->kind == SUB_VARIABLE && l->var == ctx;
}

void oocsi_variable_free(oocsi_variable *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->c->mu);
    oocsi__remove_listeners(v->c, v->channel, is_this_var, v);
    pthread_mutex_unlock(&v->c->mu);
    oocsi__varmath_free(&v->m);
    free(v->str);
    free(v->channel);
    free(v->key);
    free(v);
}

/* Called by dispatch with the client's lock held. */
void oocsi__variable_on_message(oocsi_variable *v, const oocsi_message *m)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(m->data, v->key);
    if (cJSON_IsNumber(it)) {
        oocsi__varmath_apply(&v->m, it->valuedouble);
    } else if (cJSON_IsBool(it)) {
        oocsi__varmath_apply(&v->m, cJSON_IsTrue(it) ? 1.0 : 0.0);
    } else if (cJSON_IsString(it)) {
        char *s = strdup(it->valuestring);
        if (s) {
            free(v->str);
            v->str = s;
        }
    }
}

static int publish(oocsi_variable *v, cJSON *item)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj || !item) {
        cJSON_Delete(obj);
        cJSON_Delete(item);
        return OOCSI_ERR_NOMEM;
    }
    cJSON_AddItemToObject(obj, v->key, item);
    char *text;
    size_t len;
    int rc = oocsi__render(obj, &text, &len);
    cJSON_Delete(obj);
    if (rc != OOCSI_OK)
        return rc;
    rc = oocsi__send_locked(v->c, v->channel, text, len);
    free(text);
    return rc;
}

int oocsi_variable_set(oocsi_variable *v, double value)
{
    if (!v || !isfinite(value))
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&v->c->mu);
    oocsi__varmath_apply(&v->m, value);
    /* The raw value goes out: every receiver applies its own bounds. */
    int rc = publish(v, cJSON_CreateNumber(value));
    pthread_mutex_unlock(&v->c->mu);
    return rc;
}

double oocsi_variable_get(const oocsi_variable *v)
{
    if (!v)
        return NAN;
    pthread_mutex_lock(&v->c->mu);
    double d = oocsi__varmath_get(&v->m);
    pthread_mutex_unlock(&v->c->mu);
    return d;
}

int oocsi_variable_has_value(const oocsi_variable *v)
{
    return v ? !isnan(oocsi_variable_get(v)) : 0;
}

int oocsi_variable_min(oocsi_variable *v, double min)
{
    if (!v || isnan(min))
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&v->c->mu);
    oocsi__varmath_set_min(&v->m, min);
    pthread_mutex_unlock(&v->c->mu);
    return OOCSI_OK;
}

int oocsi_variable_max(oocsi_variable *v, double max)
{
    if (!v || isnan(max))
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&v->c->mu);
    oocsi__varmath_set_max(&v->m, max);
    pthread_mutex_unlock(&v->c->mu);
    return OOCSI_OK;
}

int oocsi_variable_smooth(oocsi_variable *v, int window, double sigma)
{
    if (!v || window < 1 || isnan(sigma))
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&v->c->mu);
    int rc = oocsi__varmath_set_smooth(&v->m, window, sigma);
    pthread_mutex_unlock(&v->c->mu);
    return rc;
}

int oocsi_variable_set_string(oocsi_variable *v, const char *value)
{
    if (!v || !value)
        return OOCSI_ERR_INVAL;
    char *s = strdup(value);
    if (!s)
        return OOCSI_ERR_NOMEM;
    pthread_mutex_lock(&v->c->mu);
    free(v->str);
    v->str = s;
    int rc = publish(v, cJSON_CreateString(value));
    pthread_mutex_unlock(&v->c->mu);
    return rc;
}

const char *oocsi_variable_get_string(const oocsi_variable *v)
{
    if (!v)
        return NULL;
    pthread_mutex_lock(&v->c->mu);
    const char *s = v->str;
    pthread_mutex_unlock(&v->c->mu);
    return s;
}

char *oocsi_variable_dup_string(const oocsi_variable *v)
{
    if (!v)
        return NULL;
    pthread_mutex_lock(&v->c->mu);
    char *s = v->str ? strdup(v->str) : NULL;
    pthread_mutex_unlock(&v->c->mu);
    return s;
}
