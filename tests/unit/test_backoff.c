/* Unit tests: reconnect backoff (core/util.c). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

#define SAMPLES 2000

/* Draws SAMPLES delays; checks each lies in [lo, hi]; returns the observed
 * minimum and maximum. */
static void sample(int attempt, int initial, int max, int lo, int hi, int *seen_min, int *seen_max)
{
    oocsi__rng r;
    int i;
    oocsi__rng_seed_with(&r, (uint64_t)attempt * 7919u + (uint64_t)initial);
    *seen_min = INT_MAX;
    *seen_max = INT_MIN;
    for (i = 0; i < SAMPLES; i++) {
        int d = oocsi__backoff_ms(attempt, initial, max, &r);
        if (d < lo || d > hi) {
            print_error("attempt %d initial %d max %d: %d not in [%d, %d]\n", attempt, initial, max, d, lo, hi);
            fail();
        }
        if (d < *seen_min) {
            *seen_min = d;
        }
        if (d > *seen_max) {
            *seen_max = d;
        }
    }
}

static void test_first_retry_equal_jitter(void **state)
{
    int lo, hi;
    (void)state;
    sample(0, 100, 5000, 50, 100, &lo, &hi);
    /* both ends of [50, 100] are reached with 2000 draws over 51 values */
    assert_int_equal(lo, 50);
    assert_int_equal(hi, 100);
}

static void test_doubling_then_cap(void **state)
{
    static const int base[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000, 5000};
    int a, lo, hi;
    (void)state;
    for (a = 0; a < (int)(sizeof base / sizeof base[0]); a++) {
        sample(a, 100, 5000, base[a] / 2, base[a], &lo, &hi);
        /* the spread really covers the whole band, not a fixed value */
        assert_true(lo < base[a] / 2 + base[a] / 10);
        assert_true(hi > base[a] - base[a] / 10);
    }
}

static void test_mean_is_three_quarters(void **state)
{
    oocsi__rng r;
    long sum = 0;
    int i;
    (void)state;
    oocsi__rng_seed_with(&r, 11);
    for (i = 0; i < 10000; i++) {
        sum += oocsi__backoff_ms(3, 100, 5000, &r); /* base 800: uniform in [400, 800] */
    }
    /* mean 600, sd of the mean ~1.2 */
    assert_in_range(sum / 10000, 590, 610);
}

static void test_large_attempts_do_not_overflow(void **state)
{
    int lo, hi;
    (void)state;
    sample(1000, 100, 5000, 2500, 5000, &lo, &hi);
    assert_int_equal(hi <= 5000, 1);
    sample(INT_MAX, 100, 5000, 2500, 5000, &lo, &hi);
    sample(62, 1, INT_MAX, INT_MAX - INT_MAX / 2, INT_MAX, &lo, &hi);
    sample(5, INT_MAX, INT_MAX, INT_MAX - INT_MAX / 2, INT_MAX, &lo, &hi);
    sample(40, INT_MAX / 3, INT_MAX - 1, (INT_MAX - 1) / 2, INT_MAX - 1, &lo, &hi);
}

static void test_bad_initial_is_one(void **state)
{
    oocsi__rng r;
    int lo, hi;
    (void)state;
    oocsi__rng_seed_with(&r, 1);
    /* base 1: [ceil(0.5), 1] = 1; never a zero delay */
    assert_int_equal(oocsi__backoff_ms(0, 0, 1000, &r), 1);
    assert_int_equal(oocsi__backoff_ms(0, -50, 1000, &r), 1);
    assert_int_equal(oocsi__backoff_ms(0, INT_MIN, 1000, &r), 1);
    sample(3, 0, 1000, 4, 8, &lo, &hi); /* base 8 */
    assert_int_equal(lo, 4);
    assert_int_equal(hi, 8);
}

static void test_max_below_initial(void **state)
{
    int lo, hi;
    (void)state;
    /* max 50 < initial 200 → max = 200 */
    sample(0, 200, 50, 100, 200, &lo, &hi);
    sample(5, 200, 50, 100, 200, &lo, &hi);
    assert_int_equal(hi, 200);
    sample(5, 200, -1, 100, 200, &lo, &hi);
    assert_int_equal(lo, 100);
}

static void test_negative_attempt_is_first(void **state)
{
    int lo, hi;
    (void)state;
    sample(-1, 100, 5000, 50, 100, &lo, &hi);
    sample(INT_MIN, 100, 5000, 50, 100, &lo, &hi);
}

