/*
 * Internal pure helpers of the core: random numbers, handle rules, reconnect
 * backoff, endpoint URL parsing, the bounded outgoing queue and the variable
 * arithmetic. No I/O except seeding the random generator, no locks.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define OOCSI_HAVE_GETRANDOM 1
#endif
#endif

/* ================================================================ random */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

void oocsi__rng_seed_with(oocsi__rng *r, uint64_t seed)
{
    if (!r) {
        return;
    }
    /* splitmix64 spreads low-entropy seeds (0, 1, 2, ...) over all bits. */
    r->s = splitmix64(seed);
    if (r->s == 0) {
        r->s = 0x9E3779B97F4A7C15ULL; /* xorshift must never hold 0 */
    }
}

static int read_os_random(uint64_t *out)
{
    unsigned char buf[sizeof(uint64_t)];
    size_t got = 0;
#ifdef OOCSI_HAVE_GETRANDOM
    while (got < sizeof buf) {
        ssize_t n = getrandom(buf + got, sizeof buf - got, GRND_NONBLOCK);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
#endif
    if (got < sizeof buf) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            got = 0;
            while (got < sizeof buf) {
                ssize_t n = read(fd, buf + got, sizeof buf - got);
                if (n > 0) {
                    got += (size_t)n;
                } else if (n < 0 && errno == EINTR) {
                    continue;
                } else {
                    break;
                }
            }
            close(fd);
        }
    }
    if (got < sizeof buf) {
        return -1;
    }
    memcpy(out, buf, sizeof *out);
    return 0;
}

void oocsi__rng_seed(oocsi__rng *r)
{
    uint64_t seed = 0;
    if (!r) {
        return;
    }
    if (read_os_random(&seed) != 0) {
        struct timespec ts;
        int saved = errno;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        seed ^= (uint64_t)getpid() << 32;
        seed ^= (uint64_t)(uintptr_t)r;
        seed ^= (uint64_t)(uintptr_t)&seed << 16;
        errno = saved;
    }
    oocsi__rng_seed_with(r, seed);
}

uint64_t oocsi__rng_next(oocsi__rng *r)
{
    uint64_t x;
    if (!r) {
        return 0;
    }
    x = r->s;
    if (x == 0) {
        x = 0x9E3779B97F4A7C15ULL; /* an unseeded (zeroed) generator still works */
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n), n > 0, without modulo bias. */
static uint64_t rng_below(oocsi__rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n); /* multiple of n */
    uint64_t x;
    do {
        x = oocsi__rng_next(r);
    } while (x >= limit);
    return x % n;
}

/* ================================================================ handles */

int oocsi__handle_check(const char *handle)
{
    size_t len, name_len;
    const char *p;
    if (!handle || !handle[0]) {
        return OOCSI_OK; /* NULL and "" request a generated handle */
    }
    len = 0;
    for (p = handle; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x21 || ch > 0x7E) {
            return OOCSI_ERR_INVAL; /* whitespace, control or non-ASCII */
        }
        if (++len > OOCSI_HANDLE_MAX) {
            return OOCSI_ERR_INVAL;
        }
    }
    name_len = strcspn(handle, ":");
    if (name_len == 0) {
        return OOCSI_ERR_INVAL; /* ":pw" */
    }
    if (handle[name_len] == ':' && handle[name_len + 1] == '\0') {
        return OOCSI_ERR_INVAL; /* "name:" */
    }
    return OOCSI_OK;
}

size_t oocsi__handle_name_len(const char *handle)
{
    return handle ? strcspn(handle, ":") : 0;
}

