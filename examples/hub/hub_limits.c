/*
 * The hub's budgets: delayed messages (a min-heap by due time and a table
 * by recipient, so adding and releasing are O(log n)), the bytes of delayed
 * and retained messages per sender handle and in total, connections per
 * address and without a welcome, the hello deadline, and the output and
 * memory totals. A client that hits a limit gets an error line naming the
 * limit and the oocsi-hub flag that raises it.
 */
#include "hub_rooms.h"

static size_t client_memory(oocsi_hub *h, const client *c);

/* ------------------------------------------------------------------ options */

/* Replaces the 0s of the budget options by their defaults. */
void limit_options(oocsi_hub_options *o)
{
    if (o->max_delay_s <= 0) {
        o->max_delay_s = DELAY_DEFAULT_S;
    }
    if (o->max_delay_s > DELAY_MAX_S) {
        o->max_delay_s = (int)DELAY_MAX_S;
    }
    if (!o->max_delayed) {
        o->max_delayed = DELAYED_MAX;
    }
    if (!o->max_delayed_bytes) {
        o->max_delayed_bytes = DELAYED_BYTES_MAX;
    }
    if (!o->max_delayed_client_bytes) {
        o->max_delayed_client_bytes = DELAYED_CLIENT_BYTES_MAX;
    }
    if (o->max_retain_s <= 0 || o->max_retain_s > RETAIN_MAX_S) {
        o->max_retain_s = RETAIN_MAX_S; /* also the most: guard_server_keys() caps _RETAIN there */
    }
    if (!o->max_retained_bytes) {
        o->max_retained_bytes = RETAINED_BYTES_MAX;
    }
    if (!o->max_retained_client_bytes) {
        o->max_retained_client_bytes = RETAINED_CLIENT_BYTES_MAX;
    }
    if (o->hello_timeout_ms <= 0) {
        o->hello_timeout_ms = HELLO_TIMEOUT_MS;
    }
    if (o->max_conns_per_addr <= 0) {
        o->max_conns_per_addr = CONNS_PER_ADDR_MAX;
    }
    if (o->max_pending_hellos <= 0) {
        o->max_pending_hellos = PENDING_HELLOS_MAX;
    }
    if (!o->max_hello_line) {
        o->max_hello_line = HELLO_LINE_MAX;
    }
    if (!o->max_output) {
        o->max_output = OUTPUT_MAX;
    }
    if (!o->max_memory) {
        o->max_memory = MEMORY_MAX;
    }
    if (!o->max_client_memory) {
        o->max_client_memory = CLIENT_MEMORY_MAX;
    }
}

/* "error (WHAT, raise with --FLAG)" (send_error(): the oocsi-web error
 * frame to a WebSocket client). */
void limit_error(oocsi_hub *h, client *c, const char *what, const char *flag)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s, raise with --%s", what, flag);
    if (h->opt.verbose) {
        hub_log("%s (%s): %s", c && c->handle ? c->handle : "-", c ? c->peer : "-", msg);
    }
    if (c && !client_gone(c) && c->state < CS_CLOSING) {
        send_error(h, c, msg);
    }
}

/* ------------------------------------------------------------------ usage per sender handle */

static usage *usage_get(oocsi_hub *h, const char *name, int create)
{
    usage *u = NULL;
    HASH_FIND_STR(h->usage, name, u);
    if (!u && create) {
        u = xmalloc(sizeof *u);
        memset(u, 0, sizeof *u);
        u->name = xstrdup(name);
        HASH_ADD_KEYPTR(hh, h->usage, u->name, strlen(u->name), u);
    }
    return u;
}

static void usage_tidy(oocsi_hub *h, usage *u)
{
    if (u && !u->delayed_n && !u->delayed_bytes && !u->retained_bytes) {
        HASH_DEL(h->usage, u);
        free(u->name);
        free(u);
    }
}

static size_t msg_bytes(size_t blen, const char *sender, const char *recipient, size_t head)
{
    return head + blen + strlen(sender) + strlen(recipient) + 3;
}

/* ------------------------------------------------------------------ delayed messages: a min-heap by due */

static void heap_set(oocsi_hub *h, size_t i, delayed *d)
{
    h->delayed_q.v[i] = d;
    d->heap_i = i;
}

static int heap_less(const oocsi_hub *h, size_t a, size_t b)
{
    return ((delayed *)h->delayed_q.v[a])->due < ((delayed *)h->delayed_q.v[b])->due;
}

