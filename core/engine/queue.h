/*
 * The bounded FIFO of outgoing commands kept while offline.
 * Internal to the library; unit-tested in tests/unit/test_queue.c.
 */
#ifndef OOCSI_ENGINE_QUEUE_H
#define OOCSI_ENGINE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/oocsi.h"

typedef struct oocsi__qitem {
    struct oocsi__qitem *next;
    int type;      /* an oocsi_command_type */
    char *arg;     /* recipient or channel (in the item's allocation) */
    char *payload; /* JSON text (in the item's allocation) or NULL */
    size_t payload_len;
    uint64_t end; /* written to the wire: absolute output offset where its frame ends */
} oocsi__qitem;

typedef struct oocsi__queue {
    oocsi__qitem *head, *tail;
    size_t count, bytes;         /* bytes = sum of strlen(arg) + payload_len */
    size_t max_count, max_bytes; /* 0 = unbounded */
} oocsi__queue;

/** New item with copies of arg and payload (payload may be NULL), all in
 *  one allocation. */
oocsi__qitem *oocsi__qitem_new(int type, const char *arg, const char *payload, size_t payload_len);
void oocsi__qitem_free(oocsi__qitem *it);
/** Appends it (taking ownership) or returns OOCSI_ERR_QUEUE_FULL (not taken). */
int oocsi__queue_push(oocsi__queue *q, oocsi__qitem *it);
/** Prepends it regardless of the bounds (used to put back unsent items). */
void oocsi__queue_push_front(oocsi__queue *q, oocsi__qitem *it);
/** Appends it regardless of the bounds (a message already accepted). */
void oocsi__queue_push_back(oocsi__queue *q, oocsi__qitem *it);
/** Removes and returns the first item, or NULL. */
oocsi__qitem *oocsi__queue_pop(oocsi__queue *q);
void oocsi__queue_clear(oocsi__queue *q);

#endif
