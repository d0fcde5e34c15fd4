/* The interpreter of elementwise programs: every elementwise op, alone (eager) or fused (plans),
 * runs through it, so both compute each element the same way. */
#ifndef HB_RUNTIME_PROGRAM_H
#define HB_RUNTIME_PROGRAM_H

#include "../ir/program.h"
#include "kernels.h"

/* out = p(in[0], ..., in[p->ninputs - 1]), every input broadcast to out's shape (NumPy rules).
 * out may be in[0] (in place) when they have the same shape. */
void hb_program_run(const hb_program *p, const hb_operand *in, const hb_operand *out);

/* out = reduce(p(in...)) with reduce one of HB_OP_SUM, HB_OP_MEAN, HB_OP_MAX, over every element
 * (all) or over the last axis; accumulation order and precision as the reduction kernels. */
void hb_program_reduce(const hb_program *p, const hb_operand *in, const hb_operand *out,
                       hb_op reduce, bool all);

/* Strides of s (right-aligned against out), 0 along broadcast dims. */
void hb_program_broadcast_strides(const hb_shape *s, const hb_shape *out, int64_t *stride);

#endif
