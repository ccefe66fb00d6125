/*
 * Input: reading from the transport, splitting lines (stream transports) or
 * taking whole frames (framed ones), decoding events and acting on them:
 * welcome, refusal, ping/pong, query answers, call responses and messages
 * (queued as notifications for dispatch).
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

#define READ_CHUNK 65536
#define READ_BUDGET (64u * 1024) /* bytes read per loop step before the handlers run */

void oocsi__remember_done(oocsi_client *c, const char *id)
{
    memcpy(c->done_ids[c->done_next % 64], id, 40);
    c->done_next++;
}

static int was_done(const oocsi_client *c, const char *id)
{
    for (unsigned i = 0; i < 64; i++)
        if (c->done_ids[i][0] && strcmp(c->done_ids[i], id) == 0)
            return 1;
    return 0;
}

static oocsi__call *take_call(oocsi_client *c, const char *id)
{
    for (oocsi__call **pp = &c->calls; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            oocsi__call *k = *pp;
            *pp = k->next;
            return k;
        }
    }
    return NULL;
}

static void on_pong(oocsi_client *c);

/* The server refused something on an open connection (a budget, a value it
 * does not take): the application sees its words in the log and in
 * oocsi_last_error(c); the connection goes on. */
static void server_error(oocsi_client *c, const char *text)
{
    oocsi__log(c, OOCSI_LOG_WARN, "the server refused a request: %s", text ? text : "");
    oocsi__set_error(c, "server: %s", text ? text : "");
}

/* A collecting call (oocsi_call_and_collect) takes every answer until its
 * deadline or its count. Returns 1 if ev was such an answer. */
static int collect_answer(oocsi_client *c, const char *id, oocsi_event *ev)
{
    oocsi__call *k = c->calls;
    while (k && strcmp(k->id, id) != 0)
        k = k->next;
    if (!k || !k->w || !k->w->answers)
        return 0;
    oocsi__delete_key(ev->data, "_MESSAGE_ID"); /* id points into it: use k->id from here on */
    cJSON *a = cJSON_CreateObject();
    if (a && cJSON_AddStringToObject(a, "responder", ev->sender) && cJSON_AddItemToObject(a, "response", ev->data)) {
        ev->data = NULL;
        cJSON_AddItemToArray(k->w->answers, a);
    } else {
        cJSON_Delete(a);
    }
    if (k->w->max_answers && (size_t)cJSON_GetArraySize(k->w->answers) >= k->w->max_answers) {
        take_call(c, k->id);
        oocsi__remember_done(c, k->id);
        k->w->done = 1;
        k->w->result = OOCSI_OK;
        oocsi__signal(c);
        free(k);
    }
    return 1;
}

/* Queues a notification that takes over the event's sender, recipient and
 * data. Returns it (to add call fields), or NULL when out of memory. */
static oocsi__note *note_from_event(oocsi_client *c, int kind, oocsi_event *ev)
{
    oocsi__note *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    if (kind == NOTE_MESSAGE && c->in_callback && c->notes_bytes > 0 &&
        c->notes_bytes + c->frame_len > c->opts.pending_max_bytes) {
        /* Only while the application blocks and cannot run handlers. */
        free(n);
        if (c->notes_dropped++ == 0)
            oocsi__log(c, OOCSI_LOG_WARN,
                       "more than %zu bytes of messages wait for their handlers while the application is blocked "
                       "(a call, subscribe or query): dropping messages until they have run "
                       "(oocsi_options_set_pending_limit() raises the bound; oocsi_loop_start() runs handlers "
                       "during such waits)",
                       c->opts.pending_max_bytes);
        return NULL;
    }
    n->bytes = kind == NOTE_MESSAGE ? c->frame_len : 0;
    c->notes_bytes += n->bytes;
    n->kind = kind;
    n->msg.sender = ev->sender ? ev->sender : "";
    n->msg.recipient = ev->recipient ? ev->recipient : "";
    n->msg.timestamp = ev->timestamp;
    n->msg.data = ev->data;
    n->msg.json = ev->json;
    n->msg.json_len = ev->json_len;
    n->msg.special = ev->json_special;
    n->own_json = ev->json;
    if (!ev->json_packed) {
        n->own_sender = ev->sender;
        n->own_recipient = ev->recipient;
    }
    ev->sender = ev->recipient = ev->json = NULL;
    ev->json_packed = 0;
    ev->data = NULL;
    oocsi__note_push(c, n);
    return n;
}

/* 1 if the message text has a string member _MESSAGE_ID and no
 * _MESSAGE_HANDLE: perhaps the answer to one of our calls. */
