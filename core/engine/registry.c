/*
 * Process-wide registries of transports (by URL scheme) and codecs (by name),
 * error strings and small exported helpers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"

#define MAX_REGISTERED 32

/* A table of registered items found by a key: transports by URL scheme (any
 * case), codecs by name. A new item with a known key replaces the old one. */
typedef struct table {
    const void *items[MAX_REGISTERED];
    int n;
    const char *(*key)(const void *item);
    int (*cmp)(const char *, const char *);
} table;

static const char *transport_key(const void *item)
{
    return ((const oocsi_transport *)item)->scheme;
}

static const char *codec_key(const void *item)
{
    return ((const oocsi_codec *)item)->name;
}

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static table transports = {{NULL}, 0, transport_key, strcasecmp};
static table codecs = {{NULL}, 0, codec_key, strcmp};
static int builtins_done;

static void register_builtins_locked(void)
{
    if (builtins_done)
        return;
    builtins_done = 1;
    transports.items[transports.n++] = oocsi_transport_tcp();
#ifdef OOCSI_HAVE_TLS
    transports.items[transports.n++] = oocsi_transport_tls();
#endif
#ifdef OOCSI_HAVE_WEBSOCKETS
    transports.items[transports.n++] = oocsi_transport_ws();
    transports.items[transports.n++] = oocsi_transport_wss();
    codecs.items[codecs.n++] = oocsi_codec_webjson();
#endif
    codecs.items[codecs.n++] = oocsi_codec_line();
}

static int table_put(table *t, const void *item)
{
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    int rc = OOCSI_OK;
    int i = 0;
    while (i < t->n && t->cmp(t->key(t->items[i]), t->key(item)) != 0)
        i++;
    if (i < t->n)
        t->items[i] = item;
    else if (t->n < MAX_REGISTERED)
        t->items[t->n++] = item;
    else
        rc = OOCSI_ERR_NOMEM;
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static const void *table_get(table *t, const char *key)
{
    if (!key)
        return NULL;
    const void *found = NULL;
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    for (int i = 0; i < t->n && !found; i++)
        if (t->cmp(t->key(t->items[i]), key) == 0)
            found = t->items[i];
    pthread_mutex_unlock(&reg_mu);
    return found;
}

void oocsi__transport_schemes(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    for (int i = 0; i < transports.n && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", transport_key(transports.items[i]));
        used += n > 0 ? (size_t)n : 0;
    }
    pthread_mutex_unlock(&reg_mu);
}

int oocsi_register_transport(const oocsi_transport *t)
{
    if (!t || !t->scheme || !*t->scheme || !t->default_codec || !t->open || !t->read || !t->write || !t->close ||
        !t->process || !t->interest || (!t->fd && !t->wait))
        return OOCSI_ERR_INVAL;
    return table_put(&transports, t);
}

const oocsi_transport *oocsi_find_transport(const char *scheme)
{
    return table_get(&transports, scheme);
}

int oocsi_register_codec(const oocsi_codec *codec)
{
    if (!codec || !codec->name || !*codec->name || !codec->create || !codec->destroy || !codec->reset ||
        !codec->decode || !codec->encode)
        return OOCSI_ERR_INVAL;
    return table_put(&codecs, codec);
}

const oocsi_codec *oocsi_find_codec(const char *name)
{
    return table_get(&codecs, name);
}

const char *oocsi_strerror(int err)
{
    switch (err) {
    case OOCSI_OK:
        return "success";
    case OOCSI_ERR_INVAL:
        return "invalid argument";
    case OOCSI_ERR_NOMEM:
        return "out of memory";
    case OOCSI_ERR_CONNECT:
        return "no endpoint could be reached";
    case OOCSI_ERR_HANDLE_TAKEN:
        return "handle already registered on the server";
    case OOCSI_ERR_AUTH:
        return "password wrong for this handle";
    case OOCSI_ERR_TIMEOUT:
        return "timed out";
    case OOCSI_ERR_CLOSED:
        return "client closed or gave up reconnecting";
    case OOCSI_ERR_TLS:
        return "TLS handshake or certificate verification failed";
    case OOCSI_ERR_PROTOCOL:
        return "protocol error: the peer sent something that cannot be accepted";
    case OOCSI_ERR_UNSUPPORTED:
        return "not supported by this endpoint or build";
    case OOCSI_ERR_QUEUE_FULL:
        return "outgoing queue is full";
    case OOCSI_ERR_IO:
        return "input/output error";
    case OOCSI_ERR_NOT_FOUND:
        return "no such key in the message";
    default:
        return "unknown error";
    }
}

const char *oocsi_version(void)
{
    return OOCSI_VERSION_STRING;
}

void oocsi_free(void *p)
{
    free(p);
}
