/*
 * The hub's WebSocket endpoints (libwebsockets): ws and wss listeners with
 * the oocsi-web protocol at /ws (codecs/README.md describes it) and, optionally, static
 * files over HTTP from www_dir.
 *
 * Threading: one lws context with one vhost per listener, serviced by its
 * own thread. Every callback that touches hub state takes the hub mutex; the
 * protocol itself (handles, commands, routing) lives in hub.c. The hub
 * thread never calls lws except lws_cancel_service(): it queues frames in the
 * client's output and wakes the service thread, which then asks for
 * WRITEABLE on every client with work (LWS_CALLBACK_EVENT_WAIT_CANCELLED) and
 * writes one frame per WRITEABLE callback.
 */
#include "hub_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

_Static_assert(LWS_PRE <= HUB_WS_PRE, "HUB_WS_PRE must leave room for libwebsockets' frame header");

struct hub_ws {
    oocsi_hub *h;
    struct lws_context *ctx;
    pthread_t thread;
    int thread_started;
    int quit;       /* under the hub mutex */
    int going_away; /* under the hub mutex: close every connection with 1001 */
    size_t max_frame;
    int verbose;
    char *www;
    char *allow_origins;
    struct lws_http_mount mount;
    struct lws_protocols protocols[2];
    SSL_CTX *client_ctx; /* given to the wss vhost so lws makes (and leaks) none */
};

/* Per connection (lws allocates and zeroes it). */
typedef struct ws_sess {
    struct client *c;
    char *buf;
    size_t len, cap;
    int rx_off; /* reading paused (stalled) */
    int binary; /* the message being received is binary: ignored */
} ws_sess;

static void apply_want(void *conn, unsigned want, void *ctx)
{
    hub_ws *w = ctx;
    struct lws *wsi = conn;
    ws_sess *s = lws_wsi_user(wsi);
    if ((want & (HUB_WS_WRITE | HUB_WS_CLOSE)) || w->going_away) {
        lws_callback_on_writable(wsi);
    }
    int stall = (want & HUB_WS_STALL) != 0;
    if (s && stall != s->rx_off) {
        s->rx_off = stall;
        lws_rx_flow_control(wsi, !stall);
    }
}

static int on_receive(hub_ws *w, struct lws *wsi, ws_sess *s, const void *in, size_t len)
{
    if (!s->c) {
        return -1;
    }
    if (lws_is_first_fragment(wsi)) {
        s->binary = lws_frame_is_binary(wsi);
    }
    if (s->binary) { /* commands are text: a binary message is dropped whole */
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            fprintf(stderr, "oocsi-hub: binary WebSocket message ignored (commands are text frames)\n");
            s->binary = 0;
        }
        return 0;
    }
    if (s->len + len > w->max_frame) {
        if (w->verbose) {
            fprintf(stderr, "oocsi-hub: WebSocket message longer than %zu bytes: closing\n", w->max_frame);
        }
        return -1;
    }
    if (s->cap < s->len + len + 1) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + len + 1) {
            cap *= 2;
        }
        char *nb = realloc(s->buf, cap);
        if (!nb) {
            return -1;
        }
        s->buf = nb;
        s->cap = cap;
    }
    if (len) {
        memcpy(s->buf + s->len, in, len);
    }
    s->len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) {
        return 0;
    }
    s->buf[s->len] = '\0';
    hub_lock(w->h);
    hub_ws_input(w->h, s->c, s->buf, s->len);
    hub_unlock(w->h);
    s->len = 0;
    if (s->cap > (1u << 20)) {
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
    }
    return 0;
}

static int on_writeable(hub_ws *w, struct lws *wsi, ws_sess *s)
{
    unsigned char *b = NULL;
    size_t n = 0;
    void *ref = NULL;
    unsigned more = 0;
    hub_lock(w->h);
    int going_away = w->going_away;
    int r = going_away ? 0 : hub_ws_next_frame(w->h, s->c, &b, &n, &ref);
    if (r > 0) {
        more = hub_ws_want(s->c);
    }
    hub_unlock(w->h);
    if (going_away) {
        static const char why[] = "server shutting down";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)why, sizeof why - 1);
        return -1;
    }
    if (r == -2) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
    }
    if (r < 0) {
        return -1;
    }
    if (r == 0) {
        return 0;
    }
    int wr = lws_write(wsi, b, n, LWS_WRITE_TEXT); /* the header goes into the headroom before b */
    hub_lock(w->h);
    hub_ws_frame_done(w->h, ref);
    hub_unlock(w->h);
    if (wr < 0 || (size_t)wr < n) {
        return -1;
    }
    if (more & (HUB_WS_WRITE | HUB_WS_CLOSE)) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

