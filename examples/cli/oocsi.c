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
 * `oocsi --help` and `oocsi COMMAND --help` explain the options; README.md
 * in this directory is the manual page. Exit codes: 0 ok, 1 runtime error,
 * 2 usage error, 3 connection failed, 4 timeout.
 */
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

/* ------------------------------------------------------------ commands */

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

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

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

static void print_overview(FILE *f)
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

static void print_command_help(FILE *f, const command *cmd)
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

static int usage_error(const cli *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int usage_error(const cli *a, const char *fmt, ...)
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

static const command *find_command(const char *name)
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

static int add_url(cli *a, const char *url)
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
static int parse_args(cli *a, int argc, char **argv)
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

/* -------------------------------------------------------------- DATA */

/* 1 if s is exactly a JSON number. */
static int is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* The value of key=value with its type inferred. */
static cJSON *infer_value(const char *v)
{
    if (strcmp(v, "true") == 0)
        return cJSON_CreateTrue();
    if (strcmp(v, "false") == 0)
        return cJSON_CreateFalse();
    if (strcmp(v, "null") == 0)
        return cJSON_CreateNull();
    if (is_json_number(v)) {
        double d = strtod(v, NULL);
        /* Out of double range (1e999) or an integer a double cannot hold
         * exactly: keep the text rather than change the number. */
        int integral = strchr(v, '.') == NULL && strchr(v, 'e') == NULL && strchr(v, 'E') == NULL;
        if (d > -1.7e308 && d < 1.7e308 && (!integral || (d > -9007199254740992.0 && d < 9007199254740992.0)))
            return cJSON_CreateNumber(d);
    }
    return cJSON_CreateString(v);
}

static cJSON *parse_json(const char *text)
{
    return cJSON_ParseWithOpts(text, NULL, 1);
}

/* Builds the data object from DATA arguments. NULL after a usage error
 * (printed; *rc set). No arguments: an empty object. */
static cJSON *build_data(const cli *a, char **args, int n, int *rc)
{
    *rc = EXIT_OK;
    if (n == 1 && args[0][strspn(args[0], " \t\r\n")] == '{') {
        cJSON *j = parse_json(args[0]);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            *rc = usage_error(a, "DATA is not a valid JSON object: %s", args[0]);
            return NULL;
        }
        return j;
    }
    cJSON *obj = cJSON_CreateObject();
    if (obj == NULL) {
        fprintf(stderr, "oocsi: out of memory\n");
        *rc = EXIT_RUNTIME;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const char *arg = args[i];
        const char *eq = strchr(arg, '=');
        if (arg[strspn(arg, " \t\r\n")] == '{') {
            *rc = usage_error(a, "a JSON object must be the only DATA argument: %s", arg);
            goto fail;
        }
        if (eq == NULL) {
            *rc = usage_error(a, "DATA must be a JSON object or key=value pairs, not '%s'", arg);
            goto fail;
        }
        int raw = eq > arg && eq[-1] == ':';
        size_t keylen = (size_t)(eq - arg) - (raw ? 1 : 0);
        if (keylen == 0) {
            *rc = usage_error(a, "empty key in '%s'", arg);
            goto fail;
        }
        char *key = malloc(keylen + 1);
        if (key == NULL) {
            fprintf(stderr, "oocsi: out of memory\n");
            *rc = EXIT_RUNTIME;
            goto fail;
        }
        memcpy(key, arg, keylen);
        key[keylen] = '\0';
        cJSON *value = raw ? parse_json(eq + 1) : infer_value(eq + 1);
        if (value == NULL) {
            if (raw)
                *rc = usage_error(a, "not valid JSON after '%s:=': %s", key, eq + 1);
            else {
                fprintf(stderr, "oocsi: out of memory\n");
                *rc = EXIT_RUNTIME;
            }
            free(key);
            goto fail;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key); /* the last one wins */
        cJSON_AddItemToObject(obj, key, value);
        free(key);
    }
    return obj;
fail:
    cJSON_Delete(obj);
    return NULL;
}

/* ------------------------------------------------------------ output */

typedef struct session {
    const cli *args;
    oocsi_client *client;
    long received;
    int offline_seen;
    int write_failed;   /* errno of a failed write to stdout, or 0 */
    const cJSON *fixed; /* respond: the fixed payload, or NULL to echo */
} session;

