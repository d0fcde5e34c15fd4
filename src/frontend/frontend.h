/* Internals shared by the frontend's files: the tensor layout, the call stack (autorelease
 * frames, and errors that name the block path of the call that failed), blocks, the tracer. */
#ifndef HB_FRONTEND_H
#define HB_FRONTEND_H

#include "../ir/op.h"

#include <stdatomic.h>

struct hb_tensor {
    atomic_int refs;
    hb_dtype dtype;
    hb_shape shape;
    int64_t numel;
    float *data; /* numel elements of dtype in the same allocation: 16-byte aligned, 64 if
                  * large (float32 unless dtype says otherwise: cast before reading it so) */
    /* Made by the trace with this id (0: not made while tracing): the tensor is then private
     * to the tracing thread, and trace_value is its IR value (-1: host data, not an op). */
    uint64_t trace_id;
    int trace_value;
    unsigned trace_gen; /* how many island cuts that trace had made when this value was made */
    bool requires_grad; /* a trainable parameter, or made from one while gradients are on */
    /* Counts the changes of the values the library can see, so that plans may keep what they
     * derive from a parameter (its packed form) until it changes: +2 for each write by the
     * library (an optimizer step, a load, a plan's in-place update); odd while a pointer that
     * can write (hb_tensor_data, hb_tensor_raw) is out and hb_tensor_written has not said the
     * writes are done — then nothing derived from it is kept. */
    atomic_uint version;
    hb_tensor *grad;    /* d loss / d this tensor after hb_backward (owned), or NULL */
};

/* The library wrote t's values (version += 2). */
void hb_tensor_changed(hb_tensor *t);

/* Tensors alive on all threads: tests use it to prove that block calls release what they make. */
extern atomic_long hb_tensors_live;

/* A tensor of shape s with uninitialized values; checks the size for overflow. */
hb_tensor *hb_tensor_alloc(const hb_shape *s);
hb_tensor *hb_tensor_alloc_typed(const hb_shape *s, hb_dtype dtype);

/* A tensor with a shape and no data (data NULL): what ops make while a graph is extended
 * symbolically (hb_trace_attach). */
hb_tensor *hb_tensor_alloc_meta(const hb_shape *s, hb_dtype dtype);

/* A tensor of values the forward computed from its shapes and constants (an ONNX model's
 * shape arithmetic): the same on every call with these input shapes, so a trace keeps it as a
 * constant, as it does hb_full's. Adopted by the current call. */
hb_tensor *hb_tensor_fill_typed(hb_dtype dtype, const void *data, const hb_shape *s);

/* How a tensor made outside an op entered a traced forward. */
typedef enum hb_origin {
    HB_ORIGIN_FILL,   /* zeros/ones/full: values given by the call, the same every time */
    HB_ORIGIN_HOST,   /* copied from host memory or a file: may differ from call to call */
    HB_ORIGIN_RANDOM, /* drawn from a generator: differs on every call */
} hb_origin;

/* What tensor.c tells a tracer, installed by trace.c before its first trace so that tensor.c
 * does not call into it (as hb_block_hook and the runtime's hb_island_hook); NULL until then. */
typedef struct hb_tensor_hooks {
    void (*created)(hb_tensor *t, hb_origin origin, const char *fn); /* made outside an op */
    void (*host_read)(const hb_tensor *t, const char *fn); /* its values read on the host */
    void (*guard)(const hb_tensor *t, bool outcome);       /* hb_test saw outcome for t */
} hb_tensor_hooks;
extern const hb_tensor_hooks *_Atomic hb_tensor_hook; /* atomic: installed by any thread */

/* ---- the call stack (frame.c) ----------------------------------------------------------- */

/* A point in a trace: its node and value counts. */
typedef struct hb_trace_pos {
    int nodes, values;
} hb_trace_pos;

