/*
 * Integration: the UNMODIFIED reference web client oocsi-web.js (from
 * ../shared/reference/web, copied at run time into a temporary folder, never
 * into the repository) in headless Chromium, against
 *
 *  1. oocsi-gateway (a child process) with upstream the in-process hub over tcp,
 *  2. oocsi-gateway with upstream the reference Java OOCSI server (label
 *     interop; skipped, saying why, without java or the reference folder),
 *  3. the hub's own /ws endpoint.
 *
 * The page (tests/browser/webclient_ref.html, served as index.html next to
 * oocsi-web.js by the gateway's --www or the hub's www_dir) is driven by a C
 * controller client over OOCSI: commands arrive at the page as direct
 * messages, and the page reports everything back as direct messages to the
 * controller, which asserts. Each setup checks channel and direct messages
 * both ways with a C client and the oocsi CLI, calls both ways, variables,
 * two pages, a burst of 200 messages in order, a 60 KiB message, a duplicate
 * handle refused, and restarts (gateway, upstream; the hub itself for 3)
 * after which a direct message arrives exactly once although the client
 * re-subscribes to its own handle on every reconnect.
 *
 * One browser and one set of servers per setup (a cmocka group), started by
 * the group's first test. Every wait is bounded and waits on an event.
 * Skipped, with a message, without Chromium.
 */
#define _XOPEN_SOURCE 700
#include "webref_rig.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ the checks */

