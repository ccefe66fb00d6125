/*
 * The engine's internal structures and functions, shared by the engine's
 * files (client, connection, input, output, loop, subs, dispatch) and by the
 * public API layer above it (core/api). Not installed. The layer above the
 * API (core/features) must not include this header.
 */
#ifndef OOCSI_ENGINE_ENGINE_H
#define OOCSI_ENGINE_ENGINE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
#define OOCSI_HAVE_PPOLL 1
#endif

#include "oocsi/codec.h"
#include "oocsi/oocsi.h"
#include "oocsi/transport.h"
#include "backoff.h"
#include "handles.h"
#include "jsonscan.h"
#include "queue.h"
#include "ratelimit.h"
#include "rng.h"
#include "url.h"

/* ---------------------------------------------------------------- options */

struct oocsi_options {
    char *handle;
    char **endpoints;
    int n_endpoints;
    int max_reconnect;
    int logger_set;
    oocsi_log_fn log_fn;
    void *log_user;
    oocsi_log_level log_level;
    oocsi_handler direct_fn;
    void *direct_user;
    char *tls_ca_file;
    char *tls_cert_file;
    char *tls_key_file;
    int tls_verify;
    int connect_timeout_ms;
    oocsi_state_fn state_fn;
    void *state_user;
    int reconnect_initial_ms, reconnect_max_ms;
    int keepalive_idle_ms, keepalive_timeout_ms;
    size_t max_line;
    size_t queue_max_count, queue_max_bytes;
    size_t pending_max_bytes; /* received messages waiting for their handlers */
    int calls_to_handlers;    /* hand calls without a responder here to handlers */
    int wake_signal;          /* 0: wake the loop through wake_r/wake_w; else this signal */
    /* set_handle refused a handle: connecting fails until a valid one is set */
    char *bad_handle;
};

/* ---------------------------------------------------------------- messages */

/* A received message as handlers see it. From a codec's unparsed form, json
 * holds the whole object text (envelope keys included) and data stays NULL
 * until the application asks for the payload as cJSON (parsed once, kept);
 * typed getters answer from the text. */
struct oocsi_message {
    const char *sender;
    const char *recipient;
    int64_t timestamp;
    cJSON *data;
    const char *json; /* NULL: data is the payload */
    size_t json_len;
    int special; /* json: a top-level key begins with '_' or holds an escape */
};

/* ---------------------------------------------------------- subscriptions */

/* SUB_HANDLER: oocsi_subscribe; SUB_PINNED: oocsi_attach (kept by
 * oocsi_unsubscribe); SUB_RESPONDER: oocsi_register. */
enum { SUB_HANDLER = 0, SUB_PINNED = 1, SUB_RESPONDER = 2 };

/* Calls a typed callback (afn, e.g. an oocsi_presence_fn) for a message:
 * listeners with an adapter have no fn (presence events, meta channels). */
typedef void (*oocsi__adapter)(oocsi_client *c, const oocsi_message *m, void (*afn)(void), void *user);

typedef struct oocsi__listener {
    struct oocsi__listener *next;
    int kind;
    oocsi_handler fn;
    oocsi_responder rfn;
    void *user;
    char *call_name;         /* SUB_RESPONDER */
    oocsi__ratelimit *limit; /* oocsi_subscribe_limited; NULL: none */
    oocsi__adapter adapt;    /* NULL: call fn */
    void (*afn)(void);
} oocsi__listener;

typedef struct oocsi__sub {
    struct oocsi__sub *next;
    char *channel;
    oocsi__listener *listeners;
    int wire; /* 1 once a subscribe was sent on the current connection */
} oocsi__sub;

/* ------------------------------------------------------------ ping waiters */

enum { PW_BARRIER = 0, PW_QUERY = 1, PW_KEEPALIVE = 2, PW_RESUB = 3 };

typedef struct oocsi__waiter {
    int done;
    int result;         /* OOCSI_OK or an error */
    oocsi_buf text;     /* query answer */
    cJSON *response;    /* call_and_wait */
    char *responder;    /* call_and_wait: who answered (malloc'd) */
    cJSON *answers;     /* call_and_collect: [{"responder", "response"}] */
    size_t max_answers; /* call_and_collect: done after this many (0: at the deadline) */
    /* While its thread sleeps because another thread owns the loop: woken
     * by that thread through its own condition (loop.c), not the client's. */
    struct oocsi__waiter *next_sleeper;
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    int sync_init;   /* wmu and wcv initialised */
    int kicked;      /* under wmu: something it waits for may have changed */
    int seen_done;   /* under wmu: done (and its results) as the waker saw them */
    atomic_int kick; /* Linux: 0 asleep, 1 kicked, 2 kicked and done (a futex) */
    int stealing;    /* took the loop from the background thread (loop.c) */
    int stole;       /* gave it back for the handlers: no more taking */
    pthread_t stolen_from;
} oocsi__waiter;

