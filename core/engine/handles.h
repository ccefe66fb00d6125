/*
 * Handle rules: which handles are acceptable, and the handle to send (generated, or with each '#' replaced by a random
 * digit). Internal to the library; unit-tested in tests/unit/test_handles.c.
 */
#ifndef OOCSI_ENGINE_HANDLES_H
#define OOCSI_ENGINE_HANDLES_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/oocsi.h"
#include "rng.h"

#define OOCSI_HANDLE_MAX 194
/** OOCSI_OK if handle (possibly "name:password", possibly with '#') is
 *  acceptable: 1..194 printable ASCII characters, no whitespace, and a
 *  non-empty name before any ':'. Else OOCSI_ERR_INVAL. */
int oocsi__handle_check(const char *handle);
/** NULL if the handle is acceptable, else why not (a static English phrase
 *  that completes "the handle is refused because ..."). */
const char *oocsi__handle_problem(const char *handle);
/** The handle to send: NULL/"" → "OOCSIClient_" + 15 lowercase hex digits;
 *  otherwise a copy with every '#' replaced by a random digit. malloc'd. */
char *oocsi__handle_resolve(const char *requested, oocsi__rng *r);
/** Length of the name part (before the first ':'). */
size_t oocsi__handle_name_len(const char *handle);

#endif
