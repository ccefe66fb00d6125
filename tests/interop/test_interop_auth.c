/*
 * Password handles against the reference Java server started with
 * "-users alice:secret;bob:pw2;dora:pw3" (users are separated by semicolons): a wrong
 * password is OOCSI_ERR_AUTH, the right one is welcomed under the bare name,
 * which is also what receivers see as the sender.
 */
#include "interop.h"

#include <stdio.h>
#include <string.h>

static int group_setup(void **state)
{
    (void)state;
    return io_server_start((const char *const[]){"-users", "alice:secret;bob:pw2;dora:pw3", NULL});
}

/* Wrong passwords are refused with OOCSI_ERR_AUTH and a message naming the
 * password; the right ones are welcomed as the bare names. */
static void wrong_and_right_password(void **state)
{
    (void)state;
    io_require_server();
    assert_int_equal(io_try_handle("alice:nope"), OOCSI_ERR_AUTH);
    assert_non_null(strstr(oocsi_last_error(NULL), "password"));
    assert_int_equal(io_try_handle("bob:secret"), OOCSI_ERR_AUTH); /* alice's password is not bob's */

    oocsi_client *alice = it_connect_bg("alice:secret");
    assert_string_equal(oocsi_handle(alice), "alice");
    oocsi_client *bob = it_connect_bg("bob:pw2");
    assert_string_equal(oocsi_handle(bob), "bob");

    /* receivers see the bare name as the sender, and can answer it */
    char ch[64];
    it_unique(ch, sizeof ch, "io_auth");
    oocsi_client *rx = io_client("io_auth_rx");
    it_inbox *in = it_inbox_new(), *direct = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(alice, "alice", it_inbox_handler, direct), OOCSI_OK);
    io_send(alice, ch, "{\"from\":\"alice\"}");
    io_assert_str(io_msg(in, 0, "alice", ch)->data, "from", "alice");
    io_send(rx, "alice", "{\"reply\":1}");
    io_assert_num(io_msg(direct, 0, oocsi_handle(rx), "alice")->data, "reply", 1);
}

/* Names the server knows only with their password: an unknown user with a
 * password is refused (OOCSI_ERR_AUTH); a user name that is connected is
 * refused again, with or without its password (the reference server says
 * "password wrong" even for the right password there, the hub "taken");
 * names without a password still connect on a server with user accounts. */
static void taken_and_unknown_names(void **state)
{
    (void)state;
    io_require_server();
    assert_int_equal(io_try_handle("carol:x"), OOCSI_ERR_AUTH);
    oocsi_client *dora = it_connect_bg("dora:pw3"); /* a user no other test connects */
    int again = io_try_handle("dora:pw3");
    if (again != OOCSI_ERR_AUTH && again != OOCSI_ERR_HANDLE_TAKEN)
        fail_msg("a second dora:pw3 got %d (%s)", again, oocsi_strerror(again));
    assert_int_equal(io_try_handle("dora"), OOCSI_ERR_HANDLE_TAKEN);
    assert_true(oocsi_is_connected(dora));

    char plain[64];
    it_unique(plain, sizeof plain, "io_plain");
    oocsi_client *c = it_connect_bg(plain);
    assert_string_equal(oocsi_handle(c), plain);
    char *out = NULL;
    assert_int_equal(oocsi_clients(c, IT_TIMEOUT, &out), OOCSI_OK);
    if (!io_list_has(out, "dora") || !io_list_has(out, plain) || strstr(out, "pw3") != NULL)
        fail_msg("clients: \"%s\"", out);
    oocsi_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(wrong_and_right_password),
        IT_TEST(taken_and_unknown_names),
    };
    return cmocka_run_group_tests_name("interop.java_server_users", tests, group_setup, io_group_teardown);
}
