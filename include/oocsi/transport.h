/*
 * liboocsi transports: how the core moves bytes or frames to a server.
 *
 * A transport knows bytes and frames, nothing about OOCSI. The built-in tcp
 * transport (and tls/ws when built) are registered through exactly this
 * vtable; a user registers their own URL scheme with
 * oocsi_register_transport() before connecting.
 *
 * Contract (all calls are made by the core with the client's lock held, from
 * one thread at a time; a transport needs no locking of its own):
 *
 *  open      Start connecting to url without blocking; store per-connection
 *            state in *state. Return OOCSI_OK (connecting or connected) or an
 *            OOCSI_ERR_*. The core then waits on fd()/interest() until
 *            process() reports the connection established.
 *  fd        The pollable descriptor, or -1 if the transport has none (then
 *            it must provide wait()).
 *  interest  OOCSI_WANT_READ | OOCSI_WANT_WRITE for the next poll.
 *  process   Called after poll with the returned events (0 on a timeout).
 *            Returns 1 once the connection is established (and every time
 *            after), 0 while still connecting, or an OOCSI_ERR_*.
 *  read      Stream transports (OOCSI_TRANSPORT_STREAM): up to len bytes.
 *            Framed transports: exactly one whole frame (message) without a
 *            terminator; the core sizes buf by pending_frame() when given,
 *            else by the maximum line length; a larger frame is
 *            OOCSI_ERR_PROTOCOL. Returns > 0 bytes, 0 = nothing available now,
 *            < 0 an OOCSI_ERR_* (OOCSI_ERR_CLOSED for an orderly end).
 *  write     Stream: write up to len bytes, return how many were taken (0 =
 *            would block). Framed: buf is one whole frame (no terminator);
 *            return len when taken whole (the transport may buffer it), 0 when
 *            it cannot take it now. < 0: OOCSI_ERR_*.
 *  close     Release everything (called once per successful open).
 *  wait      Optional: for transports without one pollable fd (e.g. an
 *            event library). Blocks up to timeout_ms for activity, servicing
 *            the transport; returns OOCSI_OK or OOCSI_ERR_*. The core also
 *            waits on its own wake-up descriptor when fd() works; with
 *            wait(), the core calls wake() from other threads instead.
 *  wake      Optional with wait(): makes a blocked wait() return soon. Safe
 *            to call from any thread.
 */
#ifndef OOCSI_TRANSPORT_H
#define OOCSI_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "oocsi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OOCSI_WANT_READ 1
#define OOCSI_WANT_WRITE 2

/* poll()-style events passed to process(). */
#define OOCSI_EV_READABLE 1
#define OOCSI_EV_WRITABLE 2
#define OOCSI_EV_ERROR 4

/* Transport flags. */
#define OOCSI_TRANSPORT_STREAM 0 /* bytes; the core splits lines on LF */
#define OOCSI_TRANSPORT_FRAMED 1 /* one message per read/write */

/** A parsed endpoint URL, as the core hands it to a transport. */
typedef struct oocsi_url {
    const char *url;    /* the URL as given (normalised: with scheme) */
    const char *scheme; /* "tcp", "tls", "ws", "wss", or a custom scheme */
    const char *host;   /* without brackets for IPv6 literals; may be "" for custom schemes */
    int port;           /* the default port of the transport when absent */
    const char *path;   /* "/..." or "" when absent */
} oocsi_url;

/** Settings the core passes to open(). */
typedef struct oocsi_transport_config {
    int connect_timeout_ms; /* the transport may use this for its own deadlines */
    int tls_verify;         /* 1: verify chain and host name */
    const char *tls_ca_file;
    const char *tls_cert_file; /* client certificate (PEM) or NULL */
    const char *tls_key_file;
    size_t max_frame;         /* longest frame/line the client accepts */
    int keepalive_idle_ms;    /* for transports with their own keep-alive (WebSocket ping) */
    int keepalive_timeout_ms; /* ... and when to give up on a silent peer */
    /* Logging into the client's logger. */
    void (*log)(void *log_ctx, oocsi_log_level level, const char *fmt, ...);
    void *log_ctx;
} oocsi_transport_config;

typedef struct oocsi_transport {
    const char *scheme;        /* URL scheme, e.g. "tcp" */
    const char *default_codec; /* codec name, e.g. "line" */
    int default_port;
    unsigned flags;           /* OOCSI_TRANSPORT_STREAM or OOCSI_TRANSPORT_FRAMED */
    const char *default_path; /* e.g. "/ws"; NULL for none */

    int (*open)(void **state, const oocsi_url *url, const oocsi_transport_config *cfg);
    int (*fd)(void *state);
    int (*interest)(void *state);
    int (*process)(void *state, int events);
    ssize_t (*read)(void *state, char *buf, size_t len);
    ssize_t (*write)(void *state, const char *buf, size_t len);
    void (*close)(void *state);
    int (*wait)(void *state, int timeout_ms); /* optional */
    void (*wake)(void *state);                /* optional, with wait */

    /* For framed transports: the size of the next frame waiting in read(), 0 if
     * none. Optional; without it the core reads into a buffer of the maximum
     * line length. */
    size_t (*pending_frame)(void *state);

    /* Optional: how many frames or bytes the transport still holds that it
     * has not handed to the network (e.g. frames waiting for WRITEABLE). The
     * core waits for 0, briefly, before closing a connection on purpose. */
    size_t (*unsent)(void *state);
} oocsi_transport;

/**
 * Registers a transport for its URL scheme, process-wide. The table and its
 * strings must stay valid while any client may use them (typically static).
 * Registering a scheme again replaces the earlier table. Thread-safe.
 * OOCSI_ERR_INVAL for NULL or a table missing a required function.
 */
OOCSI_API int oocsi_register_transport(const oocsi_transport *t);
/** The transport registered for scheme, or NULL. */
OOCSI_API const oocsi_transport *oocsi_find_transport(const char *scheme);

/** The built-in tcp transport (always available). */
OOCSI_API const oocsi_transport *oocsi_transport_tcp(void);
/** The built-in tls transport: available when built with OOCSI_WITH_TLS. */
OOCSI_API const oocsi_transport *oocsi_transport_tls(void);
/** The built-in ws and wss transports (available when built with
 *  OOCSI_WITH_WEBSOCKETS). They have no single pollable fd: oocsi_fd()
 *  returns -1 and the client runs from oocsi_loop() or its thread. */
OOCSI_API const oocsi_transport *oocsi_transport_ws(void);
OOCSI_API const oocsi_transport *oocsi_transport_wss(void);

#ifdef __cplusplus
}
#endif

#endif
