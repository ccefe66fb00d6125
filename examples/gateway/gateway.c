/*
 * oocsi-gateway: lets browsers join OOCSI through any upstream endpoint.
 *
 * Browsers connect with their own WebSocket to /ws and speak the oocsi-web
 * protocol (codecs/README.md describes it); the same port serves a small static page over
 * HTTP. For every browser the gateway opens one liboocsi client upstream
 * (tcp, tls, ws or wss, with failover over the endpoint list) under the
 * browser's handle, and relays subscribe, unsubscribe and sendjson one way
 * and channel and direct messages (so call responses too) the other way.
 *
 * Threading:
 *  - the main thread runs the libwebsockets context (HTTP, WebSocket, the
 *    periodic ping tick) and never blocks on the upstream;
 *  - each browser session has one worker thread that owns its liboocsi
 *    client: it connects (oocsi_connect blocks up to the connect timeout),
 *    then executes the browser's commands in order (oocsi_subscribe waits for
 *    the server's confirmation) and finally closes the client;
 *  - the client's own loop thread (oocsi_loop_start) runs the handlers, which
 *    queue frames for the browser, put the session on the gateway's ready
 *    list and wake the lws thread with lws_cancel_service(); the lws thread
 *    visits only the sessions on that list and writes in SERVER_WRITEABLE.
 * For thousands of browsers: workers have WORKER_STACK-byte stacks, clients
 * are woken with WAKE_SIGNAL instead of a descriptor of their own (so a
 * session holds FDS_PER_SESSION descriptors), and main() raises the soft
 * descriptor limit to the hard one and sizes libwebsockets' table from it.
 * The HTTP API (gw_http.c) runs on the lws thread too: POST /send/NAME uses
 * one more liboocsi client, owned by its own thread; each GET /events/CHANNEL
 * stream is a session like a browser's, with its worker and client.
 * A session object is shared by the lws side and the worker (reference
 * counted); its queues are guarded by its mutex. Both queues are bounded: a
 * browser that floods commands, does not read its messages, sends a frame
 * over the size limit or stays silent past the idle timeout is cut off
 * alone.
 */
#include "gateway.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

volatile sig_atomic_t interrupted;
/* ------------------------------------------------------------------ main */

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: oocsi-gateway [options]\n"
            "Relays browsers speaking the oocsi-web protocol at ws://ADDR:PORT/ws to OOCSI\n"
            "servers, one upstream client per browser, and serves a chat page at /.\n"
            "\n"
            "  -l, --listen ADDR        listen address (default 127.0.0.1; 0.0.0.0 for all)\n"
            "      --port PORT          listen port (default %d; 0: any, printed on stdout)\n"
            "  -u, --url URL            upstream endpoint, repeatable, tried in order\n"
            "                           (tcp://, tls://, ws://, wss://; default %s)\n"
            "      --cert FILE          PEM certificate: serve https and wss instead of http and ws\n"
            "      --key FILE           PEM key of --cert (default: in the certificate file)\n"
            "      --cafile FILE        CA file to verify tls/wss upstreams\n"
            "      --insecure           do not verify tls/wss upstream certificates\n"
            "  -o, --origin ORIGIN      allowed Origin (e.g. http://host:8080), repeatable;\n"
            "                           default: any\n"
            "      --www DIR            static files served at / (default: the installed page);\n"
            "                           \"\" for none\n"
            "      --max-clients N      browsers and event streams at once, their upstream\n"
            "                           clients included (default 64)\n"
            "      --max-per-address N  browsers and event streams at once from one address\n"
            "                           (default: half of --max-clients)\n"
            "      --max-frame BYTES    longest frame from a browser, longest POST body (default 65536)\n"
            "      --max-queue BYTES    bytes queued per browser or stream and direction (default 4194304)\n"
            "      --ping-interval MS   ping browsers this often (default 10000)\n"
            "      --idle-timeout MS    close browsers silent this long (default 60000)\n"
            "      --connect-timeout MS upstream connect timeout (default 5000)\n"
            "      --no-http-api        no HTTP API (POST /send/NAME, GET /events/CHANNEL)\n"
            "      --http-handle NAME   handle POST /send messages come from\n"
            "                           (default %s, '#': a random digit)\n"
            "  -v, --verbose            log sessions to stderr\n"
            "  -h, --help               this text\n"
            "      --version            print the version and exit\n"
            "(--upstream and --ca are older names of --url and --cafile.)\n",
            DEFAULT_PORT, DEFAULT_UPSTREAM, DEFAULT_HTTP_HANDLE);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* 0 ok, 1 help, 2 version (printed), -1 usage error. */
