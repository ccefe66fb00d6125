/*
 * The hub: a small OOCSI server for tests, the demo and local development
 * (the protocol is described in codecs/README.md). See hub.h for the control
 * API and README.md in this folder for the map of its rooms; this header holds
 * the state they share and the functions they call across files.
 *
 * Containers: channels and presence subscriptions are found by name in uthash
 * tables (Debian's uthash-dev, header only), which replaced a hand-written
 * hash map: bench_hub delivers at the same rate with either (one lookup per
 * message; the fan-out dominates). Ordered lists (a client's subscriptions, a
 * channel's subscribers, every connection) are plain pointer vectors (pvec).
 *
 * Architecture
 *  - One thread runs a poll() loop over the listener, a self-pipe (wake-up
 *    for control calls) and every connection; all sockets are non-blocking.
 *  - One mutex protects all state. The loop holds it except while blocked in
 *    poll(). Control calls from other threads take it, change state, write to
 *    the self-pipe and, where the caller must see the effect (stop, restart,
 *    drop_client), wait on a condition variable until the loop has completed
 *    one pass ("barrier"). Only the loop thread closes sockets and frees
 *    clients, so a descriptor is never closed while poll() watches it.
 *  - Input: read into one buffer of the loop (READ_CHUNK bytes, shared by
 *    every TCP/TLS client); whole lines are handled in place, and only a
 *    partial line is copied into a buffer of the client's own, which is
 *    freed again as soon as it is consumed (an idle connection holds no
 *    input buffer). A line longer than max_line drops the client, so input
 *    memory is bounded by max_line (max_hello_line before a welcome: an
 *    error line, then closed).
 *  - Output: every outgoing line is one reference-counted "oline", built
 *    once and shared by all its recipients; a client's queue holds
 *    references (a ring of "spans", allocated on demand and given back when
 *    empty), written with one sendmsg() (an iovec per line) per flush, or
 *    gathered into the loop's buffer for SSL_write. Lines of one channel
 *    are chained (oline.next): a subscriber that receives consecutive lines
 *    of a channel holds them as one span, so a burst costs one copy of each
 *    line plus a few bytes per subscriber, not one copy per subscriber.
 *    Lossless; a client that is more than max(64 MiB, 4 * max_line) behind
 *    is dropped (memory safety), and over max_output for all clients
 *    together the ones furthest behind are dropped (hub_limits.c, which
 *    also holds the other budgets; the total counts each shared line once,
 *    a client's own share is what it is behind by). With
 *    reference_drop_queue the reference server's queue is reproduced: at
 *    most 21 lines wait to be handed to the socket, a 22nd drops the oldest.
 *  - Message payloads are validated and re-emitted by a small strict JSON
 *    scanner that copies number text verbatim (64-bit integers and floats
 *    keep their exact text), writes \u escapes of non-ASCII characters as raw
 *    UTF-8 (as the reference server does), drops top-level nulls and the
 *    envelope keys (integers beyond 64 bits stay, where the reference server
 *    drops them), and appends "recipient",
 *    "timestamp" and "sender". A payload line is serialised once per message
 *    in each form needed (line, WebSocket frame, PD) and shared by every
 *    recipient; no clock is read and nothing is formatted per delivery.
 *
 *  - Endpoints: TCP and TLS (hub_tls.c; OpenSSL, non-blocking, in this poll
 *    loop; the same line protocol) and WebSocket ws/wss at /ws with the
 *    oocsi-web protocol (hub_ws.c; libwebsockets on its own service
 *    thread, which takes the hub mutex in its callbacks). All of them share
 *    the clients, channels and routing below. A WebSocket client has fd -1;
 *    its output buffer holds whole frames (length + bytes, bounded like a
 *    TCP client's output) that the service thread takes one per WRITEABLE
 *    callback after hub_ws_notify(); it is freed by the service thread
 *    (hub_ws_detach) when its connection closes, so reap() only asks for
 *    the close. Freeing the hub first sends every WebSocket connection a
 *    close frame with status 1001 and waits (bounded) for the handshakes
 *    (oocsi_hub_stop, a fault control, drops them instead); then it stops
 *    the service thread (with the mutex released) and forgets everything.
 *
 * Deliberate differences from the Java reference server (v1.3.7/1.3.8):
 *  - no outgoing message loss (unless reference_drop_queue = 1);
 *  - max_clients is enforced: a hello beyond it gets "error (too many
 *    clients)" and the connection is closed;
 *  - budgets (hub_limits.c): _DELAY/_SCHEDULE beyond max_delay_s (1 day) and
 *    delayed or retained messages over their byte or count budgets are
 *    refused with "error (..., raise with --FLAG)"; _RETAIN is capped at
 *    max_retain_s; TCP/TLS connections have a hello deadline, a per-address
 *    and a pending-hello limit, and lines before a welcome max_hello_line;
 *  - `unsubscribe presence(X)` works (a no-op bug in the reference);
 *  - filter/transform subscriptions `X[...]` are not evaluated: such a
 *    subscribe line is answered with an error line saying so;
 *  - plain ("OOCSI", legacy Java) clients receive messages as JSON lines,
 *    like JSON clients, instead of the legacy serialised form;
 *  - a refused hello (error line) closes the connection: nothing after it is
 *    run (the reference keeps it open as an unregistered client that can
 *    still send under the refused name); see hub_guard.c and oocsi-hub.1
 *    (PROTECTION) for the names refused (reserved, ',' '"' and control
 *    characters, --users names without their password), password
 *    throttling and the server-key values refused with an error line;
 *  - a hello that leaves an empty handle is ignored;
 *  - connections without a hello yet are also subject to the stale timeout;
 *    they are never pinged;
 *  - WebSocket clients are pinged and timed out on what they send alone:
 *    one silent for the ping interval is pinged even while it receives
 *    messages, and dropped once silent for the stale timeout (a dead
 *    browser behind a stream is found);
 *  - invalid UTF-8 in client lines is replaced by U+FFFD before processing;
 *  - presence `refresh` events are sent on the keep-alive tick
 *    (ping_interval_ms, 5 s by default like the reference);
 *  - delayed/scheduled messages use exact timers (delay d arrives after d s,
 *    not on the next 1-s tick);
 *  - connections that quit (or go stale) get "bye", then the hub shuts down
 *    its sending side and discards input until EOF (at most 5 s) before
 *    closing, so "bye" is not lost to a TCP reset;
 *  - duplicate top-level payload keys are passed on as sent (not merged);
 *  - WebSocket: a handle with ':' is replaced by webclient_#### like
 *    other invalid handles; "sendjson" with a payload that is not valid
 *    JSON is ignored (valid JSON that is not an object is delivered as an
 *    empty message, as by the web server); payload keys are not sorted
 *    (the envelope keys are in sorted order); reference_drop_queue does
 *    not apply to WebSocket clients; unanswered pings are not limited.
 *
 * Control API details (hub.h): oocsi_hub_options_init() sets port 0 (an
 * ephemeral port; the oocsi-hub program defaults to 4444); a negative
 * timeout_ms in the wait functions waits without limit, 0 checks once;
 * oocsi_hub_wait_subscribed(h, x, x) is 1 as soon as x is registered
 * (subscribing to one's own handle is an accepted no-op), and accepts
 * "presence(X)" and private "name:secret" channel strings.
 */
