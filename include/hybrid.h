/* hybrid — neural-network blocks in C that run eagerly and, once hybridized, as compiled plans.
 *
 * This one header is the whole public API. A short tour:
 *
 *     // A custom block: the seed's MLP, out(relu(hidden(x))).
 *     static hb_tensor *mlp_forward(hb_block *self, hb_tensor *x)
 *     {
 *         hb_tensor *h = hb_relu(hb_block_call(hb_block_child(self, "hidden"), x));
 *         return hb_block_call(hb_block_child(self, "out"), h);
 *     }
 *
 *     hb_block *mlp_new(void)
 *     {
 *         hb_block *b = hb_block_new("MLP", mlp_forward);
 *         hb_block_add_child(b, "hidden", hb_linear_new(0, 256));  // 0: in-size inferred
 *         hb_block_add_child(b, "out", hb_linear_new(256, 10));
 *         return b;
 *     }
 *
 *     hb_block *net = mlp_new();
 *     hb_tensor *x = hb_rand(HB_SHAPE(2, 20), NULL);
 *     hb_tensor *y = hb_block_call(net, x);   // y: [2, 10]
 *     hb_tensor_print(stdout, y);
 *     hb_tensor_release(y); hb_tensor_release(x); hb_block_release(net);
 *
 * Ownership, in one place:
 * - Every function that returns a tensor returns a new reference. Outside a block's forward the
 *   caller owns it and calls hb_tensor_release(). Inside a forward (during hb_block_call) the call
 *   owns every tensor made there and releases it when the call returns, except the returned one;
 *   forward code never frees anything.
 * - hb_block_add_child() and hb_block_add_param()/hb_block_add_const() take over the reference
 *   passed in. Blocks are reference counted too: a child added under two names, or to two
 *   parents, is shared (its parameters are the same tensors).
 *
 * Errors: functions return NULL or a non-zero hb_status and set a per-thread message read with
 * hb_last_error(). Ops given NULL return NULL and keep the first message, so a failure inside a
 * forward propagates to the caller without a check on every line. The library never exits or
 * aborts on a caller's mistake.
 */
#ifndef HYBRID_H
#define HYBRID_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the shared library exports: every function declared here, nothing else (it is built with
 * hidden visibility, so its internal helpers and the protobuf code it links stay inside). */
#if defined(__GNUC__) || defined(__clang__)
#define HB_API __attribute__((visibility("default")))
#else
#define HB_API
#endif

#define HB_VERSION "0.1.0"
#define HB_MAX_DIMS 8

/* ---- errors ------------------------------------------------------------------------------- */

typedef enum hb_status {
    HB_OK = 0,
    HB_ERR_ARG,         /* a bad argument: NULL, out-of-range axis, bad option */
    HB_ERR_SHAPE,       /* shapes that do not fit the op or the parameter */
    HB_ERR_NAME,        /* an unknown, missing or duplicate name */
    HB_ERR_IO,          /* a file that cannot be opened, read or written */
    HB_ERR_FORMAT,      /* a file whose content is corrupt, truncated or lies */
    HB_ERR_NOMEM,       /* an allocation failed */
    HB_ERR_UNSUPPORTED, /* valid, but not something hybrid does (yet) */
    HB_ERR_STATE,       /* the object is not ready for this (e.g. a deferred parameter) */
    HB_ERR_GUARD,       /* hb_plan_run: a guard failed; this input takes another path */
} hb_status;

/* The message of the last failure on this thread ("" if none), and its status. A failure
 * inside a block's forward fails that block call (it returns NULL) even if the forward went
 * on and returned something: its result may have been decided on a NULL. A forward that
 * handles a failure itself calls hb_clear_error(). */
HB_API const char *hb_last_error(void);
HB_API hb_status hb_last_status(void);
HB_API void hb_clear_error(void);

/* ---- random numbers ----------------------------------------------------------------------- */

/* A small portable generator (xoshiro256** seeded by splitmix64): a seed gives the same stream
 * on every machine. Functions taking an hb_rng * use the per-thread default one when given NULL. */
typedef struct hb_rng {
    uint64_t s[4];
} hb_rng;

HB_API void hb_rng_seed(hb_rng *rng, uint64_t seed);
HB_API uint64_t hb_rng_next(hb_rng *rng);
HB_API float hb_rng_uniform(hb_rng *rng); /* in [0, 1) with 24 random bits */
HB_API float hb_rng_normal(hb_rng *rng);  /* mean 0, standard deviation 1 (Box-Muller) */
HB_API void hb_seed(uint64_t seed);       /* reseeds this thread's default generator */
HB_API hb_rng *hb_default_rng(void);

/* ---- tensors ------------------------------------------------------------------------------ */

typedef struct hb_tensor hb_tensor;

/* Element types. Float32 is what every op computes in; the others are data that ops carry,
 * compare, index with and convert (token ids are int64, masks bool, argmax gives int64).
 * float64, float16 and bfloat16 read from files become float32 unless cast is asked for. */
typedef enum hb_dtype {
    HB_F32 = 0,
    HB_F64, HB_F16, HB_BF16,
    HB_I8, HB_I16, HB_I32, HB_I64,
    HB_U8, HB_U16, HB_U32, HB_U64,
    HB_BOOL, /* one byte, 0 or 1 */
    HB_DTYPE_COUNT
} hb_dtype;

HB_API const char *hb_dtype_name(hb_dtype dtype); /* "float32", "int64", "bool"; NULL if none */
HB_API size_t hb_dtype_size(hb_dtype dtype);      /* bytes per element; 0 if none */

/* HB_SHAPE(2, 20) expands to the (ndim, shape) argument pair: 2, (const int64_t[]){2, 20}.
 * HB_SCALAR_SHAPE is the pair for a 0-dimensional tensor. */
#define HB_SHAPE(...)                                                                        \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}
#define HB_SCALAR_SHAPE 0, (const int64_t *)0

