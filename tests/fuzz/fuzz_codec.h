/*
 * Shared body of the codec fuzz targets (fuzz_line_codec.c,
 * fuzz_webjson_codec.c): decodes the input as one frame before and after a
 * welcome, and as a sequence of LF-separated frames like the core's line
 * reader; checks every event's invariants; re-encodes every MESSAGE event's
 * data with oocsi_json_ascii and checks the result is stable and can be sent;
 * where the codec has decode_lazy, checks it against decode (same event,
 * same payload, envelope and timestamp).
 * Any broken invariant aborts (a crash for libFuzzer).
 */
#ifndef OOCSI_FUZZ_CODEC_H
#define OOCSI_FUZZ_CODEC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "oocsi/codec.h"

#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                               \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* An encoded frame must stay one frame: no LF, CR or NUL in it. */
static void fuzz_check_frame(const oocsi_buf *out)
{
    FUZZ_CHECK(out->data != NULL);
    FUZZ_CHECK(out->data[out->len] == '\0');
    FUZZ_CHECK(memchr(out->data, '\n', out->len) == NULL);
    FUZZ_CHECK(memchr(out->data, '\r', out->len) == NULL);
    FUZZ_CHECK(memchr(out->data, '\0', out->len) == NULL);
}

/* Encodes cmd; an accepted command must give one clean frame. */
static void fuzz_encode(const oocsi_codec *codec, void *st, oocsi_command_type type, const char *arg,
                        const char *payload, size_t payload_len)
{
    oocsi_command cmd = {type, arg, payload, payload_len};
    oocsi_buf out = {NULL, 0, 0};
    int rc = codec->encode(st, &cmd, &out);

    FUZZ_CHECK(rc == OOCSI_OK || rc == OOCSI_ERR_INVAL || rc == OOCSI_ERR_UNSUPPORTED);
    if (rc == OOCSI_OK) {
        fuzz_check_frame(&out);
    }
    oocsi_buf_free(&out);
}

/* oocsi_json_ascii of a MESSAGE's data: pure ASCII, parses back to an
 * object, and encoding that again gives the same text (a fixed point). */
static void fuzz_round_trip(const oocsi_codec *codec, void *st, const cJSON *data)
{
    size_t len = 0, len2 = 0;
    int err = 0;
    char *text = oocsi_json_ascii(data, &len, &err);

    if (text == NULL) {
        FUZZ_CHECK(err != OOCSI_OK); /* out of memory or invalid UTF-8: said so */
        return;
    }
    FUZZ_CHECK(len == strlen(text));
    for (size_t i = 0; i < len; i++) {
        FUZZ_CHECK((unsigned char)text[i] >= 0x20 && (unsigned char)text[i] < 0x80); /* DEL may stay raw */
    }
    cJSON *back = cJSON_ParseWithLength(text, len);
    FUZZ_CHECK(back != NULL && cJSON_IsObject(back));
    char *text2 = oocsi_json_ascii(back, &len2, NULL);
    FUZZ_CHECK(text2 != NULL);
    FUZZ_CHECK(len2 == len && memcmp(text, text2, len) == 0);
    fuzz_encode(codec, st, OOCSI_CMD_SEND, "fuzz", text, len);
    oocsi_free(text2);
    cJSON_Delete(back);
    oocsi_free(text);
}

static int fuzz_text_ok(const char *s)
{
    return s != NULL && oocsi_utf8_valid(s, strlen(s));
}

/* Decodes one frame with st and checks the event. */
static void fuzz_decode(const oocsi_codec *codec, void *st, const char *frame, size_t len)
{
    oocsi_event ev;
    int rc;

    memset(&ev, 0, sizeof ev);
    rc = codec->decode(st, frame, len, &ev);
    FUZZ_CHECK(rc == OOCSI_OK);
    switch (ev.type) {
    case OOCSI_EVENT_WELCOME:
    case OOCSI_EVENT_TEXT:
        FUZZ_CHECK(fuzz_text_ok(ev.text));
        /* what a client does with such text: a handle, a query answer */
        fuzz_encode(codec, st, OOCSI_CMD_SUBSCRIBE, ev.text, NULL, 0);
        fuzz_encode(codec, st, OOCSI_CMD_HELLO, ev.text, NULL, 0);
        break;
    case OOCSI_EVENT_REJECTED:
        FUZZ_CHECK(fuzz_text_ok(ev.text));
        FUZZ_CHECK(ev.err == OOCSI_ERR_HANDLE_TAKEN || ev.err == OOCSI_ERR_AUTH || ev.err == OOCSI_ERR_PROTOCOL);
        break;
    case OOCSI_EVENT_INVALID:
        FUZZ_CHECK(fuzz_text_ok(ev.text));
        FUZZ_CHECK(ev.err == OOCSI_ERR_PROTOCOL);
        break;
    case OOCSI_EVENT_MESSAGE:
        FUZZ_CHECK(fuzz_text_ok(ev.sender));
        FUZZ_CHECK(fuzz_text_ok(ev.recipient));
        FUZZ_CHECK(ev.data != NULL && cJSON_IsObject(ev.data));
        fuzz_round_trip(codec, st, ev.data);
        /* answering a call goes back to the sender */
        fuzz_encode(codec, st, OOCSI_CMD_SEND, ev.sender, "{}", 2);
        break;
    case OOCSI_EVENT_NONE:
    case OOCSI_EVENT_PING:
    case OOCSI_EVENT_PONG:
    case OOCSI_EVENT_BYE:
        break;
    default:
        FUZZ_CHECK(!"unknown event type");
    }
    oocsi_event_clear(&ev);
    FUZZ_CHECK(ev.text == NULL && ev.sender == NULL && ev.recipient == NULL && ev.data == NULL);
}

