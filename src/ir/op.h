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
};

typedef enum hb_op {
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad) HB_OP_##NAME,
#include "ops.def"
#undef HB_OP
    HB_OP_COUNT
} hb_op;

/* Which fields of hb_attrs an op reads (the last column of ops.def). */
typedef enum hb_attr_kind {
    HB_ATTRS_NONE,
    HB_ATTRS_SCALAR, /* scalar */
    HB_ATTRS_REDUCE, /* all, or axis and keepdim */
    HB_ATTRS_AXIS,   /* axis */
    HB_ATTRS_SHAPE,  /* shape */
    HB_ATTRS_AXES,   /* axis and axis2 */
    HB_ATTRS_REASON, /* none in hb_attrs: the node's reason (islands) */
    HB_ATTRS_EXPECT, /* scalar: 1 (true) or 0 (false), a guard's traced outcome */
    HB_ATTRS_BODY,   /* body: a loop's graph */
    HB_ATTRS_SLICE,  /* axis, start and length */
    HB_ATTRS_PAD,    /* before, after and scalar (the fill) */
    HB_ATTRS_PROGRAM,        /* prog */
    HB_ATTRS_REDUCE_PROGRAM, /* prog, reduce, and all or axis and keepdim */
    HB_ATTRS_GEMM,           /* prog, trans_a and trans_b */
    HB_ATTRS_CONV,           /* win: stride, pad, dilation, groups */
    HB_ATTRS_CONV_GRAD,      /* win as CONV, and shape: the result's (x's or w's) */
    HB_ATTRS_POOL,           /* win: kernel, stride, pad */
    HB_ATTRS_POOL_GRAD,      /* win as POOL, and shape: the pool's input's */
    HB_ATTRS_CONV_PROGRAM,   /* win as CONV, and prog: a fused convolution's epilogue */
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
} hb_attrs;

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
