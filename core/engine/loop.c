/*
 * The loop: one step of I/O and timers (keep-alive, attempt deadlines,
 * backoff, call timeouts), waiting for a result while driving or sharing the
 * loop, oocsi_loop, the background thread, oocsi_run/oocsi_stop and the hooks
 * for a caller's own poll loop.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#if defined(__linux__)
#include <sys/eventfd.h>
#define OOCSI_HAVE_EVENTFD 1
#endif

/* One eventfd rather than a pipe: a client then costs one descriptor less
 * (a gateway holding thousands of clients runs into its descriptor limit). */
int oocsi__wake_open(oocsi_client *c)
{
#ifdef OOCSI_HAVE_EVENTFD
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd >= 0) {
        c->wake_r = c->wake_w = efd;
        return 0;
    }
#endif
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    c->wake_r = fds[0];
    c->wake_w = fds[1];
    return 0;
}

void oocsi__wake_signal(int wake_w)
{
    /* Eight bytes: what an eventfd takes, and harmless in a pipe. EAGAIN
     * (counter or pipe full) means that a wake-up is pending anyway. */
    uint64_t one = 1;
    if (wake_w >= 0) {
        ssize_t n = write(wake_w, &one, sizeof one);
        (void)n;
    }
}

static void on_wake_signal(int signo)
{
    (void)signo; /* only interrupts ppoll() */
}

int oocsi__wake_signal_install(int signo)
{
#ifdef OOCSI_HAVE_PPOLL
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&once);
    struct sigaction old;
    int rc = sigaction(signo, NULL, &old);
    if (rc == 0 && !(old.sa_flags & SA_SIGINFO) && (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_wake_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        rc = sigaction(signo, &sa, NULL);
    }
    pthread_mutex_unlock(&once);
    return rc == 0 ? 0 : -1;
#else
    (void)signo;
    return -1;
#endif
}

void oocsi__wake_drain(int wake_r)
{
    char buf[64];
    while (read(wake_r, buf, sizeof buf) > 0) {
    }
}

static void wake(oocsi_client *c)
{
    if (c->tp && c->tp->wait && c->tp->wake && c->tps) {
        c->tp->wake(c->tps);
        return;
    }
    if (c->wake_pending)
        return;
    c->wake_pending = 1;
#ifdef OOCSI_HAVE_PPOLL
    if (c->opts.wake_signal) {
        /* polling is set and cleared under mu: the poller is between its
         * unlock and relock, and the signal (blocked there but in ppoll)
         * ends or skips its wait; when not polling, it sees wake_pending */
        if (atomic_load(&c->polling))
            pthread_kill(c->poller, c->opts.wake_signal);
        return;
    }
#endif
    oocsi__wake_signal(c->wake_w);
}

/* Wakes the loop owner if it is another thread. */
void oocsi__poke(oocsi_client *c)
{
    if (c->loop_busy && !pthread_equal(c->loop_owner, pthread_self()))
        wake(c);
}

static void run_timers(oocsi_client *c)
{
    int64_t now = oocsi__now_ms();
    switch (c->st) {
    case CS_CONNECTING:
    case CS_HANDSHAKE:
        if (now >= c->attempt_deadline) {
            if (c->st == CS_CONNECTING)
                oocsi__attempt_why(c, OOCSI_LOG_WARN, "no connection within %d ms (timed out)",
                                   c->tconf.connect_timeout_ms);
            else
                oocsi__attempt_why(c, OOCSI_LOG_WARN,
                                   "connected, but the server sent no welcome within %d ms (is it an OOCSI server?)",
                                   c->tconf.connect_timeout_ms);
            oocsi__connection_lost(c, c->st == CS_CONNECTING ? OOCSI_ERR_CONNECT : OOCSI_ERR_TIMEOUT, "timed out");
        }
        break;
    case CS_BACKOFF:
        if (now >= c->backoff_until)
            oocsi__start_pass(c);
        break;
    case CS_RESUB:
    case CS_ONLINE: {
        int64_t idle = now - c->last_rx;
        /* The server is declared silent only after our own ping went
         * unanswered for the rest of the budget: if this loop was busy (a
         * slow handler) the ping simply goes out late, and data that was
         * waiting unread does not count as silence. */
        int64_t grace = c->opts.keepalive_timeout_ms - c->opts.keepalive_idle_ms;
        if (!oocsi__codec_has(c, OOCSI_CODEC_PING_BARRIER)) {
            /* The transport keeps such connections alive (e.g. WebSocket
             * ping/pong) and reports a silent peer itself. */
        } else if (c->ka_ping_sent && now - c->ka_ping_at >= grace) {
            oocsi__connection_lost(c, OOCSI_ERR_TIMEOUT, "no data from the server (keep-alive timeout)");
        } else if (idle >= c->opts.keepalive_idle_ms && !c->ka_ping_sent) {
            c->ka_ping_sent = 1;
            c->ka_ping_at = now;
            if (oocsi__emit(c, OOCSI_CMD_PING, NULL, NULL, 0) == OOCSI_OK)
                oocsi__ping_push(c, PW_KEEPALIVE, NULL);
            oocsi__flush_out(c);
        }
        break;
    }
    default:
        break;
    }
    for (oocsi__call **pp = &c->calls; *pp;) {
        oocsi__call *k = *pp;
        if (k->deadline > now) {
            pp = &k->next;
            continue;
        }
        *pp = k->next;
        oocsi__remember_done(c, k->id);
        oocsi__end_call(c, k, OOCSI_ERR_TIMEOUT);
        free(k);
    }
}

