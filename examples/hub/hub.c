/*
 * The hub: a small OOCSI server (PROTOCOL.md) for tests, the demo and local
 * development. See hub.h for the control API.
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
 *  - Input: one buffer per client, consumed with an offset (no memmove per
 *    line); partial lines are kept across reads; a line longer than
 *    max_line drops the client, so input memory is bounded by max_line.
 *  - Output: one buffer per client, written with one send() per flush (all
 *    pending lines at once). Lossless; a client whose pending output exceeds
 *    max(64 MiB, 4 * max_line) is dropped (memory safety). With
 *    reference_drop_queue the reference server's queue is reproduced: at most
 *    21 lines wait to be handed to the socket, a 22nd drops the oldest.
 *  - Message payloads are validated and re-emitted by a small strict JSON
 *    scanner that copies number text verbatim (64-bit integers and floats
 *    keep their exact text), writes \u escapes of non-ASCII characters as raw
 *    UTF-8 (as the reference server does), drops top-level nulls, top-level
 *    integers beyond 64 bits and the envelope keys, and appends "recipient",
 *    "timestamp" and "sender". A payload line is serialised once per message
 *    and copied to every recipient.
 *
 *  - Endpoints: TCP and TLS (hub_tls.c; OpenSSL, non-blocking, in this poll
 *    loop; the same line protocol) and WebSocket ws/wss at /ws with the
 *    oocsi-web protocol of §19 (hub_ws.c; libwebsockets on its own service
 *    thread, which takes the hub mutex in its callbacks). All of them share
 *    the clients, channels and routing below. A WebSocket client has fd -1;
 *    its output buffer holds whole frames (length + bytes, bounded like a
 *    TCP client's output) that the service thread takes one per WRITEABLE
 *    callback after hub_ws_notify(); it is freed by the service thread
 *    (hub_ws_detach) when its connection closes, so reap() only asks for
 *    the close. Stopping the hub stops the service thread first (with the
 *    mutex released), then forgets everything.
 *
 * Deliberate differences from the Java reference server (v1.3.7/1.3.8):
 *  - no outgoing message loss (unless reference_drop_queue = 1);
 *  - max_clients is enforced: a hello beyond it gets "error (too many
 *    clients)" and the connection is closed;
 *  - `unsubscribe presence(X)` works (a no-op bug in the reference);
 *  - filter/transform subscriptions `X[...]` (§10) are not implemented: such
 *    subscribe lines are ignored;
 *  - plain ("OOCSI", legacy Java) clients receive messages as JSON lines,
 *    like JSON clients, instead of the legacy serialised form;
 *  - hello lines containing ASCII control characters are rejected silently
 *    like whitespace; a hello that leaves an empty handle is also ignored;
 *  - unregistered connections (no hello yet, or after an error line) are also
 *    subject to the stale timeout; they are never pinged;
 *  - invalid UTF-8 in client lines is replaced by U+FFFD before processing;
 *  - presence `refresh` events are sent on the keep-alive tick
 *    (ping_interval_ms, 5 s by default like the reference);
 *  - delayed/scheduled messages use exact timers (delay d arrives after d s,
 *    not on the next 1-s tick);
 *  - connections that quit (or go stale) get "bye", then the hub shuts down
 *    its sending side and discards input until EOF (at most 5 s) before
 *    closing, so "bye" is not lost to a TCP reset;
 *  - duplicate top-level payload keys are passed on as sent (not merged);
 *  - WebSocket (§19): a handle with ':' is replaced by webclient_#### like
 *    other invalid handles; "sendjson" with a payload that is not a valid
 *    JSON object is ignored; payload keys are not sorted (the envelope keys
 *    are in sorted order); reference_drop_queue does not apply to WebSocket
 *    clients; unanswered pings are not limited.
 *
 * Control API details (hub.h): oocsi_hub_options_init() sets port 0 (an
 * ephemeral port; the oocsi-hub program defaults to 4444); a negative
 * timeout_ms in the wait functions waits without limit, 0 checks once;
 * oocsi_hub_wait_subscribed(h, x, x) is 1 as soon as x is registered
 * (subscribing to one's own handle is an accepted no-op), and accepts
 * "presence(X)" and private "name:secret" channel strings.
 */
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
#define CLOSE_GRACE_MS 5000
#define JSON_DEPTH_MAX 512
#define ACCEPT_BATCH 64

/* ------------------------------------------------------------------ basics */

static void hub_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hub_log(const char *fmt, ...)
{
    va_list ap;
    char buf[1024];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "oocsi-hub: %s\n", buf);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        hub_log("out of memory");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        hub_log("out of memory");
        abort();
    }
    return q;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -1;
    }
    fl = fcntl(fd, F_GETFD, 0);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ byte buffer */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void sb_put(sbuf *b, const void *s, size_t n)
{
    if (n == 0) {
        return; /* b->p may still be NULL: memcpy(NULL, s, 0) is undefined */
    }
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_putc(sbuf *b, char c)
{
    sb_reserve(b, 1);
    b->p[b->len++] = c;
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_i64(sbuf *b, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    sb_put(b, tmp, (size_t)n);
}

static void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Appends s (valid UTF-8 expected; any bytes are safe) as a JSON string. */
static void sb_json_str(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, n + 2);
    sb_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        sb_put(b, s + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"':
            sb_put(b, "\\\"", 2);
            break;
        case '\\':
            sb_put(b, "\\\\", 2);
            break;
        case '\n':
            sb_put(b, "\\n", 2);
            break;
        case '\r':
            sb_put(b, "\\r", 2);
            break;
        case '\t':
            sb_put(b, "\\t", 2);
            break;
        case '\b':
            sb_put(b, "\\b", 2);
            break;
        case '\f':
            sb_put(b, "\\f", 2);
            break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            sb_put(b, e, 6);
        }
        }
    }
    sb_put(b, s + run, n - run);
    sb_putc(b, '"');
}

/* ------------------------------------------------------------------ pointer vector */

typedef struct pvec {
    void **v;
    size_t n, cap;
} pvec;

static void pv_push(pvec *p, void *x)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->v = xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = x;
}

static int pv_has(const pvec *p, const void *x)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i] == x) {
            return 1;
        }
    }
    return 0;
}

/* Removes x keeping the order. */
static void pv_remove(pvec *p, const void *x)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i] == x) {
            memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof *p->v);
            p->n--;
            return;
        }
    }
}

static void pv_free(pvec *p)
{
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

/* ------------------------------------------------------------------ state */

enum { CT_JSON, CT_PLAIN, CT_PD };

enum {
    CS_HELLO,   /* waiting for the hello line */
    CS_ACTIVE,  /* registered */
    CS_NAMED,   /* handshake failed: unregistered, commands still work */
    CS_CLOSING, /* final line queued ("bye", error): flush, then shut down writing */
    CS_LINGER   /* writing shut down: discard input until EOF or the grace time */
};

enum { CH_CHANNEL, CH_CLIENT };

struct chan;
struct pres;

typedef struct outline {
    char *p;
    size_t n;
} outline;

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
    char *in;
    size_t in_len, in_cap, in_off, in_scan;
    char *out;
    size_t out_len, out_cap, out_off;
    outline q[DROP_QUEUE_LEN]; /* reference_drop_queue: lines not yet handed to out */
    size_t q_head, q_n, q_bytes;
    int64_t last_active;
    int64_t close_deadline;
    char peer[80];
#ifdef HUB_HAVE_TLS
    hub_tls_conn *tls; /* a TLS connection (fd is its socket) */
#endif
    int ws;         /* a WebSocket connection (fd is -1; output holds frames) */
    void *ws_conn;  /* hub_ws.c's handle of it */
    int ws_closing; /* doomed: the service thread was asked to close it */
} client;

typedef struct retained {
    char *body;
    size_t body_len;
    char *sender;
    char *recipient;
    int64_t ts;
    int64_t expiry; /* monotonic ms */
} retained;

typedef struct chan {
    char *name;  /* map key; for a private channel the part before ':' */
    char *token; /* private channel: the full "name:secret", else NULL */
    int kind;
    client *owner; /* CH_CLIENT: the client with this handle */
    pvec subs;     /* client * */
    retained *ret;
    struct chan *prev, *next; /* creation order */
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
} delayed;

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
    pres *pres;     /* uthash by X of presence(X) */
    pvec delayed_q; /* delayed * */

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
};

/* ------------------------------------------------------------------ lookups */

/* Channels (and client handles) and presence subscriptions by name: uthash
 * tables whose keys are the items' own name strings. */
static chan *chan_get(const oocsi_hub *h, const char *name)
{
    chan *ch = NULL;
    HASH_FIND_STR(h->chans, name, ch);
    return ch;
}

static void chan_put(oocsi_hub *h, chan *ch)
{
    HASH_ADD_KEYPTR(hh, h->chans, ch->name, strlen(ch->name), ch);
}

static void chan_del(oocsi_hub *h, chan *ch)
{
    HASH_DEL(h->chans, ch);
}

static pres *pres_get(const oocsi_hub *h, const char *name)
{
    pres *p = NULL;
    HASH_FIND_STR(h->pres, name, p);
    return p;
}

static void pres_put(oocsi_hub *h, pres *p)
{
    HASH_ADD_KEYPTR(hh, h->pres, p->name, strlen(p->name), p);
}

static void pres_del(oocsi_hub *h, pres *p)
{
    HASH_DEL(h->pres, p);
}

/* ------------------------------------------------------------------ UTF-8 */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

/* 1 if s[0..n) is valid UTF-8. */
static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(u + i, n - i);
        if (!l) {
            return 0;
        }
        i += l;
    }
    return 1;
}

/* Copies s to out replacing every invalid byte by U+FFFD. */
static void utf8_sanitize(const char *s, size_t n, sbuf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq(u + i, n - i);
        if (l) {
            sb_put(out, s + i, l);
            i += l;
        } else {
            sb_put(out, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

static void put_utf8(sbuf *b, uint32_t cp)
{
    char t[4];
    if (cp < 0x80) {
        t[0] = (char)cp;
        sb_put(b, t, 1);
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, t, 2);
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, t, 3);
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, t, 4);
    }
}

/* ------------------------------------------------------------------ JSON payloads */

/* A strict JSON scanner that re-emits its input compactly (see the file
 * comment). Input must be valid UTF-8. */
typedef struct jscan {
    const char *p, *e;
    sbuf *out; /* NULL: validate only */
    int depth;
} jscan;

static int jv_value(jscan *j);

