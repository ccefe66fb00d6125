/*
 * Sync (oocsi_sync_*): a pulse shared by a group. Wire and arithmetic as the
 * Java OOCSISync: on "<channel>_sync" each member counts steps of
 * period_ms / 20 from 20 down to 0 and pulses after step 0 (21 steps per
 * cycle); at a step s0 of its own, drawn once, it sends {"handle": h,
 * "sync": s0, "cycle": n}. Hearing step s, a member compares the sender's
 * phase with its own and moves its count by at most one step towards it.
 * Built on the public API: an attached handler, a periodic timer, a lock.
 */
#include <pthread.h>
#include <stdlib.h>

#include "oocsi/behavior.h"
#include "groupwire.h"

#define STEPS 20 /* the Java class's resolution */

struct oocsi_sync {
    oocsi_client *c;
    pthread_mutex_t mu;
    char *channel;
    char *instance;
    int progress; /* steps left until the pulse */
    int cycle;    /* pulses so far (the group's highest count) */
    int synced;
    int send_at; /* the own step at which the position goes out */
    uint64_t rng;
    oocsi_sync_fn fn;
    void *user;
};

/* The Java class's share of the steps: round(max(1, STEPS * f)). */
static int steps(double f)
{
    double x = STEPS * f;
    return (int)oocsi__beh_round(x < 1 ? 1 : x);
}

static void on_tick(oocsi_client *c, void *user)
{
    oocsi_sync *s = user;
    pthread_mutex_lock(&s->mu);
    if (s->progress == s->send_at) {
        cJSON *o = cJSON_CreateObject();
        if (o && cJSON_AddStringToObject(o, "handle", s->instance) && cJSON_AddNumberToObject(o, "sync", s->progress) &&
            cJSON_AddNumberToObject(o, "cycle", s->cycle))
            oocsi_send(c, s->channel, o);
        cJSON_Delete(o);
    }
    int pulse = s->progress-- <= 0;
    if (pulse) {
        s->cycle++;
        s->progress = STEPS;
    }
    pthread_mutex_unlock(&s->mu);
    if (pulse && s->fn)
        s->fn(s, s->user);
}

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    oocsi_sync *s = user;
    const cJSON *data = oocsi_message_data(msg);
    (void)c;
    pthread_mutex_lock(&s->mu);
    if (cJSON_GetObjectItemCaseSensitive(data, "sync")) {
        /* the sender's phase seen from here (C's % truncates like Java's) */
        int diff = (s->progress + STEPS - oocsi__beh_int(data, "sync", 0)) % STEPS;
        if (diff < steps(0.05) || diff > steps(0.95)) {
            s->synced = 1;
        } else if (diff <= steps(0.9)) {
            /* a random step back or none, minus one when the sender is
             * behind by half a cycle or more: -1, 0 or +1 in all */
            int64_t nudge = oocsi__beh_round(steps(1.0 / STEPS) * oocsi__beh_random(&s->rng)) -
                            oocsi__beh_round((double)((float)diff / (float)STEPS));
            s->progress -= (int)nudge;
            s->synced = 0;
        } else {
            s->synced = 0;
        }
    }
    if (cJSON_GetObjectItemCaseSensitive(data, "cycle")) {
        int n = oocsi__beh_int(data, "cycle", 0);
        if (n > s->cycle)
            s->cycle = n;
    }
    pthread_mutex_unlock(&s->mu);
}

static void sync_destroy(oocsi_sync *s)
{
    pthread_mutex_destroy(&s->mu);
    free(s->channel);
    free(s->instance);
    free(s);
}

oocsi_sync *oocsi_sync_new(oocsi_client *c, const char *channel, int period_ms, oocsi_sync_fn fn, void *user)
{
    if (oocsi__beh_check(__func__, c, channel, NULL, 0) != OOCSI_OK)
        return NULL;
    if (period_ms < STEPS) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_sync_new: period_ms must be >= %d (one step is period_ms / %d; got %d)",
                   STEPS, STEPS, period_ms);
        return NULL;
    }
    oocsi_sync *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->c = c;
    s->fn = fn;
    s->user = user;
    s->rng = oocsi__beh_seed(s);
    s->send_at = (int)(oocsi__beh_random(&s->rng) * STEPS);
    s->channel = oocsi__beh_channel(channel, NULL, "sync");
    s->instance = oocsi__beh_instance(c);
    if (!s->channel || !s->instance) {
        sync_destroy(s);
        return NULL;
    }
    int rc = oocsi_attach(c, s->channel, on_message, s);
    if (rc == OOCSI_OK || rc == OOCSI_ERR_TIMEOUT)
        rc = oocsi_timer_start(c, period_ms / STEPS, period_ms / STEPS, on_tick, s);
    if (rc != OOCSI_OK) {
        oocsi_unsubscribe_handler(c, s->channel, on_message, s);
        sync_destroy(s);
        return NULL;
    }
    return s;
}

void oocsi_sync_free(oocsi_sync *s)
{
    if (!s)
        return;
    oocsi_timer_stop(s->c, on_tick, s);
    oocsi_unsubscribe_handler(s->c, s->channel, on_message, s);
    sync_destroy(s);
}

static int read_int(const oocsi_sync *s, const int *field)
{
    oocsi_sync *m = (oocsi_sync *)s;
    pthread_mutex_lock(&m->mu);
    int v = *field;
    pthread_mutex_unlock(&m->mu);
    return v;
}

int oocsi_sync_is_synced(const oocsi_sync *s)
{
    return s ? read_int(s, &s->synced) : 0;
}

int oocsi_sync_progress(const oocsi_sync *s)
{
    return s ? read_int(s, &s->progress) : oocsi_fail(OOCSI_ERR_INVAL, "oocsi_sync_progress: s is NULL");
}

int oocsi_sync_cycle(const oocsi_sync *s)
{
    return s ? read_int(s, &s->cycle) : oocsi_fail(OOCSI_ERR_INVAL, "oocsi_sync_cycle: s is NULL");
}
