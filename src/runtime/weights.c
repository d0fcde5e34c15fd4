/* Live weights, kept by version. A plan serves many threads at once, so the packed form is
 * read by any number of calls and replaced by one: a reader counts itself in, then checks the
 * stamp (the version the form holds); a refresher swaps the stamp to BUSY, waits until the
 * readers that came before have left, packs, and stamps the new version. Every access is
 * sequentially consistent, so a reader that saw the old stamp was counted before the swap, and
 * one that comes after sees BUSY and packs for itself. Nobody waits for a refresh: a call that
 * finds one under way packs per call, as it would without the cache.
 *
 * A version is packed the second time a call sees it: a training loop changes the weights
 * before every call, and packing into the cache there would only add a copy nobody reads. */
#include "weights.h"
#include "conv.h"
#include "sgemm.h"
#include "../common.h"

#include <sched.h>

/* Stamps that are no version: versions kept are even (odd ones are open for writing). */
enum { STAMP_NONE = 1u, STAMP_BUSY = 3u };

struct hb_live_weights {
    atomic_uint *version; /* the tensor's */
    const float *w;       /* its values */
    bool conv, transposed;
    /* a product's B */
    bool trans_b;
    int64_t cols, k;
    /* a convolution's weights */
    hb_shape x, ws, y;
    hb_window win;
    atomic_uint stamp;   /* the version packed holds, STAMP_NONE or STAMP_BUSY */
    atomic_uint seen;    /* the version the last call that found none saw */
    atomic_int readers;  /* calls reading packed now */
    atomic_bool nothing; /* a convolution whose kernel takes no packed weights */
    float *packed;
};

static hb_live_weights *live_new(atomic_uint *version, const float *w)
{
    hb_live_weights *lw = hb_calloc(1, sizeof *lw);
    if (!lw)
        return NULL;
    lw->version = version, lw->w = w;
    atomic_init(&lw->stamp, STAMP_NONE);
    atomic_init(&lw->seen, STAMP_NONE);
    atomic_init(&lw->readers, 0);
    atomic_init(&lw->nothing, false);
    return lw;
}

hb_live_weights *hb_live_gemm_b(atomic_uint *version, const float *b, bool trans_b,
                                int64_t cols, int64_t k)
{
    hb_live_weights *lw = live_new(version, b);
    if (lw)
        lw->trans_b = trans_b, lw->cols = cols, lw->k = k;
    return lw;
}

hb_live_weights *hb_live_transposed(atomic_uint *version, const float *b, int64_t cols,
                                    int64_t k)
{
    hb_live_weights *lw = live_new(version, b);
    if (lw)
        lw->transposed = true, lw->cols = cols, lw->k = k;
    return lw;
}

hb_live_weights *hb_live_conv(atomic_uint *version, const float *w, const hb_shape *x_shape,
                              const hb_shape *w_shape, const hb_shape *y_shape,
                              const hb_window *win)
{
    hb_live_weights *lw = live_new(version, w);
    if (lw)
        lw->conv = true, lw->x = *x_shape, lw->ws = *w_shape, lw->y = *y_shape, lw->win = *win;
    return lw;
}

void hb_live_free(hb_live_weights *lw)
{
    if (lw)
        hb_aligned_free(lw->packed);
    hb_free(lw);
}

bool hb_live_is_transposed(const hb_live_weights *lw)
{
    return lw && lw->transposed;
}

void hb_live_transpose(const hb_live_weights *lw, float *wt)
{
    for (int64_t j = 0; j < lw->cols; j++)
        for (int64_t p = 0; p < lw->k; p++)
            wt[p * lw->cols + j] = lw->w[j * lw->k + p];
}

/* Packs the current values; no reader is in. A product's panels or transpose are written over
 * the old ones (the same size); a convolution's come new from hb_conv_pack_weights. */
static bool refresh(hb_live_weights *lw)
{
    if (lw->transposed) {
        if (!lw->packed)
            lw->packed = hb_aligned_alloc(sizeof(float) * (size_t)(lw->cols * lw->k));
        if (lw->packed)
            hb_live_transpose(lw, lw->packed);
        return lw->packed != NULL;
    }
    hb_isa isa = hb_isa_active();
    if (!lw->conv) {
        if (!lw->packed)
            lw->packed = hb_aligned_alloc(sizeof(float) * hb_sgemm_pack_floats(isa, lw->cols, lw->k));
        if (lw->packed)
            hb_sgemm_pack(isa, lw->trans_b, lw->cols, lw->k, lw->w,
                          lw->trans_b ? lw->k : lw->cols, lw->packed);
        return lw->packed != NULL;
    }
    float *fresh = hb_conv_pack_weights(&lw->x, &lw->ws, &lw->y, &lw->win, lw->w);
    hb_aligned_free(lw->packed);
    lw->packed = fresh;
    if (!fresh) /* its kernel takes none (or no memory for them): per call from now on */
        atomic_store(&lw->nothing, true);
    return fresh != NULL;
}

/* Counts a reader in if the form holds version v. */
static const float *enter(hb_live_weights *lw, unsigned v)
{
    atomic_fetch_add(&lw->readers, 1);
    if (atomic_load(&lw->stamp) == v)
        return lw->packed;
    atomic_fetch_sub(&lw->readers, 1);
    return NULL;
}

const float *hb_live_acquire(hb_live_weights *lw)
{
    if (!lw || atomic_load(&lw->nothing))
        return NULL;
    unsigned v = atomic_load(lw->version);
    if (v & 1u) /* a pointer that can write is out: nothing derived from it can be kept */
        return NULL;
    const float *p = enter(lw, v);
    if (p || atomic_exchange(&lw->seen, v) != v)
        return p;
    unsigned s = atomic_load(&lw->stamp);
    if (s == STAMP_BUSY || !atomic_compare_exchange_strong(&lw->stamp, &s, STAMP_BUSY))
        return NULL;
    while (atomic_load(&lw->readers) > 0) /* calls still reading the old form */
        sched_yield();
    bool ok = refresh(lw);
    /* values changed while they were packed (a write racing this call): keep none */
    atomic_store(&lw->stamp, ok && atomic_load(lw->version) == v ? v : STAMP_NONE);
    return enter(lw, v);
}

void hb_live_release(hb_live_weights *lw, const float *packed)
{
    if (lw && packed)
        atomic_fetch_sub(&lw->readers, 1);
}

void hb_live_take(hb_live_weights *lw, hb_attrs *at)
{
    const float *p = hb_live_acquire(lw);
    if (lw->transposed)
        at->transposed = p;
    else
        at->packed = p;
}

void hb_live_give(hb_live_weights *lw, const hb_attrs *at)
{
    hb_live_release(lw, lw->transposed ? at->transposed : at->packed);
}

hb_live_state hb_live_state_of(hb_live_weights *lw)
{
    if (atomic_load(&lw->nothing))
        return HB_LIVE_NOTHING;
    unsigned v = atomic_load(lw->version);
    return v & 1u ? HB_LIVE_OPEN : atomic_load(&lw->stamp) == v ? HB_LIVE_HELD : HB_LIVE_WAITING;
}