static void jv_ws(jscan *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static int hex4(const char *s, uint32_t *v)
{
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        r <<= 4;
        if (c >= '0' && c <= '9') {
            r |= (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            r |= (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            r |= (uint32_t)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *v = r;
    return 0;
}

/* At '"'. With decode != NULL the decoded string is appended there (all
 * escapes resolved; for reading values), else it is re-emitted to j->out. */
static int jv_string_x(jscan *j, sbuf *decode)
{
    sbuf *o = decode ? decode : j->out;
    j->p++; /* opening quote */
    if (o && !decode) {
        sb_putc(o, '"');
    }
    const char *run = j->p;
    while (1) {
        if (j->p >= j->e) {
            return -1;
        }
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            if (o) {
                sb_put(o, run, (size_t)(j->p - run));
                if (!decode) {
                    sb_putc(o, '"');
                }
            }
            j->p++;
            return 0;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c != '\\') {
            j->p++;
            continue;
        }
        /* escape */
        if (o) {
            sb_put(o, run, (size_t)(j->p - run));
        }
        const char *esc = j->p;
        if (j->e - j->p < 2) {
            return -1;
        }
        char k = j->p[1];
        if (k == 'u') {
            uint32_t cp, lo;
            if (j->e - j->p < 6 || hex4(j->p + 2, &cp)) {
                return -1;
            }
            j->p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && j->e - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u' &&
                !hex4(j->p + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                j->p += 6;
                if (o) {
                    put_utf8(o, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                }
            } else if (decode) {
                put_utf8(o, (cp >= 0xD800 && cp <= 0xDFFF) ? 0xFFFD : cp);
            } else if (o) {
                if (cp < 0x80 || (cp >= 0xD800 && cp <= 0xDFFF)) {
                    sb_put(o, esc, 6); /* keep ASCII escapes and lone surrogates as written */
                } else {
                    put_utf8(o, cp);
                }
            }
        } else {
            const char *dec = NULL;
            switch (k) {
            case '"':
                dec = "\"";
                break;
            case '\\':
                dec = "\\";
                break;
            case '/':
                dec = "/";
                break;
            case 'b':
                dec = "\b";
                break;
            case 'f':
                dec = "\f";
                break;
            case 'n':
                dec = "\n";
                break;
            case 'r':
                dec = "\r";
                break;
            case 't':
                dec = "\t";
                break;
            default:
                return -1;
            }
            j->p += 2;
            if (decode) {
                sb_putc(o, dec[0]);
            } else if (o) {
                sb_put(o, esc, 2);
            }
        }
        run = j->p;
    }
}

/* Number: copied verbatim. *is_int: no fraction, no exponent. */
static int jv_number(jscan *j, int *is_int)
{
    const char *s = j->p;
    const char *p = s;
    *is_int = 1;
    if (p < j->e && *p == '-') {
        p++;
    }
    if (p >= j->e) {
        return -1;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        return -1;
    }
    if (p < j->e && *p == '.') {
        *is_int = 0;
        p++;
        if (p >= j->e || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < j->e && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        p++;
        if (p < j->e && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= j->e || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (j->out) {
        sb_put(j->out, s, (size_t)(p - s));
    }
    j->p = p;
    return 0;
}

static int jv_literal(jscan *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->e - j->p) < n || memcmp(j->p, lit, n) != 0) {
        return -1;
    }
    if (j->out) {
        sb_put(j->out, lit, n);
    }
    j->p += n;
    return 0;
}

static int jv_container(jscan *j, char close)
{
    if (++j->depth > JSON_DEPTH_MAX) {
        return -1;
    }
    if (j->out) {
        sb_putc(j->out, *j->p);
    }
    j->p++;
    jv_ws(j);
    if (j->p < j->e && *j->p == close) {
        j->p++;
        if (j->out) {
            sb_putc(j->out, close);
        }
        j->depth--;
        return 0;
    }
    while (1) {
        if (close == '}') {
            if (j->p >= j->e || *j->p != '"' || jv_string_x(j, NULL)) {
                return -1;
            }
            jv_ws(j);
            if (j->p >= j->e || *j->p != ':') {
                return -1;
            }
            j->p++;
            if (j->out) {
                sb_putc(j->out, ':');
            }
            jv_ws(j);
        }
        if (jv_value(j)) {
            return -1;
        }
        jv_ws(j);
        if (j->p >= j->e) {
            return -1;
        }
        if (*j->p == ',') {
            j->p++;
            if (j->out) {
                sb_putc(j->out, ',');
            }
            jv_ws(j);
            continue;
        }
        if (*j->p == close) {
            j->p++;
            if (j->out) {
                sb_putc(j->out, close);
            }
            j->depth--;
            return 0;
        }
        return -1;
    }
}

static int jv_value(jscan *j)
{
    int is_int;
    if (j->p >= j->e) {
        return -1;
    }
    switch (*j->p) {
    case '{':
        return jv_container(j, '}');
    case '[':
        return jv_container(j, ']');
    case '"':
        return jv_string_x(j, NULL);
    case 't':
        return jv_literal(j, "true");
    case 'f':
        return jv_literal(j, "false");
    case 'n':
        return jv_literal(j, "null");
    default:
        return jv_number(j, &is_int);
    }
}

/* Spans of the server-interpreted keys of a payload. */
typedef struct pkeys {
    const char *retain, *retain_end;
    const char *delay, *delay_end;
    const char *sched, *sched_end;
} pkeys;

/* Decodes the JSON string at [s, e) (starting with '"') into out (NUL
 * terminated, at most cap-1 bytes). 0, or -1 if not a string or too long. */
static int span_string(const char *s, const char *e, char *out, size_t cap)
{
    if (s >= e || *s != '"') {
        return -1;
    }
    sbuf tmp = {0};
    jscan j = {s, e, NULL, 0};
    int r = jv_string_x(&j, &tmp);
    if (r == 0 && tmp.len < cap && !memchr(tmp.p ? tmp.p : "", '\0', tmp.len)) {
        if (tmp.len) {
            memcpy(out, tmp.p, tmp.len);
        }
        out[tmp.len] = '\0';
    } else {
        r = -1;
    }
    sb_free(&tmp);
    return r;
}

/* Java Long.parseLong: [+-]?digits within 64 bits. */
static int parse_i64_text(const char *s, int64_t *v)
{
    const char *p = s;
    if (*p == '+' || *p == '-') {
        p++;
    }
    if (!*p) {
        return -1;
    }
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9') {
            return -1;
        }
    }
    errno = 0;
    long long r = strtoll(s, NULL, 10);
    if (errno == ERANGE) {
        return -1;
    }
    *v = r;
    return 0;
}

/* Value (number token or numeric string) as a 64-bit integer. */
static int span_i64(const char *s, const char *e, int64_t *v)
{
    char buf[64];
    if (s < e && *s == '"') {
        if (span_string(s, e, buf, sizeof buf)) {
            return -1;
        }
    } else {
        size_t n = (size_t)(e - s);
        if (n >= sizeof buf) {
            return -1;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    return parse_i64_text(buf, v);
}

/* Value (number token or numeric string) as a double. */
static int span_double(const char *s, const char *e, double *v)
{
    char buf[128];
    if (s < e && *s == '"') {
        if (span_string(s, e, buf, sizeof buf)) {
            return -1;
        }
    } else {
        size_t n = (size_t)(e - s);
        if (n >= sizeof buf || n == 0 || !((*s >= '0' && *s <= '9') || *s == '-')) {
            return -1;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    char *end;
    const char *b = buf;
    while (*b == ' ' || *b == '\t') {
        b++;
    }
    if (!*b) {
        return -1;
    }
    errno = 0;
    double d = strtod(b, &end);
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    if (*end || !isfinite(d)) {
        return -1;
    }
    *v = d;
    return 0;
}

/* Normalises the payload object text [s, s+n) into body (the members, comma
 * separated, without braces). On invalid JSON body is left empty and -1 is
 * returned. */
static int payload_normalise(const char *s, size_t n, sbuf *body, pkeys *k)
{
    jscan j = {s, s + n, body, 0};
    memset(k, 0, sizeof *k);
    body->len = 0;
    jv_ws(&j);
    if (j.p >= j.e || *j.p != '{') {
        return -1;
    }
    j.p++;
    j.depth = 1;
    jv_ws(&j);
    int count = 0;
    if (j.p < j.e && *j.p == '}') {
        j.p++;
        goto end;
    }
    while (1) {
        size_t mark = body->len;
        if (count) {
            sb_putc(body, ',');
        }
        if (j.p >= j.e || *j.p != '"') {
            goto bad;
        }
        const char *ks = j.p;
        if (jv_string_x(&j, NULL)) {
            goto bad;
        }
        const char *ke = j.p;
        char key[16];
        size_t kraw = (size_t)(ke - ks) - 2;
        key[0] = '\0';
        if (kraw < sizeof key && !memchr(ks + 1, '\\', kraw)) {
            memcpy(key, ks + 1, kraw);
            key[kraw] = '\0';
        } else if (kraw <= 64 && span_string(ks, ke, key, sizeof key)) {
            key[0] = '\0';
        }
        jv_ws(&j);
        if (j.p >= j.e || *j.p != ':') {
            goto bad;
        }
        j.p++;
        sb_putc(body, ':');
        jv_ws(&j);
        const char *vs = j.p;
        if (jv_value(&j)) {
            goto bad;
        }
        const char *ve = j.p;
        int drop = !strcmp(key, "sender") || !strcmp(key, "recipient") || !strcmp(key, "timestamp");
        if (*vs == 'n') {
            drop = 1; /* top-level null */
        } else if (*vs == '-' || (*vs >= '0' && *vs <= '9')) {
            int is_int = memchr(vs, '.', (size_t)(ve - vs)) == NULL && memchr(vs, 'e', (size_t)(ve - vs)) == NULL &&
                         memchr(vs, 'E', (size_t)(ve - vs)) == NULL;
            int64_t dummy;
            if (is_int && span_i64(vs, ve, &dummy)) {
                drop = 1; /* integer beyond 64 bits */
            }
        }
        if (!strcmp(key, "_RETAIN")) {
            k->retain = vs;
            k->retain_end = ve;
        } else if (!strcmp(key, "_DELAY")) {
            k->delay = vs;
            k->delay_end = ve;
        } else if (!strcmp(key, "_SCHEDULE")) {
            k->sched = vs;
            k->sched_end = ve;
        }
        if (drop) {
            body->len = mark;
        } else {
            count++;
        }
        jv_ws(&j);
        if (j.p < j.e && *j.p == ',') {
            j.p++;
            jv_ws(&j);
            continue;
        }
        if (j.p < j.e && *j.p == '}') {
            j.p++;
            break;
        }
        goto bad;
    }
end:
    jv_ws(&j);
    if (j.p != j.e) {
        goto bad;
    }
    return 0;
bad:
    body->len = 0;
    memset(k, 0, sizeof *k);
    return -1;
}

/* ------------------------------------------------------------------ small helpers */

static uint64_t rng_next(oocsi_hub *h)
{
    uint64_t x = h->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->rng = x;
    return x * 2685821657736338717ULL;
}

static void hub_wake(oocsi_hub *h)
{
    char b = 1;
    ssize_t r = write(h->wake_wr, &b, 1);
    (void)r; /* a full pipe already means "wake up" */
}

static client *find_client(const oocsi_hub *h, const char *handle)
{
    chan *ch = chan_get(h, handle);
    return (ch && ch->kind == CH_CLIENT) ? ch->owner : NULL;
}

/* X of "presence(X)" into x (cap bytes); 0, or -1 if name is not of that form. */
static int presence_target(const char *name, char *x, size_t cap)
{
    if (strncmp(name, "presence(", 9) != 0) {
        return -1;
    }
    const char *p = name + 9;
    size_t n = 0;
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') ||
           p[n] == '_' || p[n] == '-') {
        n++;
    }
    if (n == 0 || p[n] != ')' || n >= cap) {
        return -1;
    }
    memcpy(x, p, n);
    x[n] = '\0';
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ------------------------------------------------------------------ output */

static void mark_dirty(oocsi_hub *h, client *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        pv_push(&h->dirty, c);
    }
}

static size_t out_pending(const client *c)
{
    return c->out_len - c->out_off + c->q_bytes;
}

/* Appends bytes to the output buffer (amortised O(1) per byte). */
static void out_put(client *c, const char *s, size_t n)
{
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    }
    if (c->out_cap - c->out_len < n) {
        size_t pending = c->out_len - c->out_off;
        if (c->out_off >= pending && pending + n <= c->out_cap) {
            memmove(c->out, c->out + c->out_off, pending); /* costs less than what was consumed */
        } else {
            size_t cap = c->out_cap ? c->out_cap : 4096;
            while (cap < pending + n || cap < c->out_cap * 2) {
                cap *= 2;
            }
            char *nb = xmalloc(cap);
            if (pending) {
                memcpy(nb, c->out + c->out_off, pending);
            }
            free(c->out);
            c->out = nb;
            c->out_cap = cap;
        }
        c->out_off = 0;
        c->out_len = pending;
    }
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
}

static int out_room(oocsi_hub *h, client *c, size_t n)
{
    if (c->doomed || c->kill || (c->fd < 0 && !c->ws)) {
        return 0;
    }
    if (out_pending(c) + n > h->out_cap) {
        hub_log("dropping %s: more than %zu bytes of output pending", c->handle ? c->handle : c->peer, h->out_cap);
        c->kill = 1;
        return 0;
    }
    return 1;
}

static void ws_wake(oocsi_hub *h)
{
#ifdef HUB_HAVE_WS
    if (h->ws) {
        hub_ws_notify(h->ws);
    }
#else
    (void)h;
#endif
}

/* WebSocket clients: the output buffer holds frames, each a size_t length
 * and the bytes; the service thread takes them (hub_ws_next_frame). */
static void ws_put_frame(oocsi_hub *h, client *c, const char *s, size_t n)
{
    if (!out_room(h, c, n + sizeof n)) {
        ws_wake(h); /* a kill is acted on by the service thread */
        return;
    }
    out_put(c, (const char *)&n, sizeof n);
    out_put(c, s, n);
    ws_wake(h);
}

/* Queues one server line (adds ';' for PD clients, and the LF); one text
 * frame for WebSocket clients. */
static void send_line(oocsi_hub *h, client *c, const char *s, size_t n)
{
    if (c->ws) {
        ws_put_frame(h, c, s, n);
        return;
    }
    int pd = c->type == CT_PD;
    size_t total = n + 1 + (size_t)pd;
    if (!out_room(h, c, total)) {
        return;
    }
    if (h->opt.reference_drop_queue) {
        if (c->q_n == DROP_QUEUE_LEN) {
            outline *old = &c->q[c->q_head];
            c->q_bytes -= old->n;
            free(old->p);
            c->q_head = (c->q_head + 1) % DROP_QUEUE_LEN;
            c->q_n--;
        }
        outline *l = &c->q[(c->q_head + c->q_n) % DROP_QUEUE_LEN];
        l->p = xmalloc(total);
        memcpy(l->p, s, n);
        if (pd) {
            l->p[n] = ';';
        }
        l->p[total - 1] = '\n';
        l->n = total;
        c->q_n++;
        c->q_bytes += total;
    } else {
        out_put(c, s, n);
        out_put(c, pd ? ";\n" : "\n", total - n);
    }
    mark_dirty(h, c);
}

static void send_text(oocsi_hub *h, client *c, const char *s)
{
    send_line(h, c, s, strlen(s));
}

/* The byte stream of a TCP or TLS connection, like recv()/send(). */
static ssize_t conn_recv(client *c, void *buf, size_t n)
{
#ifdef HUB_HAVE_TLS
    if (c->tls) {
        return hub_tls_read(c->tls, buf, n);
    }
#endif
    return recv(c->fd, buf, n, 0);
}

static ssize_t conn_send(client *c, const void *buf, size_t n)
{
#ifdef HUB_HAVE_TLS
    if (c->tls) {
        return hub_tls_write(c->tls, buf, n);
    }
#endif
    return send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static const char *conn_error(const client *c, int err)
{
#ifdef HUB_HAVE_TLS
    if (c->tls && err != EAGAIN) {
        return hub_tls_error(c->tls);
    }
#else
    (void)c;
#endif
    return strerror(err);
}

/* Writes pending output with as few send() calls as possible. */
static void client_flush(oocsi_hub *h, client *c)
{
    (void)h;
    if (c->doomed || c->stalled || c->fd < 0) {
        return;
    }
    while (1) {
        if (c->out_off == c->out_len && c->q_n) {
            while (c->q_n) { /* hand the queued lines to the socket buffer */
                outline *l = &c->q[c->q_head];
                out_put(c, l->p, l->n);
                free(l->p);
                l->p = NULL;
                c->q_bytes -= l->n;
                c->q_head = (c->q_head + 1) % DROP_QUEUE_LEN;
                c->q_n--;
            }
        }
        size_t pending = c->out_len - c->out_off;
        if (!pending) {
            break;
        }
        ssize_t w = conn_send(c, c->out + c->out_off, pending);
        if (w > 0) {
            c->out_off += (size_t)w;
            if ((size_t)w < pending) {
                return; /* socket buffer full: wait for POLLOUT */
            }
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (h->opt.verbose) {
            hub_log("write to %s failed: %s", c->handle ? c->handle : c->peer, conn_error(c, errno));
        }
        c->kill = 1;
        return;
    }
    c->out_off = c->out_len = 0;
    if (c->out_cap > (1u << 20)) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    if (c->state == CS_CLOSING) {
#ifdef HUB_HAVE_TLS
        if (c->tls) {
            hub_tls_close_notify(c->tls);
        }
#endif
        shutdown(c->fd, SHUT_WR);
        c->state = CS_LINGER;
    }
}

/* ------------------------------------------------------------------ messages */

typedef struct hmsg {
    const char *body; /* members without braces */
    size_t body_len;
    const char *sender;
    const char *recipient;
    int64_t ts;
    sbuf line;   /* the JSON line, built on first use */
    sbuf wsline; /* the oocsi-web JSON frame (payload nested in "data"), built on first use */
} hmsg;

static void hmsg_done(hmsg *m)
{
    sb_free(&m->line);
    sb_free(&m->wsline);
}

/* {"data":{...},"recipient":...,"sender":...,"timestamp":...} (§19, keys sorted). */
static void msg_build_ws(hmsg *m)
{
    sbuf *b = &m->wsline;
    sb_reserve(b, m->body_len + strlen(m->sender) + strlen(m->recipient) + 80);
    sb_puts(b, "{\"data\":{");
    sb_put(b, m->body, m->body_len);
    sb_puts(b, "},\"recipient\":");
    sb_json_str(b, m->recipient, strlen(m->recipient));
    sb_puts(b, ",\"sender\":");
    sb_json_str(b, m->sender, strlen(m->sender));
    sb_puts(b, ",\"timestamp\":");
    sb_i64(b, m->ts);
    sb_putc(b, '}');
}

static void msg_build(hmsg *m)
{
    sbuf *b = &m->line;
    sb_reserve(b, m->body_len + strlen(m->sender) + strlen(m->recipient) + 64);
    sb_putc(b, '{');
    sb_put(b, m->body, m->body_len);
    if (m->body_len) {
        sb_putc(b, ',');
    }
    sb_puts(b, "\"recipient\":");
    sb_json_str(b, m->recipient, strlen(m->recipient));
    sb_puts(b, ",\"timestamp\":");
    sb_i64(b, m->ts);
    sb_puts(b, ",\"sender\":");
    sb_json_str(b, m->sender, strlen(m->sender));
    sb_putc(b, '}');
}

static int pd_key_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcasecmp(x->string ? x->string : "", y->string ? y->string : "");
}

static void pd_text(sbuf *o, const char *s)
{
    for (; *s; s++) {
        sb_putc(o, (*s == '\n' || *s == '\r') ? ' ' : *s);
    }
}

static void pd_value(sbuf *o, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        pd_text(o, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        const cJSON *e;
        int first = 1;
        cJSON_ArrayForEach(e, v)
        {
            if (!first) {
                sb_putc(o, ',');
            }
            first = 0;
            pd_value(o, e);
        }
    } else {
        char *t = cJSON_PrintUnformatted(v);
        if (t) {
            sb_puts(o, t);
            cJSON_free(t);
        }
    }
}

/* PD (Pure Data) form: "<recipient> timestamp=<ms> sender=<h> k1=v1 k2=v2 " (';' added by send_line). */
static void pd_format(const hmsg *m, sbuf *o)
{
    pd_text(o, m->recipient);
    sb_puts(o, " timestamp=");
    sb_i64(o, m->ts);
    sb_puts(o, " sender=");
    pd_text(o, m->sender);
    sb_putc(o, ' ');
    sbuf js = {0};
    sb_putc(&js, '{');
    sb_put(&js, m->body, m->body_len);
    sb_putc(&js, '}');
    cJSON *root = cJSON_ParseWithLength(js.p, js.len);
    sb_free(&js);
    if (!root) {
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(root), i = 0;
    const cJSON **items = xmalloc((n ? n : 1) * sizeof *items);
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        items[i++] = e;
    }
    qsort(items, n, sizeof *items, pd_key_cmp);
    for (i = 0; i < n; i++) {
        pd_text(o, items[i]->string ? items[i]->string : "");
        sb_putc(o, '=');
        pd_value(o, items[i]);
        sb_putc(o, ' ');
    }
    free(items);
    cJSON_Delete(root);
}

static void deliver(oocsi_hub *h, client *c, hmsg *m)
{
    if (c->state != CS_ACTIVE || c->kill || c->doomed) {
        return;
    }
    if (c->ws) {
        if (!m->wsline.len) {
            msg_build_ws(m);
        }
        send_line(h, c, m->wsline.p, m->wsline.len);
    } else if (c->type == CT_PD) {
        sbuf pd = {0};
        pd_format(m, &pd);
        send_line(h, c, pd.p ? pd.p : "", pd.len);
        sb_free(&pd);
    } else {
        if (!m->line.len) {
            msg_build(m);
        }
        send_line(h, c, m->line.p, m->line.len);
    }
    c->last_active = mono_ms();
    h->delivered++;
}

/* ------------------------------------------------------------------ channels and presence */

static chan *chan_new(oocsi_hub *h, const char *name, const char *token, int kind, client *owner)
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

static void retained_free(retained *r)
{
    if (r) {
        free(r->body);
        free(r->sender);
        free(r->recipient);
        free(r);
    }
}

/* Frees a channel without touching its subscribers (full teardown). */
static void chan_free_raw(chan *ch)
{
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
static void chan_maybe_destroy(oocsi_hub *h, chan *ch, int64_t now)
{
    if (ch->kind != CH_CHANNEL) {
        return;
    }
    if (ch->ret && ch->ret->expiry <= now) {
        retained_free(ch->ret);
        ch->ret = NULL;
    }
    if (!ch->subs.n && !ch->ret) {
        chan_destroy(h, ch);
    }
}

/* The channel a message to / an unsubscribe from / a query of `name`
 * addresses: "x:secret" only reaches the private channel x with exactly that
 * token; "x" only a public channel or a client handle. */
static chan *lookup_target(const oocsi_hub *h, const char *name)
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
static void list_subscribers(const chan *ch, sbuf *b, const char *sep)
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

static void list_channels(const oocsi_hub *h, sbuf *b)
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

static void list_clients(const oocsi_hub *h, sbuf *b)
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
static void presence_emit(oocsi_hub *h, const char *x, const char *evkey, const char *val)
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
    hmsg m = {body.p, body.len, x, rcpt.p, real_ms(), {0}, {0}};
    for (size_t i = 0; i < p->subs.n; i++) {
        client *s = p->subs.v[i];
        if (strcmp(s->handle, x) != 0) {
            deliver(h, s, &m);
        }
    }
    hmsg_done(&m);
    sb_free(&body);
    sb_free(&rcpt);
}

static void pres_destroy(oocsi_hub *h, pres *p)
{
    pres_del(h, p);
    pv_free(&p->subs);
    free(p->name);
    free(p);
}

static void retained_deliver(oocsi_hub *h, client *c, const retained *r)
{
    hmsg m = {r->body, r->body_len, r->sender, r->recipient, r->ts, {0}, {0}};
    deliver(h, c, &m);
    hmsg_done(&m);
}

static void chan_unsub(oocsi_hub *h, chan *ch, client *c)
{
    pv_remove(&ch->subs, c);
    pv_remove(&c->subs, ch);
    presence_emit(h, ch->name, "leave", c->handle);
    if (!c->priv) {
        presence_emit(h, c->handle, "closed", "");
    }
    chan_maybe_destroy(h, ch, mono_ms());
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
    while (c->subs.n) {
        chan_unsub(h, c->subs.v[0], c);
    }
    for (size_t i = 0; i < c->psubs.n; i++) {
        pres *p = c->psubs.v[i];
        pv_remove(&p->subs, c);
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
static void client_doom(oocsi_hub *h, client *c, const char *why)
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
static void client_close_with(oocsi_hub *h, client *c, const char *last)
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

static void client_free(client *c)
{
#ifdef HUB_HAVE_TLS
    hub_tls_conn_free(c->tls);
#endif
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->handle);
    pv_free(&c->subs);
    pv_free(&c->psubs);
    free(c->in);
    free(c->out);
    for (size_t i = 0; i < c->q_n; i++) {
        free(c->q[(c->q_head + i) % DROP_QUEUE_LEN].p);
    }
    free(c);
}

/* ------------------------------------------------------------------ routing */

static void dispatch(oocsi_hub *h, client *from, const char *sender, const char *recipient, const char *body,
                     size_t blen, int64_t ts, int64_t retain_s)
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
    hmsg m = {body, blen, sender, recipient, ts, {0}, {0}};
    if (ch->kind == CH_CLIENT) {
        deliver(h, ch->owner, &m);
        hmsg_done(&m);
        return;
    }
    for (size_t i = 0; i < ch->subs.n; i++) {
        client *s = ch->subs.v[i];
        if (from ? s == from : strcmp(s->handle, sender) == 0) {
            continue; /* no echo */
        }
        deliver(h, s, &m);
    }
    hmsg_done(&m);
    /* every message replaces or clears the retained one */
    retained_free(ch->ret);
    ch->ret = NULL;
    if (retain_s > 0) {
        retained *r = xmalloc(sizeof *r);
        r->body = xstrndup(body, blen);
        r->body_len = blen;
        r->sender = xstrdup(sender);
        r->recipient = xstrdup(recipient);
        r->ts = ts;
        r->expiry = mono_ms() + retain_s * 1000;
        ch->ret = r;
    } else {
        chan_maybe_destroy(h, ch, mono_ms());
    }
}

static void delayed_free(delayed *d)
{
    free(d->recipient);
    free(d->sender);
    free(d->body);
    free(d);
}

static void delayed_add(oocsi_hub *h, const char *recipient, const char *sender, const char *body, size_t blen,
                        int64_t due_real, int64_t now_real, int64_t retain_s)
{
    for (size_t i = 0; i < h->delayed_q.n; i++) { /* one pending message per recipient */
        delayed *d = h->delayed_q.v[i];
        if (strcmp(d->recipient, recipient) == 0) {
            delayed_free(d);
            h->delayed_q.v[i] = h->delayed_q.v[--h->delayed_q.n];
            break;
        }
    }
    delayed *d = xmalloc(sizeof *d);
    d->recipient = xstrdup(recipient);
    d->sender = xstrdup(sender);
    d->body = xstrndup(body, blen);
    d->body_len = blen;
    d->ts = due_real;
    d->due = mono_ms() + (due_real - now_real);
    d->retain_s = retain_s;
    pv_push(&h->delayed_q, d);
}

static void delayed_release(oocsi_hub *h, int64_t now)
{
    size_t i = 0;
    while (i < h->delayed_q.n) {
        delayed *d = h->delayed_q.v[i];
        if (d->due > now) {
            i++;
            continue;
        }
        h->delayed_q.v[i] = h->delayed_q.v[--h->delayed_q.n];
        dispatch(h, NULL, d->sender, d->recipient, d->body, d->body_len, d->ts, d->retain_s);
        delayed_free(d);
    }
}

/* "yyyy-MM-dd HH:mm:ss" in local time (lenient, like SimpleDateFormat) to epoch ms; -1 if unparseable. */
static int64_t parse_schedule(const char *s)
{
    int y, mo, d, hh, mi, ss;
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &hh, &mi, &ss) != 6) {
        return -1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mi;
    tm.tm_sec = ss;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1) {
        return -1;
    }
    return (int64_t)t * 1000;
}

/* Applies _RETAIN, _DELAY and _SCHEDULE (§7), then dispatches or queues. */
static void route_message(oocsi_hub *h, client *from, const char *sender, const char *recipient, const char *body,
                          size_t blen, const pkeys *k)
{
    int64_t now_real = real_ms();
    int64_t retain_s = 0, v;
    if (k->retain && !span_i64(k->retain, k->retain_end, &v) && v > 0) {
        retain_s = v > RETAIN_MAX_S ? RETAIN_MAX_S : v;
    }
    int64_t due = 0;
    if (k->delay) {
        double d;
        if (!span_double(k->delay, k->delay_end, &d) && d >= 1) {
            if (d > (double)DELAY_MAX_S) {
                d = (double)DELAY_MAX_S;
            }
            due = now_real + (int64_t)d * 1000;
        }
    } else if (k->sched) {
        char txt[128];
        if (!span_string(k->sched, k->sched_end, txt, sizeof txt)) {
            int64_t t = parse_schedule(txt);
            if (t > now_real) {
                due = t;
            }
        }
    }
    if (due) {
        delayed_add(h, recipient, sender, body, blen, due, now_real, retain_s);
        return;
    }
    dispatch(h, from, sender, recipient, body, blen, now_real, retain_s);
}

/* ------------------------------------------------------------------ commands */

static void cmd_send(oocsi_hub *h, client *c, const char *line, size_t len, int raw)
{
    const char *sp1 = memchr(line, ' ', len);
    if (!sp1) {
        return;
    }
    const char *rs = sp1 + 1;
    const char *sp2 = memchr(rs, ' ', len - (size_t)(rs - line));
    if (!sp2) {
        return; /* no payload: ignored */
    }
    size_t rlen = (size_t)(sp2 - rs);
    if (rlen == 0 || memchr(rs, '\0', rlen)) {
        return; /* no such recipient */
    }
    const char *pl = sp2 + 1;
    size_t plen = len - (size_t)(pl - line);
    char *recipient = xstrndup(rs, rlen);
    sbuf body = {0};
    pkeys k;
    memset(&k, 0, sizeof k);
    if (plen && pl[0] == '{') {
        if (payload_normalise(pl, plen, &body, &k) && h->opt.verbose) {
            hub_log("invalid JSON from %s: delivered as an empty message", c->handle);
        }
    } else if (raw) {
        sb_puts(&body, "\"data\":");
        sb_json_str(&body, pl, plen);
    } /* send with a non-JSON payload: an empty message */
    route_message(h, c, c->handle, recipient, body.p ? body.p : "", body.len, &k);
    sb_free(&body);
    free(recipient);
}

static void cmd_subscribe(oocsi_hub *h, client *c, const char *name)
{
    char x[256];
    if (c->state != CS_ACTIVE || !*name) {
        return;
    }
    if (!presence_target(name, x, sizeof x)) {
        pres *p = pres_get(h, x);
        if (!p) {
            p = xmalloc(sizeof *p);
            memset(p, 0, sizeof *p);
            p->name = xstrdup(x);
            pres_put(h, p);
        }
        if (!pv_has(&p->subs, c)) {
            pv_push(&p->subs, c);
            pv_push(&c->psubs, p);
            pthread_cond_broadcast(&h->cond);
        }
        return;
    }
    if (!strncmp(name, "presence(", 9) || strchr(name, '[')) {
        return; /* malformed presence, or a filter/transform subscription (not implemented) */
    }
    chan *ch;
    const char *colon = strchr(name, ':');
    if (colon) {
        if (colon == name) {
            return;
        }
        char *base = xstrndup(name, (size_t)(colon - name));
        ch = chan_get(h, base);
        if (!ch) {
            ch = chan_new(h, base, name, CH_CHANNEL, NULL);
        } else if (ch->kind != CH_CHANNEL || !ch->token || strcmp(ch->token, name) != 0) {
            ch = NULL; /* silently ineffective */
        }
        free(base);
    } else {
        ch = chan_get(h, name);
        if (!ch) {
            ch = chan_new(h, name, NULL, CH_CHANNEL, NULL);
        } else if ((ch->kind == CH_CLIENT && ch->owner == c) || (ch->kind == CH_CHANNEL && ch->token)) {
            ch = NULL; /* own handle: no-op; private channel without its token: ineffective */
        }
    }
    if (!ch || pv_has(&ch->subs, c)) {
        return;
    }
    pv_push(&ch->subs, c);
    pv_push(&c->subs, ch);
    presence_emit(h, ch->name, "join", c->handle);
    if (!c->priv) {
        presence_emit(h, c->handle, "created", "");
    }
    if (ch->ret) {
        if (ch->ret->expiry <= mono_ms()) {
            retained_free(ch->ret);
            ch->ret = NULL;
        } else {
            retained_deliver(h, c, ch->ret);
        }
    }
    pthread_cond_broadcast(&h->cond);
}

static void cmd_unsubscribe(oocsi_hub *h, client *c, char *name)
{
    char x[256];
    if (c->state != CS_ACTIVE) {
        return;
    }
    char *br = strchr(name, '[');
    if (br) {
        *br = '\0';
    }
    if (!presence_target(name, x, sizeof x)) {
        pres *p = pres_get(h, x);
        if (p && pv_has(&p->subs, c)) {
            pv_remove(&p->subs, c);
            pv_remove(&c->psubs, p);
            if (!p->subs.n) {
                pres_destroy(h, p);
            }
            pthread_cond_broadcast(&h->cond);
        }
        return;
    }
    chan *ch = lookup_target(h, name);
    if (ch && pv_has(&ch->subs, c)) {
        chan_unsub(h, ch, c);
    }
}

static void answer(oocsi_hub *h, client *c, sbuf *b)
{
    if (b->len) { /* an empty answer produces no line */
        send_line(h, c, b->p, b->len);
    }
    sb_free(b);
}

static size_t pd_transform(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ';') {
            continue;
        }
        s[o++] = s[i] == '\'' ? ',' : s[i];
    }
    s[o] = '\0';
    return o;
}

static void handle_command(oocsi_hub *h, client *c, char *line, size_t len)
{
    char *sp = strchr(line, ' ');
    int has_nul = strlen(line) != len;
    if (h->opt.verbose) {
        hub_log("%s: %.200s", c->handle, line);
    }
    if (!strncmp(line, "sendraw", 7)) {
        cmd_send(h, c, line, len, 1);
    } else if (!strncmp(line, "send", 4)) {
        cmd_send(h, c, line, len, 0);
    } else if (!strncmp(line, "subscribe", 9) && sp) {
        if (!has_nul) {
            cmd_subscribe(h, c, sp + 1);
        }
    } else if (!strncmp(line, "unsubscribe", 11) && sp) {
        if (!has_nul) {
            cmd_unsubscribe(h, c, sp + 1);
        }
    } else if (!strcmp(line, "channels")) {
        sbuf b = {0};
        list_channels(h, &b);
        answer(h, c, &b);
    } else if (!strncmp(line, "channels", 8) && sp) {
        char *tok = sp + 1, *end = strchr(tok, ' ');
        if (end) {
            *end = '\0';
        }
        sbuf b = {0};
        chan *ch = *tok ? lookup_target(h, tok) : NULL;
        if (ch) {
            list_subscribers(ch, &b, ", ");
        }
        answer(h, c, &b);
    } else if (!strcmp(line, "clients")) {
        sbuf b = {0};
        list_clients(h, &b);
        answer(h, c, &b);
    } else if (!strcmp(line, "ping")) {
        send_text(h, c, ".");
    } else if (line[0] == '.') {
        /* pong */
    } else if (!strcmp(line, "quit")) {
        client_close_with(h, c, "bye");
    }
}

/* ------------------------------------------------------------------ handshake */

static int users_check(const oocsi_hub *h, const char *name, const char *pw)
{
    for (size_t i = 0; i < h->nusers; i++) {
        if (!strcmp(h->users[i].name, name) && !strcmp(h->users[i].pw, pw)) {
            return 1;
        }
    }
    return 0;
}

static int charset_ok(const char *s, size_t n, const char *extra)
{
    if (!n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr(extra, ch))) {
            return 0;
        }
    }
    return 1;
}

