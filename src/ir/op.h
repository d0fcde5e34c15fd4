/* The op set (expanded from ops.def), op attributes, and shape inference. Nothing here knows
 * about tensors or blocks: ops are described by shapes and attributes only. */
#ifndef HB_IR_OP_H
#define HB_IR_OP_H

#include "../common.h"

struct hb_program;
struct hb_graph;

enum {
    HB_EW = 1 << 0,   /* elementwise: output[i] depends on input[i] (after broadcasting) */
    HB_COMM = 1 << 1, /* commutative in its two inputs */
    HB_INPL = 1 << 2, /* may write its output over its first input's buffer */
    HB_RED = 1 << 3,  /* reduction over all elements or one axis */
    HB_OPAQUE = 1 << 4, /* computed outside the graph: never folded, fused or moved */
    HB_FUSED = 1 << 5,  /* made by fusion: carries a program (attrs.prog) */
    HB_PROG = 1 << 6,   /* may be an instruction of a program: an HB_EW_OP row of ops.def,
                           whose row says how it computes one element (never set by hand) */
    HB_FAILS = 1 << 7,  /* its kernel may refuse the values it reads (an index out of range):
                           it sets the thread's error, which eager calls and plans check */
};

typedef enum hb_op {
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad) HB_OP_##NAME,
#include "ops.def"
#undef HB_OP
    HB_OP_COUNT
} hb_op;

/* Which fields of hb_attrs an op reads (the last column of ops.def): a row of attrs.def. */
typedef enum hb_attr_kind {
#define HB_ATTRS(NAME, ...) HB_ATTRS_##NAME,
#include "attrs.def"
#undef HB_ATTRS
    HB_ATTRS_COUNT
} hb_attr_kind;

typedef struct hb_op_info {
    const char *name;
    int min_inputs, max_inputs; /* max -1: variadic */
    unsigned flags;
    hb_attr_kind attrs;
} hb_op_info;

extern const hb_op_info hb_op_table[HB_OP_COUNT];

/* The window of a 2-D convolution or pooling over [N, C, H, W] (index 0: along H, 1: along W).
 * A convolution's kernel size comes from its weight; a pool's is here. */
typedef struct hb_window {
    int kernel[2];   /* pools */
    int stride[2];   /* >= 1 */
    int pad[2];      /* zeros (convolution, average pool) or -inf (max pool) on both sides */
    int dilation[2]; /* convolutions: >= 1 */
    int groups;      /* convolutions: input and output channels in this many groups */
    int ceil_mode;   /* pools: 1 rounds output sizes up (a last, partial window) */
    int exclude_pad; /* average pool: 1 divides by the inputs a window holds, not by kh·kw */
} hb_window;

/* Attributes of one op application; which fields matter depends on the op. */
/* A scan's rounds (ops.def's SCAN row): round r reads each of its sequence inputs at
 * slice(axis, start ± r·length, length), - when reverse, and puts the round's step value at
 * position r (T-1-r when reverse) of their stack along attrs.shape's axis stack. */
typedef struct hb_scan_attrs {
    int64_t steps;   /* T, the rounds */
    int64_t carries; /* the first inputs: the state each round replaces */
    int64_t seqs;    /* the next inputs: the sequences each round reads a slice of */
    int64_t start, length;
    int axis;        /* the sequences' */
    int stack;       /* attrs.shape's (the step value's) */
    bool reverse;
} hb_scan_attrs;

typedef struct hb_attrs {
    float scalar;  /* *_SCALAR */
    int axis;      /* reductions (unless all), softmax, concat, transpose's first axis */
    int axis2;     /* transpose's second axis */
    bool all;      /* reductions over every element */
    bool keepdim;  /* reductions over one axis */
    hb_shape shape; /* reshape target, one dim may be -1; island: its output shape */
    void *callee;   /* island: the block (opaque here), run through hb_island_hook */
    const struct hb_program *prog; /* fused ops: owned by the node (hb_node.prog) */
    hb_op reduce;   /* fused_reduce: HB_OP_SUM, HB_OP_MEAN or HB_OP_MAX */
    bool trans_a;   /* gemm: the first input is [k, m], 2-D (a gradient's rows become columns) */
    bool trans_b;   /* gemm: the second input is [n, k] (a linear's weight) */
    const struct hb_graph *body; /* loop: owned by the node (hb_node.body) */
    int64_t start, length; /* slice */
    hb_shape before, after; /* pad: per axis, added at the start and at the end (negative crops) */
    hb_window win; /* convolutions and pools */
    hb_dtype dtype; /* cast: the result's dtype */
    bool last;      /* argmax, argmin: the last of equal extremes, not the first */
    bool fmod;      /* mod: the remainder takes the dividend's sign (C's fmod), not the divisor's */
    bool accumulate; /* scatter_nd: updates are added to the data, not written over it */
    hb_scan_attrs scan; /* scan: its rounds, and how it reads its sequences */
    /* A plan's linear, matmul or gemm over a constant B: B packed for hybrid's GEMM kernels
     * when the plan was lowered (owned by the plan's instruction), else NULL. Not text. */
    const float *packed;
    /* A plan's small linear or gemm over a live B [n, k]: Bᵀ as [k, n], kept while B's
     * values are unchanged (weights.c), else NULL. Not text. */
    const float *transposed;
    /* A plan's fused instruction that the JIT runs in parts on the pool: its code (jit.c's
     * jit_part), else NULL. Not text. */
    const struct jit_part *part;
} hb_attrs;

