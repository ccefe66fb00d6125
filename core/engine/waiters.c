/*
 * Threads that wait for a result (an answer, a barrier) while another thread
 * owns the loop: they sleep on their own condition (a futex on Linux) and
 * the owner wakes each directly when its wait may be over, instead of every
 * waiter queueing for the client's lock on one shared condition.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#define OOCSI_HAVE_FUTEX 1
#endif

/* Whether sleeping waiter w should look again: its answer came, or the
 * client closed, or nobody drives the loop any more (it must drive it). Its
 * deadline it notices itself. */
static int sleeper_should_wake(const oocsi_client *c, const oocsi__waiter *w)
{
    return w->done || c->st == CS_CLOSED || c->close_requested || !c->loop_busy;
}

void oocsi__signal(oocsi_client *c)
{
    pthread_cond_broadcast(&c->cv);
    for (oocsi__waiter **pp = &c->sleepers; *pp;) {
        oocsi__waiter *w = *pp;
        if (!sleeper_should_wake(c, w)) {
            pp = &w->next_sleeper;
            continue;
        }
        /* Off the list now: a waiter with its answer returns without
         * taking the client's lock again. */
        *pp = w->next_sleeper;
        w->next_sleeper = NULL;
#ifdef OOCSI_HAVE_FUTEX
        /* No mutex between the two threads: the woken one never blocks
         * again on a lock the waker still holds. A wake-up that comes after
         * the waiter left finds no one (or another futex, which tolerates a
         * spurious wake-up). */
        atomic_store_explicit(&w->kick, w->done ? 2 : 1, memory_order_release);
        syscall(SYS_futex, &w->kick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
        pthread_mutex_lock(&w->wmu);
        w->kicked = 1;
        w->seen_done = w->done;
        pthread_cond_signal(&w->wcv);
        pthread_mutex_unlock(&w->wmu);
#endif
    }
}

static void sleeper_remove(oocsi_client *c, oocsi__waiter *w)
{
    for (oocsi__waiter **pp = &c->sleepers; *pp; pp = &(*pp)->next_sleeper)
        if (*pp == w) {
            *pp = w->next_sleeper;
            break;
        }
    w->next_sleeper = NULL;
}

/* Sleeps until the loop owner kicks w or the deadline passes, on w's own
 * condition: the owner hands over an answer with one wake-up, and the
 * waiter does not queue for the client's lock behind the owner. Lock held on
 * entry; returns 1 with the lock released when w is done, else 0 with the
 * lock held again. */
int oocsi__sleep_on_waiter(oocsi_client *c, oocsi__waiter *w, int64_t deadline)
{
#ifdef OOCSI_HAVE_FUTEX
    atomic_store_explicit(&w->kick, 0, memory_order_relaxed);
    w->next_sleeper = c->sleepers;
    c->sleepers = w;
    pthread_mutex_unlock(&c->mu);
    int k;
    while ((k = atomic_load_explicit(&w->kick, memory_order_acquire)) == 0) {
        int64_t left = deadline - oocsi__now_ms();
        if (left <= 0)
            break;
        struct timespec rel = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        syscall(SYS_futex, &w->kick, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0);
    }
    if (k == 2)
        return 1;
    pthread_mutex_lock(&c->mu);
    sleeper_remove(c, w); /* when not kicked: still listed */
    return 0;
#else
    if (!w->sync_init) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->wcv, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_init(&w->wmu, NULL);
        w->sync_init = 1;
    }
    w->kicked = 0;
    w->seen_done = 0;
    w->next_sleeper = c->sleepers;
    c->sleepers = w;
    pthread_mutex_unlock(&c->mu);
    struct timespec ts;
    oocsi__deadline_to_timespec(deadline, &ts);
    pthread_mutex_lock(&w->wmu);
    while (!w->kicked)
        if (pthread_cond_timedwait(&w->wcv, &w->wmu, &ts) == ETIMEDOUT)
            break;
    int done = w->kicked && w->seen_done;
    pthread_mutex_unlock(&w->wmu);
    if (done)
        return 1;
    pthread_mutex_lock(&c->mu);
    sleeper_remove(c, w); /* when not kicked: still listed */
    return 0;
#endif
}

void oocsi__waiter_sync_free(oocsi__waiter *w)
{
    if (w->sync_init) {
        pthread_mutex_destroy(&w->wmu);
        pthread_cond_destroy(&w->wcv);
        w->sync_init = 0;
    }
}
