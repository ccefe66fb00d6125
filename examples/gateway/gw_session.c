/*
 * Sessions: the object a browser connection and its upstream worker share,
 * its reference count, its two bounded queues (commands up, frames down), and
 * logging.
 */
#include "gateway.h"

/* ------------------------------------------------------------------ sessions */

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void logv(const gateway *g, const char *fmt, ...)
{
    if (!g->cfg.verbose) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("oocsi-gateway: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void session_unref(session *s)
{
    gateway *g = s->g;
    pthread_mutex_lock(&g->mu);
    int left = --s->refs;
    if (!left) {
        g->n_live--;
    }
    pthread_mutex_unlock(&g->mu);
    if (left) {
        return;
    }
    for (frame *f = s->out_head, *n; f; f = n) {
        n = f->next;
        free(f);
    }
    for (cmd *c = s->in_head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->handle);
    free(s->channel);
    free(s->rx);
    free(s);
}

/* Queues a text frame for the browser (any thread) and wakes the lws thread.
 * Past the queue bound the session is cut off instead. */
void push_frame(session *s, const char *text, size_t n, int close_after)
{
    frame *f = malloc(sizeof *f + LWS_PRE + n + 1);
    pthread_mutex_lock(&s->mu);
    if (s->quit) {
        pthread_mutex_unlock(&s->mu);
        free(f);
        return;
    }
    if (!f || s->out_bytes + n > s->g->cfg.max_queue) {
        s->kill = 1;
        free(f);
    } else {
        f->next = NULL;
        f->len = n;
        memcpy(f->buf + LWS_PRE, text, n);
        if (s->out_tail) {
            s->out_tail->next = f;
        } else {
            s->out_head = f;
        }
        s->out_tail = f;
        s->out_bytes += n;
        if (close_after) {
            s->close_after = 1;
        }
    }
    pthread_mutex_unlock(&s->mu);
    session_wake(s);
}

void session_wake(session *s)
{
    gateway *g = s->g;
    pthread_mutex_lock(&g->ready_mu);
    int first = !g->ready, attached = s->attached;
    if (attached && !s->on_ready) {
        s->on_ready = 1;
        s->ready_next = g->ready;
        g->ready = s;
    }
    pthread_mutex_unlock(&g->ready_mu);
    if (first || !attached) /* else the lws thread has been woken already */
        lws_cancel_service(g->ctx);
}

void push_text(session *s, int close_after, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    push_frame(s, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1, close_after);
}
