/*
 * The messaging core: connection state machine, endpoint failover,
 * keep-alive, reconnect with backoff, the outgoing and offline queues, I/O,
 * timers, the loop, connect and close. The notification queue and dispatch
 * are in dispatch.c; the public send, subscription, query and call entry
 * points are in api.c.
 *
 * Locking: one mutex per client protects everything here. Transport and codec
 * calls are made with it held. User callbacks run without it, only on the
 * thread that owns the loop (oocsi_loop's caller or the background thread).
 * A thread that needs to wait (subscribe barrier, query, call_and_wait) either
 * drives the I/O itself (no owner, or it is the owner inside a callback:
 * notifications are queued, not dispatched) or waits on the condition
 * variable for the owner to make progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"

int oocsi__options_copy(oocsi_options *dst, const oocsi_options *src);
void oocsi__options_clear(oocsi_options *o);

#define READ_CHUNK 65536
#define READ_BUDGET (4u * 1024 * 1024) /* bytes read per loop step before yielding */
#define INITIAL_PENDING 1

/* ------------------------------------------------------------------ time */

int64_t oocsi__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_to_timespec(int64_t deadline_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

/* --------------------------------------------------------------- logging */

void oocsi__log(oocsi_client *c, oocsi_log_level lvl, const char *fmt, ...)
{
    if (lvl < c->opts.log_level)
        return;
    if (c->opts.logger_set && !c->opts.log_fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->opts.logger_set) {
        c->opts.log_fn(lvl, msg, c->opts.log_user);
    } else {
        const char *h = c->handle ? c->handle : "oocsi";
        fprintf(stderr, "[%s]: %s\n", h, msg);
    }
}

static void transport_log(void *ctx, oocsi_log_level lvl, const char *fmt, ...)
{
    oocsi_client *c = ctx;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    oocsi__log(c, lvl, "%s", msg);
}

static void set_error(oocsi_client *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    free(c->last_error);
    c->last_error = strdup(msg);
}

/* ----------------------------------------------------------- wake and cv */

static void wake(oocsi_client *c)
{
    if (c->tp && c->tp->wait && c->tp->wake && c->tps) {
        c->tp->wake(c->tps);
        return;
    }
    if (c->wake_pending)
        return;
    c->wake_pending = 1;
    char b = 1;
    ssize_t n = write(c->wake_w, &b, 1);
    (void)n;
}

/* Wakes the loop owner if it is another thread. */
void oocsi__poke(oocsi_client *c)
{
    if (c->loop_busy && !pthread_equal(c->loop_owner, pthread_self()))
        wake(c);
}

/* ---------------------------------------------------------------- output */

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
        oocsi__inflight *f = c->inflight_head;
        c->inflight_head = f->next;
        oocsi__qitem_free(f->item);
        free(f);
    }
    if (!c->inflight_head)
        c->inflight_tail = NULL;
}

static void connection_lost(oocsi_client *c, int err, const char *why);

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
            connection_lost(c, (int)n, "write failed");
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
    oocsi__inflight *f = malloc(sizeof(*f));
    if (!f) {
        oocsi__qitem_free(it);
        return OOCSI_ERR_NOMEM;
    }
    int rc = oocsi__emit(c, OOCSI_CMD_SEND, it->arg, it->payload, it->payload_len);
    if (rc != OOCSI_OK) {
        free(f);
        oocsi__qitem_free(it);
        return rc;
    }
    f->next = NULL;
    f->end = c->out_base + c->out.len;
    f->item = it;
    if (c->inflight_tail)
        c->inflight_tail->next = f;
    else
        c->inflight_head = f;
    c->inflight_tail = f;
    return OOCSI_OK;
}

/* --------------------------------------------------------------- pings */

#define BARRIER_KEY "_OOCSI_BARRIER"

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
    if (c->pings_tail)
        c->pings_tail->next = p;
    else
        c->pings_head = p;
    c->pings_tail = p;
}

static void pings_fail_all(oocsi_client *c, int err)
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

/* ------------------------------------------------------------ connecting */

static int start_attempt(oocsi_client *c);
static void attempt_failed(oocsi_client *c, int err);

static int attempt_timeout_ms(oocsi_client *c)
{
    int t = c->opts.connect_timeout_ms / (c->n_eps > 0 ? c->n_eps : 1);
    int floor = c->opts.connect_timeout_ms < 1000 ? c->opts.connect_timeout_ms : 1000;
    return t < floor ? floor : t;
}

static void close_transport(oocsi_client *c)
{
    if (c->tp && c->tps) {
        if (c->in_wait == c->tps) {
            /* The loop thread is inside this transport's wait(): it closes
             * the transport when it returns. */
            c->zombie_tp = c->tp;
            c->zombie_tps = c->tps;
            if (c->tp->wake)
                c->tp->wake(c->tps);
        } else {
            c->tp->close(c->tps);
        }
    }
    c->tps = NULL;
    if (c->codec && c->cs)
        c->codec->destroy(c->cs);
    c->cs = NULL;
    c->in_len = 0;
    c->in_scan = 0;
}

/* Requeues messages whose bytes did not all leave, in order, ahead of the
 * offline queue, and clears the output buffer. */
