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
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef OOCSI_GATEWAY_PATH
#error "OOCSI_GATEWAY_PATH must name the oocsi-gateway binary"
#endif
#ifndef OOCSI_CLI_PATH
#error "OOCSI_CLI_PATH must name the oocsi binary"
#endif
#ifndef OOCSI_REFERENCE_DIR
#error "OOCSI_REFERENCE_DIR must name shared/reference"
#endif
#ifndef OOCSI_TEST_WWW_DIR
#error "OOCSI_TEST_WWW_DIR must name tests/browser"
#endif

#define START_TMO 120000 /* Chromium or a JVM starting on a loaded machine */
#define TMO 30000        /* a round trip through the browser */
#define BURST 200
#define BIG (60 * 1024)
/* The page's keep-alive: pings this often, silence this long cut off; the
 * idle check waits for more pongs than fit in the silence. */
#define PING_MS 200
#define PING_MS_S "200"
#define IDLE_MS 4000
#define IDLE_MS_S "4000"
#define PONGS (2 * IDLE_MS / PING_MS)

enum kind { GW_HUB, GW_JAVA, HUB_WS };

/* ------------------------------------------------------------------ reports from the pages */

static pthread_mutex_t rmu = PTHREAD_MUTEX_INITIALIZER;
static cJSON **reps;
static int nrep, caprep;

static void on_report(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)user;
    cJSON *d = cJSON_Duplicate(oocsi_message_data(m), 1);
    pthread_mutex_lock(&rmu);
    if (nrep == caprep) {
        caprep = caprep ? 2 * caprep : 256;
        reps = realloc(reps, (size_t)caprep * sizeof *reps);
    }
    reps[nrep++] = d;
    pthread_mutex_unlock(&rmu);
    it_notify();
}

static void reports_free(void)
{
    pthread_mutex_lock(&rmu);
    for (int i = 0; i < nrep; i++) {
        cJSON_Delete(reps[i]);
    }
    free(reps);
    reps = NULL;
    nrep = caprep = 0;
    pthread_mutex_unlock(&rmu);
}

/* 1 if every key of pattern is in v with a matching value (objects: recursively). */
static int matches(const cJSON *pat, const cJSON *v)
{
    if (!v) {
        return 0;
    }
    if (cJSON_IsObject(pat)) {
        if (!cJSON_IsObject(v)) {
            return 0;
        }
        for (const cJSON *p = pat->child; p; p = p->next) {
            if (!matches(p, cJSON_GetObjectItemCaseSensitive(v, p->string))) {
                return 0;
            }
        }
        return 1;
    }
    return it_json_equal(pat, v);
}

/* Number of reports matching pat; *last gets the index of the last (-1). */
static int count_matching(const cJSON *pat, int *last)
{
    int n = 0;
    if (last) {
        *last = -1;
    }
    pthread_mutex_lock(&rmu);
    for (int i = 0; i < nrep; i++) {
        if (reps[i] && matches(pat, reps[i])) {
            n++;
            if (last) {
                *last = i;
            }
        }
    }
    pthread_mutex_unlock(&rmu);
    return n;
}

typedef struct match_ctx {
    const cJSON *pat;
    int count;
} match_ctx;

static int enough_matches(void *p)
{
    match_ctx *m = p;
    return count_matching(m->pat, NULL) >= m->count;
}

/* The reports matching the JSON pattern (printf-style), at least count of
 * them within ms; fails the test otherwise, showing the last reports. */