static int maybe_answer(const oocsi_event *ev)
{
    oocsi_message m = {ev->sender, ev->recipient, ev->timestamp, NULL, ev->json, ev->json_len, 1};
    oocsi__json_span v;
    return oocsi__message_value(&m, "_MESSAGE_ID", &v) == 1 && v.n > 0 && v.p[0] == '"' &&
           oocsi__message_value(&m, "_MESSAGE_HANDLE", &v) == 0;
}

static void on_message(oocsi_client *c, oocsi_event *ev)
{
    if (ev->json) {
        /* Most messages: no key begins with '_', so no call answer and no
         * barrier; they stay text until a handler asks for more. */
        int tree = ev->json_special && (!oocsi__codec_has(c, OOCSI_CODEC_PING_BARRIER) || maybe_answer(ev));
        if (!tree) {
            note_from_event(c, NOTE_MESSAGE, ev);
            return;
        }
        if (oocsi__event_make_tree(ev) != OOCSI_OK) {
            oocsi__log(c, OOCSI_LOG_WARN, "out of memory: a message from %s is lost", ev->sender);
            return;
        }
    }
    if (!oocsi__codec_has(c, OOCSI_CODEC_PING_BARRIER) && c->handle && strcmp(ev->sender, c->handle) == 0 &&
        strcmp(ev->recipient, c->handle) == 0 && cJSON_GetObjectItemCaseSensitive(ev->data, BARRIER_KEY)) {
        on_pong(c); /* our own barrier came back */
        return;
    }
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(ev->data, "_MESSAGE_ID");
    if (cJSON_IsString(mid) && !cJSON_GetObjectItemCaseSensitive(ev->data, "_MESSAGE_HANDLE")) {
        if (was_done(c, mid->valuestring)) {
            oocsi__log(c, OOCSI_LOG_DEBUG, "dropping a late or duplicate response from %s", ev->sender);
            return;
        }
        {
            if (collect_answer(c, mid->valuestring, ev))
                return;
            oocsi__call *k = take_call(c, mid->valuestring);
            if (k) {
                oocsi__remember_done(c, k->id);
                oocsi__delete_key(ev->data, "_MESSAGE_ID");
                if (k->w) {
                    k->w->response = ev->data;
                    ev->data = NULL;
                    k->w->responder = ev->sender;
                    ev->sender = NULL;
                    k->w->done = 1;
                    k->w->result = OOCSI_OK;
                    oocsi__signal(c);
                } else {
                    oocsi__note *n = note_from_event(c, NOTE_CALL, ev);
                    if (n) {
                        n->call_fn = k->fn;
                        n->call_user = k->user;
                    }
                }
                free(k);
                return;
            }
        }
    }
    note_from_event(c, NOTE_MESSAGE, ev);
}

static void on_pong(oocsi_client *c)
{
    oocsi__pingw *p = c->pings_head;
    if (!p)
        return;
    c->pings_head = p->next;
    if (!c->pings_head)
        c->pings_tail = NULL;
    if (p->w) {
        p->w->done = 1;
        p->w->result = OOCSI_OK;
    }
    int kind = p->kind;
    free(p);
    if (kind == PW_RESUB && c->st == CS_RESUB)
        oocsi__go_online(c);
    oocsi__signal(c);
}

/* Handles one decoded event. Returns 0 to go on, -1 when the connection
 * ended. */
