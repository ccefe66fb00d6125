/*
 * The upstream side: one worker thread per browser owns a liboocsi client,
 * connects it under the browser's handle, runs the browser's commands in order
 * (subscribe, unsubscribe, sendjson) and turns messages into frames for the
 * browser.
 */
#include "gateway.h"

/* ------------------------------------------------------------------ upstream side (worker and loop threads) */

/* Sorts an object's keys (the web server sends them sorted), recursively. */
static void sort_keys(cJSON *o)
{
    if (!cJSON_IsObject(o) && !cJSON_IsArray(o)) {
        return;
    }
    for (cJSON *i = o->child; i; i = i->next) {
        sort_keys(i);
    }
    if (!cJSON_IsObject(o)) {
        return;
    }
    /* insertion sort of the linked list (payloads are small) */
    cJSON *sorted = NULL;
    for (cJSON *i = o->child, *next; i; i = next) {
        next = i->next;
        cJSON **p = &sorted;
        while (*p && strcmp((*p)->string, i->string) <= 0) {
            p = &(*p)->next;
        }
        i->next = *p;
        *p = i;
    }
    cJSON *prev = NULL;
    for (cJSON *i = sorted; i; i = i->next) {
        i->prev = prev;
        prev = i;
    }
    if (sorted) {
        sorted->prev = prev; /* cJSON keeps the tail in child->prev */
    }
    o->child = sorted;
}

/* Number literals of JSON text t, in document order, one after another,
 * each NUL-terminated, in *lits (malloc'd); how many. */
static size_t number_literals(const char *t, char **lits)
{
    size_t n = strlen(t), count = 0, o = 0;
    char *out = malloc(n + 1);
    *lits = out;
    if (!out) {
        return 0;
    }
    for (size_t i = 0; i < n;) {
        if (t[i] == '"') {
            for (i++; i < n && t[i] != '"'; i++) {
                i += t[i] == '\\';
            }
            i++;
        } else if (t[i] == '-' || (t[i] >= '0' && t[i] <= '9')) {
            while (i < n && strchr("+-.0123456789eE", t[i])) {
                out[o++] = t[i++];
            }
            out[o++] = '\0';
            count++;
        } else {
            i++;
        }
    }
    return count;
}

/* Gives the numbers of tree (parsed from text) their literal text back, as
 * raw items, so that integers beyond 2^53 reach the browser digit for digit
 * rather than through a double. */
static void exact_numbers(cJSON *item, const char **lit, size_t *left)
{
    for (cJSON *i = item; i; i = i->next) {
        if (cJSON_IsNumber(i)) {
            if (*left == 0) {
                return; /* cannot happen: text and tree agree */
            }
            char *raw = strdup(*lit);
            if (raw) {
                i->type = cJSON_Raw;
                i->valuestring = raw;
            }
            *lit += strlen(*lit) + 1;
            (*left)--;
        }
        if (i->child) {
            exact_numbers(i->child, lit, left);
        }
    }
}

/* The payload as a tree whose numbers keep their literal text. */
static cJSON *payload_tree(const oocsi_message *m)
{
    char *text = oocsi_message_data_json(m);
    cJSON *d = text ? cJSON_Parse(text) : NULL;
    char *lits = NULL;
    size_t n = d ? number_literals(text, &lits) : 0;
    const char *lit = lits;
    if (d && lits) {
        exact_numbers(d->child, &lit, &n);
    }
    free(lits);
    oocsi_free(text);
    return d ? d : cJSON_Duplicate(oocsi_message_data(m), 1);
}

/* Channel and direct messages: {"data": {...}, "recipient", "sender", "timestamp"}. */
static void on_message(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    session *s = user;
    cJSON *o = cJSON_CreateObject();
    cJSON *d = payload_tree(m);
    char *text = NULL;
    if (o && d) {
        sort_keys(d);
        cJSON_AddItemToObject(o, "data", d);
        d = NULL;
        cJSON_AddStringToObject(o, "recipient", oocsi_message_recipient(m));
        cJSON_AddStringToObject(o, "sender", oocsi_message_sender(m));
        cJSON_AddNumberToObject(o, "timestamp", (double)oocsi_message_timestamp(m));
        text = cJSON_PrintUnformatted(o);
    }
    if (text && s->sse) {
        /* one event per message: "data: JSON" and a blank line (the JSON has no newline) */
        size_t n = strlen(text);
        char *ev = malloc(n + 9);
        if (ev) {
            memcpy(ev, "data: ", 6);
            memcpy(ev + 6, text, n);
            memcpy(ev + 6 + n, "\n\n", 3);
            push_frame(s, ev, n + 8, 0);
            free(ev);
        } else {
            cJSON_free(text);
            text = NULL;
        }
    } else if (text) {
        push_frame(s, text, strlen(text), 0);
    }
    if (!text) {
        pthread_mutex_lock(&s->mu);
        s->kill = 1; /* out of memory: drop this browser rather than lose messages silently */
        pthread_mutex_unlock(&s->mu);
        session_wake(s);
    }
    cJSON_free(text);
    cJSON_Delete(d);
    cJSON_Delete(o);
}

