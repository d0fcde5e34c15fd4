/* The clock and the median every benchmark (and `hybrid bench`) uses, so all timings mean the
 * same thing: monotonic wall time, medians of rounds. */
#ifndef HYBRID_BENCH_TIMING_H
#define HYBRID_BENCH_TIMING_H

#include <stdlib.h>
#include <time.h>

static inline double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static inline double now_us(void) { return now_ns() / 1e3; }

static inline int timing_by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v (n > 0 times) in place and returns its median. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, timing_by_value);
    return v[n / 2];
}

#endif
