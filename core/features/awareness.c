/*
 * Awareness (the Java client's OOCSIAwareness): what every member of a
 * group last said on "<channel>_awareness", per sender and key.
 *
 * Built on the public API: a handler attached to the channel merges each
 * message's keys (all, or the chosen ones) into the sender's entry and
 * stamps it; readers drop entries older than the timeout. One lock guards
 * the entries: the loop thread writes while any thread reads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oocsi/behavior.h"

typedef struct entry {
    char *node;
    cJSON *data; /* object: key -> latest value */
    int64_t seen;
    struct entry *next;
} entry;

struct oocsi_awareness {
    oocsi_client *c;
    pthread_mutex_t mu;
    char *channel;
    char **keys;
    size_t n_keys;
    int timeout_ms;
    entry *entries;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_entry(entry *e)
{
    free(e->node);
    cJSON_Delete(e->data);
    free(e);
}

/* Drops the timed-out entries. Lock held. */
static void expire(oocsi_awareness *a)
{
    if (a->timeout_ms <= 0)
        return;
    int64_t now = mono_ms();
    for (entry **p = &a->entries; *p;) {
        if (now - (*p)->seen >= a->timeout_ms) {
            entry *e = *p;
            *p = e->next;
            free_entry(e);
        } else
            p = &(*p)->next;
    }
}

/* The live entry of node, or NULL. Lock held. */
static entry *find(oocsi_awareness *a, const char *node)
{
    expire(a);
    for (entry *e = a->entries; e; e = e->next)
        if (strcmp(e->node, node) == 0)
            return e;
    return NULL;
}

static int wanted(const oocsi_awareness *a, const char *key)
{
    if (a->n_keys == 0)
        return 1;
    for (size_t i = 0; i < a->n_keys; i++)
        if (strcmp(a->keys[i], key) == 0)
            return 1;
    return 0;
}

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    oocsi_awareness *a = user;
    (void)c;
    const char *sender = oocsi_message_sender(msg);
    const cJSON *data = oocsi_message_data(msg);
    if (!sender || !*sender)
        return;
    pthread_mutex_lock(&a->mu);
    entry *e = find(a, sender);
    if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
        e->node = strdup(sender);
        e->data = cJSON_CreateObject();
        if (!e->node || !e->data) {
            free_entry(e);
            e = NULL;
        } else {
            e->next = a->entries;
            a->entries = e;
        }
    }
    if (e) {
        e->seen = mono_ms();
        const cJSON *it;
        cJSON_ArrayForEach(it, data)
        {
            if (!it->string || cJSON_IsNull(it) || !wanted(a, it->string))
                continue; /* Java keeps no null values of chosen keys either */
            cJSON *copy = cJSON_Duplicate(it, 1);
            if (!copy)
                continue;
            if (cJSON_GetObjectItemCaseSensitive(e->data, it->string))
                cJSON_ReplaceItemInObjectCaseSensitive(e->data, it->string, copy);
            else
                cJSON_AddItemToObject(e->data, it->string, copy);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

static void awareness_destroy(oocsi_awareness *a)
{
    while (a->entries) {
        entry *e = a->entries;
        a->entries = e->next;
        free_entry(e);
    }
    for (size_t i = 0; i < a->n_keys; i++)
        free(a->keys[i]);
    free(a->keys);
    free(a->channel);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

oocsi_awareness *oocsi_awareness_new(oocsi_client *c, const char *channel, const char *const *keys, size_t n,
                                     int timeout_ms)
{
    const char *bad = !c                      ? "c is NULL"
                      : !channel || !*channel ? "channel is NULL or empty"
                      : n > 0 && !keys        ? "keys is NULL while n > 0"
                      : timeout_ms < 0        ? "timeout_ms must be >= 0 (0: never forget)"
                                              : NULL;
    for (size_t i = 0; !bad && i < n; i++)
        if (!keys[i] || !*keys[i])
            bad = "every key must be a non-empty string";
    for (const char *p = channel; !bad && *p; p++)
        if ((unsigned char)*p <= 0x20)
            bad = "channel contains a space or a control character";
    if (bad) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_awareness_new: %s", bad);
        return NULL;
    }
    oocsi_awareness *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    a->c = c;
    a->timeout_ms = timeout_ms;
    size_t len = strlen(channel) + sizeof "_awareness";
    a->channel = malloc(len);
    a->keys = n ? calloc(n, sizeof(char *)) : NULL;
    int ok = a->channel && (n == 0 || a->keys);
    if (a->channel)
        snprintf(a->channel, len, "%s_awareness", channel);
    for (size_t i = 0; ok && i < n; i++, a->n_keys++)
        ok = (a->keys[i] = strdup(keys[i])) != NULL;
    if (!ok) {
        awareness_destroy(a);
        return NULL;
    }
    int rc = oocsi_attach(c, a->channel, on_message, a);
    if (rc != OOCSI_OK && rc != OOCSI_ERR_TIMEOUT) {
        oocsi_unsubscribe_handler(c, a->channel, on_message, a);
        awareness_destroy(a);
        return NULL;
    }
    return a;
}

void oocsi_awareness_free(oocsi_awareness *a)
{
    if (!a)
        return;
    oocsi_unsubscribe_handler(a->c, a->channel, on_message, a);
    awareness_destroy(a);
}

int oocsi_awareness_set(oocsi_awareness *a, const char *key, const cJSON *value)
{
    if (!a || !key || !*key || !value)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_awareness_set: %s",
                          !a      ? "a is NULL"
                          : !key  ? "key is NULL"
                          : !*key ? "key is empty"
                                  : "value is NULL");
    cJSON *o = cJSON_CreateObject();
    cJSON *v = cJSON_Duplicate(value, 1);
    if (!o || !v) {
        cJSON_Delete(o);
        cJSON_Delete(v);
        return OOCSI_ERR_NOMEM;
    }
    cJSON_AddItemToObject(o, key, v);
    int rc = oocsi_send(a->c, a->channel, o);
    cJSON_Delete(o);
    return rc;
}

int oocsi_awareness_set_number(oocsi_awareness *a, const char *key, double value)
{
    cJSON *v = cJSON_CreateNumber(value);
    if (!v)
        return OOCSI_ERR_NOMEM;
    int rc = oocsi_awareness_set(a, key, v);
    cJSON_Delete(v);
    return rc;
}

int oocsi_awareness_set_string(oocsi_awareness *a, const char *key, const char *value)
{
    if (!value)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_awareness_set_string: value is NULL");
    cJSON *v = cJSON_CreateString(value);
    if (!v)
        return OOCSI_ERR_NOMEM;
    int rc = oocsi_awareness_set(a, key, v);
    cJSON_Delete(v);
    return rc;
}

/* A copy of node's value under key (NULL if none); lock taken here. */
static cJSON *get_copy(oocsi_awareness *a, const char *node, const char *key)
{
    pthread_mutex_lock(&a->mu);
    entry *e = find(a, node);
    cJSON *v = e ? cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e->data, key), 1) : NULL;
    pthread_mutex_unlock(&a->mu);
    return v;
}

