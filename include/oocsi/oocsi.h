/*
 * liboocsi: a C client library for OOCSI.
 *
 * Conventions for every function in this header:
 *  - Functions that can fail return an int: OOCSI_OK (0) or a negative
 *    OOCSI_ERR_* code (see oocsi_strerror()). A NULL argument where a value is
 *    required gives OOCSI_ERR_INVAL, never a crash.
 *  - Strings and cJSON objects passed in are copied; the caller keeps them.
 *  - Strings and objects handed to callbacks are borrowed and valid only for
 *    the duration of the callback.
 *  - Anything returned for the caller to own is freed with oocsi_free() (text)
 *    or cJSON_Delete() (JSON), as stated per function.
 *
 * Threading:
 *  - Callbacks (handlers, responders, call results, the state handler) run only
 *    inside oocsi_loop() or on the background thread of oocsi_loop_start(),
 *    never inside oocsi_send() and friends.
 *  - oocsi_send*, oocsi_subscribe, oocsi_unsubscribe, oocsi_register,
 *    oocsi_unregister, oocsi_call*, the queries and all oocsi_variable_* and
 *    oocsi_device_* calls may be made from any thread, including from inside
 *    callbacks. Blocking calls made from inside a callback drive the client's
 *    I/O themselves (they never deadlock); callbacks for messages that arrive
 *    meanwhile are queued and run after the current callback returns.
 *  - The logger may be called from any thread that uses the client and with
 *    internal locks held: it must not call into the library other than
 *    oocsi_strerror().
 *  - oocsi_close() must be called once, from a thread that is not inside a
 *    callback of the same client, when no other thread uses the client.
 */
#ifndef OOCSI_OOCSI_H
#define OOCSI_OOCSI_H

#include <stdint.h>
#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(OOCSI_STATIC)
#define OOCSI_API
#elif defined(__GNUC__)
#define OOCSI_API __attribute__((visibility("default")))
#else
#define OOCSI_API
#endif

#define OOCSI_VERSION_MAJOR 0
#define OOCSI_VERSION_MINOR 1
#define OOCSI_VERSION_PATCH 0
#define OOCSI_VERSION_STRING "0.1.0"

/** The library's version as "MAJOR.MINOR.PATCH" (static string). */
OOCSI_API const char *oocsi_version(void);

/* ------------------------------------------------------------------ errors */

typedef enum {
    OOCSI_OK = 0,
    OOCSI_ERR_INVAL = -1, /* bad argument: NULL, handle with whitespace, data not a JSON object, ... */
    OOCSI_ERR_NOMEM = -2,
    OOCSI_ERR_CONNECT = -3,      /* no endpoint could be reached */
    OOCSI_ERR_HANDLE_TAKEN = -4, /* server: name already registered */
    OOCSI_ERR_AUTH = -5,         /* server: password wrong for name */
    OOCSI_ERR_TIMEOUT = -6,
    OOCSI_ERR_CLOSED = -7,       /* client closed or gave up reconnecting */
    OOCSI_ERR_TLS = -8,          /* handshake or certificate verification failed */
    OOCSI_ERR_PROTOCOL = -9,     /* peer sent something the codec cannot accept */
    OOCSI_ERR_UNSUPPORTED = -10, /* e.g. a query the endpoint's protocol lacks */
    OOCSI_ERR_QUEUE_FULL = -11,  /* offline/outgoing queue limit reached */
    OOCSI_ERR_IO = -12,
    OOCSI_ERR_NOT_FOUND = -13 /* typed getters: the message has no such key */
} oocsi_err;

/** A static English description of an OOCSI_ERR_* code (never NULL). */
OOCSI_API const char *oocsi_strerror(int err);

/* ------------------------------------------------------------------- types */

typedef struct oocsi_options oocsi_options;
typedef struct oocsi_client oocsi_client;
typedef struct oocsi_message oocsi_message;
typedef struct oocsi_variable oocsi_variable;
typedef struct oocsi_device oocsi_device;

typedef enum { OOCSI_LOG_DEBUG = 0, OOCSI_LOG_INFO = 1, OOCSI_LOG_WARN = 2, OOCSI_LOG_ERROR = 3 } oocsi_log_level;

typedef enum {
    OOCSI_STATE_CONNECTED = 0, /* after every welcome (first connect and reconnects) */
    OOCSI_STATE_OFFLINE = 1,   /* an established connection dropped; err says why */
    OOCSI_STATE_CLOSED = 2     /* gave up reconnecting, or oocsi_close() */
} oocsi_state;

/** Log sink. msg is borrowed. See the threading notes at the top. */
typedef void (*oocsi_log_fn)(oocsi_log_level level, const char *msg, void *user);
/** Connection state changes; runs in the loop like every callback. */
typedef void (*oocsi_state_fn)(oocsi_client *c, oocsi_state state, int err, void *user);
/** Message handler for channels and direct messages. msg is borrowed. */
typedef void (*oocsi_handler)(oocsi_client *c, const oocsi_message *msg, void *user);
/** Responder: request is borrowed; response is pre-filled with a copy of the
 *  request data (without _MESSAGE_HANDLE and the server keys _RETAIN, _DELAY,
 *  _SCHEDULE, which would act on the answer) and may be changed in place; it is
 *  sent to the caller when the responder returns. */
typedef void (*oocsi_responder)(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user);
/** Result of oocsi_call(): response is NULL when the call timed out (or the
 *  client gave up reconnecting or was closed); its data excludes _MESSAGE_ID. */
typedef void (*oocsi_call_fn)(oocsi_client *c, const oocsi_message *response, void *user);

/* ------------------------------------------------------ options, connecting */

/** New options with defaults; NULL when out of memory. Free with oocsi_options_free(). */
OOCSI_API oocsi_options *oocsi_options_new(void);
/** NULL-safe. */
OOCSI_API void oocsi_options_free(oocsi_options *opts);