/* Channel messages both ways: page <-> C client, CLI -> page, page -> CLI. */
static void test_channel(void **state)
{
    (void)state;
    need_page();
    char ch[64], h[64], cli_h[64];
    it_unique(ch, sizeof ch, "wref_ch");
    it_unique(cli_h, sizeof cli_h, "wref_cli");
    oocsi_client *c = peer("wref_c", h, sizeof h);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    page_sub(S.page, ch);

    /* C -> page, with text beyond ASCII */
    assert_int_equal(oocsi_send_json(c, ch, "{\"tag\":\"c2p\",\"s\":\"caf\\u00e9 \\u20ac \\ud83d\\ude00\",\"n\":42}"),
                     OOCSI_OK);
    wait_reports(1, TMO,
                 "{\"got\":\"channel\",\"from\":\"%s\",\"to\":\"%s\",\"data\":{\"tag\":\"c2p\","
                 "\"s\":\"caf\\u00e9 \\u20ac \\ud83d\\ude00\",\"n\":42}}",
                 h, ch);
    /* CLI -> page */
    run_cli((const char *const[]){"send", "--url", S.up, "--handle", cli_h, ch, "{\"tag\":\"cli2p\"}", NULL});
    wait_reports(1, TMO, "{\"got\":\"channel\",\"from\":\"%s\",\"data\":{\"tag\":\"cli2p\"}}", cli_h);

    /* page -> C */
    cmd(S.page, "{\"cmd\":\"send\",\"to\":\"%s\",\"data\":{\"tag\":\"p2c\",\"s\":\"\\u00fc\\u2603\"}}", ch);
    int i = it_inbox_wait_str(in, "tag", "p2c", TMO);
    assert_true(i >= 0);
    assert_string_equal(it_inbox_at(in, i)->sender, S.page);
    assert_string_equal(it_inbox_at(in, i)->recipient, ch);
    IT_ASSERT_JSON(it_inbox_at(in, i)->data, "{\"tag\":\"p2c\",\"s\":\"\\u00fc\\u2603\"}");

    /* page -> CLI (listen says "listening as" once subscribed) */
    char lis_h[64];
    it_unique(lis_h, sizeof lis_h, "wref_lis");
    it_proc *lis = it_proc_startv(
        OOCSI_CLI_PATH, NULL,
        (const char *const[]){"listen", "--url", S.up, "--handle", lis_h, "-n", "1", "-t", "60000", ch, NULL});
    assert_non_null(lis);
    assert_true(it_proc_wait_text(lis, 2, "listening as", TMO));
    cmd(S.page, "{\"cmd\":\"send\",\"to\":\"%s\",\"data\":{\"tag\":\"p2cli\"}}", ch);
    assert_int_equal(it_proc_wait_exit(lis, TMO), 0);
    cJSON *line = it_json(it_buf_text(&lis->out));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(line, "sender")), S.page);
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(line, "data"), "{\"tag\":\"p2cli\"}");
    cJSON_Delete(line);

    /* JSON types survive both ways unchanged */
    static const char types[] = "{\"tag\":\"types\",\"arr\":[1,\"two\",true,null,{\"k\":[]}],\"obj\":{\"x\":{\"y\":"
                                "[]},\"n\":null},\"f\":1.5,\"neg\":-3,\"big\":9007199254740991,\"t\":true,\"no\":false,"
                                "\"empty\":\"\",\"esc\":\"q\\\"b\\\\s\\n\\t\"}";
    assert_int_equal(oocsi_send_json(c, ch, types), OOCSI_OK);
    wait_reports(1, TMO, "{\"got\":\"channel\",\"data\":{\"tag\":\"types\"}}");
    cJSON *want = it_json(types), *pat = it_json("{\"got\":\"channel\",\"data\":{\"tag\":\"types\"}}");
    int at;
    count_matching(pat, &at);
    pthread_mutex_lock(&rmu);
    int same = it_json_equal(cJSON_GetObjectItemCaseSensitive(reps[at], "data"), want);
    char *got = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(reps[at], "data"));
    pthread_mutex_unlock(&rmu);
    if (!same) {
        fail_msg("the page got %s, sent %s", got, types);
    }
    cJSON_free(got);
    cJSON_Delete(pat);
    cJSON_Delete(want);
    cmd(S.page, "{\"cmd\":\"send\",\"to\":\"%s\",\"data\":%s}", ch, types);
    i = it_inbox_wait_str(in, "tag", "types", TMO);
    assert_true(i >= 0);
    IT_ASSERT_JSON(it_inbox_at(in, i)->data, types);

    /* unsubscribed: a message on ch, then a direct marker; only the marker arrives */
    cmd(S.page, "{\"cmd\":\"unsub\",\"ch\":\"%s\"}", ch);
    assert_int_equal(oocsi_send_json(c, ch, "{\"tag\":\"gone\"}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(c, S.page, "{\"tag\":\"unsub_marker\"}"), OOCSI_OK);
    wait_reports(1, TMO, "{\"got\":\"direct\",\"data\":{\"tag\":\"unsub_marker\"}}");
    assert_int_equal(count_reports("{\"data\":{\"tag\":\"gone\"}}"), 0);
}

/* OOCSI.heyOOCSI(): the page describes itself as a device on "heyOOCSI!". */
static void test_heyoocsi(void **state)
{
    (void)state;
    need_page();
    char h[64], name[64], ch[64];
    it_unique(name, sizeof name, "wref_dev");
    it_unique(ch, sizeof ch, "wref_lamp");
    oocsi_client *c = peer("wref_hey", h, sizeof h);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, "heyOOCSI!", it_inbox_handler, in), OOCSI_OK);
    cmd(S.page, "{\"cmd\":\"hey\",\"name\":\"%s\",\"ch\":\"%s\"}", name, ch);
    assert_true(it_inbox_wait(in, 1, TMO));
    const it_msg *m = it_inbox_at(in, 0);
    assert_string_equal(m->sender, S.page);
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(m->data, name);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(dev, "properties");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(props, "device_id")), S.page);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(props, "kind")), "test page");
    const cJSON *lamp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(dev, "components"), "lamp");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(lamp, "channel_name")), ch);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(lamp, "type")), "switch");
}

/* A page that only answers the server's pings (with ".") stays connected
 * well past the idle timeout, and keeps receiving. */
