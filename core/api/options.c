/*
 * oocsi_options: the setters with their validation, and oocsi_connect_to(),
 * which builds default options from a handle and a server and connects.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

oocsi_options *oocsi_options_new(void)
{
    oocsi_options *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->max_reconnect = -1;
    o->log_level = OOCSI_LOG_INFO;
    o->tls_verify = 1;
    o->connect_timeout_ms = 5000;
    o->reconnect_initial_ms = 100;
    o->reconnect_max_ms = 5000;
    o->keepalive_idle_ms = 10000;
    o->keepalive_timeout_ms = 20000;
    o->max_line = 16u * 1024 * 1024 + 64u * 1024; /* a 16 MiB message and its envelope */
    o->queue_max_count = 10000;
    o->queue_max_bytes = 16u * 1024 * 1024;
    o->pending_max_bytes = 64u * 1024 * 1024;
    return o;
}

void oocsi_options_free(oocsi_options *opts)
{
    if (!opts)
        return;
    oocsi__options_clear(opts);
    free(opts);
}

static int set_str(char **dst, const char *src)
{
    char *copy = NULL;
    if (src) {
        copy = strdup(src);
        if (!copy)
            return OOCSI_ERR_NOMEM;
    }
    free(*dst);
    *dst = copy;
    return OOCSI_OK;
}

int oocsi_options_set_handle(oocsi_options *opts, const char *handle)
{
    if (!opts)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_options_set_handle: opts is NULL");
    const char *problem = oocsi__handle_problem(handle);
    if (problem) {
        /* Remembered, so that oocsi_connect() fails instead of connecting
         * under a generated name when this return value was ignored. */
        set_str(&opts->bad_handle, handle);
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_options_set_handle: the handle \"%s\" is refused: %s", handle,
                          problem);
    }
    set_str(&opts->bad_handle, NULL);
    return set_str(&opts->handle, (handle && *handle) ? handle : NULL);
}

int oocsi_options_add_endpoint(oocsi_options *opts, const char *url)
{
    if (!opts || !url)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_options_add_endpoint: %s is NULL", opts ? "url" : "opts");
    oocsi__url u;
    int rc = oocsi__url_parse(url, &u);
    if (rc == OOCSI_ERR_INVAL)
        return oocsi_fail(
            rc,
            "oocsi_options_add_endpoint: url \"%s\" is not a URL the library reads: use scheme://host[:port][/path] "
            "(tcp, tls, ws, wss), host or host:port",
            url);
    if (rc != OOCSI_OK)
        return rc;
    if (!oocsi_find_transport(u.scheme)) {
        char schemes[256];
        oocsi__transport_schemes(schemes, sizeof schemes);
        rc = oocsi_fail(OOCSI_ERR_UNSUPPORTED,
                        "the endpoint \"%s\" has the unknown scheme \"%s\" (known: %s; a custom transport is "
                        "registered with oocsi_register_transport())",
                        url, u.scheme, schemes);
        oocsi__url_free(&u);
        return rc;
    }
    oocsi__url_free(&u);
    char **n = realloc(opts->endpoints, (size_t)(opts->n_endpoints + 1) * sizeof(*n));
    if (!n)
        return OOCSI_ERR_NOMEM;
    opts->endpoints = n;
    n[opts->n_endpoints] = strdup(url);
    if (!n[opts->n_endpoints])
        return OOCSI_ERR_NOMEM;
    opts->n_endpoints++;
    return OOCSI_OK;
}

int oocsi_options_set_max_reconnect_attempts(oocsi_options *opts, int attempts)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    opts->max_reconnect = attempts < 0 ? -1 : attempts;
    return OOCSI_OK;
}

int oocsi_options_set_logger(oocsi_options *opts, oocsi_log_fn fn, void *user)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    opts->logger_set = 1;
    opts->log_fn = fn;
    opts->log_user = user;
    return OOCSI_OK;
}

int oocsi_options_set_log_level(oocsi_options *opts, oocsi_log_level level)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    if (level < OOCSI_LOG_DEBUG || level > OOCSI_LOG_ERROR)
        return oocsi_fail(OOCSI_ERR_INVAL,
                          "oocsi_options_set_log_level: level must be OOCSI_LOG_DEBUG (%d) to OOCSI_LOG_ERROR (%d) "
                          "(got %d)",
                          OOCSI_LOG_DEBUG, OOCSI_LOG_ERROR, (int)level);
    opts->log_level = level;
    return OOCSI_OK;
}

int oocsi_options_set_direct_handler(oocsi_options *opts, oocsi_handler fn, void *user)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    opts->direct_fn = fn;
    opts->direct_user = user;
    return OOCSI_OK;
}

int oocsi_options_set_tls_ca_file(oocsi_options *opts, const char *pem_path)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    return set_str(&opts->tls_ca_file, pem_path);
}

int oocsi_options_set_tls_client_cert(oocsi_options *opts, const char *cert_pem_path, const char *key_pem_path)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    OOCSI__CHECK(cert_pem_path || !key_pem_path, "cert_pem_path",
                 "is NULL while key_pem_path is set (a key needs its certificate)");
    int rc = set_str(&opts->tls_cert_file, cert_pem_path);
    if (rc == OOCSI_OK)
        rc = set_str(&opts->tls_key_file, key_pem_path);
    return rc;
}

