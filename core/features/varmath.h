/*
 * Variable arithmetic: min/max clamping and the smoothing window with the sigma rule. Pure functions over one value;
 * the variable object wires them to a client. Internal to the library; unit-tested in tests/unit/test_varmath.c.
 */
#ifndef OOCSI_FEATURES_VARMATH_H
#define OOCSI_FEATURES_VARMATH_H

#include <stddef.h>
#include <stdint.h>

#include "oocsi/oocsi.h"

typedef struct oocsi__varmath {
    int has_value;
    double value;
    int has_min, has_max;
    double min, max;
    int window_len; /* 0: not smoothing */
    double sigma;   /* <= 0: none */
    int java_order; /* 1: the sigma rule also after clamping, and only with values in the window (Java) */
    double *window; /* ring of window_len values */
    int count;      /* values in the window */
    int head;       /* next write position */
} oocsi__varmath;

void oocsi__varmath_init(oocsi__varmath *m);
void oocsi__varmath_free(oocsi__varmath *m);
/** Sets the minimum; no value or a smaller one becomes min. */
void oocsi__varmath_set_min(oocsi__varmath *m, double min);
void oocsi__varmath_set_max(oocsi__varmath *m, double max);
/** window >= 1 (else OOCSI_ERR_INVAL); keeps the newest values that fit. */
int oocsi__varmath_set_smooth(oocsi__varmath *m, int window, double sigma);
/** Applies a value (local set or remote update): clamp, then the sigma rule
 *  (Python order: only when not clamped; java_order: also after clamping),
 *  then window or value. Returns the filtered value (before averaging), NAN
 *  when v is NaN or m is NULL. */
double oocsi__varmath_apply(oocsi__varmath *m, double v);
/** Mean of the window when smoothing with values; else the value; NAN if none. */
double oocsi__varmath_get(const oocsi__varmath *m);

#endif
