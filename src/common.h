/* What every module shares: the error state, the allocator every module goes through (so tests
 * can count and fail allocations), shapes as values, and checked size arithmetic. */
#ifndef HB_COMMON_H
#define HB_COMMON_H

#include "hybrid.h"

#include <stddef.h>

/* A shape as a value: cheap to copy, no ownership. */
typedef struct hb_shape {
    int ndim;
    int64_t dim[HB_MAX_DIMS];
} hb_shape;

hb_shape hb_shape_make(int ndim, const int64_t *dim);
int64_t hb_shape_numel(const hb_shape *s);
bool hb_shape_equal(const hb_shape *a, const hb_shape *b);
const char *hb_shape_fmt(const hb_shape *s, char *buf, size_t size);

/* Sets the thread's error to the message as given, formatted as printf (the frontend's
 * hb_frame_fail puts the block path of the current call in front). Returns status for
 * chaining. */
hb_status hb_error_set(hb_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failure pending on this thread, set aside while something that reports its own failures
 * runs (an island inside a plan, the JIT), and put back after it unless that failed too. */
typedef struct hb_pending_error {
    hb_status status;
    char message[512];
} hb_pending_error;
void hb_error_set_aside(hb_pending_error *p);
void hb_error_put_back(const hb_pending_error *p);

/* All library memory goes through these. hb_alloc_hook (tests only) may fail an allocation. */
void *hb_malloc(size_t n);
void *hb_calloc(size_t count, size_t n);
void *hb_realloc(void *p, size_t n);
void *hb_aligned_alloc(size_t n); /* 64-byte aligned, freed with hb_aligned_free */
void hb_free(void *p);
void hb_aligned_free(void *p);
char *hb_strdup(const char *s);
extern bool (*hb_alloc_hook)(size_t n); /* returns false to make the allocation fail */

/* a*b into *out; false on overflow or negative operands. */
bool hb_mul_ok(int64_t a, int64_t b, int64_t *out);

#define HB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
