/*
 * Internal helpers shared by the built-in codecs; see codec_util.h.
 */
#include "codec_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- byte ranges */

int oocsi__is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int oocsi__equals(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, m) == 0;
}

int oocsi__starts_with(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && memcmp(s, lit, m) == 0;
}

int oocsi__is_clean(const char *s, size_t n)
{
    return memchr(s, 0, n) == NULL && oocsi_utf8_valid(s, n);
}

int64_t oocsi__clamp_i64(double d)
{
    if (d != d) {
        return 0;
    }
    if (d >= 9223372036854775808.0) {
        return INT64_MAX;
    }
    if (d <= -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)d;
}

/* ------------------------------------------------------------ event text */

char *oocsi__text_copy(const char *s, size_t n, int clean)
{
    char *t;

    if (!clean && !oocsi__is_clean(s, n)) {
        return oocsi_utf8_sanitize(s, n, NULL);
    }
    if (n == SIZE_MAX) {
        return NULL;
    }
    t = malloc(n + 1);
    if (t == NULL) {
        return NULL;
    }
    memcpy(t, s, n);
    t[n] = '\0';
    return t;
}

int oocsi__set_text(oocsi_event *ev, oocsi_event_type type, const char *s, size_t n, int clean)
{
    ev->text = oocsi__text_copy(s, n, clean);
    if (ev->text == NULL) {
        return OOCSI_ERR_NOMEM;
    }
    ev->type = type;
    return OOCSI_OK;
}

int oocsi__set_invalid(oocsi_event *ev, const char *s, size_t n)
{
    size_t k = n < OOCSI__INVALID_PREFIX ? n : OOCSI__INVALID_PREFIX;

    while (k > 0 && k < n && ((unsigned char)s[k] & 0xC0) == 0x80) {
        k--;
    }
    if (oocsi__set_text(ev, OOCSI_EVENT_INVALID, s, k, 1) != OOCSI_OK) {
        return OOCSI_ERR_NOMEM;
    }
    ev->err = OOCSI_ERR_PROTOCOL;
    return OOCSI_OK;
}

cJSON *oocsi__parse_whole(const char *s, size_t n)
{
    const char *end = NULL, *p;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);

    if (root == NULL) {
        return NULL;
    }
    if (end == NULL || end < s || end > s + n) {
        cJSON_Delete(root);
        return NULL;
    }
    for (p = end; p < s + n; p++) {
        if (!oocsi__is_space((unsigned char)*p)) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

/* ---------------------------------------------------------------- decode */

int oocsi__decode(void *state, const char *frame, size_t len, oocsi_event *ev, oocsi__decode_fn decode_one)
{
    const char *s = frame;
    size_t n = len;

    if (state == NULL || ev == NULL || (frame == NULL && len > 0)) {
        return OOCSI_ERR_INVAL;
    }
    if (s == NULL) {
        s = ""; /* an empty frame may come as NULL */
    }
    while (n > 0 && oocsi__is_space((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && oocsi__is_space((unsigned char)s[n - 1])) {
        n--;
    }
    return decode_one(state, s, n, ev);
}

int oocsi__make_clean(const char **s, size_t *n, char **copy)
{
    *copy = NULL;
    if (oocsi__is_clean(*s, *n)) {
        return OOCSI_OK;
    }
    *copy = oocsi_utf8_sanitize(*s, *n, n);
    if (*copy == NULL) {
        return OOCSI_ERR_NOMEM;
    }
    *s = *copy;
    return OOCSI_OK;
}

/* ---------------------------------------------------- per-connection state */

void *oocsi__welcome_create(void)
{
    return calloc(1, sizeof(oocsi__welcome_state));
}

void oocsi__welcome_destroy(void *state)
{
    free(state);
}

void oocsi__welcome_reset(void *state)
{
    if (state != NULL) {
        ((oocsi__welcome_state *)state)->welcomed = 0;
    }
}

/* ---------------------------------------------------------------- encode */

int oocsi__word_ok(const char *a)
{
    const unsigned char *p = (const unsigned char *)a;

    if (p == NULL || *p == 0) {
        return 0;
    }
    for (; *p != 0; p++) {
        if (*p <= 0x20 || *p == 0x7F) {
            return 0;
        }
    }
    return 1;
}

int oocsi__rest_of_line_ok(const char *a)
{
    const unsigned char *p = (const unsigned char *)a;

    if (p == NULL || *p == 0 || *p == ' ') {
        return 0;
    }
    for (; *p != 0; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            return 0;
        }
    }
    return 1;
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
/* How many leading bytes of s[0..n) are known to be above 0x0D (so no CR,
 * LF or NUL), 128 at a time, on processors with AVX2 (chosen at run time). */
__attribute__((target("avx2"))) static size_t above_cr_avx2(const unsigned char *s, size_t n)
{
    const __m256i cr = _mm256_set1_epi8(0x0D);
    size_t i = 0;
    for (; n - i >= 128; i += 128) {
        __m256i low = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(s + i + 32 * k));
            /* min(v, 0x0D) == v exactly for the bytes <= 0x0D */
            low = _mm256_or_si256(low, _mm256_cmpeq_epi8(_mm256_min_epu8(v, cr), v));
        }
        if (!_mm256_testz_si256(low, low)) {
            break;
        }
    }
    return i;
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

/* 1 if s[0..n) holds no CR, LF or NUL byte. */
static int line_safe(const char *s, size_t n)
{
#if defined(HAVE_AVX2_PATH)
    if (n >= 256 && use_avx2()) {
        size_t k = above_cr_avx2((const unsigned char *)s, n);
        s += k;
        n -= k;
    }
#endif
    return memchr(s, '\n', n) == NULL && memchr(s, '\r', n) == NULL && memchr(s, '\0', n) == NULL;
}

int oocsi__send_ok(const oocsi_command *cmd)
{
    return oocsi__word_ok(cmd->arg) && cmd->payload != NULL && cmd->payload_len > 0 &&
           line_safe(cmd->payload, cmd->payload_len);
}

int oocsi__encode(const oocsi_command *cmd, oocsi_buf *out, int (*encode_one)(const oocsi_command *, oocsi_buf *))
{
    size_t start;
    int rc;

    if (cmd == NULL || out == NULL) {
        return OOCSI_ERR_INVAL;
    }
    if (cmd->type == OOCSI_CMD_HELLO && !oocsi__word_ok(cmd->arg)) {
        return OOCSI_ERR_INVAL; /* a handle is one word in every protocol */
    }
    start = out->data != NULL ? out->len : 0;
    rc = encode_one(cmd, out);
    if (rc != OOCSI_OK && out->data != NULL && out->len != start) {
        /* leave no partial frame behind */
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}
