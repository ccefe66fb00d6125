/*
 * variables: a value kept in sync between clients over a channel.
 *
 *   oocsi-example-variables [url] [channel]
 *
 *   url      server to connect to (default tcp://localhost:4444)
 *   channel  channel the variables live on (default variableChannel)
 *
 * Two clients run in this process, each on its own background thread
 * (oocsi_loop_start). Each has a variable for key "level" on the channel:
 *
 *   writer  a plain variable; the program sets it once a second
 *   reader  the same key, kept within 20..80 and averaged over the last
 *           3 values, with jumps larger than 15 damped (sigma)
 *
 * A set value is published raw on the channel as {"level": value}; every
 * receiver applies its own limits and smoothing. Any other client sending
 * {"level": ...} to the channel (e.g. channel_send with that key) updates
 * both. Stop with Ctrl-C.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <oocsi/oocsi.h>

static oocsi_client *connect_as(const char *url, const char *handle)
{
    oocsi_options *opts = oocsi_options_new();
    if (opts == NULL) {
        return NULL;
    }
    oocsi_client *client = NULL;
    int rc = oocsi_options_set_handle(opts, handle);
    if (rc == OOCSI_OK) {
        rc = oocsi_options_add_endpoint(opts, url);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_connect(&client, opts);
    }
    oocsi_options_free(opts);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, oocsi_strerror(rc));
        return NULL;
    }
    rc = oocsi_loop_start(client);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot start the loop thread: %s\n", oocsi_strerror(rc));
        oocsi_close(client);
        return NULL;
    }
    printf("%s connected to %s\n", oocsi_handle(client), url);
    return client;
}

/* Prints a variable's value, or that it has none yet. */
static void print_value(const char *who, const oocsi_variable *v)
{
    if (oocsi_variable_has_value(v)) {
        printf("  %-6s reads %6.2f\n", who, oocsi_variable_get(v));
    } else {
        printf("  %-6s has no value yet\n", who);
    }
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    const char *channel = argc > 2 ? argv[2] : "variableChannel";

    /* Ctrl-C is collected by sigtimedwait() below, which also paces the
     * program; block it before the loop threads start so they inherit it. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    int status = 1;
    oocsi_variable *plain = NULL;
    oocsi_variable *smoothed = NULL;
    oocsi_client *writer = connect_as(url, "variable_writer_###");
    oocsi_client *reader = writer ? connect_as(url, "variable_reader_###") : NULL;
    if (reader == NULL) {
        goto out;
    }

    /* Creating a variable subscribes to its channel. */
    plain = oocsi_variable_new(writer, channel, "level");
    smoothed = oocsi_variable_new(reader, channel, "level");
    if (plain == NULL || smoothed == NULL) {
        fprintf(stderr, "cannot create the variables\n");
        goto out;
    }
    int rc = oocsi_variable_min(smoothed, 20);
    if (rc == OOCSI_OK) {
        rc = oocsi_variable_max(smoothed, 80);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_variable_smooth(smoothed, 3, 15);
    }
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot configure the reader's variable: %s\n", oocsi_strerror(rc));
        goto out;
    }
    printf("variables on %s/level; the reader keeps 20..80 and smooths over 3 values (Ctrl-C stops)\n", channel);

    /* A triangle wave 0, 10, ..., 100, 90, ..., 0, ... */
    int step = 0;
    for (;;) {
        int value = step % 20 < 10 ? (step % 20) * 10 : (20 - step % 20) * 10;
        rc = oocsi_variable_set(plain, value);
        if (rc != OOCSI_OK) {
            fprintf(stderr, "set failed: %s\n", oocsi_strerror(rc));
            goto out;
        }
        printf("writer sets %d\n", value);
        step++;

        /* Wait a second (or until Ctrl-C); by then the reader's loop thread
         * has long received the value. */
        struct timespec second = {1, 0};
        int sig = sigtimedwait(&signals, NULL, &second);
        if (sig == SIGINT || sig == SIGTERM) {
            break;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            perror("sigtimedwait");
            goto out;
        }
        print_value("writer", plain);
        print_value("reader", smoothed);
    }
    status = 0;

out:
    printf("closing\n");
    /* Variables are freed before their clients. */
    oocsi_variable_free(plain);
    oocsi_variable_free(smoothed);
    oocsi_close(writer);
    oocsi_close(reader);
    return status;
}
