/*
 * A finite state machine (the Java client's OOCSIStateMachine): named
 * states with enter/stay/exit callbacks and optional allowed transitions.
 * Local only: it sends nothing. A lock guards the tables and the current
 * state; the callbacks run after it is released, on the caller's thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "oocsi/behavior.h"

typedef struct state {
    char *name;
    oocsi_state_cb enter, stay, exit;
    void *user;
} state;

struct oocsi_statemachine {
    pthread_mutex_t mu;
    state *states;
    int n_states;
    int (*trans)[2]; /* (from, to) state indexes */
    int n_trans;
    int current; /* -1: none */
};

static pthread_mutex_t *lock_of(const oocsi_statemachine *m)
{
    return &((oocsi_statemachine *)m)->mu;
}

/* Index of name, or -1. Lock held. */
static int index_of(const oocsi_statemachine *m, const char *name)
{
    for (int i = 0; i < m->n_states; i++)
        if (strcmp(m->states[i].name, name) == 0)
            return i;
    return -1;
}

oocsi_statemachine *oocsi_statemachine_new(void)
{
    oocsi_statemachine *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->current = -1;
    return m;
}

void oocsi_statemachine_free(oocsi_statemachine *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_states; i++)
        free(m->states[i].name);
    free(m->states);
    free(m->trans);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int oocsi_statemachine_add_state(oocsi_statemachine *m, const char *name, oocsi_state_cb enter, oocsi_state_cb stay,
                                 oocsi_state_cb exit, void *user)
{
    if (!m || !name || !*name)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_statemachine_add_state: %s",
                          !m      ? "m is NULL"
                          : !name ? "name is NULL"
                                  : "name is empty");
    pthread_mutex_lock(&m->mu);
    int i = index_of(m, name);
    if (i < 0) {
        state *grown = realloc(m->states, (size_t)(m->n_states + 1) * sizeof(*grown));
        char *copy = strdup(name);
        if (grown)
            m->states = grown;
        if (!grown || !copy) {
            pthread_mutex_unlock(&m->mu);
            free(copy);
            return OOCSI_ERR_NOMEM;
        }
        i = m->n_states++;
        m->states[i].name = copy;
    }
    m->states[i].enter = enter;
    m->states[i].stay = stay;
    m->states[i].exit = exit;
    m->states[i].user = user;
    pthread_mutex_unlock(&m->mu);
    return OOCSI_OK;
}

int oocsi_statemachine_add_transition(oocsi_statemachine *m, const char *from, const char *to)
{
    if (!m || !from || !to)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_statemachine_add_transition: %s is NULL",
                          !m      ? "m"
                          : !from ? "from"
                                  : "to");
    pthread_mutex_lock(&m->mu);
    int f = index_of(m, from), t = index_of(m, to);
    if (f < 0 || t < 0) {
        pthread_mutex_unlock(&m->mu);
        return oocsi_fail(OOCSI_ERR_NOT_FOUND,
                          "oocsi_statemachine_add_transition: no state \"%s\" (add states before their transitions)",
                          f < 0 ? from : to);
    }
    int(*grown)[2] = realloc(m->trans, (size_t)(m->n_trans + 1) * sizeof(*grown));
    if (!grown) {
        pthread_mutex_unlock(&m->mu);
        return OOCSI_ERR_NOMEM;
    }
    m->trans = grown;
    m->trans[m->n_trans][0] = f;
    m->trans[m->n_trans][1] = t;
    m->n_trans++;
    pthread_mutex_unlock(&m->mu);
    return OOCSI_OK;
}

/* Whether from -> to is allowed. Lock held. */
static int allowed(const oocsi_statemachine *m, int from, int to)
{
    if (m->n_trans == 0 || from < 0)
        return 1;
    for (int i = 0; i < m->n_trans; i++)
        if (m->trans[i][0] == from && m->trans[i][1] == to)
            return 1;
    return 0;
}

int oocsi_statemachine_set(oocsi_statemachine *m, const char *name)
{
    if (!m || !name)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_statemachine_set: %s is NULL", m ? "name" : "m");
    pthread_mutex_lock(&m->mu);
    int to = index_of(m, name), from = m->current;
    if (to < 0) {
        pthread_mutex_unlock(&m->mu);
        return oocsi_fail(OOCSI_ERR_NOT_FOUND, "oocsi_statemachine_set: no state \"%s\"", name);
    }
    if (!allowed(m, from, to)) {
        const char *cur = m->states[from].name;
        pthread_mutex_unlock(&m->mu);
        return oocsi_fail(OOCSI_ERR_UNSUPPORTED, "oocsi_statemachine_set: no transition from \"%s\" to \"%s\"", cur,
                          name);
    }
    state old = from >= 0 ? m->states[from] : (state){0};
    state neu = m->states[to];
    m->current = to;
    pthread_mutex_unlock(&m->mu);
    /* Names live until the machine is freed: safe to pass unlocked. */
    if (old.exit)
        old.exit(m, old.name, old.user);
    if (neu.enter)
        neu.enter(m, neu.name, neu.user);
    return OOCSI_OK;
}

const char *oocsi_statemachine_get(const oocsi_statemachine *m)
{
    if (!m) {
        oocsi_fail(OOCSI_ERR_INVAL, "oocsi_statemachine_get: m is NULL");
        return NULL;
    }
    pthread_mutex_lock(lock_of(m));
    const char *name = m->current >= 0 ? m->states[m->current].name : NULL;
    pthread_mutex_unlock(lock_of(m));
    return name;
}

int oocsi_statemachine_is(const oocsi_statemachine *m, const char *name)
{
    const char *cur = oocsi_statemachine_get(m);
    return cur && name && strcmp(cur, name) == 0;
}

int oocsi_statemachine_execute(oocsi_statemachine *m)
{
    if (!m)
        return oocsi_fail(OOCSI_ERR_INVAL, "oocsi_statemachine_execute: m is NULL");
    pthread_mutex_lock(&m->mu);
    state cur = m->current >= 0 ? m->states[m->current] : (state){0};
    pthread_mutex_unlock(&m->mu);
    if (cur.stay)
        cur.stay(m, cur.name, cur.user);
    return OOCSI_OK;
}
