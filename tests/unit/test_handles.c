/* Unit tests: random numbers and handle rules (core/util.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "handles.h"

/* ------------------------------------------------------------------ rng */

static void test_rng_xorshift64star_reference(void **state)
{
    oocsi__rng r;
    (void)state;
    /* state 1: x ^= x >> 12 (1); x ^= x << 25 (0x2000001); x ^= x >> 27 (same) */
    r.s = 1;
    assert_true(oocsi__rng_next(&r) == 0x47e4ce4b896cdd1dULL);
    assert_true(r.s == 0x2000001ULL);
}

static void test_rng_seed_with_is_deterministic(void **state)
{
    oocsi__rng a, b, c;
    int i, differ = 0;
    (void)state;
    oocsi__rng_seed_with(&a, 42);
    oocsi__rng_seed_with(&b, 42);
    oocsi__rng_seed_with(&c, 43);
    for (i = 0; i < 100; i++) {
        uint64_t x = oocsi__rng_next(&a);
        uint64_t z = oocsi__rng_next(&c);
        assert_true(x == oocsi__rng_next(&b));
        if (x != z) {
            differ++;
        }
    }
    assert_int_equal(differ, 100);
}

static void test_rng_never_zero_state(void **state)
{
    oocsi__rng r;
    int i;
    (void)state;
    oocsi__rng_seed_with(&r, 0);
    assert_true(r.s != 0);
    for (i = 0; i < 1000; i++) {
        (void)oocsi__rng_next(&r);
        assert_true(r.s != 0);
    }
    /* a zeroed (never seeded) generator does not get stuck at 0 */
    r.s = 0;
    assert_true(oocsi__rng_next(&r) != 0);
    assert_true(r.s != 0);
}

static void test_rng_seed_from_os(void **state)
{
    oocsi__rng a, b;
    (void)state;
    oocsi__rng_seed(&a);
    oocsi__rng_seed(&b);
    assert_true(a.s != 0);
    assert_true(b.s != 0);
    assert_true(a.s != b.s); /* 2^-64 chance of a false failure */
    oocsi__rng_seed(NULL);   /* no crash */
    oocsi__rng_seed_with(NULL, 1);
}

static void test_rng_bits_look_random(void **state)
{
    oocsi__rng r;
    int i, bit, ones[64] = {0};
    (void)state;
    oocsi__rng_seed_with(&r, 7);
    for (i = 0; i < 4096; i++) {
        uint64_t x = oocsi__rng_next(&r);
        for (bit = 0; bit < 64; bit++) {
            ones[bit] += (int)((x >> bit) & 1);
        }
    }
    for (bit = 0; bit < 64; bit++) {
        /* expected 2048, sd 32: +-300 is far beyond chance */
        assert_in_range(ones[bit], 2048 - 300, 2048 + 300);
    }
}

/* ------------------------------------------------------------------ handle_check */

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static void test_check_accepts(void **state)
{
    (void)state;
    assert_int_equal(oocsi__handle_check(NULL), OOCSI_OK); /* generate */
    assert_int_equal(oocsi__handle_check(""), OOCSI_OK);   /* generate */
    assert_int_equal(oocsi__handle_check("alice"), OOCSI_OK);
    assert_int_equal(oocsi__handle_check("a"), OOCSI_OK);
    assert_int_equal(oocsi__handle_check("x_h###"), OOCSI_OK);
    assert_int_equal(oocsi__handle_check("name:pw"), OOCSI_OK);
    assert_int_equal(oocsi__handle_check("a:b:c"), OOCSI_OK);
    assert_int_equal(oocsi__handle_check("!~"), OOCSI_OK); /* 0x21 and 0x7E */
    assert_int_equal(oocsi__handle_check("Some.Name-1_2"), OOCSI_OK);
}

