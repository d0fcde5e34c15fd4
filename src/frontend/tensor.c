/* Tensors: reference-counted, contiguous, row-major float32 arrays of up to 8 dims; creation,
 * host access and printing. */
#include "frontend.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

const hb_tensor_hooks *_Atomic hb_tensor_hook;

atomic_long hb_tensors_live;

enum {
    HEADER = 128,        /* the header's room: a multiple of 64 that holds struct hb_tensor */
    SMALL_TENSOR = 8192, /* bytes of data up to which a tensor comes from plain malloc */
};
_Static_assert(sizeof(struct hb_tensor) <= HEADER, "the tensor header fits its room");

/* Large tensors' memory, kept for reuse by the thread that frees it. An eager step makes and
 * frees the same few sizes over and over; given back to the system (glibc trims the top of
 * its heap), each is faulted in again page by page when next made — a third of an eager
 * training step of the seed MLP went to those faults. Blocks match by exact size; a few are
 * kept (16, at most 32 MB a thread), the oldest freed first, and a thread's are freed when it
 * exits (a block released by that thread after its exit handler ran is freed, not kept). */
enum { CACHE_BLOCKS = 16, CACHE_BYTES = 32 << 20 };

typedef struct block_cache {
    void *block[CACHE_BLOCKS];
    size_t size[CACHE_BLOCKS];
    int n;
    size_t bytes;
    bool registered; /* with the key whose destructor frees it */
} block_cache;

static _Thread_local block_cache cache;
static _Thread_local bool cache_closed; /* the thread's exit handler has run */
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *c)
{
    block_cache *bc = c;
    for (int i = 0; i < bc->n; i++)
        hb_aligned_free(bc->block[i]);
    bc->n = 0, bc->bytes = 0;
    cache_closed = true;
}

static void make_cache_key(void) { pthread_key_create(&cache_key, cache_free); }

static void *cache_take(size_t size)
{
    for (int i = cache.n - 1; i >= 0; i--)
        if (cache.size[i] == size) {
            void *p = cache.block[i];
            cache.bytes -= size;
            cache.n--;
            memmove(&cache.block[i], &cache.block[i + 1], sizeof(void *) * (size_t)(cache.n - i));
            memmove(&cache.size[i], &cache.size[i + 1], sizeof(size_t) * (size_t)(cache.n - i));
            return p;
        }
    return NULL;
}

static void cache_put(void *p, size_t size)
{
    if (size > CACHE_BYTES / 4 || cache_closed) {
        hb_aligned_free(p);
        return;
    }
    if (!cache.registered) {
        pthread_once(&cache_once, make_cache_key);
        pthread_setspecific(cache_key, &cache);
        cache.registered = true;
    }
    while (cache.n == CACHE_BLOCKS || cache.bytes + size > CACHE_BYTES) {
        hb_aligned_free(cache.block[0]);
        cache.bytes -= cache.size[0];
        cache.n--;
        memmove(&cache.block[0], &cache.block[1], sizeof(void *) * (size_t)cache.n);
        memmove(&cache.size[0], &cache.size[1], sizeof(size_t) * (size_t)cache.n);
    }
    cache.block[cache.n] = p, cache.size[cache.n] = size, cache.n++;
    cache.bytes += size;
}

hb_tensor *hb_tensor_alloc(const hb_shape *s) { return hb_tensor_alloc_typed(s, HB_F32); }

hb_tensor *hb_tensor_alloc_typed(const hb_shape *s, hb_dtype dtype)
{
    char sb[96];
    if (s->ndim < 0 || s->ndim > HB_MAX_DIMS)
        return hb_frame_fail(HB_ERR_SHAPE, "a tensor has at most %d dims, not %d", HB_MAX_DIMS,
                             s->ndim), NULL;
    int64_t numel = 1, bytes;
    for (int i = 0; i < s->ndim; i++)
        if (!hb_mul_ok(numel, s->dim[i], &numel))
            return hb_frame_fail(HB_ERR_SHAPE, "shape %s has a negative dim or is too large",
                                 hb_shape_fmt(s, sb, sizeof sb)), NULL;
    /* beyond 1 TiB no machine this runs on has the memory: a shape that big is a mistake
     * (a pad or a reshape gone wrong), said as one rather than as an allocation failure */
    if (!hb_mul_ok(numel, (int64_t)hb_dtypes[dtype].size, &bytes) || bytes > ((int64_t)1 << 40))
        return hb_frame_fail(HB_ERR_SHAPE, "shape %s is too large (over 1 TiB)",
                             hb_shape_fmt(s, sb, sizeof sb)), NULL;
    /* One allocation: the header, then the data. Large tensors are 64-byte aligned for full
     * cache lines; small ones come from plain malloc, whose per-thread caches are several
     * times faster than aligned allocation (kernels load unaligned, 16 bytes is enough). */
    size_t total = HEADER + (size_t)bytes;
    /* with an allocation hook (failure injection) every tensor is a fresh allocation */
    hb_tensor *t = bytes <= SMALL_TENSOR ? hb_malloc(total)
                   : hb_alloc_hook ? NULL : cache_take(total);
    if (!t && bytes > SMALL_TENSOR)
        t = hb_aligned_alloc(total);
    if (!t)
        return hb_frame_fail(HB_ERR_NOMEM, "out of memory for a tensor of shape %s",
                             hb_shape_fmt(s, sb, sizeof sb)), NULL;
    t->data = (float *)((char *)t + HEADER);
    atomic_init(&t->refs, 1);
    atomic_fetch_add_explicit(&hb_tensors_live, 1, memory_order_relaxed);
    t->trace_id = 0;
    t->trace_value = -1;
    t->trace_gen = 0;
    t->requires_grad = false;
    t->grad = NULL;
    atomic_init(&t->version, 0);
    t->dtype = dtype;
    t->shape = *s;
    t->numel = numel;
    return t;
}