static void heap_fix(oocsi_hub *h, size_t i)
{
    void **v = h->delayed_q.v;
    size_t n = h->delayed_q.n;
    while (i > 0 && heap_less(h, i, (i - 1) / 2)) { /* up */
        delayed *d = v[i];
        heap_set(h, i, v[(i - 1) / 2]);
        heap_set(h, (i - 1) / 2, d);
        i = (i - 1) / 2;
    }
    while (1) { /* down */
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_less(h, l, m)) {
            m = l;
        }
        if (r < n && heap_less(h, r, m)) {
            m = r;
        }
        if (m == i) {
            return;
        }
        delayed *d = v[i];
        heap_set(h, i, v[m]);
        heap_set(h, m, d);
        i = m;
    }
}

/* Takes d out of the heap, the recipient table and the budgets. */
static void delayed_unlink(oocsi_hub *h, delayed *d)
{
    size_t i = d->heap_i, last = --h->delayed_q.n;
    if (i != last) {
        heap_set(h, i, h->delayed_q.v[last]);
        heap_fix(h, i);
    }
    HASH_DEL(h->delayed_by, d);
    h->delayed_bytes -= d->bytes;
    usage *u = usage_get(h, d->sender, 0);
    if (u) {
        u->delayed_n--;
        u->delayed_bytes -= d->bytes;
        usage_tidy(h, u);
    }
}

static void delayed_destroy(delayed *d)
{
    free(d->recipient);
    free(d->sender);
    free(d->body);
    free(d);
}

/* Queues a delayed or scheduled message (one pending per recipient: it
 * replaces an earlier one). 0, or -1 if a limit refused it (error line sent). */
int delayed_add(oocsi_hub *h, client *from, const char *recipient, const char *sender, const char *body, size_t blen,
                int64_t due_real, int64_t now_real, int64_t retain_s)
{
    char what[256];
    if (due_real - now_real > (int64_t)h->opt.max_delay_s * 1000) {
        snprintf(what, sizeof what, "delay of %lld s over the limit of %d s", (long long)((due_real - now_real) / 1000),
                 h->opt.max_delay_s);
        limit_error(h, from, what, "max-delay");
        return -1;
    }
    delayed *old = NULL;
    HASH_FIND_STR(h->delayed_by, recipient, old);
    size_t bytes = msg_bytes(blen, sender, recipient, sizeof(delayed));
    usage *u = usage_get(h, sender, 0);
    int same = old && !strcmp(old->sender, sender);
    size_t mine_n = (u ? u->delayed_n : 0) - (same ? 1 : 0);
    size_t mine = (u ? u->delayed_bytes : 0) - (same ? old->bytes : 0);
    size_t all = h->delayed_bytes - (old ? old->bytes : 0);
    const char *flag = NULL;
    if (mine_n + 1 > h->opt.max_delayed) {
        snprintf(what, sizeof what, "too many delayed messages: %zu pending for %s", mine_n, sender);
        flag = "max-delayed";
    } else if (mine + bytes > h->opt.max_delayed_client_bytes) {
        snprintf(what, sizeof what, "delayed messages of %s over %zu bytes", sender, h->opt.max_delayed_client_bytes);
        flag = "max-delayed-client-bytes";
    } else if (all + bytes > h->opt.max_delayed_bytes) {
        snprintf(what, sizeof what, "delayed messages over %zu bytes in total", h->opt.max_delayed_bytes);
        flag = "max-delayed-bytes";
    }
    if (flag) {
        limit_error(h, from, what, flag);
        return -1;
    }
    if (!memory_admit(h, from, bytes - (old ? (old->bytes < bytes ? old->bytes : bytes) : 0))) {
        return -1;
    }
    if (old) {
        delayed_unlink(h, old);
        delayed_destroy(old);
    }
    delayed *d = xmalloc(sizeof *d);
    memset(d, 0, sizeof *d);
    d->recipient = xstrdup(recipient);
    d->sender = xstrdup(sender);
    d->body = xstrndup(body, blen);
    d->body_len = blen;
    d->ts = due_real;
    d->due = mono_ms() + (due_real - now_real);
    d->retain_s = retain_s;
    d->bytes = bytes;
    HASH_ADD_KEYPTR(hh, h->delayed_by, d->recipient, strlen(d->recipient), d);
    pv_push(&h->delayed_q, d);
    d->heap_i = h->delayed_q.n - 1;
    heap_fix(h, d->heap_i);
    h->delayed_bytes += bytes;
    u = usage_get(h, sender, 1);
    u->delayed_n++;
    u->delayed_bytes += bytes;
    return 0;
}