static void note(const cli *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void note(const cli *a, const char *fmt, ...)
{
    if (a->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("oocsi: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void format_time(int64_t ms, char *buf, size_t size)
{
    if (ms <= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char hms[16] = "--:--:--";
    if (localtime_r(&secs, &tm) != NULL)
        strftime(hms, sizeof hms, "%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03d", hms, (int)(ms % 1000));
}

/* Prints one message line; response (respond only) may be NULL. */
static void print_message(session *s, const oocsi_message *m, const cJSON *response)
{
    const cJSON *data = oocsi_message_data(m);
    if (s->args->pretty) {
        char when[32];
        format_time(oocsi_message_timestamp(m), when, sizeof when);
        char *d = cJSON_PrintUnformatted(data);
        char *r = response ? cJSON_PrintUnformatted(response) : NULL;
        printf("%s  %s -> %s  %s%s%s\n", when, oocsi_message_sender(m), oocsi_message_recipient(m), d ? d : "{}",
               r ? "  => " : "", r ? r : "");
        cJSON_free(d);
        cJSON_free(r);
    } else {
        cJSON *line = cJSON_CreateObject();
        if (line != NULL) {
            cJSON_AddNumberToObject(line, "timestamp", (double)oocsi_message_timestamp(m));
            cJSON_AddStringToObject(line, "sender", oocsi_message_sender(m));
            cJSON_AddStringToObject(line, "recipient", oocsi_message_recipient(m));
            cJSON_AddItemToObject(line, "data", cJSON_Duplicate(data, 1));
            if (response)
                cJSON_AddItemToObject(line, "response", cJSON_Duplicate(response, 1));
        }
        char *text = line ? cJSON_PrintUnformatted(line) : NULL;
        if (text == NULL)
            fprintf(stderr, "oocsi: out of memory printing a message\n");
        else
            printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(line);
    }
    if ((fflush(stdout) != 0 || ferror(stdout)) && s->write_failed == 0)
        s->write_failed = errno ? errno : EIO;
}

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

static void on_message(oocsi_client *c, const oocsi_message *m, void *user)
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
static int connect_client(session *s, int long_running, oocsi_client **out)
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
        return usage_error(a, "bad handle '%s': %s", a->handle ? a->handle : "", oocsi_strerror(rc));
    }
    for (int i = 0; i < a->nurls; i++) {
        rc = oocsi_options_add_endpoint(o, a->urls[i]);
        if (rc != OOCSI_OK) {
            oocsi_options_free(o);
            if (rc == OOCSI_ERR_UNSUPPORTED)
                return usage_error(a, "URL '%s': this build has no transport for its scheme", a->urls[i]);
            return usage_error(a, "bad URL '%s': %s", a->urls[i], oocsi_strerror(rc));
        }
    }
    if (a->cafile)
        oocsi_options_set_tls_ca_file(o, a->cafile);
    if (a->insecure)
        oocsi_options_set_tls_verify(o, 0);
    oocsi_options_set_connect_timeout(o, a->connect_timeout_ms);
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
        fprintf(stderr, "oocsi: cannot connect to ");
        for (int i = 0; i < a->nurls; i++)
            fprintf(stderr, "%s%s", i ? ", " : "", a->urls[i]);
        fprintf(stderr, ": %s\n", oocsi_strerror(rc));
        return connect_exit_code(rc);
    }
    if (a->verbose)
        note(a, "connected to %s as %s", oocsi_endpoint(c), oocsi_handle(c));
    *out = c;
    return EXIT_OK;
}

/* Maps a library error after connecting to an exit code, printing what. */
static int runtime_error(const char *what, int rc)
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

static void install_signals(void)
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
static int run_until_done(session *s, const char *what)
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

/* ---------------------------------------------------------- commands */

static int cmd_send(session *s)
{
    const cli *a = s->args;
    const char *recipient = a->pos[0];
    int from_stdin = a->npos == 2 && strcmp(a->pos[1], "-") == 0;
    int rc = EXIT_OK;
    cJSON *data = NULL;
    if (!from_stdin) {
        data = build_data(a, a->pos + 1, a->npos - 1, &rc);
        if (data == NULL)
            return rc;
    }
    rc = connect_client(s, 0, &s->client);
    if (rc != EXIT_OK) {
        cJSON_Delete(data);
        return rc;
    }
    if (!from_stdin) {
        int err = oocsi_send(s->client, recipient, data);
        cJSON_Delete(data);
        return err == OOCSI_OK ? EXIT_OK : runtime_error("cannot send", err);
    }
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        cJSON *j = parse_json(line);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            fprintf(stderr, "oocsi: stdin line %ld is not a JSON object\n", lineno);
            rc = EXIT_USAGE;
            break;
        }
        int err = oocsi_send(s->client, recipient, j);
        cJSON_Delete(j);
        if (err != OOCSI_OK) {
            rc = runtime_error("cannot send", err);
            break;
        }
    }
    free(line);
    return rc;
}

static int cmd_listen(session *s)
{
    const cli *a = s->args;
    if (a->npos == 0 && a->handle == NULL)
        return usage_error(a, "'listen' needs a CHANNEL (or --handle, to listen to direct messages)");
    install_signals();
    int rc = connect_client(s, 1, &s->client);
    if (rc != EXIT_OK)
        return rc;
    for (int i = 0; i < a->npos; i++) {
        int err = oocsi_subscribe(s->client, a->pos[i], on_message, s);
        if (err != OOCSI_OK)
            return runtime_error(a->pos[i], err);
    }
    if (!a->quiet) {
        fprintf(stderr, "oocsi: listening as %s on %s:", oocsi_handle(s->client), oocsi_endpoint(s->client));
        for (int i = 0; i < a->npos; i++)
            fprintf(stderr, " %s", a->pos[i]);
        fprintf(stderr, a->npos ? "\n" : " (direct messages)\n");
    }
    return run_until_done(s, "messages");
}

