/*
 * oocsi-hub: runs the hub (hub.h) as a program until SIGINT or SIGTERM.
 *
 *   oocsi-hub [--port N] [--bind ADDR] [--users LIST] [--max-clients N]
 *             [--ping-interval MS] [--stale-timeout MS] [--max-line BYTES]
 *             [--tls-port N] [--ws-port N] [--wss-port N] [--cert FILE]
 *             [--key FILE] [--www DIR] [--allow-origin ORIGIN]...
 *             [--reference-drop-queue] [--verbose]
 *             [budget options: --max-delay S, --max-memory BYTES ... (usage())]
 *             [--help]
 *
 * Options may also be written with one dash (-port 4444, as for the Java
 * reference server) or as --name=value. Exit status: 0 after a signal, 2 on a
 * usage error, 1 if the hub cannot start (for example the port is in use).
 */
#include "hub.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: oocsi-hub [options]\n"
               "  --port N              TCP port (default 4444; 0: any free port)\n"
               "  -l, --listen ADDR     address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
               "  --users LIST          password handles \"name1:pw1;name2:pw2\"\n"
               "  --max-clients N       refuse hellos beyond N registered clients (default 0: unlimited)\n"
               "  --ping-interval MS    keep-alive tick (default 5000)\n"
               "  --stale-timeout MS    drop clients silent for this long (default 120000)\n"
               "  --max-line BYTES      longest accepted line (default 16777216)\n"
               "  --tls-port N          also the line protocol over TLS on port N (0: any free port)\n"
               "  --ws-port N           also WebSocket (oocsi-web protocol at /ws) and HTTP on port N\n"
               "  --wss-port N          the same over TLS on port N\n"
               "  --cert FILE           PEM server certificate (chain) for --tls-port and --wss-port\n"
               "  --key FILE            PEM private key for --tls-port and --wss-port\n"
               "  --www DIR             serve the files in DIR over HTTP on the ws/wss ports\n"
               "  --allow-origin ORIGIN also accept WebSocket pages from ORIGIN (repeatable; '*': any;\n"
               "                        default: no Origin, localhost, 127.0.0.1, [::1], the hub's own host)\n"
               "  --reference-drop-queue  drop output like the Java server (at most 21 pending lines)\n"
               "Budgets (0: the default; an error line names the flag to a client that hits one):\n"
               "  --max-delay S         longest _DELAY or _SCHEDULE ahead (default 86400)\n"
               "  --max-delayed N       pending delayed messages per client (default 1000)\n"
               "  --max-delayed-bytes BYTES         all pending delayed messages (default 67108864)\n"
               "  --max-delayed-client-bytes BYTES  those of one client (default 16777216)\n"
               "  --max-retain S        longest _RETAIN, longer ones are shortened (default and most 172800)\n"
               "  --max-retained-bytes BYTES        all retained messages (default 67108864)\n"
               "  --max-retained-client-bytes BYTES those of one client (default 16777216)\n"
               "  --hello-timeout MS    close TCP/TLS connections without a welcome after MS (default 10000)\n"
               "  --max-conns-per-addr N  TCP/TLS connections from one address (default 256)\n"
               "  --max-pending-hellos N  TCP/TLS connections without a welcome (default 1024)\n"
               "  --max-hello-line BYTES  longest line before a welcome (default 4096)\n"
               "  --max-output BYTES    output queued to all clients; over it the slowest are dropped\n"
               "                        (default 1073741824)\n"
               "  --max-memory BYTES    input, output, subscriptions, retained and delayed messages\n"
               "                        (default 2147483648)\n"
               "  --max-client-memory BYTES  the share of one client (default 268435456)\n"
               "  -v, --verbose         log connections and commands to stderr\n"
               "  -h, --help            show this text\n"
               "      --version         print the version and exit\n"
               "Each endpoint's URL is printed on stdout once it listens.\n");
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    if (!s || !*s) {
        return -1;
    }
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* The budget options: name, then where the value goes (one of the two). */
typedef struct budget_flag {
    const char *name;
    int *ival;
    size_t *zval;
} budget_flag;

