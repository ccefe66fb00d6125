/*
 * Test-only TLS endpoint: a TLS-terminating relay on an ephemeral 127.0.0.1
 * port. It accepts TLS with a given certificate and key and relays the
 * plaintext both ways to a TCP port on 127.0.0.1 (the hub's). One thread per
 * connection with blocking I/O.
 */
#ifndef OOCSI_IT_SUPPORT_TLS_H
#define OOCSI_IT_SUPPORT_TLS_H

typedef struct it_tls_relay it_tls_relay;

/** Starts a relay serving cert_file/key_file (PEM) and forwarding to
 *  127.0.0.1:target_port. NULL on failure (reason on stderr). */
it_tls_relay *it_tls_relay_start(const char *cert_file, const char *key_file, int target_port);
/** The port the relay listens on. */
int it_tls_relay_port(const it_tls_relay *r);
/** Number of TLS handshakes the relay completed. */
int it_tls_relay_accepted(it_tls_relay *r);
/** Closes the listener and every connection, joins every thread, frees.
 *  NULL-safe. */
void it_tls_relay_stop(it_tls_relay *r);

#endif
