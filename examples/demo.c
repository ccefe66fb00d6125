/*
 * demo: a complete OOCSI conversation in one process, in a few seconds.
 *
 *   oocsi-demo
 *
 * It starts the hub (the project's small OOCSI server) on 127.0.0.1 with an
 * ephemeral port, connects three clients and walks through the whole API:
 *
 *   Alice       a person with a phone, driven by this thread with oocsi_loop()
 *   Bob         another person, also driven by this thread
 *   thermostat  a device answering calls, running on its own background
 *               thread (oocsi_loop_start)
 *
 * Alice and Bob are pumped by pump_until(): one poll() over both clients'
 * file descriptors, then oocsi_loop(c, 0) for each, until the step's
 * condition holds or its deadline passes. Nothing here sleeps to wait for
 * something: every wait is bounded and ends as soon as the event arrives.
 *
 * Exit status 0 when every step worked, 1 (with the failed step on stderr)
 * otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oocsi/oocsi.h>

#include "hub.h"

/* Bound of every single wait in the demo. */
#define STEP_TIMEOUT_MS 3000
/* Extra call/response round trips for the latency figures. */
#define EXTRA_ROUND_TRIPS 20

struct demo {
    oocsi_hub *hub;
    char url[64];
    oocsi_client *alice;
    oocsi_client *bob;
    oocsi_client *thermostat;
    oocsi_variable *alice_target;
    oocsi_variable *bob_target;
    oocsi_variable *thermostat_target;
    oocsi_device *device;

    /* Written by Alice's and Bob's handlers, which run on this (the main)
     * thread inside oocsi_loop(), so no locking is needed. */
    int bob_livingroom_msgs;
    int alice_direct_msgs;
    int alice_async_call_done;
    int alice_async_call_ok;
    int bob_announcements;

    /* Written only by the thermostat's loop thread; read after oocsi_close()
     * joined that thread. */
    int thermostat_calls;
};

/* ------------------------------------------------------------ small helpers */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void section(const char *title)
{
    printf("\n== %s\n", title);
}

static int failed(const char *what, int err, const oocsi_client *c)
{
    fprintf(stderr, "\ndemo: FAILED: %s: %s", what, oocsi_strerror(err));
    if (c != NULL) {
        fprintf(stderr, " (%s)", oocsi_last_error(c));
    }
    fprintf(stderr, "\n");
    return err;
}

/* Prints "<who> <arrow> <where>: <payload JSON>" for a received message. */
static void print_received(const char *who, const char *what, const oocsi_message *msg)
{
    char *json = oocsi_message_data_json(msg);
    printf("  %-10s <- %s from %s: %s\n", who, what, oocsi_message_sender(msg), json ? json : "?");
    oocsi_free(json);
}