hb_tensor *hb_tensor_alloc_meta(const hb_shape *s, hb_dtype dtype)
{
    hb_tensor *t = hb_malloc(HEADER);
    if (!t)
        return hb_frame_fail(HB_ERR_NOMEM, "out of memory for a tensor header"), NULL;
    *t = (hb_tensor){.dtype = dtype, .shape = *s, .numel = hb_shape_numel(s),
                     .trace_value = -1};
    atomic_init(&t->refs, 1);
    atomic_fetch_add_explicit(&hb_tensors_live, 1, memory_order_relaxed);
    return t;
}

static bool shape_arg(int ndim, const int64_t *shape, hb_shape *s)
{
    if (ndim < 0 || ndim > HB_MAX_DIMS || (ndim > 0 && !shape)) {
        hb_frame_fail(HB_ERR_ARG, "a tensor shape needs 0 to %d dims and a dims array (got %d)",
                      HB_MAX_DIMS, ndim);
        return false;
    }
    *s = hb_shape_make(ndim, shape);
    return true;
}

/* A new tensor for the public constructors: allocated, then adopted by the current call. */
static hb_tensor *make(int ndim, const int64_t *shape)
{
    hb_shape s;
    return shape_arg(ndim, shape, &s) ? hb_tensor_alloc(&s) : NULL;
}

/* Hands a new tensor to the current call, telling the tracer where its values came from. */
static hb_tensor *made(hb_tensor *t, hb_origin origin, const char *fn)
{
    if (hb_tensor_hook)
        hb_tensor_hook->created(t, origin, fn);
    return hb_frame_adopt(t);
}

hb_tensor *hb_tensor_new(int ndim, const int64_t *shape)
{
    return made(make(ndim, shape), HB_ORIGIN_HOST, "hb_tensor_new");
}

hb_tensor *hb_tensor_from(const float *data, int ndim, const int64_t *shape)
{
    hb_tensor *t = make(ndim, shape);
    if (t && t->numel && !data) {
        hb_tensor_release(t);
        return hb_frame_fail(HB_ERR_ARG, "hb_tensor_from: data is NULL"), NULL;
    }
    if (t && t->numel)
        memcpy(t->data, data, sizeof(float) * (size_t)t->numel);
    return made(t, HB_ORIGIN_HOST, "hb_tensor_from");
}

static hb_tensor *make_typed(hb_dtype dtype, int ndim, const int64_t *shape, const char *fn)
{
    if ((unsigned)dtype >= HB_DTYPE_COUNT)
        return hb_frame_fail(HB_ERR_ARG, "%s: dtype %d is not one of hybrid's", fn, (int)dtype),
               NULL;
    hb_shape s;
    return shape_arg(ndim, shape, &s) ? hb_tensor_alloc_typed(&s, dtype) : NULL;
}

hb_tensor *hb_tensor_new_typed(hb_dtype dtype, int ndim, const int64_t *shape)
{
    hb_tensor *t = make_typed(dtype, ndim, shape, "hb_tensor_new_typed");
    if (t)
        memset(t->data, 0, hb_dtypes[dtype].size * (size_t)t->numel);
    return made(t, HB_ORIGIN_FILL, "hb_tensor_new_typed");
}

hb_tensor *hb_tensor_fill_typed(hb_dtype dtype, const void *data, const hb_shape *s)
{
    hb_tensor *t = hb_tensor_alloc_typed(s, dtype);
    if (t && t->numel)
        memcpy(t->data, data, hb_dtypes[dtype].size * (size_t)t->numel);
    return made(t, HB_ORIGIN_FILL, "hb_tensor_fill_typed");
}