static void on_state(oocsi_client *c, oocsi_state st, int err, void *user)
{
    session *s = user;
    if (st == OOCSI_STATE_CONNECTED) {
        logv(s->g, "%s: upstream connected (%s)", oocsi_handle(c), oocsi_endpoint(c));
    } else if (st == OOCSI_STATE_OFFLINE) {
        logv(s->g, "%s: upstream offline (%s), reconnecting", oocsi_handle(c), oocsi_strerror(err));
    } else {
        logv(s->g, "%s: upstream closed", oocsi_handle(c));
        pthread_mutex_lock(&s->mu);
        s->kill = 1;
        pthread_mutex_unlock(&s->mu);
        session_wake(s);
    }
}

static void log_upstream(oocsi_log_level level, const char *msg, void *user)
{
    (void)level;
    (void)user;
    fprintf(stderr, "oocsi-gateway: upstream: %s\n", msg);
}

int gw_client_options(const config *cfg, oocsi_options *o, const char *handle)
{
    int rc = oocsi_options_set_handle(o, handle);
    for (int i = 0; rc == OOCSI_OK && i < cfg->n_upstream; i++) {
        rc = oocsi_options_add_endpoint(o, cfg->upstream[i]);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_logger(o, cfg->verbose ? log_upstream : NULL, NULL);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_connect_timeout(o, cfg->connect_ms);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_reconnect_delay(o, 100, 2000);
    }
    if (rc == OOCSI_OK && cfg->ca) {
        rc = oocsi_options_set_tls_ca_file(o, cfg->ca);
    }
    if (rc == OOCSI_OK && cfg->insecure) {
        rc = oocsi_options_set_tls_verify(o, 0);
    }
    return rc;
}

static oocsi_options *upstream_options(session *s, const char *handle)
{
    const config *cfg = &s->g->cfg;
    oocsi_options *o = oocsi_options_new();
    if (!o) {
        return NULL;
    }
    int rc = gw_client_options(cfg, o, handle);
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_direct_handler(o, on_message, s);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_calls_to_handlers(o, 1); /* the browser answers calls itself */
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_state_handler(o, on_state, s);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_max_line_length(o, cfg->max_queue > 1024 ? cfg->max_queue : 1024);
    }
    if (rc == OOCSI_OK) {
        /* no wake-up descriptor per client: two descriptors per session */
        rc = oocsi_options_set_wake_signal(o, WAKE_SIGNAL);
    }
    if (rc != OOCSI_OK) {
        oocsi_options_free(o);
        return NULL;
    }
    return o;
}

/* A handle as the web server takes it: trimmed, without leading/trailing
 * '/'; empty, too long, with whitespace, control or non-ASCII characters, or
 * with ':' (no password handles) it becomes webclient_####. */
static const char *web_handle(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 200) {
        return "webclient_####";
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (ch <= ' ' || ch >= 0x7f || ch == ':') {
            return "webclient_####";
        }
    }
    return h;
}

