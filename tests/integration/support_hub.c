/*
 * Shared helpers of the integration tests (see support.h).
 */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ hub */

oocsi_hub *it_hub;
char it_url[64];

#ifdef OOCSI_IT_HAVE_TLS
#include "support_certs.h"
static it_certs it_cert_set;
static int it_have_certs;

static void it_certs_cleanup(void)
{
    it_certs_free(&it_cert_set);
}

const char *it_ca_file(void)
{
    if (!it_have_certs) {
        if (it_certs_make(&it_cert_set) != 0)
            return NULL;
        it_have_certs = 1;
        atexit(it_certs_cleanup);
    }
    return it_cert_set.ca_file;
}
#else
const char *it_ca_file(void)
{
    return NULL;
}
#endif

const char *it_transport_name(void)
{
    const char *t = getenv("OOCSI_IT_TRANSPORT");
    return (t && *t) ? t : "tcp";
}

int it_transport_is_web(void)
{
    const char *t = it_transport_name();
    return strcmp(t, "ws") == 0 || strcmp(t, "wss") == 0;
}

int it_transport_is_tls(void)
{
    const char *t = it_transport_name();
    return strcmp(t, "tls") == 0 || strcmp(t, "wss") == 0;
}

void it_options_trust(oocsi_options *o)
{
    if (!it_transport_is_tls())
        return;
    const char *ca = it_ca_file();
    assert_non_null(ca);
    assert_int_equal(oocsi_options_set_tls_ca_file(o, ca), OOCSI_OK);
}

int it_hub_port_in_use(const oocsi_hub *h)
{
    const char *t = it_transport_name();
    if (strcmp(t, "tls") == 0)
        return oocsi_hub_tls_port(h);
    if (strcmp(t, "ws") == 0)
        return oocsi_hub_ws_port(h);
    if (strcmp(t, "wss") == 0)
        return oocsi_hub_wss_port(h);
    return oocsi_hub_port(h);
}

void it_url_for_port(char *url, size_t size, int port)
{
    const char *t = it_transport_name();
    snprintf(url, size, "%s://127.0.0.1:%d%s", t, port, it_transport_is_web() ? "/ws" : "");
}

int it_endpoint_has_scheme(const char *ep)
{
    const char *t = it_transport_name();
    size_t n = strlen(t);
    return ep && strncmp(ep, t, n) == 0 && strncmp(ep + n, "://", 3) == 0;
}

int it_stall_bound_ms(int idle_ms, int timeout_ms)
{
    if (!it_transport_is_web())
        return IT_TIMEOUT;
    return ((idle_ms + 999) / 1000 + (timeout_ms + 999) / 1000) * 1000 + 2000;
}

oocsi_hub *it_hub_start_extra(const oocsi_hub_options *o, char *url, size_t url_size)
{
    oocsi_hub_options opts;
    if (o) {
        opts = *o;
    } else {
        oocsi_hub_options_init(&opts);
    }
    opts.port = 0;
    if (!opts.bind_address)
        opts.bind_address = "127.0.0.1";
    const char *t = it_transport_name();
    int tls = strcmp(t, "tls") == 0, ws = strcmp(t, "ws") == 0, wss = strcmp(t, "wss") == 0;
#ifdef OOCSI_IT_HAVE_TLS
    if (tls || wss) {
        if (!it_ca_file())
            return NULL;
        opts.cert_file = it_cert_set.cert_file;
        opts.key_file = it_cert_set.key_file;
    }
#endif
    if (tls)
        opts.tls_port = 0;
    if (ws)
        opts.ws_port = 0;
    if (wss)
        opts.wss_port = 0;
    oocsi_hub *h = oocsi_hub_start(&opts);
    if (!h)
        return NULL;
    if (url)
        it_url_for_port(url, url_size, it_hub_port_in_use(h));
    return h;
}

int it_hub_start(const oocsi_hub_options *o)
{
    it_hub = it_hub_start_extra(o, it_url, sizeof it_url);
    return it_hub ? 0 : -1;
}

void it_hub_free(void)
{
    oocsi_hub_free(it_hub);
    it_hub = NULL;
}

int it_group_setup(void **state)
{
    (void)state;
    return it_hub_start(NULL);
}

int it_group_teardown(void **state)
{
    (void)state;
    it_hub_free();
    return 0;
}

/* --------------------------------------------------------------- basics */