static void test_idle_page(void **state)
{
    (void)state;
    need_page();
    int reconnects = count_has(S.page, "reconnected");
    cmd(S.page, "{\"cmd\":\"pongs\",\"n\":%d}", PONGS);
    wait_reports(1, START_TMO, "{\"pongs\":\"%s\",\"page\":\"%s\"}", last_id, S.page);
    char h[64];
    oocsi_client *c = peer("wref_idle", h, sizeof h);
    assert_int_equal(oocsi_send_json(c, S.page, "{\"tag\":\"awake\"}"), OOCSI_OK);
    wait_reports(1, TMO, "{\"got\":\"direct\",\"from\":\"%s\",\"data\":{\"tag\":\"awake\"}}", h);
    assert_int_equal(count_has(S.page, "reconnected"), reconnects);
}

/* Direct messages both ways: C client and CLI -> page, page -> C client. */
static void test_direct(void **state)
{
    (void)state;
    need_page();
    char h[64], cli_h[64];
    it_unique(cli_h, sizeof cli_h, "wref_cli");
    oocsi_client *c = peer("wref_d", h, sizeof h);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, h, it_inbox_handler, in), OOCSI_OK);

    assert_int_equal(oocsi_send_json(c, S.page, "{\"tag\":\"d2p\"}"), OOCSI_OK);
    wait_reports(1, TMO, "{\"got\":\"direct\",\"from\":\"%s\",\"to\":\"%s\",\"data\":{\"tag\":\"d2p\"}}", h, S.page);
    run_cli((const char *const[]){"send", "--url", S.up, "--handle", cli_h, S.page, "{\"tag\":\"dcli2p\"}", NULL});
    wait_reports(1, TMO, "{\"got\":\"direct\",\"from\":\"%s\",\"data\":{\"tag\":\"dcli2p\"}}", cli_h);

    cmd(S.page, "{\"cmd\":\"send\",\"to\":\"%s\",\"data\":{\"tag\":\"p2d\"}}", h);
    int i = it_inbox_wait_str(in, "tag", "p2d", TMO);
    assert_true(i >= 0);
    assert_string_equal(it_inbox_at(in, i)->sender, S.page);
    assert_string_equal(it_inbox_at(in, i)->recipient, h);
    /* each once */
    assert_int_equal(count_reports("{\"got\":\"direct\",\"data\":{\"tag\":\"d2p\"}}"), 1);
    assert_int_equal(it_inbox_count(in), 1);
}

static void square(oocsi_client *c, const oocsi_message *req, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    int64_t x = oocsi_message_get_int_or(req, "x", 0);
    cJSON_AddNumberToObject(response, "result", (double)(x * x));
}

/* Calls both ways: the page calls a C responder; a C client and the CLI
 * call the page's responder. */
static void test_calls(void **state)
{
    (void)state;
    need_page();
    char h[64], call1[64], call2[64];
    it_unique(call1, sizeof call1, "wref_sq");
    it_unique(call2, sizeof call2, "wref_pq");
    oocsi_client *c = peer("wref_r", h, sizeof h);

    assert_int_equal(oocsi_register(c, call1, call1, square, NULL), OOCSI_OK);
    cmd(S.page, "{\"cmd\":\"call\",\"call\":\"%s\",\"data\":{\"x\":12},\"timeout\":%d}", call1, TMO);
    wait_reports(1, TMO, "{\"callres\":\"%s\",\"page\":\"%s\",\"data\":{\"result\":144}}", last_id, S.page);

    cmd(S.page, "{\"cmd\":\"register\",\"call\":\"%s\"}", call2);
    cJSON *req = it_json("{\"x\":7}"), *resp = NULL;
    char *who = NULL;
    assert_int_equal(oocsi_call_and_wait_from(c, call2, call2, req, TMO, &resp, &who), OOCSI_OK);
    cJSON_Delete(req);
    assert_string_equal(who, S.page);
    oocsi_free(who);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(resp, "result")->valueint, 49);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resp, "by")), S.page);
    cJSON_Delete(resp);

    it_proc *p =
        it_proc_startv(OOCSI_CLI_PATH, NULL,
                       (const char *const[]){"call", "--url", S.up, "-t", "30000", call2, call2, "{\"x\":3}", NULL});
    assert_non_null(p);
    assert_int_equal(it_proc_wait_exit(p, TMO), 0);
    cJSON *line = it_json(it_buf_text(&p->out));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(line, "result")->valueint, 9);
    cJSON_Delete(line);
}