cJSON *oocsi_awareness_get(oocsi_awareness *a, const char *node, const char *key)
{
    if (!a || !node || !key) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_awareness_get: %s is NULL", !a ? "a" : !node ? "node" : "key");
        return NULL;
    }
    return get_copy(a, node, key);
}

double oocsi_awareness_get_number(oocsi_awareness *a, const char *node, const char *key, double dflt)
{
    cJSON *v = oocsi_awareness_get(a, node, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : dflt;
    cJSON_Delete(v);
    return d;
}

char *oocsi_awareness_get_string(oocsi_awareness *a, const char *node, const char *key)
{
    cJSON *v = oocsi_awareness_get(a, node, key);
    char *s = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
    cJSON_Delete(v);
    return s;
}

int oocsi_awareness_contains(oocsi_awareness *a, const char *node)
{
    if (!a || !node) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_awareness_contains: %s is NULL", a ? "node" : "a");
        return 0;
    }
    pthread_mutex_lock(&a->mu);
    int found = find(a, node) != NULL;
    pthread_mutex_unlock(&a->mu);
    return found;
}

int oocsi_awareness_size(oocsi_awareness *a)
{
    return oocsi_awareness_each(a, NULL, NULL);
}

int oocsi_awareness_remove(oocsi_awareness *a, const char *node)
{
    if (!a || !node)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_awareness_remove: %s is NULL", a ? "node" : "a");
    pthread_mutex_lock(&a->mu);
    for (entry **p = &a->entries; *p; p = &(*p)->next)
        if (strcmp((*p)->node, node) == 0) {
            entry *e = *p;
            *p = e->next;
            free_entry(e);
            break;
        }
    pthread_mutex_unlock(&a->mu);
    return OOCSI_OK;
}

int oocsi_awareness_each(oocsi_awareness *a, oocsi_awareness_each_fn fn, void *user)
{
    if (!a)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_awareness: a is NULL");
    pthread_mutex_lock(&a->mu);
    expire(a);
    int n = 0;
    for (entry *e = a->entries; e; e = e->next, n++)
        if (fn)
            fn(e->node, e->data, user);
    pthread_mutex_unlock(&a->mu);
    return n;
}
