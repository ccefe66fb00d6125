/*
 * The subcommands: send, listen, call, respond and the queries.
 */
#include "cli.h"

/* ---------------------------------------------------------- commands */

int cmd_send(session *s)
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
        /* a JSON object argument goes as its text: numbers exactly as written */
        int err = a->npos == 2 && a->pos[1][strspn(a->pos[1], " \t\r\n")] == '{'
                      ? oocsi_send_json(s->client, recipient, a->pos[1])
                      : oocsi_send(s->client, recipient, data);
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
        cJSON_Delete(j);
        int err = oocsi_send_json(s->client, recipient, line); /* as written: exact numbers */
        if (err != OOCSI_OK) {
            rc = runtime_error("cannot send", err);
            break;
        }
    }
    free(line);
    return rc;
}

int cmd_listen(session *s)
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

int cmd_call(session *s)
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

int cmd_respond(session *s)
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
        if (n > 0 && !(own != NULL && strlen(own) == n && strncmp(item, own, n) == 0)) {
            print_for_terminal(stdout, item, n);
            fputc('\n', stdout);
        }
        p += len;
        if (*p == ',')
            p++;
    }
}

int cmd_query(session *s)
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
