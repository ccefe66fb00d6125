/*
 * JSON text without a tree: a strict checker of one JSON object that reports
 * its top-level members (used by codecs to take the envelope out of a message
 * and by oocsi_send_json() to pass text through unparsed), string
 * unescaping, member look-up in checked text (the typed getters answer from
 * it), and the rewrite of checked text for the wire (compact, ASCII only).
 *
 * The string scanners look at 16 bytes at a time with SSE2 where the
 * compiler offers it, else 8 at a time in a 64-bit word: a 4 KiB string
 * costs well under one instruction per byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "jsonscan.h"

#define MAX_DEPTH 1000 /* as cJSON's CJSON_NESTING_LIMIT */

/* ------------------------------------------------------- string scanning */

/* 1 for a byte that ends a run of plain string content: '"', '\\', a
 * control character or a byte >= 0x80. */
static inline int special(unsigned char c)
{
    return c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
}

#if !defined(__SSE2__)
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* Bytes of w equal to b get their high bit set (exact, no false positives
 * below a true one; only the lowest set byte is used). */
static inline uint64_t eq_bytes(uint64_t w, unsigned char b)
{
    uint64_t x = w ^ (ONES * b);
    return (x - ONES) & ~x & HIGHS;
}
#endif

#if defined(__SSE2__)
/* The special bytes of a 16-byte block as a bit mask. */
static inline unsigned special_mask16(const unsigned char *p)
{
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* signed compare: < 0x20 holds for control bytes and for >= 0x80 */
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)), _mm_cmplt_epi8(v, sp));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

#if defined(__SSE2__) && defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
static inline __attribute__((target("avx2"))) unsigned special_mask32(const unsigned char *p)
{
    const __m256i q = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\'), sp = _mm256_set1_epi8(0x20);
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i m =
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, q), _mm256_cmpeq_epi8(v, bs)), _mm256_cmpgt_epi8(sp, v));
    return (unsigned)_mm256_movemask_epi8(m);
}

/* 128 bytes a round, on processors with AVX2 (chosen at run time).
 * Returns the special byte's index, or where fewer than 128 bytes are left. */
__attribute__((target("avx2"))) static size_t next_special_avx2(const unsigned char *s, size_t i, size_t n)
{
    const __m256i q = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\'), sp = _mm256_set1_epi8(0x20);
    const unsigned char *p = s + i, *end = s + n - 128;
    for (; p <= end; p += 128) {
        __m256i any = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * k));
            any =
                _mm256_or_si256(any, _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, q), _mm256_cmpeq_epi8(v, bs)),
                                                     _mm256_cmpgt_epi8(sp, v)));
        }
        if (!_mm256_testz_si256(any, any)) {
            for (int k = 0; k < 4; k++) {
                unsigned mask = special_mask32(p + 32 * k);
                if (mask != 0) {
                    return (size_t)(p - s) + 32u * (unsigned)k + (size_t)__builtin_ctz(mask);
                }
            }
        }
    }
    return (size_t)(p - s);
}

static int use_avx2(void)
{
    static int have = -1; /* a benign race: every thread computes the same */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h;
}
#endif

/* Index of the first special byte at or after i in s[0..n), or n. */
size_t oocsi__json_next_special(const unsigned char *s, size_t i, size_t n)
{
#if defined(HAVE_AVX2_PATH)
    if (n - i >= 128 && use_avx2()) {
        size_t k = next_special_avx2(s, i, n);
        if (n - k >= 128) {
            return k; /* stopped at a special byte */
        }
        i = k;
    }
#endif
#if defined(__SSE2__)
    while (n - i >= 16) {
        unsigned mask = special_mask16(s + i);
        if (mask != 0) {
            return i + (size_t)__builtin_ctz(mask);
        }
        i += 16;
    }
#else
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t hit = (w & HIGHS) | ((w - ONES * 0x20) & ~w & HIGHS) | eq_bytes(w, '"') | eq_bytes(w, '\\');
        if (hit != 0) {
            break; /* find it bytewise (endianness-neutral) */
        }
        i += 8;
    }
#endif
    while (i < n && !special(s[i])) {
        i++;
    }
    return i;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The four hex digits at s[i..i+4), or -1. */