char *oocsi__handle_resolve(const char *requested, oocsi__rng *r)
{
    static const char prefix[] = "OOCSIClient_";
    static const char hex[] = "0123456789abcdef";
    oocsi__rng local;
    char *out;
    size_t i, len;

    if (!r) {
        oocsi__rng_seed(&local);
        r = &local;
    }
    if (!requested || !requested[0]) {
        uint64_t x = oocsi__rng_next(r);
        out = malloc(sizeof prefix + 15);
        if (!out) {
            return NULL;
        }
        memcpy(out, prefix, sizeof prefix - 1);
        /* 15 nibbles = the top 60 bits of one output */
        for (i = 0; i < 15; i++) {
            out[sizeof prefix - 1 + i] = hex[(x >> (60 - 4 * i)) & 0xF];
        }
        out[sizeof prefix - 1 + 15] = '\0';
        return out;
    }
    len = strlen(requested);
    out = malloc(len + 1);
    if (!out) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        out[i] = requested[i] == '#' ? (char)('0' + rng_below(r, 10)) : requested[i];
    }
    out[len] = '\0';
    return out;
}

/* ================================================================ backoff */

int oocsi__backoff_ms(int attempt, int initial_ms, int max_ms, oocsi__rng *r)
{
    int64_t base;
    int64_t lo;
    if (attempt < 0) {
        attempt = 0;
    }
    if (initial_ms <= 0) {
        initial_ms = 1;
    }
    if (max_ms < initial_ms) {
        max_ms = initial_ms;
    }
    /* Doubling stops once the cap is reached, so large attempt numbers
     * neither overflow nor loop for long. */
    base = initial_ms;
    while (attempt-- > 0 && base < max_ms) {
        base *= 2;
    }
    if (base > max_ms) {
        base = max_ms;
    }
    /* Equal jitter: [ceil(base/2), base]; never 0 since base >= 1. */
    lo = base - base / 2;
    if (!r) {
        return (int)base;
    }
    return (int)(lo + (int64_t)rng_below(r, (uint64_t)(base - lo + 1)));
}

/* ================================================================ URLs */

