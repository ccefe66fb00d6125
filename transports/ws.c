/*
 * The ws and wss transports: the oocsi-web /ws endpoint over libwebsockets.
 *
 * One lws context per connection, serviced from the client's own loop
 * through the transport's wait() (lws_service) and woken from other threads
 * with lws_cancel_service(); no thread of its own. lws callbacks run inside
 * wait() without the client's lock, so the frame queues have a mutex here.
 * Text frames in both directions, one OOCSI message per frame.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "oocsi/transport.h"

typedef struct frame {
    struct frame *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the payload */
} frame;

typedef struct ws_state {
    pthread_mutex_t mu;
    struct lws_context *ctx;
    struct lws *wsi;
    lws_sorted_usec_list_t sul;
    lws_retry_bo_t idle_policy;
    const oocsi_transport_config *cfg;
    int tls;
    SSL_CTX *ssl_ctx; /* ours (wss); lws only borrows it */
    int established;
    int error; /* an OOCSI_ERR_* once the connection failed */
    int closed;
    frame *in_head, *in_tail;
    frame *out_head, *out_tail;
    char *partial;
    size_t partial_len, partial_cap;
    size_t max_frame;
    char host[256];
    char path[512];
    char why[320];      /* why the connection failed (the certificate problem, ...) */
    int64_t last_rx_ms; /* monotonic time of the last frame received */
    int64_t hangup_ms;  /* silence after which lws hangs up (keep-alive) */
    size_t out_bytes;   /* bytes queued for WRITEABLE */
    size_t in_bytes;    /* bytes of received frames not yet read */
    int rx_paused;      /* receiving paused (lws_rx_flow_control) */
} ws_state;

/* Received frames the core has not read yet are bounded too: past this the
 * connection stops receiving (the server sees TCP backpressure) until the
 * core has read them down to half. A single larger frame still arrives. */
#define WS_MAX_RECEIVED (4u * 1024 * 1024)

/* Frames waiting for WRITEABLE are bounded: past this write() takes nothing
 * and the core keeps (and bounds) the rest. */
#define WS_MAX_QUEUED (256u * 1024)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ws_log(ws_state *s, oocsi_log_level lvl, const char *fmt, const char *a)
{
    if (s->cfg && s->cfg->log)
        s->cfg->log(s->cfg->log_ctx, lvl, fmt, s->tls ? "wss" : "ws", s->host, a);
}

static void frames_free(frame *f)
{
    while (f) {
        frame *n = f->next;
        free(f);
        f = n;
    }
}

static frame *frame_new(const void *p, size_t len)
{
    frame *f = malloc(sizeof(*f) + LWS_PRE + len + 1);
    if (!f)
        return NULL;
    f->next = NULL;
    f->len = len;
    memcpy(f->data + LWS_PRE, p, len);
    f->data[LWS_PRE + len] = '\0';
    return f;
}

static void push(frame **head, frame **tail, frame *f)
{
    if (*tail)
        (*tail)->next = f;
    else
        *head = f;
    *tail = f;
}

static void fail(ws_state *s, int err)
{
    if (!s->error)
        s->error = err;
    s->closed = 1;
}

/* Maps lws's connection error text to a code: TLS problems are
 * OOCSI_ERR_TLS, the rest OOCSI_ERR_CONNECT. */
static int classify(ws_state *s, const char *why)
{
    if (!s->tls || !why)
        return OOCSI_ERR_CONNECT;
    static const char *const tls_words[] = {"ssl", "SSL", "tls", "TLS", "cert", "verif", "handshake", NULL};
    for (int i = 0; tls_words[i]; i++)
        if (strstr(why, tls_words[i]))
            return OOCSI_ERR_TLS;
    return OOCSI_ERR_CONNECT;
}