typedef struct var_ctx {
    oocsi_variable *v;
    double want;
} var_ctx;

static int var_is(void *p)
{
    var_ctx *x = p;
    return oocsi_variable_get(x->v) == x->want;
}

/* Variables: the page's OOCSI.variable and a C oocsi_variable on one channel. */
static void test_variables(void **state)
{
    (void)state;
    need_page();
    char h[64], ch[64];
    it_unique(ch, sizeof ch, "wref_var");
    oocsi_client *c = peer("wref_v", h, sizeof h);
    cmd(S.page, "{\"cmd\":\"var\",\"ch\":\"%s\",\"name\":\"level\"}", ch);
    oocsi_variable *v = oocsi_variable_new(c, ch, "level");
    assert_non_null(v);

    int rc = oocsi_variable_set(v, 3);
    int got3 = rc == OOCSI_OK;
    if (got3) {
        match_ctx m = {it_json("{\"varval\":\"level\",\"value\":3}"), 1};
        got3 = it_wait_until(enough_matches, &m, TMO);
        cJSON_Delete((cJSON *)m.pat);
    }
    cmd(S.page, "{\"cmd\":\"setvar\",\"name\":\"level\",\"value\":5}");
    var_ctx x = {v, 5};
    int got5 = it_wait_until(var_is, &x, TMO);
    oocsi_variable_free(v);
    assert_int_equal(rc, OOCSI_OK);
    if (!got3) {
        fail_msg("the page's variable did not take the C variable's value 3");
    }
    if (!got5) {
        fail_msg("the C variable did not take the page's value 5");
    }
}

/* Two pages (the second in an iframe, its own oocsi-web.js) talk to each other. */
static void test_two_pages(void **state)
{
    (void)state;
    need_page();
    char b[64], ch[64];
    it_unique(b, sizeof b, "wref_pageb");
    it_unique(ch, sizeof ch, "wref_ab");
    cmd(S.page, "{\"cmd\":\"spawn\",\"child\":\"b\",\"handle\":\"%s\"}", b);
    wait_reports(1, START_TMO, "{\"ready\":true,\"page\":\"%s\"}", b);
    page_sub(b, ch);
    cmd(S.page, "{\"cmd\":\"send\",\"to\":\"%s\",\"data\":{\"tag\":\"a2b\"}}", ch);
    wait_reports(1, TMO, "{\"page\":\"%s\",\"got\":\"channel\",\"from\":\"%s\",\"data\":{\"tag\":\"a2b\"}}", b, S.page);
    cmd(b, "{\"cmd\":\"send\",\"to\":\"%s\",\"data\":{\"tag\":\"b2a\"}}", S.page);
    wait_reports(1, TMO, "{\"page\":\"%s\",\"got\":\"direct\",\"from\":\"%s\",\"data\":{\"tag\":\"b2a\"}}", S.page, b);
    cmd(S.page, "{\"cmd\":\"kill\",\"child\":\"b\"}");
}

/* A page reloaded (its iframe removed and opened again, same handle) gets
 * its handle back and each message once. */
