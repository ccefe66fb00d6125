/*
 * Variables and heyOOCSI devices against the reference clients, through the
 * reference Java server: the Java peer (InteropPeer.java, one JVM) makes typed
 * OOCSIVariables and an OOCSIDevice, the Python peer (peer.py) makes
 * reference OOCSIVariables and sends Home Assistant's commands with the
 * client Home Assistant's integration uses. Both take commands as messages on
 * their PREFIX_in channel and print what they see as JSON lines.
 *
 *  - typed Java variables (boolean, int, long, float, double, string) on the
 *    channel and key of a C variable agree with it both ways, in both modes;
 *  - Java mode as a Java peer sees it: the filtered value is published, the
 *    sigma rule follows clamping, the reference value comes back after the
 *    timeout on both sides;
 *  - Python mode as a Python peer sees it: the raw value is published, each
 *    side filters with its own bounds, smoothing and sigma agree;
 *  - a C device's announcement has the Java OOCSIDevice's structure, key by
 *    key; its value updates have the Java device's shape and reach a Python
 *    client; Home Assistant's commands (state, value, brightness, colour,
 *    colour temperature, heyOOCSI?) reach its callback and its description.
 */
#include "interop.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6

typedef struct peer {
    const char *lang; /* "java" or "python" */
    io_ref_peer r;
} peer;

static peer java, python;
static oocsi_client *ctl; /* sends the peers their commands */

/* ------------------------------------------------------------ the peers */

/* The peer, started on first use and kept for the program; skips the test
 * when the server or the peer's tools are missing. */
static io_peer *use(peer *pr)
{
    io_peer *p = io_ref_peer_use(&pr->r);
    if (!ctl)
        ctl = io_client("io_feat_ctl");
    return p;
}

/* Sends the peer a command (JSON object text, printf-style). */
static void cmd(peer *pr, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    io_send(ctl, pr->r.in, text);
}

/* The peer's next event of kind whose "name" is name (any when NULL). */
static cJSON *event_named(peer *pr, const char *kind, const char *name)
{
    for (;;) {
        cJSON *ev = io_peer_event(&pr->r.p, kind, IT_TIMEOUT * 3);
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(ev, "name");
        if (!name || (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0))
            return ev;
        cJSON_Delete(ev);
    }
}

static void expect(peer *pr, const char *kind, const char *name)
{
    cJSON_Delete(event_named(pr, kind, name));
}

/* Waits until the server lists handle among channel's subscribers (the
 * reference clients subscribe without waiting for the server). */
static void wait_subscribed(const char *channel, const char *handle)
{
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 3;;) {
        char *list = NULL;
        int rc = oocsi_channel_subscribers(ctl, channel, IT_TIMEOUT, &list);
        int has = rc == OOCSI_OK && io_list_has(list, handle);
        oocsi_free(list);
        if (has)
            return;
        if (it_now_ms() > until)
            fail_msg("%s did not subscribe to %s", handle, channel);
    }
}

/* A Java or Python variable: vdef with the extra fields (",\"min\":3"...). */
static void peer_var(peer *pr, const char *name, const char *type, const char *channel, const char *key,
                     const char *extra)
{
    cmd(pr, "{\"cmd\":\"vdef\",\"name\":\"%s\",\"type\":\"%s\",\"channel\":\"%s\",\"key\":\"%s\"%s}", name, type,
        channel, key, extra ? extra : "");
    expect(pr, "vdef", name);
    wait_subscribed(channel, pr->r.handle);
}

/* The value of the peer's next vchange (Java: after an update from the
 * network) or of vget, as a cJSON item in *out (free the returned event). */
static cJSON *peer_value(peer *pr, const char *kind, const char *name, const cJSON **out)
{
    if (strcmp(kind, "vget") == 0)
        cmd(pr, "{\"cmd\":\"vget\",\"name\":\"%s\"}", name);
    cJSON *ev = event_named(pr, kind, name);
    *out = cJSON_GetObjectItemCaseSensitive(ev, "value");
    return ev;
}

