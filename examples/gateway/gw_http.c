/*
 * The HTTP API (the libwebsockets thread, plus one thread for its client):
 *  - POST /send/NAME: a JSON object (or form fields) sent to NAME (a channel
 *    or a handle) from the gateway's own liboocsi client, whose handle is
 *    --http-handle; the caller cannot choose the sender;
 *  - GET /events/CHANNEL: a Server-Sent-Events stream, one "data: JSON" event
 *    per message on CHANNEL. Each stream is a session like a browser's (its
 *    own upstream client and worker, its bounded queue, counted by the client
 *    limits), with a generated handle.
 * Both check the Origin like /ws; answers are JSON, errors {"error": "..."}.
 */
#include "gateway.h"

#include <strings.h>

/* ------------------------------------------------------------------ the client of POST /send */

typedef struct http_api {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;          /* under mu */
    int tried;         /* under mu: the first connection attempt is over */
    oocsi_client *cli; /* under mu: set once connected, until the thread ends */
} http_api;

static void *api_thread(void *arg)
{
    gateway *g = arg;
    http_api *a = g->api;
    const config *cfg = &g->cfg;
    pthread_mutex_lock(&a->mu);
    while (!a->quit) {
        pthread_mutex_unlock(&a->mu);
        oocsi_client *c = NULL;
        oocsi_options *o = oocsi_options_new();
        int rc = o ? gw_client_options(cfg, o, cfg->http_handle) : OOCSI_ERR_NOMEM;
        if (rc == OOCSI_OK) {
            rc = oocsi_connect(&c, o);
        }
        oocsi_options_free(o);
        if (rc == OOCSI_OK) {
            rc = oocsi_loop_start(c);
        }
        if (rc == OOCSI_OK) {
            logv(g, "HTTP API: sending as %s through %s", oocsi_handle(c), oocsi_endpoint(c));
        } else {
            logv(g, "HTTP API: cannot connect upstream as %s: %s; retrying", cfg->http_handle, oocsi_strerror(rc));
            oocsi_close(c);
            c = NULL;
        }
        pthread_mutex_lock(&a->mu);
        a->cli = c;
        a->tried = 1;
        pthread_cond_broadcast(&a->cv);
        /* connected: liboocsi reconnects by itself; wait for the end.
         * Otherwise retry in a second. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        while (!a->quit && (c || pthread_cond_timedwait(&a->cv, &a->mu, &until) != ETIMEDOUT)) {
            if (c) {
                pthread_cond_wait(&a->cv, &a->mu);
            }
        }
    }
    oocsi_client *c = a->cli;
    a->cli = NULL;
    pthread_mutex_unlock(&a->mu);
    oocsi_close(c);
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
    /* This thread's OpenSSL state (connecting over TLS made some) now, not
     * at thread exit, which may come after main() returned. */
    OPENSSL_thread_stop();
#endif
    pthread_mutex_lock(&g->mu);
    g->workers--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int http_api_start(gateway *g)
{
    static http_api api;
    pthread_mutex_init(&api.mu, NULL);
    pthread_cond_init(&api.cv, NULL);
    g->api = &api;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the main thread only */
    pthread_mutex_lock(&g->mu);
    g->workers++;
    pthread_mutex_unlock(&g->mu);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, api_thread, g);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_mutex_lock(&g->mu);
        g->workers--;
        pthread_mutex_unlock(&g->mu);
        g->api = NULL;
        return -1;
    }
    return 0;
}

void http_api_wait_first(gateway *g, int timeout_ms)
{
    http_api *a = g->api;
    if (!a) {
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    while (!a->tried && pthread_cond_timedwait(&a->cv, &a->mu, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&a->mu);
}

void http_api_stop(gateway *g)
{
    http_api *a = g->api;
    if (!a) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->quit = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* ------------------------------------------------------------------ requests (lws thread) */

typedef enum { REQ_NONE, REQ_SEND, REQ_EVENTS } req_kind;

typedef struct http_pss {
    req_kind kind;
    session *s; /* REQ_EVENTS */
    int form;   /* REQ_SEND: application/x-www-form-urlencoded */
    char name[256];
    char *body;
    size_t body_len;
} http_pss;

const size_t http_pss_size = sizeof(http_pss);

/* A name (channel or handle) as a path segment: 1 to 200 printable ASCII
 * characters without spaces and '/'. */
static int name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 200) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)n[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '/') {
            return 0;
        }
    }
    return 1;
}

/* Adds the CORS header for an allowed page's Origin, so that pages of
 * other origins may read the answers (EventSource, form posts). */
static int add_cors(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    char origin[256];
    int n = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
    if (n <= 0) {
        return 0;
    }
    return lws_add_http_header_by_name(
        wsi, (const unsigned char *)"access-control-allow-origin:", (const unsigned char *)origin, n, p, end);
}

