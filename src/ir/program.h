/* Elementwise programs: what a fused node computes per element. Registers r0..r(n-1) hold the
 * node's inputs (broadcast to the output's shape); instruction i writes register n + i; the
 * last register is the result. Every instruction is an elementwise op of the op table, so a
 * fused node computes each element exactly as the separate ops would, in the same order. */
#ifndef HB_IR_PROGRAM_H
#define HB_IR_PROGRAM_H

#include "op.h"

enum { HB_PROG_MAX_INS = 24, HB_PROG_MAX_REGS = 40 };

typedef struct hb_prog_ins {
    hb_op op;      /* an HB_EW op */
    uint8_t a, b;  /* source registers (b unused by one-input ops) */
    float scalar;  /* *_SCALAR ops */
} hb_prog_ins;

typedef struct hb_program {
    int ninputs, nins;
    hb_prog_ins ins[HB_PROG_MAX_INS];
} hb_program;

/* Checks ops, arity and that each register is written before it is read. */
bool hb_program_valid(const hb_program *p, char *err, size_t err_size);
bool hb_program_equal(const hb_program *a, const hb_program *b);

#endif
