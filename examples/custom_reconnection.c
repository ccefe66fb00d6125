/*
 * custom_reconnection: at most N reconnect attempts, and the connection's
 * state changes, as the Python client's customReconnection example.
 *
 *   oocsi-example-custom-reconnection [server] [max_attempts]
 *
 * server: a URL, host or host:port (default localhost:4444); max_attempts:
 * reconnect attempts in a row before giving up (default 10; negative: forever,
 * 0: never). When the connection drops the client reconnects by itself with
 * backoff and re-subscribes. Try it: stop the server for a moment and start it
 * again, or stop it for good and watch the client give up (then this program
 * ends). Ctrl-C stops it too.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <oocsi/oocsi.h>

static oocsi_client *o;

static void on_signal(int sig)
{
    (void)sig;
    oocsi_stop(o);
}

static void on_state(oocsi_client *c, oocsi_state state, int err, void *user)
{
    static const char *const names[] = {"connected", "offline", "closed"};
    (void)user;
    printf("%s%s%s (endpoint %s)\n", names[state], err ? ": " : "", err ? oocsi_strerror(err) : "", oocsi_endpoint(c));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    oocsi_options *opts = oocsi_options_new();
    int rc = oocsi_options_set_handle(opts, "c_limited_reconnection_attempts");
    if (rc == OOCSI_OK)
        rc = oocsi_options_add_endpoint(opts, argc > 1 ? argv[1] : "localhost");
    if (rc == OOCSI_OK)
        rc = oocsi_options_set_max_reconnect_attempts(opts, argc > 2 ? atoi(argv[2]) : 10);
    if (rc == OOCSI_OK)
        rc = oocsi_options_set_state_handler(opts, on_state, NULL);
    if (rc == OOCSI_OK)
        rc = oocsi_connect(&o, opts);
    oocsi_options_free(opts);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = oocsi_run(o); /* OOCSI_ERR_CLOSED once it gave up */
    if (rc == OOCSI_ERR_CLOSED)
        fprintf(stderr, "%s\n", oocsi_last_error(o));
    oocsi_close(o);
    return rc == OOCSI_OK ? 0 : 1;
}
