/* The graph's text form, the one parse.c reads back. Values are renumbered in printed order
 * (inputs, params, constants and externs first, then nodes), so the text never shows the gaps
 * or the order a pass left in memory, and print -> parse -> print is the identity. */
#include "graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int *hb_graph_text_numbers(const hb_graph *g)
{
    int *num = hb_malloc(sizeof *num * (size_t)(g->nvalues ? g->nvalues : 1));
    if (!num)
        return NULL;
    int next = 0;
    for (int i = 0; i < g->nvalues; i++)
        num[i] = g->values[i].kind == HB_VAL_NODE ? -1 : next++;
    for (int i = 0; i < g->nnodes; i++) {
        int v = g->nodes[i].output;
        if (v >= 0 && v < g->nvalues)
            num[v] = next++;
    }
    return num;
}

static bool is_bare(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
            !strchr(extra, *s))
            return false;
    return true;
}

/* A string in double quotes with C escapes; bytes outside printable ASCII as \xHH. */
static void print_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", f);
        else if (*c == '\t')
            fputs("\\t", f);
        else if (*c < 0x20 || *c >= 0x7f)
            fprintf(f, "\\x%02x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

static void print_word(FILE *f, const char *s, const char *extra)
{
    if (s && is_bare(s, extra))
        fputs(s, f);
    else
        print_string(f, s);
}

static void print_dims(FILE *f, const hb_shape *s)
{
    int nd = s->ndim < 0 ? 0 : s->ndim > HB_MAX_DIMS ? HB_MAX_DIMS : s->ndim;
    fputc('[', f);
    for (int i = 0; i < nd; i++)
        fprintf(f, i ? ", %lld" : "%lld", (long long)s->dim[i]);
    fputc(']', f);
}

static void print_value_ref(FILE *f, const hb_graph *g, const int *num, int v)
{
    if (v >= 0 && v < g->nvalues && num[v] >= 0)
        fprintf(f, "%%%d", num[v]);
    else
        fputs("%?", f); /* a dangling id: the text shows it, parse rejects it */
}

/* "%.9g" is enough digits for any float to come back exactly through strtof; inf and nan are
 * spelled the same way on every libc, and nan's sign and payload are dropped. */
void hb_graph_print_scalar(FILE *f, float x)
{
    if (isnan(x))
        fputs("nan", f);
    else if (isinf(x))
        fputs(x < 0 ? "-inf" : "inf", f);
    else
        fprintf(f, "%.9g", (double)x);
}

void hb_program_print_ins(FILE *f, const hb_prog_ins *in)
{
    bool known = (unsigned)in->op < HB_OP_COUNT;
    fprintf(f, "%s(r%d", known ? hb_op_table[in->op].name : "?", in->a);
    if (known && hb_op_table[in->op].min_inputs == 2)
        fprintf(f, ", r%d", in->b);
    if (known && hb_op_table[in->op].attrs == HB_ATTRS_SCALAR) {
        fputs(", ", f);
        hb_graph_print_scalar(f, in->scalar);
    }
    fputc(')', f);
}

/* "prog=[mul(r0, r1), add_scalar(r2, 1), tanh(r3)]": each instruction's op, then its
 * registers (one or two by the op's arity) and a *_scalar op's scalar. ninputs is not shown:
 * the node's inputs give it. A broken program (no program, bad ops) still prints, for the
 * parser to reject. */
static void print_program(FILE *f, const hb_program *p)
{
    fputs("prog=[", f);
    int nins = !p ? 0 : p->nins < 0 ? 0 : p->nins > HB_PROG_MAX_INS ? HB_PROG_MAX_INS : p->nins;
    for (int i = 0; i < nins; i++) {
        if (i)
            fputs(", ", f);
        hb_program_print_ins(f, &p->ins[i]);
    }
    fputc(']', f);
}

static hb_status print_lines(FILE *f, const hb_graph *g, int indent);

/* Whether field fd of a shows in the text: flags only when set, keepdim only after an axis. */
static bool field_shown(const hb_attr_field *fd, const hb_attrs *a)
{
    if (fd->type == HB_FIELD_FLAG)
        return hb_attr_flag(fd, a);
    if (fd->type == HB_FIELD_KEEPDIM)
        return !a->all && a->keepdim;
    return true;
}

/* Writes field fd of node n: "key=value", or a flag's word. */
static void print_field(FILE *f, const hb_attr_field *fd, const hb_node *n, int indent)
{
    const hb_attrs *a = &n->attrs;
    switch (fd->type) {
    case HB_FIELD_FLAG:
    case HB_FIELD_KEEPDIM:
        fputs(fd->key, f);
        break;
    case HB_FIELD_EXTENT:
        if (a->all)
            fputs("all", f);
        else
            fprintf(f, "%s=%d", fd->key, a->axis);
        break;
    case HB_FIELD_SCALAR:
        fprintf(f, "%s=", fd->key);
        hb_graph_print_scalar(f, *HB_FIELD_AT(const float, a, fd->at));
        break;
    case HB_FIELD_INT:
        fprintf(f, "%s=%d", fd->key, *HB_FIELD_AT(const int, a, fd->at));
        break;
    case HB_FIELD_COUNT:
        fprintf(f, "%s=%lld", fd->key, (long long)*HB_FIELD_AT(const int64_t, a, fd->at));
        break;
    case HB_FIELD_DIMS:
        fprintf(f, "%s=", fd->key);
        print_dims(f, HB_FIELD_AT(const hb_shape, a, fd->at));
        break;
    case HB_FIELD_PAIR:
        fprintf(f, "%s=[%d, %d]", fd->key, *HB_FIELD_AT(const int, a, fd->at),
                *HB_FIELD_AT(const int, a, fd->at2));
        break;
    case HB_FIELD_EXPECT:
        fprintf(f, "%s=%s", fd->key,
                *HB_FIELD_AT(const float, a, fd->at) != 0.0f ? "true" : "false");
        break;
    case HB_FIELD_REDUCTION: {
        hb_op op = *HB_FIELD_AT(const hb_op, a, fd->at);
        fprintf(f, "%s=%s", fd->key, (unsigned)op < HB_OP_COUNT ? hb_op_table[op].name : "?");
        break;
    }
    case HB_FIELD_PROGRAM: /* "prog=[...]" */
        print_program(f, a->prog);
        break;
    case HB_FIELD_BODY: /* its lines under the node's, indented, then the brace on its own */
        fprintf(f, "%s={\n", fd->key);
        if (n->body)
            print_lines(f, n->body, indent + 4);
        fprintf(f, "%*s}", indent + 2, "");
        break;
    case HB_FIELD_DTYPE: {
        hb_dtype d = *HB_FIELD_AT(const hb_dtype, a, fd->at);
        fprintf(f, "%s=%s", fd->key, (unsigned)d < HB_DTYPE_COUNT ? hb_dtypes[d].text : "?");
        break;
    }
    case HB_FIELD_REASON:
        fprintf(f, "%s=", fd->key);
        print_string(f, n->reason);
        break;
    case HB_FIELD_END:
        break;
    }
}

/* A node's attributes, " {field, field}" by its kind's row of attrs.def; nothing for a kind
 * without fields. */
static void print_attrs(FILE *f, const hb_node *n, int indent)
{
    if ((unsigned)n->op >= HB_OP_COUNT)
        return; /* printed as "?": no table entry says what its attributes are */
    const hb_attr_field *fd = hb_attr_kinds[hb_op_table[n->op].attrs].fields;
    if (fd->type == HB_FIELD_END)
        return;
    fputs(" {", f);
    for (bool any = false; fd->type != HB_FIELD_END; fd++) {
        if (!field_shown(fd, &n->attrs))
            continue;
        fputs(any ? ", " : "", f);
        print_field(f, fd, n, indent);
        any = true;
    }
    fputc('}', f);
}

static void print_type(FILE *f, const hb_value *v)
{
    fprintf(f, " : %s", (unsigned)v->dtype < HB_DTYPE_COUNT ? hb_dtypes[v->dtype].text : "?");
    print_dims(f, &v->shape);
}

/* The lines of g at this indent: values, nodes, and the continue and return lines. */
static hb_status print_lines(FILE *f, const hb_graph *g, int indent)
{
    int *num = hb_graph_text_numbers(g);
    if (!num)
        return HB_ERR_NOMEM;
    for (int i = 0; i < g->nvalues; i++) {
        const hb_value *v = &g->values[i];
        if (v->kind == HB_VAL_NODE)
            continue;
        bool known = (unsigned)v->kind < HB_VAL_NODE;
        fprintf(f, "%*s%%%d = %s", indent, "", num[i], known ? hb_value_kind_names[v->kind] : "?");
        if (v->kind != HB_VAL_INPUT) {
            fputc(' ', f);
            print_string(f, v->name);
        }
        print_type(f, v);
        fputc('\n', f);
    }
    for (int i = 0; i < g->nnodes; i++) {
        const hb_node *n = &g->nodes[i];
        if (n->output < 0 || n->output >= g->nvalues)
            continue; /* nothing to name it by; the verifier reports such a node */
        fprintf(f, "%*s%%%d = %s(", indent, "", num[n->output],
                (unsigned)n->op < HB_OP_COUNT ? hb_op_table[n->op].name : "?");
        for (int j = 0; j < n->ninputs; j++) {
            if (j)
                fputs(", ", f);
            print_value_ref(f, g, num, n->inputs[j]);
        }
        fputc(')', f);
        print_attrs(f, n, indent);
        print_type(f, &g->values[n->output]);
        if (n->path && *n->path) {
            fputs("  @", f);
            print_word(f, n->path, "_.-/");
        }
        fputc('\n', f);
    }
    if (g->cond >= 0) {
        fprintf(f, "%*scontinue ", indent, "");
        print_value_ref(f, g, num, g->cond);
        fputc('\n', f);
    }
    if (g->output >= 0) {
        fprintf(f, "%*sreturn ", indent, "");
        print_value_ref(f, g, num, g->output);
        fputc('\n', f);
    }
    hb_free(num);
    return HB_OK;
}

hb_status hb_graph_print(FILE *f, const hb_graph *g)
{
    if (!f || !g)
        return hb_error_set(HB_ERR_ARG, "hb_graph_print: NULL %s", f ? "graph" : "file");
    fputs("graph ", f);
    print_word(f, g->name, "_.-");
    fputs(" {\n", f);
    hb_status st = print_lines(f, g, 2);
    fputs("}\n", f);
    if (st == HB_OK && ferror(f))
        return hb_error_set(HB_ERR_IO, "hb_graph_print: write error");
    return st;
}

char *hb_graph_to_string(const hb_graph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        hb_error_set(HB_ERR_NOMEM, "hb_graph_to_string: cannot open a memory stream");
        return NULL;
    }
    hb_status st = hb_graph_print(f, g);
    bool closed = fclose(f) == 0;
    char *copy = NULL;
    if (st == HB_OK && closed && buf && (copy = hb_malloc(len + 1))) {
        memcpy(copy, buf, len);
        copy[len] = '\0';
    } else if (st == HB_OK && !copy) {
        hb_error_set(HB_ERR_NOMEM, "hb_graph_to_string: out of memory");
    }
    free(buf); /* open_memstream's buffer comes from malloc, not hb_malloc */
    return copy;
}
