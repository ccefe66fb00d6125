/*
 * liboocsi group behaviours: objects through which several clients on one
 * channel coordinate, interoperating on the wire with the Java client's
 * behaviour classes of the same names (a C program and a Java program can be
 * members of the same group).
 *
 * Common rules:
 *  - Each behaviour lives on a channel derived from the names given
 *    ("<channel>_<key>_gather", "<channel>_<key>_consensus",
 *    "<channel>_sync", "<channel>_<key>_spread"), which it subscribes to with
 *    oocsi_attach(); every message it sends carries "handle": "<client
 *    handle>_<instance number>", as the Java classes send.
 *  - Constructors return NULL on bad arguments (c, channel or key NULL or
 *    empty, names with spaces or control characters, timeouts or periods out
 *    of range; oocsi_last_error(NULL) says which) or out of memory. Every
 *    other call returns OOCSI_ERR_INVAL for a NULL object or argument.
 *  - Timing runs on the client's loop (oocsi_timer_start()): a behaviour
 *    acts only while the loop runs (oocsi_loop(), oocsi_run() or the
 *    background thread), and its callbacks run on the loop thread like every
 *    callback. Getters and setters may be called from any thread.
 *  - Free a behaviour (from a thread that is not inside one of its own
 *    callbacks) before closing its client. A peer sends nothing when it
 *    leaves: the others keep its last contribution.
 *  - Each keeps at most 1024 peers' entries; messages from further senders
 *    are ignored.
 */
#ifndef OOCSI_BEHAVIOR_H
#define OOCSI_BEHAVIOR_H

#include "oocsi/oocsi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================ gather, consensus, sync, spread */

/* ------------------------------------------------------------------- gather */

/* Collects what every member contributes for one key: a histogram of the
 * values (how many members hold each). Setting a new own value starts a
 * round: the member asks the group (a "call"), all members answer with their
 * value (a "vote"), and after timeout_ms the round ends (the callback runs).
 * Votes that arrive later still count until the next round clears the
 * table. */
typedef struct oocsi_gather oocsi_gather;
/** Runs when a round this member started ends (timeout_ms after its set). */
typedef void (*oocsi_gather_fn)(oocsi_gather *g, void *user);
/** Joins the gathering on "<channel>_<key>_gather". timeout_ms > 0; fn may be
 *  NULL. */
OOCSI_API oocsi_gather *oocsi_gather_new(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                         oocsi_gather_fn fn, void *user);
/** Sets the own value (any JSON value but null; copied) and, when it
 *  differs from the previous one, starts a round. A second round started
 *  before the first ended replaces it (one callback, at the end of the
 *  last). */
OOCSI_API int oocsi_gather_set(oocsi_gather *g, const cJSON *value);
OOCSI_API int oocsi_gather_set_int(oocsi_gather *g, int64_t value);
/** NAN/INF: OOCSI_ERR_INVAL. */
OOCSI_API int oocsi_gather_set_double(oocsi_gather *g, double value);
OOCSI_API int oocsi_gather_set_string(oocsi_gather *g, const char *value);
OOCSI_API int oocsi_gather_set_bool(oocsi_gather *g, int value);
/** The histogram: a JSON array of {"value": v, "count": n}, most frequent
 *  first (equal counts: in the order of the values' JSON text); own value
 *  included. Free with cJSON_Delete(); NULL on NULL g or out of memory. */
OOCSI_API cJSON *oocsi_gather_get(const oocsi_gather *g);
/** The table behind it: a JSON object {member handle: value}. Free with
 *  cJSON_Delete(). */
OOCSI_API cJSON *oocsi_gather_votes(const oocsi_gather *g);
/** NULL-safe. */
OOCSI_API void oocsi_gather_free(oocsi_gather *g);

/* ---------------------------------------------------------------- consensus */

