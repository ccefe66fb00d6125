/* Unit tests: bounded FIFO of outgoing commands (core/util.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oocsi/codec.h"
#include "queue.h"

static oocsi__qitem *item(const char *arg, const char *payload)
{
    oocsi__qitem *it = oocsi__qitem_new(OOCSI_CMD_SEND, arg, payload, payload ? strlen(payload) : 0);
    assert_non_null(it);
    return it;
}

static void test_item_copies(void **state)
{
    char arg[] = "room";
    char payload[] = "{\"a\":1}";
    oocsi__qitem *it;
    (void)state;
    it = oocsi__qitem_new(OOCSI_CMD_SEND, arg, payload, strlen(payload));
    assert_non_null(it);
    assert_ptr_not_equal(it->arg, arg);
    assert_ptr_not_equal(it->payload, payload);
    arg[0] = 'X';
    payload[1] = 'X';
    assert_string_equal(it->arg, "room");
    assert_string_equal(it->payload, "{\"a\":1}");
    assert_int_equal(it->payload_len, 7);
    assert_int_equal(it->type, OOCSI_CMD_SEND);
    assert_null(it->next);
    oocsi__qitem_free(it);
}

static void test_item_payload_len_is_respected(void **state)
{
    oocsi__qitem *it;
    (void)state;
    /* only payload_len bytes are copied, and the copy is NUL-terminated */
    it = oocsi__qitem_new(OOCSI_CMD_SEND, "r", "{}trailing", 2);
    assert_non_null(it);
    assert_int_equal(it->payload_len, 2);
    assert_string_equal(it->payload, "{}");
    oocsi__qitem_free(it);
}

static void test_item_null_fields(void **state)
{
    oocsi__qitem *it;
    (void)state;
    it = oocsi__qitem_new(OOCSI_CMD_SUBSCRIBE, "chan", NULL, 123);
    assert_non_null(it);
    assert_null(it->payload);
    assert_int_equal(it->payload_len, 0);
    assert_string_equal(it->arg, "chan");
    oocsi__qitem_free(it);
    it = oocsi__qitem_new(OOCSI_CMD_PING, NULL, NULL, 0);
    assert_non_null(it);
    assert_null(it->arg);
    assert_int_equal(it->type, OOCSI_CMD_PING);
    oocsi__qitem_free(it);
    oocsi__qitem_free(NULL);
}

static void test_fifo_order_and_counters(void **state)
{
    oocsi__queue q = {0};
    oocsi__qitem *it;
    int i;
    (void)state;
    for (i = 0; i < 5; i++) {
        char arg[8];
        snprintf(arg, sizeof arg, "c%d", i);
        assert_int_equal(oocsi__queue_push(&q, item(arg, "{\"k\":1}")), OOCSI_OK);
        assert_int_equal(q.count, (size_t)i + 1);
        assert_int_equal(q.bytes, ((size_t)i + 1) * (2 + 7));
    }
    for (i = 0; i < 5; i++) {
        char arg[8];
        snprintf(arg, sizeof arg, "c%d", i);
        it = oocsi__queue_pop(&q);
        assert_non_null(it);
        assert_null(it->next);
        assert_string_equal(it->arg, arg);
        assert_int_equal(q.count, 4 - (size_t)i);
        assert_int_equal(q.bytes, (4 - (size_t)i) * 9);
        oocsi__qitem_free(it);
    }
    assert_null(oocsi__queue_pop(&q));
    assert_null(q.head);
    assert_null(q.tail);
    /* usable again after being emptied (tail reset) */
    assert_int_equal(oocsi__queue_push(&q, item("again", NULL)), OOCSI_OK);
    assert_int_equal(q.bytes, 5);
    it = oocsi__queue_pop(&q);
    assert_string_equal(it->arg, "again");
    oocsi__qitem_free(it);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
}

static void test_max_count(void **state)
{
    oocsi__queue q = {0};
    oocsi__qitem *extra;
    oocsi__qitem *it;
    (void)state;
    q.max_count = 3;
    assert_int_equal(oocsi__queue_push(&q, item("a", NULL)), OOCSI_OK);
    assert_int_equal(oocsi__queue_push(&q, item("b", NULL)), OOCSI_OK);
    assert_int_equal(oocsi__queue_push(&q, item("c", NULL)), OOCSI_OK);
    extra = item("d", NULL);
    assert_int_equal(oocsi__queue_push(&q, extra), OOCSI_ERR_QUEUE_FULL);
    assert_int_equal(q.count, 3);
    assert_int_equal(q.bytes, 3);
    assert_ptr_not_equal(q.tail, extra);
    /* not taken: still ours; room after a pop */
    it = oocsi__queue_pop(&q);
    oocsi__qitem_free(it);
    assert_int_equal(oocsi__queue_push(&q, extra), OOCSI_OK);
    assert_ptr_equal(q.tail, extra);
    oocsi__queue_clear(&q);
}

static void test_max_bytes_exact_fit(void **state)
{
    oocsi__queue q = {0};
    oocsi__qitem *big;
    (void)state;
    q.max_bytes = 20;
    /* "r" + 9 = 10 bytes each */
    assert_int_equal(oocsi__queue_push(&q, item("r", "123456789")), OOCSI_OK);
    assert_int_equal(oocsi__queue_push(&q, item("r", "123456789")), OOCSI_OK);
    assert_int_equal(q.bytes, 20); /* exactly max: allowed */
    big = item("r", "1");
    assert_int_equal(oocsi__queue_push(&q, big), OOCSI_ERR_QUEUE_FULL);
    oocsi__qitem_free(big);
    /* a zero-size item still fits (bytes + 0 is not > max) */
    assert_int_equal(oocsi__queue_push(&q, oocsi__qitem_new(OOCSI_CMD_PING, NULL, NULL, 0)), OOCSI_OK);
    assert_int_equal(q.count, 3);
    oocsi__queue_clear(&q);

    /* a single item larger than max_bytes is refused even when empty */
    big = item("r", "123456789012345678901");
    assert_int_equal(oocsi__queue_push(&q, big), OOCSI_ERR_QUEUE_FULL);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    oocsi__qitem_free(big);
}