/* Parses "n1:p1;n2:p2" (§2.3); an invalid list is ignored entirely. */
static void users_parse(oocsi_hub *h, const char *list)
{
    if (!list) {
        return;
    }
    size_t cap = 0;
    const char *p = list;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (!colon || !charset_ok(p, (size_t)(colon - p), "_.-") ||
            !charset_ok(colon + 1, n - (size_t)(colon - p) - 1, "_.%$-")) {
            hub_log("ignoring the invalid users list");
            for (size_t i = 0; i < h->nusers; i++) {
                free(h->users[i].name);
                free(h->users[i].pw);
            }
            free(h->users);
            h->users = NULL;
            h->nusers = 0;
            return;
        }
        if (h->nusers == cap) {
            cap = cap ? cap * 2 : 4;
            h->users = xrealloc(h->users, cap * sizeof *h->users);
        }
        h->users[h->nusers].name = xstrndup(p, (size_t)(colon - p));
        h->users[h->nusers].pw = xstrndup(colon + 1, n - (size_t)(colon - p) - 1);
        h->nusers++;
        p += n;
        if (*p == ';') {
            p++;
        }
    }
}

/* Removes every occurrence of pat from s (in place, one left-to-right pass). */
static void remove_all(char *s, const char *pat)
{
    size_t m = strlen(pat);
    char *o = s;
    while (*s) {
        if (!strncmp(s, pat, m)) {
            s += m;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
}

static void stale_check(oocsi_hub *h, int64_t now);

/* Registers c under handle (taken over), sends the welcome line/frame and
 * emits the presence event. */
static void client_register(oocsi_hub *h, client *c, char *handle, int priv, const char *welcome)
{
    c->handle = handle;
    c->priv = priv;
    c->state = CS_ACTIVE;
    c->self = chan_new(h, handle, NULL, CH_CLIENT, c);
    h->nreg++;
    send_text(h, c, welcome);
    presence_emit(h, handle, "join", handle);
    pthread_cond_broadcast(&h->cond);
}

static void handle_hello(oocsi_hub *h, client *c, char *line, size_t len)
{
    if (len > HELLO_MAX || strstr(line, "OpenSSH") || strstr(line, "libssh")) {
        return; /* silent rejection: the next line is a new hello */
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch <= 0x20 || ch >= 0x7F) {
            return; /* whitespace, control or non-ASCII */
        }
    }
    char *s = line;
    if (*s == '/') {
        s++;
        len--;
    }
    if (len && s[len - 1] == '/') {
        s[--len] = '\0';
    }
    stale_check(h, mono_ms()); /* free the handles of stale clients first */
    int has_hash = memchr(s, '#', len) != NULL;
    int type = CT_PLAIN;
    char *handle = NULL;
    for (int attempt = 0;; attempt++) {
        handle = xstrndup(s, len);
        if (has_hash && attempt < 20) {
            for (char *q = handle; *q; q++) {
                if (*q == '#') {
                    *q = (char)('0' + rng_next(h) % 10);
                }
            }
        }
        type = strchr(handle, ';') ? CT_PD : strstr(handle, "(JSON)") ? CT_JSON : CT_PLAIN;
        remove_all(handle, ";");
        remove_all(handle, "(JSON)");
        if (!has_hash || attempt >= 20) {
            break;
        }
        char *colon = strchr(handle, ':');
        if (colon) {
            *colon = '\0';
        }
        int taken = chan_get(h, handle) != NULL;
        if (colon) {
            *colon = ':';
        }
        if (!taken) {
            break;
        }
        free(handle);
    }
    if (!*handle) {
        free(handle);
        return;
    }
    c->type = type;
    if (h->opt.max_clients > 0 && h->nreg >= h->opt.max_clients) {
        free(handle);
        client_close_with(h, c, "error (too many clients)");
        return;
    }
    char msg[300];
    int priv = 0;
    char *colon = strchr(handle, ':');
    if (colon) {
        *colon = '\0';
        if (!h->nusers || !*handle || !users_check(h, handle, colon + 1)) {
            snprintf(msg, sizeof msg, "error (password wrong for name: %s)", handle);
            goto failed;
        }
        priv = 1;
    }
    if (chan_get(h, handle)) {
        snprintf(msg, sizeof msg, "error (name already registered: %s)", handle);
        goto failed;
    }
    if (type == CT_JSON) {
        snprintf(msg, sizeof msg, "{'message' : \"welcome %s\"}", handle);
    } else {
        snprintf(msg, sizeof msg, "welcome %s", handle);
    }
    if (h->opt.verbose) {
        hub_log("%s registered %s (%s)", c->peer, handle, type == CT_JSON ? "JSON" : type == CT_PD ? "PD" : "plain");
    }
    client_register(h, c, handle, priv, msg);
    return;
failed:
    if (h->opt.verbose) {
        hub_log("%s: %s", c->peer, msg);
    }
    c->handle = handle;
    c->state = CS_NAMED;
    send_text(h, c, msg);
}

/* One received line (without its LF; the byte after it may be overwritten). */
static void handle_line(oocsi_hub *h, client *c, char *line, size_t len)
{
    while (len && (unsigned char)line[0] <= 0x20) {
        line++;
        len--;
    }
    while (len && (unsigned char)line[len - 1] <= 0x20) {
        len--;
    }
    if (!len) {
        return;
    }
    line[len] = '\0';
    c->last_active = mono_ms();
    if (c->state == CS_HELLO) {
        handle_hello(h, c, line, len);
        return;
    }
    if (c->state != CS_ACTIVE && c->state != CS_NAMED) {
        return;
    }
    if (c->type == CT_PD) {
        len = pd_transform(line, len);
        while (len && (unsigned char)line[0] <= 0x20) {
            line++;
            len--;
        }
        while (len && (unsigned char)line[len - 1] <= 0x20) {
            line[--len] = '\0';
        }
        if (!len) {
            return;
        }
    }
    if (utf8_valid(line, len)) {
        handle_command(h, c, line, len);
        return;
    }
    sbuf fixed = {0};
    utf8_sanitize(line, len, &fixed);
    sb_putc(&fixed, '\0');
    handle_command(h, c, fixed.p, fixed.len - 1);
    sb_free(&fixed);
}

/* ------------------------------------------------------------------ input */

/* Ensures want free bytes after the input data (amortised: the pending
 * partial line is moved only when it is at most half the buffer). */
static void in_reserve(oocsi_hub *h, client *c, size_t want)
{
    if (c->in_cap - c->in_len >= want) {
        return;
    }
    size_t pending = c->in_len - c->in_off;
    size_t limit = h->opt.max_line + want + 1;
    if (c->in_off && pending + want <= c->in_cap && (pending <= c->in_cap / 2 || c->in_cap >= limit)) {
        memmove(c->in, c->in + c->in_off, pending);
    } else {
        size_t cap = c->in_cap * 2;
        if (cap < pending + want) {
            cap = pending + want;
        }
        if (cap > limit) {
            cap = limit;
        }
        char *nb = xmalloc(cap);
        if (pending) {
            memcpy(nb, c->in + c->in_off, pending);
        }
        free(c->in);
        c->in = nb;
        c->in_cap = cap;
    }
    c->in_scan -= c->in_off;
    c->in_off = 0;
    c->in_len = pending;
}

static int client_gone(const client *c)
{
    return c->doomed || c->kill;
}

static void process_lines(oocsi_hub *h, client *c)
{
    size_t off = c->in_off, pos = c->in_scan;
    while (pos < c->in_len) {
        char *nl = memchr(c->in + pos, '\n', c->in_len - pos);
        if (!nl) {
            break;
        }
        size_t end = (size_t)(nl - c->in);
        if (end - off > h->opt.max_line) {
            client_doom(h, c, "line too long");
            return;
        }
        handle_line(h, c, c->in + off, end - off);
        off = pos = end + 1;
        if (client_gone(c) || c->state >= CS_CLOSING) {
            off = pos = c->in_len; /* ignore whatever follows */
            break;
        }
    }
    c->in_off = off;
    c->in_scan = c->in_len;
    if (c->in_len - c->in_off > h->opt.max_line) {
        client_doom(h, c, "line too long");
        return;
    }
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = c->in_scan = 0;
        if (c->in_cap > (1u << 20)) {
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    }
}

static void client_read(oocsi_hub *h, client *c)
{
    size_t budget = READ_BUDGET;
    while (!client_gone(c) && budget > 0) {
        ssize_t n;
        if (c->state >= CS_CLOSING) { /* discard input until EOF */
            char junk[4096];
            n = recv(c->fd, junk, sizeof junk, 0);
            if (n > 0) {
                budget -= (size_t)n < budget ? (size_t)n : budget;
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                c->doomed = 1;
            }
            return;
        }
        in_reserve(h, c, READ_CHUNK);
        n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            budget -= (size_t)n < budget ? (size_t)n : budget;
            process_lines(h, c);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        client_doom(h, c, n == 0 ? "connection closed by peer" : conn_error(c, errno));
        return;
    }
}

/* ------------------------------------------------------------------ listener */

/* Listens on *port (0: an ephemeral one, then written back) into *fdp. */
static int open_listener_on(oocsi_hub *h, int *port, int *fdp, int quiet)
{
    struct addrinfo hints, *res = NULL;
    char portstr[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(portstr, sizeof portstr, "%d", *port);
    int rc = getaddrinfo(h->bind_address, portstr, &hints, &res);
    if (rc) {
        hub_log("cannot resolve %s: %s", h->bind_address, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 512) == 0 && set_nonblock_cloexec(fd) == 0) {
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (!quiet) {
            hub_log("cannot listen on %s:%d: %s", h->bind_address, *port, strerror(err));
        }
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int bound = *port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    if (bound != *port) {
        *port = bound; /* only at the first start (port 0): oocsi_hub_port() reads it without the lock */
    }
    *fdp = fd;
    return 0;
}

static void close_listeners(oocsi_hub *h)
{
    if (h->listen_fd >= 0) {
        close(h->listen_fd);
        h->listen_fd = -1;
    }
    if (h->tls_fd >= 0) {
        close(h->tls_fd);
        h->tls_fd = -1;
    }
}

/* Opens the TCP and TLS listeners that are not open. 0 or -1 (then none is). */
static int open_listener(oocsi_hub *h, int quiet)
{
    if (h->listen_fd < 0 && open_listener_on(h, &h->port, &h->listen_fd, quiet) < 0) {
        close_listeners(h);
        return -1;
    }
    if (h->tls_port >= 0 && h->tls_fd < 0 && open_listener_on(h, &h->tls_port, &h->tls_fd, quiet) < 0) {
        close_listeners(h);
        return -1;
    }
    return 0;
}

static void accept_clients(oocsi_hub *h, int lfd, int tls)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept(lfd, (struct sockaddr *)&ss, &sl);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                hub_log("accept: %s (pausing for 100 ms)", strerror(errno));
                h->accept_pause_until = mono_ms() + 100;
            }
            return;
        }
        if (set_nonblock_cloexec(fd) < 0) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        client *c = xmalloc(sizeof *c);
        memset(c, 0, sizeof *c);
#ifdef HUB_HAVE_TLS
        if (tls) {
            c->tls = hub_tls_conn_new(h->tls, fd);
            if (!c->tls) {
                hub_log("cannot set up a TLS connection");
                free(c);
                close(fd);
                continue;
            }
        }
#else
        (void)tls;
#endif
        c->fd = fd;
        c->state = CS_HELLO;
        c->type = CT_JSON;
        c->last_active = mono_ms();
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
        pv_push(&h->all, c);
        if (h->opt.verbose) {
            hub_log("%sconnection from %s", tls ? "TLS " : "", c->peer);
        }
    }
}

