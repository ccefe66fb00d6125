/*
 * bench_hub's comparisons with the mosquitto broker and the Java reference
 * server, and the hub's memory per idle connection and under a burst from
 * many publishers to many subscribers (bench_hub_peers.c). Raw sockets
 * only: the line protocol for OOCSI servers, MQTT 3.1.1 QoS 0 for the broker.
 */
#ifndef OOCSI_BENCH_HUB_PEERS_H
#define OOCSI_BENCH_HUB_PEERS_H

#include <sys/types.h>

typedef struct peer_server {
    const char *name;
    int port;
    pid_t pid; /* for /proc: CPU time and memory */
    int mqtt;  /* 1: an MQTT broker, else an OOCSI server */
} peer_server;

typedef struct peer_fan {
    long expected, delivered;
    double cpu_s;   /* server CPU seconds over the burst (-1: unknown) */
    double seconds; /* first write to last arrival */
} peer_fan;

typedef struct peer_burst_result {
    long expected, delivered;
    int complete_subs;     /* subscribers that received every message */
    long rss_before_kb;    /* all connected, before the burst */
    long rss_loaded_kb;    /* every message taken by the server, nothing read yet */
    long peak_growth_kb;   /* max(loaded, VmHWM after draining) - before */
    int hwm_reset;         /* VmHWM was reset before the burst (else only rss_loaded counts) */
    double line_bytes;     /* bytes per delivered message on a subscriber's wire */
    double inflight_bytes; /* distinct bytes in flight: messages x line_bytes */
} peer_burst_result;

/** utime + stime of a process in clock ticks, or -1. */
long long peer_cpu_ticks(pid_t pid);
/** One publisher, nsubs subscribers, burst messages on "fan". 0 or -1. */
int peer_fanout(const peer_server *s, int nsubs, long burst, peer_fan *out);
/** n idle welcomed connections: the server's RSS growth per connection. 0 or -1. */
int peer_idle(const peer_server *s, int n, double *bytes_per_conn);
/** npub publishers send one message each to nsub subscribers of "burst". 0 or -1. */
int peer_burst(const peer_server *s, int npub, int nsub, peer_burst_result *r);

#endif