/**
 * Handle: NULL or "" gives "OOCSIClient_" + 15 random lowercase hex digits.
 * Each '#' is replaced by a random digit at connect time. Whitespace, control
 * or non-ASCII characters, or more than 194 characters (password included):
 * OOCSI_ERR_INVAL. "name:password" requests a password handle.
 */
OOCSI_API int oocsi_options_set_handle(oocsi_options *opts, const char *handle);
/**
 * Adds an endpoint URL: tcp://host[:port] (4444), tls://host[:port] (4443),
 * ws://host[:port][/path], wss://host[:port][/path] (path /ws), a bare host or
 * host:port (tcp), or a scheme registered with oocsi_register_transport().
 * Tried in the order added. OOCSI_ERR_INVAL for a URL that does not parse,
 * OOCSI_ERR_UNSUPPORTED for a scheme with no transport in this build.
 */
OOCSI_API int oocsi_options_add_endpoint(oocsi_options *opts, const char *url);
/** < 0 (default): retry forever; 0: never reconnect; n: give up after n
 *  failed attempts in a row (one attempt = one pass over the endpoint list). */
OOCSI_API int oocsi_options_set_max_reconnect_attempts(oocsi_options *opts, int attempts);
/** fn NULL silences the library. Default: INFO+ to stderr as "[handle]: text". */
OOCSI_API int oocsi_options_set_logger(oocsi_options *opts, oocsi_log_fn fn, void *user);
/** Lowest level passed to the logger (default OOCSI_LOG_INFO). */
OOCSI_API int oocsi_options_set_log_level(oocsi_options *opts, oocsi_log_level level);
/** Handler for messages sent directly to this client's handle. */
OOCSI_API int oocsi_options_set_direct_handler(oocsi_options *opts, oocsi_handler fn, void *user);
OOCSI_API int oocsi_options_set_tls_ca_file(oocsi_options *opts, const char *pem_path);
/** Client certificate (PEM chain) and its key (PEM; NULL: in the certificate
 *  file) for servers that ask for one; NULL, NULL: none. */
OOCSI_API int oocsi_options_set_tls_client_cert(oocsi_options *opts, const char *cert_pem_path,
                                                const char *key_pem_path);
/** 1 (default): verify the certificate chain and the host name (or IP
 *  address). 0 is the insecure switch: any certificate is accepted, and every
 *  connection logs a warning saying so. */
OOCSI_API int oocsi_options_set_tls_verify(oocsi_options *opts, int verify);
/** Bound of oocsi_connect() and of subscribe confirmations; default 5000 ms. */
OOCSI_API int oocsi_options_set_connect_timeout(oocsi_options *opts, int timeout_ms);
OOCSI_API int oocsi_options_set_state_handler(oocsi_options *opts, oocsi_state_fn fn, void *user);

/* Additions beyond the fixed contract. */

/** Reconnect backoff: first delay around initial_ms (with jitter), doubling up
 *  to max_ms. Defaults 100 ms and 5000 ms. */
OOCSI_API int oocsi_options_set_reconnect_delay(oocsi_options *opts, int initial_ms, int max_ms);
/** Keep-alive: send "ping" after idle_ms without incoming bytes, consider the
 *  server dead after timeout_ms without incoming bytes. Defaults 10000/20000 ms. */
OOCSI_API int oocsi_options_set_keepalive(oocsi_options *opts, int idle_ms, int timeout_ms);
/** Longest line/frame accepted from the server (default 16 MiB + 64 KiB: a
 *  message the usual 16 MiB server limit let in, with the envelope the server
 *  adds). Minimum 1024. Over TCP/TLS a longer line is skipped with a warning
 *  in the log (its message is lost, the connection stays); over ws/wss a
 *  longer frame resets the connection with OOCSI_ERR_PROTOCOL. */
OOCSI_API int oocsi_options_set_max_line_length(oocsi_options *opts, size_t bytes);
/** Bound of the queue of messages sent while offline (defaults 10000 messages,
 *  16 MiB); past it oocsi_send() returns OOCSI_ERR_QUEUE_FULL. max_bytes also
 *  bounds the bytes written but not yet taken by a connected server that does
 *  not read (a stalled peer). */
OOCSI_API int oocsi_options_set_offline_queue(oocsi_options *opts, size_t max_messages, size_t max_bytes);
/** Bound of received messages waiting for their handlers (default 64 MiB,
 *  counted as the bytes that came over the wire). The loop stops reading from
 *  the server while it is reached, until handlers have run (the server then
 *  holds the rest, or drops this slow client by its own rules). While the
 *  application blocks in oocsi_call_and_wait(), a subscribe or a query the
 *  answer must still be read: messages past the bound are then dropped, with
 *  a warning in the log that counts them. A single message is always taken. */
OOCSI_API int oocsi_options_set_pending_limit(oocsi_options *opts, size_t max_bytes);
/** How another thread wakes the thread blocked in the client's loop (to send,
 *  subscribe, stop). 0 (default): a descriptor of the client's own (an eventfd
 *  on Linux, else a pipe). A signal number (POSIX systems with ppoll, e.g.
 *  SIGRTMIN + 1 or SIGURG): no such descriptor, the loop thread is sent that
 *  signal instead; for processes holding thousands of clients near their
 *  descriptor limit. The client installs a do-nothing handler for the signal
 *  (process-wide, with SA_RESTART) when the signal's action is the default or
 *  ignore; the application must not use that signal for anything else. Not
 *  for clients driven by oocsi_fd() in an external event loop (nothing to poll
 *  for a wake-up there anyway). */
