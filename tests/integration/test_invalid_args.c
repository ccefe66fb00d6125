/*
 * Every OOCSI_ERR_INVAL (and every NULL returned for invalid arguments) is
 * explained: oocsi_last_error(NULL) names the function, the argument and the
 * rule it broke. Table-driven: each row is one call with one kind of invalid
 * argument, the expected return code and the words the detail must contain.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/codec.h"
#include "support.h"

/* What the calls of a table work on. */
typedef struct fixture {
    oocsi_options *o;   /* fresh options */
    oocsi_options *bad; /* options whose handle was refused */
    oocsi_client *c;    /* a caller-driven client */
    oocsi_client *out;  /* where oocsi_connect would put a client */
    oocsi_client *bg;   /* a client with its background thread running */
    oocsi_device *d;    /* a device of c */
    oocsi_device *dn;   /* a device without a client */
    oocsi_variable *v;  /* a variable of c */
    const oocsi_message *m;
    /* where a call would write its results (a row fails before that) */
    double dbl;
    int64_t i64;
    int flag;
    size_t n;
    char *text;
    cJSON *resp;
    /* set by the handler of message_getters_in_a_handler */
    const char *problem;
    int done;
} fixture;

static fixture fx;

typedef int (*call_fn)(fixture *f);

typedef struct bad_call {
    call_fn call;
    int rc;           /* expected return code */
    const char *fn;   /* the function the detail must name */
    const char *arg;  /* the argument it must name */
    const char *rule; /* more words it must contain, or NULL */
} bad_call;

/* One row's call: a function of the fixture returning the result as a code. */
#define CALL(id, expr)                                                                                                 \
    static int id(fixture *f)                                                                                          \
    {                                                                                                                  \
        (void)f;                                                                                                       \
        return (expr);                                                                                                 \
    }
/* Functions that return NULL (or NaN) for invalid arguments. */
#define NUL(p) ((p) ? OOCSI_OK : OOCSI_ERR_INVAL)

static void on_msg(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c, (void)m, (void)user;
}

static void on_call(oocsi_client *c, const oocsi_message *request, cJSON *response, void *user)
{
    (void)c, (void)request, (void)response, (void)user;
}

static void on_response(oocsi_client *c, const oocsi_message *response, void *user)
{
    (void)c, (void)response, (void)user;
}

/* Runs row b; NULL when it holds, else what went wrong (static text). */
static const char *check(const bad_call *b, fixture *f)
{
    static _Thread_local char why[1536];
    oocsi_fail(OOCSI_OK, "%s", "(nothing recorded)");
    int rc = b->call(f);
    const char *detail = oocsi_last_error(NULL);
    const char *words[] = {b->fn, b->arg, b->rule};
    if (rc != b->rc) {
        snprintf(why, sizeof why, "%s/%s: returned %d, expected %d (%s)", b->fn, b->arg, rc, b->rc, detail);
        return why;
    }
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (words[i] && !strstr(detail, words[i])) {
            snprintf(why, sizeof why, "%s/%s: expected \"%s\" in: %s", b->fn, b->arg, words[i], detail);
            return why;
        }
    return NULL;
}

static void run_table(const bad_call *rows, size_t n, fixture *f)
{
    for (size_t i = 0; i < n; i++) {
        const char *problem = check(&rows[i], f);
        if (problem)
            fail_msg("row %zu: %s", i, problem);
    }
}

#define RUN(rows) run_table(rows, sizeof rows / sizeof *rows, &fx)
#define INVAL OOCSI_ERR_INVAL

/* ------------------------------------------------------------- options */