hb_tensor *hb_tensor_from_typed(hb_dtype dtype, const void *data, int ndim, const int64_t *shape)
{
    hb_tensor *t = make_typed(dtype, ndim, shape, "hb_tensor_from_typed");
    if (t && t->numel && !data) {
        hb_tensor_release(t);
        return hb_frame_fail(HB_ERR_ARG, "hb_tensor_from_typed: data is NULL"), NULL;
    }
    if (t && t->numel)
        memcpy(t->data, data, hb_dtypes[dtype].size * (size_t)t->numel);
    return made(t, HB_ORIGIN_HOST, "hb_tensor_from_typed");
}

hb_tensor *hb_full(int ndim, const int64_t *shape, float value)
{
    hb_tensor *t = make(ndim, shape);
    if (t)
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = value;
    return made(t, HB_ORIGIN_FILL, "hb_full");
}

hb_tensor *hb_zeros(int ndim, const int64_t *shape) { return hb_full(ndim, shape, 0.0f); }
hb_tensor *hb_ones(int ndim, const int64_t *shape) { return hb_full(ndim, shape, 1.0f); }
hb_tensor *hb_scalar(float value) { return hb_full(0, NULL, value); }

hb_tensor *hb_rand(int ndim, const int64_t *shape, hb_rng *rng)
{
    hb_tensor *t = make(ndim, shape);
    if (!rng)
        rng = hb_default_rng();
    if (t)
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = hb_rng_uniform(rng);
    return made(t, HB_ORIGIN_RANDOM, "hb_rand");
}

hb_tensor *hb_randn(int ndim, const int64_t *shape, hb_rng *rng)
{
    hb_tensor *t = make(ndim, shape);
    if (!rng)
        rng = hb_default_rng();
    if (t)
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = hb_rng_normal(rng);
    return made(t, HB_ORIGIN_RANDOM, "hb_randn");
}


hb_tensor *hb_tensor_retain(hb_tensor *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void hb_tensor_release(hb_tensor *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        atomic_fetch_sub_explicit(&hb_tensors_live, 1, memory_order_relaxed);
        hb_tensor_release(t->grad);
        size_t bytes = hb_dtypes[t->dtype].size * (size_t)t->numel;
        if (t->data && bytes > SMALL_TENSOR) /* made by hb_tensor_alloc, large: kept */
            cache_put(t, HEADER + bytes);
        else
            hb_free(t); /* aligned or not, free() takes it */
    }
}

int hb_tensor_ndim(const hb_tensor *t) { return t ? t->shape.ndim : -1; }
const int64_t *hb_tensor_shape(const hb_tensor *t) { return t ? t->shape.dim : NULL; }
int64_t hb_tensor_numel(const hb_tensor *t) { return t ? t->numel : -1; }
hb_dtype hb_tensor_dtype(const hb_tensor *t) { return t ? t->dtype : HB_F32; }

int64_t hb_tensor_dim(const hb_tensor *t, int axis)
{
    if (!t)
        return -1;
    int nd = t->shape.ndim;
    if (axis < -nd || axis >= nd) {
        char sb[96];
        hb_frame_fail(HB_ERR_ARG, "axis %d is out of range for shape %s", axis,
                      hb_shape_fmt(&t->shape, sb, sizeof sb));
        return -1;
    }
    return t->shape.dim[axis < 0 ? axis + nd : axis];
}

bool hb_tensor_same_shape(const hb_tensor *a, const hb_tensor *b)
{
    return a && b && hb_shape_equal(&a->shape, &b->shape);
}

/* The float data of t, or NULL (and an error naming fn) if t is of another dtype. */
static float *float_data(const hb_tensor *t, const char *fn)
{
    if (hb_tensor_hook)
        hb_tensor_hook->host_read(t, fn);
    if (t && t->dtype != HB_F32)
        return hb_frame_fail(HB_ERR_ARG, "%s: the tensor is %s, not float32 (hb_tensor_raw reads "
                             "it as it is, hb_cast converts it)", fn, hb_dtypes[t->dtype].name),
               NULL;
    return t ? t->data : NULL;
}

/* A pointer that can write is out: t's version turns odd (open) until hb_tensor_written. */
static void open_for_writing(hb_tensor *t)
{
    if (t)
        atomic_fetch_or(&t->version, 1u);
}

float *hb_tensor_data(hb_tensor *t)
{
    float *d = float_data(t, "hb_tensor_data");
    if (d)
        open_for_writing(t);
    return d;
}

const float *hb_tensor_cdata(const hb_tensor *t) { return float_data(t, "hb_tensor_cdata"); }

void *hb_tensor_raw(hb_tensor *t)
{
    if (hb_tensor_hook)
        hb_tensor_hook->host_read(t, "hb_tensor_raw");
    open_for_writing(t);
    return t ? (void *)t->data : NULL;
}

