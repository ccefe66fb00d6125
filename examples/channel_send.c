/*
 * channel_send: publishes a message on a channel once a second.
 *
 *   oocsi-example-channel-send [url] [handle] [channel]
 *
 *   url      server to connect to (default tcp://localhost:4444)
 *   handle   this client's name (default channel_sender_###; every '#'
 *            becomes a random digit, so several senders can run at once)
 *   channel  where to publish (default testchannel)
 *
 * Start channel_receive in another terminal to see the messages arrive.
 * Stop with Ctrl-C.
 *
 * The client is driven from this thread with oocsi_loop(): the library does
 * its I/O, keep-alive and reconnects while we wait between two messages.
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
    const char *handle = argc > 2 ? argv[2] : "channel_sender_###";
    const char *channel = argc > 3 ? argv[3] : "testchannel";

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* 1. Options: who we are and where the server is. */
    oocsi_options *opts = oocsi_options_new();
    if (opts == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int rc = oocsi_options_set_handle(opts, handle);
    if (rc == OOCSI_OK) {
        rc = oocsi_options_add_endpoint(opts, url);
    }
    if (rc != OOCSI_OK) {
        fprintf(stderr, "bad handle or URL: %s\n", oocsi_strerror(rc));
        oocsi_options_free(opts);
        return 1;
    }

    /* 2. Connect: returns once the server has welcomed us (or failed). */
    oocsi_client *client = NULL;
    rc = oocsi_connect(&client, opts);
    oocsi_options_free(opts); /* the client keeps its own copy */
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, oocsi_strerror(rc));
        return 1;
    }
    printf("connected to %s as %s; sending to \"%s\" every second (Ctrl-C stops)\n", url, oocsi_handle(client),
           channel);

    /* 3. Send, then let the library work until the next message is due. */
    int count = 0;
    int64_t next_send = now_ms();
    while (!stop_requested) {
        int64_t now = now_ms();
        if (now >= next_send) {
            /* Message data is always a JSON object. oocsi_send() copies it. */
            cJSON *data = cJSON_CreateObject();
            if (data == NULL) {
                fprintf(stderr, "out of memory\n");
                break;
            }
            cJSON_AddNumberToObject(data, "count", count);
            cJSON_AddNumberToObject(data, "color", (count * 37) % 256);
            cJSON_AddStringToObject(data, "text", "hello from C");

            rc = oocsi_send(client, channel, data);
            char *text = cJSON_PrintUnformatted(data);
            if (rc == OOCSI_OK) {
                printf("sent to %s: %s\n", channel, text ? text : "?");
            } else {
                /* While offline messages are queued; errors mean the queue
                 * is full or the client gave up. */
                printf("send failed: %s\n", oocsi_strerror(rc));
            }
            cJSON_free(text);
            cJSON_Delete(data);
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

    /* 4. Say goodbye to the server and free everything. */
    printf("sent %d messages, closing\n", count);
    oocsi_close(client);
    return rc == OOCSI_ERR_CLOSED ? 1 : 0;
}