static void test_check_rejects_characters(void **state)
{
    (void)state;
    assert_int_equal(oocsi__handle_check("al ice"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check(" alice"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("alice "), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("al\tice"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("alice\n"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("alice\r"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("a\x01"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("a\x7f"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("caf\xc3\xa9"), OOCSI_ERR_INVAL); /* UTF-8 é */
    assert_int_equal(oocsi__handle_check("\xff"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("name:p w"), OOCSI_ERR_INVAL);
    /* A quote: servers quote handles in their answers without escaping. */
    assert_int_equal(oocsi__handle_check("a\"b"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("name:p\"w"), OOCSI_ERR_INVAL);
    /* Each refusal says why. */
    assert_non_null(strstr(oocsi__handle_problem("al ice"), "whitespace"));
    assert_non_null(strstr(oocsi__handle_problem("a\"b"), "double quote"));
    assert_non_null(strstr(oocsi__handle_problem("caf\xc3\xa9"), "non-ASCII"));
    assert_non_null(strstr(oocsi__handle_problem(":pw"), "name"));
    assert_null(oocsi__handle_problem("alice"));
}

static void test_check_rejects_empty_parts(void **state)
{
    (void)state;
    assert_int_equal(oocsi__handle_check(":pw"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("name:"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check(":"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__handle_check("::"), OOCSI_ERR_INVAL);
}

static void test_check_length(void **state)
{
    char *s;
    (void)state;
    assert_int_equal(OOCSI_HANDLE_MAX, 194);
    s = repeat('a', 194);
    assert_int_equal(oocsi__handle_check(s), OOCSI_OK);
    free(s);
    s = repeat('a', 195);
    assert_int_equal(oocsi__handle_check(s), OOCSI_ERR_INVAL);
    free(s);
    s = repeat('a', 5000);
    assert_int_equal(oocsi__handle_check(s), OOCSI_ERR_INVAL);
    free(s);
    /* the password counts: 100 + ':' + 93 = 194, then 195 */
    s = repeat('a', 194);
    s[100] = ':';
    assert_int_equal(oocsi__handle_check(s), OOCSI_OK);
    free(s);
    s = repeat('a', 195);
    s[100] = ':';
    assert_int_equal(oocsi__handle_check(s), OOCSI_ERR_INVAL);
    free(s);
}

static void test_name_len(void **state)
{
    (void)state;
    assert_int_equal(oocsi__handle_name_len("alice"), 5);
    assert_int_equal(oocsi__handle_name_len("alice:pw"), 5);
    assert_int_equal(oocsi__handle_name_len("a:b:c"), 1);
    assert_int_equal(oocsi__handle_name_len(":pw"), 0);
    assert_int_equal(oocsi__handle_name_len(""), 0);
    assert_int_equal(oocsi__handle_name_len(NULL), 0);
}

/* ------------------------------------------------------------------ handle_resolve */

static void assert_generated(const char *h)
{
    size_t i;
    assert_non_null(h);
    assert_int_equal(strlen(h), strlen("OOCSIClient_") + 15);
    assert_memory_equal(h, "OOCSIClient_", 12);
    for (i = 12; i < 27; i++) {
        assert_non_null(strchr("0123456789abcdef", h[i]));
    }
    assert_int_equal(oocsi__handle_check(h), OOCSI_OK);
}

static void test_resolve_generates(void **state)
{
    oocsi__rng r;
    char *a, *b, *c;
    (void)state;
    oocsi__rng_seed_with(&r, 1);
    a = oocsi__handle_resolve(NULL, &r);
    b = oocsi__handle_resolve("", &r);
    c = oocsi__handle_resolve(NULL, NULL); /* own rng */
    assert_generated(a);
    assert_generated(b);
    assert_generated(c);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
}

static void test_resolve_generated_uses_all_hex_digits(void **state)
{
    oocsi__rng r;
    int seen[16] = {0}, i, j;
    (void)state;
    oocsi__rng_seed_with(&r, 99);
    for (i = 0; i < 50; i++) {
        char *h = oocsi__handle_resolve(NULL, &r);
        assert_generated(h);
        for (j = 12; j < 27; j++) {
            seen[strchr("0123456789abcdef", h[j]) - "0123456789abcdef"]++;
        }
        free(h);
    }
    for (i = 0; i < 16; i++) {
        assert_true(seen[i] > 0);
    }
}

static void test_resolve_copies_without_hash(void **state)
{
    oocsi__rng r;
    const char *in = "alice:secret";
    char *h;
    (void)state;
    oocsi__rng_seed_with(&r, 1);
    h = oocsi__handle_resolve(in, &r);
    assert_non_null(h);
    assert_ptr_not_equal(h, in);
    assert_string_equal(h, in);
    free(h);
}

static void test_resolve_replaces_hashes(void **state)
{
    oocsi__rng r;
    int seen[10] = {0}, i;
    (void)state;
    oocsi__rng_seed_with(&r, 5);
    for (i = 0; i < 500; i++) {
        char *h = oocsi__handle_resolve("x_h###:p#", &r);
        assert_non_null(h);
        assert_int_equal(strlen(h), 9);
        assert_memory_equal(h, "x_h", 3);
        assert_true(h[3] >= '0' && h[3] <= '9');
        assert_true(h[4] >= '0' && h[4] <= '9');
        assert_true(h[5] >= '0' && h[5] <= '9');
        assert_int_equal(h[6], ':');
        assert_int_equal(h[7], 'p');
        assert_true(h[8] >= '0' && h[8] <= '9');
        assert_null(strchr(h, '#'));
        seen[h[3] - '0']++;
        free(h);
    }
    for (i = 0; i < 10; i++) {
        /* expected 50 each */
        assert_in_range(seen[i], 15, 100);
    }
}

static void test_resolve_only_hashes(void **state)
{
    oocsi__rng r;
    char *h;
    (void)state;
    oocsi__rng_seed_with(&r, 3);
    h = oocsi__handle_resolve("#", &r);
    assert_non_null(h);
    assert_int_equal(strlen(h), 1);
    assert_true(h[0] >= '0' && h[0] <= '9');
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_xorshift64star_reference),
        cmocka_unit_test(test_rng_seed_with_is_deterministic),
        cmocka_unit_test(test_rng_never_zero_state),
        cmocka_unit_test(test_rng_seed_from_os),
        cmocka_unit_test(test_rng_bits_look_random),
        cmocka_unit_test(test_check_accepts),
        cmocka_unit_test(test_check_rejects_characters),
        cmocka_unit_test(test_check_rejects_empty_parts),
        cmocka_unit_test(test_check_length),
        cmocka_unit_test(test_name_len),
        cmocka_unit_test(test_resolve_generates),
        cmocka_unit_test(test_resolve_generated_uses_all_hex_digits),
        cmocka_unit_test(test_resolve_copies_without_hash),
        cmocka_unit_test(test_resolve_replaces_hashes),
        cmocka_unit_test(test_resolve_only_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