/* One block call on this thread's stack. */
typedef struct hb_frame {
    hb_block *block;
    const char *key;  /* this call's component of the block path */
    hb_tensor **owned;
    int nowned, cap;
    hb_trace_pos start; /* tracing: the trace's size when this call's forward began */
    bool read_host;   /* tracing: this call's forward read tensor values on the host */
    char *reason;     /* why, for explain: the thread's buffer for this depth */
    const char *read_op;
    const void *extra; /* what the caller gave the forward besides x (attention's masks) */
} hb_frame;

enum { HB_REASON_SIZE = 200 };

hb_frame *hb_frame_top(void); /* NULL outside any call */
int hb_frame_depth(void);
hb_frame *hb_frame_at(int i);

/* Frames are pushed for each call; key overrides the path component (NULL: the key the caller
 * registered b under). hb_frame_disown takes t back from the frame that owns it. */
hb_status hb_frame_push(hb_block *b, const char *key);
void hb_frame_pop(void);
bool hb_frame_disown(hb_tensor *t);

/* Gives a new tensor to the innermost block call on this thread, which releases it when the
 * call returns; outside any call the caller keeps it. Returns t (NULL if adopting failed, in
 * which case t has been released). */
hb_tensor *hb_frame_adopt(hb_tensor *t);

/* Sets the error as hb_error_set does, with the current block path in front:
 * "chimera/0/net/2: <message>" (just the message outside any call). */