static int64_t next_deadline(const oocsi_client *c)
{
    int64_t d = INT64_MAX;
    switch (c->st) {
    case CS_CONNECTING:
    case CS_HANDSHAKE:
        d = c->attempt_deadline;
        break;
    case CS_BACKOFF:
        d = c->backoff_until;
        break;
    case CS_RESUB:
    case CS_ONLINE:
        if (c->codec && (c->codec->caps & OOCSI_CODEC_PING_BARRIER))
            d = c->ka_ping_sent ? c->ka_ping_at + (c->opts.keepalive_timeout_ms - c->opts.keepalive_idle_ms)
                                : c->last_rx + c->opts.keepalive_idle_ms;
        break;
    default:
        break;
    }
    for (const oocsi__call *k = c->calls; k; k = k->next)
        if (k->deadline < d)
            d = k->deadline;
    return d;
}

static int want_write_locked(const oocsi_client *c)
{
    if (!c->tps)
        return 0;
    if (c->st == CS_CONNECTING) /* the transport's handshake decides */
        return (c->tp->interest(c->tps) & OOCSI_WANT_WRITE) != 0;
    return c->out_off < c->out.len || (c->tp->interest(c->tps) & OOCSI_WANT_WRITE);
}

/* One round of I/O and timers, waiting at most timeout_ms. Lock held on entry
 * and exit (released while waiting). Never runs user callbacks. */
void oocsi__step_io(oocsi_client *c, int timeout_ms)
{
    int64_t now = oocsi__now_ms();
    int64_t d = next_deadline(c);
    if (d != INT64_MAX) {
        int64_t until = d - now;
        if (until < 0)
            until = 0;
        if (until < timeout_ms)
            timeout_ms = (int)until;
    }
    if (c->notes_head && !c->in_callback)
        timeout_ms = 0;
    /* A transport may be connected as soon as it opened (a local socket):
     * ask before waiting for an event that would never come. */
    if (c->st == CS_CONNECTING && c->tps)
        oocsi__service(c, 0);
    if (timeout_ms < 0)
        timeout_ms = 0;

    if (c->tps && c->tp->wait) {
        const oocsi_transport *tp = c->tp;
        void *tps = c->tps;
        c->in_wait = tps;
        pthread_mutex_unlock(&c->mu);
        int rc = tp->wait(tps, timeout_ms);
        pthread_mutex_lock(&c->mu);
        c->in_wait = NULL;
        if (c->zombie_tps == tps) {
            c->zombie_tp->close(c->zombie_tps);
            c->zombie_tps = NULL;
            c->zombie_tp = NULL;
        }
        if (c->tps == tps) {
            if (rc < 0)
                oocsi__connection_lost(c, rc, "transport error");
            else
                oocsi__service(c, OOCSI_EV_READABLE | OOCSI_EV_WRITABLE);
        }
    } else {
        struct pollfd pfd[2];
        int n = 0, si = -1;
        if (c->wake_r >= 0) {
            pfd[n].fd = c->wake_r;
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }
        void *tps = c->tps;
        if (c->tps) {
            int fd = c->tp->fd(c->tps);
            if (fd >= 0) {
                int interest = c->tp->interest(c->tps);
                pfd[n].fd = fd;
                pfd[n].events = 0;
                if (interest & OOCSI_WANT_READ)
                    pfd[n].events |= POLLIN;
                if (want_write_locked(c))
                    pfd[n].events |= POLLOUT;
                pfd[n].revents = 0;
                si = n++;
            }
        }
        int pr;
#ifdef OOCSI_HAVE_PPOLL
        if (c->opts.wake_signal) {
            /* The signal stays blocked in this thread except inside ppoll(). */
            sigset_t block, old, during;
            sigemptyset(&block);
            sigaddset(&block, c->opts.wake_signal);
            pthread_sigmask(SIG_BLOCK, &block, &old);
            during = old;
            sigdelset(&during, c->opts.wake_signal);
            c->poller = pthread_self();
            atomic_store(&c->polling, 1);
            if (c->wake_pending || atomic_load(&c->run_stop))
                timeout_ms = 0;
            pthread_mutex_unlock(&c->mu);
            struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
            pr = ppoll(pfd, (nfds_t)n, &ts, &during);
            pthread_mutex_lock(&c->mu);
            atomic_store(&c->polling, 0);
            while (atomic_load(&c->stoppers))
                sched_yield(); /* an oocsi_stop() that saw polling is signalling us */
            c->wake_pending = 0;
            pthread_sigmask(SIG_SETMASK, &old, NULL); /* a late signal: its handler runs, harmless */
        } else
#endif
        {
            pthread_mutex_unlock(&c->mu);
            pr = poll(pfd, (nfds_t)n, timeout_ms);
            pthread_mutex_lock(&c->mu);
            if (pr > 0 && (pfd[0].revents & POLLIN)) {
                oocsi__wake_drain(c->wake_r);
                c->wake_pending = 0;
            }
        }
        if (pr > 0 && si >= 0 && c->tps == tps && c->tps) {
            int ev = 0;
            if (pfd[si].revents & POLLIN)
                ev |= OOCSI_EV_READABLE;
            if (pfd[si].revents & POLLOUT)
                ev |= OOCSI_EV_WRITABLE;
            if (pfd[si].revents & (POLLERR | POLLHUP | POLLNVAL))
                ev |= OOCSI_EV_ERROR | OOCSI_EV_READABLE;
            if (ev)
                oocsi__service(c, ev);
        }
    }
    run_timers(c);
    if (c->tps && c->out_off < c->out.len)
        oocsi__flush_out(c);
    pthread_cond_broadcast(&c->cv);
}

