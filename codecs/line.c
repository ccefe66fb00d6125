/*
 * The "line" codec: the OOCSI TCP line protocol (described in codecs/README.md), used by
 * the tcp and tls transports. Sans-I/O: one line (without its LF) in, one
 * event out; one command in, one line (without its LF) appended out.
 *
 * Per-connection state: only whether the welcome line has been seen. Before
 * it, lines are handshake replies (welcome / error); after it, messages,
 * pings, pongs, bye and query answers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_util.h"
#include "oocsi/codec.h"

/* ----------------------------------------------------------- helpers */

/* First occurrence of lit in s[0..n), or NULL (s need not be NUL-terminated). */
static const char *find(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    const char *p = s, *end = s + n;

    while (m > 0 && (size_t)(end - p) >= m) {
        const char *q = memchr(p, lit[0], (size_t)(end - p) - m + 1);
        if (q == NULL) {
            return NULL;
        }
        if (memcmp(q, lit, m) == 0) {
            return q;
        }
        p = q + 1;
    }
    return NULL;
}

/* ------------------------------------------------------ handshake */

static int decode_welcome(oocsi__welcome_state *st, const char *s, size_t n, const char *w, oocsi_event *ev)
{
    const char *name = w + 8; /* strlen("welcome ") */
    const char *end = s + n;

    if (s[0] == '{') {
        /* {'message' : "welcome NAME"}: up to the closing quote */
        const char *q = memchr(name, '"', (size_t)(end - name));
        if (q != NULL) {
            end = q;
        }
    } else {
        /* welcome NAME, or the PD form welcome NAME; */
        while (end > name && (end[-1] == ';' || oocsi__is_space((unsigned char)end[-1]))) {
            end--;
        }
    }
    while (name < end && oocsi__is_space((unsigned char)*name)) {
        name++;
    }
    while (end > name && oocsi__is_space((unsigned char)end[-1])) {
        end--;
    }
    if (oocsi__set_text(ev, OOCSI_EVENT_WELCOME, name, (size_t)(end - name), 0) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    st->welcomed = 1;
    return OOCSI_OK;
}

static int decode_handshake(oocsi__welcome_state *st, const char *s, size_t n, oocsi_event *ev)
{
    const char *w;

    if (oocsi__starts_with(s, n, "error")) {
        if (find(s, n, "already registered") != NULL) {
            ev->err = OOCSI_ERR_HANDLE_TAKEN;
        } else if (find(s, n, "password wrong") != NULL) {
            ev->err = OOCSI_ERR_AUTH;
        } else {
            ev->err = OOCSI_ERR_PROTOCOL;
        }
        if (oocsi__set_text(ev, OOCSI_EVENT_REJECTED, s, n, 0) != OOCSI_OK) {
            ev->err = 0;
            return OOCSI_ERR_NOMEM;
        }
        return OOCSI_OK;
    }
    if (oocsi__equals(s, n, "ping")) {
        ev->type = OOCSI_EVENT_PING;
        return OOCSI_OK;
    }
    w = find(s, n, "welcome ");
    if (w != NULL) {
        return decode_welcome(st, s, n, w, ev);
    }
    ev->type = OOCSI_EVENT_NONE;
    return OOCSI_OK;
}

/* ------------------------------------------------------- messages */

/* The raw scanner below runs only on text cJSON has accepted; it still
 * checks every bound and gives up on anything unexpected. Whitespace is
 * what cJSON skips (bytes <= 32). */
static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (unsigned char)s[i] <= 32) {
        i++;
    }
    return i;
}

/* s[i] == '"'; returns the index after the closing quote, or n. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return n;
}

static size_t skip_value(const char *s, size_t i, size_t n)
{
    size_t depth = 0;

    if (i >= n) {
        return n;
    }
    if (s[i] == '"') {
        return skip_string(s, i, n);
    }
    if (s[i] != '{' && s[i] != '[') {
        while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && (unsigned char)s[i] > 32) {
            i++;
        }
        return i;
    }
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, i, n);
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                return i + 1;
            }
        }
        i++;
    }
    return n;
}

static int key_is(const char *key, size_t kn, int escaped, const char *lit, size_t m);

/* Exact integer of the last top-level "timestamp" value in the object text,
 * for values beyond 2^53 that a double cannot hold. 1 on success. */
