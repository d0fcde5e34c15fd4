/* Between the ONNX reader (onnx_import.c: the file, its initializers, value slots and graph walk)
 * and the op mappings (onnx_ops.c: one table row per ONNX op, with its checks and builder). */
#ifndef HB_ONNX_IMPORT_H
#define HB_ONNX_IMPORT_H

#include "frontend.h"
#include "onnx.pb-c.h"

/* A host array of integers: a shape-like value (ONNX int64 tensors). */
typedef struct onnx_ints {
    hb_shape shape;
    int64_t *v;
    int64_t n;
    bool boolean; /* 0s and 1s of a bool tensor (a Cast to bool's): one as a tensor is bool */
} onnx_ints;

typedef enum onnx_slot_kind {
    ONNX_SLOT_UNSET,  /* a name nothing defines (yet) */
    ONNX_SLOT_INPUT,  /* the call's x, or an input bound with hb_onnx_bind */
    ONNX_SLOT_TENSOR, /* a parameter or constant of the block (float initializer, Constant node) */
    ONNX_SLOT_INTS,   /* an integer initializer or Constant: a host array */
    ONNX_SLOT_NODE,   /* a node's output */
} onnx_slot_kind;

typedef struct onnx_slot {
    char *name;
    onnx_slot_kind kind;
    hb_tensor *t;    /* ONNX_SLOT_TENSOR: retained; ONNX_SLOT_INPUT (bound): retained */
    onnx_ints iv;    /* ONNX_SLOT_INTS: owned */
    bool is_int;     /* ONNX_SLOT_NODE: the node makes integers (Shape, Gather of integers, ...) */
    hb_dtype dtype;  /* ONNX_SLOT_INPUT: as the graph declares it, with its shape (symbolic */
    hb_shape declared; /* dims 0) */
} onnx_slot;

enum {
    ONNX_MAX_OUTPUTS = 64, /* of one node (a Split's parts) */
    ONNX_VARIADIC = 64,    /* max_in of an op taking any number of inputs (Sum, Concat, ...) */
    ONNX_MAX_BRANCHES = 2, /* graph attributes of one node (If's then and else) */
    ONNX_MAX_CARRIED = 64, /* a Loop's carried values and scan outputs */
};

/* A graph attribute of a node (an If's then_branch, a Loop's body): its nodes lie in the
 * model's node array from `from` to `to`, right after the node; in[j] is the slot of its input
 * j (a Loop body's iteration number, condition and carried values), out[j] of its output j. */
typedef struct onnx_branch {
    int from, to;
    int *in, *out;
    int nin, nout;
} onnx_branch;

typedef struct onnx_op onnx_op;

typedef struct onnx_node {
    const Onnx__NodeProto *p;
    char *key; /* its part of block paths: the node's name, or "OpType_index" */
    const onnx_op *op;
    int *in, *out; /* slot ids; -1 for an input left empty ("") */
    int nin, nout;
    /* read at load: Pad's constant value (the value attribute or input); Pow's exponent when
     * it is a one-element constant, with its rank (-1: not one); ConstantOfShape's value (as
     * fill_int when it is an integer) */
    float fill;
    int fill_rank;
    int64_t fill_int;
    hb_dtype fill_dtype; /* ConstantOfShape's integer value's: int64 ones stay host arrays */
    onnx_branch branch[ONNX_MAX_BRANCHES]; /* its graph attributes, as its row's graphs lists */
    int nbranches;
    int next; /* the node after it in its graph: past its branches' nodes */
} onnx_node;

typedef struct onnx_model {
    Onnx__ModelProto *proto;
    char *path;
    int64_t opset;
    onnx_slot *slots;
    int nslots, cap;
    onnx_node *nodes;
    int nnodes;
    int x;      /* the call's input slot */
    int output; /* the returned slot */
} onnx_model;

/* A call's values: float tensors (owned by the call's frame) and host integer arrays. */
typedef struct onnx_call {
    hb_block *self;
    const onnx_model *m;
    hb_tensor **t;
    onnx_ints *iv;
    const onnx_node *n; /* the node running, for messages */
} onnx_call;

/* How a node's first output relates to integers (host arrays that shape computations make). */
typedef enum onnx_ints_rule {
    ONNX_INTS_NONE,  /* floats only */
    ONNX_INTS_MAKES, /* always integers (Shape) */
    ONNX_INTS_KEEPS, /* integers when its first input is integers (Gather, Concat, ...) */
} onnx_ints_rule;