/* ------------------------------------------------------------------ timers */

static void stale_check(oocsi_hub *h, int64_t now)
{
    for (size_t i = 0; i < h->all.n; i++) {
        client *c = h->all.v[i];
        if (client_gone(c)) {
            continue;
        }
        if (c->state >= CS_CLOSING) {
            if (now >= c->close_deadline) {
                c->doomed = 1;
            }
            continue;
        }
        if (now - c->last_active > h->opt.stale_timeout_ms) {
            if (h->opt.verbose) {
                hub_log("%s (%s) timed out", c->handle ? c->handle : "-", c->peer);
            }
            client_close_with(h, c, "bye");
        }
    }
}

static void ping_tick(oocsi_hub *h, int64_t now)
{
    for (size_t i = 0; i < h->all.n; i++) {
        client *c = h->all.v[i];
        if (c->state == CS_ACTIVE && !client_gone(c) && now - c->last_active > h->opt.ping_interval_ms) {
            send_text(h, c, "ping");
        }
    }
    /* presence refresh */
    for (pres *p = h->pres; p; p = p->hh.next) {
        presence_emit(h, p->name, "refresh", NULL);
    }
}

static void meta_publish(oocsi_hub *h, chan *ch, const sbuf *body)
{
    hmsg m = {body->p, body->len, "SERVER", ch->name, real_ms(), {0}, {0}};
    for (size_t i = 0; i < ch->subs.n; i++) {
        deliver(h, ch->subs.v[i], &m);
    }
    hmsg_done(&m);
}

