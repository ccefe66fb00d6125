/*
 * Output: rendering payloads, encoding commands into the output buffer,
 * flushing it to the transport, keeping each message until its bytes left (so
 * it can be requeued when the connection drops), ping barriers, and sending a
 * message (queued while offline).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

int oocsi__codec_has(oocsi_client *c, unsigned cap)
{
    return c->codec && (c->codec->caps & cap);
}

/* Encodes one command as a frame + LF into the output buffer. */
int oocsi__emit(oocsi_client *c, oocsi_command_type type, const char *arg, const char *payload, size_t plen)
{
    oocsi_command cmd = {type, arg, payload, plen};
    size_t before = c->out.len;
    int rc = c->codec->encode(c->cs, &cmd, &c->out);
    if (rc == OOCSI_OK)
        rc = oocsi_buf_append(&c->out, "\n", 1);
    if (rc != OOCSI_OK) {
        c->out.len = before;
        if (c->out.data)
            c->out.data[before] = '\0';
    }
    return rc;
}

static void inflight_release(oocsi_client *c)
{
    uint64_t done = c->out_base + c->out_off;
    while (c->inflight_head && c->inflight_head->end <= done) {
        oocsi__qitem *f = c->inflight_head;
        c->inflight_head = f->next;
        oocsi__qitem_free(f);
    }
    if (!c->inflight_head)
        c->inflight_tail = NULL;
}

/* Writes what the transport takes now. Returns 0 or an error (connection
 * already handled as lost). */
int oocsi__flush_out(oocsi_client *c)
{
    if (!c->tp || !c->tps || c->st == CS_CONNECTING)
        return 0;
    int framed = (c->tp->flags & OOCSI_TRANSPORT_FRAMED) != 0;
    while (c->out_off < c->out.len) {
        const char *p = c->out.data + c->out_off;
        size_t avail = c->out.len - c->out_off;
        ssize_t n;
        if (framed) {
            const char *nl = memchr(p, '\n', avail);
            size_t flen = nl ? (size_t)(nl - p) : avail;
            n = c->tp->write(c->tps, p, flen);
            if (n > 0)
                n = (ssize_t)(flen + (nl ? 1 : 0));
        } else {
            n = c->tp->write(c->tps, p, avail);
        }
        if (n < 0) {
            oocsi__connection_lost(c, (int)n, "write failed");
            return (int)n;
        }
        if (n == 0)
            break;
        c->out_off += (size_t)n;
    }
    inflight_release(c);
    if (c->out_off == c->out.len) {
        c->out_base += c->out_off;
        c->out.len = 0;
        c->out_off = 0;
        if (c->out.data)
            c->out.data[0] = '\0';
        if (c->out.cap > 1024 * 1024) {
            oocsi_buf_free(&c->out);
        }
    } else if (c->out_off > 65536 && c->out_off * 2 > c->out.len) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out.data[c->out.len] = '\0';
        c->out_base += c->out_off;
        c->out_off = 0;
    }
    return 0;
}

/* Puts a message on the wire (ONLINE) keeping it until written. Takes it. */
int oocsi__emit_message(oocsi_client *c, oocsi__qitem *it)
{
    int rc = oocsi__emit(c, OOCSI_CMD_SEND, it->arg, it->payload, it->payload_len);
    if (rc != OOCSI_OK) {
        oocsi__qitem_free(it);
        return rc;
    }
    it->end = c->out_base + c->out.len;
    OOCSI__APPEND(c->inflight_head, c->inflight_tail, it);
    return OOCSI_OK;
}

/* Emits a frame whose answer proves the server processed every frame before
 * it: "ping" where the protocol answers it in order, else a direct message
 * to ourselves (servers deliver to the sender's own handle, in order). */
int oocsi__emit_barrier(oocsi_client *c)
{
    if (oocsi__codec_has(c, OOCSI_CODEC_PING_BARRIER))
        return oocsi__emit(c, OOCSI_CMD_PING, NULL, NULL, 0);
    static const char payload[] = "{\"" BARRIER_KEY "\":1}";
    if (!c->handle)
        return OOCSI_ERR_UNSUPPORTED;
    return oocsi__emit(c, OOCSI_CMD_SEND, c->handle, payload, sizeof(payload) - 1);
}

void oocsi__ping_push(oocsi_client *c, int kind, oocsi__waiter *w)
{
    oocsi__pingw *p = calloc(1, sizeof(*p));
    if (!p) {
        if (w) {
            w->done = 1;
            w->result = OOCSI_ERR_NOMEM;
        }
        return;
    }
    p->kind = kind;
    p->w = w;
    OOCSI__APPEND(c->pings_head, c->pings_tail, p);
}

