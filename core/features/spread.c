/*
 * Spread (oocsi_spread_*): distinct role numbers for the members of a group.
 * Wire and rules as the Java OOCSISpread: on "<channel>_<key>_spread" a
 * member with a role sends {"handle": h, "role": r} every fifth frame; the
 * roles heard are kept per "handle" (the instance, not the client), and a
 * member that hears its own role from another instance gives it up and picks
 * the smallest number nobody announced in its next frame. Frames come from a
 * periodic timer whose period is drawn once per member. Built on the public
 * API: an attached handler, the timer, a lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/behavior.h"
#include "groupwire.h"

#define ANNOUNCE_EVERY 5 /* frames */
#define DONE_AFTER 10    /* frames without a change */
#define REBALANCE 80     /* frames per role number */

struct oocsi_spread {
    oocsi_client *c;
    pthread_mutex_t mu;
    char *channel;
    char *instance;
    cJSON *roles; /* {instance handle: role} */
    int role;     /* 0: none chosen */
    int64_t frames, since_change;
    int rebalancing;
    int was_done;
    oocsi_spread_fn fn;
    void *user;
};

static int role_taken(const oocsi_spread *sp, int role)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, sp->roles)
    {
        if (cJSON_IsNumber(v) && v->valueint == role)
            return 1;
    }
    return 0;
}

static void clear(oocsi_spread *sp)
{
    cJSON *fresh = cJSON_CreateObject();
    if (fresh) {
        cJSON_Delete(sp->roles);
        sp->roles = fresh;
    }
    sp->role = 0;
    sp->frames = 0;
    sp->since_change = 0;
}

static int is_done(const oocsi_spread *sp)
{
    return sp->role != -1 && sp->since_change > DONE_AFTER;
}

static void on_frame(oocsi_client *c, void *user)
{
    oocsi_spread *sp = user;
    pthread_mutex_lock(&sp->mu);
    sp->frames++;
    sp->since_change++;
    if (sp->role == 0) {
        int r = 1;
        while (role_taken(sp, r))
            r++;
        sp->role = r;
        sp->since_change = 0;
    }
    if (sp->role > 0) {
        if (sp->rebalancing && sp->since_change > (int64_t)REBALANCE * sp->role)
            clear(sp); /* then announces role 0 below, as the Java class does */
        if (sp->frames % ANNOUNCE_EVERY == 0)
            oocsi__beh_send(c, sp->channel, sp->instance, "role", cJSON_CreateNumber(sp->role));
    }
    int done = is_done(sp);
    int became_done = done && !sp->was_done;
    sp->was_done = done;
    int role = sp->role;
    pthread_mutex_unlock(&sp->mu);
    if (became_done && sp->fn)
        sp->fn(sp, role, sp->user);
}

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    oocsi_spread *sp = user;
    const cJSON *data = oocsi_message_data(msg);
    (void)c;
    if (!cJSON_GetObjectItemCaseSensitive(data, "role"))
        return;
    int role = oocsi__beh_int(data, "role", -1);
    const char *id = oocsi_message_get_string(msg, "handle");
    if (role <= -1 || !id || !*id)
        return;
    cJSON *r = cJSON_CreateNumber(role);
    if (!r)
        return;
    pthread_mutex_lock(&sp->mu);
    oocsi__beh_table_put(sp->roles, id, r);
    if (role == sp->role && strcmp(id, sp->instance) != 0) {
        sp->role = 0; /* taken by another: pick again next frame */
        sp->since_change = 0;
    }
    pthread_mutex_unlock(&sp->mu);
    cJSON_Delete(r);
}

static void spread_destroy(oocsi_spread *sp)
{
    pthread_mutex_destroy(&sp->mu);
    free(sp->channel);
    free(sp->instance);
    cJSON_Delete(sp->roles);
    free(sp);
}

oocsi_spread *oocsi_spread_new(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                               oocsi_spread_fn fn, void *user)
{
    if (oocsi__beh_check(__func__, c, channel, key, 1) != OOCSI_OK)
        return NULL;
    if (timeout_ms < 20) {
        oocsi_fail(OOCSI_ERR_INVAL,
                   "oocsi_spread_new: timeout_ms must be >= 20 (a frame lasts at least timeout_ms / "
                   "20; got %d)",
                   timeout_ms);
        return NULL;
    }
    oocsi_spread *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return NULL;
    pthread_mutex_init(&sp->mu, NULL);
    sp->c = c;
    sp->fn = fn;
    sp->user = user;
    sp->channel = oocsi__beh_channel(channel, key, "spread");
    sp->instance = oocsi__beh_instance(c);
    sp->roles = cJSON_CreateObject();
    if (!sp->channel || !sp->instance || !sp->roles) {
        spread_destroy(sp);
        return NULL;
    }
    /* The first frame and the frame period, each timeout/20 plus a random
     * part of up to timeout, as the Java class draws them. */
    uint64_t rng = oocsi__beh_seed(sp);
    int64_t delay = timeout_ms / 20 + oocsi__beh_round(oocsi__beh_random(&rng) * timeout_ms);
    int64_t period = timeout_ms / 20 + oocsi__beh_round(oocsi__beh_random(&rng) * timeout_ms);
    int rc = oocsi_attach(c, sp->channel, on_message, sp);
    if (rc == OOCSI_OK || rc == OOCSI_ERR_TIMEOUT)
        rc = oocsi_timer_start(c, (int)delay, (int)period, on_frame, sp);
    if (rc != OOCSI_OK) {
        oocsi_unsubscribe_handler(c, sp->channel, on_message, sp);
        spread_destroy(sp);
        return NULL;
    }
    return sp;
}

void oocsi_spread_free(oocsi_spread *sp)
{
    if (!sp)
        return;
    oocsi_timer_stop(sp->c, on_frame, sp);
    oocsi_unsubscribe_handler(sp->c, sp->channel, on_message, sp);
    spread_destroy(sp);
}

int oocsi_spread_get(const oocsi_spread *sp)
{
    if (!sp)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spread_get: sp is NULL");
    oocsi_spread *m = (oocsi_spread *)sp;
    pthread_mutex_lock(&m->mu);
    int r = m->role;
    pthread_mutex_unlock(&m->mu);
    return r;
}

int oocsi_spread_is_done(const oocsi_spread *sp)
{
    if (!sp)
        return 0;
    oocsi_spread *m = (oocsi_spread *)sp;
    pthread_mutex_lock(&m->mu);
    int r = is_done(m);
    pthread_mutex_unlock(&m->mu);
    return r;
}

int oocsi_spread_reset(oocsi_spread *sp)
{
    if (!sp)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spread_reset: sp is NULL");
    pthread_mutex_lock(&sp->mu);
    clear(sp);
    pthread_mutex_unlock(&sp->mu);
    return OOCSI_OK;
}

int oocsi_spread_set_rebalancing(oocsi_spread *sp, int on)
{
    if (!sp)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spread_set_rebalancing: sp is NULL");
    pthread_mutex_lock(&sp->mu);
    sp->rebalancing = on != 0;
    pthread_mutex_unlock(&sp->mu);
    return OOCSI_OK;
}
