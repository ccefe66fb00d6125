/*
 * The hub: a small OOCSI server for tests, the demo and local development.
 *
 * It speaks the OOCSI line protocol over TCP with the reference server's
 * observable behaviour (codecs/README.md describes the protocol), is lossless under bursts, and offers
 * fault-injection controls for tests. It runs on its own thread; every
 * function here is safe to call from any thread.
 */
#ifndef OOCSI_HUB_H
#define OOCSI_HUB_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oocsi_hub oocsi_hub;

typedef struct oocsi_hub_options {
    const char *bind_address; /* default "127.0.0.1" */
    int port;                 /* 0: an ephemeral port (see oocsi_hub_port) */
    int ping_interval_ms;     /* keep-alive tick; default 5000 */
    int stale_timeout_ms;     /* drop a client silent for this long; default 120000 (a WebSocket client:
                                 sending nothing, whatever it receives; it is pinged meanwhile) */
    const char *users;        /* "-users" list "n1:p1;n2:p2", or NULL */
    int max_clients;          /* 0: unlimited */
    size_t max_line;          /* longest accepted line; default 16 MiB; longer: client dropped */
    int reference_drop_queue; /* 1: reproduce the reference server's 21-line outgoing queue */
    int verbose;              /* 1: log connections and commands to stderr */
    /* More endpoints, all routing into the same clients and channels.
     * -1 (the default): off; 0: an ephemeral port; else that port. */
    int tls_port;          /* the line protocol over TLS */
    int ws_port;           /* WebSocket (oocsi-web protocol) at /ws, plus static files over HTTP */
    int wss_port;          /* the same over TLS */
    const char *cert_file; /* PEM server certificate (chain) for tls/wss */
    const char *key_file;  /* PEM private key for tls/wss */
    const char *www_dir;   /* directory served over HTTP on the ws/wss ports (GET /...); NULL: none */
    /* WebSocket upgrades with an Origin header are refused (HTTP 403) unless
     * its host is localhost, 127.0.0.1, [::1] or the request's Host, or the
     * Origin is in this comma-separated list ("https://example.org,..."; "*":
     * any). Requests without Origin (not from a browser) are accepted. */
    const char *allow_origins;
    /* Budgets (oocsi-hub(1) names the flag of each). 0: the default shown.
     * "Per client" counts by sender handle, also after that client left. */
    int max_delay_s;                  /* longest _DELAY, or _SCHEDULE ahead; default 86400 (1 day) */
    size_t max_delayed;               /* pending delayed messages per client; default 1000 */
    size_t max_delayed_bytes;         /* all pending delayed messages; default 64 MiB */
    size_t max_delayed_client_bytes;  /* those of one client; default 16 MiB */
    int max_retain_s;                 /* longest _RETAIN (longer: shortened); default and most 172800 (2 days) */
    size_t max_retained_bytes;        /* all retained messages; default 64 MiB */
    size_t max_retained_client_bytes; /* those of one client; default 16 MiB */
    int hello_timeout_ms;             /* TCP/TLS: close a connection without a welcome after this; default 10000 */
    int max_conns_per_addr;           /* TCP/TLS connections from one address (loopback too); default 256 */
    int max_pending_hellos;           /* TCP/TLS connections without a welcome yet; default 1024 */
    size_t max_hello_line;            /* longest line before a welcome; default 4096 */
    size_t max_output;                /* output queued to all clients; default 1 GiB; over it the
                                         client with the most pending output is dropped */
    size_t max_memory;                /* input + output + subscriptions + retained + delayed bytes; default 2 GiB */
    size_t max_client_memory;         /* the share of one client (its buffers, subscriptions, and the retained and
                                         delayed messages of its handle); default 256 MiB */
} oocsi_hub_options;

/** Fills *o with the defaults. */
void oocsi_hub_options_init(oocsi_hub_options *o);

/** Creates the hub, binds and starts listening and its thread. NULL on failure
 *  (the reason printed to stderr). opts may be NULL for defaults. */
oocsi_hub *oocsi_hub_start(const oocsi_hub_options *opts);
/** Stops the thread, closes every connection, frees. NULL-safe. */
void oocsi_hub_free(oocsi_hub *h);
/** The TCP port the hub listens on (also after oocsi_hub_stop). */
int oocsi_hub_port(const oocsi_hub *h);
/** The ports of the other endpoints, or -1 when that endpoint is off. */
int oocsi_hub_tls_port(const oocsi_hub *h);
int oocsi_hub_ws_port(const oocsi_hub *h);
int oocsi_hub_wss_port(const oocsi_hub *h);

/* ---- fault injection and inspection (for tests) ---- */

/** Simulates a server going down: closes the listener and every client
 *  connection (no "bye"), forgets all clients, channels, retained and delayed
 *  messages. Returns 0. */
int oocsi_hub_stop(oocsi_hub *h);
/** Listens again on the same port after oocsi_hub_stop(). 0 or -1. */
int oocsi_hub_restart(oocsi_hub *h);
/** Closes one client's connection abruptly (no "bye"), as a network drop
 *  would. 0, or -1 if no such client. */
int oocsi_hub_drop_client(oocsi_hub *h, const char *handle);
/** stall = 1: stop reading from and writing to that client (a half-open
 *  connection); 0: resume. 0, or -1 if no such client. */
int oocsi_hub_stall_client(oocsi_hub *h, const char *handle, int stall);
/** Writes raw bytes to one client as they are (garbage, oversized lines...).
 *  0, or -1 if no such client. */
int oocsi_hub_send_raw(oocsi_hub *h, const char *handle, const char *bytes, size_t len);
/** Waits until a client with that handle is registered (1) or timeout (0). */
int oocsi_hub_wait_client(oocsi_hub *h, const char *handle, int timeout_ms);
/** Waits until no client with that handle is registered (1) or timeout (0). */
int oocsi_hub_wait_client_gone(oocsi_hub *h, const char *handle, int timeout_ms);
/** Waits until handle is subscribed to channel (1) or timeout (0). */
int oocsi_hub_wait_subscribed(oocsi_hub *h, const char *handle, const char *channel, int timeout_ms);
/** Number of registered clients. */
int oocsi_hub_client_count(oocsi_hub *h);
/** Total messages the hub has delivered to clients since start. */
unsigned long long oocsi_hub_delivered(oocsi_hub *h);
/** The hub's accounted memory in bytes (see oocsi_hub_options.max_memory):
 *  what: "input", "output", "subscriptions", "retained", "delayed",
 *  "delayed_count", or "total". 0 for an unknown name. "list_steps": the
 *  elements list removals have passed over or moved so far, in this process
 *  (a complexity probe for tests). */
size_t oocsi_hub_usage(oocsi_hub *h, const char *what);

#ifdef __cplusplus
}
#endif

#endif
