/*
 * Server queries: the channels, a channel's subscribers, the clients. The
 * query goes out followed by a ping; the text line that comes back before the
 * pong is the answer.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static int query(const char *fn, oocsi_client *c, oocsi_command_type type, const char *arg, int timeout_ms, char **out)
{
    if (!c || !out)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is NULL", fn, c ? "out" : "c");
    if (timeout_ms <= 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: timeout_ms must be > 0 (got %d)", fn, timeout_ms);
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
    return query(__func__, c, OOCSI_CMD_CHANNELS, NULL, timeout_ms, out);
}

int oocsi_channel_subscribers(oocsi_client *c, const char *channel, int timeout_ms, char **out)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("channel", channel);
    return query(__func__, c, OOCSI_CMD_SUBSCRIBERS, channel, timeout_ms, out);
}

int oocsi_clients(oocsi_client *c, int timeout_ms, char **out)
{
    return query(__func__, c, OOCSI_CMD_CLIENTS, NULL, timeout_ms, out);
}