static int handle_event(oocsi_client *c, oocsi_event *ev)
{
    switch (ev->type) {
    case OOCSI_EVENT_NONE:
        break;
    case OOCSI_EVENT_WELCOME:
        if (c->st == CS_HANDSHAKE)
            oocsi__on_welcome(c, ev->text ? ev->text : "");
        break;
    case OOCSI_EVENT_REJECTED:
        if (c->st == CS_HANDSHAKE) {
            oocsi__log(c, c->initial ? OOCSI_LOG_ERROR : OOCSI_LOG_WARN, "server refused handle: %s",
                       ev->text ? ev->text : "");
            oocsi__set_error(c, "server: %s", ev->text ? ev->text : "");
            int err = ev->err ? ev->err : OOCSI_ERR_PROTOCOL;
            oocsi__attempt_why(c, OOCSI_LOG_ERROR, "the server refused the handle \"%s\": %s", c->handle,
                               ev->text ? ev->text : "");
            oocsi__report_attempt(c, err);
            if (!c->initial && err == OOCSI_ERR_AUTH) {
                oocsi__give_up(c, OOCSI_ERR_AUTH);
                return -1;
            }
            if (c->initial) {
                oocsi__close_transport(c);
                c->initial_result = err;
                c->st = CS_IDLE;
                return -1;
            }
            /* Reconnecting: the server may still hold our old connection's
             * name; retry with backoff. */
            oocsi__close_transport(c);
            c->last_attempt_err = err;
            c->ep_tried = c->n_eps;
            oocsi__schedule_retry(c, err);
            return -1;
        }
        server_error(c, ev->text);
        break;
    case OOCSI_EVENT_PING:
        oocsi__emit(c, OOCSI_CMD_PONG, NULL, NULL, 0);
        break;
    case OOCSI_EVENT_PONG:
        on_pong(c);
        break;
    case OOCSI_EVENT_BYE:
        oocsi__log(c, c->close_requested ? OOCSI_LOG_DEBUG : OOCSI_LOG_INFO, "server said bye");
        break;
    case OOCSI_EVENT_TEXT:
        if (ev->text && strncmp(ev->text, "error (", 7) == 0) {
            server_error(c, ev->text); /* never a query's answer */
        } else if (c->pings_head && c->pings_head->kind == PW_QUERY && c->pings_head->w) {
            oocsi__waiter *w = c->pings_head->w;
            if (w->text.len == 0 && ev->text)
                oocsi_buf_append_str(&w->text, ev->text);
        } else {
            oocsi__log(c, OOCSI_LOG_DEBUG, "ignoring line: %.80s", ev->text ? ev->text : "");
        }
        break;
    case OOCSI_EVENT_MESSAGE:
        if (c->st == CS_ONLINE || c->st == CS_RESUB)
            on_message(c, ev);
        break;
    case OOCSI_EVENT_INVALID:
        oocsi__log(c, OOCSI_LOG_DEBUG, "skipping a line the codec cannot read: %.80s", ev->text ? ev->text : "");
        break;
    }
    return 0;
}

static int handle_frame(oocsi_client *c, const char *frame, size_t len)
{
    oocsi_event ev;
    memset(&ev, 0, sizeof(ev));
    c->frame_len = len;
    int rc = (c->codec->decode_lazy ? c->codec->decode_lazy : c->codec->decode)(c->cs, frame, len, &ev);
    if (rc != OOCSI_OK) {
        oocsi_event_clear(&ev);
        oocsi__log(c, OOCSI_LOG_WARN, "decoding failed: %s", oocsi_strerror(rc));
        return 0;
    }
    int r = handle_event(c, &ev);
    oocsi_event_clear(&ev);
    return r;
}

static int in_reserve(oocsi_client *c, size_t extra)
{
    if (c->in_cap - c->in_len >= extra)
        return 0;
    size_t need = c->in_len + extra;
    size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
    while (cap < need)
        cap *= 2;
    char *n = realloc(c->in, cap);
    if (!n)
        return -1;
    c->in = n;
    c->in_cap = cap;
    return 0;
}

/* A line over the limit is dropped, not the connection: the line protocol
 * resynchronises at the next newline, and a reset would only bring the same
 * line again (a retained message, say) in a reconnect loop. */
static void report_skipped_line(oocsi_client *c, size_t bytes)
{
    oocsi__log(c, OOCSI_LOG_WARN,
               "skipped a line of %zu bytes from the server: longer than the limit of %zu bytes (the message in it "
               "is lost; oocsi_options_set_max_line_length() raises the limit)",
               bytes, c->opts.max_line);
    oocsi__set_error(c, "skipped a %zu-byte line from the server (limit %zu bytes)", bytes, c->opts.max_line);
    c->in_skipped = 0;
}

/* In an over-long line: drops input up to its newline. Returns 1 while the
 * line goes on (everything buffered was dropped), 0 once it ended. */
static int skip_long_line(oocsi_client *c)
{
    char *nl = memchr(c->in, '\n', c->in_len);
    size_t drop = nl ? (size_t)(nl - c->in) + 1 : c->in_len;
    c->in_skipped += nl ? drop - 1 : drop;
    memmove(c->in, c->in + drop, c->in_len - drop);
    c->in_len -= drop;
    c->in_scan = 0;
    if (!nl)
        return 1;
    report_skipped_line(c, c->in_skipped);
    return 0;
}

/* Splits complete lines out of the input buffer. */
static int process_lines(oocsi_client *c)
{
    if (c->in_skipped && skip_long_line(c))
        return 0;
    size_t start = 0;
    while (c->tps) {
        char *nl = memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan);
        if (!nl) {
            c->in_scan = c->in_len;
            break;
        }
        size_t end = (size_t)(nl - c->in);
        c->in_scan = end + 1;
        if (end - start > c->opts.max_line) {
            report_skipped_line(c, end - start);
            start = end + 1;
            continue;
        }
        if (handle_frame(c, c->in + start, end - start) < 0)
            return -1;
        start = end + 1;
        if (!c->tps)
            return -1;
    }
    if (start > 0 && c->tps) {
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
        c->in_scan -= start;
    }
    if (c->tps && c->in_len > c->opts.max_line) {
        /* The line under way is already too long: drop what came of it. */
        c->in_skipped = c->in_len;
        c->in_len = c->in_scan = 0;
    }
    return 0;
}

