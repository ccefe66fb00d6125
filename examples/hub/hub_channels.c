/*
 * Channels and presence: creating and freeing channels (public, private
 * "name:secret", and each client's own handle), subscriptions, presence(X)
 * subscriptions and their join/leave/refresh events, the meta channels
 * (OOCSI_connections, OOCSI_events ...), and routing: delivering a message to a
 * channel's subscribers or a client, retained messages.
 */
#include "hub_rooms.h"

/* ------------------------------------------------------------------ channels and presence */

chan *chan_new(oocsi_hub *h, const char *name, const char *token, int kind, client *owner)
{
    chan *ch = xmalloc(sizeof *ch);
    memset(ch, 0, sizeof *ch);
    ch->name = xstrdup(name);
    ch->token = token ? xstrdup(token) : NULL;
    ch->kind = kind;
    ch->owner = owner;
    ch->prev = h->chan_tail;
    if (h->chan_tail) {
        h->chan_tail->next = ch;
    } else {
        h->chan_head = ch;
    }
    h->chan_tail = ch;
    chan_put(h, ch);
    return ch;
}

void retained_free(retained *r)
{
    if (r) {
        free(r->body);
        free(r->sender);
        free(r->recipient);
        free(r);
    }
}

/* Frees a channel without touching its subscribers (full teardown). */
void chan_free_raw(chan *ch)
{
    chan_lines_forget(ch);
    retained_free(ch->ret);
    pv_free(&ch->subs);
    free(ch->name);
    free(ch->token);
    free(ch);
}

static void chan_destroy(oocsi_hub *h, chan *ch)
{
    for (size_t i = 0; i < ch->subs.n; i++) {
        client *s = ch->subs.v[i];
        pv_remove(&s->subs, ch);
        h->nsubs--;
    }
    chan_del(h, ch);
    if (ch->prev) {
        ch->prev->next = ch->next;
    } else {
        h->chan_head = ch->next;
    }
    if (ch->next) {
        ch->next->prev = ch->prev;
    } else {
        h->chan_tail = ch->prev;
    }
    chan_free_raw(ch);
}

/* Removes an ordinary channel that has neither subscribers nor a valid
 * retained message. */
void chan_maybe_destroy(oocsi_hub *h, chan *ch, int64_t now)
{
    if (ch->kind != CH_CHANNEL) {
        return;
    }
    if (ch->ret && ch->ret->expiry <= now) {
        retained_drop(h, ch);
    }
    if (!ch->subs.n && !ch->ret) {
        chan_destroy(h, ch);
    }
}

/* The channel a message to / an unsubscribe from / a query of `name`
 * addresses: "x:secret" only reaches the private channel x with exactly that
 * token; "x" only a public channel or a client handle. */
chan *lookup_target(const oocsi_hub *h, const char *name)
{
    const char *colon = strchr(name, ':');
    if (!colon) {
        chan *ch = chan_get(h, name);
        return (ch && ch->kind == CH_CHANNEL && ch->token) ? NULL : ch;
    }
    char stackbuf[256];
    size_t n = (size_t)(colon - name);
    char *base = n < sizeof stackbuf ? stackbuf : xmalloc(n + 1);
    memcpy(base, name, n);
    base[n] = '\0';
    chan *ch = chan_get(h, base);
    if (base != stackbuf) {
        free(base);
    }
    if (!ch || ch->kind != CH_CHANNEL || !ch->token || strcmp(ch->token, name) != 0) {
        return NULL;
    }
    return ch;
}

/* Public subscribers of ch joined with sep. */
void list_subscribers(const chan *ch, sbuf *b, const char *sep)
{
    int first = 1;
    for (size_t i = 0; i < ch->subs.n; i++) {
        const client *s = ch->subs.v[i];
        if (s->priv) {
            continue;
        }
        if (!first) {
            sb_puts(b, sep);
        }
        first = 0;
        sb_puts(b, s->handle);
    }
}

static int chan_listed(const chan *ch)
{
    if (ch->kind == CH_CLIENT) {
        if (ch->owner->priv) {
            return 0;
        }
    } else if (ch->token || ends_with(ch->name, "/?")) {
        return 0;
    }
    return strpbrk(ch->name, "#+") == NULL;
}