static void test_unbounded(void **state)
{
    oocsi__queue q = {0};
    int i;
    (void)state;
    for (i = 0; i < 10000; i++) {
        assert_int_equal(oocsi__queue_push(&q, item("chan", "{}")), OOCSI_OK);
    }
    assert_int_equal(q.count, 10000);
    assert_int_equal(q.bytes, 60000);
    oocsi__queue_clear(&q);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    assert_null(q.head);
    assert_null(q.tail);
}

static void test_push_front_ignores_bounds(void **state)
{
    oocsi__queue q = {0};
    oocsi__qitem *it, *extra;
    (void)state;
    q.max_count = 2;
    q.max_bytes = 4;
    assert_int_equal(oocsi__queue_push(&q, item("bb", NULL)), OOCSI_OK);
    assert_int_equal(oocsi__queue_push(&q, item("cc", NULL)), OOCSI_OK);
    oocsi__queue_push_front(&q, item("aaaa", NULL));
    assert_int_equal(q.count, 3);
    assert_int_equal(q.bytes, 8);
    /* over both bounds now: push refuses, no size_t wrap-around */
    extra = item("", NULL);
    q.max_count = 10;
    assert_int_equal(oocsi__queue_push(&q, extra), OOCSI_ERR_QUEUE_FULL);
    oocsi__qitem_free(extra);
    it = oocsi__queue_pop(&q);
    assert_string_equal(it->arg, "aaaa");
    oocsi__qitem_free(it);
    it = oocsi__queue_pop(&q);
    assert_string_equal(it->arg, "bb");
    oocsi__qitem_free(it);
    assert_int_equal(q.bytes, 2);
    assert_ptr_equal(q.head, q.tail);
    oocsi__queue_clear(&q);
}

static void test_push_front_on_empty_sets_tail(void **state)
{
    oocsi__queue q = {0};
    oocsi__qitem *it;
    (void)state;
    oocsi__queue_push_front(&q, item("x", "{}"));
    assert_non_null(q.head);
    assert_ptr_equal(q.head, q.tail);
    assert_int_equal(oocsi__queue_push(&q, item("y", NULL)), OOCSI_OK);
    it = oocsi__queue_pop(&q);
    assert_string_equal(it->arg, "x");
    oocsi__qitem_free(it);
    it = oocsi__queue_pop(&q);
    assert_string_equal(it->arg, "y");
    oocsi__qitem_free(it);
    assert_null(q.tail);
}

static void test_put_back_keeps_order(void **state)
{
    oocsi__queue q = {0};
    oocsi__qitem *a, *b, *it;
    (void)state;
    assert_int_equal(oocsi__queue_push(&q, item("1", NULL)), OOCSI_OK);
    assert_int_equal(oocsi__queue_push(&q, item("2", NULL)), OOCSI_OK);
    assert_int_equal(oocsi__queue_push(&q, item("3", NULL)), OOCSI_OK);
    a = oocsi__queue_pop(&q);
    b = oocsi__queue_pop(&q);
    /* unsent: put back newest first */
    oocsi__queue_push_front(&q, b);
    oocsi__queue_push_front(&q, a);
    it = oocsi__queue_pop(&q);
    assert_string_equal(it->arg, "1");
    oocsi__qitem_free(it);
    it = oocsi__queue_pop(&q);
    assert_string_equal(it->arg, "2");
    oocsi__qitem_free(it);
    it = oocsi__queue_pop(&q);
    assert_string_equal(it->arg, "3");
    oocsi__qitem_free(it);
    assert_int_equal(q.count, 0);
}

static void test_clear_keeps_limits(void **state)
{
    oocsi__queue q = {0};
    (void)state;
    q.max_count = 1;
    q.max_bytes = 100;
    assert_int_equal(oocsi__queue_push(&q, item("a", "{\"x\":\"y\"}")), OOCSI_OK);
    oocsi__queue_clear(&q);
    assert_int_equal(q.max_count, 1);
    assert_int_equal(q.max_bytes, 100);
    assert_int_equal(oocsi__queue_push(&q, item("b", NULL)), OOCSI_OK);
    oocsi__queue_clear(&q);
    oocsi__queue_clear(&q); /* idempotent */
}

static void test_null_arguments(void **state)
{
    oocsi__queue q = {0};
    oocsi__qitem *it = item("a", NULL);
    (void)state;
    assert_int_equal(oocsi__queue_push(NULL, it), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__queue_push(&q, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(q.count, 0);
    oocsi__queue_push_front(NULL, it);
    oocsi__queue_push_front(&q, NULL);
    assert_int_equal(q.count, 0);
    assert_null(oocsi__queue_pop(NULL));
    oocsi__queue_clear(NULL);
    oocsi__qitem_free(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item_copies),
        cmocka_unit_test(test_item_payload_len_is_respected),
        cmocka_unit_test(test_item_null_fields),
        cmocka_unit_test(test_fifo_order_and_counters),
        cmocka_unit_test(test_max_count),
        cmocka_unit_test(test_max_bytes_exact_fit),
        cmocka_unit_test(test_unbounded),
        cmocka_unit_test(test_push_front_ignores_bounds),
        cmocka_unit_test(test_push_front_on_empty_sets_tail),
        cmocka_unit_test(test_put_back_keeps_order),
        cmocka_unit_test(test_clear_keeps_limits),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