void oocsi__pings_fail_all(oocsi_client *c, int err)
{
    while (c->pings_head) {
        oocsi__pingw *p = c->pings_head;
        c->pings_head = p->next;
        if (p->w && !p->w->done) {
            p->w->done = 1;
            /* A subscription stays recorded and is made on reconnect. */
            p->w->result = p->kind == PW_BARRIER ? OOCSI_OK : err;
        }
        free(p);
    }
    c->pings_tail = NULL;
}

/* Requeues messages whose bytes did not all leave, in order, ahead of the
 * offline queue, and clears the output buffer. */
void oocsi__requeue_unsent(oocsi_client *c)
{
    inflight_release(c);
    size_t n = 0;
    for (oocsi__qitem *f = c->inflight_head; f; f = f->next)
        n++;
    oocsi__qitem **items = n ? malloc(n * sizeof(*items)) : NULL;
    size_t k = 0;
    while (c->inflight_head) {
        oocsi__qitem *f = c->inflight_head;
        c->inflight_head = f->next;
        if (items)
            items[k++] = f;
        else
            oocsi__qitem_free(f); /* out of memory: cannot keep it */
    }
    c->inflight_tail = NULL;
    while (k > 0)
        oocsi__queue_push_front(&c->offline, items[--k]);
    free(items);
    c->out.len = 0;
    c->out_off = 0;
    c->out_base = 0;
    if (c->out.data)
        c->out.data[0] = '\0';
}

void oocsi__delete_key(cJSON *obj, const char *key)
{
    while (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

int oocsi__render(const cJSON *data, char **out, size_t *len)
{
    if (!cJSON_IsObject(data))
        return OOCSI_ERR_INVAL;
    int err = OOCSI_OK;
    *out = oocsi_json_ascii(data, len, &err);
    if (!*out)
        return err ? err : OOCSI_ERR_NOMEM;
    return OOCSI_OK;
}

int oocsi__send_locked(oocsi_client *c, const char *recipient, const char *payload, size_t len)
{
    if (c->st == CS_CLOSED || c->close_requested)
        return OOCSI_ERR_CLOSED;
    if (c->st == CS_ONLINE)
        oocsi__check_peer(c);
    if (c->st != CS_ONLINE) {
        oocsi__qitem *it = oocsi__qitem_new(OOCSI_CMD_SEND, recipient, payload, len);
        if (!it)
            return OOCSI_ERR_NOMEM;
        int rc = oocsi__queue_push(&c->offline, it);
        if (rc != OOCSI_OK) {
            oocsi__qitem_free(it);
            oocsi__log(c, OOCSI_LOG_WARN, "offline queue full (%zu messages); message to %s not queued",
                       c->offline.count, recipient);
        }
        return rc;
    }
    if (c->out.len - c->out_off > c->opts.queue_max_bytes) {
        /* The server does not read (stalled peer): bound our memory. */
        oocsi__log(c, OOCSI_LOG_WARN, "outgoing buffer full (%zu bytes unsent); message to %s not sent",
                   c->out.len - c->out_off, recipient);
        return OOCSI_ERR_QUEUE_FULL;
    }
    /* Encoded straight from the caller's text. A copy is kept only when its
     * bytes did not all leave at once: to requeue it if the connection
     * drops before they do. */
    int rc = oocsi__emit(c, OOCSI_CMD_SEND, recipient, payload, len);
    if (rc != OOCSI_OK)
        return rc;
    uint64_t end = c->out_base + c->out.len;
    int frc = oocsi__flush_out(c);
    if (frc == 0 && c->out_base + c->out_off >= end)
        return OOCSI_OK; /* written */
    oocsi__qitem *it = oocsi__qitem_new(OOCSI_CMD_SEND, recipient, payload, len);
    if (!it) {
        oocsi__log(c, OOCSI_LOG_WARN, "out of memory: a message to %s may be lost if the connection drops", recipient);
        return OOCSI_OK;
    }
    if (frc != 0) {
        /* the connection dropped while writing it: the unsent messages
         * before it went to the offline queue; it follows them */
        oocsi__queue_push_back(&c->offline, it);
        return OOCSI_OK;
    }
    it->end = end;
    OOCSI__APPEND(c->inflight_head, c->inflight_tail, it);
    oocsi__poke(c);
    return OOCSI_OK;
}
