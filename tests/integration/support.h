/*
 * Shared helpers of the integration tests: an in-process hub per test
 * program, tracked clients (closed by the per-test teardown even when an
 * assertion fails), bounded event-driven waits, thread-safe message and state
 * recorders, a log capture and a raw-socket OOCSI peer.
 *
 * Waiting: it_wait_until() re-evaluates a condition whenever a recorder (or a
 * test's own handler calling it_notify()) signals, and drives every tracked
 * caller-driven client with oocsi_loop() meanwhile. It never sleeps blindly:
 * it returns as soon as the condition holds, or 0 after the timeout.
 */
#ifndef OOCSI_IT_SUPPORT_H
#define OOCSI_IT_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "hub.h"
#include "oocsi/oocsi.h"

/* How much slower than usual this run may be: 1, or 6 under valgrind (a TLS
 * handshake there takes seconds on a busy machine), or OOCSI_IT_SLOWDOWN.
 * Every bound below scales with it; only failing runs wait that long. */
int it_slowdown(void);

/* Generous bound for anything that normally takes milliseconds. */
#define IT_TIMEOUT (5000 * it_slowdown())

/* No test measures speed: a slow machine (valgrind, sanitizers, CPU hogs) must
 * never fail one. Where a test has to tell "returned promptly" from "waited
 * for a timeout", it sets that timeout to IT_LONG_WAIT_MS and checks the call
 * returned before IT_HANG_MS, far beyond any slowness: only a wait for the
 * long timeout (or a hang) reaches it. Lower bounds ("did not return before
 * its timeout") are safe and stay exact. */
#define IT_HANG_MS (30000 * it_slowdown())
#define IT_LONG_WAIT_MS (120000 * it_slowdown())

/* ------------------------------------------------------------------ hub */

/** The hub of this test program and the URL of its endpoint for the transport
 *  under test ("tcp://127.0.0.1:PORT", "ws://127.0.0.1:PORT/ws", ...). */
extern oocsi_hub *it_hub;
extern char it_url[64];
/** The transport under test: OOCSI_IT_TRANSPORT (tcp, tls, ws or wss;
 *  default tcp). it_url and it_options() use it; raw peers stay on tcp. */
const char *it_transport_name(void);
/** 1 over ws/wss (the oocsi-web protocol: no queries, no passwords). */
int it_transport_is_web(void);
/** The test CA (tls/wss builds), made on first use; NULL without TLS. */
const char *it_ca_file(void);
/** 1 over tls/wss (the client verifies the hub's certificate). */
int it_transport_is_tls(void);
/** Sets the test CA on o when the transport under test uses TLS; no-op
 *  otherwise. For tests that build their options by hand. */
void it_options_trust(oocsi_options *o);
/** The port of hub h that the transport under test connects to. */
int it_hub_port_in_use(const oocsi_hub *h);
/** Writes the URL of a loopback port for the transport under test:
 *  "<scheme>://127.0.0.1:PORT" (plus "/ws" for ws/wss). */
void it_url_for_port(char *url, size_t size, int port);
/** 1 if the endpoint URL ep uses the scheme of the transport under test. */
int it_endpoint_has_scheme(const char *ep);

/** The longest a client with oocsi_options_set_keepalive(idle_ms, timeout_ms)
 *  may take to notice a stalled server, per transport. tcp/tls: the OOCSI
 *  ping keep-alive, within IT_TIMEOUT. ws/wss: the WebSocket ping/pong of
 *  libwebsockets, which counts whole seconds: idle and timeout rounded up,
 *  plus 2 s. */
int it_stall_bound_ms(int idle_ms, int timeout_ms);

/* ---------------------------------------------------- server under test */

/* OOCSI_IT_SERVER=java (tcp only) runs a program against the reference Java
 * server (OOCSI_REFERENCE_DIR/run-java-server, a child process on a free
 * loopback port, one per program) instead of the hub: it_group_setup()
 * starts it and points it_url at it, it_hub stays NULL. When Java or the
 * reference folder is missing the program prints "SKIP: why" and exits 77
 * (ctest SKIP_RETURN_CODE). support_java.c. */

/** Bound for a JVM to start and welcome a client (busy machine). */
#define IT_JAVA_START_TIMEOUT (60000 * it_slowdown())
/** 1 when OOCSI_IT_SERVER=java. */
int it_server_is_java(void);
/** The plain tcp port of the server under test (for raw peers). */
int it_server_port(void);
/** The port of the server under test that the transport under test uses
 *  (it_hub_port_in_use(it_hub) with the hub). */