static int wait_reports(int count, int ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int wait_reports(int count, int ms, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cJSON *pat = it_json(text);
    match_ctx m = {pat, count};
    int ok = it_wait_until(enough_matches, &m, ms);
    int n = count_matching(pat, NULL);
    cJSON_Delete(pat);
    if (!ok) {
        pthread_mutex_lock(&rmu);
        for (int i = nrep > 8 ? nrep - 8 : 0; i < nrep; i++) {
            char *s = cJSON_PrintUnformatted(reps[i]);
            print_message("  report %d: %.300s\n", i, s ? s : "?");
            cJSON_free(s);
        }
        pthread_mutex_unlock(&rmu);
        fail_msg("%d report(s) %s within %d ms, expected %d", n, text, ms, count);
    }
    return n;
}

static int count_reports(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int count_reports(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cJSON *pat = it_json(text);
    int n = count_matching(pat, NULL);
    cJSON_Delete(pat);
    return n;
}

/* Reports of page that have key. */
static int count_has(const char *page, const char *key)
{
    int n = 0;
    pthread_mutex_lock(&rmu);
    for (int i = 0; i < nrep; i++) {
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reps[i], "page"));
        n += p && !strcmp(p, page) && cJSON_HasObjectItem(reps[i], key);
    }
    pthread_mutex_unlock(&rmu);
    return n;
}

/* ------------------------------------------------------------------ the setup under test */

static struct setup {
    enum kind kind;
    int started, failed;
    const char *skip;
    char dir[64], profile[64];
    pid_t browser;
    it_proc *gw, *java;
    int page_port, java_port;
    char up[64]; /* tcp URL of the server the C clients and the CLI use */
    char java_port_s[16];
    oocsi_client *ctl;
    char ctl_h[64], page[64];
    int window; /* messages in flight in a burst */
    int ctl_connects;
} S;

static void on_ctl_state(oocsi_client *c, oocsi_state st, int err, void *user)
{
    (void)c;
    (void)err;
    (void)user;
    if (st == OOCSI_STATE_CONNECTED) {
        __atomic_add_fetch(&S.ctl_connects, 1, __ATOMIC_SEQ_CST);
        it_notify();
    }
}

static int java_available(void)
{
    const char *path = getenv("PATH");
    char buf[512];
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/java", (int)n, path);
        if (access(buf, X_OK) == 0) {
            return 1;
        }
        path = end ? end + 1 : NULL;
    }
    return 0;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) {
        fail_msg("cannot read %s: %s", from, strerror(errno));
    }
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    char b[8192];
    size_t n;
    while ((n = fread(b, 1, sizeof b, in)) > 0) {
        assert_int_equal(fwrite(b, 1, n, out), n);
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The port after the last ':' of the first stdout line containing marker. */
static int port_after(it_proc *p, const char *marker)
{
    if (!it_proc_wait_text(p, 1, marker, START_TMO)) {
        fail_msg("no \"%s\" on stdout: \"%s\" (stderr \"%s\")", marker, it_buf_text(&p->out), it_buf_text(&p->err));
    }
    const char *t = strstr(it_buf_text(&p->out), marker), *colon = NULL;
    for (const char *q = t; *q && *q != '\n'; q++) {
        if (*q == ':') {
            colon = q;
        }
    }
    int port = colon ? atoi(colon + 1) : 0;
    assert_true(port > 0);
    return port;
}

/* The gateway on port (0: any), upstream S.up, pages from S.dir. */
static void gateway_start(int port)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    S.gw = it_proc_startv(OOCSI_GATEWAY_PATH, NULL,
                          (const char *const[]){"--port", ps, "--url", S.up, "--www", S.dir, "--ping-interval",
                                                PING_MS_S, "--idle-timeout", IDLE_MS_S, NULL});
    assert_non_null(S.gw);
    it_proc_keep(S.gw);
    S.page_port = port_after(S.gw, "ws://");
}

static void java_start(void)
{
    char script[512];
    snprintf(script, sizeof script, "%s/run-java-server", OOCSI_REFERENCE_DIR);
    S.java = it_proc_startv(script, NULL, (const char *const[]){S.java_port_s, NULL});
    assert_non_null(S.java);
    it_proc_keep(S.java);
}

/* A client of the upstream, with its loop running; retried (each retry
 * waiting, bounded, on the Java server's output) while the server is not
 * listening yet. */