/* Dispatches every delayed message that is due. */
void delayed_release(oocsi_hub *h, int64_t now)
{
    while (h->delayed_q.n) {
        delayed *d = h->delayed_q.v[0];
        if (d->due > now) {
            return;
        }
        delayed_unlink(h, d); /* first: its budget is free for what dispatch may retain */
        dispatch(h, NULL, d->sender, d->recipient, d->body, d->body_len, d->ts, d->retain_s);
        delayed_destroy(d);
    }
}

int64_t delayed_next_due(const oocsi_hub *h)
{
    return h->delayed_q.n ? ((const delayed *)h->delayed_q.v[0])->due : INT64_MAX;
}

/* Forgets every delayed message and count (stop and teardown; the channels,
 * with their retained messages, and the clients are freed by the caller). */
void budgets_forget(oocsi_hub *h)
{
    HASH_CLEAR(hh, h->delayed_by);
    for (size_t i = 0; i < h->delayed_q.n; i++) {
        delayed_destroy(h->delayed_q.v[i]);
    }
    pv_free(&h->delayed_q);
    usage *u, *ut;
    HASH_ITER(hh, h->usage, u, ut)
    {
        HASH_DEL(h->usage, u);
        free(u->name);
        free(u);
    }
    addrcount *a, *at;
    HASH_ITER(hh, h->addrs, a, at)
    {
        HASH_DEL(h->addrs, a);
        free(a);
    }
    h->delayed_bytes = h->retained_bytes = h->out_total = h->in_total = h->nsubs = 0;
    h->npending = 0;
}

/* ------------------------------------------------------------------ retained messages */

void retained_drop(oocsi_hub *h, chan *ch)
{
    retained *r = ch->ret;
    if (!r) {
        return;
    }
    ch->ret = NULL;
    h->retained_bytes -= r->bytes;
    usage *u = usage_get(h, r->sender, 0);
    if (u) {
        u->retained_bytes -= r->bytes;
        usage_tidy(h, u);
    }
    retained_free(r);
}

/* Makes the message ch's retained one (the caller dropped the previous one),
 * unless that is over a budget (then an error line to the sender). */
void retained_set(oocsi_hub *h, client *from, chan *ch, const char *sender, const char *recipient, const char *body,
                  size_t blen, int64_t ts, int64_t retain_s)
{
    if (retain_s > h->opt.max_retain_s) {
        retain_s = h->opt.max_retain_s;
    }
    size_t bytes = msg_bytes(blen, sender, recipient, sizeof(retained));
    usage *u = usage_get(h, sender, 0);
    char what[256];
    const char *flag = NULL;
    if ((u ? u->retained_bytes : 0) + bytes > h->opt.max_retained_client_bytes) {
        snprintf(what, sizeof what, "retained messages of %s over %zu bytes, not retained", sender,
                 h->opt.max_retained_client_bytes);
        flag = "max-retained-client-bytes";
    } else if (h->retained_bytes + bytes > h->opt.max_retained_bytes) {
        snprintf(what, sizeof what, "retained messages over %zu bytes in total, not retained",
                 h->opt.max_retained_bytes);
        flag = "max-retained-bytes";
    }
    if (flag) {
        limit_error(h, from ? from : find_client(h, sender), what, flag);
        return;
    }
    if (!memory_admit(h, from ? from : find_client(h, sender), bytes)) {
        return;
    }
    retained *r = xmalloc(sizeof *r);
    r->body = xstrndup(body, blen);
    r->body_len = blen;
    r->sender = xstrdup(sender);
    r->recipient = xstrdup(recipient);
    r->ts = ts;
    r->expiry = mono_ms() + retain_s * 1000;
    r->bytes = bytes;
    ch->ret = r;
    h->retained_bytes += bytes;
    u = usage_get(h, sender, 1);
    u->retained_bytes += bytes;
}

/* ------------------------------------------------------------------ connections */

/* Whether a new connection from addr is over a limit: NULL if not, else the
 * flag that raises it, with what in what (logged, a flood not line by line). */
