/*
 * gather: three members of a group say which colour they like; each sees
 * how many like which (a histogram), as a Java OOCSIGather on the same
 * channel and key would.
 *
 *   oocsi-example-gather [server]
 *
 * server: a URL, host or host:port (default localhost:4444).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <time.h>

#include <oocsi/behavior.h>
#include <oocsi/oocsi.h>

#define MEMBERS 3

/* Runs on a member's loop thread when the round it started ends. */
static void round_over(oocsi_gather *g, void *user)
{
    (void)g;
    printf("%s: my round is over\n", (const char *)user);
}

/* The number of members counted in g's histogram. */
static int counted(const oocsi_gather *g)
{
    cJSON *h = oocsi_gather_get(g), *e;
    int n = 0;
    cJSON_ArrayForEach(e, h) n += cJSON_GetObjectItem(e, "count")->valueint;
    cJSON_Delete(h);
    return n;
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    const char *names[MEMBERS] = {"gatherer_A_###", "gatherer_B_###", "gatherer_C_###"};
    const char *likes[MEMBERS] = {"red", "blue", "red"};
    oocsi_client *c[MEMBERS] = {0};
    oocsi_gather *g[MEMBERS] = {0};
    int rc = 1;
    for (int i = 0; i < MEMBERS; i++) {
        if (oocsi_connect_to(&c[i], names[i], server) != OOCSI_OK) {
            fprintf(stderr, "%s\n", oocsi_last_error(NULL));
            goto out;
        }
        oocsi_loop_start(c[i]); /* a background thread runs each client */
        /* channel "colours", key "favourite": "colours_favourite_gather" */
        g[i] = oocsi_gather_new(c[i], "colours", "favourite", 500, round_over, (void *)oocsi_handle(c[i]));
        if (!g[i]) {
            fprintf(stderr, "%s\n", oocsi_last_error(NULL));
            goto out;
        }
    }
    /* Each set starts a round in which everybody says their value. */
    for (int i = 0; i < MEMBERS; i++)
        oocsi_gather_set_string(g[i], likes[i]);
    /* Give the answers time to travel: until every member counted all three. */
    for (int t = 0; t < 500; t++) {
        int all = 1;
        for (int i = 0; i < MEMBERS; i++)
            all &= counted(g[i]) == MEMBERS;
        if (all) {
            rc = 0;
            break;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    cJSON *h = oocsi_gather_get(g[0]), *e;
    printf("the group likes:");
    cJSON_ArrayForEach(e, h)
    {
        printf(" %s (%d)", cJSON_GetObjectItem(e, "value")->valuestring, cJSON_GetObjectItem(e, "count")->valueint);
    }
    printf("\n");
    cJSON_Delete(h);
out:
    for (int i = 0; i < MEMBERS; i++) {
        oocsi_gather_free(g[i]); /* before closing its client */
        oocsi_close(c[i]);
    }
    return rc;
}
