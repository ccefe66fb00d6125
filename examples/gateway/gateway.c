/*
 * oocsi-gateway: lets browsers join OOCSI through any upstream endpoint.
 *
 * Browsers connect with their own WebSocket to /ws and speak the oocsi-web
 * protocol (PROTOCOL.md §19); the same port serves a small static page over
 * HTTP. For every browser the gateway opens one liboocsi client upstream
 * (tcp, tls, ws or wss, with failover over the endpoint list) under the
 * browser's handle, and relays subscribe, unsubscribe and sendjson one way
 * and channel and direct messages (so call responses too) the other way.
 *
 * Threading:
 *  - the main thread runs the libwebsockets context (HTTP, WebSocket, the
 *    periodic ping tick) and never blocks on the upstream;
 *  - each browser session has one worker thread that owns its liboocsi
 *    client: it connects (oocsi_connect blocks up to the connect timeout),
 *    then executes the browser's commands in order (oocsi_subscribe waits for
 *    the server's confirmation) and finally closes the client;
 *  - the client's own loop thread (oocsi_loop_start) runs the handlers, which
 *    queue frames for the browser and wake the lws thread with
 *    lws_cancel_service(); the lws thread writes them in SERVER_WRITEABLE.
 * A session object is shared by the lws side and the worker (reference
 * counted); its queues are guarded by its mutex. Both queues are bounded: a
 * browser that floods commands, does not read its messages, sends a frame
 * over the size limit or stays silent past the idle timeout is cut off
 * alone.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
#include <openssl/ssl.h>
#endif

#include <oocsi/oocsi.h>

#ifndef OOCSI_GATEWAY_WWW_DIR
#define OOCSI_GATEWAY_WWW_DIR "/usr/local/share/oocsi-gateway/www"
#endif

#define DEFAULT_UPSTREAM "tcp://127.0.0.1:4444"
#define DEFAULT_PORT 8080
#define MAX_LIST 32

/* ------------------------------------------------------------------ configuration */

typedef struct config {
    const char *listen;
    int port;
    const char *upstream[MAX_LIST];
    int n_upstream;
    const char *origins[MAX_LIST];
    int n_origins;
    const char *cert, *key; /* wss */
    const char *ca;         /* upstream tls/wss */
    int insecure;
    const char *www; /* NULL: no static files */
    int max_clients;
    size_t max_frame;
    size_t max_queue; /* bytes queued per session, each direction */
    int ping_ms, idle_ms, connect_ms;
    int verbose;
} config;

/* ------------------------------------------------------------------ sessions */

typedef struct frame {
    struct frame *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len (+1) */
} frame;

typedef enum { CMD_SUB, CMD_UNSUB, CMD_SEND } cmd_kind;

typedef struct cmd {
    struct cmd *next;
    cmd_kind kind;
    char *arg;  /* channel or recipient (points into text) */
    char *json; /* CMD_SEND (points into text) */
    size_t size;
    char text[];
} cmd;

typedef struct gateway gateway;

typedef struct session {
    gateway *g;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* under g->mu */
    /* under mu */
    frame *out_head, *out_tail;
    size_t out_bytes;
    cmd *in_head, *in_tail;
    size_t in_bytes;
    int quit;        /* the browser is gone: the worker stops */
    int close_after; /* close the WebSocket once the output is written */
    int kill;        /* close the WebSocket now */
    /* lws thread only */
    struct lws *wsi;
    struct session *next, *prev;
    int started; /* handle received, worker running */
    char *handle;
    char *rx;
    size_t rx_len, rx_cap;
    int64_t last_rx, opened;
    char peer[64];
} session;

struct gateway {
    config cfg;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    struct lws_http_mount mount;
    lws_sorted_usec_list_t tick;
    session *sessions; /* lws thread only */
    int n_sessions;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int workers; /* running worker threads, under mu */
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
    SSL_CTX *client_ctx;
#endif
};

typedef struct pss {
    session *s;
} pss;

