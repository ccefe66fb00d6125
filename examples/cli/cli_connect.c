/*
 * Connecting: options from the arguments, the library's log kept during the
 * connect and replaced by one summary line on failure, reconnect notes.
 */
#include "cli.h"

/* ----------------------------------------------------------- connect */

/* While oocsi_connect() runs (and not --verbose), the library's messages are
 * kept here: replayed after a success (e.g. the --insecure warning); after a
 * failure the CLI's own summary replaces the library's "could not connect". */
static struct {
    int active;
    char text[4096];
    size_t len;
} connect_log;

static const char *level_name(oocsi_log_level level)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    return level <= OOCSI_LOG_ERROR ? names[level] : "log";
}

static void log_to_stderr(oocsi_log_level level, const char *msg, void *user)
{
    (void)user;
    if (connect_log.active) {
        if (level == OOCSI_LOG_ERROR && strncmp(msg, "could not connect", 17) == 0)
            return;
        int n = snprintf(connect_log.text + connect_log.len, sizeof connect_log.text - connect_log.len,
                         "oocsi: %s: %s\n", level_name(level), msg);
        if (n > 0)
            connect_log.len += (size_t)n < sizeof connect_log.text - connect_log.len
                                   ? (size_t)n
                                   : sizeof connect_log.text - connect_log.len - 1;
        return;
    }
    fprintf(stderr, "oocsi: %s: %s\n", level_name(level), msg);
}

static void connect_log_flush(void)
{
    connect_log.active = 0;
    fputs(connect_log.text, stderr);
    connect_log.len = 0;
    connect_log.text[0] = '\0';
}

static void on_state(oocsi_client *c, oocsi_state state, int err, void *user)
{
    session *s = user;
    if (state == OOCSI_STATE_OFFLINE) {
        s->offline_seen = 1;
        note(s->args, "connection lost (%s); reconnecting (messages sent meanwhile are missed)", oocsi_strerror(err));
    } else if (state == OOCSI_STATE_CONNECTED && s->offline_seen) {
        s->offline_seen = 0;
        note(s->args, "reconnected to %s", oocsi_endpoint(c) ? oocsi_endpoint(c) : "the server");
    } else if (state == OOCSI_STATE_CLOSED && err != OOCSI_OK) {
        fprintf(stderr, "oocsi: gave up reconnecting: %s\n", oocsi_strerror(err));
    }
}

void on_message(oocsi_client *c, const oocsi_message *m, void *user)
{
    session *s = user;
    (void)c;
    if (s->args->count >= 0 && s->received >= s->args->count)
        return;
    s->received++;
    print_message(s, m, NULL);
}

static int connect_exit_code(int rc)
{
    switch (rc) {
    case OOCSI_ERR_INVAL:
        return EXIT_USAGE;
    case OOCSI_ERR_NOMEM:
        return EXIT_RUNTIME;
    default:
        return EXIT_CONNECT;
    }
}

/* Connects as the command needs. EXIT_OK with *out set, or an exit code. */
int connect_client(session *s, int long_running, oocsi_client **out)
{
    const cli *a = s->args;
    oocsi_options *o = oocsi_options_new();
    if (o == NULL) {
        fprintf(stderr, "oocsi: out of memory\n");
        return EXIT_RUNTIME;
    }
    int rc = oocsi_options_set_handle(o, a->handle ? a->handle : DEFAULT_HANDLE);
    if (rc != OOCSI_OK) {
        oocsi_options_free(o);
        return usage_error(a, "bad handle '%s': %s", a->handle ? a->handle : "", oocsi_last_error(NULL));
    }
    for (int i = 0; i < a->nurls; i++) {
        rc = oocsi_options_add_endpoint(o, a->urls[i]);
        if (rc != OOCSI_OK) {
            oocsi_options_free(o);
            return usage_error(a, "bad URL '%s': %s", a->urls[i], oocsi_last_error(NULL));
        }
    }
    if (a->cafile)
        oocsi_options_set_tls_ca_file(o, a->cafile);
    if (a->insecure)
        oocsi_options_set_tls_verify(o, 0);
    oocsi_options_set_connect_timeout(o, a->connect_timeout_ms);
    oocsi_options_set_calls_to_handlers(o, 1); /* listen shows call requests too */
    if (a->quiet)
        oocsi_options_set_logger(o, NULL, NULL);
    else
        oocsi_options_set_logger(o, log_to_stderr, NULL);
    oocsi_options_set_log_level(o, a->verbose ? OOCSI_LOG_DEBUG : OOCSI_LOG_WARN);
    oocsi_options_set_max_reconnect_attempts(o, long_running ? -1 : 0);
    if (long_running) {
        oocsi_options_set_state_handler(o, on_state, s);
        oocsi_options_set_direct_handler(o, on_message, s);
    }
    oocsi_client *c = NULL;
    connect_log.active = !a->verbose;
    rc = oocsi_connect(&c, o);
    connect_log_flush();
    oocsi_options_free(o);
    if (rc != OOCSI_OK) {
        /* The library's words name every endpoint tried and why it failed. */
        const char *detail = oocsi_last_error(NULL);
        const char *prefix = "could not connect: ";
        if (strncmp(detail, prefix, strlen(prefix)) == 0)
            detail += strlen(prefix);
        fprintf(stderr, "oocsi: cannot connect: %s\n", *detail ? detail : oocsi_strerror(rc));
        return connect_exit_code(rc);
    }
    if (a->verbose)
        note(a, "connected to %s as %s", oocsi_endpoint(c), oocsi_handle(c));
    *out = c;
    return EXIT_OK;
}

/* Maps a library error after connecting to an exit code, printing what. */
int runtime_error(const char *what, int rc)
{
    fprintf(stderr, "oocsi: %s: %s\n", what, oocsi_strerror(rc));
    switch (rc) {
    case OOCSI_ERR_TIMEOUT:
        return EXIT_TIMEOUT;
    case OOCSI_ERR_CLOSED:
    case OOCSI_ERR_CONNECT:
        return EXIT_CONNECT;
    case OOCSI_ERR_INVAL:
        return EXIT_USAGE;
    default:
        return EXIT_RUNTIME;
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed stdout (| head) ends the program through write errors. */
    signal(SIGPIPE, SIG_IGN);
}

/* Drives the client until COUNT events, the timeout, a signal or a lost
 * connection. "what" names the events for messages. */
int run_until_done(session *s, const char *what)
{
    const cli *a = s->args;
    int64_t deadline = a->timeout_ms >= 0 ? mono_ms() + a->timeout_ms : -1;
    while (!stop_requested) {
        if (a->count >= 0 && s->received >= a->count)
            return EXIT_OK;
        if (s->write_failed)
            return s->write_failed == EPIPE ? EXIT_OK : EXIT_RUNTIME;
        int slice = LOOP_SLICE_MS;
        if (deadline >= 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0) {
                if (s->received > 0 && a->count < 0)
                    return EXIT_OK;
                note(a, "timeout: %ld %s in %d ms", s->received, what, a->timeout_ms);
                return EXIT_TIMEOUT;
            }
            if (left < slice)
                slice = (int)left;
        }
        if (oocsi_loop(s->client, slice) == OOCSI_ERR_CLOSED) {
            fprintf(stderr, "oocsi: connection closed: %s\n", oocsi_last_error(s->client));
            return EXIT_CONNECT;
        }
    }
    return EXIT_OK;
}