static int approx(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

/*
 * Drives Alice and Bob until pred(d) is true or timeout_ms passed.
 *
 * This is the poll() integration from examples/poll_loop.c for two clients:
 * run what is ready (oocsi_loop(c, 0)), check the condition, then sleep in
 * poll() until one of the sockets is ready or a library timer is due.
 * oocsi_loop(c, 0) comes first because a blocking call (subscribe, a query,
 * a call) may already have read messages whose callbacks are still queued.
 */
static int pump_until(struct demo *d, int (*pred)(const struct demo *), int timeout_ms)
{
    oocsi_client *clients[2] = {d->alice, d->bob};
    double deadline = now_ms() + timeout_ms;

    for (;;) {
        for (int i = 0; i < 2; i++) {
            int rc = oocsi_loop(clients[i], 0);
            if (rc != OOCSI_OK) {
                return rc;
            }
        }
        if (pred(d)) {
            return OOCSI_OK;
        }
        double left = deadline - now_ms();
        if (left <= 0) {
            return OOCSI_ERR_TIMEOUT;
        }

        struct pollfd pfd[2];
        nfds_t n = 0;
        int wait_ms = (int)left + 1;
        for (int i = 0; i < 2; i++) {
            int fd = oocsi_fd(clients[i]);
            if (fd >= 0) {
                pfd[n].fd = fd;
                pfd[n].events = (short)(POLLIN | (oocsi_want_write(clients[i]) ? POLLOUT : 0));
                pfd[n].revents = 0;
                n++;
            }
            int t = oocsi_next_timeout_ms(clients[i]);
            if (t >= 0 && t < wait_ms) {
                wait_ms = t;
            }
        }
        if (poll(pfd, n, wait_ms) < 0 && errno != EINTR) {
            return OOCSI_ERR_IO;
        }
    }
}

/* Connects one client to the demo hub. Only warnings and errors of the
 * library are logged, so the output shows the conversation. */
static int connect_client(oocsi_client **out, const char *url, const char *handle, oocsi_handler direct, void *user)
{
    oocsi_options *opts = oocsi_options_new();
    if (opts == NULL) {
        return OOCSI_ERR_NOMEM;
    }
    int rc = oocsi_options_set_handle(opts, handle);
    if (rc == OOCSI_OK) {
        rc = oocsi_options_add_endpoint(opts, url);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_options_set_log_level(opts, OOCSI_LOG_WARN);
    }
    if (rc == OOCSI_OK && direct != NULL) {
        rc = oocsi_options_set_direct_handler(opts, direct, user);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_connect(out, opts);
    }
    oocsi_options_free(opts);
    return rc;
}

/* ----------------------------------------------------------------- handlers */

static void bob_on_livingroom(oocsi_client *c, const oocsi_message *msg, void *user)
{
    struct demo *d = user;
    (void)c;
    print_received("Bob", oocsi_message_recipient(msg), msg);
    d->bob_livingroom_msgs++;
}

static void alice_on_direct(oocsi_client *c, const oocsi_message *msg, void *user)
{
    struct demo *d = user;
    (void)c;
    print_received("Alice", "direct message", msg);
    d->alice_direct_msgs++;
}

static void bob_on_direct(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    (void)user;
    print_received("Bob", "direct message", msg);
}

/* Runs on the thermostat's own loop thread. The response arrives pre-filled
 * with the request's data ("room"); we add the answer. */
static void thermostat_on_get_temperature(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    struct demo *d = user;
    (void)c;
    d->thermostat_calls++;
    cJSON_AddNumberToObject(response, "celsius", 19.5);
    cJSON_AddStringToObject(response, "mode", "heating");
    if (d->thermostat_calls == 1) {
        const char *room = oocsi_message_get_string(request, "room");
        printf("  thermostat answers %s's call for room \"%s\" (on its own thread)\n", oocsi_message_sender(request),
               room ? room : "?");
    }
}

static void alice_on_call_result(oocsi_client *c, const oocsi_message *response, void *user)
{
    struct demo *d = user;
    (void)c;
    d->alice_async_call_done = 1;
    if (response != NULL) {
        d->alice_async_call_ok = 1;
        print_received("Alice", "async call result", response);
    } else {
        printf("  Alice      <- async call timed out\n");
    }
}

static void bob_on_announcement(oocsi_client *c, const oocsi_message *msg, void *user)
{
    struct demo *d = user;
    (void)c;
    /* The payload is {"<device name>": {"properties":…, "components":…, "location":…}}. */
    const cJSON *data = oocsi_message_data(msg);
    const cJSON *device = data ? data->child : NULL;
    if (device == NULL || !cJSON_IsObject(device)) {
        printf("  Bob        <- heyOOCSI! from %s: not a device description\n", oocsi_message_sender(msg));
        return;
    }
    printf("  Bob        <- heyOOCSI! from %s: device \"%s\"\n", oocsi_message_sender(msg), device->string);
    const cJSON *item;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(device, "properties");
    cJSON_ArrayForEach(item, props)
    {
        printf("               property  %s = %s\n", item->string,
               cJSON_IsString(item) ? item->valuestring : "(not text)");
    }
    const cJSON *components = cJSON_GetObjectItemCaseSensitive(device, "components");
    cJSON_ArrayForEach(item, components)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
        const cJSON *channel = cJSON_GetObjectItemCaseSensitive(item, "channel_name");
        printf("               component %s (%s) on channel %s\n", item->string,
               cJSON_IsString(type) ? type->valuestring : "?", cJSON_IsString(channel) ? channel->valuestring : "?");
    }
    const cJSON *locations = cJSON_GetObjectItemCaseSensitive(device, "location");
    cJSON_ArrayForEach(item, locations)
    {
        const cJSON *lat = cJSON_GetArrayItem(item, 0);
        const cJSON *lon = cJSON_GetArrayItem(item, 1);
        printf("               location  %s at %.4f, %.4f\n", item->string,
               cJSON_IsNumber(lat) ? lat->valuedouble : 0.0, cJSON_IsNumber(lon) ? lon->valuedouble : 0.0);
    }
    d->bob_announcements++;
}

