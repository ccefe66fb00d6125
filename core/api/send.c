/*
 * Sending: oocsi_send (a cJSON object), oocsi_send_json (JSON text) and
 * oocsi_send_jsonf (printf-style JSON text). The engine queues or writes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"

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