static double peer_number(peer *pr, const char *kind, const char *name)
{
    const cJSON *v;
    cJSON *ev = peer_value(pr, kind, name, &v);
    if (!cJSON_IsNumber(v))
        fail_msg("%s: no number for %s", kind, name);
    double d = v->valuedouble;
    cJSON_Delete(ev);
    return d;
}

/* Asks vget until the peer's variable reads want (the Python client applies
 * updates on its reader thread). */
static void peer_reads(peer *pr, const char *name, double want)
{
    double got = NAN;
    for (int64_t until = it_now_ms() + IT_TIMEOUT * 3; !(fabs(got - want) <= EPS) && it_now_ms() < until;) {
        const cJSON *v;
        cJSON *ev = peer_value(pr, "vget", name, &v);
        got = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        cJSON_Delete(ev);
    }
    IT_ASSERT_NEAR(got, want, EPS);
}

typedef struct want {
    oocsi_variable *v;
    double d;
} want;

static int reads(void *ctx)
{
    want *w = ctx;
    return fabs(oocsi_variable_get(w->v) - w->d) <= EPS;
}

static void c_reads(oocsi_variable *v, double d)
{
    want w = {v, d};
    if (!it_wait_until(reads, &w, IT_TIMEOUT * 3))
        fail_msg("the C variable reads %.9g, expected %.9g", oocsi_variable_get(v), d);
}

typedef struct want_text {
    oocsi_variable *v;
    const char *s;
} want_text;

static int reads_text(void *ctx)
{
    want_text *w = ctx;
    char *s = oocsi_variable_dup_string(w->v);
    int same = s && strcmp(s, w->s) == 0;
    oocsi_free(s);
    return same;
}

static void channel(char *buf, size_t size, const char *what)
{
    snprintf(buf, size, "%s_%s", java.r.prefix, what);
}

/* ------------------------------------------------------ typed variables */

/* Each Java type on the channel and key of a C variable, in both modes:
 * C -> Java (the Java variable's value after the update) and Java -> C. */
static void java_typed_variables(void **state)
{
    (void)state;
    use(&java);
    oocsi_client *c = io_client("io_feat_typed");
    static const struct {
        const char *type, *c_to_java, *java_to_c;
    } cases[] = {
        {"bool", "true", "false"},
        {"int", "7", "-3"},
        {"long", "123456789012", "-98765432109"},
        {"float", "2.5", "0.75"},
        {"double", "-4.125", "6.0625"},
        {"string", "\"h\\u00e9llo\"", "\"w\\u00f6rld\""},
    };
    for (int mode = 0; mode < 2; mode++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char ch[128], name[32];
            snprintf(name, sizeof name, "%s%d", cases[i].type, mode);
            channel(ch, sizeof ch, name);
            oocsi_variable *v = oocsi_variable_new(c, ch, "k");
            assert_non_null(v);
            assert_int_equal(oocsi_variable_set_mode(v, mode ? OOCSI_VARIABLE_JAVA : OOCSI_VARIABLE_PYTHON), OOCSI_OK);
            peer_var(&java, name, cases[i].type, ch, "k", NULL);
            cJSON *sent = it_json(cases[i].c_to_java), *back = it_json(cases[i].java_to_c);
            if (cJSON_IsBool(sent))
                assert_int_equal(oocsi_variable_set_bool(v, cJSON_IsTrue(sent)), OOCSI_OK);
            else if (cJSON_IsString(sent))
                assert_int_equal(oocsi_variable_set_string(v, sent->valuestring), OOCSI_OK);
            else
                assert_int_equal(oocsi_variable_set(v, sent->valuedouble), OOCSI_OK);
            const cJSON *got;
            cJSON *ev = peer_value(&java, "vchange", name, &got);
            if (!cJSON_Compare(got, sent, 1))
                fail_msg("%s: the Java variable reads %s after C sent %s", name, cJSON_PrintUnformatted(got),
                         cases[i].c_to_java);
            cJSON_Delete(ev);
            cmd(&java, "{\"cmd\":\"vset\",\"name\":\"%s\",\"value\":%s}", name, cases[i].java_to_c);
            expect(&java, "vset", name);
            if (cJSON_IsString(back)) {
                want_text w = {v, back->valuestring};
                if (!it_wait_until(reads_text, &w, IT_TIMEOUT * 3))
                    fail_msg("%s: the C variable did not get the Java string", name);
            } else {
                c_reads(v, cJSON_IsBool(back) ? (cJSON_IsTrue(back) ? 1 : 0) : back->valuedouble);
                if (cJSON_IsBool(back))
                    assert_int_equal(oocsi_variable_get_bool(v), cJSON_IsTrue(back));
            }
            cJSON_Delete(sent);
            cJSON_Delete(back);
            oocsi_variable_free(v);
        }
    }
}

