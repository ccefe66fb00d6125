/*
 * Integration: what the client does with bad input from the server (garbage,
 * invalid UTF-8, NUL bytes, non-object JSON, over-long lines, fragmented
 * lines) and with server keep-alive pings.
 *
 * Over ws/wss each oocsi_hub_send_raw() reaches the client as one text frame
 * (one frame = one message): injected bad bytes and the
 * marker after them go as separate frames, well-formed messages use the
 * oocsi-web shape (payload nested under "data"), and a frame over the
 * length limit is what an over-long line is on the line protocol.
 */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 4096

typedef struct victim {
    oocsi_client *c;
    it_states *states;
    it_inbox *direct, *chan;
    char handle[64], channel[64];
    oocsi_client *peer;
} victim;

static void victim_connect(victim *v, const char *prefix)
{
    it_unique(v->handle, sizeof v->handle, prefix);
    it_unique(v->channel, sizeof v->channel, "robust_ch");
    v->states = it_states_new();
    v->direct = it_inbox_new();
    v->chan = it_inbox_new();
    oocsi_options *o = it_options(v->handle);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, v->states), OOCSI_OK);
    assert_int_equal(oocsi_options_set_direct_handler(o, it_inbox_handler, v->direct), OOCSI_OK);
    assert_int_equal(oocsi_options_set_max_line_length(o, MAX_LINE), OOCSI_OK);
    v->c = it_connect_opts(o);
    it_loop_start(v->c);
    assert_int_equal(it_states_settle(v->states), 1);
    assert_int_equal(oocsi_subscribe(v->c, v->channel, it_inbox_handler, v->chan), OOCSI_OK);
    v->peer = it_connect_bg(NULL);
}

/* The client still receives channel messages from its peer. */
static void assert_works(victim *v)
{
    static int seq;
    char tag[32];
    snprintf(tag, sizeof tag, "works%d", ++seq);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "check", tag);
    assert_int_equal(it_wait_subscribed(it_hub, v->handle, v->channel, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_send(v->peer, v->channel, o), OOCSI_OK);
    cJSON_Delete(o);
    if (it_inbox_wait_str(v->chan, "check", tag, IT_TIMEOUT) < 0)
        fail_msg("the client no longer receives messages");
    assert_int_equal(oocsi_is_connected(v->c), 1);
}

/* A message with payload fields (JSON members, e.g. "\"k\":1") to recipient,
 * as the server would send it on the transport under test: one line (LF
 * included) or one oocsi-web frame. Returns the length. */
static int message_line(char *buf, size_t size, const char *fields, const char *recipient)
{
    int n;
    if (it_transport_is_web())
        n = snprintf(buf, size, "{\"data\":{%s},\"recipient\":\"%s\",\"sender\":\"hub\",\"timestamp\":1}", fields,
                     recipient);
    else
        n = snprintf(buf, size, "{%s,\"recipient\":\"%s\",\"sender\":\"hub\",\"timestamp\":1}\n", fields, recipient);
    assert_true(n > 0 && (size_t)n < size);
    return n;
}

/* A direct marker message as the server would send it. */
static int marker_line(victim *v, char *buf, size_t size, const char *tag)
{
    char fields[64];
    snprintf(fields, sizeof fields, "\"marker\":\"%s\"", tag);
    return message_line(buf, size, fields, v->handle);
}

/* Sends bad bytes followed by a marker message on the same connection: in
 * one write over the line protocol, as two frames over ws/wss. */
static void inject(victim *v, const char *bad, size_t bad_len, const char *tag)
{
    char m[256];
    int n = marker_line(v, m, sizeof m, tag);
    if (it_transport_is_web()) {
        assert_int_equal(oocsi_hub_send_raw(it_hub, v->handle, bad, bad_len), 0);
        assert_int_equal(oocsi_hub_send_raw(it_hub, v->handle, m, (size_t)n), 0);
        return;
    }
    char *buf = malloc(bad_len + (size_t)n);
    assert_non_null(buf);
    memcpy(buf, bad, bad_len);
    memcpy(buf + bad_len, m, (size_t)n);
    int rc = oocsi_hub_send_raw(it_hub, v->handle, buf, bad_len + (size_t)n);
    free(buf);
    assert_int_equal(rc, 0);
}

typedef struct outcome {
    victim *v;
    const char *tag;
    int states_before;
} outcome;

static int marker_or_offline(void *ctx)
{
    outcome *o = ctx;
    if (it_states_count(o->v->states) > o->states_before)
        return 1;
    int n = it_inbox_count(o->v->direct);
    for (int i = 0; i < n; i++) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(it_inbox_at(o->v->direct, i)->data, "marker");
        if (cJSON_IsString(m) && strcmp(m->valuestring, o->tag) == 0)
            return 1;
    }
    return 0;
}