static chan *meta_chan(oocsi_hub *h, const char *name)
{
    chan *ch = chan_get(h, name);
    return (ch && ch->kind == CH_CHANNEL && !ch->token && ch->subs.n) ? ch : NULL;
}

/* Every second: meta channels (§9) and retained message expiry. */
static void second_tick(oocsi_hub *h, int64_t now)
{
    chan *ch;
    if ((ch = meta_chan(h, "OOCSI_clients"))) {
        sbuf list = {0}, body = {0};
        list_clients(h, &list);
        sb_puts(&body, "\"clients\":");
        sb_json_str(&body, list.p ? list.p : "", list.len);
        meta_publish(h, ch, &body);
        sb_free(&list);
        sb_free(&body);
    }
    if ((ch = meta_chan(h, "OOCSI_channels"))) {
        sbuf list = {0}, body = {0};
        list_channels(h, &list);
        sb_puts(&body, "\"channels\":");
        sb_json_str(&body, list.p ? list.p : "", list.len);
        meta_publish(h, ch, &body);
        sb_free(&list);
        sb_free(&body);
    }
    if ((ch = meta_chan(h, "OOCSI_metrics"))) {
        char tmp[256];
        snprintf(tmp, sizeof tmp,
                 "\"uptime\":%lld,\"messagesTotal\":%llu,\"messages\":%llu,\"channels\":%zu,\"clients\":%d",
                 (long long)(now - h->start_mono), h->messages_total, h->messages_tick, (size_t)HASH_COUNT(h->chans),
                 h->nreg);
        sbuf body = {0};
        sb_puts(&body, tmp);
        meta_publish(h, ch, &body);
        sb_free(&body);
    }
    h->messages_tick = 0;
    for (ch = h->chan_head; ch; ch = ch->next) {
        size_t n = strlen(ch->name);
        if (ch->kind != CH_CHANNEL || ch->token || !ch->subs.n || n < 3 || !ends_with(ch->name, "/?")) {
            continue;
        }
        char *base = xstrndup(ch->name, n - 2);
        chan *target = chan_get(h, base);
        free(base);
        if (!target || target->token) {
            continue;
        }
        sbuf list = {0}, body = {0};
        list_subscribers(target, &list, ", ");
        sb_puts(&body, "\"channels\":");
        sb_json_str(&body, list.p ? list.p : "", list.len);
        meta_publish(h, ch, &body);
        sb_free(&list);
        sb_free(&body);
    }
    for (ch = h->chan_head; ch;) {
        chan *next = ch->next;
        if (ch->ret && ch->ret->expiry <= now) {
            chan_maybe_destroy(h, ch, now);
        }
        ch = next;
    }
}

