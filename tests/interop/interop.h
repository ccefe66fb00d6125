/*
 * Helpers of the interoperability tests: the reference Java OOCSI server
 * started as a child process on a free loopback port (one per test program),
 * and peers on the reference Python and Java clients that print what they
 * see as JSON lines on stdout.
 *
 * The reference peers come from OOCSI_REFERENCE_DIR (shared/reference next
 * to the source tree). When Java or that folder is missing, every test says
 * "SKIP: ..." on stderr and is skipped.
 *
 * The clients of the integration helpers (it_connect, it_options, ...) talk
 * to the Java server: it_url is set to its endpoint.
 */
#ifndef OOCSI_INTEROP_H
#define OOCSI_INTEROP_H

#include "support.h"

/* A JVM starts slowly on a busy machine: the bound for a Java or Python peer
 * to be ready (the server's own is IT_JAVA_START_TIMEOUT, support.h). */
#define IO_START_TIMEOUT 30000

/* ------------------------------------------------------------ the server */

/** Starts the Java server (group setup; it_java_start() of the integration
 *  helpers, which also sets it_url): a free port, extra server options
 *  (NULL-terminated, e.g. "-users", "alice:pw", NULL). Records why the tests
 *  must be skipped instead when Java or the reference folder is missing.
 *  Fails (returns -1) when the server does not welcome a client in time. */
int io_server_start(const char *const *server_args);
/** cmocka group setup/teardown: io_server_start() without options / stop. */
int io_group_setup(void **state);
int io_group_teardown(void **state);
/** Stops the server (SIGTERM, bounded, then SIGKILL). Idempotent. */
void io_server_stop(void);
/** Starts it again on the same port with the same options, waiting for the
 *  welcome like io_server_start(). */
void io_server_restart(void);
/** The server's loopback port. */
int io_server_port(void);
/** Skips the calling test (printing "SKIP: why") when the reference server
 *  could not be run; call it first in every test. */
void io_require_server(void);
/** Why the peers cannot run (NULL when they can). */
const char *io_skip_reason(void);

/* --------------------------------------------------------------- clients */

/** it_connect_bg() with a handle unique to this run: "<prefix>_<pid>_<n>". */
oocsi_client *io_client(const char *prefix);
/** Connects a throw-away client with handle; its result (the client is closed). */
int io_try_handle(const char *handle);
/** Sends the JSON object text and asserts OOCSI_OK. */
void io_send(oocsi_client *c, const char *recipient, const char *json);
/** The i-th message of in, asserting it came from sender to recipient. */
const it_msg *io_msg(it_inbox *in, int i, const char *sender, const char *recipient);
/** Asserts that data[key] is the number expected / the string expected. */
void io_assert_num(const cJSON *data, const char *key, double expected);
void io_assert_str(const cJSON *data, const char *key, const char *expected);
/** 1 if list (as returned by the queries) holds name as a whole entry. */
int io_list_has(const char *list, const char *name);

/* The responder "mul": {"x": a, "y": b} -> {"product": a * b, "by": handle}. */
void io_mul_responder(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user);

/* ------------------------------------------------------------------ peers */

/** A program on a reference client, printing one JSON object a line. */
typedef struct io_peer {
    it_proc *proc;
    size_t cursor; /* stdout offset already consumed by io_peer_event() */
} io_peer;

/** Looks name up on PATH into buf. 1/0. */
int io_find_program(const char *name, char *buf, size_t size);
/** Starts path with args (NULL-terminated) as a peer. */
void io_peer_start(io_peer *p, const char *path, const char *const *args);
/** The next line (after the previous event taken) whose "event" is event,
 *  parsed (cJSON_Delete()); fails the test, showing the peer's output, when
 *  none comes within timeout_ms. */
cJSON *io_peer_event(io_peer *p, const char *event, int timeout_ms);
/** Waits for the peer's exit code (bounded). */
int io_peer_wait_exit(io_peer *p, int timeout_ms);

/** A peer kept for the whole test program: peer.py on the reference Python
 *  client, or a Java peer (tests/interop/CLASS.java with PeerBase.java,
 *  compiled at test time), started as `PORT HANDLE PREFIX` on first use. */
typedef struct io_ref_peer {
    const char *program; /* "python", or the Java peer's class ("GroupPeer") */
    const char *classes; /* Java: the folder for its classes under the interop
                          * build folder (one per test program: they may compile
                          * at the same time) */
    char prefix[64];     /* "<base>_<pid>_<n>": the peer's channels start with it */
    char handle[96];     /* "<prefix>_<suffix>" */
    char in[96];         /* "<prefix>_in": its commands */
    io_peer p;
    int started;
    char skip[256]; /* why it cannot run (the tool missing) */
} io_ref_peer;

/** Sets the peer up (not started yet): program and classes as above, the
 *  prefix unique to this run from base, the handle "<prefix>_<suffix>". */
void io_ref_peer_init(io_ref_peer *rp, const char *program, const char *classes, const char *base, const char *suffix);
/** The peer, started on first use (waiting, bounded, for its "ready" line
 *  with its handle); skips the calling test, printing "SKIP: why", when the
 *  server or the peer's tools are missing. */
io_peer *io_ref_peer_use(io_ref_peer *rp);
/** Ends the peer's process if it was started (killed if still running). */
void io_ref_peer_release(io_ref_peer *rp);

#endif
