/*
 * variables: two clients keep a variable in sync over a channel, as the
 * Python client's variables example: a value set on one is sent on the
 * channel and read on the other (numbers and text). The second variable
 * also says when it changed and whether a peer changed it (as the Java
 * client's variables do), and falls back to a reference value when no peer
 * updated it for a while.
 *
 * Then the two ways a variable publishes: as the Python client (the value as
 * set; every receiver applies its own bounds) or, after
 * oocsi_variable_set_mode(v, OOCSI_VARIABLE_JAVA), as the Java client (the
 * value after its own bounds and sigma rule, plus a "handle" key). Last, an
 * outgoing throttle: of a burst of sets only the latest is sent, when the
 * period ends.
 *
 *   oocsi-example-variables [server]
 *
 * server: a URL, host or host:port (default localhost:4444).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <time.h>

#include <oocsi/oocsi.h>

static oocsi_client *connect_or_die(const char *handle, const char *server)
{
    oocsi_client *c;
    if (oocsi_connect_to(&c, handle, server) != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return NULL;
    }
    oocsi_loop_start(c); /* a background thread runs each client */
    return c;
}

/* Gives the value time to travel: waits until v reads want (at most 2 s). */
static double await(oocsi_variable *v, double want)
{
    for (int i = 0; i < 200 && oocsi_variable_get(v) != want; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return oocsi_variable_get(v);
}

/* Runs after every change: remote on the loop thread, local on the caller's. */
static void changed(oocsi_variable *v, int remote, void *user)
{
    (void)user;
    printf("second variable changed (%s): %g\n", remote ? "by a peer" : "here", oocsi_variable_get(v));
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    oocsi_client *responder = connect_or_die("variable1", server);
    oocsi_client *caller = responder ? connect_or_die("variable2", server) : NULL;
    if (!caller) {
        oocsi_close(responder);
        return 1;
    }
    oocsi_variable *v1 = oocsi_variable_new(responder, "colorChannel", "color");
    oocsi_variable *v2 = oocsi_variable_new(caller, "colorChannel", "color");
    oocsi_variable_on_change(v2, changed, NULL);
    oocsi_variable_reference(v2, 0, 60000); /* 0 until a value came, and after a minute without one */

    oocsi_variable_set(v1, 100); /* a number */
    printf("value of first variable: %g\n", oocsi_variable_get(v1));
    printf("value of second variable: %g\n", await(v2, 100));

    oocsi_variable_set(v2, 200.1);
    printf("value of second variable: %g\n", oocsi_variable_get(v2));
    printf("value of first variable: %g\n", await(v1, 200.1));

    oocsi_variable_set_string(v1, "hello world"); /* text */
    char *text = oocsi_variable_dup_string(v1);
    printf("value of first variable: %s\n", text ? text : "(none)");
    oocsi_free(text);

    /* Publication modes: the first client caps "level" at 150. */
    oocsi_variable *capped = oocsi_variable_new(responder, "levelChannel", "level");
    oocsi_variable *level = oocsi_variable_new(caller, "levelChannel", "level");
    oocsi_variable_max(capped, 150);
    oocsi_variable_set(capped, 180); /* Python mode (the default): 180 goes out */
    printf("python mode: here %g, the peer reads %g\n", oocsi_variable_get(capped), await(level, 180));
    oocsi_variable_set_mode(capped, OOCSI_VARIABLE_JAVA);
    oocsi_variable_set(capped, 190); /* Java mode: the capped 150 goes out */
    printf("java mode: here %g, the peer reads %g\n", oocsi_variable_get(capped), await(level, 150));

    /* Throttle: at most one publication per 300 ms. The burst comes within
     * 300 ms of the 190 above, so the sets are held and only the latest, 5,
     * is sent when the period ends. */
    oocsi_variable_throttle(capped, 300);
    for (int i = 1; i <= 5; i++)
        oocsi_variable_set(capped, i);
    printf("throttled: here %g, the peer reads %g\n", oocsi_variable_get(capped), await(level, 5));

    oocsi_variable_free(capped);
    oocsi_variable_free(level);
    oocsi_variable_free(v1);
    oocsi_variable_free(v2);
    oocsi_close(caller);
    oocsi_close(responder);
    return 0;
}
