/*
 * Spatial groups (the Java client's OOCSISpatial): positions shared on
 * "<channel>_<key>_spatial", neighbours by distance, and routing by asking
 * neighbours for their path length to a destination.
 *
 * Built on the public API: a handler attached to the group channel records
 * the votes (positions) and answers calls for them; a responder registered
 * on the client answers routing calls. The responder belongs to the client
 * (one call name per client, as in Java), so a client holds at most one
 * spatial group; a process-wide registry maps clients to their group. The
 * registry also counts the responders running for a group, so that freeing
 * it waits for them (oocsi_unregister does not).
 *
 * Numbers follow Java's single-precision arithmetic and its float text, so
 * a C and a Java member agree on distances and parse each other's votes.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oocsi/behavior.h"

#define K_CALL "oocsi_spatial_call"
#define K_VOTE "oocsi_spatial_vote"
#define K_DEST "oocsi_spatial_destination_request"
#define K_DIST "oocsi_spatial_destination_distance"
#define K_PATH "oocsi_spatial_routing_path"
#define ROUTE_MS 2000 /* Java's routing budget */
#define HOP_MS 100    /* less per hop already on the path */

typedef struct node {
    char *name;
    float x, y;
    struct node *next;
} node;

struct oocsi_spatial {
    oocsi_client *c;
    pthread_mutex_t mu; /* own position and the node list */
    char *channel;
    char *id; /* "handle" of our messages */
    int dims;
    float x, y, nd;
    node *nodes; /* others, by sender handle */
    /* registry, under reg_mu */
    int busy; /* responders running */
    oocsi_spatial *next;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv = PTHREAD_COND_INITIALIZER;
static oocsi_spatial *reg_head;
static unsigned reg_serial;

/* ------------------------------------------------------------ arithmetic */

static float dist(const oocsi_spatial *s, float x, float y)
{
    if (s->dims == 1)
        return fabsf(s->x - x);
    float dx = s->x - x, dy = s->y - y;
    return (float)sqrt((double)dx * dx + (double)dy * dy);
}

/* Java's Float.toString: the shortest digits that read back as f, plain
 * between 1e-3 and 1e7, else d.dddE<n>; always a digit after the point. */
static void java_float(float f, char *buf, size_t size)
{
    if (isnan(f)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, size, f < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (f == 0) {
        snprintf(buf, size, signbit(f) ? "-0.0" : "0.0");
        return;
    }
    char e[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, (double)f);
        if (strtof(e, NULL) == f)
            break;
    }
    /* e: [-]d[.ddd]e[+-]xx */
    const char *m = e;
    int neg = *m == '-';
    m += neg;
    char digits[16];
    size_t nd = 0;
    const char *q = m;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9' && nd < sizeof digits - 1)
            digits[nd++] = *q;
    digits[nd] = 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;
    int exp10 = atoi(q + 1);
    char out[64];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    float a = fabsf(f);
    if (a >= 1e-3f && a < 1e7f) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                out[o++] = (size_t)i < nd ? digits[i] : '0';
            out[o++] = '.';
            if ((size_t)exp10 + 1 >= nd)
                out[o++] = '0';
            for (size_t i = (size_t)exp10 + 1; i < nd; i++)
                out[o++] = digits[i];
        } else {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = -1; i > exp10; i--)
                out[o++] = '0';
            for (size_t i = 0; i < nd; i++)
                out[o++] = digits[i];
        }
        out[o] = 0;
    } else {
        out[o++] = digits[0];
        out[o++] = '.';
        if (nd == 1)
            out[o++] = '0';
        for (size_t i = 1; i < nd; i++)
            out[o++] = digits[i];
        out[o] = 0;
        snprintf(out + o, sizeof out - o, "E%d", exp10);
    }
    snprintf(buf, size, "%s", out);
}

/* Java's Float.parseFloat for what a vote holds: surrounding blanks, an
 * optional f/F/d/D suffix; NaN and infinities are refused (no distance). */
static int parse_float(const char *s, size_t len, float *out)
{
    char tmp[64];
    while (len && (unsigned char)*s <= ' ')
        s++, len--;
    while (len && (unsigned char)s[len - 1] <= ' ')
        len--;
    if (len && strchr("fFdD", s[len - 1]) && len > 1)
        len--;
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    float f = strtof(tmp, &end);
    if (*end || !isfinite(f))
        return -1;
    *out = f;
    return 0;
}