OOCSI_API int oocsi_options_set_wake_signal(oocsi_options *opts, int signo);
/** A call request (a message with _MESSAGE_HANDLE) for which no responder is
 *  registered on this client is dropped by default, as the Java client does:
 *  it is not data for the channel's handlers or the direct handler. on = 1
 *  hands such requests to those handlers (as the Python client does), for
 *  relays and monitors such as a gateway or `oocsi listen`. */
OOCSI_API int oocsi_options_set_calls_to_handlers(oocsi_options *opts, int on);

/**
 * Connects: blocks until the server's welcome, until every endpoint failed,
 * or until the connect timeout. *out is set only on OOCSI_OK; free it with
 * oocsi_close(). Errors: OOCSI_ERR_INVAL, OOCSI_ERR_NOMEM,
 * OOCSI_ERR_HANDLE_TAKEN, OOCSI_ERR_AUTH, OOCSI_ERR_TLS, OOCSI_ERR_CONNECT,
 * OOCSI_ERR_TIMEOUT (the server did not welcome the handle in time).
 * opts is copied; the caller may free it afterwards.
 */
OOCSI_API int oocsi_connect(oocsi_client **out, const oocsi_options *opts);
/**
 * One-call connect, the short way for scripts and examples: like
 * oocsi_connect() with default options, the given handle (NULL or "": a
 * generated one; '#' becomes a random digit; "name:password" allowed) and
 * server: NULL for tcp://localhost:4444, a URL ("ws://host:9000/ws"), a bare
 * "host" or "host:port" (tcp). Use an oocsi_options object for anything
 * more (several endpoints, TLS files, a logger, a direct handler).
 * An invalid handle or server gives OOCSI_ERR_INVAL before any connection.
 */
OOCSI_API int oocsi_connect_to(oocsi_client **out, const char *handle, const char *server);
/** NULL-safe: says quit, stops the loop thread, frees everything. Free the
 *  variables attached to c first; a client closed twice (or a variable freed
 *  after its client) is reported on stderr and in oocsi_last_error(NULL)
 *  and otherwise ignored. */
OOCSI_API void oocsi_close(oocsi_client *c);
/** The handle the server welcomed (without password); the requested one
 *  (after '#' replacement) if the welcome named none or one that is not a
 *  valid name (empty, spaces, control characters). Valid until close. */
OOCSI_API const char *oocsi_handle(const oocsi_client *c);
/** URL of the endpoint in use (or last used). Valid until the next reconnect;
 *  read it from a callback or the state handler. */
OOCSI_API const char *oocsi_endpoint(const oocsi_client *c);
/** 1 when welcomed and online, 0 otherwise (also for NULL). */
OOCSI_API int oocsi_is_connected(const oocsi_client *c);
/** Detail of the last error. With a client: what happened to its connection
 *  (client-owned text). With NULL: the calling thread's last failure detail,
 *  set by any failing call on this thread: why oocsi_connect() failed (every
 *  endpoint tried and its cause), which argument was invalid and why, ...
 *  Thread-local text, valid until the thread's next failing call. */
OOCSI_API const char *oocsi_last_error(const oocsi_client *c);
/** Records fmt as the calling thread's error detail (oocsi_last_error(NULL))
 *  and returns code: `return oocsi_fail(OOCSI_ERR_INVAL, "...")`. For code
 *  layered on the library (custom transports, helpers) to explain failures
 *  the same way. */
OOCSI_API int oocsi_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* --------------------------------------------------------- running the loop */

/** Does I/O, timers and callbacks; returns after at most timeout_ms (0: do
 *  what is ready without waiting). OOCSI_OK, or OOCSI_ERR_CLOSED once the
 *  client gave up; OOCSI_ERR_INVAL while the background thread runs. */
OOCSI_API int oocsi_loop(oocsi_client *c, int timeout_ms);
/** Starts one background thread that runs the loop until oocsi_loop_stop()
 *  or oocsi_close(). OOCSI_ERR_INVAL if already started. */
OOCSI_API int oocsi_loop_start(oocsi_client *c);
/** Stops and joins the background thread. Not from inside a callback
 *  (OOCSI_ERR_INVAL). */
OOCSI_API int oocsi_loop_stop(oocsi_client *c);

/** Runs the loop on the calling thread until oocsi_stop() is called or the
 *  client gives up reconnecting. Returns OOCSI_OK after oocsi_stop(),
 *  OOCSI_ERR_CLOSED when the client gave up, OOCSI_ERR_INVAL while the
 *  background thread runs (or from inside a callback). */
OOCSI_API int oocsi_run(oocsi_client *c);
/** Makes oocsi_run() return soon. Safe from any thread, from callbacks and
 *  from a signal handler (it only sets a flag and writes one byte to a pipe),
 *  so a SIGINT handler can end a program cleanly. */
OOCSI_API int oocsi_stop(oocsi_client *c);

/** Pollable fd of the connection, or -1 while none is open. */
OOCSI_API int oocsi_fd(const oocsi_client *c);
/** 1 if the caller's poll should also wait for POLLOUT. */
OOCSI_API int oocsi_want_write(const oocsi_client *c);
/** Milliseconds until timers are due (keep-alive, backoff, call timeouts);
 *  -1 when none is pending. */
OOCSI_API int oocsi_next_timeout_ms(const oocsi_client *c);

/** A timer's callback; runs on the loop thread like every callback. */
typedef void (*oocsi_timer_fn)(oocsi_client *c, void *user);
/** Runs fn(c, user) on the loop thread after delay_ms, then (period_ms > 0)
 *  every period_ms until oocsi_timer_stop(); period_ms 0: once. A timer is
 *  known by (fn, user): starting it again replaces the earlier schedule. It
 *  fires as the loop runs (oocsi_loop, oocsi_run, the background thread;
 *  oocsi_next_timeout_ms() counts it), never before its time, late when the
 *  loop is busy; a periodic timer that fell behind fires once, not once per
 *  missed period. For objects layered on a client (the group behaviours)
 *  and applications alike. OOCSI_ERR_INVAL (c or fn NULL, delay_ms or
 *  period_ms < 0), OOCSI_ERR_CLOSED. */
