/*
 * Footprint: resident memory of an idle connected client, and heap bytes
 * allocated per message sent and received.
 *
 *   bench_footprint [COUNT]      messages per measurement (default 20000)
 *
 * Heap figures come from a counting allocator linked into this program: it
 * defines malloc, calloc, realloc, free, posix_memalign and aligned_alloc
 * over glibc's __libc_* functions, so every allocation made by liboocsi
 * (linked statically) and by libcjson (whose calls bind to these
 * definitions) is counted: calls and bytes requested; live bytes use
 * malloc_usable_size(). The hub runs in a forked child process and is not
 * counted. Resident memory is VmRSS from /proc/self/status.
 */
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "oocsi/oocsi.h"

/* ------------------------------------------------------ counting allocator */

#ifndef BENCH_NO_MALLOC_COUNT /* sanitizer builds: they own the allocator */
#define COUNTING 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

static atomic_long n_allocs, n_bytes, live_bytes;

static void *counted(void *p, size_t requested)
{
    if (p) {
        atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&n_bytes, (long)requested, memory_order_relaxed);
        atomic_fetch_add_explicit(&live_bytes, (long)malloc_usable_size(p), memory_order_relaxed);
    }
    return p;
}

static void uncount(void *p)
{
    if (p) {
        atomic_fetch_sub_explicit(&live_bytes, (long)malloc_usable_size(p), memory_order_relaxed);
    }
}

void *malloc(size_t n)
{
    return counted(__libc_malloc(n), n);
}

void *calloc(size_t n, size_t m)
{
    return counted(__libc_calloc(n, m), n * m);
}

void *realloc(void *p, size_t n)
{
    uncount(p);
    void *q = __libc_realloc(p, n);
    if (!q && p && n) {
        atomic_fetch_add_explicit(&live_bytes, (long)malloc_usable_size(p), memory_order_relaxed);
        return NULL;
    }
    return counted(q, n);
}

void free(void *p)
{
    uncount(p);
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    if (!p) {
        return 12; /* ENOMEM */
    }
    *out = counted(p, n);
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    return counted(__libc_memalign(align, n), n);
}

#else
#define COUNTING 0
static atomic_long n_allocs, n_bytes, live_bytes;
#endif

typedef struct snap {
    long allocs, bytes, live;
} snap;

static snap take(void)
{
    snap s = {atomic_load(&n_allocs), atomic_load(&n_bytes), atomic_load(&live_bytes)};
    return s;
}

/* ------------------------------------------------------------------ bench */

static bench_child_hub hub;
static char url[64];
static long received;

static void on_msg(oocsi_client *c, const oocsi_message *m, void *user)
{
    (void)c;
    (void)m;
    (void)user;
    received++;
}

static oocsi_client *lib_connect(const char *handle)
{
    oocsi_options *o = oocsi_options_new();
    oocsi_client *c = NULL;
    oocsi_options_set_handle(o, handle);
    oocsi_options_add_endpoint(o, url);
    oocsi_options_set_logger(o, NULL, NULL);
    int rc = oocsi_connect(&c, o);
    oocsi_options_free(o);
    return rc == OOCSI_OK ? c : NULL;
}

static int per_message(size_t size, long count, double *send_bytes, double *send_allocs, double *recv_bytes,
                       double *recv_allocs)
{
    char handle[64];
    snprintf(handle, sizeof handle, "fp_%zu_%ld", size, (long)getpid());
    oocsi_client *c = lib_connect(handle);
    if (!c || oocsi_subscribe(c, "fpin", on_msg, NULL) != OOCSI_OK) {
        oocsi_close(c);
        return -1;
    }
    char *text = malloc(size + 64);
    bench_payload(text, size + 64, 0, size);
    cJSON *obj = cJSON_Parse(text);
    free(text);
    cJSON *num = cJSON_GetObjectItemCaseSensitive(obj, "i");
    /* send: oocsi_send() of a prepared object (the object itself is not counted) */
    snap a = take();
    for (long i = 0; i < count; i++) {
        cJSON_SetNumberValue(num, (double)i);
        oocsi_send(c, "sink", obj);
        if ((i & 255) == 255) {
            oocsi_loop(c, 0);
        }
    }
    snap b = take();
    *send_bytes = (double)(b.bytes - a.bytes) / (double)count;
    *send_allocs = (double)(b.allocs - a.allocs) / (double)count;
    cJSON_Delete(obj);
    /* receive: decode + dispatch to a handler */
    received = 0;
    bench_child_hub_publish(&hub, "fpin", count, size);
    a = take();
    int64_t end = bench_now_ns() + 60LL * 1000000000LL;
    while (received < count && bench_now_ns() < end) {
        oocsi_loop(c, 100);
    }
    b = take();
    *recv_bytes = (double)(b.bytes - a.bytes) / (double)count;
    *recv_allocs = (double)(b.allocs - a.allocs) / (double)count;
    oocsi_close(c);
    return received == count ? 0 : -1;
}

int main(int argc, char **argv)
{
    long count = bench_arg_long(argc, argv, 1, 20000);
    if (bench_child_hub_start(&hub, 0) != 0) {
        fprintf(stderr, "cannot start the hub\n");
        return 1;
    }
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", hub.port);
    int failed = 0;

    /* idle connected client: connected, one subscription, loop thread running */
    long rss0 = bench_rss_kb();
    snap h0 = take();
    oocsi_client *c = lib_connect("fp_idle");
    long rss1 = -1, live = -1;
    if (c && oocsi_subscribe(c, "idle", on_msg, NULL) == OOCSI_OK && oocsi_loop_start(c) == OOCSI_OK) {
        bench_sleep_ms(300);
        rss1 = bench_rss_kb();
        live = take().live - h0.live;
    } else {
        failed = 1;
    }
    oocsi_close(c);
    printf("idle connected client (tcp, one subscription, loop thread): VmRSS %ld KiB (process before connecting: "
           "%ld KiB, +%ld KiB); live heap %ld bytes\n",
           rss1, rss0, rss1 - rss0, live);
    printf("ROW|5|idle connected client: VmRSS of the process (growth by connecting); live heap|%ld KiB (+%ld KiB); "
           "%ld B|-|-|-|\n",
           rss1, rss1 - rss0, live);

    if (!COUNTING) {
        printf("heap per message: n/a (built without the counting allocator)\n");
    }
    static const size_t sizes[] = {50, 4096};
    for (int z = 0; z < 2 && COUNTING; z++) {
        double sb, sa, rb, ra;
        long n = sizes[z] > 1000 ? (count / 4 > 0 ? count / 4 : 1) : count;
        if (per_message(sizes[z], n, &sb, &sa, &rb, &ra) != 0) {
            failed = 1;
            continue;
        }
        printf("%4zu B payload: send %.0f bytes in %.1f allocations per message; receive %.0f bytes in %.1f "
               "allocations per message\n",
               sizes[z], sb, sa, rb, ra);
        printf("ROW|5|heap allocated per message, %zu B payload: send; receive|%.0f B in %.1f allocs; %.0f B in %.1f "
               "allocs|-|receive <= 2 allocs|%s|\n",
               sizes[z], sb, sa, rb, ra, ra < 2.05 ? "yes" : "no"); /* one-offs (buffer growth) amortised */
    }
    bench_child_hub_stop(&hub);
    return failed ? 1 : 0;
}
