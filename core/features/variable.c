/*
 * Synchronised variables: one key of the messages on one channel.
 *
 * Built on the public API alone: a variable attaches a handler to its channel
 * (oocsi_attach, so the application's oocsi_unsubscribe leaves it in place)
 * and publishes with oocsi_send. The arithmetic (bounds, smoothing) is in
 * varmath.c. Each variable has its own lock: the loop thread updates it while
 * any thread may read or set it.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/oocsi.h"
#include "varmath.h"

struct oocsi_variable {
    oocsi_client *c;
    pthread_mutex_t mu;
    char *channel;
    char *key;
    oocsi__varmath m;
    char *str;
};

/* The lock of a variable the caller holds as const (readers lock too). */
static pthread_mutex_t *lock_of(const oocsi_variable *v)
{
    return &((oocsi_variable *)v)->mu;
}

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    oocsi_variable *v = user;
    (void)c;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(oocsi_message_data(msg), v->key);
    if ((cJSON_IsNumber(it) && isfinite(it->valuedouble)) || cJSON_IsBool(it)) {
        /* Non-finite numbers (1e999 parses as infinity) are refused, as the
         * local setter refuses them: the value would read NaN forever. */
        double d = cJSON_IsNumber(it) ? it->valuedouble : (cJSON_IsTrue(it) ? 1.0 : 0.0);
        pthread_mutex_lock(lock_of(v));
        oocsi__varmath_apply(&v->m, d);
        pthread_mutex_unlock(lock_of(v));
    } else if (cJSON_IsString(it)) {
        char *s = strdup(it->valuestring);
        if (s) {
            pthread_mutex_lock(lock_of(v));
            free(v->str);
            v->str = s;
            pthread_mutex_unlock(lock_of(v));
        }
    }
}

static void variable_destroy(oocsi_variable *v)
{
    oocsi__varmath_free(&v->m);
    pthread_mutex_destroy(&v->mu);
    free(v->str);
    free(v->channel);
    free(v->key);
    free(v);
}

oocsi_variable *oocsi_variable_new(oocsi_client *c, const char *channel, const char *key)
{
    if (!c || !channel || !*channel || !key || !*key) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_new: %s",
                   !c          ? "c is NULL"
                   : !channel  ? "channel is NULL"
                   : !*channel ? "channel is empty"
                   : !key      ? "key is NULL"
                               : "key is empty");
        return NULL;
    }
    for (const char *p = channel; *p; p++)
        if ((unsigned char)*p <= 0x20) {
            oocsi_fail(OOCSI_ERR_INVAL,
                       "oocsi_variable_new: channel \"%s\" contains a space or a control character (names travel "
                       "unquoted on the line protocol)",
                       channel);
            return NULL;
        }
    oocsi_variable *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    pthread_mutex_init(&v->mu, NULL);
    oocsi__varmath_init(&v->m);
    v->c = c;
    v->channel = strdup(channel);
    v->key = strdup(key);
    if (!v->channel || !v->key) {
        variable_destroy(v);
        return NULL;
    }
    /* A subscription not yet confirmed (timeout) is still recorded. */
    int rc = oocsi_attach(c, channel, on_message, v);
    if (rc != OOCSI_OK && rc != OOCSI_ERR_TIMEOUT) {
        oocsi_unsubscribe_handler(c, channel, on_message, v);
        variable_destroy(v);
        return NULL;
    }
    return v;
}

void oocsi_variable_free(oocsi_variable *v)
{
    if (!v)
        return;
    /* After this returns the loop thread no longer runs on_message for v. */
    oocsi_unsubscribe_handler(v->c, v->channel, on_message, v);
    variable_destroy(v);
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
    int rc = oocsi_send(v->c, v->channel, obj);
    cJSON_Delete(obj);
    return rc;
}

int oocsi_variable_set(oocsi_variable *v, double value)
{
    if (!v || !isfinite(value))
        return v ? oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_set: value must be a finite number (got %g)", value)
                 : oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_set: v is NULL");
    pthread_mutex_lock(lock_of(v));
    oocsi__varmath_apply(&v->m, value);
    /* The raw value goes out: every receiver applies its own bounds. */
    int rc = publish(v, cJSON_CreateNumber(value));
    pthread_mutex_unlock(lock_of(v));
    return rc;
}

double oocsi_variable_get(const oocsi_variable *v)
{
    if (!v) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_get: v is NULL");
        return NAN;
    }
    pthread_mutex_lock(lock_of(v));
    double d = oocsi__varmath_get(&v->m);
    pthread_mutex_unlock(lock_of(v));
    return d;
}

int oocsi_variable_has_value(const oocsi_variable *v)
{
    return v ? !isnan(oocsi_variable_get(v)) : 0;
}

static int set_bound(const char *fn, const char *arg, oocsi_variable *v, double bound,
                     void (*setter)(oocsi__varmath *, double))
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: v is NULL", fn);
    if (isnan(bound))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is NaN (a bound must be a number; +-INFINITY for none)", fn, arg);
    pthread_mutex_lock(lock_of(v));
    setter(&v->m, bound);
    pthread_mutex_unlock(lock_of(v));
    return OOCSI_OK;
}

int oocsi_variable_min(oocsi_variable *v, double min)
{
    return set_bound(__func__, "min", v, min, oocsi__varmath_set_min);
}

int oocsi_variable_max(oocsi_variable *v, double max)
{
    return set_bound(__func__, "max", v, max, oocsi__varmath_set_max);
}

int oocsi_variable_smooth(oocsi_variable *v, int window, double sigma)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_smooth: v is NULL");
    if (window < 1)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_smooth: window must be >= 1 (got %d)", window);
    if (isnan(sigma))
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_smooth: sigma is NaN");
    pthread_mutex_lock(lock_of(v));
    int rc = oocsi__varmath_set_smooth(&v->m, window, sigma);
    pthread_mutex_unlock(lock_of(v));
    return rc;
}

int oocsi_variable_set_string(oocsi_variable *v, const char *value)
{
    if (!v || !value)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_set_string: %s is NULL", v ? "value" : "v");
    char *s = strdup(value);
    if (!s)
        return OOCSI_ERR_NOMEM;
    pthread_mutex_lock(lock_of(v));
    free(v->str);
    v->str = s;
    int rc = publish(v, cJSON_CreateString(value));
    pthread_mutex_unlock(lock_of(v));
    return rc;
}

const char *oocsi_variable_get_string(const oocsi_variable *v)
{
    if (!v) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_get_string: v is NULL");
        return NULL;
    }
    pthread_mutex_lock(lock_of(v));
    const char *s = v->str;
    pthread_mutex_unlock(lock_of(v));
    return s;
}

char *oocsi_variable_dup_string(const oocsi_variable *v)
{
    if (!v) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_dup_string: v is NULL");
        return NULL;
    }
    pthread_mutex_lock(lock_of(v));
    char *s = v->str ? strdup(v->str) : NULL;
    pthread_mutex_unlock(lock_of(v));
    return s;
}