static int is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_hex(int ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* RFC 3986 reg-name characters (unreserved, sub-delims, '%'). */
static int is_host_char(int ch)
{
    return is_alpha(ch) || is_digit(ch) || (ch != '\0' && strchr("-._~%!$&'()*+,;=", ch) != NULL);
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* "1".."65535", digits only. */
static int parse_port(const char *s, size_t n, int *port)
{
    long v = 0;
    size_t i;
    if (n == 0) {
        return OOCSI_ERR_INVAL;
    }
    for (i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) {
            return OOCSI_ERR_INVAL;
        }
        v = v * 10 + (s[i] - '0');
        if (v > 65535) {
            return OOCSI_ERR_INVAL;
        }
    }
    if (v < 1) {
        return OOCSI_ERR_INVAL;
    }
    *port = (int)v;
    return OOCSI_OK;
}

/* Contents of "[...]": hex digits, ':' and '.', at least one ':', optionally
 * a "%zone" of unreserved characters. */
static int valid_ipv6(const char *s, size_t n)
{
    size_t i;
    int colons = 0;
    for (i = 0; i < n && s[i] != '%'; i++) {
        if (s[i] == ':') {
            colons++;
        } else if (!is_hex((unsigned char)s[i]) && s[i] != '.') {
            return 0;
        }
    }
    if (colons == 0) {
        return 0;
    }
    if (i < n) {
        if (++i == n) {
            return 0; /* empty zone */
        }
        for (; i < n; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (!is_alpha(ch) && !is_digit(ch) && !strchr("-._~", ch)) {
                return 0;
            }
        }
    }
    return 1;
}

static int scheme_needs_host(const char *scheme)
{
    return !strcmp(scheme, "tcp") || !strcmp(scheme, "tls") || !strcmp(scheme, "ws") || !strcmp(scheme, "wss");
}

void oocsi__url_free(oocsi__url *u)
{
    if (!u) {
        return;
    }
    free(u->url);
    free(u->scheme);
    free(u->host);
    free(u->path);
    u->url = u->scheme = u->host = u->path = NULL;
    u->port = -1;
}

int oocsi__url_parse(const char *text, oocsi__url *out)
{
    const char *p, *sep, *rest, *auth_end, *host_start, *port_start = NULL;
    size_t scheme_len, host_len, port_len = 0, i, n;
    int port = -1, rc;
    oocsi__url u = {NULL, NULL, NULL, -1, NULL};

    if (!out) {
        return OOCSI_ERR_INVAL;
    }
    *out = u;
    if (!text || !text[0]) {
        return OOCSI_ERR_INVAL;
    }
    for (p = text; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch == 0x7F) {
            return OOCSI_ERR_INVAL; /* whitespace or control character */
        }
    }

    /* scheme */
    sep = strstr(text, "://");
    if (sep) {
        scheme_len = (size_t)(sep - text);
        if (scheme_len == 0 || !is_alpha((unsigned char)text[0])) {
            return OOCSI_ERR_INVAL;
        }
        for (i = 1; i < scheme_len; i++) {
            unsigned char ch = (unsigned char)text[i];
            if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '-' && ch != '.') {
                return OOCSI_ERR_INVAL;
            }
        }
        rest = sep + 3;
    } else {
        scheme_len = 0;
        rest = text;
    }

    /* authority = up to the first '/' or '?' */
    auth_end = rest + strcspn(rest, "/?");
    if (rest < auth_end && rest[0] == '[') {
        const char *close = memchr(rest, ']', (size_t)(auth_end - rest));
        if (!close || !valid_ipv6(rest + 1, (size_t)(close - rest - 1))) {
            return OOCSI_ERR_INVAL;
        }
        host_start = rest + 1;
        host_len = (size_t)(close - rest - 1);
        if (close + 1 < auth_end) {
            if (close[1] != ':') {
                return OOCSI_ERR_INVAL;
            }
            port_start = close + 2;
            port_len = (size_t)(auth_end - port_start);
        }
    } else {
        const char *colon = memchr(rest, ':', (size_t)(auth_end - rest));
        host_start = rest;
        host_len = (size_t)((colon ? colon : auth_end) - rest);
        if (colon) {
            port_start = colon + 1;
            port_len = (size_t)(auth_end - port_start);
        }
        for (i = 0; i < host_len; i++) {
            if (!is_host_char((unsigned char)host_start[i])) {
                return OOCSI_ERR_INVAL; /* e.g. "user@host", "h[x]", "h#x" */
            }
        }
    }
    if (port_start) {
        /* digits only: also rejects "h:1:2" and "::1" without brackets */
        if (parse_port(port_start, port_len, &port) != OOCSI_OK) {
            return OOCSI_ERR_INVAL;
        }
    }

    u.scheme = scheme_len ? dup_range(text, scheme_len) : dup_range("tcp", 3);
    u.host = dup_range(host_start, host_len);
    u.path = dup_range(auth_end, strlen(auth_end));
    u.port = port;
    if (!u.scheme || !u.host || !u.path) {
        rc = OOCSI_ERR_NOMEM;
        goto fail;
    }
    for (i = 0; u.scheme[i]; i++) {
        if (u.scheme[i] >= 'A' && u.scheme[i] <= 'Z') {
            u.scheme[i] = (char)(u.scheme[i] - 'A' + 'a');
        }
    }
    if (host_len == 0 && scheme_needs_host(u.scheme)) {
        rc = OOCSI_ERR_INVAL;
        goto fail;
    }

    /* normalised "scheme://host[:port]path", IPv6 literals in brackets */
    {
        int is_v6 = memchr(u.host, ':', host_len) != NULL;
        char portbuf[16] = "";
        int len;
        if (port > 0) {
            snprintf(portbuf, sizeof portbuf, ":%d", port);
        }
        n = strlen(u.scheme) + 3 + host_len + 2 + strlen(portbuf) + strlen(u.path) + 1;
        u.url = malloc(n);
        if (!u.url) {
            rc = OOCSI_ERR_NOMEM;
            goto fail;
        }
        len = snprintf(u.url, n, "%s://%s%s%s%s%s", u.scheme, is_v6 ? "[" : "", u.host, is_v6 ? "]" : "", portbuf,
                       u.path);
        if (len < 0 || (size_t)len >= n) {
            rc = OOCSI_ERR_INVAL; /* cannot happen: n is exact or larger */
            goto fail;
        }
    }
    *out = u;
    return OOCSI_OK;

