/*
 * Synchronised variables: one key of the messages on one channel.
 *
 * Built on the public API alone: a variable attaches a handler to its channel
 * (oocsi_attach, so the application's oocsi_unsubscribe leaves it in place)
 * and publishes with oocsi_send. The arithmetic (bounds, smoothing) is in
 * varmath.c. Each variable has its own lock: the loop thread updates it while
 * any thread may read or set it.
 *
 * Two publication modes (oocsi_variable_set_mode): the Python client's, which
 * sends the value as given, and the Java client's, which sends the filtered
 * value with a "handle" key. The outgoing throttle holds publications back
 * and sends the latest one when its period ends, from a thread of the
 * variable's own (started on the first held value, stopped by free).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oocsi/oocsi.h"
#include "varmath.h"

struct oocsi_variable {
    oocsi_client *c;
    pthread_mutex_t mu;
    char *channel;
    char *out_channel; /* NULL: channel */
    char *key;
    oocsi__varmath m;
    char *str;
    /* Java-client features */
    oocsi_variable_change_fn on_change;
    void *on_change_user;
    int has_reference;
    double reference;
    int timeout_ms;        /* < 0: none */
    int64_t last_remote;   /* when the last remote update (or the reference) came */
    int rate_max, rate_ms; /* incoming: at most rate_max updates per rate_ms (0: no limit) */
    int64_t rate_start;
    int rate_count;
    int send_on_change;
    /* publication */
    oocsi_variable_mode mode;
    unsigned long id;  /* the n of the Java-mode "handle" key */
    int throttle_ms;   /* 0: none */
    int has_published; /* last_pub is valid */
    int64_t last_pub;  /* when the last publication went out */
    cJSON *pending;    /* the value held back by the throttle, or NULL */
    pthread_cond_t cv; /* wakes the throttle thread (CLOCK_MONOTONIC) */
    pthread_t thread;  /* sends held values when their period ends */
    int thread_started;
    int thread_quit;
};

/* Numbers the variables of the process, for the Java-mode "handle" key. */
static atomic_ulong variable_ids;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether one more remote update passes the rate limit. Lock held. */
static int rate_ok(oocsi_variable *v)
{
    if (v->rate_max <= 0)
        return 1;
    int64_t now = mono_ms();
    if (now - v->rate_start >= v->rate_ms) {
        v->rate_start = now;
        v->rate_count = 0;
    }
    return ++v->rate_count <= v->rate_max;
}

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
    int changed = 0;
    oocsi_variable_change_fn fn = NULL;
    void *fn_user = NULL;
    if ((cJSON_IsNumber(it) && isfinite(it->valuedouble)) || cJSON_IsBool(it)) {
        /* Non-finite numbers (1e999 parses as infinity) are refused, as the
         * local setter refuses them: the value would read NaN forever. */
        double d = cJSON_IsNumber(it) ? it->valuedouble : (cJSON_IsTrue(it) ? 1.0 : 0.0);
        pthread_mutex_lock(lock_of(v));
        if (rate_ok(v)) {
            oocsi__varmath_apply(&v->m, d);
            v->last_remote = mono_ms();
            changed = 1;
        }
        fn = v->on_change;
        fn_user = v->on_change_user;
        pthread_mutex_unlock(lock_of(v));
    } else if (cJSON_IsString(it)) {
        char *s = strdup(it->valuestring);
        if (s) {
            pthread_mutex_lock(lock_of(v));
            if (rate_ok(v)) {
                free(v->str);
                v->str = s;
                s = NULL;
                v->last_remote = mono_ms();
                changed = 1;
            }
            fn = v->on_change;
            fn_user = v->on_change_user;
            pthread_mutex_unlock(lock_of(v));
            free(s);
        }
    }
    if (changed && fn)
        fn(v, 1, fn_user);
}

static void variable_destroy(oocsi_variable *v)
{
    oocsi__varmath_free(&v->m);
    cJSON_Delete(v->pending);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v->str);
    free(v->channel);
    free(v->out_channel);
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
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&v->cv, &ca);
    pthread_condattr_destroy(&ca);
    v->id = atomic_fetch_add(&variable_ids, 1) + 1;
    oocsi__varmath_init(&v->m);
    v->timeout_ms = -1;
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

static int publish(oocsi_variable *v, cJSON *item);

void oocsi_variable_free(oocsi_variable *v)
{
    if (!v)
        return;
    /* After this returns the loop thread no longer runs on_message for v. */
    int live = oocsi_unsubscribe_handler(v->c, v->channel, on_message, v) != OOCSI_ERR_CLOSED;
    pthread_mutex_lock(lock_of(v));
    v->thread_quit = 1;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(lock_of(v));
    if (v->thread_started)
        pthread_join(v->thread, NULL);
    /* A value the throttle still held goes out now rather than never (not
     * when the client is gone already). */
    if (v->pending && live) {
        publish(v, v->pending);
        v->pending = NULL;
    }
    variable_destroy(v);
}