HB_API hb_tensor *hb_tensor_new(int ndim, const int64_t *shape); /* uninitialized contents */
HB_API hb_tensor *hb_tensor_from(const float *data, int ndim, const int64_t *shape); /* copies data */
HB_API hb_tensor *hb_zeros(int ndim, const int64_t *shape);
HB_API hb_tensor *hb_ones(int ndim, const int64_t *shape);
HB_API hb_tensor *hb_full(int ndim, const int64_t *shape, float value);
HB_API hb_tensor *hb_scalar(float value); /* shape [] */
HB_API hb_tensor *hb_rand(int ndim, const int64_t *shape, hb_rng *rng);  /* uniform in [0, 1) */
HB_API hb_tensor *hb_randn(int ndim, const int64_t *shape, hb_rng *rng); /* standard normal */
HB_API hb_tensor *hb_tensor_copy(const hb_tensor *t);
/* A tensor of another dtype: zeros, or a copy of data (numel elements of that dtype). */
HB_API hb_tensor *hb_tensor_new_typed(hb_dtype dtype, int ndim, const int64_t *shape);
HB_API hb_tensor *hb_tensor_from_typed(hb_dtype dtype, const void *data, int ndim,
                                       const int64_t *shape);

HB_API hb_tensor *hb_tensor_retain(hb_tensor *t);
HB_API void hb_tensor_release(hb_tensor *t); /* NULL is fine */

HB_API int hb_tensor_ndim(const hb_tensor *t);
HB_API const int64_t *hb_tensor_shape(const hb_tensor *t);
HB_API int64_t hb_tensor_dim(const hb_tensor *t, int axis); /* negative axes count from the end */
HB_API int64_t hb_tensor_numel(const hb_tensor *t);
HB_API hb_dtype hb_tensor_dtype(const hb_tensor *t);
HB_API bool hb_tensor_same_shape(const hb_tensor *a, const hb_tensor *b);

/* Host access to the values. Reading a value decides control flow in the host program, so once
 * tracing arrives these reads are what marks a block as data-dependent. */
/* hb_tensor_data and hb_tensor_cdata are for float32 tensors (NULL and an error for another
 * dtype); hb_tensor_raw gives any tensor's elements as they are stored. */
HB_API float *hb_tensor_data(hb_tensor *t);
HB_API const float *hb_tensor_cdata(const hb_tensor *t);
HB_API void *hb_tensor_raw(hb_tensor *t);
/* Compiled plans keep the packed form of a parameter they read live (its GEMM panels, its
 * Winograd transform) until its values change. Changes by the library (optimizer steps, loads,
 * compiled training steps) are seen. Writes through a pointer from hb_tensor_data or
 * hb_tensor_raw cannot be: from that call on, plans pack the tensor on every call again, as
 * they must, until hb_tensor_written(t) says the writes are done. Call it after writing a
 * parameter's values, and take the pointer again before writing again; read with
 * hb_tensor_cdata, which changes nothing. */
HB_API void hb_tensor_written(hb_tensor *t); /* NULL is fine */
/* The value of a one-element tensor of any dtype, as a float; NAN and an error else. */
HB_API float hb_item(const hb_tensor *t);

/* "[2, 20]" into buf; returns buf. */
HB_API char *hb_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);
/* Prints like PyTorch: tensor([[...]]) with the shape, eliding the middle of long axes. */
HB_API void hb_tensor_print(FILE *f, const hb_tensor *t);

/* ---- eager ops ---------------------------------------------------------------------------- */
/* Each returns a new tensor (see Ownership above) or NULL with hb_last_error() set. Shapes are
 * checked on every call; a mismatch names the op and both shapes. Binary elementwise ops
 * broadcast by NumPy rules. Axes may be negative. */

HB_API hb_tensor *hb_matmul(hb_tensor *a, hb_tensor *b); /* [.., m, k] @ [.., k, n], batch dims broadcast */
HB_API hb_tensor *hb_linear(hb_tensor *x, hb_tensor *w, hb_tensor *b); /* x·wᵀ + b */
/* x·wᵀ. A separate function, so that a NULL bias is always an earlier failure, never "none". */
HB_API hb_tensor *hb_linear_nobias(hb_tensor *x, hb_tensor *w);