typedef struct oocsi__pingw {
    struct oocsi__pingw *next;
    int kind;
    oocsi__waiter *w; /* may be NULL (fire and forget) */
} oocsi__pingw;

/* -------------------------------------------------------------------- calls */

typedef struct oocsi__call {
    struct oocsi__call *next;
    char id[40];
    int64_t deadline;
    oocsi_call_fn fn;
    void *user;
    oocsi__waiter *w; /* call_and_wait */
} oocsi__call;

/* ------------------------------------------------------------------- timers */

/* oocsi_timer_start: due while pending; a one-shot timer that fired stays
 * listed (due INT64_MAX) until its note ran, so a stop in between wins. */
typedef struct oocsi__timer {
    struct oocsi__timer *next;
    uint64_t id; /* new for every start: a note of an earlier start is void */
    int64_t due;
    int period_ms; /* 0: once */
    int queued;    /* a note for it waits in the queue */
    oocsi_timer_fn fn;
    void *user;
} oocsi__timer;

/* ------------------------------------------------------------ notifications */

enum { NOTE_MESSAGE = 0, NOTE_STATE = 1, NOTE_CALL = 2, NOTE_TIMER = 3 };

typedef struct oocsi__note {
    struct oocsi__note *next;
    int kind;
    /* MESSAGE / CALL: the message; the note owns its text, strings and data */
    oocsi_message msg;
    char *own_json, *own_sender, *own_recipient;
    /* CALL */
    oocsi_call_fn call_fn;
    void *call_user;
    /* STATE */
    oocsi_state state;
    int err;
    /* TIMER */
    uint64_t timer_id;
    size_t bytes; /* counted in the client's notes_bytes */
} oocsi__note;

/* ------------------------------------------------------------------- client */

typedef enum {
    CS_IDLE = 0,   /* nothing open, not scheduled */
    CS_CONNECTING, /* transport opening */
    CS_HANDSHAKE,  /* hello sent, waiting for welcome */
    CS_RESUB,      /* welcomed, re-subscribing (barrier pending) */
    CS_ONLINE,     /* ready */
    CS_BACKOFF,    /* waiting to retry */
    CS_CLOSED      /* gave up or closed */
} oocsi__cstate;

struct oocsi_client {
    pthread_mutex_t mu;
    pthread_cond_t cv;

    oocsi_options opts; /* a deep copy */
    oocsi__rng rng;
    char *requested; /* handle sent in hello (resolved '#', with password) */
    char *handle;    /* the welcomed name */
    char *last_error;

    /* endpoints */
    oocsi__url *eps;
    int n_eps;
    int ep_index; /* endpoint in use / being tried */
    int ep_tried; /* endpoints tried in the current pass */

    /* connection */
    oocsi__cstate st;
    const oocsi_transport *tp;
    void *tps;
    const oocsi_codec *codec;
    void *cs;
    int64_t attempt_deadline;
    int64_t backoff_until;
    int failed_passes;    /* reconnect passes failed in a row */
    int quick_drops;      /* connections lost soon after their welcome, in a row */
    int64_t online_since; /* when the current connection was welcomed */
    int64_t outage_since; /* a healthy connection was lost then (0: none): retries stay frequent */
    int64_t peer_checked; /* when a send last checked for a closed peer */
    int ever_connected;
    int initial;        /* inside oocsi_connect */
    int initial_result; /* result of the initial connect */
    int close_requested;
    int closed_err;

    /* input */
    char *in;
    size_t in_len, in_cap, in_scan;
    size_t in_skipped; /* > 0: inside an over-long line, its bytes dropped so far */

    /* output */
    oocsi_buf out;
    size_t out_off;    /* bytes of out already written */
    uint64_t out_base; /* absolute offset of out.data[0] */
    /* messages written into out, kept until their bytes are out so they can
     * be requeued if the connection drops first (linked through next, with
     * end set) */
    oocsi__qitem *inflight_head, *inflight_tail;
    oocsi_buf scratch;

    /* keep-alive */
    int64_t last_rx;
    int ka_ping_sent;
    int64_t ka_ping_at; /* when the keep-alive ping went out */

    /* queue while offline or re-subscribing */
    oocsi__queue offline;

