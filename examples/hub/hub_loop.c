/*
 * The listeners and the poll loop: accepting TCP and TLS connections, the
 * timers (keep-alive pings, presence refresh, stale clients, delayed and
 * scheduled messages, expiring retained ones), reaping closed clients, and the
 * loop thread itself.
 */
#include "hub_rooms.h"

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

void close_listeners(oocsi_hub *h)
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
int open_listener(oocsi_hub *h, int quiet)
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
        if (conn_admit(h, fd, host, tls) < 0) {
            continue; /* closed */
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
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
        conn_count(h, c, host);
        pv_push(&h->all, c);
        if (h->opt.verbose) {
            hub_log("%sconnection from %s", tls ? "TLS " : "", c->peer);
        }
    }
}

/* ------------------------------------------------------------------ timers */

/* When the client was last heard of: a WebSocket client by what it sent
 * alone, so that a stream to a dead browser does not keep it alive; a line
 * client, like the reference server, by any traffic. */
static int64_t heard_at(const client *c)
{
    return c->ws ? c->last_rx : c->last_active;
}

void stale_check(oocsi_hub *h, int64_t now)
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
        if (now - heard_at(c) > h->opt.stale_timeout_ms) {
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
        if (c->state == CS_ACTIVE && !client_gone(c) && now - heard_at(c) > h->opt.ping_interval_ms) {
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
    hmsg m = {.body = body->p, .body_len = body->len, .sender = "SERVER", .recipient = ch->name, .ts = real_ms()};
    for (size_t i = 0; i < ch->subs.n; i++) {
        deliver(h, ch->subs.v[i], &m);
    }
    hmsg_done(h, &m);
}

static chan *meta_chan(oocsi_hub *h, const char *name)
{
    chan *ch = chan_get(h, name);
    return (ch && ch->kind == CH_CHANNEL && !ch->token && ch->subs.n) ? ch : NULL;
}

/* Every second: meta channels (see codecs/README.md) and retained message expiry. */
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
        char tmp[512];
        snprintf(tmp, sizeof tmp,
                 "\"uptime\":%lld,\"messagesTotal\":%llu,\"messages\":%llu,\"channels\":%zu,\"clients\":%d,"
                 "\"memory\":%zu,\"inputBytes\":%zu,\"outputBytes\":%zu,\"subscriptionBytes\":%zu,"
                 "\"retainedBytes\":%zu,\"delayedBytes\":%zu,\"delayedMessages\":%zu",
                 (long long)(now - h->start_mono), h->messages_total, h->messages_tick, (size_t)HASH_COUNT(h->chans),
                 h->nreg, hub_memory(h), h->in_total, h->out_total, h->nsubs * SUB_BYTES, h->retained_bytes,
                 h->delayed_bytes, h->delayed_q.n);
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

void run_timers(oocsi_hub *h, int64_t now)
{
    if (now >= h->next_stale) {
        stale_check(h, now);
        hello_deadlines(h, now);
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
    if (delayed_next_due(h) < next) {
        next = delayed_next_due(h);
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
void forget_everything(oocsi_hub *h)
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
    for (size_t i = 0; i < h->all.n; i++) {
        client_free(h, h->all.v[i]);
    }
    budgets_forget(h); /* after the clients: they give their output back */
    pv_free(&h->all);
    pv_free(&h->dirty);
    h->nreg = 0;
}

/* Starts the WebSocket endpoints if configured and not running. 0 or -1. */
int ws_start(oocsi_hub *h)
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
    cfg.allow_origins = h->opt.allow_origins;
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
void reap(oocsi_hub *h)
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
        conn_release(h, c);
        client_free(h, c);
    }
}

void *hub_thread(void *arg)
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
