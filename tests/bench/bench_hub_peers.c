/*
 * bench_hub, part two: the hub side by side with the mosquitto broker and
 * the Java reference server, in the same run, and the hub's memory.
 *
 *  - fan-out cost: one publisher, 10 subscribers, a burst of ~50-byte
 *    payloads (after a warm-up burst of a tenth); the server's CPU time
 *    (utime + stime from /proc/PID/stat) over the burst, per 100k messages
 *    delivered, and the messages lost. OOCSI servers get `sendraw` lines,
 *    the broker MQTT 3.1.1 QoS 0 PUBLISH packets with the same payload, from
 *    raw sockets (no client library).
 *  - bytes per idle connection: the server's VmRSS growth when N clients
 *    connect and are welcomed (OOCSI hello / MQTT CONNACK), divided by N.
 *  - the hub under a burst from many publishers to many subscribers: each
 *    publisher sends one message to one channel; the subscribers (4 KiB
 *    receive buffers) read nothing until every publisher's message has been
 *    taken by the hub (a ping barrier per publisher), so everything is in
 *    flight at once. Bytes in flight = the distinct bytes of the lines still
 *    to deliver (messages x line length; each subscriber needs a copy on
 *    its wire, the hub need not hold more than one). Memory = the hub's
 *    VmRSS growth over the burst (VmHWM when it can be reset). Then every
 *    subscriber must receive every message.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"
#include "bench_hub_peers.h"

#define PEER_IDLE_NS (5LL * 1000000000LL)
#define PEER_BUDGET_NS (180LL * 1000000000LL)

static const char PAD[] = "abcdefghijklmnopqrstuvwxyz0123";
static int run_seq;

/* ------------------------------------------------------------- /proc */

long long peer_cpu_ticks(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) {
        return -1;
    }
    unsigned long long ut = 0, st = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        return -1;
    }
    return (long long)(ut + st);
}

