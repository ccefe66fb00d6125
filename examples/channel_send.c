/*
 * channel_send: publishes {"color": 0..399, "position": 0..254} on channel
 * "testchannel" once a second, as the Python client's channelSend example.
 *
 *   oocsi-example-channel-send [server] [count]
 *
 * server: a URL, host or host:port (default localhost:4444); count: how many
 * messages (default: until Ctrl-C). Pair it with channel_receive.
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
        if (oocsi_send_jsonf(o, "testchannel", "{\"color\":%d,\"position\":%d}", rand() % 400, rand() % 255) !=
            OOCSI_OK)
            fprintf(stderr, "not sent: %s\n", oocsi_last_error(NULL));
        oocsi_loop(o, 1000); /* wait a second, doing the client's I/O meanwhile */
    }
    oocsi_close(o);
    return 0;
}