CALL(h_opts, oocsi_options_set_handle(NULL, "x"))
CALL(h_space, oocsi_options_set_handle(f->o, "my lamp"))
CALL(ep_opts, oocsi_options_add_endpoint(NULL, "tcp://localhost"))
CALL(ep_null, oocsi_options_add_endpoint(f->o, NULL))
CALL(ep_bad, oocsi_options_add_endpoint(f->o, "tcp://[::1"))
CALL(mr_opts, oocsi_options_set_max_reconnect_attempts(NULL, 3))
CALL(lg_opts, oocsi_options_set_logger(NULL, NULL, NULL))
CALL(ll_opts, oocsi_options_set_log_level(NULL, OOCSI_LOG_INFO))
CALL(ll_range, oocsi_options_set_log_level(f->o, (oocsi_log_level)99))
CALL(dh_opts, oocsi_options_set_direct_handler(NULL, on_msg, NULL))
CALL(ca_opts, oocsi_options_set_tls_ca_file(NULL, "ca.pem"))
CALL(cc_opts, oocsi_options_set_tls_client_cert(NULL, "c.pem", "k.pem"))
CALL(cc_cert, oocsi_options_set_tls_client_cert(f->o, NULL, "k.pem"))
CALL(tv_opts, oocsi_options_set_tls_verify(NULL, 1))
CALL(ct_opts, oocsi_options_set_connect_timeout(NULL, 100))
CALL(ct_neg, oocsi_options_set_connect_timeout(f->o, -5))
CALL(sh_opts, oocsi_options_set_state_handler(NULL, NULL, NULL))
CALL(rd_opts, oocsi_options_set_reconnect_delay(NULL, 10, 100))
CALL(rd_init, oocsi_options_set_reconnect_delay(f->o, 0, 100))
CALL(rd_max, oocsi_options_set_reconnect_delay(f->o, 100, 50))
CALL(ka_opts, oocsi_options_set_keepalive(NULL, 10, 100))
CALL(ka_idle, oocsi_options_set_keepalive(f->o, 0, 100))
CALL(ka_timeout, oocsi_options_set_keepalive(f->o, 100, 100))
CALL(ml_opts, oocsi_options_set_max_line_length(NULL, 4096))
CALL(ml_small, oocsi_options_set_max_line_length(f->o, 10))
CALL(oq_opts, oocsi_options_set_offline_queue(NULL, 1, 1))
CALL(oq_count, oocsi_options_set_offline_queue(f->o, 0, 1))
CALL(oq_bytes, oocsi_options_set_offline_queue(f->o, 1, 0))
CALL(cn_out, oocsi_connect(NULL, f->o))
CALL(cn_opts, oocsi_connect(&f->out, NULL))
CALL(cn_handle, oocsi_connect(&f->out, f->bad))
CALL(ct_out, oocsi_connect_to(NULL, "x", it_url))
CALL(ct_handle, oocsi_connect_to(&f->out, "my lamp", it_url))
CALL(ct_server, oocsi_connect_to(&f->out, "inval_x", "tcp://"))

/* -------------------------------------------------------------- client */

static cJSON *array_value(void)
{
    static cJSON *a;
    if (!a)
        a = cJSON_CreateArray();
    return a;
}

static cJSON *object_value(void)
{
    static cJSON *o;
    if (!o)
        o = cJSON_CreateObject();
    return o;
}

/* oocsi_send_jsonf without its format attribute, to pass a NULL fmt */
static int (*const send_jsonf)(oocsi_client *, const char *, const char *, ...) = oocsi_send_jsonf;