void oocsi__detach_waiter(oocsi_client *c, oocsi__waiter *w)
{
    for (oocsi__pingw *p = c->pings_head; p; p = p->next)
        if (p->w == w)
            p->w = NULL;
    for (oocsi__call **pp = &c->calls; *pp; pp = &(*pp)->next)
        if ((*pp)->w == w) {
            oocsi__call *k = *pp;
            *pp = k->next;
            oocsi__remember_done(c, k->id);
            free(k);
            break;
        }
}

int oocsi__is_owner(oocsi_client *c)
{
    return c->loop_busy && pthread_equal(c->loop_owner, pthread_self());
}

int oocsi__wait(oocsi_client *c, oocsi__waiter *w, int64_t deadline)
{
    while (!w->done) {
        int64_t now = oocsi__now_ms();
        if (now >= deadline) {
            oocsi__detach_waiter(c, w);
            return OOCSI_ERR_TIMEOUT;
        }
        if (c->st == CS_CLOSED || c->close_requested) {
            oocsi__detach_waiter(c, w);
            return OOCSI_ERR_CLOSED;
        }
        int slice = (int)(deadline - now);
        if (!c->loop_busy) {
            c->loop_busy = 1;
            c->loop_owner = pthread_self();
            c->in_callback++; /* no dispatch while we drive */
            oocsi__step_io(c, slice);
            c->in_callback--;
            c->loop_busy = 0;
            pthread_cond_broadcast(&c->cv);
        } else if (pthread_equal(c->loop_owner, pthread_self())) {
            oocsi__step_io(c, slice);
        } else {
            struct timespec ts;
            oocsi__deadline_to_timespec(deadline, &ts);
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
    }
    return w->result;
}

int oocsi_loop(oocsi_client *c, int timeout_ms)
{
    if (!c)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_loop: c is NULL");
    if (timeout_ms < 0)
        timeout_ms = 0;
    pthread_mutex_lock(&c->mu);
    if (c->thread_running && !pthread_equal(c->thread, pthread_self())) {
        pthread_mutex_unlock(&c->mu);
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_loop: c: the background thread is running: call oocsi_loop_stop() "
                                           "first or do not call oocsi_loop()");
    }
    if (oocsi__is_owner(c)) {
        /* Called from inside a callback: do I/O only. */
        oocsi__step_io(c, timeout_ms);
        pthread_mutex_unlock(&c->mu);
        return OOCSI_OK;
    }
    int64_t deadline = oocsi__now_ms() + timeout_ms;
    while (c->loop_busy) {
        struct timespec ts;
        oocsi__deadline_to_timespec(deadline, &ts);
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&c->mu);
            return OOCSI_OK;
        }
    }
    c->loop_busy = 1;
    c->loop_owner = pthread_self();
    oocsi__dispatch_notes(c);
    int64_t left = deadline - oocsi__now_ms();
    if (c->st != CS_CLOSED || c->tps)
        oocsi__step_io(c, left > 0 ? (int)left : 0);
    oocsi__dispatch_notes(c);
    int rc = c->st == CS_CLOSED ? OOCSI_ERR_CLOSED : OOCSI_OK;
    c->loop_busy = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void *loop_thread(void *arg)
{
    oocsi_client *c = arg;
    pthread_mutex_lock(&c->mu);
    while (c->loop_busy && !c->thread_stop)
        pthread_cond_wait(&c->cv, &c->mu);
    c->loop_busy = 1;
    c->loop_owner = pthread_self();
    while (!c->thread_stop) {
        oocsi__dispatch_notes(c);
        if (c->thread_stop)
            break;
        oocsi__step_io(c, 1000);
    }
    oocsi__dispatch_notes(c);
    c->loop_busy = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int oocsi_loop_start(oocsi_client *c)
{
    if (!c)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_loop_start: c is NULL");
    pthread_mutex_lock(&c->mu);
    if (c->thread_running) {
        pthread_mutex_unlock(&c->mu);
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_loop_start: c: the background thread is already running "
                                           "(oocsi_loop_start() was called before without oocsi_loop_stop())");
    }
    c->thread_stop = 0;
    int rc = pthread_create(&c->thread, NULL, loop_thread, c);
    if (rc == 0)
        c->thread_running = 1;
    pthread_mutex_unlock(&c->mu);
    return rc == 0 ? OOCSI_OK : OOCSI_ERR_NOMEM;
}