fail:
    oocsi__url_free(&u);
    return rc;
}

/* ================================================================ queue */

static size_t qitem_size(const oocsi__qitem *it)
{
    return (it->arg ? strlen(it->arg) : 0) + it->payload_len;
}

oocsi__qitem *oocsi__qitem_new(int type, const char *arg, const char *payload, size_t payload_len)
{
    oocsi__qitem *it = calloc(1, sizeof *it);
    if (!it) {
        return NULL;
    }
    it->type = type;
    if (arg) {
        it->arg = dup_range(arg, strlen(arg));
        if (!it->arg) {
            free(it);
            return NULL;
        }
    }
    if (payload) {
        it->payload = dup_range(payload, payload_len);
        if (!it->payload) {
            free(it->arg);
            free(it);
            return NULL;
        }
        it->payload_len = payload_len;
    }
    return it;
}

void oocsi__qitem_free(oocsi__qitem *it)
{
    if (!it) {
        return;
    }
    free(it->arg);
    free(it->payload);
    free(it);
}

int oocsi__queue_push(oocsi__queue *q, oocsi__qitem *it)
{
    size_t size;
    if (!q || !it) {
        return OOCSI_ERR_INVAL;
    }
    size = qitem_size(it);
    if (q->max_count && q->count >= q->max_count) {
        return OOCSI_ERR_QUEUE_FULL;
    }
    /* bytes may exceed max_bytes after push_front; written to avoid overflow */
    if (q->max_bytes && (q->bytes > q->max_bytes || size > q->max_bytes - q->bytes)) {
        return OOCSI_ERR_QUEUE_FULL;
    }
    it->next = NULL;
    if (q->tail) {
        q->tail->next = it;
    } else {
        q->head = it;
    }
    q->tail = it;
    q->count++;
    q->bytes += size;
    return OOCSI_OK;
}

void oocsi__queue_push_front(oocsi__queue *q, oocsi__qitem *it)
{
    if (!q || !it) {
        return;
    }
    it->next = q->head;
    q->head = it;
    if (!q->tail) {
        q->tail = it;
    }
    q->count++;
    q->bytes += qitem_size(it);
}

oocsi__qitem *oocsi__queue_pop(oocsi__queue *q)
{
    oocsi__qitem *it;
    if (!q || !q->head) {
        return NULL;
    }
    it = q->head;
    q->head = it->next;
    if (!q->head) {
        q->tail = NULL;
    }
    it->next = NULL;
    q->count--;
    q->bytes -= qitem_size(it);
    return it;
}

void oocsi__queue_clear(oocsi__queue *q)
{
    oocsi__qitem *it, *next;
    if (!q) {
        return;
    }
    for (it = q->head; it; it = next) {
        next = it->next;
        oocsi__qitem_free(it);
    }
    q->head = q->tail = NULL;
    q->count = 0;
    q->bytes = 0;
}

/* ================================================================ variables */

void oocsi__varmath_init(oocsi__varmath *m)
{
    if (!m) {
        return;
    }
    memset(m, 0, sizeof *m);
    m->window = NULL;
    m->value = 0.0;
    m->min = m->max = m->sigma = 0.0;
}

void oocsi__varmath_free(oocsi__varmath *m)
{
    if (!m) {
        return;
    }
    free(m->window);
    oocsi__varmath_init(m);
}