static void test_reload(void **state)
{
    (void)state;
    need_page();
    char b[64], ch[64], h[64];
    it_unique(b, sizeof b, "wref_reload");
    it_unique(ch, sizeof ch, "wref_rl");
    oocsi_client *c = peer("wref_rlc", h, sizeof h);
    cmd(S.page, "{\"cmd\":\"spawn\",\"child\":\"r1\",\"handle\":\"%s\"}", b);
    wait_reports(1, START_TMO, "{\"ready\":true,\"page\":\"%s\"}", b);
    cmd(S.page, "{\"cmd\":\"kill\",\"child\":\"r1\"}");
    cmd(S.page, "{\"cmd\":\"spawn\",\"child\":\"r2\",\"handle\":\"%s\"}", b);
    wait_reports(2, START_TMO, "{\"ready\":true,\"page\":\"%s\"}", b);
    print_message("refusals before the reloaded page got its handle: %d\n",
                  count_reports("{\"relay\":{\"page\":\"%s\",\"disconnected\":true}}", b));
    page_sub(b, ch);
    assert_int_equal(oocsi_send_json(c, ch, "{\"tag\":\"reloaded\"}"), OOCSI_OK);
    assert_int_equal(oocsi_send_json(c, b, "{\"tag\":\"reloaded_marker\"}"), OOCSI_OK);
    wait_reports(1, TMO, "{\"page\":\"%s\",\"got\":\"direct\",\"data\":{\"tag\":\"reloaded_marker\"}}", b);
    assert_int_equal(count_reports("{\"page\":\"%s\",\"data\":{\"tag\":\"reloaded\"}}", b), 1);
    cmd(S.page, "{\"cmd\":\"kill\",\"child\":\"r2\"}");
}

/* BURST messages each way, in windows of S.window (the reference server
 * drops the oldest lines when more than 21 wait for one client): every one
 * arrives, once, in order. */
static void test_burst(void **state)
{
    (void)state;
    need_page();
    char h[64], ch[64], tag[64];
    it_unique(ch, sizeof ch, "wref_burst");
    it_unique(tag, sizeof tag, "b");
    oocsi_client *c = peer("wref_b", h, sizeof h);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    page_sub(S.page, ch);

    /* C -> page */
    for (int from = 0; from < BURST; from += S.window) {
        for (int i = from; i < from + S.window; i++) {
            assert_int_equal(oocsi_send_jsonf(c, ch, "{\"seq\":%d,\"burst\":\"%s\"}", i, tag), OOCSI_OK);
        }
        wait_reports(1, TMO, "{\"got\":\"channel\",\"data\":{\"seq\":%d,\"burst\":\"%s\"}}", from + S.window - 1, tag);
    }
    pthread_mutex_lock(&rmu);
    int seen = 0;
    for (int i = 0; i < nrep; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(reps[i], "data");
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "burst"));
        if (t && !strcmp(t, tag)) {
            int seq = cJSON_GetObjectItemCaseSensitive(d, "seq")->valueint;
            if (seq != seen) {
                pthread_mutex_unlock(&rmu);
                fail_msg("the page got message %d of the burst where %d was due", seq, seen);
            }
            seen++;
        }
    }
    pthread_mutex_unlock(&rmu);
    assert_int_equal(seen, BURST);

    /* page -> C */
    for (int from = 0; from < BURST; from += S.window) {
        cmd(S.page, "{\"cmd\":\"burst\",\"to\":\"%s\",\"from\":%d,\"n\":%d,\"tag\":\"%s\"}", ch, from, S.window, tag);
        assert_true(it_inbox_wait(in, from + S.window, TMO));
    }
    assert_int_equal(it_inbox_count(in), BURST);
    for (int i = 0; i < BURST; i++) {
        const it_msg *m = it_inbox_at(in, i);
        assert_string_equal(m->sender, S.page);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(m->data, "seq")->valueint, i);
    }
}

