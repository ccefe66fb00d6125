/*
 * Rate-limited subscriptions, one message to several recipients, and the
 * server's features through their typed calls: retained, delayed and
 * scheduled messages, private channels, presence events and the meta
 * channels that list names.
 *
 * Run against the in-process hub (over every transport) and, as
 * integration.java.test_server_features, against the reference Java server,
 * so each case says what both servers do.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* A background client with a handle unique to this run. */
static oocsi_client *client(const char *prefix)
{
    char h[64];
    it_unique(h, sizeof h, prefix);
    return it_connect_bg(h);
}

static void send_num(oocsi_client *c, const char *to, const char *key, int v)
{
    char json[64];
    snprintf(json, sizeof json, "{\"%s\":%d}", key, v);
    assert_int_equal(oocsi_send_json(c, to, json), OOCSI_OK);
}

static int num_at(it_inbox *in, int i, const char *key)
{
    const it_msg *m = it_inbox_at(in, i);
    assert_non_null(m);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->data, key);
    if (!cJSON_IsNumber(v))
        fail_msg("message %d has no number \"%s\": %s", i, key, m->json);
    return v->valueint;
}

/* 1 if list ("a, b" or "a,b") holds name as a whole entry. */
static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)) != NULL; p += n) {
        int starts = p == list || p[-1] == ',' || p[-1] == ' ';
        int ends = p[n] == '\0' || p[n] == ',' || p[n] == ' ';
        if (starts && ends)
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------- rate limits */

/* 2 messages per (long) window: the handler gets the first two, the
 * "exceeded" callback the other three, in order. */
static void limited_channel(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "sf_limit");
    oocsi_client *rx = client("sf_lrx"), *tx = client("sf_ltx");
    it_inbox *got = it_inbox_new(), *over = it_inbox_new();
    oocsi_rate_limit lim = {2, IT_LONG_WAIT_MS, 0, it_inbox_handler, over};
    assert_int_equal(oocsi_subscribe_limited(rx, ch, it_inbox_handler, got, &lim), OOCSI_OK);
    for (int i = 1; i <= 5; i++)
        send_num(tx, ch, "seq", i);
    assert_true(it_inbox_wait(over, 3, IT_TIMEOUT));
    assert_int_equal(it_inbox_count(got), 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(num_at(got, i, "seq"), i + 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(num_at(over, i, "seq"), i + 3);
    assert_string_equal(it_inbox_at(over, 0)->sender, oocsi_handle(tx));

    /* Subscribing the same handler again replaces the limit (counts anew). */
    lim.max_messages = 1;
    assert_int_equal(oocsi_subscribe_limited(rx, ch, it_inbox_handler, got, &lim), OOCSI_OK);
    send_num(tx, ch, "seq", 6);
    send_num(tx, ch, "seq", 7);
    assert_true(it_inbox_wait(over, 4, IT_TIMEOUT));
    assert_int_equal(it_inbox_count(got), 3);
    assert_int_equal(num_at(got, 2, "seq"), 6);
    assert_int_equal(num_at(over, 3, "seq"), 7);

    /* Removed like any handler: a plain one added next gets what follows. */
    assert_int_equal(oocsi_unsubscribe_handler(rx, ch, it_inbox_handler, got), OOCSI_OK);
    it_inbox *after = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, after), OOCSI_OK);
    send_num(tx, ch, "seq", 8);
    assert_true(it_inbox_wait(after, 1, IT_TIMEOUT));
    assert_int_equal(it_inbox_count(got), 3);
    assert_int_equal(it_inbox_count(over), 4);
}

/* Per sender: each of two senders gets one message through; without an
 * "exceeded" callback the rest is dropped. */