#ifndef OOCSI_HUB_ROOMS_H
#define OOCSI_HUB_ROOMS_H

#include "hub.h"
#include "hub_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <uthash.h>

#define HELLO_MAX 200
#define READ_CHUNK 65536
#define READ_BUDGET (4u * 1024u * 1024u) /* bytes read from one client per loop pass */
#define OUT_CAP_MIN ((size_t)64 * 1024 * 1024)
#define DROP_QUEUE_LEN 21
#define RETAIN_MAX_S 172800
#define DELAY_MAX_S (10LL * 365 * 24 * 3600)
#define DELAY_DEFAULT_S 86400 /* max_delay_s (DELAY_MAX_S: beyond it a _DELAY is invalid) */
#define DELAYED_MAX 1000
#define DELAYED_BYTES_MAX ((size_t)64 * 1024 * 1024)
#define DELAYED_CLIENT_BYTES_MAX ((size_t)16 * 1024 * 1024)
#define RETAINED_BYTES_MAX ((size_t)64 * 1024 * 1024)
#define RETAINED_CLIENT_BYTES_MAX ((size_t)16 * 1024 * 1024)
#define HELLO_TIMEOUT_MS 10000
#define CONNS_PER_ADDR_MAX 256
#define PENDING_HELLOS_MAX 1024
#define HELLO_LINE_MAX 4096
#define OUTPUT_MAX ((size_t)1024 * 1024 * 1024)
#define MEMORY_MAX ((size_t)2048 * 1024 * 1024)
#define CLIENT_MEMORY_MAX ((size_t)256 * 1024 * 1024)
#define SUB_BYTES 64
#define CLOSE_GRACE_MS 5000
#define JSON_DEPTH_MAX 512
#define ACCEPT_BATCH 64
#define AUTH_FAIL_MAX 5          /* wrong passwords from one address within AUTH_WINDOW_MS ... */
#define AUTH_WINDOW_MS 60000     /* ... block its password hellos for AUTH_BLOCK_MS, */
#define AUTH_BLOCK_MS 30000      /* doubled on each further block */
#define AUTH_BLOCK_MAX_MS 900000 /* up to 15 min */
#define AUTH_TABLE 1024          /* addresses remembered (the oldest is forgotten first) */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

