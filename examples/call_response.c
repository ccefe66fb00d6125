/*
 * call_response: one client answers calls, another one makes them.
 *
 *   oocsi-example-call-response respond [url]   run only the responder
 *   oocsi-example-call-response call [url]      run only the caller
 *   oocsi-example-call-response [both] [url]    both, in one process
 *
 *   url  server to connect to (default tcp://localhost:4444)
 *
 * The responder registers the call "square" on channel "mathService": it
 * receives {"x": n} and answers {"x": n, "result": n*n}. The caller asks once
 * a second, alternating the two ways of calling:
 *
 *   oocsi_call_and_wait()  blocks until the answer (or the timeout) and hands
 *                          back the response data;
 *   oocsi_call()           returns at once; a callback gets the response (or
 *                          NULL after the timeout) inside oocsi_loop().
 *
 * Several responders may answer the same call; the caller keeps the first.
 * Stop with Ctrl-C.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <oocsi/oocsi.h>

#define CALL_CHANNEL "mathService"
#define CALL_NAME "square"
#define CALL_TIMEOUT_MS 2000

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static oocsi_client *connect_as(const char *url, const char *handle)
{
    oocsi_options *opts = oocsi_options_new();
    if (opts == NULL) {
        fprintf(stderr, "out of memory\n");
        return NULL;
    }
    oocsi_client *client = NULL;
    int rc = oocsi_options_set_handle(opts, handle);
    if (rc == OOCSI_OK) {
        rc = oocsi_options_add_endpoint(opts, url);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_connect(&client, opts);
    }
    oocsi_options_free(opts);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", url, oocsi_strerror(rc));
        return NULL;
    }
    printf("%s connected to %s\n", oocsi_handle(client), url);
    return client;
}

/* ---------------------------------------------------------------- responder */

/* `response` starts as a copy of the request data; we add the result. The
 * library sends it back to the caller when this function returns. */
static void on_square(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    double x;
    if (oocsi_message_get_double(request, "x", &x) != OOCSI_OK) {
        cJSON_AddStringToObject(response, "error", "expected a number under \"x\"");
        printf("[responder] %s sent no number\n", oocsi_message_sender(request));
        return;
    }
    cJSON_AddNumberToObject(response, "result", x * x);
    printf("[responder] %s asked for %g squared -> %g\n", oocsi_message_sender(request), x, x * x);
    fflush(stdout);
}

static int register_responder(oocsi_client *responder)
{
    int rc = oocsi_register(responder, CALL_CHANNEL, CALL_NAME, on_square, NULL);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot register the responder: %s\n", oocsi_strerror(rc));
        return rc;
    }
    printf("[responder] answering \"%s\" on channel \"%s\"\n", CALL_NAME, CALL_CHANNEL);
    return OOCSI_OK;
}

/* ------------------------------------------------------------------- caller */

static void on_call_result(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c;
    double started = *(double *)user;
    double result;
    if (response == NULL) {
        printf("[caller] async call: no answer within %d ms\n", CALL_TIMEOUT_MS);
    } else if (oocsi_message_get_double(response, "result", &result) == OOCSI_OK) {
        printf("[caller] async call: %s answered %g after %.2f ms\n", oocsi_message_sender(response), result,
               now_ms() - started);
    } else {
        char *json = oocsi_message_data_json(response);
        printf("[caller] async call: unexpected answer %s\n", json ? json : "?");
        oocsi_free(json);
    }
}

static void make_call(oocsi_client *caller, int n, double *async_started)
{
    cJSON *request = cJSON_CreateObject();
    if (request == NULL) {
        fprintf(stderr, "out of memory\n");
        return;
    }
    cJSON_AddNumberToObject(request, "x", n);

    if (n % 2 == 0) {
        cJSON *response = NULL;
        double t0 = now_ms();
        int rc = oocsi_call_and_wait(caller, CALL_CHANNEL, CALL_NAME, request, CALL_TIMEOUT_MS, &response);
        if (rc == OOCSI_OK) {
            const cJSON *result = cJSON_GetObjectItemCaseSensitive(response, "result");
            printf("[caller] call and wait: %d squared is %g (%.2f ms)\n", n,
                   cJSON_IsNumber(result) ? result->valuedouble : -1.0, now_ms() - t0);
            cJSON_Delete(response); /* the response is ours */
        } else {
            printf("[caller] call and wait for %d failed: %s\n", n, oocsi_strerror(rc));
        }
    } else {
        *async_started = now_ms();
        int rc = oocsi_call(caller, CALL_CHANNEL, CALL_NAME, request, CALL_TIMEOUT_MS, on_call_result, async_started);
        if (rc == OOCSI_OK) {
            printf("[caller] async call for %d sent\n", n);
        } else {
            printf("[caller] async call for %d failed: %s\n", n, oocsi_strerror(rc));
        }
    }
    cJSON_Delete(request);
    fflush(stdout);
}

/* ---------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    const char *mode = "both";
    int argi = 1;
    if (argc > 1 && (!strcmp(argv[1], "respond") || !strcmp(argv[1], "call") || !strcmp(argv[1], "both"))) {
        mode = argv[1];
        argi = 2;
    }
    const char *url = argc > argi ? argv[argi] : "tcp://localhost:4444";
    int run_responder = strcmp(mode, "call") != 0;
    int run_caller = strcmp(mode, "respond") != 0;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    oocsi_client *responder = NULL;
    oocsi_client *caller = NULL;
    int status = 1;

    if (run_responder) {
        responder = connect_as(url, "square_responder_###");
        if (responder == NULL || register_responder(responder) != OOCSI_OK) {
            goto out;
        }
    }
    if (run_caller) {
        caller = connect_as(url, "square_caller_###");
        if (caller == NULL) {
            goto out;
        }
    }

    if (!run_caller) {
        /* Responder only: its handler runs inside oocsi_loop(). */
        printf("waiting for calls (Ctrl-C stops)\n");
        while (!stop_requested) {
            if (oocsi_loop(responder, 500) == OOCSI_ERR_CLOSED) {
                fprintf(stderr, "connection closed: %s\n", oocsi_last_error(responder));
                goto out;
            }
        }
        status = 0;
        goto out;
    }

    /* With both in one process, the responder gets its own loop thread,
     * while this thread drives the caller. (Driving both from this thread
     * would also work, but then oocsi_call_and_wait() could not return
     * before the responder's loop ran: the answer would always time out.) */
    if (responder != NULL && oocsi_loop_start(responder) != OOCSI_OK) {
        fprintf(stderr, "cannot start the responder's loop thread\n");
        goto out;
    }

    printf("calling \"%s\" once a second (Ctrl-C stops)\n", CALL_NAME);
    int n = 1;
    double async_started = 0;
    double next_call = now_ms();
    while (!stop_requested) {
        double now = now_ms();
        if (now >= next_call) {
            make_call(caller, n++, &async_started);
            next_call += 1000;
            continue;
        }
        /* Async results, like all callbacks, run in here. */
        if (oocsi_loop(caller, (int)(next_call - now) + 1) == OOCSI_ERR_CLOSED) {
            fprintf(stderr, "connection closed: %s\n", oocsi_last_error(caller));
            goto out;
        }
    }
    status = 0;

out:
    printf("closing\n");
    oocsi_close(caller);
    oocsi_close(responder);
    return status;
}
