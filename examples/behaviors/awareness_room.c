/*
 * awareness_room: two clients share their state in an awareness group on
 * channel "room": each says its mood and temperature, and the first prints
 * what it knows of every member, as a Java OOCSIAwareness on "room" would
 * see it. A third client that only sends to "room_awareness" shows up too.
 *
 *   oocsi-example-awareness-room [server]
 *
 * server: a URL, host or host:port (default localhost:4444).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <time.h>

#include <oocsi/behavior.h>
#include <oocsi/oocsi.h>

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

/* Waits until a knows n members with a temperature (at most 5 s). */
static int await_members(oocsi_awareness *a, const char *const *who, int n)
{
    for (int i = 0; i < 500; i++) {
        int known = 0;
        for (int k = 0; k < n; k++)
            known += oocsi_awareness_get_number(a, who[k], "temperature", -1000) > -1000;
        if (known == n)
            return 1;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void print_member(const char *node, const cJSON *data, void *user)
{
    (void)user;
    char *text = cJSON_PrintUnformatted(data);
    printf("%s says %s\n", node, text ? text : "?");
    cJSON_free(text);
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    oocsi_client *c1 = connect_or_die("aware_one", server);
    oocsi_client *c2 = c1 ? connect_or_die("aware_two", server) : NULL;
    oocsi_client *c3 = c2 ? connect_or_die("aware_sensor", server) : NULL;
    oocsi_awareness *a1 = c3 ? oocsi_awareness_new(c1, "room", NULL, 0, 0) : NULL;     /* every key */
    oocsi_awareness *a2 = a1 ? oocsi_awareness_new(c2, "room", NULL, 0, 60000) : NULL; /* forget after 1 min */
    int rc = 1;
    if (!a2) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        goto out;
    }
    oocsi_awareness_set_string(a2, "mood", "happy");
    oocsi_awareness_set_number(a2, "temperature", 21.5);
    oocsi_awareness_set_number(a1, "temperature", 19); /* a2 sees it; a1 never lists itself */
    /* no awareness object needed to take part: send to "<channel>_awareness" */
    oocsi_send_json(c3, "room_awareness", "{\"temperature\": 23, \"battery\": 80}");
    const char *members[] = {"aware_two", "aware_sensor"};
    if (!await_members(a1, members, 2)) {
        fprintf(stderr, "the members' state did not arrive\n");
        goto out;
    }
    printf("aware_one knows %d members\n", oocsi_awareness_size(a1));
    oocsi_awareness_each(a1, print_member, NULL);
    char *mood = oocsi_awareness_get_string(a1, "aware_two", "mood");
    printf("aware_two is %s\n", mood ? mood : "(unknown)");
    oocsi_free(mood);
    rc = 0;
out:
    oocsi_awareness_free(a1);
    oocsi_awareness_free(a2);
    oocsi_close(c3);
    oocsi_close(c2);
    oocsi_close(c1);
    return rc;
}
