/*
 * liboocsi: group behaviours, the Java client's nl.tue.id.oocsi.client.behavior
 * classes in C. A C program and a Java program that create the same behaviour
 * on the same channel (and key) form one group and agree.
 *
 * The conventions of <oocsi/oocsi.h> hold: NULL or bad arguments give
 * OOCSI_ERR_INVAL (or NULL) with the reason in oocsi_last_error(NULL);
 * callbacks run on the client's loop thread; free every behaviour before
 * closing its client, and never from inside one of its own callbacks.
 */
#ifndef OOCSI_BEHAVIOR_H
#define OOCSI_BEHAVIOR_H

#include <oocsi/oocsi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Spatial, awareness and state machine (Java OOCSISpatial, OOCSIAwareness,
 * OOCSIStateMachine)
 * ====================================================================== */

/* ----------------------------------------------------------------- spatial
 *
 * Members of a group share their positions (1-D or 2-D) on the channel
 * "<channel>_<key>_spatial". Each member sees the others' positions, its
 * neighbours (every member no farther away than its own neighbour
 * distance; absolute difference in 1-D, straight-line distance in 2-D) and
 * can ask for the next hop of the shortest path through neighbours to any
 * member. On the wire (as the Java OOCSISpatial):
 *  - joining: {"oocsi_spatial_call": "", "handle": h} then the own position
 *    {"oocsi_spatial_vote": "<pos>", "handle": h}; every member answers a
 *    call with its vote. <pos> is Java's float text: "4.0", "1.5;-2.0".
 *  - routing: a call named "oocsi_spatial_destination_request" sent to each
 *    neighbour's handle with {"oocsi_spatial_destination_request": dest,
 *    "oocsi_spatial_routing_path": "h1,h2,"}; the answer
 *    {"oocsi_spatial_destination_distance": length} is the neighbour's
 *    shortest path length to dest (3.4028235e38, the largest float, when it
 *    knows none). Each member answers these calls (it registers the
 *    responder on its handle and the channel of that name), asking its own
 *    neighbours in turn, with 100 ms less time per hop already taken (those
 *    already on the path are not asked: they would answer "no path" and
 *    are busy waiting for this answer).
 * h is "<client handle>_<n>", n a number per instance. Distances are
 * computed in single precision, as Java does, so both sides agree on
 * neighbours at the boundary.
 */
typedef struct oocsi_spatial oocsi_spatial;

/** Joins the spatial group of channel and key at position (x, y) (y is
 *  ignored when dimensions is 1). dimensions is 1 or 2; neighbour_distance
 *  >= 0 and finite, like the position. One spatial group per client (the
 *  routing responder belongs to the client, as in Java): a second one on
 *  the same client gives NULL (OOCSI_ERR_INVAL). Free with
 *  oocsi_spatial_free() before closing the client. */
OOCSI_API oocsi_spatial *oocsi_spatial_new(oocsi_client *c, const char *channel, const char *key, int dimensions,
                                           double x, double y, double neighbour_distance);
/** Leaves the group (stops listening and answering routing calls). NULL-safe. */
OOCSI_API void oocsi_spatial_free(oocsi_spatial *s);
/** Moves this member and announces the new position to the group (Java
 *  members take it as they take any vote). */
OOCSI_API int oocsi_spatial_set_position(oocsi_spatial *s, double x, double y);
/** Forgets every known position and asks all members again (as joining
 *  does); members that left drop out this way. */
OOCSI_API int oocsi_spatial_refresh(oocsi_spatial *s);
/** The position of member handle (this client's own handle included):
 *  OOCSI_OK, OOCSI_ERR_NOT_FOUND when unknown. y is 0 in 1-D; either out
 *  pointer may be NULL. */