CALL(s_c, oocsi_send(NULL, "ch", object_value()))
CALL(s_rnull, oocsi_send(f->c, NULL, object_value()))
CALL(s_rempty, oocsi_send(f->c, "", object_value()))
CALL(s_rspace, oocsi_send(f->c, "a b", object_value()))
CALL(s_dnull, oocsi_send(f->c, "ch", NULL))
CALL(s_darray, oocsi_send(f->c, "ch", array_value()))
CALL(sj_c, oocsi_send_json(NULL, "ch", "{}"))
CALL(sj_r, oocsi_send_json(f->c, "a\tb", "{}"))
CALL(sj_null, oocsi_send_json(f->c, "ch", NULL))
CALL(sj_bad, oocsi_send_json(f->c, "ch", "{\"a\":}"))
CALL(sj_array, oocsi_send_json(f->c, "ch", "[1,2]"))
CALL(sf_c, oocsi_send_jsonf(NULL, "ch", "{}"))
CALL(sf_r, oocsi_send_jsonf(f->c, NULL, "{}"))
CALL(sf_fmt, send_jsonf(f->c, "ch", NULL))
CALL(sf_num, oocsi_send_jsonf(f->c, "ch", "%d", 5))
CALL(sf_bad, oocsi_send_jsonf(f->c, "ch", "{\"a\":%d", 5))
CALL(sb_c, oocsi_subscribe(NULL, "ch", on_msg, NULL))
CALL(sb_ch, oocsi_subscribe(f->c, "a b", on_msg, NULL))
CALL(sb_fn, oocsi_subscribe(f->c, "ch", NULL, NULL))
CALL(at_c, oocsi_attach(NULL, "ch", on_msg, NULL))
CALL(at_ch, oocsi_attach(f->c, NULL, on_msg, NULL))
CALL(at_fn, oocsi_attach(f->c, "ch", NULL, NULL))
CALL(us_c, oocsi_unsubscribe(NULL, "ch"))
CALL(us_ch, oocsi_unsubscribe(f->c, ""))
CALL(uh_c, oocsi_unsubscribe_handler(NULL, "ch", on_msg, NULL))
CALL(uh_ch, oocsi_unsubscribe_handler(f->c, NULL, on_msg, NULL))
CALL(uh_fn, oocsi_unsubscribe_handler(f->c, "ch", NULL, NULL))
CALL(rg_c, oocsi_register(NULL, "ch", "x", on_call, NULL))
CALL(rg_ch, oocsi_register(f->c, "a b", "x", on_call, NULL))
CALL(rg_cn, oocsi_register(f->c, "ch", NULL, on_call, NULL))
CALL(rg_empty, oocsi_register(f->c, "ch", "", on_call, NULL))
CALL(rg_fn, oocsi_register(f->c, "ch", "x", NULL, NULL))
CALL(ur_c, oocsi_unregister(NULL, "ch", "x"))
CALL(ur_ch, oocsi_unregister(f->c, " ", "x"))
CALL(ur_cn, oocsi_unregister(f->c, "ch", NULL))
CALL(cl_fn, oocsi_call(f->c, "ch", "x", NULL, 100, NULL, NULL))
CALL(cl_c, oocsi_call(NULL, "ch", "x", NULL, 100, on_response, NULL))
CALL(cl_ch, oocsi_call(f->c, "a b", "x", NULL, 100, on_response, NULL))
CALL(cl_cn, oocsi_call(f->c, "ch", NULL, NULL, 100, on_response, NULL))
CALL(cl_to, oocsi_call(f->c, "ch", "x", NULL, -5, on_response, NULL))
CALL(cl_data, oocsi_call(f->c, "ch", "x", array_value(), 100, on_response, NULL))
CALL(cw_resp, oocsi_call_and_wait(f->c, "ch", "x", NULL, 100, NULL))
CALL(cw_c, oocsi_call_and_wait(NULL, "ch", "x", NULL, 100, &f->resp))
CALL(cw_cn, oocsi_call_and_wait(f->c, "ch", "", NULL, 100, &f->resp))
CALL(cw_to, oocsi_call_and_wait(f->c, "ch", "x", NULL, 0, &f->resp))
CALL(q_c, oocsi_channels(NULL, 100, &f->text))
CALL(q_out, oocsi_channels(f->c, 100, NULL))
CALL(q_to, oocsi_channels(f->c, -1, &f->text))
CALL(qs_c, oocsi_channel_subscribers(NULL, "ch", 100, &f->text))
CALL(qs_ch, oocsi_channel_subscribers(f->c, "a b", 100, &f->text))
CALL(qc_to, oocsi_clients(f->c, 0, &f->text))
CALL(lp_c, oocsi_loop(NULL, 0))
CALL(lp_bg, oocsi_loop(f->bg, 0))
CALL(ls_c, oocsi_loop_start(NULL))
CALL(ls_twice, oocsi_loop_start(f->bg))
CALL(lt_c, oocsi_loop_stop(NULL))
CALL(lt_none, oocsi_loop_stop(f->c))
CALL(rn_c, oocsi_run(NULL))

/* ----------------------------------------------- devices and variables */

