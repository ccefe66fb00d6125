/*
 * Sending with the server's features: one message to several recipients,
 * retained, delayed and scheduled messages (_RETAIN, _DELAY, _SCHEDULE), and
 * private channels ("channel:secret").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"

#define RETAIN_MAX_S 172800 /* the reference server's cap: 2 days */

int oocsi_send_many(oocsi_client *c, const char *const *recipients, size_t count, const cJSON *data)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK(recipients, "recipients", "is NULL");
    OOCSI__CHECK(count > 0, "count", "is 0 (nobody to send to)");
    OOCSI__CHECK(cJSON_IsObject(data), "data", "must be a JSON object");
    for (size_t i = 0; i < count; i++)
        if (oocsi__validate_name(recipients[i]) != OOCSI_OK) {
            char arg[40];
            snprintf(arg, sizeof arg, "recipients[%zu]", i);
            return oocsi__bad_name(__func__, arg, recipients[i]);
        }
    char *text;
    size_t len;
    int rc = oocsi__render(data, &text, &len);
    if (rc != OOCSI_OK)
        return rc;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < count && rc == OOCSI_OK; i++)
        rc = oocsi__send_locked(c, recipients[i], text, len);
    pthread_mutex_unlock(&c->mu);
    free(text);
    return rc;
}

/* Sends a copy of data with key set to value (taken). */
static int send_with(oocsi_client *c, const char *recipient, const cJSON *data, const char *key, cJSON *value)
{
    cJSON *copy = cJSON_Duplicate(data, 1);
    if (!copy || !value) {
        cJSON_Delete(copy);
        cJSON_Delete(value);
        return OOCSI_ERR_NOMEM;
    }
    oocsi__delete_key(copy, key);
    cJSON_AddItemToObject(copy, key, value);
    int rc = oocsi_send(c, recipient, copy);
    cJSON_Delete(copy);
    return rc;
}

int oocsi_send_retained(oocsi_client *c, const char *channel, const cJSON *data, int seconds)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("channel", channel);
    OOCSI__CHECK(cJSON_IsObject(data), "data", "must be a JSON object");
    OOCSI__CHECK(seconds >= 1 && seconds <= RETAIN_MAX_S, "seconds", "must be 1 to 172800 (2 days)");
    return send_with(c, channel, data, "_RETAIN", cJSON_CreateNumber(seconds));
}

int oocsi_send_delayed(oocsi_client *c, const char *recipient, const cJSON *data, int seconds)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("recipient", recipient);
    OOCSI__CHECK(cJSON_IsObject(data), "data", "must be a JSON object");
    OOCSI__CHECK(seconds >= 1, "seconds", "must be at least 1 (use oocsi_send() for now)");
    return send_with(c, recipient, data, "_DELAY", cJSON_CreateNumber(seconds));
}

int oocsi_send_scheduled(oocsi_client *c, const char *recipient, const cJSON *data, int64_t at_epoch_s)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("recipient", recipient);
    OOCSI__CHECK(cJSON_IsObject(data), "data", "must be a JSON object");
    OOCSI__CHECK(at_epoch_s >= 0 && at_epoch_s <= 253402300799LL, "at_epoch_s", "must be 0 to the end of year 9999");
    time_t t = (time_t)at_epoch_s;
    struct tm tm;
    char when[32];
    if (!localtime_r(&t, &tm) || strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_send_scheduled: at_epoch_s %lld is no local time here",
                          (long long)at_epoch_s);
    return send_with(c, recipient, data, "_SCHEDULE", cJSON_CreateString(when));
}

/* Writes "channel:secret" into out after checking both parts. */
static int private_name(const char *fn, const char *channel, const char *secret, char **out)
{
    if (oocsi__validate_name(channel) != OOCSI_OK)
        return oocsi__bad_name(fn, "channel", channel);
    if (strchr(channel, ':'))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: channel \"%s\" has a ':' (give the secret separately)", fn, channel);
    if (!secret || !*secret)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: secret is %s", fn, secret ? "empty" : "NULL");
    if (oocsi__validate_name(secret) != OOCSI_OK || strchr(secret, ':'))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: secret may not hold whitespace, control characters or ':'", fn);
    size_t n = strlen(channel) + strlen(secret) + 2;
    *out = malloc(n);
    if (!*out)
        return OOCSI_ERR_NOMEM;
    snprintf(*out, n, "%s:%s", channel, secret);
    return OOCSI_OK;
}

int oocsi_subscribe_private(oocsi_client *c, const char *channel, const char *secret, oocsi_handler fn, void *user)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK(fn, "fn", "is NULL");
    char *name;
    int rc = private_name(__func__, channel, secret, &name);
    if (rc != OOCSI_OK)
        return rc;
    rc = oocsi_subscribe(c, name, fn, user);
    free(name);
    return rc;
}

int oocsi_send_private(oocsi_client *c, const char *channel, const char *secret, const cJSON *data)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK(cJSON_IsObject(data), "data", "must be a JSON object");
    char *name;
    int rc = private_name(__func__, channel, secret, &name);
    if (rc != OOCSI_OK)
        return rc;
    rc = oocsi_send(c, name, data);
    free(name);
    return rc;
}

int oocsi_unsubscribe_private(oocsi_client *c, const char *channel, const char *secret)
{
    OOCSI__CHECK(c, "c", "is NULL");
    char *name;
    int rc = private_name(__func__, channel, secret, &name);
    if (rc != OOCSI_OK)
        return rc;
    rc = oocsi_unsubscribe(c, name);
    free(name);
    return rc;
}
