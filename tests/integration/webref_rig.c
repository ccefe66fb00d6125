/* The rig of test_webclient_ref (see webref_rig.h and test_webclient_ref.c). */
#define _XOPEN_SOURCE 700
#include "webref_rig.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

/* ------------------------------------------------------------------ reports from the pages */

pthread_mutex_t rmu = PTHREAD_MUTEX_INITIALIZER;
cJSON **reps;
int nrep;
static int caprep;

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
int count_matching(const cJSON *pat, int *last)
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

int enough_matches(void *p)
{
    match_ctx *m = p;
    return count_matching(m->pat, NULL) >= m->count;
}

/* The reports matching the JSON pattern (printf-style), at least count of
 * them within ms; fails the test otherwise, showing the last reports. */
/* The pattern text (printf-style) in text, parsed. */
static cJSON *pattern(char *text, size_t size, const char *fmt, va_list ap)
{
    vsnprintf(text, size, fmt, ap);
    return it_json(text);
}

int wait_reports(int count, int ms, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    cJSON *pat = pattern(text, sizeof text, fmt, ap);
    va_end(ap);
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

int count_reports(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    cJSON *pat = pattern(text, sizeof text, fmt, ap);
    va_end(ap);
    int n = count_matching(pat, NULL);
    cJSON_Delete(pat);
    return n;
}

/* Reports of page that have key. */
int count_has(const char *page, const char *key)
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

struct setup S;

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

/* The gateway on port (0: any), upstream S.up, pages from S.dir. */
void gateway_start(int port)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    S.gw = it_proc_startv(OOCSI_GATEWAY_PATH, NULL,
                          (const char *const[]){"--port", ps, "--url", S.up, "--www", S.dir, "--ping-interval",
                                                PING_MS_S, "--idle-timeout", IDLE_MS_S, NULL});
    assert_non_null(S.gw);
    it_proc_keep(S.gw);
    S.page_port = it_proc_port_after(S.gw, "ws://", START_TMO);
}

void java_start(void)
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
oocsi_client *peer(const char *prefix, char *handle, size_t size)
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
void need_page(void)
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
    } else if (kind == GW_JAVA && !it_have_program("java")) {
        S.skip = "no java on PATH (Debian: apt-get install default-jre-headless)";
    }
    return 0;
}

int group_teardown(void **state)
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

int setup_gw_hub(void **state)
{
    (void)state;
    return group_setup(GW_HUB);
}
int setup_gw_java(void **state)
{
    (void)state;
    return group_setup(GW_JAVA);
}
int setup_hub_ws(void **state)
{
    (void)state;
    return group_setup(HUB_WS);
}

/* ------------------------------------------------------------------ driving a page */

/* Sends page the command (a JSON object, printf-style, without the id) and
 * waits for its acknowledgement. */
char last_id[64]; /* the id of the last command */

void cmd(const char *page, const char *fmt, ...)
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
void page_sub(const char *page, const char *ch)
{
    cmd(page, "{\"cmd\":\"sub\",\"ch\":\"%s\"}", ch);
}

void run_cli(const char *const *args)
{
    it_proc *p = it_proc_startv(OOCSI_CLI_PATH, NULL, args);
    assert_non_null(p);
    int rc = it_proc_wait_exit(p, TMO);
    if (rc != 0) {
        fail_msg("oocsi exited with %d: %s", rc, it_buf_text(&p->err));
    }
}
