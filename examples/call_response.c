/*
 * call_response: a responder and a caller in one program, as the Python
 * client's callResponse example: the responder registers "colorGenerator" on
 * "colorChannel" and answers {"newColor": oldColor + 1}; the caller calls it
 * once asynchronously (a callback gets the answer) and once blocking.
 *
 *   oocsi-example-call-response [server]
 *
 * server: a URL, host or host:port (default localhost:4444). The handles are
 * generated (NULL), like the Python example's OOCSI().
 */
#include <stdio.h>
#include <stdlib.h>

#include <oocsi/oocsi.h>

/* The responder: response arrives pre-filled with the request's data. */
static void respond_to_event(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    (void)c, (void)user;
    cJSON_AddNumberToObject(response, "newColor", (double)(oocsi_message_get_int_or(request, "oldColor", 0) + 1));
}

/* The asynchronous call's answer (NULL when none came in time). */
static void on_answer(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c;
    *(int *)user = 1;
    char *json = response ? oocsi_message_data_json(response) : NULL;
    printf("%s\n", json ? json : "response not found");
    oocsi_free(json);
}

int main(int argc, char **argv)
{
    const char *server = argc > 1 ? argv[1] : NULL;
    oocsi_client *responder = NULL, *caller = NULL;
    if (oocsi_connect_to(&responder, NULL, server) != OOCSI_OK || oocsi_connect_to(&caller, NULL, server) != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        oocsi_close(responder);
        return 1;
    }
    printf("%s\n%s\n", oocsi_handle(responder), oocsi_handle(caller));
    oocsi_loop_start(responder); /* answers on its own thread */
    oocsi_register(responder, "colorChannel", "colorGenerator", respond_to_event, NULL);

    /* asynchronous call: on_answer runs inside the caller's loop */
    int answered = 0;
    cJSON *data = cJSON_CreateObject();
    cJSON_AddNumberToObject(data, "oldColor", 9);
    oocsi_call(caller, "colorChannel", "colorGenerator", data, 1000, on_answer, &answered);
    while (!answered)
        oocsi_loop(caller, 100);

    /* blocking call */
    cJSON_ReplaceItemInObject(data, "oldColor", cJSON_CreateNumber(19));
    cJSON *response = NULL;
    int rc = oocsi_call_and_wait(caller, "colorChannel", "colorGenerator", data, 1000, &response);
    char *json = response ? cJSON_PrintUnformatted(response) : NULL;
    printf("%s\n", rc == OOCSI_OK && json ? json : "response not found");
    free(json);
    cJSON_Delete(response);
    cJSON_Delete(data);
    oocsi_close(caller);
    oocsi_close(responder);
    return rc == OOCSI_OK ? 0 : 1;
}
