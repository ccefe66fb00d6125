/*
 * Output to clients: queueing lines and WebSocket frames, flushing to sockets
 * (TCP and TLS), the reference server's drop queue when asked for, and building
 * the message line once for all its recipients.
 */
#include "hub_rooms.h"

/* ------------------------------------------------------------------ small helpers */

uint64_t rng_next(oocsi_hub *h)
{
    uint64_t x = h->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->rng = x;
    return x * 2685821657736338717ULL;
}

void hub_wake(oocsi_hub *h)
{
    char b = 1;
    ssize_t r = write(h->wake_wr, &b, 1);
    (void)r; /* a full pipe already means "wake up" */
}

client *find_client(const oocsi_hub *h, const char *handle)
{
    chan *ch = chan_get(h, handle);
    return (ch && ch->kind == CH_CLIENT) ? ch->owner : NULL;
}

/* X of "presence(X)" into x (cap bytes); 0, or -1 if name is not of that form. */
int presence_target(const char *name, char *x, size_t cap)
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

int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ------------------------------------------------------------------ output */

void mark_dirty(oocsi_hub *h, client *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        pv_push(&h->dirty, c);
    }
}

size_t out_pending(const client *c)
{
    return c->oq_bytes;
}

/* ------------------------------------------------------------------ shared lines */

static size_t oline_cost(const oline *l)
{
    return offsetof(oline, data) + l->pre + l->len;
}

/* A line of n bytes from s plus suffix (NULL: none), with pre bytes of
 * headroom, one reference (the caller's); counted in the output total. */
oline *oline_new(oocsi_hub *h, const char *s, size_t n, size_t pre, const char *suffix)
{
    size_t sn = suffix ? strlen(suffix) : 0;
    oline *l = xmalloc(offsetof(oline, data) + pre + n + sn);
    l->next = l->prev = NULL;
    l->tail = NULL;
    l->refs = 1;
    l->len = (uint32_t)(n + sn);
    l->pre = (uint32_t)pre;
    if (n) {
        memcpy(l->data + pre, s, n);
    }
    if (sn) {
        memcpy(l->data + pre + n, suffix, sn);
    }
    h->out_total += oline_cost(l);
    return l;
}

void oline_release(oocsi_hub *h, oline *l)
{
    if (!l || --l->refs) {
        return;
    }
    if (l->tail && *l->tail == l) {
        *l->tail = NULL;
    }
    if (l->prev) { /* no pointer to a freed line stays behind */
        l->prev->next = NULL;
    }
    if (l->next) {
        l->next->prev = NULL;
    }
    h->out_total -= oline_cost(l);
    free(l);
}

/* Makes l the newest line of form in ch: the previous one (if any is left)
 * is chained to it, so that a subscriber holding that one extends its span. */
void oline_chain(oocsi_hub *h, chan *ch, int form, oline *l)
{
    (void)h;
    oline *prev = ch->tail[form];
    if (prev) {
        prev->next = l;
        l->prev = prev;
        prev->tail = NULL;
    }
    ch->tail[form] = l;
    l->tail = &ch->tail[form];
}

/* Before a channel is freed: its newest lines no longer point back at it. */
void chan_lines_forget(chan *ch)
{
    for (int f = 0; f < OL_FORMS; f++) {
        if (ch->tail[f]) {
            ch->tail[f]->tail = NULL;
            ch->tail[f] = NULL;
        }
    }
}

/* ------------------------------------------------------------------ output queues */

static ospan *oq_at(const client *c, uint32_t i)
{
    return &c->oq[(c->oq_head + i) & (c->oq_cap - 1)];
}

/* Gives an allocated ring back (the one inside the client is not counted). */
static void oq_free_ring(oocsi_hub *h, client *c)
{
    if (c->oq && c->oq != &c->oq_one) {
        h->out_total -= (size_t)c->oq_cap * sizeof *c->oq;
        free(c->oq);
    }
    c->oq = NULL;
}

static void oq_grow(oocsi_hub *h, client *c)
{
    if (!c->oq_cap) {
        c->oq = &c->oq_one;
        c->oq_cap = 1;
        c->oq_head = 0;
        return;
    }
    uint32_t cap = c->oq_cap == 1 ? 4 : c->oq_cap * 2;
    ospan *v = xmalloc(cap * sizeof *v);
    for (uint32_t i = 0; i < c->oq_n; i++) {
        v[i] = *oq_at(c, i);
    }
    oq_free_ring(h, c);
    h->out_total += (size_t)cap * sizeof *v;
    c->oq = v;
    c->oq_cap = cap;
    c->oq_head = 0;
}

/* The queue is empty: its ring is given back. */
static void oq_shrink(oocsi_hub *h, client *c)
{
    if (c->oq_n == 0 && c->oq) {
        oq_free_ring(h, c);
        c->oq_cap = c->oq_head = c->oq_hand = 0;
    }
}

