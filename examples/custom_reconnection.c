/*
 * custom_reconnection: bounded reconnect attempts and connection state
 * notifications.
 *
 *   oocsi-example-custom-reconnection [url] [handle] [max_attempts]
 *
 *   url           server to connect to (default tcp://localhost:4444)
 *   handle        this client's name (default custom_reconnection_###)
 *   max_attempts  reconnect attempts in a row before giving up (default 10;
 *                 a negative number retries forever, 0 never reconnects)
 *
 * When an established connection drops, the client reconnects on its own
 * with exponential backoff (here starting at 250 ms, at most 2 s apart),
 * re-subscribes and then sends what was queued while offline. The state
 * handler reports each change. Try it: start the server, run this, stop the
 * server for a moment and start it again; or stop it for good and watch the
 * client give up.
 *
 * A heartbeat is sent every two seconds; while offline it is queued.
 * Stop with Ctrl-C.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oocsi/oocsi.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs inside oocsi_loop(), like every callback. */
static void on_state(oocsi_client *c, oocsi_state state, int err, void *user)
{
    int *connects = user;
    switch (state) {
    case OOCSI_STATE_CONNECTED:
        /* Called after the first welcome and after every reconnect. */
        printf(">> connected to %s as %s\n", oocsi_endpoint(c), oocsi_handle(c));
        (*connects)++;
        break;
    case OOCSI_STATE_OFFLINE:
        /* err is the code; oocsi_last_error() has the details. */
        printf(">> offline (%s: %s); reconnecting\n", oocsi_strerror(err), oocsi_last_error(c));
        break;
    case OOCSI_STATE_CLOSED:
        printf(">> closed (%s: %s)\n", oocsi_strerror(err), oocsi_last_error(c));
        break;
    }
    fflush(stdout);
}

static void on_heartbeat(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    (void)user;
    int64_t beat;
    if (oocsi_message_get_int(msg, "beat", &beat) == OOCSI_OK) {
        printf("heartbeat %lld from %s\n", (long long)beat, oocsi_message_sender(msg));
    }
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    const char *handle = argc > 2 ? argv[2] : "custom_reconnection_###";
    int max_attempts = argc > 3 ? atoi(argv[3]) : 10;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int connects = 0;
    oocsi_options *opts = oocsi_options_new();
    if (opts == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int rc = oocsi_options_set_handle(opts, handle);
    if (rc == OOCSI_OK) {
        rc = oocsi_options_add_endpoint(opts, url);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_max_reconnect_attempts(opts, max_attempts);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_reconnect_delay(opts, 250, 2000);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_state_handler(opts, on_state, &connects);
    }
    oocsi_client *client = NULL;
    if (rc == OOCSI_OK) {
        /* Reconnecting only starts after a first successful connect: if the
         * server cannot be reached now, this fails right away. */
        rc = oocsi_connect(&client, opts);
    }
    oocsi_options_free(opts);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, oocsi_strerror(rc));
        return 1;
    }
    printf("up to %d reconnect attempts in a row (Ctrl-C stops)\n", max_attempts);

    /* Subscriptions are restored after every reconnect. Heartbeats from
     * other instances of this example show up here. */
    rc = oocsi_subscribe(client, "heartbeats", on_heartbeat, NULL);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot subscribe: %s\n", oocsi_strerror(rc));
        oocsi_close(client);
        return 1;
    }

    int status = 0;
    int beat = 0;
    int64_t next_beat = now_ms();
    while (!stop_requested) {
        int64_t now = now_ms();
        if (now >= next_beat) {
            char json[64];
            snprintf(json, sizeof json, "{\"beat\":%d}", beat);
            rc = oocsi_send_json(client, "heartbeats", json);
            printf("beat %d: %s%s\n", beat, rc == OOCSI_OK ? "" : "not sent: ",
                   rc == OOCSI_OK ? (oocsi_is_connected(client) ? "sent" : "queued (offline)") : oocsi_strerror(rc));
            beat++;
            next_beat += 2000;
            continue;
        }
        rc = oocsi_loop(client, (int)(next_beat - now));
        if (rc == OOCSI_ERR_CLOSED) {
            /* Out of attempts: time to tell the user or try something else. */
            fprintf(stderr, "out of reconnect attempts (%s); exiting\n", oocsi_last_error(client));
            status = 1;
            break;
        }
    }

    printf("connected %d time(s), closing\n", connects);
    oocsi_close(client);
    return status;
}
