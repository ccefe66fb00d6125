/*
 * Argument parsing: the command and option tables, the help texts, and
 * turning argv (and $OOCSI_URL) into a cli.
 */
#include "cli.h"

/* ------------------------------------------------------------ commands */

static const command commands[] = {
    {"send", CMD_SEND, 1, -1, "send [OPTIONS] RECIPIENT [DATA...]",
     "Sends one message to RECIPIENT (a channel or a client's handle).\n"
     "DATA is one JSON object ('{\"a\":1}') or key=value pairs (see DATA below);\n"
     "none sends an empty object. DATA \"-\" reads JSON objects from standard input,\n"
     "one per line, and sends each as a message.\n"},
    {"listen", CMD_LISTEN, 0, -1, "listen [OPTIONS] CHANNEL...",
     "Subscribes to the channels and prints each message as one line:\n"
     "  {\"timestamp\":MS,\"sender\":\"...\",\"recipient\":\"...\",\"data\":{...}}\n"
     "or, with --pretty, as 'HH:MM:SS.mmm  sender -> channel  {data}'. Messages sent\n"
     "directly to this client's handle are printed too (with --handle, CHANNEL may be\n"
     "left out). When the connection drops, it says so on stderr, reconnects and\n"
     "subscribes again. Ctrl-C (SIGINT) or SIGTERM end it with exit code 0.\n"},
    {"call", CMD_CALL, 2, -1, "call [OPTIONS] CHANNEL NAME [DATA...]",
     "Calls NAME on CHANNEL (a channel or a responder's handle) with DATA as the\n"
     "request and prints the response data as one JSON line. Exit code 4 when no\n"
     "answer came within the timeout.\n"},
    {"respond", CMD_RESPOND, 2, -1, "respond [OPTIONS] CHANNEL NAME [DATA...]",
     "Answers calls named NAME arriving on CHANNEL, for testing callers: with DATA\n"
     "the response is DATA, without it the request data is echoed back. Each call\n"
     "answered is printed as one line: the request as for listen, plus a\n"
     "\"response\" key. Ctrl-C (SIGINT) or SIGTERM end it with exit code 0.\n"},
    {"channels", CMD_CHANNELS, 0, 0, "channels [OPTIONS]",
     "Prints the server's public channels (client handles included), one per line.\n"
     "This client's own handle is left out. Needs a tcp:// or tls:// endpoint.\n"},
    {"clients", CMD_CLIENTS, 0, 0, "clients [OPTIONS]",
     "Prints the handles of the clients connected to the server, one per line.\n"
     "This client's own handle is left out. Needs a tcp:// or tls:// endpoint.\n"},
    {"subscribers", CMD_SUBSCRIBERS, 1, 1, "subscribers [OPTIONS] CHANNEL",
     "Prints the handles subscribed to CHANNEL, one per line (nothing when the\n"
     "channel does not exist). Needs a tcp:// or tls:// endpoint.\n"},
    {"help", CMD_HELP, 0, 1, "help [COMMAND]", "Prints help for COMMAND, or the overview.\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* ------------------------------------------------------------- options */

static const option_def options[] = {
    {OPT_URL, 'u', "url", "URL", CMD_ALL,
     "server endpoint: tcp://HOST[:PORT], tls://HOST[:PORT],\n"
     "ws://HOST[:PORT][/PATH], wss://..., or HOST[:PORT].\n"
     "Repeatable: tried in order, on the first connect and on\n"
     "every reconnect. Default: $OOCSI_URL (comma-separated),\n"
     "else " DEFAULT_URL},
    {OPT_HANDLE, 0, "handle", "NAME", CMD_ALL,
     "this client's handle; each '#' becomes a random digit;\n"
     "NAME:PASSWORD for a password handle. Default\n" DEFAULT_HANDLE},
    {OPT_CAFILE, 0, "cafile", "FILE", CMD_ALL, "PEM file of the CAs to trust for tls:// and wss://"},
    {OPT_INSECURE, 0, "insecure", NULL, CMD_ALL, "do not verify the server's TLS certificate"},
    {OPT_CONNECT_TIMEOUT, 0, "connect-timeout", "MS", CMD_ALL, "bound of connecting and subscribing (default 5000)"},
    {OPT_QUIET, 'q', "quiet", NULL, CMD_ALL, "print nothing on stderr but errors"},
    {OPT_VERBOSE, 'v', "verbose", NULL, CMD_ALL, "also print the library's debug log on stderr"},
    {OPT_HELP, 'h', "help", NULL, CMD_ALL, "print help and exit"},
    {OPT_VERSION, 0, "version", NULL, CMD_ALL, "print the version and exit"},
    {OPT_PRETTY, 'p', "pretty", NULL, CMD_LISTEN | CMD_RESPOND | CMD_CALL,
     "readable output: HH:MM:SS.mmm  sender -> channel  {data}\n"
     "(call: the response as indented JSON)"},
    {OPT_COUNT, 'n', "count", "COUNT", CMD_LISTEN | CMD_RESPOND,
     "stop after COUNT messages (listen) or answered calls\n"
     "(respond)"},
    {OPT_TIMEOUT, 't', "timeout", "MS", CMD_LISTEN | CMD_RESPOND | CMD_CALL | CMD_QUERIES,
     "call, queries: wait at most MS for the answer (default\n"
     "5000). listen, respond: stop after MS; exit code 4 if\n"
     "fewer than COUNT (without -n: no) messages or calls came"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

/* -------------------------------------------------------------- help */

static const char exit_codes_text[] = "Exit codes:\n"
                                      "  0  success\n"
                                      "  1  runtime error (e.g. a query the endpoint's protocol lacks)\n"
                                      "  2  usage error: bad option, argument, JSON or key=value\n"
                                      "  3  connection failed: no endpoint reachable, handle taken, wrong\n"
                                      "     password, TLS failure, or the connection was given up\n"
                                      "  4  timeout: no answer (call, queries) or nothing received in time\n";

static const char data_text[] = "DATA:\n"
                                "  '{\"key\": ...}'   one JSON object\n"
                                "  key=value        number (42, -1.5e3), true, false or null when it reads\n"
                                "                   as one, else a string; key= is the empty string\n"
                                "  key:=JSON        any JSON value, e.g. list:='[1,2]' name:='\"42\"'\n";

static void print_option(FILE *f, const option_def *o)
{
    char left[64];
    if (o->short_name)
        snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->long_name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    else
        snprintf(left, sizeof left, "    --%s%s%s", o->long_name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "  %-26s", left);
    for (const char *p = o->help; *p; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "  %-26s", "");
    }
    fputc('\n', f);
}

void print_overview(FILE *f)
{
    fprintf(f, "Usage: oocsi COMMAND [OPTIONS] [ARGS...]\n\n"
               "A command-line client for OOCSI servers.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  oocsi %s\n", commands[i].synopsis);
    fprintf(f, "\nCommon options:\n");
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].commands == CMD_ALL)
            print_option(f, &options[i]);
    fprintf(f, "\n%s\n%s\n'oocsi COMMAND --help' describes a command and its options.\n", data_text, exit_codes_text);
}

void print_command_help(FILE *f, const command *cmd)
{
    fprintf(f, "Usage: oocsi %s\n\n%s", cmd->synopsis, cmd->help);
    if (cmd->id == CMD_HELP)
        return;
    int any = 0;
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (options[i].commands != CMD_ALL && (options[i].commands & cmd->id)) {
            if (!any)
                fprintf(f, "\nOptions:\n");
            any = 1;
            print_option(f, &options[i]);
        }
    }
    fprintf(f, "\nCommon options:\n");
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].commands == CMD_ALL)
            print_option(f, &options[i]);
    if (cmd->id & (CMD_SEND | CMD_CALL | CMD_RESPOND))
        fprintf(f, "\n%s", data_text);
    fprintf(f, "\n%s", exit_codes_text);
}