/* A 60 KiB message each way, intact. */
static void test_large(void **state)
{
    (void)state;
    need_page();
    char h[64], ch[64];
    it_unique(ch, sizeof ch, "wref_big");
    oocsi_client *c = peer("wref_l", h, sizeof h);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);
    page_sub(S.page, ch);
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char *big = malloc(BIG + 1);
    assert_non_null(big);
    for (int i = 0; i < BIG; i++) {
        big[i] = alphabet[i % 36];
    }
    big[BIG] = '\0';

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "big", big);
    cJSON_AddStringToObject(o, "tag", "c2p");
    assert_int_equal(oocsi_send(c, ch, o), OOCSI_OK);
    cJSON_Delete(o);
    wait_reports(1, TMO, "{\"got\":\"channel\",\"data\":{\"tag\":\"c2p\",\"big\":{\"len\":%d,\"intact\":true}}}", BIG);

    cmd(S.page, "{\"cmd\":\"big\",\"to\":\"%s\",\"size\":%d,\"tag\":\"p2c\"}", ch, BIG);
    int i = it_inbox_wait_str(in, "tag", "p2c", TMO);
    const char *got =
        i >= 0 ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it_inbox_at(in, i)->data, "big")) : NULL;
    int same = got && !strcmp(got, big);
    free(big);
    assert_true(i >= 0);
    assert_true(same);
}

/* A child page (iframe) whose handle is taken: by the first page, and by a
 * C client. Refused with an error (the page relays what it got); the
 * holders keep working. */
typedef struct refusal_ctx {
    const char *page;
    char text[256];
} refusal_ctx;

/* A report relayed from a refused child page: what the server said. */
static int has_refusal(void *p)
{
    refusal_ctx *r = p;
    int found = 0;
    pthread_mutex_lock(&rmu);
    for (int i = 0; i < nrep && !found; i++) {
        const cJSON *rel = cJSON_GetObjectItemCaseSensitive(reps[i], "relay");
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rel, "refused"));
        const char *who = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rel, "page"));
        if (text && who && !strcmp(who, r->page)) {
            snprintf(r->text, sizeof r->text, "%s", text);
            found = 1;
        }
    }
    pthread_mutex_unlock(&rmu);
    return found;
}

/* A child page (iframe) whose handle is taken is refused with an error
 * message (the child relays what it got through its parent), and closed. */
static void refused_as(const char *handle, const char *child)
{
    refusal_ctx r = {handle, ""};
    cmd(S.page, "{\"cmd\":\"spawn\",\"child\":\"%s\",\"handle\":\"%s\"}", child, handle);
    if (!it_wait_until(has_refusal, &r, START_TMO)) {
        fail_msg("no refusal for a second page named %s", handle);
    }
    wait_reports(1, START_TMO, "{\"relay\":{\"page\":\"%s\",\"disconnected\":true}}", handle);
    cmd(S.page, "{\"cmd\":\"kill\",\"child\":\"%s\"}", child);
    print_message("refused %s: %s\n", handle, r.text);
    assert_non_null(strstr(r.text, "ERROR"));
}

/* The handle of the page, and of a C client: refused; the holders keep working. */
static void test_duplicate_handle(void **state)
{
    (void)state;
    need_page();
    char h[64];
    oocsi_client *c = peer("wref_dup", h, sizeof h);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, h, it_inbox_handler, in), OOCSI_OK);
    refused_as(S.page, "dup1");
    refused_as(h, "dup2");
    /* the holders still get their direct messages, once */
    assert_int_equal(oocsi_send_json(c, S.page, "{\"tag\":\"still\"}"), OOCSI_OK);
    wait_reports(1, TMO, "{\"page\":\"%s\",\"got\":\"direct\",\"data\":{\"tag\":\"still\"}}", S.page);
    cmd(S.page, "{\"cmd\":\"send\",\"to\":\"%s\",\"data\":{\"tag\":\"still\"}}", h);
    assert_true(it_inbox_wait(in, 1, TMO));
    assert_int_equal(count_reports("{\"got\":\"direct\",\"data\":{\"tag\":\"still\"}}"), 1);
    assert_int_equal(it_inbox_count(in), 1);
}

/* ------------------------------------------------------------------ restarts */

typedef struct has_ctx {
    const char *page, *key;
    int more_than;
} has_ctx;

static int has_more(void *p)
{
    has_ctx *h = p;
    return count_has(h->page, h->key) > h->more_than;
}

static int ctl_connects_more(void *p)
{
    return __atomic_load_n(&S.ctl_connects, __ATOMIC_SEQ_CST) > *(int *)p;
}

