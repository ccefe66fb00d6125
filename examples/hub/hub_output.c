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
    return c->out_len - c->out_off + c->q_bytes;
}

/* Appends bytes to the output buffer (amortised O(1) per byte). */
void out_put(client *c, const char *s, size_t n)
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

int out_room(oocsi_hub *h, client *c, size_t n)
{
    if (c->doomed || c->kill || (c->fd < 0 && !c->ws)) {
        return 0;
    }
    if (out_pending(c) + n > h->out_cap) {
        hub_log("dropping %s: more than %zu bytes of output pending", c->handle ? c->handle : c->peer, h->out_cap);
        c->kill = 1;
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

/* WebSocket clients: the output buffer holds frames, each a size_t length
 * and the bytes; the service thread takes them (hub_ws_next_frame). */
void ws_put_frame(oocsi_hub *h, client *c, const char *s, size_t n)
{
    if (!out_room(h, c, n + sizeof n)) {
        ws_wake(h); /* a kill is acted on by the service thread */
        return;
    }
    out_put(c, (const char *)&n, sizeof n);
    out_put(c, s, n);
    out_account(h, c);
    ws_wake(h);
}

/* Queues one server line (adds ';' for PD clients, and the LF); one text
 * frame for WebSocket clients. */
void send_line(oocsi_hub *h, client *c, const char *s, size_t n)
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
    out_account(h, c);
    mark_dirty(h, c);
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

static ssize_t conn_send(client *c, const void *buf, size_t n)
{
#ifdef HUB_HAVE_TLS
    if (c->tls) {
        return hub_tls_write(c->tls, buf, n);
    }
#endif
    return send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
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

/* Writes pending output with as few send() calls as possible. */
static void flush_some(oocsi_hub *h, client *c)
{
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

void client_flush(oocsi_hub *h, client *c)
{
    flush_some(h, c);
    out_account(h, c);
}

/* ------------------------------------------------------------------ messages */

void hmsg_done(hmsg *m)
{
    sb_free(&m->line);
    sb_free(&m->wsline);
}

/* {"data":{...},"recipient":...,"sender":...,"timestamp":...} (the web JSON protocol, keys sorted). */
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

void deliver(oocsi_hub *h, client *c, hmsg *m)
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