int oocsi_loop_stop(oocsi_client *c)
{
    if (!c)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_loop_stop: c is NULL");
    pthread_mutex_lock(&c->mu);
    if (!c->thread_running || pthread_equal(c->thread, pthread_self())) {
        int running = c->thread_running;
        pthread_mutex_unlock(&c->mu);
        if (!running)
            return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_loop_stop: c: no background thread is running (start it with "
                                               "oocsi_loop_start())");
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_loop_stop: c: called from the background thread itself (from a "
                                           "callback): stop it from another thread");
    }
    c->thread_stop = 1;
    wake(c);
    pthread_cond_broadcast(&c->cv);
    pthread_t t = c->thread;
    pthread_mutex_unlock(&c->mu);
    pthread_join(t, NULL);
    pthread_mutex_lock(&c->mu);
    c->thread_running = 0;
    pthread_mutex_unlock(&c->mu);
    return OOCSI_OK;
}

int oocsi_stop(oocsi_client *c)
{
    /* No detail for a NULL c: oocsi_fail() formats text (vsnprintf), which
     * is not async-signal-safe, and oocsi_stop() is called from handlers. */
    if (!c)
        return OOCSI_ERR_INVAL;
    /* Only async-signal-safe operations: an atomic store and write(2). */
    atomic_store(&c->run_stop, 1);
    if (c->wake_w >= 0)
        oocsi__wake_signal(c->wake_w);
#ifdef OOCSI_HAVE_PPOLL
    else if (c->opts.wake_signal) {
        atomic_fetch_add(&c->stoppers, 1);
        if (atomic_load(&c->polling))
            pthread_kill(c->poller, c->opts.wake_signal); /* async-signal-safe */
        atomic_fetch_sub(&c->stoppers, 1);
    }
#endif
    return OOCSI_OK;
}

int oocsi_run(oocsi_client *c)
{
    if (!c)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_run: c is NULL");
    /* A stop that came before run (a signal right after connecting) counts. */
    while (!atomic_load(&c->run_stop)) {
        /* A bounded wait: transports that wait on their own (WebSocket) do
         * not see the wake pipe, so the flag is checked at least this often. */
        int rc = oocsi_loop(c, 200);
        if (rc != OOCSI_OK)
            return rc;
    }
    atomic_store(&c->run_stop, 0);
    return OOCSI_OK;
}

int oocsi_fd(const oocsi_client *c)
{
    if (!c)
        return -1;
    oocsi_client *m = (oocsi_client *)c;
    pthread_mutex_lock(&m->mu);
    int fd = (m->tps && m->tp->fd) ? m->tp->fd(m->tps) : -1;
    pthread_mutex_unlock(&m->mu);
    return fd;
}

int oocsi_want_write(const oocsi_client *c)
{
    if (!c)
        return 0;
    oocsi_client *m = (oocsi_client *)c;
    pthread_mutex_lock(&m->mu);
    int r = want_write_locked(m);
    pthread_mutex_unlock(&m->mu);
    return r;
}

int oocsi_next_timeout_ms(const oocsi_client *c)
{
    if (!c)
        return -1;
    oocsi_client *m = (oocsi_client *)c;
    pthread_mutex_lock(&m->mu);
    int64_t d = next_deadline(m);
    int r;
    if (m->notes_head)
        r = 0;
    else if (d == INT64_MAX)
        r = -1;
    else {
        int64_t left = d - oocsi__now_ms();
        r = left < 0 ? 0 : (left > 0x7fffffff ? 0x7fffffff : (int)left);
    }
    pthread_mutex_unlock(&m->mu);
    return r;
}