/* -------------------------------------------------------- conditions to wait */

static int three_livingroom_msgs(const struct demo *d)
{
    return d->bob_livingroom_msgs >= 3;
}

static int alice_got_direct(const struct demo *d)
{
    return d->alice_direct_msgs >= 1;
}

static int async_call_done(const struct demo *d)
{
    return d->alice_async_call_done;
}

static int targets_after_thermostat(const struct demo *d)
{
    return approx(oocsi_variable_get(d->alice_target), 26.0) && approx(oocsi_variable_get(d->bob_target), 30.0);
}

static int targets_after_alice(const struct demo *d)
{
    return approx(oocsi_variable_get(d->bob_target), 25.75);
}

static int bob_got_announcement(const struct demo *d)
{
    return d->bob_announcements >= 1;
}

/* -------------------------------------------------------------------- steps */

static int step_hub_and_clients(struct demo *d)
{
    section("1. the hub and three clients");
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.bind_address = "127.0.0.1";
    ho.port = 0; /* let the system pick a free port */
    d->hub = oocsi_hub_start(&ho);
    if (d->hub == NULL) {
        return failed("starting the hub", OOCSI_ERR_IO, NULL);
    }
    snprintf(d->url, sizeof d->url, "tcp://127.0.0.1:%d", oocsi_hub_port(d->hub));
    printf("  hub listening on %s\n", d->url);

    int rc = connect_client(&d->alice, d->url, "Alice", alice_on_direct, d);
    if (rc != OOCSI_OK) {
        return failed("connecting Alice", rc, NULL);
    }
    rc = connect_client(&d->bob, d->url, "Bob", bob_on_direct, d);
    if (rc != OOCSI_OK) {
        return failed("connecting Bob", rc, NULL);
    }
    rc = connect_client(&d->thermostat, d->url, "thermostat", NULL, NULL);
    if (rc != OOCSI_OK) {
        return failed("connecting the thermostat", rc, NULL);
    }
    oocsi_client *all[3] = {d->alice, d->bob, d->thermostat};
    for (int i = 0; i < 3; i++) {
        printf("  %-10s connected via %s\n", oocsi_handle(all[i]), oocsi_endpoint(all[i]));
    }
    return OOCSI_OK;
}

static int step_channel(struct demo *d)
{
    section("2. channel messages");
    int rc = oocsi_subscribe(d->bob, "livingroom", bob_on_livingroom, d);
    if (rc != OOCSI_OK) {
        return failed("Bob subscribing to livingroom", rc, d->bob);
    }
    printf("  Bob subscribed to \"livingroom\" (the server has confirmed it)\n");

    for (int i = 1; i <= 3; i++) {
        cJSON *data = cJSON_CreateObject();
        if (data == NULL) {
            return failed("building a message", OOCSI_ERR_NOMEM, NULL);
        }
        cJSON_AddStringToObject(data, "lamp", "on");
        cJSON_AddNumberToObject(data, "brightness", 30 * i);
        char *text = cJSON_PrintUnformatted(data);
        printf("  %-10s -> livingroom: %s\n", "Alice", text ? text : "?");
        cJSON_free(text);
        rc = oocsi_send(d->alice, "livingroom", data);
        cJSON_Delete(data);
        if (rc != OOCSI_OK) {
            return failed("Alice sending to livingroom", rc, d->alice);
        }
    }
    rc = pump_until(d, three_livingroom_msgs, STEP_TIMEOUT_MS);
    if (rc != OOCSI_OK) {
        return failed("waiting for Bob to receive 3 channel messages", rc, d->bob);
    }
    return OOCSI_OK;
}

