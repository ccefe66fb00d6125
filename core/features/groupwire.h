/*
 * What the group behaviours (gather.c, consensus.c, sync.c, spread.c) share:
 * their channel names, the "handle" every message of theirs carries, the
 * messages themselves, argument checks, a small random source and a bounded
 * table of values keyed by name. Internal to core/features.
 */
#ifndef OOCSI_FEATURES_GROUPWIRE_H
#define OOCSI_FEATURES_GROUPWIRE_H

#include <stdint.h>

#include "oocsi/oocsi.h"

/* Most entries a behaviour keeps about its peers (votes, roles): beyond it
 * messages from new senders are ignored, so a flood cannot exhaust memory. */
#define OOCSI__BEH_MAX_PEERS 1024

/* Checks c, channel (no spaces or control characters) and key (NULL allowed
 * when key_required is 0) for the function fn, recording the reason with
 * oocsi_fail; OOCSI_OK or OOCSI_ERR_INVAL. */
int oocsi__beh_check(const char *fn, oocsi_client *c, const char *channel, const char *key, int key_required);
/* "<channel>_<key>_<suffix>" or, key NULL, "<channel>_<suffix>"; malloc'd. */
char *oocsi__beh_channel(const char *channel, const char *key, const char *suffix);
/* "<client handle>_<instance number>": what the instance's messages carry
 * under "handle", as the Java behaviours send; malloc'd. */
char *oocsi__beh_instance(oocsi_client *c);
/* Sends {"handle": instance, key: value} to channel; takes value (NULL:
 * nothing is sent, OOCSI_ERR_NOMEM). */
int oocsi__beh_send(oocsi_client *c, const char *channel, const char *instance, const char *key, cJSON *value);
/* A seed for oocsi__beh_random, different per call. */
uint64_t oocsi__beh_seed(const void *addr);
/* Uniform in [0, 1). */
double oocsi__beh_random(uint64_t *state);
/* Java's Math.round: floor(x + 0.5). */
int64_t oocsi__beh_round(double x);
/* An integer value as the Java getInt(key, dflt) reads it: numbers are
 * truncated, anything else gives dflt. */
int oocsi__beh_int(const cJSON *data, const char *key, int dflt);

/* Sets table[name] = a copy of value (table is a JSON object); a new name
 * beyond OOCSI__BEH_MAX_PEERS entries is ignored. OOCSI_OK, OOCSI_ERR_NOMEM
 * or OOCSI_ERR_QUEUE_FULL (table full). */
int oocsi__beh_table_put(cJSON *table, const char *name, const cJSON *value);
/* The values of table (a JSON object) as [{"value": v, "count": n}], most
 * frequent first, equal counts in the order of the values' JSON text; NULL
 * when out of memory. */
cJSON *oocsi__beh_histogram(const cJSON *table);

#endif