static int parse_vote(const oocsi_spatial *s, const char *v, float *x, float *y)
{
    *y = 0;
    if (s->dims == 1)
        return parse_float(v, strlen(v), x);
    const char *semi = strchr(v, ';');
    if (!semi)
        return -1;
    const char *rest = semi + 1, *semi2 = strchr(rest, ';'); /* Java ignores a third part */
    return parse_float(v, (size_t)(semi - v), x) || parse_float(rest, semi2 ? (size_t)(semi2 - rest) : strlen(rest), y)
               ? -1
               : 0;
}

static void own_vote(const oocsi_spatial *s, char *buf, size_t size)
{
    char a[40], b[40];
    java_float(s->x, a, sizeof a);
    if (s->dims == 1) {
        snprintf(buf, size, "%s", a);
        return;
    }
    java_float(s->y, b, sizeof b);
    snprintf(buf, size, "%s;%s", a, b);
}

/* ------------------------------------------------------------- positions */

static node *find_node(const oocsi_spatial *s, const char *name)
{
    for (node *n = s->nodes; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n;
    return NULL;
}

static void clear_nodes(oocsi_spatial *s)
{
    while (s->nodes) {
        node *n = s->nodes;
        s->nodes = n->next;
        free(n->name);
        free(n);
    }
}

static pthread_mutex_t *lock_of(const oocsi_spatial *s)
{
    return &((oocsi_spatial *)s)->mu;
}

/* Sends {key: value, "handle": id}. */
static int send_pair(oocsi_spatial *s, const char *key, const char *value)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, key, value) || !cJSON_AddStringToObject(o, "handle", s->id)) {
        cJSON_Delete(o);
        return OOCSI_ERR_NOMEM;
    }
    int rc = oocsi_send(s->c, s->channel, o);
    cJSON_Delete(o);
    return rc;
}

static int send_vote(oocsi_spatial *s)
{
    char v[96];
    pthread_mutex_lock(&s->mu);
    own_vote(s, v, sizeof v);
    pthread_mutex_unlock(&s->mu);
    return send_pair(s, K_VOTE, v);
}

static void on_message(oocsi_client *c, const oocsi_message *msg, void *user)
{
    oocsi_spatial *s = user;
    (void)c;
    const cJSON *data = oocsi_message_data(msg);
    if (cJSON_GetObjectItemCaseSensitive(data, K_CALL)) {
        send_vote(s);
        return;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, K_VOTE);
    const char *sender = oocsi_message_sender(msg);
    float x, y;
    if (!cJSON_IsString(v) || !sender || !*sender || parse_vote(s, v->valuestring, &x, &y) != 0)
        return;
    pthread_mutex_lock(&s->mu);
    node *n = find_node(s, sender);
    if (!n && (n = calloc(1, sizeof(*n))) != NULL) {
        n->name = strdup(sender);
        if (!n->name) {
            free(n);
            n = NULL;
        } else {
            n->next = s->nodes;
            s->nodes = n;
        }
    }
    if (n) {
        n->x = x;
        n->y = y;
    }
    pthread_mutex_unlock(&s->mu);
}

/* The neighbours with their distances, copied (lock taken here). */
typedef struct hop {
    char *name;
    float d;
} hop;

static int neighbours_of(const oocsi_spatial *s, hop **out)
{
    pthread_mutex_lock(lock_of(s));
    int n = 0;
    for (node *p = s->nodes; p; p = p->next)
        n++;
    hop *h = calloc((size_t)n + 1, sizeof(*h));
    int k = 0;
    for (node *p = s->nodes; h && p; p = p->next) {
        float d = dist(s, p->x, p->y);
        if (d <= s->nd && (h[k].name = strdup(p->name)) != NULL)
            h[k++].d = d;
    }
    pthread_mutex_unlock(lock_of(s));
    *out = h;
    return h ? k : -1;
}

