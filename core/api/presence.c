/*
 * Typed subscriptions to what the server itself publishes: presence events
 * ("presence(X)") and the meta channels that list names (OOCSI_clients,
 * OOCSI_channels, "X/?"). Each is a handler listener with an adapter that
 * turns the message into the typed callback's arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

/* ---------------------------------------------------------------- presence */

static const char *const presence_keys[] = {"join", "leave", "created", "closed", "refresh", "timeout"};

static void presence_adapt(oocsi_client *c, const oocsi_message *m, void (*afn)(void), void *user)
{
    oocsi_presence_event ev;
    memset(&ev, 0, sizeof ev);
    const cJSON *d = oocsi__message_payload(m); /* parsed on demand */
    const cJSON *who = cJSON_GetObjectItemCaseSensitive(d, "client");
    ev.target_is_client = cJSON_IsString(who);
    if (!ev.target_is_client)
        who = cJSON_GetObjectItemCaseSensitive(d, "channel");
    ev.target = cJSON_IsString(who) ? who->valuestring : m->sender;
    ev.timestamp = m->timestamp;
    const cJSON *v = NULL;
    size_t k = 0;
    for (; k < sizeof presence_keys / sizeof *presence_keys; k++)
        if ((v = cJSON_GetObjectItemCaseSensitive(d, presence_keys[k])) != NULL)
            break;
    if (!v)
        return; /* not an event this library knows */
    ev.kind = (oocsi_presence_kind)k;
    const char **members = NULL;
    if (ev.kind == OOCSI_PRESENCE_REFRESH) {
        if (!cJSON_IsArray(v))
            return;
        size_t n = (size_t)cJSON_GetArraySize(v);
        members = calloc(n + 1, sizeof(*members));
        if (!members)
            return;
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (cJSON_IsString(e))
                members[ev.n_members++] = e->valuestring;
        }
        ev.members = members;
    } else if (ev.kind == OOCSI_PRESENCE_JOIN || ev.kind == OOCSI_PRESENCE_LEAVE || ev.kind == OOCSI_PRESENCE_TIMEOUT) {
        if (!cJSON_IsString(v))
            return;
        ev.handle = v->valuestring;
    }
    ((oocsi_presence_fn)afn)(c, &ev, user);
    free(members);
}

/* "presence(target)" into buf, after checking target. */
static int presence_channel(const char *fn, const char *target, char *buf, size_t size)
{
    if (!target || !*target)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: target is %s", fn, target ? "empty" : "NULL");
    for (const char *p = target; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-'))
            return oocsi_fail(OOCSI_ERR_INVAL,
                              "%s: target \"%s\" may hold only letters, digits, '_' and '-' (the servers track "
                              "no other names)",
                              fn, target);
    if ((size_t)snprintf(buf, size, "presence(%s)", target) >= size)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: target is longer than %zu characters", fn, size - 11);
    return OOCSI_OK;
}

static oocsi__listener presence_probe(oocsi_presence_fn fn, void *user)
{
    oocsi__listener probe = {0};
    probe.kind = SUB_HANDLER;
    probe.adapt = presence_adapt;
    probe.afn = (void (*)(void))fn;
    probe.user = user;
    return probe;
}

int oocsi_subscribe_presence(oocsi_client *c, const char *target, oocsi_presence_fn fn, void *user)
{
    char ch[256];
    int rc = presence_channel(__func__, target, ch, sizeof ch);
    if (rc != OOCSI_OK)
        return rc;
    oocsi__listener probe = presence_probe(fn, user);
    return oocsi__api_add(__func__, c, ch, &probe, NULL);
}

int oocsi_unsubscribe_presence(oocsi_client *c, const char *target, oocsi_presence_fn fn, void *user)
{
    char ch[256];
    int rc = presence_channel(__func__, target, ch, sizeof ch);
    if (rc != OOCSI_OK)
        return rc;
    oocsi__listener probe = presence_probe(fn, user);
    return oocsi__api_remove(__func__, c, ch, &probe);
}

/* ------------------------------------------------------------ meta channels */

static void meta_adapt(oocsi_client *c, const oocsi_message *m, void (*afn)(void), void *user)
{
    const cJSON *d = oocsi__message_payload(m); /* parsed on demand */
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "clients");
    if (!cJSON_IsString(v))
        v = cJSON_GetObjectItemCaseSensitive(d, "channels");
    if (!cJSON_IsString(v))
        return;
    char *text = strdup(v->valuestring);
    size_t cap = 1;
    for (const char *p = v->valuestring; *p; p++)
        cap += *p == ',';
    const char **names = calloc(cap, sizeof(*names));
    size_t n = 0;
    if (text && names) {
        /* "a, b, c" (channels) or "a,b,c" (clients); "" is no name */
        for (char *p = text; *p;) {
            while (*p == ' ')
                p++;
            char *end = strchr(p, ',');
            if (end)
                *end = '\0';
            size_t len = strlen(p);
            while (len && p[len - 1] == ' ')
                p[--len] = '\0';
            if (len)
                names[n++] = p;
            if (!end)
                break;
            p = end + 1;
        }
        ((oocsi_meta_fn)afn)(c, m->recipient, names, n, user);
    }
    free(names);
    free(text);
}

static int check_meta(const char *fn, const char *meta)
{
    if (!meta)
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: meta_channel is NULL", fn);
    size_t n = strlen(meta);
    if (strcmp(meta, OOCSI_META_CLIENTS) == 0 || strcmp(meta, OOCSI_META_CHANNELS) == 0 ||
        (n > 2 && strcmp(meta + n - 2, "/?") == 0 && oocsi__validate_name(meta) == OOCSI_OK))
        return OOCSI_OK;
    return oocsi_fail(OOCSI_ERR_INVAL,
                      "%s: meta_channel \"%s\" is not a list the server publishes: use OOCSI_META_CLIENTS, "
                      "OOCSI_META_CHANNELS or \"CHANNEL/?\"",
                      fn, meta);
}

static oocsi__listener meta_probe(oocsi_meta_fn fn, void *user)
{
    oocsi__listener probe = {0};
    probe.kind = SUB_HANDLER;
    probe.adapt = meta_adapt;
    probe.afn = (void (*)(void))fn;
    probe.user = user;
    return probe;
}

int oocsi_subscribe_meta(oocsi_client *c, const char *meta_channel, oocsi_meta_fn fn, void *user)
{
    int rc = check_meta(__func__, meta_channel);
    if (rc != OOCSI_OK)
        return rc;
    oocsi__listener probe = meta_probe(fn, user);
    return oocsi__api_add(__func__, c, meta_channel, &probe, NULL);
}

int oocsi_unsubscribe_meta(oocsi_client *c, const char *meta_channel, oocsi_meta_fn fn, void *user)
{
    int rc = check_meta(__func__, meta_channel);
    if (rc != OOCSI_OK)
        return rc;
    oocsi__listener probe = meta_probe(fn, user);
    return oocsi__api_remove(__func__, c, meta_channel, &probe);
}
