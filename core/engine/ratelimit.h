/*
 * Rate limits of subscriptions (oocsi_subscribe_limited): at most max
 * messages per window of per_ms, counted for the whole subscription or per
 * sender. Pure: no locks, no I/O; the caller holds the client's lock.
 */
#ifndef OOCSI_ENGINE_RATELIMIT_H
#define OOCSI_ENGINE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/oocsi.h"

typedef struct oocsi__rl_slot {
    char *sender; /* NULL: free */
    int count;
} oocsi__rl_slot;

typedef struct oocsi__ratelimit {
    int max;        /* messages let through per window (>= 1) */
    int64_t per_ms; /* window length (>= 1) */
    int per_sender;
    oocsi_handler exceeded; /* may be NULL */
    void *exceeded_user;
    int64_t start; /* when the current window began */
    int count;     /* messages in it (whole subscription) */
    oocsi__rl_slot *slots;
    size_t n_slots, used; /* per sender: open addressing, n_slots a power of 2 */
} oocsi__ratelimit;

/** A limit whose first window begins at now; NULL when out of memory. */
oocsi__ratelimit *oocsi__ratelimit_new(const oocsi_rate_limit *lim, int64_t now);
/** NULL-safe. */
void oocsi__ratelimit_free(oocsi__ratelimit *r);
/** Counts a message from sender at now: 1 to deliver it, 0 when it is over
 *  the limit. A message after the window ended begins a new one (counters
 *  cleared), as the Java client's rate-limited handlers do. */
int oocsi__ratelimit_admit(oocsi__ratelimit *r, const char *sender, int64_t now);

#endif
