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

/* Recovering from an outage of a server we were connected to, while it
 * cannot be reached (refused or unanswered connects: down or restarting):
 * the base delay between attempts is capped at OOCSI__RECOVER_CAP_MS for the
 * first 16 seconds, then at a twentieth of the outage so far, and never
 * above the configured maximum. A restarted server is found within about
 * half a second, while a long outage is probed less and less often. Worst
 * case per client (equal jitter: each delay is at least half its base): 2.5
 * attempts a second in the first 16 s (delays in [400, 800] ms), 40/t a
 * second at t seconds (delays of at least t/40 s), and from 100 s on the
 * configured maximum's rate (default 5 s: 0.4 a second). Each attempt
 * against a closed port costs the server's host one SYN answered by a
 * reset, no process work; the jitter spreads clients that lost the server
 * at the same moment. */
#define OOCSI__RECOVER_CAP_MS 800
#define OOCSI__RECOVER_FRACTION 20

/** The cap on the base delay after outage_ms of an outage of a healthy
 *  server: max(OOCSI__RECOVER_CAP_MS, outage_ms / OOCSI__RECOVER_FRACTION),
 *  at most max_ms. */
int oocsi__backoff_recover_cap(int64_t outage_ms, int max_ms);

#endif