/* Agrees on one value for a key. Voting starts a round: the member asks for
 * the others' votes, and timeout_ms later computes the result from the votes
 * it received (its own included) by its rule and tells the group, whose
 * members adopt it. The result is therefore the one of the last round that
 * ended; every member that hears it agrees. */
typedef struct oocsi_consensus oocsi_consensus;
typedef enum {
    OOCSI_CONSENSUS_MAJORITY = 0,    /* most frequent value (a tie: the smallest JSON text) */
    OOCSI_CONSENSUS_AVERAGE_INT = 1, /* numeric votes summed / number of votes, truncated */
    OOCSI_CONSENSUS_AVERAGE = 2      /* numeric votes summed / number of votes */
} oocsi_consensus_rule;
/** Runs when this member's round ended (remote = 0; the result was just
 *  sent) and when a result from another member was adopted (remote = 1). */
typedef void (*oocsi_consensus_fn)(oocsi_consensus *cs, int remote, void *user);
/** Joins the consensus on "<channel>_<key>_consensus" without voting yet.
 *  timeout_ms > 0; fn may be NULL. */
OOCSI_API oocsi_consensus *oocsi_consensus_new(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                               oocsi_consensus_rule rule, oocsi_consensus_fn fn, void *user);
/** The Java factories' forms: majority of integers, starting with a vote
 *  for 0 (which starts a round at once). */
OOCSI_API oocsi_consensus *oocsi_consensus_new_int(oocsi_client *c, const char *channel, const char *key,
                                                   int timeout_ms, oocsi_consensus_fn fn, void *user);
/** Truncated average of integers, starting with a vote for 0. */
OOCSI_API oocsi_consensus *oocsi_consensus_new_int_avg(oocsi_client *c, const char *channel, const char *key,
                                                       int timeout_ms, oocsi_consensus_fn fn, void *user);
/** Average, starting with a vote for 0.0. */
OOCSI_API oocsi_consensus *oocsi_consensus_new_float_avg(oocsi_client *c, const char *channel, const char *key,
                                                         int timeout_ms, oocsi_consensus_fn fn, void *user);
/** Majority of strings, starting with a vote for "". */
OOCSI_API oocsi_consensus *oocsi_consensus_new_string(oocsi_client *c, const char *channel, const char *key,
                                                      int timeout_ms, oocsi_consensus_fn fn, void *user);
/** Majority of booleans, no vote yet. */
OOCSI_API oocsi_consensus *oocsi_consensus_new_bool(oocsi_client *c, const char *channel, const char *key,
                                                    int timeout_ms, oocsi_consensus_fn fn, void *user);
/** Votes (any JSON value but null; copied); a vote that differs from the
 *  previous own vote starts a round (which forgets the votes of earlier
 *  rounds). A round started while one runs replaces it. */
OOCSI_API int oocsi_consensus_vote(oocsi_consensus *cs, const cJSON *value);
OOCSI_API int oocsi_consensus_vote_int(oocsi_consensus *cs, int64_t value);
/** NAN/INF: OOCSI_ERR_INVAL. */
OOCSI_API int oocsi_consensus_vote_double(oocsi_consensus *cs, double value);
OOCSI_API int oocsi_consensus_vote_string(oocsi_consensus *cs, const char *value);
OOCSI_API int oocsi_consensus_vote_bool(oocsi_consensus *cs, int value);
/** 1 once a result was computed here or adopted from another member. */
OOCSI_API int oocsi_consensus_has_result(const oocsi_consensus *cs);
/** The result, else the own vote, else NULL: a copy, free with
 *  cJSON_Delete(). */
OOCSI_API cJSON *oocsi_consensus_get(const oocsi_consensus *cs);
/** Typed forms of oocsi_consensus_get(): dflt when there is neither result
 *  nor own vote, or it has another type (numbers are truncated for
 *  get_int; get_bool also reads numbers, non-zero is true). */
