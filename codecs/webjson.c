/*
 * The "webjson" codec: the oocsi-web WebSocket protocol at /ws
 * (PROTOCOL.md §19), used by the ws and wss transports. Sans-I/O: one
 * WebSocket text message (no terminator) in, one event out; one command in,
 * one message appended out.
 *
 * Per-connection state: only whether the welcome frame has been seen.
 * Before it, frames are handshake replies ({"message" : "welcome NAME"} or
 * {"message" : "ERROR: ..."}) and pings; after it, messages with the payload
 * nested under "data", pings, status frames and other text.
 *
 * The protocol has no queries, no client ping (so no ping barrier), no quit
 * and no password handles: the codec advertises none of those capabilities
 * and refuses the matching commands with OOCSI_ERR_UNSUPPORTED.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/codec.h"

typedef struct webjson_state {
    int welcomed;
} webjson_state;

/* Longest prefix of an unparseable frame kept in an INVALID event. */
#define WEBJSON_INVALID_PREFIX 80

/* ----------------------------------------------------------- helpers */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int equals(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, m) == 0;
}

static int starts_with(const char *s, const char *lit)
{
    return strncmp(s, lit, strlen(lit)) == 0;
}

/* Valid UTF-8 without NUL bytes: usable as is (as C string content too). */
static int is_clean(const char *s, size_t n)
{
    return memchr(s, 0, n) == NULL && oocsi_utf8_valid(s, n);
}

/* malloc'd NUL-terminated copy of s[0..n) (s is clean). */
static char *text_copy(const char *s, size_t n)
{
    char *t;

    if (n == SIZE_MAX) {
        return NULL;
    }
    t = malloc(n + 1);
    if (t == NULL) {
        return NULL;
    }
    memcpy(t, s, n);
    t[n] = '\0';
    return t;
}

static int set_text(oocsi_event *ev, oocsi_event_type type, const char *s, size_t n)
{
    ev->text = text_copy(s, n);
    if (ev->text == NULL) {
        return OOCSI_ERR_NOMEM;
    }
    ev->type = type;
    return OOCSI_OK;
}

/* INVALID with a short prefix of the frame, cut at a character boundary
 * (s is valid UTF-8). */