hb_status hb_frame_fail(hb_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The current block path ("" outside any call) written into buf. */
const char *hb_frame_path(char *buf, size_t size);

/* ---- blocks: the parts the other frontend files reach into -------------------------------- */

typedef struct hb_hybrid hb_hybrid; /* hybridize.c: plan cache and what explain reports */

typedef struct hb_child {
    char *key;
    hb_block *block;
} hb_child;

struct hb_block {
    atomic_int refs;
    char *type, *name;
    hb_forward_fn forward;
    void *state;
    void (*free_state)(void *);
    hb_child *children;
    int nchildren, cap_children;
    struct hb_param *params;
    int nparams, cap_params;
    hb_hybrid *hybrid; /* NULL until hb_hybridize */
    bool inference;    /* hb_block_set_training(b, false); blocks start in training mode */
};

/* Runs b's forward in a new frame; the result is adopted by the caller's frame. */
hb_tensor *hb_block_call_eager(hb_block *b, hb_tensor *x, const char *key);
/* The same with extra for the forward to read (hb_frame_top()->extra): its own arguments
 * besides x, which no plan could take, so the call is eager (and traced inside a parent's). */
hb_tensor *hb_block_call_extra(hb_block *b, hb_tensor *x, const void *extra);

/* What hybridization adds to block calls, installed by hybridize.c before it gives any block
 * its state (b->hybrid) or starts a trace, so that block.c calls neither it nor the tracer (as
 * hb_island_hook keeps the runtime from calling blocks); NULL until then. */
typedef struct hb_block_hooks {
    hb_tensor *(*call)(hb_block *b, hb_tensor *x); /* hb_block_call of a b with state */
    hb_trace_pos (*mark)(void); /* where a call begins in the trace being recorded, if any */
    /* The forward of b, called in frame f on x, read values (f->read_host) while traced and
     * returned y: it runs eagerly for good, and the trace calls it as an island. */
    void (*read_values)(hb_block *b, const hb_frame *f, hb_tensor *x, hb_tensor *y);
    void (*free)(hb_hybrid *h); /* when its block is released */
} hb_block_hooks;
extern const hb_block_hooks *_Atomic hb_block_hook; /* atomic: installed by any thread */

typedef struct hb_param {
    char *name;
    hb_tensor *value; /* NULL while deferred */
    bool trainable;
    hb_shape shape;   /* dims 0 while deferred */
    hb_init init;
    char *fan_in_of;  /* owned copy of init.fan_in_of */
} hb_param;

/* A library block whose state is a copy of the size bytes at state (freed with the block);
 * NULL if out of memory. */
hb_block *hb_block_new_with(const char *type, hb_forward_fn forward, const void *state,
                            size_t size);

/* The tree's constants as they are before a traced forward that runs eagerly only to record
 * (a training step's, a dump's, an export's): a training-mode batch norm writes its running
 * statistics, and that call must leave them as they were (block.c). */
typedef struct hb_saved_consts {
    hb_state_dict sd;
    float **copies; /* per entry: the values, or NULL for a parameter */
} hb_saved_consts;
bool hb_block_consts_save(hb_block *b, hb_saved_consts *s); /* false: out of memory */
void hb_block_consts_restore(hb_saved_consts *s);           /* puts them back, frees s */
void hb_block_consts_free(hb_saved_consts *s);              /* frees s, changes nothing */

/* The parameter or constant called name in b itself, or NULL; sets no error. */
hb_param *hb_block_find_param(const hb_block *b, const char *name);

/* Calls visit for every parameter and constant of the tree with its state_dict name. */
typedef hb_status (*hb_param_visit)(void *ctx, const char *name, hb_block *owner, hb_param *p);
hb_status hb_block_walk(hb_block *b, hb_param_visit visit, void *ctx);

/* Gives a deferred parameter its values (takes over value); for one with values, copies. */
hb_status hb_block_param_assign(hb_param *p, const hb_tensor *value);

/* "[256, ?]": a shape with deferred dims shown as '?'. */
const char *hb_block_param_shape_fmt(const hb_param *p, char *buf, size_t size);

/* The state_dict name of tensor t among root's parameters and constants, into name; false if t
 * is not one of them. */
bool hb_block_find_tensor(hb_block *root, const hb_tensor *t, char *name, size_t size,
                          bool *trainable);

/* ---- files (io.c) --------------------------------------------------------------------------- */

/* The readers on a file's bytes already in memory (name is the file's, for messages): what
 * hb_safetensors_load and hb_npy_load do after reading the file; the fuzz harnesses call them. */
hb_status hb_io_safetensors_parse(const char *name, const unsigned char *buf, size_t size,
                                  hb_state_dict *out);
hb_tensor *hb_io_npy_parse(const char *name, const unsigned char *buf, size_t size);

/* ---- tracing (trace.c) -------------------------------------------------------------------- */

typedef struct hb_trace hb_trace;

/* The trace this thread is recording into, NULL if none: read by every op. */
extern _Thread_local hb_trace *hb_tracing;

/* Starts recording a call of root on x; the trace nests inside any trace in progress (which
 * is paused until hb_trace_end). NULL if out of memory (then the call just runs eagerly). */
hb_trace *hb_trace_begin(hb_block *root, hb_tensor *x, const char *name, bool freeze);
/* Ends the trace begun last on this thread; returns its graph with y as output (NULL if the
 * trace failed or y is NULL), and frees the trace. */
hb_graph *hb_trace_end(hb_trace *tr, hb_tensor *y);
void hb_trace_op(hb_op op, const hb_attrs *at, int n, hb_tensor *const *in, hb_tensor *out);
/* Where a block's call begins in the trace. */
hb_trace_pos hb_trace_mark(void);
/* Replaces what was recorded since start by one island node calling b on x, whose result is y.
 * paused: the call ran with the trace paused (b was known to read values). */
void hb_trace_island(hb_block *b, hb_trace_pos start, hb_tensor *x, hb_tensor *y,
                     const char *reason, bool paused);
/* Extends graph g instead of recording a call: ops on tensors standing for g's values (and on
 * real tensors, which join g as leaves) append nodes whose path is path, and make tensors
 * without data: no kernel runs. This is how gradient rules and optimizer updates, written
 * with the eager ops, become nodes. The trace knows g's parameters, constants and outside
 * tensors by their tensors. NULL if out of memory. */
hb_trace *hb_trace_attach(hb_graph *g, const char *path);
/* Ends an attached trace (g stays); false if a node could not be added. */
bool hb_trace_detach(hb_trace *tr);
/* Whether ops run symbolically (the trace this thread records into is attached). */
bool hb_trace_symbolic(void);
/* A tensor without data standing for value v of the attached trace's graph (owned). */
hb_tensor *hb_trace_value_tensor(hb_trace *tr, int v);
/* Adds t to the trace as another input of the call (the graph's inputs in the order added,
 * after x) or, extern_ true, as an outside tensor read live with the given name. */
bool hb_trace_leaf(hb_trace *tr, hb_tensor *t, const char *name, bool extern_);
/* While paused (an island running inside a trace), ops are not recorded. */
hb_trace *hb_trace_pause(void);
void hb_trace_resume(hb_trace *tr);

/* ---- gradients (autodiff.c) ---------------------------------------------------------------- */

/* Whether this thread records ops for hb_backward (hb_grad_enable). */
extern _Thread_local bool hb_grad_on;
/* Writes src over dst's data in place (the ASSIGN op: recorded as a node when symbolic). */
hb_status hb_assign(hb_tensor *dst, hb_tensor *src);
/* The convolution's and pools' gradient ops (eager.c), for the gradient rules: at is the
 * forward op's attributes, x and w the shapes of the result. */
/* (the op conv_transpose2d, to the shape x; hb_conv_transpose2d calls it too) */
hb_tensor *hb_conv2d_grad_x(hb_tensor *g, hb_tensor *w, const hb_attrs *at, const hb_shape *x);
hb_tensor *hb_conv2d_nobias_with(hb_tensor *x, hb_tensor *w, const hb_attrs *at); /* at's window */
hb_tensor *hb_conv2d_grad_w(hb_tensor *g, hb_tensor *x, const hb_attrs *at, const hb_shape *w);
hb_tensor *hb_max_pool2d_grad(hb_tensor *g, hb_tensor *x, const hb_attrs *at);
hb_tensor *hb_avg_pool2d_grad(hb_tensor *g, const hb_attrs *at, const hb_shape *x);
/* argmax (max) or argmin, of the first or the last of equal extremes (ONNX's select_last_index) */
hb_tensor *hb_arg_extreme(hb_tensor *x, int axis, bool keepdim, bool max, bool last);
hb_tensor *hb_gather_grad(hb_op op, hb_tensor *g, hb_tensor *indices, int axis, const hb_shape *x);
/* Records op on the tape if an input requires a gradient (then out does too). */
void hb_grad_record(hb_op op, const hb_attrs *at, int n, hb_tensor *const *in, hb_tensor *out);

/* Gradient rules over a graph: the autodiff pass's vjp (hb_train_spec). */
hb_status hb_graph_vjp(void *ctx, struct hb_graph *g, int node, int grad, const bool *wants,
                       int *in_grads);

/* ---- training (train.c) --------------------------------------------------------------------- */

/* The loss of kind over the output y and the target (ops: recorded, traced or symbolic). */
hb_tensor *hb_train_loss_of(hb_loss_kind kind, hb_tensor *y, hb_tensor *target);
/* Appends param's update from grad (both tensors of the graph being extended): the optimizer's
 * formula as ops, then in-place writes of the parameter and the state. */
hb_status hb_optimizer_emit(hb_optimizer *opt, hb_tensor *param, hb_tensor *grad,
                            const char *name);
/* The block whose parameters opt updates. */
hb_block *hb_optimizer_block(const hb_optimizer *opt);

/* ---- hybridization (hybridize.c) ---------------------------------------------------------- */

/* Installs hb_block_hook, and hb_island_hook so plans run eager islands: by anything that
 * hybridizes, traces, or runs plans with islands. */
void hb_hybrid_hooks_install(void);
/* Plans hold pointers into parameters: new weights (a load) drop every cached plan. */
void hb_hybrid_drop_plans(hb_block *b);
/* b's graph as traced on x, before any pass (parameters as parameters); NULL with the error. */
struct hb_graph *hb_hybrid_trace(hb_block *b, hb_tensor *x);
/* g written as an ONNX model file (onnx_export.c). */
hb_status hb_graph_write_onnx(const struct hb_graph *g, const char *path);
/* Counts hb_hybrid_drop_plans calls (weights loaded, modes changed): a trainer's plans made
 * before a change are dropped too. */
extern atomic_uint hb_hybrid_plans_epoch;
/* After parameters changed in place: drops the plans of frozen blocks only. */
void hb_hybrid_params_updated(hb_block *b);

#endif