static int cmd_call(session *s)
{
    const cli *a = s->args;
    int rc = EXIT_OK;
    cJSON *data = build_data(a, a->pos + 2, a->npos - 2, &rc);
    if (data == NULL)
        return rc;
    rc = connect_client(s, 0, &s->client);
    if (rc != EXIT_OK) {
        cJSON_Delete(data);
        return rc;
    }
    int timeout = a->timeout_ms >= 0 ? a->timeout_ms : DEFAULT_TIMEOUT_MS;
    cJSON *response = NULL;
    int err = oocsi_call_and_wait(s->client, a->pos[0], a->pos[1], data, timeout, &response);
    cJSON_Delete(data);
    if (err == OOCSI_ERR_TIMEOUT) {
        fprintf(stderr, "oocsi: no answer to '%s' on '%s' within %d ms\n", a->pos[1], a->pos[0], timeout);
        return EXIT_TIMEOUT;
    }
    if (err != OOCSI_OK)
        return runtime_error("call failed", err);
    char *text = a->pretty ? cJSON_Print(response) : cJSON_PrintUnformatted(response);
    cJSON_Delete(response);
    if (text == NULL) {
        fprintf(stderr, "oocsi: out of memory\n");
        return EXIT_RUNTIME;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}

static void on_call(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    session *s = user;
    (void)c;
    if (s->fixed != NULL) {
        while (response->child != NULL)
            cJSON_Delete(cJSON_DetachItemViaPointer(response, response->child));
        for (const cJSON *k = s->fixed->child; k != NULL; k = k->next)
            cJSON_AddItemToObject(response, k->string, cJSON_Duplicate(k, 1));
    }
    if (s->args->count >= 0 && s->received >= s->args->count)
        return;
    s->received++;
    print_message(s, request, response);
}

static int cmd_respond(session *s)
{
    const cli *a = s->args;
    int rc = EXIT_OK;
    cJSON *fixed = NULL;
    if (a->npos > 2) {
        fixed = build_data(a, a->pos + 2, a->npos - 2, &rc);
        if (fixed == NULL)
            return rc;
    }
    s->fixed = fixed;
    install_signals();
    rc = connect_client(s, 1, &s->client);
    if (rc == EXIT_OK) {
        int err = oocsi_register(s->client, a->pos[0], a->pos[1], on_call, s);
        if (err != OOCSI_OK) {
            rc = runtime_error("cannot register the responder", err);
        } else {
            note(a, "answering '%s' on %s as %s (%s)", a->pos[1], a->pos[0], oocsi_handle(s->client),
                 fixed ? "fixed payload" : "echo");
            rc = run_until_done(s, "calls");
        }
    }
    /* Closed before the payload goes: responses reference it until then. */
    oocsi_close(s->client);
    s->client = NULL;
    s->fixed = NULL;
    cJSON_Delete(fixed);
    return rc;
}

/* Prints a query answer one item per line, leaving out own. */
static void print_list(const char *list, const char *own)
{
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *item = p;
        size_t n = len;
        while (n > 0 && (*item == ' ' || *item == '\t')) {
            item++;
            n--;
        }
        while (n > 0 && (item[n - 1] == ' ' || item[n - 1] == '\t' || item[n - 1] == '\r'))
            n--;
        if (n > 0 && !(own != NULL && strlen(own) == n && strncmp(item, own, n) == 0))
            printf("%.*s\n", (int)n, item);
        p += len;
        if (*p == ',')
            p++;
    }
}

static int cmd_query(session *s)
{
    const cli *a = s->args;
    int rc = connect_client(s, 0, &s->client);
    if (rc != EXIT_OK)
        return rc;
    int timeout = a->timeout_ms >= 0 ? a->timeout_ms : DEFAULT_TIMEOUT_MS;
    char *out = NULL;
    int err;
    const char *own = oocsi_handle(s->client);
    if (a->cmd->id == CMD_CHANNELS) {
        err = oocsi_channels(s->client, timeout, &out);
    } else if (a->cmd->id == CMD_CLIENTS) {
        err = oocsi_clients(s->client, timeout, &out);
    } else {
        err = oocsi_channel_subscribers(s->client, a->pos[0], timeout, &out);
        own = NULL;
    }
    if (err == OOCSI_ERR_UNSUPPORTED) {
        fprintf(stderr,
                "oocsi: the endpoint %s does not answer '%s' (the web protocol has no queries);"
                " use a tcp:// or tls:// URL\n",
                oocsi_endpoint(s->client), a->cmd->name);
        return EXIT_RUNTIME;
    }
    if (err == OOCSI_ERR_TIMEOUT) {
        fprintf(stderr, "oocsi: no answer to '%s' within %d ms\n", a->cmd->name, timeout);
        return EXIT_TIMEOUT;
    }
    if (err != OOCSI_OK)
        return runtime_error(a->cmd->name, err);
    print_list(out ? out : "", own);
    oocsi_free(out);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
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