/* Sends {key: item} (Java mode: plus "handle") and takes item. Lock held. */
static int publish(oocsi_variable *v, cJSON *item)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj || !item) {
        cJSON_Delete(obj);
        cJSON_Delete(item);
        return OOCSI_ERR_NOMEM;
    }
    if (v->mode == OOCSI_VARIABLE_JAVA) {
        /* As the Java client's variables: "<client handle>_<instance>". */
        char handle[256];
        snprintf(handle, sizeof handle, "%s_%lu", oocsi_handle(v->c) ? oocsi_handle(v->c) : "", v->id);
        cJSON_AddStringToObject(obj, "handle", handle);
    }
    cJSON_AddItemToObject(obj, v->key, item);
    int rc = oocsi_send(v->c, v->out_channel ? v->out_channel : v->channel, obj);
    cJSON_Delete(obj);
    /* The throttle counts every publication, also those before it was on. */
    v->has_published = 1;
    v->last_pub = mono_ms();
    return rc;
}

static void deadline_to_timespec(int64_t ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ms / 1000);
    ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

/* The throttle's thread: sends the held value when its period ends. */
static void *throttle_main(void *arg)
{
    oocsi_variable *v = arg;
    pthread_mutex_lock(lock_of(v));
    while (!v->thread_quit) {
        if (!v->pending) {
            pthread_cond_wait(&v->cv, lock_of(v));
            continue;
        }
        int64_t due = v->last_pub + v->throttle_ms;
        if (mono_ms() < due) {
            struct timespec ts;
            deadline_to_timespec(due, &ts);
            pthread_cond_timedwait(&v->cv, lock_of(v), &ts);
            continue;
        }
        cJSON *item = v->pending;
        v->pending = NULL;
        publish(v, item);
    }
    pthread_mutex_unlock(lock_of(v));
    return NULL;
}

/* Publishes item now, or holds it for the throttle (replacing a held value:
 * the latest wins). Takes item. Lock held. */
static int offer(oocsi_variable *v, cJSON *item)
{
    if (!item)
        return OOCSI_ERR_NOMEM;
    if (v->throttle_ms <= 0)
        return publish(v, item);
    int64_t now = mono_ms();
    if (!v->pending && (!v->has_published || now - v->last_pub >= v->throttle_ms))
        return publish(v, item);
    if (!v->thread_started) {
        if (pthread_create(&v->thread, NULL, throttle_main, v) != 0) {
            cJSON_Delete(item);
            return oocsi_fail(OOCSI_ERR_NOMEM, "oocsi_variable_set: could not start the throttle's thread");
        }
        v->thread_started = 1;
    }
    cJSON_Delete(v->pending);
    v->pending = item;
    pthread_cond_signal(&v->cv);
    return OOCSI_OK;
}

/* Runs the change callback of a local set (lock not held). */
static void local_change(oocsi_variable *v, int rc, int changed)
{
    pthread_mutex_lock(lock_of(v));
    oocsi_variable_change_fn fn = v->on_change;
    void *user = v->on_change_user;
    pthread_mutex_unlock(lock_of(v));
    if (rc == OOCSI_OK && changed && fn)
        fn(v, 0, user);
}

int oocsi_variable_set(oocsi_variable *v, double value)
{
    if (!v || !isfinite(value))
        return v ? oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_set: value must be a finite number (got %g)", value)
                 : oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_set: v is NULL");
    pthread_mutex_lock(lock_of(v));
    double before = oocsi__varmath_get(&v->m);
    double filtered = oocsi__varmath_apply(&v->m, value);
    double after = oocsi__varmath_get(&v->m);
    int changed = !(before == after); /* NaN before: a first value is a change */
    /* Python mode: the raw value goes out, every receiver applies its own
     * bounds. Java mode: the filtered value (clamped, sigma rule). */
    double out = v->mode == OOCSI_VARIABLE_JAVA ? filtered : value;
    int rc = v->send_on_change && !changed ? OOCSI_OK : offer(v, cJSON_CreateNumber(out));
    pthread_mutex_unlock(lock_of(v));
    local_change(v, rc, changed);
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
    /* The reference again when no remote update came for the timeout (a
     * local set does not count, as in the Java client). */
    if (v->has_reference && (isnan(d) || (v->timeout_ms >= 0 && mono_ms() - v->last_remote > v->timeout_ms)))
        d = v->reference;
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
    int changed = !v->str || strcmp(v->str, s) != 0;
    free(v->str);
    v->str = s;
    int rc = v->send_on_change && !changed ? OOCSI_OK : offer(v, cJSON_CreateString(value));
    pthread_mutex_unlock(lock_of(v));
    local_change(v, rc, changed);
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

/* ------------------------------------------------ as the Java client has */

int oocsi_variable_set_bool(oocsi_variable *v, int value)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_set_bool: v is NULL");
    pthread_mutex_lock(lock_of(v));
    double before = oocsi__varmath_get(&v->m);
    oocsi__varmath_apply(&v->m, value ? 1.0 : 0.0);
    int changed = !(before == oocsi__varmath_get(&v->m));
    /* true/false on the wire, as a Java OOCSIBoolean sends and reads */
    int rc = v->send_on_change && !changed ? OOCSI_OK : offer(v, cJSON_CreateBool(value != 0));
    pthread_mutex_unlock(lock_of(v));
    local_change(v, rc, changed);
    return rc;
}

