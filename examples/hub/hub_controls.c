/*
 * Test controls (fault injection) and waits of the public API: stop and
 * restart listening, drop or stall a client, send raw bytes to a client, wait
 * for a client, its departure or a subscription, counters. A control call
 * takes the mutex, changes state, wakes the loop and, where the caller must see
 * the effect, waits for one loop pass (a barrier).
 */
#include "hub_rooms.h"

/* Waits (mutex held) until the loop has completed a pass that began after
 * this call: pending stop/restart requests are done and doomed clients are
 * closed. */
static void barrier(oocsi_hub *h)
{
    unsigned long seq = ++h->req_seq;
    hub_wake(h);
    while (h->done_seq < seq && !h->quit) {
        pthread_cond_wait(&h->cond, &h->mu);
    }
}

int oocsi_hub_stop(oocsi_hub *h)
{
    if (!h) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    h->stop_req = 1;
    barrier(h);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int oocsi_hub_restart(oocsi_hub *h)
{
    if (!h) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    h->restart_req = 1;
    h->restart_result = -1;
    barrier(h);
    int r = h->restart_result;
    pthread_mutex_unlock(&h->mu);
    return r;
}

int oocsi_hub_drop_client(oocsi_hub *h, const char *handle)
{
    if (!h || !handle) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    client *c = find_client(h, handle);
    if (!c) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    client_doom(h, c, "dropped by oocsi_hub_drop_client");
    barrier(h);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int oocsi_hub_stall_client(oocsi_hub *h, const char *handle, int stall)
{
    if (!h || !handle) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    client *c = find_client(h, handle);
    if (c) {
        c->stalled = stall ? 1 : 0;
        if (!stall) {
            mark_dirty(h, c);
        }
        hub_wake(h);
        if (c->ws) {
            ws_wake(h);
        }
    }
    pthread_mutex_unlock(&h->mu);
    return c ? 0 : -1;
}

int oocsi_hub_send_raw(oocsi_hub *h, const char *handle, const char *bytes, size_t len)
{
    if (!h || !handle || (!bytes && len)) {
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    client *c = find_client(h, handle);
    if (c && c->ws) {
        ws_put_frame(h, c, bytes, len); /* one text frame */
    } else if (c && len && out_room(h, c, len)) {
        oline *l = oline_new(h, bytes, len, 0, NULL);
        out_enqueue(h, c, l);
        oline_release(h, l);
        out_account(h, c);
        mark_dirty(h, c);
    }
    hub_wake(h);
    pthread_mutex_unlock(&h->mu);
    return c ? 0 : -1;
}

/* Waits (mutex held) until pred(h, a, b) or the timeout; returns pred. */
static int wait_for(oocsi_hub *h, int (*pred)(const oocsi_hub *, const char *, const char *), const char *a,
                    const char *b, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    int r;
    while (!(r = pred(h, a, b)) && !h->quit) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&h->cond, &h->mu);
        } else if (pthread_cond_timedwait(&h->cond, &h->mu, &dl) == ETIMEDOUT) {
            r = pred(h, a, b);
            break;
        }
    }
    return r;
}

static int pred_client(const oocsi_hub *h, const char *handle, const char *unused)
{
    (void)unused;
    return find_client(h, handle) != NULL;
}

static int pred_gone(const oocsi_hub *h, const char *handle, const char *unused)
{
    (void)unused;
    return find_client(h, handle) == NULL;
}

static int pred_subscribed(const oocsi_hub *h, const char *handle, const char *channel)
{
    const client *c = find_client(h, handle);
    char x[256];
    if (!c) {
        return 0;
    }
    if (!strcmp(handle, channel)) {
        return 1; /* subscribing to one's own handle is an accepted no-op */
    }
    if (!presence_target(channel, x, sizeof x)) {
        for (size_t i = 0; i < c->psubs.n; i++) {
            if (!strcmp(((const pres *)c->psubs.v[i])->name, x)) {
                return 1;
            }
        }
        return 0;
    }
    for (size_t i = 0; i < c->subs.n; i++) {
        const chan *ch = c->subs.v[i];
        if (!strcmp(ch->token ? ch->token : ch->name, channel)) {
            return 1;
        }
    }
    return 0;
}

int oocsi_hub_wait_client(oocsi_hub *h, const char *handle, int timeout_ms)
{
    if (!h || !handle) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int r = wait_for(h, pred_client, handle, NULL, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return r;
}

int oocsi_hub_wait_client_gone(oocsi_hub *h, const char *handle, int timeout_ms)
{
    if (!h || !handle) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int r = wait_for(h, pred_gone, handle, NULL, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return r;
}

int oocsi_hub_wait_subscribed(oocsi_hub *h, const char *handle, const char *channel, int timeout_ms)
{
    if (!h || !handle || !channel) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int r = wait_for(h, pred_subscribed, handle, channel, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return r;
}

int oocsi_hub_client_count(oocsi_hub *h)
{
    if (!h) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    int n = h->nreg;
    pthread_mutex_unlock(&h->mu);
    return n;
}

unsigned long long oocsi_hub_delivered(oocsi_hub *h)
{
    if (!h) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    unsigned long long n = h->delivered;
    pthread_mutex_unlock(&h->mu);
    return n;
}
