/*
 * Unit tests: the pieces the group behaviours share (core/features/
 * groupwire.c): derived channel names, argument checks, Java's rounding,
 * Java-like integer reading, the bounded peer table and the histogram that
 * gather shows and the majority consensus takes its answer from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "groupwire.h"

static void channel_names(void **state)
{
    (void)state;
    char *a = oocsi__beh_channel("room", "light", "gather");
    char *b = oocsi__beh_channel("room", NULL, "sync");
    assert_string_equal(a, "room_light_gather");
    assert_string_equal(b, "room_sync");
    free(a);
    free(b);
}

static void argument_checks(void **state)
{
    (void)state;
    oocsi_client *fake = (oocsi_client *)&fake; /* never dereferenced */
    assert_int_equal(oocsi__beh_check("f", NULL, "ch", "k", 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__beh_check("f", fake, NULL, "k", 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__beh_check("f", fake, "", "k", 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__beh_check("f", fake, "ch", NULL, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi__beh_check("f", fake, "ch", NULL, 0), OOCSI_OK);
    assert_int_equal(oocsi__beh_check("f", fake, "c h", "k", 1), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "channel \"c h\""));
    assert_int_equal(oocsi__beh_check("f", fake, "ch", "k\t", 1), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "key"));
    assert_int_equal(oocsi__beh_check("f", fake, "ch", "k", 1), OOCSI_OK);
}

static void java_rounding_and_ints(void **state)
{
    (void)state;
    /* Math.round: halves go up, also below zero */
    assert_int_equal(oocsi__beh_round(0.5), 1);
    assert_int_equal(oocsi__beh_round(0.49), 0);
    assert_int_equal(oocsi__beh_round(-0.5), 0);
    assert_int_equal(oocsi__beh_round(-0.51), -1);
    assert_int_equal(oocsi__beh_round(18.0), 18);
    cJSON *d = cJSON_Parse("{\"a\":7.9,\"b\":-3.2,\"s\":\"4\",\"big\":1e12}");
    assert_int_equal(oocsi__beh_int(d, "a", -1), 7);
    assert_int_equal(oocsi__beh_int(d, "b", -1), -3);
    assert_int_equal(oocsi__beh_int(d, "s", -1), -1);
    assert_int_equal(oocsi__beh_int(d, "big", -1), -1);
    assert_int_equal(oocsi__beh_int(d, "none", 5), 5);
    cJSON_Delete(d);
    uint64_t rng = oocsi__beh_seed(&rng);
    for (int i = 0; i < 1000; i++) {
        double r = oocsi__beh_random(&rng);
        assert_true(r >= 0 && r < 1);
    }
}

static void table_is_bounded(void **state)
{
    (void)state;
    cJSON *t = cJSON_CreateObject(), *v = cJSON_CreateNumber(1);
    char name[32];
    for (int i = 0; i < OOCSI__BEH_MAX_PEERS; i++) {
        snprintf(name, sizeof name, "p%d", i);
        assert_int_equal(oocsi__beh_table_put(t, name, v), OOCSI_OK);
    }
    assert_int_equal(oocsi__beh_table_put(t, "one_too_many", v), OOCSI_ERR_QUEUE_FULL);
    /* a known name is still replaced */
    cJSON *two = cJSON_CreateNumber(2);
    assert_int_equal(oocsi__beh_table_put(t, "p0", two), OOCSI_OK);
    assert_int_equal(cJSON_GetObjectItem(t, "p0")->valueint, 2);
    assert_int_equal(cJSON_GetArraySize(t), OOCSI__BEH_MAX_PEERS);
    cJSON_Delete(two);
    cJSON_Delete(v);
    cJSON_Delete(t);
}

static void histogram_order(void **state)
{
    (void)state;
    cJSON *t = cJSON_Parse("{\"a\":\"x\",\"b\":2,\"c\":\"x\",\"d\":2.0,\"e\":true,\"f\":\"w\"}");
    cJSON *h = oocsi__beh_histogram(t);
    char *s = cJSON_PrintUnformatted(h);
    /* counts first, then the JSON text: "\"x\"" < "2", "\"w\"" < "true" */
    assert_string_equal(s, "[{\"value\":\"x\",\"count\":2},{\"value\":2,\"count\":2},{\"value\":\"w\",\"count\":1},"
                           "{\"value\":true,\"count\":1}]");
    cJSON_free(s);
    cJSON_Delete(h);
    cJSON *empty = cJSON_CreateObject();
    h = oocsi__beh_histogram(empty);
    assert_int_equal(cJSON_GetArraySize(h), 0);
    cJSON_Delete(h);
    cJSON_Delete(empty);
    cJSON_Delete(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channel_names),    cmocka_unit_test(argument_checks), cmocka_unit_test(java_rounding_and_ints),
        cmocka_unit_test(table_is_bounded), cmocka_unit_test(histogram_order),
    };
    return cmocka_run_group_tests_name("unit.groupwire", tests, NULL, NULL);
}