static void run_timers(oocsi_hub *h, int64_t now)
{
    if (now >= h->next_stale) {
        stale_check(h, now);
        h->next_stale = now + h->stale_iv;
    }
    if (now >= h->next_ping) {
        ping_tick(h, now);
        h->next_ping += h->opt.ping_interval_ms;
        if (h->next_ping <= now) {
            h->next_ping = now + h->opt.ping_interval_ms;
        }
    }
    if (now >= h->next_sec) {
        second_tick(h, now);
        h->next_sec += 1000;
        if (h->next_sec <= now) {
            h->next_sec = now + 1000;
        }
    }
    delayed_release(h, now);
}

static int next_timeout(const oocsi_hub *h, int64_t now)
{
    int64_t next = h->next_stale;
    if (h->next_ping < next) {
        next = h->next_ping;
    }
    if (h->next_sec < next) {
        next = h->next_sec;
    }
    for (size_t i = 0; i < h->delayed_q.n; i++) {
        const delayed *d = h->delayed_q.v[i];
        if (d->due < next) {
            next = d->due;
        }
    }
    if (h->accept_pause_until > now && h->accept_pause_until < next) {
        next = h->accept_pause_until;
    }
    int64_t t = next - now;
    return t < 0 ? 0 : t > 1000 ? 1000 : (int)t;
}

/* ------------------------------------------------------------------ the loop */

/* Frees every client, channel, presence record and delayed message, without
 * events (stop and teardown). */
static void forget_everything(oocsi_hub *h)
{
    HASH_CLEAR(hh, h->chans); /* the table first: it lives in the items */
    for (chan *ch = h->chan_head; ch;) {
        chan *next = ch->next;
        chan_free_raw(ch);
        ch = next;
    }
    h->chan_head = h->chan_tail = NULL;
    pres *p, *ptmp;
    HASH_ITER(hh, h->pres, p, ptmp)
    {
        HASH_DEL(h->pres, p);
        pv_free(&p->subs);
        free(p->name);
        free(p);
    }
    for (size_t i = 0; i < h->delayed_q.n; i++) {
        delayed_free(h->delayed_q.v[i]);
    }
    pv_free(&h->delayed_q);
    for (size_t i = 0; i < h->all.n; i++) {
        client_free(h->all.v[i]);
    }
    pv_free(&h->all);
    pv_free(&h->dirty);
    h->nreg = 0;
}

/* Starts the WebSocket endpoints if configured and not running. 0 or -1. */
static int ws_start(oocsi_hub *h)
{
#ifdef HUB_HAVE_WS
    if (h->ws || (h->ws_port < 0 && h->wss_port < 0)) {
        return 0;
    }
    hub_ws_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bind_address = h->bind_address;
    cfg.ws_port = h->ws_port;
    cfg.wss_port = h->wss_port;
    cfg.cert_file = h->opt.cert_file;
    cfg.key_file = h->opt.key_file;
    cfg.www_dir = h->opt.www_dir;
    cfg.max_frame = h->opt.max_line;
    cfg.verbose = h->opt.verbose;
    h->ws = hub_ws_start(h, &cfg);
    if (!h->ws) {
        return -1;
    }
    if (h->ws_port != cfg.ws_port) { /* the bound ports, only at the first start (port 0) */
        h->ws_port = cfg.ws_port;
    }
    if (h->wss_port != cfg.wss_port) {
        h->wss_port = cfg.wss_port;
    }
    return 0;
#else
    (void)h;
    return 0;
#endif
}

/* Stops the WebSocket endpoints (closing every WebSocket client). The hub
 * mutex is held on entry and exit but released meanwhile. */
static void ws_stop_unlocked(oocsi_hub *h)
{
#ifdef HUB_HAVE_WS
    hub_ws *w = h->ws;
    if (!w) {
        return;
    }
    h->ws = NULL;
    pthread_mutex_unlock(&h->mu);
    hub_ws_stop(w);
    pthread_mutex_lock(&h->mu);
#else
    (void)h;
#endif
}

static void do_stop(oocsi_hub *h)
{
    close_listeners(h);
    forget_everything(h);
    if (h->opt.verbose) {
        hub_log("stopped");
    }
    pthread_cond_broadcast(&h->cond);
}

static void flush_dirty(oocsi_hub *h)
{
    for (size_t i = 0; i < h->dirty.n; i++) {
        client *c = h->dirty.v[i];
        c->dirty = 0;
        if (!client_gone(c)) {
            client_flush(h, c);
        }
    }
    h->dirty.n = 0;
}

/* Unregisters clients marked for killing, closes and frees doomed ones. */
static void reap(oocsi_hub *h)
{
    for (size_t i = 0; i < h->all.n; i++) {
        client *c = h->all.v[i];
        if (c->kill && !c->doomed) {
            client_doom(h, c, NULL);
        }
    }
    size_t i = 0;
    while (i < h->all.n) {
        client *c = h->all.v[i];
        if (!c->doomed) {
            i++;
            continue;
        }
        if (c->ws) { /* closed and freed by the service thread (hub_ws_detach) */
            if (!c->ws_closing) {
                c->ws_closing = 1;
                ws_wake(h);
            }
            i++;
            continue;
        }
        if (c->dirty) {
            pv_remove(&h->dirty, c);
        }
        h->all.v[i] = h->all.v[--h->all.n];
        client_free(c);
    }
}

