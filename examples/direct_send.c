/*
 * direct_send: sends {"color", "position"} to the client "testreceiver"
 * once a second, as the Python client's directSend example.
 *
 *   oocsi-example-direct-send [server] [count]
 *
 * server: a URL, host or host:port (default localhost:4444); count: how many
 * messages (default: until Ctrl-C). Pair it with direct_receive.
 */
#include <stdio.h>
#include <stdlib.h>

#include <oocsi/oocsi.h>

int main(int argc, char **argv)
{
    oocsi_client *o;
    if (oocsi_connect_to(&o, "testsender", argc > 1 ? argv[1] : NULL) != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return 1;
    }
    long count = argc > 2 ? atol(argv[2]) : -1;
    for (long i = 0; count < 0 || i < count; i++) {
        char message[64];
        snprintf(message, sizeof message, "{\"color\":%d,\"position\":%d}", rand() % 400, rand() % 255);
        if (oocsi_send_json(o, "testreceiver", message) == OOCSI_OK)
            printf("to testreceiver -> %s\n", message);
        else
            fprintf(stderr, "not sent: %s\n", oocsi_last_error(NULL));
        fflush(stdout);
        oocsi_loop(o, 1000);
    }
    oocsi_close(o);
    return 0;
}
