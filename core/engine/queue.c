/*
 * The bounded FIFO of outgoing commands kept while offline.
 */
#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t qitem_size(const oocsi__qitem *it)
{
    return (it->arg ? strlen(it->arg) : 0) + it->payload_len;
}

oocsi__qitem *oocsi__qitem_new(int type, const char *arg, const char *payload, size_t payload_len)
{
    /* one allocation: the item, then its argument and its payload */
    size_t alen = arg ? strlen(arg) + 1 : 0;
    size_t plen = payload ? payload_len + 1 : 0;
    if (plen && plen < payload_len) {
        return NULL;
    }
    if (alen + plen < alen || sizeof(oocsi__qitem) + alen + plen < alen + plen) {
        return NULL;
    }
    oocsi__qitem *it = malloc(sizeof *it + alen + plen);
    if (!it) {
        return NULL;
    }
    memset(it, 0, sizeof *it);
    it->type = type;
    char *p = (char *)(it + 1);
    if (arg) {
        memcpy(p, arg, alen);
        it->arg = p;
        p += alen;
    }
    if (payload) {
        memcpy(p, payload, payload_len);
        p[payload_len] = '\0';
        it->payload = p;
        it->payload_len = payload_len;
    }
    return it;
}

void oocsi__qitem_free(oocsi__qitem *it)
{
    free(it);
}

int oocsi__queue_push(oocsi__queue *q, oocsi__qitem *it)
{
    size_t size;
    if (!q || !it) {
        return OOCSI_ERR_INVAL;
    }
    size = qitem_size(it);
    if (q->max_count && q->count >= q->max_count) {
        return OOCSI_ERR_QUEUE_FULL;
    }
    /* bytes may exceed max_bytes after push_front; written to avoid overflow */
    if (q->max_bytes && (q->bytes > q->max_bytes || size > q->max_bytes - q->bytes)) {
        return OOCSI_ERR_QUEUE_FULL;
    }
    it->next = NULL;
    if (q->tail) {
        q->tail->next = it;
    } else {
        q->head = it;
    }
    q->tail = it;
    q->count++;
    q->bytes += size;
    return OOCSI_OK;
}

void oocsi__queue_push_front(oocsi__queue *q, oocsi__qitem *it)
{
    if (!q || !it) {
        return;
    }
    it->next = q->head;
    q->head = it;
    if (!q->tail) {
        q->tail = it;
    }
    q->count++;
    q->bytes += qitem_size(it);
}

void oocsi__queue_push_back(oocsi__queue *q, oocsi__qitem *it)
{
    if (!q || !it) {
        return;
    }
    it->next = NULL;
    if (q->tail) {
        q->tail->next = it;
    } else {
        q->head = it;
    }
    q->tail = it;
    q->count++;
    q->bytes += qitem_size(it);
}

oocsi__qitem *oocsi__queue_pop(oocsi__queue *q)
{
    oocsi__qitem *it;
    if (!q || !q->head) {
        return NULL;
    }
    it = q->head;
    q->head = it->next;
    if (!q->head) {
        q->tail = NULL;
    }
    it->next = NULL;
    q->count--;
    q->bytes -= qitem_size(it);
    return it;
}

void oocsi__queue_clear(oocsi__queue *q)
{
    oocsi__qitem *it, *next;
    if (!q) {
        return;
    }
    for (it = q->head; it; it = next) {
        next = it->next;
        oocsi__qitem_free(it);
    }
    q->head = q->tail = NULL;
    q->count = 0;
    q->bytes = 0;
}
