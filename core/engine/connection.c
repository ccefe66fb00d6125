/*
 * The connection state machine: attempts across the endpoint list
 * (failover), the welcome and re-subscription, losing a connection, backoff
 * and giving up.
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

static void record_why(oocsi_client *c, oocsi_log_level lvl, const char *msg)
{
    if ((int)lvl < c->why_lvl)
        return;
    c->why_lvl = (int)lvl;
    size_t n = strlen(msg);
    if (n >= sizeof c->why)
        n = sizeof c->why - 1; /* a long cause is cut, not lost */
    memcpy(c->why, msg, n);
    c->why[n] = '\0';
}

void oocsi__attempt_why(oocsi_client *c, oocsi_log_level lvl, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    oocsi__log(c, OOCSI_LOG_DEBUG, "%s: %s", c->eps[c->ep_index].url, msg);
    record_why(c, lvl, msg);
}

/* Transports log through here; while an attempt is under way their words are
 * also its cause, without the "scheme host:port: " they start with (the
 * report names the endpoint). */
static void transport_log(void *ctx, oocsi_log_level lvl, const char *fmt, ...)
{
    oocsi_client *c = ctx;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    oocsi__log(c, lvl, "%s", msg);
    if (c->st == CS_ONLINE || c->st == CS_RESUB || !c->eps)
        return;
    const char *scheme = c->eps[c->ep_index].scheme;
    size_t n = strlen(scheme);
    const char *cut = strstr(msg, ": ");
    const char *text = msg;
    if (strncmp(msg, scheme, n) == 0 && msg[n] == ' ' && cut)
        text = cut + 2;
    record_why(c, lvl, text);
}

/* What an error code means for an attempt that logged no cause. */
static const char *attempt_error_text(int err)
{
    switch (err) {
    case OOCSI_ERR_CONNECT:
        return "could not connect";
    case OOCSI_ERR_TIMEOUT:
        return "no welcome from the server in time";
    case OOCSI_ERR_TLS:
        return "TLS handshake failed";
    default:
        return oocsi_strerror(err);
    }
}

/* Adds the failed attempt on the current endpoint to the pass report. */
void oocsi__report_attempt(oocsi_client *c, int err)
{
    const char *why = c->why[0] ? c->why : attempt_error_text(err);
    oocsi_buf *r = &c->report;
    if (r->len)
        oocsi_buf_append_str(r, "; ");
    oocsi_buf_append_str(r, c->eps[c->ep_index].url);
    oocsi_buf_append_str(r, ": ");
    oocsi_buf_append_str(r, why);
    if (err == OOCSI_ERR_TLS && strstr(why, "certificate"))
        oocsi_buf_append_str(r, " (a self-signed or private server certificate needs its CA: "
                                "oocsi_options_set_tls_ca_file(), or --cafile for the tools; "
                                "oocsi_options_set_tls_verify(o, 0) turns verification off, for tests only)");
    else if (err == OOCSI_ERR_AUTH)
        oocsi_buf_append_str(r, " (the password does not match the server's account for this name, or "
                                "the server has no accounts and refuses every name:password handle; "
                                "some servers also refuse a correct password while that user is "
                                "still connected: check the password, or connect as plain name)");
    c->why[0] = '\0';
    c->why_lvl = -1;
}

static int attempt_timeout_ms(oocsi_client *c)
{
    int t = c->opts.connect_timeout_ms / (c->n_eps > 0 ? c->n_eps : 1);
    int floor = c->opts.connect_timeout_ms < 1000 ? c->opts.connect_timeout_ms : 1000;
    return t < floor ? floor : t;
}

void oocsi__close_transport(oocsi_client *c)
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
    c->in_skipped = 0;
}

/* Ends call k (not freed) with err: wakes its waiter, or queues its callback
 * with a NULL response. */
void oocsi__end_call(oocsi_client *c, oocsi__call *k, int err)
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
        oocsi__end_call(c, k, OOCSI_ERR_CLOSED);
        free(k);
    }
}

