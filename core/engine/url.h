/*
 * Endpoint URLs: "scheme://host[:port][/path]", "host", "host:port", "[v6]:port".
 * Internal to the library; unit-tested in tests/unit/test_url.c.
 */
#ifndef OOCSI_ENGINE_URL_H
#define OOCSI_ENGINE_URL_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/oocsi.h"

typedef struct oocsi__url {
    char *url;    /* normalised "scheme://host:port/path" */
    char *scheme; /* lower case */
    char *host;   /* IPv6 literals without brackets */
    int port;     /* -1 if absent */
    char *path;   /* "" if absent */
} oocsi__url;
/** Parses "scheme://host[:port][/path]", "host", "host:port", "[v6]:port".
 *  The scheme defaults to "tcp". OOCSI_OK, OOCSI_ERR_INVAL, OOCSI_ERR_NOMEM. */
int oocsi__url_parse(const char *text, oocsi__url *out);
void oocsi__url_free(oocsi__url *u);

#endif