static void free_hops(hop *h, int n)
{
    for (int i = 0; i < n; i++)
        free(h[i].name);
    free(h);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether name is one of the entries of path ("h1,h2,"). */
static int on_path(const char *path, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = path; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* Asks each neighbour for its path length to dest (path: the handles
 * already asked, each followed by ','), within budget_ms in all. The best
 * total (distance to the neighbour + its answer) and that neighbour (owned
 * by the caller) are returned; FLT_MAX and NULL when none answered with a
 * path. strict: the routing rule (a missing answer is no path); otherwise
 * the responder's rule, as in Java. Neighbours already on the path are not
 * asked: they would answer "no path" (Java asks them anyway), and they are
 * busy waiting for this very answer, so the question would only time out. */
static float ask_neighbours(oocsi_spatial *s, hop *h, int n, const char *dest, const char *path, int budget_ms,
                            int strict, char **best_name)
{
    float best = FLT_MAX;
    *best_name = NULL;
    cJSON *req = cJSON_CreateObject();
    if (!req || !cJSON_AddStringToObject(req, K_DEST, dest) || !cJSON_AddStringToObject(req, K_PATH, path)) {
        cJSON_Delete(req);
        return best;
    }
    int64_t deadline = mono_ms() + budget_ms;
    for (int i = 0; i < n; i++) {
        if (on_path(path, h[i].name))
            continue;
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        cJSON *resp = NULL;
        char *who = NULL;
        if (oocsi_call_and_wait_from(s->c, h[i].name, K_DEST, req, (int)left, &resp, &who) == OOCSI_OK) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, K_DIST);
            float len = cJSON_IsNumber(v) ? (float)v->valuedouble : -1.0f;
            float total = h[i].d + len;
            if ((!strict || len > -1) && len < FLT_MAX && total > -1 && total < best) {
                best = total;
                free(*best_name);
                *best_name = strdup(h[i].name);
            }
        }
        cJSON_Delete(resp);
        oocsi_free(who);
    }
    cJSON_Delete(req);
    return best;
}

/* Java's path.split(",").length: trailing empty parts do not count, a path
 * without a comma is one part. */
static int path_parts(const char *path)
{
    if (!strchr(path, ','))
        return 1;
    int parts = 0, last_nonempty = 0;
    const char *p = path;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        parts++;
        if (len)
            last_nonempty = parts;
        if (!comma)
            break;
        p = comma + 1;
    }
    return last_nonempty;
}

/* ------------------------------------------------------------- registry */

static oocsi_spatial *reg_acquire(oocsi_client *c)
{
    pthread_mutex_lock(&reg_mu);
    oocsi_spatial *s = reg_head;
    while (s && s->c != c)
        s = s->next;
    if (s)
        s->busy++;
    pthread_mutex_unlock(&reg_mu);
    return s;
}

static void reg_release(oocsi_spatial *s)
{
    pthread_mutex_lock(&reg_mu);
    if (--s->busy == 0)
        pthread_cond_broadcast(&reg_cv);
    pthread_mutex_unlock(&reg_mu);
}

static float answer(oocsi_spatial *s, const cJSON *data)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(data, K_DEST);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(data, K_PATH);
    if (!cJSON_IsString(d))
        return FLT_MAX;
    const char *path = cJSON_IsString(p) ? p->valuestring : "";
    const char *me = oocsi_handle(s->c);
    size_t mlen = strlen(me), plen = strlen(path);
    char *mine = malloc(mlen + 2);
    if (!mine)
        return FLT_MAX;
    memcpy(mine, me, mlen);
    memcpy(mine + mlen, ",", 2);
    int seen = strstr(path, mine) != NULL; /* Java's contains(): a substring */
    free(mine);
    if (seen)
        return FLT_MAX;
    hop *h;
    int n = neighbours_of(s, &h);
    if (n < 0)
        return FLT_MAX;
    float r = FLT_MAX;
    int direct = 0;
    for (int i = 0; i < n && !direct; i++)
        if (strcmp(h[i].name, d->valuestring) == 0) {
            r = h[i].d;
            direct = 1;
        }
    if (!direct) {
        char *next = malloc(plen + mlen + 2);
        if (next) {
            memcpy(next, path, plen);
            memcpy(next + plen, me, mlen);
            memcpy(next + plen + mlen, ",", 2);
            char *via = NULL;
            r = ask_neighbours(s, h, n, d->valuestring, next, ROUTE_MS - path_parts(path) * HOP_MS, 0, &via);
            free(via);
            free(next);
        }
    }
    free_hops(h, n);
    return r;
}

static void responder(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    (void)user;
    cJSON_DeleteItemFromObjectCaseSensitive(response, K_DEST);
    cJSON_DeleteItemFromObjectCaseSensitive(response, K_PATH);
    oocsi_spatial *s = reg_acquire(c);
    float r = s ? answer(s, oocsi_message_data(request)) : FLT_MAX;
    if (s)
        reg_release(s);
    cJSON_AddNumberToObject(response, K_DIST, (double)r);
}

/* -------------------------------------------------------------- public */

