/*
 * Subscriptions: channels and their listeners (handlers, pinned handlers,
 * responders); subscribing on the wire with a barrier that confirms it, and
 * leaving a channel when its last listener goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

oocsi__sub *oocsi__find_sub(oocsi_client *c, const char *channel)
{
    for (oocsi__sub *s = c->subs; s; s = s->next)
        if (strcmp(s->channel, channel) == 0)
            return s;
    return NULL;
}

int oocsi__add_listener(oocsi_client *c, const char *channel, oocsi__listener *l, oocsi__waiter *w)
{
    oocsi__sub *s = oocsi__find_sub(c, channel);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return OOCSI_ERR_NOMEM;
        s->channel = strdup(channel);
        if (!s->channel) {
            free(s);
            return OOCSI_ERR_NOMEM;
        }
        /* Append to keep subscription order stable. */
        oocsi__sub **pp = &c->subs;
        while (*pp)
            pp = &(*pp)->next;
        *pp = s;
    }
    l->next = NULL;
    oocsi__listener **lp = &s->listeners;
    while (*lp)
        lp = &(*lp)->next;
    *lp = l;
    if (c->st != CS_ONLINE && c->st != CS_RESUB)
        return OOCSI_OK; /* recorded: subscribed on (re)connect */
    if (!s->wire) {
        int rc = oocsi__emit(c, OOCSI_CMD_SUBSCRIBE, channel, NULL, 0);
        if (rc != OOCSI_OK) {
            *lp = NULL; /* the caller frees l: take it out again */
            if (!s->listeners)
                oocsi__remove_listeners(c, channel, NULL, NULL);
            return rc;
        }
        s->wire = 1;
    }
    /* Even when the channel is already on the wire, its barrier may still be
     * pending (another thread's subscribe, or a resubscription): a ping of our
     * own is answered only after it. */
    int barrier = 0;
    if (w && oocsi__emit_barrier(c) == OOCSI_OK) {
        oocsi__ping_push(c, PW_BARRIER, w);
        barrier = 1;
    }
    oocsi__flush_out(c);
    oocsi__poke(c);
    return barrier;
}

void oocsi__listener_free(oocsi__listener *l)
{
    free(l->call_name);
    oocsi__ratelimit_free(l->limit);
    free(l);
}

void oocsi__remove_listeners(oocsi_client *c, const char *channel, int (*pred)(oocsi__listener *, void *), void *ctx)
{
    for (oocsi__sub **sp = &c->subs; *sp; sp = &(*sp)->next) {
        oocsi__sub *s = *sp;
        if (strcmp(s->channel, channel) != 0)
            continue;
        for (oocsi__listener **lp = &s->listeners; *lp;) {
            oocsi__listener *l = *lp;
            if (pred(l, ctx)) {
                *lp = l->next;
                oocsi__listener_free(l);
            } else {
                lp = &l->next;
            }
        }
        if (!s->listeners) {
            if (s->wire && c->tps && (c->st == CS_ONLINE || c->st == CS_RESUB)) {
                oocsi__emit(c, OOCSI_CMD_UNSUBSCRIBE, s->channel, NULL, 0);
                oocsi__flush_out(c);
                oocsi__poke(c);
            }
            *sp = s->next;
            free(s->channel);
            free(s);
        }
        return;
    }
}

/* Adds a listener and waits for the barrier when one was sent. Lock held. */
int oocsi__subscribe_locked(oocsi_client *c, const char *channel, oocsi__listener *l)
{
    oocsi__waiter w;
    memset(&w, 0, sizeof(w));
    int rc = oocsi__add_listener(c, channel, l, &w);
    if (rc < 0) {
        oocsi__listener_free(l);
        return rc;
    }
    if (rc == 0)
        return OOCSI_OK;
    if (c->in_callback && oocsi__is_owner(c)) {
        /* Inside a callback on the loop thread: do not block the dispatch;
         * the subscription is on the wire and confirmed shortly. */
        oocsi__detach_waiter(c, &w);
        return OOCSI_OK;
    }
    rc = oocsi__wait(c, &w, oocsi__now_ms() + c->opts.connect_timeout_ms);
    return rc;
}

void oocsi__wait_callbacks(oocsi_client *c)
{
    if (!c->loop_busy || pthread_equal(c->loop_owner, pthread_self()))
        return; /* no other thread runs callbacks, or we are that thread */
    uint64_t target = c->cb_begun;
    c->cb_waiters++;
    while (c->cb_ended < target && c->loop_busy && !pthread_equal(c->loop_owner, pthread_self()))
        pthread_cond_wait(&c->cv, &c->mu);
    c->cb_waiters--;
}
