/*
 * The line protocol's command parser: sendraw/sendjson (with _RETAIN,
 * _DELAY and _SCHEDULE), subscribe/unsubscribe, the queries (channels, clients,
 * subscribers), ping/pong, quit; the hello handshake (JSON and plain clients,
 * passwords, handles taken); and reading input into lines.
 */
#include "hub_rooms.h"

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

void cmd_subscribe(oocsi_hub *h, client *c, const char *name)
{
    char x[256];
    if (c->state != CS_ACTIVE || !*name || !memory_admit(h, c, SUB_BYTES)) {
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
            h->nsubs++;
            pthread_cond_broadcast(&h->cond);
        }
        return;
    }
    if (strchr(name, '[')) {
        /* The reference server evaluates these; this hub says it does not,
         * instead of leaving a subscriber waiting for messages. */
        char e[400];
        snprintf(e, sizeof e, "filter and transform subscriptions are not supported by this hub: %.300s", name);
        send_error(h, c, e);
        return;
    }
    if (!strncmp(name, "presence(", 9)) {
        return; /* malformed presence */
    }
    chan *ch;
    const char *colon = strchr(name, ':');
    if (colon) {
        if (colon == name) {
            return;
        }
        char *base = xstrndup(name, (size_t)(colon - name));
        ch = chan_get(h, base);
        if (!ch) { /* a listed user's name stays free for its hello (below) */
            ch = guard_user_listed(h, base) ? NULL : chan_new(h, base, name, CH_CHANNEL, NULL);
        } else if (ch->kind != CH_CHANNEL || !ch->token || strcmp(ch->token, name) != 0) {
            ch = NULL; /* silently ineffective */
        }
        free(base);
    } else {
        ch = chan_get(h, name);
        if (!ch) { /* a listed user's name stays free for its hello: no channel of that name */
            ch = guard_user_listed(h, name) ? NULL : chan_new(h, name, NULL, CH_CHANNEL, NULL);
        } else if ((ch->kind == CH_CLIENT && ch->owner == c) || (ch->kind == CH_CHANNEL && ch->token)) {
            ch = NULL; /* own handle: no-op; private channel without its token: ineffective */
        }
    }
    if (!ch || pv_has(&ch->subs, c)) {
        return;
    }
    pv_push(&ch->subs, c);
    pv_push(&c->subs, ch);
    h->nsubs++;
    presence_emit(h, ch->name, "join", c->handle);
    if (!c->priv) {
        presence_emit(h, c->handle, "created", "");
    }
    if (ch->ret) {
        if (ch->ret->expiry <= mono_ms()) {
            retained_drop(h, ch);
        } else {
            retained_deliver(h, c, ch->ret);
        }
    }
    pthread_cond_broadcast(&h->cond);
}

void cmd_unsubscribe(oocsi_hub *h, client *c, char *name)
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
            h->nsubs--;
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

/* An error line ("error (text)"; over WebSocket the frame
 * {"message" : "ERROR: text"}), as for a refused hello. */
void send_error(oocsi_hub *h, client *c, const char *text)
{
    sbuf b = {0};
    if (c->ws) {
        sbuf t = {0};
        sb_puts(&t, "ERROR: ");
        sb_puts(&t, text);
        sb_puts(&b, "{\"message\" : ");
        sb_json_str(&b, t.p, t.len);
        sb_putc(&b, '}');
        sb_free(&t);
    } else {
        sb_puts(&b, "error (");
        sb_puts(&b, text);
        sb_putc(&b, ')');
    }
    send_line(h, c, b.p, b.len);
    sb_free(&b);
}

/* ------------------------------------------------------------------ handshake */

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

/* Registers c under handle (taken over), sends the welcome line/frame and
 * emits the presence event. */
void client_register(oocsi_hub *h, client *c, char *handle, int priv, const char *welcome)
{
    c->handle = handle;
    c->priv = priv;
    c->state = CS_ACTIVE;
    conn_welcomed(h, c);
    c->self = chan_new(h, handle, NULL, CH_CLIENT, c);
    h->nreg++;
    send_text(h, c, welcome);
    presence_emit(h, handle, "join", handle);
    pthread_cond_broadcast(&h->cond);
}

/* Refuses a hello: the error line, then the connection is closed (a refused
 * connection must not go on sending as the name it asked for). */
static void hello_refused(oocsi_hub *h, client *c, char *handle, const char *msg)
{
    if (h->opt.verbose) {
        hub_log("%s: %s", c->peer, msg);
    }
    free(c->handle);
    c->handle = handle;
    client_close_with(h, c, msg);
}

/* Why handle (after '#' replacement, without ":password") cannot be taken,
 * into msg; 0 if it can. pw: the password given, or NULL. */
static int hello_check(oocsi_hub *h, client *c, char *handle, const char *pw, char *msg, size_t cap)
{
    if (guard_name_bad_chars(handle)) {
        for (char *q = handle; *q; q++) { /* never echo control characters */
            if ((unsigned char)*q < 0x20 || *q == 0x7F) {
                *q = '?';
            }
        }
        snprintf(msg, cap, "error (invalid character in name: %s)", handle);
        return -1;
    }
    if (guard_name_reserved(handle)) {
        snprintf(msg, cap, "error (name reserved: %s)", handle);
        return -1;
    }
    if (pw) {
        int64_t now = mono_ms(), wait = guard_auth_blocked(h, c->peer, now);
        if (wait) {
            snprintf(msg, cap,
                     "error (password wrong for name: %s; too many wrong passwords from this address, "
                     "try again in %lld s)",
                     handle, (long long)wait);
            return -1;
        }
        if (!h->nusers || !*handle || !guard_users_check(h, handle, pw)) {
            guard_auth_failed(h, c->peer, now);
            snprintf(msg, cap, "error (password wrong for name: %s)", handle);
            return -1;
        }
    }
    if (chan_get(h, handle)) {
        snprintf(msg, cap, "error (name already registered: %s)", handle);
        return -1;
    }
    if (!pw && guard_user_listed(h, handle)) {
        snprintf(msg, cap, "error (password wrong for name: %s)", handle); /* needs its password */
        return -1;
    }
    return 0;
}