int64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t it_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_unique(char *buf, size_t size, const char *prefix)
{
    static unsigned counter;
    snprintf(buf, size, "%s_%ld_%u", prefix, (long)getpid(), ++counter);
}

int it_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* ----------------------------------------------------- notify and wait */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static unsigned long g_gen;

static void g_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&g_cond, &a);
    pthread_condattr_destroy(&a);
}

void it_notify(void)
{
    pthread_once(&g_once, g_init);
    pthread_mutex_lock(&g_lock);
    g_gen++;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

static unsigned long g_generation(void)
{
    pthread_once(&g_once, g_init);
    pthread_mutex_lock(&g_lock);
    unsigned long gen = g_gen;
    pthread_mutex_unlock(&g_lock);
    return gen;
}

/* Waits up to ms for a notification after generation gen. */
static void g_wait(unsigned long gen, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g_lock);
    while (g_gen == gen) {
        if (pthread_cond_timedwait(&g_cond, &g_lock, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&g_lock);
}

/* ------------------------------------------------------------- tracking */

enum { T_CLIENT, T_RAW, T_INBOX, T_STATES, T_LOG };

typedef struct tracked {
    int type;
    void *p;
    int bg;     /* clients: background loop running */
    int pumped; /* clients: driven by it_wait_until */
} tracked;

static tracked *g_tracked;
static size_t g_ntracked, g_captracked;

static tracked *track(int type, void *p)
{
    if (g_ntracked == g_captracked) {
        size_t cap = g_captracked ? g_captracked * 2 : 32;
        tracked *n = realloc(g_tracked, cap * sizeof *n);
        assert_non_null(n);
        g_tracked = n;
        g_captracked = cap;
    }
    tracked *t = &g_tracked[g_ntracked++];
    t->type = type;
    t->p = p;
    t->bg = 0;
    t->pumped = 1;
    return t;
}

static tracked *find_tracked(const void *p)
{
    for (size_t i = 0; i < g_ntracked; i++)
        if (g_tracked[i].p == p)
            return &g_tracked[i];
    return NULL;
}

static void untrack(const void *p)
{
    for (size_t i = 0; i < g_ntracked; i++) {
        if (g_tracked[i].p == p) {
            memmove(&g_tracked[i], &g_tracked[i + 1], (g_ntracked - i - 1) * sizeof *g_tracked);
            g_ntracked--;
            return;
        }
    }
}

static void inbox_free(it_inbox *in);
static void states_free(it_states *s);
static void log_free(it_log *l);
static void raw_free(it_raw *r);

int it_test_setup(void **state)
{
    (void)state;
    return 0;
}

int it_test_teardown(void **state)
{
    it_proc_free_all(); /* children the test started */
    (void)state;
    /* Clients first: that stops every thread that could still call a recorder. */
    for (size_t i = 0; i < g_ntracked; i++)
        if (g_tracked[i].type == T_CLIENT)
            oocsi_close(g_tracked[i].p);
    for (size_t i = 0; i < g_ntracked; i++) {
        switch (g_tracked[i].type) {
        case T_RAW:
            raw_free(g_tracked[i].p);
            break;
        case T_INBOX:
            inbox_free(g_tracked[i].p);
            break;
        case T_STATES:
            states_free(g_tracked[i].p);
            break;
        case T_LOG:
            log_free(g_tracked[i].p);
            break;
        default:
            break;
        }
    }
    free(g_tracked);
    g_tracked = NULL;
    g_ntracked = g_captracked = 0;
    return 0;
}

/* -------------------------------------------------------------- clients */

oocsi_options *it_options(const char *handle)
{
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    if (handle)
        assert_int_equal(oocsi_options_set_handle(o, handle), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, it_url), OOCSI_OK);
    it_options_trust(o);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    assert_int_equal(oocsi_options_set_connect_timeout(o, IT_TIMEOUT), OOCSI_OK);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 50, 500), OOCSI_OK);
    return o;
}

oocsi_client *it_track(oocsi_client *c)
{
    assert_non_null(c);
    track(T_CLIENT, c);
    return c;
}

oocsi_client *it_connect_opts(oocsi_options *opts)
{
    oocsi_client *c = NULL;
    int rc = oocsi_connect(&c, opts);
    oocsi_options_free(opts);
    if (rc != OOCSI_OK)
        fail_msg("oocsi_connect: %d (%s)", rc, oocsi_strerror(rc));
    return it_track(c);
}

