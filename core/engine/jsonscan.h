/*
 * JSON text without a tree (jsonscan.c): member look-up in text that
 * oocsi_json_scan_object() accepted, and its rewrite for the wire. The
 * checker and the unescaper themselves are public codec helpers
 * (oocsi/codec.h). Internal to the library.
 */
#ifndef OOCSI_ENGINE_JSONSCAN_H
#define OOCSI_ENGINE_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/codec.h"

typedef struct oocsi__json_span {
    const char *p;
    size_t n;
} oocsi__json_span;

/* Walks the top-level members of checked object text s[0..n); start with i = 0. */
typedef struct oocsi__json_iter {
    const char *s;
    size_t n, i;
} oocsi__json_iter;

/* The next member: key = the text between its quotes (escapes not decoded),
 * val = its value's text. 1, or 0 at the end. */
int oocsi__json_next_member(oocsi__json_iter *it, oocsi__json_span *key, oocsi__json_span *val);
/* 1 if the key's decoded text is name[0..name_len). */
int oocsi__json_key_is(const oocsi__json_span *key, const char *name, size_t name_len);
/* Checked object text made fit for the wire: whitespace between tokens
 * dropped, control characters and every non-ASCII character in strings
 * escaped as \uXXXX. malloc'd and NUL-terminated, NULL when out of memory. */
char *oocsi__json_wire(const char *text, size_t n, size_t *out_len);

/* Index of the first byte at or after i in s[0..n) that a JSON string
 * cannot hold as it is ('"', '\\', a control character) or that is not
 * ASCII; n if none. Vectorised. */
size_t oocsi__json_next_special(const unsigned char *s, size_t i, size_t n);
/* Writes code point cp as UTF-8 at o (1 to 4 bytes); the number written. */
size_t oocsi__utf8_put(char *o, uint32_t cp);

/* jsonutil.c: decodes the UTF-8 sequence at s[0] (s[0] >= 0x80): its length
 * 2..4 with *cp set, or minus the length of the invalid part. */
int oocsi__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
