/*
 * Unit tests: variable arithmetic (core/util.c), including every expectation
 * of the Python client's variable tests. Two peers are simulated:
 * a local set(v) applies v locally and every peer applies the raw v (the Python tests:
 * the raw argument is published, no echo).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "varmath.h"

/* Exact comparison (all the numbers of the Python tests are exactly representable). */
#define assert_dbl_exact(got, want)                                                                                    \
    do {                                                                                                               \
        double got_ = (got), want_ = (want);                                                                           \
        if (!(got_ == want_)) {                                                                                        \
            print_error("%s = %.17g, expected %.17g\n", #got, got_, want_);                                            \
            fail();                                                                                                    \
        }                                                                                                              \
    } while (0)

#define assert_dbl_near(got, want)                                                                                     \
    do {                                                                                                               \
        double got_ = (got), want_ = (want);                                                                           \
        if (!(fabs(got_ - want_) <= 1e-12)) {                                                                          \
            print_error("%s = %.17g, expected %.17g\n", #got, got_, want_);                                            \
            fail();                                                                                                    \
        }                                                                                                              \
    } while (0)

/* A local set(v): apply locally, publish the raw v to the peer. */
static void set(oocsi__varmath *local, oocsi__varmath *peer, double v)
{
    oocsi__varmath_apply(local, v);
    if (peer) {
        oocsi__varmath_apply(peer, v);
    }
}

/* ------------------------------------------------------------ the Python tests */

static void test_python_basic(void **state)
{
    oocsi__varmath ov1, ov2;
    (void)state;
    oocsi__varmath_init(&ov1);
    oocsi__varmath_init(&ov2);
    assert_true(isnan(oocsi__varmath_get(&ov1))); /* None */
    assert_true(isnan(oocsi__varmath_get(&ov2)));
    set(&ov1, &ov2, 10);
    assert_dbl_exact(oocsi__varmath_get(&ov1), 10);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 10);
    oocsi__varmath_free(&ov1);
    oocsi__varmath_free(&ov2);
}

static void test_python_minmax(void **state)
{
    oocsi__varmath ov1, ov2;
    (void)state;
    oocsi__varmath_init(&ov1);
    oocsi__varmath_init(&ov2);
    oocsi__varmath_set_min(&ov1, 2);
    oocsi__varmath_set_max(&ov1, 5);
    assert_dbl_exact(oocsi__varmath_get(&ov1), 2); /* min() on None sets the minimum */
    oocsi__varmath_set_min(&ov2, 3);
    oocsi__varmath_set_max(&ov2, 6);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 3);
    set(&ov1, &ov2, 10);
    assert_dbl_exact(oocsi__varmath_get(&ov1), 5);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 6); /* the raw 10, clamped by ov2's own max */
    oocsi__varmath_free(&ov1);
    oocsi__varmath_free(&ov2);
}

static void test_python_smooth(void **state)
{
    oocsi__varmath ov1, ov2;
    (void)state;
    oocsi__varmath_init(&ov1);
    oocsi__varmath_init(&ov2);
    assert_int_equal(oocsi__varmath_set_smooth(&ov2, 2, 0), OOCSI_OK);
    set(&ov1, &ov2, 10);
    set(&ov1, &ov2, 20);
    assert_dbl_exact(oocsi__varmath_get(&ov1), 20);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 15);
    set(&ov1, &ov2, 10);
    set(&ov1, &ov2, 10);
    set(&ov1, &ov2, 10);
    assert_dbl_exact(oocsi__varmath_get(&ov1), 10);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 10);
    oocsi__varmath_free(&ov1);
    oocsi__varmath_free(&ov2);
}

