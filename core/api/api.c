/*
 * Public API entry points: sending, subscriptions, register/unregister,
 * queries and calls. They take the client lock and hand work to the engine
 * (client.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

/* ------------------------------------------------------------- sending */

static int send_text(oocsi_client *c, const char *recipient, const char *payload, size_t len)
{
    pthread_mutex_lock(&c->mu);
    int rc = oocsi__send_locked(c, recipient, payload, len);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int oocsi_send(oocsi_client *c, const char *recipient, const cJSON *data)
{
    if (!c || oocsi__validate_name(recipient) != OOCSI_OK || !cJSON_IsObject(data))
        return OOCSI_ERR_INVAL;
    char *text;
    size_t len;
    int rc = oocsi__render(data, &text, &len);
    if (rc != OOCSI_OK)
        return rc;
    rc = send_text(c, recipient, text, len);
    free(text);
    return rc;
}

int oocsi_send_json(oocsi_client *c, const char *recipient, const char *json_object)
{
    if (!c || oocsi__validate_name(recipient) != OOCSI_OK || !json_object)
        return OOCSI_ERR_INVAL;
    cJSON *obj = cJSON_ParseWithOpts(json_object, NULL, 1);
    if (!obj)
        return OOCSI_ERR_INVAL;
    int rc = cJSON_IsObject(obj) ? oocsi_send(c, recipient, obj) : OOCSI_ERR_INVAL;
    cJSON_Delete(obj);
    return rc;
}

int oocsi_send_jsonf(oocsi_client *c, const char *recipient, const char *fmt, ...)
{
    if (!c || !recipient || !fmt)
        return OOCSI_ERR_INVAL;
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return OOCSI_ERR_INVAL;
    if ((size_t)n < sizeof small)
        return oocsi_send_json(c, recipient, small);
    char *text = malloc((size_t)n + 1);
    if (!text)
        return OOCSI_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = oocsi_send_json(c, recipient, text);
    free(text);
    return rc;
}

int oocsi_connect_to(oocsi_client **out, const char *handle, const char *server)
{
    if (!out)
        return OOCSI_ERR_INVAL;
    oocsi_options *o = oocsi_options_new();
    if (!o)
        return OOCSI_ERR_NOMEM;
    int rc = oocsi_options_set_handle(o, handle);
    if (rc == OOCSI_OK && server)
        rc = oocsi_options_add_endpoint(o, server);
    if (rc == OOCSI_OK)
        rc = oocsi_connect(out, o);
    oocsi_options_free(o);
    return rc;
}

/* --------------------------------------------------------- subscriptions */

static int add_handler(oocsi_client *c, const char *channel, int kind, oocsi_handler fn, void *user)
{
    if (!c || oocsi__validate_name(channel) != OOCSI_OK || !fn)
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&c->mu);
    if (c->st == CS_CLOSED || c->close_requested) {
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_CLOSED;
    }
    oocsi__sub *s = oocsi__find_sub(c, channel);
    for (oocsi__listener *l = s ? s->listeners : NULL; l; l = l->next)
        if (l->kind == kind && l->fn == fn && l->user == user) {
            pthread_mutex_unlock(&c->mu);
            return OOCSI_OK;
        }
    oocsi__listener *l = calloc(1, sizeof(*l));
    if (!l) {
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_NOMEM;
    }
    l->kind = kind;
    l->fn = fn;
    l->user = user;
    int rc = oocsi__subscribe_locked(c, channel, l);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int oocsi_subscribe(oocsi_client *c, const char *channel, oocsi_handler fn, void *user)
{
    return add_handler(c, channel, SUB_HANDLER, fn, user);
}

int oocsi_attach(oocsi_client *c, const char *channel, oocsi_handler fn, void *user)
{
    return add_handler(c, channel, SUB_PINNED, fn, user);
}

static int is_handler(oocsi__listener *l, void *ctx)
{
    (void)ctx;
    return l->kind == SUB_HANDLER;
}

int oocsi_unsubscribe(oocsi_client *c, const char *channel)
{
    if (!c || oocsi__validate_name(channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&c->mu);
    oocsi__remove_listeners(c, channel, is_handler, NULL);
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

static int is_this_handler(oocsi__listener *l, void *ctx)
{
    const oocsi__listener *k = ctx;
    return (l->kind == SUB_HANDLER || l->kind == SUB_PINNED) && l->fn == k->fn && l->user == k->user;
}

int oocsi_unsubscribe_handler(oocsi_client *c, const char *channel, oocsi_handler fn, void *user)
{
    if (!c || oocsi__validate_name(channel) != OOCSI_OK || !fn)
        return OOCSI_ERR_INVAL;
    oocsi__listener probe = {0};
    probe.fn = fn;
    probe.user = user;
    pthread_mutex_lock(&c->mu);
    oocsi__remove_listeners(c, channel, is_this_handler, &probe);
    oocsi__wait_callbacks(c);
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

/* ---------------------------------------------------------------- queries */

static int query(oocsi_client *c, oocsi_command_type type, const char *arg, int timeout_ms, char **out)
{
    if (!c || !out || timeout_ms <= 0)
        return OOCSI_ERR_INVAL;
    *out = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->st != CS_ONLINE && c->st != CS_RESUB) {
        int rc = c->st == CS_CLOSED ? OOCSI_ERR_CLOSED : OOCSI_ERR_CLOSED;
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    if (!oocsi__codec_has(c, OOCSI_CODEC_QUERIES) || !oocsi__codec_has(c, OOCSI_CODEC_PING_BARRIER)) {
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_UNSUPPORTED;
    }
    oocsi__waiter w;
    memset(&w, 0, sizeof(w));
    int rc = oocsi__emit(c, type, arg, NULL, 0);
    if (rc == OOCSI_OK)
        rc = oocsi__emit(c, OOCSI_CMD_PING, NULL, NULL, 0);
    if (rc != OOCSI_OK) {
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    oocsi__ping_push(c, PW_QUERY, &w);
    oocsi__flush_out(c);
    oocsi__poke(c);
    rc = oocsi__wait(c, &w, oocsi__now_ms() + timeout_ms);
    pthread_mutex_unlock(&c->mu);
    if (rc == OOCSI_OK) {
        *out = strdup(w.text.data ? w.text.data : "");
        if (!*out)
            rc = OOCSI_ERR_NOMEM;
    }
    oocsi_buf_free(&w.text);
    return rc;
}

int oocsi_channels(oocsi_client *c, int timeout_ms, char **out)
{
    return query(c, OOCSI_CMD_CHANNELS, NULL, timeout_ms, out);
}

int oocsi_channel_subscribers(oocsi_client *c, const char *channel, int timeout_ms, char **out)
{
    if (oocsi__validate_name(channel) != OOCSI_OK)
        return OOCSI_ERR_INVAL;
    return query(c, OOCSI_CMD_SUBSCRIBERS, channel, timeout_ms, out);
}

int oocsi_clients(oocsi_client *c, int timeout_ms, char **out)
{
    return query(c, OOCSI_CMD_CLIENTS, NULL, timeout_ms, out);
}

/* ------------------------------------------------------------------ calls */

static int same_responder(oocsi__listener *l, void *ctx)
{
    return l->kind == SUB_RESPONDER && strcmp(l->call_name, (const char *)ctx) == 0;
}

int oocsi_register(oocsi_client *c, const char *channel, const char *call_name, oocsi_responder fn, void *user)
{
    if (!c || oocsi__validate_name(channel) != OOCSI_OK || !call_name || !*call_name || !fn)
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&c->mu);
    if (c->st == CS_CLOSED || c->close_requested) {
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_CLOSED;
    }
    oocsi__sub *s = oocsi__find_sub(c, channel);
    if (s)
        for (oocsi__listener *l = s->listeners; l; l = l->next)
            if (same_responder(l, (void *)call_name)) {
                l->rfn = fn;
                l->user = user;
                pthread_mutex_unlock(&c->mu);
                return OOCSI_OK;
            }
    oocsi__listener *l = calloc(1, sizeof(*l));
    char *name = strdup(call_name);
    if (!l || !name) {
        free(l);
        free(name);
        pthread_mutex_unlock(&c->mu);
        return OOCSI_ERR_NOMEM;
    }
    l->kind = SUB_RESPONDER;
    l->rfn = fn;
    l->user = user;
    l->call_name = name;
    int rc = oocsi__subscribe_locked(c, channel, l);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int oocsi_unregister(oocsi_client *c, const char *channel, const char *call_name)
{
    if (!c || oocsi__validate_name(channel) != OOCSI_OK || !call_name)
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&c->mu);
    oocsi__remove_listeners(c, channel, same_responder, (void *)call_name);
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

static void make_id(oocsi_client *c, char out[40])
{
    uint64_t a = oocsi__rng_next(&c->rng), b = oocsi__rng_next(&c->rng);
    /* A version-4 UUID in text form. */
    snprintf(out, 40, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffffu,
             (unsigned)a & 0xfffu, (unsigned)((b >> 48) & 0x3fffu) | 0x8000u,
             (unsigned long long)(b & 0xffffffffffffULL));
}

static int start_call(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data, int timeout_ms,
                      oocsi_call_fn fn, void *user, oocsi__waiter *w)
{
    if (!c || oocsi__validate_name(channel) != OOCSI_OK || !call_name || !*call_name || timeout_ms <= 0)
        return OOCSI_ERR_INVAL;
    if (data && !cJSON_IsObject(data))
        return OOCSI_ERR_INVAL;
    cJSON *req = data ? cJSON_Duplicate(data, 1) : cJSON_CreateObject();
    if (!req)
        return OOCSI_ERR_NOMEM;
    oocsi__call *k = calloc(1, sizeof(*k));
    if (!k) {
        cJSON_Delete(req);
        return OOCSI_ERR_NOMEM;
    }
    pthread_mutex_lock(&c->mu);
    make_id(c, k->id);
    pthread_mutex_unlock(&c->mu);
    cJSON_DeleteItemFromObjectCaseSensitive(req, "_MESSAGE_HANDLE");
    cJSON_DeleteItemFromObjectCaseSensitive(req, "_MESSAGE_ID");
    int rc = OOCSI_OK;
    if (!cJSON_AddStringToObject(req, "_MESSAGE_HANDLE", call_name) ||
        !cJSON_AddStringToObject(req, "_MESSAGE_ID", k->id))
        rc = OOCSI_ERR_NOMEM;
    char *text = NULL;
    size_t len = 0;
    if (rc == OOCSI_OK)
        rc = oocsi__render(req, &text, &len);
    cJSON_Delete(req);
    if (rc != OOCSI_OK) {
        free(k);
        return rc;
    }
    k->deadline = oocsi__now_ms() + timeout_ms;
    k->fn = fn;
    k->user = user;
    k->w = w;
    pthread_mutex_lock(&c->mu);
    rc = oocsi__send_locked(c, channel, text, len);
    free(text);
    if (rc != OOCSI_OK) {
        free(k);
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    k->next = c->calls;
    c->calls = k;
    oocsi__poke(c);
    if (!w)
        pthread_mutex_unlock(&c->mu);
    return OOCSI_OK; /* with w: returns locked */
}

int oocsi_call(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data, int timeout_ms,
               oocsi_call_fn fn, void *user)
{
    if (!fn)
        return OOCSI_ERR_INVAL;
    return start_call(c, channel, call_name, data, timeout_ms, fn, user, NULL);
}

int oocsi_call_and_wait(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data, int timeout_ms,
                        cJSON **response)
{
    if (!response)
        return OOCSI_ERR_INVAL;
    *response = NULL;
    oocsi__waiter w;
    memset(&w, 0, sizeof(w));
    int64_t deadline = oocsi__now_ms() + timeout_ms;
    int rc = start_call(c, channel, call_name, data, timeout_ms, NULL, NULL, &w);
    if (rc != OOCSI_OK)
        return rc;
    rc = oocsi__wait(c, &w, deadline);
    pthread_mutex_unlock(&c->mu);
    if (rc == OOCSI_OK)
        *response = w.response;
    else
        cJSON_Delete(w.response);
    return rc;
}
