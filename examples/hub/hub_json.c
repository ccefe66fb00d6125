/*
 * Payload text: UTF-8 repair (invalid sequences become U+FFFD) and the strict JSON
 * scanner that validates a payload and re-emits it with the envelope keys
 * (recipient, timestamp, sender) and the server keys (_RETAIN, _DELAY,
 * _SCHEDULE) taken out.
 */
#include "hub_rooms.h"

/* ------------------------------------------------------------------ UTF-8 */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

/* 1 if s[0..n) is valid UTF-8. */
int utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(u + i, n - i);
        if (!l) {
            return 0;
        }
        i += l;
    }
    return 1;
}

/* Copies s to out replacing every invalid byte by U+FFFD. */
void utf8_sanitize(const char *s, size_t n, sbuf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq(u + i, n - i);
        if (l) {
            sb_put(out, s + i, l);
            i += l;
        } else {
            sb_put(out, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

static void put_utf8(sbuf *b, uint32_t cp)
{
    char t[4];
    if (cp < 0x80) {
        t[0] = (char)cp;
        sb_put(b, t, 1);
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, t, 2);
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, t, 3);
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, t, 4);
    }
}

/* ------------------------------------------------------------------ JSON payloads */

/* A strict JSON scanner that re-emits its input compactly (see the file
 * comment). Input must be valid UTF-8. */
typedef struct jscan {
    const char *p, *e;
    sbuf *out; /* NULL: validate only */
    int depth;
} jscan;

static int jv_value(jscan *j);

