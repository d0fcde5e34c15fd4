/* The graph as a Graphviz picture (`dot -Tsvg`): leaves as ellipses, nodes as boxes, islands
 * filled, one edge per input, and the returned value pointing at a "return" marker. Labels use
 * the text form's numbering, so a picture and a dump of the same graph name values alike. */
#include "graph.h"

#include <math.h>
#include <string.h>

/* Text inside a DOT double-quoted label: quotes and backslashes escaped, newlines as label line
 * breaks, and any other byte outside printable ASCII shown as \xHH (Graphviz wants UTF-8, and
 * names may hold any byte). */
static void put_label_text(FILE *f, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", f);
        else if (*c < 0x20 || *c >= 0x7f)
            fprintf(f, "\\\\x%02x", *c);
        else
            fputc(*c, f);
    }
}

static void put_shape(FILE *f, const hb_shape *s)
{
    char buf[200];
    hb_shape t = *s;
    t.ndim = t.ndim < 0 ? 0 : t.ndim > HB_MAX_DIMS ? HB_MAX_DIMS : t.ndim;
    fprintf(f, "f32%s", hb_shape_fmt(&t, buf, sizeof buf));
}

/* As the text form prints scalars ("%.9g", inf, -inf, nan). */

/* Instructions per label line of a program. */
enum { INS_PER_LINE = 4 };

/* A fused node's program as in the text form ("mul(r0, r1); tanh(r2)"), a few instructions to
 * a label line, then one line ending the label's program part: "then sum over all" for
 * fused_reduce; gemm's "trans_a" and "trans_b" come first. Op names and numbers need no escaping. */
static void put_program(FILE *f, const hb_node *n)
{
    const hb_attrs *a = &n->attrs;
    const hb_program *p = a->prog;
    if (n->op == HB_OP_GEMM && (a->trans_a || a->trans_b))
        fprintf(f, "%s%s\\n", a->trans_a ? "trans_a " : "", a->trans_b ? "trans_b" : "");
    int nins = !p ? 0 : p->nins < 0 ? 0 : p->nins > HB_PROG_MAX_INS ? HB_PROG_MAX_INS : p->nins;
    if (!nins)
        fputs("(no program)", f);
    for (int i = 0; i < nins; i++) {
        if (i)
            fputs(i % INS_PER_LINE ? "; " : ";\\n", f);
        hb_program_print_ins(f, &p->ins[i]);
    }
    fputs("\\n", f);
    if (n->op == HB_OP_FUSED_REDUCE) {
        fprintf(f, "then %s over ",
                (unsigned)a->reduce < HB_OP_COUNT ? hb_op_table[a->reduce].name : "?");
        if (a->all)
            fputs("all\\n", f);
        else
            fprintf(f, "axis %d%s\\n", a->axis, a->keepdim ? ", keepdim" : "");
    }
}

hb_status hb_graph_print_dot(FILE *f, const hb_graph *g)
{
    if (!f || !g)
        return hb_error_set(HB_ERR_ARG, "hb_graph_print_dot: NULL %s", f ? "graph" : "file");
    int *num = hb_graph_text_numbers(g);
    if (!num)
        return HB_ERR_NOMEM;
    fputs("digraph \"", f);
    put_label_text(f, g->name);
    fputs("\" {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n", f);
    for (int i = 0; i < g->nvalues; i++) {
        const hb_value *v = &g->values[i];
        if (v->kind == HB_VAL_NODE)
            continue;
        bool known = (unsigned)v->kind < HB_VAL_NODE;
        fprintf(f, "  v%d [shape=ellipse%s, label=\"%%%d %s\\n", i,
                v->kind == HB_VAL_CONST ? ", style=dashed" : "", num[i],
                known ? hb_value_kind_names[v->kind] : "?");
        if (v->kind != HB_VAL_INPUT) {
            put_label_text(f, v->name);
            fputs("\\n", f);
        }
        put_shape(f, &v->shape);
        fputs("\"];\n", f);
    }
    for (int i = 0; i < g->nnodes; i++) {
        const hb_node *n = &g->nodes[i];
        int out = n->output;
        if (out < 0 || out >= g->nvalues)
            continue;
        bool island = n->op == HB_OP_ISLAND;
        fprintf(f, "  v%d [shape=box%s, label=\"%%%d %s\\n", out,
                island ? ", style=filled, fillcolor=\"#f6c177\"" : "", num[out],
                (unsigned)n->op < HB_OP_COUNT ? hb_op_table[n->op].name : "?");
        if (island) {
            fputs("eager: ", f);
            put_label_text(f, n->reason);
            fputs("\\n", f);
        }
        if ((unsigned)n->op < HB_OP_COUNT && (hb_op_table[n->op].flags & HB_FUSED))
            put_program(f, n);
        if ((n->op == HB_OP_LOOP || n->op == HB_OP_SCAN) && n->body) { /* a round, op by op */
            fputs("each round:", f);
            for (int k = 0; k < n->body->nnodes; k++)
                fprintf(f, "%s %s", k ? "," : "",
                        (unsigned)n->body->nodes[k].op < HB_OP_COUNT
                            ? hb_op_table[n->body->nodes[k].op].name : "?");
            fputs("\\n", f);
        }
        put_shape(f, &g->values[out].shape);
        if (n->path && *n->path) {
            fputs("\\n@", f);
            put_label_text(f, n->path);
        }
        fputs("\"];\n", f);
        for (int j = 0; j < n->ninputs; j++)
            if (n->inputs[j] >= 0 && n->inputs[j] < g->nvalues)
                fprintf(f, "  v%d -> v%d;\n", n->inputs[j], out);
    }
    if (g->output >= 0 && g->output < g->nvalues)
        fprintf(f, "  ret [shape=doubleoctagon, label=\"return\"];\n  v%d -> ret;\n", g->output);
    fputs("}\n", f);
    hb_free(num);
    if (ferror(f))
        return hb_error_set(HB_ERR_IO, "hb_graph_print_dot: write error");
    return HB_OK;
}