void oocsi__varmath_set_min(oocsi__varmath *m, double min)
{
    if (!m || isnan(min)) {
        return;
    }
    m->has_min = 1;
    m->min = min;
    if (!m->has_value || m->value < min) {
        m->value = min;
        m->has_value = 1;
    }
}

void oocsi__varmath_set_max(oocsi__varmath *m, double max)
{
    if (!m || isnan(max)) {
        return;
    }
    m->has_max = 1;
    m->max = max;
    if (!m->has_value || m->value > max) {
        m->value = max;
        m->has_value = 1;
    }
}

int oocsi__varmath_set_smooth(oocsi__varmath *m, int window, double sigma)
{
    double *ring;
    int keep, i;
    if (!m || window < 1) {
        return OOCSI_ERR_INVAL;
    }
    if ((size_t)window > SIZE_MAX / sizeof(double)) {
        return OOCSI_ERR_NOMEM;
    }
    ring = malloc((size_t)window * sizeof(double));
    if (!ring) {
        return OOCSI_ERR_NOMEM;
    }
    keep = m->count < window ? m->count : window;
    /* the newest keep values, oldest first */
    for (i = 0; i < keep; i++) {
        int src = ((m->head - keep + i) % m->window_len + m->window_len) % m->window_len;
        ring[i] = m->window[src];
    }
    free(m->window);
    m->window = ring;
    m->window_len = window;
    m->count = keep;
    m->head = keep % window;
    m->sigma = sigma;
    return OOCSI_OK;
}

/* Sum of the window (oldest first) of x / div, Neumaier-compensated if
 * compensated (fsum-like accuracy), else plain. */
static double window_sum(const oocsi__varmath *m, double div, int compensated)
{
    double sum = 0.0, c = 0.0;
    int i, start = ((m->head - m->count) % m->window_len + m->window_len) % m->window_len;
    for (i = 0; i < m->count; i++) {
        double x = m->window[(start + i) % m->window_len] / div;
        double t = sum + x;
        if (compensated) {
            if (fabs(sum) >= fabs(x)) {
                c += (sum - t) + x;
            } else {
                c += (x - t) + sum;
            }
        }
        sum = t;
    }
    return sum + c;
}

static double window_mean(const oocsi__varmath *m)
{
    double plain = window_sum(m, 1.0, 0);
    int i;
    if (!isfinite(plain)) {
        for (i = 0; i < m->count; i++) {
            if (!isfinite(m->window[i])) {
                return plain / m->count; /* inf or nan inside (slots 0..count-1 are the used ones) */
            }
        }
        /* finite values whose sum overflows: average the scaled values */
        return window_sum(m, (double)m->count, 1);
    }
    return window_sum(m, 1.0, 1) / m->count;
}

double oocsi__varmath_get(const oocsi__varmath *m)
{
    if (!m) {
        return NAN;
    }
    if (m->window_len > 0 && m->count > 0) {
        return window_mean(m);
    }
    return m->has_value ? m->value : NAN;
}

void oocsi__varmath_apply(oocsi__varmath *m, double v)
{
    if (!m || isnan(v)) {
        return;
    }
    if (m->has_min && v < m->min) {
        v = m->min;
    } else if (m->has_max && v > m->max) {
        v = m->max;
    } else if (m->sigma > 0) {
        double mean = oocsi__varmath_get(m);
        if (!isnan(mean) && fabs(mean - v) > m->sigma) {
            /* k = values in the window; 1 when empty (Python divides by 0) */
            int k = (m->window_len > 0 && m->count > 0) ? m->count : 1;
            v = mean > v ? mean - m->sigma / k : mean + m->sigma / k;
        }
    }
    if (m->window_len > 0) {
        m->window[m->head] = v;
        m->head = (m->head + 1) % m->window_len;
        if (m->count < m->window_len) {
            m->count++;
        }
    }
    m->value = v;
    m->has_value = 1;
}