/* Takes the oldest waiting line out (reference_drop_queue). */
static void oq_drop_oldest_waiting(oocsi_hub *h, client *c)
{
    ospan *sp = oq_at(c, c->oq_hand);
    oline *l = sp->first;
    c->oq_bytes -= l->len;
    c->oq_wait--;
    if (sp->first != sp->last) {
        sp->first = l->next;
    } else {
        for (uint32_t i = c->oq_hand; i + 1 < c->oq_n; i++) {
            *oq_at(c, i) = *oq_at(c, i + 1);
        }
        c->oq_n--;
    }
    oline_release(h, l);
}

/* Queues a reference to l for c (the caller's reference stays the caller's). */
void out_enqueue(oocsi_hub *h, client *c, oline *l)
{
    l->refs++;
    c->oq_bytes += l->len;
    if (h->opt.reference_drop_queue && !c->ws) {
        if (c->oq_wait == DROP_QUEUE_LEN) {
            oq_drop_oldest_waiting(h, c);
        }
        c->oq_wait++;
    } else if (c->oq_n) {
        ospan *t = oq_at(c, c->oq_n - 1);
        if (t->last->next == l && c->oq_hand == c->oq_n) {
            t->last = l; /* the next line of the same chain: the span grows */
            return;
        }
    }
    if (c->oq_n == c->oq_cap) {
        oq_grow(h, c);
    }
    ospan *sp = oq_at(c, c->oq_n++);
    sp->first = sp->last = l;
    if (!h->opt.reference_drop_queue || c->ws) {
        c->oq_hand = c->oq_n; /* no waiting: everything goes to the socket */
    }
}

/* Marks w written bytes of the oldest lines done. */
static void oq_consume(oocsi_hub *h, client *c, size_t w)
{
    c->oq_bytes -= w;
    w += c->oq_off;
    while (c->oq_n) {
        ospan *sp = oq_at(c, 0);
        oline *l = sp->first;
        if (w < l->len) {
            break;
        }
        w -= l->len;
        if (sp->first != sp->last) {
            sp->first = l->next;
        } else {
            c->oq_head = (c->oq_head + 1) & (c->oq_cap - 1);
            c->oq_n--;
            c->oq_hand--;
        }
        oline_release(h, l);
    }
    c->oq_off = w;
    oq_shrink(h, c);
}

/* Takes the oldest line (whole: WebSocket frames) out of c's queue with its
 * reference, which the caller gives back with oline_release(). */
oline *out_take(oocsi_hub *h, client *c)
{
    ospan *sp = oq_at(c, 0);
    oline *l = sp->first;
    l->refs++;
    oq_consume(h, c, l->len - c->oq_off);
    return l;
}

/* Forgets everything queued for c (it was dropped, or output is discarded). */
void out_discard(oocsi_hub *h, client *c)
{
    while (c->oq_n) {
        ospan *sp = oq_at(c, --c->oq_n);
        for (oline *l = sp->first;;) {
            oline *next = l == sp->last ? NULL : l->next;
            oline_release(h, l);
            if (!next) {
                break;
            }
            l = next;
        }
    }
    oq_free_ring(h, c);
    c->oq_cap = c->oq_head = c->oq_hand = c->oq_wait = 0;
    c->oq_off = c->oq_bytes = 0;
}

int out_room(oocsi_hub *h, client *c, size_t n)
{
    if (c->doomed || c->kill || (c->fd < 0 && !c->ws)) {
        return 0;
    }
    if (out_pending(c) + n > h->out_cap) {
        hub_log("dropping %s: more than %zu bytes of output pending", c->handle ? c->handle : c->peer, h->out_cap);
        c->kill = 1;
        out_discard(h, c);
        out_account(h, c);
        return 0;
    }
    return out_budget(h, c, n);
}

void ws_wake(oocsi_hub *h)
{
#ifdef HUB_HAVE_WS
    if (h->ws) {
        hub_ws_notify(h->ws);
    }
#else
    (void)h;
#endif
}

/* Queues a shared line for c (l's form must suit c); 1 if queued. */
static int put_line(oocsi_hub *h, client *c, oline *l)
{
    if (!out_room(h, c, l->len)) {
        if (c->ws) {
            ws_wake(h); /* a kill is acted on by the service thread */
        }
        return 0;
    }
    out_enqueue(h, c, l);
    out_account(h, c);
    if (c->ws) {
        ws_wake(h);
    } else {
        mark_dirty(h, c);
    }
    return 1;
}

/* WebSocket clients: each queued line is one text frame, with headroom for
 * the frame header; the service thread takes them (hub_ws_next_frame). */
void ws_put_frame(oocsi_hub *h, client *c, const char *s, size_t n)
{
    oline *l = oline_new(h, s, n, HUB_WS_PRE, NULL);
    put_line(h, c, l);
    oline_release(h, l);
}

/* Queues one server line (adds ';' for PD clients, and the LF); one text
 * frame for WebSocket clients. */
void send_line(oocsi_hub *h, client *c, const char *s, size_t n)
{
    if (c->ws) {
        ws_put_frame(h, c, s, n);
        return;
    }
    if (n == 1 && s[0] == '.' && c->type != CT_PD) { /* the answer to ping: one line kept for all */
        if (!h->dot) {
            h->dot = oline_new(h, ".", 1, 0, "\n");
            h->out_total -= oline_cost(h->dot); /* the hub's own, like its other fixed buffers */
        }
        put_line(h, c, h->dot);
        return;
    }
    oline *l = oline_new(h, s, n, 0, c->type == CT_PD ? ";\n" : "\n");
    put_line(h, c, l);
    oline_release(h, l);
}

