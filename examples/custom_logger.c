/*
 * custom_logger: routes the library's log lines through your own function.
 *
 *   oocsi-example-custom-logger [url] [handle]
 *
 *   url     server to connect to (default tcp://localhost:4444)
 *   handle  this client's name (default custom_logger_###)
 *
 * By default the library prints INFO and above to stderr as "[handle]: text".
 * Here every line, down to DEBUG, gets a wall-clock time, the level and a
 * prefix chosen by the program. Passing NULL as the function silences the
 * library completely.
 *
 * The client connects, subscribes to "testchannel", sends one message and
 * then logs what happens until Ctrl-C (stop and restart the server to see
 * the reconnect messages).
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
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

struct log_sink {
    FILE *out;
    const char *prefix;
};

/*
 * The logger may be called from any thread that uses the client, with the
 * library's locks held: it must not call back into the library (except
 * oocsi_strerror()). Formatting and writing a line is fine; msg is borrowed.
 */
static void my_logger(oocsi_log_level level, const char *msg, void *user)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    const struct log_sink *sink = user;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    char when[16] = "??:??:??";
    if (localtime_r(&ts.tv_sec, &tm) != NULL) {
        strftime(when, sizeof when, "%H:%M:%S", &tm);
    }
    const char *name = (unsigned)level < 4 ? names[level] : "?";
    fprintf(sink->out, "%s.%03ld %-5s %s %s\n", when, ts.tv_nsec / 1000000, name, sink->prefix, msg);
    fflush(sink->out);
}

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    (void)user;
    char *json = oocsi_message_data_json(msg);
    printf("message from %s: %s\n", oocsi_message_sender(msg), json ? json : "?");
    oocsi_free(json);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    const char *handle = argc > 2 ? argv[2] : "custom_logger_###";

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct log_sink sink = {stdout, "[liboocsi]"};

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
        rc = oocsi_options_set_logger(opts, my_logger, &sink); /* sink must outlive the client */
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_log_level(opts, OOCSI_LOG_DEBUG); /* everything, for the show */
    }
    oocsi_client *client = NULL;
    if (rc == OOCSI_OK) {
        rc = oocsi_connect(&client, opts);
    }
    oocsi_options_free(opts);
    if (rc != OOCSI_OK) {
        /* The logger has already said what went wrong, in its own format. */
        fprintf(stderr, "cannot connect to %s: %s\n", url, oocsi_strerror(rc));
        return 1;
    }

    rc = oocsi_subscribe(client, "testchannel", on_message, NULL);
    if (rc == OOCSI_OK) {
        rc = oocsi_send_json(client, "testchannel", "{\"hello\":\"from the custom logger example\"}");
    }
    if (rc != OOCSI_OK) {
        fprintf(stderr, "subscribe or send failed: %s\n", oocsi_strerror(rc));
        oocsi_close(client);
        return 1;
    }

    while (!stop_requested) {
        if (oocsi_loop(client, 500) == OOCSI_ERR_CLOSED) {
            break;
        }
    }
    oocsi_close(client); /* the logger sees the goodbye too */
    return 0;
}