static void limited_per_sender(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "sf_lsender");
    oocsi_client *rx = client("sf_srx"), *a = client("sf_sa"), *b = client("sf_sb");
    it_inbox *got = it_inbox_new(), *all = it_inbox_new();
    oocsi_rate_limit lim = {1, IT_LONG_WAIT_MS, 1, NULL, NULL};
    assert_int_equal(oocsi_subscribe_limited(rx, ch, it_inbox_handler, got, &lim), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, all), OOCSI_OK);
    send_num(a, ch, "a", 1);
    send_num(a, ch, "a", 2);
    send_num(b, ch, "b", 1);
    send_num(b, ch, "b", 2);
    assert_true(it_inbox_wait(all, 4, IT_TIMEOUT)); /* the unlimited handler saw all four */
    assert_int_equal(it_inbox_count(got), 2);
    int seen_a = 0, seen_b = 0;
    for (int i = 0; i < 2; i++) {
        const it_msg *m = it_inbox_at(got, i);
        if (strcmp(m->sender, oocsi_handle(a)) == 0)
            seen_a = num_at(got, i, "a");
        else if (strcmp(m->sender, oocsi_handle(b)) == 0)
            seen_b = num_at(got, i, "b");
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_b, 1);
}

/* ------------------------------------------------------ several recipients */

static void send_many(void **state)
{
    (void)state;
    char ch1[64], ch2[64], hd[64];
    it_unique(ch1, sizeof ch1, "sf_many1");
    it_unique(ch2, sizeof ch2, "sf_many2");
    it_unique(hd, sizeof hd, "sf_manyd");
    it_inbox *in1 = it_inbox_new(), *in2 = it_inbox_new(), *direct = it_inbox_new();
    oocsi_options *o = it_options(hd);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, direct), OOCSI_OK);
    oocsi_client *d = it_connect_opts(o);
    it_loop_start(d);
    oocsi_client *rx = client("sf_mrx"), *tx = client("sf_mtx");
    assert_int_equal(oocsi_subscribe(rx, ch1, it_inbox_handler, in1), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(rx, ch2, it_inbox_handler, in2), OOCSI_OK);

    cJSON *data = it_json("{\"many\":1,\"s\":\"x\"}");
    const char *to[] = {ch1, ch2, hd};
    assert_int_equal(oocsi_send_many(tx, to, 3, data), OOCSI_OK);
    const it_inbox *ins[] = {in1, in2, direct};
    for (int i = 0; i < 3; i++) {
        assert_true(it_inbox_wait((it_inbox *)ins[i], 1, IT_TIMEOUT));
        const it_msg *m = it_inbox_at((it_inbox *)ins[i], 0);
        assert_string_equal(m->sender, oocsi_handle(tx));
        assert_string_equal(m->recipient, to[i]);
        IT_ASSERT_JSON(m->data, "{\"many\":1,\"s\":\"x\"}");
    }
    /* One bad name sends nothing: the next message on ch1 is the marker. */
    const char *bad[] = {ch1, "two words"};
    assert_int_equal(oocsi_send_many(tx, bad, 2, data), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "recipients[1]"));
    cJSON_Delete(data);
    send_num(tx, ch1, "marker", 1);
    assert_true(it_inbox_wait(in1, 2, IT_TIMEOUT));
    assert_int_equal(num_at(in1, 1, "marker"), 1);
}

/* -------------------------------------------------- retained and delayed */

/* A retained message reaches later subscribers with its first sender and
 * timestamp; the next message on the channel replaces it. */