/* ------------------------------------------------- Java mode, Java peer */

static oocsi_variable *c_var(oocsi_client *c, const char *ch, const char *key, oocsi_variable_mode mode)
{
    oocsi_variable *v = oocsi_variable_new(c, ch, key);
    assert_non_null(v);
    assert_int_equal(oocsi_variable_set_mode(v, mode), OOCSI_OK);
    return v;
}

static void set(oocsi_variable *v, double d)
{
    assert_int_equal(oocsi_variable_set(v, d), OOCSI_OK);
}

typedef struct remote_seen {
    pthread_mutex_t mu;
    int n;
    double first; /* the value read inside the first remote change callback */
} remote_seen;

static void on_remote(oocsi_variable *v, int remote, void *user)
{
    remote_seen *r = user;
    if (!remote)
        return;
    double d = oocsi_variable_get(v);
    pthread_mutex_lock(&r->mu);
    if (r->n++ == 0)
        r->first = d;
    pthread_mutex_unlock(&r->mu);
    it_notify();
}

static int seen_remote(void *ctx)
{
    remote_seen *r = ctx;
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n > 0;
}

/* A C variable in Java mode and OOCSIFloats on its channel and key: what the
 * Java peer reads is what a Java sender would have sent. */
static void java_mode_with_java_peer(void **state)
{
    (void)state;
    use(&java);
    oocsi_client *c = io_client("io_feat_jmode");
    char ch[128];

    /* Bounds: C min 2 max 6, Java min 3 max 8. C sets 10: it publishes 6
     * (raw 10 would read 8 at the peer). Java sets 1: it publishes 3 (raw 1
     * would read 2 here). */
    channel(ch, sizeof ch, "jbounds");
    oocsi_variable *v = c_var(c, ch, "x", OOCSI_VARIABLE_JAVA);
    assert_int_equal(oocsi_variable_min(v, 2), OOCSI_OK);
    assert_int_equal(oocsi_variable_max(v, 6), OOCSI_OK);
    peer_var(&java, "jb", "float", ch, "x", ",\"min\":3,\"max\":8");
    set(v, 10);
    IT_ASSERT_NEAR(oocsi_variable_get(v), 6, EPS);
    peer_reads(&java, "jb", 6);
    cmd(&java, "{\"cmd\":\"vset\",\"name\":\"jb\",\"value\":1}");
    expect(&java, "vset", "jb");
    c_reads(v, 3);

    /* Sigma after clamping: C max 5, smooth(2, 1); 3 then 10. The filtered
     * values 3 and 4 go out (a plain OOCSIFloat ends at 4, not 10), and an
     * OOCSIFloat with the same settings ends where C is: [3, 4] -> 3.5. */
    channel(ch, sizeof ch, "jsigma");
    oocsi_variable *s = c_var(c, ch, "s", OOCSI_VARIABLE_JAVA);
    assert_int_equal(oocsi_variable_max(s, 5), OOCSI_OK);
    assert_int_equal(oocsi_variable_smooth(s, 2, 1), OOCSI_OK);
    peer_var(&java, "jplain", "float", ch, "s", NULL);
    peer_var(&java, "jsame", "float", ch, "s", ",\"max\":5,\"smooth\":2,\"sigma\":1");
    /* The Java client hands each message to a thread of a pool, so two
     * quick ones may be applied in either order: one at a time. */
    set(s, 3);
    peer_reads(&java, "jplain", 3);
    peer_reads(&java, "jsame", 3);
    set(s, 10);
    IT_ASSERT_NEAR(oocsi_variable_get(s), 3.5, EPS);
    peer_reads(&java, "jplain", 4);
    peer_reads(&java, "jsame", 3.5);

    /* Reference 4 and timeout on both sides: each reads the other's value
     * right after it came, then the reference again. */
    channel(ch, sizeof ch, "jref");
    oocsi_variable *r = c_var(c, ch, "r", OOCSI_VARIABLE_JAVA);
    static remote_seen seen = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    assert_int_equal(oocsi_variable_reference(r, 4, 1500), OOCSI_OK);
    assert_int_equal(oocsi_variable_on_change(r, on_remote, &seen), OOCSI_OK);
    IT_ASSERT_NEAR(oocsi_variable_get(r), 4, EPS);
    peer_var(&java, "jref", "float", ch, "r", ",\"reference\":4,\"timeout\":1500");
    set(r, 0);
    IT_ASSERT_NEAR(peer_number(&java, "vchange", "jref"), 0, EPS);
    peer_reads(&java, "jref", 4);
    cmd(&java, "{\"cmd\":\"vset\",\"name\":\"jref\",\"value\":1}");
    assert_true(it_wait_until(seen_remote, &seen, IT_TIMEOUT * 3));
    IT_ASSERT_NEAR(seen.first, 1, EPS);
    c_reads(r, 4);

    oocsi_variable_free(v);
    oocsi_variable_free(s);
    oocsi_variable_free(r);
}