static void test_python_smooth_sigma1(void **state)
{
    oocsi__varmath ov11, ov21, ov12, ov22;
    (void)state;
    oocsi__varmath_init(&ov11);
    oocsi__varmath_init(&ov21);
    oocsi__varmath_init(&ov12);
    oocsi__varmath_init(&ov22);
    assert_int_equal(oocsi__varmath_set_smooth(&ov11, 2, 1), OOCSI_OK);
    assert_int_equal(oocsi__varmath_set_smooth(&ov21, 2, 1), OOCSI_OK);
    assert_int_equal(oocsi__varmath_set_smooth(&ov12, 2, 2), OOCSI_OK);
    assert_int_equal(oocsi__varmath_set_smooth(&ov22, 2, 2), OOCSI_OK);

    set(&ov11, &ov21, 1);
    set(&ov11, &ov21, 2);
    set(&ov12, &ov22, 1);
    set(&ov12, &ov22, 2);
    assert_dbl_exact(oocsi__varmath_get(&ov21), 1.5);
    assert_dbl_exact(oocsi__varmath_get(&ov22), 1.5);
    assert_dbl_exact(oocsi__varmath_get(&ov11), 1.5);
    assert_dbl_exact(oocsi__varmath_get(&ov12), 1.5);

    set(&ov21, &ov11, 10.2);
    assert_dbl_exact(oocsi__varmath_get(&ov11), 2.0); /* 1.5 + 1/2 → [2, 2.0] */
    assert_dbl_exact(oocsi__varmath_get(&ov21), 2.0); /* identical windows */
    set(&ov22, &ov12, 10.2);
    assert_dbl_exact(oocsi__varmath_get(&ov12), 2.25); /* 1.5 + 2/2 → [2, 2.5] */
    assert_true(oocsi__varmath_get(&ov11) < oocsi__varmath_get(&ov12));

    set(&ov21, &ov11, 10.2);
    assert_dbl_exact(oocsi__varmath_get(&ov11), 2.25);
    set(&ov21, &ov11, 10.2);
    assert_dbl_exact(oocsi__varmath_get(&ov11), 2.625);
    assert_dbl_exact(oocsi__varmath_get(&ov21), 2.625);

    set(&ov21, &ov11, -10.2);
    assert_dbl_exact(oocsi__varmath_get(&ov11), 2.4375);
    set(&ov21, &ov11, 10.2);
    assert_dbl_exact(oocsi__varmath_get(&ov11), 2.53125);
    assert_dbl_exact(oocsi__varmath_get(&ov21), 2.53125);

    oocsi__varmath_free(&ov11);
    oocsi__varmath_free(&ov21);
    oocsi__varmath_free(&ov12);
    oocsi__varmath_free(&ov22);
}

static void test_python_smooth_sigma2(void **state)
{
    oocsi__varmath ov1, ov2;
    (void)state;
    oocsi__varmath_init(&ov1);
    oocsi__varmath_init(&ov2);
    assert_int_equal(oocsi__varmath_set_smooth(&ov2, 2, 1), OOCSI_OK);
    set(&ov1, &ov2, 10);
    set(&ov1, &ov2, 20);
    assert_dbl_exact(oocsi__varmath_get(&ov1), 20);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 10.5); /* [10, 10 + 1/1] */
    set(&ov1, &ov2, 20);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 11); /* [11, 10.5 + 1/2] */
    set(&ov1, &ov2, 10);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 10.5); /* |11 - 10| = 1 is not > 1 */
    set(&ov1, &ov2, 10);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 10);
    set(&ov1, &ov2, 10);
    assert_dbl_exact(oocsi__varmath_get(&ov1), 10);
    assert_dbl_exact(oocsi__varmath_get(&ov2), 10);
    oocsi__varmath_free(&ov1);
    oocsi__varmath_free(&ov2);
}

/* ------------------------------------------------------------ details */

static void test_init_and_plain_value(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(m.has_value, 0);
    assert_int_equal(m.window_len, 0);
    assert_null(m.window);
    assert_true(isnan(oocsi__varmath_get(&m)));
    oocsi__varmath_apply(&m, -3.5);
    assert_dbl_exact(oocsi__varmath_get(&m), -3.5);
    oocsi__varmath_apply(&m, 0);
    assert_dbl_exact(oocsi__varmath_get(&m), 0);
    assert_int_equal(m.has_value, 1);
    oocsi__varmath_free(&m);
}

static void test_min_max_on_existing_value(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    oocsi__varmath_set_max(&m, 7); /* None → max */
    assert_dbl_exact(oocsi__varmath_get(&m), 7);
    oocsi__varmath_free(&m);

    oocsi__varmath_init(&m);
    oocsi__varmath_apply(&m, 4);
    oocsi__varmath_set_min(&m, 1); /* 4 is not < 1: kept */
    assert_dbl_exact(oocsi__varmath_get(&m), 4);
    oocsi__varmath_set_max(&m, 3); /* 4 > 3: clamped now */
    assert_dbl_exact(oocsi__varmath_get(&m), 3);
    oocsi__varmath_set_min(&m, 3.5); /* 3 < 3.5: clamped now */
    assert_dbl_exact(oocsi__varmath_get(&m), 3.5);
    oocsi__varmath_apply(&m, 0);
    assert_dbl_exact(oocsi__varmath_get(&m), 3.5);
    oocsi__varmath_apply(&m, 100);
    assert_dbl_exact(oocsi__varmath_get(&m), 3); /* min 3.5 > max 3: 100 is not < min, so max */
    oocsi__varmath_set_max(&m, 10);
    oocsi__varmath_apply(&m, 100);
    assert_dbl_exact(oocsi__varmath_get(&m), 10);
    oocsi__varmath_apply(&m, 5);
    assert_dbl_exact(oocsi__varmath_get(&m), 5);
    /* NaN bounds are ignored */
    oocsi__varmath_set_min(&m, NAN);
    oocsi__varmath_set_max(&m, NAN);
    assert_dbl_exact(m.min, 3.5);
    assert_dbl_exact(m.max, 10);
    oocsi__varmath_free(&m);
}