/* ---- dtypes (dtype.c) --------------------------------------------------------------------- */

typedef enum hb_dtype_kind { HB_KIND_FLOAT, HB_KIND_SIGNED, HB_KIND_UNSIGNED, HB_KIND_BOOL } hb_dtype_kind;

typedef struct hb_dtype_info {
    const char *name;        /* "int64" */
    const char *text;        /* in the IR text: "i64[2, 3]" */
    size_t size;             /* bytes per element */
    int onnx;                /* TensorProto.DataType */
    const char *npy;         /* NumPy's descr ("<i8"); NULL: NumPy has none */
    const char *safetensors; /* "I64" */
    hb_dtype_kind kind;
} hb_dtype_info;

extern const hb_dtype_info hb_dtypes[HB_DTYPE_COUNT];

bool hb_dtype_by_onnx(int code, hb_dtype *d);
bool hb_dtype_is_int(hb_dtype d); /* signed or unsigned, not bool */
/* Element i of p, of dtype d, as a double or as an int64 (floats toward zero, saturated); and
 * stored (to ints: floats toward zero, ints keep their low bits; to bool: v != 0). */
double hb_dtype_get(hb_dtype d, const void *p, int64_t i);
int64_t hb_dtype_get_int(hb_dtype d, const void *p, int64_t i);
void hb_dtype_set(hb_dtype d, void *p, int64_t i, double v);
void hb_dtype_set_int(hb_dtype d, void *p, int64_t i, int64_t v);

/* The output dtype of op over inputs of these dtypes (ops.def's HB_DTYPE_RULE rows; any other
 * op takes float32 alone). On a mismatch writes a message naming the op, the input and both
 * dtypes into err and returns HB_ERR_ARG. */
hb_status hb_op_dtype(hb_op op, const struct hb_attrs *attrs, int n, const hb_dtype *in,
                      hb_dtype *out, char *err, size_t err_size);

/* The largest dim the IR text takes. */
#define HB_DIM_MAX ((int64_t)1 << 56)

/* How one field of an attribute kind is written, read and compared (attrs.def lists them). */
typedef enum hb_field_type {
    HB_FIELD_END, /* after a kind's last field */
    HB_FIELD_SCALAR,
    HB_FIELD_INT,
    HB_FIELD_COUNT,
    HB_FIELD_FLAG,
    HB_FIELD_DIMS,
    HB_FIELD_PAIR,
    HB_FIELD_EXPECT,
    HB_FIELD_REDUCTION,
    HB_FIELD_EXTENT,
    HB_FIELD_KEEPDIM,
    HB_FIELD_PROGRAM,
    HB_FIELD_BODY,
    HB_FIELD_REASON,
    HB_FIELD_DTYPE,
} hb_field_type;

/* A field, found in hb_attrs by its offset (as CPython's PyMemberDef finds a member). */
typedef struct hb_attr_field {
    hb_field_type type;
    const char *key; /* its name in the text; a flag's word */
    size_t at, at2;  /* offsetof its member in hb_attrs; a pair's second number at at2 */
    size_t size;     /* a flag's member's size: bool or int */
    const char *what; /* numbers: what the parser expects, "an axis" */
    int64_t lo;       /* dims: the smallest dim allowed */
} hb_attr_field;

enum { HB_ATTR_MAX_FIELDS = 12 }; /* with the end (a scan has 10) */

typedef struct hb_attr_kind_info {
    const char *name;
    hb_attr_field fields[HB_ATTR_MAX_FIELDS]; /* ends at the first HB_FIELD_END */
} hb_attr_kind_info;

extern const hb_attr_kind_info hb_attr_kinds[HB_ATTRS_COUNT];

/* The member of attrs at a field's offset, as a type (const or not, as attrs is). */
#define HB_FIELD_AT(type, attrs, off) ((type *)(const void *)((const char *)(attrs) + (off)))

/* Whether flag field f is set in a (its member a bool or an int). */
bool hb_attr_flag(const hb_attr_field *f, const hb_attrs *a);

/* Whether a and b, attributes of two nodes of op, are the same field for field (what CSE and
 * loop lifting merge by); never for guards, islands and loops. */
bool hb_attrs_equal(hb_op op, const hb_attrs *a, const hb_attrs *b);

/* Output shape of op over inputs, with attributes normalized (negative axes resolved, reshape's
 * -1 filled in). On a mismatch writes a message naming the op's inputs' shapes into err and
 * returns HB_ERR_SHAPE or HB_ERR_ARG. */
hb_status hb_op_infer(hb_op op, hb_attrs *attrs, int n, const hb_shape *in, hb_shape *out,
                      char *err, size_t err_size);

/* Whether e may be an epilogue input of a fused convolution whose output is out: a scalar,
 * a per-channel [C, 1, 1], [1, C, 1, 1] or [C] (read per channel, as a bias), or out's own
 * shape. */
bool hb_conv_epilogue_input(const hb_shape *e, const hb_shape *out);

/* Broadcast shape of a and b by NumPy rules; false if they do not broadcast. */
bool hb_shape_broadcast(const hb_shape *a, const hb_shape *b, hb_shape *out);

#endif
