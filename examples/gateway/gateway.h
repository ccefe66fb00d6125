/*
 * Shared declarations of oocsi-gateway: the configuration, a browser session
 * (shared by the browser side and its upstream worker, reference counted, with
 * bounded queues both ways), the gateway, and the functions its files call
 * across files. See gateway.c for the threading model.
 */

#ifndef OOCSI_GATEWAY_H
#define OOCSI_GATEWAY_H

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

#ifndef OOCSI_GATEWAY_WWW_REL
#define OOCSI_GATEWAY_WWW_REL "../share/oocsi-gateway/www" /* from the program's folder */
#endif

#define DEFAULT_UPSTREAM "tcp://127.0.0.1:4444"
#define DEFAULT_PORT 8080
#define DEFAULT_HTTP_HANDLE "oocsi-gateway-http-####"
#define MAX_LIST 32
#define WORKER_STACK (256 * 1024) /* bytes of stack of a session's worker thread */
/* Descriptors per session: the browser's socket and the upstream socket (the
 * client is woken with WAKE_SIGNAL rather than a descriptor of its own). */
#define FDS_PER_SESSION 2
#define WAKE_SIGNAL (SIGRTMIN + 1)
#define FDS_RESERVED 64 /* listener, the HTTP API's client, logs, files served */
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
    const char *www;  /* NULL: no static files */
    int max_clients;  /* sessions alive, a browser's upstream worker included */
    int max_per_peer; /* browsers at once from one address */
    size_t max_frame;
    size_t max_queue; /* bytes queued per session, each direction */
    int ping_ms, idle_ms, connect_ms;
    int verbose;
    int no_http_api;         /* --no-http-api: no /send and /events */
    const char *http_handle; /* the handle POST /send messages come from */
} config;
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
    /* an HTTP event stream (GET /events/CHANNEL) rather than a WebSocket:
     * set before the worker starts, then read-only */
    int sse;
    char *channel;
    int ready;        /* under mu: 0 subscribing, 1 subscribed, -1 failed (the error is queued) */
    int headers_sent; /* lws thread only */
    /* under g->ready_mu: on the gateway's list of sessions with news for the
     * lws thread (so that a wake-up does not visit every session) */
    struct session *ready_next;
    int on_ready, attached;
    struct session *work_next; /* lws thread only */
} session;

struct gateway {
    config cfg;
    struct lws_context *ctx;
    struct lws_protocols protocols[3];
    struct lws_http_mount mount;
    struct lws_http_mount api_mounts[2]; /* /send and /events */
    struct http_api *api;                /* the client POST /send uses (gw_http.c) */
    lws_sorted_usec_list_t tick;
    lws_sorted_usec_list_t bye; /* the end of the wait for close handshakes at shutdown */
    int going_away;             /* lws thread only: shutting down, close every browser with 1001 */
    int bye_over;               /* lws thread only: stop waiting for close handshakes */
    session *sessions;          /* lws thread only */
    int n_sessions;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int workers; /* running worker threads, under mu */
    int n_live;  /* sessions not yet freed (browser gone, worker still ending), under mu */
    pthread_mutex_t ready_mu;
    session *ready; /* sessions with output or a close for the lws thread, under ready_mu */
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
    SSL_CTX *client_ctx;
#endif
};

typedef struct pss {
    session *s;
} pss;

/* ---------------------------------------------------------- shared between the files */

/* Set by SIGINT/SIGTERM (gateway.c). */
extern volatile sig_atomic_t interrupted;

/* gw_session.c */
int64_t now_ms(void);
void logv(const gateway *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void session_unref(session *s);
void push_frame(session *s, const char *text, size_t n, int close_after);
void push_text(session *s, int close_after, const char *fmt, ...);
/* Any thread: s has output or a close for the lws thread (its list, then
 * lws_cancel_service()). */
void session_wake(session *s);

/* gw_upstream.c */
void *worker(void *arg);

/* gw_browser.c */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
int origin_allowed(const gateway *g, struct lws *wsi);
/* NULL, or why a new session (WebSocket or event stream) is refused; *per_peer
 * says whether the per-address limit refused it. */
const char *admission_refused(gateway *g, struct lws *wsi, int *per_peer);
session *session_attach(gateway *g, struct lws *wsi);
void session_detach(gateway *g, session *s);
int start_worker(gateway *g, session *s);
/* The settings every upstream client of the gateway shares (handle, the
 * upstream endpoints, logging, timeouts, TLS), in gw_upstream.c. */
int gw_client_options(const config *cfg, oocsi_options *o, const char *handle);
void on_tick(lws_sorted_usec_list_t *sul);
void going_away(gateway *g, int timeout_ms);

/* gw_http.c */
#define HTTP_PROTOCOL "oocsi-http"
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
int http_api_start(gateway *g);
/* Waits (at most timeout_ms) until the client's first connection attempt is over. */
void http_api_wait_first(gateway *g, int timeout_ms);
void http_api_stop(gateway *g); /* asks the client's thread to end (main waits for g->workers) */
int sse_writeable(struct lws *wsi, session *s);
extern const size_t http_pss_size;

#endif
