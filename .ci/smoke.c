/* Install smoke test: uses only <oocsi/oocsi.h>. Connects two clients to the
 * server given as argv[1], sends a channel message from one to the other and
 * waits (bounded) for it to arrive. */
#include <stdio.h>
#include <string.h>
#include <oocsi/oocsi.h>

static int received;

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    int64_t n;
    (void)c;
    (void)user;
    if (oocsi_message_get_int(msg, "n", &n) == OOCSI_OK && n == 42 && strcmp(oocsi_message_sender(msg), "smoke_tx") == 0)
        received = 1;
}

static int connect_as(oocsi_client **c, const char *url, const char *handle)
{
    oocsi_options *o = oocsi_options_new();
    int rc = o ? oocsi_options_set_handle(o, handle) : OOCSI_ERR_NOMEM;
    if (rc == OOCSI_OK)
        rc = oocsi_options_add_endpoint(o, url);
    if (rc == OOCSI_OK)
        rc = oocsi_connect(c, o);
    oocsi_options_free(o);
    return rc;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    oocsi_client *rx = NULL, *tx = NULL;
    printf("liboocsi %s, server %s\n", oocsi_version(), url);
    int rc = connect_as(&rx, url, "smoke_rx");
    if (rc == OOCSI_OK)
        rc = connect_as(&tx, url, "smoke_tx");
    if (rc == OOCSI_OK)
        rc = oocsi_subscribe(rx, "smoke", on_message, NULL);
    if (rc == OOCSI_OK)
        rc = oocsi_send_json(tx, "smoke", "{\"n\":42}");
    for (int i = 0; rc == OOCSI_OK && !received && i < 100; i++) {
        oocsi_loop(tx, 0);
        rc = oocsi_loop(rx, 50);
    }
    if (rc != OOCSI_OK)
        fprintf(stderr, "smoke test failed: %s\n", oocsi_strerror(rc));
    else if (!received)
        fprintf(stderr, "smoke test failed: the message did not arrive\n");
    else
        printf("message received: the installed library works\n");
    oocsi_close(tx);
    oocsi_close(rx);
    return rc == OOCSI_OK && received ? 0 : 1;
}