CALL(dv_none, NUL(oocsi_device_new(NULL, NULL)))
CALL(dv_empty, NUL(oocsi_device_new(NULL, "")))
CALL(pr_d, oocsi_device_add_property(NULL, "k", "v"))
CALL(pr_key, oocsi_device_add_property(f->d, NULL, "v"))
CALL(pr_kempty, oocsi_device_add_property(f->d, "", "v"))
CALL(pr_val, oocsi_device_add_property(f->d, "k", NULL))
CALL(lo_d, oocsi_device_add_location(NULL, "home", 1, 2))
CALL(lo_name, oocsi_device_add_location(f->d, NULL, 1, 2))
CALL(lo_lat, oocsi_device_add_location(f->d, "home", NAN, 2))
CALL(lo_lon, oocsi_device_add_location(f->d, "home", 1, INFINITY))
CALL(se_d, oocsi_device_add_sensor(NULL, "s", "ch", "temperature", "C", 0, NULL))
CALL(se_name, oocsi_device_add_sensor(f->d, NULL, "ch", "temperature", "C", 0, NULL))
CALL(se_ch, oocsi_device_add_sensor(f->d, "s", "a b", "temperature", "C", 0, NULL))
CALL(se_type, oocsi_device_add_sensor(f->d, "s", "ch", NULL, "C", 0, NULL))
CALL(se_val, oocsi_device_add_sensor(f->d, "s", "ch", "temperature", "C", NAN, NULL))
CALL(nu_min, oocsi_device_add_number(f->d, "n", "ch", NAN, 1, "", 0, NULL))
CALL(nu_max, oocsi_device_add_number(f->d, "n", "ch", 0, INFINITY, "", 0, NULL))
CALL(nu_order, oocsi_device_add_number(f->d, "n", "ch", 5, 1, "", 0, NULL))
CALL(nu_val, oocsi_device_add_number(f->d, "n", "ch", 0, 1, "", NAN, NULL))
CALL(bs_type, oocsi_device_add_binary_sensor(f->d, "b", "ch", NULL, 0, NULL))
CALL(sw_ch, oocsi_device_add_switch(f->d, "w", "", 0, NULL))
CALL(li_led, oocsi_device_add_light(f->d, "l", "ch", "RGBX", "RGB", 0, 10, NULL))
CALL(li_lnull, oocsi_device_add_light(f->d, "l", "ch", NULL, "RGB", 0, 10, NULL))
CALL(li_spec, oocsi_device_add_light(f->d, "l", "ch", "RGB", "UV", 0, 10, NULL))
CALL(li_bright, oocsi_device_add_light(f->d, "l", "ch", "RGB", "RGB", 0, -1, NULL))
CALL(tj_d, NUL(oocsi_device_to_json(NULL)))
CALL(sm_d, oocsi_device_submit(NULL))
CALL(sm_noc, oocsi_device_submit(f->dn))
CALL(vn_c, NUL(oocsi_variable_new(NULL, "ch", "k")))
CALL(vn_ch, NUL(oocsi_variable_new(f->c, NULL, "k")))
CALL(vn_space, NUL(oocsi_variable_new(f->c, "a b", "k")))
CALL(vn_key, NUL(oocsi_variable_new(f->c, "ch", "")))
CALL(vs_v, oocsi_variable_set(NULL, 1))
CALL(vs_val, oocsi_variable_set(f->v, NAN))
CALL(vmin, oocsi_variable_min(f->v, NAN))
CALL(vmax, oocsi_variable_max(NULL, 1))
CALL(vsm_win, oocsi_variable_smooth(f->v, 0, 1))
CALL(vsm_sig, oocsi_variable_smooth(f->v, 3, NAN))
CALL(vss, oocsi_variable_set_string(f->v, NULL))
CALL(vg, isnan(oocsi_variable_get(NULL)) ? INVAL : OOCSI_OK)
CALL(vgs, NUL(oocsi_variable_get_string(NULL)))
CALL(vds, NUL(oocsi_variable_dup_string(NULL)))