static oocsi_client *up_connect(const char *handle, oocsi_state_fn st)
{
    oocsi_client *c = NULL;
    int64_t dl = it_now_ms() + START_TMO;
    while (1) {
        oocsi_options *o = oocsi_options_new();
        assert_non_null(o);
        assert_int_equal(oocsi_options_set_handle(o, handle), OOCSI_OK);
        assert_int_equal(oocsi_options_add_endpoint(o, S.up), OOCSI_OK);
        assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
        assert_int_equal(oocsi_options_set_reconnect_delay(o, 50, 500), OOCSI_OK);
        if (st) {
            assert_int_equal(oocsi_options_set_state_handler(o, st, NULL), OOCSI_OK);
        }
        int rc = oocsi_connect(&c, o);
        oocsi_options_free(o);
        if (rc == OOCSI_OK) {
            assert_int_equal(oocsi_loop_start(c), OOCSI_OK);
            return c;
        }
        if (rc != OOCSI_ERR_CONNECT || !S.java || it_now_ms() > dl) {
            fail_msg("connect to %s as %s: %s (%s)", S.up, handle, oocsi_strerror(rc), oocsi_last_error(NULL));
        }
        if (it_proc_wait_text(S.java, 2, "Exception", 100)) {
            fail_msg("the Java server failed:\n%s", it_buf_text(&S.java->err));
        }
    }
}

/* A C client for one test (closed by the test's teardown). */
static oocsi_client *peer(const char *prefix, char *handle, size_t size)
{
    it_unique(handle, size, prefix);
    oocsi_client *c = it_track(up_connect(handle, NULL));
    it_set_pumped(c, 0);
    return c;
}

static void start_everything(void)
{
    S.failed = 1; /* until everything is up */
    S.window = S.kind == GW_JAVA ? 10 : BURST;
    snprintf(S.dir, sizeof S.dir, "/tmp/oocsi-webref-XXXXXX");
    assert_non_null(mkdtemp(S.dir));
    char to[128];
    snprintf(to, sizeof to, "%s/oocsi-web.js", S.dir);
    copy_file(OOCSI_REFERENCE_DIR "/web/oocsi-web.js", to);
    snprintf(to, sizeof to, "%s/index.html", S.dir);
    copy_file(OOCSI_TEST_WWW_DIR "/webclient_ref.html", to);

    if (S.kind == GW_JAVA) {
        /* Under a C/POSIX locale the JVM turns non-ASCII characters into '?'. */
        if (!getenv("JAVA_TOOL_OPTIONS")) {
            setenv("JAVA_TOOL_OPTIONS", "-Dfile.encoding=UTF-8", 1);
        }
        S.java_port = it_free_port();
        snprintf(S.java_port_s, sizeof S.java_port_s, "%d", S.java_port);
        snprintf(S.up, sizeof S.up, "tcp://127.0.0.1:%d", S.java_port);
        java_start();
    } else {
        oocsi_hub_options o;
        oocsi_hub_options_init(&o);
        if (S.kind == HUB_WS) {
            o.ws_port = 0;
            o.www_dir = S.dir;
            o.ping_interval_ms = PING_MS;
            o.stale_timeout_ms = IDLE_MS;
        }
        assert_int_equal(it_hub_start(&o), 0);
        snprintf(S.up, sizeof S.up, "tcp://127.0.0.1:%d", oocsi_hub_port(it_hub));
        S.page_port = oocsi_hub_ws_port(it_hub);
    }
    it_unique(S.ctl_h, sizeof S.ctl_h, "wref_ctl");
    it_unique(S.page, sizeof S.page, "wref_page");
    S.ctl = up_connect(S.ctl_h, on_ctl_state);
    assert_int_equal(oocsi_subscribe(S.ctl, S.ctl_h, on_report, NULL), OOCSI_OK);
    if (S.kind != HUB_WS) {
        gateway_start(0);
    }

    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html?ws=ws://127.0.0.1:%d/ws&handle=%s&ctl=%s", S.page_port,
             S.page_port, S.page, S.ctl_h);
    snprintf(S.profile, sizeof S.profile, "/tmp/oocsi-chromium-XXXXXX");
    assert_non_null(mkdtemp(S.profile));
    S.browser = it_browser_start(it_find_chromium(), S.profile, url);
    assert_true(S.browser > 0);
    wait_reports(1, START_TMO, "{\"ready\":true,\"page\":\"%s\"}", S.page);
    S.failed = 0;
}