oocsi_client *it_connect(const char *handle)
{
    return it_connect_opts(it_options(handle));
}

oocsi_client *it_connect_bg(const char *handle)
{
    oocsi_client *c = it_connect(handle);
    it_loop_start(c);
    return c;
}

void it_loop_start(oocsi_client *c)
{
    assert_int_equal(oocsi_loop_start(c), OOCSI_OK);
    tracked *t = find_tracked(c);
    if (t)
        t->bg = 1;
}

void it_loop_stop(oocsi_client *c)
{
    assert_int_equal(oocsi_loop_stop(c), OOCSI_OK);
    tracked *t = find_tracked(c);
    if (t)
        t->bg = 0;
}

void it_set_pumped(oocsi_client *c, int pumped)
{
    tracked *t = find_tracked(c);
    if (t)
        t->pumped = pumped;
}

void it_close(oocsi_client *c)
{
    if (!c)
        return;
    untrack(c);
    oocsi_close(c);
}

/* Drives the caller-driven clients for about slice ms; 0 if there are none
 * (or none could be driven). */
static int pump(int slice)
{
    oocsi_client *list[16];
    int n = 0;
    for (size_t i = 0; i < g_ntracked && n < 16; i++)
        if (g_tracked[i].type == T_CLIENT && !g_tracked[i].bg && g_tracked[i].pumped)
            list[n++] = g_tracked[i].p;
    if (n == 0)
        return 0;
    int each = slice / n > 0 ? slice / n : 1;
    int driven = 0;
    for (int i = 0; i < n; i++)
        if (oocsi_loop(list[i], each) == OOCSI_OK)
            driven++;
    return driven;
}

int it_wait_until(it_cond_fn cond, void *ctx, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        unsigned long gen = g_generation();
        if (cond(ctx))
            return 1;
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            return cond(ctx) ? 1 : 0;
        int slice = left < 10 ? (int)left : 10;
        if (!pump(slice))
            g_wait(gen, left < 20 ? (int)left : 20);
    }
}

static int never(void *ctx)
{
    (void)ctx;
    return 0;
}

void it_pump_for(int ms)
{
    (void)it_wait_until(never, NULL, ms);
}

typedef struct hub_wait {
    oocsi_hub *h;
    const char *handle, *channel;
} hub_wait;

static int hub_has_subscription(void *ctx)
{
    hub_wait *w = ctx;
    return oocsi_hub_wait_subscribed(w->h, w->handle, w->channel, 0);
}

static int hub_has_client(void *ctx)
{
    hub_wait *w = ctx;
    return oocsi_hub_wait_client(w->h, w->handle, 0);
}

int it_wait_subscribed(oocsi_hub *h, const char *handle, const char *channel, int timeout_ms)
{
    hub_wait w = {h, handle, channel};
    return it_wait_until(hub_has_subscription, &w, timeout_ms);
}

int it_wait_hub_client(oocsi_hub *h, const char *handle, int timeout_ms)
{
    hub_wait w = {h, handle, NULL};
    return it_wait_until(hub_has_client, &w, timeout_ms);
}

/* --------------------------------------------------------- message inbox */

struct it_inbox {
    pthread_mutex_t lock;
    it_msg **msgs; /* each message allocated once: pointers stay valid */
    int count, cap;
};

it_inbox *it_inbox_new(void)
{
    it_inbox *in = calloc(1, sizeof *in);
    assert_non_null(in);
    pthread_mutex_init(&in->lock, NULL);
    track(T_INBOX, in);
    return in;
}

static void inbox_free(it_inbox *in)
{
    for (int i = 0; i < in->count; i++) {
        free(in->msgs[i]->sender);
        free(in->msgs[i]->recipient);
        free(in->msgs[i]->json);
        cJSON_Delete(in->msgs[i]->data);
        free(in->msgs[i]);
    }
    free(in->msgs);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void it_inbox_handler(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    it_inbox *in = user;
    it_msg *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    m->sender = dup_or_null(oocsi_message_sender(msg));
    m->recipient = dup_or_null(oocsi_message_recipient(msg));
    m->timestamp = oocsi_message_timestamp(msg);
    char *json = oocsi_message_data_json(msg);
    m->json = dup_or_null(json);
    oocsi_free(json);
    m->data = m->json ? cJSON_Parse(m->json) : NULL;
    pthread_mutex_lock(&in->lock);
    if (in->count == in->cap) {
        int cap = in->cap ? in->cap * 2 : 16;
        it_msg **n = realloc(in->msgs, (size_t)cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&in->lock);
            abort();
        }
        in->msgs = n;
        in->cap = cap;
    }
    in->msgs[in->count++] = m;
    pthread_mutex_unlock(&in->lock);
    it_notify();
}