static long hex4(const unsigned char *s, size_t i, size_t n)
{
    long v = 0;
    if (n - i < 4) {
        return -1;
    }
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(s[i + k]);
        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

/* Checks the string literal whose opening quote is s[i]; returns the index
 * after its closing quote, or 0 (with *bad at the offending byte). */
static size_t check_string(const unsigned char *s, size_t i, size_t n, int *flags, size_t *bad)
{
    i++;
    for (;;) {
        i = oocsi__json_next_special(s, i, n);
        if (i >= n) {
            *bad = n;
            return 0;
        }
        unsigned char c = s[i];
        if (c == '"') {
            return i + 1;
        }
        if (c == '\\') {
            if (n - i < 2) {
                *bad = n;
                return 0;
            }
            unsigned char e = s[i + 1];
            if (e == 'u') {
                long u = hex4(s, i + 2, n);
                if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF)) {
                    *bad = i;
                    return 0;
                }
                i += 6;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    /* a high surrogate needs its low half next */
                    long lo = n - i >= 6 && s[i] == '\\' && s[i + 1] == 'u' ? hex4(s, i + 2, n) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        *bad = i;
                        return 0;
                    }
                    i += 6;
                }
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                i += 2;
            } else {
                *bad = i;
                return 0;
            }
        } else if (c >= 0x80) {
            uint32_t cp;
            int k = oocsi__utf8_decode(s + i, n - i, &cp);
            if (k < 0) {
                *bad = i;
                return 0;
            }
            *flags |= OOCSI_JSON_NON_ASCII;
            i += (size_t)k;
        } else if (c == 0) {
            *bad = i;
            return 0;
        } else {
            *flags |= OOCSI_JSON_CONTROL; /* raw control character: legal for cJSON, escaped on the wire */
            i++;
        }
    }
}

/* Skips JSON whitespace (space, tab, CR, LF). */
static inline size_t skip_ws(const unsigned char *s, size_t i, size_t n, int *flags)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
        if (s[i] != ' ' && s[i] != '\t') {
            *flags |= OOCSI_JSON_LINEBREAK;
        }
        i++;
    }
    return i;
}

static inline int digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A number as RFC 8259 writes it; returns the index after it or 0. */
static size_t check_number(const unsigned char *s, size_t i, size_t n)
{
    if (s[i] == '-') {
        i++;
    }
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && digit(s[i])) {
        while (i < n && digit(s[i])) {
            i++;
        }
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !digit(s[i])) {
            return 0;
        }
        while (i < n && digit(s[i])) {
            i++;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (i >= n || !digit(s[i])) {
            return 0;
        }
        while (i < n && digit(s[i])) {
            i++;
        }
    }
    return i;
}

static size_t check_literal(const unsigned char *s, size_t i, size_t n)
{
    static const char *const lits[3] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t m = strlen(lits[k]);
        if (s[i] == (unsigned char)lits[k][0]) {
            return n - i >= m && memcmp(s + i, lits[k], m) == 0 ? i + m : 0;
        }
    }
    return 0;
}