static int set_invalid(oocsi_event *ev, const char *s, size_t n)
{
    size_t k = n < WEBJSON_INVALID_PREFIX ? n : WEBJSON_INVALID_PREFIX;

    while (k > 0 && k < n && ((unsigned char)s[k] & 0xC0) == 0x80) {
        k--;
    }
    if (set_text(ev, OOCSI_EVENT_INVALID, s, k) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    ev->err = OOCSI_ERR_PROTOCOL;
    return OOCSI_OK;
}

/* Parses s[0..n) (clean) as one JSON value with nothing but whitespace after
 * it. NULL if it is not exactly that. cJSON bounds the nesting depth. */
static cJSON *parse_whole(const char *s, size_t n)
{
    const char *end = NULL, *p;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);

    if (root == NULL) {
        return NULL;
    }
    if (end == NULL || end < s || end > s + n) {
        cJSON_Delete(root);
        return NULL;
    }
    for (p = end; p < s + n; p++) {
        if (!is_space((unsigned char)*p)) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

/* The last top-level member named key (cJSON keeps duplicates; the last one
 * wins, as in the line codec), or NULL. */
static cJSON *last_member(const cJSON *obj, const char *key)
{
    cJSON *it, *found = NULL;

    for (it = obj->child; it != NULL; it = it->next) {
        if (it->string != NULL && strcmp(it->string, key) == 0) {
            found = it;
        }
    }
    return found;
}

/* The string value of the last member key, or NULL if absent / not a string. */
static const char *string_member(const cJSON *obj, const char *key)
{
    const cJSON *it = last_member(obj, key);
    return (it != NULL && cJSON_IsString(it) && it->valuestring != NULL) ? it->valuestring : NULL;
}

/* Saturating double -> int64 (NaN -> 0). */
static int64_t clamp_i64(double d)
{
    if (d != d) {
        return 0;
    }
    if (d >= 9223372036854775808.0) {
        return INT64_MAX;
    }
    if (d <= -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)d;
}

/* ------------------------------------------------------ handshake */

/* s[0..n) is trimmed and clean. */
static int decode_handshake(webjson_state *st, const char *s, size_t n, oocsi_event *ev)
{
    cJSON *root;
    const char *msg;
    int rc = OOCSI_OK;

    if (equals(s, n, "ping")) {
        ev->type = OOCSI_EVENT_PING;
        return OOCSI_OK;
    }
    ev->type = OOCSI_EVENT_NONE;
    if (n == 0 || s[0] != '{') {
        return OOCSI_OK;
    }
    root = parse_whole(s, n);
    if (root == NULL || !cJSON_IsObject(root) || (msg = string_member(root, "message")) == NULL) {
        cJSON_Delete(root);
        return OOCSI_OK;
    }

    if (starts_with(msg, "welcome ")) {
        /* {"message" : "welcome NAME"}: the name the server registered */
        const char *name = msg + 8, *end;
        while (is_space((unsigned char)*name)) {
            name++;
        }
        end = name + strlen(name);
        while (end > name && is_space((unsigned char)end[-1])) {
            end--;
        }
        if (end > name) {
            rc = set_text(ev, OOCSI_EVENT_WELCOME, name, (size_t)(end - name));
            if (rc == OOCSI_OK) {
                st->welcomed = 1;
            }
        }
    } else if (strstr(msg, "ERROR") != NULL && strstr(msg, "exists already") != NULL) {
        /* {"message" : "ERROR: client NAME exists already"} */
        rc = set_text(ev, OOCSI_EVENT_REJECTED, msg, strlen(msg));
        ev->err = rc == OOCSI_OK ? OOCSI_ERR_HANDLE_TAKEN : 0;
    } else if (starts_with(msg, "ERROR")) {
        rc = set_text(ev, OOCSI_EVENT_REJECTED, msg, strlen(msg));
        ev->err = rc == OOCSI_OK ? OOCSI_ERR_PROTOCOL : 0;
    }
    cJSON_Delete(root);
    return rc;
}

/* ------------------------------------------------------- messages */

static char *dup_string_member(const cJSON *obj, const char *key)
{
    const char *s = string_member(obj, key);
    if (s == NULL) {
        s = "";
    }
    return text_copy(s, strlen(s));
}

/* {"data": {...}, "recipient": "...", "sender": "...", "timestamp": n};
 * data is root's last "data" member. Takes ownership of root. */
static int decode_message(cJSON *root, cJSON *data, oocsi_event *ev)
{
    cJSON *ts = last_member(root, "timestamp");
    cJSON *payload;

    ev->sender = dup_string_member(root, "sender");
    ev->recipient = dup_string_member(root, "recipient");
    if (ts != NULL && cJSON_IsNumber(ts)) {
        ev->timestamp = clamp_i64(ts->valuedouble);
    }
    if (ev->sender == NULL || ev->recipient == NULL) {
        goto nomem;
    }

    cJSON_DetachItemViaPointer(root, data);
    if (cJSON_IsObject(data)) {
        payload = data;
    } else {
        /* the server wraps a non-JSON payload: keep it under "data" */
        payload = cJSON_CreateObject();
        if (payload == NULL || !cJSON_AddItemToObject(payload, "data", data)) {
            cJSON_Delete(payload);
            cJSON_Delete(data);
            goto nomem;
        }
    }
    /* the detached object may keep its member name; it is a root now */
    if (!(payload->type & cJSON_StringIsConst)) {
        cJSON_free(payload->string);
    }
    payload->string = NULL;
    payload->type &= ~cJSON_StringIsConst;

    cJSON_Delete(root);
    ev->type = OOCSI_EVENT_MESSAGE;
    ev->data = payload;
    return OOCSI_OK;

nomem:
    cJSON_Delete(root);
    oocsi_event_clear(ev);
    return OOCSI_ERR_NOMEM;
}

/* After the welcome. s[0..n) is trimmed, clean and not empty. */
static int decode_session(const char *s, size_t n, oocsi_event *ev)
{
    cJSON *root, *data;
    const char *msg;
    int rc;

    if (equals(s, n, "ping")) {
        ev->type = OOCSI_EVENT_PING;
        return OOCSI_OK;
    }
    root = parse_whole(s, n);
    if (root == NULL) {
        if (s[0] == '{' || s[0] == '[') {
            return set_invalid(ev, s, n); /* broken JSON */
        }
        return set_text(ev, OOCSI_EVENT_TEXT, s, n); /* plain text */
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root); /* an array, string, number, true/false/null */
        return set_invalid(ev, s, n);
    }

    data = last_member(root, "data");
    if (data != NULL) {
        return decode_message(root, data, ev);
    }
    if (last_member(root, "status") != NULL || last_member(root, "code") != NULL) {
        /* {"code": n, "status": "..."}: informational, nothing to do */
        cJSON_Delete(root);
        ev->type = OOCSI_EVENT_NONE;
        return OOCSI_OK;
    }
    msg = string_member(root, "message");
    if (msg != NULL) {
        rc = set_text(ev, OOCSI_EVENT_TEXT, msg, strlen(msg));
    } else {
        /* an object of no known shape */
        rc = set_invalid(ev, s, n);
    }
    cJSON_Delete(root);
    return rc;
}

/* --------------------------------------------------------- vtable */

static void *webjson_create(void)
{
    return calloc(1, sizeof(webjson_state));
}

static void webjson_destroy(void *state)
{
    free(state);
}

static void webjson_reset(void *state)
{
    if (state != NULL) {
        ((webjson_state *)state)->welcomed = 0;
    }
}

static int webjson_decode(void *state, const char *frame, size_t len, oocsi_event *ev)
{
    webjson_state *st = state;
    const char *s = frame;
    size_t n = len;
    char *clean = NULL;
    int rc;

    if (st == NULL || ev == NULL || (frame == NULL && len > 0)) {
        return OOCSI_ERR_INVAL;
    }
    if (s == NULL) {
        s = ""; /* an empty frame may come as NULL */
    }
    while (n > 0 && is_space((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && is_space((unsigned char)s[n - 1])) {
        n--;
    }
    if (n == 0) {
        ev->type = OOCSI_EVENT_NONE;
        return OOCSI_OK;
    }
    /* everything below works on valid UTF-8 without NUL bytes */
    if (!is_clean(s, n)) {
        clean = oocsi_utf8_sanitize(s, n, &n);
        if (clean == NULL) {
            return OOCSI_ERR_NOMEM;
        }
        s = clean;
    }
    if (!st->welcomed) {
        rc = decode_handshake(st, s, n, ev);
    } else {
        rc = decode_session(s, n, ev);
    }
    free(clean);
    return rc;
}

/* A recipient, channel or handle: non-empty, no whitespace or control
 * characters (they would break the space-separated fields). */
static int word_ok(const char *a)
{
    const unsigned char *p = (const unsigned char *)a;

    if (p == NULL || *p == 0) {
        return 0;
    }
    for (; *p != 0; p++) {
        if (*p <= 0x20 || *p == 0x7F) {
            return 0;
        }
    }
    return 1;
}

static int webjson_encode(void *state, const oocsi_command *cmd, oocsi_buf *out)
{
    size_t start;
    int rc;

    (void)state;
    if (cmd == NULL || out == NULL) {
        return OOCSI_ERR_INVAL;
    }
    start = out->data != NULL ? out->len : 0;

    switch (cmd->type) {
    case OOCSI_CMD_HELLO:
        if (!word_ok(cmd->arg)) {
            return OOCSI_ERR_INVAL;
        }
        if (strchr(cmd->arg, ':') != NULL) {
            return OOCSI_ERR_UNSUPPORTED; /* no password handles over /ws */
        }
        rc = oocsi_buf_append_str(out, cmd->arg); /* the bare handle */
        break;
    case OOCSI_CMD_SEND:
        if (!word_ok(cmd->arg) || cmd->payload == NULL || cmd->payload_len == 0 ||
            memchr(cmd->payload, '\n', cmd->payload_len) != NULL ||
            memchr(cmd->payload, '\r', cmd->payload_len) != NULL ||
            memchr(cmd->payload, '\0', cmd->payload_len) != NULL) {
            return OOCSI_ERR_INVAL;
        }
        rc = oocsi_buf_append(out, "sendjson ", 9);
        if (rc == OOCSI_OK) {
            rc = oocsi_buf_append_str(out, cmd->arg);
        }
        if (rc == OOCSI_OK) {
            rc = oocsi_buf_append(out, " ", 1);
        }
        if (rc == OOCSI_OK) {
            rc = oocsi_buf_append(out, cmd->payload, cmd->payload_len);
        }
        break;
    case OOCSI_CMD_SUBSCRIBE:
    case OOCSI_CMD_UNSUBSCRIBE:
        if (!word_ok(cmd->arg)) {
            return OOCSI_ERR_INVAL;
        }
        rc = oocsi_buf_append_str(out, cmd->type == OOCSI_CMD_SUBSCRIBE ? "subscribe " : "unsubscribe ");
        if (rc == OOCSI_OK) {
            rc = oocsi_buf_append_str(out, cmd->arg);
        }
        break;
    case OOCSI_CMD_PONG:
        rc = oocsi_buf_append(out, ".", 1);
        break;
    default:
        /* PING, QUIT, CHANNELS, SUBSCRIBERS, CLIENTS and unknown commands */
        return OOCSI_ERR_UNSUPPORTED;
    }
    if (rc != OOCSI_OK && out->data != NULL) {
        /* leave no partial frame behind */
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

static const oocsi_codec webjson_codec = {
    .name = "webjson",
    .caps = 0,
    .create = webjson_create,
    .destroy = webjson_destroy,
    .reset = webjson_reset,
    .decode = webjson_decode,
    .encode = webjson_encode,
};

const oocsi_codec *oocsi_codec_webjson(void)
{
    return &webjson_codec;
}
