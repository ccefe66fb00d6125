/*
 * Random numbers for the core: xorshift64*, seeded from the operating system.
 * Internal to the library; unit-tested in tests/unit/test_rng.c.
 */
#ifndef OOCSI_ENGINE_RNG_H
#define OOCSI_ENGINE_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/oocsi.h"

typedef struct oocsi__rng {
    uint64_t s;
} oocsi__rng;
void oocsi__rng_seed(oocsi__rng *r);
void oocsi__rng_seed_with(oocsi__rng *r, uint64_t seed);
uint64_t oocsi__rng_next(oocsi__rng *r);
/** Fills buf with n bytes from the operating system's random source
 *  (getrandom, else /dev/urandom). 0, or -1 when neither answered. */
int oocsi__os_random(void *buf, size_t n);
/** Uniform in [0, n), n > 0, without modulo bias. */
uint64_t oocsi__rng_below(oocsi__rng *r, uint64_t n);

#endif