/* Injects bad bytes; returns 1 if the connection was reset (then checked to be
 * OOCSI_ERR_PROTOCOL followed by a reconnect), 0 if the line was skipped. */
static int inject_and_settle(victim *v, const char *bad, size_t len, const char *tag)
{
    outcome o = {v, tag, it_states_count(v->states)};
    inject(v, bad, len, tag);
    if (!it_wait_until(marker_or_offline, &o, IT_TIMEOUT))
        fail_msg("%s: neither the following marker arrived nor the connection was reset", tag);
    if (it_states_count(v->states) == o.states_before) {
        print_message("%s: line skipped\n", tag);
        return 0;
    }
    print_message("%s: connection reset\n", tag);
    int err = 0;
    oocsi_state st = it_states_at(v->states, o.states_before, &err);
    assert_int_equal(st, OOCSI_STATE_OFFLINE);
    if (err != OOCSI_ERR_PROTOCOL)
        fail_msg("%s: connection reset with %d (%s), expected OOCSI_ERR_PROTOCOL", tag, err, oocsi_strerror(err));
    if (it_states_wait_for(v->states, o.states_before + 1, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT) < 0)
        fail_msg("%s: no reconnect after the protocol error", tag);
    return 1;
}

static void test_skips_unparseable_lines(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_send_raw (bad bytes from the server)");
    victim v;
    victim_connect(&v, "skip");
    /* The protocol: lines that cannot be parsed are skipped, not fatal. */
    const char *lines[] = {
        "garbage line @@@ \x01\x02\n",
        "{not json at all\n",
        "{\"a\":1\n",
        "[1,2,3]\n",
        "42\n",
        "\"just a string\"\n",
        "\n",
        "   \n",
        "{}\n",
        "{\"recipient\":42,\"sender\":[],\"timestamp\":\"x\"}\n",
        "sendraw x y\n",
        ".\n", /* a pong nobody asked for */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "skip%zu", i);
        if (inject_and_settle(&v, lines[i], strlen(lines[i]), tag))
            fail_msg("line %zu (%s) reset the connection instead of being skipped", i, lines[i]);
    }
    assert_int_equal(it_states_count(v.states), 1);
    assert_works(&v);
}

