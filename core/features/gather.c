/*
 * Gather (oocsi_gather_*): every member's value for one key, as a histogram.
 * Wire, as the Java OOCSIGather: on "<channel>_<key>_gather" a round is
 * {"handle": h, "call": ""} followed by the starter's {"handle": h, "vote":
 * v}; every member answers a call with its own vote. Votes are keyed by the
 * message's sender. Built on the public API: an attached handler, a one-shot
 * timer for the end of a round, and a lock for the table.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/behavior.h"
#include "groupwire.h"

struct oocsi_gather {
    oocsi_client *c;
    pthread_mutex_t mu;
    char *channel;
    char *instance;
    int timeout_ms;
    cJSON *mine;  /* own value, NULL before the first set */
    cJSON *votes; /* {sender: value} */
    oocsi_gather_fn fn;
    void *user;
};

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    oocsi_gather *g = user;
    const cJSON *data = oocsi_message_data(msg);
    pthread_mutex_lock(&g->mu);
    if (cJSON_GetObjectItemCaseSensitive(data, "call")) {
        /* a new round: forget the table, answer with the own value */
        cJSON_Delete(g->votes);
        g->votes = cJSON_CreateObject();
        if (g->mine && g->votes) {
            oocsi__beh_table_put(g->votes, oocsi_handle(c), g->mine);
            oocsi__beh_send(c, g->channel, g->instance, "vote", cJSON_Duplicate(g->mine, 1));
        }
    } else {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "vote");
        const char *sender = oocsi_message_sender(msg);
        if (v && !cJSON_IsNull(v) && sender && *sender && g->votes)
            oocsi__beh_table_put(g->votes, sender, v);
    }
    pthread_mutex_unlock(&g->mu);
}

static void on_round_end(oocsi_client *c, void *user)
{
    oocsi_gather *g = user;
    (void)c;
    if (g->fn)
        g->fn(g, g->user);
}

static void gather_destroy(oocsi_gather *g)
{
    pthread_mutex_destroy(&g->mu);
    free(g->channel);
    free(g->instance);
    cJSON_Delete(g->mine);
    cJSON_Delete(g->votes);
    free(g);
}

oocsi_gather *oocsi_gather_new(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                               oocsi_gather_fn fn, void *user)
{
    if (oocsi__beh_check(__func__, c, channel, key, 1) != OOCSI_OK)
        return NULL;
    if (timeout_ms <= 0) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_gather_new: timeout_ms must be > 0 (got %d)", timeout_ms);
        return NULL;
    }
    oocsi_gather *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    pthread_mutex_init(&g->mu, NULL);
    g->c = c;
    g->timeout_ms = timeout_ms;
    g->fn = fn;
    g->user = user;
    g->channel = oocsi__beh_channel(channel, key, "gather");
    g->instance = oocsi__beh_instance(c);
    g->votes = cJSON_CreateObject();
    if (!g->channel || !g->instance || !g->votes) {
        gather_destroy(g);
        return NULL;
    }
    int rc = oocsi_attach(c, g->channel, on_message, g);
    if (rc != OOCSI_OK && rc != OOCSI_ERR_TIMEOUT) {
        oocsi_unsubscribe_handler(c, g->channel, on_message, g);
        gather_destroy(g);
        return NULL;
    }
    return g;
}

void oocsi_gather_free(oocsi_gather *g)
{
    if (!g)
        return;
    oocsi_unsubscribe_handler(g->c, g->channel, on_message, g);
    oocsi_timer_stop(g->c, on_round_end, g);
    gather_destroy(g);
}

/* Takes value. */
static int set_value(const char *fn, oocsi_gather *g, cJSON *value)
{
    if (!g || !value || cJSON_IsNull(value) || cJSON_IsInvalid(value)) {
        cJSON_Delete(value);
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s", fn, !g ? "g is NULL" : "value is NULL or JSON null");
    }
    pthread_mutex_lock(&g->mu);
    if (g->mine && cJSON_Compare(g->mine, value, 1)) {
        pthread_mutex_unlock(&g->mu);
        cJSON_Delete(value);
        return OOCSI_OK;
    }
    cJSON_Delete(g->mine);
    g->mine = value;
    /* a round: clear, ask everybody, count and send the own value */
    cJSON_Delete(g->votes);
    g->votes = cJSON_CreateObject();
    int rc =
        g->votes ? oocsi__beh_send(g->c, g->channel, g->instance, "call", cJSON_CreateString("")) : OOCSI_ERR_NOMEM;
    if (rc == OOCSI_OK)
        rc = oocsi__beh_table_put(g->votes, oocsi_handle(g->c), value);
    if (rc == OOCSI_OK)
        rc = oocsi__beh_send(g->c, g->channel, g->instance, "vote", cJSON_Duplicate(value, 1));
    pthread_mutex_unlock(&g->mu);
    if (rc == OOCSI_OK)
        rc = oocsi_timer_start(g->c, g->timeout_ms, 0, on_round_end, g);
    return rc;
}

int oocsi_gather_set(oocsi_gather *g, const cJSON *value)
{
    return set_value(__func__, g, value ? cJSON_Duplicate(value, 1) : NULL);
}

int oocsi_gather_set_int(oocsi_gather *g, int64_t value)
{
    return set_value(__func__, g, cJSON_CreateNumber((double)value));
}

int oocsi_gather_set_double(oocsi_gather *g, double value)
{
    if (!isfinite(value))
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_gather_set_double: value must be finite (got %g)", value);
    return set_value(__func__, g, cJSON_CreateNumber(value));
}

int oocsi_gather_set_string(oocsi_gather *g, const char *value)
{
    return set_value(__func__, g, value ? cJSON_CreateString(value) : NULL);
}

int oocsi_gather_set_bool(oocsi_gather *g, int value)
{
    return set_value(__func__, g, cJSON_CreateBool(value != 0));
}

cJSON *oocsi_gather_votes(const oocsi_gather *g)
{
    if (!g) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_gather_votes: g is NULL");
        return NULL;
    }
    oocsi_gather *m = (oocsi_gather *)g;
    pthread_mutex_lock(&m->mu);
    cJSON *copy = cJSON_Duplicate(m->votes, 1);
    pthread_mutex_unlock(&m->mu);
    return copy;
}

cJSON *oocsi_gather_get(const oocsi_gather *g)
{
    if (!g) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_gather_get: g is NULL");
        return NULL;
    }
    oocsi_gather *m = (oocsi_gather *)g;
    pthread_mutex_lock(&m->mu);
    cJSON *h = oocsi__beh_histogram(m->votes);
    pthread_mutex_unlock(&m->mu);
    return h;
}
