/*
 * channel_receive: subscribes to one or more channels and prints every
 * message that arrives.
 *
 *   oocsi-example-channel-receive [url] [handle] [channel...]
 *
 *   url      server to connect to (default tcp://localhost:4444)
 *   handle   this client's name (default channel_receiver_###)
 *   channel  channels to subscribe to (default testchannel)
 *
 * Pair it with channel_send. Stop with Ctrl-C.
 *
 * One handler serves every channel: oocsi_message_recipient() tells which
 * channel a message came in on.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
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

/* Runs inside oocsi_loop(), on this program's only thread. The message and
 * everything read from it are valid only until the handler returns. */
static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    int *received = user;
    (void)c;
    (*received)++;

    /* The server's timestamp, milliseconds since the epoch. */
    int64_t ms = oocsi_message_timestamp(msg);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char when[16] = "--:--:--";
    if (ms > 0 && localtime_r(&secs, &tm) != NULL) {
        strftime(when, sizeof when, "%H:%M:%S", &tm);
    }

    char *json = oocsi_message_data_json(msg); /* only the payload keys */
    printf("[%s.%03" PRId64 "] %s -> %s: %s\n", when, ms % 1000, oocsi_message_sender(msg),
           oocsi_message_recipient(msg), json ? json : "?");
    oocsi_free(json);

    /* Typed getters read single keys, e.g. what channel_send puts in "color". */
    int64_t color;
    if (oocsi_message_get_int(msg, "color", &color) == OOCSI_OK) {
        printf("    color = %" PRId64 "\n", color);
    }
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    const char *handle = argc > 2 ? argv[2] : "channel_receiver_###";
    const char *default_channel = "testchannel";
    const char *const *channels = argc > 3 ? (const char *const *)&argv[3] : &default_channel;
    int n_channels = argc > 3 ? argc - 3 : 1;

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
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, oocsi_strerror(rc));
        return 1;
    }
    printf("connected to %s as %s\n", url, oocsi_handle(client));

    /* oocsi_subscribe() returns once the server has the subscription, so
     * nothing sent after this point is missed. */
    int received = 0;
    for (int i = 0; i < n_channels; i++) {
        rc = oocsi_subscribe(client, channels[i], on_message, &received);
        if (rc != OOCSI_OK) {
            fprintf(stderr, "cannot subscribe to %s: %s\n", channels[i], oocsi_strerror(rc));
            oocsi_close(client);
            return 1;
        }
        printf("subscribed to \"%s\"\n", channels[i]);
    }
    printf("waiting for messages (Ctrl-C stops)\n");

    /* Handlers run inside oocsi_loop(). A bounded timeout lets us notice
     * Ctrl-C promptly even if the signal went to another thread. */
    while (!stop_requested) {
        rc = oocsi_loop(client, 500);
        if (rc == OOCSI_ERR_CLOSED) {
            fprintf(stderr, "connection closed: %s\n", oocsi_last_error(client));
            break;
        }
    }

    printf("received %d messages, closing\n", received);
    for (int i = 0; i < n_channels; i++) {
        oocsi_unsubscribe(client, channels[i]); /* not required before close; shown for completeness */
    }
    oocsi_close(client);
    return rc == OOCSI_ERR_CLOSED ? 1 : 0;
}
