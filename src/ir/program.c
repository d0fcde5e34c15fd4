/* Checks on elementwise programs: their instructions are the HB_EW_OP rows of ops.def. */
#include "program.h"

#include <stdio.h>
#include <string.h>

bool hb_program_valid(const hb_program *p, char *err, size_t err_size)
{
    if (p->ninputs < 1 || p->nins < 1 || p->nins > HB_PROG_MAX_INS ||
        p->ninputs + p->nins > HB_PROG_MAX_REGS) {
        snprintf(err, err_size, "a program needs 1 or more inputs and 1 to %d instructions "
                 "in %d registers (has %d and %d)", HB_PROG_MAX_INS, HB_PROG_MAX_REGS,
                 p->ninputs, p->nins);
        return false;
    }
    for (int i = 0; i < p->nins; i++) {
        const hb_prog_ins *in = &p->ins[i];
        int defined = p->ninputs + i;
        if ((unsigned)in->op >= HB_OP_COUNT || !(hb_op_table[in->op].flags & HB_PROG)) {
            snprintf(err, err_size, "program instruction %d is not an elementwise op", i);
            return false;
        }
        int arity = hb_op_table[in->op].min_inputs;
        if (in->a >= defined || (arity == 2 && in->b >= defined)) {
            snprintf(err, err_size, "program instruction %d (%s) reads a register not yet "
                     "written", i, hb_op_table[in->op].name);
            return false;
        }
    }
    return true;
}

bool hb_program_equal(const hb_program *a, const hb_program *b)
{
    if (a->ninputs != b->ninputs || a->nins != b->nins || a->nins > HB_PROG_MAX_INS)
        return false;
    for (int i = 0; i < a->nins; i++) {
        const hb_prog_ins *x = &a->ins[i], *y = &b->ins[i];
        if (x->op != y->op || (unsigned)x->op >= HB_OP_COUNT)
            return false;
        bool binary = hb_op_table[x->op].min_inputs == 2;
        /* scalars bit for bit: 0 and -0 differ (x + -0 is x, x + 0 is not for x = -0) */
        if (x->a != y->a || (binary && x->b != y->b) ||
            (hb_op_table[x->op].attrs == HB_ATTRS_SCALAR &&
             memcmp(&x->scalar, &y->scalar, sizeof x->scalar) != 0))
            return false;
    }
    return true;
}
