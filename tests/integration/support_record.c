/*
 * Recorders for integration tests: a thread-safe inbox of received messages,
 * state-change events, and captured log lines.
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

/* --------------------------------------------------------- message inbox */

struct it_inbox {
    pthread_mutex_t lock;
    it_msg **msgs; /* each message allocated once: pointers stay valid */
    int count, cap;
};

it_inbox *it_inbox_new(void)
{
    it_inbox *in = calloc(1, sizeof *in);
    assert_non_null(in);
    pthread_mutex_init(&in->lock, NULL);
    it__track(T_INBOX, in);
    return in;
}

void it__inbox_free(it_inbox *in)
{
    for (int i = 0; i < in->count; i++) {
        free(in->msgs[i]->sender);
        free(in->msgs[i]->recipient);
        free(in->msgs[i]->json);
        cJSON_Delete(in->msgs[i]->data);
        free(in->msgs[i]);
    }
    free(in->msgs);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void it_inbox_handler(oocsi_client *c, const oocsi_message *msg, void *user)
{
    (void)c;
    it_inbox *in = user;
    it_msg *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    m->sender = dup_or_null(oocsi_message_sender(msg));
    m->recipient = dup_or_null(oocsi_message_recipient(msg));
    m->timestamp = oocsi_message_timestamp(msg);
    char *json = oocsi_message_data_json(msg);
    m->json = dup_or_null(json);
    oocsi_free(json);
    m->data = m->json ? cJSON_Parse(m->json) : NULL;
    pthread_mutex_lock(&in->lock);
    if (in->count == in->cap) {
        int cap = in->cap ? in->cap * 2 : 16;
        it_msg **n = realloc(in->msgs, (size_t)cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&in->lock);
            abort();
        }
        in->msgs = n;
        in->cap = cap;
    }
    in->msgs[in->count++] = m;
    pthread_mutex_unlock(&in->lock);
    it_notify();
}

int it_inbox_count(it_inbox *in)
{
    pthread_mutex_lock(&in->lock);
    int n = in->count;
    pthread_mutex_unlock(&in->lock);
    return n;
}

const it_msg *it_inbox_at(it_inbox *in, int i)
{
    pthread_mutex_lock(&in->lock);
    const it_msg *m = (i >= 0 && i < in->count) ? in->msgs[i] : NULL;
    pthread_mutex_unlock(&in->lock);
    assert_non_null(m);
    return m;
}

typedef struct inbox_wait {
    it_inbox *in;
    int count;
    const char *key, *value;
    int found;
} inbox_wait;

static int inbox_has_count(void *ctx)
{
    inbox_wait *w = ctx;
    return it_inbox_count(w->in) >= w->count;
}

int it_inbox_wait(it_inbox *in, int count, int timeout_ms)
{
    inbox_wait w = {in, count, NULL, NULL, -1};
    return it_wait_until(inbox_has_count, &w, timeout_ms);
}

static int inbox_has_str(void *ctx)
{
    inbox_wait *w = ctx;
    pthread_mutex_lock(&w->in->lock);
    for (int i = 0; i < w->in->count; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(w->in->msgs[i]->data, w->key);
        if (cJSON_IsString(v) && strcmp(v->valuestring, w->value) == 0) {
            w->found = i;
            break;
        }
    }
    pthread_mutex_unlock(&w->in->lock);
    return w->found >= 0;
}

int it_inbox_wait_str(it_inbox *in, const char *key, const char *value, int timeout_ms)
{
    inbox_wait w = {in, 0, key, value, -1};
    return it_wait_until(inbox_has_str, &w, timeout_ms) ? w.found : -1;
}

/* ---------------------------------------------------------- state events */

typedef struct state_ev {
    oocsi_state state;
    int err;
    char *endpoint;
} state_ev;

struct it_states {
    pthread_mutex_t lock;
    state_ev ev[256];
    int count;
};

it_states *it_states_new(void)
{
    it_states *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->lock, NULL);
    it__track(T_STATES, s);
    return s;
}

void it__states_free(it_states *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->ev[i].endpoint);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void it_state_handler(oocsi_client *c, oocsi_state state, int err, void *user)
{
    it_states *s = user;
    char *ep = NULL;
    if (state == OOCSI_STATE_CONNECTED)
        ep = dup_or_null(oocsi_endpoint(c));
    pthread_mutex_lock(&s->lock);
    if (s->count < (int)(sizeof s->ev / sizeof s->ev[0])) {
        s->ev[s->count].state = state;
        s->ev[s->count].err = err;
        s->ev[s->count].endpoint = ep;
        s->count++;
        ep = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free(ep);
    it_notify();
}

int it_states_count(it_states *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

oocsi_state it_states_at(it_states *s, int i, int *err)
{
    pthread_mutex_lock(&s->lock);
    int ok = i >= 0 && i < s->count;
    oocsi_state st = ok ? s->ev[i].state : OOCSI_STATE_CLOSED;
    if (err)
        *err = ok ? s->ev[i].err : 0;
    pthread_mutex_unlock(&s->lock);
    assert_true(ok);
    return st;
}

const char *it_states_endpoint(it_states *s, int i)
{
    pthread_mutex_lock(&s->lock);
    const char *ep = (i >= 0 && i < s->count) ? s->ev[i].endpoint : NULL;
    pthread_mutex_unlock(&s->lock);
    return ep;
}

typedef struct states_wait {
    it_states *s;
    int from;
    oocsi_state st;
    int found;
} states_wait;

static int states_has(void *ctx)
{
    states_wait *w = ctx;
    pthread_mutex_lock(&w->s->lock);
    for (int i = w->from; i < w->s->count; i++) {
        if (w->s->ev[i].state == w->st) {
            w->found = i;
            break;
        }
    }
    pthread_mutex_unlock(&w->s->lock);
    return w->found >= 0;
}

int it_states_wait_for(it_states *s, int from, oocsi_state st, int timeout_ms)
{
    states_wait w = {s, from, st, -1};
    return it_wait_until(states_has, &w, timeout_ms) ? w.found : -1;
}

/* ---------------------------------------------------------------- logger */

typedef struct log_line {
    oocsi_log_level level;
    char *text;
} log_line;

struct it_log {
    pthread_mutex_t lock;
    log_line *lines;
    int count, cap;
};

it_log *it_log_new(void)
{
    it_log *l = calloc(1, sizeof *l);
    assert_non_null(l);
    pthread_mutex_init(&l->lock, NULL);
    it__track(T_LOG, l);
    return l;
}

void it__log_free(it_log *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->lines[i].text);
    free(l->lines);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void it_log_fn(oocsi_log_level level, const char *msg, void *user)
{
    it_log *l = user;
    char *copy = strdup(msg ? msg : "(null)");
    pthread_mutex_lock(&l->lock);
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        log_line *n = realloc(l->lines, (size_t)cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&l->lock);
            abort();
        }
        l->lines = n;
        l->cap = cap;
    }
    l->lines[l->count].level = level;
    l->lines[l->count].text = copy;
    l->count++;
    pthread_mutex_unlock(&l->lock);
    it_notify();
}

int it_log_contains(it_log *l, oocsi_log_level min_level, const char *needle)
{
    int found = 0;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->count && !found; i++)
        found = l->lines[i].level >= min_level && l->lines[i].text && strstr(l->lines[i].text, needle);
    pthread_mutex_unlock(&l->lock);
    return found;
}

int it_log_count(it_log *l, oocsi_log_level min_level)
{
    int n = 0;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < l->count; i++)
        n += l->lines[i].level >= min_level;
    pthread_mutex_unlock(&l->lock);
    return n;
}