void list_channels(const oocsi_hub *h, sbuf *b)
{
    int first = 1;
    for (const chan *ch = h->chan_head; ch; ch = ch->next) {
        if (!chan_listed(ch)) {
            continue;
        }
        if (!first) {
            sb_puts(b, ", ");
        }
        first = 0;
        sb_puts(b, ch->name);
    }
}

void list_clients(const oocsi_hub *h, sbuf *b)
{
    int first = 1;
    for (const chan *ch = h->chan_head; ch; ch = ch->next) {
        if (ch->kind != CH_CLIENT) {
            continue;
        }
        if (!first) {
            sb_putc(b, ',');
        }
        first = 0;
        sb_puts(b, ch->name);
    }
}

/* Sends one presence event about x to the presence(x) subscribers (never to
 * x itself). val == NULL: a refresh with the subscriber list. */
void presence_emit(oocsi_hub *h, const char *x, const char *evkey, const char *val)
{
    pres *p = pres_get(h, x);
    if (!p || !p->subs.n) {
        return;
    }
    chan *ch = chan_get(h, x);
    sbuf body = {0}, rcpt = {0};
    sb_puts(&body, (ch && ch->kind == CH_CLIENT) ? "\"client\":" : "\"channel\":");
    sb_json_str(&body, x, strlen(x));
    sb_putc(&body, ',');
    sb_json_str(&body, evkey, strlen(evkey));
    sb_putc(&body, ':');
    if (val) {
        sb_json_str(&body, val, strlen(val));
    } else {
        sb_putc(&body, '[');
        if (ch && !ch->token) {
            int first = 1;
            for (size_t i = 0; i < ch->subs.n; i++) {
                const client *s = ch->subs.v[i];
                if (s->priv) {
                    continue;
                }
                if (!first) {
                    sb_putc(&body, ',');
                }
                first = 0;
                sb_json_str(&body, s->handle, strlen(s->handle));
            }
        }
        sb_putc(&body, ']');
    }
    sb_puts(&rcpt, "presence(");
    sb_puts(&rcpt, x);
    sb_putc(&rcpt, ')');
    sb_putc(&rcpt, '\0');
    hmsg m = {.body = body.p, .body_len = body.len, .sender = x, .recipient = rcpt.p, .ts = real_ms()};
    for (size_t i = 0; i < p->subs.n; i++) {
        client *s = p->subs.v[i];
        if (strcmp(s->handle, x) != 0) {
            deliver(h, s, &m);
        }
    }
    hmsg_done(h, &m);
    sb_free(&body);
    sb_free(&rcpt);
}

void pres_destroy(oocsi_hub *h, pres *p)
{
    pres_del(h, p);
    pv_free(&p->subs);
    free(p->name);
    free(p);
}

void retained_deliver(oocsi_hub *h, client *c, const retained *r)
{
    hmsg m = {.body = r->body, .body_len = r->body_len, .sender = r->sender, .recipient = r->recipient, .ts = r->ts};
    deliver(h, c, &m);
    hmsg_done(h, &m);
}

/* Takes c out of ch's subscribers (the caller updates c->subs), with the events. */
static void chan_unsub_one(oocsi_hub *h, chan *ch, client *c)
{
    pv_remove(&ch->subs, c);
    h->nsubs--;
    presence_emit(h, ch->name, "leave", c->handle);
    if (!c->priv) {
        presence_emit(h, c->handle, "closed", "");
    }
    chan_maybe_destroy(h, ch, mono_ms());
}

void chan_unsub(oocsi_hub *h, chan *ch, client *c)
{
    pv_remove(&c->subs, ch);
    chan_unsub_one(h, ch, c);
    pthread_cond_broadcast(&h->cond);
}