/* --------------------------------------------- Python mode, Python peer */

/* A C variable in the default (Python) mode and reference Python
 * OOCSIVariables on its channel and key. */
static void python_mode_with_python_peer(void **state)
{
    (void)state;
    use(&python);
    oocsi_client *c = io_client("io_feat_pmode");
    char ch[128];

    /* Bounds: C min 2 max 6, Python min 3 max 8. C sets 10: raw 10 goes out
     * and Python clamps it to its own 8. Python sets 1 (its value 3): raw 1
     * comes, C clamps it to 2. */
    snprintf(ch, sizeof ch, "%s_pbounds", python.r.prefix);
    oocsi_variable *v = oocsi_variable_new(c, ch, "b");
    assert_non_null(v);
    assert_int_equal(oocsi_variable_min(v, 2), OOCSI_OK);
    assert_int_equal(oocsi_variable_max(v, 6), OOCSI_OK);
    peer_var(&python, "pb", "float", ch, "b", ",\"min\":3,\"max\":8");
    set(v, 10);
    IT_ASSERT_NEAR(oocsi_variable_get(v), 6, EPS);
    peer_reads(&python, "pb", 8);
    cmd(&python, "{\"cmd\":\"vset\",\"name\":\"pb\",\"value\":1}");
    expect(&python, "vset", "pb");
    peer_reads(&python, "pb", 3);
    c_reads(v, 2);

    /* Smoothing with sigma 1 over 2 values on both sides: 1, 2, 10.2 from
     * C; both end at 2.0 ([2, 2.0]); a plain Python variable holds the raw
     * 10.2. Then Python sets 10.2: raw again, both end at 2.25. */
    snprintf(ch, sizeof ch, "%s_psigma", python.r.prefix);
    oocsi_variable *s = oocsi_variable_new(c, ch, "s");
    assert_non_null(s);
    assert_int_equal(oocsi_variable_smooth(s, 2, 1), OOCSI_OK);
    peer_var(&python, "pplain", "float", ch, "s", NULL);
    peer_var(&python, "psame", "float", ch, "s", ",\"smooth\":2,\"sigma\":1");
    set(s, 1);
    set(s, 2);
    set(s, 10.2);
    IT_ASSERT_NEAR(oocsi_variable_get(s), 2.0, EPS);
    peer_reads(&python, "pplain", 10.2);
    peer_reads(&python, "psame", 2.0);
    cmd(&python, "{\"cmd\":\"vset\",\"name\":\"psame\",\"value\":10.2}");
    expect(&python, "vset", "psame");
    peer_reads(&python, "psame", 2.25);
    c_reads(s, 2.25);

    oocsi_variable_free(v);
    oocsi_variable_free(s);
}