static int budget_parse(const budget_flag *f, const char *value)
{
    long v = 0;
    if (parse_long(value, 0, f->ival ? INT_MAX : LONG_MAX, &v) < 0) {
        return -1;
    }
    if (f->ival) {
        *f->ival = (int)v;
    } else {
        *f->zval = (size_t)v;
    }
    return 0;
}

/* Appends one --allow-origin value to the comma-separated list. */
static int origins_add(char **list, const char *value)
{
    size_t old = *list ? strlen(*list) : 0, n = strlen(value);
    char *p = realloc(*list, old + n + 2);
    if (!p) {
        return -1;
    }
    if (old) {
        p[old++] = ',';
    }
    memcpy(p + old, value, n + 1);
    *list = p;
    return 0;
}

static char *origins; /* the --allow-origin values, comma-separated */

int main(int argc, char **argv)
{
    oocsi_hub_options o;
    oocsi_hub_options_init(&o);
    o.port = 4444;
    const budget_flag budgets[] = {
        {"max-delay", &o.max_delay_s, NULL},
        {"max-delayed", NULL, &o.max_delayed},
        {"max-delayed-bytes", NULL, &o.max_delayed_bytes},
        {"max-delayed-client-bytes", NULL, &o.max_delayed_client_bytes},
        {"max-retain", &o.max_retain_s, NULL},
        {"max-retained-bytes", NULL, &o.max_retained_bytes},
        {"max-retained-client-bytes", NULL, &o.max_retained_client_bytes},
        {"hello-timeout", &o.hello_timeout_ms, NULL},
        {"max-conns-per-addr", &o.max_conns_per_addr, NULL},
        {"max-pending-hellos", &o.max_pending_hellos, NULL},
        {"max-hello-line", NULL, &o.max_hello_line},
        {"max-output", NULL, &o.max_output},
        {"max-memory", NULL, &o.max_memory},
        {"max-client-memory", NULL, &o.max_client_memory},
    };
    const size_t nbudgets = sizeof budgets / sizeof budgets[0];

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            fprintf(stderr, "oocsi-hub: unexpected argument '%s'\n", arg);
            usage(stderr);
            return 2;
        }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        char key[64];
        const char *value = NULL;
        const char *eq = strchr(name, '=');
        size_t klen = eq ? (size_t)(eq - name) : strlen(name);
        if (klen >= sizeof key) {
            klen = sizeof key - 1;
        }
        memcpy(key, name, klen);
        key[klen] = '\0';
        if (eq) {
            value = eq + 1;
        }

        if (!strcmp(key, "help") || !strcmp(key, "h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(key, "version")) {
            printf("oocsi-hub %s\n", OOCSI_HUB_VERSION);
            return 0;
        }
        if (!strcmp(key, "listen") || !strcmp(key, "l")) {
            memcpy(key, "bind", 5); /* --bind is the older name */
        }
        if (!strcmp(key, "verbose") || !strcmp(key, "v")) {
            o.verbose = 1;
            continue;
        }
        if (!strcmp(key, "reference-drop-queue")) {
            o.reference_drop_queue = 1;
            continue;
        }
        int known = !strcmp(key, "port") || !strcmp(key, "bind") || !strcmp(key, "users") ||
                    !strcmp(key, "max-clients") || !strcmp(key, "ping-interval") || !strcmp(key, "stale-timeout") ||
                    !strcmp(key, "max-line") || !strcmp(key, "tls-port") || !strcmp(key, "ws-port") ||
                    !strcmp(key, "wss-port") || !strcmp(key, "cert") || !strcmp(key, "key") || !strcmp(key, "www") ||
                    !strcmp(key, "allow-origin");
        const budget_flag *budget = NULL;
        for (size_t b = 0; b < nbudgets && !known; b++) {
            if (!strcmp(key, budgets[b].name)) {
                budget = &budgets[b];
            }
        }
        if (!known && !budget) {
            fprintf(stderr, "oocsi-hub: unknown option '%s'\n", arg);
            usage(stderr);
            return 2;
        }
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "oocsi-hub: option '%s' needs a value\n", arg);
                usage(stderr);
                return 2;
            }
            value = argv[++i];
        }
        long v = 0;
        int bad = 0;
        if (budget) {
            bad = budget_parse(budget, value);
        } else if (!strcmp(key, "port")) {
            bad = parse_long(value, 0, 65535, &v);
            o.port = (int)v;
        } else if (!strcmp(key, "bind")) {
            bad = !*value;
            o.bind_address = value;
        } else if (!strcmp(key, "users")) {
            o.users = value;
        } else if (!strcmp(key, "max-clients")) {
            bad = parse_long(value, 0, INT_MAX, &v);
            o.max_clients = (int)v;
        } else if (!strcmp(key, "ping-interval")) {
            bad = parse_long(value, 1, INT_MAX, &v);
            o.ping_interval_ms = (int)v;
        } else if (!strcmp(key, "stale-timeout")) {
            bad = parse_long(value, 1, INT_MAX, &v);
            o.stale_timeout_ms = (int)v;
        } else if (!strcmp(key, "max-line")) {
            bad = parse_long(value, 1, LONG_MAX, &v);
            o.max_line = (size_t)v;
        } else if (!strcmp(key, "tls-port")) {
            bad = parse_long(value, 0, 65535, &v);
            o.tls_port = (int)v;
        } else if (!strcmp(key, "ws-port")) {
            bad = parse_long(value, 0, 65535, &v);
            o.ws_port = (int)v;
        } else if (!strcmp(key, "wss-port")) {
            bad = parse_long(value, 0, 65535, &v);
            o.wss_port = (int)v;
        } else if (!strcmp(key, "cert")) {
            bad = !*value;
            o.cert_file = value;
        } else if (!strcmp(key, "key")) {
            bad = !*value;
            o.key_file = value;
        } else if (!strcmp(key, "www")) {
            bad = !*value;
            o.www_dir = value;
        } else if (!strcmp(key, "allow-origin")) {
            bad = !*value || strchr(value, ',') != NULL || origins_add(&origins, value) != 0;
            o.allow_origins = origins;
        }
        if (bad) {
            fprintf(stderr, "oocsi-hub: invalid value '%s' for '%s'\n", value, arg);
            usage(stderr);
            return 2;
        }
    }

    /* SIGINT/SIGTERM are taken by sigwait() below; block them before the hub
     * thread starts so that it inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    oocsi_hub *h = oocsi_hub_start(&o);
    if (!h) {
        return 1;
    }
    const char *addr = o.bind_address ? o.bind_address : "127.0.0.1";
    const char *fmt = strchr(addr, ':') ? "oocsi-hub listening on %s[%s]:%d%s\n" : "oocsi-hub listening on %s%s:%d%s\n";
    printf(fmt, "tcp://", addr, oocsi_hub_port(h), "");
    if (oocsi_hub_tls_port(h) >= 0) {
        printf(fmt, "tls://", addr, oocsi_hub_tls_port(h), "");
    }
    if (oocsi_hub_ws_port(h) >= 0) {
        printf(fmt, "ws://", addr, oocsi_hub_ws_port(h), "/ws");
    }
    if (oocsi_hub_wss_port(h) >= 0) {
        printf(fmt, "wss://", addr, oocsi_hub_wss_port(h), "/ws");
    }
    fflush(stdout);

    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    if (o.verbose) {
        fprintf(stderr, "oocsi-hub: signal %d, shutting down\n", sig);
    }
    oocsi_hub_free(h);
    free(origins);
    return 0;
}