static void *hub_thread(void *arg)
{
    oocsi_hub *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->quit) {
        unsigned long seq = h->req_seq;
        if (h->stop_req) {
            h->stop_req = 0;
            ws_stop_unlocked(h);
            do_stop(h);
        }
        if (h->restart_req) {
            h->restart_req = 0;
            h->restart_result = open_listener(h, 0);
            if (h->restart_result == 0 && ws_start(h) < 0) {
                h->restart_result = -1;
            }
        }
        int64_t now = mono_ms();
        run_timers(h, now);
        reap(h);
        flush_dirty(h);
        reap(h);
        if (h->done_seq != seq) {
            h->done_seq = seq;
            pthread_cond_broadcast(&h->cond);
        }

        size_t need = h->all.n + 3;
        if (need > h->poll_cap) {
            h->poll_cap = need * 2;
            h->pfds = xrealloc(h->pfds, h->poll_cap * sizeof *h->pfds);
            h->polled = xrealloc(h->polled, h->poll_cap * sizeof *h->polled);
        }
        size_t nf = 0;
        h->pfds[nf].fd = h->wake_rd;
        h->pfds[nf].events = POLLIN;
        h->polled[nf++] = NULL;
        int listen_idx = -1;
        if (h->listen_fd >= 0 && now >= h->accept_pause_until) {
            listen_idx = (int)nf;
            h->pfds[nf].fd = h->listen_fd;
            h->pfds[nf].events = POLLIN;
            h->polled[nf++] = NULL;
        }
        int tls_idx = -1;
        if (h->tls_fd >= 0 && now >= h->accept_pause_until) {
            tls_idx = (int)nf;
            h->pfds[nf].fd = h->tls_fd;
            h->pfds[nf].events = POLLIN;
            h->polled[nf++] = NULL;
        }
        int buffered = 0; /* TLS input already decrypted: do not block */
        for (size_t i = 0; i < h->all.n; i++) {
            client *c = h->all.v[i];
            if (c->stalled || c->fd < 0) {
                continue; /* WebSocket clients (fd -1) are served by the service thread */
            }
            h->pfds[nf].fd = c->fd;
            h->pfds[nf].events = (short)(POLLIN | (out_pending(c) ? POLLOUT : 0));
#ifdef HUB_HAVE_TLS
            if (c->tls && c->state < CS_LINGER) {
                h->pfds[nf].events = hub_tls_events(c->tls, out_pending(c) != 0);
                buffered |= hub_tls_pending(c->tls);
            }
#endif
            h->polled[nf++] = c;
        }
        int timeout = next_timeout(h, now);
        if (h->dirty.n || buffered) {
            timeout = 0;
        }

        pthread_mutex_unlock(&h->mu);
        int n = poll(h->pfds, (nfds_t)nf, timeout);
        int perr = errno;
        pthread_mutex_lock(&h->mu);

        if (n < 0) {
            if (perr != EINTR) {
                hub_log("poll: %s", strerror(perr));
            }
            continue;
        }
        if (h->pfds[0].revents) {
            char buf[256];
            while (read(h->wake_rd, buf, sizeof buf) > 0) {
            }
        }
        if (h->stop_req) {
            continue; /* the descriptors polled may be gone: do nothing with them */
        }
        if (listen_idx >= 0 && h->pfds[listen_idx].revents && h->listen_fd == h->pfds[listen_idx].fd) {
            accept_clients(h, h->listen_fd, 0);
        }
        if (tls_idx >= 0 && h->pfds[tls_idx].revents && h->tls_fd == h->pfds[tls_idx].fd) {
            accept_clients(h, h->tls_fd, 1);
        }
        for (size_t i = 0; i < nf; i++) {
            client *c = h->polled[i];
            short re = h->pfds[i].revents;
            if (!c || client_gone(c) || c->stalled) {
                continue;
            }
#ifdef HUB_HAVE_TLS
            if (c->tls) { /* OpenSSL may need either direction for either operation */
                if (!re && !(c->state < CS_LINGER && hub_tls_pending(c->tls))) {
                    continue;
                }
                if (out_pending(c)) {
                    client_flush(h, c);
                }
                if (!client_gone(c)) {
                    client_read(h, c);
                }
                continue;
            }
#endif
            if (!re) {
                continue;
            }
            if (re & POLLOUT) {
                client_flush(h, c);
            }
            if (re & (POLLIN | POLLHUP | POLLERR)) {
                client_read(h, c);
            }
        }
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ------------------------------------------------------------------ WebSocket clients (§19) */

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
    c->last_active = mono_ms();
    snprintf(c->peer, sizeof c->peer, "ws:%s", peer ? peer : "?");
    pv_push(&h->all, c);
    if (h->opt.verbose) {
        hub_log("WebSocket connection from %s", c->peer);
    }
    return c;
}

/* The first frame: the bare handle (§19). Invalid handles are replaced,
 * not rejected; a taken one gets an error frame and the connection closes. */
