/*
 * custom_logger: the library's log lines go through your own function, as the
 * Python client's customLogger example (pass NULL as the function to silence
 * the library).
 *
 *   oocsi-example-custom-logger [server]
 *
 * server: a URL, host or host:port (default localhost:4444). It connects,
 * logs through log_function and closes.
 */
#include <stdio.h>

#include <oocsi/oocsi.h>

static void log_function(oocsi_log_level level, const char *msg, void *user)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    (void)user;
    printf("custom log (%s): %s\n", names[level], msg);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    oocsi_options *opts = oocsi_options_new();
    int rc = oocsi_options_set_handle(opts, "c_custom_logger");
    if (rc == OOCSI_OK)
        rc = oocsi_options_add_endpoint(opts, argc > 1 ? argv[1] : "localhost");
    if (rc == OOCSI_OK)
        rc = oocsi_options_set_logger(opts, log_function, NULL);
    if (rc == OOCSI_OK)
        rc = oocsi_options_set_log_level(opts, OOCSI_LOG_DEBUG); /* everything, for the show */
    oocsi_client *o = NULL;
    if (rc == OOCSI_OK)
        rc = oocsi_connect(&o, opts);
    oocsi_options_free(opts);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return 1;
    }
    oocsi_loop(o, 100);
    oocsi_close(o);
    return 0;
}
