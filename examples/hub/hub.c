/*
 * The hub's public API (hub.h): options, start, the ports, free.
 */
#include "hub_rooms.h"

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
    o->allow_origins = NULL;
}

void hub_destroy(oocsi_hub *h)
{
#ifdef HUB_HAVE_WS
    hub_ws *w = h->ws; /* first: its connections are clients */
    h->ws = NULL;
    hub_ws_go_away(w, HUB_WS_GOING_AWAY_MS); /* browsers see 1001, not 1006 */
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
    free(h->auth);
    free(h->bind_address);
    free((char *)h->opt.cert_file);
    free((char *)h->opt.key_file);
    free((char *)h->opt.www_dir);
    free((char *)h->opt.allow_origins);
    free(h->pfds);
    free(h->polled);
    free(h->scratch);
    free(h->dot);
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
    limit_options(&o);

    oocsi_hub *h = xmalloc(sizeof *h);
    memset(h, 0, sizeof *h);
    h->opt = o;
    h->bind_address = xstrdup(o.bind_address);
    h->opt.bind_address = h->bind_address;
    h->opt.users = NULL; /* not kept: parsed below */
    h->opt.cert_file = o.cert_file ? xstrdup(o.cert_file) : NULL;
    h->opt.key_file = o.key_file ? xstrdup(o.key_file) : NULL;
    h->opt.www_dir = o.www_dir ? xstrdup(o.www_dir) : NULL;
    h->opt.allow_origins = o.allow_origins ? xstrdup(o.allow_origins) : NULL;
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
