/*
 * Checks on what clients send, so that nobody can pass for somebody else or
 * crash the hub with a value: the handles a hello may take (characters,
 * reserved names, the users list and its parser), password checks with per-address
 * throttling of wrong guesses, and the values of the server keys _RETAIN,
 * _DELAY and _SCHEDULE.
 */
#include "hub_rooms.h"

/* ------------------------------------------------------------------ handles */

/* Names a client must not take: the sender of the meta channels and the meta
 * channels themselves (a client holding one of those names would block it
 * for everybody else, and SERVER could forge meta-channel messages). */
static const char *const reserved_names[] = {"OOCSI_clients", "OOCSI_channels", "OOCSI_metrics", "OOCSI_events",
                                             "OOCSI_connections"};

int guard_name_reserved(const char *name)
{
    if (!strcasecmp(name, "SERVER") || ends_with(name, "/?") || !strncmp(name, "presence(", 9)) {
        return 1;
    }
    for (size_t i = 0; i < sizeof reserved_names / sizeof *reserved_names; i++) {
        if (!strcmp(name, reserved_names[i])) {
            return 1;
        }
    }
    return 0;
}

/* 1 if name has a character a handle must not have: ',' (it would read as
 * several clients in "clients" answers), '"' or a control character. */
int guard_name_bad_chars(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7F || *p == ',' || *p == '"') {
            return 1;
        }
    }
    return 0;
}

static int charset_ok(const char *s, size_t n, const char *extra)
{
    if (!n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr(extra, ch))) {
            return 0;
        }
    }
    return 1;
}

/* Parses "n1:p1;n2:p2"; an invalid list is ignored entirely. */
void users_parse(oocsi_hub *h, const char *list)
{
    if (!list) {
        return;
    }
    size_t cap = 0;
    const char *p = list;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (!colon || !charset_ok(p, (size_t)(colon - p), "_.-") ||
            !charset_ok(colon + 1, n - (size_t)(colon - p) - 1, "_.%$-")) {
            hub_log("ignoring the invalid users list");
            for (size_t i = 0; i < h->nusers; i++) {
                free(h->users[i].name);
                free(h->users[i].pw);
            }
            free(h->users);
            h->users = NULL;
            h->nusers = 0;
            return;
        }
        if (h->nusers == cap) {
            cap = cap ? cap * 2 : 4;
            h->users = xrealloc(h->users, cap * sizeof *h->users);
        }
        h->users[h->nusers].name = xstrndup(p, (size_t)(colon - p));
        h->users[h->nusers].pw = xstrndup(colon + 1, n - (size_t)(colon - p) - 1);
        h->nusers++;
        p += n;
        if (*p == ';') {
            p++;
        }
    }
}

/* 1 if name is in the users list: only a hello with its password may take it. */
int guard_user_listed(const oocsi_hub *h, const char *name)
{
    for (size_t i = 0; i < h->nusers; i++) {
        if (!strcmp(h->users[i].name, name)) {
            return 1;
        }
    }
    return 0;
}