/* ------------------------------------------------------- heyOOCSI devices */

/* The device the Java peer's "hey" command makes, in C; components on
 * channels p_temp, p_level, p_door, p_plug, p_lamp. */
static oocsi_device *like_java(oocsi_client *c, const char *name, const char *p)
{
    char ch[5][128];
    const char *what[5] = {"temp", "level", "door", "plug", "lamp"};
    for (int i = 0; i < 5; i++)
        snprintf(ch[i], sizeof ch[i], "%s_%s", p, what[i]);
    oocsi_device *d = oocsi_device_new(c, name);
    assert_non_null(d);
    assert_int_equal(oocsi_device_add_property(d, "creator", "interop"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_location(d, "lab", 51.5, 5.25), OOCSI_OK);
    assert_int_equal(oocsi_device_add_sensor(d, "temp", ch[0], "temperature", "C", 20.5, "thermometer"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_number(d, "level", ch[1], 0, 100, "percent", 50, "gauge"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_binary_sensor(d, "door", ch[2], "door", 0, "door"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_outlet(d, "plug", ch[3], 1, "power-socket"), OOCSI_OK);
    assert_int_equal(oocsi_device_add_light_spectra(d, "lamp", ch[4], "CCT", "CCT", 153, 500, 0, 120, "lightbulb"),
                     OOCSI_OK);
    return d;
}

/* A spy client on channel; its inbox. */
static it_inbox *spy(const char *channel_name)
{
    it_inbox *in = it_inbox_new();
    oocsi_client *s = io_client("io_feat_spy");
    assert_int_equal(oocsi_subscribe(s, channel_name, it_inbox_handler, in), OOCSI_OK);
    return in;
}

/* The first message in in sent by sender; waits for it. */
static const it_msg *from_sender(it_inbox *in, const char *sender)
{
    for (int i = 0;; i++) {
        if (!it_inbox_wait(in, i + 1, IT_TIMEOUT * 3))
            fail_msg("no message from %s (%d others)", sender, it_inbox_count(in));
        const it_msg *m = it_inbox_at(in, i);
        if (strcmp(m->sender, sender) == 0)
            return m;
    }
}

/* Keys a C component has beyond the Java client's: the Python client's
 * sensor fields and the other spellings of the LED type. */
static int c_only_key(const char *key)
{
    static const char *const extra[] = {"mode", "step", "led_type", "ledType", NULL};
    for (const char *const *k = extra; *k; k++)
        if (strcmp(*k, key) == 0)
            return 1;
    return 0;
}

/* The C description has every section, property, location and component
 * key of the Java one with the same value (device_id: each its own handle);
 * the only keys Java lacks are the documented extras. */
static void same_structure(const cJSON *j, const cJSON *cd, const char *java_handle, const char *c_handle)
{
    assert_int_equal(cJSON_GetArraySize(cd), cJSON_GetArraySize(j));
    const cJSON *section;
    cJSON_ArrayForEach(section, j)
    {
        const cJSON *mine = cJSON_GetObjectItemCaseSensitive(cd, section->string);
        if (!mine)
            fail_msg("the C description has no \"%s\"", section->string);
        if (strcmp(section->string, "components") != 0) {
            cJSON *a = cJSON_Duplicate(section, 1), *b = cJSON_Duplicate(mine, 1);
            if (strcmp(section->string, "properties") == 0) {
                io_assert_str(a, "device_id", java_handle);
                io_assert_str(b, "device_id", c_handle);
                cJSON_DeleteItemFromObjectCaseSensitive(a, "device_id");
                cJSON_DeleteItemFromObjectCaseSensitive(b, "device_id");
            }
            if (!cJSON_Compare(a, b, 1))
                fail_msg("\"%s\" differs: Java %s, C %s", section->string, cJSON_PrintUnformatted(a),
                         cJSON_PrintUnformatted(b));
            cJSON_Delete(a);
            cJSON_Delete(b);
            continue;
        }
        assert_int_equal(cJSON_GetArraySize(mine), cJSON_GetArraySize(section));
        const cJSON *comp;
        cJSON_ArrayForEach(comp, section)
        {
            const cJSON *cc = cJSON_GetObjectItemCaseSensitive(mine, comp->string);
            if (!cc)
                fail_msg("the C description has no component \"%s\"", comp->string);
            const cJSON *k;
            cJSON_ArrayForEach(k, comp)
            {
                const cJSON *ck = cJSON_GetObjectItemCaseSensitive(cc, k->string);
                if (!ck || !cJSON_Compare(k, ck, 1))
                    fail_msg("component %s, key %s: Java %s, C %s", comp->string, k->string, cJSON_PrintUnformatted(k),
                             ck ? cJSON_PrintUnformatted(ck) : "(missing)");
            }
            cJSON_ArrayForEach(k, cc)
            {
                if (!cJSON_HasObjectItem(comp, k->string) && !c_only_key(k->string))
                    fail_msg("component %s: C has \"%s\", which the Java client does not send", comp->string,
                             k->string);
            }
        }
    }
}

/* The Java peer announces an OOCSIDevice; a C device with the same
 * components announces too: compared key by key. */
static void announcement_like_java(void **state)
{
    (void)state;
    use(&java);
    it_inbox *hey = spy("heyOOCSI!");
    oocsi_client *c = io_client("io_feat_dev");
    char jname[128], cname[128], p[128];
    snprintf(jname, sizeof jname, "%s_jdev", java.r.prefix);
    snprintf(cname, sizeof cname, "%s_cdev", java.r.prefix);
    snprintf(p, sizeof p, "%s_ann", java.r.prefix);
    cmd(&java, "{\"cmd\":\"hey\",\"device\":\"%s\",\"channels\":\"%s\"}", jname, p);
    expect(&java, "hey", NULL);
    oocsi_device *d = like_java(c, cname, p);
    assert_int_equal(oocsi_device_submit(d), OOCSI_OK);
    const it_msg *jm = from_sender(hey, java.r.handle), *cm = from_sender(hey, oocsi_handle(c));
    assert_int_equal(cJSON_GetArraySize(jm->data), 1);
    assert_int_equal(cJSON_GetArraySize(cm->data), 1);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(jm->data, jname);
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(cm->data, cname);
    assert_true(cJSON_IsObject(jd) && cJSON_IsObject(cd));
    same_structure(jd, cd, java.r.handle, oocsi_handle(c));
    oocsi_device_free(d);
}

/* Value updates: the C device's messages equal the Java device's for the
 * same component and value, and reach a Python client (as Home Assistant
 * reads them) in that shape. */
static void updates_like_java(void **state)
{
    (void)state;
    use(&java);
    use(&python);
    char p[128], temp[160], lamp[160];
    snprintf(p, sizeof p, "%s_upd", java.r.prefix);
    snprintf(temp, sizeof temp, "%s_temp", p);
    snprintf(lamp, sizeof lamp, "%s_lamp", p);
    it_inbox *t = spy(temp), *l = spy(lamp);
    cmd(&python, "{\"cmd\":\"listen\",\"channel\":\"%s\"}", temp);
    expect(&python, "listen", NULL);
    wait_subscribed(temp, python.r.handle);
    cmd(&java, "{\"cmd\":\"hey\",\"device\":\"%s_jdev2\",\"channels\":\"%s\"}", java.r.prefix, p);
    expect(&java, "hey", NULL);
    oocsi_client *c = io_client("io_feat_upd");
    oocsi_device *d = like_java(c, "cdev2", p);

    cmd(&java, "{\"cmd\":\"dev_set\",\"component\":\"temp\",\"key\":\"value\",\"value\":21.5}");
    assert_int_equal(oocsi_device_set_value(d, "temp", 21.5), OOCSI_OK);
    const it_msg *jm = from_sender(t, java.r.handle), *cm = from_sender(t, oocsi_handle(c));
    if (!it_json_equal(jm->data, cm->data))
        fail_msg("value update: Java %s, C %s", jm->json, cm->json);
    IT_ASSERT_JSON(cm->data, "{\"value\":21.5,\"component\":\"temp\"}");

    cmd(&java, "{\"cmd\":\"dev_set\",\"component\":\"lamp\",\"key\":\"state\",\"value\":true}");
    assert_int_equal(oocsi_device_set_state(d, "lamp", 1), OOCSI_OK);
    jm = from_sender(l, java.r.handle);
    cm = from_sender(l, oocsi_handle(c));
    if (!it_json_equal(jm->data, cm->data))
        fail_msg("state update: Java %s, C %s", jm->json, cm->json);

    /* The Python client got the C update as it was sent. */
    for (;;) {
        cJSON *ev = io_peer_event(&python.r.p, "heard", IT_TIMEOUT * 3);
        const cJSON *sender = cJSON_GetObjectItemCaseSensitive(ev, "sender");
        if (cJSON_IsString(sender) && strcmp(sender->valuestring, oocsi_handle(c)) == 0) {
            IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(ev, "data"), "{\"value\":21.5,\"component\":\"temp\"}");
            cJSON_Delete(ev);
            break;
        }
        cJSON_Delete(ev);
    }
    oocsi_device_free(d);
}

typedef struct commands {
    pthread_mutex_t mu;
    int n;
    char component[8][16];
    char *json[8];
} commands;

static void on_command(oocsi_device *d, const char *component, const cJSON *command, void *user)
{
    (void)d;
    commands *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->n < 8) {
        snprintf(r->component[r->n], sizeof r->component[r->n], "%s", component);
        r->json[r->n] = cJSON_PrintUnformatted(command);
        r->n++;
    }
    pthread_mutex_unlock(&r->mu);
    it_notify();
}

static commands got = {PTHREAD_MUTEX_INITIALIZER, 0, {{0}}, {0}};

static int got_all(void *ctx)
{
    pthread_mutex_lock(&got.mu);
    int n = got.n;
    pthread_mutex_unlock(&got.mu);
    return n >= *(int *)ctx;
}

/* Home Assistant's commands, sent by the Python client the way its OOCSI
 * integration sends them, reach the C device's callback and its
 * description; its "heyOOCSI?" makes the device announce again, with the
 * new values. (Last: the request is retained by the server.) */
static void home_assistant_commands(void **state)
{
    (void)state;
    use(&python);
    char p[128], name[160];
    snprintf(p, sizeof p, "%s_ha", python.r.prefix);
    snprintf(name, sizeof name, "%s_dev", p);
    it_inbox *hey = spy("heyOOCSI!");
    oocsi_client *c = io_client("io_feat_ha");
    oocsi_device *d = like_java(c, name, p);
    char strip[160];
    snprintf(strip, sizeof strip, "%s_strip", p);
    assert_int_equal(oocsi_device_add_light(d, "strip", strip, "RGB", "RGB", 0, 0, NULL), OOCSI_OK);
    assert_int_equal(oocsi_device_on_command(d, on_command, &got), OOCSI_OK);
    assert_int_equal(oocsi_device_submit(d), OOCSI_OK);
    from_sender(hey, oocsi_handle(c));
    static const struct {
        const char *component, *payload;
    } ha[] = {
        {"plug", "{\"state\":false}"},
        {"level", "{\"value\":75}"},
        {"door", "{\"state\":true}"},
        {"strip", "{\"state\":true,\"brightness\":200,\"colorrgb\":[255,128,0]}"},
        {"strip", "{\"colorrgb\":[255,128,0]}"},
        {"lamp", "{\"state\":true,\"brightness\":90,\"colorTemp\":300,\"colorTempInRGB\":[255,180,107]}"},
        {"lamp", "{\"state\":false}"},
    };
    const int n = (int)(sizeof ha / sizeof ha[0]);
    for (int i = 0; i < n; i++) {
        cmd(&python, "{\"cmd\":\"send_json\",\"channel\":\"%s_%s\",\"payload\":%s}", p, ha[i].component, ha[i].payload);
        expect(&python, "sent_json", NULL);
    }
    assert_true(it_wait_until(got_all, (void *)&n, IT_TIMEOUT * 3));
    pthread_mutex_lock(&got.mu);
    assert_int_equal(got.n, n);
    for (int i = 0; i < n; i++) {
        assert_string_equal(got.component[i], ha[i].component);
        cJSON *a = it_json(got.json[i]), *b = it_json(ha[i].payload);
        if (!it_json_equal(a, b))
            fail_msg("command %d: got %s, sent %s", i, got.json[i], ha[i].payload);
        cJSON_Delete(a);
        cJSON_Delete(b);
        cJSON_free(got.json[i]);
    }
    pthread_mutex_unlock(&got.mu);

    /* The description holds the new values ... */
    char *text = oocsi_device_to_json(d);
    cJSON *desc = it_json(text);
    oocsi_free(text);
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(desc, name), "components");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(comps, "plug"), "state"), "false");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(comps, "level"), "value"), "75");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(comps, "strip");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(s, "state"), "true");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(s, "brightness"), "200");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(s, "colorrgb"), "[255,128,0]");
    const cJSON *lamp = cJSON_GetObjectItemCaseSensitive(comps, "lamp");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(lamp, "state"), "false");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(lamp, "brightness"), "90");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(lamp, "colorTemp"), "300");
    IT_ASSERT_JSON(cJSON_GetObjectItemCaseSensitive(lamp, "colorTempInRGB"), "[255,180,107]");

    /* ... and Home Assistant's start-up request brings it again. */
    int before = it_inbox_count(hey);
    cmd(&python, "{\"cmd\":\"send_json\",\"channel\":\"heyOOCSI?\",\"payload\":{\"_RETAIN\":50000,"
                 "\"homeassistant\":\"on\"}}");
    expect(&python, "sent_json", NULL);
    for (int i = before;; i++) {
        if (!it_inbox_wait(hey, i + 1, IT_TIMEOUT * 3))
            fail_msg("the device did not announce again on heyOOCSI?");
        const it_msg *m = it_inbox_at(hey, i);
        if (strcmp(m->sender, oocsi_handle(c)) == 0) {
            if (!it_json_equal(cJSON_GetObjectItemCaseSensitive(m->data, name),
                               cJSON_GetObjectItemCaseSensitive(desc, name)))
                fail_msg("the new announcement %s is not the description", m->json);
            break;
        }
    }
    cJSON_Delete(desc);
    oocsi_device_free(d);
}

