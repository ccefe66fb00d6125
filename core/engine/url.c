/*
 * Endpoint URLs: "scheme://host[:port][/path]", "host", "host:port", "[v6]:port".
 */
#include "url.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_hex(int ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* RFC 3986 reg-name characters (unreserved, sub-delims, '%'). */
static int is_host_char(int ch)
{
    return is_alpha(ch) || is_digit(ch) || (ch != '\0' && strchr("-._~%!$&'()*+,;=", ch) != NULL);
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* "1".."65535", digits only. */
static int parse_port(const char *s, size_t n, int *port)
{
    long v = 0;
    size_t i;
    if (n == 0) {
        return OOCSI_ERR_INVAL;
    }
    for (i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) {
            return OOCSI_ERR_INVAL;
        }
        v = v * 10 + (s[i] - '0');
        if (v > 65535) {
            return OOCSI_ERR_INVAL;
        }
    }
    if (v < 1) {
        return OOCSI_ERR_INVAL;
    }
    *port = (int)v;
    return OOCSI_OK;
}

/* Contents of "[...]": hex digits, ':' and '.', at least one ':', optionally
 * a "%zone" of unreserved characters. */
static int valid_ipv6(const char *s, size_t n)
{
    size_t i;
    int colons = 0;
    for (i = 0; i < n && s[i] != '%'; i++) {
        if (s[i] == ':') {
            colons++;
        } else if (!is_hex((unsigned char)s[i]) && s[i] != '.') {
            return 0;
        }
    }
    if (colons == 0) {
        return 0;
    }
    if (i < n) {
        if (++i == n) {
            return 0; /* empty zone */
        }
        for (; i < n; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (!is_alpha(ch) && !is_digit(ch) && !strchr("-._~", ch)) {
                return 0;
            }
        }
    }
    return 1;
}

static int scheme_needs_host(const char *scheme)
{
    return !strcmp(scheme, "tcp") || !strcmp(scheme, "tls") || !strcmp(scheme, "ws") || !strcmp(scheme, "wss");
}

void oocsi__url_free(oocsi__url *u)
{
    if (!u) {
        return;
    }
    free(u->url);
    free(u->scheme);
    free(u->host);
    free(u->path);
    u->url = u->scheme = u->host = u->path = NULL;
    u->port = -1;
}

int oocsi__url_parse(const char *text, oocsi__url *out)
{
    const char *p, *sep, *rest, *auth_end, *host_start, *port_start = NULL;
    size_t scheme_len, host_len, port_len = 0, i, n;
    int port = -1, rc;
    oocsi__url u = {NULL, NULL, NULL, -1, NULL};

    if (!out) {
        return OOCSI_ERR_INVAL;
    }
    *out = u;
    if (!text || !text[0]) {
        return OOCSI_ERR_INVAL;
    }
    for (p = text; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch == 0x7F) {
            return OOCSI_ERR_INVAL; /* whitespace or control character */
        }
    }

    /* scheme */
    sep = strstr(text, "://");
    if (sep) {
        scheme_len = (size_t)(sep - text);
        if (scheme_len == 0 || !is_alpha((unsigned char)text[0])) {
            return OOCSI_ERR_INVAL;
        }
        for (i = 1; i < scheme_len; i++) {
            unsigned char ch = (unsigned char)text[i];
            if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '-' && ch != '.') {
                return OOCSI_ERR_INVAL;
            }
        }
        rest = sep + 3;
    } else {
        scheme_len = 0;
        rest = text;
    }

    /* authority = up to the first '/' or '?' */
    auth_end = rest + strcspn(rest, "/?");
    if (rest < auth_end && rest[0] == '[') {
        const char *close = memchr(rest, ']', (size_t)(auth_end - rest));
        if (!close || !valid_ipv6(rest + 1, (size_t)(close - rest - 1))) {
            return OOCSI_ERR_INVAL;
        }
        host_start = rest + 1;
        host_len = (size_t)(close - rest - 1);
        if (close + 1 < auth_end) {
            if (close[1] != ':') {
                return OOCSI_ERR_INVAL;
            }
            port_start = close + 2;
            port_len = (size_t)(auth_end - port_start);
        }
    } else {
        const char *colon = memchr(rest, ':', (size_t)(auth_end - rest));
        host_start = rest;
        host_len = (size_t)((colon ? colon : auth_end) - rest);
        if (colon) {
            port_start = colon + 1;
            port_len = (size_t)(auth_end - port_start);
        }
        for (i = 0; i < host_len; i++) {
            if (!is_host_char((unsigned char)host_start[i])) {
                return OOCSI_ERR_INVAL; /* e.g. "user@host", "h[x]", "h#x" */
            }
        }
    }
    if (port_start) {
        /* digits only: also rejects "h:1:2" and "::1" without brackets */
        if (parse_port(port_start, port_len, &port) != OOCSI_OK) {
            return OOCSI_ERR_INVAL;
        }
    }

    u.scheme = scheme_len ? dup_range(text, scheme_len) : dup_range("tcp", 3);
    u.host = dup_range(host_start, host_len);
    u.path = dup_range(auth_end, strlen(auth_end));
    u.port = port;
    if (!u.scheme || !u.host || !u.path) {
        rc = OOCSI_ERR_NOMEM;
        goto fail;
    }
    for (i = 0; u.scheme[i]; i++) {
        if (u.scheme[i] >= 'A' && u.scheme[i] <= 'Z') {
            u.scheme[i] = (char)(u.scheme[i] - 'A' + 'a');
        }
    }
    if (host_len == 0 && scheme_needs_host(u.scheme)) {
        rc = OOCSI_ERR_INVAL;
        goto fail;
    }

    /* normalised "scheme://host[:port]path", IPv6 literals in brackets */
    {
        int is_v6 = memchr(u.host, ':', host_len) != NULL;
        char portbuf[16] = "";
        int len;
        if (port > 0) {
            snprintf(portbuf, sizeof portbuf, ":%d", port);
        }
        n = strlen(u.scheme) + 3 + host_len + 2 + strlen(portbuf) + strlen(u.path) + 1;
        u.url = malloc(n);
        if (!u.url) {
            rc = OOCSI_ERR_NOMEM;
            goto fail;
        }
        len = snprintf(u.url, n, "%s://%s%s%s%s%s", u.scheme, is_v6 ? "[" : "", u.host, is_v6 ? "]" : "", portbuf,
                       u.path);
        if (len < 0 || (size_t)len >= n) {
            rc = OOCSI_ERR_INVAL; /* cannot happen: n is exact or larger */
            goto fail;
        }
    }
    *out = u;
    return OOCSI_OK;

fail:
    oocsi__url_free(&u);
    return rc;
}
