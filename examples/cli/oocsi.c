/*
 * oocsi: a command-line client for OOCSI, built on liboocsi's public API.
 *
 *   oocsi send RECIPIENT [DATA...]          send one message (or JSON lines from stdin)
 *   oocsi listen CHANNEL...                 print messages, one line each
 *   oocsi call CHANNEL NAME [DATA...]       call a responder, print its answer
 *   oocsi respond CHANNEL NAME [DATA...]    answer calls (echo or fixed payload)
 *   oocsi channels | clients                list what the server knows
 *   oocsi subscribers CHANNEL               list the subscribers of a channel
 *
 * `oocsi --help` and `oocsi COMMAND --help` explain the options; README.md in
 * this folder maps the files. Exit codes: 0 ok, 1 runtime error, 2 usage error,
 * 3 connection failed, 4 timeout.
 */
#include "cli.h"

volatile sig_atomic_t stop_requested = 0;

void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* -------------------------------------------------------------- main */

static int run(cli *a, int argc, char **argv)
{
    int rc = parse_args(a, argc, argv);
    if (rc != EXIT_OK)
        return rc;
    if (a->version) {
        printf("oocsi %s (liboocsi %s)\n", OOCSI_VERSION_STRING, oocsi_version());
        return EXIT_OK;
    }
    if (a->cmd != NULL && a->cmd->id == CMD_HELP) {
        if (a->npos == 0) {
            print_overview(stdout);
            return EXIT_OK;
        }
        const command *c = find_command(a->pos[0]);
        if (c == NULL)
            return usage_error(a, "unknown command '%s'", a->pos[0]);
        print_command_help(stdout, c);
        return EXIT_OK;
    }
    if (a->help) {
        if (a->cmd != NULL)
            print_command_help(stdout, a->cmd);
        else
            print_overview(stdout);
        return EXIT_OK;
    }
    if (a->cmd == NULL) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    if (a->nurls == 0) {
        const char *env = getenv("OOCSI_URL");
        if (env != NULL && *env != '\0') {
            a->env_urls = strdup(env);
            if (a->env_urls == NULL)
                return EXIT_RUNTIME;
            char *save = NULL;
            for (char *u = strtok_r(a->env_urls, ", ", &save); u != NULL; u = strtok_r(NULL, ", ", &save))
                if (add_url(a, u) != 0)
                    return EXIT_RUNTIME;
        }
        if (a->nurls == 0 && add_url(a, DEFAULT_URL) != 0)
            return EXIT_RUNTIME;
    }

    session s;
    memset(&s, 0, sizeof s);
    s.args = a;
    switch (a->cmd->id) {
    case CMD_SEND:
        rc = cmd_send(&s);
        break;
    case CMD_LISTEN:
        rc = cmd_listen(&s);
        break;
    case CMD_CALL:
        rc = cmd_call(&s);
        break;
    case CMD_RESPOND:
        rc = cmd_respond(&s);
        break;
    default:
        rc = cmd_query(&s);
        break;
    }
    oocsi_close(s.client); /* says quit after flushing what was sent */
    return rc;
}

int main(int argc, char **argv)
{
    cli a;
    memset(&a, 0, sizeof a);
    a.count = -1;
    a.timeout_ms = -1;
    a.connect_timeout_ms = DEFAULT_TIMEOUT_MS;
    int rc = run(&a, argc, argv);
    free(a.pos);
    free(a.urls);
    free(a.env_urls);
    return rc;
}
