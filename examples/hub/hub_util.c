/*
 * Small utilities of the hub: logging, allocation that aborts on out of memory, clocks,
 * the byte buffer (sbuf), the pointer vector (pvec), and the uthash lookups of
 * channels and presence subscriptions by name.
 */
#include "hub_rooms.h"

/* ------------------------------------------------------------------ basics */

void hub_log(const char *fmt, ...)
{
    va_list ap;
    char buf[1024];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "oocsi-hub: %s\n", buf);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        hub_log("out of memory");
        abort();
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        hub_log("out of memory");
        abort();
    }
    return q;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -1;
    }
    fl = fcntl(fd, F_GETFD, 0);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ byte buffer */

void sb_reserve(sbuf *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void sb_put(sbuf *b, const void *s, size_t n)
{
    if (n == 0) {
        return; /* b->p may still be NULL: memcpy(NULL, s, 0) is undefined */
    }
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void sb_putc(sbuf *b, char c)
{
    sb_reserve(b, 1);
    b->p[b->len++] = c;
}

void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Decimal digits of v (no snprintf: message lines are built with it). */
void sb_i64(sbuf *b, int64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        tmp[--i] = '-';
    }
    sb_put(b, tmp + i, sizeof tmp - i);
}

void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Appends s (valid UTF-8 expected; any bytes are safe) as a JSON string. */
void sb_json_str(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, n + 2);
    sb_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        sb_put(b, s + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"':
            sb_put(b, "\\\"", 2);
            break;
        case '\\':
            sb_put(b, "\\\\", 2);
            break;
        case '\n':
            sb_put(b, "\\n", 2);
            break;
        case '\r':
            sb_put(b, "\\r", 2);
            break;
        case '\t':
            sb_put(b, "\\t", 2);
            break;
        case '\b':
            sb_put(b, "\\b", 2);
            break;
        case '\f':
            sb_put(b, "\\f", 2);
            break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            sb_put(b, e, 6);
        }
        }
    }
    sb_put(b, s + run, n - run);
    sb_putc(b, '"');
}

/* ------------------------------------------------------------------ pointer vector */

void pv_push(pvec *p, void *x)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->v = xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = x;
}

int pv_has(const pvec *p, const void *x)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i] == x) {
            return 1;
        }
    }
    return 0;
}

/* Removes x keeping the order. */
/* Elements passed over or moved by pv_remove() in this process: a
 * complexity probe for tests (oocsi_hub_usage "list_steps"). */
static _Atomic size_t pv_steps;

size_t pv_remove_steps(void)
{
    return atomic_load_explicit(&pv_steps, memory_order_relaxed);
}

void pv_remove(pvec *p, const void *x)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i] == x) {
            memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof *p->v);
            atomic_fetch_add_explicit(&pv_steps, p->n - 1, memory_order_relaxed);
            p->n--;
            return;
        }
    }
    atomic_fetch_add_explicit(&pv_steps, p->n, memory_order_relaxed);
}

void pv_free(pvec *p)
{
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

/* ------------------------------------------------------------------ lookups */

/* Channels (and client handles) and presence subscriptions by name: uthash
 * tables whose keys are the items' own name strings. */
chan *chan_get(const oocsi_hub *h, const char *name)
{
    chan *ch = NULL;
    HASH_FIND_STR(h->chans, name, ch);
    return ch;
}

void chan_put(oocsi_hub *h, chan *ch)
{
    HASH_ADD_KEYPTR(hh, h->chans, ch->name, strlen(ch->name), ch);
}

void chan_del(oocsi_hub *h, chan *ch)
{
    HASH_DEL(h->chans, ch);
}

pres *pres_get(const oocsi_hub *h, const char *name)
{
    pres *p = NULL;
    HASH_FIND_STR(h->pres, name, p);
    return p;
}

void pres_put(oocsi_hub *h, pres *p)
{
    HASH_ADD_KEYPTR(hh, h->pres, p->name, strlen(p->name), p);
}

void pres_del(oocsi_hub *h, pres *p)
{
    HASH_DEL(h->pres, p);
}