/* ------------------------------------------------------------------ main */

static void init_peer(peer *pr, const char *lang)
{
    char base[32];
    pr->lang = lang;
    snprintf(base, sizeof base, "iof_%s", lang);
    /* its own folder: test_interop_peer may compile at the same time */
    io_ref_peer_init(&pr->r, strcmp(lang, "java") == 0 ? "InteropPeer" : "python", "java-peer-features", base, "peer");
}

/* Clients end with each test: a new command sender for the next. */
static int test_setup(void **state)
{
    ctl = NULL;
    return it_test_setup(state);
}

#define FT(f) cmocka_unit_test_setup_teardown(f, test_setup, it_test_teardown)

static int group_setup(void **state)
{
    init_peer(&java, "java");
    init_peer(&python, "python");
    return io_group_setup(state);
}

static int group_teardown(void **state)
{
    peer *all[2] = {&java, &python};
    oocsi_client *bye = NULL;
    for (int i = 0; i < 2; i++)
        if (all[i]->r.started) {
            if (!bye && !io_skip_reason())
                bye = io_client("io_feat_bye");
            if (bye && oocsi_send_json(bye, all[i]->r.in, "{\"cmd\":\"quit\"}") == OOCSI_OK &&
                io_peer_wait_exit(&all[i]->r.p, IT_TIMEOUT * 3) != 0)
                fprintf(stderr, "the %s peer did not leave cleanly\n", all[i]->lang);
            io_ref_peer_release(&all[i]->r); /* killed if it is still there */
        }
    it_close(bye);
    return io_group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FT(java_typed_variables),   FT(java_mode_with_java_peer), FT(python_mode_with_python_peer),
        FT(announcement_like_java), FT(updates_like_java),        FT(home_assistant_commands),
    };
    return cmocka_run_group_tests_name("interop.features", tests, group_setup, group_teardown);
}