/* The Origin check of a WebSocket upgrade (hub_origin_allowed); a refused
 * one gets HTTP 403. */
static int origin_ok(hub_ws *w, struct lws *wsi)
{
    char origin[256], host[256];
    int on = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN), hn = lws_hdr_total_length(wsi, WSI_TOKEN_HOST);
    if (on <= 0) {
        return 1;
    }
    if (on >= (int)sizeof origin || lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) < 0) {
        snprintf(origin, sizeof origin, "?"); /* too long to be one of ours: refused */
    }
    if (hn <= 0 || hn >= (int)sizeof host || lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) < 0) {
        host[0] = '\0';
    }
    if (hub_origin_allowed(origin, host[0] ? host : NULL, w->allow_origins)) {
        return 1;
    }
    fprintf(stderr, "oocsi-hub: WebSocket from Origin %s refused (see --allow-origin)\n", origin);
    lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "Origin not allowed (see oocsi-hub --allow-origin)");
    return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *cx = lws_get_context(wsi);
    hub_ws *w = cx ? lws_context_user(cx) : NULL;
    ws_sess *s = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[16];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0) {
            return 1; /* WebSocket only at /ws */
        }
        char peer[64] = "?";
        lws_get_peer_simple(wsi, peer, sizeof peer);
        int refused = 0;
        if (w) { /* --max-conns-per-addr, --max-pending-hellos, as for TCP */
            hub_lock(w->h);
            refused = ws_admit(w->h, peer) != 0;
            hub_unlock(w->h);
        }
        return refused;
    }
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: /* before any upgrade: >0 answered (403) */
        return (w && !origin_ok(w, wsi)) ? 1 : 0;
    case LWS_CALLBACK_ESTABLISHED: {
        char peer[64] = "?";
        lws_get_peer_simple(wsi, peer, sizeof peer);
        if (!w || !s) {
            return -1;
        }
        memset(s, 0, sizeof *s);
        hub_lock(w->h);
        s->c = hub_ws_attach(w->h, wsi, peer);
        hub_unlock(w->h);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return (w && s) ? on_receive(w, wsi, s, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return (w && s) ? on_writeable(w, wsi, s) : -1;
    case LWS_CALLBACK_CLOSED:
        if (w && s) {
            if (s->c) {
                hub_lock(w->h);
                hub_ws_detach(w->h, s->c);
                hub_unlock(w->h);
                s->c = NULL;
            }
            free(s->buf);
            s->buf = NULL;
            s->len = s->cap = 0;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (w) {
            hub_lock(w->h);
            hub_ws_each(w->h, apply_want, w);
            hub_unlock(w->h);
        }
        return 0;
    case LWS_CALLBACK_HTTP: /* no file mount matched (or none configured) */
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL)) {
            return -1;
        }
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void *ws_thread(void *arg)
{
    hub_ws *w = arg;
    while (1) {
        hub_lock(w->h);
        int quit = w->quit;
        hub_unlock(w->h);
        if (quit) {
            break;
        }
        lws_service(w->ctx, 0);
    }
    return NULL;
}

static struct lws_vhost *make_vhost(hub_ws *w, const hub_ws_config *cfg, int port, int tls, const char *name)
{
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.port = port;
    vi.vhost_name = name;
    vi.protocols = w->protocols;
    vi.mounts = w->www ? &w->mount : NULL;
    const char *a = cfg->bind_address;
    int any = !a || !strcmp(a, "0.0.0.0") || !strcmp(a, "::") || !strcmp(a, "*");
    vi.iface = any ? NULL : a;
    if (a && !strchr(a, ':')) {
        vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    if (tls) {
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        vi.ssl_cert_filepath = cfg->cert_file;
        vi.ssl_private_key_filepath = cfg->key_file;
        /* lws 4.1.6 also builds a client SSL_CTX (with the whole system CA
         * store) for every TLS vhost and never frees it: hand it a small one
         * of ours instead, freed in hub_ws_stop(). */
        if (!w->client_ctx)
            w->client_ctx = SSL_CTX_new(TLS_client_method());
        vi.provided_client_ssl_ctx = w->client_ctx;
    }
    struct lws_vhost *vh = lws_create_vhost(w->ctx, &vi);
    if (!vh) {
        fprintf(stderr, "oocsi-hub: cannot listen for %s on %s:%d\n", tls ? "wss" : "ws", a ? a : "*", port);
    }
    return vh;
}

hub_ws *hub_ws_start(oocsi_hub *h, hub_ws_config *cfg)
{
    hub_ws *w = calloc(1, sizeof *w);
    if (!w) {
        return NULL;
    }
    w->h = h;
    w->max_frame = cfg->max_frame ? cfg->max_frame : (size_t)16 * 1024 * 1024;
    w->verbose = cfg->verbose;
    lws_set_log_level(cfg->verbose ? (LLL_ERR | LLL_WARN | LLL_NOTICE) : LLL_ERR, NULL);

    w->protocols[0].name = "oocsi";
    w->protocols[0].callback = ws_callback;
    w->protocols[0].per_session_data_size = sizeof(ws_sess);
    w->protocols[0].rx_buffer_size = 0;
    if (cfg->www_dir && *cfg->www_dir) {
        w->www = strdup(cfg->www_dir);
        if (!w->www) {
            free(w);
            return NULL;
        }
        w->mount.mountpoint = "/";
        w->mount.mountpoint_len = 1;
        w->mount.origin = w->www;
        w->mount.def = "index.html";
        w->mount.origin_protocol = LWSMPRO_FILE;
    }
    if (cfg->allow_origins && !(w->allow_origins = strdup(cfg->allow_origins))) {
        free(w->www);
        free(w);
        return NULL;
    }

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    /* SSL is initialised per vhost (the wss one): with
     * LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT on the context too, lws 4.1.6
     * leaks a client SSL_CTX with the system CA store at destroy. */
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = w;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        fprintf(stderr, "oocsi-hub: cannot create the libwebsockets context\n");
        hub_ws_stop(w);
        return NULL;
    }
    if (cfg->ws_port >= 0) {
        struct lws_vhost *vh = make_vhost(w, cfg, cfg->ws_port, 0, "oocsi-ws");
        if (!vh) {
            hub_ws_stop(w);
            return NULL;
        }
        cfg->ws_port = lws_get_vhost_listen_port(vh);
    }
    if (cfg->wss_port >= 0) {
        struct lws_vhost *vh = make_vhost(w, cfg, cfg->wss_port, 1, "oocsi-wss");
        if (!vh) {
            hub_ws_stop(w);
            return NULL;
        }
        cfg->wss_port = lws_get_vhost_listen_port(vh);
    }

    /* like the hub thread: no asynchronous signals (SIGPIPE included) */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGTRAP);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, ws_thread, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        fprintf(stderr, "oocsi-hub: cannot start the WebSocket thread: %s\n", strerror(rc));
        hub_ws_stop(w);
        return NULL;
    }
    w->thread_started = 1;
    return w;
}

void hub_ws_notify(hub_ws *w)
{
    if (w && w->ctx) {
        lws_cancel_service(w->ctx);
    }
}

void hub_ws_go_away(hub_ws *w, int timeout_ms)
{
    if (!w || !w->thread_started) {
        return;
    }
    hub_lock(w->h);
    w->going_away = 1;
    lws_cancel_service(w->ctx); /* WRITEABLE for every connection, which closes it */
    hub_ws_wait_none(w->h, timeout_ms);
    hub_unlock(w->h);
}

void hub_ws_stop(hub_ws *w)
{
    if (!w) {
        return;
    }
    if (w->thread_started) {
        hub_lock(w->h);
        w->quit = 1;
        lws_cancel_service(w->ctx);
        hub_unlock(w->h);
        pthread_join(w->thread, NULL);
    }
    if (w->ctx) {
        lws_context_destroy(w->ctx); /* closes every connection: hub_ws_detach for each */
    }
    SSL_CTX_free(w->client_ctx);
    free(w->www);
    free(w->allow_origins);
    free(w);
}