static void requeue_unsent(oocsi_client *c)
{
    inflight_release(c);
    size_t n = 0;
    for (oocsi__inflight *f = c->inflight_head; f; f = f->next)
        n++;
    oocsi__qitem **items = n ? malloc(n * sizeof(*items)) : NULL;
    size_t k = 0;
    while (c->inflight_head) {
        oocsi__inflight *f = c->inflight_head;
        c->inflight_head = f->next;
        if (items)
            items[k++] = f->item;
        else
            oocsi__qitem_free(f->item); /* out of memory: cannot keep it */
        free(f);
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

/* Ends call k (not freed) with err: wakes its waiter, or queues its callback
 * with a NULL response. */
static void end_call(oocsi_client *c, oocsi__call *k, int err)
{
    if (k->w) {
        k->w->done = 1;
        k->w->result = err;
    } else if (k->fn) {
        oocsi__note *n = calloc(1, sizeof(*n));
        if (n) {
            n->kind = NOTE_CALL;
            n->call_fn = k->fn;
            n->call_user = k->user;
            oocsi__note_push(c, n);
        }
    }
}

static void fail_calls_closed(oocsi_client *c)
{
    while (c->calls) {
        oocsi__call *k = c->calls;
        c->calls = k->next;
        end_call(c, k, OOCSI_ERR_CLOSED);
        free(k);
    }
}

static void give_up(oocsi_client *c, int err)
{
    close_transport(c);
    c->st = CS_CLOSED;
    c->closed_err = err;
    if (c->offline.count)
        oocsi__log(c, OOCSI_LOG_WARN, "dropping %zu queued message(s)", c->offline.count);
    oocsi__queue_clear(&c->offline);
    requeue_unsent(c);
    oocsi__queue_clear(&c->offline);
    pings_fail_all(c, OOCSI_ERR_CLOSED);
    fail_calls_closed(c);
    oocsi__note_state(c, OOCSI_STATE_CLOSED, err);
    pthread_cond_broadcast(&c->cv);
}

static void schedule_retry(oocsi_client *c, int err)
{
    c->failed_passes++;
    if (c->opts.max_reconnect >= 0 && c->failed_passes > c->opts.max_reconnect) {
        oocsi__log(c, OOCSI_LOG_ERROR, "giving up after %d failed reconnection attempt(s): %s", c->failed_passes - 1,
                   oocsi_strerror(err));
        set_error(c, "gave up reconnecting: %s", oocsi_strerror(err));
        give_up(c, OOCSI_ERR_CLOSED);
        return;
    }
    int delay =
        oocsi__backoff_ms(c->failed_passes - 1, c->opts.reconnect_initial_ms, c->opts.reconnect_max_ms, &c->rng);
    c->st = CS_BACKOFF;
    c->backoff_until = oocsi__now_ms() + delay;
    oocsi__log(c, OOCSI_LOG_DEBUG, "reconnecting in %d ms", delay);
}

/* Opens the endpoint at ep_index, moving on through the list on immediate
 * failures. */
static int start_attempt(oocsi_client *c)
{
    for (;;) {
        oocsi__url *ep = &c->eps[c->ep_index];
        const oocsi_transport *tp = oocsi_find_transport(ep->scheme);
        const oocsi_codec *codec = tp ? oocsi_find_codec(tp->default_codec) : NULL;
        int rc;
        if (!tp || !codec) {
            rc = OOCSI_ERR_UNSUPPORTED;
            oocsi__log(c, OOCSI_LOG_ERROR, "no transport or codec for %s", ep->url);
        } else {
            oocsi_url u;
            u.url = ep->url;
            u.scheme = ep->scheme;
            u.host = ep->host;
            u.port = ep->port >= 0 ? ep->port : tp->default_port;
            u.path = ep->path[0] ? ep->path : (tp->default_path ? tp->default_path : "");
            oocsi_transport_config *cfg = &c->tconf;
            memset(cfg, 0, sizeof(*cfg));
            cfg->connect_timeout_ms = attempt_timeout_ms(c);
            cfg->tls_verify = c->opts.tls_verify;
            cfg->tls_ca_file = c->opts.tls_ca_file;
            cfg->tls_cert_file = c->opts.tls_cert_file;
            cfg->tls_key_file = c->opts.tls_key_file;
            cfg->log = transport_log;
            cfg->log_ctx = c;
            cfg->max_frame = c->opts.max_line;
            cfg->keepalive_idle_ms = c->opts.keepalive_idle_ms;
            cfg->keepalive_timeout_ms = c->opts.keepalive_timeout_ms;
            c->tp = tp;
            c->codec = codec;
            c->tps = NULL;
            rc = tp->open(&c->tps, &u, cfg);
            if (rc == OOCSI_OK) {
                c->cs = codec->create();
                if (!c->cs) {
                    tp->close(c->tps);
                    c->tps = NULL;
                    rc = OOCSI_ERR_NOMEM;
                } else {
                    codec->reset(c->cs);
                }
            } else {
                c->tps = NULL;
            }
            if (rc != OOCSI_OK)
                oocsi__log(c, OOCSI_LOG_DEBUG, "cannot open %s: %s", ep->url, oocsi_strerror(rc));
        }
        if (rc == OOCSI_OK) {
            c->st = CS_CONNECTING;
            c->attempt_deadline = oocsi__now_ms() + attempt_timeout_ms(c);
            c->in_len = c->in_scan = 0;
            return OOCSI_OK;
        }
        c->last_attempt_err = rc;
        c->ep_tried++;
        if (c->ep_tried >= c->n_eps)
            return rc;
        c->ep_index = (c->ep_index + 1) % c->n_eps;
    }
}

static void start_pass(oocsi_client *c)
{
    c->ep_index = 0;
    c->ep_tried = 0;
    c->last_attempt_err = OOCSI_ERR_CONNECT;
    int rc = start_attempt(c);
    if (rc != OOCSI_OK)
        attempt_failed(c, rc);
}

/* The current attempt failed (not yet welcomed). Try the next endpoint or
 * end the pass. */
static void attempt_failed(oocsi_client *c, int err)
{
    if (c->tps || c->cs)
        close_transport(c);
    /* Keep the most telling error of the pass. */
    if (err != OOCSI_ERR_CONNECT || c->last_attempt_err == OOCSI_ERR_UNSUPPORTED)
        c->last_attempt_err = err;
    if (c->st == CS_CONNECTING || c->st == CS_HANDSHAKE) {
        c->ep_tried++;
        if (c->ep_tried < c->n_eps) {
            c->ep_index = (c->ep_index + 1) % c->n_eps;
            int rc = start_attempt(c);
            if (rc == OOCSI_OK)
                return;
            err = rc;
        }
    }
    err = c->last_attempt_err ? c->last_attempt_err : err;
    if (c->initial) {
        c->initial_result = err;
        c->st = CS_IDLE;
        return;
    }
    schedule_retry(c, err);
}

static void connection_lost(oocsi_client *c, int err, const char *why)
{
    oocsi__cstate was = c->st;
    if (was == CS_CONNECTING || was == CS_HANDSHAKE) {
        oocsi__log(c, OOCSI_LOG_DEBUG, "attempt on %s failed: %s", c->eps[c->ep_index].url, why);
        attempt_failed(c, was == CS_HANDSHAKE && err == OOCSI_ERR_CLOSED ? OOCSI_ERR_CONNECT : err);
        return;
    }
    if (was != CS_RESUB && was != CS_ONLINE)
        return;
    close_transport(c);
    requeue_unsent(c);
    pings_fail_all(c, OOCSI_ERR_CLOSED);
    for (oocsi__sub *s = c->subs; s; s = s->next)
        s->wire = 0;
    pthread_cond_broadcast(&c->cv);
    if (c->close_requested) {
        c->st = CS_IDLE;
        return;
    }
    /* An orderly end of stream from the server is an I/O condition for the
     * user, not "closed by you". */
    if (err == OOCSI_ERR_CLOSED)
        err = OOCSI_ERR_IO;
    oocsi__log(c, OOCSI_LOG_WARN, "connection to %s lost: %s (%s)", c->eps[c->ep_index].url, why, oocsi_strerror(err));
    set_error(c, "connection lost: %s", why);
    oocsi__note_state(c, OOCSI_STATE_OFFLINE, err);
    c->failed_passes = 0;
    if (c->opts.max_reconnect == 0) {
        oocsi__log(c, OOCSI_LOG_ERROR, "reconnection is off; client closed");
        give_up(c, OOCSI_ERR_CLOSED);
        return;
    }
    /* First retry soon, with jitter. */
    int delay = oocsi__backoff_ms(0, c->opts.reconnect_initial_ms, c->opts.reconnect_max_ms, &c->rng);
    c->st = CS_BACKOFF;
    c->backoff_until = oocsi__now_ms() + delay;
}

static void go_online(oocsi_client *c)
{
    c->st = CS_ONLINE;
    oocsi__qitem *it;
    while ((it = oocsi__queue_pop(&c->offline)) != NULL) {
        if (it->type == OOCSI_CMD_SEND) {
            if (oocsi__emit_message(c, it) != OOCSI_OK)
                oocsi__log(c, OOCSI_LOG_WARN, "could not send a queued message");
        } else {
            oocsi__emit(c, (oocsi_command_type)it->type, it->arg, it->payload, it->payload_len);
            oocsi__qitem_free(it);
        }
    }
    oocsi__flush_out(c);
    pthread_cond_broadcast(&c->cv);
}

static void on_welcome(oocsi_client *c, const char *name)
{
    if (!c->handle || strcmp(c->handle, name) != 0) {
        char *h = strdup(name);
        if (h) {
            free(c->handle);
            c->handle = h;
        }
    }
    c->failed_passes = 0;
    c->last_rx = oocsi__now_ms();
    c->ka_ping_sent = 0;
    c->ever_connected = 1;
    oocsi__log(c, OOCSI_LOG_INFO, "connected to %s", c->eps[c->ep_index].url);
    int any = 0;
    for (oocsi__sub *s = c->subs; s; s = s->next) {
        if (oocsi__emit(c, OOCSI_CMD_SUBSCRIBE, s->channel, NULL, 0) == OOCSI_OK) {
            s->wire = 1;
            any = 1;
        }
    }
    if (c->initial)
        c->initial_result = OOCSI_OK;
    oocsi__note_state(c, OOCSI_STATE_CONNECTED, OOCSI_OK);
    if (any && oocsi__emit_barrier(c) == OOCSI_OK) {
        c->st = CS_RESUB;
        oocsi__ping_push(c, PW_RESUB, NULL);
        oocsi__flush_out(c);
    } else {
        go_online(c);
    }
    pthread_cond_broadcast(&c->cv);
}

/* ----------------------------------------------------------------- input */

static void remember_done(oocsi_client *c, const char *id)
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

static void on_message(oocsi_client *c, oocsi_event *ev)
{
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
            oocsi__call *k = take_call(c, mid->valuestring);
            if (k) {
                remember_done(c, k->id);
                cJSON_DeleteItemFromObjectCaseSensitive(ev->data, "_MESSAGE_ID");
                if (k->w) {
                    k->w->response = ev->data;
                    ev->data = NULL;
                    k->w->done = 1;
                    k->w->result = OOCSI_OK;
                    pthread_cond_broadcast(&c->cv);
                } else {
                    oocsi__note *n = calloc(1, sizeof(*n));
                    if (n) {
                        n->kind = NOTE_CALL;
                        n->call_fn = k->fn;
                        n->call_user = k->user;
                        n->sender = ev->sender;
                        n->recipient = ev->recipient;
                        n->timestamp = ev->timestamp;
                        n->data = ev->data;
                        ev->sender = ev->recipient = NULL;
                        ev->data = NULL;
                        oocsi__note_push(c, n);
                    }
                }
                free(k);
                return;
            }
        }
    }
    oocsi__note *n = calloc(1, sizeof(*n));
    if (!n)
        return;
    n->kind = NOTE_MESSAGE;
    n->sender = ev->sender;
    n->recipient = ev->recipient;
    n->timestamp = ev->timestamp;
    n->data = ev->data;
    ev->sender = ev->recipient = NULL;
    ev->data = NULL;
    oocsi__note_push(c, n);
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
        go_online(c);
    pthread_cond_broadcast(&c->cv);
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
            on_welcome(c, ev->text ? ev->text : "");
        break;
    case OOCSI_EVENT_REJECTED:
        if (c->st == CS_HANDSHAKE) {
            oocsi__log(c, c->initial ? OOCSI_LOG_ERROR : OOCSI_LOG_WARN, "server refused handle: %s",
                       ev->text ? ev->text : "");
            set_error(c, "server: %s", ev->text ? ev->text : "");
            int err = ev->err ? ev->err : OOCSI_ERR_PROTOCOL;
            if (!c->initial && err == OOCSI_ERR_AUTH) {
                give_up(c, OOCSI_ERR_AUTH);
                return -1;
            }
            if (c->initial) {
                close_transport(c);
                c->initial_result = err;
                c->st = CS_IDLE;
                return -1;
            }
            /* Reconnecting: the server may still hold our old connection's
             * name; retry with backoff. */
            close_transport(c);
            c->last_attempt_err = err;
            c->ep_tried = c->n_eps;
            schedule_retry(c, err);
            return -1;
        }
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
        if (c->pings_head && c->pings_head->kind == PW_QUERY && c->pings_head->w) {
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
    int rc = c->codec->decode(c->cs, frame, len, &ev);
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

/* Splits complete lines out of the input buffer. */
static int process_lines(oocsi_client *c)
{
    size_t start = 0;
    while (c->tps) {
        char *nl = memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan);
        if (!nl) {
            c->in_scan = c->in_len;
            break;
        }
        size_t end = (size_t)(nl - c->in);
        if (end - start > c->opts.max_line) {
            oocsi__log(c, OOCSI_LOG_ERROR, "server sent a line longer than %zu bytes; resetting the connection",
                       c->opts.max_line);
            connection_lost(c, OOCSI_ERR_PROTOCOL, "line too long");
            return -1;
        }
        c->in_scan = end + 1;
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
        oocsi__log(c, OOCSI_LOG_ERROR, "server sent a line longer than %zu bytes; resetting the connection",
                   c->opts.max_line);
        connection_lost(c, OOCSI_ERR_PROTOCOL, "line too long");
        return -1;
    }
    return 0;
}

/* Reads what is available. */
static void read_input(oocsi_client *c)
{
    size_t budget = READ_BUDGET;
    int framed = (c->tp->flags & OOCSI_TRANSPORT_FRAMED) != 0;
    while (c->tps && budget > 0) {
        ssize_t n;
        if (framed) {
            size_t want = c->tp->pending_frame ? c->tp->pending_frame(c->tps) : c->opts.max_line + 1;
            if (c->tp->pending_frame && want == 0)
                break;
            if (want > c->opts.max_line + 1)
                want = c->opts.max_line + 1;
            if (in_reserve(c, want) < 0) {
                connection_lost(c, OOCSI_ERR_NOMEM, "out of memory");
                return;
            }
            n = c->tp->read(c->tps, c->in, want);
            if (n > 0) {
                c->last_rx = oocsi__now_ms();
                c->ka_ping_sent = 0;
                if ((size_t)n > c->opts.max_line) {
                    connection_lost(c, OOCSI_ERR_PROTOCOL, "frame too long");
                    return;
                }
                if (handle_frame(c, c->in, (size_t)n) < 0)
                    return;
                budget -= budget < (size_t)n ? budget : (size_t)n;
                continue;
            }
        } else {
            if (in_reserve(c, READ_CHUNK) < 0) {
                connection_lost(c, OOCSI_ERR_NOMEM, "out of memory");
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
        connection_lost(c, (int)n, n == OOCSI_ERR_CLOSED ? "server closed the connection" : "read failed");
        return;
    }
}

/* Drives the transport after poll. */
static void service(oocsi_client *c, int events)
{
    if (!c->tps)
        return;
    int r = c->tp->process(c->tps, events);
    if (r < 0) {
        connection_lost(c, r, "transport error");
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
            oocsi__log(c, OOCSI_LOG_WARN, "%s: cannot say hello as %s: %s", c->eps[c->ep_index].url, c->handle,
                       oocsi_strerror(hrc));
            attempt_failed(c, hrc);
            return;
        }
    }
    if (c->tps && (events & (OOCSI_EV_READABLE | OOCSI_EV_ERROR) || c->tp->wait))
        read_input(c);
    if (c->tps)
        oocsi__flush_out(c);
}

/* ---------------------------------------------------------------- timers */

static void run_timers(oocsi_client *c)
{
    int64_t now = oocsi__now_ms();
    switch (c->st) {
    case CS_CONNECTING:
    case CS_HANDSHAKE:
        if (now >= c->attempt_deadline) {
            oocsi__log(c, OOCSI_LOG_DEBUG, "%s: %s", c->eps[c->ep_index].url,
                       c->st == CS_CONNECTING ? "connect timed out" : "no welcome from the server");
            connection_lost(c, c->st == CS_CONNECTING ? OOCSI_ERR_CONNECT : OOCSI_ERR_TIMEOUT, "timed out");
        }
        break;
    case CS_BACKOFF:
        if (now >= c->backoff_until)
            start_pass(c);
        break;
    case CS_RESUB:
    case CS_ONLINE: {
        int64_t idle = now - c->last_rx;
        /* The server is declared silent only after our own ping went
         * unanswered for the rest of the budget: if this loop was busy (a
         * slow handler) the ping simply goes out late, and data that was
         * waiting unread does not count as silence. */
        int64_t grace = c->opts.keepalive_timeout_ms - c->opts.keepalive_idle_ms;
        if (!oocsi__codec_has(c, OOCSI_CODEC_PING_BARRIER)) {
            /* The transport keeps such connections alive (e.g. WebSocket
             * ping/pong) and reports a silent peer itself. */
        } else if (c->ka_ping_sent && now - c->ka_ping_at >= grace) {
            connection_lost(c, OOCSI_ERR_TIMEOUT, "no data from the server (keep-alive timeout)");
        } else if (idle >= c->opts.keepalive_idle_ms && !c->ka_ping_sent) {
            c->ka_ping_sent = 1;
            c->ka_ping_at = now;
            if (oocsi__emit(c, OOCSI_CMD_PING, NULL, NULL, 0) == OOCSI_OK)
                oocsi__ping_push(c, PW_KEEPALIVE, NULL);
            oocsi__flush_out(c);
        }
        break;
    }
    default:
        break;
    }
    for (oocsi__call **pp = &c->calls; *pp;) {
        oocsi__call *k = *pp;
        if (k->deadline > now) {
            pp = &k->next;
            continue;
        }
        *pp = k->next;
        remember_done(c, k->id);
        end_call(c, k, OOCSI_ERR_TIMEOUT);
        free(k);
    }
}

static int64_t next_deadline(const oocsi_client *c)
{
    int64_t d = INT64_MAX;
    switch (c->st) {
    case CS_CONNECTING:
    case CS_HANDSHAKE:
        d = c->attempt_deadline;
        break;
    case CS_BACKOFF:
        d = c->backoff_until;
        break;
    case CS_RESUB:
    case CS_ONLINE:
        if (c->codec && (c->codec->caps & OOCSI_CODEC_PING_BARRIER))
            d = c->ka_ping_sent ? c->ka_ping_at + (c->opts.keepalive_timeout_ms - c->opts.keepalive_idle_ms)
                                : c->last_rx + c->opts.keepalive_idle_ms;
        break;
    default:
        break;
    }
    for (const oocsi__call *k = c->calls; k; k = k->next)
        if (k->deadline < d)
            d = k->deadline;
    return d;
}

/* ------------------------------------------------------------- one step */

static int want_write_locked(const oocsi_client *c)
{
    if (!c->tps)
        return 0;
    if (c->st == CS_CONNECTING) /* the transport's handshake decides */
        return (c->tp->interest(c->tps) & OOCSI_WANT_WRITE) != 0;
    return c->out_off < c->out.len || (c->tp->interest(c->tps) & OOCSI_WANT_WRITE);
}

/* One round of I/O and timers, waiting at most timeout_ms. Lock held on entry
 * and exit (released while waiting). Never runs user callbacks. */
static void step_io(oocsi_client *c, int timeout_ms)
{
    int64_t now = oocsi__now_ms();
    int64_t d = next_deadline(c);
    if (d != INT64_MAX) {
        int64_t until = d - now;
        if (until < 0)
            until = 0;
        if (until < timeout_ms)
            timeout_ms = (int)until;
    }
    if (c->notes_head && !c->in_callback)
        timeout_ms = 0;
    /* A transport may be connected as soon as it opened (a local socket):
     * ask before waiting for an event that would never come. */
    if (c->st == CS_CONNECTING && c->tps)
        service(c, 0);
    if (timeout_ms < 0)
        timeout_ms = 0;

    if (c->tps && c->tp->wait) {
        const oocsi_transport *tp = c->tp;
        void *tps = c->tps;
        c->in_wait = tps;
        pthread_mutex_unlock(&c->mu);
        int rc = tp->wait(tps, timeout_ms);
        pthread_mutex_lock(&c->mu);
        c->in_wait = NULL;
        if (c->zombie_tps == tps) {
            c->zombie_tp->close(c->zombie_tps);
            c->zombie_tps = NULL;
            c->zombie_tp = NULL;
        }
        if (c->tps == tps) {
            if (rc < 0)
                connection_lost(c, rc, "transport error");
            else
                service(c, OOCSI_EV_READABLE | OOCSI_EV_WRITABLE);
        }
    } else {
        struct pollfd pfd[2];
        int n = 0;
        pfd[n].fd = c->wake_r;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        n++;
        void *tps = c->tps;
        if (c->tps) {
            int fd = c->tp->fd(c->tps);
            if (fd >= 0) {
                int interest = c->tp->interest(c->tps);
                pfd[n].fd = fd;
                pfd[n].events = 0;
                if (interest & OOCSI_WANT_READ)
                    pfd[n].events |= POLLIN;
                if (want_write_locked(c))
                    pfd[n].events |= POLLOUT;
                pfd[n].revents = 0;
                n++;
            }
        }
        pthread_mutex_unlock(&c->mu);
        int pr = poll(pfd, (nfds_t)n, timeout_ms);
        pthread_mutex_lock(&c->mu);
        if (pr > 0 && (pfd[0].revents & POLLIN)) {
            char buf[64];
            while (read(c->wake_r, buf, sizeof(buf)) > 0) {
            }
            c->wake_pending = 0;
        }
        if (n > 1 && c->tps == tps && c->tps) {
            int ev = 0;
            if (pfd[1].revents & POLLIN)
                ev |= OOCSI_EV_READABLE;
            if (pfd[1].revents & POLLOUT)
                ev |= OOCSI_EV_WRITABLE;
            if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL))
                ev |= OOCSI_EV_ERROR | OOCSI_EV_READABLE;
            if (ev)
                service(c, ev);
        }
    }
    run_timers(c);
    if (c->tps && c->out_off < c->out.len)
        oocsi__flush_out(c);
    pthread_cond_broadcast(&c->cv);
}

