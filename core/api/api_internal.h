/*
 * What the files of core/api share: adding and removing handler listeners
 * (subscribe.c), used by the rate-limited, presence and meta-channel
 * subscriptions (limits.c, presence.c). Not installed.
 */
#ifndef OOCSI_API_API_INTERNAL_H
#define OOCSI_API_API_INTERNAL_H

#include "engine/engine.h"

/** Adds a copy of probe (kind SUB_HANDLER or SUB_PINNED, fn or adapt + afn,
 *  user) to channel with the subscribe barrier, after validating c, channel
 *  and fn. The same listener twice is one; limit (taken, may be NULL) then
 *  replaces its limit. fname names the public function in errors. */
int oocsi__api_add(const char *fname, oocsi_client *c, const char *channel, const oocsi__listener *probe,
                   oocsi__ratelimit *limit);
/** Removes the listeners equal to probe from channel and waits until none of
 *  them runs on the loop thread (as oocsi_unsubscribe_handler). */
int oocsi__api_remove(const char *fname, oocsi_client *c, const char *channel, const oocsi__listener *probe);

#endif