static int utf8_valid(const unsigned char *s)
{
    while (*s) {
        int n = *s < 0x80 ? 0 : (*s & 0xE0) == 0xC0 ? 1 : (*s & 0xF0) == 0xE0 ? 2 : (*s & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && *s < 0xC2))
            return 0;
        s++;
        for (int i = 0; i < n; i++, s++)
            if ((*s & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_send_raw (bad bytes from the server)");
    victim v;
    victim_connect(&v, "utf8");
    char line[256];
    message_line(line, sizeof line, "\"s\":\"bad \xff\xfe \xc3 end\"", v.channel);
    int reset = inject_and_settle(&v, line, strlen(line), "utf8");
    if (!reset) {
        /* Delivered (decoded with replacement) or skipped; what reaches a handler is valid UTF-8. */
        int n = it_inbox_count(v.chan);
        for (int i = 0; i < n; i++) {
            const it_msg *m = it_inbox_at(v.chan, i);
            if (m->json && !utf8_valid((const unsigned char *)m->json))
                fail_msg("invalid UTF-8 handed to a handler: %s", m->json);
        }
    }
    assert_works(&v);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_send_raw (bad bytes from the server)");
    victim v;
    victim_connect(&v, "nul");
    static const char a[] = "{\"a\":\0 1}\n";
    static const char b[] = "\0\0\0\n";
    char c[256];
    int n = message_line(c, sizeof c, "\"s\":\"x\"", v.channel);
    if (!it_transport_is_web())
        n--; /* without its LF */
    c[n] = '\0';
    c[n + 1] = 'z';
    c[n + 2] = '\n';
    inject_and_settle(&v, a, sizeof a - 1, "nul1");
    inject_and_settle(&v, b, sizeof b - 1, "nul2");
    inject_and_settle(&v, c, (size_t)n + 3, "nul3");
    assert_works(&v);
}

static void test_oversized_line(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_send_raw (bad bytes from the server)");
    victim v;
    victim_connect(&v, "oversize");
    /* Just under the limit: a normal message. */
    char *line = malloc(MAX_LINE * 4);
    assert_non_null(line);
    int head = snprintf(line, 256, "{\"recipient\":\"%s\",\"sender\":\"hub\",\"timestamp\":1,%s\"pad\":\"", v.channel,
                        it_transport_is_web() ? "\"data\":{" : "");
    int fill = MAX_LINE - 200 - head;
    memset(line + head, 'p', (size_t)fill);
    memcpy(line + head + fill, it_transport_is_web() ? "\"}}" : "\"}\n", 4);
    size_t len = strlen(line);
    assert_true(len < MAX_LINE);
    assert_int_equal(oocsi_hub_send_raw(it_hub, v.handle, line, len), 0);
    assert_int_equal(it_inbox_wait(v.chan, 1, IT_TIMEOUT), 1);
    assert_int_equal(it_states_count(v.states), 1);

    /* Over it: a line is skipped (the framing resynchronises at its LF), the
     * connection stays; over ws/wss a frame resets it with OOCSI_ERR_PROTOCOL. */
    memset(line, 'x', MAX_LINE * 3);
    line[MAX_LINE * 3] = '\n';
    assert_int_equal(oocsi_hub_send_raw(it_hub, v.handle, line, MAX_LINE * 3 + 1), 0);
    free(line);
    if (!it_transport_is_web()) {
        assert_works(&v);
        assert_int_equal(it_states_count(v.states), 1);
        return;
    }
    int off = it_states_wait_for(v.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT);
    if (off < 0)
        fail_msg("a %d-byte line with max_line_length %d did not reset the connection", MAX_LINE * 3, MAX_LINE);
    int err = 0;
    it_states_at(v.states, off, &err);
    assert_int_equal(err, OOCSI_ERR_PROTOCOL);
    assert_true(it_states_wait_for(v.states, off + 1, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT) >= 0);
    assert_works(&v);
}

static void test_oversized_line_without_newline(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_send_raw (bad bytes from the server)");
    victim v;
    victim_connect(&v, "endless");
    /* No LF for a long time: the client must not buffer without bound. Over
     * the line protocol it drops the line's bytes as they come and goes on
     * after its LF; over ws/wss the oversized frame resets the connection. */
    size_t n = MAX_LINE * 8;
    char *junk = malloc(n);
    assert_non_null(junk);
    memset(junk, '{', n);
    for (int i = 0; i < (it_transport_is_web() ? 1 : 4); i++) /* ws/wss: the first frame ends it */
        assert_int_equal(oocsi_hub_send_raw(it_hub, v.handle, junk, n), 0);
    free(junk);
    if (!it_transport_is_web()) {
        assert_int_equal(oocsi_hub_send_raw(it_hub, v.handle, "\n", 1), 0);
        assert_works(&v);
        assert_int_equal(it_states_count(v.states), 1);
        return;
    }
    int off = it_states_wait_for(v.states, 1, OOCSI_STATE_OFFLINE, IT_TIMEOUT);
    if (off < 0)
        fail_msg("%zu bytes without LF (max_line_length %d) did not reset the connection", n, MAX_LINE);
    int err = 0;
    it_states_at(v.states, off, &err);
    assert_int_equal(err, OOCSI_ERR_PROTOCOL);
    assert_true(it_states_wait_for(v.states, off + 1, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT) >= 0);
    assert_works(&v);
}

static void test_fragmented_and_concatenated_lines(void **state)
{
    (void)state;
    it_require_hub("oocsi_hub_send_raw (bad bytes from the server)");
    victim v;
    victim_connect(&v, "frag");
    const int web = it_transport_is_web();
    char line[512];
    int n = message_line(line, sizeof line, "\"frag\":\"one byte at a time \\u00e9\"", v.channel);
    if (web) {
        /* Framing is the WebSocket's: each write is a frame of its own, so
         * single bytes are single (meaningless) frames, each skipped... */
        for (int i = 0; i < n - 1; i++)
            assert_int_equal(oocsi_hub_send_raw(it_hub, v.handle, line + i, 1), 0);
        assert_int_equal(inject_and_settle(&v, line + n - 1, 1, "frag_bytes"), 0);
        assert_int_equal(it_inbox_count(v.chan), 0);
        /* ... and the message in one frame arrives as it is. */
        assert_int_equal(oocsi_hub_send_raw(it_hub, v.handle, line, (size_t)n), 0);
    } else {
        for (int i = 0; i < n; i++)
            assert_int_equal(oocsi_hub_send_raw(it_hub, v.handle, line + i, 1), 0);
    }
    assert_int_equal(it_inbox_wait(v.chan, 1, IT_TIMEOUT), 1);
    IT_ASSERT_JSON(it_inbox_at(v.chan, 0)->data, "{\"frag\":\"one byte at a time \\u00e9\"}");

    /* Three lines in one write. Over ws/wss that is one frame holding three
     * JSON objects: not a message (one frame = one message), skipped whole. */
    char three[1024];
    int len = 0;
    for (int i = 0; i < 3; i++) {
        char fields[16];
        snprintf(fields, sizeof fields, "\"k\":%d", i);
        len += message_line(three + len, sizeof three - (size_t)len, fields, v.channel);
        if (web)
            three[len++] = '\n';
    }
    if (web) {
        assert_int_equal(inject_and_settle(&v, three, (size_t)len, "frag_three"), 0);
        assert_int_equal(it_inbox_count(v.chan), 1);
    } else {
        assert_int_equal(oocsi_hub_send_raw(it_hub, v.handle, three, (size_t)len), 0);
        assert_int_equal(it_inbox_wait(v.chan, 4, IT_TIMEOUT), 1);
        for (int i = 0; i < 3; i++) {
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(it_inbox_at(v.chan, 1 + i)->data, "k");
            assert_int_equal((int)cJSON_GetNumberValue(k), i);
        }
    }
    assert_int_equal(it_states_count(v.states), 1);
    assert_works(&v);
}

static void test_server_pings_answered(void **state)
{
    (void)state;
    it_require_hub("ping_interval_ms and stale_timeout_ms options (the Java server pings after 5 s idle)");
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.ping_interval_ms = 100;
    ho.stale_timeout_ms = 1000;
    char url[64], h[64];
    oocsi_hub *hub = it_hub_start_extra(&ho, url, sizeof url);
    assert_non_null(hub);
    it_unique(h, sizeof h, "pinged");
    it_states *st = it_states_new();
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_set_handle(o, h), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    it_options_trust(o);
    oocsi_client *c = NULL;
    int rc = oocsi_connect(&c, o);
    oocsi_options_free(o);
    if (rc != OOCSI_OK) {
        oocsi_hub_free(hub);
        fail_msg("connect: %d", rc);
    }
    it_track(c);
    it_loop_start(c);
    assert_int_equal(it_states_settle(st), 1);
    /* Idle for 2.5 stale timeouts: only answering the hub's pings keeps it registered. */
    int gone = oocsi_hub_wait_client_gone(hub, h, 2500);
    int states = it_states_count(st);
    it_close(c);
    oocsi_hub_free(hub);
    assert_int_equal(gone, 0);
    assert_int_equal(states, 1);
}

/* A server that stops reading: the client's unsent bytes are bounded by the
 * offline-queue byte limit (OOCSI_ERR_QUEUE_FULL), and everything accepted
 * before that is delivered once the server reads again. */
static void test_stalled_server_bounds_memory(void **state)
{
    (void)state;
    it_require_hub("lossless outgoing queue (the Java server drops the oldest beyond 21 lines waiting for one client; "
                   "the backlog released here is longer)");
    char h[64], ch[64];
    it_unique(h, sizeof h, "stalled");
    it_unique(ch, sizeof ch, "stalled_ch");
    it_inbox *in = it_inbox_new();
    oocsi_client *rx = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(rx, ch, it_inbox_handler, in), OOCSI_OK);
    oocsi_options *o = it_options(h);
    assert_int_equal(oocsi_options_set_offline_queue(o, 1000, 64 * 1024), OOCSI_OK);
    /* No keep-alive reset during the stall. */
    assert_int_equal(oocsi_options_set_keepalive(o, 60000, 120000), OOCSI_OK);
    oocsi_client *c = it_connect_opts(o);
    it_loop_start(c);
    assert_int_equal(oocsi_hub_stall_client(it_hub, h, 1), 0);
    char pad[1001];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    char json[1100];
    int accepted = 0, rc = OOCSI_OK;
    for (int i = 0; i < 200000; i++) {
        snprintf(json, sizeof json, "{\"i\":%d,\"pad\":\"%s\"}", i, pad);
        rc = oocsi_send_json(c, ch, json);
        if (rc != OOCSI_OK)
            break;
        accepted++;
    }
    assert_int_equal(rc, OOCSI_ERR_QUEUE_FULL);
    assert_true(accepted > 0);
    assert_int_equal(oocsi_hub_stall_client(it_hub, h, 0), 0);
    /* Everything accepted arrives, in order. */
    assert_int_equal(it_inbox_wait(in, accepted, 30000), 1);
    for (int i = 0; i < accepted; i += accepted / 10 + 1) {
        const it_msg *m = it_inbox_at(in, i);
        assert_non_null(m);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->data, "i");
        assert_true(cJSON_IsNumber(v));
        assert_int_equal((int)v->valuedouble, i);
    }
    /* And the client goes on working. */
    assert_int_equal(oocsi_send_json(c, ch, "{\"after\":\"yes\"}"), OOCSI_OK);
    assert_true(it_inbox_wait_str(in, "after", "yes", IT_TIMEOUT) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_skips_unparseable_lines),
        IT_TEST(test_invalid_utf8),
        IT_TEST(test_nul_bytes),
        IT_TEST(test_oversized_line),
        IT_TEST(test_oversized_line_without_newline),
        IT_TEST(test_fragmented_and_concatenated_lines),
        IT_TEST(test_server_pings_answered),
        IT_TEST(test_stalled_server_bounds_memory),
    };
    return cmocka_run_group_tests_name("integration.robustness", tests, it_group_setup, it_group_teardown);
}