/* ------------------------------------------------------------------ waits */

void oocsi__detach_waiter(oocsi_client *c, oocsi__waiter *w)
{
    for (oocsi__pingw *p = c->pings_head; p; p = p->next)
        if (p->w == w)
            p->w = NULL;
    for (oocsi__call **pp = &c->calls; *pp; pp = &(*pp)->next)
        if ((*pp)->w == w) {
            oocsi__call *k = *pp;
            *pp = k->next;
            remember_done(c, k->id);
            free(k);
            break;
        }
}

int oocsi__is_owner(oocsi_client *c)
{
    return c->loop_busy && pthread_equal(c->loop_owner, pthread_self());
}

int oocsi__wait(oocsi_client *c, oocsi__waiter *w, int64_t deadline)
{
    while (!w->done) {
        int64_t now = oocsi__now_ms();
        if (now >= deadline) {
            oocsi__detach_waiter(c, w);
            return OOCSI_ERR_TIMEOUT;
        }
        if (c->st == CS_CLOSED || c->close_requested) {
            oocsi__detach_waiter(c, w);
            return OOCSI_ERR_CLOSED;
        }
        int slice = (int)(deadline - now);
        if (!c->loop_busy) {
            c->loop_busy = 1;
            c->loop_owner = pthread_self();
            c->in_callback++; /* no dispatch while we drive */
            step_io(c, slice);
            c->in_callback--;
            c->loop_busy = 0;
            pthread_cond_broadcast(&c->cv);
        } else if (pthread_equal(c->loop_owner, pthread_self())) {
            step_io(c, slice);
        } else {
            struct timespec ts;
            deadline_to_timespec(deadline, &ts);
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
    }
    return w->result;
}

/* ---------------------------------------------------------------- connect */

static void client_free(oocsi_client *c);

int oocsi__validate_name(const char *s)
{
    if (!s || !*s)
        return OOCSI_ERR_INVAL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return OOCSI_ERR_INVAL;
    return OOCSI_OK;
}

int oocsi_connect(oocsi_client **out, const oocsi_options *opts)
{
    if (!out || !opts)
        return OOCSI_ERR_INVAL;
    *out = NULL;
    if (oocsi__handle_check(opts->handle) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    oocsi_client *c = calloc(1, sizeof(*c));
    if (!c)
        return OOCSI_ERR_NOMEM;
    c->wake_r = c->wake_w = -1;
    if (oocsi__options_copy(&c->opts, opts) != OOCSI_OK) {
        free(c);
        return OOCSI_ERR_NOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->sync_init = 1;
    oocsi__rng_seed(&c->rng);
    c->offline.max_count = c->opts.queue_max_count;
    c->offline.max_bytes = c->opts.queue_max_bytes;

    int rc = OOCSI_ERR_NOMEM;
    int fds[2];
    if (pipe(fds) != 0)
        goto fail;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    c->wake_r = fds[0];
    c->wake_w = fds[1];
    c->requested = oocsi__handle_resolve(c->opts.handle, &c->rng);
    if (!c->requested)
        goto fail;
    size_t nl = oocsi__handle_name_len(c->requested);
    c->handle = strndup(c->requested, nl);
    if (!c->handle)
        goto fail;

    int n = c->opts.n_endpoints ? c->opts.n_endpoints : 1;
    c->eps = calloc((size_t)n, sizeof(*c->eps));
    if (!c->eps)
        goto fail;
    for (int i = 0; i < n; i++) {
        rc = oocsi__url_parse(c->opts.n_endpoints ? c->opts.endpoints[i] : "tcp://localhost:4444", &c->eps[i]);
        if (rc != OOCSI_OK)
            goto fail;
        c->n_eps = i + 1;
    }

    pthread_mutex_lock(&c->mu);
    c->initial = 1;
    c->initial_result = INITIAL_PENDING;
    c->loop_busy = 1;
    c->loop_owner = pthread_self();
    c->in_callback++;
    start_pass(c);
    while (c->initial_result == INITIAL_PENDING)
        step_io(c, 100);
    c->in_callback--;
    c->loop_busy = 0;
    c->initial = 0;
    rc = c->initial_result;
    if (rc != OOCSI_OK) {
        close_transport(c);
        c->st = CS_IDLE;
        oocsi__log(c, OOCSI_LOG_ERROR, "could not connect: %s", oocsi_strerror(rc));
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != OOCSI_OK)
        goto fail;
    *out = c;
    return OOCSI_OK;
fail:
    client_free(c);
    return rc;
}

static void client_free(oocsi_client *c)
{
    close_transport(c);
    oocsi__queue_clear(&c->offline);
    while (c->inflight_head) {
        oocsi__inflight *f = c->inflight_head;
        c->inflight_head = f->next;
        oocsi__qitem_free(f->item);
        free(f);
    }
    while (c->subs) {
        oocsi__sub *s = c->subs;
        c->subs = s->next;
        while (s->listeners) {
            oocsi__listener *l = s->listeners;
            s->listeners = l->next;
            free(l->call_name);
            free(l);
        }
        free(s->channel);
        free(s);
    }
    pings_fail_all(c, OOCSI_ERR_CLOSED);
    while (c->calls) {
        oocsi__call *k = c->calls;
        c->calls = k->next;
        free(k);
    }
    while (c->notes_head) {
        oocsi__note *nn = c->notes_head;
        c->notes_head = nn->next;
        oocsi__note_free(nn);
    }
    for (int i = 0; i < c->n_eps; i++)
        oocsi__url_free(&c->eps[i]);
    free(c->eps);
    free(c->in);
    oocsi_buf_free(&c->out);
    oocsi_buf_free(&c->scratch);
    free(c->requested);
    free(c->handle);
    free(c->last_error);
    if (c->wake_r >= 0)
        close(c->wake_r);
    if (c->wake_w >= 0)
        close(c->wake_w);
    oocsi__options_clear(&c->opts);
    if (c->sync_init) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    free(c);
}

void oocsi_close(oocsi_client *c)
{
    if (!c)
        return;
    if (c->thread_running)
        oocsi_loop_stop(c);
    pthread_mutex_lock(&c->mu);
    c->close_requested = 1;
    if ((c->st == CS_ONLINE || c->st == CS_RESUB) && c->tps && oocsi__codec_has(c, OOCSI_CODEC_QUIT)) {
        /* Say quit and wait briefly for bye/EOF so the server frees the name.
         * (Without a quit command, closing the connection is the goodbye.) */
        oocsi__emit(c, OOCSI_CMD_QUIT, NULL, NULL, 0);
        oocsi__flush_out(c);
        int64_t deadline = oocsi__now_ms() + 1000;
        c->loop_busy = 1;
        c->loop_owner = pthread_self();
        c->in_callback++;
        while (c->tps && oocsi__now_ms() < deadline)
            step_io(c, (int)(deadline - oocsi__now_ms()));
        c->in_callback--;
        c->loop_busy = 0;
    } else if ((c->st == CS_ONLINE || c->st == CS_RESUB) && c->tps) {
        /* No quit in this protocol: hand over what is still queued, then
         * closing the connection is the goodbye. */
        oocsi__flush_out(c);
        int64_t deadline = oocsi__now_ms() + 1000;
        c->loop_busy = 1;
        c->loop_owner = pthread_self();
        c->in_callback++;
        while (c->tps && (c->out_off < c->out.len || (c->tp->unsent && c->tp->unsent(c->tps) > 0)) &&
               oocsi__now_ms() < deadline)
            step_io(c, 10);
        c->in_callback--;
        c->loop_busy = 0;
    }
    c->st = CS_CLOSED;
    /* Pending asynchronous calls end now: their callbacks run once with NULL
     * so callers can release what they attached. Queued results too. */
    oocsi__note *notes = c->notes_head;
    c->notes_head = c->notes_tail = NULL;
    oocsi__call *calls = c->calls;
    c->calls = NULL;
    pthread_mutex_unlock(&c->mu);
    while (notes) {
        oocsi__note *n = notes;
        notes = n->next;
        if (n->kind == NOTE_CALL && n->call_fn)
            oocsi__run_call_note(c, n);
        oocsi__note_free(n);
    }
    while (calls) {
        oocsi__call *k = calls;
        calls = k->next;
        if (k->fn)
            k->fn(c, NULL, k->user);
        free(k);
    }
    client_free(c);
}

const char *oocsi_handle(const oocsi_client *c)
{
    return c ? c->handle : NULL;
}

const char *oocsi_endpoint(const oocsi_client *c)
{
    if (!c || !c->eps)
        return NULL;
    oocsi_client *m = (oocsi_client *)c;
    pthread_mutex_lock(&m->mu);
    const char *u = m->eps[m->ep_index].url;
    pthread_mutex_unlock(&m->mu);
    return u;
}

int oocsi_is_connected(const oocsi_client *c)
{
    if (!c)
        return 0;
    oocsi_client *m = (oocsi_client *)c;
    pthread_mutex_lock(&m->mu);
    int r = m->st == CS_ONLINE || m->st == CS_RESUB;
    pthread_mutex_unlock(&m->mu);
    return r;
}

const char *oocsi_last_error(const oocsi_client *c)
{
    if (!c)
        return "no client";
    return c->last_error ? c->last_error : "";
}

/* ------------------------------------------------------------------ loop */

int oocsi_loop(oocsi_client *c, int timeout_ms)
{
    if (!c)
        return OOCSI_ERR_INVAL;
    if (timeout_ms < 0)
        timeout_ms = 0;
    pthread_mutex_lock(&c->mu);
    if (c->thread_running && !pthread_equal(c->thread, pthread_self())) {
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_INVAL;
    }
    if (oocsi__is_owner(c)) {
        /* Called from inside a callback: do I/O only. */
        step_io(c, timeout_ms);
        pthread_mutex_unlock(&c->mu);
        return OOCSI_OK;
    }
    int64_t deadline = oocsi__now_ms() + timeout_ms;
    while (c->loop_busy) {
        struct timespec ts;
        deadline_to_timespec(deadline, &ts);
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&c->mu);
            return OOCSI_OK;
        }
    }
    c->loop_busy = 1;
    c->loop_owner = pthread_self();
    oocsi__dispatch_notes(c);
    int64_t left = deadline - oocsi__now_ms();
    if (c->st != CS_CLOSED || c->tps)
        step_io(c, left > 0 ? (int)left : 0);
    oocsi__dispatch_notes(c);
    int rc = c->st == CS_CLOSED ? OOCSI_ERR_CLOSED : OOCSI_OK;
    c->loop_busy = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void *loop_thread(void *arg)
{
    oocsi_client *c = arg;
    pthread_mutex_lock(&c->mu);
    while (c->loop_busy && !c->thread_stop)
        pthread_cond_wait(&c->cv, &c->mu);
    c->loop_busy = 1;
    c->loop_owner = pthread_self();
    while (!c->thread_stop) {
        oocsi__dispatch_notes(c);
        if (c->thread_stop)
            break;
        step_io(c, 1000);
    }
    oocsi__dispatch_notes(c);
    c->loop_busy = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int oocsi_loop_start(oocsi_client *c)
{
    if (!c)
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&c->mu);
    if (c->thread_running) {
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_INVAL;
    }
    c->thread_stop = 0;
    int rc = pthread_create(&c->thread, NULL, loop_thread, c);
    if (rc == 0)
        c->thread_running = 1;
    pthread_mutex_unlock(&c->mu);
    return rc == 0 ? OOCSI_OK : OOCSI_ERR_NOMEM;
}

int oocsi_loop_stop(oocsi_client *c)
{
    if (!c)
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&c->mu);
    if (!c->thread_running || pthread_equal(c->thread, pthread_self())) {
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_INVAL;
    }
    c->thread_stop = 1;
    wake(c);
    pthread_cond_broadcast(&c->cv);
    pthread_t t = c->thread;
    pthread_mutex_unlock(&c->mu);
    pthread_join(t, NULL);
    pthread_mutex_lock(&c->mu);
    c->thread_running = 0;
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

int oocsi_stop(oocsi_client *c)
{
    if (!c)
        return OOCSI_ERR_INVAL;
    /* Only async-signal-safe operations: an atomic store and write(2). */
    atomic_store(&c->run_stop, 1);
    if (c->wake_w >= 0) {
        char b = 1;
        ssize_t n = write(c->wake_w, &b, 1);
        (void)n;
    }
    return OOCSI_OK;
}

int oocsi_run(oocsi_client *c)
{
    if (!c)
        return OOCSI_ERR_INVAL;
    /* A stop that came before run (a signal right after connecting) counts. */
    while (!atomic_load(&c->run_stop)) {
        /* A bounded wait: transports that wait on their own (WebSocket) do
         * not see the wake pipe, so the flag is checked at least this often. */
        int rc = oocsi_loop(c, 200);
        if (rc != OOCSI_OK)
            return rc;
    }
    atomic_store(&c->run_stop, 0);
    return OOCSI_OK;
}

int oocsi_fd(const oocsi_client *c)
{
    if (!c)
        return -1;
    oocsi_client *m = (oocsi_client *)c;
    pthread_mutex_lock(&m->mu);
    int fd = (m->tps && m->tp->fd) ? m->tp->fd(m->tps) : -1;
    pthread_mutex_unlock(&m->mu);
    return fd;
}

int oocsi_want_write(const oocsi_client *c)
{
    if (!c)
        return 0;
    oocsi_client *m = (oocsi_client *)c;
    pthread_mutex_lock(&m->mu);
    int r = want_write_locked(m);
    pthread_mutex_unlock(&m->mu);
    return r;
}

int oocsi_next_timeout_ms(const oocsi_client *c)
{
    if (!c)
        return -1;
    oocsi_client *m = (oocsi_client *)c;
    pthread_mutex_lock(&m->mu);
    int64_t d = next_deadline(m);
    int r;
    if (m->notes_head)
        r = 0;
    else if (d == INT64_MAX)
        r = -1;
    else {
        int64_t left = d - oocsi__now_ms();
        r = left < 0 ? 0 : (left > 0x7fffffff ? 0x7fffffff : (int)left);
    }
    pthread_mutex_unlock(&m->mu);
    return r;
}