typedef struct pvec {
    void **v;
    size_t n, cap;
} pvec;

enum { CT_JSON, CT_PLAIN, CT_PD };

enum {
    CS_HELLO,   /* waiting for the hello line */
    CS_ACTIVE,  /* registered */
    CS_NAMED,   /* unregistered after being registered (about to close): no commands */
    CS_CLOSING, /* final line queued ("bye", error): flush, then shut down writing */
    CS_LINGER   /* writing shut down: discard input until EOF or the grace time */
};

enum { CH_CHANNEL, CH_CLIENT };

struct chan;
struct pres;

/* One outgoing line (or WebSocket frame), shared by every client that has
 * it queued. Changed only with the hub mutex held. */
typedef struct oline {
    struct oline *next;  /* the next line of the same channel and form, while both are alive */
    struct oline *prev;  /* the line whose next this is (cleared when either is freed) */
    struct oline **tail; /* the channel's slot pointing here while this is its newest line */
    uint32_t refs;
    uint32_t len; /* bytes at data + pre */
    uint32_t pre; /* headroom before the bytes (HUB_WS_PRE for WebSocket frames) */
    char data[];
} oline;

/* Consecutive lines of one chain, first..last, in a client's queue. */
typedef struct ospan {
    oline *first, *last;
} ospan;

enum { OL_LINE, OL_WS, OL_PD, OL_FORMS };

typedef struct client {
    int fd;
    int state;
    int type;
    int priv;     /* registered with a password */
    int stalled;  /* oocsi_hub_stall_client */
    int doomed;   /* close and free at the next reap (abrupt) */
    int kill;     /* unregister and doom at the next safe point */
    int dirty;    /* in the hub's dirty list */
    char *handle; /* registered handle, or the name after a failed handshake */
    struct chan *self;
    pvec subs;  /* struct chan * subscribed to */
    pvec psubs; /* struct pres * subscribed to */
    char *in;   /* a partial line (own buffer), or the loop's buffer while lines are handled */
    size_t in_len, in_cap, in_off, in_scan;
    ospan *oq;           /* output: a ring of spans (oq_one, or allocated beyond one span) */
    ospan oq_one;        /* the ring while one span is enough (a burst on one channel) */
    uint32_t oq_cap;     /* a power of two, or 0 */
    uint32_t oq_head;    /* index of the oldest span */
    uint32_t oq_n;       /* spans queued */
    uint32_t oq_hand;    /* spans handed to the socket (the rest wait: reference_drop_queue) */
    uint32_t oq_wait;    /* lines waiting (reference_drop_queue) */
    size_t oq_off;       /* bytes of the oldest line already written */
    size_t oq_bytes;     /* bytes queued (not yet written) */
    int64_t last_active; /* last line or frame in, or message out */
    int64_t last_rx;     /* WebSocket: last frame in (pong or command) */
    int64_t close_deadline;
    char peer[80];
#ifdef HUB_HAVE_TLS
    hub_tls_conn *tls; /* a TLS connection (fd is its socket) */
#endif
    int ws;         /* a WebSocket connection (fd is -1; output holds frames) */
    void *ws_conn;  /* hub_ws.c's handle of it */
    int ws_closing; /* doomed: the service thread was asked to close it */
    /* budgets (hub_limits.c) */
    int64_t created;             /* accept time (monotonic ms); 0 for WebSocket clients */
    int counted;                 /* TCP/TLS: in the per-address count */
    int prehello;                /* TCP/TLS: in the count of connections without a welcome */
    size_t out_counted;          /* this client's share of oocsi_hub.out_total */
    size_t in_counted;           /* ... of oocsi_hub.in_total */
    char addr[INET6_ADDRSTRLEN]; /* peer address without the port */
} client;

