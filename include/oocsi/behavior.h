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

#ifdef __cplusplus
}
#endif

#endif
