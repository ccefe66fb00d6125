/*
 * What the support files share among themselves (not for tests): the list
 * of objects the per-test teardown frees, and their free functions.
 */
#ifndef OOCSI_IT_SUPPORT_INTERNAL_H
#define OOCSI_IT_SUPPORT_INTERNAL_H

#include "support.h"

enum { T_CLIENT, T_RAW, T_INBOX, T_STATES, T_LOG };

/* Tracks p (of type T_*) for the teardown; untracks it. */
void it__track(int type, void *p);
void it__untrack(const void *p);

void it__inbox_free(it_inbox *in);
void it__states_free(it_states *s);
void it__log_free(it_log *l);
void it__raw_free(it_raw *r);

/* Drives the tracked caller-driven clients for about slice ms; 0 if none. */
int it__pump(int slice);
/* support_java.c: the group setup in java mode (exits 77 with "SKIP: why"
 * when the server cannot run), and the query loop behind the waits. */
int it__java_group_setup(void);
int it__java_wait_listed(const char *handle, const char *channel, int want, int timeout_ms);

#endif