static void test_clamp_skips_sigma(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 2, 1), OOCSI_OK);
    oocsi__varmath_apply(&m, 5);
    oocsi__varmath_set_max(&m, 100);
    /* clamped to 100, then no sigma rule (elif): window [5, 100] */
    oocsi__varmath_apply(&m, 1000);
    assert_dbl_exact(oocsi__varmath_get(&m), 52.5);
    oocsi__varmath_free(&m);
}

static void test_sigma_with_empty_window_uses_k1(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    oocsi__varmath_apply(&m, 10); /* value set before smoothing */
    assert_int_equal(oocsi__varmath_set_smooth(&m, 3, 2), OOCSI_OK);
    assert_int_equal(m.count, 0);
    assert_dbl_exact(oocsi__varmath_get(&m), 10);
    oocsi__varmath_apply(&m, 20); /* |10 - 20| > 2, k = 1 (Python: ZeroDivisionError) → 12 */
    assert_dbl_exact(oocsi__varmath_get(&m), 12);
    assert_dbl_exact(m.value, 12);
    oocsi__varmath_apply(&m, 0); /* mean 12, k = 1 → 10 → [12, 10] */
    assert_dbl_exact(oocsi__varmath_get(&m), 11);
    oocsi__varmath_apply(&m, 40); /* mean 11, k = 2 → 12 → [12, 10, 12] */
    assert_dbl_near(oocsi__varmath_get(&m), 34.0 / 3.0);
    oocsi__varmath_free(&m);
}

static void test_sigma_boundary_not_strict(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 4, 0.5), OOCSI_OK);
    oocsi__varmath_apply(&m, 1);
    oocsi__varmath_apply(&m, 1.5); /* difference exactly sigma: kept */
    assert_dbl_exact(oocsi__varmath_get(&m), 1.25);
    oocsi__varmath_apply(&m, 0.5); /* mean 1.25, 0.75 > 0.5 → 1.25 - 0.5/2 = 1.0 */
    assert_dbl_near(oocsi__varmath_get(&m), (1 + 1.5 + 1.0) / 3);
    oocsi__varmath_free(&m);
}

static void test_no_sigma_when_zero_or_negative(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 2, -1), OOCSI_OK);
    oocsi__varmath_apply(&m, 0);
    oocsi__varmath_apply(&m, 1000);
    assert_dbl_exact(oocsi__varmath_get(&m), 500);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 2, 0), OOCSI_OK);
    oocsi__varmath_apply(&m, -1000);
    assert_dbl_exact(oocsi__varmath_get(&m), 0);
    oocsi__varmath_free(&m);
}

static void test_set_smooth_invalid(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 0, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__varmath_set_smooth(&m, -3, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__varmath_set_smooth(NULL, 3, 1), OOCSI_ERR_INVAL);
    assert_int_equal(m.window_len, 0);
    assert_null(m.window);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 2, 0), OOCSI_OK);
    oocsi__varmath_apply(&m, 1);
    oocsi__varmath_apply(&m, 3);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 0, 5), OOCSI_ERR_INVAL);
    /* unchanged */
    assert_int_equal(m.window_len, 2);
    assert_dbl_exact(m.sigma, 0);
    assert_dbl_exact(oocsi__varmath_get(&m), 2);
    oocsi__varmath_free(&m);
}

static void test_ring_wraps(void **state)
{
    oocsi__varmath m;
    int i;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 3, 0), OOCSI_OK);
    for (i = 1; i <= 100; i++) {
        oocsi__varmath_apply(&m, i);
        assert_int_equal(m.count, i < 3 ? i : 3);
        /* mean of the last min(i, 3) integers */
        assert_dbl_exact(oocsi__varmath_get(&m), i == 1 ? 1.0 : i == 2 ? 1.5 : (double)(i - 1));
        assert_dbl_exact(m.value, i);
    }
    oocsi__varmath_free(&m);
}