int oocsi_json_scan_object(const char *text, size_t n, oocsi_json_member_fn fn, void *user, size_t *err_at)
{
    const unsigned char *s = (const unsigned char *)text;
    uint64_t kinds[(MAX_DEPTH + 64) / 64]; /* bit set: object, clear: array */
    size_t depth = 0, i = 0, bad = 0, key_s = 0, key_e = 0, val_s = 0;
    int flags = 0;

    if (text == NULL) {
        bad = 0;
        goto fail;
    }
    i = skip_ws(s, 0, n, &flags);
    if (i >= n || s[i] != '{') {
        bad = i;
        goto fail;
    }
    kinds[0] = 1;
    depth = 1;
    i++;

member_or_end: /* after '{' */
    i = skip_ws(s, i, n, &flags);
    if (i < n && s[i] == '}') {
        goto close;
    }
key:
    if (i >= n || s[i] != '"') {
        bad = i;
        goto fail;
    }
    if (depth == 1) {
        key_s = i + 1;
    }
    i = check_string(s, i, n, &flags, &bad);
    if (i == 0) {
        goto fail;
    }
    if (depth == 1) {
        key_e = i - 1;
    }
    i = skip_ws(s, i, n, &flags);
    if (i >= n || s[i] != ':') {
        bad = i;
        goto fail;
    }
    i = skip_ws(s, i + 1, n, &flags);
    if (depth == 1) {
        val_s = i;
    }
value:
    if (i >= n) {
        bad = n;
        goto fail;
    }
    switch (s[i]) {
    case '{':
    case '[':
        if (depth >= MAX_DEPTH) {
            bad = i;
            goto fail;
        }
        if (s[i] == '{') {
            kinds[depth / 64] |= 1ull << (depth % 64);
        } else {
            kinds[depth / 64] &= ~(1ull << (depth % 64));
        }
        depth++;
        if (s[i++] == '{') {
            goto member_or_end;
        }
        i = skip_ws(s, i, n, &flags);
        if (i < n && s[i] == ']') {
            goto close;
        }
        goto value;
    case '"':
        i = check_string(s, i, n, &flags, &bad);
        break;
    case 't':
    case 'f':
    case 'n':
        bad = i;
        i = check_literal(s, i, n);
        break;
    default:
        bad = i;
        i = check_number(s, i, n);
        break;
    }
    if (i == 0) {
        goto fail;
    }
after_value:
    if (depth == 1 && fn != NULL) {
        fn(text + key_s, key_e - key_s, text + val_s, i - val_s, user);
    }
    i = skip_ws(s, i, n, &flags);
    if (i < n && s[i] == ',') {
        i = skip_ws(s, i + 1, n, &flags);
        if ((kinds[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1) {
            goto key;
        }
        goto value;
    }
    if (i < n && s[i] == (((kinds[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1) ? '}' : ']')) {
        goto close;
    }
    bad = i;
    goto fail;
close:
    depth--;
    i++;
    if (depth > 0) {
        goto after_value;
    }
    i = skip_ws(s, i, n, &flags);
    if (i != n) {
        bad = i;
        goto fail;
    }
    return flags;

fail:
    if (err_at != NULL) {
        *err_at = bad;
    }
    return OOCSI_ERR_INVAL;
}

/* ------------------------------------------------------------ unescaping */

size_t oocsi__utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t oocsi_json_unescape(const char *raw, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)raw;
    size_t i = 0, o = 0;

    if (raw == NULL || out == NULL) {
        if (out != NULL) {
            out[0] = '\0';
        }
        return 0;
    }
    while (i < len) {
        const unsigned char *bs = memchr(s + i, '\\', len - i);
        size_t run = bs != NULL ? (size_t)(bs - s) - i : len - i;
        memmove(out + o, s + i, run);
        o += run;
        i += run;
        if (i >= len || len - i < 2) {
            break;
        }
        unsigned char e = s[i + 1];
        if (e == 'u') {
            long u = hex4(s, i + 2, len);
            if (u < 0) {
                break; /* unchecked text: stop at the damage */
            }
            i += 6;
            if (u >= 0xD800 && u <= 0xDBFF && len - i >= 6 && s[i] == '\\' && s[i + 1] == 'u') {
                long lo = hex4(s, i + 2, len);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (u >= 0xD800 && u <= 0xDFFF) {
                u = 0xFFFD; /* a lone surrogate (only in unchecked text) */
            }
            o += oocsi__utf8_put(out + o, (uint32_t)u);
        } else {
            static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
            const char *f = e != 0 ? strchr(from, e) : NULL;
            out[o++] = f != NULL ? to[f - from] : (char)e;
            i += 2;
        }
    }
    out[o] = '\0';
    return o;
}

/* ---------------------------------------------------- checked text: members */

/* Index after the string literal opening at s[i] (checked text). */
static size_t skip_string(const unsigned char *s, size_t i, size_t n)
{
    i++;
    for (;;) {
        i = oocsi__json_next_special(s, i, n);
        if (i >= n) {
            return n;
        }
        if (s[i] == '"') {
            return i + 1;
        }
        i += s[i] == '\\' ? 2 : 1;
    }
}

/* Index after the value starting at s[i] (checked text). */
static size_t skip_value(const unsigned char *s, size_t i, size_t n)
{
    size_t depth = 0;
    do {
        unsigned char c = s[i];
        if (c == '"') {
            i = skip_string(s, i, n);
        } else if (c == '{' || c == '[') {
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            depth--;
            i++;
        } else if (depth == 0) {
            while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] > ' ') {
                i++; /* number or literal */
            }
        } else {
            i++;
        }
    } while (depth > 0 && i < n);
    return i;
}

int oocsi__json_next_member(oocsi__json_iter *it, oocsi__json_span *key, oocsi__json_span *val)
{
    const unsigned char *s = (const unsigned char *)it->s;
    size_t n = it->n, i = it->i;
    int flags = 0;

    if (i == 0) {
        i = skip_ws(s, 0, n, &flags);
        if (i >= n || s[i] != '{') {
            return 0;
        }
        i++;
    }
    i = skip_ws(s, i, n, &flags);
    if (i < n && s[i] == ',') {
        i = skip_ws(s, i + 1, n, &flags);
    }
    if (i >= n || s[i] != '"') {
        it->i = n;
        return 0;
    }
    size_t ke = skip_string(s, i, n);
    key->p = it->s + i + 1;
    key->n = ke > i + 1 ? ke - i - 2 : 0;
    i = skip_ws(s, ke, n, &flags);
    i = skip_ws(s, i + 1, n, &flags); /* the ':' */
    size_t ve = i < n ? skip_value(s, i, n) : n;
    val->p = it->s + i;
    val->n = ve - i;
    it->i = ve;
    return ve <= n && i < n;
}

int oocsi__json_key_is(const oocsi__json_span *key, const char *name, size_t name_len)
{
    if (memchr(key->p, '\\', key->n) == NULL) {
        return key->n == name_len && memcmp(key->p, name, name_len) == 0;
    }
    /* an escaped key: decode it (never longer than its text) */
    char small[128];
    char *buf = key->n < sizeof(small) ? small : malloc(key->n + 1);
    if (buf == NULL) {
        return 0;
    }
    size_t k = oocsi_json_unescape(key->p, key->n, buf);
    int same = k == name_len && memcmp(buf, name, name_len) == 0;
    if (buf != small) {
        free(buf);
    }
    return same;
}

/* ------------------------------------------------------ rewrite for the wire */

static const char hexd[] = "0123456789abcdef";

static void put_u(char *o, unsigned v)
{
    o[0] = '\\';
    o[1] = 'u';
    o[2] = hexd[(v >> 12) & 0xF];
    o[3] = hexd[(v >> 8) & 0xF];
    o[4] = hexd[(v >> 4) & 0xF];
    o[5] = hexd[v & 0xF];
}

char *oocsi__json_wire(const char *text, size_t n, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)text;
    /* at most 12 output bytes per input byte (a 4-byte character as a
     * surrogate pair is 12 for 4; a control byte 6 for 1) */
    if (n > (SIZE_MAX - 1) / 6) {
        return NULL;
    }
    char *out = malloc(n * 6 + 1);
    size_t i = 0, o = 0;
    int in_str = 0;
    if (out == NULL) {
        return NULL;
    }
    while (i < n) {
        unsigned char c = s[i];
        if (!in_str) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                i++;
                continue;
            }
            in_str = c == '"';
            out[o++] = (char)c;
            i++;
            continue;
        }
        size_t j = oocsi__json_next_special(s, i, n);
        memcpy(out + o, s + i, j - i);
        o += j - i;
        i = j;
        if (i >= n) {
            break;
        }
        c = s[i];
        if (c == '"') {
            in_str = 0;
            out[o++] = '"';
            i++;
        } else if (c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)s[i + 1];
            i += 2;
        } else if (c < 0x20) {
            put_u(out + o, c);
            o += 6;
            i++;
        } else {
            uint32_t cp = 0;
            int k = oocsi__utf8_decode(s + i, n - i, &cp);
            if (k < 0) {
                free(out);
                return NULL; /* not checked text */
            }
            if (cp < 0x10000) {
                put_u(out + o, cp);
                o += 6;
            } else {
                cp -= 0x10000;
                put_u(out + o, 0xD800 | (cp >> 10));
                put_u(out + o + 6, 0xDC00 | (cp & 0x3FF));
                o += 12;
            }
            i += (size_t)k;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}