int oocsi_variable_get_bool(const oocsi_variable *v)
{
    double d = oocsi_variable_get(v);
    return !isnan(d) && d != 0.0;
}

int oocsi_variable_on_change(oocsi_variable *v, oocsi_variable_change_fn fn, void *user)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_on_change: v is NULL");
    pthread_mutex_lock(lock_of(v));
    v->on_change = fn;
    v->on_change_user = user;
    pthread_mutex_unlock(lock_of(v));
    return OOCSI_OK;
}

int oocsi_variable_reference(oocsi_variable *v, double reference, int timeout_ms)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_reference: v is NULL");
    if (!isfinite(reference))
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_reference: reference must be a finite number (got %g)",
                          reference);
    pthread_mutex_lock(lock_of(v));
    v->has_reference = 1;
    v->reference = reference;
    v->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
    v->last_remote = mono_ms();
    pthread_mutex_unlock(lock_of(v));
    return OOCSI_OK;
}

int oocsi_variable_limit_rate(oocsi_variable *v, int max_updates, int per_ms)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_limit_rate: v is NULL");
    if (max_updates < 0 || (max_updates > 0 && per_ms <= 0))
        return oocsi_fail(OOCSI_ERR_INVAL,
                          "oocsi_variable_limit_rate: max_updates must be >= 0 (0: no limit) and per_ms > 0 (got %d "
                          "per %d ms)",
                          max_updates, per_ms);
    pthread_mutex_lock(lock_of(v));
    v->rate_max = max_updates;
    v->rate_ms = per_ms;
    v->rate_count = 0;
    v->rate_start = mono_ms();
    pthread_mutex_unlock(lock_of(v));
    return OOCSI_OK;
}

int oocsi_variable_send_on_change(oocsi_variable *v, int on)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_send_on_change: v is NULL");
    pthread_mutex_lock(lock_of(v));
    v->send_on_change = on != 0;
    pthread_mutex_unlock(lock_of(v));
    return OOCSI_OK;
}

int oocsi_variable_out_channel(oocsi_variable *v, const char *out_channel)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_out_channel: v is NULL");
    int bad = out_channel && !*out_channel;
    for (const char *p = out_channel; p && *p; p++)
        bad |= (unsigned char)*p <= 0x20;
    if (bad)
        return oocsi_fail(OOCSI_ERR_INVAL,
                          "oocsi_variable_out_channel: out_channel \"%s\" is empty or contains a space or a control "
                          "character",
                          out_channel);
    char *copy = out_channel ? strdup(out_channel) : NULL;
    if (out_channel && !copy)
        return OOCSI_ERR_NOMEM;
    pthread_mutex_lock(lock_of(v));
    free(v->out_channel);
    v->out_channel = copy;
    pthread_mutex_unlock(lock_of(v));
    return OOCSI_OK;
}

int oocsi_variable_set_mode(oocsi_variable *v, oocsi_variable_mode mode)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_set_mode: v is NULL");
    if (mode != OOCSI_VARIABLE_PYTHON && mode != OOCSI_VARIABLE_JAVA)
        return oocsi_fail(OOCSI_ERR_INVAL,
                          "oocsi_variable_set_mode: mode must be OOCSI_VARIABLE_PYTHON or OOCSI_VARIABLE_JAVA (got %d)",
                          (int)mode);
    pthread_mutex_lock(lock_of(v));
    v->mode = mode;
    v->m.java_order = mode == OOCSI_VARIABLE_JAVA;
    pthread_mutex_unlock(lock_of(v));
    return OOCSI_OK;
}

int oocsi_variable_throttle(oocsi_variable *v, int period_ms)
{
    if (!v)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_throttle: v is NULL");
    if (period_ms < 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_throttle: period_ms must be >= 0 (0: no throttle; got %d)",
                          period_ms);
    int rc = OOCSI_OK;
    pthread_mutex_lock(lock_of(v));
    v->throttle_ms = period_ms;
    if (period_ms == 0 && v->pending) {
        /* No throttle any more: what it held goes out now. */
        cJSON *item = v->pending;
        v->pending = NULL;
        rc = publish(v, item);
    }
    pthread_cond_signal(&v->cv); /* a changed period moves the due time */
    pthread_mutex_unlock(lock_of(v));
    return rc;
}