void oocsi__give_up(oocsi_client *c, int err)
{
    oocsi__close_transport(c);
    c->st = CS_CLOSED;
    c->closed_err = err;
    if (c->offline.count)
        oocsi__log(c, OOCSI_LOG_WARN, "dropping %zu queued message(s)", c->offline.count);
    oocsi__queue_clear(&c->offline);
    oocsi__requeue_unsent(c);
    oocsi__queue_clear(&c->offline);
    oocsi__pings_fail_all(c, OOCSI_ERR_CLOSED);
    fail_calls_closed(c);
    oocsi__note_state(c, OOCSI_STATE_CLOSED, err);
    oocsi__signal(c);
}

void oocsi__schedule_retry(oocsi_client *c, int err)
{
    c->failed_passes++;
    if (c->opts.max_reconnect >= 0 && c->failed_passes > c->opts.max_reconnect) {
        const char *detail = c->report.len ? c->report.data : oocsi_strerror(err);
        oocsi__log(c, OOCSI_LOG_ERROR, "giving up after %d failed reconnection attempt(s): %s", c->failed_passes - 1,
                   detail);
        oocsi__set_error(c, "gave up reconnecting: %s", detail);
        oocsi__give_up(c, OOCSI_ERR_CLOSED);
        return;
    }
    int max_ms = c->opts.reconnect_max_ms;
    if (c->outage_since && err == OOCSI_ERR_CONNECT) {
        /* The server we had cannot be reached (no listener, or no answer):
         * it is down or restarting, not dropping us for something we do, so
         * the quick drops before this do not count, and the retries stay
         * about a second apart at first (backoff.h). A refusing or silent
         * server (auth, TLS, no welcome) backs off as before. */
        c->quick_drops = 0;
        max_ms = oocsi__backoff_recover_cap(oocsi__now_ms() - c->outage_since, max_ms);
    }
    int delay = oocsi__backoff_ms(c->failed_passes - 1 + (c->quick_drops > 1 ? c->quick_drops - 1 : 0),
                                  c->opts.reconnect_initial_ms, max_ms, &c->rng);
    c->st = CS_BACKOFF;
    c->backoff_until = oocsi__now_ms() + delay;
    oocsi__log(c, OOCSI_LOG_DEBUG, "reconnecting in %d ms", delay);
    if (c->report.len)
        oocsi__set_error(c, "reconnecting: %s", c->report.data);
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
        c->why[0] = '\0';
        c->why_lvl = -1;
        if (!tp) {
            char schemes[256];
            oocsi__transport_schemes(schemes, sizeof schemes);
            rc = OOCSI_ERR_UNSUPPORTED;
            oocsi__attempt_why(c, OOCSI_LOG_ERROR,
                               "unknown URL scheme \"%s\" (known: %s; a custom transport must be registered "
                               "with oocsi_register_transport() before connecting)",
                               ep->scheme, schemes);
        } else if (!codec) {
            rc = OOCSI_ERR_UNSUPPORTED;
            oocsi__attempt_why(c, OOCSI_LOG_ERROR, "the %s transport needs the codec \"%s\", which is not registered",
                               ep->scheme, tp->default_codec);
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
            c->in_len = c->in_scan = c->in_skipped = 0;
            return OOCSI_OK;
        }
        c->last_attempt_err = rc;
        oocsi__report_attempt(c, rc);
        c->ep_tried++;
        if (c->ep_tried >= c->n_eps)
            return rc;
        c->ep_index = (c->ep_index + 1) % c->n_eps;
    }
}

void oocsi__start_pass(oocsi_client *c)
{
    c->ep_index = 0;
    c->ep_tried = 0;
    c->last_attempt_err = OOCSI_ERR_CONNECT;
    c->report.len = 0;
    int rc = start_attempt(c);
    if (rc != OOCSI_OK)
        oocsi__attempt_failed(c, rc);
}

/* The current attempt failed (not yet welcomed). Try the next endpoint or
 * end the pass. */