int guard_users_check(const oocsi_hub *h, const char *name, const char *pw)
{
    for (size_t i = 0; i < h->nusers; i++) {
        if (!strcmp(h->users[i].name, name) && !strcmp(h->users[i].pw, pw)) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ password throttling */

/* The address part of a peer "host:port" (the port after the last ':'). */
static void peer_address(const char *peer, char *out, size_t cap)
{
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, peer, n);
    out[n] = '\0';
}

static auth_rec *auth_find(oocsi_hub *h, const char *addr, int create, int64_t now)
{
    auth_rec *oldest = NULL;
    for (size_t i = 0; i < h->nauth; i++) {
        auth_rec *r = &h->auth[i];
        if (!strcmp(r->addr, addr)) {
            return r;
        }
        if (!oldest || r->last < oldest->last) {
            oldest = r;
        }
    }
    if (!create) {
        return NULL;
    }
    if (!h->auth) {
        h->auth = xmalloc(AUTH_TABLE * sizeof *h->auth);
    }
    auth_rec *r = h->nauth < AUTH_TABLE ? &h->auth[h->nauth++] : oldest; /* bounded: forget the oldest */
    memset(r, 0, sizeof *r);
    snprintf(r->addr, sizeof r->addr, "%s", addr);
    r->window_start = now;
    return r;
}

/* Seconds (>= 1) the peer's address must still wait before a password hello,
 * or 0 if it may try now. */
int64_t guard_auth_blocked(oocsi_hub *h, const char *peer, int64_t now)
{
    char addr[sizeof h->auth->addr];
    peer_address(peer, addr, sizeof addr);
    const auth_rec *r = auth_find(h, addr, 0, now);
    if (!r || r->blocked_until <= now) {
        return 0;
    }
    return (r->blocked_until - now + 999) / 1000;
}

/* Records a wrong password from the peer's address: AUTH_FAIL_MAX of them
 * within AUTH_WINDOW_MS block that address for AUTH_BLOCK_MS, doubled on
 * every further block (at most AUTH_BLOCK_MAX_MS). */
void guard_auth_failed(oocsi_hub *h, const char *peer, int64_t now)
{
    char addr[sizeof h->auth->addr];
    peer_address(peer, addr, sizeof addr);
    auth_rec *r = auth_find(h, addr, 1, now);
    r->last = now;
    if (now - r->window_start > AUTH_WINDOW_MS) {
        r->window_start = now;
        r->fails = 0;
    }
    if (++r->fails < AUTH_FAIL_MAX) {
        return;
    }
    int64_t block = AUTH_BLOCK_MS;
    for (int i = 0; i < r->strikes && block < AUTH_BLOCK_MAX_MS; i++) {
        block *= 2;
    }
    if (block > AUTH_BLOCK_MAX_MS) {
        block = AUTH_BLOCK_MAX_MS;
    }
    r->strikes++;
    r->fails = 0;
    r->window_start = now;
    r->blocked_until = now + block;
    hub_log("%d wrong passwords from %s: password hellos refused for %lld s", AUTH_FAIL_MAX, addr,
            (long long)(block / 1000));
}

/* ------------------------------------------------------------------ server keys */

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* Reads 1 to maxd decimal digits (no sign) into *v and the separator after
 * them (sep '\0': the end of the text). */
static int take_field(const char **s, int maxd, char sep, int *v)
{
    const char *p = *s;
    int n = 0, d = 0;
    while (*p >= '0' && *p <= '9') {
        if (++d > maxd) {
            return -1;
        }
        n = n * 10 + (*p++ - '0');
    }
    if (!d || *p != sep) {
        return -1;
    }
    *s = sep ? p + 1 : p;
    *v = n;
    return 0;
}

/* "yyyy-MM-dd HH:mm:ss" in local time to epoch ms in *ms; -1 unless every
 * field is in range (year 1970..9999). */
static int parse_schedule(const char *s, int64_t *ms)
{
    int y, mo, d, hh, mi, ss;
    if (take_field(&s, 4, '-', &y) || take_field(&s, 2, '-', &mo) || take_field(&s, 2, ' ', &d) ||
        take_field(&s, 2, ':', &hh) || take_field(&s, 2, ':', &mi) || take_field(&s, 2, '\0', &ss)) {
        return -1;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || hh > 23 || mi > 59 || ss > 59) {
        return -1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mi;
    tm.tm_sec = ss;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1 || (int64_t)t > INT64_MAX / 1000 || (int64_t)t < INT64_MIN / 1000) {
        return -1;
    }
    *ms = (int64_t)t * 1000;
    return 0;
}

/* Reads _RETAIN, _DELAY and _SCHEDULE: 0 and *retain_s (0: not retained),
 * *due (0: now, else the epoch ms to deliver at); -1 with the reason in err
 * if a value is invalid (the message is then refused). _DELAY wins over
 * _SCHEDULE, as in the reference server. */
int guard_server_keys(const pkeys *k, int64_t now_real, int64_t *retain_s, int64_t *due, char *err, size_t cap)
{
    *retain_s = 0;
    *due = 0;
    if (k->retain) {
        int64_t v;
        if (span_i64(k->retain, k->retain_end, &v) || v < 0) {
            snprintf(err, cap, "invalid _RETAIN: expected whole seconds >= 0");
            return -1;
        }
        *retain_s = v > RETAIN_MAX_S ? RETAIN_MAX_S : v;
    }
    if (k->delay) {
        double d;
        if (span_double(k->delay, k->delay_end, &d) || !(d >= 0 && d <= (double)DELAY_MAX_S)) {
            snprintf(err, cap, "invalid _DELAY: expected seconds from 0 to %lld", (long long)DELAY_MAX_S);
            return -1;
        }
        if (d >= 1) {
            *due = now_real + (int64_t)d * 1000;
        }
    } else if (k->sched) {
        char txt[128];
        int64_t t = 0;
        if (span_string(k->sched, k->sched_end, txt, sizeof txt) || parse_schedule(txt, &t)) {
            snprintf(err, cap, "invalid _SCHEDULE: expected \"yyyy-MM-dd HH:mm:ss\" (local time, years 1970 to 9999)");
            return -1;
        }
        if (t > now_real) {
            *due = t;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ WebSocket origins */

/* 1 if the comma-separated list has item (case-insensitive), or "*". */
static int list_has(const char *list, const char *item, size_t n)
{
    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t m = comma ? (size_t)(comma - list) : strlen(list);
        while (m && list[m - 1] == '/') {
            m--; /* "https://example.org/" names the same origin */
        }
        if ((m == 1 && *list == '*') || (m == n && !strncasecmp(list, item, n))) {
            return 1;
        }
        list = comma ? comma + 1 : NULL;
    }
    return 0;
}

int hub_origin_allowed(const char *origin, const char *host, const char *allow_origins)
{
    if (!origin || !*origin) {
        return 1; /* not a browser page: no cross-site risk */
    }
    size_t n = strlen(origin);
    while (n && origin[n - 1] == '/') {
        n--;
    }
    if (list_has(allow_origins, origin, n)) {
        return 1;
    }
    const char *auth = strstr(origin, "://");
    if (!auth) {
        return 0; /* "null" (a sandboxed page or a file) and anything odd */
    }
    auth += 3;
    size_t alen = (size_t)(origin + n - auth);
    if (host && strlen(host) == alen && !strncasecmp(host, auth, alen)) {
        return 1; /* same origin: the hub's own pages (--www) */
    }
    size_t hlen = auth[0] == '[' ? strcspn(auth, "]") + 1 : strcspn(auth, ":/");
    if (hlen > alen) {
        return 0;
    }
    static const char *const local[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof local / sizeof *local; i++) {
        if (hlen == strlen(local[i]) && !strncasecmp(auth, local[i], hlen)) {
            return 1;
        }
    }
    return 0;
}