static void retained(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "sf_retain");
    oocsi_client *rx = client("sf_rrx"), *tx = client("sf_rtx");
    it_inbox *in = it_inbox_new(), *late = it_inbox_new(), *later = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, in), OOCSI_OK); /* the channel must exist */
    cJSON *data = it_json("{\"kept\":1}");
    assert_int_equal(oocsi_send_retained(tx, ch, data, 60), OOCSI_OK);
    assert_true(it_inbox_wait(in, 1, IT_TIMEOUT));

    oocsi_client *l1 = client("sf_rlate");
    assert_int_equal(oocsi_subscribe(l1, ch, it_inbox_handler, late), OOCSI_OK);
    assert_true(it_inbox_wait(late, 1, IT_TIMEOUT));
    const it_msg *m = it_inbox_at(late, 0);
    assert_string_equal(m->sender, oocsi_handle(tx));
    IT_ASSERT_JSON(m->data, "{\"kept\":1,\"_RETAIN\":60}");
    assert_true(m->timestamp == it_inbox_at(in, 0)->timestamp); /* the original time */

    /* A plain message replaces it: a subscriber after it gets nothing retained. */
    send_num(tx, ch, "plain", 2);
    assert_true(it_inbox_wait(in, 2, IT_TIMEOUT));
    oocsi_client *l2 = client("sf_rlater");
    assert_int_equal(oocsi_subscribe(l2, ch, it_inbox_handler, later), OOCSI_OK);
    send_num(tx, ch, "marker", 3);
    assert_true(it_inbox_wait(later, 1, IT_TIMEOUT));
    assert_int_equal(num_at(later, 0, "marker"), 3);

    /* Retained to a channel nobody subscribed to: dropped like any message. */
    char empty[64];
    it_unique(empty, sizeof empty, "sf_retain_empty");
    cJSON *lost = it_json("{\"lost\":1}");
    assert_int_equal(oocsi_send_retained(tx, empty, lost, 60), OOCSI_OK);
    cJSON_Delete(lost);
    send_num(tx, ch, "barrier", 9);                /* once it arrived, the server has handled the message before it */
    assert_true(it_inbox_wait(in, 4, IT_TIMEOUT)); /* kept, plain, marker, barrier */
    assert_int_equal(num_at(in, 3, "barrier"), 9);
    it_inbox *none = it_inbox_new();
    assert_int_equal(oocsi_subscribe(l2, empty, it_inbox_handler, none), OOCSI_OK);
    send_num(tx, empty, "marker", 5);
    assert_true(it_inbox_wait(none, 1, IT_TIMEOUT));
    assert_int_equal(num_at(none, 0, "marker"), 5);

    assert_int_equal(oocsi_send_retained(tx, ch, data, 0), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_retained(tx, ch, data, 172801), OOCSI_ERR_INVAL);
    cJSON_Delete(data);
}

/* A delayed message arrives after one sent later without delay. */
static void delayed(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "sf_delay");
    oocsi_client *rx = client("sf_drx"), *tx = client("sf_dtx");
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, in), OOCSI_OK);
    cJSON *data = it_json("{\"late\":1}");
    assert_int_equal(oocsi_send_delayed(tx, ch, data, 1), OOCSI_OK);
    send_num(tx, ch, "now", 2);
    assert_true(it_inbox_wait(in, 2, IT_TIMEOUT));
    assert_int_equal(num_at(in, 0, "now"), 2);
    IT_ASSERT_JSON(it_inbox_at(in, 1)->data, "{\"late\":1,\"_DELAY\":1}"); /* both servers keep the key */
    assert_string_equal(it_inbox_at(in, 1)->sender, oocsi_handle(tx));
    assert_true(it_inbox_at(in, 1)->timestamp > it_inbox_at(in, 0)->timestamp); /* stamped when due */

    /* One pending delayed message per recipient: the second replaces the
     * first, which (due no later) would otherwise come before it. */
    cJSON *second = it_json("{\"second\":1}");
    assert_int_equal(oocsi_send_delayed(tx, ch, data, 2), OOCSI_OK);
    assert_int_equal(oocsi_send_delayed(tx, ch, second, 2), OOCSI_OK);
    assert_true(it_inbox_wait(in, 3, IT_TIMEOUT));
    send_num(tx, ch, "marker", 4);
    assert_true(it_inbox_wait(in, 4, IT_TIMEOUT));
    assert_int_equal(num_at(in, 2, "second"), 1);
    assert_int_equal(num_at(in, 3, "marker"), 4);
    assert_int_equal(it_inbox_count(in), 4);

    assert_int_equal(oocsi_send_delayed(tx, ch, data, 0), OOCSI_ERR_INVAL);
    cJSON_Delete(second);
    cJSON_Delete(data);
}

