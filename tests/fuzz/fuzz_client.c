/*
 * libFuzzer target: a whole client, end to end. The input is what a server
 * sends to an oocsi_client, from the welcome on, through an in-memory
 * transport registered like any user transport ("fuzz://", stream, line
 * codec): no sockets, no threads, no sleeps.
 *
 * The input is split into chunks at the byte 0xFF; the transport hands out
 * one chunk each time the core waits (wait()), the next one only once the
 * previous was read, and reports the end of the stream after the last.
 * "@ID@" in a chunk becomes the _MESSAGE_ID of the last call the client sent
 * (call ids are random), so inputs can answer calls.
 *
 * The client connects as "fuzz" (the welcome comes from the input), then
 * subscribes to fuzz_ch (barrier: waits for a "."), registers the responder
 * fuzz_call on fuzz_ch (another "."), makes a variable on fuzz_var (another
 * "."), submits a heyOOCSI device, calls fuzz_call on fuzz_peer and queries
 * the clients (an answer line and a "."); then oocsi_loop(c, 0) runs until
 * the input is consumed. Handlers check every message they get, echo the
 * first few back and, for a message with "_fuzz": "channels", "clients",
 * "subscribers", "subscribe", "unsubscribe", "unregister", "call" or "var",
 * make that API call from inside the callback (blocking ones drive the I/O
 * themselves). Reconnection is off, so the end of the input ends everything.
 *
 * Checked: every line the client writes is valid UTF-8 without NUL or CR,
 * ends with LF and is a command of the line protocol (the hello first;
 * sendraw with a JSON object); every message handed to a handler has a
 * sender, a recipient (valid UTF-8) and an object as data.
 * FUZZ_CLIENT_TRACE=1 prints the client's lines and log to stderr.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "oocsi/codec.h"
#include "oocsi/oocsi.h"
#include "oocsi/transport.h"

#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                               \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#define CHUNK_MARK 0xFF
#define ID_TOKEN "@ID@"
#define NO_ID "00000000-0000-4000-8000-000000000000"
#define LONG_MS 600000 /* timeouts that never expire in one run */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The state of one run: the input, the chunk being read, the client's
 * output (its unfinished line) and what the handlers did. */
typedef struct fuzz_run {
    const uint8_t *data;
    size_t size, pos; /* the next chunk starts at pos */
    int more;         /* chunks left to hand out */
    int eof;          /* the stream ended: read() says closed */
    int open;
    char *chunk;
    size_t chunk_len, chunk_off;
    char *line; /* the client's line under way */
    size_t line_len, line_cap;
    size_t lines;
    char call_id[40];
    int echoes, nested, trace;
    oocsi_variable *var;
} fuzz_run;

static fuzz_run R;

/* ------------------------------------------------------------ the transport */

static int fz_open(void **state, const oocsi_url *url, const oocsi_transport_config *cfg)
{
    (void)url;
    (void)cfg;
    if (R.open || R.eof)
        return OOCSI_ERR_CONNECT; /* one connection per run */
    R.open = 1;
    *state = &R;
    return OOCSI_OK;
}

static int fz_fd(void *state)
{
    (void)state;
    return -1;
}

static int fz_interest(void *state)
{
    (void)state;
    return OOCSI_WANT_READ;
}

static int fz_process(void *state, int events)
{
    (void)state;
    (void)events;
    return 1; /* connected at once */
}

/* The next chunk, with ID_TOKEN replaced by the last call id. */
static void next_chunk(void)
{
    const uint8_t *s = R.data + R.pos;
    size_t n = R.size - R.pos;
    const uint8_t *mark = memchr(s, CHUNK_MARK, n);
    if (mark) {
        n = (size_t)(mark - s);
        R.pos += n + 1;
    } else {
        R.pos = R.size;
        R.more = 0;
    }
    const char *id = R.call_id[0] ? R.call_id : NO_ID;
    size_t tl = strlen(ID_TOKEN), il = strlen(id);
    free(R.chunk);
    R.chunk = malloc(n / tl * il + n + 1);
    FUZZ_CHECK(R.chunk != NULL);
    R.chunk_len = R.chunk_off = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= tl && memcmp(s + i, ID_TOKEN, tl) == 0) {
            memcpy(R.chunk + R.chunk_len, id, il);
            R.chunk_len += il;
            i += tl;
        } else {
            R.chunk[R.chunk_len++] = (char)s[i++];
        }
    }
}

static int fz_wait(void *state, int timeout_ms)
{
    (void)state;
    (void)timeout_ms;
    if (R.chunk_off < R.chunk_len)
        return OOCSI_OK; /* not read yet */
    if (R.more)
        next_chunk();
    else
        R.eof = 1;
    return OOCSI_OK;
}

