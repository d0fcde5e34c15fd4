/* The IR: an SSA graph of typed values and nodes from the op table. Values are the graph's
 * input, its parameters and constants (named, with data the graph can read), and node results.
 * Nodes are kept in an order where every input is defined before it is used. Nothing here
 * knows about blocks or tensors: data arrives as pointers with an owner to drop. */
#ifndef HB_IR_GRAPH_H
#define HB_IR_GRAPH_H

#include "program.h"

#include <stdatomic.h>
#include <stdio.h>

typedef enum hb_value_kind {
    HB_VAL_INPUT,  /* the call's input */
    HB_VAL_PARAM,  /* a trainable parameter: read live at every run */
    HB_VAL_CONST,  /* a constant: fixed data that passes may fold */
    HB_VAL_EXTERN, /* a tensor from outside the block tree: read live at every run */
    HB_VAL_NODE,   /* the result of a node */
} hb_value_kind;

/* "input", "param", "const", "extern" (the text form's words; nodes have none). */
extern const char *const hb_value_kind_names[HB_VAL_NODE];

typedef struct hb_value {
    hb_value_kind kind;
    hb_dtype dtype;
    hb_shape shape;
    char *name;  /* params, constants, externs: a state_dict name or "cN" / "eN" */
    int node;    /* HB_VAL_NODE: the defining node; else -1 */
    /* PARAM, CONST, EXTERN: where the values are, and who keeps them alive (dropped with the
     * graph). NULL in a graph read from text, which can be printed but not run. */
    float *data;
    void *keep;
    void (*drop)(void *keep);
    /* PARAM, EXTERN (and a block's constants): the tensor's change counter (frontend.h's
     * hb_tensor.version), by which a plan keeps what it derives from the values; else NULL. */
    atomic_uint *version;
    int64_t offset; /* arena offset set by memory planning; -1 if not in the arena */
    /* Set by memory planning for a training step's update: the leaf value (a parameter or
     * optimizer state) whose memory this node result is written into directly, because an
     * assign would copy it there anyway; -1 otherwise. */
    int alias;
} hb_value;

typedef struct hb_node {
    hb_op op;
    hb_attrs attrs;
    int *inputs;
    int ninputs;
    int output;   /* value id */
    char *path;   /* block path the node came from ("chimera/0/net/2") */
    char *reason; /* island: why the block runs eagerly */
    struct hb_program *prog; /* fused ops: their program, owned (attrs.prog points here) */
    struct hb_graph *body;   /* loop: its body, owned (attrs.body points here) */
} hb_node;

typedef struct hb_graph {
    char *name;
    hb_value *values;
    int nvalues, cap_values;
    hb_node *nodes;
    int nnodes, cap_nodes;
    int input;  /* value id of the input, -1 if none yet */
    int output; /* value id returned, -1 if none yet */
    int cond;   /* a loop body: the value that says whether to go round again; else -1 (a scan's
                 * body goes round a fixed number of times) */
} hb_graph;

hb_graph *hb_graph_new(const char *name);
void hb_graph_free(hb_graph *g);

/* Adds a value; returns its id or -1 (out of memory). name may be NULL. */
int hb_graph_add_value(hb_graph *g, hb_value_kind kind, const hb_shape *shape,
                       const char *name);
/* A new constant holding data (taken over: freed with the graph); its id, or -1. */
int hb_graph_add_const(hb_graph *g, const hb_shape *shape, float *data, const char *name);
/* Adds a node computing a new value of shape out; returns the value id or -1. */
int hb_graph_add_node(hb_graph *g, hb_op op, const hb_attrs *attrs, int n, const int *inputs,
                      const hb_shape *out, const char *path);

/* Drops the nodes from first_node on and the values from first_value on (which no earlier node
 * may use): a block's traced nodes, and the parameters they brought in, give way to one island
 * node. */
void hb_graph_truncate(hb_graph *g, int first_node, int first_value);

/* Gives node n its own copy of prog (attrs.prog then points at it). */
hb_status hb_node_set_program(hb_node *n, const hb_program *prog);
/* Drops the nodes marked in remove (their values stay, unread, for dead-code elimination). */
void hb_graph_remove_nodes(hb_graph *g, const bool *remove);
/* Moves the nodes from first to the end so that they come before node to (to < first),
 * shifting the nodes between: nodes appended after their readers go in where they are read.
 * False if out of memory (nothing moved). */
bool hb_graph_move_nodes(hb_graph *g, int first, int to);
/* Gives loop or scan node n its body (taken over; attrs.body then points at it). */
void hb_node_set_body(hb_node *n, hb_graph *body);
/* The ids of g's input values in order (up to max); returns how many there are. */
int hb_graph_inputs(const hb_graph *g, int *ids, int max);
/* Every use of value from (and the graph's output, if it is from) becomes to. */
void hb_graph_replace_uses(hb_graph *g, int from, int to);

/* Which nodes the result depends on (or that are opaque): array of nnodes, hb_free it. */
bool *hb_graph_live_nodes(const hb_graph *g);
/* How many times live nodes read each value, plus one for the returned value (array of
 * nvalues, hb_free it). Passes run before dead-code elimination see true counts. */
int *hb_graph_use_counts(const hb_graph *g);

/* Checks SSA order, arity and every node's shape against its op's shape rule. */
hb_status hb_graph_verify(const hb_graph *g, char *err, size_t err_size);

/* The text form: print -> parse -> print gives the same text. */
hb_status hb_graph_print(FILE *f, const hb_graph *g);
char *hb_graph_to_string(const hb_graph *g); /* hb_free */
hb_graph *hb_graph_parse(const char *text, char *err, size_t err_size);
/* The number the text form gives each value (leaves first in value order, then node results
 * in node order; -1 for a value no line defines, in a broken graph). hb_free it. */
int *hb_graph_text_numbers(const hb_graph *g);
/* One program instruction ("add_scalar(r2, 1)") and a scalar as the text form writes them. */
void hb_program_print_ins(FILE *f, const hb_prog_ins *in);
void hb_graph_print_scalar(FILE *f, float x);
/* Graphviz DOT. */
hb_status hb_graph_print_dot(FILE *f, const hb_graph *g);

#endif
