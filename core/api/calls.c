/*
 * Call and response, the caller's side: a request carries the call name
 * (_MESSAGE_HANDLE) and a fresh id (_MESSAGE_ID); the answer with that id ends
 * the call (the engine matches it in input.c). The responder's side is
 * dispatch.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

/* Lock held. */
static void make_id(oocsi_client *c, char out[40])
{
    /* Fresh bytes from the operating system for every call (taken from a
     * pool that is refilled 256 bytes at a time, each byte used once): an id
     * seen on the wire says nothing about the next one, so no third party
     * can answer a call it did not see. (The generator is the fallback.) */
    uint64_t ab[2];
    if (c->id_pool_left < sizeof ab) {
        c->id_pool_left = oocsi__os_random(c->id_pool, sizeof c->id_pool) == 0 ? sizeof c->id_pool : 0;
    }
    if (c->id_pool_left >= sizeof ab) {
        c->id_pool_left -= sizeof ab;
        memcpy(ab, c->id_pool + c->id_pool_left, sizeof ab);
        memset(c->id_pool + c->id_pool_left, 0, sizeof ab);
    } else {
        ab[0] = oocsi__rng_next(&c->rng);
        ab[1] = oocsi__rng_next(&c->rng);
    }
    uint64_t a = ab[0], b = ab[1];
    /* A version-4 UUID in text form. */
    snprintf(out, 40, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffffu,
             (unsigned)a & 0xfffu, (unsigned)((b >> 48) & 0x3fffu) | 0x8000u,
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* Checks the arguments of the public function fn; OOCSI_ERR_INVAL with the
 * detail recorded, or OOCSI_OK. */
static int check_call(const char *fn, oocsi_client *c, const char *channel, const char *call_name, const cJSON *data,
                      int timeout_ms)
{
    if (!c)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: c is NULL", fn);
    if (oocsi__validate_name(channel) != OOCSI_OK)
        return oocsi__bad_name(fn, "channel", channel);
    if (!call_name || !*call_name)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: call_name is %s", fn, call_name ? "empty" : "NULL");
    if (timeout_ms <= 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: timeout_ms must be > 0 (got %d)", fn, timeout_ms);
    if (data && !cJSON_IsObject(data))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: data must be a JSON object or NULL (got %s)", fn,
                          cJSON_IsArray(data)    ? "an array"
                          : cJSON_IsString(data) ? "a string"
                                                 : "a number, boolean or null");
    return OOCSI_OK;
}

static int start_call(const char *fname, oocsi_client *c, const char *channel, const char *call_name, const cJSON *data,
                      int timeout_ms, oocsi_call_fn fn, void *user, oocsi__waiter *w)
{
    int rc = check_call(fname, c, channel, call_name, data, timeout_ms);
    if (rc != OOCSI_OK)
        return rc;
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
    oocsi__delete_key(req, "_MESSAGE_HANDLE");
    oocsi__delete_key(req, "_MESSAGE_ID");
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
    /* The loop owner times calls out; another thread polling needs a
     * wake-up only if this deadline comes before it would wake anyway. A
     * waiting caller (w) watches its own deadline. */
    if (!w && k->deadline < c->poll_until)
        oocsi__poke(c);
    if (!w)
        pthread_mutex_unlock(&c->mu);
    return OOCSI_OK; /* with w: returns locked */
}

int oocsi_call(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data, int timeout_ms,
               oocsi_call_fn fn, void *user)
{
    OOCSI__CHECK(fn, "fn", "is NULL (the response arrives in fn)");
    return start_call(__func__, c, channel, call_name, data, timeout_ms, fn, user, NULL);
}

static int call_and_wait(const char *fn, oocsi_client *c, const char *channel, const char *call_name, const cJSON *data,
                         int timeout_ms, cJSON **response, char **responder)
{
    if (!response) /* named after the public function, not this helper */
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: response is NULL (the answer is stored in *response)", fn);
    *response = NULL;
    if (responder)
        *responder = NULL;
    oocsi__waiter w;
    memset(&w, 0, sizeof(w));
    int64_t deadline = oocsi__now_ms() + timeout_ms;
    int rc = start_call(fn, c, channel, call_name, data, timeout_ms, NULL, NULL, &w);
    if (rc != OOCSI_OK)
        return rc;
    rc = oocsi__wait_unlock(c, &w, deadline);
    if (rc == OOCSI_OK) {
        *response = w.response;
        if (responder) {
            *responder = w.responder;
            w.responder = NULL;
        }
    } else {
        cJSON_Delete(w.response);
    }
    free(w.responder);
    return rc;
}

int oocsi_call_and_wait(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data, int timeout_ms,
                        cJSON **response)
{
    return call_and_wait(__func__, c, channel, call_name, data, timeout_ms, response, NULL);
}

int oocsi_call_and_collect(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data,
                           int timeout_ms, size_t max_answers, cJSON **answers)
{
    OOCSI__CHECK(answers, "answers", "is NULL (the answers are stored in *answers)");
    *answers = NULL;
    oocsi__waiter w;
    memset(&w, 0, sizeof(w));
    w.answers = cJSON_CreateArray();
    if (!w.answers)
        return OOCSI_ERR_NOMEM;
    w.max_answers = max_answers;
    int64_t deadline = oocsi__now_ms() + timeout_ms;
    int rc = start_call(__func__, c, channel, call_name, data, timeout_ms, NULL, NULL, &w);
    if (rc != OOCSI_OK) {
        cJSON_Delete(w.answers);
        return rc;
    }
    rc = oocsi__wait_unlock(c, &w, deadline);
    int got = cJSON_GetArraySize(w.answers); /* no longer shared: done or detached */
    if (got > 0 && (rc == OOCSI_OK || rc == OOCSI_ERR_TIMEOUT)) {
        *answers = w.answers;
        return OOCSI_OK;
    }
    cJSON_Delete(w.answers);
    return rc;
}

int oocsi_call_and_wait_from(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data,
                             int timeout_ms, cJSON **response, char **responder)
{
    OOCSI__CHECK(responder, "responder", "is NULL (the responder's handle is stored in *responder)");
    return call_and_wait(__func__, c, channel, call_name, data, timeout_ms, response, responder);
}
