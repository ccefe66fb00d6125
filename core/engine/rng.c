/*
 * Random numbers for the core: xorshift64*, seeded from the operating system.
 */
#include "rng.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define OOCSI_HAVE_GETRANDOM 1
#endif
#endif

/* ================================================================ random */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

void oocsi__rng_seed_with(oocsi__rng *r, uint64_t seed)
{
    if (!r) {
        return;
    }
    /* splitmix64 spreads low-entropy seeds (0, 1, 2, ...) over all bits. */
    r->s = splitmix64(seed);
    if (r->s == 0) {
        r->s = 0x9E3779B97F4A7C15ULL; /* xorshift must never hold 0 */
    }
}

/* Reads up to size bytes from src, retrying on EINTR; returns how many. */
typedef ssize_t (*byte_source)(int fd, void *buf, size_t n);

static size_t fill(byte_source src, int fd, unsigned char *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = src(fd, buf + got, size - got);
        if (n > 0)
            got += (size_t)n;
        else if (!(n < 0 && errno == EINTR))
            break;
    }
    return got;
}

#ifdef OOCSI_HAVE_GETRANDOM
static ssize_t from_getrandom(int fd, void *buf, size_t n)
{
    (void)fd;
    return getrandom(buf, n, GRND_NONBLOCK);
}
#endif

int oocsi__os_random(void *buf, size_t n)
{
    size_t got = 0;
#ifdef OOCSI_HAVE_GETRANDOM
    got = fill(from_getrandom, -1, buf, n);
#endif
    if (got < n) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            got = fill(read, fd, buf, n);
            close(fd);
        }
    }
    return got < n ? -1 : 0;
}

static int read_os_random(uint64_t *out)
{
    return oocsi__os_random(out, sizeof *out);
}

void oocsi__rng_seed(oocsi__rng *r)
{
    uint64_t seed = 0;
    if (!r) {
        return;
    }
    if (read_os_random(&seed) != 0) {
        struct timespec ts;
        int saved = errno;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        seed ^= (uint64_t)getpid() << 32;
        seed ^= (uint64_t)(uintptr_t)r;
        seed ^= (uint64_t)(uintptr_t)&seed << 16;
        errno = saved;
    }
    oocsi__rng_seed_with(r, seed);
}

uint64_t oocsi__rng_next(oocsi__rng *r)
{
    uint64_t x;
    if (!r) {
        return 0;
    }
    x = r->s;
    if (x == 0) {
        x = 0x9E3779B97F4A7C15ULL; /* an unseeded (zeroed) generator still works */
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n), n > 0, without modulo bias. */
uint64_t oocsi__rng_below(oocsi__rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n); /* multiple of n */
    uint64_t x;
    do {
        x = oocsi__rng_next(r);
    } while (x >= limit);
    return x % n;
}
