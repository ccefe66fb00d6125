/*
 * Application timers (oocsi_timer_start/stop): callbacks the loop runs at a
 * time, for objects layered on a client that must act without a message
 * (a behaviour's round ending, a periodic pulse).
 */
#include <stdlib.h>

#include "engine/engine.h"

/* Unlinks and frees the timer (fn, user), if any. Lock held. */
static void remove_timer(oocsi_client *c, oocsi_timer_fn fn, void *user)
{
    for (oocsi__timer **pp = &c->timers; *pp; pp = &(*pp)->next) {
        oocsi__timer *t = *pp;
        if (t->fn == fn && t->user == user) {
            *pp = t->next;
            free(t); /* a note still queued for it finds no timer */
            return;
        }
    }
}

int oocsi_timer_start(oocsi_client *c, int delay_ms, int period_ms, oocsi_timer_fn fn, void *user)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK(fn, "fn", "is NULL");
    if (delay_ms < 0 || period_ms < 0)
        return oocsi_fail(OOCSI_ERR_INVAL,
                          "oocsi_timer_start: delay_ms and period_ms must be >= 0 (got %d and %d; period 0 runs once)",
                          delay_ms, period_ms);
    if (!oocsi__is_live(c))
        return oocsi_fail(OOCSI_ERR_CLOSED, "oocsi_timer_start: c was closed already");
    oocsi__timer *t = calloc(1, sizeof(*t));
    if (!t)
        return OOCSI_ERR_NOMEM;
    pthread_mutex_lock(&c->mu);
    if (c->close_requested) {
        pthread_mutex_unlock(&c->mu);
        free(t);
        return oocsi_fail(OOCSI_ERR_CLOSED, "oocsi_timer_start: c is being closed");
    }
    remove_timer(c, fn, user);
    t->id = ++c->timer_seq;
    t->due = oocsi__now_ms() + delay_ms;
    t->period_ms = period_ms;
    t->fn = fn;
    t->user = user;
    t->next = c->timers;
    c->timers = t;
    oocsi__poke(c); /* a loop waiting on another thread recomputes its wait */
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

int oocsi_timer_stop(oocsi_client *c, oocsi_timer_fn fn, void *user)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK(fn, "fn", "is NULL");
    if (!oocsi__is_live(c))
        return oocsi_fail(OOCSI_ERR_CLOSED, "oocsi_timer_stop: c was closed already (stop timers and free the "
                                            "objects that use them before closing their client)");
    pthread_mutex_lock(&c->mu);
    remove_timer(c, fn, user);
    oocsi__wait_callbacks(c);
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}
