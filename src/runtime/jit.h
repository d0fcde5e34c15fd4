/* The LLVM JIT (built with -Djit, on by default where LLVM 14 is found). A plan's fused groups —
 * elementwise programs and programs feeding a reduction — become native functions specialized
 * to the plan's shapes: loops with constant trip counts over vectors of the host's width,
 * optimized at -O3 for the host CPU, linked by LLJIT. Each function has the kernel signature,
 * so it simply replaces the instruction's kernel; the executor does not know. The code lives
 * as long as its plan. exp, tanh and sigmoid are the interpreter's polynomials
 * (src/runtime/fastmath.h) written as IR, so both paths compute the same values to rounding. */
#ifndef HB_RUNTIME_JIT_H
#define HB_RUNTIME_JIT_H

#include "plan.h"

/* Whether this build has the JIT and the environment allows it (HB_JIT=0 forbids it). */
bool hb_jit_enabled(void);

/* Compiles p's fused instructions (and its loop bodies') that the JIT handles, replacing
 * their kernels, and fills p->jit_groups, p->fused_groups and p->jit_ms. Instructions whose
 * input shapes it does not cover keep the interpreter. On failure (err says why) p's own
 * instructions stay interpreted; loop bodies compiled before the failure keep their code
 * (freed with them) — either way every instruction computes the same values. */
hb_status hb_jit_plan(hb_plan *p, char *err, size_t err_size);

/* Frees p's compiled code (hb_plan_free calls it). */
void hb_jit_release(hb_plan *p);

#endif