void oocsi__attempt_failed(oocsi_client *c, int err)
{
    if (c->st == CS_CONNECTING || c->st == CS_HANDSHAKE)
        oocsi__report_attempt(c, err);
    if (c->tps || c->cs)
        oocsi__close_transport(c);
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
    oocsi__schedule_retry(c, err);
}

void oocsi__connection_lost(oocsi_client *c, int err, const char *why)
{
    oocsi__cstate was = c->st;
    if (was == CS_CONNECTING || was == CS_HANDSHAKE) {
        oocsi__log(c, OOCSI_LOG_DEBUG, "attempt on %s failed: %s", c->eps[c->ep_index].url, why);
        oocsi__attempt_failed(c, was == CS_HANDSHAKE && err == OOCSI_ERR_CLOSED ? OOCSI_ERR_CONNECT : err);
        return;
    }
    if (was != CS_RESUB && was != CS_ONLINE)
        return;
    oocsi__close_transport(c);
    oocsi__requeue_unsent(c);
    oocsi__pings_fail_all(c, OOCSI_ERR_CLOSED);
    for (oocsi__sub *s = c->subs; s; s = s->next)
        s->wire = 0;
    oocsi__signal(c);
    if (c->close_requested) {
        c->st = CS_IDLE;
        return;
    }
    /* An orderly end of stream from the server is an I/O condition for the
     * user, not "closed by you". */
    if (err == OOCSI_ERR_CLOSED)
        err = OOCSI_ERR_IO;
    oocsi__log(c, OOCSI_LOG_WARN, "connection to %s lost: %s (%s)", c->eps[c->ep_index].url, why, oocsi_strerror(err));
    oocsi__set_error(c, "connection lost: %s", why);
    oocsi__note_state(c, OOCSI_STATE_OFFLINE, err);
    c->failed_passes = 0;
    if (c->opts.max_reconnect == 0) {
        oocsi__log(c, OOCSI_LOG_ERROR, "reconnection is off; client closed");
        oocsi__give_up(c, OOCSI_ERR_CLOSED);
        return;
    }
    /* First retry soon, with jitter; but a connection that keeps failing
     * right after its welcome (a server that drops us for something we do,
     * or sends what we cannot take) backs off as a failed attempt would,
     * instead of reconnecting several times a second for ever. */
    int64_t lived = oocsi__now_ms() - c->online_since;
    c->quick_drops = lived < OOCSI__STABLE_MS ? c->quick_drops + 1 : 0;
    c->outage_since = oocsi__now_ms();
    int delay = oocsi__backoff_ms(c->quick_drops > 1 ? c->quick_drops - 1 : 0, c->opts.reconnect_initial_ms,
                                  c->opts.reconnect_max_ms, &c->rng);
    if (c->quick_drops > 1)
        oocsi__log(c, OOCSI_LOG_WARN,
                   "the connection was lost %lld ms after its welcome, %d times in a row: waiting %d ms before "
                   "reconnecting",
                   (long long)lived, c->quick_drops, delay);
    oocsi__log(c, OOCSI_LOG_DEBUG, "reconnecting in %d ms", delay);
    c->st = CS_BACKOFF;
    c->backoff_until = oocsi__now_ms() + delay;
}

void oocsi__go_online(oocsi_client *c)
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
    oocsi__signal(c);
}

void oocsi__on_welcome(oocsi_client *c, const char *name)
{
    if (oocsi__validate_name(name) != OOCSI_OK) {
        /* An empty name, or one with spaces or control characters, cannot be
         * ours: keep the handle we asked for. */
        oocsi__log(c, OOCSI_LOG_WARN, "the server's welcome names no valid handle (\"%.80s\"); keeping %s", name,
                   c->handle ? c->handle : "");
    } else if (!c->handle || strcmp(c->handle, name) != 0) {
        char *h = strdup(name);
        if (h) {
            free(c->handle);
            c->handle = h;
        }
    }
    c->failed_passes = 0;
    c->outage_since = 0;
    c->last_rx = oocsi__now_ms();
    c->online_since = c->last_rx;
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
        oocsi__go_online(c);
    }
    oocsi__signal(c);
}
