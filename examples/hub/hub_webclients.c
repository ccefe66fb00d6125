/*
 * The hub's side of WebSocket clients (the oocsi-web protocol at /ws): the
 * functions hub_ws.c calls on its service thread to attach, feed and detach
 * browser connections and to take their frames. libwebsockets itself is only
 * in hub_ws.c.
 */
#include "hub_rooms.h"

/* ------------------------------------------------------------------ WebSocket clients */

#ifdef HUB_HAVE_WS

void hub_lock(oocsi_hub *h)
{
    pthread_mutex_lock(&h->mu);
}

void hub_unlock(oocsi_hub *h)
{
    pthread_mutex_unlock(&h->mu);
}

struct client *hub_ws_attach(oocsi_hub *h, void *conn, const char *peer)
{
    client *c = xmalloc(sizeof *c);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->ws = 1;
    c->ws_conn = conn;
    c->state = CS_HELLO;
    c->type = CT_JSON;
    c->last_active = c->last_rx = mono_ms();
    snprintf(c->peer, sizeof c->peer, "ws:%s", peer ? peer : "?");
    conn_count(h, c, peer ? peer : "?"); /* the per-address count and the hello deadline */
    pv_push(&h->all, c);
    if (h->opt.verbose) {
        hub_log("WebSocket connection from %s", c->peer);
    }
    return c;
}

/* The first frame: the bare handle. Invalid handles are replaced,
 * not rejected; a taken one gets an error frame and the connection closes. */
static void ws_hello(oocsi_hub *h, client *c, const char *text, size_t len)
{
    static const char fallback[] = "webclient_####";
    int bad = len > HELLO_MAX;
    for (size_t i = 0; i < len && !bad; i++) {
        unsigned char ch = (unsigned char)text[i];
        /* whitespace, control, non-ASCII; ':' too: no password handles here; ',' '"' (hub_guard.c) */
        bad = ch <= 0x20 || ch >= 0x7F || ch == ':' || ch == ',' || ch == '"';
    }
    const char *s = bad ? fallback : text;
    size_t n = bad ? sizeof fallback - 1 : len;
    if (n && s[0] == '/') {
        s++;
        n--;
    }
    if (n && s[n - 1] == '/') {
        n--;
    }
    if (!n) {
        s = fallback;
        n = sizeof fallback - 1;
    }
    stale_check(h, mono_ms()); /* free the handles of stale clients first */
    int has_hash = memchr(s, '#', n) != NULL;
    char *handle;
    for (int attempt = 0;; attempt++) {
        handle = xstrndup(s, n);
        if (!has_hash || attempt >= 20) {
            break;
        }
        for (char *q = handle; *q; q++) {
            if (*q == '#') {
                *q = (char)('0' + rng_next(h) % 10);
            }
        }
        if (!chan_get(h, handle)) {
            break;
        }
        free(handle);
    }
    char msg[300];
    if (h->opt.max_clients > 0 && h->nreg >= h->opt.max_clients) {
        free(handle);
        client_close_with(h, c, "{\"message\" : \"ERROR: too many clients\"}");
        return;
    }
    if (chan_get(h, handle) || guard_name_reserved(handle) || guard_user_listed(h, handle)) {
        snprintf(msg, sizeof msg, "{\"message\" : \"ERROR: client %s exists already\"}", handle);
        if (h->opt.verbose) {
            hub_log("%s: %s", c->peer, msg);
        }
        c->handle = handle;
        c->state = CS_NAMED;
        client_close_with(h, c, msg);
        return;
    }
    snprintf(msg, sizeof msg, "{\"message\" : \"welcome %s\"}", handle);
    if (h->opt.verbose) {
        hub_log("%s registered %s (WebSocket)", c->peer, handle);
    }
    client_register(h, c, handle, 0, msg);
}

/* sendjson <recipient> <json>, subscribe <ch>, unsubscribe <ch>; anything
 * else only counts as activity (a pong). A payload that is valid JSON but
 * not an object is sent as an empty message; invalid JSON is ignored. */
