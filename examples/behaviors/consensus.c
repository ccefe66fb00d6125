/*
 * consensus: three members vote where to have lunch; after the last vote's
 * round every member holds the same answer, the majority, as Java
 * OOCSIConsensus members on the same channel and key would.
 *
 *   oocsi-example-consensus [server]
 *
 * server: a URL, host or host:port (default localhost:4444).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <oocsi/behavior.h>
#include <oocsi/oocsi.h>

#define MEMBERS 3

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs on the loop thread: remote = 1 when the result came from another member. */
static void decided(oocsi_consensus *cs, int remote, void *user)
{
    char *s = oocsi_consensus_dup_string(cs);
    printf("%s: the group says %s (%s)\n", (const char *)user, s ? s : "?", remote ? "heard" : "counted here");
    oocsi_free(s);
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    const char *names[MEMBERS] = {"voter_A_###", "voter_B_###", "voter_C_###"};
    const char *votes[MEMBERS] = {"pizza", "salad", "pizza"};
    oocsi_client *c[MEMBERS] = {0};
    oocsi_consensus *cs[MEMBERS] = {0};
    int rc = 1;
    for (int i = 0; i < MEMBERS; i++) {
        if (oocsi_connect_to(&c[i], names[i], server) != OOCSI_OK) {
            fprintf(stderr, "%s\n", oocsi_last_error(NULL));
            goto out;
        }
        oocsi_loop_start(c[i]);
        /* channel "lunch", key "place": "lunch_place_consensus"; rounds of 300 ms */
        cs[i] = oocsi_consensus_new(c[i], "lunch", "place", 300, OOCSI_CONSENSUS_MAJORITY, decided,
                                    (void *)oocsi_handle(c[i]));
        if (!cs[i]) {
            fprintf(stderr, "%s\n", oocsi_last_error(NULL));
            goto out;
        }
    }
    /* Each vote starts a round; the round of the last vote hears all three. */
    for (int i = 0; i < MEMBERS; i++) {
        oocsi_consensus_vote_string(cs[i], votes[i]);
        sleep_ms(400); /* let this round end before the next vote */
    }
    /* until every member holds pizza (at most 5 s) */
    for (int t = 0; t < 500 && rc != 0; t++) {
        int all = 1;
        for (int i = 0; i < MEMBERS; i++) {
            char *s = oocsi_consensus_dup_string(cs[i]);
            all &= oocsi_consensus_has_result(cs[i]) && s && strcmp(s, "pizza") == 0;
            oocsi_free(s);
        }
        rc = all ? 0 : 1;
        if (rc)
            sleep_ms(10);
    }
    printf(rc == 0 ? "all agree: pizza\n" : "no agreement\n");
out:
    for (int i = 0; i < MEMBERS; i++) {
        oocsi_consensus_free(cs[i]);
        oocsi_close(c[i]);
    }
    return rc;
}
