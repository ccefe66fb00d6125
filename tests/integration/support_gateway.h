/*
 * The oocsi-gateway as a child process of a test: started on an ephemeral
 * port (it prints "... ws://HOST:PORT/..." as its first stdout line), tracked
 * so that a failing test's teardown kills it, and stopped with SIGTERM,
 * which must end it with status 0 (under ASan that includes no leaks).
 */
#ifndef OOCSI_IT_SUPPORT_GATEWAY_H
#define OOCSI_IT_SUPPORT_GATEWAY_H

#include <sys/types.h>

typedef struct it_gw {
    pid_t pid;
    int port; /* the port it listens on for browsers */
} it_gw;

/** Starts exe with args (NULL-terminated, without argv[0]) and reads the port
 *  from its first stdout line (bounded); fails the test if none comes. The
 *  child runs with a small ASan quarantine, so its RSS measures the gateway. */
void it_gw_start(it_gw *g, const char *exe, const char *const *args);

/** SIGTERM; fails the test unless the gateway exits 0 within 15 s (scaled). */
void it_gw_stop(it_gw *g);

/** VmRSS of the running gateway in KiB; -1 if unknown. */
long it_gw_rss_kb(const it_gw *g);

/** Kills (SIGKILL) every gateway still running; for teardowns. */
void it_gw_kill_all(void);

#endif