static void fz_wake(void *state)
{
    (void)state;
}

static ssize_t fz_read(void *state, char *buf, size_t len)
{
    (void)state;
    if (R.chunk_off < R.chunk_len) {
        size_t n = R.chunk_len - R.chunk_off;
        if (n > len)
            n = len;
        memcpy(buf, R.chunk + R.chunk_off, n);
        R.chunk_off += n;
        return (ssize_t)n;
    }
    return R.eof ? OOCSI_ERR_CLOSED : 0;
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A word of a command: not empty, no space. */
static void check_word(const char *w)
{
    FUZZ_CHECK(*w != '\0');
    FUZZ_CHECK(strchr(w, ' ') == NULL);
}

/* One whole line the client wrote (without its LF). */
static void check_line(const char *s, size_t n)
{
    FUZZ_CHECK(memchr(s, '\0', n) == NULL);
    FUZZ_CHECK(memchr(s, '\r', n) == NULL);
    FUZZ_CHECK(oocsi_utf8_valid(s, n));
    if (R.trace)
        fprintf(stderr, "client> %s\n", s);
    if (R.lines++ == 0) {
        FUZZ_CHECK(strcmp(s, "fuzz(JSON)") == 0);
        return;
    }
    if (starts(s, "sendraw ")) {
        const char *rcpt = s + 8, *sp = strchr(rcpt, ' ');
        FUZZ_CHECK(sp != NULL && sp > rcpt);
        cJSON *obj = cJSON_Parse(sp + 1);
        FUZZ_CHECK(obj != NULL && cJSON_IsObject(obj));
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "_MESSAGE_ID");
        if (cJSON_IsString(id) && cJSON_GetObjectItemCaseSensitive(obj, "_MESSAGE_HANDLE") &&
            strlen(id->valuestring) < sizeof R.call_id)
            strcpy(R.call_id, id->valuestring); /* a call of ours */
        cJSON_Delete(obj);
    } else if (starts(s, "subscribe ")) {
        check_word(s + 10);
    } else if (starts(s, "unsubscribe ")) {
        check_word(s + 12);
    } else if (starts(s, "channels ")) {
        check_word(s + 9);
    } else {
        FUZZ_CHECK(strcmp(s, "ping") == 0 || strcmp(s, ".") == 0 || strcmp(s, "channels") == 0 ||
                   strcmp(s, "clients") == 0 || strcmp(s, "quit") == 0);
    }
}

static ssize_t fz_write(void *state, const char *buf, size_t len)
{
    (void)state;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            if (R.line_len == R.line_cap) {
                R.line_cap = R.line_cap ? 2 * R.line_cap : 256;
                R.line = realloc(R.line, R.line_cap);
                FUZZ_CHECK(R.line != NULL);
            }
            R.line[R.line_len] = '\0';
            check_line(R.line, R.line_len);
            R.line_len = 0;
            continue;
        }
        if (R.line_len + 1 >= R.line_cap) {
            R.line_cap = R.line_cap ? 2 * R.line_cap : 256;
            R.line = realloc(R.line, R.line_cap);
            FUZZ_CHECK(R.line != NULL);
        }
        R.line[R.line_len++] = buf[i];
    }
    return (ssize_t)len;
}

static void fz_close(void *state)
{
    (void)state;
}

static const oocsi_transport fuzz_transport = {
    .scheme = "fuzz",
    .default_codec = "line",
    .default_port = 1,
    .flags = OOCSI_TRANSPORT_STREAM,
    .default_path = NULL,
    .open = fz_open,
    .fd = fz_fd,
    .interest = fz_interest,
    .process = fz_process,
    .read = fz_read,
    .write = fz_write,
    .close = fz_close,
    .wait = fz_wait,
    .wake = fz_wake,
};

/* --------------------------------------------------------------- handlers */

static int text_ok(const char *s)
{
    return s != NULL && oocsi_utf8_valid(s, strlen(s));
}

