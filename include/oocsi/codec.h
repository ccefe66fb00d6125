/*
 * liboocsi codecs: frame <-> event translation, without I/O.
 *
 * A codec never touches a socket, a clock or a thread. The core hands it one
 * frame at a time (for stream transports: one line without its LF; for
 * framed transports: one message) and gets back one event; to send, the core
 * hands it a command and the codec appends one frame (without terminator) to
 * an oocsi_buf. Codecs are registered by name with oocsi_register_codec();
 * a transport names its default codec.
 *
 * Built in: "line" (the OOCSI TCP line protocol, for tcp and tls) and, when
 * built with WebSockets, "webjson" (the oocsi-web /ws protocol).
 */
#ifndef OOCSI_CODEC_H
#define OOCSI_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A growable byte buffer the core owns; codecs append to it. */
typedef struct oocsi_buf {
    char *data;
    size_t len;
    size_t cap;
} oocsi_buf;

/** Appends n bytes (keeps a NUL after data[len]). OOCSI_OK or OOCSI_ERR_NOMEM. */
OOCSI_API int oocsi_buf_append(oocsi_buf *b, const void *p, size_t n);
/** Appends a NUL-terminated string. */
OOCSI_API int oocsi_buf_append_str(oocsi_buf *b, const char *s);
/** Frees the storage and zeroes the struct. */
OOCSI_API void oocsi_buf_free(oocsi_buf *b);

typedef enum {
    OOCSI_EVENT_NONE = 0, /* nothing to do (an empty line, an ignorable frame) */
    OOCSI_EVENT_WELCOME,  /* handshake accepted; text = the welcomed handle */
    OOCSI_EVENT_REJECTED, /* handshake refused; err = HANDLE_TAKEN/AUTH/PROTOCOL, text = the server's words */
    OOCSI_EVENT_MESSAGE,  /* a message: sender, recipient, timestamp, data */
    OOCSI_EVENT_PING,     /* the server probes us; answer with OOCSI_CMD_PONG */
    OOCSI_EVENT_PONG,     /* the answer to our OOCSI_CMD_PING */
    OOCSI_EVENT_BYE,      /* the server is closing this connection */
    OOCSI_EVENT_TEXT,     /* an unlabelled text line: a query answer; text = the line */
    OOCSI_EVENT_INVALID   /* a frame that could not be understood; skipped, logged at DEBUG */
} oocsi_event_type;

typedef struct oocsi_event {
    oocsi_event_type type;
    int err;           /* REJECTED: why; INVALID: OOCSI_ERR_PROTOCOL */
    char *text;        /* WELCOME/REJECTED/TEXT/INVALID: NUL-terminated, owned by the event */
    char *sender;      /* MESSAGE: owned by the event */
    char *recipient;   /* MESSAGE: owned by the event */
    int64_t timestamp; /* MESSAGE: ms since the epoch, 0 if absent */
    cJSON *data;       /* MESSAGE: a JSON object with only the payload keys, owned by the event */
    /* MESSAGE in its unparsed form (only from a codec's decode_lazy; data is
     * NULL then): json[0..json_len) is the message's whole JSON object text,
     * envelope keys included, accepted by oocsi_json_scan_object() and
     * NUL-terminated; owned by the event. The core parses it only when the
     * application asks for the payload as cJSON. */
    char *json;
    size_t json_len;
    int json_packed; /* 1: sender and recipient point into json's allocation (freed with it) */
    /* 0 promises that no top-level key of json begins with '_' or holds an
     * escape, so the message is no call, call answer or barrier */
    int json_special;
} oocsi_event;

/** Frees what the event owns and zeroes it (NULL-safe). */
OOCSI_API void oocsi_event_clear(oocsi_event *ev);

typedef enum {
    OOCSI_CMD_HELLO = 0,   /* arg = handle (with ":password" if any) */
    OOCSI_CMD_SEND,        /* arg = recipient, payload = compact ASCII JSON object text */
    OOCSI_CMD_SUBSCRIBE,   /* arg = channel */
    OOCSI_CMD_UNSUBSCRIBE, /* arg = channel */
    OOCSI_CMD_PING,
    OOCSI_CMD_PONG,
    OOCSI_CMD_QUIT,
    OOCSI_CMD_CHANNELS,    /* query: channels */
    OOCSI_CMD_SUBSCRIBERS, /* query: subscribers of arg */
    OOCSI_CMD_CLIENTS      /* query: clients */
} oocsi_command_type;

typedef struct oocsi_command {
    oocsi_command_type type;
    const char *arg;
    const char *payload;
    size_t payload_len;
} oocsi_command;

