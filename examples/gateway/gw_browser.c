/*
 * The browser side (the libwebsockets thread): the oocsi-web protocol at /ws
 * (handle frame, subscribe/unsubscribe/sendjson commands, message frames out),
 * Origin checks, limits, pings and idle timeouts.
 */
#include "gateway.h"

/* ------------------------------------------------------------------ browser side (lws thread) */

int start_worker(gateway *g, session *s)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* Thousands of sessions: a small stack each (connect, commands, cJSON). */
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the main thread only */
    pthread_mutex_lock(&g->mu);
    s->refs++;
    g->workers++;
    pthread_mutex_unlock(&g->mu);
    pthread_t t;
    int rc = pthread_create(&t, &attr, worker, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc) {
        pthread_mutex_lock(&g->mu);
        s->refs--;
        g->workers--;
        pthread_mutex_unlock(&g->mu);
        return -1;
    }
    return 0;
}

/* Queues a browser command for the worker; -1 past the bound (flood). */
static int queue_command(session *s, cmd_kind kind, const char *arg, size_t arg_len, const char *json)
{
    size_t jl = json ? strlen(json) : 0;
    size_t size = sizeof(cmd) + arg_len + 1 + jl + 1;
    cmd *k = malloc(size);
    if (!k) {
        return -1;
    }
    k->next = NULL;
    k->kind = kind;
    k->size = size;
    k->arg = k->text;
    memcpy(k->arg, arg, arg_len);
    k->arg[arg_len] = '\0';
    k->json = k->arg + arg_len + 1;
    memcpy(k->json, json ? json : "", jl + 1);
    pthread_mutex_lock(&s->mu);
    if (s->in_bytes + size > s->g->cfg.max_queue + 4096) {
        pthread_mutex_unlock(&s->mu);
        free(k);
        return -1;
    }
    if (s->in_tail) {
        s->in_tail->next = k;
    } else {
        s->in_head = k;
    }
    s->in_tail = k;
    s->in_bytes += size;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Length of a name (channel or recipient) at p: up to whitespace. */
static size_t name_len(const char *p)
{
    size_t n = 0;
    while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && p[n] != '\n') {
        n++;
    }
    return n;
}

/* One complete frame from the browser. -1: close this session. */
static int on_frame(gateway *g, session *s, char *text)
{
    s->last_rx = now_ms();
    if (!s->started) {
        char *h = text;
        while (*h == ' ' || *h == '\t' || *h == '\r' || *h == '\n' || *h == '/') {
            h++;
        }
        size_t n = strlen(h);
        while (n && (h[n - 1] == ' ' || h[n - 1] == '\t' || h[n - 1] == '\r' || h[n - 1] == '\n' || h[n - 1] == '/')) {
            h[--n] = '\0';
        }
        s->handle = strdup(h);
        if (!s->handle || start_worker(g, s) != 0) {
            return -1;
        }
        s->started = 1;
        logv(g, "%s: browser %s", s->handle, s->peer);
        return 0;
    }
    if (!strncmp(text, "subscribe ", 10) || !strncmp(text, "unsubscribe ", 12)) {
        int sub = text[0] == 's';
        const char *ch = text + (sub ? 10 : 12);
        size_t n = name_len(ch);
        if (n == 0) {
            return 0;
        }
        return queue_command(s, sub ? CMD_SUB : CMD_UNSUB, ch, n, NULL);
    }
    if (!strncmp(text, "sendjson ", 9)) {
        const char *r = text + 9;
        size_t n = name_len(r);
        if (n == 0 || r[n] != ' ') {
            return 0;
        }
        return queue_command(s, CMD_SEND, r, n, r + n + 1);
    }
    return 0; /* "." and anything else: a pong */
}

