/*
 * Consensus (oocsi_consensus_*): one value a group agrees on. Wire, as the
 * Java OOCSIConsensus: on "<channel>_<key>_consensus" a member that votes
 * sends {"handle": h, "call": ""}; members answer a call with {"handle": h,
 * "vote": v}; timeout_ms after its call the member computes the result and
 * sends {"handle": h, "consensus": r}, which every member adopts. Votes are
 * keyed by the message's sender. Built on the public API: an attached
 * handler, a one-shot timer per round and a lock.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/behavior.h"
#include "groupwire.h"

struct oocsi_consensus {
    oocsi_client *c;
    pthread_mutex_t mu;
    char *channel;
    char *instance;
    int timeout_ms;
    oocsi_consensus_rule rule;
    cJSON *mine;   /* own vote, NULL before the first */
    cJSON *result; /* computed or adopted, NULL before the first */
    cJSON *votes;  /* {sender: vote} */
    oocsi_consensus_fn fn;
    void *user;
};

/* The result of the votes by the rule (NULL when out of memory). */
static cJSON *aggregate(const oocsi_consensus *cs)
{
    if (cs->rule == OOCSI_CONSENSUS_MAJORITY) {
        cJSON *h = oocsi__beh_histogram(cs->votes);
        cJSON *first = cJSON_GetArrayItem(h, 0);
        cJSON *r =
            first ? cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(first, "value"), 1) : cJSON_Duplicate(cs->mine, 1);
        cJSON_Delete(h);
        return r;
    }
    /* Averages: the numeric votes summed, divided by the number of all votes
     * (as the Java class divides). */
    double sum = 0;
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cs->votes)
    {
        n++;
        if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
            sum += v->valuedouble;
    }
    double avg = n ? sum / n : 0;
    if (cs->rule == OOCSI_CONSENSUS_AVERAGE_INT)
        avg = (double)(int64_t)avg; /* truncated towards zero, as a Java (int) cast */
    return cJSON_CreateNumber(avg);
}

static void on_round_end(oocsi_client *c, void *user)
{
    oocsi_consensus *cs = user;
    pthread_mutex_lock(&cs->mu);
    cJSON *r = aggregate(cs);
    if (r) {
        cJSON_Delete(cs->result);
        cs->result = r;
        oocsi__beh_send(c, cs->channel, cs->instance, "consensus", cJSON_Duplicate(r, 1));
    }
    pthread_mutex_unlock(&cs->mu);
    if (r && cs->fn)
        cs->fn(cs, 0, cs->user);
}

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    oocsi_consensus *cs = user;
    const cJSON *data = oocsi_message_data(msg);
    const cJSON *v;
    int adopted = 0;
    pthread_mutex_lock(&cs->mu);
    if (cJSON_GetObjectItemCaseSensitive(data, "call")) {
        if (cs->mine)
            oocsi__beh_send(c, cs->channel, cs->instance, "vote", cJSON_Duplicate(cs->mine, 1));
    } else if ((v = cJSON_GetObjectItemCaseSensitive(data, "vote")) != NULL) {
        const char *sender = oocsi_message_sender(msg);
        if (!cJSON_IsNull(v) && sender && *sender)
            oocsi__beh_table_put(cs->votes, sender, v);
    } else if ((v = cJSON_GetObjectItemCaseSensitive(data, "consensus")) != NULL && !cJSON_IsNull(v)) {
        cJSON *r = cJSON_Duplicate(v, 1);
        if (r) {
            cJSON_Delete(cs->result);
            cs->result = r;
            adopted = 1;
        }
    }
    pthread_mutex_unlock(&cs->mu);
    if (adopted && cs->fn)
        cs->fn(cs, 1, cs->user);
}

static void consensus_destroy(oocsi_consensus *cs)
{
    pthread_mutex_destroy(&cs->mu);
    free(cs->channel);
    free(cs->instance);
    cJSON_Delete(cs->mine);
    cJSON_Delete(cs->result);
    cJSON_Delete(cs->votes);
    free(cs);
}