/* A scheduled message arrives after one sent later, stamped with its time. */
static void scheduled(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "sf_sched");
    oocsi_client *rx = client("sf_scrx"), *tx = client("sf_sctx");
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, in), OOCSI_OK);
    cJSON *data = it_json("{\"at\":1}");
    int64_t at = it_wall_ms() / 1000 + 3;
    assert_int_equal(oocsi_send_scheduled(tx, ch, data, at), OOCSI_OK);
    send_num(tx, ch, "now", 2);
    assert_true(it_inbox_wait(in, 2, IT_TIMEOUT));
    assert_int_equal(num_at(in, 0, "now"), 2);
    assert_int_equal(num_at(in, 1, "at"), 1);
    assert_true(it_inbox_at(in, 1)->timestamp >= at * 1000);

    /* A time past: delivered at once, before what is sent after it. */
    assert_int_equal(oocsi_send_scheduled(tx, ch, data, it_wall_ms() / 1000 - 60), OOCSI_OK);
    send_num(tx, ch, "now", 3);
    assert_true(it_inbox_wait(in, 4, IT_TIMEOUT));
    assert_int_equal(num_at(in, 2, "at"), 1);
    assert_int_equal(num_at(in, 3, "now"), 3);
    assert_int_equal(oocsi_send_scheduled(tx, ch, data, -1), OOCSI_ERR_INVAL);
    cJSON_Delete(data);
}

/* ------------------------------------------------------- private channels */

static void private_channel(void **state)
{
    (void)state;
    char ch[64], mark[64], name[96];
    it_unique(ch, sizeof ch, "sf_priv");
    it_unique(mark, sizeof mark, "sf_mark");
    snprintf(name, sizeof name, "%s:s3cret", ch);
    oocsi_client *rx = client("sf_prx"), *tx = client("sf_ptx"), *spy = client("sf_pspy");
    it_inbox *in = it_inbox_new(), *spied = it_inbox_new(), *marks = it_inbox_new();
    assert_int_equal(oocsi_subscribe_private(rx, ch, "s3cret", it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_subscribe_private(spy, ch, "guess", it_inbox_handler, spied), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(spy, ch, it_inbox_handler, spied), OOCSI_OK); /* no secret: ineffective */
    assert_int_equal(oocsi_subscribe(spy, mark, it_inbox_handler, marks), OOCSI_OK);

    cJSON *one = it_json("{\"n\":1}"), *three = it_json("{\"n\":3}"), *four = it_json("{\"n\":4}");
    assert_int_equal(oocsi_send_private(tx, ch, "s3cret", one), OOCSI_OK);
    send_num(tx, ch, "n", 2);                                               /* without the secret */
    assert_int_equal(oocsi_send_private(tx, ch, "guess", three), OOCSI_OK); /* a wrong one */
    assert_int_equal(oocsi_send_private(tx, ch, "s3cret", four), OOCSI_OK);
    assert_true(it_inbox_wait(in, 2, IT_TIMEOUT));
    assert_int_equal(num_at(in, 0, "n"), 1);
    assert_int_equal(num_at(in, 1, "n"), 4);
    assert_string_equal(it_inbox_at(in, 0)->recipient, name);
    send_num(tx, mark, "done", 1); /* after everything above, on the spy's connection too */
    assert_true(it_inbox_wait(marks, 1, IT_TIMEOUT));
    assert_int_equal(it_inbox_count(spied), 0);

    if (!it_transport_is_web()) { /* the oocsi-web protocol has no queries */
        char *list = NULL;
        assert_int_equal(oocsi_channels(tx, IT_TIMEOUT, &list), OOCSI_OK);
        assert_false(list_has(list, ch)); /* not listed */
        assert_false(list_has(list, name));
        oocsi_free(list);
    }

    /* Leaving needs the secret; afterwards nothing more arrives. */
    assert_int_equal(oocsi_unsubscribe_private(rx, ch, "s3cret"), OOCSI_OK);
    it_inbox *marks_rx = it_inbox_new();
    assert_int_equal(oocsi_subscribe(rx, mark, it_inbox_handler, marks_rx), OOCSI_OK);
    assert_int_equal(oocsi_send_private(tx, ch, "s3cret", one), OOCSI_OK);
    send_num(tx, mark, "done", 2);
    assert_true(it_inbox_wait(marks_rx, 1, IT_TIMEOUT));
    assert_int_equal(it_inbox_count(in), 2);

    assert_int_equal(oocsi_send_private(tx, "a:b", "s", one), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_private(tx, ch, "x:y", one), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_private(tx, ch, "", one), OOCSI_ERR_INVAL);
    cJSON_Delete(one);
    cJSON_Delete(three);
    cJSON_Delete(four);
}

/* ---------------------------------------------------------------- presence */

typedef struct pev {
    oocsi_presence_kind kind;
    int is_client;
    char target[96], handle[96], members[512];
} pev;

typedef struct precorder {
    pthread_mutex_t mu;
    pev ev[512];
    int n;
} precorder;

static void on_presence(oocsi_client *c, const oocsi_presence_event *ev, void *user)
{
    (void)c;
    precorder *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->n < (int)(sizeof r->ev / sizeof *r->ev)) {
        pev *e = &r->ev[r->n++];
        memset(e, 0, sizeof *e);
        e->kind = ev->kind;
        e->is_client = ev->target_is_client;
        snprintf(e->target, sizeof e->target, "%s", ev->target);
        snprintf(e->handle, sizeof e->handle, "%s", ev->handle ? ev->handle : "");
        for (size_t i = 0; i < ev->n_members; i++) {
            size_t len = strlen(e->members);
            snprintf(e->members + len, sizeof e->members - len, "%s%s", i ? "," : "", ev->members[i]);
        }
    }
    pthread_mutex_unlock(&r->mu);
    it_notify();
}