static int step_direct(struct demo *d)
{
    section("3. a direct message");
    const char *json = "{\"text\":\"Lights are on. Shall I warm up the room?\"}";
    printf("  %-10s -> Alice: %s\n", "Bob", json);
    int rc = oocsi_send_json(d->bob, "Alice", json);
    if (rc != OOCSI_OK) {
        return failed("Bob sending to Alice", rc, d->bob);
    }
    rc = pump_until(d, alice_got_direct, STEP_TIMEOUT_MS);
    if (rc != OOCSI_OK) {
        return failed("waiting for Alice's direct message", rc, d->alice);
    }
    return OOCSI_OK;
}

static int step_call(struct demo *d)
{
    section("4. call and response");
    int rc = oocsi_register(d->thermostat, "thermostat", "getTemperature", thermostat_on_get_temperature, d);
    if (rc != OOCSI_OK) {
        return failed("registering the thermostat's responder", rc, d->thermostat);
    }
    rc = oocsi_loop_start(d->thermostat);
    if (rc != OOCSI_OK) {
        return failed("starting the thermostat's loop thread", rc, d->thermostat);
    }
    printf("  thermostat answers \"getTemperature\" on channel \"thermostat\"\n");

    cJSON *request = cJSON_CreateObject();
    if (request == NULL) {
        return failed("building a request", OOCSI_ERR_NOMEM, NULL);
    }
    cJSON_AddStringToObject(request, "room", "livingroom");
    printf("  %-10s -> thermostat: call getTemperature {\"room\":\"livingroom\"}\n", "Alice");

    cJSON *response = NULL;
    double t0 = now_ms();
    rc = oocsi_call_and_wait(d->alice, "thermostat", "getTemperature", request, STEP_TIMEOUT_MS, &response);
    double latency = now_ms() - t0;
    if (rc != OOCSI_OK) {
        cJSON_Delete(request);
        return failed("Alice's call to the thermostat", rc, d->alice);
    }
    char *text = cJSON_PrintUnformatted(response);
    printf("  %-10s <- response %s in %.2f ms\n", "Alice", text ? text : "?", latency);
    cJSON_free(text);
    const cJSON *celsius = cJSON_GetObjectItemCaseSensitive(response, "celsius");
    int good = cJSON_IsNumber(celsius) && approx(celsius->valuedouble, 19.5);
    cJSON_Delete(response);
    if (!good) {
        cJSON_Delete(request);
        return failed("checking the response (no \"celsius\": 19.5)", OOCSI_ERR_PROTOCOL, NULL);
    }

    /* A few more round trips for latency figures. */
    double min = 1e9, max = 0, sum = 0;
    for (int i = 0; i < EXTRA_ROUND_TRIPS; i++) {
        t0 = now_ms();
        rc = oocsi_call_and_wait(d->alice, "thermostat", "getTemperature", request, STEP_TIMEOUT_MS, &response);
        latency = now_ms() - t0;
        if (rc != OOCSI_OK) {
            cJSON_Delete(request);
            return failed("a repeated call", rc, d->alice);
        }
        cJSON_Delete(response);
        min = latency < min ? latency : min;
        max = latency > max ? latency : max;
        sum += latency;
    }
    printf("  %d more round trips: min %.2f ms, mean %.2f ms, max %.2f ms\n", EXTRA_ROUND_TRIPS, min,
           sum / EXTRA_ROUND_TRIPS, max);

    /* The same call without blocking: the result arrives in a callback that
     * runs inside Alice's oocsi_loop(). */
    rc = oocsi_call(d->alice, "thermostat", "getTemperature", request, STEP_TIMEOUT_MS, alice_on_call_result, d);
    cJSON_Delete(request);
    if (rc != OOCSI_OK) {
        return failed("Alice's asynchronous call", rc, d->alice);
    }
    printf("  %-10s -> thermostat: the same call with oocsi_call() (not blocking)\n", "Alice");
    rc = pump_until(d, async_call_done, STEP_TIMEOUT_MS + 1000);
    if (rc != OOCSI_OK || !d->alice_async_call_ok) {
        return failed("waiting for the asynchronous call result", rc ? rc : OOCSI_ERR_TIMEOUT, d->alice);
    }
    return OOCSI_OK;
}

