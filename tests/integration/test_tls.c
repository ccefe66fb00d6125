/*
 * Integration: the tls transport. Certificates are made at test time with the
 * OpenSSL API into a mkdtemp() directory; a TLS-terminating relay
 * (support_tls.c) in front of the in-process hub is the TLS server.
 */
#include "support.h"
#include "support_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "oocsi/transport.h"

/* A bound for every failing connect; all of them must end well before. */
#define TLS_CONNECT_TIMEOUT IT_TIMEOUT

static char dir[64];
static char ca_pem[128];

enum { R_GOOD, R_UNTRUSTED, R_EXPIRED, R_WRONG_HOST, R_COUNT };
static it_tls_relay *relays[R_COUNT];

/* ------------------------------------------------------------ certificates */

typedef struct cert {
    EVP_PKEY *key;
    X509 *x509;
} cert;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A certificate for cn with subjectAltName san (NULL for none), valid from
 * now + nb_s to now + na_s seconds, signed by issuer (NULL: self-signed). */
static cert make_cert(const char *cn, const char *san, int is_ca, long nb_s, long na_s, const cert *issuer)
{
    static long serial = 1;
    cert c;
    c.key = EVP_EC_gen("P-256");
    assert_non_null(c.key);
    c.x509 = X509_new();
    assert_non_null(c.x509);
    X509_set_version(c.x509, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c.x509), serial++);
    X509_gmtime_adj(X509_getm_notBefore(c.x509), nb_s);
    X509_gmtime_adj(X509_getm_notAfter(c.x509), na_s);
    X509_set_pubkey(c.x509, c.key);
    X509_NAME *name = X509_get_subject_name(c.x509);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509 *iss = issuer ? issuer->x509 : c.x509;
    X509_set_issuer_name(c.x509, X509_get_subject_name(iss));
    add_ext(c.x509, iss, NID_subject_key_identifier, "hash");
    add_ext(c.x509, iss, NID_authority_key_identifier, "keyid:always");
    if (is_ca) {
        add_ext(c.x509, iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(c.x509, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(c.x509, iss, NID_basic_constraints, "CA:FALSE");
        add_ext(c.x509, iss, NID_ext_key_usage, "serverAuth");
    }
    if (san)
        add_ext(c.x509, iss, NID_subject_alt_name, san);
    assert_true(X509_sign(c.x509, issuer ? issuer->key : c.key, EVP_sha256()) > 0);
    return c;
}

static void write_cert(const cert *c, const char *base, char *cert_path, char *key_path, size_t size)
{
    snprintf(cert_path, size, "%s/%s.pem", dir, base);
    snprintf(key_path, size, "%s/%s.key", dir, base);
    FILE *f = fopen(cert_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, c->x509), 1);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, c->key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void free_cert(cert *c)
{
    X509_free(c->x509);
    EVP_PKEY_free(c->key);
}

/* Makes a server certificate and starts a relay serving it. */
static it_tls_relay *serve(const char *base, cert *c)
{
    char cp[128], kp[128];
    write_cert(c, base, cp, kp, sizeof cp);
    it_tls_relay *r = it_tls_relay_start(cp, kp, oocsi_hub_port(it_hub));
    assert_non_null(r);
    return r;
}

static const char *files[] = {"ca", "good", "untrusted", "expired", "wrong"};

static void remove_files(void)
{
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s.pem", dir, files[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s.key", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int group_setup(void **state)
{
    if (it_group_setup(state) != 0)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/oocsi-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    const long day = 24 * 3600;
    cert ca = make_cert("oocsi test CA", NULL, 1, -day, day, NULL);
    char kp[128];
    write_cert(&ca, "ca", ca_pem, kp, sizeof ca_pem);
    cert good = make_cert("localhost", "DNS:localhost,IP:127.0.0.1", 0, -day, day, &ca);
    cert untrusted = make_cert("localhost", "DNS:localhost,IP:127.0.0.1", 0, -day, day, NULL);
    cert expired = make_cert("localhost", "DNS:localhost,IP:127.0.0.1", 0, -2 * day, -day, &ca);
    cert wrong = make_cert("wrong.example", "DNS:wrong.example", 0, -day, day, &ca);
    relays[R_GOOD] = serve("good", &good);
    relays[R_UNTRUSTED] = serve("untrusted", &untrusted);
    relays[R_EXPIRED] = serve("expired", &expired);
    relays[R_WRONG_HOST] = serve("wrong", &wrong);
    free_cert(&ca);
    free_cert(&good);
    free_cert(&untrusted);
    free_cert(&expired);
    free_cert(&wrong);
    return 0;
}

static int group_teardown(void **state)
{
    for (int i = 0; i < R_COUNT; i++) {
        it_tls_relay_stop(relays[i]);
        relays[i] = NULL;
    }
    if (dir[0])
        remove_files();
    return it_group_teardown(state);
}

/* ------------------------------------------------------------------ helpers */

static oocsi_options *tls_options(const char *handle, const char *host, int relay, it_log *log)
{
    char url[128];
    snprintf(url, sizeof url, "tls://%s:%d", host, it_tls_relay_port(relays[relay]));
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    if (handle)
        assert_int_equal(oocsi_options_set_handle(o, handle), OOCSI_OK);
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, log ? it_log_fn : NULL, log), OOCSI_OK);
    assert_int_equal(oocsi_options_set_connect_timeout(o, TLS_CONNECT_TIMEOUT), OOCSI_OK);
    assert_int_equal(oocsi_options_set_reconnect_delay(o, 50, 500), OOCSI_OK);
    assert_int_equal(oocsi_options_set_tls_ca_file(o, ca_pem), OOCSI_OK);
    return o;
}