typedef struct pwant {
    precorder *r;
    oocsi_presence_kind kind;
    const char *target, *handle, *member; /* NULL: any */
    int is_client;
    int found; /* index + 1 */
} pwant;

static int presence_seen(void *ctx)
{
    pwant *w = ctx;
    pthread_mutex_lock(&w->r->mu);
    for (int i = 0; i < w->r->n && !w->found; i++) {
        const pev *e = &w->r->ev[i];
        if (e->kind == w->kind && e->is_client == w->is_client && strcmp(e->target, w->target) == 0 &&
            (!w->handle || strcmp(e->handle, w->handle) == 0) && (!w->member || list_has(e->members, w->member)))
            w->found = i + 1;
    }
    pthread_mutex_unlock(&w->r->mu);
    return w->found;
}

static void wait_presence(precorder *r, oocsi_presence_kind kind, const char *target, int is_client, const char *handle,
                          const char *member)
{
    pwant w = {r, kind, target, handle, member, is_client, 0};
    if (!it_wait_until(presence_seen, &w, IT_TIMEOUT + 6000)) /* refreshes come every 5 s */
        fail_msg("no presence event %d about %s (handle %s, member %s)", (int)kind, target, handle ? handle : "-",
                 member ? member : "-");
}

/* A channel's presence: join, the refresh list, leave. A client's presence:
 * join on connect, created when it subscribes, leave when it quits. */