static int raw_timestamp(const char *s, size_t n, int64_t *out)
{
    size_t i = skip_ws(s, 0, n), vs = 0, ve = 0, k;
    int found = 0, neg = 0;
    uint64_t v = 0, limit;

    if (i >= n || s[i] != '{') {
        return 0;
    }
    i++;
    for (;;) {
        size_t ks, ke;
        i = skip_ws(s, i, n);
        if (i >= n || s[i] != '"') {
            break;
        }
        ks = i + 1;
        i = skip_string(s, i, n);
        if (i >= n) {
            return 0;
        }
        ke = i - 1;
        i = skip_ws(s, i, n);
        if (i >= n || s[i] != ':') {
            return 0;
        }
        i = skip_ws(s, i + 1, n);
        k = skip_value(s, i, n);
        if (key_is(s + ks, ke - ks, memchr(s + ks, '\\', ke - ks) != NULL, "timestamp", 9)) {
            vs = i;
            ve = k;
            found = 1;
        }
        i = skip_ws(s, k, n);
        if (i >= n || s[i] != ',') {
            break;
        }
        i++;
    }
    if (!found || vs >= ve) {
        return 0;
    }
    if (s[vs] == '-') {
        neg = 1;
        vs++;
    }
    if (vs >= ve) {
        return 0;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (k = vs; k < ve; k++) {
        unsigned d;
        if (s[k] < '0' || s[k] > '9') {
            return 0; /* fraction or exponent: not an integer literal */
        }
        d = (unsigned)(s[k] - '0');
        if (v > (limit - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    if (neg) {
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    } else {
        *out = (int64_t)v;
    }
    return 1;
}

static char *dup_string_item(const cJSON *item)
{
    const char *s = (item != NULL && cJSON_IsString(item) && item->valuestring != NULL) ? item->valuestring : "";
    return oocsi__text_copy(s, strlen(s), 1);
}

/* The line starts with '{'. s[0..n) is trimmed and clean. */
static int decode_json(const char *s, size_t n, oocsi_event *ev)
{
    cJSON *root, *it, *next;
    cJSON *snd = NULL, *rcp = NULL, *ts = NULL;

    root = oocsi__parse_whole(s, n);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return oocsi__set_invalid(ev, s, n); /* a short prefix of the line */
    }

    /* take the envelope keys out of the payload (the last of duplicates wins) */
    for (it = root->child; it != NULL; it = next) {
        cJSON **slot = NULL;
        next = it->next;
        if (it->string == NULL) {
            continue;
        }
        if (strcmp(it->string, "sender") == 0) {
            slot = &snd;
        } else if (strcmp(it->string, "recipient") == 0) {
            slot = &rcp;
        } else if (strcmp(it->string, "timestamp") == 0) {
            slot = &ts;
        }
        if (slot != NULL) {
            cJSON_DetachItemViaPointer(root, it);
            cJSON_Delete(*slot);
            *slot = it;
        }
    }

    ev->sender = dup_string_item(snd);
    ev->recipient = dup_string_item(rcp);
    if (ts != NULL && cJSON_IsNumber(ts)) {
        double d = ts->valuedouble;
        int64_t exact;
        if ((d >= 9007199254740992.0 || d <= -9007199254740992.0) && raw_timestamp(s, n, &exact) &&
            (double)exact == d) {
            ev->timestamp = exact;
        } else {
            ev->timestamp = oocsi__clamp_i64(d);
        }
    }
    cJSON_Delete(snd);
    cJSON_Delete(rcp);
    cJSON_Delete(ts);
    if (ev->sender == NULL || ev->recipient == NULL) {
        cJSON_Delete(root);
        oocsi_event_clear(ev);
        return OOCSI_ERR_NOMEM;
    }
    ev->type = OOCSI_EVENT_MESSAGE;
    ev->data = root;
    return OOCSI_OK;
}

/* ---------------------------------------------- messages, unparsed */

/* The envelope of a message as oocsi_json_scan_object() reports its
 * members: the last of duplicate keys wins, as in decode_json(). */
typedef struct envelope {
    const char *snd, *rcp, *ts;
    size_t snd_n, rcp_n, ts_n;
    int special;
} envelope;

static int key_is(const char *key, size_t kn, int escaped, const char *lit, size_t m)
{
    char small[64];
    if (!escaped) {
        return kn == m && memcmp(key, lit, m) == 0;
    }
    /* Decoded, as cJSON reads keys (C strings): an escaped NUL ends the key,
     * so "timestamp\u0000..." is "timestamp" on both decoding paths. A
     * decoded key is never longer than its text. */
    char *buf = kn < sizeof small ? small : malloc(kn + 1);
    if (buf == NULL) {
        return 0;
    }
    size_t n = oocsi_json_unescape(key, kn, buf);
    int same = strnlen(buf, n) == m && memcmp(buf, lit, m) == 0;
    if (buf != small) {
        free(buf);
    }
    return same;
}

static void on_member(const char *key, size_t kn, const char *val, size_t vn, void *user)
{
    envelope *e = user;
    int escaped = memchr(key, '\\', kn) != NULL;
    if (escaped || (kn > 0 && key[0] == '_')) {
        e->special = 1;
    }
    if (key_is(key, kn, escaped, "sender", 6)) {
        e->snd = val;
        e->snd_n = vn;
    } else if (key_is(key, kn, escaped, "recipient", 9)) {
        e->rcp = val;
        e->rcp_n = vn;
    } else if (key_is(key, kn, escaped, "timestamp", 9)) {
        e->ts = val;
        e->ts_n = vn;
    }
}

/* The content of a string value (between its quotes), or "" for any other. */
static void string_content(const char **p, size_t *n)
{
    if (*p != NULL && *n >= 2 && (*p)[0] == '"') {
        (*p)++;
        *n -= 2;
    } else {
        *p = "";
        *n = 0;
    }
}

/* A timestamp value: exact for integer literals within int64, else through
 * a double (saturated), 0 for anything but a number. */
static int64_t timestamp_of(const char *v, size_t n)
{
    size_t i = 0;
    int neg = 0;
    uint64_t acc = 0, limit;
    char tmp[64];

    if (v == NULL || n == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9'))) {
        return 0;
    }
    if (v[0] == '-') {
        neg = 1;
        i = 1;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned d = (unsigned)(v[i] - '0');
        if (d > 9 || acc > (limit - d) / 10) {
            break;
        }
        acc = acc * 10 + d;
    }
    if (i == n) {
        return neg ? (acc == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    }
    /* a fraction, an exponent or more digits than int64 holds: a double */
    char *t = n < sizeof(tmp) ? tmp : malloc(n + 1);
    if (t == NULL) {
        return 0;
    }
    memcpy(t, v, n);
    t[n] = '\0';
    int64_t r = oocsi__clamp_i64(strtod(t, NULL));
    if (t != tmp) {
        free(t);
    }
    return r;
}

/* A message line that oocsi_json_scan_object() accepts becomes one
 * allocation: the line's text, then the sender and the recipient. Returns
 * OOCSI_OK, OOCSI_ERR_NOMEM, or 1 when the line is not for this path. */
static int decode_unparsed(const char *s, size_t n, oocsi_event *ev)
{
    envelope e;
    char *block;

    memset(&e, 0, sizeof(e));
    if (oocsi_json_scan_object(s, n, on_member, &e, NULL) < 0) {
        return 1;
    }
    string_content(&e.snd, &e.snd_n);
    string_content(&e.rcp, &e.rcp_n);
    if (n > SIZE_MAX - 3 - e.snd_n - e.rcp_n) {
        return OOCSI_ERR_NOMEM;
    }
    block = malloc(n + 3 + e.snd_n + e.rcp_n);
    if (block == NULL) {
        return OOCSI_ERR_NOMEM;
    }
    memcpy(block, s, n);
    block[n] = '\0';
    ev->sender = block + n + 1;
    ev->recipient = ev->sender + oocsi_json_unescape(e.snd, e.snd_n, ev->sender) + 1;
    (void)oocsi_json_unescape(e.rcp, e.rcp_n, ev->recipient);
    ev->timestamp = timestamp_of(e.ts, e.ts_n);
    ev->json = block;
    ev->json_len = n;
    ev->json_packed = 1;
    ev->json_special = e.special;
    ev->type = OOCSI_EVENT_MESSAGE;
    return OOCSI_OK;
}

/* --------------------------------------------------------- vtable */

/* s[0..n) is trimmed. */
static int line_decode_one(oocsi__welcome_state *st, const char *s, size_t n, oocsi_event *ev)
{
    char *clean = NULL;
    int rc;

    if (!st->welcomed) {
        rc = decode_handshake(st, s, n, ev);
    } else if (n == 0) {
        ev->type = OOCSI_EVENT_NONE;
        rc = OOCSI_OK;
    } else if (s[0] == '{') {
        /* fast path: one validity scan, one parse; repair a copy only when
         * the line holds invalid UTF-8 or NUL bytes */
        if (oocsi__make_clean(&s, &n, &clean) != OOCSI_OK) {
            return OOCSI_ERR_NOMEM;
        }
        rc = decode_json(s, n, ev);
    } else if (s[0] == '.') {
        ev->type = OOCSI_EVENT_PONG;
        rc = OOCSI_OK;
    } else if (oocsi__equals(s, n, "ping")) {
        ev->type = OOCSI_EVENT_PING;
        rc = OOCSI_OK;
    } else if (oocsi__equals(s, n, "bye")) {
        ev->type = OOCSI_EVENT_BYE;
        rc = OOCSI_OK;
    } else {
        /* a query answer ("a, b, c", "h1,h2"), or any other text */
        rc = oocsi__set_text(ev, OOCSI_EVENT_TEXT, s, n, 0);
    }
    free(clean);
    return rc;
}

static int line_decode(void *state, const char *frame, size_t len, oocsi_event *ev)
{
    return oocsi__decode(state, frame, len, ev, line_decode_one);
}

/* As line_decode_one, messages in their unparsed form where they can be. */
static int line_decode_one_lazy(oocsi__welcome_state *st, const char *s, size_t n, oocsi_event *ev)
{
    if (st->welcomed && n > 0 && s[0] == '{') {
        int rc = decode_unparsed(s, n, ev);
        if (rc <= 0) {
            return rc;
        }
        /* invalid UTF-8, NUL bytes, JSON only cJSON takes: the parsing path */
    }
    return line_decode_one(st, s, n, ev);
}

static int line_decode_lazy(void *state, const char *frame, size_t len, oocsi_event *ev)
{
    return oocsi__decode(state, frame, len, ev, line_decode_one_lazy);
}

static int append_all(oocsi_buf *out, const char *a, const char *b, size_t blen, const char *c, size_t clen)
{
    int rc = oocsi_buf_append_str(out, a);
    if (rc == OOCSI_OK && b != NULL) {
        rc = oocsi_buf_append(out, b, blen);
    }
    if (rc == OOCSI_OK && c != NULL) {
        rc = oocsi_buf_append(out, c, clen);
    }
    return rc;
}

/* cmd and out are not NULL; oocsi__encode() undoes a partial append. */
static int line_encode_one(const oocsi_command *cmd, oocsi_buf *out)
{
    int rc;

    switch (cmd->type) {
    case OOCSI_CMD_HELLO: /* the handle was checked by oocsi__encode() */
        rc = append_all(out, cmd->arg, "(JSON)", 6, NULL, 0);
        break;
    case OOCSI_CMD_SEND:
        if (!oocsi__send_ok(cmd)) {
            return OOCSI_ERR_INVAL;
        }
        rc = append_all(out, "sendraw ", cmd->arg, strlen(cmd->arg), " ", 1);
        if (rc == OOCSI_OK) {
            rc = oocsi_buf_append(out, cmd->payload, cmd->payload_len);
        }
        break;
    case OOCSI_CMD_SUBSCRIBE:
    case OOCSI_CMD_UNSUBSCRIBE:
    case OOCSI_CMD_SUBSCRIBERS:
        if (cmd->type == OOCSI_CMD_SUBSCRIBERS ? !oocsi__word_ok(cmd->arg) : !oocsi__rest_of_line_ok(cmd->arg)) {
            return OOCSI_ERR_INVAL;
        }
        rc = append_all(out,
                        cmd->type == OOCSI_CMD_SUBSCRIBE     ? "subscribe "
                        : cmd->type == OOCSI_CMD_UNSUBSCRIBE ? "unsubscribe "
                                                             : "channels ",
                        cmd->arg, strlen(cmd->arg), NULL, 0);
        break;
    case OOCSI_CMD_PING:
    case OOCSI_CMD_PONG:
    case OOCSI_CMD_QUIT:
    case OOCSI_CMD_CHANNELS:
    case OOCSI_CMD_CLIENTS:
        /* commands without arguments: one fixed word each */
        rc = oocsi_buf_append_str(out, cmd->type == OOCSI_CMD_PING       ? "ping"
                                       : cmd->type == OOCSI_CMD_PONG     ? "."
                                       : cmd->type == OOCSI_CMD_QUIT     ? "quit"
                                       : cmd->type == OOCSI_CMD_CHANNELS ? "channels"
                                                                         : "clients");
        break;
    default:
        return OOCSI_ERR_UNSUPPORTED;
    }
    return rc;
}

OOCSI__DEFINE_CODEC(line, "line",
                    OOCSI_CODEC_QUERIES | OOCSI_CODEC_PING_BARRIER | OOCSI_CODEC_QUIT | OOCSI_CODEC_PASSWORDS,
                    line_decode_lazy)
