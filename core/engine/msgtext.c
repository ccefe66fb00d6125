/*
 * Messages kept as text: a message decoded in its unparsed form carries the
 * JSON object text it came in; the payload tree is built only when the
 * application asks for it (once, kept with the message), typed getters read
 * single values out of the text, and the payload's text is cut out of it
 * with numbers exactly as they came (integers beyond 2^53 included).
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "jsonscan.h"

/* The keys of the envelope, which are not part of the payload. */
static int envelope_key(const oocsi__json_span *k)
{
    return oocsi__json_key_is(k, "sender", 6) || oocsi__json_key_is(k, "recipient", 9) ||
           oocsi__json_key_is(k, "timestamp", 9);
}

cJSON *oocsi__payload_tree(const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return NULL;
    oocsi__delete_key(root, "sender");
    oocsi__delete_key(root, "recipient");
    oocsi__delete_key(root, "timestamp");
    return root;
}

int oocsi__event_make_tree(oocsi_event *ev)
{
    if (!ev->json)
        return OOCSI_OK;
    cJSON *data = oocsi__payload_tree(ev->json, ev->json_len);
    if (!data)
        return OOCSI_ERR_NOMEM;
    if (ev->json_packed) {
        char *s = strdup(ev->sender ? ev->sender : "");
        char *r = strdup(ev->recipient ? ev->recipient : "");
        if (!s || !r) {
            free(s);
            free(r);
            cJSON_Delete(data);
            return OOCSI_ERR_NOMEM;
        }
        ev->sender = s;
        ev->recipient = r;
        ev->json_packed = 0;
    }
    free(ev->json);
    ev->json = NULL;
    ev->json_len = 0;
    ev->data = data;
    return OOCSI_OK;
}

const cJSON *oocsi__message_payload(const oocsi_message *m)
{
    if (!m->data && m->json) {
        /* handlers get a const message; the tree is the message's cache */
        ((oocsi_message *)m)->data = oocsi__payload_tree(m->json, m->json_len);
    }
    return m->data;
}

int oocsi__message_value(const oocsi_message *m, const char *key, oocsi__json_span *val)
{
    if (!m->json)
        return -1;
    oocsi__json_iter it = {m->json, m->json_len, 0};
    oocsi__json_span k, v;
    size_t kl = strlen(key);
    while (oocsi__json_next_member(&it, &k, &v)) {
        if (oocsi__json_key_is(&k, key, kl) && !envelope_key(&k)) {
            *val = v;
            return 1;
        }
    }
    return 0;
}

/* The four hex digits at p (checked text). */
static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

char *oocsi__message_payload_text(const oocsi_message *m)
{
    if (!m->json)
        return NULL;
    oocsi_buf b = {NULL, 0, 0};
    oocsi__json_iter it = {m->json, m->json_len, 0};
    oocsi__json_span k, v;
    int rc = oocsi_buf_append(&b, "{", 1);
    int first = 1;
    while (rc == OOCSI_OK && oocsi__json_next_member(&it, &k, &v)) {
        if (envelope_key(&k))
            continue;
        if (!first)
            rc = oocsi_buf_append(&b, ",", 1);
        first = 0;
        if (rc == OOCSI_OK)
            rc = oocsi_buf_append(&b, k.p - 1, k.n + 2); /* with its quotes */
        if (rc == OOCSI_OK)
            rc = oocsi_buf_append(&b, ":", 1);
        if (rc == OOCSI_OK)
            rc = oocsi_buf_append(&b, v.p, v.n);
    }
    if (rc == OOCSI_OK)
        rc = oocsi_buf_append(&b, "}", 1);
    if (rc != OOCSI_OK) {
        oocsi_buf_free(&b);
        return NULL;
    }
    /* Compact it (values may hold whitespace between their tokens) and write
     * characters beyond ASCII as UTF-8, as cJSON prints them (the wire
     * escapes them as \uXXXX); other escapes stay. */
    size_t o = 0;
    int in_str = 0;
    for (size_t i = 0; i < b.len; i++) {
        char c = b.data[i];
        if (in_str) {
            if (c == '\\' && b.data[i + 1] == 'u') {
                uint32_t cp = (uint32_t)hex4(b.data + i + 2);
                size_t used = 6;
                if (cp >= 0xD800 && cp <= 0xDBFF && b.data[i + 6] == '\\' && b.data[i + 7] == 'u') {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(b.data + i + 8) - 0xDC00);
                    used = 12;
                }
                if (cp >= 0x80) {
                    o += oocsi__utf8_put(b.data + o, cp); /* never longer than its escape */
                    i += used - 1;
                    continue;
                }
                b.data[o++] = c;
                c = b.data[++i];
            } else if (c == '\\') {
                b.data[o++] = c;
                c = b.data[++i];
            } else if (c == '"') {
                in_str = 0;
            }
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else if (c == '"') {
            in_str = 1;
        }
        b.data[o++] = c;
    }
    b.len = o;
    b.data[o] = '\0';
    return b.data;
}

/* --------------------------------------------------------------- numbers */

static int is_number(const oocsi__json_span *v)
{
    return v->n > 0 && (v->p[0] == '-' || (v->p[0] >= '0' && v->p[0] <= '9'));
}

int oocsi__json_to_double(const oocsi__json_span *v, double *out)
{
    if (!is_number(v))
        return OOCSI_ERR_UNSUPPORTED;
    char small[64];
    char *tmp = v->n < sizeof(small) ? small : malloc(v->n + 1);
    if (!tmp)
        return OOCSI_ERR_NOMEM;
    /* as cJSON does: the locale's decimal point for strtod */
    char point = localeconv()->decimal_point[0];
    for (size_t i = 0; i < v->n; i++)
        tmp[i] = v->p[i] == '.' ? point : v->p[i];
    tmp[v->n] = '\0';
    *out = strtod(tmp, NULL);
    if (tmp != small)
        free(tmp);
    return OOCSI_OK;
}

/* Digits of an integer literal: the magnitude (saturating test against
 * limit). 1 when v is an integer literal whose magnitude is <= limit. */
static int int_literal(const oocsi__json_span *v, uint64_t limit, int *neg, uint64_t *mag)
{
    size_t i = 0;
    uint64_t acc = 0;
    *neg = v->n > 0 && v->p[0] == '-';
    i = (size_t)*neg;
    if (i >= v->n)
        return 0;
    for (; i < v->n; i++) {
        unsigned d = (unsigned)(v->p[i] - '0');
        if (d > 9 || acc > (limit - d) / 10)
            return 0;
        acc = acc * 10 + d;
    }
    *mag = acc;
    return 1;
}

int oocsi__json_to_i64(const oocsi__json_span *v, int64_t *out)
{
    int neg;
    uint64_t mag;
    if (!is_number(v))
        return OOCSI_ERR_UNSUPPORTED;
    if (int_literal(v, (uint64_t)INT64_MAX + 1u, &neg, &mag) && (neg || mag <= (uint64_t)INT64_MAX)) {
        *out = neg ? (mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
        return OOCSI_OK;
    }
    return OOCSI_ERR_UNSUPPORTED;
}

int oocsi__json_to_u64(const oocsi__json_span *v, uint64_t *out)
{
    int neg;
    uint64_t mag;
    if (!is_number(v))
        return OOCSI_ERR_UNSUPPORTED;
    if (int_literal(v, UINT64_MAX, &neg, &mag) && (!neg || mag == 0)) {
        *out = mag;
        return OOCSI_OK;
    }
    return OOCSI_ERR_UNSUPPORTED;
}
