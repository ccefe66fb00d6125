/*
 * Codec helpers: the growable byte buffer, event cleanup, strict UTF-8
 * validation and repair, and the ASCII-only compact JSON writer used on the
 * send path (the reference server corrupts multi-byte UTF-8
 * characters that straddle its 1024-byte read chunks, so clients send pure
 * ASCII with \uXXXX escapes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "oocsi/codec.h"

/* ------------------------------------------------------------- buffers */

/* Makes room for extra more bytes plus the terminating NUL. */
static int buf_grow(oocsi_buf *b, size_t extra)
{
    size_t need, ncap;
    char *p;

    if (b->data == NULL) {
        b->len = 0;
        b->cap = 0;
    }
    if (extra > SIZE_MAX - 1 - b->len) {
        return OOCSI_ERR_NOMEM;
    }
    need = b->len + extra + 1;
    if (b->data != NULL && need <= b->cap) {
        return OOCSI_OK;
    }
    ncap = b->cap < 64 ? 64 : b->cap;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    p = realloc(b->data, ncap);
    if (p == NULL) {
        return OOCSI_ERR_NOMEM;
    }
    p[b->len] = '\0';
    b->data = p;
    b->cap = ncap;
    return OOCSI_OK;
}

static inline int buf_reserve(oocsi_buf *b, size_t extra)
{
    if (b->data != NULL && b->cap - b->len > extra) {
        return OOCSI_OK;
    }
    return buf_grow(b, extra);
}

/* Appends without terminating; the caller reserved room and terminates later. */
static inline void buf_put(oocsi_buf *b, const void *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

int oocsi_buf_append(oocsi_buf *b, const void *p, size_t n)
{
    int rc;

    if (b == NULL || (p == NULL && n > 0)) {
        return OOCSI_ERR_INVAL;
    }
    rc = buf_reserve(b, n);
    if (rc != OOCSI_OK) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return OOCSI_OK;
}

int oocsi_buf_append_str(oocsi_buf *b, const char *s)
{
    if (s == NULL) {
        return OOCSI_ERR_INVAL;
    }
    return oocsi_buf_append(b, s, strlen(s));
}

void oocsi_buf_free(oocsi_buf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* -------------------------------------------------------------- events */

void oocsi_event_clear(oocsi_event *ev)
{
    if (ev == NULL) {
        return;
    }
    free(ev->text);
    if (!ev->json_packed) {
        free(ev->sender);
        free(ev->recipient);
    }
    free(ev->json);
    cJSON_Delete(ev->data);
    memset(ev, 0, sizeof(*ev));
}

/* --------------------------------------------------------------- UTF-8 */

/*
 * Decodes the multi-byte sequence at s[0] (s[0] >= 0x80; n >= 1 bytes
 * readable). Valid (Unicode Table 3-7: no overlongs, no surrogates, at most
 * U+10FFFF): returns its length 2..4 and sets *cp. Invalid: returns minus the
 * length of its maximal subpart (1..3 bytes), the unit that gets one U+FFFD.
 * Never reads past the first byte that breaks the sequence, so a NUL
 * terminator also stops it.
 */
int oocsi__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    uint32_t v;
    int need, i;

    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0Fu;
        if (c == 0xE0) {
            lo = 0xA0; /* overlong */
        } else if (c == 0xED) {
            hi = 0x9F; /* surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07u;
        if (c == 0xF0) {
            lo = 0x90; /* overlong */
        } else if (c == 0xF4) {
            hi = 0x8F; /* > U+10FFFF */
        }
    } else {
        return -1; /* continuation byte, C0, C1, F5..FF */
    }
    for (i = 1; i <= need; i++) {
        unsigned char b;
        if ((size_t)i >= n) {
            return -i;
        }
        b = s[i];
        if (b < lo || b > hi) {
            return -i;
        }
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (b & 0x3Fu);
    }
    *cp = v;
    return need + 1;
}

#define ASCII_MASK 0x8080808080808080ull

int oocsi_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL) {
        return len == 0;
    }
    while (i < len) {
        uint32_t cp;
        int k;
        /* ASCII fast path, eight bytes at a time */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & ASCII_MASK) {
                break;
            }
            i += 8;
        }
        while (i < len && p[i] < 0x80) {
            i++;
        }
        if (i >= len) {
            break;
        }
        k = oocsi__utf8_decode(p + i, len - i, &cp);
        if (k < 0) {
            return 0;
        }
        i += (size_t)k;
    }
    return 1;
}