static int step_variables(struct demo *d)
{
    section("5. a synchronized variable");
    /* Three variables mirroring key "target" on channel "climate". Each
     * applies its own filter to what it receives. */
    d->thermostat_target = oocsi_variable_new(d->thermostat, "climate", "target");
    d->alice_target = oocsi_variable_new(d->alice, "climate", "target");
    d->bob_target = oocsi_variable_new(d->bob, "climate", "target");
    if (d->thermostat_target == NULL || d->alice_target == NULL || d->bob_target == NULL) {
        return failed("creating the variables", OOCSI_ERR_NOMEM, NULL);
    }
    int rc = oocsi_variable_min(d->alice_target, 16.0);
    if (rc == OOCSI_OK) {
        rc = oocsi_variable_max(d->alice_target, 26.0);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_variable_smooth(d->bob_target, 2, 0.0);
    }
    if (rc != OOCSI_OK) {
        return failed("configuring the variables", rc, NULL);
    }
    printf("  climate/target: Alice keeps it within 16..26, Bob averages the last 2 values\n");

    printf("  thermostat sets target = 30\n");
    rc = oocsi_variable_set(d->thermostat_target, 30.0);
    if (rc != OOCSI_OK) {
        return failed("setting the thermostat's variable", rc, d->thermostat);
    }
    rc = pump_until(d, targets_after_thermostat, STEP_TIMEOUT_MS);
    printf("  Alice reads %g, Bob reads %g\n", oocsi_variable_get(d->alice_target), oocsi_variable_get(d->bob_target));
    if (rc != OOCSI_OK) {
        return failed("waiting for Alice = 26 and Bob = 30", rc, NULL);
    }

    printf("  Alice sets target = 21.5\n");
    rc = oocsi_variable_set(d->alice_target, 21.5);
    if (rc != OOCSI_OK) {
        return failed("setting Alice's variable", rc, d->alice);
    }
    rc = pump_until(d, targets_after_alice, STEP_TIMEOUT_MS);
    printf("  Alice reads %g, Bob reads %g (mean of 30 and 21.5)\n", oocsi_variable_get(d->alice_target),
           oocsi_variable_get(d->bob_target));
    if (rc != OOCSI_OK) {
        return failed("waiting for Bob = 25.75", rc, NULL);
    }
    return OOCSI_OK;
}

static int step_heyoocsi(struct demo *d)
{
    section("6. a heyOOCSI device announcement");
    int rc = oocsi_subscribe(d->bob, "heyOOCSI!", bob_on_announcement, d);
    if (rc != OOCSI_OK) {
        return failed("Bob subscribing to heyOOCSI!", rc, d->bob);
    }
    printf("  Bob listens on \"heyOOCSI!\"\n");

    d->device = oocsi_device_new(d->thermostat, NULL); /* named after the handle */
    if (d->device == NULL) {
        return failed("creating the device", OOCSI_ERR_NOMEM, NULL);
    }
    rc = oocsi_device_add_property(d->device, "creator", "liboocsi demo");
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_location(d->device, "livingroom", 51.4478, 5.4910);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_sensor(d->device, "temperature", "thermostat_temperature", "temperature",
                                     "\xc2\xb0"
                                     "C",
                                     19.5, "thermometer");
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_number(d->device, "target", "climate", 16, 26,
                                     "\xc2\xb0"
                                     "C",
                                     21.5, NULL);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_switch(d->device, "heating", "thermostat_heating", 1, "radiator");
    }
    if (rc != OOCSI_OK) {
        return failed("describing the device", rc, NULL);
    }
    printf("  thermostat announces itself\n");
    rc = oocsi_device_submit(d->device);
    if (rc != OOCSI_OK) {
        return failed("submitting the device", rc, d->thermostat);
    }
    rc = pump_until(d, bob_got_announcement, STEP_TIMEOUT_MS);
    if (rc != OOCSI_OK) {
        return failed("waiting for the announcement", rc, d->bob);
    }
    return OOCSI_OK;
}