static oocsi_consensus *create(const char *fn, oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                               oocsi_consensus_rule rule, oocsi_consensus_fn cb, void *user)
{
    if (oocsi__beh_check(fn, c, channel, key, 1) != OOCSI_OK)
        return NULL;
    if (timeout_ms <= 0) {
        oocsi_fail(OOCSI_ERR_INVAL, "%s: timeout_ms must be > 0 (got %d)", fn, timeout_ms);
        return NULL;
    }
    if (rule != OOCSI_CONSENSUS_MAJORITY && rule != OOCSI_CONSENSUS_AVERAGE_INT && rule != OOCSI_CONSENSUS_AVERAGE) {
        oocsi_fail(OOCSI_ERR_INVAL, "%s: rule %d is not an oocsi_consensus_rule", fn, (int)rule);
        return NULL;
    }
    oocsi_consensus *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    pthread_mutex_init(&cs->mu, NULL);
    cs->c = c;
    cs->timeout_ms = timeout_ms;
    cs->rule = rule;
    cs->fn = cb;
    cs->user = user;
    cs->channel = oocsi__beh_channel(channel, key, "consensus");
    cs->instance = oocsi__beh_instance(c);
    cs->votes = cJSON_CreateObject();
    if (!cs->channel || !cs->instance || !cs->votes) {
        consensus_destroy(cs);
        return NULL;
    }
    int rc = oocsi_attach(c, cs->channel, on_message, cs);
    if (rc != OOCSI_OK && rc != OOCSI_ERR_TIMEOUT) {
        oocsi_unsubscribe_handler(c, cs->channel, on_message, cs);
        consensus_destroy(cs);
        return NULL;
    }
    return cs;
}

oocsi_consensus *oocsi_consensus_new(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                     oocsi_consensus_rule rule, oocsi_consensus_fn fn, void *user)
{
    return create(__func__, c, channel, key, timeout_ms, rule, fn, user);
}

/* A consensus that starts with a vote (the Java factories' forms). Takes first. */
static oocsi_consensus *create_voting(const char *fn, oocsi_client *c, const char *channel, const char *key,
                                      int timeout_ms, oocsi_consensus_rule rule, oocsi_consensus_fn cb, void *user,
                                      cJSON *first)
{
    oocsi_consensus *cs = create(fn, c, channel, key, timeout_ms, rule, cb, user);
    if (cs && (!first || oocsi_consensus_vote(cs, first) != OOCSI_OK)) {
        oocsi_consensus_free(cs);
        cs = NULL;
    }
    cJSON_Delete(first);
    return cs;
}

oocsi_consensus *oocsi_consensus_new_int(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                         oocsi_consensus_fn fn, void *user)
{
    return create_voting(__func__, c, channel, key, timeout_ms, OOCSI_CONSENSUS_MAJORITY, fn, user,
                         cJSON_CreateNumber(0));
}

oocsi_consensus *oocsi_consensus_new_int_avg(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                             oocsi_consensus_fn fn, void *user)
{
    return create_voting(__func__, c, channel, key, timeout_ms, OOCSI_CONSENSUS_AVERAGE_INT, fn, user,
                         cJSON_CreateNumber(0));
}

oocsi_consensus *oocsi_consensus_new_float_avg(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                               oocsi_consensus_fn fn, void *user)
{
    return create_voting(__func__, c, channel, key, timeout_ms, OOCSI_CONSENSUS_AVERAGE, fn, user,
                         cJSON_CreateNumber(0));
}

oocsi_consensus *oocsi_consensus_new_string(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                            oocsi_consensus_fn fn, void *user)
{
    return create_voting(__func__, c, channel, key, timeout_ms, OOCSI_CONSENSUS_MAJORITY, fn, user,
                         cJSON_CreateString(""));
}

oocsi_consensus *oocsi_consensus_new_bool(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                          oocsi_consensus_fn fn, void *user)
{
    return create(__func__, c, channel, key, timeout_ms, OOCSI_CONSENSUS_MAJORITY, fn, user);
}

void oocsi_consensus_free(oocsi_consensus *cs)
{
    if (!cs)
        return;
    oocsi_unsubscribe_handler(cs->c, cs->channel, on_message, cs);
    oocsi_timer_stop(cs->c, on_round_end, cs);
    consensus_destroy(cs);
}

