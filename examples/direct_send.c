/*
 * direct_send: sends a message straight to another client once a second.
 *
 *   oocsi-example-direct-send [url] [handle] [recipient]
 *
 *   url        server to connect to (default tcp://localhost:4444)
 *   handle     this client's name (default Alice)
 *   recipient  the handle to send to (default Bob)
 *
 * Start direct_receive first (it is "Bob" by default). Stop with Ctrl-C.
 *
 * A recipient is either a channel or a client handle; for the server they
 * are the same thing. This example builds its messages as JSON text and
 * sends them with oocsi_send_json().
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
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

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    const char *handle = argc > 2 ? argv[2] : "Alice";
    const char *recipient = argc > 3 ? argv[3] : "Bob";

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    oocsi_options *opts = oocsi_options_new();
    if (opts == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int rc = oocsi_options_set_handle(opts, handle);
    if (rc == OOCSI_OK) {
        rc = oocsi_options_add_endpoint(opts, url);
    }
    oocsi_client *client = NULL;
    if (rc == OOCSI_OK) {
        rc = oocsi_connect(&client, opts);
    }
    oocsi_options_free(opts);
    if (rc == OOCSI_ERR_HANDLE_TAKEN) {
        fprintf(stderr, "the handle %s is already in use on %s: pick another one\n", handle, url);
        return 1;
    }
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, oocsi_strerror(rc));
        return 1;
    }
    printf("connected to %s as %s; sending to %s every second (Ctrl-C stops)\n", url, oocsi_handle(client), recipient);

    int count = 0;
    int64_t next_send = now_ms();
    while (!stop_requested) {
        int64_t now = now_ms();
        if (now >= next_send) {
            char json[128];
            snprintf(json, sizeof json, "{\"color\":%d,\"note\":\"message %d from %s\"}", (count * 25) % 256, count,
                     oocsi_handle(client));
            rc = oocsi_send_json(client, recipient, json);
            if (rc == OOCSI_OK) {
                printf("sent to %s: %s\n", recipient, json);
            } else {
                printf("send failed: %s\n", oocsi_strerror(rc));
            }
            count++;
            next_send += 1000;
            continue;
        }
        rc = oocsi_loop(client, (int)(next_send - now));
        if (rc == OOCSI_ERR_CLOSED) {
            fprintf(stderr, "connection closed: %s\n", oocsi_last_error(client));
            break;
        }
    }

    printf("sent %d messages, closing\n", count);
    oocsi_close(client);
    return rc == OOCSI_ERR_CLOSED ? 1 : 0;
}