/* Reads what is available. */
static void read_input(oocsi_client *c)
{
    size_t budget = READ_BUDGET;
    int framed = (c->tp->flags & OOCSI_TRANSPORT_FRAMED) != 0;
    while (c->tps && budget > 0) {
        /* Backpressure: with the bound of waiting messages reached, read on
         * only when handlers cannot run now (a blocking wait needs its answer). */
        if (c->notes_bytes >= c->opts.pending_max_bytes && !c->in_callback)
            break;
        ssize_t n;
        if (framed) {
            size_t want = c->tp->pending_frame ? c->tp->pending_frame(c->tps) : c->opts.max_line + 1;
            if (c->tp->pending_frame && want == 0)
                break;
            if (want > c->opts.max_line + 1)
                want = c->opts.max_line + 1;
            if (in_reserve(c, want) < 0) {
                oocsi__connection_lost(c, OOCSI_ERR_NOMEM, "out of memory");
                return;
            }
            n = c->tp->read(c->tps, c->in, want);
            if (n > 0) {
                c->last_rx = oocsi__now_ms();
                c->ka_ping_sent = 0;
                if ((size_t)n > c->opts.max_line) {
                    oocsi__connection_lost(c, OOCSI_ERR_PROTOCOL, "frame too long");
                    return;
                }
                if (handle_frame(c, c->in, (size_t)n) < 0)
                    return;
                budget -= budget < (size_t)n ? budget : (size_t)n;
                continue;
            }
        } else {
            if (in_reserve(c, READ_CHUNK) < 0) {
                oocsi__connection_lost(c, OOCSI_ERR_NOMEM, "out of memory");
                return;
            }
            n = c->tp->read(c->tps, c->in + c->in_len, c->in_cap - c->in_len);
            if (n > 0) {
                c->last_rx = oocsi__now_ms();
                c->ka_ping_sent = 0;
                c->in_len += (size_t)n;
                if (process_lines(c) < 0)
                    return;
                budget -= budget < (size_t)n ? budget : (size_t)n;
                continue;
            }
        }
        if (n == 0)
            return;
        oocsi__connection_lost(c, (int)n, n == OOCSI_ERR_CLOSED ? "server closed the connection" : "read failed");
        return;
    }
}

/* Idle this long on the read side before a send checks the peer. */
#define PEER_CHECK_IDLE_MS 1000

void oocsi__check_peer(oocsi_client *c)
{
    if (!c->tps || !c->tp->fd || c->in_wait || (c->loop_busy && !pthread_equal(c->loop_owner, pthread_self())))
        return; /* another thread drives the connection: it sees the end itself */
    /* At most once a second: a publisher that never receives pays one poll()
     * a second, not one per message. */
    int64_t now = oocsi__now_ms();
    if (now - c->last_rx < PEER_CHECK_IDLE_MS || now - c->peer_checked < PEER_CHECK_IDLE_MS)
        return;
    c->peer_checked = now;
    int fd = c->tp->fd(c->tps);
    if (fd < 0)
        return;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
        oocsi__service(c, OOCSI_EV_READABLE | ((p.revents & (POLLHUP | POLLERR)) ? OOCSI_EV_ERROR : 0));
}

/* Drives the transport after poll. */
void oocsi__service(oocsi_client *c, int events)
{
    if (!c->tps)
        return;
    int r = c->tp->process(c->tps, events);
    if (r < 0) {
        oocsi__connection_lost(c, r, "transport error");
        return;
    }
    if (c->st == CS_CONNECTING) {
        if (r == 0)
            return;
        c->st = CS_HANDSHAKE;
        c->last_rx = oocsi__now_ms();
        int hrc = oocsi__emit(c, OOCSI_CMD_HELLO, c->requested, NULL, 0);
        if (hrc != OOCSI_OK) {
            /* e.g. a password handle on a protocol without passwords */
            oocsi__attempt_why(c, OOCSI_LOG_WARN, "cannot say hello as %s over this endpoint: %s", c->handle,
                               hrc == OOCSI_ERR_UNSUPPORTED ? "its protocol has no password handles"
                                                            : oocsi_strerror(hrc));
            oocsi__attempt_failed(c, hrc);
            return;
        }
    }
    if (c->tps && (events & (OOCSI_EV_READABLE | OOCSI_EV_ERROR) || c->tp->wait))
        read_input(c);
    if (c->tps)
        oocsi__flush_out(c);
}