/* Connects and returns the result (a hang fails the test; speed is not measured). */
static int try_connect(oocsi_options *o)
{
    oocsi_client *c = NULL;
    int64_t t0 = it_now_ms();
    int rc = oocsi_connect(&c, o);
    int64_t took = it_now_ms() - t0;
    oocsi_options_free(o);
    if (took > IT_HANG_MS)
        fail_msg("oocsi_connect took %lld ms (connect timeout %d ms)", (long long)took, TLS_CONNECT_TIMEOUT);
    if (rc == OOCSI_OK)
        it_track(c);
    else
        assert_null(c);
    return rc;
}

/* Messages both ways between a tls client and a tcp client through the hub. */
static void exchange(oocsi_client *tls, oocsi_client *tcp)
{
    char ch[64];
    it_unique(ch, sizeof ch, "tlschan");
    it_inbox *at_tls = it_inbox_new();
    it_inbox *at_tcp = it_inbox_new();
    assert_int_equal(oocsi_subscribe(tls, ch, it_inbox_handler, at_tls), OOCSI_OK);
    assert_int_equal(oocsi_subscribe(tcp, ch, it_inbox_handler, at_tcp), OOCSI_OK);
    assert_int_equal(oocsi_hub_wait_subscribed(it_hub, oocsi_handle(tls), ch, IT_TIMEOUT), 1);
    assert_int_equal(oocsi_hub_wait_subscribed(it_hub, oocsi_handle(tcp), ch, IT_TIMEOUT), 1);

    cJSON *d = it_json("{\"from\":\"tcp\",\"n\":1}");
    assert_int_equal(oocsi_send(tcp, ch, d), OOCSI_OK);
    cJSON_Delete(d);
    assert_true(it_inbox_wait_str(at_tls, "from", "tcp", IT_TIMEOUT) >= 0);

    /* A larger message than one TLS record. */
    size_t big = 40000;
    char *s = malloc(big + 1);
    assert_non_null(s);
    for (size_t i = 0; i < big; i++)
        s[i] = (char)('a' + i % 26);
    s[big] = 0;
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "from", "tls");
    cJSON_AddStringToObject(d, "big", s);
    assert_int_equal(oocsi_send(tls, ch, d), OOCSI_OK);
    cJSON_Delete(d);
    int i = it_inbox_wait_str(at_tcp, "from", "tls", IT_TIMEOUT);
    assert_true(i >= 0);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(it_inbox_at(at_tcp, i)->data, "big");
    assert_true(cJSON_IsString(b));
    assert_string_equal(b->valuestring, s);
    free(s);
}

/* -------------------------------------------------------------------- tests */

static void test_registered(void **state)
{
    (void)state;
    const oocsi_transport *t = oocsi_find_transport("tls");
    assert_non_null(t);
    assert_ptr_equal(t, oocsi_transport_tls());
    assert_int_equal(t->default_port, 4443);
    assert_string_equal(t->default_codec, "line");
}

static void test_ip_with_ca(void **state)
{
    (void)state;
    char h[64];
    it_unique(h, sizeof h, "tlsip");
    oocsi_client *tls = it_connect_opts(tls_options(h, "127.0.0.1", R_GOOD, NULL));
    assert_int_equal(oocsi_hub_wait_client(it_hub, h, IT_TIMEOUT), 1);
    oocsi_client *tcp = it_connect(NULL);
    exchange(tls, tcp);
}

