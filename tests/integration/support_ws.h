/*
 * A minimal hand-written WebSocket client for the integration tests: a
 * buffered byte stream over a loopback TCP socket (optionally TLS, set up by
 * the test on ->ssl), the fixed RFC 6455 upgrade request (sample key), masked
 * client frames and unmasked server frames. Every wait is bounded by a
 * deadline (poll()).
 *
 * A peer in strict mode (->strict = 1) asserts that every write succeeds and
 * that server frames are not masked; otherwise writes report -1 and the
 * caller decides (a server may close a connection on purpose).
 */
#ifndef OOCSI_IT_SUPPORT_WS_H
#define OOCSI_IT_SUPPORT_WS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct it_ws_peer {
    int fd;
    void *ssl; /* SSL * of the test, freed by it_ws_peer_close; NULL for plain TCP */
    char *buf;
    size_t len, cap;
    int eof;
    int strict;
} it_ws_peer;

/** Connects to 127.0.0.1:port (send/receive timeouts IT_TIMEOUT; SO_RCVBUF
 *  rcvbuf when > 0). NULL if the connection fails. */
it_ws_peer *it_ws_peer_connect(int port, int rcvbuf);
void it_ws_peer_close(it_ws_peer *p);
/** Writes all of b: 0, or -1 when the server closed the connection meanwhile. */
int it_ws_peer_write(it_ws_peer *p, const void *b, size_t n);
/** Reads more bytes: 1, 0 on timeout, -1 on EOF or error. */
int it_ws_peer_fill(it_ws_peer *p, int64_t deadline);
/** Drops the first n buffered bytes. */
void it_ws_peer_consume(it_ws_peer *p, size_t n);

/** Sends the upgrade request for path (with an Origin header unless origin is
 *  NULL) and checks the 101 with the expected accept key: 0, or -1. */
int it_ws_handshake(it_ws_peer *p, int port, const char *path, const char *origin);
/** Sends one masked frame: 0, or -1 when the write failed. */
int it_ws_send_op(it_ws_peer *p, int opcode, const char *s, size_t n);
/** Next text message (malloc'd), answering pings with pongs. NULL on timeout
 *  (*closed = 0) or when the connection was closed: close frame or EOF
 *  (*closed = 1). */
char *it_ws_recv(it_ws_peer *p, int timeout_ms, int *closed);
/** Reads until the server's close frame, skipping other frames (answering
 *  WebSocket pings): its status code (0 when it carries none), or -1 on EOF
 *  or timeout without a close frame. */
int it_ws_recv_close(it_ws_peer *p, int timeout_ms);
/** The next message is exactly expected (within IT_TIMEOUT). */
void it_ws_expect_frame(it_ws_peer *p, const char *expected);
/** Sends the handle frame and expects the exact welcome frame. */
void it_ws_hello(it_ws_peer *p, const char *handle);
/** Next message frame as JSON, answering "ping" frames with "."; NULL on
 *  timeout; fails on a frame that is not JSON. */
cJSON *it_ws_json_within(it_ws_peer *p, int timeout_ms);

#endif