static void check_message(const oocsi_message *m)
{
    int64_t i;
    double d;
    int b;
    FUZZ_CHECK(m != NULL);
    FUZZ_CHECK(text_ok(oocsi_message_sender(m)));
    FUZZ_CHECK(text_ok(oocsi_message_recipient(m)));
    const cJSON *data = oocsi_message_data(m);
    FUZZ_CHECK(data != NULL && cJSON_IsObject(data));
    char *json = oocsi_message_data_json(m);
    if (json) {
        cJSON *back = cJSON_Parse(json);
        FUZZ_CHECK(back != NULL && cJSON_IsObject(back));
        cJSON_Delete(back);
        oocsi_free(json);
    }
    (void)oocsi_message_timestamp(m);
    const char *keys[] = {"v", "x", "data", "_MESSAGE_ID", "nope"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int rc = oocsi_message_get_int(m, keys[k], &i);
        FUZZ_CHECK(rc == OOCSI_OK || rc == OOCSI_ERR_NOT_FOUND || rc == OOCSI_ERR_UNSUPPORTED);
        rc = oocsi_message_get_double(m, keys[k], &d);
        FUZZ_CHECK(rc == OOCSI_OK || rc == OOCSI_ERR_NOT_FOUND || rc == OOCSI_ERR_UNSUPPORTED);
        rc = oocsi_message_get_bool(m, keys[k], &b);
        FUZZ_CHECK(rc == OOCSI_OK || rc == OOCSI_ERR_NOT_FOUND || rc == OOCSI_ERR_UNSUPPORTED);
        const char *s = oocsi_message_get_string(m, keys[k]);
        FUZZ_CHECK(s == NULL || text_ok(s));
        (void)oocsi_message_get_int_or(m, keys[k], 0);
        (void)oocsi_message_get_double_or(m, keys[k], 0);
        (void)oocsi_message_get_bool_or(m, keys[k], 0);
        (void)oocsi_message_get_string_or(m, keys[k], "");
    }
}

static void check_answer(int rc, char *out)
{
    FUZZ_CHECK(rc == OOCSI_OK || rc == OOCSI_ERR_CLOSED || rc == OOCSI_ERR_INVAL);
    FUZZ_CHECK(rc == OOCSI_OK ? text_ok(out) : out == NULL);
    oocsi_free(out);
}

static void on_message(oocsi_client *c, const oocsi_message *m, void *user);

/* "_fuzz": an API call made from inside a handler. */
static void nested_call(oocsi_client *c, const oocsi_message *m, const char *what)
{
    char *out = NULL;
    int rc;
    const char *ch = oocsi_message_get_string_or(m, "ch", "fuzz_more");
    if (!strcmp(what, "channels")) {
        rc = oocsi_channels(c, LONG_MS, &out);
        check_answer(rc, out);
    } else if (!strcmp(what, "clients")) {
        rc = oocsi_clients(c, LONG_MS, &out);
        check_answer(rc, out);
    } else if (!strcmp(what, "subscribers")) {
        rc = oocsi_channel_subscribers(c, ch, LONG_MS, &out);
        check_answer(rc, out);
    } else if (!strcmp(what, "subscribe")) {
        (void)oocsi_subscribe(c, ch, on_message, NULL);
    } else if (!strcmp(what, "unsubscribe")) {
        (void)oocsi_unsubscribe(c, ch);
    } else if (!strcmp(what, "unregister")) {
        (void)oocsi_unregister(c, "fuzz_ch", "fuzz_call");
    } else if (!strcmp(what, "call")) {
        cJSON *resp = NULL;
        rc = oocsi_call_and_wait(c, "fuzz_peer", "fuzz_call", oocsi_message_data(m), LONG_MS, &resp);
        FUZZ_CHECK(rc == OOCSI_OK ? cJSON_IsObject(resp) : resp == NULL);
        cJSON_Delete(resp);
    } else if (!strcmp(what, "var") && R.var) {
        (void)oocsi_variable_set(R.var, oocsi_message_get_double_or(m, "x", 0));
        (void)oocsi_variable_set_string(R.var, oocsi_message_get_string_or(m, "s", "s"));
    }
}

static void on_message(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)user;
    check_message(m);
    if (R.echoes < 8) { /* what came in goes out again: the output path */
        R.echoes++;
        int rc = oocsi_send(c, oocsi_message_sender(m), oocsi_message_data(m));
        FUZZ_CHECK(rc == OOCSI_OK || rc == OOCSI_ERR_INVAL || rc == OOCSI_ERR_CLOSED || rc == OOCSI_ERR_QUEUE_FULL);
    }
    const char *what = oocsi_message_get_string(m, "_fuzz");
    if (what && R.nested < 4) {
        R.nested++;
        nested_call(c, m, what);
    }
}

static void on_call(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    (void)c;
    (void)user;
    check_message(request);
    FUZZ_CHECK(cJSON_IsObject(response));
    FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(response, "_MESSAGE_HANDLE") == NULL);
    cJSON_AddNumberToObject(response, "answer", 42);
    const char *s = oocsi_message_get_string(request, "s");
    if (s)
        cJSON_AddStringToObject(response, "echo", s);
}

static void on_result(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c;
    (void)user;
    if (response) {
        check_message(response);
        FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(oocsi_message_data(response), "_MESSAGE_ID") == NULL);
    }
}

