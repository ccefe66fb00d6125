/*
 * Rate limits of subscriptions: a fixed window that begins with the first
 * message after the previous one ended; per sender, one counter per sender
 * in a small hash table that is emptied when a new window begins.
 */
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

oocsi__ratelimit *oocsi__ratelimit_new(const oocsi_rate_limit *lim, int64_t now)
{
    oocsi__ratelimit *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->max = lim->max_messages;
    r->per_ms = lim->per_ms;
    r->per_sender = lim->per_sender;
    r->exceeded = lim->exceeded;
    r->exceeded_user = lim->exceeded_user;
    r->start = now;
    return r;
}

static void clear_slots(oocsi__ratelimit *r)
{
    for (size_t i = 0; i < r->n_slots; i++) {
        free(r->slots[i].sender);
        r->slots[i].sender = NULL;
    }
    r->used = 0;
}

void oocsi__ratelimit_free(oocsi__ratelimit *r)
{
    if (!r)
        return;
    clear_slots(r);
    free(r->slots);
    free(r);
}

static size_t hash(const char *s)
{
    size_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of sender (NULL sender: an empty one to fill), or NULL. */
static oocsi__rl_slot *find_slot(oocsi__rl_slot *slots, size_t n, const char *sender)
{
    for (size_t i = hash(sender) & (n - 1), k = 0; k < n; i = (i + 1) & (n - 1), k++)
        if (!slots[i].sender || strcmp(slots[i].sender, sender) == 0)
            return &slots[i];
    return NULL;
}

/* Doubles the table (kept at most half full). 0/-1. */
static int grow(oocsi__ratelimit *r)
{
    size_t n = r->n_slots ? r->n_slots * 2 : 16;
    oocsi__rl_slot *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < r->n_slots; i++)
        if (r->slots[i].sender)
            *find_slot(slots, n, r->slots[i].sender) = r->slots[i];
    free(r->slots);
    r->slots = slots;
    r->n_slots = n;
    return 0;
}

/* Counts one more message; stops counting past max (no overflow). */
static int bump(int *count, int max)
{
    if (*count <= max)
        (*count)++;
    return *count;
}

/* One more message from sender in this window; the count so far. When
 * memory runs out the sender is counted with everybody else. */
static int count_sender(oocsi__ratelimit *r, const char *sender)
{
    if ((r->used + 1) * 2 > r->n_slots && grow(r) != 0)
        return bump(&r->count, r->max);
    oocsi__rl_slot *s = find_slot(r->slots, r->n_slots, sender);
    if (!s->sender) {
        s->sender = strdup(sender);
        if (!s->sender)
            return bump(&r->count, r->max);
        s->count = 0;
        r->used++;
    }
    return bump(&s->count, r->max);
}

int oocsi__ratelimit_admit(oocsi__ratelimit *r, const char *sender, int64_t now)
{
    if (now - r->start > r->per_ms) { /* the window is over: this message begins the next one */
        r->start = now;
        r->count = 0;
        clear_slots(r);
    }
    int n = r->per_sender ? count_sender(r, sender ? sender : "") : bump(&r->count, r->max);
    return n <= r->max;
}