static const char *conn_refusal(oocsi_hub *h, const char *addr, char *what, size_t what_size)
{
    addrcount *a = NULL;
    HASH_FIND_STR(h->addrs, addr, a);
    const char *flag = NULL;
    if (a && a->n >= h->opt.max_conns_per_addr) {
        snprintf(what, what_size, "too many connections from %s (%d)", addr, a->n);
        flag = "max-conns-per-addr";
    } else if (h->npending >= h->opt.max_pending_hellos) {
        snprintf(what, what_size, "too many connections without a hello (%d)", h->npending);
        flag = "max-pending-hellos";
    }
    if (!flag) {
        return NULL;
    }
    int64_t now = mono_ms();
    if (h->opt.verbose || now - h->refused_log_at >= 1000) { /* a flood is not logged line by line */
        if (h->refused_quiet) {
            hub_log("refusing a connection from %s: %s (--%s; and %lu since the last such line)", addr, what, flag,
                    h->refused_quiet);
        } else {
            hub_log("refusing a connection from %s: %s (--%s)", addr, what, flag);
        }
        h->refused_log_at = now;
        h->refused_quiet = 0;
    } else {
        h->refused_quiet++;
    }
    return flag;
}

/* Before a WebSocket upgrade from addr: 0 to accept it, -1 if a limit
 * refuses it (logged; the upgrade is refused). */
int ws_admit(oocsi_hub *h, const char *addr)
{
    char what[256];
    return conn_refusal(h, addr, what, sizeof what) ? -1 : 0;
}

/* Before a TCP/TLS connection from addr becomes a client: 0 to accept it;
 * -1 if a limit refuses it (an error line for TCP, then the socket is closed). */
int conn_admit(oocsi_hub *h, int fd, const char *addr, int tls)
{
    char what[256];
    const char *flag = conn_refusal(h, addr, what, sizeof what);
    if (!flag) {
        return 0;
    }
    if (!tls) { /* best effort: the socket buffer is empty; read what arrived so that close() sends no reset */
        char line[400], junk[4096];
        int n = snprintf(line, sizeof line, "error (%s, raise with --%s)\n", what, flag);
        while (recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
        }
        ssize_t w = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        shutdown(fd, SHUT_WR);
        while (recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
        }
    }
    close(fd);
    return -1;
}

/* A connection (TCP, TLS or WebSocket) accepted from addr. */
void conn_count(oocsi_hub *h, client *c, const char *addr)
{
    addrcount *a = NULL;
    HASH_FIND_STR(h->addrs, addr, a);
    if (!a) {
        a = xmalloc(sizeof *a);
        memset(a, 0, sizeof *a);
        snprintf(a->addr, sizeof a->addr, "%s", addr);
        HASH_ADD_STR(h->addrs, addr, a);
    }
    a->n++;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    c->counted = 1;
    c->prehello = 1;
    c->created = mono_ms();
    h->npending++;
}

/* c was welcomed: no longer a pending hello. */
void conn_welcomed(oocsi_hub *h, client *c)
{
    if (c->prehello) {
        c->prehello = 0;
        h->npending--;
    }
}

/* Before c is freed: out of every count. */
void conn_release(oocsi_hub *h, client *c)
{
    conn_welcomed(h, c);
    if (c->counted) {
        c->counted = 0;
        addrcount *a = NULL;
        HASH_FIND_STR(h->addrs, c->addr, a);
        if (a && --a->n <= 0) {
            HASH_DEL(h->addrs, a);
            free(a);
        }
    }
    c->doomed = 1;
    out_account(h, c);
    in_account(h, c);
}

/* Closes every connection without a welcome past the hello deadline, with
 * an error line (invalid hellos do not extend it). From the
 * timers only: never while a hello is being handled. */
void hello_deadlines(oocsi_hub *h, int64_t now)
{
    char msg[160], ws[200];
    snprintf(msg, sizeof msg, "error (no welcome within %d ms, raise with --hello-timeout)", h->opt.hello_timeout_ms);
    snprintf(ws, sizeof ws, "{\"message\" : \"ERROR: no welcome within %d ms, raise with --hello-timeout\"}",
             h->opt.hello_timeout_ms);
    for (size_t i = 0; i < h->all.n; i++) {
        client *c = h->all.v[i];
        if (c->prehello && !client_gone(c) && c->state < CS_CLOSING && now - c->created > h->opt.hello_timeout_ms) {
            client_close_with(h, c, c->ws ? ws : msg);
        }
    }
}

/* The longest line c may send now: short before a welcome. */
size_t line_limit(const oocsi_hub *h, const client *c)
{
    return (c->state == CS_ACTIVE || h->opt.max_hello_line > h->opt.max_line) ? h->opt.max_line : h->opt.max_hello_line;
}

/* ------------------------------------------------------------------ output and input totals */

/* Brings c's share of the output up to date (0 once c is gone): the bytes
 * queued for it, however many other clients share those lines. The total
 * (h->out_total) counts each shared line once, when it is made and freed
 * (hub_output.c). */
void out_account(oocsi_hub *h, client *c)
{
    (void)h;
    c->out_counted = client_gone(c) ? 0 : out_pending(c);
}