static void ws_command(oocsi_hub *h, client *c, char *line, size_t len)
{
    int has_nul = strlen(line) != len;
    if (h->opt.verbose) {
        hub_log("%s: %.200s", c->handle, line);
    }
    if (!strncmp(line, "sendjson ", 9)) {
        const char *rs = line + 9;
        const char *sp = memchr(rs, ' ', len - 9);
        if (!sp || sp == rs || memchr(rs, '\0', (size_t)(sp - rs))) {
            return;
        }
        const char *pl = sp + 1;
        size_t plen = len - (size_t)(pl - line);
        while (plen && (*pl == ' ' || *pl == '\t')) {
            pl++;
            plen--;
        }
        sbuf body = {0};
        pkeys k;
        memset(&k, 0, sizeof k);
        if (plen && *pl != '{') {
            /* JSON that is not an object (text, array, number, null): an
             * empty message, as the web server delivers it */
            cJSON *v = has_nul ? NULL : cJSON_ParseWithOpts(pl, NULL, 1);
            int valid = v != NULL;
            cJSON_Delete(v);
            if (!valid) {
                return;
            }
        } else if (!plen || payload_normalise(pl, plen, &body, &k)) {
            if (h->opt.verbose) {
                hub_log("invalid JSON from %s: ignored", c->handle);
            }
            sb_free(&body);
            return;
        }
        char *recipient = xstrndup(rs, (size_t)(sp - rs));
        route_message(h, c, c->handle, recipient, body.p ? body.p : "", body.len, &k);
        free(recipient);
        sb_free(&body);
    } else if (!strncmp(line, "subscribe ", 10) && !has_nul) {
        cmd_subscribe(h, c, line + 10);
    } else if (!strncmp(line, "unsubscribe ", 12) && !has_nul) {
        cmd_unsubscribe(h, c, line + 12);
    }
}

void hub_ws_input(oocsi_hub *h, struct client *c, char *text, size_t len)
{
    if (!c || client_gone(c) || c->state >= CS_CLOSING) {
        return;
    }
    c->last_active = c->last_rx = mono_ms();
    while (len && (unsigned char)text[0] <= 0x20) {
        text++;
        len--;
    }
    while (len && (unsigned char)text[len - 1] <= 0x20) {
        len--;
    }
    text[len] = '\0';
    sbuf fixed = {0};
    if (!utf8_valid(text, len)) {
        utf8_sanitize(text, len, &fixed);
        sb_putc(&fixed, '\0');
        text = fixed.p;
        len = fixed.len - 1;
    }
    if (c->state == CS_HELLO) {
        ws_hello(h, c, text, len);
    } else if (c->state == CS_ACTIVE && len) {
        ws_command(h, c, text, len);
    }
    sb_free(&fixed);
    hub_wake(h); /* the hub thread flushes line output and acts on kills */
}

void hub_ws_detach(oocsi_hub *h, struct client *c)
{
    if (!c) {
        return;
    }
    client_doom(h, c, "WebSocket closed");
    if (c->dirty) {
        pv_remove(&h->dirty, c);
    }
    pv_remove(&h->all, c);
    conn_release(h, c);
    client_free(h, c);
    pthread_cond_broadcast(&h->cond);
    hub_wake(h);
}

unsigned hub_ws_want(const struct client *c)
{
    if (c->doomed || c->kill) {
        return HUB_WS_CLOSE;
    }
    if (c->stalled) {
        return HUB_WS_STALL;
    }
    if (c->oq_n) {
        return HUB_WS_WRITE;
    }
    return c->state >= CS_CLOSING ? HUB_WS_CLOSE : 0;
}

void hub_ws_wait_none(oocsi_hub *h, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl); /* the clock of h->cond */
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (1) {
        int left = 0;
        for (size_t i = 0; i < h->all.n && !left; i++) {
            left = ((client *)h->all.v[i])->ws;
        }
        if (!left || pthread_cond_timedwait(&h->cond, &h->mu, &dl) == ETIMEDOUT) {
            return;
        }
    }
}

void hub_ws_each(oocsi_hub *h, void (*fn)(void *conn, unsigned want, void *ctx), void *ctx)
{
    for (size_t i = 0; i < h->all.n; i++) {
        client *c = h->all.v[i];
        if (c->ws) {
            fn(c->ws_conn, hub_ws_want(c), ctx);
        }
    }
}

int hub_ws_next_frame(oocsi_hub *h, struct client *c, unsigned char **buf, size_t *len, void **ref)
{
    if (!c) {
        return -1;
    }
    unsigned want = hub_ws_want(c);
    if (want & HUB_WS_CLOSE) {
        return (c->doomed || c->kill) ? -1 : -2;
    }
    if (!(want & HUB_WS_WRITE)) {
        return 0;
    }
    oline *l = out_take(h, c); /* the service thread's reference now */
    out_account(h, c);
    *buf = (unsigned char *)l->data + l->pre;
    *len = l->len;
    *ref = l;
    return 1;
}

void hub_ws_frame_done(oocsi_hub *h, void *ref)
{
    oline_release(h, ref);
}

#endif
