/*
 * Variable arithmetic: min/max clamping and the smoothing window with the sigma rule. Pure functions over one value;
 * the variable object wires them to a client.
 */
#include "varmath.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void oocsi__varmath_init(oocsi__varmath *m)
{
    if (!m) {
        return;
    }
    memset(m, 0, sizeof *m);
    m->window = NULL;
    m->value = 0.0;
    m->min = m->max = m->sigma = 0.0;
}

void oocsi__varmath_free(oocsi__varmath *m)
{
    if (!m) {
        return;
    }
    free(m->window);
    oocsi__varmath_init(m);
}

void oocsi__varmath_set_min(oocsi__varmath *m, double min)
{
    if (!m || isnan(min)) {
        return;
    }
    m->has_min = 1;
    m->min = min;
    if (!m->has_value || m->value < min) {
        m->value = min;
        m->has_value = 1;
    }
}

void oocsi__varmath_set_max(oocsi__varmath *m, double max)
{
    if (!m || isnan(max)) {
        return;
    }
    m->has_max = 1;
    m->max = max;
    if (!m->has_value || m->value > max) {
        m->value = max;
        m->has_value = 1;
    }
}

int oocsi__varmath_set_smooth(oocsi__varmath *m, int window, double sigma)
{
    double *ring;
    int keep, i;
    if (!m || window < 1) {
        return m ? oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_smooth: window must be >= 1 (got %d)", window)
                 : oocsi_fail(OOCSI_ERR_INVAL, "oocsi_variable_smooth: v is NULL");
    }
    if ((size_t)window > SIZE_MAX / sizeof(double)) {
        return OOCSI_ERR_NOMEM;
    }
    ring = malloc((size_t)window * sizeof(double));
    if (!ring) {
        return OOCSI_ERR_NOMEM;
    }
    keep = m->count < window ? m->count : window;
    /* the newest keep values, oldest first */
    for (i = 0; i < keep; i++) {
        int src = ((m->head - keep + i) % m->window_len + m->window_len) % m->window_len;
        ring[i] = m->window[src];
    }
    free(m->window);
    m->window = ring;
    m->window_len = window;
    m->count = keep;
    m->head = keep % window;
    m->sigma = sigma;
    return OOCSI_OK;
}

/* Sum of the window (oldest first) of x / div, Neumaier-compensated if
 * compensated (fsum-like accuracy), else plain. */
static double window_sum(const oocsi__varmath *m, double div, int compensated)
{
    double sum = 0.0, c = 0.0;
    int i, start = ((m->head - m->count) % m->window_len + m->window_len) % m->window_len;
    for (i = 0; i < m->count; i++) {
        double x = m->window[(start + i) % m->window_len] / div;
        double t = sum + x;
        if (compensated) {
            if (fabs(sum) >= fabs(x)) {
                c += (sum - t) + x;
            } else {
                c += (x - t) + sum;
            }
        }
        sum = t;
    }
    return sum + c;
}

static double window_mean(const oocsi__varmath *m)
{
    double plain = window_sum(m, 1.0, 0);
    int i;
    if (!isfinite(plain)) {
        for (i = 0; i < m->count; i++) {
            if (!isfinite(m->window[i])) {
                return plain / m->count; /* inf or nan inside (slots 0..count-1 are the used ones) */
            }
        }
        /* finite values whose sum overflows: average the scaled values */
        return window_sum(m, (double)m->count, 1);
    }
    return window_sum(m, 1.0, 1) / m->count;
}

double oocsi__varmath_get(const oocsi__varmath *m)
{
    if (!m) {
        return NAN;
    }
    if (m->window_len > 0 && m->count > 0) {
        return window_mean(m);
    }
    return m->has_value ? m->value : NAN;
}

double oocsi__varmath_apply(oocsi__varmath *m, double v)
{
    if (!m || isnan(v)) {
        return NAN;
    }
    int clamped = 1;
    if (m->has_min && v < m->min) {
        v = m->min;
    } else if (m->has_max && v > m->max) {
        v = m->max;
    } else {
        clamped = 0;
    }
    /* Python skips the sigma rule for a clamped value; Java applies it to the
     * clamped value too, and only once the window holds values (its mean). */
    int window_has = m->window_len > 0 && m->count > 0;
    if (m->sigma > 0 && (m->java_order ? window_has : !clamped)) {
        double mean = oocsi__varmath_get(m);
        if (!isnan(mean) && fabs(mean - v) > m->sigma) {
            /* k = values in the window; 1 when empty (Python divides by 0) */
            int k = window_has ? m->count : 1;
            v = mean > v ? mean - m->sigma / k : mean + m->sigma / k;
        }
    }
    if (m->window_len > 0) {
        m->window[m->head] = v;
        m->head = (m->head + 1) % m->window_len;
        if (m->count < m->window_len) {
            m->count++;
        }
    }
    m->value = v;
    m->has_value = 1;
    return v;
}
