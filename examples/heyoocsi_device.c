/*
 * heyoocsi_device: describes this client as a device on channel "heyOOCSI!",
 * so that tools such as the OOCSI integration of Home Assistant can show and
 * control it, then behaves like that device.
 *
 *   oocsi-example-heyoocsi-device [url] [handle]
 *
 *   url     server to connect to (default tcp://localhost:4444)
 *   handle  this client's name, also the device name (default
 *           heyoocsi_device_###)
 *
 * The device has one component of each kind: a temperature sensor, a number
 * (a target temperature), a motion binary sensor, a switch and a light, plus
 * a property and a location. Each component has its own channel, named
 * "<handle>_<component>". The program then
 *
 *   - publishes a new temperature every 5 seconds and toggles "motion";
 *   - follows commands sent to the switch, number and light channels, e.g.
 *     {"state": true} or {"state": true, "brightness": 128}
 *     (oocsi_device_on_command);
 *   - announces itself again when Home Assistant says
 *     {"homeassistant": "on"} on channel "heyOOCSI?" (the library does
 *     that once the device was submitted).
 *
 * Announcements are not retained by the server: listeners must already be
 * connected. Stop with Ctrl-C.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <oocsi/oocsi.h>

/* "°C" in UTF-8 */
#define DEGREES_C                                                                                                      \
    "\xc2\xb0"                                                                                                         \
    "C"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Everything the device knows about itself. */
struct device_state {
    oocsi_device *device;
    char temperature_channel[256];
    char target_channel[256];
    char motion_channel[256];
    char fan_channel[256];
    char lamp_channel[256];
    double temperature;
    double target;
    int motion;
    int switch_on;
    int light_on;
    int brightness;
};

static int describe(struct device_state *s, oocsi_client *client)
{
    const char *h = oocsi_handle(client);
    snprintf(s->temperature_channel, sizeof s->temperature_channel, "%s_temperature", h);
    snprintf(s->target_channel, sizeof s->target_channel, "%s_target", h);
    snprintf(s->motion_channel, sizeof s->motion_channel, "%s_motion", h);
    snprintf(s->fan_channel, sizeof s->fan_channel, "%s_fan", h);
    snprintf(s->lamp_channel, sizeof s->lamp_channel, "%s_lamp", h);

    s->device = oocsi_device_new(client, NULL); /* NULL: named after the handle */
    if (s->device == NULL) {
        return OOCSI_ERR_NOMEM;
    }
    /* The property "device_id" is added by the library; add your own. */
    int rc = oocsi_device_add_property(s->device, "creator", "liboocsi example");
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_location(s->device, "desk", 51.4478, 5.4910);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_sensor(s->device, "temperature", s->temperature_channel, "temperature", DEGREES_C,
                                     s->temperature, "thermometer");
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_number(s->device, "target", s->target_channel, 15, 25, DEGREES_C, s->target, NULL);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_binary_sensor(s->device, "motion", s->motion_channel, "motion", s->motion, NULL);
    }
    if (rc == OOCSI_OK) {
        rc = oocsi_device_add_switch(s->device, "fan", s->fan_channel, s->switch_on, "fan");
    }
    if (rc == OOCSI_OK) {
        /* LED type: RGB RGBW RGBWW CCT DIMMABLE ONOFF; spectrum: CCT WHITE RGB. */
        rc = oocsi_device_add_light(s->device, "lamp", s->lamp_channel, "DIMMABLE", "WHITE", s->light_on, s->brightness,
                                    "lightbulb");
    }
    return rc;
}

/* --------------------------------------------------------------- commands */

/* Home Assistant's commands for a component, e.g. {"state": true} for the
 * fan or {"state": true, "brightness": 128} for the lamp. The library has
 * already put the new values into the description (a later announcement
 * shows them); here the device acts on them. */
static void on_command(oocsi_device *d, const char *component, const cJSON *command, void *user)
{
    struct device_state *s = user;
    (void)d;
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(command, "state");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(command, "value");
    const cJSON *brightness = cJSON_GetObjectItemCaseSensitive(command, "brightness");
    if (strcmp(component, "fan") == 0 && cJSON_IsBool(state)) {
        s->switch_on = cJSON_IsTrue(state);
        printf("the fan is %s\n", s->switch_on ? "on" : "off");
    } else if (strcmp(component, "target") == 0 && cJSON_IsNumber(value)) {
        s->target = value->valuedouble;
        printf("the target is %.1f " DEGREES_C "\n", s->target);
    } else if (strcmp(component, "lamp") == 0) {
        if (cJSON_IsBool(state))
            s->light_on = cJSON_IsTrue(state);
        if (cJSON_IsNumber(brightness))
            s->brightness = brightness->valueint;
        printf("the lamp is %s, brightness %d\n", s->light_on ? "on" : "off", s->brightness);
    }
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    const char *handle = argc > 2 ? argv[2] : "heyoocsi_device_###";

    setvbuf(stdout, NULL, _IOLBF, 0); /* each line at once, also into a pipe or a log */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    oocsi_client *client = NULL;
    int rc = oocsi_connect_to(&client, handle, url);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return 1;
    }

    struct device_state s;
    memset(&s, 0, sizeof s);
    s.temperature = 21.0;
    s.target = 20.0;
    s.brightness = 128;

    int status = 1;
    rc = describe(&s, client);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot describe the device: %s\n", oocsi_strerror(rc));
        goto out;
    }

    /* Listen for commands before announcing, so none is missed. Announcing
     * also makes the device answer Home Assistant's "heyOOCSI?". */
    rc = oocsi_device_on_command(s.device, on_command, &s);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot listen for commands: %s\n", oocsi_last_error(NULL));
        goto out;
    }

    char *json = oocsi_device_to_json(s.device);
    printf("announcing on heyOOCSI!:\n%s\n", json ? json : "?");
    oocsi_free(json);
    rc = oocsi_device_submit(s.device);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot announce the device: %s\n", oocsi_strerror(rc));
        goto out;
    }
    printf("send {\"state\": true} to channel %s to turn the fan on (Ctrl-C stops)\n", s.fan_channel);

    int tick = 0;
    int64_t next_update = now_ms() + 5000;
    while (!stop_requested) {
        int64_t now = now_ms();
        if (now >= next_update) {
            /* A made-up temperature drifting towards the target. */
            s.temperature += (s.target - s.temperature) * 0.2 + 0.3 * sin(tick++);
            s.motion = !s.motion;
            /* {"value": t, "component": "temperature"} to the sensor's channel, ... */
            oocsi_device_set_value(s.device, "temperature", s.temperature);
            oocsi_device_set_state(s.device, "motion", s.motion);
            printf("temperature %.1f " DEGREES_C ", motion %s\n", s.temperature, s.motion ? "yes" : "no");
            next_update += 5000;
            continue;
        }
        if (oocsi_loop(client, (int)(next_update - now)) == OOCSI_ERR_CLOSED) {
            fprintf(stderr, "connection closed: %s\n", oocsi_last_error(client));
            goto out;
        }
    }
    status = 0;

out:
    oocsi_device_free(s.device); /* before closing the client */
    oocsi_close(client);
    return status;
}