static void handle_hello(oocsi_hub *h, client *c, char *line, size_t len)
{
    if (len > HELLO_MAX || strstr(line, "OpenSSH") || strstr(line, "libssh")) {
        return; /* silent rejection: the next line is a new hello */
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch == ' ' || (ch >= '\t' && ch <= '\r') || ch >= 0x80) {
            return; /* whitespace or non-ASCII (other control characters: an error below) */
        }
        if (!ch) {
            line[i] = 0x01; /* a NUL must not cut the handle short: refused like the others */
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
        int taken = chan_get(h, handle) != NULL || (!colon && guard_user_listed(h, handle));
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
    char msg[400];
    char *colon = strchr(handle, ':');
    if (colon) {
        *colon = '\0';
    }
    if (hello_check(h, c, handle, colon ? colon + 1 : NULL, msg, sizeof msg)) {
        hello_refused(h, c, handle, msg);
        return;
    }
    if (type == CT_JSON) {
        snprintf(msg, sizeof msg, "{'message' : \"welcome %s\"}", handle);
    } else {
        snprintf(msg, sizeof msg, "welcome %s", handle);
    }
    if (h->opt.verbose) {
        hub_log("%s registered %s (%s)", c->peer, handle, type == CT_JSON ? "JSON" : type == CT_PD ? "PD" : "plain");
    }
    client_register(h, c, handle, colon != NULL, msg);
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
    if (c->state != CS_ACTIVE) {
        return; /* closing: a refused or quitting connection sends nothing more */
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
void in_reserve(oocsi_hub *h, client *c, size_t want)
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
        in_account(h, c);
    }
    c->in_scan -= c->in_off;
    c->in_off = 0;
    c->in_len = pending;
}

int client_gone(const client *c)
{
    return c->doomed || c->kill;
}

/* A line over the limit: before a welcome an error line and close (the
 * limit is small), else the client is dropped. */
static void line_too_long(oocsi_hub *h, client *c)
{
    if (c->state == CS_ACTIVE) {
        client_doom(h, c, "line too long");
        return;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "error (line before a welcome longer than %zu bytes, raise with --max-hello-line)",
             line_limit(h, c));
    c->in_off = c->in_len = c->in_scan = 0;
    client_close_with(h, c, msg);
}

void process_lines(oocsi_hub *h, client *c)
{
    size_t off = c->in_off, pos = c->in_scan;
    while (pos < c->in_len) {
        char *nl = memchr(c->in + pos, '\n', c->in_len - pos);
        if (!nl) {
            break;
        }
        size_t end = (size_t)(nl - c->in);
        if (end - off > line_limit(h, c)) {
            line_too_long(h, c);
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
    if (c->in_len - c->in_off > line_limit(h, c)) {
        line_too_long(h, c);
        return;
    }
    if (c->in_len - c->in_off > READ_CHUNK && !memory_admit(h, c, 0)) { /* the error line was sent */
        c->in_off = c->in_len = c->in_scan = 0;
        client_close_with(h, c, "bye");
        return;
    }
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = c->in_scan = 0;
    }
}

/* After the lines were handled: a partial line left in the loop's buffer
 * moves to a buffer of the client's own, just large enough; an own buffer
 * with nothing left in it is given back. */
static void in_keep(oocsi_hub *h, client *c)
{
    size_t rest = c->in_len - c->in_off;
    if (c->in == h->scratch && c->in) {
        char *nb = NULL;
        if (rest) {
            nb = xmalloc(rest);
            memcpy(nb, c->in + c->in_off, rest);
        }
        c->in = nb;
        c->in_cap = rest;
        c->in_scan -= c->in_off;
        c->in_off = 0;
        c->in_len = rest;
    } else if (!rest && c->in) {
        free(c->in);
        c->in = NULL;
        c->in_cap = c->in_len = c->in_off = c->in_scan = 0;
    }
    in_account(h, c);
}

/* Where the next read goes: the loop's buffer, after the partial line
 * (moved there), unless the partial line is long (then the client's own
 * buffer grows). */
static void in_prepare(oocsi_hub *h, client *c)
{
    size_t part = c->in_len - c->in_off;
    if (part > READ_CHUNK / 2) {
        in_reserve(h, c, READ_CHUNK);
        return;
    }
    if (!h->scratch) {
        h->scratch = xmalloc(READ_CHUNK);
    }
    size_t scanned = c->in_scan - c->in_off;
    if (part) {
        memcpy(h->scratch, c->in + c->in_off, part);
    }
    free(c->in);
    c->in = h->scratch;
    c->in_cap = READ_CHUNK;
    c->in_off = 0;
    c->in_len = part;
    c->in_scan = scanned;
}

void client_read(oocsi_hub *h, client *c)
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
        in_prepare(h, c);
        n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            budget -= (size_t)n < budget ? (size_t)n : budget;
            process_lines(h, c);
            in_keep(h, c);
            continue;
        }
        in_keep(h, c);
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