OOCSI_API int oocsi_spatial_position(const oocsi_spatial *s, const char *handle, double *x, double *y);
/** Number of members whose position is known, this one included. */
OOCSI_API int oocsi_spatial_count(const oocsi_spatial *s);
/** The neighbours' handles as a JSON array of strings, sorted; free *out
 *  with cJSON_Delete(). */
OOCSI_API int oocsi_spatial_neighbours(const oocsi_spatial *s, cJSON **out);
/** The closest other member strictly within the neighbour distance and not
 *  at the very same place (Java's getClosestNeighbor rule); free *out with
 *  oocsi_free(). OOCSI_ERR_NOT_FOUND when there is none. */
OOCSI_API int oocsi_spatial_closest(const oocsi_spatial *s, char **out);
/** The neighbour to pass a message to for destination: destination itself
 *  when it is a neighbour, else the neighbour through which the shortest
 *  path goes, found by asking the neighbours (blocks for up to timeout_ms,
 *  0 for Java's 2000 ms; the neighbours are asked one after another, each
 *  with the time left). Free *out with oocsi_free(). OOCSI_ERR_NOT_FOUND
 *  when no neighbour knows a path. May be called from a callback. */
OOCSI_API int oocsi_spatial_next_hop(oocsi_spatial *s, const char *destination, int timeout_ms, char **out);

/* --------------------------------------------------------------- awareness
 *
 * A local picture of what every member of a group last said on the channel
 * "<channel>_awareness" (as the Java OOCSIAwareness): for each sender, the
 * latest value of every key (or of the chosen keys only) it sent there.
 * Passive: it sends nothing by itself; members take part by sending their
 * state to that channel (oocsi_awareness_set() does it for this client).
 * The server does not echo a client's own messages, so this client is not
 * one of the nodes. With a timeout, a node that sent nothing for that long
 * is forgotten (dropped when next read).
 */
typedef struct oocsi_awareness oocsi_awareness;

/** keys: the n keys to keep (NULL or n == 0: every key); timeout_ms: 0 to
 *  keep nodes forever. Free with oocsi_awareness_free(). */
OOCSI_API oocsi_awareness *oocsi_awareness_new(oocsi_client *c, const char *channel, const char *const *keys, size_t n,
                                               int timeout_ms);
OOCSI_API void oocsi_awareness_free(oocsi_awareness *a);
/** Sends {key: value} to the group's channel (value is copied). */
OOCSI_API int oocsi_awareness_set(oocsi_awareness *a, const char *key, const cJSON *value);
/** As oocsi_awareness_set(), a number / a string. */
OOCSI_API int oocsi_awareness_set_number(oocsi_awareness *a, const char *key, double value);
OOCSI_API int oocsi_awareness_set_string(oocsi_awareness *a, const char *key, const char *value);
/** A copy of node's value for key (cJSON_Delete()), or NULL when the node
 *  or the key is unknown (or the node timed out). */
OOCSI_API cJSON *oocsi_awareness_get(oocsi_awareness *a, const char *node, const char *key);
/** node's number under key, or dflt when absent or not a number. */
OOCSI_API double oocsi_awareness_get_number(oocsi_awareness *a, const char *node, const char *key, double dflt);
/** A copy of node's string under key (oocsi_free()), or NULL. */
OOCSI_API char *oocsi_awareness_get_string(oocsi_awareness *a, const char *node, const char *key);
/** 1 when node is known (and not timed out), else 0. */
OOCSI_API int oocsi_awareness_contains(oocsi_awareness *a, const char *node);
/** Number of nodes known (after dropping the timed-out ones). */
OOCSI_API int oocsi_awareness_size(oocsi_awareness *a);
/** Forgets node (OOCSI_OK also when unknown). */
OOCSI_API int oocsi_awareness_remove(oocsi_awareness *a, const char *node);
/** Calls fn for each node with its keys and values (borrowed, valid during
 *  the call). fn runs with the awareness locked: it must not call
 *  oocsi_awareness_* on a. Returns the number of nodes visited (or < 0). */