OOCSI_API int64_t oocsi_consensus_get_int(const oocsi_consensus *cs, int64_t dflt);
OOCSI_API double oocsi_consensus_get_double(const oocsi_consensus *cs, double dflt);
OOCSI_API int oocsi_consensus_get_bool(const oocsi_consensus *cs, int dflt);
/** A copy (free with oocsi_free()) of a string result or own vote; NULL
 *  when there is none or it is not a string. */
OOCSI_API char *oocsi_consensus_dup_string(const oocsi_consensus *cs);
/** NULL-safe. */
OOCSI_API void oocsi_consensus_free(oocsi_consensus *cs);

/* --------------------------------------------------------------------- sync */

/* A pulse that every member gets at (nearly) the same moment, once per
 * period, like fireflies: each member counts 21 steps of period_ms / 20 per
 * cycle, tells the group its position once per cycle, and nudges its own
 * count towards what it hears. Members with the same period converge within
 * some cycles; oocsi_sync_is_synced() says when this member's last heard
 * peer was in step. */
typedef struct oocsi_sync oocsi_sync;
/** Runs at every pulse. */
typedef void (*oocsi_sync_fn)(oocsi_sync *s, void *user);
/** Joins the sync on "<channel>_sync" and starts pulsing. period_ms >= 20
 *  (the Java default is 2000); fn may be NULL. */
OOCSI_API oocsi_sync *oocsi_sync_new(oocsi_client *c, const char *channel, int period_ms, oocsi_sync_fn fn, void *user);
/** 1 when the last peer heard was in step with this member. */
OOCSI_API int oocsi_sync_is_synced(const oocsi_sync *s);
/** Steps left until the next pulse: 20 .. 0 (a nudge may leave 21 or -1
 *  until the next step). OOCSI_ERR_INVAL for NULL. */
OOCSI_API int oocsi_sync_progress(const oocsi_sync *s);
/** Pulses so far; members adopt the highest count they hear, so the
 *  members of a group count alike. */
OOCSI_API int oocsi_sync_cycle(const oocsi_sync *s);
/** NULL-safe. */
OOCSI_API void oocsi_sync_free(oocsi_sync *s);

/* ------------------------------------------------------------------- spread */

/* Gives each member a distinct role number 1, 2, 3, ...: a member picks the
 * smallest number it has not heard from another, announces it every few
 * frames, and gives it up when it hears someone else announce the same (both
 * then pick again). A frame lasts timeout_ms / 20 plus a random part of up
 * to timeout_ms, drawn per member, which breaks ties. */
typedef struct oocsi_spread oocsi_spread;
/** Runs when the allocation becomes stable (more than 10 frames without a
 *  change of this member's role), with the role. */
typedef void (*oocsi_spread_fn)(oocsi_spread *sp, int role, void *user);
/** Joins the spread on "<channel>_<key>_spread". timeout_ms >= 20; fn may be
 *  NULL. */
OOCSI_API oocsi_spread *oocsi_spread_new(oocsi_client *c, const char *channel, const char *key, int timeout_ms,
                                         oocsi_spread_fn fn, void *user);
/** The role (1, 2, ...), 0 while none is chosen. */
OOCSI_API int oocsi_spread_get(const oocsi_spread *sp);
/** 1 when more than 10 frames passed since the role last changed. */
OOCSI_API int oocsi_spread_is_done(const oocsi_spread *sp);
/** Forgets the roles heard and this member's role: a new allocation. */
OOCSI_API int oocsi_spread_reset(oocsi_spread *sp);
/** on = 1: reset now and then (after 80 × role frames with the same role),
 *  so a group that shrank closes its gaps. Off by default. */
OOCSI_API int oocsi_spread_set_rebalancing(oocsi_spread *sp, int on);
/** NULL-safe. */
OOCSI_API void oocsi_spread_free(oocsi_spread *sp);

/* ========================================== end of gather, consensus, sync, spread */

#ifdef __cplusplus
}
#endif

#endif