static void test_localhost_with_ca(void **state)
{
    (void)state;
    char h[64];
    it_unique(h, sizeof h, "tlsname");
    oocsi_client *tls = it_connect_opts(tls_options(h, "localhost", R_GOOD, NULL));
    oocsi_client *tcp = it_connect(NULL);
    exchange(tls, tcp);
}

static void test_untrusted(void **state)
{
    (void)state;
    it_log *log = it_log_new();
    assert_int_equal(try_connect(tls_options(NULL, "127.0.0.1", R_UNTRUSTED, log)), OOCSI_ERR_TLS);
    assert_true(it_log_contains(log, OOCSI_LOG_ERROR, "certificate verification failed"));
    /* Also without a CA file (the system store does not know the test CA). */
    oocsi_options *o = tls_options(NULL, "localhost", R_GOOD, NULL);
    assert_int_equal(oocsi_options_set_tls_ca_file(o, NULL), OOCSI_OK);
    assert_int_equal(try_connect(o), OOCSI_ERR_TLS);
}

static void test_wrong_host(void **state)
{
    (void)state;
    it_log *log = it_log_new();
    assert_int_equal(try_connect(tls_options(NULL, "localhost", R_WRONG_HOST, log)), OOCSI_ERR_TLS);
    assert_true(it_log_contains(log, OOCSI_LOG_ERROR, "hostname mismatch"));
    log = it_log_new();
    assert_int_equal(try_connect(tls_options(NULL, "127.0.0.1", R_WRONG_HOST, log)), OOCSI_ERR_TLS);
    assert_true(it_log_contains(log, OOCSI_LOG_ERROR, "IP address mismatch"));
}

static void test_expired(void **state)
{
    (void)state;
    it_log *log = it_log_new();
    assert_int_equal(try_connect(tls_options(NULL, "127.0.0.1", R_EXPIRED, log)), OOCSI_ERR_TLS);
    assert_true(it_log_contains(log, OOCSI_LOG_ERROR, "certificate has expired"));
}

static void test_plain_tcp_server(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "tls://127.0.0.1:%d", oocsi_hub_port(it_hub));
    oocsi_options *o = oocsi_options_new();
    assert_non_null(o);
    assert_int_equal(oocsi_options_add_endpoint(o, url), OOCSI_OK);
    assert_int_equal(oocsi_options_set_logger(o, NULL, NULL), OOCSI_OK);
    /* The hub waits for a line that never comes: the attempt times out. */
    assert_int_equal(oocsi_options_set_connect_timeout(o, 1500), OOCSI_OK);
    assert_int_equal(oocsi_options_set_tls_ca_file(o, ca_pem), OOCSI_OK);
    int rc = try_connect(o);
    if (rc != OOCSI_ERR_TLS && rc != OOCSI_ERR_CONNECT)
        fail_msg("plain TCP server on tls://: %s", oocsi_strerror(rc));
}

static void test_verify_off(void **state)
{
    (void)state;
    it_log *log = it_log_new();
    char h[64];
    it_unique(h, sizeof h, "tlsinsecure");
    oocsi_options *o = tls_options(h, "127.0.0.1", R_UNTRUSTED, log);
    assert_int_equal(oocsi_options_set_tls_verify(o, 0), OOCSI_OK);
    oocsi_client *tls = it_connect_opts(o);
    assert_int_equal(oocsi_hub_wait_client(it_hub, h, IT_TIMEOUT), 1);
    assert_true(it_log_contains(log, OOCSI_LOG_WARN, "verification is disabled"));
    oocsi_client *tcp = it_connect(NULL);
    exchange(tls, tcp);
}

static void test_orderly_close(void **state)
{
    (void)state;
    char h[64];
    it_unique(h, sizeof h, "tlsbye");
    oocsi_client *tls = it_connect_opts(tls_options(h, "127.0.0.1", R_GOOD, NULL));
    assert_int_equal(oocsi_hub_wait_client(it_hub, h, IT_TIMEOUT), 1);
    it_close(tls);
    assert_int_equal(oocsi_hub_wait_client_gone(it_hub, h, IT_TIMEOUT), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT_TEST(test_registered),       IT_TEST(test_ip_with_ca), IT_TEST(test_localhost_with_ca),
        IT_TEST(test_untrusted),        IT_TEST(test_wrong_host), IT_TEST(test_expired),
        IT_TEST(test_plain_tcp_server), IT_TEST(test_verify_off), IT_TEST(test_orderly_close),
    };
    return cmocka_run_group_tests_name("integration.tls", tests, group_setup, group_teardown);
}
