/*
 * The client's life: connect (blocking until the first welcome or failure),
 * close, accessors, logging and errors. The connection state machine is in
 * connection.c, the wire in output.c and input.c, the loop in loop.c.
 *
 * Locking: one mutex per client protects the engine's state. Transport and codec
 * calls are made with it held. User callbacks run without it, only on the
 * thread that owns the loop (oocsi_loop's caller or the background thread).
 * A thread that needs to wait (subscribe barrier, query, call_and_wait) either
 * drives the I/O itself (no owner, or it is the owner inside a callback:
 * notifications are queued, not dispatched) or waits on the condition
 * variable for the owner to make progress.
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

void oocsi__options_clear(oocsi_options *o)
{
    free(o->handle);
    for (int i = 0; i < o->n_endpoints; i++)
        free(o->endpoints[i]);
    free(o->endpoints);
    free(o->tls_ca_file);
    free(o->tls_cert_file);
    free(o->tls_key_file);
    free(o->bad_handle);
}

/* NULL stays NULL; 0 or -1 (out of memory). */
static int dup_opt(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? -1 : 0;
}

int oocsi__options_copy(oocsi_options *dst, const oocsi_options *src)
{
    *dst = *src;
    dst->endpoints = NULL;
    dst->n_endpoints = 0;
    int bad = dup_opt(&dst->handle, src->handle);
    bad |= dup_opt(&dst->bad_handle, src->bad_handle);
    bad |= dup_opt(&dst->tls_ca_file, src->tls_ca_file);
    bad |= dup_opt(&dst->tls_cert_file, src->tls_cert_file);
    bad |= dup_opt(&dst->tls_key_file, src->tls_key_file);
    if (!bad && src->n_endpoints) {
        dst->endpoints = calloc((size_t)src->n_endpoints, sizeof(char *));
        bad = !dst->endpoints;
        for (int i = 0; !bad && i < src->n_endpoints; i++) {
            bad = dup_opt(&dst->endpoints[i], src->endpoints[i]);
            dst->n_endpoints = i + 1;
        }
    }
    if (!bad)
        return OOCSI_OK;
    oocsi__options_clear(dst);
    return OOCSI_ERR_NOMEM;
}

int64_t oocsi__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void oocsi__deadline_to_timespec(int64_t deadline_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

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

static _Thread_local char thread_error[1024];

int oocsi__bad_name(const char *fn, const char *arg, const char *name)
{
    if (!name)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is NULL", fn, arg);
    if (!*name)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is empty", fn, arg);
    return oocsi_fail(OOCSI_ERR_INVAL,
                      "%s: %s \"%s\" contains a space or a control character (names travel unquoted on the line "
                      "protocol; only a subscription's trailing [filter(...);transform(...)] may hold spaces)",
                      fn, arg, name);
}

int oocsi_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(thread_error, sizeof thread_error, fmt, ap);
    va_end(ap);
    return code;
}

void oocsi__set_error(oocsi_client *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    free(c->last_error);
    c->last_error = strdup(msg);
}

int oocsi__validate_name(const char *s)
{
    if (!s || !*s)
        return OOCSI_ERR_INVAL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return OOCSI_ERR_INVAL;
    return OOCSI_OK;
}

int oocsi__validate_subscription(const char *s)
{
    if (!s || !*s)
        return OOCSI_ERR_INVAL;
    /* CHANNEL[functions]: the server's filter/transform expressions may hold
     * spaces between the first '[' and the closing ']' (the subscribe
     * command takes the rest of its line); nowhere else. */
    const char *open = strchr(s, '[');
    size_t n = strlen(s);
    int bracketed = open && open > s && s[n - 1] == ']';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return OOCSI_ERR_INVAL;
        if (*p == ' ' && !(bracketed && (const char *)p > open && p < (const unsigned char *)s + n - 1))
            return OOCSI_ERR_INVAL;
    }
    return OOCSI_OK;
}

static void client_free(oocsi_client *c);