static int step_queries(struct demo *d)
{
    section("7. asking the server");
    char *text = NULL;
    int rc = oocsi_channels(d->alice, STEP_TIMEOUT_MS, &text);
    if (rc != OOCSI_OK) {
        return failed("querying channels", rc, d->alice);
    }
    printf("  %-27s %s\n", "channels:", text);
    oocsi_free(text);

    text = NULL;
    rc = oocsi_channel_subscribers(d->alice, "livingroom", STEP_TIMEOUT_MS, &text);
    if (rc != OOCSI_OK) {
        return failed("querying the subscribers of livingroom", rc, d->alice);
    }
    printf("  %-27s %s\n", "subscribers of livingroom:", text);
    int bob_there = strstr(text, "Bob") != NULL;
    oocsi_free(text);
    if (!bob_there) {
        return failed("Bob is not listed as a subscriber of livingroom", OOCSI_ERR_PROTOCOL, NULL);
    }

    text = NULL;
    rc = oocsi_clients(d->alice, STEP_TIMEOUT_MS, &text);
    if (rc != OOCSI_OK) {
        return failed("querying clients", rc, d->alice);
    }
    printf("  %-27s %s\n", "clients:", text);
    int all_there = strstr(text, "Alice") && strstr(text, "Bob") && strstr(text, "thermostat");
    oocsi_free(text);
    if (!all_there) {
        return failed("the clients list lacks one of the three clients", OOCSI_ERR_PROTOCOL, NULL);
    }
    return OOCSI_OK;
}

static void close_everything(struct demo *d)
{
    /* Variables and devices go before their clients; oocsi_close() stops the
     * thermostat's loop thread before freeing it. */
    oocsi_device_free(d->device);
    oocsi_variable_free(d->thermostat_target);
    oocsi_variable_free(d->alice_target);
    oocsi_variable_free(d->bob_target);
    oocsi_close(d->thermostat);
    oocsi_close(d->bob);
    oocsi_close(d->alice);
    oocsi_hub_free(d->hub);
}

int main(void)
{
    /* Line buffering keeps the output in order when piped (e.g. under ctest). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("liboocsi %s demo\n", oocsi_version());

    struct demo d;
    memset(&d, 0, sizeof d);
    double t0 = now_ms();

    int rc = step_hub_and_clients(&d);
    if (rc == OOCSI_OK) {
        rc = step_channel(&d);
    }
    if (rc == OOCSI_OK) {
        rc = step_direct(&d);
    }
    if (rc == OOCSI_OK) {
        rc = step_call(&d);
    }
    if (rc == OOCSI_OK) {
        rc = step_variables(&d);
    }
    if (rc == OOCSI_OK) {
        rc = step_heyoocsi(&d);
    }
    if (rc == OOCSI_OK) {
        rc = step_queries(&d);
    }

    section("8. closing");
    close_everything(&d);
    printf("  clients closed, hub stopped; the thermostat answered %d calls\n", d.thermostat_calls);

    if (rc != OOCSI_OK) {
        printf("\ndemo failed after %.0f ms\n", now_ms() - t0);
        return 1;
    }
    printf("\nall steps passed in %.0f ms\n", now_ms() - t0);
    return 0;
}
