/*
 * The fuzzing hook (HUB_FUZZING builds only): runs bytes as the input of an
 * in-memory hub without sockets or threads.
 */
#include "hub_rooms.h"

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
            void *ref;
            int r;
            while ((r = hub_ws_next_frame(h, c, &b, &n, &ref)) == 1) {
                hub_ws_frame_done(h, ref);
            }
            if (r < 0) {
                c->kill = 1;
            }
            continue;
        }
        out_discard(h, c);
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
