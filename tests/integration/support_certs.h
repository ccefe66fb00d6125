/*
 * Throwaway test certificates, generated at test time with the OpenSSL C API
 * (no openssl program needed, no private key in the repository) into a fresh
 * mkdtemp() directory:
 *
 *   ca_file                     a test CA (trust this one in clients)
 *   cert_file, key_file         server certificate for DNS:localhost and
 *                               IP:127.0.0.1, signed by the CA, and its key
 *   self_signed_cert_file       self-signed certificate for localhost and
 *                               127.0.0.1, not trusted by the CA (key: self_signed_key_file)
 *   expired_cert_file           signed by the CA for localhost and 127.0.0.1,
 *                               but expired (key: key_file)
 *   wrong_host_cert_file        signed by the CA, valid, but only for
 *                               DNS:wrong.invalid (key: key_file)
 *
 * Paths are absolute. Only built with OOCSI_WITH_TLS.
 */
#ifndef OOCSI_IT_SUPPORT_CERTS_H
#define OOCSI_IT_SUPPORT_CERTS_H

#define IT_CERTS_PATH_MAX 512

typedef struct it_certs {
    char dir[IT_CERTS_PATH_MAX];
    char ca_file[IT_CERTS_PATH_MAX];
    char cert_file[IT_CERTS_PATH_MAX];
    char key_file[IT_CERTS_PATH_MAX];
    char self_signed_cert_file[IT_CERTS_PATH_MAX];
    char self_signed_key_file[IT_CERTS_PATH_MAX];
    char expired_cert_file[IT_CERTS_PATH_MAX];
    char wrong_host_cert_file[IT_CERTS_PATH_MAX];
} it_certs;

/** Generates everything into a new temporary directory. 0, or -1 (reason on
 *  stderr; nothing is left behind). */
int it_certs_make(it_certs *out);
/** Removes the files and the directory. NULL-safe, idempotent. */
void it_certs_free(it_certs *c);

#endif
