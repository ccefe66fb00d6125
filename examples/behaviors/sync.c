/*
 * sync: two members pulse together. The second joins half a period later;
 * within some periods their pulses fall together, as Java OOCSISync members
 * on the same channel would pulse with them.
 *
 *   oocsi-example-sync [server]
 *
 * server: a URL, host or host:port (default localhost:4444).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include <oocsi/behavior.h>
#include <oocsi/oocsi.h>

#define PERIOD_MS 400

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static atomic_int together; /* pulses of B at which A was within a step */
static oocsi_sync *a_sync;

/* A's steps left until its next pulse, on the 21-step cycle. */
static int a_steps(void)
{
    return ((oocsi_sync_progress(a_sync) % 21) + 21) % 21;
}

/* Runs on B's loop thread at each of B's pulses. */
static void b_pulse(oocsi_sync *s, void *user)
{
    (void)user;
    int steps = a_steps(); /* B just started over: is A at 19, 20 or 0? */
    int close = steps >= 19 || steps == 0;
    printf("B pulses (cycle %d), A is %s\n", oocsi_sync_cycle(s), close ? "with it" : "elsewhere");
    if (close)
        atomic_fetch_add(&together, 1);
    else
        atomic_store(&together, 0);
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    oocsi_client *a = NULL, *b = NULL;
    oocsi_sync *b_sync = NULL;
    int rc = 1;
    if (oocsi_connect_to(&a, "pulse_A_###", server) != OOCSI_OK ||
        oocsi_connect_to(&b, "pulse_B_###", server) != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        goto out;
    }
    oocsi_loop_start(a);
    oocsi_loop_start(b);
    a_sync = oocsi_sync_new(a, "heartbeat", PERIOD_MS, NULL, NULL); /* channel "heartbeat_sync" */
    sleep_ms(PERIOD_MS / 2);
    b_sync = a_sync ? oocsi_sync_new(b, "heartbeat", PERIOD_MS, b_pulse, NULL) : NULL;
    if (!b_sync) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        goto out;
    }
    /* until three pulses in a row fall together (at most 15 s) */
    for (int t = 0; t < 1500 && atomic_load(&together) < 3; t++)
        sleep_ms(10);
    rc = atomic_load(&together) >= 3 ? 0 : 1;
    printf(rc == 0 ? "in step\n" : "not in step\n");
out:
    oocsi_sync_free(b_sync); /* stops B's pulses before A goes */
    oocsi_sync_free(a_sync);
    oocsi_close(a);
    oocsi_close(b);
    return rc;
}