typedef struct retained {
    char *body;
    size_t body_len;
    char *sender;
    char *recipient;
    int64_t ts;
    int64_t expiry; /* monotonic ms */
    size_t bytes;   /* accounted to the sender (hub_limits.c) */
} retained;

typedef struct chan {
    char *name;  /* map key; for a private channel the part before ':' */
    char *token; /* private channel: the full "name:secret", else NULL */
    int kind;
    client *owner; /* CH_CLIENT: the client with this handle */
    pvec subs;     /* client * */
    retained *ret;
    struct chan *prev, *next; /* creation order */
    oline *tail[OL_FORMS];    /* the newest line of each form sent here (weak: cleared when freed) */
    UT_hash_handle hh;        /* in oocsi_hub.chans, keyed by name */
} chan;

typedef struct pres {
    char *name;        /* X of presence(X) */
    pvec subs;         /* client * */
    UT_hash_handle hh; /* in oocsi_hub.pres, keyed by name */
} pres;

typedef struct delayed {
    char *recipient;
    char *sender;
    char *body;
    size_t body_len;
    int64_t ts;
    int64_t due; /* monotonic ms */
    int64_t retain_s;
    size_t bytes;      /* accounted to the sender */
    size_t heap_i;     /* index in oocsi_hub.delayed_q, a min-heap by due */
    UT_hash_handle hh; /* in oocsi_hub.delayed_by, keyed by recipient (one pending per recipient) */
} delayed;

/* Wrong passwords from one address (hub_guard.c). */
typedef struct auth_rec {
    char addr[64];
    int fails;   /* within the window */
    int strikes; /* blocks so far */
    int64_t window_start, blocked_until, last;
} auth_rec;

/* What one sender handle holds in delayed and retained messages. */
typedef struct usage {
    char *name;
    size_t delayed_n, delayed_bytes, retained_bytes;
    UT_hash_handle hh;
} usage;

/* TCP/TLS connections per peer address. */
typedef struct addrcount {
    char addr[INET6_ADDRSTRLEN];
    int n;
    UT_hash_handle hh;
} addrcount;

typedef struct user {
    char *name;
    char *pw;
} user;

struct oocsi_hub {
    oocsi_hub_options opt;
    char *bind_address;
    user *users;
    size_t nusers;
    int users_given;
    auth_rec *auth; /* password throttling, AUTH_TABLE entries once used */
    size_t nauth;
    size_t out_cap;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int wake_rd, wake_wr;
    int quit;

    int listen_fd;
    int port;
    int tls_fd;   /* TLS listener, or -1 */
    int tls_port; /* -1: off */
    int ws_port, wss_port;
#ifdef HUB_HAVE_TLS
    hub_tls_ctx *tls;
#endif
#ifdef HUB_HAVE_WS
    hub_ws *ws;
#endif
    int64_t accept_pause_until;

    unsigned long req_seq, done_seq;
    int stop_req, restart_req, restart_result;

    pvec all;   /* client *: every connection */
    pvec dirty; /* client * with output to flush */
    int nreg;
    chan *chans; /* uthash by name: channels and client handles */
    chan *chan_head, *chan_tail;
    pres *pres;           /* uthash by X of presence(X) */
    pvec delayed_q;       /* delayed *, a min-heap by due */
    delayed *delayed_by;  /* uthash by recipient */
    usage *usage;         /* uthash by sender handle */
    addrcount *addrs;     /* uthash by address */
    size_t delayed_bytes; /* budgets and their totals (hub_limits.c) */
    size_t retained_bytes;
    size_t out_total;
    size_t in_total;
    size_t nsubs;                /* channel and presence subscriptions */
    int npending;                /* TCP/TLS connections without a welcome */
    int64_t refused_log_at;      /* the last logged refusal at accept (at most one a second) */
    unsigned long refused_quiet; /* refusals not logged since */

    uint64_t rng;
    unsigned long long delivered;
    unsigned long long messages_total;
    unsigned long long messages_tick;
    int64_t start_mono;
    int64_t next_ping, next_sec, next_stale;
    int stale_iv;

