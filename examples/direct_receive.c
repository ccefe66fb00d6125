/*
 * direct_receive: prints the messages sent to its own handle, "testreceiver",
 * as the Python client's directReceive example (its callback= argument is
 * the direct handler of the options here).
 *
 *   oocsi-example-direct-receive [server] [count]
 *
 * server: a URL, host or host:port (default localhost:4444); count: stop
 * after that many messages (default: at Ctrl-C). Pair it with direct_send.
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
    oocsi_stop(o);
}

static void handle_direct_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)user;
    printf("from %s: color %lld\n", oocsi_message_sender(msg), (long long)oocsi_message_get_int_or(msg, "color", -1));
    fflush(stdout);
    if (left > 0 && --left == 0)
        oocsi_stop(c);
}

int main(int argc, char **argv)
{
    oocsi_options *opts = oocsi_options_new(); /* options: for the direct handler */
    int rc = oocsi_options_set_handle(opts, "testreceiver");
    if (rc == OOCSI_OK)
        rc = oocsi_options_add_endpoint(opts, argc > 1 ? argv[1] : "localhost");
    if (rc == OOCSI_OK)
        rc = oocsi_options_set_direct_handler(opts, handle_direct_message, NULL);
    if (rc == OOCSI_OK)
        rc = oocsi_connect(&o, opts);
    oocsi_options_free(opts);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return 1;
    }
    left = argc > 2 ? atol(argv[2]) : -1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("receiving as %s\n", oocsi_handle(o));
    fflush(stdout);
    oocsi_run(o);
    oocsi_close(o);
    return 0;
}