static void test_resize_keeps_newest(void **state)
{
    oocsi__varmath m;
    int i;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 5, 0), OOCSI_OK);
    for (i = 1; i <= 7; i++) {
        oocsi__varmath_apply(&m, i); /* window [3, 4, 5, 6, 7], ring wrapped */
    }
    assert_dbl_exact(oocsi__varmath_get(&m), 5);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 3, 0), OOCSI_OK); /* [5, 6, 7] */
    assert_int_equal(m.count, 3);
    assert_dbl_exact(oocsi__varmath_get(&m), 6);
    oocsi__varmath_apply(&m, 8); /* the oldest (5) goes: [6, 7, 8] */
    assert_dbl_exact(oocsi__varmath_get(&m), 7);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 5, 0), OOCSI_OK); /* grow: [6, 7, 8] */
    assert_int_equal(m.count, 3);
    oocsi__varmath_apply(&m, 9);
    oocsi__varmath_apply(&m, 10); /* [6, 7, 8, 9, 10] */
    assert_dbl_exact(oocsi__varmath_get(&m), 8);
    oocsi__varmath_apply(&m, 11); /* 6 goes: [7 .. 11] */
    assert_dbl_exact(oocsi__varmath_get(&m), 9);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 1, 0), OOCSI_OK); /* [11] */
    assert_dbl_exact(oocsi__varmath_get(&m), 11);
    oocsi__varmath_apply(&m, 2);
    assert_dbl_exact(oocsi__varmath_get(&m), 2);
    oocsi__varmath_free(&m);
}

static void test_sigma_stored_on_resmooth(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 2, 0), OOCSI_OK);
    oocsi__varmath_apply(&m, 0);
    oocsi__varmath_apply(&m, 0);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 2, 1), OOCSI_OK);
    oocsi__varmath_apply(&m, 10); /* mean 0, k = 2 → 0.5 → [0, 0.5] */
    assert_dbl_exact(oocsi__varmath_get(&m), 0.25);
    oocsi__varmath_free(&m);
}

static void test_accurate_mean(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 3, 0), OOCSI_OK);
    /* naive left-to-right summation gives 0; fsum gives 1 */
    oocsi__varmath_apply(&m, 1e16);
    oocsi__varmath_apply(&m, 1);
    oocsi__varmath_apply(&m, -1e16);
    assert_dbl_exact(oocsi__varmath_get(&m), 1.0 / 3.0);
    oocsi__varmath_free(&m);

    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 10, 0), OOCSI_OK);
    {
        int i;
        for (i = 0; i < 10; i++) {
            oocsi__varmath_apply(&m, 0.1);
        }
    }
    /* fsum([0.1] * 10) == 1.0 exactly; the naive sum is 0.9999999999999999 */
    assert_dbl_exact(oocsi__varmath_get(&m), 0.1);
    oocsi__varmath_free(&m);
}

static void test_mean_extremes(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 2, 0), OOCSI_OK);
    oocsi__varmath_apply(&m, DBL_MAX);
    oocsi__varmath_apply(&m, DBL_MAX);
    assert_dbl_exact(oocsi__varmath_get(&m), DBL_MAX); /* no overflow to inf */
    oocsi__varmath_apply(&m, -DBL_MAX);
    assert_dbl_exact(oocsi__varmath_get(&m), 0);
    oocsi__varmath_apply(&m, INFINITY);
    assert_true(isinf(oocsi__varmath_get(&m)) && oocsi__varmath_get(&m) > 0);
    oocsi__varmath_apply(&m, 1);
    assert_true(isinf(oocsi__varmath_get(&m)) && oocsi__varmath_get(&m) > 0);
    oocsi__varmath_apply(&m, 2);
    assert_dbl_exact(oocsi__varmath_get(&m), 1.5);
    oocsi__varmath_free(&m);
}

static void test_nan_input_ignored(void **state)
{
    oocsi__varmath m;
    (void)state;
    oocsi__varmath_init(&m);
    oocsi__varmath_apply(&m, NAN);
    assert_int_equal(m.has_value, 0);
    oocsi__varmath_apply(&m, 4);
    oocsi__varmath_apply(&m, NAN);
    assert_dbl_exact(oocsi__varmath_get(&m), 4);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 2, 0), OOCSI_OK);
    oocsi__varmath_apply(&m, 6);
    oocsi__varmath_apply(&m, NAN);
    assert_int_equal(m.count, 1);
    assert_dbl_exact(oocsi__varmath_get(&m), 6);
    oocsi__varmath_free(&m);
}

