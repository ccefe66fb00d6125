/*
 * A raw line-protocol peer (a plain socket speaking to the hub directly) and
 * JSON helpers for tests.
 */
#include "support_internal.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------- raw peer */

struct it_raw {
    int fd;
    char *buf;
    size_t len, cap;
};

static int raw_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

it_raw *it_raw_connect(int port, const char *handle)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    it_raw *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return NULL;
    }
    r->fd = fd;
    it__track(T_RAW, r);
    if (it_raw_send(r, "%s(JSON)", handle) != 0) {
        it_raw_close(r);
        return NULL;
    }
    char *line = it_raw_line(r, IT_TIMEOUT);
    int ok = line && strstr(line, "welcome ") != NULL;
    free(line);
    if (!ok) {
        it_raw_close(r);
        return NULL;
    }
    return r;
}

int it_raw_send(it_raw *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    char *s = malloc((size_t)n + 2);
    if (!s)
        return -1;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s[n] = '\n';
    int rc = raw_write_all(r->fd, s, (size_t)n + 1);
    free(s);
    return rc;
}

char *it_raw_line(it_raw *r, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - r->buf);
            char *line = malloc(n + 1);
            if (!line)
                return NULL;
            memcpy(line, r->buf, n);
            line[n] = '\0';
            memmove(r->buf, nl + 1, r->len - n - 1);
            r->len -= n + 1;
            return line;
        }
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {r->fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return NULL;
        if (r->cap - r->len < 65536) {
            size_t cap = r->cap ? r->cap * 2 : 131072;
            char *nb = realloc(r->buf, cap);
            if (!nb)
                return NULL;
            r->buf = nb;
            r->cap = cap;
        }
        ssize_t got = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return NULL;
        r->len += (size_t)got;
    }
}

cJSON *it_raw_next_json(it_raw *r, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            return NULL;
        char *line = it_raw_line(r, (int)left);
        if (!line)
            return NULL;
        if (strcmp(line, "ping") == 0) {
            free(line);
            if (it_raw_send(r, ".") != 0)
                return NULL;
            continue;
        }
        if (line[0] == '{') {
            cJSON *j = cJSON_Parse(line);
            free(line);
            if (cJSON_IsObject(j))
                return j;
            cJSON_Delete(j);
            continue;
        }
        free(line);
    }
}

int it_raw_subscribe(it_raw *r, const char *channel)
{
    if (it_raw_send(r, "subscribe %s", channel) != 0 || it_raw_send(r, "ping") != 0)
        return -1;
    int64_t deadline = it_now_ms() + IT_TIMEOUT;
    for (;;) {
        int64_t left = deadline - it_now_ms();
        char *line = left > 0 ? it_raw_line(r, (int)left) : NULL;
        if (!line)
            return -1;
        int done = strcmp(line, ".") == 0;
        if (strcmp(line, "ping") == 0)
            it_raw_send(r, ".");
        free(line);
        if (done)
            return 0;
    }
}

void it__raw_free(it_raw *r)
{
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r);
}

void it_raw_close(it_raw *r)
{
    if (!r)
        return;
    it__untrack(r);
    it__raw_free(r);
}

/* ----------------------------------------------------------- JSON help */

cJSON *it_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j)
        fail_msg("test bug: invalid JSON %s", text);
    return j;
}

int it_json_equal(const cJSON *a, const cJSON *b)
{
    return a && b && cJSON_Compare(a, b, 1);
}

int it_states_settle(it_states *s)
{
    int i = it_states_wait_for(s, 0, OOCSI_STATE_CONNECTED, IT_TIMEOUT);
    if (i != 0)
        fail_msg("the first state event is not CONNECTED (index %d)", i);
    return 1;
}