static const bad_call bad_calls[] = {
    /* options and connecting */
    {h_opts, INVAL, "oocsi_options_set_handle", "opts", "is NULL"},
    {h_space, INVAL, "oocsi_options_set_handle", "\"my lamp\"", "whitespace"},
    {ep_opts, INVAL, "oocsi_options_add_endpoint", "opts", "is NULL"},
    {ep_null, INVAL, "oocsi_options_add_endpoint", "url", "is NULL"},
    {ep_bad, INVAL, "oocsi_options_add_endpoint", "url", "tcp://[::1"},
    {mr_opts, INVAL, "oocsi_options_set_max_reconnect_attempts", "opts", "is NULL"},
    {lg_opts, INVAL, "oocsi_options_set_logger", "opts", "is NULL"},
    {ll_opts, INVAL, "oocsi_options_set_log_level", "opts", "is NULL"},
    {ll_range, INVAL, "oocsi_options_set_log_level", "level", "(got 99)"},
    {dh_opts, INVAL, "oocsi_options_set_direct_handler", "opts", "is NULL"},
    {ca_opts, INVAL, "oocsi_options_set_tls_ca_file", "opts", "is NULL"},
    {cc_opts, INVAL, "oocsi_options_set_tls_client_cert", "opts", "is NULL"},
    {cc_cert, INVAL, "oocsi_options_set_tls_client_cert", "cert_pem_path", "key_pem_path"},
    {tv_opts, INVAL, "oocsi_options_set_tls_verify", "opts", "is NULL"},
    {ct_opts, INVAL, "oocsi_options_set_connect_timeout", "opts", "is NULL"},
    {ct_neg, INVAL, "oocsi_options_set_connect_timeout", "timeout_ms", "must be > 0 (got -5)"},
    {sh_opts, INVAL, "oocsi_options_set_state_handler", "opts", "is NULL"},
    {rd_opts, INVAL, "oocsi_options_set_reconnect_delay", "opts", "is NULL"},
    {rd_init, INVAL, "oocsi_options_set_reconnect_delay", "initial_ms", "must be > 0 (got 0)"},
    {rd_max, INVAL, "oocsi_options_set_reconnect_delay", "max_ms", "must be >= initial_ms"},
    {ka_opts, INVAL, "oocsi_options_set_keepalive", "opts", "is NULL"},
    {ka_idle, INVAL, "oocsi_options_set_keepalive", "idle_ms", "must be > 0 (got 0)"},
    {ka_timeout, INVAL, "oocsi_options_set_keepalive", "timeout_ms", "must be > idle_ms"},
    {ml_opts, INVAL, "oocsi_options_set_max_line_length", "opts", "is NULL"},
    {ml_small, INVAL, "oocsi_options_set_max_line_length", "bytes", "must be >= 1024 (got 10)"},
    {oq_opts, INVAL, "oocsi_options_set_offline_queue", "opts", "is NULL"},
    {oq_count, INVAL, "oocsi_options_set_offline_queue", "max_messages", "must be > 0"},
    {oq_bytes, INVAL, "oocsi_options_set_offline_queue", "max_bytes", "must be > 0"},
    {cn_out, INVAL, "oocsi_connect", "out", "is NULL"},
    {cn_opts, INVAL, "oocsi_connect", "opts", "is NULL"},
    {cn_handle, INVAL, "oocsi_connect", "handle \"my lamp\"", "refused"},
    {ct_out, INVAL, "oocsi_connect_to", "out", "is NULL"},
    {ct_handle, INVAL, "oocsi_connect_to", "handle", "\"my lamp\""},
    {ct_server, INVAL, "oocsi_connect_to", "server", "\"tcp://\""},
    /* the client: sending, subscribing, calls, queries, the loop */
    {s_c, INVAL, "oocsi_send", "c", "is NULL"},
    {s_rnull, INVAL, "oocsi_send", "recipient", "is NULL"},
    {s_rempty, INVAL, "oocsi_send", "recipient", "is empty"},
    {s_rspace, INVAL, "oocsi_send", "recipient \"a b\"", "contains a space"},
    {s_dnull, INVAL, "oocsi_send", "data", "must be a JSON object (got NULL)"},
    {s_darray, INVAL, "oocsi_send", "data", "must be a JSON object (got an array)"},
    {sj_c, INVAL, "oocsi_send_json", "c", "is NULL"},
    {sj_r, INVAL, "oocsi_send_json", "recipient", "control character"},
    {sj_null, INVAL, "oocsi_send_json", "json_object", "is NULL"},
    {sj_bad, INVAL, "oocsi_send_json", "json_object", "is not valid JSON (error near: }"},
    {sj_array, INVAL, "oocsi_send_json", "json_object", "must be a JSON object (got an array)"},
    {sf_c, INVAL, "oocsi_send_jsonf", "c", "is NULL"},
    {sf_r, INVAL, "oocsi_send_jsonf", "recipient", "is NULL"},
    {sf_fmt, INVAL, "oocsi_send_jsonf", "fmt", "is NULL"},
    {sf_num, INVAL, "oocsi_send_jsonf", "formatted text", "must be a JSON object (got a number)"},
    {sf_bad, INVAL, "oocsi_send_jsonf", "formatted text", "is not valid JSON"},
    {sb_c, INVAL, "oocsi_subscribe", "c", "is NULL"},
    {sb_ch, INVAL, "oocsi_subscribe", "channel", "contains a space"},
    {sb_fn, INVAL, "oocsi_subscribe", "fn", "is NULL"},
    {at_c, INVAL, "oocsi_attach", "c", "is NULL"},
    {at_ch, INVAL, "oocsi_attach", "channel", "is NULL"},
    {at_fn, INVAL, "oocsi_attach", "fn", "is NULL"},
    {us_c, INVAL, "oocsi_unsubscribe", "c", "is NULL"},
    {us_ch, INVAL, "oocsi_unsubscribe", "channel", "is empty"},
    {uh_c, INVAL, "oocsi_unsubscribe_handler", "c", "is NULL"},
    {uh_ch, INVAL, "oocsi_unsubscribe_handler", "channel", "is NULL"},
    {uh_fn, INVAL, "oocsi_unsubscribe_handler", "fn", "is NULL"},
    {rg_c, INVAL, "oocsi_register", "c", "is NULL"},
    {rg_ch, INVAL, "oocsi_register", "channel", "contains a space"},
    {rg_cn, INVAL, "oocsi_register", "call_name", "is NULL"},
    {rg_empty, INVAL, "oocsi_register", "call_name", "is empty"},
    {rg_fn, INVAL, "oocsi_register", "fn", "is NULL"},
    {ur_c, INVAL, "oocsi_unregister", "c", "is NULL"},
    {ur_ch, INVAL, "oocsi_unregister", "channel", "contains a space"},
    {ur_cn, INVAL, "oocsi_unregister", "call_name", "is NULL"},
    {cl_fn, INVAL, "oocsi_call", "fn", "is NULL"},
    {cl_c, INVAL, "oocsi_call", "c", "is NULL"},
    {cl_ch, INVAL, "oocsi_call", "channel", "contains a space"},
    {cl_cn, INVAL, "oocsi_call", "call_name", "is NULL"},
    {cl_to, INVAL, "oocsi_call", "timeout_ms", "must be > 0 (got -5)"},
    {cl_data, INVAL, "oocsi_call", "data", "must be a JSON object or NULL (got an array)"},
    {cw_resp, INVAL, "oocsi_call_and_wait", "response", "is NULL"},
    {cw_c, INVAL, "oocsi_call_and_wait", "c", "is NULL"},
    {cw_cn, INVAL, "oocsi_call_and_wait", "call_name", "is empty"},
    {cw_to, INVAL, "oocsi_call_and_wait", "timeout_ms", "must be > 0 (got 0)"},
    {q_c, INVAL, "oocsi_channels", "c", "is NULL"},
    {q_out, INVAL, "oocsi_channels", "out", "is NULL"},
    {q_to, INVAL, "oocsi_channels", "timeout_ms", "must be > 0 (got -1)"},
    {qs_c, INVAL, "oocsi_channel_subscribers", "c", "is NULL"},
    {qs_ch, INVAL, "oocsi_channel_subscribers", "channel", "contains a space"},
    {qc_to, INVAL, "oocsi_clients", "timeout_ms", "must be > 0 (got 0)"},
    {lp_c, INVAL, "oocsi_loop", "c", "is NULL"},
    {lp_bg, INVAL, "oocsi_loop", "background thread is running", "call oocsi_loop_stop() first"},
    {ls_c, INVAL, "oocsi_loop_start", "c", "is NULL"},
    {ls_twice, INVAL, "oocsi_loop_start", "c", "already running"},
    {lt_c, INVAL, "oocsi_loop_stop", "c", "is NULL"},
    {lt_none, INVAL, "oocsi_loop_stop", "c", "no background thread is running"},
    {rn_c, INVAL, "oocsi_run", "c", "is NULL"},
    /* devices and variables */
    {dv_none, INVAL, "oocsi_device_new", "name", "is NULL"},
    {dv_empty, INVAL, "oocsi_device_new", "name", "is empty"},
    {pr_d, INVAL, "oocsi_device_add_property", "d", "is NULL"},
    {pr_key, INVAL, "oocsi_device_add_property", "key", "is NULL"},
    {pr_kempty, INVAL, "oocsi_device_add_property", "key", "is empty"},
    {pr_val, INVAL, "oocsi_device_add_property", "value", "is NULL"},
    {lo_d, INVAL, "oocsi_device_add_location", "d", "is NULL"},
    {lo_name, INVAL, "oocsi_device_add_location", "name", "is NULL"},
    {lo_lat, INVAL, "oocsi_device_add_location", "lat", "must be a finite number"},
    {lo_lon, INVAL, "oocsi_device_add_location", "lon", "must be a finite number"},
    {se_d, INVAL, "oocsi_device_add_sensor", "d", "is NULL"},
    {se_name, INVAL, "oocsi_device_add_sensor", "name", "is NULL"},
    {se_ch, INVAL, "oocsi_device_add_sensor", "channel \"a b\"", "contains a space"},
    {se_type, INVAL, "oocsi_device_add_sensor", "sensor_type", "is NULL"},
    {se_val, INVAL, "oocsi_device_add_sensor", "default_value", "must be a finite number"},
    {nu_min, INVAL, "oocsi_device_add_number", "min", "must be a finite number"},
    {nu_max, INVAL, "oocsi_device_add_number", "max", "must be a finite number"},
    {nu_order, INVAL, "oocsi_device_add_number", "min", "must be <= max (got 5 > 1)"},
    {nu_val, INVAL, "oocsi_device_add_number", "default_value", "must be a finite number"},
    {bs_type, INVAL, "oocsi_device_add_binary_sensor", "sensor_type", "is NULL"},
    {sw_ch, INVAL, "oocsi_device_add_switch", "channel", "is empty"},
    {li_led, INVAL, "oocsi_device_add_light", "led_type \"RGBX\"", "is not one of RGB, RGBW"},
    {li_lnull, INVAL, "oocsi_device_add_light", "led_type", "is NULL"},
    {li_spec, INVAL, "oocsi_device_add_light", "spectrum \"UV\"", "is not one of CCT, WHITE, RGB"},
    {li_bright, INVAL, "oocsi_device_add_light", "default_brightness", "must be >= 0 (got -1)"},
    {tj_d, INVAL, "oocsi_device_to_json", "d", "is NULL"},
    {sm_d, INVAL, "oocsi_device_submit", "d", "is NULL"},
    {sm_noc, INVAL, "oocsi_device_submit", "d", "has no client"},
    {vn_c, INVAL, "oocsi_variable_new", "c", "is NULL"},
    {vn_ch, INVAL, "oocsi_variable_new", "channel", "is NULL"},
    {vn_space, INVAL, "oocsi_variable_new", "channel \"a b\"", "contains a space"},
    {vn_key, INVAL, "oocsi_variable_new", "key", "is empty"},
    {vs_v, INVAL, "oocsi_variable_set", "v", "is NULL"},
    {vs_val, INVAL, "oocsi_variable_set", "value", "must be a finite number"},
    {vmin, INVAL, "oocsi_variable_min", "min", "is NaN"},
    {vmax, INVAL, "oocsi_variable_max", "v", "is NULL"},
    {vsm_win, INVAL, "oocsi_variable_smooth", "window", "must be >= 1 (got 0)"},
    {vsm_sig, INVAL, "oocsi_variable_smooth", "sigma", "is NaN"},
    {vss, INVAL, "oocsi_variable_set_string", "value", "is NULL"},
    {vg, INVAL, "oocsi_variable_get", "v", "is NULL"},
    {vgs, INVAL, "oocsi_variable_get_string", "v", "is NULL"},
    {vds, INVAL, "oocsi_variable_dup_string", "v", "is NULL"},
};