static void on_state(oocsi_client *c, oocsi_state state, int err, void *user)
{
    (void)c;
    (void)err;
    (void)user;
    FUZZ_CHECK(state == OOCSI_STATE_CONNECTED || state == OOCSI_STATE_OFFLINE || state == OOCSI_STATE_CLOSED);
}

static void on_log(oocsi_log_level level, const char *msg, void *user)
{
    (void)level;
    (void)user;
    FUZZ_CHECK(msg != NULL);
    if (R.trace)
        fprintf(stderr, "log: %s\n", msg);
}

/* ------------------------------------------------------------------ a run */

static oocsi_options *make_options(void)
{
    oocsi_options *o = oocsi_options_new();
    FUZZ_CHECK(o != NULL);
    FUZZ_CHECK(oocsi_options_set_handle(o, "fuzz") == OOCSI_OK);
    FUZZ_CHECK(oocsi_options_add_endpoint(o, "fuzz://server") == OOCSI_OK);
    FUZZ_CHECK(oocsi_options_set_logger(o, on_log, NULL) == OOCSI_OK);
    FUZZ_CHECK(oocsi_options_set_log_level(o, OOCSI_LOG_DEBUG) == OOCSI_OK);
    FUZZ_CHECK(oocsi_options_set_max_reconnect_attempts(o, 0) == OOCSI_OK);
    FUZZ_CHECK(oocsi_options_set_max_line_length(o, 1024) == OOCSI_OK);
    FUZZ_CHECK(oocsi_options_set_direct_handler(o, on_message, NULL) == OOCSI_OK);
    FUZZ_CHECK(oocsi_options_set_state_handler(o, on_state, NULL) == OOCSI_OK);
    FUZZ_CHECK(oocsi_options_set_connect_timeout(o, LONG_MS) == OOCSI_OK);
    return o;
}

/* Everything a client sets up, each step answered (or not) by the input. */
static void set_up(oocsi_client *c)
{
    (void)oocsi_subscribe(c, "fuzz_ch", on_message, NULL);
    (void)oocsi_register(c, "fuzz_ch", "fuzz_call", on_call, NULL);
    R.var = oocsi_variable_new(c, "fuzz_var", "v");
    if (R.var) {
        (void)oocsi_variable_smooth(R.var, 3, 0);
        (void)oocsi_variable_set(R.var, 1.5);
    }
    oocsi_device *d = oocsi_device_new(c, "fuzz_dev");
    if (d) {
        (void)oocsi_device_add_switch(d, "sw", "fuzz_sw", 0, NULL);
        (void)oocsi_device_submit(d);
        oocsi_device_free(d);
    }
    cJSON *req = cJSON_CreateObject();
    FUZZ_CHECK(req != NULL);
    cJSON_AddNumberToObject(req, "x", 1);
    (void)oocsi_call(c, "fuzz_peer", "fuzz_call", req, LONG_MS, on_result, NULL);
    cJSON_Delete(req);
    char *out = NULL;
    check_answer(oocsi_clients(c, LONG_MS, &out), out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        FUZZ_CHECK(oocsi_register_transport(&fuzz_transport) == OOCSI_OK);
        registered = 1;
    }
    memset(&R, 0, sizeof R);
    R.data = data;
    R.size = size;
    R.more = 1;
    R.trace = getenv("FUZZ_CLIENT_TRACE") != NULL;

    oocsi_options *o = make_options();
    oocsi_client *c = NULL;
    int rc = oocsi_connect(&c, o);
    oocsi_options_free(o);
    if (rc == OOCSI_OK) {
        FUZZ_CHECK(c != NULL && strcmp(oocsi_handle(c), "") != 0);
        set_up(c);
        /* Each round hands out at most one chunk: the input bounds the rounds. */
        size_t rounds = 8;
        for (size_t i = 0; i < size; i++)
            rounds += data[i] == CHUNK_MARK;
        while (rounds-- > 0 && oocsi_loop(c, 0) == OOCSI_OK) {
        }
        (void)oocsi_loop(c, 0); /* what the end queued */
        if (R.var) {
            (void)oocsi_variable_get(R.var);
            (void)oocsi_variable_has_value(R.var);
            char *s = oocsi_variable_dup_string(R.var);
            FUZZ_CHECK(s == NULL || text_ok(s));
            oocsi_free(s);
            oocsi_variable_free(R.var);
        }
        oocsi_close(c);
    } else {
        FUZZ_CHECK(c == NULL);
    }
    FUZZ_CHECK(R.line_len == 0); /* every line ended with LF */
    free(R.chunk);
    free(R.line);
    return 0;
}
