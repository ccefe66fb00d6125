/*
 * Integration: thread-safety stress. Several threads send, subscribe,
 * unsubscribe, call (blocking and not), set variables and open/close their
 * own clients, all at once, while the shared client's loop thread receives
 * and the hub drops it twice (reconnects). Must finish in bounded time, with
 * no crash, no deadlock, no duplicated or reordered message per sender, and
 * the client alive at the end. Run under ThreadSanitizer in CI.
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define WORKERS 4
#define OPS 300

typedef struct shared {
    oocsi_client *c; /* the client every worker shares */
    char handle[64];
    char data_ch[64];   /* sends go here; the observer checks order */
    char sub_ch[8][80]; /* subscribe/unsubscribe churn */
    char call_ch[64];   /* the peer answers "echo" here */
    oocsi_variable *var;
    pthread_mutex_t lock;
    int async_done, async_nulls;
    int errors; /* results no operation may give */
    char first_error[160];
} shared;

typedef struct worker {
    shared *sh;
    int id;
    int sent;
} worker;

static void note_error(shared *sh, const char *op, int rc)
{
    pthread_mutex_lock(&sh->lock);
    if (!sh->errors++)
        snprintf(sh->first_error, sizeof sh->first_error, "%s: %d (%s)", op, rc, oocsi_strerror(rc));
    pthread_mutex_unlock(&sh->lock);
}

static void churn_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)m;
    (void)user;
}

static void async_result(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    shared *sh = user;
    pthread_mutex_lock(&sh->lock);
    sh->async_done++;
    if (!m)
        sh->async_nulls++;
    pthread_mutex_unlock(&sh->lock);
}

static void echo(oocsi_client *c, const oocsi_message *req, cJSON *resp, void *user)
{
    (void)c;
    (void)req;
    (void)user;
    cJSON_AddBoolToObject(resp, "echoed", 1);
}

static void *work(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    unsigned seed = (unsigned)w->id * 2654435761u + 1;
    for (int i = 0; i < OPS; i++) {
        seed = seed * 1103515245u + 12345u;
        int op = (int)((seed >> 16) % 10);
        int rc = OOCSI_OK;
        char json[96];
        switch (op) {
        case 0:
        case 1:
        case 2: /* ordered sends */
            snprintf(json, sizeof json, "{\"w\":%d,\"seq\":%d}", w->id, w->sent);
            rc = oocsi_send_json(sh->c, sh->data_ch, json);
            if (rc == OOCSI_OK)
                w->sent++;
            else
                note_error(sh, "send", rc);
            break;
        case 3:
            rc = oocsi_subscribe(sh->c, sh->sub_ch[(seed >> 8) % 8], churn_handler, w);
            if (rc != OOCSI_OK && rc != OOCSI_ERR_TIMEOUT)
                note_error(sh, "subscribe", rc);
            break;
        case 4:
            rc = oocsi_unsubscribe(sh->c, sh->sub_ch[(seed >> 8) % 8]);
            if (rc != OOCSI_OK)
                note_error(sh, "unsubscribe", rc);
            break;
        case 5: {
            cJSON *resp = NULL;
            rc = oocsi_call_and_wait(sh->c, sh->call_ch, "echo", NULL, 3000, &resp);
            /* A call can time out while the client reconnects. */
            if (rc == OOCSI_OK && !cJSON_IsTrue(cJSON_GetObjectItem(resp, "echoed")))
                note_error(sh, "call_and_wait answer", OOCSI_ERR_PROTOCOL);
            else if (rc != OOCSI_OK && rc != OOCSI_ERR_TIMEOUT)
                note_error(sh, "call_and_wait", rc);
            cJSON_Delete(resp);
            break;
        }
        case 6:
            rc = oocsi_call(sh->c, sh->call_ch, "echo", NULL, 3000, async_result, sh);
            if (rc != OOCSI_OK)
                note_error(sh, "call", rc);
            break;
        case 7:
            rc = oocsi_variable_set(sh->var, (double)(seed % 100));
            if (rc != OOCSI_OK)
                note_error(sh, "variable_set", rc);
            (void)oocsi_variable_get(sh->var);
            break;
        case 8: { /* a short-lived client of this thread's own */
            oocsi_options *o = it_options(NULL);
            oocsi_client *own = NULL;
            rc = oocsi_connect(&own, o);
            oocsi_options_free(o);
            if (rc == OOCSI_OK) {
                rc = oocsi_send_json(own, sh->sub_ch[0], "{\"hi\":1}");
                oocsi_close(own);
            }
            if (rc != OOCSI_OK)
                note_error(sh, "own client", rc);
            break;
        }
        default: /* the loop runs on its thread: reading state is safe */
            (void)oocsi_is_connected(sh->c);
            (void)oocsi_endpoint(sh->c);
            break;
        }
    }
    return NULL;
}

