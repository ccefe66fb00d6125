/*
 * Test certificates generated with the OpenSSL C API (support_certs.h).
 * EC P-256 keys: fast to generate, accepted at every OpenSSL security level.
 */
#include "support_certs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY (24L * 3600L)

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) {
        return -1;
    }
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A certificate for key with subject CN=cn, signed by issuer/issuer_key
 * (NULL: self-signed), valid from now+from_s to now+to_s. san may be NULL;
 * ca: a CA certificate. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer, EVP_PKEY *issuer_key, long from_s,
                       long to_s, int ca, long serial)
{
    X509 *x = X509_new();
    if (!x) {
        return NULL;
    }
    X509_NAME *name = X509_NAME_new();
    int ok = name && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
             X509_gmtime_adj(X509_getm_notBefore(x), from_s) && X509_gmtime_adj(X509_getm_notAfter(x), to_s) &&
             X509_set_pubkey(x, key) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"liboocsi tests", -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
             X509_set_subject_name(x, name) && X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    X509 *iss = issuer ? issuer : x;
    if (ok) {
        ok = !add_ext(x, iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
             !add_ext(x, iss, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
             !add_ext(x, iss, NID_subject_key_identifier, "hash") &&
             (ca || !add_ext(x, iss, NID_ext_key_usage, "serverAuth")) &&
             (!issuer || !add_ext(x, iss, NID_authority_key_identifier, "keyid:always")) &&
             (!san || !add_ext(x, iss, NID_subject_alt_name, san));
    }
    if (ok) {
        ok = X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
    }
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_cert(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    int ok = PEM_write_X509(f, x);
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    int ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int path_in(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, IT_CERTS_PATH_MAX, "%s/%s", dir, name);
    return (n < 0 || n >= IT_CERTS_PATH_MAX) ? -1 : 0;
}

int it_certs_make(it_certs *out)
{
    memset(out, 0, sizeof *out);
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) {
        tmp = "/tmp";
    }
    if (snprintf(out->dir, sizeof out->dir, "%s/oocsi-certs-XXXXXX", tmp) >= (int)sizeof out->dir ||
        !mkdtemp(out->dir)) {
        fprintf(stderr, "it_certs_make: cannot create a temporary directory\n");
        out->dir[0] = '\0';
        return -1;
    }
    if (path_in(out->ca_file, out->dir, "ca.pem") || path_in(out->cert_file, out->dir, "server.pem") ||
        path_in(out->key_file, out->dir, "server.key") ||
        path_in(out->self_signed_cert_file, out->dir, "selfsigned.pem") ||
        path_in(out->self_signed_key_file, out->dir, "selfsigned.key") ||
        path_in(out->expired_cert_file, out->dir, "expired.pem") ||
        path_in(out->wrong_host_cert_file, out->dir, "wronghost.pem")) {
        fprintf(stderr, "it_certs_make: path too long\n");
        it_certs_free(out);
        return -1;
    }
    const char *san = "DNS:localhost,IP:127.0.0.1";
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    EVP_PKEY *ss_key = EVP_EC_gen("P-256");
    X509 *ca = NULL, *srv = NULL, *ss = NULL, *exp = NULL, *wrong = NULL;
    int rc = -1;
    if (!ca_key || !key || !ss_key) {
        goto done;
    }
    ca = make_cert(ca_key, "liboocsi test CA", NULL, NULL, NULL, -DAY, 30 * DAY, 1, 1);
    if (!ca) {
        goto done;
    }
    srv = make_cert(key, "localhost", san, ca, ca_key, -DAY, 30 * DAY, 0, 2);
    ss = make_cert(ss_key, "localhost", san, NULL, NULL, -DAY, 30 * DAY, 0, 3);
    exp = make_cert(key, "localhost", san, ca, ca_key, -10 * DAY, -DAY, 0, 4);
    wrong = make_cert(key, "wrong.invalid", "DNS:wrong.invalid", ca, ca_key, -DAY, 30 * DAY, 0, 5);
    if (!srv || !ss || !exp || !wrong) {
        goto done;
    }
    if (write_cert(out->ca_file, ca) || write_cert(out->cert_file, srv) || write_key(out->key_file, key) ||
        write_cert(out->self_signed_cert_file, ss) || write_key(out->self_signed_key_file, ss_key) ||
        write_cert(out->expired_cert_file, exp) || write_cert(out->wrong_host_cert_file, wrong)) {
        goto done;
    }
    rc = 0;
done:
    X509_free(ca);
    X509_free(srv);
    X509_free(ss);
    X509_free(exp);
    X509_free(wrong);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ss_key);
    if (rc) {
        fprintf(stderr, "it_certs_make: cannot generate the test certificates\n");
        it_certs_free(out);
    }
    return rc;
}

void it_certs_free(it_certs *c)
{
    if (!c || !c->dir[0]) {
        return;
    }
    const char *files[] = {
        c->ca_file,           c->cert_file,           c->key_file, c->self_signed_cert_file, c->self_signed_key_file,
        c->expired_cert_file, c->wrong_host_cert_file};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (files[i][0]) {
            unlink(files[i]);
        }
    }
    rmdir(c->dir);
    memset(c, 0, sizeof *c);
}
