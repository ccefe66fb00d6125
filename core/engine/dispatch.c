/*
 * Notification queue and dispatch: notes queued under the lock by the engine
 * (messages, state changes, call results) and run on the loop owner thread
 * with the lock released.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* --------------------------------------------------------- notifications */

void oocsi__note_push(oocsi_client *c, oocsi__note *n)
{
    OOCSI__APPEND(c->notes_head, c->notes_tail, n);
}

void oocsi__note_free(oocsi__note *n)
{
    free(n->own_sender);
    free(n->own_recipient);
    free(n->own_json);
    cJSON_Delete(n->msg.data);
    free(n);
}

void oocsi__note_state(oocsi_client *c, oocsi_state st, int err)
{
    if (!c->opts.state_fn)
        return;
    oocsi__note *n = calloc(1, sizeof(*n));
    if (!n)
        return;
    n->kind = NOTE_STATE;
    n->state = st;
    n->err = err;
    oocsi__note_push(c, n);
}

/* Runs a call-result note's callback (lock not held). */
void oocsi__run_call_note(oocsi_client *c, oocsi__note *n)
{
    if (n->msg.data || n->msg.json) {
        n->call_fn(c, &n->msg, n->call_user);
    } else {
        n->call_fn(c, NULL, n->call_user);
    }
}

/* Runs a timer note: nothing when its timer was stopped or restarted
 * since; a one-shot timer is gone once it ran. Lock held. */
void oocsi__run_timer_note(oocsi_client *c, oocsi__note *n)
{
    oocsi__timer **pp = &c->timers;
    while (*pp && (*pp)->id != n->timer_id)
        pp = &(*pp)->next;
    oocsi__timer *t = *pp;
    if (!t)
        return;
    t->queued = 0;
    oocsi_timer_fn fn = t->fn;
    void *user = t->user;
    if (t->period_ms <= 0) {
        *pp = t->next;
        free(t);
    }
    oocsi__callback_begin(c);
    fn(c, user);
    oocsi__callback_end(c);
}

/* --------------------------------------------------------------- dispatch */

typedef struct target {
    int kind;
    oocsi_handler fn;
    oocsi_responder rfn;
    void *user;
    oocsi__adapter adapt; /* typed callbacks: adapt(c, m, afn, user) instead of fn */
    void (*afn)(void);
} target;

/* The target for handler listener l, or 0 when its rate limit keeps the
 * message from it and no "exceeded" callback takes it instead. Lock held. */
static int handler_target(oocsi__listener *l, const oocsi_message *m, target *t)
{
    *t = (target){SUB_HANDLER, l->fn, NULL, l->user, l->adapt, l->afn};
    if (l->limit && !oocsi__ratelimit_admit(l->limit, m->sender, oocsi__now_ms())) {
        if (!l->limit->exceeded)
            return 0;
        *t = (target){SUB_HANDLER, l->limit->exceeded, NULL, l->limit->exceeded_user, NULL, NULL};
    }
    return 1;
}

void oocsi__callback_begin(oocsi_client *c)
{
    c->in_callback++;
    c->cb_begun++;
    pthread_mutex_unlock(&c->mu);
}

void oocsi__callback_end(oocsi_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->in_callback--;
    c->cb_ended++;
    if (c->cb_waiters)
        oocsi__signal(c);
}

