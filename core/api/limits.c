/*
 * Rate-limited subscriptions (oocsi_subscribe_limited): a handler listener
 * with a limit, which the engine's dispatch consults under the client's lock
 * (engine/ratelimit.c counts).
 */
#include "api_internal.h"

int oocsi_subscribe_limited(oocsi_client *c, const char *channel, oocsi_handler fn, void *user,
                            const oocsi_rate_limit *limit)
{
    OOCSI__CHECK(limit, "limit", "is NULL (use oocsi_subscribe() for no limit)");
    OOCSI__CHECK(limit->max_messages >= 1, "limit->max_messages", "must be at least 1");
    OOCSI__CHECK(limit->per_ms >= 1, "limit->per_ms", "must be at least 1 (milliseconds)");
    OOCSI__CHECK(limit->per_sender == 0 || limit->per_sender == 1, "limit->per_sender", "must be 0 or 1");
    OOCSI__CHECK(fn, "fn", "is NULL");
    oocsi__listener probe = {0};
    probe.kind = SUB_HANDLER;
    probe.fn = fn;
    probe.user = user;
    oocsi__ratelimit *r = oocsi__ratelimit_new(limit, oocsi__now_ms());
    if (!r)
        return OOCSI_ERR_NOMEM;
    return oocsi__api_add(__func__, c, channel, &probe, r);
}