static void run_command(session *s, oocsi_client *c, cmd *k)
{
    int rc = OOCSI_OK;
    /* The web client subscribes to its own handle after every welcome. The
     * server delivers a direct message once either way, but liboocsi hands
     * it to the direct handler and to every subscription named like the
     * handle: subscribing upstream would relay it (and call answers) twice.
     * The direct handler already relays them, so that subscription is a
     * no-op here, as on the web server. */
    int own = (k->kind == CMD_SUB || k->kind == CMD_UNSUB) && !strcmp(k->arg, oocsi_handle(c));
    switch (k->kind) {
    case CMD_SUB:
        rc = own ? OOCSI_OK : oocsi_subscribe(c, k->arg, on_message, s);
        break;
    case CMD_UNSUB:
        rc = own ? OOCSI_OK : oocsi_unsubscribe(c, k->arg);
        break;
    case CMD_SEND:
        rc = oocsi_send_json(c, k->arg, k->json);
        if (rc == OOCSI_ERR_INVAL) {
            /* JSON that is not an object (text, array, number, null): the
             * web server delivers it with an empty object; anything else
             * (invalid JSON, a bad recipient) is ignored. */
            cJSON *v = cJSON_ParseWithOpts(k->json, NULL, 1);
            rc = v && !cJSON_IsObject(v) ? oocsi_send_json(c, k->arg, "{}") : OOCSI_OK;
            if (rc == OOCSI_ERR_INVAL) {
                rc = OOCSI_OK;
            }
            cJSON_Delete(v);
        }
        break;
    }
    if (rc == OOCSI_ERR_QUEUE_FULL || rc == OOCSI_ERR_NOMEM || rc == OOCSI_ERR_CLOSED) {
        logv(s->g, "%s: %s, closing the browser session", oocsi_handle(c), oocsi_strerror(rc));
        pthread_mutex_lock(&s->mu);
        s->kill = 1;
        pthread_mutex_unlock(&s->mu);
        session_wake(s);
    } else if (rc != OOCSI_OK) {
        logv(s->g, "%s: command failed: %s", oocsi_handle(c), oocsi_strerror(rc));
    }
}

void *worker(void *arg)
{
    session *s = arg;
    gateway *g = s->g;
    oocsi_client *c = NULL;
    oocsi_options *o = upstream_options(s, web_handle(s->handle));
    int rc = o ? oocsi_connect(&c, o) : OOCSI_ERR_NOMEM;
    oocsi_options_free(o);
    if (s->sse) {
        if (rc == OOCSI_OK) {
            rc = oocsi_loop_start(c);
        }
        if (rc == OOCSI_OK) {
            rc = oocsi_subscribe(c, s->channel, on_message, s);
        }
        pthread_mutex_lock(&s->mu);
        s->ready = rc == OOCSI_OK ? 1 : -1;
        pthread_mutex_unlock(&s->mu);
        if (rc == OOCSI_OK) {
            logv(g, "%s: event stream of %s for %s", oocsi_handle(c), s->channel, s->peer);
            push_text(s, 0, ": subscribed to %s as %s\n\n", s->channel, oocsi_handle(c));
        } else {
            logv(g, "%s: event stream of %s: %s", s->handle, s->channel, oocsi_strerror(rc));
            /* the answer to the request: 503 with this body (gw_http.c) */
            push_text(s, 1, "{\"error\":\"upstream: %s\"}", oocsi_strerror(rc));
        }
    } else if (rc == OOCSI_OK) {
        push_text(s, 0, "{\"message\" : \"welcome %s\"}", oocsi_handle(c));
        logv(g, "%s: welcomed upstream at %s", oocsi_handle(c), oocsi_endpoint(c));
        rc = oocsi_loop_start(c);
        if (rc != OOCSI_OK) {
            push_text(s, 1, "{\"message\" : \"ERROR: %s\"}", oocsi_strerror(rc));
        }
    } else if (rc == OOCSI_ERR_HANDLE_TAKEN) {
        push_text(s, 1, "{\"message\" : \"ERROR: client %s exists already\"}", web_handle(s->handle));
    } else {
        logv(g, "%s: cannot connect upstream: %s", s->handle, oocsi_strerror(rc));
        push_text(s, 1, "{\"message\" : \"ERROR: upstream: %s\"}", oocsi_strerror(rc));
    }
    if (rc == OOCSI_OK) {
        pthread_mutex_lock(&s->mu);
        while (!s->quit) {
            cmd *k = s->in_head;
            if (!k) {
                pthread_cond_wait(&s->cv, &s->mu);
                continue;
            }
            s->in_head = k->next;
            if (!s->in_head) {
                s->in_tail = NULL;
            }
            s->in_bytes -= k->size;
            pthread_mutex_unlock(&s->mu);
            run_command(s, c, k);
            free(k);
            pthread_mutex_lock(&s->mu);
        }
        pthread_mutex_unlock(&s->mu);
    }
    oocsi_close(c); /* stops the loop thread: no handler runs after this */
    session_unref(s);
#ifdef OOCSI_GATEWAY_HAVE_OPENSSL
    /* This thread's OpenSSL state (its error queue) now, not at thread exit,
     * which may come after main() returned. */
    OPENSSL_thread_stop();
#endif
    /* last: main() tears down the context once no worker runs */
    pthread_mutex_lock(&g->mu);
    g->workers--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}