static void every_public_function(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "inval_var");
    memset(&fx, 0, sizeof fx);
    fx.o = oocsi_options_new();
    fx.bad = oocsi_options_new();
    fx.c = it_connect(NULL);
    fx.bg = it_connect_bg(NULL);
    fx.d = oocsi_device_new(fx.c, "inval_device");
    fx.dn = oocsi_device_new(NULL, "inval_lamp");
    fx.v = oocsi_variable_new(fx.c, ch, "x");
    assert_true(fx.o && fx.bad && fx.d && fx.dn && fx.v);
    assert_int_equal(oocsi_options_set_handle(fx.bad, "my lamp"), OOCSI_ERR_INVAL);
    RUN(bad_calls);
    assert_null(fx.out);  /* no connect made a client */
    assert_null(fx.text); /* no query wrote its out */
    assert_null(fx.resp); /* no call wrote its response */
    oocsi_variable_free(fx.v);
    oocsi_device_free(fx.d);
    oocsi_device_free(fx.dn);
    oocsi_options_free(fx.o);
    oocsi_options_free(fx.bad);
    cJSON_Delete(array_value());
    cJSON_Delete(object_value());
}

/* ------------------------------------------- messages, in a handler */

CALL(gd_m, oocsi_message_get_double(NULL, "k", &f->dbl))
CALL(gd_key, oocsi_message_get_double(f->m, NULL, &f->dbl))
CALL(gd_out, oocsi_message_get_double(f->m, "k", NULL))
CALL(gi_m, oocsi_message_get_int(NULL, "k", &f->i64))
CALL(gi_key, oocsi_message_get_int(f->m, NULL, &f->i64))
CALL(gi_out, oocsi_message_get_int(f->m, "k", NULL))
CALL(gb_m, oocsi_message_get_bool(NULL, "k", &f->flag))
CALL(gb_key, oocsi_message_get_bool(f->m, NULL, &f->flag))
CALL(gb_out, oocsi_message_get_bool(f->m, "k", NULL))
CALL(gs_m, NUL(oocsi_message_get_string(NULL, "k")))
CALL(gs_key, NUL(oocsi_message_get_string(f->m, NULL)))
CALL(dj_m, NUL(oocsi_message_data_json(NULL)))
CALL(ga_m, oocsi_message_get_int_array(NULL, "k", NULL, 0, &f->n))
CALL(ga_count, oocsi_message_get_double_array(f->m, "k", NULL, 0, NULL))
CALL(ga_out, oocsi_message_get_string_array(f->m, "k", NULL, 2, &f->n))
CALL(lt_self, oocsi_loop_stop(f->bg))