static void jv_ws(jscan *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static int hex4(const char *s, uint32_t *v)
{
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        r <<= 4;
        if (c >= '0' && c <= '9') {
            r |= (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            r |= (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            r |= (uint32_t)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *v = r;
    return 0;
}

/* At '"'. With decode != NULL the decoded string is appended there (all
 * escapes resolved; for reading values), else it is re-emitted to j->out. */
static int jv_string_x(jscan *j, sbuf *decode)
{
    sbuf *o = decode ? decode : j->out;
    j->p++; /* opening quote */
    if (o && !decode) {
        sb_putc(o, '"');
    }
    const char *run = j->p;
    while (1) {
        if (j->p >= j->e) {
            return -1;
        }
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            if (o) {
                sb_put(o, run, (size_t)(j->p - run));
                if (!decode) {
                    sb_putc(o, '"');
                }
            }
            j->p++;
            return 0;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c != '\\') {
            j->p++;
            continue;
        }
        /* escape */
        if (o) {
            sb_put(o, run, (size_t)(j->p - run));
        }
        const char *esc = j->p;
        if (j->e - j->p < 2) {
            return -1;
        }
        char k = j->p[1];
        if (k == 'u') {
            uint32_t cp, lo;
            if (j->e - j->p < 6 || hex4(j->p + 2, &cp)) {
                return -1;
            }
            j->p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && j->e - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u' &&
                !hex4(j->p + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                j->p += 6;
                if (o) {
                    put_utf8(o, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                }
            } else if (decode) {
                put_utf8(o, (cp >= 0xD800 && cp <= 0xDFFF) ? 0xFFFD : cp);
            } else if (o) {
                if (cp < 0x80 || (cp >= 0xD800 && cp <= 0xDFFF)) {
                    sb_put(o, esc, 6); /* keep ASCII escapes and lone surrogates as written */
                } else {
                    put_utf8(o, cp);
                }
            }
        } else {
            const char *dec = NULL;
            switch (k) {
            case '"':
                dec = "\"";
                break;
            case '\\':
                dec = "\\";
                break;
            case '/':
                dec = "/";
                break;
            case 'b':
                dec = "\b";
                break;
            case 'f':
                dec = "\f";
                break;
            case 'n':
                dec = "\n";
                break;
            case 'r':
                dec = "\r";
                break;
            case 't':
                dec = "\t";
                break;
            default:
                return -1;
            }
            j->p += 2;
            if (decode) {
                sb_putc(o, dec[0]);
            } else if (o) {
                sb_put(o, esc, 2);
            }
        }
        run = j->p;
    }
}

/* Number: copied verbatim. *is_int: no fraction, no exponent. */
static int jv_number(jscan *j, int *is_int)
{
    const char *s = j->p;
    const char *p = s;
    *is_int = 1;
    if (p < j->e && *p == '-') {
        p++;
    }
    if (p >= j->e) {
        return -1;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        return -1;
    }
    if (p < j->e && *p == '.') {
        *is_int = 0;
        p++;
        if (p >= j->e || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < j->e && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        p++;
        if (p < j->e && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= j->e || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < j->e && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (j->out) {
        sb_put(j->out, s, (size_t)(p - s));
    }
    j->p = p;
    return 0;
}

static int jv_literal(jscan *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->e - j->p) < n || memcmp(j->p, lit, n) != 0) {
        return -1;
    }
    if (j->out) {
        sb_put(j->out, lit, n);
    }
    j->p += n;
    return 0;
}

static int jv_container(jscan *j, char close)
{
    if (++j->depth > JSON_DEPTH_MAX) {
        return -1;
    }
    if (j->out) {
        sb_putc(j->out, *j->p);
    }
    j->p++;
    jv_ws(j);
    if (j->p < j->e && *j->p == close) {
        j->p++;
        if (j->out) {
            sb_putc(j->out, close);
        }
        j->depth--;
        return 0;
    }
    while (1) {
        if (close == '}') {
            if (j->p >= j->e || *j->p != '"' || jv_string_x(j, NULL)) {
                return -1;
            }
            jv_ws(j);
            if (j->p >= j->e || *j->p != ':') {
                return -1;
            }
            j->p++;
            if (j->out) {
                sb_putc(j->out, ':');
            }
            jv_ws(j);
        }
        if (jv_value(j)) {
            return -1;
        }
        jv_ws(j);
        if (j->p >= j->e) {
            return -1;
        }
        if (*j->p == ',') {
            j->p++;
            if (j->out) {
                sb_putc(j->out, ',');
            }
            jv_ws(j);
            continue;
        }
        if (*j->p == close) {
            j->p++;
            if (j->out) {
                sb_putc(j->out, close);
            }
            j->depth--;
            return 0;
        }
        return -1;
    }
}

static int jv_value(jscan *j)
{
    int is_int;
    if (j->p >= j->e) {
        return -1;
    }
    switch (*j->p) {
    case '{':
        return jv_container(j, '}');
    case '[':
        return jv_container(j, ']');
    case '"':
        return jv_string_x(j, NULL);
    case 't':
        return jv_literal(j, "true");
    case 'f':
        return jv_literal(j, "false");
    case 'n':
        return jv_literal(j, "null");
    default:
        return jv_number(j, &is_int);
    }
}

/* Spans of the server-interpreted keys of a payload. */

/* Decodes the JSON string at [s, e) (starting with '"') into out (NUL
 * terminated, at most cap-1 bytes). 0, or -1 if not a string or too long. */
int span_string(const char *s, const char *e, char *out, size_t cap)
{
    if (s >= e || *s != '"') {
        return -1;
    }
    sbuf tmp = {0};
    jscan j = {s, e, NULL, 0};
    int r = jv_string_x(&j, &tmp);
    if (r == 0 && tmp.len < cap && !memchr(tmp.p ? tmp.p : "", '\0', tmp.len)) {
        if (tmp.len) {
            memcpy(out, tmp.p, tmp.len);
        }
        out[tmp.len] = '\0';
    } else {
        r = -1;
    }
    sb_free(&tmp);
    return r;
}

/* Java Long.parseLong: [+-]?digits within 64 bits. */
static int parse_i64_text(const char *s, int64_t *v)
{
    const char *p = s;
    if (*p == '+' || *p == '-') {
        p++;
    }
    if (!*p) {
        return -1;
    }
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9') {
            return -1;
        }
    }
    errno = 0;
    long long r = strtoll(s, NULL, 10);
    if (errno == ERANGE) {
        return -1;
    }
    *v = r;
    return 0;
}

/* Value (number token or numeric string) as a 64-bit integer. */
int span_i64(const char *s, const char *e, int64_t *v)
{
    char buf[64];
    if (s < e && *s == '"') {
        if (span_string(s, e, buf, sizeof buf)) {
            return -1;
        }
    } else {
        size_t n = (size_t)(e - s);
        if (n >= sizeof buf) {
            return -1;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    return parse_i64_text(buf, v);
}

/* Value (number token or numeric string) as a double. */
int span_double(const char *s, const char *e, double *v)
{
    char buf[128];
    if (s < e && *s == '"') {
        if (span_string(s, e, buf, sizeof buf)) {
            return -1;
        }
    } else {
        size_t n = (size_t)(e - s);
        if (n >= sizeof buf || n == 0 || !((*s >= '0' && *s <= '9') || *s == '-')) {
            return -1;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
    char *end;
    const char *b = buf;
    while (*b == ' ' || *b == '\t') {
        b++;
    }
    if (!*b) {
        return -1;
    }
    errno = 0;
    double d = strtod(b, &end);
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    if (*end || !isfinite(d)) {
        return -1;
    }
    *v = d;
    return 0;
}

/* Normalises the payload object text [s, s+n) into body (the members, comma
 * separated, without braces). On invalid JSON body is left empty and -1 is
 * returned. */
int payload_normalise(const char *s, size_t n, sbuf *body, pkeys *k)
{
    jscan j = {s, s + n, body, 0};
    memset(k, 0, sizeof *k);
    body->len = 0;
    jv_ws(&j);
    if (j.p >= j.e || *j.p != '{') {
        return -1;
    }
    j.p++;
    j.depth = 1;
    jv_ws(&j);
    int count = 0;
    if (j.p < j.e && *j.p == '}') {
        j.p++;
        goto end;
    }
    while (1) {
        size_t mark = body->len;
        if (count) {
            sb_putc(body, ',');
        }
        if (j.p >= j.e || *j.p != '"') {
            goto bad;
        }
        const char *ks = j.p;
        if (jv_string_x(&j, NULL)) {
            goto bad;
        }
        const char *ke = j.p;
        char key[16];
        size_t kraw = (size_t)(ke - ks) - 2;
        key[0] = '\0';
        if (kraw < sizeof key && !memchr(ks + 1, '\\', kraw)) {
            memcpy(key, ks + 1, kraw);
            key[kraw] = '\0';
        } else if (kraw <= 64 && span_string(ks, ke, key, sizeof key)) {
            key[0] = '\0';
        }
        jv_ws(&j);
        if (j.p >= j.e || *j.p != ':') {
            goto bad;
        }
        j.p++;
        sb_putc(body, ':');
        jv_ws(&j);
        const char *vs = j.p;
        if (jv_value(&j)) {
            goto bad;
        }
        const char *ve = j.p;
        int drop = !strcmp(key, "sender") || !strcmp(key, "recipient") || !strcmp(key, "timestamp");
        if (*vs == 'n') {
            drop = 1; /* top-level null */
        }
        /* Numbers go on as written, integers beyond 64 bits too (the
         * reference server drops those members: nothing is lost here). */
        if (!strcmp(key, "_RETAIN")) {
            k->retain = vs;
            k->retain_end = ve;
        } else if (!strcmp(key, "_DELAY")) {
            k->delay = vs;
            k->delay_end = ve;
        } else if (!strcmp(key, "_SCHEDULE")) {
            k->sched = vs;
            k->sched_end = ve;
        }
        if (drop) {
            body->len = mark;
        } else {
            count++;
        }
        jv_ws(&j);
        if (j.p < j.e && *j.p == ',') {
            j.p++;
            jv_ws(&j);
            continue;
        }
        if (j.p < j.e && *j.p == '}') {
            j.p++;
            break;
        }
        goto bad;
    }
end:
    jv_ws(&j);
    if (j.p != j.e) {
        goto bad;
    }
    return 0;
bad:
    body->len = 0;
    memset(k, 0, sizeof *k);
    return -1;
}