HB_API hb_tensor *hb_add(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_sub(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_mul(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_div(hb_tensor *a, hb_tensor *b);
/* Elementwise larger / smaller of a and b (broadcast), NaN where either is NaN. */
HB_API hb_tensor *hb_maximum(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_minimum(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_add_scalar(hb_tensor *a, float s);
HB_API hb_tensor *hb_sub_scalar(hb_tensor *a, float s); /* a - s */
HB_API hb_tensor *hb_mul_scalar(hb_tensor *a, float s);
HB_API hb_tensor *hb_div_scalar(hb_tensor *a, float s); /* a / s */
HB_API hb_tensor *hb_rsub_scalar(hb_tensor *a, float s); /* s - a */
HB_API hb_tensor *hb_rdiv_scalar(hb_tensor *a, float s); /* s / a */

HB_API hb_tensor *hb_relu(hb_tensor *x);
HB_API hb_tensor *hb_sigmoid(hb_tensor *x);
HB_API hb_tensor *hb_tanh(hb_tensor *x);
HB_API hb_tensor *hb_exp(hb_tensor *x);
HB_API hb_tensor *hb_pow(hb_tensor *a, hb_tensor *b);   /* a^b elementwise, broadcast */
HB_API hb_tensor *hb_pow_scalar(hb_tensor *x, float s); /* x^s; x·x for 2, 1/√x for −0.5 */
HB_API hb_tensor *hb_erf(hb_tensor *x); /* the error function, within 4.3e-7 */
HB_API hb_tensor *hb_log(hb_tensor *x);
HB_API hb_tensor *hb_abs(hb_tensor *x);
HB_API hb_tensor *hb_neg(hb_tensor *x);
HB_API hb_tensor *hb_sqrt(hb_tensor *x);
HB_API hb_tensor *hb_sin(hb_tensor *x);
HB_API hb_tensor *hb_cos(hb_tensor *x);
HB_API hb_tensor *hb_floor(hb_tensor *x);
HB_API hb_tensor *hb_ceil(hb_tensor *x);
HB_API hb_tensor *hb_round(hb_tensor *x); /* to the nearest integer, ties to even */
HB_API hb_tensor *hb_sign(hb_tensor *x);  /* 1, -1 or 0 (NaN stays NaN); no gradient */

HB_API hb_tensor *hb_sum(hb_tensor *x); /* over all elements: shape [] */
HB_API hb_tensor *hb_mean(hb_tensor *x);
HB_API hb_tensor *hb_max(hb_tensor *x);
HB_API hb_tensor *hb_sum_axis(hb_tensor *x, int axis, bool keepdim);
HB_API hb_tensor *hb_mean_axis(hb_tensor *x, int axis, bool keepdim);
HB_API hb_tensor *hb_max_axis(hb_tensor *x, int axis, bool keepdim);
HB_API hb_tensor *hb_softmax(hb_tensor *x, int axis);
HB_API hb_tensor *hb_log_softmax(hb_tensor *x, int axis);

/* Comparisons with a scalar and logic, elementwise: 1.0 where true, 0.0 where false. */
HB_API hb_tensor *hb_gt(hb_tensor *x, float s);
HB_API hb_tensor *hb_lt(hb_tensor *x, float s);
HB_API hb_tensor *hb_ge(hb_tensor *x, float s);
HB_API hb_tensor *hb_le(hb_tensor *x, float s);
HB_API hb_tensor *hb_eq(hb_tensor *x, float s);
HB_API hb_tensor *hb_ne(hb_tensor *x, float s);
HB_API hb_tensor *hb_logical_and(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_logical_or(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_logical_not(hb_tensor *x);
/* Whether a one-element tensor is true (non-zero): control flow on a value, written so that a
 * hybridized block keeps compiling. While tracing, the outcome becomes a guard in the plan; a
 * later call whose value goes the other way leaves the plan and runs eagerly, and the block
 * traces a plan for that path too (up to 8 per input shape). False, with an error set, for
 * NULL or a tensor of more than one element. */
HB_API bool hb_test(const hb_tensor *t);

/* Comparisons of two tensors (broadcast, of one dtype): bool tensors. Logic ops take bool
 * tensors (giving bool) or float ones (0 and 1, giving float). */
HB_API hb_tensor *hb_equal(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_less(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_greater(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_less_equal(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_greater_equal(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_logical_xor(hb_tensor *a, hb_tensor *b);
/* The remainder of a / b, broadcast, any numeric dtype: with b's sign (Python's %, PyTorch's
 * remainder), or with a's (hb_fmod: C's fmod, PyTorch's fmod). Integers give 0 where b is 0. */
HB_API hb_tensor *hb_mod(hb_tensor *a, hb_tensor *b);
HB_API hb_tensor *hb_fmod(hb_tensor *a, hb_tensor *b);
/* a where cond (bool) holds, else b; the three broadcast (torch.where, ONNX Where). */
HB_API hb_tensor *hb_where(hb_tensor *cond, hb_tensor *a, hb_tensor *b);
/* x converted to dtype: floats to integers round toward zero, to bool is x != 0 (ONNX Cast). */
HB_API hb_tensor *hb_cast(hb_tensor *x, hb_dtype dtype);
/* Rows of x picked along axis by int32/int64 indices (negative ones count from the end): shape
 * x[:axis] + indices + x[axis+1:] (ONNX Gather, torch.index_select, an embedding lookup). An
 * index out of range is an error naming it, never a read outside x. */
HB_API hb_tensor *hb_gather(hb_tensor *x, hb_tensor *indices, int axis);
/* out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (torch.gather, ONNX GatherElements):
 * indices has x's rank, and the result its shape. */
HB_API hb_tensor *hb_gather_elements(hb_tensor *x, hb_tensor *indices, int axis);
/* ONNX's GatherND and ScatterND (batch_dims 0): indices [..., k] address slices x[i0, .., ik-1];
 * gather_nd gives them, shape indices[:-1] + x[k:]; scatter_nd gives x with them replaced by
 * updates (of that shape), or with the updates added (accumulate). */
HB_API hb_tensor *hb_gather_nd(hb_tensor *x, hb_tensor *indices);
HB_API hb_tensor *hb_scatter_nd(hb_tensor *x, hb_tensor *indices, hb_tensor *updates,
                                bool accumulate);
/* The position of the largest (smallest) value along axis, int64; the first of equal ones. */
HB_API hb_tensor *hb_argmax(hb_tensor *x, int axis, bool keepdim);
HB_API hb_tensor *hb_argmin(hb_tensor *x, int axis, bool keepdim);

HB_API hb_tensor *hb_reshape(hb_tensor *x, int ndim, const int64_t *shape); /* one dim may be -1 */
HB_API hb_tensor *hb_flatten(hb_tensor *x); /* [b, ...] -> [b, prod(...)] as nn.Flatten */
HB_API hb_tensor *hb_transpose(hb_tensor *x, int axis0, int axis1);
HB_API hb_tensor *hb_concat(int n, hb_tensor *const *xs, int axis);
/* The part of x from start, length long, along axis (what concat put there). */
HB_API hb_tensor *hb_slice(hb_tensor *x, int axis, int64_t start, int64_t length);
/* x with before[i] values `value` ahead of it along axis i and after[i] behind (one count per
 * axis of x; NULL: none on that side); a negative count removes that many elements instead.
 * numpy.pad's constant mode, PyTorch's F.pad, ONNX's Pad. */
HB_API hb_tensor *hb_pad(hb_tensor *x, const int64_t *before, const int64_t *after, float value);

/* Convolutions and pools over [N, C, H, W] (PyTorch's NCHW layout and semantics). Options
 * may be NULL; a field left 0 takes its default: stride 1 for convolutions and the kernel size
 * for pools, dilation 1, groups 1, padding 0. Index 0 is along H, 1 along W. */
typedef struct hb_conv2d_options {
    int stride[2];
    int padding[2];  /* zeros on both sides */
    int dilation[2];
    int groups;      /* C and O split into this many groups; groups = C is depthwise */
} hb_conv2d_options;
/* weight [O, C/groups, kh, kw], bias [O]: output [N, O, OH, OW] with
 * OH = (H + 2·padding − dilation·(kh − 1) − 1) / stride + 1 (rounded down), likewise OW. */
HB_API hb_tensor *hb_conv2d(hb_tensor *x, hb_tensor *weight, hb_tensor *bias,
                     const hb_conv2d_options *o);
HB_API hb_tensor *hb_conv2d_nobias(hb_tensor *x, hb_tensor *weight, const hb_conv2d_options *o);
typedef struct hb_conv_transpose2d_options {
    int stride[2];
    int padding[2];        /* removed from both sides of the full result */
    int output_padding[2]; /* added at the end of each axis, less than the stride or the
                            * dilation (PyTorch's rule) */
    int dilation[2];
    int groups;
} hb_conv_transpose2d_options;
/* The transposed convolution (PyTorch's conv_transpose2d, ONNX's ConvTranspose; the gradient
 * of hb_conv2d with respect to its input): x [N, C, H, W], weight [C, O/groups, kh, kw], bias
 * [O] or NULL; output [N, O, OH, OW] with
 * OH = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1, likewise OW. */
HB_API hb_tensor *hb_conv_transpose2d(hb_tensor *x, hb_tensor *weight, hb_tensor *bias,
                               const hb_conv_transpose2d_options *o);
typedef struct hb_pool2d_options {
    int kernel[2]; /* required */
    int stride[2]; /* 0: the kernel size */
    int padding[2]; /* at most half the kernel */
    bool ceil_mode; /* output sizes round up: a last, partial window (PyTorch's ceil_mode) */
    bool exclude_padding; /* average pool: divide by the inputs in the window alone
                           * (PyTorch's count_include_pad=False; ONNX's default) */
} hb_pool2d_options;
/* Windows that hang over the padding: max pool ignores it (-inf), average pool counts it as
 * zeros unless exclude_padding; output sizes round down unless ceil_mode, and with ceil_mode a
 * window must start inside the input or its left padding (PyTorch's rule). A ceil-mode
 * window's overhang beyond the padding never counts. */
HB_API hb_tensor *hb_max_pool2d(hb_tensor *x, const hb_pool2d_options *o);
HB_API hb_tensor *hb_avg_pool2d(hb_tensor *x, const hb_pool2d_options *o);
/* The mean of each channel's plane: [N, C, H, W] -> [N, C, 1, 1] (AdaptiveAvgPool2d(1)). */
HB_API hb_tensor *hb_global_avg_pool2d(hb_tensor *x);
/* Batch normalization of x [N, C, ...] per channel, as torch.nn.functional.batch_norm:
 * training, with the batch's mean and (biased) variance, and running_mean and running_var
 * ([C], either may be NULL) moved towards the batch's statistics by momentum (the unbiased
 * variance goes into running_var); not training, with the running statistics. weight and bias
 * ([C]) may be NULL (1 and 0). */
HB_API hb_tensor *hb_batch_norm(hb_tensor *x, hb_tensor *running_mean, hb_tensor *running_var,
                         hb_tensor *weight, hb_tensor *bias, bool training, float momentum,
                         float eps);
/* ---- blocks ------------------------------------------------------------------------------- */

typedef struct hb_block hb_block;
typedef hb_tensor *(*hb_forward_fn)(hb_block *self, hb_tensor *x);

/* How a parameter gets its first values. */
typedef enum hb_init_kind {
    HB_INIT_ZEROS = 0,
    HB_INIT_CONSTANT,       /* every value = a */
    HB_INIT_UNIFORM,        /* uniform in [a, b) */
    HB_INIT_NORMAL,         /* mean a, standard deviation b */
    HB_INIT_FAN_IN_UNIFORM, /* uniform in ±a/sqrt(fan_in): PyTorch's Linear default with a = 1 */
} hb_init_kind;

typedef struct hb_init {
    hb_init_kind kind;
    float a, b;
    /* For HB_INIT_FAN_IN_UNIFORM: the fan-in is this parameter's shape[1]·shape[2]·… unless
     * fan_in_of names a sibling parameter whose fan-in to use (a bias uses its weight's). */
    const char *fan_in_of;
} hb_init;

#define HB_INIT_DEFAULT ((hb_init){HB_INIT_FAN_IN_UNIFORM, 1.0f, 0.0f, NULL})

/* A block with a forward function. type is what the block is ("Linear", "MLP"); it is also the
 * block's name in error messages when it is called at the top level. */
HB_API hb_block *hb_block_new(const char *type, hb_forward_fn forward);
HB_API hb_block *hb_block_retain(hb_block *b);
HB_API void hb_block_release(hb_block *b); /* NULL is fine */

/* Private state of a custom block; free_state (may be NULL) runs when the block is freed. */
HB_API void hb_block_set_state(hb_block *b, void *state, void (*free_state)(void *));
HB_API void *hb_block_state(const hb_block *b);

HB_API const char *hb_block_type(const hb_block *b);
HB_API void hb_block_set_name(hb_block *b, const char *name); /* the root's name in block paths */
HB_API const char *hb_block_name(const hb_block *b);

/* Children, in insertion order. Takes over the reference to child; the key must be new. */
HB_API hb_status hb_block_add_child(hb_block *b, const char *key, hb_block *child);
HB_API hb_block *hb_block_child(const hb_block *b, const char *key);  /* borrowed; NULL if absent */
HB_API int hb_block_num_children(const hb_block *b);
HB_API hb_block *hb_block_child_at(const hb_block *b, int i, const char **key); /* borrowed */

/* Trainable parameters. Dims given as 0 are deferred: the parameter has no values until the
 * block's forward calls hb_block_param_infer() with the real shape, or weights are loaded. */
HB_API hb_status hb_block_add_param(hb_block *b, const char *name, int ndim, const int64_t *shape,
                             hb_init init);
/* Constants: named, saved and loaded like parameters, never trained. Takes over value. */
HB_API hb_status hb_block_add_const(hb_block *b, const char *name, hb_tensor *value);

/* A parameter's or constant's tensor (borrowed), or NULL if unknown or still deferred. */
HB_API hb_tensor *hb_block_param(hb_block *b, const char *name);
/* Completes a deferred parameter's shape (dims it already knows must agree) and initializes it;
 * for a parameter with values, checks the shape. Returns the tensor (borrowed). */
HB_API hb_tensor *hb_block_param_infer(hb_block *b, const char *name, int ndim, const int64_t *shape);

/* Runs the block's forward on x (see Ownership). The result is NULL on error, and the message
 * names the block path (for example "chimera/0/net/2"). */
HB_API hb_tensor *hb_block_call(hb_block *b, hb_tensor *x);

/* Every parameter and constant of the tree by its state_dict name ("0.net.2.weight"), in
 * registration order, depth first. A child reachable under two names is listed under both. */
typedef struct hb_named_tensor {
    char *name;
    hb_tensor *value;  /* a reference the dict holds; NULL while deferred */
    bool trainable;    /* false for constants */
    int ndim;
    int64_t shape[HB_MAX_DIMS]; /* known dims; 0 where deferred */
} hb_named_tensor;

typedef struct hb_state_dict {
    int count;
    hb_named_tensor *items;
} hb_state_dict;

HB_API hb_status hb_block_state_dict(hb_block *b, hb_state_dict *out);
HB_API void hb_state_dict_free(hb_state_dict *sd); /* releases the values, frees the names */

/* Prints the block tree with types, parameter shapes and counts. */
HB_API void hb_block_print(FILE *f, hb_block *b);

/* ---- library blocks ----------------------------------------------------------------------- */

typedef enum hb_activation {
    HB_ACT_NONE = 0,
    HB_ACT_RELU,
    HB_ACT_SIGMOID,
    HB_ACT_TANH,
} hb_activation;

/* Linear(in, out): weight [out, in], bias [out]; in = 0 infers it on the first call. */
HB_API hb_block *hb_linear_new(int64_t in, int64_t out);
/* Gluon's Dense(out, activation=...): Linear followed by an activation, with optional bias. */
HB_API hb_block *hb_dense_new(int64_t in, int64_t out, hb_activation act, bool bias);
HB_API hb_block *hb_relu_new(void);
HB_API hb_block *hb_sigmoid_new(void);
HB_API hb_block *hb_tanh_new(void);
HB_API hb_block *hb_flatten_new(void);

/* Sequential: children "0", "1", … run in order. hb_sequential_of(a, b, c) takes over each
 * block; if any of them is NULL (its constructor failed) the result is NULL and the others
 * are released. */
HB_API hb_block *hb_sequential_new(void);
HB_API hb_block *hb_sequential_from(int n, hb_block *const *blocks);
#define hb_sequential_of(...)                                                                 \
    hb_sequential_from((int)(sizeof((hb_block *[]){__VA_ARGS__}) / sizeof(hb_block *)),       \
                       (hb_block *[]){__VA_ARGS__})
HB_API hb_status hb_sequential_add(hb_block *seq, hb_block *child); /* key = next index */

/* Parallel: children "0", "1", … each run on the input; outputs concatenated along axis. */
HB_API hb_block *hb_parallel_new(int axis);

/* n fresh instances made by make(arg), in a Sequential (children "0" … "n-1"). */
HB_API hb_block *hb_block_factory(int n, hb_block *(*make)(void *arg), void *arg);

/* Convolutional blocks, with torchvision's parameter names. Conv2d(in, out, kh×kw): weight
 * [out, in/groups, kh, kw], bias [out] if asked for, PyTorch's default init; in = 0 infers it
 * on the first call. BatchNorm2d(C): parameters weight (1) and bias (0), constants
 * running_mean (0) and running_var (1), updated by calls in training mode (eps 1e-5 and
 * momentum 0.1 are PyTorch's defaults). Pools take the options of hb_max_pool2d; the global
 * one is AdaptiveAvgPool2d(1). */
HB_API hb_block *hb_conv2d_new(int64_t in, int64_t out, int kh, int kw, const hb_conv2d_options *o,
                        bool bias);
HB_API hb_block *hb_batch_norm2d_new(int64_t channels, float eps, float momentum);
/* ConvTranspose2d(in, out, kh×kw): weight [in, out/groups, kh, kw], bias [out] if asked for,
 * PyTorch's default init. */
HB_API hb_block *hb_conv_transpose2d_new(int64_t in, int64_t out, int kh, int kw,
                                  const hb_conv_transpose2d_options *o, bool bias);
HB_API hb_block *hb_max_pool2d_new(const hb_pool2d_options *o);
HB_API hb_block *hb_avg_pool2d_new(const hb_pool2d_options *o);
HB_API hb_block *hb_global_avg_pool2d_new(void);
/* ResNet's residual block: relu(bn2(conv2(relu(bn1(conv1(x))))) + x), 3×3 convolutions, the
 * first with stride; where the shape changes the shortcut is "downsample", a strided 1×1
 * convolution and a batch norm. */
HB_API hb_block *hb_basic_block_new(int64_t in, int64_t out, int stride);
/* A ResNet of BasicBlocks, torchvision's layout: conv1 (7×7, stride 2) bn1 relu maxpool (3×3,
 * stride 2), layer1..layer4 of blocks[i] blocks of widths[i] channels (layers 2-4 start with
 * stride 2), avgpool, flatten, fc. ResNet-18: widths 64/128/256/512, 2 blocks each, 1000
 * classes. Convolutions are initialized as torchvision's (normal, std sqrt(2/fan_out)). */
typedef struct hb_resnet_config {
    int64_t widths[4];
    int blocks[4];
    int64_t classes;
    int64_t in_channels; /* 0: 3 */
} hb_resnet_config;
HB_API hb_block *hb_resnet_new(const hb_resnet_config *c);
/* Training mode (the default, as PyTorch's) or inference mode, for the block and every block
 * under it: batch norm uses the batch's statistics and updates its running ones in training
 * mode, and uses the running ones in inference. Changing the mode drops compiled plans. */
HB_API void hb_block_set_training(hb_block *b, bool training);
HB_API bool hb_block_is_training(const hb_block *b);
/* Sequence models (src/frontend/sequence.c), with PyTorch's parameter names so its state
 * dicts load. GELU (tanh_form: PyTorch's approximate="tanh"); LayerNorm(dim) over the last
 * axis, weight (1) and bias (0); MultiheadAttention(embed, heads): self-attention over
 * [batch, sequence, embed] (batch_first), in_proj_weight [3·embed, embed], in_proj_bias and
 * the Linear out_proj, no masks yet. TransformerEncoderLayer: self_attn, linear1, linear2,
 * norm1, norm2 as PyTorch's (inference: no dropout); options NULL or zero fields take
 * PyTorch's defaults (feed_forward 2048, ReLU, norm after each residual, eps 1e-5).
 * TransformerEncoder: its layers under "layers" ("layers.0.self_attn.in_proj_weight", …).
 * LSTM and GRU (batch first): weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 (and
 * _reverse, and each further layer) as PyTorch's; x [batch, steps, input] gives every step's
 * output [batch, steps, hidden · directions] from zero initial states, unrolled over the steps
 * (at most 4096). */
HB_API hb_tensor *hb_gelu(hb_tensor *x, bool tanh_form);
/* x normalized over the axes from axis to the last ((x − mean) / √(var + eps)), times weight
 * and plus bias where they are not NULL (shaped as those axes): ONNX LayerNormalization. */
HB_API hb_tensor *hb_layer_norm(hb_tensor *x, int axis, hb_tensor *weight, hb_tensor *bias,
                                float eps);
HB_API hb_block *hb_gelu_new(bool tanh_form);
HB_API hb_block *hb_layer_norm_new(int64_t dim, float eps);
HB_API hb_block *hb_multihead_attention_new(int64_t embed, int64_t heads);
/* Masks as PyTorch's MultiheadAttention and TransformerEncoder take them, either NULL:
 * key_padding [batch, seq] (key_padding_mask, src_key_padding_mask): true where a token is
 * padding, which no query attends to; attn [seq, seq] (attn_mask, mask): true where query i
 * may not attend to key j (a causal mask: hb_greater of column and row indices). A float32
 * mask is added to the scores instead. */
typedef struct hb_attention_masks {
    hb_tensor *key_padding;
    hb_tensor *attn;
} hb_attention_masks;
/* Calls b, a MultiheadAttention, TransformerEncoderLayer or TransformerEncoder, on x with
 * masks: from a forward (a classifier's, which makes the padding mask from its ids), where the
 * masks are traced with the rest of the parent's plan. A call with masks runs b's forward
 * itself, never a plan of b's own. */
HB_API hb_tensor *hb_attention_call(hb_block *b, hb_tensor *x, const hb_attention_masks *masks);
typedef struct hb_transformer_options {
    int64_t feed_forward; /* dim_feedforward; 0: 2048 */
    bool gelu;            /* activation="gelu" (exact); else ReLU */
    bool norm_first;
    float eps;            /* 0: 1e-5 */
} hb_transformer_options;
HB_API hb_block *hb_transformer_encoder_layer_new(int64_t d_model, int64_t heads,
                                                  const hb_transformer_options *o);
HB_API hb_block *hb_transformer_encoder_new(int layers, int64_t d_model, int64_t heads,
                                            const hb_transformer_options *o);
/* nn.Embedding: int64 (or int32) ids of any shape to ids.shape + [dim], parameter "weight"
 * [num, dim]; an id outside [-num, num) fails the call, naming it. */
HB_API hb_block *hb_embedding_new(int64_t num, int64_t dim);
HB_API hb_block *hb_lstm_new(int64_t input, int64_t hidden, int layers, bool bidirectional);
HB_API hb_block *hb_gru_new(int64_t input, int64_t hidden, int layers, bool bidirectional);

/* ---- ONNX ----------------------------------------------------------------------------------- */
/* An ONNX model file (opset 7 or later) as a block: calling it runs the graph's nodes with
 * hybrid's ops, so it hybridizes, nests inside other blocks and trains like any block (as
 * Gluon's SymbolBlock). Float initializers are its parameters, named as in the file
 * ("layer1.0.conv1.weight"; BatchNormalization's mean and variance are constants); integer
 * ones are shapes and axes. The first graph input that is not an initializer is the call's x;
 * others are bound with hb_onnx_bind. The call returns the first graph output (see
 * hb_onnx_select_output). Everything is checked as the file loads: an op or an
 * attribute hybrid does not have is an error naming the node, its op type and the opset. */
HB_API hb_block *hb_onnx_load(const char *path);
HB_API hb_block *hb_onnx_load_buffer(const void *data, size_t len, const char *name);
/* Binds a graph input other than the first to t's values (copied) for the calls that follow.
 * Values of the same shape and dtype as the last ones keep the block's plans (they read the
 * input live); another shape or dtype drops them. Not while the block is being called. */
HB_API hb_status hb_onnx_bind(hb_block *b, const char *name, hb_tensor *t);
/* The graph inputs' names (the first is x); returns how many (-1: not an ONNX block). */
HB_API int hb_onnx_inputs(const hb_block *b, const char **names, int max);
/* The first input's shape as the file declares it (symbolic dims 0); returns its rank, or -1
 * if b is not an ONNX block. shape has room for HB_MAX_DIMS. */
HB_API int hb_onnx_input_shape(const hb_block *b, int64_t *shape);
/* The graph outputs' names, in the file's order; returns how many (-1: not an ONNX block). A
 * block returns one of them: the first, or the one hb_onnx_select_output names (which drops
 * the block's plans: they computed the other). For several, call once per output. */
HB_API int hb_onnx_outputs(const hb_block *b, const char **names, int max);
HB_API hb_status hb_onnx_select_output(hb_block *b, const char *name);
/* Graph input i (in hb_onnx_inputs' order): its dtype and shape as the file declares them
 * (symbolic dims 0); returns its rank, or -1 if b is not an ONNX block or has no input i. */
HB_API int hb_onnx_input_info(const hb_block *b, int i, hb_dtype *dtype, int64_t *shape);
/* b traced on x and written as an ONNX model (opset 13): its parameters and constants as
 * initializers under their state-dict names, the traced shapes. Blocks that run eagerly
 * (islands), control flow on values and training-mode writes are refused, naming the block. */
HB_API hb_status hb_onnx_export(hb_block *b, hb_tensor *x, const char *path);
/* A tensor from a TensorProto file (the ONNX test data's input_0.pb ...), of its dtype. */
HB_API hb_tensor *hb_onnx_tensor_load(const char *path);
/* ---- gradients ---------------------------------------------------------------------------- */
/* Eager backpropagation. With gradients on (per thread), every op reading a trainable
 * parameter, or a tensor made from one, is recorded; hb_backward(loss, g) then computes
 * d(sum(loss · g))/d(parameter) (g NULL: all ones) and adds it to each parameter's grad
 * (shared parameters get the sum over their uses; constants get none), then clears everything
 * recorded on this thread since the last backward (one backward per forward).
 *
 *     hb_grad_enable(true);
 *     hb_tensor *y = hb_block_call(net, x);
 *     hb_backward(y, g);
 *     hb_tensor *gw = hb_tensor_grad(hb_block_param(hb_block_child(net, "0"), "weight"));
 *     hb_block_zero_grad(net);  // before the next step
 */
HB_API void hb_grad_enable(bool on);
HB_API hb_status hb_backward(hb_tensor *loss, hb_tensor *grad_output);
HB_API hb_tensor *hb_tensor_grad(const hb_tensor *t); /* borrowed; NULL if none */
/* Makes a tensor of the caller's a leaf that collects a gradient (parameters already do). */
HB_API void hb_tensor_set_requires_grad(hb_tensor *t, bool on);
HB_API void hb_block_zero_grad(hb_block *b);
HB_API void hb_grad_clear(void); /* forgets what was recorded, without a backward pass */

/* ---- losses and optimizers ---------------------------------------------------------------- */
/* Losses are made of recorded ops, so hb_backward differentiates them; both return shape [].
 *     hb_tensor *loss = hb_cross_entropy(logits, labels);   // logits [N, C], labels[N] in 0..C-1
 *     hb_backward(loss, NULL);
 *     hb_optimizer_step(opt);
 *     hb_block_zero_grad(net);
 */
HB_API hb_tensor *hb_mse_loss(hb_tensor *pred, hb_tensor *target); /* mean((pred - target)²) */
HB_API hb_tensor *hb_cross_entropy(hb_tensor *logits, const int64_t *labels); /* mean of −log p[label] */

typedef enum { HB_OPTIM_SGD, HB_OPTIM_ADAM } hb_optimizer_kind;
typedef struct hb_optim_options {
    float lr;
    float momentum;     /* SGD; 0: plain SGD */
    float weight_decay; /* L2: weight_decay · p added to each gradient (torch.optim's meaning) */
    float beta1, beta2, eps; /* Adam */
} hb_optim_options;
typedef struct hb_optimizer hb_optimizer;
/* torch.optim's defaults at learning rate lr: betas 0.9, 0.999, eps 1e-8 (Adam), no momentum
 * (SGD), no weight decay. */
HB_API hb_optim_options hb_optim_defaults(float lr);
/* Takes every trainable parameter of b's tree (shared ones once; none may be deferred). The
 * update formulas are torch.optim.SGD's and torch.optim.Adam's. */
HB_API hb_optimizer *hb_optimizer_new(hb_block *b, hb_optimizer_kind kind, const hb_optim_options *o);
/* Updates each parameter in place from its gradient; those without one are left alone. Plans
 * read parameters as inputs and see the new values, except those of blocks hybridized with
 * freeze, which folded the old ones in: the step drops them, and the next call traces again. */
HB_API hb_status hb_optimizer_step(hb_optimizer *opt);
HB_API int hb_optimizer_num_params(const hb_optimizer *opt);
HB_API void hb_optimizer_free(hb_optimizer *opt);

/* ---- training steps ----------------------------------------------------------------------- */
/* One training step of a block: forward, loss, backward and, with an optimizer, the update.
 * Compiled, the first step (for each input shape) traces the forward and the loss, the
 * autodiff pass appends the backward and the optimizer's in-place update, and every later step
 * is one plan call: no tape, no per-op dispatch, activations kept only as long as the
 * backward reads them. Control flow stays exact: guards send a step that takes another path
 * to another plan; a step whose gradient would pass through an eager island runs eagerly
 * (hb_trainer_explain says why). Eager, it is hb_grad_enable + hb_backward +
 * hb_optimizer_step. The two give the same steps (to float rounding).
 *
 *     hb_trainer *tr = hb_trainer_new(net, HB_LOSS_CROSS_ENTROPY, opt, true);
 *     hb_tensor *target = hb_one_hot(labels, 64, 10);
 *     float loss;
 *     hb_train_step(tr, x, target, &loss);
 *
 * Losses: HB_LOSS_CROSS_ENTROPY, target [N, C] class probabilities (hb_one_hot for labels),
 * as hb_cross_entropy; HB_LOSS_MSE, target of the output's shape, as hb_mse_loss;
 * HB_LOSS_DOT, sum(output · target), target of the output's shape (hybrid grad's loss).
 * Without an optimizer (opt NULL) a step adds the gradients into each parameter's grad, as
 * hb_backward does. A trainer is used by one thread at a time; free it before opt. */
typedef enum { HB_LOSS_CROSS_ENTROPY, HB_LOSS_MSE, HB_LOSS_DOT } hb_loss_kind;
typedef struct hb_trainer hb_trainer;
HB_API hb_trainer *hb_trainer_new(hb_block *b, hb_loss_kind loss, hb_optimizer *opt, bool compiled);
HB_API hb_status hb_train_step(hb_trainer *t, hb_tensor *x, hb_tensor *target, float *loss);
/* What the steps did: plans, their passes, side exits, and why any step ran eagerly. */
HB_API hb_status hb_trainer_explain(hb_trainer *t, FILE *f);
/* The training graph for x and target after the passes (none: NULL) — for dumps. */
HB_API hb_status hb_trainer_dump(hb_trainer *t, hb_tensor *x, hb_tensor *target, const char *after,
                          FILE *f);
HB_API void hb_trainer_free(hb_trainer *t);
/* [n, classes]: row i is 1 at labels[i], 0 elsewhere (labels checked to be in range). */
HB_API hb_tensor *hb_one_hot(const int64_t *labels, int64_t n, int64_t classes);

/* ---- hybridization ------------------------------------------------------------------------ */
/* hb_hybridize(net, true) makes net and every block under it hybridized. The next call of net
 * runs eagerly while a tracer records an IR graph of every op; the graph is optimized and
 * lowered to a plan, and later calls with an input of the same shape run the plan: a flat
 * list of kernel calls over memory planned in advance. A new input shape traces again (up to 16
 * plans are kept per block, least recently used evicted).
 *
 * Control flow on values written with hb_test (if (hb_test(hb_gt(s, 1.0f))) ...) stays
 * compiled: each outcome seen while tracing is a guard in the plan, a call that goes the other
 * way leaves the plan and runs eagerly, and its path is traced as another plan for the same
 * shape (up to 8 paths per shape; beyond, such calls run eagerly). A loop on hb_test whose
 * traced rounds repeat the same ops (two rounds or more) is lifted into one loop node, so one
 * plan serves every trip count of one or more. Guards are tested as soon
 * as their value is known; work before a failed guard is done again eagerly, so a forward
 * should not count on running exactly once per call (an eager island before a guard may run
 * twice in a call that leaves the plan).
 *
 * A forward that reads tensor values on the host (hb_item, hb_tensor_data, hb_tensor_cdata), or
 * brings in host or random data (hb_tensor_from, hb_tensor_new, hb_rand in the forward), decides
 * something a plan cannot see. The innermost block whose forward does so runs eagerly from then
 * on; a parent's plan calls it as one "eager island" instruction, and its own hybridized
 * children still get plans. hb_block_explain says which block, which op and why.
 *
 * What a trace takes as fixed: the shapes (a plan is per input shape), scalar arguments of ops
 * (hb_mul_scalar(x, s) records s), and tensors filled by hb_zeros/hb_ones/hb_full in the
 * forward. Parameters are read live by the plan: updates between calls are seen. Loading new
 * weights drops the plans. Tensors from outside the block tree are read live too.
 *
 *     hb_hybridize(net, true);
 *     hb_tensor *y1 = hb_block_call(net, x);   // traces, compiles; eager result
 *     hb_tensor *y2 = hb_block_call(net, x);   // runs the plan
 *     hb_block_explain(net, stdout, false);    // what was compiled, what runs eagerly, why
 */
HB_API hb_status hb_hybridize(hb_block *b, bool active);

/* freeze (inference): the trace takes trainable parameters as constants too, so plans fold
 * them and store weights pre-transposed. Updates to parameters are then not seen until the
 * plans are dropped (hb_block_load drops them; so does changing freeze). */
/* interpret: fused groups run in hybrid's interpreter even where the LLVM JIT is built (which
 * otherwise compiles them to native code; HB_JIT=0 in the environment does the same for the
 * whole process). */
typedef struct hb_hybrid_options {
    bool freeze;
    bool interpret;
} hb_hybrid_options;
HB_API hb_status hb_hybridize_with(hb_block *b, bool active, const hb_hybrid_options *opts);

typedef struct hb_plan hb_plan;
typedef struct hb_plan_ctx hb_plan_ctx;
typedef struct hb_graph hb_graph;

/* The plan and the graph (after passes) b compiled for inputs of this shape (the first of them,
 * if guards gave it several paths); NULL if none. Borrowed: valid until b is released, loads
 * weights or evicts the plan — so use them while no other thread calls b. */
HB_API hb_plan *hb_block_plan(hb_block *b, int ndim, const int64_t *shape);
HB_API const hb_graph *hb_block_graph(hb_block *b, int ndim, const int64_t *shape);

/* Running a plan directly, without a block call: each thread uses its own context. A run
 * allocates nothing: in and out are the caller's buffers of the plan's input and output size. */
HB_API hb_plan_ctx *hb_plan_ctx_new(const hb_plan *p);
HB_API void hb_plan_ctx_free(hb_plan_ctx *ctx);
HB_API hb_status hb_plan_run(const hb_plan *p, hb_plan_ctx *ctx, const float *in, float *out);
HB_API int hb_plan_num_instructions(const hb_plan *p);
HB_API int64_t hb_plan_arena_bytes(const hb_plan *p);

/* The IR as text (print -> parse -> print is identical) and as Graphviz DOT. */
HB_API hb_status hb_graph_print(FILE *f, const hb_graph *g);
HB_API char *hb_graph_to_string(const hb_graph *g); /* free() it */
HB_API hb_status hb_graph_print_dot(FILE *f, const hb_graph *g);
HB_API int hb_graph_num_nodes(const hb_graph *g);

/* Traces b on x (running it once, eagerly) and prints the graph: as traced (after = NULL),
 * after the pass named after, or after every pass ("all"); text or DOT. */
HB_API hb_status hb_block_dump(hb_block *b, hb_tensor *x, const char *after, bool dot, FILE *f);
/* What hybridization did in b's tree: per block its plans (signatures, nodes traced and after
 * passes, instructions, arena bytes with and without reuse), eager islands with block path, op
 * and reason, and the last retrace's cause. json: one object in the form of docs/cli.md. */
HB_API hb_status hb_block_explain(hb_block *b, FILE *f, bool json);
/* Which GEMM kernels this process runs, in one line: hybrid's own, chosen by the CPU's
 * features (HB_ISA=generic|avx2|avx512 picks a lower one), and where OpenBLAS still runs
 * (HB_GEMM=openblas: everywhere). */
HB_API const char *hb_gemm_kernels(void);

/* ---- parameter and data files ------------------------------------------------------------- */

/* safetensors: every parameter and constant of the tree, by name. Loading checks every name
 * and shape: a missing, unknown or mis-shaped name is an error that names it, and nothing is
 * changed then. Deferred parameters take their shape from the file. */
HB_API hb_status hb_block_load(hb_block *b, const char *path);
HB_API hb_status hb_block_save(hb_block *b, const char *path); /* writes a temp file, then renames */

/* .npy files of numbers and bool, little-endian, C order: float64 and float16 become float32
 * on reading; the integers and bool keep their dtype. */
HB_API hb_tensor *hb_npy_load(const char *path);
HB_API hb_status hb_npy_save(const hb_tensor *t, const char *path);

/* Named tensors of a safetensors file, for tools and tests. */
HB_API hb_status hb_safetensors_load(const char *path, hb_state_dict *out);
HB_API hb_status hb_safetensors_save(const char *path, int count, const char *const *names,
                              hb_tensor *const *tensors);

/* ---- threads ------------------------------------------------------------------------------ */

/* Threads OpenBLAS may use for one GEMM (0 keeps its default). */
HB_API void hb_set_num_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