/* A direct message, a message on ch (which the page subscribed to before the
 * restart) and a marker: the page got the first two exactly once each. */
static void exactly_once(const char *ch, const char *tag)
{
    char h[64];
    oocsi_client *c = peer("wref_once", h, sizeof h);
    assert_int_equal(oocsi_send_jsonf(c, S.page, "{\"once\":\"%s\"}", tag), OOCSI_OK);
    assert_int_equal(oocsi_send_jsonf(c, ch, "{\"oncech\":\"%s\"}", tag), OOCSI_OK);
    assert_int_equal(oocsi_send_jsonf(c, S.page, "{\"marker\":\"%s\"}", tag), OOCSI_OK);
    wait_reports(1, TMO, "{\"page\":\"%s\",\"got\":\"direct\",\"data\":{\"marker\":\"%s\"}}", S.page, tag);
    assert_int_equal(count_reports("{\"page\":\"%s\",\"got\":\"direct\",\"data\":{\"once\":\"%s\"}}", S.page, tag), 1);
    assert_int_equal(count_reports("{\"page\":\"%s\",\"got\":\"channel\",\"data\":{\"oncech\":\"%s\"}}", S.page, tag),
                     1);
    /* a call from the page: its answer (to the page's handle) taken once by
     * the call, never also handed to the handle's handler */
    char call[64], marker2[80];
    it_unique(call, sizeof call, "wref_oncecall");
    assert_int_equal(oocsi_register(c, call, call, square, NULL), OOCSI_OK);
    cmd(S.page, "{\"cmd\":\"call\",\"call\":\"%s\",\"data\":{\"x\":11},\"timeout\":%d}", call, TMO);
    wait_reports(1, TMO, "{\"callres\":\"%s\",\"page\":\"%s\",\"data\":{\"result\":121}}", last_id, S.page);
    snprintf(marker2, sizeof marker2, "%s_call", tag);
    assert_int_equal(oocsi_send_jsonf(c, S.page, "{\"marker\":\"%s\"}", marker2), OOCSI_OK);
    wait_reports(1, TMO, "{\"page\":\"%s\",\"got\":\"direct\",\"data\":{\"marker\":\"%s\"}}", S.page, marker2);
    assert_int_equal(count_reports("{\"page\":\"%s\",\"got\":\"direct\",\"data\":{\"result\":121}}", S.page), 0);
    it_close(c);
}

/* Waits until the page hears ch again (the reference Java server tells
 * nobody about subscriptions): a probe on ch, each waited for up to a
 * second, until one arrives. */
static void wait_page_hears(const char *ch)
{
    char h[64], tag[64];
    it_unique(tag, sizeof tag, "probe");
    oocsi_client *c = peer("wref_probe", h, sizeof h);
    int64_t dl = it_now_ms() + START_TMO;
    for (int k = 0;; k++) {
        assert_int_equal(oocsi_send_jsonf(c, ch, "{\"probe\":\"%s\",\"k\":%d}", tag, k), OOCSI_OK);
        char text[256];
        snprintf(text, sizeof text, "{\"page\":\"%s\",\"got\":\"channel\",\"data\":{\"probe\":\"%s\",\"k\":%d}}",
                 S.page, tag, k);
        match_ctx m = {it_json(text), 1};
        int ok = it_wait_until(enough_matches, &m, 1000);
        cJSON_Delete((cJSON *)m.pat);
        if (ok) {
            break;
        }
        if (it_now_ms() > dl) {
            fail_msg("the page did not hear %s again after the restart", ch);
        }
    }
    it_close(c);
}

/* The server the page talks to restarts (the gateway; for the hub's /ws the
 * hub): the client reconnects by itself, re-subscribes to its channels and
 * to its own handle, and gets each message once. */