void in_account(oocsi_hub *h, client *c)
{
    size_t now = (c->doomed || c->in == h->scratch) ? 0 : c->in_cap; /* the loop's buffer is nobody's */
    h->in_total = h->in_total - c->in_counted + now;
    c->in_counted = now;
}

/* Room for a line of n more bytes for c (the line itself is already in the
 * total; c's reference costs a span slot) within the budgets: over the
 * total, the clients furthest behind are dropped (c too, if it is one of
 * them). 1 if c may queue the line. */
int out_budget(oocsi_hub *h, client *c, size_t n)
{
    out_account(h, c);
    size_t own = c->in_counted + c->out_counted + (c->subs.n + c->psubs.n) * SUB_BYTES + n;
    if (c->state == CS_ACTIVE && own + h->retained_bytes + h->delayed_bytes > h->opt.max_client_memory &&
        client_memory(h, c) + n > h->opt.max_client_memory) {
        hub_log("dropping %s (%s): its memory is over %zu bytes (--max-client-memory)", c->handle, c->peer,
                h->opt.max_client_memory);
        c->kill = 1;
        out_discard(h, c);
        out_account(h, c);
        return 0;
    }
    while (h->out_total + sizeof(ospan) > h->opt.max_output) {
        client *v = NULL;
        for (size_t i = 0; i < h->all.n; i++) {
            client *x = h->all.v[i];
            if (!client_gone(x) && (!v || x->out_counted > v->out_counted)) {
                v = x;
            }
        }
        if (!v || (!v->out_counted && v != c)) {
            v = c;
        }
        hub_log("dropping %s (%s): %zu bytes of output pending while all clients' output is over %zu bytes "
                "(--max-output)",
                v->handle ? v->handle : "-", v->peer, v->out_counted, h->opt.max_output);
        v->kill = 1;
        out_discard(h, v); /* frees the lines only it still needed */
        out_account(h, v);
        if (v->ws) {
            ws_wake(h);
        }
        if (v == c) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------ memory */

/* A registered client's share: its buffers and subscriptions, and the
 * retained and delayed messages of its handle. */
static size_t client_memory(oocsi_hub *h, const client *c)
{
    size_t m = c->in_counted + c->out_counted + (c->subs.n + c->psubs.n) * SUB_BYTES;
    usage *u = c->state == CS_ACTIVE ? usage_get(h, c->handle, 0) : NULL;
    return m + (u ? u->delayed_bytes + u->retained_bytes : 0);
}

/* 1 if bytes more for c keep the memory total within max_memory and c's
 * share within max_client_memory; else 0 and an error line to c (NULL:
 * only the total is checked). */
int memory_admit(oocsi_hub *h, client *c, size_t bytes)
{
    char what[192];
    if (hub_memory(h) + bytes > h->opt.max_memory) {
        snprintf(what, sizeof what, "memory over %zu bytes", h->opt.max_memory);
        limit_error(h, c, what, "max-memory");
        return 0;
    }
    if (c && c->state == CS_ACTIVE && client_memory(h, c) + bytes > h->opt.max_client_memory) {
        snprintf(what, sizeof what, "memory of %s over %zu bytes", c->handle, h->opt.max_client_memory);
        limit_error(h, c, what, "max-client-memory");
        return 0;
    }
    return 1;
}

/* All accounted bytes (a subscription counts SUB_BYTES: its two list slots
 * and a share of the channel record). */
size_t hub_memory(const oocsi_hub *h)
{
    return h->in_total + h->out_total + h->nsubs * SUB_BYTES + h->retained_bytes + h->delayed_bytes;
}

size_t oocsi_hub_usage(oocsi_hub *h, const char *what)
{
    if (!h || !what) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    size_t v = 0;
    if (!strcmp(what, "input")) {
        v = h->in_total;
    } else if (!strcmp(what, "output")) {
        v = h->out_total;
    } else if (!strcmp(what, "subscriptions")) {
        v = h->nsubs * SUB_BYTES;
    } else if (!strcmp(what, "retained")) {
        v = h->retained_bytes;
    } else if (!strcmp(what, "delayed")) {
        v = h->delayed_bytes;
    } else if (!strcmp(what, "delayed_count")) {
        v = h->delayed_q.n;
    } else if (!strcmp(what, "total")) {
        v = hub_memory(h);
    } else if (!strcmp(what, "list_steps")) {
        v = pv_remove_steps();
    }
    pthread_mutex_unlock(&h->mu);
    return v;
}