OOCSI_API int oocsi_timer_start(oocsi_client *c, int delay_ms, int period_ms, oocsi_timer_fn fn, void *user);
/** Stops the timer (fn, user). When it returns fn is not running on the
 *  loop thread and will not be called again for it (called from inside fn,
 *  the current call continues). Do not call it while holding a lock that fn
 *  takes. Unknown timer: OOCSI_OK. */
OOCSI_API int oocsi_timer_stop(oocsi_client *c, oocsi_timer_fn fn, void *user);

/* --------------------------------------------------- sending and receiving */

/** data must be a JSON object; it is serialised, not taken over. While
 *  offline the message is queued (OOCSI_ERR_QUEUE_FULL past the bound).
 *  Errors: OOCSI_ERR_INVAL, OOCSI_ERR_NOMEM, OOCSI_ERR_QUEUE_FULL, OOCSI_ERR_CLOSED. */
OOCSI_API int oocsi_send(oocsi_client *c, const char *recipient, const cJSON *data);
/** As oocsi_send(), data given as the text of a JSON object. */
OOCSI_API int oocsi_send_json(oocsi_client *c, const char *recipient, const char *json_object);
/** As oocsi_send_json(), the JSON text built printf-style:
 *  oocsi_send_jsonf(c, "lamp", "{\"brightness\":%d}", b). The text must be
 *  a JSON object (OOCSI_ERR_INVAL otherwise); %s arguments are not escaped. */
