/*
 * poll_loop: runs the client inside the program's own poll() loop, next to
 * other file descriptors and timers.
 *
 *   oocsi-example-poll-loop [url] [handle] [channel]
 *
 *   url      server to connect to (default tcp://localhost:4444)
 *   handle   this client's name (default poll_loop_###)
 *   channel  chat channel (default chat)
 *
 * Every line typed on stdin is sent to the channel as {"text": "<line>"};
 * messages on the channel are printed. The program's own timer sends a
 * {"tick": n} every 10 seconds. Run two of these to chat. Stop with Ctrl-C
 * (or end stdin with Ctrl-D and then Ctrl-C).
 *
 * The recipe, for any poll/epoll/select-style loop:
 *
 *   1. oocsi_loop(c, 0)           run what is ready, including callbacks
 *                                 queued while a blocking call ran;
 *   2. oocsi_fd(c)                the socket to watch (-1 while there is
 *                                 none, e.g. between reconnect attempts);
 *      oocsi_want_write(c)        also watch for POLLOUT when it says so;
 *      oocsi_next_timeout_ms(c)   wake up no later than this (-1: no timer);
 *   3. poll(), handle your own descriptors, and go to 1.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <oocsi/oocsi.h>

#define TICK_INTERVAL_MS 10000

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

static void on_chat(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    (void)user;
    const char *text = oocsi_message_get_string(msg, "text");
    int64_t tick;
    if (text != NULL) {
        printf("<%s> %s\n", oocsi_message_sender(msg), text);
    } else if (oocsi_message_get_int(msg, "tick", &tick) == OOCSI_OK) {
        printf("(tick %lld from %s)\n", (long long)tick, oocsi_message_sender(msg));
    } else {
        char *json = oocsi_message_data_json(msg);
        printf("<%s> %s\n", oocsi_message_sender(msg), json ? json : "?");
        oocsi_free(json);
    }
    fflush(stdout);
}

/* Sends one typed line as {"text": line}. */
static void send_line(oocsi_client *client, const char *channel, const char *line)
{
    cJSON *data = cJSON_CreateObject();
    if (data == NULL || cJSON_AddStringToObject(data, "text", line) == NULL) {
        cJSON_Delete(data);
        fprintf(stderr, "out of memory\n");
        return;
    }
    int rc = oocsi_send(client, channel, data);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "send failed: %s\n", oocsi_strerror(rc));
    }
    cJSON_Delete(data);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "tcp://localhost:4444";
    const char *handle = argc > 2 ? argv[2] : "poll_loop_###";
    const char *channel = argc > 3 ? argv[3] : "chat";

    /* No SA_RESTART: Ctrl-C interrupts poll() at once. */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    oocsi_client *client = NULL;
    int rc = oocsi_connect_to(&client, handle, url);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "%s\n", oocsi_last_error(NULL));
        return 1;
    }
    rc = oocsi_subscribe(client, channel, on_chat, NULL);
    if (rc != OOCSI_OK) {
        fprintf(stderr, "cannot subscribe to %s: %s\n", channel, oocsi_strerror(rc));
        oocsi_close(client);
        return 1;
    }
    printf("%s in channel \"%s\"; type a line to send it (Ctrl-C stops)\n", oocsi_handle(client), channel);
    fflush(stdout);

    char line[1024];
    size_t line_len = 0;
    int stdin_open = 1;
    int tick = 0;
    int status = 0;
    int64_t next_tick = now_ms() + TICK_INTERVAL_MS;

    while (!stop_requested) {
        /* 1. Let the client do whatever is ready, without waiting. */
        if (oocsi_loop(client, 0) == OOCSI_ERR_CLOSED) {
            fprintf(stderr, "connection closed: %s\n", oocsi_last_error(client));
            status = 1;
            break;
        }

        /* Our own timer. */
        int64_t now = now_ms();
        if (now >= next_tick) {
            char json[48];
            snprintf(json, sizeof json, "{\"tick\":%d}", tick++);
            rc = oocsi_send_json(client, channel, json);
            if (rc != OOCSI_OK) {
                fprintf(stderr, "tick not sent: %s\n", oocsi_strerror(rc));
            }
            next_tick += TICK_INTERVAL_MS;
            continue;
        }

        /* 2. What to wait for, and for how long. */
        struct pollfd fds[2];
        nfds_t nfds = 0;
        if (stdin_open) {
            fds[nfds].fd = STDIN_FILENO;
            fds[nfds].events = POLLIN;
            fds[nfds].revents = 0;
            nfds++;
        }
        int fd = oocsi_fd(client);
        if (fd >= 0) {
            fds[nfds].fd = fd;
            fds[nfds].events = (short)(POLLIN | (oocsi_want_write(client) ? POLLOUT : 0));
            fds[nfds].revents = 0;
            nfds++;
        }
        int timeout = (int)(next_tick - now);
        int client_timeout = oocsi_next_timeout_ms(client);
        if (client_timeout >= 0 && client_timeout < timeout) {
            timeout = client_timeout;
        }

        /* 3. Wait. Whatever woke us, step 1 runs the client next time
         * round; here we only look after our own descriptor. */
        int n = poll(fds, nfds, timeout);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("poll");
            status = 1;
            break;
        }
        if (stdin_open && (fds[0].revents & (POLLIN | POLLHUP))) {
            ssize_t got = read(STDIN_FILENO, line + line_len, sizeof line - 1 - line_len);
            if (got <= 0) {
                stdin_open = 0; /* end of input: keep receiving */
                printf("(stdin closed; still listening)\n");
                fflush(stdout);
                continue;
            }
            line_len += (size_t)got;
            /* Send every complete line; keep a partial one for later. */
            char *start = line;
            char *nl;
            while ((nl = memchr(start, '\n', line_len - (size_t)(start - line))) != NULL) {
                *nl = '\0';
                if (nl > start) {
                    send_line(client, channel, start);
                }
                start = nl + 1;
            }
            line_len -= (size_t)(start - line);
            memmove(line, start, line_len);
            if (line_len == sizeof line - 1) { /* an overlong line: send it as it is */
                line[line_len] = '\0';
                send_line(client, channel, line);
                line_len = 0;
            }
        }
    }

    printf("closing\n");
    oocsi_close(client);
    return status;
}
