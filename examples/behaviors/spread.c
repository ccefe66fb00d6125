/*
 * spread: three members take distinct roles 1, 2 and 3 without anyone
 * handing them out, as Java OOCSISpread members on the same channel and key
 * would (they would take roles among the same numbers).
 *
 *   oocsi-example-spread [server]
 *
 * server: a URL, host or host:port (default localhost:4444).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <time.h>

#include <oocsi/behavior.h>
#include <oocsi/oocsi.h>

#define MEMBERS 3

/* Runs on the member's loop thread once its role has been stable a while. */
static void settled(oocsi_spread *sp, int role, void *user)
{
    (void)sp;
    printf("%s settles on role %d\n", (const char *)user, role);
}

/* 1 when every member is done and the roles are 1..MEMBERS, each once. */
static int distinct(oocsi_spread **sp)
{
    int seen[MEMBERS + 1] = {0};
    for (int i = 0; i < MEMBERS; i++) {
        int r = oocsi_spread_get(sp[i]);
        if (r < 1 || r > MEMBERS || seen[r] || !oocsi_spread_is_done(sp[i]))
            return 0;
        seen[r] = 1;
    }
    return 1;
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    const char *names[MEMBERS] = {"player_A_###", "player_B_###", "player_C_###"};
    oocsi_client *c[MEMBERS] = {0};
    oocsi_spread *sp[MEMBERS] = {0};
    int rc = 1;
    for (int i = 0; i < MEMBERS; i++) {
        if (oocsi_connect_to(&c[i], names[i], server) != OOCSI_OK) {
            fprintf(stderr, "%s\n", oocsi_last_error(NULL));
            goto out;
        }
        oocsi_loop_start(c[i]);
        /* channel "game", key "seat": "game_seat_spread"; frames of 10..210 ms */
        sp[i] = oocsi_spread_new(c[i], "game", "seat", 200, settled, (void *)oocsi_handle(c[i]));
        if (!sp[i]) {
            fprintf(stderr, "%s\n", oocsi_last_error(NULL));
            goto out;
        }
    }
    for (int t = 0; t < 3000 && !distinct(sp); t++) { /* at most 30 s */
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    rc = distinct(sp) ? 0 : 1;
    for (int i = 0; rc == 0 && i < MEMBERS; i++)
        printf("%s has role %d\n", oocsi_handle(c[i]), oocsi_spread_get(sp[i]));
    printf(rc == 0 ? "roles spread\n" : "roles not settled\n");
out:
    for (int i = 0; i < MEMBERS; i++) {
        oocsi_spread_free(sp[i]);
        oocsi_close(c[i]);
    }
    return rc;
}
