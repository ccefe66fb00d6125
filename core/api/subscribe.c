/*
 * Subscriptions: handlers (oocsi_subscribe), attached handlers (oocsi_attach),
 * responders (oocsi_register), and their removal.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

/* Takes the lock unless the client is closed: OOCSI_OK (locked) or
 * OOCSI_ERR_CLOSED (not locked). */
static int lock_open(oocsi_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->st == CS_CLOSED || c->close_requested) {
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_CLOSED;
    }
    return OOCSI_OK;
}

/* The first listener of channel matching pred, or NULL. Lock held. */
static oocsi__listener *find_listener(oocsi_client *c, const char *channel, int (*pred)(oocsi__listener *, void *),
                                      void *ctx)
{
    oocsi__sub *s = oocsi__find_sub(c, channel);
    for (oocsi__listener *l = s ? s->listeners : NULL; l; l = l->next)
        if (pred(l, ctx))
            return l;
    return NULL;
}

/* Adds l to channel (taking it) and waits for the subscription; unlocks. */
static int add_and_unlock(oocsi_client *c, const char *channel, oocsi__listener *l)
{
    int rc = oocsi__subscribe_locked(c, channel, l);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int same_handler(oocsi__listener *l, void *ctx)
{
    const oocsi__listener *k = ctx;
    return l->kind == k->kind && l->fn == k->fn && l->user == k->user && l->adapt == k->adapt && l->afn == k->afn;
}

int oocsi__api_add(const char *fname, oocsi_client *c, const char *channel, const oocsi__listener *probe,
                   oocsi__ratelimit *limit)
{
    int rc = OOCSI_OK;
    if (!c)
        rc = oocsi_fail(OOCSI_ERR_INVAL, "%s: c is NULL", fname);
    else if (oocsi__validate_subscription(channel) != OOCSI_OK)
        rc = oocsi__bad_name(fname, "channel", channel);
    else if (!probe->fn && !probe->afn)
        rc = oocsi_fail(OOCSI_ERR_INVAL, "%s: fn is NULL", fname);
    else if (lock_open(c) != OOCSI_OK)
        rc = OOCSI_ERR_CLOSED;
    if (rc != OOCSI_OK) {
        oocsi__ratelimit_free(limit);
        return rc;
    }
    oocsi__listener *l = find_listener(c, channel, same_handler, (void *)probe);
    if (l) { /* the same (fn, user) twice is one handler; a new limit replaces the old */
        if (limit) {
            oocsi__ratelimit_free(l->limit);
            l->limit = limit;
        }
        pthread_mutex_unlock(&c->mu);
        return OOCSI_OK;
    }
    l = malloc(sizeof(*l));
    if (!l) {
        pthread_mutex_unlock(&c->mu);
        oocsi__ratelimit_free(limit);
        return OOCSI_ERR_NOMEM;
    }
    *l = *probe;
    l->next = NULL;
    l->call_name = NULL;
    l->limit = limit;
    return add_and_unlock(c, channel, l);
}

int oocsi__api_remove(const char *fname, oocsi_client *c, const char *channel, const oocsi__listener *probe)
{
    if (!c)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: c is NULL", fname);
    if (oocsi__validate_subscription(channel) != OOCSI_OK)
        return oocsi__bad_name(fname, "channel", channel);
    if (!probe->fn && !probe->afn)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: fn is NULL", fname);
    if (!oocsi__is_live(c))
        return oocsi_fail(OOCSI_ERR_CLOSED, "%s: c was closed already", fname);
    pthread_mutex_lock(&c->mu);
    oocsi__remove_listeners(c, channel, same_handler, (void *)probe);
    oocsi__wait_callbacks(c);
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

static int add_handler(const char *fname, oocsi_client *c, const char *channel, int kind, oocsi_handler fn, void *user)
{
    oocsi__listener probe = {0};
    probe.kind = kind;
    probe.fn = fn;
    probe.user = user;
    return oocsi__api_add(fname, c, channel, &probe, NULL);
}

int oocsi_subscribe(oocsi_client *c, const char *channel, oocsi_handler fn, void *user)
{
    return add_handler(__func__, c, channel, SUB_HANDLER, fn, user);
}

int oocsi_attach(oocsi_client *c, const char *channel, oocsi_handler fn, void *user)
{
    return add_handler(__func__, c, channel, SUB_PINNED, fn, user);
}

static int is_handler(oocsi__listener *l, void *ctx)
{
    (void)ctx;
    return l->kind == SUB_HANDLER;
}

int oocsi_unsubscribe(oocsi_client *c, const char *channel)
{
    OOCSI__CHECK(c, "c", "is NULL");
    if (oocsi__validate_subscription(channel) != OOCSI_OK)
        return oocsi__bad_name(__func__, "channel", channel);
    pthread_mutex_lock(&c->mu);
    oocsi__remove_listeners(c, channel, is_handler, NULL);
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

static int is_this_handler(oocsi__listener *l, void *ctx)
{
    const oocsi__listener *k = ctx;
    return (l->kind == SUB_HANDLER || l->kind == SUB_PINNED) && l->fn == k->fn && l->user == k->user;
}

int oocsi_unsubscribe_handler(oocsi_client *c, const char *channel, oocsi_handler fn, void *user)
{
    OOCSI__CHECK(c, "c", "is NULL");
    if (oocsi__validate_subscription(channel) != OOCSI_OK)
        return oocsi__bad_name(__func__, "channel", channel);
    OOCSI__CHECK(fn, "fn", "is NULL");
    if (!oocsi__is_live(c))
        return oocsi_fail(OOCSI_ERR_CLOSED, "oocsi_unsubscribe_handler: c was closed already (free variables and "
                                            "other attached objects before closing their client)");
    oocsi__listener probe = {0};
    probe.fn = fn;
    probe.user = user;
    pthread_mutex_lock(&c->mu);
    oocsi__remove_listeners(c, channel, is_this_handler, &probe);
    oocsi__wait_callbacks(c);
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

static int same_responder(oocsi__listener *l, void *ctx)
{
    return l->kind == SUB_RESPONDER && strcmp(l->call_name, (const char *)ctx) == 0;
}

int oocsi_register(oocsi_client *c, const char *channel, const char *call_name, oocsi_responder fn, void *user)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("channel", channel);
    OOCSI__CHECK(call_name, "call_name", "is NULL");
    OOCSI__CHECK(*call_name, "call_name", "is empty");
    OOCSI__CHECK(fn, "fn", "is NULL");
    if (lock_open(c) != OOCSI_OK)
        return OOCSI_ERR_CLOSED;
    oocsi__listener *l = find_listener(c, channel, same_responder, (void *)call_name);
    if (l) { /* registering a call name again replaces its responder */
        l->rfn = fn;
        l->user = user;
        pthread_mutex_unlock(&c->mu);
        return OOCSI_OK;
    }
    l = calloc(1, sizeof(*l));
    char *name = strdup(call_name);
    if (!l || !name) {
        free(l);
        free(name);
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_NOMEM;
    }
    l->kind = SUB_RESPONDER;
    l->rfn = fn;
    l->user = user;
    l->call_name = name;
    return add_and_unlock(c, channel, l);
}

int oocsi_unregister(oocsi_client *c, const char *channel, const char *call_name)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("channel", channel);
    OOCSI__CHECK(call_name, "call_name", "is NULL");
    pthread_mutex_lock(&c->mu);
    oocsi__remove_listeners(c, channel, same_responder, (void *)call_name);
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}