/* Undoes a registration: presence events, subscriptions, the handle. */
static void client_unregister(oocsi_hub *h, client *c)
{
    if (c->state != CS_ACTIVE) {
        return;
    }
    if (!c->priv) {
        presence_emit(h, c->handle, "leave", c->handle);
    }
    /* the whole list at once, in order: O(n) for n subscriptions (removing
     * each from the front of c->subs was O(n^2)) */
    pvec subs = c->subs;
    memset(&c->subs, 0, sizeof c->subs);
    for (size_t i = 0; i < subs.n; i++) {
        chan_unsub_one(h, subs.v[i], c);
    }
    pv_free(&subs);
    for (size_t i = 0; i < c->psubs.n; i++) {
        pres *p = c->psubs.v[i];
        pv_remove(&p->subs, c);
        h->nsubs--;
        if (!p->subs.n) {
            pres_destroy(h, p);
        }
    }
    pv_free(&c->psubs);
    chan_destroy(h, c->self);
    c->self = NULL;
    h->nreg--;
    c->state = CS_NAMED;
    pthread_cond_broadcast(&h->cond);
}

/* Abrupt end of a connection (EOF, error, drop): unregister now, close at
 * the next reap. */
void client_doom(oocsi_hub *h, client *c, const char *why)
{
    if (c->doomed) {
        return;
    }
    if (h->opt.verbose && why) {
        hub_log("closing %s (%s): %s", c->handle ? c->handle : "-", c->peer, why);
    }
    client_unregister(h, c);
    c->doomed = 1;
}

/* Orderly end: unregister, send a last line, flush, shut down, close. */
void client_close_with(oocsi_hub *h, client *c, const char *last)
{
    if (h->opt.verbose) {
        hub_log("closing %s (%s) with \"%s\"", c->handle ? c->handle : "-", c->peer, last);
    }
    client_unregister(h, c);
    send_text(h, c, last);
    c->state = CS_CLOSING;
    c->close_deadline = mono_ms() + CLOSE_GRACE_MS;
    mark_dirty(h, c);
}

void client_free(oocsi_hub *h, client *c)
{
    out_discard(h, c);
#ifdef HUB_HAVE_TLS
    hub_tls_conn_free(c->tls);
#endif
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->handle);
    pv_free(&c->subs);
    pv_free(&c->psubs);
    if (c->in != h->scratch) {
        free(c->in);
    }
    free(c);
}

/* ------------------------------------------------------------------ routing */

void dispatch(oocsi_hub *h, client *from, const char *sender, const char *recipient, const char *body, size_t blen,
              int64_t ts, int64_t retain_s)
{
    h->messages_total++;
    h->messages_tick++;
    chan *ch = lookup_target(h, recipient);
    if (!ch) {
        if (h->opt.verbose) {
            hub_log("message from %s to unknown recipient %s dropped", sender, recipient);
        }
        return;
    }
    hmsg m = {.body = body, .body_len = blen, .sender = sender, .recipient = recipient, .ts = ts, .ch = ch};
    if (ch->kind == CH_CLIENT) {
        deliver(h, ch->owner, &m);
        hmsg_done(h, &m);
        return;
    }
    for (size_t i = 0; i < ch->subs.n; i++) {
        client *s = ch->subs.v[i];
        if (from ? s == from : strcmp(s->handle, sender) == 0) {
            continue; /* no echo */
        }
        deliver(h, s, &m);
    }
    hmsg_done(h, &m);
    /* every message replaces or clears the retained one */
    retained_drop(h, ch);
    if (retain_s > 0) {
        retained_set(h, from, ch, sender, recipient, body, blen, ts, retain_s);
    }
    if (!ch->ret) {
        chan_maybe_destroy(h, ch, mono_ms());
    }
}

/* Applies _RETAIN, _DELAY and _SCHEDULE (an invalid value refuses the
 * message with an error line to the sender), then dispatches or queues;
 * delayed_add() applies the budgets. */
void route_message(oocsi_hub *h, client *from, const char *sender, const char *recipient, const char *body, size_t blen,
                   const pkeys *k)
{
    int64_t now_real = real_ms();
    int64_t retain_s, due;
    char err[160];
    if (guard_server_keys(k, now_real, &retain_s, &due, err, sizeof err)) {
        if (h->opt.verbose) {
            hub_log("message from %s to %s refused: %s", sender, recipient, err);
        }
        if (from) {
            send_error(h, from, err);
        }
        return;
    }
    if (due) {
        delayed_add(h, from, recipient, sender, body, blen, due, now_real, retain_s);
        return;
    }
    dispatch(h, from, sender, recipient, body, blen, now_real, retain_s);
}