/* Per worker: sequence numbers must arrive increasing, without repeats. */
typedef struct order {
    pthread_mutex_t lock;
    int last[WORKERS];
    int got[WORKERS];
    int bad;
} order;

static void observe(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    order *o = user;
    int64_t w = -1, seq = -1;
    if (oocsi_message_get_int(m, "w", &w) != OOCSI_OK || oocsi_message_get_int(m, "seq", &seq) != OOCSI_OK || w < 0 ||
        w >= WORKERS)
        return;
    pthread_mutex_lock(&o->lock);
    if (seq <= o->last[w])
        o->bad++;
    o->last[w] = (int)seq;
    o->got[w]++;
    pthread_mutex_unlock(&o->lock);
    it_notify();
}

typedef struct final_wait {
    order *o;
    worker *ws;
} final_wait;

static int all_last_seen(void *p)
{
    final_wait *f = p;
    pthread_mutex_lock(&f->o->lock);
    int ok = 1;
    for (int i = 0; i < WORKERS; i++)
        if (f->o->last[i] != f->ws[i].sent - 1)
            ok = 0;
    pthread_mutex_unlock(&f->o->lock);
    return ok;
}

static void test_everything_at_once(void **state)
{
    (void)state;
    static shared sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.lock, NULL);
    it_unique(sh.handle, sizeof sh.handle, "stressed");
    it_unique(sh.data_ch, sizeof sh.data_ch, "stress_data");
    it_unique(sh.call_ch, sizeof sh.call_ch, "stress_call");
    for (int i = 0; i < 8; i++)
        snprintf(sh.sub_ch[i], sizeof sh.sub_ch[i], "%s_%d", sh.data_ch, i);

    static order ord;
    memset(&ord, 0, sizeof ord);
    pthread_mutex_init(&ord.lock, NULL);
    for (int i = 0; i < WORKERS; i++)
        ord.last[i] = -1;
    oocsi_client *peer = it_connect_bg(NULL);
    assert_int_equal(oocsi_subscribe(peer, sh.data_ch, observe, &ord), OOCSI_OK);
    assert_int_equal(oocsi_register(peer, sh.call_ch, "echo", echo, NULL), OOCSI_OK);

    it_states *st = it_states_new();
    oocsi_options *o = it_options(sh.handle);
    assert_int_equal(oocsi_options_set_state_handler(o, it_state_handler, st), OOCSI_OK);
    sh.c = it_connect_opts(o);
    it_loop_start(sh.c);
    assert_int_equal(it_states_settle(st), 1);
    sh.var = oocsi_variable_new(sh.c, sh.data_ch, "v");
    assert_non_null(sh.var);

    worker ws[WORKERS];
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        ws[i].sh = &sh;
        ws[i].id = i;
        ws[i].sent = 0;
        assert_int_equal(pthread_create(&th[i], NULL, work, &ws[i]), 0);
    }
    /* Two drops while the workers run; each is followed by a reconnect. */
    int next = 1;
    for (int d = 0; d < 2; d++) {
        assert_int_equal(oocsi_hub_wait_client(it_hub, sh.handle, IT_TIMEOUT), 1);
        oocsi_hub_drop_client(it_hub, sh.handle);
        int off = it_states_wait_for(st, next, OOCSI_STATE_OFFLINE, IT_TIMEOUT);
        assert_true(off >= next);
        int on = it_states_wait_for(st, off + 1, OOCSI_STATE_CONNECTED, 3 * IT_TIMEOUT);
        assert_true(on > off);
        next = on + 1;
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);

    /* Every worker's last message arrives (the client is alive), and what
     * arrived came in order without repeats. */
    final_wait fw = {&ord, ws};
    int complete = it_wait_until(all_last_seen, &fw, 3 * IT_TIMEOUT);
    oocsi_variable_free(sh.var);
    it_close(sh.c);
    it_close(peer);
    if (sh.errors)
        fail_msg("%d operation(s) failed; first: %s", sh.errors, sh.first_error);
    assert_int_equal(ord.bad, 0);
    if (!complete)
        fail_msg("the last message of some worker never arrived");
    int total = 0;
    for (int i = 0; i < WORKERS; i++)
        total += ord.got[i];
    print_message("stress: %d ordered messages received, %d async calls finished (%d without answer)\n", total,
                  sh.async_done, sh.async_nulls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_everything_at_once),
    };
    return cmocka_run_group_tests_name("integration.stress_threads", tests, it_group_setup, it_group_teardown);
}