/* At the start of every test: the group's servers and browser (started by
 * the first test), or a skip. */
static void need_page(void)
{
    if (S.skip) {
        print_message("SKIP: %s\n", S.skip);
        skip();
    }
    if (S.failed) {
        fail_msg("the servers or the browser of this setup did not start (see the group's first test)");
    }
    if (!S.started) {
        S.started = 1;
        start_everything();
    }
}

static int group_setup(enum kind kind)
{
    memset(&S, 0, sizeof S);
    S.kind = kind;
    char js[512], script[512];
    snprintf(js, sizeof js, "%s/web/oocsi-web.js", OOCSI_REFERENCE_DIR);
    snprintf(script, sizeof script, "%s/run-java-server", OOCSI_REFERENCE_DIR);
    if (!it_find_chromium()) {
        S.skip = "Chromium not found (install the Debian package chromium, or set CHROMIUM=/path)";
    } else if (access(js, R_OK) != 0) {
        S.skip = "the reference web client (shared/reference/web/oocsi-web.js) is missing";
    } else if (kind == GW_JAVA && access(script, X_OK) != 0) {
        S.skip = "the reference folder (shared/reference/run-java-server) is missing";
    } else if (kind == GW_JAVA && !java_available()) {
        S.skip = "no java on PATH (Debian: apt-get install default-jre-headless)";
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.browser > 0) {
        it_browser_stop(S.browser, S.profile);
    }
    if (S.ctl) {
        oocsi_close(S.ctl);
    }
    if (S.gw) {
        it_proc_release(S.gw);
    }
    if (S.java) {
        it_proc_release(S.java);
    }
    it_hub_free();
    reports_free();
    if (S.dir[0]) {
        nftw(S.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    memset(&S, 0, sizeof S);
    return 0;
}

static int setup_gw_hub(void **state)
{
    (void)state;
    return group_setup(GW_HUB);
}
static int setup_gw_java(void **state)
{
    (void)state;
    return group_setup(GW_JAVA);
}
static int setup_hub_ws(void **state)
{
    (void)state;
    return group_setup(HUB_WS);
}

/* ------------------------------------------------------------------ driving a page */

/* Sends page the command (a JSON object, printf-style, without the id) and
 * waits for its acknowledgement. */
static char last_id[64]; /* the id of the last command */

static void cmd(const char *page, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cmd(const char *page, const char *fmt, ...)
{
    static int seq;
    char text[1024];
    char *id = last_id;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cJSON *o = it_json(text);
    snprintf(id, sizeof last_id, "c%d_%d", (int)getpid(), ++seq);
    cJSON_AddStringToObject(o, "id", id);
    assert_int_equal(oocsi_send(S.ctl, page, o), OOCSI_OK);
    cJSON_Delete(o);
    wait_reports(1, TMO, "{\"ack\":\"%s\",\"page\":\"%s\"}", id, page);
}

/* The page subscribes to ch (acknowledged after the subscribe frame: the
 * server has it before it routes the acknowledgement). */
static void page_sub(const char *page, const char *ch)
{
    cmd(page, "{\"cmd\":\"sub\",\"ch\":\"%s\"}", ch);
}

static void run_cli(const char *const *args)
{
    it_proc *p = it_proc_startv(OOCSI_CLI_PATH, NULL, args);
    assert_non_null(p);
    int rc = it_proc_wait_exit(p, TMO);
    if (rc != 0) {
        fail_msg("oocsi exited with %d: %s", rc, it_buf_text(&p->err));
    }
}

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