int it_server_port_in_use(void);
/** The Java server keeps at most 21 lines waiting for one client and drops
 *  the oldest beyond that (tests/interop/README.md): a test that sends a
 *  burst to one receiver waits for delivery after every IT_JAVA_WINDOW
 *  messages there (a few lines spare for pongs). it_burst_window() is that
 *  window in java mode, 0 (no pause) with the hub. */
#define IT_JAVA_WINDOW 16
int it_burst_window(void);
/** Stalls (stalled 1) or resumes (0) the server: the hub stops reading
 *  and writing handle's connection (oocsi_hub_stall_client); the Java
 *  server process is stopped as a whole (SIGSTOP/SIGCONT: every client
 *  stalls). 0/-1. */
int it_server_stall(const char *handle, int stalled);
/** In java mode: prints "SKIP: needs the hub's <facility>" and skips
 *  the calling test. No-op with the hub. */
void it_require_hub(const char *facility);
/** Why the Java server cannot run here, or NULL. */
const char *it_java_skip_reason(void);
/** Starts the Java server on a free port with extra options (NULL-terminated,
 *  may be NULL), sets it_url to its tcp endpoint and waits (bounded by
 *  IT_JAVA_START_TIMEOUT) until it welcomes a client. Its output goes to
 *  <program>.java-server.log next to the program. 0, 1 when it cannot run
 *  (it_java_skip_reason()), -1 when it did not start (log shown). */
int it_java_start(const char *const *server_args);
/** Stops it (SIGTERM, bounded, then SIGKILL) and closes the observer client
 *  of the waits. Idempotent. */
void it_java_stop(void);
/** Stops the server process only (SIGTERM, then SIGKILL): every client sees
 *  its connection drop; it_java_restart() starts it again. */
void it_java_kill(void);
/** Starts it again (killing it first if it runs) on the same port with the
 *  same options, waiting for the welcome and for the observer client to be
 *  back. 0/-1. */
int it_java_restart(void);
/** Its port, and whether its process is running. */
int it_java_port(void);
int it_java_running(void);

/** Starts it_hub (ephemeral port) with o, or the defaults when o is NULL. 0/-1. */
int it_hub_start(const oocsi_hub_options *o);
void it_hub_free(void);
/** Starts an extra hub (freed by the caller with oocsi_hub_free) and writes its
 *  URL for the transport under test (options need it_options_trust()). */
oocsi_hub *it_hub_start_extra(const oocsi_hub_options *o, char *url, size_t url_size);

/** cmocka group setup/teardown with a default hub. */
int it_group_setup(void **state);
int it_group_teardown(void **state);
/** Per-test setup/teardown: teardown frees every tracked resource. */
int it_test_setup(void **state);
int it_test_teardown(void **state);
#define IT_TEST(f) cmocka_unit_test_setup_teardown(f, it_test_setup, it_test_teardown)

/* --------------------------------------------------------------- basics */

/** Monotonic milliseconds. */
int64_t it_now_ms(void);
/** Wall-clock milliseconds since the epoch. */
int64_t it_wall_ms(void);
/** Writes a handle/channel name unique to this process and call: "<prefix>_<pid>_<n>". */
void it_unique(char *buf, size_t size, const char *prefix);
/** A port on 127.0.0.1 with nothing listening on it (bound once, then closed). */
int it_free_port(void);
/** A loopback listener that accepts connections (in its backlog) and never
 *  answers: a silent server. Returns the socket (close it when done) and
 *  its port in *port. */
int it_silent_listener(int *port);