static int on_receive(gateway *g, struct lws *wsi, session *s, const void *in, size_t len)
{
    if (s->rx_len + len > g->cfg.max_frame) {
        logv(g, "%s: frame over %zu bytes, closing", s->peer, g->cfg.max_frame);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    if (s->rx_cap < s->rx_len + len + 1) {
        size_t cap = s->rx_cap ? s->rx_cap : 1024;
        while (cap < s->rx_len + len + 1) {
            cap *= 2;
        }
        char *nb = realloc(s->rx, cap);
        if (!nb) {
            return -1;
        }
        s->rx = nb;
        s->rx_cap = cap;
    }
    if (len) {
        memcpy(s->rx + s->rx_len, in, len);
    }
    s->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) {
        return 0;
    }
    s->rx[s->rx_len] = '\0';
    s->rx_len = 0;
    int rc = on_frame(g, s, s->rx);
    if (s->rx_cap > 65536) {
        free(s->rx);
        s->rx = NULL;
        s->rx_cap = 0;
    }
    if (rc < 0) {
        logv(g, "%s: flooding, closing", s->peer);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
    }
    return rc;
}

static int on_writeable(struct lws *wsi, session *s)
{
    if (s->g->going_away) {
        static const char why[] = "gateway shutting down";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)why, sizeof why - 1);
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    if (s->kill) {
        pthread_mutex_unlock(&s->mu);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
        return -1;
    }
    frame *f = s->out_head;
    if (f) {
        s->out_head = f->next;
        if (!s->out_head) {
            s->out_tail = NULL;
        }
        s->out_bytes -= f->len;
    }
    int more = s->out_head != NULL;
    int close_now = !f && s->close_after;
    pthread_mutex_unlock(&s->mu);
    if (close_now) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    if (!f) {
        return 0;
    }
    int wr = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
    size_t n = f->len;
    free(f);
    if (wr < 0 || (size_t)wr < n) {
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    more = more || s->close_after || s->kill;
    pthread_mutex_unlock(&s->mu);
    if (more) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

int origin_allowed(const gateway *g, struct lws *wsi)
{
    if (g->cfg.n_origins == 0) {
        return 1;
    }
    char origin[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0) {
        return 0;
    }
    for (int i = 0; i < g->cfg.n_origins; i++) {
        if (!strcmp(origin, g->cfg.origins[i]) || !strcmp(g->cfg.origins[i], "*")) {
            return 1;
        }
    }
    return 0;
}

/* A browser that left may still have its upstream worker running (a slow
 * upstream): the client limit counts sessions alive, not sockets. Event
 * streams are sessions too. */
const char *admission_refused(gateway *g, struct lws *wsi, int *per_peer)
{
    static char why[160];
    if (per_peer) {
        *per_peer = 0;
    }
    pthread_mutex_lock(&g->mu);
    int live = g->n_live;
    pthread_mutex_unlock(&g->mu);
    if (g->cfg.max_clients > 0 && live >= g->cfg.max_clients) {
        snprintf(why, sizeof why, "%d clients already (--max-clients)", live);
        return why;
    }
    char peer[64];
    lws_get_peer_simple(wsi, peer, sizeof peer);
    int same = 0;
    for (session *o = g->sessions; o; o = o->next) {
        same += strcmp(o->peer, peer) == 0;
    }
    if (g->cfg.max_per_peer > 0 && same >= g->cfg.max_per_peer) {
        snprintf(why, sizeof why, "%d clients from %s already (--max-per-address)", same, peer);
        if (per_peer) {
            *per_peer = 1;
        }
        return why;
    }
    return NULL;
}

/* A new session for the connection wsi, in the gateway's list; NULL when out of memory. */
session *session_attach(gateway *g, struct lws *wsi)
{
    session *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    s->g = g;
    s->refs = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->wsi = wsi;
    s->opened = s->last_rx = now_ms();
    lws_get_peer_simple(wsi, s->peer, sizeof s->peer);
    pthread_mutex_lock(&g->ready_mu);
    s->attached = 1;
    pthread_mutex_unlock(&g->ready_mu);
    s->next = g->sessions;
    if (g->sessions) {
        g->sessions->prev = s;
    }
    g->sessions = s;
    g->n_sessions++;
    pthread_mutex_lock(&g->mu);
    g->n_live++;
    pthread_mutex_unlock(&g->mu);
    return s;
}

void session_detach(gateway *g, session *s)
{
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        g->sessions = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    g->n_sessions--;
    pthread_mutex_lock(&g->ready_mu);
    s->attached = 0;
    if (s->on_ready) {
        for (session **pp = &g->ready; *pp; pp = &(*pp)->ready_next) {
            if (*pp == s) {
                *pp = s->ready_next;
                break;
            }
        }
        s->on_ready = 0;
    }
    pthread_mutex_unlock(&g->ready_mu);
    s->wsi = NULL;
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    session_unref(s);
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *cx = lws_get_context(wsi);
    gateway *g = cx ? lws_context_user(cx) : NULL;
    pss *p = user;
    session *s = p ? p->s : NULL;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[16];
        if (!g || lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0) {
            return 1; /* WebSocket only at /ws */
        }
        if (!origin_allowed(g, wsi)) {
            logv(g, "refused a WebSocket from a disallowed Origin");
            return 1;
        }
        const char *why = admission_refused(g, wsi, NULL);
        if (why) {
            logv(g, "refused a WebSocket: %s", why);
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        if (!g || !p) {
            return -1;
        }
        p->s = session_attach(g, wsi);
        return p->s ? 0 : -1;
    }
    case LWS_CALLBACK_RECEIVE:
        return (g && s) ? on_receive(g, wsi, s, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s ? on_writeable(wsi, s) : -1;
    case LWS_CALLBACK_CLOSED:
        if (g && s) {
            logv(g, "%s: browser %s gone", s->handle ? s->handle : "(no handle)", s->peer);
            p->s = NULL;
            session_detach(g, s);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (g) {
            /* only the sessions that asked (session_wake), not all of them */
            session *work = NULL;
            pthread_mutex_lock(&g->ready_mu);
            for (session *i = g->ready; i; i = i->ready_next) {
                i->on_ready = 0;
                i->work_next = work;
                work = i;
            }
            g->ready = NULL;
            pthread_mutex_unlock(&g->ready_mu);
            /* sessions are detached (and freed) on this thread only: all still here */
            for (session *i = work; i; i = i->work_next) {
                pthread_mutex_lock(&i->mu);
                int want = i->out_head || i->kill || i->close_after;
                int kill_now = i->sse && i->kill && i->headers_sent; /* before: its answer is due */
                pthread_mutex_unlock(&i->mu);
                if (kill_now) {
                    /* a stream whose reader stopped reading never becomes
                     * writable: close it without waiting for that */
                    lws_set_timeout(i->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
                } else if (want) {
                    lws_callback_on_writable(i->wsi);
                }
            }
        }
        return 0;
    case LWS_CALLBACK_HTTP: /* no file matched (or no www dir) */
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL)) {
            return -1;
        }
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Every ping interval: "ping" to every welcomed browser; a session silent
 * past the idle timeout (or without a handle by then) is cut off. */
void on_tick(lws_sorted_usec_list_t *sul)
{
    gateway *g = lws_container_of(sul, gateway, tick);
    int64_t now = now_ms();
    for (session *s = g->sessions; s; s = s->next) {
        if (s->sse) {
            /* a comment keeps proxies and the reader's timeouts from closing the stream */
            push_frame(s, ": keep-alive\n\n", 14, 0);
        } else if (now - s->last_rx > g->cfg.idle_ms) {
            pthread_mutex_lock(&s->mu);
            s->kill = 1;
            pthread_mutex_unlock(&s->mu);
            lws_callback_on_writable(s->wsi);
            logv(g, "%s: silent for %d ms, closing", s->peer, g->cfg.idle_ms);
        } else if (s->started) {
            push_frame(s, "ping", 4, 0);
        }
    }
    lws_sul_schedule(g->ctx, 0, &g->tick, on_tick, (lws_usec_t)g->cfg.ping_ms * LWS_US_PER_MS);
}

static void on_bye(lws_sorted_usec_list_t *sul)
{
    gateway *g = lws_container_of(sul, gateway, bye);
    g->bye_over = 1;
}

/* Shutting down: a close frame with status 1001 (going away) to every
 * browser, then the close handshakes, for at most timeout_ms. */
void going_away(gateway *g, int timeout_ms)
{
    g->going_away = 1;
    for (session *s = g->sessions; s; s = s->next) {
        lws_callback_on_writable(s->wsi);
    }
    lws_sul_schedule(g->ctx, 0, &g->bye, on_bye, (lws_usec_t)timeout_ms * LWS_US_PER_MS);
    while (g->sessions && !g->bye_over) {
        if (lws_service(g->ctx, 0) < 0) {
            break;
        }
    }
    lws_sul_cancel(&g->bye);
}
