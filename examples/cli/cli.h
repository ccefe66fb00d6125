/*
 * Shared declarations of the oocsi command-line client: exit codes, the
 * command and option tables' types, the parsed arguments (cli) and a running
 * session, and the functions its files call across files.
 */

#ifndef OOCSI_CLI_H
#define OOCSI_CLI_H

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <oocsi/oocsi.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3, EXIT_TIMEOUT = 4 };

#define DEFAULT_URL "tcp://localhost:4444"
#define DEFAULT_HANDLE "oocsi-cli-######"
#define DEFAULT_TIMEOUT_MS 5000
#define LOOP_SLICE_MS 200
enum {
    CMD_SEND = 1 << 0,
    CMD_LISTEN = 1 << 1,
    CMD_CALL = 1 << 2,
    CMD_RESPOND = 1 << 3,
    CMD_CHANNELS = 1 << 4,
    CMD_CLIENTS = 1 << 5,
    CMD_SUBSCRIBERS = 1 << 6,
    CMD_HELP = 1 << 7,
    CMD_QUERIES = CMD_CHANNELS | CMD_CLIENTS | CMD_SUBSCRIBERS,
    CMD_ALL = 0xff
};

typedef struct command {
    const char *name;
    int id;
    int min_args, max_args; /* positional arguments; max -1: unbounded */
    const char *synopsis;
    const char *help;
} command;
enum {
    OPT_URL,
    OPT_HANDLE,
    OPT_CAFILE,
    OPT_INSECURE,
    OPT_CONNECT_TIMEOUT,
    OPT_QUIET,
    OPT_VERBOSE,
    OPT_HELP,
    OPT_VERSION,
    OPT_PRETTY,
    OPT_COUNT,
    OPT_TIMEOUT
};

typedef struct option_def {
    int id;
    char short_name; /* 0: none */
    const char *long_name;
    const char *arg; /* NULL: a flag */
    int commands;    /* which commands accept it */
    const char *help;
} option_def;
typedef struct cli {
    const command *cmd;
    char **pos;
    int npos;
    const char **urls;
    int nurls;
    char *env_urls; /* copy of $OOCSI_URL, split in place */
    const char *handle;
    const char *cafile;
    int insecure;
    int connect_timeout_ms;
    int quiet;
    int verbose;
    int help;
    int version;
    int pretty;
    long count;     /* -1: unbounded */
    int timeout_ms; /* -1: not given */
} cli;
typedef struct session {
    const cli *args;
    oocsi_client *client;
    long received;
    int offline_seen;
    int write_failed;   /* errno of a failed write to stdout, or 0 */
    const cJSON *fixed; /* respond: the fixed payload, or NULL to echo */
} session;

/* ---------------------------------------------------------- shared between the files */

/* Set by SIGINT/SIGTERM (oocsi.c); the long-running commands stop when set. */
extern volatile sig_atomic_t stop_requested;

/* cli_args.c */
void print_overview(FILE *f);
void print_command_help(FILE *f, const command *cmd);
int usage_error(const cli *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
const command *find_command(const char *name);
int add_url(cli *a, const char *url);
int parse_args(cli *a, int argc, char **argv);

/* cli_format.c */
cJSON *parse_json(const char *text);
cJSON *build_data(const cli *a, char **args, int n, int *rc);
void note(const cli *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void print_message(session *s, const oocsi_message *m, const cJSON *response);
/* Writes n bytes of text for a terminal: control characters (C0, DEL, and C1
 * as UTF-8) become visible escapes (\x1b, \u009b), so names and payloads
 * from the network cannot drive the operator's terminal. */
void print_for_terminal(FILE *f, const char *text, size_t n);

/* cli_connect.c */
void on_message(oocsi_client *c, const oocsi_message *m, void *user);
int connect_client(session *s, int long_running, oocsi_client **out);
int runtime_error(const char *what, int rc);
void install_signals(void);
int run_until_done(session *s, const char *what);

/* cli_commands.c */
int cmd_send(session *s);
int cmd_listen(session *s);
int cmd_call(session *s);
int cmd_respond(session *s);
int cmd_query(session *s);

/* oocsi.c */
void on_signal(int sig);

#endif