/* Writes a complete JSON answer. Returns the callback's result: -1 (close)
 * when close is set (the connection closes after the answer) or the write
 * fails, else 0 after ending the transaction. */
static int answer(struct lws *wsi, unsigned status, const char *body, int close)
{
    size_t n = strlen(body);
    unsigned char hb[LWS_PRE + 1024], *start = hb + LWS_PRE, *p = start, *end = hb + sizeof hb - 1;
    if (lws_add_http_common_headers(wsi, status, "application/json", n + 1, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:", (const unsigned char *)"no-store", 8,
                                    &p, end) ||
        add_cors(wsi, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end)) {
        return -1;
    }
    unsigned char *bb = malloc(LWS_PRE + n + 1);
    if (!bb) {
        return -1;
    }
    memcpy(bb + LWS_PRE, body, n);
    bb[LWS_PRE + n] = '\n';
    int wr = lws_write(wsi, bb + LWS_PRE, n + 1, LWS_WRITE_HTTP_FINAL);
    free(bb);
    if (wr < 0 || close) {
        return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* An error answer {"error": why}. */
static int fail(struct lws *wsi, unsigned status, int close, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct lws *wsi, unsigned status, int close, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", why);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    int rc = answer(wsi, status, text ? text : "{\"error\":\"out of memory\"}", close);
    cJSON_free(text);
    return rc;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes n bytes of form encoding ('+' and %XX) into a new string; NULL on a bad escape. */
static char *form_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    for (size_t i = 0; out && i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    if (out) {
        *o = '\0';
    }
    return out;
}

/* key=value&key=value as a JSON object of strings; NULL (why set) if malformed. */
static cJSON *form_to_json(const char *body, size_t len, const char **why)
{
    cJSON *o = cJSON_CreateObject();
    size_t i = 0;
    while (o && i < len) {
        size_t end = i;
        while (end < len && body[end] != '&') {
            end++;
        }
        if (end > i) {
            const char *eq = memchr(body + i, '=', end - i);
            size_t kl = eq ? (size_t)(eq - (body + i)) : end - i;
            char *k = form_decode(body + i, kl);
            char *v = eq ? form_decode(eq + 1, (size_t)(body + end - eq - 1)) : strdup("");
            if (!k || !v || !*k) {
                *why = "invalid form encoding (key=value pairs joined by '&', %XX escapes)";
                free(k);
                free(v);
                cJSON_Delete(o);
                return NULL;
            }
            cJSON_DeleteItemFromObjectCaseSensitive(o, k); /* the last one wins */
            cJSON_AddStringToObject(o, k, v);
            free(k);
            free(v);
        }
        i = end + 1;
    }
    if (!o) {
        *why = "out of memory";
    }
    return o;
}

static void pss_reset(http_pss *ps)
{
    free(ps->body);
    ps->body = NULL;
    ps->body_len = 0;
    ps->kind = REQ_NONE;
    ps->form = 0;
    ps->name[0] = '\0';
}

/* POST /send/NAME: the headers. 0 to read the body. */
static int on_send_request(gateway *g, struct lws *wsi, http_pss *ps, const char *name)
{
    char arg[256];
    for (int i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        if (!strncmp(arg, "sender=", 7) || !strcmp(arg, "sender")) {
            return fail(wsi, HTTP_STATUS_BAD_REQUEST, 1,
                        "the sender cannot be chosen: messages come from the gateway's handle");
        }
    }
    if (!name_ok(name)) {
        return fail(wsi, HTTP_STATUS_BAD_REQUEST, 1,
                    "bad recipient name: 1 to 200 printable ASCII characters, no spaces or '/'");
    }
    char cl[32];
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
        return fail(wsi, HTTP_STATUS_LENGTH_REQUIRED, 1, "Content-Length required");
    }
    char *e;
    errno = 0;
    unsigned long long n = strtoull(cl, &e, 10);
    if (errno || *e || e == cl) {
        return fail(wsi, HTTP_STATUS_BAD_REQUEST, 1, "bad Content-Length");
    }
    if (n > g->cfg.max_frame) {
        return fail(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, 1, "body too large: %llu bytes, at most %zu (--max-frame)",
                    n, g->cfg.max_frame);
    }
    if (n == 0) {
        return fail(wsi, HTTP_STATUS_BAD_REQUEST, 1, "empty body: send a JSON object");
    }
    char ct[128] = "";
    lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE);
    size_t ctl = strcspn(ct, "; \t");
    if (ctl == 0 || (ctl == 16 && !strncasecmp(ct, "application/json", 16))) {
        ps->form = 0;
    } else if (ctl == 33 && !strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
        ps->form = 1;
    } else {
        return fail(wsi, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE, 1,
                    "unsupported Content-Type: use application/json or application/x-www-form-urlencoded");
    }
    ps->kind = REQ_SEND;
    snprintf(ps->name, sizeof ps->name, "%s", name);
    return 0;
}

/* POST /send/NAME: the whole body is in. The request's state was taken out
 * of the pss already: answering ends the transaction, which frees the pss. */
static int on_send_body(gateway *g, struct lws *wsi, const char *name, int form, const char *body, size_t body_len)
{
    const char *why = NULL;
    cJSON *data = NULL;
    const char *b = body ? body : "";
    size_t n = body_len;
    while (n && (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')) {
        b++;
        n--;
    }
    /* curl -d sends form encoding: a body that is a JSON object is taken as one */
    if (form && !(n && *b == '{')) {
        data = form_to_json(b, n, &why);
        if (!data) {
            return fail(wsi, HTTP_STATUS_BAD_REQUEST, 0, "%s", why);
        }
    } else {
        const char *end = NULL;
        data = cJSON_ParseWithLengthOpts(b, n, &end, 0);
        if (data) {
            while (end < b + n && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) {
                end++;
            }
        }
        if (!data || end != b + n) {
            cJSON_Delete(data);
            size_t at = end && end >= b ? (size_t)(end - b) : 0;
            return fail(wsi, HTTP_STATUS_BAD_REQUEST, 0, "invalid JSON at byte %zu", at);
        }
        if (!cJSON_IsObject(data)) {
            cJSON_Delete(data);
            return fail(wsi, HTTP_STATUS_BAD_REQUEST, 0, "the body must be a JSON object");
        }
    }
    char *text = cJSON_PrintUnformatted(data);
    cJSON_Delete(data);
    if (!text) {
        return fail(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, 0, "out of memory");
    }
    http_api *a = g->api;
    int rc = OOCSI_ERR_CLOSED, offline = 1;
    if (a) {
        pthread_mutex_lock(&a->mu);
        /* sending does not block: while the client reconnects it queues, but
         * a caller told "ok" expects delivery now, so offline is 503 */
        if (a->cli && oocsi_is_connected(a->cli)) {
            offline = 0;
            rc = oocsi_send_json(a->cli, name, text);
        }
        pthread_mutex_unlock(&a->mu);
    }
    cJSON_free(text);
    if (rc == OOCSI_OK) {
        logv(g, "HTTP API: a message to %s", name);
        return answer(wsi, HTTP_STATUS_OK, "{\"ok\":true}", 0);
    }
    if (rc == OOCSI_ERR_INVAL) {
        return fail(wsi, HTTP_STATUS_BAD_REQUEST, 0, "the upstream client refused the message: %s", oocsi_strerror(rc));
    }
    if (offline) {
        return fail(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, 0, "upstream not connected");
    }
    return fail(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, 0, "upstream: %s", oocsi_strerror(rc));
}

/* GET /events/CHANNEL: a session with its own upstream client; the answer's
 * headers wait until it has subscribed (sse_writeable). */
static int on_events_request(gateway *g, struct lws *wsi, http_pss *ps, const char *channel)
{
    if (!name_ok(channel)) {
        return fail(wsi, HTTP_STATUS_BAD_REQUEST, 0,
                    "bad channel name: 1 to 200 printable ASCII characters, no spaces or '/'");
    }
    int per_peer = 0;
    const char *why = admission_refused(g, wsi, &per_peer);
    if (why) {
        logv(g, "refused an event stream: %s", why);
        return fail(wsi, per_peer ? 429 : HTTP_STATUS_SERVICE_UNAVAILABLE, 1, "too many clients: %s", why);
    }
    session *s = session_attach(g, wsi);
    if (!s) {
        return -1;
    }
    s->sse = 1;
    s->started = 1;
    s->channel = strdup(channel);
    s->handle = strdup("oocsi-gateway-sse-##########");
    ps->kind = REQ_EVENTS;
    ps->s = s;
    if (!s->channel || !s->handle || start_worker(g, s) != 0) {
        return -1; /* CLOSED_HTTP detaches it */
    }
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* a stream lasts */
    return 0;
}

/* Writes what an event stream has queued: first the answer's headers (once
 * subscribed) or the error answer, then one event per callback. */
int sse_writeable(struct lws *wsi, session *s)
{
    gateway *g = s->g;
    if (g->going_away) {
        if (!s->headers_sent) {
            return fail(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, 1, "the gateway is shutting down");
        }
        static const char bye[] = ": the gateway is shutting down\n\n";
        unsigned char b[LWS_PRE + sizeof bye];
        memcpy(b + LWS_PRE, bye, sizeof bye - 1);
        lws_write(wsi, b + LWS_PRE, sizeof bye - 1, LWS_WRITE_HTTP);
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    int ready = s->ready;
    if (s->kill && !(ready < 0 && !s->headers_sent)) { /* a failed subscription still gets its answer */
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    frame *f = NULL;
    if (ready < 0 || (s->headers_sent && ready > 0)) {
        f = s->out_head;
        if (f) {
            s->out_head = f->next;
            if (!s->out_head) {
                s->out_tail = NULL;
            }
            s->out_bytes -= f->len;
        }
    }
    int more = s->out_head != NULL;
    int close_now = !f && s->close_after;
    pthread_mutex_unlock(&s->mu);
    if (ready == 0) {
        return 0; /* still subscribing: the worker wakes us */
    }
    if (ready < 0) {
        char body[600];
        snprintf(body, sizeof body, "%.*s", f ? (int)f->len : 0, f ? (const char *)f->buf + LWS_PRE : "");
        free(f);
        return answer(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, *body ? body : "{\"error\":\"upstream\"}", 1);
    }
    if (!s->headers_sent) {
        unsigned char hb[LWS_PRE + 1024], *start = hb + LWS_PRE, *p = start, *end = hb + sizeof hb - 1;
        if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream", LWS_ILLEGAL_HTTP_CONTENT_LEN, &p,
                                        end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:", (const unsigned char *)"no-cache",
                                        8, &p, end) ||
            add_cors(wsi, &p, end) || lws_finalize_write_http_header(wsi, start, &p, end)) {
            return -1;
        }
        s->headers_sent = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (close_now) {
        return -1;
    }
    if (!f) {
        return 0;
    }
    int wr = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_HTTP);
    size_t n = f->len;
    free(f);
    if (wr < 0 || (size_t)wr < n) {
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    more = more || s->out_head || s->close_after || s->kill;
    pthread_mutex_unlock(&s->mu);
    if (more) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *cx = lws_get_context(wsi);
    gateway *g = cx ? lws_context_user(cx) : NULL;
    http_pss *ps = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (!g || !ps) {
            return -1;
        }
        pss_reset(ps);
        char uri[512];
        int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
        int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
        if ((post || get) && lws_hdr_copy(wsi, uri, sizeof uri, post ? WSI_TOKEN_POST_URI : WSI_TOKEN_GET_URI) <= 0) {
            return fail(wsi, HTTP_STATUS_REQ_URI_TOO_LONG, 1, "URI too long");
        }
        if (!post && !get) {
            return fail(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, 1, "use POST to /send/NAME or GET to /events/CHANNEL");
        }
        int send = !strncmp(uri, "/send", 5);
        const char *name = uri + (send ? 5 : 7);
        if (strlen(uri) < (send ? 5u : 7u)) {
            name = "";
        }
        name += *name == '/';
        if (!origin_allowed(g, wsi)) {
            logv(g, "refused an HTTP request to %s from a disallowed Origin", uri);
            return fail(wsi, HTTP_STATUS_FORBIDDEN, 1, "Origin not allowed");
        }
        if (send != post) {
            return fail(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, 1,
                        send ? "use POST to /send/NAME" : "use GET to /events/CHANNEL");
        }
        return send ? on_send_request(g, wsi, ps, name) : on_events_request(g, wsi, ps, name);
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (!g || !ps || ps->kind != REQ_SEND) {
            return -1;
        }
        if (ps->body_len + len > g->cfg.max_frame) {
            return fail(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, 1, "body too large: over %zu bytes (--max-frame)",
                        g->cfg.max_frame);
        }
        if (len) {
            char *nb = realloc(ps->body, ps->body_len + len + 1);
            if (!nb) {
                return -1;
            }
            ps->body = nb;
            memcpy(ps->body + ps->body_len, in, len);
            ps->body_len += len;
            ps->body[ps->body_len] = '\0';
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
        if (!g || !ps || ps->kind != REQ_SEND) {
            return -1;
        }
        char name[sizeof ps->name];
        memcpy(name, ps->name, sizeof name);
        char *body = ps->body;
        size_t body_len = ps->body_len;
        int form = ps->form;
        ps->body = NULL;
        pss_reset(ps);
        int rc = on_send_body(g, wsi, name, form, body, body_len);
        free(body);
        return rc;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ps && ps->s ? sse_writeable(wsi, ps->s) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (ps) {
            if (g && ps->s) {
                logv(g, "%s: event stream of %s gone", ps->s->peer, ps->s->channel ? ps->s->channel : "?");
                session *s = ps->s;
                ps->s = NULL;
                session_detach(g, s);
            }
            pss_reset(ps);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: /* ws_callback wakes every session */
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
