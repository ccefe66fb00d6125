/*
 * channel_receive: prints every message on channel "testchannel", as the
 * Python client's channelReceive example.
 *
 *   oocsi-example-channel-receive [server] [count]
 *
 * server: a URL, host or host:port (default localhost:4444); count: stop
 * after that many messages (default: at Ctrl-C). Pair it with channel_send.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <oocsi/oocsi.h>

static oocsi_client *o;
static long left = -1;

static void on_signal(int sig)
{
    (void)sig;
    oocsi_stop(o); /* safe in a signal handler */
}

/* Runs inside oocsi_run(); msg is valid until the handler returns. */
static void receive_event(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)user;
    char *data = oocsi_message_data_json(msg);
    printf("from %s -> %s\n", oocsi_message_sender(msg), data ? data : "?");
    fflush(stdout);
    oocsi_free(data);
    if (left > 0 && --left == 0)
        oocsi_stop(c);
}

int main(int argc, char **argv)
{
    if (oocsi_connect_to(&o, "testreceiver", argc > 1 ? argv[1] : NULL) != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return 1;
    }
    left = argc > 2 ? atol(argv[2]) : -1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    oocsi_subscribe(o, "testchannel", receive_event, NULL); /* returns once the server has it */
    printf("subscribed to testchannel\n");
    fflush(stdout);
    oocsi_run(o);
    oocsi_close(o);
    return 0;
}
