/*
 * Integration: a real browser. Headless Chromium opens tests/browser/index.html
 * from the hub's ws port; the page joins a channel over the hub's /ws with the
 * browser's own WebSocket and exchanges messages with a C client connected
 * over TCP. Passes only if both directions arrive. Skipped, with a message,
 * where Chromium is not installed (CI installs it).
 */
#define _XOPEN_SOURCE 700
#include "support.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef OOCSI_TEST_WWW_DIR
#error "OOCSI_TEST_WWW_DIR must name tests/browser"
#endif

static int has_echo_of(const it_msg *m, void *ctx)
{
    const cJSON *echo = cJSON_GetObjectItemCaseSensitive(m->data, "echo");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(m->data, "of");
    const cJSON *n = of ? cJSON_GetObjectItemCaseSensitive(of, "n") : NULL;
    return cJSON_IsTrue(echo) && cJSON_IsNumber(n) && (int)n->valuedouble == *(int *)ctx;
}

typedef struct find_ctx {
    it_inbox *in;
    int (*pred)(const it_msg *, void *);
    void *arg;
    int found;
} find_ctx;

static int find_cond(void *p)
{
    find_ctx *f = p;
    for (int i = 0; i < it_inbox_count(f->in); i++)
        if (f->pred(it_inbox_at(f->in, i), f->arg)) {
            f->found = i;
            return 1;
        }
    return 0;
}

static int has_hello(const it_msg *m, void *ctx)
{
    (void)ctx;
    const char *h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m->data, "hello"));
    return h && strcmp(h, "from the browser") == 0;
}

static void test_browser_and_c_client_talk(void **state)
{
    (void)state;
    const char *exe = it_find_chromium();
    if (!exe) {
        print_message("SKIP: Chromium not found (install the Debian package chromium, or set CHROMIUM=/path)\n");
        skip();
    }
    oocsi_hub_options ho;
    oocsi_hub_options_init(&ho);
    ho.bind_address = "127.0.0.1";
    ho.ws_port = 0;
    ho.www_dir = OOCSI_TEST_WWW_DIR;
    oocsi_hub *hub = oocsi_hub_start(&ho);
    assert_non_null(hub);
    char ch[64], url[256], tcp[64];
    it_unique(ch, sizeof ch, "browserchat");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/index.html?channel=%s", oocsi_hub_ws_port(hub), ch);
    snprintf(tcp, sizeof tcp, "tcp://127.0.0.1:%d", oocsi_hub_port(hub));

    oocsi_options *o = oocsi_options_new();
    assert_int_equal(oocsi_options_add_endpoint(o, tcp), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    oocsi_client *c = NULL;
    assert_int_equal(oocsi_connect(&c, o), OOCSI_OK);
    oocsi_options_free(o);
    assert_int_equal(oocsi_loop_start(c), OOCSI_OK);
    it_inbox *in = it_inbox_new();
    assert_int_equal(oocsi_subscribe(c, ch, it_inbox_handler, in), OOCSI_OK);

    char profile[] = "/tmp/oocsi-chromium-XXXXXX";
    assert_non_null(mkdtemp(profile));
    pid_t pid = it_browser_start(exe, profile, url);
    assert_true(pid > 0);

    /* Browser -> C: the page's hello on the channel (Chromium may take a
     * while to start on a loaded machine). */
    find_ctx hello = {in, has_hello, NULL, -1};
    int got_hello = it_wait_until(find_cond, &hello, 60000);
    /* C -> browser: the page echoes our message back. */
    int n = 7, got_echo = 0;
    if (got_hello) {
        assert_int_equal(oocsi_send_json(c, ch, "{\"from\":\"c\",\"n\":7}"), OOCSI_OK);
        find_ctx echo = {in, has_echo_of, &n, -1};
        got_echo = it_wait_until(find_cond, &echo, 30000);
    }
    it_browser_stop(pid, profile);
    oocsi_close(c);
    oocsi_hub_free(hub);
    if (!got_hello)
        fail_msg("no hello from the page in headless Chromium (browser -> C)");
    if (!got_echo)
        fail_msg("the page did not echo the C client's message (C -> browser)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_and_c_client_talk),
    };
    return cmocka_run_group_tests_name("integration.browser", tests, NULL, NULL);
}
