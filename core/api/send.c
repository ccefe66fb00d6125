/*
 * Sending: oocsi_send (a cJSON object), oocsi_send_json (JSON text, checked
 * and passed through) and oocsi_send_jsonf (printf-style JSON text). The
 * engine queues or writes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static int send_text(oocsi_client *c, const char *recipient, const char *payload, size_t len)
{
    pthread_mutex_lock(&c->mu);
    int rc = oocsi__send_locked(c, recipient, payload, len);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* What a JSON value is, for "must be a JSON object (got an array)". */
static const char *json_kind(const cJSON *v)
{
    if (!v)
        return "NULL";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    return cJSON_IsNull(v) ? "null" : "an invalid value";
}

int oocsi_send(oocsi_client *c, const char *recipient, const cJSON *data)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("recipient", recipient);
    if (!cJSON_IsObject(data))
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_send: data must be a JSON object (got %s)", json_kind(data));
    char *text;
    size_t len;
    int rc = oocsi__render(data, &text, &len);
    if (rc != OOCSI_OK)
        return rc;
    rc = send_text(c, recipient, text, len);
    free(text);
    return rc;
}

/* Parses text (from argument arg of function fn) and sends it to recipient. */
static int send_text_json(const char *fn, const char *arg, oocsi_client *c, const char *recipient, const char *text)
{
    const char *at = NULL; /* where parsing stopped: cJSON_GetErrorPtr() is shared by all threads */
    cJSON *obj = cJSON_ParseWithOpts(text, &at, 1);
    if (!obj) {
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s is not valid JSON (error near: %.40s)", fn, arg,
                          at && *at ? at : "the end of the text");
    }
    int rc = cJSON_IsObject(obj)
                 ? oocsi_send(c, recipient, obj)
                 : oocsi_fail(OOCSI_ERR_INVAL, "%s: %s must be a JSON object (got %s)", fn, arg, json_kind(obj));
    cJSON_Delete(obj);
    return rc;
}

/* Checks text as JSON without parsing it into a tree and sends it as it is
 * (numbers exactly as written), rewritten only where the wire needs it: line
 * breaks between tokens dropped, non-ASCII and control characters in strings
 * escaped. Text that only cJSON's more lenient parser takes (a number with a
 * leading zero, say) and invalid text take the parsing path, which sends
 * what cJSON makes of it or explains the error. */
static int pass_through(const char *fn, const char *arg, oocsi_client *c, const char *recipient, const char *text)
{
    size_t n = strlen(text);
    int flags = oocsi_json_scan_object(text, n, NULL, NULL, NULL);
    if (flags < 0)
        return send_text_json(fn, arg, c, recipient, text);
    /* checked: only whitespace around the object */
    const char *s = text;
    while (*s != '{')
        s++;
    while (n > 0 && text[n - 1] != '}')
        n--;
    size_t len = (size_t)(text + n - s);
    if (!(flags & (OOCSI_JSON_NON_ASCII | OOCSI_JSON_CONTROL | OOCSI_JSON_LINEBREAK)))
        return send_text(c, recipient, s, len);
    size_t wlen;
    char *wire = oocsi__json_wire(s, len, &wlen);
    if (!wire)
        return OOCSI_ERR_NOMEM;
    int rc = send_text(c, recipient, wire, wlen);
    free(wire);
    return rc;
}

int oocsi_send_json(oocsi_client *c, const char *recipient, const char *json_object)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("recipient", recipient);
    OOCSI__CHECK(json_object, "json_object", "is NULL");
    return pass_through(__func__, "json_object", c, recipient, json_object);
}

int oocsi_send_text(oocsi_client *c, const char *recipient, const char *text)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("recipient", recipient);
    OOCSI__CHECK(text, "text", "is NULL");
    OOCSI__CHECK(oocsi_utf8_valid(text, strlen(text)), "text", "is not valid UTF-8");
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "data", text)) {
        cJSON_Delete(o);
        return OOCSI_ERR_NOMEM;
    }
    int rc = oocsi_send(c, recipient, o);
    cJSON_Delete(o);
    return rc;
}

int oocsi_send_jsonf(oocsi_client *c, const char *recipient, const char *fmt, ...)
{
    OOCSI__CHECK(c, "c", "is NULL");
    OOCSI__CHECK_NAME("recipient", recipient);
    OOCSI__CHECK(fmt, "fmt", "is NULL");
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    OOCSI__CHECK(n >= 0, "fmt", "could not be formatted (vsnprintf failed)");
    if ((size_t)n < sizeof small)
        return pass_through(__func__, "the formatted text", c, recipient, small);
    char *text = malloc((size_t)n + 1);
    if (!text)
        return OOCSI_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = pass_through(__func__, "the formatted text", c, recipient, text);
    free(text);
    return rc;
}
