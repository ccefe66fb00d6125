/*
 * server_features: what an OOCSI server does besides passing messages on,
 * through the library's typed calls, with three clients in one process:
 * presence events of a channel, a rate-limited handler, one message to
 * several channels, a retained message that a late subscriber still gets, a
 * delayed message, a private channel and the list of connected clients.
 *
 *   oocsi-example-server-features [server]
 *
 * server: a URL, host or host:port (default localhost:4444); the reference
 * Java server and oocsi-hub both work. It takes a few seconds (a delayed
 * message is released by the server's one-second tick) and exits 0 when
 * everything arrived, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <oocsi/oocsi.h>

/* --- a counter that callbacks raise and main waits on (callbacks run on
 *     the clients' loop threads) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int handled, over_limit, joins, leaves, retained_seen, delayed_seen, private_seen, clients_seen, many_seen;

static void bump(int *counter)
{
    pthread_mutex_lock(&mu);
    (*counter)++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Waits (at most 10 s) until *counter reaches want. 1/0. */
static int await(int *counter, int want, const char *what)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (*counter < want && rc == 0)
        rc = pthread_cond_timedwait(&cv, &mu, &until);
    int ok = *counter >= want;
    pthread_mutex_unlock(&mu);
    if (!ok)
        fprintf(stderr, "gave up waiting for %s\n", what);
    return ok;
}

/* --- callbacks */

static void on_presence(oocsi_client *c, const oocsi_presence_event *ev, void *user)
{
    (void)c;
    (void)user;
    if (ev->kind == OOCSI_PRESENCE_JOIN) {
        printf("presence: %s joined %s\n", ev->handle, ev->target);
        bump(&joins);
    } else if (ev->kind == OOCSI_PRESENCE_LEAVE) {
        printf("presence: %s left %s\n", ev->handle, ev->target);
        bump(&leaves);
    }
}

static void on_reading(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)user;
    printf("handled reading %d\n", (int)oocsi_message_get_int_or(m, "reading", -1));
    bump(&handled);
}

static void on_too_many(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)user;
    printf("over the limit: reading %d\n", (int)oocsi_message_get_int_or(m, "reading", -1));
    bump(&over_limit);
}

static void on_ignore(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)m;
    (void)user;
}

static void on_many(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)user;
    printf("%s got the announcement\n", oocsi_message_recipient(m));
    bump(&many_seen);
}

static void on_retained(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)user;
    printf("late subscriber got the retained status: %s\n", oocsi_message_get_string_or(m, "status", "?"));
    bump(&retained_seen);
}

static void on_delayed(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)user;
    const char *text = oocsi_message_get_string_or(m, "text", "?");
    printf("reminder channel: %s\n", text);
    if (strcmp(text, "later") == 0)
        bump(&delayed_seen);
}

static void on_private(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)user;
    printf("private channel %s: %s\n", oocsi_message_recipient(m), oocsi_message_get_string_or(m, "secret", "?"));
    bump(&private_seen);
}

static void on_clients(oocsi_client *c, const char *meta, const char *const *names, size_t count, void *user)
{
    (void)c;
    (void)meta;
    const char *want = user;
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], want) == 0) {
            bump(&clients_seen);
            return;
        }
}