int it_inbox_count(it_inbox *in)
{
    pthread_mutex_lock(&in->lock);
    int n = in->count;
    pthread_mutex_unlock(&in->lock);
    return n;
}

const it_msg *it_inbox_at(it_inbox *in, int i)
{
    pthread_mutex_lock(&in->lock);
    const it_msg *m = (i >= 0 && i < in->count) ? in->msgs[i] : NULL;
    pthread_mutex_unlock(&in->lock);
    assert_non_null(m);
    return m;
}

typedef struct inbox_wait {
    it_inbox *in;
    int count;
    const char *key, *value;
    int found;
} inbox_wait;

static int inbox_has_count(void *ctx)
{
    inbox_wait *w = ctx;
    return it_inbox_count(w->in) >= w->count;
}

int it_inbox_wait(it_inbox *in, int count, int timeout_ms)
{
    inbox_wait w = {in, count, NULL, NULL, -1};
    return it_wait_until(inbox_has_count, &w, timeout_ms);
}

static int inbox_has_str(void *ctx)
{
    inbox_wait *w = ctx;
    pthread_mutex_lock(&w->in->lock);
    for (int i = 0; i < w->in->count; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(w->in->msgs[i]->data, w->key);
        if (cJSON_IsString(v) && strcmp(v->valuestring, w->value) == 0) {
            w->found = i;
            break;
        }
    }
    pthread_mutex_unlock(&w->in->lock);
    return w->found >= 0;
}

int it_inbox_wait_str(it_inbox *in, const char *key, const char *value, int timeout_ms)
{
    inbox_wait w = {in, 0, key, value, -1};
    return it_wait_until(inbox_has_str, &w, timeout_ms) ? w.found : -1;
}

/* ---------------------------------------------------------- state events */

typedef struct state_ev {
    oocsi_state state;
    int err;
    char *endpoint;
} state_ev;

struct it_states {
    pthread_mutex_t lock;
    state_ev ev[256];
    int count;
};

it_states *it_states_new(void)
{
    it_states *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->lock, NULL);
    track(T_STATES, s);
    return s;
}

static void states_free(it_states *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->ev[i].endpoint);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void it_state_handler(oocsi_client *c, oocsi_state state, int err, void *user)
{
    it_states *s = user;
    char *ep = NULL;
    if (state == OOCSI_STATE_CONNECTED)
        ep = dup_or_null(oocsi_endpoint(c));
    pthread_mutex_lock(&s->lock);
    if (s->count < (int)(sizeof s->ev / sizeof s->ev[0])) {
        s->ev[s->count].state = state;
        s->ev[s->count].err = err;
        s->ev[s->count].endpoint = ep;
        s->count++;
        ep = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free(ep);
    it_notify();
}

int it_states_count(it_states *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

oocsi_state it_states_at(it_states *s, int i, int *err)
{
    pthread_mutex_lock(&s->lock);
    int ok = i >= 0 && i < s->count;
    oocsi_state st = ok ? s->ev[i].state : OOCSI_STATE_CLOSED;
    if (err)
        *err = ok ? s->ev[i].err : 0;
    pthread_mutex_unlock(&s->lock);
    assert_true(ok);
    return st;
}

const char *it_states_endpoint(it_states *s, int i)
{
    pthread_mutex_lock(&s->lock);
    const char *ep = (i >= 0 && i < s->count) ? s->ev[i].endpoint : NULL;
    pthread_mutex_unlock(&s->lock);
    return ep;
}

typedef struct states_wait {
    it_states *s;
    int from;
    oocsi_state st;
    int found;
} states_wait;

static int states_has(void *ctx)
{
    states_wait *w = ctx;
    pthread_mutex_lock(&w->s->lock);
    for (int i = w->from; i < w->s->count; i++) {
        if (w->s->ev[i].state == w->st) {
            w->found = i;
            break;
        }
    }
    pthread_mutex_unlock(&w->s->lock);
    return w->found >= 0;
}

int it_states_wait_for(it_states *s, int from, oocsi_state st, int timeout_ms)
{
    states_wait w = {s, from, st, -1};
    return it_wait_until(states_has, &w, timeout_ms) ? w.found : -1;
}

/* ---------------------------------------------------------------- logger */

typedef struct log_line {
    oocsi_log_level level;
    char *text;
} log_line;

struct it_log {
    pthread_mutex_t lock;
    log_line *lines;
    int count, cap;
};

it_log *it_log_new(void)
{
    it_log *l = calloc(1, sizeof *l);
    assert_non_null(l);
    pthread_mutex_init(&l->lock, NULL);
    track(T_LOG, l);
    return l;
}

static void log_free(it_log *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->lines[i].text);
    free(l->lines);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void it_log_fn(oocsi_log_level level, const char *msg, void *user)
{
    it_log *l = user;
    char *copy = strdup(msg ? msg : "(null)");
    pthread_mutex_lock(&l->lock);
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        log_line *n = realloc(l->lines, (size_t)cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&l->lock);
            abort();
        }
        l->lines = n;
        l->cap = cap;
    }
    l->lines[l->count].level = level;
    l->lines[l->count].text = copy;
    l->count++;
    pthread_mutex_unlock(&l->lock);
    it_notify();
}