/* The payload of an unparsed MESSAGE: its text without the envelope keys. */
static cJSON *fuzz_payload_of(const oocsi_event *ev)
{
    cJSON *root = cJSON_ParseWithLength(ev->json, ev->json_len);
    FUZZ_CHECK(root != NULL && cJSON_IsObject(root));
    static const char *const envelope[] = {"sender", "recipient", "timestamp"};
    for (int k = 0; k < 3; k++) {
        while (cJSON_GetObjectItemCaseSensitive(root, envelope[k]) != NULL) {
            cJSON_DeleteItemFromObjectCaseSensitive(root, envelope[k]);
        }
    }
    return root;
}

/* decode_lazy must say what decode says: an unparsed MESSAGE has checked
 * text whose payload, sender, recipient and timestamp equal the parsed
 * event's; any other event is of the same type. The state is the one decode
 * used (decoding a message does not change it). */
static void fuzz_decode_lazy(const oocsi_codec *codec, void *st, const char *frame, size_t len)
{
    oocsi_event a, b;

    /* what the checker accepts, cJSON parses (it may take more) */
    if (oocsi_json_scan_object(frame, len, NULL, NULL, NULL) >= 0) {
        cJSON *j = cJSON_ParseWithLength(frame, len);
        FUZZ_CHECK(cJSON_IsObject(j));
        cJSON_Delete(j);
    }
    if (codec->decode_lazy == NULL) {
        return;
    }
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    FUZZ_CHECK(codec->decode(st, frame, len, &a) == OOCSI_OK);
    if (a.type == OOCSI_EVENT_WELCOME) {
        oocsi_event_clear(&a);
        return; /* the state moved on: not comparable */
    }
    FUZZ_CHECK(codec->decode_lazy(st, frame, len, &b) == OOCSI_OK);
    FUZZ_CHECK(a.type == b.type);
    if (b.json != NULL) {
        FUZZ_CHECK(b.type == OOCSI_EVENT_MESSAGE && b.data == NULL && b.json[b.json_len] == '\0');
        FUZZ_CHECK(oocsi_json_scan_object(b.json, b.json_len, NULL, NULL, NULL) >= 0);
        cJSON *payload = fuzz_payload_of(&b);
        /* compared as text: cJSON_Compare does not handle duplicate keys */
        char *pa = cJSON_PrintUnformatted(a.data), *pb = cJSON_PrintUnformatted(payload);
        FUZZ_CHECK(pa != NULL && pb != NULL && strcmp(pa, pb) == 0);
        cJSON_free(pa);
        cJSON_free(pb);
        cJSON_Delete(payload);
        FUZZ_CHECK(strcmp(a.sender, b.sender) == 0 && strcmp(a.recipient, b.recipient) == 0);
        FUZZ_CHECK(a.timestamp == b.timestamp);
    }
    oocsi_event_clear(&a);
    oocsi_event_clear(&b);
}

/* One fuzz input. welcome: a frame the codec must take as the welcome. */
static int fuzz_codec(const oocsi_codec *codec, const char *welcome, const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    void *st = codec->create();
    oocsi_event ev;

    FUZZ_CHECK(st != NULL);

    /* 1. the whole input as one frame, before the handshake */
    fuzz_decode(codec, st, s, size);

    /* 2. the same after a welcome */
    codec->reset(st);
    memset(&ev, 0, sizeof ev);
    FUZZ_CHECK(codec->decode(st, welcome, strlen(welcome), &ev) == OOCSI_OK);
    FUZZ_CHECK(ev.type == OOCSI_EVENT_WELCOME && ev.text != NULL && strcmp(ev.text, "fuzz") == 0);
    oocsi_event_clear(&ev);
    fuzz_decode(codec, st, s, size);
    fuzz_decode_lazy(codec, st, s, size);

    /* 3. split on LF like the core's reader, from a fresh connection (the
     *    input may hold its own handshake) */
    codec->reset(st);
    for (size_t off = 0; off < size;) {
        const char *nl = memchr(s + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (s + off)) : size - off;
        fuzz_decode(codec, st, s + off, n);
        off += n + 1;
    }

    codec->destroy(st);
    return 0;
}

#endif