static void presence(void **state)
{
    (void)state;
    static precorder r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    char ch[64], hp[64], other[64];
    it_unique(ch, sizeof ch, "sf_room");
    it_unique(hp, sizeof hp, "sf_pers");
    it_unique(other, sizeof other, "sf_other");
    oocsi_client *watcher = client("sf_watch");
    assert_int_equal(oocsi_subscribe_presence(watcher, ch, on_presence, &r), OOCSI_OK);
    assert_int_equal(oocsi_subscribe_presence(watcher, hp, on_presence, &r), OOCSI_OK);

    oocsi_client *p = it_connect_bg(hp);
    wait_presence(&r, OOCSI_PRESENCE_JOIN, hp, 1, hp, NULL);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(p, ch, it_inbox_handler, in), OOCSI_OK);
    wait_presence(&r, OOCSI_PRESENCE_JOIN, ch, 0, hp, NULL);
    wait_presence(&r, OOCSI_PRESENCE_CREATED, hp, 1, NULL, NULL);
    wait_presence(&r, OOCSI_PRESENCE_REFRESH, ch, 0, NULL, hp);
    assert_int_equal(oocsi_unsubscribe(p, ch), OOCSI_OK);
    wait_presence(&r, OOCSI_PRESENCE_LEAVE, ch, 0, hp, NULL);
    wait_presence(&r, OOCSI_PRESENCE_CLOSED, hp, 1, NULL, NULL);
    it_close(p);
    wait_presence(&r, OOCSI_PRESENCE_LEAVE, hp, 1, hp, NULL);

    /* Removed: events about another channel subscribed later still come to
     * a new handler, none to the removed one. */
    assert_int_equal(oocsi_unsubscribe_presence(watcher, ch, on_presence, &r), OOCSI_OK);
    assert_int_equal(oocsi_unsubscribe_presence(watcher, hp, on_presence, &r), OOCSI_OK);
    pthread_mutex_lock(&r.mu);
    int before = r.n;
    pthread_mutex_unlock(&r.mu);
    static precorder r2;
    memset(&r2, 0, sizeof r2);
    pthread_mutex_init(&r2.mu, NULL);
    assert_int_equal(oocsi_subscribe_presence(watcher, other, on_presence, &r2), OOCSI_OK);
    oocsi_client *q = client("sf_q");
    assert_int_equal(oocsi_subscribe(q, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(q, other, it_inbox_handler, in), OOCSI_OK);
    wait_presence(&r2, OOCSI_PRESENCE_JOIN, other, 0, oocsi_handle(q), NULL);
    it_close(watcher);
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.n, before);
    pthread_mutex_unlock(&r.mu);

    /* A channel's events include the watcher's own join. */
    char mine[64];
    it_unique(mine, sizeof mine, "sf_mine");
    assert_int_equal(oocsi_subscribe_presence(q, mine, on_presence, &r2), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(q, mine, it_inbox_handler, in), OOCSI_OK);
    wait_presence(&r2, OOCSI_PRESENCE_JOIN, mine, 0, oocsi_handle(q), NULL);

    assert_int_equal(oocsi_subscribe_presence(q, "a b", on_presence, &r), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_presence(q, "room:x", on_presence, &r), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_presence(q, ch, NULL, &r), OOCSI_ERR_INVAL);
}

/* ------------------------------------------------------------ meta channels */

typedef struct meta_rec {
    pthread_mutex_t mu;
    int n;
    char channel[96];
    char last[2048];
} meta_rec;

static void on_meta(oocsi_client *c, const char *meta, const char *const *names, size_t count, void *user)
{
    (void)c;
    meta_rec *r = user;
    pthread_mutex_lock(&r->mu);
    r->n++;
    snprintf(r->channel, sizeof r->channel, "%s", meta);
    r->last[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(r->last);
        snprintf(r->last + len, sizeof r->last - len, "%s%s", i ? "," : "", names[i]);
    }
    pthread_mutex_unlock(&r->mu);
    it_notify();
}

typedef struct meta_want {
    meta_rec *r;
    const char *a, *b;
} meta_want;

static int meta_has(void *ctx)
{
    meta_want *w = ctx;
    pthread_mutex_lock(&w->r->mu);
    int ok = w->r->n > 0 && list_has(w->r->last, w->a) && (!w->b || list_has(w->r->last, w->b));
    pthread_mutex_unlock(&w->r->mu);
    return ok;
}

static void meta_channels(void **state)
{
    (void)state;
    static meta_rec clients, channels, subs;
    memset(&clients, 0, sizeof clients);
    memset(&channels, 0, sizeof channels);
    memset(&subs, 0, sizeof subs);
    pthread_mutex_init(&clients.mu, NULL);
    pthread_mutex_init(&channels.mu, NULL);
    pthread_mutex_init(&subs.mu, NULL);
    char ch[64], who[96];
    it_unique(ch, sizeof ch, "sf_meta");
    snprintf(who, sizeof who, "%s/?", ch);
    oocsi_client *m = client("sf_mw"), *a = client("sf_ma"), *b = client("sf_mb");
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(a, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(b, ch, it_inbox_handler, in), OOCSI_OK);
    assert_int_equal(oocsi_subscribe_meta(m, OOCSI_META_CLIENTS, on_meta, &clients), OOCSI_OK);
    assert_int_equal(oocsi_subscribe_meta(m, OOCSI_META_CHANNELS, on_meta, &channels), OOCSI_OK);
    assert_int_equal(oocsi_subscribe_meta(m, who, on_meta, &subs), OOCSI_OK);

    meta_want w1 = {&clients, oocsi_handle(a), oocsi_handle(m)};
    assert_true(it_wait_until(meta_has, &w1, IT_TIMEOUT));
    meta_want w2 = {&channels, ch, NULL};
    assert_true(it_wait_until(meta_has, &w2, IT_TIMEOUT));
    meta_want w3 = {&subs, oocsi_handle(a), oocsi_handle(b)};
    assert_true(it_wait_until(meta_has, &w3, IT_TIMEOUT));
    pthread_mutex_lock(&subs.mu);
    assert_string_equal(subs.channel, who);
    assert_false(list_has(subs.last, oocsi_handle(m)));
    pthread_mutex_unlock(&subs.mu);

    assert_int_equal(oocsi_unsubscribe_meta(m, OOCSI_META_CLIENTS, on_meta, &clients), OOCSI_OK);
    assert_int_equal(oocsi_subscribe_meta(m, "OOCSI_metrics", on_meta, &clients), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_meta(m, "room", on_meta, &clients), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_meta(m, "/?", on_meta, &clients), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_meta(m, NULL, on_meta, &clients), OOCSI_ERR_INVAL);
}

