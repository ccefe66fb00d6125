/*
 * libFuzzer target: endpoint URL parsing (oocsi__url_parse, core/util.c).
 * The input is one NUL-terminated string. An accepted URL must have sane
 * fields, and its normalised form must parse to the same fields again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                               \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    oocsi__url u, v;
    int rc;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0'; /* an embedded NUL ends the string, as in C callers */

    rc = oocsi__url_parse(text, &u);
    FUZZ_CHECK(rc == OOCSI_OK || rc == OOCSI_ERR_INVAL);
    if (rc != OOCSI_OK) {
        FUZZ_CHECK(u.url == NULL && u.scheme == NULL && u.host == NULL && u.path == NULL);
        free(text);
        return 0;
    }
    FUZZ_CHECK(u.url != NULL && u.scheme != NULL && u.host != NULL && u.path != NULL);
    FUZZ_CHECK(u.scheme[0] != '\0');
    FUZZ_CHECK(u.port == -1 || (u.port >= 1 && u.port <= 65535));
    for (const char *p = u.scheme; *p; p++) {
        FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
    }

    /* the normalised form is a fixed point */
    rc = oocsi__url_parse(u.url, &v);
    FUZZ_CHECK(rc == OOCSI_OK);
    FUZZ_CHECK(strcmp(u.url, v.url) == 0);
    FUZZ_CHECK(strcmp(u.scheme, v.scheme) == 0);
    FUZZ_CHECK(strcmp(u.host, v.host) == 0);
    FUZZ_CHECK(strcmp(u.path, v.path) == 0);
    FUZZ_CHECK(u.port == v.port);

    oocsi__url_free(&v);
    oocsi__url_free(&u);
    FUZZ_CHECK(u.url == NULL && u.port == -1);
    free(text);
    return 0;
}
