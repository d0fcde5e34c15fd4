/* Errors, allocation and shapes: the few things every stage of the pipeline needs. */
#include "common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char error_msg[1024];
static _Thread_local hb_status error_status;

const char *hb_last_error(void) { return error_msg; }
hb_status hb_last_status(void) { return error_status; }

void hb_clear_error(void)
{
    error_msg[0] = '\0';
    error_status = HB_OK;
}

hb_status hb_error_set(hb_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_msg, sizeof error_msg, fmt, ap);
    va_end(ap);
    error_status = status;
    return status;
}

bool (*hb_alloc_hook)(size_t n);

static bool alloc_allowed(size_t n)
{
    if (hb_alloc_hook && !hb_alloc_hook(n)) {
        hb_error_set(HB_ERR_NOMEM, "out of memory (allocating %zu bytes)", n);
        return false;
    }
    return true;
}

static void *checked(void *p, size_t n)
{
    if (!p)
        hb_error_set(HB_ERR_NOMEM, "out of memory (allocating %zu bytes)", n);
    return p;
}

void *hb_malloc(size_t n) { return alloc_allowed(n) ? checked(malloc(n ? n : 1), n) : NULL; }

void *hb_calloc(size_t count, size_t n)
{
    return alloc_allowed(count * n) ? checked(calloc(count ? count : 1, n ? n : 1), count * n)
                                    : NULL;
}

void *hb_realloc(void *p, size_t n)
{
    return alloc_allowed(n) ? checked(realloc(p, n ? n : 1), n) : NULL;
}

void *hb_aligned_alloc(size_t n)
{
    /* aligned_alloc wants a multiple of the alignment; 64 bytes suits AVX-512 loads. */
    size_t rounded = (n + 63) & ~(size_t)63;
    if (rounded < n)
        return hb_error_set(HB_ERR_NOMEM, "out of memory (allocating %zu bytes)", n), NULL;
    return alloc_allowed(n) ? checked(aligned_alloc(64, rounded ? rounded : 64), n) : NULL;
}

void hb_free(void *p) { free(p); }
void hb_aligned_free(void *p) { free(p); }

char *hb_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hb_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

bool hb_mul_ok(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return false;
    return !__builtin_mul_overflow(a, b, out);
}

hb_shape hb_shape_make(int ndim, const int64_t *dim)
{
    hb_shape s = {.ndim = ndim};
    for (int i = 0; i < ndim && i < HB_MAX_DIMS; i++)
        s.dim[i] = dim[i];
    return s;
}

int64_t hb_shape_numel(const hb_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dim[i];
    return n;
}

bool hb_shape_equal(const hb_shape *a, const hb_shape *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

char *hb_shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

const char *hb_shape_fmt(const hb_shape *s, char *buf, size_t size)
{
    return hb_shape_str(s->ndim, s->dim, buf, size);
}

void hb_error_set_aside(hb_pending_error *p)
{
    p->status = hb_last_status();
    snprintf(p->message, sizeof p->message, "%s", hb_last_error());
    hb_clear_error();
}

void hb_error_put_back(const hb_pending_error *p)
{
    if (p->status != HB_OK && hb_last_status() == HB_OK)
        hb_error_set(p->status, "%s", p->message);
}
