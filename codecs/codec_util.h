/*
 * Internal helpers shared by the built-in codecs (line, webjson): byte-range
 * comparisons, clean-text copies, the decode prelude (trim, UTF-8 repair),
 * the per-connection "welcomed" state and the encode argument checks. Not
 * part of the public API (no OOCSI_API: hidden in the shared library).
 */
#ifndef OOCSI_CODEC_UTIL_H
#define OOCSI_CODEC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/codec.h"

/* ---- byte ranges (s[0..n) need not be NUL-terminated) ---- */

/** 1 for the bytes isspace() accepts in the C locale. */
int oocsi__is_space(unsigned char c);
/** 1 if s[0..n) is exactly the string lit. */
int oocsi__equals(const char *s, size_t n, const char *lit);
/** 1 if s[0..n) begins with the string lit. */
int oocsi__starts_with(const char *s, size_t n, const char *lit);
/** Valid UTF-8 without NUL bytes: usable as is (as C string content too). */
int oocsi__is_clean(const char *s, size_t n);
/** Saturating double -> int64 (NaN -> 0). */
int64_t oocsi__clamp_i64(double d);

/* ---- event text ---- */

/** malloc'd NUL-terminated copy of s[0..n), sanitised unless clean says it
 *  is known clean. NULL when out of memory. */
char *oocsi__text_copy(const char *s, size_t n, int clean);
/** ev->text = oocsi__text_copy(s, n, clean) and ev->type = type;
 *  OOCSI_ERR_NOMEM (ev untouched but for text) when out of memory. */
int oocsi__set_text(oocsi_event *ev, oocsi_event_type type, const char *s, size_t n, int clean);
/** Longest prefix of an unparseable frame kept in an INVALID event. */
#define OOCSI__INVALID_PREFIX 80
/** INVALID with err PROTOCOL and at most OOCSI__INVALID_PREFIX bytes of
 *  s[0..n) (valid UTF-8) as text, cut at a character boundary.
 *  OOCSI_OK or OOCSI_ERR_NOMEM. */
int oocsi__set_invalid(oocsi_event *ev, const char *s, size_t n);
/** Parses s[0..n) (clean) as one JSON value with nothing but whitespace after
 *  it. NULL if it is not exactly that. cJSON bounds the nesting depth. */
cJSON *oocsi__parse_whole(const char *s, size_t n);

/* ---- per-connection state: whether the welcome has been seen ---- */

typedef struct oocsi__welcome_state {
    int welcomed;
} oocsi__welcome_state;

void *oocsi__welcome_create(void);
void oocsi__welcome_destroy(void *state);
void oocsi__welcome_reset(void *state);

/* ---- decode ---- */

/** One codec's decoder for a frame trimmed of whitespace at both ends (s is
 *  not NUL-terminated; n may be 0). */
typedef int (*oocsi__decode_fn)(oocsi__welcome_state *st, const char *s, size_t n, oocsi_event *ev);
/** The codec decode(): checks the arguments (OOCSI_ERR_INVAL), takes a NULL
 *  frame as empty, trims whitespace at both ends and runs decode_one. */
int oocsi__decode(void *state, const char *frame, size_t len, oocsi_event *ev, oocsi__decode_fn decode_one);
/** Makes *s, *n valid UTF-8 without NUL bytes: when they are not, points them
 *  at a repaired copy stored in *copy (the caller frees it; NULL when none was
 *  needed). OOCSI_OK or OOCSI_ERR_NOMEM. */
int oocsi__make_clean(const char **s, size_t *n, char **copy);

/* ---- encode ---- */

/** A recipient, channel or handle: non-empty, no whitespace or control
 *  characters (they would break the space-separated fields or the line). */
int oocsi__word_ok(const char *a);
/** A last argument that takes the rest of its line (a subscription with a
 *  [filter(...)] part may hold spaces): non-empty, no leading space, no
 *  control characters. */
int oocsi__rest_of_line_ok(const char *a);
/** The arguments of a SEND: a word_ok recipient and a non-empty payload
 *  without CR, LF or NUL bytes. */
int oocsi__send_ok(const oocsi_command *cmd);
/** Runs one codec's encoder for cmd (OOCSI_ERR_INVAL for NULL arguments);
 *  when it fails, truncates out back to its length before, so no partial
 *  frame is left behind. */
int oocsi__encode(const oocsi_command *cmd, oocsi_buf *out, int (*encode_one)(const oocsi_command *, oocsi_buf *));

/* Defines a codec built on the welcome state and oocsi__encode: the encode
 * wrapper of prefix##_encode_one, the vtable (decode: prefix##_decode,
 * decode_lazy: lazy_, may be NULL) and the public getter oocsi_codec_##prefix(). */
#define OOCSI__DEFINE_CODEC(prefix, name_, caps_, lazy_)                                                               \
    static int prefix##_encode(void *state, const oocsi_command *cmd, oocsi_buf *out)                                  \
    {                                                                                                                  \
        (void)state;                                                                                                   \
        return oocsi__encode(cmd, out, prefix##_encode_one);                                                           \
    }                                                                                                                  \
    static const oocsi_codec prefix##_codec = {                                                                        \
        .name = name_,                                                                                                 \
        .caps = caps_,                                                                                                 \
        .create = oocsi__welcome_create,                                                                               \
        .destroy = oocsi__welcome_destroy,                                                                             \
        .reset = oocsi__welcome_reset,                                                                                 \
        .decode = prefix##_decode,                                                                                     \
        .encode = prefix##_encode,                                                                                     \
        .decode_lazy = lazy_,                                                                                          \
    };                                                                                                                 \
    const oocsi_codec *oocsi_codec_##prefix(void)                                                                      \
    {                                                                                                                  \
        return &prefix##_codec;                                                                                        \
    }

#endif