/* One pass of the repair: counts the output (out == NULL) or writes it. */
static size_t utf8_repair(const unsigned char *p, size_t len, char *out, int *overflow)
{
    static const char fffd[3] = {'\xEF', '\xBF', '\xBD'};
    size_t i = 0, o = 0;

    while (i < len) {
        size_t run = i, add;
        uint32_t cp;
        int k;

        while (i < len && p[i] != 0 && p[i] < 0x80) {
            i++;
        }
        if (i > run) {
            if (o > SIZE_MAX - 1 - (i - run)) {
                *overflow = 1;
                return 0;
            }
            if (out != NULL) {
                memcpy(out + o, p + run, i - run);
            }
            o += i - run;
        }
        if (i >= len) {
            break;
        }
        if (p[i] == 0) {
            k = -1;
        } else {
            k = oocsi__utf8_decode(p + i, len - i, &cp);
        }
        add = k > 0 ? (size_t)k : 3;
        if (o > SIZE_MAX - 1 - add) {
            *overflow = 1;
            return 0;
        }
        if (out != NULL) {
            if (k > 0) {
                memcpy(out + o, p + i, (size_t)k);
            } else {
                memcpy(out + o, fffd, 3);
            }
        }
        o += add;
        i += k > 0 ? (size_t)k : (size_t)(-k);
    }
    return o;
}

char *oocsi_utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
    int overflow = 0;
    size_t n;
    char *out;

    if (s == NULL && len > 0) {
        return NULL;
    }
    n = s == NULL ? 0 : utf8_repair((const unsigned char *)s, len, NULL, &overflow);
    if (overflow) {
        return NULL;
    }
    out = malloc(n + 1);
    if (out == NULL) {
        return NULL;
    }
    if (n > 0) {
        (void)utf8_repair((const unsigned char *)s, len, out, &overflow);
    }
    out[n] = '\0';
    if (out_len != NULL) {
        *out_len = n;
    }
    return out;
}

/* ----------------------------------------------------- ASCII JSON writer */

static const char hexdigits[] = "0123456789abcdef";

static void put_u16(char *o, unsigned v)
{
    o[0] = '\\';
    o[1] = 'u';
    o[2] = hexdigits[(v >> 12) & 0xF];
    o[3] = hexdigits[(v >> 8) & 0xF];
    o[4] = hexdigits[(v >> 4) & 0xF];
    o[5] = hexdigits[v & 0xF];
}