OOCSI_API int oocsi_send_jsonf(oocsi_client *c, const char *recipient, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/** Sends plain text, as the Java client's send(channel, text) does: it
 *  arrives as {"data": text} (a receiver reads it with
 *  oocsi_message_get_string(m, "data")). text: valid UTF-8, any length the
 *  server takes; line breaks and quotes are escaped on the wire. */
OOCSI_API int oocsi_send_text(oocsi_client *c, const char *recipient, const char *text);
/** Adds fn to channel and returns once the server has the subscription
 *  (bounded by the connect timeout: OOCSI_ERR_TIMEOUT). While offline the
 *  subscription is recorded and made on reconnect (returns OOCSI_OK). The same
 *  (fn, user) twice is one handler. channel may carry the reference server's
 *  filter/transform functions, spaces allowed inside the brackets:
 *  "room[filter(size > 9);transform(twice,size * 2)]"; such messages arrive
 *  with that whole string as recipient (this project's hub does not evaluate
 *  them). */
OOCSI_API int oocsi_subscribe(oocsi_client *c, const char *channel, oocsi_handler fn, void *user);
/** Removes every handler that oocsi_subscribe() added to channel and leaves
 *  it, unless something attached (a variable, oocsi_attach) or a responder
 *  still uses it. Unknown channel: OOCSI_OK. */
OOCSI_API int oocsi_unsubscribe(oocsi_client *c, const char *channel);

/** Removes one handler (fn, user) from channel, whether added by
 *  oocsi_subscribe() or oocsi_attach(), and leaves the channel when nothing
 *  else listens on it. When it returns, fn is not running on the loop thread
 *  and will not be called again for this channel (called from inside fn
 *  itself, the current call of course continues). Do not call it while
 *  holding a lock that fn takes. Unknown handler: OOCSI_OK. */
OOCSI_API int oocsi_unsubscribe_handler(oocsi_client *c, const char *channel, oocsi_handler fn, void *user);
/** As oocsi_subscribe(), for objects layered on a client (variables, devices,
 *  your own helpers): the handler stays when the application calls
 *  oocsi_unsubscribe(channel); only oocsi_unsubscribe_handler() removes it. */
OOCSI_API int oocsi_attach(oocsi_client *c, const char *channel, oocsi_handler fn, void *user);

/* ---------------------------------------------------- rate-limited handlers */

/** A rate limit for oocsi_subscribe_limited(), as the Java client's
 *  RateLimitedEventHandler (per_sender = 0) and RateLimitedClientEventHandler
 *  (per_sender = 1). */
typedef struct oocsi_rate_limit {
    int max_messages; /* at most this many messages (>= 1) ... */
    int per_ms;       /* ... per window of this many milliseconds (>= 1) */
    int per_sender;   /* 0: one count for the subscription; 1: a count per sender */
    /* Called (on the loop thread, like a handler) with each message over the
     * limit, which the handler does not get; NULL: such messages are dropped. */
    oocsi_handler exceeded;
    void *exceeded_user;
} oocsi_rate_limit;
/** As oocsi_subscribe(), and fn gets at most limit->max_messages messages
 *  per window of limit->per_ms (per sender when limit->per_sender). A window
 *  begins with the first message after the previous one ended (the first
 *  when subscribing); all counts start again with it. The limit is copied.
 *  The same (fn, user) again replaces its limit; oocsi_unsubscribe() and
 *  oocsi_unsubscribe_handler(c, channel, fn, user) remove it. OOCSI_ERR_INVAL
 *  for a NULL limit, max_messages or per_ms < 1, per_sender not 0 or 1. */
OOCSI_API int oocsi_subscribe_limited(oocsi_client *c, const char *channel, oocsi_handler fn, void *user,
                                      const oocsi_rate_limit *limit);

/* ------------------------------------------------------- server features */

/** One message to several recipients (channels or handles), as the Java
 *  client's MultiMessage: data is serialised once and sent to each in order,
 *  as separate messages (every OOCSI server takes them; none reads a list of
 *  recipients). All recipients are checked first: one invalid name sends
 *  nothing (OOCSI_ERR_INVAL). The messages are queued together, so no other
 *  message of this client comes between them. count 0: OOCSI_ERR_INVAL.
 *  Other errors as oocsi_send() (e.g. OOCSI_ERR_QUEUE_FULL) stop at the
 *  recipient they happen for: the ones before it have the message queued. */
OOCSI_API int oocsi_send_many(oocsi_client *c, const char *const *recipients, size_t count, const cJSON *data);
/** Sends data to channel with "_RETAIN": seconds: the server keeps it as the
 *  channel's retained message, given to every client that subscribes later
 *  (with its original sender and timestamp), until seconds pass or another
 *  message on the channel replaces it. The channel must have a subscriber
 *  when it arrives, else the server drops it like any message. seconds 1 to
 *  172800 (2 days, the servers' cap; this project's hub: --max-retain). */
OOCSI_API int oocsi_send_retained(oocsi_client *c, const char *channel, const cJSON *data, int seconds);
/** Sends data with "_DELAY": seconds: the server delivers it seconds later
 *  (released by its 1-second tick: up to a second more), to whoever is the
 *  recipient then. The server keeps one pending delayed or scheduled message
 *  per recipient: a second one to the same recipient replaces the first.
 *  seconds >= 1 (this project's hub refuses more than --max-delay, 1 day by
 *  default, with an error line). */
OOCSI_API int oocsi_send_delayed(oocsi_client *c, const char *recipient, const cJSON *data, int seconds);
/** Sends data with "_SCHEDULE": the server delivers it at at_epoch_s (seconds
 *  since the epoch; a time past is delivered now). On the wire the time is
 *  "yyyy-MM-dd HH:mm:ss", which the server reads in its own time zone: this
 *  call writes it in the client's (TZ), so both must agree. One pending
 *  message per recipient, as oocsi_send_delayed(). at_epoch_s >= 0. */
OOCSI_API int oocsi_send_scheduled(oocsi_client *c, const char *recipient, const cJSON *data, int64_t at_epoch_s);

/** Private channels: "channel:secret". The server delivers only messages sent
 *  to exactly that name, to the subscribers that gave it, with that whole
 *  name as recipient; the channel is not listed by the channels query. A
 *  client that subscribes without the secret (or with another) receives
 *  nothing. channel and secret: no ':', no whitespace, not empty. */
OOCSI_API int oocsi_subscribe_private(oocsi_client *c, const char *channel, const char *secret, oocsi_handler fn,
                                      void *user);
/** Sends data to the private channel "channel:secret". */
OOCSI_API int oocsi_send_private(oocsi_client *c, const char *channel, const char *secret, const cJSON *data);
/** Leaves the private channel (the server needs the secret for it). */
OOCSI_API int oocsi_unsubscribe_private(oocsi_client *c, const char *channel, const char *secret);

/** Presence events: what the server says about a channel or client X
 *  subscribed with oocsi_subscribe_presence() (wire: "presence(X)"). */
typedef enum {
    OOCSI_PRESENCE_JOIN =
        0, /* X a channel: handle subscribed to it; X a client: X connected (or handle subscribed to X) */
    OOCSI_PRESENCE_LEAVE = 1,   /* X a channel: handle left it or disconnected; X a client: X disconnected */
    OOCSI_PRESENCE_CREATED = 2, /* X a client: X subscribed to a channel */
    OOCSI_PRESENCE_CLOSED = 3,  /* X a client: X left a channel (unsubscribed, or per channel when it quit) */
    OOCSI_PRESENCE_REFRESH = 4, /* every few seconds: the subscribers of X now (members) */
    OOCSI_PRESENCE_TIMEOUT = 5  /* handle was dropped for inactivity */
} oocsi_presence_kind;
typedef struct oocsi_presence_event {
    oocsi_presence_kind kind;
    const char *target;         /* X */
    int target_is_client;       /* 1: X is a connected client; 0: a channel (or nothing known) */
    const char *handle;         /* JOIN, LEAVE, TIMEOUT: who; else NULL */
    const char *const *members; /* REFRESH: the subscribers of X; else NULL */
    size_t n_members;
    int64_t timestamp; /* server clock, ms since the epoch */
} oocsi_presence_event;
/** ev and everything in it are borrowed for the call. */
typedef void (*oocsi_presence_fn)(oocsi_client *c, const oocsi_presence_event *ev, void *user);
/** Presence events of target (a channel or a client handle, existing or not;
 *  letters, digits, '_' and '-' only: the servers track no other names).
 *  A client gets no presence events of its own handle (the server sends
 *  them as from that handle, and never echoes to the sender); a channel's
 *  events include its own joins. Events with a key this library does not
 *  know are skipped. */
OOCSI_API int oocsi_subscribe_presence(oocsi_client *c, const char *target, oocsi_presence_fn fn, void *user);
/** Removes (fn, user) as oocsi_unsubscribe_handler() does. The reference
 *  server ignores leaving presence(X) and keeps sending its events: this
 *  client then drops them. */
OOCSI_API int oocsi_unsubscribe_presence(oocsi_client *c, const char *target, oocsi_presence_fn fn, void *user);

/* Meta channels, sent by the server (sender "SERVER") every second while
 * subscribed. OOCSI_metrics holds numbers: subscribe to it with
 * oocsi_subscribe() ("uptime", "messagesTotal", "messages", "channels",
 * "clients"; the hub adds its memory figures). */
#define OOCSI_META_CLIENTS "OOCSI_clients"
#define OOCSI_META_CHANNELS "OOCSI_channels"
#define OOCSI_META_METRICS "OOCSI_metrics"
/** A list from a meta channel; names and the strings in it are borrowed. */
typedef void (*oocsi_meta_fn)(oocsi_client *c, const char *meta_channel, const char *const *names, size_t count,
                              void *user);
/** Subscribes to a meta channel that lists names: OOCSI_META_CLIENTS (every
 *  connected client), OOCSI_META_CHANNELS (the public channels), or
 *  "CHANNEL/?" (the subscribers of CHANNEL); fn gets the list split into
 *  names. Other names: OOCSI_ERR_INVAL. */
OOCSI_API int oocsi_subscribe_meta(oocsi_client *c, const char *meta_channel, oocsi_meta_fn fn, void *user);
/** Removes (fn, user) as oocsi_unsubscribe_handler() does. */
OOCSI_API int oocsi_unsubscribe_meta(oocsi_client *c, const char *meta_channel, oocsi_meta_fn fn, void *user);

OOCSI_API const char *oocsi_message_sender(const oocsi_message *m);
OOCSI_API const char *oocsi_message_recipient(const oocsi_message *m);
/** Milliseconds since the epoch, server clock; 0 if the server sent none. */
OOCSI_API int64_t oocsi_message_timestamp(const oocsi_message *m);
/** The payload keys only (no sender/recipient/timestamp). Borrowed. A
 *  message is kept as the text it came in until this is first called: the
 *  tree is built then, once, and kept with the message (handlers that only
 *  use the typed getters never pay for it). Numbers in the tree are doubles:
 *  read integers beyond 2^53 with the typed getters or the JSON text. */
OOCSI_API const cJSON *oocsi_message_data(const oocsi_message *m);
/** The payload as compact JSON text; free with oocsi_free(). NULL on NULL/OOM.
 *  Numbers appear exactly as the sender wrote them (over tcp/tls). */
OOCSI_API char *oocsi_message_data_json(const oocsi_message *m);
/** OOCSI_OK, OOCSI_ERR_INVAL (NULL), OOCSI_ERR_NOT_FOUND (no such key),
 *  OOCSI_ERR_UNSUPPORTED (the key holds another type; for get_int also a
 *  number that is not an integer). get_int is exact for every integer
 *  literal in int64 range (beyond 2^53 too: the value is read from the text
 *  the message came in, not through a double). */
OOCSI_API int oocsi_message_get_int(const oocsi_message *m, const char *key, int64_t *out);
/** As oocsi_message_get_int() for unsigned 64-bit integers: exact up to
 *  18446744073709551615 (12345678901234567890 arrives as it was sent);
 *  OOCSI_ERR_UNSUPPORTED for negative numbers and non-integers. */
OOCSI_API int oocsi_message_get_uint64(const oocsi_message *m, const char *key, uint64_t *out);
OOCSI_API int oocsi_message_get_double(const oocsi_message *m, const char *key, double *out);
/** NULL if absent or not a string. Borrowed. */
OOCSI_API const char *oocsi_message_get_string(const oocsi_message *m, const char *key);
/** JSON true/false (numbers: non-zero is true). */
OOCSI_API int oocsi_message_get_bool(const oocsi_message *m, const char *key, int *out);
/** Typed getters with a default: the value under key, or dflt when the key
 *  is absent, of another type, or m/key is NULL (get_string: borrowed). */
OOCSI_API int64_t oocsi_message_get_int_or(const oocsi_message *m, const char *key, int64_t dflt);
OOCSI_API double oocsi_message_get_double_or(const oocsi_message *m, const char *key, double dflt);
OOCSI_API const char *oocsi_message_get_string_or(const oocsi_message *m, const char *key, const char *dflt);
OOCSI_API int oocsi_message_get_bool_or(const oocsi_message *m, const char *key, int dflt);
/** Typed array getters (the Java client's getIntArray, getFloatArray,
 *  getStringArray): *count is the array's length; its first min(*count,
 *  max) elements are written to out (out may be NULL when max is 0, to ask
 *  for the length). OOCSI_ERR_NOT_FOUND (no such key), OOCSI_ERR_UNSUPPORTED
 *  (not an array, or an element of another type; for ints also a number that
 *  is not an integer), OOCSI_ERR_INVAL (m, key or count NULL). Strings are
 *  borrowed from the message. */
OOCSI_API int oocsi_message_get_int_array(const oocsi_message *m, const char *key, int64_t *out, size_t max,
                                          size_t *count);
OOCSI_API int oocsi_message_get_double_array(const oocsi_message *m, const char *key, double *out, size_t max,
                                             size_t *count);
OOCSI_API int oocsi_message_get_string_array(const oocsi_message *m, const char *key, const char **out, size_t max,
                                             size_t *count);
/** Frees memory the library returned (NULL-safe). */
OOCSI_API void oocsi_free(void *p);

/* ----------------------------------------------------------------- queries */

/** "a, b, c" as the server says it (empty string for none). Free *out with
 *  oocsi_free(). OOCSI_ERR_UNSUPPORTED over endpoints without queries,
 *  OOCSI_ERR_TIMEOUT, OOCSI_ERR_CLOSED (offline). */
OOCSI_API int oocsi_channels(oocsi_client *c, int timeout_ms, char **out);
OOCSI_API int oocsi_channel_subscribers(oocsi_client *c, const char *channel, int timeout_ms, char **out);
OOCSI_API int oocsi_clients(oocsi_client *c, int timeout_ms, char **out);

/* ------------------------------------------------------- call and response */

/** Answers calls named call_name arriving on channel (subscribed, with the
 *  subscribe barrier) or directly. Re-registered on reconnect. */
OOCSI_API int oocsi_register(oocsi_client *c, const char *channel, const char *call_name, oocsi_responder fn,
                             void *user);
/** Removes the responder for call_name on channel (OOCSI_OK if none). */
OOCSI_API int oocsi_unregister(oocsi_client *c, const char *channel, const char *call_name);
/** Sends a call; fn runs once with the first response, or with NULL after
 *  timeout_ms. data may be NULL (empty request). */
OOCSI_API int oocsi_call(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data, int timeout_ms,
                         oocsi_call_fn fn, void *user);
/** Sends a call and waits for the response (woken as soon as it arrives).
 *  *response: the response data without _MESSAGE_ID; free with cJSON_Delete().
 *  OOCSI_ERR_TIMEOUT when none came in time. */
OOCSI_API int oocsi_call_and_wait(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data,
                                  int timeout_ms, cJSON **response);
/** As oocsi_call_and_wait(), and *responder is the handle of the client whose
 *  answer was taken (free with oocsi_free()), so a caller can check it came
 *  from whom it expected. The first answer wins: on a channel any subscriber
 *  sees the request and may answer it; call ids are unpredictable, so nobody
 *  who did not see the request can answer it. */
OOCSI_API int oocsi_call_and_wait_from(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data,
                                       int timeout_ms, cJSON **response, char **responder);
/** Sends a call and collects the answers of several responders (every client
 *  that registered call_name on channel answers) until timeout_ms, or until
 *  max_answers came (0: no limit, wait the whole timeout). *answers: a JSON
 *  array of {"responder": handle, "response": {...}} in arrival order; free
 *  with cJSON_Delete(). OOCSI_OK with at least one answer, OOCSI_ERR_TIMEOUT
 *  (and *answers NULL) with none. */
OOCSI_API int oocsi_call_and_collect(oocsi_client *c, const char *channel, const char *call_name, const cJSON *data,
                                     int timeout_ms, size_t max_answers, cJSON **answers);

/* --------------------------------------------------------------- variables */

/** A variable mirroring key on channel (subscribes with the barrier). NULL on
 *  bad arguments or out of memory. Free with oocsi_variable_free() before
 *  closing the client. */
OOCSI_API oocsi_variable *oocsi_variable_new(oocsi_client *c, const char *channel, const char *key);
OOCSI_API void oocsi_variable_free(oocsi_variable *v);
/** Filters the value locally (min, max, sigma, smoothing) and publishes the
 *  raw value {key: value} on the channel (see oocsi_variable_set_mode() for
 *  the Java client's way). NAN/INF: OOCSI_ERR_INVAL. */
OOCSI_API int oocsi_variable_set(oocsi_variable *v, double value);
/** NAN while it has no value (a min or max alone reads as that bound). */
OOCSI_API double oocsi_variable_get(const oocsi_variable *v);
OOCSI_API int oocsi_variable_has_value(const oocsi_variable *v);
OOCSI_API int oocsi_variable_min(oocsi_variable *v, double min);
OOCSI_API int oocsi_variable_max(oocsi_variable *v, double max);
/** Moving mean over window values (window >= 1); sigma > 0 limits jumps. */
OOCSI_API int oocsi_variable_smooth(oocsi_variable *v, int window, double sigma);
OOCSI_API int oocsi_variable_set_string(oocsi_variable *v, const char *value);
/** The last string value, or NULL. Borrowed and valid until the variable
 *  changes, which the loop may do at any time: use it only on the loop's
 *  thread (inside a callback) or when no loop runs; elsewhere use
 *  oocsi_variable_dup_string(). */
OOCSI_API const char *oocsi_variable_get_string(const oocsi_variable *v);
/** A copy of the last string value (free with oocsi_free()), or NULL. Use
 *  this instead of oocsi_variable_get_string() when another thread (the loop)
 *  may update the variable meanwhile. */
OOCSI_API char *oocsi_variable_dup_string(const oocsi_variable *v);
/** Booleans as a Java OOCSIBoolean on the same channel and key sends and
 *  reads them: true/false on the wire (incoming numbers count as non-zero). */
OOCSI_API int oocsi_variable_set_bool(oocsi_variable *v, int value);
OOCSI_API int oocsi_variable_get_bool(const oocsi_variable *v);
/** Called after the value changed: remote = 1 for an update from a peer (on
 *  the loop thread), 0 for a local set (on the setter's thread). Read the
 *  value with oocsi_variable_get() inside; fn NULL removes it. */
typedef void (*oocsi_variable_change_fn)(oocsi_variable *v, int remote, void *user);
OOCSI_API int oocsi_variable_on_change(oocsi_variable *v, oocsi_variable_change_fn fn, void *user);
/** A reference value, as the Java client's OOCSIVariable(…, reference,
 *  timeout): get() returns it before any value, and again when no remote
 *  update came for timeout_ms (a local set does not count; timeout_ms < 0:
 *  only before the first value). */
OOCSI_API int oocsi_variable_reference(oocsi_variable *v, double reference, int timeout_ms);
/** Incoming rate limit: at most max_updates remote updates per per_ms (the
 *  rest are ignored); 0 removes the limit. */
OOCSI_API int oocsi_variable_limit_rate(oocsi_variable *v, int max_updates, int per_ms);
/** on = 1: a local set whose resulting value equals the current one sends
 *  nothing. */
OOCSI_API int oocsi_variable_send_on_change(oocsi_variable *v, int on);
/** Publish to out_channel instead of the variable's channel (which it still
 *  listens on), as separate in and out channels; NULL: back to the channel. */
OOCSI_API int oocsi_variable_out_channel(oocsi_variable *v, const char *out_channel);
/** Where the Java and Python clients' variables differ, which one this
 *  variable follows. OOCSI_VARIABLE_PYTHON (the default): a set publishes
 *  the value as given, {key: value}, and every receiver applies its own
 *  bounds; the sigma rule is skipped for a value min/max clamped.
 *  OOCSI_VARIABLE_JAVA: a set publishes the filtered value (clamped, then
 *  the sigma rule; never the smoothed mean) plus "handle": "<client
 *  handle>_<n>" (n numbers the variables of the process), as a Java
 *  OOCSIVariable does; the sigma rule also applies to a clamped value, once
 *  the smoothing window holds values. Either mode reads only key from
 *  incoming messages, so both interoperate with both clients. Any other
 *  mode: OOCSI_ERR_INVAL. */
typedef enum { OOCSI_VARIABLE_PYTHON = 0, OOCSI_VARIABLE_JAVA = 1 } oocsi_variable_mode;
OOCSI_API int oocsi_variable_set_mode(oocsi_variable *v, oocsi_variable_mode mode);
/** Outgoing throttle: at most one publication per period_ms. A set changes
 *  the value at once (and runs the change callback), but within the period
 *  its publication is held back; when the period ends the latest held value
 *  is sent (earlier held ones never are) by a timer on the loop thread
 *  (a caller-driven client sends it from its next oocsi_loop() call).
 *  0 (default) removes the throttle and sends a held value at once, as
 *  oocsi_variable_free() does; period_ms < 0: OOCSI_ERR_INVAL. */
OOCSI_API int oocsi_variable_throttle(oocsi_variable *v, int period_ms);

/* ------------------------------------------------ heyOOCSI device descriptions */

/** name NULL: the client's handle. Free with oocsi_device_free(). c may be
 *  NULL when a name is given: the description can then be built and printed
 *  with oocsi_device_to_json() but not submitted (OOCSI_ERR_INVAL); its
 *  device_id is the name. NULL for both: NULL. */
OOCSI_API oocsi_device *oocsi_device_new(oocsi_client *c, const char *name);
OOCSI_API int oocsi_device_add_property(oocsi_device *d, const char *key, const char *value);
OOCSI_API int oocsi_device_add_location(oocsi_device *d, const char *name, double lat, double lon);
/** icon may be NULL (sent as null); unit may be NULL (""). */
OOCSI_API int oocsi_device_add_sensor(oocsi_device *d, const char *name, const char *channel, const char *sensor_type,
                                      const char *unit, double default_value, const char *icon);
OOCSI_API int oocsi_device_add_number(oocsi_device *d, const char *name, const char *channel, double min, double max,
                                      const char *unit, double default_value, const char *icon);
OOCSI_API int oocsi_device_add_binary_sensor(oocsi_device *d, const char *name, const char *channel,
                                             const char *sensor_type, int default_state, const char *icon);
OOCSI_API int oocsi_device_add_switch(oocsi_device *d, const char *name, const char *channel, int default_state,
                                      const char *icon);
/** A switch whose sensor_type is "outlet" (Home Assistant shows a plug). */
OOCSI_API int oocsi_device_add_outlet(oocsi_device *d, const char *name, const char *channel, int default_state,
                                      const char *icon);
/** led_type one of RGB RGBW RGBWW CCT DIMMABLE ONOFF; spectrum one of CCT
 *  WHITE RGB; anything else is OOCSI_ERR_INVAL. A CCT light gets the mired
 *  range 153..500 as "min_max"; other lights have no "min_max". */
OOCSI_API int oocsi_device_add_light(oocsi_device *d, const char *name, const char *channel, const char *led_type,
                                     const char *spectrum, int default_state, int default_brightness, const char *icon);
/** As oocsi_device_add_light(), with several spectra ("RGB,CCT": sent as an
 *  array) and the mired range Home Assistant offers for CCT (min_max, used
 *  when CCT is among the spectra; 0 < mired_min < mired_max). */
OOCSI_API int oocsi_device_add_light_spectra(oocsi_device *d, const char *name, const char *channel,
                                             const char *led_type, const char *spectra, int mired_min, int mired_max,
                                             int default_state, int default_brightness, const char *icon);
/** Sends the description to channel "heyOOCSI!", and from then on answers
 *  Home Assistant's {"homeassistant": "on"} on "heyOOCSI?" by sending it
 *  again (Home Assistant asks when it starts). */
OOCSI_API int oocsi_device_submit(oocsi_device *d);
/** A command for one of d's components (Home Assistant's shapes: switch and
 *  binary sensor {"state": bool}; number {"value": v}; light {"state": true,
 *  "brightness": n, "colorrgb": [r,g,b], "color_temp": m, ...} or {"state":
 *  false}; the Java form adds "clientHandle": component). Runs on the loop
 *  thread; command is borrowed. The description already holds the new values
 *  (a later submit shows them). */
typedef void (*oocsi_device_command_fn)(oocsi_device *d, const char *component, const cJSON *command, void *user);
/** Listens on every component's channel (also of components added later) for
 *  commands: a message there without a "component" key (that key marks a
 *  device's own update). */
OOCSI_API int oocsi_device_on_command(oocsi_device *d, oocsi_device_command_fn fn, void *user);
/** Publishes a component's new value the way the Java and ESP clients do:
 *  {"value": v, "component": name} to the component's channel; the
 *  description keeps it. OOCSI_ERR_NOT_FOUND for an unknown component. */
OOCSI_API int oocsi_device_set_value(oocsi_device *d, const char *component, double value);
/** As oocsi_device_set_value(), {"state": on, "component": name}. */
OOCSI_API int oocsi_device_set_state(oocsi_device *d, const char *component, int on);
/** As oocsi_device_set_value(), any keys: json_object such as
 *  "{\"brightness\": 120, \"colorrgb\": [255, 0, 0]}". */
OOCSI_API int oocsi_device_publish(oocsi_device *d, const char *component, const char *json_object);
/** The description as JSON text (what submit sends); free with oocsi_free(). */
OOCSI_API char *oocsi_device_to_json(const oocsi_device *d);
OOCSI_API void oocsi_device_free(oocsi_device *d);

#ifdef __cplusplus
}
#endif

#endif
