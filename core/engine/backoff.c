/*
 * Reconnect backoff: exponential delay with equal jitter, and its cap while
 * a healthy server is down (see backoff.h).
 */
#include "backoff.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    return (int)(lo + (int64_t)oocsi__rng_below(r, (uint64_t)(base - lo + 1)));
}

int oocsi__backoff_recover_cap(int64_t outage_ms, int max_ms)
{
    int64_t cap = outage_ms > 0 ? outage_ms / OOCSI__RECOVER_FRACTION : 0;
    if (cap < OOCSI__RECOVER_CAP_MS)
        cap = OOCSI__RECOVER_CAP_MS;
    if (cap > max_ms)
        cap = max_ms;
    return (int)cap;
}
