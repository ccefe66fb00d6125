/*
 * Process-wide registries of transports (by URL scheme) and codecs (by name),
 * error strings and small exported helpers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"

#define MAX_REGISTERED 32

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const oocsi_transport *transports[MAX_REGISTERED];
static int n_transports;
static const oocsi_codec *codecs[MAX_REGISTERED];
static int n_codecs;
static int builtins_done;

static void register_builtins_locked(void)
{
    if (builtins_done)
        return;
    builtins_done = 1;
    transports[n_transports++] = oocsi_transport_tcp();
#ifdef OOCSI_HAVE_TLS
    transports[n_transports++] = oocsi_transport_tls();
#endif
#ifdef OOCSI_HAVE_WEBSOCKETS
    transports[n_transports++] = oocsi_transport_ws();
    transports[n_transports++] = oocsi_transport_wss();
    codecs[n_codecs++] = oocsi_codec_webjson();
#endif
    codecs[n_codecs++] = oocsi_codec_line();
}

int oocsi_register_transport(const oocsi_transport *t)
{
    if (!t || !t->scheme || !*t->scheme || !t->default_codec || !t->open || !t->read || !t->write || !t->close ||
        !t->process || !t->interest || (!t->fd && !t->wait))
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    int rc = OOCSI_OK;
    int i;
    for (i = 0; i < n_transports; i++)
        if (strcasecmp(transports[i]->scheme, t->scheme) == 0)
            break;
    if (i < n_transports)
        transports[i] = t;
    else if (n_transports < MAX_REGISTERED)
        transports[n_transports++] = t;
    else
        rc = OOCSI_ERR_NOMEM;
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

const oocsi_transport *oocsi_find_transport(const char *scheme)
{
    if (!scheme)
        return NULL;
    const oocsi_transport *t = NULL;
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    for (int i = 0; i < n_transports; i++)
        if (strcasecmp(transports[i]->scheme, scheme) == 0)
            t = transports[i];
    pthread_mutex_unlock(&reg_mu);
    return t;
}

int oocsi_register_codec(const oocsi_codec *codec)
{
    if (!codec || !codec->name || !*codec->name || !codec->create || !codec->destroy || !codec->reset ||
        !codec->decode || !codec->encode)
        return OOCSI_ERR_INVAL;
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    int rc = OOCSI_OK;
    int i;
    for (i = 0; i < n_codecs; i++)
        if (strcmp(codecs[i]->name, codec->name) == 0)
            break;
    if (i < n_codecs)
        codecs[i] = codec;
    else if (n_codecs < MAX_REGISTERED)
        codecs[n_codecs++] = codec;
    else
        rc = OOCSI_ERR_NOMEM;
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

const oocsi_codec *oocsi_find_codec(const char *name)
{
    if (!name)
        return NULL;
    const oocsi_codec *c = NULL;
    pthread_mutex_lock(&reg_mu);
    register_builtins_locked();
    for (int i = 0; i < n_codecs; i++)
        if (strcmp(codecs[i]->name, name) == 0)
            c = codecs[i];
    pthread_mutex_unlock(&reg_mu);
    return c;
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