int it_log_contains(it_log *l, oocsi_log_level min_level, const char *needle)
{
    int found = 0;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->count && !found; i++)
        found = l->lines[i].level >= min_level && l->lines[i].text && strstr(l->lines[i].text, needle);
    pthread_mutex_unlock(&l->lock);
    return found;
}

int it_log_count(it_log *l, oocsi_log_level min_level)
{
    int n = 0;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->count; i++)
        n += l->lines[i].level >= min_level;
    pthread_mutex_unlock(&l->lock);
    return n;
}

/* ---------------------------------------------------------- raw peer */

struct it_raw {
    int fd;
    char *buf;
    size_t len, cap;
};

static int raw_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

it_raw *it_raw_connect(int port, const char *handle)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    it_raw *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return NULL;
    }
    r->fd = fd;
    track(T_RAW, r);
    if (it_raw_send(r, "%s(JSON)", handle) != 0) {
        it_raw_close(r);
        return NULL;
    }
    char *line = it_raw_line(r, IT_TIMEOUT);
    int ok = line && strstr(line, "welcome ") != NULL;
    free(line);
    if (!ok) {
        it_raw_close(r);
        return NULL;
    }
    return r;
}

int it_raw_send(it_raw *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    char *s = malloc((size_t)n + 2);
    if (!s)
        return -1;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s[n] = '\n';
    int rc = raw_write_all(r->fd, s, (size_t)n + 1);
    free(s);
    return rc;
}

char *it_raw_line(it_raw *r, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - r->buf);
            char *line = malloc(n + 1);
            if (!line)
                return NULL;
            memcpy(line, r->buf, n);
            line[n] = '\0';
            memmove(r->buf, nl + 1, r->len - n - 1);
            r->len -= n + 1;
            return line;
        }
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {r->fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return NULL;
        if (r->cap - r->len < 65536) {
            size_t cap = r->cap ? r->cap * 2 : 131072;
            char *nb = realloc(r->buf, cap);
            if (!nb)
                return NULL;
            r->buf = nb;
            r->cap = cap;
        }
        ssize_t got = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return NULL;
        r->len += (size_t)got;
    }
}

cJSON *it_raw_next_json(it_raw *r, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            return NULL;
        char *line = it_raw_line(r, (int)left);
        if (!line)
            return NULL;
        if (strcmp(line, "ping") == 0) {
            free(line);
            if (it_raw_send(r, ".") != 0)
                return NULL;
            continue;
        }
        if (line[0] == '{') {
            cJSON *j = cJSON_Parse(line);
            free(line);
            if (cJSON_IsObject(j))
                return j;
            cJSON_Delete(j);
            continue;
        }
        free(line);
    }
}

int it_raw_subscribe(it_raw *r, const char *channel)
{
    if (it_raw_send(r, "subscribe %s", channel) != 0 || it_raw_send(r, "ping") != 0)
        return -1;
    int64_t deadline = it_now_ms() + IT_TIMEOUT;
    for (;;) {
        int64_t left = deadline - it_now_ms();
        char *line = left > 0 ? it_raw_line(r, (int)left) : NULL;
        if (!line)
            return -1;
        int done = strcmp(line, ".") == 0;
        if (strcmp(line, "ping") == 0)
            it_raw_send(r, ".");
        free(line);
        if (done)
            return 0;
    }
}