void hb_tensor_written(hb_tensor *t)
{
    if (!t)
        return;
    unsigned v = atomic_load(&t->version);
    while ((v & 1u) && !atomic_compare_exchange_weak(&t->version, &v, v + 1u))
        ;
}

void hb_tensor_changed(hb_tensor *t) { atomic_fetch_add(&t->version, 2u); }

float hb_item(const hb_tensor *t)
{
    if (!t) {
        if (hb_last_status() == HB_OK)
            hb_frame_fail(HB_ERR_ARG, "item: the tensor is NULL");
        return NAN;
    }
    if (hb_tensor_hook)
        hb_tensor_hook->host_read(t, "hb_item");
    if (t->numel != 1) {
        char sb[96];
        hb_frame_fail(HB_ERR_SHAPE, "item: needs a tensor of one element, got shape %s",
                      hb_shape_fmt(&t->shape, sb, sizeof sb));
        return NAN;
    }
    return (float)hb_dtype_get(t->dtype, t->data, 0);
}

bool hb_test(const hb_tensor *t)
{
    if (!t) {
        if (hb_last_status() == HB_OK)
            hb_frame_fail(HB_ERR_ARG, "test: the tensor is NULL");
        return false;
    }
    if (t->numel != 1) {
        char sb[96];
        hb_frame_fail(HB_ERR_SHAPE, "test: needs a tensor of one element, got shape %s",
                      hb_shape_fmt(&t->shape, sb, sizeof sb));
        return false;
    }
    bool outcome = hb_dtype_get(t->dtype, t->data, 0) != 0; /* a bool, an int or a float */
    if (hb_tensor_hook)
        hb_tensor_hook->guard(t, outcome);
    return outcome;
}

/* ---- printing ----------------------------------------------------------------------------- */

/* Axes longer than LONG_AXIS show EDGE values at each end, as PyTorch does for big tensors. */
enum { EDGE = 3, LONG_AXIS = 10 };

/* Element i of t: floats with four decimals, integers as they are, bool as True/False. */
static void print_value(FILE *f, const hb_tensor *t, int64_t i)
{
    hb_dtype_kind k = hb_dtypes[t->dtype].kind;
    if (k == HB_KIND_BOOL) {
        fputs(hb_dtype_get_int(t->dtype, t->data, i) ? "True" : "False", f);
        return;
    }
    if (k != HB_KIND_FLOAT) {
        int64_t v = hb_dtype_get_int(t->dtype, t->data, i);
        if (k == HB_KIND_UNSIGNED)
            fprintf(f, "%llu", (unsigned long long)(uint64_t)v);
        else
            fprintf(f, "%lld", (long long)v);
        return;
    }
    double v = hb_dtype_get(t->dtype, t->data, i);
    if (isnan(v))
        fputs("nan", f);
    else if (isinf(v))
        fputs(v > 0 ? "inf" : "-inf", f);
    else
        fprintf(f, "%.4f", v);
}

static void print_axis(FILE *f, const hb_tensor *t, int axis, int64_t offset, bool summarize,
                       int indent)
{
    int64_t len = t->shape.dim[axis], stride = 1;
    for (int i = axis + 1; i < t->shape.ndim; i++)
        stride *= t->shape.dim[i];
    fputc('[', f);
    for (int64_t i = 0; i < len; i++) {
        if (summarize && len > LONG_AXIS && i == EDGE) {
            fputs(axis == t->shape.ndim - 1 ? "..., " : "...,\n", f);
            if (axis != t->shape.ndim - 1)
                fprintf(f, "%*s", indent + 1, "");
            i = len - EDGE;
        }
        if (axis == t->shape.ndim - 1)
            print_value(f, t, offset + i);
        else
            print_axis(f, t, axis + 1, offset + i * stride, summarize, indent + 1);
        if (i + 1 < len) {
            if (axis == t->shape.ndim - 1)
                fputs(", ", f);
            else
                fprintf(f, ",\n%*s", indent + 1, "");
        }
    }
    fputc(']', f);
}

void hb_tensor_print(FILE *f, const hb_tensor *t)
{
    char sb[96];
    if (!f)
        return;
    if (!t) {
        fputs("tensor(NULL)\n", f);
        return;
    }
    fputs("tensor(", f);
    if (t->shape.ndim == 0)
        print_value(f, t, 0);
    else
        print_axis(f, t, 0, 0, true, 7);
    fprintf(f, ", shape=%s", hb_shape_fmt(&t->shape, sb, sizeof sb));
    if (t->dtype != HB_F32) /* as PyTorch: the dtype when it is not the default */
        fprintf(f, ", dtype=%s", hb_dtypes[t->dtype].name);
    fputs(")\n", f);
}
