/*
 * Shared helpers of the integration tests (see support.h).
 */
#include "support_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

static int slowdown_factor;

/* Set before main() (no thread reads it half-written). */
__attribute__((constructor)) static void slowdown_init(void)
{
    const char *env = getenv("OOCSI_IT_SLOWDOWN");
    int f = env ? atoi(env) : 0;
#ifdef RUNNING_ON_VALGRIND
    if (f <= 0 && RUNNING_ON_VALGRIND)
        f = 6;
#endif
    slowdown_factor = f > 0 && f <= 100 ? f : 1;
}

int it_slowdown(void)
{
    return slowdown_factor ? slowdown_factor : 1;
}
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
    if (it_server_is_java())
        return it__java_group_setup();
    return it_hub_start(NULL);
}

int it_group_teardown(void **state)
{
    (void)state;
    if (it_server_is_java())
        it_java_stop();
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

int it_silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
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

typedef struct tracked {
    int type;
    void *p;
    int bg;     /* clients: background loop running */
    int pumped; /* clients: driven by it_wait_until */
} tracked;

static tracked *g_tracked;
static size_t g_ntracked, g_captracked;

static tracked *track_entry(int type, void *p)
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

void it__track(int type, void *p)
{
    track_entry(type, p);
}

static tracked *find_tracked(const void *p)
{
    for (size_t i = 0; i < g_ntracked; i++)
        if (g_tracked[i].p == p)
            return &g_tracked[i];
    return NULL;
}

void it__untrack(const void *p)
{
    for (size_t i = 0; i < g_ntracked; i++) {
        if (g_tracked[i].p == p) {
            memmove(&g_tracked[i], &g_tracked[i + 1], (g_ntracked - i - 1) * sizeof *g_tracked);
            g_ntracked--;
            return;
        }
    }
}

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
            it__raw_free(g_tracked[i].p);
            break;
        case T_INBOX:
            it__inbox_free(g_tracked[i].p);
            break;
        case T_STATES:
            it__states_free(g_tracked[i].p);
            break;
        case T_LOG:
            it__log_free(g_tracked[i].p);
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
    it__track(T_CLIENT, c);
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
    it__untrack(c);
    oocsi_close(c);
}

/* Drives the caller-driven clients for about slice ms; 0 if there are none
 * (or none could be driven). */
int it__pump(int slice)
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
        if (!it__pump(slice))
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
    if (h == NULL && it_server_is_java())
        return it__java_wait_listed(handle, channel, 1, timeout_ms);
    hub_wait w = {h, handle, channel};
    return it_wait_until(hub_has_subscription, &w, timeout_ms);
}

int it_wait_hub_client(oocsi_hub *h, const char *handle, int timeout_ms)
{
    if (h == NULL && it_server_is_java())
        return it__java_wait_listed(handle, NULL, 1, timeout_ms);
    hub_wait w = {h, handle, NULL};
    return it_wait_until(hub_has_client, &w, timeout_ms);
}