int oocsi_options_set_tls_verify(oocsi_options *opts, int verify)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    opts->tls_verify = verify ? 1 : 0;
    return OOCSI_OK;
}

int oocsi_options_set_connect_timeout(oocsi_options *opts, int timeout_ms)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    if (timeout_ms <= 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_options_set_connect_timeout: timeout_ms must be > 0 (got %d)",
                          timeout_ms);
    opts->connect_timeout_ms = timeout_ms;
    return OOCSI_OK;
}

int oocsi_options_set_state_handler(oocsi_options *opts, oocsi_state_fn fn, void *user)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    opts->state_fn = fn;
    opts->state_user = user;
    return OOCSI_OK;
}

int oocsi_options_set_reconnect_delay(oocsi_options *opts, int initial_ms, int max_ms)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    if (initial_ms <= 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_options_set_reconnect_delay: initial_ms must be > 0 (got %d)",
                          initial_ms);
    if (max_ms < initial_ms)
        return oocsi_fail(OOCSI_ERR_INVAL,
                          "oocsi_options_set_reconnect_delay: max_ms must be >= initial_ms (got %d < %d)", max_ms,
                          initial_ms);
    opts->reconnect_initial_ms = initial_ms;
    opts->reconnect_max_ms = max_ms;
    return OOCSI_OK;
}

int oocsi_options_set_keepalive(oocsi_options *opts, int idle_ms, int timeout_ms)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    if (idle_ms <= 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_options_set_keepalive: idle_ms must be > 0 (got %d)", idle_ms);
    if (timeout_ms <= idle_ms)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_options_set_keepalive: timeout_ms must be > idle_ms (got %d <= %d)",
                          timeout_ms, idle_ms);
    opts->keepalive_idle_ms = idle_ms;
    opts->keepalive_timeout_ms = timeout_ms;
    return OOCSI_OK;
}

int oocsi_options_set_max_line_length(oocsi_options *opts, size_t bytes)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    if (bytes < 1024)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_options_set_max_line_length: bytes must be >= 1024 (got %zu)", bytes);
    opts->max_line = bytes;
    return OOCSI_OK;
}

int oocsi_options_set_offline_queue(oocsi_options *opts, size_t max_messages, size_t max_bytes)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    OOCSI__CHECK(max_messages > 0, "max_messages", "must be > 0 (got 0)");
    OOCSI__CHECK(max_bytes > 0, "max_bytes", "must be > 0 (got 0)");
    opts->queue_max_count = max_messages;
    opts->queue_max_bytes = max_bytes;
    return OOCSI_OK;
}

int oocsi_options_set_calls_to_handlers(oocsi_options *opts, int on)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    opts->calls_to_handlers = on != 0;
    return OOCSI_OK;
}

int oocsi_options_set_pending_limit(oocsi_options *opts, size_t max_bytes)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
    OOCSI__CHECK(max_bytes > 0, "max_bytes", "must be > 0 (got 0)");
    opts->pending_max_bytes = max_bytes;
    return OOCSI_OK;
}

int oocsi_options_set_wake_signal(oocsi_options *opts, int signo)
{
    OOCSI__CHECK(opts, "opts", "is NULL");
#ifdef OOCSI_HAVE_PPOLL
    sigset_t set;
    sigemptyset(&set);
    OOCSI__CHECK(signo == 0 || (signo != SIGKILL && signo != SIGSTOP && sigaddset(&set, signo) == 0), "signo",
                 "must be 0 or a signal number other than SIGKILL and SIGSTOP");
#else
    OOCSI__CHECK(signo == 0, "signo", "must be 0 here (no ppoll)");
#endif
    opts->wake_signal = signo;
    return OOCSI_OK;
}

/* A setter's detail "<setter>: <why>" for argument arg of oocsi_connect_to
 * becomes "oocsi_connect_to: <arg>: <why>" (failure path only). */
static int as_connect_to(int rc, const char *arg)
{
    if (rc != OOCSI_ERR_INVAL)
        return rc;
    char was[1024];
    snprintf(was, sizeof was, "%s", oocsi_last_error(NULL));
    const char *why = strstr(was, ": ");
    return oocsi_fail(rc, "oocsi_connect_to: %s: %s", arg, why ? why + 2 : was);
}

int oocsi_connect_to(oocsi_client **out, const char *handle, const char *server)
{
    OOCSI__CHECK(out, "out", "is NULL");
    oocsi_options *o = oocsi_options_new();
    if (!o)
        return OOCSI_ERR_NOMEM;
    int rc = as_connect_to(oocsi_options_set_handle(o, handle), "handle");
    if (rc == OOCSI_OK && server)
        rc = as_connect_to(oocsi_options_add_endpoint(o, server), "server");
    if (rc == OOCSI_OK)
        rc = oocsi_connect(out, o);
    oocsi_options_free(o);
    return rc;
}
