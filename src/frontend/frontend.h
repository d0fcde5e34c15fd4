/* Internals shared by the frontend's files: the tensor layout, the per-call autorelease frame,
 * and errors that name the block path of the call that failed. */
#ifndef HB_FRONTEND_H
#define HB_FRONTEND_H

#include "../common.h"

#include <stdatomic.h>

struct hb_tensor {
    atomic_int refs;
    hb_dtype dtype;
    hb_shape shape;
    int64_t numel;
    float *data; /* 64-byte aligned, numel floats, owned */
};

/* Tensors alive on all threads: tests use it to prove that block calls release what they make. */
extern atomic_long hb_tensors_live;

/* A tensor of shape s with uninitialized values; checks the size for overflow. */
hb_tensor *hb_tensor_alloc(const hb_shape *s);

/* Gives a new tensor to the innermost block call on this thread, which releases it when the
 * call returns; outside any call the caller keeps it. Returns t (NULL if adopting failed, in
 * which case t has been released). */
hb_tensor *hb_frame_adopt(hb_tensor *t);

/* Sets the error with the current block path in front: "chimera/0/net/2: <message>". */
hb_status hb_fail(hb_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The current block path ("" outside any call) written into buf. */
const char *hb_block_path(char *buf, size_t size);

#endif

/* ---- blocks: the parts io.c and layers.c reach into ---------------------------------------- */

typedef struct hb_param {
    char *name;
    hb_tensor *value; /* NULL while deferred */
    bool trainable;
    hb_shape shape;   /* dims 0 while deferred */
    hb_init init;
    char *fan_in_of;  /* owned copy of init.fan_in_of */
} hb_param;

/* Calls visit for every parameter and constant of the tree with its state_dict name. */
typedef hb_status (*hb_param_visit)(void *ctx, const char *name, hb_block *owner, hb_param *p);
hb_status hb_block_walk(hb_block *b, hb_param_visit visit, void *ctx);

/* Gives a deferred parameter its values (takes over value); for one with values, copies. */
hb_status hb_param_assign(hb_block *owner, hb_param *p, const hb_tensor *value);

/* "[256, ?]": a shape with deferred dims shown as '?'. */
const char *hb_param_shape_fmt(const hb_param *p, char *buf, size_t size);