static int on_receive(ws_state *s, struct lws *wsi, const void *in, size_t len)
{
    s->last_rx_ms = mono_ms();
    if (s->partial_len + len > s->max_frame) {
        fail(s, OOCSI_ERR_PROTOCOL);
        return -1;
    }
    if (s->partial_len + len + 1 > s->partial_cap) {
        size_t cap = s->partial_cap ? s->partial_cap : 4096;
        while (cap < s->partial_len + len + 1)
            cap *= 2;
        char *n = realloc(s->partial, cap);
        if (!n) {
            fail(s, OOCSI_ERR_NOMEM);
            return -1;
        }
        s->partial = n;
        s->partial_cap = cap;
    }
    memcpy(s->partial + s->partial_len, in, len);
    s->partial_len += len;
    if (!lws_is_final_fragment(wsi))
        return 0;
    if (lws_frame_is_binary(wsi)) {
        s->partial_len = 0; /* OOCSI speaks text frames only */
        return 0;
    }
    frame *f = frame_new(s->partial, s->partial_len);
    s->partial_len = 0;
    if (!f) {
        fail(s, OOCSI_ERR_NOMEM);
        return -1;
    }
    push(&s->in_head, &s->in_tail, f);
    s->in_bytes += f->len;
    if (!s->rx_paused && s->in_bytes >= WS_MAX_RECEIVED) {
        lws_rx_flow_control(wsi, 0);
        s->rx_paused = 1;
    }
    return 0;
}

/* Fills s->why with a cause a person can act on for a failed connection
 * (libwebsockets' own words are terse or opaque) and returns the error code. */
