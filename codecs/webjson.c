/*
 * The "webjson" codec: the oocsi-web WebSocket protocol at /ws
 * (described in codecs/README.md), used by the ws and wss transports. Sans-I/O: one
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

#include "codec_util.h"
#include "oocsi/codec.h"

/* ----------------------------------------------------------- helpers */

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

/* ------------------------------------------------------ handshake */

/* s[0..n) is trimmed and clean. */
static int decode_handshake(oocsi__welcome_state *st, const char *s, size_t n, oocsi_event *ev)
{
    cJSON *root;
    const char *msg;
    int rc = OOCSI_OK;

    if (oocsi__equals(s, n, "ping")) {
        ev->type = OOCSI_EVENT_PING;
        return OOCSI_OK;
    }
    ev->type = OOCSI_EVENT_NONE;
    if (n == 0 || s[0] != '{') {
        return OOCSI_OK;
    }
    root = oocsi__parse_whole(s, n);
    if (root == NULL || !cJSON_IsObject(root) || (msg = string_member(root, "message")) == NULL) {
        cJSON_Delete(root);
        return OOCSI_OK;
    }

    if (oocsi__starts_with(msg, strlen(msg), "welcome ")) {
        /* {"message" : "welcome NAME"}: the name the server registered */
        const char *name = msg + 8, *end;
        while (oocsi__is_space((unsigned char)*name)) {
            name++;
        }
        end = name + strlen(name);
        while (end > name && oocsi__is_space((unsigned char)end[-1])) {
            end--;
        }
        if (end > name) {
            rc = oocsi__set_text(ev, OOCSI_EVENT_WELCOME, name, (size_t)(end - name), 1);
            if (rc == OOCSI_OK) {
                st->welcomed = 1;
            }
        }
    } else if (strstr(msg, "ERROR") != NULL && strstr(msg, "exists already") != NULL) {
        /* {"message" : "ERROR: client NAME exists already"} */
        rc = oocsi__set_text(ev, OOCSI_EVENT_REJECTED, msg, strlen(msg), 1);
        ev->err = rc == OOCSI_OK ? OOCSI_ERR_HANDLE_TAKEN : 0;
    } else if (oocsi__starts_with(msg, strlen(msg), "ERROR")) {
        rc = oocsi__set_text(ev, OOCSI_EVENT_REJECTED, msg, strlen(msg), 1);
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
    return oocsi__text_copy(s, strlen(s), 1);
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
        ev->timestamp = oocsi__clamp_i64(ts->valuedouble);
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

    if (oocsi__equals(s, n, "ping")) {
        ev->type = OOCSI_EVENT_PING;
        return OOCSI_OK;
    }
    root = oocsi__parse_whole(s, n);
    if (root == NULL) {
        if (s[0] == '{' || s[0] == '[') {
            return oocsi__set_invalid(ev, s, n); /* broken JSON */
        }
        return oocsi__set_text(ev, OOCSI_EVENT_TEXT, s, n, 1); /* plain text */
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root); /* an array, string, number, true/false/null */
        return oocsi__set_invalid(ev, s, n);
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
        rc = oocsi__set_text(ev, OOCSI_EVENT_TEXT, msg, strlen(msg), 1);
    } else {
        /* an object of no known shape */
        rc = oocsi__set_invalid(ev, s, n);
    }
    cJSON_Delete(root);
    return rc;
}

/* --------------------------------------------------------- vtable */

/* s[0..n) is trimmed. */
static int webjson_decode_one(oocsi__welcome_state *st, const char *s, size_t n, oocsi_event *ev)
{
    char *clean = NULL;
    int rc;

    if (n == 0) {
        ev->type = OOCSI_EVENT_NONE;
        return OOCSI_OK;
    }
    /* everything below works on valid UTF-8 without NUL bytes */
    if (oocsi__make_clean(&s, &n, &clean) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    if (!st->welcomed) {
        rc = decode_handshake(st, s, n, ev);
    } else {
        rc = decode_session(s, n, ev);
    }
    free(clean);
    return rc;
}

static int webjson_decode(void *state, const char *frame, size_t len, oocsi_event *ev)
{
    return oocsi__decode(state, frame, len, ev, webjson_decode_one);
}

/* cmd and out are not NULL; oocsi__encode() undoes a partial append. */
static int webjson_encode_one(const oocsi_command *cmd, oocsi_buf *out)
{
    int rc;

    switch (cmd->type) {
    case OOCSI_CMD_HELLO: /* the handle was checked by oocsi__encode() */
        if (strchr(cmd->arg, ':') != NULL) {
            return OOCSI_ERR_UNSUPPORTED; /* no password handles over /ws */
        }
        rc = oocsi_buf_append_str(out, cmd->arg); /* the bare handle */
        break;
    case OOCSI_CMD_SEND:
        if (!oocsi__send_ok(cmd)) {
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
        if (!oocsi__rest_of_line_ok(cmd->arg)) {
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
    return rc;
}

OOCSI__DEFINE_CODEC(webjson, "webjson", 0, NULL)