/* One ONNX op as hybrid reads it. The reader checks, in this order, for every node: since,
 * min_in..max_in, at least one output, that each attribute is in attrs (any other attribute
 * with a value is an error), then check; it wires the node's inputs and outputs, checks
 * max_out, then calls load. When the model's forward runs, run builds the node's result. */
struct onnx_op {
    const char *type;
    int since;          /* the opset it is read from (inputs and attributes as of then) */
    int min_in, max_in; /* max_in ONNX_VARIADIC: any number, none of them empty */
    int max_out;        /* outputs it can make (a block returns one, but a node may feed many) */
    const char *attrs;  /* the attributes hybrid reads, separated by spaces */
    bool (*run)(onnx_call *c);
    /* optional: attribute values and opset rules, on the node as the file has it */
    hb_status (*check)(const onnx_model *m, const Onnx__NodeProto *p);
    /* optional: what needs the node's slots (constants made, ranks known at load) */
    hb_status (*load)(hb_block *root, onnx_model *m, onnx_node *n);
    onnx_ints_rule ints;
    /* the graph attributes the reader loads as the node's branches, in order, separated by
     * spaces (If: "then_branch else_branch"); each must be present */
    const char *graphs;
    unsigned statistics; /* bit i: input i is a running statistic (a constant, never trained) */
    /* the eager op of an elementwise mapping, whose run is run_unary or run_binary */
    hb_tensor *(*unary)(hb_tensor *x);
    hb_tensor *(*binary)(hb_tensor *a, hb_tensor *b);
    /* the same op on host integers (shape arithmetic), one element of up to three inputs;
     * false where it is undefined (a division by zero) */
    bool (*int_fn)(int64_t a, int64_t b, int64_t c, int64_t *r);
};

/* The row for op_type, or NULL if hybrid has no such op (onnx_ops.c). */
const onnx_op *onnx_find_op(const char *op_type);

/* The rest is the reader's (onnx_import.c). */

/* Sets the error "<file>: node 3 "name" (Conv, opset 13): <message>" and returns st. */
hb_status onnx_node_fail(const onnx_model *m, const Onnx__NodeProto *p, hb_status st,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Node p's attribute called name, or NULL. */
const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *p, const char *name);
int64_t onnx_attr_int(const Onnx__NodeProto *p, const char *name, int64_t def);
float onnx_attr_float(const Onnx__NodeProto *p, const char *name, float def);
/* A list of ints (NULL and *n = 0 if absent). */
const int64_t *onnx_attr_ints(const Onnx__NodeProto *p, const char *name, size_t *n);
/* Whether string attribute name is value (value NULL: whether it is absent). */
bool onnx_attr_string_is(const Onnx__NodeProto *p, const char *name, const char *value);

/* The host integers slot s holds in call c (computed from shapes, or a constant), or NULL. */
const onnx_ints *onnx_slot_ints(const onnx_call *c, int s);

/* dst (its old values freed) as a copy of src; false if out of memory. */
bool onnx_ints_copy(onnx_ints *dst, const onnx_ints *src);

/* Host integers as a tensor of the call's frame: int64, or bool if v->boolean. */
hb_tensor *onnx_ints_tensor(const onnx_ints *v);

/* The values of t into a new tensor of its dtype; NULL with the error set. */
hb_tensor *onnx_typed_tensor(const onnx_model *m, const Onnx__TensorProto *t, const char *what);
/* The integer values of t (INT64 or INT32) as a host array; false with the error set. */
/* A one-element bool (a Loop's "true", from a Constant or an initializer) into slot s as host
 * integers, so that testing it is no guard; takes v over. */
hb_status onnx_host_bool(onnx_model *m, int s, hb_tensor *v);
bool onnx_int_values(const onnx_model *m, const Onnx__TensorProto *t, onnx_ints *out);
bool onnx_is_int_type(int32_t type);

/* Adds value (consumed) to root under name, a parameter if trainable, else a constant, and
 * makes slot s refer to it. */
hb_status onnx_add_value(hb_block *root, onnx_model *m, int s, const char *name,
                         hb_tensor *value, bool trainable);

/* The rank of slot s if the model says it: a constant's, or a graph input's declared shape;
 * -1 if unknown. */
int onnx_declared_rank(const onnx_model *m, int s);

/* Runs the nodes of a graph or branch, from to to (exclusive), each as a call of its own
 * under c->self; false with the error set when one fails. */
bool onnx_run_nodes(onnx_call *c, int from, int to);

/* Whether node n's first input holds integers (known at load: constants and shape results). */
bool onnx_reads_ints(const onnx_model *m, const onnx_node *n);

#endif