static void raw_free(it_raw *r)
{
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r);
}

void it_raw_close(it_raw *r)
{
    if (!r)
        return;
    untrack(r);
    raw_free(r);
}

/* ----------------------------------------------------------- JSON help */

cJSON *it_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j)
        fail_msg("test bug: invalid JSON %s", text);
    return j;
}

int it_json_equal(const cJSON *a, const cJSON *b)
{
    return a && b && cJSON_Compare(a, b, 1);
}

int it_states_settle(it_states *s)
{
    int i = it_states_wait_for(s, 0, OOCSI_STATE_CONNECTED, IT_TIMEOUT);
    if (i != 0)
        fail_msg("the first state event is not CONNECTED (index %d)", i);
    return 1;
}

/* ---------------------------------------------------------- child processes */

/* Where pidfd_open() is missing (e.g. under valgrind, which does not know the
 * system call), a thread blocks in waitpid() and reports the exit through a
 * pipe: still an event, never a polling sleep. A waiter outlives a timeout
 * so a later call (after SIGKILL) picks up the same exit. */
typedef struct child_waiter {
    int pid;
    int fds[2];
    pthread_t thread;
} child_waiter;

static pthread_mutex_t g_child_lock = PTHREAD_MUTEX_INITIALIZER;
static child_waiter *g_child_waiters[16];

static void *child_wait_main(void *arg)
{
    child_waiter *w = arg;
    int st = 0;
    while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR) {
    }
    ssize_t n = write(w->fds[1], &st, sizeof st);
    (void)n;
    return NULL;
}

static child_waiter *child_waiter_for(int pid)
{
    pthread_mutex_lock(&g_child_lock);
    child_waiter *w = NULL;
    int slot = -1;
    for (int i = 0; i < 16; i++) {
        if (g_child_waiters[i] && g_child_waiters[i]->pid == pid)
            w = g_child_waiters[i];
        else if (!g_child_waiters[i] && slot < 0)
            slot = i;
    }
    if (!w && slot >= 0 && (w = calloc(1, sizeof *w)) != NULL) {
        w->pid = pid;
        if (pipe(w->fds) != 0 || pthread_create(&w->thread, NULL, child_wait_main, w) != 0) {
            free(w);
            w = NULL;
        } else {
            g_child_waiters[slot] = w;
        }
    }
    pthread_mutex_unlock(&g_child_lock);
    return w;
}

static void child_waiter_done(child_waiter *w)
{
    pthread_mutex_lock(&g_child_lock);
    for (int i = 0; i < 16; i++)
        if (g_child_waiters[i] == w)
            g_child_waiters[i] = NULL;
    pthread_mutex_unlock(&g_child_lock);
    pthread_join(w->thread, NULL);
    close(w->fds[0]);
    close(w->fds[1]);
    free(w);
}

static int wait_readable(int fd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - it_now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return 1;
        if (r == 0 || errno != EINTR)
            return 0;
    }
}

int it_wait_child(int pid, int timeout_ms, int *status)
{
    int st = 0;
    int64_t deadline = it_now_ms() + timeout_ms;
    int fd = pidfd_open(pid, 0);
    if (fd >= 0) {
        int exited = 0;
        for (;;) {
            if (waitpid(pid, &st, WNOHANG) == pid) {
                exited = 1;
                break;
            }
            if (!wait_readable(fd, deadline) && waitpid(pid, &st, WNOHANG) != pid)
                break;
        }
        close(fd);
        if (exited && status)
            *status = st;
        return exited;
    }
    child_waiter *w = child_waiter_for(pid);
    if (!w || !wait_readable(w->fds[0], deadline))
        return 0;
    if (read(w->fds[0], &st, sizeof st) != (ssize_t)sizeof st)
        st = 0;
    child_waiter_done(w);
    if (status)
        *status = st;
    return 1;
}

int it_stop_child(int pid, int timeout_ms, int *status)
{
    kill(pid, SIGTERM);
    if (it_wait_child(pid, timeout_ms, status))
        return 1;
    kill(pid, SIGKILL);
    (void)it_wait_child(pid, 10000, NULL);
    return 0;
}