static const bad_call message_rows[] = {
    {gd_m, INVAL, "oocsi_message_get_double", "m", "is NULL"},
    {gd_key, INVAL, "oocsi_message_get_double", "key", "is NULL"},
    {gd_out, INVAL, "oocsi_message_get_double", "out", "is NULL"},
    {gi_m, INVAL, "oocsi_message_get_int", "m", "is NULL"},
    {gi_key, INVAL, "oocsi_message_get_int", "key", "is NULL"},
    {gi_out, INVAL, "oocsi_message_get_int", "out", "is NULL"},
    {gb_m, INVAL, "oocsi_message_get_bool", "m", "is NULL"},
    {gb_key, INVAL, "oocsi_message_get_bool", "key", "is NULL"},
    {gb_out, INVAL, "oocsi_message_get_bool", "out", "is NULL"},
    {gs_m, INVAL, "oocsi_message_get_string", "m", "is NULL"},
    {gs_key, INVAL, "oocsi_message_get_string", "key", "is NULL"},
    {dj_m, INVAL, "oocsi_message_data_json", "m", "is NULL"},
    {ga_m, INVAL, "oocsi_message_get_int_array", "m", "is NULL"},
    {ga_count, INVAL, "oocsi_message_get_double_array", "count", "is NULL"},
    {ga_out, INVAL, "oocsi_message_get_string_array", "out", "is NULL with max 2"},
    {lt_self, INVAL, "oocsi_loop_stop", "c", "called from the background thread itself"},
};