void send_text(oocsi_hub *h, client *c, const char *s)
{
    send_line(h, c, s, strlen(s));
}

/* The byte stream of a TCP or TLS connection, like recv()/send(). */
ssize_t conn_recv(client *c, void *buf, size_t n)
{
#ifdef HUB_HAVE_TLS
    if (c->tls) {
        return hub_tls_read(c->tls, buf, n);
    }
#endif
    return recv(c->fd, buf, n, 0);
}

#define IOV_BATCH 256

/* Writes some of the handed lines: one sendmsg() with an iovec per line
 * (TLS: the bytes gathered into the loop's buffer, at most READ_CHUNK, so
 * that a retried SSL_write sees the same bytes again). */
static ssize_t conn_send_queue(oocsi_hub *h, client *c, size_t *tried)
{
    struct iovec iov[IOV_BATCH];
    int niov = 0;
    size_t off = c->oq_off, total = 0;
#ifdef HUB_HAVE_TLS
    size_t room = c->tls ? READ_CHUNK : SIZE_MAX;
#else
    size_t room = SIZE_MAX;
#endif
    for (uint32_t i = 0; i < c->oq_hand && niov < IOV_BATCH && total < room; i++) {
        ospan *sp = oq_at(c, i);
        for (oline *l = sp->first; niov < IOV_BATCH && total < room; l = l->next) {
            size_t n = l->len - off;
            if (n > room - total) {
                n = room - total;
            }
            iov[niov].iov_base = l->data + l->pre + off;
            iov[niov++].iov_len = n;
            total += n;
            off = 0;
            if (l == sp->last) {
                break;
            }
        }
    }
    *tried = total;
#ifdef HUB_HAVE_TLS
    if (c->tls) {
        if (!h->scratch) {
            h->scratch = xmalloc(READ_CHUNK);
        }
        size_t at = 0;
        for (int i = 0; i < niov; i++) {
            memcpy(h->scratch + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        return hub_tls_write(c->tls, h->scratch, at);
    }
#else
    (void)h;
#endif
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)niov;
    return sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

const char *conn_error(const client *c, int err)
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

/* Writes pending output with as few system calls as possible. */
static void flush_some(oocsi_hub *h, client *c)
{
    if (c->doomed || c->stalled || c->fd < 0) {
        return;
    }
    while (1) {
        if (c->oq_hand == 0 && c->oq_n) { /* hand the waiting lines to the socket */
            c->oq_hand = c->oq_n;
            c->oq_wait = 0;
        }
        size_t pending = c->oq_bytes;
        if (!pending) {
            break;
        }
        size_t tried = 0;
        ssize_t w = conn_send_queue(h, c, &tried);
        if (w > 0) {
            oq_consume(h, c, (size_t)w);
            if ((size_t)w < tried) {
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

void client_flush(oocsi_hub *h, client *c)
{
    flush_some(h, c);
    out_account(h, c);
}

/* ------------------------------------------------------------------ messages */

void hmsg_done(oocsi_hub *h, hmsg *m)
{
    for (int f = 0; f < OL_FORMS; f++) {
        oline_release(h, m->form[f]);
        m->form[f] = NULL;
    }
}

/* {"data":{...},"recipient":...,"sender":...,"timestamp":...} (the web JSON protocol, keys sorted). */
static void msg_build_ws(const hmsg *m, sbuf *b)
{
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

static void msg_build(const hmsg *m, sbuf *b)
{
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

/* The form of m that c receives, built on its first use (and chained in
 * m->ch, so that consecutive lines of a channel form spans). */
static oline *msg_form(oocsi_hub *h, client *c, hmsg *m)
{
    int f = c->ws ? OL_WS : c->type == CT_PD ? OL_PD : OL_LINE;
    if (m->form[f]) {
        return m->form[f];
    }
    sbuf b = {0};
    if (f == OL_WS) {
        msg_build_ws(m, &b);
    } else if (f == OL_PD) {
        pd_format(m, &b);
    } else {
        msg_build(m, &b);
    }
    oline *l = oline_new(h, b.p ? b.p : "", b.len, f == OL_WS ? HUB_WS_PRE : 0,
                         f == OL_WS   ? NULL
                         : f == OL_PD ? ";\n"
                                      : "\n");
    sb_free(&b);
    if (m->ch) {
        oline_chain(h, m->ch, f, l);
    }
    m->form[f] = l;
    return l;
}

void deliver(oocsi_hub *h, client *c, hmsg *m)
{
    if (c->state != CS_ACTIVE || c->kill || c->doomed) {
        return;
    }
    put_line(h, c, msg_form(h, c, m));
    if (!m->now) {
        m->now = mono_ms(); /* once per message */
    }
    c->last_active = m->now;
    h->delivered++;
}