/* Codec capabilities. */
#define OOCSI_CODEC_QUERIES 1      /* channels/clients/subscribers queries exist */
#define OOCSI_CODEC_PING_BARRIER 2 /* a client ping is answered in order (subscribe barrier) */
#define OOCSI_CODEC_QUIT 4         /* an orderly quit command exists */
#define OOCSI_CODEC_PASSWORDS 8    /* name:password handles */

typedef struct oocsi_codec {
    const char *name;
    unsigned caps;
    /** New per-connection state (may return a non-NULL dummy); NULL = out of memory. */
    void *(*create)(void);
    void (*destroy)(void *state);
    /** Back to the state before the handshake (called for every new connection). */
    void (*reset)(void *state);
    /** Decodes one frame (no terminator; frame[len] need not be NUL). Fills *ev
     *  (zeroed by the caller). Returns OOCSI_OK (ev->type may be NONE or
     *  INVALID for a skipped frame) or OOCSI_ERR_NOMEM. */
    int (*decode)(void *state, const char *frame, size_t len, oocsi_event *ev);
    /** Appends one frame (no terminator) for cmd to out. OOCSI_OK,
     *  OOCSI_ERR_UNSUPPORTED (command not in this protocol), OOCSI_ERR_NOMEM. */
    int (*encode)(void *state, const oocsi_command *cmd, oocsi_buf *out);
    /** Optional (NULL: the core uses decode): as decode, but a MESSAGE may
     *  come in its unparsed form (ev->json set, ev->data NULL), so that a
     *  message costs no JSON tree unless the application asks for one. */
    int (*decode_lazy)(void *state, const char *frame, size_t len, oocsi_event *ev);
} oocsi_codec;

/** Registers a codec by name, process-wide (the table must stay valid). */
OOCSI_API int oocsi_register_codec(const oocsi_codec *codec);
/** The codec registered under name, or NULL. */
OOCSI_API const oocsi_codec *oocsi_find_codec(const char *name);
/** The built-in line codec. */
OOCSI_API const oocsi_codec *oocsi_codec_line(void);
/** The built-in oocsi-web /ws codec (frames, no terminator). */
OOCSI_API const oocsi_codec *oocsi_codec_webjson(void);

/**
 * Helpers for codec writers.
 * oocsi_json_ascii: serialises obj compactly with every non-ASCII character
 * escaped as \uXXXX (as the reference server needs). Returns malloc'd text
 * (free with oocsi_free) or NULL (out of memory, or invalid UTF-8 in a string:
 * *err tells which when err is not NULL).
 */
OOCSI_API char *oocsi_json_ascii(const cJSON *obj, size_t *len, int *err);
/** 1 if s[0..len) is valid UTF-8. */
OOCSI_API int oocsi_utf8_valid(const char *s, size_t len);
/** Copy of s[0..len) with invalid UTF-8 replaced by U+FFFD (malloc'd, NUL-terminated). */
OOCSI_API char *oocsi_utf8_sanitize(const char *s, size_t len, size_t *out_len);

/* Flags returned by oocsi_json_scan_object(). */
#define OOCSI_JSON_NON_ASCII 1 /* a string holds characters beyond ASCII (valid UTF-8) */
#define OOCSI_JSON_CONTROL 2   /* a string holds raw control characters (cJSON takes them; the wire escapes them) */
#define OOCSI_JSON_LINEBREAK 4 /* CR or LF between tokens */
/** A top-level member seen by oocsi_json_scan_object(): key[0..key_len) is
 *  the text between its quotes (escapes not decoded, see
 *  oocsi_json_unescape()), value[0..value_len) the text of its value. */
typedef void (*oocsi_json_member_fn)(const char *key, size_t key_len, const char *value, size_t value_len, void *user);
/**
 * Checks without building a tree that s[0..len) is exactly one JSON object
 * (RFC 8259: strict number syntax, escapes and surrogate pairs checked,
 * strings valid UTF-8, no NUL byte, at most 1000 levels deep), with only
 * whitespace around it. Calls fn (may be NULL) for each top-level member in
 * order. Returns the OOCSI_JSON_* flags (>= 0), or OOCSI_ERR_INVAL with
 * *err_at (when not NULL) the offset of the first byte in error.
 */
OOCSI_API int oocsi_json_scan_object(const char *s, size_t len, oocsi_json_member_fn fn, void *user, size_t *err_at);
/** Decodes the text between the quotes of a JSON string literal into out
 *  (room for len + 1 bytes: decoding never lengthens it; out may be raw
 *  itself); NUL-terminates it and returns its length. */
OOCSI_API size_t oocsi_json_unescape(const char *raw, size_t len, char *out);

#ifdef __cplusplus
}
#endif

#endif