/* Assert that two doubles are within eps. */
#define IT_ASSERT_NEAR(a, b, eps)                                                                                      \
    do {                                                                                                               \
        double it_a_ = (a), it_b_ = (b);                                                                               \
        if (!(it_a_ - it_b_ <= (eps) && it_b_ - it_a_ <= (eps)))                                                       \
            fail_msg("%s = %.9g, expected %.9g (+-%g)", #a, it_a_, it_b_, (double)(eps));                              \
    } while (0)

/* -------------------------------------------------------------- clients */

/** New options: handle (may be NULL), endpoint it_url, logger silenced,
 *  connect timeout IT_TIMEOUT, reconnect delay 50..500 ms. */
oocsi_options *it_options(const char *handle);
/** Connects with opts (asserting OOCSI_OK), frees opts, tracks the client. */
oocsi_client *it_connect_opts(oocsi_options *opts);
/** it_connect_opts(it_options(handle)): a caller-driven client. */
oocsi_client *it_connect(const char *handle);
/** Same, and starts its background loop. */
oocsi_client *it_connect_bg(const char *handle);
/** Tracks a client connected by the test itself. */
oocsi_client *it_track(oocsi_client *c);
/** oocsi_loop_start() (asserted) and marks the client as not to be driven by waits. */
void it_loop_start(oocsi_client *c);
/** oocsi_loop_stop() (asserted) and marks it as caller-driven again. */
void it_loop_stop(oocsi_client *c);
/** Whether it_wait_until() drives this caller-driven client (default 1). */
void it_set_pumped(oocsi_client *c, int pumped);
/** Untracks and closes (NULL-safe). */
void it_close(oocsi_client *c);

/* ---------------------------------------------------------------- waits */

typedef int (*it_cond_fn)(void *ctx);
/** Wakes every it_wait_until() to re-check its condition. Any thread. */
void it_notify(void);
/** 1 as soon as cond(ctx) holds, 0 after timeout_ms. Drives tracked
 *  caller-driven clients meanwhile. */
int it_wait_until(it_cond_fn cond, void *ctx, int timeout_ms);
/** oocsi_hub_wait_subscribed / oocsi_hub_wait_client that drive the tracked
 *  caller-driven clients while they wait (a caller-driven client's frames
 *  may leave only inside oocsi_loop, e.g. over ws/wss). 1/0. With h NULL in
 *  java mode (it_hub is NULL there) they ask the Java server instead, with
 *  its `channels <channel>` / `clients` queries in a loop (each round waits
 *  for the answer); timeout 0 asks once. */
int it_wait_subscribed(oocsi_hub *h, const char *handle, const char *channel, int timeout_ms);
int it_wait_hub_client(oocsi_hub *h, const char *handle, int timeout_ms);
/** oocsi_hub_wait_client_gone, or in java mode (h NULL) the clients query. */
int it_wait_client_gone(oocsi_hub *h, const char *handle, int timeout_ms);
/** Drives tracked caller-driven clients (or just waits) for ms milliseconds.
 *  Only for observation windows ("nothing happens for a while"). */
void it_pump_for(int ms);

/* ------------------------------------------------------- child processes */

/** Waits (poll on a pidfd: woken by the exit itself) up to timeout_ms for
 *  child pid to exit and reaps it. 1 with *status (may be NULL) as from
 *  waitpid, or 0 on timeout (the child is left running). */
int it_wait_child(int pid, int timeout_ms, int *status);
/** SIGTERM, it_wait_child(timeout_ms), then SIGKILL and reap if it had not
 *  exited. 1 if it exited on SIGTERM (status in *status), 0 if killed. */
int it_stop_child(int pid, int timeout_ms, int *status);

/* ---------------------------------------------------- spawned programs */

typedef struct it_buf {
    char *p;
    size_t len, cap;
    int fd; /* -1 after EOF */
} it_buf;

typedef struct it_proc {
    pid_t pid;
    int status; /* exit code, 128 + signal, or -1 while running */
    it_buf out, err;
} it_proc;

/** Starts path with args (NULL-terminated, without the program name) and
 *  stdin_text on its stdin (NULL: empty). Freed by it_proc_free_all(). */
it_proc *it_proc_startv(const char *path, const char *stdin_text, const char *const *args);
/** Number of '\n' in s. */
int it_count_lines(const char *s);
/** The text read so far (never NULL). */
const char *it_buf_text(const it_buf *b);
/** Waits until stdout (which 1) or stderr (2) contains needle. 1/0. */
int it_proc_wait_text(it_proc *p, int which, const char *needle, int timeout_ms);
/** The port after the last ':' of the first stdout line that contains marker
 *  (a server announcing "listening on ws://127.0.0.1:PORT/ws"), waiting for
 *  it up to timeout_ms; fails the test, showing the output, otherwise. */
int it_proc_port_after(it_proc *p, const char *marker, int timeout_ms);
/** 1 if an executable called name is on PATH. */
int it_have_program(const char *name);
/** Waits until stdout holds at least lines complete lines. 1/0. */
int it_proc_wait_lines(it_proc *p, int lines, int timeout_ms);
/** Reads all output until the child exits; its exit code (128 + signal when
 *  killed). Fails the test if it does not exit within timeout_ms. */
int it_proc_wait_exit(it_proc *p, int timeout_ms);
/** Frees a finished (or kills a running) child now. */
void it_proc_release(it_proc *p);
/** Keeps p past the test's teardown (free it with it_proc_release). */
void it_proc_keep(it_proc *p);
/** Kills and frees every child still tracked (test teardown). */
void it_proc_free_all(void);

/* ------------------------------------------------------ headless Chromium */

/** Chromium's path ($CHROMIUM, else the usual places), or NULL. */
const char *it_find_chromium(void);
/** Starts exe headless on url with the profile folder profile (its own). */
pid_t it_browser_start(const char *exe, const char *profile, const char *url);
/** Stops it (bounded) and removes the profile folder (NULL: keep). */
void it_browser_stop(pid_t pid, const char *profile);

/* --------------------------------------------------------- message inbox */

typedef struct it_msg {
    char *sender;
    char *recipient;
    int64_t timestamp;
    char *json;  /* oocsi_message_data_json() */
    cJSON *data; /* parsed json */
} it_msg;

typedef struct it_inbox it_inbox;
/** A thread-safe message recorder (freed by the test teardown). */
it_inbox *it_inbox_new(void);
/** oocsi_handler recording into the it_inbox given as user. */
void it_inbox_handler(oocsi_client *c, const oocsi_message *msg, void *user);
int it_inbox_count(it_inbox *in);
/** The i-th message (valid until the test teardown). */
const it_msg *it_inbox_at(it_inbox *in, int i);
/** Waits until at least count messages arrived. 1/0. */
int it_inbox_wait(it_inbox *in, int count, int timeout_ms);
/** Waits for a message whose data has key == string value; returns its index or -1. */
int it_inbox_wait_str(it_inbox *in, const char *key, const char *value, int timeout_ms);

/* ---------------------------------------------------------- state events */

typedef struct it_states it_states;
it_states *it_states_new(void);
/** oocsi_state_fn recording into the it_states given as user (also the
 *  endpoint at each CONNECTED). */
void it_state_handler(oocsi_client *c, oocsi_state state, int err, void *user);
int it_states_count(it_states *s);
/** State of event i; *err (may be NULL) gets its error. */
oocsi_state it_states_at(it_states *s, int i, int *err);
/** Endpoint recorded at event i (CONNECTED events only), else NULL. */
const char *it_states_endpoint(it_states *s, int i);
/** Waits for the CONNECTED event of the first welcome (index 0; asserted) and
 *  returns 1, the index of the next event. */
int it_states_settle(it_states *s);
/** Waits for an event with state st at index >= from; its index or -1. */
int it_states_wait_for(it_states *s, int from, oocsi_state st, int timeout_ms);

/* ---------------------------------------------------------------- logger */

typedef struct it_log it_log;
it_log *it_log_new(void);
/** oocsi_log_fn recording into the it_log given as user. */
void it_log_fn(oocsi_log_level level, const char *msg, void *user);
/** 1 if a recorded line at >= min_level contains needle. */
int it_log_contains(it_log *l, oocsi_log_level min_level, const char *needle);
int it_log_count(it_log *l, oocsi_log_level min_level);

/* ---------------------------------------------------------- raw peer */

/** A hand-written OOCSI JSON client on a plain socket, for checking the wire. */
typedef struct it_raw it_raw;
/** Connects to port on 127.0.0.1, says NAME(JSON) and waits for the welcome.
 *  NULL on failure. Tracked (closed by the teardown). */
it_raw *it_raw_connect(int port, const char *handle);
/** Sends one line (LF appended). 0/-1. */
int it_raw_send(it_raw *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/** Next line without LF (malloc'd, free()), NULL on timeout or EOF. */
char *it_raw_line(it_raw *r, int timeout_ms);
/** Next message line parsed (cJSON_Delete()); answers "ping" with "." and skips
 *  other non-JSON lines. NULL on timeout or EOF. */
cJSON *it_raw_next_json(it_raw *r, int timeout_ms);
/** subscribe + ping barrier. 0/-1. */
int it_raw_subscribe(it_raw *r, const char *channel);
void it_raw_close(it_raw *r);

/* ----------------------------------------------------------- JSON help */

/** Parses text or fails the test. */
cJSON *it_json(const char *text);
/** 1 if the two JSON values are equal (objects: same keys in any order). */
int it_json_equal(const cJSON *a, const cJSON *b);
/** Asserts that data equals the JSON text expected. */
#define IT_ASSERT_JSON(data, expected_text)                                                                            \
    do {                                                                                                               \
        cJSON *it_e_ = it_json(expected_text);                                                                         \
        char *it_s_ = cJSON_PrintUnformatted(data);                                                                    \
        int it_eq_ = it_json_equal((data), it_e_);                                                                     \
        if (!it_eq_)                                                                                                   \
            fail_msg("JSON %s, expected %s", it_s_ ? it_s_ : "(null)", expected_text);                                 \
        cJSON_free(it_s_);                                                                                             \
        cJSON_Delete(it_e_);                                                                                           \
    } while (0)

#endif
