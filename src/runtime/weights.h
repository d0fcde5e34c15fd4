/* Live weights: what a plan derives from a parameter it reads live — its GEMM panels, a
 * convolution's packed or Winograd-transformed weights — kept for as long as the tensor's
 * version (frontend.h, hb_tensor.version) says its values have not changed, so that calls of a
 * live plan skip the packing a frozen plan did at lowering. */
#ifndef HB_RUNTIME_WEIGHTS_H
#define HB_RUNTIME_WEIGHTS_H

#include "../ir/op.h"

#include <stdatomic.h>
#include <stdbool.h>

typedef struct hb_live_weights hb_live_weights;

/* For a product's B (b: [k, cols], or [cols, k] when trans_b), packed into the GEMM kernels'
 * panels; for a convolution's weights, as hb_conv_pack_weights packs them. NULL if out of
 * memory (the plan then packs per call, as without the cache). */
hb_live_weights *hb_live_gemm_b(atomic_uint *version, const float *b, bool trans_b,
                                int64_t cols, int64_t k);
/* For a small product's B [cols, k] (the small-GEMM loops' nt form): Bᵀ, [k, cols]. */
hb_live_weights *hb_live_transposed(atomic_uint *version, const float *b, int64_t cols,
                                    int64_t k);
hb_live_weights *hb_live_conv(atomic_uint *version, const float *w, const hb_shape *x_shape,
                              const hb_shape *w_shape, const hb_shape *y_shape,
                              const hb_window *win);
void hb_live_free(hb_live_weights *lw);
/* Whether lw keeps a small product's Bᵀ (hb_live_transposed), and the weight's current values
 * transposed into wt ([k, cols]) for a call that finds none kept. */
bool hb_live_is_transposed(const hb_live_weights *lw);
void hb_live_transpose(const hb_live_weights *lw, float *wt);

/* The packed form of the weights' current values, for one kernel call, or NULL: pack them per
 * call (open for writing, a version seen for the first time, another thread packing, nothing
 * to pack). What it returns stays valid until hb_live_release. */
const float *hb_live_acquire(hb_live_weights *lw);
void hb_live_release(hb_live_weights *lw, const float *packed);
/* The same into the field of a kernel's attributes that the form goes to (packed or
 * transposed); hb_live_give after the kernel ran. */
void hb_live_take(hb_live_weights *lw, hb_attrs *at);
void hb_live_give(hb_live_weights *lw, const hb_attrs *at);

/* Where a cache stands (explain): holding the current values' form, waiting for a version to
 * be seen twice, the tensor open for writing, or a kernel that takes no packed weights. */
typedef enum hb_live_state { HB_LIVE_HELD, HB_LIVE_WAITING, HB_LIVE_OPEN, HB_LIVE_NOTHING } hb_live_state;
hb_live_state hb_live_state_of(hb_live_weights *lw);

#endif