static int check_pos(const char *fn, int dims, double x, double y)
{
    if (!isfinite(x) || (dims == 2 && !isfinite(y)) || fabs(x) > FLT_MAX || (dims == 2 && fabs(y) > FLT_MAX))
        return oocsi_fail(OOCSI_ERR_INVAL, "%s: the position must be finite single-precision numbers (got %g, %g)", fn,
                          x, y);
    return OOCSI_OK;
}

static void spatial_destroy(oocsi_spatial *s)
{
    clear_nodes(s);
    pthread_mutex_destroy(&s->mu);
    free(s->channel);
    free(s->id);
    free(s);
}

oocsi_spatial *oocsi_spatial_new(oocsi_client *c, const char *channel, const char *key, int dimensions, double x,
                                 double y, double neighbour_distance)
{
    const char *bad = !c                                   ? "c is NULL"
                      : !channel || !*channel              ? "channel is NULL or empty"
                      : !key || !*key                      ? "key is NULL or empty"
                      : dimensions != 1 && dimensions != 2 ? "dimensions must be 1 or 2"
                      : !(neighbour_distance >= 0) || neighbour_distance > FLT_MAX
                          ? "neighbour_distance must be a finite number >= 0"
                          : NULL;
    if (bad) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_new: %s", bad);
        return NULL;
    }
    if (check_pos("oocsi_spatial_new", dimensions, x, y) != OOCSI_OK)
        return NULL;
    for (const char *p = channel; *p; p++)
        if ((unsigned char)*p <= 0x20) {
            oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_new: channel \"%s\" contains a space or a control character",
                       channel);
            return NULL;
        }
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p <= 0x20) {
            oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_new: key \"%s\" contains a space or a control character", key);
            return NULL;
        }
    oocsi_spatial *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->c = c;
    s->dims = dimensions;
    s->x = (float)x;
    s->y = dimensions == 2 ? (float)y : 0;
    s->nd = (float)neighbour_distance;
    size_t clen = strlen(channel) + strlen(key) + 16, ilen = strlen(oocsi_handle(c)) + 16;
    s->channel = malloc(clen);
    s->id = malloc(ilen);
    if (!s->channel || !s->id) {
        spatial_destroy(s);
        return NULL;
    }
    snprintf(s->channel, clen, "%s_%s_spatial", channel, key);
    pthread_mutex_lock(&reg_mu);
    oocsi_spatial *other = reg_head;
    while (other && other->c != c)
        other = other->next;
    if (!other) {
        s->next = reg_head;
        reg_head = s;
    }
    snprintf(s->id, ilen, "%s_%u", oocsi_handle(c), ++reg_serial);
    pthread_mutex_unlock(&reg_mu);
    if (other) {
        oocsi_fail(OOCSI_ERR_INVAL,
                   "oocsi_spatial_new: this client is already in a spatial group (%s); routing answers belong to the "
                   "client, so use one client per group",
                   other->channel);
        spatial_destroy(s);
        return NULL;
    }
    /* Subscriptions not yet confirmed (timeout) are still recorded. */
    int rc = oocsi_attach(c, s->channel, on_message, s);
    if (rc == OOCSI_OK || rc == OOCSI_ERR_TIMEOUT)
        rc = oocsi_register(c, K_DEST, K_DEST, responder, NULL);
    if (rc == OOCSI_OK || rc == OOCSI_ERR_TIMEOUT)
        rc = send_pair(s, K_CALL, "");
    if (rc == OOCSI_OK)
        rc = send_vote(s);
    if (rc != OOCSI_OK) {
        oocsi_spatial_free(s);
        return NULL;
    }
    return s;
}

void oocsi_spatial_free(oocsi_spatial *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&reg_mu);
    for (oocsi_spatial **p = &reg_head; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    while (s->busy > 0) /* a responder is answering for s on the loop thread */
        pthread_cond_wait(&reg_cv, &reg_mu);
    pthread_mutex_unlock(&reg_mu);
    oocsi_unregister(s->c, K_DEST, K_DEST);
    oocsi_unsubscribe_handler(s->c, s->channel, on_message, s);
    spatial_destroy(s);
}

int oocsi_spatial_set_position(oocsi_spatial *s, double x, double y)
{
    if (!s)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_set_position: s is NULL");
    int rc = check_pos("oocsi_spatial_set_position", s->dims, x, y);
    if (rc != OOCSI_OK)
        return rc;
    pthread_mutex_lock(&s->mu);
    s->x = (float)x;
    s->y = s->dims == 2 ? (float)y : 0;
    pthread_mutex_unlock(&s->mu);
    return send_vote(s);
}