static void test_restart_server(void **state)
{
    (void)state;
    need_page();
    char ch[64];
    it_unique(ch, sizeof ch, "wref_rs");
    page_sub(S.page, ch);
    exactly_once(ch, "before");
    int reconnects = count_has(S.page, "reconnected");
    if (S.kind == HUB_WS) {
        int c0 = __atomic_load_n(&S.ctl_connects, __ATOMIC_SEQ_CST);
        assert_int_equal(oocsi_hub_stop(it_hub), 0);
        assert_int_equal(oocsi_hub_restart(it_hub), 0);
        /* the controller and the page both reconnect, in any order: the
         * page's own report of it may reach nobody, so ask the hub */
        assert_true(it_wait_until(ctl_connects_more, &c0, START_TMO));
        assert_true(oocsi_hub_wait_subscribed(it_hub, S.page, ch, START_TMO));
    } else {
        assert_int_equal(kill(S.gw->pid, SIGTERM), 0);
        assert_int_equal(it_proc_wait_exit(S.gw, TMO), 0);
        it_proc_release(S.gw);
        S.gw = NULL;
        gateway_start(S.page_port);
        has_ctx h = {S.page, "reconnected", reconnects};
        if (!it_wait_until(has_more, &h, START_TMO)) {
            fail_msg("the page did not report its reconnect to the new gateway");
        }
    }
    exactly_once(ch, "after");
}

/* The gateway's upstream restarts (the hub; the Java server killed and
 * started again): the browser keeps its WebSocket, the gateway's client
 * reconnects upstream and subscribes again, and a direct message arrives
 * exactly once. */
static void test_restart_upstream(void **state)
{
    (void)state;
    if (S.kind == HUB_WS && !S.skip) {
        print_message("SKIP: the hub's /ws has no upstream\n");
        skip();
    }
    need_page();
    char ch[64];
    it_unique(ch, sizeof ch, "wref_ru");
    page_sub(S.page, ch);
    exactly_once(ch, "upbefore");
    int c0 = __atomic_load_n(&S.ctl_connects, __ATOMIC_SEQ_CST);
    int reconnects = count_has(S.page, "reconnected");
    if (S.kind == GW_HUB) {
        assert_int_equal(oocsi_hub_stop(it_hub), 0);
        assert_int_equal(oocsi_hub_restart(it_hub), 0);
        assert_true(it_wait_until(ctl_connects_more, &c0, START_TMO));
        assert_true(oocsi_hub_wait_subscribed(it_hub, S.page, ch, START_TMO));
    } else {
        it_proc_release(S.java); /* SIGKILL: a crash */
        S.java = NULL;
        java_start();
        assert_true(it_wait_until(ctl_connects_more, &c0, START_TMO));
        wait_page_hears(ch);
    }
    /* no reconnect of the page itself: its WebSocket stayed */
    exactly_once(ch, "upafter");
    assert_int_equal(count_has(S.page, "reconnected"), reconnects);
}

/* ------------------------------------------------------------------ main */

#define WREF_TESTS                                                                                                     \
    {                                                                                                                  \
        IT_TEST(test_channel), IT_TEST(test_heyoocsi), IT_TEST(test_idle_page), IT_TEST(test_direct),                  \
            IT_TEST(test_calls), IT_TEST(test_variables), IT_TEST(test_two_pages), IT_TEST(test_reload),               \
            IT_TEST(test_burst), IT_TEST(test_large), IT_TEST(test_duplicate_handle), IT_TEST(test_restart_server),    \
            IT_TEST(test_restart_upstream),                                                                            \
    }

int main(void)
{
    const struct CMUnitTest gw_hub[] = WREF_TESTS, gw_java[] = WREF_TESTS, hub_ws[] = WREF_TESTS;
    int failed = 0;
    failed += cmocka_run_group_tests_name("webclient_ref.gateway_hub", gw_hub, setup_gw_hub, group_teardown);
    failed += cmocka_run_group_tests_name("webclient_ref.gateway_java", gw_java, setup_gw_java, group_teardown);
    failed += cmocka_run_group_tests_name("webclient_ref.hub_ws", hub_ws, setup_hub_ws, group_teardown);
    return failed;
}