typedef void (*oocsi_awareness_each_fn)(const char *node, const cJSON *data, void *user);
OOCSI_API int oocsi_awareness_each(oocsi_awareness *a, oocsi_awareness_each_fn fn, void *user);

/* ----------------------------------------------------------- state machine
 *
 * A finite state machine, local to the program (as the Java
 * OOCSIStateMachine, it sends nothing). States have names and three
 * optional callbacks: enter (when it becomes the current state), stay (each
 * oocsi_statemachine_execute() while it is current; Java's "execute") and
 * exit (when it stops being current). Without transitions every change is
 * allowed; once one is added only the listed (from, to) changes are (Java
 * checks the pair (to, to) there; this one checks (current, to)). Any
 * thread may use a machine; the callbacks run on the thread that calls
 * set/execute, with no lock held, and may call set/execute themselves.
 */
typedef struct oocsi_statemachine oocsi_statemachine;
typedef void (*oocsi_state_cb)(oocsi_statemachine *m, const char *state, void *user);

OOCSI_API oocsi_statemachine *oocsi_statemachine_new(void);
OOCSI_API void oocsi_statemachine_free(oocsi_statemachine *m);
/** Adds state name with its callbacks (any may be NULL), or replaces the
 *  callbacks of an existing one. */
OOCSI_API int oocsi_statemachine_add_state(oocsi_statemachine *m, const char *name, oocsi_state_cb enter,
                                           oocsi_state_cb stay, oocsi_state_cb exit, void *user);
/** Allows the change from one known state to another (or to itself). */
OOCSI_API int oocsi_statemachine_add_transition(oocsi_statemachine *m, const char *from, const char *to);
/** Makes name the current state: exit of the current one, then enter of
 *  name (also when name is already current, as Java does). The first set
 *  (no current state yet) is always allowed. OOCSI_ERR_NOT_FOUND for an
 *  unknown state; OOCSI_ERR_UNSUPPORTED when no transition allows it
 *  (nothing runs then). */
OOCSI_API int oocsi_statemachine_set(oocsi_statemachine *m, const char *name);
/** The current state's name (borrowed, valid until the machine is freed),
 *  or NULL before the first set. */
OOCSI_API const char *oocsi_statemachine_get(const oocsi_statemachine *m);
/** 1 when name is the current state. */
OOCSI_API int oocsi_statemachine_is(const oocsi_statemachine *m, const char *name);
/** Runs the stay callback of the current state (nothing when none). */
OOCSI_API int oocsi_statemachine_execute(oocsi_statemachine *m);

/* ======================================================================
 * end of spatial, awareness and state machine
 * ====================================================================== */

/* ======================================================================
 * Gather, consensus, sync and spread (Java OOCSIGather, OOCSIConsensus,
 * OOCSISync, OOCSISpread)
 *
 *  - Each lives on a channel derived from the names given
 *    ("<channel>_<key>_gather", "<channel>_<key>_consensus",
 *    "<channel>_sync", "<channel>_<key>_spread"), which it subscribes to with
 *    oocsi_attach(); every message it sends carries "handle": "<client
 *    handle>_<instance number>", as the Java classes send.
 *  - Constructors return NULL on bad arguments (c, channel or key NULL or
 *    empty, names with spaces or control characters, timeouts or periods out
 *    of range) or out of memory.
 *  - Timing runs on the client's loop (oocsi_timer_start()): a behaviour
 *    acts only while the loop runs (oocsi_loop(), oocsi_run() or the
 *    background thread). Getters and setters may be called from any thread.
 *  - A peer sends nothing when it leaves: the others keep its last
 *    contribution. Each keeps at most 1024 peers' entries; messages from
 *    further senders are ignored.
 * ====================================================================== */

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

/* ======================================================================
 * end of gather, consensus, sync and spread
 * ====================================================================== */

#ifdef __cplusplus
}
#endif

#endif