static int explain_connect_error(ws_state *s, struct lws *wsi, const char *in)
{
    if (s->why[0]) /* the verification callback said why */
        return OOCSI_ERR_TLS;
    if (!in)
        in = "connection failed";
    /* libwebsockets may end a handshake without calling the verification
     * callback, with only an opaque OpenSSL code in its message: ask the
     * connection's SSL for the verification result. */
    SSL *ssl = s->tls ? lws_get_ssl(wsi) : NULL;
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (vr != X509_V_OK) {
        snprintf(s->why, sizeof(s->why), "certificate verification failed: %s", X509_verify_cert_error_string(vr));
        return OOCSI_ERR_TLS;
    }
    if (s->tls && strstr(in, "lib(0)")) {
        snprintf(s->why, sizeof(s->why),
                 "TLS handshake failed (%s): is the port a wss endpoint? A plain ws port does not speak TLS", in);
        return OOCSI_ERR_TLS;
    }
    if (strstr(in, "not 101") || strstr(in, "read failed")) {
        snprintf(s->why, sizeof(s->why),
                 "the HTTP server refused the WebSocket upgrade (%s): is the path right (OOCSI's is /ws) and is the "
                 "port a WebSocket endpoint?",
                 in);
        return OOCSI_ERR_CONNECT;
    }
    snprintf(s->why, sizeof(s->why), "%s", in);
    return classify(s, in);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    ws_state *s = ctx ? lws_context_user(ctx) : NULL;
    if (!s)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        s->established = 1;
        s->last_rx_ms = mono_ms();
        if (s->out_head)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* user is the X509_STORE_CTX, len is OpenSSL's verdict: keep the
         * verdict, remember why it said no. */
        if (!len && user && !s->why[0])
            snprintf(s->why, sizeof(s->why), "certificate verification failed: %s",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error((X509_STORE_CTX *)user)));
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        int err = explain_connect_error(s, wsi, (const char *)in);
        const char *why = s->why;
        fail(s, err);
        s->wsi = NULL;
        pthread_mutex_unlock(&s->mu);
        ws_log(s, err == OOCSI_ERR_TLS ? OOCSI_LOG_ERROR : OOCSI_LOG_DEBUG, "%s %s: %s", why);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        rc = on_receive(s, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        frame *f = s->out_head;
        if (!f)
            break;
        s->out_head = f->next;
        if (!s->out_head)
            s->out_tail = NULL;
        s->out_bytes -= f->len;
        int more = s->out_head != NULL;
        pthread_mutex_unlock(&s->mu);
        int n = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
        free(f);
        pthread_mutex_lock(&s->mu);
        if (n < 0) {
            fail(s, OOCSI_ERR_IO);
            rc = -1;
        } else if (more) {
            lws_callback_on_writable(wsi);
        }
        break;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (s->wsi && s->established && s->out_head)
            lws_callback_on_writable(s->wsi);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_CLOSED:
        /* lws hangs up a peer silent past the keep-alive: say so. */
        if (s->established && !s->error && s->hangup_ms && mono_ms() - s->last_rx_ms >= s->hangup_ms - 500)
            fail(s, OOCSI_ERR_TIMEOUT);
        s->closed = 1;
        s->wsi = NULL;
        break;
    case LWS_CALLBACK_WSI_DESTROY:
        if (wsi == s->wsi) {
            s->wsi = NULL;
            s->closed = 1;
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static const struct lws_protocols protocols[] = {
    {"oocsi-ws", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static int make_ssl_ctx(ws_state *s, const oocsi_transport_config *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return OOCSI_ERR_NOMEM;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    int ok = 1;
    if (cfg->tls_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        ok = cfg->tls_ca_file ? SSL_CTX_load_verify_locations(ctx, cfg->tls_ca_file, NULL)
                              : SSL_CTX_set_default_verify_paths(ctx);
        if (!ok)
            ws_log(s, OOCSI_LOG_ERROR, "%s %s: cannot load the CA file %s",
                   cfg->tls_ca_file ? cfg->tls_ca_file : "(system store)");
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (ok && cfg->tls_cert_file) {
        const char *key = cfg->tls_key_file ? cfg->tls_key_file : cfg->tls_cert_file;
        ok = SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) == 1 &&
             SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1;
        if (!ok)
            ws_log(s, OOCSI_LOG_ERROR, "%s %s: cannot load the client certificate %s", cfg->tls_cert_file);
    }
    if (!ok) {
        SSL_CTX_free(ctx);
        return OOCSI_ERR_TLS;
    }
    s->ssl_ctx = ctx;
    return OOCSI_OK;
}

static void discard_log(int level, const char *line)
{
    (void)level;
    (void)line;
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void quiet_lws(void)
{
    /* lws logs process-wide; errors reach the client's logger through our
     * callbacks instead. */
    lws_set_log_level(LLL_ERR, discard_log);
}

static int ws_open_common(void **state, const oocsi_url *url, const oocsi_transport_config *cfg, int tls)
{
    if (!state || !url || !url->host || !*url->host || !cfg)
        return OOCSI_ERR_INVAL;
    pthread_once(&log_once, quiet_lws);
    ws_state *s = calloc(1, sizeof(*s));
    if (!s)
        return OOCSI_ERR_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->cfg = cfg;
    s->tls = tls;
    s->max_frame = cfg->max_frame ? cfg->max_frame : 16u * 1024 * 1024;
    snprintf(s->host, sizeof(s->host), "%s", url->host);
    snprintf(s->path, sizeof(s->path), "%s", url->path && *url->path ? url->path : "/ws");

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = s;
    info.fd_limit_per_thread = 8;
    if (tls) {
        /* Our own client SSL_CTX (lws 4.1 leaks the one it makes itself):
         * TLS 1.2+, chain verification against the CA file or the system
         * store; lws checks the host name per connection. */
        int err = make_ssl_ctx(s, cfg);
        if (err != OOCSI_OK) {
            pthread_mutex_destroy(&s->mu);
            free(s);
            return err;
        }
        info.provided_client_ssl_ctx = s->ssl_ctx;
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; /* enables lws's TLS role */
    }
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        SSL_CTX_free(s->ssl_ctx);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return OOCSI_ERR_NOMEM;
    }

    /* WebSocket-level keep-alive: ping when idle, hang up when silent. */
    int idle = cfg->keepalive_idle_ms > 0 ? cfg->keepalive_idle_ms : 10000;
    int dead = cfg->keepalive_timeout_ms > idle ? cfg->keepalive_timeout_ms : 2 * idle;
    /* Whole seconds in lws; the hang-up must come after the ping it waits
     * for, or a healthy idle connection is cut when it pings. */
    int ping_s = (idle + 999) / 1000, hang_s = (dead + 999) / 1000;
    if (hang_s <= ping_s)
        hang_s = ping_s + 1;
    s->idle_policy.secs_since_valid_ping = (uint16_t)ping_s;
    s->idle_policy.secs_since_valid_hangup = (uint16_t)hang_s;
    s->hangup_ms = (int64_t)hang_s * 1000;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = s->ctx;
    ci.address = s->host;
    ci.port = url->port;
    ci.path = s->path;
    ci.host = s->host;
    ci.origin = s->host;
    ci.protocol = NULL;
    ci.local_protocol_name = protocols[0].name;
    ci.pwsi = &s->wsi;
    ci.retry_and_idle_policy = &s->idle_policy;
    if (tls) {
        ci.ssl_connection = LCCSCF_USE_SSL;
        if (!cfg->tls_verify)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                 LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    if (tls && !cfg->tls_verify && cfg->log)
        cfg->log(cfg->log_ctx, OOCSI_LOG_WARN,
                 "wss %s: TLS certificate verification is OFF (insecure): anyone can impersonate this server", s->host);
    struct lws *w = lws_client_connect_via_info(&ci);
    pthread_mutex_lock(&s->mu);
    int err = s->error;
    if (!w && !err)
        err = OOCSI_ERR_CONNECT;
    pthread_mutex_unlock(&s->mu);
    if (err && !w) {
        lws_context_destroy(s->ctx);
        SSL_CTX_free(s->ssl_ctx);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return err;
    }
    *state = s;
    return OOCSI_OK;
}

static int ws_open(void **state, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    return ws_open_common(state, url, cfg, 0);
}

static int wss_open(void **state, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    return ws_open_common(state, url, cfg, 1);
}

static int ws_interest(void *state)
{
    (void)state;
    return OOCSI_WANT_READ;
}

static int ws_process(void *state, int events)
{
    (void)events;
    ws_state *s = state;
    pthread_mutex_lock(&s->mu);
    int r;
    if (s->established)
        r = 1; /* a later end is reported by read(), after the frames before it */
    else if (s->error)
        r = s->error;
    else if (s->closed)
        r = OOCSI_ERR_CONNECT;
    else
        r = 0;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void drop_empty_frames(ws_state *s)
{
    while (s->in_head && s->in_head->len == 0) {
        frame *e = s->in_head;
        s->in_head = e->next;
        free(e);
    }
    if (!s->in_head)
        s->in_tail = NULL;
}

static size_t ws_pending_frame(void *state)
{
    ws_state *s = state;
    pthread_mutex_lock(&s->mu);
    /* Empty frames carry nothing: drop them here, so that the size given is
     * the size of the frame read() returns next. */
    drop_empty_frames(s);
    size_t n;
    if (s->in_head)
        n = s->in_head->len;
    else
        n = (s->closed || s->error) && s->established ? 1 : 0; /* so read() reports the end */
    pthread_mutex_unlock(&s->mu);
    return n;
}

static ssize_t ws_read(void *state, char *buf, size_t len)
{
    ws_state *s = state;
    pthread_mutex_lock(&s->mu);
    drop_empty_frames(s);
    frame *f = s->in_head;
    ssize_t r;
    if (f && f->len > len) {
        r = OOCSI_ERR_PROTOCOL;
    } else if (f) {
        s->in_head = f->next;
        if (!s->in_head)
            s->in_tail = NULL;
        s->in_bytes -= f->len;
        memcpy(buf, f->data + LWS_PRE, f->len);
        r = (ssize_t)f->len;
        free(f);
    } else if (s->error) {
        r = s->error;
    } else if (s->closed) {
        r = OOCSI_ERR_CLOSED;
    } else {
        r = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

static ssize_t ws_write(void *state, const char *buf, size_t len)
{
    ws_state *s = state;
    frame *f = frame_new(buf, len);
    if (!f)
        return OOCSI_ERR_NOMEM;
    pthread_mutex_lock(&s->mu);
    if (s->error || s->closed) {
        int err = s->error ? s->error : OOCSI_ERR_CLOSED;
        pthread_mutex_unlock(&s->mu);
        free(f);
        return err;
    }
    if (s->out_bytes > 0 && s->out_bytes + len > WS_MAX_QUEUED) {
        pthread_mutex_unlock(&s->mu);
        free(f);
        return 0; /* full: the core keeps it and retries */
    }
    push(&s->out_head, &s->out_tail, f);
    s->out_bytes += len;
    pthread_mutex_unlock(&s->mu);
    /* The service thread asks for WRITEABLE when it sees the cancel. */
    lws_cancel_service(s->ctx);
    return (ssize_t)len;
}

static size_t ws_unsent(void *state)
{
    ws_state *s = state;
    pthread_mutex_lock(&s->mu);
    size_t n = 0;
    if (!s->error && !s->closed)
        for (frame *f = s->out_head; f; f = f->next)
            n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void wake_noop(lws_sorted_usec_list_t *sul)
{
    (void)sul;
}

static int ws_wait(void *state, int timeout_ms)
{
    ws_state *s = state;
    pthread_mutex_lock(&s->mu);
    int ready = s->in_head != NULL || s->error || (s->closed && s->established);
    struct lws *resume = NULL;
    if (s->rx_paused && s->wsi && s->in_bytes < WS_MAX_RECEIVED / 2) {
        resume = s->wsi;
        s->rx_paused = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (resume)
        lws_rx_flow_control(resume, 1);
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (ready)
        timeout_ms = 0;
    int n;
    if (timeout_ms == 0) {
        n = lws_service(s->ctx, -1); /* service what is pending, never wait */
    } else {
        /* lws_service() sleeps until an lws event; a timer bounds it. */
        lws_sul_schedule(s->ctx, 0, &s->sul, wake_noop, (lws_usec_t)timeout_ms * LWS_US_PER_MS);
        n = lws_service(s->ctx, 0);
        lws_sul_cancel(&s->sul);
    }
    return n < 0 ? OOCSI_ERR_IO : OOCSI_OK;
}

static void ws_wake(void *state)
{
    ws_state *s = state;
    lws_cancel_service(s->ctx);
}

static void ws_close(void *state)
{
    ws_state *s = state;
    if (!s)
        return;
    lws_context_destroy(s->ctx);
    SSL_CTX_free(s->ssl_ctx);
    frames_free(s->in_head);
    frames_free(s->out_head);
    free(s->partial);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ws and wss differ in scheme, default port and how they open. */
#define WS_TRANSPORT(scheme_, port_, open_)                                                                            \
    {                                                                                                                  \
        .scheme = scheme_, .default_codec = "webjson", .default_port = port_, .flags = OOCSI_TRANSPORT_FRAMED,         \
        .default_path = "/ws", .open = open_, .fd = NULL, .interest = ws_interest, .process = ws_process,              \
        .read = ws_read, .write = ws_write, .close = ws_close, .wait = ws_wait, .wake = ws_wake,                       \
        .pending_frame = ws_pending_frame, .unsent = ws_unsent,                                                        \
    }

static const oocsi_transport ws_transport = WS_TRANSPORT("ws", 80, ws_open);
static const oocsi_transport wss_transport = WS_TRANSPORT("wss", 443, wss_open);

const oocsi_transport *oocsi_transport_ws(void)
{
    return &ws_transport;
}

const oocsi_transport *oocsi_transport_wss(void)
{
    return &wss_transport;
}