    /* subscriptions, pings, calls, notifications */
    oocsi__sub *subs;
    oocsi__pingw *pings_head, *pings_tail;
    oocsi__call *calls;
    oocsi__timer *timers;
    uint64_t timer_seq;
    oocsi__note *notes_head, *notes_tail;
    size_t notes_bytes;   /* bytes of received messages in the notes */
    size_t frame_len;     /* length of the frame being decoded */
    size_t notes_dropped; /* messages dropped over pending_max_bytes, not yet reported */

    /* loop ownership */
    int loop_busy;
    pthread_t loop_owner;
    int in_callback; /* depth of user callbacks on the owner thread */
    /* Callbacks begun and ended on the owner thread, so that a handler's
     * removal from another thread can wait for a call in progress. */
    uint64_t cb_begun, cb_ended;
    int cb_waiters;
    int thread_running;
    int thread_stop;
    pthread_t thread;
    int wake_r, wake_w; /* -1 with opts.wake_signal */
    int wake_pending;
    int64_t poll_until;      /* when the thread in poll()/wait() wakes at the latest */
    oocsi__waiter *sleepers; /* threads in oocsi__wait() while another owns the loop */
    /* The background thread is idle with the lock released (blocked in
     * poll(), or waiting for the loop to be given back): a thread that waits
     * for an answer may take the loop from it meanwhile and read the answer
     * itself. While the loop is taken (stolen), the background thread waits
     * on lend_cv under lend_mu (not the client's lock, which the taker needs
     * at that very moment) until it is given back. */
    int owner_idle;
    atomic_int stolen;
    int lend_stop; /* under lend_mu: the background thread is to stop */
    pthread_mutex_t lend_mu;
    pthread_cond_t lend_cv;
    /* opts.wake_signal: the thread in ppoll (set under mu; read by oocsi_stop) */
    atomic_int polling;
    /* oocsi_stop() calls between reading polling and signalling the poller:
     * the poller waits for them after it stops polling, so a signal never
     * targets a thread that has moved on (or ended). */
    atomic_int stoppers;
    pthread_t poller;
    atomic_int run_stop; /* oocsi_stop(): set from any thread or a signal handler */

    unsigned call_counter;
    /* Operating-system random bytes for call ids, fetched 256 at a time
     * (calls.c): one getrandom() per 16 calls instead of one per call. */
    unsigned char id_pool[256];
    size_t id_pool_left;
    int last_attempt_err;
    /* Ids of calls that were answered or timed out: late or duplicate
     * responses carrying them are dropped. */
    char done_ids[64][40];
    unsigned done_next;
    int sync_init;
    void *in_wait;                    /* transport state inside wait() without the lock */
    const oocsi_transport *zombie_tp; /* closed while in wait(): freed after it */
    void *zombie_tps;
    oocsi_transport_config tconf;
    /* Why the current attempt is failing (the most severe cause logged by the
     * transport or the engine) and the report of the current pass. */
    char why[256];
    int why_lvl;
    oocsi_buf report;
};

/* A connection lost within this time after its welcome counts as a quick
 * drop: several in a row make the reconnect back off. */
#define OOCSI__STABLE_MS 10000

/* Appends node n to the singly linked list (head, tail) through its next. */
#define OOCSI__APPEND(head, tail, n)                                                                                   \
    do {                                                                                                               \
        (n)->next = NULL;                                                                                              \
        if (tail)                                                                                                      \
            (tail)->next = (n);                                                                                        \
        else                                                                                                           \
            (head) = (n);                                                                                              \
        (tail) = (n);                                                                                                  \
    } while (0)

#define BARRIER_KEY "_OOCSI_BARRIER"
#define INITIAL_PENDING 1