    struct pollfd *pfds;
    client **polled;
    size_t poll_cap;
    char *scratch; /* READ_CHUNK bytes: input lines, TLS output (loop thread) */
    oline *dot;    /* ".\n", the answer to ping, shared by every line client (never freed before the hub) */
};

typedef struct hmsg {
    const char *body; /* members without braces */
    size_t body_len;
    const char *sender;
    const char *recipient;
    int64_t ts;
    oline *form[OL_FORMS]; /* the JSON line, the oocsi-web frame, the PD line: each built on first use */
    chan *ch;              /* the channel whose lines these are (chained), or NULL */
    int64_t now;           /* monotonic ms, read once per message */
} hmsg;

/* The server keys found in a payload (_RETAIN, _DELAY, _SCHEDULE). */
typedef struct pkeys {
    const char *retain, *retain_end;
    const char *delay, *delay_end;
    const char *sched, *sched_end;
} pkeys;

/* ------------------------------------------------------------------ functions shared between rooms */

/* hub_util.c */
void hub_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);
char *xstrdup(const char *s);
int64_t mono_ms(void);
int64_t real_ms(void);
int set_nonblock_cloexec(int fd);
void sb_reserve(sbuf *b, size_t extra);
void sb_put(sbuf *b, const void *s, size_t n);
void sb_putc(sbuf *b, char c);
void sb_puts(sbuf *b, const char *s);
void sb_i64(sbuf *b, int64_t v);
void sb_free(sbuf *b);
void sb_json_str(sbuf *b, const char *s, size_t n);
void pv_push(pvec *p, void *x);
int pv_has(const pvec *p, const void *x);
void pv_remove(pvec *p, const void *x);
size_t pv_remove_steps(void);
void pv_free(pvec *p);
chan *chan_get(const oocsi_hub *h, const char *name);
void chan_put(oocsi_hub *h, chan *ch);
void chan_del(oocsi_hub *h, chan *ch);
pres *pres_get(const oocsi_hub *h, const char *name);
void pres_put(oocsi_hub *h, pres *p);
void pres_del(oocsi_hub *h, pres *p);

/* hub_json.c */
int utf8_valid(const char *s, size_t n);
void utf8_sanitize(const char *s, size_t n, sbuf *out);
int span_string(const char *s, const char *e, char *out, size_t cap);
int span_i64(const char *s, const char *e, int64_t *v);
int span_double(const char *s, const char *e, double *v);
int payload_normalise(const char *s, size_t n, sbuf *body, pkeys *k);

/* hub_output.c */
uint64_t rng_next(oocsi_hub *h);
void hub_wake(oocsi_hub *h);
client *find_client(const oocsi_hub *h, const char *handle);
int presence_target(const char *name, char *x, size_t cap);
int ends_with(const char *s, const char *suffix);
void mark_dirty(oocsi_hub *h, client *c);
size_t out_pending(const client *c);
oline *oline_new(oocsi_hub *h, const char *s, size_t n, size_t pre, const char *suffix);
void oline_release(oocsi_hub *h, oline *l);
void oline_chain(oocsi_hub *h, chan *ch, int form, oline *l);
void chan_lines_forget(chan *ch);
void out_enqueue(oocsi_hub *h, client *c, oline *l);
void out_discard(oocsi_hub *h, client *c);
oline *out_take(oocsi_hub *h, client *c);
int out_room(oocsi_hub *h, client *c, size_t n);
void ws_wake(oocsi_hub *h);
void ws_put_frame(oocsi_hub *h, client *c, const char *s, size_t n);
void send_line(oocsi_hub *h, client *c, const char *s, size_t n);
void send_text(oocsi_hub *h, client *c, const char *s);
ssize_t conn_recv(client *c, void *buf, size_t n);
const char *conn_error(const client *c, int err);
void client_flush(oocsi_hub *h, client *c);
void hmsg_done(oocsi_hub *h, hmsg *m);
void deliver(oocsi_hub *h, client *c, hmsg *m);