static volatile sig_atomic_t interrupted;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logv(const gateway *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logv(const gateway *g, const char *fmt, ...)
{
    if (!g->cfg.verbose) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("oocsi-gateway: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void session_unref(session *s)
{
    gateway *g = s->g;
    pthread_mutex_lock(&g->mu);
    int left = --s->refs;
    pthread_mutex_unlock(&g->mu);
    if (left) {
        return;
    }
    for (frame *f = s->out_head, *n; f; f = n) {
        n = f->next;
        free(f);
    }
    for (cmd *c = s->in_head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->handle);
    free(s->rx);
    free(s);
}

/* Queues a text frame for the browser (any thread) and wakes the lws thread.
 * Past the queue bound the session is cut off instead. */
static void push_frame(session *s, const char *text, size_t n, int close_after)
{
    frame *f = malloc(sizeof *f + LWS_PRE + n + 1);
    pthread_mutex_lock(&s->mu);
    if (s->quit) {
        pthread_mutex_unlock(&s->mu);
        free(f);
        return;
    }
    if (!f || s->out_bytes + n > s->g->cfg.max_queue) {
        s->kill = 1;
        free(f);
    } else {
        f->next = NULL;
        f->len = n;
        memcpy(f->buf + LWS_PRE, text, n);
        if (s->out_tail) {
            s->out_tail->next = f;
        } else {
            s->out_head = f;
        }
        s->out_tail = f;
        s->out_bytes += n;
        if (close_after) {
            s->close_after = 1;
        }
    }
    pthread_mutex_unlock(&s->mu);
    lws_cancel_service(s->g->ctx);
}

static void push_text(session *s, int close_after, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void push_text(session *s, int close_after, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    push_frame(s, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1, close_after);
}

/* ------------------------------------------------------------------ upstream side (worker and loop threads) */

/* Sorts an object's keys (the web server sends them sorted), recursively. */
static void sort_keys(cJSON *o)
{
    if (!cJSON_IsObject(o) && !cJSON_IsArray(o)) {
        return;
    }
    for (cJSON *i = o->child; i; i = i->next) {
        sort_keys(i);
    }
    if (!cJSON_IsObject(o)) {
        return;
    }
    /* insertion sort of the linked list (payloads are small) */
    cJSON *sorted = NULL;
    for (cJSON *i = o->child, *next; i; i = next) {
        next = i->next;
        cJSON **p = &sorted;
        while (*p && strcmp((*p)->string, i->string) <= 0) {
            p = &(*p)->next;
        }
        i->next = *p;
        *p = i;
    }
    cJSON *prev = NULL;
    for (cJSON *i = sorted; i; i = i->next) {
        i->prev = prev;
        prev = i;
    }
    if (sorted) {
        sorted->prev = prev; /* cJSON keeps the tail in child->prev */
    }
    o->child = sorted;
}

/* Channel and direct messages: {"data": {...}, "recipient", "sender", "timestamp"}. */
static void on_message(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    session *s = user;
    cJSON *o = cJSON_CreateObject();
    cJSON *d = cJSON_Duplicate(oocsi_message_data(m), 1);
    char *text = NULL;
    if (o && d) {
        sort_keys(d);
        cJSON_AddItemToObject(o, "data", d);
        d = NULL;
        cJSON_AddStringToObject(o, "recipient", oocsi_message_recipient(m));
        cJSON_AddStringToObject(o, "sender", oocsi_message_sender(m));
        cJSON_AddNumberToObject(o, "timestamp", (double)oocsi_message_timestamp(m));
        text = cJSON_PrintUnformatted(o);
    }
    if (text) {
        push_frame(s, text, strlen(text), 0);
    } else {
        pthread_mutex_lock(&s->mu);
        s->kill = 1; /* out of memory: drop this browser rather than lose messages silently */
        pthread_mutex_unlock(&s->mu);
        lws_cancel_service(s->g->ctx);
    }
    cJSON_free(text);
    cJSON_Delete(d);
    cJSON_Delete(o);
}

static void on_state(oocsi_client *c, oocsi_state st, int err, void *user)
{
    session *s = user;
    if (st == OOCSI_STATE_CONNECTED) {
        logv(s->g, "%s: upstream connected (%s)", oocsi_handle(c), oocsi_endpoint(c));
    } else if (st == OOCSI_STATE_OFFLINE) {
        logv(s->g, "%s: upstream offline (%s), reconnecting", oocsi_handle(c), oocsi_strerror(err));
    } else {
        logv(s->g, "%s: upstream closed", oocsi_handle(c));
        pthread_mutex_lock(&s->mu);
        s->kill = 1;
        pthread_mutex_unlock(&s->mu);
        lws_cancel_service(s->g->ctx);
    }
}

static void log_upstream(oocsi_log_level level, const char *msg, void *user)
{
    (void)level;
    (void)user;
    fprintf(stderr, "oocsi-gateway: upstream: %s\n", msg);
}

static oocsi_options *upstream_options(session *s, const char *handle)
{
    const config *cfg = &s->g->cfg;
    oocsi_options *o = oocsi_options_new();
    if (!o) {
        return NULL;
    }
    int rc = oocsi_options_set_handle(o, handle);
    for (int i = 0; rc == OOCSI_OK && i < cfg->n_upstream; i++) {
        rc = oocsi_options_add_endpoint(o, cfg->upstream[i]);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_logger(o, cfg->verbose ? log_upstream : NULL, NULL);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_direct_handler(o, on_message, s);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_state_handler(o, on_state, s);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_connect_timeout(o, cfg->connect_ms);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_reconnect_delay(o, 100, 2000);
    }
    if (rc == OOCSI_OK && cfg->ca) {
        rc = oocsi_options_set_tls_ca_file(o, cfg->ca);
    }
    if (rc == OOCSI_OK && cfg->insecure) {
        rc = oocsi_options_set_tls_verify(o, 0);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_max_line_length(o, cfg->max_queue > 1024 ? cfg->max_queue : 1024);
    }
    if (rc != OOCSI_OK) {
        oocsi_options_free(o);
        return NULL;
    }
    return o;
}

/* A handle as the web server takes it: trimmed, without leading/trailing
 * '/'; empty, too long, with whitespace, control or non-ASCII characters, or
 * with ':' (no password handles) it becomes webclient_####. */
static const char *web_handle(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 200) {
        return "webclient_####";
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (ch <= ' ' || ch >= 0x7f || ch == ':') {
            return "webclient_####";
        }
    }
    return h;
}

static void run_command(session *s, oocsi_client *c, cmd *k)
{
    int rc = OOCSI_OK;
    switch (k->kind) {
    case CMD_SUB:
        rc = oocsi_subscribe(c, k->arg, on_message, s);
        break;
    case CMD_UNSUB:
        rc = oocsi_unsubscribe(c, k->arg);
        break;
    case CMD_SEND:
        rc = oocsi_send_json(c, k->arg, k->json);
        if (rc == OOCSI_ERR_INVAL) {
            rc = OOCSI_OK; /* not a JSON object: ignored, as the web server does */
        }
        break;
    }
    if (rc == OOCSI_ERR_QUEUE_FULL || rc == OOCSI_ERR_NOMEM || rc == OOCSI_ERR_CLOSED) {
        logv(s->g, "%s: %s, closing the browser session", oocsi_handle(c), oocsi_strerror(rc));
        pthread_mutex_lock(&s->mu);
        s->kill = 1;
        pthread_mutex_unlock(&s->mu);
        lws_cancel_service(s->g->ctx);
    } else if (rc != OOCSI_OK) {
        logv(s->g, "%s: command failed: %s", oocsi_handle(c), oocsi_strerror(rc));
    }
}

static void *worker(void *arg)
{
    session *s = arg;
    gateway *g = s->g;
    oocsi_client *c = NULL;
    oocsi_options *o = upstream_options(s, web_handle(s->handle));
    int rc = o ? oocsi_connect(&c, o) : OOCSI_ERR_NOMEM;
    oocsi_options_free(o);
    if (rc == OOCSI_OK) {
        push_text(s, 0, "{\"message\" : \"welcome %s\"}", oocsi_handle(c));
        logv(g, "%s: welcomed upstream at %s", oocsi_handle(c), oocsi_endpoint(c));
        rc = oocsi_loop_start(c);
        if (rc != OOCSI_OK) {
            push_text(s, 1, "{\"message\" : \"ERROR: %s\"}", oocsi_strerror(rc));
        }
    } else if (rc == OOCSI_ERR_HANDLE_TAKEN) {
        push_text(s, 1, "{\"message\" : \"ERROR: client %s exists already\"}", web_handle(s->handle));
    } else {
        logv(g, "%s: cannot connect upstream: %s", s->handle, oocsi_strerror(rc));
        push_text(s, 1, "{\"message\" : \"ERROR: upstream: %s\"}", oocsi_strerror(rc));
    }
    if (rc == OOCSI_OK) {
        pthread_mutex_lock(&s->mu);
        while (!s->quit) {
            cmd *k = s->in_head;
            if (!k) {
                pthread_cond_wait(&s->cv, &s->mu);
                continue;
            }
            s->in_head = k->next;
            if (!s->in_head) {
                s->in_tail = NULL;
            }
            s->in_bytes -= k->size;
            pthread_mutex_unlock(&s->mu);
            run_command(s, c, k);
            free(k);
            pthread_mutex_lock(&s->mu);
        }
        pthread_mutex_unlock(&s->mu);
    }
    oocsi_close(c); /* stops the loop thread: no handler runs after this */
    session_unref(s);
    /* last: main() tears down the context once no worker runs */
    pthread_mutex_lock(&g->mu);
    g->workers--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* ------------------------------------------------------------------ browser side (lws thread) */

static int start_worker(gateway *g, session *s)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
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

static int origin_allowed(const gateway *g, struct lws *wsi)
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

static void session_detach(gateway *g, session *s)
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
    s->wsi = NULL;
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    session_unref(s);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
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
        if (g->cfg.max_clients > 0 && g->n_sessions >= g->cfg.max_clients) {
            logv(g, "refused a WebSocket: %d clients already", g->n_sessions);
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        if (!g || !p) {
            return -1;
        }
        s = calloc(1, sizeof *s);
        if (!s) {
            return -1;
        }
        s->g = g;
        s->refs = 1;
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        s->wsi = wsi;
        s->opened = s->last_rx = now_ms();
        lws_get_peer_simple(wsi, s->peer, sizeof s->peer);
        s->next = g->sessions;
        if (g->sessions) {
            g->sessions->prev = s;
        }
        g->sessions = s;
        g->n_sessions++;
        p->s = s;
        return 0;
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
            for (session *i = g->sessions; i; i = i->next) {
                pthread_mutex_lock(&i->mu);
                int want = i->out_head || i->kill || i->close_after;
                pthread_mutex_unlock(&i->mu);
                if (want) {
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
static void on_tick(lws_sorted_usec_list_t *sul)
{
    gateway *g = lws_container_of(sul, gateway, tick);
    int64_t now = now_ms();
    for (session *s = g->sessions; s; s = s->next) {
        if (now - s->last_rx > g->cfg.idle_ms) {
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

/* ------------------------------------------------------------------ main */

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oocsi-gateway [options]\n"
            "Relays browsers speaking the oocsi-web protocol at ws://ADDR:PORT/ws to OOCSI\n"
            "servers, one upstream client per browser, and serves a chat page at /.\n"
            "\n"
            "  -l, --listen ADDR        listen address (default 127.0.0.1; 0.0.0.0 for all)\n"
            "  -p, --port PORT          listen port (default %d; 0: any, printed on stdout)\n"
            "  -u, --upstream URL       upstream endpoint, repeatable, tried in order\n"
            "                           (tcp://, tls://, ws://, wss://; default %s)\n"
            "      --cert FILE          PEM certificate: serve https and wss instead of http and ws\n"
            "      --key FILE           PEM key of --cert (default: in the certificate file)\n"
            "      --ca FILE            CA file to verify tls/wss upstreams\n"
            "      --insecure           do not verify tls/wss upstream certificates\n"
            "  -o, --origin ORIGIN      allowed Origin (e.g. http://host:8080), repeatable;\n"
            "                           default: any\n"
            "      --www DIR            static files served at / (default %s);\n"
            "                           \"\" for none\n"
            "      --max-clients N      browsers at once (default 64)\n"
            "      --max-frame BYTES    longest frame from a browser (default 65536)\n"
            "      --max-queue BYTES    bytes queued per browser and direction (default 4194304)\n"
            "      --ping-interval MS   ping browsers this often (default 10000)\n"
            "      --idle-timeout MS    close browsers silent this long (default 60000)\n"
            "      --connect-timeout MS upstream connect timeout (default 5000)\n"
            "  -v, --verbose            log sessions to stderr\n"
            "  -h, --help               this text\n",
            DEFAULT_PORT, DEFAULT_UPSTREAM, OOCSI_GATEWAY_WWW_DIR);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* 0 ok, 1 help, -1 usage error. */
static int parse_args(config *cfg, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            return 1;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            cfg->verbose = 1;
            continue;
        }
        if (!strcmp(a, "--insecure")) {
            cfg->insecure = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "oocsi-gateway: %s: unknown option or missing value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        long n = 0;
        int bad = 0;
        if (!strcmp(a, "-l") || !strcmp(a, "--listen")) {
            cfg->listen = v;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--port")) {
            bad = parse_long(v, 0, 65535, &n);
            cfg->port = (int)n;
        } else if (!strcmp(a, "-u") || !strcmp(a, "--upstream")) {
            bad = cfg->n_upstream >= MAX_LIST;
            if (!bad) {
                cfg->upstream[cfg->n_upstream++] = v;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--origin")) {
            bad = cfg->n_origins >= MAX_LIST;
            if (!bad) {
                cfg->origins[cfg->n_origins++] = v;
            }
        } else if (!strcmp(a, "--cert")) {
            cfg->cert = v;
        } else if (!strcmp(a, "--key")) {
            cfg->key = v;
        } else if (!strcmp(a, "--ca")) {
            cfg->ca = v;
        } else if (!strcmp(a, "--www")) {
            cfg->www = *v ? v : NULL;
        } else if (!strcmp(a, "--max-clients")) {
            bad = parse_long(v, 1, 100000, &n);
            cfg->max_clients = (int)n;
        } else if (!strcmp(a, "--max-frame")) {
            bad = parse_long(v, 256, LONG_MAX, &n);
            cfg->max_frame = (size_t)n;
        } else if (!strcmp(a, "--max-queue")) {
            bad = parse_long(v, 4096, LONG_MAX, &n);
            cfg->max_queue = (size_t)n;
        } else if (!strcmp(a, "--ping-interval")) {
            bad = parse_long(v, 10, INT_MAX, &n);
            cfg->ping_ms = (int)n;
        } else if (!strcmp(a, "--idle-timeout")) {
            bad = parse_long(v, 10, INT_MAX, &n);
            cfg->idle_ms = (int)n;
        } else if (!strcmp(a, "--connect-timeout")) {
            bad = parse_long(v, 10, INT_MAX, &n);
            cfg->connect_ms = (int)n;
        } else {
            fprintf(stderr, "oocsi-gateway: unknown option %s\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "oocsi-gateway: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    if (cfg->n_upstream == 0) {
        cfg->upstream[cfg->n_upstream++] = DEFAULT_UPSTREAM;
    }
    if (cfg->key && !cfg->cert) {
        fprintf(stderr, "oocsi-gateway: --key needs --cert\n");
        return -1;
    }
    /* Check the endpoints once here rather than per browser. */
    oocsi_options *o = oocsi_options_new();
    for (int i = 0; o && i < cfg->n_upstream; i++) {
        int rc = oocsi_options_add_endpoint(o, cfg->upstream[i]);
        if (rc != OOCSI_OK) {
            fprintf(stderr, "oocsi-gateway: upstream %s: %s\n", cfg->upstream[i], oocsi_strerror(rc));
            oocsi_options_free(o);
            return -1;
        }
    }
    oocsi_options_free(o);
    return 0;
}

int main(int argc, char **argv)
{
    static gateway gw;
    gateway *g = &gw;
    config *cfg = &g->cfg;
    cfg->listen = "127.0.0.1";
    cfg->port = DEFAULT_PORT;
    cfg->www = OOCSI_GATEWAY_WWW_DIR;
    cfg->max_clients = 64;
    cfg->max_frame = 65536;
    cfg->max_queue = 4u << 20;
    cfg->ping_ms = 10000;
    cfg->idle_ms = 60000;
    cfg->connect_ms = 5000;
    int pr = parse_args(cfg, argc, argv);
    if (pr) {
        usage(pr > 0 ? stdout : stderr);
        return pr > 0 ? 0 : 2;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);

    lws_set_log_level(cfg->verbose ? (LLL_ERR | LLL_WARN) : LLL_ERR, NULL);
    g->protocols[0].name = "oocsi";
    g->protocols[0].callback = ws_callback;
    g->protocols[0].per_session_data_size = sizeof(pss);
    g->protocols[0].rx_buffer_size = 0;
    if (cfg->www) {
        g->mount.mountpoint = "/";
        g->mount.mountpoint_len = 1;
        g->mount.origin = cfg->www;
        g->mount.def = "index.html";
        g->mount.origin_protocol = LWSMPRO_FILE;
    }

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = g;
    g->ctx = lws_create_context(&info);
    if (!g->ctx) {
        fprintf(stderr, "oocsi-gateway: cannot create the libwebsockets context\n");
        return 1;
    }
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.port = cfg->port;
    vi.vhost_name = "oocsi-gateway";
    vi.protocols = g->protocols;
    vi.mounts = cfg->www ? &g->mount : NULL;
    const char *a = cfg->listen;
    int any = !strcmp(a, "0.0.0.0") || !strcmp(a, "::") || !strcmp(a, "*");
    vi.iface = any ? NULL : a;
    if (!strchr(a, ':')) {
        vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    if (cfg->cert) {
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        vi.ssl_cert_filepath = cfg->cert;
        vi.ssl_private_key_filepath = cfg->key ? cfg->key : cfg->cert;
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
        /* lws 4.1.6 builds (and leaks) a client SSL_CTX with the system CA
         * store for every TLS vhost: give it a small one, freed below. */
        g->client_ctx = SSL_CTX_new(TLS_client_method());
        vi.provided_client_ssl_ctx = g->client_ctx;
#endif
    }
    struct lws_vhost *vh = lws_create_vhost(g->ctx, &vi);
    int rc = 0;
    if (!vh) {
        fprintf(stderr, "oocsi-gateway: cannot listen on %s:%d\n", a, cfg->port);
        rc = 1;
    } else {
        printf("oocsi-gateway: listening on %s:%d\n", a, lws_get_vhost_listen_port(vh));
        fflush(stdout);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        lws_sul_schedule(g->ctx, 0, &g->tick, on_tick, (lws_usec_t)cfg->ping_ms * LWS_US_PER_MS);
        while (!interrupted) {
            if (lws_service(g->ctx, 0) < 0) {
                break;
            }
        }
    }
    /* Stop every worker (each closes its upstream client) while the context
     * still exists: workers and handlers call lws_cancel_service(). */
    for (session *s = g->sessions; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        s->quit = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&g->mu);
    while (g->workers > 0) {
        pthread_cond_wait(&g->cv, &g->mu); /* bounded: a connect ends within the connect timeout */
    }
    pthread_mutex_unlock(&g->mu);
    lws_sul_cancel(&g->tick);
    lws_context_destroy(g->ctx); /* CLOSED for every session: the last references */
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
    SSL_CTX_free(g->client_ctx);
#endif
    /* g->mu and g->cv are not destroyed: a worker may still be returning
     * from its last unlock. */
    return rc;
}
