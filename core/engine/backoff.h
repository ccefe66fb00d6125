/*
 * Reconnect backoff: exponential delay with equal jitter.
 * Internal to the library; unit-tested in tests/unit/test_backoff.c.
 */
#ifndef OOCSI_ENGINE_BACKOFF_H
#define OOCSI_ENGINE_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/oocsi.h"
#include "rng.h"

/** Delay before reconnect attempt number attempt (0 = the first retry):
 *  base = min(max_ms, initial_ms * 2^attempt); result uniformly in
 *  [base/2, base] (equal jitter). */
int oocsi__backoff_ms(int attempt, int initial_ms, int max_ms, oocsi__rng *r);

#endif
