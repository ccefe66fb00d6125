/*
 * Integration: payload forms beyond JSON objects, on every transport: plain
 * text as the Java client sends it (oocsi_send_text) and the typed array
 * getters.
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* oocsi_send_text arrives as {"data": text}, on every transport, with line
 * breaks, quotes and non-ASCII intact; invalid UTF-8 is refused. */
static void test_send_text(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "plaintext");
    it_inbox *in = it_inbox_new();
    oocsi_client *b = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    oocsi_client *a = it_connect(NULL);
    const char *text = "hello \"world\"\nline two, caf\xc3\xa9";
    assert_int_equal(oocsi_send_text(a, ch, text), OOCSI_OK);
    assert_int_equal(it_inbox_wait(in, 1, IT_TIMEOUT), 1);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, 0)->data, "data");
    assert_true(cJSON_IsString(d));
    assert_string_equal(d->valuestring, text);
    assert_int_equal(oocsi_send_text(a, ch, "bad \xff"), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "UTF-8"));
    assert_int_equal(oocsi_send_text(a, ch, NULL), OOCSI_ERR_INVAL);
}

/* Typed array getters, read inside the handler (strings are borrowed). */
typedef struct arrays {
    pthread_mutex_t lock;
    int done;
    int rc_i, rc_d, rc_s, rc_len, rc_mixed, rc_frac, rc_scalar, rc_missing, rc_null;
    size_t n_i, n_d, n_s, n_len;
    int64_t i[4];
    double d[2];
    char s[3][16];
} arrays;

static void arrays_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    arrays *a = user;
    const char *s[3] = {NULL, NULL, NULL};
    size_t n = 0;
    pthread_mutex_lock(&a->lock);
    a->rc_i = oocsi_message_get_int_array(m, "ints", a->i, 4, &a->n_i);
    a->rc_d = oocsi_message_get_double_array(m, "ints", a->d, 2, &a->n_d); /* 3 elements, 2 wanted */
    a->rc_s = oocsi_message_get_string_array(m, "strs", s, 3, &a->n_s);
    for (int k = 0; k < 3; k++)
        snprintf(a->s[k], sizeof a->s[k], "%s", s[k] ? s[k] : "(null)");
    a->rc_len = oocsi_message_get_double_array(m, "ints", NULL, 0, &a->n_len);
    a->rc_mixed = oocsi_message_get_int_array(m, "mixed", a->i + 3, 1, &n);
    a->rc_frac = oocsi_message_get_int_array(m, "fracs", a->i + 3, 1, &n);
    a->rc_scalar = oocsi_message_get_int_array(m, "one", a->i + 3, 1, &n);
    a->rc_missing = oocsi_message_get_int_array(m, "none", a->i + 3, 1, &n);
    a->rc_null = oocsi_message_get_int_array(m, "ints", a->i, 4, NULL);
    a->done = 1;
    pthread_mutex_unlock(&a->lock);
    it_notify();
}

static int arrays_done(void *ctx)
{
    arrays *a = ctx;
    pthread_mutex_lock(&a->lock);
    int d = a->done;
    pthread_mutex_unlock(&a->lock);
    return d;
}

static void test_array_getters(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "arrays");
    static arrays a;
    memset(&a, 0, sizeof a);
    pthread_mutex_init(&a.lock, NULL);
    oocsi_client *tx = it_connect_bg(NULL);
    oocsi_client *rx = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(rx, ch, arrays_handler, &a), OOCSI_OK);
    assert_int_equal(oocsi_send_json(tx, ch,
                                     "{\"ints\":[1,-2,9007199254740991],\"strs\":[\"a\",\"b\\u00e9\"],"
                                     "\"mixed\":[1,\"x\"],\"fracs\":[1.5],\"one\":1}"),
                     OOCSI_OK);
    assert_true(it_wait_until(arrays_done, &a, IT_TIMEOUT));
    it_close(rx);
    pthread_mutex_destroy(&a.lock);
    assert_int_equal(a.rc_i, OOCSI_OK);
    assert_int_equal(a.n_i, 3);
    assert_true(a.i[0] == 1 && a.i[1] == -2 && a.i[2] == 9007199254740991LL);
    assert_int_equal(a.rc_d, OOCSI_OK);
    assert_int_equal(a.n_d, 3); /* the length, though only 2 were written */
    IT_ASSERT_NEAR(a.d[1], -2.0, 1e-12);
    assert_int_equal(a.rc_s, OOCSI_OK);
    assert_int_equal(a.n_s, 2);
    assert_string_equal(a.s[0], "a");
    assert_string_equal(a.s[1], "b\xc3\xa9");
    assert_string_equal(a.s[2], "(null)"); /* nothing written past the array */
    assert_int_equal(a.rc_len, OOCSI_OK);
    assert_int_equal(a.n_len, 3);
    assert_int_equal(a.rc_mixed, OOCSI_ERR_UNSUPPORTED);
    assert_int_equal(a.rc_frac, OOCSI_ERR_UNSUPPORTED);
    assert_int_equal(a.rc_scalar, OOCSI_ERR_UNSUPPORTED);
    assert_int_equal(a.rc_missing, OOCSI_ERR_NOT_FOUND);
    assert_int_equal(a.rc_null, OOCSI_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_send_text),
        IT_TEST(test_array_getters),
    };
    return cmocka_run_group_tests_name("integration.payloads", tests, it_group_setup, it_group_teardown);
}
