/*
 * Shared helpers of the benchmark programs (tests/bench): clocks, statistics,
 * a raw OOCSI line-protocol peer on a plain TCP socket (the baselines), a
 * hub running in a forked child process (so that its work is not counted in
 * the parent's instructions or memory), and /proc readings.
 *
 * Everything is loopback only. Every wait is bounded.
 */
#ifndef OOCSI_BENCH_COMMON_H
#define OOCSI_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Monotonic nanoseconds. */
int64_t bench_now_ns(void);
/** Sleeps ms milliseconds. */
void bench_sleep_ms(int ms);
/** Sorts v[0..n) and returns the p-th percentile (0..100), nearest rank. */
double bench_percentile(double *v, size_t n, double p);
double bench_mean(const double *v, size_t n);
/** VmRSS / VmHWM of this process in KiB (-1 if unknown). */
long bench_rss_kb(void);
long bench_hwm_kb(void);
/** VmRSS of another process in KiB (-1 if unknown). */
long bench_rss_kb_of(pid_t pid);
/* A "Key:" field in kB of /proc/PID/status (VmRSS:, VmHWM:, ...); -1 if unknown. */
long bench_status_kb_of(pid_t pid, const char *key);
/** Parses argv[i] as a positive count, or returns def. */
long bench_arg_long(int argc, char **argv, int i, long def);

/* ------------------------------------------------------------ raw peer */

typedef struct bench_raw {
    int fd;
    char *buf;
    size_t cap, len, off;
} bench_raw;

/** Connects to 127.0.0.1:port over plain TCP (TCP_NODELAY), says hello as
 *  handle and waits for the welcome line. 0 or -1. */
int bench_raw_connect(bench_raw *r, int port, const char *handle, int timeout_ms);
void bench_raw_close(bench_raw *r);
/** Writes everything (blocking). 0 or -1. */
int bench_raw_write(bench_raw *r, const char *s, size_t n);
/** The next line (without its LF) in *line and *len, valid until the next call.
 *  1: a line; 0: timeout; -1: closed or error. */
int bench_raw_line(bench_raw *r, char **line, size_t *len, int timeout_ms);
/** Subscribes and waits for the hub to confirm (a ping barrier). 0 or -1. */
int bench_raw_subscribe(bench_raw *r, const char *channel, int timeout_ms);

/* --------------------------------------------------------- child hub */

typedef struct bench_child_hub {
    pid_t pid;
    int port, tls_port, ws_port;
    char ca_file[512];
} bench_child_hub;

/** Forks a process running the in-process hub (plus tls and ws endpoints
 *  with throwaway certificates when this build has them) and waits for its
 *  ports. Call before any thread is started. 0 or -1. */
int bench_child_hub_start(bench_child_hub *h, int with_tls_ws);
/** Stops it: closes the control pipe (the child frees the hub and exits),
 *  waits up to 5 s, then SIGKILL. */
void bench_child_hub_stop(bench_child_hub *h);
/** Asks the child to publish count messages with bench_payload(size) on
 *  channel from a raw socket of its own (so that the publisher's work is not
 *  counted in this process). Returns at once. 0 or -1. */
int bench_child_hub_publish(bench_child_hub *h, const char *channel, long count, size_t size);

/** Writes the JSON object {"i":i,"pad":"xxx..."} of about size bytes (at
 *  least ~20) into buf (cap bytes); returns its length. */
size_t bench_payload(char *buf, size_t cap, long i, size_t size);

#endif