/* Takes value. */
static int vote(const char *fn, oocsi_consensus *cs, cJSON *value)
{
    if (!cs || !value || cJSON_IsNull(value) || cJSON_IsInvalid(value)) {
        cJSON_Delete(value);
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s", fn, !cs ? "cs is NULL" : "value is NULL or JSON null");
    }
    pthread_mutex_lock(&cs->mu);
    if (cs->mine && cJSON_Compare(cs->mine, value, 1)) {
        pthread_mutex_unlock(&cs->mu);
        cJSON_Delete(value);
        return OOCSI_OK;
    }
    cJSON_Delete(cs->mine);
    cs->mine = value;
    /* a round: only the own vote so far, then ask the others */
    cJSON *votes = cJSON_CreateObject();
    int rc = votes ? oocsi__beh_table_put(votes, oocsi_handle(cs->c), value) : OOCSI_ERR_NOMEM;
    if (rc == OOCSI_OK) {
        cJSON_Delete(cs->votes);
        cs->votes = votes;
        rc = oocsi__beh_send(cs->c, cs->channel, cs->instance, "call", cJSON_CreateString(""));
    } else {
        cJSON_Delete(votes);
    }
    pthread_mutex_unlock(&cs->mu);
    if (rc == OOCSI_OK)
        rc = oocsi_timer_start(cs->c, cs->timeout_ms, 0, on_round_end, cs);
    return rc;
}

int oocsi_consensus_vote(oocsi_consensus *cs, const cJSON *value)
{
    return vote(__func__, cs, value ? cJSON_Duplicate(value, 1) : NULL);
}

int oocsi_consensus_vote_int(oocsi_consensus *cs, int64_t value)
{
    return vote(__func__, cs, cJSON_CreateNumber((double)value));
}

int oocsi_consensus_vote_double(oocsi_consensus *cs, double value)
{
    if (!isfinite(value))
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_consensus_vote_double: value must be finite (got %g)", value);
    return vote(__func__, cs, cJSON_CreateNumber(value));
}

int oocsi_consensus_vote_string(oocsi_consensus *cs, const char *value)
{
    return vote(__func__, cs, value ? cJSON_CreateString(value) : NULL);
}

int oocsi_consensus_vote_bool(oocsi_consensus *cs, int value)
{
    return vote(__func__, cs, cJSON_CreateBool(value != 0));
}

int oocsi_consensus_has_result(const oocsi_consensus *cs)
{
    if (!cs)
        return 0;
    oocsi_consensus *m = (oocsi_consensus *)cs;
    pthread_mutex_lock(&m->mu);
    int r = m->result != NULL;
    pthread_mutex_unlock(&m->mu);
    return r;
}

cJSON *oocsi_consensus_get(const oocsi_consensus *cs)
{
    if (!cs) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_consensus_get: cs is NULL");
        return NULL;
    }
    oocsi_consensus *m = (oocsi_consensus *)cs;
    pthread_mutex_lock(&m->mu);
    const cJSON *v = m->result ? m->result : m->mine;
    cJSON *copy = v ? cJSON_Duplicate(v, 1) : NULL;
    pthread_mutex_unlock(&m->mu);
    return copy;
}

int64_t oocsi_consensus_get_int(const oocsi_consensus *cs, int64_t dflt)
{
    cJSON *v = oocsi_consensus_get(cs);
    int64_t r =
        cJSON_IsNumber(v) && v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18 ? (int64_t)v->valuedouble : dflt;
    cJSON_Delete(v);
    return r;
}

double oocsi_consensus_get_double(const oocsi_consensus *cs, double dflt)
{
    cJSON *v = oocsi_consensus_get(cs);
    double r = cJSON_IsNumber(v) ? v->valuedouble : dflt;
    cJSON_Delete(v);
    return r;
}

int oocsi_consensus_get_bool(const oocsi_consensus *cs, int dflt)
{
    cJSON *v = oocsi_consensus_get(cs);
    int r = cJSON_IsBool(v) ? cJSON_IsTrue(v) : cJSON_IsNumber(v) ? v->valuedouble != 0 : dflt;
    cJSON_Delete(v);
    return r;
}

char *oocsi_consensus_dup_string(const oocsi_consensus *cs)
{
    cJSON *v = oocsi_consensus_get(cs);
    char *r = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
    cJSON_Delete(v);
    return r;
}
