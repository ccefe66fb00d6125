/*
 * The rig of test_webclient_ref: one setup (servers, gateway, browser with
 * the reference web client, a controller client) per cmocka group, and the
 * reports the page sends back to the controller, with bounded waits on them.
 */
#ifndef OOCSI_IT_WEBREF_RIG_H
#define OOCSI_IT_WEBREF_RIG_H

#include "support.h"

#include <pthread.h>
#include <sys/types.h>

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

struct setup {
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
};
extern struct setup S;

/* ------------------------------------------------------------------ reports from the pages */

extern pthread_mutex_t rmu; /* guards reps */
extern cJSON **reps;
extern int nrep;

typedef struct match_ctx {
    const cJSON *pat;
    int count;
} match_ctx;

/** Number of reports matching pat; *last gets the index of the last (-1). */
int count_matching(const cJSON *pat, int *last);
int enough_matches(void *p); /* a match_ctx */
/** At least count reports matching the JSON pattern (printf-style) within ms;
 *  fails the test otherwise, showing the last reports. */
int wait_reports(int count, int ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int count_reports(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Reports of page that have key. */
int count_has(const char *page, const char *key);

/* ------------------------------------------------------------------ the setup */

void gateway_start(int port); /* on port (0: any), upstream S.up */
void java_start(void);
/** A C client of the upstream for one test (closed by its teardown). */
oocsi_client *peer(const char *prefix, char *handle, size_t size);
/** At the start of every test: the group's servers and browser, or a skip. */
void need_page(void);
int setup_gw_hub(void **state);
int setup_gw_java(void **state);
int setup_hub_ws(void **state);
int group_teardown(void **state);

/* ------------------------------------------------------------------ driving a page */

extern char last_id[64]; /* the id of the last command */
/** Sends page the command (JSON, printf-style, without the id) and waits for its acknowledgement. */
void cmd(const char *page, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** The page subscribes to ch. */
void page_sub(const char *page, const char *ch);
void run_cli(const char *const *args);

#endif