/* Runs message_rows on the background thread, with a message to read. */
static void check_in_handler(oocsi_client *c, const oocsi_message *m, void *user)
{
    fixture *f = user;
    (void)c;
    f->m = m;
    const char *problem = NULL;
    for (size_t i = 0; !problem && i < sizeof message_rows / sizeof *message_rows; i++)
        problem = check(&message_rows[i], f);
    f->problem = problem ? strdup(problem) : NULL;
    f->m = NULL;
    __atomic_store_n(&f->done, 1, __ATOMIC_SEQ_CST);
    it_notify();
}

static int handled(void *ctx)
{
    return __atomic_load_n(&((fixture *)ctx)->done, __ATOMIC_SEQ_CST) == 1;
}

static void message_getters_in_a_handler(void **state)
{
    (void)state;
    char ch[64];
    it_unique(ch, sizeof ch, "inval_msg");
    memset(&fx, 0, sizeof fx);
    fx.bg = it_connect_bg(NULL);
    oocsi_client *sender = it_connect(NULL);
    assert_int_equal(oocsi_subscribe(fx.bg, ch, check_in_handler, &fx), OOCSI_OK);
    assert_int_equal(oocsi_send_json(sender, ch, "{\"k\":1}"), OOCSI_OK);
    assert_true(it_wait_until(handled, &fx, IT_TIMEOUT));
    char *problem = (char *)fx.problem;
    if (problem) {
        print_error("%s\n", problem);
        free(problem);
        fail();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(every_public_function),
        IT_TEST(message_getters_in_a_handler),
    };
    return cmocka_run_group_tests_name("invalid_args", tests, it_group_setup, it_group_teardown);
}
