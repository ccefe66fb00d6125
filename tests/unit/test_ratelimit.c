/*
 * The rate limit of oocsi_subscribe_limited (core/engine/ratelimit.c) with
 * explicit clock values: windows, re-anchoring, per-sender counts, many
 * senders, and no overflow of long bursts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"

static oocsi__ratelimit *limit(int max, int per_ms, int per_sender, int64_t now)
{
    oocsi_rate_limit l = {max, per_ms, per_sender, NULL, NULL};
    oocsi__ratelimit *r = oocsi__ratelimit_new(&l, now);
    assert_non_null(r);
    return r;
}

/* 2 per 1000 ms from t=0: the window lasts until 1000 inclusive; the first
 * message after it begins a new one there. */
static void test_window(void **state)
{
    (void)state;
    oocsi__ratelimit *r = limit(2, 1000, 0, 0);
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 10), 1);
    assert_int_equal(oocsi__ratelimit_admit(r, "b", 20), 1);
    assert_int_equal(oocsi__ratelimit_admit(r, "c", 30), 0);
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 1000), 0);
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 1001), 1); /* new window from 1001 */
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 1500), 1);
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 2001), 0); /* still the window of 1001 */
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 2002), 1);
    oocsi__ratelimit_free(r);
}

static void test_per_sender(void **state)
{
    (void)state;
    oocsi__ratelimit *r = limit(1, 100, 1, 0);
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 1), 1);
    assert_int_equal(oocsi__ratelimit_admit(r, "b", 2), 1);
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 3), 0);
    assert_int_equal(oocsi__ratelimit_admit(r, "b", 4), 0);
    assert_int_equal(oocsi__ratelimit_admit(r, NULL, 5), 1); /* no sender counts as "" */
    assert_int_equal(oocsi__ratelimit_admit(r, "", 6), 0);
    assert_int_equal(oocsi__ratelimit_admit(r, "a", 200), 1); /* every count starts again */
    assert_int_equal(oocsi__ratelimit_admit(r, "b", 201), 1);
    assert_int_equal(oocsi__ratelimit_admit(r, "b", 202), 0);
    oocsi__ratelimit_free(r);
}

/* Thousands of senders in one window (the table grows), each counted alone. */
static void test_many_senders(void **state)
{
    (void)state;
    oocsi__ratelimit *r = limit(2, 1000, 1, 0);
    char name[32];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5000; i++) {
            snprintf(name, sizeof name, "client%d", i);
            assert_int_equal(oocsi__ratelimit_admit(r, name, 1), round < 2);
        }
    oocsi__ratelimit_free(r);
}

/* A burst far longer than the limit keeps being refused (no overflow). */
static void test_long_burst(void **state)
{
    (void)state;
    oocsi__ratelimit *r = limit(3, 1000, 0, 0);
    int passed = 0;
    for (long i = 0; i < 100000; i++)
        passed += oocsi__ratelimit_admit(r, "a", 5);
    assert_int_equal(passed, 3);
    assert_true(r->count <= 4);
    oocsi__ratelimit_free(r);
    oocsi__ratelimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_per_sender),
        cmocka_unit_test(test_many_senders),
        cmocka_unit_test(test_long_burst),
    };
    return cmocka_run_group_tests_name("unit.ratelimit", tests, NULL, NULL);
}