static void ws_hello(oocsi_hub *h, client *c, const char *text, size_t len)
{
    static const char fallback[] = "webclient_####";
    int bad = len > HELLO_MAX;
    for (size_t i = 0; i < len && !bad; i++) {
        unsigned char ch = (unsigned char)text[i];
        /* whitespace, control, non-ASCII; ':' too: no password handles here */
        bad = ch <= 0x20 || ch >= 0x7F || ch == ':';
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
    if (chan_get(h, handle)) {
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

/* sendjson <recipient> <json-object>, subscribe <ch>, unsubscribe <ch>;
 * anything else only counts as activity (a pong). */
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
        if (!plen || *pl != '{') {
            return; /* not a JSON object */
        }
        sbuf body = {0};
        pkeys k;
        if (payload_normalise(pl, plen, &body, &k)) {
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
    c->last_active = mono_ms();
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
    client_free(c);
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
    if (c->out_len > c->out_off) {
        return HUB_WS_WRITE;
    }
    return c->state >= CS_CLOSING ? HUB_WS_CLOSE : 0;
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

int hub_ws_next_frame(oocsi_hub *h, struct client *c, size_t pre, unsigned char **buf, size_t *len)
{
    (void)h;
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
    size_t n;
    memcpy(&n, c->out + c->out_off, sizeof n);
    unsigned char *b = xmalloc(pre + n + 1);
    memcpy(b + pre, c->out + c->out_off + sizeof n, n);
    c->out_off += sizeof n + n;
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->out_cap > (1u << 20)) {
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
    }
    *buf = b;
    *len = n;
    return 1;
}

#endif

/* ------------------------------------------------------------------ public API */

void oocsi_hub_options_init(oocsi_hub_options *o)
{
    if (!o) {
        return;
    }
    memset(o, 0, sizeof *o);
    o->bind_address = "127.0.0.1";
    o->port = 0;
    o->ping_interval_ms = 5000;
    o->stale_timeout_ms = 120000;
    o->users = NULL;
    o->max_clients = 0;
    o->max_line = (size_t)16 * 1024 * 1024;
    o->reference_drop_queue = 0;
    o->verbose = 0;
    o->tls_port = -1;
    o->ws_port = -1;
    o->wss_port = -1;
    o->cert_file = NULL;
    o->key_file = NULL;
    o->www_dir = NULL;
}

static void hub_destroy(oocsi_hub *h)
{
#ifdef HUB_HAVE_WS
    hub_ws *w = h->ws; /* first: its connections are clients */
    h->ws = NULL;
    hub_ws_stop(w);
#endif
    forget_everything(h);
    close_listeners(h);
#ifdef HUB_HAVE_TLS
    hub_tls_ctx_free(h->tls);
#endif
    if (h->wake_rd >= 0) {
        close(h->wake_rd);
    }
    if (h->wake_wr >= 0) {
        close(h->wake_wr);
    }
    for (size_t i = 0; i < h->nusers; i++) {
        free(h->users[i].name);
        free(h->users[i].pw);
    }
    free(h->users);
    free(h->bind_address);
    free((char *)h->opt.cert_file);
    free((char *)h->opt.key_file);
    free((char *)h->opt.www_dir);
    free(h->pfds);
    free(h->polled);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

oocsi_hub *oocsi_hub_start(const oocsi_hub_options *opts)
{
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    if (opts) {
        o = *opts;
    }
    if (o.port < 0 || o.port > 65535) {
        hub_log("invalid port %d", o.port);
        return NULL;
    }
    if (o.tls_port > 65535 || o.ws_port > 65535 || o.wss_port > 65535) {
        hub_log("invalid port");
        return NULL;
    }
#ifndef HUB_HAVE_TLS
    if (o.tls_port >= 0) {
        hub_log("TLS endpoint requested, but this hub was built without TLS (OOCSI_WITH_TLS=OFF)");
        return NULL;
    }
#endif
#ifndef HUB_HAVE_WS
    if (o.ws_port >= 0 || o.wss_port >= 0) {
        hub_log("WebSocket endpoint requested, but this hub was built without libwebsockets "
                "(OOCSI_WITH_WEBSOCKETS=OFF)");
        return NULL;
    }
#endif
    if ((o.tls_port >= 0 || o.wss_port >= 0) && (!o.cert_file || !o.key_file)) {
        hub_log("the TLS and WSS endpoints need a certificate file and a key file");
        return NULL;
    }
    if (!o.bind_address || !*o.bind_address) {
        o.bind_address = "127.0.0.1";
    }
    if (o.ping_interval_ms <= 0) {
        o.ping_interval_ms = 5000;
    }
    if (o.stale_timeout_ms <= 0) {
        o.stale_timeout_ms = 120000;
    }
    if (o.max_line == 0) {
        o.max_line = (size_t)16 * 1024 * 1024;
    }
    if (o.max_line > ((size_t)1 << 30)) {
        o.max_line = (size_t)1 << 30;
    }

    oocsi_hub *h = xmalloc(sizeof *h);
    memset(h, 0, sizeof *h);
    h->opt = o;
    h->bind_address = xstrdup(o.bind_address);
    h->opt.bind_address = h->bind_address;
    h->opt.users = NULL; /* not kept: parsed below */
    h->opt.cert_file = o.cert_file ? xstrdup(o.cert_file) : NULL;
    h->opt.key_file = o.key_file ? xstrdup(o.key_file) : NULL;
    h->opt.www_dir = o.www_dir ? xstrdup(o.www_dir) : NULL;
    h->listen_fd = h->wake_rd = h->wake_wr = h->tls_fd = -1;
    h->port = o.port;
    h->tls_port = o.tls_port < 0 ? -1 : o.tls_port;
    h->ws_port = o.ws_port < 0 ? -1 : o.ws_port;
    h->wss_port = o.wss_port < 0 ? -1 : o.wss_port;
    h->out_cap = OUT_CAP_MIN;
    if (o.max_line <= SIZE_MAX / 4 && o.max_line * 4 > h->out_cap) {
        h->out_cap = o.max_line * 4;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);

    users_parse(h, o.users);
    h->rng = (uint64_t)real_ms() ^ ((uint64_t)(uintptr_t)h << 16) ^ ((uint64_t)getpid() << 40) ^ 0x9E3779B97F4A7C15ULL;
    if (!h->rng) {
        h->rng = 1;
    }

    int p[2];
    if (pipe(p) < 0) {
        hub_log("pipe: %s", strerror(errno));
        hub_destroy(h);
        return NULL;
    }
    h->wake_rd = p[0];
    h->wake_wr = p[1];
#ifdef HUB_HAVE_TLS
    if (h->tls_port >= 0 && !(h->tls = hub_tls_ctx_new(o.cert_file, o.key_file))) {
        hub_destroy(h);
        return NULL;
    }
#endif
    if (set_nonblock_cloexec(p[0]) < 0 || set_nonblock_cloexec(p[1]) < 0 || open_listener(h, 0) < 0 ||
        ws_start(h) < 0) {
        hub_destroy(h);
        return NULL;
    }
    h->start_mono = mono_ms();
    h->next_ping = h->start_mono + h->opt.ping_interval_ms;
    h->next_sec = h->start_mono + 1000;
    h->stale_iv = h->opt.stale_timeout_ms / 4;
    if (h->stale_iv > 1000) {
        h->stale_iv = 1000;
    }
    if (h->stale_iv < 10) {
        h->stale_iv = 10;
    }
    h->next_stale = h->start_mono + h->stale_iv;

    /* the hub thread takes no asynchronous signals: they go to the application's threads */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGTRAP);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&h->thread, NULL, hub_thread, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        hub_log("cannot start the hub thread: %s", strerror(rc));
        hub_destroy(h);
        return NULL;
    }
    h->thread_started = 1;
    if (h->opt.verbose) {
        hub_log("listening on %s:%d (tls %d, ws %d, wss %d)", h->bind_address, h->port, h->tls_port, h->ws_port,
                h->wss_port);
    }
    return h;
}

void oocsi_hub_free(oocsi_hub *h)
{
    if (!h) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->quit = 1;
    hub_wake(h);
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    if (h->thread_started) {
        pthread_join(h->thread, NULL);
    }
    hub_destroy(h);
}

int oocsi_hub_port(const oocsi_hub *h)
{
    return h ? h->port : -1;
}

/* The ports are final once oocsi_hub_start() returns (restart reuses them). */
int oocsi_hub_tls_port(const oocsi_hub *h)
{
    return h ? h->tls_port : -1;
}

int oocsi_hub_ws_port(const oocsi_hub *h)
{
    return h ? h->ws_port : -1;
}

int oocsi_hub_wss_port(const oocsi_hub *h)
{
    return h ? h->wss_port : -1;
}

/* Waits (mutex held) until the loop has completed a pass that began after
 * this call: pending stop/restart requests are done and doomed clients are
 * closed. */
static void barrier(oocsi_hub *h)
{
    unsigned long seq = ++h->req_seq;
    hub_wake(h);
    while (h->done_seq < seq && !h->quit) {
        pthread_cond_wait(&h->cond, &h->mu);
    }
}

int oocsi_hub_stop(oocsi_hub *h)
{
    if (!h) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    h->stop_req = 1;
    barrier(h);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int oocsi_hub_restart(oocsi_hub *h)
{
    if (!h) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    h->restart_req = 1;
    h->restart_result = -1;
    barrier(h);
    int r = h->restart_result;
    pthread_mutex_unlock(&h->mu);
    return r;
}

int oocsi_hub_drop_client(oocsi_hub *h, const char *handle)
{
    if (!h || !handle) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    client *c = find_client(h, handle);
    if (!c) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    client_doom(h, c, "dropped by oocsi_hub_drop_client");
    barrier(h);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int oocsi_hub_stall_client(oocsi_hub *h, const char *handle, int stall)
{
    if (!h || !handle) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    client *c = find_client(h, handle);
    if (c) {
        c->stalled = stall ? 1 : 0;
        if (!stall) {
            mark_dirty(h, c);
        }
        hub_wake(h);
        if (c->ws) {
            ws_wake(h);
        }
    }
    pthread_mutex_unlock(&h->mu);
    return c ? 0 : -1;
}

int oocsi_hub_send_raw(oocsi_hub *h, const char *handle, const char *bytes, size_t len)
{
    if (!h || !handle || (!bytes && len)) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    client *c = find_client(h, handle);
    if (c && c->ws) {
        ws_put_frame(h, c, bytes, len); /* one text frame */
    } else if (c && len && out_room(h, c, len)) {
        out_put(c, bytes, len);
        mark_dirty(h, c);
    }
    hub_wake(h);
    pthread_mutex_unlock(&h->mu);
    return c ? 0 : -1;
}

/* Waits (mutex held) until pred(h, a, b) or the timeout; returns pred. */
static int wait_for(oocsi_hub *h, int (*pred)(const oocsi_hub *, const char *, const char *), const char *a,
                    const char *b, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    int r;
    while (!(r = pred(h, a, b)) && !h->quit) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&h->cond, &h->mu);
        } else if (pthread_cond_timedwait(&h->cond, &h->mu, &dl) == ETIMEDOUT) {
            r = pred(h, a, b);
            break;
        }
    }
    return r;
}

static int pred_client(const oocsi_hub *h, const char *handle, const char *unused)
{
    (void)unused;
    return find_client(h, handle) != NULL;
}

static int pred_gone(const oocsi_hub *h, const char *handle, const char *unused)
{
    (void)unused;
    return find_client(h, handle) == NULL;
}

static int pred_subscribed(const oocsi_hub *h, const char *handle, const char *channel)
{
    const client *c = find_client(h, handle);
    char x[256];
    if (!c) {
        return 0;
    }
    if (!strcmp(handle, channel)) {
        return 1; /* subscribing to one's own handle is an accepted no-op */
    }
    if (!presence_target(channel, x, sizeof x)) {
        for (size_t i = 0; i < c->psubs.n; i++) {
            if (!strcmp(((const pres *)c->psubs.v[i])->name, x)) {
                return 1;
            }
        }
        return 0;
    }
    for (size_t i = 0; i < c->subs.n; i++) {
        const chan *ch = c->subs.v[i];
        if (!strcmp(ch->token ? ch->token : ch->name, channel)) {
            return 1;
        }
    }
    return 0;
}

int oocsi_hub_wait_client(oocsi_hub *h, const char *handle, int timeout_ms)
{
    if (!h || !handle) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int r = wait_for(h, pred_client, handle, NULL, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return r;
}

int oocsi_hub_wait_client_gone(oocsi_hub *h, const char *handle, int timeout_ms)
{
    if (!h || !handle) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int r = wait_for(h, pred_gone, handle, NULL, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return r;
}

int oocsi_hub_wait_subscribed(oocsi_hub *h, const char *handle, const char *channel, int timeout_ms)
{
    if (!h || !handle || !channel) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int r = wait_for(h, pred_subscribed, handle, channel, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return r;
}

int oocsi_hub_client_count(oocsi_hub *h)
{
    if (!h) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int n = h->nreg;
    pthread_mutex_unlock(&h->mu);
    return n;
}

unsigned long long oocsi_hub_delivered(oocsi_hub *h)
{
    if (!h) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    unsigned long long n = h->delivered;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* ------------------------------------------------------------------ fuzzing hook */

#ifdef HUB_FUZZING

#define FUZZ_SLOTS 3
#define FUZZ_TICK_MS 6000 /* one timer tick: past the ping interval and the 1-s tick */

/* A new connection in the in-memory hub: a TCP client whose socket is
 * /dev/null (never written: its output is discarded by fuzz_drain), or a
 * WebSocket client as hub_ws_attach makes it. NULL if /dev/null is missing. */
static client *fuzz_connect(oocsi_hub *h, int ws)
{
    if (ws) {
        return hub_ws_attach(h, NULL, "fuzz");
    }
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    client *c = xmalloc(sizeof *c);
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->state = CS_HELLO;
    c->type = CT_JSON;
    c->last_active = mono_ms();
    snprintf(c->peer, sizeof c->peer, "fuzz:%d", fd);
    pv_push(&h->all, c);
    return c;
}

/* What the poll loop and the WebSocket service thread would do after a
 * line: take all output (discarded), let a closing connection reach EOF,
 * reap, and detach closed WebSocket clients. Forgets freed clients. */
static void fuzz_drain(oocsi_hub *h, client **slot)
{
    for (size_t i = 0; i < h->all.n; i++) {
        client *c = h->all.v[i];
        if (c->ws) {
            unsigned char *b;
            size_t n;
            int r;
            while ((r = hub_ws_next_frame(h, c, 0, &b, &n)) == 1) {
                free(b);
            }
            if (r < 0) {
                c->kill = 1;
            }
            continue;
        }
        c->out_off = c->out_len = 0;
        if (c->state >= CS_CLOSING) {
            c->doomed = 1; /* "bye" written, then the peer closed */
        }
    }
    h->dirty.n = 0;
    for (size_t i = 0; i < h->all.n; i++) {
        ((client *)h->all.v[i])->dirty = 0;
    }
    reap(h);
    for (int k = 0; k < FUZZ_SLOTS; k++) {
        client *c = slot[k];
        if (c && !pv_has(&h->all, c)) {
            c = NULL; /* freed by reap: a new connection next time */
        } else if (c && c->ws && (c->doomed || c->kill)) {
            hub_ws_detach(h, c); /* as the service thread does */
            c = NULL;
        }
        slot[k] = c;
    }
}

int hub_fuzz_lines(const char *data, size_t len)
{
    oocsi_hub *h = xmalloc(sizeof *h);
    memset(h, 0, sizeof *h);
    oocsi_hub_options_init(&h->opt);
    h->opt.max_line = 1024; /* small, so that "line too long" is reachable */
    h->opt.max_clients = 4;
    h->bind_address = xstrdup("127.0.0.1");
    h->opt.bind_address = h->bind_address;
    h->listen_fd = h->wake_rd = h->wake_wr = h->tls_fd = -1;
    h->port = 0;
    h->tls_port = h->ws_port = h->wss_port = -1;
    h->out_cap = OUT_CAP_MIN;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cond, NULL);
    users_parse(h, "alice:secret;bob:pw-1");
    h->rng = 0x9E3779B97F4A7C15ULL; /* deterministic '#' digits */
    h->start_mono = mono_ms();
    h->next_ping = h->start_mono + h->opt.ping_interval_ms;
    h->next_sec = h->start_mono + 1000;
    h->stale_iv = 1000;
    h->next_stale = h->start_mono + h->stale_iv;

    client *slot[FUZZ_SLOTS] = {NULL, NULL, NULL};
    int64_t skew = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p); /* with its LF, if any */
        const char *line = p;
        p += n;

        int k = 0;
        if (n && (line[0] == '\x01' || line[0] == '\x02')) { /* client selector */
            k = line[0];
            line++;
            n--;
        }
        size_t body = n && line[n - 1] == '\n' ? n - 1 : n;
        if (body == 1 && line[0] == '\x05') { /* time passes: timers */
            skew += FUZZ_TICK_MS;
            run_timers(h, mono_ms() + skew);
        } else if (body == 1 && line[0] == '\x07') {
            h->opt.reference_drop_queue = !h->opt.reference_drop_queue;
        } else {
#ifdef HUB_HAVE_WS
            int ws = k == 2;
#else
            int ws = 0;
#endif
            client *c = slot[k] ? slot[k] : (slot[k] = fuzz_connect(h, ws));
            if (!c) {
                break;
            }
            if (body == 1 && line[0] == '\x06') { /* the connection drops */
                client_doom(h, c, "fuzz: EOF");
            } else if (c->ws) { /* one frame: the line without its LF */
                char *text = xstrndup(line, body);
                hub_ws_input(h, c, text, body);
                free(text);
            } else if (n && !client_gone(c) && c->state < CS_CLOSING) { /* bytes as read from the socket */
                in_reserve(h, c, n);
                memcpy(c->in + c->in_len, line, n);
                c->in_len += n;
                process_lines(h, c);
            }
        }
        fuzz_drain(h, slot);
    }
    hub_destroy(h);
    return 0;
}

#endif