/* Runs call; on an error says which and why, and makes run() fail. */
#define TRY(call)                                                                                                      \
    do {                                                                                                               \
        if ((call) != OOCSI_OK) {                                                                                      \
            fprintf(stderr, "%s: %s\n", #call, oocsi_last_error(NULL));                                                \
            return 1;                                                                                                  \
        }                                                                                                              \
    } while (0)

static oocsi_client *connect_or_die(const char *handle, const char *server)
{
    oocsi_client *c;
    if (oocsi_connect_to(&c, handle, server) != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return NULL;
    }
    oocsi_loop_start(c);
    return c;
}

static int run(oocsi_client *watcher, oocsi_client *sensor, oocsi_client *late)
{
    /* A handler that takes at most 2 readings per 10 s; the rest goes to
     * on_too_many (as the Java client's RateLimitedEventHandler). */
    oocsi_rate_limit limit = {2, 10000, 0, on_too_many, NULL};
    TRY(oocsi_subscribe_limited(watcher, "sf_readings", on_reading, NULL, &limit));
    /* Presence: the watcher hears who joins and leaves the channel. */
    TRY(oocsi_subscribe_presence(watcher, "sf_readings", on_presence, NULL));
    TRY(oocsi_subscribe(sensor, "sf_readings", on_ignore, NULL)); /* the sensor joins: a presence event */
    if (!await(&joins, 1, "the join"))
        return 1;
    for (int i = 1; i <= 4; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"reading\":%d}", i);
        TRY(oocsi_send_json(late, "sf_readings", json));
    }
    if (!await(&handled, 2, "the readings") || !await(&over_limit, 2, "the readings over the limit"))
        return 1;
    oocsi_unsubscribe(sensor, "sf_readings"); /* a leave event */
    if (!await(&leaves, 1, "the leave"))
        return 1;

    /* One message to two channels. */
    TRY(oocsi_subscribe(watcher, "sf_news", on_many, NULL));
    TRY(oocsi_subscribe(watcher, "sf_alerts", on_many, NULL));
    cJSON *note = cJSON_Parse("{\"text\":\"hello both\"}");
    const char *to[] = {"sf_news", "sf_alerts"};
    int sent_note = oocsi_send_many(sensor, to, 2, note);
    cJSON_Delete(note);
    TRY(sent_note);
    if (!await(&many_seen, 2, "the announcement"))
        return 1;

    /* Retained: kept for 60 s for whoever subscribes later. The channel
     * needs a subscriber when it arrives (the watcher). */
    TRY(oocsi_subscribe(watcher, "sf_status", on_many, NULL));
    cJSON *status = cJSON_Parse("{\"status\":\"open\"}");
    int sent_status = oocsi_send_retained(sensor, "sf_status", status, 60);
    cJSON_Delete(status);
    TRY(sent_status);
    if (!await(&many_seen, 3, "the status"))
        return 1;
    TRY(oocsi_subscribe(late, "sf_status", on_retained, NULL));
    if (!await(&retained_seen, 1, "the retained status"))
        return 1;

    /* Delayed: sent first, arrives after a message sent right after it. */
    TRY(oocsi_subscribe(late, "sf_reminders", on_delayed, NULL));
    cJSON *later = cJSON_Parse("{\"text\":\"later\"}");
    int sent_later = oocsi_send_delayed(sensor, "sf_reminders", later, 1);
    cJSON_Delete(later);
    TRY(sent_later);
    TRY(oocsi_send_json(sensor, "sf_reminders", "{\"text\":\"now\"}"));
    if (!await(&delayed_seen, 1, "the delayed reminder"))
        return 1;

    /* A private channel: only who knows the secret hears it. */
    TRY(oocsi_subscribe_private(late, "sf_vault", "opensesame", on_private, NULL));
    cJSON *secret = cJSON_Parse("{\"secret\":\"42\"}");
    int sent_secret = oocsi_send_private(sensor, "sf_vault", "opensesame", secret);
    cJSON_Delete(secret);
    TRY(sent_secret);
    if (!await(&private_seen, 1, "the private message"))
        return 1;

    /* The server's list of clients, every second. */
    TRY(oocsi_subscribe_meta(watcher, OOCSI_META_CLIENTS, on_clients, (void *)oocsi_handle(late)));
    if (!await(&clients_seen, 1, "the client list"))
        return 1;
    printf("the client list names %s\n", oocsi_handle(late));
    return 0;
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    oocsi_client *watcher = connect_or_die("sf_watcher_###", server);
    oocsi_client *sensor = watcher ? connect_or_die("sf_sensor_###", server) : NULL;
    oocsi_client *late = sensor ? connect_or_die("sf_late_###", server) : NULL;
    int rc = late ? run(watcher, sensor, late) : 1;
    oocsi_close(late);
    oocsi_close(sensor);
    oocsi_close(watcher);
    printf("%s\n", rc == 0 ? "done" : "failed");
    return rc;
}