int oocsi_spatial_refresh(oocsi_spatial *s)
{
    if (!s)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_refresh: s is NULL");
    pthread_mutex_lock(&s->mu);
    clear_nodes(s);
    pthread_mutex_unlock(&s->mu);
    int rc = send_pair(s, K_CALL, "");
    return rc == OOCSI_OK ? send_vote(s) : rc;
}

int oocsi_spatial_position(const oocsi_spatial *s, const char *handle, double *x, double *y)
{
    if (!s || !handle)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_position: %s is NULL", s ? "handle" : "s");
    int rc = OOCSI_OK;
    pthread_mutex_lock(lock_of(s));
    float px = s->x, py = s->y;
    if (strcmp(handle, oocsi_handle(s->c)) != 0) {
        node *n = find_node(s, handle);
        if (n) {
            px = n->x;
            py = n->y;
        } else
            rc = OOCSI_ERR_NOT_FOUND;
    }
    pthread_mutex_unlock(lock_of(s));
    if (rc == OOCSI_OK) {
        if (x)
            *x = px;
        if (y)
            *y = py;
    }
    return rc;
}

int oocsi_spatial_count(const oocsi_spatial *s)
{
    if (!s)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_count: s is NULL");
    pthread_mutex_lock(lock_of(s));
    int n = 1;
    for (node *p = s->nodes; p; p = p->next)
        n++;
    pthread_mutex_unlock(lock_of(s));
    return n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const hop *)a)->name, ((const hop *)b)->name);
}

int oocsi_spatial_neighbours(const oocsi_spatial *s, cJSON **out)
{
    if (out)
        *out = NULL;
    if (!s || !out)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_neighbours: %s is NULL", s ? "out" : "s");
    hop *h;
    int n = neighbours_of(s, &h);
    if (n < 0)
        return OOCSI_ERR_NOMEM;
    qsort(h, (size_t)n, sizeof(*h), by_name);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++)
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString(h[i].name))) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    free_hops(h, n);
    *out = arr;
    return arr ? OOCSI_OK : OOCSI_ERR_NOMEM;
}

int oocsi_spatial_closest(const oocsi_spatial *s, char **out)
{
    if (out)
        *out = NULL;
    if (!s || !out)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_closest: %s is NULL", s ? "out" : "s");
    pthread_mutex_lock(lock_of(s));
    float best = s->nd;
    const char *name = NULL;
    for (node *p = s->nodes; p; p = p->next) {
        float d = dist(s, p->x, p->y);
        if (d > 0 && d < best) {
            best = d;
            name = p->name;
        }
    }
    char *copy = name ? strdup(name) : NULL;
    pthread_mutex_unlock(lock_of(s));
    if (name && !copy)
        return OOCSI_ERR_NOMEM;
    *out = copy;
    return copy ? OOCSI_OK : OOCSI_ERR_NOT_FOUND;
}

int oocsi_spatial_next_hop(oocsi_spatial *s, const char *destination, int timeout_ms, char **out)
{
    if (out)
        *out = NULL;
    if (!s || !destination || !*destination || !out || timeout_ms < 0)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_spatial_next_hop: %s",
                          !s              ? "s is NULL"
                          : !destination  ? "destination is NULL"
                          : !*destination ? "destination is empty"
                          : !out          ? "out is NULL"
                                          : "timeout_ms must be >= 0 (0: 2000 ms)");
    hop *h;
    int n = neighbours_of(s, &h);
    if (n < 0)
        return OOCSI_ERR_NOMEM;
    char *via = NULL;
    for (int i = 0; i < n && !via; i++)
        if (strcmp(h[i].name, destination) == 0 && !(via = strdup(destination))) {
            free_hops(h, n);
            return OOCSI_ERR_NOMEM;
        }
    if (!via) {
        const char *me = oocsi_handle(s->c);
        size_t mlen = strlen(me);
        char *path = malloc(mlen + 2);
        if (path) {
            memcpy(path, me, mlen);
            memcpy(path + mlen, ",", 2);
            ask_neighbours(s, h, n, destination, path, timeout_ms ? timeout_ms : ROUTE_MS, 1, &via);
            free(path);
        }
    }
    free_hops(h, n);
    *out = via;
    return via ? OOCSI_OK : OOCSI_ERR_NOT_FOUND;
}