/* ---------------------------------------------------------- bad arguments */

static void noop(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)m;
    (void)user;
}

static void bad_arguments(void **state)
{
    (void)state;
    oocsi_client *c = client("sf_args");
    cJSON *obj = it_json("{}"), *arr = it_json("[1]");
    oocsi_rate_limit ok = {1, 1000, 0, NULL, NULL}, zero = {0, 1000, 0, NULL, NULL}, nowin = {1, 0, 0, NULL, NULL},
                     flag = {1, 1000, 2, NULL, NULL};
    assert_int_equal(oocsi_subscribe_limited(NULL, "x", noop, NULL, &ok), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_limited(c, NULL, noop, NULL, &ok), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_limited(c, "x", NULL, NULL, &ok), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_limited(c, "x", noop, NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_limited(c, "x", noop, NULL, &zero), OOCSI_ERR_INVAL);
    assert_non_null(strstr(oocsi_last_error(NULL), "max_messages"));
    assert_int_equal(oocsi_subscribe_limited(c, "x", noop, NULL, &nowin), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_limited(c, "x", noop, NULL, &flag), OOCSI_ERR_INVAL);
    const char *to[] = {"x"}, *none[] = {NULL};
    assert_int_equal(oocsi_send_many(NULL, to, 1, obj), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_many(c, NULL, 1, obj), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_many(c, to, 0, obj), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_many(c, none, 1, obj), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_many(c, to, 1, arr), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_many(c, to, 1, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_retained(NULL, "x", obj, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_retained(c, NULL, obj, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_retained(c, "x", NULL, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_delayed(c, "x", arr, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_delayed(c, "x y", obj, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_scheduled(NULL, "x", obj, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_scheduled(c, "x", NULL, 1), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_private(c, "x", NULL, noop, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_private(c, NULL, "s", noop, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_private(c, "x", "s", NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_private(c, "x", "s p", noop, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_unsubscribe_private(NULL, "x", "s"), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_send_private(c, "x", "s", NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_presence(NULL, "x", on_presence, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_presence(c, NULL, on_presence, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_presence(c, "", on_presence, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_unsubscribe_presence(c, "x", NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_meta(NULL, OOCSI_META_CLIENTS, on_meta, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_subscribe_meta(c, OOCSI_META_CLIENTS, NULL, NULL), OOCSI_ERR_INVAL);
    assert_int_equal(oocsi_unsubscribe_meta(c, OOCSI_META_CLIENTS, NULL, NULL), OOCSI_ERR_INVAL);
    cJSON_Delete(obj);
    cJSON_Delete(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(limited_channel), IT_TEST(limited_per_sender), IT_TEST(send_many),       IT_TEST(retained),
        IT_TEST(delayed),         IT_TEST(scheduled),          IT_TEST(private_channel), IT_TEST(presence),
        IT_TEST(meta_channels),   IT_TEST(bad_arguments),
    };
    return cmocka_run_group_tests_name("integration.test_server_features", tests, it_group_setup, it_group_teardown);
}