/* A responder's answer goes back to the caller (lock not held). */
static void send_reply(oocsi_client *c, const char *to, const cJSON *resp)
{
    char *text;
    size_t len;
    if (oocsi__render(resp, &text, &len) != OOCSI_OK) {
        pthread_mutex_lock(&c->mu);
        oocsi__log(c, OOCSI_LOG_WARN, "cannot send the response to %s: it does not render as JSON", to);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    pthread_mutex_lock(&c->mu);
    oocsi__send_locked(c, to, text, len);
    pthread_mutex_unlock(&c->mu);
    free(text);
}

static void deliver_message(oocsi_client *c, oocsi__note *n)
{
    oocsi_message *mp = &n->msg;

    target small[8];
    target *ts = small;
    int nt = 0, cap = 8;

    /* Only a message with a key beginning with '_' can be a call: others
     * are not parsed here. */
    const cJSON *data = !mp->json || mp->special ? oocsi__message_payload(mp) : NULL;
    const cJSON *mh = cJSON_GetObjectItemCaseSensitive(data, "_MESSAGE_HANDLE");
    int is_call = cJSON_IsString(mh) && mh->valuestring;
    /* Collect targets under the lock, call them without it. */
    if (is_call) {
        for (oocsi__sub *s = c->subs; s && !nt; s = s->next)
            for (oocsi__listener *l = s->listeners; l; l = l->next)
                if (l->kind == SUB_RESPONDER && strcmp(l->call_name, mh->valuestring) == 0) {
                    ts[0].kind = SUB_RESPONDER;
                    ts[0].rfn = l->rfn;
                    ts[0].user = l->user;
                    nt = 1;
                    break;
                }
    }
    if (is_call && !nt && !c->opts.calls_to_handlers) {
        oocsi__log(c, OOCSI_LOG_DEBUG,
                   "call \"%s\" from %s to %s: no responder registered here; not given to handlers "
                   "(oocsi_options_set_calls_to_handlers)",
                   mh->valuestring, mp->sender, mp->recipient);
    } else if (!nt) {
        if (c->handle && strcmp(mp->recipient, c->handle) == 0 && c->opts.direct_fn)
            ts[nt++] = (target){SUB_HANDLER, c->opts.direct_fn, NULL, c->opts.direct_user, NULL, NULL};
        for (oocsi__sub *s = c->subs; s; s = s->next) {
            if (strcmp(s->channel, mp->recipient) != 0)
                continue;
            for (oocsi__listener *l = s->listeners; l; l = l->next) {
                if (l->kind == SUB_HANDLER || l->kind == SUB_PINNED) {
                    if (nt == cap) {
                        target *bigger = malloc(sizeof(target) * (size_t)cap * 2);
                        if (!bigger)
                            break;
                        memcpy(bigger, ts, sizeof(target) * (size_t)nt);
                        if (ts != small)
                            free(ts);
                        ts = bigger;
                        cap *= 2;
                    }
                    nt += handler_target(l, mp, &ts[nt]);
                }
            }
            break;
        }
    }
    oocsi__callback_begin(c);
    for (int i = 0; i < nt; i++) {
        if (ts[i].kind == SUB_HANDLER && ts[i].adapt) {
            ts[i].adapt(c, mp, ts[i].afn, ts[i].user);
        } else if (ts[i].kind == SUB_HANDLER) {
            ts[i].fn(c, mp, ts[i].user);
        } else {
            cJSON *resp = cJSON_Duplicate(data, 1);
            if (!resp)
                break;
            oocsi__delete_key(resp, "_MESSAGE_HANDLE");
            /* The request's server keys are not echoed back: a call sent
             * with _DELAY would otherwise have its answer delayed too, one
             * with _RETAIN its answer retained. (The responder may add them.) */
            oocsi__delete_key(resp, "_RETAIN");
            oocsi__delete_key(resp, "_DELAY");
            oocsi__delete_key(resp, "_SCHEDULE");
            const cJSON *mid = cJSON_GetObjectItemCaseSensitive(data, "_MESSAGE_ID");
            ts[i].rfn(c, mp, resp, ts[i].user);
            if (cJSON_IsObject(resp)) {
                oocsi__delete_key(resp, "_MESSAGE_HANDLE");
                oocsi__delete_key(resp, "_MESSAGE_ID");
                if (cJSON_IsString(mid))
                    cJSON_AddStringToObject(resp, "_MESSAGE_ID", mid->valuestring);
                if (mp->sender[0])
                    send_reply(c, mp->sender, resp);
            }
            cJSON_Delete(resp);
        }
    }
    oocsi__callback_end(c);
    if (ts != small)
        free(ts);
}

/* Runs queued callbacks (owner thread only, not nested). Lock held. */
void oocsi__dispatch_notes(oocsi_client *c)
{
    if (c->in_callback)
        return;
    while (c->notes_head) {
        oocsi__note *n = c->notes_head;
        c->notes_head = n->next;
        if (!c->notes_head)
            c->notes_tail = NULL;
        c->notes_bytes -= n->bytes;
        if (c->notes_dropped && !c->notes_head) {
            oocsi__log(c, OOCSI_LOG_WARN, "%zu message(s) were dropped while the application was blocked",
                       c->notes_dropped);
            oocsi__set_error(c, "%zu message(s) dropped over the pending limit of %zu bytes", c->notes_dropped,
                             c->opts.pending_max_bytes);
            c->notes_dropped = 0;
        }
        switch (n->kind) {
        case NOTE_MESSAGE:
            deliver_message(c, n);
            break;
        case NOTE_STATE: {
            oocsi_state_fn fn = c->opts.state_fn;
            void *user = c->opts.state_user;
            if (fn) {
                oocsi__callback_begin(c);
                fn(c, n->state, n->err, user);
                oocsi__callback_end(c);
            }
            break;
        }
        case NOTE_CALL:
            oocsi__callback_begin(c);
            oocsi__run_call_note(c, n);
            oocsi__callback_end(c);
            break;
        case NOTE_TIMER:
            oocsi__run_timer_note(c, n);
            break;
        }
        oocsi__note_free(n);
    }
}
