/*
 * Internal pure helpers of the core (no I/O, no locks): random numbers,
 * handle rules, backoff, URL parsing, the bounded message queue and the
 * variable arithmetic. Unit-tested directly (tests/unit/).
 */
#ifndef OOCSI_CORE_UTIL_H
#define OOCSI_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/oocsi.h"

/* ---- random numbers (xorshift64*, seeded from the OS) ---- */
typedef struct oocsi__rng {
    uint64_t s;
} oocsi__rng;
void oocsi__rng_seed(oocsi__rng *r);
void oocsi__rng_seed_with(oocsi__rng *r, uint64_t seed);
uint64_t oocsi__rng_next(oocsi__rng *r);

/* ---- handles ---- */
#define OOCSI_HANDLE_MAX 194
/** OOCSI_OK if handle (possibly "name:password", possibly with '#') is
 *  acceptable: 1..194 printable ASCII characters, no whitespace, and a
 *  non-empty name before any ':'. Else OOCSI_ERR_INVAL. */
int oocsi__handle_check(const char *handle);
/** The handle to send: NULL/"" → "OOCSIClient_" + 15 lowercase hex digits;
 *  otherwise a copy with every '#' replaced by a random digit. malloc'd. */
char *oocsi__handle_resolve(const char *requested, oocsi__rng *r);
/** Length of the name part (before the first ':'). */
size_t oocsi__handle_name_len(const char *handle);

/* ---- reconnect backoff ---- */
/** Delay before reconnect attempt number attempt (0 = the first retry):
 *  base = min(max_ms, initial_ms * 2^attempt); result uniformly in
 *  [base/2, base] (equal jitter). */
int oocsi__backoff_ms(int attempt, int initial_ms, int max_ms, oocsi__rng *r);

/* ---- endpoint URLs ---- */
typedef struct oocsi__url {
    char *url;    /* normalised "scheme://host:port/path" */
    char *scheme; /* lower case */
    char *host;   /* IPv6 literals without brackets */
    int port;     /* -1 if absent */
    char *path;   /* "" if absent */
} oocsi__url;
/** Parses "scheme://host[:port][/path]", "host", "host:port", "[v6]:port".
 *  The scheme defaults to "tcp". OOCSI_OK, OOCSI_ERR_INVAL, OOCSI_ERR_NOMEM. */
int oocsi__url_parse(const char *text, oocsi__url *out);
void oocsi__url_free(oocsi__url *u);

/* ---- bounded FIFO of outgoing commands ---- */
typedef struct oocsi__qitem {
    struct oocsi__qitem *next;
    int type;      /* an oocsi_command_type */
    char *arg;     /* recipient or channel (owned) */
    char *payload; /* JSON text (owned) or NULL */
    size_t payload_len;
} oocsi__qitem;

typedef struct oocsi__queue {
    oocsi__qitem *head, *tail;
    size_t count, bytes;         /* bytes = sum of strlen(arg) + payload_len */
    size_t max_count, max_bytes; /* 0 = unbounded */
} oocsi__queue;

/** New item with copies of arg and payload (payload may be NULL). */
oocsi__qitem *oocsi__qitem_new(int type, const char *arg, const char *payload, size_t payload_len);
void oocsi__qitem_free(oocsi__qitem *it);
/** Appends it (taking ownership) or returns OOCSI_ERR_QUEUE_FULL (not taken). */
int oocsi__queue_push(oocsi__queue *q, oocsi__qitem *it);
/** Prepends it regardless of the bounds (used to put back unsent items). */
void oocsi__queue_push_front(oocsi__queue *q, oocsi__qitem *it);
/** Removes and returns the first item, or NULL. */
oocsi__qitem *oocsi__queue_pop(oocsi__queue *q);
void oocsi__queue_clear(oocsi__queue *q);

/* ---- variable arithmetic (semantics of PROTOCOL.md §12.2/§12.4) ---- */
typedef struct oocsi__varmath {
    int has_value;
    double value;
    int has_min, has_max;
    double min, max;
    int window_len; /* 0: not smoothing */
    double sigma;   /* <= 0: none */
    double *window; /* ring of window_len values */
    int count;      /* values in the window */
    int head;       /* next write position */
} oocsi__varmath;

void oocsi__varmath_init(oocsi__varmath *m);
void oocsi__varmath_free(oocsi__varmath *m);
/** Sets the minimum; no value or a smaller one becomes min. */
void oocsi__varmath_set_min(oocsi__varmath *m, double min);
void oocsi__varmath_set_max(oocsi__varmath *m, double max);
/** window >= 1 (else OOCSI_ERR_INVAL); keeps the newest values that fit. */
int oocsi__varmath_set_smooth(oocsi__varmath *m, int window, double sigma);
/** Applies a value (local set or remote update): clamp / elif sigma rule,
 *  then window or value. */
void oocsi__varmath_apply(oocsi__varmath *m, double v);
/** Mean of the window when smoothing with values; else the value; NAN if none. */
double oocsi__varmath_get(const oocsi__varmath *m);

#endif