/* ------------------------------------------------------------- raw MQTT 3.1.1 */

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {10, 0}; /* every blocking read below is bounded */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_exact(int fd, void *p, size_t n)
{
    char *d = p;
    while (n) {
        ssize_t r = recv(fd, d, n, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        d += r;
        n -= (size_t)r;
    }
    return 0;
}

static size_t mq_varint(unsigned char *o, size_t v)
{
    size_t n = 0;
    do {
        unsigned char b = (unsigned char)(v % 128);
        v /= 128;
        o[n++] = (unsigned char)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

/* CONNECT (clean session, keep-alive 600 s) and its CONNACK: the socket or -1. */
static int mq_connect(int port, const char *id)
{
    int fd = tcp_connect(port);
    if (fd < 0) {
        return -1;
    }
    unsigned char pk[128];
    size_t il = strlen(id), rl = 10 + 2 + il, n = 0;
    pk[n++] = 0x10;
    n += mq_varint(pk + n, rl);
    static const unsigned char vh[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0x02, 0x58};
    memcpy(pk + n, vh, sizeof vh);
    n += sizeof vh;
    pk[n++] = (unsigned char)(il >> 8);
    pk[n++] = (unsigned char)il;
    memcpy(pk + n, id, il);
    n += il;
    unsigned char ack[4];
    if (write_all(fd, pk, n) != 0 || read_exact(fd, ack, 4) != 0 || ack[0] != 0x20 || ack[3] != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int mq_subscribe(int fd, const char *topic)
{
    unsigned char pk[128];
    size_t tl = strlen(topic), n = 0;
    pk[n++] = 0x82;
    n += mq_varint(pk + n, 2 + 2 + tl + 1);
    pk[n++] = 0;
    pk[n++] = 1; /* packet id */
    pk[n++] = (unsigned char)(tl >> 8);
    pk[n++] = (unsigned char)tl;
    memcpy(pk + n, topic, tl);
    n += tl;
    pk[n++] = 0; /* QoS 0 */
    unsigned char ack[5];
    return write_all(fd, pk, n) == 0 && read_exact(fd, ack, 5) == 0 && ack[0] == 0x90 && ack[4] == 0 ? 0 : -1;
}

/* Counts whole packets in a received MQTT byte stream. */
typedef struct mq_parse {
    int stage;        /* 0: fixed header byte, 1: remaining length, 2: body */
    size_t remaining; /* body bytes left */
    size_t mult;
} mq_parse;

static long mq_count(mq_parse *p, const unsigned char *b, size_t n)
{
    long packets = 0;
    size_t i = 0;
    while (i < n) {
        if (p->stage == 0) {
            p->stage = 1;
            p->remaining = 0;
            p->mult = 1;
            i++;
        } else if (p->stage == 1) {
            p->remaining += (size_t)(b[i] & 0x7f) * p->mult;
            p->mult *= 128;
            if (!(b[i++] & 0x80)) {
                p->stage = 2;
            }
        }
        if (p->stage == 2) {
            size_t take = n - i < p->remaining ? n - i : p->remaining;
            i += take;
            p->remaining -= take;
            if (!p->remaining) {
                p->stage = 0;
                packets++;
            }
        }
    }
    return packets;
}

/* ------------------------------------------------------------- one server, one connection */

typedef struct conn {
    int fd;
    int at_start; /* OOCSI: at the start of a line */
    mq_parse mq;
} conn;

static int peer_open(const peer_server *s, conn *c, const char *name, const char *sub)
{
    memset(c, 0, sizeof *c);
    c->at_start = 1;
    if (s->mqtt) {
        c->fd = mq_connect(s->port, name);
        if (c->fd >= 0 && sub && mq_subscribe(c->fd, sub) != 0) {
            close(c->fd);
            c->fd = -1;
        }
        return c->fd >= 0 ? 0 : -1;
    }
    bench_raw r;
    if (bench_raw_connect(&r, s->port, name, 10000) != 0 || (sub && bench_raw_subscribe(&r, sub, 10000) != 0)) {
        bench_raw_close(&r);
        c->fd = -1;
        return -1;
    }
    c->fd = r.fd; /* nothing but the welcome (and ".") was read into r's buffer */
    r.fd = -1;
    bench_raw_close(&r);
    struct timeval tv = {10, 0}; /* every blocking read is bounded */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return 0;
}

static void peer_close(conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

/* Messages in n received bytes (and the bytes of message lines in *bytes). */
static long peer_count(const peer_server *s, conn *c, const unsigned char *b, size_t n, long *bytes)
{
    if (s->mqtt) {
        *bytes += (long)n;
        return mq_count(&c->mq, b, n);
    }
    long got = 0;
    for (size_t k = 0; k < n; k++) {
        if (c->at_start && b[k] == '{') {
            got++;
        }
        c->at_start = b[k] == '\n';
    }
    *bytes += (long)n;
    return got;
}

/* One message to topic/channel into buf: its length. */
static size_t peer_message(const peer_server *s, char *buf, size_t cap, const char *topic, long i)
{
    char payload[128];
    int pl = snprintf(payload, sizeof payload, "{\"i\":%ld,\"pad\":\"%s\"}", i, PAD);
    if (!s->mqtt) {
        return (size_t)snprintf(buf, cap, "sendraw %s %s\n", topic, payload);
    }
    unsigned char *o = (unsigned char *)buf;
    size_t tl = strlen(topic), n = 0;
    o[n++] = 0x30;
    n += mq_varint(o + n, 2 + tl + (size_t)pl);
    o[n++] = (unsigned char)(tl >> 8);
    o[n++] = (unsigned char)tl;
    memcpy(o + n, topic, tl);
    n += tl;
    memcpy(o + n, payload, (size_t)pl);
    return n + (size_t)pl;
}

/* ------------------------------------------------------------- fan-out cost */

typedef struct pub_job {
    const peer_server *s;
    long burst;
    int ok;
    atomic_int done; /* set by the reader: the burst is over, close */
} pub_job;

static void *pub_main(void *arg)
{
    pub_job *j = arg;
    conn p;
    char name[64];
    snprintf(name, sizeof name, "pp_%d_%ld", ++run_seq, (long)getpid());
    j->ok = 0;
    if (peer_open(j->s, &p, name, NULL) != 0) {
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int ok = 1;
    for (long i = 0; i < j->burst && ok; i++) {
        if (cap - len < 256) {
            ok = write_all(p.fd, buf, len) == 0;
            len = 0;
        }
        len += peer_message(j->s, buf + len, cap - len, "fan", i);
    }
    j->ok = ok && (len == 0 || write_all(p.fd, buf, len) == 0);
    free(buf);
    while (!atomic_load(&j->done)) { /* stay connected until the subscribers have it all */
        bench_sleep_ms(5);
    }
    peer_close(&p);
    return NULL;
}

int peer_fanout(const peer_server *s, int nsubs, long burst, peer_fan *out)
{
    memset(out, 0, sizeof *out);
    conn *subs = calloc((size_t)nsubs, sizeof *subs);
    struct pollfd *pf = calloc((size_t)nsubs, sizeof *pf);
    unsigned char *buf = malloc(1 << 18);
    int opened = 0, rc = -1;
    for (int i = 0; i < nsubs; i++, opened++) {
        char name[64];
        snprintf(name, sizeof name, "ps_%d_%d_%ld", ++run_seq, i, (long)getpid());
        if (peer_open(s, &subs[i], name, "fan") != 0) {
            fprintf(stderr, "%s: subscriber %d cannot connect\n", s->name, i);
            goto out;
        }
        pf[i].fd = subs[i].fd;
        pf[i].events = POLLIN;
    }
    pub_job job = {.s = s, .burst = burst};
    atomic_init(&job.done, 0);
    long long cpu0 = peer_cpu_ticks(s->pid);
    pthread_t t;
    pthread_create(&t, NULL, pub_main, &job);
    long expected = burst * nsubs, got = 0, bytes = 0;
    int64_t t0 = bench_now_ns(), last = t0;
    while (got < expected) {
        int64_t now = bench_now_ns();
        if (now - last > PEER_IDLE_NS || now - t0 > PEER_BUDGET_NS) {
            break;
        }
        if (poll(pf, (nfds_t)nsubs, 100) <= 0) {
            continue;
        }
        for (int i = 0; i < nsubs; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            ssize_t n = recv(pf[i].fd, buf, 1 << 18, MSG_DONTWAIT);
            if (n > 0) {
                got += peer_count(s, &subs[i], buf, (size_t)n, &bytes);
                last = bench_now_ns();
            }
        }
    }
    long long cpu1 = peer_cpu_ticks(s->pid);
    atomic_store(&job.done, 1);
    pthread_join(t, NULL);
    out->expected = expected;
    out->delivered = got;
    out->cpu_s = cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) : -1.0;
    out->seconds = (double)(last - t0) / 1e9;
    rc = job.ok ? 0 : -1;
out:
    for (int i = 0; i < opened; i++) {
        peer_close(&subs[i]);
    }
    free(subs);
    free(pf);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------- idle connections */

int peer_idle(const peer_server *s, int n, double *bytes_per_conn)
{
    conn *cs = calloc((size_t)n, sizeof *cs);
    int opened = 0, rc = 0;
    bench_sleep_ms(200); /* let the server settle after the previous run */
    long before = bench_status_kb_of(s->pid, "VmRSS:");
    for (; opened < n; opened++) {
        char name[64];
        snprintf(name, sizeof name, "pi_%d_%d_%ld", ++run_seq, opened, (long)getpid());
        if (peer_open(s, &cs[opened], name, NULL) != 0) {
            fprintf(stderr, "%s: idle connection %d refused\n", s->name, opened);
            rc = -1;
            break;
        }
    }
    long after = bench_status_kb_of(s->pid, "VmRSS:");
    *bytes_per_conn = opened && before > 0 && after > 0 ? (double)(after - before) * 1024.0 / opened : -1.0;
    for (int i = 0; i < opened; i++) {
        peer_close(&cs[i]);
    }
    free(cs);
    return rc;
}

/* ------------------------------------------------------------- many publishers, many subscribers */

int peer_burst(const peer_server *s, int npub, int nsub, peer_burst_result *r)
{
    memset(r, 0, sizeof *r);
    conn *subs = calloc((size_t)nsub, sizeof *subs);
    conn *pubs = calloc((size_t)npub, sizeof *pubs);
    struct pollfd *pf = calloc((size_t)nsub, sizeof *pf);
    long *got = calloc((size_t)nsub, sizeof *got);
    unsigned char *buf = malloc(1 << 18);
    int ns = 0, np = 0, rc = -1;
    for (; ns < nsub; ns++) {
        char name[64];
        snprintf(name, sizeof name, "bs_%d_%d_%ld", ++run_seq, ns, (long)getpid());
        if (peer_open(s, &subs[ns], name, "burst") != 0) {
            fprintf(stderr, "%s: burst subscriber %d cannot connect\n", s->name, ns);
            goto out;
        }
        int small = 4096;
        setsockopt(subs[ns].fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        pf[ns].fd = subs[ns].fd;
        pf[ns].events = POLLIN;
    }
    for (; np < npub; np++) {
        char name[64];
        snprintf(name, sizeof name, "bp_%d_%d_%ld", ++run_seq, np, (long)getpid());
        if (peer_open(s, &pubs[np], name, NULL) != 0) {
            fprintf(stderr, "%s: burst publisher %d cannot connect\n", s->name, np);
            goto out;
        }
    }
    bench_sleep_ms(200);
    r->rss_before_kb = bench_status_kb_of(s->pid, "VmRSS:");
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/clear_refs", (long)s->pid);
    FILE *cr = fopen(path, "w"); /* "5" resets VmHWM to the current RSS (root or the owner) */
    r->hwm_reset = cr && fputs("5", cr) >= 0;
    if (cr && fclose(cr) != 0) {
        r->hwm_reset = 0;
    }
    for (int i = 0; i < npub; i++) {
        char line[256];
        size_t n = peer_message(s, line, sizeof line, "burst", i);
        if (!s->mqtt) {
            memcpy(line + n, "ping\n", 5); /* the hub has dispatched it once "." comes back */
            n += 5;
        }
        if (write_all(pubs[i].fd, line, n) != 0) {
            goto out;
        }
    }
    for (int i = 0; i < npub && !s->mqtt; i++) {
        char c;
        do {
            if (read_exact(pubs[i].fd, &c, 1) != 0) {
                fprintf(stderr, "%s: no ping answer for publisher %d\n", s->name, i);
                goto out;
            }
        } while (c != '.');
    }
    r->rss_loaded_kb = bench_status_kb_of(s->pid, "VmRSS:");
    long expected = npub, bytes = 0, total = 0;
    int64_t t0 = bench_now_ns(), last = t0;
    while (total < expected * nsub) {
        int64_t now = bench_now_ns();
        if (now - last > PEER_IDLE_NS || now - t0 > PEER_BUDGET_NS) {
            break;
        }
        if (poll(pf, (nfds_t)nsub, 100) <= 0) {
            continue;
        }
        for (int i = 0; i < nsub; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            ssize_t n = recv(pf[i].fd, buf, 1 << 18, MSG_DONTWAIT);
            if (n > 0) {
                long k = peer_count(s, &subs[i], buf, (size_t)n, &bytes);
                got[i] += k;
                total += k;
                last = bench_now_ns();
            }
        }
    }
    long hwm = bench_status_kb_of(s->pid, "VmHWM:");
    long peak = r->rss_loaded_kb;
    if (r->hwm_reset && hwm > peak) {
        peak = hwm;
    }
    r->peak_growth_kb = peak - r->rss_before_kb;
    r->delivered = total;
    r->expected = expected * nsub;
    r->complete_subs = 0;
    for (int i = 0; i < nsub; i++) {
        r->complete_subs += got[i] == expected;
    }
    r->line_bytes = total ? (double)bytes / (double)total : 0.0;
    r->inflight_bytes = r->line_bytes * (double)expected;
    rc = 0;
out:
    for (int i = 0; i < ns; i++) {
        peer_close(&subs[i]);
    }
    for (int i = 0; i < np; i++) {
        peer_close(&pubs[i]);
    }
    free(subs);
    free(pubs);
    free(pf);
    free(got);
    free(buf);
    return rc;
}