/* Writes a code point >= 0x80 as one \uXXXX or a surrogate pair. */
static int put_escaped_cp(oocsi_buf *b, uint32_t cp)
{
    if (buf_reserve(b, 12) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    if (cp < 0x10000) {
        put_u16(b->data + b->len, cp);
        b->len += 6;
    } else {
        cp -= 0x10000;
        put_u16(b->data + b->len, 0xD800 | (cp >> 10));
        put_u16(b->data + b->len + 6, 0xDC00 | (cp & 0x3FF));
        b->len += 12;
    }
    return OOCSI_OK;
}

/* Escapes the UTF-8 sequence at *p (a NUL-terminated string) as \\u escapes
 * and moves *p past it. SIZE_MAX as the length is safe: decoding stops at the
 * first byte that does not continue the sequence, and the NUL never does. */
static int put_non_ascii(oocsi_buf *b, const unsigned char **p)
{
    uint32_t cp = 0;
    int k = oocsi__utf8_decode(*p, SIZE_MAX, &cp);
    if (k < 0) {
        return OOCSI_ERR_INVAL;
    }
    if (put_escaped_cp(b, cp) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    *p += k;
    return OOCSI_OK;
}

/* A JSON string literal with every non-ASCII character escaped. */
static int put_string(oocsi_buf *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str != NULL ? str : "");
    size_t n = strlen((const char *)s), i = 0;

    /* the common case at once: quotes and plain text */
    if (buf_reserve(b, n + 2) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    b->data[b->len++] = '"';
    for (;;) {
        size_t j = oocsi__json_next_special(s, i, n);
        if (j > i) {
            if (buf_reserve(b, j - i + 1) != OOCSI_OK) {
                return OOCSI_ERR_NOMEM;
            }
            buf_put(b, s + i, j - i);
        }
        i = j;
        if (i >= n) {
            break;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            char esc = 0;
            if (buf_reserve(b, 6) != OOCSI_OK) {
                return OOCSI_ERR_NOMEM;
            }
            switch (c) {
            case '"':
                esc = '"';
                break;
            case '\\':
                esc = '\\';
                break;
            case '\b':
                esc = 'b';
                break;
            case '\f':
                esc = 'f';
                break;
            case '\n':
                esc = 'n';
                break;
            case '\r':
                esc = 'r';
                break;
            case '\t':
                esc = 't';
                break;
            default:
                break;
            }
            if (esc != 0) {
                b->data[b->len++] = '\\';
                b->data[b->len++] = esc;
            } else {
                put_u16(b->data + b->len, c);
                b->len += 6;
            }
            i++;
        } else {
            const unsigned char *p = s + i;
            int rc = put_non_ascii(b, &p);
            if (rc != OOCSI_OK) {
                return rc;
            }
            i = (size_t)(p - s);
        }
    }
    if (buf_reserve(b, 1) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    b->data[b->len++] = '"';
    return OOCSI_OK;
}

/* Raw JSON text (cJSON_Raw): copied, with non-ASCII escaped (only meaningful
 * inside strings, where it is the right thing) and control characters, which
 * can only be whitespace in valid JSON, turned into spaces so that a raw LF
 * cannot break the line framing. */
static int put_raw(oocsi_buf *b, const char *raw)
{
    const unsigned char *p = (const unsigned char *)raw;

    if (raw == NULL) {
        return OOCSI_ERR_INVAL;
    }
    while (*p != 0) {
        if (*p < 0x80) {
            if (buf_reserve(b, 1) != OOCSI_OK) {
                return OOCSI_ERR_NOMEM;
            }
            b->data[b->len++] = *p < 0x20 ? ' ' : (char)*p;
            p++;
        } else {
            int rc = put_non_ascii(b, &p);
            if (rc != OOCSI_OK) {
                return rc;
            }
        }
    }
    return OOCSI_OK;
}

/* Integral values within int64 print exactly as integers (12345678901234,
 * 1.0 -> 1, like cJSON); others with the shortest of %.15g/%.17g that reads
 * back; non-finite values as null (like cJSON). */
static int put_number(oocsi_buf *b, double d)
{
    char tmp[48];
    int n, i;

    if (d != d || d - d != 0) {
        n = snprintf(tmp, sizeof(tmp), "null");
    } else if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && (double)(int64_t)d == d) {
        /* integers: digits by hand, much cheaper than snprintf */
        int64_t v = (int64_t)d;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        char rev[24];
        int k = 0;
        do {
            rev[k++] = (char)('0' + (int)(u % 10));
            u /= 10;
        } while (u != 0);
        n = 0;
        if (v < 0) {
            tmp[n++] = '-';
        }
        while (k > 0) {
            tmp[n++] = rev[--k];
        }
    } else {
        n = snprintf(tmp, sizeof(tmp), "%1.15g", d);
        if (n > 0 && strtod(tmp, NULL) != d) {
            n = snprintf(tmp, sizeof(tmp), "%1.17g", d);
        }
        /* locale decimal point -> '.' */
        for (i = 0; i < n && i < (int)sizeof(tmp); i++) {
            char c = tmp[i];
            if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E')) {
                tmp[i] = '.';
            }
        }
    }
    if (n <= 0 || n >= (int)sizeof(tmp)) {
        return OOCSI_ERR_INVAL;
    }
    if (buf_reserve(b, (size_t)n) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    buf_put(b, tmp, (size_t)n);
    return OOCSI_OK;
}

static int put_lit(oocsi_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    buf_put(b, s, n);
    return OOCSI_OK;
}

static int put_char(oocsi_buf *b, char c)
{
    if (buf_reserve(b, 1) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    b->data[b->len++] = c;
    return OOCSI_OK;
}

/* 1 if a later member of the same object has m's key: cJSON keeps both when
 * a key is added twice, the wire must not (the last one written wins, as
 * with a dictionary). */
static int shadowed(const cJSON *m)
{
    for (const cJSON *o = m->next; o != NULL; o = o->next) {
        if (o->string != NULL && o->string[0] == m->string[0] && strcmp(o->string, m->string) == 0) {
            return 1;
        }
    }
    return 0;
}

/* m or the first member after it to write: in objects, shadowed keys are
 * skipped (the last member never is). */
static const cJSON *member_from(const cJSON *m, int in_object)
{
    while (in_object && m != NULL && m->string != NULL && shadowed(m)) {
        m = m->next;
    }
    return m;
}

char *oocsi_json_ascii(const cJSON *obj, size_t *len, int *err)
{
    /* Iterative walk (no recursion, so any depth is safe); the stack holds
     * the open containers. */
    const cJSON *local[64];
    const cJSON **stack = local;
    const cJSON **heap = NULL;
    size_t depth = 0, stack_cap = sizeof(local) / sizeof(local[0]);
    const cJSON *it = obj;
    oocsi_buf b = {NULL, 0, 0};
    int rc = OOCSI_OK;

    if (obj == NULL) {
        rc = OOCSI_ERR_INVAL;
        goto fail;
    }
    if (buf_reserve(&b, 256) != OOCSI_OK) {
        rc = OOCSI_ERR_NOMEM;
        goto fail;
    }
    for (;;) {
        int type = it->type & 0xFF;

        if (depth > 0 && (stack[depth - 1]->type & 0xFF) == cJSON_Object) {
            rc = put_string(&b, it->string);
            if (rc == OOCSI_OK) {
                rc = put_char(&b, ':');
            }
            if (rc != OOCSI_OK) {
                goto fail;
            }
        }
        switch (type) {
        case cJSON_Object:
        case cJSON_Array:
            rc = put_char(&b, type == cJSON_Object ? '{' : '[');
            if (rc != OOCSI_OK) {
                goto fail;
            }
            if (it->child != NULL) {
                if (depth == stack_cap) {
                    const cJSON **ns;
                    if (stack_cap > SIZE_MAX / 2 / sizeof(*ns)) {
                        rc = OOCSI_ERR_NOMEM;
                        goto fail;
                    }
                    ns = realloc(heap, stack_cap * 2 * sizeof(*ns));
                    if (ns == NULL) {
                        rc = OOCSI_ERR_NOMEM;
                        goto fail;
                    }
                    if (heap == NULL) {
                        memcpy(ns, local, sizeof(local));
                    }
                    heap = ns;
                    stack = ns;
                    stack_cap *= 2;
                }
                stack[depth++] = it;
                it = member_from(it->child, type == cJSON_Object);
                continue;
            }
            rc = put_char(&b, type == cJSON_Object ? '}' : ']');
            break;
        case cJSON_String:
            rc = put_string(&b, it->valuestring);
            break;
        case cJSON_Number:
            rc = put_number(&b, it->valuedouble);
            break;
        case cJSON_True:
            rc = put_lit(&b, "true", 4);
            break;
        case cJSON_False:
            rc = put_lit(&b, "false", 5);
            break;
        case cJSON_NULL:
            rc = put_lit(&b, "null", 4);
            break;
        case cJSON_Raw:
            rc = put_raw(&b, it->valuestring);
            break;
        default:
            rc = OOCSI_ERR_INVAL;
            break;
        }
        if (rc != OOCSI_OK) {
            goto fail;
        }
        /* next sibling, or close the containers that are done */
        for (;;) {
            if (depth == 0) {
                goto done;
            }
            const cJSON *next = member_from(it->next, (stack[depth - 1]->type & 0xFF) == cJSON_Object);
            if (next != NULL) {
                rc = put_char(&b, ',');
                if (rc != OOCSI_OK) {
                    goto fail;
                }
                it = next;
                break;
            }
            it = stack[--depth];
            rc = put_char(&b, (it->type & 0xFF) == cJSON_Object ? '}' : ']');
            if (rc != OOCSI_OK) {
                goto fail;
            }
        }
    }

done:
    free(heap);
    b.data[b.len] = '\0';
    if (len != NULL) {
        *len = b.len;
    }
    if (err != NULL) {
        *err = OOCSI_OK;
    }
    return b.data;

fail:
    free(heap);
    oocsi_buf_free(&b);
    if (len != NULL) {
        *len = 0;
    }
    if (err != NULL) {
        *err = rc;
    }
    return NULL;
}