int oocsi_connect(oocsi_client **out, const oocsi_options *opts)
{
    if (!out || !opts)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_connect: %s is NULL", out ? "opts" : "out");
    *out = NULL;
    if (opts->bad_handle)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_connect: the handle \"%s\" was refused: %s", opts->bad_handle,
                          oocsi__handle_problem(opts->bad_handle));
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
    pthread_cond_init(&c->lend_cv, &ca);
    pthread_mutex_init(&c->lend_mu, NULL);
    pthread_condattr_destroy(&ca);
    c->sync_init = 1;
    oocsi__rng_seed(&c->rng);
    c->offline.max_count = c->opts.queue_max_count;
    c->offline.max_bytes = c->opts.queue_max_bytes;

    int rc = OOCSI_ERR_NOMEM;
    if (c->opts.wake_signal ? oocsi__wake_signal_install(c->opts.wake_signal) != 0 : oocsi__wake_open(c) != 0)
        goto fail;
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
    oocsi__start_pass(c);
    while (c->initial_result == INITIAL_PENDING)
        oocsi__step_io(c, 100);
    c->in_callback--;
    c->loop_busy = 0;
    c->initial = 0;
    rc = c->initial_result;
    if (rc != OOCSI_OK) {
        oocsi__close_transport(c);
        c->st = CS_IDLE;
        const char *detail = c->report.len ? c->report.data : oocsi_strerror(rc);
        oocsi__log(c, OOCSI_LOG_ERROR, "could not connect: %s", detail);
        oocsi_fail(rc, "could not connect: %s", detail);
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != OOCSI_OK)
        goto fail;
    if (!oocsi__live_add(c)) {
        rc = OOCSI_ERR_NOMEM;
        goto fail;
    }
    *out = c;
    return OOCSI_OK;
fail:
    client_free(c);
    return rc;
}

static void client_free(oocsi_client *c)
{
    oocsi__close_transport(c);
    oocsi__queue_clear(&c->offline);
    while (c->inflight_head) {
        oocsi__qitem *f = c->inflight_head;
        c->inflight_head = f->next;
        oocsi__qitem_free(f);
    }
    while (c->subs) {
        oocsi__sub *s = c->subs;
        c->subs = s->next;
        while (s->listeners) {
            oocsi__listener *l = s->listeners;
            s->listeners = l->next;
            oocsi__listener_free(l);
        }
        free(s->channel);
        free(s);
    }
    oocsi__pings_fail_all(c, OOCSI_ERR_CLOSED);
    while (c->timers) {
        oocsi__timer *t = c->timers;
        c->timers = t->next;
        free(t);
    }
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
    oocsi_buf_free(&c->report);
    free(c->requested);
    free(c->handle);
    free(c->last_error);
    if (c->wake_r >= 0)
        close(c->wake_r);
    if (c->wake_w >= 0 && c->wake_w != c->wake_r)
        close(c->wake_w);
    oocsi__options_clear(&c->opts);
    if (c->sync_init) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        pthread_cond_destroy(&c->lend_cv);
        pthread_mutex_destroy(&c->lend_mu);
    }
    free(c);
}

/* The open clients: closing one twice, or using one after closing it in the
 * few calls that are made at teardown (oocsi_close, oocsi_unsubscribe_handler
 * from a variable's free), is reported instead of reading freed memory. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static oocsi_client **live;
static size_t n_live, cap_live;

int oocsi__live_add(oocsi_client *c)
{
    pthread_mutex_lock(&live_mu);
    if (n_live == cap_live) {
        size_t cap = cap_live ? cap_live * 2 : 16;
        oocsi_client **n = realloc(live, cap * sizeof(*n));
        if (!n) {
            pthread_mutex_unlock(&live_mu);
            return 0;
        }
        live = n;
        cap_live = cap;
    }
    live[n_live++] = c;
    pthread_mutex_unlock(&live_mu);
    return 1;
}

static int live_index(const oocsi_client *c)
{
    for (size_t i = 0; i < n_live; i++)
        if (live[i] == c)
            return (int)i;
    return -1;
}

int oocsi__is_live(const oocsi_client *c)
{
    pthread_mutex_lock(&live_mu);
    int yes = live_index(c) >= 0;
    pthread_mutex_unlock(&live_mu);
    return yes;
}

static int live_remove(oocsi_client *c)
{
    pthread_mutex_lock(&live_mu);
    int i = live_index(c);
    if (i >= 0) {
        live[i] = live[--n_live];
        if (n_live == 0) {
            free(live);
            live = NULL;
            cap_live = 0;
        }
    }
    pthread_mutex_unlock(&live_mu);
    return i >= 0;
}

void oocsi_close(oocsi_client *c)
{
    if (!c)
        return;
    if (!live_remove(c)) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_close: c is not an open client (closed twice?)");
        fprintf(stderr, "liboocsi: oocsi_close: %p is not an open client (closed twice?); ignored\n", (void *)c);
        return;
    }
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
            oocsi__step_io(c, (int)(deadline - oocsi__now_ms()));
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
            oocsi__step_io(c, 10);
        c->in_callback--;
        c->loop_busy = 0;
    }
    c->st = CS_CLOSED;
    /* Pending asynchronous calls end now: their callbacks run once with NULL
     * so callers can release what they attached. Queued results too. */
    oocsi__note *notes = c->notes_head;
    c->notes_head = c->notes_tail = NULL;
    c->notes_bytes = 0;
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
        return thread_error;
    return c->last_error ? c->last_error : "";
}