int usage_error(const cli *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("oocsi: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (a != NULL && a->cmd != NULL)
        fprintf(stderr, "\nTry 'oocsi %s --help'.\n", a->cmd->name);
    else
        fputs("\nTry 'oocsi --help'.\n", stderr);
    return EXIT_USAGE;
}

/* --------------------------------------------------------- arguments */

const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int parse_ms(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int add_url(cli *a, const char *url)
{
    const char **n = realloc(a->urls, (size_t)(a->nurls + 1) * sizeof *n);
    if (n == NULL)
        return -1;
    a->urls = n;
    a->urls[a->nurls++] = url;
    return 0;
}

/* Applies option o (value v, NULL for flags). EXIT_OK or EXIT_USAGE. */
static int apply_option(cli *a, const option_def *o, const char *v)
{
    long n;
    switch (o->id) {
    case OPT_URL:
        if (*v == '\0')
            return usage_error(a, "--url needs a URL");
        if (add_url(a, v) != 0) {
            fprintf(stderr, "oocsi: out of memory\n");
            return EXIT_RUNTIME;
        }
        break;
    case OPT_HANDLE:
        a->handle = v;
        break;
    case OPT_CAFILE:
        a->cafile = v;
        break;
    case OPT_INSECURE:
        a->insecure = 1;
        break;
    case OPT_CONNECT_TIMEOUT:
        if (parse_ms(v, INT_MAX, &n) != 0 || n == 0)
            return usage_error(a, "--connect-timeout needs a positive number of milliseconds, not '%s'", v);
        a->connect_timeout_ms = (int)n;
        break;
    case OPT_QUIET:
        a->quiet = 1;
        break;
    case OPT_VERBOSE:
        a->verbose = 1;
        break;
    case OPT_HELP:
        a->help = 1;
        break;
    case OPT_VERSION:
        a->version = 1;
        break;
    case OPT_PRETTY:
        a->pretty = 1;
        break;
    case OPT_COUNT:
        if (parse_ms(v, LONG_MAX, &n) != 0 || n == 0)
            return usage_error(a, "-n/--count needs a positive number, not '%s'", v);
        a->count = n;
        break;
    case OPT_TIMEOUT:
        if (parse_ms(v, INT_MAX, &n) != 0)
            return usage_error(a, "--timeout needs a number of milliseconds, not '%s'", v);
        a->timeout_ms = (int)n;
        break;
    default:
        break;
    }
    return EXIT_OK;
}

/* Options may come before or after the command and between arguments; "--"
 * ends them. An option is checked against the command once it is known. */
int parse_args(cli *a, int argc, char **argv)
{
    const option_def *given[64];
    int ngiven = 0;
    int only_positional = 0;
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    if (a->pos == NULL) {
        fprintf(stderr, "oocsi: out of memory\n");
        return EXIT_RUNTIME;
    }
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (a->cmd == NULL) {
                a->cmd = find_command(arg);
                if (a->cmd == NULL)
                    return usage_error(a, "unknown command '%s'", arg);
            } else {
                a->pos[a->npos++] = arg;
            }
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        const option_def *o = NULL;
        const char *value = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t k = 0; k < NOPTIONS && o == NULL; k++)
                if (strlen(options[k].long_name) == len && strncmp(options[k].long_name, name, len) == 0)
                    o = &options[k];
            if (o == NULL)
                return usage_error(a, "unknown option '%s'", arg);
            if (eq != NULL) {
                if (o->arg == NULL)
                    return usage_error(a, "option '--%s' takes no value", o->long_name);
                value = eq + 1;
            }
        } else {
            for (size_t k = 0; k < NOPTIONS && o == NULL; k++)
                if (options[k].short_name == arg[1])
                    o = &options[k];
            if (o == NULL)
                return usage_error(a, "unknown option '%s'", arg);
            if (arg[2] != '\0') {
                if (o->arg == NULL)
                    return usage_error(a, "option '-%c' takes no value", o->short_name);
                value = arg + 2;
            }
        }
        if (o->arg != NULL && value == NULL) {
            if (i + 1 >= argc)
                return usage_error(a, "option '--%s' needs %s", o->long_name, o->arg);
            value = argv[++i];
        }
        if ((size_t)ngiven < sizeof given / sizeof given[0])
            given[ngiven++] = o;
        int rc = apply_option(a, o, value);
        if (rc != EXIT_OK)
            return rc;
    }
    if (a->help || a->version || a->cmd == NULL)
        return EXIT_OK;
    for (int k = 0; k < ngiven; k++)
        if (!(given[k]->commands & a->cmd->id))
            return usage_error(a, "option '--%s' does not apply to '%s'", given[k]->long_name, a->cmd->name);
    if (a->npos < a->cmd->min_args)
        return usage_error(a, "'%s' needs more arguments: oocsi %s", a->cmd->name, a->cmd->synopsis);
    if (a->cmd->max_args >= 0 && a->npos > a->cmd->max_args)
        return usage_error(a, "too many arguments for '%s': oocsi %s", a->cmd->name, a->cmd->synopsis);
    if (a->quiet && a->verbose)
        return usage_error(a, "--quiet and --verbose exclude each other");
    return EXIT_OK;
}