/* hub_channels.c */
chan *chan_new(oocsi_hub *h, const char *name, const char *token, int kind, client *owner);
void retained_free(retained *r);
void chan_free_raw(chan *ch);
void chan_maybe_destroy(oocsi_hub *h, chan *ch, int64_t now);
chan *lookup_target(const oocsi_hub *h, const char *name);
void list_subscribers(const chan *ch, sbuf *b, const char *sep);
void list_channels(const oocsi_hub *h, sbuf *b);
void list_clients(const oocsi_hub *h, sbuf *b);
void presence_emit(oocsi_hub *h, const char *x, const char *evkey, const char *val);
void pres_destroy(oocsi_hub *h, pres *p);
void retained_deliver(oocsi_hub *h, client *c, const retained *r);
void chan_unsub(oocsi_hub *h, chan *ch, client *c);
void client_doom(oocsi_hub *h, client *c, const char *why);
void client_close_with(oocsi_hub *h, client *c, const char *last);
void client_free(oocsi_hub *h, client *c);
void dispatch(oocsi_hub *h, client *from, const char *sender, const char *recipient, const char *body, size_t blen,
              int64_t ts, int64_t retain_s);
void route_message(oocsi_hub *h, client *from, const char *sender, const char *recipient, const char *body, size_t blen,
                   const pkeys *k);

/* hub_guard.c */
void users_parse(oocsi_hub *h, const char *list);
int guard_name_reserved(const char *name);
int guard_name_bad_chars(const char *name);
int guard_user_listed(const oocsi_hub *h, const char *name);
int guard_users_check(const oocsi_hub *h, const char *name, const char *pw);
int64_t guard_auth_blocked(oocsi_hub *h, const char *peer, int64_t now);
void guard_auth_failed(oocsi_hub *h, const char *peer, int64_t now);
int guard_server_keys(const pkeys *k, int64_t now_real, int64_t *retain_s, int64_t *due, char *err, size_t cap);

/* hub_commands.c */
void send_error(oocsi_hub *h, client *c, const char *text);
void cmd_subscribe(oocsi_hub *h, client *c, const char *name);
void cmd_unsubscribe(oocsi_hub *h, client *c, char *name);
void client_register(oocsi_hub *h, client *c, char *handle, int priv, const char *welcome);
void in_reserve(oocsi_hub *h, client *c, size_t want);
int client_gone(const client *c);
void process_lines(oocsi_hub *h, client *c);
void client_read(oocsi_hub *h, client *c);

/* hub_loop.c */
void close_listeners(oocsi_hub *h);
int open_listener(oocsi_hub *h, int quiet);
void stale_check(oocsi_hub *h, int64_t now);
void run_timers(oocsi_hub *h, int64_t now);
void forget_everything(oocsi_hub *h);
int ws_start(oocsi_hub *h);
void reap(oocsi_hub *h);
void *hub_thread(void *arg);

/* hub_limits.c */
void limit_options(oocsi_hub_options *o);
void limit_error(oocsi_hub *h, client *c, const char *what, const char *flag);
int delayed_add(oocsi_hub *h, client *from, const char *recipient, const char *sender, const char *body, size_t blen,
                int64_t due_real, int64_t now_real, int64_t retain_s);
void delayed_release(oocsi_hub *h, int64_t now);
int64_t delayed_next_due(const oocsi_hub *h);
void budgets_forget(oocsi_hub *h);
void retained_set(oocsi_hub *h, client *from, chan *ch, const char *sender, const char *recipient, const char *body,
                  size_t blen, int64_t ts, int64_t retain_s);
void retained_drop(oocsi_hub *h, chan *ch);
int conn_admit(oocsi_hub *h, int fd, const char *addr, int tls);
void conn_count(oocsi_hub *h, client *c, const char *addr);
void conn_welcomed(oocsi_hub *h, client *c);
void conn_release(oocsi_hub *h, client *c);
void hello_deadlines(oocsi_hub *h, int64_t now);
size_t line_limit(const oocsi_hub *h, const client *c);
void out_account(oocsi_hub *h, client *c);
int out_budget(oocsi_hub *h, client *c, size_t n);
void in_account(oocsi_hub *h, client *c);
size_t hub_memory(const oocsi_hub *h);
int memory_admit(oocsi_hub *h, client *c, size_t bytes);

/* hub_webclients.c */
#ifdef HUB_HAVE_WS
struct client *hub_ws_attach(oocsi_hub *h, void *conn, const char *peer);
void hub_ws_input(oocsi_hub *h, struct client *c, char *text, size_t len);
void hub_ws_detach(oocsi_hub *h, struct client *c);
#endif

/* hub.c */
void oocsi_hub_options_init(oocsi_hub_options *o);
void hub_destroy(oocsi_hub *h);
int oocsi_hub_port(const oocsi_hub *h);

#endif