static int parse_args(config *cfg, int argc, char **argv, int *www_given)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            return 1;
        }
        if (!strcmp(a, "--version")) {
            printf("oocsi-gateway %s (liboocsi %s)\n", OOCSI_GATEWAY_VERSION, oocsi_version());
            return 2;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            cfg->verbose = 1;
            continue;
        }
        if (!strcmp(a, "--insecure")) {
            cfg->insecure = 1;
            continue;
        }
        if (!strcmp(a, "--no-http-api")) {
            cfg->no_http_api = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "oocsi-gateway: %s: unknown option or missing value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        long n = 0;
        int bad = 0;
        if (!strcmp(a, "-l") || !strcmp(a, "--listen")) {
            cfg->listen = v;
        } else if (!strcmp(a, "--port")) {
            bad = parse_long(v, 0, 65535, &n);
            cfg->port = (int)n;
        } else if (!strcmp(a, "-u") || !strcmp(a, "--url") || !strcmp(a, "--upstream")) {
            bad = cfg->n_upstream >= MAX_LIST;
            if (!bad) {
                cfg->upstream[cfg->n_upstream++] = v;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--origin")) {
            bad = cfg->n_origins >= MAX_LIST;
            if (!bad) {
                cfg->origins[cfg->n_origins++] = v;
            }
        } else if (!strcmp(a, "--cert")) {
            cfg->cert = v;
        } else if (!strcmp(a, "--key")) {
            cfg->key = v;
        } else if (!strcmp(a, "--cafile") || !strcmp(a, "--ca")) {
            cfg->ca = v;
        } else if (!strcmp(a, "--www")) {
            cfg->www = *v ? v : NULL;
            *www_given = 1;
        } else if (!strcmp(a, "--http-handle")) {
            cfg->http_handle = v;
        } else if (!strcmp(a, "--max-clients")) {
            bad = parse_long(v, 1, 100000, &n);
            cfg->max_clients = (int)n;
        } else if (!strcmp(a, "--max-per-address")) {
            bad = parse_long(v, 1, 100000, &n);
            cfg->max_per_peer = (int)n;
        } else if (!strcmp(a, "--max-frame")) {
            bad = parse_long(v, 256, LONG_MAX, &n);
            cfg->max_frame = (size_t)n;
        } else if (!strcmp(a, "--max-queue")) {
            bad = parse_long(v, 4096, LONG_MAX, &n);
            cfg->max_queue = (size_t)n;
        } else if (!strcmp(a, "--ping-interval")) {
            bad = parse_long(v, 10, INT_MAX, &n);
            cfg->ping_ms = (int)n;
        } else if (!strcmp(a, "--idle-timeout")) {
            bad = parse_long(v, 10, INT_MAX, &n);
            cfg->idle_ms = (int)n;
        } else if (!strcmp(a, "--connect-timeout")) {
            bad = parse_long(v, 10, INT_MAX, &n);
            cfg->connect_ms = (int)n;
        } else {
            fprintf(stderr, "oocsi-gateway: unknown option %s\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "oocsi-gateway: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    if (cfg->n_upstream == 0) {
        cfg->upstream[cfg->n_upstream++] = DEFAULT_UPSTREAM;
    }
    if (cfg->key && !cfg->cert) {
        fprintf(stderr, "oocsi-gateway: --key needs --cert\n");
        return -1;
    }
    /* Check the endpoints (and the HTTP API's handle) once here rather than per browser. */
    oocsi_options *o = oocsi_options_new();
    if (o && oocsi_options_set_handle(o, cfg->http_handle) != OOCSI_OK) {
        fprintf(stderr, "oocsi-gateway: bad --http-handle %s\n", cfg->http_handle);
        oocsi_options_free(o);
        return -1;
    }
    for (int i = 0; o && i < cfg->n_upstream; i++) {
        int rc = oocsi_options_add_endpoint(o, cfg->upstream[i]);
        if (rc != OOCSI_OK) {
            fprintf(stderr, "oocsi-gateway: upstream %s: %s\n", cfg->upstream[i], oocsi_strerror(rc));
            oocsi_options_free(o);
            return -1;
        }
    }
    oocsi_options_free(o);
    return 0;
}

/* The page folder when --www is not given: next to the program as installed
 * (BINDIR/OOCSI_GATEWAY_WWW_REL, e.g. ../share/oocsi-gateway/www) or as built
 * (www/ beside the binary, copied there by CMake). NULL when neither exists,
 * after saying where it looked. */
static const char *default_www(void)
{
    static char found[PATH_MAX];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    const char *candidates[] = {OOCSI_GATEWAY_WWW_REL, "www"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        struct stat st;
        int len = snprintf(found, sizeof found, "%s/%s", exe, candidates[i]);
        if (len > 0 && (size_t)len < sizeof found && stat(found, &st) == 0 && S_ISDIR(st.st_mode))
            return found;
    }
    fprintf(stderr,
            "oocsi-gateway: warning: no page folder found (looked in %s/%s and %s/www); / answers 404. "
            "Pass --www DIR, or reinstall.\n",
            exe, OOCSI_GATEWAY_WWW_REL, exe);
    return NULL;
}

/* Raises the soft descriptor limit to the hard one (each session holds
 * FDS_PER_SESSION descriptors) and returns the resulting soft limit. */
static long raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
        return INT_MAX;
    return (long)rl.rlim_cur;
}

int main(int argc, char **argv)
{
    static gateway gw;
    gateway *g = &gw;
    config *cfg = &g->cfg;
    cfg->listen = "127.0.0.1";
    cfg->port = DEFAULT_PORT;
    cfg->www = NULL;
    int www_given = 0;
    cfg->max_clients = 64;
    cfg->max_frame = 65536;
    cfg->max_queue = 4u << 20;
    cfg->ping_ms = 10000;
    cfg->idle_ms = 60000;
    cfg->connect_ms = 5000;
    cfg->http_handle = DEFAULT_HTTP_HANDLE;
    int pr = parse_args(cfg, argc, argv, &www_given);
    if (pr == 2)
        return 0;
    if (pr) {
        usage(pr > 0 ? stdout : stderr);
        return pr > 0 ? 0 : 2;
    }
    if (cfg->max_per_peer == 0)
        cfg->max_per_peer = (cfg->max_clients + 1) / 2; /* one address never holds every slot */
    struct stat st;
    if (www_given && cfg->www && (stat(cfg->www, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "oocsi-gateway: --www %s: not a folder (%s)\n", cfg->www, strerror(errno));
        return 2;
    }
    if (!www_given)
        cfg->www = default_www();
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->ready_mu, NULL);
    pthread_cond_init(&g->cv, NULL);

    lws_set_log_level(cfg->verbose ? (LLL_ERR | LLL_WARN) : LLL_ERR, NULL);
    g->protocols[0].name = "oocsi";
    g->protocols[0].callback = ws_callback;
    g->protocols[0].per_session_data_size = sizeof(pss);
    g->protocols[0].rx_buffer_size = 0;
    if (cfg->www) {
        g->mount.mountpoint = "/";
        g->mount.mountpoint_len = 1;
        g->mount.origin = cfg->www;
        g->mount.def = "index.html";
        g->mount.origin_protocol = LWSMPRO_FILE;
    }
    g->protocols[1].name = HTTP_PROTOCOL;
    g->protocols[1].callback = http_callback;
    g->protocols[1].per_session_data_size = http_pss_size;
    /* /send and /events go to http_callback; the page keeps "/" */
    g->api_mounts[0].mountpoint = "/send";
    g->api_mounts[1].mountpoint = "/events";
    for (int i = 0; i < 2; i++) {
        g->api_mounts[i].mountpoint_len = (unsigned char)strlen(g->api_mounts[i].mountpoint);
        g->api_mounts[i].origin = HTTP_PROTOCOL;
        g->api_mounts[i].origin_protocol = LWSMPRO_CALLBACK;
    }
    g->api_mounts[0].mount_next = &g->api_mounts[1];
    g->api_mounts[1].mount_next = cfg->www ? &g->mount : NULL;

    long fds = raise_fd_limit();
    long capacity = fds > FDS_RESERVED ? (fds - FDS_RESERVED) / FDS_PER_SESSION : 0;
    logv(g, "descriptor limit %ld: room for about %ld browsers and event streams", fds, capacity);
    if (capacity < cfg->max_clients)
        fprintf(stderr,
                "oocsi-gateway: warning: --max-clients %d but the descriptor limit (%ld) leaves room for about "
                "%ld; raise the hard limit (ulimit -Hn)\n",
                cfg->max_clients, fds, capacity);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    /* lws sizes its descriptor table once, from this: every descriptor of
     * the process may be one of its sockets. */
    info.fd_limit_per_thread = (unsigned int)(fds < 1000000 ? fds : 1000000);
    info.count_threads = 1;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = g;
    g->ctx = lws_create_context(&info);
    if (!g->ctx) {
        fprintf(stderr, "oocsi-gateway: cannot create the libwebsockets context\n");
        return 1;
    }
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.port = cfg->port;
    vi.vhost_name = "oocsi-gateway";
    vi.protocols = g->protocols;
    vi.mounts = !cfg->no_http_api ? &g->api_mounts[0] : cfg->www ? &g->mount : NULL;
    const char *a = cfg->listen;
    int any = !strcmp(a, "0.0.0.0") || !strcmp(a, "::") || !strcmp(a, "*");
    vi.iface = any ? NULL : a;
    if (!strchr(a, ':')) {
        vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    if (cfg->cert) {
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        vi.ssl_cert_filepath = cfg->cert;
        vi.ssl_private_key_filepath = cfg->key ? cfg->key : cfg->cert;
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
        /* lws 4.1.6 builds (and leaks) a client SSL_CTX with the system CA
         * store for every TLS vhost: give it a small one, freed below. */
        g->client_ctx = SSL_CTX_new(TLS_client_method());
        vi.provided_client_ssl_ctx = g->client_ctx;
#endif
    }
    struct lws_vhost *vh = lws_create_vhost(g->ctx, &vi);
    int rc = 0;
    if (!vh) {
        fprintf(stderr, "oocsi-gateway: cannot listen on %s:%d\n", a, cfg->port);
        rc = 1;
    } else {
        int port = lws_get_vhost_listen_port(vh);
        /* Once "listening" is printed, POST /send works if the upstream is up
         * (a silent upstream delays that line by 2 s at most). */
        if (!cfg->no_http_api && http_api_start(g) != 0) {
            fprintf(stderr, "oocsi-gateway: cannot start the HTTP API's client\n");
            interrupted = 1;
            rc = 1;
        }
        long long first = (long long)cfg->connect_ms * cfg->n_upstream;
        http_api_wait_first(g, first < 2000 ? (int)first : 2000);
        const char *br = strchr(a, ':') ? "[" : "", *ket = *br ? "]" : "";
        printf("oocsi-gateway: listening on %s://%s%s%s:%d/ (browsers: %s://%s%s%s:%d/ws)\n",
               cfg->cert ? "https" : "http", br, a, ket, port, cfg->cert ? "wss" : "ws", br, a, ket, port);
        fflush(stdout);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        lws_sul_schedule(g->ctx, 0, &g->tick, on_tick, (lws_usec_t)cfg->ping_ms * LWS_US_PER_MS);
        while (!interrupted) {
            if (lws_service(g->ctx, 0) < 0) {
                break;
            }
        }
        going_away(g, 1000); /* browsers see 1001, not a dropped connection (1006) */
    }
    /* Stop every worker (each closes its upstream client) while the context
     * still exists: workers and handlers call lws_cancel_service(). */
    for (session *s = g->sessions; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        s->quit = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    http_api_stop(g);
    /* A worker still connecting to a slow upstream ends only with its connect
     * timeout: wait a little, then leave it to the operating system. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    pthread_mutex_lock(&g->mu);
    while (g->workers > 0) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    int left = g->workers;
    pthread_mutex_unlock(&g->mu);
    if (left > 0) {
        fprintf(stderr, "oocsi-gateway: %d upstream connection(s) still being made; exiting without them\n", left);
        fflush(NULL);
        _exit(rc);
    }
    lws_sul_cancel(&g->tick);
    lws_context_destroy(g->ctx); /* CLOSED for every session: the last references */
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
    SSL_CTX_free(g->client_ctx);
#endif
    /* g->mu and g->cv are not destroyed: a worker may still be returning
     * from its last unlock. */
    return rc;
}
