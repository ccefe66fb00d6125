/*
 * direct_receive: prints the messages other clients send to this client's
 * handle.
 *
 *   oocsi-example-direct-receive [url] [handle]
 *
 *   url     server to connect to (default tcp://localhost:4444)
 *   handle  this client's name (default Bob)
 *
 * Pair it with direct_send. Stop with Ctrl-C.
 *
 * Direct messages need no subscription: the handler is given in the options
 * before connecting (oocsi_options_set_direct_handler). This example lets
 * the library run the client on a background thread (oocsi_loop_start), so
 * the handler runs on that thread while the main thread just waits for
 * Ctrl-C.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <oocsi/oocsi.h>

/* Runs on the client's background thread. */
static void on_direct_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    (void)user;
    int64_t color;
    if (oocsi_message_get_int(msg, "color", &color) == OOCSI_OK) {
        printf("%s sent color %" PRId64 "\n", oocsi_message_sender(msg), color);
    }
    char *json = oocsi_message_data_json(msg);
    printf("    full message: %s\n", json ? json : "?");
    oocsi_free(json);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    const char *handle = argc > 2 ? argv[2] : "Bob";

    /* Block SIGINT and SIGTERM before any thread starts: the library's loop
     * thread inherits the mask, and the main thread collects the signal
     * with sigwait() below instead of a signal handler. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

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
        rc = oocsi_options_set_direct_handler(opts, on_direct_message, NULL);
    }
    oocsi_client *client = NULL;
    if (rc == OOCSI_OK) {
        rc = oocsi_connect(&client, opts);
    }
    oocsi_options_free(opts);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot connect to %s as %s: %s\n", url, handle, oocsi_strerror(rc));
        return 1;
    }

    rc = oocsi_loop_start(client);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot start the loop thread: %s\n", oocsi_strerror(rc));
        oocsi_close(client);
        return 1;
    }
    printf("connected to %s as %s; waiting for direct messages (Ctrl-C stops)\n", url, oocsi_handle(client));
    fflush(stdout);

    int sig = 0;
    sigwait(&signals, &sig);

    printf("closing\n");
    oocsi_close(client); /* stops and joins the loop thread, then frees */
    return 0;
}
