/*
 * Handle rules: which handles are acceptable, and the handle to send (generated, or with each '#' replaced by a random
 * digit).
 */
#include "handles.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *oocsi__handle_problem(const char *handle)
{
    size_t len, name_len;
    const char *p;
    if (!handle || !handle[0]) {
        return NULL; /* NULL and "" request a generated handle */
    }
    len = 0;
    for (p = handle; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == ' ' || (ch >= 0x09 && ch <= 0x0D)) {
            return "it contains whitespace (use '_' or '-' instead of spaces)";
        }
        if (ch < 0x21 || ch > 0x7E) {
            return "it contains a control or non-ASCII character (only printable ASCII is allowed)";
        }
        if (ch == '"') {
            /* servers quote handles in their answers without escaping */
            return "it contains a double quote";
        }
        if (++len > OOCSI_HANDLE_MAX) {
            return "it is longer than 194 characters";
        }
    }
    name_len = strcspn(handle, ":");
    if (name_len == 0) {
        return "the name before ':' is empty";
    }
    if (handle[name_len] == ':' && handle[name_len + 1] == '\0') {
        return "the password after ':' is empty";
    }
    return NULL;
}

int oocsi__handle_check(const char *handle)
{
    return oocsi__handle_problem(handle) ? OOCSI_ERR_INVAL : OOCSI_OK;
}

size_t oocsi__handle_name_len(const char *handle)
{
    return handle ? strcspn(handle, ":") : 0;
}

char *oocsi__handle_resolve(const char *requested, oocsi__rng *r)
{
    static const char prefix[] = "OOCSIClient_";
    static const char hex[] = "0123456789abcdef";
    oocsi__rng local;
    char *out;
    size_t i, len;

    if (!r) {
        oocsi__rng_seed(&local);
        r = &local;
    }
    if (!requested || !requested[0]) {
        uint64_t x = oocsi__rng_next(r);
        out = malloc(sizeof prefix + 15);
        if (!out) {
            return NULL;
        }
        memcpy(out, prefix, sizeof prefix - 1);
        /* 15 nibbles = the top 60 bits of one output */
        for (i = 0; i < 15; i++) {
            out[sizeof prefix - 1 + i] = hex[(x >> (60 - 4 * i)) & 0xF];
        }
        out[sizeof prefix - 1 + 15] = '\0';
        return out;
    }
    len = strlen(requested);
    out = malloc(len + 1);
    if (!out) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        out[i] = requested[i] == '#' ? (char)('0' + oocsi__rng_below(r, 10)) : requested[i];
    }
    out[len] = '\0';
    return out;
}
