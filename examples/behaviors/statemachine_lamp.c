/*
 * statemachine_lamp: a lamp as a state machine (off, on, dimmed) driven by
 * messages: a switch client sends {"state": name} to channel "lamp", the
 * lamp client's handler moves its machine there. Only the changes the lamp
 * allows happen (off -> on -> dimmed -> off, and on -> off); the others are
 * refused. The machine itself sends nothing, as the Java OOCSIStateMachine.
 *
 *   oocsi-example-statemachine-lamp [server]
 *
 * server: a URL, host or host:port (default localhost:4444).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <oocsi/behavior.h>
#include <oocsi/oocsi.h>

static void enter(oocsi_statemachine *m, const char *state, void *user)
{
    (void)m;
    (void)user;
    printf("lamp %s\n", state);
}

static void leave(oocsi_statemachine *m, const char *state, void *user)
{
    (void)m;
    (void)user;
    printf("  (leaving %s)\n", state);
}

static atomic_int handled; /* commands the lamp took or refused */

/* Runs on the lamp client's loop thread. */
static void on_command(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    const char *to = oocsi_message_get_string(msg, "state");
    if (to && oocsi_statemachine_set(user, to) != OOCSI_OK)
        printf("lamp refuses: %s\n", oocsi_last_error(NULL));
    handled++;
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    oocsi_statemachine *m = oocsi_statemachine_new();
    oocsi_statemachine_add_state(m, "off", enter, NULL, leave, NULL);
    oocsi_statemachine_add_state(m, "on", enter, NULL, leave, NULL);
    oocsi_statemachine_add_state(m, "dimmed", enter, NULL, leave, NULL);
    oocsi_statemachine_add_transition(m, "off", "on");
    oocsi_statemachine_add_transition(m, "on", "dimmed");
    oocsi_statemachine_add_transition(m, "dimmed", "off");
    oocsi_statemachine_add_transition(m, "on", "off");
    oocsi_statemachine_set(m, "off");

    oocsi_client *lamp = NULL, *sw = NULL;
    int rc = 1;
    if (oocsi_connect_to(&lamp, "sm_lamp", server) != OOCSI_OK ||
        oocsi_connect_to(&sw, "sm_switch", server) != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        goto out;
    }
    oocsi_loop_start(lamp);
    if (oocsi_subscribe(lamp, "lamp", on_command, m) != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        goto out;
    }
    const char *commands[] = {"on", "dimmed", "on", "off", "on", "off"}; /* dimmed -> on is refused */
    int n = (int)(sizeof commands / sizeof commands[0]);
    for (int i = 0; i < n; i++)
        oocsi_send_jsonf(sw, "lamp", "{\"state\": \"%s\"}", commands[i]);
    for (int i = 0; i < 500 && handled < n; i++) { /* at most 5 s */
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    oocsi_loop_stop(lamp); /* the loop thread no longer touches m */
    printf("lamp ends %s after %d commands\n", oocsi_statemachine_get(m), handled);
    rc = handled == n ? 0 : 1;
out:
    oocsi_close(sw);
    oocsi_close(lamp);
    oocsi_statemachine_free(m);
    return rc;
}
