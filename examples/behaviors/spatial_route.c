/*
 * spatial_route: three clients join one spatial group in a line, 1 apart,
 * each seeing the others within 1.5 as neighbours: a - b - c. Each prints
 * its neighbours, and a asks for the way to c (through b), as members of a
 * Java OOCSISpatial group on the same channel and key would.
 *
 *   oocsi-example-spatial-route [server]
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
    oocsi_loop_start(c); /* a background thread runs each client */
    return c;
}

/* Gives the positions time to travel: waits until s knows n members (at most 5 s). */
static int await_members(oocsi_spatial *s, int n)
{
    for (int i = 0; i < 500 && oocsi_spatial_count(s) < n; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return oocsi_spatial_count(s) >= n;
}

static void print_neighbours(const char *who, oocsi_spatial *s)
{
    cJSON *list = NULL;
    if (oocsi_spatial_neighbours(s, &list) != OOCSI_OK)
        return;
    char *text = cJSON_PrintUnformatted(list);
    printf("neighbours of %s: %s\n", who, text ? text : "?");
    cJSON_free(text);
    cJSON_Delete(list);
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    const char *names[3] = {"spatial_a", "spatial_b", "spatial_c"};
    oocsi_client *c[3] = {NULL, NULL, NULL};
    oocsi_spatial *s[3] = {NULL, NULL, NULL};
    int rc = 1;
    for (int i = 0; i < 3; i++) {
        if (!(c[i] = connect_or_die(names[i], server)))
            goto out;
        /* channel "room", key "position": 1-D positions 0, 1, 2 */
        if (!(s[i] = oocsi_spatial_new(c[i], "room", "position", 1, i, 0, 1.5))) {
            fprintf(stderr, "%s\n", oocsi_last_error(NULL));
            goto out;
        }
    }
    for (int i = 0; i < 3; i++)
        if (!await_members(s[i], 3)) {
            fprintf(stderr, "%s did not learn every position\n", names[i]);
            goto out;
        }
    for (int i = 0; i < 3; i++)
        print_neighbours(names[i], s[i]);
    char *via = NULL;
    int err = oocsi_spatial_next_hop(s[0], "spatial_c", 0, &via);
    if (err != OOCSI_OK) {
        fprintf(stderr, "no route: %s\n", oocsi_strerror(err));
        goto out;
    }
    printf("from spatial_a to spatial_c: through %s\n", via);
    oocsi_free(via);
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        oocsi_spatial_free(s[i]);
    for (int i = 0; i < 3; i++)
        oocsi_close(c[i]);
    return rc;
}