/* The Java order (OOCSIFloat's filter): the sigma rule also applies to a
 * clamped value, and only once the window holds values; apply() returns the
 * filtered value, which the Java client publishes. */
static void test_java_order(void **state)
{
    oocsi__varmath j, py;
    (void)state;
    oocsi__varmath_init(&j);
    oocsi__varmath_init(&py);
    j.java_order = 1;
    oocsi__varmath_set_max(&j, 5);
    oocsi__varmath_set_max(&py, 5);
    assert_int_equal(oocsi__varmath_set_smooth(&j, 2, 1), OOCSI_OK);
    assert_int_equal(oocsi__varmath_set_smooth(&py, 2, 1), OOCSI_OK);
    /* empty window: no sigma rule in Java (no mean yet); Python uses the
     * value the max gave (5) with k = 1: 5 - 1 = 4 */
    assert_dbl_exact(oocsi__varmath_apply(&j, 3), 3);
    assert_dbl_exact(oocsi__varmath_apply(&py, 3), 4);
    /* 10 is clamped to 5; Java: |3 - 5| > 1 -> 3 + 1/1 = 4, window [3, 4] */
    assert_dbl_exact(oocsi__varmath_apply(&j, 10), 4);
    assert_dbl_exact(oocsi__varmath_get(&j), 3.5);
    /* Python: clamped, so no sigma rule: window [4, 5] */
    assert_dbl_exact(oocsi__varmath_apply(&py, 10), 5);
    assert_dbl_exact(oocsi__varmath_get(&py), 4.5);
    /* below the window mean, not clamped: both orders alike */
    assert_dbl_exact(oocsi__varmath_apply(&j, 0), 3); /* mean 3.5, k 2: 3.5 - 0.5 */
    assert_dbl_exact(oocsi__varmath_get(&j), 3.5);
    assert_true(isnan(oocsi__varmath_apply(&j, NAN)));
    assert_true(isnan(oocsi__varmath_apply(NULL, 1)));
    oocsi__varmath_free(&j);
    oocsi__varmath_free(&py);
}

static void test_null_and_free(void **state)
{
    oocsi__varmath m;
    (void)state;
    assert_true(isnan(oocsi__varmath_get(NULL)));
    oocsi__varmath_apply(NULL, 1);
    oocsi__varmath_set_min(NULL, 1);
    oocsi__varmath_set_max(NULL, 1);
    oocsi__varmath_init(NULL);
    oocsi__varmath_free(NULL);
    oocsi__varmath_init(&m);
    assert_int_equal(oocsi__varmath_set_smooth(&m, 4, 1), OOCSI_OK);
    oocsi__varmath_apply(&m, 1);
    oocsi__varmath_free(&m);
    /* free leaves a clean, reusable state */
    assert_null(m.window);
    assert_int_equal(m.window_len, 0);
    assert_int_equal(m.count, 0);
    assert_int_equal(m.has_value, 0);
    assert_true(isnan(oocsi__varmath_get(&m)));
    oocsi__varmath_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_basic),
        cmocka_unit_test(test_python_minmax),
        cmocka_unit_test(test_python_smooth),
        cmocka_unit_test(test_python_smooth_sigma1),
        cmocka_unit_test(test_python_smooth_sigma2),
        cmocka_unit_test(test_init_and_plain_value),
        cmocka_unit_test(test_min_max_on_existing_value),
        cmocka_unit_test(test_clamp_skips_sigma),
        cmocka_unit_test(test_sigma_with_empty_window_uses_k1),
        cmocka_unit_test(test_sigma_boundary_not_strict),
        cmocka_unit_test(test_no_sigma_when_zero_or_negative),
        cmocka_unit_test(test_set_smooth_invalid),
        cmocka_unit_test(test_ring_wraps),
        cmocka_unit_test(test_resize_keeps_newest),
        cmocka_unit_test(test_sigma_stored_on_resmooth),
        cmocka_unit_test(test_accurate_mean),
        cmocka_unit_test(test_mean_extremes),
        cmocka_unit_test(test_nan_input_ignored),
        cmocka_unit_test(test_java_order),
        cmocka_unit_test(test_null_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