/* client.c: life, logging, errors */
int64_t oocsi__now_ms(void);
void oocsi__deadline_to_timespec(int64_t deadline_ms, struct timespec *ts);
void oocsi__log(oocsi_client *c, oocsi_log_level lvl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void oocsi__set_error(oocsi_client *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Checks a handle or channel name. */
int oocsi__validate_name(const char *s);
/* As oocsi__validate_name, and spaces inside a trailing [filter/transform]. */
int oocsi__validate_subscription(const char *s);
/* Argument checks of the public functions: when cond is false, record
 * "<function>: <argument> <rule>" as this thread's error detail and return
 * OOCSI_ERR_INVAL. OOCSI__CHECK_NAME checks a channel, recipient or handle
 * argument with oocsi__validate_name and says what is wrong with it. */
#define OOCSI__CHECK(cond, arg, rule)                                                                                  \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            return oocsi_fail(OOCSI_ERR_INVAL, "%s: %s %s", __func__, arg, rule);                                      \
    } while (0)
#define OOCSI__CHECK_NAME(arg, value)                                                                                  \
    do {                                                                                                               \
        if (oocsi__validate_name(value) != OOCSI_OK)                                                                   \
            return oocsi__bad_name(__func__, arg, value);                                                              \
    } while (0)
/* Records why name is not a valid channel/recipient; returns OOCSI_ERR_INVAL. */
int oocsi__bad_name(const char *fn, const char *arg, const char *name);

/* client.c: the engine keeps a deep copy of the options */
int oocsi__options_copy(oocsi_options *dst, const oocsi_options *src);
void oocsi__options_clear(oocsi_options *o);

/* output.c, lock held: codec capability test, command encoding, flushing,
 * message and ping-barrier emission, barrier waiter queueing, sending. */
int oocsi__codec_has(oocsi_client *c, unsigned cap);
int oocsi__emit(oocsi_client *c, oocsi_command_type type, const char *arg, const char *payload, size_t plen);
int oocsi__flush_out(oocsi_client *c);
int oocsi__emit_message(oocsi_client *c, oocsi__qitem *it);
int oocsi__emit_barrier(oocsi_client *c);
void oocsi__ping_push(oocsi_client *c, int kind, oocsi__waiter *w);
void oocsi__pings_fail_all(oocsi_client *c, int err);
void oocsi__requeue_unsent(oocsi_client *c);
/* Serialises data (must be an object) for the wire. */
int oocsi__render(const cJSON *data, char **out, size_t *len);
/* Removes every member named key from obj (JSON text may repeat a key). */
void oocsi__delete_key(cJSON *obj, const char *key);
/* Sends a message (lock held). payload is compact ASCII JSON. */
int oocsi__send_locked(oocsi_client *c, const char *recipient, const char *payload, size_t len);

/* connection.c, lock held: the state machine */
void oocsi__close_transport(oocsi_client *c);
void oocsi__end_call(oocsi_client *c, oocsi__call *k, int err);
void oocsi__give_up(oocsi_client *c, int err);
void oocsi__schedule_retry(oocsi_client *c, int err);
void oocsi__start_pass(oocsi_client *c);
void oocsi__attempt_failed(oocsi_client *c, int err);
void oocsi__connection_lost(oocsi_client *c, int err, const char *why);
void oocsi__go_online(oocsi_client *c);
void oocsi__on_welcome(oocsi_client *c, const char *name);
/* Adds the failed attempt on the current endpoint to the pass report. */
void oocsi__report_attempt(oocsi_client *c, int err);
/* Records why the attempt in progress is failing (kept when at least as
 * severe as what was recorded before). */
void oocsi__attempt_why(oocsi_client *c, oocsi_log_level lvl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* input.c, lock held */
void oocsi__remember_done(oocsi_client *c, const char *id);
/* Drives the transport after poll (events: OOCSI_EV_*). */
void oocsi__service(oocsi_client *c, int events);
/* The registry of open clients (see oocsi_close). */
int oocsi__live_add(oocsi_client *c);
int oocsi__is_live(const oocsi_client *c);
/* Before writing on a connection idle for a while: notices a server that
 * closed it meanwhile (its stale timeout, say), so the message is queued for
 * the next connection instead of written into a dead one. */
void oocsi__check_peer(oocsi_client *c);

/* loop.c */
/* Wakes the loop owner if it is another thread. Lock held. */
void oocsi__poke(oocsi_client *c);
/* The loop's wake-up: one Linux eventfd (wake_r == wake_w) where available,
 * else a pipe; both non-blocking and close-on-exec. 0 or -1. */
int oocsi__wake_open(oocsi_client *c);
/* Async-signal-safe (one write(2)). */
void oocsi__wake_signal(int wake_w);
void oocsi__wake_drain(int wake_r);
/* opts.wake_signal: a do-nothing handler for signo unless the application
 * has one. 0 or -1. */
int oocsi__wake_signal_install(int signo);
/* One round of I/O and timers, waiting at most timeout_ms. Lock held on entry
 * and exit (released while waiting). Never runs user callbacks. */
void oocsi__step_io(oocsi_client *c, int timeout_ms);
/* Waits (driving the loop when needed) until w->done or timeout. Lock held on
 * entry and exit. */
int oocsi__wait(oocsi_client *c, oocsi__waiter *w, int64_t deadline);
/* As oocsi__wait, but returns with the lock released: a thread woken by the
 * loop owner with its answer then returns without taking the lock again. */
int oocsi__wait_unlock(oocsi_client *c, oocsi__waiter *w, int64_t deadline);

/* waiters.c */
/* Wakes every thread waiting on the client's condition, and each sleeping
 * oocsi__wait() whose wait may be over. Lock held. Use after any change that
 * a waiter waits for (instead of broadcasting c->cv alone). */
void oocsi__signal(oocsi_client *c);
/* Sleeps until the loop owner wakes w or the deadline passes. Lock held on
 * entry; returns 1 with the lock released when w is done (its results are
 * then visible), else 0 with the lock held again. */
int oocsi__sleep_on_waiter(oocsi_client *c, oocsi__waiter *w, int64_t deadline);
/* Frees what oocsi__sleep_on_waiter set up in w (no lock needed). */
void oocsi__waiter_sync_free(oocsi__waiter *w);
/* Waiter bookkeeping (lock held). */
void oocsi__detach_waiter(oocsi_client *c, oocsi__waiter *w);
int oocsi__is_owner(oocsi_client *c);

/* msgtext.c: messages kept as text */
/* The payload tree of checked message text: the object without its
 * envelope keys (sender, recipient, timestamp). NULL when out of memory. */
cJSON *oocsi__payload_tree(const char *json, size_t len);
/* Turns an event in its unparsed form into the parsed one (data set, json
 * gone, sender and recipient owned on their own). OOCSI_OK or OOCSI_ERR_NOMEM. */
int oocsi__event_make_tree(oocsi_event *ev);
/* The payload as cJSON, parsed from the text on first use and kept with the
 * message. NULL when out of memory. */
const cJSON *oocsi__message_payload(const oocsi_message *m);
/* Looks key up among the payload members of m's text (the first one wins,
 * as cJSON's look-up). 1 found (*val its value's text), 0 absent, -1 when m
 * has no text form (ask m->data). */
int oocsi__message_value(const oocsi_message *m, const char *key, oocsi__json_span *val);
/* The payload as compact JSON text taken from m's text (numbers exactly as
 * they came); malloc'd, NULL when out of memory or m has no text. */
char *oocsi__message_payload_text(const oocsi_message *m);
/* Number values of JSON text: OOCSI_OK, OOCSI_ERR_UNSUPPORTED (not a number,
 * or for the integers not an integer literal in range). */
int oocsi__json_to_double(const oocsi__json_span *v, double *out);
int oocsi__json_to_i64(const oocsi__json_span *v, int64_t *out);
int oocsi__json_to_u64(const oocsi__json_span *v, uint64_t *out);

/* dispatch.c: the notification queue and its dispatch. Lock held. */
void oocsi__note_push(oocsi_client *c, oocsi__note *n);
void oocsi__note_free(oocsi__note *n);
void oocsi__note_state(oocsi_client *c, oocsi_state st, int err);
/* Runs a call-result note's callback (lock not held). */
void oocsi__run_call_note(oocsi_client *c, oocsi__note *n);
/* Runs queued callbacks (owner thread only, not nested). */
void oocsi__dispatch_notes(oocsi_client *c);
/* Brackets a user callback on the owner thread: releases the lock on begin,
 * takes it again on end, and wakes threads waiting for it to end. */
void oocsi__callback_begin(oocsi_client *c);
void oocsi__callback_end(oocsi_client *c);

/* dispatch.c: runs a timer note (lock held, released around the callback). */
void oocsi__run_timer_note(oocsi_client *c, oocsi__note *n);

/* registry.c: the registered URL schemes as "tcp, tls, ws, wss". */
void oocsi__transport_schemes(char *buf, size_t size);

/* subs.c, lock held */
oocsi__sub *oocsi__find_sub(oocsi_client *c, const char *channel);
/* Adds a listener to channel (creating the subscription); sends subscribe when
 * new on the wire. Returns OOCSI_OK, or 1 when a wire subscribe was sent and
 * a barrier waiter w (if non-NULL) was queued. */
int oocsi__add_listener(oocsi_client *c, const char *channel, oocsi__listener *l, oocsi__waiter *w);
/* Adds a listener, and when a subscribe went on the wire waits for its
 * barrier (unless inside a callback). Takes l. */
int oocsi__subscribe_locked(oocsi_client *c, const char *channel, oocsi__listener *l);
/* Frees a listener and what it owns (no lock needed: it is unlinked). */
void oocsi__listener_free(oocsi__listener *l);
/* Removes listeners matching pred; unsubscribes when none is left. */
void oocsi__remove_listeners(oocsi_client *c, const char *channel, int (*pred)(oocsi__listener *, void *), void *ctx);
/* Waits until a user callback running on another (owner) thread has
 * returned, so that a removed handler is not running any more. */
void oocsi__wait_callbacks(oocsi_client *c);

#endif