static void test_odd_base_stays_in_band(void **state)
{
    int lo, hi;
    (void)state;
    /* base 5: result >= 2.5 → [3, 5] */
    sample(0, 5, 5, 3, 5, &lo, &hi);
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 5);
    /* base 2: [1, 2] */
    sample(1, 1, 100, 1, 2, &lo, &hi);
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 2);
}

static void test_null_rng_gives_base(void **state)
{
    (void)state;
    assert_int_equal(oocsi__backoff_ms(0, 100, 5000, NULL), 100);
    assert_int_equal(oocsi__backoff_ms(2, 100, 5000, NULL), 400);
    assert_int_equal(oocsi__backoff_ms(100, 100, 5000, NULL), 5000);
}

static void test_same_seed_same_schedule(void **state)
{
    oocsi__rng a, b;
    int i, differs = 0, prev = -1;
    (void)state;
    oocsi__rng_seed_with(&a, 77);
    oocsi__rng_seed_with(&b, 77);
    for (i = 0; i < 100; i++) {
        int x = oocsi__backoff_ms(10, 100, 5000, &a);
        assert_int_equal(x, oocsi__backoff_ms(10, 100, 5000, &b));
        if (prev >= 0 && x != prev) {
            differs = 1;
        }
        prev = x;
    }
    assert_true(differs); /* jitter is there */
}

/* While a server we were connected to is down: about one attempt per
 * OOCSI__RECOVER_CAP_MS at first, then a twentieth of the outage, never above
 * the configured maximum. */
static void test_recover_cap(void **state)
{
    (void)state;
    assert_int_equal(oocsi__backoff_recover_cap(0, 5000), OOCSI__RECOVER_CAP_MS);
    assert_int_equal(oocsi__backoff_recover_cap(-5, 5000), OOCSI__RECOVER_CAP_MS);
    assert_int_equal(oocsi__backoff_recover_cap(3000, 5000), OOCSI__RECOVER_CAP_MS);
    assert_int_equal(oocsi__backoff_recover_cap(16000, 5000), OOCSI__RECOVER_CAP_MS);
    assert_int_equal(oocsi__backoff_recover_cap(40000, 5000), 2000);
    assert_int_equal(oocsi__backoff_recover_cap(80000, 5000), 4000);
    assert_int_equal(oocsi__backoff_recover_cap(600000, 5000), 5000);
    /* a configured maximum below the cap wins */
    assert_int_equal(oocsi__backoff_recover_cap(0, 300), 300);
    assert_int_equal(oocsi__backoff_recover_cap(INT64_MAX, 5000), 5000);
}

/* The schedule a client follows through a 10 s outage: with the cap, no
 * delay after the first few exceeds the cap, and the delays still vary. */
static void test_recover_schedule_stays_short(void **state)
{
    oocsi__rng r;
    int64_t t = 0;
    int attempts = 0, lo = INT_MAX, hi = 0;
    (void)state;
    oocsi__rng_seed_with(&r, 5);
    for (int a = 0; t < 10000; a++) {
        int cap = oocsi__backoff_recover_cap(t, 5000);
        int capped = oocsi__backoff_ms(a, 100, cap, &r);
        /* uncapped, attempt 5 on would wait 1.6 s and more */
        assert_true(capped <= cap);
        assert_true(cap == OOCSI__RECOVER_CAP_MS);
        assert_true(capped >= 50);
        if (a >= 4) {
            lo = capped < lo ? capped : lo;
            hi = capped > hi ? capped : hi;
        }
        t += capped;
        attempts++;
    }
    /* about 10 s / 0.6 s on average, and never more than 2.5 a second */
    assert_true(attempts >= 10);
    assert_true(attempts <= 4 + 10000 / (OOCSI__RECOVER_CAP_MS / 2));
    assert_true(lo >= OOCSI__RECOVER_CAP_MS / 2);
    assert_true(hi > lo); /* jitter: clients that lost the server together drift apart */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_retry_equal_jitter),
        cmocka_unit_test(test_doubling_then_cap),
        cmocka_unit_test(test_mean_is_three_quarters),
        cmocka_unit_test(test_large_attempts_do_not_overflow),
        cmocka_unit_test(test_bad_initial_is_one),
        cmocka_unit_test(test_max_below_initial),
        cmocka_unit_test(test_negative_attempt_is_first),
        cmocka_unit_test(test_odd_base_stays_in_band),
        cmocka_unit_test(test_null_rng_gives_base),
        cmocka_unit_test(test_same_seed_same_schedule),
        cmocka_unit_test(test_recover_cap),
        cmocka_unit_test(test_recover_schedule_stays_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
