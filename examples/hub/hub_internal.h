/*
 * Internal interfaces between the parts of the hub (not installed, not for
 * users): hub.c (state, routing, the poll loop and the line protocol over TCP
 * and TLS), hub_tls.c (OpenSSL for the TLS line endpoint) and hub_ws.c
 * (libwebsockets for the /ws endpoint, on its own service thread).
 */
#ifndef OOCSI_HUB_INTERNAL_H
#define OOCSI_HUB_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "hub.h"

struct client;

/* ------------------------------------------------------------------ TLS (hub_tls.c) */

#ifdef HUB_HAVE_TLS
typedef struct hub_tls_ctx hub_tls_ctx;
typedef struct hub_tls_conn hub_tls_conn;

/** A server context (TLS >= 1.2) with cert_file/key_file (PEM). NULL on
 *  failure, the reason printed to stderr. */
hub_tls_ctx *hub_tls_ctx_new(const char *cert_file, const char *key_file);
void hub_tls_ctx_free(hub_tls_ctx *t);
/** A server-side connection on the non-blocking socket fd (not owned). */
hub_tls_conn *hub_tls_conn_new(hub_tls_ctx *t, int fd);
void hub_tls_conn_free(hub_tls_conn *c);
/** Like recv()/send(): > 0 bytes; 0 (read only) end of stream; -1 with errno
 *  EAGAIN (would block: see hub_tls_events) or another errno (failure, see
 *  hub_tls_error). Both drive the handshake first. */
ssize_t hub_tls_read(hub_tls_conn *c, void *buf, size_t n);
ssize_t hub_tls_write(hub_tls_conn *c, const void *buf, size_t n);
/** Poll events the connection needs, given whether output is pending. */
short hub_tls_events(const hub_tls_conn *c, int have_output);
/** 1 if decrypted bytes are buffered (readable without the socket). */
int hub_tls_pending(const hub_tls_conn *c);
/** Sends close_notify (best effort, non-blocking). */
void hub_tls_close_notify(hub_tls_conn *c);
/** The reason of the last failure (static or connection-owned text). */
const char *hub_tls_error(const hub_tls_conn *c);
#endif

/* ------------------------------------------------------------------ WebSocket (hub_ws.c) */

/* Built in every profile (hub_guard.c, hub_limits.c); used by hub_ws.c. */
/** 1 if a WebSocket upgrade with this Origin header (NULL: none) and Host
 *  header (NULL: none) may proceed (oocsi_hub_options.allow_origins).
 *  hub_guard.c; no hub state. */
int hub_origin_allowed(const char *origin, const char *host, const char *allow_origins);
/** Before a WebSocket upgrade from the address addr: 0 to accept it, -1 if
 *  a connection limit refuses it (logged). */
int ws_admit(oocsi_hub *h, const char *addr);

/* Headroom before every WebSocket frame the hub queues, where libwebsockets
 * writes the frame header (at least LWS_PRE: checked in hub_ws.c). Defined in
 * every build: the output room sizes lines by it, with or without WebSockets. */
#define HUB_WS_PRE 32

#ifdef HUB_HAVE_WS
typedef struct hub_ws hub_ws;

/* How long the hub waits at shutdown for browsers to answer its close frame. */
#define HUB_WS_GOING_AWAY_MS 1000

typedef struct hub_ws_config {
    const char *bind_address;
    int ws_port;  /* -1: off; 0: ephemeral; on success the bound port */
    int wss_port; /* same, over TLS with cert_file/key_file */
    const char *cert_file;
    const char *key_file;
    const char *www_dir;       /* NULL: no static files */
    const char *allow_origins; /* oocsi_hub_options.allow_origins */
    size_t max_frame;          /* longest accepted incoming message */
    int verbose;
} hub_ws_config;

/** Creates the listeners and starts the service thread. Callable with or
 *  without the hub mutex. NULL on failure (reason on stderr). */
hub_ws *hub_ws_start(oocsi_hub *h, hub_ws_config *cfg);
/** Wakes the service thread to pick up queued frames, close and stall
 *  requests. Hub mutex held. */
void hub_ws_notify(hub_ws *w);
/** The hub is shutting down: sends every connection a close frame with
 *  status 1001 (going away) and waits up to timeout_ms for the close
 *  handshakes. The hub mutex must NOT be held. NULL-safe. */
void hub_ws_go_away(hub_ws *w, int timeout_ms);
/** Closes every connection and the listeners, joins the thread, frees.
 *  The hub mutex must NOT be held (connection callbacks take it). NULL-safe. */
void hub_ws_stop(hub_ws *w);

/* Called by hub_ws.c on its thread, all with the hub mutex held
 * (hub_lock/hub_unlock), except hub_lock/hub_unlock themselves. */
void hub_lock(oocsi_hub *h);
void hub_unlock(oocsi_hub *h);
/** A new WebSocket connection: creates its client (conn is the service
 *  side's opaque handle, given back by hub_ws_each). */
struct client *hub_ws_attach(oocsi_hub *h, void *conn, const char *peer);
/** One complete text message from the client (text is writable, len bytes,
 *  NUL at text[len]). */
void hub_ws_input(oocsi_hub *h, struct client *c, char *text, size_t len);
/** The connection is gone: unregisters (if still registered) and frees c. */
void hub_ws_detach(oocsi_hub *h, struct client *c);

enum {
    HUB_WS_WRITE = 1, /* frames are ready to write */
    HUB_WS_CLOSE = 2, /* close the connection now */
    HUB_WS_STALL = 4  /* stalled: do not read */
};
/** The HUB_WS_* needs of a client. */
unsigned hub_ws_want(const struct client *c);
/** Waits (hub mutex held) until no WebSocket client is left or timeout_ms
 *  passed. */
void hub_ws_wait_none(oocsi_hub *h, int timeout_ms);
/** Calls fn for every WebSocket client with its conn and hub_ws_want(). */
void hub_ws_each(oocsi_hub *h, void (*fn)(void *conn, unsigned want, void *ctx), void *ctx);
/** Takes the next frame: 1 with *buf (*len bytes, with HUB_WS_PRE writable
 *  bytes before them for the frame header) and *ref, a reference to the
 *  shared line holding them, given back with hub_ws_frame_done() (hub mutex
 *  held) once written; 0 if there is nothing to write now; -1 if the
 *  connection must be closed abruptly (dropped), -2 if it must be closed
 *  normally (all frames written after an error or a stale timeout). */
int hub_ws_next_frame(oocsi_hub *h, struct client *c, unsigned char **buf, size_t *len, void **ref);
void hub_ws_frame_done(oocsi_hub *h, void *ref);
#endif

/* ------------------------------------------------------------------ fuzzing (tests/fuzz) */

#ifdef HUB_FUZZING
/** Runs data as the input of one in-memory hub, without sockets or threads,
 *  then frees everything. Lines (split on LF) go to the first TCP client;
 *  a line starting with byte 1 to a second TCP client, with byte 2 to a
 *  WebSocket client (a TCP one without HUB_HAVE_WS); the byte is removed.
 *  A missing client connects first. A line that is exactly byte 5 lets
 *  6 s pass (timers), byte 7 toggles reference_drop_queue, byte 6 (after
 *  the selector) drops that connection. Output is discarded. Returns 0. */
int hub_fuzz_lines(const char *data, size_t len);
#endif

#endif
